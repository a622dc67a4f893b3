#!/usr/bin/env bash
# End-to-end checks of `loom train`: bad input gives one clear error line and a status of
# 1 or 2 (never a crash), and a run killed with SIGKILL resumes to the very same model.
#
# usage: tests/cli_test.sh PATH/TO/loom     (ctest passes the built binary; it may be an
# ASan/UBSan build, so every run here is a tiny model and a few steps)
set -u

LOOM=${1:?usage: cli_test.sh PATH/TO/loom}
case $LOOM in /*) ;; *) LOOM=$PWD/$LOOM ;; esac
if [ ! -x "$LOOM" ]; then
    echo "not ok - loom binary '$LOOM' is not executable"
    echo "0 passed, 1 failed"
    exit 1
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/loom_cli_test.XXXXXX") || exit 1
BGPID=
cleanup() {
    if [ -n "$BGPID" ]; then kill -9 "$BGPID" 2>/dev/null; fi
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$W" || exit 1

PASS=0
FAIL=0
ok() {
    echo "ok - $1"
    PASS=$((PASS + 1))
}
not_ok() { # NAME [DETAILS]
    echo "not ok - $1"
    FAIL=$((FAIL + 1))
    if [ -n "${2:-}" ]; then printf '%s\n' "$2" | head -n 20 | sed 's/^/#   /'; fi
}
nlines() { awk 'END { print NR }' "$1"; } # counts a last line without a newline too
sanitizer_report() { grep -q -e 'Sanitizer' -e 'runtime error' "$1"; }

# the smallest model there is: runs in milliseconds, even under a sanitizer
TINY=(--layers 1 --dim 16 --heads 2 --context 8 --batch 2 --threads 1)

# expect_error NAME KEYWORD ARGS...: `loom train ARGS` must fail with status 1 or 2 and
# exactly one line on stderr that mentions KEYWORD (case-insensitive).
expect_error() {
    local name=$1 key=$2
    shift 2
    "$LOOM" train "$@" >out.txt 2>err.txt
    local rc=$? n
    n=$(nlines err.txt)
    if [ "$rc" -ne 1 ] && [ "$rc" -ne 2 ]; then
        not_ok "$name: exit status $rc, want 1 or 2" "$(cat err.txt)"
    elif sanitizer_report err.txt; then
        not_ok "$name: sanitizer report" "$(cat err.txt)"
    elif [ "$n" -ne 1 ]; then
        not_ok "$name: $n lines on stderr, want 1" "$(cat err.txt)"
    elif ! grep -qi -e "$key" err.txt; then
        not_ok "$name: error does not mention '$key'" "$(cat err.txt)"
    else
        ok "$name"
    fi
}

# expect_success NAME ARGS...: `loom train ARGS` must exit 0 with no sanitizer report.
expect_success() {
    local name=$1
    shift
    "$LOOM" train "$@" >out.txt 2>err.txt
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        not_ok "$name: exit status $rc, want 0" "$(cat err.txt)"
        return 1
    elif sanitizer_report err.txt; then
        not_ok "$name: sanitizer report" "$(cat err.txt)"
        return 1
    fi
    ok "$name"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
# the value of "loss" (as written, not as a float) in a pretty-printed summary.json
summary_loss() { grep -o '"loss": *[^,}]*' "$1" | head -n 1 | sed 's/"loss": *//'; }
summary_steps() { grep -o '"steps": *[0-9]*' "$1" | head -n 1 | sed 's/"steps": *//'; }
# "STEP LOSS" per line of metrics.jsonl, both as written
step_losses() { sed -n 's/.*"step":\([0-9]*\),"loss":\([^,}]*\).*/\1 \2/p' "$1"; }

# ---------------------------------------------------------------- test data
words=(the quick brown fox jumps over a lazy dog while seven wise owls watch from an old oak tree)
for i in $(seq 1 120); do
    a=${words[$((i % 19))]} b=${words[$((i * 7 % 19))]} c=${words[$((i * 11 % 19))]}
    echo "Sentence $i: the $a and the $b went to see the $c, and nobody was surprised at all."
done >corpus.txt
head -c 50 corpus.txt >small.txt
: >empty.txt
mkdir empty_dir bin_dir mixed_dir
{ head -c 2048 /dev/urandom; printf '\0'; } >binary.dat
cp binary.dat bin_dir/blob.dat
cp corpus.txt mixed_dir/a.txt
cp binary.dat mixed_dir/blob.bin
head -c 3000 corpus.txt >mixed_dir/b.txt
{ head -c 2000 corpus.txt; printf 'caf\xff\xfe broken \xc3( utf-8\n'; head -c 2000 corpus.txt; } >bad_utf8.txt

# ---------------------------------------------------------------- bad --data
expect_error "missing --data file" "not found" --data no_such_file.txt --out o "${TINY[@]}" --steps 2
expect_error "empty --data file" "empty" --data empty.txt --out o "${TINY[@]}" --steps 2
expect_error "--data folder with no files" "no files" --data empty_dir --out o "${TINY[@]}" --steps 2
expect_error "--data folder with only a binary file" "no text files" --data bin_dir --out o "${TINY[@]}" --steps 2
expect_error "--data a binary file" "binary" --data binary.dat --out o "${TINY[@]}" --steps 2
if [ -f /bin/ls ]; then
    expect_error "--data /bin/ls" "binary" --data /bin/ls --out o "${TINY[@]}" --steps 2
fi
expect_error "--context longer than the corpus" "context" --data small.txt --out o --layers 1 --dim 16 --heads 2 \
    --context 64 --steps 2

# ---------------------------------------------------------------- bad flags
expect_error "unknown flag" "frobnicate" --data corpus.txt --out o "${TINY[@]}" --frobnicate
expect_error "--steps abc" "steps" --data corpus.txt --out o "${TINY[@]}" --steps abc
expect_error "--lr x" "lr" --data corpus.txt --out o "${TINY[@]}" --lr x
expect_error "--layers 0" "layers" --data corpus.txt --out o "${TINY[@]}" --layers 0
expect_error "--layers -3" "layers" --data corpus.txt --out o "${TINY[@]}" --layers -3
expect_error "--dim 1e3" "dim" --data corpus.txt --out o "${TINY[@]}" --dim 1e3
expect_error "--steps without a value" "needs a value" --data corpus.txt --out o "${TINY[@]}" --steps
expect_error "--heads not dividing --dim" "must divide" --data corpus.txt --out o --layers 1 --dim 16 --heads 3 \
    --context 8 --batch 2 --threads 1 --steps 2
expect_error "--kv-heads not dividing --heads" "kv-heads" --data corpus.txt --out o --layers 1 --dim 16 --heads 4 \
    --kv-heads 3 --context 8 --batch 2 --threads 1 --steps 2
expect_error "missing --out" "out" --data corpus.txt "${TINY[@]}" --steps 2
expect_error "stray positional argument" "unexpected argument" --data corpus.txt --out o "${TINY[@]}" stray
expect_error "--progress nonsense" "progress" --data corpus.txt --out o "${TINY[@]}" --progress nonsense

# ---------------------------------------------------------------- --config
echo 'layers = 4' >cfg_not_json.json
printf '{"steps": 3} trailing words' >cfg_trailing.json
echo '{"steps": 3, "frobnicate": 1}' >cfg_unknown.json
echo '{"layers": [1]}' >cfg_type.json
expect_error "--config not JSON" "JSON" --data corpus.txt --out o "${TINY[@]}" --config cfg_not_json.json
expect_error "--config with text after the object" "JSON" --data corpus.txt --out o "${TINY[@]}" \
    --config cfg_trailing.json
expect_error "--config unknown key" "frobnicate" --data corpus.txt --out o "${TINY[@]}" --config cfg_unknown.json
expect_error "--config wrong type" "layers" --data corpus.txt --out o "${TINY[@]}" --config cfg_type.json
expect_error "--config missing file" "cfg_missing.json" --data corpus.txt --out o "${TINY[@]}" --config cfg_missing.json

cat >cfg_good.json <<'EOF'
{
  "layers": 1, "dim": 16, "heads": 2, "context": 8, "batch": 2, "threads": 1,
  "steps": 3, "log_every": 1, "quiet": true
}
EOF
if expect_success "--config values are used" --data corpus.txt --out cfg_run --config cfg_good.json; then
    s=$(summary_steps cfg_run/summary.json) n=$(nlines cfg_run/metrics.jsonl)
    if [ "$s" = 3 ] && [ "$n" = 3 ]; then ok "--config steps: 3 gives 3 steps"; else
        not_ok "--config steps: 3 gives 3 steps (summary steps '$s', $n metrics lines)"
    fi
fi
if expect_success "--config with a flag beside it" --data corpus.txt --out cfg_run2 --config cfg_good.json \
    --steps 5; then
    s=$(summary_steps cfg_run2/summary.json)
    if [ "$s" = 5 ]; then ok "a command-line flag overrides --config"; else
        not_ok "a command-line flag overrides --config (summary steps '$s', want 5)"
    fi
fi
if expect_success "a --quiet run" --data corpus.txt --out quiet_run "${TINY[@]}" --steps 3 --log-every 1 --quiet; then
    if [ "$(nlines err.txt)" -eq 0 ] && [ "$(nlines out.txt)" -eq 0 ]; then ok "--quiet prints nothing on success"; else
        not_ok "--quiet prints nothing on success" "$(cat out.txt err.txt)"
    fi
fi

# ---------------------------------------------------------------- odd but acceptable data
if expect_success "folder of text with a binary file trains" --data mixed_dir --out mixed_run "${TINY[@]}" \
    --steps 2 --progress plain; then
    if grep -i 'warning' err.txt | grep -q 'blob.bin'; then ok "the skipped binary file is named in a warning"; else
        not_ok "the skipped binary file is named in a warning" "$(cat err.txt)"
    fi
fi
expect_success "invalid UTF-8 text trains" --data bad_utf8.txt --out utf8_run "${TINY[@]}" --steps 2 --quiet

# ---------------------------------------------------------------- bad --resume
expect_error "--resume with no checkpoint" "nothing to resume" --data corpus.txt --out no_ckpt "${TINY[@]}" \
    --steps 2 --resume
if expect_success "a short run to resume from" --data corpus.txt --out rr "${TINY[@]}" --steps 4 --quiet; then
    cp rr/checkpoint.bin good.ckpt
    model_sha=$(sha rr/model.gguf)
    size=$(stat -c %s good.ckpt)
    check_bad_ckpt() { # NAME KEYWORD: rr/checkpoint.bin has been damaged
        expect_error "--resume with $1" "$2" --data corpus.txt --out rr "${TINY[@]}" --steps 6 --resume
        if [ "$(sha rr/model.gguf)" = "$model_sha" ]; then ok "model.gguf untouched after --resume with $1"; else
            not_ok "model.gguf untouched after --resume with $1"
        fi
    }
    # flip 16 bytes in the middle
    cp good.ckpt rr/checkpoint.bin
    printf '\xde\xad\xbe\xef%.0s' 1 2 3 4 | dd of=rr/checkpoint.bin bs=1 seek=$((size / 2)) conv=notrunc status=none
    check_bad_ckpt "a corrupted checkpoint" "corrupt"
    cp good.ckpt rr/checkpoint.bin
    truncate -s $((size / 2)) rr/checkpoint.bin
    check_bad_ckpt "a truncated checkpoint" "truncated"
    : >rr/checkpoint.bin
    check_bad_ckpt "an empty checkpoint" "checkpoint"
    cp good.ckpt rr/checkpoint.bin
    expect_error "--resume with a different --dim" "differs" --data corpus.txt --out rr --dim 32 --steps 6 --resume
fi

# ---------------------------------------------------------------- resume after SIGKILL is exact
STEPS=40
RUN=(--data corpus.txt --layers 1 --dim 16 --heads 2 --context 8 --batch 2 --threads 2 --steps $STEPS
    --save-every 5 --log-every 1 --eval-every 10 --eval-iters 2 --quiet)
expect_success "run A: $STEPS steps uninterrupted" "${RUN[@]}" --out A
cp err.txt errA.txt

# Run B is the same command, frozen with SIGSTOP and let run in short slices, so that the
# kill lands mid-run however fast or slow (sanitizers) the machine is.
mkdir B
"$LOOM" train "${RUN[@]}" --out B >/dev/null 2>errB.txt &
BGPID=$!
kill -STOP "$BGPID" 2>/dev/null
killed_at=-1
t0=$SECONDS
while [ $((SECONDS - t0)) -lt 40 ]; do
    kill -CONT "$BGPID" 2>/dev/null
    sleep 0.005
    kill -STOP "$BGPID" 2>/dev/null
    n=0
    [ -f B/metrics.jsonl ] && n=$(nlines B/metrics.jsonl)
    if [ -f B/summary.json ] || [ "$n" -ge $STEPS ]; then break; fi # finished: too late
    if [ -f B/checkpoint.bin ] && [ "$n" -ge 10 ]; then
        kill -KILL "$BGPID" 2>/dev/null
        killed_at=$n
        break
    fi
done
if [ "$killed_at" -lt 0 ]; then kill -KILL "$BGPID" 2>/dev/null; fi
wait "$BGPID" 2>/dev/null
b_status=$?
dead_pid=$BGPID
BGPID=
if [ "$killed_at" -ge 10 ] && [ "$killed_at" -lt $STEPS ] && [ "$b_status" -eq 137 ] && [ ! -f B/summary.json ]; then
    ok "run B killed with SIGKILL mid-run (at $killed_at of $STEPS metrics lines)"
else
    not_ok "run B killed with SIGKILL mid-run (metrics lines at kill: $killed_at, status $b_status)" "$(cat errB.txt)"
fi
# What a kill during a save leaves behind, whether or not this one did.
[ -e "B/model.gguf.tmp.$dead_pid" ] || echo "partial" >"B/model.gguf.tmp.$dead_pid"

if expect_success "run B resumed with --resume" "${RUN[@]}" --out B --resume; then
    la=$(summary_loss A/summary.json) lb=$(summary_loss B/summary.json)
    if [ -n "$la" ] && [ "$la" = "$lb" ]; then ok "final loss of A and resumed B identical ($la)"; else
        not_ok "final loss of A and resumed B identical (A '$la', B '$lb')"
    fi
    step_losses A/metrics.jsonl >lossA.txt
    step_losses B/metrics.jsonl >lossB.txt
    if [ "$(nlines lossA.txt)" -eq $STEPS ] && cmp -s lossA.txt lossB.txt; then
        ok "per-step losses of A and resumed B identical for all $STEPS steps"
    else
        not_ok "per-step losses of A and resumed B identical for all $STEPS steps" \
            "$(diff lossA.txt lossB.txt | head -n 10)"
    fi
    if cmp -s A/model.gguf B/model.gguf; then ok "model.gguf of A and resumed B byte-identical"; else
        not_ok "model.gguf of A and resumed B byte-identical"
    fi
    left=$(find B -name '*.tmp.*')
    if [ -z "$left" ]; then ok "no *.tmp.* file left in B after the resumed run"; else
        not_ok "no *.tmp.* file left in B after the resumed run" "$left"
    fi
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
