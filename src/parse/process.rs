//! Per-process files: `oom_score`, `oom_score_adj`, `comm`, `status` (memory
//! lines) and `cgroup` (the memory cgroup).
//!
//! `status` and `cgroup` go through procfs-core's parsers after a lossy
//! UTF-8 conversion: a comm with invalid UTF-8 appears in `status` and
//! would otherwise make the whole file unreadable.

use std::io::Cursor;

use procfs_core::FromBufRead;
use procfs_core::ProcessCGroups;
use procfs_core::process::Status;

/// Why a per-process file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadFile(pub String);

/// `oom_score`: 0 to 2000 (0 to 1000 before 4.19 counted differently).
pub fn oom_score(text: &str) -> Result<u32, BadFile> {
    text.trim()
        .parse()
        .map_err(|_| BadFile(format!("oom_score: {:?}", text.trim())))
}

/// `oom_score_adj`: -1000 to 1000.
pub fn oom_score_adj(text: &str) -> Result<i32, BadFile> {
    text.trim()
        .parse()
        .ok()
        .filter(|v: &i32| (-1000..=1000).contains(v))
        .ok_or_else(|| BadFile(format!("oom_score_adj: {:?}", text.trim())))
}

/// `comm` as a label-safe string: the trailing newline removed, invalid
/// UTF-8 replaced. Spaces, quotes, backslashes and newlines are kept; the
/// encoder escapes them.
pub fn comm(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// Memory of one process from `status`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// VmRSS
    pub resident: u64,
    /// RssAnon (4.5+)
    pub anon: Option<u64>,
    /// RssFile (4.5+)
    pub file: Option<u64>,
    /// RssShmem (4.5+)
    pub shmem: Option<u64>,
    /// VmSwap
    pub swap: Option<u64>,
}

/// The memory lines of `status`; `Ok(None)` for a kernel thread (no `VmRSS`).
pub fn status_memory(bytes: &[u8]) -> Result<Option<Memory>, BadFile> {
    let text = String::from_utf8_lossy(bytes);
    let status = Status::from_buf_read(Cursor::new(text.as_bytes()))
        .map_err(|e| BadFile(format!("status: {e}")))?;
    let kib = |v: Option<u64>| v.map(|kb| kb.saturating_mul(1024));
    Ok(status.vmrss.map(|rss| Memory {
        resident: rss.saturating_mul(1024),
        anon: kib(status.rssanon),
        file: kib(status.rssfile),
        shmem: kib(status.rssshmem),
        swap: kib(status.vmswap),
    }))
}

/// The process's memory cgroup from `cgroup`: the v1 `memory` hierarchy if
/// mounted, else the v2 unified path (`0::/...`).
pub fn memory_cgroup(bytes: &[u8]) -> Result<Option<String>, BadFile> {
    let text = String::from_utf8_lossy(bytes);
    let groups = ProcessCGroups::from_buf_read(Cursor::new(text.as_bytes()))
        .map_err(|e| BadFile(format!("cgroup: {e}")))?;
    let mut unified = None;
    for g in groups {
        if g.controllers.iter().any(|c| c == "memory") {
            return Ok(Some(g.pathname));
        }
        if g.hierarchy == 0 && g.controllers.is_empty() {
            unified = Some(g.pathname);
        }
    }
    Ok(unified)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tsh\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t10\nNgid:\t0\nPid:\t10\nPPid:\t1\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t64\nGroups:\t \nVmRSS:\t    1536 kB\nRssAnon:\t     256 kB\nRssFile:\t    1280 kB\nRssShmem:\t       0 kB\nVmSwap:\t       8 kB\nThreads:\t1\nSigQ:\t0/95829\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000010002\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n";

    #[test]
    fn scores() {
        assert_eq!(oom_score("666\n"), Ok(666));
        assert_eq!(oom_score_adj("-1000\n"), Ok(-1000));
        assert!(oom_score_adj("1001\n").is_err());
        assert!(oom_score("").is_err());
    }

    #[test]
    fn odd_comms_stay_valid() {
        assert_eq!(comm(b"a b\"c\\d\n"), "a b\"c\\d");
        assert_eq!(comm(b"new\nline\n"), "new\nline");
        assert_eq!(comm(b"bad\xff\n"), "bad\u{fffd}");
    }

    #[test]
    fn status_memory_and_kernel_threads() {
        let m = status_memory(STATUS.as_bytes()).unwrap().unwrap();
        assert_eq!(m.resident, 1536 * 1024);
        assert_eq!(
            (m.anon, m.file, m.shmem, m.swap),
            (Some(256 * 1024), Some(1280 * 1024), Some(0), Some(8192))
        );
        let kthread: String = STATUS
            .lines()
            .filter(|l| !l.starts_with("Vm") && !l.starts_with("Rss"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(status_memory(kthread.as_bytes()), Ok(None));
        // A comm with invalid UTF-8 in Name: must not hide the memory lines.
        let odd = STATUS.replace("Name:\tsh", "Name:\tbad\u{0}").into_bytes();
        let mut odd = odd;
        odd[6] = 0xff;
        assert_eq!(status_memory(&odd).unwrap().unwrap().resident, 1536 * 1024);
    }

    #[test]
    fn cgroup_v1_memory_then_v2() {
        let hybrid = "12:memory:/oomx\n11:cpu,cpuacct:/\n0::/user.slice\n";
        assert_eq!(
            memory_cgroup(hybrid.as_bytes()),
            Ok(Some("/oomx".to_owned()))
        );
        let v2 = "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope\n";
        assert_eq!(
            memory_cgroup(v2.as_bytes()).unwrap().as_deref(),
            Some("/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope")
        );
    }
}
