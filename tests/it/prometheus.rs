//! A real Prometheus (Debian's `prometheus`) scrapes the real exporter on the
//! live `/proc`; values read back through its query API must match the kernel.

use std::time::{Duration, Instant};

use crate::support::{Exporter, Prometheus, require_tool};

fn meminfo_bytes(key: &str) -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap();
    let kb: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024.0
}

fn psi_total_seconds(resource: &str, kind: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/pressure/{resource}")).unwrap();
    let line = text.lines().find(|l| l.starts_with(kind)).unwrap();
    let total = line.rsplit_once("total=").unwrap().1.trim();
    total.parse::<f64>().unwrap() / 1e6
}

#[test]
#[ignore = "needs prometheus"]
fn prometheus_scrapes_values_that_match_proc() {
    if require_tool("prometheus", "scrape the exporter with a real Prometheus").is_none() {
        return;
    }
    let exporter = Exporter::start(&[]);
    // Absent before 4.20; EOPNOTSUPP when booted with psi=0.
    let psi = std::fs::read_to_string("/proc/pressure/memory").is_ok()
        && std::fs::read_to_string("/proc/pressure/cpu").is_ok();
    let (mem_before, cpu_before) = if psi {
        (
            psi_total_seconds("memory", "some"),
            psi_total_seconds("cpu", "some"),
        )
    } else {
        eprintln!("this kernel has no readable PSI: the PSI part of the check is skipped");
        (0.0, 0.0)
    };
    let prometheus = Prometheus::start(exporter.addr);
    let deadline = Instant::now() + Duration::from_secs(60);

    assert_eq!(prometheus.query_until("up{job=\"oom\"}", deadline), 1.0);
    let available = prometheus.query_until("oom_memory_available_bytes", deadline);
    let now = meminfo_bytes("MemAvailable");
    let total = meminfo_bytes("MemTotal");
    // Other tests run alongside and allocate; 2% of RAM is far below any unit
    // mistake (kB vs bytes is a factor of 1024).
    assert!(
        (available - now).abs() < total * 0.02,
        "Prometheus says MemAvailable {available}, /proc/meminfo now {now}"
    );
    assert_eq!(
        prometheus.query_until("oom_memory_total_bytes", deadline),
        total
    );

    if psi {
        for (resource, before) in [("memory", mem_before), ("cpu", cpu_before)] {
            let q = format!(
                "oom_pressure_stalled_seconds_total{{resource=\"{resource}\",kind=\"some\"}}"
            );
            let got = prometheus.query_until(&q, deadline);
            let after = psi_total_seconds(resource, "some");
            assert!(
                before - 1e-6 <= got && got <= after + 1e-6,
                "{resource}: Prometheus {got}s, /proc/pressure between {before}s and {after}s"
            );
        }
    }
    for collector in ["meminfo", "vmstat", "pressure", "sysctl"] {
        let q = format!("oom_scrape_collector_success{{collector=\"{collector}\"}}");
        assert_eq!(prometheus.query_until(&q, deadline), 1.0, "{collector}");
    }
}
