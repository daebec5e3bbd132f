//! Shares one expensive computation between callers that arrive while it
//! runs: two scrapes at the same moment scan /proc once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::scan::{Scan, Scanner};

/// The last result and when it was finished.
#[derive(Debug)]
pub struct SingleFlight<T> {
    last: Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        Self {
            last: Mutex::new(None),
        }
    }
}

impl<T> SingleFlight<T> {
    /// Runs `work`, unless a run that finished after this call began can be
    /// shared: a caller that waited for a run in progress gets its result.
    pub fn run(&self, work: impl FnOnce() -> T) -> Arc<T> {
        let asked = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((finished, result)) = last.as_ref()
            && *finished >= asked
        {
            return Arc::clone(result);
        }
        let result = Arc::new(work());
        *last = Some((Instant::now(), Arc::clone(&result)));
        result
    }
}

/// The process scan, shared by scrapes that arrive together.
#[derive(Debug)]
pub struct SharedScanner {
    scanner: Scanner,
    flight: SingleFlight<Result<Scan, String>>,
    scans: AtomicU64,
}

impl SharedScanner {
    /// Shares the scans of `scanner`.
    pub fn new(scanner: Scanner) -> Self {
        Self {
            scanner,
            flight: SingleFlight::default(),
            scans: AtomicU64::new(0),
        }
    }

    /// A scan that finished after this call began: this caller's own, or
    /// the one it waited for.
    pub fn scan(&self) -> Arc<Result<Scan, String>> {
        self.flight.run(|| {
            self.scans.fetch_add(1, Ordering::Relaxed);
            self.scanner.scan().map_err(|e| e.to_string())
        })
    }

    /// Scans run so far.
    pub fn scans(&self) -> u64 {
        self.scans.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn concurrent_callers_share_one_run() {
        let flight = Arc::new(SingleFlight::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (flight, runs, barrier) =
                    (Arc::clone(&flight), Arc::clone(&runs), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    flight.run(|| {
                        std::thread::sleep(Duration::from_millis(200));
                        runs.fetch_add(1, Ordering::SeqCst)
                    })
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // The first caller runs; the others waited and share its result.
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn later_callers_run_again() {
        let flight = SingleFlight::default();
        let a = flight.run(|| 1);
        let b = flight.run(|| 2);
        assert_eq!((*a, *b), (1, 2));
    }
}
