//! Memory cgroup files, v1 and v2: single values (`memory.current`,
//! `memory.max`, `memory.usage_in_bytes`, ...) and flat keyed files
//! (`memory.events`, `memory.oom_control`: `key value` per line).

/// Why a cgroup file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadValue(pub String);

/// v1 reports "no limit" as the largest page-aligned value
/// (9223372036854771712 on 64-bit); anything this big is no limit.
const V1_UNLIMITED: u64 = 1 << 62;

/// A byte count (`memory.current`, `memory.usage_in_bytes`).
pub fn bytes(text: &str) -> Result<u64, BadValue> {
    text.trim()
        .parse()
        .map_err(|_| BadValue(format!("expected a number, got {:?}", text.trim())))
}

/// A limit: `Ok(None)` for `max` (v2) or v1's huge default.
pub fn limit(text: &str) -> Result<Option<u64>, BadValue> {
    match text.trim() {
        "max" => Ok(None),
        t => bytes(t).map(|v| (v < V1_UNLIMITED).then_some(v)),
    }
}

/// The pairs of a flat keyed file, in file order (a handful: a list
/// beats a hash map here, read for thousands of cgroups per scrape).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyed<'a>(Vec<(&'a str, u64)>);

impl Keyed<'_> {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// `key value` lines.
pub fn keyed(text: &str) -> Result<Keyed<'_>, BadValue> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line
            .split_once(' ')
            .ok_or_else(|| BadValue(format!("expected `key value`, got {line:?}")))?;
        let v = v
            .trim()
            .parse()
            .map_err(|_| BadValue(format!("bad value in {line:?}")))?;
        out.push((k, v));
    }
    Ok(Keyed(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(limit("max\n"), Ok(None));
        assert_eq!(limit("67108864\n"), Ok(Some(67_108_864)));
        assert_eq!(limit("9223372036854771712\n"), Ok(None));
        assert!(limit("lots").is_err());
    }

    #[test]
    fn events_and_oom_control() {
        let e = keyed("low 0\nhigh 3\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n").unwrap();
        assert_eq!(
            (e.get("max"), e.get("oom"), e.get("oom_kill")),
            (Some(12), Some(2), Some(1))
        );
        assert_eq!(e.get("nope"), None);
        let c = keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 4\n").unwrap();
        assert_eq!(c.get("oom_kill"), Some(4));
        assert!(keyed("oops").is_err());
    }
}
