//! Property tests for the web configuration parser: arbitrary text and
//! arbitrary well-formed configurations never make it panic; it returns
//! settings or an error naming the file.

use std::path::Path;

use oom_exporter::web::config as webconfig;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_is_settings_or_an_error(text in "(?s).{0,400}") {
        if let Err(e) = webconfig::parse(&text, Path::new("/x/web.yml")) {
            prop_assert!(e.to_string().starts_with("/x/web.yml: "), "{e}");
        }
    }

    #[test]
    fn shaped_configs_never_panic(
        users in prop::collection::btree_map("[a-z:]{0,8}", "[$./a-zA-Z0-9]{0,70}", 0..4),
        headers in prop::collection::btree_map("[A-Za-z -]{0,12}", "[ -~]{0,20}", 0..3),
        tls in prop::option::of((
            "[a-z./]{0,12}", "[a-z./]{0,12}",
            prop::sample::select(vec!["NoClientCert", "RequireAndVerifyClientCert", "RequestClientCert", "Bogus"]),
            prop::sample::select(vec!["TLS10", "TLS12", "TLS13", "TLS99"]),
        )),
    ) {
        let mut text = String::from("basic_auth_users:\n");
        for (u, h) in &users {
            text.push_str(&format!("  {u:?}: {h:?}\n"));
        }
        text.push_str("http_server_config:\n  headers:\n");
        for (k, v) in &headers {
            text.push_str(&format!("    {k:?}: {v:?}\n"));
        }
        if let Some((cert, key, auth, version)) = &tls {
            text.push_str(&format!(
                "tls_server_config:\n  cert_file: {cert:?}\n  key_file: {key:?}\n  client_auth_type: {auth}\n  min_version: {version}\n"
            ));
        }
        let _ = webconfig::parse(&text, Path::new("/x/web.yml"));
    }
}
