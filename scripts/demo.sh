#!/usr/bin/env bash
# make demo: train a small model on Debian's fortunes for a few minutes.
# usage: scripts/demo.sh LOOM_BINARY DATA OUT_DIR
set -euo pipefail
loom=${1:-build/loom}
data=${2:-/usr/share/games/fortunes}
out=${3:-runs/demo}
minutes=${DEMO_MINUTES:-3}

if [ ! -e "$data" ]; then
  echo "demo: $data not found (install the Debian package 'fortunes': make deps)" >&2
  exit 1
fi
echo "== loom demo: training a small transformer on $data for up to $minutes minutes"
echo "== (sizes are chosen from the corpus; everything lands in $out/)"
rm -rf "$out"
"$loom" train --data "$data" --out "$out" --time-limit "$minutes" --eval-every 500 --save-every 1000
echo
echo "== the model: $out/model.gguf (llama.cpp reads it), the loss curves: $out/loss.png"
echo "== last metrics:"
tail -n 3 "$out/metrics.jsonl"
echo "== summary:"
cat "$out/summary.json"
echo
echo "== continue training later with:"
echo "   $loom train --data $data --out $out --resume --steps 10000"
