//! Validated settings, free of clap types. Built once by [`crate::cli`].

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::web::config::WebConfig;

/// The exporter's default port. 9100-9999 is the crowded range of the
/// Prometheus exporter port registry; 10490 lies outside it and outside the
/// Kubernetes (10248-10259) and Thanos (10901-10908) ports.
pub const DEFAULT_PORT: u16 = 10490;

/// Everything the server needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen_address: SocketAddr,
    /// Path serving the metrics, starting with `/`.
    pub telemetry_path: String,
    /// Root of the proc filesystem to read.
    pub procfs: PathBuf,
    /// Names of the enabled collectors.
    pub collectors: Vec<String>,
    /// The kernel log device.
    pub kmsg: PathBuf,
    /// Bounds of the kill tracker.
    pub kill_limits: crate::kmsg::tracker::Limits,
    /// Which processes the process collector reports.
    pub process: crate::proc::scan::Selection,
    /// Root of sysfs (`--path.sysfs`).
    pub sysfs: PathBuf,
    /// The host's /var/log, with the kubelet's `pods` and `containers`
    /// (`--path.varlog`).
    pub varlog: PathBuf,
    /// Which cgroups the cgroup collector reports.
    pub cgroups: crate::cgroup::Selection,
    /// Logging settings.
    pub log: LogConfig,
    /// `--web.config.file` (TLS, basic auth, headers), read and validated
    /// once by [`Config::validate`].
    pub web_config: Option<WebConfig>,
    /// Scrapes served at once; more get 503.
    pub max_requests: usize,
    /// Time a client has to send its request headers (and TLS handshake).
    pub header_timeout: std::time::Duration,
    /// Longest life of a connection.
    pub connection_lifetime: std::time::Duration,
    /// Deadline of a scrape that names none (`--web.scrape-timeout`).
    pub scrape_timeout: std::time::Duration,
    /// Open connections from one client address (0: no limit).
    pub max_connections_per_client: usize,
}

/// How to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Lowest level written.
    pub level: LogLevel,
    /// Line format.
    pub format: LogFormat,
}

/// Log levels, as in node_exporter's `--log.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Only errors.
    Error,
    /// Errors and warnings.
    Warn,
    /// The default: start-up, failures and recoveries.
    Info,
    /// Everything, including recurring failures.
    Debug,
}

/// Log formats, as in node_exporter's `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `key=value` pairs, one event per line.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// A setting that passed clap's syntax checks but makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--path.procfs` does not name a directory.
    #[error("--path.procfs {}: not a directory", .0.display())]
    ProcfsNotADirectory(PathBuf),
    /// The web configuration file is unreadable or invalid.
    #[error("--web.config.file {0}")]
    WebConfig(String),
    /// Every collector is disabled.
    #[error("no collector enabled; enable at least one with --collector.<name>")]
    NoCollectors,
}

impl Config {
    /// Whether the named collector is enabled.
    pub fn enabled(&self, name: &str) -> bool {
        self.collectors.iter().any(|c| c == name)
    }

    /// Checks what can only be checked against the running system.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if !self.procfs.is_dir() {
            return Err(ConfigError::ProcfsNotADirectory(self.procfs));
        }
        if self.collectors.is_empty() {
            return Err(ConfigError::NoCollectors);
        }
        Ok(self)
    }

    /// Reads and validates the web configuration file at `path`, if any.
    /// This is its only read at start: the server begins with these
    /// settings, and only a reload reads the file again.
    pub fn with_web_config(mut self, path: Option<PathBuf>) -> Result<Self, ConfigError> {
        self.web_config = path
            .map(WebConfig::load)
            .transpose()
            .map_err(|e| ConfigError::WebConfig(e.to_string()))?;
        Ok(self)
    }
}
