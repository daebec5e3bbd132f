//! `vmstat`: swap traffic, major faults, direct reclaim and the kernel's own
//! OOM-kill count from `/proc/vmstat`.

use crate::metrics::{self, MetricWriter};
use crate::parse::vmstat;
use crate::proc::fs::ProcFs;

use super::{CollectError, Source};

/// Reads `/proc/vmstat`.
pub struct Vmstat {
    procfs: ProcFs,
}

impl Vmstat {
    /// Name in `--collector.<name>`.
    pub const NAME: &'static str = "vmstat";

    /// A collector reading `<procfs>/vmstat`.
    pub fn new(procfs: ProcFs) -> Self {
        Self { procfs }
    }
}

/// Counters taken as they are: (vmstat key, bare name, unit is pages, help).
const COUNTERS: &[(&str, &str, bool, &str)] = &[
    (
        "oom_kill",
        "kernel_kills",
        false,
        "OOM kills the kernel counted since boot (oom_kill in /proc/vmstat, 4.13+); victims are not named here",
    ),
    (
        "pswpin",
        "swap_in",
        true,
        "Pages swapped in since boot (pswpin)",
    ),
    (
        "pswpout",
        "swap_out",
        true,
        "Pages swapped out since boot (pswpout)",
    ),
    (
        "pgmajfault",
        "memory_major_page_faults",
        false,
        "Major page faults since boot, each needing disk I/O; a fast rise means thrashing (pgmajfault)",
    ),
    (
        "pgscan_kswapd",
        "memory_reclaim_scanned_kswapd",
        true,
        "Pages scanned by background reclaim (kswapd) since boot (pgscan_kswapd, 4.8+)",
    ),
    (
        "pgscan_direct",
        "memory_reclaim_scanned_direct",
        true,
        "Pages scanned by direct reclaim, which stalls the allocating task, since boot (pgscan_direct, 4.8+)",
    ),
];

impl Source for Vmstat {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn collect(&self, out: &mut MetricWriter<'_, '_>) -> Result<(), CollectError> {
        let path = self.procfs.vmstat();
        let text = self.procfs.read(&path)?;
        let (stat, errors) = vmstat::parse(&text);
        for (key, name, is_pages, help) in COUNTERS {
            if let Some(value) = stat.get(key) {
                let unit = if *is_pages { metrics::pages() } else { None };
                out.counter(name, help, unit, counter_value(value))?;
            }
        }
        // One `allocstall` before 4.8, `allocstall_<zone>` since: sum them.
        if let Some(stalls) = stat.sum_prefixed("allocstall") {
            out.counter(
                "memory_direct_reclaim_stalls",
                "Times an allocating task had to reclaim memory itself since boot (sum of allocstall*)",
                None,
                counter_value(stalls),
            )?;
        }
        CollectError::from_lines(&path, errors).map_or(Ok(()), Err)
    }
}

/// Event counters never go below zero; clamp a kernel glitch instead of
/// emitting a negative counter.
fn counter_value(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
