//! The command line, in node_exporter's style (`--web.listen-address`,
//! `--path.procfs`, `--[no-]collector.<name>`), turned into a [`Config`]
//! for the server or the settings of a [`crate::commands`] command.
//!
//! - this file: the flags of the server, and their conversion
//! - [`commands`]: the subcommands' flags, folded into the global ones
//! - [`report_args`]: the flags of `report`
//! - [`collector_flags`]: `--[no-]collector.<name>` for every collector
//! - [`values`]: parsers of flag values (durations, regexes, addresses) and the log settings' names
//! - [`generate`]: shell completions and man pages made from these definitions

mod collector_flags;
mod commands;
mod generate;
mod report_args;
mod values;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

pub use collector_flags::CollectorFlags;
pub use commands::{Command, DoctorArgs, KillsArgs, SystemPaths, TopArgs};
pub use values::{Format, Level};
use values::{
    parse_duration, parse_regex, parse_telemetry_path, parse_timeout, resolve_listen_address,
};

use crate::config::{Config, ConfigError, LogConfig};

/// Prometheus exporter that tells you the Linux OOM killer is coming, and
/// whom it killed.
///
/// Serves, read from the kernel at scrape time: system memory, swap,
/// overcommit and its settings, pressure stall information (PSI), the
/// processes the OOM killer would pick next (oom_score, oom_score_adj, RSS)
/// and every container's or service's memory cgroup against its limit.
/// Counts every OOM kill from /dev/kmsg with its victim (command, cgroup,
/// pod, container, systemd unit) and lists the recent ones at /kills; run as
/// root, or with CAP_SYSLOG, to name the victims. The top and kills
/// commands print who is next and who was killed; doctor checks the host
/// against the OOM checklist.
#[derive(Debug, Parser)]
#[command(name = "oom_exporter", version = version_line(), max_term_width = 100)]
pub struct Cli {
    /// Address on which to expose metrics and the web interface
    /// (`:PORT` listens on every IPv4 address).
    #[arg(long = "web.listen-address", value_name = "ADDR",
          default_value = DEFAULT_LISTEN, value_parser = resolve_listen_address)]
    pub listen_address: SocketAddr,

    /// Web configuration (exporter-toolkit format: tls_server_config,
    /// http_server_config.headers, basic_auth_users); reloaded on SIGHUP and
    /// when the file changes.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config: Option<PathBuf>,

    /// Scrapes served at the same time; more get 503 (0: no limit).
    #[arg(long = "web.max-requests", value_name = "N", default_value_t = 40,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub max_requests: u32,

    /// Time a client has to send its request headers or finish the TLS
    /// handshake before the connection is closed (e.g. 10s).
    #[arg(long = "web.header-timeout", value_name = "DURATION", default_value = "10s",
          value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// Longest life of a connection, so a client that stops reading its
    /// responses cannot hold one forever (scrapers just reconnect).
    #[arg(long = "web.connection-lifetime", value_name = "DURATION", default_value = "60s",
          value_parser = parse_duration)]
    pub connection_lifetime: Duration,

    /// Deadline of a scrape without Prometheus' X-Prometheus-Scrape-Timeout-Seconds
    /// header (with it, the header's value less 0.5s); a collector that has not
    /// finished by then is reported failed (e.g. 10s).
    #[arg(long = "web.scrape-timeout", value_name = "DURATION", default_value = "10s",
          value_parser = parse_timeout)]
    pub scrape_timeout: Duration,
    /// Open connections allowed from one client address (an IPv6 client
    /// counts by its /64); more are closed at once, so one address cannot
    /// take every connection (0: no limit but the overall 512).
    #[arg(long = "web.max-connections-per-client", value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub max_connections_per_client: u32,

    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", value_name = "PATH", default_value = "/metrics",
          value_parser = parse_telemetry_path)]
    pub telemetry_path: String,

    /// procfs mountpoint; set to the host's /proc mounted into a container
    /// (e.g. /host/proc).
    #[arg(long = "path.procfs", value_name = "DIR", default_value = "/proc")]
    pub procfs: PathBuf,

    /// sysfs mountpoint; the memory cgroup hierarchy is under
    /// <DIR>/fs/cgroup (e.g. /host/sys in a container).
    #[arg(long = "path.sysfs", value_name = "DIR", default_value = "/sys")]
    pub sysfs: PathBuf,

    /// The host's /var/log (e.g. /host/var/log in a container): Kubernetes
    /// namespace, pod and container names are read from the entry names of
    /// the kubelet's <DIR>/pods and <DIR>/containers (absent: no names).
    #[arg(long = "path.varlog", value_name = "DIR", default_value = "/var/log")]
    pub varlog: PathBuf,

    /// Most cgroups reported (each has at most 12 series on cgroup v2, 8 on
    /// v1).
    #[arg(long = "collector.cgroup.max", value_name = "N", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub cgroup_max: u32,

    /// Also report cgroups whose path matches this regular expression.
    #[arg(long = "collector.cgroup.include", value_name = "REGEX", value_parser = parse_regex)]
    pub cgroup_include: Option<regex::Regex>,

    /// Never report cgroups whose path matches this regular expression.
    #[arg(long = "collector.cgroup.exclude", value_name = "REGEX", value_parser = parse_regex)]
    pub cgroup_exclude: Option<regex::Regex>,

    /// How long a vanished cgroup keeps its last values (so a final OOM
    /// kill is seen) before its series are dropped (e.g. 15m).
    #[arg(long = "collector.cgroup.retention", value_name = "DURATION", default_value = "15m",
          value_parser = parse_duration)]
    pub cgroup_retention: Duration,

    /// Kernel log device to tail for OOM kills.
    #[arg(long = "path.kmsg", value_name = "FILE", default_value = "/dev/kmsg")]
    pub kmsg: PathBuf,

    /// Most victim series (`oom_victim_kills_total`) kept; the least
    /// recently killed is dropped first.
    #[arg(long = "collector.kmsg.max-victims", value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_victims: u32,

    /// A victim series not killed again for this long is dropped
    /// (e.g. 90s, 30m, 24h, 7d).
    #[arg(long = "collector.kmsg.victim-ttl", value_name = "DURATION", default_value = "24h",
          value_parser = parse_duration)]
    pub victim_ttl: Duration,

    /// Most recent kills kept for `GET /kills` and `GET /report`.
    #[arg(long = "collector.kmsg.history", value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub history: u32,

    /// Processes reported by rank: the N with the highest oom_score.
    #[arg(long = "collector.process.top-n", value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub top_n: u32,

    /// Also report every process whose comm or command line matches this
    /// regular expression (unanchored), whatever its rank.
    #[arg(long = "collector.process.include", value_name = "REGEX", value_parser = parse_regex)]
    pub include: Option<regex::Regex>,

    /// Never report processes whose comm or command line matches this
    /// regular expression (unanchored).
    #[arg(long = "collector.process.exclude", value_name = "REGEX", value_parser = parse_regex)]
    pub exclude: Option<regex::Regex>,

    /// Most processes reported because of --collector.process.include
    /// beyond the top N (bounds the series count).
    #[arg(long = "collector.process.include-max", value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub include_max: u32,

    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", value_name = "LEVEL", value_enum, default_value_t = Level::Info)]
    pub log_level: Level,

    /// Output format of log messages.
    #[arg(long = "log.format", value_name = "FORMAT", value_enum, default_value_t = Format::Logfmt)]
    pub log_format: Format,

    #[command(flatten)]
    pub collectors: CollectorFlags,

    #[command(subcommand)]
    pub command: Option<Command>,
}

fn version_line() -> String {
    format!(
        "{} (revision {}, {}/{})",
        crate::VERSION,
        crate::REVISION,
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The default of `--web.listen-address`: `config::DEFAULT_PORT` on every
/// IPv4 address (the `defaults` test keeps the two equal).
const DEFAULT_LISTEN: &str = ":10490";

impl Cli {
    /// The process collector's selection flags.
    pub fn process_selection(&self) -> crate::proc::scan::Selection {
        crate::proc::scan::Selection {
            top_n: self.top_n as usize,
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            include_max: self.include_max as usize,
        }
    }

    /// Turns the parsed command line into a validated [`Config`]; the web
    /// configuration file is read and checked here, once.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let process = self.process_selection();
        let web_config = self.web_config;
        Config {
            listen_address: self.listen_address,
            telemetry_path: self.telemetry_path,
            procfs: self.procfs,
            collectors: self.collectors.enabled,
            kmsg: self.kmsg,
            kill_limits: crate::kmsg::tracker::Limits {
                max_victims: self.max_victims as usize,
                victim_ttl: self.victim_ttl,
                history: self.history as usize,
                ..Default::default()
            },
            process,
            sysfs: self.sysfs,
            varlog: self.varlog,
            cgroups: crate::cgroup::Selection {
                max: self.cgroup_max as usize,
                include: self.cgroup_include,
                exclude: self.cgroup_exclude,
                retention: self.cgroup_retention,
            },
            web_config: None,
            max_requests: if self.max_requests == 0 {
                tokio::sync::Semaphore::MAX_PERMITS
            } else {
                self.max_requests as usize
            },
            header_timeout: self.header_timeout,
            connection_lifetime: self.connection_lifetime,
            scrape_timeout: self.scrape_timeout,
            max_connections_per_client: self.max_connections_per_client as usize,
            log: LogConfig {
                level: self.log_level.into(),
                format: self.log_format.into(),
            },
        }
        .validate()?
        .with_web_config(web_config)
    }
}

/// Exits for a command-line error: help and version go to stdout with code
/// 0; a usage error prints its first line only and exits with 2.
pub fn exit_for(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        _ => {
            let text = error.render().to_string();
            let first = text.lines().next().unwrap_or("invalid command line");
            eprintln!("oom_exporter: {}", first.trim_start_matches("error: "));
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_PORT;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("oom_exporter").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let cli = parse(&[]).unwrap();
        assert_eq!(
            cli.listen_address,
            SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT))
        );
        assert_eq!(cli.telemetry_path, "/metrics");
        assert_eq!(cli.procfs, PathBuf::from("/proc"));
        assert_eq!(
            cli.collectors.enabled,
            [
                "meminfo", "vmstat", "pressure", "sysctl", "process", "cgroup", "kmsg"
            ]
        );
        assert_eq!(cli.kmsg, PathBuf::from("/dev/kmsg"));
        assert_eq!(cli.victim_ttl, Duration::from_secs(86_400));
        assert_eq!((cli.max_victims, cli.history), (100, 100));
        assert_eq!(cli.max_connections_per_client, 32);
        let cli = parse(&["--web.max-connections-per-client=0"]).unwrap();
        assert_eq!(cli.max_connections_per_client, 0);
        assert!(parse(&["--web.max-connections-per-client=-1"]).is_err());
    }

    #[test]
    fn collector_pairs_last_wins() {
        let cli = parse(&["--no-collector.vmstat"]).unwrap();
        assert_eq!(
            cli.collectors.enabled,
            ["meminfo", "pressure", "sysctl", "process", "cgroup", "kmsg"]
        );
        let cli = parse(&["--no-collector.vmstat", "--collector.vmstat"]).unwrap();
        assert!(cli.collectors.enabled.contains(&"vmstat".to_owned()));
        let cli = parse(&["--collector.vmstat", "--no-collector.vmstat"]).unwrap();
        assert!(!cli.collectors.enabled.contains(&"vmstat".to_owned()));
    }

    #[test]
    fn disable_defaults_keeps_explicit_ones() {
        let cli = parse(&["--collector.disable-defaults", "--collector.pressure"]).unwrap();
        assert_eq!(cli.collectors.enabled, ["pressure"]);
    }

    #[test]
    fn listen_address_forms() {
        assert_eq!(
            resolve_listen_address(":9").unwrap(),
            SocketAddr::from(([0, 0, 0, 0], 9))
        );
        assert_eq!(resolve_listen_address("[::1]:80").unwrap().port(), 80);
        assert!(parse(&["--web.listen-address", "nonsense"]).is_err());
        assert!(parse(&["--web.listen-address", ":99999"]).is_err());
    }

    #[test]
    fn process_flags() {
        let cli = parse(&[
            "--collector.process.top-n=5",
            "--collector.process.include=^(postgres|redis)",
        ])
        .unwrap();
        assert_eq!(cli.top_n, 5);
        assert!(cli.include.unwrap().is_match("postgres"));
        assert!(parse(&["--collector.process.include=(unclosed"]).is_err());
        assert!(parse(&["--collector.process.top-n=5000"]).is_err());
        let cli = parse(&["top", "-n", "3"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Top(TopArgs {
                n: 3,
                cgroups: false,
                ..
            }))
        ));
    }

    #[test]
    fn telemetry_path_must_be_absolute() {
        assert!(parse(&["--web.telemetry-path", "metrics"]).is_err());
        assert!(parse(&["--web.telemetry-path", "/"]).is_err());
        assert!(parse(&["--web.telemetry-path", "/-/healthy"]).is_err());
        for bad in ["/kills", "/:x", "/*x", "/{x}", "//x"] {
            assert!(parse(&["--web.telemetry-path", bad]).is_err(), "{bad}");
        }
        assert!(parse(&["--web.telemetry-path", "/x/metrics"]).is_ok());
    }

    #[test]
    fn bad_values_exit_2_with_one_line() {
        let err = parse(&["--log.level", "loud"]).unwrap_err();
        assert_eq!(exit_for(&err), ExitCode::from(2));
    }

    #[test]
    fn procfs_must_exist() {
        let cli = parse(&["--path.procfs", "/nonexistent/proc"]).unwrap();
        let err = cli.into_config().unwrap_err();
        assert!(err.to_string().contains("/nonexistent/proc"), "{err}");
    }
}
