//! Finds the memory cgroup hierarchy under `--path.sysfs` and walks it.
//!
//! - v2 (unified): `<sysfs>/fs/cgroup` (or `<sysfs>/fs/cgroup/unified` on
//!   hybrid hosts) whose `cgroup.controllers` lists `memory`.
//! - v1: `<sysfs>/fs/cgroup/memory`. A hybrid host such as this development
//!   VM (v1 memory controller, a v2 hierarchy without it) uses v1.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::buffer::spare_capacity;
use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, fstat, openat, statat};

/// A memory cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// cgroup v1 memory controller mounted at the path.
    V1(PathBuf),
    /// cgroup v2 with the memory controller, mounted at the path.
    V2(PathBuf),
}

impl Hierarchy {
    /// The mount point.
    pub fn root(&self) -> &Path {
        match self {
            Self::V1(p) | Self::V2(p) => p,
        }
    }

    /// `1` or `2`.
    pub fn version(&self) -> u8 {
        match self {
            Self::V1(_) => 1,
            Self::V2(_) => 2,
        }
    }

    /// The directory of cgroup `path` (`/system.slice/x.service`).
    pub fn dir(&self, path: &str) -> PathBuf {
        self.root().join(path.trim_start_matches('/'))
    }

    /// Asks the kernel to signal `eventfd` when cgroup `path` runs out of
    /// memory, and again when it is removed (v1: a line in
    /// `cgroup.event_control` naming `memory.oom_control`). The only write
    /// the exporter makes below `--path.sysfs`.
    pub fn register_oom_eventfd(&self, path: &str, eventfd: BorrowedFd<'_>) -> io::Result<()> {
        let dir = self.dir(path);
        let control = std::fs::File::open(dir.join("memory.oom_control"))?;
        let line = format!("{} {}", eventfd.as_raw_fd(), control.as_raw_fd());
        std::fs::write(dir.join("cgroup.event_control"), line)
    }
}

/// Finds the memory hierarchy under `sysfs`.
pub fn detect(sysfs: &Path) -> Option<Hierarchy> {
    let base = sysfs.join("fs/cgroup");
    for root in [base.clone(), base.join("unified")] {
        let controllers = crate::proc::fs::read_text(
            &root.join("cgroup.controllers"),
            crate::proc::fs::MAX_FILE_BYTES,
        )
        .unwrap_or_default();
        if controllers.split_whitespace().any(|c| c == "memory") {
            return Some(Hierarchy::V2(root));
        }
    }
    let v1 = base.join("memory");
    v1.join("memory.usage_in_bytes")
        .exists()
        .then_some(Hierarchy::V1(v1))
}

/// An open cgroup directory; its files are opened relative to it, which
/// spares the kernel a path lookup per file.
#[derive(Debug)]
pub struct CgroupDir {
    fd: OwnedFd,
    /// The last file refused by [`CgroupDir::read`] as too large, until
    /// taken: callers that treat an unreadable file as absent can still
    /// report it.
    too_large: RefCell<Option<String>>,
}

impl AsFd for CgroupDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Deepest cgroup level walked (systemd and Kubernetes nest 4 to 6 deep):
/// the root's children are level 0, cgroups below level 32 are not walked
/// ([`Walk::depth_limited`]).
pub const MAX_DEPTH: usize = 32;

impl CgroupDir {
    /// Opens the directory at `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Ok(Self {
            fd: openat(CWD, path, flags, Mode::empty())?,
            too_large: RefCell::new(None),
        })
    }

    /// Opens subdirectory `name` (not following a symbolic link).
    fn open_at(dir: impl AsFd, name: impl rustix::path::Arg) -> io::Result<Self> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        Ok(Self {
            fd: openat(dir, name, flags, Mode::empty())?,
            too_large: RefCell::new(None),
        })
    }

    /// Another handle on the same directory.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            fd: self.fd.try_clone()?,
            too_large: RefCell::new(None),
        })
    }

    /// The directory's inode number.
    pub fn ino(&self) -> io::Result<u64> {
        Ok(fstat(&self.fd)?.st_ino)
    }

    /// Reads file `name` of this cgroup into `buf` (cleared first).
    ///
    /// The memory cgroup files read here are single-record seq_files,
    /// printed whole by the first read when the buffer is large enough, and
    /// a regular file on a local filesystem (fixture trees) returns all
    /// that is left, so a read that does not fill the buffer ends the file:
    /// no second read just to see end-of-file. (Not so for multi-record
    /// files such as `cgroup.procs`, nor on network filesystems.)
    ///
    /// A file longer than [`crate::proc::fs::MAX_FILE_BYTES`] is an error
    /// (see [`crate::proc::fs::too_large`]) after reading no more than that.
    pub fn read<'b>(&self, name: &str, buf: &'b mut Vec<u8>) -> io::Result<&'b str> {
        let fd = openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        buf.clear();
        loop {
            if buf.capacity() - buf.len() < 512 {
                buf.reserve(4096);
            }
            let room = buf.capacity() - buf.len();
            if buf.len() > crate::proc::fs::MAX_FILE_BYTES {
                self.too_large.replace(Some(name.to_owned()));
                return Err(crate::proc::fs::too_large_error(
                    crate::proc::fs::MAX_FILE_BYTES,
                ));
            }
            match rustix::io::read(&fd, spare_capacity(buf)) {
                Ok(n) if n < room => break,
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        std::str::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// The name of the last file refused as too large since the last call.
    pub fn take_too_large(&self) -> Option<String> {
        self.too_large.take()
    }

    /// Names of the subdirectories.
    fn children(&self) -> Vec<String> {
        let Ok(dir) = Dir::read_from(&self.fd) else {
            return Vec::new();
        };
        let is_dir = |e: &rustix::fs::DirEntry| match e.file_type() {
            FileType::Directory => true,
            // Filesystems without d_type (some fixture trees): ask.
            FileType::Unknown => statat(&self.fd, e.file_name(), AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
            _ => false,
        };
        let mut names: Vec<String> = dir
            .filter_map(Result::ok)
            .filter(is_dir)
            .filter_map(|e| e.file_name().to_str().ok().map(str::to_owned))
            .filter(|n| n != "." && n != "..")
            .collect();
        names.sort_unstable();
        names
    }
}

/// One cgroup found by [`visit`].
#[derive(Debug)]
pub struct Found<'a> {
    /// `/a/b`, relative to the hierarchy's root.
    pub path: &'a str,
    /// The open directory.
    pub dir: &'a CgroupDir,
    /// Its inode number: a cgroup removed and created again under the same
    /// path has a new one.
    pub ino: u64,
}

/// One incarnation of a cgroup: a cgroup removed and created again under
/// the same path is another one, with another inode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Incarnation {
    /// `/a/b`, relative to the hierarchy's root.
    pub path: String,
    /// Inode number of its directory.
    pub ino: u64,
}

/// A value read from one incarnation of a cgroup.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed<T> {
    pub cgroup: Incarnation,
    pub value: T,
}

/// Calls `f` for every cgroup below the root (not the root itself), parents
/// before children, and returns how many there were. Directories that
/// vanish mid-walk are skipped. Leaves (most cgroups) are not listed.
pub fn visit(h: &Hierarchy, mut f: impl FnMut(Found<'_>)) -> Walk {
    let mut walk = Walk::default();
    match CgroupDir::open(h.root()) {
        Ok(root) => visit_children(&root, "", 0, &mut f, &mut walk),
        Err(e) => walk.errors.push(format!("{}: {e}", h.root().display())),
    }
    walk
}

/// What [`visit`] saw.
#[derive(Debug, Default)]
pub struct Walk {
    /// Cgroups found.
    pub count: usize,
    /// Directories that could not be opened for another reason than
    /// having vanished (`path: error`).
    pub errors: Vec<String>,
    /// Cgroups at the deepest level walked ([`MAX_DEPTH`]) that have
    /// children, which were not walked.
    pub depth_limited: Vec<String>,
}

fn visit_children(
    parent: &CgroupDir,
    path: &str,
    depth: usize,
    f: &mut impl FnMut(Found<'_>),
    walk: &mut Walk,
) {
    for name in parent.children() {
        let child = format!("{path}/{name}");
        let opened = CgroupDir::open_at(&parent.fd, name.as_str())
            .and_then(|dir| Ok((fstat(&dir.fd)?, dir)));
        let (st, dir) = match opened {
            Ok(found) => found,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // vanished
            Err(e) => {
                walk.errors.push(format!("{child}: {e}"));
                continue;
            }
        };
        walk.count += 1;
        f(Found {
            path: &child,
            dir: &dir,
            ino: st.st_ino,
        });
        // A directory's link count is 2 plus its subdirectories on
        // cgroupfs (and ext4, tmpfs): at 2 it is a leaf, not listed.
        if st.st_nlink != 2 {
            if depth < MAX_DEPTH {
                visit_children(&dir, &child, depth + 1, f, walk);
            } else if !dir.children().is_empty() {
                walk.depth_limited.push(child);
            }
        }
    }
}

/// Every cgroup below the root (not the root itself), as `/a/b` paths,
/// parents before children.
pub fn walk(h: &Hierarchy) -> Vec<String> {
    let mut out = Vec::new();
    visit(h, |c| out.push(c.path.to_owned()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sysfs tree with `files` (path, content) under a temporary root.
    fn sysfs(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        dir
    }

    #[test]
    fn detects_each_layout() {
        let unified = sysfs(&[("fs/cgroup/cgroup.controllers", "cpu io memory pids\n")]);
        let root = unified.path().join("fs/cgroup");
        assert_eq!(detect(unified.path()), Some(Hierarchy::V2(root)));
        // Hybrid with the memory controller on the v2 side.
        let hybrid_v2 = sysfs(&[
            ("fs/cgroup/unified/cgroup.controllers", "memory pids\n"),
            ("fs/cgroup/cpu/cpu.shares", "1024\n"),
        ]);
        let root = hybrid_v2.path().join("fs/cgroup/unified");
        assert_eq!(detect(hybrid_v2.path()), Some(Hierarchy::V2(root)));
        // Hybrid like the development VM: v2 without memory, v1 memory.
        let hybrid_v1 = sysfs(&[
            ("fs/cgroup/unified/cgroup.controllers", ""),
            ("fs/cgroup/memory/memory.usage_in_bytes", "4096\n"),
        ]);
        let root = hybrid_v1.path().join("fs/cgroup/memory");
        assert_eq!(detect(hybrid_v1.path()), Some(Hierarchy::V1(root)));
        // Pure v1.
        let v1 = sysfs(&[("fs/cgroup/memory/memory.usage_in_bytes", "4096\n")]);
        let root = v1.path().join("fs/cgroup/memory");
        assert_eq!(detect(v1.path()), Some(Hierarchy::V1(root)));
        // Neither (no memory controller anywhere).
        let none = sysfs(&[("fs/cgroup/cgroup.controllers", "cpu pids\n")]);
        assert_eq!(detect(none.path()), None);
    }

    #[test]
    fn walks_parents_before_children_in_name_order_and_skips_files() {
        let tree = sysfs(&[
            ("fs/cgroup/cgroup.controllers", "memory\n"),
            ("fs/cgroup/b/memory.current", "1\n"),
            ("fs/cgroup/a/y/memory.current", "1\n"),
            ("fs/cgroup/a/x/memory.current", "1\n"),
        ]);
        let h = detect(tree.path()).unwrap();
        assert_eq!(walk(&h), ["/a", "/a/x", "/a/y", "/b"]);
        let mut buf = Vec::new();
        let dir = CgroupDir::open(&h.dir("/a/x")).unwrap();
        assert_eq!(dir.read("memory.current", &mut buf).unwrap(), "1\n");
        assert!(dir.read("missing", &mut buf).is_err());
        // Larger than one read's buffer: read whole.
        let big = "x".repeat(10_000);
        std::fs::write(h.dir("/a/x").join("memory.stat"), &big).unwrap();
        assert_eq!(dir.read("memory.stat", &mut buf).unwrap(), big);
        // Longer than any kernel file: refused after the cap.
        std::os::unix::fs::symlink("/dev/zero", h.dir("/a/x").join("memory.events")).unwrap();
        let err = dir.read("memory.events", &mut buf).unwrap_err();
        assert_eq!(
            crate::proc::fs::too_large(&err),
            Some(crate::proc::fs::MAX_FILE_BYTES)
        );
        assert!(buf.capacity() <= 4 * crate::proc::fs::MAX_FILE_BYTES);
        assert_eq!(dir.take_too_large().as_deref(), Some("memory.events"));
        assert_eq!(dir.take_too_large(), None);
    }

    #[test]
    fn cgroups_below_the_deepest_level_are_counted_not_walked() {
        let tree = sysfs(&[("fs/cgroup/cgroup.controllers", "memory\n")]);
        let h = detect(tree.path()).unwrap();
        let deep = (0..=MAX_DEPTH + 2)
            .map(|_| "d")
            .collect::<Vec<_>>()
            .join("/");
        std::fs::create_dir_all(h.dir(&deep)).unwrap();
        let mut found = Vec::new();
        let walk = visit(&h, |c| found.push(c.path.to_owned()));
        assert_eq!(walk.count, MAX_DEPTH + 1);
        assert_eq!(
            found.last().map(|p| p.matches('/').count()),
            Some(MAX_DEPTH + 1)
        );
        assert_eq!(walk.depth_limited.len(), 1);
        assert_eq!(walk.depth_limited[0], *found.last().unwrap());
    }
}
