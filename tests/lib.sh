# Shared by the end-to-end test scripts: a scratch folder, TAP-like "ok - ..." lines, the
# one-line-error check, python3 for the image tests' inputs, and the closing "N passed, M failed"
# line ctest's reader expects.
# A script sets NAME, then: . "$(dirname "$0")/lib.sh" "$@"   (its first argument: the loom binary)

LOOM=${1:?usage: $0 PATH/TO/loom}
case $LOOM in /*) ;; *) LOOM=$PWD/$LOOM ;; esac
TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # this folder (tests/pics.py), before the cd below
W=$(mktemp -d "${TMPDIR:-/tmp}/loom_${NAME:-test}.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1
PASS=0
FAIL=0
ok() { echo "ok - $1"; PASS=$((PASS + 1)); }
not_ok() { echo "not ok - $1"; FAIL=$((FAIL + 1)); [ -n "${2:-}" ] && printf '%s\n' "$2" | head -n 10 | sed 's/^/#   /'; }
sanitizer() { grep -q -e Sanitizer -e 'runtime error' "$1"; }

# expect_error NAME KEYWORD ARGS...: `loom ARGS` must exit 1 or 2 with exactly one line on stderr
# that mentions KEYWORD (case-insensitive), and no sanitizer report.
expect_error() {
    local name=$1 key=$2
    shift 2
    "$LOOM" "$@" >out.txt 2>err.txt </dev/null
    local rc=$? n
    n=$(awk 'END { print NR }' err.txt)
    if [ "$rc" -ne 1 ] && [ "$rc" -ne 2 ]; then not_ok "$name: exit status $rc" "$(cat err.txt)"
    elif sanitizer err.txt; then not_ok "$name: sanitizer report" "$(cat err.txt)"
    elif [ "$n" -ne 1 ]; then not_ok "$name: $n lines on stderr, want 1" "$(cat err.txt)"
    elif ! grep -qi -e "$key" err.txt; then not_ok "$name: error does not mention '$key'" "$(cat err.txt)"
    else ok "$name"; fi
}

# need_python: PY is python3, which writes the image tests' input files (tests/pics.py); without
# it the test is skipped (exit 77).
need_python() {
    PY=$(command -v python3 || true)
    if [ -z "$PY" ]; then
        echo "SKIP: python3 (which writes the test's PNG images) is not installed"
        exit 77
    fi
}

# pics_py ARGS...: runs the python program on stdin with tests/pics.py importable (and no bytecode
# cache written into the source tree).
pics_py() { PYTHONPATH="$TESTS" PYTHONDONTWRITEBYTECODE=1 "$PY" - "$@"; }

finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
