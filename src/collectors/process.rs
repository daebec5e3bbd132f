//! `process`: who the OOM killer would pick next. Per-process RSS,
//! `oom_score` and `oom_score_adj` for the top N processes by `oom_score`
//! plus the ones matching `--collector.process.include`, and summaries that
//! need no per-process series.
//!
//! Series are built fresh from each scan, so a process that exits or drops
//! out of the top N is gone from the next scrape. Per scrape there are at
//! most `8 x (top-n + include-max) + 6` series from this collector.

use std::sync::Arc;
use std::time::Instant;

use crate::k8s::{Names, Resolver, Urgency};
use crate::metrics::{self, Gauge, IfEmpty, Labels, MetricWriter};
use crate::proc::scan::{Proc, Scan, Scanner};
use crate::proc::singleflight::SharedScanner;

use super::{CollectError, Source};

/// Scans processes at scrape time; concurrent scrapes share one scan.
pub struct Process {
    scans: SharedScanner,
    names: Arc<Resolver>,
}

impl Process {
    /// Name in `--collector.<name>`.
    pub const NAME: &'static str = "process";

    /// A collector over `scanner`.
    pub fn new(scanner: Scanner) -> Self {
        Self {
            scans: SharedScanner::new(scanner),
            names: Arc::new(Resolver::off()),
        }
    }

    /// Names the processes' pods and containers with `names`.
    pub fn with_names(mut self, names: Arc<Resolver>) -> Self {
        self.names = names;
        self
    }
}

fn labels((p, names): (&Proc, Names)) -> [(&'static str, String); 9] {
    [
        ("pid", p.pid.to_string()),
        ("comm", p.comm.clone()),
        ("cgroup", p.cgroup.clone().unwrap_or_default()),
        ("pod_uid", p.owner.pod_uid.clone().unwrap_or_default()),
        (
            "container_id",
            p.owner.container_id.clone().unwrap_or_default(),
        ),
        ("unit", p.owner.unit.clone().unwrap_or_default()),
        ("namespace", names.namespace.unwrap_or_default()),
        ("pod", names.pod.unwrap_or_default()),
        ("container", names.container.unwrap_or_default()),
    ]
}

/// One per-process gauge family and the value of a process it shows.
struct Family {
    name: &'static str,
    help: &'static str,
    unit: Option<metrics::Unit>,
    value: fn(&Proc) -> Option<i64>,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "process_resident_memory",
        help: "Resident memory of the process (VmRSS)",
        unit: Some(metrics::Unit::Bytes),
        value: |p| Some(p.memory.resident as i64),
    },
    Family {
        name: "process_resident_anon",
        help: "Resident anonymous memory (RssAnon, 4.5+)",
        unit: Some(metrics::Unit::Bytes),
        value: |p| p.memory.anon.map(|v| v as i64),
    },
    Family {
        name: "process_resident_file",
        help: "Resident file-backed memory (RssFile, 4.5+)",
        unit: Some(metrics::Unit::Bytes),
        value: |p| p.memory.file.map(|v| v as i64),
    },
    Family {
        name: "process_resident_shmem",
        help: "Resident shared memory (RssShmem, 4.5+)",
        unit: Some(metrics::Unit::Bytes),
        value: |p| p.memory.shmem.map(|v| v as i64),
    },
    Family {
        name: "process_swap",
        help: "Swapped-out memory of the process (VmSwap)",
        unit: Some(metrics::Unit::Bytes),
        value: |p| p.memory.swap.map(|v| v as i64),
    },
    Family {
        name: "process_score",
        help: "The kernel's oom_score: the highest is killed first (0-2000)",
        unit: None,
        value: |p| Some(i64::from(p.oom_score)),
    },
    Family {
        name: "process_score_adj",
        help: "oom_score_adj: -1000 never kill, 1000 kill first",
        unit: None,
        value: |p| Some(i64::from(p.oom_score_adj)),
    },
];

/// The per-process families.
fn write_procs(
    out: &mut MetricWriter<'_, '_>,
    procs: &[Proc],
    names: &Resolver,
    now: Instant,
) -> Result<(), CollectError> {
    let owned: Vec<[(&str, String); 9]> = procs
        .iter()
        .map(|p| labels((p, names.names(&p.owner, now, Urgency::Scrape))))
        .collect();
    let label_refs: Vec<Vec<(&str, &str)>> = owned
        .iter()
        .map(|l| l.iter().map(|(k, v)| (*k, v.as_str())).collect())
        .collect();
    for f in FAMILIES {
        let samples: Vec<(Labels<'_>, i64)> = procs
            .iter()
            .zip(&label_refs)
            .filter_map(|(p, l)| (f.value)(p).map(|v| (&l[..], v)))
            .collect();
        out.family::<Gauge, _>(f.name, f.help, f.unit.clone(), &samples, IfEmpty::Skip)?;
    }
    let critical: Vec<(Labels<'_>, i64)> = procs
        .iter()
        .zip(&label_refs)
        .filter(|(p, _)| p.included)
        .map(|(_, l)| (&l[..], 1))
        .collect();
    out.family::<Gauge, _>(
        "process_included",
        "1 for a reported process matching --collector.process.include: a critical service to keep protected",
        None,
        &critical, IfEmpty::Skip,
    )?;
    Ok(())
}

/// What the scan saw as a whole, and the next victim.
fn write_summary(
    out: &mut MetricWriter<'_, '_>,
    scan: &Scan,
    names: &Resolver,
    now: Instant,
) -> Result<(), CollectError> {
    out.gauge(
        "process_scan_hidepid",
        "1 if proc is mounted with hidepid and hides other users' processes from this exporter (run as root), else 0",
        None,
        i64::from(scan.hidden.is_some()),
    )?;
    out.gauge(
        "processes_scanned",
        "Processes whose oom_score was read in the last scan",
        None,
        scan.scanned as i64,
    )?;
    out.gauge(
        "process_scan_denied",
        "Processes left out of the last scan for lack of permission (e.g. hidepid)",
        None,
        scan.denied as i64,
    )?;
    out.gauge(
        "process_scan_errors",
        "Processes left out of the last scan because a file of theirs was unreadable, malformed or too large while they existed (see the exporter's log)",
        None,
        scan.errors as i64,
    )?;
    if let Some(victim) = &scan.next_victim {
        out.gauge(
            "process_max_score",
            "Highest oom_score of any user process: the OOM killer's next victim",
            None,
            i64::from(victim.oom_score),
        )?;
        let owned = labels((victim, names.names(&victim.owner, now, Urgency::Scrape)));
        let refs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        out.info(
            "process_next_victim",
            "The process with the highest oom_score right now",
            &refs,
        )?;
    }
    Ok(())
}

/// The processes left out for errors, as the collector's error.
fn scan_errors(scan: &Scan) -> Result<(), CollectError> {
    if scan.errors == 0 {
        return Ok(());
    }
    let mut problems = scan.problems.clone();
    if scan.errors > problems.len() {
        problems.push(format!("{} processes left out in all", scan.errors));
    }
    Err(CollectError::Malformed {
        path: "process scan".to_owned(),
        problems,
    })
}

impl Source for Process {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn collect(&self, out: &mut MetricWriter<'_, '_>) -> Result<(), CollectError> {
        let scan = self.scans.scan();
        out.counter(
            "process_scans",
            "Scans of /proc by the process collector (scrapes arriving together share one)",
            None,
            self.scans.scans(),
        )?;
        let scan = match scan.as_ref() {
            Ok(scan) => scan,
            Err(error) => {
                return Err(CollectError::Malformed {
                    path: "process scan".to_owned(),
                    problems: vec![error.clone()],
                });
            }
        };
        let now = Instant::now();
        write_procs(out, &scan.procs, &self.names, now)?;
        write_summary(out, scan, &self.names, now)?;
        scan_errors(scan)
    }
}
