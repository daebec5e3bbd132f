//! `oom_exporter report`: an incident report in Markdown of one OOM kill,
//! from the live ring buffer or a saved log (and `GET /report`, from the
//! exporter's history).
//!
//! - [`render`]: the report itself, pure: kill, incident, facts in; text out
//! - [`checklist`]: the checklist items that apply, filled in
//! - [`live`]: what is true now on a live host, read once
//! - [`memory`]: memory and swap at the time, from the kernel's report
//!
//! This file picks the kill ([`Pick`]) and runs the command; the other
//! kills of its incident are found by [`incident`].

pub mod checklist;
mod incident;
pub mod live;
pub mod memory;
pub mod render;

use std::collections::VecDeque;
use std::io::{Cursor, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::kmsg::oom::Kill;
use crate::kmsg::{device, logfile};
use crate::timefmt::{self, BootTime};

pub use incident::incident;
pub use live::LiveFacts;
pub use render::render;

/// Kills of the same cgroup this close (by log stamp) are one incident.
pub const INCIDENT_USEC: u64 = 10_000_000;

/// Kills held while reading a log (the last ones, and those after the one
/// asked for): memory stays bounded whatever the log's size.
pub const KEPT: usize = 256;

/// Which kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The last one in the log.
    Last,
    /// The one with this kernel record sequence number.
    Seq(u64),
}

/// What `oom_exporter report` reads.
#[derive(Debug, Clone)]
pub struct Report {
    /// A saved log instead of the live ring buffer (`-`: stdin).
    pub input: Option<PathBuf>,
    pub pick: Pick,
    pub kmsg: PathBuf,
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    /// The host's /var/log (`--path.varlog`), for the victim's names.
    pub varlog: PathBuf,
}

/// The kill `pick` names among `kills` (in log order).
pub fn pick(kills: &[Kill], pick: Pick) -> Option<&Kill> {
    match pick {
        Pick::Last => kills.last(),
        Pick::Seq(seq) => kills.iter().find(|k| k.seq == Some(seq)),
    }
}

/// Runs the command: the report to `out`.
pub fn run(args: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let (kills, live) = read_kills(args)?;
    let kills: Vec<Kill> = kills.into();
    let Some(kill) = pick(&kills, args.pick) else {
        anyhow::bail!("{}", not_found(args.pick));
    };
    // The names as the node has them now (a deleted pod has none).
    let mut kill = kill.clone();
    let names = crate::k8s::Resolver::new(Some(args.varlog.clone()));
    kill.names = names.names(
        &kill.owner(),
        std::time::Instant::now(),
        crate::k8s::Urgency::Kill,
    );
    let kill = &kill;
    let others = incident(kill, &kills);
    let now = live.then(|| live::gather(kill, &args.procfs, &args.sysfs));
    out.write_all(render(kill, &others, now.as_ref()).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Why there is no report.
pub fn not_found(pick: Pick) -> String {
    match pick {
        Pick::Seq(seq) => format!(
            "no OOM kill with seq {seq} (the seq of each kill is in `oom_exporter kills --json` and /kills)"
        ),
        Pick::Last => "no OOM kill found".to_owned(),
    }
}

/// The kills kept from the log, and whether it is the live ring buffer.
fn read_kills(args: &Report) -> anyhow::Result<(VecDeque<Kill>, bool)> {
    let mut keep = Keeper::new(args.pick);
    let path = args.input.as_deref();
    let live = path.is_none()
        && std::fs::metadata(&args.kmsg).is_ok_and(|m| m.file_type().is_char_device());
    match path.or_else(|| (!live).then_some(args.kmsg.as_path())) {
        Some(path) => saved(path, &mut keep)?,
        None => {
            let log = device::read_once(&args.kmsg)?;
            let boot = BootTime::read();
            let uptime = timefmt::uptime_usec();
            super::kills::scan(Cursor::new(log), |mut kill| {
                let wall = kill.boot_usec.and_then(|u| boot.wall_usec(u, uptime));
                kill.time = wall.map(timefmt::rfc3339_usec);
                keep.push(kill);
                Ok(())
            })
            .with_context(|| format!("read {}", args.kmsg.display()))?;
        }
    }
    Ok((keep.kills, live))
}

fn saved(path: &Path, keep: &mut Keeper) -> anyhow::Result<()> {
    let name = if path == Path::new("-") {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    };
    let decoded = if path == Path::new("-") {
        logfile::decode(std::io::stdin())
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("read {name}"))?;
        logfile::decode(file)
    }
    .with_context(|| format!("read {name}"))?;
    super::kills::scan(decoded, |kill| {
        keep.push(kill);
        Ok(())
    })
    .with_context(|| format!("read {name}"))?;
    Ok(())
}

/// Holds at most twice [`KEPT`] kills: the last ones, and once the kill
/// asked for is found, up to [`KEPT`] after it (its incident may follow).
struct Keeper {
    pick: Pick,
    kills: VecDeque<Kill>,
    found: bool,
    after: usize,
}

impl Keeper {
    fn new(pick: Pick) -> Self {
        Self {
            pick,
            kills: VecDeque::new(),
            found: false,
            after: 0,
        }
    }

    fn push(&mut self, kill: Kill) {
        if self.found {
            if self.after < KEPT {
                self.after += 1;
                self.kills.push_back(kill);
            }
            return;
        }
        self.found = matches!(self.pick, Pick::Seq(s) if kill.seq == Some(s));
        if self.kills.len() == KEPT {
            self.kills.pop_front();
        }
        self.kills.push_back(kill);
    }
}

#[cfg(test)]
mod forms_tests;
#[cfg(test)]
mod tests;
