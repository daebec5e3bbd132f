//! Root and external tools. A test that needs either is marked
//! `#[ignore = "needs ..."]`, so a plain `cargo test` lists it as ignored
//! with the reason; `tests/run` adds `--include-ignored` when this machine
//! has what they need, and always under `CI=true`. Run that way without the
//! requirement, the test says why it skips, or fails under CI.

use std::path::PathBuf;

/// True when running under CI (`CI=true`), where skipping is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `tool` on PATH, if it is there.
fn find_tool(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    })
}

/// Finds `tool` on PATH for a test that every machine that builds this
/// repository can run (not ignored): a missing tool fails the test, since
/// a skip would not show.
pub fn need_tool(tool: &str, why: &str) -> PathBuf {
    find_tool(tool)
        .unwrap_or_else(|| panic!("`{tool}` not found on PATH, needed to {why}; install it"))
}

/// Finds `tool` on PATH for an ignored test run anyway. When it is
/// missing, the test says why it skips, or fails under CI.
pub fn require_tool(tool: &str, why: &str) -> Option<PathBuf> {
    let found = find_tool(tool);
    if found.is_none() {
        let msg = format!(
            "SKIP: `{tool}` not found, needed to {why}; run ./tests/run, which installs it"
        );
        assert!(!in_ci(), "{msg} (CI=true: failing instead of skipping)");
        eprintln!("{msg}");
    }
    found
}

/// True when the tests run as root; otherwise (an ignored test run anyway)
/// says why the test skips, or fails under CI.
pub fn require_root(why: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if !root {
        let msg = format!("SKIP: needs root to {why}");
        assert!(!in_ci(), "{msg} (CI=true: failing instead of skipping)");
        eprintln!("{msg}");
    }
    root
}

/// True when `python3` on PATH imports the Python package `module` (e.g.
/// `grafana_foundation_sdk`, which tests/run installs into its venv);
/// otherwise (an ignored test run anyway) says why the test skips, or
/// fails under CI.
pub fn require_python_module(module: &str, why: &str) -> bool {
    let found = find_tool("python3").is_some_and(|python| {
        std::process::Command::new(python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|out| out.status.success())
    });
    if !found {
        let msg = format!(
            "SKIP: python3 cannot import {module}, needed to {why}; run ./tests/run, which installs it"
        );
        assert!(!in_ci(), "{msg} (CI=true: failing instead of skipping)");
        eprintln!("{msg}");
    }
    found
}

/// True when the filesystem of `dir` takes `user.*` extended attributes
/// (ext4, xfs, btrfs; tmpfs from Linux 6.6; cgroup v2 from 5.7);
/// otherwise says why the test skips, or fails under CI.
pub fn require_user_xattrs(dir: &std::path::Path) -> bool {
    let probe = rustix::fs::setxattr(dir, "user.probe", b"1", rustix::fs::XattrFlags::empty())
        .and_then(|()| rustix::fs::removexattr(dir, "user.probe"));
    if let Err(e) = probe {
        let msg = format!(
            "SKIP: {} takes no user.* extended attributes ({e}); set TMPDIR to a directory on ext4, xfs or tmpfs (Linux 6.6+)",
            dir.display()
        );
        assert!(!in_ci(), "{msg} (CI=true: failing instead of skipping)");
        eprintln!("{msg}");
        return false;
    }
    true
}

/// Says that part of a test could not be checked on this machine for a
/// reason no install can mend (e.g. PID 1 is not systemd), so the summary a
/// person reads shows it: on stderr, and as a line of the file
/// `OOM_EXPORTER_TEST_NOTES` names (`tests/run` prints that file at the
/// end). Not a failure under CI: CI runs on the same kind of machine.
pub fn not_checked_here(what: &str) {
    let line = format!("NOT CHECKED here: {what}");
    eprintln!("{line}");
    if let Some(path) = std::env::var_os("OOM_EXPORTER_TEST_NOTES") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
