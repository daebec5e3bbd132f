//! Records the git revision the binary was built from, for `oom_exporter_build_info`.
use std::process::Command;

fn main() {
    // A container build has no .git: it passes the revision in instead.
    if let Ok(revision) = std::env::var("OOM_EXPORTER_REVISION") {
        println!("cargo:rustc-env=OOM_EXPORTER_REVISION={revision}");
        println!("cargo:rerun-if-env-changed=OOM_EXPORTER_REVISION");
        return;
    }
    let revision = Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=OOM_EXPORTER_REVISION={revision}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
    println!("cargo:rerun-if-env-changed=OOM_EXPORTER_REVISION");
}
