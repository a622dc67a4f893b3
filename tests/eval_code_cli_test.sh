#!/usr/bin/env bash
# End-to-end checks of `loom eval-code` with a tiny code model trained on a few Python files:
# the table has the four figures and the baseline column, --format json parses and holds both
# models, --baseline none leaves the baseline out, and bad input (a folder with no Python or C
# files, a missing model, a missing parser program) gives one clear error line and status 1 or 2.
#
# usage: tests/eval_code_cli_test.sh PATH/TO/loom   (may be an ASan/UBSan build: tiny model)
set -u
NAME=evalcode
. "$(dirname "$0")/lib.sh" "$@"
# expect_error NAME KEYWORD ENV... -- CMD ARGS...: exit 1 or 2, one stderr line mentioning KEYWORD
expect_error() {
    local name=$1 key=$2
    shift 2
    "$@" >out.txt 2>err.txt </dev/null
    local rc=$? n
    n=$(awk 'END { print NR }' err.txt)
    if [ "$rc" -ne 1 ] && [ "$rc" -ne 2 ]; then not_ok "$name: exit status $rc" "$(cat err.txt)"
    elif sanitizer err.txt; then not_ok "$name: sanitizer report" "$(cat err.txt)"
    elif [ "$n" -ne 1 ]; then not_ok "$name: $n lines on stderr, want 1" "$(cat err.txt)"
    elif ! grep -qi -e "$key" err.txt; then not_ok "$name: error does not mention '$key'" "$(cat err.txt)"
    else ok "$name"; fi
}

if ! command -v python3 >/dev/null; then echo "skip: no python3"; exit 77; fi

mkdir train held
for i in $(seq 1 12); do
  cat > train/mod_$i.py <<EOF
def add_$i(a, b):
    """Add two numbers."""
    return a + b + $i


def mul_$i(a, b):
    result = a * b
    return result * $i


class Box$i:
    def get(self):
        return self.value
EOF
done
for i in 1 2 3; do cp train/mod_$i.py held/held_$i.py; done
"$LOOM" train --data train --out run --code --layers 1 --dim 32 --heads 2 --context 64 --steps 30 \
    --vocab-size 400 --threads 1 --quiet 2>err.txt || { not_ok "train a tiny code model" "$(cat err.txt)"; echo "$PASS passed, $FAIL failed"; exit 1; }
M=run/model.gguf
CAPS="--max-functions 3 --max-lines 4 --max-fix 1 --fix-samples 1 --max-tokens 24 --threads 1"

"$LOOM" eval-code --model $M --data held $CAPS >table.txt 2>err.txt
rc=$?
if [ $rc -ne 0 ] || sanitizer err.txt; then not_ok "eval-code runs (status $rc)" "$(cat err.txt)"
else
  ok "eval-code runs"
  miss=""
  for fig in "function bodies parse" "line FIM exact match" "bits per byte" "repairs that parse"; do
    grep -q "^$fig  *[0-9]" table.txt || miss="$miss [$fig]"
  done
  [ -z "$miss" ] && ok "the table has the four figures" || not_ok "figures missing:$miss" "$(cat table.txt)"
  grep -q "baseline (untrained)" table.txt && [ "$(grep -c '^\(function\|line\|bits\|repairs\).*[0-9].* [0-9n]' table.txt)" -eq 4 ] \
    && ! grep -q '^bits per byte .* -$' table.txt && ok "the baseline column is filled" || not_ok "baseline column" "$(cat table.txt)"
fi

"$LOOM" eval-code --model $M --data held $CAPS --max-fix 0 --format json >out.json 2>err.txt
if [ $? -ne 0 ]; then not_ok "--format json" "$(cat err.txt)"
elif python3 -c '
import json, sys
o = json.load(open("out.json"))
for k in ("trained", "baseline"):
    f = o[k]
    assert f["functions"] == 3 and f["lines"] == 4 and f["bits_per_byte"] > 0, f
    assert 0 <= f["functions_parse_share"] <= 1
assert o["baseline"]["bits_per_byte"] > o["trained"]["bits_per_byte"], "the trained model should beat the untrained one on bits per byte"
' 2>err.txt; then ok "--format json holds both models; training lowered bits per byte"
else not_ok "--format json content" "$(cat err.txt)"; fi

"$LOOM" eval-code --model $M --data held/held_1.py --baseline none --max-functions 1 --max-lines 1 --max-fix 0 \
    --threads 1 >none.txt 2>err.txt
if [ $? -eq 0 ] && grep -q '^bits per byte .* -$' none.txt; then ok "--baseline none, one file as --data"
else not_ok "--baseline none" "$(cat none.txt err.txt)"; fi

mkdir empty && echo "just notes" > empty/readme.txt
expect_error "a folder with no Python or C files" "python" "$LOOM" eval-code --model $M --data empty -q
expect_error "a missing model" "nope.gguf" "$LOOM" eval-code --model nope.gguf --data held -q
expect_error "no --data" "data" "$LOOM" eval-code --model $M
mkdir bin && ln -s "$(command -v env)" bin/env
expect_error "a missing parser program" "python3" env PATH="$W/bin" "$LOOM" eval-code --model $M --data held -q

finish
