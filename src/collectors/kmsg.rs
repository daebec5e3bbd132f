//! `kmsg`: OOM kills read from /dev/kmsg by the reader thread, reconciled at
//! scrape time with the kernel's own counter so none is missed.

use std::sync::Arc;
use std::time::Instant;

use crate::kmsg::tracker::{Snapshot, Tracker};
use crate::metrics::{self, Counter, Gauge, IfEmpty, Labels, MetricWriter};
use crate::proc::fs::ProcFs;

use super::{CollectError, Source};

/// Reports what the kmsg reader saw.
pub struct Kmsg {
    procfs: ProcFs,
    tracker: Arc<Tracker>,
}

impl Kmsg {
    /// Name in `--collector.<name>`.
    pub const NAME: &'static str = "kmsg";

    /// A collector over `tracker`, reconciling with `<procfs>/vmstat`.
    pub fn new(procfs: ProcFs, tracker: Arc<Tracker>) -> Self {
        Self { procfs, tracker }
    }
}

impl Source for Kmsg {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn collect(&self, out: &mut MetricWriter<'_, '_>) -> Result<(), CollectError> {
        let now = Instant::now();
        self.tracker.reconcile(
            self.procfs.kernel_oom_kills(),
            self.procfs.uptime_usec(),
            now,
        );
        let s = self.tracker.snapshot(now);
        write_kills(out, &s)?;
        write_victims(out, &s)?;
        write_reader(out, &s)?;
        // Still on its first connect (reading the backlog) is not a
        // failure: `oom_kmsg_up` is 0 until it is done.
        if !s.down {
            Ok(())
        } else {
            Err(CollectError::Malformed {
                path: "kmsg".to_owned(),
                problems: vec![
                    "the kmsg reader is not reading (see the earlier warning)".to_owned(),
                ],
            })
        }
    }
}

/// `oom_kills_total` and the part of it only the kernel's counter saw.
fn write_kills(out: &mut MetricWriter<'_, '_>, s: &Snapshot) -> Result<(), CollectError> {
    out.counter(
        "kills",
        "OOM kills since the exporter started: every Killed process record from /dev/kmsg, plus kills only the kernel's counter saw",
        None,
        s.kills,
    )?;
    out.counter(
        "kills_unattributed",
        "OOM kills since start counted from the kernel's oom_kill counter because no kmsg record named the victim (kmsg unreadable or records lost)",
        None,
        s.unattributed,
    )?;
    Ok(())
}

/// The victim series and the time of the last kill.
fn write_victims(out: &mut MetricWriter<'_, '_>, s: &Snapshot) -> Result<(), CollectError> {
    let labels: Vec<[(&str, &str); 9]> = s
        .victims
        .iter()
        .map(|v| {
            let [namespace, pod, container] = v.names.labels();
            [
                ("comm", v.key.comm.as_str()),
                ("cgroup", v.key.cgroup.as_str()),
                ("constraint", v.key.constraint),
                ("pod_uid", v.key.pod_uid.as_str()),
                ("container_id", v.key.container_id.as_str()),
                ("unit", v.key.unit.as_str()),
                namespace,
                pod,
                container,
            ]
        })
        .collect();
    let counts: Vec<(Labels<'_>, u64)> = labels
        .iter()
        .zip(&s.victims)
        .map(|(l, v)| (&l[..], v.kills))
        .collect();
    let times: Vec<(Labels<'_>, f64)> = labels
        .iter()
        .zip(&s.victims)
        .map(|(l, v)| (&l[..], v.last_kill))
        .collect();
    out.family::<Counter, _>(
        "victim_kills",
        "OOM kills since start by victim (comm, memory cgroup, constraint, pod, container, systemd unit; namespace, pod and container names when the kubelet's log directories give them); capped and aged out, see --collector.kmsg.max-victims",
        None,
        &counts, IfEmpty::Declare,
    )?;
    out.family::<Gauge, _>(
        "victim_last_kill_timestamp",
        "Wall-clock time of the victim series' last OOM kill",
        metrics::seconds(),
        &times,
        IfEmpty::Declare,
    )?;
    out.counter(
        "victim_series_evicted",
        "Victim series dropped because the cap was reached or they aged out",
        None,
        s.evicted,
    )?;
    if let Some(last) = s.last_kill {
        out.gauge(
            "last_kill_timestamp",
            "Wall-clock time of the most recent OOM kill in the kernel log, including kills from before start",
            metrics::seconds(),
            last,
        )?;
    }
    // One series at most, replaced at each kill: bounded whatever the comms.
    let label = s.last_top_task.as_deref().map(|comm| [("comm", comm)]);
    let top: Vec<(Labels<'_>, i64)> = label.iter().map(|l| (&l[..], 1)).collect();
    out.family::<Gauge, _>(
        "last_kill_top_task_info",
        "1, labelled with the comm of the process that held the most memory (largest RSS in the task dump) in the most recent OOM kill; absent when that kill's report has no task dump",
        None,
        &top,
        IfEmpty::Skip,
    )?;
    Ok(())
}

/// The health of the kmsg reader.
fn write_reader(out: &mut MetricWriter<'_, '_>, s: &Snapshot) -> Result<(), CollectError> {
    out.gauge(
        "kmsg_up",
        "1 if the exporter is reading /dev/kmsg, 0 if not (see the log for why)",
        None,
        i64::from(s.up),
    )?;
    out.counter("kmsg_records", "Kernel log records read", None, s.records)?;
    out.counter(
        "kmsg_records_lost",
        "Kernel log records lost before the exporter read them (sequence gaps, e.g. ring buffer overruns)",
        None,
        s.lost,
    )?;
    out.counter(
        "kmsg_overruns",
        "Times the ring buffer overran the reader",
        None,
        s.overruns,
    )?;
    out.counter(
        "kmsg_parse_errors",
        "OOM kill records that could not be parsed",
        None,
        s.malformed,
    )?;
    out.counter(
        "kmsg_ambiguous_attributions",
        "OOM kills since start booked to no cgroup because their report fits several readings of its cgroup paths (a cgroup named like report fields) or none; still counted in oom_kills_total",
        None,
        s.ambiguous,
    )?;
    Ok(())
}
