#!/usr/bin/env bash
# What the read model costs a request under load: starts SERVER on a fresh
# temporary data directory on loopback, runs `croupier-loadtest` (scenario
# `rounds`, closed loop, 64 connections, PLAYERS players shared among them)
# for SECONDS, and over the middle half of the run samples the projection's
# thread (`croupier-readmodel`) and /metrics. Prints the run's throughput,
# the projection's CPU and the bytes it wrote (SQLite's WAL and its
# checkpoints, from /proc/<pid>/task/<tid>/io) per record it applied, the
# whole server's CPU per command applied, how far the projection trails the
# journal at the end, how many SQLite transactions it committed,
# and how many of them a waiting read cut short (the first sample's own
# /metrics read is one; servers before `croupier_readmodel_commits_total`
# print "-").
#
# Usage: loadtest/scripts/readmodel-cost.sh SERVER PLAYERS [SECONDS]
# The load generator is $LOADTEST (default target/release/croupier-loadtest).
set -euo pipefail
binary=$1
players=$2
seconds=${3:-12}
loadtest=${LOADTEST:-${CARGO_TARGET_DIR:-target}/release/croupier-loadtest}
port=18099
quic_port=18459
out=$(mktemp -d)
source "$(dirname "$0")/given-server.sh"
# Thread names are cut to 15 bytes (-s: short-lived threads come and go).
task=$(grep -ls '^croupier-readmo' /proc/"$server"/task/*/comm | head -1 || true)
[ -n "$task" ] || { echo "no read-model thread in $server" >&2; exit 1; }
task=${task%/comm}
# One /metrics read a sample: each is a read that waits for the read model.
sample() {
  curl -sf "http://127.0.0.1:$port/metrics" >"$out/metrics"
  metric() { awk -v name="croupier_$1" '$1 == name { print $2; found = 1 } END { if (!found) print "-" }' "$out/metrics"; }
  echo "$(awk '{print $14 + $15}' "$task/stat") $(awk '{print $14 + $15}' "/proc/$server/stat")" \
    "$(awk '/^wchar/ {print $2}' "$task/io") $(metric commands_applied_total)" \
    "$(metric readmodel_commits_total) $(metric readmodel_commits_hurried_total)" \
    "$(metric readmodel_applied_seq) $(metric journal_durable_seq)"
}
"$loadtest" run --url "http://127.0.0.1:$port" --token-file "$data/operator-token" --scenario rounds \
  --connections 64 --players "$players" --seconds "$seconds" --warmup-seconds 0 --out "$out/run" >/dev/null &
generator=$!
sleep $((seconds / 4))
before=$(sample)
sleep $((seconds / 2))
after=$(sample)
wait "$generator"
python3 - "$out" "$(getconf CLK_TCK)" "$players" "$seconds" "$before" "$after" <<'PY'
import json, sys
out, ticks, players, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
before, after = sys.argv[5].split(), sys.argv[6].split()
def delta(i):
    return None if "-" in (before[i], after[i]) else float(after[i]) - float(before[i])
commands = delta(3)
# The projection's own figures are per record it applied in the window (it
# may trail the journal by a varying amount), the server's per command.
projected = delta(6)
per_second = json.load(open(f"{out}/run/summary.json"))["per_second"]
projection_us = delta(0) / ticks / projected * 1e6
server_us = delta(1) / ticks / commands * 1e6
written = delta(2) / projected
commits, hurried = delta(4), delta(5)
lag = int(after[7]) - int(after[6])
window = seconds // 2
shown = "-" if commits is None else f"{commits:.0f} ({hurried:.0f} cut short)"
print(f"{players} players: {per_second:,.0f} req/s; read model {projection_us:.1f} µs and "
      f"{written / 1024:.1f} KiB written per record, server {server_us:.1f} µs per command; "
      f"commits in {window} s: {shown}; read model {lag} records behind at the end")
PY
