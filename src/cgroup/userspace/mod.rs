//! Kills made by userspace OOM killers (systemd-oomd, oomd), read from the
//! extended attributes they leave on the cgroup they kill.
//!
//! systemd-oomd adds 1 to `user.oomd_ooms` when it starts killing a cgroup
//! and the number of processes it killed to `user.oomd_kill`, each written
//! back as a decimal string. oomd writes the same counters as
//! `trusted.oomd_ooms`/`trusted.oomd_kill` (and the `user.*` ones), plus a
//! `*.oomd_kill_uuid`. The attributes are cumulative counters of one
//! cgroup incarnation: the series is their value.
//!
//! - `mod.rs`: the attribute names, the parser of a value and which killer
//!   wrote a cgroup's set (pure)
//! - [`xattr`]: reads them from an open cgroup directory, one `getxattr` each
//! - [`detect`]: whether systemd-oomd or oomd is installed or running
//! - [`history`]: the userspace kills the live exporter saw, for `/kills`
//! - [`present`]: the kills still on record in the cgroup tree, for the `kills` command
//! - [`tally`]: the host-wide counters and each rise, every incarnation counted once

pub mod detect;
pub mod history;
pub mod present;
pub mod tally;
pub mod xattr;

/// A userspace OOM killer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Killer {
    #[serde(rename = "systemd-oomd")]
    SystemdOomd,
    #[serde(rename = "oomd")]
    Oomd,
}

impl Killer {
    /// Both, in label order.
    pub const ALL: [Killer; 2] = [Killer::SystemdOomd, Killer::Oomd];

    /// The `killer` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SystemdOomd => "systemd-oomd",
            Self::Oomd => "oomd",
        }
    }

    /// Index in per-killer arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The attributes read, in the order they are read.
pub const USER_OOMS: &str = "user.oomd_ooms";
pub const USER_KILL: &str = "user.oomd_kill";
pub const TRUSTED_OOMS: &str = "trusted.oomd_ooms";
pub const TRUSTED_KILL: &str = "trusted.oomd_kill";
/// Read only when `user.*` counters are found without `trusted.*` ones:
/// oomd also writes a kill UUID, systemd-oomd does not.
pub const USER_UUID: &str = "user.oomd_kill_uuid";
pub const TRUSTED_UUID: &str = "trusted.oomd_kill_uuid";

/// The raw counters of one cgroup (`None`: attribute absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs {
    pub user_ooms: Option<u64>,
    pub user_kill: Option<u64>,
    pub trusted_ooms: Option<u64>,
    pub trusted_kill: Option<u64>,
    /// A `*.oomd_kill_uuid` is present.
    pub uuid: bool,
}

/// What one cgroup's attributes say: kill actions and processes killed,
/// and by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub killer: Killer,
    /// Kill actions (`*.oomd_ooms`).
    pub kills: u64,
    /// Processes killed (`*.oomd_kill`).
    pub processes: u64,
}

impl Attrs {
    /// Whether any `user.*` counter is present.
    pub fn has_user(&self) -> bool {
        self.user_ooms.is_some() || self.user_kill.is_some()
    }

    /// Whether any `trusted.*` counter is present.
    pub fn has_trusted(&self) -> bool {
        self.trusted_ooms.is_some() || self.trusted_kill.is_some()
    }

    /// Who killed and how often; `None` without any counter. `trusted.*`
    /// counters or a kill UUID mean oomd, which may write the `user.*`
    /// counters too (the same kills: the larger value of each is taken,
    /// never the sum); `user.*` counters alone mean systemd-oomd.
    pub fn counts(&self) -> Option<Counts> {
        if !self.has_user() && !self.has_trusted() {
            return None;
        }
        let oomd = self.has_trusted() || self.uuid;
        let pick = |user: Option<u64>, trusted: Option<u64>| user.max(trusted).unwrap_or(0);
        Some(Counts {
            killer: if oomd {
                Killer::Oomd
            } else {
                Killer::SystemdOomd
            },
            kills: pick(self.user_ooms, self.trusted_ooms),
            processes: pick(self.user_kill, self.trusted_kill),
        })
    }
}

/// An attribute value that is not a counter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a decimal counter: {0:?}")]
pub struct BadValue(pub String);

/// Parses a counter as systemd-oomd and oomd write it: a decimal string,
/// perhaps NUL- or newline-terminated.
pub fn parse_counter(raw: &[u8]) -> Result<u64, BadValue> {
    let text = String::from_utf8_lossy(raw);
    let trimmed = text.trim_end_matches(['\0', '\n']).trim();
    trimmed
        .parse::<u64>()
        .map_err(|_| BadValue(trimmed.chars().take(32).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_parse_as_written() {
        assert_eq!(parse_counter(b"3"), Ok(3));
        assert_eq!(parse_counter(b"12\0"), Ok(12));
        assert_eq!(parse_counter(b"7\n"), Ok(7));
        assert_eq!(parse_counter(b"0"), Ok(0));
        assert!(parse_counter(b"").is_err());
        assert!(parse_counter(b"-1").is_err());
        assert!(parse_counter(b"abc").is_err());
        assert!(parse_counter(b"\xff\xfe").is_err());
    }

    #[test]
    fn the_killer_is_told_by_the_namespace_and_the_uuid() {
        assert_eq!(Attrs::default().counts(), None);
        let systemd = Attrs {
            user_ooms: Some(2),
            user_kill: Some(5),
            ..Attrs::default()
        };
        let c = systemd.counts().unwrap();
        assert_eq!(
            (c.killer, c.kills, c.processes),
            (Killer::SystemdOomd, 2, 5)
        );
        // ooms written, processes not yet: the kill counts, 0 processes.
        let started = Attrs {
            user_ooms: Some(1),
            ..Attrs::default()
        };
        assert_eq!(started.counts().unwrap().processes, 0);
        // oomd writes both namespaces: the same kills, counted once.
        let oomd = Attrs {
            user_ooms: Some(1),
            user_kill: Some(3),
            trusted_ooms: Some(1),
            trusted_kill: Some(3),
            uuid: true,
        };
        let c = oomd.counts().unwrap();
        assert_eq!((c.killer, c.kills, c.processes), (Killer::Oomd, 1, 3));
        // As non-root, trusted.* are invisible: the UUID tells oomd.
        let unprivileged = Attrs {
            user_ooms: Some(1),
            uuid: true,
            ..Attrs::default()
        };
        assert_eq!(unprivileged.counts().unwrap().killer, Killer::Oomd);
    }
}
