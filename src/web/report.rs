//! `GET /report[?seq=N]`: the incident report (Markdown) of the last kill
//! in the exporter's history, or of the one with kernel log sequence
//! number N, with what is true now on this host. 404 with the reason when
//! there is no such kill or the kmsg collector is disabled.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::routes::AppState;
use crate::commands::report::{self, Pick};
use crate::kmsg::oom::Kill;

/// `Content-Type` of the report.
pub const CONTENT_TYPE: &str = "text/markdown; charset=utf-8";

/// Where the live part of a report is read.
#[derive(Debug, Clone)]
pub struct Roots {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
}

/// `?seq=N`, or `?comm=C[&cgroup=G]`: the newest kill of that victim (what
/// a dashboard's victim table knows of a kill).
#[derive(Debug, serde::Deserialize)]
pub struct ReportQuery {
    seq: Option<u64>,
    comm: Option<String>,
    cgroup: Option<String>,
}

/// The newest kill of `comm` (in `cgroup`, when given; empty: unknown).
fn newest_of<'k>(kills: &'k [Kill], comm: &str, cgroup: Option<&str>) -> Option<&'k Kill> {
    kills.iter().rev().find(|k| {
        k.comm == comm && cgroup.is_none_or(|c| k.task_memcg.as_deref().unwrap_or("") == c)
    })
}

/// The handler.
pub async fn report(State(state): State<Arc<AppState>>, Query(q): Query<ReportQuery>) -> Response {
    let Some(tracker) = &state.tracker else {
        return (StatusCode::NOT_FOUND, "the kmsg collector is disabled\n").into_response();
    };
    // Oldest first, as in a log.
    let mut kills: Vec<Kill> = tracker
        .recent(usize::MAX)
        .into_iter()
        .map(|e| e.kill)
        .collect();
    kills.reverse();
    let pick = q.seq.map_or(Pick::Last, Pick::Seq);
    let roots = state.report_roots.clone();
    let victim = q.comm.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        let kill = match (&q.comm, q.seq) {
            (Some(comm), None) => newest_of(&kills, comm, q.cgroup.as_deref())?,
            _ => report::pick(&kills, pick)?,
        };
        let others = report::incident(kill, &kills);
        let now = roots.map(|r| report::live::gather(kill, &r.procfs, &r.sysfs));
        Some(report::render(kill, &others, now.as_ref()))
    })
    .await;
    match rendered {
        Ok(Some(body)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Ok(None) => {
            let what = match (victim, q_seq_given(pick)) {
                (Some(comm), false) => format!("no OOM kill of {comm:?}"),
                _ => report::not_found(pick),
            };
            (
                StatusCode::NOT_FOUND,
                format!("{what} in the exporter's history\n"),
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!(%error, "rendering /report failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n").into_response()
        }
    }
}

/// Whether the request named a sequence number.
fn q_seq_given(pick: Pick) -> bool {
    matches!(pick, Pick::Seq(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmsg::oom::kills_in_log;

    #[test]
    fn the_newest_kill_of_a_victim() {
        let log = "3,1,1000000,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=java,pid=10,uid=0\n\
                   3,2,1000001,-;Memory cgroup out of memory: Killed process 10 (java) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n\
                   3,3,2000000,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/b,task_memcg=/b,task=java,pid=20,uid=0\n\
                   3,4,2000001,-;Memory cgroup out of memory: Killed process 20 (java) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n";
        let kills = kills_in_log(log);
        assert_eq!(kills.len(), 2);
        assert_eq!(newest_of(&kills, "java", None).unwrap().pid, 20);
        assert_eq!(newest_of(&kills, "java", Some("/a")).unwrap().pid, 10);
        assert!(newest_of(&kills, "java", Some("/c")).is_none());
        assert!(newest_of(&kills, "tail", None).is_none());
    }
}
