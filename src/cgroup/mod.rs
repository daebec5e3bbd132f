//! Memory cgroups: the hierarchy, what one cgroup's files say, the cgroups
//! reported at each scrape, and who owns a cgroup path.
//!
//! - [`hierarchy`]: finds the memory cgroup hierarchy (v1, v2, hybrid) under `--path.sysfs`, walks it, and makes its one write (the v1 OOM event registration)
//! - [`parse`]: the cgroup file parsers (single values, limits, `key value` files)
//! - [`sample`]: one cgroup's sample (usage, limits, event counters, pressure) read from its files
//! - [`select`]: which cgroups to report, under `--collector.cgroup.max`, and their samples
//! - [`watch`]: reads a cgroup's event counters the moment the kernel signals a change
//! - [`retention`]: what is kept between scrapes: counters across incarnations, vanished cgroups within retention, eviction under the cap
//! - [`monitor`]: the above put together at each scrape, for the cgroup collector
//! - [`ns`]: resolves process cgroup paths read inside a cgroup namespace against the host hierarchy
//! - [`userspace`]: kills by systemd-oomd and oomd, from the attributes they leave on a cgroup, and whether they are installed
//! - [`owner`]: pod UID, container ID and systemd unit derived from a cgroup path

pub mod hierarchy;
pub mod monitor;
pub mod ns;
pub mod owner;
pub mod parse;
pub mod retention;
pub mod sample;
pub mod select;
pub mod userspace;
pub mod watch;

pub use select::{CgroupSource, Selection};
