//! `pressure`: pressure stall information from `/proc/pressure/*`.
//!
//! A kernel without PSI (before 4.20, `CONFIG_PSI=n`, or booted with
//! `psi=0`), or without one resource (`irq` needs 6.1 and
//! `CONFIG_IRQ_TIME_ACCOUNTING`), is not a failure: those series are absent,
//! `oom_pressure_supported{resource}` is 0, and the log says so once.

use crate::logonce::LogOnce;
use crate::metrics::{self, Counter, Gauge, IfEmpty, Labels, MetricWriter};
use crate::parse::pressure::{self, Record};
use crate::proc::fs::ProcFs;

use super::{CollectError, Source};

/// The PSI resources, in the order they are exported.
pub const RESOURCES: [&str; 4] = ["cpu", "memory", "io", "irq"];

/// Reads `/proc/pressure/{cpu,memory,io,irq}`.
pub struct Pressure {
    procfs: ProcFs,
    /// Resources whose absence has been logged already.
    said_absent: LogOnce<&'static str>,
}

impl Pressure {
    /// Name in `--collector.<name>`.
    pub const NAME: &'static str = "pressure";

    /// A collector reading `<procfs>/pressure/*`.
    pub fn new(procfs: ProcFs) -> Self {
        Self {
            procfs,
            said_absent: LogOnce::new(),
        }
    }

    fn note_absent(&self, resource: &'static str, reason: &dyn std::fmt::Display) {
        if self.said_absent.first(resource) {
            tracing::info!(resource, reason = %reason, "PSI not available for this resource; its series are absent");
        }
    }
}

impl Source for Pressure {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn collect(&self, out: &mut MetricWriter<'_, '_>) -> Result<(), CollectError> {
        let mut errors = Vec::new();
        let mut supported = Vec::with_capacity(RESOURCES.len());
        let mut records: Vec<(&'static str, &'static str, Record)> = Vec::with_capacity(8);
        for resource in RESOURCES {
            let path = self.procfs.pressure(resource);
            match self.procfs.read(&path) {
                Ok(text) => {
                    let (p, line_errors) = pressure::parse(&text);
                    supported.push((resource, 1));
                    records.extend(p.some.map(|r| (resource, "some", r)));
                    records.extend(p.full.map(|r| (resource, "full", r)));
                    errors.extend(CollectError::from_lines(&path, line_errors));
                }
                Err(e) if e.is_absent() => {
                    self.note_absent(resource, &e);
                    supported.push((resource, 0));
                }
                Err(e) => errors.push(e.into()),
            }
        }

        let kind_labels: Vec<[(&str, &str); 2]> = records
            .iter()
            .map(|(resource, kind, _)| [("resource", *resource), ("kind", *kind)])
            .collect();
        let totals: Vec<(Labels<'_>, f64)> = kind_labels
            .iter()
            .zip(&records)
            .map(|(l, (_, _, r))| (&l[..], r.total_us as f64 / 1e6))
            .collect();
        out.family::<Counter, _>(
            "pressure_stalled",
            "Time tasks were stalled on the resource since boot: some = at least one task, full = all non-idle tasks at once",
            metrics::seconds(),
            &totals, IfEmpty::Skip,
        )?;

        let window_labels: Vec<[(&str, &str); 3]> = records
            .iter()
            .flat_map(|(resource, kind, _)| {
                ["10s", "60s", "300s"]
                    .map(|w| [("resource", *resource), ("kind", *kind), ("window", w)])
            })
            .collect();
        let averages: Vec<(Labels<'_>, f64)> = window_labels
            .iter()
            .zip(
                records
                    .iter()
                    .flat_map(|(_, _, r)| [r.avg10, r.avg60, r.avg300]),
            )
            .map(|(l, avg)| (&l[..], percent_to_ratio(avg)))
            .collect();
        out.family::<Gauge, _>(
            "pressure_stalled",
            "Share of wall time stalled, as the kernel's running average over the window (avg10, avg60, avg300 / 100)",
            metrics::ratio(),
            &averages, IfEmpty::Skip,
        )?;

        let supported_labels: Vec<[(&str, &str); 1]> =
            supported.iter().map(|(r, _)| [("resource", *r)]).collect();
        let supported: Vec<(Labels<'_>, i64)> = supported_labels
            .iter()
            .zip(&supported)
            .map(|(l, (_, v))| (&l[..], *v))
            .collect();
        out.family::<Gauge, _>(
            "pressure_supported",
            "1 if the kernel provides PSI for the resource, 0 if not (series for it are absent)",
            None,
            &supported,
            IfEmpty::Skip,
        )?;
        CollectError::all(errors)
    }
}

/// The kernel prints averages with two decimals; rounding to hundredths of a
/// percent before dividing keeps `0.14` from becoming `0.0014000000000000003`.
fn percent_to_ratio(percent: f64) -> f64 {
    (percent * 100.0).round() / 10_000.0
}
