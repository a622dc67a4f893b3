#!/usr/bin/env bash
# The bad-input matrix: every subcommand x every file argument x {missing, empty, folder, FIFO with
# no writer, /dev/zero, random bytes, a truncated valid file, a valid file of the wrong kind}.
# Each case must end within its time limit with exactly one line on stderr, the documented exit
# status (1: a file or the data is at fault; 2: the command line), no sanitizer report, and nothing
# written where the command would write its output.
# usage: tests/bad_input_matrix.sh PATH/TO/loom
set -u
NAME=matrix
. "$(dirname "$0")/lib.sh" "$@"
need_python
LIMIT=${LOOM_MATRIX_TIMEOUT:-30}
export XDG_CACHE_HOME=$W/cache # eval-image caches its classifier there

# ---- valid inputs of each kind, which the cases then damage
for i in $(seq 1 60); do echo "def f$i(x):"; echo "    return x + $i  # the fox jumps over the dog"; done > text.py
"$LOOM" train --data text.py --out tm --layers 1 --dim 16 --heads 2 --context 16 --batch 2 --steps 2 --threads 1 \
  --eval-every 0 --quiet || { not_ok "train the text model"; finish; exit 1; }
"$LOOM" tokenizer train --data text.py --out tok.bin --vocab-size 300 --quiet || { not_ok "tokenizer"; finish; exit 1; }
pics_py <<'EOF' || { not_ok "write the images"; finish; exit 1; }
from pics import BARS, RINGS, pattern_folder
pattern_folder("pics", {"bars": BARS, "rings": RINGS})
EOF
"$LOOM" train-image --data pics --out im --size 8 --widths 16,32 --batch 2 --diffusion-steps 20 --steps 2 --threads 1 \
  --sample-every 0 --eval-every 0 --quiet || { not_ok "train the image model"; finish; exit 1; }
echo '{"steps": 2}' > config.json
printf 'def broken(:\n    return 1\n' > broken.py # fix loads its model only when there is something to fix
mkdir -p heldout && cp text.py heldout/a.py
TM=tm/model.gguf IM=im/model.gguf

# make_input KIND VALID WRONG PATH: PATH becomes the input of that kind.
make_input() {
    local kind=$1 valid=$2 wrong=$3 p=$4
    rm -rf "$p"
    case $kind in
    missing) ;;
    empty) : > "$p" ;;
    folder) mkdir "$p" ;;
    fifo) mkfifo "$p" ;;
    devzero) ln -s /dev/zero "$p" ;;
    random) head -c 5000 /dev/urandom > "$p" ;;
    truncated) if [ -d "$valid" ]; then mkdir "$p"; else head -c $(( $(stat -c %s "$valid") / 2 )) "$valid" > "$p"; fi ;;
    wrong) cp -r "$wrong" "$p" ;;
    esac
}

# Each row: ARG  VALID  WRONG  KINDS  COMMAND... with X where the damaged input goes and OUT where
# the command writes. KINDS lists the kinds that must fail (the others may succeed: a truncated
# text is still a text, any bytes are a prompt, and an empty file is where complete starts a file).
# The damaged input keeps the valid one's extension (in.py), which some commands go by.
ALL="missing empty folder fifo devzero random truncated wrong"
TEXT="missing empty folder fifo devzero"
ROWS=(
"train--data|text.py|$TM|missing empty folder fifo devzero random wrong|train --data X --out OUT --steps 1 --quiet"
"train--tokenizer-file|tok.bin|$TM|$ALL|train --data text.py --tokenizer-file X --out OUT --steps 1 --quiet"
"train--config|config.json|tok.bin|$ALL|train --data text.py --config X --out OUT --quiet"
"train--resume|tm/checkpoint.bin|im/checkpoint.bin|$ALL|train --data text.py --out OUT --resume --steps 3 --quiet"
"generate-m|$TM|$IM|$ALL|generate -m X -p hi -n 2"
"generate-f|text.py|$TM|$TEXT|generate -m $TM -f X -n 2"
"score-m|$TM|$IM|$ALL|score -m X text.py"
"score-text|text.py|$TM|$TEXT|score -m $TM X"
"tokenizer-train--data|text.py|$TM|missing empty folder fifo devzero random wrong|tokenizer train --data X --vocab-size 280 --out OUT/t.bin --quiet"
"tokenizer-encode-k|tok.bin|$IM|$ALL|tokenizer encode -k X text.py"
"tokenizer-encode-input|text.py|$TM|missing folder fifo devzero|tokenizer encode -k tok.bin X"
"tokenizer-decode-input|text.py|$TM|missing folder fifo devzero random wrong truncated|tokenizer decode -k tok.bin X"
"tokenizer-stats-k|tok.bin|config.json|$ALL|tokenizer stats -k X text.py"
"complete-m|$TM|$IM|$ALL|complete -m X text.py:3 --max-tokens 2"
"complete-src|text.py|$TM|missing folder fifo devzero|complete -m $TM X --max-tokens 2"
"complete--prefix|text.py|$TM|missing folder fifo devzero|complete -m $TM --prefix X --lang python --max-tokens 2"
"fix-m|$TM|$IM|$ALL|fix -m X broken.py"
"fix-src|text.py|$TM|missing folder fifo devzero|fix -m $TM X"
"eval-code-m|$TM|$IM|$ALL|eval-code -m X --data heldout --max-functions 1"
"eval-code--data|heldout|pics|missing empty fifo devzero random wrong|eval-code -m $TM --data X --max-functions 1"
"train-image--data|pics|heldout|missing empty folder fifo devzero random wrong|train-image --data X --out OUT --steps 1 --size 8 --widths 16,32 --quiet"
"train-image--resume|im/checkpoint.bin|tm/checkpoint.bin|$ALL|train-image --data pics --out OUT --resume --steps 3 --quiet"
"imagine-m|$IM|$TM|$ALL|imagine -m X bars -n 1 --steps 2 -o OUT/g.png"
"eval-image-m|$IM|$TM|$ALL|eval-image -m X --data pics --per-label 1 --classifier-epochs 1 --steps 2"
"eval-image--data|pics|heldout|missing empty folder fifo devzero random wrong|eval-image -m $IM --data X --per-label 1 --classifier-epochs 1 --steps 2"
)

cases=0
for row in "${ROWS[@]}"; do
    IFS='|' read -r arg valid wrong kinds cmd <<< "$row"
    for kind in $kinds; do
        cases=$((cases + 1))
        rm -rf in in.* out OUTRUN && mkdir out
        if [ "${arg%--resume}" != "$arg" ]; then
            # the damaged file is the run folder's checkpoint; the rest of the folder is intact
            rm -rf OUTRUN && cp -r "$(dirname "$valid")" OUTRUN && rm -f OUTRUN/checkpoint.bin
            make_input "$kind" "$valid" "$wrong" OUTRUN/checkpoint.bin
            line=${cmd//OUT/OUTRUN}
            before=$(cd OUTRUN && ls -A | sort && find . -maxdepth 1 -type f -exec md5sum {} + | sort)
        else
            in=in; case $valid in *.*) [ -d "$valid" ] || in=in.${valid##*.} ;; esac
            make_input "$kind" "$valid" "$wrong" $in
            line=${cmd//OUT/out/run}
            line=${line//X/$in}
        fi
        # shellcheck disable=SC2086
        timeout -k 5 "$LIMIT" "$LOOM" $line >stdout.txt 2>err.txt </dev/null
        rc=$?
        n=$(awk 'END { print NR }' err.txt)
        want=1
        [ "$arg" = "train--config" ] && want=2 # a --config file is part of the command line
        # --resume with no checkpoint at all: the flag was wrong, not a file
        [ "${arg%--resume}" != "$arg" ] && [ "$kind" = missing ] && want=2
        what="$arg × $kind"
        if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then not_ok "$what: no answer within ${LIMIT}s"
        elif [ $rc -ne $want ]; then not_ok "$what: exit status $rc, want $want" "$(head -3 err.txt)"
        elif sanitizer err.txt; then not_ok "$what: sanitizer report" "$(head -5 err.txt)"
        elif [ "$n" -ne 1 ]; then not_ok "$what: $n lines on stderr" "$(head -5 err.txt)"
        elif [ -n "$(ls -A out 2>/dev/null)" ]; then not_ok "$what: wrote $(cd out && find . | head -3 | tr '\n' ' ')"
        elif [ -d OUTRUN ] && [ "$(cd OUTRUN && ls -A | sort && find . -maxdepth 1 -type f -exec md5sum {} + | sort)" != "$before" ]; then
            not_ok "$what: changed the run folder" "$(ls -A OUTRUN)"
        else ok "$what"; fi
    done
done
echo "# $cases cases"
finish
