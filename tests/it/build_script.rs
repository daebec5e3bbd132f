//! `build.rs` records the git revision without writing to the repository:
//! a build that rewrote `.git/index` (as `git describe --dirty` does in a
//! fresh clone) or watched a file that does not exist (`.git/HEAD` in a
//! worktree, where `.git` is a file) would make the next cargo command
//! rebuild the crate for nothing.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::support::{need_tool, repo};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=oom", "-c", "user.email=oom@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The build script, compiled on its own.
fn compile_build_script(out: &Path) -> PathBuf {
    let exe = out.join("build-script");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let status = Command::new(rustc)
        .args(["--edition", "2024", "-o"])
        .arg(&exe)
        .arg(repo().join("build.rs"))
        .status()
        .unwrap();
    assert!(status.success(), "compiling build.rs failed");
    exe
}

/// What the build script prints when run in `dir`, as cargo runs it.
fn run_build_script(exe: &Path, dir: &Path) -> String {
    let out = Command::new(exe)
        .current_dir(dir)
        .env_remove("OOM_EXPORTER_REVISION")
        .output()
        .unwrap();
    assert!(out.status.success(), "build script failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The index's modification time and a hash of its bytes.
fn index_state(git_dir: &Path) -> (SystemTime, u64) {
    let index = git_dir.join("index");
    let modified = std::fs::metadata(&index).unwrap().modified().unwrap();
    let mut hasher = DefaultHasher::new();
    std::fs::read(&index).unwrap().hash(&mut hasher);
    (modified, hasher.finish())
}

fn revision(output: &str) -> &str {
    output
        .lines()
        .find_map(|l| l.strip_prefix("cargo:rustc-env=OOM_EXPORTER_REVISION="))
        .unwrap_or_else(|| panic!("no revision in {output:?}"))
}

/// Every file cargo is told to watch exists: a missing one makes cargo
/// rerun the script, and rebuild the crate, on every command.
fn assert_watched_files_exist(output: &str, dir: &Path) {
    let watched: Vec<&str> = output
        .lines()
        .filter_map(|l| l.strip_prefix("cargo:rerun-if-changed="))
        .collect();
    assert!(
        watched.iter().any(|p| p.ends_with("HEAD")),
        "HEAD not watched: {output}"
    );
    for path in watched {
        assert!(dir.join(path).exists(), "watched {path} does not exist");
    }
}

#[test]
fn the_build_script_leaves_a_fresh_clone_and_a_worktree_untouched() {
    need_tool("git", "check that the build leaves the repository alone");
    let tmp = tempfile::tempdir().unwrap();
    let exe = compile_build_script(tmp.path());
    let origin = tmp.path().join("origin");
    std::fs::create_dir(&origin).unwrap();
    for i in 0..50 {
        std::fs::write(origin.join(format!("f{i}.txt")), format!("{i}\n")).unwrap();
    }
    git(&origin, &["init", "-q"]);
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "-q", "-m", "files"]);

    let clone = tmp.path().join("clone");
    git(tmp.path(), &["clone", "-q", "origin", "clone"]);
    let before = index_state(&clone.join(".git"));
    let out = run_build_script(&exe, &clone);
    assert_eq!(
        index_state(&clone.join(".git")),
        before,
        "the build script rewrote .git/index of a fresh clone"
    );
    let head = git(&clone, &["rev-parse", "--short=12", "HEAD"]);
    assert_eq!(revision(&out), head.trim());
    assert_watched_files_exist(&out, &clone);

    std::fs::write(clone.join("f0.txt"), "changed\n").unwrap();
    let out = run_build_script(&exe, &clone);
    assert_eq!(revision(&out), format!("{}-dirty", head.trim()));
    assert_eq!(index_state(&clone.join(".git")), before);

    let worktree = tmp.path().join("worktree");
    git(&clone, &["worktree", "add", "-q", "../worktree"]);
    let git_dir = PathBuf::from(git(&worktree, &["rev-parse", "--absolute-git-dir"]).trim());
    let before = index_state(&git_dir);
    let out = run_build_script(&exe, &worktree);
    assert_eq!(revision(&out), head.trim());
    assert_eq!(index_state(&git_dir), before);
    assert_watched_files_exist(&out, &worktree);
}
