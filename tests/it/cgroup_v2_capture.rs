//! The two kill sources against each other on real cgroup v2 data: the
//! kernel log and the cgroup tree of `tests/fixtures/sys-cgroup-v2` come
//! from the same boot of a v2 kernel (its ORIGIN.md), so every OOM kill the
//! tree counts has its report in the log.
//!
//! The kernel counts one `oom_kill` in `memory.events.local` of the killed
//! task's cgroup for every `Killed process` line it prints, and the same in
//! `memory.events` of that cgroup and every ancestor. `oom_exporter kills`
//! reports one kill per victim, naming its cgroup (`task_memcg`); with
//! `memory.oom.group` set the kernel kills the chosen victim once more
//! while it kills the whole group (a second `Killed process` line, counted
//! again), which `kills` drops as a duplicate. So in a cgroup without
//! `memory.oom.group` the counts are equal; in a group cgroup the counter
//! is ahead by one per group kill.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{BIN, Exporter, repo};

fn capture() -> PathBuf {
    repo().join("tests/fixtures/sys-cgroup-v2")
}

/// `oom_kill` from a `memory.events` or `memory.events.local` file.
fn oom_kill(file: &Path) -> u64 {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .unwrap_or_else(|| panic!("no oom_kill in {}", file.display()))
        .parse()
        .unwrap()
}

/// Every non-root cgroup of the captured tree, as the exporter names them
/// (`/system.slice/cron.service`).
fn tree_cgroups() -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                let path = entry.path();
                let rel = path.strip_prefix(root).unwrap();
                out.insert(format!("/{}", rel.display()));
                walk(root, &path, out);
            }
        }
    }
    let root = capture().join("fs/cgroup");
    let mut out = BTreeSet::new();
    walk(&root, &root, &mut out);
    out
}

fn events(cgroup: &str, file: &str) -> u64 {
    oom_kill(&capture().join("fs/cgroup").join(&cgroup[1..]).join(file))
}

/// True when `cgroup` is `ancestor` or below it.
fn within(cgroup: &str, ancestor: &str) -> bool {
    cgroup == ancestor
        || cgroup
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The ancestors of `/a/b/c` below the root: `/a`, `/a/b`, `/a/b/c`.
fn self_and_ancestors(cgroup: &str) -> Vec<String> {
    cgroup
        .match_indices('/')
        .skip(1)
        .map(|(i, _)| cgroup[..i].to_owned())
        .chain([cgroup.to_owned()])
        .collect()
}

/// `oom_exporter kills --json` on the capture's log.
fn kmsg_kills() -> Vec<serde_json::Value> {
    let log = capture().join("kmsg");
    let out = Command::new(BIN)
        .args(["kills", "--json", "--input"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `oom_cgroup_oom_kills_total` of every cgroup the exporter reports for
/// the captured tree.
fn exporter_counts() -> BTreeMap<String, u64> {
    let sysfs = format!("--path.sysfs={}", capture().display());
    let e = Exporter::start(&["--collector.disable-defaults", "--collector.cgroup", &sysfs]);
    let m = e.metrics();
    m.lines()
        .filter_map(|l| l.strip_prefix("oom_cgroup_oom_kills_total{"))
        .map(|l| {
            let cgroup = l
                .strip_prefix("cgroup=\"")
                .and_then(|r| r.split_once('"'))
                .unwrap_or_else(|| panic!("no cgroup label first: {l}"))
                .0;
            let value: f64 = l.rsplit_once(' ').unwrap().1.parse().unwrap();
            (cgroup.to_owned(), value as u64)
        })
        .collect()
}

/// `Tasks in <cgroup> are going to be killed due to memory.oom.group set`
/// lines of the capture's log, by cgroup: one per group kill.
fn group_kills() -> BTreeMap<String, u64> {
    let log = std::fs::read_to_string(capture().join("kmsg")).unwrap();
    let mut out = BTreeMap::new();
    for line in log.lines() {
        if let Some(path) = line.split_once(";Tasks in ").and_then(|(_, r)| {
            r.strip_suffix(" are going to be killed due to memory.oom.group set")
        }) {
            *out.entry(path.to_owned()).or_default() += 1;
        }
    }
    out
}

type Counts = BTreeMap<String, u64>;

#[test]
fn kmsg_kills_match_the_cgroup_counters_of_the_same_boot() {
    let kills = kmsg_kills();
    let tree = tree_cgroups();
    let groups = group_kills();
    let raw_killed_lines = std::fs::read_to_string(capture().join("kmsg"))
        .unwrap()
        .lines()
        .filter(|l| l.contains(";Memory cgroup out of memory: Killed process "))
        .count() as u64;

    let by_cgroup = log_kills_by_victim_cgroup(&kills, &tree);
    let bctr = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5931aa75_4603_4e65_b552_7c71cf55cfb5.slice/cri-containerd-25a38b5b8d556d7983d975577f5ac75ebbcfb4b269e6deaa0a0440c1ffc969ca.scope";
    let expected: Counts = [
        // tail, once each.
        ("/system.slice/cron.service", 1),
        (
            "/user.slice/user-1000.slice/user@1000.service/app.slice/labm6.service",
            1,
        ),
        (
            "/kubepods/burstable/pod5931aa75-4603-4e65-b552-7c71cf55cfb5/25a38b5b8d556d7983d975577f5ac75ebbcfb4b269e6deaa0a0440c1ffc969ca",
            1,
        ),
        // memory.oom.group: three group kills of tail plus a sleeper.
        (bctr, 6),
    ]
    .into_iter()
    .map(|(c, n)| (c.to_owned(), n))
    .collect();
    assert_eq!(by_cgroup, expected, "kills in the log, by task_memcg");
    assert_eq!(
        groups,
        BTreeMap::from([(bctr.to_owned(), 3)]),
        "memory.oom.group kills in the log"
    );
    let group_members = kills.iter().filter(|k| k["oom_group"] == true).count();
    assert_eq!(group_members, 3, "the sleepers, killed as group members");

    let log_lines = kills.len() as u64 + groups.values().sum::<u64>();
    local_events_count_every_killed_line(&tree, &by_cgroup, &groups, raw_killed_lines);
    assert_eq!(raw_killed_lines, log_lines);

    let reported = exporter_counts();
    reported_counters_cover_the_log_kills_below_them(&reported, &by_cgroup, &groups);

    // The root's children: each kill counted in exactly one of them, so
    // their memory.events add up to the log's kills plus the group repeats;
    // summing the exporter's counters over all cgroups would overcount.
    let top: u64 = tree
        .iter()
        .filter(|c| c.matches('/').count() == 1)
        .map(|c| events(c, "memory.events"))
        .sum();
    assert_eq!(top, log_lines);
    assert!(reported.values().sum::<u64>() > top);
}

/// What the log holds (ORIGIN.md, workloads): memcg kills only, each
/// naming a victim cgroup of the tree, and the limit that ran out in that
/// cgroup or above it. Returns the kills by victim cgroup.
fn log_kills_by_victim_cgroup(kills: &[serde_json::Value], tree: &BTreeSet<String>) -> Counts {
    let mut by_cgroup = Counts::new();
    for k in kills {
        assert_eq!(k["constraint"], "memcg", "{k}");
        let task = k["task_memcg"].as_str().unwrap_or_else(|| panic!("{k}"));
        let oom = k["oom_memcg"].as_str().unwrap_or_else(|| panic!("{k}"));
        assert!(within(task, oom), "limit {oom} is not above {task}");
        assert!(tree.contains(task), "victim cgroup {task} not in the tree");
        *by_cgroup.entry(task.to_owned()).or_default() += 1;
    }
    by_cgroup
}

/// Exact, per cgroup, from the tree's own files: memory.events.local
/// counts every `Killed process` line of a task in the cgroup, that is the
/// `kills` victims plus, in a memory.oom.group cgroup, the chosen victim
/// killed again by the group scan (once per group kill). Cgroups without
/// kills have 0 in both.
fn local_events_count_every_killed_line(
    tree: &BTreeSet<String>,
    by_cgroup: &Counts,
    groups: &Counts,
    raw_killed_lines: u64,
) {
    for cgroup in tree {
        let kmsg = by_cgroup.get(cgroup).copied().unwrap_or(0);
        let repeats = groups.get(cgroup).copied().unwrap_or(0);
        assert_eq!(
            events(cgroup, "memory.events.local"),
            kmsg + repeats,
            "{cgroup}: memory.events.local oom_kill vs {kmsg} kills in the log + {repeats} group repeats"
        );
    }
    // And every `Killed process` line is counted in some cgroup's
    // memory.events.local: nothing in the log is missing from the tree.
    let local_total: u64 = tree.iter().map(|c| events(c, "memory.events.local")).sum();
    assert_eq!(local_total, raw_killed_lines);
}

/// The sum of `counts` over `ancestor` and the cgroups below it.
fn below(ancestor: &str, counts: &Counts) -> u64 {
    counts
        .iter()
        .filter(|(c, _)| within(c, ancestor))
        .map(|(_, n)| n)
        .sum()
}

/// The README's relation, on what the exporter reports: the victim's
/// cgroup and each of its ancestors count at least the log's kills in
/// their subtree; exactly that plus the group repeats below them (v2
/// memory.events is hierarchical).
fn reported_counters_cover_the_log_kills_below_them(
    reported: &Counts,
    by_cgroup: &Counts,
    groups: &Counts,
) {
    let mut checked = BTreeSet::new();
    for victim in by_cgroup.keys() {
        assert!(
            reported.contains_key(victim),
            "victim cgroup {victim} not reported: {reported:?}"
        );
        for a in self_and_ancestors(victim) {
            let file = events(&a, "memory.events");
            let kmsg = below(&a, by_cgroup);
            let repeats = below(&a, groups);
            assert_eq!(
                file,
                kmsg + repeats,
                "{a}: memory.events oom_kill vs {kmsg} kills in the log + {repeats} group repeats"
            );
            if let Some(&n) = reported.get(&a) {
                assert_eq!(n, file, "{a}: exporter vs memory.events");
                assert!(n >= kmsg, "{a}: {n} < {kmsg} kills in the log below it");
                if repeats == 0 {
                    assert_eq!(n, kmsg, "{a}: no memory.oom.group below, so equal");
                }
                checked.insert(a);
            }
        }
    }
    // Not vacuous: the victims and the limited ancestors above them (pod
    // slices, kubepods.slice, /kubepods) are among the reported ones.
    for a in [
        "/kubepods.slice",
        "/kubepods",
        "/kubepods/burstable/pod5931aa75-4603-4e65-b552-7c71cf55cfb5",
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5931aa75_4603_4e65_b552_7c71cf55cfb5.slice",
    ] {
        assert!(checked.contains(a), "{a} not checked: {checked:?}");
    }
    // Cgroups with no kill in the log below them count none.
    for (cgroup, &n) in reported {
        if below(cgroup, by_cgroup) == 0 {
            assert_eq!(n, 0, "{cgroup}: kills without a report in the log");
        }
    }
}
