//! Memory cgroups: the hierarchy, what one cgroup's files say, and who
//! owns a cgroup path.
//!
//! - [`hierarchy`]: finds the memory cgroup hierarchy (v1, v2, hybrid) under `--path.sysfs` and walks it
//! - [`parse`]: the cgroup file parsers (single values, limits, `key value` files)
//! - [`watch`]: reads a cgroup's event counters the moment the kernel signals a change
//! - [`ns`]: resolves process cgroup paths read inside a cgroup namespace against the host hierarchy
//! - [`owner`]: pod UID, container ID and systemd unit derived from a cgroup path

pub mod hierarchy;
pub mod ns;
pub mod owner;
pub mod parse;
pub mod watch;
