//! Reads a cgroup's userspace-kill attributes from its open directory: one
//! `getxattr` per attribute, the UUIDs only when they decide the killer.
//!
//! An absent attribute (`ENODATA`) is the normal case. A filesystem
//! without `user.*` attributes (cgroup v2 before Linux 5.7, cgroup v1)
//! answers `ENOTSUP`; `trusted.*` needs `CAP_SYS_ADMIN` (the kernel hides
//! them with `ENODATA` from others, some filesystems answer `EPERM`).
//! Those are reported apart from real failures, so the caller can say
//! each once.

use std::io;
use std::os::fd::AsFd;

use rustix::io::Errno;

use super::{
    Attrs, TRUSTED_KILL, TRUSTED_OOMS, TRUSTED_UUID, USER_KILL, USER_OOMS, USER_UUID, parse_counter,
};

/// Longest counter value read (a u64 is 20 digits).
const MAX_VALUE: usize = 64;

/// Why an attribute could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The filesystem has no `user.*` attributes (`ENOTSUP`).
    Unsupported,
    /// `trusted.*` refused (`EPERM`/`EACCES`): oomd's kills are seen
    /// through its `user.*` counters only.
    TrustedDenied,
    /// Any other failure or a value that is not a counter.
    Failed { attr: &'static str, error: String },
}

/// What one cgroup's attributes held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Read {
    pub attrs: Attrs,
    /// The first problem met, if any (the other attributes are still read).
    pub problem: Option<Problem>,
}

/// The value of one attribute, `None` when absent.
fn counter(fd: impl AsFd, name: &'static str, out: &mut Read) -> Option<u64> {
    let mut buf = [0u8; MAX_VALUE];
    let problem = match rustix::fs::fgetxattr(fd, name, &mut buf[..]) {
        Ok(n) => match parse_counter(&buf[..n]) {
            Ok(v) => return Some(v),
            Err(e) => Problem::Failed {
                attr: name,
                error: e.to_string(),
            },
        },
        Err(Errno::NODATA) => return None,
        Err(Errno::OPNOTSUPP) => Problem::Unsupported,
        Err(Errno::PERM | Errno::ACCESS) if name.starts_with("trusted.") => Problem::TrustedDenied,
        Err(Errno::RANGE) => Problem::Failed {
            attr: name,
            error: format!("value longer than {MAX_VALUE} bytes"),
        },
        Err(e) => Problem::Failed {
            attr: name,
            error: io::Error::from(e).to_string(),
        },
    };
    out.problem.get_or_insert(problem);
    None
}

/// Whether attribute `name` is present (a UUID is 36 bytes; a longer
/// value is present too).
fn present(fd: impl AsFd, name: &str) -> bool {
    let mut buf = [0u8; MAX_VALUE];
    matches!(
        rustix::fs::fgetxattr(fd, name, &mut buf[..]),
        Ok(_) | Err(Errno::RANGE)
    )
}

/// Whether the cgroup directory `dir` carries a kill count worth a full
/// [`read`]: `user.oomd_ooms`, and `trusted.oomd_ooms` when `trusted`
/// (oomd found on the host), are there (or cannot be read but exist).
/// One `getxattr` each; absent (`ENODATA`) is the common case, and the
/// cost of a scan of every cgroup.
pub fn marked(dir: impl AsFd, trusted: bool) -> bool {
    let fd = dir.as_fd();
    let names: &[&str] = if trusted {
        &[USER_OOMS, TRUSTED_OOMS]
    } else {
        &[USER_OOMS]
    };
    names.iter().any(|name| {
        let mut buf = [0u8; MAX_VALUE];
        match rustix::fs::fgetxattr(fd, *name, &mut buf[..]) {
            Ok(_) | Err(Errno::RANGE) => true,
            Err(_) => false,
        }
    })
}

/// Reads the counters of the cgroup directory `dir`.
pub fn read(dir: impl AsFd) -> Read {
    let fd = dir.as_fd();
    let mut out = Read::default();
    let user_ooms = counter(fd, USER_OOMS, &mut out);
    // No user.* attributes here at all: the other user.* read is spared.
    let user_kill = if out.problem == Some(Problem::Unsupported) {
        None
    } else {
        counter(fd, USER_KILL, &mut out)
    };
    let trusted_ooms = counter(fd, TRUSTED_OOMS, &mut out);
    let trusted_kill = counter(fd, TRUSTED_KILL, &mut out);
    out.attrs = Attrs {
        user_ooms,
        user_kill,
        trusted_ooms,
        trusted_kill,
        uuid: false,
    };
    if out.attrs.has_user() && !out.attrs.has_trusted() {
        out.attrs.uuid = present(fd, USER_UUID) || present(fd, TRUSTED_UUID);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::userspace::Killer;

    /// A directory on a filesystem with user xattrs, or `None` (said).
    fn xattr_dir() -> Option<tempfile::TempDir> {
        let dir = tempfile::tempdir().ok()?;
        match rustix::fs::setxattr(
            dir.path(),
            "user.probe",
            b"1",
            rustix::fs::XattrFlags::empty(),
        ) {
            Ok(()) => Some(dir),
            Err(e) => {
                eprintln!("skipped: no user xattrs on the temporary directory's filesystem: {e}");
                None
            }
        }
    }

    fn set(dir: &std::path::Path, name: &str, value: &str) {
        rustix::fs::setxattr(dir, name, value.as_bytes(), rustix::fs::XattrFlags::empty()).unwrap();
    }

    #[test]
    fn reads_the_counters_systemd_oomd_leaves() {
        let Some(dir) = xattr_dir() else { return };
        let open = || std::fs::File::open(dir.path()).unwrap();
        assert_eq!(read(open()), Read::default());
        set(dir.path(), USER_OOMS, "1");
        set(dir.path(), USER_KILL, "4");
        let r = read(open());
        assert_eq!(r.problem, None);
        let c = r.attrs.counts().unwrap();
        assert_eq!(
            (c.killer, c.kills, c.processes),
            (Killer::SystemdOomd, 1, 4)
        );
        set(
            dir.path(),
            USER_UUID,
            "0b1c1a2e-0000-4000-8000-000000000000",
        );
        assert_eq!(read(open()).attrs.counts().unwrap().killer, Killer::Oomd);
    }

    #[test]
    fn a_cgroup_is_marked_by_its_kill_count_alone() {
        let Some(dir) = xattr_dir() else { return };
        let open = || std::fs::File::open(dir.path()).unwrap();
        assert!(!marked(open(), true));
        set(dir.path(), USER_KILL, "3");
        assert!(!marked(open(), false), "processes alone: not a kill");
        set(dir.path(), USER_OOMS, "x");
        assert!(marked(open(), false), "unreadable values are read in full");
    }

    #[test]
    fn a_bad_value_is_a_problem_and_the_rest_is_read() {
        let Some(dir) = xattr_dir() else { return };
        set(dir.path(), USER_OOMS, "many");
        set(dir.path(), USER_KILL, "2");
        let r = read(std::fs::File::open(dir.path()).unwrap());
        assert!(
            matches!(
                r.problem,
                Some(Problem::Failed {
                    attr: USER_OOMS,
                    ..
                })
            ),
            "{r:?}"
        );
        assert_eq!(r.attrs.user_kill, Some(2));
        set(dir.path(), USER_OOMS, &"9".repeat(MAX_VALUE + 1));
        let r = read(std::fs::File::open(dir.path()).unwrap());
        assert!(
            matches!(r.problem, Some(Problem::Failed { ref error, .. }) if error.contains("longer"))
        );
    }

    #[test]
    fn a_filesystem_without_user_attributes_is_unsupported() {
        // procfs has no user.* attributes.
        let Ok(proc) = std::fs::File::open("/proc/self") else {
            return;
        };
        let r = read(proc);
        assert_eq!(r.attrs, Attrs::default());
        assert_eq!(r.problem, Some(Problem::Unsupported));
    }
}
