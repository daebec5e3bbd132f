//! A real Prometheus (Debian's `prometheus`) on a free loopback port with a
//! configuration of the test's, queried through its HTTP API.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::child::KillOnDrop;
use super::{free_port, repo, request, wait};

/// A running Prometheus; stopped when dropped.
pub struct Prometheus {
    _child: KillOnDrop,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `target` every second as job `oom`.
    pub fn start(target: SocketAddr) -> Self {
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
            _child: KillOnDrop(child),
            addr,
            dir,
        }
    }

    /// What Prometheus logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The single value of an instant query, once Prometheus has one.
    pub fn query_until(&self, promql: &str, deadline: Instant) -> f64 {
        wait::until_deadline(
            deadline,
            Duration::from_millis(250),
            &format!("no result for {promql}"),
            || {
                self.query(promql)
                    .ok_or_else(|| format!("prometheus log:\n{}", self.log()))
            },
        )
    }

    /// The raw `data` of an instant query, or why it failed.
    pub fn query_data(&self, promql: &str) -> Result<serde_json::Value, String> {
        let path = format!("/api/v1/query?query={}", encode(promql));
        std::net::TcpStream::connect(self.addr).map_err(|e| format!("not up yet: {e}"))?;
        let r = request(self.addr, "GET", &path, &[]);
        let v: serde_json::Value =
            serde_json::from_str(&r.body).map_err(|e| format!("{e}: {}", r.body))?;
        if r.status != 200 {
            return Err(format!("{}: {}", r.status, v["error"]));
        }
        Ok(v["data"].clone())
    }

    /// The single value of an instant query, if it has one now.
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

    /// Prometheus scraping the exporter every second as job `oom`, evaluating the
    /// repo's rules every second and sending alerts to `am`.
    pub fn with_rules(exporter: SocketAddr, am: Option<SocketAddr>) -> Self {
        let rules = repo().join("alerts/oom_exporter.rules.yml");
        let alerting = am
            .map(|a| {
                format!(
                    "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{a}']\n"
                )
            })
            .unwrap_or_default();
        Self::start_with(&format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n{alerting}\
             scrape_configs:\n  - job_name: oom\n    static_configs:\n      - targets: ['{exporter}']\n",
            rules.display()
        ))
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
