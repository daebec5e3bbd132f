//! What the integration tests share, one concern per file:
//!
//! - `exporter`: the binary under test started on `127.0.0.1:0`
//!   ([`Exporter`]), waiting on its log and its metrics; fixture trees;
//!   one sample out of `/metrics`.
//! - `http`: one plain HTTP/1.1 request; free loopback ports.
//! - `require`: root and external tools (a test that needs them is
//!   `#[ignore = "needs ..."]`; run anyway without them it says why it
//!   skips, or fails under `CI=true`).
//! - `child`: a child process killed and reaped on drop.
//! - `wait`: the one polling loop with a deadline (also one deadline for
//!   several waits, and a child that must exit in time).
//! - `user`: the exporter as `nobody`, with or without capabilities.
//! - `kernel`: one test at a time for OOM kills and kernel log floods;
//!   sysctls set for a test and restored.
//! - `memcg`: memory cgroups with small limits, for real OOM kills (also
//!   used by the kill-latency benchmark).
//! - `kubepod`: a Kubernetes pod's memory cgroups and the kubelet's log
//!   directories, for real kills with names.
//! - `prometheus`, `alertmanager`: the real peers, from Debian packages.

pub mod alertmanager;
pub mod child;
pub mod exporter;
pub mod http;
pub mod kernel;
pub mod kubepod;
pub mod memcg;
pub mod prometheus;
pub mod require;
pub mod user;
pub mod wait;

pub use alertmanager::Alertmanager;
pub use child::KillOnDrop;
pub use exporter::{
    BIN, Exporter, copy_fixture, fixture, generated_files_are_current, repo, sample,
};
pub use http::{free_port, request};
pub use kernel::{Sysctl, kernel_lock, write_kmsg};
pub use kubepod::KubePod;
pub use memcg::MemCgroup;
pub use prometheus::Prometheus;
pub use require::{
    need_tool, require_python_module, require_root, require_tool, require_user_xattrs,
};
pub use user::{as_nobody, unprivileged};
