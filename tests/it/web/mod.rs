//! `--web.config.file`, TLS, basic auth, request limits: with certificates
//! made here (rcgen), a rustls client, a real Prometheus, and raw sockets
//! for malformed and slow requests. This file holds what the tests share:
//! the test PKI, starting the exporter with a web config, TLS and plain
//! clients, waiting on the log.

mod limits;
mod reload;
mod tls;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::support::Prometheus;
use crate::support::{BIN, Exporter, KillOnDrop, fixture, request, require_tool, sample, wait};

/// A CA, a server certificate for localhost/127.0.0.1 and a client
/// certificate, as PEM files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let pki = Self { dir, ca };
        pki.issue_server(None);
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(vec!["scraper".to_owned()]).unwrap();
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = client_params.signed_by(&client_key, &pki.ca).unwrap();
        for (name, pem) in [
            ("ca.pem", pki.ca.pem()),
            ("client.pem", client.pem()),
            ("client-key.pem", client_key.serialize_pem()),
        ] {
            std::fs::write(pki.path(name), pem).unwrap();
        }
        pki
    }

    /// Writes a new server certificate and key from this CA into
    /// `server.pem` and `server-key.pem`: valid from January 1st of the
    /// first year to January 1st of the second, or rcgen's default (1975 to
    /// 4096).
    fn issue_server(&self, years: Option<(i32, i32)>) {
        let server_key = KeyPair::generate().unwrap();
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if let Some((from, to)) = years {
            server_params.not_before = rcgen::date_time_ymd(from, 1, 1);
            server_params.not_after = rcgen::date_time_ymd(to, 1, 1);
        }
        let server = server_params.signed_by(&server_key, &self.ca).unwrap();
        // Key first: a reload between the two writes sees a mismatch and
        // keeps the previous settings, then takes both.
        std::fs::write(self.path("server-key.pem"), server_key.serialize_pem()).unwrap();
        std::fs::write(self.path("server.pem"), server.pem()).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a web config next to the certificates (relative paths).
    fn web_config(&self, body: &str) -> PathBuf {
        let path = self.path("web.yml");
        std::fs::write(&path, body).unwrap();
        path
    }
}

const TLS: &str = "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n";

fn users(password: &str) -> String {
    format!(
        "basic_auth_users:\n  prometheus: {}\n",
        bcrypt::hash(password, 4).unwrap()
    )
}

fn start(web: &Path, extra: &[&str]) -> Exporter {
    let procfs = format!(
        "--path.procfs={}",
        fixture("linux-6.18-psi-zswap").display()
    );
    let config = format!("--web.config.file={}", web.display());
    let mut args = vec![
        procfs.as_str(),
        config.as_str(),
        "--no-collector.kmsg",
        "--no-collector.process",
    ];
    args.extend_from_slice(extra);
    Exporter::start(&args)
}

/// An `Authorization: Basic` value.
fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// GET over TLS with the test CA, optionally with a client certificate.
fn tls_get(
    pki: &Pki,
    addr: SocketAddr,
    path: &str,
    auth: Option<(&str, &str)>,
    client_cert: bool,
) -> Result<(u16, String), String> {
    let sock = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tls_request(pki, sock, path, auth, client_cert, None)
}

/// The client's clock, for certificates outside their validity today.
#[derive(Debug)]
struct FixedTime(u64);

impl rustls::time_provider::TimeProvider for FixedTime {
    fn current_time(&self) -> Option<rustls::pki_types::UnixTime> {
        Some(rustls::pki_types::UnixTime::since_unix_epoch(
            Duration::from_secs(self.0),
        ))
    }
}

/// GET over TLS on a connected socket; `now` (Unix seconds) sets the
/// client's clock for certificate checks.
fn tls_request(
    pki: &Pki,
    sock: TcpStream,
    path: &str,
    auth: Option<(&str, &str)>,
    client_cert: bool,
    now: Option<u64>,
) -> Result<(u16, String), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.path("ca.pem")).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = if client_cert {
        let chain = vec![CertificateDer::from_pem_file(pki.path("client.pem")).unwrap()];
        let key = PrivateKeyDer::from_pem_file(pki.path("client-key.pem")).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    if let Some(now) = now {
        config.time_provider = Arc::new(FixedTime(now));
    }
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some((u, p)) = auth {
        req.push_str(&format!("Authorization: {}\r\n", basic(u, p)));
    }
    req.push_str("\r\n");
    tls.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // Servers may close without close_notify after Connection: close.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no response: {text:?}"))?;
    Ok((status, text))
}

/// Waits until `needle` occurs at least `n` times in the log.
fn wait_count(e: &Exporter, needle: &str, n: usize, within: Duration) {
    wait::until(
        within,
        Duration::from_millis(20),
        &format!("{needle:?} not logged {n} times"),
        || {
            let log = e.log();
            if log.matches(needle).count() >= n {
                Ok(())
            } else {
                Err(log)
            }
        },
    );
}

const REFUSED: &str = "keeping the previous settings";
const RELOADED: &str = "web configuration reloaded";

fn sighup(e: &Exporter) {
    assert!(
        Command::new("kill")
            .args(["-HUP", &e.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// A TCP connection to `to` from the loopback address `from`: 127.0.0.2
/// plays the attacker, 127.0.0.1 the scraper.
fn connect_from(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let from: SocketAddr = format!("{from}:0").parse().unwrap();
    socket.bind(&from.into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

/// GET over plain HTTP from `from`; any failure (refused, closed without an
/// answer) is an `Err` rather than a panic, since that is what these tests
/// look for.
fn get_from(
    from: &str,
    to: SocketAddr,
    path: &str,
    auth: Option<(&str, &str)>,
) -> Result<(u16, String), String> {
    let mut s = connect_from(from, to).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some((u, p)) = auth {
        req.push_str(&format!("Authorization: {}\r\n", basic(u, p)));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no answer: {text:?}"))?;
    Ok((status, text))
}
