//! The kubelet's log directory names, parsed. Pure: names in, entries out.
//!
//! - `/var/log/pods/<namespace>_<pod>_<pod-uid>`: one directory per pod
//! - `/var/log/containers/<pod>_<namespace>_<container>-<container-id>.log`:
//!   one link per container (init containers and restarts included)
//!
//! Kubernetes names never contain `_`: a namespace and a container name are
//! DNS labels (`[a-z0-9-]`, at most 63 characters), a pod name is a DNS
//! subdomain (`[a-z0-9.-]`, at most 253), so splitting at `_` is exact. A
//! name that breaks these rules was not written by the kubelet and gives
//! nothing.
//!
//! The kubelet cuts a link name longer than 255 bytes (ext4's limit) to 251
//! and adds `.log`: long names lose the end of the container ID. Such a
//! link is read with the ID's beginning, when at least
//! [`MIN_ID_PREFIX`] hex digits of it are left.

/// A pod's log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodDir {
    pub namespace: String,
    pub pod: String,
    /// As in the cgroup path: 36 characters with dashes, or 32 hex digits
    /// for a static pod (the kubelet's hash of its manifest).
    pub uid: String,
}

/// A container's log link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLog {
    pub pod: String,
    pub namespace: String,
    pub container: String,
    /// 64 hex digits, or the first ones when the kubelet cut the name.
    pub id: String,
    /// The name was cut at 255 bytes: `id` is a prefix.
    pub cut: bool,
}

/// Longest file name the kubelet writes.
const NAME_MAX: usize = 255;

/// Fewest hex digits of a cut container ID still taken as its prefix
/// (Docker's short IDs have 12).
pub const MIN_ID_PREFIX: usize = 12;

/// `<namespace>_<pod>_<pod-uid>`.
pub fn pod_dir(name: &str) -> Option<PodDir> {
    let mut parts = name.split('_');
    let (namespace, pod, uid) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && is_label(namespace) && is_subdomain(pod) && is_pod_uid(uid)).then(
        || PodDir {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            uid: uid.to_owned(),
        },
    )
}

/// `<pod>_<namespace>_<container>-<container-id>.log`.
pub fn container_log(name: &str) -> Option<ContainerLog> {
    let (rest, id) = name.strip_suffix(".log")?.rsplit_once('-')?;
    let mut parts = rest.split('_');
    let (pod, namespace, container) = (parts.next()?, parts.next()?, parts.next()?);
    let cut = name.len() == NAME_MAX && id.len() < 64;
    let id_ok = if cut {
        id.len() >= MIN_ID_PREFIX && id.bytes().all(|b| b.is_ascii_hexdigit())
    } else {
        is_container_id(id)
    };
    (parts.next().is_none()
        && is_subdomain(pod)
        && is_label(namespace)
        && is_label(container)
        && id_ok)
        .then(|| ContainerLog {
            pod: pod.to_owned(),
            namespace: namespace.to_owned(),
            container: container.to_owned(),
            id: id.to_owned(),
            cut,
        })
}

/// A pod UID as the cgroup path spells it: the API server's UUID, or a
/// static pod's 32 hex digits.
pub fn is_pod_uid(s: &str) -> bool {
    let uuid = s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    uuid || (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// RFC 1123 label: 1-63 of `[a-z0-9-]`, alphanumeric at both ends.
fn is_label(s: &str) -> bool {
    s.len() <= 63 && is_part(s)
}

/// RFC 1123 subdomain as Kubernetes checks it: at most 253 characters,
/// parts joined by `.` (a part may be longer than 63).
fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_part)
}

/// `[a-z0-9-]`, not empty, alphanumeric at both ends.
fn is_part(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "10d16a28-60ff-475f-a631-510d9792219f";
    const STATIC_UID: &str = "7a8f3c9e2d41b05f6c1e9d8a2b3c4d5e";
    const ID: &str = "178ec18073cc6ac7be2de8d9869daf162a6349dd056b6535849112c53ec3102a";

    #[test]
    fn pod_directories() {
        let p = pod_dir(&format!("kube-system_coredns-5d78c9869d-8xk2p_{UID}")).unwrap();
        assert_eq!(
            (p.namespace.as_str(), p.pod.as_str(), p.uid.as_str()),
            ("kube-system", "coredns-5d78c9869d-8xk2p", UID)
        );
        // A static pod: the kubelet's hash, and the node name in the pod's.
        let p = pod_dir(&format!("kube-system_etcd-node-1.example.com_{STATIC_UID}")).unwrap();
        assert_eq!(p.pod, "etcd-node-1.example.com");
        assert_eq!(p.uid, STATIC_UID);
    }

    #[test]
    fn container_logs() {
        let c = container_log(&format!("web-0.shard.a_team-a_nginx-sidecar-{ID}.log")).unwrap();
        assert_eq!(
            (c.pod.as_str(), c.namespace.as_str(), c.container.as_str()),
            ("web-0.shard.a", "team-a", "nginx-sidecar")
        );
        assert_eq!(c.id, ID);
    }

    #[test]
    fn names_at_their_length_limits() {
        let ns = "n".repeat(63);
        let container = format!("c{}", "-x".repeat(31));
        assert_eq!(container.len(), 63);
        let pod = [&"a".repeat(63)[..], &"b".repeat(63), &"c".repeat(125)].join(".");
        assert_eq!(pod.len(), 253);
        let p = pod_dir(&format!("{ns}_{pod}_{UID}")).unwrap();
        assert_eq!((p.namespace, p.pod.clone()), (ns.clone(), pod.clone()));
        // The link name the kubelet writes is cut at 255 bytes.
        let full = format!("{}_{ns}_{container}-{ID}", &pod[..100]);
        let c = container_log(&format!("{}.log", &full[..251])).unwrap();
        assert_eq!(c.container, container);
        assert!(c.cut);
        assert!(ID.starts_with(&c.id) && c.id.len() < 64, "{}", c.id);
        // Not when too little of the ID is left, nor when the name is not
        // 255 bytes long.
        let short = format!("{}_{ns}_{container}-{ID}", &pod[..117]);
        assert_eq!(251 - short.find(ID).unwrap(), 5);
        assert_eq!(container_log(&format!("{}.log", &short[..251])), None);
        assert_eq!(container_log(&format!("{}.log", &full[..250])), None);
        // One character more is not a Kubernetes name.
        assert_eq!(pod_dir(&format!("{ns}n_{pod}_{UID}")), None);
        assert_eq!(pod_dir(&format!("{ns}_{pod}d_{UID}")), None);
        assert_eq!(
            container_log(&format!("p_{ns}_{container}y-{ID}.log")),
            None
        );
    }

    #[test]
    fn what_the_kubelet_does_not_write_gives_nothing() {
        for name in [
            String::new(),
            "lost+found".to_owned(),
            UID.to_owned(), // the layout before Kubernetes 1.14
            format!("ns_pod_{UID}_x"),
            format!("ns__{UID}"),
            format!("NS_pod_{UID}"),
            format!("ns_pod_{}", &UID[..35]),
            format!("ns_-pod_{UID}"),
            format!("ns_pod..x_{UID}"),
        ] {
            assert_eq!(pod_dir(&name), None, "{name}");
        }
        for name in [
            format!("pod_ns_c-{ID}"),
            format!("pod_ns_c-{ID}.log.1"),
            format!("pod_ns_c_d-{ID}.log"),
            format!("pod_ns_c-{}.log", &ID[..63]),
            format!("pod_ns_c-{}X.log", &ID[..63]),
            format!("pod_ns-{ID}.log"),
            format!("pod_ns_-{ID}.log"),
            format!("pod_ns_Ca-{ID}.log"),
        ] {
            assert_eq!(container_log(&name), None, "{name}");
        }
    }
}
