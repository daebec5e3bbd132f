//! The real kernel: OOM kills caused inside a memory cgroup with a small
//! limit (cgroup v2 where the unified hierarchy has the memory controller,
//! else v1), read back through the exporter. Needs root; the cgroups are
//! removed afterwards. Tests that touch the kernel log run one at a time.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::MemCgroup;
use crate::support::{Exporter, kernel_lock, require_root, sample};

fn start() -> Exporter {
    Exporter::start_reading_kmsg(&[])
}

/// Polls /metrics until `ok` holds; returns the metrics and when.
fn wait_for(e: &Exporter, limit: Duration, ok: impl Fn(&str) -> bool) -> (String, Instant) {
    let m = e.wait_metrics(limit, "condition not met", ok);
    (m, Instant::now())
}

/// A scrape taken past the kill tracker's reconciliation grace period
/// after another. A deficit against the kernel's oom_kill counter is counted
/// by the first scrape a grace period after the scrape that first saw it, so
/// this shows a kill counted twice; two scrapes in a row cannot.
fn past_grace(e: &Exporter) -> String {
    let grace = oom_exporter::kmsg::tracker::Limits::default().grace;
    let _ = e.metrics();
    std::thread::sleep(grace + Duration::from_secs(1));
    e.metrics()
}

fn kills(m: &str) -> f64 {
    sample(m, "oom_kills_total").unwrap()
}

fn kills_json(e: &Exporter) -> Vec<serde_json::Value> {
    let r = e.get("/kills", &[]);
    assert_eq!(r.status, 200);
    serde_json::from_str(&r.body).unwrap()
}

#[test]
#[ignore = "needs root: a memory cgroup and an OOM kill"]
fn real_oom_kill_counted_once_attributed_listed_and_not_recounted_after_restart() {
    if !require_root("create a memory cgroup and cause an OOM kill") {
        return;
    }
    let _kernel = kernel_lock();
    let cg = MemCgroup::new("kill");
    let e = start();
    assert_eq!(kills(&e.metrics()), 0.0, "oom_kills_total starts at 0");

    let (pid, status, died) = cg.hog();
    assert_eq!(
        status.code(),
        None,
        "the hog should be killed by a signal: {status}"
    );
    let (m, seen) = wait_for(&e, Duration::from_secs(5), |m| kills(m) >= 1.0);
    assert!(
        seen - died < Duration::from_secs(1),
        "counted {:?} after the kill",
        seen - died
    );
    assert_eq!(kills(&m), 1.0);
    let series = format!(
        "oom_victim_kills_total{{comm=\"tail\",cgroup=\"{}\",constraint=\"memcg\",pod_uid=\"\",container_id=\"\",unit=\"\",namespace=\"\",pod=\"\",container=\"\"}}",
        cg.name
    );
    assert_eq!(sample(&m, &series), Some(1.0), "{m}");
    listed_by_the_exporter(&e, pid, &cg);
    listed_by_the_kills_command(pid, &cg);

    // Past the reconciliation grace period the kernel's counter agrees: no
    // second count.
    let m = past_grace(&e);
    assert_eq!(kills(&m), 1.0);
    assert_eq!(sample(&m, "oom_kills_unattributed_total"), Some(0.0));

    forged_line_not_counted(&e);

    // A restarted exporter lists the kill as history and does not count it.
    let (_, status) = e.stop("TERM");
    assert!(status.success());
    let e = start();
    assert_eq!(
        kills(&past_grace(&e)),
        0.0,
        "the restarted exporter counted an old kill"
    );
    let listed = kills_json(&e);
    let old = listed
        .iter()
        .find(|k| k["pid"] == pid)
        .expect("old kill listed");
    assert_eq!(old["before_start"], true);
}

/// The exporter's `/kills` has the kill `pid` in `cg` first, seen live (not from before its start).
fn listed_by_the_exporter(e: &Exporter, pid: u32, cg: &MemCgroup) {
    let listed = kills_json(e);
    assert_eq!(listed[0]["pid"], pid);
    assert_eq!(listed[0]["comm"], "tail");
    assert_eq!(listed[0]["task_memcg"], cg.name.as_str());
    assert_eq!(listed[0]["before_start"], false);
    assert!(listed[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')));
}

/// The kills command reads the same kill from the live ring buffer.
fn listed_by_the_kills_command(pid: u32, cg: &MemCgroup) {
    let out = Command::new(crate::support::BIN)
        .args(["kills", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let live: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mine = live
        .iter()
        .find(|k| k["pid"] == pid)
        .expect("kill in `kills` output");
    assert_eq!(mine["task_memcg"], cg.name.as_str());
    assert!(mine["time"].as_str().is_some());
}

/// A forged kill line from userspace is not counted.
fn forged_line_not_counted(e: &Exporter) {
    let records = sample(&e.metrics(), "oom_kmsg_records_total").unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .unwrap()
        .write_all(b"<3>Out of memory: Killed process 4242 (forged) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n")
        .unwrap();
    let (m, _) = wait_for(e, Duration::from_secs(5), |m| {
        sample(m, "oom_kmsg_records_total").unwrap() > records
    });
    assert_eq!(kills(&m), 1.0, "a forged line was counted");
    assert!(!m.contains("comm=\"forged\""));
}

/// `2026-11-30T03:20:00.123456Z` as microseconds since the epoch.
fn rfc3339_usec(t: &str) -> i64 {
    assert!(t.len() == 27 && t.ends_with('Z'), "{t}");
    let at = humantime::parse_rfc3339(t).unwrap_or_else(|e| panic!("{t}: {e}"));
    let since = at.duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since.as_micros()).unwrap()
}

#[test]
#[ignore = "needs root: a memory cgroup and an OOM kill"]
fn kill_time_is_the_same_in_every_view() {
    if !require_root("create a memory cgroup and cause an OOM kill") {
        return;
    }
    let _kernel = kernel_lock();
    let cg = MemCgroup::new("when");
    let e = start();
    let (pid, status, _) = cg.hog();
    assert_eq!(status.code(), None, "the hog should be killed: {status}");
    let (m, _) = wait_for(&e, Duration::from_secs(5), |m| kills(m) >= 1.0);

    let served = kills_json(&e);
    let served = served[0]["time"].as_str().unwrap().to_owned();
    assert_eq!(kills_json(&e)[0]["pid"], pid);
    let json = Command::new(crate::support::BIN)
        .args(["kills", "--json"])
        .output()
        .unwrap();
    assert!(json.status.success());
    let json = String::from_utf8(json.stdout).unwrap();
    let json = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|k| k["pid"] == pid)
        .expect("kill in `kills --json`");
    let table = Command::new(crate::support::BIN)
        .arg("kills")
        .output()
        .unwrap();
    assert!(table.status.success());
    let table = String::from_utf8(table.stdout).unwrap();
    let row = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(&pid.to_string()))
        .expect("kill in `kills`");
    let listed = row.split_whitespace().next().unwrap();
    assert_eq!(json["time"], served.as_str(), "kills --json vs /kills");
    assert_eq!(listed, served, "kills vs /kills");

    // The metrics' timestamps are the same instant (to the microsecond).
    let usec = rfc3339_usec(&served);
    let series = format!(
        "oom_victim_last_kill_timestamp_seconds{{comm=\"tail\",cgroup=\"{}\",constraint=\"memcg\",pod_uid=\"\",container_id=\"\",unit=\"\",namespace=\"\",pod=\"\",container=\"\"}}",
        cg.name
    );
    for name in ["oom_last_kill_timestamp_seconds", series.as_str()] {
        let value = sample(&m, name).unwrap_or_else(|| panic!("no {name} in\n{m}"));
        assert!(
            (value * 1e6).round() as i64 == usec,
            "{name} {value} vs {served}"
        );
    }
}

#[test]
#[ignore = "needs root: stops the exporter, an OOM kill, floods /dev/kmsg"]
fn kill_while_the_exporter_is_stopped_and_the_ring_buffer_overruns_is_still_counted() {
    if !require_root("stop the exporter, cause an OOM kill and flood /dev/kmsg") {
        return;
    }
    let _kernel = kernel_lock();
    let cg = MemCgroup::new("overrun");
    let e = start();
    let pid = e.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );

    let (_, status, _) = cg.hog();
    assert_eq!(status.code(), None, "the hog should be killed: {status}");
    // Several times the ring buffer, so the kill's record is overwritten.
    // Writes are rate-limited per open file (kernel.printk_devkmsg=ratelimit:
    // 10 per 5 s), so reopen the device every few lines.
    let filler = format!("<6>oomx flood {}\n", "x".repeat(900));
    for _ in 0..1000 {
        let mut kmsg = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/kmsg")
            .unwrap();
        for _ in 0..8 {
            kmsg.write_all(filler.as_bytes()).unwrap();
        }
    }
    assert!(
        Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .unwrap()
            .success()
    );

    let (m, _) = wait_for(&e, Duration::from_secs(20), |m| kills(m) >= 1.0);
    assert_eq!(kills(&m), 1.0);
    assert!(
        sample(&m, "oom_kmsg_records_lost_total").unwrap() > 0.0,
        "{m}"
    );
    assert!(sample(&m, "oom_kmsg_overruns_total").unwrap() >= 1.0, "{m}");
    assert_eq!(kills(&past_grace(&e)), 1.0, "counted twice");
}

#[test]
#[ignore = "needs root: a memory cgroup and an OOM kill"]
fn without_kmsg_kills_are_still_counted_from_the_kernel_counter() {
    if !require_root("cause an OOM kill") {
        return;
    }
    let _kernel = kernel_lock();
    let cg = MemCgroup::new("nokmsg");
    let e = Exporter::start(&["--path.kmsg=/nonexistent/kmsg"]);
    let log = e.wait_log("kmsg reader down");
    assert!(
        log.contains("no such file") && log.contains("/dev/kmsg"),
        "{log}"
    );
    let m = e.metrics();
    assert_eq!(sample(&m, "oom_kmsg_up"), Some(0.0));
    assert_eq!(kills(&m), 0.0);
    assert!(
        sample(&m, "oom_memory_available_bytes").is_some(),
        "other collectors keep working"
    );

    let (_, status, _) = cg.hog();
    assert_eq!(status.code(), None, "the hog should be killed: {status}");
    let (m, _) = wait_for(&e, Duration::from_secs(20), |m| kills(m) >= 1.0);
    assert_eq!(kills(&m), 1.0);
    assert_eq!(sample(&m, "oom_kills_unattributed_total"), Some(1.0));
}

#[test]
#[ignore = "needs root: memory cgroups and OOM kills"]
fn a_cgroup_named_like_report_fields_gets_its_own_kills_not_the_pods_it_names() {
    if !require_root("create memory cgroups and cause OOM kills") {
        return;
    }
    let _kernel = kernel_lock();
    // What a user who may create cgroups below `base` does: `mkdir -p` of a
    // path whose levels together spell another cgroup's report fields. The
    // kernel prints `oom_memcg=<path>,task_memcg=<path>,task=tail,...` with
    // the commas unescaped.
    let uid = "10d16a28-60ff-475f-a631-510d9792219f";
    let base = MemCgroup::new("spoof");
    let forged = base.child("x,task_memcg=", "64M");
    let kubepods = forged.child("kubepods", "64M");
    let burstable = kubepods.child("burstable", "64M");
    let with_task = burstable.child(&format!("pod{uid},task="), "32M");
    let exact = burstable.child(&format!("pod{uid}"), "32M");
    let e = start();

    let (pid1, status, _) = with_task.hog();
    assert_eq!(status.code(), None, "the hog should be killed: {status}");
    let (pid2, status, _) = exact.hog();
    assert_eq!(status.code(), None, "the hog should be killed: {status}");
    let (m, _) = wait_for(&e, Duration::from_secs(5), |m| kills(m) >= 2.0);
    assert_eq!(kills(&m), 2.0);
    assert!(
        !m.contains(&format!("pod_uid=\"{uid}\"")),
        "a kill was booked to the pod:\n{m}"
    );
    for cg in [&with_task, &exact] {
        let series = format!(
            "oom_victim_kills_total{{comm=\"tail\",cgroup=\"{}\",constraint=\"memcg\",pod_uid=\"\",container_id=\"\",unit=\"\",namespace=\"\",pod=\"\",container=\"\"}}",
            cg.name
        );
        assert_eq!(sample(&m, &series), Some(1.0), "{series}\n{m}");
    }
    assert_eq!(
        sample(&m, "oom_kmsg_ambiguous_attributions_total"),
        Some(0.0),
        "the report is unambiguous once read right"
    );
    let listed = kills_json(&e);
    for (pid, cg) in [(pid1, &with_task), (pid2, &exact)] {
        let k = listed
            .iter()
            .find(|k| k["pid"] == pid)
            .expect("kill listed");
        assert_eq!(k["task_memcg"], cg.name.as_str(), "{k}");
        // The limit hit is the leaf's or, with equal limits, the base's.
        let oom = k["oom_memcg"].as_str().unwrap();
        assert!(oom == base.name || oom == cg.name, "{k}");
        assert!(k["pod_uid"].is_null(), "{k}");
    }
    // `oom_exporter kills` reads the same ring buffer the same way.
    let out = Command::new(crate::support::BIN)
        .args(["kills", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let live = String::from_utf8(out.stdout).unwrap();
    for (pid, cg) in [(pid1, &with_task), (pid2, &exact)] {
        let k: serde_json::Value = live
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|k| k["pid"] == pid)
            .expect("kill in `kills` output");
        assert_eq!(k["task_memcg"], cg.name.as_str(), "{k}");
        assert!(k["pod_uid"].is_null(), "{k}");
    }
}
