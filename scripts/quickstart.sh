#!/usr/bin/env bash
# The README's main command. Installs what is missing, builds larder, and
# then, in a fresh directory:
#   1. starts a larderd node on the embedded default membership (local:),
#   2. generates the sample data set (users, items, factor vectors, top-30
#      recommendations; scripts/gen_sample.py),
#   3. loads every table with larder-load as one training run (staged),
#      activates the run with `larder activate` in one step,
#   4. answers real queries: T.GET through redis-cli, `larder get`, and the
#      Redis-compatible live table.
# On a terminal the node keeps running until Ctrl-C; otherwise it stops.
# Environment: LARDER_PORT (default 7379), LARDER_USERS (default 100000),
# LARDER_ITEMS (default 10000), LARDER_DIR (default: a new temp dir),
# LARDER_FORMAT: the input format of every table, tsv, csv, jsonl, avro or
# msgpack (default: the features as TSV, factors and recommendations as
# JSONL).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build test

jobs=$(nproc)
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs" --target larderd larder-load larder \
  >/dev/null
bin=$PWD/build/release

port=${LARDER_PORT:-7379}
users=${LARDER_USERS:-100000}
items=${LARDER_ITEMS:-10000}
dir=${LARDER_DIR:-$(mktemp -d -t larder-quickstart.XXXXXX)}
mkdir -p "$dir"
data=$dir/data
membership=local:$data/membership
store=file://$data/store
if redis-cli -p "$port" PING >/dev/null 2>&1; then
  echo "port $port is busy; set LARDER_PORT to another port" >&2
  exit 1
fi

echo "== starting larderd on 127.0.0.1:$port (data in $data)"
"$bin/node/larderd" --port "$port" --data-dir "$data" --maxmemory 256mb \
  --maxmemory-policy allkeys-lru >"$dir/larderd.log" 2>&1 &
node=$!
stop() { kill -TERM "$node" 2>/dev/null && wait "$node" || true; }
trap stop EXIT
for _ in $(seq 1 100); do
  redis-cli -p "$port" PING >/dev/null 2>&1 && break
  sleep 0.1
done
if ! redis-cli -p "$port" PING >/dev/null 2>&1; then
  echo "larderd did not start; the end of $dir/larderd.log:" >&2
  tail -n 20 "$dir/larderd.log" >&2
  exit 1
fi

format=${LARDER_FORMAT:-}
case $format in
  "") gen_format=both ;;
  tsv|csv|jsonl|avro|msgpack) gen_format=$format ;;
  *) echo "LARDER_FORMAT must be tsv, csv, jsonl, avro or msgpack" >&2
     exit 2 ;;
esac
echo "== generating $users users and $items items ($gen_format)"
python3 scripts/gen_sample.py --out "$dir/sample" --users "$users" \
  --items "$items" --format "$gen_format" >/dev/null

run=run-$(date -u +%Y%m%dT%H%M%S)
pairs=()
load() { # table key format
  local v
  v=$("$bin/loader/larder-load" --membership "$membership" --store "$store" \
        --table "$1" --key "$2" --input "$dir/sample/$1.$3" --format "$3" \
        --run-id "$run" --stage-only --json |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
  echo "   $1: version $v staged from $1.$3"
  pairs+=("$1=$v")
}
echo "== loading the tables of training run $run"
load user_features user "${format:-tsv}"
load item_features item "${format:-tsv}"
load user_factors user "${format:-jsonl}"
load item_factors item "${format:-jsonl}"
load recommendations user "${format:-jsonl}"

echo "== activating the run in one step"
"$bin/cli/larder" --membership "$membership" activate --wait 120 "${pairs[@]}"
for _ in $(seq 1 300); do # the node switches within a poll interval
  redis-cli -p "$port" T.GET recommendations u00000042 2>&1 |
    grep -qE 'NOTABLE|BUSY' || break
  sleep 0.1
done

cli() { echo "\$ redis-cli -p $port $*"; redis-cli -p "$port" "$@"; echo; }
larder() {
  echo "\$ larder $*"
  "$bin/cli/larder" --membership "$membership" "$@"
  echo
}
larder tables
larder get recommendations u00000042
larder mget user_features u00000001 u00000002
cli LARDER.ACTIVE
cli T.INFO recommendations
cli SET session:u00000042 '{"last_item":"i0000005"}' EX 60
cli GET session:u00000042
cli INFO batch

if [ -t 0 ]; then
  echo "== larderd is running on 127.0.0.1:$port; press Ctrl-C to stop it"
  wait "$node"
else
  echo "== stopping larderd"
fi
