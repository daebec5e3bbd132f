use super::tests::one;
use super::*;
use crate::kmsg::input::{Line, Stamp};

/// A pod the forgeries below try to book their kills to.
const POD_UID: &str = "10d16a28-60ff-475f-a631-510d9792219f";

/// Cgroup paths a user with a delegated subtree (`/u`) can create with
/// `mkdir -p`: a `/` in the forged text just makes another level.
fn forged_paths() -> Vec<String> {
    let pod = format!("/kubepods/burstable/pod{POD_UID}");
    let fields = [
        "constraint=CONSTRAINT_MEMCG".to_owned(),
        "nodemask=(null)".to_owned(),
        "cpuset=x".to_owned(),
        "mems_allowed=0".to_owned(),
        format!("oom_memcg={pod}"),
        "global_oom".to_owned(),
        format!("task_memcg={pod}"),
        "task=hog".to_owned(),
        "pid=77".to_owned(),
        "uid=1000".to_owned(),
    ];
    let mut paths = vec![
        format!("/u/x,task_memcg={pod},task="),
        format!("/u/x,task_memcg={pod}"),
        format!("/u/x,task_memcg={pod},task=hog,pid=77,uid=1000"),
        format!("/u/x,global_oom,task_memcg={pod}"),
        format!("/u/x,oom_memcg={pod},task_memcg={pod}"),
        format!("/u/x killed as a result of limit of {pod}"),
        format!("/u/a,task_memcg=/u/a/b,task_memcg={pod}"),
    ];
    for f in &fields {
        paths.push(format!("/u/x,{f},task_memcg={pod}"));
        paths.push(format!("/u/x,task_memcg={pod},{f}"));
        paths.push(format!("/u/x,{f}"));
    }
    paths
}

const KILLED_6X: &str = "Memory cgroup out of memory: Killed process 77 (hog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:1kB oom_score_adj:0";

/// The same kill as kernels of several versions report it, with
/// `oom` the cgroup whose limit was hit and `task` the victim's.
fn reports(oom: &str, task: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "6.18 raw kmsg, memcg",
            format!(
                "4,1,100,-;hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n\
                 6,2,101,-;Memory cgroup stats for {oom}:\n\
                 6,3,102,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg={oom},task_memcg={task},task=hog,pid=77,uid=1000\n\
                 3,4,103,-;{KILLED_6X}\n"
            ),
        ),
        (
            "5.x dmesg, memcg, grep-filtered (no stats line)",
            format!(
                "[1.000000] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg={oom},task_memcg={task},task=hog,pid=77,uid=1000\n\
                 [1.000100] {KILLED_6X}\n"
            ),
        ),
        (
            "5.1 vendor: memcg OOM said CONSTRAINT_NONE, no UID on the kill line",
            format!(
                "Jul 30 08:11:33 h kernel: Memory cgroup stats for {oom}:\n\
                 Jul 30 08:11:33 h kernel: oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=docker-1.scope,mems_allowed=0,oom_memcg={oom},task_memcg={task},task=hog,pid=77,uid=1000\n\
                 Jul 30 08:11:33 h kernel: Memory cgroup out of memory: Killed process 77 (hog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB\n"
            ),
        ),
        (
            "4.x: Task in ... killed as a result of limit of ...",
            format!(
                "[5.000000] hog invoked oom-killer: gfp_mask=0x14000c0(GFP_KERNEL), nodemask=(null), order=0, oom_score_adj=0\n\
                 [5.000100] Task in {task} killed as a result of limit of {oom}\n\
                 [5.000200] memory: usage 1024kB, limit 1024kB, failcnt 3\n\
                 [5.000300] Memory cgroup stats for {oom}: cache:0KB rss:980KB rss_huge:0KB mapped_file:0KB\n\
                 [5.000400] Memory cgroup out of memory: Kill process 77 (hog) score 1 or sacrifice child\n\
                 [5.000500] Killed process 77 (hog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB\n"
            ),
        ),
    ]
}

fn assert_not_spoofed(log: &str, what: &str, task: &str) -> Kill {
    let kills = kills_in_log(log);
    assert_eq!(kills.len(), 1, "{what}: the kill must be counted\n{log}");
    let k = kills.into_iter().next().unwrap();
    assert_eq!(k.pod_uid, None, "{what}: booked to the pod\n{log}\n{k:#?}");
    assert!(
        k.task_memcg.is_none() || k.task_memcg.as_deref() == Some(task),
        "{what}: wrong cgroup\n{log}\n{k:#?}"
    );
    assert!(
        k.oom_memcg
            .as_deref()
            .is_none_or(|o| !o.starts_with("/kubepods")),
        "{what}: wrong oom cgroup\n{log}\n{k:#?}"
    );
    k
}

#[test]
fn a_cgroup_named_like_report_fields_is_not_taken_for_another_cgroup() {
    for path in forged_paths() {
        // The victim's own cgroup hit its limit, or its parent's did.
        let child = format!("{path}/c");
        for (oom, task) in [
            (path.as_str(), path.as_str()),
            ("/u", path.as_str()),
            (path.as_str(), child.as_str()),
        ] {
            for (kernel, log) in reports(oom, task) {
                let what = format!("{kernel}: oom {oom:?}, task {task:?}");
                let k = assert_not_spoofed(&log, &what, task);
                // Only this one fits two splits, and then only without
                // the stats line, which names the limited cgroup alone.
                let two_splits = oom == path && path.starts_with("/u/a,");
                if two_splits && !log.contains("Memory cgroup stats for") {
                    assert!(k.attribution_ambiguous, "{what}\n{k:#?}");
                    assert_eq!(k.task_memcg, None, "{what}");
                    assert_eq!(k.candidates.len(), 2, "{what}");
                } else {
                    assert_eq!(k.task_memcg.as_deref(), Some(task), "{what}\n{k:#?}");
                    assert!(!k.attribution_ambiguous, "{what}");
                }
            }
        }
        // A global OOM: the victim's cgroup is the only path printed.
        let log = format!(
            "[1.0] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg={path},task=hog,pid=77,uid=1000\n\
             [1.1] Out of memory: Killed process 77 (hog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:1kB oom_score_adj:0\n"
        );
        let k = assert_not_spoofed(&log, &format!("global, task {path:?}"), &path);
        assert_eq!(k.task_memcg.as_deref(), Some(path.as_str()));
        assert_eq!(k.constraint, Constraint::Global);
    }
}

#[test]
fn a_cpuset_named_like_report_fields_does_not_move_the_cgroup() {
    // cpuset= is the invoking task's cpuset cgroup *name*: no '/'.
    for name in [
        "x,mems_allowed=0,oom_memcg=",
        "x,global_oom,task_memcg=",
        "x,task_memcg=,task=hog,pid=77,uid=1000",
    ] {
        let log = format!(
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset={name},mems_allowed=0,oom_memcg=/u/x,task_memcg=/u/x,task=hog,pid=77,uid=1000\n\
             {KILLED_6X}\n"
        );
        let k = assert_not_spoofed(&log, name, "/u/x");
        assert_eq!(k.task_memcg.as_deref(), Some("/u/x"), "{name}");
    }
}

#[test]
fn a_comm_with_field_text_is_anchored_on_the_kill_line() {
    // comm is up to 15 bytes of anything; the kill line says which.
    for comm in [
        "a,task=b",
        "x,pid=1,uid=2",
        ",task_memcg=/k",
        "hog,task=hog",
    ] {
        let log = format!(
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/u/x,task_memcg=/u/x,task={comm},pid=77,uid=1000\n\
             Memory cgroup out of memory: Killed process 77 ({comm}) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:1kB oom_score_adj:0\n"
        );
        let k = one(&log);
        assert_eq!(k.comm, comm);
        assert_eq!(k.task_memcg.as_deref(), Some("/u/x"), "{comm}");
    }
}

#[test]
fn a_segfault_of_a_process_named_killed_process_is_not_an_oom_record() {
    // `prctl(PR_SET_NAME, "Killed process ")` then a segfault: the
    // kernel prints `<comm>[<pid>]: segfault at ...` (x86
    // show_signal_msg), as captured on 6.18.
    let mut p = Parser::new();
    for text in [
        "Killed process [21808]: segfault at 0 ip 00007f2dc3385ad8 sp 00007ffec6ccc1d8 error 4 in libc.so.6[167ad8,7f2dc3244000+156000] likely on CPU 1 (core 1, socket 0)",
        "Killed process [5]: segfault at 0 ip 0000000000401000 sp 00007ffc00000000 error 6 in a.out[401000+1000]",
    ] {
        let line = Line {
            seq: Some(1),
            usec: Some(1),
            facility: Some(0),
            stamp: Stamp::None,
            host: None,
            text,
        };
        assert_eq!(p.feed(&line), Outcome::Nothing, "{text}");
    }
}

#[test]
fn a_summary_naming_another_task_leaves_the_kill_unattributed() {
    // pid 78 in the summary, 77 killed (the kernel moved to another
    // thread, or the summary was cut before the victim's fields).
    for summary in [
        "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=hog,pid=78,uid=1000",
        "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a/very/long/pa",
    ] {
        let k = one(&format!("{summary}\n{KILLED_6X}\n"));
        assert_eq!((k.pid, k.constraint), (77, Constraint::Memcg));
        assert_eq!((k.task_memcg, k.oom_memcg, k.pod_uid), (None, None, None));
        assert!(k.attribution_ambiguous, "{summary}");
        assert!(k.candidates.is_empty());
    }
}

#[test]
fn an_ambiguous_kill_says_so_in_json_and_a_clear_one_does_not() {
    let clear = one(&format!(
        "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=hog,pid=77,uid=1000\n{KILLED_6X}\n"
    ));
    let json = serde_json::to_value(&clear).unwrap();
    assert!(json.get("attribution_ambiguous").is_none(), "{json}");
    assert!(json.get("candidates").is_none(), "{json}");
    let ambiguous = one(&format!(
        "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a/b,task_memcg=/a,task_memcg=/a/b,task=hog,pid=77,uid=1000\n{KILLED_6X}\n"
    ));
    let json = serde_json::to_value(&ambiguous).unwrap();
    assert_eq!(json["attribution_ambiguous"], true, "{json}");
    assert!(json["task_memcg"].is_null());
    // A caller that knows which candidate exists books it.
    let mut settled = ambiguous.clone();
    let pick = settled.candidates[1].clone();
    settled.attribute(pick);
    assert_eq!(settled.task_memcg.as_deref(), Some("/a,task_memcg=/a/b"));
    assert!(!settled.attribution_ambiguous);
}

#[test]
fn lines_a_comm_can_start_are_only_taken_as_the_kernel_prints_them() {
    // Every process below segfaults with a comm that starts an OOM
    // report line; the kill after them (rate-limited, no header of its
    // own) must get none of their text.
    let log = "6,1,10,-;Task in /k[12]: segfault at 0 ip 0 sp 0 error 4 in x[1+2] likely on CPU 0 (core 0, socket 0)\n\
               6,2,11,-;oom-kill:[13]: segfault at 0 ip 0 sp 0 error 4 in x[1+2]\n\
               6,3,12,-;Kill process [14]: segfault at 0 ip 0 sp 0 error 4 in x[1+2]\n\
               6,4,13,-;a[15]: segfault at 0 ip 0 sp 0 error 4 in b invoked oom-killer: gfp_mask=[1+2]\n\
               3,5,14,-;Killed process 77 (hog) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB\n";
    let k = one(log);
    assert_eq!(k.pid, 77);
    assert_eq!(
        (k.task_memcg, k.invoked_by, k.constraint),
        (None, None, Constraint::Unknown)
    );
    assert!(!k.attribution_ambiguous);
}

#[test]
fn malformed_kill_line_is_reported() {
    let mut p = Parser::new();
    let line = Line {
        seq: None,
        usec: None,
        facility: Some(0),
        stamp: Stamp::None,
        host: None,
        text: "Out of memory: Killed process x (y)",
    };
    assert!(matches!(p.feed(&line), Outcome::Malformed(_)));
}
