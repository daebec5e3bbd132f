//! `oom_exporter kills`: saved logs in every form, JSON and table output.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::{BIN, repo};

fn kills(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .arg("kills")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn sample(name: &str) -> String {
    let dir = repo().join("tests/fixtures/kmsg");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name))
        .unwrap();
    file.display().to_string()
}

const KEYS: &[&str] = &[
    "time",
    "pid",
    "comm",
    "uid",
    "constraint",
    "oom_memcg",
    "task_memcg",
    "pod_uid",
    "container_id",
    "total_vm_kb",
    "anon_rss_kb",
    "file_rss_kb",
    "shmem_rss_kb",
    "oom_score_adj",
    "invoked_by",
];

#[test]
fn json_lines_carry_every_key() {
    let (code, out, err) = kills(&["--json", "--input", &sample("25-")], None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    for key in KEYS {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["pid"], 183_960);
    assert_eq!(v["pod_uid"], "5931aa75-4603-4e65-b552-7c71cf55cfb5");
    assert_eq!(v["constraint"], "memcg");
    // BSD syslog stamps have no year or zone: time is null, the stamp is kept.
    assert!(v["time"].is_null());
    assert_eq!(v["log_time"], "Oct 12 19:00:20");
}

#[test]
fn iso_syslog_stamps_become_rfc3339_time() {
    let log = "2025-06-24T18:49:43.123456+0000 node kernel: Out of memory: Killed process 7 (app) total-vm:10kB, anon-rss:5kB, file-rss:1kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n";
    let (code, out, _) = kills(&["--json", "--input", "-"], Some(log));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["time"], "2025-06-24T18:49:43.123456+00:00");
}

#[test]
fn table_from_stdin() {
    let log = std::fs::read_to_string(sample("11-")).unwrap();
    let (code, out, _) = kills(&["--input", "-"], Some(&log));
    assert_eq!(code, 0);
    let mut lines = out.lines();
    assert!(lines.next().unwrap().starts_with("TIME"));
    let row = lines.next().unwrap();
    for cell in [
        "70787",
        "php",
        "1000",
        "global",
        "cron.service",
        "/system.slice/cron.service",
    ] {
        assert!(row.contains(cell), "{cell} not in {row:?}");
    }
    assert!(lines.next().is_none());
}

#[test]
fn no_kills_no_output_exit_0() {
    for args in [
        &["--input", &sample("20-")][..],
        &["--json", "--input", &sample("20-")],
    ] {
        let (code, out, _) = kills(args, None);
        assert_eq!(code, 0);
        assert!(out.is_empty(), "{out}");
    }
}

#[test]
fn unreadable_inputs_fail_with_a_reason() {
    let (code, _, err) = kills(&["--input", "/nonexistent/log"], None);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/log"), "{err}");
    let (code, _, err) = kills(&["--path.kmsg", "/nonexistent/kmsg"], None);
    assert_eq!(code, 1);
    assert!(
        err.contains("no such file") && err.contains("/nonexistent/kmsg"),
        "{err}"
    );
}

#[test]
fn every_sample_form_parses_from_the_command_line() {
    let dir = repo().join("tests/fixtures/kmsg");
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "txt") {
            let (code, out, err) = kills(&["--json", "--input", &path.display().to_string()], None);
            assert_eq!(code, 0, "{}: {err}", path.display());
            total += out.lines().count();
        }
    }
    // The expected kills of every sample (see kmsg_samples.rs).
    assert_eq!(total, 18);
}
