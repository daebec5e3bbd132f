//! The rest of an OOM report, each line recognised on its own: what
//! triggered the OOM, the memory cgroup's counters, the machine's swap, and
//! the task dump. [`super::parser`] joins them to the event's kill.
//!
//! - `<comm> invoked oom-killer: gfp_mask=0x...(...), order=N, [oom_adj=N, ]oom_score_adj=N`
//! - `CPU: N PID: N Comm: ...` (`Pid: N, comm: ...` on 2.6.32): the trigger's pid
//! - `memory: usage NkB, limit NkB, failcnt N` and `memory+swap:`, `kmem:`
//!   (cgroup v1), `swap:` (cgroup v2)
//! - `Free swap  = NkB`, `Total swap = NkB` (global OOMs' Mem-Info)
//! - the task dump: a `[ pid ] uid tgid total_vm rss ... name` header in any
//!   of its forms (2.6.32 to 6.x), then one row per process
//!
//! Only the largest rows by RSS are kept ([`Dump`]), so a dump of thousands
//! of rows costs a fixed amount of memory.

use serde::Serialize;

use crate::kmsg::record::unescape;

/// Rows of a task dump kept by default, largest RSS first.
pub const DEFAULT_TOP_TASKS: usize = 10;

/// Rows whose pid and RSS are remembered to find the victim's row (for the
/// page size) when it is not among the top rows: 16 bytes each, 256 KiB at
/// most, for the event in progress only.
pub const MAX_INDEXED_ROWS: usize = 16_384;

/// The page size taken when the report does not tell it.
pub const ASSUMED_PAGE_SIZE: u64 = 4096;

/// A memory cgroup limit printed at or above this many kB is "no limit":
/// the kernel prints an unlimited counter as its largest value, about 8 EiB
/// (`PAGE_COUNTER_MAX` pages: 9007199254740988 kB with 4 KiB pages,
/// 9007199254740928 kB with 64 KiB; the older `res_counter`'s `LLONG_MAX >>
/// 10`: 9007199254740991 kB), never a real limit.
pub const NO_LIMIT_KB: u64 = 1 << 52;

/// A cgroup limit in kB, or `None` for "no limit".
pub fn set_limit(kb: u64) -> Option<u64> {
    (kb < NO_LIMIT_KB).then_some(kb)
}

/// Page sizes Linux runs with.
const PAGE_SIZES: [u64; 4] = [4096, 8192, 16_384, 65_536];

/// What the report says besides the victim's own line; every field null
/// where the log does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Pid of the task whose allocation invoked the OOM killer.
    pub trigger_pid: Option<u32>,
    /// The allocation's GFP mask as printed (`0xcc0(GFP_KERNEL)`).
    pub gfp_mask: Option<String>,
    /// The allocation's order (`-1`: forced by SysRq-f).
    pub order: Option<i32>,
    /// The OOM was forced from SysRq-f (`order=-1`), not by a failed
    /// allocation.
    pub sysrq: Option<bool>,
    /// The triggering task's oom_score_adj.
    pub trigger_oom_score_adj: Option<i32>,
    pub memcg_usage_kb: Option<u64>,
    pub memcg_limit_kb: Option<u64>,
    pub memcg_failcnt: Option<u64>,
    pub memsw_usage_kb: Option<u64>,
    pub memsw_limit_kb: Option<u64>,
    pub memsw_failcnt: Option<u64>,
    pub kmem_usage_kb: Option<u64>,
    pub kmem_limit_kb: Option<u64>,
    pub kmem_failcnt: Option<u64>,
    pub swap_usage_kb: Option<u64>,
    pub swap_limit_kb: Option<u64>,
    pub swap_failcnt: Option<u64>,
    pub swap_free_kb: Option<u64>,
    pub swap_total_kb: Option<u64>,
    /// Rows in the event's task dump; null without a dump.
    pub tasks_in_dump: Option<u64>,
    /// Rows of the dump that could not be read (cut short or garbled in
    /// the log): counted in `tasks_in_dump`, missing from `top_tasks`.
    pub tasks_unreadable: Option<u64>,
    /// The dump's largest rows by RSS, ties to the lower pid.
    pub top_tasks: Option<Vec<Task>>,
    /// Bytes per page, for the dump's page columns.
    pub page_size_bytes: Option<u64>,
    /// True when the page size could not be told from the victim's row and
    /// its `Killed process` line, and 4 KiB was taken.
    pub page_size_assumed: Option<bool>,
    /// A few keys of the `Memory cgroup stats for` block, in bytes.
    pub memcg_stats: Option<MemcgStats>,
    /// The machine's memory from the `Mem-Info:` summary, in pages
    /// (global OOMs).
    pub meminfo_pages: Option<MemInfo>,
    /// `N pages RAM`: the machine's memory, in pages.
    pub ram_pages: Option<u64>,
    /// The kernel release the report's `CPU:`/`Pid:` line names.
    pub kernel: Option<String>,
}

impl Report {
    /// Bytes the triggering allocation asked for: 2^order pages of the
    /// report's page size (4 KiB when it does not tell); `None` without an
    /// order, or for SysRq-f's -1.
    pub fn allocation_bytes(&self) -> Option<u64> {
        let order = u32::try_from(self.order?).ok()?;
        self.page_size_bytes
            .unwrap_or(ASSUMED_PAGE_SIZE)
            .checked_shl(order)
    }
}

mod dump;
mod stats;

pub use dump::*;
pub use stats::*;

/// One row of the task dump. Memory columns are in pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub pid: u32,
    pub uid: Option<u32>,
    pub comm: String,
    pub rss_pages: u64,
    pub rss_bytes: Option<u64>,
    pub swap_pages: Option<u64>,
    pub oom_score_adj: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_anon_pages: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_file_pages: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_shmem_pages: Option<u64>,
}

/// The trigger, from the header after `invoked oom-killer: `.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Trigger {
    pub gfp_mask: Option<String>,
    pub order: Option<i32>,
    pub oom_score_adj: Option<i32>,
}

/// Reads `gfp_mask=0x...(...), [nodemask=..., ]order=N, [oom_adj=N,
/// ]oom_score_adj=N` (4.10 to 4.18 print the nodemask); a part cut off or
/// unreadable is left out. The flag names are joined by `|` and a nodemask
/// list by `,` without a space, so `, ` separates the fields.
pub fn trigger(rest: &str) -> Trigger {
    let Some(rest) = rest.strip_prefix("gfp_mask=") else {
        return Trigger::default();
    };
    let mut fields = rest.split(", ");
    let mask = fields.next().unwrap_or_default();
    let gfp_mask = whole_mask(mask).then(|| mask.to_owned());
    let mut order = None;
    let mut oom_score_adj = None;
    for field in fields {
        match field.split_once('=') {
            Some(("order", value)) => order = value.parse().ok(),
            Some(("oom_score_adj", value)) => oom_score_adj = value.parse().ok(),
            _ => {}
        }
    }
    Trigger {
        gfp_mask,
        order,
        oom_score_adj,
    }
}

/// Whether `mask` is a whole GFP mask: `0x` and hex digits, then nothing
/// or flag names in parentheses.
fn whole_mask(mask: &str) -> bool {
    let Some(hex) = mask.strip_prefix("0x") else {
        return false;
    };
    let digits = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
    let flags = &hex[digits..];
    digits > 0 && (flags.is_empty() || (flags.starts_with('(') && flags.ends_with(')')))
}

/// Which memory cgroup counter a `<name>: usage ...` line gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Memory,
    MemorySwap,
    Kmem,
    Swap,
}

/// A memory cgroup counter line's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub usage_kb: Option<u64>,
    pub limit_kb: Option<u64>,
    pub failcnt: Option<u64>,
}

/// A line of the report that [`super::lines`] does not read.
#[derive(Debug, PartialEq, Eq)]
pub enum Part<'a> {
    /// `CPU: N PID: N Comm:` or `Pid: N, comm:`: the trigger's pid and
    /// the kernel release the line names.
    TriggerPid(u32, Option<&'a str>),
    Counter(Counter, Usage),
    FreeSwap(u64),
    TotalSwap(u64),
    /// `Tasks state (memory values in pages):` (4.19+), before the header.
    TasksState,
    /// `N pages RAM`.
    RamPages(u64),
    DumpHeader(Columns),
    /// A line that may be a dump row (read against the dump's columns).
    MaybeRow(&'a str),
}

/// The part `text` is, if any. Cheap on other lines: a look at the first
/// byte and a prefix.
pub fn classify(text: &str) -> Option<Part<'_>> {
    let trimmed = text.trim_start();
    match trimmed.as_bytes().first()? {
        b'[' => Some(match dump_header(trimmed) {
            Some(columns) => Part::DumpHeader(columns),
            None => Part::MaybeRow(trimmed),
        }),
        b'C' => trimmed
            .strip_prefix("CPU: ")
            .and_then(|r| r.split_once(" PID: "))
            .and_then(|(_, r)| r.split_once(" Comm: "))
            .and_then(|(pid, _)| pid.parse().ok())
            .map(|pid| Part::TriggerPid(pid, kernel_release(trimmed))),
        b'P' => trimmed
            .strip_prefix("Pid: ")
            .and_then(|r| r.split_once(", comm: "))
            .and_then(|(pid, _)| pid.parse().ok())
            .map(|pid| Part::TriggerPid(pid, kernel_release(trimmed))),
        b'F' => kb_after(trimmed, "Free swap  = ").map(Part::FreeSwap),
        b'0'..=b'9' => trimmed
            .strip_suffix(" pages RAM")
            .and_then(|n| n.parse().ok())
            .map(Part::RamPages),
        b'T' if trimmed.starts_with("Tasks state (memory values in pages)") => {
            Some(Part::TasksState)
        }
        b'T' => kb_after(trimmed, "Total swap = ").map(Part::TotalSwap),
        b'm' | b'k' | b's' => counter(trimmed),
        _ => None,
    }
}

/// The kernel release a `CPU:`/`Pid:` line names: the word before its
/// build number (`Not tainted 5.15.0-91-generic #101-Ubuntu`,
/// `Tainted: G  OE  4.15.0-1037 #39-Ubuntu`).
fn kernel_release(line: &str) -> Option<&str> {
    let (before, _) = line.rsplit_once(" #")?;
    let release = before.rsplit(' ').next()?;
    let ok = release.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && release.contains('.')
        && release.len() <= 64
        && release.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(release)
}

/// `NkB` after `prefix`.
fn kb_after(text: &str, prefix: &str) -> Option<u64> {
    text.strip_prefix(prefix)?
        .trim_end()
        .strip_suffix("kB")?
        .parse()
        .ok()
}

/// `<name>: usage NkB, limit NkB, failcnt N`; a value cut off is null.
fn counter(text: &str) -> Option<Part<'_>> {
    let (name, rest) = text.split_once(": usage ")?;
    let which = match name {
        "memory" => Counter::Memory,
        "memory+swap" => Counter::MemorySwap,
        "kmem" => Counter::Kmem,
        "swap" => Counter::Swap,
        _ => return None,
    };
    let mut fields = rest.split(", ");
    let usage_kb = fields.next().and_then(kb);
    let limit_kb = fields
        .next()
        .and_then(|f| f.strip_prefix("limit "))
        .and_then(kb);
    let failcnt = fields
        .next()
        .and_then(|f| f.strip_prefix("failcnt "))
        .and_then(|n| n.trim_end().parse().ok());
    Some(Part::Counter(
        which,
        Usage {
            usage_kb,
            limit_kb,
            failcnt,
        },
    ))
}

fn kb(value: &str) -> Option<u64> {
    value.trim_end().strip_suffix("kB")?.parse().ok()
}

#[cfg(test)]
mod tests;
