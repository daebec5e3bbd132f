//! What a cgroup path says about its owner: Kubernetes pod UID, container ID
//! and runtime, or systemd unit. Used wherever a memory cgroup is named (the
//! kmsg victim's `task_memcg`, and later the cgroup collector), so both
//! derive the same labels from the same path.
//!
//! Recognised layouts (cgroup v1 paths below the controller mount, and v2
//! paths below the unified root, are the same strings):
//!
//! - cgroupfs driver: `/kubepods/pod<uid>/<id>`,
//!   `/kubepods/{burstable,besteffort}/pod<uid>/<id>`
//! - systemd driver: `/kubepods.slice/kubepods-pod<uid_>.slice/<rt>-<id>.scope`,
//!   `/kubepods.slice/kubepods-{burstable,besteffort}.slice/kubepods-{qos}-pod<uid_>.slice/<rt>-<id>.scope`
//!   with `<uid_>` the UID with `_` for `-` and `<rt>` one of `cri-containerd`,
//!   `crio`, `docker`
//! - Docker: `/docker/<id>`, `/system.slice/docker-<id>.scope`
//! - systemd: the innermost `<name>.service` or `<name>.scope`

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

/// Derives the owner of the cgroup at `path`.
pub fn owner(path: &str) -> Owner {
    let mut owner = Owner::default();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        if let Some(uid) = pod_uid(part) {
            owner.pod_uid = Some(uid);
            continue;
        }
        if let Some((runtime, id)) = container_scope(part) {
            owner.container_id = Some(id.to_owned());
            owner.runtime = runtime;
            continue;
        }
        let parent = i.checked_sub(1).map(|j| parts[j]);
        let under_pod = parent.is_some_and(|p| pod_uid(p).is_some());
        if (under_pod || parent == Some("docker")) && is_container_id(part) {
            owner.container_id = Some((*part).to_owned());
            if parent == Some("docker") {
                owner.runtime = Some("docker");
            }
            continue;
        }
        if part.ends_with(".service") || part.ends_with(".scope") {
            owner.unit = Some((*part).to_owned());
        }
    }
    owner
}

/// `pod<uid>` (cgroupfs) or `kubepods[-<qos>]-pod<uid_>.slice` (systemd).
fn pod_uid(part: &str) -> Option<String> {
    let raw = if let Some(rest) = part.strip_suffix(".slice") {
        rest.rsplit_once("-pod")
            .filter(|(pre, _)| pre.starts_with("kubepods"))?
            .1
    } else {
        part.strip_prefix("pod")?
    };
    let uid = raw.replace('_', "-");
    is_uid(&uid).then_some(uid)
}

fn is_uid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
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
