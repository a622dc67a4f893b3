#!/usr/bin/env bash
# End-to-end checks of `loom imagine`: a tiny model from `loom train-image` draws a grid, one PNG
# per image and the denoising steps with every sampler; the same seed gives the same file; prompts
# are matched to labels; and bad input (unknown prompt, a text model, bad flags) is one clear
# error line, never a crash.
# usage: tests/imagine_cli_test.sh PATH/TO/loom
set -u
NAME=imagine
. "$(dirname "$0")/lib.sh" "$@"
need_python

# three labels of twelve 8x8 grey PNGs, and a GGUF file that is a (weightless) text model
pics_py <<'EOF' || { echo "cannot write the test files"; exit 1; }
from pics import BARS, CORNER, RINGS, pattern_folder, text_gguf
pattern_folder("pics", {"bars": BARS, "rings": RINGS, "ankle boot": CORNER})
text_gguf("text.gguf")
EOF

"$LOOM" train-image --data pics --out run --size 8 --widths 16,32 --batch 4 --diffusion-steps 50 --threads 1 --steps 4 \
  --sample-every 0 --eval-every 0 --seed 3 --quiet >out.txt 2>err.txt
if [ $? -ne 0 ] || [ ! -s run/model.gguf ]; then
  not_ok "train-image for the test model" "$(cat err.txt)"
  finish
  exit 1
fi
M=run/model.gguf

# ---- a grid, the same again with the same seed ----
"$LOOM" imagine -m $M rings -n 5 --steps 5 --seed 11 --threads 1 -o a.png >out.txt 2>err.txt
rc=$?
if [ $rc -eq 0 ] && ! sanitizer err.txt && head -c 8 a.png | grep -q PNG; then ok "a grid of 5 images"; else not_ok "imagine (exit $rc)" "$(cat err.txt)"; fi
grep -q "5 images in [0-9.]*s ([0-9.]* images/s) -> a.png" out.txt && ok "summary with images/s" || not_ok "summary" "$(cat out.txt)"
grep -q "5 images of 'rings' (label 2) with ddim, 5 steps, guidance 3, seed 11" err.txt && ok "what it draws, on stderr" \
  || not_ok "start line" "$(cat err.txt)"
"$LOOM" imagine -m $M "some rings" -n 5 --steps 5 --seed 11 --threads 1 -o b.png -q >out.txt 2>err.txt
cmp -s a.png b.png && ok "same seed, same picture (prompt 'some rings')" || not_ok "seeded runs differ"
[ ! -s out.txt ] && [ ! -s err.txt ] && ok "--quiet prints nothing" || not_ok "--quiet output" "$(cat out.txt err.txt)"
"$LOOM" imagine -m $M rings -n 5 --steps 5 --seed 12 --threads 1 -o c.png -q
cmp -s a.png c.png && not_ok "another seed gives the same picture" || ok "another seed, another picture"

# ---- one file per image, the steps, every sampler ----
"$LOOM" imagine -m $M "ankle boots" -n 3 --steps 4 --seed 1 --threads 1 --out-dir each --show-steps >out.txt 2>err.txt
rc=$?
if [ $rc -eq 0 ] && [ -s each/ankle-boot-0001.png ] && [ -s each/ankle-boot-0003.png ] && [ ! -e each/ankle-boot-0004.png ] \
   && [ -s each/steps.png ] && [ ! -e imagine.png ]; then
  ok "--out-dir: one PNG per image, named by the label, and the steps"
else
  not_ok "--out-dir (exit $rc)" "$(cat err.txt; ls each)"
fi
for smp in ddpm ddim dpm++2m; do
  "$LOOM" imagine -m $M bars -n 2 --sampler $smp --steps 6 --guidance 2 --seed 2 --threads 1 --batch 1 -o s.png --show-steps \
    >out.txt 2>err_$smp.txt
  rc=$?
  if [ $rc -eq 0 ] && [ -s s.png ] && [ -s s-steps.png ] && ! sanitizer err_$smp.txt; then ok "--sampler $smp with --show-steps"
  else not_ok "--sampler $smp (exit $rc)" "$(cat err_$smp.txt)"; fi
done
grep -q "with ddpm, 50 steps" err_ddpm.txt && grep -q "with dpm++2m, 6 steps" err_dpm++2m.txt \
  && ok "ddpm runs all 50 model steps, dpm++2m the 6 asked for" || not_ok "steps lines" "$(cat err_ddpm.txt err_dpm++2m.txt)"
(cd each && "$LOOM" imagine -m ../$M 1 -n 1 --steps 2 --threads 1 -q) && [ -s each/imagine.png ] \
  && ok "a label's number as the prompt; imagine.png by default" || not_ok "default output"

# ---- bad input: one line, non-zero exit, no crash ----
expect_error "unknown prompt lists the labels" "bars" imagine -m $M banana
expect_error "a text model" "text model" imagine -m text.gguf rings
expect_error "a missing model" "nope.gguf" imagine -m nope.gguf rings
expect_error "not a GGUF file" "pics" imagine -m pics/bars/00.png rings 2>/dev/null
expect_error "no --model" "--model" imagine rings
expect_error "no prompt" "prompt" imagine -m $M
expect_error "two prompts" "unexpected" imagine -m $M rings bars
expect_error "--steps over the model's" "steps" imagine -m $M rings --steps 51
expect_error "--sampler unknown" "sampler" imagine -m $M rings --sampler euler
expect_error "-n 0" "number" imagine -m $M rings -n 0
expect_error "--guidance negative" "guidance" imagine -m $M rings --guidance -1
mkdir -p ro && chmod 500 ro
if [ ! -w ro ]; then expect_error "unwritable output" "ro" imagine -m $M rings -n 1 --steps 1 -o ro/x.png; fi
chmod 700 ro

"$LOOM" imagine --help >help.txt 2>&1
rc=$?
missing=""
for f in model number sampler steps guidance seed output out-dir cols scale show-steps threads batch quiet; do
  grep -q -- "--$f " help.txt || missing="$missing $f"
done
[ $rc -eq 0 ] && [ -z "$missing" ] && ok "--help lists every flag" || not_ok "--help (exit $rc) lacks:$missing" "$(head -n 5 help.txt)"
finish
