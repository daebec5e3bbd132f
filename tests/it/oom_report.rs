//! A real memcg OOM read back whole: the report's trigger, the cgroup's
//! limit and the task dump, through `/kills`. The victim (oom_score_adj
//! 1000) is not the process that held the memory. Needs root; the cgroup is
//! removed afterwards.

use std::time::Duration;

use crate::support::{Exporter, MemCgroup, kernel_lock, require_root};

#[test]
#[ignore = "needs root: a memory cgroup and an OOM kill"]
fn a_real_memcg_oom_names_who_held_the_memory_and_the_limit() {
    if !require_root("create a memory cgroup and cause an OOM kill") {
        return;
    }
    let _kernel = kernel_lock();
    let cg = MemCgroup::new("report");
    let e = Exporter::start_reading_kmsg(&[]);
    let mut shell = cg.bystander();
    let bystander_pid = shell.id();
    let (hog_pid, _, _) = cg.hog();
    // Killed first; if not, it stops here.
    let _ = shell.kill();
    let _ = shell.wait();

    let listed: Vec<serde_json::Value> = crate::support::wait::until(
        Duration::from_secs(5),
        Duration::from_millis(50),
        "both kills in /kills",
        || {
            let r = e.get("/kills", &[]);
            let listed: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap_or_default();
            let both = [bystander_pid, hog_pid]
                .iter()
                .all(|p| listed.iter().any(|k| k["pid"] == *p));
            if both { Ok(listed) } else { Err(r.body) }
        },
    );
    let kill = listed.iter().find(|k| k["pid"] == bystander_pid).unwrap();
    assert_eq!(kill["comm"], "sh", "{kill}");
    // The hog's allocation triggered it; the limit ran out.
    assert_eq!(kill["invoked_by"], "tail", "{kill}");
    assert_eq!(kill["trigger_pid"], hog_pid, "{kill}");
    assert_eq!(kill["sysrq"], false);
    assert!(
        kill["gfp_mask"]
            .as_str()
            .is_some_and(|m| m.starts_with("0x")),
        "{kill}"
    );
    assert_eq!(kill["memcg_limit_kb"], 32 * 1024, "{kill}");
    let usage = kill["memcg_usage_kb"].as_u64().unwrap();
    assert!(usage > 30 * 1024 && usage <= 32 * 1024, "{kill}");
    assert!(kill["memcg_failcnt"].as_u64().is_some(), "{kill}");
    if cg.is_v2() {
        assert_eq!(kill["swap_limit_kb"], 0, "{kill}");
    } else {
        assert_eq!(kill["memsw_limit_kb"], 32 * 1024, "{kill}");
    }
    // Global swap is not printed for a memcg OOM.
    assert!(kill["swap_total_kb"].is_null(), "{kill}");
    // The dump: the hog first, holding nearly all of the limit; the victim
    // after it, marked by its oom_score_adj.
    assert_eq!(kill["tasks_in_dump"], 2, "{kill}");
    let top = kill["top_tasks"].as_array().unwrap();
    assert_eq!(
        (&top[0]["pid"], &top[0]["comm"]),
        (&hog_pid.into(), &"tail".into()),
        "{kill}"
    );
    // Its anonymous pages are charged to the cgroup, all but the
    // bystander's 4 MB of the limit; rss_bytes also counts file pages.
    // (rss_anon_pages is printed from 6.x on; before, rss holds file pages too.)
    let page = kill["page_size_bytes"].as_u64().unwrap();
    let anon = top[0]["rss_anon_pages"]
        .as_u64()
        .or(top[0]["rss_pages"].as_u64())
        .unwrap()
        * page;
    assert!(anon > 20 << 20 && anon <= 34 << 20, "{kill}");
    let rss = top[0]["rss_bytes"].as_u64().unwrap();
    assert_eq!(rss, top[0]["rss_pages"].as_u64().unwrap() * page);
    assert!(rss >= anon, "{kill}");
    assert_eq!(top[1]["pid"], bystander_pid);
    assert_eq!(top[1]["oom_score_adj"], 1000);
    assert_eq!(kill["page_size_assumed"], false, "{kill}");
    // The log line says the same: the trigger, the top process by RSS and
    // the victim's RSS, in bytes.
    let line = kill_log_line(&e, bystander_pid);
    let field = |key: &str| field(&line, key);
    assert_eq!(field("comm"), Some("sh"), "{line}");
    assert_eq!(field("trigger_comm"), Some("tail"), "{line}");
    assert_eq!(field("trigger_pid"), Some(&*hog_pid.to_string()), "{line}");
    assert_eq!(field("top_task_comm"), Some("tail"), "{line}");
    assert_eq!(field("top_task_pid"), Some(&*hog_pid.to_string()), "{line}");
    assert_eq!(
        field("top_task_rss_bytes"),
        Some(&*rss.to_string()),
        "{line}"
    );
    let kb = |key: &str| kill[key].as_u64().unwrap() * 1024;
    let victim_rss = kb("anon_rss_kb") + kb("file_rss_kb") + kb("shmem_rss_kb");
    assert_eq!(field("rss_bytes"), Some(&*victim_rss.to_string()), "{line}");
    assert_eq!(
        field("anon_rss_bytes"),
        Some(&*kb("anon_rss_kb").to_string()),
        "{line}"
    );
    assert_eq!(field("memcg_limit_bytes"), Some("33554432"), "{line}");
    // Not a pod, a container or a unit: left out, not empty.
    for key in ["pod_uid", "container_id", "unit"] {
        assert_eq!(field(key), None, "{line}");
    }
    // The hog's own kill, next: the same cgroup, the dump without the
    // bystander.
    let kill = listed.iter().find(|k| k["pid"] == hog_pid).unwrap();
    assert_eq!(kill["top_tasks"][0]["pid"], hog_pid, "{kill}");
    // The metric the OOMKill alert names it from: one series, the newest
    // kill's top process.
    let m = e.metrics();
    let top: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("oom_last_kill_top_task_info{"))
        .collect();
    assert_eq!(top, ["oom_last_kill_top_task_info{comm=\"tail\"} 1"], "{m}");
}

/// The exporter's `OOM kill` log line for the victim `pid`.
fn kill_log_line(e: &Exporter, pid: u32) -> String {
    let needle = format!(" pid={pid} ");
    crate::support::wait::until(
        Duration::from_secs(5),
        Duration::from_millis(50),
        "the kill's log line",
        || {
            let log = e.log();
            log.lines()
                .find(|l| l.contains("OOM kill") && l.contains(&needle))
                .map(str::to_owned)
                .ok_or(log)
        },
    )
}

/// A logfmt field's value (none of those checked here has a space).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|t| t.strip_prefix(key)?.strip_prefix('='))
}

#[test]
#[ignore = "needs root: a memory cgroup and an OOM kill"]
fn the_kill_log_line_names_the_unit_of_a_service_cgroup() {
    if !require_root("create a memory cgroup and cause an OOM kill") {
        return;
    }
    let _kernel = kernel_lock();
    let parent = MemCgroup::new("logunit");
    let unit = format!("oomx-log-{}.service", std::process::id());
    let cg = parent.child(&unit, "32M");
    let e = Exporter::start_reading_kmsg(&[]);
    let (pid, status, _) = cg.hog();
    assert_eq!(status.code(), None, "the hog should be killed: {status}");
    let line = kill_log_line(&e, pid);
    assert_eq!(field(&line, "unit"), Some(unit.as_str()), "{line}");
    assert_eq!(field(&line, "comm"), Some("tail"), "{line}");
    // The hog was alone: it triggered the OOM and held the memory.
    assert_eq!(field(&line, "trigger_comm"), Some("tail"), "{line}");
    assert_eq!(
        field(&line, "top_task_pid"),
        Some(&*pid.to_string()),
        "{line}"
    );
    assert!(
        field(&line, "rss_bytes").is_some_and(|b| b.parse::<u64>().unwrap() > 20 << 20),
        "{line}"
    );
}
