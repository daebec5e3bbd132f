//! Reads the host once into a [`Snapshot`]: every file under
//! `--path.procfs` and `--path.sysfs`, and the kernel log at
//! `--path.kmsg`. A part that cannot be read is recorded with the reason;
//! nothing here fails the command.

use std::io::{BufReader, Cursor};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use super::{Cgroup, Kills, Memory, Overcommit, Process, Processes, Snapshot};
use crate::cgroup::{hierarchy, ns::Resolver, sample};
use crate::commands::{Doctor, kills};
use crate::kmsg::{device, logfile};
use crate::parse::meminfo::{self, Value};
use crate::parse::{pressure, sysctl};
use crate::proc::fs::ProcFs;
use crate::proc::scan::{self, Scanner, Selection};
use crate::timefmt::{self, BootTime};

/// Most processes matching `--collector.process.include` looked at (the
/// flag `--collector.process.include-max` allows no more either).
pub const MAX_CRITICAL: usize = 1000;

/// Reads everything the checks need.
pub fn gather(args: &Doctor) -> Snapshot {
    let procfs = ProcFs::new(&args.procfs);
    Snapshot {
        memory: memory(&procfs),
        overcommit: overcommit(&procfs),
        pressure: procfs
            .read(&procfs.pressure("memory"))
            .map(|text| pressure::parse(&text).0)
            .map_err(|e| e.to_string()),
        processes: processes(procfs, args),
        cgroups: cgroups(&args.sysfs),
        kills: kills_in(&args.kmsg),
    }
}

fn memory(procfs: &ProcFs) -> Result<Memory, String> {
    let text = procfs.read(&procfs.meminfo()).map_err(|e| e.to_string())?;
    let (info, _) = meminfo::parse(&text);
    if info.is_empty() {
        return Err(format!(
            "{}: no field could be read",
            procfs.meminfo().display()
        ));
    }
    let get = |key| match info.get(key) {
        Some(Value::Bytes(b)) => Some(b),
        _ => None,
    };
    Ok(Memory {
        total: get("MemTotal"),
        available: get("MemAvailable"),
        swap_total: get("SwapTotal"),
        swap_free: get("SwapFree"),
        committed_as: get("Committed_AS"),
        commit_limit: get("CommitLimit"),
    })
}

fn overcommit(procfs: &ProcFs) -> Result<Overcommit, String> {
    let int = |name: &str| -> Result<i64, String> {
        let path = procfs.sysctl_vm(name);
        let text = procfs.read(&path).map_err(|e| e.to_string())?;
        sysctl::parse_int(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    Ok(Overcommit {
        mode: int("overcommit_memory")?,
        ratio: int("overcommit_ratio").ok(),
        kbytes: int("overcommit_kbytes").ok(),
    })
}

fn process(p: &scan::Proc) -> Process {
    Process {
        pid: p.pid,
        comm: p.comm.clone(),
        oom_score: p.oom_score,
        oom_score_adj: p.oom_score_adj,
        rss_bytes: p.memory.resident,
        cgroup: p.cgroup.clone(),
        critical: p.included,
    }
}

fn processes(procfs: ProcFs, args: &Doctor) -> Result<Processes, String> {
    let selection = Selection {
        top_n: 0,
        include: args.include.clone(),
        exclude: None,
        include_max: MAX_CRITICAL,
    };
    // This command's own command line holds the pattern: it is no critical
    // process. Its pid as the procfs root sees it (none in a fixture tree).
    let me: Option<u32> = std::fs::read_link(procfs.root().join("self"))
        .ok()
        .and_then(|pid| pid.to_str()?.parse().ok());
    let scanner = Scanner::new(procfs, selection, Resolver::on_host(&args.sysfs));
    let scan = scanner.scan().map_err(|e| e.to_string())?;
    Ok(Processes {
        include: args.include.as_ref().map(|re| re.as_str().to_owned()),
        critical: scan
            .procs
            .iter()
            .filter(|p| p.included && Some(p.pid) != me)
            .map(process)
            .collect(),
        next_victim: scan.next_victim.as_ref().map(process),
        denied: scan.denied,
        errors: scan.errors,
        hidden: scan.hidden,
    })
}

fn cgroups(sysfs: &Path) -> Result<Vec<Cgroup>, String> {
    let Some(h) = hierarchy::detect(sysfs) else {
        return Err(format!(
            "no memory cgroup hierarchy under {}/fs/cgroup",
            sysfs.display()
        ));
    };
    Ok(hierarchy::walk(&h)
        .into_iter()
        .filter_map(|path| {
            let s = sample::read(&h, &path)?;
            Some(Cgroup {
                path,
                usage: s.usage,
                limit: s.limit,
            })
        })
        .collect())
}

/// The kills at `kmsg`: the kernel's log device read once, or a saved log
/// given in its place (streamed; its stamps are left as they are).
fn kills_in(kmsg: &Path) -> Result<Kills, String> {
    let meta = std::fs::metadata(kmsg);
    let mut found = Kills::default();
    let keep = |kill| {
        found.count += 1;
        found.last = Some(kill);
        Ok(())
    };
    let name = kmsg.display();
    if meta.as_ref().is_ok_and(|m| m.is_file()) {
        let file = std::fs::File::open(kmsg).map_err(|e| format!("open {name}: {e}"))?;
        let log = logfile::decode(file).map_err(|e| format!("read {name}: {e}"))?;
        kills::scan(BufReader::new(log), keep).map_err(|e| format!("read {name}: {e}"))?;
        return Ok(found);
    }
    let log = device::read_once(kmsg).map_err(|e| e.to_string())?;
    kills::scan(Cursor::new(log), keep).map_err(|e| format!("read {name}: {e}"))?;
    if meta.is_ok_and(|m| m.file_type().is_char_device())
        && let Some(last) = &mut found.last
    {
        let wall = last
            .boot_usec
            .and_then(|u| BootTime::read().wall_usec(u, timefmt::uptime_usec()));
        last.time = wall.map(timefmt::rfc3339_usec);
    }
    Ok(found)
}
