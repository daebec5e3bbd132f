//! The Grafana dashboards (built with Grafana's Foundation SDK by
//! dashboards/generate.py, rendered by the mixin), checked offline (there is
//! no Grafana here): valid JSON, the house conventions, every query parses as PromQL (promtool) and
//! uses only metric names the exporter exposes (the golden outputs). The
//! end-to-end test in alerting.rs runs every query against a real
//! Prometheus and requires data.

use std::collections::BTreeSet;
use std::process::Command;

use regex::Regex;
use serde_json::Value;

use crate::support::{repo, require_tool};

pub const DASHBOARDS: [&str; 2] = ["oom-host.json", "oom-fleet.json"];

/// The mixin's default `oomExporterSelector`, which the rendered dashboards
/// carry in every query.
const SELECTOR: &str = r#"job="oom""#;

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("dashboards").join(name)).unwrap();
    assert!(
        !text.contains("__OOM_EXPORTER_SELECTOR__"),
        "{name}: the template's placeholder was not replaced"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: invalid JSON: {e}"))
}

/// Every PromQL expression of a dashboard: panel targets and annotations.
pub fn queries(board: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in board["panels"].as_array().unwrap() {
        // Rows (titled bands) have no queries.
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    for annotation in board["annotations"]["list"].as_array().unwrap() {
        if let Some(expr) = annotation["expr"].as_str() {
            out.push(expr.to_owned());
        }
    }
    out
}

/// A query with Grafana's variables replaced, ready for Prometheus.
pub fn concrete(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "1h")
        .replace("$job", ".+")
        .replace("$instance", ".+")
        .replace("$namespace", ".*")
}

pub fn all_queries() -> Vec<String> {
    DASHBOARDS.iter().flat_map(|d| queries(&load(d))).collect()
}

#[test]
fn dashboards_follow_the_conventions() {
    let metric = Regex::new(r"\b(oom_[a-z_]+)(\{[^}]*\})?").unwrap();
    let rate = Regex::new(r"\b(rate|irate)\(([^\[]*)\[([^\]]*)\]").unwrap();
    for (name, uid) in DASHBOARDS
        .iter()
        .zip(["oom-exporter-host", "oom-exporter-fleet"])
    {
        let board = load(name);
        assert!(
            board.get("__inputs").is_none(),
            "{name}: __inputs breaks provisioning"
        );
        assert_eq!(board["uid"], uid, "{name}: fixed uid");
        assert_eq!(board["schemaVersion"], 39, "{name}: pinned schemaVersion");
        assert_eq!(board["editable"], false, "{name}: not editable");
        let vars = board["templating"]["list"].as_array().unwrap();
        let var = |n: &str| {
            vars.iter()
                .find(|v| v["name"] == n)
                .unwrap_or_else(|| panic!("{name}: no ${n}"))
        };
        assert_eq!(var("datasource")["type"], "datasource");
        assert_eq!(var("datasource")["query"], "prometheus");
        for v in ["job", "instance"] {
            let query = var(v)["query"]["query"].as_str().unwrap();
            assert!(
                query.starts_with(&format!("label_values(oom_exporter_build_info{{{SELECTOR}")),
                "{name}: ${v} from {query}, not from the mixin's selector"
            );
            assert_eq!(var(v)["multi"], true, "{name}: ${v} multi");
            assert_eq!(var(v)["includeAll"], true, "{name}: ${v} all");
            assert_eq!(var(v)["allValue"], ".+", "{name}: ${v} all-value");
        }
        for panel in board["panels"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap();
            if panel["type"] == "row" {
                assert!(!title.is_empty(), "{name}: a row without a title");
                continue;
            }
            assert!(
                !panel["description"].as_str().unwrap_or("").is_empty(),
                "{name}/{title}: no description"
            );
            assert!(
                !panel["fieldConfig"]["defaults"]["unit"]
                    .as_str()
                    .unwrap_or("")
                    .is_empty(),
                "{name}/{title}: no unit"
            );
            assert_eq!(
                panel["datasource"]["uid"], "${datasource}",
                "{name}/{title}: datasource"
            );
        }
        for q in queries(&board) {
            for m in metric.captures_iter(&q) {
                let selector = m.get(2).map_or("", |s| s.as_str());
                assert!(
                    selector.starts_with(&format!("{{{SELECTOR},"))
                        && selector.contains(r#"job=~"$job""#)
                        && selector.contains(r#"instance=~"$instance""#),
                    "{name}: {} not filtered by {SELECTOR}, $job and $instance in {q}",
                    &m[1]
                );
            }
            for r in rate.captures_iter(&q) {
                assert_eq!(
                    &r[3], "$__rate_interval",
                    "{name}: {} without $__rate_interval in {q}",
                    &r[1]
                );
            }
        }
    }
}

/// Metric names in the golden outputs (what the exporter exposes).
fn exposed() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(repo().join("tests/golden")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                names.insert(rest.split_whitespace().next().unwrap().to_owned());
            }
        }
    }
    names
}

#[test]
fn dashboard_queries_use_only_exposed_metrics() {
    let metric = Regex::new(r"\b(oom_[a-z_]+)").unwrap();
    let exposed = exposed();
    assert!(exposed.contains("oom_kills_total") && exposed.contains("oom_process_score"));
    for q in all_queries() {
        for m in metric.captures_iter(&q) {
            assert!(
                exposed.contains(&m[1]),
                "{} is not in any golden output (query {q})",
                &m[1]
            );
        }
    }
}

#[test]
#[ignore = "needs promtool"]
fn dashboard_queries_parse_as_promql() {
    if require_tool("promtool", "parse the dashboard queries").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rules: String = all_queries()
        .iter()
        .enumerate()
        .map(|(i, q)| {
            format!(
                "      - record: dashboard_query_{i}\n        expr: {}\n",
                serde_json::to_string(&concrete(q)).unwrap()
            )
        })
        .collect();
    let file = dir.path().join("queries.yml");
    std::fs::write(
        &file,
        format!("groups:\n  - name: dashboards\n    rules:\n{rules}"),
    )
    .unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
