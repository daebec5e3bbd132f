//! `oom_exporter kills --detail`: one block per kill with the rest of the
//! kernel's report: what triggered the OOM, the limit and its usage (memcg)
//! or the machine's memory and swap (global), and the task dump's top rows by RSS with
//! the victim marked `*`.
//!
//! Pure formatting: a [`Kill`] in, text out.

use std::io::Write;

use super::report::memory;
use crate::kmsg::oom::report::set_limit;
use crate::kmsg::oom::{Constraint, Kill};

/// Writes the block for `k`, ending with an empty line.
pub fn write(k: &Kill, heading: &[String; 8], out: &mut dyn Write) -> std::io::Result<()> {
    let [time, pid, comm, uid, constraint, rss, owner, cgroup] = heading;
    let container = k
        .names
        .container
        .as_ref()
        .map_or(String::new(), |c| format!(" container {c}"));
    writeln!(
        out,
        "{time}  killed {pid} ({comm})  uid {uid}  {constraint}  rss {rss}  owner {owner}{container}  cgroup {cgroup}"
    )?;
    writeln!(out, "  trigger: {}", trigger(k))?;
    for line in limits(k) {
        writeln!(out, "  {line}")?;
    }
    tasks(k, out)?;
    writeln!(out)
}

/// `comm (pid N) gfp_mask=... order=N`, and what `order=-1` means.
fn trigger(k: &Kill) -> String {
    let r = &k.report;
    let comm = k
        .invoked_by
        .as_deref()
        .map_or("-".to_owned(), |c| c.escape_debug().to_string());
    let pid = r.trigger_pid.map_or("-".to_owned(), |p| p.to_string());
    let mask = r.gfp_mask.as_deref().unwrap_or("-");
    let order = r.order.map_or("-".to_owned(), |o| o.to_string());
    let mut line = format!("{comm} (pid {pid})  gfp_mask={mask}  order={order}");
    if r.sysrq == Some(true) || r.order == Some(-1) {
        line.push_str("  (forced from SysRq-f, not a failed allocation)");
    }
    line
}

/// Usage against limit for a memcg OOM, the machine's swap for a global one.
fn limits(k: &Kill) -> Vec<String> {
    let r = &k.report;
    let mut lines = Vec::new();
    let pairs = [
        (
            "memory",
            r.memcg_usage_kb,
            r.memcg_limit_kb,
            r.memcg_failcnt,
        ),
        (
            "memory+swap",
            r.memsw_usage_kb,
            r.memsw_limit_kb,
            r.memsw_failcnt,
        ),
        ("swap", r.swap_usage_kb, r.swap_limit_kb, r.swap_failcnt),
    ];
    for (name, usage, limit, failcnt) in pairs {
        if usage.is_none() && limit.is_none() {
            continue;
        }
        let no_limit = limit.is_some_and(|l| set_limit(l).is_none());
        let limit = limit.and_then(set_limit);
        let mut line = if no_limit {
            format!("{name}: usage {}, no limit", kib(usage))
        } else {
            format!("{name}: usage {} of limit {}", kib(usage), kib(limit))
        };
        if let (Some(u), Some(l)) = (usage, limit) {
            if l > 0 {
                line.push_str(&format!(" ({:.0}%)", u as f64 * 100.0 / l as f64));
            }
        }
        if let Some(f) = failcnt {
            line.push_str(&format!(", failcnt {f}"));
        }
        lines.push(line);
    }
    if r.swap_free_kb.is_some() || r.swap_total_kb.is_some() {
        let mut line = format!(
            "swap: free {} of total {}",
            kib(r.swap_free_kb),
            kib(r.swap_total_kb)
        );
        if r.swap_total_kb == Some(0) {
            line.push_str(" (no swap configured)");
        }
        lines.push(line);
    }
    if let Some(m) = memory::machine(r) {
        let mut figures: Vec<String> = m
            .ram
            .map(|b| format!("RAM {}", bytes(b)))
            .into_iter()
            .collect();
        figures.extend(
            m.figures
                .iter()
                .map(|f| format!("{} {}", f.name, bytes(f.bytes))),
        );
        let assumed = if m.page_size_assumed {
            " (4 KiB pages assumed)"
        } else {
            ""
        };
        lines.push(format!(
            "memory at the time: {}{assumed}",
            figures.join(", ")
        ));
    }
    let cg = memory::memcg(r);
    if !cg.is_empty() {
        let figures: Vec<String> = cg
            .iter()
            .map(|f| format!("{} {}", f.name, bytes(f.bytes)))
            .collect();
        lines.push(format!("memory.stat: {}", figures.join(", ")));
    }
    if lines.is_empty() {
        lines.push(match k.constraint {
            Constraint::Memcg => "memory: the report gives no usage or limit".to_owned(),
            _ => "swap: the report does not say".to_owned(),
        });
    }
    lines
}

/// The dump's top rows, largest RSS first, the victim marked `*`.
fn tasks(k: &Kill, out: &mut dyn Write) -> std::io::Result<()> {
    let r = &k.report;
    let Some(top) = r.top_tasks.as_ref().filter(|t| !t.is_empty()) else {
        return writeln!(out, "  top processes by RSS: no task dump in the report");
    };
    let rows = r
        .tasks_in_dump
        .map_or(String::new(), |n| format!(" of {n} in the dump"));
    let rows = match r.tasks_unreadable.filter(|n| *n > 0) {
        Some(cut) => format!("{rows}, {cut} unreadable"),
        None => rows,
    };
    let assumed = if r.page_size_assumed == Some(true) {
        " (4 KiB pages assumed)"
    } else {
        ""
    };
    writeln!(
        out,
        "  top processes by RSS ({}{rows}){assumed}:",
        top.len()
    )?;
    writeln!(
        out,
        "    {:1} {:>8} {:>6} {:>10} {:>6}  COMM",
        "", "PID", "UID", "RSS", "ADJ"
    )?;
    for t in top {
        let mark = if t.pid == k.pid { "*" } else { "" };
        let uid = t.uid.map_or("-".to_owned(), |u| u.to_string());
        let rss = t
            .rss_bytes
            .map_or_else(|| format!("{}p", t.rss_pages), bytes);
        let adj = t.oom_score_adj.map_or("-".to_owned(), |a| a.to_string());
        writeln!(
            out,
            "    {mark:1} {:>8} {uid:>6} {rss:>10} {adj:>6}  {}",
            t.pid,
            t.comm.escape_debug()
        )?;
    }
    if !top.iter().any(|t| t.pid == k.pid) {
        writeln!(out, "    (the victim {} is not among these rows)", k.pid)?;
    }
    Ok(())
}

fn kib(kb: Option<u64>) -> String {
    kb.map_or("-".to_owned(), |kb| bytes(kb.saturating_mul(1024)))
}

/// Bytes in the largest binary unit that keeps the number at 1 or more.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_pick_a_unit() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(1023), "1023B");
        assert_eq!(bytes(33_783_808), "32.2MiB");
        assert_eq!(bytes(31_211_520 * 1024), "29.8GiB");
    }

    /// Regression: an unlimited cgroup v1 counter (the kernel prints its
    /// largest value, 9007199254740991 kB here) read "of limit 8.0EiB".
    #[test]
    fn an_unlimited_counter_says_no_limit() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/reports/written-3.10-rhel7-ppc64le-64k-memcg.log"
        );
        let mut kills = Vec::new();
        crate::commands::kills::scan(std::io::Cursor::new(std::fs::read(path).unwrap()), |k| {
            kills.push(k);
            Ok(())
        })
        .unwrap();
        let lines = limits(&kills[0]);
        assert_eq!(
            lines[..2],
            [
                "memory: usage 4.0GiB of limit 4.0GiB (100%), failcnt 9121",
                "memory+swap: usage 4.0GiB, no limit, failcnt 0",
            ]
        );
    }
}
