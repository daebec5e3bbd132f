//! Commands besides serving metrics: `kills` and `top`.

pub mod kills;
pub mod top;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::proc::fs::ProcFs;
use crate::proc::scan::Scanner;

/// Runs `command` with the global flags of `cli`, printing to stdout.
pub fn run(command: Command, cli: &Cli) -> ExitCode {
    let procfs = ProcFs::new(&cli.procfs);
    let mut stdout = std::io::stdout().lock();
    let (name, result) = match command {
        Command::Kills(args) => (
            "kills",
            kills::run(&args, &cli.kmsg, &mut stdout, &mut std::io::stderr()),
        ),
        Command::Top(args) if args.cgroups => {
            let exclude = cli.cgroup_exclude.as_ref();
            (
                "top",
                top::cgroups(&cli.sysfs, args.n, exclude, &mut stdout),
            )
        }
        Command::Top(args) => {
            let scanner = |selection| {
                let cgroups = crate::cgroup::ns::Resolver::on_host(&cli.sysfs);
                Scanner::new(procfs.clone(), selection, cgroups)
            };
            (
                "top",
                top::run(scanner, &cli.process_selection(), args.n, &mut stdout),
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
