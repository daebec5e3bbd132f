//! `--collector.<name>` / `--no-collector.<name>` for every collector, built
//! from [`collectors::ALL`] rather than written out one by one.

use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches};

use crate::collectors;

/// `--collector.<name>` / `--no-collector.<name>` for every collector in
/// [`collectors::ALL`], plus `--collector.disable-defaults`. The last of a
/// pair wins, as in node_exporter.
#[derive(Debug, Clone, Default)]
pub struct CollectorFlags {
    /// Names of the collectors left enabled.
    pub enabled: Vec<String>,
}

const DISABLE_DEFAULTS: &str = "collector.disable-defaults";

impl Args for CollectorFlags {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        cmd = cmd.arg(
            Arg::new(DISABLE_DEFAULTS)
                .long(DISABLE_DEFAULTS)
                .action(ArgAction::SetTrue)
                .help("Disable every collector that is not explicitly enabled")
                .help_heading("Collectors"),
        );
        for collectors::Known {
            name,
            default,
            what,
        } in collectors::ALL
        {
            let on = format!("collector.{name}");
            let off = format!("no-collector.{name}");
            let state = if *default { "enabled" } else { "disabled" };
            cmd = cmd
                .arg(
                    Arg::new(on.clone())
                        .long(on.clone())
                        .action(ArgAction::SetTrue)
                        .overrides_with(off.clone())
                        .help(format!(
                            "Enable the {name} collector: {what} [default: {state}]"
                        ))
                        .help_heading("Collectors"),
                )
                .arg(
                    Arg::new(off.clone())
                        .long(off)
                        .action(ArgAction::SetTrue)
                        .overrides_with(on)
                        .help(format!("Disable the {name} collector"))
                        .help_heading("Collectors"),
                );
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for CollectorFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(m)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        let no_defaults = m.get_flag(DISABLE_DEFAULTS);
        self.enabled = collectors::ALL
            .iter()
            .filter(|collectors::Known { name, default, .. }| {
                if m.get_flag(&format!("collector.{name}")) {
                    true
                } else if m.get_flag(&format!("no-collector.{name}")) {
                    false
                } else {
                    *default && !no_defaults
                }
            })
            .map(|k| k.name.to_owned())
            .collect();
        Ok(())
    }
}
