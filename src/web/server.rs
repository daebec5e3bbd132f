//! The accept loop: plain HTTP or TLS (rustls), HTTP/1.1 with limits,
//! graceful shutdown. The settings come from [`Web`], so a reload applies to
//! the next connection without dropping the listener.
//!
//! Limits: request headers at most 16 KiB (431 past it), a client has
//! `header_timeout` to send them (slowloris), TLS handshakes the same time,
//! at most [`MAX_CONNECTIONS`] open connections and at most
//! `--web.max-connections-per-client` from one client address (more are
//! closed at once), bcrypt checks shared out per client
//! ([`super::authgate`]), so the exporter's memory stays bounded however it
//! is driven and one address cannot lock out another.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use super::auth::{Client, web_layer};
use super::clients::{ClientKey, Connections};
use super::settings::Web;
use crate::logonce::LogOnce;

/// The connection limits, for logging each once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Limit {
    PerClient,
    Total,
}

/// Most open connections; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 512;
/// Largest request head (request line and headers).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

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
    let warned = LogOnce::new();
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
            if warned.first(Limit::PerClient) {
                tracing::warn!(%peer, %client, limit = limits.per_client, "too many connections from this client (--web.max-connections-per-client); closing the new ones (logged once)");
            } else {
                tracing::debug!(%peer, %client, "too many connections from this client; closing");
            }
            continue;
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            web.counters.refused_total.fetch_add(1, Ordering::Relaxed);
            if warned.first(Limit::Total) {
                tracing::warn!(%peer, limit = MAX_CONNECTIONS, "too many open connections; closing the new ones (logged once)");
            } else {
                tracing::debug!(%peer, "too many connections; closing");
            }
            continue;
        };
        let accepted = Accepted {
            tcp,
            peer,
            client,
            held: (slot, counted),
        };
        let tls = web.current().tls.clone();
        spawn_connection(accepted, &app, tls, limits, graceful.watcher());
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

/// A connection let in by the limits.
struct Accepted<H> {
    tcp: TcpStream,
    peer: SocketAddr,
    client: ClientKey,
    /// Its connection slot and its count for the client, released when
    /// the connection ends.
    held: H,
}

/// Serves one accepted connection on a task of its own: the TLS handshake
/// (if any) within the header timeout, then HTTP/1.1 for at most the
/// connection's lifetime.
fn spawn_connection<H: Send + 'static>(
    accepted: Accepted<H>,
    app: &Router,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    watcher: Watcher,
) {
    let Accepted {
        tcp,
        peer,
        client,
        held,
    } = accepted;
    let routes = TowerToHyperService::new(app.clone());
    let service = service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(Client(client));
        routes.call(request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    tokio::spawn(async move {
        let _held = held;
        match tls {
            Some(acceptor) => {
                match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        let _ = tokio::time::timeout(limits.lifetime, watcher.watch(conn)).await;
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
