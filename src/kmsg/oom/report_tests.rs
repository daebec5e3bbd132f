//! The report's other parts joined to their kill.

use super::report::MemcgStats;
use super::tests::one;
use super::*;

/// A cgroup v1 memcg report from a 6.x kernel, raw records: the victim
/// (oom_score_adj 1000) is not the process holding the most memory.
const MEMCG_V1: &str = "\
4,100,1000000,-;memhog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
4,101,1000010,-;CPU: 1 PID: 4242 Comm: memhog Not tainted 6.18.0 #1
4,102,1000020,-;memory: usage 65536kB, limit 65536kB, failcnt 77
4,103,1000030,-;memory+swap: usage 65536kB, limit 9007199254740988kB, failcnt 0
4,104,1000040,-;kmem: usage 1024kB, limit 9007199254740988kB, failcnt 0
6,105,1000050,-;Memory cgroup stats for /app:
6,106,1000060,-;Tasks state (memory values in pages):
6,107,1000070,-;[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name
6,108,1000080,-;[   4242]     0  4242    20000    16000    15800      200        0   180224        0             0 memhog
6,109,1000090,-;[   4243]  1000  4243     3000     1000      900      100        0    40960        3          1000 small one
6,110,1000100,-;[   4244]     0  4244     3000     1000      950       50        0    40960        0             0 peer
6,111,1000110,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/app,task_memcg=/app,task=small one,pid=4243,uid=1000
3,112,1000120,-;Memory cgroup out of memory: Killed process 4243 (small one) total-vm:12000kB, anon-rss:3600kB, file-rss:400kB, shmem-rss:0kB, UID:1000 pgtables:40kB oom_score_adj:1000
";

#[test]
fn memcg_v1_report_joins_trigger_counters_and_dump() {
    let k = one(MEMCG_V1);
    let r = &k.report;
    assert_eq!(k.pid, 4243);
    assert_eq!(k.invoked_by.as_deref(), Some("memhog"));
    assert_eq!(r.trigger_pid, Some(4242));
    assert_eq!(r.gfp_mask.as_deref(), Some("0xcc0(GFP_KERNEL)"));
    assert_eq!((r.order, r.sysrq), (Some(0), Some(false)));
    assert_eq!(
        (r.memcg_usage_kb, r.memcg_limit_kb, r.memcg_failcnt),
        (Some(65_536), Some(65_536), Some(77))
    );
    assert_eq!(
        (r.memsw_usage_kb, r.memsw_limit_kb),
        (Some(65_536), Some(9_007_199_254_740_988))
    );
    assert_eq!(r.kmem_usage_kb, Some(1024));
    assert_eq!(
        (r.swap_usage_kb, r.swap_free_kb, r.swap_total_kb),
        (None, None, None)
    );
    assert_eq!(r.tasks_in_dump, Some(3));
    let top = r.top_tasks.as_ref().unwrap();
    let rows: Vec<(u32, &str, u64)> = top
        .iter()
        .map(|t| (t.pid, t.comm.as_str(), t.rss_pages))
        .collect();
    // Ties to the lower pid.
    assert_eq!(
        rows,
        [
            (4242, "memhog", 16_000),
            (4243, "small one", 1000),
            (4244, "peer", 1000)
        ]
    );
    assert_eq!(top[1].oom_score_adj, Some(1000));
    assert_eq!((top[1].uid, top[1].swap_pages), (Some(1000), Some(3)));
    assert_eq!(
        (
            top[0].rss_anon_pages,
            top[0].rss_file_pages,
            top[0].rss_shmem_pages
        ),
        (Some(15_800), Some(200), Some(0))
    );
    // The victim's row (1000 pages) and its line (4000 kB): 4 KiB pages.
    assert_eq!(
        (r.page_size_bytes, r.page_size_assumed),
        (Some(4096), Some(false))
    );
    assert_eq!(top[0].rss_bytes, Some(16_000 * 4096));
}

#[test]
fn sysrq_forced_oom_says_so() {
    let k = one(
        "kworker/0:2 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=-1, oom_score_adj=0\n\
         Out of memory: Killed process 651 (unattended-upgr) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n",
    );
    assert_eq!((k.report.order, k.report.sysrq), (Some(-1), Some(true)));
    // No dump: null, not an empty list.
    assert_eq!(
        (k.report.tasks_in_dump, k.report.top_tasks.as_ref()),
        (None, None)
    );
}

/// RHEL 8 (4.18) killing a child of the selected task: the summary names
/// the parent, the child dies, and it belongs to the event all the same.
#[test]
fn a_sacrificed_child_gets_its_events_cgroup_and_report() {
    let k = one(
        "6,1,100,-;java invoked oom-killer: gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0\n\
         6,2,110,-;CPU: 0 PID: 900 Comm: java Not tainted 4.18.0-553.el8_10.x86_64 #1\n\
         6,3,120,-;Tasks state (memory values in pages):\n\
         6,4,130,-;[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name\n\
         6,5,140,-;[    800]     0   800   100000    50000   409600        0             0 launcher\n\
         6,6,150,-;[    801]     0   801   100000    90000   409600        0             0 worker\n\
         6,7,160,-;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/app.service,task=launcher,pid=800,uid=0\n\
         3,8,170,-;Out of memory: Kill process 800 (launcher) score 900 or sacrifice child\n\
         3,9,180,-;Killed process 801 (worker) total-vm:400000kB, anon-rss:360000kB, file-rss:0kB, shmem-rss:0kB\n",
    );
    assert_eq!((k.pid, k.comm.as_str()), (801, "worker"));
    assert_eq!(k.constraint, Constraint::Global);
    assert_eq!(k.task_memcg.as_deref(), Some("/system.slice/app.service"));
    assert_eq!(k.unit.as_deref(), Some("app.service"));
    assert!(!k.attribution_ambiguous);
    // The parent's uid is not the child's.
    assert_eq!(k.uid, None);
    assert_eq!(
        (k.invoked_by.as_deref(), k.report.trigger_pid),
        (Some("java"), Some(900))
    );
    assert_eq!(k.report.tasks_in_dump, Some(2));
    assert_eq!(k.report.top_tasks.as_ref().unwrap()[0].pid, 801);
}

#[test]
fn parts_after_a_kill_wait_for_a_line_that_starts_an_event() {
    let peer = "\
         6,121,1000210,-;[   4244]     0  4244     3000     1000      950       50        0    40960        0             0 peer\n\
         3,122,1000220,-;Memory cgroup out of memory: Killed process 4244 (peer) total-vm:12000kB, anon-rss:3800kB, file-rss:200kB, shmem-rss:0kB, UID:0 pgtables:40kB oom_score_adj:0\n";
    // A stray dump row is not given to the next kill.
    let kills = kills_in_log(&format!("{MEMCG_V1}{peer}"));
    assert_eq!(kills.len(), 2);
    assert_eq!(kills[1].report, report::Report::default());
    // `memory: usage` is the first line of a memcg report's counters: a
    // new event whose header was rate-limited away, with only its own parts.
    let kills = kills_in_log(&format!(
        "{MEMCG_V1}4,120,1000200,-;memory: usage 1kB, limit 2kB, failcnt 3\n{peer}"
    ));
    assert_eq!(kills.len(), 2);
    let want = report::Report {
        memcg_usage_kb: Some(1),
        memcg_limit_kb: Some(2),
        memcg_failcnt: Some(3),
        ..report::Report::default()
    };
    assert_eq!(kills[1].report, want);
}

#[test]
fn swap_and_the_triggers_pid_need_a_header() {
    let k = one("CPU: 3 PID: 77 Comm: x Not tainted 6.1.0 #1\n\
         Free swap  = 84kB\n\
         Total swap = 1000kB\n\
         Out of memory: Killed process 5 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n");
    assert_eq!(k.report, report::Report::default());
}

#[test]
fn a_dump_stalled_by_a_slow_console_stays_in_its_event() {
    let k = one(
        "[100.000000] php-fpm invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=0, oom_score_adj=0\n\
         [100.100000] Pid: 23212, comm: php-fpm Not tainted 2.6.32-642.11.1.el6.x86_64 #1\n\
         [100.200000] Free swap  = 0kB\n\
         [100.300000] [ pid ]   uid  tgid total_vm      rss cpu oom_adj oom_score_adj name\n\
         [100.400000] [23093]    48 23093    53756      863   8       0     p-fpm\n\
         [113.700000] [23022]  1002 23022   180470    35852   4       0             0 php-fpm\n\
         [113.800000] Out of memory: Kill process 23022 (php-fpm) score 6 or sacrifice child\n\
         [113.900000] Killed process 23022, UID 1002, (php-fpm) total-vm:721880kB, anon-rss:143400kB, file-rss:8kB\n",
    );
    assert_eq!(k.invoked_by.as_deref(), Some("php-fpm"));
    assert_eq!(
        (k.report.trigger_pid, k.report.swap_free_kb),
        (Some(23212), Some(0))
    );
    // The cut row counts, but only the whole one is ranked.
    assert_eq!(k.report.tasks_in_dump, Some(2));
    assert_eq!(k.report.top_tasks.as_ref().unwrap().len(), 1);
    // Without a dump the usual window applies.
    let k = one(
        "[100.000000] php-fpm invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=0, oom_score_adj=0\n\
         [113.900000] Killed process 23022, UID 1002, (php-fpm) total-vm:721880kB, anon-rss:143400kB, file-rss:8kB\n",
    );
    assert_eq!((k.invoked_by, k.report.gfp_mask), (None, None));
}

fn stats(log: &str) -> MemcgStats {
    one(log).report.memcg_stats.expect("memcg_stats")
}

#[test]
fn memcg_stats_of_a_cgroup_v2_block_continued_under_a_dmesg_stamp() {
    let s = stats("\
[Di Aug 12 03:54:03 2025] memory: usage 31211520kB, limit 31211520kB, failcnt 83420
[Di Aug 12 03:54:03 2025] Memory cgroup stats for /lxc/39004:
[Di Aug 12 03:54:03 2025] anon 31154200576
                          file 688283648
                          kernel 10436608
                          sock 405504
                          shmem 687980544
                          file_dirty 4096
                          file_writeback 0
                          inactive_anon 31307640832
                          slab 22183352
                          pgmajfault 328889433
[Di Aug 12 03:54:03 2025] Tasks state (memory values in pages):
[Di Aug 12 03:54:03 2025] Memory cgroup out of memory: Killed process 1 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB
");
    assert_eq!(
        s,
        MemcgStats {
            anon: Some(31_154_200_576),
            file: Some(688_283_648),
            shmem: Some(687_980_544),
            kernel: Some(10_436_608),
            slab: Some(22_183_352),
            sock: Some(405_504),
            file_dirty: Some(4096),
            file_writeback: Some(0),
            swap: None,
        }
    );
}

#[test]
fn memcg_stats_of_cgroup_v1_take_the_subtree_totals() {
    // 6.x, one record per key: `total_` (the whole subtree) wins over the
    // cgroup's own counter.
    let s = stats("\
6,449,723789604,-;Memory cgroup stats for /app:
6,450,723789636,-;cache 0
6,451,723789638,-;rss 66916352
6,452,723789640,-;shmem 0
6,453,723789641,-;swap 0
6,454,723789642,-;total_cache 8192
6,455,723789643,-;total_rss 70000000
6,456,723789644,-;total_swap 4096
6,457,723789758,-;[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name
3,458,723789800,-;Memory cgroup out of memory: Killed process 19700 (memhog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB
");
    assert_eq!(
        (s.anon, s.file, s.shmem, s.swap, s.slab),
        (Some(70_000_000), Some(8192), Some(0), Some(4096), None)
    );
    // Before 4.19: one line per cgroup of the subtree, in KB; they add up.
    let s = stats("\
[193038.106481] Memory cgroup stats for /docker/0f2b: cache:4KB rss:520580KB rss_huge:450560KB shmem:0KB mapped_file:0KB dirty:8KB writeback:0KB inactive_anon:0KB
[193038.106490] Memory cgroup stats for /docker/0f2b/x: cache:0KB rss:100KB rss_huge:0KB shmem:0KB mapped_file:0KB dirty:0KB writeback:0KB inactive_anon:0KB
[193038.106499] Memory cgroup out of memory: Kill process 1 (x) score 1 or sacrifice child
[193038.106500] Killed process 1 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB
");
    assert_eq!(
        (s.anon, s.file, s.file_dirty, s.kernel),
        (Some(520_680 * 1024), Some(4096), Some(8192), None)
    );
}

#[test]
fn memcg_stats_in_one_record_and_never_past_the_block() {
    // Kernels 5.x-6.4 print the block as one record: /dev/kmsg escapes its
    // newlines.
    let s = stats("\
6,10,1000,-;Memory cgroup stats for /k:
6,11,1010,-;anon 257044480\\x0afile 925696\\x0akernel 10436608\\x0ashmem 0
3,12,1020,-;Memory cgroup out of memory: Killed process 5 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB
");
    assert_eq!(
        (s.anon, s.file, s.kernel, s.shmem),
        (Some(257_044_480), Some(925_696), Some(10_436_608), Some(0))
    );
    // The block ends at the first line that is not `key value`: a later
    // `key value` line is not read into it, and a kill line is never eaten.
    let k = one("\
6,10,1000,-;Memory cgroup stats for /k:
6,11,1010,-;anon 4096
6,12,1011,-;Tasks state (memory values in pages):
6,13,1012,-;file 8192
3,14,1020,-;Memory cgroup out of memory: Killed process 5 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB
");
    let s = k.report.memcg_stats.unwrap();
    assert_eq!((s.anon, s.file), (Some(4096), None));
    assert_eq!(
        report::stat_lines("Out of memory: Killed process 5 (x)"),
        None
    );
    assert_eq!(report::stat_lines("anon 12 x"), None);
    assert_eq!(report::stat_lines("Anon 12"), None);
}

const GLOBAL_2_6_32: &str = "\
Jun 20 12:47:04 db1 kernel: [15180285.000001] mysqld invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=0, oom_score_adj=0
Jun 20 12:47:04 db1 kernel: [15180285.545251] Mem-Info:
Jun 20 12:47:04 db1 kernel: [15180285.558836] CPU   11: hi:  186, btch:  31 usd:   0
Jun 20 12:47:04 db1 kernel: [15180285.559177] active_anon:7343961 inactive_anon:556529 isolated_anon:0
Jun 20 12:47:04 db1 kernel: [15180285.559178]  active_file:304 inactive_file:144 isolated_file:317
Jun 20 12:47:04 db1 kernel: [15180285.559179]  unevictable:0 dirty:2 writeback:0 unstable:0
Jun 20 12:47:04 db1 kernel: [15180285.559180]  free:49825 slab_reclaimable:13213 slab_unreclaimable:44840
Jun 20 12:47:04 db1 kernel: [15180285.559181]  mapped:38195 shmem:52281 pagetables:124334 bounce:0
Jun 20 12:47:04 db1 kernel: [15180285.560875] Node 0 DMA free:15744kB min:28kB low:32kB active_anon:0kB
Jun 20 12:47:04 db1 kernel: [15180285.560876] free:1 shmem:2
Jun 20 12:47:04 db1 kernel: [15180285.656179] 8388607 pages RAM
Jun 20 12:47:04 db1 kernel: [15180285.700000] Out of memory: Kill process 9 (mysqld) score 900 or sacrifice child
Jun 20 12:47:04 db1 kernel: [15180285.700001] Killed process 9, UID 27, (mysqld) total-vm:1kB, anon-rss:1kB, file-rss:0kB
";

#[test]
fn meminfo_summary_and_ram_of_a_global_oom() {
    let r = one(GLOBAL_2_6_32).report;
    assert_eq!(
        r.meminfo_pages.as_ref().map(|m| (
            m.free,
            m.anon,
            m.page_cache,
            m.shmem,
            m.slab_reclaimable,
            m.slab_unreclaimable
        )),
        Some((
            Some(49_825),
            Some(7_343_961 + 556_529),
            Some(304 + 144),
            Some(52_281),
            Some(13_213),
            Some(44_840)
        ))
    );
    let m = r.meminfo_pages.unwrap();
    assert_eq!(
        (m.mapped, m.pagetables, m.unevictable, m.dirty, m.writeback),
        (Some(38_195), Some(124_334), Some(0), Some(2), Some(0))
    );
    assert_eq!(r.ram_pages, Some(8_388_607));
    // RHEL 7-8 syslog: the summary in one line, its newlines as `#012`.
    let log = "\
Sep 29 08:12:34 h kernel: sed invoked oom-killer: gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), nodemask=(null), order=0, oom_score_adj=0
Sep 29 08:12:34 h kernel: Mem-Info:
Sep 29 08:12:34 h kernel: active_anon:33632 inactive_anon:1327714 isolated_anon:0#012 active_file:43 inactive_file:127 isolated_file:40#012 unevictable:20549 dirty:23 writeback:0#012 slab_reclaimable:11170 slab_unreclaimable:13399#012 mapped:34989 shmem:74232 pagetables:7365 bounce:0#012 free:23902 free_pcp:1055 free_cma:0
Sep 29 08:12:34 h kernel: 1572729 pages RAM
Sep 29 08:12:34 h kernel: Out of memory: Killed process 7 (varnishd) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB
";
    let r = one(log).report;
    let m = r.meminfo_pages.unwrap();
    assert_eq!(
        (m.free, m.anon, m.page_cache, m.shmem),
        (
            Some(23_902),
            Some(33_632 + 1_327_714),
            Some(170),
            Some(74_232)
        )
    );
    assert_eq!(r.ram_pages, Some(1_572_729));
}

#[test]
fn meminfo_only_inside_a_headed_event() {
    // Mem-Info and `pages RAM` are also printed by SysRq-m and page
    // allocation failures: without an OOM header they are not taken.
    let log = "\
[10.000000] active_anon:1 inactive_anon:2 isolated_anon:0
[10.000001]  free:3
[10.000002] 100 pages RAM
[10.100000] Out of memory: Killed process 7 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB
";
    let r = one(log).report;
    assert_eq!((r.meminfo_pages, r.ram_pages), (None, None));
    // A line cut mid-summary ends it; what was read stays.
    let log = "\
[10.000000] x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
[10.000001] active_anon:1 inactive_anon:2 isolated_anon:0
[10.000002]  active_file:4 inactive_fi
[10.000003]  free:3
[10.100000] Out of memory: Killed process 7 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB
";
    let m = one(log).report.meminfo_pages.unwrap();
    assert_eq!((m.anon, m.page_cache, m.free), (Some(3), None, None));
}

#[test]
fn a_quoted_syslog_report_cut_by_a_pager_among_userspace_lines() {
    // Every line quoted in a mail, userspace lines in between (one of them
    // quoting a kill), the summary joined by `#012`, lines a pager cut.
    let log = "\
> Sep 29 08:12:34 h kernel: java invoked oom-killer: gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0
> Sep 29 08:12:34 h sshd[812]: Out of memory: Killed process 9 (fake) total-vm:1kB
> Sep 29 08:12:34 h kernel: Mem-Info:
> Sep 29 08:12:34 h kernel: active_anon:10 inactive_anon:20 isolated_anon:0#012 active_file:1 inactive_file:2#012 free:5 free_pcp:1>
> Sep 29 08:12:34 h kernel: 1572729 pages R>
> Sep 29 08:12:34 h systemd[1]: Started session 4.
> Sep 29 08:12:34 h kernel: Out of memory: Killed process 7 (java) total-vm:123kB, anon-rss:45>
> Sep 29 08:12:35 h kernel: Out of memory: Killed process 8 (java) total-vm:123kB, anon-rss:45kB, file-rss:0kB, shmem-rss:0kB
";
    let kills = kills_in_log(log);
    assert_eq!(
        kills.iter().map(|k| k.pid).collect::<Vec<_>>(),
        [7, 8],
        "the userspace line is no kill, the cut one is"
    );
    let k = &kills[0];
    assert_eq!((k.total_vm_kb, k.anon_rss_kb), (Some(123), None));
    assert_eq!(k.invoked_by.as_deref(), Some("java"));
    let m = k.report.meminfo_pages.as_ref().unwrap();
    // The cut `free_pcp:1>` ends the summary with what was read before its
    // line: nothing of that line is guessed.
    assert_eq!((m.anon, m.page_cache, m.free), (Some(30), Some(3), None));
    assert_eq!(k.report.ram_pages, None);
}
