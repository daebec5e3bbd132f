//! End to end with a real memcg OOM: the report's row of the process that
//! held the most memory gives the RSS /proc gave for it just before the
//! kill, within 5% (needs root and python3; the cgroup is removed after).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{
    Exporter, KillOnDrop, MemCgroup, kernel_lock, require_root, require_tool, wait,
};

/// Starts python3 in `cg` holding 14 MiB it has written to, exempt from
/// the OOM killer (oom_score_adj -1000) so it stays the largest process
/// while others are killed; returns once it holds the memory.
fn holder(cg: &MemCgroup, python: &std::path::Path) -> KillOnDrop {
    let procs = cg.dir().join("cgroup.procs");
    let script = format!(
        "import os, sys\n\
         open({procs:?}, 'w').write(str(os.getpid()))\n\
         open('/proc/self/oom_score_adj', 'w').write('-1000')\n\
         held = b'a' * (14 << 20)\n\
         print('ready', flush=True)\n\
         sys.stdin.readline()\n",
        procs = procs.display().to_string()
    );
    let mut child = KillOnDrop(
        Command::new(python)
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    child
}

/// `VmRSS` of `pid` in bytes.
fn vm_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix(" kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// Bytes from the report's `23.4 MiB`.
fn size(cell: &str) -> f64 {
    let (n, unit) = cell.trim().split_once(' ').unwrap();
    let scale = match unit {
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        _ => panic!("unit {unit}"),
    };
    n.parse::<f64>().unwrap() * scale
}

#[test]
#[ignore = "needs root, python3: a memory cgroup and an OOM kill"]
fn the_report_gives_the_largest_process_the_rss_proc_gave_it() {
    if !require_root("create a memory cgroup and cause an OOM kill") {
        return;
    }
    let Some(python) = require_tool("python3", "hold a known amount of memory") else {
        return;
    };
    let _kernel = kernel_lock();
    let cg = MemCgroup::new("rss");
    let e = Exporter::start_reading_kmsg(&[]);
    let holder = holder(&cg, &python);
    let holder_pid = holder.id();
    let mut shell = cg.bystander();
    let victim = shell.id();
    // Idle from here on: what /proc says now is what the dump will say.
    let measured = vm_rss(holder_pid);
    let (hog, _, _) = cg.hog();
    let _ = shell.kill();
    let _ = shell.wait();
    let seq = wait::until(
        Duration::from_secs(5),
        Duration::from_millis(50),
        "the victim's kill",
        || {
            let r = e.get("/kills", &[]);
            let listed: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap_or_default();
            listed
                .iter()
                .find(|k| k["pid"] == victim)
                .and_then(|k| k["seq"].as_u64())
                .ok_or(r.body)
        },
    );
    let r = e.get(&format!("/report?seq={seq}"), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let md = &r.body;
    assert!(
        md.contains(&format!("# OOM kill of `sh` (pid {victim})")),
        "{md}"
    );
    // The holder is the largest process, and the hog (killed next) is in
    // the dump too.
    let row = md
        .lines()
        .find(|l| l.starts_with(&format!("| 1 | {holder_pid} | 0 | ")))
        .unwrap_or_else(|| panic!("the holder {holder_pid} is not first in\n{md}"));
    let rss = size(row.split('|').nth(5).unwrap());
    assert!(
        (rss - measured as f64).abs() <= measured as f64 * 0.05,
        "the report says {rss} bytes, /proc said {measured} just before the kill\n{md}"
    );
    assert!(md.contains(&format!(" | {hog} | 0 | `tail` |")), "{md}");
    assert!(
        md.contains(&format!("| {victim} | 0 | `sh` (victim) |")),
        "{md}"
    );
    drop(holder);
}
