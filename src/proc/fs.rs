//! The one reader of the filesystem for collectors.
//!
//! Every path under the procfs root is built here from `--path.procfs`, so the
//! same collectors run on the live `/proc`, on a host's `/proc` mounted into a
//! container at `/host/proc`, or on a fixture tree in the tests.
//!
//! Every read is capped ([`MAX_FILE_BYTES`], [`MAX_CMDLINE_BYTES`]): a file
//! longer than any the kernel writes (a link to `/dev/zero`, a huge regular
//! file in a mounted tree) is a [`ReadError::TooLarge`], not read whole.

use std::io;
use std::path::{Path, PathBuf};

/// `EOPNOTSUPP` on Linux (x86, arm, riscv, ...): what `/proc/pressure/*`
/// returns when the kernel was booted with `psi=0`.
const EOPNOTSUPP: i32 = 95;

/// `ESRCH`: the process exited while its files were being read.
const ESRCH: i32 = 3;

/// Most bytes read from a procfs or sysfs file. The largest the exporter
/// reads are `/proc/vmstat` (4 to 6 KiB), `/proc/<pid>/status`
/// (under 2 KiB; a few more with thousands of CPUs), `/proc/<pid>/cgroup`
/// (one line per v1 hierarchy) and cgroup `memory.stat` (about 2 KiB): 1 MiB
/// is hundreds of times any of them.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Most bytes read from `/proc/<pid>/cmdline`: `execve` allows at most
/// 6 MiB of arguments and environment together (three quarters of the
/// default 8 MiB stack limit, `bprm_stack_limits` in fs/exec.c), so a
/// longer command line is not one the kernel made.
pub const MAX_CMDLINE_BYTES: usize = 8 << 20;

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
    /// Longer than any file of its kind the kernel writes: not read whole.
    #[error("{}: larger than {limit} bytes, which no kernel file of this kind is (a link to a device such as /dev/zero, or not a kernel file); not read", .path.display())]
    TooLarge { path: PathBuf, limit: usize },
    /// Any other I/O error.
    #[error("read {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl ReadError {
    /// The error for `source`, raised reading `path`.
    pub fn new(path: &Path, source: io::Error) -> Self {
        let path = path.to_path_buf();
        if let Some(limit) = too_large(&source) {
            return Self::TooLarge { path, limit };
        }
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

/// The error [`read_file`] returns for a file longer than `limit`: kind
/// `FileTooLarge`, carrying the limit.
pub fn too_large_error(limit: usize) -> io::Error {
    io::Error::new(io::ErrorKind::FileTooLarge, TooLargeMark(limit))
}

/// The limit of an error made by [`too_large_error`].
pub fn too_large(error: &io::Error) -> Option<usize> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TooLargeMark>())
        .map(|mark| mark.0)
}

#[derive(Debug)]
struct TooLargeMark(usize);

impl std::fmt::Display for TooLargeMark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "larger than {} bytes", self.0)
    }
}

impl std::error::Error for TooLargeMark {}

/// Reads a whole small file with `open`, `read` until EOF, `close`: no
/// `stat` for a size hint (procfs and cgroupfs report 0 anyway), which
/// saves a syscall per file on the hot scan paths. A file longer than
/// `limit` bytes is an error ([`too_large_error`]) after reading at most
/// `limit` plus one chunk.
pub fn read_file(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) if out.len() + n > limit => return Err(too_large_error(limit)),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// [`read_file`] as text, invalid UTF-8 replaced.
pub fn read_text(path: &Path, limit: usize) -> io::Result<String> {
    let bytes = read_file(path, limit)?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The exporter's own mount table (`/proc/self/mountinfo`) may be long on a
/// node with thousands of container mounts (about 150 bytes each).
const MAX_MOUNTINFO_BYTES: usize = 16 << 20;

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
        let mountinfo = read_text(Path::new("/proc/self/mountinfo"), MAX_MOUNTINFO_BYTES).ok()?;
        let status = read_text(Path::new("/proc/self/status"), MAX_FILE_BYTES).ok()?;
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

    /// Reads a whole file of at most `limit` bytes as bytes.
    pub fn read_bytes(&self, path: &Path, limit: usize) -> Result<Vec<u8>, ReadError> {
        read_file(path, limit).map_err(|source| ReadError::new(path, source))
    }

    /// Reads a whole file of at most [`MAX_FILE_BYTES`]. Invalid UTF-8 is
    /// replaced rather than rejected, so one odd byte cannot hide the rest
    /// of the file from the parsers.
    pub fn read(&self, path: &Path) -> Result<String, ReadError> {
        read_text(path, MAX_FILE_BYTES).map_err(|source| ReadError::new(path, source))
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
    fn a_file_longer_than_the_cap_is_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let fs = ProcFs::new(dir.path());
        std::fs::write(fs.vmstat(), vec![b'x'; 10_000]).unwrap();
        assert_eq!(fs.read_bytes(&fs.vmstat(), 10_000).unwrap().len(), 10_000);
        let err = fs.read_bytes(&fs.vmstat(), 9_999).unwrap_err();
        assert!(
            matches!(err, ReadError::TooLarge { limit: 9_999, .. }),
            "{err:?}"
        );
        assert!(!err.is_absent());
        assert!(err.to_string().contains("larger than 9999 bytes"), "{err}");
        // An endless file stops at the cap.
        std::os::unix::fs::symlink("/dev/zero", fs.meminfo()).unwrap();
        let err = fs.read(&fs.meminfo()).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { .. }), "{err:?}");
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
