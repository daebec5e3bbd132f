#!/usr/bin/env python3
"""Writes dashboards/oom-host.json and dashboards/oom-fleet.json.

Edit this file, run `python3 dashboards/generate.py`, commit both
(`--check` only says whether the committed JSON is what this file writes;
tests/it/drift.rs runs it). The
conventions (checked by tests/it/dashboards.rs): a `datasource` variable and
no `__inputs`; `job` and `instance` multi-select variables with `.+` as the
all-value; every selector filtered by both; `$__rate_interval` in every
rate; a unit and a description on every panel; fixed uid; pinned
schemaVersion; not editable.
"""
import json
import os
import sys

SCHEMA = 39
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job",instance=~"$instance"'
HERE = os.path.dirname(os.path.abspath(__file__))
# Victims in a Kubernetes pod, of the namespaces chosen.
VICTIMS = f'oom_victim_kills_total{{{SEL},namespace=~"$namespace",pod!=""}}'
# Table columns: the workload's names right after the command.
NAMES_FIRST = {"instance": 0, "comm": 1, "namespace": 2, "pod": 3, "container": 4, "pid": 5, "cgroup": 6}


def variables(instance_multi=True, namespace=False):
    def query_var(name, query, multi, all_value=".+"):
        return {
            "name": name, "label": name, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": f"{name}-var"}, "definition": query,
            "refresh": 2, "multi": multi, "includeAll": True, "allValue": all_value,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1, "hide": 0,
        }
    return {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "regex": ""},
        query_var("job", "label_values(oom_exporter_build_info, job)", True),
        query_var("instance", 'label_values(oom_exporter_build_info{job=~"$job"}, instance)', instance_multi),
    ] + ([
        # Kubernetes namespaces of the victims; All also keeps kills without one.
        query_var("namespace", f'label_values(oom_victim_kills_total{{{SEL}}}, namespace)', True, ".*"),
    ] if namespace else [])}


_id = [0]


def panel(title, description, unit, targets, x, y, w, h, kind="timeseries", stack=False, extra=None):
    _id[0] += 1
    p = {
        "id": _id[0], "type": kind, "title": title, "description": description, "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(65 + i), "datasource": DS, "expr": expr, "legendFormat": legend,
             **({"format": "table", "instant": True} if kind == "table" else {})}
            for i, (expr, legend) in enumerate(targets)
        ],
    }
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {"stacking": {"mode": "normal" if stack else "none"}, "fillOpacity": 20 if stack else 5}
        p["options"] = {"legend": {"displayMode": "table", "placement": "right"}, "tooltip": {"mode": "multi"}}
    if extra:
        for k, v in extra.items():
            p[k] = v
    return p


def row(title, y):
    """A Grafana row: a titled band across the dashboard above the panels that follow it."""
    _id[0] += 1
    return {"id": _id[0], "type": "row", "title": title, "collapsed": False, "panels": [],
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}}


def host():
    _id[0] = 0
    m = lambda name: f"{name}{{{SEL}}}"
    panels = [
        panel("Available memory", "MemAvailable as a share of MemTotal: what new work can get without swapping. Not MemFree.",
              "percentunit", [(f"{m('oom_memory_available_bytes')} / {m('oom_memory_total_bytes')}", "{{instance}}")], 0, 0, 8, 8),
        panel("Time to memory exhaustion", "When MemAvailable reaches zero at the last hour's trend. While memory is not shrinking the trend is taken as 1 byte/s, which reads as centuries: never.",
              "s", [(f"{m('oom_memory_available_bytes')} / clamp_min(-deriv({m('oom_memory_available_bytes')}[1h]), 1)", "{{instance}}")], 8, 0, 8, 8),
        panel("Next OOM victim", "The process with the highest oom_score right now, and that score (0-2000).",
              "none", [(f"{m('oom_process_max_score')} * on(instance, job) group_left(comm, pid) {m('oom_process_next_victim_info')}", "{{instance}}: {{comm}} ({{pid}})")], 16, 0, 8, 8, kind="stat",
              extra={"options": {"textMode": "value_and_name", "reduceOptions": {"calcs": ["lastNotNull"]}}}),
        panel("Memory composition", "Where memory went (/proc/meminfo): anonymous, page cache (Cached minus Shmem, which Cached includes), buffers, shared/tmpfs, slab, kernel stacks, page tables, free.",
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
              ], 0, 8, 12, 9, stack=True),
        panel("Swap", "Swap in use against swap size.",
              "bytes", [
                  (f"{m('oom_swap_total_bytes')} - {m('oom_swap_free_bytes')}", "{{instance}} used"),
                  (m("oom_swap_total_bytes"), "{{instance}} total"),
              ], 12, 8, 6, 9),
        panel("Swap traffic", "Pages swapped in and out per second (pswpin, pswpout); sustained swap-in means thrashing.",
              "short", [
                  (f"rate({m('oom_swap_in_pages_total')}[$__rate_interval])", "{{instance}} pages in/s"),
                  (f"rate({m('oom_swap_out_pages_total')}[$__rate_interval])", "{{instance}} pages out/s"),
              ], 18, 8, 6, 9),
        panel("Commit vs limit", "Committed_AS against CommitLimit; the limit is enforced only when vm.overcommit_memory is 2.",
              "bytes", [
                  (m("oom_memory_committed_bytes"), "{{instance}} committed"),
                  (m("oom_memory_commit_limit_bytes"), "{{instance}} limit"),
              ], 0, 17, 12, 8),
        panel("Pressure stall (PSI)", "Share of time tasks were stalled: some = at least one task, full = all non-idle tasks, for memory, io and cpu.",
              "percentunit", [(f"rate(oom_pressure_stalled_seconds_total{{{SEL},resource=~\"memory|io|cpu\"}}[$__rate_interval])", "{{instance}} {{resource}} {{kind}}")],
              12, 17, 12, 8),
        panel("OOM kills", "OOM kills per interval (every kill the kernel made since the exporter started; unattributed ones are those only the kernel's counter saw).",
              "short", [
                  (f"increase({m('oom_kills_total')}[$__rate_interval])", "{{instance}} kills"),
                  (f"increase({m('oom_kills_unattributed_total')}[$__rate_interval])", "{{instance}} unattributed"),
              ], 0, 25, 6, 8, extra={"fieldConfig": {"defaults": {"unit": "short", "custom": {"drawStyle": "bars", "fillOpacity": 60}}, "overrides": []}}),
        panel("Userspace OOM kills", "Cgroups killed per interval by systemd-oomd or oomd (memory pressure or swap use), which leave no kernel OOM kill; the series exists at 0 where the killer is installed. The cgroups: oom_cgroup_userspace_kills_total.",
              "short", [(f"increase(oom_userspace_kills_total{{{SEL}}}[$__rate_interval])", "{{instance}} {{killer}}")],
              6, 25, 6, 8, extra={"fieldConfig": {"defaults": {"unit": "short", "custom": {"drawStyle": "bars", "fillOpacity": 60}}, "overrides": []}}),
        panel("Recent OOM victims", "Victims since the exporter started: command, Kubernetes namespace, pod and container (when the exporter can read the kubelet's log directories), memory cgroup, and the time of their last kill. Click a command for the incident report of its last kill (the exporter's /report, at the instance's address).",
              "dateTimeAsIso", [
                  (f"oom_victim_last_kill_timestamp_seconds{{{SEL}}} * 1000", ""),
                  (f"oom_victim_kills_total{{{SEL}}}", ""),
              ], 12, 25, 12, 8, kind="table",
              extra={"transformations": [{"id": "merge", "options": {}},
                                         {"id": "organize", "options": {"excludeByName": {"Time": True, "job": True, "__name__": True},
                                                                         "indexByName": NAMES_FIRST,
                                                                         "renameByName": {"Value #A": "last kill", "Value #B": "kills"}}},
                                         {"id": "sortBy", "options": {"sort": [{"field": "last kill", "desc": True}]}}],
                     "fieldConfig": {"defaults": {"unit": "dateTimeAsIso"}, "overrides": [
                         {"matcher": {"id": "byName", "options": "kills"}, "properties": [{"id": "unit", "value": "short"}, {"id": "decimals", "value": 0}]},
                         {"matcher": {"id": "byName", "options": "comm"}, "properties": [{"id": "links", "value": [
                             {"title": "Incident report of this kill",
                              "url": "http://${__data.fields.instance}/report?comm=${__data.fields.comm:percentencode}&cgroup=${__data.fields.cgroup:percentencode}",
                              "targetBlank": True}]}]}]}}),
        panel("Top processes by oom_score", "Who the OOM killer would pick first, with oom_score_adj (-1000 never, 1000 first).",
              "none", [
                  (f"topk by (instance) (10, oom_process_score{{{SEL}}})", ""),
                  (f"oom_process_score_adj{{{SEL}}}", ""),
              ], 0, 33, 12, 9, kind="table",
              extra={"transformations": [{"id": "merge", "options": {}},
                                         {"id": "filterByValue", "options": {"filters": [{"fieldName": "Value #A", "config": {"id": "isNull"}}], "type": "exclude", "match": "any"}},
                                         {"id": "organize", "options": {"excludeByName": {"Time": True, "job": True}, "indexByName": NAMES_FIRST,
                                                                         "renameByName": {"Value #A": "oom_score", "Value #B": "oom_score_adj"}}},
                                         {"id": "sortBy", "options": {"sort": [{"field": "oom_score", "desc": True}]}}]}),
        panel("Top processes by RSS", "The largest reported processes by resident memory, with oom_score_adj.",
              "bytes", [
                  (f"topk by (instance) (10, oom_process_resident_memory_bytes{{{SEL}}})", ""),
                  (f"oom_process_score_adj{{{SEL}}}", ""),
              ], 12, 33, 12, 9, kind="table",
              extra={"transformations": [{"id": "merge", "options": {}},
                                         {"id": "filterByValue", "options": {"filters": [{"fieldName": "Value #A", "config": {"id": "isNull"}}], "type": "exclude", "match": "any"}},
                                         {"id": "organize", "options": {"excludeByName": {"Time": True, "job": True}, "indexByName": NAMES_FIRST,
                                                                         "renameByName": {"Value #A": "RSS", "Value #B": "oom_score_adj"}}},
                                         {"id": "sortBy", "options": {"sort": [{"field": "RSS", "desc": True}]}}],
                     "fieldConfig": {"defaults": {"unit": "bytes"}, "overrides": [
                         {"matcher": {"id": "byName", "options": "oom_score_adj"}, "properties": [{"id": "unit", "value": "none"}]}]}}),
        row("Containers and services (memory cgroups)", 42),
        panel("Cgroups by usage of their limit", "Memory cgroups with a limit (containers, pods, services), fullest first: usage / limit. At 100% the kernel OOM-kills inside the cgroup.",
              "percentunit", [(f"topk by (instance) (10, oom_cgroup_memory_usage_bytes{{{SEL}}} / oom_cgroup_memory_limit_bytes{{{SEL}}})", "{{instance}} {{cgroup}}")],
              0, 43, 8, 9),
        panel("Memory pressure per cgroup", "Share of time all tasks of the cgroup waited for memory (PSI full, cgroup v2 only).",
              "percentunit", [(f"topk by (instance) (10, rate(oom_cgroup_pressure_stalled_seconds_total{{{SEL},kind=\"full\"}}[$__rate_interval]))", "{{instance}} {{cgroup}}")],
              8, 43, 8, 9),
        panel("OOM kills per cgroup", "Processes OOM-killed per interval, by memory cgroup, from the cgroup's own counters (no /dev/kmsg needed). On cgroup v2 a kill also counts in every ancestor.",
              "short", [(f"topk by (instance) (10, increase(oom_cgroup_oom_kills_total{{{SEL}}}[$__rate_interval]))", "{{instance}} {{cgroup}}")],
              16, 43, 8, 9),
    ]
    return {
        "uid": "oom-exporter-host", "title": "OOM exporter / Host", "tags": ["oom_exporter"],
        "schemaVersion": SCHEMA, "version": 1, "editable": False, "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s", "timezone": "browser",
        "templating": variables(),
        "annotations": {"list": [
            {"name": "OOM kills", "enable": True, "iconColor": "red", "datasource": DS,
             "expr": f"oom_victim_last_kill_timestamp_seconds{{{SEL}}} * 1000",
             "useValueForTime": True, "step": "60s",
             "titleFormat": "OOM kill: {{comm}}", "textFormat": "{{instance}} cgroup {{cgroup}} pod {{namespace}}/{{pod}} container {{container}} (pod UID {{pod_uid}}, {{constraint}})",
             "tagKeys": "instance,comm,constraint"},
        ]},
        "panels": panels,
        "links": [{"title": "Fleet", "type": "link", "url": "/d/oom-exporter-fleet/oom-exporter-fleet", "icon": "dashboard"}],
    }


def fleet():
    _id[0] = 0
    link = "/d/oom-exporter-host/oom-exporter-host?var-datasource=${datasource}&var-job=${__data.fields.job}&var-instance=${__data.fields.instance}"
    panels = [
        panel("Instances by OOM risk", "Every instance ranked by memory full pressure, then available memory and kills in the last 24 h. Click an instance for its host dashboard.",
              "percentunit", [
                  (f"rate(oom_pressure_stalled_seconds_total{{{SEL},resource=\"memory\",kind=\"full\"}}[$__rate_interval])", ""),
                  (f"oom_memory_available_bytes{{{SEL}}} / oom_memory_total_bytes{{{SEL}}}", ""),
                  (f"increase(oom_kills_total{{{SEL}}}[24h])", ""),
                  (f"oom_process_max_score{{{SEL}}}", ""),
              ], 0, 0, 24, 16, kind="table",
              extra={
                  "transformations": [{"id": "merge", "options": {}},
                                      {"id": "organize", "options": {"excludeByName": {"Time": True, "resource": True, "kind": True},
                                                                      "renameByName": {"Value #A": "memory full pressure", "Value #B": "available",
                                                                                       "Value #C": "kills 24h", "Value #D": "max oom_score"}}},
                                      {"id": "sortBy", "options": {"sort": [{"field": "memory full pressure", "desc": True}]}}],
                  "fieldConfig": {"defaults": {"unit": "percentunit"}, "overrides": [
                      {"matcher": {"id": "byName", "options": "instance"},
                       "properties": [{"id": "links", "value": [{"title": "Host dashboard", "url": link}]}]},
                      {"matcher": {"id": "byName", "options": "kills 24h"}, "properties": [{"id": "unit", "value": "short"}, {"id": "decimals", "value": 0}]},
                      {"matcher": {"id": "byName", "options": "max oom_score"}, "properties": [{"id": "unit", "value": "none"}]},
                  ]},
              }),
        panel("OOM kills across the fleet", "OOM kills per interval, per instance.",
              "short", [(f"sum by (instance) (increase(oom_kills_total{{{SEL}}}[$__rate_interval]))", "{{instance}}")], 0, 16, 12, 8),
        panel("OOM kills by namespace/pod", "Kubernetes pods whose processes were OOM-killed in the dashboard's time range, most kills first (a victim series that appeared in the range counts all its kills). Needs the kubelet's log directories on the exporter (docs/kubernetes.md); $namespace filters it.",
              "short", [(f"sort_desc(sum by (namespace, pod) (({VICTIMS} unless {VICTIMS} offset $__range) or increase({VICTIMS}[$__range])))", "")],
              0, 24, 24, 9, kind="table",
              extra={"transformations": [{"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": {"Value": "kills"}}}],
                     "fieldConfig": {"defaults": {"unit": "short", "decimals": 0}, "overrides": []}}),
        panel("Memory full pressure across the fleet", "Share of time all non-idle tasks waited for memory, per instance.",
              "percentunit", [(f"rate(oom_pressure_stalled_seconds_total{{{SEL},resource=\"memory\",kind=\"full\"}}[$__rate_interval])", "{{instance}}")], 12, 16, 12, 8),
    ]
    return {
        "uid": "oom-exporter-fleet", "title": "OOM exporter / Fleet", "tags": ["oom_exporter"],
        "schemaVersion": SCHEMA, "version": 1, "editable": False, "graphTooltip": 1,
        "time": {"from": "now-24h", "to": "now"}, "refresh": "1m", "timezone": "browser",
        "templating": variables(namespace=True), "annotations": {"list": []}, "panels": panels,
        "links": [{"title": "Host", "type": "link", "url": "/d/oom-exporter-host/oom-exporter-host", "icon": "dashboard"}],
    }


def main():
    """Writes the dashboards; with --check, only says which are out of date."""
    check = "--check" in sys.argv[1:]
    stale = []
    for name, board in [("oom-host.json", host()), ("oom-fleet.json", fleet())]:
        text = json.dumps(board, indent=2, sort_keys=True) + "\n"
        path = os.path.join(HERE, name)
        current = open(path).read() if os.path.exists(path) else None
        if check:
            if current != text:
                stale.append(name)
            continue
        with open(path, "w") as f:
            f.write(text)
        print("wrote", name)
    if stale:
        print("out of date: " + ", ".join(stale) + "; run python3 dashboards/generate.py", file=sys.stderr)
        sys.exit(1)


main()
