//! The kernel as a shared resource: one test at a time for OOM kills and
//! kernel log floods, and sysctls set for the length of a test.

use std::sync::Mutex;

/// Serialises the tests that cause OOM kills, flood the kernel log, or
/// assert kill counts that a concurrent kill would change.
pub fn kernel_lock() -> std::sync::MutexGuard<'static, ()> {
    static KERNEL: Mutex<()> = Mutex::new(());
    KERNEL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A sysctl under `/proc/sys` set for a test; the old value comes back on
/// drop, also when the test fails.
pub struct Sysctl {
    path: String,
    old: String,
}

impl Sysctl {
    /// Sets `name` (e.g. `kernel/dmesg_restrict`) to `value`.
    pub fn set(name: &str, value: &str) -> Self {
        let path = format!("/proc/sys/{name}");
        let old = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        std::fs::write(&path, value).unwrap_or_else(|e| panic!("{path}: {e}"));
        Self { path, old }
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, self.old.trim());
    }
}

/// Writes one record to `/dev/kmsg` (a fresh open per record: writes are
/// rate-limited per open file).
pub fn write_kmsg(record: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .unwrap()
        .write_all(format!("{record}\n").as_bytes())
        .unwrap();
}
