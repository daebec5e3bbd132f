//! Which cgroups to report: a walk of the hierarchy that ranks the cgroups
//! that can run out on their own (those matching `include`, those with a
//! limit, then Kubernetes pods and containers and systemd services without
//! one) and reads the samples of those that make the cut.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use crate::cgroup::hierarchy::{self, CgroupDir, Found, Hierarchy, Incarnation, Observed};
use crate::cgroup::owner;
use crate::cgroup::sample::{self, Sample};
use crate::cgroup::userspace;

/// Which cgroups to report.
#[derive(Debug, Clone)]
pub struct Selection {
    pub max: usize,
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    pub retention: Duration,
}

/// Where the cgroups are read and which are reported.
#[derive(Debug, Clone)]
pub struct CgroupSource {
    /// `--path.sysfs`: the hierarchy is found under `<sysfs>/fs/cgroup`.
    pub sysfs: PathBuf,
    pub selection: Selection,
    /// `--path.procfs`: where systemd-oomd and oomd are looked for.
    pub procfs: PathBuf,
    /// Userspace kills seen, for `/kills`.
    pub userspace_history: std::sync::Arc<crate::cgroup::userspace::history::History>,
}

/// Where a userspace killer runs (v2 only): every cgroup the walk visits
/// is checked for a kill count, so that the host-wide counter misses no
/// kill, and a cgroup with one gets series (within the cap) even without
/// a limit or a notable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillScan {
    /// Check `trusted.oomd_ooms` too (oomd found on the host).
    pub trusted: bool,
}

/// What [`select`] found.
#[derive(Debug, Default)]
pub struct Selected {
    /// The cgroups reported now, with their samples.
    pub chosen: Vec<Observed<Sample>>,
    /// The `known` cgroups found by the walk.
    pub existing: HashSet<String>,
    /// Cgroups found by the walk.
    pub scanned: usize,
    /// Qualifying cgroups left out by the cap.
    pub dropped: usize,
    /// Cgroups at the walk's depth limit whose children were not walked.
    pub depth_limited: Vec<String>,
    /// Files that could not be read in cgroups that still exist.
    pub problems: Vec<String>,
    /// Cgroups not chosen (excluded, over the cap) whose attributes the
    /// [`KillScan`] found, with those counters alone: counted by the host
    /// total, without series.
    pub userspace_only: Vec<Observed<Sample>>,
}

/// Why a cgroup qualifies; the lower ranks are reported first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Included = 0,
    Limited = 1,
    Notable = 2,
}

/// A sample as the walk left it.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "most candidates make the cut and carry a sample"
)]
enum Read {
    /// Not read: the cgroup could not make the cut when it was found.
    Skipped,
    /// Its usage could not be read.
    Unreadable,
    Done(Sample),
}

/// A cgroup that qualifies, before the cut.
#[derive(Debug)]
struct Candidate {
    rank: Rank,
    cgroup: Incarnation,
    sample: Read,
}

/// Whether `path` is worth a series without a limit of its own: pods,
/// containers, services, and, with `user_scopes` (a userspace killer runs
/// on this v2 host), the scopes of user sessions and desktop apps (what
/// systemd-oomd kills on a desktop: a browser is an app scope). Those come
/// and go with every login and app start: elsewhere they are only churn.
fn notable(path: &str, user_scopes: bool) -> bool {
    let o = owner::owner(path);
    let user_scope =
        |u: &str| user_scopes && u.ends_with(".scope") && path.starts_with("/user.slice/");
    o.pod_uid.is_some()
        || o.container_id.is_some()
        || o.unit
            .as_deref()
            .is_some_and(|u| u.ends_with(".service") || user_scope(u))
}

/// The walk's state.
struct Walker<'a> {
    h: &'a Hierarchy,
    sel: &'a Selection,
    known: &'a HashSet<String>,
    scan: Option<KillScan>,
    buf: Vec<u8>,
    /// Candidates found so far, by rank.
    ahead: [usize; 3],
    candidates: Vec<Candidate>,
    existing: HashSet<String>,
    problems: Vec<String>,
    /// What the [`KillScan`] found.
    marked: Vec<Observed<Sample>>,
}

impl Walker<'_> {
    /// A file that cannot be read in a cgroup that still exists is a
    /// problem; in one that is gone, the cgroup simply vanished.
    fn unreadable(&mut self, path: &str, what: &str) {
        if self.h.dir(path).exists() {
            self.problems
                .push(format!("{}: {what}", self.h.dir(path).display()));
        }
    }

    fn rank(&self, path: &str, limit: Option<u64>, killed: bool) -> Option<Rank> {
        if self
            .sel
            .include
            .as_ref()
            .is_some_and(|re| re.is_match(path))
        {
            Some(Rank::Included)
        } else if limit.is_some() {
            Some(Rank::Limited)
        } else if killed || notable(path, self.scan.is_some()) {
            Some(Rank::Notable)
        } else {
            None
        }
    }

    fn visit(&mut self, c: Found<'_>) {
        if self.known.contains(c.path) {
            self.existing.insert(c.path.to_owned());
        }
        let killed = self.scan(&c);
        if self
            .sel
            .exclude
            .as_ref()
            .is_some_and(|re| re.is_match(c.path))
        {
            return;
        }
        self.consider(&c, killed);
        // Files a kernel never makes that long are left out of the
        // sample like absent ones, but said.
        if let Some(file) = c.dir.take_too_large() {
            let what = format!(
                "{file} larger than {} bytes, which no kernel file is; not read",
                crate::proc::fs::MAX_FILE_BYTES
            );
            self.unreadable(c.path, &what);
        }
    }

    /// With a [`KillScan`], reads the cgroup's kill counters when it has
    /// any (kept for the host total, excluded cgroups too) and says whether
    /// they count a kill.
    fn scan(&mut self, c: &Found<'_>) -> bool {
        let Some(scan) = self.scan else {
            return false;
        };
        if !userspace::xattr::marked(c.dir, scan.trusted) {
            return false;
        }
        let value = Sample::userspace_only(c.dir);
        let killed = value.userspace_killed_any();
        self.marked.push(Observed {
            cgroup: Incarnation {
                path: c.path.to_owned(),
                ino: c.ino,
            },
            value,
        });
        killed
    }

    /// Ranks the cgroup and reads its sample when it can still make the cut.
    fn consider(&mut self, c: &Found<'_>, killed: bool) {
        let Some(limit) = sample::read_limit(self.h, c.dir, &mut self.buf) else {
            let what = format!("{} unreadable", sample::limit_file(self.h));
            self.unreadable(c.path, &what);
            return;
        };
        let Some(rank) = self.rank(c.path, limit, killed) else {
            return;
        };
        let before: usize = self.ahead[..=rank as usize].iter().sum();
        self.ahead[rank as usize] += 1;
        let sample = if before < self.sel.max {
            read_sample(self.h, c.dir, limit, &mut self.buf)
        } else {
            Read::Skipped
        };
        self.candidates.push(Candidate {
            rank,
            cgroup: Incarnation {
                path: c.path.to_owned(),
                ino: c.ino,
            },
            sample,
        });
    }
}

fn read_sample(h: &Hierarchy, dir: &CgroupDir, limit: Option<u64>, buf: &mut Vec<u8>) -> Read {
    match sample::read_in(h, dir, limit, buf) {
        Some(s) => Read::Done(s),
        None => Read::Unreadable,
    }
}

/// Walks the hierarchy and picks the cgroups to report now, with their
/// samples. Under the cap, the cgroups matching `include` come first,
/// then those with a limit, then Kubernetes and systemd ones without.
/// A cgroup's other files are read only when it can still make the
/// cut: when fewer than the cap of the same or a better rank came
/// before it (a later, better-ranked one may still push it out).
/// `known`: the paths kept from earlier scrapes, whose presence is
/// noted in [`Selected::existing`]; `scan`: see [`KillScan`].
pub fn select(
    h: &Hierarchy,
    sel: &Selection,
    known: &HashSet<String>,
    scan: Option<KillScan>,
) -> Selected {
    let mut w = Walker {
        h,
        sel,
        known,
        scan,
        marked: Vec::new(),
        buf: Vec::with_capacity(4096),
        ahead: [0; 3],
        candidates: Vec::new(),
        existing: HashSet::new(),
        problems: Vec::new(),
    };
    let walk = hierarchy::visit(h, |c| w.visit(c));
    let Walker {
        mut candidates,
        existing,
        problems,
        marked,
        ..
    } = w;
    let mut selected = Selected {
        existing,
        problems,
        scanned: walk.count,
        depth_limited: walk.depth_limited,
        ..Selected::default()
    };
    candidates.sort_by_key(|c| c.rank);
    selected.dropped = candidates.len().saturating_sub(sel.max);
    for Candidate { cgroup, sample, .. } in candidates.into_iter().take(sel.max) {
        let value = match sample {
            Read::Done(s) => Some(s),
            Read::Unreadable => None,
            // Not read during the walk only if the cut was misjudged.
            Read::Skipped => sample::read(h, &cgroup.path),
        };
        match value {
            Some(value) => selected.chosen.push(Observed { cgroup, value }),
            None => {
                let dir = h.dir(&cgroup.path);
                if dir.exists() {
                    let what = format!("{}: memory usage unreadable", dir.display());
                    selected.problems.push(what);
                }
            }
        }
    }
    let chosen: HashSet<&Incarnation> = selected.chosen.iter().map(|o| &o.cgroup).collect();
    let others: Vec<_> = marked
        .into_iter()
        .filter(|o| !chosen.contains(&o.cgroup))
        .collect();
    selected.userspace_only = others;
    selected.problems.extend(
        walk.errors
            .into_iter()
            .map(|e| format!("cgroup {e} (not walked)")),
    );
    selected
}

#[cfg(test)]
mod tests {
    use super::notable;

    #[test]
    fn services_pods_containers_and_user_scopes_are_notable() {
        let app =
            "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4242.scope";
        assert!(notable("/system.slice/cron.service", false));
        assert!(notable(app, true));
        assert!(notable("/user.slice/user-1000.slice/session-2.scope", true));
        assert!(!notable("/init.scope", true));
        assert!(!notable("/system.slice/run-r1.scope", true));
        assert!(!notable("/user.slice/user-1000.slice", true));
        // No userspace killer (or v1): user scopes are only churn.
        assert!(!notable(app, false));
        assert!(!notable(
            "/user.slice/user-1000.slice/session-2.scope",
            false
        ));
    }
}
