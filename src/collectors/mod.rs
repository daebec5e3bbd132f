//! Collectors: one file each, every one reading its source at scrape time.
//!
//! [`Exporter`] (in `runner.rs`) runs the enabled collectors at each
//! scrape, each on its own thread under the scrape's deadline, times them,
//! and reports `oom_scrape_collector_success` and
//! `oom_scrape_collector_duration_seconds` per collector. A collector that
//! fails, or does not finish in time, drops only its own families, logs the
//! failure once per distinct error, and never turns the scrape into an HTTP
//! error.

mod cgroup;
mod kmsg;
mod meminfo;
mod pressure;
mod process;
mod runner;
mod sysctl;
mod vmstat;

use std::fmt;
use std::sync::Arc;

use crate::cgroup::CgroupSource;
use crate::cgroup::ns::Resolver;
use crate::kmsg::tracker::Tracker;
use crate::metrics::MetricWriter;
use crate::parse::LineError;
use crate::proc::fs::{ProcFs, ReadError};
use crate::proc::scan::{Scanner, Selection};

pub use cgroup::Cgroup;
pub use kmsg::Kmsg;
pub use meminfo::Meminfo;
pub use pressure::Pressure;
pub use process::Process;
pub use runner::{Exporter, LateError};
pub use sysctl::Sysctl;
pub use vmstat::Vmstat;

/// A collector this build knows: its name, whether it is on by default and
/// what it reads. The command line offers `--[no-]collector.<name>` for each.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    pub name: &'static str,
    pub default: bool,
    pub what: &'static str,
}

/// Every collector this build knows, in the order they run.
pub const ALL: &[Known] = &[
    Known {
        name: Meminfo::NAME,
        default: true,
        what: "memory, swap and commit from /proc/meminfo",
    },
    Known {
        name: Vmstat::NAME,
        default: true,
        what: "swap in/out, major faults, reclaim stalls and the kernel's OOM-kill count from /proc/vmstat",
    },
    Known {
        name: Pressure::NAME,
        default: true,
        what: "pressure stall information (PSI) from /proc/pressure/{cpu,memory,io,irq}",
    },
    Known {
        name: Sysctl::NAME,
        default: true,
        what: "vm.overcommit_* and other OOM-related settings from /proc/sys/vm",
    },
    Known {
        name: Process::NAME,
        default: true,
        what: "RSS, oom_score and oom_score_adj of the top processes by oom_score (see --collector.process.*)",
    },
    Known {
        name: Cgroup::NAME,
        default: true,
        what: "usage, limits, pressure, OOM events and systemd-oomd/oomd kills of limited, Kubernetes and systemd memory cgroups (see --collector.cgroup.*)",
    },
    Known {
        name: Kmsg::NAME,
        default: true,
        what: "OOM kills and their victims from /dev/kmsg (see --path.kmsg)",
    },
];

/// What went wrong in one collector during one scrape.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A file could not be read at all.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Some lines or values were malformed; the rest was served.
    #[error("{path}: {}", join(.problems))]
    Malformed {
        /// The file with the problems.
        path: String,
        /// Each problem, in file order.
        problems: Vec<String>,
    },
    /// Several files of one collector failed.
    #[error("{}", join(.0))]
    Several(Vec<CollectError>),
    /// The collector did not finish in time, or could not be started.
    #[error(transparent)]
    Late(#[from] LateError),
    /// The encoder failed: the whole scrape is lost, not just this collector.
    #[error("encoding failed")]
    Encode(#[from] fmt::Error),
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl CollectError {
    /// A malformed-lines error for `path`, or `None` when there were none.
    pub fn from_lines(path: &std::path::Path, errors: Vec<LineError>) -> Option<Self> {
        (!errors.is_empty()).then(|| Self::Malformed {
            path: path.display().to_string(),
            problems: errors.iter().map(ToString::to_string).collect(),
        })
    }

    /// Folds a list of errors into one, or `Ok` when the list is empty.
    pub fn all(mut errors: Vec<CollectError>) -> Result<(), CollectError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Self::Several(errors)),
        }
    }
}

/// One source of metrics, read at scrape time: what each collector
/// implements. Named apart from prometheus-client's `Collector`, which the
/// [`Exporter`] wraps each source in for one scrape.
pub trait Source: Send + Sync {
    /// The name used in `--collector.<name>` and in the `collector` label.
    fn name(&self) -> &'static str;

    /// Reads the source and writes its families. Returns an error when
    /// anything was wrong, after writing whatever could still be read.
    fn collect(&self, out: &mut MetricWriter<'_, '_>) -> Result<(), CollectError>;
}

/// Builds the enabled collectors, in the order of [`ALL`]. `tracker` is the
/// kmsg reader's state, present when the kmsg collector is enabled.
pub fn build(
    enabled: &[String],
    procfs: &ProcFs,
    selection: &Selection,
    cgroups: &CgroupSource,
    tracker: Option<Arc<Tracker>>,
    names: Arc<crate::k8s::Resolver>,
) -> Vec<Box<dyn Source>> {
    let is_on = |name: &str| enabled.iter().any(|e| e == name);
    let mut out: Vec<Box<dyn Source>> = Vec::new();
    if is_on(Meminfo::NAME) {
        out.push(Box::new(Meminfo::new(procfs.clone())));
    }
    if is_on(Vmstat::NAME) {
        out.push(Box::new(Vmstat::new(procfs.clone())));
    }
    if is_on(Pressure::NAME) {
        out.push(Box::new(Pressure::new(procfs.clone())));
    }
    if is_on(Sysctl::NAME) {
        out.push(Box::new(Sysctl::new(procfs.clone())));
    }
    if is_on(Process::NAME) {
        out.push(Box::new(
            Process::new(Scanner::new(
                procfs.clone(),
                selection.clone(),
                Resolver::on_host(cgroups.sysfs.clone()),
            ))
            .with_names(Arc::clone(&names)),
        ));
    }
    if is_on(Cgroup::NAME) {
        out.push(Box::new(Cgroup::new(cgroups.clone()).with_names(names)));
    }
    if let (true, Some(tracker)) = (is_on(Kmsg::NAME), tracker) {
        out.push(Box::new(Kmsg::new(procfs.clone(), tracker)));
    }
    out
}
