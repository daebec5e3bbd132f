//! `oom_exporter`: parse the command line, set up logging, run.

use std::process::ExitCode;

use clap::Parser;
use oom_exporter::{app, cli, commands, logging};

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return cli::exit_for(&error),
    };
    if let Some(code) = cli.generated() {
        return code;
    }
    if cli.command.is_some() {
        return cli.into_command().map_or(ExitCode::SUCCESS, commands::run);
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
