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
}

/// The `Mem-Info:` summary's counters an SRE reads (`active_anon:N
/// inactive_anon:N ... free:N ...`), in pages, null where not printed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemInfo {
    pub free: Option<u64>,
    /// `active_anon` + `inactive_anon`.
    pub anon: Option<u64>,
    /// The page cache: `active_file` + `inactive_file`.
    pub page_cache: Option<u64>,
    pub shmem: Option<u64>,
    pub slab_reclaimable: Option<u64>,
    pub slab_unreclaimable: Option<u64>,
    pub mapped: Option<u64>,
    pub pagetables: Option<u64>,
    pub unevictable: Option<u64>,
    pub dirty: Option<u64>,
    pub writeback: Option<u64>,
    /// `active_anon`, `inactive_anon`, `active_file`, `inactive_file`,
    /// until both halves of a sum are read.
    #[serde(skip)]
    halves: [Option<u64>; 4],
}

impl MemInfo {
    /// Notes one `key:N` of the summary; other keys are not kept.
    pub fn note(&mut self, key: &str, pages: u64) {
        let slot = match key {
            "free" => &mut self.free,
            "shmem" => &mut self.shmem,
            "slab_reclaimable" => &mut self.slab_reclaimable,
            "slab_unreclaimable" => &mut self.slab_unreclaimable,
            "mapped" => &mut self.mapped,
            "pagetables" => &mut self.pagetables,
            "unevictable" => &mut self.unevictable,
            "dirty" => &mut self.dirty,
            "writeback" => &mut self.writeback,
            "active_anon" => &mut self.halves[0],
            "inactive_anon" => &mut self.halves[1],
            "active_file" => &mut self.halves[2],
            "inactive_file" => &mut self.halves[3],
            _ => return,
        };
        *slot = Some(pages);
        let sum = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| a.saturating_add(b));
        self.anon = sum(self.halves[0], self.halves[1]);
        self.page_cache = sum(self.halves[2], self.halves[3]);
    }
}

/// The `key:N` pairs of a `Mem-Info:` summary line (its first line starts
/// with `active_anon:`), or `None` when the line is not one: every word
/// `key:N`, a number of pages without a unit. Syslog's `#012` (a newline
/// it escaped) separates words too.
pub fn meminfo_pairs(text: &str) -> Option<Vec<(&str, u64)>> {
    let mut pairs = Vec::new();
    for word in text.split("#012").flat_map(str::split_whitespace) {
        let (key, value) = word.split_once(':')?;
        let key_ok = !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !key_ok {
            return None;
        }
        pairs.push((key, value.parse().ok()?));
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// The keys of a `Memory cgroup stats for <path>:` block an SRE reads, in
/// bytes, under their cgroup v2 names; null where the block does not print
/// them. A fixed set, so the block costs the same whatever it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemcgStats {
    /// `anon` (v2); `total_rss`, else `rss` (v1).
    pub anon: Option<u64>,
    /// `file` (v2); `total_cache`, else `cache` (v1).
    pub file: Option<u64>,
    /// `shmem`; `total_shmem` (v1).
    pub shmem: Option<u64>,
    /// `kernel` (v2, 5.18+).
    pub kernel: Option<u64>,
    /// `slab` (v2).
    pub slab: Option<u64>,
    /// `sock` (v2).
    pub sock: Option<u64>,
    /// `file_dirty` (v2); `total_dirty`, else `dirty` (v1).
    pub file_dirty: Option<u64>,
    /// `file_writeback` (v2); `total_writeback`, else `writeback` (v1).
    pub file_writeback: Option<u64>,
    /// `total_swap`, else `swap` (v1: swap the cgroup uses).
    pub swap: Option<u64>,
}

impl MemcgStats {
    /// Notes one `key value` of the block. A cgroup v1 `total_` key (the
    /// whole subtree) replaces what its local key gave; other keys add up,
    /// for kernels before 4.19 print one line per cgroup of the subtree.
    /// Returns false for a key not kept.
    pub fn note(&mut self, key: &str, bytes: u64) -> bool {
        let (local, total) = match key.strip_prefix("total_") {
            Some(k) => (k, true),
            None => (key, false),
        };
        let slot = match local {
            "anon" | "rss" => &mut self.anon,
            "file" | "cache" => &mut self.file,
            "shmem" => &mut self.shmem,
            "kernel" => &mut self.kernel,
            "slab" => &mut self.slab,
            "sock" => &mut self.sock,
            "file_dirty" | "dirty" => &mut self.file_dirty,
            "file_writeback" | "writeback" => &mut self.file_writeback,
            "swap" => &mut self.swap,
            _ => return false,
        };
        *slot = Some(if total {
            bytes
        } else {
            slot.unwrap_or(0).saturating_add(bytes)
        });
        true
    }
}

/// The `key value` pairs of a stats block line (newer kernels: one per
/// record, or several in one record joined by escaped newlines, `\x0a`),
/// or `None` when the line is not one: a key of lowercase letters, digits
/// and `_`, one space, a number.
pub fn stat_lines(text: &str) -> Option<Vec<(&str, u64)>> {
    let mut pairs = Vec::new();
    for piece in text.trim().split("\\x0a").filter(|p| !p.is_empty()) {
        let (key, value) = piece.trim().split_once(' ')?;
        let key_ok = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            return None;
        }
        pairs.push((key, value.trim().parse().ok()?));
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// The `key:NKB` pairs of a one-line stats block (before 4.19: `Memory
/// cgroup stats for /x: cache:0KB rss:520580KB ...`), in bytes; pairs that
/// are not `NKB` are skipped.
pub fn stat_line_kb(rest: &str) -> impl Iterator<Item = (&str, u64)> {
    rest.split_whitespace().filter_map(|token| {
        let (key, value) = token.split_once(':')?;
        let kb: u64 = value.strip_suffix("KB")?.parse().ok()?;
        Some((key, kb.saturating_mul(1024)))
    })
}

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

/// Reads `gfp_mask=0x...(...), order=N, [oom_adj=N, ]oom_score_adj=N`; a
/// part cut off or unreadable is left out.
pub fn trigger(rest: &str) -> Trigger {
    let Some(rest) = rest.strip_prefix("gfp_mask=") else {
        return Trigger::default();
    };
    let (mask, tail) = rest
        .split_once(", order=")
        .unwrap_or_else(|| (rest.split(", ").next().unwrap_or(rest), ""));
    let gfp_mask = whole_mask(mask).then(|| mask.to_owned());
    let mut order = None;
    let mut oom_score_adj = None;
    for (i, field) in tail.split(", ").enumerate() {
        let (name, value) = if i == 0 {
            ("order", field)
        } else {
            field.split_once('=').unwrap_or(("", ""))
        };
        match name {
            "order" => order = value.parse().ok(),
            "oom_score_adj" => oom_score_adj = value.parse().ok(),
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
    /// `CPU: N PID: N Comm:` or `Pid: N, comm:`.
    TriggerPid(u32),
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
            .map(Part::TriggerPid),
        b'P' => trimmed
            .strip_prefix("Pid: ")
            .and_then(|r| r.split_once(", comm: "))
            .and_then(|(pid, _)| pid.parse().ok())
            .map(Part::TriggerPid),
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

/// Where the columns a row is read for are, counted from the first column
/// after `[ pid ]` (`uid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// Number columns between `]` and the name.
    count: usize,
    uid: Option<usize>,
    rss: usize,
    swapents: Option<usize>,
    oom_score_adj: Option<usize>,
    rss_anon: Option<usize>,
    rss_file: Option<usize>,
    rss_shmem: Option<usize>,
}

/// The dump's header, whichever kernel printed it: `[ pid ]` then column
/// names ending with `name`.
fn dump_header(text: &str) -> Option<Columns> {
    let rest = text.strip_prefix('[')?.trim_start().strip_prefix("pid")?;
    let rest = rest.trim_start().strip_prefix(']')?;
    let names: Vec<&str> = rest.split_whitespace().collect();
    let (last, numbers) = names.split_last()?;
    if *last != "name" || numbers.len() > 16 {
        return None;
    }
    let at = |name: &str| numbers.iter().position(|n| *n == name);
    Some(Columns {
        count: numbers.len(),
        uid: at("uid"),
        rss: at("rss")?,
        swapents: at("swapents"),
        oom_score_adj: at("oom_score_adj"),
        rss_anon: at("rss_anon"),
        rss_file: at("rss_file"),
        rss_shmem: at("rss_shmem"),
    })
}

/// What a `[` line in a task dump is.
#[derive(Debug, PartialEq, Eq)]
pub enum Row {
    /// A whole row.
    Whole(Task),
    /// A row cut short or garbled (a syslog daemon dropped part of it):
    /// it counts as a row, but its numbers cannot be trusted.
    Cut,
    /// Not a row: no `[ pid ] uid`.
    Not,
}

/// One dump row read against `columns`: `[ pid ]`, the number columns,
/// then the comm (which may hold spaces), unescaped.
pub fn dump_row(text: &str, columns: &Columns) -> Row {
    let Some((pid, rest)) = text.strip_prefix('[').and_then(|t| t.split_once(']')) else {
        return Row::Not;
    };
    let Ok(pid) = pid.trim().parse::<u32>() else {
        return Row::Not;
    };
    let starts_like_a_row = rest.starts_with(' ')
        && rest
            .split_whitespace()
            .next()
            .is_some_and(|uid| uid.parse::<i64>().is_ok());
    if !starts_like_a_row {
        return Row::Not;
    }
    whole_row(pid, rest, columns).map_or(Row::Cut, Row::Whole)
}

/// The row after `[ pid ]`, if whole.
fn whole_row(pid: u32, mut rest: &str, columns: &Columns) -> Option<Task> {
    let mut numbers = [0i64; 16];
    for n in numbers.iter_mut().take(columns.count) {
        let r = rest.trim_start_matches(' ');
        let end = r.find(' ').unwrap_or(r.len());
        *n = r[..end].parse().ok()?;
        rest = &r[end..];
    }
    // The kernel prints one space before the name.
    let comm = rest.strip_prefix(' ')?.trim_start_matches(' ');
    if comm.is_empty() {
        return None;
    }
    let pages = |i: Option<usize>| i.and_then(|i| u64::try_from(numbers[i]).ok());
    Some(Task {
        pid,
        uid: columns.uid.and_then(|i| u32::try_from(numbers[i]).ok()),
        comm: unescape(comm),
        rss_pages: pages(Some(columns.rss))?,
        rss_bytes: None,
        swap_pages: pages(columns.swapents),
        oom_score_adj: columns
            .oom_score_adj
            .and_then(|i| i32::try_from(numbers[i]).ok()),
        rss_anon_pages: pages(columns.rss_anon),
        rss_file_pages: pages(columns.rss_file),
        rss_shmem_pages: pages(columns.rss_shmem),
    })
}

/// A task dump being read: its columns, how many rows, the largest rows by
/// RSS, and the pid and RSS of the first [`MAX_INDEXED_ROWS`] rows.
#[derive(Debug, Clone, Default)]
pub struct Dump {
    columns: Option<Columns>,
    rows: u64,
    top: Vec<Task>,
    index: Vec<(u32, u64)>,
}

impl Dump {
    /// A dump under `columns`, with no rows yet.
    pub fn new(columns: Columns) -> Self {
        Self {
            columns: Some(columns),
            ..Self::default()
        }
    }

    /// The columns rows are read against, once a header was seen.
    pub fn columns(&self) -> Option<&Columns> {
        self.columns.as_ref()
    }

    /// Counts a row that could not be read.
    pub fn push_cut(&mut self) {
        self.rows += 1;
    }

    /// Adds a row, keeping the `keep` largest by RSS (ties to the lower pid).
    pub fn push(&mut self, task: Task, keep: usize) {
        self.rows += 1;
        if self.index.len() < MAX_INDEXED_ROWS {
            self.index.push((task.pid, task.rss_pages));
        }
        let key = |t: &Task| (std::cmp::Reverse(t.rss_pages), t.pid);
        let at = self.top.partition_point(|t| key(t) <= key(&task));
        if at < keep {
            self.top.insert(at, task);
            self.top.truncate(keep);
        }
    }

    /// The RSS (pages) of `pid`'s row, if remembered.
    fn rss_of(&self, pid: u32) -> Option<u64> {
        self.top
            .iter()
            .find(|t| t.pid == pid)
            .map(|t| t.rss_pages)
            .or_else(|| self.index.iter().find(|(p, _)| *p == pid).map(|(_, r)| *r))
    }

    /// Fills `report`'s dump fields for a victim `pid` whose `Killed
    /// process` line gives `victim_kb` resident; nothing without a header.
    pub fn fill(&self, report: &mut Report, pid: u32, victim_kb: Option<u64>) {
        if self.columns.is_none() {
            return;
        }
        let told = self
            .rss_of(pid)
            .zip(victim_kb)
            .and_then(|(pages, kb)| page_size(pages, kb));
        let page = told.unwrap_or(ASSUMED_PAGE_SIZE);
        let mut top = self.top.clone();
        for t in &mut top {
            t.rss_bytes = t.rss_pages.checked_mul(page);
        }
        report.tasks_in_dump = Some(self.rows);
        report.top_tasks = Some(top);
        report.page_size_bytes = Some(page);
        report.page_size_assumed = Some(told.is_none());
    }
}

/// The page size that makes `pages` pages about `kb` kB (within 1/8: the
/// row and the kill line are read moments apart).
fn page_size(pages: u64, kb: u64) -> Option<u64> {
    if pages == 0 {
        return None;
    }
    let bytes = u128::from(kb) * 1024;
    PAGE_SIZES.into_iter().find(|&size| {
        let want = u128::from(pages) * u128::from(size);
        bytes.abs_diff(want) * 8 <= want
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_of_every_header_form() {
        let t = trigger("gfp_mask=0x280da, order=0, oom_adj=0, oom_score_adj=-17");
        assert_eq!(t.gfp_mask.as_deref(), Some("0x280da"));
        assert_eq!((t.order, t.oom_score_adj), (Some(0), Some(-17)));
        let t = trigger(
            "gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0",
        );
        assert_eq!(
            t.gfp_mask.as_deref(),
            Some("0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO)")
        );
        assert_eq!(
            trigger("gfp_mask=0xcc0(GFP_KERNEL), order=-1, oom_score_adj=0").order,
            Some(-1)
        );
        // Cut mid-way: what is whole is kept.
        let t = trigger("gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), ord");
        assert_eq!(
            t.gfp_mask.as_deref(),
            Some("0x6200ca(GFP_HIGHUSER_MOVABLE)")
        );
        assert_eq!(t.order, None);
        assert_eq!(trigger("gfp_mask="), Trigger::default());
    }

    #[test]
    fn parts_are_recognised_as_the_kernel_prints_them() {
        assert_eq!(
            classify("CPU: 4 PID: 29481 Comm: sed Not tainted 3.10.0 #1"),
            Some(Part::TriggerPid(29481))
        );
        assert_eq!(
            classify("Pid: 23212, comm: php-fpm Not tainted 2.6.32"),
            Some(Part::TriggerPid(23212))
        );
        assert_eq!(classify("Free swap  = 84kB"), Some(Part::FreeSwap(84)));
        assert_eq!(
            classify("Total swap = 25165820kB"),
            Some(Part::TotalSwap(25_165_820))
        );
        let usage = |u, l, f| Usage {
            usage_kb: u,
            limit_kb: l,
            failcnt: f,
        };
        assert_eq!(
            classify("memory: usage 31211520kB, limit 31211520kB, failcnt 83420"),
            Some(Part::Counter(
                Counter::Memory,
                usage(Some(31_211_520), Some(31_211_520), Some(83_420))
            ))
        );
        assert_eq!(
            classify("memory+swap: usage 2kB, limit 9007199254740988kB, failcnt 0"),
            Some(Part::Counter(
                Counter::MemorySwap,
                usage(Some(2), Some(9_007_199_254_740_988), Some(0))
            ))
        );
        assert_eq!(
            classify("kmem: usage 0kB, limit 9007199254740988kB, failcnt 0")
                .map(|p| matches!(p, Part::Counter(Counter::Kmem, _))),
            Some(true)
        );
        assert_eq!(
            classify("swap: usage 0kB, limit 0kB, fail"),
            Some(Part::Counter(Counter::Swap, usage(Some(0), Some(0), None)))
        );
        assert_eq!(classify("swapper/0: page allocation failure"), None);
        assert_eq!(
            classify("Tasks state (memory values in pages):"),
            Some(Part::TasksState)
        );
        assert_eq!(classify("CPU: 1 PID: x Comm: y"), None);
    }

    fn whole(text: &str, c: &Columns) -> Task {
        match dump_row(text, c) {
            Row::Whole(t) => t,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn header(text: &str) -> Columns {
        match classify(text) {
            Some(Part::DumpHeader(c)) => c,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn rows_of_every_dump_header_form() {
        // 2.6.32
        let c = header("[ pid ]   uid  tgid total_vm      rss cpu oom_adj oom_score_adj name");
        let t = whole(
            "[  788]     0   788     2671        1   7     -17         -1000 udevd",
            &c,
        );
        assert_eq!(
            (t.pid, t.uid, t.rss_pages, t.swap_pages, t.oom_score_adj),
            (788, Some(0), 1, None, Some(-1000))
        );
        assert_eq!(t.comm, "udevd");
        // 3.x-4.x
        let c = header("[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name");
        let t = whole(
            "[  433]     0   433    11104        2      22      360         -1000 systemd-udevd",
            &c,
        );
        assert_eq!(
            (t.rss_pages, t.swap_pages, t.oom_score_adj),
            (2, Some(360), Some(-1000))
        );
        // 4.19+, a comm with a space
        let c = header(
            "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
        );
        let t = whole(
            "[1833436]     0 1833436    42653      656   102400        0             0 (sd pam)",
            &c,
        );
        assert_eq!(
            (t.pid, t.rss_pages, t.comm.as_str()),
            (1_833_436, 656, "(sd pam)")
        );
        assert_eq!(t.rss_anon_pages, None);
        // 6.x
        let c = header(
            "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name",
        );
        let t = whole(
            "[  19700]     0 19700   20000    16500    16320      180        0   180224        0             0 memhog",
            &c,
        );
        assert_eq!(
            (
                t.rss_pages,
                t.rss_anon_pages,
                t.rss_file_pages,
                t.rss_shmem_pages
            ),
            (16_500, Some(16_320), Some(180), Some(0))
        );
        // Cut short, or not a row.
        assert_eq!(
            dump_row("[  19700]     0 19700   20000    16500    16320", &c),
            Row::Cut
        );
        // A RHEL 6 row that syslog cut mid-line.
        assert_eq!(
            dump_row(
                "[23093]    48 23093    53756      863   8       0     p-fpm",
                &c
            ),
            Row::Cut
        );
        assert_eq!(dump_row("[  12.5] eth0: link up", &c), Row::Not);
        assert_eq!(dump_row("[12] eth0: link up", &c), Row::Not);
    }

    fn task(pid: u32, rss: u64) -> Task {
        Task {
            pid,
            uid: None,
            comm: format!("p{pid}"),
            rss_pages: rss,
            rss_bytes: None,
            swap_pages: None,
            oom_score_adj: None,
            rss_anon_pages: None,
            rss_file_pages: None,
            rss_shmem_pages: None,
        }
    }

    #[test]
    fn top_rows_by_rss_ties_to_the_lower_pid_and_bounded() {
        let c = header("[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name");
        let mut dump = Dump::new(c);
        for pid in (1..=30_000u32).rev() {
            dump.push(task(pid, u64::from(pid % 7)), 3);
        }
        let mut r = Report::default();
        dump.fill(&mut r, 6, Some(24));
        let top: Vec<(u32, u64)> = r
            .top_tasks
            .unwrap()
            .iter()
            .map(|t| (t.pid, t.rss_pages))
            .collect();
        assert_eq!(top, [(6, 6), (13, 6), (20, 6)]);
        assert_eq!(r.tasks_in_dump, Some(30_000));
        assert_eq!(dump.top.len(), 3);
        assert_eq!(dump.index.len(), MAX_INDEXED_ROWS);
        assert_eq!(
            (r.page_size_bytes, r.page_size_assumed),
            (Some(4096), Some(false))
        );
    }

    #[test]
    fn page_size_from_the_victims_row_else_assumed() {
        let c = header("[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name");
        let mut dump = Dump::new(c);
        dump.push(task(7, 1000), 10);
        let mut r = Report::default();
        dump.fill(&mut r, 7, Some(64_000));
        assert_eq!(
            (r.page_size_bytes, r.page_size_assumed),
            (Some(65_536), Some(false))
        );
        assert_eq!(r.top_tasks.unwrap()[0].rss_bytes, Some(65_536_000));
        let mut r = Report::default();
        dump.fill(&mut r, 8, Some(64_000));
        assert_eq!(
            (r.page_size_bytes, r.page_size_assumed),
            (Some(4096), Some(true))
        );
        assert_eq!(page_size(1000, 3000), None);
    }
}
