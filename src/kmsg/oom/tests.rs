use super::*;
use crate::kmsg::input::{Line, Stamp};

/// The one kill in `log`.
pub(super) fn one(log: &str) -> Kill {
    let kills = kills_in_log(log);
    assert_eq!(kills.len(), 1, "{kills:#?}");
    kills.into_iter().next().unwrap()
}

#[test]
fn mainline_5_4_with_summary() {
    let k = one(
        "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/cron.service,task=php,pid=70787,uid=1000\n\
                 Out of memory: Killed process 70787 (php) total-vm:3621976kB, anon-rss:3235148kB, file-rss:5760kB, shmem-rss:69120kB, UID:1000 pgtables:6960kB oom_score_adj:0",
    );
    assert_eq!((k.pid, k.comm.as_str(), k.uid), (70787, "php", Some(1000)));
    assert_eq!(k.constraint, Constraint::Global);
    assert_eq!(k.task_memcg.as_deref(), Some("/system.slice/cron.service"));
    assert_eq!(k.unit.as_deref(), Some("cron.service"));
    assert_eq!(
        (
            k.anon_rss_kb,
            k.shmem_rss_kb,
            k.pgtables_kb,
            k.oom_score_adj
        ),
        (Some(3_235_148), Some(69_120), Some(6960), Some(0))
    );
}

#[test]
fn rhel6_and_rhel7_variants() {
    let k = one("Killed process 1234, UID 48, (httpd) total-vm:123kB, anon-rss:4kB, file-rss:1kB");
    assert_eq!(
        (k.pid, k.comm.as_str(), k.uid, k.total_vm_kb),
        (1234, "httpd", Some(48), Some(123))
    );
    let k = one(
        "Killed process 443160 (stress-ng-vm), UID 0, total-vm:773468kB, anon-rss:152704kB, file-rss:164kB, shmem-rss:0kB",
    );
    assert_eq!(
        (k.pid, k.comm.as_str(), k.uid, k.anon_rss_kb),
        (443_160, "stress-ng-vm", Some(0), Some(152_704))
    );
}

#[test]
fn not_kills() {
    assert!(kills_in_log("OOM victim 123 (java) is already exiting. Skip killing the task\n\
                          Out of memory and no killable processes...\n\
                          oom_reaper: reaped process 4294 (node), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB\n\
                          audit: Killed process 5 (x) total-vm:1kB").is_empty());
}

#[test]
fn oom_group_counts_each_distinct_member_once() {
    let kills = kills_in_log(
        "6,1,100,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/kubepods/pod10d16a28-60ff-475f-a631-510d9792219f,task_memcg=/kubepods/pod10d16a28-60ff-475f-a631-510d9792219f/app,task=web,pid=10,uid=0\n\
         3,2,101,-;Memory cgroup out of memory: Killed process 10 (web) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n\
         6,3,102,-;Tasks in /kubepods/pod10d16a28-60ff-475f-a631-510d9792219f are going to be killed due to memory.oom.group set\n\
         3,4,103,-;Memory cgroup out of memory: Killed process 10 (web) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n\
         3,5,104,-;Memory cgroup out of memory: Killed process 11 (sidecar) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n",
    );
    assert_eq!(kills.iter().map(|k| k.pid).collect::<Vec<_>>(), [10, 11]);
    assert!(kills[1].oom_group);
    assert_eq!(kills[1].constraint, Constraint::Memcg);
    assert_eq!(
        kills[1].pod_uid.as_deref(),
        Some("10d16a28-60ff-475f-a631-510d9792219f")
    );
}

#[test]
fn vendor_empty_constraint() {
    let k = one(
        "oom-kill:,cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=x,pid=5,uid=0\n\
                 Out of memory: Killed process 5 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB",
    );
    assert_eq!(k.constraint, Constraint::Global);
    assert_eq!(k.task_memcg.as_deref(), Some("/"));
}

#[test]
fn pre_5_0_child_sacrificed_for_its_parent() {
    let k = one(
        "[1.000000] app invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0\n\
                 [1.000100] Task in /docker/a3e12dff9d68bc13bde666d06a99315faa310f2d6b35ee101e180440af2f3315 killed as a result of limit of /docker/a3e12dff9d68bc13bde666d06a99315faa310f2d6b35ee101e180440af2f3315\n\
                 [1.000200] Memory cgroup out of memory: Kill process 100 (parent) score 900 or sacrifice child\n\
                 [1.000300] Killed process 101 (child) total-vm:10kB, anon-rss:5kB, file-rss:1kB",
    );
    assert_eq!((k.pid, k.comm.as_str()), (101, "child"));
    assert_eq!(k.constraint, Constraint::Memcg);
    assert_eq!(
        k.container_id.as_deref(),
        Some("a3e12dff9d68bc13bde666d06a99315faa310f2d6b35ee101e180440af2f3315")
    );
}

#[test]
fn forged_userspace_line_is_not_a_kill() {
    // facility 1 (user): written by `echo ... > /dev/kmsg`.
    assert!(
        kills_in_log("12,50,1000,-;Out of memory: Killed process 1 (init) total-vm:1kB").is_empty()
    );
    assert_eq!(
        kills_in_log("3,50,1000,-;Out of memory: Killed process 1 (init) total-vm:1kB").len(),
        1
    );
}

#[test]
fn stale_context_is_not_joined() {
    // The second kill comes 60 s later with no header (rate-limited):
    // it must not inherit the first event's cgroup.
    let kills = kills_in_log(
        "[1.0] Task in /a killed as a result of limit of /a\n\
         [1.1] Memory cgroup out of memory: Kill process 7 (x) score 1 or sacrifice child\n\
         [1.2] Killed process 7 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n\
         [61.0] Killed process 8 (y) total-vm:1kB, anon-rss:1kB, file-rss:0kB",
    );
    assert_eq!(kills.len(), 2);
    assert_eq!(kills[0].task_memcg.as_deref(), Some("/a"));
    assert_eq!(kills[1].task_memcg, None);
    assert_eq!(kills[1].constraint, Constraint::Unknown);
}

#[test]
fn a_burst_beyond_the_rate_limit_counts_every_kill() {
    // Headers and summaries are rate-limited (10 per 5 s); Killed lines are not.
    let mut log = String::new();
    for pid in 1..=50 {
        if pid <= 10 {
            log.push_str(&format!("[5.{pid:06}] p{pid} invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n"));
        }
        log.push_str(&format!("[5.{pid:06}] Memory cgroup out of memory: Killed process {pid} (p{pid}) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n"));
    }
    assert_eq!(kills_in_log(&log).len(), 50);
}

#[test]
fn endless_kills_without_a_header_keep_memory_bounded() {
    let mut p = Parser::new();
    for pid in 0..20_000u32 {
        let text = format!("Killed process {pid} (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB");
        let line = Line {
            seq: None,
            usec: None,
            facility: None,
            stamp: Stamp::None,
            host: None,
            text: &text,
        };
        assert!(matches!(p.feed(&line), Outcome::Kill(_)));
    }
    assert!(p.remembered_victims() <= parser::MAX_EVENT_VICTIMS);
}

#[test]
fn a_later_headerless_kill_gets_no_stale_context() {
    let kills = kills_in_log(
        "[1.0] bash invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n\
         [1.1] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=x,pid=10,uid=0\n\
         [1.2] Memory cgroup out of memory: Killed process 10 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n\
         [1.3] Tasks in /a are going to be killed due to memory.oom.group set\n\
         [1.4] Memory cgroup out of memory: Killed process 11 (y) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n\
         [6.0] Out of memory: Killed process 20 (other) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n\
         [9.9] Memory cgroup out of memory: Killed process 10 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n",
    );
    let pids: Vec<u32> = kills.iter().map(|k| k.pid).collect();
    assert_eq!(
        pids,
        [10, 11, 20, 10],
        "a pid seen before is a new kill outside the group scan"
    );
    assert!(kills[1].oom_group);
    assert_eq!(kills[1].task_memcg.as_deref(), Some("/a"));
    let other = &kills[2];
    assert_eq!(other.constraint, Constraint::Global);
    assert_eq!(
        (
            other.task_memcg.as_deref(),
            other.invoked_by.as_deref(),
            other.oom_group
        ),
        (None, None, false)
    );
    assert_eq!(kills[3].constraint, Constraint::Memcg);
    assert_eq!(kills[3].task_memcg, None);
}

#[test]
fn escaped_cgroup_paths_are_unescaped() {
    let k = one(
        "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/caf\\xc3\\xa9,task_memcg=/caf\\xc3\\xa9,task=x,pid=5,uid=0\n\
                 Memory cgroup out of memory: Killed process 5 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB",
    );
    assert_eq!(k.task_memcg.as_deref(), Some("/café"));
    assert_eq!(k.oom_memcg.as_deref(), Some("/café"));
}

#[test]
fn only_the_kernels_own_messages_count() {
    assert!(kills_in_log("Out of memory in my app: Killed process 5 (x) total-vm:1kB").is_empty());
    assert_eq!(
        kills_in_log("Out of memory (oom_kill_allocating_task): Killed process 5 (x) total-vm:1kB")
            .len(),
        1
    );
}
