//! A Kubernetes pod as the node shows it, for real OOM kills with names:
//! memory cgroups at the top of the hierarchy named as the kubelet names
//! them (`/kubepods/burstable/pod<uid>/<container-id>`, cgroupfs driver)
//! and the kubelet's log directories for the pod and its two containers in
//! a temporary directory to pass as `--path.varlog`. Removed on drop.

use super::MemCgroup;

pub const UID: &str = "3f1e2d4c-5b6a-4789-9abc-def012345678";
pub const NAMESPACE: &str = "team-a";
pub const POD: &str = "memhog-7d9f8c6b5-x2k4q";
/// The container `hog` (16 MB limit) and `sidecar` (16 MB).
pub const HOG_ID: &str = "4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899";
pub const SIDECAR_ID: &str = "5a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899";

/// The pod's cgroups and log directories. Fields drop in order: the
/// containers' cgroups before their parents.
pub struct KubePod {
    pub hog: MemCgroup,
    pub sidecar: MemCgroup,
    _pod: MemCgroup,
    _burstable: MemCgroup,
    _kubepods: MemCgroup,
    /// The host's /var/log stand-in: `pods/` and `containers/`.
    pub logs: tempfile::TempDir,
}

impl KubePod {
    /// Fails if `/kubepods` exists (a real node).
    pub fn new() -> Self {
        let logs = tempfile::tempdir().unwrap();
        write_logs(logs.path(), POD);
        let kubepods = MemCgroup::top("kubepods");
        let burstable = kubepods.child("burstable", "64M");
        let pod = burstable.child(&format!("pod{UID}"), "64M");
        Self {
            hog: pod.child(HOG_ID, "16M"),
            sidecar: pod.child(SIDECAR_ID, "16M"),
            _pod: pod,
            _burstable: burstable,
            _kubepods: kubepods,
            logs,
        }
    }

    /// `--path.varlog=<the log directories' parent>`.
    pub fn varlog_flag(&self) -> String {
        format!("--path.varlog={}", self.logs.path().display())
    }

    /// Deletes the pod's log directories, as the kubelet does seconds
    /// after the pod is deleted.
    pub fn delete_logs(&self) {
        std::fs::remove_dir_all(self.logs.path().join("pods")).unwrap();
        std::fs::remove_dir_all(self.logs.path().join("containers")).unwrap();
    }

    /// Moves the log directories aside (`hidden` true) or back: a node
    /// whose directories do not name the pod yet.
    pub fn hide_logs(&self, hidden: bool) {
        for sub in ["pods", "containers"] {
            let (shown, aside) = (
                self.logs.path().join(sub),
                self.logs.path().join(format!("{sub}.aside")),
            );
            let (from, to) = if hidden {
                (shown, aside)
            } else {
                (aside, shown)
            };
            std::fs::rename(from, to).unwrap();
        }
    }

    /// Replaces the log directories with ones naming the same UID and
    /// container IDs as pod `pod` (something the kubelet never does: a
    /// test's way to tell when a name was read).
    pub fn rename_logs(&self, pod: &str) {
        self.delete_logs();
        write_logs(self.logs.path(), pod);
    }
}

/// The kubelet's `pods/` and `containers/` under `root` for pod `pod` of
/// [`NAMESPACE`] with UID [`UID`] and its two containers.
fn write_logs(root: &std::path::Path, pod: &str) {
    let dir = format!("{NAMESPACE}_{pod}_{UID}");
    std::fs::create_dir(root.join("containers")).unwrap();
    for (c, id) in [("hog", HOG_ID), ("sidecar", SIDECAR_ID)] {
        std::fs::create_dir_all(root.join("pods").join(&dir).join(c)).unwrap();
        std::os::unix::fs::symlink(
            format!("/var/log/pods/{dir}/{c}/0.log"),
            root.join(format!("containers/{pod}_{NAMESPACE}_{c}-{id}.log")),
        )
        .unwrap();
    }
}
