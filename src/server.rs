//! The accept loop: plain HTTP or TLS (rustls), HTTP/1.1 with limits, the
//! web configuration reloadable without dropping the listener, graceful
//! shutdown.
//!
//! Limits: request headers at most 16 KiB (431 past it), a client has
//! `header_timeout` to send them (slowloris), TLS handshakes the same time,
//! at most [`MAX_CONNECTIONS`] open connections and at most
//! `--web.max-connections-per-client` from one client address (more are
//! closed at once), bcrypt checks shared out per client
//! ([`crate::authgate`]), so the exporter's memory stays bounded however it
//! is driven and one address cannot lock out another.
//!
//! Reloads never fail open: a file is taken only when two reads
//! [`RELOAD_SETTLE`] apart agree (a file caught mid-write is not mistaken for
//! a complete one), and a configuration that would turn off TLS, required
//! client certificates or basic auth is refused (a restart applies it).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus_client::encoding::DescriptorEncoder;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::authgate::AuthGate;
use crate::clients::{ClientKey, Connections};
use crate::metrics::{self, MetricWriter};
use crate::webconfig::{self, WebConfigError, WebSettings};

/// Most open connections; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 512;
/// Largest request head (request line and headers).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// On reload, the configuration is read twice this far apart and taken only
/// if both reads agree (and the files it names did not change meanwhile).
pub const RELOAD_SETTLE: Duration = Duration::from_millis(200);
/// Pairs of reads tried before a reload gives up on a file still changing.
pub const RELOAD_ATTEMPTS: u32 = 10;

type Stamps = Vec<Option<(SystemTime, u64)>>;

/// The outcome of the last load of the web configuration.
#[derive(Debug, Clone, Copy)]
struct ReloadStatus {
    successful: bool,
    /// Last successful load (at start or on reload).
    at: SystemTime,
}

/// What the web layer turned away or checked, for the metrics.
#[derive(Debug, Default)]
struct Counters {
    checks_ok: AtomicU64,
    checks_failed: AtomicU64,
    checks_refused: AtomicU64,
    refused_per_client: AtomicU64,
    refused_total: AtomicU64,
}

/// The current web settings, swapped whole on reload.
pub struct Web {
    path: Option<PathBuf>,
    gate: Arc<AuthGate>,
    current: RwLock<Arc<WebSettings>>,
    stamp: RwLock<Stamps>,
    status: Mutex<ReloadStatus>,
    counters: Counters,
}

impl Web {
    /// Settings from `path` (already validated at start), or plain HTTP.
    pub fn new(path: Option<PathBuf>) -> Result<Arc<Self>, webconfig::WebConfigError> {
        let settings = match &path {
            Some(p) => webconfig::load(p)?,
            None => WebSettings::plain(),
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
            current: RwLock::new(Arc::new(settings)),
            status: Mutex::new(ReloadStatus {
                successful: true,
                at: now,
            }),
            counters: Counters::default(),
        };
        Ok(Arc::new(web))
    }

    /// The settings for a new connection or request.
    pub fn current(&self) -> Arc<WebSettings> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
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
            let what = webconfig::lowered(&running, &new);
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
                *self
                    .stamp
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = stamp;
                *self
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(settings);
                self.set_status(true, now);
                tracing::info!(path = %path.display(), why, "web configuration reloaded");
            }
            Err(error) => {
                // A file still being written is tried again at the next
                // check; any other failure waits for the next change.
                if !matches!(error, WebConfigError::Unsettled { .. }) {
                    *self
                        .stamp
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = seen;
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
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        std::fs::read(path).map_err(|source| WebConfigError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    for _ in 0..attempts {
        let text = read()?;
        let parsed = match std::str::from_utf8(&text) {
            Ok(t) => webconfig::parse(t, path),
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

/// The exporter's metrics about its web layer: connections refused by the
/// limits, and with `--web.config.file` the reload status, password checks
/// and the certificate's expiry.
pub struct WebMetrics(pub Arc<Web>);

impl std::fmt::Debug for WebMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebMetrics")
    }
}

impl prometheus_client::collector::Collector for WebMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let web = &self.0;
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = MetricWriter::new(&mut encoder);
        out.counters_declared(
            "exporter_web_connections_refused",
            "Connections closed at once by a limit: per_client (--web.max-connections-per-client) or total (512 open)",
            None,
            &[
                (&[("limit", "per_client")], count(&web.counters.refused_per_client)),
                (&[("limit", "total")], count(&web.counters.refused_total)),
            ],
        )?;
        if web.path.is_none() {
            return Ok(());
        }
        out.counters_declared(
            "exporter_web_password_checks",
            "Basic auth bcrypt checks: ok, failed, or refused with 429 (too many at once, or the client failed too often); remembered credentials are not checked again",
            None,
            &[
                (&[("result", "ok")], count(&web.counters.checks_ok)),
                (&[("result", "failed")], count(&web.counters.checks_failed)),
                (&[("result", "refused")], count(&web.counters.checks_refused)),
            ],
        )?;
        let status = *web.status.lock().unwrap_or_else(PoisonError::into_inner);
        out.gauge(
            "exporter_web_config_last_reload_successful",
            "Whether the last load of --web.config.file succeeded (1) or was refused, the previous settings kept (0)",
            None,
            i64::from(status.successful),
        )?;
        out.gauge(
            "exporter_web_config_last_reload_success_timestamp",
            "When --web.config.file was last loaded successfully (at start or on reload), in seconds since the Unix epoch",
            metrics::seconds(),
            status
                .at
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        )?;
        if let Some(not_after) = web.current().not_after {
            out.gauge(
                "exporter_web_tls_certificate_not_after_timestamp",
                "Expiry (notAfter) of the TLS certificate being served, in seconds since the Unix epoch",
                metrics::seconds(),
                not_after,
            )?;
        }
        Ok(())
    }
}

/// The client address of a request's connection.
#[derive(Debug, Clone, Copy)]
struct Client(ClientKey);

/// Basic auth and extra headers from the current settings, on every path.
async fn web_layer(State(web): State<Arc<Web>>, request: Request, next: Next) -> Response {
    let settings = web.current();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let authorized = if !settings.needs_auth() {
        true
    } else if let Some((user, password)) = webconfig::credentials(authorization) {
        let known = settings.users.get(&user);
        if known.is_some_and(|hash| web.gate.remembered(&user, &password, hash)) {
            true
        } else {
            let client = request.extensions().get::<Client>().map(|c| c.0);
            match web.gate.admit(client, Instant::now()) {
                Err(refusal) => {
                    web.counters.checks_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(client = ?client, %refusal, "password check refused");
                    return (StatusCode::TOO_MANY_REQUESTS, format!("{refusal}\n")).into_response();
                }
                Ok(permit) => {
                    // bcrypt is slow on purpose: keep it off the async workers.
                    let settings = Arc::clone(&settings);
                    let web = Arc::clone(&web);
                    tokio::task::spawn_blocking(move || {
                        let ok = settings.verify(&user, &password);
                        match settings.users.get(&user) {
                            Some(hash) if ok => {
                                web.counters.checks_ok.fetch_add(1, Ordering::Relaxed);
                                web.gate.remember(&user, &password, hash);
                            }
                            _ => {
                                web.counters.checks_failed.fetch_add(1, Ordering::Relaxed);
                                if permit.failed(Instant::now()) {
                                    tracing::warn!(
                                        client = %client.map_or_else(|| "unknown".to_owned(), |c| c.to_string()),
                                        "too many failed password checks from this client; answering 429 without checking until its budget refills"
                                    );
                                }
                            }
                        }
                        drop(permit);
                        ok
                    })
                    .await
                    .unwrap_or(false)
                }
            }
        }
    } else {
        false
    };
    let mut response = if authorized {
        next.run(request).await
    } else {
        let mut r = (StatusCode::UNAUTHORIZED, "401 Unauthorized\n").into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oom_exporter\""),
        );
        r
    };
    for (name, value) in &settings.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Time limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// To send request headers, or finish the TLS handshake.
    pub header_timeout: Duration,
    /// Longest life of a connection: a client that stops reading its
    /// responses cannot hold a slot longer (Prometheus simply reconnects).
    pub lifetime: Duration,
    /// Open connections from one client address (0: no limit besides
    /// [`MAX_CONNECTIONS`]).
    pub per_client: usize,
}

/// Serves `router` on `listener` until `shutdown`; open connections then get
/// `grace` to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    web: Arc<Web>,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) {
    let app = router.layer(middleware::from_fn_with_state(Arc::clone(&web), web_layer));
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let per_client = Connections::new(limits.per_client);
    let warned = (AtomicBool::new(false), AtomicBool::new(false));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let client = ClientKey::from(peer);
        let Some(counted) = per_client.open(client) else {
            web.counters
                .refused_per_client
                .fetch_add(1, Ordering::Relaxed);
            if warned.0.swap(true, Ordering::Relaxed) {
                tracing::debug!(%peer, %client, "too many connections from this client; closing");
            } else {
                tracing::warn!(%peer, %client, limit = limits.per_client, "too many connections from this client (--web.max-connections-per-client); closing the new ones (logged once)");
            }
            continue;
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            web.counters.refused_total.fetch_add(1, Ordering::Relaxed);
            if warned.1.swap(true, Ordering::Relaxed) {
                tracing::debug!(%peer, "too many connections; closing");
            } else {
                tracing::warn!(%peer, limit = MAX_CONNECTIONS, "too many open connections; closing the new ones (logged once)");
            }
            continue;
        };
        let tls = web.current().tls.clone();
        let service = TowerToHyperService::new(app.clone().map_request(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(Client(client));
                request
            },
        ));
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(MAX_HEADER_BYTES);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = (slot, counted);
            match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let conn = builder.serve_connection(TokioIo::new(stream), service);
                            let _ =
                                tokio::time::timeout(limits.lifetime, watcher.watch(conn)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(tcp), service);
                    let _ = tokio::time::timeout(limits.lifetime, watcher.watch(conn)).await;
                }
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "requests still running after the grace period; closing them"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
