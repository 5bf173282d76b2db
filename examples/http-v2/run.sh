#!/usr/bin/env bash
# The V1 → V2 example, start to finish: builds the two catalog services and
# cutover, runs `cutover proxy` in shadow between them, sends traffic, shows
# what was compared, then moves every key to reverse-shadow by editing the
# rollout file. Run it from anywhere: bash examples/http-v2/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
work="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/" ./cmd/cutover ./examples/http-v2/catalog-v1 ./examples/http-v2/catalog-v2
"$work/catalog-v1" --listen 127.0.0.1:9001 & pids+=($!)
"$work/catalog-v2" --listen 127.0.0.1:9002 --v1-compat & pids+=($!)
echo '{"migrations": {"catalog-v2": {"mode": "shadow"}}}' > "$work/rollout.json"
"$work/cutover" proxy --config examples/http-v2/proxy.json \
  --listen 127.0.0.1:8080 --metrics-listen 127.0.0.1:9090 \
  --old http://127.0.0.1:9001 --new http://127.0.0.1:9002 \
  --rollout-file "$work/rollout.json" & pids+=($!)
until curl -fs http://127.0.0.1:9090/healthz >/dev/null; do sleep 0.1; done

echo "== shadow: callers get V1; V2's V1 rendering is compared beside it"
for i in $(seq 1 10); do curl -fs "http://127.0.0.1:8080/products/p-$i"; done
sleep 1
curl -fs http://127.0.0.1:9090/metrics | grep '^cutover_proxy_outcomes_total' | grep -v ' 0$'

echo "== reverse-shadow: V2 answers, V1 beside it as validator and fallback"
echo '{"migrations": {"catalog-v2": {"mode": "reverse-shadow"}}}' > "$work/rollout.json.tmp"
mv "$work/rollout.json.tmp" "$work/rollout.json"
sleep 1
curl -fs http://127.0.0.1:8080/products/p-1
