//! Deployment files, checked offline (there is no Docker engine or
//! Kubernetes cluster here): the systemd unit with `systemd-analyze verify`,
//! the Kubernetes manifests against the Kubernetes schemas
//! (`kubernetes-validate`) plus structural checks of the custom resources,
//! the PrometheusRule and dashboards ConfigMap (generated from the mixin,
//! drift-checked in mixin.rs), the
//! compose demo's files with promtool and amtool, the Dockerfile's shape;
//! and, live, the privilege model: an unprivileged user with only
//! CAP_SYSLOG counts a real OOM kill with its victim.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

use crate::support::{
    BIN, Exporter, MemCgroup, Sysctl, kernel_lock, repo, require_root, require_tool, sample,
    unprivileged,
};

fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn yaml_docs(path: &Path) -> Vec<Yaml> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(Yaml::deserialize)
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn systemd_unit() -> String {
    std::fs::read_to_string(repo().join("deploy/systemd/oom_exporter.service")).unwrap()
}

#[test]
fn systemd_unit_keeps_least_privilege() {
    let unit = systemd_unit();
    for directive in [
        "User=oom_exporter",
        "AmbientCapabilities=CAP_SYSLOG",
        "CapabilityBoundingSet=CAP_SYSLOG",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "OOMScoreAdjust=-900",
        "MemoryMax=64M",
        "Restart=on-failure",
        "DeviceAllow=/dev/kmsg r",
    ] {
        assert!(
            unit.lines().any(|l| l == directive),
            "unit lacks {directive}"
        );
    }
    // These would hide /dev/kmsg or other processes from the exporter.
    for forbidden in [
        "ProtectKernelLogs=yes",
        "PrivateDevices=yes",
        "ProtectProc=invisible",
        "ProcSubset=pid",
    ] {
        assert!(!unit.contains(forbidden), "unit has {forbidden}");
    }
}

#[test]
#[ignore = "needs systemd-analyze"]
fn systemd_unit_verifies() {
    if require_tool("systemd-analyze", "verify the systemd unit").is_none() {
        return;
    }
    // The hand-install unit and the packages' copy (tests/it/packages.rs
    // installs and verifies the packaged one in place).
    for (unit, path) in [
        (systemd_unit(), "/usr/local/bin/oom_exporter"),
        (
            std::fs::read_to_string(repo().join("deploy/packaging/systemd/oom_exporter.service"))
                .unwrap(),
            "/usr/bin/oom_exporter",
        ),
    ] {
        // verify needs ExecStart to exist: point it at the binary under test.
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("oom_exporter.service");
        std::fs::write(&copy, unit.replace(path, BIN)).unwrap();
        // --man=no: the man page of Documentation= is not installed here;
        // the package test verifies the installed unit with it.
        let (ok, text) = output(
            Command::new("systemd-analyze")
                .args(["verify", "--man=no"])
                .arg(&copy),
        );
        assert!(
            ok && text.trim().is_empty(),
            "systemd-analyze verify ({path}):\n{text}"
        );
    }
}

/// The kustomization rendered the way `kubectl kustomize` does for
/// resource lists, components and a namespace: every resource (of the
/// bases and components it names too), namespaced.
fn rendered_kustomization() -> Vec<Yaml> {
    render(&repo().join("deploy/kubernetes"))
}

/// The kustomization (or component) in `dir`, rendered.
pub(crate) fn render(dir: &Path) -> Vec<Yaml> {
    let k = &yaml_docs(&dir.join("kustomization.yaml"))[0];
    let namespace = k["namespace"].as_str().map(str::to_owned);
    let mut found = Vec::new();
    let names = |key: &str| -> Vec<std::path::PathBuf> {
        k[key]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|r| dir.join(r.as_str().unwrap()))
            .collect()
    };
    for path in names("resources").into_iter().chain(names("components")) {
        if path.is_dir() {
            found.extend(render(&path));
        } else {
            found.extend(yaml_docs(&path));
        }
    }
    let mut docs = Vec::new();
    for mut doc in found {
        if let Some(namespace) = &namespace {
            if doc["kind"].as_str() != Some("Namespace")
                && let Yaml::Mapping(meta) = &mut doc
                && let Some(Yaml::Mapping(m)) = meta.get_mut("metadata")
            {
                m.insert(
                    Yaml::String("namespace".into()),
                    Yaml::String(namespace.clone()),
                );
            }
        }
        docs.push(doc);
    }
    docs
}

fn find<'a>(docs: &'a [Yaml], kind: &str) -> &'a Yaml {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn kubernetes_manifests_hold_every_kind_and_least_privilege() {
    let docs = rendered_kustomization();
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "DaemonSet",
        "Service",
        "ConfigMap",
    ] {
        assert!(
            kinds.contains(&kind),
            "kustomization lacks a {kind}: {kinds:?}"
        );
    }
    // `kubectl apply -k deploy/kubernetes` works without the Prometheus
    // Operator: none of its kinds unless its component is asked for.
    assert!(
        docs.iter().all(|d| !d["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("monitoring.coreos.com"))),
        "the base holds the Prometheus Operator's kinds: {kinds:?}"
    );
    let with_operator = render(&repo().join("deploy/prometheus-operator"));
    let operator_kinds: Vec<&str> = with_operator
        .iter()
        .filter_map(|d| d["kind"].as_str())
        .collect();
    assert_eq!(operator_kinds.len(), kinds.len() + 2, "{operator_kinds:?}");
    for doc in &with_operator {
        if doc["kind"].as_str() != Some("Namespace") {
            assert_eq!(doc["metadata"]["namespace"].as_str(), Some("oom-exporter"));
        }
    }
    // The DaemonSet's least privilege and survival settings.
    let ds = find(&docs, "DaemonSet");
    daemonset_least_privilege(ds);
    custom_resources_fit_the_daemonset(&with_operator, ds);
}

/// The DaemonSet: node-critical, on every node, non-root with a read-only
/// root, only CAP_SYSLOG, Guaranteed QoS, host paths read-only.
fn daemonset_least_privilege(ds: &Yaml) {
    let pod = &ds["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(
        pod["priorityClassName"].as_str(),
        Some("system-node-critical")
    );
    assert_eq!(pod["tolerations"][0]["operator"].as_str(), Some("Exists"));
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    assert_eq!(
        c["securityContext"]["allowPrivilegeEscalation"].as_bool(),
        Some(false)
    );
    assert_eq!(
        c["securityContext"]["capabilities"]["drop"][0].as_str(),
        Some("ALL")
    );
    assert_eq!(
        c["securityContext"]["capabilities"]["add"]
            .as_sequence()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        c["securityContext"]["capabilities"]["add"][0].as_str(),
        Some("SYSLOG")
    );
    assert_eq!(
        c["resources"]["requests"], c["resources"]["limits"],
        "Guaranteed QoS"
    );
    assert!(
        c["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|a| a.as_str() == Some("--path.procfs=/host/proc"))
    );
    for m in c["volumeMounts"].as_sequence().unwrap() {
        assert_eq!(m["readOnly"].as_bool(), Some(true), "{m:?}");
    }
    // Of the host's /var/log, only the kubelet's two log directories.
    let host_paths: Vec<&str> = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| v["hostPath"]["path"].as_str())
        .filter(|p| p.starts_with("/var/log"))
        .collect();
    assert_eq!(host_paths, ["/var/log/pods", "/var/log/containers"]);
    // A node without them (no kubelet logs yet, another log layout) still
    // starts the pod, which then gives no names: no check of the path's
    // type, and nothing created on the host.
    for v in pod["volumes"].as_sequence().unwrap() {
        if v["hostPath"]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/var/log"))
        {
            let kind = v["hostPath"]["type"].as_str().unwrap_or("");
            assert_eq!(kind, "", "{v:?} blocks the pod on a node without it");
        }
    }
    assert!(
        c["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|a| a.as_str() == Some("--path.varlog=/host/var/log"))
    );
}

/// Custom resources, structurally: the PodMonitor selects the DaemonSet's
/// pods and their port; the PrometheusRule carries the rules; the
/// dashboards ConfigMap holds JSON.
fn custom_resources_fit_the_daemonset(docs: &[Yaml], ds: &Yaml) {
    let c = &ds["spec"]["template"]["spec"]["containers"][0];
    let pm = find(docs, "PodMonitor");
    assert_eq!(pm["apiVersion"].as_str(), Some("monitoring.coreos.com/v1"));
    assert_eq!(
        pm["spec"]["selector"]["matchLabels"],
        ds["spec"]["template"]["metadata"]["labels"]
    );
    let endpoint = &pm["spec"]["podMetricsEndpoints"][0];
    assert_eq!(endpoint["port"], c["ports"][0]["name"]);
    // The operator gives every target the scraped pod's namespace, pod and
    // container labels; without honor_labels they would push the exporter's
    // own names of the killed workload aside (exported_namespace, ...) and
    // name every series after the exporter's pod.
    assert_eq!(
        endpoint["honorLabels"].as_bool(),
        Some(true),
        "the PodMonitor must honor the exporter's namespace/pod/container labels"
    );
    // And the exporter's own pod is no workload: its names are dropped from
    // the target, so series of the node (oom_kills_total, ...) carry none.
    assert!(
        endpoint["relabelings"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|r| r["action"].as_str() == Some("labeldrop")
                && r["regex"].as_str() == Some("namespace|pod|container")),
        "the PodMonitor keeps the exporter pod's namespace/pod/container: {endpoint:?}"
    );
    let pr = find(docs, "PrometheusRule");
    assert_eq!(pr["apiVersion"].as_str(), Some("monitoring.coreos.com/v1"));
    let rules: usize = pr["spec"]["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|g| g["rules"].as_sequence().unwrap().len())
        .sum();
    assert!(rules >= 14, "{rules} rules");
    let cm = find(docs, "ConfigMap");
    assert_eq!(
        cm["metadata"]["labels"]["grafana_dashboard"].as_str(),
        Some("1")
    );
    for (_, json) in cm["data"].as_mapping().unwrap() {
        serde_json::from_str::<serde_json::Value>(json.as_str().unwrap()).unwrap();
    }
}

#[test]
#[ignore = "needs kubernetes-validate: from PyPI, tests/run installs it in a venv"]
fn kubernetes_manifests_validate_against_the_schemas() {
    let docs = rendered_kustomization();
    // Core kinds against the Kubernetes 1.31 schemas.
    let Some(tool) = require_tool(
        "kubernetes-validate",
        "validate the manifests against the Kubernetes schemas",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (i, doc) in docs.iter().enumerate() {
        if doc["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("monitoring.coreos.com"))
        {
            continue;
        }
        let text = serde_yaml_ng::to_string(doc).unwrap();
        let file = dir.path().join(format!("{i}.yaml"));
        std::fs::write(&file, text).unwrap();
        let (ok, out) = output(
            Command::new(&tool)
                .args(["--strict", "-k", "1.31.0"])
                .arg(&file),
        );
        assert!(ok, "{}: {out}", doc["kind"].as_str().unwrap_or("?"));
    }
}

#[test]
fn compose_demo_files_parse_and_point_at_the_repository() {
    let compose_dir = repo().join("deploy/compose");
    let compose = &yaml_docs(&compose_dir.join("docker-compose.yml"))[0];
    for service in ["oom_exporter", "prometheus", "alertmanager", "grafana"] {
        assert!(
            !compose["services"][service].is_null(),
            "no {service} service"
        );
    }
    // Mounts point at the repository's own files.
    for (_, service) in compose["services"].as_mapping().unwrap() {
        for v in service["volumes"].as_sequence().into_iter().flatten() {
            let source = v.as_str().unwrap().split(':').next().unwrap();
            if source.starts_with('.') {
                assert!(compose_dir.join(source).exists(), "{source} does not exist");
            }
        }
    }
    let exporter = &compose["services"]["oom_exporter"];
    assert_eq!(exporter["cap_add"][0].as_str(), Some("SYSLOG"));
    assert_eq!(exporter["read_only"].as_bool(), Some(true));
}

#[test]
#[ignore = "needs promtool, amtool"]
fn compose_demo_configs_pass_promtool_and_amtool() {
    if require_tool("promtool", "check the demo's Prometheus config").is_none()
        || require_tool("amtool", "check the demo's Alertmanager config").is_none()
    {
        return;
    }
    let compose_dir = repo().join("deploy/compose");
    // The layout inside the Prometheus container: the config next to alerts/.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        compose_dir.join("prometheus.yml"),
        dir.path().join("prometheus.yml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(repo().join("alerts"), dir.path().join("alerts")).unwrap();
    let (ok, out) = output(
        Command::new("promtool")
            .arg("check")
            .arg("config")
            .arg(dir.path().join("prometheus.yml")),
    );
    assert!(ok && out.contains("rules found"), "{out}");
    let (ok, out) = output(
        Command::new("amtool")
            .arg("check-config")
            .arg(repo().join("deploy/alertmanager.yml")),
    );
    assert!(ok, "{out}");
}

#[test]
fn dockerfile_builds_in_stages_and_runs_unprivileged() {
    let text = std::fs::read_to_string(repo().join("deploy/container/Dockerfile")).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        lines.iter().filter(|l| l.starts_with("FROM ")).count() >= 2,
        "multi-stage"
    );
    let user = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "runs as {user}"
    );
    let entry = lines
        .iter()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .expect("ENTRYPOINT");
    assert!(entry.contains("--path.procfs=/host/proc"), "{entry}");
    for l in &lines {
        if let Some(args) = l.strip_prefix("COPY ").filter(|a| !a.starts_with("--from")) {
            let parts: Vec<&str> = args.split_whitespace().collect();
            for source in &parts[..parts.len() - 1] {
                assert!(
                    repo().join(source).exists(),
                    "COPY {source}: not in the repository"
                );
            }
        }
    }
}

#[test]
#[ignore = "needs root, setpriv: switches users, sets kernel.dmesg_restrict, OOM kills"]
fn least_privilege_counts_a_real_kill_with_and_without_cap_syslog() {
    if !require_root("switch users, set kernel.dmesg_restrict and cause OOM kills")
        || require_tool("setpriv", "drop privileges").is_none()
    {
        return;
    }
    let _kernel = kernel_lock();
    let _restrict = Sysctl::set("kernel/dmesg_restrict", "1");
    let cg = MemCgroup::new("privs");
    let wait = |e: &Exporter, what: &str, ok: &dyn Fn(&str) -> bool| {
        e.wait_metrics(Duration::from_secs(20), what, ok)
    };

    // Nobody with CAP_SYSLOG only: reads /dev/kmsg, names the victim.
    let e = Exporter::start_with(unprivileged(Some("+syslog")), &[]);
    wait(&e, "kmsg never up with CAP_SYSLOG", &|m| {
        sample(m, "oom_kmsg_up") == Some(1.0)
    });
    let (_, status, _) = cg.hog();
    assert_eq!(status.code(), None, "the hog should be killed: {status}");
    let m = wait(&e, "kill not counted", &|m| {
        sample(m, "oom_kills_total") == Some(1.0)
    });
    assert!(
        m.contains(&format!("comm=\"tail\",cgroup=\"{}\"", cg.name)),
        "victim not named"
    );
    drop(e);

    // Nobody without it: says what is missing, still counts the kill.
    let e = Exporter::start_with(unprivileged(None), &[]);
    let log = e.wait_log("kmsg reader down");
    assert!(log.contains("CAP_SYSLOG"), "{log}");
    let (_, status, _) = cg.hog();
    assert_eq!(status.code(), None, "the hog should be killed: {status}");
    let m = wait(&e, "kill not counted from the kernel counter", &|m| {
        sample(m, "oom_kills_total") == Some(1.0)
    });
    assert_eq!(sample(&m, "oom_kills_unattributed_total"), Some(1.0));
    assert_eq!(sample(&m, "oom_kmsg_up"), Some(0.0));
}
