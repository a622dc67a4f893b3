#!/usr/bin/env bash
# make demo-image: train a class-conditional diffusion model on Fashion-MNIST for a few minutes,
# then draw pictures of a few labels with it.
# usage: scripts/demo_image.sh LOOM_BINARY DATA OUT_DIR   (DEMO_MINUTES: training time, default 10)
set -euo pipefail
# Idle OpenMP threads sleep instead of spinning: a demo runs while its user does other things,
# and spinning threads that share two cores with anything else slow to a crawl (the image demo
# fell to 16 images/s for three minutes while a test ran beside it; 121 in a quiet run). On an idle
# machine spinning is about 5% faster; set OMP_WAIT_POLICY=ACTIVE to have it.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
loom=${1:-build/loom}
data=${2:-/usr/share/datasets/fashion-mnist}
out=${3:-runs/demo-image}
minutes=${DEMO_MINUTES:-10}

if [ ! -e "$data" ]; then
  echo "demo-image: $data not found (install the Debian package 'dataset-fashion-mnist': make deps)" >&2
  exit 1
fi
echo "== loom image demo: a class-conditional diffusion model on $data, trained for up to $minutes minutes"
echo "== (a grid of samples, one row per label, lands in $out/samples.png every 250 steps: open it while it trains)"
rm -rf "$out"
"$loom" train-image --data "$data" --out "$out" --time-limit "$minutes" --sample-every 250 --eval-every 250 --save-every 500
echo
echo "== all ten classes, one labelled row each (DDIM 25 steps, guidance 3): $out/samples.png"
echo "== the model: $out/model.gguf (the moving average of the weights), the loss curves: $out/loss.png,"
echo "== the grids drawn while training: $out/samples/"
echo
for label in "ankle boot" "trouser" "bag" "sneaker"; do
  png="$out/imagine-${label// /-}.png"
  echo "== loom imagine \"$label\":"
  "$loom" imagine -m "$out/model.gguf" "$label" -n 8 --cols 8 --seed 1 -o "$png"
done
echo
echo "== continue training later with:"
echo "   $loom train-image --data $data --out $out --resume --steps 20000"
