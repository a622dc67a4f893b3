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
if ls "$P"/lib*/libloom.a >/dev/null 2>&1; then ok "installed libloom.a"; else not_ok "installed libloom.a" "$(ls -R "$P")"; fi
if (cd / && "$P/bin/loom" --version) >ver.txt 2>&1 && grep -q '^loom ' ver.txt; then ok "installed loom runs"
else not_ok "installed loom runs" "$(cat ver.txt)"; fi

# the OpenBLAS each binary resolves (the path after "=>" in ldd's line)
blas() { ldd "$1" 2>/dev/null | awk '/libopenblas/ { print $3 }'; }
built=$(blas "$LOOM")
installed=$(blas "$P/bin/loom")
if [ -z "$built" ]; then ok "OpenBLAS is linked statically or not at all: nothing to compare # SKIP"
elif [ "$installed" = "$built" ]; then ok "installed loom loads $installed, as the build does"
else not_ok "installed loom loads '$installed', the build '$built'"; fi
finish
