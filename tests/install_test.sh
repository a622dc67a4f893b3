#!/usr/bin/env bash
# `cmake --install` of the build tree into a scratch prefix: the CLI, the library and the
# header land there, the installed CLI runs from anywhere, and it loads the same OpenBLAS as
# the build tree's (the OpenMP build, by RPATH: the default pthread build would fight loom's
# OpenMP threads).
#   bash tests/install_test.sh PATH/TO/loom BUILD_DIR
NAME=install
BUILD_DIR=${2:?usage: $0 PATH/TO/loom BUILD_DIR}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$PWD/$BUILD_DIR ;; esac
. "$(dirname "$0")/lib.sh" "$@"

P=$W/prefix
if cmake --install "$BUILD_DIR" --prefix "$P" >install.txt 2>&1; then ok "cmake --install"
else not_ok "cmake --install" "$(cat install.txt)"; fi
for f in bin/loom include/loom.h; do
    if [ -f "$P/$f" ]; then ok "installed $f"; else not_ok "installed $f" "$(ls -R "$P" 2>&1)"; fi
done
for f in libloom.a libloom.so pkgconfig/loom.pc cmake/loom/loomConfig.cmake; do
    if ls "$P"/lib*/$f >/dev/null 2>&1; then ok "installed $f"; else not_ok "installed $f" "$(ls -R "$P")"; fi
done
if (cd / && "$P/bin/loom" --version) >ver.txt 2>&1 && grep -q '^loom ' ver.txt; then ok "installed loom runs"
else not_ok "installed loom runs" "$(cat ver.txt)"; fi

# the OpenBLAS each binary resolves (the path after "=>" in ldd's line)
blas() { ldd "$1" 2>/dev/null | awk '/libopenblas/ { print $3 }'; }
built=$(blas "$LOOM")
installed=$(blas "$P/bin/loom")
if [ -z "$built" ]; then ok "OpenBLAS is linked statically or not at all: nothing to compare # SKIP"
elif [ "$installed" = "$built" ]; then ok "installed loom loads $installed, as the build does"
else not_ok "installed loom loads '$installed', the build '$built'"; fi
# a program built against the installed library, as its users build one (not from a sanitizer
# build: its libloom.so needs the sanitizer runtime loaded first, which a plain program lacks)
if [ -n "${LOOM_SANITIZED:-}" ]; then
    ok "programs built with pkg-config and find_package: not from a sanitizer build # SKIP"
    finish
    exit $?
fi
SRC=$TESTS/../examples/train_and_generate.c
for i in $(seq 1 30); do echo "the quick brown fox jumps over the lazy dog $i"; done > corpus.txt
pc=$(ls -d "$P"/lib*/pkgconfig | head -1)
if cc "$SRC" $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs loom) -o ex_pc >cc.txt 2>&1 \
   && ldd ex_pc | grep -q "$P/.*libloom.so" && (cd / && "$W/ex_pc" "$W/corpus.txt" "$W/run_pc") >run.txt 2>&1; then
    ok "cc app.c \$(pkg-config --cflags --libs loom): builds, links libloom.so, trains and generates"
else not_ok "pkg-config build" "$(cat cc.txt run.txt 2>/dev/null)"; fi
mkdir -p app && cp "$SRC" app/ && cat > app/CMakeLists.txt <<'EOF2'
cmake_minimum_required(VERSION 3.16)
project(app C)
find_package(loom REQUIRED)
add_executable(app train_and_generate.c)
target_link_libraries(app PRIVATE loom::loom)
EOF2
if cmake -S app -B app/build -DCMAKE_PREFIX_PATH="$P" >cm.txt 2>&1 && cmake --build app/build >>cm.txt 2>&1 \
   && (cd / && "$W/app/build/app" "$W/corpus.txt" "$W/run_cm") >>cm.txt 2>&1; then
    ok "find_package(loom): builds against loom::loom and runs"
else not_ok "find_package(loom)" "$(tail -5 cm.txt)"; fi
finish
