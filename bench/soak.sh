#!/usr/bin/env bash
# Soak benchmark (not a test): drive /metrics with wrk on loopback for a
# few minutes and check that the exporter's memory does not grow.
#
# Usage: bench/soak.sh [DURATION]      (default 180s)
#   OOM_EXPORTER  binary (default target/release/oom_exporter, built if missing)
#   CONNECTIONS   wrk connections (default 16), THREADS wrk threads (default 2)
#   OOM_ARGS      extra exporter flags, e.g. to bench only some collectors
#
# Reports wrk's throughput and latency percentiles, and the exporter's RSS
# (VmRSS) after warm-up, every 30 s, and at the end, plus its peak (VmHWM).
# Every default collector runs (the process scan and the kmsg reader too),
# with --web.max-requests=0 so no request is turned away.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
DURATION=${1:-180s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
OOM_EXPORTER=${OOM_EXPORTER:-target/release/oom_exporter}
[ -x "$OOM_EXPORTER" ] || cargo build --release --locked
if ! command -v wrk >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "error: wrk missing (Debian package wrk)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
read -r -a extra <<<"${OOM_ARGS:-}"
"$OOM_EXPORTER" --web.listen-address="127.0.0.1:$port" --log.level=warn --web.max-requests=0 "${extra[@]}" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
# Warm-up: allocator and caches settle.
wrk -t1 -c4 -d5s "http://127.0.0.1:$port/metrics" >/dev/null
start_rss=$(rss)
samples=("$start_rss")
( while kill -0 $pid 2>/dev/null; do sleep 30; rss; echo; done ) >"/tmp/soak-rss.$$" &
sampler=$!
out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$port/metrics")
kill $sampler 2>/dev/null || true
end_rss=$(rss)
mapfile -t more <"/tmp/soak-rss.$$"; rm -f "/tmp/soak-rss.$$"
samples+=("${more[@]}" "$end_rss")
echo "$out"
echo
echo "RSS MiB after warm-up: $start_rss; every 30 s: ${samples[*]}; at the end: $end_rss; peak (VmHWM): $(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' /proc/$pid/status)"
echo "- command: \`OOM_ARGS='${OOM_ARGS:-}' bench/soak.sh $DURATION\` (wrk -t$THREADS -c$CONNECTIONS)"
echo "- date: $(date -u +%F), kernel $(uname -r), $(nproc) CPUs, $("$OOM_EXPORTER" --version)"
