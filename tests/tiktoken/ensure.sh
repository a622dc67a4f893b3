#!/usr/bin/env bash
# ensure.sh - make the tiktoken harness ready: install the npm packages pinned in
# package-lock.json (tiktoken@1.0.22: OpenAI's Rust tokenizer built to WASM, and its encodings'
# rank files under node_modules/tiktoken/encoders/) into tests/tiktoken/node_modules.
#
# Exit status: 0 ready, 77 npm registry unreachable (prints one "SKIPPED: ..." line),
# 1 any other failure. Idempotent and quiet when already installed; safe to call from
# several tests at once (serialised with flock). No install scripts are run.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE" || exit 1

STAMP="node_modules/.loom-ready"
lock_sum() { sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1; }
ready() {
    [ -f "$STAMP" ] && [ -f node_modules/tiktoken/encoders/cl100k_base.json ] &&
        [ "$(cat "$STAMP" 2>/dev/null)" = "$(lock_sum)" ]
}
ready && exit 0

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIPPED: '$tool' not found (Node.js >= 18 and npm are needed for the tiktoken test)"
        exit 77
    fi
done

if command -v flock >/dev/null 2>&1 && [ -z "${LOOM_TIKTOKEN_LOCKED:-}" ]; then
    export LOOM_TIKTOKEN_LOCKED=1
    exec flock "$HERE/.ensure.lock" bash "$HERE/ensure.sh" "$@"
fi
ready && exit 0

export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
LOG="$(mktemp "${TMPDIR:-/tmp}/loom-tiktoken-npm.XXXXXX")"
trap 'rm -f "$LOG"' EXIT
net_error() {
    grep -Eim1 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|socket hang up|network|fetch failed|request to .* failed|E50[234]|ERR_SOCKET' "$LOG"
}
skip() {
    echo "SKIPPED: npm registry unreachable ($1)"
    exit 77
}

rm -f "$STAMP"
if ! npm ping --fetch-timeout=20000 --fetch-retries=1 >"$LOG" 2>&1; then
    why="$(net_error || tail -n1 "$LOG" | tr -d '\r')"
    # a previous install may still be in npm's cache
    if npm ci --offline --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null 2>&1 &&
            [ -f node_modules/tiktoken/encoders/cl100k_base.json ]; then
        lock_sum >"$STAMP"
        echo "ensure.sh: registry unreachable ($why); installed from npm's cache" >&2
        exit 0
    fi
    skip "$why"
fi
if ! npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --fetch-timeout=120000 --fetch-retries=2 \
        >"$LOG" 2>&1; then
    if msg="$(net_error)"; then skip "$msg"; fi
    echo "ensure.sh: npm ci failed in $HERE:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
fi
if ! node -e 'require("tiktoken").get_encoding("gpt2").free()' >"$LOG" 2>&1; then
    echo "ensure.sh: tiktoken does not load:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
fi
lock_sum >"$STAMP"
echo "ensure.sh: installed tiktoken $(node -p 'require("./node_modules/tiktoken/package.json").version') into $HERE/node_modules" >&2
exit 0
