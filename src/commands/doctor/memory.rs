//! The host-wide checks: swap, overcommit and commit headroom,
//! MemAvailable, memory pressure (PSI).

use serde_json::json;

use super::{Check, Memory, Overcommit, percent, size};
use crate::parse::pressure::Pressure;

/// Swap more than this share used is nearly full: what is left cannot
/// absorb the next burst of anonymous memory, which then goes to the OOM
/// killer instead of to disk.
pub const SWAP_NEARLY_FULL: f64 = 0.90;

/// With `vm.overcommit_memory=2`, Committed_AS above this share of
/// CommitLimit warns: past CommitLimit, `malloc`, `mmap` and `fork` fail
/// with ENOMEM, so a tenth of headroom is little.
pub const COMMIT_NEARLY_FULL: f64 = 0.90;

/// MemAvailable below this share of MemTotal warns: the kernel is
/// reclaiming hard and one burst away from the OOM killer (earlyoom acts
/// at the same 10 % by default).
pub const AVAILABLE_LOW: f64 = 0.10;

/// PSI memory `some` (avg10 or avg60) at or above this percentage warns:
/// tasks wait for memory a tenth of the time, reclaim is already slowing
/// the workload down.
pub const PSI_SOME_HIGH: f64 = 10.0;

/// PSI memory `full` (avg10 or avg60) at or above this percentage warns:
/// every runnable task stalled on memory at once for a twentieth of the
/// time, the thrashing that precedes an OOM kill.
pub const PSI_FULL_HIGH: f64 = 5.0;

/// A check that could not run because `/proc/meminfo` is unreadable.
fn no_meminfo(name: &'static str, why: &str) -> Check {
    Check::warn(name, format!("cannot tell: {why}"), json!({ "error": why }))
}

/// No swap, or swap nearly full.
pub fn swap(memory: &Result<Memory, String>) -> Check {
    const NAME: &str = "swap";
    let m = match memory {
        Ok(m) => m,
        Err(why) => return no_meminfo(NAME, why),
    };
    let (Some(total), Some(free)) = (m.swap_total, m.swap_free) else {
        return no_meminfo(NAME, "SwapTotal or SwapFree missing from meminfo");
    };
    let used = total.saturating_sub(free);
    let evidence = json!({
        "swap_total_bytes": total,
        "swap_free_bytes": free,
        "swap_used_ratio": if total == 0 { 0.0 } else { used as f64 / total as f64 },
        "threshold_ratio": SWAP_NEARLY_FULL,
    });
    if total == 0 {
        return Check::warn(
            NAME,
            "no swap configured: anonymous memory cannot be paged out, so the OOM killer is the first response to a shortage".to_owned(),
            evidence,
        );
    }
    let full = used as f64 > total as f64 * SWAP_NEARLY_FULL;
    Check::new(
        NAME,
        full,
        format!(
            "{} of {} swap used ({:.0}%{}), {} free",
            size(used),
            size(total),
            percent(used, total),
            if full {
                format!(", above {:.0}%: nearly full", SWAP_NEARLY_FULL * 100.0)
            } else {
                String::new()
            },
            size(free)
        ),
        evidence,
    )
}

/// The name of an overcommit mode.
fn mode_name(mode: i64) -> &'static str {
    match mode {
        0 => "heuristic",
        1 => "always",
        2 => "never",
        _ => "unknown",
    }
}

/// `vm.overcommit_memory` and the commit headroom.
pub fn overcommit(memory: &Result<Memory, String>, oc: &Result<Overcommit, String>) -> Check {
    const NAME: &str = "overcommit";
    let oc = match oc {
        Ok(oc) => oc,
        Err(why) => return no_meminfo(NAME, why),
    };
    let m = match memory {
        Ok(m) => m,
        Err(why) => return no_meminfo(NAME, why),
    };
    let (Some(committed), Some(limit)) = (m.committed_as, m.commit_limit) else {
        return no_meminfo(NAME, "Committed_AS or CommitLimit missing from meminfo");
    };
    let ram_swap = m.total.unwrap_or(0) + m.swap_total.unwrap_or(0);
    let evidence = json!({
        "overcommit_memory": oc.mode,
        "overcommit_ratio": oc.ratio,
        "overcommit_kbytes": oc.kbytes,
        "committed_as_bytes": committed,
        "commit_limit_bytes": limit,
        "commit_limit_enforced": oc.mode == 2,
        "mem_and_swap_bytes": ram_swap,
        "threshold_ratio": COMMIT_NEARLY_FULL,
    });
    let head = format!("vm.overcommit_memory={} ({})", oc.mode, mode_name(oc.mode));
    match oc.mode {
        2 => {
            let full = committed as f64 > limit as f64 * COMMIT_NEARLY_FULL;
            Check::new(
                NAME,
                full,
                format!(
                    "{head}: Committed_AS {} of CommitLimit {} ({:.0}%), headroom {}{}",
                    size(committed),
                    size(limit),
                    percent(committed, limit),
                    size(limit.saturating_sub(committed)),
                    if full {
                        "; allocations fail with ENOMEM past CommitLimit"
                    } else {
                        ""
                    }
                ),
                evidence,
            )
        }
        0 | 1 => {
            let over = committed > ram_swap;
            Check::new(
                NAME,
                over,
                format!(
                    "{head}: CommitLimit ({}) is not enforced in this mode; Committed_AS {} is {:.0}% of RAM+swap {}{}",
                    size(limit),
                    size(committed),
                    percent(committed, ram_swap),
                    size(ram_swap),
                    if over {
                        ": more is promised than exists, the OOM killer settles the difference if it is used"
                    } else {
                        ""
                    }
                ),
                evidence,
            )
        }
        _ => Check::warn(
            NAME,
            format!("{head}: not a mode the kernel knows"),
            evidence,
        ),
    }
}

/// MemAvailable against MemTotal.
pub fn available(memory: &Result<Memory, String>) -> Check {
    const NAME: &str = "memory_available";
    let m = match memory {
        Ok(m) => m,
        Err(why) => return no_meminfo(NAME, why),
    };
    let (Some(total), Some(available)) = (m.total, m.available) else {
        return no_meminfo(
            NAME,
            "MemTotal or MemAvailable missing from meminfo (MemAvailable needs 3.14+)",
        );
    };
    let low = (available as f64) < total as f64 * AVAILABLE_LOW;
    Check::new(
        NAME,
        low,
        format!(
            "MemAvailable {} of MemTotal {} ({:.0}%{})",
            size(available),
            size(total),
            percent(available, total),
            if low {
                format!(", below {:.0}%", AVAILABLE_LOW * 100.0)
            } else {
                String::new()
            }
        ),
        json!({
            "mem_available_bytes": available,
            "mem_total_bytes": total,
            "threshold_ratio": AVAILABLE_LOW,
        }),
    )
}

/// Memory pressure now; missing PSI is a note, not a warning.
pub fn pressure(psi: &Result<Pressure, String>) -> Check {
    const NAME: &str = "memory_pressure";
    let p = match psi {
        Ok(p) => p,
        Err(why) => {
            return Check::ok(
                NAME,
                format!("note: no PSI ({why}; needs 4.20+ and not psi=0): pressure not checked"),
                json!({ "available": false, "error": why }),
            );
        }
    };
    let avg = |r: Option<crate::parse::pressure::Record>| r.map(|r| (r.avg10, r.avg60));
    let (some, full) = (avg(p.some), avg(p.full));
    let high = |v: Option<(f64, f64)>, limit: f64| v.is_some_and(|(a, b)| a >= limit || b >= limit);
    let warn = high(some, PSI_SOME_HIGH) || high(full, PSI_FULL_HIGH);
    let show = |v: Option<(f64, f64)>| {
        v.map_or("-".to_owned(), |(a, b)| {
            format!("avg10={a:.2} avg60={b:.2}")
        })
    };
    Check::new(
        NAME,
        warn,
        format!(
            "PSI memory some {} full {} (warn at some >= {PSI_SOME_HIGH}% or full >= {PSI_FULL_HIGH}%)",
            show(some),
            show(full)
        ),
        json!({
            "available": true,
            "some_avg10": some.map(|v| v.0),
            "some_avg60": some.map(|v| v.1),
            "full_avg10": full.map(|v| v.0),
            "full_avg60": full.map(|v| v.1),
            "some_threshold_percent": PSI_SOME_HIGH,
            "full_threshold_percent": PSI_FULL_HIGH,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::parse::pressure::Record;

    const GIB: u64 = 1 << 30;

    fn mem(total: u64, available: u64, swap_total: u64, swap_free: u64) -> Memory {
        Memory {
            total: Some(total),
            available: Some(available),
            swap_total: Some(swap_total),
            swap_free: Some(swap_free),
            committed_as: Some(4 * GIB),
            commit_limit: Some(6 * GIB),
        }
    }

    #[test]
    fn swap_ok_none_and_nearly_full() {
        let c = swap(&Ok(mem(8 * GIB, 4 * GIB, 2 * GIB, GIB)));
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert_eq!(
            c.summary,
            "1.0 GiB of 2.0 GiB swap used (50%), 1.0 GiB free"
        );
        let c = swap(&Ok(mem(8 * GIB, 4 * GIB, 0, 0)));
        assert_eq!(c.status, Status::Warn);
        assert!(c.summary.starts_with("no swap configured"), "{c:?}");
        let c = swap(&Ok(mem(8 * GIB, 4 * GIB, 10 * GIB, GIB / 2)));
        assert_eq!(c.status, Status::Warn);
        assert!(c.summary.contains("(95%, above 90%: nearly full)"), "{c:?}");
        assert_eq!(c.evidence["swap_free_bytes"], GIB / 2);
        let c = swap(&Err("/proc/meminfo: no such file".into()));
        assert_eq!(c.status, Status::Warn);
    }

    #[test]
    fn overcommit_modes() {
        let oc = |mode| {
            Ok(Overcommit {
                mode,
                ratio: Some(50),
                kbytes: Some(0),
            })
        };
        // Mode 2: CommitLimit is the wall.
        let mut m = mem(8 * GIB, 4 * GIB, 2 * GIB, GIB);
        let c = overcommit(&Ok(m), &oc(2));
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(
            c.summary
                .contains("Committed_AS 4.0 GiB of CommitLimit 6.0 GiB (67%), headroom 2.0 GiB"),
            "{c:?}"
        );
        m.committed_as = Some(5880 << 20);
        let c = overcommit(&Ok(m), &oc(2));
        assert_eq!(c.status, Status::Warn, "{c:?}");
        assert!(c.summary.contains("ENOMEM"));
        // Modes 0 and 1: CommitLimit is irrelevant; RAM+swap is the story.
        let c = overcommit(&Ok(m), &oc(0));
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(c.summary.contains("is not enforced in this mode"), "{c:?}");
        assert_eq!(c.evidence["commit_limit_enforced"], false);
        m.committed_as = Some(11 * GIB);
        let c = overcommit(&Ok(m), &oc(1));
        assert_eq!(c.status, Status::Warn, "{c:?}");
        assert!(c.summary.starts_with("vm.overcommit_memory=1 (always)"));
        assert!(c.summary.contains("more is promised than exists"));
        assert_eq!(overcommit(&Ok(m), &oc(7)).status, Status::Warn);
        assert_eq!(overcommit(&Ok(m), &Err("x".into())).status, Status::Warn);
    }

    #[test]
    fn available_ok_and_low() {
        let c = available(&Ok(mem(10 * GIB, 2 * GIB, 0, 0)));
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert_eq!(c.summary, "MemAvailable 2.0 GiB of MemTotal 10.0 GiB (20%)");
        let c = available(&Ok(mem(10 * GIB, GIB / 2, 0, 0)));
        assert_eq!(c.status, Status::Warn, "{c:?}");
        assert!(c.summary.ends_with("(5%, below 10%)"), "{c:?}");
        let mut m = mem(10 * GIB, GIB, 0, 0);
        m.available = None;
        assert_eq!(available(&Ok(m)).status, Status::Warn);
    }

    fn record(avg10: f64, avg60: f64) -> Option<Record> {
        Some(Record {
            avg10,
            avg60,
            avg300: 0.0,
            total_us: 0,
        })
    }

    #[test]
    fn pressure_ok_high_and_missing() {
        let calm = Pressure {
            some: record(0.5, 1.0),
            full: record(0.0, 0.1),
        };
        let c = pressure(&Ok(calm));
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(
            c.summary
                .starts_with("PSI memory some avg10=0.50 avg60=1.00 full avg10=0.00 avg60=0.10"),
            "{c:?}"
        );
        let some = Pressure {
            some: record(2.0, 12.5),
            full: record(0.0, 0.0),
        };
        assert_eq!(pressure(&Ok(some)).status, Status::Warn);
        let full = Pressure {
            some: record(6.0, 6.0),
            full: record(5.0, 1.0),
        };
        let c = pressure(&Ok(full));
        assert_eq!(c.status, Status::Warn);
        assert_eq!(c.evidence["full_avg10"], 5.0);
        let c = pressure(&Err("/proc/pressure/memory: no such file".into()));
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(c.summary.starts_with("note: no PSI"));
        assert_eq!(c.evidence["available"], false);
    }
}
