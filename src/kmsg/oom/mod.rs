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

//!
//! - [`lines`]: one report line at a time, as the kernel prints it
//! - [`report`]: the report's other parts (trigger, memory cgroup
//!   counters, swap, task dump), each line on its own
//! - [`parser`]: the event joiner: report lines in order, kills out
//!
//! This file holds what a caller gets: [`Kill`], [`Outcome`] and
//! [`kills_in_log`].

use serde::Serialize;

use super::attribution::Reading;
use crate::cgroup::owner::{self, Owner};
use crate::k8s::Names;

pub mod lines;
pub mod parser;
pub mod report;

pub use parser::Parser;

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
    /// kmsg sequence number of the `Killed process` record; in a saved
    /// log without record numbers, the kill's place among its kills.
    pub seq: Option<u64>,
    /// `seq` is the kill's place in a saved log (1, 2, ...), not a kernel
    /// record number.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub seq_ordinal: bool,
    /// Victim pid.
    pub pid: u32,
    /// Victim command name (unescaped).
    pub comm: String,
    /// Victim uid.
    pub uid: Option<u32>,
    /// The host a syslog or journal line names (saved logs).
    pub host: Option<String>,
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
    /// Namespace, pod and container of the victim, read from the kubelet's
    /// log directories when the kill was read (the log gives none).
    #[serde(flatten)]
    pub names: Names,
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
    /// The rest of the event's report: trigger, cgroup counters, swap, the
    /// task dump's largest rows.
    #[serde(flatten)]
    pub report: report::Report,
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
    /// The owner of the victim's cgroup, as far as names go.
    pub fn owner(&self) -> Owner {
        Owner {
            pod_uid: self.pod_uid.clone(),
            container_id: self.container_id.clone(),
            ..Owner::default()
        }
    }

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
pub(crate) mod forms_tests;
#[cfg(test)]
mod report_tests;
#[cfg(test)]
mod spoofing_tests;
#[cfg(test)]
mod tests;
