#!/usr/bin/env bash
# Benchmark (not a test): cost of one /metrics scrape of oom_exporter versus
# Debian's prometheus-node-exporter restricted to the same data (meminfo,
# vmstat, pressure/PSI), measured side by side in a single run.
#
# Usage:
#   bench/scrape-vs-node-exporter.sh [-n N] [--with-floor] [-h|--help]
#
#   -n N          measured scrapes per exporter (default 1000)
#   --with-floor  also measure each exporter's HTTP floor: the same loop
#                 against a non-metrics path (/-/bench-floor), i.e. the cost
#                 of the HTTP round trip without metric collection
#   OOM_ARGS      env: collector flags for oom_exporter (default: the same
#                 data as node_exporter: meminfo, vmstat, pressure; set it
#                 empty to bench every default collector, kmsg included)
#   OOM_EXPORTER  env: path to the oom_exporter binary
#                 (default target/release/oom_exporter in the repo root;
#                 if that default is missing it is built with
#                 `cargo build --release --locked`)
#
# Method: both exporters listen on free loopback ports. After 20 warm-up
# scrapes each, N scrapes are done alternating A, B, A, B... with
#   curl -s -o /dev/null -H 'Accept: text/plain;version=0.0.4' -w '%{time_total}'
# (no compression). Reported per exporter: median and p90 latency, CPU time
# per scrape (utime+stime delta from /proc/<pid>/stat over the measured loop,
# divided by N; resolution is 1/CLK_TCK s in total, so use a large N), VmRSS
# after the loop, and the size of one response. Output is a markdown table on
# stdout, followed by node_exporter/oom_exporter ratios and the environment.
# Progress goes to stderr. Exits non-zero if an exporter fails to start
# (it must answer /metrics within 10 s) or a scrape fails.
set -euo pipefail
export LC_ALL=C

WARMUP=20
N=1000
WITH_FLOOR=0
NODE_EXPORTER=/usr/bin/prometheus-node-exporter
ACCEPT='Accept: text/plain;version=0.0.4'
FLOOR_PATH=/-/bench-floor

die() { echo "error: $*" >&2; exit 1; }
log() { echo "$*" >&2; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

cmdline=$(printf '%q ' "$0" "$@")
cmdline=${cmdline% }
if [[ -n ${OOM_EXPORTER:-} ]]; then
    cmdline="OOM_EXPORTER=$(printf '%q' "$OOM_EXPORTER") $cmdline"
fi

while [[ $# -gt 0 ]]; do
    case $1 in
        -n)
            [[ $# -ge 2 ]] || die "-n needs a value"
            N=$2
            shift 2
            ;;
        -n*) N=${1#-n}; shift ;;
        --with-floor) WITH_FLOOR=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, got '$N'"

for tool in curl python3 getconf awk sort; do
    command -v "$tool" >/dev/null || die "required tool not found: $tool"
done

# A user-supplied relative OOM_EXPORTER is relative to the caller's cwd;
# the default is relative to the repo root.
if [[ -n ${OOM_EXPORTER:-} && $OOM_EXPORTER != /* ]]; then
    OOM_EXPORTER=$PWD/$OOM_EXPORTER
fi
cd "$(dirname "$0")/.."

if [[ -z ${OOM_EXPORTER:-} ]]; then
    OOM_EXPORTER=$PWD/target/release/oom_exporter
    if [[ ! -x $OOM_EXPORTER ]]; then
        log "building oom_exporter (cargo build --release --locked)..."
        cargo build --release --locked >&2
    fi
fi
[[ -x $OOM_EXPORTER ]] || die "oom_exporter binary not found or not executable: $OOM_EXPORTER"

if [[ ! -x $NODE_EXPORTER ]]; then
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
        log "installing prometheus-node-exporter..."
        # The package may start its own service on :9100; we use our own
        # ports and only ever kill the processes we started.
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
            install -y prometheus-node-exporter >&2
    fi
    [[ -x $NODE_EXPORTER ]] || die "$NODE_EXPORTER not found; install it with" \
        "'apt-get install prometheus-node-exporter' (as root) and re-run"
fi

CLK_TCK=$(getconf CLK_TCK)

tmp=$(mktemp -d /tmp/scrape-vs-node-exporter.XXXXXX)
pids=()
PID_A='' PID_B=''
cleanup() {
    local pid
    for pid in ${pids[@]+"${pids[@]}"}; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in ${pids[@]+"${pids[@]}"}; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r PORT_A PORT_B < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
')
[[ ${PORT_A:-} =~ ^[0-9]+$ && ${PORT_B:-} =~ ^[0-9]+$ ]] || die "could not pick free ports"
URL_A=http://127.0.0.1:$PORT_A
URL_B=http://127.0.0.1:$PORT_B

alive() { # pid
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# start_exporter VAR NAME URL CMD...: start CMD in the background, store its
# pid in VAR, and wait until URL/metrics answers (10 s timeout).
start_exporter() {
    local var=$1 name=$2 url=$3
    shift 3
    "$@" >"$tmp/$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    printf -v "$var" '%s' "$pid"
    local deadline=$((SECONDS + 10))
    until curl -sf --noproxy '*' --max-time 1 -o /dev/null "$url/metrics"; do
        if ! alive "$pid"; then
            log "$name exited during startup; its output:"
            cat "$tmp/$name.log" >&2
            die "$name failed to start: $*"
        fi
        if ((SECONDS >= deadline)); then
            log "$name output so far:"
            cat "$tmp/$name.log" >&2
            die "$name did not answer $url/metrics within 10 s: $*"
        fi
        sleep 0.1
    done
    log "$name up (pid $pid) on $url"
}

# scrape URL: one request; prints "http_code time_total_seconds".
scrape() {
    curl -s --noproxy '*' -o /dev/null -H "$ACCEPT" \
        -w '%{http_code} %{time_total}\n' "$1" ||
        die "request to $1 failed (curl exit $?)"
}

cpu_ticks() { # pid -> utime+stime (fields 14, 15 of /proc/<pid>/stat)
    local stat f
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) } # drop "pid (comm) "; field 3 (state) is now index 0
    read -r -a f <<<"$stat"
    echo $((f[11] + f[12]))
}

rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# stats FILE -> "median p90" in ms (p90 by nearest rank)
stats() {
    awk '{ printf "%.6f\n", $2 * 1000 }' "$1" | sort -g | awk '
        { v[NR] = $1 }
        END {
            n = NR
            med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            r = int(0.9 * n); if (r < 0.9 * n) r++; if (r < 1) r = 1
            printf "%.3f %.3f\n", med, v[r]
        }'
}

# check_codes FILE WHAT [any]: all codes 200 (or, with "any", just non-zero)
check_codes() {
    local bad
    if [[ ${3:-} == any ]]; then
        bad=$(awk '$1 == "000"' "$1" | wc -l)
    else
        bad=$(awk '$1 != "200"' "$1" | wc -l)
    fi
    ((bad == 0)) || die "$bad of $(wc -l <"$1") requests to $2 failed (codes: $(awk '{ print $1 }' "$1" | sort | uniq -c | tr -s ' \n' ' '))"
}

cpu_ms_per() { # ticks n
    awk -v t="$1" -v hz="$CLK_TCK" -v n="$2" 'BEGIN { printf "%.3f", t * 1000 / hz / n }'
}

ratio() { # numerator denominator
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'
}

# measure PATH TAG: warm-up, then N alternating requests A, B, A, B...;
# writes $tmp/TAG.{a,b} and sets CPU_A/CPU_B (ticks consumed in the loop).
measure() {
    local path=$1 tag=$2 i a0 b0
    for ((i = 0; i < WARMUP; i++)); do
        scrape "$URL_A$path" >>"$tmp/$tag.warm.a"
        scrape "$URL_B$path" >>"$tmp/$tag.warm.b"
    done
    a0=$(cpu_ticks "$PID_A")
    b0=$(cpu_ticks "$PID_B")
    for ((i = 0; i < N; i++)); do
        scrape "$URL_A$path" >>"$tmp/$tag.a"
        scrape "$URL_B$path" >>"$tmp/$tag.b"
    done
    CPU_A=$(($(cpu_ticks "$PID_A") - a0))
    CPU_B=$(($(cpu_ticks "$PID_B") - b0))
}

# The same data on both sides: memory, vmstat and PSI. Set OOM_ARGS to
# compare another set (e.g. OOM_ARGS= for every default collector).
read -r -a oom_args <<<"${OOM_ARGS---collector.disable-defaults --collector.meminfo --collector.vmstat --collector.pressure}"
start_exporter PID_A oom_exporter "$URL_A" \
    "$OOM_EXPORTER" --web.listen-address="127.0.0.1:$PORT_A" --log.level=warn "${oom_args[@]}"
start_exporter PID_B node_exporter "$URL_B" \
    "$NODE_EXPORTER" --web.listen-address="127.0.0.1:$PORT_B" \
    --collector.disable-defaults --collector.meminfo --collector.vmstat \
    --collector.pressure

log "warm-up ($WARMUP each), then $N alternating scrapes each..."
measure /metrics scrape
check_codes "$tmp/scrape.warm.a" oom_exporter
check_codes "$tmp/scrape.warm.b" node_exporter
check_codes "$tmp/scrape.a" oom_exporter
check_codes "$tmp/scrape.b" node_exporter
CPU_MS_A=$(cpu_ms_per "$CPU_A" "$N")
CPU_MS_B=$(cpu_ms_per "$CPU_B" "$N")
RSS_A=$(rss_mib "$PID_A")
RSS_B=$(rss_mib "$PID_B")
BYTES_A=$(curl -s --noproxy '*' -o /dev/null -H "$ACCEPT" -w '%{size_download}' "$URL_A/metrics")
BYTES_B=$(curl -s --noproxy '*' -o /dev/null -H "$ACCEPT" -w '%{size_download}' "$URL_B/metrics")
read -r MED_A P90_A < <(stats "$tmp/scrape.a")
read -r MED_B P90_B < <(stats "$tmp/scrape.b")

if ((WITH_FLOOR)); then
    log "floor: $N alternating requests each to $FLOOR_PATH..."
    measure "$FLOOR_PATH" floor
    check_codes "$tmp/floor.a" oom_exporter any
    check_codes "$tmp/floor.b" node_exporter any
    FCPU_MS_A=$(cpu_ms_per "$CPU_A" "$N")
    FCPU_MS_B=$(cpu_ms_per "$CPU_B" "$N")
    FBYTES_A=$(curl -s --noproxy '*' -o /dev/null -H "$ACCEPT" -w '%{size_download}' "$URL_A$FLOOR_PATH")
    FBYTES_B=$(curl -s --noproxy '*' -o /dev/null -H "$ACCEPT" -w '%{size_download}' "$URL_B$FLOOR_PATH")
    read -r FMED_A FP90_A < <(stats "$tmp/floor.a")
    read -r FMED_B FP90_B < <(stats "$tmp/floor.b")
fi

OOM_VERSION=$("$OOM_EXPORTER" --version 2>&1 | head -1) || true
NODE_VERSION=$("$NODE_EXPORTER" --version 2>&1 | head -1) || true

echo "| exporter | median latency ms | p90 latency ms | CPU ms per scrape | RSS MiB after $N scrapes | response bytes |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| oom_exporter | $MED_A | $P90_A | $CPU_MS_A | $RSS_A | $BYTES_A |"
echo "| node_exporter | $MED_B | $P90_B | $CPU_MS_B | $RSS_B | $BYTES_B |"
if ((WITH_FLOOR)); then
    echo "| oom_exporter floor ($FLOOR_PATH) | $FMED_A | $FP90_A | $FCPU_MS_A | - | $FBYTES_A |"
    echo "| node_exporter floor ($FLOOR_PATH) | $FMED_B | $FP90_B | $FCPU_MS_B | - | $FBYTES_B |"
fi
echo
echo "node_exporter/oom_exporter: median latency $(ratio "$MED_B" "$MED_A"), CPU per scrape $(ratio "$CPU_MS_B" "$CPU_MS_A")"
echo
echo "- command: \`$cmdline\`"
echo "- date: $(date -u +%F)"
echo "- kernel: $(uname -r)"
echo "- oom_exporter: $OOM_VERSION"
echo "- node_exporter: $NODE_VERSION"
echo "- nproc: $(nproc)"
echo "- CPU resolution: 1 tick = $(awk -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", 1000 / hz }') ms total, i.e. $(cpu_ms_per 1 "$N") ms per scrape at N=$N"
