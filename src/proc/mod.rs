//! Processes under `--path.procfs`.
//!
//! - [`fs`]: builds every path under the procfs root and reads it, capped
//! - [`scan`]: the per-process scan: top N by oom_score plus included processes
//! - [`singleflight`]: one scan shared by scrapes that arrive together ([`singleflight::SharedScanner`])

pub mod fs;
pub mod scan;
pub mod singleflight;
