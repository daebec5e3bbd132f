//! `/proc/vmstat`: one `name value` pair per line. Most values are event
//! counters since boot; a few `nr_*` gauges can be momentarily negative, so
//! values are signed.

use std::collections::HashMap;

use super::LineError;

/// Parsed `/proc/vmstat`.
#[derive(Debug, Default)]
pub struct Vmstat<'a> {
    fields: HashMap<&'a str, i64>,
}

impl Vmstat<'_> {
    /// The value of `key`, if the kernel printed it.
    pub fn get(&self, key: &str) -> Option<i64> {
        self.fields.get(key).copied()
    }

    /// The sum of every field whose name starts with `prefix`, or `None` when
    /// there is none (e.g. `allocstall` before 4.8, `allocstall_<zone>` after).
    pub fn sum_prefixed(&self, prefix: &str) -> Option<i64> {
        self.fields
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| *v)
            .reduce(|a, b| a.saturating_add(b))
    }
}

/// Parses the text of `/proc/vmstat`, returning the lines it could not read.
pub fn parse(text: &str) -> (Vmstat<'_>, Vec<LineError>) {
    let mut stat = Vmstat::default();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let parsed = match (words.next(), words.next(), words.next()) {
            (Some(key), Some(value), None) => value
                .parse::<i64>()
                .map(|v| (key, v))
                .map_err(|_| "value is not an integer"),
            _ => Err("expected `name value`"),
        };
        match parsed {
            Ok((key, value)) => {
                stat.fields.insert(key, value);
            }
            Err(reason) => errors.push(LineError::new(i, line, reason)),
        }
    }
    (stat, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE_6_18: &str = include_str!("../../tests/fixtures/proc/linux-6.18-psi-zswap/vmstat");
    const OLD_4_X: &str = include_str!("../../tests/fixtures/proc/linux-4.x-no-psi/vmstat");
    const SWAP_IN_USE: &str =
        include_str!("../../tests/fixtures/proc/linux-6.18-swap-in-use/vmstat");

    #[test]
    fn pairs_and_errors() {
        let (stat, errors) = parse("oom_kill 3\nnr_zone_write_pending -1\npswpin x\nlonely\n");
        assert_eq!(stat.get("oom_kill"), Some(3));
        assert_eq!(stat.get("nr_zone_write_pending"), Some(-1));
        assert_eq!(stat.get("pswpin"), None);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line_no, 3);
    }

    #[test]
    fn sum_prefixed_adds_zones() {
        let (stat, _) = parse("allocstall_dma 1\nallocstall_normal 4\nallocstall_movable 2\n");
        assert_eq!(stat.sum_prefixed("allocstall"), Some(7));
        assert_eq!(stat.sum_prefixed("compact_stall"), None);
    }

    #[test]
    fn fixture_6_18_has_oom_kill() {
        let (stat, errors) = parse(LIVE_6_18);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(stat.get("oom_kill").is_some());
        assert!(stat.get("pgmajfault").is_some());
    }

    #[test]
    fn fixture_4_x_parses() {
        let (stat, errors) = parse(OLD_4_X);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(stat.get("pgmajfault").is_some());
    }

    #[test]
    fn fixture_swap_in_use_swapped_out() {
        let (stat, errors) = parse(SWAP_IN_USE);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(stat.get("pswpout").unwrap_or(0) > 0);
    }
}
