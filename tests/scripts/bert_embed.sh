#!/usr/bin/env bash
# bert_embed.sh - runs bert_embed.py (synthetic BERT / nomic-bert models checked against a
# numpy reference through `osaurus serve`) with a python3 that has numpy; skips when none has.
set -u
here=$(cd "$(dirname "$0")" && pwd)
py=""
for cand in /usr/bin/python3 python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import numpy' >/dev/null 2>&1; then
    py=$cand
    break
  fi
done
if [ -z "$py" ]; then
  echo "skipping: no python3 with numpy (Debian: python3-numpy)"
  exit 0
fi
exec "$py" "$here/bert_embed.py"
