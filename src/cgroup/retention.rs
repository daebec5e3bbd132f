//! What is kept of the reported cgroups between scrapes: the last values
//! of each path, counters carried across its incarnations, and the cgroups
//! that vanished, kept for the retention period and evicted under the cap.
//! Plain state: every method that depends on time takes `now`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::cgroup::hierarchy::{Incarnation, Observed};
use crate::cgroup::sample::Sample;

/// What is kept of one reported cgroup path.
#[derive(Debug, Clone)]
struct Entry {
    /// The current incarnation's last values.
    sample: Sample,
    /// Inode of the current incarnation.
    ino: u64,
    /// Counters of earlier incarnations of the same path.
    carried: Sample,
    /// The incarnation replaced last, with its final values as carried:
    /// the watch may report its last kill after the replacement was seen.
    replaced: Option<Replaced>,
    /// When the cgroup was last found.
    at: Instant,
}

#[derive(Debug, Clone)]
struct Replaced {
    ino: u64,
    last: Sample,
}

impl Entry {
    /// The values served: counters continue across incarnations.
    fn served(&self) -> Sample {
        let mut s = self.sample.clone();
        s.add_counters(self.carried.clone());
        s
    }

    /// A read of incarnation `ino` made by the watch.
    fn absorb_watched(&mut self, ino: u64, events: &Sample) {
        if self.ino == ino {
            self.sample.absorb(events.clone());
        } else if let Some(old) = self.replaced.as_mut().filter(|r| r.ino == ino) {
            // Late word of the replaced incarnation: carry the rest.
            let before = old.last.clone();
            old.last.absorb(events.clone());
            self.carried.add_counters(old.last.counters_since(&before));
        }
    }

    /// A read of incarnation `ino` made by a scrape at `now`.
    fn absorb_scraped(&mut self, ino: u64, sample: &Sample, now: Instant) {
        if self.ino != ino {
            // Removed and created again under the same path (a restarted
            // service): its counters continue.
            let old = std::mem::replace(&mut self.sample, sample.clone());
            self.carried.add_counters(old.clone());
            self.replaced = Some(Replaced {
                ino: self.ino,
                last: old,
            });
            self.ino = ino;
        } else {
            // A counter the scrape could not read keeps its value.
            let before = std::mem::replace(&mut self.sample, sample.clone());
            self.sample.absorb(before);
        }
        self.at = now;
    }
}

/// How long and how many vanished cgroups are kept.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A vanished cgroup is kept this long after it was last found.
    pub retention: Duration,
    /// Most cgroups kept, unless more were found now.
    pub max: usize,
}

/// A cgroup path with the values to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub path: String,
    pub sample: Sample,
}

/// The reported cgroups, by path.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: BTreeMap<String, Entry>,
}

impl Ledger {
    /// The paths kept.
    pub fn paths(&self) -> HashSet<String> {
        self.entries.keys().cloned().collect()
    }

    /// Forgets everything (another hierarchy is in use).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Takes a scrape's reads at `now` (`chosen`) and the watch's reads
    /// since the last scrape (`watched`). A path found with a new inode is
    /// a new incarnation: the old one's counters are carried; a late watch
    /// read of the old one adds what it adds.
    pub fn merge(
        &mut self,
        watched: &HashMap<Incarnation, Sample>,
        chosen: &[Observed<Sample>],
        now: Instant,
    ) {
        self.absorb_watched(watched);
        for Observed { cgroup, value } in chosen {
            match self.entries.get_mut(&cgroup.path) {
                Some(e) => e.absorb_scraped(cgroup.ino, value, now),
                None => {
                    let entry = Entry {
                        sample: value.clone(),
                        ino: cgroup.ino,
                        carried: Sample::default(),
                        replaced: None,
                        at: now,
                    };
                    self.entries.insert(cgroup.path.clone(), entry);
                }
            }
        }
        // Again: a watch read may be newer than the scrape's.
        self.absorb_watched(watched);
    }

    fn absorb_watched(&mut self, watched: &HashMap<Incarnation, Sample>) {
        for (cgroup, events) in watched {
            if let Some(e) = self.entries.get_mut(&cgroup.path) {
                e.absorb_watched(cgroup.ino, events);
            }
        }
    }

    /// Keeps the cgroups found now (`chosen`) and the vanished ones (not
    /// among `existing`, the kept paths the walk found) last found within
    /// the retention period. Vanished cgroups count against the cap too:
    /// with more than the cap, the longest gone are dropped first.
    pub fn expire(
        &mut self,
        chosen: &HashSet<&str>,
        existing: &HashSet<String>,
        limits: Limits,
        now: Instant,
    ) {
        self.entries.retain(|path, e| {
            chosen.contains(path.as_str())
                || (!existing.contains(path) && now.duration_since(e.at) < limits.retention)
        });
        let mut vanished: Vec<(&String, Instant)> = self
            .entries
            .iter()
            .filter(|(p, _)| !chosen.contains(p.as_str()))
            .map(|(p, e)| (p, e.at))
            .collect();
        let excess = self
            .entries
            .len()
            .saturating_sub(limits.max.max(chosen.len()));
        vanished.sort_by_key(|(_, at)| *at);
        let evicted: Vec<String> = vanished
            .into_iter()
            .take(excess)
            .map(|(p, _)| p.clone())
            .collect();
        for path in evicted {
            self.entries.remove(&path);
        }
    }

    /// The values to serve, by path.
    pub fn served(&self) -> Vec<Served> {
        self.entries
            .iter()
            .map(|(path, e)| Served {
                path: path.clone(),
                sample: e.served(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
