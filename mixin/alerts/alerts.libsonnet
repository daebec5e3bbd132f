// The alert rules. Every threshold, window and `for` comes from _config
// (config.libsonnet); every series is selected with oomExporterSelector.
// Runbooks: docs/runbooks/<alert>.md. Unit tests: alerts/oom_exporter.test.yml
// (run against the rendered alerts/oom_exporter.rules.yml).
local f = import '../lib/format.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    // {selector} or {selector,more}
    local s(more='') = f.sel(c.oomExporterSelector, more),
    local n = f.num,
    // A cgroup's Kubernetes namespace/pod/container when the exporter knows
    // them, else its path.
    local workload = '{{ if $labels.pod }}{{ $labels.namespace }}/{{ $labels.pod }}'
                     + '{{ if $labels.container }}/{{ $labels.container }}{{ end }}'
                     + '{{ else }}cgroup {{ $labels.cgroup }}{{ end }}',
    local alert(name, severity, expr, summary, description, wait=null) = {
      alert: name,
      expr: expr,
      [if wait != null then 'for']: wait,
      labels: { severity: severity },
      annotations: {
        summary: summary,
        description: description,
        runbook_url: c.runbookURLPattern % name,
      },
    },

    groups+: [
      {
        name: 'oom-kills',
        rules: [
          // oom_kills_total is unlabelled and present at 0 from the first
          // scrape, so the first kill of a victim never seen before counts;
          // a restarted exporter starts from 0 and increase() sees a reset,
          // not a kill. The window keeps the alert firing long enough to see.
          alert(
            'OOMKill', 'warning',
            'increase(oom_kills_total%s[%s]) > 0' % [s(), c.oomKillWindow],
            // Names the newest victim's namespace/pod/container when known.
            'OOM kill on {{ $labels.instance }}{{ with printf `topk(1, oom_victim_last_kill_timestamp_seconds'
            + s('instance="%s"') + ')` $labels.instance | query }}{{ with first . }}{{ if .Labels.pod }} in '
            + '{{ .Labels.namespace }}/{{ .Labels.pod }}{{ if .Labels.container }}/{{ .Labels.container }}{{ end }}'
            + '{{ end }}{{ end }}{{ end }}',
            "The kernel's OOM killer killed {{ $value | printf \"%.0f\" }} process(es) on {{ $labels.instance }} in the last "
            + f.words(c.oomKillWindow)
            + '. Victims: `oom_exporter kills` on the host, GET /kills on the exporter, or oom_victim_kills_total.'
            + '{{ with printf `oom_last_kill_top_task_info' + s('instance="%s"') + '` $labels.instance | query }}{{ with first . }}'
            + " The most memory at the last kill (largest RSS in the kernel's report) was held by {{ .Labels.comm }}.{{ end }}{{ end }}",
          ),
          alert(
            'OOMKillStorm', 'critical',
            'increase(oom_kills_total%s[%s]) >= %s' % [s(), c.oomKillStormWindow, n(c.oomKillStormCount)],
            'OOM kill storm on {{ $labels.instance }}',
            '{{ $value | printf "%.0f" }} OOM kills on {{ $labels.instance }} in ' + f.words(c.oomKillStormWindow)
            + ': something is being killed and restarted in a loop, or the host is out of memory.',
          ),
        ],
      },
      {
        name: 'oom-pressure',
        rules: [
          // Share of wall time in which all non-idle tasks waited for memory.
          alert(
            'MemoryPressureHigh', 'warning',
            'rate(oom_pressure_stalled_seconds_total%s[%s]) > %s'
            % [s('resource="memory",kind="full"'), c.memoryPressureHighWindow, n(c.memoryPressureHighRatio)],
            'Memory pressure on {{ $labels.instance }}',
            'All non-idle tasks on {{ $labels.instance }} were stalled waiting for memory {{ $value | humanizePercentage }} of the time over '
            + f.words(c.memoryPressureHighWindow) + ' (PSI memory full).',
            wait=c.memoryPressureHighFor,
          ),
          // The kernel's 10 s average, so it fires within seconds: before
          // systemd-oomd's default kill point (60% full pressure over 30 s).
          alert(
            'MemoryPressureCritical', 'critical',
            'oom_pressure_stalled_ratio%s > %s'
            % [s('resource="memory",kind="full",window="10s"'), n(c.memoryPressureCriticalRatio)],
            'Severe memory pressure on {{ $labels.instance }}: OOM kills are near',
            'All non-idle tasks on {{ $labels.instance }} are stalled waiting for memory {{ $value | humanizePercentage }} of the time '
            + "(PSI memory full, 10 s average). systemd-oomd kills at 60% over 30 s; the kernel's OOM killer follows.",
            wait=c.memoryPressureCriticalFor,
          ),
        ],
      },
      {
        name: 'oom-memory',
        rules: [
          // MemAvailable, never MemFree; gated on pressure so that a host
          // whose memory is full of reclaimable cache, and not stalling,
          // stays quiet.
          alert(
            'MemoryAvailableLow', 'warning',
            |||
              oom_memory_available_bytes%(s)s / oom_memory_total_bytes%(s)s < %(ratio)s
              and on(instance, job)
              rate(oom_pressure_stalled_seconds_total%(some)s[%(window)s]) > %(stall)s
            ||| % {
              s: s(),
              some: s('resource="memory",kind="some"'),
              ratio: n(c.memoryAvailableLowRatio),
              window: c.memoryAvailableLowStallWindow,
              stall: n(c.memoryAvailableLowStallRatio),
            },
            'Low available memory on {{ $labels.instance }}',
            'Only {{ $value | humanizePercentage }} of memory is available on {{ $labels.instance }} and tasks are stalling for memory.',
            wait=c.memoryAvailableLowFor,
          ),
          alert(
            'MemoryExhaustionPredicted', 'warning',
            |||
              oom_memory_available_bytes%(s)s / oom_memory_total_bytes%(s)s < %(ratio)s
              and on(instance, job)
              predict_linear(oom_memory_available_bytes%(s)s[%(trend)s], %(horizon)d) < 0
            ||| % {
              s: s(),
              ratio: n(c.memoryExhaustionRatio),
              trend: c.memoryExhaustionTrendWindow,
              horizon: f.seconds(c.memoryExhaustionHorizon),
            },
            'Memory on {{ $labels.instance }} runs out within %s at this rate' % f.words(c.memoryExhaustionHorizon),
            '{{ $labels.instance }} has {{ $value | humanizePercentage }} of memory available and the last %s trend reaches zero within %s.'
            % [f.possessive(c.memoryExhaustionTrendWindow), f.words(c.memoryExhaustionHorizon)],
            wait=c.memoryExhaustionFor,
          ),
          // Only where swap exists: a swapless host has oom_swap_total_bytes 0.
          alert(
            'SwapFillingUp', 'warning',
            |||
              (1 - oom_swap_free_bytes%(s)s / oom_swap_total_bytes%(s)s) > %(ratio)s
              and on(instance, job) oom_swap_total_bytes%(s)s > 0
            ||| % { s: s(), ratio: n(c.swapFillingUpRatio) },
            'Swap {{ $value | humanizePercentage }} full on {{ $labels.instance }}',
            '{{ $value | humanizePercentage }} of swap is used on {{ $labels.instance }}. '
            + 'When it is full, the OOM killer is the only way left to free anonymous memory.',
            wait=c.swapFillingUpFor,
          ),
          // Only in strict overcommit mode (vm.overcommit_memory=2), where
          // allocations fail at CommitLimit.
          alert(
            'CommitLimitNear', 'warning',
            |||
              oom_memory_committed_bytes%(s)s / oom_memory_commit_limit_bytes%(s)s > %(ratio)s
              and on(instance, job) oom_vm_overcommit_memory%(s)s == 2
            ||| % { s: s(), ratio: n(c.commitLimitNearRatio) },
            'Commit limit {{ $value | humanizePercentage }} used on {{ $labels.instance }}',
            'vm.overcommit_memory is 2 on {{ $labels.instance }} and Committed_AS has reached '
            + '{{ $value | humanizePercentage }} of CommitLimit: allocations will start failing.',
            wait=c.commitLimitNearFor,
          ),
        ],
      },
      {
        name: 'oom-cgroups',
        rules: [
          // Above the ratio of its own limit, still growing, and at the
          // trend window's trend past it within the horizon. Usage includes
          // page cache: a cgroup sitting flat at its limit (cache being
          // reclaimed) is not growing and stays quiet.
          alert(
            'CgroupMemoryNearLimit', 'warning',
            |||
              oom_cgroup_memory_usage_bytes%(s)s / oom_cgroup_memory_limit_bytes%(s)s > %(ratio)s
              and deriv(oom_cgroup_memory_usage_bytes%(s)s[%(trend)s]) > 0
              and predict_linear(oom_cgroup_memory_usage_bytes%(s)s[%(trend)s], %(horizon)d) > oom_cgroup_memory_limit_bytes%(s)s
            ||| % {
              s: s(),
              ratio: n(c.cgroupMemoryNearLimitRatio),
              trend: c.cgroupMemoryNearLimitTrendWindow,
              horizon: f.seconds(c.cgroupMemoryNearLimitHorizon),
            },
            workload + ' is near its memory limit on {{ $labels.instance }}',
            'The memory cgroup {{ $labels.cgroup }} (pod {{ $labels.pod_uid }}, unit {{ $labels.unit }}) on {{ $labels.instance }} '
            + 'uses {{ $value | humanizePercentage }} of its limit and is still growing: '
            + 'its processes will be OOM-killed when it gets there.',
            wait=c.cgroupMemoryNearLimitFor,
          ),
          // From the cgroup's own counters: works without /dev/kmsg. Fires
          // on an increase, and on a cgroup first seen with kills already
          // counted (a container killed before its first scrape), except
          // within one window of the exporter's own start, when every series
          // is new. On cgroup v2 a kill also counts in every ancestor (pod,
          // slice), so one kill can fire for several cgroups of one
          // instance; Alertmanager groups them by instance.
          alert(
            'CgroupOOMKill', 'warning',
            |||
              increase(oom_cgroup_oom_kills_total%(s)s[%(window)s]) > 0
              or (
                (oom_cgroup_oom_kills_total%(s)s > 0 unless oom_cgroup_oom_kills_total%(s)s offset %(window)s)
                and on (instance, job) (time() - oom_exporter_start_time_seconds%(s)s > %(grace)d)
              )
            ||| % { s: s(), window: c.cgroupOOMKillWindow, grace: f.seconds(c.cgroupOOMKillWindow) },
            'OOM kill in ' + workload + ' on {{ $labels.instance }}',
            '{{ $value | printf "%.0f" }} process(es) were OOM-killed in the memory cgroup {{ $labels.cgroup }} '
            + '(pod {{ $labels.pod_uid }}, container {{ $labels.container_id }}, unit {{ $labels.unit }}) on '
            + '{{ $labels.instance }} in the last ' + f.words(c.cgroupOOMKillWindow) + ': it hit its memory limit.',
          ),
          // systemd-oomd or oomd killed a cgroup from userspace: no kernel
          // OOM, no "Killed process" line. From the host-wide counter, at 0
          // where the killer is installed, so the first kill is an increase.
          // After an exporter restart the counter holds only what the cgroups
          // still carry and drops: no increase is taken over a window with
          // that reset (a kill then fires once the reset has left the
          // window). The second part catches a counter first seen above 0 (a
          // killer not detected), except within one window of the exporter's
          // start.
          alert(
            'UserspaceOOMKill', 'warning',
            |||
              (increase(oom_userspace_kills_total%(s)s[%(window)s]) > 0 unless resets(oom_userspace_kills_total%(s)s[%(window)s]) > 0)
              or (
                (oom_userspace_kills_total%(s)s > 0 unless oom_userspace_kills_total%(s)s offset %(window)s)
                and on (instance, job) (time() - oom_exporter_start_time_seconds%(s)s > %(grace)d)
              )
            ||| % { s: s(), window: c.userspaceOOMKillWindow, grace: f.seconds(c.userspaceOOMKillWindow) },
            '{{ $labels.killer }} killed processes on {{ $labels.instance }}',
            '{{ $labels.killer }} killed {{ $value | printf "%.0f" }} cgroup(s) on {{ $labels.instance }} in the last '
            + f.words(c.userspaceOOMKillWindow) + ' for memory pressure or swap use: their processes are gone without '
            + 'a kernel OOM kill or a "Killed process" line. oom_cgroup_userspace_kills_total and `oom_exporter kills` name the cgroups.',
          ),
        ],
      },
      {
        name: 'oom-processes',
        rules: [
          // Grew by more than processMemoryLeakBytes over the window and
          // still growing.
          alert(
            'ProcessMemoryLeakSuspect', 'warning',
            |||
              delta(oom_process_resident_memory_bytes%(s)s[%(window)s]) > %(bytes)s
              and deriv(oom_process_resident_memory_bytes%(s)s[%(growth)s]) > 0
            ||| % {
              s: s(),
              window: c.processMemoryLeakWindow,
              bytes: n(c.processMemoryLeakBytes),
              growth: c.processMemoryLeakGrowthWindow,
            },
            '{{ $labels.comm }} (pid {{ $labels.pid }}) keeps growing on {{ $labels.instance }}',
            'Resident memory of {{ $labels.comm }} (pid {{ $labels.pid }}, cgroup {{ $labels.cgroup }}) on {{ $labels.instance }} '
            + 'grew by {{ $value | humanize1024 }}B in ' + f.words(c.processMemoryLeakWindow)
            + ' and is still growing: a leak suspect.',
            wait=c.processMemoryLeakFor,
          ),
          // A process marked critical (--collector.process.include) whose
          // oom_score_adj was not lowered: the OOM killer may pick it.
          alert(
            'CriticalProcessUnprotected', 'warning',
            'oom_process_score_adj%(s)s >= 0 and oom_process_included%(s)s == 1' % { s: s() },
            'Critical process {{ $labels.comm }} is not protected from the OOM killer',
            '{{ $labels.comm }} (pid {{ $labels.pid }}) on {{ $labels.instance }} matches the critical-process list '
            + 'but has oom_score_adj {{ $value }}; set OOMScoreAdjust= (systemd) or a negative oom_score_adj.',
            wait=c.criticalProcessUnprotectedFor,
          ),
        ],
      },
      {
        name: 'oom-exporter',
        rules: [
          alert(
            'OOMExporterDown', 'warning',
            'up%s == 0' % s(),
            'oom_exporter on {{ $labels.instance }} is down',
            'Prometheus cannot scrape oom_exporter on {{ $labels.instance }}: OOM kills and memory pressure there go unseen.',
            wait=c.exporterDownFor,
          ),
          alert(
            'OOMExporterKmsgDown', 'warning',
            'oom_kmsg_up%s == 0' % s(),
            'oom_exporter cannot read /dev/kmsg on {{ $labels.instance }}',
            "Kills on {{ $labels.instance }} are still counted from the kernel's counter, but without victims. "
            + "The exporter's log says what to change (CAP_SYSLOG, device mount).",
            wait=c.exporterKmsgDownFor,
          ),
          alert(
            'OOMExporterKmsgRecordsLost', 'info',
            'increase(oom_kmsg_records_lost_total%s[%s]) > 0' % [s(), c.exporterKmsgRecordsLostWindow],
            'Kernel log records lost on {{ $labels.instance }}',
            '{{ $value | printf "%.0f" }} kernel log records on {{ $labels.instance }} were overwritten '
            + 'before oom_exporter read them; kills among them are counted as unattributed.',
          ),
          alert(
            'OOMExporterCollectorFailing', 'warning',
            'oom_scrape_collector_success%s == 0' % s(),
            'oom_exporter collector {{ $labels.collector }} failing on {{ $labels.instance }}',
            'The {{ $labels.collector }} collector on {{ $labels.instance }} could not read all of its sources for '
            + f.words(c.exporterCollectorFailingFor) + "; the exporter's log names the file and the problem.",
            wait=c.exporterCollectorFailingFor,
          ),
          // A refused reload keeps the previous settings, so the exporter
          // keeps serving; the file on disk is not what runs (e.g. a
          // template that rendered empty would have turned TLS or
          // authentication off).
          alert(
            'OOMExporterWebConfigReloadFailed', 'warning',
            'max_over_time(oom_exporter_web_config_last_reload_successful%s[%s]) == 0'
            % [s(), c.exporterWebConfigReloadWindow],
            'oom_exporter web configuration not applied on {{ $labels.instance }}',
            'oom_exporter on {{ $labels.instance }} refused to reload its --web.config.file and still serves with the settings '
            + "it had before; the file on disk is not what runs. The exporter's log says why.",
            wait=c.exporterWebConfigReloadFailedFor,
          ),
          alert(
            'OOMExporterCertificateExpiring', 'warning',
            'oom_exporter_web_tls_certificate_not_after_timestamp_seconds%s - time() < %s * 86400'
            % [s(), n(c.exporterCertificateExpiryDays)],
            'oom_exporter TLS certificate on {{ $labels.instance }} expires soon',
            'The certificate oom_exporter serves on {{ $labels.instance }} expires in {{ $value | humanizeDuration }} '
            + '(negative: already expired); Prometheus will fail to scrape it once it has.',
            wait=c.exporterCertificateExpiringFor,
          ),
        ],
      },
    ],
  },
}
