//! The `tls_server_config` part of the web configuration, turned into a
//! rustls server configuration: certificate and key, client certificates
//! verified against a CA, TLS versions, cipher suites and curves as the
//! exporter-toolkit names them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use super::config::TlsServerConfig;

/// The rustls configuration, and the certificate's `notAfter`.
pub(super) fn tls_config(
    tls: &TlsServerConfig,
    base: &Path,
) -> Result<(rustls::ServerConfig, Option<i64>), String> {
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
    let Some(leaf) = certs.first() else {
        return Err(format!("cert_file {}: no certificate", cert_file.display()));
    };
    let not_after = super::x509::not_after(leaf);
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
    Ok((config, not_after))
}
