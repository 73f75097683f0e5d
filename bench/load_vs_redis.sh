#!/usr/bin/env bash
# load_vs_redis.sh: a bulk load with larder-load against redis-cli --pipe,
# on this machine, in one run.
#
# 1. Generates ROWS rows (16-byte keys key:000000000000.., 64-byte values)
#    as a TSV file with a header and as a RESP file of SETs (not timed).
# 2. ROUNDS rounds alternating
#      larder: a fresh larderd (--threads 1, fresh --data-dir) and
#              larder-load --value-field value of the TSV, timed from the
#              loader's start to its exit (activation), plus the phases of
#              its --json summary and the time until the node serves a hit;
#      redis:  FLUSHALL, then redis-cli --pipe < file.resp, timed;
#    each timed run starts with its input read into the page cache and
#    after a sync(1), so that neither paged-out input nor the writeback of
#    files written before it lands in it;
#    then one larder load with the default msgpack map values, for
#    reference. Memory per key after each load: the node's Anonymous
#    growth + every mapped page of its segments; Redis used_memory growth.
# 3. memcached: the same keys and values through `set ... noreply` on one
#    connection, `stats` bytes growth per key.
# 4. T.GET on the batch table against GET on a live table holding the same
#    key space (larderd's live table `default`, and redis-server): servers
#    pinned to core 0, redis-benchmark -P 16 on core 1, server CPU per op.
#
# Writes docs/bench/load.json and docs/bench/load.md. Tunables (environment,
# defaults in brackets): ROWS [10000000], ROUNDS [3], LIVE_KEYS [ROWS] keys
# prefilled into the live tables for step 4 (also the -r of
# redis-benchmark), MEMCACHED_KEYS [ROWS] (0 skips memcached),
# GET_REQUESTS [2000000] per redis-benchmark run, GET_PIPELINE [16],
# CLIENTS [50], SKIP_GETS [0], LOAD_TIMEOUT [900] seconds per load or fill,
# QUIET_WAIT [0] seconds to wait, before each round, for other programs to
# leave the cores idle (below QUIET_MAX [0.10] of all cores; the report
# records the load of other programs during every timed run anyway),
# BENCH_TIMEOUT [300] seconds per redis-benchmark run,
# LARDERD, LARDER_LOAD [build/release/...], OUT_DIR [docs/bench],
# TMPDIR [/tmp] where the data goes (ROWS × ~700 bytes of free space needed).
#
# Everything listens on and connects to 127.0.0.1 only. Every process the
# script starts is stopped on exit (SIGTERM, then SIGKILL after a bounded
# wait), every client runs under timeout(1), and the temporary directory is
# removed.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
HELPER="$HERE/load_vs_redis.py"
PY=${PYTHON:-python3}
PY=$("$PY" -c 'import sys; print(sys.executable)') || PY=python3

INVOCATION="bench/load_vs_redis.sh${*:+ $*}"
for var in ROWS ROUNDS LIVE_KEYS MEMCACHED_KEYS GET_REQUESTS GET_PIPELINE \
           CLIENTS SKIP_GETS QUIET_WAIT QUIET_MAX; do
    if [[ -n ${!var:-} ]]; then
        INVOCATION="$var=${!var} $INVOCATION"
    fi
done

ROWS=${ROWS:-10000000}
ROUNDS=${ROUNDS:-3}
LIVE_KEYS=${LIVE_KEYS:-$ROWS}
MEMCACHED_KEYS=${MEMCACHED_KEYS:-$ROWS}
GET_REQUESTS=${GET_REQUESTS:-2000000}
GET_PIPELINE=${GET_PIPELINE:-16}
CLIENTS=${CLIENTS:-50}
SKIP_GETS=${SKIP_GETS:-0}
QUIET_WAIT=${QUIET_WAIT:-0}
QUIET_MAX=${QUIET_MAX:-0.10}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-900}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
LARDERD=${LARDERD:-$ROOT/build/release/node/larderd}
LARDER_LOAD=${LARDER_LOAD:-$ROOT/build/release/loader/larder-load}
OUT_DIR=${OUT_DIR:-$ROOT/docs/bench}

SERVER_CORE=0
CLIENT_CORE=1
START_TIMEOUT=60       # seconds for a server to answer / become ready
STOP_TIMEOUT=30        # seconds between SIGTERM and SIGKILL
WARMUP_REQUESTS=200000
REHASH_TIMEOUT=300     # seconds to wait for Redis to finish a rehash

die() {
    echo "load_vs_redis: $*" >&2
    exit 1
}
say() {
    echo "[$(date +%H:%M:%S)] $*"
}

case ${1:-} in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) die "unknown argument: $1 (tunables are environment variables; see --help)" ;;
esac

for tool in redis-server redis-cli redis-benchmark taskset timeout "$PY"; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
if (( MEMCACHED_KEYS > 0 )); then
    command -v memcached >/dev/null || die "memcached not found (MEMCACHED_KEYS=0 skips it)"
fi
[[ -x $LARDERD ]] || die "larderd not built: $LARDERD"
[[ -x $LARDER_LOAD ]] || die "larder-load not built: $LARDER_LOAD"
(( ROWS >= 10 && ROWS < 1000000000000 )) || die "ROWS must be 10 .. 10^12-1"
(( LIVE_KEYS >= 10 && LIVE_KEYS <= ROWS )) || die "LIVE_KEYS must be 10 .. ROWS"
(( MEMCACHED_KEYS <= ROWS )) || die "MEMCACHED_KEYS must be at most ROWS"
(( $(nproc) >= 2 )) || die "needs at least 2 cores"

TMPBASE=${TMPDIR:-/tmp}
# Inputs (~82 + 107 bytes a row) + one larder round (run files, segments,
# the store's copy and the node's copy, ~92 bytes a row each) + margin.
need=$((ROWS * 700 + 1024 * 1024 * 1024))
avail=$(df --output=avail -B1 "$TMPBASE" | tail -n 1 | tr -d ' ')
(( avail > need )) ||
    die "$TMPBASE has $((avail >> 20)) MiB free, needs about $((need >> 20)) MiB for ROWS=$ROWS"
memavail=$(awk '/^MemAvailable:/ { printf "%.0f", $2 * 1024 }' /proc/meminfo)
(( memavail > ROWS * 500 )) ||
    die "only $((memavail >> 20)) MiB of memory available, needs about $((ROWS * 500 >> 20)) MiB for ROWS=$ROWS"
mkdir -p "$OUT_DIR"

WORK=$(mktemp -d "$TMPBASE/load_vs_redis.XXXXXX")
RESULTS="$WORK/results.jsonl"
# Private copies, so that a rebuild during the run cannot mix two builds.
mkdir "$WORK/bin"
cp -p "$LARDERD" "$LARDER_LOAD" "$WORK/bin/"
LARDERD="$WORK/bin/$(basename "$LARDERD")"
LARDER_LOAD="$WORK/bin/$(basename "$LARDER_LOAD")"
declare -A PID_OF=()   # name -> pid of every server still running
declare -A PORT_OF=()
CHILD_PIDS=()          # loaders, pollers, clients in progress

alive() {
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $state && $state != Z ]]
}

stop_server() {
    local name=$1 pid=${PID_OF[$1]:-}
    [[ -n $pid ]] || return 0
    unset "PID_OF[$name]"
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while alive "$pid" && (( waited < STOP_TIMEOUT * 10 )); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if alive "$pid"; then
        echo "load_vs_redis: $name did not exit ${STOP_TIMEOUT}s after SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    if (( status != 0 )); then
        echo "load_vs_redis: $name exited with status $status after SIGTERM; end of its log:" >&2
        tail -n 10 "$WORK/$name.log" >&2 || true
    fi
    if [[ $name == larder* ]]; then
        # larderd's warning lines ('#'), for the report.
        grep -E '^[0-9]+:[^ ]+ # ' "$WORK/$name.log" | sed 's/^[0-9]*:[^ ]* # //' \
            >>"$WORK/warnings" || true
    fi
}

cleanup() {
    local name pid
    for pid in "${CHILD_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${CHILD_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    for name in "${!PID_OF[@]}"; do
        stop_server "$name"
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

server_died() {
    local name=$1 pid=$2 status=0
    wait "$pid" 2>/dev/null || status=$?
    unset "PID_OF[$name]"
    echo "---- last lines of $name's log ----" >&2
    tail -n 30 "$WORK/$name.log" >&2 || true
    die "$name (pid $pid) died with status $status during: $3"
}

rcli() { # port args...
    local port=$1
    shift
    timeout -k 2 120 redis-cli -h 127.0.0.1 -p "$port" "$@"
}

info_field() { # port field
    rcli "$1" INFO | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

free_port() {
    "$PY" "$HELPER" free-ports 1
}

rec() { # kind k=v...
    "$PY" "$HELPER" record "$RESULTS" "$@"
}

now() {
    date +%s.%N
}

sample() { # server-pid
    "$PY" "$HELPER" sample "$1" "$$"
}

# Waits up to QUIET_WAIT seconds for other programs to leave the cores idle.
wait_for_quiet() {
    (( QUIET_WAIT > 0 )) || return 0
    local deadline=$((SECONDS + QUIET_WAIT)) busy
    while true; do
        busy=$("$PY" "$HELPER" busy 2)
        if awk -v b="$busy" -v m="$QUIET_MAX" 'BEGIN { exit !(b < m) }'; then
            return 0
        fi
        if (( SECONDS >= deadline )); then
            say "  other programs still keep $(awk -v b="$busy" 'BEGIN { printf "%.0f", b * 100 }')% of the cores busy after ${QUIET_WAIT}s; going on"
            return 0
        fi
        sleep 3
    done
}

elapsed() { # t0 t1
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'
}

# start_server name cores(empty: not pinned) port argv...
# Waits until PING answers PONG (larderd: and INFO says batch_state:ready).
start_server() {
    local name=$1 cores=$2 port=$3
    shift 3
    if [[ -n $cores ]]; then
        taskset -c "$cores" "$@" >"$WORK/$name.log" 2>&1 &
    else
        "$@" >"$WORK/$name.log" 2>&1 &
    fi
    local pid=$!
    PID_OF[$name]=$pid
    PORT_OF[$name]=$port
    local deadline=$((SECONDS + START_TIMEOUT))
    while true; do
        alive "$pid" || server_died "$name" "$pid" "startup"
        if [[ $(timeout -k 1 2 redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null) == PONG ]]; then
            if [[ $1 != "$LARDERD" ]] ||
               [[ $(info_field "$port" batch_state 2>/dev/null) == ready ]]; then
                return 0
            fi
        fi
        (( SECONDS < deadline )) || die "$name did not become ready on port $port within ${START_TIMEOUT}s"
        sleep 0.1
    done
}

larderd_argv() { # port data-dir
    CMD=("$LARDERD" --port "$1" --bind 127.0.0.1 --threads 1 --data-dir "$2"
         --batch-memory "$BATCH_MEMORY" --loglevel notice)
}

# Reads a file into the page cache, so that a timed run reads it from
# memory: this machine's kernel pages out what stays untouched for a few
# seconds (DAMON pageout), which the input of one side is while the other
# side's round runs.
warm() { # path
    cat "$1" >/dev/null
}

# Runs larder-load into the node `name` (table bench). mode: raw or msgpack.
# Sets LOAD_WALL (loader start to exit), LOAD_VISIBLE_AFTER (loader exit to
# the first T.GET hit) and LOAD_JSON (the summary's path).
run_load() { # name data-dir mode tag
    local name=$1 data=$2 mode=$3 tag=$4
    local port=${PORT_OF[$name]} pid=${PID_OF[$name]}
    local -a vf=()
    [[ $mode == raw ]] && vf=(--value-field value)
    mkdir -p "$WORK/$tag.scratch"
    LOAD_JSON="$WORK/$tag.load.json"
    # The poller waits for the last row to be served; it starts before the
    # loader so that it sees the switch as soon as it happens.
    timeout -k 2 $((LOAD_TIMEOUT + 60)) "$PY" "$HELPER" wait-visible "$port" bench \
        $((ROWS - 1)) "$mode" $((LOAD_TIMEOUT + 30)) >"$WORK/$tag.visible" 2>&1 &
    local poller=$!
    CHILD_PIDS+=("$poller")
    local t0 t1 rc=0
    warm "$WORK/bench.tsv"
    sync # no writeback of earlier steps' files inside the timed interval
    LOAD_SAMPLE0=$(sample "$pid")
    t0=$(now)
    timeout -k 5 "$LOAD_TIMEOUT" "$LARDER_LOAD" \
        --membership "local:$data/membership" --store "file://$data/store" \
        --table bench --input "$WORK/bench.tsv" --format tsv --key key "${vf[@]}" \
        --work-dir "$WORK/$tag.scratch" --json >"$LOAD_JSON" 2>"$WORK/$tag.load.err" &
    local loader=$!
    CHILD_PIDS+=("$loader")
    wait "$loader" || rc=$?
    t1=$(now)
    CHILD_PIDS=("$poller")
    alive "$pid" || server_died "$name" "$pid" "larder-load ($tag)"
    if (( rc != 0 )); then
        kill -TERM "$poller" 2>/dev/null || true
        die "larder-load ($tag) exited $rc: $(tail -n 5 "$WORK/$tag.load.err") $(cat "$LOAD_JSON")"
    fi
    grep -q '"state":"active"' "$LOAD_JSON" || die "larder-load ($tag): not active: $(cat "$LOAD_JSON")"
    rc=0
    wait "$poller" || rc=$?
    CHILD_PIDS=()
    LOAD_SAMPLE1=$(sample "$pid")
    (( rc == 0 )) || die "the node did not serve the new version ($tag): $(cat "$WORK/$tag.visible")"
    local hit poller_cpu
    read -r hit poller_cpu <"$WORK/$tag.visible"
    LOAD_WALL=$(elapsed "$t0" "$t1")
    LOAD_VISIBLE_AFTER=$(elapsed "$t1" "$hit")
    LOAD_POLLER_CPU=$poller_cpu
    rm -rf "$WORK/$tag.scratch"
}

larder_round() { # round mode kind
    local round=$1 mode=$2 kind=$3 tag="larder.$2.$1" port data
    port=$(free_port)
    data="$WORK/$tag.data"
    larderd_argv "$port" "$data"
    start_server larder "" "$port" "${CMD[@]}"
    local pid=${PID_OF[larder]}
    "$PY" "$HELPER" node-mem "$pid" >"$WORK/$tag.mem0"
    run_load larder "$data" "$mode" "$tag"
    "$PY" "$HELPER" node-mem "$pid" >"$WORK/$tag.mem1"
    "$PY" "$HELPER" check-values "$port" t.get "$ROWS" "$mode" >/dev/null ||
        die "$tag: wrong values served"
    rec "$kind" round="$round" wall_s="$LOAD_WALL" visible_after_s="$LOAD_VISIBLE_AFTER" \
        sample_before="$LOAD_SAMPLE0" sample_after="$LOAD_SAMPLE1" poller_cpu_s="$LOAD_POLLER_CPU" \
        summary@="$LOAD_JSON" mem_before@="$WORK/$tag.mem0" mem_after@="$WORK/$tag.mem1"
    say "  larder ($mode) round $round: ${LOAD_WALL}s to activation, first hit ${LOAD_VISIBLE_AFTER}s later; phases: $(tr -d '\n' <"$LOAD_JSON" | sed 's/.*"seconds":{\([^}]*\)}.*/\1/')"
    stop_server larder
    rm -rf "$data"
}

redis_round() { # round
    local round=$1 port=${PORT_OF[redis]} pid=${PID_OF[redis]}
    local out t0 t1 rc=0 u0 u1 r0 r1 n
    rcli "$port" FLUSHALL SYNC >/dev/null
    [[ $(rcli "$port" DBSIZE) == 0 ]] || die "redis: not empty after FLUSHALL"
    u0=$(info_field "$port" used_memory)
    r0=$("$PY" "$HELPER" rss "$pid")
    local s0 s1
    warm "$WORK/bench.resp"
    sync # no writeback of earlier steps' files inside the timed interval
    s0=$(sample "$pid")
    t0=$(now)
    timeout -k 5 "$LOAD_TIMEOUT" redis-cli -h 127.0.0.1 -p "$port" --pipe \
        <"$WORK/bench.resp" >"$WORK/redis.pipe.$round" 2>&1 || rc=$?
    t1=$(now)
    s1=$(sample "$pid")
    alive "$pid" || server_died redis "$pid" "redis-cli --pipe"
    out=$(cat "$WORK/redis.pipe.$round")
    (( rc == 0 )) || die "redis-cli --pipe exited $rc: $(tail -n 3 <<<"$out")"
    grep -q "errors: 0, replies: $ROWS\$" <<<"$out" ||
        die "redis-cli --pipe said: $(tail -n 3 <<<"$out")"
    n=$(rcli "$port" DBSIZE)
    [[ $n == "$ROWS" ]] || die "redis: DBSIZE $n after loading $ROWS rows"
    u1=$(info_field "$port" used_memory)
    r1=$("$PY" "$HELPER" rss "$pid")
    # Redis grows its main hash table incrementally: right after the load
    # the old and the new table are both allocated, and the idle server
    # finishes the move in its cron, 1 ms per tick. Wait for that.
    local settle
    settle=$(redis_rehashed "$port")
    local u2
    u2=$(info_field "$port" used_memory)
    rec load_redis round="$round" wall_s="$(elapsed "$t0" "$t1")" rehash_wait_s="$settle" \
        sample_before="$s0" sample_after="$s1" \
        used_memory_before="$u0" used_memory_after="$u1" used_memory_settled="$u2" \
        rss_before="$r0" rss_after="$r1" rss_settled="$("$PY" "$HELPER" rss "$pid")"
    say "  redis round $round: $(elapsed "$t0" "$t1")s"
}

# Waits (up to REHASH_TIMEOUT seconds) until redis-server at port has no
# main hash table rehash in progress (DEBUG HTSTATS, allowed on local
# connections with --enable-debug-command local); prints the seconds waited.
redis_rehashed() { # port
    local t0=$SECONDS
    while rcli "$1" DEBUG HTSTATS 0 | grep -q 'rehashing target'; do
        if (( SECONDS - t0 >= REHASH_TIMEOUT )); then
            echo "load_vs_redis: redis still rehashing after ${REHASH_TIMEOUT}s; measuring anyway" >&2
            break
        fi
        sleep 1
    done
    echo $((SECONDS - t0))
}

run_memcached() {
    local port pid user=() t
    port=$(free_port)
    [[ $(id -u) == 0 ]] && user=(-u root)
    memcached -l 127.0.0.1 -p "$port" -U 0 -m 4096 "${user[@]}" >"$WORK/memcached.log" 2>&1 &
    pid=$!
    PID_OF[memcached]=$pid
    local deadline=$((SECONDS + START_TIMEOUT))
    until "$PY" "$HELPER" memcached-stats "$port" >"$WORK/mc.stats0" 2>/dev/null; do
        alive "$pid" || server_died memcached "$pid" startup
        (( SECONDS < deadline )) || die "memcached did not answer on port $port"
        sleep 0.1
    done
    local r0 r1
    r0=$("$PY" "$HELPER" rss "$pid")
    t=$(timeout -k 5 "$LOAD_TIMEOUT" "$PY" "$HELPER" memcached-load "$port" "$MEMCACHED_KEYS") ||
        die "loading memcached failed"
    alive "$pid" || server_died memcached "$pid" "set"
    "$PY" "$HELPER" memcached-stats "$port" >"$WORK/mc.stats1"
    r1=$("$PY" "$HELPER" rss "$pid")
    grep -q "\"curr_items\": $MEMCACHED_KEYS," "$WORK/mc.stats1" ||
        die "memcached holds the wrong number of items: $(cat "$WORK/mc.stats1")"
    rec memcached keys="$MEMCACHED_KEYS" wall_s="$t" rss_before="$r0" rss_after="$r1" \
        stats_before@="$WORK/mc.stats0" stats_after@="$WORK/mc.stats1"
    say "  memcached: $MEMCACHED_KEYS keys in ${t}s"
    stop_server memcached
}

# One redis-benchmark run against `name`; records requests, rps, server CPU
# ticks and the keyspace hits/misses it caused.
run_get() { # round name server-name cmd... (round 0: warm-up, not recorded)
    local round=$1 label=$2 name=$3
    shift 3
    local port=${PORT_OF[$name]} pid=${PID_OF[$name]} n=$GET_REQUESTS
    (( round == 0 )) && n=$WARMUP_REQUESTS
    local h0 m0 h1 m1 k0 k1 t0 t1 rc=0 out="$WORK/get.$label.$round"
    h0=$(info_field "$port" keyspace_hits)
    m0=$(info_field "$port" keyspace_misses)
    k0=$(sample "$pid")
    t0=$(now)
    taskset -c "$CLIENT_CORE" timeout -k 5 "$BENCH_TIMEOUT" redis-benchmark -h 127.0.0.1 \
        -p "$port" -c "$CLIENTS" -n "$n" -P "$GET_PIPELINE" -r "$LIVE_KEYS" --csv \
        "$@" >"$out.csv" 2>"$out.err" &
    CHILD_PIDS=($!)
    wait "${CHILD_PIDS[0]}" || rc=$?
    CHILD_PIDS=()
    t1=$(now)
    k1=$(sample "$pid")
    alive "$pid" || server_died "$name" "$pid" "redis-benchmark $*"
    (( rc == 0 )) || die "redis-benchmark $* against $name exited $rc: $(tail -n 3 "$out.err")"
    h1=$(info_field "$port" keyspace_hits)
    m1=$(info_field "$port" keyspace_misses)
    local rps
    rps=$(awk -F'"' '/^"/ && !/^"test"/ { print $4; exit }' "$out.csv")
    [[ -n $rps ]] || die "no result from redis-benchmark against $name: $(cat "$out.csv" "$out.err")"
    if grep -qi error "$out.csv" "$out.err"; then
        die "redis-benchmark $* against $name reported errors: $(grep -i error "$out.csv" "$out.err" | head -n 3)"
    fi
    (( m1 - m0 == 0 )) || die "$label: $((m1 - m0)) misses in $n requests (keys not found)"
    (( h1 - h0 == n )) || die "$label: $((h1 - h0)) hits for $n requests"
    if (( round > 0 )); then
        rec get round="$round" name="$label" requests="$n" rps="$rps" \
            wall_s="$(elapsed "$t0" "$t1")" sample_before="$k0" sample_after="$k1" \
            hits=$((h1 - h0)) misses=$((m1 - m0))
        say "  $label round $round: $rps ops/s, $(( ${k1%% *} - ${k0%% *} )) server ticks"
    fi
}

run_gets() {
    local lport rport data t0 t1 rc=0 resp="$WORK/live.resp" size rec_size
    say "T.GET vs GET: larderd and redis-server on core $SERVER_CORE, redis-benchmark on core $CLIENT_CORE"
    size=$(stat -c %s "$WORK/bench.resp")
    (( size % ROWS == 0 )) || die "RESP file size $size is not a multiple of $ROWS"
    rec_size=$((size / ROWS))
    if (( LIVE_KEYS == ROWS )); then
        resp="$WORK/bench.resp"
    else
        head -c $((LIVE_KEYS * rec_size)) "$WORK/bench.resp" >"$resp"
    fi
    lport=$(free_port)
    data="$WORK/larder.get.data"
    larderd_argv "$lport" "$data"
    start_server larder_get "$SERVER_CORE" "$lport" "${CMD[@]}"
    run_load larder_get "$data" raw larder.get
    say "  loaded the batch table into the pinned node in ${LOAD_WALL}s"
    t0=$(now)
    taskset -c "$CLIENT_CORE" timeout -k 5 "$LOAD_TIMEOUT" redis-cli -h 127.0.0.1 -p "$lport" \
        --pipe <"$resp" >"$WORK/live.pipe" 2>&1 || rc=$?
    t1=$(now)
    (( rc == 0 )) && grep -q "errors: 0, replies: $LIVE_KEYS\$" "$WORK/live.pipe" ||
        die "prefilling larderd's live table failed: $(tail -n 3 "$WORK/live.pipe")"
    local lfill
    lfill=$(elapsed "$t0" "$t1")
    say "  prefilled larderd's live table with $LIVE_KEYS keys in ${lfill}s"
    rport=$(free_port)
    start_server redis_get "$SERVER_CORE" "$rport" redis-server --port "$rport" --bind 127.0.0.1 \
        --save '' --appendonly no --enable-debug-command local --dir "$WORK"
    t0=$(now)
    rc=0
    taskset -c "$CLIENT_CORE" timeout -k 5 "$LOAD_TIMEOUT" redis-cli -h 127.0.0.1 -p "$rport" \
        --pipe <"$resp" >"$WORK/redis.get.pipe" 2>&1 || rc=$?
    t1=$(now)
    (( rc == 0 )) && grep -q "errors: 0, replies: $LIVE_KEYS\$" "$WORK/redis.get.pipe" ||
        die "prefilling redis failed: $(tail -n 3 "$WORK/redis.get.pipe")"
    local rfill
    rfill=$(elapsed "$t0" "$t1")
    say "  prefilled redis with $LIVE_KEYS keys in ${rfill}s; its rehash ended $(redis_rehashed "$rport")s later"
    [[ $(rcli "$lport" DBSIZE) == "$LIVE_KEYS" ]] || die "larderd live DBSIZE is not $LIVE_KEYS"
    [[ $(rcli "$rport" DBSIZE) == "$LIVE_KEYS" ]] || die "redis DBSIZE is not $LIVE_KEYS"
    "$PY" "$HELPER" check-values "$lport" t.get "$ROWS" raw >/dev/null || die "larder T.GET values wrong"
    "$PY" "$HELPER" check-values "$lport" get "$LIVE_KEYS" raw >/dev/null || die "larder GET values wrong"
    "$PY" "$HELPER" check-values "$rport" get "$LIVE_KEYS" raw >/dev/null || die "redis GET values wrong"
    rec get_setup live_keys="$LIVE_KEYS" requests="$GET_REQUESTS" pipeline="$GET_PIPELINE" \
        clients="$CLIENTS" pinned_load_s="$LOAD_WALL" larder_live_fill_s="$lfill" \
        redis_fill_s="$rfill"
    local -a tget=(T.GET bench 'key:__rand_int__') get=(GET 'key:__rand_int__')
    run_get 0 larder_tget larder_get "${tget[@]}"
    run_get 0 larder_get larder_get "${get[@]}"
    run_get 0 redis_get redis_get "${get[@]}"
    local round
    for ((round = 1; round <= ROUNDS; round++)); do
        wait_for_quiet
        run_get "$round" larder_tget larder_get "${tget[@]}"
        run_get "$round" larder_get larder_get "${get[@]}"
        run_get "$round" redis_get redis_get "${get[@]}"
    done
    stop_server larder_get
    stop_server redis_get
    rm -rf "$data"
}

source_desc() {
    local rev dirty
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) || { echo unknown; return; }
    dirty=$(git -C "$ROOT" status --porcelain -- node loader common membership 2>/dev/null | head -n 1)
    if [[ -n $dirty ]]; then
        echo "git $rev with uncommitted changes in node/, loader/, common/ or membership/"
    else
        echo "git $rev"
    fi
}

# ---------------------------------------------------------------------------

say "work directory $WORK ($(df -h --output=avail "$WORK" | tail -n 1 | tr -d ' ') free)"
SOURCE="$(source_desc); binaries built $(date -u -r "$LARDERD" '+%Y-%m-%d %H:%M UTC')"
BUSY_START=$("$PY" "$HELPER" busy 3)
"$PY" "$HELPER" machine >"$WORK/machine.json"
BATCH_MEMORY=$((ROWS * 400 > (1 << 30) ? ROWS * 400 : (1 << 30)))

say "generating $ROWS rows (TSV and RESP)"
t0=$(now)
timeout -k 5 "$LOAD_TIMEOUT" "$PY" "$HELPER" gen "$ROWS" "$WORK/bench.tsv" "$WORK/bench.resp" ||
    die "generating the data failed"
say "  generated in $(elapsed "$t0" "$(now)")s: TSV $(stat -c %s "$WORK/bench.tsv") bytes, RESP $(stat -c %s "$WORK/bench.resp") bytes"

read -r FS_SOURCE FS_TYPE <<<"$(df --output=source,fstype "$WORK" | tail -n 1)"

port=$(free_port)
start_server redis "" "$port" redis-server --port "$port" --bind 127.0.0.1 --save '' \
    --appendonly no --enable-debug-command local --dir "$WORK"

say "$ROUNDS rounds alternating larder, redis"
for ((round = 1; round <= ROUNDS; round++)); do
    wait_for_quiet
    larder_round "$round" raw load_larder
    wait_for_quiet
    redis_round "$round"
done
stop_server redis

say "one larder load with msgpack map values, for reference"
wait_for_quiet
larder_round 1 msgpack load_larder_msgpack

if (( MEMCACHED_KEYS > 0 )); then
    say "memcached: $MEMCACHED_KEYS keys"
    run_memcached
    if (( MEMCACHED_KEYS != ROWS )); then
        rec note text="memcached was loaded with $MEMCACHED_KEYS keys, not $ROWS."
    fi
fi

if (( SKIP_GETS == 0 )); then
    run_gets
    if (( LIVE_KEYS != ROWS )); then
        rec note text="The live tables for T.GET vs GET were prefilled with $LIVE_KEYS keys, not $ROWS; redis-benchmark drew keys from the first $LIVE_KEYS of both tables."
    fi
fi

BUSY_END=$("$PY" "$HELPER" busy 3)
if [[ -s $WORK/warnings ]]; then
    while IFS= read -r line; do
        rec note text="larderd logged a warning: $line"
    done < <(sort "$WORK/warnings" | uniq -c | sort -rn | head -n 5 |
             sed 's/^ *\([0-9]*\) \(.*\)/\2 (×\1)/')
fi
rec meta command="$INVOCATION" date="$(date -u '+%Y-%m-%d %H:%M UTC')" \
    source="$SOURCE" rows="$ROWS" rounds="$ROUNDS" \
    tsv_bytes="$(stat -c %s "$WORK/bench.tsv")" resp_bytes="$(stat -c %s "$WORK/bench.resp")" \
    tmp_fs="$TMPBASE" tmp_dev="$FS_SOURCE, $FS_TYPE" batch_memory="$BATCH_MEMORY" \
    busy_start="$BUSY_START" busy_end="$BUSY_END" machine@="$WORK/machine.json"
"$PY" "$HELPER" report "$RESULTS" "$OUT_DIR/load.json" "$OUT_DIR/load.md"
echo "results: $OUT_DIR/load.md, $OUT_DIR/load.json"
