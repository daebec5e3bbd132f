//! [`Web`]: the web settings in use, swapped whole on reload, and what the
//! web layer counts for its metrics.
//!
//! Reloads never fail open: a file is taken only when two reads
//! [`RELOAD_SETTLE`] apart agree (a file caught mid-write is not mistaken for
//! a complete one), and a configuration that would turn off TLS, required
//! client certificates or basic auth is refused (a restart applies it).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::authgate::AuthGate;
use super::config::{self, WebConfig, WebConfigError, WebSettings};

/// On reload, the configuration is read twice this far apart and taken only
/// if both reads agree (and the files it names did not change meanwhile).
pub const RELOAD_SETTLE: Duration = Duration::from_millis(200);
/// Pairs of reads tried before a reload gives up on a file still changing.
pub const RELOAD_ATTEMPTS: u32 = 10;

type Stamps = Vec<Option<(SystemTime, u64)>>;

/// The outcome of the last load of the web configuration.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReloadStatus {
    pub(super) successful: bool,
    /// Last successful load (at start or on reload).
    pub(super) at: SystemTime,
}

/// What the web layer turned away or checked, for the metrics.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) checks_ok: AtomicU64,
    pub(super) checks_failed: AtomicU64,
    pub(super) checks_refused: AtomicU64,
    pub(super) refused_per_client: AtomicU64,
    pub(super) refused_total: AtomicU64,
}

/// The current web settings, swapped whole on reload.
pub struct Web {
    pub(super) path: Option<PathBuf>,
    pub(super) gate: Arc<AuthGate>,
    current: RwLock<Arc<WebSettings>>,
    stamp: RwLock<Stamps>,
    pub(super) status: Mutex<ReloadStatus>,
    pub(super) counters: Counters,
}

impl Web {
    /// Serves with the web configuration loaded and validated at start
    /// (the file is not read again here), or plain HTTP without one.
    pub fn new(loaded: Option<WebConfig>) -> Arc<Self> {
        let (path, settings) = match loaded {
            Some(WebConfig { path, settings }) => (Some(path), settings),
            None => (None, Arc::new(WebSettings::plain())),
        };
        let now = SystemTime::now();
        if let Some(p) = &path {
            if settings.empty {
                tracing::warn!(path = %p.display(), "the web configuration file sets nothing: plain HTTP without authentication");
            }
            warn_if_expired(&settings, p, now);
        }
        let stamp = stamps(path.as_deref(), &settings.files);
        let web = Self {
            gate: AuthGate::new(),
            stamp: RwLock::new(stamp),
            path,
            current: RwLock::new(settings),
            status: Mutex::new(ReloadStatus {
                successful: true,
                at: now,
            }),
            counters: Counters::default(),
        };
        Arc::new(web)
    }

    /// The settings for a new connection or request.
    pub fn current(&self) -> Arc<WebSettings> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn set_status(&self, successful: bool, now: SystemTime) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        status.successful = successful;
        if successful {
            status.at = now;
        }
    }

    /// Reads the file again. A file that does not parse, is still being
    /// written, or would turn protection off keeps the previous settings.
    /// Blocking (file reads, a short settle): call it from a blocking thread.
    pub fn reload(&self, why: &str) {
        let Some(path) = &self.path else { return };
        let running = self.current();
        let seen = stamps(Some(path), &running.files);
        let result = load_settled(path, RELOAD_SETTLE, RELOAD_ATTEMPTS).and_then(|(new, stamp)| {
            let what = config::lowered(&running, &new);
            if what.is_empty() {
                Ok((new, stamp))
            } else {
                Err(WebConfigError::Lowered {
                    path: path.clone(),
                    what,
                })
            }
        });
        let now = SystemTime::now();
        match result {
            Ok((settings, stamp)) => {
                warn_if_expired(&settings, path, now);
                *self.stamp.write().unwrap_or_else(PoisonError::into_inner) = stamp;
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(settings);
                self.set_status(true, now);
                tracing::info!(path = %path.display(), why, "web configuration reloaded");
            }
            Err(error) => {
                // A file still being written is tried again at the next
                // check; any other failure waits for the next change.
                if !matches!(error, WebConfigError::Unsettled { .. }) {
                    *self.stamp.write().unwrap_or_else(PoisonError::into_inner) = seen;
                }
                self.set_status(false, now);
                tracing::error!(%error, why, "web configuration not reloaded; keeping the previous settings");
            }
        }
    }

    /// Reloads if the file, or a certificate, key or CA file it names,
    /// changed since the last load.
    pub fn reload_if_changed(&self) {
        let Some(path) = &self.path else { return };
        let now = stamps(Some(path), &self.current().files);
        let before = self
            .stamp
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if now != before {
            self.reload("file changed");
        }
    }
}

/// Reads and parses the configuration until two reads `settle` apart agree,
/// and the certificate, key and CA files it names did not change between
/// them either; at most `attempts` times. Returns the settings with the
/// stamps they were read at.
fn load_settled(
    path: &Path,
    settle: Duration,
    attempts: u32,
) -> Result<(WebSettings, Stamps), WebConfigError> {
    let read = || {
        config::read_file(path).map_err(|source| WebConfigError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    for _ in 0..attempts {
        let text = read()?;
        let parsed = match std::str::from_utf8(&text) {
            Ok(t) => config::parse(t, path),
            Err(e) => Err(WebConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("not UTF-8: {e}"),
            }),
        };
        let files = parsed.as_ref().map_or(&[][..], |s| s.files.as_slice());
        let before = stamps(Some(path), files);
        std::thread::sleep(settle);
        if read()? == text && stamps(Some(path), files) == before {
            return parsed.map(|s| (s, before));
        }
    }
    Err(WebConfigError::Unsettled {
        path: path.to_path_buf(),
        waited: settle * attempts,
    })
}

/// Logs a warning when the served certificate has expired at `now`.
fn warn_if_expired(settings: &WebSettings, path: &Path, now: SystemTime) {
    let Some(not_after) = settings.not_after else {
        return;
    };
    if expired(not_after, now) {
        tracing::warn!(
            path = %path.display(),
            not_after = %crate::timefmt::rfc3339(not_after as f64),
            "TLS certificate has expired; clients that verify it will refuse to connect"
        );
    }
}

/// Whether a certificate valid until `not_after` (Unix seconds) has
/// expired at `now`.
fn expired(not_after: i64, now: SystemTime) -> bool {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    now > not_after
}

fn stamps(config: Option<&std::path::Path>, files: &[PathBuf]) -> Stamps {
    config
        .into_iter()
        .chain(files.iter().map(PathBuf::as_path))
        .map(file_stamp)
        .collect()
}

fn file_stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// The server starts with the settings validated at start: the file is
    /// not read again (it was parsed twice, and a file changed in between
    /// was served unvalidated, or failed the start after passing).
    #[test]
    fn the_settings_read_at_start_are_served_without_reading_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        let hash = bcrypt::hash("secret", 4).unwrap();
        std::fs::write(&path, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
        let loaded = WebConfig::load(path.clone()).unwrap();
        std::fs::write(&path, "nonsense: [\n").unwrap();
        let web = Web::new(Some(loaded));
        let current = web.current();
        assert!(current.needs_auth());
        assert!(current.users.contains_key("alice"));
        assert_eq!(web.path.as_deref(), Some(path.as_path()));
        // Plain HTTP without a file.
        assert!(!Web::new(None).current().needs_auth());
    }

    #[test]
    fn expiry_is_strictly_after_not_after() {
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        assert!(!expired(1_609_459_200, at(1_609_459_200)));
        assert!(expired(1_609_459_200, at(1_609_459_201)));
        assert!(!expired(67_090_118_400, at(1_609_459_201)));
    }

    #[test]
    fn a_file_is_taken_only_once_two_reads_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, "# settled\n").unwrap();
        let (settings, _) = load_settled(&path, Duration::from_millis(5), 3).unwrap();
        assert!(settings.empty);
        // A writer that keeps appending: never taken.
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (path, stop) = (path.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                use std::io::Write;
                let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    file.write_all(b"#\n").unwrap();
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let err = load_settled(&path, Duration::from_millis(20), 3).unwrap_err();
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(matches!(err, WebConfigError::Unsettled { .. }), "{err}");
        assert!(err.to_string().contains("rename it into place"), "{err}");
        // A stable broken file is an error at once, not a retry.
        std::fs::write(&path, "nonsense: 1\n").unwrap();
        let err = load_settled(&path, Duration::from_millis(5), 3).unwrap_err();
        assert!(matches!(err, WebConfigError::Invalid { .. }), "{err}");
    }
}
