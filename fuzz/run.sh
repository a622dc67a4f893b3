#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for a while.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]    (default 300 s each, all targets, one at a time)
#   fuzz/run.sh --build [TARGET...]                 (build only)
#   fuzz/run.sh --seeds                             (rewrite the seed corpora in fuzz/corpus/)
#
# Targets (fuzz/fuzz_<target>.c, seeds in fuzz/corpus/<target>/):
#   bpe_load      loom's tokenizer file reader (lm_bpe_load_mem), CRC recomputed on a copy
#   hf_json       Hugging Face tokenizer.json (lm_bpe_load_hf_json_mem)
#   tiktoken      tiktoken rank files, plain and JSON (lm_bpe_load_tiktoken_mem)
#                 (each accepted tokenizer also encodes and is checked for an exact round trip)
#   gguf          the GGUF reader (lm_gguf_open_mem) through model loading: lm_llama_from_gguf,
#                 lm_tokenizer_from_gguf, lm_unet_from_gguf, lm_classifier_from_gguf; a small
#                 accepted llama model runs a forward pass, a small classifier classifies
#   checkpoint    training checkpoints, text (lm_ckpt_peek_mem/load_mem) and image
#                 (lm_ckpt_image_peek_mem/load_mem), CRC recomputed on a copy
#   png           the PNG decoder (lm_png_read_mem) to 1, 3 and 4 channels
#   image_folder  PNG and JPEG through lm_images_load on a folder (probe, decode, resize)
#   idx           IDX files, plain and gzip'ed (lm_idx_read, and lm_images_load on the pair)
#   config        the --config JSON reader (lm_args_config_mem) with loom train's options
#   runlog        the metrics.jsonl reader of a resumed run (lm_runlog_reload_mem)
# image_folder and idx write each input to a scratch folder in /dev/shm (their readers take paths).
#
# The library (all of src/ but the CLI's main.c) is compiled once into fuzz/build/libloom.a with
# coverage and ASan/UBSan (FUZZ_BUILD names another folder), recompiled only where a source or
# header changed; FUZZ_JOBS compilers run at once (default 2). Needs clang with libFuzzer (clang 14
# and libclang-rt-14-dev here), libomp-dev, and the libraries loom builds with (pcre2, json-c,
# libpng, libjpeg, zlib, OpenBLAS).
# Inputs found while fuzzing go to fuzz/build/corpus/<target> (the seeds in fuzz/corpus/ are
# only read); a crash, leak or timeout leaves fuzz/build/artifacts/<target>/crash-* and makes
# the script exit 1. Reproduce one with: fuzz/build/fuzz_<target> fuzz/build/artifacts/<target>/crash-...
# The log of a run is fuzz/build/<target>.log; its last lines are libFuzzer's final stats.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CC=${CLANG:-$(command -v clang-14 || command -v clang || true)}
[ -n "$CC" ] || { echo "run.sh: clang not found (set CLANG=...)" >&2; exit 2; }
B=${FUZZ_BUILD:-fuzz/build} # another folder keeps a second build apart (e.g. while a run goes on)
JOBS=${FUZZ_JOBS:-2}
mkdir -p "$B/obj"
ALL_TARGETS=(bpe_load hf_json tiktoken gguf checkpoint png image_folder idx config runlog)

INC=(-Iinclude -Isrc -Ifuzz)
BLAS_INC=/usr/include/x86_64-linux-gnu/openblas-openmp
[ -d "$BLAS_INC" ] && INC+=(-I"$BLAS_INC")
FLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -fopenmp -Wno-pass-failed "${INC[@]}")
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
LIBS=(-fopenmp $(pkg-config --libs libpcre2-8 json-c libpng libjpeg) -lopenblas -lz -lm)

# The library, compiled with coverage for the fuzzer (fuzzer-no-link) and the sanitizers. An
# object is rebuilt when its source, or any header, is newer.
build_lib() {
    local newest_h obj todo=()
    newest_h=$(find src include -name '*.h' -printf '%T@ %p\n' | sort -n | tail -n1 | cut -d' ' -f2)
    while IFS= read -r f; do
        obj="$B/obj/$(echo "${f#src/}" | tr / _).o"
        if [ ! -f "$obj" ] || [ "$f" -nt "$obj" ] || [ "$newest_h" -nt "$obj" ]; then todo+=("$f"); fi
    done < <(find src -name '*.c' ! -path src/cli/main.c | sort)
    if [ ${#todo[@]} -gt 0 ]; then
        echo "== compiling ${#todo[@]} library sources (-j$JOBS)"
        local running=0 failed=0
        for f in "${todo[@]}"; do
            obj="$B/obj/$(echo "${f#src/}" | tr / _).o"
            ( "$CC" "${FLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer-no-link -c "$f" -o "$obj" || { rm -f "$obj"; exit 1; } ) &
            running=$((running + 1))
            if [ $running -ge "$JOBS" ]; then wait -n || failed=1; running=$((running - 1)); fi
        done
        while [ $running -gt 0 ]; do wait -n || failed=1; running=$((running - 1)); done
        [ $failed = 0 ] || { echo "run.sh: the library did not compile" >&2; exit 2; }
        rm -f "$B/libloom.a"
    fi
    [ -f "$B/libloom.a" ] || ar rcs "$B/libloom.a" "$B"/obj/*.o
}

build_target() {
    local t=$1
    [ -f "fuzz/fuzz_$t.c" ] || { echo "run.sh: no target '$t'" >&2; exit 2; }
    echo "== building fuzz_$t"
    "$CC" "${FLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer "fuzz/fuzz_$t.c" "$B/libloom.a" "${LIBS[@]}" -o "$B/fuzz_$t"
}

if [ "${1:-}" = "--seeds" ]; then
    build_lib
    "$CC" "${FLAGS[@]}" "${SAN[@]}" fuzz/make_seeds.c "$B/libloom.a" "${LIBS[@]}" -o "$B/make_seeds"
    # regression inputs (regress-*) stay; the rest is rewritten
    find fuzz/corpus -type f ! -name 'regress-*' -delete
    OMP_NUM_THREADS=1 "$B/make_seeds" fuzz/corpus
    exit 0
fi

if [ "${1:-}" = "--build" ]; then
    shift
    TARGETS=("$@")
    [ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
    build_lib
    for t in "${TARGETS[@]}"; do build_target "$t"; done
    exit 0
fi

SECS=${1:-300}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
build_lib

status=0
for t in "${TARGETS[@]}"; do
    build_target "$t"
    mkdir -p "$B/corpus/$t" "$B/artifacts/$t"
    extra=()
    [ -f "fuzz/$t.dict" ] && extra+=(-dict="fuzz/$t.dict")
    # the --config reader prints its errors (one line per input) to stderr; libFuzzer keeps its
    # own reports and the sanitizers' on a copy of stderr
    [ "$t" = config ] && extra+=(-close_fd_mask=2)
    # a decoded PNG takes at most 1 GiB (png.c's LM_PNG_MAX_BYTES), so anything much larger in
    # that target is a header's claim believed (regress-huge-text-chunk.png: 1.3 GB for 100 bytes)
    mlimit=2048
    [ "$t" = png ] && mlimit=1100
    echo "== fuzz_$t for ${SECS}s (seeds: fuzz/corpus/$t)"
    if ! OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        "$B/fuzz_$t" "$B/corpus/$t" "fuzz/corpus/$t" "${extra[@]}" -max_total_time="$SECS" -timeout=25 \
        -rss_limit_mb=3072 -malloc_limit_mb=$mlimit -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$B/artifacts/$t/" >"$B/$t.log" 2>&1; then
        echo "FINDING in fuzz_$t: see $B/$t.log and $B/artifacts/$t/"
        grep -E 'ERROR|SUMMARY|runtime error|fuzz:' "$B/$t.log" | head -n 10
        status=1
    else
        runs=$(grep -Eo 'number_of_executed_units: *[0-9]+' "$B/$t.log" | grep -Eo '[0-9]+$')
        rss=$(grep -Eo 'peak_rss_mb: *[0-9]+' "$B/$t.log" | grep -Eo '[0-9]+$')
        echo "ok - fuzz_$t: no finding in ${SECS}s (${runs:-?} runs, $(grep -Eo 'cov: [0-9]+' "$B/$t.log" | tail -n1), corpus $(ls "$B/corpus/$t" | wc -l) files, peak RSS ${rss:-?} MB)"
    fi
done
exit $status
