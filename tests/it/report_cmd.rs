//! `oom_exporter report` on a saved report, `GET /report` on an exporter
//! whose history holds the same report fed as raw kmsg records, and on one
//! that saw a real memcg OOM (needs root; the cgroup is removed after).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{BIN, Exporter, MemCgroup, kernel_lock, repo, require_root, wait};

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
    has(
        &md,
        "- Host: not in the log, kernel 5.15.158-2-pve (as the saved log says)",
    );
    assert!(!md.contains("## Now"), "{md}");
    let (code, md, err) = report(&["--input", path.to_str().unwrap(), "--seq", "5"]);
    assert_eq!((code, md.as_str()), (1, ""));
    assert!(err.contains("no OOM kill with seq 5"), "{err}");
    let (code, _, err) = report(&["--seq", "1", "--last"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn report_of_stdin() {
    let mut child = Command::new(BIN)
        .args(["report", "--input", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(repo().join(MEMCG)).unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    memcg_report(&String::from_utf8(out.stdout).unwrap());
}

/// Fixture 10 as raw kmsg records from seq 500, stamps a second apart
/// from 1000 s: the kill's record is the last.
pub(crate) fn raw_records() -> (String, u64) {
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
    // A saved file, not this host's ring buffer: nothing of this host is
    // said about it (the live part is tested with a real OOM below).
    assert!(!last.body.contains("\n## Now\n"), "{}", last.body);
    has(
        &last.body,
        "- Host: not in the log, kernel 5.15.158-2-pve (as the saved log says)",
    );
    let by_seq = e.get(&format!("/report?seq={kill_seq}"), &[]);
    assert_eq!(by_seq.status, 200, "{}", by_seq.body);
    memcg_report(&by_seq.body);
    // What a dashboard's victim table links to: the newest kill of a command
    // (in a cgroup).
    let by_victim = e.get("/report?comm=php-fpm&cgroup=%2Flxc%2F39004%2Fns%2Fsystem.slice%2Fdocker-a59e4e7d3090c04c6ce5a4b7a8bc85228eb9b96ac00b1284643a8c7c11dda661.scope", &[]);
    assert_eq!(by_victim.status, 200, "{}", by_victim.body);
    memcg_report(&by_victim.body);
    let other = e.get("/report?comm=php-fpm&cgroup=%2Fsomewhere", &[]);
    assert_eq!(other.status, 404, "{}", other.body);
    assert!(
        other.body.contains("no OOM kill of \"php-fpm\""),
        "{}",
        other.body
    );
    let missing = e.get("/report?seq=1", &[]);
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("no OOM kill with seq 1"),
        "{}",
        missing.body
    );
}

/// Bytes from the report's `33.3 MiB`.
fn size(cell: &str) -> f64 {
    let (n, unit) = cell.trim().split_once(' ').unwrap();
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => panic!("unit {unit}"),
    };
    n.parse::<f64>().unwrap() * scale
}

#[test]
#[ignore = "needs root: a memory cgroup and an OOM kill"]
fn a_real_memcg_oom_reported_from_the_exporter() {
    if !require_root("create a memory cgroup and cause an OOM kill") {
        return;
    }
    let _kernel = kernel_lock();
    let cg = MemCgroup::new("rep");
    let e = Exporter::start_reading_kmsg(&[]);
    let mut shell = cg.bystander();
    let victim = shell.id();
    let (hog, _, _) = cg.hog();
    let _ = shell.kill();
    let _ = shell.wait();
    let listed: Vec<serde_json::Value> = wait::until(
        Duration::from_secs(5),
        Duration::from_millis(50),
        "both kills",
        || {
            let r = e.get("/kills", &[]);
            let listed: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap_or_default();
            let both = [victim, hog]
                .iter()
                .all(|p| listed.iter().any(|k| k["pid"] == *p));
            if both { Ok(listed) } else { Err(r.body) }
        },
    );
    let by_pid = |pid: u32| listed.iter().find(|k| k["pid"] == pid).unwrap();
    let seq = |pid: u32| by_pid(pid)["seq"].as_u64().unwrap();

    // The victim's report: the hog held the memory.
    let r = e.get(&format!("/report?seq={}", seq(victim)), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let md = &r.body;
    has(md, &format!("# OOM kill of `sh` (pid {victim})"));
    let rss = top_row(md, hog, "`tail`");
    // All of the 32 MiB limit but the bystander's 4 MB, give or take the
    // file pages rss counts and the cgroup does not.
    assert!((20 << 20) as f64 <= rss && rss <= (34 << 20) as f64, "{md}");
    assert!(
        md.contains(&format!("| 2 | {victim} | 0 | `sh` (victim) |")),
        "{md}"
    );
    has(md, "- The victim was number 2 by RSS.");
    assert!(
        md.contains(&format!(
            "- [ ] The victim was not the largest process: `tail` (pid {hog}) held "
        )),
        "{md}"
    );
    assert!(
        md.contains("- [ ] The victim had oom_score_adj 1000"),
        "{md}"
    );
    // The hog's own kill follows within the incident window.
    assert!(md.contains(&format!(": `tail` (pid {hog}), RSS ")), "{md}");
    // The cgroup still exists: its limit now is read back.
    assert!(
        md.contains(&format!("- Cgroup `{}`: usage ", cg.name))
            && md.contains(" of limit 32 MiB ("),
        "{md}"
    );
    has(
        md,
        &format!(
            "- [ ] The limit of `{}` is still 32 MiB: unchanged since the kill.",
            cg.name
        ),
    );

    // The hog's report: its row holds what its own `Killed process` line
    // says it had, printed moments apart.
    let own: u64 = ["anon_rss_kb", "file_rss_kb", "shmem_rss_kb"]
        .iter()
        .filter_map(|k| by_pid(hog)[k].as_u64())
        .sum::<u64>()
        * 1024;
    let r = e.get(&format!("/report?seq={}", seq(hog)), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let rss = top_row(&r.body, hog, "`tail` (victim)");
    assert!(
        (rss - own as f64).abs() <= own as f64 * 0.05,
        "report says {rss} bytes, the kill line {own}\n{}",
        r.body
    );
    assert!(
        r.body.contains(&format!(": `sh` (pid {victim})")),
        "{}",
        r.body
    );
}

/// The RSS in bytes of the first row of the report's table, which must be
/// `pid` named `comm` (as the table prints it).
fn top_row(md: &str, pid: u32, comm: &str) -> f64 {
    let row = md
        .lines()
        .find(|l| l.starts_with(&format!("| 1 | {pid} | 0 | {comm} | ")))
        .unwrap_or_else(|| panic!("{comm} ({pid}) is not first in\n{md}"));
    size(row.split('|').nth(5).unwrap())
}
