use std::path::Path;
use std::time::SystemTime;

use super::*;
use crate::cgroup::owner;

const COREDNS: (&str, &str) = (
    "10d16a28-60ff-475f-a631-510d9792219f",
    "178ec18073cc6ac7be2de8d9869daf162a6349dd056b6535849112c53ec3102a",
);
const WEB: &str = "28fcb1a0-a45c-44e7-b9bf-e3b9360bedba";
const NGINX: &str = "5b0e3cdf5ad0a2fd0bc3e4f0e0c1f4b5e2e9d3a1c7b8f6e5d4c3b2a1908f7e6d";
const SHIPPER: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a0fedcba98765432100123456789abcdef";
const INIT: &str = "0b3f6c2a9e1d4c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a190";
const WORKER: &str = "5931aa75-4603-4e65-b552-7c71cf55cfb5";
const WORKER_IDS: [&str; 2] = [
    "25a38b5b8d556d7983d975577f5ac75ebbcfb4b269e6deaa0a0440c1ffc969ca",
    "b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1",
];
const ETCD: (&str, &str) = (
    "7a8f3c9e2d41b05f6c1e9d8a2b3c4d5e",
    "c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2",
);
const LONG: (&str, &str) = (
    "ef7ce918-ae07-11e9-bf64-00163e08cd06",
    "d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3",
);
const MEMHOG: (&str, &str) = (
    "ce01147c-c24e-4d06-94d1-4742572744b5",
    "e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4",
);
/// The pause container: a cgroup, but no log.
const SANDBOX: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00";

/// A copy of the fixture tree the test may change.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubelet-logs");
    for sub in ["pods", "containers"] {
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(fixture.join(sub))
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
    dir
}

/// Makes the directories look unchanged for a while, so a listing of them
/// is trusted.
fn age(root: &Path) {
    let past = SystemTime::now() - Duration::from_secs(60);
    for sub in ["pods", "containers"] {
        std::fs::File::open(root.join(sub))
            .unwrap()
            .set_modified(past)
            .unwrap();
    }
}

/// Every cgroup path shape the owner parser knows for a pod's container.
fn paths(uid: &str, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    for qos in ["", "/burstable", "/besteffort"] {
        out.push(format!("/kubepods{qos}/pod{uid}/{id}"));
    }
    let uid_ = uid.replace('-', "_");
    for (slice, pod) in [
        (String::new(), format!("kubepods-pod{uid_}.slice")),
        (
            "/kubepods-burstable.slice".to_owned(),
            format!("kubepods-burstable-pod{uid_}.slice"),
        ),
        (
            "/kubepods-besteffort.slice".to_owned(),
            format!("kubepods-besteffort-pod{uid_}.slice"),
        ),
    ] {
        for rt in ["cri-containerd", "crio", "docker"] {
            out.push(format!("/kubepods.slice{slice}/{pod}/{rt}-{id}.scope"));
        }
    }
    out
}

fn names(ns: &str, pod: &str, container: Option<&str>) -> Names {
    Names {
        namespace: Some(ns.to_owned()),
        pod: Some(pod.to_owned()),
        container: container.map(str::to_owned),
    }
}

#[test]
fn every_fixture_container_through_every_cgroup_path_shape() {
    let root = tree();
    let r = Resolver::new(Some(root.path().to_owned()));
    let t = Instant::now();
    let long_ns = "observability-platform-production-eu-west-1-cluster-blue-000001";
    let long_pod = "prometheus-node-exporter-daemonset-for-the-production-fleet-abcd";
    let long_c = "node-exporter-with-a-container-name-exactly-sixty-three-chars-x";
    let cases = [
        (
            COREDNS.0,
            COREDNS.1,
            names("kube-system", "coredns-5d78c9869d-8xk2p", Some("coredns")),
        ),
        (
            WEB,
            NGINX,
            names("team-a-prod", "web-0.shard.a", Some("nginx")),
        ),
        (
            WEB,
            SHIPPER,
            names("team-a-prod", "web-0.shard.a", Some("log-shipper")),
        ),
        (
            WEB,
            INIT,
            names("team-a-prod", "web-0.shard.a", Some("init-schema")),
        ),
        // Both incarnations of a restarted container have its name.
        (
            WORKER,
            WORKER_IDS[0],
            names("batch", "worker-6b8f7c9d4-kq2lm", Some("worker")),
        ),
        (
            WORKER,
            WORKER_IDS[1],
            names("batch", "worker-6b8f7c9d4-kq2lm", Some("worker")),
        ),
        // A static pod, under the kubelet's UID (its mirror pod has another).
        (
            ETCD.0,
            ETCD.1,
            names("kube-system", "etcd-node-1.example.com", Some("etcd")),
        ),
        // The link name was cut: found by the beginning of the ID.
        (LONG.0, LONG.1, names(long_ns, long_pod, Some(long_c))),
        // The pod's sandbox has no log: the pod only.
        (WEB, SANDBOX, names("team-a-prod", "web-0.shard.a", None)),
        // A container whose link names another pod: the pod's directory
        // is believed, the container is not named.
        (
            WEB,
            WORKER_IDS[0],
            names("team-a-prod", "web-0.shard.a", None),
        ),
    ];
    for (uid, id, want) in &cases {
        for path in paths(uid, id) {
            let o = owner::owner(&path);
            assert_eq!(o.container_id.as_deref(), Some(*id), "{path}");
            assert_eq!(r.names(&o, t, Urgency::Scrape), *want, "{path}");
        }
        // The pod's own cgroup: no container.
        let o = owner::owner(&format!("/kubepods/burstable/pod{uid}"));
        let pod_only = Names {
            container: None,
            ..want.clone()
        };
        assert_eq!(r.names(&o, t, Urgency::Scrape), pod_only);
    }
    assert_eq!(
        r.names(
            &owner::owner("/kubepods/burstable/podaa/x"),
            t,
            Urgency::Kill
        ),
        Names::default()
    );
    let s = r.stats();
    assert_eq!((s.pods, s.containers, s.readable), (6, 9, [true, true]));
    assert_eq!(s.ignored, 1, "containers/README.txt");
    // The sandbox's ID missed: the tree was just copied, so a listing made
    // now may have missed an entry (racy) and is made again once.
    assert!(s.listings <= 2, "{s:?}");
}

#[test]
fn names_only_in_the_kubernetes_tree_at_the_top() {
    let root = tree();
    let r = Resolver::new(Some(root.path().to_owned()));
    let forged = format!(
        "/user.slice/user-1000.slice/user@1000.service/app.slice/kubepods/burstable/pod{}/{}",
        COREDNS.0, COREDNS.1
    );
    let o = owner::owner(&forged);
    assert_eq!(r.names(&o, Instant::now(), Urgency::Kill), Names::default());
    assert_eq!(r.stats().listings, 0);
}

#[test]
fn a_deleted_pod_keeps_its_names_in_the_cache() {
    let root = tree();
    let r = Resolver::new(Some(root.path().to_owned()));
    let t = Instant::now();
    let o = owner::owner(&format!("/kubepods/pod{}/{}", MEMHOG.0, MEMHOG.1));
    let want = names("default", "memhog", Some("memhog"));
    assert_eq!(r.names(&o, t, Urgency::Kill), want);
    std::fs::remove_dir_all(
        root.path()
            .join(format!("pods/default_memhog_{}", MEMHOG.0)),
    )
    .unwrap();
    std::fs::remove_file(
        root.path()
            .join(format!("containers/memhog_default_memhog-{}.log", MEMHOG.1)),
    )
    .unwrap();
    // Another lookup lists again (the directories changed)...
    let later = t + Duration::from_secs(5);
    let o2 = owner::owner(&format!("/kubepods/pod{}/{SANDBOX}", COREDNS.0));
    r.names(&o2, later, Urgency::Scrape);
    assert_eq!(r.stats().listings, 2);
    // ...and the deleted pod keeps its names.
    assert_eq!(r.names(&o, later, Urgency::Scrape), want);
    // What was never seen is not known.
    let fresh = Resolver::new(Some(root.path().to_owned()));
    assert_eq!(fresh.names(&o, later, Urgency::Kill), Names::default());
}

#[test]
fn unknown_ids_do_not_list_unchanged_directories() {
    let root = tree();
    age(root.path());
    let r = Resolver::new(Some(root.path().to_owned()));
    let t = Instant::now();
    for i in 0..1000u64 {
        let id = format!("{i:064x}");
        let o = owner::owner(&format!("/kubepods/pod{}/{id}", COREDNS.0));
        let at = t + Duration::from_millis(i * 10);
        let got = r.names(
            &o,
            at,
            if i % 2 == 0 {
                Urgency::Kill
            } else {
                Urgency::Scrape
            },
        );
        assert_eq!(got.container, None);
    }
    assert_eq!(r.stats().listings, 1);
    // A new pod changes the directory: a kill's lookup finds it at once.
    let uid = "0e6ea6c5-a4c9-4a8f-9d61-7e2ef5a1a4a0";
    std::fs::create_dir(root.path().join(format!("pods/prod_api-1_{uid}"))).unwrap();
    let o = owner::owner(&format!("/kubepods/pod{uid}"));
    let soon = t + Duration::from_millis(10_005);
    // A scrape within the interval of the last check does not list...
    assert_eq!(r.names(&o, soon, Urgency::Scrape), Names::default());
    // ...a kill does.
    assert_eq!(
        r.names(&o, soon, Urgency::Kill),
        names("prod", "api-1", None)
    );
    assert_eq!(r.stats().listings, 2);
}

#[test]
fn without_the_directories_there_are_no_names() {
    let r = Resolver::new(Some("/nonexistent/var/log".into()));
    let o = owner::owner(&format!("/kubepods/pod{}/{}", COREDNS.0, COREDNS.1));
    let t = Instant::now();
    assert_eq!(r.names(&o, t, Urgency::Kill), Names::default());
    assert_eq!(r.names(&o, t, Urgency::Kill), Names::default());
    let s = r.stats();
    assert_eq!((s.readable, s.listings), ([false, false], 1));
    assert_eq!(
        Resolver::off().names(&o, t, Urgency::Kill),
        Names::default()
    );
}

#[test]
fn an_unlistable_directory_is_tried_again() {
    let root = tree();
    age(root.path());
    // A regular file where the directory should be: there, not listable.
    let containers = root.path().join("containers");
    std::fs::rename(&containers, root.path().join("moved")).unwrap();
    std::fs::write(&containers, "").unwrap();
    let r = Resolver::new(Some(root.path().to_owned()));
    let o = owner::owner(&format!("/kubepods/pod{}/{}", COREDNS.0, COREDNS.1));
    let t = Instant::now();
    let got = r.names(&o, t, Urgency::Kill);
    assert_eq!(got, names("kube-system", "coredns-5d78c9869d-8xk2p", None));
    assert_eq!(r.stats().readable, [true, false]);
    let again = t + Duration::from_secs(2);
    r.names(&o, again, Urgency::Scrape);
    assert_eq!(r.stats().listings, 2);
}

#[test]
fn the_cache_keeps_the_most_recently_listed() {
    let mut m: HashMap<String, u64> = (0..10u64).map(|i| (i.to_string(), i)).collect();
    trim(&mut m, 4, |v| *v);
    let mut keys: Vec<u64> = m.into_values().collect();
    keys.sort_unstable();
    assert_eq!(keys, [6, 7, 8, 9]);
}

#[test]
fn entries_not_in_the_kubelets_format_are_counted_and_named() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tree();
    // Not UTF-8: no Kubernetes name, but an entry all the same.
    let bad = std::ffi::OsStr::from_bytes(b"web\xff_team-a-prod_nginx-00.log");
    std::fs::write(dir.path().join("containers").join(bad), "").unwrap();
    std::fs::write(dir.path().join("pods/not-a-pod"), "").unwrap();
    age(dir.path());
    let mut cache = Cache {
        generation: 1,
        ..Cache::default()
    };
    for (i, sub) in ["pods", "containers"].into_iter().enumerate() {
        let path = dir.path().join(sub);
        let State::Present(stamp) = listing::state(&path) else {
            panic!("{sub}")
        };
        let l = listing::list(&path, &stamp, 100).unwrap();
        let (count, example) = cache.merge(i, &l).expect("ignored entries");
        if i == 0 {
            assert_eq!((count, example.as_str()), (1, "not-a-pod"));
        } else {
            assert_eq!(count, 2, "README.txt and the non-UTF-8 name");
            assert!(
                ["README.txt", "web\u{fffd}_team-a-prod_nginx-00.log"].contains(&example.as_str()),
                "{example}"
            );
        }
    }
    assert_eq!(cache.stats.ignored, 3);
    // Through the resolver: the metric's figure.
    let r = Resolver::new(Some(dir.path().to_owned()));
    let o = owner::owner(&format!("/kubepods/burstable/pod{WEB}/{NGINX}"));
    r.names(&o, Instant::now(), Urgency::Kill);
    assert_eq!(r.stats().ignored, 3);
}

#[test]
fn a_full_cache_drops_the_same_entries_whatever_the_maps_order() {
    let keys = ["j", "c", "a", "h", "e", "b", "i", "d", "g", "f"];
    for order in [keys.to_vec(), keys.iter().rev().copied().collect()] {
        // Two listings: "x" and "y" seen in the later one.
        let mut m: HashMap<String, u64> = order.iter().map(|k| (k.to_string(), 1)).collect();
        m.insert("x".into(), 2);
        m.insert("y".into(), 2);
        assert_eq!(trim(&mut m, 5, |v| *v), 7);
        let mut kept: Vec<String> = m.into_keys().collect();
        kept.sort_unstable();
        assert_eq!(kept, ["a", "b", "c", "x", "y"]);
    }
}

#[test]
fn names_as_a_path() {
    assert_eq!(names("a", "b", Some("c")).path().as_deref(), Some("a/b/c"));
    assert_eq!(names("a", "b", None).path().as_deref(), Some("a/b"));
    assert_eq!(Names::default().path(), None);
}
