//! The .deb and the .rpm, built with `deploy/packaging/build.sh` as a user
//! would: the .deb is installed on this machine with dpkg, checked
//! (files where the unit expects them, `systemd-analyze verify`, the
//! installed binary, the service enabled and, where systemd runs, up),
//! linted with lintian, removed and purged; the .rpm's files, contents and
//! scriptlets are read with rpm. The offline checks keep the packaged
//! unit equal to the hand-install one and the Debian changelog on the
//! crate's version.
//!
//! - this file: the offline checks, the build, what both packages hold
//! - `deb`: install, check, lint, remove and purge the .deb
//! - `rpm`: the .rpm's files, contents, flags and scriptlets

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

mod deb;
mod rpm;

use crate::support::repo;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

pub fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The lines of a unit that are not comments.
fn directives(unit: &str) -> Vec<&str> {
    unit.lines().filter(|l| !l.starts_with('#')).collect()
}

#[test]
fn packaged_unit_is_the_hand_install_unit_with_usr_bin() {
    let hand = std::fs::read_to_string(repo().join("deploy/systemd/oom_exporter.service")).unwrap();
    let packaged =
        std::fs::read_to_string(repo().join("deploy/packaging/systemd/oom_exporter.service"))
            .unwrap();
    let expected = hand.replace("/usr/local/bin/oom_exporter", "/usr/bin/oom_exporter");
    assert_eq!(directives(&packaged), directives(&expected));
    for unit in [&hand, &packaged] {
        assert!(unit.contains("\nEnvironmentFile=-/etc/default/oom_exporter\n"));
        assert!(unit.contains("/oom_exporter $ARGS\n"));
    }
    let default =
        std::fs::read_to_string(repo().join("deploy/packaging/oom_exporter.default")).unwrap();
    assert_eq!(
        default
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        ["ARGS=\"\""]
    );
}

#[test]
fn debian_changelog_is_at_the_crate_version() {
    let changelog =
        std::fs::read_to_string(repo().join("deploy/packaging/debian/changelog")).unwrap();
    let first = changelog.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("oom-exporter ({VERSION}-1) ")),
        "deploy/packaging/debian/changelog starts with {first:?}: add an entry for {VERSION}"
    );
}

/// One package build at a time: build.sh rewrites its output directory.
static BUILD: Mutex<()> = Mutex::new(());

/// Runs `deploy/packaging/build.sh <format>` and returns the package's
/// path and the target directory. It builds in a target directory of its
/// own (the running `cargo test` holds the lock of the usual one), with
/// thin LTO off to save minutes: the package's layout is what is tested.
pub fn build(format: &str) -> (PathBuf, PathBuf) {
    let _one = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let target = repo().join("target/package-test");
    let (ok, out) = output(
        Command::new(repo().join("deploy/packaging/build.sh"))
            .arg(format)
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_PROFILE_RELEASE_LTO", "off")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    );
    assert!(ok, "deploy/packaging/build.sh {format}:\n{out}");
    let (dir, name) = match format {
        "deb" => ("debian", format!("oom-exporter_{VERSION}-1_amd64.deb")),
        _ => (
            "generate-rpm",
            format!("oom-exporter-{VERSION}-1.x86_64.rpm"),
        ),
    };
    let package = target.join(dir).join(name);
    assert!(package.is_file(), "no {}:\n{out}", package.display());
    (package, target)
}

/// What the packages hold besides directories, in both formats but for
/// the zsh directory, the sysusers name, the license and Debian's own
/// files.
pub fn common_files() -> BTreeSet<String> {
    let mut files: BTreeSet<String> = [
        "/usr/bin/oom_exporter",
        "/etc/default/oom_exporter",
        "/usr/lib/systemd/system/oom_exporter.service",
        "/usr/lib/sysusers.d/oom-exporter.conf",
        "/usr/share/bash-completion/completions/oom_exporter",
        "/usr/share/fish/vendor_completions.d/oom_exporter.fish",
        "/usr/share/doc/oom-exporter/README.md",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for page in ["", "-kills", "-top", "-doctor", "-report", "-completions"] {
        files.insert(format!("/usr/share/man/man1/oom_exporter{page}.1.gz"));
    }
    files
}
