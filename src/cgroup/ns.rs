//! Process cgroup paths as the host sees them.
//!
//! The kernel prints `/proc/<pid>/cgroup` relative to the *reader's* cgroup
//! namespace. An exporter in a container with its own cgroup namespace (the
//! default for containerd and CRI-O on cgroup v2) reads host processes as
//! `/../../../system.slice/cron.service` and itself as `/`, while the
//! cgroup collector (walking the host hierarchy under `--path.sysfs`) and
//! the kernel's OOM reports use paths from the hierarchy's root. To make
//! them match, the namespace's root is found in the host hierarchy: it is
//! the directory with the same inode as the root of the container's own
//! cgroup mount (`/sys/fs/cgroup`, whose root is the namespace's root), and
//! every process path is joined to it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::cgroup::hierarchy::{self, Hierarchy};

/// This process's own sysfs, where its own view of the cgroup hierarchy is
/// mounted (the host's `--path.sysfs` may be elsewhere).
pub const OWN_SYSFS: &str = "/sys";

/// Finds, once, where this process's cgroup namespace is rooted in the
/// host hierarchy, and resolves process cgroup paths against it.
#[derive(Debug)]
pub struct Resolver {
    host_sysfs: PathBuf,
    own_sysfs: PathBuf,
    /// The root's path in the host hierarchy (`""` when the namespace is
    /// the host's), or `None` when it could not be found.
    root: OnceLock<Option<String>>,
}

impl Resolver {
    /// Host hierarchy under `host_sysfs` (`--path.sysfs`), this process's
    /// own view under `own_sysfs` (normally `/sys`).
    pub fn new(host_sysfs: impl Into<PathBuf>, own_sysfs: impl Into<PathBuf>) -> Self {
        Self {
            host_sysfs: host_sysfs.into(),
            own_sysfs: own_sysfs.into(),
            root: OnceLock::new(),
        }
    }

    /// Host hierarchy under `host_sysfs`, this process's own view under
    /// [`OWN_SYSFS`].
    pub fn on_host(host_sysfs: impl Into<PathBuf>) -> Self {
        Self::new(host_sysfs, OWN_SYSFS)
    }

    /// `path` (from `/proc/<pid>/cgroup`) as a path from the host
    /// hierarchy's root; unchanged when the namespace is the host's or its
    /// root could not be found.
    pub fn resolve(&self, path: String) -> String {
        match self.root.get_or_init(|| self.find_root()) {
            Some(root) if !root.is_empty() => join(root, &path),
            _ => path,
        }
    }

    fn find_root(&self) -> Option<String> {
        let (Some(host), Some(own)) = (
            hierarchy::detect(&self.host_sysfs),
            hierarchy::detect(&self.own_sysfs),
        ) else {
            return None;
        };
        let root = find_root(&host, &own);
        match &root {
            Some(r) if !r.is_empty() => tracing::info!(
                root = %r,
                "in a private cgroup namespace: process cgroup paths are resolved against its root in the host hierarchy"
            ),
            Some(_) => {}
            None => tracing::info!(
                host = %host.root().display(),
                own = %own.root().display(),
                "process cgroup paths may be relative to a private cgroup namespace whose root is not found in the host hierarchy; they are reported as read"
            ),
        }
        root
    }
}

/// The path in `host` of the directory that is the root of `own` (same
/// inode): `""` for the host's root, `None` when not found (another
/// hierarchy, or not mounted from the same kernel).
pub fn find_root(host: &Hierarchy, own: &Hierarchy) -> Option<String> {
    let ino = |p: &Path| std::fs::metadata(p).ok().map(|m| m.ino());
    let own_ino = ino(own.root())?;
    if ino(host.root())? == own_ino {
        return Some(String::new());
    }
    let mut found = None;
    hierarchy::visit(host, |c| {
        if found.is_none() && c.ino == own_ino {
            found = Some(c.path.to_owned());
        }
    });
    found
}

/// `path`, relative to `root`, as a path from the top: `..` climbs.
fn join(root: &str, path: &str) -> String {
    let mut parts: Vec<&str> = root.split('/').filter(|p| !p.is_empty()).collect();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            parts.pop();
        } else {
            parts.push(part);
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_namespace_relative_paths() {
        let root = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-a.scope";
        assert_eq!(join(root, "/"), root);
        assert_eq!(
            join(root, "/../../../../system.slice/cron.service"),
            "/system.slice/cron.service"
        );
        assert_eq!(
            join(root, "/../cri-containerd-b.scope"),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-b.scope"
        );
        // Never above the top.
        assert_eq!(join("/a", "/../../../b"), "/b");
    }

    #[test]
    fn finds_the_root_by_inode_in_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("host/fs/cgroup");
        std::fs::create_dir_all(host.join("kubepods/pod1/ctr")).unwrap();
        std::fs::create_dir_all(host.join("system.slice")).unwrap();
        std::fs::write(host.join("cgroup.controllers"), "memory\n").unwrap();
        let h = Hierarchy::V2(host.clone());
        let own = Hierarchy::V2(host.join("kubepods/pod1/ctr"));
        assert_eq!(find_root(&h, &own).as_deref(), Some("/kubepods/pod1/ctr"));
        assert_eq!(find_root(&h, &h).as_deref(), Some(""));
        let elsewhere = Hierarchy::V2(dir.path().to_owned());
        assert_eq!(find_root(&h, &elsewhere), None);
    }
}
