#!/usr/bin/env bash
# make demo-code: train a small code model on the Python standard library for a few minutes
# (a fixed list of modules held out), then complete a held-out function on screen.
# usage: scripts/demo_code.sh LOOM_BINARY [OUT_DIR]
set -euo pipefail
# Idle OpenMP threads sleep instead of spinning: a demo runs while its user does other things,
# and spinning threads that share two cores with anything else slow to a crawl (the image demo
# fell to 16 images/s for three minutes while a test ran beside it; 121 in a quiet run). On an idle
# machine spinning is about 5% faster; set OMP_WAIT_POLICY=ACTIVE to have it.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
loom=${1:-build/loom}
out=${2:-runs/demo-code}
minutes=${DEMO_MINUTES:-4}
src=/usr/lib/python3.11
[ -d "$src" ] || { echo "demo-code: $src not found (Debian's python3.11)" >&2; exit 1; }
# held out from training: these modules are what the model is asked to complete
held=(textwrap.py colorsys.py fnmatch.py)
rm -rf "$out"
mkdir -p "$out/train"
echo "== loom code demo: the Python standard library (top level, held out: ${held[*]}), up to $minutes minutes"
for f in "$src"/*.py; do
  b=$(basename "$f")
  skip=
  for h in "${held[@]}"; do [ "$b" = "$h" ] && skip=1; done
  [ -n "$skip" ] || cp "$f" "$out/train/"
done
"$loom" train --data "$out/train" --code --out "$out" --vocab-size 4096 --context 256 --time-limit "$minutes" \
  --eval-every 500 --save-every 500
# a held-out function: colorsys.rgb_to_yiq, cut after its signature line
target="$src/colorsys.py"
line=$(grep -n '^def rgb_to_yiq' "$target" | cut -d: -f1)
echo
echo "== completing $target at line $line (the model never saw this file):"
sed -n "${line}p" "$target"
"$loom" complete -m "$out/model.gguf" "$target:$line" -n 3 --max-tokens 120 --seed 1
echo
echo "== the original:"
sed -n "$line,$((line + 6))p" "$target"
