//! Running the exporter as another user: `nobody` through
//! `Command::uid`, or through `setpriv` with chosen capabilities only.

use std::os::unix::process::CommandExt;
use std::process::Command;

use super::BIN;

/// The uid and gid of `nobody`.
pub const NOBODY: u32 = 65534;

/// The binary as uid and gid `nobody` (root's capabilities go with the
/// uid switch).
pub fn as_nobody() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.uid(NOBODY).gid(NOBODY);
    cmd
}

/// The binary as `nobody` with `caps` (e.g. `+syslog`) only, or none,
/// through setpriv.
pub fn unprivileged(caps: Option<&str>) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        format!("--reuid={NOBODY}"),
        format!("--regid={NOBODY}"),
        "--clear-groups".to_owned(),
    ]);
    match caps {
        Some(c) => cmd.args([
            format!("--inh-caps={c}"),
            format!("--ambient-caps={c}"),
            format!("--bounding-set=-all,{c}"),
        ]),
        None => cmd.args([
            "--inh-caps=-all".to_owned(),
            "--bounding-set=-all".to_owned(),
        ]),
    };
    cmd.arg(BIN);
    cmd
}
