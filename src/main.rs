//! `oom_exporter`: parse the command line, set up logging, run.

use std::process::ExitCode;

use clap::Parser;
use oom_exporter::cli::{self, Command};
use oom_exporter::procfs::ProcFs;
use oom_exporter::{app, commands, logging};

fn main() -> ExitCode {
    let mut cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return cli::exit_for(&error),
    };
    if let Some(Command::Kills(args)) = cli.command.take() {
        let procfs = ProcFs::new(&cli.procfs);
        let mut stdout = std::io::stdout().lock();
        return match commands::kills::run(&args, &cli.kmsg, &procfs, &mut stdout) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("oom_exporter kills: {error:#}");
                ExitCode::FAILURE
            }
        };
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
