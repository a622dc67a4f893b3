#!/usr/bin/env bash
# make bench-image-quality: issue 5's measured run. Trains the default class-conditional U-Net on
# Fashion-MNIST for at most MINUTES (default 58) of training on this machine, then runs
# `loom eval-image` (a classifier trained once and cached; 100 images per label drawn with 50
# DDIM steps and guidance 3; conditional accuracy, confusion matrix, Frechet distance and its floor).
# usage: scripts/image_eval.sh LOOM_BINARY [OUT_DIR]
#   MINUTES=58  training time limit    STEPS=20000  optimizer steps (an upper bound)
set -euo pipefail
loom=${1:-build/loom}
out=${2:-runs/image-eval}
minutes=${MINUTES:-58}
steps=${STEPS:-20000}
data=${IMAGE_DATA:-/usr/share/datasets/fashion-mnist}
[ -e "$data" ] || { echo "image-eval: $data not found (Debian package dataset-fashion-mnist: make deps)" >&2; exit 1; }
# threads that sleep at barriers instead of spinning (a busy 2-core machine otherwise stalls)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
echo "== diffusion model: $data, at most $minutes minutes"
"$loom" train-image --data "$data" --out "$out" --steps "$steps" --time-limit "$minutes" \
  --lr ${LR:-5e-4} --warmup 200 --sample-every 1000 --eval-every 500 --save-every 500 ${TRAIN_FLAGS:-}
echo
echo "== eval-image: 100 images per label, DDIM 50 steps, guidance 3"
"$loom" eval-image --model "$out/model.gguf" --data "$data" -n 100 --steps 50 --guidance 3 --seed 1 \
  --grid "$out/eval-grid.png" --format json ${EVAL_FLAGS:-} > "$out/eval-image.json"
/usr/bin/python3 - "$out/eval-image.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
c, ca, f = e["classifier"], e["conditional_accuracy"], e["frechet"]
print("classifier accuracy on test images  %.2f%% (%d/%d)" % (100 * c["test_accuracy"], c["test_correct"], c["test_images"]))
print("conditional accuracy (generated)    %.2f%% (%d/%d)" % (100 * ca["overall"], ca["correct"], ca["images"]))
for p in ca["per_label"]:
    print("  %-14s %5.1f%% (%d/%d)" % (p["label"], 100 * p["accuracy"], p["correct"], p["images"]))
print("confusion (rows: asked, columns: predicted):")
for l, row in zip(e["labels"], e["confusion"]):
    print("  %-14s %s" % (l[:14], " ".join("%4d" % v for v in row)))
print("Frechet distance generated vs test  %.2f   (floor, train vs test: %.2f)" % (f["generated_vs_test"], f["train_vs_test"]))
PY
