//! The one reader of the filesystem for collectors.
//!
//! Every path under the procfs root is built here from `--path.procfs`, so the
//! same collectors run on the live `/proc`, on a host's `/proc` mounted into a
//! container at `/host/proc`, or on a fixture tree in the tests.

use std::io;
use std::path::{Path, PathBuf};

/// `EOPNOTSUPP` on Linux (x86, arm, riscv, ...): what `/proc/pressure/*`
/// returns when the kernel was booted with `psi=0`.
const EOPNOTSUPP: i32 = 95;

/// `ESRCH`: the process exited while its files were being read.
const ESRCH: i32 = 3;

/// Why a file under the procfs root could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file does not exist (older kernel, feature compiled out).
    #[error("{}: no such file", .path.display())]
    NotFound { path: PathBuf },
    /// The file exists but the kernel refuses the operation (e.g. PSI disabled with `psi=0`).
    #[error("{}: not supported by this kernel", .path.display())]
    Unsupported { path: PathBuf },
    /// The exporter lacks the permission to read the file.
    #[error("{}: permission denied; run the exporter as a user that can read it", .path.display())]
    PermissionDenied { path: PathBuf },
    /// Any other I/O error.
    #[error("read {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl ReadError {
    fn new(path: &Path, source: io::Error) -> Self {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::NotFound => Self::NotFound { path },
            _ if source.raw_os_error() == Some(ESRCH) => Self::NotFound { path },
            io::ErrorKind::PermissionDenied => Self::PermissionDenied { path },
            io::ErrorKind::Unsupported => Self::Unsupported { path },
            _ if source.raw_os_error() == Some(EOPNOTSUPP) => Self::Unsupported { path },
            _ => Self::Io { path, source },
        }
    }

    /// True when the file is simply not provided by this kernel: the data is
    /// absent, which is not a failure of the exporter.
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::NotFound { .. } | Self::Unsupported { .. })
    }
}

/// Reads a whole small file with `open`, `read` until EOF, `close`: no
/// `stat` for a size hint (procfs and cgroupfs report 0 anyway), which
/// saves a syscall per file on the hot scan paths.
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Paths under one procfs root.
#[derive(Debug, Clone)]
pub struct ProcFs {
    root: PathBuf,
}

impl ProcFs {
    /// A procfs rooted at `root` (normally `/proc`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The configured root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/meminfo`
    pub fn meminfo(&self) -> PathBuf {
        self.root.join("meminfo")
    }

    /// `<root>/vmstat`
    pub fn vmstat(&self) -> PathBuf {
        self.root.join("vmstat")
    }

    /// `<root>/pressure/<resource>` (`cpu`, `memory`, `io`, `irq`).
    pub fn pressure(&self, resource: &str) -> PathBuf {
        self.root.join("pressure").join(resource)
    }

    /// The `hidepid=` option of the procfs mounted at the root, when it hides
    /// other users' processes from this (non-root) exporter: then they are
    /// not even listed, so no read fails and nothing else would tell.
    /// Looked up in the exporter's own `/proc/self/mountinfo`.
    pub fn hidden_pids(&self) -> Option<String> {
        let root = std::fs::canonicalize(&self.root).ok()?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let is_root = status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
        if is_root {
            return None;
        }
        hidepid_option(&mountinfo, &root.to_string_lossy())
    }

    /// `<root>/uptime`
    pub fn uptime(&self) -> PathBuf {
        self.root.join("uptime")
    }

    /// Time since boot from `/proc/uptime`, in microseconds.
    pub fn uptime_usec(&self) -> Option<u64> {
        let text = self.read(&self.uptime()).ok()?;
        let up: f64 = text.split_whitespace().next()?.parse().ok()?;
        Some((up * 1e6) as u64)
    }

    /// The kernel's OOM-kill count since boot (`oom_kill` in vmstat, 4.13+).
    pub fn kernel_oom_kills(&self) -> Option<u64> {
        let text = self.read(&self.vmstat()).ok()?;
        let (stat, _) = crate::parse::vmstat::parse(&text);
        stat.get("oom_kill").and_then(|v| u64::try_from(v).ok())
    }

    /// `<root>/sys/vm/<name>`, the file behind the `vm.<name>` sysctl.
    pub fn sysctl_vm(&self, name: &str) -> PathBuf {
        self.root.join("sys/vm").join(name)
    }

    /// Process ids with a directory under the root, in directory order.
    pub fn pids(&self) -> Result<Vec<u32>, ReadError> {
        let dir = std::fs::read_dir(&self.root).map_err(|e| ReadError::new(&self.root, e))?;
        Ok(dir
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect())
    }

    /// `<root>/<pid>/<file>`
    pub fn pid_file(&self, pid: u32, file: &str) -> PathBuf {
        let mut path = self.root.join(pid.to_string());
        path.push(file);
        path
    }

    /// Reads a whole file as bytes.
    pub fn read_bytes(&self, path: &Path) -> Result<Vec<u8>, ReadError> {
        read_file(path).map_err(|source| ReadError::new(path, source))
    }

    /// Reads a whole file. Invalid UTF-8 is replaced rather than rejected, so
    /// one odd byte cannot hide the rest of the file from the parsers.
    pub fn read(&self, path: &Path) -> Result<String, ReadError> {
        match read_file(path) {
            Ok(bytes) => Ok(match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }),
            Err(source) => Err(ReadError::new(path, source)),
        }
    }
}

/// The hiding `hidepid=` (or `subset=pid`) option of the proc mount at
/// `mount_point` in a mountinfo text.
fn hidepid_option(mountinfo: &str, mount_point: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let point = left.split_whitespace().nth(4)?;
        let mut fields = right.split_whitespace();
        let (fstype, _source, options) = (fields.next()?, fields.next()?, fields.next()?);
        if fstype != "proc" || point != mount_point {
            return None;
        }
        options
            .split(',')
            .find(|o| {
                matches!(
                    *o,
                    "hidepid=1"
                        | "hidepid=2"
                        | "hidepid=noaccess"
                        | "hidepid=invisible"
                        | "subset=pid"
                )
            })
            .map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidepid_from_mountinfo() {
        let info = "22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw,hidepid=invisible\n\
                    23 28 0:22 / /host/proc ro,relatime - proc proc rw\n";
        assert_eq!(
            hidepid_option(info, "/proc").as_deref(),
            Some("hidepid=invisible")
        );
        assert_eq!(hidepid_option(info, "/host/proc"), None);
        assert_eq!(hidepid_option(info, "/nowhere"), None);
    }

    #[test]
    fn paths_are_built_from_the_root() {
        let fs = ProcFs::new("/host/proc");
        assert_eq!(fs.meminfo(), Path::new("/host/proc/meminfo"));
        assert_eq!(fs.pressure("irq"), Path::new("/host/proc/pressure/irq"));
        assert_eq!(
            fs.sysctl_vm("overcommit_memory"),
            Path::new("/host/proc/sys/vm/overcommit_memory")
        );
    }

    #[test]
    fn missing_file_is_absent_not_failure() {
        let dir = tempfile::tempdir().unwrap();
        let fs = ProcFs::new(dir.path());
        let err = fs.read(&fs.meminfo()).unwrap_err();
        assert!(err.is_absent(), "{err}");
        assert!(err.to_string().contains("meminfo"), "{err}");
    }

    #[test]
    fn psi_disabled_at_boot_is_absent() {
        // `psi=0`: reading /proc/pressure/* fails with EOPNOTSUPP.
        let err = ReadError::new(
            Path::new("/proc/pressure/memory"),
            io::Error::from_raw_os_error(95),
        );
        assert!(matches!(err, ReadError::Unsupported { .. }), "{err:?}");
        assert!(err.is_absent());
    }

    #[test]
    fn process_gone_mid_read_is_absent() {
        let err = ReadError::new(
            Path::new("/proc/7/oom_score"),
            io::Error::from_raw_os_error(3),
        );
        assert!(err.is_absent(), "{err:?}");
    }

    #[test]
    fn permission_denied_says_so() {
        let err = ReadError::new(Path::new("/proc/x"), io::Error::from_raw_os_error(13));
        assert!(!err.is_absent());
        assert!(
            err.to_string().contains("/proc/x: permission denied"),
            "{err}"
        );
    }

    #[test]
    fn directory_in_place_of_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("meminfo")).unwrap();
        let fs = ProcFs::new(dir.path());
        let err = fs.read(&fs.meminfo()).unwrap_err();
        assert!(!err.is_absent(), "{err}");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vmstat"), b"pgmajfault 7\nodd\xff 1\n").unwrap();
        let fs = ProcFs::new(dir.path());
        let text = fs.read(&fs.vmstat()).unwrap();
        assert!(text.starts_with("pgmajfault 7\n"));
    }
}
