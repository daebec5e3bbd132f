use super::*;
use crate::kmsg::oom::kills_in_log;

fn kill(pid: u32, comm: &str) -> Kill {
    let line = format!(
        "3,{pid},1000000,-;Out of memory: Killed process {pid} ({comm}) total-vm:1kB, anon-rss:1kB, file-rss:0kB"
    );
    kills_in_log(&line).remove(0)
}

#[test]
fn history_is_not_counted() {
    let t = Tracker::new(Limits::default(), Some(5));
    t.record(kill(1, "old"), 1001.0, false, Instant::now());
    let s = t.snapshot(Instant::now());
    assert_eq!(s.kills, 0);
    assert!(s.victims.is_empty());
    assert_eq!(s.last_kill, Some(1001.0));
    let recent = t.recent(10);
    assert!(recent[0].before_start);
    assert_eq!(
        recent[0].kill.time.as_deref(),
        Some("1970-01-01T00:16:41.000000Z")
    );
}

#[test]
fn victims_are_capped_and_evicted_lru() {
    let limits = Limits {
        max_victims: 2,
        ..Limits::default()
    };
    let t = Tracker::new(limits, None);
    let t0 = Instant::now();
    for (i, comm) in ["a", "b", "a", "c"].iter().enumerate() {
        let at = t0 + Duration::from_secs(i as u64);
        t.record(kill(i as u32 + 10, comm), 1.0, true, at);
    }
    let s = t.snapshot(t0 + Duration::from_secs(4));
    assert_eq!(s.kills, 4);
    let names: Vec<_> = s
        .victims
        .iter()
        .map(|v| (v.key.comm.as_str(), v.kills))
        .collect();
    assert_eq!(names, [("a", 2), ("c", 1)]);
    assert_eq!(s.evicted, 1);
}

#[test]
fn ttl_ages_series_out() {
    let limits = Limits {
        victim_ttl: Duration::from_secs(60),
        ..Limits::default()
    };
    let t = Tracker::new(limits, None);
    let t0 = Instant::now();
    t.record(kill(1, "a"), 1.0, true, t0);
    t.record(kill(2, "b"), 1.0, true, t0 + Duration::from_secs(30));
    let s = t.snapshot(t0 + Duration::from_secs(59));
    assert_eq!((s.victims.len(), s.evicted), (2, 0));
    // A series killed again is kept from its last kill.
    t.record(kill(3, "a"), 1.0, true, t0 + Duration::from_secs(59));
    let s = t.snapshot(t0 + Duration::from_secs(90));
    assert_eq!(s.kills, 3);
    let left: Vec<&str> = s.victims.iter().map(|v| v.key.comm.as_str()).collect();
    assert_eq!((left, s.evicted), (vec!["a"], 1));
    let s = t.snapshot(t0 + Duration::from_secs(119));
    assert_eq!((s.victims.len(), s.evicted), (0, 2));
}

#[test]
fn kernel_counter_fills_gaps_after_the_grace_period_only() {
    let t = Tracker::new(Limits::default(), Some(10));
    let t0 = Instant::now();
    let up = Some(100_000_000); // 100 s after boot
    // The kernel counted a kill; its record is still being printed.
    t.reconcile(Some(11), up, t0);
    assert_eq!(t.snapshot(Instant::now()).kills, 0);
    // The record arrives: no deficit any more.
    t.record(kill(1, "a"), 1.0, true, Instant::now());
    t.reconcile(Some(11), up, t0 + Duration::from_secs(10));
    assert_eq!(t.snapshot(Instant::now()).kills, 1);
    // A kill whose record was lost: counted once the grace period passes.
    t.reconcile(Some(12), up, t0 + Duration::from_secs(11));
    assert_eq!(t.snapshot(Instant::now()).kills, 1);
    t.reconcile(Some(12), up, t0 + Duration::from_secs(17));
    let s = t.snapshot(Instant::now());
    assert_eq!((s.kills, s.unattributed), (2, 1));
    // Its record turns up after all (it happened at boot + 1 s, long
    // before the deficit was counted): attributed, not counted again.
    t.record(kill(2, "late"), 1.0, true, Instant::now());
    let s = t.snapshot(Instant::now());
    assert_eq!(s.kills, 2);
    assert!(s.victims.iter().any(|v| v.key.comm == "late"));
    t.reconcile(Some(12), up, t0 + Duration::from_secs(30));
    assert_eq!(t.snapshot(Instant::now()).kills, 2);
    // A new kill after that (its record is stamped after the credit) is
    // counted normally.
    let mut new = kill(3, "new");
    new.boot_usec = Some(200_000_000);
    t.record(new, 2.0, true, Instant::now());
    assert_eq!(t.snapshot(Instant::now()).kills, 3);
}

#[test]
fn oom_group_repeats_are_not_unattributed_kills() {
    // Sample 04: one victim printed twice; the kernel's counter rose by 2.
    let log = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kmsg/04-aks-k8s-cgroupv2-oom-group-duplicate-kill.txt"
    ))
    .unwrap();
    let t = Tracker::new(Limits::default(), Some(100));
    let mut parser = crate::kmsg::oom::Parser::new();
    for line in crate::kmsg::input::lines(&log) {
        match parser.feed(&line) {
            crate::kmsg::oom::Outcome::Kill(k) => t.record(*k, 1.0, true, Instant::now()),
            crate::kmsg::oom::Outcome::Duplicate(_) => t.note_duplicate(),
            _ => {}
        }
    }
    let t0 = Instant::now();
    t.reconcile(Some(102), Some(1), t0);
    t.reconcile(Some(102), Some(1), t0 + Duration::from_secs(6));
    let s = t.snapshot(Instant::now());
    assert_eq!((s.kills, s.unattributed), (1, 0));
}

#[test]
fn rebaseline_only_before_anything_is_counted() {
    let t = Tracker::new(Limits::default(), Some(5));
    t.rebaseline(Some(7));
    t.mark_started();
    t.reconcile(Some(7), Some(1), Instant::now());
    assert_eq!(t.snapshot(Instant::now()).kills, 0);
    t.rebaseline(Some(9)); // too late: ignored
    let t0 = Instant::now();
    t.reconcile(Some(9), Some(1), t0);
    t.reconcile(Some(9), Some(1), t0 + Duration::from_secs(6));
    assert_eq!(t.snapshot(Instant::now()).kills, 2);
}

#[test]
fn sequence_gaps_are_lost_records() {
    let t = Tracker::new(Limits::default(), None);
    for seq in [5, 6, 10, 11] {
        t.note_seq(seq);
    }
    assert_eq!(t.snapshot(Instant::now()).lost, 3);
}

#[test]
fn an_ambiguous_kill_counts_once_with_empty_cgroup_labels() {
    let log = "6,1,100,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a/b,task_memcg=/a,task_memcg=/a/b,task=hog,pid=77,uid=0\n\
               3,2,101,-;Memory cgroup out of memory: Killed process 77 (hog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n";
    let t = Tracker::new(Limits::default(), None);
    t.record(kills_in_log(log).remove(0), 1.0, false, Instant::now());
    assert_eq!(
        t.snapshot(Instant::now()).ambiguous,
        0,
        "history is not counted"
    );
    t.record(kills_in_log(log).remove(0), 2.0, true, Instant::now());
    t.record(kill(5, "clear"), 3.0, true, Instant::now());
    let s = t.snapshot(Instant::now());
    assert_eq!((s.kills, s.ambiguous), (2, 1));
    let hog = &s.victims.iter().find(|v| v.key.comm == "hog").unwrap().key;
    assert_eq!(
        (hog.cgroup.as_str(), hog.pod_uid.as_str(), hog.constraint),
        ("", "", "memcg")
    );
}

#[test]
fn history_is_bounded() {
    let limits = Limits {
        history: 3,
        ..Limits::default()
    };
    let t = Tracker::new(limits, None);
    for pid in 1..=10 {
        t.record(kill(pid, "x"), 1.0, true, Instant::now());
    }
    let recent: Vec<u32> = t.recent(100).iter().map(|e| e.kill.pid).collect();
    assert_eq!(recent, [10, 9, 8]);
}

/// What a scrape sees after `reconcile` at `at`.
fn scrape(t: &Tracker, kernel_total: u64, at: Instant) -> (u64, u64) {
    t.reconcile(Some(kernel_total), Some(100_000_000), at);
    let s = t.snapshot(Instant::now());
    (s.kills, s.unattributed)
}

#[test]
fn a_deficit_is_counted_by_the_first_scrape_a_grace_period_after_the_one_that_saw_it() {
    let grace = Limits::default().grace;
    let t = Tracker::new(Limits::default(), Some(10));
    let t0 = Instant::now();
    // The kernel counted a kill whose record never comes, while nobody
    // scraped. The scrape that first sees it starts the grace timer, so a
    // scrape right after it cannot count it: a test that wants to see a
    // double count must scrape, wait past the grace period, and scrape.
    assert_eq!(scrape(&t, 11, t0), (0, 0));
    assert_eq!(scrape(&t, 11, t0 + Duration::from_millis(1)), (0, 0));
    assert_eq!(
        scrape(&t, 11, t0 + grace - Duration::from_millis(1)),
        (0, 0)
    );
    assert_eq!(scrape(&t, 11, t0 + grace), (1, 1));
}

#[test]
fn a_kill_is_counted_once_however_many_grace_periods_pass() {
    let grace = Limits::default().grace;
    let t0 = Instant::now();
    // From its record: the kernel's counter moved first.
    let t = Tracker::new(Limits::default(), Some(10));
    assert_eq!(scrape(&t, 11, t0), (0, 0));
    t.record(kill(1, "tail"), 1.0, true, Instant::now());
    for n in 0..5 {
        assert_eq!(scrape(&t, 11, t0 + grace * n), (1, 0), "scrape {n}");
    }
    // From the kernel's counter alone (its record was overwritten).
    let t = Tracker::new(Limits::default(), Some(10));
    assert_eq!(scrape(&t, 11, t0), (0, 0));
    for n in 1..6 {
        assert_eq!(scrape(&t, 11, t0 + grace * n), (1, 1), "scrape {n}");
    }
}

/// A scrape during the reader's first connect (reading the backlog) found
/// it "not reading" and warned of an earlier warning that never came.
#[test]
fn connecting_is_neither_up_nor_down() {
    let t = Tracker::new(Limits::default(), Some(0));
    let s = t.snapshot(Instant::now());
    assert!(!s.up && !s.down);
    t.set_up(false);
    let s = t.snapshot(Instant::now());
    assert!(!s.up && s.down);
    t.set_up(true);
    let s = t.snapshot(Instant::now());
    assert!(s.up && !s.down);
}

/// `/kills` serves the report's keys exactly as `kills --json` prints them.
#[test]
fn kills_entries_carry_the_whole_report() {
    let log = "4,1,1000000,-;memhog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n\
               4,2,1000010,-;CPU: 1 PID: 42 Comm: memhog Not tainted 6.18.0 #1\n\
               4,3,1000020,-;memory: usage 8192kB, limit 8192kB, failcnt 5\n\
               6,4,1000030,-;[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name\n\
               6,5,1000040,-;[     42]     0    42     3000     2000    40960        0             0 memhog\n\
               3,6,1000050,-;Memory cgroup out of memory: Killed process 42 (memhog) total-vm:12000kB, anon-rss:8000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:40kB oom_score_adj:0\n";
    let k = kills_in_log(log).remove(0);
    let printed = serde_json::to_value(&k).unwrap();
    let t = Tracker::new(Limits::default(), None);
    t.record(k, 1.0, true, Instant::now());
    let served = serde_json::to_value(t.recent(1)).unwrap();
    let served = served[0].as_object().unwrap();
    for (key, value) in printed.as_object().unwrap() {
        if key != "time" {
            assert_eq!(&served[key], value, "{key}");
        }
    }
    assert_eq!(served["memcg_limit_kb"], 8192);
    assert_eq!(served["trigger_pid"], 42);
    assert_eq!(served["top_tasks"][0]["rss_bytes"], 2000 * 4096);
}

/// A kill of `pid` whose task dump's largest row is `top`.
fn kill_with_dump(pid: u32, top: &str) -> Kill {
    let mut k = kill(pid, "victim");
    k.report.top_tasks = Some(vec![crate::kmsg::oom::report::Task {
        pid: pid + 1,
        uid: Some(0),
        comm: top.to_owned(),
        rss_pages: 100,
        rss_bytes: Some(409_600),
        swap_pages: Some(0),
        oom_score_adj: Some(0),
        rss_anon_pages: None,
        rss_file_pages: None,
        rss_shmem_pages: None,
    }]);
    k
}

#[test]
fn the_newest_kill_names_the_top_task_and_replaces_the_one_before() {
    let t = Tracker::new(Limits::default(), None);
    let now = Instant::now();
    assert_eq!(t.snapshot(now).last_top_task, None);
    t.record(kill_with_dump(1, "hog"), 100.0, true, now);
    assert_eq!(t.snapshot(now).last_top_task.as_deref(), Some("hog"));
    // An older kill read later (from before start) does not replace it.
    t.record(kill_with_dump(2, "older"), 50.0, false, now);
    assert_eq!(t.snapshot(now).last_top_task.as_deref(), Some("hog"));
    t.record(kill_with_dump(3, "java"), 200.0, true, now);
    assert_eq!(t.snapshot(now).last_top_task.as_deref(), Some("java"));
    // The newest kill without a dump: nothing is known, the old name goes.
    t.record(kill(4, "bare"), 300.0, true, now);
    assert_eq!(t.snapshot(now).last_top_task, None);
}

#[test]
fn a_victim_series_keeps_the_names_of_its_pod() {
    use crate::k8s::Names;
    let t = Tracker::new(Limits::default(), None);
    let t0 = Instant::now();
    let named = Names {
        namespace: Some("shop".to_owned()),
        pod: Some("cart-0".to_owned()),
        container: Some("app".to_owned()),
    };
    let mut first = kill(1, "app");
    first.names = named.clone();
    t.record(first.clone(), 1.0, true, t0);
    // A later kill of the same victim read when the names were gone (the
    // pod deleted) neither splits the series nor forgets them.
    t.record(kill(2, "app"), 2.0, true, t0 + Duration::from_secs(1));
    let s = t.snapshot(t0 + Duration::from_secs(2));
    assert_eq!(s.victims.len(), 1);
    assert_eq!((s.victims[0].kills, &s.victims[0].names), (2, &named));
    // The history keeps each kill's own names.
    let recent = t.recent(2);
    assert_eq!(recent[1].kill.names, named);
    assert_eq!(recent[0].kill.names, Names::default());
    let json = serde_json::to_value(&recent[1]).unwrap();
    assert_eq!(
        (&json["namespace"], &json["pod"], &json["container"]),
        (
            &serde_json::json!("shop"),
            &serde_json::json!("cart-0"),
            &serde_json::json!("app")
        )
    );
}
