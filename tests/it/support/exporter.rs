//! The binary under test, started on `127.0.0.1:0`; the fixture trees it
//! runs on; reading one sample out of `/metrics`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::child::KillOnDrop;
use super::http::{Response, request};
use super::wait;

/// Path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_oom_exporter");

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a generator of the repository (`python3 SCRIPT --check`) and fails
/// with what it says when the committed files it writes are out of date.
pub fn generated_files_are_current(script: &str) {
    let out = std::process::Command::new("python3")
        .arg(repo().join(script))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} --check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fixture procfs tree by name.
pub fn fixture(tree: &str) -> PathBuf {
    repo().join("tests/fixtures/proc").join(tree)
}

/// A running exporter; killed when dropped.
pub struct Exporter {
    pub child: KillOnDrop,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Exporter {
    /// Starts the binary with `args` plus `--web.listen-address=127.0.0.1:0`
    /// and waits until it says where it listens.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(Command::new(BIN), args)
    }

    /// Like [`Exporter::start`], and waits (up to 10 s) until the kernel
    /// log reader is up (`oom_kmsg_up 1`). It watches the log first, not
    /// `/metrics`: a scrape before the reader is up fails the kmsg
    /// collector and logs a warning, which tests that want a quiet log
    /// would then see.
    pub fn start_reading_kmsg(args: &[&str]) -> Self {
        let e = Self::start(args);
        wait::until(
            Duration::from_secs(10),
            Duration::from_millis(20),
            "kmsg reader not up",
            || {
                let log = e.log();
                if log.contains("kmsg reader up") {
                    Ok(())
                } else {
                    Err(log)
                }
            },
        );
        e.wait_metrics(
            Duration::from_secs(5),
            "kmsg reader up but not reported",
            |m| sample(m, "oom_kmsg_up") == Some(1.0),
        );
        e
    }

    /// Like [`Exporter::start`], with a prepared command (e.g. another uid).
    pub fn start_with(mut cmd: Command, args: &[&str]) -> Self {
        let mut child = cmd
            .arg("--web.listen-address=127.0.0.1:0")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start oom_exporter");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("address="))
                {
                    let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| {
                panic!(
                    "exporter did not report its address; log:\n{}",
                    log.lock().unwrap()
                )
            });
        Self {
            child: KillOnDrop(child),
            addr,
            log,
        }
    }

    /// Everything the exporter logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (up to 5 s) until the log contains `needle`, then returns the
    /// whole log; panics with the log if it never does. The log is read by
    /// another thread, so a line may lag the HTTP response that caused it.
    pub fn wait_log(&self, needle: &str) -> String {
        wait::until(
            Duration::from_secs(5),
            Duration::from_millis(20),
            &format!("log never contained {needle:?}"),
            || {
                let log = self.log();
                if log.contains(needle) {
                    Ok(log)
                } else {
                    Err(log)
                }
            },
        )
    }

    /// Scrapes `/metrics` every 20 ms until `ok` holds for the body, and
    /// returns it; after `limit` panics with `what`, the `oom_k*` and
    /// `oom_victim*` lines of the last scrape, and the log.
    pub fn wait_metrics(&self, limit: Duration, what: &str, ok: impl Fn(&str) -> bool) -> String {
        wait::until(limit, Duration::from_millis(20), what, || {
            let m = self.metrics();
            if ok(&m) {
                return Ok(m);
            }
            let kills: Vec<&str> = m
                .lines()
                .filter(|l| l.starts_with("oom_k") || l.starts_with("oom_victim"))
                .collect();
            Err(format!("{}\nlog:\n{}", kills.join("\n"), self.log()))
        })
    }

    /// GET `path` with optional extra headers.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, "GET", path, headers)
    }

    /// The body of `/metrics`, asserting a 200.
    pub fn metrics(&self) -> String {
        let r = self.get("/metrics", &[]);
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    /// Sends a signal and returns how long the process took to exit, and its status.
    pub fn stop(mut self, signal: &str) -> (Duration, std::process::ExitStatus) {
        let start = Instant::now();
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} failed");
        let status = wait::until(
            Duration::from_secs(10),
            Duration::from_millis(10),
            &format!("exporter ignored {signal}"),
            || self.child.try_wait().unwrap().ok_or_else(String::new),
        );
        (start.elapsed(), status)
    }
}

/// The value of the sample whose line starts with `series ` (exact name and
/// labels as printed), or `None`.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .map(|v| v.trim().parse().unwrap())
    })
}

/// Copies a fixture tree into a fresh temporary directory the test may change.
pub fn copy_fixture(tree: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(tree), dir.path());
    dir
}

/// Copies the directory `from` into `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
