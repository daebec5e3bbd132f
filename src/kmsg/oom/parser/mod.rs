//! The event joiner: report lines ([`super::lines`]) in log order, a
//! [`Kill`] out for every `Killed process` line, with the context of the
//! lines before it that belong to the same event.

use crate::kmsg::attribution::{self, Attribution, Reading, Summary, Victim};
use crate::kmsg::input::{Line, Stamp};
use crate::kmsg::record::unescape;

use super::lines::{self, Killed, ReportLine};
use super::report::{self, Counter, Dump, Part, Report, Row};
use super::{Constraint, Kill, Outcome};

mod parts;

/// Lines further apart than this (by their boot-relative time) are not
/// joined into one event.
const EVENT_WINDOW_USEC: u64 = 10_000_000;

/// The window once the event's task dump has begun: a dump of hundreds of
/// rows to a slow console can stall for longer (a RHEL 6 report pauses 13 s
/// mid-dump), and only its rows and the kill follow.
const DUMP_WINDOW_USEC: u64 = 60_000_000;

/// Victims remembered per event for deduplication; bounds memory when a log
/// holds endless kills without a new header.
pub(super) const MAX_EVENT_VICTIMS: usize = 4096;

/// A stamp this far before the event's last one is a new boot, not two
/// CPUs' records reaching the log a little out of order.
const BACKWARDS_USEC: u64 = 1_000_000;

/// Whether a line stamped `now` is too far from the event's last line
/// (`last`) to belong to it: more than `window` later, or earlier by more
/// than [`BACKWARDS_USEC`] (the clock started again: a new boot).
pub(super) fn stale(now: Option<u64>, last: Option<u64>, window: u64) -> bool {
    match (now, last) {
        (Some(now), Some(last)) => {
            now.saturating_sub(last) > window || last.saturating_sub(now) > BACKWARDS_USEC
        }
        _ => false,
    }
}

/// Whether `text` ends any event in progress: the kernel found nothing to
/// kill (`Out of memory and no killable processes...`, then a panic for a
/// global OOM), or a new boot's first line.
fn ends_event(text: &str) -> bool {
    text.starts_with("Out of memory and no killable processes")
        || text.starts_with("Linux version ")
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
    /// The pid and (escaped) comm that line selected: a child of it may be
    /// the one killed.
    selected: Option<(u32, String)>,
    /// The report's trigger, memory cgroup counters and swap.
    report: Report,
    /// The report's task dump.
    dump: Dump,
    /// A `Memory cgroup stats for <path>:` header was the last report
    /// line: `key value` lines that follow are its block, until another
    /// line of the report.
    stats_open: bool,
    /// The `Mem-Info:` summary's `key:N` lines are being read.
    meminfo_open: bool,
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

/// What a kill is booked to, from the event's context.
struct Booking {
    constraint: Constraint,
    attribution: Option<Attribution>,
    /// The victim's uid from the summary, when its kill line has none.
    uid: Option<u32>,
}

/// The OOM report parser: feed lines in log order.
#[derive(Debug)]
pub struct Parser {
    event: Event,
    /// Task dump rows kept per kill.
    top_tasks: usize,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser with no event in progress, keeping the
    /// [`report::DEFAULT_TOP_TASKS`] largest rows of each task dump.
    pub fn new() -> Self {
        Self::with_top_tasks(report::DEFAULT_TOP_TASKS)
    }

    /// A parser keeping the `n` largest rows of each task dump.
    pub fn with_top_tasks(n: usize) -> Self {
        Self {
            event: Event::default(),
            top_tasks: n,
        }
    }

    /// Feeds one message line.
    pub fn feed(&mut self, line: &Line<'_>) -> Outcome {
        let text = line.text;
        if ends_event(text.trim_start()) {
            self.event = Event::default();
            return Outcome::Nothing;
        }
        if self.event.stats_open && self.stats_line(line) {
            return Outcome::Nothing;
        }
        if self.meminfo_line(line) {
            return Outcome::Nothing;
        }
        // Cheap filter: every kill line contains one of these byte
        // sequences; most kernel log lines contain none, and the report's
        // other parts are told by their first byte.
        let known = text.contains("ill")
            || text.contains("Task")
            || text.contains("oom")
            || text.starts_with("Memory cgroup stats for ");
        let report = if known { lines::classify(line) } else { None };
        let part = match report {
            Some(_) => None,
            None => match report::classify(text) {
                Some(Part::MaybeRow(_)) if self.event.dump.columns().is_none() => None,
                part => part,
            },
        };
        if report.is_none() && part.is_none() {
            // Other lines (userspace, another CPU's records) may come
            // between the stats block's lines: it stays open.
            return Outcome::Nothing;
        }
        self.event.stats_open = false;
        let window = if self.event.dump.columns().is_some() && !self.event.closed {
            DUMP_WINDOW_USEC
        } else {
            EVENT_WINDOW_USEC
        };
        if stale(line.usec, self.event.last_usec, window) {
            self.event = Event::default();
        }
        match (report, part) {
            (Some(report), _) => self.join(line, report),
            (None, Some(part)) => self.join_part(line, part),
            (None, None) => Outcome::Nothing,
        }
    }

    /// Victims remembered for the current event.
    #[cfg(test)]
    pub(super) fn remembered_victims(&self) -> usize {
        self.event.killed.len()
    }

    /// Notes that `line` belongs to the current event.
    fn touch(&mut self, line: &Line<'_>) {
        if line.usec.is_some() {
            self.event.last_usec = line.usec;
        }
    }

    /// Adds one report line to the current event.
    fn join(&mut self, line: &Line<'_>, report: ReportLine<'_>) -> Outcome {
        match report {
            ReportLine::Invoked(invoked_by, trigger) => {
                let report = Report {
                    sysrq: trigger.order.map(|order| order == -1),
                    gfp_mask: trigger.gfp_mask,
                    order: trigger.order,
                    trigger_oom_score_adj: trigger.oom_score_adj,
                    ..Report::default()
                };
                self.event = Event {
                    last_usec: line.usec,
                    invoked_by: Some(invoked_by),
                    report,
                    ..Event::default()
                };
                return Outcome::Nothing;
            }
            ReportLine::Summary(summary) => {
                self.event.reopen_if_closed();
                self.event.summary = Some(summary);
            }
            ReportLine::StatsFor(limited) => {
                self.event.reopen_if_closed();
                self.event.limited.get_or_insert(limited);
                self.stats_header(line.text);
            }
            ReportLine::TaskIn(readings) => {
                self.event.reopen_if_closed();
                self.event.task_in = Some(readings);
            }
            ReportLine::Group(path) => self.event.group = Some(path),
            ReportLine::Selected { memcg, selected } => {
                self.event.reopen_if_closed();
                self.event.selected_memcg = Some(memcg);
                self.event.selected = selected.map(|(pid, comm)| (pid, comm.to_owned()));
            }
            ReportLine::Killed { message, killed } => {
                self.touch(line);
                return match killed {
                    Some(killed) => self.kill(line, message, killed),
                    None => Outcome::Malformed("`Killed process` line without a pid and comm"),
                };
            }
        }
        self.touch(line);
        Outcome::Nothing
    }

    fn kill(&mut self, line: &Line<'_>, message: &str, k: Killed<'_>) -> Outcome {
        // A member of the memory.oom.group scan that follows `Tasks in`: the
        // kernel prints it with the memcg message, and may repeat the
        // event's first victim.
        let group_member = message.starts_with("Memory cgroup") && self.event.group.is_some();
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
        let open = !self.event.closed;
        let booking = self.book(message, &k, group_member);
        let invoked_by = if open || group_member {
            self.event.invoked_by.clone()
        } else {
            None
        };
        let mut kill = new_kill(line, &k, booking.constraint, invoked_by);
        if open || group_member {
            kill.report = self.event.report.clone();
            let resident = [k.kb("anon-rss"), k.kb("file-rss"), k.kb("shmem-rss")];
            let victim_kb = resident[0].map(|_| resident.iter().flatten().sum());
            self.event.dump.fill(&mut kill.report, k.pid, victim_kb);
        }
        self.event.closed = true;
        self.event.selected_memcg = None;
        self.event.selected = None;
        kill.uid = k.uid.or(booking.uid);
        kill.oom_group = group_member;
        match booking.attribution {
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

    /// What ran out and which cgroups the victim is booked to: from the
    /// event's summary when it names this victim, else its memory.oom.group,
    /// else its `Task in` line, else the messages alone.
    fn book(&mut self, message: &str, k: &Killed<'_>, group_member: bool) -> Booking {
        let from_message = lines::message_constraint(message);
        let open = !self.event.closed;
        let victim = Victim {
            pid: k.pid,
            comm: k.comm,
            uid: k.uid,
        };
        let limited = self.event.limited.as_deref();
        let summary = self.event.summary.as_ref().filter(|_| open);
        if let Some((s, about)) = summary.and_then(|s| Some((s, s.about(&victim)?))) {
            return Booking {
                constraint: summary_constraint(s, from_message),
                attribution: Some(attribution::settle(about.readings, limited)),
                uid: about.uid,
            };
        }
        if let (true, Some(group)) = (group_member, &self.event.group) {
            let reading = Reading {
                oom_memcg: self.event.oom_memcg.clone(),
                task_memcg: group.clone(),
            };
            return Booking {
                constraint: Constraint::Memcg,
                attribution: Some(Attribution::Known(reading)),
                uid: None,
            };
        }
        // Before 4.19-ish kernels a child of the selected task may die in its
        // place (`Kill process N ... or sacrifice child`, `Killed process
        // M`): the summary names N, and M, in N's cgroup subtree, is booked
        // to N's cgroups.
        let parent = self
            .event
            .selected
            .as_ref()
            .filter(|(pid, _)| open && *pid != k.pid);
        if let Some((s, about)) = summary.zip(parent).and_then(|(s, (pid, comm))| {
            let parent = Victim {
                pid: *pid,
                comm,
                uid: None,
            };
            Some((s, s.about(&parent)?))
        }) {
            return Booking {
                constraint: summary_constraint(s, from_message),
                attribution: Some(attribution::settle(about.readings, limited)),
                uid: None,
            };
        }
        // Taken whether or not the event is open: a `Task in` serves one kill.
        if let (true, Some(readings)) = (open, self.event.task_in.take()) {
            return Booking {
                constraint: Constraint::Memcg,
                attribution: Some(attribution::settle(readings, limited)),
                uid: None,
            };
        }
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
        Booking {
            constraint,
            attribution: unmatched.then(|| Attribution::Ambiguous(Vec::new())),
            uid: None,
        }
    }
}

/// What ran out, as a summary says; early 5.x kernels say
/// `CONSTRAINT_NONE` for memcg OOMs, so `oom_memcg=` decides first.
fn summary_constraint(s: &Summary, from_message: Constraint) -> Constraint {
    match (s.memcg(), s.constraint()) {
        (Some(true), _) => Constraint::Memcg,
        (_, Some("CONSTRAINT_CPUSET")) => Constraint::Cpuset,
        (_, Some("CONSTRAINT_MEMORY_POLICY")) => Constraint::Mempolicy,
        (Some(false), _) => Constraint::Global,
        (None, _) => from_message,
    }
}

/// A kill of the victim on `line`, booked to no cgroup yet.
fn new_kill(
    line: &Line<'_>,
    k: &Killed<'_>,
    constraint: Constraint,
    invoked_by: Option<String>,
) -> Kill {
    let (time, log_time) = match &line.stamp {
        Stamp::None => (None, None),
        Stamp::Rfc3339(t) => (Some(t.clone()), None),
        Stamp::Raw(t) => (None, Some(t.clone())),
    };
    Kill {
        time,
        log_time,
        boot_usec: line.usec,
        seq: line.seq,
        seq_ordinal: false,
        pid: k.pid,
        comm: unescape(k.comm),
        uid: k.uid,
        host: line.host.map(str::to_owned),
        constraint,
        oom_memcg: None,
        task_memcg: None,
        pod_uid: None,
        names: crate::k8s::Names::default(),
        container_id: None,
        unit: None,
        total_vm_kb: k.kb("total-vm"),
        anon_rss_kb: k.kb("anon-rss"),
        file_rss_kb: k.kb("file-rss"),
        shmem_rss_kb: k.kb("shmem-rss"),
        pgtables_kb: k.kb("pgtables"),
        oom_score_adj: k.oom_score_adj(),
        invoked_by,
        oom_group: false,
        report: Report::default(),
        attribution_ambiguous: false,
        candidates: Vec::new(),
    }
}
