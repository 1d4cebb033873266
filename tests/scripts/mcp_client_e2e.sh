#!/usr/bin/env bash
# End to end: the real `osaurus` binary with providers/mcp.json pointing at the official SDK's
# MCP server (tests/sdk/mcp_fixture_server.mjs) over Streamable HTTP and over stdio.
#   - `osaurus tools secret` stores a secret header; `osaurus tools list --json` shows the
#     providers' tools with source "mcp";
#   - `osaurus serve` connects the providers: GET /mcp/tools lists their tools, POST /mcp/call
#     runs them (the secret header reaches the server), and the stdio child dies with the
#     server;
#   - the official SDK's client drives `osaurus mcp` over stdio against that server.
# Needs OSR_BINARY, OSR_SDK_DIR (set by CTest) and Node.js.
set -uo pipefail

passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "check failed: $what" >&2
    fi
}

bin=${OSR_BINARY:?OSR_BINARY is not set}
sdk=${OSR_SDK_DIR:?OSR_SDK_DIR is not set}
if [ ! -f "$sdk/node_modules/@modelcontextprotocol/sdk/package.json" ]; then
    echo "the MCP SDK is not installed in \$OSR_SDK_DIR/node_modules: run scripts/sdk_deps.sh" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
if ! command -v node > /dev/null; then
    echo "node is not on PATH; this test needs Node.js 20 or later" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/osr-mcpc-e2e-XXXXXX")
fx_pid=""
srv_pid=""
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2> /dev/null && wait "$srv_pid" 2> /dev/null
    [ -n "$fx_pid" ] && kill -- "-$fx_pid" 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The fixture, in a process group of its own, printing "PORT <n>".
setsid node "$sdk/mcp_fixture_server.mjs" > "$work/fx.out" 2> "$work/fx.err" &
fx_pid=$!
port=""
for _ in $(seq 1 150); do
    port=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$work/fx.out")
    [ -n "$port" ] && break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "the fixture did not start:" >&2
    cat "$work/fx.err" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

home="$work/home"
mkdir -p "$home/providers" "$home/config"
cat > "$home/providers/mcp.json" << EOF
{"providers":[
  {"id":"fx","name":"Fixture","url":"http://127.0.0.1:$port/mcp","enabled":true,
   "customHeaders":{},"streamingEnabled":false,"discoveryTimeout":10,"toolCallTimeout":10,
   "autoConnect":true,"secretHeaderKeys":["X-Fixture-Secret"]},
  {"id":"sx","command":"node","args":["$sdk/mcp_fixture_server.mjs","--stdio"]}
]}
EOF
# MCP tools ask by default; /mcp/call has no one to ask, so allow two of them.
cat > "$home/config/tools.json" << 'EOF'
{"policy":{"fx_echo":"auto","fx_whoami":"auto"}}
EOF

printf 'e2e-secret-value\n' | "$bin" tools secret fx X-Fixture-Secret --home "$home" > /dev/null
check "tools secret stores the value" test $? -eq 0
check "the secret is not written into mcp.json" bash -c "! grep -q e2e-secret-value '$home/providers/mcp.json'"

# `osaurus tools list --json`
"$bin" tools list --json --home "$home" > "$work/list.json" 2> "$work/list.err"
check "tools list exits 0" test $? -eq 0
jsq() { # jsq FILE EXPR: evaluates EXPR over the parsed file as `d`
    node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
             process.stdout.write(String(eval(process.argv[2])))' "$1" "$2"
}
check "tools list shows fx_echo from mcp" \
    test "$(jsq "$work/list.json" 'd.tools.find(t=>t.name==="fx_echo")?.source')" = mcp
check "tools list shows fx_echo's provider" \
    test "$(jsq "$work/list.json" 'd.tools.find(t=>t.name==="fx_echo")?.provider')" = fx
check "tools list applies tools.json policy" \
    test "$(jsq "$work/list.json" 'd.tools.find(t=>t.name==="fx_echo")?.policy')" = auto
check "tools list shows the stdio provider's tools" \
    test "$(jsq "$work/list.json" 'd.tools.find(t=>t.name==="sx_add")?.source')" = mcp
check "tools list keeps the built-ins" \
    test "$(jsq "$work/list.json" 'd.tools.find(t=>t.name==="calculator")?.source')" = builtin
check "tools list shows the loop tools" \
    test "$(jsq "$work/list.json" 'd.tools.find(t=>t.name==="complete")?.source')" = loop
check "tools list shows the folder tools and their policy" \
    test "$(jsq "$work/list.json" 'd.tools.find(t=>t.name==="shell_run")?.policy')" = ask
check "tools list shows providers connected" \
    test "$(jsq "$work/list.json" 'd.providers.filter(p=>p.connected).length')" = 2
"$bin" tools list --home "$home" > "$work/list.txt"
check "the text listing names the providers" grep -q "fx .*connected, 7 tool" "$work/list.txt"

# `osaurus serve`
"$bin" serve --port 0 --home "$home" > "$work/serve.out" 2> "$work/serve.err" &
srv_pid=$!
base=""
for _ in $(seq 1 100); do
    base=$(sed -n 's/^listening on \(http:[^ ]*\).*$/\1/p' "$work/serve.out")
    [ -n "$base" ] && break
    sleep 0.1
done
check "serve starts" test -n "$base"
listed=""
for _ in $(seq 1 150); do
    curl -s "$base/mcp/tools" > "$work/tools.json"
    if grep -q '"fx_echo"' "$work/tools.json" && grep -q '"sx_echo"' "$work/tools.json"; then
        listed=yes
        break
    fi
    sleep 0.1
done
check "/mcp/tools lists the providers' tools" test -n "$listed"

curl -s -X POST "$base/mcp/call" -H 'Content-Type: application/json' \
    -d '{"name":"fx_echo","arguments":{"text":"through serve"}}' > "$work/call.json"
check "/mcp/call runs a provider's tool" \
    test "$(jsq "$work/call.json" 'JSON.parse(d.content[0].text).result.text')" = "through serve"
check "/mcp/call reports success" test "$(jsq "$work/call.json" 'd.isError')" = false
curl -s -X POST "$base/mcp/call" -H 'Content-Type: application/json' \
    -d '{"name":"fx_whoami","arguments":{}}' > "$work/who.json"
check "the secret header reaches the provider" \
    test "$(jsq "$work/who.json" 'JSON.parse(d.content[0].text).result.text')" = e2e-secret-value
curl -s -X POST "$base/mcp/call" -H 'Content-Type: application/json' \
    -d '{"name":"sx_echo","arguments":{"text":"x"}}' > "$work/ask.json"
check "an 'ask' tool is rejected without an approver" \
    test "$(jsq "$work/ask.json" 'JSON.parse(d.content[0].text).kind')" = rejected
check "no secret in the server's log" bash -c "! grep -q e2e-secret-value '$work/serve.err'"

# The official SDK as a client of `osaurus mcp` over stdio, which forwards to this server.
node "$sdk/mcp_stdio_client.mjs" "$bin" "$home" > "$work/stdio.json" 2> "$work/stdio.err"
check "the SDK's stdio client ran" test $? -eq 0
check "no error over stdio" test "$(jsq "$work/stdio.json" 'd.error ?? "none"')" = none
check "osaurus mcp names itself" test "$(jsq "$work/stdio.json" 'd.server')" = "Osaurus MCP Proxy"
check "tools/list over stdio has the calculator" \
    test "$(jsq "$work/stdio.json" 'd.tools.includes("calculator")')" = true
check "tools/list over stdio has the provider's tools" \
    test "$(jsq "$work/stdio.json" 'd.tools.includes("fx_echo")')" = true
check "the calculator's schema came through" \
    test "$(jsq "$work/stdio.json" 'd.calculatorHasSchema')" = object
check "tools/call over stdio" \
    test "$(jsq "$work/stdio.json" 'JSON.parse(d.calcText).result.value')" = 14
check "tools/call over stdio is not an error" test "$(jsq "$work/stdio.json" 'd.calcIsError')" = false
check "an unknown tool is an error over stdio" \
    test "$(jsq "$work/stdio.json" 'd.badIsError')" = true
check "ping over stdio" test "$(jsq "$work/stdio.json" 'd.ping')" = true

# The stdio child belongs to the server and goes with it.
child=$(ps -o pid= --ppid "$srv_pid" | tr -d ' ' | head -n 1)
check "serve started the stdio provider" test -n "$child"
kill -TERM "$srv_pid"
wait "$srv_pid"
check "serve exits 0 on SIGTERM" test $? -eq 0
srv_pid=""
check "the stdio child is gone after serve stops" bash -c "! kill -0 '$child' 2>/dev/null"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
