//! Drift between what is generated or documented and what it describes:
//! the dashboards' JSON templates and their generator (the SDK script),
//! the flags tables and `--help`, the metric tables and the golden outputs.
//! The tables are looked for in README.md and every docs/*.md, wherever
//! they live.

use std::collections::BTreeSet;
use std::process::Command;

use crate::support::{BIN, generated_files_are_current, repo, require_python_module};

/// Every Markdown table row (a line starting with `| `) of README.md and
/// docs/*.md, with the file it is in.
fn table_rows() -> Vec<(String, String)> {
    let mut files = vec![repo().join("README.md")];
    if let Ok(dir) = std::fs::read_dir(repo().join("docs")) {
        files.extend(
            dir.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "md")),
        );
    }
    let mut rows = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(repo()).unwrap().display().to_string();
        rows.extend(
            text.lines()
                .filter(|l| l.starts_with("| "))
                .map(|l| (name.clone(), l.to_owned())),
        );
    }
    rows
}

/// The first cell of a table row.
fn first_cell(row: &str) -> &str {
    row.split('|').nth(1).unwrap_or("")
}

/// The code spans (`` `...` ``) of a cell.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

#[test]
#[ignore = "needs grafana-foundation-sdk: dashboards/generate.py builds with it (tests/run installs it)"]
fn dashboards_match_their_generator() {
    if !require_python_module(
        "grafana_foundation_sdk",
        "run dashboards/generate.py --check",
    ) {
        return;
    }
    generated_files_are_current("dashboards/generate.py");
}

/// The long flags `oom_exporter ARGS --help` defines (lines like
/// `  -h, --help` or `      --path.kmsg <FILE>`).
fn help_flags(args: &[&str]) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{args:?}");
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        // A flag's line is indented 2 (`-h, --help`) or 6 spaces; deeper
        // lines are wrapped descriptions, which may start with a flag's name
        // (`--seq): ...` in the list of subcommands).
        let trimmed = line.trim_start();
        if line.len() - trimmed.len() > 6 {
            continue;
        }
        let line = trimmed;
        let line = match line.split_once(", ") {
            Some((short, rest)) if short.len() == 2 && short.starts_with('-') => rest,
            _ => line,
        };
        if let Some(flag) = line.strip_prefix("--") {
            let name: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
                .collect();
            flags.insert(format!("--{name}"));
        }
    }
    assert!(flags.len() > 2, "too few flags parsed: {flags:?}");
    flags
}

/// Whether the documented `flag` names `real`: equal, or equal with its
/// `<name>` placeholder standing for one word.
fn documents(flag: &str, real: &str) -> bool {
    match flag.split_once("<name>") {
        Some((head, tail)) => {
            real.len() > head.len() + tail.len()
                && real.starts_with(head)
                && real.ends_with(tail)
                && real[head.len()..real.len() - tail.len()]
                    .chars()
                    .all(|c| c.is_ascii_lowercase())
        }
        None => flag == real,
    }
}

#[test]
fn every_flag_is_in_a_flags_table_and_every_row_is_a_flag() {
    let main = help_flags(&[]);
    assert!(main.len() > 30, "too few flags parsed: {main:?}");
    // A row may also document a subcommand's own flag.
    let mut real = main.clone();
    real.extend(help_flags(&["top"]));
    real.extend(help_flags(&["kills"]));
    let mut documented = Vec::new();
    for (file, row) in table_rows() {
        if !row.starts_with("| `--") {
            continue;
        }
        for span in code_spans(first_cell(&row)) {
            documented.push((file.clone(), span.to_owned()));
        }
    }
    let missing: Vec<&String> = main
        .iter()
        .filter(|r| !documented.iter().any(|(_, d)| documents(d, r)))
        .collect();
    assert!(
        missing.is_empty(),
        "flags of --help in no table row starting with \"| `--\" of README.md or docs/*.md: {missing:?}"
    );
    let unknown: Vec<&(String, String)> = documented
        .iter()
        .filter(|(_, d)| !real.iter().any(|r| documents(d, r)))
        .collect();
    assert!(
        unknown.is_empty(),
        "flags tables name flags --help does not have: {unknown:?}"
    );
}

/// Metric families of the golden outputs (their `# TYPE` lines).
fn golden_families() -> BTreeSet<String> {
    let mut families = BTreeSet::new();
    for entry in std::fs::read_dir(repo().join("tests/golden")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "prom") {
            let text = std::fs::read_to_string(&path).unwrap();
            families.extend(
                text.lines()
                    .filter_map(|l| l.strip_prefix("# TYPE "))
                    .filter_map(|l| l.split_whitespace().next())
                    .map(str::to_owned),
            );
        }
    }
    assert!(families.len() > 50, "too few families: {families:?}");
    families
}

/// The metric names a metric table row's first cell documents. A label
/// set at the end is dropped (`oom_kmsg_up`, `oom_scrape_collector_success{collector}`);
/// braces inside a name list alternatives
/// (`oom_memory_hugepages_{total,free}_bytes`); a span starting with `_`
/// replaces as many trailing words of the previous name
/// (`oom_process_resident_anon_bytes`, `_file_bytes`).
fn documented_metrics(cell: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for span in code_spans(cell) {
        let name = match span.split_once('{') {
            Some((head, rest)) => match rest.split_once('}') {
                Some((alternatives, tail)) if !tail.is_empty() && !tail.starts_with('{') => {
                    let tail = tail.split('{').next().unwrap();
                    names.extend(
                        alternatives
                            .split(',')
                            .map(|a| format!("{head}{}{tail}", a.trim())),
                    );
                    continue;
                }
                _ => head,
            },
            None => span,
        };
        if let Some(suffix) = name.strip_prefix('_') {
            let previous = names.last().expect("a suffix after a full name").clone();
            let words = suffix.split('_').count();
            let kept: Vec<&str> = previous.split('_').collect();
            let head = kept[..kept.len() - words].join("_");
            names.push(format!("{head}_{suffix}"));
        } else if name.starts_with("oom_") {
            names.push(name.to_owned());
        }
    }
    names
}

/// Families documented in the metric tables that no golden output can
/// show, and why. Each must stay out of the goldens and in a table.
const NOT_IN_GOLDENS: [(&str, &str); 9] = [
    (
        "oom_cgroup_memsw_limit_bytes",
        "cgroup v1 only; the golden cgroup trees are v2 (tested live in cgroup.rs)",
    ),
    (
        "oom_cgroup_memsw_limit_hits_total",
        "cgroup v1 only; the golden cgroup trees are v2 (tested live in cgroup.rs)",
    ),
    (
        "oom_cgroup_under_oom",
        "cgroup v1 only; the golden cgroup trees are v2 (tested live in cgroup.rs)",
    ),
    (
        "oom_exporter_web_config_last_reload_successful",
        "only with --web.config.file; the goldens run without one (web.rs)",
    ),
    (
        "oom_exporter_web_config_last_reload_success_timestamp_seconds",
        "only with --web.config.file; the goldens run without one (web.rs)",
    ),
    (
        "oom_exporter_web_password_checks_total",
        "only with basic auth users in the web config (web.rs)",
    ),
    (
        "oom_exporter_web_tls_certificate_not_after_timestamp_seconds",
        "only with TLS in the web config (web.rs)",
    ),
    (
        "oom_cgroup_userspace_kills_total",
        "only on cgroups with systemd-oomd or oomd attributes, which git cannot store in a fixture (userspace_kills.rs sets them)",
    ),
    (
        "oom_cgroup_userspace_killed_processes_total",
        "only on cgroups with systemd-oomd or oomd attributes, which git cannot store in a fixture (userspace_kills.rs sets them)",
    ),
];

#[test]
fn every_golden_metric_is_in_a_metrics_table_and_every_row_is_a_metric() {
    let golden = golden_families();
    let mut documented = BTreeSet::new();
    for (_, row) in table_rows() {
        if row.starts_with("| `oom_") {
            documented.extend(documented_metrics(first_cell(&row)));
        }
    }
    let undocumented: Vec<&String> = golden.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "metric families of tests/golden in no table row starting with \"| `oom_\" of README.md or docs/*.md: {undocumented:?}"
    );
    let exceptions: BTreeSet<String> = NOT_IN_GOLDENS
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    let unknown: Vec<&String> = documented
        .iter()
        .filter(|d| !golden.contains(*d) && !exceptions.contains(*d))
        .collect();
    assert!(
        unknown.is_empty(),
        "metric tables name families that no golden output has and that are not listed in NOT_IN_GOLDENS: {unknown:?}"
    );
    for (name, why) in NOT_IN_GOLDENS {
        assert!(
            !golden.contains(name),
            "{name} is in a golden output now: drop it from NOT_IN_GOLDENS ({why})"
        );
        assert!(
            documented.contains(name),
            "{name} is in no metric table: drop it from NOT_IN_GOLDENS or document it"
        );
    }
}
