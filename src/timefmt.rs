//! Wall-clock times as RFC 3339 strings (UTC, to the microsecond, written
//! by humantime), and the one place where a kernel log's boot-relative stamp
//! becomes a wall-clock time: [`BootTime`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::time::{ClockId, clock_gettime};

/// Clock reads taken to find the boot time; the one with the smallest gap
/// between its two wall-clock reads is kept.
const BOOT_READS: usize = 16;

/// A stamp may run this far past the uptime and still be from this boot:
/// the kernel log's clock and CLOCK_BOOTTIME are different clocks.
const UPTIME_SLACK_USEC: u64 = 5_000_000;

/// When this boot started on the wall clock, in microseconds since the
/// epoch: CLOCK_REALTIME minus CLOCK_BOOTTIME, read together. Derived once
/// per process (or reader session) and passed to whatever turns a kernel
/// log stamp into a time, so every view gives a kill the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootTime {
    epoch_usec: i64,
}

impl BootTime {
    /// A boot time given in microseconds since the epoch.
    pub fn from_epoch_usec(epoch_usec: i64) -> Self {
        Self { epoch_usec }
    }

    /// Reads the clocks: realtime, boottime, realtime, a few times; the
    /// read whose two realtime values are closest brackets the boottime
    /// read best, and its midpoint minus boottime is the boot time.
    pub fn read() -> Self {
        Self::from_reads((0..BOOT_READS).map(|_| {
            let before = nanos(ClockId::Realtime);
            let boot = nanos(ClockId::Boottime);
            let after = nanos(ClockId::Realtime);
            (before, boot, after)
        }))
    }

    /// The boot time from `(realtime, boottime, realtime)` reads, in ns.
    fn from_reads(reads: impl Iterator<Item = (i128, i128, i128)>) -> Self {
        let best = reads.min_by_key(|&(before, _, after)| (after - before).abs());
        let offset_ns = best.map_or(0, |(before, boot, after)| (before + after) / 2 - boot);
        // Kept to the millisecond: two processes reading the clocks a few
        // tens of ns apart then agree unless the offset lies within those ns
        // of a rounding boundary (about 1 in 50,000; to the microsecond it
        // was about 1 in 50), so `kills` and the exporter give a kill the
        // same time. The offset itself only moves when the wall clock is
        // stepped (NTP slews both clocks alike).
        Self {
            epoch_usec: i64::try_from(div_round(offset_ns, 1_000_000) * 1000).unwrap_or(0),
        }
    }

    /// Microseconds since the epoch.
    pub fn epoch_usec(self) -> i64 {
        self.epoch_usec
    }

    /// The wall-clock time (µs since the epoch) of a boot-relative stamp,
    /// or `None` when the stamp lies beyond `uptime_usec` (the time since
    /// boot now): such a stamp is from another boot, and this boot's clock
    /// would date it in the future.
    pub fn wall_usec(self, stamp_usec: u64, uptime_usec: u64) -> Option<i64> {
        if stamp_usec > uptime_usec.saturating_add(UPTIME_SLACK_USEC) {
            return None;
        }
        self.epoch_usec.checked_add(i64::try_from(stamp_usec).ok()?)
    }
}

/// Microseconds since boot now (CLOCK_BOOTTIME, which /proc/uptime shows).
pub fn uptime_usec() -> u64 {
    u64::try_from(nanos(ClockId::Boottime) / 1000).unwrap_or(0)
}

fn nanos(clock: ClockId) -> i128 {
    let t = clock_gettime(clock);
    i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec)
}

/// `n / d` rounded to the nearest integer, halves away from zero.
fn div_round(n: i128, d: i128) -> i128 {
    if n >= 0 {
        (n + d / 2) / d
    } else {
        (n - d / 2) / d
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Microseconds since the epoch that RFC 3339 (and humantime) can write:
/// 1970 up to the end of year 9999.
const RFC3339_USEC: std::ops::Range<i64> = 0..253_402_300_800_000_000;

/// `2026-11-25T22:27:33.123456Z` for `epoch` seconds (UTC, microseconds).
pub fn rfc3339(epoch: f64) -> String {
    rfc3339_usec((epoch * 1e6).round() as i64)
}

/// `2026-11-25T22:27:33.123456Z` for `micros_total` µs since the epoch.
/// A time before 1970 or after 9999 (a certificate's odd expiry, never a
/// kill) is written as seconds since the epoch instead: `@-1.000000`.
pub fn rfc3339_usec(micros_total: i64) -> String {
    if !RFC3339_USEC.contains(&micros_total) {
        let sign = if micros_total < 0 { "-" } else { "" };
        let abs = micros_total.unsigned_abs();
        return format!("@{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000);
    }
    let since_epoch = Duration::from_micros(micros_total.unsigned_abs());
    humantime::format_rfc3339_micros(UNIX_EPOCH + since_epoch).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(951_782_400.5), "2000-02-29T00:00:00.500000Z");
        assert_eq!(rfc3339(1_795_991_253.0), "2026-11-29T22:27:33.000000Z");
        assert_eq!(
            rfc3339_usec(1_795_991_253_677_080),
            "2026-11-29T22:27:33.677080Z"
        );
        assert_eq!(rfc3339(-0.0000001), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_usec(253_402_300_799_999_999),
            "9999-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn times_rfc3339_cannot_write_are_seconds_since_the_epoch() {
        assert_eq!(rfc3339_usec(-1), "@-0.000001");
        assert_eq!(rfc3339(-315_619_200.5), "@-315619200.500000");
        assert_eq!(
            rfc3339_usec(253_402_300_800_000_000),
            "@253402300800.000000"
        );
        assert_eq!(rfc3339_usec(i64::MIN), "@-9223372036854.775808");
        assert_eq!(rfc3339(f64::NAN), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn boot_time_from_the_tightest_read() {
        let boot = BootTime::from_reads(
            [
                // A read interrupted between its clock reads: 40 ms gap.
                (1_000_040_000_000, 500_000_000, 1_000_080_000_000),
                // 60 ns gap: realtime 1000.0005 s at boottime 0.5 s.
                (1_000_500_000_970, 500_000_000, 1_000_500_001_030),
            ]
            .into_iter(),
        );
        // 1000.000000001 s, kept to the millisecond.
        assert_eq!(boot.epoch_usec(), 1_000_000_000);
    }

    #[test]
    fn boot_time_from_the_clocks_matches_uptime() {
        let boot = BootTime::read();
        let up = uptime_usec();
        let wall = boot.wall_usec(up, up).unwrap_or(0);
        let now = (now_epoch() * 1e6) as i64;
        assert!((now - wall).abs() < 1_000_000, "{wall} vs {now}");
        // Reading again gives the same boot time (a millisecond off only
        // where the offset lies within a few ns of a rounding boundary).
        let again = BootTime::read().epoch_usec() - boot.epoch_usec();
        assert!(again == 0 || again.abs() == 1000, "{again}");
    }

    #[test]
    fn stamps_past_the_uptime_get_no_wall_clock() {
        let boot = BootTime::from_epoch_usec(1_700_000_000_000_000);
        let up = 3_600_000_000;
        assert_eq!(boot.wall_usec(1_000_000, up), Some(1_700_000_001_000_000));
        assert_eq!(boot.wall_usec(up + 1, up), Some(1_700_003_600_000_001));
        assert_eq!(boot.wall_usec(up + 3_600_000_000, up), None);
        assert_eq!(boot.wall_usec(u64::MAX, up), None);
    }
}
