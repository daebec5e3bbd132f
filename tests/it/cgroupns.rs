//! An exporter in a private cgroup namespace (a container) reports process
//! cgroups as the host names them: live, with `unshare`, on the memory
//! hierarchy of the machine (v1, or v2 where the unified hierarchy has the
//! memory controller).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{BIN, Exporter, KillOnDrop, MemCgroup, require_root, require_tool, wait};

/// Runs `script` with `sh -c` inside cgroup `cg`, with `args` as `$@`.
fn in_cgroup(cg: &MemCgroup, script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "echo $$ > {}/cgroup.procs && {script}",
            cg.dir().display()
        ))
        .arg("sh");
    cmd
}

/// The exporter's command: in cgroup `inner` of `parent`, in its own
/// cgroup and mount namespaces, with the host's hierarchy bound under
/// `host` (its `--path.sysfs`).
fn in_private_namespaces(parent: &MemCgroup, inner: &MemCgroup, host: &Path) -> Command {
    // In its own cgroup and mount namespaces, the exporter sees the host's
    // hierarchy under --path.sysfs (a bind mount) and, as in a container,
    // its own namespace's hierarchy at /sys/fs/cgroup: on v2 a cgroup2
    // mount there, on v1 the memory hierarchy at /sys/fs/cgroup/memory on a
    // fresh tmpfs (the kernel refuses a hierarchy mounted over itself).
    let (hierarchy, host_view, own_mount) = if parent.is_v2() {
        (
            parent.dir().parent().unwrap().to_owned(),
            host.join("fs/cgroup"),
            "mount -t cgroup2 oomx /sys/fs/cgroup",
        )
    } else {
        (
            "/sys/fs/cgroup/memory".into(),
            host.join("fs/cgroup/memory"),
            "mount -t tmpfs oomx /sys/fs/cgroup && mkdir /sys/fs/cgroup/memory && \
             mount -t cgroup -o memory oomx /sys/fs/cgroup/memory",
        )
    };
    std::fs::create_dir_all(&host_view).unwrap();
    let script = format!(
        "exec unshare --mount --cgroup --propagation private sh -c '\
         mount --bind {hierarchy} {host_view} && {own_mount} && \
         exec {bin} \"$@\"' sh \"$@\"",
        hierarchy = hierarchy.display(),
        host_view = host_view.display(),
        bin = BIN,
    );
    in_cgroup(inner, &script)
}

#[test]
#[ignore = "needs root, unshare: memory cgroups, cgroup and mount namespaces"]
fn process_cgroups_are_host_paths_from_inside_a_private_cgroup_namespace() {
    if !require_root("create memory cgroups and namespaces")
        || require_tool("unshare", "run the exporter in its own cgroup namespace").is_none()
    {
        return;
    }
    let parent = MemCgroup::new("ns");
    let inner = parent.child("inner", "256M");
    let other = parent.child("other", "256M");
    // A process next to the exporter's cgroup, not below it: from inside
    // the namespace its path is `/../other`.
    let sleeper = KillOnDrop(
        in_cgroup(&other, "exec sleep 300.4242")
            .spawn()
            .expect("start sleep"),
    );
    let host = tempfile::tempdir().unwrap();
    let e = Exporter::start_with(
        in_private_namespaces(&parent, &inner, host.path()),
        &[
            "--collector.disable-defaults",
            "--collector.process",
            "--collector.process.top-n=1",
            r"--collector.process.include=^sleep 300\.4242$",
            &format!("--path.sysfs={}", host.path().display()),
        ],
    );
    let pid = sleeper.0.id();
    let want = format!("pid=\"{pid}\"");
    let line = wait::until(
        Duration::from_secs(5),
        Duration::from_millis(100),
        "sleeper not reported",
        || {
            let m = e.metrics();
            m.lines()
                .find(|l| l.starts_with("oom_process_resident_memory_bytes{") && l.contains(&want))
                .map(str::to_owned)
                .ok_or(m)
        },
    );
    assert!(
        line.contains(&format!("cgroup=\"{}\"", other.name)),
        "expected the host path {}: {line}\n{}",
        other.name,
        e.log()
    );
    e.wait_log("in a private cgroup namespace");
    drop(e);
    drop(sleeper);
    // The exporter and the sleeper are gone: the cgroups can be removed.
    std::thread::sleep(Duration::from_millis(200));
    drop(inner);
    drop(other);
}
