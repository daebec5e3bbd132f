//! `oom_exporter report` on a saved report, and `GET /report` on an
//! exporter whose history holds the same report fed as raw kmsg records.

use std::process::Command;

use crate::support::{BIN, Exporter, kernel_lock, repo};

const MEMCG: &str = "tests/fixtures/reports/10-proxmox-5.15-pve-lxc-cgroupv2-dmesgT-de.log";

fn has(md: &str, line: &str) {
    assert!(md.lines().any(|l| l == line), "no line {line:?} in\n{md}");
}

/// What every report of fixture 10's kill says, wherever it comes from.
fn memcg_report(md: &str) {
    has(md, "# OOM kill of `php-fpm` (pid 3902942)");
    has(
        md,
        "- Constraint: memcg: the memory cgroup `/lxc/39004` hit its limit: usage 29.8 GiB of limit 29.8 GiB (100%), failcnt 83420",
    );
    has(
        md,
        "| 1 | 3902942 | 1000 | `php-fpm` (victim) | 12.2 GiB | 0 B | 0 |",
    );
    has(
        md,
        "- [ ] The limit was 29.8 GiB and the cgroup `/lxc/39004` used all of it: raise it or look for a leak.",
    );
}

fn report(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).arg("report").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn report_of_a_saved_log() {
    let path = repo().join(MEMCG);
    let (code, md, err) = report(&["--input", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    memcg_report(&md);
    has(&md, "- Host: not known (read from a saved log)");
    assert!(!md.contains("## Now"), "{md}");
    let (code, md, err) = report(&["--input", path.to_str().unwrap(), "--seq", "5"]);
    assert_eq!((code, md.as_str()), (1, ""));
    assert!(err.contains("no OOM kill with seq 5"), "{err}");
    let (code, _, err) = report(&["--seq", "1", "--last"]);
    assert_eq!(code, 2, "{err}");
}

/// Fixture 10 as raw kmsg records from seq 500, stamps a second apart
/// from 1000 s: the kill's record is the last.
fn raw_records() -> (String, u64) {
    let text = std::fs::read_to_string(repo().join(MEMCG)).unwrap();
    let mut raw = String::new();
    let mut seq = 500;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let msg = match line.strip_prefix('[') {
            Some(rest) => rest.split_once("] ").map_or(line, |(_, m)| m),
            None => line,
        };
        raw.push_str(&format!("6,{seq},{},-;{msg}\n", 1_000_000_000 + seq * 1000));
        seq += 1;
    }
    (raw, seq - 1)
}

#[test]
fn report_served_from_the_history() {
    let _kernel = kernel_lock();
    let dir = tempfile::tempdir().unwrap();
    let kmsg = dir.path().join("kmsg");
    let (raw, kill_seq) = raw_records();
    std::fs::write(&kmsg, raw).unwrap();
    let e = Exporter::start(&[&format!("--path.kmsg={}", kmsg.display())]);
    e.wait_log("kmsg reader up");
    let last = e.get("/report", &[]);
    assert_eq!(last.status, 200, "{}", last.body);
    assert_eq!(
        last.header("content-type"),
        Some("text/markdown; charset=utf-8")
    );
    memcg_report(&last.body);
    has(&last.body, &format!("- Kernel log record: seq {kill_seq}"));
    // Served live: what is true now is read from this host.
    assert!(last.body.contains("\n## Now\n"), "{}", last.body);
    has(&last.body, "- Cgroup `/lxc/39004`: gone (or unreadable)");
    let by_seq = e.get(&format!("/report?seq={kill_seq}"), &[]);
    assert_eq!(by_seq.status, 200, "{}", by_seq.body);
    memcg_report(&by_seq.body);
    let missing = e.get("/report?seq=1", &[]);
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("no OOM kill with seq 1"),
        "{}",
        missing.body
    );
}
