//! Property tests: arbitrary and mangled kernel logs never make the parsers
//! panic, and never produce more kills than `Killed process` lines.

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

fn kill_lines(log: &str) -> usize {
    log.matches("Killed process").count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(log in "(?s).{0,2000}") {
        let kills = oom::kills_in_log(&log);
        prop_assert!(kills.len() <= kill_lines(&log));
        for line in log.lines() {
            let _ = record::parse(line);
            let _ = record::unescape(line);
        }
        let _ = input::lines(&log);
    }

    #[test]
    fn kill_shaped_text_never_panics(
        prefix in prop::sample::select(vec!["", "Out of memory: ", "Memory cgroup out of memory: ", "3,1,1,-;", "[ 1.5] ", "oom-kill:", "Task in ", "Tasks in "]),
        body in r"Killed process [0-9]{0,12}[ ,(]{0,3}[a-z()\\x ,=:]{0,20}\)?( total-vm:[0-9]{0,5}kB)?[, a-z_:0-9-]{0,60}",
    ) {
        let log = format!("{prefix}{body}");
        prop_assert!(oom::kills_in_log(&log).len() <= kill_lines(&log));
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
        prop_assert!(oom::kills_in_log(&log).len() <= kill_lines(&log));
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
                t.record(k, 1.0, counted);
            }
        }
        let s = t.snapshot();
        prop_assert!(s.victims.len() <= 10);
        prop_assert!(t.recent(usize::MAX).len() <= 20);
    }
}
