#!/usr/bin/env bash
# The back office's figures of BENCHMARKS.md (issue #15), on one release
# `croupier serve` on loopback (scratch-server.sh):
#
# 1. the wallet's closed-loop maximum (`rounds`, 64 connections);
# 2. "rated load": open loop at half that rate while `backoffice-probe`
#    signs in and measures dashboard freshness and page latency;
# 3. the wallet's throughput with the back office in use vs idle: PAIRS
#    alternated closed-loop runs, one with the probe running beside it.
#
# With EXPORT=1 it first starts a throwaway PostgreSQL cluster (initdb and
# pg_ctl on 127.0.0.1:15432 in a temporary directory, as the `postgres`
# user when run as root; scripts/install-postgres installs the server) and
# the server streams every record to it (`--export-postgres-url`), so
# running the script with and without EXPORT=1 gives the export's cost
# side by side. EXPORT_URL=postgres://… uses a database of your own.
#
# Usage: loadtest/scripts/backoffice-figures.sh [PAIRS] [SECONDS]
set -euo pipefail
pairs=${1:-3}
seconds=${2:-10}
cd "$(dirname "$0")/../.."
serve_args=()
stop_pg() { :; }
if [ "${EXPORT:-0}" = 1 ] && [ -z "${EXPORT_URL:-}" ]; then
  pg_bin=$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -1)")
  pg_dir=$(mktemp -d)
  as_pg=()
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$pg_dir"; as_pg=(runuser -u postgres --); fi
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U croupier --auth=trust >/dev/null
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -o "-p 15432 -k $pg_dir -c listen_addresses=127.0.0.1" -w -l "$pg_dir/log" start >/dev/null
  stop_pg() { "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null; rm -rf "$pg_dir"; }
  trap stop_pg EXIT
  EXPORT_URL=postgres://croupier@127.0.0.1:15432/postgres
fi
if [ -n "${EXPORT_URL:-}" ]; then serve_args=(--export-postgres-url "$EXPORT_URL"); fi
CROUPIER_SERVE_ARGS="${serve_args[*]:-}"
export CROUPIER_SERVE_ARGS
CROUPIER_BUILD_ARGS="-p croupier-benches --bins"
export CROUPIER_BUILD_ARGS
. loadtest/scripts/scratch-server.sh
# scratch-server.sh's trap replaced ours: stop both.
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"; stop_pg' EXIT
out=$(mktemp -d)
lt() { "$bin/croupier-loadtest" run --url "http://127.0.0.1:$port" --token-file "$data/operator-token" --scenario rounds "$@"; }
probe() { "$bin/backoffice-probe" --url "http://127.0.0.1:$port" --token-file "$data/operator-token" "$@"; }
rate_of() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["per_second"]))' "$1/summary.json"; }
# Seconds the run's final check waited for the read model to catch up.
lag_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["consistency"].get("read_model_wait_ms", 0) / 1000)' "$1/summary.json"; }

echo "## export: ${EXPORT_URL:+on}${EXPORT_URL:-off}"
echo "## 1. closed-loop maximum, 64 connections, ${seconds} s"
lt --connections 64 --seconds "$seconds" --warmup-seconds 2 --out "$out/max" >/dev/null
max=$(rate_of "$out/max")
half=$((max / 2))
echo "max ${max} req/s (read model caught up $(lag_of "$out/max") s after); rated load (half) ${half} req/s"

echo "## 2. open loop at ${half} req/s for $((seconds * 3)) s with the back-office probe"
lt --connections 64 --rate "$half" --seconds $((seconds * 3)) --warmup-seconds 2 --out "$out/rated" >/dev/null &
load=$!
sleep 2
probe --seconds $((seconds * 3 - 2)) --out "$out/probe.json"
wait "$load"
python3 - "$out/rated/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
l = s["latency_us"]
print(f"wallet under the probe: {s['per_second']:.0f} req/s, p50 {l['p50']/1000:.2f} ms, p99 {l['p99']/1000:.2f} ms, "
      f"p99.9 {l['p999']/1000:.2f} ms, consistency {s['consistency']}")
PY

echo "## 3. throughput, back office idle vs in use (closed loop, 64 connections), ${pairs} pairs"
for pair in $(seq "$pairs"); do
  lt --connections 64 --seconds "$seconds" --warmup-seconds 2 --out "$out/idle-$pair" >/dev/null
  probe --seconds $((seconds + 3)) --out "$out/busy-probe-$pair.json" >/dev/null &
  p=$!
  sleep 1
  lt --connections 64 --seconds "$seconds" --warmup-seconds 2 --out "$out/busy-$pair" >/dev/null
  wait "$p"
  echo "pair $pair: idle $(rate_of "$out/idle-$pair") req/s (read model +$(lag_of "$out/idle-$pair") s), with the back office in use $(rate_of "$out/busy-$pair") req/s (+$(lag_of "$out/busy-$pair") s)"
done
echo "reports in $out"
