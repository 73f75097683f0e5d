#!/usr/bin/env bash
# Fuzzing (opt-in; docs/fuzzing.md): builds the libFuzzer targets of
# tests/fuzz with clang into build/fuzz and runs the tests labelled "fuzz",
# one at a time: for each target, its seed corpus and saved crashes once,
# then LARDER_FUZZ_SECONDS (default 60) seconds of fuzzing. Arguments go
# to ctest, e.g. `scripts/fuzz.sh -R fuzz_resp`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build test fuzz

seconds=${LARDER_FUZZ_SECONDS:-60}
CC=clang cmake -S . -B build/fuzz -DLARDER_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
      -DLARDER_FUZZ_SECONDS="$seconds"
cmake --build build/fuzz --target fuzz_targets -j"$(nproc)"
cd build/fuzz
LARDER_FUZZ_SECONDS=$seconds ctest --output-on-failure -L fuzz "$@"
