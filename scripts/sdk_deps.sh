#!/bin/sh
# sdk_deps.sh - install the official client SDKs pinned in tests/sdk (package.json and
# package-lock.json) into tests/sdk/node_modules, for the end-to-end tests that drive the
# server with them.  Runs `npm ci` only when node_modules is missing or older than the lock.
# Needs Node.js >= 20 and npm (the machine's own) and the npm registry.
set -eu
cd "$(dirname "$0")/../tests/sdk"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "sdk_deps: node and npm are needed for the SDK end-to-end tests" >&2
    exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
    echo "sdk_deps: Node.js >= 20 is needed (found $(node --version))" >&2
    exit 1
fi
stamp=node_modules/.osr-installed
if [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ]; then
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
touch "$stamp"
