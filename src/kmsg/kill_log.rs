//! The structured log line written for each kill: the victim, its cgroup's
//! owner (pod, container, unit), its RSS in bytes, what triggered the OOM,
//! and the process that held the most memory, so a log store has the story
//! without a second lookup. [`Story`] is computed apart from the logging.

use super::oom::Kill;

/// The message of the line; log queries match on it.
pub const MESSAGE: &str = "OOM kill";

/// What the line says besides the victim's pid, comm and cgroup; every
/// field `None` (and left out of the line) where the report does not say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Story<'a> {
    pub anon_rss_bytes: Option<u64>,
    pub file_rss_bytes: Option<u64>,
    pub shmem_rss_bytes: Option<u64>,
    /// anon + file + shmem, where any of them is known.
    pub rss_bytes: Option<u64>,
    pub trigger_comm: Option<&'a str>,
    pub trigger_pid: Option<u32>,
    pub memcg_usage_bytes: Option<u64>,
    pub memcg_limit_bytes: Option<u64>,
    /// The task dump's largest row by RSS.
    pub top_task_comm: Option<&'a str>,
    pub top_task_pid: Option<u32>,
    pub top_task_rss_bytes: Option<u64>,
}

impl<'a> Story<'a> {
    pub fn of(kill: &'a Kill) -> Self {
        let bytes = |kb: Option<u64>| kb.map(|kb| kb.saturating_mul(1024));
        let parts = [kill.anon_rss_kb, kill.file_rss_kb, kill.shmem_rss_kb];
        let rss_kb = parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().flatten().sum());
        let r = &kill.report;
        let top = r.top_tasks.as_ref().and_then(|t| t.first());
        Self {
            anon_rss_bytes: bytes(kill.anon_rss_kb),
            file_rss_bytes: bytes(kill.file_rss_kb),
            shmem_rss_bytes: bytes(kill.shmem_rss_kb),
            rss_bytes: bytes(rss_kb),
            trigger_comm: kill.invoked_by.as_deref(),
            trigger_pid: r.trigger_pid,
            memcg_usage_bytes: bytes(r.memcg_usage_kb),
            memcg_limit_bytes: bytes(r.memcg_limit_kb),
            top_task_comm: top.map(|t| t.comm.as_str()),
            top_task_pid: top.map(|t| t.pid),
            top_task_rss_bytes: top.and_then(|t| t.rss_bytes),
        }
    }
}

/// Logs `kill` at info; `before_start` marks a kill that was already in
/// the ring buffer when the exporter started.
pub fn log(kill: &Kill, before_start: bool) {
    let s = Story::of(kill);
    tracing::info!(
        pid = kill.pid,
        comm = %kill.comm,
        cgroup = kill.task_memcg.as_deref().unwrap_or(""),
        constraint = kill.constraint.as_str(),
        pod_uid = kill.pod_uid.as_deref(),
        container_id = kill.container_id.as_deref(),
        unit = kill.unit.as_deref(),
        namespace = kill.names.namespace.as_deref(),
        pod = kill.names.pod.as_deref(),
        container = kill.names.container.as_deref(),
        rss_bytes = s.rss_bytes,
        anon_rss_bytes = s.anon_rss_bytes,
        file_rss_bytes = s.file_rss_bytes,
        shmem_rss_bytes = s.shmem_rss_bytes,
        trigger_comm = s.trigger_comm,
        trigger_pid = s.trigger_pid,
        memcg_usage_bytes = s.memcg_usage_bytes,
        memcg_limit_bytes = s.memcg_limit_bytes,
        top_task_comm = s.top_task_comm,
        top_task_pid = s.top_task_pid,
        top_task_rss_bytes = s.top_task_rss_bytes,
        before_start,
        "{MESSAGE}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmsg::oom::kills_in_log;

    #[test]
    fn a_kill_without_a_report_says_only_its_rss() {
        let kills = kills_in_log(
            "Out of memory: Killed process 7 (app) total-vm:10kB, anon-rss:5kB, file-rss:1kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n",
        );
        let s = Story::of(&kills[0]);
        assert_eq!(
            s,
            Story {
                anon_rss_bytes: Some(5120),
                file_rss_bytes: Some(1024),
                shmem_rss_bytes: Some(0),
                rss_bytes: Some(6144),
                ..Story::default()
            }
        );
    }

    #[test]
    fn a_whole_report_names_the_trigger_the_limit_and_the_top_task() {
        let log = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/reports/10-proxmox-5.15-pve-lxc-cgroupv2-dmesgT-de.log"
        ))
        .unwrap();
        let kills = kills_in_log(&log);
        let s = Story::of(&kills[0]);
        assert_eq!(s.trigger_comm, Some("php-fpm"));
        assert_eq!(s.trigger_pid, Some(3_923_954));
        assert_eq!(s.memcg_limit_bytes, Some(31_211_520 * 1024));
        assert_eq!(s.top_task_pid, Some(3_902_942));
        assert_eq!(s.top_task_comm, Some("php-fpm"));
        assert_eq!(s.top_task_rss_bytes, Some(3_195_335 * 4096));
        assert_eq!(s.rss_bytes, Some((12_625_252 + 156_088) * 1024));
    }
}
