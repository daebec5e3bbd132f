//! Kills by systemd-oomd and oomd, counted from the attributes they leave
//! on a cgroup: on a v2 fixture tree whose filesystem takes user xattrs
//! (the whole path through the running exporter), and on real cgroup v2
//! directories of this machine's unified hierarchy (the reader and the
//! watch).

use std::path::Path;
use std::time::Duration;

use oom_exporter::cgroup::hierarchy::{Hierarchy, Incarnation, Observed};
use oom_exporter::cgroup::userspace::{self, Attrs, xattr};
use oom_exporter::cgroup::watch::Watcher;

use crate::support::{Exporter, require_root, require_user_xattrs, sample, wait};

/// Adds `n` to counter attribute `name` of `dir` as systemd-oomd does:
/// read it (absent: 0), add, write it back as a decimal string.
pub fn oomd_increment(dir: &Path, name: &str, n: u64) {
    let mut buf = [0u8; 64];
    let old = match rustix::fs::getxattr(dir, name, &mut buf[..]) {
        Ok(len) => std::str::from_utf8(&buf[..len])
            .unwrap()
            .parse::<u64>()
            .unwrap(),
        Err(rustix::io::Errno::NODATA) => 0,
        Err(e) => panic!("getxattr {name} on {}: {e}", dir.display()),
    };
    let new = (old + n).to_string();
    rustix::fs::setxattr(dir, name, new.as_bytes(), rustix::fs::XattrFlags::empty()).unwrap();
}

/// The value of the series of `family` whose labels include all `labels`.
pub fn value(m: &str, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    m.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

const CG: &str = "/system.slice/postgresql.service";
const KILLS: &str = "oom_cgroup_userspace_kills_total";
const KILLED: &str = "oom_cgroup_userspace_killed_processes_total";
const HOST: &str = "oom_userspace_kills_total";

#[test]
fn a_userspace_kill_is_counted_once_and_kept_after_its_cgroup_is_removed() {
    let dir = v2_sysfs_copy();
    let cg = dir.path().join("fs/cgroup").join(&CG[1..]);
    if !require_user_xattrs(&cg) {
        return;
    }
    let pristine = dir.path().join("pristine.service");
    copy(&cg, &pristine);
    // systemd-oomd's unit, seen through PID 1's root under --path.procfs.
    let proc = tempfile::tempdir().unwrap();
    let unit = proc
        .path()
        .join("1/root/usr/lib/systemd/system/systemd-oomd.service");
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    std::fs::write(&unit, "[Unit]\n").unwrap();
    let e = cgroup_and_kmsg_exporter(dir.path(), proc.path());
    let sd = [("cgroup", CG), ("killer", "systemd-oomd")];
    let host = [("killer", "systemd-oomd")];
    let m = e.metrics();
    assert_eq!(
        value(&m, HOST, &host),
        Some(0.0),
        "at 0 before the first kill: {m}"
    );
    assert_eq!(
        value(&m, HOST, &[("killer", "oomd")]),
        None,
        "oomd is not installed: {m}"
    );
    assert_eq!(sample(&m, "oom_userspace_kills_readable"), Some(1.0), "{m}");
    assert_eq!(value(&m, KILLS, &sd), None, "{m}");
    // A kill as systemd-oomd makes it: the action counted, the processes
    // killed, their count added; the empty cgroup removed at once.
    oomd_increment(&cg, userspace::USER_OOMS, 1);
    oomd_increment(&cg, userspace::USER_KILL, 3);
    // Gone at once, as rmdir on cgroupfs (deleting the fixture's files one
    // by one would show a cgroup without its files for a while); kept out
    // of the tree so that ext4 cannot give its inode number to the cgroup
    // created again below (cgroupfs never reuses one).
    std::fs::rename(&cg, dir.path().join("removed.service")).unwrap();
    // A scrape that comes before the watch's read has it at the next one.
    let m = wait::until_or_last(Duration::from_secs(3), Duration::from_millis(20), || {
        let m = e.metrics();
        if value(&m, KILLS, &sd).is_some() {
            Ok(m)
        } else {
            Err(m)
        }
    });
    assert_eq!(value(&m, KILLS, &sd), Some(1.0), "the kill is lost: {m}");
    assert_eq!(value(&m, KILLED, &sd), Some(3.0), "{m}");
    assert!(
        m.lines()
            .any(|l| l.starts_with(KILLS) && l.contains("unit=\"postgresql.service\"")),
        "the owner labels: {m}"
    );
    assert_eq!(value(&m, HOST, &host), Some(1.0), "{m}");
    // Seen again from the retained value: not counted twice.
    let m = e.metrics();
    assert_eq!(value(&m, KILLS, &sd), Some(1.0), "{m}");
    assert_eq!(value(&m, HOST, &host), Some(1.0), "{m}");
    // Created again under the same path: its attributes start at 0 and the
    // series continues (no reset); its first kill adds one.
    copy(&pristine, &cg);
    let m = e.metrics();
    assert_eq!(value(&m, KILLS, &sd), Some(1.0), "{m}");
    assert_eq!(value(&m, HOST, &host), Some(1.0), "{m}");
    oomd_increment(&cg, userspace::USER_OOMS, 1);
    oomd_increment(&cg, userspace::USER_KILL, 2);
    let m = e.metrics();
    assert_eq!(value(&m, KILLS, &sd), Some(2.0), "{m}");
    assert_eq!(value(&m, KILLED, &sd), Some(5.0), "{m}");
    assert_eq!(value(&m, HOST, &host), Some(2.0), "{m}");
    // /kills lists both, newest first, with the killer.
    let kills: serde_json::Value = serde_json::from_str(&e.get("/kills", &[]).body).unwrap();
    let listed: Vec<(&str, &str, u64, u64)> = kills
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["killer"].as_str().unwrap(),
                k["task_memcg"].as_str().unwrap(),
                k["kills"].as_u64().unwrap(),
                k["processes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("systemd-oomd", CG, 1, 2), ("systemd-oomd", CG, 1, 3)],
        "{kills}"
    );
}

#[test]
fn counters_set_before_start_are_listed_as_such_and_not_alerted_on() {
    let dir = v2_sysfs_copy();
    let cg = dir.path().join("fs/cgroup").join(&CG[1..]);
    if !require_user_xattrs(&cg) {
        return;
    }
    oomd_increment(&cg, userspace::USER_OOMS, 2);
    oomd_increment(&cg, userspace::USER_KILL, 7);
    let proc = tempfile::tempdir().unwrap();
    let e = cgroup_and_kmsg_exporter(dir.path(), proc.path());
    let m = e.metrics();
    // Served from the first scrape, so increase() sees no kill.
    assert_eq!(
        value(&m, HOST, &[("killer", "systemd-oomd")]),
        Some(2.0),
        "{m}"
    );
    let kills: serde_json::Value = serde_json::from_str(&e.get("/kills", &[]).body).unwrap();
    let k = &kills[0];
    assert_eq!(k["killer"], "systemd-oomd", "{kills}");
    assert_eq!(k["before_start"], true, "{kills}");
    assert_eq!(
        (k["kills"].as_u64(), k["processes"].as_u64()),
        (Some(2), Some(7))
    );
    // A later kill is not.
    oomd_increment(&cg, userspace::USER_OOMS, 1);
    let m = e.metrics();
    assert_eq!(
        value(&m, HOST, &[("killer", "systemd-oomd")]),
        Some(3.0),
        "{m}"
    );
    let kills: serde_json::Value = serde_json::from_str(&e.get("/kills", &[]).body).unwrap();
    assert_eq!(kills.as_array().unwrap().len(), 2, "{kills}");
    assert_eq!(kills[0]["before_start"], false, "{kills}");
    assert_eq!(kills[0]["kills"], 1, "{kills}");
}

#[test]
fn oomd_is_told_apart_and_a_bad_attribute_is_said_and_counted() {
    let dir = v2_sysfs_copy();
    let cg = dir.path().join("fs/cgroup").join(&CG[1..]);
    if !require_user_xattrs(&cg) {
        return;
    }
    let proc = tempfile::tempdir().unwrap();
    let e = Exporter::start(&[
        "--collector.disable-defaults",
        "--collector.cgroup",
        &format!("--path.sysfs={}", dir.path().display()),
        &format!("--path.procfs={}", proc.path().display()),
    ]);
    let m = e.metrics();
    assert!(!m.contains(HOST), "no killer installed, no kill: {m}");
    // oomd's user.* counters carry a kill UUID.
    oomd_increment(&cg, userspace::USER_OOMS, 1);
    oomd_increment(&cg, userspace::USER_KILL, 1);
    rustix::fs::setxattr(
        &cg,
        userspace::USER_UUID,
        b"5b1e6a62-7f00-4d4e-9a57-3c3f2a1e0b11",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let m = e.metrics();
    let oomd = [("cgroup", CG), ("killer", "oomd")];
    assert_eq!(value(&m, KILLS, &oomd), Some(1.0), "{m}");
    assert_eq!(
        value(&m, KILLS, &[("cgroup", CG), ("killer", "systemd-oomd")]),
        None,
        "{m}"
    );
    assert_eq!(
        value(&m, HOST, &[("killer", "oomd")]),
        Some(1.0),
        "present once it killed: {m}"
    );
    assert_eq!(
        sample(&m, "oom_cgroups_userspace_attributes_unreadable"),
        Some(0.0),
        "{m}"
    );
    // Garbage in an attribute: said, counted, the last value kept.
    rustix::fs::setxattr(
        &cg,
        userspace::USER_OOMS,
        b"lots",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let m = e.metrics();
    assert_eq!(
        sample(&m, "oom_cgroups_userspace_attributes_unreadable"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(value(&m, KILLS, &oomd), Some(1.0), "{m}");
    e.wait_log("cannot read a userspace OOM kill attribute");
}

/// A test directory in this machine's unified (v2) hierarchy, removed
/// when dropped.
struct UnifiedDir(std::path::PathBuf);

impl Drop for UnifiedDir {
    fn drop(&mut self) {
        for child in ["a", "b"] {
            let _ = std::fs::remove_dir(self.0.join(child));
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
#[ignore = "needs root: cgroup v2 directories"]
fn the_attributes_and_the_watch_on_real_cgroup_v2_directories() {
    if !require_root("create cgroup v2 directories") {
        return;
    }
    // The unified hierarchy: /sys/fs/cgroup on a v2 host, .../unified on a
    // hybrid one like this machine (no memory controller needed here).
    let base = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.subtree_control").exists())
        .expect("no cgroup v2 hierarchy mounted");
    let root = UnifiedDir(base.join(format!("oom_exporter_it_{}", std::process::id())));
    std::fs::create_dir(&root.0).unwrap();
    if !require_user_xattrs(&root.0) {
        return;
    }
    for child in ["a", "b"] {
        std::fs::create_dir(root.0.join(child)).unwrap();
    }
    let read = |dir: &Path| xattr::read(std::fs::File::open(dir).unwrap());
    // Read as systemd-oomd leaves them.
    assert_eq!(read(&root.0.join("a")), xattr::Read::default());
    oomd_increment(&root.0.join("a"), userspace::USER_OOMS, 1);
    oomd_increment(&root.0.join("a"), userspace::USER_KILL, 2);
    let counts = read(&root.0.join("a")).attrs.counts().unwrap();
    assert_eq!(
        (counts.killer, counts.kills, counts.processes),
        (userspace::Killer::SystemdOomd, 1, 2)
    );
    // The watch: an attribute change is read as it happens, also on a
    // cgroup removed right after.
    let h = Hierarchy::V2(root.0.clone());
    let watcher: Watcher<Attrs> =
        Watcher::start(h, |_, dir| Some(xattr::read(dir).attrs), |_, _| true).unwrap();
    let observed: Vec<Observed<Attrs>> = ["a", "b"]
        .into_iter()
        .map(|c| {
            use std::os::unix::fs::MetadataExt;
            let p = root.0.join(c);
            Observed {
                cgroup: Incarnation {
                    path: format!("/{c}"),
                    ino: std::fs::metadata(&p).unwrap().ino(),
                },
                value: xattr::read(std::fs::File::open(&p).unwrap()).attrs,
            }
        })
        .collect();
    assert!(watcher.follow(&observed).is_empty());
    oomd_increment(&root.0.join("a"), userspace::USER_OOMS, 1);
    oomd_increment(&root.0.join("b"), userspace::USER_OOMS, 1);
    oomd_increment(&root.0.join("b"), userspace::USER_KILL, 4);
    std::fs::remove_dir(root.0.join("b")).unwrap();
    let mut seen = std::collections::HashMap::new();
    let seen = wait::until_or_last(Duration::from_secs(2), Duration::from_millis(20), || {
        for (cgroup, attrs) in watcher.take() {
            seen.insert(cgroup.path, attrs);
        }
        let a = seen.get("/a").and_then(|a| a.user_ooms);
        let b = seen.get("/b").map(|b| (b.user_ooms, b.user_kill));
        let done = a == Some(2) && b == Some((Some(1), Some(4)));
        if done {
            Ok((true, seen.clone()))
        } else {
            Err((false, seen.clone()))
        }
    });
    assert!(seen.0, "the watch missed an increment: {:?}", seen.1);
}

pub fn copy(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A writable copy of the v2 fixture's sysfs tree.
pub fn v2_sysfs_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(
        &crate::support::repo().join("tests/fixtures/sys-cgroup-v2/fs"),
        dir.path(),
    );
    dir
}

#[test]
#[ignore = "needs root: reads the live ring buffer"]
fn the_kills_command_lists_cgroups_killed_from_userspace_beside_kernel_kills() {
    if !require_root("read /dev/kmsg") {
        return;
    }
    let dir = v2_sysfs_copy();
    let cg = dir.path().join("fs/cgroup").join(&CG[1..]);
    if !require_user_xattrs(&cg) {
        return;
    }
    oomd_increment(&cg, userspace::USER_OOMS, 1);
    oomd_increment(&cg, userspace::USER_KILL, 3);
    let run = |json: bool| {
        let mut cmd = std::process::Command::new(crate::support::BIN);
        cmd.args(["kills", &format!("--path.sysfs={}", dir.path().display())]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let table = run(false);
    let mut lines = table.lines();
    assert!(
        lines.next().unwrap().starts_with("TIME") && table.contains(" KILLER "),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.contains("systemd-oomd"))
        .unwrap_or_else(|| panic!("no systemd-oomd row: {table}"));
    for cell in ["(3 processes)", "postgresql.service", CG] {
        assert!(row.contains(cell), "{cell} not in {row:?}");
    }
    assert!(
        table
            .lines()
            .skip(1)
            .filter(|l| !l.contains("systemd-oomd"))
            .all(|l| l.contains(" kernel ")),
        "{table}"
    );
    let json = run(true);
    let userspace: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["killer"] != "kernel")
        .collect();
    assert_eq!(userspace.len(), 1, "{json}");
    let v = &userspace[0];
    assert_eq!(v["killer"], "systemd-oomd");
    assert_eq!(v["task_memcg"], CG);
    assert_eq!(
        (v["kills"].as_u64(), v["processes"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(v["unit"], "postgresql.service");
    assert!(json.lines().all(|l| l.contains("\"killer\":")), "{json}");
}

/// A ramfs mount (no extended attributes at all), unmounted when dropped.
struct Ramfs(tempfile::TempDir);

impl Drop for Ramfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[test]
#[ignore = "needs root: mounts a ramfs"]
fn without_user_attributes_nothing_is_counted_it_is_said_once_and_shown() {
    if !require_root("mount a ramfs, a filesystem without extended attributes") {
        return;
    }
    let ramfs = Ramfs(tempfile::tempdir().unwrap());
    let mounted = std::process::Command::new("mount")
        .args(["-t", "ramfs", "none"])
        .arg(ramfs.0.path())
        .status()
        .unwrap();
    assert!(mounted.success());
    copy(
        &crate::support::repo().join("tests/fixtures/sys-cgroup-v2/fs"),
        ramfs.0.path(),
    );
    let proc = tempfile::tempdir().unwrap();
    let e = Exporter::start(&[
        "--collector.disable-defaults",
        "--collector.cgroup",
        &format!("--path.sysfs={}", ramfs.0.path().display()),
        &format!("--path.procfs={}", proc.path().display()),
    ]);
    for _ in 0..3 {
        let m = e.metrics();
        assert_eq!(sample(&m, "oom_userspace_kills_readable"), Some(0.0), "{m}");
        assert_eq!(
            sample(&m, "oom_cgroups_userspace_attributes_unreadable"),
            Some(0.0),
            "{m}"
        );
        assert_eq!(
            sample(&m, "oom_scrape_collector_success{collector=\"cgroup\"}"),
            Some(1.0),
            "{m}"
        );
        assert!(!m.contains("oom_cgroup_userspace"), "{m}");
    }
    let said = "cgroupfs has no user.* extended attributes here";
    e.wait_log(said);
    assert_eq!(e.log().matches(said).count(), 1, "{}", e.log());
}

/// An exporter with the cgroup and kmsg collectors on the sysfs copy
/// `sysfs` and the procfs tree `procfs`, reading an empty kernel log (so
/// /kills is served and holds only what the cgroups show).
fn cgroup_and_kmsg_exporter(sysfs: &std::path::Path, procfs: &std::path::Path) -> Exporter {
    let kmsg = sysfs.join("kmsg-empty");
    std::fs::write(&kmsg, "").unwrap();
    let e = Exporter::start(&[
        "--collector.disable-defaults",
        "--collector.cgroup",
        "--collector.kmsg",
        &format!("--path.kmsg={}", kmsg.display()),
        &format!("--path.sysfs={}", sysfs.display()),
        &format!("--path.procfs={}", procfs.display()),
    ]);
    e.wait_log("kmsg reader up");
    e
}
