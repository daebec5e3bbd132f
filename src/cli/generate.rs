//! What is generated from the command line's definitions: shell
//! completions (`oom_exporter completions <SHELL>`) and man pages
//! (`oom_exporter man`). Both are made by the binary itself, so they always
//! describe the flags of the binary they ship with; the packages build them
//! with `deploy/packaging/build.sh`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use super::{Cli, Command};

/// Arguments of `oom_exporter completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for (bash, zsh, fish,
    /// elvish or powershell).
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: Shell,
}

/// Arguments of `oom_exporter man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write oom_exporter.1 and one page per subcommand
    /// (oom_exporter-top.1, ...) into DIR instead of printing
    /// oom_exporter.1 to standard output.
    #[arg(long = "out-dir", value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

impl Cli {
    /// Runs `completions` or `man` when that is the subcommand: the text
    /// goes to standard output (or the pages into `--out-dir`) and the
    /// exit code comes back; `None` for anything else.
    pub fn generated(&self) -> Option<ExitCode> {
        let result = match self.command.as_ref()? {
            Command::Completions(args) => {
                let mut script = Vec::new();
                completions(args.shell, &mut script).and_then(|()| print(&script))
            }
            Command::Man(ManArgs { out_dir: None }) => {
                let mut page = Vec::new();
                man_page(&mut page).and_then(|()| print(&page))
            }
            Command::Man(ManArgs { out_dir: Some(dir) }) => man_pages(dir)
                .map(|_| ())
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
            _ => return None,
        };
        Some(match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("oom_exporter: {error}");
                ExitCode::FAILURE
            }
        })
    }
}

/// Writes `bytes` to standard output; a closed pipe (`| head`) is not an
/// error.
fn print(bytes: &[u8]) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The command line as clap sees it, with its binary name.
fn command() -> clap::Command {
    Cli::command().bin_name("oom_exporter")
}

/// Writes the completion script of `shell` for `oom_exporter`.
pub fn completions(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "oom_exporter", &mut script);
    if shell == Shell::Fish {
        let text = String::from_utf8_lossy(&script);
        return out.write_all(fish_dotted_flags(&text).as_bytes());
    }
    out.write_all(&script)
}

/// What the fish script does before fish's `argparse` reads the words
/// typed so far: `--path.procfs` becomes `--path_procfs`.
const FISH_UNDOT: &str =
    "    # argparse takes no dot in an option's name: --path.procfs is --path_procfs here.
    for i in (seq (count $cmd))
        string match -q -- '--*' $cmd[$i]
        and set cmd[$i] (string replace -a . _ -- $cmd[$i])
    end
";

/// The fish script with the flags' dots fixed. clap_complete hands the
/// flags to fish's `argparse` to find the subcommand typed so far, and
/// argparse refuses a dot in an option's name (`Invalid option spec
/// 'web.listen-address='`): every completion's condition then fails and
/// fish completes nothing. So the names given to argparse and the words
/// typed get `_` for `.`; only argparse sees them.
fn fish_dotted_flags(script: &str) -> String {
    let mut fixed = String::with_capacity(script.len() + FISH_UNDOT.len());
    let mut in_optspecs = false;
    for line in script.split_inclusive('\n') {
        if line.starts_with("function ") {
            in_optspecs = line.trim_end().ends_with("_optspecs");
        }
        if in_optspecs && line.trim_start().starts_with("string join") {
            fixed.push_str(&line.replace('.', "_"));
        } else {
            fixed.push_str(line);
        }
        if line.trim() == "set -e cmd[1]" {
            fixed.push_str(FISH_UNDOT);
        }
    }
    fixed
}

/// The files, besides the options, that the exporter reads; the man page's
/// FILES section.
const FILES: &[(&str, &str)] = &[
    (
        "/etc/default/oom_exporter",
        "Flags of the packaged service: the systemd unit passes $ARGS to the exporter.",
    ),
    (
        "/dev/kmsg",
        "The kernel log, tailed for OOM kills (needs CAP_SYSLOG when kernel.dmesg_restrict=1).",
    ),
    (
        "/proc",
        "Memory, swap, pressure, sysctls and processes (--path.procfs).",
    ),
    ("/sys/fs/cgroup", "Memory cgroups, v1 or v2 (--path.sysfs)."),
];

/// The main page's closing sections: FILES, EXIT STATUS and SEE ALSO.
fn closing_sections() -> String {
    let mut roff = Roff::default();
    roff.control("SH", ["FILES"]);
    for (path, what) in FILES {
        roff.control("TP", []);
        roff.text([bold(*path)]);
        roff.text([roman(*what)]);
    }
    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman(
        "0 when the server stops on SIGTERM or SIGINT, or a command succeeds; \
         1 on a fatal error, or when doctor finds a warning; \
         2 for an invalid command line.",
    )]);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(concat!(
        "systemd.exec(5), systemd-sysusers(8); the documentation in \
         /usr/share/doc/oom-exporter and at ",
        env!("CARGO_PKG_HOMEPAGE"),
        "."
    ))]);
    roff.to_roff()
}

/// The page of `cmd` as clap_mangen renders it, with a `.TH` line whose
/// empty date is quoted (unquoted, man reads the source as the date and
/// loses the manual's name).
fn page(cmd: clap::Command) -> io::Result<String> {
    let man = Man::new(cmd)
        .source(concat!("oom_exporter ", env!("CARGO_PKG_VERSION")))
        .manual("User Commands");
    let mut out = Vec::new();
    man.render(&mut out)?;
    let text = String::from_utf8(out).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(text.replacen(" 1  \"", " 1 \"\" \"", 1))
}

/// The main page, `oom_exporter.1`: clap's sections, with FILES, EXIT
/// STATUS and SEE ALSO before VERSION.
pub fn man_page(out: &mut dyn Write) -> io::Result<()> {
    let mut text = page(command().disable_help_subcommand(true))?;
    let at = text.find("\n.SH VERSION").map_or(text.len(), |i| i + 1);
    text.insert_str(at, &closing_sections());
    out.write_all(text.as_bytes())
}

/// Writes `oom_exporter.1` and one page per visible subcommand
/// (`oom_exporter-top.1`, ...) into `dir`, created if missing; returns the
/// paths written.
pub fn man_pages(dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let main = dir.join("oom_exporter.1");
    let mut text = Vec::new();
    man_page(&mut text)?;
    std::fs::write(&main, text)?;
    let mut written = vec![main];
    let mut root = command().disable_help_subcommand(true);
    root.build();
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_display_name().unwrap_or_else(|| sub.get_name());
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page(sub.clone())?)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn completions_know_every_flag_and_subcommand() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let script = text(|out| completions(shell, out).unwrap());
            for word in ["web.listen-address", "no-collector.kmsg", "top", "doctor"] {
                assert!(script.contains(word), "{shell}: no {word}");
            }
        }
    }

    /// Regression: fish completed nothing, its argparse refusing the dots
    /// of the flags' names.
    #[test]
    fn fish_argparse_sees_no_dotted_flag() {
        let script = text(|out| completions(Shell::Fish, out).unwrap());
        let optspecs = script
            .split("function __fish_oom_exporter_global_optspecs")
            .nth(1)
            .and_then(|rest| rest.split("\nend\n").next())
            .unwrap();
        assert!(optspecs.contains("web_listen-address="), "{optspecs}");
        assert!(!optspecs.contains('.'), "{optspecs}");
        let needs = script
            .split("function __fish_oom_exporter_needs_command")
            .nth(1)
            .unwrap();
        let undot = needs.find("string replace -a . _").unwrap();
        assert!(undot < needs.find("argparse -s").unwrap());
        // The completions themselves keep the real names.
        assert!(script.contains(" -l web.listen-address "));
    }

    #[test]
    fn the_man_page_has_the_flags_and_the_closing_sections() {
        let page = text(|out| man_page(out).unwrap());
        assert!(
            page.contains("\n.TH oom_exporter 1 \"\" \"oom_exporter "),
            "{}",
            &page[..200]
        );
        for what in [
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            "web.listen\\-address",
            "oom_exporter\\-top(1)",
            ".SH FILES",
            "/etc/default/oom_exporter",
            ".SH \"EXIT STATUS\"",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(page.contains(what), "no {what}");
        }
        // Generators are not in the page they generate.
        assert!(!page.contains("oom_exporter\\-man"));
    }

    #[test]
    fn one_page_per_visible_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let mut names: Vec<String> = man_pages(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "oom_exporter-completions.1",
                "oom_exporter-doctor.1",
                "oom_exporter-kills.1",
                "oom_exporter-report.1",
                "oom_exporter-top.1",
                "oom_exporter.1",
            ]
        );
        let top = std::fs::read_to_string(dir.path().join("oom_exporter-top.1")).unwrap();
        assert!(top.contains("collector.process.exclude"), "{top}");
        assert!(top.contains("\n.TH oom_exporter-top 1 \"\" "), "{top}");
    }
}
