//! `/proc/pressure/{cpu,memory,io,irq}` (PSI, kernel 4.20+):
//!
//! ```text
//! some avg10=0.00 avg60=0.00 avg300=0.00 total=0
//! full avg10=0.00 avg60=0.00 avg300=0.00 total=0
//! ```
//!
//! `avg*` are percentages of wall time over 10 s, 60 s and 300 s; `total` is
//! the cumulative stall time in microseconds. `cpu` has no `full` line before
//! 5.13 and `irq` (6.1+) has only `full`.
//!
//! Hand-written rather than procfs-core's `parse_pressure_record`, which
//! reads the averages as `f32` and turns `3.59` into `3.5899999141693115`.

use super::LineError;

/// One `some` or `full` line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record {
    /// Share of time stalled over the last 10 s, in percent as printed.
    pub avg10: f64,
    /// Same over 60 s.
    pub avg60: f64,
    /// Same over 300 s.
    pub avg300: f64,
    /// Total stall time since boot, in microseconds.
    pub total_us: u64,
}

/// Both lines of one pressure file; either may be absent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pressure {
    /// Some tasks stalled.
    pub some: Option<Record>,
    /// All non-idle tasks stalled at once.
    pub full: Option<Record>,
}

/// Parses one pressure file, returning the lines it could not read.
pub fn parse(text: &str) -> (Pressure, Vec<LineError>) {
    let mut pressure = Pressure::default();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        let slot = match kind {
            "some" => &mut pressure.some,
            "full" => &mut pressure.full,
            _ => {
                errors.push(LineError::new(i, line, "expected `some` or `full`"));
                continue;
            }
        };
        match parse_record(rest) {
            Ok(record) => *slot = Some(record),
            Err(reason) => errors.push(LineError::new(i, line, reason)),
        }
    }
    (pressure, errors)
}

fn parse_record(rest: &str) -> Result<Record, &'static str> {
    let (mut avg10, mut avg60, mut avg300, mut total) = (None, None, None, None);
    for pair in rest.split_whitespace() {
        let (key, value) = pair.split_once('=').ok_or("expected key=value")?;
        let avg = || -> Result<f64, &'static str> {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or("average is not a non-negative number")
        };
        match key {
            "avg10" => avg10 = Some(avg()?),
            "avg60" => avg60 = Some(avg()?),
            "avg300" => avg300 = Some(avg()?),
            "total" => total = Some(value.parse().map_err(|_| "total is not an integer")?),
            // Unknown keys from a future kernel are ignored, not fatal.
            _ => {}
        }
    }
    match (avg10, avg60, avg300, total) {
        (Some(avg10), Some(avg60), Some(avg300), Some(total_us)) => Ok(Record {
            avg10,
            avg60,
            avg300,
            total_us,
        }),
        _ => Err("missing one of avg10, avg60, avg300, total"),
    }
}

/// The stall totals of one pressure file, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// `total` of the `some` line.
    pub some_us: Option<u64>,
    /// `total` of the `full` line.
    pub full_us: Option<u64>,
}

/// Only the `total` of each line, for per-cgroup stall counters: the
/// averages are neither parsed nor checked (a cgroup's file is read at
/// every scrape, thousands of them). A line without a readable `total` has
/// none.
pub fn totals(text: &str) -> Totals {
    let mut out = Totals::default();
    for line in text.lines() {
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        let slot = match kind {
            "some" => &mut out.some_us,
            "full" => &mut out.full_us,
            _ => continue,
        };
        *slot = rest
            .rsplit(' ')
            .find_map(|pair| pair.strip_prefix("total="))
            .and_then(|v| v.trim().parse().ok());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "tests/fixtures/proc/linux-6.18-psi-zswap/pressure";

    #[test]
    fn both_lines() {
        let (p, errors) = parse(
            "some avg10=3.59 avg60=3.09 avg300=0.90 total=3152970\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        );
        assert!(errors.is_empty());
        let some = p.some.unwrap();
        assert_eq!(some.avg10, 3.59);
        assert_eq!(some.avg300, 0.90);
        assert_eq!(some.total_us, 3_152_970);
        assert_eq!(p.full.unwrap().total_us, 0);
    }

    #[test]
    fn cpu_before_5_13_has_no_full_line() {
        let (p, errors) = parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=12\n");
        assert!(errors.is_empty());
        assert!(p.some.is_some());
        assert!(p.full.is_none());
    }

    #[test]
    fn garbage_line_keeps_the_other() {
        let (p, errors) = parse(
            "some avg10=0.10 avg60=0.00 avg300=0.00 total=99\n\
             full avg10=banana avg60=0.00 avg300=0.00 total=1\n\
             \x00\x01 junk\n",
        );
        assert_eq!(p.some.unwrap().total_us, 99);
        assert!(p.full.is_none());
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line_no, 2);
    }

    #[test]
    fn missing_fields_and_negative_averages_are_errors() {
        for line in [
            "some avg10=0.00 avg60=0.00 total=1",
            "some avg10=-1.00 avg60=0.00 avg300=0.00 total=1",
            "some avg10=NaN avg60=0.00 avg300=0.00 total=1",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=-1",
            "some",
        ] {
            let (p, errors) = parse(line);
            assert!(p.some.is_none(), "{line}");
            assert_eq!(errors.len(), 1, "{line}");
        }
    }

    #[test]
    fn irq_has_only_a_full_line() {
        // Fedora 6.x kernel with CONFIG_IRQ_TIME_ACCOUNTING, as quoted in
        // https://utcc.utoronto.ca/~cks/space/blog/linux/PSIIRQNumbersAndMeanings
        let (p, errors) = parse("full avg10=0.00 avg60=0.00 avg300=0.00 total=3753500244\n");
        assert!(errors.is_empty());
        assert!(p.some.is_none());
        assert_eq!(p.full.unwrap().total_us, 3_753_500_244);
    }

    #[test]
    fn fixture_6_18_every_resource_parses() {
        for resource in ["cpu", "memory", "io"] {
            let path = format!("{}/{FIXTURE}/{resource}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            let (p, errors) = parse(&text);
            assert!(errors.is_empty(), "{resource}: {errors:?}");
            assert!(p.some.is_some(), "{resource} lacks a some line");
            assert!(p.full.is_some(), "{resource} lacks a full line");
        }
    }

    #[test]
    fn totals_agree_with_the_full_parser() {
        for text in [
            "some avg10=3.59 avg60=3.09 avg300=0.90 total=3152970\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=12\n",
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=x\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=5\n",
            "",
        ] {
            let (p, _) = parse(text);
            let t = totals(text);
            assert_eq!(t.some_us, p.some.map(|r| r.total_us), "{text:?}");
            assert_eq!(t.full_us, p.full.map(|r| r.total_us), "{text:?}");
        }
    }
}
