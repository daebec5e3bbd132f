//! The forms in which users paste kernel logs, reduced to message text plus
//! whatever position and time the form carries:
//!
//! - raw /dev/kmsg records: `6,575,730674821,-;text`
//! - `dmesg`: `[ 8341.856856] text`
//! - `dmesg -T`: `[Tue Sep  3 05:57:48 2024] text` (any locale)
//! - syslog / `journalctl -k`: `Jun 24 18:49:43 host kernel: [ 8341.85] text`,
//!   or with an ISO 8601 stamp (`2025-06-24T18:49:43.123+00:00 host kernel: text`)
//!
//! Copy-paste artefacts are tolerated: leading indentation, a mail's quote
//! marks (`> `, `>> `), two dmesg records joined on one line
//! (`...uid=1001[30104.280053] Out of memory...`), and syslog's `#012` for
//! a newline inside a record (split into lines, except in a kill line). A
//! line a pager cut (`>` at its end) is read as it is: the field it cut
//! does not parse and is left null.
//!
//! Work is linear in the length of a line: a stamp is looked for only in
//! the few bytes after a `[`.

use super::record;

/// Wall-clock time as the log gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stamp {
    /// No wall-clock time in the line.
    None,
    /// An RFC 3339 time (ISO syslog and journal stamps).
    Rfc3339(String),
    /// A time without year or zone (BSD syslog, `dmesg -T`), kept as printed.
    Raw(String),
}

/// One message line, whatever form it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// Sequence number (raw kmsg only).
    pub seq: Option<u64>,
    /// Microseconds since boot (raw kmsg and dmesg stamps).
    pub usec: Option<u64>,
    /// Syslog facility (raw kmsg only); `None` when the form does not say.
    pub facility: Option<u8>,
    /// Wall-clock time, if any.
    pub stamp: Stamp,
    /// The kernel's message, still `\x`-escaped where the form escapes.
    pub text: &'a str,
}

/// Longest `[  12345.123456]` stamp looked for after a `[`, brackets and
/// padding included.
const MAX_STAMP: usize = 40;

/// Splits a pasted log into message lines.
pub fn lines(log: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for physical in log.lines() {
        physical_line(physical, &mut out);
    }
    out
}

/// Appends the message lines of one physical line to `out`. Returns true
/// when the line has the form of a kernel log line: a raw /dev/kmsg record,
/// a `dmesg` or `dmesg -T` stamp, or a syslog or journal line tagged
/// `kernel:` (bare message text, or another syslog tag, does not).
pub fn physical_line<'a>(physical: &'a str, out: &mut Vec<Line<'a>>) -> bool {
    let physical = unquote(physical);
    if let Ok(Some(r)) = record::parse(physical) {
        out.push(Line {
            seq: Some(r.seq),
            usec: Some(r.usec),
            facility: Some(r.facility),
            stamp: Stamp::None,
            text: r.text,
        });
        return true;
    }
    let (stamp, rest, facility, tagged_kernel) = strip_syslog(physical.trim_start());
    let first = out.len();
    for piece in split_joined(rest) {
        for part in syslog_newlines(piece) {
            out.push(Line {
                facility,
                ..dmesg_line(part, stamp.clone())
            });
        }
    }
    let stamped = out[first..]
        .first()
        .is_some_and(|l| l.usec.is_some() || l.stamp != Stamp::None);
    tagged_kernel || (facility.is_none() && stamped)
}

/// Syslog facility given to lines a syslog or journal form tags with
/// something other than `kernel:`: userspace, never counted.
const USER_FACILITY: u8 = 1;

/// True when `line` starts like a syslog or journal line: a BSD stamp
/// (`Jun 24 18:49:43 `) or an ISO 8601 one.
fn looks_like_syslog(line: &str) -> bool {
    let b = line.as_bytes();
    let bsd = b.len() > 16
        && b[..3].iter().all(u8::is_ascii_alphabetic)
        && b[3] == b' '
        && b[9] == b':'
        && b[12] == b':';
    bsd || line
        .split_whitespace()
        .next()
        .is_some_and(|w| iso_to_rfc3339(w).is_some())
}

/// Removes a syslog/journal prefix ending in `kernel: ` (and says it found
/// one). A syslog line with another tag comes back with
/// `Some(USER_FACILITY)`.
fn strip_syslog(line: &str) -> (Stamp, &str, Option<u8>, bool) {
    let head = &line.as_bytes()[..line.len().min(120 + "kernel: ".len())];
    let found = head.windows(8).position(|w| w == b"kernel: ");
    let Some(at) = found.filter(|&at| at < 120) else {
        let facility = looks_like_syslog(line).then_some(USER_FACILITY);
        return (Stamp::None, line, facility, false);
    };
    let (prefix, text) = (&line[..at], &line[at + "kernel: ".len()..]);
    let first = prefix.split_whitespace().next().unwrap_or("");
    let stamp = if let Some(rfc) = iso_to_rfc3339(first) {
        Stamp::Rfc3339(rfc)
    } else if prefix.len() >= 15 && prefix.as_bytes()[0].is_ascii_alphabetic() {
        Stamp::Raw(prefix.chars().take(15).collect())
    } else {
        Stamp::None
    };
    (stamp, text, None, true)
}

/// `2025-06-24T18:49:43.123456+00:00` or journalctl's `...+0000` as RFC 3339.
fn iso_to_rfc3339(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let date_ok = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[..4].iter().all(u8::is_ascii_digit);
    if !date_ok {
        return None;
    }
    if s.ends_with('Z') {
        return Some(s.to_owned());
    }
    let sign = s.rfind(['+', '-']).filter(|&i| i > 18)?;
    let zone = &s[sign + 1..];
    match zone.len() {
        5 if zone.as_bytes()[2] == b':' => Some(s.to_owned()),
        4 if zone.bytes().all(|c| c.is_ascii_digit()) => {
            Some(format!("{}{}:{}", &s[..=sign], &zone[..2], &zone[2..]))
        }
        _ => None,
    }
}

/// A line of a quoted mail (`> `, `>> `, `> > `) without its quote
/// marks; other lines as they are.
fn unquote(line: &str) -> &str {
    let mut rest = line.trim_start();
    if !rest.starts_with('>') {
        return line;
    }
    while let Some(r) = rest.strip_prefix('>') {
        rest = r.trim_start_matches([' ', '\t']);
    }
    rest
}

/// A record's lines that syslog joined with `#012` (its escape for a
/// newline), such as the `Mem-Info:` summary or a `memory.stat` block. A
/// kill line (`Kill process`, `Killed process`) is never split: `#012`
/// there may be part of a comm, and a kill split in two would be lost.
fn syslog_newlines(piece: &str) -> impl Iterator<Item = &str> {
    let whole = !piece.contains("#012")
        || piece.contains("Kill process ")
        || piece.contains("Killed process ");
    let mut parts = piece.split("#012");
    let first = if whole { Some(piece) } else { None };
    first.into_iter().chain(std::iter::from_fn(
        move || if whole { None } else { parts.next() },
    ))
}

/// Splits `...text[12.345678] more text` at every dmesg stamp after the start.
fn split_joined(line: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let bytes = line.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == b'['
            && let Some(len) = dmesg_stamp_len(&line[i..])
        {
            pieces.push(&line[start..i]);
            start = i;
            i += len;
            continue;
        }
        i += 1;
    }
    pieces.push(&line[start..]);
    pieces
}

/// Length of a leading `[   123.456789]` stamp (with its trailing space), if
/// any. Looks at no more than [`MAX_STAMP`] bytes.
fn dmesg_stamp_len(s: &str) -> Option<usize> {
    let inner_end = s.bytes().take(MAX_STAMP).position(|b| b == b']')?;
    let inner = s.get(1..inner_end)?.trim_start();
    let (secs, frac) = inner.split_once('.')?;
    let numeric = !secs.is_empty()
        && !frac.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    numeric.then(|| inner_end + 1 + usize::from(s[inner_end + 1..].starts_with(' ')))
}

/// Drops the `[ T1234] ` / `[ C3] ` caller field that kernels built with
/// `CONFIG_PRINTK_CALLER` print after the time stamp.
fn strip_caller(text: &str) -> &str {
    let Some(rest) = text.strip_prefix('[') else {
        return text;
    };
    let Some((inner, after)) = rest.split_once(']') else {
        return text;
    };
    let inner = inner.trim_start();
    let caller = inner.len() > 1
        && matches!(inner.as_bytes()[0], b'T' | b'C')
        && inner[1..].bytes().all(|b| b.is_ascii_digit());
    if caller {
        after.strip_prefix(' ').unwrap_or(after)
    } else {
        text
    }
}

fn dmesg_line(piece: &str, stamp: Stamp) -> Line<'_> {
    if let Some(len) = dmesg_stamp_len(piece) {
        let inner = piece[1..piece.find(']').unwrap_or(1)].trim();
        let usec = inner.split_once('.').and_then(|(s, f)| {
            let secs: u64 = s.parse().ok()?;
            let frac = format!("{f:0<6}");
            let micros: u64 = frac.get(..6)?.parse().ok()?;
            secs.checked_mul(1_000_000)?.checked_add(micros)
        });
        return Line {
            seq: None,
            usec,
            facility: None,
            stamp,
            text: strip_caller(&piece[len..]),
        };
    }
    // `dmesg -T`: a bracketed wall-clock time in any locale, ending in a year.
    if piece.starts_with('[')
        && let Some(end) = piece.find("] ")
    {
        let inner = &piece[1..end];
        let year_last = inner
            .rsplit(' ')
            .next()
            .is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()));
        if year_last && inner.contains(':') {
            return Line {
                seq: None,
                usec: None,
                facility: None,
                stamp: Stamp::Raw(inner.to_owned()),
                text: &piece[end + 2..],
            };
        }
    }
    Line {
        seq: None,
        usec: None,
        facility: None,
        stamp,
        text: piece,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_kmsg() {
        let l = &lines("3,576,730674844,-;Memory cgroup out of memory: Killed")[0];
        assert_eq!(
            (l.seq, l.usec, l.facility),
            (Some(576), Some(730_674_844), Some(0))
        );
        assert_eq!(l.text, "Memory cgroup out of memory: Killed");
    }

    #[test]
    fn dmesg_and_syslog() {
        let l = &lines("[ 7063.247407] Memory cgroup out of memory")[0];
        assert_eq!(l.usec, Some(7_063_247_407));
        assert_eq!(l.text, "Memory cgroup out of memory");
        let l = &lines("Jun 24 18:49:43 aks-node kernel: [ 8341.856856] oom-kill:x")[0];
        assert_eq!(l.usec, Some(8_341_856_856));
        assert_eq!(l.stamp, Stamp::Raw("Jun 24 18:49:43".to_owned()));
        assert_eq!(l.text, "oom-kill:x");
        let l = &lines("Nov 24 01:48:27 server kernel: systemd invoked oom-killer: x")[0];
        assert_eq!(l.usec, None);
        assert_eq!(l.text, "systemd invoked oom-killer: x");
        let l = &lines("kernel: Out of memory and no killable processes...")[0];
        assert_eq!(l.text, "Out of memory and no killable processes...");
    }

    #[test]
    fn iso_stamps() {
        let l = &lines("2025-06-24T18:49:43.123456+00:00 host kernel: text")[0];
        assert_eq!(
            l.stamp,
            Stamp::Rfc3339("2025-06-24T18:49:43.123456+00:00".to_owned())
        );
        let l = &lines("2025-06-24T18:49:43+0200 host kernel: text")[0];
        assert_eq!(
            l.stamp,
            Stamp::Rfc3339("2025-06-24T18:49:43+02:00".to_owned())
        );
    }

    #[test]
    fn dmesg_t_any_locale() {
        let l = &lines("[二 9月  3 05:57:48 2024] oom-kill:constraint=CONSTRAINT_MEMCG")[0];
        assert_eq!(l.stamp, Stamp::Raw("二 9月  3 05:57:48 2024".to_owned()));
        assert_eq!(l.text, "oom-kill:constraint=CONSTRAINT_MEMCG");
    }

    #[test]
    fn joined_records_are_split() {
        let v = lines(
            "[30104.280046] oom-kill:task=node,pid=4294,uid=1001[30104.280053] Out of memory: Kill process 4294 (node)",
        );
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].text, "oom-kill:task=node,pid=4294,uid=1001");
        assert_eq!(v[1].text, "Out of memory: Kill process 4294 (node)");
        assert_eq!(v[1].usec, Some(30_104_280_053));
    }

    #[test]
    fn regression_multibyte_char_in_syslog_stamp() {
        // Found by kmsg_fuzz: slicing the stamp at byte 15 split a character.
        let l = &lines("Jan  5 15:19:\u{1f574}27 kernel: text")[0];
        assert_eq!(l.text, "text");
    }

    #[test]
    fn printk_caller_field_is_dropped() {
        let l = &lines("[  100.000000][ T1234] bash invoked oom-killer: gfp_mask=0xcc0")[0];
        assert_eq!(l.text, "bash invoked oom-killer: gfp_mask=0xcc0");
        assert_eq!(lines("[  100.000000][    C1] x")[0].text, "x");
        assert_eq!(lines("[  100.000000] [T] x")[0].text, "[T] x");
    }

    #[test]
    fn userspace_syslog_lines_are_not_kernel() {
        let l = &lines(
            "Jun 24 18:49:43 host root: Out of memory: Killed process 1 (init) total-vm:1kB",
        )[0];
        assert_eq!(l.facility, Some(USER_FACILITY));
        let l = &lines(
            "Jun 24 18:49:43 host kernel: Out of memory: Killed process 1 (init) total-vm:1kB",
        )[0];
        assert_eq!(l.facility, None);
        assert_eq!(lines("[ 1.0] Out of memory")[0].facility, None);
    }

    #[test]
    fn regression_megabyte_of_brackets_is_linear() {
        // Each `[` used to search for `]` to the end of the line: quadratic,
        // over a minute for 1 MiB. Now a few milliseconds; the bound is
        // there only so a regression fails instead of hanging.
        let start = std::time::Instant::now();
        for line in [
            "[".repeat(1 << 20),
            "[1.".repeat(1 << 18),
            "[ 1".repeat(1 << 18),
            format!("kernel: {}", "[".repeat(1 << 20)),
        ] {
            let v = lines(&line);
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].text.len(), line.len() - line.find('[').unwrap_or(0));
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        // Stamps after the first are still split off.
        let joined = format!("{}[ 1.000000] x", "[".repeat(100));
        assert_eq!(lines(&joined)[1].text, "x");
    }

    #[test]
    fn physical_lines_say_whether_they_look_like_the_kernel_log() {
        let form = |l: &str| physical_line(l, &mut Vec::new());
        assert!(form("6,1,100,-;x"));
        assert!(form("[  1.000000] x"));
        assert!(form("[Tue Sep  3 05:57:48 2024] x"));
        assert!(form("Jun 24 18:49:43 host kernel: x"));
        assert!(form("2025-06-24T18:49:43+0200 host kernel: x"));
        assert!(!form("Jun 24 18:49:43 host sshd[1]: [ 1.000000] x"));
        assert!(!form("plain text"));
        assert!(!form("[not a stamp] x"));
        assert!(!form(""));
    }

    #[test]
    fn indentation_is_dropped() {
        assert_eq!(
            lines("  Out of memory: Killed process 4100 (x)")[0].text,
            "Out of memory: Killed process 4100 (x)"
        );
    }

    fn texts(log: &str) -> Vec<&str> {
        lines(log).iter().map(|l| l.text).collect()
    }

    #[test]
    fn mail_quotes_are_dropped_in_every_form() {
        let quoted = "\
> 3,576,730674844,-;Memory cgroup out of memory: Killed process 1 (a)
>> [ 7063.247407] Out of memory: Killed process 2 (b)
> > Jun 24 18:49:43 host kernel: Out of memory: Killed process 3 (c)
>Out of memory: Killed process 4 (d)
>
";
        let got = lines(quoted);
        assert_eq!(
            got.iter().map(|l| l.text).collect::<Vec<_>>(),
            [
                "Memory cgroup out of memory: Killed process 1 (a)",
                "Out of memory: Killed process 2 (b)",
                "Out of memory: Killed process 3 (c)",
                "Out of memory: Killed process 4 (d)",
                "",
            ]
        );
        assert_eq!((got[0].seq, got[1].usec), (Some(576), Some(7_063_247_407)));
        assert_eq!(got[2].stamp, Stamp::Raw("Jun 24 18:49:43".into()));
        // A `>` inside a line is text.
        assert_eq!(texts("[1.000000] a > b"), ["a > b"]);
    }

    #[test]
    fn syslog_escaped_newlines_split_into_lines() {
        let log =
            "Sep 29 08:12:34 h kernel: active_anon:1 inactive_anon:2#012 active_file:3#012 free:4";
        let got = lines(log);
        assert_eq!(
            got.iter().map(|l| l.text).collect::<Vec<_>>(),
            ["active_anon:1 inactive_anon:2", " active_file:3", " free:4"]
        );
        assert!(
            got.iter()
                .all(|l| l.stamp == got[0].stamp && l.facility.is_none())
        );
        // A kill line is never split: `#012` there is part of a comm.
        assert_eq!(
            texts(
                "Sep 29 08:12:34 h kernel: Out of memory: Killed process 5 (a#012b) total-vm:1kB"
            ),
            ["Out of memory: Killed process 5 (a#012b) total-vm:1kB"]
        );
    }
}
