//! Whole OOM reports from real machines (`tests/fixtures/reports/`, 2.6.32
//! to 6.1) through `oom_exporter kills --json --input`: every field that
//! `expected.json` says a reader must find is checked, kill by kill.

use std::process::Command;

use serde_json::Value;

use crate::support::{BIN, repo};

/// `expected.json` fields that `kills --json` does not report yet. Each must
/// be absent from the output (so that implementing one fails this test
/// until it is checked here, never passing unchecked).
const NOT_YET: &[&str] = &[];

/// Where each `expected.json` field is in a kill's JSON object.
fn key(field: &str) -> &str {
    match field {
        "trigger_comm" => "invoked_by",
        "top_tasks_by_rss" => "top_tasks",
        other => other,
    }
}

pub(crate) fn kills_json(file: &std::path::Path) -> Vec<Value> {
    let out = Command::new(BIN)
        .args(["kills", "--json", "--input"])
        .arg(file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", file.display());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What the kill shows for `field`, in `expected.json`'s shape.
fn found(kill: &Value, field: &str) -> Value {
    let got = &kill[key(field)];
    match field {
        // expected.json keeps the hex part; the kill keeps the flags too.
        "gfp_mask" => got.as_str().map_or(Value::Null, |s| {
            Value::from(s.split('(').next().unwrap_or(s))
        }),
        "top_tasks_by_rss" => match got.as_array() {
            Some(rows) => Value::Array(
                rows.iter()
                    .take(3)
                    .map(|r| serde_json::json!([r["pid"], r["comm"], r["rss_pages"]]))
                    .collect(),
            ),
            None => Value::Null,
        },
        _ => got.clone(),
    }
}

#[test]
fn every_report_yields_what_a_reader_must_find() {
    let dir = repo().join("tests/fixtures/reports");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let files = expected.as_object().unwrap();
    assert_eq!(files.len(), 6, "reports missing from expected.json");
    let mut checked = 0;
    for (file, want) in files {
        let got = kills_json(&dir.join(file));
        let victims = want["victims"].as_array().unwrap();
        assert_eq!(got.len() as u64, want["kills"].as_u64().unwrap(), "{file}");
        assert_eq!(got.len(), victims.len(), "{file}");
        for (i, (kill, victim)) in got.iter().zip(victims).enumerate() {
            for (field, value) in victim.as_object().unwrap() {
                if NOT_YET.contains(&field.as_str()) {
                    assert!(
                        kill.get(key(field)).is_none(),
                        "{file} kill {i}: `{field}` is reported now: check it (remove it from NOT_YET)"
                    );
                    continue;
                }
                assert_eq!(&found(kill, field), value, "{file} kill {i}: {field}");
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}

/// Every key `kills --json` prints for these reports, and every key of a
/// `top_tasks` entry, is named in docs/kills.md.
#[test]
fn every_key_is_documented() {
    let docs = std::fs::read_to_string(repo().join("docs/kills.md")).unwrap();
    let dir = repo().join("tests/fixtures/reports");
    let mut keys = std::collections::BTreeSet::new();
    for file in [
        "10-proxmox-5.15-pve-lxc-cgroupv2-dmesgT-de.log",
        "01-rhel6-2.6.32-global-bigtable-2events.log",
    ] {
        for kill in kills_json(&dir.join(file)) {
            keys.extend(kill.as_object().unwrap().keys().cloned());
            for task in kill["top_tasks"].as_array().unwrap() {
                keys.extend(task.as_object().unwrap().keys().cloned());
            }
        }
    }
    assert!(keys.contains("swap_pages") && keys.contains("memcg_failcnt"));
    let missing: Vec<_> = keys
        .iter()
        .filter(|k| {
            !docs.contains(&format!("`{k}`"))
                && !docs.contains(&format!("{{{k},"))
                && !docs.contains(&format!(" {k},"))
                && !docs.contains(&format!(" {k}}}"))
        })
        .collect();
    assert!(missing.is_empty(), "not in docs/kills.md: {missing:?}");
}

/// A report captured on this machine (raw /dev/kmsg records of a real memcg
/// OOM that a test caused): the victim is a small shell with oom_score_adj
/// 1000, and the task dump shows the process that held the memory.
#[test]
fn a_report_captured_here_names_who_held_the_memory() {
    let file = repo().join("tests/fixtures/reports/captured-6.18-memcg-victim-not-largest.kmsg");
    let kills = kills_json(&file);
    assert_eq!(kills.len(), 1);
    let k = &kills[0];
    assert_eq!(
        (k["pid"].as_u64(), k["comm"].as_str()),
        (Some(2665), Some("sh"))
    );
    assert_eq!(k["oom_score_adj"].as_i64(), Some(1000));
    assert_eq!(k["constraint"].as_str(), Some("memcg"));
    assert_eq!(k["task_memcg"].as_str(), Some("/oomx-report-18311"));
    assert_eq!(k["invoked_by"].as_str(), Some("tail"));
    assert_eq!(k["trigger_pid"].as_u64(), Some(2669));
    assert_eq!(k["gfp_mask"].as_str(), Some("0xcc0(GFP_KERNEL)"));
    assert_eq!(k["order"].as_i64(), Some(0));
    assert_eq!(
        (k["memcg_usage_kb"].as_u64(), k["memcg_limit_kb"].as_u64()),
        (Some(32768), Some(32768))
    );
    assert_eq!(k["tasks_in_dump"].as_u64(), Some(2));
    // 1,367 pages (sh) and 4,036 + 1,432 kB in its Killed process line:
    // the page size is read, not assumed.
    assert_eq!(k["page_size_bytes"].as_u64(), Some(4096));
    assert_eq!(k["page_size_assumed"].as_bool(), Some(false));
    let top = k["top_tasks"].as_array().unwrap();
    assert_eq!(top[0]["comm"].as_str(), Some("tail"));
    assert_eq!(top[0]["rss_pages"].as_u64(), Some(7521));
    assert_eq!(top[0]["rss_bytes"].as_u64(), Some(7521 * 4096));
    assert_eq!(top[1]["comm"].as_str(), Some("sh"));
    assert_eq!(top[1]["oom_score_adj"].as_i64(), Some(1000));
}

/// The reports written here (`written-*.log`), one per task-dump header
/// format: every key `kills --json` prints for each kill is in
/// `written-expected.json`, with its value, and nothing there is missing
/// from the output.
#[test]
fn every_written_report_yields_every_key() {
    let dir = repo().join("tests/fixtures/reports");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("written-expected.json")).unwrap())
            .unwrap();
    let files = expected.as_object().unwrap();
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("written-") && n.ends_with(".log"))
        .collect();
    written.sort();
    assert_eq!(files.keys().cloned().collect::<Vec<_>>(), written);
    let mut page_sizes = std::collections::BTreeSet::new();
    for (file, want) in files {
        let got = kills_json(&dir.join(file));
        let victims = want["victims"].as_array().unwrap();
        assert_eq!(got.len() as u64, want["kills"].as_u64().unwrap(), "{file}");
        assert_eq!(got.len(), victims.len(), "{file}");
        for (i, (kill, victim)) in got.iter().zip(victims).enumerate() {
            let (kill, victim) = (kill.as_object().unwrap(), victim.as_object().unwrap());
            for (key, value) in kill {
                assert_eq!(Some(value), victim.get(key), "{file} kill {i}: {key}");
            }
            for key in victim.keys() {
                assert!(kill.contains_key(key), "{file} kill {i}: no `{key}`");
            }
            // What each file was written to show.
            let top = kill["top_tasks"].as_array().unwrap();
            assert!(kill["tasks_in_dump"].as_u64().unwrap() >= 12, "{file}");
            assert_ne!(
                top[0]["pid"], kill["pid"],
                "{file}: the victim is the largest"
            );
            let rss: Vec<_> = top.iter().map(|t| t["rss_pages"].as_u64()).collect();
            assert!(
                rss.windows(2).any(|w| w[0] == w[1]),
                "{file}: no tie in RSS"
            );
            page_sizes.insert(kill["page_size_bytes"].as_u64().unwrap());
        }
    }
    assert_eq!(page_sizes.into_iter().collect::<Vec<_>>(), [4096, 65536]);
    // One file per header format.
    for header in [
        "[ pid ]   uid  tgid total_vm      rss cpu oom_adj oom_score_adj name",
        "[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name",
        "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
        "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name",
    ] {
        let with: Vec<_> = written
            .iter()
            .filter(|f| {
                let text = std::fs::read_to_string(dir.join(f)).unwrap();
                text.lines().any(|l| l.ends_with(header))
            })
            .collect();
        assert_eq!(with.len(), 1, "{header}: {with:?}");
    }
}
