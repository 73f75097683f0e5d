#!/usr/bin/env bash
# ThreadSanitizer check (opt-in): builds larder with -fsanitize=thread and
# runs the tests labelled "concurrency": the live table hammered by four
# threads, and larderd --threads 4 under concurrent SET/GET/DEL/EXPIRE with
# eviction.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build test
cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug -DLARDER_WERROR=ON \
      -DLARDER_SANITIZE=thread
cmake --build build/tsan -j"$(nproc)"
cd build/tsan
# MGET and MSET hold the locks of every shard they touch at once (up to 256
# by default), more than the 64 mutexes per thread that ThreadSanitizer's
# deadlock detector can track: past that it aborts (llvm/llvm-project#57007).
# The unit tests stay under 64 and keep deadlock detection; larderd, whose
# clients send MGETs of thousands of keys, runs without it.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  ctest --output-on-failure --timeout 900 -L concurrency -R '^unit_'
TSAN_OPTIONS="halt_on_error=1 detect_deadlocks=0" \
  ctest --output-on-failure --timeout 900 -L concurrency -R '^integration_'
