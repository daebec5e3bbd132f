use super::*;

const HOG: Victim<'static> = Victim {
    pid: 77,
    comm: "hog",
    uid: Some(1000),
};

fn summary(text: &str) -> Summary {
    Summary::parse(text).unwrap()
}

fn reading(oom: Option<&str>, task: &str) -> Reading {
    Reading {
        oom_memcg: oom.map(str::to_owned),
        task_memcg: task.to_owned(),
    }
}

#[test]
fn plain_summaries() {
    let s = summary(
        "constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a/b,task=hog,pid=77,uid=1000",
    );
    assert_eq!(s.constraint(), Some("CONSTRAINT_MEMCG"));
    assert_eq!(s.memcg(), Some(true));
    let about = s.about(&HOG).unwrap();
    assert_eq!(about.readings, [reading(Some("/a"), "/a/b")]);
    assert_eq!(about.uid, Some(1000));
    let s = summary(
        "constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=hog,pid=77,uid=1000",
    );
    assert_eq!(s.memcg(), Some(false));
    assert_eq!(s.about(&HOG).unwrap().readings, [reading(None, "/")]);
}

#[test]
fn another_victims_summary_says_nothing_about_this_one() {
    let s = summary(
        "constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=hog,pid=78,uid=1000",
    );
    assert_eq!(s.about(&HOG), None);
    // Same pid, other uid: not this victim either.
    let s = summary(
        "constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=hog,pid=77,uid=0",
    );
    assert_eq!(s.about(&HOG), None);
    // A victim line without a uid (5.0-5.2) takes the summary's.
    let v = Victim { uid: None, ..HOG };
    assert_eq!(s.about(&v).unwrap().uid, Some(0));
    let s = summary(
        "constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=hog,pid=77,uid=10000",
    );
    assert_eq!(s.about(&HOG), None);
}

#[test]
fn a_summary_cut_short_after_the_comm_still_fits() {
    for cut in [
        ",task=hog",
        ",task=hog,pi",
        ",task=hog,pid=77",
        ",task=hog,pid=77,uid=10",
    ] {
        let s = summary(&format!(
            "constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a{cut}"
        ));
        assert_eq!(
            s.about(&HOG).unwrap().readings,
            [reading(Some("/a"), "/a")],
            "{cut}"
        );
    }
    // Cut inside the comm: it cannot be told from another task's.
    let s = summary("constraint=CONSTRAINT_MEMCG,oom_memcg=/a,task_memcg=/a,task=ho");
    assert_eq!(s.about(&HOG), None);
}

#[test]
fn two_readings_stay_ambiguous_unless_the_stats_line_decides() {
    // Both are real cgroup trees someone could create:
    // /a/"b,task_memcg="/"a,task_memcg="/b and /"a,task_memcg="/a/b.
    let s = summary(
        "constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a/b,task_memcg=/a,task_memcg=/a/b,task=hog,pid=77,uid=1000",
    );
    let readings = s.about(&HOG).unwrap().readings;
    let one = reading(Some("/a"), "/a/b,task_memcg=/a,task_memcg=/a/b");
    let two = reading(Some("/a,task_memcg=/a/b"), "/a,task_memcg=/a/b");
    assert_eq!(readings, [one.clone(), two.clone()]);
    assert_eq!(
        settle(readings.clone(), None),
        Attribution::Ambiguous(readings.clone())
    );
    assert_eq!(
        settle(readings.clone(), Some("/a")),
        Attribution::Known(one)
    );
    assert_eq!(
        settle(readings.clone(), Some("/a,task_memcg=/a/b")),
        Attribution::Known(two)
    );
    assert_eq!(
        settle(readings.clone(), Some("/elsewhere")),
        Attribution::Ambiguous(readings)
    );
}

#[test]
fn no_reading_fits_when_the_victim_is_not_below_the_limit() {
    let s = summary(
        "constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/b,task=hog,pid=77,uid=1000",
    );
    let readings = s.about(&HOG).unwrap().readings;
    assert!(readings.is_empty());
    assert_eq!(settle(readings, None), Attribution::Ambiguous(Vec::new()));
    // Names a cgroup cannot have are not readings either.
    for task in ["/a/../x", "/a//x", "/a/./x", "/a/"] {
        let s = summary(&format!(
            "constraint=CONSTRAINT_MEMCG,oom_memcg=/a,task_memcg={task},task=hog,pid=77,uid=1000"
        ));
        assert!(s.about(&HOG).unwrap().readings.is_empty(), "{task}");
    }
}

#[test]
fn the_first_path_marker_is_the_kernels() {
    // A global OOM whose victim's cgroup spells a memcg OOM, and back.
    let s = summary(
        "constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/u/x,oom_memcg=/k,task_memcg=/k,task=hog,pid=77,uid=1000",
    );
    assert_eq!(s.memcg(), Some(false));
    assert_eq!(
        s.about(&HOG).unwrap().readings,
        [reading(None, "/u/x,oom_memcg=/k,task_memcg=/k")]
    );
    let s = summary(
        "constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/u/x,global_oom,task_memcg=/k,task_memcg=/u/x,global_oom,task_memcg=/k,task=hog,pid=77,uid=1000",
    );
    assert_eq!(s.memcg(), Some(true));
    assert_eq!(
        s.about(&HOG).unwrap().readings,
        [reading(
            Some("/u/x,global_oom,task_memcg=/k"),
            "/u/x,global_oom,task_memcg=/k"
        )]
    );
    // A cpuset name cannot hold a '/', so not a marker.
    let s = summary(
        "constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=x,global_oom,task_memcg=,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=hog,pid=77,uid=1000",
    );
    assert_eq!(s.memcg(), Some(true));
}

#[test]
fn summaries_only_start_as_the_kernel_starts_them() {
    assert!(Summary::parse("[21808]: segfault at 0 ip 0 sp 0 error 4").is_none());
    assert!(Summary::parse(",cpuset=/,mems_allowed=0,global_oom,task_memcg=/").is_some());
}

#[test]
fn lines_longer_than_a_kernel_record_are_not_read_every_way() {
    let long = format!(
        "constraint=CONSTRAINT_MEMCG,oom_memcg=/a{},task=hog,pid=77,uid=1000",
        ",task_memcg=/a".repeat(100_000)
    );
    assert!(Summary::parse(&long).is_none());
    let long = format!("/a{}", " killed as a result of limit of /a".repeat(50_000));
    assert_eq!(task_in(&long, true), None);
}

#[test]
fn task_in_lines() {
    assert_eq!(
        task_in("/a/b killed as a result of limit of /a", true),
        Some(vec![reading(Some("/a"), "/a/b")])
    );
    // Forged: only the split with the victim below the limit is left.
    let forged = "/u/x killed as a result of limit of /k killed as a result of limit of /u/x killed as a result of limit of /k";
    assert_eq!(
        task_in(forged, true),
        Some(vec![reading(
            Some("/u/x killed as a result of limit of /k"),
            "/u/x killed as a result of limit of /k"
        )])
    );
    // The kernel's line, but no reading fits.
    assert_eq!(
        task_in("/b killed as a result of limit of /a", true),
        Some(vec![])
    );
    // Wrapped in a paste: the victim's cgroup alone, but never from a
    // kernel record, where the line is always whole.
    assert_eq!(
        task_in("/docker/abc", false),
        Some(vec![reading(None, "/docker/abc")])
    );
    assert_eq!(task_in("/docker/abc", true), None);
    assert_eq!(
        task_in("/k[12]: segfault at 0 ip 0 sp 0 error 4 in a[1+2]", true),
        None
    );
}

#[test]
fn stats_lines() {
    assert_eq!(
        stats_for("Memory cgroup stats for /a,b: c:").as_deref(),
        Some("/a,b: c")
    );
    assert_eq!(
        stats_for("Memory cgroup stats for /mem2: cache:0KB rss:980KB rss_huge:0KB").as_deref(),
        Some("/mem2")
    );
    assert_eq!(stats_for("Memory cgroup stats for "), None);
    assert_eq!(stats_for("Memory cgroup stats for /a/very/long/pa"), None);
}
