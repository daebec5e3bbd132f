//! Bad input: truncated, garbled, missing and unreadable files. The exporter
//! serves everything else, says what is wrong in its log and in
//! `oom_scrape_collector_success`, and never answers with an error.

use std::os::unix::fs::PermissionsExt;

use crate::support::{Exporter, Sysctl, as_nobody, copy_fixture, require_root, sample};

const TREE: &str = "linux-6.18-psi-zswap";

fn success(metrics: &str, collector: &str) -> Option<f64> {
    sample(
        metrics,
        &format!("oom_scrape_collector_success{{collector=\"{collector}\"}}"),
    )
}

fn start(dir: &std::path::Path) -> Exporter {
    Exporter::start(&[&format!("--path.procfs={}", dir.display())])
}

#[test]
fn truncated_meminfo_serves_what_was_read() {
    let dir = copy_fixture(TREE);
    let path = dir.path().join("meminfo");
    let text = std::fs::read_to_string(&path).unwrap();
    // Cut in the middle of the Committed_AS line: "Committed_AS:   4".
    let cut = text.find("Committed_AS:").unwrap() + "Committed_AS:      4".len();
    std::fs::write(&path, &text[..cut]).unwrap();

    let e = start(dir.path());
    let m = e.metrics();
    assert!(sample(&m, "oom_memory_total_bytes").is_some());
    assert!(sample(&m, "oom_memory_available_bytes").is_some());
    assert!(
        sample(&m, "oom_memory_committed_bytes").is_none(),
        "a cut value must not be served"
    );
    assert_eq!(success(&m, "meminfo"), Some(0.0));
    for other in ["vmstat", "pressure", "sysctl"] {
        assert_eq!(success(&m, other), Some(1.0), "{other}");
    }
    let log = e.wait_log("Committed_AS");
    assert!(log.contains("level=warn"), "{log}");
}

#[test]
fn garbage_in_a_pressure_file_keeps_the_rest() {
    let dir = copy_fixture(TREE);
    let path = dir.path().join("pressure/memory");
    let text = std::fs::read_to_string(&path).unwrap();
    let some = text.lines().next().unwrap();
    std::fs::write(
        &path,
        format!("{some}\nfull avg10=?? avg60=0.00 avg300=0.00 total=1\n\x01\x02garbage\n"),
    )
    .unwrap();

    let e = start(dir.path());
    let m = e.metrics();
    assert!(
        sample(
            &m,
            "oom_pressure_stalled_seconds_total{resource=\"memory\",kind=\"some\"}"
        )
        .is_some()
    );
    assert!(
        sample(
            &m,
            "oom_pressure_stalled_seconds_total{resource=\"memory\",kind=\"full\"}"
        )
        .is_none()
    );
    assert!(
        sample(
            &m,
            "oom_pressure_stalled_seconds_total{resource=\"cpu\",kind=\"some\"}"
        )
        .is_some()
    );
    assert_eq!(success(&m, "pressure"), Some(0.0));
    assert_eq!(success(&m, "meminfo"), Some(1.0));
    e.wait_log("pressure/memory");
}

#[test]
fn missing_vmstat_drops_only_vmstat() {
    let dir = copy_fixture(TREE);
    std::fs::remove_file(dir.path().join("vmstat")).unwrap();
    let e = start(dir.path());
    let m = e.metrics();
    assert!(sample(&m, "oom_kernel_kills_total").is_none());
    assert_eq!(success(&m, "vmstat"), Some(0.0));
    assert_eq!(success(&m, "meminfo"), Some(1.0));
    e.wait_log("vmstat: no such file");
}

#[test]
fn missing_psi_is_absent_not_a_failure() {
    let dir = copy_fixture(TREE);
    std::fs::remove_dir_all(dir.path().join("pressure")).unwrap();
    let e = start(dir.path());
    let m = e.metrics();
    assert!(!m.contains("oom_pressure_stalled_seconds_total{"));
    assert_eq!(
        sample(&m, "oom_pressure_supported{resource=\"memory\"}"),
        Some(0.0)
    );
    assert_eq!(success(&m, "pressure"), Some(1.0));
    let _ = e.metrics();
    let _ = e.metrics();
    let log = e.wait_log("resource=memory");
    // Said once per resource, not once per scrape.
    assert_eq!(log.matches("resource=memory").count(), 1, "{log}");
}

#[test]
fn unreadable_meminfo_is_reported_and_logged_once() {
    let dir = copy_fixture(TREE);
    let path = dir.path().join("meminfo");
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap(); // read() fails with EISDIR
    let e = start(dir.path());
    for _ in 0..3 {
        let m = e.metrics();
        assert!(sample(&m, "oom_memory_total_bytes").is_none());
        assert_eq!(success(&m, "meminfo"), Some(0.0));
        assert!(sample(&m, "oom_kernel_kills_total").is_some());
    }
    let log = e.wait_log("collector=meminfo");
    let warnings = log
        .lines()
        .filter(|l| l.contains("level=warn") && l.contains("collector=meminfo"))
        .count();
    assert_eq!(warnings, 1, "{log}");
}

#[test]
#[ignore = "needs root: runs the exporter as nobody"]
fn permission_denied_names_the_file() {
    if !require_root("run the exporter as another user against a mode-000 file") {
        return;
    }
    let dir = copy_fixture(TREE);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("sys/vm/overcommit_memory");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let e = Exporter::start_with(
        as_nobody(),
        &[&format!("--path.procfs={}", dir.path().display())],
    );
    let m = e.metrics();
    assert_eq!(success(&m, "sysctl"), Some(0.0));
    assert!(sample(&m, "oom_vm_overcommit_memory").is_none());
    assert!(sample(&m, "oom_vm_overcommit_ratio").is_some());
    e.wait_log("overcommit_memory: permission denied");
}

#[test]
fn recovery_is_logged() {
    let dir = copy_fixture(TREE);
    let path = dir.path().join("vmstat");
    let good = std::fs::read(&path).unwrap();
    std::fs::write(&path, b"pgmajfault lots\n").unwrap();
    let e = start(dir.path());
    assert_eq!(success(&e.metrics(), "vmstat"), Some(0.0));
    std::fs::write(&path, good).unwrap();
    assert_eq!(success(&e.metrics(), "vmstat"), Some(1.0));
    e.wait_log("collector recovered");
}

#[test]
#[ignore = "needs root: sets kernel.dmesg_restrict, runs the exporter as nobody"]
fn kmsg_without_permission_names_the_fix_and_serves_the_rest() {
    if !require_root("run the exporter as an unprivileged user") {
        return;
    }
    let _kernel = crate::support::kernel_lock();
    // kernel.dmesg_restrict=1 (most distributions' default) for the test.
    let _restrict = Sysctl::set("kernel/dmesg_restrict", "1");
    let e = Exporter::start_with(as_nobody(), &[]);
    let log = e.wait_log("kmsg reader down");
    assert!(
        log.contains("CAP_SYSLOG") && log.contains("dmesg_restrict"),
        "{log}"
    );
    let m = e.metrics();
    assert_eq!(sample(&m, "oom_kmsg_up"), Some(0.0));
    assert_eq!(success(&m, "kmsg"), Some(0.0));
    assert_eq!(success(&m, "meminfo"), Some(1.0));
    assert_eq!(sample(&m, "oom_kills_total"), Some(0.0));
}
