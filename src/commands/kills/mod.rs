//! `oom_exporter kills`: the OOM kills in the live ring buffer or in a saved
//! log, as a table or as JSON lines; on a live host, also the cgroups that
//! systemd-oomd or oomd killed and that still exist, from their attributes
//! (every v2 cgroup under `--path.sysfs` is read once). A `killer` (column
//! `KILLER`, key `killer`) tells `kernel`, `systemd-oomd` and `oomd` apart.
//!
//! A saved log is streamed: time is linear in its size and memory does not
//! grow with it (JSON lines are written as kills are found; the table keeps
//! its first [`WIDTH_ROWS`] rows to size its columns, then streams).

use std::io::{BufRead, BufWriter, Cursor, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use anyhow::Context;

use crate::cgroup::userspace::history::UserspaceKill;
use crate::cgroup::userspace::present;
use crate::commands::{Kills, kill_detail};
use crate::k8s::{Names, Resolver, Urgency};
use crate::kmsg::device;
use crate::kmsg::input::{self, Line};
use crate::kmsg::logfile::{self, Lines};
use crate::kmsg::oom::{Kill, Outcome, Parser};
use crate::timefmt::{self, BootTime};

/// Table rows kept to size the columns before the table is printed; later
/// rows widen a column only from where they appear.
pub const WIDTH_ROWS: usize = 1000;

/// Runs the command: kills to `out`, notes about the input to `err`.
pub fn run(
    args: &Kills,
    kmsg: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut out = BufWriter::new(out);
    let kind = if args.json {
        Kind::Json
    } else if args.detail {
        Kind::Detail
    } else {
        Kind::Table(Table::default())
    };
    // Names as the node has them when the command runs: a pod deleted
    // since has none (the exporter's /kills keeps those of the kill).
    let mut sink = Sink {
        kind,
        names: Resolver::new(Some(args.varlog.clone())),
    };
    match &args.input {
        Some(path) => saved(path, &mut sink, &mut out, err),
        None => match std::fs::metadata(kmsg) {
            // A saved raw log given as the device: streamed like --input,
            // and its stamps, perhaps from another boot, left as they are.
            Ok(meta) if meta.is_file() => {
                writeln!(
                    err,
                    "oom_exporter kills: note: {} is not the kernel's log device, so its boot-relative stamps may be from another boot: printed as they are, without a wall-clock time",
                    kmsg.display()
                )?;
                saved(kmsg, &mut sink, &mut out, err)
            }
            _ => live(kmsg, &present::kills(&args.sysfs), &mut sink, &mut out, err),
        },
    }
}

/// A saved log (`-` for stdin), streamed.
fn saved(
    path: &Path,
    sink: &mut Sink,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let (name, decoded) = if path == Path::new("-") {
        ("stdin".to_owned(), logfile::decode(std::io::stdin()))
    } else {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).with_context(|| format!("read {name}"))?;
        (name, logfile::decode(file))
    };
    let decoded = decoded.with_context(|| format!("read {name}"))?;
    // Kills found before a read error are still printed.
    let scan = scan(decoded, |kill| sink.push(kill, out));
    sink.finish(out)?;
    out.flush()?;
    let scan = scan.with_context(|| format!("read {name}"))?;
    if scan.overlong > 0 {
        let s = if scan.overlong == 1 { "" } else { "s" };
        writeln!(
            err,
            "oom_exporter kills: note: {} line{s} longer than {} bytes skipped in {name} (no kernel log line is that long)",
            scan.overlong,
            logfile::MAX_LINE
        )?;
    }
    if scan.kernel_lines == 0 && scan.kills == 0 {
        anyhow::bail!(
            "{name}: no line looks like a kernel log line (raw /dev/kmsg, dmesg, dmesg -T, or syslog/journal tagged `kernel:`){}",
            if scan.lines == 0 && scan.overlong == 0 {
                "; it is empty"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// The ring buffer, read once through the kernel's log device: kills get
/// this boot's wall-clock time; then the `userspace` kills.
fn live(
    kmsg: &Path,
    userspace: &[UserspaceKill],
    sink: &mut Sink,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let log = device::read_once(kmsg)?;
    let device = std::fs::metadata(kmsg).is_ok_and(|m| m.file_type().is_char_device());
    let boot = BootTime::read();
    let uptime = timefmt::uptime_usec();
    let mut other_boot = 0;
    let scanned = scan(Cursor::new(log), |mut kill| {
        if device {
            let wall = kill.boot_usec.and_then(|u| boot.wall_usec(u, uptime));
            kill.time = wall.map(timefmt::rfc3339_usec);
            other_boot += u64::from(wall.is_none() && kill.boot_usec.is_some());
        }
        sink.push(kill, out)
    });
    // After the kernel's, in the same table.
    for kill in userspace {
        sink.push_userspace(kill, out)?;
    }
    sink.finish(out)?;
    out.flush()?;
    scanned.with_context(|| format!("read {}", kmsg.display()))?;
    if !device {
        writeln!(
            err,
            "oom_exporter kills: note: {} is not the kernel's log device: its boot-relative stamps are printed as they are, without a wall-clock time",
            kmsg.display()
        )?;
    } else if other_boot > 0 {
        writeln!(
            err,
            "oom_exporter kills: note: {other_boot} kill(s) stamped after this boot's uptime: printed without a wall-clock time"
        )?;
    }
    Ok(())
}

/// What one pass over a log found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Physical lines read.
    pub lines: u64,
    /// Lines in a kernel log form (see [`input::physical_line`]).
    pub kernel_lines: u64,
    /// Lines skipped as too long.
    pub overlong: u64,
    /// Kills found.
    pub kills: u64,
}

/// Streams `log` through the OOM parser, handing each kill to `found`. A
/// kill whose line has no record sequence number (every form but raw
/// /dev/kmsg records) gets its place among the log's kills as `seq` (1, 2, ...).
pub fn scan(
    log: impl BufRead,
    mut found: impl FnMut(Kill) -> std::io::Result<()>,
) -> std::io::Result<Scan> {
    let mut lines = Lines::new(log);
    let mut parser = Parser::new();
    let mut result = Scan::default();
    while let Some(physical) = lines.next_line()? {
        result.lines += 1;
        let mut pieces: Vec<Line<'_>> = Vec::new();
        if input::physical_line(&physical, &mut pieces) {
            result.kernel_lines += 1;
        }
        for line in pieces.iter().filter(|l| l.facility.is_none_or(|f| f == 0)) {
            if let Outcome::Kill(mut kill) = parser.feed(line) {
                result.kills += 1;
                // A log without record numbers (dmesg, syslog, journal):
                // the kill's place in it, so `report --seq` can pick it.
                if kill.seq.is_none() {
                    kill.seq = Some(result.kills);
                    kill.seq_ordinal = true;
                }
                found(*kill)?;
            }
        }
    }
    result.overlong = lines.overlong();
    Ok(result)
}

/// A kernel kill in `--json`: its killer, then its fields.
#[derive(serde::Serialize)]
struct KernelJson<'a> {
    killer: &'static str,
    #[serde(flatten)]
    kill: &'a Kill,
}

/// Where kills go as they are found, named first.
struct Sink {
    kind: Kind,
    names: Resolver,
}

/// How kills are printed.
enum Kind {
    Json,
    /// `--detail`: a block per kill, written as it is found.
    Detail,
    Table(Table),
}

impl Sink {
    fn push(&mut self, mut kill: Kill, out: &mut dyn Write) -> std::io::Result<()> {
        kill.names = self
            .names
            .names(&kill.owner(), std::time::Instant::now(), Urgency::Kill);
        match &mut self.kind {
            Kind::Json => {
                let json = KernelJson {
                    killer: "kernel",
                    kill: &kill,
                };
                serde_json::to_writer(&mut *out, &json)?;
                writeln!(out)
            }
            Kind::Detail => kill_detail::write(&kill, &row(&kill), out),
            Kind::Table(table) => table.push(with_killer("kernel", row(&kill)), out),
        }
    }

    fn push_userspace(&mut self, kill: &UserspaceKill, out: &mut dyn Write) -> std::io::Result<()> {
        // Kills the live exporter saw carry the names of then; those read
        // from the cgroups now are named now.
        let names = if kill.names == Names::default() {
            self.names
                .names(&kill.owner, std::time::Instant::now(), Urgency::Kill)
        } else {
            kill.names.clone()
        };
        match &mut self.kind {
            Kind::Json => {
                let named = UserspaceKill {
                    names: names.clone(),
                    ..kill.clone()
                };
                serde_json::to_writer(&mut *out, &named)?;
                writeln!(out)
            }
            Kind::Detail => {
                let [time, _, comm, _, _, _, owner, killer, cgroup] = user_row(kill, &names);
                writeln!(
                    out,
                    "{time}  {killer} killed cgroup {cgroup} {comm}  owner {owner}\n  a userspace kill: no kernel report (see the killer's journal)\n"
                )
            }
            Kind::Table(table) => table.push(user_row(kill, &names), out),
        }
    }

    fn finish(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        match &mut self.kind {
            Kind::Json | Kind::Detail => Ok(()),
            Kind::Table(table) => table.flush_pending(out),
        }
    }
}

/// KILLER comes before the last column, so the others keep their places.
const HEADER: [&str; 9] = [
    "TIME",
    "PID",
    "COMM",
    "UID",
    "CONSTRAINT",
    "RSS",
    "NAMESPACE/POD",
    "KILLER",
    "CGROUP",
];

/// A table printed as it goes: the first rows are held to size the columns.
#[derive(Default)]
struct Table {
    pending: Vec<[String; 9]>,
    widths: Option<[usize; 9]>,
}

impl Table {
    fn push(&mut self, row: [String; 9], out: &mut dyn Write) -> std::io::Result<()> {
        if let Some(widths) = &mut self.widths {
            return write_row(&row, widths, out);
        }
        self.pending.push(row);
        if self.pending.len() >= WIDTH_ROWS {
            self.flush_pending(out)?;
        }
        Ok(())
    }

    /// Sizes the columns on the rows held, prints the header and them.
    fn flush_pending(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.widths.is_some() || self.pending.is_empty() {
            return Ok(());
        }
        let mut widths = HEADER.map(str::len);
        for row in &self.pending {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        write_row(&HEADER.map(str::to_owned), &mut widths, out)?;
        for row in std::mem::take(&mut self.pending) {
            write_row(&row, &mut widths, out)?;
        }
        self.widths = Some(widths);
        Ok(())
    }
}

fn write_row(
    cells: &[String; 9],
    widths: &mut [usize; 9],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut line = String::new();
    for (i, (cell, w)) in cells.iter().zip(widths.iter_mut()).enumerate() {
        *w = (*w).max(cell.chars().count());
        if i + 1 == cells.len() {
            line.push_str(cell);
        } else {
            line.push_str(&format!("{cell:<w$}  ", w = *w));
        }
    }
    writeln!(out, "{line}")
}

fn row(k: &Kill) -> [String; 8] {
    [
        when(k),
        k.pid.to_string(),
        k.comm.escape_debug().to_string(),
        k.uid.map_or("-".to_owned(), |u| u.to_string()),
        k.constraint.as_str().to_owned(),
        rss(k),
        owner(&k.names, k.pod_uid.as_ref(), k.unit.as_ref()),
        k.task_memcg.clone().unwrap_or_else(|| "-".to_owned()),
    ]
}

/// `namespace/pod`; else the pod UID (names unknown), the systemd unit, `-`.
fn owner(names: &Names, pod_uid: Option<&String>, unit: Option<&String>) -> String {
    let pod = match (&names.namespace, &names.pod) {
        (Some(ns), Some(pod)) => Some(format!("{ns}/{pod}")),
        _ => None,
    };
    pod.or_else(|| pod_uid.cloned())
        .or_else(|| unit.cloned())
        .unwrap_or_else(|| "-".to_owned())
}

/// A kernel kill's row with the KILLER column before the cgroup.
fn with_killer(killer: &str, row: [String; 8]) -> [String; 9] {
    let [time, pid, comm, uid, constraint, rss, owner, cgroup] = row;
    let killer = killer.to_owned();
    [time, pid, comm, uid, constraint, rss, owner, killer, cgroup]
}

/// A userspace kill's row: no process, the number of processes killed in
/// the COMM column.
fn user_row(k: &UserspaceKill, names: &Names) -> [String; 9] {
    let s = |n: u64| if n == 1 { "" } else { "es" };
    let what = match k.kills {
        1 => format!("({} process{})", k.processes, s(k.processes)),
        n => format!("({n} kills, {} process{})", k.processes, s(k.processes)),
    };
    let dash = || "-".to_owned();
    [
        k.time.clone().unwrap_or_else(dash),
        dash(),
        what,
        dash(),
        dash(),
        dash(),
        owner(names, k.owner.pod_uid.as_ref(), k.owner.unit.as_ref()),
        k.killer.as_str().to_owned(),
        k.task_memcg.clone(),
    ]
}

fn when(k: &Kill) -> String {
    if let Some(t) = k.time.as_ref().or(k.log_time.as_ref()) {
        return t.clone();
    }
    match k.boot_usec {
        Some(usec) => format!("[{}.{:06}]", usec / 1_000_000, usec % 1_000_000),
        None => "-".to_owned(),
    }
}

fn rss(k: &Kill) -> String {
    let kb = [k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb];
    if kb.iter().all(Option::is_none) {
        return "-".to_owned();
    }
    let total: u64 = kb.iter().flatten().sum();
    format!("{:.1}MiB", total as f64 / 1024.0)
}

#[cfg(test)]
mod tests;
