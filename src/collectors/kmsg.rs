//! `kmsg`: OOM kills read from /dev/kmsg by the reader thread, reconciled at
//! scrape time with the kernel's own counter so none is missed.

use std::sync::Arc;
use std::time::Instant;

use crate::kmsg::tracker::Tracker;
use crate::metrics::{self, Labels, MetricWriter};
use crate::procfs::ProcFs;

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
        self.tracker.reconcile(
            self.procfs.kernel_oom_kills(),
            self.procfs.uptime_usec(),
            Instant::now(),
        );
        let s = self.tracker.snapshot();
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
        let labels: Vec<[(&str, &str); 6]> = s
            .victims
            .iter()
            .map(|(k, _, _)| {
                [
                    ("comm", k.comm.as_str()),
                    ("cgroup", k.cgroup.as_str()),
                    ("constraint", k.constraint),
                    ("pod_uid", k.pod_uid.as_str()),
                    ("container_id", k.container_id.as_str()),
                    ("unit", k.unit.as_str()),
                ]
            })
            .collect();
        let counts: Vec<(Labels<'_>, u64)> = labels
            .iter()
            .zip(&s.victims)
            .map(|(l, (_, n, _))| (&l[..], *n))
            .collect();
        let times: Vec<(Labels<'_>, f64)> = labels
            .iter()
            .zip(&s.victims)
            .map(|(l, (_, _, t))| (&l[..], *t))
            .collect();
        out.counters_declared(
            "victim_kills",
            "OOM kills since start by victim (comm, memory cgroup, constraint, pod, container, systemd unit); capped and aged out, see --collector.kmsg.max-victims",
            None,
            &counts,
        )?;
        out.gauges_declared(
            "victim_last_kill_timestamp",
            "Wall-clock time of the victim series' last OOM kill",
            metrics::seconds(),
            &times,
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
        if s.up {
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
