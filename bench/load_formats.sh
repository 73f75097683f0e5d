#!/usr/bin/env bash
# load_formats.sh: larder-load's read and build phases per input format, on
# the same rows, on this machine, in one run.
#
# Generates ROWS rows (16-byte keys k000000000000000.., 64-byte values;
# scripts/gen_sample.py --kv-rows, not timed) once per format: TSV, CSV,
# JSONL, msgpack, Avro with the null codec and Avro with deflate. Then runs
# ROUNDS rounds; every round loads every format once, the formats in a
# rotated order (round 1: tsv csv jsonl ..., round 2: csv jsonl ... tsv),
#   larder-load --membership local:<fresh dir> --store file://<fresh dir>
#       --table bench --format F --key key --value-field value
#       --stage-only yes --json yes --input <the format's file>
# and records the phase seconds of its --json summary (read: reading,
# parsing and encoding each row's value; build: the partition build, i.e.
# dedupe, index, segment write), its CPU seconds and peak RSS (its rusage,
# reaped with wait4) and the CPU other programs used meanwhile. Every load
# must give ROWS rows and no bad rows, or the benchmark stops. The issue's
# target: Avro (both codecs) and msgpack reach at least 70% of TSV's rows/s
# over read+build.
#
# Writes OUT_DIR/load-formats.json (every load, raw) and
# OUT_DIR/load-formats.md (rendered from it; `bench/load_formats.py report
# JSON MD` renders it again). A benchmark, not a test: it says whether the
# target is met but exits 0 either way.
#
# Tunables (environment, defaults in brackets): ROWS [10000000], ROUNDS
# [3], FORMATS [tsv,csv,jsonl,msgpack,avro-null,avro-deflate] (a subset,
# comma-separated; the ratios need tsv), PARTITIONS [the loader's default,
# 256], BUILD_THREADS [the loader's default, 4], READ_THREADS [1: each
# format decoded by one thread; a TSV or JSONL file is otherwise cut among
# several reading threads and the other formats are not], LOAD_TIMEOUT
# [900] seconds
# per load, QUIET_WAIT [0] seconds to wait before each load for other
# programs to leave the cores idle (below QUIET_MAX [0.10] of all cores),
# LARDER_LOAD [the newest Release, non-sanitizer build of
# build*/loader/larder-load or build/*/loader/larder-load], OUT_DIR
# [docs/bench], TMPDIR [/tmp] where the data goes: all inputs are
# generated before the first load and each is deleted after its last load,
# so about ROWS × (110 × formats + 300) bytes must be free (the largest
# input, JSONL, is 102 bytes a row; one load's run files, segments and
# store copy ~300) plus 1 GiB: about 10 GiB for the defaults.
# PYTHON [python3].
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=${PYTHON:-python3}

die() { echo "load_formats.sh: $*" >&2; exit 1; }

case ${1:-} in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) die "unknown argument: $1 (tunables are environment variables; see --help)" ;;
esac

INVOCATION="bench/load_formats.sh"
for var in ROWS ROUNDS FORMATS PARTITIONS BUILD_THREADS READ_THREADS \
           QUIET_WAIT QUIET_MAX; do
    if [[ -n ${!var:-} ]]; then
        INVOCATION="$var=${!var} $INVOCATION"
    fi
done

# shellcheck source=bench/release_loader.sh
. "$HERE/release_loader.sh"
LARDER_LOAD=${LARDER_LOAD:-$(release_loader "$ROOT")}
[[ -n ${LARDER_LOAD:-} && -x $LARDER_LOAD ]] ||
    die "no Release larder-load: build one" \
        "(cmake -DCMAKE_BUILD_TYPE=Release) or set LARDER_LOAD"
command -v "$PY" >/dev/null || die "$PY not found"

export LOAD_FORMATS_COMMAND="$INVOCATION" LOAD_FORMATS_ROOT="$ROOT"
export LARDER_LOAD
export OUT_DIR=${OUT_DIR:-$ROOT/docs/bench}
exec "$PY" "$HERE/load_formats.py" run
