#!/usr/bin/env bash
# Installs the Debian packages Osaurus needs, or says exactly how to.
#
#   scripts/deps.sh          install what is missing (as root), else print the apt line and fail
#   scripts/deps.sh --check  only report; exit 1 when something is missing
#
# SQLCipher 4.6 comes from the distribution's backports suite.  The backports entry is derived
# from the machine's own apt configuration (same URIs and keyring, suite <codename>-backports),
# so no mirror host name is ever written by this project.
set -euo pipefail

PACKAGES=(
    build-essential cmake ninja-build pkg-config clang llvm
    libmicrohttpd-dev libjson-c-dev libcurl4-openssl-dev libssl-dev
    libsecp256k1-dev libyaml-dev libpcre2-dev libutf8proc-dev libwslay-dev libseccomp-dev
    bubblewrap curl wrk python3-numpy
)
# Packages that must come from backports, with the minimum upstream version we need.
BACKPORTS=(libsqlcipher-dev:4.6)

mode=${1:-install}

codename() {
    . /etc/os-release
    echo "${VERSION_CODENAME:?cannot tell the Debian codename from /etc/os-release}"
}

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
    local spec name min have
    for spec in "${BACKPORTS[@]}"; do
        name=${spec%%:*}
        min=${spec#*:}
        have=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null || true)
        if [ -z "$have" ] || dpkg --compare-versions "${have#*:}" lt "$min"; then
            echo "$name"
        fi
    done
}

# Prints a deb822 stanza for <codename>-backports built from the first enabled entry that
# serves <codename> itself.
derive_backports_stanza() {
    local cn=$1 f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v cn="$cn" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " cn " ") && uris != "" && !done) {
                    print "Types: deb"
                    print "URIs: " uris
                    print "Suites: " cn "-backports"
                    print "Components: " comps
                    if (signed != "") print "Signed-By: " signed
                    done = 1
                }
                types = uris = suites = comps = signed = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^Types:/      { sub(/^Types:[ \t]*/, "");      types = $0 }
            /^URIs:/       { sub(/^URIs:[ \t]*/, "");       uris = $0 }
            /^Suites:/     { sub(/^Suites:[ \t]*/, "");     suites = $0 }
            /^Components:/ { sub(/^Components:[ \t]*/, ""); comps = $0 }
            /^Signed-By:/  { sub(/^Signed-By:[ \t]*/, "");  signed = $0 }
            END { flush() }
        ' "$f" | head -n 5 && return 0
    done
    # One-line format.
    local line
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        line=$(awk -v cn="$cn" '$1 == "deb" && $0 !~ /^[ \t]*#/ {
                   for (i = 2; i <= NF; i++) if ($i == cn) { print; exit } }' "$f")
        if [ -n "$line" ]; then
            # deb [opts] URI suite components...
            echo "$line" | awk -v cn="$cn" '{
                opts = ""; i = 2
                if ($2 ~ /^\[/) { while ($i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
                uri = $i; comps = ""
                for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
                print "Types: deb"; print "URIs: " uri; print "Suites: " cn "-backports"
                print "Components: " comps
                if (match(opts, /signed-by=[^] ]+/)) print "Signed-By: " substr(opts, RSTART + 10, RLENGTH - 10)
            }'
            return 0
        fi
    done
    return 1
}

enable_backports() {
    local cn target stanza
    cn=$(codename)
    target=/etc/apt/sources.list.d/osaurus-backports.sources
    if grep -rqs -- "${cn}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return 0
    fi
    stanza=$(derive_backports_stanza "$cn") || {
        echo "deps: no apt source entry for '$cn' to derive '$cn-backports' from" >&2
        exit 1
    }
    echo "deps: enabling ${cn}-backports in $target"
    printf '%s\n' "$stanza" >"$target"
}

missing=$(missing_packages | sort -u | tr '\n' ' ')
missing=${missing% }
if [ -z "$missing" ]; then
    exit 0
fi

if [ "$mode" = "--check" ]; then
    echo "deps: missing packages: $missing" >&2
    exit 1
fi

cn=$(codename)
bp_names=()
for spec in "${BACKPORTS[@]}"; do bp_names+=("${spec%%:*}"); done
plain=()
bp=()
for p in $missing; do
    if printf '%s\n' "${bp_names[@]}" | grep -qx "$p"; then bp+=("$p/${cn}-backports"); else plain+=("$p"); fi
done

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: $missing" >&2
    echo "deps: as root, enable ${cn}-backports (same URIs as your '$cn' entry) and run:" >&2
    echo "    apt-get update && apt-get install -y ${plain[*]} ${bp[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
[ ${#bp[@]} -eq 0 ] || enable_backports
apt-get update -q
apt-get install -y -q --no-install-recommends "${plain[@]}" "${bp[@]}"
