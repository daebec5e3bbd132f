//! The web side: the routes, the server loop that serves them, and the web
//! configuration (TLS, basic auth, headers) with its reloads.
//!
//! - [`routes`]: the axum router: `/metrics` with format negotiation, `/`, `/kills`, `/report`, `/-/healthy`, `/-/ready`
//! - [`report`]: `/report`, the incident report of a kill in the history
//! - [`server`]: the accept loop: TLS, connection and request limits, graceful shutdown
//! - [`config`]: `--web.config.file` (exporter-toolkit format) parsed and validated into settings
//! - [`tls`]: the `tls_server_config` part of that file, turned into a rustls configuration
//! - [`x509`]: the expiry of the served certificate, read from its DER
//! - [`settings`]: the settings in use, reloaded on change or SIGHUP without ever failing open
//! - [`auth`]: the middleware that checks basic auth and adds the configured headers
//! - [`authgate`]: remembered credentials and bcrypt checks shared out fairly between clients
//! - [`clients`]: client addresses as the per-client limits count them; open connections per client
//! - [`metrics`]: the exporter's metrics about its web layer (refused connections, reloads, password checks)

pub mod auth;
pub mod authgate;
pub mod clients;
pub mod config;
pub mod metrics;
pub mod report;
pub mod routes;
pub mod server;
pub mod settings;
pub mod tls;
pub mod x509;

pub use metrics::WebMetrics;
pub use settings::Web;
