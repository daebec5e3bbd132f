//! The monitoring mixin (mixin/), rendered with the real `jsonnet`: the
//! committed files it generates (the alert rules, the Kubernetes
//! PrometheusRule and dashboards ConfigMap) are what it renders, and a
//! non-default `_config` reaches every expression, annotation and label:
//! another job selector and runbook URL (checked by promtool on the unit
//! tests with the series moved to that job), and every threshold, window
//! and `for`, one at a time.

use std::path::Path;
use std::process::Command;

use regex::Regex;
use serde_json::Value;

use crate::support::exporter::copy_dir;
use crate::support::{generated_files_are_current, repo, require_tool};

/// Evaluates jsonnet `code` with mixin/ on the import path.
fn jsonnet(tool: &Path, code: &str) -> Value {
    let out = Command::new(tool)
        .args(["-J", "mixin", "-e", code])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "jsonnet {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The mixin with `config` (a jsonnet object body) merged into `_config`.
fn render(tool: &Path, config: &str) -> Value {
    jsonnet(
        tool,
        &format!(
            "local m = (import 'mixin.libsonnet') + {{ _config+:: {{ {config} }} }};\n\
             {{ config: m._config, rules: m.prometheusRules, alerts: m.prometheusAlerts,\n\
             dashboards: m.grafanaDashboards }}"
        ),
    )
}

/// Every rule (recording and alerting) of a rendering.
fn rules(m: &Value) -> Vec<&Value> {
    ["rules", "alerts"]
        .iter()
        .flat_map(|k| m[k]["groups"].as_array().unwrap())
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect()
}

fn name(rule: &Value) -> &str {
    rule["alert"].as_str().or(rule["record"].as_str()).unwrap()
}

#[test]
#[ignore = "needs jsonnet: renders the mixin"]
fn mixin_renders_the_committed_files() {
    if require_tool("jsonnet", "render the mixin").is_none() {
        return;
    }
    generated_files_are_current("mixin/generate.py");
}

/// The exporter's and kube-state-metrics' metric names (`oom_*`, `up`,
/// `kube_*`) with their selector, in PromQL; recorded names (with a colon)
/// and quoted strings are left out.
fn selectors(promql: &str) -> Vec<(String, String)> {
    let re = Regex::new(r#""[^"]*"|([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?"#).unwrap();
    re.captures_iter(promql)
        .filter_map(|c| {
            let name = c.get(1)?.as_str();
            let ours = name.starts_with("oom_") || name.starts_with("kube_") || name == "up";
            (ours && !name.contains(':')).then(|| {
                (
                    name.to_owned(),
                    c.get(2).map_or("", |m| m.as_str()).to_owned(),
                )
            })
        })
        .collect()
}

/// The selector a metric must open with in the rendering with another job.
fn expected_selector(metric: &str) -> &'static str {
    if metric.starts_with("kube_") {
        r#"{job="ksm""#
    } else {
        r#"{job="node-oom""#
    }
}

#[test]
#[ignore = "needs jsonnet, promtool: renders the mixin, runs the rule unit tests on it"]
fn mixin_follows_another_job_and_runbook_url() {
    let Some(tool) = require_tool("jsonnet", "render the mixin") else {
        return;
    };
    if require_tool("promtool", "unit-test the rendered rules").is_none() {
        return;
    }
    let sel = r#"job="node-oom""#;
    let m = render(
        &tool,
        r#"oomExporterSelector: 'job="node-oom"', kubeStateMetricsSelector: 'job="ksm"',
           runbookURLPattern: 'https://runbooks.example.com/oom/%s.html'"#,
    );
    let all = rules(&m);
    assert!(all.len() >= 18, "{} rules", all.len());
    for rule in &all {
        let n = name(rule);
        let expr = rule["expr"].as_str().unwrap();
        let found = selectors(expr);
        assert!(!found.is_empty(), "{n}: no metric in {expr}");
        for (metric, s) in found {
            let want = expected_selector(&metric);
            assert!(
                s.starts_with(want),
                "{n}: {metric} without {want} in {expr}"
            );
        }
        assert!(
            !expr.contains(r#"job="oom""#) && !expr.contains(r#"job="kube-state-metrics""#),
            "{n}: {expr}"
        );
        // Queries inside annotations (the OOMKill description) too.
        for (key, text) in rule["annotations"].as_object().into_iter().flatten() {
            let text = text.as_str().unwrap();
            assert!(!text.contains(r#"job="oom""#), "{n} {key}: {text}");
            for (metric, s) in selectors(text).iter().filter(|(_, s)| !s.is_empty()) {
                let want = expected_selector(metric);
                assert!(s.starts_with(want), "{n} {key}: {metric} in {text}");
            }
        }
        if rule.get("alert").is_some() {
            assert_eq!(
                rule["annotations"]["runbook_url"],
                format!("https://runbooks.example.com/oom/{n}.html"),
                "{n}"
            );
        }
    }

    // The unit tests with every series moved to job="node-oom" (and
    // kube-state-metrics' to job="ksm") and the new
    // runbook URLs pass on the rendered rules; unchanged (series of job
    // "oom"), every alert that should fire stays silent.
    let dir = tempfile::tempdir().unwrap();
    let rendered = serde_json::json!({
        "groups": m["rules"]["groups"].as_array().unwrap().iter()
            .chain(m["alerts"]["groups"].as_array().unwrap()).collect::<Vec<_>>()
    });
    std::fs::write(
        dir.path().join("oom_exporter.rules.yml"),
        rendered.to_string(),
    )
    .unwrap();
    let tests = std::fs::read_to_string(repo().join("alerts/oom_exporter.test.yml")).unwrap();
    let moved = tests
        .replace(r#"job="oom""#, sel)
        .replace(r#"job="kube-state-metrics""#, r#"job="ksm""#)
        .replace(
            "https://github.com/oom-exporter/oom_exporter/blob/main/docs/runbooks/",
            "https://runbooks.example.com/oom/",
        );
    let moved = Regex::new(r"(runbooks\.example\.com/oom/\w+)\.md")
        .unwrap()
        .replace_all(&moved, "$1.html")
        .replace(r#"job: "oom""#, r#"job: "node-oom""#);
    let promtool = |file: &str, text: &str| {
        std::fs::write(dir.path().join(file), text).unwrap();
        let out = Command::new("promtool")
            .args(["test", "rules", file])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let mut report = String::from_utf8_lossy(&out.stdout).into_owned();
        report.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), report)
    };
    let (ok, report) = promtool("moved.test.yml", &moved);
    assert!(ok, "{report}");
    let (ok, report) = promtool("unchanged.test.yml", &tests);
    assert!(!ok, "alerts fired on job=\"oom\" series:\n{report}");
    for rule in all.iter().filter(|r| r.get("alert").is_some()) {
        let n = name(rule);
        assert!(
            report.contains(&format!("alertname: {n},")),
            "{n} was not silenced by the selector:\n{report}"
        );
    }
}

/// The forms a changed setting can take in the rendered rules: a duration
/// `17m` as itself, in seconds or in words; a number as PromQL writes it.
fn forms(value: &Value) -> Vec<String> {
    match value {
        Value::String(d) => {
            assert_eq!(d, "17m", "sentinel");
            vec!["17m".into(), "1020".into(), "17 minutes".into()]
        }
        Value::Number(n) => vec![n.to_string()],
        other => panic!("unexpected setting {other}"),
    }
}

#[test]
#[ignore = "needs jsonnet: renders the mixin"]
fn mixin_follows_every_threshold_window_and_for() {
    let Some(tool) = require_tool("jsonnet", "render the mixin") else {
        return;
    };
    let base = render(&tool, "");
    let duration = Regex::new(r"^\d+[smhd]$").unwrap();
    let mut sentinels = serde_json::Map::new();
    for (key, default) in base["config"].as_object().unwrap() {
        // The selector and runbook URL have their own test; the dashboards'
        // settings are checked with the dashboards.
        if key.ends_with("Selector") || key == "runbookURLPattern" || key.contains("Dashboard") {
            continue;
        }
        let sentinel = match default {
            Value::String(d) if duration.is_match(d) => Value::from("17m"),
            Value::Number(n) if n.is_u64() => Value::from(13),
            Value::Number(_) => Value::from(0.37),
            other => panic!("{key}: a setting that is neither a duration nor a number: {other}"),
        };
        sentinels.insert(key.clone(), sentinel);
    }
    // One rendering per setting, each with only that setting changed.
    let each = jsonnet(
        &tool,
        &format!(
            "local changes = {};\n\
             {{ [k]: local m = (import 'mixin.libsonnet') + {{ _config+:: {{ [k]: changes[k] }} }};\n\
             {{ rules: m.prometheusRules, alerts: m.prometheusAlerts }} for k in std.objectFields(changes) }}",
            Value::Object(sentinels.clone())
        ),
    );
    let tried = sentinels.len();
    for (key, sentinel) in &sentinels {
        let m = &each[key];
        let changed: Vec<(&Value, &Value)> = rules(&base)
            .into_iter()
            .zip(rules(m))
            .filter(|(a, b)| a != b)
            .collect();
        assert!(!changed.is_empty(), "{key}: no rule changed");
        for (before, after) in changed {
            let (was, now) = (before.to_string(), after.to_string());
            assert!(
                forms(sentinel)
                    .iter()
                    .any(|f| now.matches(f.as_str()).count() > was.matches(f.as_str()).count()),
                "{key} = {sentinel} changed {} without showing the new value:\n{now}",
                name(after)
            );
        }
    }
    assert!(tried >= 30, "{tried} settings");
}

#[test]
#[ignore = "needs jsonnet: renders the mixin"]
fn mixin_dashboards_follow_the_selector_refresh_and_time_range() {
    let Some(tool) = require_tool("jsonnet", "render the mixin") else {
        return;
    };
    let base = render(&tool, "");
    let m = render(
        &tool,
        "oomExporterSelector: 'job=\"node-oom\"', hostDashboardRefresh: '5m', \
         hostDashboardTimeFrom: 'now-2d', fleetDashboardRefresh: '10m', fleetDashboardTimeFrom: 'now-7d'",
    );
    let boards = m["dashboards"].as_object().unwrap();
    assert_eq!(boards.len(), 2, "{:?}", boards.keys());
    for (file, refresh, from) in [
        ("oom-host.json", "5m", "now-2d"),
        ("oom-fleet.json", "10m", "now-7d"),
    ] {
        let board = &boards[file];
        assert_eq!(board["refresh"], refresh, "{file}");
        assert_eq!(board["time"]["from"], from, "{file}");
        let text = board.to_string();
        assert!(!text.contains("__OOM_EXPORTER_SELECTOR__"), "{file}");
        assert!(
            !text.contains(r#"job=\"oom\""#),
            "{file}: the default selector left"
        );
        let mut all = crate::dashboards::queries(board);
        for v in board["templating"]["list"].as_array().unwrap() {
            if let Some(q) = v["query"]["query"].as_str() {
                all.push(q.to_owned());
            }
        }
        assert!(all.len() > 3, "{file}: {all:?}");
        for q in &all {
            let found = selectors(q);
            assert!(!found.is_empty(), "{file}: no metric in {q}");
            for (metric, s) in found {
                assert!(
                    s.starts_with(r#"{job="node-oom""#),
                    "{file}: {metric} without the selector in {q}"
                );
            }
        }
        // Nothing else differs from the default rendering.
        let mut back: Value =
            serde_json::from_str(&text.replace(r#"job=\"node-oom\""#, r#"job=\"oom\""#)).unwrap();
        back["refresh"] = base["dashboards"][file]["refresh"].clone();
        back["time"] = base["dashboards"][file]["time"].clone();
        assert_eq!(back, base["dashboards"][file], "{file}");
    }
}

#[test]
#[ignore = "needs jsonnet: renders the mixin"]
fn mixin_renders_alone_as_vendored() {
    // What jsonnet-bundler or a copy gives a kube-prometheus build: mixin/
    // alone under vendor/, nothing else of this repository.
    let Some(tool) = require_tool("jsonnet", "render the mixin") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo().join("mixin"),
        &dir.path().join("vendor/oom-exporter-mixin"),
    );
    let out = Command::new(&tool)
        .args([
            "-J",
            "vendor",
            "-e",
            "local m = import 'oom-exporter-mixin/mixin.libsonnet';\n\
             { config: m._config, rules: m.prometheusRules, alerts: m.prometheusAlerts,\n\
             dashboards: m.grafanaDashboards }",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vendored: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(vendored, render(&tool, ""));
}

#[test]
#[ignore = "needs jsonnet, promtool: runs the README's command and checks its rules"]
fn readme_renders_the_rules_by_hand() {
    let Some(tool) = require_tool("jsonnet", "render the mixin") else {
        return;
    };
    if require_tool("promtool", "check the rendered rules").is_none() {
        return;
    }
    // The README's shell command: from `jsonnet -J mixin` to the closing quote.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("jsonnet -J mixin -S -e '")
        .expect("README: no jsonnet command");
    let body = &readme[start + "jsonnet -J mixin -S -e '".len()..];
    let code = &body[..body.find('\'').unwrap()];
    let out = Command::new(&tool)
        .args(["-J", "mixin", "-S", "-e", code])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, &out.stdout).unwrap();
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(r#"job=\"node-oom\""#) && !text.contains(r#"job=\"oom\""#),
        "{text}"
    );
}
