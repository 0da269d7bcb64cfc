# Sourced by the figure scripts: builds the release binaries, starts
# `croupier serve` on a fresh temporary data directory on loopback (port
# 18080, HTTP/3 on 18443), waits until it is ready, and removes it all on
# exit. Sets `bin`, `data` and `port`. CROUPIER_SERVE_ARGS adds flags to
# `croupier serve`; CROUPIER_BUILD_ARGS adds packages to the one build (one
# feature resolution, so nothing is compiled twice).
cargo build --release -p croupier-gateway -p croupier-loadtest ${CROUPIER_BUILD_ARGS:-}
bin=${CARGO_TARGET_DIR:-target}/release
data=$(mktemp -d)
port=18080
"$bin/croupier" serve --data-dir "$data" --listen "127.0.0.1:$port" --quic-listen "127.0.0.1:18443" --log warn \
  --ship-jurisdiction-profiles=false ${CROUPIER_SERVE_ARGS:-} &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  kill -0 "$server" 2>/dev/null || { echo "the server did not start" >&2; exit 1; }
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
