//! Limits: malformed and slow requests, concurrent scrapes, password
//! floods, clients that never read, connections per client address.

use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

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

#[test]
fn a_bad_password_flood_from_one_address_does_not_lock_out_another() {
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
    let flood = bad_password_flood(&pki, addr, &stop);
    std::thread::sleep(Duration::from_millis(500));
    let scrape = |what: &str| five_good_scrapes(&pki, addr, what);
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
    password_checks_counted_and_said_once(&pki, &e);
}

/// Twelve threads sending a wrong password from 127.0.0.2 until `stop`
/// (or 2000 answers each); each returns the statuses it got.
fn bad_password_flood(
    pki: &Arc<Pki>,
    addr: SocketAddr,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<u16>>> {
    (0..12)
        .map(|_| {
            let (stop, pki) = (Arc::clone(stop), Arc::clone(pki));
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
        .collect()
}

/// Five scrapes from 127.0.0.1 with the right password, each a 200.
fn five_good_scrapes(pki: &Pki, addr: SocketAddr, what: &str) {
    for i in 0..5 {
        let sock = connect_from("127.0.0.1", addr).unwrap();
        let got = tls_request(
            pki,
            sock,
            "/metrics",
            Some(("prometheus", "s3cret")),
            false,
            None,
        )
        .map(|(status, _)| status);
        assert_eq!(got, Ok(200), "{what}, scrape {i}");
    }
}

/// The scraper's password was checked once: both reloads kept it. More
/// of the flood was refused than checked and failed, and the lockout was
/// logged once, naming the client.
fn password_checks_counted_and_said_once(pki: &Pki, e: &Exporter) {
    let sock = connect_from("127.0.0.1", e.addr).unwrap();
    let (_, metrics) = tls_request(
        pki,
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
