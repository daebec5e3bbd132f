// The Grafana dashboards, keyed by file name. The JSON next to this file is
// built with Grafana's Foundation SDK by dashboards/generate.py, with the
// placeholder __OOM_EXPORTER_SELECTOR__ where the exporter's series are
// selected; here it becomes _config.oomExporterSelector, and each
// dashboard's refresh and time range come from _config.
local placeholder = '__OOM_EXPORTER_SELECTOR__';

// Every string of a JSON value with the placeholder replaced.
local substitute(value, selector) =
  if std.isString(value) then std.strReplace(value, placeholder, selector)
  else if std.isArray(value) then [substitute(v, selector) for v in value]
  else if std.isObject(value) then { [k]: substitute(value[k], selector) for k in std.objectFields(value) }
  else value;

{
  local c = $._config,
  local board(template, refresh, from) =
    assert c.oomExporterSelector != '' : 'oomExporterSelector must not be empty (e.g. job="oom")';
    substitute(template, c.oomExporterSelector) + {
      refresh: refresh,
      time+: { from: from },
    },

  grafanaDashboards+:: {
    'oom-host.json': board(import 'oom-host.json', c.hostDashboardRefresh, c.hostDashboardTimeFrom),
    'oom-fleet.json': board(import 'oom-fleet.json', c.fleetDashboardRefresh, c.fleetDashboardTimeFrom),
  },
}
