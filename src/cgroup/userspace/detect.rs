//! Whether systemd-oomd or oomd is on this host, so the host-wide counter
//! is served at 0 before their first kill.
//!
//! Everything is looked up under `--path.procfs`: the host's files through
//! `<procfs>/1/root` (the root of PID 1, which is the host's root when the
//! exporter sees the host's /proc, also from a container), its processes
//! by `comm`. A killer counts as present when any of these holds:
//!
//! - its unit file (`systemd-oomd.service`, `oomd.service`) in
//!   `/usr/lib`, `/lib` or `/etc` `systemd/system`, unless masked (a link to
//!   `/dev/null` in `/etc/systemd/system`);
//! - systemd-oomd's varlink socket `/run/systemd/oom/io.systemd.ManagedOOM`
//!   (created by systemd while the unit is enabled), or oomd's default
//!   stats socket `/run/oomd/oomd-stats.socket`;
//! - a process named `systemd-oomd` or `oomd` that is alive (a zombie,
//!   state `Z`, or a dead one, `X`, is not a running killer).
//!
//! Once found, a killer stays found (its counter must not vanish). Until
//! then the files are checked at every scrape and the processes at most
//! every [`RESCAN`].

use std::path::Path;
use std::time::{Duration, Instant};

use super::Killer;
use crate::proc::fs::ProcFs;

/// How often the processes are listed while no killer is found.
pub const RESCAN: Duration = Duration::from_secs(60);

/// Directories of unit files, below the host's root.
const UNIT_DIRS: [&str; 3] = [
    "etc/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

/// Sockets below the host's root: systemd-oomd's varlink socket and
/// oomd's default stats socket.
const SOCKETS: [(Killer, &str); 2] = [
    (Killer::SystemdOomd, "run/systemd/oom/io.systemd.ManagedOOM"),
    (Killer::Oomd, "run/oomd/oomd-stats.socket"),
];

impl Killer {
    fn unit(self) -> &'static str {
        match self {
            Self::SystemdOomd => "systemd-oomd.service",
            Self::Oomd => "oomd.service",
        }
    }

    fn comm(self) -> &'static str {
        match self {
            Self::SystemdOomd => "systemd-oomd",
            Self::Oomd => "oomd",
        }
    }
}

/// The killers found so far.
#[derive(Debug, Default)]
pub struct Detector {
    found: [bool; 2],
    scanned: Option<Instant>,
}

impl Detector {
    /// The killers present at `now` (see the module docs).
    pub fn check(&mut self, procfs: &ProcFs, now: Instant) -> [bool; 2] {
        if self.found.iter().all(|f| *f) {
            return self.found;
        }
        let root = procfs.root().join("1/root");
        for k in Killer::ALL {
            self.found[k.index()] |= unit_installed(&root, k.unit())
                || SOCKETS
                    .iter()
                    .any(|(s, path)| *s == k && root.join(path).exists());
        }
        let due = self
            .scanned
            .is_none_or(|at| now.duration_since(at) >= RESCAN);
        if due && !self.found.iter().all(|f| *f) {
            self.scanned = Some(now);
            for k in running(procfs) {
                self.found[k.index()] = true;
            }
        }
        self.found
    }
}

/// Whether `unit` is installed under `root` and not masked.
fn unit_installed(root: &Path, unit: &str) -> bool {
    let masked = std::fs::read_link(root.join(UNIT_DIRS[0]).join(unit))
        .is_ok_and(|target| target == Path::new("/dev/null"));
    !masked && UNIT_DIRS.iter().any(|d| root.join(d).join(unit).is_file())
}

/// The killers with a running process.
fn running(procfs: &ProcFs) -> Vec<Killer> {
    let Ok(pids) = procfs.pids() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pid in pids {
        let Ok(comm) = procfs.read(&procfs.pid_file(pid, "comm")) else {
            continue;
        };
        let comm = comm.trim_end();
        let Some(k) = Killer::ALL.into_iter().find(|k| k.comm() == comm) else {
            continue;
        };
        let stat = procfs.read(&procfs.pid_file(pid, "stat"));
        if stat.is_ok_and(|s| alive(&s)) {
            out.push(k);
        }
    }
    out
}

/// Whether `/proc/PID/stat` says the process is alive: its state (the
/// field after the parenthesized comm) is not `Z` (zombie) or `X` (dead).
fn alive(stat: &str) -> bool {
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    state.is_some_and(|c| !matches!(c, 'Z' | 'X' | 'x'))
}

/// Whether `/proc/self/status` says the process has `CAP_SYS_ADMIN` in
/// its effective set (`CapEff`, bit 21), which `trusted.*` attributes
/// need; `None` when the line is missing or not hex.
pub fn has_sys_admin(status: &str) -> Option<bool> {
    const CAP_SYS_ADMIN: u32 = 21;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let caps = u64::from_str_radix(hex, 16).ok()?;
    Some(caps & (1 << CAP_SYS_ADMIN) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn nothing_on_a_bare_tree() {
        let proc = tempfile::tempdir().unwrap();
        write(proc.path(), "1/comm", "systemd\n");
        let mut d = Detector::default();
        assert_eq!(
            d.check(&ProcFs::new(proc.path()), Instant::now()),
            [false, false]
        );
    }

    #[test]
    fn a_unit_file_counts_unless_masked() {
        let proc = tempfile::tempdir().unwrap();
        write(
            proc.path(),
            "1/root/usr/lib/systemd/system/systemd-oomd.service",
            "[Unit]\n",
        );
        let procfs = ProcFs::new(proc.path());
        let mut masked = Detector::default();
        let etc = proc.path().join("1/root/etc/systemd/system");
        std::fs::create_dir_all(&etc).unwrap();
        std::os::unix::fs::symlink("/dev/null", etc.join("systemd-oomd.service")).unwrap();
        assert_eq!(masked.check(&procfs, Instant::now()), [false, false]);
        std::fs::remove_file(etc.join("systemd-oomd.service")).unwrap();
        assert_eq!(masked.check(&procfs, Instant::now()), [true, false]);
        write(
            proc.path(),
            "1/root/lib/systemd/system/oomd.service",
            "[Unit]\n",
        );
        assert_eq!(masked.check(&procfs, Instant::now()), [true, true]);
    }

    #[test]
    fn each_killers_socket_counts_for_it() {
        let proc = tempfile::tempdir().unwrap();
        write(
            proc.path(),
            "1/root/run/systemd/oom/io.systemd.ManagedOOM",
            "",
        );
        let mut d = Detector::default();
        assert_eq!(
            d.check(&ProcFs::new(proc.path()), Instant::now()),
            [true, false]
        );
        write(proc.path(), "1/root/run/oomd/oomd-stats.socket", "");
        assert_eq!(
            d.check(&ProcFs::new(proc.path()), Instant::now()),
            [true, true]
        );
    }

    #[test]
    fn a_process_counts_and_processes_are_listed_once_a_minute() {
        let proc = tempfile::tempdir().unwrap();
        let procfs = ProcFs::new(proc.path());
        let t0 = Instant::now();
        let mut d = Detector::default();
        assert_eq!(d.check(&procfs, t0), [false, false]);
        write(proc.path(), "4242/comm", "oomd\n");
        write(proc.path(), "4242/stat", "4242 (oomd) S 1 4242 4242 0 -1\n");
        assert_eq!(
            d.check(&procfs, t0 + Duration::from_secs(1)),
            [false, false]
        );
        assert_eq!(d.check(&procfs, t0 + RESCAN), [false, true]);
        // Found stays found after the process is gone.
        std::fs::remove_dir_all(proc.path().join("4242")).unwrap();
        assert_eq!(d.check(&procfs, t0 + RESCAN * 3), [false, true]);
    }

    #[test]
    fn a_zombie_named_like_a_killer_is_not_one() {
        let proc = tempfile::tempdir().unwrap();
        write(proc.path(), "77/comm", "systemd-oomd\n");
        write(proc.path(), "77/stat", "77 (systemd-oomd) Z 1 77 77 0 -1\n");
        write(proc.path(), "78/comm", "oomd\n");
        write(proc.path(), "78/stat", "78 (oomd) R 1 78 78 0 -1\n");
        let mut d = Detector::default();
        assert_eq!(
            d.check(&ProcFs::new(proc.path()), Instant::now()),
            [false, true]
        );
        assert!(alive("9 (a) b) S 1"), "a comm with a parenthesis");
        assert!(!alive("9 (x) X 1"));
        assert!(!alive("garbage"));
    }

    #[test]
    fn cap_sys_admin_is_read_from_the_effective_set() {
        let root = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(has_sys_admin(root), Some(true));
        let user = "CapEff:\t0000000000000000\n";
        assert_eq!(has_sys_admin(user), Some(false));
        // CAP_NET_RAW and CAP_SYS_PTRACE but not CAP_SYS_ADMIN.
        assert_eq!(has_sys_admin("CapEff:\t0000000000082000\n"), Some(false));
        assert_eq!(has_sys_admin("CapEff:\t0000000000200000\n"), Some(true));
        assert_eq!(has_sys_admin("Name: x\n"), None);
    }
}
