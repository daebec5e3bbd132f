//! Files no kernel writes: endless (`/dev/zero`), huge, or garbage. Each
//! is a read error of its own collector, said in the log and in a metric,
//! and the exporter's memory stays bounded.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Exporter, copy_fixture, request, sample, wait};

fn success(metrics: &str, collector: &str) -> Option<f64> {
    sample(
        metrics,
        &format!("oom_scrape_collector_success{{collector=\"{collector}\"}}"),
    )
}

/// A `kB` field of `/proc/<pid>/status`, in bytes.
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Scrapes `/metrics` `n` times on another thread while watching the
/// exporter's resident memory; kills it (and fails) if that passes
/// `limit`, rather than let it take the machine's memory. Returns the
/// bodies and the exporter's peak resident memory (VmHWM).
fn scrape_watching_memory(e: &Exporter, n: usize, limit: u64) -> (Vec<String>, u64) {
    let addr = e.addr;
    let scrapes = std::thread::spawn(move || {
        (0..n)
            .map(|_| request(addr, "GET", "/metrics", &[]).body)
            .collect::<Vec<_>>()
    });
    let pid = e.child.id();
    let start = Instant::now();
    // On a timeout the panic drops `e`, which kills the exporter.
    wait::until(
        Duration::from_secs(30),
        Duration::from_millis(5),
        "scrapes not done",
        || {
            if scrapes.is_finished() {
                return Ok(());
            }
            let rss = status_kb(pid, "VmRSS:");
            if rss > limit {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                panic!(
                    "exporter reached {} MiB resident after {:?}; killed",
                    rss >> 20,
                    start.elapsed()
                );
            }
            Err(format!("exporter at {} MiB resident", rss >> 20))
        },
    );
    let peak = status_kb(pid, "VmHWM:");
    (scrapes.join().unwrap(), peak)
}

const LIMIT: u64 = 256 << 20;
/// Well above the exporter's own peak on these trees (about 10 MiB), far
/// below a file read whole.
const BOUNDED: u64 = 48 << 20;

#[test]
fn meminfo_linked_to_dev_zero_is_a_read_error() {
    let dir = copy_fixture("linux-6.18-psi-zswap");
    let path = dir.path().join("meminfo");
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
    let e = Exporter::start(&[&format!("--path.procfs={}", dir.path().display())]);
    let (bodies, peak) = scrape_watching_memory(&e, 3, LIMIT);
    for m in &bodies {
        assert_eq!(success(m, "meminfo"), Some(0.0), "{m}");
        assert!(sample(m, "oom_memory_total_bytes").is_none());
        assert_eq!(success(m, "vmstat"), Some(1.0), "{m}");
    }
    assert!(peak < BOUNDED, "peak resident memory {} MiB", peak >> 20);
    let log = e.wait_log("larger than");
    let said = log
        .lines()
        .filter(|l| l.contains("level=warn") && l.contains("meminfo"))
        .count();
    assert_eq!(said, 1, "{log}");
}

#[test]
fn a_100_mb_status_file_is_a_read_error() {
    let dir = copy_fixture("processes");
    // pid 1100 has the highest oom_score: its status is always read.
    let status = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("1100/status"))
        .unwrap();
    status.set_len(100 << 20).unwrap(); // sparse: costs no disk
    drop(status);
    let e = Exporter::start(&[
        &format!("--path.procfs={}", dir.path().display()),
        "--collector.disable-defaults",
        "--collector.process",
    ]);
    let (bodies, peak) = scrape_watching_memory(&e, 3, LIMIT);
    assert!(peak < BOUNDED, "peak resident memory {} MiB", peak >> 20);
    for m in &bodies {
        assert_eq!(sample(m, "oom_process_scan_errors"), Some(1.0), "{m}");
        assert_eq!(success(m, "process"), Some(0.0), "{m}");
        assert!(!m.contains("pid=\"1100\""), "{m}");
        assert!(m.contains("pid=\"1000\""), "the others are served: {m}");
    }
    let log = e.wait_log("1100/status");
    assert!(log.contains("larger than"), "{log}");
}

#[test]
fn garbage_oom_score_and_status_are_read_errors_not_exits() {
    let dir = copy_fixture("processes");
    std::fs::write(dir.path().join("1000/oom_score"), "lots\n").unwrap();
    std::fs::write(
        dir.path().join("1100/status"),
        "\x01\x02 not a status file\n",
    )
    .unwrap();
    let e = Exporter::start(&[
        &format!("--path.procfs={}", dir.path().display()),
        "--collector.disable-defaults",
        "--collector.process",
    ]);
    for _ in 0..3 {
        let m = e.metrics();
        assert_eq!(sample(&m, "oom_process_scan_errors"), Some(2.0), "{m}");
        assert_eq!(success(&m, "process"), Some(0.0), "{m}");
        assert!(m.contains("pid=\"1001\""), "the others are served: {m}");
    }
    let log = e.wait_log("collector=process");
    let said = log
        .lines()
        .filter(|l| l.contains("level=warn") && l.contains("collector=process"))
        .count();
    assert_eq!(said, 1, "said once:\n{log}");
    assert!(log.contains("1000/oom_score"), "{log}");
}
