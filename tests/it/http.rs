//! The HTTP surface and the process lifecycle of the real binary.

use std::process::Command;
use std::time::Duration;

use crate::support::{BIN, Exporter, KillOnDrop, fixture, request};

fn on_fixture() -> Exporter {
    let procfs = format!(
        "--path.procfs={}",
        fixture("linux-6.18-psi-zswap").display()
    );
    Exporter::start(&[&procfs])
}

#[test]
fn metrics_default_to_text_0_0_4() {
    let e = on_fixture();
    let r = e.get("/metrics", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(r.body.contains("# TYPE oom_memory_available_bytes gauge\n"));
    assert!(!r.body.contains("# EOF"));
}

#[test]
fn metrics_in_openmetrics_when_asked() {
    let e = on_fixture();
    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let r = e.get("/metrics", &[("Accept", accept)]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(
        r.body.ends_with("# EOF\n"),
        "{}",
        &r.body[r.body.len().saturating_sub(200)..]
    );
    assert!(r.body.contains("# UNIT oom_memory_available_bytes bytes\n"));
    assert!(
        r.body
            .contains("# TYPE oom_pressure_stalled_seconds counter\n")
    );
}

#[test]
fn landing_health_and_ready() {
    let e = on_fixture();
    let landing = e.get("/", &[]);
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("oom_exporter"));
    assert!(landing.body.contains(env!("CARGO_PKG_VERSION")));
    assert!(landing.body.contains("href=\"/metrics\""));
    assert_eq!(e.get("/-/healthy", &[]).status, 200);
    assert_eq!(e.get("/-/ready", &[]).status, 200);
}

#[test]
fn unknown_paths_404_and_other_methods_405() {
    let e = on_fixture();
    assert_eq!(e.get("/nope", &[]).status, 404);
    assert_eq!(e.get("/metrics/extra", &[]).status, 404);
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = request(e.addr, method, "/metrics", &[("Content-Length", "0")]);
        assert_eq!(r.status, 405, "{method}");
        assert!(
            r.header("allow").is_some_and(|a| a.contains("GET")),
            "{method}: {:?}",
            r.headers
        );
    }
    let head = request(e.addr, "HEAD", "/metrics", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn custom_telemetry_path() {
    let procfs = format!(
        "--path.procfs={}",
        fixture("linux-6.18-psi-zswap").display()
    );
    let e = Exporter::start(&[&procfs, "--web.telemetry-path=/x/prom"]);
    assert_eq!(e.get("/x/prom", &[]).status, 200);
    assert_eq!(e.get("/metrics", &[]).status, 404);
    assert!(e.get("/", &[]).body.contains("href=\"/x/prom\""));
}

#[test]
fn sigterm_and_sigint_stop_within_one_second() {
    for signal in ["TERM", "INT"] {
        let e = on_fixture();
        // An idle keep-alive connection must not hold the shutdown up.
        let idle = std::net::TcpStream::connect(e.addr).unwrap();
        let _ = e.metrics();
        let (took, status) = e.stop(signal);
        drop(idle);
        assert!(status.success(), "SIG{signal}: {status}");
        assert!(took < Duration::from_secs(1), "SIG{signal} took {took:?}");
    }
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn invalid_flags_give_one_line_and_exit_2() {
    for args in [
        &["--web.listen-address=nonsense"][..],
        &["--log.level=loud"],
        &["--log.format=xml"],
        &["--web.telemetry-path=metrics"],
        &["--no-such-flag"],
        &["--path.procfs=/nonexistent/proc"],
        &["--collector.disable-defaults"],
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("oom_exporter: "), "{args:?}: {stderr}");
    }
}

#[test]
fn help_documents_every_flag_and_version_prints() {
    let (code, help, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--web.listen-address",
        "--web.telemetry-path",
        "--path.procfs",
        "--log.level",
        "--log.format",
        "--collector.disable-defaults",
        "--version",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    for oom_exporter::collectors::Known { name, .. } in oom_exporter::collectors::ALL {
        assert!(help.contains(&format!("--collector.{name}")), "{name}");
        assert!(help.contains(&format!("--no-collector.{name}")), "{name}");
    }
    let (code, version, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
}

#[test]
fn disabled_collectors_leave_no_series() {
    let procfs = format!(
        "--path.procfs={}",
        fixture("linux-6.18-psi-zswap").display()
    );
    let e = Exporter::start(&[&procfs, "--no-collector.pressure", "--no-collector.sysctl"]);
    let m = e.metrics();
    assert!(m.contains("oom_memory_available_bytes "));
    assert!(!m.contains("oom_pressure_"));
    assert!(!m.contains("oom_vm_"));
    assert!(!m.contains("collector=\"pressure\""));
}

#[test]
fn json_logs_are_json() {
    let procfs_dir = fixture("linux-6.18-psi-zswap");
    let mut child = KillOnDrop(
        Command::new(BIN)
            .arg(format!("--path.procfs={}", procfs_dir.display()))
            .args(["--log.format=json", "--web.listen-address=127.0.0.1:0"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    drop(child);
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["message"], "listening");
    assert!(v["address"].as_str().unwrap().starts_with("127.0.0.1:"));
}
