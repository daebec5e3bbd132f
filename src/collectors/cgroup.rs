//! `cgroup`: memory usage, limits, pressure and OOM events of the memory
//! cgroups that can run out on their own: those with a limit, plus
//! Kubernetes pod and container cgroups and systemd services, up to
//! `--collector.cgroup.max`. v1 and v2 (see [`crate::cgroup::hierarchy`]).
//!
//! What is read, kept across scrapes and watched between them is the
//! business of [`crate::cgroup::monitor`]; this file writes the families.

use std::sync::Arc;
use std::time::Instant;

use crate::cgroup::CgroupSource;
use crate::cgroup::monitor::{Monitor, Report, Reported, Userspace};
use crate::cgroup::sample::Sample;
use crate::cgroup::userspace::Killer;
use crate::k8s::{Names, Resolver, Urgency};
use crate::metrics::{self, Counter, Gauge, IfEmpty, Labels, MetricWriter};

use super::{CollectError, Source};

/// Reads memory cgroups under `<sysfs>/fs/cgroup`.
pub struct Cgroup {
    monitor: Monitor,
    names: Arc<Resolver>,
}

impl Cgroup {
    /// Name in `--collector.<name>`.
    pub const NAME: &'static str = "cgroup";

    /// A collector over the hierarchy under `source.sysfs`.
    pub fn new(source: CgroupSource) -> Self {
        Self {
            monitor: Monitor::new(source),
            names: Arc::new(Resolver::off()),
        }
    }

    /// Names the cgroups' pods and containers with `names`.
    pub fn with_names(mut self, names: Arc<Resolver>) -> Self {
        self.monitor.set_names(Arc::clone(&names));
        self.names = names;
        self
    }
}

/// Whether a family is a counter or a gauge.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
}

/// One per-cgroup family and the value of a sample it shows.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    unit: Option<metrics::Unit>,
    value: fn(&Sample) -> Option<u64>,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "cgroup_memory_usage",
        help: "Memory used by the cgroup (v2 memory.current, v1 memory.usage_in_bytes)",
        kind: Kind::Gauge,
        unit: Some(metrics::Unit::Bytes),
        value: |s| s.usage,
    },
    Family {
        name: "cgroup_memory_limit",
        help: "The cgroup's hard memory limit (v2 memory.max, v1 memory.limit_in_bytes); absent when unlimited",
        kind: Kind::Gauge,
        unit: Some(metrics::Unit::Bytes),
        value: |s| s.limit,
    },
    Family {
        name: "cgroup_memory_high",
        help: "The cgroup's throttling threshold (v2 memory.high); absent when unset",
        kind: Kind::Gauge,
        unit: Some(metrics::Unit::Bytes),
        value: |s| s.high,
    },
    Family {
        name: "cgroup_swap_usage",
        help: "Swap used by the cgroup (v2 memory.swap.current; v1 memsw minus memory usage)",
        kind: Kind::Gauge,
        unit: Some(metrics::Unit::Bytes),
        value: |s| s.swap_usage,
    },
    Family {
        name: "cgroup_swap_limit",
        help: "The cgroup's swap limit (v2 memory.swap.max); absent when unlimited",
        kind: Kind::Gauge,
        unit: Some(metrics::Unit::Bytes),
        value: |s| s.swap_limit,
    },
    Family {
        name: "cgroup_memory_limit_hits",
        help: "Times the cgroup's usage hit its limit (v2 memory.events max, v1 memory.failcnt)",
        kind: Kind::Counter,
        unit: None,
        value: |s| s.limit_hits,
    },
    Family {
        name: "cgroup_memory_high_events",
        help: "Times the cgroup was throttled above memory.high (v2 memory.events high)",
        kind: Kind::Counter,
        unit: None,
        value: |s| s.high_events,
    },
    Family {
        name: "cgroup_oom_events",
        help: "OOM situations in the cgroup (v2 memory.events oom), killed or not",
        kind: Kind::Counter,
        unit: None,
        value: |s| s.oom,
    },
    Family {
        name: "cgroup_oom_kills",
        help: "Processes OOM-killed in the cgroup or below it (v2 memory.events oom_kill, v1 memory.oom_control oom_kill)",
        kind: Kind::Counter,
        unit: None,
        value: |s| s.oom_kill,
    },
    Family {
        name: "cgroup_oom_group_kills",
        help: "memory.oom.group kills of the whole cgroup (v2 memory.events oom_group_kill)",
        kind: Kind::Counter,
        unit: None,
        value: |s| s.oom_group_kill,
    },
    Family {
        name: "cgroup_under_oom",
        help: "1 while the cgroup is in an OOM situation (v1 memory.oom_control under_oom)",
        kind: Kind::Gauge,
        unit: None,
        value: |s| s.under_oom,
    },
    Family {
        name: "cgroup_memsw_limit",
        help: "The cgroup's memory+swap limit (v1 memory.memsw.limit_in_bytes); absent when unlimited",
        kind: Kind::Gauge,
        unit: Some(metrics::Unit::Bytes),
        value: |s| s.memsw_limit,
    },
    Family {
        name: "cgroup_memsw_limit_hits",
        help: "Times the cgroup's memory+swap usage hit its limit (v1 memory.memsw.failcnt)",
        kind: Kind::Counter,
        unit: None,
        value: |s| s.memsw_limit_hits,
    },
];

const HIERARCHY_VERSION: (&str, &str) = (
    "cgroup_hierarchy_version",
    "Memory cgroup hierarchy in use: 1 (v1), 2 (v2), 0 (none found)",
);

/// The labels of a reported cgroup and its workload's names.
fn labels((c, names): (&Reported, Names)) -> [(&'static str, String); 7] {
    [
        ("cgroup", c.path.clone()),
        ("pod_uid", c.owner.pod_uid.clone().unwrap_or_default()),
        (
            "container_id",
            c.owner.container_id.clone().unwrap_or_default(),
        ),
        ("unit", c.owner.unit.clone().unwrap_or_default()),
        ("namespace", names.namespace.unwrap_or_default()),
        ("pod", names.pod.unwrap_or_default()),
        ("container", names.container.unwrap_or_default()),
    ]
}

/// The per-cgroup families.
fn write_cgroups(
    out: &mut MetricWriter<'_, '_>,
    cgroups: &[Reported],
    names: &[Names],
) -> Result<(), CollectError> {
    let owned: Vec<[(&str, String); 7]> = cgroups
        .iter()
        .zip(names.iter().cloned())
        .map(labels)
        .collect();
    let labels: Vec<Vec<(&str, &str)>> = owned
        .iter()
        .map(|l| l.iter().map(|(k, v)| (*k, v.as_str())).collect())
        .collect();
    for f in FAMILIES {
        let values: Vec<(Labels<'_>, u64)> = cgroups
            .iter()
            .zip(&labels)
            .filter_map(|(c, l)| (f.value)(&c.sample).map(|v| (&l[..], v)))
            .collect();
        match f.kind {
            Kind::Counter => {
                out.family::<Counter, _>(f.name, f.help, f.unit.clone(), &values, IfEmpty::Skip)?
            }
            Kind::Gauge => {
                out.family::<Gauge, _>(f.name, f.help, f.unit.clone(), &values, IfEmpty::Skip)?
            }
        }
    }
    let kind_labels: Vec<Vec<(&str, &str)>> = labels
        .iter()
        .flat_map(|l| ["some", "full"].map(|k| l.iter().copied().chain([("kind", k)]).collect()))
        .collect();
    let stalls: Vec<(Labels<'_>, f64)> = cgroups
        .iter()
        .flat_map(|c| {
            let p = c.sample.pressure.unwrap_or_default();
            [p.some_us, p.full_us]
        })
        .zip(&kind_labels)
        .filter_map(|(us, l)| us.map(|us| (&l[..], us as f64 / 1e6)))
        .collect();
    out.family::<Counter, _>(
        "cgroup_pressure_stalled",
        "Time tasks in the cgroup were stalled on memory (v2 memory.pressure total): some = at least one, full = all",
        metrics::seconds(),
        &stalls, IfEmpty::Skip,
    )?;
    write_userspace_cgroups(out, cgroups, &labels)?;
    Ok(())
}

/// The per-cgroup userspace kill families: the owner labels plus `killer`.
fn write_userspace_cgroups(
    out: &mut MetricWriter<'_, '_>,
    cgroups: &[Reported],
    labels: &[Vec<(&str, &str)>],
) -> Result<(), CollectError> {
    let killer_labels: Vec<Vec<Vec<(&str, &str)>>> = labels
        .iter()
        .map(|l| {
            Killer::ALL
                .map(|k| l.iter().copied().chain([("killer", k.as_str())]).collect())
                .into()
        })
        .collect();
    let values = |value: fn(&Sample) -> [Option<u64>; 2]| -> Vec<(Labels<'_>, u64)> {
        cgroups
            .iter()
            .zip(&killer_labels)
            .flat_map(|(c, l)| value(&c.sample).into_iter().zip(l))
            .filter_map(|(v, l)| v.map(|v| (&l[..], v)))
            .collect()
    };
    out.family::<Counter, _>(
        "cgroup_userspace_kills",
        "Kills of the cgroup by a userspace OOM killer (systemd-oomd, oomd), from its user.oomd_ooms or trusted.oomd_ooms attribute (v2)",
        None,
        &values(|s| s.userspace_kills),
        IfEmpty::Skip,
    )?;
    out.family::<Counter, _>(
        "cgroup_userspace_killed_processes",
        "Processes killed in the cgroup by a userspace OOM killer, from its user.oomd_kill or trusted.oomd_kill attribute (v2)",
        None,
        &values(|s| s.userspace_killed),
        IfEmpty::Skip,
    )?;
    Ok(())
}

/// The host-wide userspace kill counter, at 0 where a killer is installed,
/// and whether the attributes can be read.
fn write_userspace(out: &mut MetricWriter<'_, '_>, u: &Userspace) -> Result<(), CollectError> {
    let labels: Vec<[(&str, &str); 1]> = Killer::ALL.map(|k| [("killer", k.as_str())]).into();
    let host: Vec<(Labels<'_>, u64)> = Killer::ALL
        .into_iter()
        .filter(|k| u.present[k.index()] || u.host.kills[k.index()] > 0)
        .map(|k| (&labels[k.index()][..], u.host.kills[k.index()]))
        .collect();
    out.family::<Counter, _>(
        "userspace_kills",
        "Kills by a userspace OOM killer (systemd-oomd, oomd) on the host, counted from the attributes of every cgroup (v2) once the killer is found, and at 0 from the first scrape where it is installed or running",
        None,
        &host,
        IfEmpty::Skip,
    )?;
    out.gauge(
        "userspace_kills_readable",
        "1 when userspace OOM kills can be counted here (memory controller on cgroup v2, whose cgroupfs has user.* attributes, Linux 5.7+)",
        None,
        i64::from(u.readable),
    )?;
    out.gauge(
        "cgroups_userspace_attributes_unreadable",
        "Reported cgroups whose userspace OOM kill attributes could not be read at this scrape (not counting absent ones)",
        None,
        u.unreadable as i64,
    )?;
    Ok(())
}

/// The hierarchy and the walk.
fn write_summary(out: &mut MetricWriter<'_, '_>, r: &Report) -> Result<(), CollectError> {
    let (name, help) = HIERARCHY_VERSION;
    out.gauge(name, help, None, i64::from(r.hierarchy.version()))?;
    out.gauge(
        "cgroups_scanned",
        "Memory cgroups found in the last walk",
        None,
        r.scanned as i64,
    )?;
    out.gauge("cgroups_reported", "Memory cgroups with series (selected now, plus vanished ones kept for the retention period)", None, r.cgroups.len() as i64)?;
    out.gauge(
        "cgroups_watched",
        "Reported cgroups whose OOM events are read as they happen (v2 memory.events inotify, v1 oom_control eventfd), not only at scrapes",
        None,
        r.watched as i64,
    )?;
    out.gauge(
        "cgroups_dropped",
        "Cgroups that qualified but were left out by --collector.cgroup.max",
        None,
        r.dropped as i64,
    )?;
    out.gauge(
        "cgroups_depth_limited",
        "Cgroups at the walk's depth limit (33 levels below the root) whose children were not walked",
        None,
        r.depth_limited as i64,
    )?;
    Ok(())
}

impl Source for Cgroup {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn collect(&self, out: &mut MetricWriter<'_, '_>) -> Result<(), CollectError> {
        let now = Instant::now();
        let Some(report) = self.monitor.scrape(now, crate::timefmt::now_epoch()) else {
            let (name, help) = HIERARCHY_VERSION;
            out.gauge(name, help, None, 0)?;
            return Ok(());
        };
        let names: Vec<Names> = report
            .cgroups
            .iter()
            .map(|c| self.names.names(&c.owner, now, Urgency::Scrape))
            .collect();
        write_cgroups(out, &report.cgroups, &names)?;
        write_summary(out, &report)?;
        write_userspace(out, &report.userspace)?;
        if report.problems.is_empty() {
            Ok(())
        } else {
            Err(CollectError::Malformed {
                path: report.hierarchy.root().display().to_string(),
                problems: report.problems.into_iter().take(5).collect(),
            })
        }
    }
}
