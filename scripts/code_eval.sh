#!/usr/bin/env bash
# make bench-code: issue 6's measured run. Trains a code model on the Python standard library
# with a fixed list of modules held out, for at most MINUTES (default 60) on this machine, then
# runs `loom eval-code` on the held-out modules (each figure beside an untrained baseline).
# usage: scripts/code_eval.sh LOOM_BINARY [OUT_DIR]
#   MINUTES=58  training time limit        STEPS=1800  optimizer steps (the cosine schedule's length)
set -euo pipefail
loom=${1:-build/loom}
out=${2:-runs/code-eval}
minutes=${MINUTES:-58}
steps=${STEPS:-1800}
# threads that sleep at barriers instead of spinning: on a 2-core machine with anything else
# running, spinning OpenMP threads slow each other down several times over
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
src=/usr/lib/python3.11
[ -d "$src" ] || { echo "bench-code: $src not found (Debian's python3.11)" >&2; exit 1; }
# never seen in training: what eval-code completes, fills in and repairs
held=(bisect.py calendar.py colorsys.py difflib.py fnmatch.py heapq.py json shlex.py statistics.py textwrap.py)
rm -rf "$out"
mkdir -p "$out/train" "$out/heldout"
cp -r "$src"/. "$out/train/"
rm -rf "$out/train/dist-packages" "$out/train/site-packages"
for h in "${held[@]}"; do mv "$out/train/$h" "$out/heldout/"; done
echo "== code model: $src less ${held[*]}, at most $minutes minutes"
"$loom" train --data "$out/train" --code --out "$out" --vocab-size 8192 \
  --layers 6 --dim 192 --heads 6 --context 512 --batch 8 --steps "$steps" \
  --time-limit "$minutes" --eval-every 250 --eval-iters 20 --save-every 250 ${TRAIN_FLAGS:-}
echo
echo "== eval-code on the held-out modules"
"$loom" eval-code --model "$out/model.gguf" --data "$out/heldout" ${EVAL_FLAGS:-} | tee "$out/eval.txt"
