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

use crate::support::Prometheus;
use crate::support::{BIN, Exporter, fixture, request, require_tool, sample};

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
#[ignore = "needs prometheus"]
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
    let dir = crate::support::copy_fixture("linux-6.18-psi-zswap");
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
    // From another address (more connections than one address may hold:
    // those past the cap are closed, status 0 here).
    let flood: Vec<_> = (0..40)
        .map(|_| {
            std::thread::spawn(move || {
                get_from(
                    "127.0.0.2",
                    addr,
                    "/-/healthy",
                    Some(("prometheus", "wrong")),
                )
                .map_or(0, |(status, _)| status)
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
        statuses.iter().all(|s| [0, 401, 429].contains(s)),
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

/// Waits until `needle` occurs at least `n` times in the log.
fn wait_count(e: &Exporter, needle: &str, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let log = e.log();
        if log.matches(needle).count() >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} not logged {n} times within {within:?}:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sighup(e: &Exporter) {
    assert!(
        Command::new("kill")
            .args(["-HUP", &e.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

const REFUSED: &str = "keeping the previous settings";
const RELOADED: &str = "web configuration reloaded";

#[test]
fn a_reload_that_would_turn_tls_or_auth_off_is_refused() {
    let pki = Pki::new();
    let full = format!("{TLS}{}", users("s3cret"));
    let web = pki.web_config(&full);
    let e = start(&web, &[]);
    let scrape = || {
        tls_get(
            &pki,
            e.addr,
            "/metrics",
            Some(("prometheus", "s3cret")),
            false,
        )
        .unwrap()
        .1
    };
    let first = scrape();
    assert_eq!(
        sample(&first, "oom_exporter_web_config_last_reload_successful"),
        Some(1.0),
        "{first}"
    );
    let loaded_at = sample(
        &first,
        "oom_exporter_web_config_last_reload_success_timestamp_seconds",
    )
    .unwrap();
    // What a template rendering nothing, a file caught mid-write, or an
    // edit that drops one section looks like.
    let downgrades = [
        String::new(),
        "# rendered empty\n\n".to_owned(),
        users("s3cret"),
        TLS.to_owned(),
        format!("{TLS}basic_auth_users:\n"),
    ];
    for (n, body) in downgrades.iter().enumerate() {
        std::fs::write(&web, body).unwrap();
        sighup(&e);
        wait_count(&e, REFUSED, n + 1, Duration::from_secs(10));
        // Still TLS, still authenticated.
        assert_eq!(
            tls_get(&pki, e.addr, "/metrics", None, false).unwrap().0,
            401,
            "{body:?}"
        );
        let metrics = scrape();
        assert_eq!(
            sample(&metrics, "oom_exporter_web_config_last_reload_successful"),
            Some(0.0),
            "{body:?}"
        );
        let plain = get_from("127.0.0.1", e.addr, "/metrics", None);
        assert!(
            !matches!(plain, Ok((200, _))),
            "{body:?}: served in cleartext"
        );
    }
    let log = e.log();
    assert!(!log.contains(RELOADED), "{log}");
    assert!(
        log.contains("restart"),
        "the refusal says how to downgrade: {log}"
    );
    // The automatic reload refuses likewise.
    std::fs::write(&web, "").unwrap();
    wait_count(&e, REFUSED, downgrades.len() + 1, Duration::from_secs(15));
    assert_eq!(
        tls_get(&pki, e.addr, "/metrics", None, false).unwrap().0,
        401
    );
    // A complete file again: reloaded, the metric back to 1.
    std::fs::write(&web, format!("{full}# fixed\n")).unwrap();
    sighup(&e);
    wait_count(&e, RELOADED, 1, Duration::from_secs(10));
    let metrics = scrape();
    assert_eq!(
        sample(&metrics, "oom_exporter_web_config_last_reload_successful"),
        Some(1.0)
    );
    assert!(
        sample(
            &metrics,
            "oom_exporter_web_config_last_reload_success_timestamp_seconds"
        )
        .unwrap()
            >= loaded_at
    );
}

#[test]
fn a_web_config_caught_mid_write_is_not_taken_for_complete() {
    let pki = Pki::new();
    let alice = bcrypt::hash("a", 4).unwrap();
    let prometheus = bcrypt::hash("s3cret", 4).unwrap();
    let head = format!("basic_auth_users:\n  alice: {alice}\n");
    let whole = format!("{head}  prometheus: {prometheus}\n");
    let web = pki.web_config(&whole);
    let e = start(&web, &[]);
    let ok = || {
        get_from(
            "127.0.0.1",
            e.addr,
            "/metrics",
            Some(("prometheus", "s3cret")),
        )
        .unwrap()
        .0
    };
    assert_eq!(ok(), 200);
    // A writer that rewrites the file in place, in two writes: the first
    // half alone is a valid file with one user fewer.
    let mut file = std::fs::File::create(&web).unwrap();
    file.write_all(head.as_bytes()).unwrap();
    sighup(&e);
    std::thread::sleep(Duration::from_millis(100));
    file.write_all(format!("  prometheus: {prometheus}\n").as_bytes())
        .unwrap();
    drop(file);
    wait_count(&e, RELOADED, 1, Duration::from_secs(10));
    assert_eq!(ok(), 200, "{}", e.log());
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(ok(), 200, "{}", e.log());
}

/// A well-formed bcrypt hash of cost `cost`; nothing ever needs to verify it.
fn hash_of_cost(cost: u32) -> String {
    let h = bcrypt::hash("s3cret", 4).unwrap();
    format!("{}{cost:02}{}", &h[..4], &h[6..])
}

#[test]
fn a_bcrypt_cost_above_16_is_refused_at_start_and_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    for cost in [17, 31] {
        std::fs::write(
            &web,
            format!("basic_auth_users:\n  prometheus: {}\n", hash_of_cost(cost)),
        )
        .unwrap();
        let mut child = Command::new(BIN)
            .arg(format!("--web.config.file={}", web.display()))
            .arg("--web.listen-address=127.0.0.1:0")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cost {cost}: start-up still busy after 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(2), "cost {cost}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("web.yml") && stderr.contains("cost") && stderr.contains("16"),
            "{stderr}"
        );
    }
    // On reload: the previous settings stay, and shutdown is not held up.
    let web = dir.path().join("web.yml");
    std::fs::write(&web, users("s3cret")).unwrap();
    let e = start(&web, &[]);
    let auth = basic("prometheus", "s3cret");
    assert_eq!(e.get("/metrics", &[("Authorization", &auth)]).status, 200);
    std::fs::write(
        &web,
        format!("basic_auth_users:\n  prometheus: {}\n", hash_of_cost(31)),
    )
    .unwrap();
    sighup(&e);
    wait_count(&e, REFUSED, 1, Duration::from_secs(10));
    let r = e.get("/metrics", &[("Authorization", &auth)]);
    assert_eq!(r.status, 200);
    assert_eq!(
        sample(&r.body, "oom_exporter_web_config_last_reload_successful"),
        Some(0.0)
    );
    let (took, _) = e.stop("TERM");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

#[test]
fn a_bad_password_flood_from_one_address_does_not_lock_out_another() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let pki = Pki::new();
    // Cost 10: each check takes long enough for a flood to keep every
    // bcrypt slot busy.
    let web = pki.web_config(&format!(
        "{TLS}basic_auth_users:\n  prometheus: {}\n",
        bcrypt::hash("s3cret", 10).unwrap()
    ));
    let e = start(&web, &[]);
    let addr = e.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let pki = Arc::new(pki);
    let flood: Vec<_> = (0..12)
        .map(|_| {
            let (stop, pki) = (Arc::clone(&stop), Arc::clone(&pki));
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) && statuses.len() < 2000 {
                    let Ok(sock) = connect_from("127.0.0.2", addr) else {
                        continue;
                    };
                    if let Ok((status, _)) = tls_request(
                        &pki,
                        sock,
                        "/-/healthy",
                        Some(("prometheus", "wrong")),
                        false,
                        None,
                    ) {
                        statuses.push(status);
                    }
                }
                statuses
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let scrape = |what: &str| {
        for i in 0..5 {
            let sock = connect_from("127.0.0.1", addr).unwrap();
            let got = tls_request(
                &pki,
                sock,
                "/metrics",
                Some(("prometheus", "s3cret")),
                false,
                None,
            )
            .map(|(status, _)| status);
            assert_eq!(got, Ok(200), "{what}, scrape {i}");
        }
    };
    scrape("first contact during the flood");
    sighup(&e);
    wait_count(&e, RELOADED, 1, Duration::from_secs(10));
    scrape("right after SIGHUP");
    // Certificate rotation: the same certificate rewritten.
    let cert = std::fs::read(pki.path("server.pem")).unwrap();
    std::fs::write(pki.path("server.pem"), cert).unwrap();
    wait_count(&e, RELOADED, 2, Duration::from_secs(15));
    scrape("right after the automatic reload");
    // The attacker runs out of its failure budget (said once in the log).
    wait_count(
        &e,
        "too many failed password checks from this client",
        1,
        Duration::from_secs(30),
    );
    scrape("with the attacker out of budget");
    stop.store(true, Ordering::Relaxed);
    let statuses: Vec<u16> = flood.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(!statuses.contains(&200), "a wrong password was let in");
    assert!(statuses.contains(&429), "the flood was never turned away");
    // The scraper's password was checked once: both reloads kept it.
    let sock = connect_from("127.0.0.1", addr).unwrap();
    let (_, metrics) = tls_request(
        &pki,
        sock,
        "/metrics",
        Some(("prometheus", "s3cret")),
        false,
        None,
    )
    .unwrap();
    assert_eq!(
        sample(
            &metrics,
            "oom_exporter_web_password_checks_total{result=\"ok\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    let refused = sample(
        &metrics,
        "oom_exporter_web_password_checks_total{result=\"refused\"}",
    )
    .unwrap();
    let failed = sample(
        &metrics,
        "oom_exporter_web_password_checks_total{result=\"failed\"}",
    )
    .unwrap();
    assert!(refused > failed, "failed {failed}, refused {refused}");
    let log = e.log();
    assert_eq!(
        log.matches("too many failed password checks").count(),
        1,
        "{log}"
    );
    assert!(log.contains("client=127.0.0.2"), "{log}");
}

#[test]
fn one_address_cannot_take_every_connection() {
    let procfs = format!(
        "--path.procfs={}",
        fixture("linux-6.18-psi-zswap").display()
    );
    let e = Exporter::start(&[
        &procfs,
        "--no-collector.kmsg",
        "--no-collector.process",
        "--no-collector.cgroup",
        "--web.header-timeout=60s",
    ]);
    // 600 idle connections from one address, more than the 512 the
    // exporter serves at once.
    let idle: Vec<TcpStream> = (0..600)
        .filter_map(|_| connect_from("127.0.0.2", e.addr).ok())
        .collect();
    assert!(idle.len() > 512, "only {} connections opened", idle.len());
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..10 {
        let got = get_from("127.0.0.1", e.addr, "/metrics", None).map(|(s, _)| s);
        assert_eq!(got, Ok(200), "scrape {i} while 127.0.0.2 holds connections");
    }
    // The exporter closed all but the per-client cap (32 by default).
    let open = idle
        .iter()
        .filter(|s| {
            s.set_nonblocking(true).unwrap();
            let mut b = [0u8; 1];
            matches!((&**s).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    assert!(open <= 32, "{open} connections from one address held open");
    assert!(open > 0, "every connection was closed");
    let metrics = e.metrics();
    let refused = sample(
        &metrics,
        "oom_exporter_web_connections_refused_total{limit=\"per_client\"}",
    )
    .unwrap();
    assert!(refused >= (idle.len() - 32) as f64, "{refused}");
    assert_eq!(
        e.log()
            .matches("too many connections from this client")
            .count(),
        1,
        "logged once"
    );
}

#[test]
fn an_expired_certificate_is_served_with_a_warning_and_its_expiry_is_a_metric() {
    let pki = Pki::new();
    let web = pki.web_config(TLS);
    let e = start(&web, &[]);
    let (status, body) = tls_get(&pki, e.addr, "/metrics", None, false).unwrap();
    assert_eq!(status, 200);
    // rcgen's default validity ends on 4096-01-01.
    assert_eq!(
        sample(
            &body,
            "oom_exporter_web_tls_certificate_not_after_timestamp_seconds"
        ),
        Some(67_090_118_400.0),
        "{body}"
    );
    assert!(!e.log().contains("expired"));
    // Rotated to a certificate that expired on 2021-01-01.
    pki.issue_server(Some((2020, 2021)));
    wait_count(
        &e,
        "TLS certificate has expired",
        1,
        Duration::from_secs(15),
    );
    let mid_2020 = 1_590_969_600; // 2020-06-01
    let sock = TcpStream::connect(e.addr).unwrap();
    let (status, body) = tls_request(&pki, sock, "/metrics", None, false, Some(mid_2020)).unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        sample(
            &body,
            "oom_exporter_web_tls_certificate_not_after_timestamp_seconds"
        ),
        Some(1_609_459_200.0),
        "{body}"
    );
    // Expired already at start: served, with the same warning.
    let again = start(&web, &[]);
    again.wait_log("TLS certificate has expired");
}

#[test]
#[ignore = "needs promtool"]
fn the_web_metrics_pass_promtool() {
    if require_tool("promtool", "lint the web metrics").is_none() {
        return;
    }
    let pki = Pki::new();
    let web = pki.web_config(TLS);
    let e = start(&web, &[]);
    let (status, body) = tls_get(&pki, e.addr, "/metrics", None, false).unwrap();
    assert_eq!(status, 200);
    let exposition = body.split_once("\r\n\r\n").unwrap().1;
    assert!(exposition.contains("oom_exporter_web_password_checks_total"));
    let (ok, report) = crate::promtool::lint(exposition);
    assert!(ok && report.trim().is_empty(), "promtool:\n{report}");
}
