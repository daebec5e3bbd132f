//! `oom_exporter kills`: the OOM kills in the live ring buffer or in a saved
//! log, as a table or as JSON lines.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;

use crate::cli::KillsArgs;
use crate::kmsg::oom::{Kill, kills_in_log};
use crate::kmsg::reader;
use crate::procfs::ProcFs;
use crate::timefmt;

/// Runs the command, writing to `out`.
pub fn run(
    args: &KillsArgs,
    kmsg: &Path,
    procfs: &ProcFs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut kills = match &args.input {
        Some(path) if path == Path::new("-") => {
            let mut log = String::new();
            std::io::stdin()
                .read_to_string(&mut log)
                .context("read stdin")?;
            kills_in_log(&log)
        }
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
            kills_in_log(&String::from_utf8_lossy(&bytes))
        }
        None => {
            let log = reader::read_once(kmsg).map_err(anyhow::Error::msg)?;
            let mut kills = kills_in_log(&log);
            if let Some(boot) = procfs.boot_time() {
                for k in &mut kills {
                    if let (None, Some(usec)) = (&k.time, k.boot_usec) {
                        k.time = Some(timefmt::rfc3339(boot + usec as f64 / 1e6));
                    }
                }
            }
            kills
        }
    };
    if args.json {
        for k in &kills {
            writeln!(out, "{}", serde_json::to_string(k)?)?;
        }
    } else if !kills.is_empty() {
        write_table(&mut kills, out)?;
    }
    Ok(())
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

fn write_table(kills: &mut [Kill], out: &mut dyn Write) -> std::io::Result<()> {
    let rows: Vec<[String; 8]> = kills
        .iter()
        .map(|k| {
            [
                when(k),
                k.pid.to_string(),
                k.comm.escape_debug().to_string(),
                k.uid.map_or("-".to_owned(), |u| u.to_string()),
                k.constraint.as_str().to_owned(),
                rss(k),
                k.pod_uid
                    .clone()
                    .or_else(|| k.unit.clone())
                    .unwrap_or_else(|| "-".to_owned()),
                k.task_memcg.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    let header = [
        "TIME",
        "PID",
        "COMM",
        "UID",
        "CONSTRAINT",
        "RSS",
        "POD/UNIT",
        "CGROUP",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s
    };
    writeln!(out, "{}", line(&header))?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        writeln!(out, "{}", line(&cells))?;
    }
    Ok(())
}
