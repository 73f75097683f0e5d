#!/usr/bin/env bash
# Runs one libFuzzer target for ctest (tests/fuzz/CMakeLists.txt):
#
#   run_target.sh regress BINARY DIR...
#       runs every file of the DIRs once (seed corpus, saved crashes);
#       missing or empty DIRs are fine.
#   run_target.sh fuzz BINARY CORPUS WORKDIR SECONDS
#       fuzzes for $LARDER_FUZZ_SECONDS (else SECONDS) seconds, one job,
#       starting from WORKDIR/corpus and CORPUS; new inputs go to
#       WORKDIR/corpus, crashes to WORKDIR/artifacts/.
set -euo pipefail
mode=$1 binary=$2
shift 2
case $mode in
regress)
  files=()
  for dir in "$@"; do
    [[ -d $dir ]] || continue
    while IFS= read -r -d '' f; do files+=("$f"); done \
      < <(find "$dir" -type f -print0 | sort -z)
  done
  if ((${#files[@]} == 0)); then
    echo "no inputs in $*"
    exit 0
  fi
  exec "$binary" -timeout=10 "${files[@]}"
  ;;
fuzz)
  corpus=$1 work=$2 seconds=${LARDER_FUZZ_SECONDS:-$3}
  mkdir -p "$work/corpus" "$work/artifacts"
  exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
       "$work/corpus" "$corpus"
  ;;
*)
  echo "usage: $0 regress BINARY DIR..." >&2
  echo "       $0 fuzz BINARY CORPUS WORKDIR SECONDS" >&2
  exit 2
  ;;
esac
