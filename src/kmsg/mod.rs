//! OOM kills from the kernel log.
//!
//! - [`record`]: one raw `/dev/kmsg` record and the kernel's `\xNN` escaping
//! - [`input`]: the forms users paste logs in (dmesg, syslog, journal), reduced to lines
//! - [`oom`]: the OOM report parser: lines in, kills out

pub mod input;
pub mod oom;
pub mod record;
