//! `cgroup`: memory usage, limits, pressure and OOM events of the memory
//! cgroups that can run out on their own: those with a limit, plus
//! Kubernetes pod and container cgroups and systemd services, up to
//! `--collector.cgroup.max`. v1 and v2 (see [`crate::cgroupfs`]).
//!
//! A cgroup that disappears (a container OOM-killed and replaced) keeps its
//! last values for `--collector.cgroup.retention`, so Prometheus sees the
//! final `oom_kill` increase, and is then dropped.
//!
//! Between scrapes, the OOM counters of the reported cgroups are read as
//! the kernel signals them ([`crate::cgroupwatch`]), so a kill in a cgroup
//! removed before the next scrape is kept too; a cgroup created again under
//! the same path continues the counters of the one before.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use regex::Regex;

use crate::cgroupfs::{self, CgroupDir, Hierarchy};
use crate::cgroupwatch::Watcher;
use crate::container;
use crate::metrics::{self, Labels, MetricWriter};
use crate::parse::cgroup as parse;
use crate::parse::pressure::{self, Totals};

use super::{CollectError, Source};

/// The event watch ([`crate::cgroupwatch`]).
enum WatchState {
    NotStarted,
    Running(Hierarchy, Watcher<Sample>),
    /// Could not start (logged): counters are read at scrapes only.
    Failed,
}

/// Which cgroups to report.
#[derive(Debug, Clone)]
pub struct CgroupSelection {
    pub max: usize,
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    pub retention: Duration,
}

/// Values of one cgroup; `None` where the hierarchy has no such file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub usage: Option<u64>,
    pub limit: Option<u64>,
    pub high: Option<u64>,
    pub swap_usage: Option<u64>,
    pub swap_limit: Option<u64>,
    pub limit_hits: Option<u64>,
    pub high_events: Option<u64>,
    pub oom: Option<u64>,
    pub oom_kill: Option<u64>,
    pub oom_group_kill: Option<u64>,
    pub under_oom: Option<u64>,
    /// v1: memory+swap limit (`memory.memsw.limit_in_bytes`), when set.
    pub memsw_limit: Option<u64>,
    /// v1: times memory+swap hit its limit (`memory.memsw.failcnt`).
    pub memsw_limit_hits: Option<u64>,
    /// v2 `memory.pressure` stall totals.
    pub pressure: Option<Totals>,
}

impl Sample {
    /// The counters of v2 `memory.events`.
    fn set_events(&mut self, e: &parse::Keyed<'_>) {
        self.limit_hits = e.get("max");
        self.high_events = e.get("high");
        self.oom = e.get("oom");
        self.oom_kill = e.get("oom_kill");
        self.oom_group_kill = e.get("oom_group_kill");
    }

    /// The kill counter and OOM state of v1 `memory.oom_control`.
    fn set_oom_control(&mut self, c: &parse::Keyed<'_>) {
        self.oom_kill = c.get("oom_kill");
        self.under_oom = c.get("under_oom");
    }

    /// The event counters, which add up across a path's incarnations.
    fn counters_mut(&mut self) -> [&mut Option<u64>; 6] {
        [
            &mut self.limit_hits,
            &mut self.high_events,
            &mut self.oom,
            &mut self.oom_kill,
            &mut self.oom_group_kill,
            &mut self.memsw_limit_hits,
        ]
    }

    /// Raises each counter to `other`'s where that is higher (a later read
    /// of the same cgroup).
    fn absorb(&mut self, mut other: Sample) {
        for (mine, theirs) in self.counters_mut().into_iter().zip(other.counters_mut()) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// Adds `other`'s counters to this one's.
    fn add_counters(&mut self, mut other: Sample) {
        for (mine, theirs) in self.counters_mut().into_iter().zip(other.counters_mut()) {
            *mine = match (*mine, *theirs) {
                (Some(a), Some(b)) => Some(a.saturating_add(b)),
                (a, b) => a.or(b),
            };
        }
    }
}

/// What the collector keeps of a reported cgroup.
#[derive(Debug, Clone)]
struct Entry {
    /// The current incarnation's last values.
    sample: Sample,
    /// Inode of the current incarnation.
    ino: u64,
    /// Counters of earlier incarnations of the same path.
    carried: Sample,
    /// The incarnation replaced last (inode, final values as carried): the
    /// watch may report its last kill after the replacement was seen.
    replaced: Option<(u64, Sample)>,
    /// When the cgroup was last found.
    at: Instant,
}

impl Entry {
    /// The values served: counters continue across incarnations.
    fn served(&self) -> Sample {
        let mut s = self.sample.clone();
        s.add_counters(self.carried.clone());
        s
    }
}

fn limit_file(h: &Hierarchy) -> &'static str {
    match h {
        Hierarchy::V2(_) => "memory.max",
        Hierarchy::V1(_) => "memory.limit_in_bytes",
    }
}

/// The cgroup's limit, `Some(None)` when unlimited, `None` when unreadable.
fn read_limit(h: &Hierarchy, dir: &CgroupDir, buf: &mut Vec<u8>) -> Option<Option<u64>> {
    dir.read(limit_file(h), buf)
        .ok()
        .and_then(|t| parse::limit(t).ok())
}

/// One cgroup's sample read now, for `top --cgroups`.
pub fn read_sample(h: &Hierarchy, path: &str) -> Option<Sample> {
    let dir = CgroupDir::open(&h.dir(path)).ok()?;
    let mut buf = Vec::new();
    let limit = read_limit(h, &dir, &mut buf)?;
    read_sample_in(h, &dir, limit, &mut buf)
}

/// One cgroup's sample, with the limit already read; `None` when its usage
/// cannot be read. `buf` is scratch space.
fn read_sample_in(
    h: &Hierarchy,
    dir: &CgroupDir,
    limit: Option<u64>,
    buf: &mut Vec<u8>,
) -> Option<Sample> {
    let mut num = |f: &str| dir.read(f, buf).ok().and_then(|t| parse::bytes(t).ok());
    let mut s = Sample {
        limit,
        ..Sample::default()
    };
    match h {
        Hierarchy::V2(_) => {
            s.usage = Some(num("memory.current")?);
            s.swap_usage = num("memory.swap.current");
            let mut lim = |f: &str| {
                dir.read(f, buf)
                    .ok()
                    .and_then(|t| parse::limit(t).ok())
                    .flatten()
            };
            s.high = lim("memory.high");
            s.swap_limit = lim("memory.swap.max");
            if let Ok(events) = dir.read("memory.events", buf) {
                s.set_events(&parse::keyed(events).unwrap_or_default());
            }
            s.pressure = dir.read("memory.pressure", buf).ok().map(pressure::totals);
        }
        Hierarchy::V1(_) => {
            s.usage = Some(num("memory.usage_in_bytes")?);
            s.swap_usage = num("memory.memsw.usage_in_bytes")
                .zip(s.usage)
                .map(|(both, mem)| both.saturating_sub(mem));
            s.limit_hits = num("memory.failcnt");
            s.memsw_limit_hits = num("memory.memsw.failcnt");
            s.memsw_limit = dir
                .read("memory.memsw.limit_in_bytes", buf)
                .ok()
                .and_then(|t| parse::limit(t).ok())
                .flatten();
            if let Ok(control) = dir.read("memory.oom_control", buf) {
                s.set_oom_control(&parse::keyed(control).unwrap_or_default());
            }
        }
    }
    Some(s)
}

/// The event counters alone, read by the watcher when the kernel signals
/// a change (v2 `memory.events`, v1 an OOM).
fn read_events(h: &Hierarchy, dir: &CgroupDir) -> Option<Sample> {
    let mut buf = Vec::with_capacity(1024);
    let mut s = Sample::default();
    match h {
        Hierarchy::V2(_) => {
            let events = dir.read("memory.events", &mut buf).ok()?;
            s.set_events(&parse::keyed(events).ok()?);
        }
        Hierarchy::V1(_) => {
            let control = dir.read("memory.oom_control", &mut buf).ok()?;
            s.set_oom_control(&parse::keyed(control).ok()?);
            let mut num = |f: &str| {
                dir.read(f, &mut buf)
                    .ok()
                    .and_then(|t| parse::bytes(t).ok())
            };
            s.limit_hits = num("memory.failcnt");
            s.memsw_limit_hits = num("memory.memsw.failcnt");
        }
    }
    Some(s)
}

/// Whether `now` shows the outcome of an event signalled after `before`
/// was read: the kill of an OOM counted. v1 signals an OOM before its kill
/// is counted; v2 signals every event, the OOM before its kill (and the
/// next signal may come 10 ms later). An OOM may end without a kill in
/// this cgroup: the watch gives up after `cgroupwatch::SETTLE`.
fn events_settled(before: &Sample, now: &Sample) -> bool {
    let killed = now.oom_kill > before.oom_kill;
    match now.under_oom {
        Some(_) => killed,                       // v1
        None => now.oom <= before.oom || killed, // v2
    }
}

/// Takes this scrape's reads (`chosen`: path, inode, sample) and the
/// watch's reads since the last scrape (`updates`) into `seen`. A path
/// found with a new inode is a new incarnation: the old one's counters are
/// carried; a late watch read of the old one adds what it adds.
fn merge(
    seen: &mut BTreeMap<String, Entry>,
    updates: &HashMap<(String, u64), Sample>,
    chosen: &[(String, u64, Sample)],
    now: Instant,
) {
    let absorb = |seen: &mut BTreeMap<String, Entry>| {
        for ((path, ino), events) in updates {
            let Some(e) = seen.get_mut(path) else {
                continue;
            };
            if e.ino == *ino {
                e.sample.absorb(events.clone());
            } else if let Some((_, last)) = e.replaced.as_mut().filter(|(i, _)| i == ino) {
                // Late word of the replaced incarnation: carry the rest.
                let mut before = last.clone();
                last.absorb(events.clone());
                let mut more = last.clone();
                for (m, b) in more.counters_mut().into_iter().zip(before.counters_mut()) {
                    *m = m.zip(*b).map(|(m, b)| m.saturating_sub(b)).or(*m);
                }
                e.carried.add_counters(more);
            }
        }
    };
    absorb(seen);
    for (path, ino, sample) in chosen {
        match seen.get_mut(path) {
            Some(e) => {
                if e.ino != *ino {
                    // Removed and created again under the same path (a
                    // restarted service): its counters continue.
                    let old = std::mem::replace(&mut e.sample, sample.clone());
                    e.carried.add_counters(old.clone());
                    e.replaced = Some((e.ino, old));
                    e.ino = *ino;
                } else {
                    // A counter the scrape could not read keeps its value.
                    let before = std::mem::replace(&mut e.sample, sample.clone());
                    e.sample.absorb(before);
                }
                e.at = now;
            }
            None => {
                let entry = Entry {
                    sample: sample.clone(),
                    ino: *ino,
                    carried: Sample::default(),
                    replaced: None,
                    at: now,
                };
                seen.insert(path.clone(), entry);
            }
        }
    }
    // Again: a watch read may be newer than the scrape's.
    absorb(seen);
}

/// Whether `path` is worth a series without a limit of its own.
fn notable(path: &str) -> bool {
    let o = container::owner(path);
    o.pod_uid.is_some()
        || o.container_id.is_some()
        || o.unit.as_deref().is_some_and(|u| u.ends_with(".service"))
}

/// Reads memory cgroups under `<sysfs>/fs/cgroup`.
pub struct Cgroup {
    sysfs: PathBuf,
    selection: CgroupSelection,
    /// What is kept of each reported cgroup, by path.
    seen: Mutex<BTreeMap<String, Entry>>,
    said_none: Mutex<bool>,
    said_unwatched: Mutex<bool>,
    said_deep: AtomicBool,
    /// Event watch of the reported cgroups, started on the first scrape.
    watch: Mutex<WatchState>,
}

impl Cgroup {
    /// Name in `--collector.<name>`.
    pub const NAME: &'static str = "cgroup";

    /// A collector over the hierarchy under `sysfs`.
    pub fn new(sysfs: PathBuf, selection: CgroupSelection) -> Self {
        Self {
            sysfs,
            selection,
            seen: Mutex::new(BTreeMap::new()),
            said_none: Mutex::new(false),
            said_unwatched: Mutex::new(false),
            said_deep: AtomicBool::new(false),
            watch: Mutex::new(WatchState::NotStarted),
        }
    }

    /// Walks the hierarchy and picks the cgroups to report now, with their
    /// samples. Under the cap, the cgroups matching `include` come first,
    /// then those with a limit, then Kubernetes and systemd ones without.
    /// A cgroup's other files are read only when it can still make the
    /// cut: when fewer than the cap of the same or a better rank came
    /// before it (a later, better-ranked one may still push it out).
    /// `known`: the paths kept from earlier scrapes, whose presence is
    /// noted in [`Selected::existing`].
    pub fn select(&self, h: &Hierarchy, known: &HashSet<String>) -> Selected {
        let sel = &self.selection;
        let mut problems = Vec::new();
        // A file that cannot be read in a cgroup that still exists is a
        // problem; in one that is gone, the cgroup simply vanished.
        let mut unreadable = |path: &str, what: &str| {
            if h.dir(path).exists() {
                problems.push(format!("{}: {what}", h.dir(path).display()));
            }
        };
        let mut buf = Vec::with_capacity(4096);
        let mut existing = HashSet::new();
        let mut ahead = [0usize; 3];
        // (rank, path, inode, sample: None when not read, Some(None) when
        // unreadable)
        let mut candidates: Vec<(u8, String, u64, Option<Option<Sample>>)> = Vec::new();
        let walk = cgroupfs::visit(h, |c| {
            if known.contains(c.path) {
                existing.insert(c.path.to_owned());
            }
            if sel.exclude.as_ref().is_some_and(|re| re.is_match(c.path)) {
                return;
            }
            'read: {
                let Some(limit) = read_limit(h, c.dir, &mut buf) else {
                    unreadable(c.path, &format!("{} unreadable", limit_file(h)));
                    break 'read;
                };
                let rank = if sel.include.as_ref().is_some_and(|re| re.is_match(c.path)) {
                    0
                } else if limit.is_some() {
                    1
                } else if notable(c.path) {
                    2
                } else {
                    break 'read;
                };
                let before: usize = ahead[..=usize::from(rank)].iter().sum();
                ahead[usize::from(rank)] += 1;
                let sample = (before < sel.max).then(|| read_sample_in(h, c.dir, limit, &mut buf));
                candidates.push((rank, c.path.to_owned(), c.ino, sample));
            }
            // Files a kernel never makes that long are left out of the
            // sample like absent ones, but said.
            if let Some(file) = c.dir.take_too_large() {
                unreadable(
                    c.path,
                    &format!(
                        "{file} larger than {} bytes, which no kernel file is; not read",
                        crate::procfs::MAX_FILE_BYTES
                    ),
                );
            }
        });
        candidates.sort_by_key(|(rank, _, _, _)| *rank);
        let dropped = candidates.len().saturating_sub(sel.max);
        let mut chosen = Vec::new();
        for (_, path, ino, sample) in candidates.into_iter().take(sel.max) {
            // Not read during the walk only if the cut was misjudged.
            match sample.unwrap_or_else(|| read_sample(h, &path)) {
                Some(sample) => chosen.push((path, ino, sample)),
                None => unreadable(&path, "memory usage unreadable"),
            }
        }
        problems.extend(
            walk.errors
                .into_iter()
                .map(|e| format!("cgroup {e} (not walked)")),
        );
        Selected {
            chosen,
            existing,
            scanned: walk.count,
            dropped,
            depth_limited: walk.depth_limited,
            problems,
        }
    }
}

impl Cgroup {
    /// The event watch for hierarchy `h`, started on first use. When the
    /// hierarchy is another than before, what was kept of the old one goes.
    fn watcher<'w>(
        state: &'w mut WatchState,
        h: &Hierarchy,
        seen: &mut BTreeMap<String, Entry>,
    ) -> Option<&'w Watcher<Sample>> {
        let stale = matches!(state, WatchState::Running(running, _) if running != h);
        if stale {
            seen.clear();
        }
        if matches!(state, WatchState::NotStarted) || stale {
            *state = match Watcher::start(h.clone(), read_events, events_settled) {
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
}

/// What [`Cgroup::select`] found.
pub struct Selected {
    /// The cgroups reported now, with their inodes and samples.
    pub chosen: Vec<(String, u64, Sample)>,
    /// The `known` cgroups found by the walk.
    pub existing: HashSet<String>,
    /// Cgroups found by the walk.
    pub scanned: usize,
    /// Qualifying cgroups left out by the cap.
    pub dropped: usize,
    /// Cgroups at the walk's depth limit whose children were not walked.
    pub depth_limited: Vec<String>,
    /// Files that could not be read in cgroups that still exist.
    pub problems: Vec<String>,
}

type Family = (
    &'static str,
    &'static str,
    bool,
    Option<metrics::Unit>,
    fn(&Sample) -> Option<u64>,
);

const FAMILIES: &[Family] = &[
    (
        "cgroup_memory_usage",
        "Memory used by the cgroup (v2 memory.current, v1 memory.usage_in_bytes)",
        false,
        Some(metrics::Unit::Bytes),
        |s| s.usage,
    ),
    (
        "cgroup_memory_limit",
        "The cgroup's hard memory limit (v2 memory.max, v1 memory.limit_in_bytes); absent when unlimited",
        false,
        Some(metrics::Unit::Bytes),
        |s| s.limit,
    ),
    (
        "cgroup_memory_high",
        "The cgroup's throttling threshold (v2 memory.high); absent when unset",
        false,
        Some(metrics::Unit::Bytes),
        |s| s.high,
    ),
    (
        "cgroup_swap_usage",
        "Swap used by the cgroup (v2 memory.swap.current; v1 memsw minus memory usage)",
        false,
        Some(metrics::Unit::Bytes),
        |s| s.swap_usage,
    ),
    (
        "cgroup_swap_limit",
        "The cgroup's swap limit (v2 memory.swap.max); absent when unlimited",
        false,
        Some(metrics::Unit::Bytes),
        |s| s.swap_limit,
    ),
    (
        "cgroup_memory_limit_hits",
        "Times the cgroup's usage hit its limit (v2 memory.events max, v1 memory.failcnt)",
        true,
        None,
        |s| s.limit_hits,
    ),
    (
        "cgroup_memory_high_events",
        "Times the cgroup was throttled above memory.high (v2 memory.events high)",
        true,
        None,
        |s| s.high_events,
    ),
    (
        "cgroup_oom_events",
        "OOM situations in the cgroup (v2 memory.events oom), killed or not",
        true,
        None,
        |s| s.oom,
    ),
    (
        "cgroup_oom_kills",
        "Processes OOM-killed in the cgroup or below it (v2 memory.events oom_kill, v1 memory.oom_control oom_kill)",
        true,
        None,
        |s| s.oom_kill,
    ),
    (
        "cgroup_oom_group_kills",
        "memory.oom.group kills of the whole cgroup (v2 memory.events oom_group_kill)",
        true,
        None,
        |s| s.oom_group_kill,
    ),
    (
        "cgroup_under_oom",
        "1 while the cgroup is in an OOM situation (v1 memory.oom_control under_oom)",
        false,
        None,
        |s| s.under_oom,
    ),
    (
        "cgroup_memsw_limit",
        "The cgroup's memory+swap limit (v1 memory.memsw.limit_in_bytes); absent when unlimited",
        false,
        Some(metrics::Unit::Bytes),
        |s| s.memsw_limit,
    ),
    (
        "cgroup_memsw_limit_hits",
        "Times the cgroup's memory+swap usage hit its limit (v1 memory.memsw.failcnt)",
        true,
        None,
        |s| s.memsw_limit_hits,
    ),
];

impl Source for Cgroup {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn collect(&self, out: &mut MetricWriter<'_, '_>) -> Result<(), CollectError> {
        let Some(h) = cgroupfs::detect(&self.sysfs) else {
            let mut said = self
                .said_none
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !*said {
                tracing::info!(sysfs = %self.sysfs.display(), "no memory cgroup hierarchy found; cgroup series are absent");
                *said = true;
            }
            out.gauge(
                "cgroup_hierarchy_version",
                "Memory cgroup hierarchy in use: 1 (v1), 2 (v2), 0 (none found)",
                None,
                0,
            )?;
            return Ok(());
        };
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let known: HashSet<String> = seen.keys().cloned().collect();
        let Selected {
            chosen,
            existing,
            scanned,
            dropped,
            depth_limited,
            problems,
        } = self.select(&h, &known);
        if let Some(first) = depth_limited.first()
            && !self.said_deep.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                cgroup = %first,
                count = depth_limited.len(),
                max_depth = cgroupfs::MAX_DEPTH + 1,
                "cgroups nested deeper than the walk's limit are not walked below this one; they are not reported (see oom_cgroups_depth_limited)"
            );
        }
        let now = Instant::now();
        let chosen_set: HashSet<String> = chosen.iter().map(|(p, _, _)| p.clone()).collect();
        let mut watch = self.watch.lock().unwrap_or_else(PoisonError::into_inner);
        let watcher = Self::watcher(&mut watch, &h, &mut seen);
        // Counters the watch read between scrapes: the last word of a
        // cgroup removed since (or of an incarnation since replaced).
        let updates = watcher.map(Watcher::take).unwrap_or_default();
        merge(&mut seen, &updates, &chosen, now);
        if let Some(w) = watcher {
            let follow: Vec<(&str, u64, &Sample)> = chosen
                .iter()
                .map(|(p, ino, s)| (p.as_str(), *ino, s))
                .collect();
            let failed = w.follow(&follow);
            if let Some((path, e)) = failed.first() {
                let mut said = self
                    .said_unwatched
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if !*said {
                    tracing::info!(cgroup = %path, error = %e, failed = failed.len(), "cannot watch some cgroups' OOM events (v1 needs root and a writable cgroupfs; or the inotify or open files limit); their counters are read at scrapes only");
                    *said = true;
                } else {
                    tracing::debug!(cgroup = %path, error = %e, failed = failed.len(), "cgroup event watch not set");
                }
            }
        }
        let watched = watcher.map_or(0, Watcher::watched);
        drop(watch);
        let retention = self.selection.retention;
        // Report what was read now, and vanished cgroups within retention.
        seen.retain(|path, Entry { at, .. }| {
            chosen_set.contains(path)
                || (!existing.contains(path) && now.duration_since(*at) < retention)
        });
        // Vanished cgroups count against the cap too: with more than the
        // cap, the longest gone are dropped first.
        let mut vanished: Vec<(String, Instant)> = seen
            .iter()
            .filter(|(p, _)| !chosen_set.contains(*p))
            .map(|(p, e)| (p.clone(), e.at))
            .collect();
        let excess = seen
            .len()
            .saturating_sub(self.selection.max.max(chosen_set.len()));
        vanished.sort_by_key(|(_, at)| *at);
        for (path, _) in vanished.into_iter().take(excess) {
            seen.remove(&path);
        }
        let served: Vec<(&String, Sample)> = seen.iter().map(|(p, e)| (p, e.served())).collect();
        let samples: Vec<(&String, &Sample)> = served.iter().map(|(p, s)| (*p, s)).collect();
        let owners: Vec<[(&str, String); 4]> = samples
            .iter()
            .map(|(p, _)| {
                let o = container::owner(p);
                [
                    ("cgroup", (*p).clone()),
                    ("pod_uid", o.pod_uid.unwrap_or_default()),
                    ("container_id", o.container_id.unwrap_or_default()),
                    ("unit", o.unit.unwrap_or_default()),
                ]
            })
            .collect();
        let labels: Vec<Vec<(&str, &str)>> = owners
            .iter()
            .map(|l| l.iter().map(|(k, v)| (*k, v.as_str())).collect())
            .collect();
        for (name, help, counter, unit, value) in FAMILIES {
            let values: Vec<(Labels<'_>, u64)> = samples
                .iter()
                .zip(&labels)
                .filter_map(|((_, s), l)| value(s).map(|v| (&l[..], v)))
                .collect();
            if *counter {
                out.counters(name, help, unit.clone(), &values)?;
            } else {
                out.gauges(name, help, unit.clone(), &values)?;
            }
        }
        let kind_labels: Vec<Vec<(&str, &str)>> = labels
            .iter()
            .flat_map(|l| {
                ["some", "full"].map(|k| l.iter().copied().chain([("kind", k)]).collect())
            })
            .collect();
        let stalls: Vec<(Labels<'_>, f64)> = samples
            .iter()
            .flat_map(|(_, s)| {
                let p = s.pressure.unwrap_or_default();
                [p.some_us, p.full_us]
            })
            .zip(&kind_labels)
            .filter_map(|(us, l)| us.map(|us| (&l[..], us as f64 / 1e6)))
            .collect();
        out.counters(
            "cgroup_pressure_stalled",
            "Time tasks in the cgroup were stalled on memory (v2 memory.pressure total): some = at least one, full = all",
            metrics::seconds(),
            &stalls,
        )?;
        out.gauge(
            "cgroup_hierarchy_version",
            "Memory cgroup hierarchy in use: 1 (v1), 2 (v2), 0 (none found)",
            None,
            i64::from(h.version()),
        )?;
        out.gauge(
            "cgroups_scanned",
            "Memory cgroups found in the last walk",
            None,
            scanned as i64,
        )?;
        out.gauge("cgroups_reported", "Memory cgroups with series (selected now, plus vanished ones kept for the retention period)", None, samples.len() as i64)?;
        out.gauge(
            "cgroups_watched",
            "Reported cgroups whose OOM events are read as they happen (v2 memory.events inotify, v1 oom_control eventfd), not only at scrapes",
            None,
            watched as i64,
        )?;
        out.gauge(
            "cgroups_dropped",
            "Cgroups that qualified but were left out by --collector.cgroup.max",
            None,
            dropped as i64,
        )?;
        out.gauge(
            "cgroups_depth_limited",
            "Cgroups at the walk's depth limit (33 levels below the root) whose children were not walked",
            None,
            depth_limited.len() as i64,
        )?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CollectError::Malformed {
                path: h.root().display().to_string(),
                problems: problems.into_iter().take(5).collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kills(n: u64) -> Sample {
        Sample {
            usage: Some(1),
            oom_kill: Some(n),
            limit_hits: Some(10 * n),
            ..Sample::default()
        }
    }

    fn served(seen: &BTreeMap<String, Entry>) -> (Option<u64>, Option<u64>) {
        let s = seen["/a.service"].served();
        (s.oom_kill, s.limit_hits)
    }

    #[test]
    fn a_watch_read_between_scrapes_raises_the_counters() {
        let (mut seen, now, p) = (BTreeMap::new(), Instant::now(), "/a.service".to_owned());
        merge(&mut seen, &HashMap::new(), &[(p.clone(), 7, kills(0))], now);
        let updates = HashMap::from([((p.clone(), 7), kills(2))]);
        // Gone before the scrape: the watch's read is what remains.
        merge(&mut seen, &updates, &[], now);
        assert_eq!(served(&seen), (Some(2), Some(20)));
        // A stale watch read never lowers a counter.
        let updates = HashMap::from([((p.clone(), 7), kills(1))]);
        merge(&mut seen, &updates, &[(p, 7, kills(3))], now);
        assert_eq!(served(&seen), (Some(3), Some(30)));
    }

    #[test]
    fn a_new_incarnation_continues_the_counters() {
        let (mut seen, now, p) = (BTreeMap::new(), Instant::now(), "/a.service".to_owned());
        merge(&mut seen, &HashMap::new(), &[(p.clone(), 7, kills(1))], now);
        // The old one's last kill read by the watch, then a new inode.
        let updates = HashMap::from([((p.clone(), 7), kills(2))]);
        merge(&mut seen, &updates, &[(p.clone(), 8, kills(0))], now);
        assert_eq!(served(&seen), (Some(2), Some(20)));
        merge(&mut seen, &HashMap::new(), &[(p.clone(), 8, kills(1))], now);
        assert_eq!(served(&seen), (Some(3), Some(30)));
        // The usage is the new incarnation's alone.
        assert_eq!(seen[&p].served().usage, Some(1));
    }

    #[test]
    fn a_late_read_of_the_replaced_incarnation_is_carried_once() {
        let (mut seen, now, p) = (BTreeMap::new(), Instant::now(), "/a.service".to_owned());
        merge(&mut seen, &HashMap::new(), &[(p.clone(), 7, kills(1))], now);
        merge(&mut seen, &HashMap::new(), &[(p.clone(), 8, kills(0))], now);
        assert_eq!(served(&seen), (Some(1), Some(10)));
        // The watch read the old incarnation's last kill before it went,
        // but its word arrives after the replacement was seen.
        let late = HashMap::from([((p.clone(), 7), kills(2))]);
        merge(&mut seen, &late, &[(p.clone(), 8, kills(0))], now);
        assert_eq!(served(&seen), (Some(2), Some(20)));
        merge(&mut seen, &late, &[(p.clone(), 8, kills(0))], now);
        assert_eq!(served(&seen), (Some(2), Some(20)), "carried twice");
    }
}
