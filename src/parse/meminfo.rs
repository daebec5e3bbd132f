//! `/proc/meminfo`: `Key:   value kB` lines, or bare counts for the
//! `HugePages_*` fields.

use std::collections::HashMap;

use super::LineError;

/// One meminfo value with its unit as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A size the kernel printed in kB (kibibytes), converted to bytes.
    Bytes(u64),
    /// A bare number (page counts such as `HugePages_Total`).
    Count(u64),
}

/// Parsed `/proc/meminfo`, keyed by the kernel's field names.
#[derive(Debug, Default)]
pub struct Meminfo<'a> {
    fields: HashMap<&'a str, Value>,
}

impl<'a> Meminfo<'a> {
    /// The value of `key`, if the kernel printed it.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.fields.get(key).copied()
    }

    /// Number of fields parsed.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when nothing was parsed.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Parses the text of `/proc/meminfo`. Lines it cannot read are returned as
/// errors; every other line is kept.
pub fn parse(text: &str) -> (Meminfo<'_>, Vec<LineError>) {
    let mut info = Meminfo::default();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok((key, value)) => {
                info.fields.insert(key, value);
            }
            Err(reason) => errors.push(LineError::new(i, line, reason)),
        }
    }
    (info, errors)
}

fn parse_line(line: &str) -> Result<(&str, Value), &'static str> {
    let (key, rest) = line.split_once(':').ok_or("no ':' after the field name")?;
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err("bad field name");
    }
    let mut words = rest.split_whitespace();
    let number: u64 = words
        .next()
        .ok_or("no value")?
        .parse()
        .map_err(|_| "value is not a non-negative integer")?;
    let value = match words.next() {
        None => Value::Count(number),
        Some("kB") => Value::Bytes(number.checked_mul(1024).ok_or("value overflows")?),
        Some(_) => return Err("unknown unit (expected kB)"),
    };
    if words.next().is_some() {
        return Err("trailing text after the unit");
    }
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE_6_18: &str = include_str!("../../tests/fixtures/proc/linux-6.18-psi-zswap/meminfo");
    const OLD_4_X: &str = include_str!("../../tests/fixtures/proc/linux-4.x-no-psi/meminfo");
    const SWAP_IN_USE: &str =
        include_str!("../../tests/fixtures/proc/linux-6.18-swap-in-use/meminfo");

    #[test]
    fn kb_becomes_bytes_and_counts_stay_counts() {
        let (info, errors) = parse("MemTotal:       24684092 kB\nHugePages_Total:       3\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(info.get("MemTotal"), Some(Value::Bytes(24_684_092 * 1024)));
        assert_eq!(info.get("HugePages_Total"), Some(Value::Count(3)));
    }

    #[test]
    fn parenthesised_keys_are_kept() {
        let (info, errors) = parse("Active(anon):       1504 kB\nInactive(file):   367924 kB\n");
        assert!(errors.is_empty());
        assert_eq!(info.get("Active(anon)"), Some(Value::Bytes(1504 * 1024)));
        assert_eq!(
            info.get("Inactive(file)"),
            Some(Value::Bytes(367_924 * 1024))
        );
    }

    #[test]
    fn truncated_last_line_is_reported_and_the_rest_kept() {
        // A read cut short in the middle of the last line: "Committed_AS:   4".
        let (info, errors) = parse("MemTotal: 100 kB\nMemFree: 50 kB\nCommitted_AS:   4");
        assert_eq!(info.get("MemFree"), Some(Value::Bytes(50 * 1024)));
        // No unit: parsed as a count, which the collector rejects for a size field.
        assert_eq!(info.get("Committed_AS"), Some(Value::Count(4)));
        assert!(errors.is_empty());
        let (info, errors) = parse("MemTotal: 100 kB\nCommi");
        assert_eq!(info.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line_no, 2);
    }

    #[test]
    fn garbage_lines_are_errors() {
        for line in [
            "MemTotal: lots kB",
            "MemTotal: 5 MB",
            "MemTotal: -5 kB",
            ": 5 kB",
            "Mem Total: 5 kB",
            "MemTotal: 5 kB extra",
            "MemTotal:",
        ] {
            let (info, errors) = parse(line);
            assert!(info.is_empty(), "{line}");
            assert_eq!(errors.len(), 1, "{line}");
        }
    }

    #[test]
    fn fixture_6_18_has_zswap_and_available() {
        let (info, errors) = parse(LIVE_6_18);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(matches!(info.get("MemAvailable"), Some(Value::Bytes(_))));
        assert!(matches!(info.get("Zswap"), Some(Value::Bytes(_))));
        assert!(matches!(info.get("Zswapped"), Some(Value::Bytes(_))));
        assert!(matches!(
            info.get("Hugepagesize"),
            Some(Value::Bytes(2_097_152))
        ));
    }

    #[test]
    fn fixture_4_x_parses_without_zswap() {
        let (info, errors) = parse(OLD_4_X);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(matches!(info.get("MemTotal"), Some(Value::Bytes(_))));
        assert!(info.get("Zswap").is_none());
    }

    #[test]
    fn fixture_swap_in_use_shows_used_swap() {
        let (info, errors) = parse(SWAP_IN_USE);
        assert!(errors.is_empty(), "{errors:?}");
        let (Some(Value::Bytes(total)), Some(Value::Bytes(free))) =
            (info.get("SwapTotal"), info.get("SwapFree"))
        else {
            panic!("swap fields missing");
        };
        assert!(total > 0 && free < total, "total {total} free {free}");
    }
}
