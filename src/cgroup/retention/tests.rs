use super::*;

const SERVICE: &str = "/a.service";
const RETENTION: Duration = Duration::from_secs(300);

fn kills(n: u64) -> Sample {
    Sample {
        usage: Some(1),
        oom_kill: Some(n),
        limit_hits: Some(10 * n),
        ..Sample::default()
    }
}

fn cgroup(path: &str, ino: u64) -> Incarnation {
    Incarnation {
        path: path.to_owned(),
        ino,
    }
}

fn read(path: &str, ino: u64, value: Sample) -> Observed<Sample> {
    Observed {
        cgroup: cgroup(path, ino),
        value,
    }
}

fn served(ledger: &Ledger, path: &str) -> Option<Sample> {
    let served = ledger.served();
    served
        .into_iter()
        .find(|s| s.path == path)
        .map(|s| s.sample)
}

fn counters(ledger: &Ledger) -> (Option<u64>, Option<u64>) {
    let s = served(ledger, SERVICE).expect("kept");
    (s.oom_kill, s.limit_hits)
}

fn none() -> HashMap<Incarnation, Sample> {
    HashMap::new()
}

/// One scrape at `now`: `found` read now, `existing` the kept paths the
/// walk found.
fn scrape(
    ledger: &mut Ledger,
    found: &[Observed<Sample>],
    existing: &[&str],
    max: usize,
    now: Instant,
) {
    ledger.merge(&none(), found, now);
    let chosen: HashSet<&str> = found.iter().map(|o| o.cgroup.path.as_str()).collect();
    let existing: HashSet<String> = existing.iter().map(|p| (*p).to_owned()).collect();
    let limits = Limits {
        retention: RETENTION,
        max,
    };
    ledger.expire(&chosen, &existing, limits, now);
}

fn paths(ledger: &Ledger) -> Vec<String> {
    ledger.served().into_iter().map(|s| s.path).collect()
}

#[test]
fn a_watch_read_between_scrapes_raises_the_counters() {
    let (mut ledger, now) = (Ledger::default(), Instant::now());
    ledger.merge(&none(), &[read(SERVICE, 7, kills(0))], now);
    let updates = HashMap::from([(cgroup(SERVICE, 7), kills(2))]);
    // Gone before the scrape: the watch's read is what remains.
    ledger.merge(&updates, &[], now);
    assert_eq!(counters(&ledger), (Some(2), Some(20)));
    // A stale watch read never lowers a counter.
    let updates = HashMap::from([(cgroup(SERVICE, 7), kills(1))]);
    ledger.merge(&updates, &[read(SERVICE, 7, kills(3))], now);
    assert_eq!(counters(&ledger), (Some(3), Some(30)));
}

#[test]
fn a_new_incarnation_continues_the_counters() {
    let (mut ledger, now) = (Ledger::default(), Instant::now());
    ledger.merge(&none(), &[read(SERVICE, 7, kills(1))], now);
    // The old one's last kill read by the watch, then a new inode.
    let updates = HashMap::from([(cgroup(SERVICE, 7), kills(2))]);
    ledger.merge(&updates, &[read(SERVICE, 8, kills(0))], now);
    assert_eq!(counters(&ledger), (Some(2), Some(20)));
    ledger.merge(&none(), &[read(SERVICE, 8, kills(1))], now);
    assert_eq!(counters(&ledger), (Some(3), Some(30)));
    // The usage is the new incarnation's alone.
    assert_eq!(served(&ledger, SERVICE).unwrap().usage, Some(1));
}

#[test]
fn a_new_incarnation_found_by_later_scrapes_continues_the_counters() {
    let (mut ledger, t0) = (Ledger::default(), Instant::now());
    scrape(&mut ledger, &[read(SERVICE, 7, kills(4))], &[], 10, t0);
    // Removed and created again between scrapes: the walk finds the
    // path, with another inode and counters from zero.
    let t1 = t0 + Duration::from_secs(15);
    let again = [read(SERVICE, 8, kills(1))];
    scrape(&mut ledger, &again, &[SERVICE], 10, t1);
    assert_eq!(counters(&ledger), (Some(5), Some(50)));
    let t2 = t1 + Duration::from_secs(15);
    scrape(&mut ledger, &again, &[SERVICE], 10, t2);
    assert_eq!(counters(&ledger), (Some(5), Some(50)), "carried once");
}

#[test]
fn a_late_read_of_the_replaced_incarnation_is_carried_once() {
    let (mut ledger, now) = (Ledger::default(), Instant::now());
    ledger.merge(&none(), &[read(SERVICE, 7, kills(1))], now);
    ledger.merge(&none(), &[read(SERVICE, 8, kills(0))], now);
    assert_eq!(counters(&ledger), (Some(1), Some(10)));
    // The watch read the old incarnation's last kill before it went,
    // but its word arrives after the replacement was seen.
    let late = HashMap::from([(cgroup(SERVICE, 7), kills(2))]);
    ledger.merge(&late, &[read(SERVICE, 8, kills(0))], now);
    assert_eq!(counters(&ledger), (Some(2), Some(20)));
    ledger.merge(&late, &[read(SERVICE, 8, kills(0))], now);
    assert_eq!(counters(&ledger), (Some(2), Some(20)), "carried twice");
}

#[test]
fn a_vanished_cgroup_is_kept_for_the_retention_period_then_dropped() {
    let (mut ledger, t0) = (Ledger::default(), Instant::now());
    scrape(&mut ledger, &[read(SERVICE, 7, kills(3))], &[], 10, t0);
    // Gone: kept with its last values until the period is up.
    let almost = t0 + RETENTION - Duration::from_millis(1);
    scrape(&mut ledger, &[], &[], 10, almost);
    assert_eq!(counters(&ledger), (Some(3), Some(30)));
    scrape(&mut ledger, &[], &[], 10, t0 + RETENTION);
    assert_eq!(paths(&ledger), Vec::<String>::new());
}

#[test]
fn a_cgroup_that_exists_but_is_no_longer_chosen_is_dropped_at_once() {
    let (mut ledger, t0) = (Ledger::default(), Instant::now());
    scrape(&mut ledger, &[read(SERVICE, 7, kills(3))], &[], 10, t0);
    // Still there (say, its limit was lifted): not a vanished cgroup.
    let t1 = t0 + Duration::from_secs(1);
    scrape(&mut ledger, &[], &[SERVICE], 10, t1);
    assert_eq!(paths(&ledger), Vec::<String>::new());
}

#[test]
fn vanished_cgroups_are_evicted_longest_gone_first_under_the_cap() {
    let (mut ledger, t0) = (Ledger::default(), Instant::now());
    let at = |s: u64| t0 + Duration::from_secs(s);
    scrape(&mut ledger, &[read("/old", 1, kills(0))], &[], 3, at(0));
    scrape(&mut ledger, &[read("/mid", 2, kills(0))], &[], 3, at(10));
    scrape(&mut ledger, &[read("/new", 3, kills(0))], &[], 3, at(20));
    assert_eq!(paths(&ledger), ["/mid", "/new", "/old"]);
    // Two cgroups found now, three vanished within retention: the cap of
    // three keeps the two found and the one gone last.
    let found = [read("/x", 4, kills(0)), read("/y", 5, kills(0))];
    scrape(&mut ledger, &found, &[], 3, at(30));
    assert_eq!(paths(&ledger), ["/new", "/x", "/y"]);
    // More found than the cap: every one found is kept, no vanished one.
    let found = [
        read("/x", 4, kills(0)),
        read("/y", 5, kills(0)),
        read("/z", 6, kills(0)),
        read("/w", 7, kills(0)),
    ];
    scrape(&mut ledger, &found, &[], 3, at(40));
    assert_eq!(paths(&ledger), ["/w", "/x", "/y", "/z"]);
}
