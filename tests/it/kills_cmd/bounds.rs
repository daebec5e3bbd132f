//! `kills` on hostile sizes: a megabyte line of brackets in linear time,
//! a 60 MB input streamed in bounded memory.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::KILL_LINE;
use crate::support::{BIN, KillOnDrop, wait};

/// Runs `kills` with `args`, killing it if it runs longer than `limit`.
fn kills_within(args: &[&str], limit: Duration) -> (i32, String, String) {
    let mut child = KillOnDrop(
        Command::new(BIN)
            .arg("kills")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let status = wait::exit(
        &mut child,
        limit,
        &format!("`kills {args:?}` still running"),
    );
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code().unwrap_or(-1), stdout, stderr)
}

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
