//! Value parsers of the command line: durations, regular expressions, the
//! listen address and the telemetry path, and the log settings' names.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::config::{LogFormat, LogLevel};

/// Longest duration a flag takes.
const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);

/// `90s`, `30m`, `24h`, `7d`, several of them (`1h30m`), or plain seconds;
/// at most a year. The arithmetic is humantime's; the units are kept to
/// s, m, h and d.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let expected = || format!("expected a duration such as 90s, 30m, 24h, 7d, got {s:?}");
    let duration = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(s.parse().map_err(|_| expected())?)
    } else {
        let units = s
            .split(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .filter(|unit| !unit.is_empty());
        if let Some(unit) = units.clone().find(|u| !matches!(*u, "s" | "m" | "h" | "d")) {
            if s.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!("unknown unit {unit:?} (use s, m, h or d)"));
            }
        }
        match humantime::parse_duration(s) {
            Ok(duration) => duration,
            Err(humantime::DurationError::NumberOverflow) => MAX_DURATION + Duration::from_secs(1),
            Err(_) => return Err(expected()),
        }
    };
    if duration > MAX_DURATION {
        return Err(format!("{s} is longer than a year"));
    }
    Ok(duration)
}

/// A [`parse_duration`] of at least one second and at most
/// [`crate::web::routes::MAX_SCRAPE_TIMEOUT`].
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let (min, max) = (
        crate::web::routes::MIN_SCRAPE_TIMEOUT,
        crate::web::routes::MAX_SCRAPE_TIMEOUT,
    );
    let d = parse_duration(s)?;
    if d < min || d > max {
        return Err(format!(
            "{s}: expected {}s to {}s",
            min.as_secs(),
            max.as_secs()
        ));
    }
    Ok(d)
}

/// A regular expression, its error cut to the line that says what is wrong.
pub fn parse_regex(s: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(s).map_err(|e| {
        format!(
            "invalid regular expression: {}",
            e.to_string().lines().last().unwrap_or("")
        )
    })
}

/// Accepts `HOST:PORT`, `[V6]:PORT` or `:PORT`, resolved once here.
pub fn resolve_listen_address(s: &str) -> Result<SocketAddr, String> {
    if let Some(port) = s.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| format!("bad port {port:?}"))?;
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    s.to_socket_addrs()
        .map_err(|e| format!("expected HOST:PORT or :PORT ({e})"))?
        .next()
        .ok_or_else(|| "host resolves to no address".to_owned())
}

/// A path of its own for the metrics: not `/`, `/kills` or under `/-/`,
/// and nothing axum would read as a pattern.
pub fn parse_telemetry_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s == "/" || s.starts_with("/-/") || s == "/kills" {
        return Err("must start with '/' and not be '/', '/kills' or under '/-/'".to_owned());
    }
    if s.contains([':', '*', '{', '}']) || s.contains("//") {
        return Err("must be a plain path without ':', '*', '{', '}' or '//'".to_owned());
    }
    Ok(s.to_owned())
}

/// `--log.level`, as in node_exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Level {
    /// Only errors.
    Error,
    /// Errors and warnings.
    Warn,
    /// The default: start-up, failures and recoveries.
    Info,
    /// Everything, including recurring failures.
    Debug,
}

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Error => Self::Error,
            Level::Warn => Self::Warn,
            Level::Info => Self::Info,
            Level::Debug => Self::Debug,
        }
    }
}

/// `--log.format`, as in node_exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `key=value` pairs, one event per line.
    Logfmt,
    /// One JSON object per line.
    Json,
}

impl From<Format> for LogFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Logfmt => Self::Logfmt,
            Format::Json => Self::Json,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }

    /// The messages name what was wrong as before the parsing moved to
    /// humantime; the cap is a year; several units add up.
    #[test]
    fn duration_errors_and_limits() {
        assert_eq!(
            parse_duration("1w").unwrap_err(),
            "unknown unit \"w\" (use s, m, h or d)"
        );
        assert_eq!(
            parse_duration("h").unwrap_err(),
            "expected a duration such as 90s, 30m, 24h, 7d, got \"h\""
        );
        assert_eq!(
            parse_duration("").unwrap_err(),
            "expected a duration such as 90s, 30m, 24h, 7d, got \"\""
        );
        assert_eq!(
            parse_duration("99999999999999999999").unwrap_err(),
            "expected a duration such as 90s, 30m, 24h, 7d, got \"99999999999999999999\""
        );
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("366d"), Ok(MAX_DURATION));
        assert_eq!(
            parse_duration("367d").unwrap_err(),
            "367d is longer than a year"
        );
        assert_eq!(
            parse_duration("99999999999999d").unwrap_err(),
            "99999999999999d is longer than a year"
        );
        assert_eq!(
            parse_duration("999999999999999999999d").unwrap_err(),
            "999999999999999999999d is longer than a year"
        );
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("5ms").is_err());
        assert!(parse_duration("1M").is_err(), "months are not minutes");
        assert_eq!(parse_timeout("0").unwrap_err(), "0: expected 1s to 300s");
        assert_eq!(
            parse_timeout("301s").unwrap_err(),
            "301s: expected 1s to 300s"
        );
    }
}
