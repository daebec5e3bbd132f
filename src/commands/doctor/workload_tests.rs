//! The checks of [`super::workload`] on literal snapshots, each both ok
//! and warn.

use super::workload::*;
use super::{Cgroup, Kills, Process, Processes, Status};
use crate::kmsg::oom::kills_in_log;

const MIB: u64 = 1 << 20;

fn proc(pid: u32, comm: &str, adj: i32, critical: bool) -> Process {
    Process {
        pid,
        comm: comm.to_owned(),
        oom_score: 500,
        oom_score_adj: adj,
        rss_bytes: 300 * MIB,
        cgroup: Some("/system.slice/app.service".to_owned()),
        critical,
    }
}

fn with(include: Option<&str>, critical: Vec<Process>) -> Result<Processes, String> {
    Ok(Processes {
        include: include.map(str::to_owned),
        next_victim: critical.first().cloned(),
        critical,
        ..Processes::default()
    })
}

#[test]
fn critical_processes() {
    let c = critical(&with(None, vec![]));
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert!(c.summary.starts_with("none marked"), "{c:?}");
    let protected = vec![
        proc(410, "sshd", -1, true),
        proc(513, "critical", -1000, true),
    ];
    let c = critical(&with(Some("sshd|critical"), protected.clone()));
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert_eq!(
        c.summary,
        "2 process(es) match \"sshd|critical\", all with oom_score_adj < 0"
    );
    let mut exposed = protected;
    exposed.push(proc(512, "postgres", 0, true));
    let c = critical(&with(Some("sshd|critical|postgres"), exposed));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(
        c.summary.ends_with(": 512 postgres (oom_score_adj 0)"),
        "{c:?}"
    );
    assert_eq!(c.evidence["exposed"], 1);
    assert_eq!(c.evidence["processes"][0]["pid"], 512);
    let c = critical(&with(Some("^nginx$"), vec![]));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(c.summary.contains("no running process matches"), "{c:?}");
    assert_eq!(critical(&Err("x".into())).status, Status::Warn);
}

fn cg(path: &str, usage: u64, limit: Option<u64>) -> Cgroup {
    Cgroup {
        path: path.to_owned(),
        usage: Some(usage * MIB),
        limit: limit.map(|l| l * MIB),
    }
}

#[test]
fn workloads_are_services_and_containers() {
    assert!(is_workload("/system.slice/cron.service"));
    assert!(is_workload(
        "/system.slice/docker-25a38b5b8d556d7983d975577f5ac75ebbcfb4b269e6deaa0a0440c1ffc969ca.scope"
    ));
    assert!(!is_workload("/system.slice"));
    assert!(!is_workload("/user.slice/user-1000.slice/session-2.scope"));
}

#[test]
fn cgroup_limits() {
    let fine = vec![
        cg("/system.slice", 400, None),
        cg("/system.slice/a.service", 100, Some(200)),
        // Limited by its parent.
        cg("/kubepods", 300, Some(1024)),
        cg(
            "/kubepods/besteffort/pod10d16a28-60ff-475f-a631-510d9792219f/178ec18073cc6ac7be2de8d9869daf162a6349dd056b6535849112c53ec3102a",
            50,
            None,
        ),
        cg("/user.slice/user-1000.slice/session-2.scope", 30, None),
    ];
    let c = cgroups(&Ok(fine.clone()));
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert_eq!(
        c.summary,
        "5 cgroup(s), 2 service(s)/container(s): every one limited, none above 90% of its limit"
    );
    let mut near = fine.clone();
    near[1].usage = Some(190 * MIB);
    let c = cgroups(&Ok(near));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert_eq!(
        c.summary,
        "1 above 90% of their limit: /system.slice/a.service 190.0 MiB of 200.0 MiB (95%)"
    );
    assert_eq!(
        c.evidence["near_limit_cgroups"][0]["limit_bytes"],
        200 * MIB
    );
    let mut unlimited = fine;
    unlimited.push(cg("/system.slice/b.service", 10, None));
    let c = cgroups(&Ok(unlimited));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(
        c.summary
            .ends_with("without a memory limit on their path: /system.slice/b.service"),
        "{c:?}"
    );
    assert_eq!(c.evidence["unlimited"], 1);
    assert_eq!(cgroups(&Err("no hierarchy".into())).status, Status::Warn);
}

#[test]
fn next_victim_plain_critical_and_unknown() {
    let c = next_victim(&with(None, vec![proc(1100, "java", 1000, false)]));
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert_eq!(
        c.summary,
        "1100 java (oom_score 500, oom_score_adj 1000, RSS 300.0 MiB, cgroup /system.slice/app.service)"
    );
    assert_eq!(c.evidence["process"]["rss_bytes"], 300 * MIB);
    let c = next_victim(&with(Some("db"), vec![proc(7, "db", 0, true)]));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(c.summary.contains("a critical process"), "{c:?}");
    let c = next_victim(&with(None, vec![]));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    // A ranking that could not see every process.
    let mut partial = with(None, vec![proc(1100, "java", 1000, false)]).unwrap();
    partial.errors = 2;
    let c = next_victim(&Ok(partial.clone()));
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert!(
        c.summary
            .ends_with("; note: 2 process(es) left out (a file could not be read or parsed)"),
        "{c:?}"
    );
    partial.denied = 5;
    partial.hidden = Some("hidepid=2".to_owned());
    let c = next_victim(&Ok(partial));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(
        c.summary.contains("; note: proc is mounted with hidepid=2"),
        "{c:?}"
    );
    assert_eq!(c.evidence["left_out"]["denied"], 5);
}

#[test]
fn recent_kills() {
    let c = kills(&Ok(Kills::default()));
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert_eq!(c.evidence["count"], 0);
    let log = "6,1,5000000,-;Out of memory: Killed process 7 (app) total-vm:10kB, anon-rss:5kB, file-rss:1kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n";
    let last = kills_in_log(log).pop();
    assert!(last.is_some(), "the parser found no kill in {log}");
    let c = kills(&Ok(Kills { count: 3, last }));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert_eq!(
        c.summary,
        "3 OOM kill(s) in the kernel's ring buffer; last: 7 app at 5.000s after boot (global)"
    );
    assert_eq!(c.evidence["last"]["pid"], 7);
    let c = kills(&Err("open /dev/kmsg: operation not permitted; run with CAP_SYSLOG or set kernel.dmesg_restrict=0".into()));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(c.summary.contains("CAP_SYSLOG"), "{c:?}");
}
