//! TLS and basic auth: a rustls client with the test CA, client
//! certificates, a real Prometheus over TLS, certificate expiry, bcrypt costs.

use super::*;

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
        let mut child = KillOnDrop(
            Command::new(BIN)
                .arg(format!("--web.config.file={}", web.display()))
                .arg("--web.listen-address=127.0.0.1:0")
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let status = wait::exit(
            &mut child,
            Duration::from_secs(10),
            &format!("cost {cost}: start-up still busy"),
        );
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
