//! The host-wide userspace kill counters, and each rise of a cgroup's
//! counters (for the history), from every read of a cgroup incarnation:
//! the scrape's and the watch's.
//!
//! Each incarnation's attributes are counted once: what was counted of it
//! is remembered, so a value seen again (a retained cgroup, a watch read
//! older than the scrape's, a cgroup dropped by the cap and picked again)
//! adds nothing. A cgroup created again under the same path is another
//! incarnation: its attributes start at 0 and all of them count. The host
//! counters only rise, whatever the retention drops.

use std::collections::HashMap;

use super::Killer;
use crate::cgroup::hierarchy::Incarnation;
use crate::cgroup::sample::Sample;

/// Kill actions and processes killed, by [`Killer::index`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerKiller {
    pub kills: [u64; 2],
    pub processes: [u64; 2],
}

impl PerKiller {
    fn of(s: &Sample) -> Self {
        Self {
            kills: s.userspace_kills.map(|v| v.unwrap_or(0)),
            processes: s.userspace_killed.map(|v| v.unwrap_or(0)),
        }
    }

    fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// A rise of one cgroup's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rise {
    pub cgroup: String,
    pub killer: Killer,
    pub kills: u64,
    pub processes: u64,
}

/// What was counted, per incarnation and for the host.
#[derive(Debug, Default)]
pub struct Tally {
    /// Counted values of incarnations with any (zeros are not kept).
    counted: HashMap<Incarnation, PerKiller>,
    host: PerKiller,
}

impl Tally {
    /// The paths of the incarnations remembered.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.counted.keys().map(|i| i.path.as_str())
    }

    /// The host-wide counters.
    pub fn host(&self) -> PerKiller {
        self.host
    }

    /// Counts what the reads add to what was counted of each incarnation,
    /// and returns the rises.
    pub fn observe<'a>(
        &mut self,
        reads: impl IntoIterator<Item = (&'a Incarnation, &'a Sample)>,
    ) -> Vec<Rise> {
        let mut rises = Vec::new();
        for (cgroup, sample) in reads {
            let now = PerKiller::of(sample);
            if now.is_zero() {
                continue;
            }
            let seen = self.counted.entry(cgroup.clone()).or_default();
            for k in Killer::ALL {
                let i = k.index();
                let kills = now.kills[i].saturating_sub(seen.kills[i]);
                let processes = now.processes[i].saturating_sub(seen.processes[i]);
                if kills == 0 && processes == 0 {
                    continue;
                }
                // Anyone with a delegated cgroup can write any value: the
                // sums saturate rather than wrap (a wrap reads as a reset).
                seen.kills[i] = seen.kills[i].saturating_add(kills);
                seen.processes[i] = seen.processes[i].saturating_add(processes);
                self.host.kills[i] = self.host.kills[i].saturating_add(kills);
                self.host.processes[i] = self.host.processes[i].saturating_add(processes);
                rises.push(Rise {
                    cgroup: cgroup.path.clone(),
                    killer: k,
                    kills,
                    processes,
                });
            }
        }
        rises
    }

    /// Forgets the incarnations whose path `exists` says is gone: a path
    /// found again is another incarnation.
    pub fn forget_gone(&mut self, exists: impl Fn(&str) -> bool) {
        self.counted.retain(|i, _| exists(&i.path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(path: &str, ino: u64) -> Incarnation {
        Incarnation {
            path: path.to_owned(),
            ino,
        }
    }

    fn sample(kills: u64, processes: u64) -> Sample {
        let mut s = Sample::default();
        s.userspace_kills[Killer::SystemdOomd.index()] = Some(kills);
        s.userspace_killed[Killer::SystemdOomd.index()] = Some(processes);
        s
    }

    #[test]
    fn each_incarnation_counts_once_and_a_new_one_from_zero() {
        let mut t = Tally::default();
        let a = inc("/app.scope", 7);
        // As systemd-oomd writes: ooms first, processes after the kill.
        let rises = t.observe([(&a, &sample(1, 0))]);
        assert_eq!(rises.len(), 1);
        assert_eq!((rises[0].kills, rises[0].processes), (1, 0));
        assert_eq!(t.observe([(&a, &sample(1, 3))])[0].processes, 3);
        // Seen again (a retained value, an older read): nothing.
        assert!(
            t.observe([(&a, &sample(1, 3)), (&a, &sample(1, 0))])
                .is_empty()
        );
        assert_eq!(t.host().kills, [1, 0]);
        assert_eq!(t.host().processes, [3, 0]);
        // The cgroup removed: still counted when the path is forgotten.
        t.forget_gone(|_| false);
        assert_eq!(t.host().kills, [1, 0]);
        // Created again under the same path: another incarnation, from 0.
        let b = inc("/app.scope", 8);
        assert_eq!(t.observe([(&b, &sample(1, 2))]).len(), 1);
        assert_eq!(t.host().kills, [2, 0]);
        assert_eq!(t.host().processes, [5, 0]);
    }

    #[test]
    fn a_cgroup_picked_again_is_not_counted_again_while_it_exists() {
        let mut t = Tally::default();
        let a = inc("/x.service", 1);
        t.observe([(&a, &sample(2, 2))]);
        t.forget_gone(|p| p == "/x.service");
        assert!(t.observe([(&a, &sample(2, 2))]).is_empty());
        assert_eq!(t.host().kills, [2, 0]);
        assert_eq!(t.paths().collect::<Vec<_>>(), ["/x.service"]);
        let zero = inc("/y.service", 2);
        t.observe([(&zero, &Sample::default())]);
        assert_eq!(t.paths().count(), 1, "zeros are not kept");
    }

    #[test]
    fn the_largest_values_saturate_instead_of_wrapping() {
        let mut t = Tally::default();
        t.observe([(&inc("/a.scope", 1), &sample(u64::MAX, u64::MAX))]);
        t.observe([(&inc("/b.scope", 2), &sample(u64::MAX, u64::MAX))]);
        assert_eq!(t.host().kills, [u64::MAX, 0]);
        assert_eq!(t.host().processes, [u64::MAX, 0]);
    }
}
