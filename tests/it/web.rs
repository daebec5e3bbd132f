//! `--web.config.file`, TLS, basic auth, request limits: with certificates
//! made here (rcgen), a rustls client, a real Prometheus, and raw sockets
//! for malformed and slow requests.

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

use crate::helpers::{BIN, Exporter, fixture, request, require_tool};
use crate::prometheus::Prometheus;

/// A CA, a server certificate for localhost/127.0.0.1 and a client
/// certificate, as PEM files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = server_params.signed_by(&server_key, &ca).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(vec!["scraper".to_owned()]).unwrap();
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = client_params.signed_by(&client_key, &ca).unwrap();
        for (name, pem) in [
            ("ca.pem", ca.pem()),
            ("server.pem", server.pem()),
            ("server-key.pem", server_key.serialize_pem()),
            ("client.pem", client.pem()),
            ("client-key.pem", client_key.serialize_pem()),
        ] {
            std::fs::write(dir.path().join(name), pem).unwrap();
        }
        Self { dir }
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
    let config = if client_cert {
        let chain = vec![CertificateDer::from_pem_file(pki.path("client.pem")).unwrap()];
        let key = PrivateKeyDer::from_pem_file(pki.path("client-key.pem")).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let sock = TcpStream::connect(addr).unwrap();
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

#[test]
fn tls_and_basic_auth_from_a_rustls_client() {
    let pki = Pki::new();
    let web = pki.web_config(&format!(
        "{TLS}{}http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n",
        users("s3cret")
    ));
    let e = start(&web, &[]);
    let (status, body) = tls_get(
        &pki,
        e.addr,
        "/metrics",
        Some(("prometheus", "s3cret")),
        false,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("oom_memory_available_bytes"));
    assert!(
        body.to_ascii_lowercase()
            .contains("x-content-type-options: nosniff")
    );
    for auth in [
        Some(("prometheus", "wrong")),
        Some(("nobody", "s3cret")),
        None,
    ] {
        let (status, body) = tls_get(&pki, e.addr, "/metrics", auth, false).unwrap();
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert!(
            body.to_ascii_lowercase()
                .contains("www-authenticate: basic"),
            "{body}"
        );
    }
    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(e.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf);
    assert!(
        !String::from_utf8_lossy(&buf).contains("HTTP/1.1 200"),
        "plain HTTP was served"
    );
    // Credentials never reach the log.
    assert!(!e.log().contains("s3cret") && !e.log().contains("wrong"));
}

#[test]
fn client_certificate_required_when_configured() {
    let pki = Pki::new();
    let web = pki.web_config(&format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  min_version: TLS12\n"));
    let e = start(&web, &[]);
    assert_eq!(
        tls_get(&pki, e.addr, "/-/healthy", None, true).unwrap().0,
        200
    );
    assert!(
        tls_get(&pki, e.addr, "/-/healthy", None, false).is_err(),
        "served without a client certificate"
    );
}

#[test]
fn prometheus_scrapes_over_tls_with_basic_auth() {
    if require_tool("prometheus", "scrape over TLS with basic auth").is_none() {
        return;
    }
    let pki = Pki::new();
    let web = pki.web_config(&format!("{TLS}{}", users("s3cret")));
    let e = start(&web, &[]);
    let ca = pki.path("ca.pem");
    let job = |name: &str, password: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config:\n      ca_file: {ca}\n      server_name: localhost\n    \
             basic_auth:\n      username: prometheus\n      password: {password}\n    static_configs:\n      - targets: ['{addr}']\n",
            ca = ca.display(),
            addr = e.addr
        )
    };
    let prometheus = Prometheus::start_with(&format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}{}",
        job("good", "s3cret"),
        job("bad", "wrong")
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    assert_eq!(
        prometheus.query_until("up{job=\"good\"} == 1", deadline),
        1.0,
        "{}",
        prometheus.log()
    );
    assert!(prometheus.query_until("oom_memory_total_bytes{job=\"good\"}", deadline) > 0.0);
    assert_eq!(prometheus.query_until("up{job=\"bad\"}", deadline), 0.0);
}

#[test]
fn reload_on_sighup_and_on_change_keeps_the_listener_and_survives_a_broken_file() {
    let pki = Pki::new();
    let web = pki.web_config(&users("one"));
    let e = start(&web, &[]);
    let basic = |p: &str| basic("prometheus", p);
    assert_eq!(
        e.get("/metrics", &[("Authorization", &basic("one"))])
            .status,
        200
    );
    std::fs::write(&web, users("two")).unwrap();
    assert!(
        Command::new("kill")
            .args(["-HUP", &e.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    e.wait_log("web configuration reloaded");
    assert_eq!(
        e.get("/metrics", &[("Authorization", &basic("two"))])
            .status,
        200
    );
    assert_eq!(
        e.get("/metrics", &[("Authorization", &basic("one"))])
            .status,
        401
    );
    // A broken file on reload: the previous settings stay, and it says so.
    std::fs::write(&web, "basic_auth_users: [oops\n").unwrap();
    assert!(
        Command::new("kill")
            .args(["-HUP", &e.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    e.wait_log("keeping the previous settings");
    assert_eq!(
        e.get("/metrics", &[("Authorization", &basic("two"))])
            .status,
        200
    );
    // A changed file is picked up without a signal.
    std::fs::write(&web, format!("{}# changed\n", users("three"))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while e
        .get("/metrics", &[("Authorization", &basic("three"))])
        .status
        != 200
    {
        assert!(
            Instant::now() < deadline,
            "file change not picked up:\n{}",
            e.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_broken_web_config_at_start_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    for body in [
        "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.pem\n",
        "basic_auth_users:\n  a: plain\n",
        "nonsense: 1\n",
    ] {
        std::fs::write(&web, body).unwrap();
        let out = Command::new(BIN)
            .arg(format!("--web.config.file={}", web.display()))
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{body}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("web.yml"), "{stderr}");
    }
}

fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(bytes);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[test]
fn malformed_and_slow_requests_do_not_stop_the_others() {
    let procfs = format!(
        "--path.procfs={}",
        fixture("linux-6.18-psi-zswap").display()
    );
    let e = Exporter::start(&[
        &procfs,
        "--no-collector.kmsg",
        "--no-collector.process",
        "--web.header-timeout=1s",
    ]);
    // Oversized headers: 431 (or a closed connection), never served.
    let big = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let answer = raw(e.addr, big.as_bytes());
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer:.80}"
    );
    // Garbage: 400 or closed.
    let answer = raw(e.addr, b"\x00\x01\x02 not http at all\r\n\r\n");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer:.80}"
    );
    // Slowloris: a request that never finishes is cut off after the header
    // timeout, while others are served meanwhile.
    let mut slow = TcpStream::connect(e.addr).unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let started = Instant::now();
    assert_eq!(e.get("/metrics", &[]).status, 200);
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "slow client held the connection for {took:?}"
    );
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    assert_eq!(
        request(e.addr, "DELETE", "/metrics", &[("Content-Length", "0")]).status,
        405
    );
    assert_eq!(e.get("/-/healthy", &[]).status, 200);
}

#[test]
fn concurrent_scrapes_past_the_limit_get_503_and_health_stays_cheap() {
    // A scrape that blocks: meminfo is a FIFO nobody writes to yet.
    let dir = crate::helpers::copy_fixture("linux-6.18-psi-zswap");
    let fifo = dir.path().join("meminfo");
    std::fs::remove_file(&fifo).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let e = Exporter::start(&[
        &format!("--path.procfs={}", dir.path().display()),
        "--no-collector.kmsg",
        "--no-collector.process",
        "--web.max-requests=1",
    ]);
    let addr = e.addr;
    let blocked = std::thread::spawn(move || request(addr, "GET", "/metrics", &[]).status);
    std::thread::sleep(Duration::from_millis(500));
    let second = e.get("/metrics", &[]);
    assert_eq!(second.status, 503, "{}", second.body);
    assert_eq!(e.get("/-/healthy", &[]).status, 200);
    assert_eq!(e.get("/", &[]).status, 200);
    // Release the first scrape.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .unwrap()
        .write_all(b"MemTotal: 1 kB\n")
        .unwrap();
    assert_eq!(blocked.join().unwrap(), 200);
}

#[test]
fn a_flood_of_bad_passwords_does_not_stall_a_known_scraper() {
    let pki = Pki::new();
    let web = pki.web_config(&format!(
        "basic_auth_users:\n  prometheus: {}\n",
        bcrypt::hash("s3cret", 10).unwrap()
    ));
    let e = start(&web, &[]);
    let basic = |p: &str| basic("prometheus", p);
    // Verified once (one bcrypt), then remembered.
    assert_eq!(
        e.get("/metrics", &[("Authorization", &basic("s3cret"))])
            .status,
        200
    );
    let addr = e.addr;
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let bad = basic("wrong");
            std::thread::spawn(move || {
                request(addr, "GET", "/-/healthy", &[("Authorization", &bad)]).status
            })
        })
        .collect();
    let started = Instant::now();
    assert_eq!(
        e.get("/metrics", &[("Authorization", &basic("s3cret"))])
            .status,
        200
    );
    let took = started.elapsed();
    let statuses: Vec<u16> = flood.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        took < Duration::from_secs(1),
        "known scraper waited {took:?} behind the flood"
    );
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "no request was turned away: {statuses:?}"
    );
}

#[test]
fn a_rotated_certificate_is_picked_up_without_a_signal() {
    let old = Pki::new();
    let web = old.web_config(TLS);
    let e = start(&web, &[]);
    assert_eq!(
        tls_get(&old, e.addr, "/-/healthy", None, false).unwrap().0,
        200
    );
    // Rotate: a certificate from another CA lands in the same files.
    let new = Pki::new();
    for f in ["server.pem", "server-key.pem"] {
        std::fs::copy(new.path(f), old.path(f)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while tls_get(&new, e.addr, "/-/healthy", None, false).is_err() {
        assert!(
            Instant::now() < deadline,
            "rotated certificate not served:\n{}",
            e.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        tls_get(&old, e.addr, "/-/healthy", None, false).is_err(),
        "old certificate still served"
    );
}

#[test]
fn a_client_that_never_reads_is_cut_off_after_the_connection_lifetime() {
    let procfs = format!(
        "--path.procfs={}",
        fixture("linux-6.18-psi-zswap").display()
    );
    let e = Exporter::start(&[
        &procfs,
        "--no-collector.kmsg",
        "--no-collector.process",
        "--no-collector.cgroup",
        "--web.connection-lifetime=2s",
    ]);
    let mut greedy = TcpStream::connect(e.addr).unwrap();
    // Pipelined requests whose answers are never read fill the socket
    // buffers and leave the server waiting to write.
    let started = Instant::now();
    let burst = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(5000);
    greedy
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = greedy.write_all(burst.as_bytes());
    std::thread::sleep(Duration::from_secs(3));
    // Cut off: reading now ends (after whatever was buffered) well before
    // another 5000 responses could have been written.
    greedy
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sink = Vec::new();
    let _ = greedy.read_to_end(&mut sink);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "connection held for {took:?}"
    );
    let answers = String::from_utf8_lossy(&sink)
        .matches("HTTP/1.1 200")
        .count();
    assert!(
        answers < 5000,
        "all {answers} pipelined requests were answered: not cut off"
    );
    assert_eq!(e.get("/-/healthy", &[]).status, 200);
}
