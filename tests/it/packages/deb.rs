//! The .deb installed on this machine: files, unit, user, lintian,
//! removal and purge, with a guard that leaves nothing behind.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use super::{VERSION, build, common_files, output, stdout};
use crate::support::require::not_checked_here;
use crate::support::{repo, require_root, require_tool};

/// Purges the package, when the test installed it, and removes the user
/// and the man-db cached page (see [`CAT_PAGE`]) it made:
/// on success or failure, nothing stays behind.
struct Installed {
    user_existed: bool,
    cat_page_existed: bool,
}

/// Where man-db caches the formatted main page when something reads it:
/// `systemd-analyze verify` does, to check the unit's `Documentation=`.
/// man-db's file, not the package's (its nightly mandb prunes it); the
/// guard removes it when the test made it.
const CAT_PAGE: &str = "/var/cache/man/cat1/oom_exporter.1.gz";

impl Installed {
    fn is_installed() -> bool {
        output(Command::new("dpkg-query").args(["-W", "-f=${Status}", "oom-exporter"]))
            .1
            .contains("installed")
    }

    fn user_exists() -> bool {
        Command::new("getent")
            .args(["passwd", "oom_exporter"])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if Self::is_installed() {
            let _ = Command::new("dpkg").args(["-P", "oom-exporter"]).output();
        }
        if !self.cat_page_existed {
            let _ = std::fs::remove_file(CAT_PAGE);
        }
        if !self.user_existed && Self::user_exists() {
            let _ = Command::new("userdel").arg("oom_exporter").output();
        }
    }
}

/// The value of `key=` in the installed unit.
fn unit_value<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("the unit has no {key}="))
}

/// Whether systemd runs this machine (PID 1), so the postinst starts the
/// service; `Err` says what PID 1 is instead.
fn systemd_is_pid1() -> Result<(), String> {
    let comm = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    if comm.trim() == "systemd" && Path::new("/run/systemd/system").is_dir() {
        Ok(())
    } else {
        Err(comm.trim().to_owned())
    }
}

#[test]
#[ignore = "needs root, cargo-deb, dpkg, lintian, systemd-analyze: builds the .deb, installs it on this machine and purges it"]
fn deb_installs_verifies_and_purges_cleanly() {
    if !require_root("install the .deb with dpkg")
        || require_tool("cargo-deb", "build the .deb").is_none()
        || require_tool("dpkg", "install the .deb").is_none()
        || require_tool("lintian", "lint the .deb").is_none()
        || require_tool("systemd-analyze", "verify the installed unit").is_none()
    {
        return;
    }
    let (deb, _) = build("deb");
    lintian_is_clean(&deb);

    assert!(
        !Installed::is_installed(),
        "oom-exporter is already installed here; remove it first"
    );
    let _guard = Installed {
        user_existed: Installed::user_exists(),
        cat_page_existed: Path::new(CAT_PAGE).exists(),
    };
    let (ok, out) = output(Command::new("dpkg").arg("-i").arg(&deb));
    assert!(ok, "dpkg -i:\n{out}");
    let listed: BTreeSet<String> = stdout(Command::new("dpkg").args(["-L", "oom-exporter"]))
        .lines()
        .filter(|p| Path::new(p).is_file())
        .map(str::to_owned)
        .collect();
    let mut expected = common_files();
    for debian in [
        "/usr/share/zsh/vendor-completions/_oom_exporter",
        "/usr/share/doc/oom-exporter/copyright",
        "/usr/share/doc/oom-exporter/changelog.Debian.gz",
    ] {
        expected.insert(debian.to_owned());
    }
    assert_eq!(listed, expected, "dpkg -L oom-exporter");
    let conffiles =
        stdout(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", "oom-exporter"]));
    assert!(
        conffiles.contains("/etc/default/oom_exporter "),
        "{conffiles}"
    );

    installed_unit_finds_what_it_needs();
    let version = stdout(Command::new("/usr/bin/oom_exporter").arg("--version"));
    assert!(
        version.starts_with(&format!("oom_exporter {VERSION} ")),
        "{version}"
    );
    // Enabled on install, as Debian does.
    let wants = Path::new("/etc/systemd/system/multi-user.target.wants/oom_exporter.service");
    assert!(wants.is_symlink(), "the service is not enabled");
    match systemd_is_pid1() {
        Ok(()) => {
            let (_, state) = output(Command::new("systemctl").args(["is-active", "oom_exporter"]));
            assert_eq!(state.trim(), "active", "the service did not start");
        }
        Err(pid1) => not_checked_here(&format!(
            "that the .deb's service starts on install: PID 1 here is {pid1:?}, not systemd, \
             so the postinst does not start it (checked that it is enabled, not that it runs)"
        )),
    }

    removed_then_purged(&listed, wants);
}

/// Every file the installed unit names is there: the binary, the
/// defaults file, the user (created by systemd-sysusers in the postinst),
/// the man page of `Documentation=`, the device it reads; and
/// `systemd-analyze verify` accepts it.
fn installed_unit_finds_what_it_needs() {
    let path = "/usr/lib/systemd/system/oom_exporter.service";
    let unit = std::fs::read_to_string(path).unwrap();
    let packaged =
        std::fs::read_to_string(repo().join("deploy/packaging/systemd/oom_exporter.service"))
            .unwrap();
    assert_eq!(unit, packaged, "{path}");
    let exec = unit_value(&unit, "ExecStart");
    assert_eq!(exec, "/usr/bin/oom_exporter $ARGS");
    let environment = unit_value(&unit, "EnvironmentFile");
    let defaults = std::fs::read_to_string(environment.trim_start_matches('-')).unwrap();
    assert!(defaults.lines().any(|l| l == "ARGS=\"\""), "{defaults}");
    let user = unit_value(&unit, "User");
    let (ok, entry) = output(Command::new("getent").args(["passwd", user]));
    assert!(ok, "user {user} not created: {entry}");
    assert!(entry.trim_end().ends_with(":/usr/sbin/nologin"), "{entry}");
    let (ok, _) = output(Command::new("getent").args(["group", unit_value(&unit, "Group")]));
    assert!(ok, "group not created");
    assert!(Path::new("/usr/share/man/man1/oom_exporter.1.gz").is_file());
    assert!(unit_value(&unit, "Documentation").starts_with("man:oom_exporter(1) "));
    assert!(Path::new("/dev/kmsg").exists());
    let (ok, text) = output(Command::new("systemd-analyze").args(["verify", path]));
    assert!(
        ok && text.trim().is_empty(),
        "systemd-analyze verify:\n{text}"
    );
}

/// lintian finds no error and no warning but the accepted ones of
/// docs/deployment.md; the package overrides no tag.
fn lintian_is_clean(deb: &Path) {
    // lintian's own verdict first: exit 0 unless a tag at error level is
    // found, and not a crash of lintian.
    let (ok, out) = output(Command::new("lintian").arg(deb));
    assert!(
        ok,
        "lintian failed (an error tag, or lintian itself):\n{out}"
    );
    let (_, out) = output(
        Command::new("lintian")
            .args(["--show-overrides", "--tag-display-limit", "0"])
            .arg(deb),
    );
    let accepted_warnings = ["initial-upload-closes-no-bugs"];
    for line in out.lines() {
        let tag = line.split_whitespace().nth(2).unwrap_or("");
        match line.get(..2) {
            Some("E:") => panic!("lintian error: {line}\n{out}"),
            Some("W:") => assert!(accepted_warnings.contains(&tag), "lintian: {line}"),
            Some("O:") => panic!("lintian: an overridden tag, none expected: {line}"),
            _ => {}
        }
    }
}

/// `dpkg -r` leaves the conffile and the enablement (Debian keeps them
/// until purge); `dpkg -P` leaves nothing of the package. The user stays
/// (Debian does not remove system users: files may still carry its id);
/// the test's guard removes it.
fn removed_then_purged(files: &BTreeSet<String>, wants: &Path) {
    let (ok, out) = output(Command::new("dpkg").args(["-r", "oom-exporter"]));
    assert!(ok, "dpkg -r:\n{out}");
    let left: Vec<&String> = files.iter().filter(|f| Path::new(f).exists()).collect();
    assert_eq!(left, ["/etc/default/oom_exporter"], "left after dpkg -r");
    let (ok, out) = output(Command::new("dpkg").args(["-P", "oom-exporter"]));
    assert!(ok, "dpkg -P:\n{out}");
    let left: Vec<&String> = files.iter().filter(|f| Path::new(f).exists()).collect();
    assert!(left.is_empty(), "left after dpkg -P: {left:?}");
    assert!(!wants.is_symlink(), "{} left after purge", wants.display());
    for dir in [
        "/etc/systemd/system",
        "/var/lib/systemd/deb-systemd-helper-enabled",
        "/var/lib/systemd/deb-systemd-helper-masked",
    ] {
        let stale: Vec<String> = walk(Path::new(dir))
            .into_iter()
            .filter(|p| p.contains("oom_exporter"))
            .collect();
        assert!(stale.is_empty(), "left after dpkg -P: {stale:?}");
    }
    assert!(!Installed::is_installed());
    assert!(Installed::user_exists(), "purge removed the user");
}

/// Every path under `dir`, recursively (symlinks not followed).
fn walk(dir: &Path) -> Vec<String> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        paths.push(path.display().to_string());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            paths.extend(walk(&path));
        }
    }
    paths
}
