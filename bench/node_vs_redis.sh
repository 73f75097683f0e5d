#!/usr/bin/env bash
# node_vs_redis.sh: larderd against redis-server, on this machine, in one run.
#
# Modes (several may be given; none means --default):
#   --default          throughput and server CPU per operation for GET, SET
#                      and MGET at pipeline 1 and 16, in alternating rounds,
#                      server pinned to core 0 and redis-benchmark to core 1;
#                      memory overhead per key after a 1M-key fill
#   --callgrind        instructions per GET (callgrind, counters zeroed after
#                      startup and prefill) at pipeline 16 and 1
#   --threads-scaling  larderd --threads 1 against --threads 2, unpinned
#   --all              all three
# The environment can choose modes too: CALLGRIND=1, THREADS_SCALING=1.
#
# Each mode writes its section of docs/bench/node.json and re-renders
# docs/bench/node.md. Tunables (environment, defaults in brackets):
#   ROUNDS [5] N [300000] requests per run at pipeline 1, N16 [3000000] at
#   pipeline 16 (MGET runs half), KEYS [1000000], CLIENTS [50],
#   MGET_KEYS [10], CG_KEYS [10000], CG_REQUESTS [20000],
#   BENCH_TIMEOUT [300] seconds per redis-benchmark run,
#   FOREIGN_MAX [0.10] cores of CPU other programs may use during a pair of
#   runs before the pair is repeated (3 times at most), MAX_REPEATS [15]
#   repeats per mode,
#   QUIET_WAIT [0] seconds to wait, before each timed mode and round, for other
#   programs to leave the cores idle (the report records their load anyway),
#   LARDERD [build/release/node/larderd], OUT_DIR [docs/bench].
#
# Everything listens on and connects to 127.0.0.1 only. Every server the
# script starts is stopped on exit (SIGTERM, then SIGKILL after a bounded
# wait), and every client call runs under timeout(1). If larderd crashes,
# hangs or gives a wrong reply the script stops and says what happened.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
HELPER="$HERE/node_vs_redis.py"
PY=${PYTHON:-python3}
# The interpreter itself, not a version manager's shim: it starts faster,
# and it runs twice per benchmark run.
PY=$("$PY" -c 'import sys; print(sys.executable)') || PY=python3

# The invocation as the report shows it: overridden tunables + arguments.
INVOCATION="bench/node_vs_redis.sh${*:+ $*}"
for var in CALLGRIND THREADS_SCALING ROUNDS N N16 KEYS CLIENTS MGET_KEYS \
           CG_KEYS CG_REQUESTS QUIET_WAIT FOREIGN_MAX MAX_REPEATS; do
    if [[ -n ${!var:-} ]]; then
        INVOCATION="$var=${!var} $INVOCATION"
    fi
done

ROUNDS=${ROUNDS:-5}
N=${N:-300000}
N16=${N16:-3000000}
KEYS=${KEYS:-1000000}
CLIENTS=${CLIENTS:-50}
MGET_KEYS=${MGET_KEYS:-10}
CG_KEYS=${CG_KEYS:-10000}
CG_REQUESTS=${CG_REQUESTS:-20000}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
FOREIGN_MAX=${FOREIGN_MAX:-0.10}
MAX_REPEATS=${MAX_REPEATS:-15}
QUIET_WAIT=${QUIET_WAIT:-0}
if [[ -n ${LARDERD:-} ]]; then
    INVOCATION="LARDERD=${LARDERD#"$ROOT"/} $INVOCATION"
fi
LARDERD=${LARDERD:-$ROOT/build/release/node/larderd}
OUT_DIR=${OUT_DIR:-$ROOT/docs/bench}

VALUE_SIZE=64          # bytes per value
KEY_SIZE=16            # "key:" + 12 digits, redis-benchmark's -r key names
SERVER_CORE=0
CLIENT_CORE=1
START_TIMEOUT=30       # seconds for a server to answer PING
CG_START_TIMEOUT=120   # the same under valgrind
STOP_TIMEOUT=20        # seconds between SIGTERM and SIGKILL
PREFILL_TIMEOUT=300    # seconds for one redis-cli --pipe fill
TESTS=(get set mget)
PIPELINES=(1 16)

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

die() {
    echo "node_vs_redis: $*" >&2
    exit 1
}

MODE_DEFAULT=0
MODE_CALLGRIND=0
MODE_SCALING=0
[[ ${CALLGRIND:-0} == 1 ]] && MODE_CALLGRIND=1
[[ ${THREADS_SCALING:-0} == 1 ]] && MODE_SCALING=1
for arg in "$@"; do
    case $arg in
        --default) MODE_DEFAULT=1 ;;
        --callgrind) MODE_CALLGRIND=1 ;;
        --threads-scaling) MODE_SCALING=1 ;;
        --all) MODE_DEFAULT=1 MODE_CALLGRIND=1 MODE_SCALING=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $arg" ;;
    esac
done
if (( MODE_DEFAULT + MODE_CALLGRIND + MODE_SCALING == 0 )); then
    MODE_DEFAULT=1
fi

for tool in redis-server redis-benchmark redis-cli taskset timeout "$PY"; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
if (( MODE_CALLGRIND )); then
    for tool in valgrind callgrind_control; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
fi
[[ -x $LARDERD ]] || die "larderd not built: $LARDERD (see README: cmake build)"
if (( $(nproc) < 2 )); then
    die "needs at least 2 cores (server and load generator on separate cores)"
fi
mkdir -p "$OUT_DIR"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/node_vs_redis.XXXXXX")
declare -A PID_OF=()    # server name -> pid, for every server still running
declare -A PORT_OF=()
BENCH_PIDS=()           # redis-benchmark processes of the run in progress

# Stops one server: SIGTERM, a bounded wait, then SIGKILL; reaps it.
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
        echo "node_vs_redis: $name did not exit ${STOP_TIMEOUT}s after SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    if (( status != 0 )); then
        echo "node_vs_redis: $name exited with status $status after SIGTERM; end of its log:" >&2
        tail -n 10 "$WORK/$name.log" >&2 || true
    fi
}

cleanup() {
    local name pid
    for pid in "${BENCH_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for name in "${!PID_OF[@]}"; do
        stop_server "$name"
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# True while pid exists and is not a zombie.
alive() {
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $state && $state != Z ]]
}

# Describes a dead server (exit status, end of its log) and stops the run.
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
    timeout -k 2 20 redis-cli -h 127.0.0.1 -p "$port" "$@"
}

info_field() { # port field
    rcli "$1" INFO | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

rss_kb() { # pid
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

free_ports() { # count
    "$PY" "$HELPER" free-ports "$1"
}

# start_server name cores(empty: no pinning) port ping-timeout argv...
start_server() {
    local name=$1 cores=$2 port=$3 limit=$4
    shift 4
    if [[ -n $cores ]]; then
        taskset -c "$cores" "$@" >"$WORK/$name.log" 2>&1 &
    else
        "$@" >"$WORK/$name.log" 2>&1 &
    fi
    local pid=$!
    PID_OF[$name]=$pid
    PORT_OF[$name]=$port
    local deadline=$((SECONDS + limit))
    while true; do
        alive "$pid" || server_died "$name" "$pid" "startup"
        if [[ $(timeout -k 1 2 redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null) == PONG ]]; then
            return 0
        fi
        (( SECONDS < deadline )) || die "$name did not answer PING on port $port within ${limit}s"
        sleep 0.2
    done
}

# Sets CMD to the argv of a server listening on 127.0.0.1:port.
larderd_cmd() { # port threads
    CMD=("$LARDERD" --port "$1" --bind 127.0.0.1 --threads "$2" --loglevel warning)
}
redis_cmd() { # port
    CMD=(redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no
         --dir "$WORK")
}

# Fills keys key:000000000000 .. key:(count-1) with deterministic values.
prefill() { # name port count
    local name=$1 port=$2 count=$3 out
    out=$("$PY" "$HELPER" prefill "$count" "$VALUE_SIZE" |
          timeout -k 5 "$PREFILL_TIMEOUT" redis-cli -h 127.0.0.1 -p "$port" --pipe 2>&1) ||
        { alive "${PID_OF[$name]}" || server_died "$name" "${PID_OF[$name]}" "prefill"
          die "prefill of $name failed: $out"; }
    grep -q "errors: 0, replies: $count\$" <<<"$out" ||
        die "prefill of $name: redis-cli --pipe said: $(tail -n 3 <<<"$out")"
    local n
    n=$(rcli "$port" DBSIZE)
    [[ $n == "$count" ]] || die "$name: DBSIZE is '$n' after filling $count keys"
}

CHECK_HITS=4   # keys check_replies reads (all present)
# Spot-checks replies against what prefill stored.
check_replies() { # name port
    local name=$1 port=$2 got want
    want=$("$PY" "$HELPER" value 42 "$VALUE_SIZE")
    got=$(rcli "$port" GET key:000000000042)
    [[ $got == "$want" ]] ||
        die "$name: GET key:000000000042 replied '$got', expected '$want'"
    want=$(for i in 1 2 3; do "$PY" "$HELPER" value "$i" "$VALUE_SIZE"; echo; done)
    got=$(rcli "$port" MGET key:000000000001 key:000000000002 key:000000000003)
    [[ $got == "$want" ]] ||
        die "$name: MGET of keys 1..3 replied '$got', expected '$want'"
}

sample() { # server-pid
    "$PY" "$HELPER" sample "$1" "$$"
}

declare -A EXPECTED_HITS=()   # server name -> keys its GETs/MGETs asked for
# run_bench tsv round name test pipeline client-cores(empty: none)
#           client-processes record(1/0)
# Appends a line for the run to tsv (kept column: KEPT, settled by run_pair)
# and sets RUN_FOREIGN to the cores' worth of CPU other programs used.
# With several client processes (thread-scaling mode) each gets an equal
# share of the connections and requests and the throughputs are summed:
# redis-benchmark's own --threads mode only notices the end of a run on a
# 250 ms timer, which understates short runs.
run_bench() {
    local tsv=$1 round=$2 name=$3 test=$4 p=$5 cores=$6 procs=$7 record=$8
    local port=${PORT_OF[$name]} pid=${PID_OF[$name]}
    local n kpc=1 i
    local -a args pin=()
    if (( p == 1 )); then n=$N; else n=$N16; fi
    case $test in
        get) args=(-t get) ;;
        set) args=(-t set) ;;
        mget)
            n=$((n / 2))
            kpc=$MGET_KEYS
            args=(MGET)
            for ((i = 0; i < MGET_KEYS; i++)); do args+=("key:__rand_int__"); done
            ;;
        *) die "unknown test $test" ;;
    esac
    [[ -n $cores ]] && pin=(taskset -c "$cores")
    local per_proc=$((n / procs)) conns=$((CLIENTS / procs))
    n=$((per_proc * procs))
    local out="$WORK/run.$name.$test.$p.$round" before after t0 t1 rc=0
    BENCH_PIDS=()
    before=$(sample "$pid")
    t0=$(date +%s.%N)
    for ((i = 0; i < procs; i++)); do
        "${pin[@]}" timeout -k 5 "$BENCH_TIMEOUT" redis-benchmark -h 127.0.0.1 \
            -p "$port" -c "$conns" -r "$KEYS" -d "$VALUE_SIZE" -n "$per_proc" \
            -P "$p" --csv "${args[@]}" >"$out.$i.csv" 2>"$out.$i.err" &
        BENCH_PIDS+=($!)
    done
    local bench_rc
    for i in "${!BENCH_PIDS[@]}"; do
        bench_rc=0
        wait "${BENCH_PIDS[$i]}" || bench_rc=$?
        (( bench_rc == 0 )) || rc=$bench_rc
    done
    BENCH_PIDS=()
    t1=$(date +%s.%N)
    alive "$pid" || server_died "$name" "$pid" "redis-benchmark $test -P $p"
    after=$(sample "$pid")
    RUN_FOREIGN=$("$PY" "$HELPER" foreign "$before" "$after")
    if (( rc == 124 || rc == 137 )); then
        die "$name hung: redis-benchmark $test -P $p -n $per_proc did not finish in ${BENCH_TIMEOUT}s"
    elif (( rc != 0 )); then
        die "redis-benchmark $test -P $p against $name exited $rc: $(tail -n 5 "$out".*)"
    fi
    local rps=0 one errors=0
    for ((i = 0; i < procs; i++)); do
        one=$(awk -F'"' '/^"/ && !/^"test"/ { print $4; exit }' "$out.$i.csv")
        [[ -n $one ]] || die "no result line from redis-benchmark against $name: $(cat "$out.$i.csv" "$out.$i.err")"
        rps=$(awk -v a="$rps" -v b="$one" 'BEGIN { printf "%.2f", a + b }')
        errors=$((errors + $(cat "$out.$i.csv" "$out.$i.err" | grep -ci 'error' || true)))
    done
    if [[ $test != set ]]; then
        EXPECTED_HITS[$name]=$(( ${EXPECTED_HITS[$name]:-0} + n * kpc ))
    fi
    if (( record )); then
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\tKEPT\t%s\t%s\n' \
            "$round" "$name" "$test" "$p" "$n" "$kpc" "$rps" \
            "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" \
            "$errors" "$before" "$after" >>"$tsv"
    fi
    printf '  round %s %-10s %-4s P%-2s %12s ops/s  (other programs: %s core)\n' \
        "$round" "$name" "$test" "$p" "$rps" "$RUN_FOREIGN"
}

# run_pair tsv round test pipeline client-cores client-processes name...
# Runs the configuration against each named server in turn. If other
# programs used more than FOREIGN_MAX of a core during any of the runs, the
# runs are marked discarded and the set is repeated, at most 3 times per set
# and REPEATS_LEFT times in this mode; the last set is kept either way (the
# report shows how disturbed the kept runs were).
run_pair() {
    local tsv=$1 round=$2 test=$3 p=$4 cores=$5 procs=$6 name worst tries=0
    shift 6
    local pending="$WORK/pending.tsv"
    while true; do
        tries=$((tries + 1))
        : >"$pending"
        worst=0
        for name in "$@"; do
            run_bench "$pending" "$round" "$name" "$test" "$p" "$cores" "$procs" 1
            worst=$(awk -v a="$worst" -v b="$RUN_FOREIGN" 'BEGIN { print (b > a ? b : a) }')
        done
        if awk -v w="$worst" -v m="$FOREIGN_MAX" 'BEGIN { exit !(w <= m) }' ||
           (( REPEATS_LEFT <= 0 || tries > 3 )); then
            sed 's/\tKEPT\t/\t1\t/' "$pending" >>"$tsv"
            return 0
        fi
        sed 's/\tKEPT\t/\t0\t/' "$pending" >>"$tsv"
        REPEATS_LEFT=$((REPEATS_LEFT - 1))
        echo "  other programs used $worst of a core during these runs: repeating them"
    done
}

# The source the larderd binary was built from, as far as can be told: the
# checkout, and a warning when sources are newer than the binary. Called
# when larderd starts, since the checkout may move on during a long run.
source_desc() {
    local rev desc stale
    if rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
        desc="git $rev"
        if [[ -n $(git -C "$ROOT" status --porcelain -- node common 2>/dev/null) ]]; then
            desc="$desc with uncommitted changes in node/ or common/"
        fi
    else
        desc="working tree without commits"
    fi
    stale=$(find "$ROOT/node" "$ROOT/common" -name '*.[ch]' -newer "$LARDERD" | wc -l)
    if (( stale > 0 )); then
        desc="$desc; WARNING: the larderd binary is older than $stale source files (stale build)"
    fi
    echo "$desc"
}

meta() { # file key value
    printf '%s\t%s\n' "$2" "$3" >>"$1"
}

BUSY_SECONDS=3
# Waits (at most QUIET_WAIT seconds) until other programs leave the machine
# at most 5% busy, so that timed modes do not compete with them.
wait_for_quiet() {
    local deadline=$((SECONDS + QUIET_WAIT)) busy
    while (( SECONDS < deadline )); do
        busy=$("$PY" "$HELPER" busy "$BUSY_SECONDS")
        if awk -v b="$busy" 'BEGIN { exit !(b <= 0.05) }'; then
            return 0
        fi
        echo "  machine ${busy} busy with other programs; waiting (QUIET_WAIT=${QUIET_WAIT}s)"
        sleep 10
    done
}
# Records how busy the machine is while our servers idle (other programs).
background_meta() { # file start|end
    meta "$1" background_busy.seconds "$BUSY_SECONDS"
    meta "$1" "background_busy.$2" "$("$PY" "$HELPER" busy "$BUSY_SECONDS")"
}

report() { # mode tsv meta
    "$PY" "$HELPER" report "$1" "$2" "$3" "$OUT_DIR/node.json" "$OUT_DIR/node.md"
}

keyspace_meta() { # meta name expected-hits
    local port=${PORT_OF[$2]}
    meta "$1" "keyspace.$2.dbsize" "$(rcli "$port" DBSIZE)"
    meta "$1" "keyspace.$2.hits" "$(info_field "$port" keyspace_hits)"
    meta "$1" "keyspace.$2.misses" "$(info_field "$port" keyspace_misses)"
    meta "$1" "keyspace.$2.expected_hits" "$3"
}

run_default() {
    local tsv="$WORK/default.tsv" m="$WORK/default.meta" ports name round test p
    echo "== default: larder vs redis, GET/SET/MGET, pipeline 1 and 16, $ROUNDS rounds"
    wait_for_quiet
    : >"$tsv"
    : >"$m"
    read -r -a ports <<<"$(free_ports 2)"
    larderd_cmd "${ports[0]}" 1
    start_server larder "$SERVER_CORE" "${ports[0]}" "$START_TIMEOUT" "${CMD[@]}"
    meta "$m" source "$(source_desc)"
    redis_cmd "${ports[1]}"
    start_server redis "$SERVER_CORE" "${ports[1]}" "$START_TIMEOUT" "${CMD[@]}"
    background_meta "$m" start
    REPEATS_LEFT=$MAX_REPEATS
    for name in larder redis; do
        local port=${PORT_OF[$name]} pid=${PID_OF[$name]}
        meta "$m" "memory.$name.used_memory_before" "$(info_field "$port" used_memory)"
        meta "$m" "memory.$name.rss_kb_before" "$(rss_kb "$pid")"
        echo "  prefilling $name with $KEYS keys"
        prefill "$name" "$port" "$KEYS"
        sleep 1
        meta "$m" "memory.$name.used_memory_after" "$(info_field "$port" used_memory)"
        meta "$m" "memory.$name.rss_kb_after" "$(rss_kb "$pid")"
        check_replies "$name" "$port"
        EXPECTED_HITS[$name]=$CHECK_HITS
        run_bench "$tsv" 0 "$name" get 16 "$CLIENT_CORE" 1 0
    done
    for ((round = 1; round <= ROUNDS; round++)); do
        if (( QUIET_WAIT > 0 )); then
            wait_for_quiet
        fi
        for test in "${TESTS[@]}"; do
            for p in "${PIPELINES[@]}"; do
                run_pair "$tsv" "$round" "$test" "$p" "$CLIENT_CORE" 1 larder redis
            done
        done
    done
    background_meta "$m" end
    for name in larder redis; do
        keyspace_meta "$m" "$name" "${EXPECTED_HITS[$name]}"
    done
    meta "$m" command "$INVOCATION"
    meta "$m" params.rounds "$ROUNDS"
    meta "$m" params.n "$N"
    meta "$m" params.n16 "$N16"
    meta "$m" params.keys "$KEYS"
    meta "$m" params.key_bytes "$KEY_SIZE"
    meta "$m" params.value_bytes "$VALUE_SIZE"
    meta "$m" params.clients "$CLIENTS"
    meta "$m" params.mget_keys "$MGET_KEYS"
    meta "$m" params.foreign_max "$FOREIGN_MAX"
    stop_server larder
    stop_server redis
    report default "$tsv" "$m"
}

# One measured callgrind phase: zero, redis-benchmark GET, dump, read Ir.
CG_DUMPS=0
cg_phase() { # meta name label pipeline requests
    local m=$1 name=$2 label=$3 p=$4 n=$5
    local port=${PORT_OF[$name]} pid=${PID_OF[$name]} out rc=0 file ir
    local hits0 misses0
    hits0=$(info_field "$port" keyspace_hits)
    misses0=$(info_field "$port" keyspace_misses)
    timeout -k 2 60 callgrind_control -z "$pid" >"$WORK/cgctl.out" 2>&1 ||
        die "callgrind_control -z $name failed: $(cat "$WORK/cgctl.out")"
    out="$WORK/cg.$name.$label"
    taskset -c "$CLIENT_CORE" timeout -k 5 "$BENCH_TIMEOUT" redis-benchmark \
        -h 127.0.0.1 -p "$port" -c "$CLIENTS" -r "$CG_KEYS" -d "$VALUE_SIZE" \
        -n "$n" -P "$p" --csv -t get >"$out.csv" 2>"$out.err" || rc=$?
    alive "$pid" || server_died "$name" "$pid" "callgrind GET -P $p"
    (( rc == 0 )) || die "redis-benchmark GET -P $p against $name under callgrind exited $rc: $(tail -n 5 "$out.err")"
    timeout -k 2 60 callgrind_control -d "$pid" >"$WORK/cgctl.out" 2>&1 ||
        die "callgrind_control -d $name failed: $(cat "$WORK/cgctl.out")"
    CG_DUMPS=$((CG_DUMPS + 1))
    file="$WORK/cg.$name.out.$CG_DUMPS"
    local deadline=$((SECONDS + 60))
    until [[ -f $file ]] && grep -q '^totals:' "$file"; do
        (( SECONDS < deadline )) || die "callgrind dump $file of $name did not appear"
        sleep 0.2
    done
    ir=$("$PY" "$HELPER" cg-total "$file")
    local hits1 misses1
    hits1=$(info_field "$port" keyspace_hits)
    misses1=$(info_field "$port" keyspace_misses)
    if [[ $label == setup ]]; then
        meta "$m" "setup.$name.ir" "$ir"
        meta "$m" "setup.$name.requests" "$n"
    else
        meta "$m" "phases.$name.$p.ir" "$ir"
        meta "$m" "phases.$name.$p.requests" "$n"
        meta "$m" "phases.$name.$p.hits" "$((hits1 - hits0))"
        meta "$m" "phases.$name.$p.misses" "$((misses1 - misses0))"
        meta "$m" "phases.$name.$p.rps_under_callgrind" \
            "$(awk -F'"' '/^"/ && !/^"test"/ { print $4; exit }' "$out.csv")"
        [[ $p == 1 ]] && meta "$m" "setup.$name.phase_p1_ir" "$ir"
    fi
    printf '  %-6s %-6s P%-2s %14s Ir  %10.0f Ir/request\n' "$name" "$label" \
        "$p" "$ir" "$(awk -v a="$ir" -v b="$n" 'BEGIN { print a / b }')"
}

run_callgrind() {
    local m="$WORK/callgrind.meta" name port
    echo "== callgrind: instructions per GET, $CG_REQUESTS requests at pipeline 16 and 1"
    : >"$m"
    for name in larder redis; do
        read -r port <<<"$(free_ports 1)"
        if [[ $name == larder ]]; then
            larderd_cmd "$port" 1
        else
            redis_cmd "$port"
        fi
        CG_DUMPS=0
        start_server "$name" "$SERVER_CORE" "$port" "$CG_START_TIMEOUT" \
            valgrind --tool=callgrind "--callgrind-out-file=$WORK/cg.$name.out" \
            "${CMD[@]}"
        if [[ $name == larder ]]; then
            meta "$m" source "$(source_desc)"
        fi
        prefill "$name" "$port" "$CG_KEYS"
        check_replies "$name" "$port"
        cg_phase "$m" "$name" setup 1 "$CLIENTS"
        cg_phase "$m" "$name" p16 16 "$CG_REQUESTS"
        cg_phase "$m" "$name" p1 1 "$CG_REQUESTS"
        stop_server "$name"
    done
    meta "$m" command "$INVOCATION"
    meta "$m" params.keys "$CG_KEYS"
    meta "$m" params.value_bytes "$VALUE_SIZE"
    meta "$m" params.clients "$CLIENTS"
    meta "$m" params.requests "$CG_REQUESTS"
    meta "$m" pipelines "[16, 1]"
    report callgrind - "$m"
}

run_scaling() {
    local tsv="$WORK/scaling.tsv" m="$WORK/scaling.meta" ports name round test p
    echo "== threads scaling: larderd --threads 1 vs 2, unpinned, $ROUNDS rounds"
    wait_for_quiet
    : >"$tsv"
    : >"$m"
    read -r -a ports <<<"$(free_ports 2)"
    larderd_cmd "${ports[0]}" 1
    start_server larder_t1 "" "${ports[0]}" "$START_TIMEOUT" "${CMD[@]}"
    larderd_cmd "${ports[1]}" 2
    start_server larder_t2 "" "${ports[1]}" "$START_TIMEOUT" "${CMD[@]}"
    meta "$m" source "$(source_desc)"
    background_meta "$m" start
    REPEATS_LEFT=$MAX_REPEATS
    for name in larder_t1 larder_t2; do
        echo "  prefilling $name with $KEYS keys"
        prefill "$name" "${PORT_OF[$name]}" "$KEYS"
        check_replies "$name" "${PORT_OF[$name]}"
        run_bench "$tsv" 0 "$name" get 16 "" 2 0
    done
    for ((round = 1; round <= ROUNDS; round++)); do
        if (( QUIET_WAIT > 0 )); then
            wait_for_quiet
        fi
        for test in "${TESTS[@]}"; do
            for p in "${PIPELINES[@]}"; do
                run_pair "$tsv" "$round" "$test" "$p" "" 2 larder_t1 larder_t2
            done
        done
    done
    background_meta "$m" end
    for name in larder_t1 larder_t2; do
        local port=${PORT_OF[$name]}
        meta "$m" "keyspace.$name.misses" "$(info_field "$port" keyspace_misses)"
        stop_server "$name"
    done
    meta "$m" command "$INVOCATION"
    meta "$m" servers '["larder_t1", "larder_t2"]'
    meta "$m" tests '["get", "set", "mget"]'
    meta "$m" params.rounds "$ROUNDS"
    meta "$m" params.n "$N"
    meta "$m" params.n16 "$N16"
    meta "$m" params.keys "$KEYS"
    meta "$m" params.value_bytes "$VALUE_SIZE"
    meta "$m" params.clients "$CLIENTS"
    meta "$m" params.client_processes 2
    meta "$m" params.foreign_max "$FOREIGN_MAX"
    report threads_scaling "$tsv" "$m"
}

(( MODE_DEFAULT )) && run_default
(( MODE_CALLGRIND )) && run_callgrind
(( MODE_SCALING )) && run_scaling
echo "results: $OUT_DIR/node.md, $OUT_DIR/node.json"
