//! The report of kills parsed from the real reports in
//! tests/fixtures/reports/.

use super::*;

use super::forms_tests::{has, kills_at};

fn kills_in(name: &str) -> Vec<Kill> {
    kills_at(&format!("reports/{name}"))
}

#[test]
fn memcg_report_names_the_limit_and_the_top_process() {
    let kills = kills_in("10-proxmox-5.15-pve-lxc-cgroupv2-dmesgT-de.log");
    let md = render(&kills[0], &[], None);
    has(&md, "# OOM kill of `php-fpm` (pid 3902942)");
    has(
        &md,
        "- Constraint: memcg: the memory cgroup `/lxc/39004` hit its limit: usage 29.8 GiB of limit 29.8 GiB (100%), failcnt 83420",
    );
    has(
        &md,
        "| 1 | 3902942 | 1000 | `php-fpm` (victim) | 12.2 GiB | 0 B | 0 |",
    );
    has(&md, "- The victim was the largest process by RSS.");
    has(
        &md,
        "- The largest, `php-fpm` (pid 3902942), held 41% of the limit 29.8 GiB.",
    );
    has(&md, "- Cgroup whose limit was hit: `/lxc/39004`");
    has(
        &md,
        "- [ ] The limit was 29.8 GiB and the cgroup `/lxc/39004` used all of it: raise it or look for a leak.",
    );
    has(
        &md,
        "- [ ] The cgroup may not use swap (memory.swap.max is 0).",
    );
    has(
        &md,
        "- Host: not in the log, kernel 5.15.158-2-pve (as the saved log says)",
    );
    assert!(!md.contains("## Now"), "{md}");
    assert!(!md.contains("not the largest"), "{md}");
}

#[test]
fn global_report_with_the_victim_far_from_the_top() {
    let kills = kills_in("01-rhel6-2.6.32-global-bigtable-2events.log");
    assert_eq!(kills.len(), 2);
    let md = render(&kills[0], &[], None);
    has(&md, "- Constraint: global: the whole machine ran out");
    has(&md, "| 1 | 15597 | 0 | `savscand` | 233.5 MiB | - | 0 |");
    has(
        &md,
        "- The victim was not among the 10 largest processes by RSS.",
    );
    has(
        &md,
        "- [ ] The victim was not the largest process: `savscand` (pid 15597) held 233.5 MiB.",
    );
    has(
        &md,
        "- [ ] Swap was full: 0 B free of 2 GiB; the machine had nowhere left to put memory.",
    );
    has(&md, "- Machine: 0 B free of 2 GiB");
    has(
        &md,
        "The task dump lists 793 processes; the largest by RSS:",
    );
    // The two kills are hours apart: two incidents.
    assert!(incident(&kills[1], &kills).is_empty());
}

#[test]
fn no_swap_and_the_trigger_allocation() {
    let kills = kills_in("02-rhel8.10-4.18-global-syslog-012.log");
    let md = render(&kills[0], &[], None);
    has(
        &md,
        "- Trigger: `in:imjournal` (pid 879) asked for memory: 4 KiB contiguous (order 0), gfp_mask 0x6200ca(GFP_HIGHUSER_MOVABLE)",
    );
    has(&md, "- Machine: no swap configured");
    has(
        &md,
        "- [ ] No swap configured: every page of anonymous memory had to stay in RAM; consider some swap (or zram) to absorb peaks.",
    );
    has(&md, "- systemd unit: `varnish.service`");
    has(
        &md,
        "| 1 | 3117813 | 991 | `cache-main` (victim) | 4.6 GiB | 0 B | 0 |",
    );
}

#[test]
fn sysrq_is_said_and_not_called_a_shortage() {
    let kills = kills_in("16-ubuntu21.10-5.13-sysrq-moom-order-minus1.log");
    let md = render(&kills[0], &[], None);
    has(
        &md,
        "- SysRq: forced with SysRq-f (order=-1): no allocation failed",
    );
    assert!(
        md.contains("- [ ] The OOM killer was forced with SysRq-f"),
        "{md}"
    );
    assert!(!md.contains("The whole machine ran out"), "{md}");
    has(&md, "- The victim was number 2 by RSS.");
    has(
        &md,
        "- [ ] The victim was not the largest process: `snapd` (pid 611) held 32.2 MiB.",
    );
}

fn kill(pid: u32, usec: u64, memcg: &str) -> Kill {
    let mut k = kills_in("10-proxmox-5.15-pve-lxc-cgroupv2-dmesgT-de.log").remove(0);
    k.pid = pid;
    k.seq = Some(u64::from(pid));
    k.boot_usec = Some(usec);
    k.log_time = None;
    k.oom_memcg = Some(memcg.to_owned());
    k.oom_score_adj = Some(1000);
    k
}

#[test]
fn incident_is_the_same_cgroup_within_seconds() {
    let kills = [
        kill(1, 100_000_000, "/a"),
        kill(2, 103_000_000, "/a"),
        kill(3, 104_000_000, "/b"),
        kill(4, 200_000_000, "/a"),
    ];
    let others = incident(&kills[0], &kills);
    assert_eq!(others.iter().map(|k| k.pid).collect::<Vec<_>>(), [2]);
    let md = render(&kills[0], &others, None);
    has(&md, "- [103.000000]: `php-fpm` (pid 2), RSS 12.2 GiB");
    has(&md, "2 kills in this incident, this one included.");
    assert!(
        md.contains("- [ ] 1 other kill in the same incident"),
        "{md}"
    );
    has(
        &md,
        "- Uptime at the kill: 0h 1m 40s (log stamp 100.000000)",
    );
    has(
        &md,
        "- [ ] The victim had oom_score_adj 1000: it is picked before larger processes; check who sets it (systemd OOMScoreAdjust=, the kubelet's QoS class).",
    );
}

#[test]
fn live_facts_are_rendered_and_compared() {
    let k = kill(1, 1, "/lxc/39004");
    let now = LiveFacts {
        hostname: Some("pve1".to_owned()),
        kernel: Some("5.15.0".to_owned()),
        cgroup: Some((
            "/lxc/39004".to_owned(),
            Some(live::CgroupNow {
                usage: Some(1 << 30),
                limit: Some(64 << 30),
            }),
        )),
        swap_total: Some(0),
        swap_free: Some(0),
        overcommit_memory: Some(1),
        restarted: Some((77, 500)),
    };
    let md = render(&k, &[], Some(&now));
    has(&md, "- Host: pve1, kernel 5.15.0");
    has(
        &md,
        "- Cgroup `/lxc/39004`: usage 1 GiB of limit 64 GiB (2%)",
    );
    has(&md, "- Swap: none configured");
    has(&md, "- vm.overcommit_memory: 1 (always overcommit)");
    has(
        &md,
        "- [ ] The limit of `/lxc/39004` is now 64 GiB (was 29.8 GiB at the kill).",
    );
    has(
        &md,
        "- `php-fpm` runs again in its cgroup: pid 77, oom_score_adj 500",
    );
    has(
        &md,
        "- [ ] `php-fpm` runs again (pid 77) with oom_score_adj 500: it will be picked first again.",
    );
    has(
        &md,
        "- [ ] No swap configured on this host now: anonymous memory has nowhere to go under pressure.",
    );
}

#[test]
fn pick_by_seq_or_last() {
    let mut kills = [kill(1, 1, "/a"), kill(2, 2, "/a")];
    kills[0].seq = Some(7);
    assert_eq!(pick(&kills, Pick::Last).unwrap().pid, 2);
    assert_eq!(pick(&kills, Pick::Seq(7)).unwrap().pid, 1);
    assert!(pick(&kills, Pick::Seq(8)).is_none());
    assert!(not_found(Pick::Seq(8)).contains("seq 8"));
}

#[test]
fn keeper_is_bounded_and_keeps_what_follows_the_pick() {
    let mut keep = Keeper::new(Pick::Seq(KEPT as u64 * 3));
    for i in 0..KEPT * 10 {
        let mut k = kill(i as u32, i as u64, "/a");
        k.seq = Some(i as u64);
        keep.push(k);
        assert!(keep.kills.len() <= 2 * KEPT);
    }
    let kills: Vec<Kill> = keep.kills.into();
    assert_eq!(
        pick(&kills, Pick::Seq(KEPT as u64 * 3)).unwrap().pid,
        KEPT as u32 * 3
    );
    assert_eq!(kills.last().unwrap().pid, KEPT as u32 * 4);
}

#[test]
fn sizes() {
    assert_eq!(render::bytes(512 << 20), "512 MiB");
    assert_eq!(render::bytes(1536 << 20), "1.5 GiB");
    assert_eq!(render::bytes(100), "100 B");
}

fn write(root: &std::path::Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn live_facts_are_read_from_procfs_and_sysfs() {
    let k = kills_in("10-proxmox-5.15-pve-lxc-cgroupv2-dmesgT-de.log").remove(0);
    let dir = tempfile::tempdir().unwrap();
    let (proc, sys) = (dir.path().join("proc"), dir.path().join("sys"));
    write(&proc, "sys/kernel/hostname", "pve1\n");
    write(&proc, "sys/kernel/osrelease", "5.15.0-pve\n");
    write(&proc, "sys/vm/overcommit_memory", "0\n");
    write(&proc, "meminfo", "SwapTotal:  1024 kB\nSwapFree:  512 kB\n");
    write(&proc, "41/comm", "php-fpm\n");
    write(&proc, "41/oom_score_adj", "300\n");
    write(&proc, "40/comm", "nginx\n");
    let cg = "fs/cgroup/memory";
    write(&sys, &format!("{cg}/memory.usage_in_bytes"), "1\n");
    write(
        &sys,
        &format!("{cg}/lxc/39004/memory.usage_in_bytes"),
        "1048576\n",
    );
    write(
        &sys,
        &format!("{cg}/lxc/39004/memory.limit_in_bytes"),
        "2097152\n",
    );
    let task = k.task_memcg.as_deref().unwrap().trim_start_matches('/');
    write(&sys, &format!("{cg}/{task}/cgroup.procs"), "40\n41\n");
    let now = live::gather(&k, &proc, &sys);
    assert_eq!(now.hostname.as_deref(), Some("pve1"));
    assert_eq!(now.kernel.as_deref(), Some("5.15.0-pve"));
    assert_eq!(
        (now.swap_total, now.swap_free),
        (Some(1 << 20), Some(512 << 10))
    );
    assert_eq!(now.overcommit_memory, Some(0));
    assert_eq!(now.restarted, Some((41, 300)));
    let (path, cgroup) = now.cgroup.clone().unwrap();
    assert_eq!(path, "/lxc/39004");
    let cgroup = cgroup.unwrap();
    assert_eq!((cgroup.usage, cgroup.limit), (Some(1 << 20), Some(2 << 20)));
    // Gone: said so.
    std::fs::remove_dir_all(sys.join(cg).join("lxc")).unwrap();
    let md = render(&k, &[], Some(&live::gather(&k, &proc, &sys)));
    has(&md, "- Cgroup `/lxc/39004`: gone (or unreadable)");
}

/// A comm with a pipe or a backtick keeps the table's columns and the code
/// span whole.
#[test]
fn odd_comms_keep_the_markdown_whole() {
    let mut k = kills_in("10-proxmox-5.15-pve-lxc-cgroupv2-dmesgT-de.log").remove(0);
    let tasks = k.report.top_tasks.as_mut().unwrap();
    tasks[0].comm = "a|b`c".to_owned();
    k.comm = "a|b`c".to_owned();
    let md = render(&k, &[], None);
    has(
        &md,
        "| 1 | 3902942 | 1000 | `a\\|b'c` (victim) | 12.2 GiB | 0 B | 0 |",
    );
    has(&md, "# OOM kill of `a|b'c` (pid 3902942)");
}

/// Regression: the 3.10 ppc64le report (64 KiB pages, an unlimited
/// memory+swap counter) said "4 KiB contiguous" for an order-0 allocation
/// and "4 GiB of 8589934592 GiB" for the memory+swap limit.
#[test]
fn written_3_10_ppc64le_64k_memcg() {
    let kills = kills_in("written-3.10-rhel7-ppc64le-64k-memcg.log");
    let md = render(&kills[0], &[], None);
    has(
        &md,
        "- Trigger: `java` (pid 40211) asked for memory: 64 KiB contiguous (order 0), gfp_mask 0xd0",
    );
    has(&md, "- cgroup memory+swap (v1): 4 GiB (no limit)");
}

#[test]
fn the_owner_section_names_the_pod_and_container() {
    let mut k = kill(
        7,
        1_000_000,
        "/kubepods/burstable/pod10d16a28-60ff-475f-a631-510d9792219f",
    );
    k.pod_uid = Some("10d16a28-60ff-475f-a631-510d9792219f".to_owned());
    k.names = crate::k8s::Names {
        namespace: Some("kube-system".to_owned()),
        pod: Some("coredns-5d78c9869d-8xk2p".to_owned()),
        container: Some("coredns".to_owned()),
    };
    let md = render(&k, &[], None);
    has(&md, "- Namespace: `kube-system`");
    has(&md, "- Pod: `coredns-5d78c9869d-8xk2p`");
    has(&md, "- Container: `coredns`");
    has(&md, "- Pod UID: `10d16a28-60ff-475f-a631-510d9792219f`");
}
