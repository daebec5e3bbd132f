//! Pure parsers for the kernel's text formats. No I/O here: each takes the
//! text of a file and returns typed values plus the lines it had to skip, so a
//! single bad line never hides the good ones.

pub mod meminfo;
pub mod pressure;
pub mod process;
pub mod sysctl;
pub mod vmstat;

/// A line a parser could not understand, kept so the collector can say what
/// was wrong and still serve every other value of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line_no}: {reason}: {line:?}")]
pub struct LineError {
    /// 1-based line number.
    pub line_no: usize,
    /// The offending line, as read.
    pub line: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl LineError {
    pub(crate) fn new(index: usize, line: &str, reason: &'static str) -> Self {
        Self {
            line_no: index + 1,
            line: line.to_owned(),
            reason,
        }
    }
}
