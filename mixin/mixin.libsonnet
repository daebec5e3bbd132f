// oom_exporter's monitoring mixin: prometheusAlerts, prometheusRules and
// grafanaDashboards, set by _config (config.libsonnet). No dependencies:
// vendor this directory and import this file.
(import 'config.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
