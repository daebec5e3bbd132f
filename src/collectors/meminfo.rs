//! `meminfo`: system memory, swap and commit from `/proc/meminfo`.

use crate::metrics::{self, MetricWriter};
use crate::parse::meminfo::{self, Value};
use crate::proc::fs::ProcFs;

use super::{CollectError, Source};

/// How a meminfo field becomes a metric.
struct Field {
    /// Field name as the kernel prints it.
    key: &'static str,
    /// Bare metric name (the encoder adds `oom_` and `_bytes`).
    name: &'static str,
    help: &'static str,
    /// Printed by every kernel since 3.14 on every architecture: its absence
    /// means the file was cut short.
    required: bool,
}

const fn field(key: &'static str, name: &'static str, help: &'static str) -> Field {
    Field {
        key,
        name,
        help,
        required: false,
    }
}

const fn required(key: &'static str, name: &'static str, help: &'static str) -> Field {
    Field {
        key,
        name,
        help,
        required: true,
    }
}

/// Fields reported in bytes (the kernel prints them in kB).
const FIELDS: &[Field] = &[
    required(
        "MemTotal",
        "memory_total",
        "Usable RAM: physical memory minus reserved and kernel code (MemTotal)",
    ),
    required(
        "MemFree",
        "memory_free",
        "Completely unused RAM (MemFree); low values are normal, watch oom_memory_available_bytes",
    ),
    field(
        "MemAvailable",
        "memory_available",
        "Kernel's estimate of memory available for new workloads without swapping (MemAvailable, 3.14+)",
    ),
    required(
        "Buffers",
        "memory_buffers",
        "Block device buffers (Buffers)",
    ),
    required(
        "Cached",
        "memory_cached",
        "Page cache, excluding the swap cache (Cached)",
    ),
    field(
        "Active(anon)",
        "memory_active_anon",
        "Anonymous memory used recently (Active(anon))",
    ),
    field(
        "Inactive(anon)",
        "memory_inactive_anon",
        "Anonymous memory not used recently, the next to be swapped (Inactive(anon))",
    ),
    field(
        "Active(file)",
        "memory_active_file",
        "File-backed memory used recently (Active(file))",
    ),
    field(
        "Inactive(file)",
        "memory_inactive_file",
        "File-backed memory not used recently, the first to be reclaimed (Inactive(file))",
    ),
    field(
        "AnonPages",
        "memory_anon",
        "Anonymous pages mapped into user page tables (AnonPages)",
    ),
    field(
        "AnonHugePages",
        "memory_anon_hugepages",
        "Anonymous transparent huge pages (AnonHugePages)",
    ),
    field(
        "Mapped",
        "memory_mapped",
        "Files mapped into memory, such as libraries (Mapped)",
    ),
    field(
        "Shmem",
        "memory_shmem",
        "Shared memory and tmpfs, not reclaimable without swap (Shmem)",
    ),
    field(
        "Unevictable",
        "memory_unevictable",
        "Memory that cannot be paged out (Unevictable)",
    ),
    field(
        "Mlocked",
        "memory_mlocked",
        "Memory locked with mlock() (Mlocked)",
    ),
    field(
        "Dirty",
        "memory_dirty",
        "Memory waiting to be written back to disk (Dirty)",
    ),
    field(
        "Writeback",
        "memory_writeback",
        "Memory being written back to disk (Writeback)",
    ),
    field(
        "KReclaimable",
        "memory_kernel_reclaimable",
        "Kernel allocations the kernel can reclaim under pressure (KReclaimable, 4.20+)",
    ),
    field(
        "SReclaimable",
        "memory_slab_reclaimable",
        "Reclaimable slab, such as dentry and inode caches (SReclaimable)",
    ),
    field(
        "SUnreclaim",
        "memory_slab_unreclaimable",
        "Slab that cannot be reclaimed (SUnreclaim)",
    ),
    field(
        "KernelStack",
        "memory_kernel_stack",
        "Kernel stacks of all tasks (KernelStack)",
    ),
    field(
        "PageTables",
        "memory_page_tables",
        "Page tables (PageTables)",
    ),
    field(
        "SecPageTables",
        "memory_secondary_page_tables",
        "Secondary page tables, e.g. KVM (SecPageTables, 6.1+)",
    ),
    field("Percpu", "memory_percpu", "Per-CPU allocations (Percpu)"),
    field(
        "VmallocUsed",
        "memory_vmalloc_used",
        "Memory in use in the vmalloc area (VmallocUsed)",
    ),
    field(
        "Hugetlb",
        "memory_hugetlb",
        "Memory reserved for huge pages of all sizes (Hugetlb, 4.16+)",
    ),
    field(
        "Zswap",
        "memory_zswap",
        "Size of the compressed zswap pool (Zswap, 6.6+)",
    ),
    field(
        "Zswapped",
        "memory_zswapped",
        "Uncompressed size of the pages stored in zswap (Zswapped, 6.6+)",
    ),
    required("SwapTotal", "swap_total", "Total swap space (SwapTotal)"),
    required("SwapFree", "swap_free", "Unused swap space (SwapFree)"),
    field(
        "SwapCached",
        "swap_cached",
        "Memory that was swapped out and back in and is still in the swap file (SwapCached)",
    ),
    required(
        "Committed_AS",
        "memory_committed",
        "Memory allocated by all processes, even if not yet used (Committed_AS)",
    ),
    required(
        "CommitLimit",
        "memory_commit_limit",
        "Total memory that can be allocated when vm.overcommit_memory is 2 (CommitLimit)",
    ),
];

/// Huge page counts, reported in bytes by multiplying by `Hugepagesize`.
const HUGEPAGES: &[(&str, &str, &str)] = &[
    (
        "HugePages_Total",
        "memory_hugepages_total",
        "Size of the default-size huge page pool (HugePages_Total x Hugepagesize)",
    ),
    (
        "HugePages_Free",
        "memory_hugepages_free",
        "Unallocated part of the huge page pool (HugePages_Free x Hugepagesize)",
    ),
    (
        "HugePages_Rsvd",
        "memory_hugepages_reserved",
        "Huge pages promised but not yet faulted in (HugePages_Rsvd x Hugepagesize)",
    ),
    (
        "HugePages_Surp",
        "memory_hugepages_surplus",
        "Huge pages above vm.nr_hugepages (HugePages_Surp x Hugepagesize)",
    ),
];

/// Reads `/proc/meminfo`.
pub struct Meminfo {
    procfs: ProcFs,
}

impl Meminfo {
    /// Name in `--collector.<name>`.
    pub const NAME: &'static str = "meminfo";

    /// A collector reading `<procfs>/meminfo`.
    pub fn new(procfs: ProcFs) -> Self {
        Self { procfs }
    }
}

impl Source for Meminfo {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn collect(&self, out: &mut MetricWriter<'_, '_>) -> Result<(), CollectError> {
        let path = self.procfs.meminfo();
        let text = self.procfs.read(&path)?;
        let (info, mut errors) = meminfo::parse(&text);
        let mut problems: Vec<String> = errors.drain(..).map(|e| e.to_string()).collect();

        for f in FIELDS {
            match info.get(f.key) {
                Some(Value::Bytes(v)) => out.gauge(f.name, f.help, metrics::bytes(), v)?,
                Some(Value::Count(_)) => problems.push(format!("{}: expected a size in kB", f.key)),
                None if f.required => problems.push(format!("{} missing (file cut short?)", f.key)),
                None => {}
            }
        }

        match info.get("Hugepagesize") {
            Some(Value::Bytes(page)) => {
                out.gauge(
                    "memory_hugepage_size",
                    "Default huge page size (Hugepagesize)",
                    metrics::bytes(),
                    page,
                )?;
                for (key, name, help) in HUGEPAGES {
                    match info.get(key) {
                        Some(Value::Count(n)) => {
                            out.gauge(name, help, metrics::bytes(), n.saturating_mul(page))?
                        }
                        Some(Value::Bytes(_)) => {
                            problems.push(format!("{key}: expected a page count"))
                        }
                        None => {}
                    }
                }
            }
            Some(Value::Count(_)) => {
                problems.push("Hugepagesize: expected a size in kB".to_owned())
            }
            None => {}
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(CollectError::Malformed {
                path: path.display().to_string(),
                problems,
            })
        }
    }
}
