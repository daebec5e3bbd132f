//! `oom_exporter completions <SHELL>` and `oom_exporter man`, run by the
//! shells and by man themselves: bash completes a flag and a subcommand
//! from the script, zsh and fish parse theirs, and man renders every page
//! without a warning.

use std::process::Command;

use crate::support::{BIN, need_tool, require_tool};

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn script(shell: &str) -> String {
    run(Command::new(BIN).args(["completions", shell]))
}

/// What bash's completion function offers for the words `line` (the last
/// one being completed).
fn bash_completes(line: &str) -> Vec<String> {
    let bash = need_tool("bash", "run the bash completion script");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oom_exporter.bash");
    std::fs::write(&file, script("bash")).unwrap();
    let words: Vec<&str> = line.split(' ').collect();
    let probe = format!(
        "source {file}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
         COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
         _oom_exporter oom_exporter '{cur}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file = file.display(),
        words = words.join(" "),
        cword = words.len() - 1,
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    run(Command::new(bash).args(["-c", &probe]))
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_flags_and_subcommands() {
    let flags = bash_completes("oom_exporter --web.list");
    assert_eq!(flags, ["--web.listen-address"]);
    let collectors = bash_completes("oom_exporter --no-collector.k");
    assert_eq!(collectors, ["--no-collector.kmsg"]);
    let subcommands = bash_completes("oom_exporter do");
    assert_eq!(subcommands, ["doctor"]);
    let shells = bash_completes("oom_exporter completions f");
    assert_eq!(shells, ["fish"]);
}

#[test]
fn completions_refuse_an_unknown_shell() {
    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}

#[test]
#[ignore = "needs zsh, fish: check that their completion scripts parse"]
fn zsh_and_fish_scripts_parse() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, name) in [("zsh", "_oom_exporter"), ("fish", "oom_exporter.fish")] {
        let Some(tool) = require_tool(shell, "check the completion script parses") else {
            return;
        };
        let file = dir.path().join(name);
        let text = script(shell);
        assert!(text.contains("web.listen-address"), "{shell}");
        std::fs::write(&file, text).unwrap();
        run(Command::new(tool).arg("-n").arg(&file));
    }
    // fish loads its script and offers the subcommands, and a
    // subcommand's flags after global flags with dots (fish's argparse
    // refuses dotted names: it completed nothing).
    let fish = |line: &str| -> Vec<String> {
        let probe = format!(
            "source {}; complete -C '{line}'",
            dir.path().join("oom_exporter.fish").display()
        );
        run(Command::new("fish").args(["-c", &probe]))
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_owned())
            .collect()
    };
    let listed = fish("oom_exporter ");
    for sub in ["kills", "top", "doctor", "report", "completions"] {
        assert!(
            listed.iter().any(|l| l == sub),
            "fish does not offer {sub}: {listed:?}"
        );
    }
    assert_eq!(fish("oom_exporter --web.li"), ["--web.listen-address"]);
    assert_eq!(
        fish("oom_exporter --path.procfs=/host/proc top --collector.process.ex"),
        ["--collector.process.exclude"]
    );
}

#[test]
#[ignore = "needs man: render the man pages with warnings on"]
fn every_man_page_renders_without_warnings() {
    let Some(man) = require_tool("man", "render the man pages") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run(Command::new(BIN).args(["man", "--out-dir"]).arg(dir.path()));
    let mut pages: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    assert_eq!(pages.len(), 6, "{pages:?}");
    for page in &pages {
        // What lintian runs on packaged pages.
        let out = Command::new(&man)
            .env("LC_ALL", "C.UTF-8")
            .env("MANROFFSEQ", "")
            .env("MANWIDTH", "80")
            .args(["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z"])
            .arg(page)
            .output()
            .unwrap();
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.trim().is_empty(),
            "{}: {warnings}",
            page.display()
        );
    }
    // The standard output page is the main page written to the directory.
    let printed = run(Command::new(BIN).arg("man"));
    assert_eq!(
        printed,
        std::fs::read_to_string(dir.path().join("oom_exporter.1")).unwrap()
    );
    let text = run(Command::new(&man)
        .env("MANWIDTH", "100")
        .arg("-l")
        .arg(dir.path().join("oom_exporter.1")));
    for what in [
        "--web.listen-address",
        "/etc/default/oom_exporter",
        "oom_exporter-top(1)",
    ] {
        assert!(text.contains(what), "man oom_exporter lacks {what}");
    }
}
