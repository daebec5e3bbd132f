//! `oom_exporter`: parse the command line, set up logging, run.

use std::process::ExitCode;

use clap::Parser;
use oom_exporter::cli::{self, Command};
use oom_exporter::procfs::ProcFs;
use oom_exporter::procscan::Scanner;
use oom_exporter::{app, commands, logging};

fn main() -> ExitCode {
    let mut cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return cli::exit_for(&error),
    };
    if let Some(command) = cli.command.take() {
        return run_command(command, cli);
    }
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("oom_exporter: {error}");
            return ExitCode::from(2);
        }
    };
    logging::init(config.log);
    match app::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "exiting");
            ExitCode::FAILURE
        }
    }
}

/// `kills` and `top`: print and exit.
fn run_command(command: Command, cli: cli::Cli) -> ExitCode {
    let procfs = ProcFs::new(&cli.procfs);
    let mut stdout = std::io::stdout().lock();
    let (name, result) = match command {
        Command::Kills(args) => (
            "kills",
            commands::kills::run(&args, &cli.kmsg, &procfs, &mut stdout),
        ),
        Command::Top(args) => {
            let base = cli.process_selection();
            let scanner = |sel| Scanner::new(procfs.clone(), sel);
            (
                "top",
                commands::top::run(scanner, &base, args.n, &mut stdout),
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
