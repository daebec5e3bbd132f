//! The userspace kills still on record in the cgroup tree, for the `kills`
//! command: every v2 cgroup's attributes read once.

use std::path::Path;

use super::history::UserspaceKill;
use super::xattr;
use crate::cgroup::hierarchy::{self, Hierarchy};
use crate::cgroup::owner;

/// The kills systemd-oomd and oomd counted on the v2 cgroups still under
/// `sysfs`, one per cgroup, without a time (the attributes keep none) or
/// names (the caller resolves them).
pub fn kills(sysfs: &Path) -> Vec<UserspaceKill> {
    let Some(h @ Hierarchy::V2(_)) = hierarchy::detect(sysfs) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    hierarchy::visit(&h, |c| {
        if let Some(counts) = xattr::read(c.dir).attrs.counts() {
            out.push(UserspaceKill {
                time: None,
                killer: counts.killer,
                task_memcg: c.path.to_owned(),
                kills: counts.kills,
                processes: counts.processes,
                owner: owner::owner(c.path),
                names: crate::k8s::Names::default(),
                before_start: false,
            });
        }
    });
    out
}
