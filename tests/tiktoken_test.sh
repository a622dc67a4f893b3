#!/usr/bin/env bash
# loom's BPE agrees with OpenAI's tiktoken, token for token.
#
# usage: tests/tiktoken_test.sh PATH/TO/test_bpe_import      (exit 77 = skipped: npm unreachable)
#
# Installs the npm package pinned in tests/tiktoken/package-lock.json (tiktoken@1.0.22: the Rust
# tokenizer built to WASM, with the encodings' rank files), builds a varied corpus (English prose,
# Python and C source, synthetic whitespace/digit/emoji/CJK/RTL/combining-mark/special-token-text
# cases, random strings), has tiktoken encode it (special-token text as plain text, plus a few
# cases with the special tokens allowed), and checks that loom gives the same ids:
#   - gpt2 and cl100k_base loaded from the npm package's JSON (LM_BPE_RANKS),
#   - the same loaded from plain .tiktoken files,
#   - the same converted to Hugging Face tokenizer.json files (LM_BPE_MERGES, merges derived from
#     the ranks as Hugging Face's converter does),
#   - the same after a save and reload in loom's own tokenizer format.
# Environment: LOOM_TIKTOKEN_ENCODINGS (default "gpt2 cl100k_base"; o200k_base also works),
# KEEP=1 keeps the work folder.
set -uo pipefail
BIN=${1:?usage: tiktoken_test.sh PATH/TO/test_bpe_import}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
TT="$HERE/tiktoken"
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "not ok - $*"; fail=$((fail + 1)); }

if [ ! -x "$BIN" ]; then
    echo "not ok - test program '$BIN' is not executable"
    echo "0 passed, 1 failed"
    exit 1
fi

bash "$TT/ensure.sh"
rc=$?
if [ $rc -eq 77 ]; then
    echo "SKIPPED: tiktoken agreement test: npm registry unreachable (tiktoken@1.0.22 could not be installed)"
    exit 77
fi
[ $rc -eq 0 ] || { echo "not ok - installing the tiktoken npm package failed"; echo "0 passed, 1 failed"; exit 1; }
export LOOM_TIKTOKEN_DIR="$TT"

W=$(mktemp -d "${TMPDIR:-/tmp}/loom_tiktoken_test.XXXXXX") || exit 1
if [ "${KEEP:-0}" = 1 ]; then echo "# work folder: $W"; else trap 'rm -rf "$W"' EXIT; fi
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the corpus (files)
files=()
add_files() { # LIMIT_BYTES EVERY_NTH FILE...  (sorted input; every Nth file until LIMIT bytes)
    local limit=$1 every=$2 total=0 i=0 f s
    shift 2
    for f in "$@"; do
        i=$((i + 1))
        [ $((i % every)) -eq 0 ] || continue
        [ -f "$f" ] && [ -r "$f" ] || continue
        s=$(stat -c %s "$f")
        [ "$s" -gt 0 ] || continue
        files+=("$f")
        total=$((total + s))
        [ $total -lt "$limit" ] || break
    done
}
# English prose
add_files 400000 1 "$ROOT/README.md" "$ROOT"/docs/*.md /usr/share/common-licenses/GPL-3 \
    /usr/share/common-licenses/Apache-2.0 /usr/share/common-licenses/Artistic
# Python source (the standard library), C headers, loom's own C
PYDIR=$(ls -d /usr/lib/python3.11 /usr/lib/python3.* 2>/dev/null | head -n1)
if [ -n "$PYDIR" ]; then
    mapfile -t py < <(find "$PYDIR" -maxdepth 1 -name '*.py' | LC_ALL=C sort)
    add_files 600000 4 "${py[@]}"
fi
mapfile -t hdr < <(find /usr/include -maxdepth 1 -name '*.h' | LC_ALL=C sort)
add_files 400000 3 "${hdr[@]}"
mapfile -t csrc < <(find "$ROOT/src" -name '*.c' | LC_ALL=C sort)
add_files 300000 2 "${csrc[@]}"
# a file of Windows line ends and tabs, built from a header
if [ ${#hdr[@]} -gt 0 ]; then
    sed 's/$/\r/; s/    /\t/g' "${hdr[0]}" >"$W/crlf_tabs.h"
    files+=("$W/crlf_tabs.h")
fi
echo "# corpus: ${#files[@]} files ($(cat "${files[@]}" | wc -c) bytes) + synthetic cases"

ENCODINGS=${LOOM_TIKTOKEN_ENCODINGS:-gpt2 cl100k_base}
for enc in $ENCODINGS; do
    exp="$W/expected-$enc.jsonl"
    if ! node "$TT/tiktoken_ref.cjs" expect --enc "$enc" --out "$exp" "${files[@]}" 2>"$W/node.err"; then
        bad "$enc: tiktoken could not encode the corpus: $(tail -n 3 "$W/node.err")"
        continue
    fi
    sed 's/^/# /' "$W/node.err"
    # run_compare NAME TOKENIZER [ARGS...]: one compare run; its own ok/not ok lines are shown
    run_compare() {
        local name=$1
        shift
        "$BIN" compare "$@" >"$W/cmp.out" 2>&1
        local rc=$?
        sed 's/^ok - /  ok - /; s/^not ok - /  not ok - /' "$W/cmp.out" | grep -av 'passed, .* failed$'
        if [ $rc -eq 0 ] && ! grep -q '^not ok' "$W/cmp.out" && grep -q '^ok' "$W/cmp.out"; then
            ok "$name"
        else
            bad "$name (exit status $rc)"
        fi
    }
    # 1. the npm package's JSON, found by name through $LOOM_TIKTOKEN_DIR
    run_compare "$enc from tiktoken's npm JSON = tiktoken" "tiktoken:$enc" "$exp" --threads 2
    # 2. a plain .tiktoken file (BASE64 RANK lines), named after its encoding
    plain="$W/$enc.tiktoken"
    node -e '
        const d = require(process.argv[1]);
        const out = [];
        for (const line of d.bpe_ranks.split("\n")) {
            if (!line) continue;
            const [, off, ...toks] = line.split(" ");
            toks.forEach((t, i) => out.push(`${t} ${Number(off) + i}`));
        }
        require("fs").writeFileSync(process.argv[2], out.join("\n") + "\n");
    ' "$TT/node_modules/tiktoken/encoders/$enc.json" "$plain"
    run_compare "$enc from a plain .tiktoken file = tiktoken" "tiktoken:$plain" "$exp" --threads 1
    # 3. loom's own format after a save and reload
    run_compare "$enc saved and reloaded in loom's format = tiktoken" "tiktoken:$enc" "$exp" --resave --threads 1
    # 4. as a Hugging Face tokenizer.json (merges mode)
    style=strings
    [ "$enc" = gpt2 ] || style=pairs
    if node "$TT/tiktoken_ref.cjs" hf-json --enc "$enc" --merges $style --out "$W/$enc.tokenizer.json" 2>"$W/node.err"; then
        sed 's/^/# /' "$W/node.err"
        run_compare "$enc as a tokenizer.json (merges as $style) = tiktoken" "hf:$W/$enc.tokenizer.json" "$exp" --threads 2
    else
        bad "$enc: writing the tokenizer.json failed: $(tail -n 3 "$W/node.err")"
    fi
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
