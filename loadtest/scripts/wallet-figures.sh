#!/usr/bin/env bash
# The wallet API figures of BENCHMARKS.md: a release `croupier serve` on a
# fresh temporary data directory (journal flushed once per batch, the
# default), then `croupier-loadtest run` (scenario `rounds`) with 1 and 64 connections over
# HTTP/1.1 and HTTP/2, alternated, ROUNDS times. Loopback only.
#
# Usage: loadtest/scripts/wallet-figures.sh [ROUNDS] [SECONDS]
set -euo pipefail
rounds=${1:-3}
seconds=${2:-10}
cd "$(dirname "$0")/../.."
. loadtest/scripts/scratch-server.sh
for round in $(seq "$rounds"); do
  for connections in 1 64; do
    for http in "" --http2; do
      echo "## round $round, $connections connection(s) ${http:---http1}"
      "$bin/croupier-loadtest" run --url "http://127.0.0.1:$port" --token-file "$data/operator-token" \
        --connections "$connections" --seconds "$seconds" --warmup-seconds 2 $http
    done
  done
done
