//! Which memory cgroups an OOM report names for its victim, read so that a
//! cgroup whose name contains report text cannot pass for another cgroup.
//!
//! The kernel prints cgroup paths unescaped inside its report lines:
//!
//! - 5.0+: `oom-kill:constraint=C,nodemask=N[,cpuset=NAME,mems_allowed=M]`
//!   then `,oom_memcg=P` (a cgroup limit) or `,global_oom`, then
//!   `,task_memcg=T,task=COMM,pid=N,uid=U`
//! - before 5.0: `Task in T killed as a result of limit of P`
//! - both: `Memory cgroup stats for P:` (4.x prints one such line for `P`
//!   and then one for each cgroup below it; a pre-4.19 line goes on with
//!   ` cache:..KB ...`)
//!
//! A cgroup name may contain `,`, `=`, `:` and any field text, and a user who
//! can create cgroups can spell `/` by nesting them. What cannot be forged:
//!
//! - The fields before the first path are kernel text, and the cpuset is a
//!   cgroup *name*, which has no `/`: the first `,oom_memcg=/` or
//!   `,global_oom,task_memcg=/` is the kernel's own.
//! - The summary ends with the pid, comm and uid of the `Killed process`
//!   line (a line cut short, as pasted logs are, may end early in the pid
//!   or uid, never before the comm).
//! - The victim was chosen among the tasks of the limited cgroup: `T` is `P`
//!   or lies below it.
//! - The stats line names `P` alone.
//!
//! Every split of the line that keeps these is a [`Reading`]. One reading is
//! the answer; several, or none, make the attribution [`Attribution::Ambiguous`]
//! and the kill is booked to no cgroup rather than to the wrong one. A
//! reading may only differ from the truth inside a directory the cgroup's
//! creator can write to, so no reading ever names a cgroup outside it.

use super::record::unescape;

/// One way to read the cgroups of a report (unescaped paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The cgroup whose limit was hit (memcg OOMs).
    pub oom_memcg: Option<String>,
    /// The victim's cgroup.
    pub task_memcg: String,
}

/// What a report says about the victim's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribution {
    /// One reading fits.
    Known(Reading),
    /// The report names the victim's cgroup, but several readings fit (the
    /// candidates), or none does.
    Ambiguous(Vec<Reading>),
}

/// The victim as its `Killed process` line names it; `comm` as printed
/// (still escaped), like the summary's.
#[derive(Debug, Clone, Copy)]
pub struct Victim<'a> {
    pub pid: u32,
    pub comm: &'a str,
    pub uid: Option<u32>,
}

/// A 5.0+ `oom-kill:` summary, kept whole until its victim's line arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The text after `oom-kill:`, still escaped.
    text: String,
}

/// What a summary says about one victim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    /// Every reading that fits.
    pub readings: Vec<Reading>,
    /// The victim's uid: the kill line's, else the summary's (unless cut).
    pub uid: Option<u32>,
}

/// Longest line read in every way. The kernel stores a record in at most
/// 1 KiB (`PRINTKRB_RECORD_MAX`; `LOG_LINE_MAX` before 5.10), so a longer
/// line is not its report, and splitting it every way would take time
/// quadratic in its length.
const MAX_LINE: usize = 4096;

const OOM_MEMCG: &str = ",oom_memcg=";
const GLOBAL: &str = ",global_oom,task_memcg=";
const TASK_MEMCG: &str = ",task_memcg=";
const LIMIT_OF: &str = " killed as a result of limit of ";

impl Summary {
    /// The summary in `rest` (the text after `oom-kill:`). Kernels start it
    /// with `constraint=`; one vendor kernel prints an empty first field.
    pub fn parse(rest: &str) -> Option<Self> {
        let kernel = rest.starts_with("constraint=") || rest.starts_with(',');
        (kernel && rest.len() <= MAX_LINE).then(|| Self {
            text: rest.to_owned(),
        })
    }

    /// The `constraint=` value (`CONSTRAINT_MEMCG`, ...), if any.
    pub fn constraint(&self) -> Option<&str> {
        let v = self.text.strip_prefix("constraint=")?;
        let v = v.split(',').next().unwrap_or(v);
        (!v.is_empty()).then_some(v)
    }

    /// `Some(true)` when a cgroup limit was hit (`oom_memcg=`), `Some(false)`
    /// for `global_oom`, `None` when the line does not get that far. Early
    /// 5.x kernels say `CONSTRAINT_NONE` for memcg OOMs, so this, not the
    /// constraint, tells them apart.
    pub fn memcg(&self) -> Option<bool> {
        match (
            find_path(&self.text, OOM_MEMCG),
            find_path(&self.text, GLOBAL),
        ) {
            (Some(m), Some(g)) => Some(m < g),
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (None, None) => None,
        }
    }

    /// The readings for `victim`, or `None` when the summary does not end
    /// with the victim's comm and pid (it is another task's, or cut short).
    pub fn about(&self, victim: &Victim<'_>) -> Option<About> {
        let (heads, uid) = heads(&self.text, victim)?;
        let mut readings: Vec<Reading> = Vec::new();
        for head in heads {
            for r in readings_of(head) {
                if !readings.contains(&r) {
                    readings.push(r);
                }
            }
        }
        Some(About { readings, uid })
    }
}

/// Where `marker` first occurs followed by a path (`/`).
fn find_path(text: &str, marker: &str) -> Option<usize> {
    text.match_indices(marker)
        .map(|(i, _)| i)
        .find(|&i| text[i + marker.len()..].starts_with('/'))
}

/// The summary without its `,task=COMM,pid=N,uid=U` end, for each way that
/// end can match the victim (one when the line is whole), and the uid.
fn heads<'a>(text: &'a str, v: &Victim<'_>) -> Option<(Vec<&'a str>, Option<u32>)> {
    let comm = format!(",task={}", v.comm);
    let full = format!("{comm},pid={},uid=", v.pid);
    let digits = text.bytes().rev().take_while(u8::is_ascii_digit).count();
    let (before, uid) = text.split_at(text.len() - digits);
    if let Some(head) = before.strip_suffix(full.as_str()) {
        // A uid cut short is a prefix of the real one.
        let agrees = v.uid.is_none_or(|want| want.to_string().starts_with(uid));
        return agrees.then(|| (vec![head], v.uid.or(uid.parse().ok())));
    }
    // Cut short (a pasted log): it ends inside `,pid=N,uid=` after the comm.
    let heads: Vec<&str> = (comm.len()..full.len())
        .filter_map(|k| text.strip_suffix(&full[..k]))
        .collect();
    (!heads.is_empty()).then_some((heads, v.uid))
}

/// The readings of a summary without its victim fields.
fn readings_of(head: &str) -> Vec<Reading> {
    let memcg = find_path(head, OOM_MEMCG);
    let global = find_path(head, GLOBAL);
    match (memcg, global) {
        (Some(m), g) if g.is_none_or(|g| m < g) => splits(&head[m + OOM_MEMCG.len()..]),
        (_, Some(g)) => {
            let task = &head[g + GLOBAL.len()..];
            if plausible(task) {
                vec![Reading {
                    oom_memcg: None,
                    task_memcg: unescape(task),
                }]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

/// Every split of `<limited cgroup>,task_memcg=<victim's cgroup>` that puts the
/// victim at or below the limited cgroup.
fn splits(text: &str) -> Vec<Reading> {
    text.match_indices(TASK_MEMCG)
        .filter_map(|(i, _)| {
            let (oom, task) = (&text[..i], &text[i + TASK_MEMCG.len()..]);
            (plausible(oom) && plausible(task) && at_or_below(task, oom)).then(|| Reading {
                oom_memcg: Some(unescape(oom)),
                task_memcg: unescape(task),
            })
        })
        .collect()
}

/// The readings of `Task in <rest>`, or `None` when it is not the
/// kernel's line. A kernel record always holds the whole line; only a
/// pasted log (`whole == false`) may have lost the second half to
/// wrapping, and then the victim's cgroup is all there is.
pub fn task_in(rest: &str, whole: bool) -> Option<Vec<Reading>> {
    let rest = rest.trim_end();
    if rest.len() > MAX_LINE {
        return None;
    }
    if rest.contains(LIMIT_OF) {
        return Some(splits_task_first(rest));
    }
    (!whole && plausible(rest)).then(|| {
        vec![Reading {
            oom_memcg: None,
            task_memcg: unescape(rest),
        }]
    })
}

/// Every split of `<victim's cgroup> killed as a result of limit of
/// <limited cgroup>` that puts the victim at or below the limited cgroup.
fn splits_task_first(text: &str) -> Vec<Reading> {
    text.match_indices(LIMIT_OF)
        .filter_map(|(i, _)| {
            let (task, oom) = (&text[..i], &text[i + LIMIT_OF.len()..]);
            (plausible(oom) && plausible(task) && at_or_below(task, oom)).then(|| Reading {
                oom_memcg: Some(unescape(oom)),
                task_memcg: unescape(task),
            })
        })
        .collect()
}

/// The limited cgroup named by `Memory cgroup stats for <path>:` (5.x+)
/// or `... <path>: cache:0KB rss:...` (before 4.19).
pub fn stats_for(text: &str) -> Option<String> {
    let rest = text.strip_prefix("Memory cgroup stats for ")?;
    let path = match rest.strip_suffix(':') {
        Some(path) => path,
        None => &rest[..rest.rfind(": cache:")?],
    };
    plausible(path).then(|| unescape(path))
}

/// The one reading left when the stats line's cgroup (`limited`) is
/// known; several, or none, stay ambiguous.
pub fn settle(readings: Vec<Reading>, limited: Option<&str>) -> Attribution {
    if let [one] = &readings[..] {
        return Attribution::Known(one.clone());
    }
    if let Some(limited) = limited {
        let matching: Vec<&Reading> = readings
            .iter()
            .filter(|r| r.oom_memcg.as_deref() == Some(limited))
            .collect();
        if let [one] = matching[..] {
            return Attribution::Known(one.clone());
        }
    }
    Attribution::Ambiguous(readings)
}

/// A path a cgroup can have: `/`, or `/`-separated names that are not
/// empty, `.` or `..`.
fn plausible(path: &str) -> bool {
    path == "/"
        || path
            .strip_prefix('/')
            .is_some_and(|p| p.split('/').all(|name| !matches!(name, "" | "." | "..")))
}

/// `child` is `parent` or lies below it.
fn at_or_below(child: &str, parent: &str) -> bool {
    child == parent
        || parent == "/"
        || child
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests;
