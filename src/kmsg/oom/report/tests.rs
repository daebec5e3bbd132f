use super::*;

#[test]
fn trigger_of_every_header_form() {
    let t = trigger("gfp_mask=0x280da, order=0, oom_adj=0, oom_score_adj=-17");
    assert_eq!(t.gfp_mask.as_deref(), Some("0x280da"));
    assert_eq!((t.order, t.oom_score_adj), (Some(0), Some(-17)));
    let t = trigger(
        "gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0",
    );
    assert_eq!(
        t.gfp_mask.as_deref(),
        Some("0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO)")
    );
    assert_eq!(
        trigger("gfp_mask=0xcc0(GFP_KERNEL), order=-1, oom_score_adj=0").order,
        Some(-1)
    );
    // Cut mid-way: what is whole is kept.
    let t = trigger("gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), ord");
    assert_eq!(
        t.gfp_mask.as_deref(),
        Some("0x6200ca(GFP_HIGHUSER_MOVABLE)")
    );
    assert_eq!(t.order, None);
    assert_eq!(trigger("gfp_mask="), Trigger::default());
}

#[test]
fn parts_are_recognised_as_the_kernel_prints_them() {
    assert_eq!(
        classify("CPU: 4 PID: 29481 Comm: sed Not tainted 3.10.0 #1"),
        Some(Part::TriggerPid(29481, Some("3.10.0")))
    );
    assert_eq!(
        classify("Pid: 23212, comm: php-fpm Not tainted 2.6.32"),
        Some(Part::TriggerPid(23212, None))
    );
    assert_eq!(classify("Free swap  = 84kB"), Some(Part::FreeSwap(84)));
    assert_eq!(
        classify("Total swap = 25165820kB"),
        Some(Part::TotalSwap(25_165_820))
    );
    let usage = |u, l, f| Usage {
        usage_kb: u,
        limit_kb: l,
        failcnt: f,
    };
    assert_eq!(
        classify("memory: usage 31211520kB, limit 31211520kB, failcnt 83420"),
        Some(Part::Counter(
            Counter::Memory,
            usage(Some(31_211_520), Some(31_211_520), Some(83_420))
        ))
    );
    assert_eq!(
        classify("memory+swap: usage 2kB, limit 9007199254740988kB, failcnt 0"),
        Some(Part::Counter(
            Counter::MemorySwap,
            usage(Some(2), Some(9_007_199_254_740_988), Some(0))
        ))
    );
    assert_eq!(
        classify("kmem: usage 0kB, limit 9007199254740988kB, failcnt 0")
            .map(|p| matches!(p, Part::Counter(Counter::Kmem, _))),
        Some(true)
    );
    assert_eq!(
        classify("swap: usage 0kB, limit 0kB, fail"),
        Some(Part::Counter(Counter::Swap, usage(Some(0), Some(0), None)))
    );
    assert_eq!(classify("swapper/0: page allocation failure"), None);
    assert_eq!(
        classify("Tasks state (memory values in pages):"),
        Some(Part::TasksState)
    );
    assert_eq!(classify("CPU: 1 PID: x Comm: y"), None);
}

fn whole(text: &str, c: &Columns) -> Task {
    match dump_row(text, c) {
        Row::Whole(t) => t,
        other => panic!("{text}: {other:?}"),
    }
}

fn header(text: &str) -> Columns {
    match classify(text) {
        Some(Part::DumpHeader(c)) => c,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn rows_of_every_dump_header_form() {
    // 2.6.32
    let c = header("[ pid ]   uid  tgid total_vm      rss cpu oom_adj oom_score_adj name");
    let t = whole(
        "[  788]     0   788     2671        1   7     -17         -1000 udevd",
        &c,
    );
    assert_eq!(
        (t.pid, t.uid, t.rss_pages, t.swap_pages, t.oom_score_adj),
        (788, Some(0), 1, None, Some(-1000))
    );
    assert_eq!(t.comm, "udevd");
    // 3.x-4.x
    let c = header("[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name");
    let t = whole(
        "[  433]     0   433    11104        2      22      360         -1000 systemd-udevd",
        &c,
    );
    assert_eq!(
        (t.rss_pages, t.swap_pages, t.oom_score_adj),
        (2, Some(360), Some(-1000))
    );
    // 4.19+, a comm with a space
    let c = header(
        "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
    );
    let t = whole(
        "[1833436]     0 1833436    42653      656   102400        0             0 (sd pam)",
        &c,
    );
    assert_eq!(
        (t.pid, t.rss_pages, t.comm.as_str()),
        (1_833_436, 656, "(sd pam)")
    );
    assert_eq!(t.rss_anon_pages, None);
    // 6.x
    let c = header(
        "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name",
    );
    let t = whole(
        "[  19700]     0 19700   20000    16500    16320      180        0   180224        0             0 memhog",
        &c,
    );
    assert_eq!(
        (
            t.rss_pages,
            t.rss_anon_pages,
            t.rss_file_pages,
            t.rss_shmem_pages
        ),
        (16_500, Some(16_320), Some(180), Some(0))
    );
    // Cut short, or not a row.
    assert_eq!(
        dump_row("[  19700]     0 19700   20000    16500    16320", &c),
        Row::Cut
    );
    // A RHEL 6 row that syslog cut mid-line.
    assert_eq!(
        dump_row(
            "[23093]    48 23093    53756      863   8       0     p-fpm",
            &c
        ),
        Row::Cut
    );
    assert_eq!(dump_row("[  12.5] eth0: link up", &c), Row::Not);
    assert_eq!(dump_row("[12] eth0: link up", &c), Row::Not);
}

fn task(pid: u32, rss: u64) -> Task {
    Task {
        pid,
        uid: None,
        comm: format!("p{pid}"),
        rss_pages: rss,
        rss_bytes: None,
        swap_pages: None,
        oom_score_adj: None,
        rss_anon_pages: None,
        rss_file_pages: None,
        rss_shmem_pages: None,
    }
}

#[test]
fn top_rows_by_rss_ties_to_the_lower_pid_and_bounded() {
    let c = header("[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name");
    let mut dump = Dump::new(c);
    for pid in (1..=30_000u32).rev() {
        dump.push(task(pid, u64::from(pid % 7)), 3);
    }
    let mut r = Report::default();
    dump.fill(&mut r, 6, Some(24));
    let top: Vec<(u32, u64)> = r
        .top_tasks
        .unwrap()
        .iter()
        .map(|t| (t.pid, t.rss_pages))
        .collect();
    assert_eq!(top, [(6, 6), (13, 6), (20, 6)]);
    assert_eq!(r.tasks_in_dump, Some(30_000));
    assert_eq!(dump.top.len(), 3);
    assert_eq!(dump.index.len(), MAX_INDEXED_ROWS);
    assert_eq!(
        (r.page_size_bytes, r.page_size_assumed),
        (Some(4096), Some(false))
    );
}

#[test]
fn page_size_from_the_victims_row_else_assumed() {
    let c = header("[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name");
    let mut dump = Dump::new(c);
    dump.push(task(7, 1000), 10);
    let mut r = Report::default();
    dump.fill(&mut r, 7, Some(64_000));
    assert_eq!(
        (r.page_size_bytes, r.page_size_assumed),
        (Some(65_536), Some(false))
    );
    assert_eq!(r.top_tasks.unwrap()[0].rss_bytes, Some(65_536_000));
    let mut r = Report::default();
    dump.fill(&mut r, 8, Some(64_000));
    assert_eq!(
        (r.page_size_bytes, r.page_size_assumed),
        (Some(4096), Some(true))
    );
    assert_eq!(page_size(1000, 3000), None);
}
