// The mixin's settings. Override any of them from your own jsonnet:
//   (import 'oom-exporter-mixin/mixin.libsonnet') + { _config+:: { oomExporterSelector: 'job="node-oom"' } }
// Durations are Prometheus durations with one unit ('15m', '1h', '7d');
// ratios are fractions (0.10 = 10%).
{
  _config+:: {
    // Label matchers for the exporter's series, without braces. Every alert
    // expression and every dashboard query carries them. Must not be empty.
    oomExporterSelector: 'job="oom"',

    // Label matchers for kube-state-metrics' series (the recording rules
    // that give the exporter's series Kubernetes names). Must not be empty.
    kubeStateMetricsSelector: 'job="kube-state-metrics"',

    // Where each alert's runbook lives; %s is the alert's name.
    runbookURLPattern: 'https://github.com/oom-exporter/oom_exporter/blob/main/docs/runbooks/%s.md',

    // OOMKill: any kill within this window.
    oomKillWindow: '15m',
    // OOMKillStorm: this many kills or more within the window.
    oomKillStormCount: 5,
    oomKillStormWindow: '5m',

    // MemoryPressureHigh: PSI memory full above the ratio over the window.
    memoryPressureHighRatio: 0.10,
    memoryPressureHighWindow: '5m',
    memoryPressureHighFor: '5m',
    // MemoryPressureCritical: the kernel's 10 s PSI memory full average.
    memoryPressureCriticalRatio: 0.40,
    memoryPressureCriticalFor: '15s',

    // MemoryAvailableLow: MemAvailable/MemTotal below the ratio while PSI
    // memory some is above memoryAvailableLowStallRatio.
    memoryAvailableLowRatio: 0.10,
    memoryAvailableLowStallRatio: 0.01,
    memoryAvailableLowStallWindow: '5m',
    memoryAvailableLowFor: '10m',
    // MemoryExhaustionPredicted: below the ratio and, at the trend of the
    // last trend window, at zero within the horizon.
    memoryExhaustionRatio: 0.25,
    memoryExhaustionTrendWindow: '1h',
    memoryExhaustionHorizon: '4h',
    memoryExhaustionFor: '15m',
    // SwapFillingUp: the used share of swap.
    swapFillingUpRatio: 0.80,
    swapFillingUpFor: '10m',
    // CommitLimitNear: Committed_AS / CommitLimit (strict overcommit only).
    commitLimitNearRatio: 0.90,
    commitLimitNearFor: '5m',

    // CgroupMemoryNearLimit: usage / limit above the ratio and, at the trend
    // of the window, past the limit within the horizon.
    cgroupMemoryNearLimitRatio: 0.90,
    cgroupMemoryNearLimitTrendWindow: '30m',
    cgroupMemoryNearLimitHorizon: '1h',
    cgroupMemoryNearLimitFor: '10m',
    // CgroupOOMKill: a kill within the window (also the grace period after
    // the exporter's start for cgroups first seen with kills counted).
    cgroupOOMKillWindow: '15m',
    // UserspaceOOMKill: a kill by systemd-oomd or oomd within the window
    // (also the grace period after the exporter's start).
    userspaceOOMKillWindow: '15m',

    // ProcessMemoryLeakSuspect: grew by more than the bytes over the window
    // and still growing over the second window.
    processMemoryLeakBytes: 256 * 1024 * 1024,
    processMemoryLeakWindow: '1h',
    processMemoryLeakGrowthWindow: '15m',
    processMemoryLeakFor: '30m',
    criticalProcessUnprotectedFor: '15m',

    // The exporter's own health.
    exporterDownFor: '5m',
    exporterKmsgDownFor: '10m',
    exporterKmsgRecordsLostWindow: '15m',
    exporterCollectorFailingFor: '15m',
    exporterWebConfigReloadWindow: '5m',
    exporterWebConfigReloadFailedFor: '10m',
    exporterCertificateExpiryDays: 7,
    exporterCertificateExpiringFor: '15m',

    // Dashboards: default refresh and time range.
    hostDashboardRefresh: '30s',
    hostDashboardTimeFrom: 'now-6h',
    fleetDashboardRefresh: '1m',
    fleetDashboardTimeFrom: 'now-24h',
  },
}
