#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for a while.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]    (default 300 s each, all targets)
#   fuzz/run.sh --seeds                             (rewrite the seed corpora in fuzz/corpus/)
#
# Targets: bpe_load (loom's tokenizer file reader, lm_bpe_load_mem), hf_json (Hugging Face
# tokenizer.json, lm_bpe_load_hf_json_mem), tiktoken (tiktoken rank files, plain and JSON).
# Each accepted input is also encoded and checked for an exact round trip.
# Needs clang with libFuzzer (clang 14 and libclang-rt-14-dev here), libpcre2-dev, libjson-c-dev.
# Inputs found while fuzzing go to fuzz/build/corpus/<target> (the seeds in fuzz/corpus/ are
# only read); a crash, leak or timeout leaves fuzz/build/artifacts/<target>/crash-* and makes
# the script exit 1. Reproduce one with: fuzz/build/fuzz_<target> fuzz/build/artifacts/<target>/crash-...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CC=${CLANG:-$(command -v clang-14 || command -v clang || true)}
[ -n "$CC" ] || { echo "run.sh: clang not found (set CLANG=...)" >&2; exit 2; }
B=fuzz/build
mkdir -p "$B"
SRC=(src/util/error.c src/util/io.c src/data/bpe*.c)
# other files the core may come to need are picked up if they exist
for f in src/util/crc32.c; do [ -f "$f" ] && SRC+=("$f"); done
LIBS=(-lpcre2-8 -ljson-c -lz -lm)
FLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -Iinclude -Isrc -Ifuzz)

if [ "${1:-}" = "--seeds" ]; then
    "$CC" "${FLAGS[@]}" -fsanitize=address,undefined "${SRC[@]}" fuzz/make_seeds.c "${LIBS[@]}" -o "$B/make_seeds"
    rm -rf fuzz/corpus/bpe_load fuzz/corpus/hf_json fuzz/corpus/tiktoken
    "$B/make_seeds" fuzz/corpus
    exit 0
fi

SECS=${1:-300}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(bpe_load hf_json tiktoken)

status=0
for t in "${TARGETS[@]}"; do
    [ -f "fuzz/fuzz_$t.c" ] || { echo "run.sh: no target '$t'" >&2; exit 2; }
    echo "== building fuzz_$t"
    "$CC" "${FLAGS[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        "${SRC[@]}" "fuzz/fuzz_$t.c" "${LIBS[@]}" -o "$B/fuzz_$t"
    mkdir -p "$B/corpus/$t" "$B/artifacts/$t"
    dict=(); [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
    echo "== fuzz_$t for ${SECS}s (seeds: fuzz/corpus/$t)"
    if ! UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        "$B/fuzz_$t" "$B/corpus/$t" "fuzz/corpus/$t" "${dict[@]}" -max_total_time="$SECS" -timeout=25 \
        -rss_limit_mb=3072 -malloc_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$B/artifacts/$t/" >"$B/$t.log" 2>&1; then
        echo "FINDING in fuzz_$t: see $B/$t.log and $B/artifacts/$t/"
        grep -E 'ERROR|SUMMARY|runtime error|fuzz:' "$B/$t.log" | head -n 10
        status=1
    else
        runs=$(grep -Eo 'number_of_executed_units: *[0-9]+' "$B/$t.log" | grep -Eo '[0-9]+$')
        rss=$(grep -Eo 'peak_rss_mb: *[0-9]+' "$B/$t.log" | grep -Eo '[0-9]+$')
        echo "ok - fuzz_$t: no finding in ${SECS}s (${runs:-?} runs, $(grep -Eo 'cov: [0-9]+' "$B/$t.log" | tail -n1), peak RSS ${rss:-?} MB)"
    fi
done
exit $status
