#!/usr/bin/env bash
# tget_callgrind.sh: instructions per request of T.GET on a batch table and
# GET on the live table, counted by callgrind.
#
# Starts one larderd (--threads 1) under valgrind --tool=callgrind
# --separate-threads=yes on a free loopback port, loads KEYS rows (16-byte
# keys "key:%012d", 64-byte values) into the batch table "bench" with
# larder-load and the same keys into the live table with redis-cli --pipe,
# then for each of ROUNDS rounds, alternating T.GET and GET: an unrecorded
# warm-up of 20,000 requests, callgrind's counters zeroed, REQUESTS
# requests by redis-benchmark (-c 1 -P 16 -r KEYS, random keys), and a
# dump. The figure is the worker thread's instructions divided by the
# requests (the busiest thread of the dump; the process total, which
# includes the membership poller, is given beside it). All keys fit in
# cache here, so this measures code, not memory: docs/bench/load.md
# measures both at 10M keys.
#
# Writes OUT_DIR/tget-callgrind.md. A benchmark, not a test: it asserts
# nothing. Tunables (environment, defaults in brackets): KEYS [100000],
# REQUESTS [100000], ROUNDS [2], LARDERD [build/release/node/larderd],
# LARDER_LOAD [the newest Release, non-sanitizer larder-load, as the
# loader benchmarks pick it], OUT_DIR [docs/bench].
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=release_loader.sh
. "$HERE/release_loader.sh"

INVOCATION="bench/tget_callgrind.sh"
for var in KEYS REQUESTS ROUNDS; do
    if [[ -n ${!var:-} ]]; then
        INVOCATION="$var=${!var} $INVOCATION"
    fi
done
KEYS=${KEYS:-100000}
REQUESTS=${REQUESTS:-100000}
ROUNDS=${ROUNDS:-2}
LARDERD=${LARDERD:-$ROOT/build/release/node/larderd}
LARDER_LOAD=${LARDER_LOAD:-$(release_loader "$ROOT")}
OUT_DIR=${OUT_DIR:-$ROOT/docs/bench}

die() { echo "tget_callgrind.sh: $*" >&2; exit 1; }
[[ -x $LARDERD ]] || die "larderd not built: $LARDERD"
[[ -n $LARDER_LOAD && -x $LARDER_LOAD ]] || die "no Release larder-load built"
for tool in valgrind callgrind_control redis-cli redis-benchmark python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

W=$(mktemp -d "${TMPDIR:-/tmp}/tget_callgrind.XXXXXX")
NODE=
cleanup() {
    if [[ -n $NODE ]]; then
        kill "$NODE" 2>/dev/null || true
        wait "$NODE" 2>/dev/null || true
    fi
    rm -rf "$W"
}
trap cleanup EXIT

W="$W" KEYS="$KEYS" python3 - <<'PY'
import os
w, n = os.environ["W"], int(os.environ["KEYS"])
with open(w + "/in.tsv", "w") as tsv, open(w + "/in.resp", "w") as resp:
    tsv.write("key\tvalue\n")
    for i in range(n):
        k, v = "key:%012d" % i, "v%063d" % i
        tsv.write("%s\t%s\n" % (k, v))
        resp.write("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                   % (len(k), k, len(v), v))
PY

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
valgrind --tool=callgrind --separate-threads=yes \
    --callgrind-out-file="$W/cg.%p.out" "$LARDERD" --port "$PORT" \
    --bind 127.0.0.1 --threads 1 --data-dir "$W/data" \
    --loglevel warning >"$W/node.log" 2>&1 &
NODE=$!
for _ in $(seq 600); do
    redis-cli -p "$PORT" PING 2>/dev/null | grep -q PONG && break
    kill -0 "$NODE" 2>/dev/null || die "larderd exited: $(tail -5 "$W/node.log")"
    sleep 0.2
done
"$LARDER_LOAD" --membership "local:$W/data/membership" \
    --store "file://$W/data/store" --table bench --input "$W/in.tsv" \
    --format tsv --key key --value-field value --work-dir "$W" \
    --ready-timeout 300 >/dev/null || die "larder-load failed"
redis-cli -p "$PORT" --pipe <"$W/in.resp" >/dev/null
for _ in $(seq 300); do
    [[ -n $(redis-cli -p "$PORT" T.GET bench key:000000000007) ]] && break
    sleep 0.2
done

# The worker thread's and the process's instructions in the newest dump.
dump_counts() {
    local part f ir tot=0 max=0
    part=$(ls "$W"/cg."$NODE".out.* | sed -n 's/.*\.out\.\([0-9]*\)-.*/\1/p' |
           sort -n | tail -1)
    for f in "$W"/cg."$NODE".out."$part"-*; do
        ir=$(grep -m1 '^summary:\|^totals:' "$f" | awk '{print $2}')
        tot=$((tot + ir))
        ((ir > max)) && max=$ir
    done
    echo "$max $tot"
}

ROWS=()
declare -A WORKER
for round in $(seq "$ROUNDS"); do
    for cmd in "T.GET bench key:__rand_int__" "GET key:__rand_int__"; do
        # shellcheck disable=SC2086
        redis-benchmark -p "$PORT" -c 1 -P 16 -n 20000 -r "$KEYS" $cmd >/dev/null
        callgrind_control -z "$NODE" >/dev/null 2>&1
        # shellcheck disable=SC2086
        redis-benchmark -p "$PORT" -c 1 -P 16 -n "$REQUESTS" -r "$KEYS" $cmd >/dev/null
        callgrind_control -d "$NODE" >/dev/null 2>&1
        read -r worker total < <(dump_counts)
        name=${cmd%% *}
        WORKER[$name]="${WORKER[$name]:-} $((worker / REQUESTS))"
        ROWS+=("| $round | \`${cmd}\` | $((worker / REQUESTS)) | $((total / REQUESTS)) |")
        echo "round $round: $name: worker $((worker / REQUESTS)), process $((total / REQUESTS)) per request"
    done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
T=$(echo "${WORKER[T.GET]}" | median)
G=$(echo "${WORKER[GET]}" | median)
RATIO=$(python3 -c "print('%.2f' % ($T / $G))")

mkdir -p "$OUT_DIR"
{
    echo "# T.GET against GET in instructions (callgrind)"
    echo
    echo "- Command: \`$INVOCATION\`"
    echo "- When: $(date -u +%Y-%m-%d), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- larderd --threads 1 under callgrind ($(valgrind --version)); $KEYS keys of 16 bytes with 64-byte values in the batch table \`bench\` (larder-load) and in the live table (redis-cli --pipe); redis-benchmark -c 1 -P 16 -n $REQUESTS -r $KEYS, random keys, after a 20,000-request warm-up; rounds alternate the commands"
    echo "- Figures: instructions per request of the worker thread (the busiest thread), and of the whole process (which adds the membership poller's)"
    echo
    echo "| round | command | worker instructions/request | process instructions/request |"
    echo "|---:|---|---:|---:|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Median worker instructions per request: T.GET $T, GET $G: **T.GET ÷ GET $RATIO×**."
    echo
    echo "Every key here fits in cache, so this compares the code paths only; at 10M keys cache and TLB misses dominate, and [load.md](load.md) compares the two commands' throughput and CPU there."
} >"$OUT_DIR/tget-callgrind.md"
echo "results: $OUT_DIR/tget-callgrind.md"
