#!/usr/bin/env bash
# End-to-end checks of `loom complete` and `loom fix` with a tiny BPE model trained on a few
# Python files (it knows the FIM tokens' names, not their use): completions stop, -n K ranks K
# candidates, bad input gives one clear error line and a status of 1 or 2 (never a crash),
# fix says when a file parses, and on a broken file either proposes a diff that applies and
# parses or says that no infill parsed.
#
# usage: tests/complete_cli_test.sh PATH/TO/loom   (may be an ASan/UBSan build: tiny model)
set -u
NAME=complete
. "$(dirname "$0")/lib.sh" "$@"
mkdir py
for i in $(seq 1 30); do
  cat > py/mod_$i.py <<EOF
def add_$i(a, b):
    return a + b + $i


def mul_$i(a, b):
    result = a * b
    return result * $i


class Box$i:
    def __init__(self, value):
        self.value = value

    def get(self):
        return self.value
EOF
done
"$LOOM" train --data py --out run --tokenizer bpe --vocab-size 400 --layers 1 --dim 48 --heads 2 --context 64 \
    --batch 8 --steps 150 --threads 1 --quiet 2>err.txt || { not_ok "train a tiny BPE model" "$(cat err.txt)"; echo "$PASS passed, $FAIL failed"; exit 1; }
M=run/model.gguf
PY=$(command -v python3 || true)

printf 'def add_7(a, b):\n    return a + b + 7\n\n\ndef mul_7(a, b):\n' > t.py

# --- completion
timeout 60 "$LOOM" complete -t 1 -m "$M" t.py:5 --format jsonl --seed 1 >out.txt 2>err.txt
rc=$?
if [ $rc -eq 0 ] && ! sanitizer err.txt && [ "$(wc -l < out.txt)" -eq 1 ] && grep -q '"text":"' out.txt \
   && ! grep -q '"text":""' out.txt && grep -q -e '"stop":"boundary"' -e '"stop":"end"' -e '"stop":"length"' -e '"stop":"context"' out.txt; then
  ok "complete at SRC:LINE prints a completion and stops ($(grep -o '"stop":"[a-z]*"' out.txt))"
else not_ok "complete at SRC:LINE (status $rc)" "$(cat out.txt err.txt)"; fi
"$LOOM" complete -t 1 -m "$M" t.py:5 --seed 1 --max-tokens 8 >out.txt 2>err.txt && [ -s out.txt ] && ! sanitizer err.txt \
  && ok "text output, --max-tokens" || not_ok "text output" "$(cat out.txt err.txt)"

"$LOOM" complete -t 1 -m "$M" t.py:5 -n 3 --seed 4 --format jsonl >out.txt 2>err.txt
if [ $? -eq 0 ] && ! sanitizer err.txt && [ "$(wc -l < out.txt)" -eq 3 ] \
   && [ "$(grep -o '"rank":[0-9]*' out.txt | tr -d '\n')" = '"rank":1"rank":2"rank":3' ] \
   && grep -o '"mean_logprob":[-0-9.e]*' out.txt | cut -d: -f2 | sort -g -r -c 2>/dev/null; then
  ok "-n 3 gives 3 candidates ranked by mean log-prob"
else not_ok "-n 3 ranking" "$(cat out.txt err.txt)"; fi
# the candidates share one pass over the prompt: greedy ones must come out identical
"$LOOM" complete -t 1 -m "$M" t.py:5 -n 3 --temperature 0 --format jsonl >out.txt 2>err.txt
[ "$(sed 's/"rank":[0-9]*//' out.txt | sort -u | wc -l)" -eq 1 ] && ok "greedy candidates are identical (the prompt is shared)" \
  || not_ok "greedy candidates differ" "$(cat out.txt err.txt)"
"$LOOM" complete -t 1 -m "$M" t.py:5 -n 3 --seed 4 >out.txt 2>err.txt
[ "$(grep -c '^=== candidate [1-3] of 3: mean log-prob' out.txt)" -eq 3 ] && ok "-n 3 text output separates the candidates" \
  || not_ok "-n 3 text output" "$(cat out.txt err.txt)"

# code after the cursor: fill in the middle (the tiny model knows the tokens, not what they mean)
"$LOOM" complete -t 1 -m "$M" t.py:1 --format jsonl --seed 1 --max-tokens 16 >out.txt 2>err.txt && grep -q '"fim":true' out.txt \
  && ok "code after the cursor: fill in the middle" || not_ok "fill in the middle" "$(cat out.txt err.txt)"
"$LOOM" complete -t 1 -m "$M" t.py:2:5 --format jsonl --seed 1 --max-tokens 16 --no-fim >out.txt 2>err.txt && grep -q '"fim":false' out.txt \
  && ok "--no-fim completes left to right" || not_ok "--no-fim" "$(cat out.txt err.txt)"
head -n 2 t.py > pre.py; tail -n +3 t.py > suf.py
"$LOOM" complete -t 1 -m "$M" --prefix pre.py --suffix suf.py --format jsonl --seed 1 --max-tokens 16 >out.txt 2>err.txt \
  && grep -q '"fim":true' out.txt && ok "--prefix/--suffix" || not_ok "--prefix/--suffix" "$(cat out.txt err.txt)"
printf 'def add_9(a, b):\n' | "$LOOM" complete -t 1 -m "$M" --lang python --seed 1 --max-tokens 32 >out.txt 2>err.txt \
  && ! sanitizer err.txt && ok "standard input as the prefix" || not_ok "stdin" "$(cat out.txt err.txt)"
# a model without FIM tokens (byte-level) falls back to left to right, with a note
for i in $(seq 1 20); do printf 'x = %d\n' "$i"; done > byte_corpus.txt
"$LOOM" train --data byte_corpus.txt --out brun --layers 1 --dim 16 --heads 2 --context 16 --batch 2 --steps 2 --threads 1 --quiet 2>/dev/null
"$LOOM" complete -t 1 -m brun/model.gguf t.py:1 --seed 1 --max-tokens 8 >out.txt 2>err.txt && grep -q "no fill-in-the-middle tokens" err.txt \
  && ok "no FIM tokens: left to right, with a note" || not_ok "FIM fallback" "$(cat out.txt err.txt)"

# --- bad input
expect_error "line past the end" "past the end" complete -t 1 -m "$M" t.py:99
expect_error "line 0" "line" complete -t 1 -m "$M" t.py:0
expect_error "column past the end of the line" "column" complete -t 1 -m "$M" t.py:1:200
expect_error "column 0" "column" complete -t 1 -m "$M" t.py:1:0
head -c 3000 /dev/urandom > blob.bin; printf '\0\0\0' >> blob.bin
expect_error "binary file" "binary" complete -t 1 -m "$M" blob.bin:1
expect_error "missing file" "nope.py" complete -t 1 -m "$M" nope.py:3
expect_error "missing model" "nomodel.gguf" complete -t 1 -m nomodel.gguf t.py:3
expect_error "no --model" "model" complete -t 1 t.py:3
expect_error "unknown --lang" "cobol" complete -t 1 -m "$M" --lang cobol t.py:3
expect_error "--suffix without --prefix" "prefix" complete -t 1 -m "$M" --suffix suf.py
expect_error "-n 0" "candidates" complete -t 1 -m "$M" -n 0 t.py:3
expect_error "fix: missing file" "nope.py" fix -t 1 -m "$M" nope.py
expect_error "fix: binary file" "binary" fix -t 1 -m "$M" --lang python blob.bin
expect_error "fix: unsupported language" "python" fix -t 1 -m "$M" notes.txt
expect_error "fix: no file given" "source file" fix -t 1 -m "$M"
printf 'def f(:\n    pass\n' > bad.py
printf 'int main(void) {\n  int x = 1\n  return x;\n}\n' > bad.c
# the parser programs are looked up on PATH: a PATH without them hides them
printf '#!/bin/sh\nPATH=/nonexistent exec "%s" "$@"\n' "$LOOM" > nopath.sh; chmod +x nopath.sh
REAL=$LOOM; LOOM=$W/nopath.sh
expect_error "fix: python3 missing" "python3" fix -t 1 -m "$M" bad.py
expect_error "fix: gcc missing" "gcc" fix -t 1 -m "$M" bad.c
LOOM=$REAL

# --- fix
if [ -n "$PY" ]; then
  "$LOOM" fix -t 1 -m "$M" py/mod_1.py >out.txt 2>err.txt && grep -q "parses" err.txt && [ ! -s out.txt ] \
    && ok "fix on a file that parses says so" || not_ok "fix on a good file" "$(cat out.txt err.txt)"
  # each infill comes from a tiny model: it may or may not find one that parses, but what it
  # proposes must apply and parse
  for f in broken1 broken2; do
    cp py/mod_3.py $f.py
    case $f in broken1) sed -i '2s/.*/    return a + b +/' $f.py ;; broken2) sed -i '10d' $f.py ;; esac
    cp $f.py $f.orig
    timeout 120 "$LOOM" fix -t 1 -m "$M" $f.py --seed 3 >diff.txt 2>err.txt
    rc=$?
    if sanitizer err.txt; then not_ok "fix $f: sanitizer report" "$(cat err.txt)"
    elif [ $rc -eq 0 ]; then
      cp $f.orig applied.py
      if patch -s -p1 applied.py < diff.txt 2>/dev/null && "$PY" -c 'import ast,sys; ast.parse(open(sys.argv[1]).read())' applied.py 2>/dev/null; then
        ok "fix $f proposes a diff that applies and parses"
      else not_ok "fix $f: the diff does not apply or parse" "$(cat diff.txt err.txt)"; fi
      "$LOOM" fix -t 1 -m "$M" $f.py --seed 3 --write >out.txt 2>err.txt && cmp -s $f.py applied.py && [ ! -s out.txt ] \
        && ok "fix $f --write applies the same fix" || not_ok "fix $f --write" "$(cat out.txt err.txt)"
    elif [ $rc -eq 1 ] && grep -q "no infill made" err.txt && cmp -s $f.py $f.orig; then
      ok "fix $f: no infill parsed, said so, file unchanged"
    else not_ok "fix $f: status $rc" "$(cat diff.txt err.txt)"; fi
  done
else
  echo "ok - skipped: python3 is not installed"
fi
if command -v gcc >/dev/null; then
  timeout 120 "$LOOM" fix -t 1 -m "$M" bad.c --seed 3 >diff.txt 2>err.txt
  rc=$?
  if ! sanitizer err.txt && { [ $rc -eq 0 ] || { [ $rc -eq 1 ] && grep -q "no infill made" err.txt; }; } && grep -q "bad.c:3:" err.txt; then
    ok "fix on a C file reports gcc's error line and runs (status $rc)"
  else not_ok "fix on a C file (status $rc)" "$(cat diff.txt err.txt)"; fi
  printf 'int main(void) { return 0; }\n' > good.c
  "$LOOM" fix -t 1 -m "$M" good.c >out.txt 2>err.txt && grep -q parses err.txt && ok "fix on a C file that parses says so" \
    || not_ok "fix good.c" "$(cat out.txt err.txt)"
fi

finish
