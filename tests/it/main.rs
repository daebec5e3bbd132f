//! Integration tests: the real binary, real files, real peers.
//!
//! One test binary with modules, as ripgrep does; what they share is in
//! `support/`. Tests that need root or a tool are `#[ignore = "needs ..."]`,
//! so a plain `cargo test` lists them as ignored with the reason;
//! `tests/run` runs those this machine can, and all of them under `CI=true`,
//! where a missing requirement fails (docs/development.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerting;
mod alerts;
mod bad_input;
mod build_script;
mod cgroup;
mod cgroup_depth;
mod cgroup_v2_capture;
mod cgroupns;
mod completions;
pub mod dashboards;
mod deploy;
mod doctor_cmd;
mod drift;
mod golden;
mod help_text;
mod http;
mod k8s_names;
mod kills_cmd;
mod kmsg_captured;
mod kmsg_forgery;
mod kmsg_fuzz;
mod kmsg_reader;
mod kmsg_reports;
mod kmsg_samples;
mod kustomize;
mod liveness;
mod mixin;
mod oom_kill;
mod oom_report;
mod packages;
mod podmonitor;
mod process;
mod prometheus;
pub mod promtool;
mod read_caps;
mod report_cmd;
mod report_links;
mod report_rss;
mod support;
mod userspace_host;
mod userspace_kills;
mod web;
mod webconfig_fuzz;
