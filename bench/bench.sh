#!/usr/bin/env bash
# loom benchmark: training speed against PyTorch (same model, same threads) and the nanoGPT
# tinyshakespeare quality run.  Usage (what `make bench` runs):
#
#   bash bench/bench.sh BUILD/loom SHARED_DIR
#
# 1. speed, laptop config   4 layers/4 heads/dim 128/ffn 344, context 64, batch 12
# 2. speed, larger config   6 layers/6 heads/dim 384/ffn 1024, context 256, batch 8
# 3. quality                the nanoGPT laptop run: 2000 steps, goal val_loss <= 1.90 (nanoGPT: 1.88)
#
# Everything runs strictly one after another (never two trainings at once), at BENCH_THREADS
# threads for both loom and PyTorch.  PyTorch runs as /usr/bin/python3 bench/torch_train.py with
# OMP_WAIT_POLICY=PASSIVE (its best fp32 setting on this machine, see ../shared/README.md),
# --vocab 257 (loom's byte vocabulary: 256 bytes + <|endoftext|>) and --tied (loom's default).
#
# Timing: both sides exclude warm-up.  PyTorch runs --warmup untimed steps, then times --steps.
# loom runs warm-up + timed steps in one process and the rate is read from metrics.jsonl
# (elapsed_s at the first logged step >= warm-up and at the last step), so start-up, the first
# steps, the final evaluation and the final save are all outside the timed window.
# (summary.json's tokens_per_s, which covers all steps and the final save, is printed too.)
# Each speed figure is the median of BENCH_REPEATS runs per side, loom and PyTorch alternating.
#
# Environment:
#   BENCH_QUICK=1        fewer steps, one repeat, no 2000-step quality run (a minute or two)
#   BENCH_REPEATS=N      repeats per speed figure (default 3; 1 with BENCH_QUICK)
#   BENCH_SKIP_QUALITY=1 skip the quality run       BENCH_SKIP_TORCH=1  skip the PyTorch runs
#   BENCH_THREADS=N      threads for both sides (default 2)
#   BENCH_SPEED_GOAL=R   goal for loom/torch tokens/s (default 1.0: at least as fast)
#   BENCH_QUALITY_GOAL=V goal for the quality run's val_loss (default 1.90)
#   BENCH_OUT=DIR        where runs and results.json go (default: <repo>/runs/bench, gitignored)
#   BENCH_PYTHON=PATH    Python with torch (default /usr/bin/python3)
#   BENCH_WAIT=1         if other trainings are running, wait for them to end (else only warn)
#   BENCH_STRICT=1       exit 1 when a goal is missed (default: exit 0, the table says FAIL)
set -euo pipefail

usage() { echo "usage: bash bench/bench.sh PATH/TO/loom SHARED_DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
LOOM=$1
SHARED=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
case $LOOM in /*) ;; *) LOOM="$PWD/$LOOM" ;; esac

DATA="$SHARED/data/tinyshakespeare.txt"
if [ ! -f "$DATA" ]; then
    echo "bench: SKIPPED: $DATA is missing (the benchmark needs ../shared/data/tinyshakespeare.txt)" >&2
    exit 0
fi
if [ ! -x "$LOOM" ]; then
    echo "bench: $LOOM is not an executable (build first: make build)" >&2
    exit 1
fi

PY=${BENCH_PYTHON:-/usr/bin/python3}
SYSPY=/usr/bin/python3                     # runs compare.py (standard library only)
[ -x "$SYSPY" ] || SYSPY=$(command -v python3)
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
THREADS=${BENCH_THREADS:-2}
if [ -n "$QUICK" ]; then REPEATS=${BENCH_REPEATS:-1}; else REPEATS=${BENCH_REPEATS:-3}; fi
OUT=${BENCH_OUT:-$REPO/runs/bench}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
MEAS="$OUT/measurements.jsonl"
rm -rf "$OUT/laptop" "$OUT/large" "$OUT/quality" "$OUT/logs" "$OUT/noise.txt"
mkdir -p "$OUT/logs"
: >"$MEAS"

# Step counts: (loom warm-up, loom total, torch warm-up, torch timed, loom log-every).
# loom's warm-up must be a multiple of its log-every so a metrics line marks the window start.
if [ -n "$QUICK" ]; then
    LAP_LW=5  LAP_LN=45  LAP_TW=5 LAP_TN=40  LAP_LOG=5
    BIG_LW=2  BIG_LN=7   BIG_TW=2 BIG_TN=5   BIG_LOG=1
else
    LAP_LW=10 LAP_LN=210 LAP_TW=10 LAP_TN=150 LAP_LOG=5
    BIG_LW=4  BIG_LN=24  BIG_TW=3  BIG_TN=20  BIG_LOG=1
fi
LAPTOP="--layers 4 --heads 4 --kv-heads 4 --dim 128 --ffn-dim 344 --context 64 --batch 12"
LARGE="--layers 6 --heads 6 --kv-heads 6 --dim 384 --ffn-dim 1024 --context 256 --batch 8"
LAP_BT=$((12 * 64))
BIG_BT=$((8 * 256))

# run LOGNAME CMD...: runs CMD with stdout/stderr in $OUT/logs/LOGNAME.{out,err}; on failure
# prints the command, its exit status and the tail of its output, and stops the benchmark.
# It also checks how much CPU everything else used meanwhile (machine-wide busy + steal time from
# /proc/stat, less this command's own CPU time) and notes runs where that was over 15% of a core.
CLK=$(getconf CLK_TCK 2>/dev/null || echo 100)
machine_cpu() { awk -v hz="$CLK" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat; }
# user+sys seconds of this shell's finished children: the second line of `times`, which must run
# in this shell itself (in a $(...) subshell it would count that subshell's children only)
children_cpu() {
    awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] }
                   printf "%.2f", t }' "$OUT/logs/.times"
}
run() {
    local name=$1; shift
    local rc=0 w0 w1 m0 m1 c0 c1
    times >"$OUT/logs/.times"; w0=$(date +%s.%N); m0=$(machine_cpu); c0=$(children_cpu)
    "$@" >"$OUT/logs/$name.out" 2>"$OUT/logs/$name.err" || rc=$?
    times >"$OUT/logs/.times"; w1=$(date +%s.%N); m1=$(machine_cpu); c1=$(children_cpu)
    awk -v n="$name" -v w0="$w0" -v w1="$w1" -v m0="$m0" -v m1="$m1" -v c0="$c0" -v c1="$c1" \
        'BEGIN { wall = w1 - w0; o = (m1 - m0) - (c1 - c0); if (wall > 0 && o / wall > 0.15)
                 printf "%s: other processes used %.0f%% of a core (%.1f CPU-s in %.1f s)\n", n, 100 * o / wall, o, wall }' \
        </dev/null | tee -a "$OUT/noise.txt" | sed 's/^/bench: WARNING: noisy measurement: /' >&2
    if [ $rc -ne 0 ]; then
        {
            echo "bench: FAILED (exit $rc): $*"
            echo "---- last lines of stderr ($OUT/logs/$name.err) ----"
            tail -n 30 "$OUT/logs/$name.err"
            if [ ! -s "$OUT/logs/$name.err" ]; then
                echo "---- last lines of stdout ($OUT/logs/$name.out) ----"
                tail -n 30 "$OUT/logs/$name.out"
            fi
        } >&2
        exit 1
    fi
}

# record CMD...: appends the JSON line compare.py prints to measurements.jsonl
record() {
    local line rc=0
    line=$("$SYSPY" "$HERE/compare.py" "$@") || rc=$?
    if [ $rc -ne 0 ]; then echo "bench: FAILED to read results: compare.py $*" >&2; exit 1; fi
    echo "$line" >>"$MEAS"
    echo "$line"
}

# Other trainings on this machine would skew every figure.
others() { pgrep -fa "loom train|torch_train\.py" | grep -v -e "^$$ " -e pgrep || true; }
busy=$(others)
if [ -n "$busy" ]; then
    if [ "${BENCH_WAIT:-0}" != 0 ]; then
        echo "bench: waiting for other trainings to end:"; echo "$busy"
        while [ -n "$(others)" ]; do sleep 20; done
    else
        echo "bench: WARNING: other trainings are running; the speed figures will be skewed"
        echo "$busy"
        echo "bench: (set BENCH_WAIT=1 to wait for them)"
    fi
fi

TORCH_SKIPPED=
if [ "${BENCH_SKIP_TORCH:-0}" != 0 ]; then
    TORCH_SKIPPED="BENCH_SKIP_TORCH=1"
elif ! "$PY" -c "import torch, numpy" >/dev/null 2>&1; then
    TORCH_SKIPPED="$PY cannot import torch and numpy (set BENCH_PYTHON)"
    echo "bench: WARNING: $TORCH_SKIPPED; reporting loom's figures alone" >&2
fi

echo "bench: loom=$LOOM data=$DATA threads=$THREADS repeats=$REPEATS${QUICK:+ (BENCH_QUICK)} out=$OUT"

# speed CASE SHAPE BT LW LN LOG TW TN
speed() {
    local case=$1 shape=$2 bt=$3 lw=$4 ln=$5 log=$6 tw=$7 tn=$8 r
    for r in $(seq 1 "$REPEATS"); do
        echo "bench: [$case $r/$REPEATS] loom train, $ln steps ($lw warm-up) ..."
        rm -rf "$OUT/$case/loom$r"
        # shellcheck disable=SC2086
        run "$case-loom$r" "$LOOM" train --data "$DATA" --out "$OUT/$case/loom$r" $shape \
            --steps "$ln" --eval-every 0 --eval-iters 1 --save-every 0 --log-every "$log" \
            --threads "$THREADS" --progress plain --val-split 0.1
        record loom "$case" "$r" "$OUT/$case/loom$r" "$bt" "$lw" >/dev/null
        rm -f "$OUT/$case/loom$r/checkpoint.bin" "$OUT/$case/loom$r/model.gguf"  # up to 130 MB each
        tail -n 1 "$MEAS" | sed 's/^/        /'
        if [ -z "$TORCH_SKIPPED" ]; then
            echo "bench: [$case $r/$REPEATS] PyTorch, $tn timed steps ($tw warm-up) ..."
            # shellcheck disable=SC2086
            run "$case-torch$r" env OMP_WAIT_POLICY=PASSIVE "$PY" "$HERE/torch_train.py" --data "$DATA" $shape \
                --vocab 257 --tied --threads "$THREADS" --steps "$tn" --warmup "$tw" --json
            record torch "$case" "$r" "$OUT/logs/$case-torch$r.out" >/dev/null
            tail -n 1 "$MEAS" | sed 's/^/        /'
        fi
    done
}
speed laptop "$LAPTOP" $LAP_BT $LAP_LW $LAP_LN $LAP_LOG $LAP_TW $LAP_TN
speed large "$LARGE" $BIG_BT $BIG_LW $BIG_LN $BIG_LOG $BIG_TW $BIG_TN

QUALITY_SKIPPED=
if [ -n "$QUICK" ]; then
    QUALITY_SKIPPED="BENCH_QUICK=1"
elif [ "${BENCH_SKIP_QUALITY:-0}" != 0 ]; then
    QUALITY_SKIPPED="BENCH_SKIP_QUALITY=1"
fi
if [ -z "$QUALITY_SKIPPED" ]; then
    echo "bench: [quality] loom train, nanoGPT laptop run: 2000 steps (a few minutes) ..."
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    run quality "$LOOM" train --data "$DATA" --out "$OUT/quality" $LAPTOP \
        --steps 2000 --lr 1e-3 --min-lr 1e-4 --warmup 100 --beta2 0.99 --weight-decay 0.1 --clip 1.0 \
        --eval-every 500 --eval-iters 200 --save-every 0 --threads "$THREADS" --progress plain --val-split 0.1
    t1=$(date +%s.%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    record quality "$OUT/quality" "$wall" | sed 's/^/        /'
else
    echo "bench: [quality] skipped ($QUALITY_SKIPPED)"
fi

echo
echo "loom benchmark$([ -n "$QUICK" ] && echo " (BENCH_QUICK: short runs, noisier)") - threads $THREADS, medians of $REPEATS"
rc=0
BENCH_QUICK=${QUICK:-0} BENCH_THREADS=$THREADS BENCH_QUALITY_SKIPPED=$QUALITY_SKIPPED \
BENCH_TORCH_SKIPPED=$TORCH_SKIPPED BENCH_NOISE_FILE="$OUT/noise.txt" BENCH_LAPTOP_DESC="$LAPTOP" BENCH_LARGE_DESC="$LARGE" \
    "$SYSPY" "$HERE/compare.py" report "$MEAS" "$OUT/results.json" || rc=$?
if [ $rc -gt 1 ]; then echo "bench: FAILED to build the report" >&2; exit 1; fi
echo "results: $OUT/results.json (logs and runs under $OUT/)"
if [ $rc -eq 1 ] && [ "${BENCH_STRICT:-0}" != 0 ]; then
    echo "bench: a goal was missed (BENCH_STRICT=1)" >&2
    exit 1
fi
exit 0
