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
//!
//! The same goes for the userspace kill counters of v2 cgroups
//! ([`super::userspace`]); their host-wide totals and the history of their
//! rises are kept here too.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::cgroup::hierarchy::{self, Hierarchy};
use crate::cgroup::owner::{self, Owner};
use crate::cgroup::retention::{Ledger, Limits};
use crate::cgroup::sample::{self, Sample};
use crate::cgroup::select::{self, CgroupSource, Selected, Selection};
use crate::cgroup::userspace::detect::{self, Detector};
use crate::cgroup::userspace::history::{History, UserspaceKill};
use crate::cgroup::userspace::tally::{PerKiller, Rise, Tally};
use crate::cgroup::userspace::xattr::Problem;
use crate::cgroup::watch::{Unwatched, Watcher};
use crate::k8s::{Resolver, Urgency};
use crate::logonce::LogOnce;
use crate::proc::fs::ProcFs;

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
    tally: Tally,
    detector: Detector,
    /// No scrape yet: counters found now were set before start.
    first: bool,
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
    /// Userspace OOM kills.
    pub userspace: Userspace,
}

/// What a scrape says of userspace OOM kills.
#[derive(Debug, Clone, Default)]
pub struct Userspace {
    /// Host-wide kill actions and processes killed, by killer.
    pub host: PerKiller,
    /// Killers found installed or running, by killer.
    pub present: [bool; 2],
    /// Whether the attributes can be read here (v2 with `user.*`
    /// attributes on cgroupfs).
    pub readable: bool,
    /// Reported cgroups whose attributes could not be read now.
    pub unreadable: usize,
}

/// The memory cgroups under `<sysfs>/fs/cgroup`, read at each scrape.
pub struct Monitor {
    sysfs: PathBuf,
    procfs: ProcFs,
    history: Arc<History>,
    /// Names the pods and containers of the kills put in the history.
    names: Arc<Resolver>,
    selection: Selection,
    state: Mutex<State>,
    /// What was said once: `"none"`, `"unwatched"`, `"deep"`, and the
    /// userspace attributes' `"v1"`, `"unsupported"`, `"trusted"`,
    /// `"cap"`, `"attr"`.
    said: LogOnce<&'static str>,
}

impl Monitor {
    /// Cgroups of the hierarchy under `source.sysfs`; the watch starts on
    /// the first scrape.
    pub fn new(source: CgroupSource) -> Self {
        Self {
            sysfs: source.sysfs,
            procfs: ProcFs::new(source.procfs),
            history: source.userspace_history,
            names: Arc::new(Resolver::off()),
            selection: source.selection,
            state: Mutex::new(State {
                ledger: Ledger::default(),
                watch: WatchState::NotStarted,
                tally: Tally::default(),
                detector: Detector::default(),
                first: true,
            }),
            said: LogOnce::new(),
        }
    }

    /// Names the pods and containers of the userspace kills it records.
    pub fn set_names(&mut self, names: Arc<Resolver>) {
        self.names = names;
    }

    /// Walks the hierarchy at `now` (`epoch`: the wall clock, for the
    /// history) and reports the cgroups to serve; `None` when there is no
    /// memory cgroup hierarchy.
    pub fn scrape(&self, now: Instant, epoch: f64) -> Option<Report> {
        let Some(h) = hierarchy::detect(&self.sysfs) else {
            if self.said.first("none") {
                tracing::info!(sysfs = %self.sysfs.display(), "no memory cgroup hierarchy found; cgroup series are absent");
            }
            return None;
        };
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let State {
            ledger,
            watch,
            tally,
            detector,
            first,
        } = &mut *state;
        let mut known = ledger.paths();
        known.extend(tally.paths().map(str::to_owned));
        let present = detector.check(&self.procfs, now);
        // Where a userspace killer runs, every cgroup is checked for its
        // kill count, so that the host total misses none.
        let scan = (matches!(h, Hierarchy::V2(_)) && present.iter().any(|p| *p)).then_some(
            select::KillScan {
                trusted: present[crate::cgroup::userspace::Killer::Oomd.index()],
            },
        );
        if scan.is_some_and(|s| s.trusted) {
            self.say_trusted_hidden();
        }
        let selected = select::select(&h, &self.selection, &known, scan);
        self.warn_deep(&selected.depth_limited);
        let watcher = watcher(watch, &h, ledger);
        // Counters the watch read between scrapes: the last word of a
        // cgroup removed since (or of an incarnation since replaced).
        let updates = watcher.map(Watcher::take).unwrap_or_default();
        ledger.merge(&updates, &selected.chosen, now);
        let reads = updates.iter().chain(
            selected
                .chosen
                .iter()
                .chain(&selected.userspace_only)
                .map(|o| (&o.cgroup, &o.value)),
        );
        let rises = tally.observe(reads);
        self.record(rises, now, epoch, std::mem::take(first));
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
        // Found this time: chosen, known before, or read by the kill scan.
        let scanned: HashSet<&str> = selected
            .userspace_only
            .iter()
            .map(|o| o.cgroup.path.as_str())
            .collect();
        tally.forget_gone(|p| {
            selected.existing.contains(p) || chosen.contains(p) || scanned.contains(p)
        });
        let userspace = Userspace {
            host: tally.host(),
            present,
            readable: matches!(h, Hierarchy::V2(_)),
            unreadable: 0,
        };
        let read = selected.chosen.iter().chain(&selected.userspace_only);
        let userspace = self.userspace_problems(&h, read, userspace);
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
            userspace,
        })
    }

    /// Puts the rises of userspace kill counters in the history.
    fn record(&self, rises: Vec<Rise>, now: Instant, epoch: f64, before_start: bool) {
        for Rise {
            cgroup,
            killer,
            kills,
            processes,
        } in rises
        {
            let owner = owner::owner(&cgroup);
            self.history.record(UserspaceKill {
                time: Some(crate::timefmt::rfc3339(epoch)),
                killer,
                names: self.names.names(&owner, now, Urgency::Kill),
                owner,
                task_memcg: cgroup,
                kills,
                processes,
                before_start,
            });
        }
    }

    /// Says once what keeps the userspace kill attributes from being read,
    /// and counts the cgroups where reading failed.
    fn userspace_problems<'a>(
        &self,
        h: &Hierarchy,
        read: impl Iterator<Item = &'a crate::cgroup::hierarchy::Observed<Sample>>,
        mut u: Userspace,
    ) -> Userspace {
        if !u.readable {
            if self.said.first("v1") {
                tracing::info!(hierarchy = %h.root().display(), "the memory controller is on cgroup v1, where systemd-oomd and oomd cannot run; userspace OOM kill attributes are not read");
            }
            return u;
        }
        for o in read {
            match &o.value.userspace_problem {
                None => {}
                Some(Problem::Unsupported) => {
                    u.readable = false;
                    if self.said.first("unsupported") {
                        tracing::info!(cgroup = %o.cgroup.path, "cgroupfs has no user.* extended attributes here (Linux before 5.7?); userspace OOM kills by systemd-oomd are not counted");
                    }
                }
                Some(Problem::TrustedDenied) if self.said.first("trusted") => {
                    tracing::info!(cgroup = %o.cgroup.path, "trusted.* attributes need CAP_SYS_ADMIN; oomd kills are counted from its user.* attributes only");
                }
                Some(Problem::TrustedDenied) => {}
                Some(Problem::Failed { attr, error }) => {
                    u.unreadable += 1;
                    if self.said.problem("attr", error) {
                        tracing::warn!(cgroup = %o.cgroup.path, attr, %error, "cannot read a userspace OOM kill attribute; see oom_cgroups_userspace_attributes_unreadable");
                    } else {
                        tracing::debug!(cgroup = %o.cgroup.path, attr, %error, "cannot read a userspace OOM kill attribute");
                    }
                }
            }
        }
        u
    }

    /// Says once, where oomd is found, that its `trusted.*` attributes are
    /// hidden from this process: without `CAP_SYS_ADMIN` (`CapEff` of
    /// `<procfs>/self/status`) the kernel answers `ENODATA` for them, as if
    /// they were absent.
    fn say_trusted_hidden(&self) {
        if !self.said.first("cap") {
            return;
        }
        let status = self.procfs.read(&self.procfs.root().join("self/status"));
        if status.is_ok_and(|s| detect::has_sys_admin(&s) == Some(false)) {
            tracing::info!(
                "trusted.* attributes need CAP_SYS_ADMIN, which this process lacks; oomd kills are counted from its user.* attributes only"
            );
        }
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
