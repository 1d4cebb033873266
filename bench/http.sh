#!/usr/bin/env bash
# HTTP benchmark: wrk against GET /health and GET /v1/models at 16 and 128 connections, then
# (SOAK=1) a soak at 256 connections on /health reporting errors and the server's RSS before,
# during and after.  Prints numbers; asserts nothing.
#
#   bench/http.sh                    DURATION=10 by default
#   SOAK=1 SOAK_SECONDS=60 bench/http.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/osaurus}
DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is missing: make deps"; exit 1; }
[ -x "$BIN" ] || { echo "$BIN is missing: make build"; exit 1; }

home=$(mktemp -d)
"$BIN" serve --port 0 --home "$home" --log-level warn >"$home/out.txt" 2>"$home/err.txt" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$home"' EXIT
for _ in $(seq 100); do
    port=$(grep -o '[0-9]*$' "$home/out.txt" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "${port:-}" ] || { echo "server did not start"; cat "$home/err.txt"; exit 1; }
base="http://127.0.0.1:$port"
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$pid/status"; }
threads() { awk '/Threads/ {print $2}' "/proc/$pid/status"; }

echo "osaurus $("$BIN" version | cut -d' ' -f2) on $(nproc) cores; wrk -t$THREADS, ${DURATION}s per run"
printf '%-12s %6s %12s %12s %12s %8s\n' path conns req/s "lat avg" "lat p99" errors
for path in /health /v1/models; do
    for c in 16 128; do
        out=$(wrk -t"$THREADS" -c"$c" -d"${DURATION}s" --latency "$base$path")
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        avg=$(awk '$1 == "Latency" {print $2; exit}' <<<"$out")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
        errs=$(awk '/Socket errors|Non-2xx/ {s = s $0 "; "} END {print (s == "" ? "0" : s)}' <<<"$out")
        printf '%-12s %6s %12s %12s %12s %8s\n' "$path" "$c" "$rps" "$avg" "$p99" "$errs"
    done
done
echo "server RSS after the runs: $(rss), threads: $(threads)"

if [ "${SOAK:-0}" = 1 ]; then
    secs=${SOAK_SECONDS:-60}
    echo "soak: ${secs}s at 256 connections on /health"
    echo "  RSS before: $(rss)"
    wrk -t"$THREADS" -c256 -d"${secs}s" --latency "$base/health" >"$home/soak.txt" &
    wpid=$!
    for q in 1 2 3 4; do
        sleep $((secs / 5))
        echo "  RSS at $((q * secs / 5))s: $(rss) (threads $(threads))"
    done
    wait $wpid
    grep -E 'Requests/sec|requests in|Socket errors|Non-2xx|Latency ' "$home/soak.txt" | sed 's/^/  /'
    grep -qE 'Socket errors|Non-2xx' "$home/soak.txt" || echo "  errors: 0"
    sleep 2
    echo "  RSS after: $(rss) (threads $(threads))"
fi
