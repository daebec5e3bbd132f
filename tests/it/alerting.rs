//! End to end with real parts: the exporter, a real Prometheus loaded with
//! the repo's rules, a real Alertmanager with the repo's example config, and
//! a real OOM kill in a memory cgroup named like a Kubernetes container,
//! with the kubelet's log directories, so the kill has a namespace, pod and
//! container. The OOM-kill alert must reach Alertmanager within a minute.

use std::time::Duration;

use crate::support::{
    Alertmanager, Exporter, KubePod, Prometheus, kernel_lock, require_root, require_tool, wait,
};

#[test]
#[ignore = "needs root, prometheus, prometheus-alertmanager: an OOM kill in a memory cgroup, alerted through real peers"]
fn a_real_oom_kill_reaches_alertmanager_within_a_minute() {
    if !require_root("cause an OOM kill in a memory cgroup")
        || require_tool("prometheus", "evaluate the alert rules").is_none()
        || require_tool("prometheus-alertmanager", "receive the alert").is_none()
    {
        return;
    }
    let _kernel = kernel_lock();
    let pod = KubePod::new();
    let exporter = Exporter::start(&[&pod.varlog_flag()]);
    let am = Alertmanager::start();
    let prometheus = Prometheus::with_rules(exporter.addr, Some(am.addr));
    // Two samples of the counter at 0 before the kill.
    wait::until(
        Duration::from_secs(60),
        Duration::from_millis(250),
        "no samples in Prometheus",
        || {
            let samples = prometheus
                .query("count_over_time(oom_kills_total[1m])")
                .unwrap_or(0.0);
            if samples >= 2.0 {
                Ok(())
            } else {
                Err(prometheus.log())
            }
        },
    );

    let (_, status, killed) = pod.hog.hog();
    assert_eq!(status.code(), None, "the hog should be killed: {status}");
    let instance = exporter.addr.to_string();
    wait::until_deadline(
        killed + Duration::from_secs(60),
        Duration::from_millis(250),
        "OOMKill did not reach Alertmanager within a minute",
        || {
            let alerts = am.alerts();
            if alerts
                .iter()
                .any(|(name, inst, sev)| name == "OOMKill" && *inst == instance && sev == "warning")
            {
                Ok(())
            } else {
                Err(format!(
                    "it holds {alerts:?}\nprometheus log:\n{}",
                    prometheus.log()
                ))
            }
        },
    );

    // Against the same Prometheus, every dashboard query returns data,
    // except those this kernel cannot feed: per-cgroup PSI exists only on
    // cgroup v2 (its v2 form is covered by the golden cgroup-v2 output).
    let v1 = prometheus.query("oom_cgroup_hierarchy_version") == Some(1.0);
    for q in crate::dashboards::all_queries() {
        let concrete = crate::dashboards::concrete(&q);
        if v1 && concrete.contains("oom_cgroup_pressure_stalled") {
            eprintln!("cgroup v1 host: no per-cgroup PSI, not expecting data for {concrete}");
            continue;
        }
        // Only where systemd-oomd or oomd is installed (golden
        // cgroup-v2-systemd-oomd).
        if concrete.contains("oom_userspace_kills_total")
            && prometheus
                .query("count(oom_userspace_kills_total)")
                .is_none()
        {
            eprintln!("no systemd-oomd or oomd here: not expecting data for {concrete}");
            continue;
        }
        let data = prometheus
            .query_data(&concrete)
            .unwrap_or_else(|e| panic!("{concrete}: {e}"));
        let series = data["result"].as_array().map_or(0, Vec::len);
        assert!(series > 0, "dashboard query returned no data: {concrete}");
    }
}
