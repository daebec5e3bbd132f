//! The checks of what runs on the host: critical processes, memory
//! cgroups, the OOM killer's next pick and its recent kills.

use std::collections::HashMap;

use serde_json::json;

use super::{Cgroup, Check, Kills, Process, Processes, percent, printable, size};
use crate::cgroup::owner;

/// A cgroup using more than this share of its limit is near it: memory
/// use is bursty and the kernel reclaims only what it can, so the last
/// tenth goes fast (usage includes page cache, which reclaim can free).
pub const CGROUP_NEAR_LIMIT: f64 = 0.90;

/// Items named in a summary (and listed in the JSON evidence); the rest
/// are counted.
pub const LISTED: usize = 10;

/// `pid comm` of a few processes, then how many more.
fn names<'a>(
    procs: impl ExactSizeIterator<Item = &'a Process>,
    show: impl Fn(&Process) -> String,
) -> String {
    let total = procs.len();
    let mut text: Vec<String> = procs.take(LISTED).map(show).collect();
    if total > LISTED {
        text.push(format!("and {} more", total - LISTED));
    }
    text.join(", ")
}

fn listed(procs: &[Process]) -> serde_json::Value {
    json!(procs.iter().take(LISTED).collect::<Vec<_>>())
}

/// Critical processes (matching `--collector.process.include`) that the
/// OOM killer may pick: `oom_score_adj` >= 0.
pub fn critical(processes: &Result<Processes, String>) -> Check {
    const NAME: &str = "critical_processes";
    let p = match processes {
        Ok(p) => p,
        Err(why) => {
            return Check::warn(NAME, format!("cannot tell: {why}"), json!({ "error": why }));
        }
    };
    let Some(include) = &p.include else {
        return Check::ok(
            NAME,
            "none marked: give --collector.process.include REGEX to name the processes that must survive".to_owned(),
            json!({ "include": null, "matched": 0 }),
        );
    };
    let exposed: Vec<Process> = p
        .critical
        .iter()
        .filter(|c| c.oom_score_adj >= 0)
        .cloned()
        .collect();
    let evidence = json!({
        "include": include,
        "matched": p.critical.len(),
        "exposed": exposed.len(),
        "processes": listed(&exposed),
    });
    if p.critical.is_empty() {
        return Check::warn(
            NAME,
            format!(
                "no running process matches --collector.process.include {include:?}: is the service down, or the pattern wrong?"
            ),
            evidence,
        );
    }
    if exposed.is_empty() {
        return Check::ok(
            NAME,
            format!(
                "{} process(es) match {include:?}, all with oom_score_adj < 0",
                p.critical.len()
            ),
            evidence,
        );
    }
    Check::warn(
        NAME,
        format!(
            "{} of {} process(es) matching {include:?} have oom_score_adj >= 0 (set OOMScoreAdjust= or oom_score_adj to protect them): {}",
            exposed.len(),
            p.critical.len(),
            names(exposed.iter(), |c| format!(
                "{} {} (oom_score_adj {})",
                c.pid,
                printable(&c.comm),
                c.oom_score_adj
            ))
        ),
        evidence,
    )
}

/// A service (`*.service`) or container cgroup: those ought to have a
/// limit, somewhere on their path.
pub fn is_workload(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or(path);
    last.ends_with(".service") || owner::owner(path).container_id.is_some()
}

/// Whether `path` or one of its ancestors in `limits` has a limit.
fn limited(path: &str, limits: &HashMap<&str, Option<u64>>) -> bool {
    let mut at = path;
    loop {
        if limits.get(at).copied().flatten().is_some() {
            return true;
        }
        match at.rfind('/') {
            Some(0) | None => return false,
            Some(i) => at = &at[..i],
        }
    }
}

/// Memory cgroups near their limit, and services or containers without
/// one on their whole path.
pub fn cgroups(cgroups: &Result<Vec<Cgroup>, String>) -> Check {
    const NAME: &str = "cgroup_limits";
    let all = match cgroups {
        Ok(all) => all,
        Err(why) => {
            return Check::warn(NAME, format!("cannot tell: {why}"), json!({ "error": why }));
        }
    };
    let limits: HashMap<&str, Option<u64>> =
        all.iter().map(|c| (c.path.as_str(), c.limit)).collect();
    let unlimited: Vec<&str> = all
        .iter()
        .filter(|c| is_workload(&c.path) && !limited(&c.path, &limits))
        .map(|c| c.path.as_str())
        .collect();
    let near: Vec<(&Cgroup, u64, u64)> = all
        .iter()
        .filter_map(|c| Some((c, c.usage?, c.limit?)))
        .filter(|(_, usage, limit)| *usage as f64 > *limit as f64 * CGROUP_NEAR_LIMIT)
        .collect();
    let workloads = all.iter().filter(|c| is_workload(&c.path)).count();
    let evidence = json!({
        "cgroups": all.len(),
        "workloads": workloads,
        "unlimited": unlimited.len(),
        "unlimited_paths": unlimited.iter().take(LISTED).collect::<Vec<_>>(),
        "near_limit": near.len(),
        "near_limit_cgroups": near.iter().take(LISTED).map(|(c, usage, limit)| json!({
            "path": c.path, "usage_bytes": usage, "limit_bytes": limit,
        })).collect::<Vec<_>>(),
        "threshold_ratio": CGROUP_NEAR_LIMIT,
    });
    let parts = problems(&near, &unlimited);
    if parts.is_empty() {
        return Check::ok(
            NAME,
            format!(
                "{} cgroup(s), {workloads} service(s)/container(s): every one limited, none above {:.0}% of its limit",
                all.len(),
                CGROUP_NEAR_LIMIT * 100.0
            ),
            evidence,
        );
    }
    Check::warn(NAME, parts.join("; "), evidence)
}

/// The sentences of a `cgroup_limits` warning: the cgroups near their
/// limit (with `usage` and `limit`), and the unlimited workloads.
fn problems(near: &[(&Cgroup, u64, u64)], unlimited: &[&str]) -> Vec<String> {
    let mut parts = Vec::new();
    if !near.is_empty() {
        let list: Vec<String> = near
            .iter()
            .take(LISTED)
            .map(|(c, usage, limit)| {
                format!(
                    "{} {} of {} ({:.0}%)",
                    c.path,
                    size(*usage),
                    size(*limit),
                    percent(*usage, *limit)
                )
            })
            .collect();
        parts.push(format!(
            "{} above {:.0}% of their limit: {}{}",
            near.len(),
            CGROUP_NEAR_LIMIT * 100.0,
            list.join(", "),
            more(near.len())
        ));
    }
    if !unlimited.is_empty() {
        let list: Vec<&str> = unlimited.iter().take(LISTED).copied().collect();
        parts.push(format!(
            "{} service(s)/container(s) without a memory limit on their path: {}{}",
            unlimited.len(),
            list.join(", "),
            more(unlimited.len())
        ));
    }
    parts
}

/// `, and N more` past [`LISTED`].
fn more(total: usize) -> String {
    if total > LISTED {
        format!(", and {} more", total - LISTED)
    } else {
        String::new()
    }
}

/// Why the ranking may be incomplete: processes that could not be read
/// (permission denied warns: the pick may be wrong; other failures are a
/// note), or a procfs that hides other users' processes (warns).
fn incomplete(p: &Processes) -> (bool, String) {
    let mut notes = Vec::new();
    if let Some(option) = &p.hidden {
        notes.push(format!(
            "proc is mounted with {option}: other users' processes are invisible; run as root"
        ));
    }
    if p.denied > 0 {
        notes.push(format!(
            "{} process(es) unreadable (permission denied); run as root",
            p.denied
        ));
    }
    if p.errors > 0 {
        notes.push(format!(
            "{} process(es) left out (a file could not be read or parsed)",
            p.errors
        ));
    }
    let warn = p.hidden.is_some() || p.denied > 0;
    let text = notes.iter().map(|n| format!("; note: {n}")).collect();
    (warn, text)
}

/// The process the OOM killer would pick now; a warning when it is a
/// critical one, when none could be ranked, or when the ranking missed
/// processes it could not see.
pub fn next_victim(processes: &Result<Processes, String>) -> Check {
    const NAME: &str = "next_victim";
    let p = match processes {
        Ok(p) => p,
        Err(why) => {
            return Check::warn(NAME, format!("cannot tell: {why}"), json!({ "error": why }));
        }
    };
    let (incomplete, notes) = incomplete(p);
    let counts = json!({ "denied": p.denied, "errors": p.errors, "hidden": p.hidden });
    let Some(v) = &p.next_victim else {
        return Check::warn(
            NAME,
            format!("no user process could be ranked{notes}"),
            json!({ "process": null, "left_out": counts }),
        );
    };
    let summary = format!(
        "{} {} (oom_score {}, oom_score_adj {}, RSS {}{}){}{notes}",
        v.pid,
        printable(&v.comm),
        v.oom_score,
        v.oom_score_adj,
        size(v.rss_bytes),
        v.cgroup
            .as_deref()
            .map(|c| format!(", cgroup {c}"))
            .unwrap_or_default(),
        if v.critical {
            ": a critical process (matches --collector.process.include) is first in line"
        } else {
            ""
        }
    );
    Check::new(
        NAME,
        v.critical || incomplete,
        summary,
        json!({ "process": v, "critical": v.critical, "left_out": counts }),
    )
}

/// The kills the kernel's ring buffer still holds.
pub fn kills(kills: &Result<Kills, String>) -> Check {
    const NAME: &str = "recent_kills";
    let k = match kills {
        Ok(k) => k,
        Err(why) => {
            return Check::warn(
                NAME,
                format!("cannot read the kernel log: {why}"),
                json!({ "error": why }),
            );
        }
    };
    let Some(last) = &k.last else {
        return Check::ok(
            NAME,
            "no OOM kill in the kernel's ring buffer (it holds only the recent log)".to_owned(),
            json!({ "count": 0, "last": null }),
        );
    };
    let when = last
        .time
        .clone()
        .or_else(|| {
            last.boot_usec
                .map(|u| format!("{:.3}s after boot", u as f64 / 1e6))
        })
        .unwrap_or_else(|| "an unknown time".to_owned());
    let cgroup = last
        .task_memcg
        .as_deref()
        .map(|c| format!(", cgroup {c}"))
        .unwrap_or_default();
    Check::warn(
        NAME,
        format!(
            "{} OOM kill(s) in the kernel's ring buffer; last: {} {} at {when} ({}{cgroup})",
            k.count,
            last.pid,
            printable(&last.comm),
            last.constraint.as_str(),
        ),
        json!({ "count": k.count, "last": last }),
    )
}
