//! Property tests for the web configuration parser: arbitrary text and
//! arbitrary well-formed configurations never make it panic; it returns
//! settings or an error naming the file, refuses what is invalid naming the
//! part at fault, and keeps everything it accepts.

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
        // No generated hash is a bcrypt hash, no TLS file exists under /x,
        // and a header name may not be empty or hold a space: only a file
        // with none of those is accepted, and then with every header.
        let bad_header = headers.keys().find(|k| k.is_empty() || k.contains(' '));
        match webconfig::parse(&text, Path::new("/x/web.yml")) {
            Ok(settings) => {
                prop_assert!(users.is_empty() && tls.is_none() && bad_header.is_none(), "accepted:\n{text}");
                prop_assert!(settings.users.is_empty() && settings.tls.is_none());
                let kept: Vec<(String, &str)> = settings
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap()))
                    .collect();
                let given: Vec<(String, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
                    .collect();
                prop_assert_eq!(kept.len(), given.len(), "{:?}", kept);
                for header in &given {
                    prop_assert!(kept.contains(header), "{header:?} lost: {kept:?}");
                }
            }
            Err(e) => {
                let e = e.to_string();
                prop_assert!(e.starts_with("/x/web.yml: "), "{e}");
                // Users are checked first, in order: the first is named.
                if let Some(first) = users.keys().next() {
                    prop_assert!(e.contains("basic_auth_users") && e.contains(&format!("{first:?}")), "{e}");
                } else if let Some(name) = bad_header {
                    prop_assert!(e.contains("headers") && e.contains(&format!("{name:?}")), "{e}");
                } else {
                    prop_assert!(tls.is_some(), "refused:\n{text}\n{e}");
                }
            }
        }
    }

    #[test]
    fn valid_headers_are_all_kept(
        headers in prop::collection::btree_map("[A-Za-z-]{1,12}", "[ -~]{0,20}", 0..5),
    ) {
        let mut text = String::from("http_server_config:\n  headers:\n");
        for (k, v) in &headers {
            text.push_str(&format!("    {k:?}: {v:?}\n"));
        }
        let settings = webconfig::parse(&text, Path::new("/x/web.yml"))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let kept: Vec<(String, String)> = settings
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        let given: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        prop_assert_eq!(kept, given);
    }
}
