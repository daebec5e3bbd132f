//! The reported cgroups at each scrape: a walk that selects them
//! ([`super::select`]), the watch that reads their OOM counters between
//! scrapes ([`super::watch`]), and what is kept of them across scrapes
//! ([`super::retention`]), put together.
//!
//! A cgroup that disappears (a container OOM-killed and replaced) keeps its
//! last values for `--collector.cgroup.retention`, so Prometheus sees the
//! final `oom_kill` increase, and is then dropped. Between scrapes, the OOM
//! counters of the reported cgroups are read as the kernel signals them, so
//! a kill in a cgroup removed before the next scrape is kept too; a cgroup
//! created again under the same path continues the counters of the one
//! before.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::cgroup::hierarchy::{self, Hierarchy};
use crate::cgroup::owner::{self, Owner};
use crate::cgroup::retention::{Ledger, Limits};
use crate::cgroup::sample::{self, Sample};
use crate::cgroup::select::{self, CgroupSource, Selected, Selection};
use crate::cgroup::watch::{Unwatched, Watcher};
use crate::logonce::LogOnce;

/// The event watch.
enum WatchState {
    NotStarted,
    Running(Hierarchy, Watcher<Sample>),
    /// Could not start (logged): counters are read at scrapes only.
    Failed,
}

/// What is kept between scrapes.
struct State {
    ledger: Ledger,
    watch: WatchState,
}

/// One reported cgroup.
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    pub path: String,
    pub owner: Owner,
    pub sample: Sample,
}

/// What one scrape found.
#[derive(Debug)]
pub struct Report {
    /// The hierarchy in use.
    pub hierarchy: Hierarchy,
    /// Cgroups with series: selected now, plus vanished ones kept.
    pub cgroups: Vec<Reported>,
    /// Cgroups found by the walk.
    pub scanned: usize,
    /// Reported cgroups whose OOM events are read as they happen.
    pub watched: usize,
    /// Qualifying cgroups left out by the cap.
    pub dropped: usize,
    /// Cgroups at the walk's depth limit whose children were not walked.
    pub depth_limited: usize,
    /// Files that could not be read in cgroups that still exist.
    pub problems: Vec<String>,
}

/// The memory cgroups under `<sysfs>/fs/cgroup`, read at each scrape.
pub struct Monitor {
    sysfs: PathBuf,
    selection: Selection,
    state: Mutex<State>,
    /// What was said once: `"none"`, `"unwatched"`, `"deep"`.
    said: LogOnce<&'static str>,
}

impl Monitor {
    /// Cgroups of the hierarchy under `source.sysfs`; the watch starts on
    /// the first scrape.
    pub fn new(source: CgroupSource) -> Self {
        Self {
            sysfs: source.sysfs,
            selection: source.selection,
            state: Mutex::new(State {
                ledger: Ledger::default(),
                watch: WatchState::NotStarted,
            }),
            said: LogOnce::new(),
        }
    }

    /// Walks the hierarchy at `now` and reports the cgroups to serve;
    /// `None` when there is no memory cgroup hierarchy.
    pub fn scrape(&self, now: Instant) -> Option<Report> {
        let Some(h) = hierarchy::detect(&self.sysfs) else {
            if self.said.first("none") {
                tracing::info!(sysfs = %self.sysfs.display(), "no memory cgroup hierarchy found; cgroup series are absent");
            }
            return None;
        };
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let State { ledger, watch } = &mut *state;
        let selected = select::select(&h, &self.selection, &ledger.paths());
        self.warn_deep(&selected.depth_limited);
        let watcher = watcher(watch, &h, ledger);
        // Counters the watch read between scrapes: the last word of a
        // cgroup removed since (or of an incarnation since replaced).
        let updates = watcher.map(Watcher::take).unwrap_or_default();
        ledger.merge(&updates, &selected.chosen, now);
        if let Some(w) = watcher {
            self.say_unwatched(&w.follow(&selected.chosen));
        }
        let watched = watcher.map_or(0, Watcher::watched);
        let chosen: HashSet<&str> = selected
            .chosen
            .iter()
            .map(|o| o.cgroup.path.as_str())
            .collect();
        let limits = Limits {
            retention: self.selection.retention,
            max: self.selection.max,
        };
        ledger.expire(&chosen, &selected.existing, limits, now);
        let cgroups = ledger
            .served()
            .into_iter()
            .map(|s| Reported {
                owner: owner::owner(&s.path),
                path: s.path,
                sample: s.sample,
            })
            .collect();
        let Selected {
            scanned,
            dropped,
            depth_limited,
            problems,
            ..
        } = selected;
        Some(Report {
            hierarchy: h,
            cgroups,
            scanned,
            watched,
            dropped,
            depth_limited: depth_limited.len(),
            problems,
        })
    }

    fn warn_deep(&self, depth_limited: &[String]) {
        if let Some(first) = depth_limited.first()
            && self.said.first("deep")
        {
            tracing::warn!(
                cgroup = %first,
                count = depth_limited.len(),
                max_depth = hierarchy::MAX_DEPTH + 1,
                "cgroups nested deeper than the walk's limit are not walked below this one; they are not reported (see oom_cgroups_depth_limited)"
            );
        }
    }

    fn say_unwatched(&self, failed: &[Unwatched]) {
        let Some(Unwatched { path, error }) = failed.first() else {
            return;
        };
        if self.said.first("unwatched") {
            tracing::info!(cgroup = %path, %error, failed = failed.len(), "cannot watch some cgroups' OOM events (v1 needs root and a writable cgroupfs; or the inotify or open files limit); their counters are read at scrapes only");
        } else {
            tracing::debug!(cgroup = %path, %error, failed = failed.len(), "cgroup event watch not set");
        }
    }
}

/// The event watch for hierarchy `h`, started on first use. When the
/// hierarchy is another than before, what was kept of the old one goes.
fn watcher<'w>(
    state: &'w mut WatchState,
    h: &Hierarchy,
    ledger: &mut Ledger,
) -> Option<&'w Watcher<Sample>> {
    let stale = matches!(state, WatchState::Running(running, _) if running != h);
    if stale {
        ledger.clear();
    }
    if matches!(state, WatchState::NotStarted) || stale {
        *state = match Watcher::start(h.clone(), sample::read_events, sample::events_settled) {
            Ok(w) => WatchState::Running(h.clone(), w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch cgroup events; counters are read at scrapes only");
                WatchState::Failed
            }
        };
    }
    match state {
        WatchState::Running(_, w) => Some(w),
        _ => None,
    }
}
