//! `cgroup`: memory usage, limits, pressure and OOM events of the memory
//! cgroups that can run out on their own: those with a limit, plus
//! Kubernetes pod and container cgroups and systemd services, up to
//! `--collector.cgroup.max`. v1 and v2 (see [`crate::cgroupfs`]).
//!
//! A cgroup that disappears (a container OOM-killed and replaced) keeps its
//! last values for `--collector.cgroup.retention`, so Prometheus sees the
//! final `oom_kill` increase, and is then dropped.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use regex::Regex;

use crate::cgroupfs::{self, CgroupDir, Hierarchy};
use crate::container;
use crate::metrics::{self, Labels, MetricWriter};
use crate::parse::cgroup as parse;
use crate::parse::pressure::{self, Pressure};

use super::{CollectError, Collector};

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
    pub pressure: Option<Pressure>,
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
                let e = parse::keyed(events).unwrap_or_default();
                s.limit_hits = e.get("max").copied();
                s.high_events = e.get("high").copied();
                s.oom = e.get("oom").copied();
                s.oom_kill = e.get("oom_kill").copied();
                s.oom_group_kill = e.get("oom_group_kill").copied();
            }
            s.pressure = dir
                .read("memory.pressure", buf)
                .ok()
                .map(|t| pressure::parse(t).0);
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
                let c = parse::keyed(control).unwrap_or_default();
                s.oom_kill = c.get("oom_kill").copied();
                s.under_oom = c.get("under_oom").copied();
            }
        }
    }
    Some(s)
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
    /// Last values and when each cgroup was last seen.
    seen: Mutex<BTreeMap<String, (Sample, Instant)>>,
    said_none: Mutex<bool>,
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
        }
    }

    /// Walks the hierarchy and picks the cgroups to report now, with their
    /// samples. Under the cap, the cgroups matching `include` come first,
    /// then those with a limit, then Kubernetes and systemd ones without.
    /// A cgroup's other files are read only when it can still make the
    /// cut: when fewer than the cap of the same or a better rank came
    /// before it (a later, better-ranked one may still push it out).
    pub fn select(&self, h: &Hierarchy) -> Selected {
        let sel = &self.selection;
        let mut problems = Vec::new();
        // A file that cannot be read in a cgroup that still exists is a
        // problem; in one that is gone, the cgroup simply vanished.
        let mut unreadable = |path: &str, what: &str| {
            if h.dir(path).exists() {
                problems.push(format!("{}: {what} unreadable", h.dir(path).display()));
            }
        };
        let mut buf = Vec::with_capacity(4096);
        let mut existing = HashSet::new();
        let mut ahead = [0usize; 3];
        // (rank, path, sample: None when not read, Some(None) when unreadable)
        let mut candidates: Vec<(u8, String, Option<Option<Sample>>)> = Vec::new();
        cgroupfs::visit(h, |c| {
            existing.insert(c.path.to_owned());
            if sel.exclude.as_ref().is_some_and(|re| re.is_match(c.path)) {
                return;
            }
            let Some(limit) = read_limit(h, c.dir, &mut buf) else {
                unreadable(c.path, limit_file(h));
                return;
            };
            let rank = if sel.include.as_ref().is_some_and(|re| re.is_match(c.path)) {
                0
            } else if limit.is_some() {
                1
            } else if notable(c.path) {
                2
            } else {
                return;
            };
            let before: usize = ahead[..=usize::from(rank)].iter().sum();
            ahead[usize::from(rank)] += 1;
            let sample = (before < sel.max).then(|| read_sample_in(h, c.dir, limit, &mut buf));
            candidates.push((rank, c.path.to_owned(), sample));
        });
        candidates.sort_by_key(|(rank, _, _)| *rank);
        let dropped = candidates.len().saturating_sub(sel.max);
        let mut chosen = Vec::new();
        for (_, path, sample) in candidates.into_iter().take(sel.max) {
            // Not read during the walk only if the cut was misjudged.
            match sample.unwrap_or_else(|| read_sample(h, &path)) {
                Some(sample) => chosen.push((path, sample)),
                None => unreadable(&path, "memory usage"),
            }
        }
        Selected {
            chosen,
            existing,
            dropped,
            problems,
        }
    }
}

/// What [`Cgroup::select`] found.
pub struct Selected {
    /// The cgroups reported now, with their samples.
    pub chosen: Vec<(String, Sample)>,
    /// Every cgroup found by the walk.
    pub existing: HashSet<String>,
    /// Qualifying cgroups left out by the cap.
    pub dropped: usize,
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

impl Collector for Cgroup {
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
        let Selected {
            chosen,
            existing,
            dropped,
            problems,
        } = self.select(&h);
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let chosen_set: HashSet<String> = chosen.iter().map(|(p, _)| p.clone()).collect();
        for (path, sample) in chosen {
            seen.insert(path, (sample, now));
        }
        let retention = self.selection.retention;
        // Report what was read now, and vanished cgroups within retention.
        seen.retain(|path, (_, at)| {
            chosen_set.contains(path)
                || (!existing.contains(path) && now.duration_since(*at) < retention)
        });
        // Vanished cgroups count against the cap too: with more than the
        // cap, the longest gone are dropped first.
        let mut vanished: Vec<(String, Instant)> = seen
            .iter()
            .filter(|(p, _)| !chosen_set.contains(*p))
            .map(|(p, (_, at))| (p.clone(), *at))
            .collect();
        let excess = seen
            .len()
            .saturating_sub(self.selection.max.max(chosen_set.len()));
        vanished.sort_by_key(|(_, at)| *at);
        for (path, _) in vanished.into_iter().take(excess) {
            seen.remove(&path);
        }
        let samples: Vec<(&String, &Sample)> = seen.iter().map(|(p, (s, _))| (p, s)).collect();
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
                [p.some, p.full].map(|r| (s.pressure.is_some(), r))
            })
            .zip(&kind_labels)
            .filter_map(|((has, r), l)| {
                has.then_some(r)
                    .flatten()
                    .map(|r| (&l[..], r.total_us as f64 / 1e6))
            })
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
            existing.len() as i64,
        )?;
        out.gauge("cgroups_reported", "Memory cgroups with series (selected now, plus vanished ones kept for the retention period)", None, samples.len() as i64)?;
        out.gauge(
            "cgroups_dropped",
            "Cgroups that qualified but were left out by --collector.cgroup.max",
            None,
            dropped as i64,
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
