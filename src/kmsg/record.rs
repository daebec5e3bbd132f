//! One `/dev/kmsg` record: `<prio>,<seq>,<usec>,<flags>[,<more>];<text>`.
//!
//! `prio` is `facility * 8 + level`; `seq` is the record's sequence number
//! (gaps mean records were lost); `usec` is the time since boot in
//! microseconds. Lines starting with a space are the record's dictionary
//! continuation (`SUBSYSTEM=...`) and carry no message. Non-printable bytes,
//! bytes >= 0x7f and `\` in the text arrive as `\xNN`.

/// A parsed record; `text` is still escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Syslog facility: 0 is the kernel; userspace writes get 1 (user) or
    /// whatever non-zero facility they ask for. The kernel keeps 8 bits of
    /// it (`<1016>` is facility 127, the largest `prio` it prints is 2047);
    /// a larger one, which only a file can hold, reads as 255.
    pub facility: u8,
    /// Syslog level, 0 (emerg) to 7 (debug).
    pub level: u8,
    /// Sequence number.
    pub seq: u64,
    /// Microseconds since boot.
    pub usec: u64,
    /// Message, escaped as the kernel printed it.
    pub text: &'a str,
}

impl Record<'_> {
    /// True for records the kernel itself wrote. Userspace can write to
    /// /dev/kmsg but never with facility 0, so only these can be trusted.
    pub fn is_kernel(&self) -> bool {
        self.facility == 0
    }
}

/// Why a line is not a kmsg record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// No `;` separating the header from the text.
    #[error("no ';' after the record header")]
    NoSeparator,
    /// The header fields are not numbers.
    #[error("malformed record header")]
    BadHeader,
}

/// Parses one line read from /dev/kmsg. Returns `Ok(None)` for a
/// continuation line.
pub fn parse(line: &str) -> Result<Option<Record<'_>>, RecordError> {
    if line.starts_with(' ') || line.is_empty() {
        return Ok(None);
    }
    let (header, text) = line.split_once(';').ok_or(RecordError::NoSeparator)?;
    let mut fields = header.split(',');
    let mut number = || -> Result<u64, RecordError> {
        fields
            .next()
            .and_then(|f| f.parse().ok())
            .ok_or(RecordError::BadHeader)
    };
    let prio = number()?;
    let seq = number()?;
    let usec = number()?;
    Ok(Some(Record {
        facility: u8::try_from(prio >> 3).unwrap_or(u8::MAX),
        level: (prio & 7) as u8,
        seq,
        usec,
        text: text.trim_end_matches(['\n', '\r']),
    }))
}

/// Undoes the kernel's `\xNN` escaping; invalid UTF-8 becomes U+FFFD.
pub fn unescape(s: &str) -> String {
    if !s.contains("\\x") {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && bytes.get(i + 1) == Some(&b'x')
            && let Some(b) = s
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How many bytes `s` stands for once unescaped (each `\xNN` is one).
pub fn raw_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let escapes = (0..bytes.len().saturating_sub(3))
        .filter(|&i| {
            bytes[i] == b'\\'
                && bytes[i + 1] == b'x'
                && bytes[i + 2].is_ascii_hexdigit()
                && bytes[i + 3].is_ascii_hexdigit()
        })
        .count();
    bytes.len() - 3 * escapes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_text() {
        let r = parse("3,576,730674844,-;Memory cgroup out of memory: Killed process 19759")
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.facility, r.level, r.seq, r.usec),
            (0, 3, 576, 730_674_844)
        );
        assert!(r.is_kernel());
        assert_eq!(r.text, "Memory cgroup out of memory: Killed process 19759");
    }

    #[test]
    fn caller_field_and_semicolons_in_text() {
        let r = parse("6,3,0,-,caller=T1;x86/fpu: a; b").unwrap().unwrap();
        assert_eq!(r.seq, 3);
        assert_eq!(r.text, "x86/fpu: a; b");
    }

    #[test]
    fn userspace_is_not_kernel() {
        // `echo "..." > /dev/kmsg` from a shell arrives as facility 1 (user), level 4.
        let r = parse("12,900,1000,-;Killed process 1 (init)")
            .unwrap()
            .unwrap();
        assert_eq!(r.facility, 1);
        assert!(!r.is_kernel());
    }

    #[test]
    fn userspace_priority_above_255() {
        // `<1016>` written to /dev/kmsg: facility 127. The kernel keeps 8
        // bits of facility, so it prints up to 2047 (seen on 6.18).
        for (line, facility, level) in [
            (
                "1016,9311,627267335,-;Out of memory: Killed process 1 (x)",
                127,
                0,
            ),
            ("2047,9312,627267899,-;x", 255, 7),
        ] {
            let r = parse(line).unwrap().unwrap();
            assert_eq!((r.facility, r.level), (facility, level), "{line}");
            assert!(!r.is_kernel(), "{line}");
        }
        // Beyond what the kernel prints: still a record, still not the kernel's.
        let r = parse("99999,7,1,-;x").unwrap().unwrap();
        assert_eq!((r.facility, r.seq), (255, 7));
        assert!(!r.is_kernel());
    }

    #[test]
    fn raw_len_counts_escaped_bytes_once() {
        assert_eq!(raw_len("hog"), 3);
        assert_eq!(raw_len(r"caf\xc3\xa9"), 5);
        assert_eq!(raw_len(r"\xZZ"), 4);
    }

    #[test]
    fn continuation_and_garbage() {
        assert_eq!(parse(" SUBSYSTEM=pci"), Ok(None));
        assert_eq!(parse("no separator"), Err(RecordError::NoSeparator));
        assert_eq!(parse("a,b,c,-;x"), Err(RecordError::BadHeader));
        assert_eq!(parse("6,1;x"), Err(RecordError::BadHeader));
    }

    #[test]
    fn unescape_utf8_and_backslash() {
        assert_eq!(unescape(r"d=\xc3\xa9"), "d=é");
        assert_eq!(unescape(r"a\x5cb"), r"a\b");
        assert_eq!(unescape(r"bad \xZZ and \x"), r"bad \xZZ and \x");
        assert_eq!(unescape(r"\xff"), "\u{fffd}");
    }
}
