//! `oom_exporter top`: the processes the OOM killer would pick first, as
//! people otherwise find out with `cat /proc/*/oom_score | sort -n`.

use std::io::Write;

use crate::cgroup::{
    self,
    hierarchy::{self, Hierarchy},
    sample::Sample,
};
use crate::k8s::{Resolver, Urgency};
use crate::proc::scan::{Scanner, Selection};

/// Prints the top `n` processes by oom_score under `scanner`'s procfs,
/// with their pods' names from `names`.
pub fn run(
    scanner_for: impl FnOnce(Selection) -> Scanner,
    base: &Selection,
    names: &Resolver,
    n: usize,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let selection = Selection {
        top_n: n,
        include_max: 0,
        ..base.clone()
    };
    let scan = scanner_for(selection).scan()?;
    let now = std::time::Instant::now();
    let rows: Vec<[String; 7]> = scan
        .procs
        .iter()
        .map(|p| {
            [
                p.pid.to_string(),
                p.comm.escape_debug().to_string(),
                format!("{:.1}MiB", p.memory.resident as f64 / 1_048_576.0),
                p.oom_score.to_string(),
                p.oom_score_adj.to_string(),
                names
                    .names(&p.owner, now, Urgency::Scrape)
                    .path()
                    .unwrap_or_else(|| "-".to_owned()),
                p.cgroup.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    let header = [
        "PID",
        "COMM",
        "RSS",
        "OOM_SCORE",
        "OOM_SCORE_ADJ",
        "NAMESPACE/POD/CONTAINER",
        "CGROUP",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut print = |cells: [&str; 7]| -> std::io::Result<()> {
        let [pid, comm, rss, score, adj, pod, cgroup] = cells;
        writeln!(
            out,
            "{pid:>w0$}  {comm:<w1$}  {rss:>w2$}  {score:>w3$}  {adj:>w4$}  {pod:<w5$}  {cgroup}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
            w5 = widths[5],
        )
    };
    print(header)?;
    for row in &rows {
        print(row.each_ref().map(String::as_str))?;
    }
    notes(&scan, err)?;
    Ok(())
}

/// Says on `err` which processes the ranking could not include, so a
/// short table is not taken for the whole story.
fn notes(scan: &crate::proc::scan::Scan, err: &mut dyn Write) -> std::io::Result<()> {
    if scan.errors > 0 {
        writeln!(
            err,
            "oom_exporter top: note: {} process(es) left out: a file of theirs could not be read or parsed ({})",
            scan.errors,
            scan.problems.join("; ")
        )?;
    }
    if scan.denied > 0 {
        writeln!(
            err,
            "oom_exporter top: note: {} process(es) left out: permission denied; run as root to rank every process",
            scan.denied
        )?;
    }
    if let Some(option) = &scan.hidden {
        writeln!(
            err,
            "oom_exporter top: note: proc is mounted with {option}: other users' processes are invisible; run as root"
        )?;
    }
    Ok(())
}

/// A cgroup with a limit, and how much of it is used.
struct Usage {
    /// Usage over limit.
    ratio: f64,
    path: String,
    sample: Sample,
}

/// Every cgroup under `h` with a limit, not matching `exclude`, fullest
/// first.
fn by_use(h: &Hierarchy, exclude: Option<&regex::Regex>) -> Vec<Usage> {
    let mut rows: Vec<Usage> = hierarchy::walk(h)
        .into_iter()
        .filter(|path| !exclude.is_some_and(|re| re.is_match(path)))
        .filter_map(|path| {
            let sample = cgroup::sample::read(h, &path)?;
            let ratio = sample.usage? as f64 / sample.limit? as f64;
            Some(Usage {
                ratio,
                path,
                sample,
            })
        })
        .collect();
    rows.sort_by(|a, b| b.ratio.total_cmp(&a.ratio));
    rows
}

/// Prints the `n` memory cgroups closest to their limit under `sysfs`,
/// leaving out those matching `exclude` (`--collector.cgroup.exclude`).
pub fn cgroups(
    sysfs: &std::path::Path,
    names: &Resolver,
    n: usize,
    exclude: Option<&regex::Regex>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let Some(h) = hierarchy::detect(sysfs) else {
        anyhow::bail!(
            "no memory cgroup hierarchy under {}/fs/cgroup",
            sysfs.display()
        );
    };
    let rows: Vec<[String; 6]> = by_use(&h, exclude)
        .into_iter()
        .take(n)
        .map(
            |Usage {
                 ratio,
                 path,
                 sample: s,
             }| {
                let owner = cgroup::owner::owner(&path);
                let mib = |v: Option<u64>| {
                    v.map_or("-".to_owned(), |b| {
                        format!("{:.1}MiB", b as f64 / 1_048_576.0)
                    })
                };
                [
                    format!("{:.1}%", ratio * 100.0),
                    mib(s.usage),
                    mib(s.limit),
                    s.oom_kill.map_or("-".to_owned(), |k| k.to_string()),
                    names
                        .names(&owner, std::time::Instant::now(), Urgency::Scrape)
                        .path()
                        .or(owner.pod_uid)
                        .or(owner.unit)
                        .unwrap_or_else(|| "-".to_owned()),
                    path,
                ]
            },
        )
        .collect();
    // The figures in fixed widths (a 100.0% cgroup, a terabyte in MiB),
    // OWNER as wide as its widest cell, as in the process table.
    let header = ["USE%", "USAGE", "LIMIT", "OOM_KILLS", "OWNER", "CGROUP"];
    let mut widths = [6, 10, 10, 9, 5, 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut print = |cells: [&str; 6]| -> std::io::Result<()> {
        let [ratio, usage, limit, kills, owner, path] = cells;
        writeln!(
            out,
            "{ratio:>w0$}  {usage:>w1$}  {limit:>w2$}  {kills:>w3$}  {owner:<w4$}  {path}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        )
    };
    print(header)?;
    for row in &rows {
        print(row.each_ref().map(String::as_str))?;
    }
    Ok(())
}
