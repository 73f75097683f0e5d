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
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  ctest --output-on-failure --timeout 900 -L concurrency
