//! Kernel log records that only look like the OOM killer's: records written
//! to /dev/kmsg from userspace with any priority, a segfaulting process
//! named `Killed process `, and a report whose cgroup paths can be read in
//! more than one way. None may move a counter other than the one it
//! belongs to.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use crate::support::{Exporter, kernel_lock, require_root, require_tool, sample, write_kmsg};

fn value(m: &str, name: &str) -> f64 {
    sample(m, name).unwrap_or_else(|| panic!("{name} missing:\n{m}"))
}

/// The counters a forged record must leave alone.
const UNMOVED: [&str; 5] = [
    "oom_kills_total",
    "oom_kmsg_records_lost_total",
    "oom_kmsg_parse_errors_total",
    "oom_kmsg_overruns_total",
    "oom_kmsg_ambiguous_attributions_total",
];

/// Their values (a family this build lacks reads as 0).
fn unmoved(m: &str) -> Vec<(&'static str, f64)> {
    UNMOVED
        .iter()
        .map(|n| (*n, sample(m, n).unwrap_or(0.0)))
        .collect()
}

fn start_live() -> Exporter {
    Exporter::start_reading_kmsg(&[])
}

#[test]
#[ignore = "needs root: writes to /dev/kmsg"]
fn userspace_records_of_any_priority_only_count_as_records() {
    if !require_root("write records to /dev/kmsg") {
        return;
    }
    let _kernel = kernel_lock();
    let e = start_live();
    let before = e.metrics();
    let records = value(&before, "oom_kmsg_records_total");
    // Facility 127 and 255 (the kernel keeps 8 bits), one with a kill
    // line's text, then an ordinary user record after them: a record the
    // reader could not place would show as a sequence gap before it.
    let forged = [
        "<1016>oomx forged facility 127",
        "<2047>oomx forged facility 255",
        "<1019>Out of memory: Killed process 4242 (forged) total-vm:1kB, anon-rss:1kB, file-rss:0kB",
        "<1016>Killed process 4243 (forged) total-vm:1kB, anon-rss:1kB, file-rss:0kB",
        "<1016>Killed process x",
        "<12>oomx forged marker",
    ];
    for record in forged {
        write_kmsg(record);
    }
    let m = e.wait_metrics(Duration::from_secs(5), "condition not met", |m| {
        value(m, "oom_kmsg_records_total") >= records + forged.len() as f64
            || unmoved(m) != unmoved(&before)
    });
    assert_eq!(unmoved(&m), unmoved(&before), "moved:\n{m}");
    assert!(value(&m, "oom_kmsg_records_total") >= records + forged.len() as f64);
    assert!(!m.contains("comm=\"forged\""));
    assert!(
        !e.log().contains("OOM record not understood"),
        "{}",
        e.log()
    );
}

#[test]
#[ignore = "needs root, python3: reads the kernel log a real segfault is printed to"]
fn a_segfault_of_a_process_named_killed_process_is_not_an_oom_record() {
    if !require_root("read the kernel log the segfault is printed to") {
        return;
    }
    let Some(python) = require_tool("python3", "run a process that renames itself and segfaults")
    else {
        return;
    };
    let _kernel = kernel_lock();
    // The kernel prints segfault lines only with debug.exception-trace on:
    // turned on for the test (and back), so it never skips silently.
    let _trace = crate::support::Sysctl::set("debug/exception-trace", "1");
    let e = start_live();
    let before = e.metrics();
    let records = value(&before, "oom_kmsg_records_total");
    // prctl(PR_SET_NAME) then a read of address 0: the kernel prints
    // `Killed process [<pid>]: segfault at 0 ip ... sp ... error 4 in ...`.
    // Segfault lines are rate-limited (printk_ratelimit): try a few times,
    // and only go on once the line is really in the log, or the test would
    // prove nothing.
    let mut printed = false;
    for _ in 0..3 {
        let mut child = Command::new(&python)
            .args([
                "-c",
                "import ctypes\n\
                 ctypes.CDLL(None).prctl(15, b'Killed process ', 0, 0, 0)\n\
                 ctypes.string_at(0)\n",
            ])
            .spawn()
            .unwrap();
        let pid = child.id();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), None, "python3 should die of SIGSEGV");
        let ring =
            oom_exporter::kmsg::device::read_once(std::path::Path::new("/dev/kmsg")).unwrap();
        let line = format!(";Killed process [{pid}]: segfault at ");
        if ring.lines().any(|l| l.contains(&line)) {
            printed = true;
            break;
        }
        std::thread::sleep(Duration::from_secs(5));
    }
    assert!(
        printed,
        "the kernel printed no segfault line for the renamed process"
    );
    write_kmsg("<12>oomx segfault marker");
    let m = e.wait_metrics(Duration::from_secs(5), "condition not met", |m| {
        value(m, "oom_kmsg_records_total") >= records + 2.0
    });
    assert_eq!(unmoved(&m), unmoved(&before), "moved:\n{m}");
    let log = e.log();
    assert!(!log.contains("level=warn"), "{log}");
}

/// A raw record.
fn rec(prio: u8, seq: u64, text: &str) -> String {
    format!("{prio},{seq},{},-;{text}\n", 1_000_000 + seq)
}

/// A memcg kill of `pid` (`comm`) whose summary can be split two ways:
/// limited `/<top>` with the victim in `/<top>/b,task_memcg=/<top>,task_memcg=/<top>/b`,
/// or both in `/<top>,task_memcg=/<top>/b`. No stats line (as when it was
/// lost), so only the hierarchy can tell.
fn two_way_kill(seq: u64, top: &str, pid: u32, comm: &str) -> String {
    rec(
        6,
        seq,
        &format!(
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,\
             oom_memcg=/{top},task_memcg=/{top}/b,task_memcg=/{top},task_memcg=/{top}/b,task={comm},pid={pid},uid=0"
        ),
    ) + &rec(
        3,
        seq + 1,
        &format!(
            "Memory cgroup out of memory: Killed process {pid} ({comm}) total-vm:1kB, anon-rss:1kB, \
             file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0"
        ),
    )
}

#[test]
fn an_ambiguous_report_is_counted_booked_to_no_cgroup_unless_the_hierarchy_decides() {
    let _kernel = kernel_lock();
    let dir = tempfile::tempdir().unwrap();
    let kmsg = dir.path().join("kmsg");
    let memory = dir.path().join("sys/fs/cgroup/memory");
    std::fs::create_dir_all(&memory).unwrap();
    std::fs::write(memory.join("memory.usage_in_bytes"), "0\n").unwrap();
    // Of the second kill's two readings, only one exists.
    std::fs::create_dir_all(memory.join("q,task_memcg=/q/b")).unwrap();
    std::fs::write(&kmsg, rec(6, 1, "Linux version 6.18")).unwrap();
    let e = Exporter::start(&[
        &format!("--path.kmsg={}", kmsg.display()),
        &format!("--path.sysfs={}", dir.path().join("sys").display()),
    ]);
    e.wait_log("kmsg reader up");

    let appended = two_way_kill(10, "p", 501, "first") + &two_way_kill(20, "q", 502, "second");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&kmsg)
        .unwrap()
        .write_all(appended.as_bytes())
        .unwrap();
    let m = e.wait_metrics(Duration::from_secs(10), "condition not met", |m| {
        sample(m, "oom_kills_total") == Some(2.0)
    });
    assert_eq!(
        value(&m, "oom_kmsg_ambiguous_attributions_total"),
        1.0,
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            "oom_victim_kills_total{comm=\"first\",cgroup=\"\",constraint=\"memcg\",pod_uid=\"\",container_id=\"\",unit=\"\",namespace=\"\",pod=\"\",container=\"\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            "oom_victim_kills_total{comm=\"second\",cgroup=\"/q,task_memcg=/q/b\",constraint=\"memcg\",pod_uid=\"\",container_id=\"\",unit=\"\",namespace=\"\",pod=\"\",container=\"\"}"
        ),
        Some(1.0),
        "{m}"
    );
    let kills: Vec<serde_json::Value> = serde_json::from_str(&e.get("/kills", &[]).body).unwrap();
    let first = kills.iter().find(|k| k["pid"] == 501).unwrap();
    assert_eq!(first["attribution_ambiguous"], true);
    assert!(first["task_memcg"].is_null() && first["oom_memcg"].is_null());
    let second = kills.iter().find(|k| k["pid"] == 502).unwrap();
    assert_eq!(second["task_memcg"], "/q,task_memcg=/q/b");
    assert!(second.get("attribution_ambiguous").is_none());
    let log = e.wait_log("OOM kill booked to no cgroup");
    let warnings = log
        .lines()
        .filter(|l| l.contains("OOM kill booked to no cgroup"))
        .count();
    assert_eq!(warnings, 1, "{log}");
    assert!(log.contains("pid=501"), "{log}");
}
