//! Reports in the forms saved logs take (`tests/fixtures/kmsg/forms/`):
//! where an event ends, and each part read in every shape it is printed in.

use super::tests::one;
use super::*;

/// The log of `tests/fixtures/kmsg/forms/<name>` without its `#` notes.
pub(crate) fn form(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/kmsg/forms/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `log` as a saved log without timestamps: each `[ N.N] ` prefix cut.
pub(crate) fn unstamped(log: &str) -> String {
    log.lines()
        .map(
            |l| match l.strip_prefix('[').and_then(|r| r.split_once("] ")) {
                Some((_, rest)) => format!("{rest}\n"),
                None => format!("{l}\n"),
            },
        )
        .collect()
}

/// A kill with none of another event's parts: only its own line.
fn bare(k: &Kill) {
    let r = &k.report;
    assert_eq!(k.invoked_by, None, "{k:#?}");
    assert_eq!(
        (r.trigger_pid, r.gfp_mask.as_deref(), r.order),
        (None, None, None),
        "{k:#?}"
    );
    assert_eq!(
        (r.memcg_usage_kb, r.memcg_limit_kb, r.memcg_failcnt),
        (None, None, None),
        "{k:#?}"
    );
    assert_eq!((r.swap_usage_kb, r.swap_limit_kb), (None, None), "{k:#?}");
    assert_eq!((r.swap_free_kb, r.swap_total_kb), (None, None), "{k:#?}");
    assert_eq!((r.tasks_in_dump, &r.top_tasks), (None, &None), "{k:#?}");
    assert_eq!((&r.memcg_stats, &r.meminfo_pages), (&None, &None), "{k:#?}");
    assert_eq!(r.ram_pages, None, "{k:#?}");
}

#[test]
fn a_report_without_a_kill_then_a_reboot_gives_nothing_to_the_next_kill() {
    let log = form("global-no-killable-panic-reboot.log");
    for log in [log.clone(), unstamped(&log)] {
        let kills = kills_in_log(&log);
        assert_eq!(kills.len(), 1, "{kills:#?}");
        assert_eq!((kills[0].pid, kills[0].comm.as_str()), (2024, "node"));
        assert_eq!(kills[0].constraint, Constraint::Memcg);
        bare(&kills[0]);
    }
}

#[test]
fn no_killable_processes_ends_the_event_before_a_headless_kill() {
    let log = form("memcg-no-killable-then-bare-kill.log");
    for log in [log.clone(), unstamped(&log)] {
        let kills = kills_in_log(&log);
        assert_eq!(kills.len(), 1, "{kills:#?}");
        assert_eq!((kills[0].pid, kills[0].comm.as_str()), (6061, "worker"));
        assert_eq!(kills[0].anon_rss_kb, Some(120_000));
        bare(&kills[0]);
    }
}

#[test]
fn a_kernel_clock_going_backwards_ends_the_event() {
    // The first boot's report, cut before its end, then the next boot's
    // records: no line of the second boot names the first's end.
    let log = "\
[ 500.000000] make invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
[ 500.000010] CPU: 3 PID: 3131 Comm: make Not tainted 5.15.0 #1
[ 500.000100] memory: usage 1024kB, limit 1024kB, failcnt 3
[   3.000000] Memory cgroup out of memory: Killed process 88 (sh) total-vm:1000kB, anon-rss:500kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:20kB oom_score_adj:0
";
    let k = one(log);
    bare(&k);
}

#[test]
fn records_a_little_out_of_order_stay_in_their_event() {
    // Two CPUs' records may reach the log with stamps a few microseconds
    // out of order: that is not a new boot.
    let log = "\
[ 500.000100] make invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
[ 500.000050] memory: usage 1024kB, limit 1024kB, failcnt 3
[ 500.000200] Memory cgroup out of memory: Killed process 88 (sh) total-vm:1000kB, anon-rss:500kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:20kB oom_score_adj:0
";
    let k = one(log);
    assert_eq!(k.invoked_by.as_deref(), Some("make"));
    assert_eq!(k.report.memcg_limit_kb, Some(1024));
}
