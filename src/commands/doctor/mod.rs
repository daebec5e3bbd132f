//! `oom_exporter doctor`: the checklist for a host before the OOM killer
//! runs, applied to the live system, one line per check with its evidence.
//!
//! - [`gather`]: reads the host once into a [`Snapshot`] (all the I/O)
//! - [`memory`]: the host-wide checks (swap, overcommit, MemAvailable, PSI)
//! - [`workload`]: the checks of processes, cgroups and past kills
//!
//! The checks are pure functions of the snapshot; this file runs them and
//! prints the result as text or as one JSON object.

pub mod gather;
pub mod memory;
pub mod workload;
#[cfg(test)]
mod workload_tests;

use std::io::Write;

use serde::Serialize;

use crate::commands::Doctor;
use crate::kmsg::oom::Kill;
use crate::parse::pressure::Pressure;

/// Everything the checks look at, read once.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `/proc/meminfo`, or why it could not be read.
    pub memory: Result<Memory, String>,
    /// The `vm.overcommit_*` settings, or why they could not be read.
    pub overcommit: Result<Overcommit, String>,
    /// `/proc/pressure/memory`, or why the kernel does not provide it.
    pub pressure: Result<Pressure, String>,
    /// The process scan, or why it failed.
    pub processes: Result<Processes, String>,
    /// Every memory cgroup below the root, or why there are none to read.
    pub cgroups: Result<Vec<Cgroup>, String>,
    /// The kills in the kernel's ring buffer, or why it could not be read.
    pub kills: Result<Kills, String>,
}

/// The fields of `/proc/meminfo` the checks use, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub total: Option<u64>,
    pub available: Option<u64>,
    pub swap_total: Option<u64>,
    pub swap_free: Option<u64>,
    pub committed_as: Option<u64>,
    pub commit_limit: Option<u64>,
}

/// `vm.overcommit_memory` and the settings that size CommitLimit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overcommit {
    pub mode: i64,
    pub ratio: Option<i64>,
    pub kbytes: Option<i64>,
}

/// One process as the checks see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: u32,
    pub comm: String,
    pub oom_score: u32,
    pub oom_score_adj: i32,
    pub rss_bytes: u64,
    pub cgroup: Option<String>,
    /// Matches `--collector.process.include`.
    #[serde(skip)]
    pub critical: bool,
}

/// What the process scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processes {
    /// `--collector.process.include`, if given.
    pub include: Option<String>,
    /// Processes matching it (at most [`gather::MAX_CRITICAL`]).
    pub critical: Vec<Process>,
    /// The highest `oom_score` among user processes.
    pub next_victim: Option<Process>,
    /// Processes left out for lack of permission.
    pub denied: usize,
    /// Processes left out because a file could not be read or parsed.
    pub errors: usize,
    /// The `hidepid=` option hiding other users' processes, if any.
    pub hidden: Option<String>,
}

/// One memory cgroup: its path and the values read now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cgroup {
    pub path: String,
    pub usage: Option<u64>,
    /// Hard limit; `None` when unlimited.
    pub limit: Option<u64>,
}

/// The kills in the ring buffer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kills {
    pub count: u64,
    pub last: Option<Kill>,
}

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    /// One sentence with the numbers.
    pub summary: String,
    /// The same numbers as fields, for scripts.
    pub evidence: serde_json::Value,
}

impl Check {
    /// A check that passed.
    pub fn ok(name: &'static str, summary: String, evidence: serde_json::Value) -> Self {
        Self {
            name,
            status: Status::Ok,
            summary,
            evidence,
        }
    }

    /// A check that warns.
    pub fn warn(name: &'static str, summary: String, evidence: serde_json::Value) -> Self {
        Self {
            name,
            status: Status::Warn,
            summary,
            evidence,
        }
    }

    /// `ok` or `warn` as `warn` says.
    pub fn new(
        name: &'static str,
        warn: bool,
        summary: String,
        evidence: serde_json::Value,
    ) -> Self {
        if warn {
            Self::warn(name, summary, evidence)
        } else {
            Self::ok(name, summary, evidence)
        }
    }
}

/// Every check, in the order they are printed.
pub fn checks(s: &Snapshot) -> Vec<Check> {
    vec![
        memory::swap(&s.memory),
        memory::overcommit(&s.memory, &s.overcommit),
        memory::available(&s.memory),
        memory::pressure(&s.pressure),
        workload::critical(&s.processes),
        workload::cgroups(&s.cgroups),
        workload::next_victim(&s.processes),
        workload::kills(&s.kills),
    ]
}

/// The whole report as JSON.
#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    warnings: usize,
    checks: &'a [Check],
}

/// Writes `checks` to `out`, as text or JSON; true when none warns.
pub fn print(checks: &[Check], json: bool, out: &mut dyn Write) -> std::io::Result<bool> {
    let warnings = checks.iter().filter(|c| c.status == Status::Warn).count();
    if json {
        let report = Report {
            ok: warnings == 0,
            warnings,
            checks,
        };
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in checks {
            writeln!(
                out,
                "{:<4}  {:<width$}  {}",
                c.status.as_str(),
                c.name,
                printable(&c.summary)
            )?;
        }
    }
    Ok(warnings == 0)
}

/// Runs the command: gathers, checks, prints. `Ok(true)` when nothing warns.
pub fn run(args: &Doctor, out: &mut dyn Write) -> anyhow::Result<bool> {
    let snapshot = gather::gather(args);
    Ok(print(&checks(&snapshot), args.json, out)?)
}

/// `text` with control characters escaped (`\n`, `\u{1b}`), so a comm
/// or a path cannot break a line or drive the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `bytes` in MiB or GiB, one decimal.
pub fn size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let mib = bytes as f64 / MIB;
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.1} MiB")
    }
}

/// `part` over `whole` in percent (0 when `whole` is 0).
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(512 * 1024 * 1024), "512.0 MiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
        assert_eq!(percent(1, 0), 0.0);
        assert_eq!(percent(1, 4), 25.0);
        assert_eq!(printable("a\"b'c\n\u{1b}"), "a\"b'c\\n\\u{1b}");
    }

    #[test]
    fn text_and_json_and_verdict() {
        let checks = vec![
            Check::ok("swap", "fine".into(), serde_json::json!({})),
            Check::warn("pressure", "bad\nline".into(), serde_json::json!({"a": 1})),
        ];
        let mut out = Vec::new();
        assert!(!print(&checks, false, &mut out).unwrap());
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "ok    swap      fine\nwarn  pressure  bad\\nline\n");
        let mut out = Vec::new();
        print(&checks, true, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["warnings"], 1);
        assert_eq!(v["checks"][1]["status"], "warn");
        assert_eq!(v["checks"][1]["evidence"]["a"], 1);
        let mut out = Vec::new();
        assert!(print(&checks[..1], false, &mut out).unwrap());
    }
}
