#!/usr/bin/env bash
# Installs every Debian package that building, testing, benchmarking and the demo need.
# Idempotent: packages already present are not touched, and apt is not even consulted
# when nothing is missing. Run as root on Debian 12 (or through sudo).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config   # compiler and build system
  zlib1g-dev                         # CRC-32 of checkpoints
  libpcre2-dev                       # BPE pre-split regexes (Unicode properties, JIT)
  libopenblas-dev libopenblas-openmp-dev  # sgemm for every matrix product (OpenMP build: one thread pool)
  libcmocka-dev                      # the C test framework, driven by ctest
  libjson-c-dev                      # metrics.jsonl and --config files
  libpng-dev                         # loss curves, image samples, PNG training images
  libjpeg62-turbo-dev                # JPEG training images (loom train-image on a folder)
  dataset-fashion-mnist              # the image demo's default data (/usr/share/datasets/fashion-mnist)
  fortunes-min fortunes              # the demo's default corpus (/usr/share/games/fortunes)
  python3-torch python3-numpy        # the PyTorch oracle and speed peer (bench/, tests/ref)
  clang libclang-rt-dev libomp-dev   # libFuzzer and clang's OpenMP for the fuzz targets (fuzz/run.sh)
)
# Node.js and npm run llama.cpp (node-llama-cpp) and tiktoken, the oracles of tests/llamacpp and
# tests/tiktoken; Debian's packages are used only where the machine has no node already.
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
