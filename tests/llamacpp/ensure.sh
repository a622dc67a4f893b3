#!/usr/bin/env bash
# ensure.sh - make the llama.cpp harness ready: install node-llama-cpp@3.21.1 (with its
# prebuilt linux-x64 CPU binary) into tests/llamacpp/node_modules if it is not there yet.
#
# Exit status: 0 ready, 77 npm registry unreachable (prints one "SKIP: ..." line),
# 1 any other failure. Idempotent and quiet when already installed; safe to call from
# several tests at once (serialised with flock).
#
# Never downloads or builds llama.cpp itself: scripts are not run (--ignore-scripts) and
# NODE_LLAMA_CPP_SKIP_DOWNLOAD=true; only the npm packages pinned in package-lock.json
# are fetched. The GPU variants (CUDA, Vulkan: ~650 MB) are optional dependencies of
# node-llama-cpp and are left out with --omit=optional; the CPU binary package
# @node-llama-cpp/linux-x64 is a direct dependency in package.json for that reason.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE" || exit 1

STAMP="node_modules/.loom-ready"
BIN="node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node"

lock_sum() { sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1; }

ready() {
    [ -f "$STAMP" ] && [ -f "$BIN" ] && [ -f node_modules/node-llama-cpp/package.json ] &&
        [ "$(cat "$STAMP" 2>/dev/null)" = "$(lock_sum)" ]
}

ready && exit 0

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "ensure.sh: '$tool' not found (Node.js >= 20 and npm are needed)" >&2
        exit 1
    fi
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "${node_major:-0}" -lt 20 ]; then
    echo "ensure.sh: Node.js >= 20 needed, found $(node --version)" >&2
    exit 1
fi

# Serialise concurrent callers; the second one finds the stamp and returns.
if command -v flock >/dev/null 2>&1 && [ -z "${LOOM_LLAMACPP_LOCKED:-}" ]; then
    export LOOM_LLAMACPP_LOCKED=1
    exec flock "$HERE/.ensure.lock" bash "$HERE/ensure.sh" "$@"
fi
ready && exit 0

export NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
LOG="$(mktemp "${TMPDIR:-/tmp}/loom-llamacpp-npm.XXXXXX")"
trap 'rm -f "$LOG"' EXIT

net_error() {
    grep -Eim1 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|socket hang up|network|fetch failed|request to .* failed|E50[234]|ERR_SOCKET' "$LOG"
}

skip() {
    echo "SKIP: npm registry unreachable ($1)"
    exit 77
}

# A quick reachability probe, so that a blackholed registry fails in seconds, not minutes.
# When it fails, an install from npm's local cache (a previous install) may still work.
if ! npm ping --fetch-timeout=20000 --fetch-retries=1 >"$LOG" 2>&1; then
    why="$(net_error || tail -n1 "$LOG" | tr -d '\r')"
    rm -f "$STAMP"
    if npm ci --offline --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null 2>&1 &&
            [ -f "$BIN" ]; then
        lock_sum >"$STAMP"
        echo "ensure.sh: registry unreachable ($why); installed from npm's cache" >&2
        exit 0
    fi
    skip "$why"
fi

rm -f "$STAMP"
if ! npm ci --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error \
        --fetch-timeout=120000 --fetch-retries=2 >"$LOG" 2>&1; then
    if msg="$(net_error)"; then
        skip "$msg"
    fi
    echo "ensure.sh: npm ci failed in $HERE:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
fi

if [ ! -f "$BIN" ]; then
    echo "ensure.sh: installed, but the prebuilt CPU binary is missing: $HERE/$BIN" >&2
    exit 1
fi
if ! node --input-type=module -e 'await import("node-llama-cpp")' >"$LOG" 2>&1; then
    echo "ensure.sh: node-llama-cpp does not load:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
fi

lock_sum >"$STAMP"
echo "ensure.sh: installed node-llama-cpp $(node -p 'require("./node_modules/node-llama-cpp/package.json").version') into $HERE/node_modules" >&2
exit 0
