// The Grafana dashboards, keyed by file name.
{
  grafanaDashboards+:: {
    'oom-host.json': import '../../dashboards/oom-host.json',
    'oom-fleet.json': import '../../dashboards/oom-fleet.json',
  },
}
