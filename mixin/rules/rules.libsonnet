// Recording rules (none yet): prometheusRules.groups, rendered into
// alerts/oom_exporter.rules.yml after the alerts.
{
  prometheusRules+:: {
    groups+: [],
  },
}
