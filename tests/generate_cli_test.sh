#!/usr/bin/env bash
# End-to-end checks of `loom generate` and `loom score`: bad input gives one clear error line and
# a status of 1 or 2 (never a crash); stop strings stop exactly; jsonl is well formed; the
# confidence view marks tokens; scoring prints its figures.
#
# usage: tests/generate_cli_test.sh PATH/TO/loom   (may be an ASan/UBSan build: tiny model)
set -u
NAME=gen
. "$(dirname "$0")/lib.sh" "$@"
for i in $(seq 1 40); do echo "the quick brown fox jumps over the lazy dog $i times, and the cat watches."; done > corpus.txt
"$LOOM" train --data corpus.txt --out run --layers 1 --dim 32 --heads 2 --context 32 --batch 8 --steps 300 \
    --threads 2 --quiet || { not_ok "train a small model"; echo "$PASS passed, $FAIL failed"; exit 1; }
M=run/model.gguf

# --- bad input
expect_error "missing model" "nope.gguf" generate -m nope.gguf -p hi
head -c 3000 /dev/urandom > junk.gguf
expect_error "corrupted model (random bytes)" "junk.gguf" generate -m junk.gguf -p hi
head -c 20000 "$M" > cut.gguf
expect_error "truncated model" "truncated" generate -m cut.gguf -p hi
expect_error "no --model" "model" generate -p hi
expect_error "empty prompt" "empty" generate -m "$M" -p ""
expect_error "no prompt at all" "prompt" generate -m "$M"
head -c 100 /dev/zero | tr '\0' 'a' > long.txt
expect_error "prompt longer than the context" "longer than the context" generate -m "$M" -f long.txt
expect_error "-n negative" "n-predict" generate -m "$M" -p hi -n -5
expect_error "-n huge" "n-predict" generate -m "$M" -p hi -n 99999999999
expect_error "-n not a number" "n-predict" generate -m "$M" -p hi -n lots
expect_error "negative temperature" "temperature" generate -m "$M" -p hi --temperature -1
expect_error "top-p above 1" "top-p" generate -m "$M" -p hi --top-p 2
expect_error "min-p not a number" "min-p" generate -m "$M" -p hi --min-p nan
expect_error "repeat penalty 0" "repeat-penalty" generate -m "$M" -p hi --repeat-penalty 0
expect_error "unknown flag" "frobnicate" generate -m "$M" -p hi --frobnicate
expect_error "-p and -f together" "not both" generate -m "$M" -p hi -f corpus.txt
expect_error "missing prompt file" "nofile.txt" generate -m "$M" -f nofile.txt
expect_error "score: missing text" "missing.txt" score -m "$M" missing.txt
expect_error "score: no text given" "text file" score -m "$M"
expect_error "score: corrupted model" "junk.gguf" score -m junk.gguf corpus.txt

# --- generation works, greedy is deterministic, stop strings stop exactly
"$LOOM" generate -m "$M" -p "the quick" -n 40 --temperature 0 -t 2 > g1.txt 2>err.txt
"$LOOM" generate -m "$M" -p "the quick" -n 40 --temperature 0 -t 2 > g2.txt 2>>err.txt
if [ -s g1.txt ] && cmp -s g1.txt g2.txt && [ "$(head -c 9 g1.txt)" = "the quick" ]; then ok "greedy generation is repeatable and echoes the prompt"
else not_ok "greedy generation" "$(cat g1.txt g2.txt err.txt)"; fi
full=$(cat g1.txt)
cont=${full#the quick}
# a stop string taken from the middle of the continuation: output must end right before it
stop=${cont:12:3}
"$LOOM" generate -m "$M" -p "the quick" -n 40 --temperature 0 --stop "$stop" -t 2 > g3.txt 2>err.txt
got=$(cat g3.txt)
before=${cont%%"$stop"*}
if [ "$got" = "the quick$before" ]; then ok "stop string '$stop' stops exactly (not printed)"
else not_ok "stop string '$stop'" "want [the quick$before] got [$got]"; fi
# the same seed gives the same sample; sampling from stdin works
echo -n "the lazy" | "$LOOM" generate -m "$M" -n 30 --seed 5 > s1.txt 2>err.txt
echo -n "the lazy" | "$LOOM" generate -m "$M" -n 30 --seed 5 > s2.txt 2>>err.txt
if [ -s s1.txt ] && cmp -s s1.txt s2.txt; then ok "prompt from stdin, seeded sampling repeatable"; else not_ok "stdin + seed" "$(cat err.txt)"; fi
# generating past the context (32) slides the window
"$LOOM" generate -m "$M" -p "the" -n 100 --seed 1 --format jsonl > long.jsonl 2>err.txt
n=$(awk 'END { print NR }' long.jsonl)
if [ "$n" -ge 60 ]; then ok "generation goes on past the context ($n tokens)"; else not_ok "past the context: $n tokens" "$(cat err.txt)"; fi
# jsonl: well-formed records with probabilities and sorted alternatives
if /usr/bin/python3 - long.jsonl <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert recs
for r in recs:
    assert 0 < r["prob"] <= 1 and isinstance(r["id"], int) and isinstance(r["text"], str)
    ps = [a["prob"] for a in r["top"]]
    assert len(ps) == 5 and ps == sorted(ps, reverse=True)
PY
then ok "jsonl records: text, id, prob, 5 sorted alternatives"; else not_ok "jsonl records"; fi
# confidence view without colour marks uncertain tokens as [text|p]
"$LOOM" generate -m "$M" -p "the" -n 30 --seed 2 --show-confidence --color never > c.txt 2>err.txt
if grep -q '|0\.[0-9][0-9]\]' c.txt && grep -q "confidence" err.txt; then ok "confidence marks and legend"
else not_ok "confidence view" "$(cat c.txt err.txt)"; fi
"$LOOM" generate -m "$M" -p "the" -n 10 --seed 2 --show-confidence --color always > cc.txt 2>/dev/null
if grep -q $'\033\[' cc.txt; then ok "confidence colours on request"; else not_ok "confidence colours"; fi

# --- score
"$LOOM" score -m "$M" corpus.txt > sc.txt 2>err.txt
if grep -q "perplexity" sc.txt && grep -q "bits per byte" sc.txt; then ok "score prints loss, perplexity, bits per byte"
else not_ok "score" "$(cat sc.txt err.txt)"; fi
"$LOOM" score -m "$M" corpus.txt --show-confidence --color never > sc2.txt 2>err.txt
if grep -q "most surprising" sc2.txt; then ok "score --show-confidence lists surprises"; else not_ok "score surprises" "$(cat sc2.txt err.txt)"; fi

finish
