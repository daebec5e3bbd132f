//! Polling with a deadline: the one wait loop of the tests.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// Calls `check` every `every` until it returns `Ok`, and returns its
/// value. After `limit` it panics with `what` and the last `Err`, which
/// says what was seen instead.
pub fn until<T>(
    limit: Duration,
    every: Duration,
    what: &str,
    check: impl FnMut() -> Result<T, String>,
) -> T {
    until_deadline(Instant::now() + limit, every, what, check)
}

/// Like [`until`], with a deadline that several waits can share (e.g.
/// "all of these within a minute").
pub fn until_deadline<T>(
    deadline: Instant,
    every: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let started = Instant::now();
    loop {
        match check() {
            Ok(v) => return v,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "{what}: not within {:?}\n{seen}",
                deadline.saturating_duration_since(started)
            ),
        }
        std::thread::sleep(every);
    }
}

/// Like [`until`], but after `limit` it returns the last `Err` value
/// instead of panicking, for a caller whose own assertion says what was
/// wrong with it.
pub fn until_or_last<T>(
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> Result<T, T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => return last,
            Err(_) => {}
        }
        std::thread::sleep(every);
    }
}

/// Waits (polling every 20 ms) until `child` has exited and returns its
/// status; after `limit` panics with `what`. The caller's `KillOnDrop`
/// (or the test's end) then kills and reaps it.
pub fn exit(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    until(limit, Duration::from_millis(20), what, || {
        child
            .try_wait()
            .unwrap()
            .ok_or_else(|| format!("pid {} still running", child.id()))
    })
}
