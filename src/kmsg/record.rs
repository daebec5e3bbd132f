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
    /// Syslog facility: 0 is the kernel; userspace writes get 1 (user) or more.
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
    let prio = u8::try_from(prio).map_err(|_| RecordError::BadHeader)?;
    Ok(Some(Record {
        facility: prio >> 3,
        level: prio & 7,
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
    fn continuation_and_garbage() {
        assert_eq!(parse(" SUBSYSTEM=pci"), Ok(None));
        assert_eq!(parse("no separator"), Err(RecordError::NoSeparator));
        assert_eq!(parse("a,b,c,-;x"), Err(RecordError::BadHeader));
        assert_eq!(parse("999,1,1,-;x"), Err(RecordError::BadHeader));
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
