//! OOM kills from the kernel log.
//!
//! - [`record`]: one raw `/dev/kmsg` record and the kernel's `\xNN` escaping
//! - [`input`]: the forms users paste logs in (dmesg, syslog, journal), reduced to lines
//! - [`logfile`]: a saved log as a stream of bounded lines, gzip decompressed
//! - [`oom`]: the OOM report parser: lines in, kills out
//!   - [`oom::lines`]: each report line recognised on its own (header, summary,
//!     `Task in`, `Kill process`, `Killed process`, memory.oom.group)
//!   - [`oom::report`]: the report's other parts (trigger, memory cgroup
//!     counters, swap, task dump), each line on its own
//!     (`report/dump.rs`: the task dump, top rows only; `report/stats.rs`:
//!     Mem-Info and `memory.stat`)
//!   - [`oom::parser`]: the event joiner: report lines in log order, a kill out
//!     for every `Killed process` line, with its event's context
//! - [`attribution`]: which cgroups a report names, safe against cgroups named like report text
//! - [`hierarchy`]: checks a report's candidate cgroups against the live memory cgroup hierarchy
//! - [`tracker`]: counts, victims and history shared with the scrape and `/kills`
//! - [`device`]: the kernel's log device read through rmesg, its failures as typed errors
//! - [`reader`]: the background thread tailing /dev/kmsg
//! - [`kill_log`]: the structured log line written for each kill
//!
//! Unit tests that outgrew their file live next to it in a `tests.rs`
//! (`oom/` also keeps its cgroup-spoofing cases in `spoofing_tests.rs`).

pub mod attribution;
pub mod device;
pub mod hierarchy;
pub mod input;
pub mod kill_log;
pub mod logfile;
pub mod oom;
pub mod reader;
pub mod record;
pub mod tracker;
