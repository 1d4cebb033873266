#!/usr/bin/env bash
# sdk_e2e.sh - the project's own end-to-end tests with the official client SDKs pinned in
# tests/sdk (tests/sdk/e2e_*.test.mjs, run with node's test runner).  Starts the deterministic
# fake model (test_tools_fake_model, from the build directory holding $OSR_BINARY) behind two
# providers, "fake" (OpenAI-type) and "fakeant" (Anthropic-type), and `osaurus serve` on a free
# port with a temporary home holding the tiny test model from $OSR_TESTDATA (the local-model
# tests skip when it is absent); everything it starts is killed on exit.
#
# Needs OSR_BINARY, OSR_SDK_DIR (CTest sets both, and OSR_TESTDATA) and the SDKs installed by
# scripts/sdk_deps.sh.
set -u

fail() { echo "sdk_e2e: $*" >&2; exit 1; }
[ -n "${OSR_BINARY:-}" ] && [ -x "$OSR_BINARY" ] || fail "OSR_BINARY must name the built osaurus"
sdk=${OSR_SDK_DIR:-}
[ -n "$sdk" ] && [ -d "$sdk" ] || fail "OSR_SDK_DIR must name tests/sdk"
command -v node >/dev/null 2>&1 || fail "node (Node.js >= 20) is needed for the SDK tests"
for pkg in openai @anthropic-ai/sdk ollama @modelcontextprotocol/sdk; do
  [ -f "$sdk/node_modules/$pkg/package.json" ] ||
    fail "the SDKs are not installed in $sdk/node_modules: run scripts/sdk_deps.sh"
done
build=$(cd "$(dirname "$OSR_BINARY")" && pwd)
fake_bin="$build/test_tools_fake_model"
[ -x "$fake_bin" ] || fail "$fake_bin is missing (build the tests first)"

home=$(mktemp -d "${TMPDIR:-/tmp}/osr-sdk-e2e-XXXXXX")
fake_pid=""
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
  [ -n "$serve_pid" ] && wait "$serve_pid" 2>/dev/null
  [ -n "$fake_pid" ] && wait "$fake_pid" 2>/dev/null
  rm -rf "$home"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to about 30 s (sanitizer builds start slowly) for a line in a file.
wait_for() {
  for _ in $(seq 300); do
    grep -qs "$1" "$2" && return 0
    sleep 0.1
  done
  return 1
}

OSR_FAKE_MODEL_SERVE=1 "$fake_bin" > "$home/fake.out" 2>&1 &
fake_pid=$!
wait_for 'fake model on port' "$home/fake.out" || fail "the fake model did not start: $(cat "$home/fake.out")"
fake_port=$(sed -n 's/^fake model on port \([0-9]*\)$/\1/p' "$home/fake.out")

mkdir -p "$home/providers" "$home/models"
cat > "$home/providers/remote.json" <<JSON
{"providers":[
 {"id":"fake","name":"Fake model","host":"127.0.0.1","providerProtocol":"http","port":$fake_port,
  "basePath":"/v1","authType":"none","providerType":"openai","timeout":30},
 {"id":"fakeant","name":"Fake model (Anthropic)","host":"127.0.0.1","providerProtocol":"http",
  "port":$fake_port,"basePath":"/v1","authType":"none","providerType":"anthropic","timeout":30}]}
JSON
local_model=""
tiny="${OSR_TESTDATA:-}/llama-2-tiny-random.gguf"
if [ -n "${OSR_TESTDATA:-}" ] && [ -r "$tiny" ]; then
  ln -s "$tiny" "$home/models/llama-2-tiny-random.gguf"
else
  echo "sdk_e2e: no llama-2-tiny-random.gguf in OSR_TESTDATA; the local-model tests skip"
fi

# HOME points into the temporary home too, so the registry does not pick up this machine's own
# Ollama or Hugging Face model stores.
HOME="$home" OSU_PORT= "$OSR_BINARY" serve --port 0 --home "$home" --log-level warn \
  > "$home/serve.out" 2> "$home/serve.err" &
serve_pid=$!
wait_for 'listening on' "$home/serve.out" || fail "osaurus serve did not start: $(cat "$home/serve.err")"
url=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$home/serve.out")
[ -n "$url" ] || fail "no URL in: $(cat "$home/serve.out")"

if [ -L "$home/models/llama-2-tiny-random.gguf" ]; then
  # The local model's id as the server lists it (the one id without a provider prefix).
  local_model=$(node -e '
    fetch(process.argv[1] + "/v1/models").then((r) => r.json()).then((j) => {
      const m = j.data.map((x) => x.id).find((id) => !id.includes("/"));
      process.stdout.write(m || "");
    }).catch(() => {});' "$url")
  [ -n "$local_model" ] || fail "the server does not list the local test model"
fi

cd "$sdk" || fail "cannot enter $sdk"
SERVER_URL="$url" CLOUD_MODEL="fake/model" ANT_MODEL="fakeant/model" LOCAL_MODEL="$local_model" \
  node --test --test-reporter=spec e2e_*.test.mjs
rc=$?
if [ $rc -ne 0 ]; then
  echo "--- osaurus serve stderr (last 40 lines) ---"
  tail -n 40 "$home/serve.err"
fi
exit $rc
