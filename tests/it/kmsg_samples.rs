//! The OOM parser on every real kernel log in `tests/fixtures/kmsg/` (copied
//! from `shared/kmsg-samples`, each with its source in its header), with the
//! expected kills spelled out. A sample without an entry here fails the test.

use oom_exporter::kmsg::oom::{Constraint, Kill, kills_in_log};

use crate::support::repo;

/// What a sample must yield, kill by kill.
struct Want {
    pid: u32,
    comm: &'static str,
    uid: Option<u32>,
    constraint: Constraint,
    task_memcg: Option<&'static str>,
    pod_uid: Option<&'static str>,
    container_id: Option<&'static str>,
    unit: Option<&'static str>,
    invoked_by: Option<&'static str>,
    anon_rss_kb: Option<u64>,
}

const W: Want = Want {
    pid: 0,
    comm: "",
    uid: None,
    constraint: Constraint::Unknown,
    task_memcg: None,
    pod_uid: None,
    container_id: None,
    unit: None,
    invoked_by: None,
    anon_rss_kb: None,
};

const KMSGRESEARCH: &str = "/process_api/07cb2ffee1c8b9991664f73faf90bf6f/kmsgresearch";

fn expected(file: &str) -> Option<Vec<Want>> {
    use Constraint::*;
    let prefix = &file[..2];
    Some(match prefix {
        "01" => vec![Want {
            pid: 13536,
            comm: "memorymonster",
            constraint: Memcg,
            task_memcg: Some("/mem2"),
            invoked_by: Some("memorymonster"),
            anon_rss_kb: Some(920),
            ..W
        }],
        "02" => vec![Want {
            pid: 1532,
            comm: "badsysprogram",
            constraint: Global,
            invoked_by: Some("badsysprogram"),
            anon_rss_kb: Some(1_595_164),
            ..W
        }],
        // memory.oom.group repeats pid 68061: one kill, not two.
        "04" => vec![Want {
            pid: 68061,
            comm: "stress",
            uid: Some(0),
            constraint: Memcg,
            task_memcg: Some(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod10d16a28_60ff_475f_a631_510d9792219f.slice/cri-containerd-178ec18073cc6ac7be2de8d9869daf162a6349dd056b6535849112c53ec3102a.scope",
            ),
            pod_uid: Some("10d16a28-60ff-475f-a631-510d9792219f"),
            container_id: Some("178ec18073cc6ac7be2de8d9869daf162a6349dd056b6535849112c53ec3102a"),
            anon_rss_kb: Some(2_884_696),
            ..W
        }],
        "05" => vec![Want {
            pid: 19700,
            comm: "memhog",
            uid: Some(0),
            constraint: Memcg,
            task_memcg: Some(KMSGRESEARCH),
            invoked_by: Some("memhog"),
            anon_rss_kb: Some(65280),
            ..W
        }],
        "06" => vec![Want {
            pid: 19759,
            comm: "a) (b c,d=é",
            uid: Some(0),
            constraint: Memcg,
            task_memcg: Some(KMSGRESEARCH),
            invoked_by: Some("a) (b c,d=é"),
            anon_rss_kb: Some(65280),
            ..W
        }],
        "07" => vec![Want {
            pid: 19887,
            comm: "bigidle",
            uid: Some(0),
            constraint: Memcg,
            task_memcg: Some(KMSGRESEARCH),
            invoked_by: Some("grower"),
            anon_rss_kb: Some(40960),
            ..W
        }],
        "08" => vec![Want {
            pid: 19888,
            comm: "grower",
            uid: Some(0),
            constraint: Memcg,
            task_memcg: Some(KMSGRESEARCH),
            invoked_by: Some("grower"),
            anon_rss_kb: Some(65280),
            ..W
        }],
        // CONSTRAINT_CPUSET global OOM; the oom_reaper lines are not kills.
        "09" => vec![Want {
            pid: 4100,
            comm: "containerd",
            uid: Some(0),
            constraint: Cpuset,
            task_memcg: Some("/system.slice/containerd.service"),
            unit: Some("containerd.service"),
            invoked_by: Some("runc:[2:INIT]"),
            anon_rss_kb: Some(51184),
            ..W
        }],
        // Summary joined to the next record on one line by a paste.
        "10" => vec![Want {
            pid: 4294,
            comm: "node",
            uid: Some(1001),
            constraint: Global,
            task_memcg: Some("/system.slice/cron.service"),
            unit: Some("cron.service"),
            anon_rss_kb: Some(72856),
            ..W
        }],
        "11" => vec![Want {
            pid: 70787,
            comm: "php",
            uid: Some(1000),
            constraint: Global,
            task_memcg: Some("/system.slice/cron.service"),
            unit: Some("cron.service"),
            invoked_by: Some("systemd"),
            anon_rss_kb: Some(3_235_148),
            ..W
        }],
        "13" => vec![Want {
            pid: 443_160,
            comm: "stress-ng-vm",
            uid: Some(0),
            constraint: Memcg,
            anon_rss_kb: Some(152_704),
            ..W
        }],
        "15" => vec![Want {
            pid: 63214,
            comm: "uwsgi",
            uid: Some(0),
            constraint: Memcg,
            anon_rss_kb: Some(164_992),
            ..W
        }],
        // Excerpt ends before the kill.
        "17" | "18" | "19" => vec![],
        // "Out of memory and no killable processes": the OOM killer killed nothing.
        "20" => vec![],
        // "Task in" hard-wrapped over three lines.
        "21" => vec![Want {
            pid: 27281,
            comm: "java",
            constraint: Memcg,
            task_memcg: Some(
                "/docker/0f2b3fcdd2578165ea77266cdc7b1ad43e75877b0ac1889ecda30a78cb78bd53",
            ),
            container_id: Some("0f2b3fcdd2578165ea77266cdc7b1ad43e75877b0ac1889ecda30a78cb78bd53"),
            invoked_by: Some("java"),
            anon_rss_kb: Some(517_316),
            ..W
        }],
        "22" => vec![Want {
            pid: 29816,
            comm: "jshell",
            constraint: Memcg,
            task_memcg: Some(
                "/docker/a3e12dff9d68bc13bde666d06a99315faa310f2d6b35ee101e180440af2f3315",
            ),
            container_id: Some("a3e12dff9d68bc13bde666d06a99315faa310f2d6b35ee101e180440af2f3315"),
            anon_rss_kb: Some(348_936),
            ..W
        }],
        "24" => vec![Want {
            pid: 50624,
            comm: "java",
            uid: Some(10000),
            constraint: Memcg,
            task_memcg: Some(
                "/kubepods/burstable/pod28fcb1a0-a45c-44e7-b9bf-e3b9360bedba/3e5e5eab87df615f4777e6f7f261a7fb62f4a7ee5bc3e25e3a5b5223ccd368fe",
            ),
            pod_uid: Some("28fcb1a0-a45c-44e7-b9bf-e3b9360bedba"),
            container_id: Some("3e5e5eab87df615f4777e6f7f261a7fb62f4a7ee5bc3e25e3a5b5223ccd368fe"),
            anon_rss_kb: Some(8_225_208),
            ..W
        }],
        "25" => vec![Want {
            pid: 183_960,
            comm: "stress-ng-vm",
            uid: Some(0),
            constraint: Memcg,
            task_memcg: Some(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5931aa75_4603_4e65_b552_7c71cf55cfb5.slice/cri-containerd-25a38b5b8d556d7983d975577f5ac75ebbcfb4b269e6deaa0a0440c1ffc969ca.scope",
            ),
            pod_uid: Some("5931aa75-4603-4e65-b552-7c71cf55cfb5"),
            container_id: Some("25a38b5b8d556d7983d975577f5ac75ebbcfb4b269e6deaa0a0440c1ffc969ca"),
            anon_rss_kb: Some(93176),
            ..W
        }],
        // CONSTRAINT_NONE on a memcg OOM (early 5.x): memcg from oom_memcg.
        "26" => vec![Want {
            pid: 26865,
            comm: "php-fpm7",
            uid: Some(65534),
            constraint: Memcg,
            task_memcg: Some(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podef7ce918_ae07_11e9_bf64_00163e08cd06.slice/docker-5c223edfde3b17676cb982efdc201218a674578704d33d09de4775b721cb4702.scope",
            ),
            pod_uid: Some("ef7ce918-ae07-11e9-bf64-00163e08cd06"),
            container_id: Some("5c223edfde3b17676cb982efdc201218a674578704d33d09de4775b721cb4702"),
            anon_rss_kb: Some(177_544),
            ..W
        }],
        // Summary cut after "pid=": joined by comm instead.
        "28" => vec![Want {
            pid: 2_868_804,
            comm: "python",
            uid: Some(12574),
            constraint: Memcg,
            task_memcg: Some(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podce01147c_c24e_4d06_94d1_4742572744b5.slice/cri-containerd-10521a761011051aec6ea9056ea310da06806d1c9719a59bf1790e0ca93d9d84.scope",
            ),
            pod_uid: Some("ce01147c-c24e-4d06-94d1-4742572744b5"),
            container_id: Some("10521a761011051aec6ea9056ea310da06806d1c9719a59bf1790e0ca93d9d84"),
            anon_rss_kb: Some(82_514_312),
            ..W
        }],
        _ => return None,
    })
}

fn check(file: &str, got: &Kill, want: &Want) {
    assert_eq!(got.pid, want.pid, "{file}");
    assert_eq!(got.comm, want.comm, "{file}");
    assert_eq!(got.uid, want.uid, "{file}: uid");
    assert_eq!(got.constraint, want.constraint, "{file}: constraint");
    assert_eq!(
        got.task_memcg.as_deref(),
        want.task_memcg,
        "{file}: task_memcg"
    );
    assert_eq!(got.pod_uid.as_deref(), want.pod_uid, "{file}: pod_uid");
    assert_eq!(
        got.container_id.as_deref(),
        want.container_id,
        "{file}: container_id"
    );
    assert_eq!(got.unit.as_deref(), want.unit, "{file}: unit");
    assert_eq!(
        got.invoked_by.as_deref(),
        want.invoked_by,
        "{file}: invoked_by"
    );
    assert_eq!(got.anon_rss_kb, want.anon_rss_kb, "{file}: anon_rss_kb");
}

#[test]
fn every_real_sample_yields_exactly_the_expected_kills() {
    let dir = repo().join("tests/fixtures/kmsg");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "samples missing from {}", dir.display());
    for file in &files {
        let want = expected(file)
            .unwrap_or_else(|| panic!("{file}: no expectation written in kmsg_samples.rs"));
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let log: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let got = kills_in_log(&log);
        assert_eq!(got.len(), want.len(), "{file}: {got:#?}");
        for (g, w) in got.iter().zip(&want) {
            check(file, g, w);
        }
    }
}
