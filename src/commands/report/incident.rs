//! The other kills of a kill's incident: the same limit, close in time.
//! Time is the boot-relative stamp when both kills have one, else the
//! wall-clock time the log gives (syslog, the journal, `dmesg -T`).

use super::INCIDENT_USEC;
use crate::kmsg::oom::Kill;

/// The other kills of `kill`'s incident among `kills`: the same cgroup
/// whose limit was hit (or both global), stamped within [`INCIDENT_USEC`]
/// of it, by boot-relative stamp, or when neither has one by the wall
/// clock time the log gives. Kills without either are never joined.
pub fn incident<'a>(kill: &Kill, kills: impl IntoIterator<Item = &'a Kill>) -> Vec<&'a Kill> {
    let at = When::of(kill);
    if at.is_none() {
        return Vec::new();
    }
    kills
        .into_iter()
        .filter(|o| !std::ptr::eq(*o, kill) && (o.seq.is_none() || o.seq != kill.seq))
        .filter(|o| o.constraint == kill.constraint && o.oom_memcg == kill.oom_memcg)
        .filter(|o| at.near(&When::of(o)))
        .filter(|o| !(o.pid == kill.pid && o.boot_usec == kill.boot_usec))
        .collect()
}

/// When a kill happened, as the log tells it.
#[derive(Debug, PartialEq, Eq)]
enum When {
    /// Microseconds since boot.
    Boot(u64),
    /// A wall-clock time: the date as printed (compared as text, for a
    /// log prints every line's date the same way) and the second of it.
    Wall(String, u64),
    None,
}

impl When {
    fn of(kill: &Kill) -> Self {
        if let Some(usec) = kill.boot_usec {
            return Self::Boot(usec);
        }
        let time = kill.time.as_deref().or(kill.log_time.as_deref());
        time.and_then(wall)
            .map_or(Self::None, |(d, s)| Self::Wall(d, s))
    }

    fn is_none(&self) -> bool {
        *self == Self::None
    }

    fn near(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Boot(a), Self::Boot(b)) => a.abs_diff(*b) <= INCIDENT_USEC,
            (Self::Wall(d, a), Self::Wall(e, b)) => {
                d == e && a.abs_diff(*b) <= INCIDENT_USEC / 1_000_000
            }
            _ => false,
        }
    }
}

/// The date and the second of day of a time as a log prints it: RFC 3339
/// (`2025-06-24T18:49:43.123+00:00`), BSD syslog (`Sep 29 08:12:34`) or
/// `dmesg -T` in any locale (`Tue Sep  3 05:57:48 2024`): the word with
/// two colons is the time of day, the rest is the date.
fn wall(time: &str) -> Option<(String, u64)> {
    let (date, clock) = match time.split_once('T') {
        Some((date, rest)) if date.len() == 10 && date.as_bytes()[4] == b'-' => {
            (date.to_owned(), rest.get(..8)?)
        }
        _ => {
            let words: Vec<&str> = time.split_whitespace().collect();
            let at = words.iter().position(|w| w.matches(':').count() == 2)?;
            let mut date = words.clone();
            let clock = date.remove(at);
            (date.join(" "), clock)
        }
    };
    let mut parts = clock.splitn(3, ':');
    let mut next = || -> Option<u64> { parts.next()?.get(..2)?.parse().ok() };
    let (h, m, s) = (next()?, next()?, next()?);
    (h < 24 && m < 60 && s < 61).then_some((date, h * 3600 + m * 60 + s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_times_in_the_forms_logs_print() {
        assert_eq!(
            wall("2025-06-24T18:49:43.123+00:00"),
            Some(("2025-06-24".to_owned(), 67_783))
        );
        assert_eq!(wall("Sep 29 08:12:34"), Some(("Sep 29".to_owned(), 29_554)));
        assert_eq!(
            wall("Tue Sep  3 05:57:48 2024"),
            Some(("Tue Sep 3 2024".to_owned(), 21_468))
        );
        assert_eq!(wall("Di 3. Sep 05:57:48 2024").map(|w| w.1), Some(21_468));
        assert_eq!(wall("no time"), None);
    }
}
