//! The .rpm read with rpm: its files, their contents, modes and flags,
//! and its scriptlets.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use super::{build, common_files, output, stdout};
use crate::support::{repo, require_tool};

/// `rpm -qp --dump`: path -> (sha256, mode, is config, is doc).
fn rpm_dump(rpm: &Path) -> Vec<(String, String, String, bool, bool)> {
    stdout(Command::new("rpm").args(["-qp", "--dump"]).arg(rpm))
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].to_owned(),
                f[3].to_owned(),
                f[4].to_owned(),
                f[7] == "1",
                f[8] == "1",
            )
        })
        .collect()
}

fn sha256(path: &Path) -> String {
    let out = stdout(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().unwrap().to_owned()
}

#[test]
#[ignore = "needs cargo-generate-rpm, rpm: builds the .rpm and reads it with rpm"]
fn rpm_holds_the_files_and_fedora_scriptlets() {
    if require_tool("cargo-generate-rpm", "build the .rpm").is_none()
        || require_tool("rpm", "read the .rpm").is_none()
    {
        return;
    }
    let (rpm, target) = build("rpm");
    let listed: BTreeSet<String> = stdout(Command::new("rpm").args(["-qpl"]).arg(&rpm))
        .lines()
        .map(str::to_owned)
        .collect();
    let mut expected = common_files();
    expected.insert("/usr/share/zsh/site-functions/_oom_exporter".into());
    expected.insert("/usr/share/licenses/oom-exporter/LICENSE".into());
    assert_eq!(listed, expected, "rpm -qpl");

    // Contents, modes and flags, against the files they come from.
    let packaging = target.join("release/packaging");
    let sources = [
        ("/usr/bin/oom_exporter", target.join("release/oom_exporter")),
        (
            "/usr/lib/systemd/system/oom_exporter.service",
            repo().join("deploy/packaging/systemd/oom_exporter.service"),
        ),
        (
            "/usr/lib/sysusers.d/oom-exporter.conf",
            repo().join("deploy/systemd/oom_exporter.sysusers"),
        ),
        (
            "/etc/default/oom_exporter",
            repo().join("deploy/packaging/oom_exporter.default"),
        ),
        (
            "/usr/share/man/man1/oom_exporter.1.gz",
            packaging.join("man/oom_exporter.1.gz"),
        ),
        (
            "/usr/share/licenses/oom-exporter/LICENSE",
            repo().join("LICENSE"),
        ),
    ];
    let dump = rpm_dump(&rpm);
    for (path, source) in &sources {
        let (_, digest, _, _, _) = dump.iter().find(|d| d.0 == *path).unwrap();
        assert_eq!(
            *digest,
            sha256(source),
            "{path} is not {}",
            source.display()
        );
    }
    for (path, _, mode, config, doc) in &dump {
        let want_mode = if path == "/usr/bin/oom_exporter" {
            "0100755"
        } else {
            "0100644"
        };
        assert_eq!(mode, want_mode, "{path}");
        assert_eq!(
            *config,
            path == "/etc/default/oom_exporter",
            "{path} config"
        );
        let want_doc = path.starts_with("/usr/share/man/") || path.starts_with("/usr/share/doc/");
        assert_eq!(*doc, want_doc || path.contains("/licenses/"), "{path} doc");
    }
    let noreplace = stdout(
        Command::new("rpm")
            .args(["-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]"])
            .arg(&rpm),
    );
    assert!(
        noreplace
            .lines()
            .any(|l| l == "/etc/default/oom_exporter cn"),
        "{noreplace}"
    );

    rpm_scriptlets(&rpm);
}

/// The scriptlets are Fedora's systemd macros: sysusers and presets on
/// install, disable and stop on erase, try-restart after an upgrade; and
/// each is valid sh.
fn rpm_scriptlets(rpm: &Path) {
    let scripts = stdout(Command::new("rpm").args(["-qp", "--scripts"]).arg(rpm));
    // "postinstall scriptlet:" or "... scriptlet (using /bin/sh):" heads each.
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in scripts.lines() {
        match line.split_once(" scriptlet") {
            Some((name, rest)) if rest.ends_with(':') && !name.contains(' ') => {
                sections.push((name.to_owned(), String::new()));
            }
            // Commands only: the comments may name what the code must not do.
            _ if line.trim_start().starts_with('#') => {}
            _ => {
                let (_, body) = sections.last_mut().expect("a scriptlet header first");
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    let section = |name: &str| -> String {
        sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, body)| body.clone())
            .unwrap_or_else(|| panic!("no {name} scriptlet:\n{scripts}"))
    };
    assert_eq!(
        sections.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["postinstall", "preuninstall", "postuninstall"]
    );
    let post = section("postinstall");
    assert!(post.contains("systemd-sysusers /usr/lib/sysusers.d/oom-exporter.conf"));
    assert!(post.contains("preset oom_exporter.service"));
    assert!(!post.contains("enable"), "Fedora's presets decide: {post}");
    assert!(!post.contains(" start "), "{post}");
    let preun = section("preuninstall");
    assert!(
        preun.contains("[ \"$1\" -eq 0 ]") && preun.contains("disable --now oom_exporter.service")
    );
    let postun = section("postuninstall");
    assert!(postun.contains("try-restart oom_exporter.service"));
    assert!(!postun.contains("userdel"), "the user stays");
    for name in ["post", "preun", "postun"] {
        let file = repo().join(format!("deploy/packaging/rpm/{name}.sh"));
        let (ok, out) = output(Command::new("sh").arg("-n").arg(&file));
        assert!(ok, "{}: {out}", file.display());
    }
}
