#!/usr/bin/env bash
# Measures, on loopback, requests per second and p99 latency of a plain
# httputil.ReverseProxy (the baseline), of `cutover proxy` in old mode, and
# of `cutover proxy` in shadow mode with a new upstream ten times slower
# than old, using wrk (installed from Debian's packages when missing and
# run as root).
#
#   bash proxy/bench.sh                 # 10 s per target, 8 connections
#   DURATION=30s CONNS=32 RUNS=3 bash proxy/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s} CONNS=${CONNS:-8} THREADS=${THREADS:-2} RUNS=${RUNS:-1} DELAY=${DELAY:-1ms}

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is missing: apt-get install wrk (or run as root)" >&2; exit 2
  fi
fi

tmp=$(mktemp -d /tmp/cutover-proxy-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/cutover" ./cmd/cutover
go build -o "$tmp/upstreams" ./proxy/internal/benchupstream
: >"$tmp/up.txt"
"$tmp/upstreams" -delay "$DELAY" >"$tmp/up.txt" & pids+=($!)
while [ "$(wc -l <"$tmp/up.txt")" -lt 2 ]; do sleep 0.1; done
old=$(sed -n 1p "$tmp/up.txt"); new=$(sed -n 2p "$tmp/up.txt")
# The baseline runs in a process of its own, as each cutover proxy does.
: >"$tmp/base.txt"
"$tmp/upstreams" -baseline "$old" >"$tmp/base.txt" 2>/dev/null & pids+=($!)
while [ "$(wc -l <"$tmp/base.txt")" -lt 1 ]; do sleep 0.1; done
baseline=$(sed -n 1p "$tmp/base.txt")

start_proxy() { # mode outfile
  : >"$2"
  "$tmp/cutover" proxy --listen 127.0.0.1:0 --old "$old" --new "$new" --migration bench \
    --mode "$1" --key header:X-User-Id --max-in-flight 1024 --log-level error >"$2" 2>&1 & pids+=($!)
  local pid=$!
  until grep -q 'proxy listening on' "$2"; do
    kill -0 "$pid" 2>/dev/null || { cat "$2" >&2; exit 1; }
    sleep 0.1
  done
}
start_proxy old "$tmp/old.txt"
start_proxy shadow "$tmp/shadow.txt"
oldp=$(sed -n 's/^proxy listening on //p' "$tmp/old.txt")
shadowp=$(sed -n 's/^proxy listening on //p' "$tmp/shadow.txt")

printf '%-18s %12s %10s %10s\n' target req/s p50 p99
for run in $(seq "$RUNS"); do
  for target in baseline:$baseline old:$oldp shadow-slow-new:$shadowp; do
    name=${target%%:*} url=${target#*:}
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H 'X-User-Id: u-17' "$url/orders/42" >"$tmp/wrk.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.txt")
    p50=$(awk '$1=="50%" {print $2}' "$tmp/wrk.txt")
    p99=$(awk '$1=="99%" {print $2}' "$tmp/wrk.txt")
    printf '%-18s %12s %10s %10s\n' "$name" "$rps" "$p50" "$p99"
  done
done
