//! `oom_exporter kills`: saved logs in every form, JSON and table output.
//! This file runs the command and checks its output forms; the rest by
//! concern:
//!
//! - `inputs`: files, stdin, gzip, and the inputs it refuses.
//! - `bounds`: time and memory on huge or hostile input.

mod bounds;
mod inputs;

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{BIN, repo};

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

/// One kill line with a dmesg stamp, victim `after`.
const KILL_LINE: &str = "[  100.000001] Out of memory: Killed process 4242 (after) total-vm:10kB, anon-rss:5kB, file-rss:1kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n";

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
    "trigger_pid",
    "gfp_mask",
    "order",
    "sysrq",
    "memcg_usage_kb",
    "memcg_limit_kb",
    "memcg_failcnt",
    "memsw_usage_kb",
    "memsw_limit_kb",
    "swap_usage_kb",
    "swap_limit_kb",
    "swap_free_kb",
    "swap_total_kb",
    "tasks_in_dump",
    "top_tasks",
    "page_size_bytes",
    "page_size_assumed",
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

#[test]
fn saved_raw_log_given_as_kmsg_device_gets_no_wall_clock() {
    // Stamps a year past this boot's uptime: the old code dated them a year
    // in the future.
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved.txt");
    let year_usec: u64 = 365 * 24 * 3600 * 1_000_000;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let stamp = (uptime * 1e6) as u64 + year_usec;
    // And one a second after boot: within this boot's uptime, but a saved
    // file cannot say which boot it is from.
    let record = |seq: u32, usec: u64| {
        format!(
            "3,{seq},{usec},-;Out of memory: Killed process 4242 (saved) total-vm:10kB, anon-rss:5kB, file-rss:1kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n"
        )
    };
    std::fs::write(&saved, record(1, 1_000_000) + &record(2, stamp)).unwrap();
    let kmsg = format!("--path.kmsg={}", saved.display());
    let (code, out, err) = kills(&[&kmsg, "--json"], None);
    assert_eq!(code, 0, "{err}");
    let v: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 2, "{out}");
    assert!(v.iter().all(|k| k["time"].is_null()), "{out}");
    assert_eq!(v[1]["boot_usec"], stamp);
    assert!(err.contains("not the kernel's log device"), "{err}");
    let (code, out, _) = kills(&[&kmsg], None);
    assert_eq!(code, 0);
    let row = out.lines().nth(2).unwrap();
    assert!(
        row.starts_with(&format!("[{}.{:06}]", stamp / 1_000_000, stamp % 1_000_000)),
        "{row}"
    );
}

fn report(name: &str) -> String {
    let dir = repo().join("tests/fixtures/reports");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name))
        .unwrap();
    file.display().to_string()
}

/// The lines of `text` with runs of spaces squeezed to one.
fn squeezed(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn detail_shows_the_trigger_swap_and_the_victim_among_the_top_tasks() {
    // Ubuntu 5.13, an OOM forced from SysRq-f: the victim is second by RSS.
    let (code, out, err) = kills(&["--detail", "--input", &report("16-")], None);
    assert_eq!(code, 0, "{err}");
    let lines = squeezed(&out);
    let has = |want: &str| assert!(lines.iter().any(|l| l == want), "{want:?} in\n{out}");
    has(
        "trigger: kworker/0:2 (pid 735) gfp_mask=0xcc0(GFP_KERNEL) order=-1 (forced from SysRq-f, not a failed allocation)",
    );
    has("swap: free 0B of total 0B (no swap configured)");
    has("top processes by RSS (10 of 23 in the dump):");
    has("611 0 32.2MiB -900 snapd");
    has("* 651 0 20.4MiB 0 unattended-upgr");
    assert!(lines[0].contains("killed 651 (unattended-upgr)"), "{out}");
    assert_eq!(lines.iter().filter(|l| l.starts_with('*')).count(), 1);
}

#[test]
fn detail_shows_a_memcg_usage_against_its_limit() {
    // Proxmox 5.15, cgroup v2, dmesg -T in German: the victim is the top.
    let (code, out, err) = kills(&["--detail", "--input", &report("10-")], None);
    assert_eq!(code, 0, "{err}");
    let lines = squeezed(&out);
    let has = |want: &str| assert!(lines.iter().any(|l| l == want), "{want:?} in\n{out}");
    has("trigger: php-fpm (pid 3923954) gfp_mask=0x1100cca(GFP_HIGHUSER_MOVABLE) order=0");
    has("memory: usage 29.8GiB of limit 29.8GiB (100%), failcnt 83420");
    has("* 3902942 1000 12.2GiB 0 php-fpm");
    has("3589018 1000 6.9GiB 0 php-fpm");
}

#[test]
fn detail_says_when_the_victim_is_not_among_the_top_rows() {
    // RHEL 6, two events: mysqld held less than the ten largest.
    let (code, out, err) = kills(&["--detail", "--input", &report("01-")], None);
    assert_eq!(code, 0, "{err}");
    let lines = squeezed(&out);
    let has = |want: &str| assert!(lines.iter().any(|l| l == want), "{want:?} in\n{out}");
    has("trigger: php-fpm (pid 23212) gfp_mask=0x280da order=0");
    has("swap: free 0B of total 2.0GiB");
    has("top processes by RSS (10 of 793 in the dump):");
    has("15597 0 233.5MiB 0 savscand");
    has("(the victim 40738 is not among these rows)");
    assert_eq!(lines.iter().filter(|l| l.contains(" killed ")).count(), 2);
}

#[test]
fn detail_and_json_do_not_go_together() {
    let (code, _, err) = kills(&["--detail", "--json", "--input", &report("16-")], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--json"), "{err}");
}
