//! Polling with a deadline: the one wait loop of the tests.

use std::time::{Duration, Instant};

/// Calls `check` every `every` until it returns `Ok`, and returns its
/// value. After `limit` it panics with `what` and the last `Err`, which
/// says what was seen instead.
pub fn until<T>(
    limit: Duration,
    every: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(v) => return v,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "{what}: not within {limit:?}\n{seen}"
            ),
        }
        std::thread::sleep(every);
    }
}
