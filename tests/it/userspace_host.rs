//! The host-wide userspace kill counter against what users can write: any
//! value an attribute can hold on cgroups delegated to them.

use crate::support::{Exporter, require_user_xattrs};
use crate::userspace_kills::{copy, oomd_increment, v2_sysfs_copy, value};
use oom_exporter::cgroup::userspace;

const HOST: &str = "oom_userspace_kills_total";

/// Installs systemd-oomd's unit under the `--path.procfs` tree `proc`.
fn install_systemd_oomd(proc: &std::path::Path) {
    let unit = proc.join("1/root/usr/lib/systemd/system/systemd-oomd.service");
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    std::fs::write(&unit, "[Unit]\n").unwrap();
}

/// An exporter on the fixture copy `dir` with systemd-oomd's unit
/// installed under its `--path.procfs` (kept alive by the returned dir).
fn exporter(dir: &std::path::Path, more: &[&str]) -> (Exporter, tempfile::TempDir) {
    let proc = tempfile::tempdir().unwrap();
    install_systemd_oomd(proc.path());
    let sysfs = format!("--path.sysfs={}", dir.display());
    let procfs = format!("--path.procfs={}", proc.path().display());
    let mut args = vec![
        "--collector.disable-defaults",
        "--collector.cgroup",
        &sysfs,
        &procfs,
    ];
    args.extend(more);
    (Exporter::start(&args), proc)
}

fn set(dir: &std::path::Path, name: &str, value: &str) {
    rustix::fs::setxattr(dir, name, value.as_bytes(), rustix::fs::XattrFlags::empty()).unwrap();
}

#[test]
fn the_largest_values_on_two_cgroups_saturate_the_host_counter() {
    let dir = v2_sysfs_copy();
    let root = dir.path().join("fs/cgroup");
    let a = root.join("system.slice/postgresql.service");
    let b = root.join("system.slice/cron.service");
    if !require_user_xattrs(&a) {
        return;
    }
    let (e, _proc) = exporter(dir.path(), &[]);
    let host = [("killer", "systemd-oomd")];
    let m = e.metrics();
    assert_eq!(value(&m, HOST, &host), Some(0.0), "{m}");
    let max = u64::MAX.to_string();
    for cg in [&a, &b] {
        set(cg, userspace::USER_OOMS, &max);
        set(cg, userspace::USER_KILL, &max);
    }
    let m = e.metrics();
    let big = u64::MAX as f64;
    assert_eq!(value(&m, HOST, &host), Some(big), "summed past u64: {m}");
    assert_eq!(
        value(
            &m,
            "oom_cgroup_userspace_kills_total",
            &[("cgroup", "/system.slice/cron.service")]
        ),
        Some(big),
        "{m}"
    );
    // A later kill elsewhere does not wrap the counter back down.
    set(&root.join("init.scope"), userspace::USER_OOMS, "1");
    let m = e.metrics();
    assert_eq!(value(&m, HOST, &host), Some(big), "{m}");
}

const KILLS: &str = "oom_cgroup_userspace_kills_total";

#[test]
fn a_cgroup_without_a_limit_or_a_notable_name_is_counted_where_a_killer_runs() {
    let dir = v2_sysfs_copy();
    let root = dir.path().join("fs/cgroup");
    // What `systemd-run --scope make` makes: a scope without a limit.
    let scope = root.join("system.slice/run-r2.scope");
    copy(&root.join("misc/unlimited"), &scope);
    if !require_user_xattrs(&scope) {
        return;
    }
    // And one left out of the series by the exclude flag.
    let hidden = root.join("system.slice/run-r3.scope");
    copy(&root.join("misc/unlimited"), &hidden);
    let proc = tempfile::tempdir().unwrap();
    let sysfs = format!("--path.sysfs={}", dir.path().display());
    let procfs = format!("--path.procfs={}", proc.path().display());
    let e = Exporter::start(&[
        "--collector.disable-defaults",
        "--collector.cgroup",
        "--collector.cgroup.exclude=.*run-r3.*",
        &sysfs,
        &procfs,
    ]);
    let sd = [
        ("cgroup", "/system.slice/run-r2.scope"),
        ("killer", "systemd-oomd"),
    ];
    let host = [("killer", "systemd-oomd")];
    oomd_increment(&scope, userspace::USER_OOMS, 1);
    oomd_increment(&scope, userspace::USER_KILL, 2);
    oomd_increment(&hidden, userspace::USER_OOMS, 1);
    // No killer found: only the reported cgroups' attributes are read.
    let m = e.metrics();
    assert_eq!(value(&m, KILLS, &sd), None, "no killer, no scan: {m}");
    assert_eq!(value(&m, HOST, &host), None, "{m}");
    install_systemd_oomd(proc.path());
    let m = e.metrics();
    assert_eq!(value(&m, KILLS, &sd), Some(1.0), "its series: {m}");
    assert_eq!(
        value(&m, "oom_cgroup_userspace_killed_processes_total", &sd),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        value(&m, KILLS, &[("cgroup", "/system.slice/run-r3.scope")]),
        None,
        "excluded: no series: {m}"
    );
    assert_eq!(value(&m, HOST, &host), Some(2.0), "both counted: {m}");
    // A cgroup without a limit and without a kill is not reported.
    assert!(!m.contains("cgroup=\"/misc/unlimited\""), "{m}");
    let m = e.metrics();
    assert_eq!(value(&m, HOST, &host), Some(2.0), "counted once: {m}");
}
