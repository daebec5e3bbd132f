//! oom_exporter: a Prometheus exporter that tells Linux operators the OOM
//! killer is coming, and when it strikes, when and whom it killed.
//!
//! The binary (`src/main.rs`) is a thin client of this library; the tests use
//! the library directly where they can.
//!
//! # Map
//!
//! | module | its one job |
//! |---|---|
//! | [`cli`] | the clap command line, turned into a [`config::Config`] |
//! | [`config`] | the validated settings, free of clap types |
//! | [`logging`] | sets up `tracing` in logfmt or JSON |
//! | [`logonce`] | says whether a recurring problem is news to log, or was said already |
//! | [`proc`] | processes under `--path.procfs`: the procfs reader (every path built from the root, every read capped) and the per-process scan |
//! | [`parse`] | pure parsers for the kernel's text formats (`meminfo`, `vmstat`, PSI, sysctl values) |
//! | [`metrics`] | small helpers that write constant gauges and counters through prometheus-client's encoder |
//! | [`collectors`] | one file per collector; [`collectors::Exporter`] runs them at scrape time and reports their health |
//! | [`cgroup`] | memory cgroups: the hierarchy under `--path.sysfs`, one cgroup's sample, the event watch, the namespace resolver, the owner of a path, kills by systemd-oomd and oomd |
//! | [`k8s`] | namespace, pod and container names of a pod UID and container ID, from the kubelet's log directories (`--path.varlog`) |
//! | [`kmsg`] | OOM kills from /dev/kmsg: record and log parsers, the kill tracker and the reader thread |
//! | [`timefmt`] | RFC 3339 formatting of wall-clock times, and the boot time that turns a kernel log stamp into one |
//! | [`commands`] | `oom_exporter kills` (kills in the ring buffer or a saved log), `top` (processes or cgroups closest to the OOM killer), `doctor` (the OOM checklist applied to the live host) and `report` (one kill as an incident report in Markdown) |
//! | [`web`] | the routes, the server loop, `--web.config.file` (TLS, basic auth, headers) and its reloads |
//! | [`app`] | wires config, registry and server together; serves until a shutdown signal |

pub mod app;
pub mod cgroup;
pub mod cli;
pub mod collectors;
pub mod commands;
pub mod config;
pub mod k8s;
pub mod kmsg;
pub mod logging;
pub mod logonce;
pub mod metrics;
pub mod parse;
pub mod proc;
pub mod timefmt;
pub mod web;

/// Version of this build, from Cargo.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Git revision of this build (short hash, `-dirty` when built from a modified tree), or `unknown`.
pub const REVISION: &str = env!("OOM_EXPORTER_REVISION");
