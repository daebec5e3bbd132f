//! The line parsers: each line of an OOM report that the event joiner
//! ([`super::parser`]) uses, recognised on its own, as the kernel prints it.
//!
//! - `<comm> invoked oom-killer: gfp_mask=...`: the header, a new event
//! - `oom-kill:constraint=...` (5.0+): the summary
//! - `Memory cgroup stats for <path>:`: the limited cgroup
//! - `Task in <task> killed as a result of limit of <oom>` (before 5.0)
//! - `Tasks in <path> are going to be killed due to memory.oom.group set`
//! - `[<message>: ]Kill process N (comm) score S` (before 5.0): memcg or not
//! - `[<message>: ]Killed process N (comm) total-vm:...`: the kill
//!
//! Which cgroups a line names is read by [`crate::kmsg::attribution`].

use crate::kmsg::attribution::{self, Reading, Summary};
use crate::kmsg::input::Line;
use crate::kmsg::record::{raw_len, unescape};

use super::Constraint;
use super::report::{self, Trigger};

/// The most bytes a comm holds (`TASK_COMM_LEN` less its NUL).
const MAX_COMM: usize = 15;

/// One line of an OOM report.
#[derive(Debug)]
pub enum ReportLine<'a> {
    /// The header, with the (unescaped) command whose allocation invoked
    /// the OOM killer and what it asked for.
    Invoked(String, Trigger),
    /// The 5.0+ `oom-kill:` summary.
    Summary(Summary),
    /// The limited cgroup, from `Memory cgroup stats for`.
    StatsFor(String),
    /// The readings of a pre-5.0 `Task in`.
    TaskIn(Vec<Reading>),
    /// The (unescaped) cgroup whose memory.oom.group is killed.
    Group(String),
    /// A pre-5.0 `Kill process N (comm)` line: whether a memory cgroup was
    /// out of memory, and the task selected (its comm still escaped), whose
    /// child may be killed instead.
    Selected {
        memcg: bool,
        selected: Option<(u32, &'a str)>,
    },
    /// A `Killed process` line the kernel wrote, after `message`; `None`
    /// when it has no pid and comm.
    Killed {
        message: &'a str,
        killed: Option<Killed<'a>>,
    },
}

/// The report line `line` is, if any.
pub fn classify<'a>(line: &Line<'a>) -> Option<ReportLine<'a>> {
    let text = line.text;
    if let Some((invoker, rest)) = invoked(text) {
        return Some(ReportLine::Invoked(
            unescape(invoker),
            report::trigger(rest),
        ));
    }
    if let Some(summary) = text.strip_prefix("oom-kill:").and_then(Summary::parse) {
        return Some(ReportLine::Summary(summary));
    }
    if let Some(limited) = attribution::stats_for(text) {
        return Some(ReportLine::StatsFor(limited));
    }
    // A kernel record holds the whole line; a pasted log may wrap it.
    if let Some(readings) = text
        .strip_prefix("Task in ")
        .and_then(|rest| attribution::task_in(rest, line.seq.is_some()))
    {
        return Some(ReportLine::TaskIn(readings));
    }
    if let Some(path) = group(text) {
        return Some(ReportLine::Group(unescape(path)));
    }
    if let Some((prefix, rest)) = text.split_once("Kill process ") {
        let message = oom_message(prefix).filter(|m| kernel_wrote(m, rest))?;
        return Some(ReportLine::Selected {
            memcg: message.starts_with("Memory cgroup"),
            selected: selected(rest),
        });
    }
    let (prefix, rest) = text.split_once("Killed process ")?;
    let message = oom_message(prefix).filter(|m| kernel_wrote(m, rest))?;
    Some(ReportLine::Killed {
        message,
        killed: parse_killed(rest),
    })
}

/// The invoking comm (still escaped) of `<comm> invoked oom-killer:
/// gfp_mask=...`, and the text from `gfp_mask=` on.
fn invoked(text: &str) -> Option<(&str, &str)> {
    let (invoker, rest) = text.split_once(" invoked oom-killer: ")?;
    (raw_len(invoker) <= MAX_COMM && rest.starts_with("gfp_mask=")).then_some((invoker, rest))
}

/// The pid and comm (still escaped) of `N (comm) score S[ or sacrifice
/// child]`, the text after `Kill process `.
fn selected(rest: &str) -> Option<(u32, &str)> {
    let (pid, after) = rest.split_once(" (")?;
    let (comm, _) = after.rsplit_once(") score ")?;
    Some((pid.parse().ok()?, comm))
}

/// The path (still escaped) of `Tasks in <path> are going to be killed due
/// to memory.oom.group set`.
fn group(text: &str) -> Option<&str> {
    text.strip_prefix("Tasks in ")
        .and_then(|r| r.strip_suffix(" are going to be killed due to memory.oom.group set"))
        .filter(|p| p.starts_with('/'))
}

/// What ran out, as the message before `Killed process` says.
pub fn message_constraint(message: &str) -> Constraint {
    if message.starts_with("Memory cgroup") {
        Constraint::Memcg
    } else if message.starts_with("Out of memory") {
        Constraint::Global
    } else {
        Constraint::Unknown
    }
}

/// The message before `Kill process` / `Killed process`, if it is one the
/// OOM killer prints: none (3.x-4.x), `Out of memory`, `Memory cgroup out of
/// memory`, `Out of memory (oom_kill_allocating_task)`.
fn oom_message(prefix: &str) -> Option<&str> {
    if prefix.is_empty() {
        return Some("");
    }
    let message = prefix.strip_suffix(": ")?;
    matches!(
        message,
        "Out of memory"
            | "Memory cgroup out of memory"
            | "Out of memory (oom_kill_allocating_task)"
    )
    .then_some(message)
}

/// The parts of a `Killed process` line after those two words.
#[derive(Debug)]
pub struct Killed<'a> {
    pub pid: u32,
    /// As printed (still escaped).
    pub comm: &'a str,
    pub uid: Option<u32>,
    fields: Vec<(&'a str, &'a str)>,
}

impl Killed<'_> {
    /// A `key:NkB` field, in kB. Every kernel prints the unit: a value
    /// without it was cut (a syslog line limit, a pager) and is null.
    pub fn kb(&self, key: &str) -> Option<u64> {
        let (_, v) = self.fields.iter().find(|(k, _)| *k == key)?;
        v.strip_suffix("kB")?.parse().ok()
    }

    /// The `oom_score_adj:` field (5.4+).
    pub fn oom_score_adj(&self) -> Option<i32> {
        let (_, v) = self.fields.iter().find(|(k, _)| *k == "oom_score_adj")?;
        v.parse().ok()
    }
}

/// `N (comm) total-vm:..` (mainline), `N (comm), UID U, total-vm:..` (RHEL 7.8+),
/// `N, UID U, (comm) total-vm:..` (RHEL 6).
fn parse_killed(rest: &str) -> Option<Killed<'_>> {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let pid: u32 = rest[..digits].parse().ok()?;
    let mut after = &rest[digits..];
    let mut uid = None;
    if let Some(r) = after.strip_prefix(", UID ") {
        let (u, r) = r.split_once(", ")?;
        uid = u.parse().ok();
        after = r;
    } else {
        after = after.strip_prefix(' ')?;
    }
    let inner = after.strip_prefix('(')?;
    let close = [") total-vm:", "), UID "]
        .iter()
        .filter_map(|m| inner.rfind(m))
        .max()
        .or_else(|| inner.rfind(')'))?;
    let comm = &inner[..close];
    let mut tail = &inner[close + 1..];
    if let Some(r) = tail.strip_prefix(", UID ") {
        let (u, r) = r.split_once(", ").unwrap_or((r, ""));
        uid = u.parse().ok();
        tail = r;
    }
    let mut fields = Vec::new();
    for token in tail.split([',', ' ']).filter(|t| !t.is_empty()) {
        if let Some((k, v)) = token.split_once(':') {
            if k == "UID" {
                uid = v.parse().ok().or(uid);
            }
            fields.push((k, v));
        }
    }
    Some(Killed {
        pid,
        comm,
        uid,
        fields,
    })
}

/// Whether `Kill[ed] process <rest>` after `message` is the OOM killer's.
/// Kernels before 4.19 print it bare, at the start of the line, where a
/// comm of 15 bytes such as `Killed process ` also goes, followed by other
/// text (`[pid]: segfault at ...`): bare, it must go on with a pid.
fn kernel_wrote(message: &str, rest: &str) -> bool {
    !message.is_empty() || rest.bytes().next().is_some_and(|b| b.is_ascii_digit())
}
