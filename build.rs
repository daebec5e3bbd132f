//! Records the git revision the binary was built from, for `oom_exporter_build_info`.
//!
//! It only reads the repository. `git describe --dirty` refreshes the index
//! and writes it back (a fresh clone's index always needs that), and cargo
//! watches the index for this script, so the next cargo command would
//! rebuild the crate. So the revision comes from `git describe` without
//! `--dirty`, and "dirty" from `git status`, which honours
//! `GIT_OPTIONAL_LOCKS=0` and leaves the index alone.
use std::path::Path;
use std::process::Command;

/// Trimmed standard output of a read-only git command; `None` when git is
/// missing, fails or prints nothing.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()
        .filter(|out| out.status.success())?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// `<revision>` or `<revision>-dirty`, as `git describe --always --dirty`
/// prints it: dirty when a tracked file differs from HEAD.
fn revision() -> Option<String> {
    let described = git(&["describe", "--always", "--abbrev=12"])?;
    let changed = git(&["status", "--porcelain", "--untracked-files=no"]);
    Some(match changed {
        Some(_) => format!("{described}-dirty"),
        None => described,
    })
}

/// The files whose change means another revision: HEAD, the index, and the
/// current branch's ref, wherever git keeps them (in a worktree `.git` is a
/// file). Only existing paths are named: cargo reruns the script on every
/// build for a watched path that does not exist.
fn watched() -> Vec<String> {
    let path = |name: &str| git(&["rev-parse", "--git-path", name]);
    let mut paths: Vec<String> = ["HEAD", "index", "packed-refs"]
        .into_iter()
        .filter_map(path)
        .collect();
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]).and_then(|b| path(&b)) {
        // A packed ref gets a loose file when the branch moves: then watch
        // the directory it will appear in.
        match Path::new(&branch).parent() {
            Some(dir) if !Path::new(&branch).exists() => paths.push(dir.display().to_string()),
            _ => paths.push(branch),
        }
    }
    paths.retain(|p| Path::new(p).exists());
    paths
}

fn main() {
    println!("cargo:rerun-if-env-changed=OOM_EXPORTER_REVISION");
    // A container build has no .git: it passes the revision in instead.
    if let Ok(revision) = std::env::var("OOM_EXPORTER_REVISION") {
        println!("cargo:rustc-env=OOM_EXPORTER_REVISION={revision}");
        return;
    }
    let revision = revision().unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=OOM_EXPORTER_REVISION={revision}");
    for path in watched() {
        println!("cargo:rerun-if-changed={path}");
    }
}
