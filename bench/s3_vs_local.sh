#!/usr/bin/env bash
# s3_vs_local.sh: the same bulk load into a larderd node from local files
# and from S3 (moto_server on 127.0.0.1), on this machine, in one run.
#
# Generates ROWS rows (16-byte keys key:000000000000.., 64-byte values) in
# PARTS part files + _SUCCESS, as TSV and as gzip'd JSONL, uploads them to a
# moto_server it starts on a free port, then runs ROUNDS rounds; in each
# round, for each format, three loads with larder-load --json into a fresh
# larderd, in a rotated order:
#   (a) --input <local dir>                 --store file://<data-dir>/store
#   (b) --input s3://larder-bench/input/F/   --store file://<data-dir>/store
#   (c) --input s3://larder-bench/input/F/   --store s3://larder-bench/store/..
# and records rows/s end to end, the loader's phase seconds, and the CPU
# seconds of larder-load, larderd and moto_server. moto is an S3 API in
# Python on the same cores: the figures measure larder's S3 client overhead
# plus moto's CPU, not real S3 network throughput.
#
# Writes docs/bench/s3.json and docs/bench/s3.md. Tunables (environment,
# defaults in brackets): ROWS [2000000], ROUNDS [3], PARTS [4] part files
# per format, FORMATS [tsv,jsonl.gz], LOAD_TIMEOUT [900] seconds per load,
# QUIET_WAIT [0] seconds to wait before each load for other programs to
# leave the cores idle (below QUIET_MAX [0.10] of all cores),
# LARDERD, LARDER_LOAD [build/release/...], OUT_DIR [docs/bench],
# TMPDIR [/tmp] where the data goes (ROWS × ~600 bytes of free space),
# LARDER_SOURCE [the repository] the source tree LARDERD and LARDER_LOAD
# were built from (its git revision goes into the report),
# PYTHON [python3] (the one with moto, and boto3 if any).
#
# Needs moto (`pip install 'moto[server]'`); boto3 is optional. Everything
# listens on 127.0.0.1 only; the script stops exactly the moto_server and
# larderd processes it started and removes its temporary directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=${PYTHON:-python3}

case ${1:-} in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "s3_vs_local: unknown argument: $1 (tunables are environment variables; see --help)" >&2
       exit 1 ;;
esac

INVOCATION="bench/s3_vs_local.sh"
for var in ROWS ROUNDS PARTS FORMATS QUIET_WAIT QUIET_MAX; do
    if [[ -n ${!var:-} ]]; then
        INVOCATION="$var=${!var} $INVOCATION"
    fi
done
export S3_BENCH_COMMAND="$INVOCATION" S3_BENCH_ROOT="$ROOT"
export LARDERD=${LARDERD:-$ROOT/build/release/node/larderd}
export LARDER_LOAD=${LARDER_LOAD:-$ROOT/build/release/loader/larder-load}
export OUT_DIR=${OUT_DIR:-$ROOT/docs/bench}
(( $(nproc) >= 2 )) || { echo "s3_vs_local: needs at least 2 cores" >&2; exit 1; }
exec "$PY" "$HERE/s3_vs_local.py" run
