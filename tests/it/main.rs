//! Integration tests: the real binary, real files, real peers.
//!
//! One test binary with modules, as ripgrep does. Tests that need a tool this
//! machine lacks say why they skip; with `CI=true` they fail instead.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerting;
mod alerts;
mod bad_input;
mod cgroup;
mod cgroup_depth;
mod cgroup_v2_capture;
mod cgroupns;
pub mod dashboards;
mod deploy;
mod golden;
mod http;
mod kills_cmd;
mod kmsg_forgery;
mod kmsg_fuzz;
mod kmsg_reader;
mod kmsg_samples;
mod liveness;
mod oom_kill;
mod process;
mod prometheus;
pub mod promtool;
mod read_caps;
mod support;
mod web;
mod webconfig_fuzz;
