//! The incident report of one kill as Markdown: pure, from the kill, the
//! other kills of its incident and (on a live host) what is true now.

use std::fmt::Write;

use super::checklist;
use super::live::LiveFacts;
use crate::kmsg::oom::report::set_limit;
use crate::kmsg::oom::{Constraint, Kill};

/// The whole report.
pub fn render(kill: &Kill, others: &[&Kill], now: Option<&LiveFacts>) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# OOM kill of `{}` (pid {})\n",
        comm(&kill.comm),
        kill.pid
    );
    when(&mut md, kill, now);
    what(&mut md, kill);
    who(&mut md, kill);
    super::memory::section(&mut md, kill);
    owner(&mut md, kill);
    incident(&mut md, others);
    if let Some(now) = now {
        super::live::render(&mut md, kill, now);
    }
    md.push_str("## Checklist\n\n");
    for item in checklist::items(kill, others, now) {
        let _ = writeln!(md, "- [ ] {item}");
    }
    md
}

/// A comm as Markdown code: control characters escaped, backticks kept out.
pub fn comm(comm: &str) -> String {
    comm.escape_debug().to_string().replace('`', "'")
}

/// A size for people: `512 MiB`, `1.5 GiB`, `300 KiB`.
pub fn bytes(b: u64) -> String {
    const KIB: f64 = 1024.0;
    let (value, unit) = match b {
        b if b >= 1 << 30 => (b as f64 / (KIB * KIB * KIB), "GiB"),
        b if b >= 1 << 20 => (b as f64 / (KIB * KIB), "MiB"),
        b if b >= 1 << 10 => (b as f64 / KIB, "KiB"),
        b => return format!("{b} B"),
    };
    let text = format!("{value:.1}");
    format!("{} {unit}", text.trim_end_matches(".0"))
}

/// `part` as a percentage of `whole`.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".to_owned();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}

/// The victim's RSS in bytes from its `Killed process` line.
pub fn victim_rss(kill: &Kill) -> Option<u64> {
    let kb = [kill.anon_rss_kb, kill.file_rss_kb, kill.shmem_rss_kb];
    kb.iter()
        .any(Option::is_some)
        .then(|| kb.iter().flatten().sum::<u64>() * 1024)
}

/// `h m s` from microseconds.
fn duration(usec: u64) -> String {
    let s = usec / 1_000_000;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h {m}m {s}s")
    } else {
        format!("{h}h {m}m {s}s")
    }
}

fn when(md: &mut String, kill: &Kill, now: Option<&LiveFacts>) {
    md.push_str("## When\n\n");
    let time = kill.time.as_ref().or(kill.log_time.as_ref());
    let _ = writeln!(
        md,
        "- Time: {}",
        time.map_or("not in the log", String::as_str)
    );
    match kill.boot_usec {
        Some(u) => {
            let _ = writeln!(
                md,
                "- Uptime at the kill: {} (log stamp {}.{:06})",
                duration(u),
                u / 1_000_000,
                u % 1_000_000
            );
        }
        None => md.push_str("- Uptime at the kill: not in the log (no stamp)\n"),
    }
    match kill.seq {
        Some(seq) if kill.seq_ordinal => {
            let _ = writeln!(
                md,
                "- Kill number {seq} in the saved log (--seq {seq}; the log has no record numbers)"
            );
        }
        Some(seq) => {
            let _ = writeln!(md, "- Kernel log record: seq {seq}");
        }
        None => {}
    }
    match now {
        Some(now) => {
            let _ = writeln!(
                md,
                "- Host: {}, kernel {}",
                now.hostname.as_deref().unwrap_or("unknown"),
                now.kernel.as_deref().unwrap_or("unknown")
            );
        }
        None => match (kill.host.as_deref(), kill.report.kernel.as_deref()) {
            (None, None) => md.push_str("- Host: not known (read from a saved log)\n"),
            (host, kernel) => {
                let _ = writeln!(
                    md,
                    "- Host: {}, kernel {} (as the saved log says)",
                    host.map_or_else(|| "not in the log".to_owned(), comm),
                    kernel.map_or_else(|| "not in the log".to_owned(), comm)
                );
            }
        },
    }
    md.push('\n');
}

fn what(md: &mut String, kill: &Kill) {
    md.push_str("## What was killed and why\n\n");
    let _ = write!(md, "- Victim: `{}` (pid {}", comm(&kill.comm), kill.pid);
    if let Some(uid) = kill.uid {
        let _ = write!(md, ", uid {uid}");
    }
    if let Some(adj) = kill.oom_score_adj {
        let _ = write!(md, ", oom_score_adj {adj}");
    }
    md.push(')');
    if let Some(rss) = victim_rss(kill) {
        let _ = write!(md, ", RSS {}", bytes(rss));
    }
    md.push('\n');
    let r = &kill.report;
    match kill.constraint {
        Constraint::Memcg => {
            let cg = kill.oom_memcg.as_deref().unwrap_or("(not named)");
            let _ = write!(
                md,
                "- Constraint: memcg: the memory cgroup `{cg}` hit its limit"
            );
            match (r.memcg_usage_kb, r.memcg_limit_kb.map(set_limit)) {
                (Some(u), Some(Some(l))) => {
                    let _ = write!(
                        md,
                        ": usage {} of limit {} ({})",
                        bytes(u * 1024),
                        bytes(l * 1024),
                        percent(u, l)
                    );
                }
                (Some(u), Some(None)) => {
                    let _ = write!(md, ": usage {}, no memory limit set", bytes(u * 1024));
                }
                _ => {}
            }
            if let Some(f) = r.memcg_failcnt {
                let _ = write!(md, ", failcnt {f}");
            }
            md.push('\n');
        }
        Constraint::Global => md.push_str("- Constraint: global: the whole machine ran out\n"),
        other => {
            let _ = writeln!(md, "- Constraint: {}", other.as_str());
        }
    }
    if let Some(by) = &kill.invoked_by {
        let _ = write!(md, "- Trigger: `{}`", comm(by));
        if let Some(pid) = r.trigger_pid {
            let _ = write!(md, " (pid {pid})");
        }
        md.push_str(" asked for memory");
        if let (Some(order), Some(size)) = (r.order, r.allocation_bytes()) {
            let _ = write!(md, ": {} contiguous (order {order})", bytes(size));
        }
        if let Some(mask) = &r.gfp_mask {
            let _ = write!(md, ", gfp_mask {mask}");
        }
        md.push('\n');
    }
    if r.sysrq == Some(true) {
        md.push_str("- SysRq: forced with SysRq-f (order=-1): no allocation failed\n");
    }
    md.push('\n');
}

fn who(md: &mut String, kill: &Kill) {
    md.push_str("## Who held the memory\n\n");
    let r = &kill.report;
    let Some(tasks) = r.top_tasks.as_ref().filter(|t| !t.is_empty()) else {
        md.push_str("The log has no task dump for this kill.\n\n");
        return;
    };
    let rows = r.tasks_in_dump.unwrap_or(tasks.len() as u64);
    let cut = r.tasks_unreadable.unwrap_or(0);
    let _ = writeln!(
        md,
        "The task dump lists {rows} process{}{}; the largest {}by RSS{}:\n",
        if rows == 1 { "" } else { "es" },
        if cut > 0 {
            format!(", {cut} of which could not be read (cut in the log)")
        } else {
            String::new()
        },
        if cut > 0 { "readable ones " } else { "" },
        if r.page_size_assumed == Some(true) {
            " (page size not in the log: 4 KiB assumed)"
        } else {
            ""
        }
    );
    md.push_str("| # | pid | uid | comm | RSS | swap | oom_score_adj |\n");
    md.push_str("|---|---|---|---|---|---|---|\n");
    let page = r.page_size_bytes.unwrap_or(4096);
    for (i, t) in tasks.iter().enumerate() {
        let mark = if t.pid == kill.pid { " (victim)" } else { "" };
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
        let _ = writeln!(
            md,
            "| {} | {} | {} | `{}`{mark} | {} | {} | {} |",
            i + 1,
            t.pid,
            opt(t.uid.map(|u| u.to_string())),
            comm(&t.comm).replace('|', "\\|"),
            bytes(t.rss_bytes.unwrap_or(t.rss_pages * page)),
            opt(t.swap_pages.map(|s| bytes(s * page))),
            opt(t.oom_score_adj.map(|a| a.to_string())),
        );
    }
    md.push('\n');
    let _ = writeln!(md, "- {}", checklist::victim_place(kill, tasks));
    let top = &tasks[0];
    if let Some(limit) = r
        .memcg_limit_kb
        .and_then(set_limit)
        .filter(|_| kill.constraint == Constraint::Memcg)
    {
        let held = top.rss_bytes.unwrap_or(top.rss_pages * page);
        let _ = writeln!(
            md,
            "- The largest{}, `{}` (pid {}), held {} of the limit {}{}.",
            if cut > 0 { " readable row" } else { "" },
            comm(&top.comm),
            top.pid,
            percent(held, limit * 1024),
            bytes(limit * 1024),
            if held > limit * 1024 {
                " (RSS counts file pages it maps, which may be charged to another cgroup)"
            } else {
                ""
            }
        );
    }
    md.push('\n');
}

fn owner(md: &mut String, kill: &Kill) {
    md.push_str("## Cgroup and owner\n\n");
    let fields = [
        ("Cgroup whose limit was hit", &kill.oom_memcg),
        ("Victim's cgroup", &kill.task_memcg),
        ("Namespace", &kill.names.namespace),
        ("Pod", &kill.names.pod),
        ("Container", &kill.names.container),
        ("Pod UID", &kill.pod_uid),
        ("Container ID", &kill.container_id),
        ("systemd unit", &kill.unit),
    ];
    let mut any = false;
    for (name, value) in fields {
        if let Some(v) = value {
            any = true;
            let _ = writeln!(md, "- {name}: `{}`", comm(v));
        }
    }
    if !any {
        md.push_str("- The log names no cgroup.\n");
    }
    md.push('\n');
}

fn incident(md: &mut String, others: &[&Kill]) {
    md.push_str("## Other kills in the same incident\n\n");
    if others.is_empty() {
        md.push_str("None found.\n\n");
        return;
    }
    for o in others {
        let when = o
            .time
            .as_ref()
            .or(o.log_time.as_ref())
            .cloned()
            .or_else(|| {
                o.boot_usec
                    .map(|u| format!("[{}.{:06}]", u / 1_000_000, u % 1_000_000))
            })
            .unwrap_or_else(|| "-".to_owned());
        let rss = victim_rss(o).map_or_else(String::new, |b| format!(", RSS {}", bytes(b)));
        let _ = writeln!(md, "- {when}: `{}` (pid {}){rss}", comm(&o.comm), o.pid);
    }
    let _ = writeln!(
        md,
        "\n{} kills in this incident, this one included.\n",
        others.len() + 1
    );
}
