//! Basic auth under attack: credentials already verified are remembered,
//! so a scraper pays bcrypt once, and the bcrypt checks that remain are
//! shared out fairly between client addresses.
//!
//! - Remembered credentials are keyed hashes (random keys per process) of
//!   user and password, each stored with the bcrypt hash it was verified
//!   against. A reload keeps them; one whose user's hash changed (or whose
//!   user is gone) no longer counts.
//! - At most [`CHECKS`] bcrypt checks run at once, at most
//!   [`CHECKS_PER_CLIENT`] for one client ([`ClientKey`]).
//! - Each client has a failure budget: [`FAILURE_BURST`] failed checks,
//!   then one more per [`FAILURE_REFILL`]. A client past its budget gets no
//!   bcrypt check at all.
//! - A client with a failure still in its budget's memory may not take the
//!   last free check: that one is kept for clients without failures, so a
//!   flood of bad passwords from elsewhere never holds every check.
//!
//! Refused requests are answered 429 at once; nothing queues.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::clients::ClientKey;

/// bcrypt checks running at once, for all clients together.
pub const CHECKS: usize = 2;
/// bcrypt checks running at once for one client.
pub const CHECKS_PER_CLIENT: usize = 1;
/// Checks kept for clients without recent failures.
pub const KEPT_FOR_CLEAN: usize = 1;
/// Failed checks a client may make in a burst.
pub const FAILURE_BURST: u32 = 10;
/// Time after which a client may fail once more.
pub const FAILURE_REFILL: Duration = Duration::from_secs(6);
/// Clients tracked at most; clients with nothing running and a full budget
/// are forgotten first. Past it, new clients are treated as having failed.
pub const TRACKED: usize = 4096;
/// Credentials remembered at most (the memory is emptied when full).
pub const REMEMBERED: usize = 64;

/// Why a bcrypt check was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Every check this client may use is running.
    #[error("too many password checks at once")]
    Busy,
    /// The client failed too often lately.
    #[error("too many failed password checks from this address; try again later")]
    Budget,
}

#[derive(Debug)]
struct Client {
    running: usize,
    /// Failures still allowed (refills over time up to the burst).
    budget: f64,
    at: Instant,
    /// Running out of budget was reported (until the budget is full again).
    reported: bool,
}

impl Client {
    fn refill(&mut self, now: Instant) {
        let gained =
            now.saturating_duration_since(self.at).as_secs_f64() / FAILURE_REFILL.as_secs_f64();
        self.budget = (self.budget + gained).min(f64::from(FAILURE_BURST));
        self.at = now;
        if self.clean() {
            self.reported = false;
        }
    }

    fn clean(&self) -> bool {
        self.budget >= f64::from(FAILURE_BURST)
    }
}

#[derive(Debug, Default)]
struct Checks {
    running: usize,
    clients: HashMap<ClientKey, Client>,
}

/// Remembered credentials and the bcrypt admission state.
#[derive(Debug)]
pub struct AuthGate {
    checks: Mutex<Checks>,
    remembered: Mutex<HashMap<u64, String>>,
    keys: RandomState,
}

/// A running bcrypt check; its slot is freed when dropped.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<AuthGate>,
    client: Option<ClientKey>,
}

impl AuthGate {
    /// An empty gate.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            checks: Mutex::new(Checks::default()),
            remembered: Mutex::new(HashMap::new()),
            keys: RandomState::new(),
        })
    }

    fn key(&self, user: &str, password: &str) -> u64 {
        self.keys.hash_one((user, password))
    }

    /// Whether `user` and `password` were verified before against `hash`,
    /// the user's current bcrypt hash.
    pub fn remembered(&self, user: &str, password: &str, hash: &str) -> bool {
        let key = self.key(user, password);
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .is_some_and(|h| h == hash)
    }

    /// Remembers that `password` is right for `user` while its hash is `hash`.
    pub fn remember(&self, user: &str, password: &str, hash: &str) {
        let key = self.key(user, password);
        let mut remembered = self
            .remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if remembered.len() >= REMEMBERED && !remembered.contains_key(&key) {
            remembered.clear();
        }
        remembered.insert(key, hash.to_owned());
    }

    /// A slot for one bcrypt check by `client` (`None`: unknown, counted as
    /// one shared client), or why not.
    pub fn admit(
        self: &Arc<Self>,
        client: Option<ClientKey>,
        now: Instant,
    ) -> Result<Permit, Refusal> {
        let mut checks = self.checks.lock().unwrap_or_else(PoisonError::into_inner);
        let free = CHECKS.saturating_sub(checks.running);
        if checks.clients.len() >= TRACKED {
            checks.clients.retain(|_, c| {
                c.refill(now);
                c.running > 0 || !c.clean()
            });
        }
        let tracked =
            client.filter(|k| checks.clients.contains_key(k) || checks.clients.len() < TRACKED);
        let clean = match tracked {
            Some(key) => {
                let c = checks.clients.entry(key).or_insert(Client {
                    running: 0,
                    budget: f64::from(FAILURE_BURST),
                    at: now,
                    reported: false,
                });
                c.refill(now);
                if c.running >= CHECKS_PER_CLIENT {
                    return Err(Refusal::Busy);
                }
                if c.budget < 1.0 {
                    return Err(Refusal::Budget);
                }
                c.clean()
            }
            // Untracked: no per-client bookkeeping, so never the kept check.
            None => false,
        };
        if free == 0 || (!clean && free <= KEPT_FOR_CLEAN) {
            return Err(Refusal::Busy);
        }
        checks.running += 1;
        if let Some(c) = tracked.and_then(|k| checks.clients.get_mut(&k)) {
            c.running += 1;
        }
        Ok(Permit {
            gate: Arc::clone(self),
            client: tracked,
        })
    }
}

impl Permit {
    /// The check failed: it counts against the client's budget. True when
    /// this failure used up the budget and that was not reported yet, so
    /// the caller logs it once.
    pub fn failed(&self, now: Instant) -> bool {
        let Some(key) = self.client else {
            return false;
        };
        let mut checks = self
            .gate
            .checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(c) = checks.clients.get_mut(&key) else {
            return false;
        };
        c.refill(now);
        c.budget = (c.budget - 1.0).max(0.0);
        let report = c.budget < 1.0 && !c.reported;
        c.reported |= report;
        report
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut checks = self
            .gate
            .checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        checks.running = checks.running.saturating_sub(1);
        if let Some(c) = self.client.and_then(|k| checks.clients.get_mut(&k)) {
            c.running = c.running.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Option<ClientKey> {
        Some(ClientKey::of(s.parse().unwrap()))
    }

    #[test]
    fn one_client_runs_one_check_and_leaves_the_other() {
        let gate = AuthGate::new();
        let now = Instant::now();
        let attacker = key("127.0.0.2");
        let held = gate.admit(attacker, now).unwrap();
        assert_eq!(gate.admit(attacker, now).unwrap_err(), Refusal::Busy);
        let scraper = gate.admit(key("127.0.0.1"), now).unwrap();
        assert_eq!(
            gate.admit(key("127.0.0.3"), now).unwrap_err(),
            Refusal::Busy,
            "all checks running"
        );
        drop((held, scraper));
    }

    #[test]
    fn a_client_that_failed_cannot_take_the_last_check() {
        let gate = AuthGate::new();
        let now = Instant::now();
        let (attacker, other_attacker) = (key("127.0.0.2"), key("127.0.0.3"));
        for client in [attacker, other_attacker] {
            gate.admit(client, now).unwrap().failed(now);
        }
        let held = gate.admit(attacker, now).unwrap();
        assert_eq!(
            gate.admit(other_attacker, now).unwrap_err(),
            Refusal::Busy,
            "the last check is kept"
        );
        let scraper = gate.admit(key("127.0.0.1"), now);
        assert!(scraper.is_ok(), "a client without failures gets it");
        drop((held, scraper));
    }

    #[test]
    fn the_failure_budget_runs_out_and_refills() {
        let gate = AuthGate::new();
        let mut now = Instant::now();
        let attacker = key("127.0.0.2");
        let reports: Vec<bool> = (0..FAILURE_BURST)
            .map(|_| gate.admit(attacker, now).unwrap().failed(now))
            .collect();
        assert_eq!(reports.iter().filter(|r| **r).count(), 1);
        assert!(reports[FAILURE_BURST as usize - 1], "reported when used up");
        assert_eq!(gate.admit(attacker, now).unwrap_err(), Refusal::Budget);
        now += FAILURE_REFILL;
        assert!(
            !gate.admit(attacker, now).unwrap().failed(now),
            "reported once, not at every refill"
        );
        assert_eq!(gate.admit(attacker, now).unwrap_err(), Refusal::Budget);
        // Others are not affected.
        assert!(gate.admit(key("127.0.0.1"), now).is_ok());
    }

    #[test]
    fn remembered_credentials_follow_the_users_hash() {
        let gate = AuthGate::new();
        gate.remember("prometheus", "s3cret", "$2y$10$hash-one");
        assert!(gate.remembered("prometheus", "s3cret", "$2y$10$hash-one"));
        assert!(!gate.remembered("prometheus", "s3cret", "$2y$10$hash-two"));
        assert!(!gate.remembered("prometheus", "wrong", "$2y$10$hash-one"));
        assert!(!gate.remembered("other", "s3cret", "$2y$10$hash-one"));
        for i in 0..REMEMBERED {
            gate.remember(&format!("u{i}"), "p", "h");
        }
        assert!(gate.remembered.lock().unwrap().len() <= REMEMBERED);
    }

    #[test]
    fn tracked_clients_stay_bounded() {
        let gate = AuthGate::new();
        let now = Instant::now();
        for i in 0..(TRACKED as u32 + 100) {
            let client = Some(ClientKey::of(
                std::net::Ipv4Addr::from(0x0a00_0000 + i).into(),
            ));
            if let Ok(p) = gate.admit(client, now) {
                p.failed(now);
            }
        }
        assert!(gate.checks.lock().unwrap().clients.len() <= TRACKED);
        assert_eq!(gate.checks.lock().unwrap().running, 0);
    }
}
