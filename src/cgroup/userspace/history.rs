//! The userspace kills the live exporter saw, newest last, bounded like
//! the kernel kills' history (`--collector.kmsg.history`), for `/kills`
//! and the `kills` command.
//!
//! A record is made when a cgroup's counters rise: at the scrape that
//! first sees the rise, whether the scrape read it or the watch caught it
//! before the cgroup went away. Its time is when it was seen (the kill
//! happened at most a scrape interval before, or at the watch read);
//! counters already set when the exporter first saw the cgroup are
//! recorded once, flagged `before_start`.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use super::Killer;
use crate::cgroup::owner::Owner;
use crate::k8s::Names;

/// One rise of a cgroup's counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserspaceKill {
    /// When it was seen (RFC 3339), or `None` for counters found on a
    /// cgroup without a time (the `kills` command).
    pub time: Option<String>,
    pub killer: Killer,
    /// The cgroup killed, as `task_memcg` of a kernel kill.
    pub task_memcg: String,
    /// Kill actions (`*.oomd_ooms` rise).
    pub kills: u64,
    /// Processes killed (`*.oomd_kill` rise).
    pub processes: u64,
    #[serde(flatten)]
    pub owner: Owner,
    /// The Kubernetes namespace, pod and container of the cgroup, as the
    /// kubelet's log directories named them when the kill was seen.
    #[serde(flatten)]
    pub names: Names,
    /// The counters were already set when the exporter first saw the
    /// cgroup.
    pub before_start: bool,
}

/// The last kills seen, at most `cap`.
#[derive(Debug)]
pub struct History {
    cap: usize,
    entries: Mutex<VecDeque<UserspaceKill>>,
}

impl History {
    /// Keeps at most `cap` kills (0: none).
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Adds a kill, dropping the oldest beyond the cap. A rise of the
    /// processes alone (systemd-oomd counts them after the kill action)
    /// completes the cgroup's last kill when there is one.
    pub fn record(&self, kill: UserspaceKill) {
        if self.cap == 0 {
            return;
        }
        let mut e = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if kill.kills == 0
            && let Some(last) = e
                .iter_mut()
                .rev()
                .find(|k| k.task_memcg == kill.task_memcg && k.killer == kill.killer)
        {
            last.processes = last.processes.saturating_add(kill.processes);
            return;
        }
        if e.len() >= self.cap {
            e.pop_front();
        }
        e.push_back(kill);
    }

    /// The last `limit` kills, newest first.
    pub fn recent(&self, limit: usize) -> Vec<UserspaceKill> {
        let e = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        e.iter().rev().take(limit).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kill(n: u64) -> UserspaceKill {
        UserspaceKill {
            time: None,
            killer: Killer::SystemdOomd,
            task_memcg: format!("/a{n}.scope"),
            kills: n,
            processes: n,
            owner: Owner::default(),
            names: Names::default(),
            before_start: false,
        }
    }

    #[test]
    fn keeps_the_newest_within_the_cap() {
        let h = History::new(2);
        for n in 1..=3 {
            h.record(kill(n));
        }
        let kills: Vec<u64> = h.recent(10).iter().map(|k| k.kills).collect();
        assert_eq!(kills, [3, 2]);
        assert_eq!(h.recent(1).len(), 1);
        let none = History::new(0);
        none.record(kill(1));
        assert!(none.recent(10).is_empty());
        // Processes counted after the kill action complete it.
        let mut more = kill(3);
        more.kills = 0;
        h.record(more);
        assert_eq!(h.recent(1)[0].processes, 6);
        let json = serde_json::to_value(kill(1)).unwrap();
        assert_eq!(json["killer"], "systemd-oomd");
        assert_eq!(json["task_memcg"], "/a1.scope");
        for key in ["namespace", "pod", "container"] {
            assert!(json[key].is_null(), "{key} unknown: {json}");
        }
    }

    #[test]
    fn processes_added_to_a_kill_saturate() {
        let h = History::new(2);
        let mut first = kill(1);
        first.processes = u64::MAX;
        h.record(first);
        let mut more = kill(1);
        more.kills = 0;
        more.processes = u64::MAX;
        h.record(more);
        assert_eq!(h.recent(1)[0].processes, u64::MAX);
    }
}
