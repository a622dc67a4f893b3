#!/usr/bin/env bash
# BPE tokenizer figures, beside tiktoken (npm `tiktoken`, OpenAI's Rust core in WASM) in the same run:
#  1. encode throughput (MB/s) on 20 MB of mixed text with cl100k_base, one thread and all threads;
#     goal: loom >= 2x tiktoken single-threaded (tiktoken's WASM build is single-threaded);
#  2. training an 8,192-token vocabulary on the same 20 MB (goal < 60 s on 2 cores);
#  3. learning: on tinyshakespeare, the same model with a BPE vocabulary vs bytes, trained for the
#     same wall time: validation bits per byte (goal: BPE lower).
#
#   bash bench/bench_bpe.sh BUILD_DIR SHARED_DIR     (BENCH_QUICK=1: skip 3)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SHARED=${2:-../shared}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
OUT=${BENCH_OUT:-$REPO/runs/bench}/bpe
LOOM=$BUILD/loom
THREADS=${BENCH_THREADS:-2}
mkdir -p "$OUT"
export LOOM_TIKTOKEN_DIR=$REPO/tests/tiktoken

# 20 MB of mixed text: prose, plays, Python, C headers (valid UTF-8 only, as tiktoken takes str)
MIX=$OUT/mixed20.txt
if [ ! -s "$MIX" ]; then
  # (collected into a file first: `head` closing a pipe early would trip pipefail)
  {
    find /usr/share/games/fortunes -maxdepth 1 -type f ! -name '*.dat' 2>/dev/null | sort | xargs cat 2>/dev/null || true
    [ -f "$SHARED/data/tinyshakespeare.txt" ] && cat "$SHARED/data/tinyshakespeare.txt"
    find /usr/lib/python3.11 -name '*.py' -size -200k 2>/dev/null | sort | head -n 3000 | xargs cat 2>/dev/null || true
    find /usr/include -name '*.h' -size -200k 2>/dev/null | sort | head -n 3000 | xargs cat 2>/dev/null || true
  } > "$MIX.all"
  iconv -f utf-8 -t utf-8 -c < "$MIX.all" > "$MIX.utf8" || true
  head -c 20000000 "$MIX.utf8" > "$MIX"
  rm -f "$MIX.all" "$MIX.utf8"
fi
bytes=$(stat -c %s "$MIX")
echo "bench_bpe: corpus $MIX ($bytes bytes)" >&2

speed() { "$LOOM" tokenizer stats -k "$1" -t "$2" "$MIX" | sed -n 's/^encode speed: *\([0-9.]*\) MB.*/\1/p'; }
best_of3() { local b=0 v; for _ in 1 2 3; do v=$("$@"); b=$(/usr/bin/python3 -c "print(max($b, $v))"); done; echo "$b"; }
l1=$(best_of3 speed cl100k_base 1)
l2=$(best_of3 speed cl100k_base "$THREADS")
tt=nan
if bash "$REPO/tests/tiktoken/ensure.sh" >/dev/null; then
  tt=$(cd "$REPO/tests/tiktoken" && node -e '
    const fs = require("fs"); const { get_encoding } = require("tiktoken");
    const text = fs.readFileSync(process.argv[1], "utf8"); const enc = get_encoding("cl100k_base");
    enc.encode_ordinary(text.slice(0, 100000));
    let best = 0;
    for (let r = 0; r < 3; r++) { const t0 = process.hrtime.bigint(); enc.encode_ordinary(text);
      const s = Number(process.hrtime.bigint() - t0) / 1e9; best = Math.max(best, Buffer.byteLength(text) / s / 1e6); }
    console.log(best.toFixed(2));' "$MIX")
else
  echo "bench_bpe: SKIPPED tiktoken side (npm registry unreachable)" >&2
fi

t0=$(date +%s.%N)
"$LOOM" tokenizer train --data "$MIX" --vocab-size 8192 --out "$OUT/mixed8k.tok" -t "$THREADS" -q
t1=$(date +%s.%N)
train_s=$(/usr/bin/python3 -c "print(f'{$t1 - $t0:.2f}')")

learn=""
if [ "${BENCH_QUICK:-0}" = 0 ] && [ -f "$SHARED/data/tinyshakespeare.txt" ]; then
  shape="--layers 4 --heads 4 --dim 128 --ffn-dim 344 --context 64 --batch 12 --steps 2000 --lr 1e-3 --eval-every 0 --eval-iters 200 --save-every 0 --threads $THREADS --progress plain"
  echo "bench_bpe: byte-level model, 2000 steps ..." >&2
  # shellcheck disable=SC2086
  "$LOOM" train --data "$SHARED/data/tinyshakespeare.txt" --out "$OUT/learn-byte" $shape 2> "$OUT/learn-byte.log"
  bs=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$OUT/learn-byte/summary.json")
  echo "bench_bpe: BPE (1024 tokens) model, same shape, at most the byte model's ${bs}s of training ..." >&2
  # shellcheck disable=SC2086
  "$LOOM" train --data "$SHARED/data/tinyshakespeare.txt" --out "$OUT/learn-bpe" $shape --tokenizer bpe --vocab-size 1024 \
    --time-limit "$(/usr/bin/python3 -c "print($bs / 60)")" 2> "$OUT/learn-bpe.log"
  learn="$OUT/learn-byte/summary.json $OUT/learn-bpe/summary.json"
fi

/usr/bin/python3 - "$l1" "$l2" "$tt" "$train_s" "$THREADS" $learn <<'PY'
import json, math, sys
l1, l2, tt, train_s, th = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
def verdict(ok): return "PASS" if ok else "FAIL"
print()
print(f"{'BPE tokenizer':42} {'loom':>10} {'tiktoken':>10} {'ratio':>7}   goal")
r = l1 / tt if tt == tt else math.nan
print(f"{'encode cl100k_base, 1 thread (MB/s)':42} {l1:10.1f} {tt:10.2f} {r:7.1f}x   >= 2x  {verdict(r >= 2)}")
print(f"{'encode cl100k_base, ' + th + ' threads (MB/s)':42} {l2:10.1f} {'':>10} {'':>7}")
print(f"{'train 8,192 tokens on 20 MB (s)':42} {train_s:10.2f} {'':>10} {'':>7}   < 60 s {verdict(train_s < 60)}")
if len(sys.argv) > 7:
    b, p = (json.load(open(f)) for f in sys.argv[6:8])
    print(f"{'tinyshakespeare val bits/byte, byte model':42} {b['val_bpb']:10.4f}   ({b['steps']} steps, {b['seconds']:.0f} s)")
    print(f"{'tinyshakespeare val bits/byte, BPE 1024':42} {p['val_bpb']:10.4f}   ({p['steps']} steps, {p['seconds']:.0f} s)   "
          f"BPE lower: {verdict(p['val_bpb'] < b['val_bpb'])}")
PY
