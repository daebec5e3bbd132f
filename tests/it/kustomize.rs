//! The kustomizations rendered by the real `kubectl kustomize` (what
//! `kubectl apply -k` applies): the base holds none of the Prometheus
//! Operator's kinds, its component adds exactly the PodMonitor and the
//! PrometheusRule, the DaemonSet mounts the kubelet's two log directories,
//! and an `images:` override reaches the DaemonSet's container. The
//! offline renderer of `deploy.rs` must agree with it.

use std::path::Path;
use std::process::Command;

use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

use crate::deploy::render;
use crate::support::{repo, require_tool};

/// `kubectl kustomize dir`, as YAML documents.
fn kustomize(kubectl: &Path, dir: &Path) -> Vec<Yaml> {
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", kubectl.display()));
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(Yaml::deserialize)
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Each document as `kind namespace/name`, sorted.
fn objects(docs: &[Yaml]) -> Vec<String> {
    let mut v: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{} {}/{}",
                d["kind"].as_str().unwrap_or("?"),
                d["metadata"]["namespace"].as_str().unwrap_or(""),
                d["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    v.sort();
    v
}

fn daemonset(docs: &[Yaml]) -> &Yaml {
    let found: Vec<&Yaml> = docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some("DaemonSet"))
        .collect();
    assert_eq!(found.len(), 1, "{:?}", objects(docs));
    found[0]
}

/// Copies the files of `from` (no subdirectories) into `to`.
fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
#[ignore = "needs kubectl: renders the kustomizations as `kubectl apply -k` does"]
fn kubectl_kustomize_renders_the_base_the_component_and_an_image_override() {
    let Some(kubectl) = require_tool("kubectl", "render the kustomizations") else {
        return;
    };
    let base_dir = repo().join("deploy/kubernetes");
    let base = kustomize(&kubectl, &base_dir);
    let with_operator = kustomize(&kubectl, &repo().join("deploy/prometheus-operator"));

    // The base applies on a cluster without the operator's CRDs.
    let base_objects = objects(&base);
    for d in &base {
        let kind = d["kind"].as_str().unwrap();
        assert!(
            !["PodMonitor", "PrometheusRule"].contains(&kind)
                && !d["apiVersion"]
                    .as_str()
                    .unwrap()
                    .starts_with("monitoring.coreos.com"),
            "the base holds {kind}: {base_objects:?}"
        );
    }
    // The component adds exactly those two, in the same namespace.
    let mut expected = base_objects.clone();
    expected.push("PodMonitor oom-exporter/oom-exporter".into());
    expected.push("PrometheusRule oom-exporter/oom-exporter".into());
    expected.sort();
    assert_eq!(objects(&with_operator), expected);
    // The offline renderer the other deploy tests use agrees.
    assert_eq!(objects(&render(&base_dir)), base_objects);
    assert_eq!(
        objects(&render(&repo().join("deploy/prometheus-operator"))),
        expected
    );

    // The DaemonSet mounts the kubelet's two log directories, read-only.
    let ds = daemonset(&base);
    let pod = &ds["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let mut logs = Vec::new();
    for v in pod["volumes"].as_sequence().unwrap() {
        let Some(host) = v["hostPath"]["path"].as_str() else {
            continue;
        };
        if !host.starts_with("/var/log") {
            continue;
        }
        let mount = c["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["name"] == v["name"])
            .unwrap_or_else(|| panic!("volume {v:?} not mounted"));
        assert_eq!(mount["readOnly"].as_bool(), Some(true), "{mount:?}");
        logs.push((host, mount["mountPath"].as_str().unwrap()));
    }
    assert_eq!(
        logs,
        [
            ("/var/log/pods", "/host/var/log/pods"),
            ("/var/log/containers", "/host/var/log/containers")
        ]
    );
    assert_eq!(c["image"].as_str(), Some("oom_exporter:0.1.0"));

    // An image override, as `kustomize edit set image` writes it, lands on
    // the DaemonSet's container.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("kubernetes");
    copy_files(&base_dir, &copy);
    let k = copy.join("kustomization.yaml");
    let text = std::fs::read_to_string(&k).unwrap();
    let images = "images:\n  - name: oom_exporter\n    newTag: 0.1.0\n";
    assert!(text.contains(images), "{text}");
    std::fs::write(
        &k,
        text.replace(
            images,
            "images:\n  - name: oom_exporter\n    newName: registry.example.com/team/oom_exporter\n    newTag: 1.2.3\n",
        ),
    )
    .unwrap();
    let overridden = kustomize(&kubectl, &copy);
    assert_eq!(
        daemonset(&overridden)["spec"]["template"]["spec"]["containers"][0]["image"].as_str(),
        Some("registry.example.com/team/oom_exporter:1.2.3")
    );
}
