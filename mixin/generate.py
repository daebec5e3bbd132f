#!/usr/bin/env python3
"""Renders the files that come from the mixin (mixin/files.jsonnet: the
alert rules, dashboards/*.json, the Kubernetes PrometheusRule and dashboards
ConfigMap) with
Debian's `jsonnet` and writes them into the repository. `--check` writes
nothing and exits 1 when a committed file differs (tests/it/mixin.rs runs
it).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def render(out):
    """Runs jsonnet into `out`; returns the rendered paths (relative to it)."""
    jsonnet = shutil.which("jsonnet")
    if jsonnet is None:
        sys.exit("mixin/generate.py: `jsonnet` not found; install it (Debian: apt-get install jsonnet)")
    names = subprocess.run([jsonnet, "-J", HERE, "-e", f"std.objectFields(import '{HERE}/files.jsonnet')"],
                           check=True, capture_output=True, text=True).stdout
    paths = json.loads(names)
    for p in paths:
        os.makedirs(os.path.dirname(os.path.join(out, p)), exist_ok=True)
    subprocess.run([jsonnet, "-J", HERE, "-S", "-m", out, os.path.join(HERE, "files.jsonnet")],
                   check=True, stdout=subprocess.DEVNULL)
    return paths


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        for rel in render(tmp):
            text = open(os.path.join(tmp, rel)).read()
            if rel.endswith(".json"):
                # jsonnet's layout spreads empty lists over lines; this is
                # the layout of the dashboards' JSON before the mixin.
                text = json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
            path = os.path.join(ROOT, rel)
            current = open(path).read() if os.path.exists(path) else None
            if current == text:
                continue
            if check:
                stale.append(rel)
            else:
                with open(path, "w") as f:
                    f.write(text)
                print("wrote", rel)
    if stale:
        print("out of date: " + ", ".join(stale) + "; run python3 mixin/generate.py", file=sys.stderr)
        sys.exit(1)


main()
