//! The per-process scan: who the OOM killer would pick next.
//!
//! Cheap by construction: for every process only `oom_score` is read (plus
//! `comm`, and `cmdline` when it does not match, if an include pattern is
//! set). The details (`status`, `oom_score_adj`, `comm`, `cgroup`) are read
//! only for the processes reported: the top N by `oom_score` and the
//! included ones. Kernel threads (no `VmRSS`) are skipped. A process that
//! exits mid-scan is skipped silently; permission errors are counted, and
//! so are files of a live process that cannot be read or make no sense
//! (garbage, longer than [`crate::proc::fs::MAX_FILE_BYTES`]): those are
//! read errors, not exits.

use regex::Regex;

use crate::cgroup::ns::Resolver;
use crate::cgroup::owner;
use crate::logonce::LogOnce;
use crate::parse::process::{self, Memory};
use crate::proc::fs::{ProcFs, ReadError};

/// What to report.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Processes reported by rank.
    pub top_n: usize,
    /// Always report processes whose comm or cmdline matches.
    pub include: Option<Regex>,
    /// Never report processes whose comm or cmdline matches.
    pub exclude: Option<Regex>,
    /// Most processes reported because of `include`, beyond the top N.
    pub include_max: usize,
}

/// One reported process.
#[derive(Debug, Clone, PartialEq)]
pub struct Proc {
    pub pid: u32,
    pub comm: String,
    pub oom_score: u32,
    pub oom_score_adj: i32,
    pub memory: Memory,
    /// Memory cgroup path, if known.
    pub cgroup: Option<String>,
    pub owner: owner::Owner,
    /// Matches `include`: a process the user marked critical.
    pub included: bool,
}

/// The result of one scan.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Process directories whose `oom_score` was read.
    pub scanned: usize,
    /// Processes whose files could not be read for lack of permission.
    pub denied: usize,
    /// Processes left out because a file of theirs could not be read or
    /// parsed while they still existed.
    pub errors: usize,
    /// What went wrong, for the first few of `errors` (`path: why`).
    pub problems: Vec<String>,
    /// The procfs hides other users' processes from the exporter
    /// (`hidepid=`): they are missing from `scanned`, not counted in `denied`.
    pub hidden: Option<String>,
    /// Reported processes, highest `oom_score` first.
    pub procs: Vec<Proc>,
    /// The process the OOM killer would pick now: the highest `oom_score`
    /// among user processes, whatever `exclude` says.
    pub next_victim: Option<Proc>,
}

/// Scans processes under one procfs root.
#[derive(Debug)]
pub struct Scanner {
    procfs: ProcFs,
    selection: Selection,
    cgroups: Resolver,
    /// What was said once: `"denied"`, `"hidden"`.
    said: LogOnce<&'static str>,
}

enum Read<T> {
    Ok(T),
    Gone,
    Denied,
    /// Unreadable or malformed in a process that still exists.
    Failed(String),
}

/// A process by its `oom_score`.
struct Ranked {
    score: u32,
    pid: u32,
    /// Matches `include`.
    included: bool,
}

/// Problems kept per scan; the rest are only counted.
const MAX_PROBLEMS: usize = 3;

impl Scan {
    /// Counts a process left out for `why`.
    fn failed(&mut self, why: String) {
        self.errors += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(why);
        }
    }
}

impl<T> Read<T> {
    /// Anything but `Ok`, as another type (`Ok` would be a caller's bug:
    /// taken as gone).
    fn lost<U>(self) -> Read<U> {
        match self {
            Read::Denied => Read::Denied,
            Read::Failed(why) => Read::Failed(why),
            Read::Ok(_) | Read::Gone => Read::Gone,
        }
    }
}

impl Scanner {
    /// A scanner of `procfs` reporting `selection`.
    /// `cgroups` resolves the processes' cgroup paths (see
    /// [`crate::cgroup::ns`]).
    pub fn new(procfs: ProcFs, selection: Selection, cgroups: Resolver) -> Self {
        Self {
            procfs,
            selection,
            cgroups,
            said: LogOnce::new(),
        }
    }

    fn read(&self, pid: u32, file: &str) -> Read<Vec<u8>> {
        let limit = match file {
            "cmdline" => crate::proc::fs::MAX_CMDLINE_BYTES,
            _ => crate::proc::fs::MAX_FILE_BYTES,
        };
        match self
            .procfs
            .read_bytes(&self.procfs.pid_file(pid, file), limit)
        {
            Ok(bytes) => Read::Ok(bytes),
            Err(ReadError::PermissionDenied { .. }) => Read::Denied,
            Err(e) if e.is_absent() => Read::Gone,
            Err(e) => self.failed(pid, e.to_string()),
        }
    }

    /// A file of `pid` that failed for `why`: a read error while the
    /// process is still there, else it exited mid-read.
    fn failed<T>(&self, pid: u32, why: String) -> Read<T> {
        if self.procfs.pid_file(pid, "").exists() {
            Read::Failed(why)
        } else {
            Read::Gone
        }
    }

    /// A file of `pid` that the parser rejected.
    fn malformed<T>(&self, pid: u32, file: &str, error: &process::BadFile) -> Read<T> {
        let path = self.procfs.pid_file(pid, file);
        self.failed(pid, format!("{}: malformed ({error})", path.display()))
    }

    fn matches(&self, re: &Regex, pid: u32, comm: Option<&str>) -> Read<bool> {
        if let Some(comm) = comm {
            if re.is_match(comm) {
                return Read::Ok(true);
            }
        } else {
            match self.read(pid, "comm") {
                Read::Ok(bytes) if re.is_match(&process::comm(&bytes)) => return Read::Ok(true),
                Read::Failed(why) => return Read::Failed(why),
                _ => {}
            }
        }
        match self.read(pid, "cmdline") {
            Read::Ok(bytes) => {
                let cmdline: Vec<u8> = bytes
                    .iter()
                    .map(|&b| if b == 0 { b' ' } else { b })
                    .collect();
                Read::Ok(re.is_match(String::from_utf8_lossy(&cmdline).trim_end()))
            }
            Read::Failed(why) => Read::Failed(why),
            Read::Gone | Read::Denied => Read::Ok(false),
        }
    }

    /// Everything about one process, or why not.
    fn details(&self, pid: u32, oom_score: u32, included: bool) -> Read<Option<Proc>> {
        let memory = match self.read(pid, "status") {
            Read::Ok(bytes) => match process::status_memory(&bytes) {
                Ok(Some(m)) => m,
                Ok(None) => return Read::Ok(None), // kernel thread
                Err(e) => return self.malformed(pid, "status", &e),
            },
            other => return other.lost(),
        };
        let comm = match self.read(pid, "comm") {
            Read::Ok(bytes) => process::comm(&bytes),
            other => return other.lost(),
        };
        let oom_score_adj = match self.read(pid, "oom_score_adj") {
            Read::Ok(bytes) => {
                process::oom_score_adj(&String::from_utf8_lossy(&bytes)).unwrap_or(0)
            }
            other => return other.lost(),
        };
        let cgroup = match self.read(pid, "cgroup") {
            Read::Ok(bytes) => process::memory_cgroup(&bytes)
                .ok()
                .flatten()
                .map(|p| self.cgroups.resolve(p)),
            _ => None,
        };
        let owner = cgroup.as_deref().map(owner::owner).unwrap_or_default();
        Read::Ok(Some(Proc {
            pid,
            comm,
            oom_score,
            oom_score_adj,
            memory,
            cgroup,
            owner,
            included,
        }))
    }

    /// The `oom_score` of every process, highest first (ties by pid), and
    /// whether it matches `include`.
    fn rank(&self, scan: &mut Scan) -> Result<Vec<Ranked>, ReadError> {
        let mut ranked = Vec::new();
        for pid in self.procfs.pids()? {
            let score = match self.read(pid, "oom_score") {
                Read::Ok(bytes) => match process::oom_score(&String::from_utf8_lossy(&bytes)) {
                    Ok(score) => Read::Ok(score),
                    Err(e) => self.malformed(pid, "oom_score", &e),
                },
                other => other.lost(),
            };
            let score = match score {
                Read::Ok(score) => score,
                Read::Gone => continue,
                Read::Denied => {
                    scan.denied += 1;
                    continue;
                }
                Read::Failed(why) => {
                    scan.failed(why);
                    continue;
                }
            };
            scan.scanned += 1;
            let included =
                self.selected_by(self.selection.include.as_ref(), pid, None, false, scan);
            ranked.push(Ranked {
                score,
                pid,
                included,
            });
        }
        ranked.sort_unstable_by(|a, b| b.score.cmp(&a.score).then(a.pid.cmp(&b.pid)));
        Ok(ranked)
    }

    /// Whether `proc` matches `exclude`; when that cannot be told, it is
    /// left out, as asked of its kind.
    fn excluded(&self, proc: &Proc, scan: &mut Scan) -> bool {
        let exclude = self.selection.exclude.as_ref();
        self.selected_by(exclude, proc.pid, Some(&proc.comm), true, scan)
    }

    /// Whether the process matches `re` (none: no); a read that fails
    /// counts as an error and answers `on_failure`; a process gone or
    /// denied does not match.
    fn selected_by(
        &self,
        re: Option<&Regex>,
        pid: u32,
        comm: Option<&str>,
        on_failure: bool,
        scan: &mut Scan,
    ) -> bool {
        let Some(re) = re else { return false };
        match self.matches(re, pid, comm) {
            Read::Ok(matched) => matched,
            Read::Failed(why) => {
                scan.failed(why);
                on_failure
            }
            Read::Gone | Read::Denied => false,
        }
    }

    /// Reads the details of the processes to report, in rank order: the top
    /// N, the included ones, and the next victim.
    fn pick(&self, ranked: &[Ranked], scan: &mut Scan) {
        let sel = &self.selection;
        let includes_total = ranked.iter().filter(|r| r.included).count();
        let (mut by_rank, mut by_include, mut includes_seen) = (0, 0, 0);
        for r in ranked {
            includes_seen += usize::from(r.included);
            let rank_slot = by_rank < sel.top_n;
            let include_slot = r.included && by_include < sel.include_max;
            if !rank_slot && !include_slot && scan.next_victim.is_some() {
                let more_includes = by_include < sel.include_max && includes_seen < includes_total;
                if more_includes {
                    continue;
                }
                break;
            }
            let proc = match self.details(r.pid, r.score, r.included) {
                Read::Ok(Some(p)) => p,
                Read::Ok(None) | Read::Gone => continue,
                Read::Denied => {
                    scan.denied += 1;
                    continue;
                }
                Read::Failed(why) => {
                    scan.failed(why);
                    continue;
                }
            };
            if scan.next_victim.is_none() {
                scan.next_victim = Some(proc.clone());
            }
            if self.excluded(&proc, scan) {
                continue;
            }
            if rank_slot {
                by_rank += 1;
                scan.procs.push(proc);
            } else if include_slot {
                by_include += 1;
                scan.procs.push(proc);
            }
        }
    }

    /// Says, once each, that processes are hidden or unreadable.
    fn warn_once(&self, scan: &Scan) {
        if let Some(option) = &scan.hidden
            && self.said.first("hidden")
        {
            tracing::warn!(
                option = %option,
                procfs = %self.procfs.root().display(),
                "proc is mounted with hidepid: other users' processes are invisible to this exporter; \
                 run it as root or mount proc without hidepid for a complete ranking"
            );
        }
        if scan.denied > 0 && self.said.first("denied") {
            tracing::warn!(
                denied = scan.denied,
                procfs = %self.procfs.root().display(),
                "some processes are unreadable (permission denied, e.g. proc mounted with hidepid); \
                 they are left out; run the exporter as root to see them"
            );
        }
    }

    /// One scan of every process.
    pub fn scan(&self) -> Result<Scan, ReadError> {
        let mut scan = Scan::default();
        let ranked = self.rank(&mut scan)?;
        self.pick(&ranked, &mut scan);
        scan.hidden = self.procfs.hidden_pids();
        self.warn_once(&scan);
        Ok(scan)
    }
}
