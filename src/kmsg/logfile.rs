//! A saved kernel log read as a stream of lines, for `oom_exporter kills
//! --input`: never the whole file in memory.
//!
//! Compression is recognised by its magic bytes, not by the file name: gzip
//! (logrotate's default, `kern.log.2.gz`, also several members joined by
//! `cat`) is decompressed on the fly; xz and zstd are refused with what to
//! do instead. Lines longer than [`MAX_LINE`] are skipped and counted: the
//! kernel's own records are at most 1 KiB of text (4 KiB once `\xNN`
//! escaped), so such a line is not one of them, and it cannot make the
//! reader hold more than that.

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Chain, Cursor, Read};

use flate2::bufread::MultiGzDecoder;

/// Longest line kept, in bytes (a syslog prefix plus an escaped record
/// fits many times over).
pub const MAX_LINE: usize = 16 * 1024;

/// Why a saved log cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A compression this build does not decompress.
    #[error(
        "compressed with {0}; decompress it first (e.g. `{1} -dc FILE | oom_exporter kills --input -`)"
    )]
    Compressed(&'static str, &'static str),
    /// Reading (or decompressing) failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Compressions told apart by their first bytes.
const MAGIC: [(&[u8], &str, &str); 3] = [
    (b"\x1f\x8b", "gzip", "gzip"),
    (b"\xfd7zXZ\x00", "xz", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd", "zstd"),
];

/// The input, decompressed if it was gzip.
pub type Decoded = Box<dyn BufRead>;

/// Looks at the first bytes of `reader` and returns the text in it.
pub fn decode(mut reader: impl Read + 'static) -> Result<Decoded, LogError> {
    let mut head = [0u8; 6];
    let mut len = 0;
    while len < head.len() {
        match reader.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let head = head[..len].to_vec();
    let kind = MAGIC
        .iter()
        .find(|(magic, _, _)| head.starts_with(magic))
        .map(|&(_, name, tool)| (name, tool));
    let whole: Chain<Cursor<Vec<u8>>, _> = Cursor::new(head).chain(reader);
    match kind {
        None => Ok(Box::new(BufReader::new(whole))),
        Some(("gzip", _)) => Ok(Box::new(BufReader::new(Gunzip(MultiGzDecoder::new(
            BufReader::new(whole),
        ))))),
        Some((name, tool)) => Err(LogError::Compressed(name, tool)),
    }
}

/// A gzip decoder whose errors say that decompressing failed.
struct Gunzip<R>(R);

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), format!("decompress gzip: {e}")))
    }
}

/// Physical lines of a log, each at most [`MAX_LINE`] bytes, decoded as
/// UTF-8 with invalid bytes replaced.
pub struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    overlong: u64,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            overlong: 0,
        }
    }

    /// Lines skipped because they were longer than [`MAX_LINE`].
    pub fn overlong(&self) -> u64 {
        self.overlong
    }

    /// The next line without its line ending, or `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<Cow<'_, str>>> {
        loop {
            self.buf.clear();
            let mut any = false;
            let mut too_long = false;
            loop {
                let chunk = match self.reader.fill_buf() {
                    Ok(chunk) => chunk,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if chunk.is_empty() {
                    break;
                }
                any = true;
                let newline = chunk.iter().position(|&b| b == b'\n');
                let part = &chunk[..newline.unwrap_or(chunk.len())];
                if !too_long {
                    if self.buf.len() + part.len() > MAX_LINE {
                        too_long = true;
                        self.buf = Vec::new();
                    } else {
                        self.buf.extend_from_slice(part);
                    }
                }
                let used = newline.map_or(chunk.len(), |i| i + 1);
                self.reader.consume(used);
                if newline.is_some() {
                    break;
                }
            }
            if !any {
                return Ok(None);
            }
            if too_long {
                self.overlong += 1;
                continue;
            }
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            return Ok(Some(String::from_utf8_lossy(&self.buf)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::{Compression, write::GzEncoder};

    use super::*;

    fn all(input: &[u8]) -> (Vec<String>, u64) {
        let mut lines = Lines::new(decode(Cursor::new(input.to_vec())).unwrap());
        let mut out = Vec::new();
        while let Some(l) = lines.next_line().unwrap() {
            out.push(l.into_owned());
        }
        (out, lines.overlong())
    }

    #[test]
    fn lines_endings_and_invalid_utf8() {
        let (lines, overlong) = all(b"a\r\nb\n\xffc\n\nlast");
        assert_eq!(lines, ["a", "b", "\u{fffd}c", "", "last"]);
        assert_eq!(overlong, 0);
        assert_eq!(all(b"").0, Vec::<String>::new());
    }

    #[test]
    fn overlong_lines_are_skipped_and_counted() {
        let mut input = b"before\n".to_vec();
        input.extend(std::iter::repeat_n(b'[', MAX_LINE + 1));
        input.extend(b"\nafter\n");
        input.extend(std::iter::repeat_n(b'x', MAX_LINE));
        input.push(b'\n');
        let (lines, overlong) = all(&input);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[..2], ["before", "after"]);
        assert_eq!(lines[2].len(), MAX_LINE);
        assert_eq!(overlong, 1);
    }

    #[test]
    fn gzip_members_are_decompressed() {
        let mut bytes = Vec::new();
        for text in ["one\ntwo\n", "three\n"] {
            let mut gz = GzEncoder::new(Vec::new(), Compression::default());
            gz.write_all(text.as_bytes()).unwrap();
            bytes.extend(gz.finish().unwrap());
        }
        assert_eq!(all(&bytes).0, ["one", "two", "three"]);
    }

    #[test]
    fn short_inputs_are_not_mistaken_for_magic() {
        assert_eq!(all(b"\x1f").0, ["\u{1f}"]);
        assert_eq!(all(b"x").0, ["x"]);
    }

    #[test]
    fn xz_and_zstd_are_refused() {
        for magic in [&b"\xfd7zXZ\x00\x00"[..], b"\x28\xb5\x2f\xfd\x04"] {
            let error = decode(Cursor::new(magic.to_vec())).err().unwrap();
            assert!(error.to_string().contains("decompress it first"));
        }
    }
}
