//! The report and `kills --detail` on the hand-written saved-log forms
//! (`tests/fixtures/kmsg/forms/`) and the real reports.

use std::io::Cursor;

use super::*;

/// The kills in `tests/fixtures/<path>`.
pub(crate) fn kills_at(path: &str) -> Vec<Kill> {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut kills = Vec::new();
    crate::commands::kills::scan(Cursor::new(text), |k| {
        kills.push(k);
        Ok(())
    })
    .unwrap();
    kills
}

pub(crate) fn has(md: &str, line: &str) {
    assert!(md.lines().any(|l| l == line), "no line {line:?} in\n{md}");
}

/// `kills --detail` of `kill`.
pub(crate) fn detail(kill: &Kill) -> String {
    let heading = ["t", "pid", "comm", "uid", "c", "rss", "o", "cg"].map(str::to_owned);
    let mut out = Vec::new();
    crate::commands::kill_detail::write(kill, &heading, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn global_report_gives_the_machines_memory_at_the_time() {
    let kills = kills_at("kmsg/forms/raw-global-meminfo-one-record.kmsg");
    let md = render(&kills[0], &[], None);
    for line in [
        "## Memory and swap at the time",
        "- RAM: 8 GiB",
        "- Free: 82 MiB (1% of RAM)",
        "- Anonymous: 7.3 GiB (91% of RAM)",
        "- Page cache: 21.5 MiB (0% of RAM)",
        "- Shmem: 3.1 MiB (0% of RAM)",
        "- Slab: 164.5 MiB (2% of RAM)",
        "- Reclaimable slab: 16 MiB (0% of RAM)",
        "- Available (MemAvailable): not in the kernel's report",
        "- Machine: no swap configured",
    ] {
        has(&md, line);
    }
    let text = detail(&kills[0]);
    has(
        &text,
        "  memory at the time: RAM 8.0GiB, free 82.0MiB, anonymous 7.3GiB, page cache 21.5MiB, shmem 3.1MiB, slab 164.5MiB, reclaimable slab 16.0MiB, page tables 35.5MiB",
    );
}

#[test]
fn memcg_report_gives_the_cgroups_memory_stat() {
    let kills = kills_at("reports/captured-6.18-memcg-victim-not-largest.kmsg");
    let md = render(&kills[0], &[], None);
    has(
        &md,
        "- The cgroup's memory.stat: anon 31.8 MiB, file 0 B, shmem 0 B, swap 0 B",
    );
    assert!(!md.contains("- RAM:"), "{md}");
    has(
        &detail(&kills[0]),
        "  memory.stat: anon 31.8MiB, file 0B, shmem 0B, swap 0B",
    );
}

#[test]
fn a_real_global_report_names_ram_and_free_memory() {
    // RHEL 8's #012 syslog: 1572729 pages RAM, free:23902.
    let kills = kills_at("reports/02-rhel8.10-4.18-global-syslog-012.log");
    let md = render(&kills[0], &[], None);
    has(&md, "- RAM: 6 GiB");
    has(&md, "- Free: 93.4 MiB (2% of RAM)");
}

/// A dump row a pager cut cannot be read: the report says how many, and
/// draws no conclusion the readable rows alone cannot carry.
#[test]
fn a_cut_dump_row_is_counted_and_no_conclusion_is_drawn_over_it() {
    let kills = kills_at("kmsg/forms/memcg-dump-row-cut-by-pager.log");
    let r = &kills[0].report;
    assert_eq!((r.tasks_in_dump, r.tasks_unreadable), (Some(2), Some(1)));
    let md = render(&kills[0], &[], None);
    has(
        &md,
        "The task dump lists 2 processes, 1 of which could not be read (cut in the log); the largest readable ones by RSS (page size not in the log: 4 KiB assumed):",
    );
    has(
        &md,
        "- The victim was the largest of the readable rows; 1 row could not be read, so its place among all of them is not known.",
    );
    assert!(!md.contains("The victim was the largest process"), "{md}");
    has(
        &md,
        "- The largest readable row, `sh` (pid 7290), held 8% of the limit 64 MiB.",
    );
}

#[test]
fn detail_counts_the_unreadable_rows() {
    let kills = kills_at("kmsg/forms/memcg-dump-row-cut-by-pager.log");
    has(
        &detail(&kills[0]),
        "  top processes by RSS (1 of 2 in the dump, 1 unreadable) (4 KiB pages assumed):",
    );
}

/// A saved log names its kernel in the report's `CPU:`/`Pid:` line, and
/// a syslog its host, in every line.
#[test]
fn a_saved_log_gives_the_host_and_kernel_it_names() {
    let kills = kills_at("reports/01-rhel6-2.6.32-global-bigtable-2events.log");
    assert_eq!(kills[0].host.as_deref(), Some("new-db1"));
    has(
        &render(&kills[0], &[], None),
        "- Host: new-db1, kernel 2.6.32-642.11.1.el6.x86_64 (as the saved log says)",
    );
    let kills = kills_at("reports/02-rhel8.10-4.18-global-syslog-012.log");
    has(
        &render(&kills[0], &[], None),
        "- Host: hnsin-varnish, kernel 4.18.0-553.8.1.el8_10.x86_64 (as the saved log says)",
    );
    // dmesg names no host.
    let kills = kills_at("kmsg/forms/raw-global-meminfo-one-record.kmsg");
    assert_eq!(kills[0].host, None);
    has(
        &render(&kills[0], &[], None),
        "- Host: not in the log, kernel 6.1.0-18-amd64 (as the saved log says)",
    );
}

/// `tests/fixtures/kmsg/forms/<name>` as a syslog would save it: each
/// dmesg stamp replaced by the wall-clock time `clock(seconds)` and a host.
fn as_syslog(name: &str, clock: impl Fn(u64) -> String) -> Vec<Kill> {
    let log = crate::kmsg::oom::forms_tests::form(name);
    let mut text = String::new();
    for line in log.lines() {
        let (stamp, rest) = line[1..].split_once("] ").unwrap();
        let secs: f64 = stamp.trim().parse().unwrap();
        text.push_str(&format!("{} web3 kernel: {rest}\n", clock(secs as u64)));
    }
    let mut kills = Vec::new();
    crate::commands::kills::scan(Cursor::new(text), |k| {
        kills.push(k);
        Ok(())
    })
    .unwrap();
    kills
}

/// Two kills of one cgroup a second apart in a log with wall-clock times
/// only (syslog) are one incident, as they are with boot stamps.
#[test]
fn an_incident_is_found_by_wall_clock_time_too() {
    let name = "memcg-two-events-second-header-missing.log";
    let kills = as_syslog(name, |s| {
        format!("Nov 30 05:{:02}:{:02}", s / 60 % 60, s % 60)
    });
    assert_eq!((kills.len(), kills[0].boot_usec), (2, None));
    let others = incident(&kills[1], &kills);
    assert_eq!(others.iter().map(|k| k.pid).collect::<Vec<_>>(), [9100]);
    has(
        &render(&kills[1], &others, None),
        "2 kills in this incident, this one included.",
    );
    // A day apart at the same time of day: not one incident.
    let kills = as_syslog(name, |s| format!("Nov {} 05:00:00", 26 + s % 3));
    assert!(incident(&kills[1], &kills).is_empty());
    // The same with boot stamps.
    let log = crate::kmsg::oom::forms_tests::form(name);
    let kills = crate::kmsg::oom::kills_in_log(&log);
    assert_eq!(incident(&kills[1], &kills).len(), 1);
}

/// A saved log without record numbers numbers its kills 1, 2, ... so that
/// `--seq` can pick any of them, not only the last.
#[test]
fn kills_of_a_log_without_record_numbers_are_numbered_in_order() {
    let kills = kills_at("reports/01-rhel6-2.6.32-global-bigtable-2events.log");
    let seqs: Vec<_> = kills.iter().map(|k| k.seq).collect();
    assert_eq!(seqs, [Some(1), Some(2)]);
    assert!(kills.iter().all(|k| k.seq_ordinal));
    assert_eq!(pick(&kills, Pick::Seq(1)).map(|k| k.pid), Some(40_738));
    has(
        &render(&kills[0], &[], None),
        "- Kill number 1 in the saved log (--seq 1; the log has no record numbers)",
    );
    // Raw records keep the kernel's numbers.
    let kills = kills_at("kmsg/forms/raw-global-meminfo-one-record.kmsg");
    assert_eq!((kills[0].seq, kills[0].seq_ordinal), (Some(2019), false));
}

/// cgroup v1 prints an unset memory+swap limit as the page counter's
/// maximum (9007199254740988 kB): "no limit", not 8 EiB. An RSS above the
/// limit is explained, and an order's size uses the report's page size.
#[test]
fn no_limit_is_said_and_odd_figures_are_explained() {
    let mut kills = kills_at("kmsg/21-ubuntu-4.15-azure-docker-memcg-full-event.txt");
    let md = render(&kills[0], &[], None);
    has(&md, "- cgroup memory+swap (v1): 0 B (no limit)");
    has(
        &md,
        "- The largest, `java` (pid 27281), held 103% of the limit 512 MiB (RSS counts file pages it maps, which may be charged to another cgroup).",
    );
    has(
        &detail(&kills[0]),
        "  memory+swap: usage 0B, no limit, failcnt 0",
    );
    assert!(!md.contains("EiB") && !md.contains("8589934592"), "{md}");
    // A 64 KiB page kernel: order 2 is 256 KiB.
    let r = &mut kills[0].report;
    (r.page_size_bytes, r.order) = (Some(65_536), Some(2));
    let md = render(&kills[0], &[], None);
    assert!(md.contains(": 256 KiB contiguous (order 2)"), "{md}");
    assert!(md.contains("of order 2 (256 KiB contiguous)"), "{md}");
}
