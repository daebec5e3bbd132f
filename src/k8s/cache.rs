//! The names of the pods and containers on this node, from the kubelet's log
//! directories, kept in a bounded cache.
//!
//! A lookup that misses lists the directories again, but only when one of
//! them changed since the last listing (or that listing was made right
//! after a change), and at most once per [`MIN_INTERVAL`] for a scrape, so
//! a flood of IDs that are not there (a container without a kubelet log,
//! the pause container) costs two `stat`s a second at most. A kill's
//! lookup skips the interval: it happens once per kill and its names are
//! kept. Entries no longer listed (a deleted pod) stay until the cache is
//! full, so a cgroup kept after its pod is gone keeps its names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::listing::{self, Listing, State};
use super::names;
use crate::cgroup::owner::Owner;
use crate::logonce::LogOnce;

/// Shortest time between two checks of the directories for a scrape.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Most pods kept (a node runs 110 by default, at most a few hundred).
pub const MAX_PODS: usize = 4096;
/// Most containers kept (init containers and restarts have their own IDs).
pub const MAX_CONTAINERS: usize = 16384;

/// A workload's names; `None` when not known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Names {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
}

impl Names {
    /// `namespace/pod/container` as far as known; `None` when no pod is.
    pub fn path(&self) -> Option<String> {
        let (ns, pod) = (self.namespace.as_ref()?, self.pod.as_ref()?);
        Some(match &self.container {
            Some(c) => format!("{ns}/{pod}/{c}"),
            None => format!("{ns}/{pod}"),
        })
    }

    /// The label values: empty when unknown.
    pub fn labels(&self) -> [(&'static str, &str); 3] {
        [
            ("namespace", self.namespace.as_deref().unwrap_or("")),
            ("pod", self.pod.as_deref().unwrap_or("")),
            ("container", self.container.as_deref().unwrap_or("")),
        ]
    }
}

/// Whether a lookup may wait for [`MIN_INTERVAL`] (a scrape) or not (a kill).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Scrape,
    Kill,
}

#[derive(Debug, Clone)]
struct Pod {
    namespace: String,
    pod: String,
    /// Listing in which it was last seen.
    seen: u64,
}

#[derive(Debug, Clone)]
struct Container {
    namespace: String,
    pod: String,
    container: String,
    seen: u64,
}

/// Keys of the resolver's [`LogOnce`] besides the directories' own (0, 1)
/// and their truncation (2, 3): ignored entries per directory, evictions.
const SAID_IGNORED: usize = 4;
const SAID_EVICTED: usize = 6;

/// What the cache reports about itself (for metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// `pods` and `containers` could be listed at the last check.
    pub readable: [bool; 2],
    pub pods: usize,
    pub containers: usize,
    pub listings: u64,
    /// Entries of the last listings that are not in the kubelet's format.
    pub ignored: usize,
}

#[derive(Debug, Default)]
struct Cache {
    pods: HashMap<String, Pod>,
    containers: HashMap<String, Container>,
    /// Containers whose link name the kubelet cut, by their ID's beginning.
    cut: HashMap<String, Container>,
    /// The directories' states at the last listing.
    states: Option<[State; 2]>,
    racy: bool,
    checked: Option<Instant>,
    generation: u64,
    stats: Stats,
}

/// Resolves pod UIDs and container IDs to names.
#[derive(Debug)]
pub struct Resolver {
    /// The host's /var/log (`--path.varlog`); `None`: names are off.
    root: Option<PathBuf>,
    cache: Mutex<Cache>,
    said: LogOnce<usize>,
}

impl Resolver {
    /// Names from `<root>/pods` and `<root>/containers`.
    pub fn new(root: Option<PathBuf>) -> Self {
        Self {
            root,
            cache: Mutex::new(Cache::default()),
            said: LogOnce::new(),
        }
    }

    /// A resolver that knows no names.
    pub fn off() -> Self {
        Self::new(None)
    }

    /// The names of `owner`'s pod and container at `now`. Only a pod
    /// (a cgroup in the Kubernetes tree at the top of the hierarchy) has
    /// names.
    pub fn names(&self, owner: &Owner, now: Instant, urgency: Urgency) -> Names {
        let (Some(root), Some(uid)) = (&self.root, &owner.pod_uid) else {
            return Names::default();
        };
        let id = owner.container_id.as_deref();
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if !cache.knows(uid, id) && cache.due(now, urgency) {
            self.refresh(&mut cache, root, now);
        }
        cache.lookup(uid, id)
    }

    /// Counts for the metrics.
    pub fn stats(&self) -> Stats {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        Stats {
            pods: cache.pods.len(),
            containers: cache.containers.len() + cache.cut.len(),
            ..cache.stats.clone()
        }
    }

    /// Lists the directories again if they changed.
    fn refresh(&self, cache: &mut Cache, root: &Path, now: Instant) {
        cache.checked = Some(now);
        let dirs = listing::dirs(root);
        let states = dirs.clone().map(|d| listing::state(&d));
        if cache.states.as_ref() == Some(&states) && !cache.racy {
            return;
        }
        cache.generation += 1;
        cache.stats.listings += 1;
        cache.stats.ignored = 0;
        cache.racy = false;
        for (i, (dir, state)) in dirs.iter().zip(&states).enumerate() {
            let cap = [MAX_PODS, MAX_CONTAINERS][i] * 2;
            let listed = match state {
                State::Present(stamp) => listing::list(dir, stamp, cap).map_err(|e| e.to_string()),
                State::Absent => Err("not found".to_owned()),
                State::Unreadable(e) => Err(e.clone()),
            };
            cache.stats.readable[i] = listed.is_ok();
            match listed {
                Ok(l) => {
                    self.say_ok(i, dir, &l);
                    cache.racy |= l.racy;
                    let ignored = cache.merge(i, &l);
                    self.say_ignored(i, dir, ignored);
                }
                Err(error) => {
                    // A directory that is there but could not be listed is
                    // tried again at the next miss, changed or not (its
                    // permissions may be fixed without touching its mtime).
                    cache.racy |= !matches!(state, State::Absent);
                    self.say_failed(i, dir, matches!(state, State::Absent), &error);
                }
            }
        }
        cache.states = Some(states);
        let evicted = cache.evict();
        if evicted != (0, 0) && self.said.first(SAID_EVICTED) {
            tracing::warn!(
                pods_evicted = evicted.0,
                containers_evicted = evicted.1,
                max_pods = MAX_PODS,
                max_containers = MAX_CONTAINERS,
                "pod name cache full; dropped the entries seen longest ago (a pod deleted long ago loses its names)"
            );
        }
    }

    /// Logs once per directory that some of its entries are not the
    /// kubelet's; `ignored` is their count and one of their names.
    fn say_ignored(&self, i: usize, dir: &Path, ignored: Option<(usize, String)>) {
        if let Some((count, example)) = ignored
            && self.said.first(SAID_IGNORED + i)
        {
            tracing::warn!(dir = %dir.display(), ignored = count, %example,
                "ignoring kubelet log directory entries not named as the kubelet names them (see oom_pod_names_ignored_entries)");
        }
    }

    fn say_ok(&self, i: usize, dir: &Path, l: &Listing) {
        if self.said.recovered(&i) {
            tracing::info!(dir = %dir.display(), "kubelet log directory readable again; pod and container names resolved");
        }
        if l.truncated && self.said.first(i + 2) {
            tracing::warn!(dir = %dir.display(), entries = l.names.len(),
                "kubelet log directory has more entries than the name cache holds; only the first were read");
        }
    }

    fn say_failed(&self, i: usize, dir: &Path, absent: bool, error: &str) {
        if !self.said.problem(i, error) {
            tracing::debug!(dir = %dir.display(), %error, "kubelet log directory still unreadable");
        } else if absent {
            tracing::info!(dir = %dir.display(),
                "no kubelet log directory (not a Kubernetes node, or not mounted; see --path.varlog); namespace, pod and container labels stay empty");
        } else {
            tracing::warn!(dir = %dir.display(), %error,
                "cannot read the kubelet log directory (see --path.varlog); namespace, pod and container labels stay empty");
        }
    }
}

impl Cache {
    fn knows(&self, uid: &str, id: Option<&str>) -> bool {
        self.pods.contains_key(uid) && id.is_none_or(|id| self.container(id).is_some())
    }

    fn container(&self, id: &str) -> Option<&Container> {
        self.containers.get(id).or_else(|| {
            self.cut
                .iter()
                .find(|(prefix, _)| id.starts_with(prefix.as_str()))
                .map(|(_, c)| c)
        })
    }

    /// Time to look at the directories again.
    fn due(&self, now: Instant, urgency: Urgency) -> bool {
        urgency == Urgency::Kill
            || self
                .checked
                .is_none_or(|at| now.saturating_duration_since(at) >= MIN_INTERVAL)
    }

    fn lookup(&self, uid: &str, id: Option<&str>) -> Names {
        let pod = self.pods.get(uid);
        let container = id.and_then(|id| self.container(id));
        match (pod, container) {
            // A container ID is unique: its link names its own pod. If the
            // pod's directory disagrees, the pod's directory wins.
            (Some(p), c) => Names {
                namespace: Some(p.namespace.clone()),
                pod: Some(p.pod.clone()),
                container: c
                    .filter(|c| c.namespace == p.namespace && c.pod == p.pod)
                    .map(|c| c.container.clone()),
            },
            (None, Some(c)) => Names {
                namespace: Some(c.namespace.clone()),
                pod: Some(c.pod.clone()),
                container: Some(c.container.clone()),
            },
            (None, None) => Names::default(),
        }
    }

    /// Adds what listing `i` (0: pods, 1: containers) found. Returns how
    /// many entries were not the kubelet's, with one of their names.
    fn merge(&mut self, i: usize, l: &Listing) -> Option<(usize, String)> {
        let seen = self.generation;
        let mut ignored = l.non_utf8;
        let mut example = l.non_utf8_example.clone();
        for name in &l.names {
            if i == 0 {
                if let Some(p) = names::pod_dir(name) {
                    let (namespace, pod) = (p.namespace, p.pod);
                    self.pods.insert(
                        p.uid,
                        Pod {
                            namespace,
                            pod,
                            seen,
                        },
                    );
                    continue;
                }
            } else if let Some(c) = names::container_log(name) {
                let (namespace, pod, container) = (c.namespace, c.pod, c.container);
                let entry = Container {
                    namespace,
                    pod,
                    container,
                    seen,
                };
                if c.cut {
                    self.cut.insert(c.id, entry);
                } else {
                    self.containers.insert(c.id, entry);
                }
                continue;
            }
            ignored += 1;
            example.get_or_insert_with(|| name.clone());
        }
        self.stats.ignored += ignored;
        example.map(|e| (ignored, e))
    }

    /// Drops the entries seen longest ago beyond the caps; returns how many
    /// pods and containers went.
    fn evict(&mut self) -> (usize, usize) {
        let pods = trim(&mut self.pods, MAX_PODS, |p| p.seen);
        let containers = trim(&mut self.containers, MAX_CONTAINERS, |c| c.seen)
            + trim(&mut self.cut, MAX_CONTAINERS, |c| c.seen);
        (pods, containers)
    }
}

/// Keeps the `max` entries of `map` seen most recently, the same ones
/// whatever the map's order: among entries seen in the same listing, those
/// of the lowest keys. Returns how many it dropped.
fn trim<V>(map: &mut HashMap<String, V>, max: usize, seen: impl Fn(&V) -> u64) -> usize {
    if map.len() <= max {
        return 0;
    }
    let mut by_age: Vec<(u64, String)> = map.iter().map(|(k, v)| (seen(v), k.clone())).collect();
    by_age.sort_unstable_by(|(a, ka), (b, kb)| b.cmp(a).then_with(|| ka.cmp(kb)));
    let dropped = by_age.len() - max;
    for (_, k) in by_age.into_iter().skip(max) {
        map.remove(&k);
    }
    dropped
}

#[cfg(test)]
mod tests;
