//! The words a user reads before the numbers: `--help`'s summary, the
//! series count the cgroup cap promises, and the HELP line of every metric
//! family.

use std::collections::BTreeSet;
use std::process::Command;

use crate::support::{Exporter, fixture, repo};

fn help() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_oom_exporter"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_help_summary_names_everything_the_exporter_does() {
    let help = help();
    let summary = help.split("Usage:").next().unwrap();
    for what in [
        "memory",
        "swap",
        "overcommit",
        "PSI",
        "oom_score",
        "cgroup",
        "OOM kill",
        "victim",
        "/kills",
        "top",
    ] {
        assert!(
            summary.contains(what),
            "--help's summary does not mention {what:?}:\n{summary}"
        );
    }
}

/// `(v2, v1)` from "N series on cgroup v2, M on v1" (or "... on v2 and M
/// on v1"), wherever `text` states the per-cgroup series count.
fn stated_series(text: &str) -> Vec<(u32, u32)> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let re = regex::Regex::new(r"(\d+) series on (?:cgroup )?v2(?:,| and) (\d+) on v1").unwrap();
    re.captures_iter(&text)
        .map(|c| (c[1].parse().unwrap(), c[2].parse().unwrap()))
        .collect()
}

#[test]
fn the_cgroup_cap_states_one_series_count_everywhere() {
    // The v2 count the collector writes: every (family, kind) a cgroup
    // can have in the golden output of a real v2 tree.
    let golden = std::fs::read_to_string(repo().join("tests/golden/cgroup-v2.prom")).unwrap();
    let per_cgroup: BTreeSet<String> = golden
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("cgroup=\""))
        .map(|l| {
            let name = l.split('{').next().unwrap();
            let kind = l
                .split("kind=\"")
                .nth(1)
                .map(|k| k.split('"').next().unwrap());
            format!("{name} {}", kind.unwrap_or(""))
        })
        .collect();
    let v2 = u32::try_from(per_cgroup.len()).unwrap();

    let help = help();
    let flag = help
        .split("--collector.cgroup.max")
        .nth(1)
        .and_then(|rest| rest.split("--collector.cgroup.include").next())
        .unwrap();
    let mut stated = vec![("--help".to_owned(), stated_series(flag))];
    for doc in ["README.md", "docs/flags.md", "docs/cgroups.md"] {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        stated.push((doc.to_owned(), stated_series(&text)));
    }
    for (place, counts) in &stated {
        assert!(
            !counts.is_empty(),
            "{place} does not state the series count"
        );
        for &(got_v2, got_v1) in counts {
            assert_eq!(
                (got_v2, got_v1),
                (v2, 8),
                "{place} states {got_v2} series on v2 and {got_v1} on v1; the collector writes {v2} on v2 and 8 on v1"
            );
        }
    }
}

/// The one rule every HELP text follows: no trailing period, and it starts
/// with a capital letter or a digit, or with a kernel name in its own
/// spelling (`vm.swappiness`, `oom_score_adj`, `memory.oom.group`).
fn check_help_lines(source: &str, metrics: &str) -> usize {
    let mut seen = 0;
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("# HELP ") else {
            continue;
        };
        let (family, text) = rest.split_once(' ').unwrap_or((rest, ""));
        let first_word = text.split([' ', ':']).next().unwrap_or("");
        let starts_well = first_word
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            || first_word.contains(['.', '_']);
        assert!(
            starts_well,
            "{source}: HELP of {family} starts with {first_word:?}: {text}"
        );
        assert!(
            !text.ends_with('.'),
            "{source}: HELP of {family} ends with a period: {text}"
        );
        seen += 1;
    }
    seen
}

#[test]
fn every_help_text_follows_one_punctuation_rule() {
    let dir = repo().join("tests/golden");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        seen += check_help_lines(&path.display().to_string(), &text);
    }
    assert!(seen > 100, "only {seen} HELP lines in {}", dir.display());

    // The web families appear only with a web configuration file.
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web.yml");
    let hash = bcrypt::hash("secret", 4).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: {hash}\n")).unwrap();
    let procfs = format!(
        "--path.procfs={}",
        fixture("linux-6.18-psi-zswap").display()
    );
    let webcfg = format!("--web.config.file={}", web.display());
    let exporter = Exporter::start(&[
        &procfs,
        &webcfg,
        "--no-collector.kmsg",
        "--no-collector.cgroup",
    ]);
    // prometheus:secret
    let auth = ("Authorization", "Basic cHJvbWV0aGV1czpzZWNyZXQ=");
    let response = exporter.get("/metrics", &[auth]);
    assert_eq!(response.status, 200, "{}", response.body);
    let metrics = response.body;
    assert!(
        metrics.contains("oom_exporter_web_password_checks_total"),
        "no web families in:\n{metrics}"
    );
    check_help_lines("/metrics with basic auth", &metrics);
}
