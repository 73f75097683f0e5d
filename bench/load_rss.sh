#!/usr/bin/env bash
# load_rss.sh: does larder-load's peak memory stay flat as the input grows?
#
# Runs are ROWS[:PARTITIONS] (default: 10 and 50 million rows into 256
# partitions, and 50 million into 1280, the same rows per partition as 10
# million into 256). For each row count, generates a TSV of 16-byte keys
# and 64-byte values (scripts/gen_sample.py --kv-rows; not timed), then
# runs larder-load --stage-only on it under /usr/bin/time -v, into a fresh
# local: membership and file:// store, and records the peak RSS (the
# kernel's, from time -v, and the loader's own getrusage figure from its
# --json summary), the phase times and rows per second. The store and the
# scratch files of a run are deleted after it, the input once no later run
# needs it.
#
# Writes OUT_DIR/load-rss.md (the command, the machine, the table) and
# OUT_DIR/load-rss.json. A benchmark, not a test: it asserts nothing, but
# gives each run's peak RSS relative to the first run's. Earlier results
# to compare with (load-rss.json files of earlier runs, each with a
# "label" field saying what was different) are kept in both files,
# labelled, when named in EARLIER.
#
# Tunables (environment, defaults in brackets): RUNS ["10000000 50000000
# 50000000:1280"], PARTITIONS [256] for runs that name none, VALUE [raw]:
# raw stores the value column's 64 bytes (--value-field value), map stores
# a msgpack map {"value": ...}; BUILD_THREADS [0: the loader's default],
# LARDER_LOAD [the newest Release, non-sanitizer build of
# build*/loader/larder-load or build/*/loader/larder-load], OUT_DIR
# [docs/bench], TMPDIR [/tmp] where the data goes: about 300 bytes per row
# of the largest run must be free (input 82, run files ~90, segments ~92
# and their copy in the store ~92), EARLIER [none]: space-separated
# load-rss.json files to carry over (an earlier file's own "earlier" runs
# come along too).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-"10000000 50000000 50000000:1280"}
VALUE=${VALUE:-raw}
PARTITIONS=${PARTITIONS:-256}
BUILD_THREADS=${BUILD_THREADS:-0}
EARLIER=${EARLIER:-}
OUT_DIR=${OUT_DIR:-$ROOT/docs/bench}
TMPDIR=${TMPDIR:-/tmp}
BYTES_PER_ROW=300

die() { echo "load_rss.sh: $*" >&2; exit 1; }

# shellcheck source=bench/release_loader.sh
. "$HERE/release_loader.sh"
LARDER_LOAD=${LARDER_LOAD:-$(release_loader "$ROOT")}
[[ -n $LARDER_LOAD && -x $LARDER_LOAD ]] ||
    die "no Release larder-load: build one (cmake -DCMAKE_BUILD_TYPE=Release)" \
        "or set LARDER_LOAD"
[[ -x /usr/bin/time ]] ||
    die "/usr/bin/time is missing: scripts/deps.sh bench installs it"
case $VALUE in
    raw) value_args=(--value-field value) ;;
    map) value_args=() ;;
    *) die "VALUE must be raw or map, not '$VALUE'" ;;
esac

largest=0
for run in $RUNS; do
    [[ $run =~ ^[1-9][0-9]*(:[1-9][0-9]*)?$ ]] ||
        die "RUNS: '$run' is not ROWS or ROWS:PARTITIONS"
    n=${run%%:*}
    (( n > largest )) && largest=$n
done
need=$(( largest * BYTES_PER_ROW ))
avail=$(( $(df -Pk "$TMPDIR" | awk 'NR == 2 {print $4}') * 1024 ))
echo "load_rss.sh: $TMPDIR has $(( avail >> 30 )) GiB free, needs about" \
     "$(( need >> 30 )) GiB for $largest rows"
df -h "$TMPDIR"
(( avail > need )) ||
    die "not enough space in $TMPDIR (set TMPDIR or smaller RUNS)"

WORK=$(mktemp -d "$TMPDIR/larder-load-rss.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT_DIR"
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"

data_rows=0
i=0
for f in $EARLIER; do
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))["label"]' \
        "$f" >/dev/null 2>&1 ||
        die "EARLIER: $f is not a load-rss.json with a \"label\" field"
done

for spec in $RUNS; do
    n=${spec%%:*}
    parts=$PARTITIONS
    [[ $spec == *:* ]] && parts=${spec#*:}
    i=$((i + 1))
    run="$WORK/run-$i"
    mkdir -p "$run/work" "$WORK/data"
    if (( n != data_rows )); then
        rm -f "$WORK/data/kv.tsv"
        echo "load_rss.sh: generating $n rows" >&2
        python3 "$ROOT/scripts/gen_sample.py" --kv-rows "$n" \
            --out "$WORK/data" >/dev/null
        data_rows=$n
        sync
    fi
    input_bytes=$(stat -c %s "$WORK/data/kv.tsv")
    cmd=("$LARDER_LOAD" --membership "local:$run/membership"
         --store "file://$run/store" --table kv --key key "${value_args[@]}"
         --input "$WORK/data/kv.tsv" --partitions "$parts"
         --build-threads "$BUILD_THREADS" --work-dir "$run/work"
         --stage-only --json)
    echo "load_rss.sh: ${cmd[*]}" >&2
    /usr/bin/time -v -o "$run/time.txt" "${cmd[@]}" >"$run/summary.json" \
        2>"$run/stderr.txt" ||
        die "larder-load failed on $n rows: $(tail -n 3 "$run/stderr.txt")"
    python3 - "$n" "$input_bytes" "$run/summary.json" "$run/time.txt" \
        >>"$RESULTS" <<'EOF'
import json, sys
rows, input_bytes, summary, timefile = sys.argv[1:]
s = json.load(open(summary))
t = {}
for line in open(timefile):
    k, _, v = line.strip().rpartition(": ")
    t[k] = v
def wall(v):
    secs = 0.0
    for part in v.split(":"):
        secs = secs * 60 + float(part)
    return secs
elapsed = wall(t["Elapsed (wall clock) time (h:mm:ss or m:ss)"])
print(json.dumps({
    "rows": int(rows), "input_bytes": int(input_bytes),
    "version_bytes": s["bytes"], "partitions": s["partitions"],
    "read_s": s["seconds"]["read"], "build_s": s["seconds"]["build"],
    "publish_s": s["seconds"]["publish"], "elapsed_s": elapsed,
    "rows_per_s": int(rows) / elapsed if elapsed > 0 else 0,
    "peak_rss_kib": int(t["Maximum resident set size (kbytes)"]),
    "loader_peak_rss_bytes": s["peak_rss_bytes"],
    "user_s": float(t["User time (seconds)"]),
    "system_s": float(t["System time (seconds)"]),
}))
EOF
    tail -n 1 "$RESULTS" >&2
    rm -rf "$run"
done

invocation=""
for var in RUNS PARTITIONS VALUE BUILD_THREADS; do
    invocation+="$var=\"${!var}\" "
done
invocation+="bench/load_rss.sh"
python3 - "$RESULTS" "$OUT_DIR" "$invocation" "$LARDER_LOAD" \
    "${value_args[*]:-}" "$TMPDIR" $EARLIER <<'EOF'
import json, os, platform, subprocess, sys, time
results, out_dir, invocation, loader, value_args, tmpdir = sys.argv[1:7]
rows = [json.loads(l) for l in open(results)]
earlier = []
for path in sys.argv[7:]:
    e = json.load(open(path))
    earlier.append({k: e[k] for k in ("label", "invocation", "loader",
                                      "machine", "results") if k in e})
    earlier += e.get("earlier", [])

def first(path, prefix):
    try:
        for line in open(path):
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"

cpu = first("/proc/cpuinfo", "model name")
mem_kib = int(first("/proc/meminfo", "MemTotal").split()[0])
fs = subprocess.run(["df", "-PT", tmpdir], capture_output=True,
                    text=True).stdout.splitlines()[-1].split()
machine = {
    "cpu": cpu, "cpus": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
    "kernel": platform.release(), "tmpdir": tmpdir,
    "tmpdir_fs": fs[1] if len(fs) > 1 else "?",
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
}
first_rss = rows[0]["peak_rss_kib"]
for r in rows:
    r["rows_per_partition"] = r["rows"] // r["partitions"]
    r["rss_vs_first"] = r["peak_rss_kib"] / first_rss
# The loader's path relative to the tree, so reports name no machine path.
loader = os.path.relpath(loader, os.path.dirname(out_dir.rstrip("/")) + "/..")
doc = {"invocation": invocation, "loader": loader, "machine": machine,
       "value_args": value_args, "results": rows}
if earlier:
    doc["earlier"] = earlier
with open(os.path.join(out_dir, "load-rss.json"), "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")

mib = lambda b: b / 2**20
num = lambda n: "{:,}".format(n)
lines = [
    "# larder-load: peak memory against input size",
    "",
    "Does the loader's peak RSS stay flat as the input grows? Rows of a "
    "16-byte key and a 64-byte value (`scripts/gen_sample.py --kv-rows N`), "
    "loaded with `--stage-only` into a fresh `local:` membership and "
    "`file://` store on the same disk, under `/usr/bin/time -v`.",
    "",
    "Command (generated by `%s`):" % invocation,
    "",
    "```",
    "/usr/bin/time -v larder-load --membership local:DIR/membership \\",
    "    --store file://DIR/store --table kv --key key %s\\" %
    (value_args + " " if value_args else ""),
    "    --input DIR/kv.tsv --partitions P --stage-only --json",
    "```",
    "",
    "Machine: %s, %d CPUs, %.1f GiB RAM, Linux %s; data in %s (%s); %s." %
    (machine["cpu"], machine["cpus"], machine["memory_gib"],
     machine["kernel"], tmpdir, machine["tmpdir_fs"], machine["date"]),
    "",
]

def table(rows):
    out = [
        "| rows | partitions P | rows per partition | input | read | build "
        "| publish | total | rows/s | peak RSS (time -v) | peak RSS (loader) "
        "| RSS vs first |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            "| %s | %d | %s | %.0f MiB | %.1f s | %.1f s | %.1f s | %.1f s | "
            "%.2f M | %.1f MiB | %.1f MiB | %.2f× |" %
            (num(r["rows"]), r["partitions"], num(r["rows_per_partition"]),
             mib(r["input_bytes"]), r["read_s"], r["build_s"], r["publish_s"],
             r["elapsed_s"], r["rows_per_s"] / 1e6, r["peak_rss_kib"] / 1024,
             mib(r["loader_peak_rss_bytes"]), r["rss_vs_first"]))
    return out

lines += table(rows)
for e in earlier:
    m = e.get("machine", {})
    lines += [
        "",
        "Earlier, for comparison — %s (%s; generated by `%s`):" %
        (e["label"], m.get("date", "date unknown"), e.get("invocation", "?")),
        "",
    ]
    lines += table(e["results"])
lines += [
    "",
    "The loader's memory is the spill buffers (`--spill-buffer`, 32 MiB "
    "for all partitions and reading threads together) and a 1 MiB line "
    "buffer per reading thread (`--read-threads`, default the CPUs) "
    "while the input is read, then the "
    "partitions being built (`--build-threads`, default 4), each holding "
    "at most the snapshot writer's memory budget of rows (6 MiB, "
    "`SNAP_WRITER_MEMORY_DEFAULT`): a larger partition is sorted in chunks "
    "to a temporary file and merged (docs/snapshot-format.md \"Writer "
    "cost\"), keeping in memory only its index, 10 bytes per row. So at a "
    "fixed partition count the peak stays flat as the input grows, until "
    "the indexes of the partitions being built outweigh the spill buffers "
    "(an estimate: some 500,000 rows per partition). While publishing, "
    "a `file://` store on the scratch directory's file system takes each "
    "segment by rename, reading nothing; a copy into another store counts "
    "too if it maps the file (hashing a segment through a mapping of the "
    "whole file adds up to `--build-threads` segments of file-backed "
    "RSS). Times "
    "depend on the disk and on whatever else runs on the machine; the RSS "
    "hardly does.",
    "",
]
with open(os.path.join(out_dir, "load-rss.md"), "w") as f:
    f.write("\n".join(lines))
print("\n".join(lines))
EOF
