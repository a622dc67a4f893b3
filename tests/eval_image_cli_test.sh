#!/usr/bin/env bash
# End-to-end checks of `loom eval-image`: on a tiny diffusion model trained on a generated folder of
# labelled PNG images it trains and caches its classifier, reports every figure (classifier test
# accuracy, conditional accuracy per label and overall, the confusion matrix, the Fréchet distance
# and its floor) as text and JSON, reuses the cached classifier with the same results, writes the
# grid; and bad input of every kind is one clear error line, never a crash.
# (On Fashion-MNIST the classifier alone trains for minutes, so that run is not part of this test.)
# usage: tests/eval_image_cli_test.sh PATH/TO/loom
set -u
NAME=eval_image
. "$(dirname "$0")/lib.sh" "$@"
need_python
export XDG_CACHE_HOME="$W/cache"

# three labels of twelve 8x8 grey PNGs (every 10th is a test image), a two-label folder, and a
# GGUF that is a text model (architecture llama with a tokenizer)
pics_py <<'EOF' || { echo "cannot write the test files"; exit 1; }
from pics import BARS, CORNER, RINGS, flat_folder, pattern_folder, text_gguf
pattern_folder("pics", {"bars": BARS, "rings": RINGS, "corner": CORNER})
flat_folder("two", ("a", "b"))
text_gguf("text.gguf")
EOF

"$LOOM" train-image --data pics --out run --size 8 --widths 16,32 --batch 4 --diffusion-steps 50 --steps 2 \
  --sample-every 0 --eval-every 0 --threads 1 --quiet 2>err.txt
[ -s run/model.gguf ] || { not_ok "train-image wrote no model" "$(cat err.txt)"; finish; exit 1; }

# ---- a whole run: the classifier is trained, cached, and every figure is reported ----
SMALL=(--model run/model.gguf --data pics -n 2 --steps 2 --classifier-epochs 2 --threads 1)
"$LOOM" eval-image "${SMALL[@]}" --grid grid.png >out1.txt 2>err1.txt
rc=$?
if [ $rc -eq 0 ] && ! sanitizer err1.txt; then ok "eval-image on a tiny model"; else not_ok "eval-image (exit $rc)" "$(cat err1.txt)"; fi
grep -q 'training the classifier on 33 images for 2 epochs' err1.txt && ok "says it trains the classifier" \
  || not_ok "training line" "$(cat err1.txt)"
grep -q 'epoch 2/2 .*test accuracy' err1.txt && ok "classifier progress lines" || not_ok "progress lines" "$(cat err1.txt)"
grep -q 'generated 6/6 images' err1.txt && ok "generation progress (images done / total)" || not_ok "generation progress" "$(cat err1.txt)"
grep -q '^classifier test accuracy  [0-9.]*% ([0-9]*/3)' out1.txt && ok "classifier test accuracy" || not_ok "test accuracy line" "$(cat out1.txt)"
grep -q '^generated   6 images (2 per label): ddim, 2 steps, guidance 3, seed 1' out1.txt && ok "generation settings" \
  || not_ok "generation line" "$(cat out1.txt)"
for l in bars corner rings; do
  grep -q "^ *[0-9]* $l .*% ([0-9]/2)" out1.txt && ok "conditional accuracy of $l" || not_ok "no accuracy row for $l" "$(cat out1.txt)"
done
grep -q '^     overall .*% ([0-6]/6)' out1.txt && ok "overall conditional accuracy" || not_ok "overall line" "$(cat out1.txt)"
grep -q '^confusion matrix (rows: the label asked for, columns: the label predicted)' out1.txt && ok "confusion matrix" \
  || not_ok "confusion matrix" "$(cat out1.txt)"
grep -q '^  generated vs test  *[0-9.]*   (6 vs 3 images)' out1.txt && ok "Fréchet distance, generated vs test" \
  || not_ok "FID line" "$(cat out1.txt)"
grep -q '^  train vs test (floor)  *[0-9.]*   (6 vs 3 images)' out1.txt && ok "Fréchet floor, train vs test" \
  || not_ok "floor line" "$(cat out1.txt)"
grep -q '^seconds     classifier [0-9.]*, generation [0-9.]*, total [0-9.]*' out1.txt && ok "seconds" || not_ok "seconds line" "$(cat out1.txt)"
n=$(ls cache/loom/classifier-8px-1ch-*.gguf 2>/dev/null | wc -l)
[ "$n" -eq 1 ] && ok "classifier cached under XDG_CACHE_HOME" || not_ok "cache holds $n classifiers" "$(ls -R cache 2>&1)"
[ -z "$(ls cache/loom | grep '\.tmp')" ] && ok "no temporary files in the cache" || not_ok "temporary files" "$(ls cache/loom)"
head -c 8 grid.png | grep -q PNG && ok "grid.png written" || not_ok "no grid.png" "$(cat err1.txt)"

# ---- again: the cached classifier, the same figures ----
"$LOOM" eval-image "${SMALL[@]}" >out2.txt 2>err2.txt
rc=$?
[ $rc -eq 0 ] && grep -q '(cached)' out2.txt && ! grep -q 'training the classifier' err2.txt \
  && ok "second run uses the cached classifier" || not_ok "cache not used (exit $rc)" "$(cat err2.txt out2.txt)"
if diff <(grep -v -e '^seconds' -e '^classifier  ' -e '^ *trained in' out1.txt) \
        <(grep -v -e '^seconds' -e '^classifier  ' -e '^ *trained in' out2.txt) >/dev/null; then
  ok "same figures from the cached classifier"
else not_ok "figures differ" "$(diff out1.txt out2.txt)"; fi

# ---- JSON ----
"$LOOM" eval-image "${SMALL[@]}" --format json --quiet >out.json 2>err.txt
rc=$?
if [ $rc -eq 0 ] && [ ! -s err.txt ] && "$PY" - out.json <<'EOF'
import json, sys
o = json.load(open(sys.argv[1]))
assert o["labels"] == ["bars", "corner", "rings"], o["labels"]
c = o["classifier"]; assert c["test_images"] == 3 and 0 <= c["test_accuracy"] <= 1 and not c["trained_now"]
ca = o["conditional_accuracy"]; assert ca["images"] == 6 and len(ca["per_label"]) == 3
m = o["confusion"]; assert len(m) == 3 and all(sum(r) == 2 for r in m), m
assert ca["correct"] == sum(m[i][i] for i in range(3))
f = o["frechet"]; assert f["generated_vs_test"] >= 0 and f["train_vs_test"] >= 0 and f["features"] == 128
assert f["generated_images"] == 6 and f["test_images"] == 3 and f["train_images"] == 6
g = o["generation"]; assert g["sampler"] == "ddim" and g["steps"] == 2 and g["per_label"] == 2
assert set(o["seconds"]) == {"classifier", "generation", "total"}
EOF
then ok "--format json: one object with every figure, nothing on stderr with --quiet"
else not_ok "--format json (exit $rc)" "$(cat err.txt out.json)"; fi

# ---- --classifier FILE and --retrain-classifier ----
"$LOOM" eval-image "${SMALL[@]}" --classifier my.gguf --quiet >out3.txt 2>err.txt
[ $? -eq 0 ] && [ -s my.gguf ] && grep -q 'my.gguf (trained now)' out3.txt && ok "--classifier FILE: trained and saved there" \
  || not_ok "--classifier FILE" "$(cat err.txt out3.txt)"
"$LOOM" eval-image "${SMALL[@]}" --classifier my.gguf --retrain-classifier --quiet >out3.txt 2>err.txt
[ $? -eq 0 ] && grep -q 'trained now' out3.txt && ok "--retrain-classifier trains again" || not_ok "--retrain-classifier" "$(cat err.txt out3.txt)"

# ---- a cache that cannot be written: a warning, and the figures all the same ----
echo "a file, not a folder" >notadir
XDG_CACHE_HOME="$W/notadir" "$LOOM" eval-image "${SMALL[@]}" >out4.txt 2>err.txt
rc=$?
[ $rc -eq 0 ] && grep -q 'warning: .*not saved' err.txt && grep -q '^     overall' out4.txt \
  && ok "unwritable cache: a warning, and the evaluation goes on" || not_ok "unwritable cache (exit $rc)" "$(cat err.txt)"

# ---- bad input: one line each ----
expect_error "no --model" "--model" eval-image --data pics
expect_error "missing model" "nope.gguf" eval-image --model nope.gguf --data pics
expect_error "a text model" "text model" eval-image --model text.gguf --data pics
expect_error "not a GGUF" "not a GGUF" eval-image --model pics/bars/00.png --data pics
expect_error "missing data" "not found" eval-image --model run/model.gguf --data nowhere
expect_error "data with other labels" "labels" eval-image --model run/model.gguf --data two
expect_error "classifier file of another kind" "not a loom image classifier" eval-image "${SMALL[@]}" --classifier text.gguf -q
expect_error "steps beyond the model's" "steps" eval-image "${SMALL[@]}" --steps 51
expect_error "zero per label" "per-label" eval-image --model run/model.gguf -n 0
expect_error "unknown sampler" "sampler" eval-image --model run/model.gguf --sampler euler
expect_error "unknown flag" "unknown flag" eval-image --model run/model.gguf --frobnicate

finish
