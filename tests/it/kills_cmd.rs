//! `oom_exporter kills`: saved logs in every form, JSON and table output.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Runs `kills` with `args`, killing it if it runs longer than `limit`.
fn kills_within(args: &[&str], limit: Duration) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .arg("kills")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("`kills {args:?}` still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const KILL_LINE: &str = "[  100.000001] Out of memory: Killed process 4242 (after) total-vm:10kB, anon-rss:5kB, file-rss:1kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n";

#[test]
fn regression_megabyte_of_brackets_is_linear() {
    // Every `[` used to start a search for `]` to the end of the line: a
    // 1 MiB line of them ran for more than a minute. Now it is skipped as
    // over-long, and the kill after it is still found. The bound is far
    // above the expected milliseconds, and far below the old quadratic run.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("brackets.log");
    let mut text = "[".repeat(1 << 20);
    text.push('\n');
    text.push_str(KILL_LINE);
    std::fs::write(&log, text).unwrap();
    let (code, out, err) = kills_within(
        &["--json", "--input", &log.display().to_string()],
        Duration::from_secs(20),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"comm\":\"after\""), "{out}");
    assert!(err.contains("1 line longer than"), "{err}");
}

/// Highest VmHWM (peak resident set, kB) of `pid` seen until it exits.
fn watch_peak_rss(pid: u32) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            else {
                break; // a zombie: the process has exited
            };
            peak = peak.max(kb);
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    })
}

#[test]
fn big_input_is_streamed_in_bounded_memory() {
    // 400,000 kill lines (about 60 MB) through stdin, in each output form.
    // The old code held the whole input, every line and every kill: several
    // times the input. Streaming keeps the peak flat (about 12 MB for a
    // million lines), so the bound does not depend on the input's size.
    const KILLS: u32 = 400_000;
    const LIMIT_KB: u64 = 48 * 1024;
    for json in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let out_path = dir.path().join("out");
        let mut cmd = Command::new(BIN);
        cmd.arg("kills").args(["--input", "-"]);
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let peak = watch_peak_rss(child.id());
        let mut stdin = std::io::BufWriter::new(child.stdin.take().unwrap());
        for i in 0..KILLS {
            // 20 s apart: every line is its own OOM event.
            writeln!(
                stdin,
                "[{:>6}.000001] Out of memory: Killed process {} (hog{}) total-vm:10kB, anon-rss:5kB, file-rss:1kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0",
                u64::from(i) * 20,
                i + 1,
                i % 7
            )
            .unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let peak = peak.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows = std::io::BufRead::lines(std::io::BufReader::new(
            std::fs::File::open(&out_path).unwrap(),
        ))
        .count();
        assert_eq!(rows, KILLS as usize + usize::from(!json), "json: {json}");
        assert!(peak > 0, "no VmHWM sample");
        assert!(
            peak < LIMIT_KB,
            "json: {json}: peak RSS {peak} kB for a {} MB input",
            KILLS as u64 * 150 / 1_000_000
        );
    }
}

#[test]
fn gzip_rotated_log_is_read() {
    use flate2::{Compression, write::GzEncoder};
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::read(sample("11-")).unwrap();
    // By its magic bytes, whatever the name; two members, as `cat a.gz b.gz`.
    for name in ["kern.log.2.gz", "kern.log.2"] {
        let path = dir.path().join(name);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&log).unwrap();
        let mut bytes = gz.finish().unwrap();
        let mut second = GzEncoder::new(Vec::new(), Compression::default());
        second.write_all(KILL_LINE.as_bytes()).unwrap();
        bytes.extend(second.finish().unwrap());
        std::fs::write(&path, bytes).unwrap();
        let (code, out, err) = kills(&["--json", "--input", &path.display().to_string()], None);
        assert_eq!(code, 0, "{name}: {err}");
        let comms: Vec<String> = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["comm"].to_string())
            .collect();
        assert_eq!(comms, ["\"php\"", "\"after\""], "{name}");
    }
    // And from stdin.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(KILL_LINE.as_bytes()).unwrap();
    let path = dir.path().join("stdin.gz");
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let out = Command::new(BIN)
        .args(["kills", "--json", "--input", "-"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"comm\":\"after\""));
}

#[test]
fn broken_gzip_is_an_error() {
    use flate2::{Compression, write::GzEncoder};
    let dir = tempfile::tempdir().unwrap();
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(KILL_LINE.repeat(100).as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let path = dir.path().join("cut.gz");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let (code, _, err) = kills(&["--input", &path.display().to_string()], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cut.gz") && err.contains("gzip"), "{err}");
}

#[test]
fn xz_and_zstd_say_to_decompress_first() {
    let dir = tempfile::tempdir().unwrap();
    for (name, magic) in [
        ("kern.log.1.xz", &b"\xfd7zXZ\x00\x00\x04"[..]),
        ("kern.log.1.zst", &b"\x28\xb5\x2f\xfd\x00\x00"[..]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, magic).unwrap();
        let (code, out, err) = kills(&["--input", &path.display().to_string()], None);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(out.is_empty());
        assert!(err.contains(name) && err.contains("decompress"), "{err}");
    }
}

#[test]
fn input_that_is_not_a_kernel_log_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    for (name, bytes) in [
        ("empty", Vec::new()),
        (
            "garbage",
            b"hello world\nthis is not a log\n[not a stamp] x\n".to_vec(),
        ),
        ("binary", binary),
        (
            "userspace-syslog",
            b"Jun 24 18:49:43 host sshd[12]: Accepted publickey for root\n".to_vec(),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (code, out, err) = kills(&["--input", &path.display().to_string()], None);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(out.is_empty(), "{name}: {out}");
        assert!(
            err.contains(name) && err.contains("no line looks like a kernel log line"),
            "{name}: {err}"
        );
    }
    // The same from stdin.
    let (code, _, err) = kills(&["--input", "-"], Some("just text\n"));
    assert_eq!(code, 1);
    assert!(err.contains("stdin"), "{err}");
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

/// Review of issue 12: an unreadable input said its OS error twice, and a
/// file of one overlong line was called empty.
#[test]
fn input_errors_are_said_once_and_truly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (code, _, err) = kills(&["--input", &d], None);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.matches("Is a directory").count(), 1, "{err}");
    let long = dir.path().join("brackets.txt");
    std::fs::write(&long, "[".repeat(1 << 20)).unwrap();
    let (code, _, err) = kills(&["--input", &long.display().to_string()], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("longer than"), "{err}");
    assert!(!err.contains("it is empty"), "{err}");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let (_, _, err) = kills(&["--input", &empty.display().to_string()], None);
    assert!(err.contains("it is empty"), "{err}");
}
