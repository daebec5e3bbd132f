//! Reads the kubelet's two log directories: their entries' names (links are
//! never followed: in a container they point at host paths) and what tells
//! whether a directory changed since it was last read.

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What changes whenever an entry is added to or removed from a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    /// The mtime as a time, to tell a listing made right after a change.
    modified: Option<SystemTime>,
}

/// One directory's state: its stamp, or why it cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Present(Stamp),
    /// Not there (not a Kubernetes node, or not mounted).
    Absent,
    /// There but unreadable (permissions, not a directory); the error.
    Unreadable(String),
}

/// The stamp of `dir` (following a link to the directory itself: the
/// directory may be a mount or a link to another disk).
pub fn state(dir: &Path) -> State {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => State::Present(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            mtime: (m.mtime(), m.mtime_nsec()),
            modified: m.modified().ok(),
        }),
        Ok(_) => State::Unreadable("not a directory".to_owned()),
        Err(e) if e.kind() == ErrorKind::NotFound => State::Absent,
        Err(e) => State::Unreadable(e.to_string()),
    }
}

/// A directory listed: entry names, and whether `cap` cut it short.
#[derive(Debug, Default)]
pub struct Listing {
    pub names: Vec<String>,
    pub truncated: bool,
    /// The listing may miss an entry made in the same clock tick as the
    /// last change it saw: the directory changed less than [`RACY`] before.
    pub racy: bool,
    /// Entries whose names are not UTF-8 (no Kubernetes name is), and one
    /// of them, lossily, to log.
    pub non_utf8: usize,
    pub non_utf8_example: Option<String>,
}

/// How long after a directory's last change a listing is not trusted to
/// have seen everything (timestamps may be as coarse as a second).
pub const RACY: Duration = Duration::from_secs(2);

/// Lists at most `cap` entry names of `dir`, whose stamp was `stamp`.
pub fn list(dir: &Path, stamp: &Stamp, cap: usize) -> std::io::Result<Listing> {
    let now = SystemTime::now();
    let racy = stamp
        .modified
        .is_none_or(|m| now.duration_since(m).map_or(true, |age| age < RACY));
    let mut out = Listing {
        racy,
        ..Listing::default()
    };
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if out.names.len() == cap {
            out.truncated = true;
            break;
        }
        // Not UTF-8 is not a Kubernetes name: counted as ignored.
        match entry.file_name().into_string() {
            Ok(name) => out.names.push(name),
            Err(name) => {
                out.non_utf8 += 1;
                out.non_utf8_example
                    .get_or_insert_with(|| name.to_string_lossy().into_owned());
            }
        }
    }
    Ok(out)
}

/// `<root>/pods` and `<root>/containers`.
pub fn dirs(root: &Path) -> [PathBuf; 2] {
    [root.join("pods"), root.join("containers")]
}
