#!/usr/bin/env bash
# The README's test command: installs what is missing, then
#  1. a Release build (warnings are errors) running the whole default suite;
#  2. an ASan/UBSan build running the same default suite (every test but
#     the opt-in labels).
# Opt-in labels (soak, fuzz) are not run here; scripts/tsan.sh runs the
# ThreadSanitizer check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build test

jobs=$(nproc)
run_suite() { # build-dir ctest-args...
  local dir=$1; shift
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j"$jobs" "$@")
}

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DLARDER_WERROR=ON
cmake --build build/release -j"$jobs"
run_suite build/release -LE 'soak|fuzz'

cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DLARDER_WERROR=ON \
      -DLARDER_SANITIZE=address,undefined
cmake --build build/asan -j"$jobs"
run_suite build/asan -LE 'soak|fuzz'
