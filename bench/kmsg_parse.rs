//! Benchmark (not a test): throughput of the kmsg record and OOM parsers on
//! one core over a realistic mix: this machine's own ring buffer (mostly
//! ordinary kernel messages), with the raw OOM reports of
//! tests/fixtures/kmsg (05-08) mixed in at about one report per 2,000
//! records. Lines the project's own tests wrote (`oomx`) are left out.
//! A second mix puts one of the whole reports (six real, four written) of
//! tests/fixtures/reports (task dumps of 85 to 800+ rows, Mem-Info, the
//! memory.stat block) in every 2,000 ordinary records, and a third is those
//! reports alone; their lines are made raw records with rising stamps.
//! Run: `cargo bench --bench kmsg_parse`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark may stop on a broken set-up

use std::hint::black_box;
use std::time::Instant;

use oom_exporter::kmsg::input::{self, Line, Stamp};
use oom_exporter::kmsg::oom::{Outcome, Parser};
use oom_exporter::kmsg::{device, record};

const RECORDS: usize = 1_000_000;
const RUNS: usize = 7;

fn main() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut ordinary: Vec<String> = device::read_once(std::path::Path::new("/dev/kmsg"))
        .map(|log| {
            log.lines()
                .filter(|l| !l.contains("Killed process") && !l.contains("oomx"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut oom: Vec<String> = Vec::new();
    for n in ["05", "06", "07", "08"] {
        let dir = std::fs::read_dir(format!("{root}/tests/fixtures/kmsg")).expect("fixtures");
        for entry in dir {
            let path = entry.expect("entry").path();
            if path
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(n))
            {
                let text = std::fs::read_to_string(&path).expect("sample");
                oom.extend(
                    text.lines()
                        .filter(|l| !l.starts_with('#'))
                        .map(str::to_owned),
                );
            }
        }
    }
    if ordinary.len() < 100 {
        eprintln!(
            "/dev/kmsg unreadable or nearly empty: using the OOM samples' non-kill lines as the ordinary mix"
        );
        ordinary = oom
            .iter()
            .filter(|l| !l.contains("Killed process"))
            .cloned()
            .collect();
    }
    let mix = interleave(&ordinary, &[oom.join("\n")], 2000);
    measure(
        "kmsg samples 05-08 every 2,000 records",
        &mix,
        ordinary.len(),
    );
    let reports = whole_reports(root);
    let report_lines: usize = reports.iter().map(|r| r.lines().count()).sum();
    let mix = interleave(&ordinary, &reports, 2000);
    measure(
        &format!(
            "one of the {} whole reports ({report_lines} lines in all) every 2,000 records",
            reports.len()
        ),
        &mix,
        ordinary.len(),
    );
    let only: Vec<String> = reports
        .iter()
        .flat_map(|r| r.lines())
        .map(str::to_owned)
        .collect();
    let mix = interleave(&only, &[], usize::MAX);
    measure(
        &format!("the {} whole reports alone, over and over", reports.len()),
        &mix,
        only.len(),
    );
}

/// The whole reports of tests/fixtures/reports (`*.log`: the six real
/// ones and the four written for the tests), each as raw records (`6,seq,usec,-;text`) with
/// stamps 100 us apart, so that they are read as the live device gives them.
fn whole_reports(root: &str) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(format!("{root}/tests/fixtures/reports"))
        .expect("reports")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("report");
            input::lines(&text)
                .iter()
                .enumerate()
                .map(|(i, l)| format!("6,{i},{},-;{}", 1_000_000 + i * 100, l.text))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// `RECORDS` records: `ordinary` in turn, with the next of `reports` (each
/// several records) before every `every`th, stamps rising throughout.
fn interleave(ordinary: &[String], reports: &[String], every: usize) -> Vec<String> {
    let mut mix = Vec::with_capacity(RECORDS);
    let mut i = 0;
    let mut next = 0;
    let restamp = |line: &str, n: usize| match record::parse(line) {
        Ok(Some(r)) => format!("{},{n},{},-;{}", r.facility * 8 + r.level, n * 10, r.text),
        _ => line.to_owned(),
    };
    while mix.len() < RECORDS {
        if !reports.is_empty() && i % every == 0 {
            for l in reports[next % reports.len()].lines() {
                let n = mix.len();
                mix.push(restamp(l, n));
            }
            next += 1;
        }
        let n = mix.len();
        mix.push(restamp(&ordinary[i % ordinary.len()], n));
        i += 1;
    }
    mix.truncate(RECORDS);
    mix
}

fn measure(name: &str, mix: &[String], distinct: usize) {
    let bytes: usize = mix.iter().map(|l| l.len() + 1).sum();
    let mut rates = Vec::new();
    let mut kills = 0;
    for _ in 0..RUNS {
        let mut parser = Parser::new();
        kills = 0;
        let start = Instant::now();
        for raw in mix {
            if let Ok(Some(rec)) = record::parse(black_box(raw))
                && rec.is_kernel()
            {
                let line = Line {
                    seq: Some(rec.seq),
                    usec: Some(rec.usec),
                    facility: Some(0),
                    stamp: Stamp::None,
                    host: None,
                    text: rec.text,
                };
                if let Outcome::Kill(k) = parser.feed(&line) {
                    kills += 1;
                    black_box(k);
                }
            }
        }
        rates.push(RECORDS as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[RUNS / 2];
    println!(
        "kmsg parser, {name}: {RECORDS} records ({:.1} MiB, {distinct} distinct other lines, {kills} kills) per run, {RUNS} runs",
        bytes as f64 / 1048576.0,
    );
    println!(
        "median {:.2} M records/s ({:.0} MiB/s), min {:.2} M/s, max {:.2} M/s, one core",
        median / 1e6,
        median * bytes as f64 / RECORDS as f64 / 1048576.0,
        rates[0] / 1e6,
        rates[RUNS - 1] / 1e6
    );
}
