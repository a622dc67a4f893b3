#!/usr/bin/env bash
# loom image benchmark (issue 5): the default U-Net (28x28 grey, widths 32/64/128, 10 labels)
# trained and sampled by loom and by the same network in PyTorch (bench/unet_torch.py, whose
# parameter names and layers are loom's), at the same thread count, in the same run.
#
#   bash bench/bench_image.sh BUILD_DIR [QUALITY_DIR]
#
# 1. training images/s, batch 64: loom train-image on Fashion-MNIST (rate read from
#    metrics.jsonl between the first logged step after warm-up and the last, so start-up and the
#    final save are outside the window); PyTorch on random data of the same shape (the data
#    pipeline is not what is timed) after --warmup untimed steps.
# 2. sampling 64 images, DDIM 50 steps, guidance 3 (conditional and unconditional in one batch):
#    wall time of `loom imagine` (model loading included) and of the same loop in PyTorch.
# Each figure is the median of BENCH_REPEATS (3) runs per side, loom and PyTorch alternating.
# 3. quality, when QUALITY_DIR holds a finished run (model.gguf) and eval-image.json from
#    `loom eval-image --format json` on it: the classifier's accuracy, the conditional accuracy
#    (goal >= 85%) and the Frechet distance beside its real-vs-real floor.
#
# Environment: BENCH_THREADS (2), BENCH_REPEATS (3), BENCH_PYTHON (/usr/bin/python3),
# BENCH_OUT (runs/bench-image), IMAGE_DATA (/usr/share/datasets/fashion-mnist).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: bash bench/bench_image.sh BUILD_DIR [QUALITY_DIR]" >&2; exit 2; }
BUILD=$1
QUALITY=${2:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOOM=$BUILD/loom
case $LOOM in /*) ;; *) LOOM="$PWD/$LOOM" ;; esac
PY=${BENCH_PYTHON:-/usr/bin/python3}
THREADS=${BENCH_THREADS:-2}
REPEATS=${BENCH_REPEATS:-3}
OUT=${BENCH_OUT:-$HERE/../runs/bench-image}
DATA=${IMAGE_DATA:-/usr/share/datasets/fashion-mnist}
STEPS=${BENCH_STEPS:-40}
WARM=10
[ -x "$LOOM" ] || { echo "bench-image: $LOOM is not an executable (build first: make build)" >&2; exit 1; }
[ -e "$DATA" ] || { echo "bench-image: SKIPPED: $DATA is missing (Debian package dataset-fashion-mnist)" >&2; exit 0; }
"$PY" -c 'import torch' 2>/dev/null || { echo "bench-image: SKIPPED: $PY has no torch (python3-torch)" >&2; exit 0; }
mkdir -p "$OUT"
export OMP_WAIT_POLICY=PASSIVE # both sides: spinning threads collapse on a busy 2-core machine

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

loom_train() { # images/s between step WARM and the last step
    rm -rf "$OUT/train"
    "$LOOM" train-image --data "$DATA" --out "$OUT/train" --steps "$STEPS" --batch 64 --threads "$THREADS" \
        --sample-every 0 --eval-every 0 --save-every 0 --log-every "$WARM" --warmup 5 --quiet >/dev/null
    "$PY" - "$OUT/train/metrics.jsonl" "$WARM" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if "elapsed_s" in r and r.get("step") is not None]
a = next(r for r in rows if r["step"] >= int(sys.argv[2]))
b = rows[-1]
print(64 * (b["step"] - a["step"]) / (b["elapsed_s"] - a["elapsed_s"]))
EOF
}
torch_train() {
    "$PY" "$HERE/unet_torch.py" --batch 64 --steps $((STEPS - WARM)) --warmup "$WARM" --threads "$THREADS" --json |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])'
}
loom_sample() {
    local t0 t1
    t0=$(date +%s.%N)
    "$LOOM" imagine -m "$OUT/train/model.gguf" "ankle boot" -n 64 --steps 50 --guidance 3 --seed 1 \
        -t "$THREADS" -q -o "$OUT/sample.png" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
torch_sample() {
    "$PY" "$HERE/unet_torch.py" --sample 64 --sample-steps 50 --guidance 3 --threads "$THREADS" --json |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["seconds"])'
}

echo "bench-image: $THREADS threads, $REPEATS runs a side, training $STEPS steps of 64 images ($WARM untimed)"
lt=() tt=() ls=() ts=()
for r in $(seq "$REPEATS"); do
    lt+=("$(loom_train)")
    tt+=("$(torch_train)")
    ls+=("$(loom_sample)")
    ts+=("$(torch_sample)")
    echo "  run $r: train loom ${lt[-1]} torch ${tt[-1]} images/s; sample 64 loom ${ls[-1]} torch ${ts[-1]} s"
done
LT=$(printf '%s\n' "${lt[@]}" | median)
TT=$(printf '%s\n' "${tt[@]}" | median)
LS=$(printf '%s\n' "${ls[@]}" | median)
TS=$(printf '%s\n' "${ts[@]}" | median)
verdict() { awk -v r="$1" 'BEGIN { print (r >= 1.0 ? "PASS" : "FAIL") }'; }
RT=$(awk -v a="$LT" -v b="$TT" 'BEGIN { print a / b }')
RS=$(awk -v a="$TS" -v b="$LS" 'BEGIN { print a / b }')
echo
printf '%-40s %10s %10s %8s  %s\n' "figure (medians)" "loom" "PyTorch" "ratio" "goal >= 1.0"
printf '%-40s %10.1f %10.1f %7.2fx  %s\n' "training, batch 64 (images/s)" "$LT" "$TT" "$RT" "$(verdict "$RT")"
printf '%-40s %10.2f %10.2f %7.2fx  %s\n' "sampling 64 images, DDIM 50, w=3 (s)" "$LS" "$TS" "$RS" "$(verdict "$RS")"

if [ -n "$QUALITY" ] && [ -f "$QUALITY/eval-image.json" ]; then
    echo
    "$PY" - "$QUALITY/eval-image.json" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))
acc = e["classifier"]["test_accuracy"]; cond = e["conditional_accuracy"]["overall"]
print("%-40s %10.1f%%  %s" % ("classifier accuracy on test images", 100 * acc, "goal >= 90%: " + ("PASS" if acc >= 0.9 else "FAIL")))
print("%-40s %10.1f%%  %s" % ("conditional accuracy of generated", 100 * cond, "goal >= 85%: " + ("PASS" if cond >= 0.85 else "FAIL")))
print("%-40s %10.2f  (real-vs-real floor %.2f)" % ("Frechet distance, generated vs test", e["frechet"]["generated_vs_test"], e["frechet"]["train_vs_test"]))
EOF
fi
