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
    /// The host a syslog or journal line names (`Jun 24 18:49:43 db7
    /// kernel: ...`); `None` in other forms.
    pub host: Option<&'a str>,
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
    if let Ok(Some(r)) = record::parse(physical.trim_start()) {
        out.push(Line {
            seq: Some(r.seq),
            usec: Some(r.usec),
            facility: Some(r.facility),
            stamp: Stamp::None,
            host: None,
            text: r.text,
        });
        return true;
    }
    let (stamp, rest, facility, tagged_kernel) = strip_syslog(physical.trim_start());
    let host = tagged_kernel
        .then(|| syslog_host(physical.trim_start(), rest))
        .flatten();
    let first = out.len();
    for piece in split_joined(rest) {
        for part in syslog_newlines(piece) {
            out.push(Line {
                facility,
                host,
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

/// The host of a syslog or journal line whose message is `text`: the word
/// before `kernel: `, after a BSD stamp (`Jun 24 18:49:43 host`) or an
/// ISO 8601 one (`2025-06-24T18:49:43+00:00 host`).
fn syslog_host<'a>(line: &'a str, text: &str) -> Option<&'a str> {
    let prefix = line
        .get(..line.len() - text.len())?
        .strip_suffix("kernel: ")?;
    let words: Vec<&str> = prefix.split_whitespace().collect();
    let host = match words.as_slice() {
        [stamp, host] if iso_to_rfc3339(stamp).is_some() => host,
        [_, _, time, host] if time.len() == 8 && time.as_bytes()[2] == b':' => host,
        _ => return None,
    };
    let ok = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    ok.then_some(*host)
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
            host: None,
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
                host: None,
                text: &piece[end + 2..],
            };
        }
    }
    Line {
        seq: None,
        usec: None,
        facility: None,
        stamp,
        host: None,
        text: piece,
    }
}

#[cfg(test)]
mod tests;
