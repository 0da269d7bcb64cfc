#!/usr/bin/env bash
# Where should the wallet's in-session balance be read? Side by side on one
# release `croupier serve` (fresh temporary data directory, embedded
# defaults): the aggregator's balance call (`/wallet/v1/balance`, answered by
# the sequencer through the ring) and the operator's balance read
# (`/operator/v1/players/{p}/balance`, answered from the read model), with 1
# and 64 connections over HTTP/1.1, alternated, ROUNDS times. Loopback only.
#
# Usage: loadtest/scripts/balance-figures.sh [ROUNDS] [SECONDS]
set -euo pipefail
rounds=${1:-3}
seconds=${2:-10}
cd "$(dirname "$0")/../.."
cargo build --release -p croupier-gateway -p croupier-loadtest
bin=${CARGO_TARGET_DIR:-target}/release
data=$(mktemp -d)
port=18080
"$bin/croupier" serve --data-dir "$data" --listen "127.0.0.1:$port" --quic-listen "127.0.0.1:18443" --log warn &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  kill -0 "$server" 2>/dev/null || { echo "the server did not start" >&2; exit 1; }
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
for round in $(seq "$rounds"); do
  for connections in 1 64; do
    for play in wallet-balance operator-balance; do
      echo "## round $round, $connections connection(s), $play"
      "$bin/croupier-loadtest" wallet --url "http://127.0.0.1:$port" --token-file "$data/operator-token" \
        --connections "$connections" --seconds "$seconds" --warmup-seconds 2 --play "$play"
    done
  done
done
