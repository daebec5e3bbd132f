//! `promtool check metrics` on the live output: naming and format lint.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{Exporter, fixture, require_tool};

/// `promtool check metrics` on `metrics`: whether it passed, and its report.
pub fn lint(metrics: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
#[ignore = "needs promtool"]
fn promtool_check_metrics_is_clean_on_live_proc() {
    if require_tool("promtool", "lint /metrics").is_none() {
        return;
    }
    let e = Exporter::start(&[]);
    let (ok, report) = lint(&e.metrics());
    assert!(
        ok && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
}

#[test]
#[ignore = "needs promtool"]
fn promtool_check_metrics_is_clean_on_every_fixture() {
    if require_tool("promtool", "lint /metrics").is_none() {
        return;
    }
    // Every collector on each procfs tree (the cgroup collector on this
    // machine's live hierarchy), and the cgroup collector on the v2 tree.
    let v2 = format!(
        "--path.sysfs={}",
        crate::support::repo()
            .join("tests/fixtures/sys-cgroup-v2")
            .display()
    );
    for (tree, extra) in [
        ("linux-6.18-swap-in-use", None),
        ("linux-4.x-no-psi", None),
        ("processes", None),
        ("linux-6.18-psi-zswap", Some(v2.as_str())),
    ] {
        let procfs = format!("--path.procfs={}", fixture(tree).display());
        let args: Vec<&str> = std::iter::once(procfs.as_str()).chain(extra).collect();
        let e = Exporter::start(&args);
        let m = e.metrics();
        if extra.is_some() {
            assert!(m.contains("oom_cgroup_oom_kills_total{"), "{m}");
        }
        let (ok, report) = lint(&m);
        assert!(
            ok && report.trim().is_empty(),
            "{tree} {extra:?}: promtool check metrics:\n{report}"
        );
    }
}

#[test]
#[ignore = "needs promtool"]
fn promtool_catches_a_bad_name() {
    // Proves the lint is live: a counter without _total must be reported.
    if require_tool("promtool", "lint /metrics").is_none() {
        return;
    }
    let (_, report) = lint("# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n");
    assert!(report.contains("bad_counter"), "{report}");
}
