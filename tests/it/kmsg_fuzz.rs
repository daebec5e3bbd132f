//! Property tests: arbitrary and mangled kernel logs never make the parsers
//! panic, and what they return is what they promise: never more kills than
//! `Killed process` lines, no pid or victim name the log does not hold, a
//! record's fields taken from its own line, message text borrowed from the
//! input.

use oom_exporter::kmsg::oom::Kill;
use oom_exporter::kmsg::record::RecordError;
use oom_exporter::kmsg::{input, oom, record};
use proptest::prelude::*;

use crate::support::repo;

/// Lines of every real sample, to mangle.
fn sample_lines() -> Vec<String> {
    let dir = repo().join("tests/fixtures/kmsg");
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "txt") {
            let text = std::fs::read_to_string(path).unwrap();
            lines.extend(
                text.lines()
                    .filter(|l| !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
    }
    lines
}

/// Lines of the complete reports (`tests/fixtures/reports`), headers,
/// Mem-Info, memcg counters, task dumps and kills, in every form they were
/// saved in.
fn report_lines() -> Vec<String> {
    let dir = repo().join("tests/fixtures/reports");
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(path).unwrap();
            lines.extend(
                text.lines()
                    .filter(|l| !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
    }
    lines
}

fn kill_lines(log: &str) -> usize {
    log.matches("Killed process").count()
}

/// The numbers written right after a `Killed process `.
fn killed_pids(log: &str) -> Vec<u32> {
    log.match_indices("Killed process ")
        .filter_map(|(i, m)| {
            let rest = &log[i + m.len()..];
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..digits].parse().ok()
        })
        .collect()
}

/// Every kill names a pid written after a `Killed process ` and a victim
/// name that is in the log (as printed, or once unescaped).
fn kills_come_from(log: &str, kills: &[Kill]) -> Result<(), TestCaseError> {
    let pids = killed_pids(log);
    let unescaped = record::unescape(log);
    for k in kills {
        prop_assert!(pids.contains(&k.pid), "pid {} not in the log: {k:?}", k.pid);
        prop_assert!(
            log.contains(&k.comm) || unescaped.contains(&k.comm),
            "comm {:?} not in the log",
            k.comm
        );
    }
    Ok(())
}

/// `record::parse` keeps its contract on any line: continuation lines are
/// `None`; a record's text is the end of its own line and its level fits
/// in three bits; a line without `;` is `NoSeparator`.
fn record_contract(line: &str) -> Result<(), TestCaseError> {
    match record::parse(line) {
        Ok(None) => prop_assert!(line.is_empty() || line.starts_with(' '), "{line:?}"),
        Ok(Some(r)) => {
            prop_assert!(
                line.trim_end_matches(['\n', '\r']).ends_with(r.text),
                "{line:?}"
            );
            prop_assert!(r.level <= 7);
            let header = &line[..line.find(';').unwrap()];
            prop_assert!(header.contains(&r.seq.to_string()), "{line:?}: {r:?}");
        }
        Err(RecordError::NoSeparator) => prop_assert!(!line.contains(';'), "{line:?}"),
        Err(RecordError::BadHeader) => prop_assert!(line.contains(';'), "{line:?}"),
    }
    if !line.contains("\\x") {
        prop_assert_eq!(record::unescape(line), line);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(log in "(?s).{0,2000}") {
        let kills = oom::kills_in_log(&log);
        prop_assert!(kills.len() <= kill_lines(&log));
        kills_come_from(&log, &kills)?;
        for line in log.lines() {
            record_contract(line)?;
        }
        for line in input::lines(&log) {
            prop_assert!(log.contains(line.text), "{line:?} is not from the input");
        }
    }

    #[test]
    fn records_keep_their_fields(
        prio in 0u64..5000,
        seq in any::<u64>(),
        usec in any::<u64>(),
        text in "[^\n\r]{0,80}",
    ) {
        let line = format!("{prio},{seq},{usec},-;{text}");
        let r = record::parse(&line)
            .map_err(|e| TestCaseError::fail(format!("{line:?}: {e}")))?
            .ok_or_else(|| TestCaseError::fail("taken for a continuation line"))?;
        prop_assert_eq!(r.level, (prio % 8) as u8);
        prop_assert_eq!(r.facility, u8::try_from(prio / 8).unwrap_or(u8::MAX));
        prop_assert_eq!((r.seq, r.usec, r.text), (seq, usec, text.as_str()));
    }

    #[test]
    fn kill_shaped_text_never_panics(
        prefix in prop::sample::select(vec!["", "Out of memory: ", "Memory cgroup out of memory: ", "3,1,1,-;", "[ 1.5] ", "oom-kill:", "Task in ", "Tasks in "]),
        body in r"Killed process [0-9]{0,12}[ ,(]{0,3}[a-z()\\x ,=:]{0,20}\)?( total-vm:[0-9]{0,5}kB)?[, a-z_:0-9-]{0,60}",
    ) {
        let log = format!("{prefix}{body}");
        let kills = oom::kills_in_log(&log);
        prop_assert!(kills.len() <= kill_lines(&log));
        kills_come_from(&log, &kills)?;
    }

    #[test]
    fn mangled_real_logs_never_panic(
        picks in prop::collection::vec((any::<prop::sample::Index>(), 0usize..400, any::<char>()), 1..60),
    ) {
        let lines = sample_lines();
        let mut log = String::new();
        for (index, cut, junk) in picks {
            let line = index.get(&lines);
            let cut = line.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(line.len());
            log.push_str(&line[..cut]);
            log.push(junk);
            log.push_str(&line[cut..]);
            log.push('\n');
        }
        let kills = oom::kills_in_log(&log);
        prop_assert!(kills.len() <= kill_lines(&log));
        kills_come_from(&log, &kills)?;
        for line in log.lines() {
            record_contract(line)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Report lines in any order, from several reports mixed, some cut
    /// short: never a panic, and the number of kills is what the kill
    /// lines make on their own (the other parts of a report never add or
    /// remove one). The report's parts stay bounded and come from the log.
    #[test]
    fn interleaved_report_lines_never_change_the_kill_count(
        picks in prop::collection::vec((any::<prop::sample::Index>(), prop::option::of(0usize..200)), 1..400),
    ) {
        let lines = report_lines();
        let mut log = String::new();
        let mut alone = 0;
        for (index, cut) in picks {
            let line = index.get(&lines);
            let line = match cut {
                Some(cut) => {
                    let at = line.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(line.len());
                    &line[..at]
                }
                None => line.as_str(),
            };
            alone += oom::kills_in_log(line).len();
            log.push_str(line);
            log.push('\n');
        }
        let kills = oom::kills_in_log(&log);
        prop_assert_eq!(kills.len(), alone);
        kills_come_from(&log, &kills)?;
        let rows = log.lines().filter(|l| l.contains('[')).count() as u64;
        for k in &kills {
            let r = &k.report;
            prop_assert!(r.tasks_in_dump.is_none_or(|n| n <= rows), "{r:?}");
            let top = r.top_tasks.as_deref().unwrap_or_default();
            prop_assert!(top.len() <= oom::report::DEFAULT_TOP_TASKS);
            for pair in top.windows(2) {
                prop_assert!((std::cmp::Reverse(pair[0].rss_pages), pair[0].pid) <= (std::cmp::Reverse(pair[1].rss_pages), pair[1].pid));
            }
            for t in top {
                prop_assert!(log.contains(&format!("{}]", t.pid)), "{t:?}");
            }
            // Known exactly when the header's order was read.
            prop_assert_eq!(r.sysrq.is_some(), r.order.is_some());
            prop_assert!(r.order.is_none() || k.invoked_by.is_some());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whatever the kills, the tracker keeps at most its limits.
    #[test]
    fn tracker_memory_is_bounded(kills in prop::collection::vec((0u32..500, "[a-z]{1,15}", any::<bool>()), 0..3000)) {
        use oom_exporter::kmsg::tracker::{Limits, Tracker};
        let limits = Limits { max_victims: 10, history: 20, ..Limits::default() };
        let t = Tracker::new(limits, None);
        for (pid, comm, counted) in kills {
            let line = format!("3,1,1,-;Memory cgroup out of memory: Killed process {pid} ({comm}) total-vm:1kB");
            for k in oom::kills_in_log(&line) {
                t.record(k, 1.0, counted, std::time::Instant::now());
            }
        }
        let s = t.snapshot(std::time::Instant::now());
        prop_assert!(s.victims.len() <= 10);
        prop_assert!(t.recent(usize::MAX).len() <= 20);
    }
}
