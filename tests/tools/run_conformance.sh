#!/usr/bin/env bash
# run_conformance.sh - runs the official-SDK conformance suites against `osaurus serve` with a
# cloud provider pointing at the deterministic fake model (tests/tools/test_fake_model.c).
# Not part of ctest (it needs node and the suites' npm packages).
#
#   tests/tools/run_conformance.sh BUILD_DIR CONFORMANCE_DIR [suite...]
#
# BUILD_DIR holds the built osaurus and test_tools_fake_model; CONFORMANCE_DIR is a writable
# copy of the conformance kit (its run.sh installs node_modules on first use).  The model under
# test is $MODEL, by default "fake/model" (the fake behind an OpenAI-type provider); the same
# fake behind an Anthropic-type provider is "fakeant/model".  Exit status: run.sh's.
set -u
if [ "$#" -lt 2 ]; then
  echo "usage: $0 BUILD_DIR CONFORMANCE_DIR [suite...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
kit=$(cd "$2" && pwd)
shift 2
suites=("$@")
[ "${#suites[@]}" -gt 0 ] || suites=(openai_chat anthropic openai_responses ollama)

home=$(mktemp -d "${TMPDIR:-/tmp}/osr-conf-XXXXXX")
fake_pid=""
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$home"
}
trap cleanup EXIT

OSR_FAKE_MODEL_SERVE=1 "$build/test_tools_fake_model" > "$home/fake.out" 2>&1 &
fake_pid=$!
for _ in $(seq 50); do grep -qs 'fake model on port' "$home/fake.out" && break; sleep 0.1; done
fake_port=$(sed -n 's/^fake model on port \([0-9]*\)$/\1/p' "$home/fake.out")
[ -n "$fake_port" ] || { echo "the fake model did not start" >&2; exit 1; }

mkdir -p "$home/providers"
cat > "$home/providers/remote.json" <<JSON
{"providers":[{"id":"fake","name":"Fake model","host":"127.0.0.1","providerProtocol":"http",
 "port":$fake_port,"basePath":"/v1","customHeaders":{},"authType":"none","providerType":"openai",
 "enabled":true,"autoConnect":true,"timeout":30,"secretHeaderKeys":[]},
 {"id":"fakeant","name":"Fake model (Anthropic)","host":"127.0.0.1","providerProtocol":"http",
 "port":$fake_port,"basePath":"/v1","authType":"none","providerType":"anthropic"}]}
JSON

"$build/osaurus" serve --port 0 --home "$home" > "$home/serve.out" 2> "$home/serve.err" &
serve_pid=$!
for _ in $(seq 50); do grep -qs 'listening on' "$home/serve.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$home/serve.out")
[ -n "$url" ] || { echo "osaurus serve did not start:" >&2; cat "$home/serve.err" >&2; exit 1; }

SERVER_URL="$url" MODEL="${MODEL:-fake/model}" "$kit/run.sh" "${suites[@]}"
