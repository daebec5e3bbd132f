//! Memory at the time of a kill, from the kernel's report: the machine's
//! (the `Mem-Info:` summary and `N pages RAM`, printed for global OOMs) and
//! the memory cgroup's (its `memory.stat` block, memcg OOMs). Pure: the
//! figures in bytes, for the report and `kills --detail` to format.

use std::fmt::Write;

use super::render::{bytes, percent};
use crate::kmsg::oom::Kill;
use crate::kmsg::oom::report::{ASSUMED_PAGE_SIZE, Report, set_limit};

/// One figure, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figure {
    pub name: &'static str,
    pub bytes: u64,
}

/// The machine's memory at the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// `N pages RAM`, in bytes.
    pub ram: Option<u64>,
    /// free, anonymous, page cache, shmem, slab, page tables: those printed.
    pub figures: Vec<Figure>,
    /// The page size was not in the report: 4 KiB taken.
    pub page_size_assumed: bool,
}

/// The machine's memory, if the report printed a Mem-Info summary or its
/// RAM. The kernel does not print MemAvailable in it.
pub fn machine(r: &Report) -> Option<Machine> {
    if r.meminfo_pages.is_none() && r.ram_pages.is_none() {
        return None;
    }
    let page = r.page_size_bytes.unwrap_or(ASSUMED_PAGE_SIZE);
    let bytes = |pages: Option<u64>| pages.map(|p| p.saturating_mul(page));
    let mut figures = Vec::new();
    if let Some(m) = &r.meminfo_pages {
        let slab = m
            .slab_reclaimable
            .zip(m.slab_unreclaimable)
            .map(|(a, b)| a.saturating_add(b));
        let all = [
            ("free", m.free),
            ("anonymous", m.anon),
            ("page cache", m.page_cache),
            ("shmem", m.shmem),
            ("slab", slab),
            ("reclaimable slab", m.slab_reclaimable),
            ("page tables", m.pagetables),
        ];
        for (name, pages) in all {
            if let Some(bytes) = bytes(pages) {
                figures.push(Figure { name, bytes });
            }
        }
    }
    Some(Machine {
        ram: bytes(r.ram_pages),
        figures,
        page_size_assumed: r.page_size_bytes.is_none(),
    })
}

/// The memory cgroup's `memory.stat` figures the report printed.
pub fn memcg(r: &Report) -> Vec<Figure> {
    let Some(s) = &r.memcg_stats else {
        return Vec::new();
    };
    let all = [
        ("anon", s.anon),
        ("file", s.file),
        ("shmem", s.shmem),
        ("kernel", s.kernel),
        ("slab", s.slab),
        ("sock", s.sock),
        ("swap", s.swap),
    ];
    all.into_iter()
        .filter_map(|(name, bytes)| bytes.map(|bytes| Figure { name, bytes }))
        .collect()
}

/// The report's section: the machine's memory (global OOMs), the
/// cgroup's memory.stat (memcg OOMs), and swap.
pub fn section(md: &mut String, kill: &Kill) {
    md.push_str("## Memory and swap at the time\n\n");
    let r = &kill.report;
    let mut any = false;
    if let Some(m) = machine(r) {
        any = true;
        machine_lines(md, &m);
    }
    let cg = memcg(r);
    if !cg.is_empty() {
        any = true;
        let figures: Vec<String> = cg
            .iter()
            .map(|f| format!("{} {}", f.name, bytes(f.bytes)))
            .collect();
        let _ = writeln!(md, "- The cgroup's memory.stat: {}", figures.join(", "));
    }
    let mut line = |md: &mut String, name: &str, u: Option<u64>, l: Option<u64>| {
        match (u, l.map(set_limit)) {
            (Some(u), Some(Some(l))) => {
                let _ = writeln!(md, "- {name}: {} of {}", bytes(u * 1024), bytes(l * 1024));
            }
            (Some(u), Some(None)) => {
                let _ = writeln!(md, "- {name}: {} (no limit)", bytes(u * 1024));
            }
            _ => return,
        }
        any = true;
    };
    line(
        md,
        "cgroup swap usage (v2)",
        r.swap_usage_kb,
        r.swap_limit_kb,
    );
    line(
        md,
        "cgroup memory+swap (v1)",
        r.memsw_usage_kb,
        r.memsw_limit_kb,
    );
    if let (Some(free), Some(total)) = (r.swap_free_kb, r.swap_total_kb) {
        any = true;
        if total == 0 {
            md.push_str("- Machine: no swap configured\n");
        } else {
            let _ = writeln!(
                md,
                "- Machine: {} free of {}",
                bytes(free * 1024),
                bytes(total * 1024)
            );
        }
    }
    if !any {
        md.push_str("- The log does not say.\n");
    }
    md.push('\n');
}

fn machine_lines(md: &mut String, m: &Machine) {
    match m.ram {
        Some(ram) => {
            let _ = writeln!(md, "- RAM: {}", bytes(ram));
        }
        None => md.push_str("- RAM: not in the log\n"),
    }
    for f in &m.figures {
        let share = m.ram.map_or(String::new(), |ram| {
            format!(" ({} of RAM)", percent(f.bytes, ram))
        });
        let mut name = f.name.to_owned();
        name[..1].make_ascii_uppercase();
        let _ = writeln!(md, "- {name}: {}{share}", bytes(f.bytes));
    }
    if !m.figures.is_empty() {
        md.push_str("- Available (MemAvailable): not in the kernel's report\n");
    }
    if m.page_size_assumed {
        md.push_str("- (page size not in the log: 4 KiB pages assumed)\n");
    }
}
