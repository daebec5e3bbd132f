//! Reloading the web configuration: on SIGHUP and on change, never to
//! something weaker, never from a half-written file; certificate rotation.

use super::*;

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
    wait::until(
        Duration::from_secs(15),
        Duration::from_millis(200),
        "file change not picked up",
        || match e
            .get("/metrics", &[("Authorization", &basic("three"))])
            .status
        {
            200 => Ok(()),
            _ => Err(e.log()),
        },
    );
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
    wait::until(
        Duration::from_secs(15),
        Duration::from_millis(250),
        "rotated certificate not served",
        || match tls_get(&new, e.addr, "/-/healthy", None, false) {
            Ok(_) => Ok(()),
            Err(_) => Err(e.log()),
        },
    );
    assert!(
        tls_get(&old, e.addr, "/-/healthy", None, false).is_err(),
        "old certificate still served"
    );
}

#[test]
fn a_reload_that_would_turn_tls_or_auth_off_is_refused() {
    let pki = Pki::new();
    let full = format!("{TLS}{}", users("s3cret"));
    let web = pki.web_config(&full);
    let e = start(&web, &[]);
    let scrape = || authenticated_metrics(&pki, e.addr);
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
    each_refused_on_sighup(&pki, &e, &web, &downgrades);
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

/// `/metrics` over TLS with the right password: the body.
fn authenticated_metrics(pki: &Pki, addr: SocketAddr) -> String {
    tls_get(pki, addr, "/metrics", Some(("prometheus", "s3cret")), false)
        .unwrap()
        .1
}

/// Writes each of `downgrades` to `web` and sends SIGHUP: each is refused,
/// and the exporter stays TLS-only and authenticated.
fn each_refused_on_sighup(pki: &Pki, e: &Exporter, web: &Path, downgrades: &[String]) {
    for (n, body) in downgrades.iter().enumerate() {
        std::fs::write(web, body).unwrap();
        sighup(e);
        wait_count(e, REFUSED, n + 1, Duration::from_secs(10));
        // Still TLS, still authenticated.
        assert_eq!(
            tls_get(pki, e.addr, "/metrics", None, false).unwrap().0,
            401,
            "{body:?}"
        );
        let metrics = authenticated_metrics(pki, e.addr);
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
