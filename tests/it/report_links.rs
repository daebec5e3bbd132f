//! The dashboards' links to `/report` use parameters `/report` reads: each
//! link found in the generated dashboards, with its Grafana variables
//! filled in from a kill the exporter holds, picks that kill.

use crate::report_cmd::raw_records;
use crate::support::{Exporter, kernel_lock, repo};

/// Every `/report?...` link in the generated dashboards.
fn report_links() -> Vec<String> {
    let mut links = Vec::new();
    for entry in std::fs::read_dir(repo().join("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for piece in text.split('"').filter(|p| p.contains("/report?")) {
            links.push(piece.to_owned());
        }
    }
    links
}

/// The link's query with each `${__data.fields.<name>...}` replaced by
/// `fields(name)`, percent-encoded.
fn filled(link: &str, fields: impl Fn(&str) -> String) -> String {
    let query = link.split_once("/report?").unwrap().1;
    let mut out = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap();
        let name = value
            .strip_prefix("${__data.fields.")
            .and_then(|v| v.split([':', '}']).next())
            .unwrap_or_else(|| panic!("{link}: {key}={value} is not a field"));
        let encoded: String = fields(name)
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                b => format!("%{b:02X}"),
            })
            .collect();
        out.push(format!("{key}={encoded}"));
    }
    format!("/report?{}", out.join("&"))
}

#[test]
fn dashboard_links_pick_the_kill_they_name() {
    let links = report_links();
    assert!(!links.is_empty(), "no /report link in dashboards/*.json");
    let _kernel = kernel_lock();
    let dir = tempfile::tempdir().unwrap();
    let kmsg = dir.path().join("kmsg");
    std::fs::write(&kmsg, raw_records().0).unwrap();
    let e = Exporter::start(&[&format!("--path.kmsg={}", kmsg.display())]);
    e.wait_log("kmsg reader up");
    let kills: Vec<serde_json::Value> = serde_json::from_str(&e.get("/kills", &[]).body).unwrap();
    let kill = &kills[0];
    for link in &links {
        let fields = |name: &str| match name {
            "instance" => "unused".to_owned(),
            "comm" => kill["comm"].as_str().unwrap().to_owned(),
            "cgroup" => kill["task_memcg"].as_str().unwrap().to_owned(),
            "seq" => kill["seq"].to_string(),
            other => panic!("{link}: the link passes field {other}, which /report does not read"),
        };
        let path = filled(link, fields);
        let r = e.get(&path, &[]);
        assert_eq!(r.status, 200, "{link} as {path}: {}", r.body);
        assert!(
            r.body.contains(&format!("(pid {})", kill["pid"])),
            "{path}: {}",
            r.body
        );
        // A victim the history does not hold is not found: the parameters
        // are read, not ignored.
        let other = filled(link, |name| match name {
            "comm" => "no-such-comm".to_owned(),
            _ => fields(name),
        });
        assert_eq!(e.get(&other, &[]).status, 404, "{other}");
    }
}
