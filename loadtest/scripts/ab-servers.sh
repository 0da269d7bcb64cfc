#!/usr/bin/env bash
# Two `croupier` server binaries side by side (a change's before and after):
# ROUNDS alternations, each starting server A then server B on a fresh
# temporary data directory on loopback and running `croupier-loadtest`
# (scenario `rounds`) against it twice: closed loop at 64 connections
# (throughput), then open loop at RATE req/s (latency, and the server's CPU
# per request, read from /proc before and after: at a fixed rate that is
# the least noisy figure on a shared machine). Prints one line per run and
# the medians.
#
# Usage: loadtest/scripts/ab-servers.sh SERVER_A SERVER_B [ROUNDS] [SECONDS] [RATE]
# The load generator is $LOADTEST (default target/release/croupier-loadtest).
set -euo pipefail
a=$1
b=$2
rounds=${3:-3}
seconds=${4:-10}
rate=${5:-4000}
loadtest=${LOADTEST:-${CARGO_TARGET_DIR:-target}/release/croupier-loadtest}
port=18090
ticks=$(getconf CLK_TCK)
out=$(mktemp -d)
server=
data=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "$data" ]; then rm -rf "$data"; fi
}
trap cleanup EXIT

# The server's user + system CPU so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

run_one() { # label binary round
  local label=$1 binary=$2 round=$3
  data=$(mktemp -d)
  "$binary" serve --data-dir "$data" --listen "127.0.0.1:$port" --quic-listen "127.0.0.1:18453" --log warn \
    --ship-jurisdiction-profiles=false &
  server=$!
  for _ in $(seq 100); do
    kill -0 "$server" 2>/dev/null || { echo "server $label did not start" >&2; exit 1; }
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
  done
  local lt=("$loadtest" run --url "http://127.0.0.1:$port" --token-file "$data/operator-token" --scenario rounds)
  "${lt[@]}" --connections 64 --seconds "$seconds" --warmup-seconds 2 --out "$out/$label-$round-closed" >/dev/null
  local before after
  before=$(cpu_ticks "$server")
  "${lt[@]}" --connections 64 --rate "$rate" --seconds "$seconds" --warmup-seconds 0 --out "$out/$label-$round-open" >/dev/null
  after=$(cpu_ticks "$server")
  local closed=$out/$label-$round-closed/summary.json open=$out/$label-$round-open/summary.json
  local requests
  requests=$(field "$open" 's["requests"]')
  local cpu_us=$(((after - before) * 1000000 / ticks / requests))
  echo "$label round $round: closed $(field "$closed" 'round(s["per_second"])') req/s;" \
    "open at $rate: p50 $(field "$open" 's["latency_us"]["p50"]') µs, p99 $(field "$open" 's["latency_us"]["p99"]') µs," \
    "server CPU ${cpu_us} µs/request"
  echo "$label $(field "$closed" 's["per_second"]') $(field "$open" 's["latency_us"]["p50"]') $(field "$open" 's["latency_us"]["p99"]') $cpu_us" >> "$out/rows"
  cleanup
  server=
  data=
}

for round in $(seq "$rounds"); do
  run_one A "$a" "$round"
  run_one B "$b" "$round"
done
python3 - "$out/rows" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = {}
for label in ("A", "B"):
    mine = [[float(x) for x in r[1:]] for r in rows if r[0] == label]
    med[label] = [statistics.median(col) for col in zip(*mine)]
    m = med[label]
    print(f"median {label}: closed {m[0]:.0f} req/s, open p50 {m[1]:.0f} µs, p99 {m[2]:.0f} µs, CPU {m[3]:.1f} µs/request")
a, b = med["A"], med["B"]
print(f"B ÷ A: throughput {b[0] / a[0]:.3f}, CPU per request {b[3] / a[3]:.3f}")
PY
echo "reports in $out"
