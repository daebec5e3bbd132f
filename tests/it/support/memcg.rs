//! A memory cgroup with a small limit for real OOM kills: cgroup v2 where
//! the unified hierarchy has the memory controller, else v1. Shared by the
//! integration tests and the kill-latency benchmark.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A memory cgroup with a small limit; removed on drop.
pub struct MemCgroup {
    dir: PathBuf,
    v2: bool,
    /// Path as the kernel prints it in `task_memcg`.
    pub name: String,
}

impl MemCgroup {
    pub fn new(tag: &str) -> Self {
        Self::top(&format!("oomx-{tag}-{}", std::process::id()))
    }

    /// A cgroup `/<name>` at the top of the hierarchy, where only the
    /// kubelet and the container runtime create theirs (e.g. `kubepods`);
    /// fails if it exists.
    pub fn top(name: &str) -> Self {
        let name = format!("/{name}");
        let v2_root = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .map(Path::new)
            .find(|root| {
                std::fs::read_to_string(root.join("cgroup.controllers"))
                    .is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"))
            });
        let dir = match v2_root {
            Some(root) => {
                let _ = std::fs::write(root.join("cgroup.subtree_control"), "+memory");
                let dir = root.join(&name[1..]);
                std::fs::create_dir(&dir).unwrap();
                std::fs::write(dir.join("memory.max"), "32M").unwrap();
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                dir
            }
            None => {
                let dir = Path::new("/sys/fs/cgroup/memory").join(&name[1..]);
                std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
                std::fs::write(dir.join("memory.limit_in_bytes"), "32M").unwrap();
                let _ = std::fs::write(dir.join("memory.swappiness"), "0");
                let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), "32M");
                dir
            }
        };
        let v2 = v2_root.is_some();
        Self { dir, name, v2 }
    }

    /// True on cgroup v2.
    #[allow(dead_code)]
    pub fn is_v2(&self) -> bool {
        self.v2
    }

    /// The cgroup's directory.
    #[allow(dead_code)]
    /// Starts a shell in this cgroup holding about 4 MB, first in line for
    /// the OOM killer (oom_score_adj 1000), waiting on its stdin; returns
    /// once it holds the memory.
    pub fn bystander(&self) -> Child {
        let procs = self.dir().join("cgroup.procs");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {} && echo 1000 > /proc/self/oom_score_adj && x=$(head -c 4000000 /dev/zero | tr '\\0' a) && echo ready && read y",
                procs.display()
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready");
        child
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A child cgroup with its own `limit` (e.g. "32M"), removed on drop
    /// (before its parent, as a field drop order would not guarantee).
    #[allow(dead_code)]
    pub fn child(&self, name: &str, limit: &str) -> MemCgroup {
        let dir = self.dir.join(name);
        std::fs::create_dir(&dir).unwrap();
        if self.v2 {
            let _ = std::fs::write(self.dir.join("cgroup.subtree_control"), "+memory");
            std::fs::write(dir.join("memory.max"), limit).unwrap();
            let _ = std::fs::write(dir.join("memory.swap.max"), "0");
        } else {
            std::fs::write(dir.join("memory.limit_in_bytes"), limit).unwrap();
            let _ = std::fs::write(dir.join("memory.swappiness"), "0");
        }
        MemCgroup {
            dir,
            name: format!("{}/{name}", self.name),
            v2: self.v2,
        }
    }

    /// Runs `tail /dev/zero` (which grows without bound) inside the cgroup
    /// until the OOM killer kills it; returns its pid, exit status and when
    /// it was reaped.
    pub fn hog(&self) -> (u32, ExitStatus, Instant) {
        let procs = self.dir.join("cgroup.procs");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {} && exec tail /dev/zero",
                procs.display()
            ))
            .spawn()
            .unwrap();
        let pid = child.id();
        let status = child.wait().unwrap();
        (pid, status, Instant::now())
    }
}

impl Drop for MemCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("could not remove {}", self.dir.display());
    }
}
