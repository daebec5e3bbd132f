use super::*;
use crate::web::auth::credentials;
use base64::Engine;

fn p() -> &'static Path {
    Path::new("/etc/oom_exporter/web.yml")
}

#[test]
fn empty_file_is_plain_http() {
    for text in ["", "# rendered empty\n\n", "{}\n"] {
        let s = parse(text, p()).unwrap();
        assert!(s.tls.is_none() && !s.needs_auth() && s.empty, "{text:?}");
    }
    let s = parse("http_server_config:\n  headers: {}\n", p()).unwrap();
    assert!(!s.empty);
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

fn header(u: &str, pw: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{pw}"))
    )
}

#[test]
fn basic_auth_checks_the_password_not_the_timing_path() {
    let hash = bcrypt::hash("secret", 4).unwrap();
    let dearer = bcrypt::hash("other", 5).unwrap();
    let s = parse(
        &format!("basic_auth_users:\n  alice: {hash}\n  carol: {dearer}\n"),
        p(),
    )
    .unwrap();
    let check =
        |h: Option<&str>| credentials(h).is_some_and(|(user, password)| s.verify(&user, &password));
    assert!(check(Some(&header("alice", "secret"))));
    assert!(!check(Some(&header("alice", "wrong"))));
    assert!(!check(Some(&header("bob", "secret"))));
    assert!(!check(None));
    assert!(!check(Some("Bearer x")));
    assert_eq!(
        s.dummy_hash, dearer,
        "unknown users cost the dearest hash (5)"
    );
    assert!(
        !format!("{s:?}").contains(&hash),
        "Debug must not show hashes"
    );
}

/// A well-formed hash of `cost`, made from a real cost-4 one.
fn hash_of_cost(cost: u32) -> String {
    let h = bcrypt::hash("x", 4).unwrap();
    format!("{}{cost:02}{}", &h[..4], &h[6..])
}

#[test]
fn bcrypt_costs_above_the_maximum_are_refused_without_running_bcrypt() {
    let started = std::time::Instant::now();
    for cost in [MAX_BCRYPT_COST + 1, 20, 31, 99] {
        let err = parse(
            &format!("basic_auth_users:\n  alice: {}\n", hash_of_cost(cost)),
            p(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(&format!("cost {cost}, above the maximum of 16")),
            "{err}"
        );
    }
    let err = parse(
        &format!("basic_auth_users:\n  alice: {}\n", hash_of_cost(3)),
        p(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("below the minimum of 4"), "{err}");
    // The maximum itself is accepted, and loading it runs no bcrypt.
    let s = parse(
        &format!(
            "basic_auth_users:\n  alice: {}\n",
            hash_of_cost(MAX_BCRYPT_COST)
        ),
        p(),
    )
    .unwrap();
    assert!(s.needs_auth());
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn lowered_names_what_a_new_configuration_turns_off() {
    let users = format!(
        "basic_auth_users:\n  alice: {}\n",
        bcrypt::hash("x", 4).unwrap()
    );
    let with_users = parse(&users, p()).unwrap();
    let plain = parse("", p()).unwrap();
    assert_eq!(lowered(&with_users, &plain), ["basic auth"]);
    assert!(lowered(&plain, &with_users).is_empty());
    assert!(lowered(&with_users, &with_users).is_empty());
    let mut tls = parse(&users, p()).unwrap();
    tls.tls = Some(TlsAcceptor::from(Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::server::ResolvesServerCertUsingSni::new())),
    )));
    tls.client_certs_required = true;
    assert_eq!(
        lowered(&tls, &plain),
        ["TLS", "required client certificates", "basic auth"]
    );
    assert_eq!(
        lowered(&tls, &with_users),
        ["TLS", "required client certificates"]
    );
    let message = WebConfigError::Lowered {
        path: p().to_path_buf(),
        what: lowered(&tls, &plain),
    }
    .to_string();
    assert!(
        message.contains("would turn off TLS and required client certificates and basic auth")
            && message.contains("restart"),
        "{message}"
    );
}

/// Review of issue 12: a certificate path turned into a FIFO blocked the
/// reload for good (and every reload after it). Files the configuration
/// names are read only when regular, without blocking, and capped.
#[test]
fn only_regular_files_are_read_and_never_block() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("cert.pem");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let err = read_file(&fifo).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = read_file(Path::new("/dev/zero")).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let big = dir.path().join("big.pem");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(MAX_FILE_BYTES + 1).unwrap();
    let err = read_file(&big).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    let yml = dir.path().join("web.yml");
    std::fs::write(&yml, "basic_auth_users: {}\n").unwrap();
    assert_eq!(read_file(&yml).unwrap(), b"basic_auth_users: {}\n");
}
