//! Golden end-to-end test, in the style of node_exporter's
//! `end-to-end-test.sh`: the real binary on a fixture tree, `/metrics`
//! compared with a checked-in file. Volatile samples (durations, build info,
//! start time)
//! are dropped before comparing.
//!
//! To rewrite the golden files on purpose after a deliberate change:
//! `UPDATE_GOLDEN=1 cargo test --test it golden`, then review the diff.

use crate::support::{Exporter, fixture, repo};

fn stable(metrics: &str, volatile: &[&str]) -> String {
    metrics
        .lines()
        .filter(|l| {
            !l.starts_with("oom_scrape_collector_duration_seconds{")
                && !l.starts_with("oom_exporter_build_info{")
                && !l.starts_with("oom_exporter_start_time_seconds ")
                && !volatile.iter().any(|v| l.starts_with(v))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn check(tree: &str, extra: &[&str]) {
    check_as(tree, tree, extra, &[]);
}

/// Like [`check`], with the golden file named `name`.
fn check_as(tree: &str, name: &str, extra: &[&str], volatile: &[&str]) {
    // The kmsg collector reads the live /dev/kmsg unless told otherwise.
    let kmsg_given = extra.iter().any(|a| a.starts_with("--path.kmsg"));
    // Names from the fixture kubelet log tree, not from this machine's.
    let varlog = format!(
        "--path.varlog={}",
        repo().join("tests/fixtures/kubelet-logs").display()
    );
    let extra: Vec<&str> = extra
        .iter()
        .copied()
        .chain(Some(varlog.as_str()))
        .chain((!kmsg_given).then_some("--no-collector.kmsg"))
        // Likewise the cgroup collector reads the live /sys.
        .chain(
            (!extra.iter().any(|a| a.starts_with("--path.sysfs")))
                .then_some("--no-collector.cgroup"),
        )
        .collect();
    let extra = extra.as_slice();
    let procfs = format!("--path.procfs={}", fixture(tree).display());
    let args: Vec<&str> = std::iter::once(procfs.as_str())
        .chain(extra.iter().copied())
        .collect();
    let exporter = Exporter::start(&args);
    if kmsg_given {
        exporter.wait_log("kmsg reader up");
    }
    let got = stable(&exporter.metrics(), volatile);
    let path = repo().join("tests/golden").join(format!("{name}.prom"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        eprintln!("rewrote {}", path.display());
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if got != want {
        let diff: Vec<String> = diff_lines(&want, &got);
        panic!(
            "/metrics on {tree} differs from {}:\n{}\nIf the change is intended: UPDATE_GOLDEN=1 cargo test --test it golden",
            path.display(),
            diff.join("\n")
        );
    }
}

/// Lines only in `want` (-) or only in `got` (+), in order.
fn diff_lines(want: &str, got: &str) -> Vec<String> {
    let w: Vec<&str> = want.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let mut out: Vec<String> = w
        .iter()
        .filter(|l| !g.contains(l))
        .map(|l| format!("- {l}"))
        .collect();
    out.extend(
        g.iter()
            .filter(|l| !w.contains(l))
            .map(|l| format!("+ {l}")),
    );
    if out.is_empty() {
        out.push("(same lines, different order)".to_owned());
    }
    out
}

#[test]
fn golden_linux_6_18_swap_in_use() {
    check("linux-6.18-swap-in-use", &[]);
}

#[test]
fn golden_linux_6_18_psi_zswap() {
    check("linux-6.18-psi-zswap", &[]);
}

#[test]
fn golden_linux_4_x_without_psi() {
    check("linux-4.x-no-psi", &[]);
}

#[test]
fn golden_hugepages_in_bytes() {
    check(
        "linux-hugepages",
        &["--collector.disable-defaults", "--collector.meminfo"],
    );
}

#[test]
fn golden_processes_top_n() {
    check(
        "processes",
        &["--collector.disable-defaults", "--collector.process"],
    );
}

#[test]
fn golden_processes_include_exclude() {
    check_as(
        "processes",
        "processes-include-exclude",
        &[
            "--collector.disable-defaults",
            "--collector.process",
            "--collector.process.top-n=5",
            "--collector.process.include=^(postgres|sshd)$",
            "--collector.process.exclude=^excluded",
        ],
        &[],
    );
}

#[test]
fn golden_kmsg_history() {
    // Raw records of four real kills (samples 05-08), all "before start".
    let dir = tempfile::tempdir().unwrap();
    let kmsg = dir.path().join("kmsg");
    let mut records = String::new();
    for n in ["05-", "06-", "07-", "08-"] {
        let file = std::fs::read_dir(repo().join("tests/fixtures/kmsg"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(n))
            .unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        records.extend(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| format!("{l}\n")),
        );
    }
    std::fs::write(&kmsg, records).unwrap();
    check_as(
        "linux-6.18-psi-zswap",
        "kmsg-history",
        &[
            "--collector.disable-defaults",
            "--collector.kmsg",
            &format!("--path.kmsg={}", kmsg.display()),
        ],
        // A file ends, so the reader goes down and reconnects: its state
        // flaps; the last kill's time comes from the wall clock here (the
        // fixture has no uptime).
        &[
            "oom_kmsg_up ",
            "oom_scrape_collector_success{",
            "oom_last_kill_timestamp_seconds ",
        ],
    );
}

#[test]
fn golden_cgroup_v2_hierarchy() {
    let sysfs = format!(
        "--path.sysfs={}",
        repo().join("tests/fixtures/sys-cgroup-v2").display()
    );
    check_as(
        "linux-6.18-psi-zswap",
        "cgroup-v2",
        &["--collector.disable-defaults", "--collector.cgroup", &sysfs],
        &[],
    );
}

/// systemd-oomd installed: the host's userspace kill counter at 0 before
/// any kill (the per-cgroup attribute series need attributes, which git
/// cannot store: userspace_kills.rs).
#[test]
fn golden_cgroup_v2_systemd_oomd() {
    let sysfs = format!(
        "--path.sysfs={}",
        repo().join("tests/fixtures/sys-cgroup-v2").display()
    );
    check_as(
        "systemd-oomd-host",
        "cgroup-v2-systemd-oomd",
        &[
            "--collector.disable-defaults",
            "--collector.cgroup",
            &sysfs,
            "--collector.cgroup.max=1",
        ],
        &[],
    );
}

#[test]
fn golden_cgroup_v2_capped() {
    let sysfs = format!(
        "--path.sysfs={}",
        repo().join("tests/fixtures/sys-cgroup-v2").display()
    );
    check_as(
        "linux-6.18-psi-zswap",
        "cgroup-v2-capped",
        &[
            "--collector.disable-defaults",
            "--collector.cgroup",
            &sysfs,
            "--collector.cgroup.max=3",
            "--collector.cgroup.exclude=^/system.slice/docker",
            "--collector.cgroup.include=^/misc/unlimited$",
        ],
        &[],
    );
}
