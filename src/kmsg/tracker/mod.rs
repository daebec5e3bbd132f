//! The kill tracker: what the kmsg reader learned, shared with the scrape
//! and `/kills`.
//!
//! Counting rules:
//! - Records already in the ring buffer at start go into the history marked
//!   `before_start` and are not counted, so a restart never counts a kill
//!   twice.
//! - Every kill after start counts once in `oom_kills_total`.
//! - If the kernel's own counter (`oom_kill` in /proc/vmstat) grew by more
//!   than the kills seen since start, and stays ahead for longer than the
//!   grace period (the kernel counts a kill just before it prints it), the
//!   difference is counted as unattributed kills. A record that shows up
//!   later for such a kill is attributed to its victim but not counted again.
//! - A kill whose report could not be tied to one cgroup
//!   ([`Kill::attribution_ambiguous`]) counts like any other, in a victim
//!   series with empty cgroup labels, and once more among the ambiguous.
//!
//! The tracker reads no clock: every method that depends on time (the
//! grace period, the victims' LRU and TTL) takes `now`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::oom::Kill;
use crate::k8s::Names;
use crate::timefmt;

/// Unattributed kills remembered for a late record to match (bounds memory
/// when /dev/kmsg is never readable).
const MAX_CREDITS: u64 = 1024;

/// Limits of the tracker.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most victim series kept; the least recently killed is evicted.
    pub max_victims: usize,
    /// A victim series not killed again for this long is dropped.
    pub victim_ttl: Duration,
    /// Most kills kept for `/kills`.
    pub history: usize,
    /// How long the kernel's counter may stay ahead of the log.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_victims: 100,
            victim_ttl: Duration::from_secs(24 * 3600),
            history: 100,
            grace: Duration::from_secs(5),
        }
    }
}

/// Labels of one victim series. Never the pid: a crash-looping container
/// would create a series per restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VictimKey {
    pub comm: String,
    pub cgroup: String,
    pub constraint: &'static str,
    pub pod_uid: String,
    pub container_id: String,
    pub unit: String,
}

impl VictimKey {
    fn of(kill: &Kill) -> Self {
        Self {
            comm: kill.comm.clone(),
            cgroup: kill.task_memcg.clone().unwrap_or_default(),
            constraint: kill.constraint.as_str(),
            pod_uid: kill.pod_uid.clone().unwrap_or_default(),
            container_id: kill.container_id.clone().unwrap_or_default(),
            unit: kill.unit.clone().unwrap_or_default(),
        }
    }
}

/// Kills of one victim series since start.
#[derive(Debug, Clone)]
pub struct Victim {
    pub kills: u64,
    /// The pod's and container's names as the latest kill that knew them
    /// said (they follow from the pod UID and container ID of the key, so
    /// they add no series).
    pub names: Names,
    /// Epoch seconds of the last kill.
    pub last_kill: f64,
    seen: Instant,
}

/// A kill as served by `/kills`.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Always `kernel` (userspace killers' kills are listed beside).
    pub killer: &'static str,
    #[serde(flatten)]
    pub kill: Kill,
    /// The kill was already in the ring buffer when the exporter started.
    pub before_start: bool,
}

/// One victim series as a scrape reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub key: VictimKey,
    pub names: Names,
    /// Kills since start.
    pub kills: u64,
    /// Epoch seconds of the last kill.
    pub last_kill: f64,
}

/// Everything a scrape reports.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub kills: u64,
    pub unattributed: u64,
    /// Sorted by comm, then cgroup.
    pub victims: Vec<Series>,
    pub evicted: u64,
    pub last_kill: Option<f64>,
    /// The comm of the largest process by RSS in the most recent kill's
    /// task dump; none when that kill's report has no dump.
    pub last_top_task: Option<String>,
    /// The reader is reading.
    pub up: bool,
    /// The reader failed (and said why); not up and not down is the
    /// reader still on its first connect.
    pub down: bool,
    pub records: u64,
    pub lost: u64,
    pub overruns: u64,
    pub malformed: u64,
    pub ambiguous: u64,
}

#[derive(Debug, Default)]
struct State {
    started: bool,
    last_seq: Option<u64>,
    kills: u64,
    unattributed: u64,
    /// Boot-relative times (µs, from /proc/uptime) at which unattributed
    /// kills were counted: a late record of a kill from before such a time
    /// may be one of them.
    credits: VecDeque<u64>,
    /// memory.oom.group repeats: the kernel counts each in `oom_kill`, but
    /// they are one victim and one kill.
    duplicates: u64,
    victims: HashMap<VictimKey, Victim>,
    evicted: u64,
    history: VecDeque<Entry>,
    last_kill: Option<f64>,
    last_top_task: Option<String>,
    up: bool,
    down: bool,
    records: u64,
    lost: u64,
    overruns: u64,
    malformed: u64,
    ambiguous: u64,
    kernel_baseline: Option<u64>,
    deficit_since: Option<Instant>,
}

/// Shared kill state.
#[derive(Debug)]
pub struct Tracker {
    limits: Limits,
    state: Mutex<State>,
}

impl Tracker {
    /// A tracker; `kernel_baseline` is the kernel's OOM-kill count at start.
    pub fn new(limits: Limits, kernel_baseline: Option<u64>) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                kernel_baseline,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the reader is reading (`false`: it failed and said why).
    pub fn set_up(&self, up: bool) {
        let mut s = self.lock();
        s.up = up;
        s.down = !up;
    }

    /// The first pass over the ring buffer is done: later records count.
    pub fn mark_started(&self) {
        self.lock().started = true;
    }

    /// Whether the first pass is done.
    pub fn started(&self) -> bool {
        self.lock().started
    }

    /// Last sequence number seen.
    pub fn last_seq(&self) -> Option<u64> {
        self.lock().last_seq
    }

    /// Notes a record's sequence number; a gap means records were lost.
    pub fn note_seq(&self, seq: u64) {
        let mut s = self.lock();
        s.records += 1;
        if let Some(last) = s.last_seq
            && seq > last + 1
        {
            s.lost += seq - last - 1;
        }
        s.last_seq = Some(s.last_seq.map_or(seq, |l| l.max(seq)));
    }

    /// The reader was told the ring buffer overran it.
    pub fn note_overrun(&self) {
        self.lock().overruns += 1;
    }

    /// The kernel printed (and counted) a victim of this event again.
    pub fn note_duplicate(&self) {
        self.lock().duplicates += 1;
    }

    /// After the first pass over the ring buffer: take the kernel's counter
    /// as the baseline, so a kill listed as history is not also counted as
    /// unattributed. Only right after start, before anything was counted.
    pub fn rebaseline(&self, kernel_total: Option<u64>) {
        let mut s = self.lock();
        if !s.started && s.kills == 0 && s.deficit_since.is_none() && kernel_total.is_some() {
            s.kernel_baseline = kernel_total;
        }
    }

    /// An OOM-looking record could not be parsed.
    pub fn note_malformed(&self) {
        self.lock().malformed += 1;
    }

    /// Records a kill that happened at `epoch` (wall clock) and is read
    /// `now`; `counted` is false for kills from before start.
    pub fn record(&self, mut kill: Kill, epoch: f64, counted: bool, now: Instant) {
        let limits = self.limits;
        let mut s = self.lock();
        if kill.time.is_none() {
            kill.time = Some(timefmt::rfc3339(epoch));
        }
        if s.last_kill.is_none_or(|l| epoch >= l) {
            s.last_top_task = kill
                .report
                .top_tasks
                .as_ref()
                .and_then(|t| t.first())
                .map(|t| t.comm.clone());
        }
        s.last_kill = Some(s.last_kill.map_or(epoch, |l| l.max(epoch)));
        if counted {
            let usec = kill.boot_usec.unwrap_or(u64::MAX);
            if let Some(i) = s.credits.iter().position(|&at| usec <= at) {
                s.credits.remove(i);
            } else {
                s.kills += 1;
            }
            if kill.attribution_ambiguous {
                s.ambiguous += 1;
            }
            let key = VictimKey::of(&kill);
            if !s.victims.contains_key(&key) && s.victims.len() >= limits.max_victims {
                let oldest = s
                    .victims
                    .iter()
                    .min_by_key(|(_, v)| v.seen)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    s.victims.remove(&oldest);
                    s.evicted += 1;
                }
            }
            let v = s.victims.entry(key).or_insert(Victim {
                kills: 0,
                names: Names::default(),
                last_kill: epoch,
                seen: now,
            });
            v.kills += 1;
            if kill.names.pod.is_some() {
                v.names = kill.names.clone();
            }
            v.last_kill = epoch;
            v.seen = now;
        }
        if limits.history > 0 {
            if s.history.len() >= limits.history {
                s.history.pop_front();
            }
            s.history.push_back(Entry {
                killer: "kernel",
                kill,
                before_start: !counted,
            });
        }
    }

    /// Compares with the kernel's own counter; see the module docs.
    /// `uptime_usec` is the boot-relative time now.
    pub fn reconcile(&self, kernel_total: Option<u64>, uptime_usec: Option<u64>, now: Instant) {
        let grace = self.limits.grace;
        let mut s = self.lock();
        let Some(kernel_total) = kernel_total else {
            return;
        };
        let Some(base) = s.kernel_baseline else {
            s.kernel_baseline = Some(kernel_total);
            return;
        };
        let kernel_delta = kernel_total.saturating_sub(base);
        let explained = s.kills + s.duplicates;
        let deficit = kernel_delta.saturating_sub(explained);
        if deficit == 0 {
            s.deficit_since = None;
            return;
        }
        match s.deficit_since {
            None => s.deficit_since = Some(now),
            Some(since) if now.duration_since(since) >= grace => {
                s.kills += deficit;
                s.unattributed += deficit;
                let at = uptime_usec.unwrap_or(0);
                s.credits
                    .extend(std::iter::repeat_n(at, deficit.min(MAX_CREDITS) as usize));
                let excess = s.credits.len().saturating_sub(MAX_CREDITS as usize);
                s.credits.drain(..excess);
                s.deficit_since = None;
            }
            Some(_) => {}
        }
    }

    /// What a scrape at `now` reports; drops victim series past their TTL
    /// first.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let ttl = self.limits.victim_ttl;
        let mut s = self.lock();
        let before = s.victims.len();
        s.victims
            .retain(|_, v| now.saturating_duration_since(v.seen) < ttl);
        let aged = (before - s.victims.len()) as u64;
        s.evicted += aged;
        let mut victims: Vec<_> = s
            .victims
            .iter()
            .map(|(k, v)| Series {
                key: k.clone(),
                names: v.names.clone(),
                kills: v.kills,
                last_kill: v.last_kill,
            })
            .collect();
        victims.sort_by(|a, b| (a.key.comm.cmp(&b.key.comm)).then(a.key.cgroup.cmp(&b.key.cgroup)));
        Snapshot {
            kills: s.kills,
            unattributed: s.unattributed,
            victims,
            evicted: s.evicted,
            last_kill: s.last_kill,
            last_top_task: s.last_top_task.clone(),
            up: s.up,
            down: s.down,
            records: s.records,
            lost: s.lost,
            overruns: s.overruns,
            malformed: s.malformed,
            ambiguous: s.ambiguous,
        }
    }

    /// The last `limit` kills, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Entry> {
        self.lock()
            .history
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests;
