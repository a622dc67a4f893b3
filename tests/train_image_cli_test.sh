#!/usr/bin/env bash
# End-to-end checks of `loom train-image`: a tiny diffusion model trained on a generated folder of
# labelled PNG images writes every output (model, checkpoint, metrics, curves, sample grids); a
# run stopped and resumed reproduces the losses of an uninterrupted one exactly; Fashion-MNIST
# trains when installed; and bad input of every kind is one clear error line, never a crash.
# usage: tests/train_image_cli_test.sh PATH/TO/loom
set -u
NAME=train_image
. "$(dirname "$0")/lib.sh" "$@"
need_python
# 8x8 images, two levels, a 32-wide last level (the attention head size), 50 timesteps
TINY=(--size 8 --widths 16,32 --batch 4 --diffusion-steps 50 --threads 1 --log-every 1 --warmup 2 --progress plain)

# a folder of labelled images: three labels of twelve 8x8 grey PNGs (every 10th is held out),
# each label its own pattern with a little noise
pics_py <<'EOF' || { echo "cannot write the test images"; exit 1; }
import os
from pics import BARS, CORNER, RINGS, flat_folder, pattern_folder
pattern_folder("pics", {"bars": BARS, "rings": RINGS, "corner": CORNER})
flat_folder("other", ("a", "b"))
os.makedirs("junk/label")
for i in range(3):
    open("junk/label/notes%d.txt" % i, "w").write("not an image\n")
EOF

# ---- a whole run: every output ----
"$LOOM" train-image --data pics --out run "${TINY[@]}" --steps 6 --sample-every 3 --eval-every 3 --save-every 3 --seed 7 \
  >out.txt 2>err.txt
rc=$?
if [ $rc -eq 0 ] && ! sanitizer err.txt; then ok "train-image on a folder of PNGs"; else not_ok "train-image (exit $rc)" "$(cat err.txt)"; fi
for f in model.gguf checkpoint.bin metrics.jsonl loss.png summary.json samples.png samples/step-000003.png samples/step-000006.png; do
  [ -s "run/$f" ] && ok "wrote $f" || not_ok "no run/$f" "$(ls -R run)"
done
head -c 4 run/model.gguf | grep -q GGUF && ok "model.gguf is GGUF" || not_ok "model.gguf magic"
head -c 4 run/checkpoint.bin | grep -q LMCI && ok "checkpoint.bin starts with LMCI" || not_ok "checkpoint magic"
grep -q 'training on pics: 33 training images, 3 test, 3 labels (bars, corner, rings), 8x8 grey' err.txt \
  && ok "data summary line" || not_ok "data summary line" "$(cat err.txt)"
grep -q 'model  --size 8 --channels 1 --widths 16,32 (3 labels + no label): [0-9.]*M parameters' err.txt \
  && ok "model line with the parameter count" || not_ok "model line" "$(cat err.txt)"
grep -q 'train  --steps 6 --batch 4 --lr 0.0005 --warmup 2 --weight-decay 0 --clip 1 --ema 0.999 --label-drop 0.1 --schedule cosine --diffusion-steps 50 --seed 7 --threads 1' err.txt \
  && ok "flags in effect" || not_ok "flags line" "$(cat err.txt)"
grep -q 'img/s' err.txt && grep -q 'ETA' err.txt && ok "progress shows images/s and ETA" || not_ok "progress" "$(cat err.txt)"
grep -q 'done after 6 steps in .*: loss [0-9.]*, validation loss [0-9.]*, [0-9.]* images/s' err.txt \
  && ok "final summary line" || not_ok "summary line" "$(cat err.txt)"
[ "$(wc -l <run/metrics.jsonl)" -eq 6 ] && ok "six metrics lines" || not_ok "metrics lines" "$(cat run/metrics.jsonl)"
for key in '"step":' '"loss":' '"lr":' '"images_per_s":' '"elapsed_s":'; do
  grep -q "$key" run/metrics.jsonl && ok "metrics have $key" || not_ok "metrics lack $key" "$(head -n 2 run/metrics.jsonl)"
done
[ "$(grep -c '"val_loss":' run/metrics.jsonl)" -eq 2 ] && ok "validation at steps 3 and 6" || not_ok "val_loss lines" "$(cat run/metrics.jsonl)"
grep -q '"steps":6' run/summary.json && grep -q '"params":' run/summary.json && ok "summary.json" || not_ok "summary.json" "$(cat run/summary.json)"
[ -z "$(ls run | grep '\.tmp\.')" ] && ok "no temporary files left" || not_ok "temporary files" "$(ls run)"
# the warm-up: 2.5e-4 at step 1, 5e-4 from step 2 on
lrs=$("$PY" -c 'import json, sys; print(" ".join("%g" % json.loads(l)["lr"] for l in open(sys.argv[1])))' run/metrics.jsonl)
[ "$lrs" = "0.00025 0.0005 0.0005 0.0005 0.0005 0.0005" ] && ok "linear warm-up, then a constant rate" || not_ok "lr schedule: $lrs"

# ---- resume: 3 steps, then 3 more, the same losses as the 6-step run; settings from --config ----
printf '{"size": 8, "widths": "16,32", "batch": 4, "diffusion_steps": 50, "threads": 1, "log_every": 1, "warmup": 2, "seed": 7, "sample_every": 0}\n' >tiny.json
"$LOOM" train-image --data pics --out r2 --config tiny.json --steps 3 --quiet 2>err.txt \
  && "$LOOM" train-image --out r2 --resume --steps 6 --quiet 2>>err.txt   # the data path and intervals come from the checkpoint
rc=$?
losses() { sed 's/.*"step":\([0-9]*\),"loss":\([^,]*\),.*/\1 \2/' "$1"; }
if [ $rc -eq 0 ] && [ "$(losses run/metrics.jsonl)" = "$(losses r2/metrics.jsonl)" ] && [ "$(wc -l <r2/metrics.jsonl)" -eq 6 ]; then
  ok "3 steps + --resume 3 steps: the same six losses ($(losses r2/metrics.jsonl | tail -n 1))"
else
  not_ok "resume (exit $rc)" "$(losses run/metrics.jsonl; echo ---; losses r2/metrics.jsonl; cat err.txt)"
fi
cmp -s run/model.gguf r2/model.gguf && ok "the resumed run's model.gguf is byte-identical" || not_ok "model.gguf differs after resume"
[ ! -e r2/samples.png ] && ok "--sample-every 0 draws no samples" || not_ok "samples with --sample-every 0"
[ ! -s err.txt ] && ok "--quiet prints nothing" || not_ok "--quiet output" "$(cat err.txt)"

# ---- --time-limit: stop after the step that crosses it, and save ----
"$LOOM" train-image --data pics --out r3 "${TINY[@]}" --steps 1000 --time-limit 1e-9 --sample-every 0 >out.txt 2>err.txt
rc=$?
if [ $rc -eq 0 ] && grep -q 'stopped (time limit) after 1 steps' err.txt && [ -s r3/checkpoint.bin ] && [ -s r3/model.gguf ]; then
  ok "--time-limit stops and saves"
else
  not_ok "--time-limit (exit $rc)" "$(cat err.txt)"
fi

# ---- Fashion-MNIST, when installed ----
FM=/usr/share/datasets/fashion-mnist
if [ -d "$FM" ]; then
  "$LOOM" train-image --out fm --steps 3 --size 28 --widths 32,64 --batch 4 --threads 1 --sample-every 0 --eval-every 0 \
    --progress plain >out.txt 2>err.txt
  rc=$?
  if [ $rc -eq 0 ] && grep -q '60000 training images, 10000 test, 10 labels (T-shirt/top, Trouser' err.txt && [ -s fm/model.gguf ]; then
    ok "Fashion-MNIST by default (3 steps)"
  else
    not_ok "Fashion-MNIST (exit $rc)" "$(cat err.txt)"
  fi
else
  echo "# SKIP Fashion-MNIST: $FM is not installed (apt-get install dataset-fashion-mnist)"
fi

# ---- bad input: one line, non-zero exit, no crash ----
mkdir -p empty && printf 'hello\n' >notes.txt
expect_error "missing --data path" "nope" train-image --data nope --out e1 "${TINY[@]}"
expect_error "empty folder" "empty" train-image --data empty --out e2 "${TINY[@]}"
expect_error "a text file as data" "notes.txt" train-image --data notes.txt --out e3 "${TINY[@]}"
expect_error "a folder of non-images" "image" train-image --data junk --out e4 "${TINY[@]}"
expect_error "no --out" "--out" train-image --data pics
expect_error "--batch 0" "batch" train-image --data pics --out e5 --batch 0
expect_error "absurd --batch" "batch" train-image --data pics --out e6 --batch 65536 --size 64 --widths 32,64,128
expect_error "absurd --size" "batch" train-image --data pics --out e6 --batch 64 --size 1024 --widths 32
expect_error "--size not divisible" "size" train-image --data pics --out e7 --size 10 --widths 32,64,128
expect_error "--widths not numbers" "widths" train-image --data pics --out e8 --widths 32,abc
expect_error "--widths empty entry" "widths" train-image --data pics --out e8 --widths 32,,64
expect_error "--widths too many levels" "widths" train-image --data pics --out e8 --widths 32,32,32,32,32,32,32 --size 64
expect_error "--widths not a multiple of the groups" "width" train-image --data pics --out e8 --widths 12,32 --size 8
expect_error "--channels 2" "channels" train-image --data pics --out e9 --channels 2
expect_error "--schedule unknown" "schedule" train-image --data pics --out e9 --schedule quadratic
expect_error "unknown flag" "unknown" train-image --data pics --out e9 --layers 3
expect_error "--resume without a checkpoint" "nothing to resume" train-image --data pics --out e10 --resume
expect_error "--resume with another --batch" "batch" train-image --data pics --out r2 --resume --batch 8
expect_error "--resume on other data" "labels" train-image --data other --out r2 --resume --steps 8
cp r2/checkpoint.bin good.bin
printf '\x55' | dd of=r2/checkpoint.bin bs=1 seek=300 conv=notrunc 2>/dev/null
expect_error "corrupt checkpoint" "corrupt" train-image --data pics --out r2 --resume --steps 8
head -c 1000 good.bin >r2/checkpoint.bin
expect_error "truncated checkpoint" "truncated" train-image --data pics --out r2 --resume --steps 8
printf 'LMCK\1\0\0\0' >r2/checkpoint.bin
expect_error "a text model's checkpoint" "checkpoint" train-image --data pics --out r2 --resume --steps 8
: >r2/checkpoint.bin
expect_error "empty checkpoint" "checkpoint" train-image --data pics --out r2 --resume --steps 8
expect_error "--resume of a finished run" "larger --steps" train-image --out run --resume
printf '{"batch": "many"}' >bad.json
expect_error "--config with a bad value" "batch" train-image --data pics --out e11 --config bad.json

"$LOOM" train-image --help >help.txt 2>&1
rc=$?
missing=""
for f in data out steps time-limit batch lr warmup weight-decay clip ema label-drop schedule diffusion-steps size channels \
         widths sample-every save-every eval-every log-every seed threads resume progress quiet config; do
  grep -q -- "--$f " help.txt || missing="$missing $f"
done
[ $rc -eq 0 ] && [ -z "$missing" ] && ok "--help lists every flag" || not_ok "--help (exit $rc) lacks:$missing" "$(head -n 5 help.txt)"
finish
