//! The checklist that ends a report: the items that apply to this kill,
//! each filled in with what the report shows.

use super::live::LiveFacts;
use super::render::{bytes, comm, percent};
use crate::kmsg::oom::report::{Task, set_limit};
use crate::kmsg::oom::{Constraint, Kill};

/// Usage at or above this share of the limit counts as all of it.
const FULL: f64 = 0.98;

/// Swap with less than this share free counts as full.
const SWAP_FULL: f64 = 0.05;

/// Where the victim stood among the dump's largest rows; when rows could
/// not be read, only among the readable ones.
pub fn victim_place(kill: &Kill, tasks: &[Task]) -> String {
    let cut = kill.report.tasks_unreadable.unwrap_or(0);
    if cut > 0 {
        let rows = if cut == 1 { "row" } else { "rows" };
        let unknown =
            format!("{cut} {rows} could not be read, so its place among all of them is not known");
        return match tasks.iter().position(|t| t.pid == kill.pid) {
            Some(0) => format!("The victim was the largest of the readable rows; {unknown}."),
            Some(i) => format!(
                "The victim was number {} by RSS of the readable rows; {unknown}.",
                i + 1
            ),
            None => format!(
                "The victim was not among the {} largest readable rows; {unknown}.",
                tasks.len()
            ),
        };
    }
    match tasks.iter().position(|t| t.pid == kill.pid) {
        Some(0) => "The victim was the largest process by RSS.".to_owned(),
        Some(i) => format!("The victim was number {} by RSS.", i + 1),
        None => format!(
            "The victim was not among the {} largest processes by RSS.",
            tasks.len()
        ),
    }
}

/// The items that apply, in order of what to look at first.
pub fn items(kill: &Kill, others: &[&Kill], now: Option<&LiveFacts>) -> Vec<String> {
    let mut items = Vec::new();
    let r = &kill.report;
    if r.sysrq == Some(true) {
        items.push(
            "The OOM killer was forced with SysRq-f (order=-1), not by a failed allocation: find who wrote `f` to /proc/sysrq-trigger (or pressed Alt+SysRq+F).".to_owned(),
        );
    }
    limit(kill, &mut items);
    if kill.constraint == Constraint::Global && r.sysrq != Some(true) {
        items.push("The whole machine ran out of memory: add memory or swap, or put limits on the largest consumers so one of them is killed instead of anything.".to_owned());
    }
    largest(kill, &mut items);
    if let Some(adj) = kill.oom_score_adj.filter(|a| *a > 0) {
        items.push(format!(
            "The victim had oom_score_adj {adj}: it is picked before larger processes; check who sets it (systemd OOMScoreAdjust=, the kubelet's QoS class)."
        ));
    }
    swap(kill, &mut items);
    if let (Some(order), Some(size)) = (r.order.filter(|o| *o > 0), r.allocation_bytes()) {
        items.push(format!(
            "The allocation was of order {order} ({} contiguous): fragmentation, not only a lack of memory, may be the cause.",
            bytes(size)
        ));
    }
    if !others.is_empty() {
        let (n, s) = (others.len(), if others.len() == 1 { "" } else { "s" });
        items.push(format!(
            "{n} other kill{s} in the same incident: one kill did not free enough; the memory is held elsewhere or refilled at once."
        ));
    }
    if let Some(now) = now {
        super::live::checklist(kill, now, &mut items);
    }
    items.push("Document the incident and its resolution (this report is a start).".to_owned());
    items
}

fn limit(kill: &Kill, items: &mut Vec<String>) {
    let r = &kill.report;
    let (Some(usage), Some(limit)) = (r.memcg_usage_kb, r.memcg_limit_kb.and_then(set_limit))
    else {
        return;
    };
    let cg = kill
        .oom_memcg
        .as_deref()
        .map_or(String::new(), |c| format!(" `{}`", comm(c)));
    if usage as f64 >= limit as f64 * FULL {
        items.push(format!(
            "The limit was {} and the cgroup{cg} used all of it: raise it or look for a leak.",
            bytes(limit * 1024)
        ));
    } else {
        items.push(format!(
            "The limit was {} and the cgroup{cg} used {} ({}) of it: memory+swap or kernel memory may have run out instead; check memory.stat.",
            bytes(limit * 1024),
            bytes(usage * 1024),
            percent(usage, limit)
        ));
    }
}

fn largest(kill: &Kill, items: &mut Vec<String>) {
    let r = &kill.report;
    let Some(top) = r.top_tasks.as_ref().and_then(|t| t.first()) else {
        return;
    };
    let held = top
        .rss_bytes
        .unwrap_or(top.rss_pages * r.page_size_bytes.unwrap_or(4096));
    // With unreadable rows the victim's own may be one of them: it was
    // not the largest only if its kill line says it held less.
    let unreadable = r.tasks_unreadable.unwrap_or(0) > 0;
    let smaller = super::render::victim_rss(kill).is_some_and(|v| v < held);
    if top.pid != kill.pid && (!unreadable || smaller) {
        items.push(format!(
            "The victim was not the largest process: `{}` (pid {}) held {}.",
            comm(&top.comm),
            top.pid,
            bytes(held)
        ));
    }
    if let Some(limit) = r.memcg_limit_kb.and_then(set_limit).filter(|l| *l > 0) {
        if held * 2 >= limit * 1024 {
            items.push(format!(
                "`{}` alone held {} of the limit: look for a leak in it first.",
                comm(&top.comm),
                percent(held, limit * 1024)
            ));
        }
    }
}

fn swap(kill: &Kill, items: &mut Vec<String>) {
    let r = &kill.report;
    match (r.swap_free_kb, r.swap_total_kb) {
        (_, Some(0)) => items.push(
            "No swap configured: every page of anonymous memory had to stay in RAM; consider some swap (or zram) to absorb peaks.".to_owned(),
        ),
        (Some(free), Some(total)) if (free as f64) < total as f64 * SWAP_FULL => {
            items.push(format!(
                "Swap was full: {} free of {}; the machine had nowhere left to put memory.",
                bytes(free * 1024),
                bytes(total * 1024)
            ));
        }
        _ => {}
    }
    if kill.constraint == Constraint::Memcg && r.swap_limit_kb == Some(0) {
        items.push("The cgroup may not use swap (memory.swap.max is 0).".to_owned());
    }
}
