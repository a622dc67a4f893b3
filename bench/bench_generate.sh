#!/usr/bin/env bash
# Generation speed, loom beside llama.cpp on the same F32 GGUF files in the same run. The peer is
# native llama.cpp's llama-bench (built from source for this CPU, as llama.cpp users build it)
# from SHARED/tools/llama.cpp where that exists; elsewhere npm node-llama-cpp@3.21.1, whose
# JavaScript loop adds ~8 ms a token and so flatters loom: the table names the peer it used.
# The models: random-weight models of llama2.c's stories15M shape (dim 288,
# 6 layers, 6 heads, vocab 32000) and of about 110M parameters (dim 768, 12 layers, 12 heads).
# Prints prompt tokens/s and decode tokens/s for both and their ratio (goal >= 1.0), and loom's
# and llama.cpp's per-token decode time at context depths 64, 512 and 1024 (goal: roughly flat).
#
#   bash bench/bench_generate.sh BUILD_DIR [SHARED]  (BENCH_THREADS, default 2; BENCH_QUICK=1: fewer reps)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
OUT=${BENCH_OUT:-$REPO/runs/bench}/generate
THREADS=${BENCH_THREADS:-2}
REPS=3
[ "${BENCH_QUICK:-0}" != 0 ] && REPS=1
mkdir -p "$OUT"

SHARED=${2:-${LOOM_SHARED:-$REPO/../shared}}
LB="$SHARED/tools/llama.cpp/llama-bench"
if [ -x "$LB" ]; then
  PEER="llama-bench"
  echo "bench_generate: peer: native llama.cpp, $LB" >&2
elif bash "$REPO/tests/llamacpp/ensure.sh"; then
  PEER="node-llama-cpp"
  echo "bench_generate: peer: node-llama-cpp (no native llama-bench in $SHARED/tools/llama.cpp; its JS loop flatters loom)" >&2
else
  echo "bench_generate: SKIPPED llama.cpp side (no llama-bench, npm registry unreachable); loom figures only" >&2
  PEER="none"
  NO_LLAMA=1
fi
LL="node $REPO/tests/llamacpp/llama.mjs"

# llama-bench's JSON (a test per -p and -n) as {"prompt_tokens_per_s", "decode_tokens_per_s"}
native() { # model prompt gen depth
  LD_LIBRARY_PATH="$(dirname "$LB")/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$LB" -m "$1" -t "$THREADS" -p "$2" \
    -n "$3" -d "$4" -r "$REPS" -o json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
p = d = 0.0
for t in json.load(sys.stdin):
    if t["n_gen"] > 0: d = t["avg_ts"]
    elif t["n_prompt"] > 0: p = t["avg_ts"]
print(json.dumps({"prompt_tokens_per_s": p, "decode_tokens_per_s": d}))'
}

model() { # name dim layers heads ffn
  local f="$OUT/$1.gguf"
  [ -f "$f" ] || "$BUILD/bench_random_model" "$f" "$2" "$3" "$4" "$5" 32000 1024 >&2
  echo "$f"
}
S15=$(model stories15M 288 6 6 768)
M110=$(model llama110M 768 12 12 2048)

json() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(d[sys.argv[1]])' "$1"; }

rows=()
run_pair() { # label model prompt gen depth
  local l="$1" m="$2" p="$3" g="$4" d="$5"
  local lo ll lp lld llp
  lo=$("$BUILD/bench_generate" "$m" "$p" "$g" "$d" "$REPS" "$THREADS")
  lp=$(echo "$lo" | json prompt_tokens_per_s); ld=$(echo "$lo" | json decode_tokens_per_s)
  if [ "$PEER" = llama-bench ]; then
    ll=$(native "$m" "$p" "$g" "$d")
    llp=$(echo "$ll" | json prompt_tokens_per_s); lld=$(echo "$ll" | json decode_tokens_per_s)
  elif [ -z "${NO_LLAMA:-}" ]; then
    ll=$($LL bench --model "$m" --prompt-tokens "$p" --gen "$g" --depth "$d" --reps "$REPS" --threads "$THREADS" 2>/dev/null)
    llp=$(echo "$ll" | json prompt_tokens_per_s); lld=$(echo "$ll" | json decode_tokens_per_s)
  else
    llp=nan; lld=nan
  fi
  rows+=("$l|$lp|$llp|$ld|$lld")
}

echo "bench_generate: $THREADS threads, $REPS reps; models in $OUT" >&2
run_pair "stories15M shape" "$S15" 128 128 0
run_pair "110M shape" "$M110" 128 64 0
for d in 64 512 1024; do
  [ $d -eq 1024 ] && dd=1000 || dd=$d   # the model's context is 1024: leave room for the timed tokens
  run_pair "stories15M, depth $d" "$S15" 0 16 $dd
done

/usr/bin/python3 - "$PEER" "${rows[@]}" <<'PY'
import math, sys
peer = sys.argv[1]
rows = [r.split("|") for r in sys.argv[2:]]
def f(x): return float(x)
print()
print(f"{'generation (F32, tokens/s)':30} {'loom':>9} {peer:>14} {'ratio':>7}   {'goal':>6}")
for label, lp, llp, ld, lld in rows:
    if f(lp) > 0:
        r = f(lp) / f(llp) if f(llp) > 0 else math.nan
        print(f"{label + ', prompt':30} {f(lp):9.1f} {f(llp):14.1f} {r:7.2f}x  >= 1.0  {'PASS' if r >= 1 else 'FAIL'}")
    r = f(ld) / f(lld) if f(lld) > 0 else math.nan
    ms = 1000 / f(ld)
    extra = "" if f(lp) > 0 else f"   ({ms:.2f} ms/token loom, {1000/f(lld):.2f} {peer})"
    print(f"{label + ', decode':30} {f(ld):9.1f} {f(lld):14.1f} {r:7.2f}x  >= 1.0  {'PASS' if r >= 1 else 'FAIL'}{extra}")
deep = [1000 / f(r[3]) for r in rows if "depth" in r[0]]
if len(deep) == 3:
    print(f"loom per-token time at depth 64 / 512 / 1024: {deep[0]:.2f} / {deep[1]:.2f} / {deep[2]:.2f} ms "
          f"(1024 vs 64: {deep[2]/deep[0]:.2f}x)")
PY
