#!/usr/bin/env bash
# make demo: train a small model on Debian's fortunes for a few minutes.
# usage: scripts/demo.sh LOOM_BINARY DATA OUT_DIR
set -euo pipefail
# Idle OpenMP threads sleep instead of spinning: a demo runs while its user does other things,
# and spinning threads that share two cores with anything else slow to a crawl (the image demo
# fell to 16 images/s for three minutes while a test ran beside it; 121 in a quiet run). On an idle
# machine spinning is about 5% faster; set OMP_WAIT_POLICY=ACTIVE to have it.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
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
echo
# Fortunes are separated by lines holding a single %: starting after one asks for a new fortune,
# and the next % ends it.
for seed in 1 2 3; do
  echo "== a new fortune (seed $seed):"
  "$loom" generate -m "$out/model.gguf" -p $'%\n' --stop $'\n%' -n 400 --temperature 0.8 --seed $seed | tail -n +2
  echo
done
echo "== the same, showing how sure the model was of each character:"
"$loom" generate -m "$out/model.gguf" -p $'%\n' --stop $'\n%' -n 300 --temperature 0.8 --seed 4 \
  --show-confidence --color "${DEMO_COLOR:-auto}" | tail -n +2
echo
echo "== how well it predicts a fortune it never trained on (the held-out end of the corpus):"
tail -c 2000 "$(ls "$data"/* | grep -v '\.dat$' | grep -v '\.u8$' | tail -n 1)" > "$out/heldout.txt" 2>/dev/null || true
[ -s "$out/heldout.txt" ] && "$loom" score -m "$out/model.gguf" "$out/heldout.txt"
echo
echo "== continue training later with:"
echo "   $loom train --data $data --out $out --resume --steps 10000"
