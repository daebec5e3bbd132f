//! The background thread that tails /dev/kmsg ([`super::device`]) and feeds
//! the tracker.
//!
//! The tail always starts at the oldest record, so a first non-blocking
//! pass ([`device::read_available`]) finds where "now" is: records up to
//! there are history, records after count. Every error is non-fatal: an
//! overrun is counted and reading goes on; anything else marks the reader
//! down and it retries with backoff. The thread blocks in `read(2)` and is not joined at shutdown: a
//! blocked read cannot be interrupted without unsafe code, and process exit
//! ends it. A kill whose report fits several cgroups is checked against the
//! memory cgroup hierarchy ([`super::hierarchy`]); if that does not decide,
//! it is booked to none, and the first such kill is logged as a warning.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::device::{self, DeviceError, Tail};
use super::hierarchy;
use super::input::{Line, Stamp};
use super::kill_log;
use super::oom::{Kill, Outcome, Parser};
use super::record;
use super::tracker::Tracker;
use crate::cgroup::hierarchy::Hierarchy;
use crate::k8s::{Resolver, Urgency};
use crate::logonce::LogOnce;
use crate::proc::fs::ProcFs;
use crate::timefmt::{self, BootTime};

const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Logged for a kill booked to no cgroup (as a warning the first time).
const AMBIGUOUS: &str = "OOM kill booked to no cgroup: the kernel's report fits more than one reading of its cgroup paths, \
                         or none (a cgroup named like report fields?); counted in oom_kmsg_ambiguous_attributions_total";

/// Starts the reader thread; `cgroups` is the memory cgroup hierarchy to
/// check ambiguous reports against, if there is one; `names` names the
/// victim's pod and container at the kill.
pub fn spawn(
    path: PathBuf,
    procfs: ProcFs,
    tracker: Arc<Tracker>,
    cgroups: Option<Hierarchy>,
    names: Arc<Resolver>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("kmsg-reader".to_owned())
        .spawn(move || {
            let mut reader = Reader::new(path, procfs, tracker);
            reader.cgroups = cgroups;
            reader.names = names;
            reader.run();
        })
        .map(|_| ())
}

struct Reader {
    path: PathBuf,
    procfs: ProcFs,
    tracker: Arc<Tracker>,
    parser: Parser,
    boot: BootTime,
    /// The reader being down, logged once per distinct error.
    down: LogOnce,
    /// Ring buffer overruns, said once.
    overran: LogOnce,
    /// OOM records not understood, said once per reason.
    malformed: LogOnce,
    cgroups: Option<Hierarchy>,
    /// An ambiguous kill was logged as a warning; later ones go to debug.
    ambiguous: LogOnce,
    /// Pod and container names, resolved the moment a kill is read (the
    /// pod and its log directory may be gone seconds later).
    names: Arc<Resolver>,
}

impl Reader {
    fn new(path: PathBuf, procfs: ProcFs, tracker: Arc<Tracker>) -> Self {
        Self {
            path,
            procfs,
            tracker,
            parser: Parser::new(),
            boot: BootTime::read(),
            down: LogOnce::new(),
            overran: LogOnce::new(),
            malformed: LogOnce::new(),
            cgroups: None,
            ambiguous: LogOnce::new(),
            names: Arc::new(Resolver::off()),
        }
    }

    fn run(mut self) {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.session(&mut backoff) {
                Ok(()) => {}
                Err(error) => {
                    self.tracker.set_up(false);
                    let message = error.to_string();
                    if self.down.problem((), &message) {
                        tracing::warn!(error = %message, retry_in = ?backoff, "kmsg reader down; other metrics unaffected");
                    } else {
                        tracing::debug!(error = %message, "kmsg reader still down");
                    }
                }
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One open of the device: catch up, then tail until an error. The
    /// backoff is reset once reading works.
    fn session(&mut self, backoff: &mut Duration) -> Result<(), DeviceError> {
        let backlog = device::read_available(&self.path, || self.tracker.note_overrun())?;
        let tail = Tail::open(&self.path)?;
        self.boot = BootTime::read();
        // Records up to here were in the buffer when we (re)connected: on the
        // first connect they are history; after a reconnect, those newer than
        // what we saw before are kills we missed while down, and count.
        let first = !self.tracker.started();
        for line in backlog.lines() {
            self.handle(line, !first);
        }
        if first {
            self.tracker.rebaseline(self.procfs.kernel_oom_kills());
        }
        self.tracker.mark_started();
        self.tracker.set_up(true);
        *backoff = Duration::from_secs(1);
        if self.down.recovered(&()) {
            tracing::info!(path = %self.path.display(), "kmsg reader up again");
        } else {
            tracing::info!(path = %self.path.display(), "kmsg reader up");
        }
        for entry in tail {
            match entry {
                Ok(line) => self.handle(&line, true),
                Err(DeviceError::Overrun { .. }) => {
                    self.tracker.note_overrun();
                    // Recurs whenever other writers flood the log: said once,
                    // then at debug; oom_kmsg_overruns_total counts them all.
                    if self.overran.first(()) {
                        tracing::warn!(
                            "kmsg ring buffer overran the reader; the sequence gap is counted as lost records (said once; see oom_kmsg_overruns_total)"
                        );
                    } else {
                        tracing::debug!("kmsg ring buffer overran the reader again");
                    }
                }
                Err(error) => return Err(error),
            }
        }
        Err(DeviceError::Ended {
            path: self.path.clone(),
        })
    }

    /// One raw line: skip what was already seen, feed kernel records to the
    /// parser. A kill's time is the boot time plus its stamp, as in
    /// `oom_exporter kills` (it drifts by any time the machine spent
    /// suspended); a stamp past the uptime (a file from another boot) gets
    /// the time it was read.
    fn handle(&mut self, raw: &str, counted: bool) {
        let rec = match record::parse(raw) {
            Ok(Some(rec)) => rec,
            Ok(None) => return,
            Err(error) => {
                if raw.contains("Killed process") {
                    self.tracker.note_malformed();
                }
                tracing::debug!(%error, line = raw, "unreadable kmsg record");
                return;
            }
        };
        if self.tracker.last_seq().is_some_and(|last| rec.seq <= last) {
            return;
        }
        self.tracker.note_seq(rec.seq);
        if !rec.is_kernel() {
            return;
        }
        let line = Line {
            seq: Some(rec.seq),
            usec: Some(rec.usec),
            facility: Some(rec.facility),
            stamp: Stamp::None,
            host: None,
            text: rec.text,
        };
        match self.parser.feed(&line) {
            Outcome::Kill(mut kill) => {
                self.settle(&mut kill, counted);
                kill.names = self
                    .names
                    .names(&kill.owner(), Instant::now(), Urgency::Kill);
                kill_log::log(&kill, !counted);
                let wall = kill
                    .boot_usec
                    .and_then(|usec| self.boot.wall_usec(usec, timefmt::uptime_usec()));
                let epoch = match wall {
                    Some(usec) => {
                        kill.time = Some(timefmt::rfc3339_usec(usec));
                        usec as f64 / 1e6
                    }
                    None => timefmt::now_epoch(),
                };
                self.tracker.record(*kill, epoch, counted, Instant::now());
            }
            Outcome::Duplicate(_) if counted => self.tracker.note_duplicate(),
            Outcome::Malformed(reason) => {
                self.tracker.note_malformed();
                // Each kind of problem once, then at debug: a flood of odd
                // records must not flood the log (oom_kmsg_parse_errors_total
                // counts every one).
                if self.malformed.problem((), reason) {
                    tracing::warn!(
                        reason,
                        record = raw,
                        "OOM record not understood (said once per kind of problem; see oom_kmsg_parse_errors_total)"
                    );
                } else {
                    tracing::debug!(reason, record = raw, "OOM record not understood");
                }
            }
            Outcome::Duplicate(_) | Outcome::Nothing => {}
        }
    }

    /// Books an ambiguous kill to the one candidate the live hierarchy
    /// supports, or logs that it is booked to no cgroup.
    fn settle(&mut self, kill: &mut Kill, counted: bool) {
        if !kill.attribution_ambiguous {
            return;
        }
        let picked = self
            .cgroups
            .as_ref()
            .and_then(|h| hierarchy::pick(h, &kill.candidates))
            .cloned();
        if let Some(reading) = picked {
            tracing::debug!(pid = kill.pid, candidates = kill.candidates.len(), cgroup = %reading.task_memcg,
                "OOM report fit several cgroups; booked to the only one the cgroup hierarchy supports");
            kill.attribute(reading);
            return;
        }
        let candidates: Vec<&str> = kill
            .candidates
            .iter()
            .map(|r| r.task_memcg.as_str())
            .collect();
        if counted && self.ambiguous.first(()) {
            tracing::warn!(pid = kill.pid, comm = %kill.comm, ?candidates, "{AMBIGUOUS}");
        } else {
            tracing::debug!(pid = kill.pid, comm = %kill.comm, ?candidates, before_start = !counted, "{AMBIGUOUS}");
        }
    }
}
