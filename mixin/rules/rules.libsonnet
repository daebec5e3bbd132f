// Recording rules (none yet): prometheusRules.groups, rendered into
// alerts/oom_exporter.rules.yml before the alerts.
{
  prometheusRules+:: {
    groups+: [],
  },
}
