//! The cgroup walk's depth limit: cgroups below it are not walked, and the
//! exporter says so (once in the log, and in a gauge) instead of silently.

use crate::support::{Exporter, sample};

#[test]
fn cgroups_below_the_depth_limit_are_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fs/cgroup");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
    // 40 levels of limited cgroups: /d/d/.../d
    let mut path = root.clone();
    for _ in 0..40 {
        path.push("d");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("memory.max"), "1073741824\n").unwrap();
        std::fs::write(path.join("memory.current"), "4096\n").unwrap();
    }
    let e = Exporter::start(&[
        "--collector.disable-defaults",
        "--collector.cgroup",
        "--collector.cgroup.max=100",
        &format!("--path.sysfs={}", dir.path().display()),
    ]);
    for _ in 0..3 {
        let m = e.metrics();
        // Depths 1 to 33 are walked (the root's children are depth 0).
        assert_eq!(sample(&m, "oom_cgroups_scanned"), Some(33.0), "{m}");
        assert_eq!(sample(&m, "oom_cgroups_depth_limited"), Some(1.0), "{m}");
    }
    let log = e.wait_log("depth");
    assert_eq!(
        log.matches("not walked below").count(),
        1,
        "said once:\n{log}"
    );
}
