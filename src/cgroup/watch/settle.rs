//! Reading signalled cgroups until the reads show the outcome of what was
//! signalled: the kernel signals an OOM before its kill is counted.

use std::time::{Duration, Instant};

use crate::cgroup::hierarchy::{CgroupDir, Incarnation, Observed};

use super::{Shared, Signalled};

/// How long signalled cgroups are read until they show the outcome ...
pub const SETTLE: Duration = Duration::from_millis(100);
/// ... without pause for the first part (the cgroup can go right after
/// the victim exits) ...
const SPIN: Duration = Duration::from_millis(10);
/// ... and how much longer the others are read once one shows it (v1
/// signals every cgroup below the one that ran out; the kill is counted in
/// the victim's alone).
const AFTER_FIRST: Duration = Duration::from_millis(5);

/// A cgroup signalled and being read.
struct Pending<T> {
    cgroup: Incarnation,
    dir: CgroupDir,
    before: T,
    last: T,
}

impl<T: Clone + PartialEq> Shared<T> {
    fn publish(&self, cgroup: &Incarnation, value: &T) {
        let mut state = self.lock();
        state.updates.insert(cgroup.clone(), value.clone());
        let watch = state.watches.get_mut(&cgroup.path);
        if let Some(w) = watch.filter(|w| w.ino == cgroup.ino) {
            w.last = value.clone();
        }
    }

    /// Reads the signalled cgroups, and again and again until each shows
    /// the outcome, for at most [`SETTLE`], publishing every change at once.
    pub(super) fn read_until_settled(&self, signalled: Vec<Signalled<T>>) {
        let start = Instant::now();
        let mut pending: Vec<Pending<T>> = signalled
            .into_iter()
            .filter_map(|(Observed { cgroup, value }, held)| {
                // The directory held open is this incarnation's, removed
                // or not; one opened by path may be another's.
                let dir = match held {
                    Some(dir) => dir,
                    None => CgroupDir::open(&self.h.dir(&cgroup.path)).ok()?,
                };
                (dir.ino().ok()? == cgroup.ino).then(|| Pending {
                    cgroup,
                    dir,
                    last: value.clone(),
                    before: value,
                })
            })
            .collect();
        let mut deadline = start + SETTLE;
        let mut first_read = true;
        while !pending.is_empty() && Instant::now() < deadline {
            if !first_read {
                if start.elapsed() < SPIN {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            first_read = false;
            let mut settled_one = false;
            pending.retain_mut(|p| {
                let Some(now) = (self.read)(&self.h, &p.dir) else {
                    return false; // gone
                };
                if now != p.last {
                    self.publish(&p.cgroup, &now);
                    p.last = now;
                }
                let settled = (self.settled)(&p.before, &p.last);
                settled_one |= settled;
                !settled
            });
            if settled_one {
                deadline = deadline.min(Instant::now() + AFTER_FIRST);
            }
        }
        tracing::trace!(elapsed = ?start.elapsed(), unsettled = pending.len(), "cgroup events read");
    }
}
