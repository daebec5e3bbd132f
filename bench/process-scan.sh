#!/usr/bin/env bash
# Benchmark (not a test): the cost of the per-process scan with many
# processes, side by side in one run, against
#   - Debian's prometheus-process-exporter, grouping every process by comm
#     (-gather-smaps=false -threads=false, its cheapest setting), and
#   - ../shared/tools/procfloor: the least work that reads statm, oom_score,
#     oom_score_adj and comm of every process (the cost floor of a scan).
#
# Usage: bench/process-scan.sh [COUNT...]   (default: 3000 10000)
#   OOM_EXPORTER  path to the binary (default target/release/oom_exporter,
#                 built with `cargo build --release --locked` if missing)
#   SCRAPES       scrapes per exporter and process count (default 30)
#
# For each COUNT it starts that many idle `sleep` processes, scrapes
# oom_exporter (every default collector) and process-exporter alternately
# SCRAPES times each, runs procfloor, and prints median wall time and CPU
# per scrape (utime+stime of the exporter over the loop / SCRAPES), the
# ratios, and oom_exporter's peak RSS (VmHWM). The idle processes are
# killed on exit. Needs bash, curl, awk, python3 (for free ports).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

SCRAPES=${SCRAPES:-30}
COUNTS=("$@")
((${#COUNTS[@]})) || COUNTS=(3000 10000)
FLOOR=../shared/tools/procfloor
PE=/usr/bin/prometheus-process-exporter
OOM_EXPORTER=${OOM_EXPORTER:-target/release/oom_exporter}

[ -x "$OOM_EXPORTER" ] || cargo build --release --locked
if [ ! -x "$PE" ]; then
    [ "$(id -u)" = 0 ] || { echo "error: $PE missing; install prometheus-process-exporter" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-process-exporter >/dev/null
fi
[ -x "$FLOOR" ] || { echo "error: $FLOOR not found (run from a checkout next to ../shared)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
sleepers=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    stop_sleepers
    rm -rf "$tmp"
}
stop_sleepers() {
    ((${#sleepers[@]})) && kill "${sleepers[@]}" 2>/dev/null || true
    wait "${sleepers[@]}" 2>/dev/null || true
    sleepers=()
}
trap cleanup EXIT

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
wait_up() {
    for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "error: $1 did not answer" >&2; exit 1
}

cat >"$tmp/pe.yml" <<'YML'
process_names:
  - name: "{{.Comm}}"
    cmdline:
      - '.+'
YML
PA=$(port); PB=$(port)
"$OOM_EXPORTER" --web.listen-address="127.0.0.1:$PA" --log.level=warn 2>"$tmp/oom.log" &
pids+=($!); OOM_PID=$!
"$PE" -web.listen-address="127.0.0.1:$PB" -config.path="$tmp/pe.yml" -gather-smaps=false -threads=false \
    >/dev/null 2>&1 &
pids+=($!); PE_PID=$!
wait_up "http://127.0.0.1:$PA/metrics"
wait_up "http://127.0.0.1:$PB/metrics"
CLK=$(getconf CLK_TCK)

echo "| processes | tool | median ms per scrape/scan | CPU ms per scrape | vs floor | process-exporter / oom_exporter |"
echo "|---:|---|---:|---:|---:|---:|"
for count in "${COUNTS[@]}"; do
    for ((i = 0; i < count; i++)); do sleep 100000 & sleepers+=($!); done
    total=$(ls -d /proc/[0-9]* | wc -l)
    for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$PA/metrics"; curl -s -o /dev/null "http://127.0.0.1:$PB/metrics"; done
    : >"$tmp/a"; : >"$tmp/b"
    a0=$(ticks "$OOM_PID"); b0=$(ticks "$PE_PID")
    for ((i = 0; i < SCRAPES; i++)); do
        curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PA/metrics" >>"$tmp/a"
        curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PB/metrics" >>"$tmp/b"
    done
    a_cpu=$(awk -v d=$(($(ticks "$OOM_PID") - a0)) -v n="$SCRAPES" -v c="$CLK" 'BEGIN {printf "%.2f", d * 1000 / c / n}')
    b_cpu=$(awk -v d=$(($(ticks "$PE_PID") - b0)) -v n="$SCRAPES" -v c="$CLK" 'BEGIN {printf "%.2f", d * 1000 / c / n}')
    a_ms=$(median <"$tmp/a" | awk '{printf "%.2f", $1 * 1000}')
    b_ms=$(median <"$tmp/b" | awk '{printf "%.2f", $1 * 1000}')
    floor_line=$("$FLOOR" -n 11)
    floor_ms=$(sed -n 's/.*median_scan_ms=\([0-9.]*\).*/\1/p' <<<"$floor_line")
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", (b > 0) ? a / b : 0}'; }
    echo "| $total | oom_exporter (full scrape) | $a_ms | $a_cpu | $(ratio "$a_ms" "$floor_ms") | |"
    echo "| $total | process-exporter | $b_ms | $b_cpu | $(ratio "$b_ms" "$floor_ms") | $(ratio "$b_ms" "$a_ms") wall, $(ratio "$b_cpu" "$a_cpu") CPU |"
    echo "| $total | procfloor ($floor_line) | $floor_ms | | 1.00x | |"
    stop_sleepers
done
echo
echo "oom_exporter peak RSS (VmHWM): $(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$OOM_PID/status")"
echo "- command: \`bench/process-scan.sh ${COUNTS[*]}\` (SCRAPES=$SCRAPES)"
echo "- date: $(date -u +%F), kernel $(uname -r), $(nproc) CPUs"
echo "- $("$OOM_EXPORTER" --version); $("$PE" -version 2>&1 | head -1)"
