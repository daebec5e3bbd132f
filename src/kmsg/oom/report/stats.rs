//! The memory figures of a report: the global `Mem-Info:` summary and a
//! memory cgroup's `memory.stat` block.

use serde::Serialize;

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
/// `key:N`, a number of pages without a unit. The kernel prints the summary
/// in one `printk` with newlines in it: /dev/kmsg escapes them (`\x0a`),
/// syslog writes `#012`, `dmesg` and the journal print them (then each
/// line comes on its own); both escapes separate words too.
pub fn meminfo_pairs(text: &str) -> Option<Vec<(&str, u64)>> {
    let mut pairs = Vec::new();
    let lines = text.split("#012").flat_map(|l| l.split("\\x0a"));
    for word in lines.flat_map(str::split_whitespace) {
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
