//! The process collector on the live /proc and on a fixture tree.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{
    BIN, Exporter, KillOnDrop, as_nobody, copy_fixture, fixture, require_root, sample, wait,
};

/// A child that holds about 64 MiB and sleeps; killed on drop.
struct Hog(KillOnDrop);

impl Hog {
    fn start(adj: i32) -> Self {
        let child = Command::new("perl")
            .args(["-e", "$x = 'a' x 64_000_000; sleep 120"])
            .stdout(Stdio::null())
            .spawn()
            .expect("perl (Debian's perl-base) is needed");
        let child = KillOnDrop(child);
        let pid = child.id();
        std::fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string()).unwrap();
        // Wait until the memory is touched and the size settles.
        let mut last = 0;
        wait::until(
            Duration::from_secs(10),
            Duration::from_millis(200),
            "hog never settled",
            || {
                let rss = vm_rss(pid);
                let settled = rss >= 60 * 1024 * 1024 && rss == last;
                last = rss;
                if settled {
                    Ok(())
                } else {
                    Err(format!("RSS {rss}"))
                }
            },
        );
        Self(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

fn vm_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The value of the first sample of `family` whose labels contain `pid="N"`.
fn for_pid(metrics: &str, family: &str, pid: u32) -> Option<f64> {
    let needle = format!("pid=\"{pid}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{family}{{")) && l.contains(&needle))
        .find_map(|l| l.rsplit_once(' ')?.1.parse().ok())
}

#[test]
fn a_process_with_oom_score_adj_1000_is_the_next_victim() {
    let hog = Hog::start(1000);
    let pid = hog.pid();
    let e = Exporter::start(&["--collector.disable-defaults", "--collector.process"]);
    let m = e.metrics();
    let score: f64 = std::fs::read_to_string(format!("/proc/{pid}/oom_score"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(score >= 1000.0, "oom_score {score}");
    assert!(
        m.lines()
            .any(|l| l.starts_with("oom_process_next_victim_info{")
                && l.contains(&format!("pid=\"{pid}\""))),
        "pid {pid} is not the next victim:\n{}",
        m.lines()
            .filter(|l| l.contains("next_victim") || l.starts_with("oom_process_score{"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let reported = for_pid(&m, "oom_process_score", pid).unwrap();
    assert!(
        (reported - score).abs() <= 5.0,
        "score {reported} vs {score}"
    );
    assert_eq!(for_pid(&m, "oom_process_score_adj", pid), Some(1000.0));
    assert_eq!(sample(&m, "oom_process_max_score"), Some(reported));
    let rss = for_pid(&m, "oom_process_resident_memory_bytes", pid).unwrap();
    let now = vm_rss(pid) as f64;
    assert!(
        rss >= 60.0 * 1024.0 * 1024.0 && (rss - now).abs() < now * 0.1,
        "RSS {rss} vs {now}"
    );
    assert!(for_pid(&m, "oom_process_resident_anon_bytes", pid).unwrap() >= 60.0 * 1024.0 * 1024.0);

    // Gone from the next scrape once it exits: no stale series.
    drop(hog);
    let m = e.metrics();
    assert!(
        !m.contains(&format!("pid=\"{pid}\"")),
        "stale series for {pid}"
    );
}

#[test]
fn an_included_process_is_reported_outside_the_top_n() {
    let mut sleeper = Command::new("sleep").arg("123.4567").spawn().unwrap();
    let pid = sleeper.id();
    std::fs::write(format!("/proc/{pid}/oom_score_adj"), "-900").unwrap_or(());
    let e = Exporter::start(&[
        "--collector.disable-defaults",
        "--collector.process",
        "--collector.process.top-n=1",
        r"--collector.process.include=^sleep 123\.4567$",
    ]);
    let m = e.metrics();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(
        for_pid(&m, "oom_process_score", pid).is_some(),
        "included pid {pid} missing"
    );
    let reported = m
        .lines()
        .filter(|l| l.starts_with("oom_process_score{"))
        .count();
    assert_eq!(reported, 2, "top 1 plus the included one");
}

#[test]
fn top_command_prints_the_ranking() {
    let out = Command::new(BIN)
        .arg(format!("--path.procfs={}", fixture("processes").display()))
        .args(["top", "-n", "3"])
        .arg(format!(
            "--path.varlog={}",
            crate::support::repo()
                .join("tests/fixtures/kubelet-logs")
                .display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].contains("OOM_SCORE") && lines[0].contains("CGROUP"));
    // The pod's names, from the fixture kubelet log tree.
    assert!(lines[0].contains("NAMESPACE/POD/CONTAINER"), "{text}");
    assert!(
        lines[1].contains(" batch/worker-6b8f7c9d4-kq2lm/worker "),
        "{text}"
    );
    for (line, (pid, comm, score)) in lines[1..].iter().zip([
        (1100, "java", 1999),
        (2005, "excluded-job", 1500),
        (1011, "worker-11", 707),
    ]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            (cells[0], cells[1], cells[3]),
            (pid.to_string().as_str(), comm, score.to_string().as_str()),
            "{line}"
        );
    }
    assert!(lines[1].contains("7812.5MiB"), "{}", lines[1]);
}

/// Regression (issue 12): collector flags after the subcommand were
/// refused with "unexpected argument".
#[test]
fn top_takes_collector_flags_after_the_subcommand() {
    let out = Command::new(BIN)
        .args(["top", "-n", "2", "--collector.process.exclude", "^excluded"])
        .arg(format!("--path.procfs={}", fixture("processes").display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let comms: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(comms, ["java", "worker-11"], "{text}");
}

#[test]
#[ignore = "needs root: runs the exporter as nobody"]
fn unreadable_processes_are_counted_and_said_once() {
    if !require_root("run the exporter as another user against mode-000 files") {
        return;
    }
    let dir = copy_fixture("processes");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for pid in ["3000", "3001"] {
        let file = dir.path().join(pid).join("oom_score");
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let e = Exporter::start_with(
        as_nobody(),
        &[
            &format!("--path.procfs={}", dir.path().display()),
            "--collector.disable-defaults",
            "--collector.process",
        ],
    );
    for _ in 0..3 {
        let m = e.metrics();
        assert_eq!(sample(&m, "oom_process_scan_denied"), Some(2.0));
        assert_eq!(
            sample(&m, "oom_scrape_collector_success{collector=\"process\"}"),
            Some(1.0)
        );
    }
    let log = e.wait_log("permission denied");
    assert_eq!(
        log.matches("some processes are unreadable").count(),
        1,
        "{log}"
    );
}

#[test]
#[ignore = "needs root: mounts a procfs, runs the exporter as nobody"]
fn hidepid_is_detected_and_said() {
    if !require_root("mount a procfs with hidepid and run the exporter as another user") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "proc", "-o", "hidepid=invisible", "proc"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(mounted.success(), "mount proc with hidepid");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(dir.path().to_path_buf());
    let e = Exporter::start_with(
        as_nobody(),
        &[
            &format!("--path.procfs={}", dir.path().display()),
            "--collector.disable-defaults",
            "--collector.process",
        ],
    );
    let m = e.metrics();
    assert_eq!(sample(&m, "oom_process_scan_hidepid"), Some(1.0), "{m}");
    e.wait_log("hidepid");
    drop(e);
}

/// Review of issue 12: `top` dropped processes with garbage files without
/// a word (the collector counts them in oom_process_scan_errors).
#[test]
fn top_says_which_processes_it_left_out() {
    let dir = copy_fixture("processes");
    std::fs::write(dir.path().join("1100/oom_score"), "garbage\n").unwrap();
    let out = Command::new(BIN)
        .args(["top", "-n", "3"])
        .arg(format!("--path.procfs={}", dir.path().display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("java"), "{text}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("1 process(es) left out"), "{err}");
    assert!(err.contains("1100/oom_score"), "{err}");
}
