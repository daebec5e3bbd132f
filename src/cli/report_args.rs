//! The flags of `oom_exporter report`.

use std::path::PathBuf;

use super::commands::{NamePaths, SystemPaths};

/// Arguments of `oom_exporter report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Read a saved log instead of the live ring buffer (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Report the kill with this kernel log sequence number (`seq` in
    /// `kills --json` and /kills); in a saved log without record numbers,
    /// the Nth kill.
    #[arg(long, value_name = "N", conflicts_with = "last")]
    pub seq: Option<u64>,

    /// Report the last kill (the default).
    #[arg(long)]
    pub last: bool,

    /// Kernel log device to read [default: /dev/kmsg, or the value given
    /// before the subcommand]; a saved log file is read in its place.
    #[arg(long = "path.kmsg", value_name = "FILE")]
    pub kmsg: Option<PathBuf>,

    #[command(flatten)]
    pub paths: SystemPaths,

    #[command(flatten)]
    pub names: NamePaths,
}
