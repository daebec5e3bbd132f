//! Kubernetes names end to end with a real kernel kill: a memory cgroup
//! named like a pod's container (`/kubepods/burstable/pod<uid>/<id>`) and a
//! matching tree of the kubelet's log directories. The victim's series and
//! the kill history carry the names, and keep them once the pod's
//! directories are gone, as they are seconds after a pod is deleted.

use std::process::Command;
use std::time::Duration;

use crate::support::{Exporter, MemCgroup, kernel_lock, require_root, sample};

const UID: &str = "3f1e2d4c-5b6a-4789-9abc-def012345678";
const HOG: &str = "4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899";
const SIDECAR: &str = "5a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899";

/// The kubelet's directories for one pod in `team-a` with two containers.
fn log_tree() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let pod = format!("team-a_memhog-7d9f8c6b5-x2k4q_{UID}");
    for c in ["hog", "sidecar"] {
        std::fs::create_dir_all(root.path().join("pods").join(&pod).join(c)).unwrap();
    }
    std::fs::create_dir(root.path().join("containers")).unwrap();
    for (c, id) in [("hog", HOG), ("sidecar", SIDECAR)] {
        std::os::unix::fs::symlink(
            format!("/var/log/pods/{pod}/{c}/0.log"),
            root.path().join(format!(
                "containers/memhog-7d9f8c6b5-x2k4q_team-a_{c}-{id}.log"
            )),
        )
        .unwrap();
    }
    root
}

fn labels(cgroup: &str, id: &str, container: &str) -> String {
    format!(
        "cgroup=\"{cgroup}\",pod_uid=\"{UID}\",container_id=\"{id}\",unit=\"\",namespace=\"team-a\",pod=\"memhog-7d9f8c6b5-x2k4q\",container=\"{container}\""
    )
}

#[test]
#[ignore = "needs root: memory cgroups at the top of the hierarchy and an OOM kill"]
fn a_killed_containers_names_stay_with_the_kill_after_its_pod_is_gone() {
    if !require_root("create /kubepods memory cgroups and cause an OOM kill") {
        return;
    }
    let _kernel = kernel_lock();
    let logs = log_tree();
    let kubepods = MemCgroup::top("kubepods");
    let burstable = kubepods.child("burstable", "64M");
    let pod = burstable.child(&format!("pod{UID}"), "64M");
    let hog = pod.child(HOG, "16M");
    let sidecar = pod.child(SIDECAR, "16M");
    let mut bystander = sidecar.bystander();
    let varlog = format!("--path.varlog={}", logs.path().display());
    let e = Exporter::start_reading_kmsg(&[&varlog]);

    // The cgroups and the processes in them, named before any kill.
    let m = e.metrics();
    let usage = format!(
        "oom_cgroup_memory_usage_bytes{{{}}}",
        labels(&sidecar.name, SIDECAR, "sidecar")
    );
    assert!(sample(&m, &usage).is_some(), "{usage}\n{m}");
    let next = format!(
        "oom_process_next_victim_info{{pid=\"{}\",comm=\"sh\",{}}}",
        bystander.id(),
        labels(&sidecar.name, SIDECAR, "sidecar")
    );
    assert_eq!(sample(&m, &next), Some(1.0), "{next}\n{m}");

    let (pid, status, _) = hog.hog();
    assert_eq!(status.code(), None, "the hog should be killed: {status}");
    // The pod is deleted: its log directories go at once.
    std::fs::remove_dir_all(logs.path().join("pods")).unwrap();
    std::fs::remove_dir_all(logs.path().join("containers")).unwrap();
    let victim = format!(
        "oom_victim_kills_total{{comm=\"tail\",{}}}",
        labels(&hog.name, HOG, "hog").replacen(
            &format!("cgroup=\"{}\"", hog.name),
            &format!("cgroup=\"{}\",constraint=\"memcg\"", hog.name),
            1
        )
    );
    let m = e.wait_metrics(Duration::from_secs(5), "kill not counted", |m| {
        sample(m, "oom_kills_total") >= Some(1.0)
    });
    assert_eq!(sample(&m, &victim), Some(1.0), "{victim}\n{m}");
    // Still named after the directories were gone, and in /kills.
    std::thread::sleep(Duration::from_millis(1100));
    let m = e.metrics();
    assert_eq!(sample(&m, &victim), Some(1.0), "{victim}\n{m}");
    let r = e.get("/kills", &[]);
    let kills: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap();
    let k = kills.iter().find(|k| k["pid"] == pid).expect("kill listed");
    assert_eq!(
        (&k["namespace"], &k["pod"], &k["container"]),
        (
            &serde_json::json!("team-a"),
            &serde_json::json!("memhog-7d9f8c6b5-x2k4q"),
            &serde_json::json!("hog")
        ),
        "{k}"
    );
    let log = e.wait_log("OOM kill");
    assert!(
        log.contains("namespace=team-a pod=memhog-7d9f8c6b5-x2k4q container=hog"),
        "{log}"
    );
    // `oom_exporter kills` names pods as the node has them now: gone.
    let out = Command::new(crate::support::BIN)
        .args(["kills", "--json", &varlog])
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let k: serde_json::Value = line
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|k| k["pid"] == pid)
        .expect("kill in `kills` output");
    assert_eq!(k["pod_uid"], UID);
    assert!(k["pod"].is_null(), "{k}");

    let _ = bystander.kill();
    let _ = bystander.wait();
    drop((hog, sidecar));
    drop(pod);
    drop(burstable);
    drop(kubepods);
}
