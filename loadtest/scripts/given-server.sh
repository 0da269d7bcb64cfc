# Sourced by the scripts that measure a server binary they are given:
# starts "$binary" serve on a fresh temporary data directory on loopback
# (port $port, HTTP/3 on $quic_port), waits until it is ready, and on exit
# stops it and removes the data directory and the directory $out. Sets
# `server` (its pid) and `data`.
data=$(mktemp -d)
"$binary" serve --data-dir "$data" --listen "127.0.0.1:$port" --quic-listen "127.0.0.1:$quic_port" --log warn \
  --ship-jurisdiction-profiles=false &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data" "$out"
}
trap cleanup EXIT
for _ in $(seq 100); do
  kill -0 "$server" 2>/dev/null || { echo "the server did not start" >&2; exit 1; }
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
