#!/usr/bin/env bash
# Fails when a source file calls a banned libc function (STYLE.md "Safety rails"): use
# snprintf, the capped buffer, strtol with an end pointer and the _r variants instead.
set -euo pipefail
root=${1:-.}
banned='strcpy|strcat|sprintf|vsprintf|strtok|gets|atoi|atol|atoll|atof|gmtime|localtime|ctime|asctime|strncpy|strncat|tmpnam|mktemp'
hits=$(grep -rnE --include='*.c' --include='*.h' "(^|[^_a-zA-Z0-9.>])($banned)[[:space:]]*\(" \
    "$root/src" "$root/include" "$root/tests" "$root/fuzz" "$root/bench" 2>/dev/null || true)
if [ -n "$hits" ]; then
    echo "banned functions used:"
    echo "$hits"
    exit 1
fi
echo "1 passed, 0 failed"
