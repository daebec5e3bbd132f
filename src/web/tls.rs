//! The `tls_server_config` part of the web configuration, turned into a
//! rustls server configuration: certificate and key, client certificates
//! verified against a CA, TLS versions, cipher suites and curves as the
//! exporter-toolkit names them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{WantsServerCert, WebPkiClientVerifier};
use rustls::{ConfigBuilder, ServerConfig, SupportedProtocolVersion, WantsVerifier};

use super::config::TlsServerConfig;

/// The rustls configuration, and the certificate's `notAfter`. Relative
/// paths are resolved against `base`.
pub(super) fn tls_config(
    tls: &TlsServerConfig,
    base: &Path,
) -> Result<(ServerConfig, Option<i64>), String> {
    let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) else {
        return Err("tls_server_config needs cert_file and key_file".to_owned());
    };
    let (cert_file, key_file) = (resolve(base, cert_file), resolve(base, key_file));
    let pem = |what: &str, path: &Path| {
        super::config::read_file(path).map_err(|e| format!("{what} {}: {e}", path.display()))
    };
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&pem("cert_file", &cert_file)?)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("cert_file {}: {e}", cert_file.display()))?;
    let Some(leaf) = certs.first() else {
        return Err(format!("cert_file {}: no certificate", cert_file.display()));
    };
    let not_after = super::x509::not_after(leaf);
    let key = PrivateKeyDer::from_pem_slice(&pem("key_file", &key_file)?)
        .map_err(|e| format!("key_file {}: {e}", key_file.display()))?;

    let mut provider = rustls::crypto::ring::default_provider();
    restrict_cipher_suites(&mut provider, &tls.cipher_suites)?;
    restrict_curves(&mut provider, &tls.curve_preferences)?;
    let versions = versions(tls)?;
    let builder = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?;
    let mut config = client_auth(builder, tls, base)?
        .with_single_cert(certs, key)
        .map_err(|e| format!("cert_file/key_file: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, not_after))
}

/// `p`, or `base/p` when it is relative.
pub(super) fn resolve(base: &Path, p: &PathBuf) -> PathBuf {
    if p.is_absolute() {
        p.clone()
    } else {
        base.join(p)
    }
}

/// `cipher_suites`: restricts the TLS 1.2 suites to those named (Go's
/// names); TLS 1.3 suites are always on, as in Go.
fn restrict_cipher_suites(provider: &mut CryptoProvider, names: &[String]) -> Result<(), String> {
    if names.is_empty() {
        return Ok(());
    }
    let wanted: Vec<String> = names
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
    provider.cipher_suites.retain(|s| {
        s.version() == &rustls::version::TLS13
            || wanted
                .iter()
                .any(|w| format!("{:?}", s.suite()).trim_end_matches("_SHA256") == w)
    });
    Ok(())
}

/// `curve_preferences`: the key exchange groups, in the order given.
fn restrict_curves(provider: &mut CryptoProvider, curves: &[String]) -> Result<(), String> {
    if curves.is_empty() {
        return Ok(());
    }
    let mut groups = Vec::new();
    for curve in curves {
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
    Ok(())
}

/// `min_version` and `max_version`: TLS 1.2 and 1.3 by default, never
/// below 1.2.
fn versions(tls: &TlsServerConfig) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
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
    let versions: Vec<&'static SupportedProtocolVersion> =
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(n, _)| (min..=max).contains(n))
            .map(|(_, v)| v)
            .collect();
    if versions.is_empty() {
        return Err("min_version is above max_version".to_owned());
    }
    Ok(versions)
}

/// `client_auth_type` and `client_ca_file`: no client certificates, or
/// ones verified against the CA (optional or required). Unverified client
/// certificates are refused.
fn client_auth(
    builder: ConfigBuilder<ServerConfig, WantsVerifier>,
    tls: &TlsServerConfig,
    base: &Path,
) -> Result<ConfigBuilder<ServerConfig, WantsServerCert>, String> {
    let auth = tls.client_auth_type.as_deref().unwrap_or("NoClientCert");
    match auth {
        "NoClientCert" if tls.client_ca_file.is_some() => {
            Err("client_ca_file is set but client_auth_type is NoClientCert".to_owned())
        }
        "NoClientCert" => Ok(builder.with_no_client_auth()),
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let Some(ca) = &tls.client_ca_file else {
                return Err(format!("client_auth_type {auth} needs client_ca_file"));
            };
            let ca = resolve(base, ca);
            let mut roots = rustls::RootCertStore::empty();
            let bundle = super::config::read_file(&ca)
                .map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?;
            for cert in CertificateDer::pem_slice_iter(&bundle) {
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
            Ok(builder.with_client_cert_verifier(verifier.build().map_err(|e| e.to_string())?))
        }
        "RequestClientCert" | "RequireAnyClientCert" => Err(format!(
            "client_auth_type {auth} (unverified client certificates) is not supported; use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
        )),
        other => Err(format!("unknown client_auth_type {other:?}")),
    }
}
