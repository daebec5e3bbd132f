//! Whole OOM reports captured on this machine (`tests/fixtures/reports/
//! captured-*.kmsg`, raw /dev/kmsg records of real memcg OOMs made by
//! `tests/fixtures/reports/capture/capture.py`) through `oom_exporter kills
//! --json --input`. What each check expects comes from how the OOM was set
//! up (the cgroup's limit, each process's size, oom_score_adj and comm), or
//! from the file's own dump rows read here independently of the parser.

use serde_json::Value;

use oom_exporter::kmsg::input;
use oom_exporter::kmsg::oom::{Outcome, Parser};

use crate::kmsg_reports::kills_json;
use crate::support::repo;

/// One process set up in the cgroup: its comm as the kernel keeps it (cut
/// to 15 bytes), the MiB it touched and its oom_score_adj.
struct Holder(&'static str, u64, i64);

/// How an OOM was set up, as `capture.py` did it.
struct Setup {
    file: &'static str,
    cgroup: &'static str,
    limit_mib: u64,
    holders: &'static [Holder],
    /// The comm of the process that grew until its allocation failed.
    grower: &'static str,
    victim: &'static str,
    /// The comm of the row with the most RSS.
    largest: &'static str,
}

const ODD_COMMS: Setup = Setup {
    file: "captured-6.18-memcg-odd-comms.kmsg",
    cgroup: "/oomx-capture-odd-comms",
    limit_mib: 64,
    holders: &[
        Holder("-bash", 3, 0),
        Holder("(sd-pam)", 4, 0),
        Holder("my worker, 2", 6, 100),
        Holder("[kworker/u8:1]", 9, 0),
        Holder("caf\u{e9} \u{3bb}", 12, 500),
        // Executed as `a-very-long-process-name`: the kernel keeps 15 bytes.
        Holder("a-very-long-pro", 20, 0),
    ],
    grower: "Kill process 1",
    victim: "caf\u{e9} \u{3bb}",
    largest: "a-very-long-pro",
};

/// Twenty processes in groups of one size; set with prctl, `invoked
/// oom-killer` is cut to `invoked oom-kil` and nine `é` (18 bytes) to seven
/// and half of the eighth.
const BIG_DUMP: Setup = Setup {
    file: "captured-6.18-memcg-20-tasks-top10-cut.kmsg",
    cgroup: "/oomx-capture-big-dump",
    limit_mib: 48,
    holders: &[
        Holder("one-mib", 1, 0),
        Holder("two-mib", 2, 0),
        Holder("three-mib", 3, 0),
        Holder("Killed process ", 2, 1000),
        Holder("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{fffd}", 1, 0),
    ],
    grower: "invoked oom-kil",
    victim: "Killed process ",
    largest: "invoked oom-kil",
};

/// `(pid, rss pages)` of every dump row in the file, read here: the text
/// after `;` of each record between the dump header and the `oom-kill:`
/// summary, `[ pid ] uid tgid total_vm rss ...`.
fn raw_rows(log: &str) -> Vec<(u64, u64)> {
    let texts = log
        .lines()
        .filter_map(|l| l.split_once(';'))
        .map(|(_, t)| t);
    texts
        .skip_while(|t| !t.starts_with("[  pid  ]"))
        .skip(1)
        .take_while(|t| !t.starts_with("oom-kill:"))
        .map(|t| {
            let (pid, rest) = t[1..].split_once(']').unwrap();
            let rss = rest.split_whitespace().nth(3).unwrap();
            (pid.trim().parse().unwrap(), rss.parse().unwrap())
        })
        .collect()
}

/// Every row of the file's dump as the parser reads it, not only the top 10.
fn all_rows(log: &str) -> Vec<Value> {
    let mut parser = Parser::with_top_tasks(64);
    let kills: Vec<_> = input::lines(log)
        .iter()
        .filter_map(|l| match parser.feed(l) {
            Outcome::Kill(k) => Some(k),
            _ => None,
        })
        .collect();
    assert_eq!(kills.len(), 1);
    let report = serde_json::to_value(&kills[0].report).unwrap();
    report["top_tasks"].as_array().unwrap().clone()
}

/// Checks the kill of `setup`'s file field by field; returns its JSON.
fn check(setup: &Setup) -> Value {
    let path = repo().join("tests/fixtures/reports").join(setup.file);
    let log = std::fs::read_to_string(&path).unwrap();
    let kills = kills_json(&path);
    assert_eq!(kills.len(), 1, "{}", setup.file);
    let k = &kills[0];
    let rows = all_rows(&log);
    let raw = raw_rows(&log);
    let row = |comm: &str| -> &Value {
        let mut found = rows.iter().filter(|r| r["comm"] == comm);
        found.next().unwrap_or_else(|| panic!("no row {comm:?}"))
    };

    // What ran out: the cgroup, full to its limit with anonymous memory.
    let limit_kb = setup.limit_mib * 1024;
    assert_eq!(k["constraint"], "memcg");
    assert_eq!(
        (&k["oom_memcg"], &k["task_memcg"]),
        (&setup.cgroup.into(), &setup.cgroup.into())
    );
    assert_eq!(
        (k["memcg_usage_kb"].as_u64(), k["memcg_limit_kb"].as_u64()),
        (Some(limit_kb), Some(limit_kb))
    );
    assert_eq!(
        (k["memsw_usage_kb"].as_u64(), k["memsw_limit_kb"].as_u64()),
        (Some(limit_kb), Some(limit_kb))
    );
    // As printed: this kernel's v1 `failcnt` stays 0 at the OOM.
    assert_eq!(
        (k["memcg_failcnt"].as_u64(), k["memsw_failcnt"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(k["kmem_usage_kb"].as_u64().unwrap() < 1024);
    let anon = k["memcg_stats"]["anon"].as_u64().unwrap();
    assert!(
        anon.abs_diff(limit_kb * 1024) * 50 < limit_kb * 1024,
        "anon {anon}"
    );
    assert_eq!(k["memcg_stats"]["file"].as_u64(), Some(0));
    // cgroup v1 prints no `swap:` line; a memcg OOM no Mem-Info.
    for key in [
        "swap_usage_kb",
        "swap_limit_kb",
        "swap_free_kb",
        "swap_total_kb",
        "meminfo_pages",
    ] {
        assert!(k[key].is_null(), "{key}");
    }

    // The trigger: the grower, faulting in one page at a time.
    assert_eq!(k["invoked_by"], setup.grower);
    assert_eq!(k["trigger_pid"], row(setup.grower)["pid"]);
    assert_eq!(k["gfp_mask"], "0xcc0(GFP_KERNEL)");
    assert_eq!(
        (k["order"].as_i64(), k["sysrq"].as_bool()),
        (Some(0), Some(false))
    );
    assert_eq!(k["trigger_oom_score_adj"].as_i64(), Some(0));

    // The victim: the comm and adj set, not the largest.
    let victim = row(setup.victim);
    assert_eq!(k["comm"], setup.victim);
    assert_eq!(k["pid"], victim["pid"]);
    let adj = setup
        .holders
        .iter()
        .find(|h| h.0 == setup.victim)
        .unwrap()
        .2;
    assert_eq!(
        (
            k["oom_score_adj"].as_i64(),
            victim["oom_score_adj"].as_i64()
        ),
        (Some(adj), Some(adj))
    );
    let top = k["top_tasks"].as_array().unwrap();
    assert_eq!(top[0]["comm"], setup.largest);
    assert_ne!(top[0]["pid"], k["pid"]);

    // Every process set up is in the dump with its size (anonymous pages
    // of the page size read from the report), adj and comm.
    let page = k["page_size_bytes"].as_u64().unwrap();
    for h in setup.holders {
        let of_h: Vec<_> = rows.iter().filter(|r| r["comm"] == h.0).collect();
        assert!(!of_h.is_empty(), "{:?} not in the dump", h.0);
        for r in of_h {
            let bytes = r["rss_anon_pages"].as_u64().unwrap() * page;
            let set = h.1 << 20;
            assert!(
                bytes.abs_diff(set) * 100 <= set * 3,
                "{:?}: {bytes} bytes, {set} set",
                h.0
            );
            assert_eq!(r["oom_score_adj"].as_i64(), Some(h.2), "{:?}", h.0);
        }
    }

    // The dump: every row counted, the top 10 by RSS as the file's own rows
    // sort (ties to the lower pid), in bytes from the page size read from
    // the victim's row and its `Killed process` kB.
    assert_eq!(k["tasks_in_dump"].as_u64(), Some(raw.len() as u64));
    assert_eq!(rows.len(), raw.len());
    let mut sorted = raw.clone();
    sorted.sort_by_key(|&(pid, rss)| (std::cmp::Reverse(rss), pid));
    let want: Vec<_> = sorted.iter().take(10).copied().collect();
    let got: Vec<_> = top
        .iter()
        .map(|t| (t["pid"].as_u64().unwrap(), t["rss_pages"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        (
            k["page_size_bytes"].as_u64(),
            k["page_size_assumed"].as_bool()
        ),
        (Some(4096), Some(false))
    );
    let victim_kb = ["anon_rss_kb", "file_rss_kb", "shmem_rss_kb"].map(|f| k[f].as_u64().unwrap());
    assert_eq!(
        victim["rss_pages"].as_u64().unwrap() * 4,
        victim_kb.iter().sum::<u64>()
    );
    for t in top {
        assert_eq!(
            t["rss_bytes"].as_u64(),
            Some(t["rss_pages"].as_u64().unwrap() * 4096)
        );
        let parts =
            ["rss_anon_pages", "rss_file_pages", "rss_shmem_pages"].map(|f| t[f].as_u64().unwrap());
        assert_eq!(parts.iter().sum::<u64>(), t["rss_pages"].as_u64().unwrap());
    }
    k.clone()
}

/// Seven processes of 3 to 20 MiB with odd comms (a leading dash,
/// parentheses, a comma and spaces, brackets, UTF-8, a name cut to 15
/// bytes, `Kill process` in the trigger's comm): the one with
/// oom_score_adj 500 dies, the largest stays.
#[test]
fn a_captured_report_keeps_odd_comms_as_printed() {
    let k = check(&ODD_COMMS);
    assert_eq!(k["tasks_in_dump"].as_u64(), Some(7));
    let order: Vec<_> = k["top_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["comm"].as_str().unwrap())
        .collect();
    // The grower reached about 10 MiB, between 9 and 12.
    assert_eq!(
        order,
        [
            "a-very-long-pro",
            "caf\u{e9} \u{3bb}",
            "Kill process 1",
            "[kworker/u8:1]",
            "my worker, 2",
            "(sd-pam)",
            "-bash"
        ]
    );
}

/// Twenty rows: the top 10 are cut where two rows have the same RSS, and
/// the lower pid is kept; a comm `Killed process ` (15 bytes) is the
/// victim, not a second kill; a UTF-8 comm cut mid-character ends in U+FFFD.
#[test]
fn a_captured_report_of_twenty_tasks_keeps_the_top_ten() {
    let k = check(&BIG_DUMP);
    let path = repo().join("tests/fixtures/reports").join(BIG_DUMP.file);
    let log = std::fs::read_to_string(path).unwrap();
    let mut sorted = raw_rows(&log);
    assert_eq!(sorted.len(), 20);
    sorted.sort_by_key(|&(pid, rss)| (std::cmp::Reverse(rss), pid));
    // The file's 10th and 11th rows by RSS tie: the cut keeps the lower pid.
    assert_eq!(sorted[9].1, sorted[10].1);
    let top = k["top_tasks"].as_array().unwrap();
    assert_eq!(top.len(), 10);
    assert_eq!(top[9]["pid"].as_u64(), Some(sorted[9].0));
    assert!(sorted[9].0 < sorted[10].0);
    let comms = |c: &str| all_rows(&log).iter().filter(|r| r["comm"] == c).count();
    assert_eq!(
        (comms("one-mib"), comms("two-mib"), comms("three-mib")),
        (6, 6, 5)
    );
    assert!(
        log.contains(
            "\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\\xa9\\xc3\n"
        )
    );
}
