#!/usr/bin/env bash
# Issue 11's benchmark: the wallet API (scenario `rounds`, HTTP/1.1) at 1
# and 64 connections against a single node and against a 3-node group on
# the same machine (every node on loopback, each on a fresh temporary data
# directory), alternated ROUNDS times. The group's figures are taken at its
# leader. Loopback only. Jurisdiction profiles are not shipped: the load
# test funds each player far past their due-diligence threshold.
#
# Usage: loadtest/scripts/cluster-figures.sh [ROUNDS] [SECONDS]
set -euo pipefail
rounds=${1:-3}
seconds=${2:-10}
cd "$(dirname "$0")/../.."
cargo build --release --locked -p croupier-gateway -p croupier-loadtest
bin=${CARGO_TARGET_DIR:-target}/release
root=$(mktemp -d)
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$root"' EXIT

wait_ready() {
  for _ in $(seq 300); do
    curl -sf "$1/readyz" >/dev/null && return 0
    sleep 0.1
  done
  echo "not ready: $1" >&2
  return 1
}

# Sets `url` and `token` for a single node.
start_single() {
  local dir=$root/single-$1
  "$bin/croupier" serve --data-dir "$dir" --listen 127.0.0.1:18080 --no-quic --log warn \
    --ship-jurisdiction-profiles=false &
  pids+=($!)
  wait_ready http://127.0.0.1:18080
  url=http://127.0.0.1:18080
  token=$dir/operator-token
}

# Sets `url` (the leader's) and `token` for a 3-node group.
start_group() {
  local peers=() i
  for i in 1 2 3; do peers+=(--cluster-peer "$i=127.0.0.1:1740$i=http://127.0.0.1:1808$i"); done
  # One PAM master key for the group (members with different keys are refused).
  local key=$root/group-$1-pam-master-key
  [ -f "$key" ] || (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$key")
  for i in 1 2 3; do
    "$bin/croupier" serve --data-dir "$root/group-$1-n$i" --listen "127.0.0.1:1808$i" --no-quic --log warn \
      --ship-jurisdiction-profiles=false --pam-master-key-file "$key" \
      --cluster-node-id "$i" --cluster-raft-listen "127.0.0.1:1740$i" "${peers[@]}" \
      --cluster-secret bench-cluster-secret-0123456789 &
    pids+=($!)
  done
  token=
  url=
  for _ in $(seq 300); do
    for i in 1 2 3; do
      local file=$root/group-$1-n$i/operator-token
      if [ -s "$file" ] && curl -sf -H "authorization: Bearer $(cat "$file")" \
        "http://127.0.0.1:1808$i/operator/v1/cluster" | grep -q '"role":"leader"'; then
        token=$file
        url=http://127.0.0.1:1808$i
      fi
    done
    # A leader just elected may still be deposed by a concurrent election:
    # take it once it still leads two seconds later.
    if [ -n "$url" ]; then
      sleep 2
      curl -sf -H "authorization: Bearer $(cat "$token")" "$url/operator/v1/cluster" | grep -q '"role":"leader"' && return 0
      url=
    fi
    sleep 0.1
  done
  echo "the group elected no leader" >&2
  return 1
}

for round in $(seq "$rounds"); do
  for setup in single group; do
    "start_$setup" "$round"
    for connections in 1 64; do
      echo "## round $round, $setup, $connections connection(s)"
      "$bin/croupier-loadtest" run --url "$url" --token-file "$token" \
        --connections "$connections" --seconds "$seconds" --warmup-seconds 2
    done
    stop_all
  done
done
