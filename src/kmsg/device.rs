//! The kernel's log device, read through rmesg, with typed errors.
//!
//! rmesg is used with its `DevKMsg` file reader directly (its default
//! backend silently falls back to `klogctl`), in raw mode (its parsed mode
//! rejects facilities >= 12 and does not unescape): record headers are
//! parsed by [`super::record`]. rmesg reports every failure as text (its
//! `RMesgError` keeps an `io::Error` only as its `Display` or `Debug`
//! string); this is the one place that reads that text, and the rest of
//! the code sees a [`DeviceError`].

use std::path::{Path, PathBuf};

use rmesg::error::RMesgError;
use rmesg::kmsgfile::{KMsgEntriesIter, kmsg_raw};
use rustix::io::Errno;

/// Overruns in a row a read of the ring buffer retries.
const OVERRUN_RETRIES: usize = 5;

/// Why the kernel's log device cannot be read, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// EPERM: reading the kernel log needs CAP_SYSLOG here.
    #[error(
        "open {}: operation not permitted; run with CAP_SYSLOG or set kernel.dmesg_restrict=0",
        .path.display()
    )]
    NotPermitted { path: PathBuf },
    /// EACCES: the file's mode does not let this user read it.
    #[error(
        "open {p}: permission denied; give the exporter's user read access to {p} (root, or CAP_DAC_READ_SEARCH)",
        p = .path.display()
    )]
    PermissionDenied { path: PathBuf },
    /// ENOENT: no such device (a container without /dev/kmsg).
    #[error(
        "open {}: no such file; in a container, mount the host's /dev/kmsg (e.g. --device /dev/kmsg); \
         kills are still counted from /proc/vmstat, without victims",
        .path.display()
    )]
    NotFound { path: PathBuf },
    /// EPIPE: the ring buffer overwrote records before they were read;
    /// reading goes on from the oldest record left.
    #[error("read {}: the ring buffer overran the reader", .path.display())]
    Overrun { path: PathBuf },
    /// The file ended (a regular file given as the device).
    #[error("read {}: end of file", .path.display())]
    Ended { path: PathBuf },
    /// Not a character device or a regular file (a FIFO, a directory):
    /// opening it could block for ever, or reading it fail.
    #[error(
        "open {}: is a {kind}, not the kernel's log device (a character device such as /dev/kmsg) or a saved log",
        .path.display()
    )]
    NotADevice { path: PathBuf, kind: &'static str },
    /// Anything else, as rmesg put it.
    #[error("read {}: {detail}", .path.display())]
    Other { path: PathBuf, detail: String },
}

impl DeviceError {
    /// The error rmesg returned for `path`, typed.
    fn from_rmesg(path: &Path, error: &RMesgError) -> Self {
        let path = path.to_owned();
        if matches!(error, RMesgError::OperationNotPermitted(_)) {
            return Self::NotPermitted { path };
        }
        match os_error(&format!("{error:?}")) {
            Some(Errno::PERM) => Self::NotPermitted { path },
            Some(Errno::ACCESS) => Self::PermissionDenied { path },
            Some(Errno::NOENT) => Self::NotFound { path },
            Some(Errno::PIPE) => Self::Overrun { path },
            _ => Self::Other {
                path,
                detail: error.to_string(),
            },
        }
    }
}

/// The errno inside rmesg's text of an `io::Error`: its `Display` (`...
/// (os error 13)`) or its `Debug` (`Os { code: 32, kind: BrokenPipe, .. }`).
fn os_error(text: &str) -> Option<Errno> {
    let number = |rest: &str| -> Option<i32> {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        rest[..digits].parse().ok()
    };
    let code = text
        .split_once("(os error ")
        .and_then(|(_, rest)| number(rest))
        .or_else(|| text.split_once("code: ").and_then(|(_, rest)| number(rest)))?;
    Some(Errno::from_raw_os_error(code))
}

/// Reads what the ring buffer holds now, without waiting; `on_overrun` is
/// called for each overrun met (the read is then retried, a few times).
pub fn read_available(path: &Path, mut on_overrun: impl FnMut()) -> Result<String, DeviceError> {
    check_kind(path)?;
    let mut tries = 0;
    loop {
        match kmsg_raw(Some(path.to_string_lossy().into_owned())) {
            Ok(log) => return Ok(log),
            Err(error) => match DeviceError::from_rmesg(path, &error) {
                DeviceError::Overrun { .. } if tries < OVERRUN_RETRIES => {
                    on_overrun();
                    tries += 1;
                }
                error => return Err(error),
            },
        }
    }
}

/// Refuses what cannot be the kernel's log device or a saved log before
/// rmesg opens it: a FIFO nobody writes would block the open for ever.
/// A path that does not exist is left to the open (and its advice).
fn check_kind(path: &Path) -> Result<(), DeviceError> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let t = meta.file_type();
    let kind = if t.is_char_device() || t.is_file() {
        return Ok(());
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_dir() {
        "directory"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() {
        "block device"
    } else {
        "special file"
    };
    Err(DeviceError::NotADevice {
        path: path.to_owned(),
        kind,
    })
}

/// Reads the ring buffer once, without waiting: for `oom_exporter kills`.
pub fn read_once(path: &Path) -> Result<String, DeviceError> {
    read_available(path, || {})
}

/// The device opened for tailing: raw records (lines) from the oldest the
/// ring buffer holds, each read blocking until one is there.
pub struct Tail {
    path: PathBuf,
    entries: KMsgEntriesIter,
}

impl Tail {
    /// Opens `path` for tailing.
    pub fn open(path: &Path) -> Result<Self, DeviceError> {
        check_kind(path)?;
        let entries =
            KMsgEntriesIter::with_options(Some(path.to_string_lossy().into_owned()), true)
                .map_err(|e| DeviceError::from_rmesg(path, &e))?;
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }
}

impl Iterator for Tail {
    type Item = Result<String, DeviceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.entries.next()?;
        Some(
            next.map(|entry| entry.message)
                .map_err(|e| DeviceError::from_rmesg(&self.path, &e)),
        )
    }
}

#[cfg(test)]
mod tests {
    /// Review of issue 12: `--path.kmsg` on a FIFO blocked the reader in
    /// open() for ever, with nothing said.
    #[test]
    fn a_fifo_or_directory_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("kmsg");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let err = read_once(&fifo).unwrap_err();
        assert!(
            matches!(err, DeviceError::NotADevice { kind: "FIFO", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("is a FIFO"), "{err}");
        assert!(matches!(
            Tail::open(&fifo),
            Err(DeviceError::NotADevice { .. })
        ));
        let err = read_once(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                DeviceError::NotADevice {
                    kind: "directory",
                    ..
                }
            ),
            "{err}"
        );
    }

    use super::*;

    fn typed(error: RMesgError) -> DeviceError {
        DeviceError::from_rmesg(Path::new("/dev/kmsg"), &error)
    }

    fn io(code: i32) -> std::io::Error {
        std::io::Error::from_raw_os_error(code)
    }

    #[test]
    fn rmesg_errors_become_typed_errors_with_advice() {
        // What rmesg returns: the open error as Display text, a read
        // error through `From<io::Error>` as Debug text.
        let open = |code| {
            RMesgError::DevKMsgFileOpenError(format!("Unable to open file /dev/kmsg: {}", io(code)))
        };
        assert!(matches!(
            typed(open(13)),
            DeviceError::PermissionDenied { .. }
        ));
        assert!(matches!(typed(open(2)), DeviceError::NotFound { .. }));
        assert!(matches!(typed(open(1)), DeviceError::NotPermitted { .. }));
        assert!(matches!(
            typed(RMesgError::OperationNotPermitted(
                "Open File /dev/kmsg".to_owned()
            )),
            DeviceError::NotPermitted { .. }
        ));
        assert!(matches!(
            typed(RMesgError::from(io(32))),
            DeviceError::Overrun { .. }
        ));
        assert!(matches!(typed(open(32)), DeviceError::Overrun { .. }));
        let other = typed(RMesgError::from(io(5)));
        assert!(matches!(other, DeviceError::Other { .. }), "{other:?}");
        assert!(other.to_string().starts_with("read /dev/kmsg: "), "{other}");
        let denied = typed(open(13)).to_string();
        assert!(denied.contains("/dev/kmsg: permission denied"), "{denied}");
        assert!(typed(open(2)).to_string().contains("no such file"));
        assert!(typed(open(1)).to_string().contains("CAP_SYSLOG"));
    }

    #[test]
    fn a_missing_device_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kmsg");
        let error = read_once(&path).unwrap_err();
        assert!(
            matches!(&error, DeviceError::NotFound { path: p } if *p == path),
            "{error:?}"
        );
        assert!(matches!(
            Tail::open(&path),
            Err(DeviceError::NotFound { .. })
        ));
    }

    #[test]
    fn a_regular_file_is_read_whole_and_tailed_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kmsg");
        std::fs::write(&path, "6,1,10,-;one\n6,2,20,-;two\n").unwrap();
        assert_eq!(read_once(&path).unwrap(), "6,1,10,-;one\n6,2,20,-;two\n");
        let lines: Vec<String> = Tail::open(&path).unwrap().map(Result::unwrap).collect();
        assert_eq!(lines, ["6,1,10,-;one", "6,2,20,-;two"]);
    }
}
