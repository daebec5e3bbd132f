//! The kmsg reader on a file of raw records (`--path.kmsg` accepts any
//! file): records present at start are history, records that appear later
//! are counted after the reader reconnects, and nothing is counted twice.

use std::io::Write;
use std::time::Duration;

use crate::support::{Exporter, kernel_lock, repo, sample};

fn raw_records(prefix: &str) -> String {
    let dir = repo().join("tests/fixtures/kmsg");
    let path = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap();
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn history_then_new_records_after_a_reconnect() {
    let _kernel = kernel_lock();
    let dir = tempfile::tempdir().unwrap();
    let kmsg = dir.path().join("kmsg");
    // Samples 05-07: three kills, seq 418..737.
    let backlog = raw_records("05-") + &raw_records("06-") + &raw_records("07-");
    std::fs::write(&kmsg, backlog).unwrap();
    let e = Exporter::start(&[&format!("--path.kmsg={}", kmsg.display())]);
    e.wait_log("kmsg reader up");
    let kills: Vec<serde_json::Value> = serde_json::from_str(&e.get("/kills", &[]).body).unwrap();
    let pids: Vec<u64> = kills.iter().map(|k| k["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids, [19887, 19759, 19700], "newest first");
    assert!(kills.iter().all(|k| k["before_start"] == true));
    assert_eq!(sample(&e.metrics(), "oom_kills_total"), Some(0.0));

    // The file ends: the reader reconnects with backoff, and the record
    // appended meanwhile (sample 08, seq 738..816) is a new kill.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&kmsg)
        .unwrap()
        .write_all(raw_records("08-").as_bytes())
        .unwrap();
    let m = e.wait_metrics(Duration::from_secs(10), "appended kill not counted", |m| {
        sample(m, "oom_kills_total") == Some(1.0)
    });
    assert!(m.contains("oom_victim_kills_total{comm=\"grower\""), "{m}");
    // Further reconnects re-read the file but count nothing again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sample(&e.metrics(), "oom_kills_total"), Some(1.0));
    let kills: Vec<serde_json::Value> = serde_json::from_str(&e.get("/kills", &[]).body).unwrap();
    assert_eq!(kills.len(), 4);
    assert_eq!(kills[0]["pid"], 19888);
    assert_eq!(kills[0]["before_start"], false);
}
