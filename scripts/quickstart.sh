#!/usr/bin/env bash
# The README's main command: installs what is missing, builds larderd,
# starts a node on 127.0.0.1 (port 7379, or LARDER_PORT), loads the sample
# data set (10,000 users' recommendations and features) and answers a few
# queries with redis-cli. On a terminal the node then keeps running until
# Ctrl-C; otherwise it is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build test

jobs=$(nproc)
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs" --target larderd >/dev/null

port=${LARDER_PORT:-7379}
if redis-cli -p "$port" PING >/dev/null 2>&1; then
  echo "port $port is busy; set LARDER_PORT to another port" >&2
  exit 1
fi
log=$(mktemp -t larderd.XXXXXX.log)
build/release/node/larderd --port "$port" --maxmemory 256mb \
  --maxmemory-policy allkeys-lru >"$log" 2>&1 &
node=$!
stop() { kill -TERM "$node" 2>/dev/null && wait "$node" || true; }
trap stop EXIT
for _ in $(seq 1 100); do
  redis-cli -p "$port" PING >/dev/null 2>&1 && break
  sleep 0.1
done

cli() { echo "\$ redis-cli -p $port $*"; redis-cli -p "$port" "$@"; echo; }
echo "== larderd (pid $node) on 127.0.0.1:$port; log in $log"
echo "== loading the sample data set"
python3 scripts/sample_data.py --users 10000 --format resp |
  redis-cli -p "$port" --pipe
echo
cli DBSIZE
cli GET recs:u42
cli MGET feat:u1 feat:u2 feat:u3
cli SET session:u42 '{"last_item":5}' EX 60
cli TTL session:u42
cli INFO keyspace

if [ -t 0 ]; then
  echo "== larderd is running on 127.0.0.1:$port; press Ctrl-C to stop it"
  wait "$node"
else
  echo "== stopping larderd"
fi
