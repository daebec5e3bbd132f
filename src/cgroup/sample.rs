//! One cgroup's sample: usage, limits, event counters and pressure, read
//! from its files (v1 and v2), and the event counters alone as the watch
//! reads them when the kernel signals a change.

use crate::cgroup::hierarchy::{CgroupDir, Hierarchy};
use crate::cgroup::parse;
use crate::cgroup::userspace::{self, xattr};
use crate::parse::pressure::{self, Totals};

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
    /// Userspace OOM kill actions by [`userspace::Killer::index`], from the
    /// cgroup's attributes (v2; absent where none is set).
    pub userspace_kills: [Option<u64>; 2],
    /// Processes those kills killed, by killer.
    pub userspace_killed: [Option<u64>; 2],
    /// Why the attributes could not all be read (not a counter).
    pub userspace_problem: Option<xattr::Problem>,
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

    /// The userspace-kill counters of the cgroup's attributes.
    fn set_userspace(&mut self, read: xattr::Read) {
        if let Some(c) = read.attrs.counts() {
            self.userspace_kills[c.killer.index()] = Some(c.kills);
            self.userspace_killed[c.killer.index()] = Some(c.processes);
        }
        self.userspace_problem = read.problem;
    }

    /// The userspace-kill counters alone of the v2 cgroup directory `dir`.
    pub fn userspace_only(dir: &CgroupDir) -> Self {
        let mut s = Self::default();
        s.set_userspace(userspace::xattr::read(dir));
        s
    }

    /// Whether the cgroup's attributes count any kill or killed process.
    pub fn userspace_killed_any(&self) -> bool {
        self.userspace_kills
            .iter()
            .chain(&self.userspace_killed)
            .any(|v| v.is_some_and(|v| v > 0))
    }

    /// The event counters, which add up across a path's incarnations.
    pub(crate) fn counters_mut(&mut self) -> [&mut Option<u64>; 10] {
        let [kills_systemd, kills_oomd] = &mut self.userspace_kills;
        let [killed_systemd, killed_oomd] = &mut self.userspace_killed;
        [
            &mut self.limit_hits,
            &mut self.high_events,
            &mut self.oom,
            &mut self.oom_kill,
            &mut self.oom_group_kill,
            &mut self.memsw_limit_hits,
            kills_systemd,
            kills_oomd,
            killed_systemd,
            killed_oomd,
        ]
    }

    /// Raises each counter to `other`'s where that is higher (a later read
    /// of the same cgroup).
    pub fn absorb(&mut self, mut other: Sample) {
        for (mine, theirs) in self.counters_mut().into_iter().zip(other.counters_mut()) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// Adds `other`'s counters to this one's.
    pub fn add_counters(&mut self, mut other: Sample) {
        for (mine, theirs) in self.counters_mut().into_iter().zip(other.counters_mut()) {
            *mine = match (*mine, *theirs) {
                (Some(a), Some(b)) => Some(a.saturating_add(b)),
                (a, b) => a.or(b),
            };
        }
    }

    /// How much each counter of `self` is above `before`'s (a counter
    /// `before` lacks counts whole).
    pub fn counters_since(&self, before: &Sample) -> Sample {
        let (mut more, mut before) = (self.clone(), before.clone());
        for (m, b) in more.counters_mut().into_iter().zip(before.counters_mut()) {
            *m = m.zip(*b).map(|(m, b)| m.saturating_sub(b)).or(*m);
        }
        more
    }
}

/// The file holding a cgroup's hard limit.
pub fn limit_file(h: &Hierarchy) -> &'static str {
    match h {
        Hierarchy::V2(_) => "memory.max",
        Hierarchy::V1(_) => "memory.limit_in_bytes",
    }
}

/// The cgroup's limit, `Some(None)` when unlimited, `None` when unreadable.
pub fn read_limit(h: &Hierarchy, dir: &CgroupDir, buf: &mut Vec<u8>) -> Option<Option<u64>> {
    dir.read(limit_file(h), buf)
        .ok()
        .and_then(|t| parse::limit(t).ok())
}

/// One cgroup's sample read now; `None` when the cgroup or its usage
/// cannot be read.
pub fn read(h: &Hierarchy, path: &str) -> Option<Sample> {
    let dir = CgroupDir::open(&h.dir(path)).ok()?;
    let mut buf = Vec::new();
    let limit = read_limit(h, &dir, &mut buf)?;
    read_in(h, &dir, limit, &mut buf)
}

/// One cgroup's sample, with the limit already read; `None` when its usage
/// cannot be read. `buf` is scratch space.
pub fn read_in(
    h: &Hierarchy,
    dir: &CgroupDir,
    limit: Option<u64>,
    buf: &mut Vec<u8>,
) -> Option<Sample> {
    let mut s = Sample {
        limit,
        ..Sample::default()
    };
    match h {
        Hierarchy::V2(_) => read_v2(dir, buf, &mut s)?,
        Hierarchy::V1(_) => read_v1(dir, buf, &mut s)?,
    }
    Some(s)
}

/// A limit file, `None` when unlimited or unreadable.
fn read_set_limit(dir: &CgroupDir, file: &str, buf: &mut Vec<u8>) -> Option<u64> {
    dir.read(file, buf)
        .ok()
        .and_then(|t| parse::limit(t).ok())
        .flatten()
}

/// A byte count or counter file, `None` when unreadable.
fn read_number(dir: &CgroupDir, file: &str, buf: &mut Vec<u8>) -> Option<u64> {
    dir.read(file, buf).ok().and_then(|t| parse::bytes(t).ok())
}

fn read_v2(dir: &CgroupDir, buf: &mut Vec<u8>, s: &mut Sample) -> Option<()> {
    s.usage = Some(read_number(dir, "memory.current", buf)?);
    s.swap_usage = read_number(dir, "memory.swap.current", buf);
    s.high = read_set_limit(dir, "memory.high", buf);
    s.swap_limit = read_set_limit(dir, "memory.swap.max", buf);
    if let Ok(events) = dir.read("memory.events", buf) {
        s.set_events(&parse::keyed(events).unwrap_or_default());
    }
    s.pressure = dir.read("memory.pressure", buf).ok().map(pressure::totals);
    s.set_userspace(userspace::xattr::read(dir));
    Some(())
}

fn read_v1(dir: &CgroupDir, buf: &mut Vec<u8>, s: &mut Sample) -> Option<()> {
    s.usage = Some(read_number(dir, "memory.usage_in_bytes", buf)?);
    s.swap_usage = read_number(dir, "memory.memsw.usage_in_bytes", buf)
        .zip(s.usage)
        .map(|(both, mem)| both.saturating_sub(mem));
    s.limit_hits = read_number(dir, "memory.failcnt", buf);
    s.memsw_limit_hits = read_number(dir, "memory.memsw.failcnt", buf);
    s.memsw_limit = read_set_limit(dir, "memory.memsw.limit_in_bytes", buf);
    if let Ok(control) = dir.read("memory.oom_control", buf) {
        s.set_oom_control(&parse::keyed(control).unwrap_or_default());
    }
    Some(())
}

/// The event counters alone, read by the watch when the kernel signals
/// a change (v2 `memory.events` or the directory's attributes, v1 an OOM).
pub fn read_events(h: &Hierarchy, dir: &CgroupDir) -> Option<Sample> {
    let mut buf = Vec::with_capacity(1024);
    let mut s = Sample::default();
    match h {
        Hierarchy::V2(_) => {
            // A removed cgroup's directory, held open by the watch, has
            // no files left but still its attributes.
            let events = dir.read("memory.events", &mut buf).ok();
            if let Some(events) = events {
                s.set_events(&parse::keyed(events).ok()?);
            }
            s.set_userspace(userspace::xattr::read(dir));
            let nothing = s.userspace_kills.iter().all(Option::is_none);
            if events.is_none() && nothing {
                return None;
            }
        }
        Hierarchy::V1(_) => {
            let control = dir.read("memory.oom_control", &mut buf).ok()?;
            s.set_oom_control(&parse::keyed(control).ok()?);
            s.limit_hits = read_number(dir, "memory.failcnt", &mut buf);
            s.memsw_limit_hits = read_number(dir, "memory.memsw.failcnt", &mut buf);
        }
    }
    Some(s)
}

/// Whether `now` shows the outcome of an event signalled after `before`
/// was read: the kill of an OOM counted. v1 signals an OOM before its kill
/// is counted; v2 signals every event, the OOM before its kill (and the
/// next signal may come 10 ms later). An OOM may end without a kill in
/// this cgroup: the watch gives up after [`crate::cgroup::watch::SETTLE`].
pub fn events_settled(before: &Sample, now: &Sample) -> bool {
    let killed = now.oom_kill > before.oom_kill;
    match now.under_oom {
        Some(_) => killed,                       // v1
        None => now.oom <= before.oom || killed, // v2
    }
}
