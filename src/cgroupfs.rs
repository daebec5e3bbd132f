//! Finds the memory cgroup hierarchy under `--path.sysfs` and walks it.
//!
//! - v2 (unified): `<sysfs>/fs/cgroup` (or `<sysfs>/fs/cgroup/unified` on
//!   hybrid hosts) whose `cgroup.controllers` lists `memory`.
//! - v1: `<sysfs>/fs/cgroup/memory`. A hybrid host such as this development
//!   VM (v1 memory controller, a v2 hierarchy without it) uses v1.

use std::path::{Path, PathBuf};

/// A memory cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// cgroup v1 memory controller mounted at the path.
    V1(PathBuf),
    /// cgroup v2 with the memory controller, mounted at the path.
    V2(PathBuf),
}

impl Hierarchy {
    /// The mount point.
    pub fn root(&self) -> &Path {
        match self {
            Self::V1(p) | Self::V2(p) => p,
        }
    }

    /// `1` or `2`.
    pub fn version(&self) -> u8 {
        match self {
            Self::V1(_) => 1,
            Self::V2(_) => 2,
        }
    }

    /// The directory of cgroup `path` (`/system.slice/x.service`).
    pub fn dir(&self, path: &str) -> PathBuf {
        self.root().join(path.trim_start_matches('/'))
    }
}

/// Finds the memory hierarchy under `sysfs`.
pub fn detect(sysfs: &Path) -> Option<Hierarchy> {
    let base = sysfs.join("fs/cgroup");
    for root in [base.clone(), base.join("unified")] {
        let controllers =
            std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        if controllers.split_whitespace().any(|c| c == "memory") {
            return Some(Hierarchy::V2(root));
        }
    }
    let v1 = base.join("memory");
    v1.join("memory.usage_in_bytes")
        .exists()
        .then_some(Hierarchy::V1(v1))
}

fn is_leaf(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).is_ok_and(|m| m.nlink() == 2)
}

/// Every cgroup below the root (not the root itself), as `/a/b` paths,
/// parents before children. Directories that vanish mid-walk are skipped.
pub fn walk(h: &Hierarchy) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(path) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(h.dir(&path)) else {
            continue;
        };
        let mut children: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .map(|name| format!("{path}/{name}"))
            .collect();
        children.sort_unstable_by(|a, b| b.cmp(a));
        for child in children {
            // A directory's link count is 2 plus its subdirectories on
            // cgroupfs (and ext4, tmpfs): at exactly 2 it is a leaf and
            // listing it can be skipped, most cgroups being leaves.
            if !is_leaf(&h.dir(&child)) {
                stack.push(child.clone());
            }
            out.push(child);
        }
    }
    out
}
