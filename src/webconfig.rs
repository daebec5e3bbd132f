//! `--web.config.file`: the Prometheus exporter-toolkit web configuration,
//! read unchanged: `tls_server_config`, `http_server_config.headers`,
//! `basic_auth_users` (bcrypt). Parsed and validated into [`WebSettings`]
//! (rustls acceptor, users, headers) in one step, so a reload either yields
//! complete new settings or an error and the old settings stay.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use serde::Deserialize;
use tokio_rustls::TlsAcceptor;

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
}

/// Validated settings, ready to serve with.
pub struct WebSettings {
    /// TLS, when configured.
    pub tls: Option<TlsAcceptor>,
    /// Users and their bcrypt hashes; empty means no authentication.
    pub users: BTreeMap<String, String>,
    /// A hash with the users' cost, checked for unknown users so that
    /// they take as long as a wrong password.
    pub dummy_hash: String,
    /// Extra response headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Certificate, key and CA files in use: a change to any of them
    /// (certificate rotation) reloads the settings like a change to the
    /// configuration file.
    pub files: Vec<PathBuf>,
    /// Credentials already verified, as keyed hashes (random keys per
    /// process): a scraper pays bcrypt once, not on every scrape. Bounded;
    /// emptied with every reload since settings are rebuilt.
    verified: std::sync::Mutex<std::collections::HashSet<u64>>,
    keys: std::collections::hash_map::RandomState,
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
            users: BTreeMap::new(),
            dummy_hash: String::new(),
            headers: Vec::new(),
            files: Vec::new(),
            verified: std::sync::Mutex::new(std::collections::HashSet::new()),
            keys: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The answer without bcrypt, when there is one: `Some(true)` with no
    /// users or for credentials verified before, `Some(false)` without
    /// usable credentials, `None` when bcrypt must decide.
    pub fn quick_check(&self, authorization: Option<&str>) -> Option<bool> {
        if self.users.is_empty() {
            return Some(true);
        }
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return Some(false);
        };
        let key = self.key(&user, &password);
        let verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        verified.contains(&key).then_some(true)
    }

    fn key(&self, user: &str, password: &str) -> u64 {
        use std::hash::BuildHasher;
        self.keys.hash_one((user, password))
    }

    /// Whether `authorization` (the header's value) names a user with the
    /// right password. With no users configured everyone is allowed.
    pub fn authorized(&self, authorization: Option<&str>) -> bool {
        if let Some(answer) = self.quick_check(authorization) {
            return answer;
        }
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return false;
        };
        match self.users.get(&user) {
            Some(hash) => {
                let ok = bcrypt::verify(&password, hash).unwrap_or(false);
                if ok {
                    let mut verified = self
                        .verified
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if verified.len() >= 64 {
                        verified.clear();
                    }
                    verified.insert(self.key(&user, &password));
                }
                ok
            }
            None => {
                // Same work as a wrong password, then no.
                let _ = bcrypt::verify(&password, &self.dummy_hash);
                false
            }
        }
    }
}

fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
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
        serde_yaml_ng::from_str(text).map_err(|e| invalid(e.to_string()))?
    };
    let mut settings = WebSettings::plain();
    for (user, hash) in &file.basic_auth_users {
        if user.contains(':') {
            return Err(invalid(format!(
                "basic_auth_users: user name {user:?} contains ':'"
            )));
        }
        if bcrypt::verify("", hash).is_err() {
            return Err(invalid(format!(
                "basic_auth_users: the hash of {user:?} is not a bcrypt hash"
            )));
        }
    }
    // The dummy hash costs what the dearest user's does, so an unknown user
    // never answers faster than a wrong password.
    let cost = file
        .basic_auth_users
        .values()
        .filter_map(|h| h.split('$').nth(2).and_then(|c| c.parse::<u32>().ok()))
        .max();
    if let Some(cost) = cost {
        settings.dummy_hash =
            bcrypt::hash("oom_exporter unknown user", cost).map_err(|e| invalid(e.to_string()))?;
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
        let resolve = |p: &PathBuf| {
            if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            }
        };
        settings.files = [&tls.cert_file, &tls.key_file, &tls.client_ca_file]
            .into_iter()
            .flatten()
            .map(resolve)
            .collect();
        settings.tls = Some(TlsAcceptor::from(Arc::new(
            tls_config(&tls, base).map_err(invalid)?,
        )));
    }
    Ok(settings)
}

/// Reads and parses the file at `path`.
pub fn load(path: &Path) -> Result<WebSettings, WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

fn tls_config(tls: &TlsServerConfig, base: &Path) -> Result<rustls::ServerConfig, String> {
    let resolve = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            base.join(p)
        }
    };
    let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) else {
        return Err("tls_server_config needs cert_file and key_file".to_owned());
    };
    let (cert_file, key_file) = (resolve(cert_file), resolve(key_file));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_file)
        .and_then(Iterator::collect)
        .map_err(|e| format!("cert_file {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!("cert_file {}: no certificate", cert_file.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|e| format!("key_file {}: {e}", key_file.display()))?;

    let mut provider = rustls::crypto::ring::default_provider();
    if !tls.cipher_suites.is_empty() {
        let wanted: Vec<String> = tls
            .cipher_suites
            .iter()
            .map(|s| s.trim_end_matches("_SHA256").to_owned())
            .collect();
        for name in &wanted {
            let known = provider
                .cipher_suites
                .iter()
                .any(|s| format!("{:?}", s.suite()).trim_end_matches("_SHA256") == name);
            if !known {
                return Err(format!(
                    "cipher_suites: {name} is not supported (supported: TLS 1.2 ECDHE with AES-GCM or CHACHA20-POLY1305)"
                ));
            }
        }
        // The list restricts TLS 1.2 suites; TLS 1.3 suites are always on, as in Go.
        provider.cipher_suites.retain(|s| {
            s.version() == &rustls::version::TLS13
                || wanted
                    .iter()
                    .any(|w| format!("{:?}", s.suite()).trim_end_matches("_SHA256") == w)
        });
    }
    if !tls.curve_preferences.is_empty() {
        let mut groups = Vec::new();
        for curve in &tls.curve_preferences {
            let name = match curve.as_str() {
                "X25519" => "X25519",
                "CurveP256" => "secp256r1",
                "CurveP384" => "secp384r1",
                other => {
                    return Err(format!(
                        "curve_preferences: {other} is not supported (X25519, CurveP256, CurveP384)"
                    ));
                }
            };
            let group = provider
                .kx_groups
                .iter()
                .find(|g| format!("{:?}", g.name()).eq_ignore_ascii_case(name))
                .copied()
                .ok_or_else(|| format!("curve_preferences: {curve} unavailable"))?;
            groups.push(group);
        }
        provider.kx_groups = groups;
    }
    let version = |v: &Option<String>, default: u8| match v.as_deref() {
        None => Ok(default),
        Some("TLS12") => Ok(12),
        Some("TLS13") => Ok(13),
        Some(other @ ("TLS10" | "TLS11")) => {
            Err(format!("{other} is not supported: TLS 1.2 is the minimum"))
        }
        Some(other) => Err(format!("unknown TLS version {other:?} (TLS12 or TLS13)")),
    };
    let (min, max) = (
        version(&tls.min_version, 12)?,
        version(&tls.max_version, 13)?,
    );
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(n, _)| (min..=max).contains(n))
            .map(|(_, v)| v)
            .collect();
    if versions.is_empty() {
        return Err("min_version is above max_version".to_owned());
    }
    let builder = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?;
    let auth = tls.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match auth {
        "NoClientCert" if tls.client_ca_file.is_some() => {
            return Err("client_ca_file is set but client_auth_type is NoClientCert".to_owned());
        }
        "NoClientCert" => builder.with_no_client_auth(),
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let Some(ca) = &tls.client_ca_file else {
                return Err(format!("client_auth_type {auth} needs client_ca_file"));
            };
            let ca = resolve(ca);
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(&ca)
                .map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?
            {
                roots
                    .add(cert.map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?)
                    .map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots));
            let verifier = if auth == "VerifyClientCertIfGiven" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| e.to_string())?)
        }
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(format!(
                "client_auth_type {auth} (unverified client certificates) is not supported; use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
            ));
        }
        other => return Err(format!("unknown client_auth_type {other:?}")),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("cert_file/key_file: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("/etc/oom_exporter/web.yml")
    }

    #[test]
    fn empty_file_is_plain_http() {
        let s = parse("", p()).unwrap();
        assert!(s.tls.is_none() && s.users.is_empty());
        assert!(s.authorized(None));
    }

    #[test]
    fn unknown_fields_and_bad_values_are_errors() {
        for text in [
            "tls_server_config:\n  cert: x\n",
            "basic_auth_users: [a]\n",
            "basic_auth_users:\n  alice: not-a-hash\n",
            "basic_auth_users:\n  \"a:b\": $2y$04$abcdefghijklmnopqrstuuHt9Q6XRCu0iYRPfYbdnNZBWq/ay0b1m\n",
            "http_server_config:\n  headers:\n    \"Bad Header\": x\n",
            "tls_server_config:\n  key_file: k\n",
            "tls_server_config:\n  cert_file: /nonexistent/c\n  key_file: /nonexistent/k\n",
        ] {
            let err = parse(text, p()).unwrap_err().to_string();
            assert!(
                err.starts_with("/etc/oom_exporter/web.yml: "),
                "{text:?} -> {err}"
            );
        }
    }

    #[test]
    fn basic_auth_checks_the_password_not_the_timing_path() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let s = parse(&format!("basic_auth_users:\n  alice: {hash}\n"), p()).unwrap();
        let header = |u: &str, pw: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{pw}"))
            )
        };
        assert!(s.authorized(Some(&header("alice", "secret"))));
        assert!(!s.authorized(Some(&header("alice", "wrong"))));
        assert!(!s.authorized(Some(&header("bob", "secret"))));
        assert!(!s.authorized(None));
        assert!(!s.authorized(Some("Bearer x")));
        assert!(
            s.dummy_hash.starts_with("$2b$04$"),
            "dummy hash with the users' cost"
        );
        assert!(
            !format!("{s:?}").contains(&hash),
            "Debug must not show hashes"
        );
    }
}
