//! `sysctl`: the `vm.*` settings that decide how the kernel overcommits and
//! what it does when memory runs out, from `/proc/sys/vm`.

use crate::metrics::{self, MetricWriter, Unit};
use crate::parse::sysctl;
use crate::proc::fs::ProcFs;

use super::{CollectError, Source};

/// How a raw sysctl integer becomes the exported value.
#[derive(Clone, Copy)]
enum Scale {
    /// Exported as is.
    Raw,
    /// A percentage, exported as a ratio in 0..1.
    Percent,
    /// Kibibytes, exported as bytes.
    Kib,
}

/// (file under sys/vm, bare metric name, scale, help).
const SETTINGS: &[(&str, &str, Scale, &str)] = &[
    (
        "overcommit_memory",
        "vm_overcommit_memory",
        Scale::Raw,
        "vm.overcommit_memory: 0 heuristic, 1 always overcommit, 2 strict (CommitLimit enforced)",
    ),
    (
        "overcommit_ratio",
        "vm_overcommit",
        Scale::Percent,
        "vm.overcommit_ratio as a ratio: share of RAM counted in CommitLimit in mode 2 (unused when overcommit_kbytes is set)",
    ),
    (
        "overcommit_kbytes",
        "vm_overcommit",
        Scale::Kib,
        "vm.overcommit_kbytes in bytes: RAM counted in CommitLimit in mode 2; 0 means overcommit_ratio applies",
    ),
    (
        "panic_on_oom",
        "vm_panic_on_oom",
        Scale::Raw,
        "vm.panic_on_oom: 0 kill a process, 1 or 2 panic the kernel on OOM",
    ),
    (
        "oom_kill_allocating_task",
        "vm_oom_kill_allocating_task",
        Scale::Raw,
        "vm.oom_kill_allocating_task: 1 kills the task that triggered the OOM instead of the highest oom_score",
    ),
    (
        "swappiness",
        "vm_swappiness",
        Scale::Raw,
        "vm.swappiness: preference for swapping anonymous memory over dropping page cache (0-200)",
    ),
    (
        "min_free_kbytes",
        "vm_min_free",
        Scale::Kib,
        "vm.min_free_kbytes in bytes: memory the kernel keeps free for atomic allocations",
    ),
];

/// Reads `/proc/sys/vm/*`.
pub struct Sysctl {
    procfs: ProcFs,
}

impl Sysctl {
    /// Name in `--collector.<name>`.
    pub const NAME: &'static str = "sysctl";

    /// A collector reading `<procfs>/sys/vm/*`.
    pub fn new(procfs: ProcFs) -> Self {
        Self { procfs }
    }
}

impl Source for Sysctl {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn collect(&self, out: &mut MetricWriter<'_, '_>) -> Result<(), CollectError> {
        let mut errors = Vec::new();
        for (file, name, scale, help) in SETTINGS {
            let path = self.procfs.sysctl_vm(file);
            let text = match self.procfs.read(&path) {
                Ok(text) => text,
                // overcommit_kbytes appeared in 3.14; absent settings are skipped.
                Err(e) if e.is_absent() => continue,
                Err(e) => {
                    errors.push(e.into());
                    continue;
                }
            };
            let raw = match sysctl::parse_int(&text) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(CollectError::Malformed {
                        path: path.display().to_string(),
                        problems: vec![e.to_string()],
                    });
                    continue;
                }
            };
            match scale {
                Scale::Raw => out.gauge(name, help, None, raw)?,
                Scale::Percent => out.gauge(name, help, metrics::ratio(), raw as f64 / 100.0)?,
                Scale::Kib => out.gauge(name, help, Some(Unit::Bytes), raw.saturating_mul(1024))?,
            }
        }
        CollectError::all(errors)
    }
}
