//! Alert rules and the Alertmanager example, checked with the real tools:
//! `promtool check rules`, `promtool test rules` (a firing and a silent
//! case for every alert, in alerts/oom_exporter.test.yml) and
//! `amtool check-config`; plus the conventions every alert must follow.

use std::process::Command;

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

/// (alert name, lines of its rule) from the rules file.
fn alerts() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("alerts/oom_exporter.rules.yml")).unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.trim_start().strip_prefix("- alert: ") {
            out.push((name.trim().to_owned(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
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
    for (name, body) in &all {
        let severity = body
            .lines()
            .find_map(|l| l.trim().strip_prefix("severity: "))
            .unwrap_or_else(|| panic!("{name}: no severity"));
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{name}: {severity}"
        );
        assert!(body.contains("summary: "), "{name}: no summary");
        let description = body
            .split("description:")
            .nth(1)
            .unwrap_or_else(|| panic!("{name}: no description"));
        let description = description.split("runbook_url:").next().unwrap();
        assert!(
            description.contains("$labels.instance"),
            "{name}: description lacks the instance"
        );
        let runbook = format!("docs/runbooks/{name}.md");
        assert!(
            body.contains(&format!(
                "runbook_url: https://github.com/oom-exporter/oom_exporter/blob/main/{runbook}"
            )),
            "{name}: runbook_url"
        );
        let text = std::fs::read_to_string(repo().join(&runbook))
            .unwrap_or_else(|e| panic!("{runbook}: {e}"));
        for section in ["## Meaning", "## Impact", "## Diagnosis", "## Mitigation"] {
            assert!(text.contains(section), "{runbook}: no {section}");
        }
    }
    // Descriptions with a value: all but the ones about the exporter's state.
    for (name, body) in &all {
        let described = body.split("description:").nth(1).unwrap();
        let needs_value = !matches!(
            name.as_str(),
            "OOMExporterDown"
                | "OOMExporterKmsgDown"
                | "OOMExporterCollectorFailing"
                | "OOMExporterWebConfigReloadFailed"
        );
        if needs_value {
            assert!(
                described.contains("$value"),
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
