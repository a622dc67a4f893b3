#!/usr/bin/env bash
# llama.cpp agrees with loom: a model trained by loom, saved as model.gguf, is loaded by
# llama.cpp (npm node-llama-cpp@3.21.1, prebuilt); its greedy continuation of a prompt must
# be the same token sequence as `loom generate --temperature 0`, and its log-probabilities the
# same as loom's (from `loom generate --format jsonl`).
# usage: llamacpp_test.sh LOOM_BINARY      (exit 77 = skipped: npm registry unreachable)
set -uo pipefail
loom=$1
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "not ok - $*"; fail=$((fail + 1)); }

bash "$here/llamacpp/ensure.sh"
rc=$?
if [ $rc -eq 77 ]; then echo "SKIPPED: llama.cpp agreement test (npm registry unreachable)"; exit 77; fi
[ $rc -eq 0 ] || { echo "not ok - installing node-llama-cpp failed"; echo "0 passed, 1 failed"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# a small corpus with structure worth learning
for i in $(seq 1 60); do
  echo "The cat sat on the mat number $i. The dog ran to the park and back again."
  echo "A bird sang in the tree while the sun went down over the quiet town."
done > "$work/corpus.txt"
"$loom" train --data "$work/corpus.txt" --out "$work/run" --layers 2 --heads 4 --kv-heads 2 --dim 32 \
  --context 64 --batch 8 --steps 150 --threads 2 --quiet || { bad "loom train"; echo "$pass passed, $fail failed"; exit 1; }
model="$work/run/model.gguf"

prompt="The dog ran"
n=40
# loom: greedy, one JSON record per token
"$loom" generate -m "$model" -p "$prompt" -n $n --temperature 0 --format jsonl --top 0 -t 2 > "$work/loom.jsonl" \
  || bad "loom generate"
loom_ids=$(/usr/bin/python3 -c 'import json,sys; print(",".join(str(json.loads(l)["id"]) for l in open(sys.argv[1])))' "$work/loom.jsonl")
prompt_ids=$(node "$here/llamacpp/llama.mjs" tokenize --model "$model" --text "$prompt" | tr -d '[] \n')
expected=$(printf '%s' "$prompt" | od -An -tu1 | tr -s ' \n' ',' | sed 's/^,//; s/,$//')
[ "$prompt_ids" = "$expected" ] && ok "llama.cpp tokenizes the prompt to its bytes ($prompt_ids)" \
  || bad "llama.cpp tokenizes '$prompt' as [$prompt_ids], loom as [$expected]"
llama_ids=$(node "$here/llamacpp/llama.mjs" greedy --model "$model" --ids "$prompt_ids" -n $n --threads 2 --stop-eog \
  | /usr/bin/python3 -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))')
# loom stops at <|endoftext|> without emitting it; llama.cpp with --stop-eog includes it: drop it
llama_ids=${llama_ids%,256}
if [ -n "$loom_ids" ] && [ "$loom_ids" = "$llama_ids" ]; then
  ok "greedy continuation identical ($(echo "$loom_ids" | tr ',' '\n' | wc -l) tokens)"
else
  bad "greedy continuations differ: loom [$loom_ids] llama.cpp [$llama_ids]"
fi

# the probabilities loom reports for its tokens are llama.cpp's too
all_ids="$prompt_ids,$loom_ids"
node "$here/llamacpp/llama.mjs" logits --model "$model" --ids "$all_ids" --threads 2 > "$work/llama_lp.json"
/usr/bin/python3 - "$work/loom.jsonl" "$work/llama_lp.json" "$(echo "$prompt_ids" | tr ',' '\n' | wc -l)" <<'PY' \
  && ok "per-token probabilities agree with llama.cpp (max |dlogp| <= 1e-3)" || bad "probabilities differ"
import json, math, sys
loom = [json.loads(l) for l in open(sys.argv[1])]
lp = json.load(open(sys.argv[2]))["logprobs"]
p0 = int(sys.argv[3])
worst = 0.0
for k, rec in enumerate(loom):
    ref = lp[p0 - 1 + k][rec["id"]]
    worst = max(worst, abs(math.log(max(rec["prob"], 1e-30)) - ref))
print(f"# max |log p(loom) - log p(llama.cpp)| = {worst:.2e} over {len(loom)} tokens")
sys.exit(0 if worst <= 1e-3 else 1)
PY
# --- a model with a loom-trained BPE tokenizer: llama.cpp must tokenize exactly as loom does
"$loom" train --data "$work/corpus.txt" --out "$work/bpe" --tokenizer bpe --vocab-size 400 --layers 1 --heads 2 \
  --dim 32 --context 32 --batch 8 --steps 60 --threads 2 --quiet || bad "loom train --tokenizer bpe"
bmodel="$work/bpe/model.gguf"
cat > "$work/texts.txt" <<'TXT'
The cat sat on the mat number 12345. The dog ran!
  indented    with   runs of spaces	and tabs
A bird's song isn't what we'd call "quiet" -- it's LOUD.
naïve café 東京 🎉👍🏽 mixed: 3.14159, x=y+z; <|endoftext|> stays text
TXT
nlines=0; same=0
while IFS= read -r line; do
  nlines=$((nlines + 1))
  l=$(printf '%s' "$line" | "$loom" tokenizer encode -k "$bmodel" | tr ' ' ',')
  r=$(node "$here/llamacpp/llama.mjs" tokenize --model "$bmodel" --text "$line" | tr -d '[] \n')
  if [ "$l" = "$r" ]; then same=$((same + 1)); else echo "# differs on: $line"; echo "#   loom  [$l]"; echo "#   llama [$r]"; fi
done < "$work/texts.txt"
[ $same -eq $nlines ] && ok "llama.cpp tokenizes like loom with a loom BPE tokenizer ($same/$nlines texts)" \
  || bad "BPE tokenization differs on $((nlines - same)) of $nlines texts"
bp=$(printf 'The dog' | "$loom" tokenizer encode -k "$bmodel" | tr ' ' ',')
lg=$("$loom" generate -m "$bmodel" -p "The dog" -n 20 --temperature 0 --format jsonl --top 0 -t 2 |
  /usr/bin/python3 -c 'import json,sys; print(",".join(str(json.loads(l)["id"]) for l in sys.stdin))')
ll=$(node "$here/llamacpp/llama.mjs" greedy --model "$bmodel" --ids "$bp" -n 20 --threads 2 --stop-eog |
  /usr/bin/python3 -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))')
eot=$(printf '<|endoftext|>' | "$loom" tokenizer encode -k "$bmodel" --special)
ll=${ll%,$eot}
[ -n "$lg" ] && [ "$lg" = "$ll" ] && ok "BPE model: greedy continuation identical" || bad "BPE greedy: loom [$lg] llama.cpp [$ll]"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
