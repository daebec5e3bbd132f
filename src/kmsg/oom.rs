//! Recognises OOM kills in the kernel log and says who was killed.
//!
//! Feed it message lines in order; it returns a [`Kill`] for every
//! `Killed process` line, the one line the kernel prints for every kill
//! without rate limiting. The lines before it in the same event (the
//! `invoked oom-killer` header, the 5.0+ `oom-kill:` summary, the pre-5.0
//! `Task in ... killed as a result of limit of ...` and `Kill process ...`
//! lines, the `memory.oom.group` line) are joined to it when they belong to
//! the same event; they are rate-limited, so a kill without them is still a
//! kill. Not kills: `OOM victim ... is already exiting`, `Out of memory and
//! no killable processes`, `oom_reaper: reaped process`.
//!
//! Structure is parsed first and comm names are unescaped last, because a
//! comm may contain `(`, `)`, `,`, `=`, `:`, spaces and escaped UTF-8. Which
//! cgroups the lines name is read by [`super::attribution`], so that a cgroup
//! named like report text is never taken for another cgroup. A line only
//! counts when it starts as the kernel starts it: a process can name itself
//! `Killed process ` (15 bytes, the most a comm holds) and have the kernel
//! print `Killed process [pid]: segfault at ...`, which is not a kill.

use serde::Serialize;

use super::attribution::{self, Attribution, Reading, Summary, Victim};
use super::input::{Line, Stamp};
use super::record::{raw_len, unescape};
use crate::cgroup::owner;

/// Lines further apart than this (by their boot-relative time) are not
/// joined into one event.
const EVENT_WINDOW_USEC: u64 = 10_000_000;

/// Victims remembered per event for deduplication; bounds memory when a log
/// holds endless kills without a new header.
const MAX_EVENT_VICTIMS: usize = 4096;

/// The most bytes a comm holds (`TASK_COMM_LEN` less its NUL).
const MAX_COMM: usize = 15;

/// What limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Constraint {
    /// A memory cgroup hit its limit.
    Memcg,
    /// The whole machine ran out.
    Global,
    /// The allowed cpuset's memory nodes ran out.
    Cpuset,
    /// The allowed mempolicy nodes ran out.
    Mempolicy,
    /// The log does not say.
    Unknown,
}

impl Constraint {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memcg => "memcg",
            Self::Global => "global",
            Self::Cpuset => "cpuset",
            Self::Mempolicy => "mempolicy",
            Self::Unknown => "unknown",
        }
    }
}

/// One OOM kill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kill {
    /// Wall-clock time (RFC 3339) when known.
    pub time: Option<String>,
    /// The log's own timestamp when it has no year or zone (`dmesg -T`, BSD syslog).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_time: Option<String>,
    /// Microseconds since boot.
    pub boot_usec: Option<u64>,
    /// kmsg sequence number of the `Killed process` record.
    pub seq: Option<u64>,
    /// Victim pid.
    pub pid: u32,
    /// Victim command name (unescaped).
    pub comm: String,
    /// Victim uid.
    pub uid: Option<u32>,
    /// What ran out.
    pub constraint: Constraint,
    /// The memory cgroup whose limit was hit (memcg OOMs).
    pub oom_memcg: Option<String>,
    /// The victim's memory cgroup.
    pub task_memcg: Option<String>,
    /// Kubernetes pod UID of the victim.
    pub pod_uid: Option<String>,
    /// Container ID of the victim.
    pub container_id: Option<String>,
    /// systemd unit of the victim.
    pub unit: Option<String>,
    /// Virtual memory size, kB.
    pub total_vm_kb: Option<u64>,
    /// Anonymous resident memory, kB.
    pub anon_rss_kb: Option<u64>,
    /// File-backed resident memory, kB.
    pub file_rss_kb: Option<u64>,
    /// Shared-memory resident memory, kB (4.5+).
    pub shmem_rss_kb: Option<u64>,
    /// Page tables, kB (5.4+).
    pub pgtables_kb: Option<u64>,
    /// Victim's oom_score_adj (5.4+).
    pub oom_score_adj: Option<i32>,
    /// Command whose allocation invoked the OOM killer.
    pub invoked_by: Option<String>,
    /// Killed as a member of a `memory.oom.group` cgroup.
    pub oom_group: bool,
    /// The report names the victim's cgroup in a way that fits several
    /// cgroups (or none): the cgroup fields are left empty rather than
    /// guessed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub attribution_ambiguous: bool,
    /// The readings that fit, for a caller that can check them against
    /// the live cgroup hierarchy ([`Kill::attribute`]).
    #[serde(skip)]
    pub candidates: Vec<Reading>,
}

impl Kill {
    /// Books the kill to `reading`'s cgroups and their owner.
    pub fn attribute(&mut self, reading: Reading) {
        let owner = owner::owner(&reading.task_memcg);
        self.oom_memcg = reading.oom_memcg;
        self.task_memcg = Some(reading.task_memcg);
        self.pod_uid = owner.pod_uid;
        self.container_id = owner.container_id;
        self.unit = owner.unit;
        self.attribution_ambiguous = false;
        self.candidates = Vec::new();
    }
}

/// Lines of the current event seen so far.
#[derive(Debug, Default)]
struct Event {
    /// Boot time of the last OOM line of this event.
    last_usec: Option<u64>,
    invoked_by: Option<String>,
    summary: Option<Summary>,
    /// The readings of a pre-5.0 `Task in <task> killed as a result of
    /// limit of <oom>`.
    task_in: Option<Vec<Reading>>,
    /// The limited cgroup, from the event's first `Memory cgroup stats for`.
    limited: Option<String>,
    /// The limited cgroup as the event's first kill was booked to it, for
    /// the members of its memory.oom.group.
    oom_memcg: Option<String>,
    /// Pre-5.0 `... Kill process N (comm) score S`: memcg or not.
    selected_memcg: Option<bool>,
    /// `Tasks in <path> are going to be killed due to memory.oom.group set`.
    group: Option<String>,
    /// The event's victim was killed: later kills without a new header or
    /// summary (rate-limited) get none of this event's context, unless they
    /// are members of its memory.oom.group.
    closed: bool,
    /// Victims of this event, to drop the repeats of a memory.oom.group scan.
    killed: Vec<u32>,
}

impl Event {
    /// A context line (summary, `Task in`, `Kill process`) after the event's
    /// kill starts a new event: its header was rate-limited away.
    fn reopen_if_closed(&mut self) {
        if self.closed {
            *self = Event {
                last_usec: self.last_usec,
                ..Event::default()
            };
        }
    }
}

/// The result of feeding one line.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Not part of an OOM report, or a part that is not a kill.
    Nothing,
    /// A kill.
    Kill(Box<Kill>),
    /// A victim already reported in this event (memory.oom.group repeats it).
    Duplicate(u32),
    /// A line that looks like a kill report but could not be parsed.
    Malformed(&'static str),
}

/// The OOM report parser: feed lines in log order.
#[derive(Debug, Default)]
pub struct Parser {
    event: Event,
}

impl Parser {
    /// A parser with no event in progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one message line.
    pub fn feed(&mut self, line: &Line<'_>) -> Outcome {
        let text = line.text;
        // Cheap filter: every line we care about contains one of these byte
        // sequences; most kernel log lines contain none.
        if !(text.contains("ill")
            || text.contains("Task")
            || text.contains("oom")
            || text.starts_with("Memory cgroup stats for "))
        {
            return Outcome::Nothing;
        }
        let stale = matches!((line.usec, self.event.last_usec), (Some(now), Some(last)) if now.saturating_sub(last) > EVENT_WINDOW_USEC);
        if stale {
            self.event = Event::default();
        }
        self.classify(line)
    }

    /// Notes that `line` belongs to the current event.
    fn touch(&mut self, line: &Line<'_>) {
        if line.usec.is_some() {
            self.event.last_usec = line.usec;
        }
    }

    fn classify(&mut self, line: &Line<'_>) -> Outcome {
        let text = line.text;
        if let Some((invoker, rest)) = text.split_once(" invoked oom-killer: ")
            && raw_len(invoker) <= MAX_COMM
            && rest.starts_with("gfp_mask=")
        {
            self.event = Event {
                last_usec: line.usec,
                invoked_by: Some(unescape(invoker)),
                ..Event::default()
            };
            return Outcome::Nothing;
        }
        if let Some(summary) = text.strip_prefix("oom-kill:").and_then(Summary::parse) {
            self.event.reopen_if_closed();
            self.event.summary = Some(summary);
            self.touch(line);
            return Outcome::Nothing;
        }
        if let Some(limited) = attribution::stats_for(text) {
            self.event.reopen_if_closed();
            self.event.limited.get_or_insert(limited);
            self.touch(line);
            return Outcome::Nothing;
        }
        // A kernel record holds the whole line; a pasted log may wrap it.
        if let Some(readings) = text
            .strip_prefix("Task in ")
            .and_then(|rest| attribution::task_in(rest, line.seq.is_some()))
        {
            self.event.reopen_if_closed();
            self.event.task_in = Some(readings);
            self.touch(line);
            return Outcome::Nothing;
        }
        if let Some(path) = text
            .strip_prefix("Tasks in ")
            .and_then(|r| r.strip_suffix(" are going to be killed due to memory.oom.group set"))
            .filter(|p| p.starts_with('/'))
        {
            self.event.group = Some(unescape(path));
            self.touch(line);
            return Outcome::Nothing;
        }
        if let Some((prefix, rest)) = text.split_once("Kill process ") {
            if let Some(message) = oom_message(prefix).filter(|m| kernel_wrote(m, rest)) {
                self.event.reopen_if_closed();
                self.event.selected_memcg = Some(message.starts_with("Memory cgroup"));
                self.touch(line);
            }
            return Outcome::Nothing;
        }
        if let Some((prefix, rest)) = text.split_once("Killed process ") {
            let Some(message) = oom_message(prefix).filter(|m| kernel_wrote(m, rest)) else {
                return Outcome::Nothing;
            };
            self.touch(line);
            return match parse_killed(rest) {
                Some(killed) => self.kill(line, message, killed),
                None => Outcome::Malformed("`Killed process` line without a pid and comm"),
            };
        }
        Outcome::Nothing
    }

    fn kill(&mut self, line: &Line<'_>, message: &str, k: Killed<'_>) -> Outcome {
        let memcg_message = message.starts_with("Memory cgroup");
        // A member of the memory.oom.group scan that follows `Tasks in`: the
        // kernel prints it with the memcg message, and may repeat the
        // event's first victim.
        let group_member = memcg_message && self.event.group.is_some();
        if !group_member {
            self.event.group = None;
        }
        if group_member && self.event.killed.contains(&k.pid) {
            return Outcome::Duplicate(k.pid);
        }
        if self.event.killed.len() >= MAX_EVENT_VICTIMS {
            self.event.killed.remove(0);
        }
        self.event.killed.push(k.pid);
        let comm = unescape(k.comm);
        let open = !self.event.closed;
        let victim = Victim {
            pid: k.pid,
            comm: k.comm,
            uid: k.uid,
        };
        let from_message = if memcg_message {
            Constraint::Memcg
        } else if message.starts_with("Out of memory") {
            Constraint::Global
        } else {
            Constraint::Unknown
        };
        let limited = self.event.limited.as_deref();
        let summary = self.event.summary.as_ref().filter(|_| open);
        let about = summary.and_then(|s| Some((s, s.about(&victim)?)));
        let mut uid = None;
        let (constraint, attribution) = if let Some((s, about)) = about {
            let constraint = match (s.memcg(), s.constraint()) {
                (Some(true), _) => Constraint::Memcg,
                (_, Some("CONSTRAINT_CPUSET")) => Constraint::Cpuset,
                (_, Some("CONSTRAINT_MEMORY_POLICY")) => Constraint::Mempolicy,
                (Some(false), _) => Constraint::Global,
                (None, _) => from_message,
            };
            uid = about.uid;
            (
                constraint,
                Some(attribution::settle(about.readings, limited)),
            )
        } else if let (true, Some(group)) = (group_member, &self.event.group) {
            let reading = Reading {
                oom_memcg: self.event.oom_memcg.clone(),
                task_memcg: group.clone(),
            };
            (Constraint::Memcg, Some(Attribution::Known(reading)))
        } else if let (true, Some(readings)) = (open, self.event.task_in.take()) {
            (
                Constraint::Memcg,
                Some(attribution::settle(readings, limited)),
            )
        } else {
            let constraint = if open && from_message == Constraint::Unknown {
                match self.event.selected_memcg {
                    Some(true) => Constraint::Memcg,
                    Some(false) => Constraint::Global,
                    None => Constraint::Unknown,
                }
            } else {
                from_message
            };
            // The event's summary names another task (or was cut before the
            // victim's fields): its cgroups cannot be tied to this victim.
            let unmatched = summary.is_some() && !group_member;
            (
                constraint,
                unmatched.then(|| Attribution::Ambiguous(Vec::new())),
            )
        };
        let invoked_by = if open || group_member {
            self.event.invoked_by.clone()
        } else {
            None
        };
        self.event.closed = true;
        self.event.selected_memcg = None;
        let (time, log_time) = match &line.stamp {
            Stamp::None => (None, None),
            Stamp::Rfc3339(t) => (Some(t.clone()), None),
            Stamp::Raw(t) => (None, Some(t.clone())),
        };
        let mut kill = Kill {
            time,
            log_time,
            boot_usec: line.usec,
            seq: line.seq,
            pid: k.pid,
            comm,
            uid: k.uid.or(uid),
            constraint,
            oom_memcg: None,
            task_memcg: None,
            pod_uid: None,
            container_id: None,
            unit: None,
            total_vm_kb: k.field("total-vm"),
            anon_rss_kb: k.field("anon-rss"),
            file_rss_kb: k.field("file-rss"),
            shmem_rss_kb: k.field("shmem-rss"),
            pgtables_kb: k.field("pgtables"),
            oom_score_adj: k
                .fields
                .iter()
                .find(|(key, _)| *key == "oom_score_adj")
                .and_then(|(_, v)| v.parse().ok()),
            invoked_by,
            oom_group: group_member,
            attribution_ambiguous: false,
            candidates: Vec::new(),
        };
        match attribution {
            Some(Attribution::Known(reading)) => {
                if !group_member {
                    self.event.oom_memcg.clone_from(&reading.oom_memcg);
                }
                kill.attribute(reading);
            }
            Some(Attribution::Ambiguous(candidates)) => {
                kill.attribution_ambiguous = true;
                kill.candidates = candidates;
            }
            None => {}
        }
        Outcome::Kill(Box::new(kill))
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
struct Killed<'a> {
    pid: u32,
    comm: &'a str,
    uid: Option<u32>,
    fields: Vec<(&'a str, &'a str)>,
}

impl Killed<'_> {
    fn field(&self, key: &str) -> Option<u64> {
        let (_, v) = self.fields.iter().find(|(k, _)| *k == key)?;
        v.trim_end_matches("kB").parse().ok()
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

/// Parses a whole pasted log (any form [`super::input`] knows) into kills.
pub fn kills_in_log(log: &str) -> Vec<Kill> {
    let mut parser = Parser::new();
    super::input::lines(log)
        .iter()
        .filter(|l| l.facility.is_none_or(|f| f == 0))
        .filter_map(|l| match parser.feed(l) {
            Outcome::Kill(k) => Some(*k),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(log: &str) -> Kill {
        let kills = kills_in_log(log);
        assert_eq!(kills.len(), 1, "{kills:#?}");
        kills.into_iter().next().unwrap()
    }

    #[test]
    fn mainline_5_4_with_summary() {
        let k = one(
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/cron.service,task=php,pid=70787,uid=1000\n\
                     Out of memory: Killed process 70787 (php) total-vm:3621976kB, anon-rss:3235148kB, file-rss:5760kB, shmem-rss:69120kB, UID:1000 pgtables:6960kB oom_score_adj:0",
        );
        assert_eq!((k.pid, k.comm.as_str(), k.uid), (70787, "php", Some(1000)));
        assert_eq!(k.constraint, Constraint::Global);
        assert_eq!(k.task_memcg.as_deref(), Some("/system.slice/cron.service"));
        assert_eq!(k.unit.as_deref(), Some("cron.service"));
        assert_eq!(
            (
                k.anon_rss_kb,
                k.shmem_rss_kb,
                k.pgtables_kb,
                k.oom_score_adj
            ),
            (Some(3_235_148), Some(69_120), Some(6960), Some(0))
        );
    }

    #[test]
    fn rhel6_and_rhel7_variants() {
        let k =
            one("Killed process 1234, UID 48, (httpd) total-vm:123kB, anon-rss:4kB, file-rss:1kB");
        assert_eq!(
            (k.pid, k.comm.as_str(), k.uid, k.total_vm_kb),
            (1234, "httpd", Some(48), Some(123))
        );
        let k = one(
            "Killed process 443160 (stress-ng-vm), UID 0, total-vm:773468kB, anon-rss:152704kB, file-rss:164kB, shmem-rss:0kB",
        );
        assert_eq!(
            (k.pid, k.comm.as_str(), k.uid, k.anon_rss_kb),
            (443_160, "stress-ng-vm", Some(0), Some(152_704))
        );
    }

    #[test]
    fn not_kills() {
        assert!(kills_in_log("OOM victim 123 (java) is already exiting. Skip killing the task\n\
                              Out of memory and no killable processes...\n\
                              oom_reaper: reaped process 4294 (node), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB\n\
                              audit: Killed process 5 (x) total-vm:1kB").is_empty());
    }

    #[test]
    fn oom_group_counts_each_distinct_member_once() {
        let kills = kills_in_log(
            "6,1,100,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/kubepods/pod10d16a28-60ff-475f-a631-510d9792219f,task_memcg=/kubepods/pod10d16a28-60ff-475f-a631-510d9792219f/app,task=web,pid=10,uid=0\n\
             3,2,101,-;Memory cgroup out of memory: Killed process 10 (web) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n\
             6,3,102,-;Tasks in /kubepods/pod10d16a28-60ff-475f-a631-510d9792219f are going to be killed due to memory.oom.group set\n\
             3,4,103,-;Memory cgroup out of memory: Killed process 10 (web) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n\
             3,5,104,-;Memory cgroup out of memory: Killed process 11 (sidecar) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n",
        );
        assert_eq!(kills.iter().map(|k| k.pid).collect::<Vec<_>>(), [10, 11]);
        assert!(kills[1].oom_group);
        assert_eq!(kills[1].constraint, Constraint::Memcg);
        assert_eq!(
            kills[1].pod_uid.as_deref(),
            Some("10d16a28-60ff-475f-a631-510d9792219f")
        );
    }

    #[test]
    fn vendor_empty_constraint() {
        let k = one(
            "oom-kill:,cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=x,pid=5,uid=0\n\
                     Out of memory: Killed process 5 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB",
        );
        assert_eq!(k.constraint, Constraint::Global);
        assert_eq!(k.task_memcg.as_deref(), Some("/"));
    }

    #[test]
    fn pre_5_0_child_sacrificed_for_its_parent() {
        let k = one(
            "[1.000000] app invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0\n\
                     [1.000100] Task in /docker/a3e12dff9d68bc13bde666d06a99315faa310f2d6b35ee101e180440af2f3315 killed as a result of limit of /docker/a3e12dff9d68bc13bde666d06a99315faa310f2d6b35ee101e180440af2f3315\n\
                     [1.000200] Memory cgroup out of memory: Kill process 100 (parent) score 900 or sacrifice child\n\
                     [1.000300] Killed process 101 (child) total-vm:10kB, anon-rss:5kB, file-rss:1kB",
        );
        assert_eq!((k.pid, k.comm.as_str()), (101, "child"));
        assert_eq!(k.constraint, Constraint::Memcg);
        assert_eq!(
            k.container_id.as_deref(),
            Some("a3e12dff9d68bc13bde666d06a99315faa310f2d6b35ee101e180440af2f3315")
        );
    }

    #[test]
    fn forged_userspace_line_is_not_a_kill() {
        // facility 1 (user): written by `echo ... > /dev/kmsg`.
        assert!(
            kills_in_log("12,50,1000,-;Out of memory: Killed process 1 (init) total-vm:1kB")
                .is_empty()
        );
        assert_eq!(
            kills_in_log("3,50,1000,-;Out of memory: Killed process 1 (init) total-vm:1kB").len(),
            1
        );
    }

    #[test]
    fn stale_context_is_not_joined() {
        // The second kill comes 60 s later with no header (rate-limited):
        // it must not inherit the first event's cgroup.
        let kills = kills_in_log(
            "[1.0] Task in /a killed as a result of limit of /a\n\
             [1.1] Memory cgroup out of memory: Kill process 7 (x) score 1 or sacrifice child\n\
             [1.2] Killed process 7 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n\
             [61.0] Killed process 8 (y) total-vm:1kB, anon-rss:1kB, file-rss:0kB",
        );
        assert_eq!(kills.len(), 2);
        assert_eq!(kills[0].task_memcg.as_deref(), Some("/a"));
        assert_eq!(kills[1].task_memcg, None);
        assert_eq!(kills[1].constraint, Constraint::Unknown);
    }

    #[test]
    fn a_burst_beyond_the_rate_limit_counts_every_kill() {
        // Headers and summaries are rate-limited (10 per 5 s); Killed lines are not.
        let mut log = String::new();
        for pid in 1..=50 {
            if pid <= 10 {
                log.push_str(&format!("[5.{pid:06}] p{pid} invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n"));
            }
            log.push_str(&format!("[5.{pid:06}] Memory cgroup out of memory: Killed process {pid} (p{pid}) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n"));
        }
        assert_eq!(kills_in_log(&log).len(), 50);
    }

    #[test]
    fn endless_kills_without_a_header_keep_memory_bounded() {
        let mut p = Parser::new();
        for pid in 0..20_000u32 {
            let text = format!("Killed process {pid} (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB");
            let line = Line {
                seq: None,
                usec: None,
                facility: None,
                stamp: Stamp::None,
                text: &text,
            };
            assert!(matches!(p.feed(&line), Outcome::Kill(_)));
        }
        assert!(p.event.killed.len() <= MAX_EVENT_VICTIMS);
    }

    #[test]
    fn a_later_headerless_kill_gets_no_stale_context() {
        let kills = kills_in_log(
            "[1.0] bash invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n\
             [1.1] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=x,pid=10,uid=0\n\
             [1.2] Memory cgroup out of memory: Killed process 10 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n\
             [1.3] Tasks in /a are going to be killed due to memory.oom.group set\n\
             [1.4] Memory cgroup out of memory: Killed process 11 (y) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n\
             [6.0] Out of memory: Killed process 20 (other) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n\
             [9.9] Memory cgroup out of memory: Killed process 10 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n",
        );
        let pids: Vec<u32> = kills.iter().map(|k| k.pid).collect();
        assert_eq!(
            pids,
            [10, 11, 20, 10],
            "a pid seen before is a new kill outside the group scan"
        );
        assert!(kills[1].oom_group);
        assert_eq!(kills[1].task_memcg.as_deref(), Some("/a"));
        let other = &kills[2];
        assert_eq!(other.constraint, Constraint::Global);
        assert_eq!(
            (
                other.task_memcg.as_deref(),
                other.invoked_by.as_deref(),
                other.oom_group
            ),
            (None, None, false)
        );
        assert_eq!(kills[3].constraint, Constraint::Memcg);
        assert_eq!(kills[3].task_memcg, None);
    }

    #[test]
    fn escaped_cgroup_paths_are_unescaped() {
        let k = one(
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/caf\\xc3\\xa9,task_memcg=/caf\\xc3\\xa9,task=x,pid=5,uid=0\n\
                     Memory cgroup out of memory: Killed process 5 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB",
        );
        assert_eq!(k.task_memcg.as_deref(), Some("/café"));
        assert_eq!(k.oom_memcg.as_deref(), Some("/café"));
    }

    #[test]
    fn only_the_kernels_own_messages_count() {
        assert!(
            kills_in_log("Out of memory in my app: Killed process 5 (x) total-vm:1kB").is_empty()
        );
        assert_eq!(
            kills_in_log(
                "Out of memory (oom_kill_allocating_task): Killed process 5 (x) total-vm:1kB"
            )
            .len(),
            1
        );
    }

    /// A pod the forgeries below try to book their kills to.
    const POD_UID: &str = "10d16a28-60ff-475f-a631-510d9792219f";

    /// Cgroup paths a user with a delegated subtree (`/u`) can create with
    /// `mkdir -p`: a `/` in the forged text just makes another level.
    fn forged_paths() -> Vec<String> {
        let pod = format!("/kubepods/burstable/pod{POD_UID}");
        let fields = [
            "constraint=CONSTRAINT_MEMCG".to_owned(),
            "nodemask=(null)".to_owned(),
            "cpuset=x".to_owned(),
            "mems_allowed=0".to_owned(),
            format!("oom_memcg={pod}"),
            "global_oom".to_owned(),
            format!("task_memcg={pod}"),
            "task=hog".to_owned(),
            "pid=77".to_owned(),
            "uid=1000".to_owned(),
        ];
        let mut paths = vec![
            format!("/u/x,task_memcg={pod},task="),
            format!("/u/x,task_memcg={pod}"),
            format!("/u/x,task_memcg={pod},task=hog,pid=77,uid=1000"),
            format!("/u/x,global_oom,task_memcg={pod}"),
            format!("/u/x,oom_memcg={pod},task_memcg={pod}"),
            format!("/u/x killed as a result of limit of {pod}"),
            format!("/u/a,task_memcg=/u/a/b,task_memcg={pod}"),
        ];
        for f in &fields {
            paths.push(format!("/u/x,{f},task_memcg={pod}"));
            paths.push(format!("/u/x,task_memcg={pod},{f}"));
            paths.push(format!("/u/x,{f}"));
        }
        paths
    }

    const KILLED_6X: &str = "Memory cgroup out of memory: Killed process 77 (hog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:1kB oom_score_adj:0";

    /// The same kill as kernels of several versions report it, with
    /// `oom` the cgroup whose limit was hit and `task` the victim's.
    fn reports(oom: &str, task: &str) -> Vec<(&'static str, String)> {
        vec![
            (
                "6.18 raw kmsg, memcg",
                format!(
                    "4,1,100,-;hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n\
                     6,2,101,-;Memory cgroup stats for {oom}:\n\
                     6,3,102,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg={oom},task_memcg={task},task=hog,pid=77,uid=1000\n\
                     3,4,103,-;{KILLED_6X}\n"
                ),
            ),
            (
                "5.x dmesg, memcg, grep-filtered (no stats line)",
                format!(
                    "[1.000000] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg={oom},task_memcg={task},task=hog,pid=77,uid=1000\n\
                     [1.000100] {KILLED_6X}\n"
                ),
            ),
            (
                "5.1 vendor: memcg OOM said CONSTRAINT_NONE, no UID on the kill line",
                format!(
                    "Jul 30 08:11:33 h kernel: Memory cgroup stats for {oom}:\n\
                     Jul 30 08:11:33 h kernel: oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=docker-1.scope,mems_allowed=0,oom_memcg={oom},task_memcg={task},task=hog,pid=77,uid=1000\n\
                     Jul 30 08:11:33 h kernel: Memory cgroup out of memory: Killed process 77 (hog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB\n"
                ),
            ),
            (
                "4.x: Task in ... killed as a result of limit of ...",
                format!(
                    "[5.000000] hog invoked oom-killer: gfp_mask=0x14000c0(GFP_KERNEL), nodemask=(null), order=0, oom_score_adj=0\n\
                     [5.000100] Task in {task} killed as a result of limit of {oom}\n\
                     [5.000200] memory: usage 1024kB, limit 1024kB, failcnt 3\n\
                     [5.000300] Memory cgroup stats for {oom}: cache:0KB rss:980KB rss_huge:0KB mapped_file:0KB\n\
                     [5.000400] Memory cgroup out of memory: Kill process 77 (hog) score 1 or sacrifice child\n\
                     [5.000500] Killed process 77 (hog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB\n"
                ),
            ),
        ]
    }

    fn assert_not_spoofed(log: &str, what: &str, task: &str) -> Kill {
        let kills = kills_in_log(log);
        assert_eq!(kills.len(), 1, "{what}: the kill must be counted\n{log}");
        let k = kills.into_iter().next().unwrap();
        assert_eq!(k.pod_uid, None, "{what}: booked to the pod\n{log}\n{k:#?}");
        assert!(
            k.task_memcg.is_none() || k.task_memcg.as_deref() == Some(task),
            "{what}: wrong cgroup\n{log}\n{k:#?}"
        );
        assert!(
            k.oom_memcg
                .as_deref()
                .is_none_or(|o| !o.starts_with("/kubepods")),
            "{what}: wrong oom cgroup\n{log}\n{k:#?}"
        );
        k
    }

    #[test]
    fn a_cgroup_named_like_report_fields_is_not_taken_for_another_cgroup() {
        for path in forged_paths() {
            // The victim's own cgroup hit its limit, or its parent's did.
            let child = format!("{path}/c");
            for (oom, task) in [
                (path.as_str(), path.as_str()),
                ("/u", path.as_str()),
                (path.as_str(), child.as_str()),
            ] {
                for (kernel, log) in reports(oom, task) {
                    let what = format!("{kernel}: oom {oom:?}, task {task:?}");
                    let k = assert_not_spoofed(&log, &what, task);
                    // Only this one fits two splits, and then only without
                    // the stats line, which names the limited cgroup alone.
                    let two_splits = oom == path && path.starts_with("/u/a,");
                    if two_splits && !log.contains("Memory cgroup stats for") {
                        assert!(k.attribution_ambiguous, "{what}\n{k:#?}");
                        assert_eq!(k.task_memcg, None, "{what}");
                        assert_eq!(k.candidates.len(), 2, "{what}");
                    } else {
                        assert_eq!(k.task_memcg.as_deref(), Some(task), "{what}\n{k:#?}");
                        assert!(!k.attribution_ambiguous, "{what}");
                    }
                }
            }
            // A global OOM: the victim's cgroup is the only path printed.
            let log = format!(
                "[1.0] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg={path},task=hog,pid=77,uid=1000\n\
                 [1.1] Out of memory: Killed process 77 (hog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:1kB oom_score_adj:0\n"
            );
            let k = assert_not_spoofed(&log, &format!("global, task {path:?}"), &path);
            assert_eq!(k.task_memcg.as_deref(), Some(path.as_str()));
            assert_eq!(k.constraint, Constraint::Global);
        }
    }

    #[test]
    fn a_cpuset_named_like_report_fields_does_not_move_the_cgroup() {
        // cpuset= is the invoking task's cpuset cgroup *name*: no '/'.
        for name in [
            "x,mems_allowed=0,oom_memcg=",
            "x,global_oom,task_memcg=",
            "x,task_memcg=,task=hog,pid=77,uid=1000",
        ] {
            let log = format!(
                "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset={name},mems_allowed=0,oom_memcg=/u/x,task_memcg=/u/x,task=hog,pid=77,uid=1000\n\
                 {KILLED_6X}\n"
            );
            let k = assert_not_spoofed(&log, name, "/u/x");
            assert_eq!(k.task_memcg.as_deref(), Some("/u/x"), "{name}");
        }
    }

    #[test]
    fn a_comm_with_field_text_is_anchored_on_the_kill_line() {
        // comm is up to 15 bytes of anything; the kill line says which.
        for comm in [
            "a,task=b",
            "x,pid=1,uid=2",
            ",task_memcg=/k",
            "hog,task=hog",
        ] {
            let log = format!(
                "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/u/x,task_memcg=/u/x,task={comm},pid=77,uid=1000\n\
                 Memory cgroup out of memory: Killed process 77 ({comm}) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:1kB oom_score_adj:0\n"
            );
            let k = one(&log);
            assert_eq!(k.comm, comm);
            assert_eq!(k.task_memcg.as_deref(), Some("/u/x"), "{comm}");
        }
    }

    #[test]
    fn a_segfault_of_a_process_named_killed_process_is_not_an_oom_record() {
        // `prctl(PR_SET_NAME, "Killed process ")` then a segfault: the
        // kernel prints `<comm>[<pid>]: segfault at ...` (x86
        // show_signal_msg), as captured on 6.18.
        let mut p = Parser::new();
        for text in [
            "Killed process [21808]: segfault at 0 ip 00007f2dc3385ad8 sp 00007ffec6ccc1d8 error 4 in libc.so.6[167ad8,7f2dc3244000+156000] likely on CPU 1 (core 1, socket 0)",
            "Killed process [5]: segfault at 0 ip 0000000000401000 sp 00007ffc00000000 error 6 in a.out[401000+1000]",
        ] {
            let line = Line {
                seq: Some(1),
                usec: Some(1),
                facility: Some(0),
                stamp: Stamp::None,
                text,
            };
            assert_eq!(p.feed(&line), Outcome::Nothing, "{text}");
        }
    }

    #[test]
    fn a_summary_naming_another_task_leaves_the_kill_unattributed() {
        // pid 78 in the summary, 77 killed (the kernel moved to another
        // thread, or the summary was cut before the victim's fields).
        for summary in [
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=hog,pid=78,uid=1000",
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a/very/long/pa",
        ] {
            let k = one(&format!("{summary}\n{KILLED_6X}\n"));
            assert_eq!((k.pid, k.constraint), (77, Constraint::Memcg));
            assert_eq!((k.task_memcg, k.oom_memcg, k.pod_uid), (None, None, None));
            assert!(k.attribution_ambiguous, "{summary}");
            assert!(k.candidates.is_empty());
        }
    }

    #[test]
    fn an_ambiguous_kill_says_so_in_json_and_a_clear_one_does_not() {
        let clear = one(&format!(
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=hog,pid=77,uid=1000\n{KILLED_6X}\n"
        ));
        let json = serde_json::to_value(&clear).unwrap();
        assert!(json.get("attribution_ambiguous").is_none(), "{json}");
        assert!(json.get("candidates").is_none(), "{json}");
        let ambiguous = one(&format!(
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a/b,task_memcg=/a,task_memcg=/a/b,task=hog,pid=77,uid=1000\n{KILLED_6X}\n"
        ));
        let json = serde_json::to_value(&ambiguous).unwrap();
        assert_eq!(json["attribution_ambiguous"], true, "{json}");
        assert!(json["task_memcg"].is_null());
        // A caller that knows which candidate exists books it.
        let mut settled = ambiguous.clone();
        let pick = settled.candidates[1].clone();
        settled.attribute(pick);
        assert_eq!(settled.task_memcg.as_deref(), Some("/a,task_memcg=/a/b"));
        assert!(!settled.attribution_ambiguous);
    }

    #[test]
    fn lines_a_comm_can_start_are_only_taken_as_the_kernel_prints_them() {
        // Every process below segfaults with a comm that starts an OOM
        // report line; the kill after them (rate-limited, no header of its
        // own) must get none of their text.
        let log = "6,1,10,-;Task in /k[12]: segfault at 0 ip 0 sp 0 error 4 in x[1+2] likely on CPU 0 (core 0, socket 0)\n\
                   6,2,11,-;oom-kill:[13]: segfault at 0 ip 0 sp 0 error 4 in x[1+2]\n\
                   6,3,12,-;Kill process [14]: segfault at 0 ip 0 sp 0 error 4 in x[1+2]\n\
                   6,4,13,-;a[15]: segfault at 0 ip 0 sp 0 error 4 in b invoked oom-killer: gfp_mask=[1+2]\n\
                   3,5,14,-;Killed process 77 (hog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB\n";
        let k = one(log);
        assert_eq!(k.pid, 77);
        assert_eq!(
            (k.task_memcg, k.invoked_by, k.constraint),
            (None, None, Constraint::Unknown)
        );
        assert!(!k.attribution_ambiguous);
    }

    #[test]
    fn malformed_kill_line_is_reported() {
        let mut p = Parser::new();
        let line = Line {
            seq: None,
            usec: None,
            facility: Some(0),
            stamp: Stamp::None,
            text: "Out of memory: Killed process x (y)",
        };
        assert!(matches!(p.feed(&line), Outcome::Malformed(_)));
    }
}
