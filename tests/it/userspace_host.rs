//! The host-wide userspace kill counter against what users can write: any
//! value an attribute can hold on cgroups delegated to them.

use crate::support::{Exporter, require_user_xattrs};
use crate::userspace_kills::{v2_sysfs_copy, value};
use oom_exporter::cgroup::userspace;

const HOST: &str = "oom_userspace_kills_total";

/// An exporter on the fixture copy `dir` with systemd-oomd's unit
/// installed under its `--path.procfs` (kept alive by the returned dir).
fn exporter(dir: &std::path::Path) -> (Exporter, tempfile::TempDir) {
    let proc = tempfile::tempdir().unwrap();
    let unit = proc
        .path()
        .join("1/root/usr/lib/systemd/system/systemd-oomd.service");
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    std::fs::write(&unit, "[Unit]\n").unwrap();
    let e = Exporter::start(&[
        "--collector.disable-defaults",
        "--collector.cgroup",
        &format!("--path.sysfs={}", dir.display()),
        &format!("--path.procfs={}", proc.path().display()),
    ]);
    (e, proc)
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
    let (e, _proc) = exporter(dir.path());
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
