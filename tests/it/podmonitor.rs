//! The shipped PodMonitor against a real Prometheus: its endpoint rendered
//! into a scrape job the way the Prometheus Operator renders it (the
//! operator's own target labels `namespace`, `pod`, `container` and
//! `endpoint` from the exporter's pod, then the PodMonitor's relabelings
//! and `honorLabels`), scraping an exporter that names a Kubernetes pod's
//! cgroups. The workload's names must reach Prometheus as the exporter
//! gives them, and the exporter's own pod must not name anything.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

use crate::support::kubepod::{NAMESPACE, POD, SIDECAR_ID};
use crate::support::{Exporter, KubePod, Prometheus, repo, require_root, require_tool};

/// The PodMonitor's endpoint as a Prometheus scrape job of one static
/// target that carries what Kubernetes service discovery and the operator
/// put on the exporter's pod.
fn scrape_job(target: std::net::SocketAddr) -> String {
    let path = repo().join("deploy/kubernetes/components/prometheus-operator/podmonitor.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let pm = Yaml::deserialize(serde_yaml_ng::Deserializer::from_str(&text)).unwrap();
    let endpoint = &pm["spec"]["podMetricsEndpoints"][0];
    let honor = endpoint["honorLabels"].as_bool().unwrap_or(false);
    let mut relabel = String::new();
    for r in endpoint["relabelings"].as_sequence().into_iter().flatten() {
        let mut first = true;
        for (key, value) in r.as_mapping().unwrap() {
            let key = match key.as_str().unwrap() {
                "sourceLabels" => "source_labels",
                "targetLabel" => "target_label",
                other => other,
            };
            let value = serde_json::to_string(value).unwrap();
            relabel.push_str(if first { "      - " } else { "        " });
            relabel.push_str(&format!("{key}: {value}\n"));
            first = false;
        }
    }
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: podMonitor/oom-exporter/oom-exporter/0\n\
         \x20   honor_labels: {honor}\n\
         \x20   static_configs:\n      - targets: ['{target}']\n\
         \x20       labels:\n\
         \x20         __meta_kubernetes_namespace: oom-exporter\n\
         \x20         __meta_kubernetes_pod_name: oom-exporter-7xk2p\n\
         \x20         __meta_kubernetes_pod_container_name: oom-exporter\n\
         \x20         __meta_kubernetes_pod_node_name: node-1\n\
         \x20         namespace: oom-exporter\n\
         \x20         pod: oom-exporter-7xk2p\n\
         \x20         container: oom-exporter\n\
         \x20         endpoint: metrics\n\
         \x20   relabel_configs:\n{relabel}"
    )
}

/// The label sets of an instant query's series, once it has some.
fn series(prometheus: &Prometheus, promql: &str, deadline: Instant) -> Vec<serde_json::Value> {
    loop {
        if let Ok(data) = prometheus.query_data(promql)
            && let Some(result) = data["result"].as_array().filter(|r| !r.is_empty())
        {
            return result.iter().map(|s| s["metric"].clone()).collect();
        }
        assert!(
            Instant::now() < deadline,
            "no series for {promql}\nprometheus log:\n{}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
#[ignore = "needs root, prometheus: /kubepods memory cgroups, a real Prometheus"]
fn the_podmonitor_keeps_the_workloads_names_and_drops_the_exporters_own() {
    if !require_root("create /kubepods memory cgroups")
        || require_tool("prometheus", "scrape the exporter as the PodMonitor does").is_none()
    {
        return;
    }
    let pod = KubePod::new();
    let varlog = pod.varlog_flag();
    let exporter = Exporter::start(&[&varlog]);
    let config = scrape_job(exporter.addr);
    let prometheus = Prometheus::start_with(&config);
    let deadline = Instant::now() + Duration::from_secs(60);

    // A series of the pod's container: the workload's names, as scraped.
    let q = format!("oom_cgroup_memory_usage_bytes{{container_id=\"{SIDECAR_ID}\"}}");
    let found = series(&prometheus, &q, deadline);
    assert_eq!(found.len(), 1, "{found:?}");
    let s = &found[0];
    assert_eq!(
        (&s["namespace"], &s["pod"], &s["container"]),
        (
            &serde_json::json!(NAMESPACE),
            &serde_json::json!(POD),
            &serde_json::json!("sidecar")
        ),
        "{s}\n{config}"
    );
    assert_eq!(s["job"], "oom", "{s}");
    assert_eq!(s["instance"], "node-1", "{s}");
    let exported: Vec<&String> = s
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("exported_"))
        .collect();
    assert!(exported.is_empty(), "{s}\n{config}");

    // Series of no pod (the node's, or a cgroup outside Kubernetes) carry
    // no names at all, not the exporter's own pod.
    for q in [
        "oom_kills_total".to_owned(),
        "oom_cgroup_memory_usage_bytes{pod_uid=\"\"}".to_owned(),
    ] {
        for s in series(&prometheus, &q, deadline) {
            for label in ["namespace", "pod", "container"] {
                assert!(s.get(label).is_none(), "{q}: {s}\n{config}");
            }
        }
    }
}
