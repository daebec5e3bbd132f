//! What a cgroup path says about its owner: Kubernetes pod UID, container ID
//! and runtime, or systemd unit. Used wherever a memory cgroup is named (the
//! kmsg victim's `task_memcg`, and later the cgroup collector), so both
//! derive the same labels from the same path.
//!
//! Recognised layouts (cgroup v1 paths below the controller mount, and v2
//! paths below the unified root, are the same strings):
//!
//! - cgroupfs driver: `/kubepods/pod<uid>/<id>` (`<uid>` a UUID, or a
//!   static pod's 32 hex digits),
//!   `/kubepods/{burstable,besteffort}/pod<uid>/<id>`
//! - systemd driver: `/kubepods.slice/kubepods-pod<uid_>.slice/<rt>-<id>.scope`,
//!   `/kubepods.slice/kubepods-{burstable,besteffort}.slice/kubepods-{qos}-pod<uid_>.slice/<rt>-<id>.scope`
//!   with `<uid_>` the UID with `_` for `-` and `<rt>` one of `cri-containerd`,
//!   `crio`, `docker`
//! - Docker: `/docker/<id>`, `/system.slice/docker-<id>.scope`
//! - systemd: the innermost `<name>.service` or `<name>.scope`
//!
//! The pod and container layouts count only from the top of the hierarchy,
//! where only the kubelet and the container runtime create cgroups. Whoever
//! may create cgroups lower down (a delegated `user@1000.service`, a
//! rootless container) can spell any layout there with `mkdir -p`, so
//! `/user.slice/.../kubepods/burstable/pod<uid>` names no pod. A path
//! relative to a cgroup namespace whose root was not found
//! (`/../../<name>/...`) may enter a layout at any level after its `..`
//! steps: the name after them was made by whoever made the namespace's
//! ancestors, not by a process inside it. Clusters nested in a container
//! (kind) get no pod or container.

use serde::Serialize;

/// Owner of a cgroup, as far as its path tells.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// Kubernetes pod UID (with dashes).
    pub pod_uid: Option<String>,
    /// Container ID (hex, as the runtime prints it).
    pub container_id: Option<String>,
    /// Container runtime, when the path names it (`containerd`, `crio`, `docker`).
    pub runtime: Option<&'static str>,
    /// Innermost systemd unit that is not a container scope.
    pub unit: Option<String>,
}

/// How cgroups are named below the Kubernetes root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// `kubepods/<qos>/pod<uid>/<id>`
    Cgroupfs,
    /// `kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/<rt>-<id>.scope`
    Systemd,
}

/// Where a walk down a path stands in a known layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// At the top: a layout may start here.
    Top,
    /// Below the Kubernetes root, or its QoS class.
    Kubepods(Driver),
    /// Below a pod: its containers.
    Pod(Driver),
    /// Below `/docker`.
    Docker,
    /// Below `/system.slice`.
    SystemSlice,
    /// Anywhere else: no pod or container is recognised below.
    Elsewhere,
}

/// Derives the owner of the cgroup at `path`.
pub fn owner(path: &str) -> Owner {
    let mut owner = Owner::default();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let dots = parts.iter().take_while(|p| **p == "..").count();
    let mut at = At::Top;
    for (i, part) in parts.iter().enumerate().skip(dots) {
        let any_level = dots > 0 && i == dots;
        at = match step(at, part, any_level, &mut owner) {
            Some(next) => next,
            None => {
                if part.ends_with(".service") || part.ends_with(".scope") {
                    owner.unit = Some((*part).to_owned());
                }
                At::Elsewhere
            }
        };
    }
    owner
}

/// The walk's next position after `part`, noting any pod or container in
/// `owner`; `None` when `part` is not a step of a known layout.
/// `any_level` lets a layout start below its root.
fn step(at: At, part: &str, any_level: bool, owner: &mut Owner) -> Option<At> {
    let is_qos = |d: Driver| match d {
        Driver::Cgroupfs => matches!(part, "burstable" | "besteffort"),
        Driver::Systemd => matches!(
            part,
            "kubepods-burstable.slice" | "kubepods-besteffort.slice"
        ),
    };
    let pod = |d: Driver| match d {
        Driver::Cgroupfs => part
            .strip_prefix("pod")
            .map(str::to_owned)
            .filter(|u| is_uid(u)),
        Driver::Systemd => pod_uid_systemd(part),
    };
    match at {
        At::Top => match part {
            "kubepods" => Some(At::Kubepods(Driver::Cgroupfs)),
            "kubepods.slice" => Some(At::Kubepods(Driver::Systemd)),
            "docker" => Some(At::Docker),
            "system.slice" => Some(At::SystemSlice),
            _ if any_level => [Driver::Cgroupfs, Driver::Systemd]
                .into_iter()
                .find_map(|d| {
                    if is_qos(d) {
                        Some(At::Kubepods(d))
                    } else if let Some(uid) = pod(d) {
                        owner.pod_uid = Some(uid);
                        Some(At::Pod(d))
                    } else {
                        step(At::Pod(d), part, false, owner)
                    }
                }),
            _ => None,
        },
        At::Kubepods(d) if is_qos(d) => Some(at),
        At::Kubepods(d) => {
            owner.pod_uid = Some(pod(d)?);
            Some(At::Pod(d))
        }
        At::Pod(Driver::Cgroupfs) if is_container_id(part) => {
            owner.container_id = Some(part.to_owned());
            Some(At::Elsewhere)
        }
        At::Pod(Driver::Systemd) | At::SystemSlice => {
            let (runtime, id) = container_scope(part)?;
            owner.container_id = Some(id.to_owned());
            owner.runtime = runtime;
            Some(At::Elsewhere)
        }
        At::Docker if is_container_id(part) => {
            owner.container_id = Some(part.to_owned());
            owner.runtime = Some("docker");
            Some(At::Elsewhere)
        }
        At::Pod(_) | At::Docker | At::Elsewhere => None,
    }
}

/// `kubepods[-<qos>]-pod<uid_>.slice` (systemd driver).
fn pod_uid_systemd(part: &str) -> Option<String> {
    let (pre, raw) = part.strip_suffix(".slice")?.rsplit_once("-pod")?;
    let uid = raw.replace('_', "-");
    (matches!(
        pre,
        "kubepods" | "kubepods-burstable" | "kubepods-besteffort"
    ) && is_uid(&uid))
    .then_some(uid)
}

/// A UUID, or a static pod's 32 hex digits (the kubelet's hash of its
/// manifest).
fn is_uid(s: &str) -> bool {
    crate::k8s::names::is_pod_uid(s)
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `<runtime>-<id>.scope` for the container runtimes we know.
fn container_scope(part: &str) -> Option<(Option<&'static str>, &str)> {
    let name = part.strip_suffix(".scope")?;
    for (prefix, runtime) in [
        ("cri-containerd-", "containerd"),
        ("crio-", "crio"),
        ("docker-", "docker"),
    ] {
        if let Some(id) = name.strip_prefix(prefix).filter(|id| is_container_id(id)) {
            return Some((Some(runtime), id));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "178ec18073cc6ac7be2de8d9869daf162a6349dd056b6535849112c53ec3102a";
    const UID: &str = "10d16a28-60ff-475f-a631-510d9792219f";

    #[test]
    fn cgroupfs_every_qos_class() {
        for qos in ["", "/burstable", "/besteffort"] {
            let o = owner(&format!("/kubepods{qos}/pod{UID}/{ID}"));
            assert_eq!(o.pod_uid.as_deref(), Some(UID), "{qos}");
            assert_eq!(o.container_id.as_deref(), Some(ID), "{qos}");
            assert_eq!(o.unit, None);
        }
        // The pod-level cgroup alone: pod but no container.
        let o = owner(&format!("/kubepods/burstable/pod{UID}"));
        assert_eq!(o.pod_uid.as_deref(), Some(UID));
        assert_eq!(o.container_id, None);
    }

    #[test]
    fn systemd_driver_every_qos_class_and_runtime() {
        let uid_ = UID.replace('-', "_");
        for (slice, pod) in [
            ("".to_owned(), format!("kubepods-pod{uid_}.slice")),
            (
                "/kubepods-burstable.slice".to_owned(),
                format!("kubepods-burstable-pod{uid_}.slice"),
            ),
            (
                "/kubepods-besteffort.slice".to_owned(),
                format!("kubepods-besteffort-pod{uid_}.slice"),
            ),
        ] {
            for (rt, name) in [
                ("cri-containerd", "containerd"),
                ("crio", "crio"),
                ("docker", "docker"),
            ] {
                let path = format!("/kubepods.slice{slice}/{pod}/{rt}-{ID}.scope");
                let o = owner(&path);
                assert_eq!(o.pod_uid.as_deref(), Some(UID), "{path}");
                assert_eq!(o.container_id.as_deref(), Some(ID), "{path}");
                assert_eq!(o.runtime, Some(name), "{path}");
                assert_eq!(o.unit, None, "{path}");
            }
        }
    }

    #[test]
    fn static_pods_have_the_kubelets_hash_as_uid() {
        const HASH: &str = "7a8f3c9e2d41b05f6c1e9d8a2b3c4d5e";
        let o = owner(&format!("/kubepods/burstable/pod{HASH}/{ID}"));
        assert_eq!(o.pod_uid.as_deref(), Some(HASH));
        let o = owner(&format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{HASH}.slice/crio-{ID}.scope"
        ));
        assert_eq!(o.pod_uid.as_deref(), Some(HASH));
        assert_eq!(
            owner(&format!("/kubepods/pod{}/{ID}", &HASH[..31])).pod_uid,
            None
        );
    }

    #[test]
    fn docker_and_systemd() {
        let o = owner(&format!("/docker/{ID}"));
        assert_eq!(o.container_id.as_deref(), Some(ID));
        assert_eq!(o.runtime, Some("docker"));
        let o = owner(&format!("/system.slice/docker-{ID}.scope"));
        assert_eq!(o.container_id.as_deref(), Some(ID));
        assert_eq!(o.pod_uid, None);
        let o = owner("/system.slice/cron.service");
        assert_eq!(o.unit.as_deref(), Some("cron.service"));
        assert_eq!(o.container_id, None);
        let o = owner("/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope");
        assert_eq!(o.unit.as_deref(), Some("app-firefox.scope"));
    }

    #[test]
    fn layouts_spelled_below_the_top_name_no_pod_or_container() {
        // What a user with a delegated subtree can create with `mkdir -p`.
        let uid_ = UID.replace('-', "_");
        let base = "/user.slice/user-1000.slice/user@1000.service/app.slice";
        for forged in [
            format!("{base}/kubepods/burstable/pod{UID}/{ID}"),
            format!("{base}/x,task_memcg=/kubepods/burstable/pod{UID}"),
            format!("{base}/kubepods.slice/kubepods-pod{uid_}.slice/cri-containerd-{ID}.scope"),
            format!("{base}/docker/{ID}"),
            format!("{base}/system.slice/docker-{ID}.scope"),
            // Nor inside a container that can write its own cgroups.
            format!("/docker/{ID}/kubepods/burstable/pod{UID}"),
            format!(
                "/kubepods/burstable/pod{UID}/{ID}/kubepods/pod10d16a28-60ff-475f-a631-000000000000"
            ),
        ] {
            let o = owner(&forged);
            assert_eq!(
                o.pod_uid.as_deref(),
                forged.starts_with("/kubepods/").then_some(UID),
                "{forged}"
            );
            if !forged.starts_with("/kubepods/") && !forged.starts_with("/docker/") {
                assert_eq!(o.container_id, None, "{forged}");
            }
        }
        // A unit is whatever the innermost one is called.
        let o = owner(&format!("{base}/kubepods/app-x.scope"));
        assert_eq!(o.unit.as_deref(), Some("app-x.scope"));
    }

    #[test]
    fn an_unresolved_namespace_path_enters_a_layout_below_its_root() {
        let uid_ = UID.replace('-', "_");
        let o = owner(&format!(
            "/../../kubepods-burstable-pod{uid_}.slice/cri-containerd-{ID}.scope"
        ));
        assert_eq!(o.pod_uid.as_deref(), Some(UID));
        assert_eq!(o.container_id.as_deref(), Some(ID));
        let o = owner(&format!("/../cri-containerd-{ID}.scope"));
        assert_eq!(o.container_id.as_deref(), Some(ID));
        let o = owner(&format!("/../../burstable/pod{UID}/{ID}"));
        assert_eq!(o.pod_uid.as_deref(), Some(UID));
        // Only right after the `..` steps.
        let o = owner(&format!("/../../user.slice/x/pod{UID}"));
        assert_eq!(o.pod_uid, None);
    }

    #[test]
    fn unknown_paths_give_nothing() {
        assert_eq!(owner("/"), Owner::default());
        assert_eq!(owner("/mem2"), Owner::default());
        assert_eq!(owner("/kubepods/podnot-a-uid/abc"), Owner::default());
        assert_eq!(
            owner("/process_api/07cb2ffee1c8b9991664f73faf90bf6f/kmsgresearch"),
            Owner::default()
        );
    }
}
