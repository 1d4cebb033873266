#!/usr/bin/env bash
# Provider proxy benchmark: 100 concurrent streaming requests through `osaurus serve` to a fake
# upstream that emits 500 SSE chunks per request as fast as it can, against the same requests
# sent to the upstream directly.  Prints TTFT overhead, per-chunk added latency (p50/p99) and
# frames/s.  Prints numbers; asserts nothing about speed (exits 1 only when streams were lost).
#
#   bench/proxy.sh                      CONCURRENCY=100 CHUNKS=500 by default
#   BUILD=build-release bench/proxy.sh  (BUILD holds osaurus and test_tools_bench_proxy)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$BUILD/osaurus
TOOL=$BUILD/test_tools_bench_proxy
CONCURRENCY=${CONCURRENCY:-100}
CHUNKS=${CHUNKS:-500}
[ -x "$BIN" ] || { echo "$BIN is missing: build first"; exit 1; }
[ -x "$TOOL" ] || { echo "$TOOL is missing: build first"; exit 1; }

home=$(mktemp -d)
up_pid=""
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    [ -n "$up_pid" ] && kill "$up_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$home"
}
trap cleanup EXIT

OSR_BENCH_MODE=upstream OSR_BENCH_CHUNKS=$CHUNKS "$TOOL" >"$home/up.txt" 2>"$home/up_err.txt" &
up_pid=$!
for _ in $(seq 100); do
    # The background job may not have opened its output file yet.
    up_port=$(sed -n 's/^bench upstream on port \([0-9]*\)$/\1/p' "$home/up.txt" 2>/dev/null || true)
    [ -n "$up_port" ] && break
    sleep 0.05
done
[ -n "${up_port:-}" ] || { echo "the fake upstream did not start"; cat "$home/up_err.txt"; exit 1; }

mkdir -p "$home/providers"
cat >"$home/providers/remote.json" <<JSON
{"providers":[{"id":"bench","host":"127.0.0.1","providerProtocol":"http","port":$up_port,
 "basePath":"","authType":"none","providerType":"openai","models":["burst"]}]}
JSON

"$BIN" serve --port 0 --home "$home" --log-level warn >"$home/out.txt" 2>"$home/err.txt" &
pid=$!
for _ in $(seq 100); do
    port=$(grep -o '[0-9]*$' "$home/out.txt" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "${port:-}" ] || { echo "server did not start"; cat "$home/err.txt"; exit 1; }

echo "osaurus $("$BIN" version | cut -d' ' -f2) on $(nproc) cores"
OSR_BENCH_MODE=client OSR_BENCH_CONCURRENCY=$CONCURRENCY OSR_BENCH_CHUNKS=$CHUNKS \
    OSR_BENCH_DIRECT="http://127.0.0.1:$up_port/chat/completions" \
    OSR_BENCH_PROXIED="http://127.0.0.1:$port/v1/chat/completions" \
    OSR_BENCH_MODEL=bench/burst "$TOOL"
