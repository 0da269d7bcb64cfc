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
. loadtest/scripts/scratch-server.sh
for round in $(seq "$rounds"); do
  for connections in 1 64; do
    for scenario in wallet-balance operator-balance; do
      echo "## round $round, $connections connection(s), $scenario"
      "$bin/croupier-loadtest" run --url "http://127.0.0.1:$port" --token-file "$data/operator-token" \
        --connections "$connections" --seconds "$seconds" --warmup-seconds 2 --scenario "$scenario"
    done
  done
done
