// The repository's files rendered from the mixin with its default _config,
// keyed by their path from the repository root. mixin/generate.py writes
// them (jsonnet -S -m); do not edit the outputs.
local mixin = import 'mixin.libsonnet';

local yaml(v) = std.manifestYamlDoc(v, indent_array_in_object=true, quote_keys=false) + '\n';
local header(what) = '# Generated from mixin/ by `python3 mixin/generate.py`; do not edit.\n# ' + what + '\n';
local groups = mixin.prometheusAlerts.groups + mixin.prometheusRules.groups;
local json(v) = std.manifestJsonEx(v, '  ') + '\n';
local labels = { 'app.kubernetes.io/name': 'oom-exporter' };

{
  'alerts/oom_exporter.rules.yml':
    header('Rules: mixin/alerts/alerts.libsonnet; thresholds: mixin/config.libsonnet; tests: alerts/oom_exporter.test.yml.')
    + yaml({ groups: groups }),

  'deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml':
    header('The rules of alerts/oom_exporter.rules.yml for the Prometheus Operator.')
    + yaml({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: 'oom-exporter', labels: labels },
      spec: { groups: groups },
    }),

  // The dashboards as Grafana imports them (the compose demo provisions them).
  'dashboards/oom-host.json': json(mixin.grafanaDashboards['oom-host.json']),
  'dashboards/oom-fleet.json': json(mixin.grafanaDashboards['oom-fleet.json']),

  // The label grafana_dashboard: "1" is what Grafana's dashboard sidecar
  // picks up (the kube-prometheus-stack default).
  'deploy/kubernetes/dashboards-configmap.yaml':
    header("The dashboards for Grafana's dashboard sidecar (label grafana_dashboard).")
    + yaml({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'oom-exporter-dashboards', labels: labels { grafana_dashboard: '1' } },
      data: {
        [name]: json(mixin.grafanaDashboards[name])
        for name in std.objectFields(mixin.grafanaDashboards)
      },
    }),
}
