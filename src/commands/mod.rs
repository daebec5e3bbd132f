//! Commands besides serving metrics: `kills`, `top`, `doctor` and
//! `report`. Each takes plain settings ([`Kills`], [`Top`], [`Doctor`],
//! [`report::Report`]) that the command line builds; none sees a clap type.

pub mod doctor;
pub mod kill_detail;
pub mod kills;
pub mod report;
pub mod top;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::proc::fs::ProcFs;
use crate::proc::scan::{Scanner, Selection};

/// A command and its settings.
#[derive(Debug)]
pub enum Command {
    /// `oom_exporter kills`.
    Kills(Kills),
    /// `oom_exporter top`.
    Top(Top),
    /// `oom_exporter doctor`.
    Doctor(Doctor),
    /// `oom_exporter report`.
    Report(report::Report),
}

/// What `oom_exporter doctor` reads and how it prints.
#[derive(Debug, Clone)]
pub struct Doctor {
    /// One JSON object instead of lines of text.
    pub json: bool,
    /// Root of procfs.
    pub procfs: PathBuf,
    /// Root of sysfs.
    pub sysfs: PathBuf,
    /// The kernel log device (or a saved log given in its place).
    pub kmsg: PathBuf,
    /// The critical processes (`--collector.process.include`).
    pub include: Option<regex::Regex>,
}

/// What `oom_exporter kills` reads and how it prints.
#[derive(Debug, Clone)]
pub struct Kills {
    /// A saved log to read instead of the live ring buffer (`-`: stdin).
    pub input: Option<PathBuf>,
    /// One JSON object per kill instead of a table.
    pub json: bool,
    /// A block per kill with the trigger, the limit or swap, and the top
    /// processes by RSS, instead of a table.
    pub detail: bool,
    /// The kernel log device (or a saved raw log given in its place).
    pub kmsg: PathBuf,
    /// The host's /var/log (`--path.varlog`), for pod and container names.
    pub varlog: PathBuf,
    /// Root of sysfs: the cgroups whose userspace kills are listed (live
    /// only).
    pub sysfs: PathBuf,
}

/// What `oom_exporter top` prints.
#[derive(Debug, Clone)]
pub struct Top {
    /// How many processes (or cgroups).
    pub n: usize,
    /// Memory cgroups, fullest first, instead of processes.
    pub cgroups: bool,
    /// Root of procfs.
    pub procfs: PathBuf,
    /// Root of sysfs.
    pub sysfs: PathBuf,
    /// The host's /var/log (`--path.varlog`), for pod and container names.
    pub varlog: PathBuf,
    /// Which processes (include, exclude and their cap).
    pub process: Selection,
    /// Cgroups left out (with `cgroups`).
    pub cgroup_exclude: Option<regex::Regex>,
}

/// Runs `command`, printing to stdout. `doctor` exits 1 when a check
/// warns.
pub fn run(command: Command) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let (name, result) = match command {
        Command::Doctor(args) => match doctor::run(&args, &mut stdout) {
            Ok(true) => return ExitCode::SUCCESS,
            Ok(false) => return ExitCode::FAILURE,
            Err(error) => ("doctor", Err(error)),
        },
        Command::Report(args) => ("report", report::run(&args, &mut stdout)),
        Command::Kills(args) => (
            "kills",
            kills::run(&args, &args.kmsg, &mut stdout, &mut std::io::stderr()),
        ),
        Command::Top(args) if args.cgroups => (
            "top",
            top::cgroups(
                &args.sysfs,
                &crate::k8s::Resolver::new(Some(args.varlog.clone())),
                args.n,
                args.cgroup_exclude.as_ref(),
                &mut stdout,
            ),
        ),
        Command::Top(args) => {
            let procfs = ProcFs::new(&args.procfs);
            let scanner = |selection| {
                let cgroups = crate::cgroup::ns::Resolver::on_host(&args.sysfs);
                Scanner::new(procfs, selection, cgroups)
            };
            (
                "top",
                top::run(
                    scanner,
                    &args.process,
                    &crate::k8s::Resolver::new(Some(args.varlog.clone())),
                    args.n,
                    &mut stdout,
                    &mut std::io::stderr(),
                ),
            )
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("oom_exporter {name}: {error:#}");
            ExitCode::FAILURE
        }
    }
}
