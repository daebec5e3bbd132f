//! `oom_exporter doctor`: the checklist on fixture trees (one verdict per
//! check, with its numbers, and the exit status), and once on this host.

use std::path::Path;
use std::process::Command;

use crate::support::{BIN, fixture, repo, require_root};

/// Every check, in the order printed.
const CHECKS: [&str; 8] = [
    "swap",
    "overcommit",
    "memory_available",
    "memory_pressure",
    "critical_processes",
    "cgroup_limits",
    "next_victim",
    "recent_kills",
];

fn doctor(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).arg("doctor").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A procfs root made of a system fixture's files (meminfo, pressure,
/// sys/vm), pressure from `pressure_from` if given, and the fake
/// processes of `proc/processes`, all as symlinks.
fn procfs(system: &str, pressure_from: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let link = |from: &Path, name: &str| {
        std::os::unix::fs::symlink(from.join(name), dir.path().join(name)).unwrap();
    };
    for name in ["meminfo", "vmstat", "sys"] {
        link(&fixture(system), name);
    }
    link(&fixture(pressure_from.unwrap_or(system)), "pressure");
    for entry in std::fs::read_dir(fixture("processes")).unwrap() {
        let name = entry.unwrap().file_name();
        link(&fixture("processes"), name.to_str().unwrap());
    }
    dir
}

/// The line of check `name`.
fn line<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no {name} line in:\n{out}"))
}

fn arg(flag: &str, path: &Path) -> String {
    format!("{flag}={}", path.display())
}

#[test]
fn fixtures_warn_with_the_evidence_and_exit_1() {
    let proc = procfs("linux-6.18-swap-in-use", None);
    let sys = repo().join("tests/fixtures/sys-cgroup-v2");
    let args = [
        arg("--path.procfs", proc.path()),
        arg("--path.sysfs", &sys),
        arg("--path.kmsg", &sys.join("kmsg")),
        "--collector.process.include=^(sshd|postgres|critical)$".to_owned(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = doctor(&args);
    assert_eq!(code, 1, "{out}{err}");
    let names: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(names, CHECKS, "{out}");
    // 1048572 kB of swap, 486792 kB free.
    assert_eq!(
        line(&out, "swap"),
        "ok    swap                548.6 MiB of 1024.0 MiB swap used (54%), 475.4 MiB free"
    );
    let overcommit = line(&out, "overcommit");
    assert!(overcommit.starts_with("ok    overcommit          vm.overcommit_memory=0 (heuristic): CommitLimit (12.8 GiB) is not enforced in this mode"), "{overcommit}");
    assert!(line(&out, "memory_available").starts_with("ok "), "{out}");
    assert!(line(&out, "memory_pressure").starts_with("warn  memory_pressure     PSI memory some avg10=13.55 avg60=4.80 full avg10=13.28 avg60=4.74"), "{out}");
    let critical = line(&out, "critical_processes");
    assert!(critical.starts_with("warn "), "{critical}");
    assert!(critical.contains("1 of 3 process(es)"), "{critical}");
    assert!(
        critical.ends_with(": 512 postgres (oom_score_adj 0)"),
        "{critical}"
    );
    let cgroups = line(&out, "cgroup_limits");
    assert!(cgroups.starts_with("warn "), "{cgroups}");
    assert!(cgroups.contains("2 above 90% of their limit"), "{cgroups}");
    assert!(cgroups.contains("/system.slice/docker-25a38b5b8d556d7983d975577f5ac75ebbcfb4b269e6deaa0a0440c1ffc969ca.scope 94.9 MiB of 96.0 MiB (99%)"), "{cgroups}");
    assert!(cgroups.contains("cri-containerd-25a38b5b8d556d7983d975577f5ac75ebbcfb4b269e6deaa0a0440c1ffc969ca.scope 280.7 MiB of 300.0 MiB (94%)"), "{cgroups}");
    assert!(cgroups.ends_with("1 service(s)/container(s) without a memory limit on their path: /user.slice/user-1000.slice/user@1000.service"), "{cgroups}");
    assert!(
        line(&out, "next_victim")
            .starts_with("ok    next_victim         1100 java (oom_score 1999, oom_score_adj 1000"),
        "{out}"
    );
    let kills = line(&out, "recent_kills");
    assert!(kills.starts_with("warn  recent_kills        "), "{kills}");
    assert!(
        kills.contains("9 OOM kill(s) in the kernel's ring buffer; last: 221 tail at 39.032s after boot (memcg, cgroup /kubepods/burstable/pod5931aa75-4603-4e65-b552-7c71cf55cfb5/"),
        "{kills}"
    );

    // The same as one JSON object.
    let mut json_args = args.clone();
    json_args.push("--json");
    let (code, out, err) = doctor(&json_args);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["warnings"], 4);
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), CHECKS.len());
    for c in checks {
        assert!(
            ["ok", "warn"].contains(&c["status"].as_str().unwrap()),
            "{c}"
        );
        assert!(c["summary"].is_string() && c["evidence"].is_object(), "{c}");
    }
    assert_eq!(
        checks[0]["evidence"]["swap_total_bytes"],
        1_048_572u64 * 1024
    );
    assert_eq!(checks[4]["evidence"]["processes"][0]["comm"], "postgres");
    assert_eq!(checks[6]["evidence"]["process"]["pid"], 1100);
    assert_eq!(checks[5]["evidence"]["near_limit"], 2);
    assert!(
        checks[7]["evidence"]["count"].as_u64().unwrap() > 1,
        "{}",
        checks[7]
    );
}

/// A minimal cgroup v2 tree under `<dir>/fs/cgroup`: one service, well
/// within its limit.
fn calm_sysfs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fs/cgroup");
    let service = root.join("system.slice/app.service");
    std::fs::create_dir_all(&service).unwrap();
    std::fs::write(root.join("cgroup.controllers"), "cpu io memory pids\n").unwrap();
    for (dir, current, max) in [
        (root.join("system.slice"), "104857600\n", "max\n"),
        (service, "104857600\n", "1073741824\n"),
    ] {
        std::fs::write(dir.join("memory.current"), current).unwrap();
        std::fs::write(dir.join("memory.max"), max).unwrap();
    }
    dir
}

#[test]
fn nothing_warns_exit_0() {
    let proc = procfs("linux-6.18-swap-in-use", Some("linux-6.18-psi-zswap"));
    let sys = calm_sysfs();
    let no_kill =
        repo().join("tests/fixtures/kmsg/20-arch-6.17-memcg-no-killable-processes-no-kill.txt");
    let (code, out, err) = doctor(&[
        &arg("--path.procfs", proc.path()),
        &arg("--path.sysfs", sys.path()),
        &arg("--path.kmsg", &no_kill),
        "--collector.process.include=^(sshd|critical)$",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok    ")).count(),
        8,
        "{out}"
    );
    assert!(
        line(&out, "critical_processes")
            .ends_with("2 process(es) match \"^(sshd|critical)$\", all with oom_score_adj < 0"),
        "{out}"
    );
    assert!(
        line(&out, "cgroup_limits").ends_with(
            "2 cgroup(s), 1 service(s)/container(s): every one limited, none above 90% of its limit"
        ),
        "{out}"
    );
    assert!(line(&out, "recent_kills").contains("no OOM kill"), "{out}");
}

/// No PSI (4.18) is a note; an unreadable kernel log is a warning with
/// the advice; neither stops the other checks.
#[test]
fn missing_psi_and_unreadable_kmsg() {
    let sys = calm_sysfs();
    let (code, out, err) = doctor(&[
        &arg("--path.procfs", &fixture("linux-4.x-no-psi")),
        &arg("--path.sysfs", sys.path()),
        "--path.kmsg=/nonexistent/kmsg",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(out.lines().count(), 8, "{out}");
    assert!(
        line(&out, "memory_pressure").starts_with("ok    memory_pressure     note: no PSI"),
        "{out}"
    );
    // 4.18 with vm.overcommit_memory=1 and no swap.
    assert!(
        line(&out, "overcommit")
            .contains("vm.overcommit_memory=1 (always): CommitLimit (3.9 GiB) is not enforced"),
        "{out}"
    );
    assert!(
        line(&out, "swap").starts_with("warn  swap                no swap configured"),
        "{out}"
    );
    let kills = line(&out, "recent_kills");
    assert!(kills.starts_with("warn "), "{kills}");
    assert!(
        kills.contains(
            "/nonexistent/kmsg: no such file; in a container, mount the host's /dev/kmsg"
        ),
        "{kills}"
    );
    assert!(err.is_empty(), "{err}");
}

/// The flags are refused as usage errors (exit 2), like every command.
#[test]
fn bad_flag_exits_2() {
    let (code, _, err) = doctor(&["--collector.process.include=(unclosed"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
#[ignore = "needs root: reads /dev/kmsg and every process of this host"]
fn live_host_prints_every_check() {
    if !require_root("read /dev/kmsg and every process") {
        return;
    }
    let (code, out, err) = doctor(&["--collector.process.include=^(sshd|systemd|init)$"]);
    assert!(code == 0 || code == 1, "exit {code}: {out}{err}");
    let names: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(names, CHECKS, "{out}");
    for l in out.lines() {
        assert!(l.starts_with("ok    ") || l.starts_with("warn  "), "{l}");
    }
    // Root reads the ring buffer and ranks a process.
    assert!(!line(&out, "recent_kills").contains("cannot read"), "{out}");
    assert!(
        line(&out, "next_victim").starts_with("ok ")
            || line(&out, "next_victim").contains("critical"),
        "{out}"
    );
    assert_eq!(
        code == 0,
        !out.contains("\nwarn ") && !out.starts_with("warn "),
        "{out}"
    );
    let (_, json, _) = doctor(&["--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["checks"].as_array().unwrap().len(), CHECKS.len());
}
