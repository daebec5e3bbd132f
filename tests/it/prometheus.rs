//! A real Prometheus (Debian's `prometheus`) scrapes the real exporter on the
//! live `/proc`; values read back through its query API must match the kernel.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{Exporter, free_port, request, require_tool};

pub struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Scrapes `target` every second as job `oom`.
    fn start(target: SocketAddr) -> Self {
        Self::start_with(&format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: oom\n    static_configs:\n      - targets: ['{target}']\n"
        ))
    }

    /// Runs with the given configuration file contents.
    pub fn start_with(config_text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, config_text).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        Self {
            child,
            addr,
            _dir: dir,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The single value of an instant query, once Prometheus has one.
    pub fn query_until(&self, promql: &str, deadline: Instant) -> f64 {
        loop {
            if let Some(v) = self.query(promql) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no result for {promql} in time; prometheus log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The raw `data` of an instant query, or why it failed.
    pub fn query_data(&self, promql: &str) -> Result<serde_json::Value, String> {
        let path = format!("/api/v1/query?query={}", encode(promql));
        let r = request(self.addr, "GET", &path, &[]);
        let v: serde_json::Value =
            serde_json::from_str(&r.body).map_err(|e| format!("{e}: {}", r.body))?;
        if r.status != 200 {
            return Err(format!("{}: {}", r.status, v["error"]));
        }
        Ok(v["data"].clone())
    }

    pub fn query(&self, promql: &str) -> Option<f64> {
        let path = format!("/api/v1/query?query={}", encode(promql));
        let Ok(stream) = std::net::TcpStream::connect(self.addr) else {
            return None;
        };
        drop(stream);
        let r = request(self.addr, "GET", &path, &[]);
        if r.status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
        let result = v["data"]["result"].as_array()?;
        assert!(
            result.len() <= 1,
            "{promql}: more than one series: {result:?}"
        );
        result.first()?["value"][1].as_str()?.parse().ok()
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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
