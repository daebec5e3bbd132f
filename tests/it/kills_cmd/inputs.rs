//! What `kills` reads: files, stdin, gzip (also rotated and
//! concatenated), and the inputs it refuses, each with a reason said once.

use std::io::Write;
use std::process::Command;

use super::{KILL_LINE, kills, sample};
use crate::support::BIN;

#[test]
fn unreadable_inputs_fail_with_a_reason() {
    let (code, _, err) = kills(&["--input", "/nonexistent/log"], None);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/log"), "{err}");
    let (code, _, err) = kills(&["--path.kmsg", "/nonexistent/kmsg"], None);
    assert_eq!(code, 1);
    assert!(
        err.contains("no such file") && err.contains("/nonexistent/kmsg"),
        "{err}"
    );
}

#[test]
fn gzip_rotated_log_is_read() {
    use flate2::{Compression, write::GzEncoder};
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::read(sample("11-")).unwrap();
    // By its magic bytes, whatever the name; two members, as `cat a.gz b.gz`.
    for name in ["kern.log.2.gz", "kern.log.2"] {
        let path = dir.path().join(name);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&log).unwrap();
        let mut bytes = gz.finish().unwrap();
        let mut second = GzEncoder::new(Vec::new(), Compression::default());
        second.write_all(KILL_LINE.as_bytes()).unwrap();
        bytes.extend(second.finish().unwrap());
        std::fs::write(&path, bytes).unwrap();
        let (code, out, err) = kills(&["--json", "--input", &path.display().to_string()], None);
        assert_eq!(code, 0, "{name}: {err}");
        let comms: Vec<String> = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["comm"].to_string())
            .collect();
        assert_eq!(comms, ["\"php\"", "\"after\""], "{name}");
    }
    // And from stdin.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(KILL_LINE.as_bytes()).unwrap();
    let path = dir.path().join("stdin.gz");
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let out = Command::new(BIN)
        .args(["kills", "--json", "--input", "-"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"comm\":\"after\""));
}

#[test]
fn broken_gzip_is_an_error() {
    use flate2::{Compression, write::GzEncoder};
    let dir = tempfile::tempdir().unwrap();
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(KILL_LINE.repeat(100).as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let path = dir.path().join("cut.gz");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let (code, _, err) = kills(&["--input", &path.display().to_string()], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cut.gz") && err.contains("gzip"), "{err}");
}

#[test]
fn xz_and_zstd_say_to_decompress_first() {
    let dir = tempfile::tempdir().unwrap();
    for (name, magic) in [
        ("kern.log.1.xz", &b"\xfd7zXZ\x00\x00\x04"[..]),
        ("kern.log.1.zst", &b"\x28\xb5\x2f\xfd\x00\x00"[..]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, magic).unwrap();
        let (code, out, err) = kills(&["--input", &path.display().to_string()], None);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(out.is_empty());
        assert!(err.contains(name) && err.contains("decompress"), "{err}");
    }
}

#[test]
fn input_that_is_not_a_kernel_log_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    for (name, bytes) in [
        ("empty", Vec::new()),
        (
            "garbage",
            b"hello world\nthis is not a log\n[not a stamp] x\n".to_vec(),
        ),
        ("binary", binary),
        (
            "userspace-syslog",
            b"Jun 24 18:49:43 host sshd[12]: Accepted publickey for root\n".to_vec(),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (code, out, err) = kills(&["--input", &path.display().to_string()], None);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(out.is_empty(), "{name}: {out}");
        assert!(
            err.contains(name) && err.contains("no line looks like a kernel log line"),
            "{name}: {err}"
        );
    }
    // The same from stdin.
    let (code, _, err) = kills(&["--input", "-"], Some("just text\n"));
    assert_eq!(code, 1);
    assert!(err.contains("stdin"), "{err}");
}

/// Review of issue 12: an unreadable input said its OS error twice, and a
/// file of one overlong line was called empty.
#[test]
fn input_errors_are_said_once_and_truly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (code, _, err) = kills(&["--input", &d], None);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.matches("Is a directory").count(), 1, "{err}");
    let long = dir.path().join("brackets.txt");
    std::fs::write(&long, "[".repeat(1 << 20)).unwrap();
    let (code, _, err) = kills(&["--input", &long.display().to_string()], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("longer than"), "{err}");
    assert!(!err.contains("it is empty"), "{err}");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let (_, _, err) = kills(&["--input", &empty.display().to_string()], None);
    assert!(err.contains("it is empty"), "{err}");
}

#[test]
fn a_pod_known_to_the_kubelets_log_directories_is_named() {
    let log = sample("04-");
    let varlog = format!(
        "--path.varlog={}",
        crate::support::repo()
            .join("tests/fixtures/kubelet-logs")
            .display()
    );
    let (code, out, err) = kills(&["--input", &log, &varlog], None);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert!(lines.next().unwrap().contains("NAMESPACE/POD"), "{out}");
    assert!(
        lines
            .next()
            .unwrap()
            .contains(" kube-system/coredns-5d78c9869d-8xk2p "),
        "{out}"
    );
    let (_, out, _) = kills(&["--json", "--input", &log, &varlog], None);
    let k: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        (&k["namespace"], &k["pod"], &k["container"]),
        (
            &serde_json::json!("kube-system"),
            &serde_json::json!("coredns-5d78c9869d-8xk2p"),
            &serde_json::json!("coredns")
        )
    );
    // Without the directories, the pod's UID.
    let (_, out, _) = kills(&["--input", &log, "--path.varlog=/nonexistent"], None);
    assert!(
        out.contains(" 10d16a28-60ff-475f-a631-510d9792219f "),
        "{out}"
    );
}
