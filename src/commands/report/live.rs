//! What is true now on a live host, for the report's "Now" section: the
//! host's name and kernel, the cgroup whose limit was hit, swap,
//! `vm.overcommit_memory`, and the victim's command running again in its
//! cgroup (restarted) with its `oom_score_adj`. Read once ([`gather`]);
//! rendered apart.

use std::fmt::Write;
use std::path::Path;

use super::render::{bytes, comm, percent};
use crate::cgroup::{hierarchy, sample};
use crate::kmsg::oom::Kill;
use crate::parse::meminfo::{self, Value};
use crate::parse::sysctl;
use crate::proc::fs::ProcFs;

/// What the host says now; each part `None` when it could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveFacts {
    pub hostname: Option<String>,
    pub kernel: Option<String>,
    /// The cgroup (oom_memcg, else the victim's): `None` when the kill
    /// names none; `Some(None)` when it no longer exists.
    pub cgroup: Option<(String, Option<CgroupNow>)>,
    pub swap_total: Option<u64>,
    pub swap_free: Option<u64>,
    pub overcommit_memory: Option<i64>,
    /// A process of the victim's comm in the victim's cgroup now: pid and
    /// oom_score_adj.
    pub restarted: Option<(u32, i32)>,
}

/// Processes of the victim's cgroup looked at for a restarted victim.
pub const MAX_RESTART_PIDS: usize = 4096;

/// A cgroup's memory now, in bytes; `limit` `None` when unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupNow {
    pub usage: Option<u64>,
    pub limit: Option<u64>,
}

/// Reads what is true now about `kill` under `procfs` and `sysfs`.
pub fn gather(kill: &Kill, procfs: &Path, sysfs: &Path) -> LiveFacts {
    let proc = ProcFs::new(procfs);
    let line = |path: &str| {
        proc.read(&procfs.join(path))
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    };
    let text = proc.read(&proc.meminfo()).unwrap_or_default();
    let (info, _) = meminfo::parse(&text);
    let get = |key| match info.get(key) {
        Some(Value::Bytes(b)) => Some(b),
        _ => None,
    };
    let h = hierarchy::detect(sysfs);
    let path = kill.oom_memcg.clone().or_else(|| kill.task_memcg.clone());
    let cgroup = path.map(|path| {
        let now = h
            .as_ref()
            .and_then(|h| sample::read(h, &path))
            .map(|s| CgroupNow {
                usage: s.usage,
                limit: s.limit,
            });
        (path, now)
    });
    LiveFacts {
        hostname: line("sys/kernel/hostname"),
        kernel: line("sys/kernel/osrelease"),
        cgroup,
        swap_total: get("SwapTotal"),
        swap_free: get("SwapFree"),
        overcommit_memory: proc
            .read(&proc.sysctl_vm("overcommit_memory"))
            .ok()
            .and_then(|t| sysctl::parse_int(&t).ok()),
        restarted: h.and_then(|h| restarted(kill, &h, &proc)),
    }
}

/// A process named like the victim in the victim's cgroup, with its
/// oom_score_adj.
fn restarted(kill: &Kill, h: &hierarchy::Hierarchy, proc: &ProcFs) -> Option<(u32, i32)> {
    let procs = h.dir(kill.task_memcg.as_deref()?).join("cgroup.procs");
    let text = proc.read(&procs).ok()?;
    text.lines()
        .take(MAX_RESTART_PIDS)
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .filter(|pid| *pid != kill.pid)
        .find_map(|pid| {
            let comm = proc.read(&proc.pid_file(pid, "comm")).ok()?;
            (comm.trim_end_matches('\n') == kill.comm).then_some(())?;
            let adj = proc.read(&proc.pid_file(pid, "oom_score_adj")).ok()?;
            Some((pid, adj.trim().parse().ok()?))
        })
}

/// The "Now" section.
pub fn render(md: &mut String, kill: &Kill, now: &LiveFacts) {
    md.push_str("## Now\n\n");
    if let Some((pid, adj)) = now.restarted {
        let _ = writeln!(
            md,
            "- `{}` runs again in its cgroup: pid {pid}, oom_score_adj {adj}",
            comm(&kill.comm)
        );
    }
    match &now.cgroup {
        Some((path, Some(cg))) => {
            let _ = write!(md, "- Cgroup `{}`: usage ", comm(path));
            md.push_str(&cg.usage.map_or("unreadable".to_owned(), bytes));
            match (cg.usage, cg.limit) {
                (Some(u), Some(l)) => {
                    let _ = write!(md, " of limit {} ({})", bytes(l), percent(u, l));
                }
                (_, Some(l)) => {
                    let _ = write!(md, ", limit {}", bytes(l));
                }
                (_, None) => md.push_str(", no limit"),
            }
            md.push('\n');
        }
        Some((path, None)) => {
            let _ = writeln!(md, "- Cgroup `{}`: gone (or unreadable)", comm(path));
        }
        None => {}
    }
    match (now.swap_free, now.swap_total) {
        (_, Some(0)) => md.push_str("- Swap: none configured\n"),
        (Some(f), Some(t)) => {
            let _ = writeln!(md, "- Swap: {} free of {}", bytes(f), bytes(t));
        }
        _ => md.push_str("- Swap: unreadable\n"),
    }
    match now.overcommit_memory {
        Some(mode) => {
            let _ = writeln!(md, "- vm.overcommit_memory: {mode} ({})", mode_name(mode));
        }
        None => md.push_str("- vm.overcommit_memory: unreadable\n"),
    }
    md.push('\n');
}

fn mode_name(mode: i64) -> &'static str {
    match mode {
        0 => "heuristic",
        1 => "always overcommit",
        2 => "strict accounting",
        _ => "unknown",
    }
}

/// Checklist items from what is true now.
pub fn checklist(kill: &Kill, now: &LiveFacts, items: &mut Vec<String>) {
    if let Some((path, Some(cg))) = &now.cgroup {
        let then = kill.report.memcg_limit_kb.map(|kb| kb * 1024);
        match (then, cg.limit) {
            (Some(then), Some(limit)) if then == limit => items.push(format!(
                "The limit of `{}` is still {}: unchanged since the kill.",
                comm(path),
                bytes(limit)
            )),
            (Some(then), Some(limit)) => items.push(format!(
                "The limit of `{}` is now {} (was {} at the kill).",
                comm(path),
                bytes(limit),
                bytes(then)
            )),
            _ => {}
        }
    }
    if now.swap_total == Some(0) && kill.report.swap_total_kb.is_none() {
        items.push("No swap configured on this host now: anonymous memory has nowhere to go under pressure.".to_owned());
    }
    if let Some((pid, adj)) = now.restarted.filter(|(_, adj)| *adj > 0) {
        items.push(format!(
            "`{}` runs again (pid {pid}) with oom_score_adj {adj}: it will be picked first again.",
            comm(&kill.comm)
        ));
    }
    if now.overcommit_memory == Some(1) {
        items.push("vm.overcommit_memory is 1 (always overcommit): allocations never fail up front, so the OOM killer is the only brake.".to_owned());
    }
}
