#!/usr/bin/env bash
# Where a server's time goes under a closed loop: starts SERVER on a fresh
# temporary data directory on loopback, warms it up, then runs
# `croupier-loadtest` (scenario `rounds`, closed loop, $CONNECTIONS
# connections, 64 unless set) for
# SECONDS and prints, from the same run:
#   - throughput and latency;
#   - the server's CPU per request by thread (from /proc/<pid>/task/*/stat);
#   - the machine's busy/idle split (from /proc/stat);
#   - the journal's batches and flushes (from /metrics): requests a batch,
#     mean flush, and the share of the run the commit thread spent flushing;
#   - the bytes the server sent to the disk per request (`write_bytes` of
#     /proc/<pid>/io: page-cache write-back it caused, journal and read
#     model together).
#
# Usage: loadtest/scripts/where-time-goes.sh SERVER [SECONDS]
# The load generator is $LOADTEST (default target/release/croupier-loadtest).
set -euo pipefail
binary=$1
seconds=${2:-10}
connections=${CONNECTIONS:-64}
loadtest=${LOADTEST:-${CARGO_TARGET_DIR:-target}/release/croupier-loadtest}
port=18097
ticks=$(getconf CLK_TCK)
out=$(mktemp -d)
quic_port=18457
source "$(dirname "$0")/given-server.sh"
lt=("$loadtest" run --url "http://127.0.0.1:$port" --token-file "$data/operator-token" --scenario rounds
  --connections "$connections" --warmup-seconds 0)
metrics() { curl -sf -H "authorization: Bearer $(cat "$data/operator-token")" "http://127.0.0.1:$port/metrics"; }
# Per thread name: user and system ticks so far.
threads() {
  for task in /proc/"$server"/task/*; do
    echo "$(tr ' ' '_' < "$task/comm") $(awk '{print $14, $15}' "$task/stat")"
  done | awk '{u[$1] += $2; s[$1] += $3} END {for (k in u) print k, u[k], s[k]}' | sort
}

"${lt[@]}" --seconds 2 --out "$out/warm" >/dev/null
threads > "$out/threads-before"
grep '^write_bytes' "/proc/$server/io" > "$out/io-before"
metrics > "$out/metrics-before"
head -1 /proc/stat > "$out/stat-before"
"${lt[@]}" --seconds "$seconds" --out "$out/run" >/dev/null
head -1 /proc/stat > "$out/stat-after"
metrics > "$out/metrics-after"
threads > "$out/threads-after"
grep '^write_bytes' "/proc/$server/io" > "$out/io-after"

python3 - "$out" "$ticks" "$connections" <<'EOF'
import json, sys
out, ticks, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = json.load(open(f"{out}/run/summary.json"))
requests = s["requests"]
print(f"rounds, {connections} connections: {s['per_second']:,.0f} req/s, p50 {s['latency_us']['p50']:,.0f} µs, "
      f"p99 {s['latency_us']['p99']:,.0f} µs ({requests:,} requests)")
def table(name):
    return {line.split()[0]: tuple(map(int, line.split()[1:])) for line in open(f"{out}/{name}")}
before, after = table("threads-before"), table("threads-after")
print("server CPU per request, by thread:")
for thread in sorted(after):
    user = after[thread][0] - before.get(thread, (0, 0))[0]
    system = after[thread][1] - before.get(thread, (0, 0))[1]
    if user + system:
        print(f"  {thread:<24} {(user + system) * 1e6 / ticks / requests:6.1f} µs  (kernel {system * 100 // (user + system)} %)")
a = list(map(int, open(f"{out}/stat-before").read().split()[1:]))
b = list(map(int, open(f"{out}/stat-after").read().split()[1:]))
d = [y - x for x, y in zip(a, b)]
total = sum(d)
print(f"machine: user {100 * (d[0] + d[1]) / total:.0f} %, system {100 * d[2] / total:.0f} %, "
      f"softirq {100 * d[6] / total:.0f} %, idle {100 * (d[3] + d[4]) / total:.0f} %")
def metric(name, key):
    for line in open(f"{out}/{name}"):
        if line.startswith(key + " "):
            return float(line.split()[1])
    return 0.0
def delta(key):
    return metric("metrics-after", key) - metric("metrics-before", key)
batches = delta("croupier_batch_len_count")
if batches:
    flushing = delta("croupier_flush_duration_seconds_sum")
    run_s = requests / s["per_second"]
    print(f"journal: {batches / run_s:,.0f} batches/s, {delta('croupier_batch_len_sum') / batches:.1f} requests a batch, "
          f"mean flush {flushing / batches * 1e6:.0f} µs, flushing {100 * flushing / run_s:.0f} % of the run")
written = int(open(f"{out}/io-after").read().split()[1]) - int(open(f"{out}/io-before").read().split()[1])
print(f"disk: {written / requests / 1024:,.1f} KiB written per request ({written / 2**20 / (requests / s['per_second']):,.0f} MiB/s)")
EOF
