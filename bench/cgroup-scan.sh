#!/usr/bin/env bash
# Benchmark (not a test): the cgroup collector on a hierarchy of COUNT
# memory cgroups, live (this host's hierarchy, as root) and on a v2 fixture
# tree, against the floor of reading the same files once per cgroup
# (../shared/tools/procfloor pointed at the cgroups, which are named 1..COUNT);
# then a v2 fixture of COUNT Kubernetes cgroups (pods of three containers,
# cgroupfs driver) with the kubelet's log directories for them, scraped with
# the names read from those directories and with no directories (names off).
#
# Usage: bench/cgroup-scan.sh [COUNT]     (default 2000; as root)
#   OOM_EXPORTER  binary (default target/release/oom_exporter, built if missing)
#   SCRAPES       scrapes per setup (default 30)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
COUNT=${1:-2000}
SCRAPES=${SCRAPES:-30}
OOM_EXPORTER=${OOM_EXPORTER:-target/release/oom_exporter}
FLOOR=../shared/tools/procfloor
[ -x "$OOM_EXPORTER" ] || cargo build --release --locked
[ -x "$FLOOR" ] || { echo "error: $FLOOR not found" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "error: needs root for the live hierarchy" >&2; exit 1; }

tmp=$(mktemp -d)
live=/sys/fs/cgroup/memory/oomx-bench-$$
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    if [ -d "$live" ]; then for ((i = 1; i <= COUNT; i++)); do rmdir "$live/$i" 2>/dev/null || true; done; rmdir "$live" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Extra exporter flags of the next bench.
ARGS=()

# bench NAME SYSFS FLOORDIR FILES...   (FLOORDIR "-": no floor)
bench() {
    local name=$1 sysfs=$2 floordir=$3; shift 3
    local port
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    "$OOM_EXPORTER" --web.listen-address="127.0.0.1:$port" --log.level=warn --path.sysfs="$sysfs" \
        --collector.disable-defaults --collector.cgroup --collector.cgroup.max=100000 "${ARGS[@]}" &
    pid=$!
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done
    local reported
    reported=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^oom_cgroups_reported/ {print $2}')
    : >"$tmp/t"
    local t0; t0=$(ticks "$pid")
    for ((i = 0; i < SCRAPES; i++)); do
        curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/metrics" >>"$tmp/t"
    done
    local cpu ms floor_line floor_ms
    cpu=$(awk -v d=$(($(ticks "$pid") - t0)) -v n="$SCRAPES" -v c="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", d * 1000 / c / n}')
    ms=$(median <"$tmp/t" | awk '{printf "%.2f", $1 * 1000}')
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    if [ "$floordir" = - ]; then
        echo "| $name | $reported | $ms | $cpu | | |"
        return
    fi
    floor_line=$("$FLOOR" -n 11 -p "$floordir" "$@")
    floor_ms=$(sed -n 's/.*median_scan_ms=\([0-9.]*\).*/\1/p' <<<"$floor_line")
    echo "| $name | $reported | $ms | $cpu | $floor_ms | $(awk -v a="$ms" -v b="$floor_ms" 'BEGIN {printf "%.2fx", a / b}') |"
}

echo "| hierarchy | cgroups reported | median ms per scrape | CPU ms per scrape | floor ms | vs floor |"
echo "|---|---:|---:|---:|---:|---:|"

# Live v1: COUNT cgroups with a limit each.
mkdir "$live"
for ((i = 1; i <= COUNT; i++)); do mkdir "$live/$i"; echo 64M >"$live/$i/memory.limit_in_bytes"; done
bench "live v1, $COUNT cgroups" /sys "$live" memory.limit_in_bytes memory.usage_in_bytes memory.memsw.usage_in_bytes memory.failcnt memory.oom_control \
    memory.memsw.limit_in_bytes memory.memsw.failcnt

# v2 fixture: COUNT cgroups under one parent, each (and the parent) with the
# files of a real v2 cgroup.
root="$tmp/sys/fs/cgroup"
mkdir -p "$root/bench"
echo "cpu io memory pids" >"$root/cgroup.controllers"
for d in "$root/bench" $(seq -f "$root/bench/%g" "$COUNT"); do
    mkdir -p "$d"
    echo 1048576 >"$d/memory.current"; echo 67108864 >"$d/memory.max"; echo max >"$d/memory.high"
    echo 0 >"$d/memory.swap.current"; echo max >"$d/memory.swap.max"
    printf 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n' >"$d/memory.events"
    printf 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' >"$d/memory.pressure"
done
bench "v2 fixture, $COUNT cgroups" "$tmp/sys" "$root/bench" memory.max memory.current memory.high memory.swap.current memory.swap.max memory.events memory.pressure
# The same with systemd-oomd found (its unit under --path.procfs): every
# cgroup the walk visits is checked for a kill count (none has one).
mkdir -p "$tmp/proc/1/root/usr/lib/systemd/system"
echo '[Unit]' >"$tmp/proc/1/root/usr/lib/systemd/system/systemd-oomd.service"
ARGS=(--path.procfs="$tmp/proc")
bench "v2 fixture, $COUNT cgroups, systemd-oomd found" "$tmp/sys" "$root/bench" memory.max memory.current memory.high memory.swap.current memory.swap.max memory.events memory.pressure
ARGS=()
# v2 fixture in Kubernetes' layout: COUNT cgroups, a quarter of them pods
# (kubepods/burstable/pod<uid>) and the rest their containers, three each
# (plus kubepods and burstable, which have no limit and are not reported);
# and the kubelet's log directories naming every pod and container.
kroot="$tmp/k8s/sys/fs/cgroup"
logs="$tmp/k8s/log"
mkdir -p "$kroot/kubepods/burstable" "$logs/pods" "$logs/containers"
echo "cpu io memory pids" >"$kroot/cgroup.controllers"
cgroup_files() {
    echo 1048576 >"$1/memory.current"; echo 67108864 >"$1/memory.max"; echo max >"$1/memory.high"
    echo 0 >"$1/memory.swap.current"; echo max >"$1/memory.swap.max"
    printf 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n' >"$1/memory.events"
    printf 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' >"$1/memory.pressure"
}
cgroup_files "$kroot/kubepods"; cgroup_files "$kroot/kubepods/burstable"
echo max >"$kroot/kubepods/memory.max"; echo max >"$kroot/kubepods/burstable/memory.max"
for ((p = 0; p < COUNT / 4; p++)); do
    uid=$(printf '%08x-0000-4000-8000-%012x' "$p" "$p")
    pod="app-$p-7d9f8c6b5-x2k4q"
    cgroup_files "$(mkdir -p "$kroot/kubepods/burstable/pod$uid" && echo "$kroot/kubepods/burstable/pod$uid")"
    mkdir "$logs/pods/bench_${pod}_$uid"
    for c in 0 1 2; do
        id=$(printf '%056x%08x' "$p" "$c")
        mkdir "$kroot/kubepods/burstable/pod$uid/$id"
        cgroup_files "$kroot/kubepods/burstable/pod$uid/$id"
        ln -s "/var/log/pods/bench_${pod}_$uid/c$c/0.log" "$logs/containers/${pod}_bench_c$c-$id.log"
    done
done
ARGS=(--path.varlog="$logs")
bench "v2 Kubernetes fixture, $COUNT cgroups, names from the kubelet's directories" "$tmp/k8s/sys" -
ARGS=(--path.varlog="$tmp/none")
bench "v2 Kubernetes fixture, $COUNT cgroups, no directories (names off)" "$tmp/k8s/sys" -
ARGS=()

echo
echo "- command: \`bench/cgroup-scan.sh $COUNT\` (SCRAPES=$SCRAPES), date $(date -u +%F), kernel $(uname -r), $(nproc) CPUs"
