//! Kubernetes names end to end with a real kernel kill: a memory cgroup
//! named like a pod's container (`/kubepods/burstable/pod<uid>/<id>`) and a
//! matching tree of the kubelet's log directories ([`KubePod`]). The
//! victim's series and the kill history carry the names, and keep them
//! once the pod's directories are gone, as they are seconds after a pod is
//! deleted.

use std::process::Command;
use std::time::Duration;

use crate::support::kubepod::{HOG_ID, NAMESPACE, POD, SIDECAR_ID, UID};
use crate::support::{BIN, Exporter, KubePod, kernel_lock, repo, require_root, sample};

fn labels(cgroup: &str, id: &str, names: (&str, &str, &str)) -> String {
    let (namespace, pod, container) = names;
    format!(
        "cgroup=\"{cgroup}\",pod_uid=\"{UID}\",container_id=\"{id}\",unit=\"\",namespace=\"{namespace}\",pod=\"{pod}\",container=\"{container}\""
    )
}

/// What the pod's directories are renamed to after the kill.
const RENAMED: &str = "memhog-renamed-after-the-kill";

/// The names are read at the kill: the exporter has never seen the pod's
/// directories before it (they appear just before the kill), and once the
/// kill is read they are replaced by ones naming the same UID as another
/// pod, then deleted. An exporter that looked names up later (at a scrape,
/// at `/kills`) would give the other pod's name or none; the kill keeps
/// the names of its moment.
#[test]
#[ignore = "needs root: memory cgroups at the top of the hierarchy and an OOM kill"]
fn a_killed_containers_names_stay_with_the_kill_after_its_pod_is_gone() {
    if !require_root("create /kubepods memory cgroups and cause an OOM kill") {
        return;
    }
    let _kernel = kernel_lock();
    let pod = KubePod::new();
    pod.hide_logs(true);
    let mut bystander = pod.sidecar.bystander();
    let varlog = pod.varlog_flag();
    let e = Exporter::start_reading_kmsg(&[&varlog]);

    // No directories yet: the pod's cgroups carry empty names.
    let m = e.metrics();
    let usage = |names| {
        format!(
            "oom_cgroup_memory_usage_bytes{{{}}}",
            labels(&pod.sidecar.name, SIDECAR_ID, names)
        )
    };
    let unnamed = usage(("", "", ""));
    assert!(sample(&m, &unnamed).is_some(), "{unnamed}\n{m}");

    // The directories appear; the kill is read before any scrape.
    pod.hide_logs(false);
    let (pid, status, _) = pod.hog.hog();
    assert_eq!(status.code(), None, "the hog should be killed: {status}");
    let log = e.wait_log(&format!("pid={pid} comm=tail"));
    let line = log
        .lines()
        .find(|l| l.contains("message=\"OOM kill\"") && l.contains(&format!("pid={pid} ")))
        .unwrap_or_else(|| panic!("no log line of the kill:\n{log}"));
    assert!(
        line.contains(&format!("namespace={NAMESPACE} pod={POD} container=hog")),
        "{line}"
    );
    // From now on the directories name the UID differently.
    pod.rename_logs(RENAMED);
    let victim = format!(
        "oom_victim_kills_total{{comm=\"tail\",{}}}",
        labels(&pod.hog.name, HOG_ID, (NAMESPACE, POD, "hog")).replacen(
            &format!("cgroup=\"{}\"", pod.hog.name),
            &format!("cgroup=\"{}\",constraint=\"memcg\"", pod.hog.name),
            1
        )
    );
    let m = e.wait_metrics(Duration::from_secs(5), "kill not counted", |m| {
        sample(m, "oom_kills_total") >= Some(1.0)
    });
    assert_eq!(sample(&m, &victim), Some(1.0), "{victim}\n{m}");
    // The cgroups and the processes in them are named too (from the
    // names the kill's lookup cached).
    let named = usage((NAMESPACE, POD, "sidecar"));
    assert!(sample(&m, &named).is_some(), "{named}\n{m}");
    let next = format!(
        "oom_process_next_victim_info{{pid=\"{}\",comm=\"sh\",{}}}",
        bystander.id(),
        labels(&pod.sidecar.name, SIDECAR_ID, (NAMESPACE, POD, "sidecar"))
    );
    assert_eq!(sample(&m, &next), Some(1.0), "{next}\n{m}");
    let kill_names = |pod_name: &str| {
        let r = e.get("/kills", &[]);
        let kills: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap();
        let k = kills.iter().find(|k| k["pid"] == pid).expect("kill listed");
        assert_eq!(
            (&k["namespace"], &k["pod"], &k["container"]),
            (
                &serde_json::json!(NAMESPACE),
                &serde_json::json!(pod_name),
                &serde_json::json!("hog")
            ),
            "{k}"
        );
    };
    kill_names(POD);
    // `oom_exporter kills` names pods as the node has them now.
    let listed_pod = || {
        let out = Command::new(BIN)
            .args(["kills", "--json", &varlog])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let k: serde_json::Value = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|k| k["pid"] == pid)
            .expect("kill in `kills` output");
        assert_eq!(k["pod_uid"], UID);
        k["pod"].clone()
    };
    assert_eq!(listed_pod(), RENAMED);

    // The pod is deleted: its log directories go. Still named.
    pod.delete_logs();
    std::thread::sleep(Duration::from_millis(1100));
    let m = e.metrics();
    assert_eq!(sample(&m, &victim), Some(1.0), "{victim}\n{m}");
    kill_names(POD);
    assert!(listed_pod().is_null());

    let _ = bystander.kill();
    let _ = bystander.wait();
}

/// A copy of the cgroup v2 fixture tree (`--path.sysfs`) with one more
/// pod's cgroup, `/kubepods/pod<uid>`.
fn cgroups_with_pod(uid: &str) -> tempfile::TempDir {
    let sysfs = tempfile::tempdir().unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(repo().join("tests/fixtures/sys-cgroup-v2/fs"))
        .arg(sysfs.path())
        .status()
        .unwrap();
    assert!(copied.success());
    let kubepods = sysfs.path().join("fs/cgroup/kubepods");
    let pod = kubepods.join(format!("pod{uid}"));
    std::fs::create_dir(&pod).unwrap();
    for entry in
        std::fs::read_dir(kubepods.join("pod28fcb1a0-a45c-44e7-b9bf-e3b9360bedba")).unwrap()
    {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), pod.join(entry.file_name())).unwrap();
        }
    }
    sysfs
}

/// `top --cgroups` widens its OWNER column to the longest name, as the
/// other tables do: the CGROUP column starts at the same place on every
/// line, also for a pod whose namespace and name are 63 characters long.
#[test]
fn top_cgroups_lines_up_long_pod_names() {
    let sysfs = cgroups_with_pod("ef7ce918-ae07-11e9-bf64-00163e08cd06");
    let out = Command::new(BIN)
        .arg(format!("--path.sysfs={}", sysfs.path().display()))
        .arg(format!(
            "--path.varlog={}",
            repo().join("tests/fixtures/kubelet-logs").display()
        ))
        .args(["top", "--cgroups", "-n", "100"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let owner = "observability-platform-production-eu-west-1-cluster-blue-000001/prometheus-node-exporter-daemonset-for-the-production-fleet-abcd";
    assert!(text.contains(owner), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let start = lines[0].find("CGROUP").unwrap();
    for l in &lines[1..] {
        assert!(
            l.chars().nth(start - 1) == Some(' ') && l.chars().nth(start) == Some('/'),
            "CGROUP column not at {start}:\n{text}"
        );
    }
}

/// Entries not in the kubelet's format (a stray file, a name that is not
/// UTF-8) and a full name cache are each logged once, with the directory
/// and an example or the counts, however often the directories are listed
/// again.
#[test]
fn bad_entries_and_a_full_cache_are_logged_once() {
    use std::os::unix::ffi::OsStrExt;
    let varlog = tempfile::tempdir().unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(repo().join("tests/fixtures/kubelet-logs/pods"))
        .arg(repo().join("tests/fixtures/kubelet-logs/containers"))
        .arg(varlog.path())
        .status()
        .unwrap();
    assert!(copied.success());
    let pods = varlog.path().join("pods");
    // More pods than the cache holds (4,096), listed after the fixture's.
    for n in 0..4100u32 {
        std::fs::create_dir(pods.join(format!("load_filler-{n}_ffffffff-0000-4000-8000-{n:012}")))
            .unwrap();
    }
    let bad = std::ffi::OsStr::from_bytes(b"web-0_team\xff_nginx-00.log");
    std::fs::write(varlog.path().join("containers").join(bad), "").unwrap();
    // A pod without logs (as a pod's sandbox is): every scrape misses, so
    // a changed directory is listed again.
    let sysfs = cgroups_with_pod("99999999-0000-4000-8000-000000000000");
    let e = Exporter::start(&[
        "--collector.disable-defaults",
        "--collector.cgroup",
        &format!("--path.sysfs={}", sysfs.path().display()),
        &format!("--path.varlog={}", varlog.path().display()),
    ]);
    let m = e.metrics();
    // README.txt and the non-UTF-8 name.
    assert_eq!(
        sample(&m, "oom_pod_names_ignored_entries"),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "oom_pod_names_cached{kind=\"pod\"}"),
        Some(4096.0)
    );
    // The fixture's pods are kept: the fillers' UIDs sort last.
    assert!(
        m.contains("namespace=\"batch\",pod=\"worker-6b8f7c9d4-kq2lm\""),
        "{m}"
    );
    let listings = sample(&m, "oom_pod_names_listings_total").unwrap();
    // Changed directories and a second listing: nothing said again.
    for n in 0..3 {
        std::fs::write(
            varlog.path().join("containers").join(format!("stray-{n}")),
            "",
        )
        .unwrap();
        std::fs::create_dir(pods.join(format!("load_more-{n}_eeeeeeee-0000-4000-8000-{n:012}")))
            .unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        e.metrics();
    }
    let m = e.metrics();
    assert!(
        sample(&m, "oom_pod_names_listings_total").unwrap() > listings,
        "no second listing: {m}"
    );
    let log = e.log();
    let ignored: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ignoring kubelet log directory entries"))
        .collect();
    assert_eq!(ignored.len(), 1, "{log}");
    assert!(
        ignored[0].contains(&format!(
            "dir={}",
            varlog.path().join("containers").display()
        )) && ignored[0].contains("example="),
        "{log}"
    );
    let full: Vec<&str> = log.lines().filter(|l| l.contains("cache full")).collect();
    assert_eq!(full.len(), 1, "{log}");
    assert!(full[0].contains("pods_evicted="), "{log}");
}
