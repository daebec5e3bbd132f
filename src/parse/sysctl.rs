//! A single-integer sysctl file such as `/proc/sys/vm/overcommit_memory`.

/// Why a sysctl value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one integer, got {0:?}")]
pub struct BadValue(pub String);

/// Parses the text of a one-integer sysctl file (`"50\n"`).
pub fn parse_int(text: &str) -> Result<i64, BadValue> {
    text.trim()
        .parse()
        .map_err(|_| BadValue(text.chars().take(40).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_with_newline() {
        assert_eq!(parse_int("2\n"), Ok(2));
        assert_eq!(parse_int("-1000\n"), Ok(-1000));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_int("").is_err());
        assert!(parse_int("fifty\n").is_err());
        assert!(parse_int("1 2\n").is_err());
    }
}
