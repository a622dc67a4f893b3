#!/usr/bin/env bash
# A kill -9 soak of training: `loom train` (byte tokenizer, then a BPE one) and `loom train-image`
# (a tiny U-Net on generated 8x8 PNGs) are killed with SIGKILL at random moments, KILLS times in
# all (50 by default: 20 byte, 10 BPE, 20 image), and each killed run is continued with --resume
# (which may be killed again) until one runs to the end. Checked:
#   - after every kill, every file left in the run folder loads: checkpoint.bin by a --resume of
#     a copy of the folder (one step, --time-limit), model.gguf by `loom generate -n 1` or
#     `loom imagine -n 1`, tokenizer.bin by `loom tokenizer encode`, the JSON files parse (no
#     NaN), every metrics.jsonl line parses, every PNG decodes (chunk CRCs, zlib, size); and the
#     resumed copy holds no *.tmp.* file any more;
#   - a run resumed to the end equals an uninterrupted reference run with the same flags:
#     model.gguf, loss.png, samples, tokenizer.bin and data.json byte for byte; checkpoint.bin
#     byte for byte except its elapsed-seconds field (8 bytes) and the CRC-32 after it (4);
#     summary.json and every metrics.jsonl line except the timing fields (seconds, elapsed_s,
#     tokens_per_s, images_per_s); the same set of files, none of them *.tmp.*.
# A kill is, 5 times in 8, after a random delay (0 to the reference run's wall time, drawn from
# $RANDOM seeded with SEED, so the plan is reproducible; where it lands also depends on the
# machine's speed), else during a save: at once when the killed run's first *.tmp.PID file shows,
# 0-9 ms after its checkpoint.bin.tmp.PID shows, or at once when a rarer save shows (data.json or
# tokenizer.bin of a fresh text run, a samples/ grid of a fresh image run, loss.png of a resumed
# run: the last file but one a run writes, after its last checkpoint).
# --save-every is small (2 and 3 steps), so that random kills land in saves too; the kills that
# left a *.tmp.PID file are counted as "during a save".
# Ends with one line: interruptions, resumes, mismatches, broken files, stale temporary files,
# errors (a run that failed other than by the kill); exits 1 when any of the last four is not 0,
# keeping its scratch folder for a look. About 3-5 minutes on 2 cores; not part of `make test`.
#
# usage: fuzz/soak.sh PATH/TO/loom [KILLS [SEED]]        (`make soak` runs it on build/loom)
#   text: $LOOM_SHARED/data/tinyshakespeare.txt (../shared), else /usr/share/games/fortunes
#   SOAK_KEEP=1 keeps the scratch folder even when all is well.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=soak
. "$ROOT/tests/lib.sh" "$@"
KILLS=${2:-50}
SEED=${3:-1}
need_python
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} # 2 shared cores: threads must not spin
RANDOM=$SEED
T0=$EPOCHREALTIME

BGPID=
KEEP=${SOAK_KEEP:-0}
cleanup() {
    if [ -n "$BGPID" ]; then kill -9 "$BGPID" 2>/dev/null; wait "$BGPID" 2>/dev/null; fi
    if [ "$KEEP" = 1 ]; then echo "# scratch folder kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

INTERRUPTIONS=0 MIDSAVE=0 RESUMES=0 RESTARTS=0 FINISHED=0 LOADED=0
MISMATCHES=0 BROKEN=0 STALE=0 ERRORS=0

# ---------------------------------------------------------------- inputs
SHARED=${LOOM_SHARED:-$ROOT/../shared}
if [ -f "$SHARED/data/tinyshakespeare.txt" ]; then
    head -c 51200 "$SHARED/data/tinyshakespeare.txt" >text.txt
    TEXT_FROM="the first 50 KB of $SHARED/data/tinyshakespeare.txt"
elif [ -d /usr/share/games/fortunes ]; then
    find /usr/share/games/fortunes -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' | sort | xargs cat | head -c 51200 >text.txt
    TEXT_FROM="the first 50 KB of /usr/share/games/fortunes"
else
    echo "soak: no text: neither $SHARED/data/tinyshakespeare.txt nor /usr/share/games/fortunes (make deps)" >&2
    exit 1
fi
pics_py <<'EOF' || { echo "soak: cannot write the images" >&2; exit 1; }
from pics import BARS, CORNER, RINGS, pattern_folder
pattern_folder("pics", {"bars": BARS, "rings": RINGS, "corner": CORNER}, n=24)
EOF

# The checks that need a parser: soak.py check FILE... (JSON, JSON lines, PNG: one line per
# broken file), soak.py same KIND A B (the final files of two runs, less the timing fields).
cat >soak.py <<'EOF'
import json, struct, sys, zlib

TIMING = {"seconds", "elapsed_s", "tokens_per_s", "images_per_s"}
# checkpoint.bin: magic, version, then fixed fields (src/train/checkpoint.c, ckpt_image.c);
# the offset of elapsed_s (f64) and of the step (i64) in each kind
CKPT = {b"LMCK": {"elapsed": 204, "step": 156}, b"LMCI": {"elapsed": 208, "step": 160}}

def no_nan(c):
    raise ValueError("%s in JSON" % c)

def check_json(path):
    json.load(open(path), parse_constant=no_nan)

def check_jsonl(path):
    data = open(path, "rb").read()
    if data and not data.endswith(b"\n"):
        raise ValueError("last line cut short")
    for i, line in enumerate(data.decode().splitlines(), 1):
        try:
            r = json.loads(line, parse_constant=no_nan)
            if not isinstance(r, dict) or "step" not in r:
                raise ValueError("not a metrics record")
        except ValueError as e:
            raise ValueError("line %d: %s" % (i, e))

def check_png(path):
    b = open(path, "rb").read()
    if b[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("no PNG signature")
    pos, idat, ihdr, end = 8, b"", None, False
    while pos < len(b):
        if pos + 8 > len(b):
            raise ValueError("chunk header cut short")
        n, t = struct.unpack(">I4s", b[pos:pos + 8])
        d = b[pos + 8:pos + 8 + n]
        if len(d) != n or pos + 12 + n > len(b):
            raise ValueError("chunk %r cut short" % t)
        if struct.unpack(">I", b[pos + 8 + n:pos + 12 + n])[0] != zlib.crc32(t + d) & 0xffffffff:
            raise ValueError("bad CRC in chunk %r" % t)
        if t == b"IHDR": ihdr = d
        elif t == b"IDAT": idat += d
        elif t == b"IEND":
            end = pos + 12 + n == len(b)
            break
        pos += 12 + n
    if ihdr is None or not end:
        raise ValueError("no IHDR or no IEND at the end")
    w, h, depth, ctype = struct.unpack(">IIBB", ihdr[:10])
    ch = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    if len(zlib.decompress(idat)) != h * (1 + (w * ch * depth + 7) // 8):
        raise ValueError("pixel data of the wrong size")

def check(files):
    for f in files:
        try:
            if f.endswith(".jsonl"): check_jsonl(f)
            elif f.endswith(".json"): check_json(f)
            elif f.endswith(".png"): check_png(f)
            else: raise ValueError("no check for this file")
        except Exception as e:
            print("%s: %s" % (f, e))

def strip(rec):
    return {k: v for k, v in rec.items() if k not in TIMING}

def same(kind, a, b):
    """Prints why file a (the resumed run's) differs from b (the reference's); nothing if equal."""
    if kind == "checkpoint":
        x, y = open(a, "rb").read(), open(b, "rb").read()
        f = CKPT.get(x[:4])
        if f is None or len(x) != len(y) or x[:4] != y[:4]:
            print("%d bytes (%r) vs %d (%r)" % (len(x), x[:4], len(y), y[:4]))
            return
        e = f["elapsed"]
        diff = [i for i in range(len(x) - 4) if not e <= i < e + 8 and x[i] != y[i]] if x != y else []
        if diff:
            print("%d bytes differ outside elapsed_s and the CRC, the first at offset %d (step %d vs %d)"
                  % (len(diff), diff[0], struct.unpack_from("<q", x, f["step"])[0],
                     struct.unpack_from("<q", y, f["step"])[0]))
    elif kind == "summary":
        x, y = strip(json.load(open(a))), strip(json.load(open(b)))
        if x != y:
            print("summary %s vs %s" % (json.dumps(x), json.dumps(y)))
    elif kind == "metrics":
        x = [strip(json.loads(l)) for l in open(a)]
        y = [strip(json.loads(l)) for l in open(b)]
        if len(x) != len(y):
            print("%d metrics lines vs %d" % (len(x), len(y)))
        else:
            bad = [i for i in range(len(x)) if x[i] != y[i]]
            if bad:
                print("%d metrics lines differ, the first: %s vs %s" % (len(bad), json.dumps(x[bad[0]]), json.dumps(y[bad[0]])))

if __name__ == "__main__":
    if sys.argv[1] == "check": check(sys.argv[2:])
    elif sys.argv[1] == "same": same(*sys.argv[2:5])
    elif sys.argv[1] == "loss": print(json.load(open(sys.argv[2])).get("loss"))
EOF
soakpy() { PYTHONDONTWRITEBYTECODE=1 "$PY" "$W/soak.py" "$@"; }

# ---------------------------------------------------------------- helpers
mkfifo nap.fifo && exec {NAPFD}<>nap.fifo
nap() { read -r -t "$1" -u "$NAPFD" _; } # sleep in-process (no fork): read -t on a silent FIFO
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
rand() { echo $(((RANDOM << 15 | RANDOM) % $1)); } # 0..N-1, from the seeded $RANDOM
running() {                                         # PID not exited (a zombie counts as exited)
    local s
    read -r s 2>/dev/null <"/proc/$1/stat" || return 1
    s=${s##*) }
    [ "${s%% *}" != Z ]
}
tmp_files() { find "$1" -name '*.tmp.*' -printf '%P\n' | sort | tr '\n' ' '; }
declare -A SEEN_STALE
stale() { # WHAT EPISODE FILES...: counts each stale temporary file of an episode once
    local what=$1 ep=$2 f
    shift 2
    for f in "$@"; do
        [ -n "${SEEN_STALE[$ep/$f]:-}" ] && continue
        SEEN_STALE[$ep/$f]=1
        STALE=$((STALE + 1))
        not_ok "$what $f"
    done
}
fail() { # COUNTER MESSAGE [DETAILS]
    eval "$1=\$(($1 + 1))"
    not_ok "$2" "${3:-}"
}

# The scenario in effect: CMD (train or train-image), FLAGS (all but --out, --steps, --resume),
# STEPS, SC (its name).
run_loom() { "$LOOM" "$CMD" "${FLAGS[@]}" --steps "$STEPS" "$@"; }

# check_left DIR PID WHAT: after the kill of PID, every file in DIR must load.
check_left() {
    local d=$1 pid=$2 what=$3 f rc pyfiles=() out
    while IFS= read -r f; do
        case $f in
        *.tmp.*) ;; # a save the kill cut short (or an older one): the resume must remove it
        checkpoint.bin) ;;
        model.gguf)
            if [ "$CMD" = train ]; then
                "$LOOM" generate -m "$d/$f" -p A -n 1 -s 1 -t 1 >load.out 2>load.err
            else
                "$LOOM" imagine -m "$d/$f" bars -n 1 --steps 2 -s 1 -t 1 -q -o imagine.png >load.out 2>load.err
            fi
            rc=$?
            [ $rc -eq 0 ] || fail BROKEN "$what: $f does not load (exit $rc)" "$(cat load.err)" ;;
        tokenizer.bin)
            printf 'To be, or not to be' | "$LOOM" tokenizer encode -k "$d/$f" >load.out 2>load.err
            rc=$?
            [ $rc -eq 0 ] || fail BROKEN "$what: $f does not load (exit $rc)" "$(cat load.err)" ;;
        *.json | *.jsonl | *.png) pyfiles+=("$d/$f") ;;
        *) fail BROKEN "$what: unexpected file $f" ;;
        esac
    done < <(find "$d" -type f -printf '%P\n' | sort)
    if [ ${#pyfiles[@]} -gt 0 ]; then
        out=$(soakpy check "${pyfiles[@]}")
        while IFS= read -r f; do [ -n "$f" ] && fail BROKEN "$what: $f"; done <<<"$out"
    fi
    # the checkpoint: resume a copy of the folder for one step (a finished run's too: --steps + 1)
    [ -f "$d/checkpoint.bin" ] || return 0
    rm -rf chk && cp -a "$d" chk
    local extra=()
    [ "$CMD" = train-image ] && extra=(--sample-every 0)
    "$LOOM" "$CMD" "${FLAGS[@]}" --steps $((STEPS + 1)) --out chk --resume --time-limit 1e-9 "${extra[@]}" \
        --quiet >load.out 2>load.err
    rc=$?
    if [ $rc -ne 0 ]; then
        fail BROKEN "$what: checkpoint.bin does not resume (exit $rc)" "$(cat load.err)"
        cp -a "$d" "keep-broken-$what" 2>/dev/null; KEEP=1
    else
        LOADED=$((LOADED + 1))
        local left
        left=$(tmp_files chk)
        [ -z "$left" ] || stale "$what: a --resume of a copy of the folder leaves" "$d" $left
        [ -z "$left" ] || KEEP=1
    fi
}

# compare_ref DIR WHAT: the run in DIR, finished, equals the reference run ref-$SC.
compare_ref() {
    local d=$1 what=$2 ref=ref-$SC f why left
    left=$(tmp_files "$d")
    [ -z "$left" ] || stale "$what: the resumed run leaves" "$d" $left
    local files='find . -type f ! -name "*.tmp.*" | sort' # (stale temporary files are counted above)
    if [ "$(cd "$d" && eval "$files")" != "$(cd "$ref" && eval "$files")" ]; then
        fail MISMATCHES "$what: other files than the reference run's" \
            "$(diff <(cd "$ref" && eval "$files") <(cd "$d" && eval "$files"))"
    fi
    while IFS= read -r f; do
        [ -f "$d/$f" ] || continue
        case $f in
        checkpoint.bin) why=$(soakpy same checkpoint "$d/$f" "$ref/$f") ;;
        summary.json) why=$(soakpy same summary "$d/$f" "$ref/$f") ;;
        metrics.jsonl) why=$(soakpy same metrics "$d/$f" "$ref/$f") ;;
        *) why=$(cmp "$d/$f" "$ref/$f" 2>&1) ;;
        esac
        if [ -n "$why" ]; then
            fail MISMATCHES "$what: $f differs from the uninterrupted run's" "$why"
            KEEP=1
        fi
    done < <(cd "$ref" && find . -type f -printf '%P\n' | sort)
}

# kill_run PID DIR REF_MS MODE: kills loom (PID, writing to DIR) with SIGKILL, 5 times in 8 after a
# random delay (0 to REF_MS, the reference run's wall time), else during a save: at once when the
# first *.tmp.PID file shows in DIR or DIR/samples, or 0-9 ms after DIR/checkpoint.bin.tmp.PID
# shows (its save takes some 10-20 ms), or at once when the scenario's rarer save shows: RARE_FRESH
# or RARE_RESUME (by MODE), a glob with @ for the PID. Sets HOW. A run that ends first is not
# killed.
kill_run() {
    local pid=$1 d=$2 ref_ms=$3 mode=$4 kind delay extra=0 globs g deadline
    kind=$(rand 8)
    if [ "$kind" -ge 3 ]; then
        delay=$(rand "$ref_ms")
        nap "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
        HOW="after $delay ms"
    else
        case $kind in
        0) globs=("$d/*.tmp.$pid" "$d/samples/*.tmp.$pid") ;;
        1) globs=("$d/checkpoint.bin.tmp.$pid")
           extra=$(rand 10) ;;
        2) if [ "$mode" = fresh ]; then g=$RARE_FRESH; else g=$RARE_RESUME; fi
           globs=("$d/${g/@/$pid}") ;;
        esac
        # builtins only in the loop: a fork a millisecond would slow the run it watches
        deadline=$((${EPOCHREALTIME/./} + (2 * ref_ms + 2000) * 1000))
        while running "$pid" && [ "${EPOCHREALTIME/./}" -lt $deadline ]; do
            for g in "${globs[@]}"; do compgen -G "$g" >/dev/null && break 2; done
            nap 0.001
        done
        nap "0.00$extra"
        g=${globs[0]#"$d"/}
        HOW="once ${g/$pid/PID} showed, +$extra ms"
    fi
    kill -9 "$pid" 2>/dev/null
}

# soak QUOTA: kill runs of the scenario QUOTA times, each episode a fresh run in its own folder
# resumed until it finishes.
soak() {
    local quota=$1 kills=0 ep=0 ref_ms t rc pid d mode left from at
    # the reference run, uninterrupted, and how long it takes
    t=$(now_ms)
    run_loom --out "ref-$SC" --progress plain >"ref-$SC.log" 2>&1
    rc=$?
    ref_ms=$(($(now_ms) - t))
    if [ $rc -ne 0 ]; then
        fail ERRORS "$SC: the reference run failed (exit $rc)" "$(tail -n 5 "ref-$SC.log")"
        return
    fi
    echo "# $SC: reference run of $STEPS steps in ${ref_ms} ms, final loss $(soakpy loss "ref-$SC/summary.json")"
    while [ $kills -lt "$quota" ] && [ $ep -lt $((4 * quota)) ]; do
        ep=$((ep + 1))
        d=$SC-$ep
        mode=fresh
        local history=""
        while :; do
            HOW=""
            local resume=()
            if [ $mode = resume ]; then
                RESUMES=$((RESUMES + 1))
                resume=(--resume)
            fi
            # loom itself in the background (not a function, which would be a subshell): $! is its PID
            "$LOOM" "$CMD" "${FLAGS[@]}" --steps "$STEPS" --out "$d" "${resume[@]}" --progress plain >"$d.log" 2>&1 &
            pid=$!
            BGPID=$pid
            [ $kills -lt "$quota" ] && kill_run $pid "$d" $ref_ms $mode
            wait $pid 2>/dev/null # (no "Killed" message)
            rc=$?
            BGPID=
            from=$(sed -n 's/^loom: resuming from step \([0-9]*\) .*/\1/p' "$d.log")
            if [ $rc -eq 137 ]; then
                kills=$((kills + 1))
                INTERRUPTIONS=$((INTERRUPTIONS + 1))
                left=$(find "$d" -name "*.tmp.$pid" -printf '%P\n' | sort | tr '\n' ' ')
                left=${left% }
                [ -n "$left" ] && MIDSAVE=$((MIDSAVE + 1))
                history="$history ${mode}${from:+ from $from} killed $HOW${left:+ (left $left)};"
                at=$(tail -n 1 "$d/metrics.jsonl" 2>/dev/null | sed -n 's/^{"step":\([0-9]*\),.*/\1/p')
                echo "# kill $INTERRUPTIONS: $SC-$ep, $mode${from:+ from step $from}, killed $HOW," \
                    "after step ${at:-0}${left:+, mid-save: left $left}"
                check_left "$d" $pid "kill $INTERRUPTIONS ($SC-$ep)"
                if [ -f "$d/checkpoint.bin" ]; then mode=resume; else
                    mode=fresh
                    RESTARTS=$((RESTARTS + 1))
                fi
            elif [ $rc -eq 0 ]; then
                FINISHED=$((FINISHED + 1))
                history="$history ${mode}${from:+ from $from} to the end"
                compare_ref "$d" "$SC-$ep"
                echo "# $SC-$ep:$history: final loss $(soakpy loss "$d/summary.json")"
                rm -rf "$d" chk
                break
            else
                KEEP=1
                if grep -q 'steps already' "$d.log"; then
                    # killed after its last checkpoint, in its final writes: --resume will not finish
                    # it; what it left, against the reference
                    fail ERRORS "$SC-$ep: --resume refuses to finish a run killed after its last checkpoint" \
                        "$(tail -n 5 "$d.log"; echo "after:$history")"
                    compare_ref "$d" "$SC-$ep"
                else
                    fail ERRORS "$SC-$ep: $mode${from:+ from step $from} failed (exit $rc) after:$history" \
                        "$(tail -n 5 "$d.log")"
                fi
                break
            fi
        done
    done
}

# ---------------------------------------------------------------- the scenarios
echo "# text: $TEXT_FROM; images: 72 generated 8x8 PNGs, 3 labels; seed $SEED, $KILLS kills"
Q_BYTE=$((KILLS * 2 / 5)) Q_BPE=$((KILLS / 5))
Q_IMAGE=$((KILLS - Q_BYTE - Q_BPE))
TEXT_FLAGS=(--data text.txt --layers 2 --dim 128 --heads 4 --context 64 --batch 8 --threads 1 --save-every 2
    --log-every 1 --eval-every 25 --eval-iters 2 --seed 11)

CMD=train SC=byte STEPS=100 FLAGS=("${TEXT_FLAGS[@]}") RARE_FRESH=data.json.tmp.@ RARE_RESUME=loss.png.tmp.@
soak $Q_BYTE
CMD=train SC=bpe STEPS=80 FLAGS=("${TEXT_FLAGS[@]}" --tokenizer bpe --vocab-size 512)
RARE_FRESH=tokenizer.bin.tmp.@ RARE_RESUME=loss.png.tmp.@
soak $Q_BPE
CMD=train-image SC=image STEPS=200 RARE_FRESH=samples/*.tmp.@ RARE_RESUME=loss.png.tmp.@
FLAGS=(--data pics --size 8 --widths 16,32 --batch 8 --diffusion-steps 50 --threads 1 --save-every 3
    --sample-every 40 --eval-every 20 --log-every 1 --seed 7)
soak $Q_IMAGE

secs=$(($(now_ms) / 1000 - ${T0%.*}))
[ $INTERRUPTIONS -ge "$KILLS" ] || fail ERRORS "only $INTERRUPTIONS interruptions of $KILLS"
echo "soak: $INTERRUPTIONS interruptions ($MIDSAVE during a save), $RESUMES resumes, $RESTARTS fresh restarts," \
    "$FINISHED runs to the end, $LOADED checkpoints loaded; $MISMATCHES mismatches, $BROKEN broken files," \
    "$STALE stale temp files, $ERRORS errors in $((secs / 60))m$((secs % 60))s"
[ $((MISMATCHES + BROKEN + STALE + ERRORS)) -eq 0 ] || { KEEP=1; exit 1; }
