//! The subcommands' flags, folded into the global ones and turned into the
//! plain settings of [`crate::commands`].

use std::path::PathBuf;

use super::Cli;
use super::generate::{CompletionsArgs, ManArgs};
pub use super::report_args::ReportArgs;
use super::values::parse_regex;
use crate::commands;

/// Commands besides serving metrics.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the OOM kills in the kernel's ring buffer, or in a saved log
    /// (raw /dev/kmsg, dmesg, dmesg -T, syslog, journalctl -k), one per line.
    Kills(KillsArgs),
    /// Print the processes the OOM killer would pick first, highest
    /// oom_score first, with RSS, oom_score_adj and memory cgroup.
    Top(TopArgs),
    /// Check the live host against the OOM checklist (swap, overcommit,
    /// MemAvailable, PSI, critical processes, cgroup limits, the next
    /// victim, recent kills): one line per check, ok or warn, with the
    /// evidence. Exits 0 when nothing warns, 1 otherwise.
    Doctor(DoctorArgs),
    /// Write an incident report in Markdown of one OOM kill (the last, or
    /// the one with --seq): when, what was killed and why, who held the
    /// memory, swap, the cgroup and its owner, the other kills of the
    /// incident, what is true now on a live host, and a checklist.
    Report(ReportArgs),
    /// Print the completion script of a shell (bash, zsh, fish, elvish or
    /// powershell).
    ///
    /// Install it where the shell looks: for bash
    /// `oom_exporter completions bash > /etc/bash_completion.d/oom_exporter`;
    /// for zsh as `_oom_exporter` in a directory of $fpath; for fish as
    /// ~/.config/fish/completions/oom_exporter.fish. The packages install
    /// all three.
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write every page with --out-dir.
    ///
    /// Read it with `oom_exporter man | man -l -`.
    #[command(hide = true)]
    Man(ManArgs),
}

/// Arguments of `oom_exporter doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// One JSON object with every check, for scripts.
    #[arg(long)]
    pub json: bool,

    /// The processes that must survive: those whose comm or command line
    /// matches this regular expression (unanchored) are checked for
    /// oom_score_adj >= 0.
    #[arg(long = "collector.process.include", value_name = "REGEX", value_parser = parse_regex)]
    pub include: Option<regex::Regex>,

    /// Kernel log device to read [default: /dev/kmsg, or the value given
    /// before the subcommand]; a saved log file is read in its place.
    #[arg(long = "path.kmsg", value_name = "FILE")]
    pub kmsg: Option<PathBuf>,

    #[command(flatten)]
    pub paths: SystemPaths,
}

/// Arguments of `oom_exporter top`.
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// How many processes (or cgroups) to print.
    #[arg(short = 'n', value_name = "N", default_value_t = 20)]
    pub n: usize,

    /// Print memory cgroups with a limit, fullest first (usage/limit),
    /// instead of processes.
    #[arg(long)]
    pub cgroups: bool,

    #[command(flatten)]
    pub paths: SystemPaths,

    #[command(flatten)]
    pub names: NamePaths,

    /// Also print every process whose comm or command line matches this
    /// regular expression (unanchored), whatever its rank.
    #[arg(long = "collector.process.include", value_name = "REGEX", value_parser = parse_regex)]
    pub include: Option<regex::Regex>,

    /// Never print processes whose comm or command line matches this
    /// regular expression (unanchored).
    #[arg(long = "collector.process.exclude", value_name = "REGEX", value_parser = parse_regex)]
    pub exclude: Option<regex::Regex>,

    /// Most processes printed because of --collector.process.include
    /// beyond the top N.
    #[arg(long = "collector.process.include-max", value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub include_max: Option<u32>,

    /// Never print cgroups whose path matches this regular expression
    /// (with --cgroups).
    #[arg(long = "collector.cgroup.exclude", value_name = "REGEX", value_parser = parse_regex)]
    pub cgroup_exclude: Option<regex::Regex>,
}

/// `--path.procfs` and `--path.sysfs` given after a subcommand; they
/// override the same flags given before it.
#[derive(Debug, clap::Args)]
pub struct SystemPaths {
    /// procfs mountpoint [default: /proc, or the value given before the
    /// subcommand].
    #[arg(long = "path.procfs", value_name = "DIR")]
    pub procfs: Option<PathBuf>,

    /// sysfs mountpoint [default: /sys, or the value given before the
    /// subcommand].
    #[arg(long = "path.sysfs", value_name = "DIR")]
    pub sysfs: Option<PathBuf>,
}

/// `--path.varlog` given after a subcommand that names pods.
#[derive(Debug, clap::Args)]
pub struct NamePaths {
    /// The host's /var/log, whose kubelet log directories name pods and
    /// containers [default: /var/log, or the value given before the
    /// subcommand].
    #[arg(long = "path.varlog", value_name = "DIR")]
    pub varlog: Option<PathBuf>,
}

/// Arguments of `oom_exporter kills`.
#[derive(Debug, clap::Args)]
pub struct KillsArgs {
    /// Read a saved log instead of the live ring buffer (`-` for stdin);
    /// gzip-compressed logs are read as they are.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// One JSON object per kill instead of a table.
    #[arg(long)]
    pub json: bool,

    /// A block per kill instead of a table row: what triggered the OOM
    /// (comm, pid, gfp_mask, order), the cgroup's usage against its limit
    /// or the machine's swap, and the top processes by RSS with the victim
    /// marked `*`.
    #[arg(long, conflicts_with = "json")]
    pub detail: bool,

    /// Kernel log device to read [default: /dev/kmsg, or the value given
    /// before the subcommand].
    #[arg(long = "path.kmsg", value_name = "FILE")]
    pub kmsg: Option<PathBuf>,

    #[command(flatten)]
    pub paths: SystemPaths,

    #[command(flatten)]
    pub names: NamePaths,
}

impl Cli {
    /// Takes the subcommand, if any, and folds the flags given after it
    /// into the ones given before it (after wins), so that
    /// `oom_exporter top --collector.process.exclude bash` and
    /// `oom_exporter --collector.process.exclude bash top` mean the same.
    pub fn take_command(&mut self) -> Option<Command> {
        let mut command = self.command.take()?;
        let paths = match &mut command {
            Command::Kills(args) => {
                if let Some(kmsg) = args.kmsg.take() {
                    self.kmsg = kmsg;
                }
                self.take_varlog(&mut args.names);
                &mut args.paths
            }
            Command::Top(args) => {
                if let Some(include) = args.include.take() {
                    self.include = Some(include);
                }
                if let Some(exclude) = args.exclude.take() {
                    self.exclude = Some(exclude);
                }
                if let Some(max) = args.include_max.take() {
                    self.include_max = max;
                }
                if let Some(exclude) = args.cgroup_exclude.take() {
                    self.cgroup_exclude = Some(exclude);
                }
                self.take_varlog(&mut args.names);
                &mut args.paths
            }
            Command::Report(args) => {
                if let Some(kmsg) = args.kmsg.take() {
                    self.kmsg = kmsg;
                }
                self.take_varlog(&mut args.names);
                &mut args.paths
            }
            Command::Doctor(args) => {
                if let Some(include) = args.include.take() {
                    self.include = Some(include);
                }
                if let Some(kmsg) = args.kmsg.take() {
                    self.kmsg = kmsg;
                }
                &mut args.paths
            }
            Command::Completions(_) | Command::Man(_) => return Some(command),
        };
        if let Some(procfs) = paths.procfs.take() {
            self.procfs = procfs;
        }
        if let Some(sysfs) = paths.sysfs.take() {
            self.sysfs = sysfs;
        }

        Some(command)
    }

    fn take_varlog(&mut self, names: &mut NamePaths) {
        if let Some(varlog) = names.varlog.take() {
            self.varlog = varlog;
        }
    }

    /// Takes the subcommand, if any, with its settings: the flags given
    /// before it, overridden by those given after it. `completions` and
    /// `man` are no command of the library: [`super::generate`] runs them
    /// (see [`Cli::generated`]), and here they give `None`.
    pub fn into_command(mut self) -> Option<commands::Command> {
        Some(match self.take_command()? {
            Command::Kills(args) => commands::Command::Kills(commands::Kills {
                input: args.input,
                json: args.json,
                detail: args.detail,
                kmsg: self.kmsg,
                varlog: self.varlog,
                sysfs: self.sysfs,
            }),
            Command::Top(args) => commands::Command::Top(commands::Top {
                n: args.n,
                cgroups: args.cgroups,
                process: self.process_selection(),
                procfs: self.procfs,
                sysfs: self.sysfs,
                varlog: self.varlog,
                cgroup_exclude: self.cgroup_exclude,
            }),
            Command::Report(args) => commands::Command::Report(commands::report::Report {
                input: args.input,
                pick: args
                    .seq
                    .map_or(commands::report::Pick::Last, commands::report::Pick::Seq),
                kmsg: self.kmsg,
                procfs: self.procfs,
                sysfs: self.sysfs,
                varlog: self.varlog,
            }),
            Command::Doctor(args) => commands::Command::Doctor(commands::Doctor {
                json: args.json,
                procfs: self.procfs,
                sysfs: self.sysfs,
                kmsg: self.kmsg,
                include: self.include,
            }),
            Command::Completions(_) | Command::Man(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("oom_exporter").chain(args.iter().copied()))
    }

    /// Regression: `top --collector.process.exclude bash` was refused with
    /// "unexpected argument" (issue 12).
    #[test]
    fn flags_after_the_subcommand() {
        let mut cli = parse(&[
            "--path.procfs=/before",
            "--collector.process.exclude=^before$",
            "top",
            "--collector.process.exclude",
            "bash",
            "--collector.process.include=^sshd",
            "--collector.process.include-max=7",
            "--collector.cgroup.exclude=^/system",
            "--path.sysfs=/host/sys",
        ])
        .unwrap();
        let Some(Command::Top(_)) = cli.take_command() else {
            panic!()
        };
        let selection = cli.process_selection();
        assert!(selection.exclude.unwrap().is_match("bash"));
        assert!(selection.include.unwrap().is_match("sshd"));
        assert_eq!(selection.include_max, 7);
        assert!(cli.cgroup_exclude.unwrap().is_match("/system.slice"));
        assert_eq!(cli.procfs, PathBuf::from("/before"));
        assert_eq!(cli.sysfs, PathBuf::from("/host/sys"));

        let mut cli = parse(&["kills", "--path.kmsg", "saved.txt", "--path.procfs=/p"]).unwrap();
        let Some(Command::Kills(_)) = cli.take_command() else {
            panic!()
        };
        assert_eq!(cli.kmsg, PathBuf::from("saved.txt"));
        assert_eq!(cli.procfs, PathBuf::from("/p"));
        // Before the subcommand still works.
        let mut cli = parse(&["--path.kmsg", "k", "kills"]).unwrap();
        cli.take_command();
        assert_eq!(cli.kmsg, PathBuf::from("k"));
    }

    /// Each subcommand's help lists the flags it uses and no other
    /// (`top --help` listed `--path.kmsg`).
    #[test]
    fn subcommand_help_lists_only_its_flags() {
        use clap::CommandFactory;
        let mut root = Cli::command();
        let top = root
            .find_subcommand_mut("top")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(!top.contains("--path.kmsg"), "{top}");
        assert!(top.contains("--collector.process.exclude"), "{top}");
        assert!(top.contains("--path.sysfs"), "{top}");
        let kills = root
            .find_subcommand_mut("kills")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(kills.contains("--path.kmsg"), "{kills}");
        assert!(!kills.contains("--collector.process"), "{kills}");
    }

    #[test]
    fn kills_subcommand() {
        let cli = parse(&["kills", "--input", "-", "--json"]).unwrap();
        let Some(Command::Kills(args)) = cli.command else {
            panic!()
        };
        assert!(args.json);
        assert_eq!(args.input, Some(PathBuf::from("-")));
    }

    /// A command gets plain settings: the flags before it, overridden by
    /// those after it.
    #[test]
    fn commands_get_their_settings() {
        let cli = parse(&["--path.kmsg=k", "kills", "--json", "--path.kmsg=saved"]).unwrap();
        let Some(commands::Command::Kills(kills)) = cli.into_command() else {
            panic!()
        };
        assert!(kills.json);
        assert_eq!(kills.kmsg, PathBuf::from("saved"));
        let cli = parse(&[
            "--collector.process.include=^a",
            "--path.sysfs=/s",
            "top",
            "--cgroups",
            "-n",
            "4",
            "--collector.cgroup.exclude=^/x",
        ])
        .unwrap();
        let Some(commands::Command::Top(top)) = cli.into_command() else {
            panic!()
        };
        assert!(top.cgroups);
        assert_eq!(top.n, 4);
        assert_eq!(top.sysfs, PathBuf::from("/s"));
        assert_eq!(top.procfs, PathBuf::from("/proc"));
        assert!(top.process.include.unwrap().is_match("abc"));
        assert!(top.cgroup_exclude.unwrap().is_match("/x/y"));
        assert!(parse(&[]).unwrap().into_command().is_none());
    }

    /// `doctor` takes --collector.process.include and the paths after it,
    /// like `top`, and they win over the same flags before it.
    #[test]
    fn doctor_settings() {
        let cli = parse(&[
            "--collector.process.include=^before$",
            "--path.kmsg=/dev/kmsg",
            "doctor",
            "--json",
            "--collector.process.include",
            "^(postgres|sshd)$",
            "--path.procfs=/p",
            "--path.sysfs=/s",
            "--path.kmsg=saved.log",
        ])
        .unwrap();
        let Some(commands::Command::Doctor(d)) = cli.into_command() else {
            panic!()
        };
        assert!(d.json);
        assert!(d.include.as_ref().unwrap().is_match("sshd"));
        assert!(!d.include.unwrap().is_match("before"));
        assert_eq!(
            (d.procfs, d.sysfs, d.kmsg),
            ("/p".into(), "/s".into(), "saved.log".into())
        );
        let cli = parse(&["doctor"]).unwrap();
        let Some(commands::Command::Doctor(d)) = cli.into_command() else {
            panic!()
        };
        assert!(!d.json && d.include.is_none());
        assert_eq!(d.kmsg, PathBuf::from("/dev/kmsg"));
        assert!(parse(&["doctor", "--collector.process.include=(bad"]).is_err());
        // Its help lists what it uses, and not the process flags it ignores.
        use clap::CommandFactory;
        let help = Cli::command()
            .find_subcommand_mut("doctor")
            .unwrap()
            .render_long_help()
            .to_string();
        for flag in [
            "--json",
            "--collector.process.include",
            "--path.kmsg",
            "--path.sysfs",
            "--path.procfs",
        ] {
            assert!(help.contains(flag), "{flag}: {help}");
        }
        assert!(!help.contains("--collector.process.exclude"), "{help}");
    }
}
