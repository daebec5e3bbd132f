//! Logging a recurring problem once: the first time (and whenever it
//! changes) at the caller's level, then at debug; and its end once.
//!
//! The caller keeps the `tracing` call, with its level and fields; a
//! [`LogOnce`] only says whether this occurrence is news.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

/// Remembers, per key, the problem last logged. `K` names what can go
/// wrong (a collector, a resource, a limit); `()` when there is one thing.
#[derive(Debug)]
pub struct LogOnce<K = ()> {
    said: Mutex<HashMap<K, String>>,
}

impl<K: Eq + Hash> Default for LogOnce<K> {
    fn default() -> Self {
        Self {
            said: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash> LogOnce<K> {
    /// Nothing said yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that `key` has the problem `message`. True when it is news,
    /// to log at its own level: the first time for `key`, or a problem
    /// other than the one last said. False when said already: log it at
    /// debug, if at all.
    pub fn problem(&self, key: K, message: &str) -> bool {
        let mut said = self.said.lock().unwrap_or_else(PoisonError::into_inner);
        if said.get(&key).is_some_and(|last| last == message) {
            return false;
        }
        said.insert(key, message.to_owned());
        true
    }

    /// Notes that `key` happened, with nothing to tell one occurrence from
    /// another: true only the first time (until [`LogOnce::recovered`]).
    pub fn first(&self, key: K) -> bool {
        self.problem(key, "")
    }

    /// Notes that `key` works again. True when it had a problem: log the
    /// recovery, once.
    pub fn recovered(&self, key: &K) -> bool {
        self.said
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_news_once_until_it_changes_or_ends() {
        let once = LogOnce::new();
        assert!(once.problem("meminfo", "read failed"));
        assert!(!once.problem("meminfo", "read failed"));
        assert!(once.problem("vmstat", "read failed"), "keys are apart");
        assert!(
            once.problem("meminfo", "bad line 3"),
            "a new problem is news"
        );
        assert!(!once.problem("meminfo", "bad line 3"));
        assert!(once.recovered(&"meminfo"));
        assert!(!once.recovered(&"meminfo"), "the recovery is said once");
        assert!(!once.recovered(&"sysctl"), "never failed, never recovered");
        assert!(
            once.problem("meminfo", "bad line 3"),
            "news again after recovering"
        );
    }

    #[test]
    fn first_is_true_once() {
        let once: LogOnce = LogOnce::new();
        assert!(once.first(()));
        assert!(!once.first(()));
        assert!(!once.first(()));
        assert!(once.recovered(&()));
        assert!(once.first(()));
    }
}
