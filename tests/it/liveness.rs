//! A read that never returns (a FIFO standing in for a procfs file on a
//! hung mount): the scrape still answers within its deadline with that
//! collector failed, later scrapes do not queue behind it, `/-/ready` says
//! which collector is stuck, and SIGTERM still ends the process.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Exporter, copy_fixture, sample};

const TREE: &str = "linux-6.18-psi-zswap";

/// Replaces `path` with a FIFO that nobody ever writes: opening it for
/// reading blocks forever.
fn fifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

fn success(metrics: &str, collector: &str) -> Option<f64> {
    sample(
        metrics,
        &format!("oom_scrape_collector_success{{collector=\"{collector}\"}}"),
    )
}

/// GET `/metrics` with `headers`; the status, body and how long it took.
fn timed_scrape(e: &Exporter, headers: &[(&str, &str)]) -> (u16, String, Duration) {
    let start = Instant::now();
    let r = e.get("/metrics", headers);
    (r.status, r.body, start.elapsed())
}

#[test]
fn a_blocked_meminfo_fails_its_collector_within_the_deadline() {
    let dir = copy_fixture(TREE);
    fifo(&dir.path().join("meminfo"));
    let e = Exporter::start(&[
        &format!("--path.procfs={}", dir.path().display()),
        "--web.scrape-timeout=1s",
    ]);
    // Prometheus' header: 2 s, of which the exporter keeps a margin.
    let (status, m, took) = timed_scrape(&e, &[("X-Prometheus-Scrape-Timeout-Seconds", "2")]);
    assert_eq!(status, 200, "{m}");
    assert!(
        took < Duration::from_millis(2000),
        "first scrape took {took:?}"
    );
    assert!(
        took >= Duration::from_millis(1000),
        "gave up early: {took:?}"
    );
    assert_eq!(success(&m, "meminfo"), Some(0.0), "{m}");
    assert!(sample(&m, "oom_memory_total_bytes").is_none());
    for other in ["vmstat", "pressure", "sysctl"] {
        assert_eq!(success(&m, other), Some(1.0), "{other}: {m}");
    }
    assert!(sample(&m, "oom_kernel_kills_total").is_some(), "{m}");
    // Later scrapes (without the header: --web.scrape-timeout) do not wait
    // for the stuck read again, nor start another one behind it.
    for n in 2..=3 {
        let (status, m, took) = timed_scrape(&e, &[]);
        assert_eq!(status, 200, "{m}");
        assert!(
            took < Duration::from_millis(1000),
            "scrape {n} took {took:?}"
        );
        assert_eq!(success(&m, "meminfo"), Some(0.0), "scrape {n}");
        assert_eq!(success(&m, "vmstat"), Some(1.0), "scrape {n}");
    }
    let ready = e.get("/-/ready", &[]);
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.contains("meminfo"), "{}", ready.body);
    assert_eq!(e.get("/-/healthy", &[]).status, 200);
    let log = e.wait_log("collector=meminfo");
    let warnings = log
        .lines()
        .filter(|l| l.contains("level=warn") && l.contains("collector=meminfo"))
        .count();
    assert_eq!(warnings, 1, "said once:\n{log}");
    let (took, status) = e.stop("TERM");
    assert!(took < Duration::from_secs(3), "SIGTERM took {took:?}");
    assert!(status.success(), "{status}");
}

#[test]
fn a_blocked_cmdline_fails_the_process_collector_only() {
    let dir = copy_fixture("processes");
    // Matched against the include pattern only when comm does not match.
    fifo(&dir.path().join("1000/cmdline"));
    let e = Exporter::start(&[
        &format!("--path.procfs={}", dir.path().display()),
        "--collector.disable-defaults",
        "--collector.process",
        "--collector.sysctl",
        "--collector.process.include=^no-such-comm$",
        "--web.scrape-timeout=1s",
    ]);
    for n in 1..=3 {
        let (status, m, took) = timed_scrape(&e, &[]);
        assert_eq!(status, 200, "{m}");
        assert!(
            took < Duration::from_millis(1800),
            "scrape {n} took {took:?}"
        );
        assert_eq!(success(&m, "process"), Some(0.0), "scrape {n}: {m}");
        assert_eq!(success(&m, "sysctl"), Some(1.0), "scrape {n}: {m}");
    }
    let ready = e.get("/-/ready", &[]);
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.contains("process"), "{}", ready.body);
    let (took, _) = e.stop("TERM");
    assert!(took < Duration::from_secs(3), "SIGTERM took {took:?}");
}

/// Regression (review of issue 12): a client that sent a tiny
/// `X-Prometheus-Scrape-Timeout-Seconds` made every collector overrun, so
/// a real scrape arriving meanwhile found them "stuck" and failed, and
/// `/-/ready` said 503. A deadline is never under a second.
#[test]
fn a_tiny_scrape_timeout_header_cannot_fail_other_scrapes() {
    let dir = copy_fixture(TREE);
    // The kernel log is left out: other tests flood it, and this one
    // checks that nothing warns.
    let e = Exporter::start(&[
        &format!("--path.procfs={}", dir.path().display()),
        "--no-collector.kmsg",
    ]);
    let addr = e.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attackers: Vec<_> = (0..3)
        .map(|_| {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    crate::support::request(
                        addr,
                        "GET",
                        "/metrics",
                        &[("X-Prometheus-Scrape-Timeout-Seconds", "0.0000001")],
                    );
                }
            })
        })
        .collect();
    let mut failed = Vec::new();
    for _ in 0..30 {
        let (status, m, _) = timed_scrape(&e, &[("X-Prometheus-Scrape-Timeout-Seconds", "10")]);
        assert_eq!(status, 200);
        let zeros = m
            .lines()
            .filter(|l| l.starts_with("oom_scrape_collector_success{") && l.ends_with(" 0"))
            .count();
        if zeros > 0 {
            failed.push(zeros);
        }
        let ready = e.get("/-/ready", &[]);
        assert_eq!(ready.status, 200, "{}", ready.body);
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for a in attackers {
        a.join().unwrap();
    }
    assert!(
        failed.is_empty(),
        "scrapes with failed collectors: {failed:?}"
    );
    assert!(!e.log().contains("level=warn"), "{}", e.log());
}
