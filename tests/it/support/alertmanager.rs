//! A real Alertmanager (Debian's `prometheus-alertmanager`) with the
//! repository's example configuration, on a free loopback port.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::child::KillOnDrop;
use super::{free_port, repo, request, wait};

/// A running Alertmanager; stopped when dropped.
pub struct Alertmanager {
    _child: KillOnDrop,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Runs with the repository's `deploy/alertmanager.yml`.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!(
                "--config.file={}",
                repo().join("deploy/alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.path().display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager");
        let child = KillOnDrop(child);
        wait::until(
            Duration::from_secs(20),
            Duration::from_millis(100),
            "alertmanager did not start",
            || {
                std::net::TcpStream::connect(addr)
                    .map(drop)
                    .map_err(|e| format!("connect {addr}: {e}"))
            },
        );
        Self {
            _child: child,
            addr,
            _dir: dir,
        }
    }

    /// Alerts Alertmanager holds, as (alertname, instance, severity).
    pub fn alerts(&self) -> Vec<(String, String, String)> {
        let r = request(self.addr, "GET", "/api/v2/alerts", &[]);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
        v.as_array()
            .map(|alerts| {
                alerts
                    .iter()
                    .map(|a| {
                        let l = &a["labels"];
                        let s = |k: &str| l[k].as_str().unwrap_or("").to_owned();
                        (s("alertname"), s("instance"), s("severity"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
