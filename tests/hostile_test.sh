#!/usr/bin/env bash
# What a hostile tester found (issue 11), one check per defect: FIFOs never hang and pipes work,
# resumes refuse what they cannot honour, NaN never reaches JSON or the sampler, error messages
# keep their reason, decode reads its whole input, messages point the right way, usage errors
# exit 2, and imagine --out-dir writes the images themselves. Each check failed before its fix.
# usage: tests/hostile_test.sh PATH/TO/loom
set -u
NAME=hostile
. "$(dirname "$0")/lib.sh" "$@"
need_python
T=(timeout 20) # a hang is a failure, not a stuck test

for i in $(seq 1 60); do echo "to be or not to be, that is the question $i; whether tis nobler in the mind."; done > corpus.txt
TINY=(--layers 1 --dim 16 --heads 2 --context 16 --batch 2 --threads 1 --eval-every 0 --eval-iters 2 --quiet)
"$LOOM" train --data corpus.txt --out run "${TINY[@]}" --steps 6 2>err.txt || { not_ok "train" "$(cat err.txt)"; finish; exit 1; }
M=run/model.gguf

# expect_status NAME RC KEYWORD ARGS...: like expect_error, with the exact exit status.
expect_status() {
    local name=$1 want=$2 key=$3
    shift 3
    "${T[@]}" "$LOOM" "$@" >out.txt 2>err.txt </dev/null
    local rc=$?
    if [ "$rc" -ne "$want" ]; then not_ok "$name: exit status $rc, want $want" "$(cat err.txt)"
    elif [ "$(awk 'END { print NR }' err.txt)" -ne 1 ]; then not_ok "$name: not one line" "$(cat err.txt)"
    elif sanitizer err.txt; then not_ok "$name: sanitizer report" "$(cat err.txt)"
    elif ! grep -qi -e "$key" err.txt; then not_ok "$name: error does not mention '$key'" "$(cat err.txt)"
    else ok "$name"; fi
}

# ---- 1. FIFOs and other non-regular files: no hang; pipes and process substitution work
mkfifo fifo
expect_status "generate -f FIFO without a writer" 1 "nothing writes" generate -m $M -f fifo
expect_status "generate -m FIFO" 1 "not a regular file" generate -m fifo -p hi
expect_status "train --data FIFO" 1 "nothing writes" train --data fifo --out r1 "${TINY[@]}"
expect_status "tokenizer train --data FIFO" 1 "nothing writes" tokenizer train --data fifo --out t.bin --vocab-size 300
expect_status "tokenizer encode -k M FIFO" 1 "nothing writes" tokenizer encode -k $M fifo
expect_status "complete -m M FIFO" 1 "nothing writes" complete -m $M fifo
expect_status "score -m M /dev/zero" 1 "device" score -m $M /dev/zero
out=$("${T[@]}" "$LOOM" generate -m $M -f <(echo to be) -n 4 --seed 1 2>err.txt)
[ $? -eq 0 ] && [ "${out:0:5}" = "to be" ] && ok "generate -f <(echo ...)" || not_ok "process substitution" "$(cat err.txt)"
(sleep 0.3; echo to be or not) > fifo &
out=$("${T[@]}" "$LOOM" generate -m $M -f fifo -n 2 --seed 1 2>err.txt)
[ $? -eq 0 ] && [ "${out:0:5}" = "to be" ] && ok "a FIFO whose writer starts late" || not_ok "late writer" "$(cat err.txt)"
wait
head -c 3000 corpus.txt | "${T[@]}" "$LOOM" score -m $M /dev/stdin >out.txt 2>err.txt \
  && grep -q perplexity out.txt && ok "score M /dev/stdin" || not_ok "score /dev/stdin" "$(cat err.txt)"
"${T[@]}" "$LOOM" train --data <(cat corpus.txt) --out r2 "${TINY[@]}" --steps 2 2>err.txt && ok "train --data <(cat ...)" \
  || not_ok "train from a pipe" "$(cat err.txt)"

# ---- 2. resume past the end: refused, summary.json untouched and valid JSON
cp run/summary.json summary.before
expect_status "resume with fewer steps than done" 2 "larger --steps" train --data corpus.txt --out run "${TINY[@]}" --steps 4 --resume
cmp -s run/summary.json summary.before && ok "summary.json untouched" || not_ok "summary.json rewritten"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' run/summary.json 2>/dev/null && ! grep -q NaN run/summary.json \
  && ok "summary.json is JSON" || not_ok "summary.json is not JSON" "$(cat run/summary.json)"
# no validation part: val_loss is absent or null, never NaN, in every JSON file
"$LOOM" train --data corpus.txt --out r3 "${TINY[@]}" --steps 2 --val-split 0 2>err.txt
! grep -l -e NaN -e Infinity r3/*.json r3/*.jsonl 2>/dev/null | grep -q . && ok "no NaN in a run's JSON" \
  || not_ok "NaN in JSON" "$(grep -h NaN r3/*.json*)"

# ---- 3. a BPE run whose tokenizer.bin is gone or damaged is not resumed with a new one
"$LOOM" train --data corpus.txt --out bpe "${TINY[@]}" --steps 2 --tokenizer bpe --vocab-size 300 2>err.txt || not_ok "bpe run" "$(cat err.txt)"
mv bpe/tokenizer.bin tok.saved
expect_status "resume without tokenizer.bin" 1 "tokenizer.bin' is missing" train --data corpus.txt --out bpe "${TINY[@]}" --steps 4 --resume
head -c 100 tok.saved > bpe/tokenizer.bin
expect_status "resume with a damaged tokenizer.bin" 1 "tokenizer is unusable" train --data corpus.txt --out bpe "${TINY[@]}" --steps 4 --resume
cp tok.saved bpe/tokenizer.bin
"$LOOM" train --data corpus.txt --out bpe "${TINY[@]}" --steps 4 --resume 2>err.txt && ok "resume with the tokenizer back" \
  || not_ok "resume bpe" "$(cat err.txt)"

# ---- 4. flags never silently ignored
expect_status "--tokenizer byte --tokenizer-file" 2 "BPE tokenizers only" train --data corpus.txt --out r4 "${TINY[@]}" --tokenizer byte --tokenizer-file x
expect_status "--tokenizer-file implies bpe (and a missing one is an error)" 1 "/nonexistent" train --data corpus.txt --out r4 "${TINY[@]}" --tokenizer-file /nonexistent
[ ! -e r4/checkpoint.bin ] && ok "nothing trained with a missing --tokenizer-file" || not_ok "trained anyway"
expect_status "resume with another --lr" 2 "--lr 0.01 differs" train --data corpus.txt --out run "${TINY[@]}" --steps 9 --resume --lr 0.01
head -c 4000 corpus.txt > other.txt
expect_status "resume on other data" 1 "not the data the run was trained on" train --data other.txt --out run "${TINY[@]}" --steps 9 --resume

# ---- 5. a run is not replaced without --overwrite
cp run/checkpoint.bin ck.before
expect_status "train into a run without --resume" 2 "--overwrite" train --data corpus.txt --out run "${TINY[@]}" --steps 3
cmp -s run/checkpoint.bin ck.before && ok "checkpoint kept" || not_ok "checkpoint replaced"
"$LOOM" train --data corpus.txt --out r5 "${TINY[@]}" --steps 2 && "$LOOM" train --data corpus.txt --out r5 "${TINY[@]}" --steps 2 --overwrite \
  && ok "--overwrite starts afresh" || not_ok "--overwrite"

# ---- 6. non-finite weights are refused, naming the tensor
"$PY" "$TESTS/gguf_patch.py" $M nan.gguf fill token_embd.weight nan
expect_status "a NaN embedding (generate)" 1 "token_embd.weight' holds a non-finite" generate -m nan.gguf -p hi -n 3
expect_status "a NaN embedding (score)" 1 "token_embd.weight' holds a non-finite" score -m nan.gguf corpus.txt
"$PY" "$TESTS/gguf_patch.py" $M big.gguf fill output_norm.weight 3e38
expect_status "weights that overflow" 1 "non-finite logits" generate -m big.gguf -p hi -n 3 --seed 1

# ---- 7. the reason survives the wrapping (no message formatted into itself)
for kv in llama.block_count:0 llama.context_length:4294967295 llama.attention.head_count_kv:0 \
          llama.attention.layer_norm_rms_epsilon:nan llama.rope.freq_base:0 llama.embedding_length:0; do
    "$PY" "$TESTS/gguf_patch.py" $M kv.gguf key "${kv%%:*}" "${kv##*:}"
    expect_status "${kv%%:*} = ${kv##*:}" 1 "${kv%%:*} is" generate -m kv.gguf -p hi
    grep -q "holds an unusable model: .*holds an unusable model" err.txt && not_ok "${kv%%:*}: garbled" "$(cat err.txt)"
done
mkdir -p dck && cp run/*.json* run/model.gguf dck/ && mkdir dck/checkpoint.bin
expect_status "checkpoint.bin is a folder" 1 "cannot read checkpoint: 'dck/checkpoint.bin' is a folder" train --data corpus.txt --out dck "${TINY[@]}" --steps 9 --resume

# ---- 8. decode reads its whole input
printf '104 105\0junk 999999' | "$LOOM" tokenizer decode -k $M >out.txt 2>err.txt
rc=$?
[ $rc -eq 1 ] && [ ! -s out.txt ] && grep -q 'x00junk' err.txt && ok "decode: a NUL byte is not the end" \
  || not_ok "decode NUL (exit $rc)" "$(cat out.txt err.txt)"
[ "$(printf '116 111' | "$LOOM" tokenizer decode -k $M)" = "to" ] && ok "decode ids" || not_ok "decode ids"

# ---- 9. messages that point the right way, usage errors exit 2
: > empty.txt
expect_status "score on an empty file" 1 "'empty.txt' is empty" score -m $M empty.txt
grep -q -e "-p" -e "-f" err.txt && not_ok "score's message mentions -p/-f" "$(cat err.txt)"
head -c 4096 /dev/urandom > random.tok; head -c 4096 /dev/zero > zero.tok
expect_status "a random tokenizer file" 1 "not a tokenizer file" tokenizer encode -k random.tok corpus.txt
expect_status "a zero-filled tokenizer file" 1 "not a tokenizer file" tokenizer encode -k zero.tok corpus.txt
"$LOOM" tokenizer train --data corpus.txt --out good.tok --vocab-size 300 --quiet
"$PY" - good.tok flip.tok <<'EOF'
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); b[12] ^= 0x40; open(sys.argv[2], 'wb').write(b)
EOF
expect_status "one flipped byte" 1 "checksum does not match" tokenizer encode -k flip.tok corpus.txt
grep -q "full disk" err.txt && not_ok "a flipped byte blamed on a full disk" "$(cat err.txt)"
expect_status "--heads not dividing --dim" 2 "heads" train --data corpus.txt --out r9 --heads 2 --dim 3 --steps 1 --quiet
expect_status "tokenizer train --vocab-size 10" 2 "vocab-size" tokenizer train --data corpus.txt --out x.tok --vocab-size 10
pics_py <<'EOF'
from pics import BARS, RINGS, pattern_folder
pattern_folder("pics", {"bars": BARS, "rings": RINGS})
EOF
"$PY" - big.png <<'EOF'
import struct, sys, zlib
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
open(sys.argv[1], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 20000, 20000, 8, 0, 0, 0, 0)) +
                              chunk(b'IEND', b''))
EOF
cp big.png pics/bars/
"$LOOM" train-image --data pics --out ri --size 8 --widths 16,32 --batch 2 --steps 1 --threads 1 --sample-every 0 --eval-every 0 >out.txt 2>err.txt
grep -q "20000x20000 pixels.*pixels at most" err.txt && ok "a 20000x20000 PNG: the pixel limit named" || not_ok "big PNG message" "$(cat err.txt)"
rm pics/bars/big.png

# ---- 10. --steps has a ceiling
expect_status "--steps 2147483648" 2 "steps" train --data corpus.txt --out r10 --steps 2147483648
expect_status "train-image --steps 2147483648" 2 "steps" train-image --data pics --out r10 --steps 2147483648

# ---- 11. imagine --out-dir writes the images themselves, and makes its folder first
"$LOOM" train-image --data pics --out img --size 8 --widths 16,32 --batch 4 --diffusion-steps 50 --threads 1 --steps 2 \
  --sample-every 0 --eval-every 0 --quiet 2>err.txt || not_ok "train-image" "$(cat err.txt)"
"$LOOM" imagine -m img/model.gguf rings -n 2 --steps 3 --seed 1 --threads 1 -o shots/grid.png --out-dir shots -q 2>err.txt \
  && [ -s shots/grid.png ] && ok "imagine -o DIR/grid.png --out-dir DIR" || not_ok "-o inside --out-dir" "$(cat err.txt)"
"$PY" - shots/rings-0001.png <<'EOF' && ok "each image at its own size, grey" || not_ok "image size" "$(file shots/rings-0001.png)"
import struct, sys
b = open(sys.argv[1], 'rb').read()
w, h, depth, ctype = struct.unpack('>IIBB', b[16:26])
sys.exit(0 if (w, h, depth, ctype) == (8, 8, 8, 0) else 1)
EOF
"$LOOM" imagine -m img/model.gguf rings -n 1 --steps 3 --seed 1 --threads 1 --out-dir big --scale 3 -q
"$PY" - big/rings-0001.png <<'EOF' && ok "--scale 3 enlarges without a frame" || not_ok "--scale"
import struct, sys
b = open(sys.argv[1], 'rb').read()
sys.exit(0 if struct.unpack('>II', b[16:24]) == (24, 24) else 1)
EOF
expect_status "train-image into a run without --resume" 2 "--overwrite" train-image --data pics --out img --size 8 --steps 3

# ---- 12. complete's defaults are eval-code's; --help columns line up
"$LOOM" complete --help | grep -q "repeat-penalty F  *penalise.*\[1.15\]" && ok "complete: --repeat-penalty 1.15 by default" \
  || not_ok "complete default" "$("$LOOM" complete --help | grep repeat-penalty)"
"$LOOM" eval-code --help | grep -q "\[1.15\]" && ok "eval-code measures with the same" || not_ok "eval-code default"
cols=$("$LOOM" complete --help | grep -E '^  (-., )?    --|^  -., --' | awk '{ match($0, /--[a-z-]+( [A-Z|_-]+)? +/); print RSTART + RLENGTH }' | sort -u | wc -l)
[ "$cols" -eq 1 ] && ok "complete --help: one column for the texts" || not_ok "complete --help: $cols text columns"

finish
