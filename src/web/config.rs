//! `--web.config.file`: the Prometheus exporter-toolkit web configuration,
//! read unchanged: `tls_server_config`, `http_server_config.headers`,
//! `basic_auth_users` (bcrypt). Parsed and validated into [`WebSettings`]
//! (rustls acceptor, users, headers) in one step, so a reload either yields
//! complete new settings or an error and the old settings stay.
//!
//! Validation never runs bcrypt: a hash is checked for its form and its
//! cost (at most [`MAX_BCRYPT_COST`]), so a hostile or mistaken cost cannot
//! stall start-up or a reload. [`lowered`] tells what a new configuration
//! would turn off compared with the running one (a reload refuses that).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;
use tokio_rustls::TlsAcceptor;

use super::tls::{resolve, tls_config};

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfigFile {
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    pub http_server_config: Option<HttpServerConfig>,
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
}

/// `tls_server_config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    #[serde(default)]
    pub client_auth_type: Option<String>,
    pub client_ca_file: Option<PathBuf>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// Accepted for compatibility; rustls always uses the server's order.
    pub prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    pub curve_preferences: Vec<String>,
}

/// `http_server_config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// Accepted for compatibility; the exporter serves HTTP/1.1.
    pub http2: Option<bool>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Highest bcrypt cost accepted. Each step doubles the work: on one core
/// of a current x86 server cost 10 takes about 60 ms, 16 about 4 s, and 31
/// (the most the format allows) about 37 hours.
pub const MAX_BCRYPT_COST: u32 = 16;

/// Why a web configuration is rejected.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", .path.display())]
    Invalid { path: PathBuf, message: String },
    /// A reload would turn off protection the running settings have.
    #[error(
        "{}: would turn off {}, which the running settings have; a reload never lowers protection: restart the exporter to apply this file",
        .path.display(), .what.join(" and ")
    )]
    Lowered {
        path: PathBuf,
        what: Vec<&'static str>,
    },
    /// The file kept changing between reads: still being written.
    #[error("{}: still changing after {waited:?}; will retry when it changes again (write a new file and rename it into place)", .path.display())]
    Unsettled { path: PathBuf, waited: Duration },
}

/// A web configuration file and the settings read from it, once, at start.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The file, read again on reload.
    pub path: PathBuf,
    /// What it said when the exporter started.
    pub settings: Arc<WebSettings>,
}

impl WebConfig {
    /// Reads and validates the file at `path`.
    pub fn load(path: PathBuf) -> Result<Self, WebConfigError> {
        let settings = Arc::new(load(&path)?);
        Ok(Self { path, settings })
    }
}

/// Validated settings, ready to serve with.
pub struct WebSettings {
    /// TLS, when configured.
    pub tls: Option<TlsAcceptor>,
    /// Whether TLS requires a verified client certificate.
    pub client_certs_required: bool,
    /// `notAfter` of the served certificate (Unix seconds), when TLS is on
    /// and the certificate could be read.
    pub not_after: Option<i64>,
    /// Users and their bcrypt hashes; empty means no authentication.
    pub users: BTreeMap<String, String>,
    /// The dearest user's hash, checked for unknown users so that they
    /// take as long as a wrong password.
    pub dummy_hash: String,
    /// Extra response headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Certificate, key and CA files in use: a change to any of them
    /// (certificate rotation) reloads the settings like a change to the
    /// configuration file.
    pub files: Vec<PathBuf>,
    /// The document set nothing at all (empty or only comments).
    pub empty: bool,
}

impl std::fmt::Debug for WebSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the hashes.
        f.debug_struct("WebSettings")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .finish()
    }
}

impl WebSettings {
    /// Plain HTTP, no authentication: when there is no config file.
    pub fn plain() -> Self {
        Self {
            tls: None,
            client_certs_required: false,
            not_after: None,
            users: BTreeMap::new(),
            dummy_hash: String::new(),
            headers: Vec::new(),
            files: Vec::new(),
            empty: true,
        }
    }

    /// Whether requests need basic auth.
    pub fn needs_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether `password` is `user`'s, by bcrypt (slow on purpose). An
    /// unknown user costs a check against the dearest hash, then no.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        match self.users.get(user) {
            Some(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            None => {
                let _ = bcrypt::verify(password, &self.dummy_hash);
                false
            }
        }
    }
}

/// What `new` would turn off that `running` has: TLS, required client
/// certificates, basic auth. Empty when `new` protects as much.
pub fn lowered(running: &WebSettings, new: &WebSettings) -> Vec<&'static str> {
    [
        (running.tls.is_some() && new.tls.is_none(), "TLS"),
        (
            running.client_certs_required && !new.client_certs_required,
            "required client certificates",
        ),
        (running.needs_auth() && !new.needs_auth(), "basic auth"),
    ]
    .into_iter()
    .filter_map(|(off, what)| off.then_some(what))
    .collect()
}

/// Parses and validates the text of a web configuration file; relative
/// paths are resolved against `base` (the file's directory).
pub fn parse(text: &str, path: &Path) -> Result<WebSettings, WebConfigError> {
    let invalid = |message: String| WebConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let file: WebConfigFile = if text.trim().is_empty() {
        WebConfigFile::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| {
            // The parser's first line says what and where; the rest is a
            // drawing of the input that does not belong in a log line.
            let message = e.to_string();
            invalid(message.lines().next().unwrap_or_default().to_owned())
        })?
    };
    let mut settings = WebSettings::plain();
    settings.empty = file.tls_server_config.is_none()
        && file.http_server_config.is_none()
        && file.basic_auth_users.is_empty();
    let mut dearest = 0;
    for (user, hash) in &file.basic_auth_users {
        if user.contains(':') {
            return Err(invalid(format!(
                "basic_auth_users: user name {user:?} contains ':'"
            )));
        }
        let cost = bcrypt_cost(hash).map_err(|problem| {
            invalid(format!("basic_auth_users: the hash of {user:?} {problem}"))
        })?;
        // Unknown users are checked against the dearest hash, so they never
        // answer faster than a wrong password.
        if cost > dearest {
            dearest = cost;
            settings.dummy_hash.clone_from(hash);
        }
    }
    settings.users = file.basic_auth_users;
    if let Some(http) = file.http_server_config {
        for (name, value) in http.headers {
            let n = HeaderName::try_from(name.as_str())
                .map_err(|_| invalid(format!("headers: bad header name {name:?}")))?;
            let v = HeaderValue::try_from(value.as_str())
                .map_err(|_| invalid(format!("headers: bad value for {name}")))?;
            settings.headers.push((n, v));
        }
    }
    if let Some(tls) = file.tls_server_config {
        settings.files = [&tls.cert_file, &tls.key_file, &tls.client_ca_file]
            .into_iter()
            .flatten()
            .map(|p| resolve(base, p))
            .collect();
        let (config, not_after) = tls_config(&tls, base).map_err(invalid)?;
        settings.tls = Some(TlsAcceptor::from(Arc::new(config)));
        settings.not_after = not_after;
        settings.client_certs_required =
            tls.client_auth_type.as_deref() == Some("RequireAndVerifyClientCert");
    }
    Ok(settings)
}

/// The cost of a bcrypt hash, checked for form and range without running
/// bcrypt; the error completes "the hash of USER ...".
fn bcrypt_cost(hash: &str) -> Result<u32, String> {
    let parts: bcrypt::HashParts = hash
        .parse()
        .map_err(|_| "is not a bcrypt hash".to_owned())?;
    match parts.get_cost() {
        cost @ 4..=MAX_BCRYPT_COST => Ok(cost),
        cost if cost < 4 => Err(format!("has bcrypt cost {cost}, below the minimum of 4")),
        cost => Err(format!(
            "has bcrypt cost {cost}, above the maximum of {MAX_BCRYPT_COST} (each step doubles the time of every check; 10 to 12 is usual: htpasswd -nbB -C 10 USER PASSWORD)"
        )),
    }
}

/// Reads and parses the file at `path`.
pub fn load(path: &Path) -> Result<WebSettings, WebConfigError> {
    let bytes = read_file(path).map_err(|source| WebConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| WebConfigError::Invalid {
        path: path.to_path_buf(),
        message: format!("not UTF-8: {e}"),
    })?;
    parse(&text, path)
}

/// Largest web configuration, certificate, key or CA file read: far above
/// any real one (a CA bundle of a few hundred certificates is under 1 MiB).
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// Reads a file the web configuration names (or the configuration itself):
/// only a regular file, at most [`MAX_FILE_BYTES`]. Opened without
/// blocking, so a FIFO or device put in its place is an error, not a
/// reload that never returns.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;
