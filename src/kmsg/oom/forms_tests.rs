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

/// The raw records of `log` in another saved form: `stamp` gives each
/// record's prefix from its boot time in microseconds, and a record's
/// escaped newlines (`\x0a`) become what `newline` says.
fn reshaped(log: &str, stamp: impl Fn(u64) -> String, newline: impl Fn(u64) -> String) -> String {
    let mut out = String::new();
    for record in log.lines() {
        let (head, text) = record.split_once(';').unwrap();
        let usec: u64 = head.split(',').nth(2).unwrap().parse().unwrap();
        out.push_str(&stamp(usec));
        out.push_str(&text.replace("\\x0a", &newline(usec)));
        out.push('\n');
    }
    out
}

fn dmesg_stamp(usec: u64) -> String {
    format!("[{:5}.{:06}] ", usec / 1_000_000, usec % 1_000_000)
}

/// The Mem-Info summary of the raw global report, in every form it is
/// saved in: one record with `\x0a` (/dev/kmsg), one record per line
/// (2.6.32, or records a tool split), `dmesg` with its continuation lines
/// indented, `journalctl -k` likewise, and syslog's `#012`.
#[test]
fn meminfo_is_read_in_every_form_it_is_printed_in() {
    let raw = form("raw-global-meminfo-one-record.kmsg");
    let syslog = |_| "Nov 30 05:49:53 db7 kernel: ".to_owned();
    let forms = [
        ("raw", raw.clone()),
        (
            "one record per line",
            reshaped(&raw, dmesg_stamp, |u| format!("\n{}", dmesg_stamp(u))),
        ),
        (
            "dmesg",
            reshaped(&raw, dmesg_stamp, |_| format!("\n{:15}", "")),
        ),
        (
            "journal",
            reshaped(&raw, syslog, |_| format!("\n{:28}", "")),
        ),
        ("syslog #012", reshaped(&raw, syslog, |_| "#012".to_owned())),
    ];
    for (name, log) in forms {
        let k = one(&log);
        let r = &k.report;
        let m = r
            .meminfo_pages
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no Mem-Info in {log}"));
        assert_eq!(m.free, Some(21_000), "{name}");
        assert_eq!(m.anon, Some(1_912_000), "{name}");
        assert_eq!(m.page_cache, Some(5500), "{name}");
        assert_eq!(
            (m.slab_reclaimable, m.slab_unreclaimable),
            (Some(4100), Some(38_000)),
            "{name}"
        );
        assert_eq!((m.shmem, m.pagetables), (Some(800), Some(9100)), "{name}");
        assert_eq!(r.ram_pages, Some(2_097_022), "{name}");
        assert_eq!(
            (r.swap_free_kb, r.swap_total_kb),
            (Some(0), Some(0)),
            "{name}"
        );
        assert_eq!(r.tasks_in_dump, Some(2), "{name}");
    }
}

/// The 4.10 to 4.18 header prints the nodemask between the mask and the
/// order (`nodemask=(null)`, or the allowed nodes as a list); the mask is
/// what comes before it, as printed.
#[test]
fn gfp_mask_of_the_header_with_a_nodemask() {
    let cases = [
        (
            "0x14000c0(GFP_KERNEL), nodemask=(null), order=0, oom_score_adj=0",
            "0x14000c0(GFP_KERNEL)",
            0,
        ),
        (
            "0x14280ca(GFP_HIGHUSER_MOVABLE|__GFP_ZERO), nodemask=0-1, order=2, oom_score_adj=-998",
            "0x14280ca(GFP_HIGHUSER_MOVABLE|__GFP_ZERO)",
            -998,
        ),
        (
            "0x14200ca(GFP_HIGHUSER_MOVABLE), nodemask=0,2-3, order=2, oom_score_adj=5",
            "0x14200ca(GFP_HIGHUSER_MOVABLE)",
            5,
        ),
        ("0x201da, order=2, oom_adj=0, oom_score_adj=7", "0x201da", 7),
    ];
    for (rest, mask, adj) in cases {
        let log = format!(
            "[ 1.000000] app invoked oom-killer: gfp_mask={rest}\n\
             [ 1.000100] Out of memory: Killed process 5 (app) total-vm:1000kB, anon-rss:500kB, file-rss:0kB, shmem-rss:0kB\n"
        );
        let r = one(&log).report;
        assert_eq!(r.gfp_mask.as_deref(), Some(mask), "{rest}");
        assert_eq!(r.trigger_oom_score_adj, Some(adj), "{rest}");
        assert!(matches!(r.order, Some(0 | 2)), "{rest}");
    }
    // Ubuntu 18.04's 4.15 (a real report).
    let path = format!(
        "{}/tests/fixtures/kmsg/21-ubuntu-4.15-azure-docker-memcg-full-event.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let log: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let k = one(&log);
    assert_eq!(k.report.gfp_mask.as_deref(), Some("0x14000c0(GFP_KERNEL)"));
    assert_eq!(k.report.order, Some(0));
}

/// A `Killed process` line cut mid-number (a syslog line limit, a pager)
/// gives null for the cut field, not the smaller number left: the kernel
/// always prints these fields with `kB`.
#[test]
fn a_kill_line_cut_mid_number_leaves_that_field_null() {
    let log = "Sep 29 08:12:34 cache7 kernel: Out of memory: Killed process 41170 (varnishd) total-vm:9705436kB, anon-rss:61";
    let k = one(log);
    assert_eq!((k.pid, k.total_vm_kb), (41_170, Some(9_705_436)));
    assert_eq!(k.anon_rss_kb, None);
    let k = one(
        "[ 9.5] Out of memory: Killed process 41170 (varnishd) total-vm:9705436kB, anon-rss:612>",
    );
    assert_eq!(k.anon_rss_kb, None);
}

/// A second event whose header was rate-limited away keeps its own
/// counters, stats and dump: its `memory: usage` line starts it.
#[test]
fn a_second_event_without_its_header_keeps_its_counters() {
    let log = form("memcg-two-events-second-header-missing.log");
    for (form, log) in [("dmesg", log.clone()), ("no stamps", unstamped(&log))] {
        let kills = kills_in_log(&log);
        assert_eq!(kills.len(), 2, "{form}: {kills:#?}");
        let (first, second) = (&kills[0].report, &kills[1].report);
        assert_eq!(
            (first.memcg_usage_kb, first.memcg_failcnt),
            (Some(524_288), Some(310)),
            "{form}"
        );
        assert_eq!(kills[1].invoked_by, None, "{form}");
        assert_eq!(second.trigger_pid, None, "{form}");
        assert_eq!(
            (
                second.memcg_usage_kb,
                second.memcg_limit_kb,
                second.memcg_failcnt
            ),
            (Some(524_200), Some(524_288), Some(402)),
            "{form}"
        );
        assert_eq!(second.memsw_usage_kb, Some(524_200), "{form}");
        assert_eq!(second.kmem_usage_kb, Some(5100), "{form}");
        assert_eq!(
            second.memcg_stats.as_ref().and_then(|s| s.anon),
            Some(529_000_000),
            "{form}"
        );
        assert_eq!(second.tasks_in_dump, Some(2), "{form}");
        assert_eq!(second.top_tasks.as_ref().unwrap()[0].pid, 9200, "{form}");
        assert_eq!(kills[1].oom_memcg.as_deref(), Some("/web"), "{form}");
    }
}

/// 6.4+ print the memory.stat block one record per line: in a saved
/// `dmesg` or syslog, other lines (userspace, another CPU's records) may
/// come between its lines, and the block goes on after them.
#[test]
fn the_stats_block_goes_on_after_interleaved_lines() {
    let log = form("memcg-two-events-second-header-missing.log");
    let noise = "[ 3000.100111] systemd[1]: Started session-9.scope - Session 9 of User deploy.\n\
                 [ 3000.100111] audit: type=1400 audit(1700000000.1:42): apparmor=\"DENIED\" operation=\"open\" pid=77 comm=\"cat\"\n";
    let mixed = log.replacen(
        "[ 3000.100111] rss 530000000\n",
        &format!("{noise}[ 3000.100111] rss 530000000\n{noise}"),
        1,
    );
    assert_ne!(mixed, log);
    for (form, log) in [("dmesg", mixed.clone()), ("no stamps", unstamped(&mixed))] {
        let kills = kills_in_log(&log);
        let stats = kills[0].report.memcg_stats.as_ref().unwrap();
        assert_eq!(
            (stats.anon, stats.file),
            (Some(530_000_000), Some(4_000_000)),
            "{form}"
        );
        assert_eq!(kills[0].report.tasks_in_dump, Some(2), "{form}");
    }
}

/// A pager cut the header before its order: whether SysRq forced the OOM
/// is not known.
#[test]
fn sysrq_is_unknown_when_the_order_is_cut() {
    let k = one(
        "[ 1.0] app invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), or>\n\
                 [ 1.1] Out of memory: Killed process 5 (app) total-vm:1000kB, anon-rss:500kB, file-rss:0kB, shmem-rss:0kB\n",
    );
    assert_eq!((k.report.order, k.report.sysrq), (None, None));
    assert_eq!(k.invoked_by.as_deref(), Some("app"));
}

/// A dump header whose rows were grepped out of the log (real sample 28):
/// the dump's size is not known, so its keys are null, not 0 and [].
#[test]
fn a_dump_header_without_rows_gives_no_dump() {
    let path = format!(
        "{}/tests/fixtures/kmsg/28-k8s-cgroupv2-container-limit-uid-12574-grep-tail.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let log: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(log.contains("[  pid  ]"));
    for k in kills_in_log(&log) {
        assert_eq!((k.report.tasks_in_dump, &k.report.top_tasks), (None, &None));
    }
}
