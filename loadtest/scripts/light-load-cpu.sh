#!/usr/bin/env bash
# What a light, steady load costs: starts SERVER on a fresh temporary data
# directory on loopback, warms it up, then runs `croupier-loadtest` open
# loop (`rounds`, CONNECTIONS connections, RATE requests a second) for
# SECONDS, and prints the latencies, the server's CPU in ms per second of
# the run (from /proc/<pid>/stat) and how the sequencer's waits for a
# request ended (`croupier_sequencer_waits_total`: spun or parked).
#
# Usage: loadtest/scripts/light-load-cpu.sh SERVER RATE [SECONDS] [CONNECTIONS]
# The load generator is $LOADTEST (default target/release/croupier-loadtest).
set -euo pipefail
binary=$1
rate=$2
seconds=${3:-8}
connections=${4:-4}
loadtest=${LOADTEST:-${CARGO_TARGET_DIR:-target}/release/croupier-loadtest}
port=18099
quic_port=18459
out=$(mktemp -d)
source "$(dirname "$0")/given-server.sh"
lt=("$loadtest" run --url "http://127.0.0.1:$port" --token-file "$data/operator-token" --scenario rounds
  --connections "$connections" --warmup-seconds 0)
"${lt[@]}" --seconds 1 --out "$out/warm" >/dev/null
before=$(awk '{print $14 + $15}' "/proc/$server/stat")
"${lt[@]}" --rate "$rate" --seconds "$seconds" --out "$out/run" | grep -E "^(requests|all requests)"
after=$(awk '{print $14 + $15}' "/proc/$server/stat")
ticks=$(getconf CLK_TCK)
echo "server CPU: $(( (after - before) * 1000 / ticks / seconds )) ms per second"
curl -sf "http://127.0.0.1:$port/metrics" | grep '^croupier_sequencer_waits_total' || true
