#!/usr/bin/env bash
# What a steady open-loop load costs: starts SERVER on a fresh temporary
# data directory on loopback, warms it up, then runs `croupier-loadtest`
# open loop (`rounds`, CONNECTIONS connections, RATE requests a second) for
# SECONDS, and prints the latencies, the server's CPU in ms per second of
# the run and per request by thread (from /proc/<pid>/task/*/stat), the
# generator's CPU per request (its user + system time, set-up and money
# check included), the machine's busy share (from /proc/stat), and how the
# sequencer's waits for a request ended (`croupier_sequencer_waits_total`:
# spun or parked). At a light rate most of it is the per-batch and
# per-wake-up work a closed loop at saturation shares among many requests.
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
ticks=$(getconf CLK_TCK)
# Per thread name: user + system ticks so far.
threads() {
  for task in /proc/"$server"/task/*; do
    echo "$(tr ' ' '_' < "$task/comm") $(awk '{print $14 + $15}' "$task/stat")"
  done | awk '{t[$1] += $2} END {for (k in t) print k, t[k]}' | sort
}
# The shell's waited-for children's user + system seconds (the generator's,
# once it has run) into $children. `times` must run in this shell, not in a
# pipeline or a command substitution, which would report a subshell's.
children_s() {
  times > "$out/times"
  children=$(tail -1 "$out/times" | tr 'ms' '  ' | awk '{print $1 * 60 + $2 + $3 * 60 + $4}')
}
"${lt[@]}" --seconds 1 --out "$out/warm" >/dev/null
threads > "$out/threads-before"
head -1 /proc/stat > "$out/stat-before"
children_s
generator_before=$children
"${lt[@]}" --rate "$rate" --seconds "$seconds" --out "$out/run" | grep -E "^(requests|all requests)"
children_s
generator_after=$children
head -1 /proc/stat > "$out/stat-after"
threads > "$out/threads-after"
requests=$(python3 -c "import json; print(json.load(open('$out/run/summary.json'))['requests'])")
join "$out/threads-before" "$out/threads-after" | awk -v ticks="$ticks" -v seconds="$seconds" -v requests="$requests" '
  { cpu = ($3 - $2) / ticks; total += cpu; if (cpu > 0) lines[$1] = cpu }
  END {
    printf "server CPU: %d ms per second, %.1f µs per request\n", total * 1000 / seconds, total * 1e6 / requests
    for (name in lines) printf "  %-24s %6.1f µs per request\n", name, lines[name] * 1e6 / requests
  }'
python3 - "$generator_before" "$generator_after" "$requests" "$out" <<'PY'
import sys
before, after, requests, out = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
a = list(map(int, open(f"{out}/stat-before").read().split()[1:]))
b = list(map(int, open(f"{out}/stat-after").read().split()[1:]))
d = [y - x for x, y in zip(a, b)]
print(f"generator CPU: {(after - before) * 1e6 / requests:.1f} µs per request; "
      f"machine busy {100 * (1 - (d[3] + d[4]) / sum(d)):.0f} %")
PY
curl -sf "http://127.0.0.1:$port/metrics" | grep '^croupier_sequencer_waits_total' || true
