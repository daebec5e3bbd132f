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

/// `?seq=N`.
#[derive(Debug, serde::Deserialize)]
pub struct ReportQuery {
    seq: Option<u64>,
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
    let rendered = tokio::task::spawn_blocking(move || {
        let kill = report::pick(&kills, pick)?;
        let others = report::incident(kill, &kills);
        let now = roots.map(|r| report::live::gather(kill, &r.procfs, &r.sysfs));
        Some(report::render(kill, &others, now.as_ref()))
    })
    .await;
    match rendered {
        Ok(Some(body)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            format!("{} in the exporter's history\n", report::not_found(pick)),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering /report failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n").into_response()
        }
    }
}
