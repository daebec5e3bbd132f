//! Kubernetes names on the node: the namespace, pod and container of a pod
//! UID and container ID, read from the names of the kubelet's log
//! directories, without an API token.
//!
//! - [`names`]: parses the two directory-entry forms (pure)
//! - [`listing`]: lists the directories (never following links) and tells
//!   whether they changed
//! - [`metrics`]: the cache's own health as `oom_pod_names_*`
//! - [`cache`]: the bounded cache every collector and the kill reader ask,
//!   listing again only when a lookup misses and a directory changed

pub mod cache;
pub mod listing;
pub mod metrics;
pub mod names;

pub use cache::{Names, Resolver, Urgency};
