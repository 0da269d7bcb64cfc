#!/usr/bin/env bash
# Where the machine's CPU goes per request, server and load generator
# together: starts SERVER on a fresh temporary data directory on loopback,
# warms it up, then runs `croupier-loadtest` (closed loop, 64 connections)
# with SCENARIO for SECONDS and prints the throughput, the server's CPU per
# request (from /proc/<pid>/stat) and the generator's (user + system time
# of its process, set-up and money check included). On a machine the two
# share, their sum bounds the throughput: CPUs ÷ (server + generator).
#
# Usage: loadtest/scripts/cpu-budget.sh SERVER SCENARIO [SECONDS]
# The load generator is $LOADTEST (default target/release/croupier-loadtest).
# Needs GNU time (/usr/bin/time; Debian package `time`).
set -euo pipefail
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian: apt-get install time)" >&2; exit 1; }
binary=$1
scenario=$2
seconds=${3:-8}
loadtest=${LOADTEST:-${CARGO_TARGET_DIR:-target}/release/croupier-loadtest}
port=18098
out=$(mktemp -d)
quic_port=18458
source "$(dirname "$0")/given-server.sh"
lt=("$loadtest" run --url "http://127.0.0.1:$port" --token-file "$data/operator-token" --scenario "$scenario"
  --connections 64 --warmup-seconds 0)
"${lt[@]}" --seconds 2 --out "$out/warm" >/dev/null
server_before=$(awk '{print $14 + $15}' "/proc/$server/stat")
/usr/bin/time -f "%U %S" -o "$out/generator-time" "${lt[@]}" --seconds "$seconds" --out "$out/run" >/dev/null
server_after=$(awk '{print $14 + $15}' "/proc/$server/stat")
python3 - "$out" "$server_before" "$server_after" "$(getconf CLK_TCK)" "$scenario" <<'PY'
import json, sys
out, before, after, ticks, scenario = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
s = json.load(open(f"{out}/run/summary.json"))
n = s["requests"]
user, system = map(float, open(f"{out}/generator-time").read().split())
server_us = (after - before) / ticks / n * 1e6
generator_us = (user + system) / n * 1e6
print(f"{scenario}: {s['per_second']:,.0f} req/s; server {server_us:.1f} µs/request; "
      f"generator {generator_us:.1f} µs/request")
PY
