//! Alert rules and the Alertmanager example, checked with the real tools:
//! `promtool check rules`, `promtool test rules` (a firing and a silent
//! case for every alert, in alerts/oom_exporter.test.yml) and
//! `amtool check-config`; plus the conventions every alert must follow.
//! The rules file is rendered from the mixin (tests/it/mixin.rs).

use std::process::Command;

use serde_yaml_ng::Value as Yaml;

use crate::support::{repo, require_tool};

fn run(tool: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// (alert name, its rule) from the rules file, in order.
fn alerts() -> Vec<(String, Yaml)> {
    let text = std::fs::read_to_string(repo().join("alerts/oom_exporter.rules.yml")).unwrap();
    let file: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let mut out = Vec::new();
    for group in file["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            if let Some(name) = rule["alert"].as_str() {
                out.push((name.to_owned(), rule.clone()));
            }
        }
    }
    out
}

#[test]
#[ignore = "needs promtool"]
fn promtool_checks_and_unit_tests_the_rules() {
    if require_tool("promtool", "check and unit-test the alert rules").is_none() {
        return;
    }
    let (ok, out) = run(
        "promtool",
        &["check", "rules", "alerts/oom_exporter.rules.yml"],
    );
    assert!(ok, "{out}");
    let (ok, out) = run(
        "promtool",
        &["test", "rules", "alerts/oom_exporter.test.yml"],
    );
    assert!(ok && out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_alert_fires_and_stays_silent_in_a_unit_test() {
    let tests = std::fs::read_to_string(repo().join("alerts/oom_exporter.test.yml")).unwrap();
    let cases: Vec<&str> = tests.split("      - eval_time: ").skip(1).collect();
    for (name, _) in alerts() {
        let mine: Vec<&&str> = cases
            .iter()
            .filter(|c| c.contains(&format!("alertname: {name}\n")))
            .collect();
        assert!(
            mine.iter().any(|c| c.contains("exp_labels")),
            "{name}: no firing case"
        );
        assert!(
            mine.iter().any(|c| c.contains("exp_alerts: []")),
            "{name}: no silent case"
        );
    }
}

#[test]
fn every_alert_has_severity_summary_description_and_runbook() {
    let all = alerts();
    assert!(all.len() >= 14, "{} alerts", all.len());
    for (name, rule) in &all {
        let severity = rule["labels"]["severity"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no severity"));
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{name}: {severity}"
        );
        let annotation = |key: &str| rule["annotations"][key].as_str().unwrap_or("");
        assert!(!annotation("summary").is_empty(), "{name}: no summary");
        let description = annotation("description");
        assert!(!description.is_empty(), "{name}: no description");
        assert!(
            description.contains("$labels.instance"),
            "{name}: description lacks the instance"
        );
        let runbook = format!("docs/runbooks/{name}.md");
        assert_eq!(
            annotation("runbook_url"),
            format!("https://github.com/oom-exporter/oom_exporter/blob/main/{runbook}"),
            "{name}: runbook_url"
        );
        let text = std::fs::read_to_string(repo().join(&runbook))
            .unwrap_or_else(|e| panic!("{runbook}: {e}"));
        for section in ["## Meaning", "## Impact", "## Diagnosis", "## Mitigation"] {
            assert!(text.contains(section), "{runbook}: no {section}");
        }
        // Descriptions with a value: all but the ones about the exporter's state.
        let needs_value = !matches!(
            name.as_str(),
            "OOMExporterDown"
                | "OOMExporterKmsgDown"
                | "OOMExporterCollectorFailing"
                | "OOMExporterWebConfigReloadFailed"
        );
        if needs_value {
            assert!(
                description.contains("$value"),
                "{name}: description lacks the value"
            );
        }
    }
}

#[test]
#[ignore = "needs amtool"]
fn amtool_checks_the_alertmanager_example() {
    if require_tool("amtool", "check the Alertmanager example").is_none() {
        return;
    }
    let (ok, out) = run("amtool", &["check-config", "deploy/alertmanager.yml"]);
    assert!(ok && out.contains("SUCCESS"), "{out}");
}
