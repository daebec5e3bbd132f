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

#[test]
fn kills_listed_by_the_exporter_name_the_pod_and_container() {
    const UID: &str = "5931aa75-4603-4e65-b552-7c71cf55cfb5";
    const ID: &str = "25a38b5b8d556d7983d975577f5ac75ebbcfb4b269e6deaa0a0440c1ffc969ca";
    let dir = v2_sysfs_copy();
    let cg = dir
        .path()
        .join(format!("fs/cgroup/kubepods/burstable/pod{UID}/{ID}"));
    if !require_user_xattrs(&cg) {
        return;
    }
    // The kubelet's log directories for that pod and container.
    let logs = tempfile::tempdir().unwrap();
    let pod = format!("shop_cart-5d78c9869d-8xk2p_{UID}");
    std::fs::create_dir_all(logs.path().join("pods").join(&pod).join("api")).unwrap();
    std::fs::create_dir(logs.path().join("containers")).unwrap();
    std::os::unix::fs::symlink(
        format!("/var/log/pods/{pod}/api/0.log"),
        logs.path().join(format!(
            "containers/cart-5d78c9869d-8xk2p_shop_api-{ID}.log"
        )),
    )
    .unwrap();
    let kmsg = dir.path().join("kmsg-empty");
    std::fs::write(&kmsg, "").unwrap();
    let (e, _proc) = exporter(
        dir.path(),
        &[
            "--collector.kmsg",
            &format!("--path.kmsg={}", kmsg.display()),
            &format!("--path.varlog={}", logs.path().display()),
        ],
    );
    e.wait_log("kmsg reader up");
    e.metrics();
    oomd_increment(&cg, userspace::USER_OOMS, 1);
    oomd_increment(&cg, userspace::USER_KILL, 4);
    let m = e.metrics();
    assert_eq!(
        value(&m, HOST, &[("killer", "systemd-oomd")]),
        Some(1.0),
        "{m}"
    );
    let kills: serde_json::Value = serde_json::from_str(&e.get("/kills", &[]).body).unwrap();
    let k = &kills[0];
    assert_eq!(k["killer"], "systemd-oomd", "{kills}");
    assert_eq!(k["namespace"], "shop", "{kills}");
    assert_eq!(k["pod"], "cart-5d78c9869d-8xk2p", "{kills}");
    assert_eq!(k["container"], "api", "{kills}");
}

#[test]
fn oomd_found_without_cap_sys_admin_is_said_once() {
    let dir = v2_sysfs_copy();
    let proc = tempfile::tempdir().unwrap();
    let unit = proc
        .path()
        .join("1/root/usr/lib/systemd/system/oomd.service");
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    std::fs::write(&unit, "[Unit]\n").unwrap();
    // The exporter's own status, as an unprivileged process has it.
    std::fs::create_dir(proc.path().join("self")).unwrap();
    std::fs::write(
        proc.path().join("self/status"),
        "Name:\toom_exporter\nCapEff:\t0000000000000000\n",
    )
    .unwrap();
    let e = Exporter::start(&[
        "--collector.disable-defaults",
        "--collector.cgroup",
        &format!("--path.sysfs={}", dir.path().display()),
        &format!("--path.procfs={}", proc.path().display()),
    ]);
    e.metrics();
    e.metrics();
    let said = "trusted.* attributes need CAP_SYS_ADMIN";
    e.wait_log(said);
    assert_eq!(e.log().matches(said).count(), 1, "{}", e.log());
}
