//! The accept loop: plain HTTP or TLS (rustls), HTTP/1.1 with limits, the
//! web configuration reloadable without dropping the listener, graceful
//! shutdown.
//!
//! Limits: request headers at most 16 KiB (431 past it), a client has
//! `header_timeout` to send them (slowloris), TLS handshakes the same time,
//! at most [`MAX_CONNECTIONS`] open connections (more are closed at once),
//! so the exporter's memory stays bounded however it is driven.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::webconfig::{self, WebSettings};

/// Most open connections; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 512;
/// bcrypt checks running at once; more unverified requests get 429 at once,
/// so a flood of bad credentials cannot starve scrapes.
pub const MAX_PASSWORD_CHECKS: usize = 2;
/// Largest request head (request line and headers).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The current web settings, swapped whole on reload.
pub struct Web {
    path: Option<PathBuf>,
    checks: Arc<Semaphore>,
    current: RwLock<Arc<WebSettings>>,
    stamp: RwLock<Vec<Option<(SystemTime, u64)>>>,
}

impl Web {
    /// Settings from `path` (already validated at start), or plain HTTP.
    pub fn new(path: Option<PathBuf>) -> Result<Arc<Self>, webconfig::WebConfigError> {
        let settings = match &path {
            Some(p) => webconfig::load(p)?,
            None => WebSettings::plain(),
        };
        let stamp = stamps(path.as_deref(), &settings.files);
        let web = Self {
            checks: Arc::new(Semaphore::new(MAX_PASSWORD_CHECKS)),
            stamp: RwLock::new(stamp),
            path,
            current: RwLock::new(Arc::new(settings)),
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

    /// Reads the file again; a broken file keeps the previous settings.
    /// Blocking (file reads, bcrypt): call it from a blocking thread.
    pub fn reload(&self, why: &str) {
        let Some(path) = &self.path else { return };
        let old_files = self.current().files.clone();
        *self
            .stamp
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = stamps(Some(path), &old_files);
        match webconfig::load(path) {
            Ok(settings) => {
                *self
                    .stamp
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    stamps(Some(path), &settings.files);
                *self
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(settings);
                tracing::info!(path = %path.display(), why, "web configuration reloaded");
            }
            Err(error) => {
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

fn stamps(config: Option<&std::path::Path>, files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
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

/// Basic auth and extra headers from the current settings, on every path.
async fn web_layer(State(web): State<Arc<Web>>, request: Request, next: Next) -> Response {
    let settings = web.current();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let authorized = match settings.quick_check(authorization) {
        Some(answer) => answer,
        None => {
            let Ok(permit) = Arc::clone(&web.checks).try_acquire_owned() else {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many password checks at once\n",
                )
                    .into_response();
            };
            // bcrypt is slow on purpose: keep it off the async workers.
            let settings = Arc::clone(&settings);
            let authorization = authorization.map(str::to_owned);
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                settings.authorized(authorization.as_deref())
            })
            .await
            .unwrap_or(false)
        }
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
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(%peer, "too many connections; closing");
            continue;
        };
        let tls = web.current().tls.clone();
        let service = TowerToHyperService::new(app.clone());
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(MAX_HEADER_BYTES);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
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
