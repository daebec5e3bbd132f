#!/usr/bin/env python3
"""Builds the Grafana dashboards with Grafana's Foundation SDK and writes
them into the mixin: mixin/dashboards/oom-host.json and oom-fleet.json.

The SDK (`pip install -r dashboards/requirements.txt`; tests/run installs
it into its venv) has builders generated from Grafana's dashboard schema,
so a panel option, variable or link the schema does not know is an error
here rather than a silently ignored key in Grafana.

The JSON it writes is a template: every query selects the exporter's
series with the placeholder SELECTOR, which the mixin replaces with its
`oomExporterSelector` (mixin/dashboards/dashboards.libsonnet; it also sets
the refresh and time range from its _config). `python3 mixin/generate.py`
then renders dashboards/oom-host.json and oom-fleet.json from the mixin.

Edit this file, run it, then `python3 mixin/generate.py`, and commit all
(`--check` only says whether the committed templates are what this file
writes; tests/it/drift.rs runs it). The conventions (checked by
tests/it/dashboards.rs): a `datasource` variable and no `__inputs`; `job`
and `instance` multi-select variables with `.+` as the all-value; every
selector filtered by the mixin's selector, `$job` and `$instance`;
`$__rate_interval` in every rate; a unit and a description on every panel;
fixed uid; pinned schemaVersion; not editable.
"""
import json
import os
import sys

try:
    from grafana_foundation_sdk.builders import dashboard as dash
    from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
    from grafana_foundation_sdk.builders.common import (ReduceDataOptions, StackingConfig,
                                                        VizLegendOptions, VizTooltipOptions)
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as model
    from grafana_foundation_sdk.models.prometheus import PromQueryFormat
except ImportError:
    sys.exit("dashboards/generate.py: grafana-foundation-sdk is not installed; "
             "pip install -r dashboards/requirements.txt (tests/run puts it in target/test-venv)")

SCHEMA = 39
# Replaced by the mixin with its oomExporterSelector (e.g. job="oom").
SELECTOR = "__OOM_EXPORTER_SELECTOR__"
DS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
SEL = f'{SELECTOR},job=~"$job",instance=~"$instance"'
HERE = os.path.dirname(os.path.abspath(__file__))
# Victims in a Kubernetes pod, of the namespaces chosen.
VICTIMS = f'oom_victim_kills_total{{{SEL},namespace=~"$namespace",pod!=""}}'
# Table columns: the workload's names right after the command.
NAMES_FIRST = {"instance": 0, "comm": 1, "namespace": 2, "pod": 3, "container": 4, "pid": 5, "cgroup": 6}
OUT = os.path.join(os.path.dirname(HERE), "mixin", "dashboards")


def m(name, more=""):
    """A metric with the dashboard's selector (and more matchers)."""
    return f"{name}{{{SEL}{',' + more if more else ''}}}"


def variables(namespace=False):
    def query_var(name, query, all_value=".+"):
        return (dash.QueryVariable(name).label(name).datasource(DS)
                .query({"query": query, "refId": f"{name}-var"})
                .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED).multi(True)
                .include_all(True).all_value(all_value)
                .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
                .sort(model.VariableSort.ALPHABETICAL_ASC).hide(model.VariableHide.DONT_HIDE))
    return [
        dash.DatasourceVariable("datasource").label("Data source").type("prometheus")
        .hide(model.VariableHide.DONT_HIDE).regex(""),
        query_var("job", f"label_values(oom_exporter_build_info{{{SELECTOR}}}, job)"),
        query_var("instance", f'label_values(oom_exporter_build_info{{{SELECTOR},job=~"$job"}}, instance)'),
    ] + ([
        # Kubernetes namespaces of the victims; All also keeps kills without one.
        query_var("namespace", f"label_values({m('oom_victim_kills_total')}, namespace)", ".*"),
    ] if namespace else [])


def queries(builder, targets, instant=False):
    for i, (expr, legend) in enumerate(targets):
        q = prometheus.Dataquery().ref_id(chr(65 + i)).datasource(DS).expr(expr).legend_format(legend)
        if instant:
            q = q.format(PromQueryFormat.TABLE).instant()
        builder = builder.with_target(q)
    return builder


def common_panel(builder, title, description, unit, pos):
    x, y, w, h = pos
    return (builder.title(title).description(description).datasource(DS).unit(unit)
            .grid_pos(model.GridPos(x=x, y=y, w=w, h=h)))


def graph(title, description, unit, targets, pos, stack=False, bars=False):
    p = common_panel(timeseries.Panel(), title, description, unit, pos)
    if bars:
        p = p.draw_style(common.GraphDrawStyle.BARS).fill_opacity(60)
    else:
        p = (p.stacking(StackingConfig().mode(common.StackingMode.NORMAL if stack else common.StackingMode.NONE))
             .fill_opacity(20 if stack else 5))
    p = (p.legend(VizLegendOptions().display_mode(common.LegendDisplayMode.TABLE)
                  .placement(common.LegendPlacement.RIGHT).show_legend(True))
         .tooltip(VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.NONE)))
    return queries(p, targets)


def grid(title, description, unit, targets, pos, transformations, overrides=()):
    """A table of instant queries merged on their labels."""
    p = common_panel(table.Panel(), title, description, unit, pos)
    for t in transformations:
        p = p.with_transformation(model.DataTransformerConfig(id_val=t[0], options=t[1]))
    for name, props in overrides:
        p = p.override_by_name(name, [model.DynamicConfigValue(id_val=k, value=v) for k, v in props])
    return queries(p, targets, instant=True)


def organize(exclude, rename, index=None):
    options = {"excludeByName": {k: True for k in exclude}, "renameByName": rename}
    if index:
        options["indexByName"] = index
    return ("organize", options)


MERGE = ("merge", {})
NOT_NULL_A = ("filterByValue", {"filters": [{"fieldName": "Value #A", "config": {"id": "isNull"}}],
                                "type": "exclude", "match": "any"})


def sort_by(field):
    return ("sortBy", {"sort": [{"field": field, "desc": True}]})


def host_panels():
    return [
        graph("Available memory", "MemAvailable as a share of MemTotal: what new work can get without swapping. Not MemFree.",
              "percentunit", [(f"{m('oom_memory_available_bytes')} / {m('oom_memory_total_bytes')}", "{{instance}}")], (0, 0, 8, 8)),
        graph("Time to memory exhaustion", "When MemAvailable reaches zero at the last hour's trend. While memory is not shrinking the trend is taken as 1 byte/s, which reads as centuries: never.",
              "s", [(f"{m('oom_memory_available_bytes')} / clamp_min(-deriv({m('oom_memory_available_bytes')}[1h]), 1)", "{{instance}}")], (8, 0, 8, 8)),
        queries(common_panel(stat.Panel(), "Next OOM victim", "The process with the highest oom_score right now, and that score (0-2000).", "none", (16, 0, 8, 8))
                .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
                .reduce_options(ReduceDataOptions().calcs(["lastNotNull"])),
                [(f"{m('oom_process_max_score')} * on(instance, job) group_left(comm, pid) {m('oom_process_next_victim_info')}", "{{instance}}: {{comm}} ({{pid}})")]),
        graph("Memory composition", "Where memory went (/proc/meminfo): anonymous, page cache (Cached minus Shmem, which Cached includes), buffers, shared/tmpfs, slab, kernel stacks, page tables, free.",
              "bytes", [
                  (m("oom_memory_anon_bytes"), "{{instance}} anon"),
                  (f"{m('oom_memory_cached_bytes')} - {m('oom_memory_shmem_bytes')}", "{{instance}} page cache (without shmem)"),
                  (m("oom_memory_buffers_bytes"), "{{instance}} buffers"),
                  (m("oom_memory_shmem_bytes"), "{{instance}} shmem/tmpfs"),
                  (m("oom_memory_slab_reclaimable_bytes"), "{{instance}} slab reclaimable"),
                  (m("oom_memory_slab_unreclaimable_bytes"), "{{instance}} slab unreclaimable"),
                  (m("oom_memory_kernel_stack_bytes"), "{{instance}} kernel stacks"),
                  (m("oom_memory_page_tables_bytes"), "{{instance}} page tables"),
                  (m("oom_memory_free_bytes"), "{{instance}} free"),
              ], (0, 8, 12, 9), stack=True),
        graph("Swap", "Swap in use against swap size.", "bytes", [
            (f"{m('oom_swap_total_bytes')} - {m('oom_swap_free_bytes')}", "{{instance}} used"),
            (m("oom_swap_total_bytes"), "{{instance}} total"),
        ], (12, 8, 6, 9)),
        graph("Swap traffic", "Pages swapped in and out per second (pswpin, pswpout); sustained swap-in means thrashing.", "short", [
            (f"rate({m('oom_swap_in_pages_total')}[$__rate_interval])", "{{instance}} pages in/s"),
            (f"rate({m('oom_swap_out_pages_total')}[$__rate_interval])", "{{instance}} pages out/s"),
        ], (18, 8, 6, 9)),
        graph("Commit vs limit", "Committed_AS against CommitLimit; the limit is enforced only when vm.overcommit_memory is 2.", "bytes", [
            (m("oom_memory_committed_bytes"), "{{instance}} committed"),
            (m("oom_memory_commit_limit_bytes"), "{{instance}} limit"),
        ], (0, 17, 12, 8)),
        graph("Pressure stall (PSI)", "Share of time tasks were stalled: some = at least one task, full = all non-idle tasks, for memory, io and cpu.",
              "percentunit", [("rate(" + m("oom_pressure_stalled_seconds_total", 'resource=~"memory|io|cpu"') + "[$__rate_interval])", "{{instance}} {{resource}} {{kind}}")],
              (12, 17, 12, 8)),
        graph("OOM kills", "OOM kills per interval (every kill the kernel made since the exporter started; unattributed ones are those only the kernel's counter saw).", "short", [
            (f"increase({m('oom_kills_total')}[$__rate_interval])", "{{instance}} kills"),
            (f"increase({m('oom_kills_unattributed_total')}[$__rate_interval])", "{{instance}} unattributed"),
        ], (0, 25, 6, 8), bars=True),
        graph("Userspace OOM kills", "Cgroups killed per interval by systemd-oomd or oomd (memory pressure or swap use), which leave no kernel OOM kill; the series exists at 0 where the killer is installed. The cgroups: oom_cgroup_userspace_kills_total.",
              "short", [(f"increase({m('oom_userspace_kills_total')}[$__rate_interval])", "{{instance}} {{killer}}")],
              (6, 25, 6, 8), bars=True),
        grid("Recent OOM victims", "Victims since the exporter started: command, Kubernetes namespace, pod and container (when the exporter can read the kubelet's log directories), memory cgroup, and the time of their last kill. Click a command for the incident report of its last kill (the exporter's /report, at the instance's address).",
             "dateTimeAsIso", [
                 (f"{m('oom_victim_last_kill_timestamp_seconds')} * 1000", ""),
                 (m("oom_victim_kills_total"), ""),
             ], (12, 25, 12, 8),
             [MERGE, organize(["Time", "job", "__name__"], {"Value #A": "last kill", "Value #B": "kills"}, NAMES_FIRST), sort_by("last kill")],
             [("kills", [("unit", "short"), ("decimals", 0)]),
              ("comm", [("links", [{"title": "Incident report of this kill",
                                    "url": "http://${__data.fields.instance}/report?comm=${__data.fields.comm:percentencode}&cgroup=${__data.fields.cgroup:percentencode}",
                                    "targetBlank": True}])])]),
        grid("Top processes by oom_score", "Who the OOM killer would pick first, with oom_score_adj (-1000 never, 1000 first).", "none", [
            (f"topk by (instance) (10, {m('oom_process_score')})", ""),
            (m("oom_process_score_adj"), ""),
        ], (0, 33, 12, 9),
            [MERGE, NOT_NULL_A, organize(["Time", "job"], {"Value #A": "oom_score", "Value #B": "oom_score_adj"}, NAMES_FIRST), sort_by("oom_score")]),
        grid("Top processes by RSS", "The largest reported processes by resident memory, with oom_score_adj.", "bytes", [
            (f"topk by (instance) (10, {m('oom_process_resident_memory_bytes')})", ""),
            (m("oom_process_score_adj"), ""),
        ], (12, 33, 12, 9),
            [MERGE, NOT_NULL_A, organize(["Time", "job"], {"Value #A": "RSS", "Value #B": "oom_score_adj"}, NAMES_FIRST), sort_by("RSS")],
            [("oom_score_adj", [("unit", "none")])]),
        dash.Row("Containers and services (memory cgroups)").collapsed(False).grid_pos(model.GridPos(x=0, y=42, w=24, h=1)),
        graph("Cgroups by usage of their limit", "Memory cgroups with a limit (containers, pods, services), fullest first: usage / limit. At 100% the kernel OOM-kills inside the cgroup.",
              "percentunit", [(f"topk by (instance) (10, {m('oom_cgroup_memory_usage_bytes')} / {m('oom_cgroup_memory_limit_bytes')})", "{{instance}} {{cgroup}}")],
              (0, 43, 8, 9)),
        graph("Memory pressure per cgroup", "Share of time all tasks of the cgroup waited for memory (PSI full, cgroup v2 only).",
              "percentunit", [("topk by (instance) (10, rate(" + m("oom_cgroup_pressure_stalled_seconds_total", 'kind="full"') + "[$__rate_interval]))", "{{instance}} {{cgroup}}")],
              (8, 43, 8, 9)),
        graph("OOM kills per cgroup", "Processes OOM-killed per interval, by memory cgroup, from the cgroup's own counters (no /dev/kmsg needed). On cgroup v2 a kill also counts in every ancestor.",
              "short", [(f"topk by (instance) (10, increase({m('oom_cgroup_oom_kills_total')}[$__rate_interval]))", "{{instance}} {{cgroup}}")],
              (16, 43, 8, 9)),
    ]


def fleet_panels():
    link = "/d/oom-exporter-host/oom-exporter-host?var-datasource=${datasource}&var-job=${__data.fields.job}&var-instance=${__data.fields.instance}"
    full = 'resource="memory",kind="full"'
    return [
        grid("Instances by OOM risk", "Every instance ranked by memory full pressure, then available memory and kills in the last 24 h. Click an instance for its host dashboard.",
             "percentunit", [
                 (f"rate({m('oom_pressure_stalled_seconds_total', full)}[$__rate_interval])", ""),
                 (f"{m('oom_memory_available_bytes')} / {m('oom_memory_total_bytes')}", ""),
                 (f"increase({m('oom_kills_total')}[24h])", ""),
                 (m("oom_process_max_score"), ""),
             ], (0, 0, 24, 16),
             [MERGE, organize(["Time", "resource", "kind"], {"Value #A": "memory full pressure", "Value #B": "available",
                                                             "Value #C": "kills 24h", "Value #D": "max oom_score"}),
              sort_by("memory full pressure")],
             [("instance", [("links", [{"title": "Host dashboard", "url": link}])]),
              ("kills 24h", [("unit", "short"), ("decimals", 0)]),
              ("max oom_score", [("unit", "none")])]),
        graph("OOM kills across the fleet", "OOM kills per interval, per instance.",
              "short", [(f"sum by (instance) (increase({m('oom_kills_total')}[$__rate_interval]))", "{{instance}}")], (0, 16, 12, 8)),
        grid("OOM kills by namespace/pod", "Kubernetes pods whose processes were OOM-killed in the dashboard's time range, most kills first (a victim series that appeared in the range counts all its kills). Needs the kubelet's log directories on the exporter (docs/kubernetes.md); $namespace filters it.",
             "short", [(f"sort_desc(sum by (namespace, pod) (({VICTIMS} unless {VICTIMS} offset $__range) or increase({VICTIMS}[$__range])))", "")],
             (0, 24, 24, 9), [organize(["Time"], {"Value": "kills"})]).decimals(0),
        graph("Memory full pressure across the fleet", "Share of time all non-idle tasks waited for memory, per instance.",
              "percentunit", [(f"rate({m('oom_pressure_stalled_seconds_total', full)}[$__rate_interval])", "{{instance}}")], (12, 16, 12, 8)),
    ]


def board(uid, title, refresh, time_from, panels, link, annotations=(), namespace=False):
    b = (dash.Dashboard(title).uid(uid).tags(["oom_exporter"]).version(1).readonly()
         .tooltip(model.DashboardCursorSync.CROSSHAIR).time(time_from, "now").refresh(refresh)
         .timezone("browser").variables(variables(namespace))
         .link(dash.DashboardLink(link[0]).type(model.DashboardLinkType.LINK).url(link[1]).icon("dashboard")))
    for a in annotations:
        b = b.annotation(a)
    for p in panels:
        b = b.with_row(p) if isinstance(p, dash.Row) else b.with_panel(p)
    out = json.loads(json.dumps(b.build(), cls=JSONEncoder))
    out["schemaVersion"] = SCHEMA
    for i, p in enumerate(out["panels"], 1):
        p["id"] = i
    # What the SDK's builders cannot say: a query variable's displayed
    # definition (not in the schema), the datasource variable's refresh (no
    # builder method) and an empty annotation list (omitted when empty).
    for v in out["templating"]["list"]:
        if v["type"] == "query":
            v["definition"] = v["query"]["query"]
        if v["type"] == "datasource":
            v["refresh"] = int(model.VariableRefresh.ON_DASHBOARD_LOAD)
    out.setdefault("annotations", {}).setdefault("list", [])
    return out


def host():
    kills = (dash.AnnotationQuery().name("OOM kills").enable(True).icon_color("red").datasource(DS)
             .expr(f"{m('oom_victim_last_kill_timestamp_seconds')} * 1000"))
    out = board("oom-exporter-host", "OOM exporter / Host", "30s", "now-6h", host_panels(),
                ("Fleet", "/d/oom-exporter-fleet/oom-exporter-fleet"), [kills])
    # Options of Prometheus annotation queries, which the dashboard schema
    # (a generic AnnotationQuery) does not describe.
    out["annotations"]["list"][0].update({
        "useValueForTime": True, "step": "60s", "titleFormat": "OOM kill: {{comm}}",
        "textFormat": "{{instance}} cgroup {{cgroup}} pod {{namespace}}/{{pod}} container {{container}} (pod UID {{pod_uid}}, {{constraint}})",
        "tagKeys": "instance,comm,constraint",
    })
    return out


def fleet():
    return board("oom-exporter-fleet", "OOM exporter / Fleet", "1m", "now-24h", fleet_panels(),
                 ("Host", "/d/oom-exporter-host/oom-exporter-host"), namespace=True)


def main():
    """Writes the templates; with --check, only says which are out of date."""
    check = "--check" in sys.argv[1:]
    stale = []
    for name, built in [("oom-host.json", host()), ("oom-fleet.json", fleet())]:
        text = json.dumps(built, indent=2, sort_keys=True) + "\n"
        path = os.path.join(OUT, name)
        current = open(path).read() if os.path.exists(path) else None
        if check:
            if current != text:
                stale.append(name)
            continue
        with open(path, "w") as f:
            f.write(text)
        print("wrote", os.path.relpath(path))
    if stale:
        print("out of date: " + ", ".join(stale) + "; run python3 dashboards/generate.py", file=sys.stderr)
        sys.exit(1)


main()
