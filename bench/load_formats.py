#!/usr/bin/env python3
"""The driver of bench/load_formats.sh: larder-load's read and build phases
per input format, on the same rows.

  load_formats.py run               the whole benchmark (the shell wrapper
                                    sets the environment below)
  load_formats.py report JSON MD    renders MD again from the records kept
                                    in JSON (docs/bench/load-formats.json)

The rows are those of scripts/gen_sample.py --kv-rows ROWS (16-byte keys,
64-byte values), written once per format before the timed loads. Every
round loads every format once, in a rotated order, each with
`larder-load --stage-only yes --json yes --value-field value` into a fresh
local: membership and file:// store. Per load: the --json summary (phase
seconds, rows, bad rows), larder-load's CPU seconds and peak RSS (its
rusage, reaped with wait4), the wall time, and the CPU other programs used
meanwhile (cores' worth, from /proc/stat).

Environment (the wrapper passes it on): ROWS, ROUNDS, FORMATS, PARTITIONS,
BUILD_THREADS, READ_THREADS, LOAD_TIMEOUT, QUIET_WAIT, QUIET_MAX,
LARDER_LOAD, OUT_DIR, TMPDIR, LOAD_FORMATS_COMMAND (the command line for the report),
LOAD_FORMATS_ROOT (the repository).

Only the Python 3 standard library is used.
"""

import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from load_vs_redis import _f, _med, _rate, machine, machine_busy  # noqa: E402
from s3_vs_local import (_fs_desc, _ratio, _x, cpu_totals,  # noqa: E402
                         say, scrub, source_desc, wait_for_quiet)

CLK_TCK = os.sysconf("SC_CLK_TCK")
TABLE = "bench"

# name: (scripts/gen_sample.py arguments, larder-load --format, the file
# gen_sample.py writes, the label in the report)
FORMATS = {
    "tsv": (["--format", "tsv"], "tsv", "kv.tsv", "TSV"),
    "csv": (["--format", "csv"], "csv", "kv.csv", "CSV"),
    "jsonl": (["--format", "jsonl"], "jsonl", "kv.jsonl", "JSONL"),
    "msgpack": (["--format", "msgpack"], "msgpack", "kv.msgpack", "msgpack"),
    "avro-null": (["--format", "avro", "--avro-codec", "null"], "avro",
                  "kv.avro", "Avro (null codec)"),
    "avro-deflate": (["--format", "avro", "--avro-codec", "deflate"], "avro",
                     "kv.avro", "Avro (deflate)"),
}
BASELINE = "tsv"
# The target: these formats reach TARGET_RATIO of TSV's rows/s
# over read+build.
TARGET_FORMATS = ("avro-null", "avro-deflate", "msgpack")
TARGET_RATIO = 0.70

# Free space: every input (JSONL, the largest, is 102 bytes a row) plus one
# load's run files, segments and the store's copy (as in load_rss.sh),
# plus a margin.
INPUT_BYTES_PER_ROW = 110
LOAD_BYTES_PER_ROW = 300
SPACE_MARGIN = 1 << 30

# Other programs' share of the cores (during a load) above which the
# report warns that the times are distorted.
FOREIGN_NOISY = 0.25


def die(msg):
    raise SystemExit("load_formats: " + msg)


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

def generate(root, fmt, rows, dest):
    """Writes the format's input into dest; returns (path, bytes, seconds)."""
    gen_args, _, name, _ = FORMATS[fmt]
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, os.path.join(root, "scripts", "gen_sample.py"),
         "--out", dest, "--kv-rows", str(rows)] + gen_args,
        capture_output=True, text=True)
    if out.returncode != 0:
        die("gen_sample.py (%s) failed: %s" % (fmt, out.stderr[-2000:]))
    path = os.path.join(dest, name)
    return path, os.path.getsize(path), time.monotonic() - t0


def one_load(cfg, rnd, order, fmt):
    """Loads the format's input once into a fresh membership and store;
    returns the record. Stops the benchmark if the load fails or does not
    give every row."""
    run = tempfile.mkdtemp(prefix="r%d.%s." % (rnd, fmt), dir=cfg["work"])
    argv = [cfg["larder_load"],
            "--membership", "local:" + os.path.join(run, "membership"),
            "--store", "file://" + os.path.join(run, "store"),
            "--table", TABLE, "--format", FORMATS[fmt][1],
            "--key", "key", "--value-field", "value",
            "--stage-only", "yes", "--json", "yes",
            "--work-dir", run, "--input", cfg["inputs"][fmt]]
    if cfg["partitions"]:
        argv += ["--partitions", str(cfg["partitions"])]
    if cfg["build_threads"]:
        argv += ["--build-threads", str(cfg["build_threads"])]
    argv += ["--read-threads", str(cfg["read_threads"])]
    out_path = os.path.join(run, "summary.json")
    err_path = os.path.join(run, "stderr.txt")
    b0, tot0 = cpu_totals()
    t0 = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        loader = subprocess.Popen(argv, stdout=out, stderr=err,
                                  stdin=subprocess.DEVNULL)
        deadline = t0 + cfg["load_timeout"]
        while True:
            pid, status, ru = os.wait4(loader.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                loader.kill()
                os.wait4(loader.pid, 0)
                die("%s, round %d: larder-load still running after %ds"
                    % (fmt, rnd, cfg["load_timeout"]))
            time.sleep(0.05)
        loader.returncode = os.waitstatus_to_exitcode(status)
    t1 = time.monotonic()
    b1, tot1 = cpu_totals()
    with open(err_path, "rb") as f:
        err_text = scrub(f.read().decode(errors="replace"), cfg["work"])
    with open(out_path, "rb") as f:
        out_text = scrub(f.read().decode(errors="replace"), cfg["work"])
    if loader.returncode != 0:
        die("%s, round %d: larder-load exited %d:\n%s\n%s"
            % (fmt, rnd, loader.returncode, err_text[-3000:],
               out_text[-2000:]))
    summary = json.loads(out_text)
    rows = cfg["rows"]
    wrong = [k for k, want in (("state", "staged"), ("rows", rows),
                               ("rows_read", rows), ("bad_rows", 0),
                               ("duplicates", 0))
             if summary.get(k) != want]
    if wrong:
        die("%s, round %d: unexpected %s in the summary: %s"
            % (fmt, rnd, ", ".join(wrong), out_text))
    shutil.rmtree(run)
    cpu = ru.ru_utime + ru.ru_stime
    ncpu = os.cpu_count()
    sampled = (tot1 - tot0) / CLK_TCK / ncpu
    foreign = max(0.0, ((b1 - b0) / CLK_TCK - cpu) / sampled) \
        if sampled > 0 else 0.0
    return {"kind": "load", "round": rnd, "order": order, "format": fmt,
            "wall_s": round(t1 - t0, 4),
            "user_s": round(ru.ru_utime, 3), "sys_s": round(ru.ru_stime, 3),
            "cpu_s": round(cpu, 3), "maxrss_bytes": ru.ru_maxrss * 1024,
            "foreign_cores": round(foreign, 3), "summary": summary}


def loader_desc(root, loader):
    """The loader's path relative to the repository (no machine paths in
    the report) and its build type from the build directory's cache."""
    rel = os.path.relpath(loader, root)
    if rel.startswith(".."):
        rel = os.path.basename(loader)
    build_type = "unknown"
    cache = os.path.join(os.path.dirname(os.path.dirname(loader)),
                         "CMakeCache.txt")
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    build_type = line.split("=", 1)[1].strip()
    except OSError:
        pass
    return rel, build_type


def check_formats(loader, formats):
    """The loader must know every --format asked for (an old build reads
    only TSV and JSONL)."""
    out = subprocess.run([loader, "--help"], capture_output=True, text=True)
    line = next((l for l in out.stdout.splitlines()
                 if l.strip().startswith("--format")), "")
    known = line.split()[1].split("|") if len(line.split()) > 1 else []
    missing = sorted({FORMATS[f][1] for f in formats} - set(known))
    if missing:
        die("%s does not read %s (its --format: %s); build a newer one or "
            "set LARDER_LOAD" % (loader, ", ".join(missing),
                                 "|".join(known) or "?"))


def run():
    e = os.environ
    rows = int(e.get("ROWS", "10000000"))
    rounds = int(e.get("ROUNDS", "3"))
    formats = [f for f in e.get("FORMATS", ",".join(FORMATS)).split(",")
               if f]
    for f in formats:
        if f not in FORMATS:
            die("FORMATS: unknown format %r (%s)" % (f, ", ".join(FORMATS)))
    if len(set(formats)) != len(formats):
        die("FORMATS: a format named twice")
    if not 10 <= rows < 10 ** 12:
        die("ROWS must be 10 .. 10^12-1")
    if rounds < 1:
        die("ROUNDS must be at least 1")
    root = e.get("LOAD_FORMATS_ROOT", os.path.dirname(HERE))
    cfg = {"rows": rows,
           "partitions": int(e.get("PARTITIONS") or 0),
           "build_threads": int(e.get("BUILD_THREADS") or 0),
           "read_threads": int(e.get("READ_THREADS") or 1),
           "load_timeout": int(e.get("LOAD_TIMEOUT", "900")),
           "quiet_wait": int(e.get("QUIET_WAIT", "0")),
           "quiet_max": float(e.get("QUIET_MAX", "0.10"))}
    out_dir = e.get("OUT_DIR", os.path.join(root, "docs", "bench"))
    larder_load = e.get("LARDER_LOAD") or os.path.join(
        root, "build", "release", "loader", "larder-load")
    if not os.access(larder_load, os.X_OK):
        die("not built: %s" % larder_load)
    check_formats(larder_load, formats)
    tmpbase = e.get("TMPDIR", "/tmp")
    need = rows * (INPUT_BYTES_PER_ROW * len(formats) +
                   LOAD_BYTES_PER_ROW) + SPACE_MARGIN
    st = os.statvfs(tmpbase)
    avail = st.f_bavail * st.f_frsize
    say("%s has %d MiB free; needs about %d MiB for %d formats of %d rows"
        % (tmpbase, avail >> 20, need >> 20, len(formats), rows))
    if avail < need:
        die("not enough space in %s (set TMPDIR, or fewer ROWS or FORMATS)"
            % tmpbase)
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="load_formats.", dir=tmpbase)
    cfg["work"] = work

    def on_signal(signum, _frame):
        raise SystemExit("load_formats: stopped by signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        # A private copy: a rebuild during the run cannot mix two builds.
        os.makedirs(os.path.join(work, "bin"))
        cfg["larder_load"] = shutil.copy2(larder_load,
                                          os.path.join(work, "bin"))
        loader_rel, build_type = loader_desc(root, larder_load)
        source = source_desc(root, larder_load)
        busy_start = machine_busy(3)
        mach = {k: v for k, v in machine().items()
                if k not in ("redis_server", "redis_benchmark", "memcached")}
        mach["python"] = platform.python_version()

        cfg["inputs"] = {}
        sizes, gen_s = {}, {}
        for fmt in formats:
            say("generating %d rows as %s (not timed)" % (rows, fmt))
            path, size, secs = generate(root, fmt, rows,
                                        os.path.join(work, "in", fmt))
            cfg["inputs"][fmt] = path
            sizes[fmt], gen_s[fmt] = size, round(secs, 1)
            say("  %d bytes in %.1fs" % (size, secs))
        os.sync()

        records = []
        for rnd in range(1, rounds + 1):
            k = (rnd - 1) % len(formats)
            order = formats[k:] + formats[:k]
            for i, fmt in enumerate(order):
                wait_for_quiet(cfg)
                rec = one_load(cfg, rnd, i + 1, fmt)
                records.append(rec)
                ph = rec["summary"]["seconds"]
                say("  round %d %-12s read %6.2fs build %6.2fs (%s "
                    "rows/s read+build) publish %5.2fs | CPU %6.2fs, peak "
                    "RSS %4d MiB, other programs %.2f cores"
                    % (rnd, fmt, ph["read"], ph["build"],
                       _rate(_rates(rec, rows)["read_build"]), ph["publish"],
                       rec["cpu_s"], rec["maxrss_bytes"] >> 20,
                       rec["foreign_cores"]))
                if rnd == rounds:
                    # Its last load: the space goes to the loads still due.
                    os.remove(cfg["inputs"][fmt])
        busy_end = machine_busy(3)
        records.append(scrub({
            "kind": "meta",
            "command": e.get("LOAD_FORMATS_COMMAND",
                             "bench/load_formats.sh"),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M UTC"),
            "source": source, "loader": loader_rel,
            "loader_build_type": build_type, "rows": rows, "rounds": rounds,
            "formats": formats, "partitions": cfg["partitions"] or None,
            "build_threads": cfg["build_threads"] or None,
            "read_threads": cfg["read_threads"],
            "input_bytes": sizes, "generate_s": gen_s,
            "busy_start": round(busy_start, 3),
            "busy_end": round(busy_end, 3),
            "tmp_fs": _fs_desc(work), "machine": mach}, work))
        jpath = os.path.join(out_dir, "load-formats.json")
        mpath = os.path.join(out_dir, "load-formats.md")
        with open(jpath, "w") as f:
            json.dump({"records": records}, f, indent=1)
            f.write("\n")
        report(jpath, mpath)
        say("results: %s, %s" % (mpath, jpath))
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def _rates(r, rows):
    ph = r["summary"]["seconds"]
    rb = ph["read"] + ph["build"]
    return {"read": rows / ph["read"] if ph["read"] > 0 else None,
            "build": rows / ph["build"] if ph["build"] > 0 else None,
            "read_build": rows / rb if rb > 0 else None}


def summarize(records):
    """Per format: medians over its rounds, and ratios to TSV's medians
    (and, per round, to the same round's TSV load)."""
    meta = next(r for r in records if r["kind"] == "meta")
    loads = [r for r in records if r["kind"] == "load"]
    rows = meta["rows"]
    out = {}
    for fmt in meta["formats"]:
        rs = sorted([r for r in loads if r["format"] == fmt],
                    key=lambda r: r["round"])
        if not rs:
            continue
        rates = [_rates(r, rows) for r in rs]
        s = {"n": len(rs), "rounds": rs}
        for ph in ("read", "build", "publish", "total"):
            s[ph] = _med([r["summary"]["seconds"][ph] for r in rs])
        s["read_build"] = _med([r["summary"]["seconds"]["read"] +
                                r["summary"]["seconds"]["build"]
                                for r in rs])
        for k in ("read", "build", "read_build"):
            s[k + "_rows_s"] = _med([x[k] for x in rates])
        s["cpu_s"] = _med([r["cpu_s"] for r in rs])
        s["maxrss_bytes"] = _med([r["maxrss_bytes"] for r in rs])
        s["loader_peak_rss_bytes"] = _med([r["summary"]["peak_rss_bytes"]
                                           for r in rs])
        s["foreign_cores"] = [r["foreign_cores"] for r in rs]
        out[fmt] = s
    base = out.get(BASELINE)
    for fmt, s in out.items():
        for k in ("read", "build", "read_build"):
            s[k + "_vs_tsv"] = _ratio(s[k + "_rows_s"],
                                      base[k + "_rows_s"]) if base else None
        per_round = []
        for r in s["rounds"]:
            b = next((q for q in base["rounds"] if q["round"] == r["round"]),
                     None) if base else None
            per_round.append(_ratio(_rates(r, rows)["read_build"],
                                    _rates(b, rows)["read_build"])
                             if b else None)
        s["read_build_vs_tsv_per_round"] = per_round
    return meta, loads, out


def _mib(b):
    return "n/a" if b is None else "%.0f MiB" % (b / 2 ** 20)


def _label(fmt):
    return FORMATS[fmt][3]


def report(jpath, mpath):
    with open(jpath) as f:
        records = json.load(f)["records"]
    meta, loads, s = summarize(records)
    m = meta["machine"]
    rows = meta["rows"]
    L = []
    w = L.append
    w("# larder-load: read and build phases per input format")
    w("")
    w("Produced by `bench/load_formats.sh`; the raw records of every load "
      "are in [load-formats.json](load-formats.json). Do not edit by hand: "
      "rerun the script (`bench/load_formats.py report "
      "docs/bench/load-formats.json docs/bench/load-formats.md` renders "
      "this page again from the JSON).")
    w("")
    w("**What the phases are.** `read` (the loader's `--json` "
      "`seconds.read`) includes reading the file, parsing the format and "
      "encoding each row's value, and spilling the rows to the partitions' "
      "run files; `build` (`seconds.build`) is the partition build: "
      "dedupe, index, segment write. Both are the same code for every "
      "format after the row is parsed, so the format shows in `read`; "
      "`publish` (copying the segments into the `file://` store) is shown "
      "but not compared. rows/s is %s rows ÷ the phase's seconds."
      % "{:,}".format(rows))
    w("")
    w("- Command: `%s`" % meta["command"])
    w("- Date: %s" % meta["date"])
    w("- larder source: %s; loader `%s` (%s build)"
      % (meta["source"], meta["loader"], meta["loader_build_type"]))
    w("- Machine: %d cores, %s, %.1f GiB RAM; kernel %s; Debian %s; "
      "Python %s" % (m["nproc"], m["cpu_model"],
                     m["mem_total_bytes"] / 2 ** 30, m["kernel"],
                     m["debian_version"], m["python"]))
    w("- Load from other programs (busy share of all cores over 3 s, nothing"
      " of ours running): %.0f%% at the start, %.0f%% at the end; during "
      "each load see `other` below (cores' worth, of %d)"
      % (meta["busy_start"] * 100, meta["busy_end"] * 100, m["nproc"]))
    w("- Data: %s rows of `scripts/gen_sample.py --kv-rows` (16-byte keys "
      "`k000000000000000`.., 64-byte values), one file per format, generated"
      " before the timed loads on local disk (%s) and read from the page "
      "cache. The values repeat slices of one 4 KiB random string, so "
      "Avro's deflate compresses them far better than it would real data."
      % ("{:,}".format(rows), meta["tmp_fs"]))
    w("- Every load: `larder-load --membership local:<fresh dir> --store "
      "file://<fresh dir> --table bench --format F --key key --value-field "
      "value --stage-only yes --json yes --input <file>`%s%s%s (the "
      "loader's defaults otherwise), under `os.wait4` for its CPU seconds "
      "(user+system) and peak RSS. Each must give %s rows, no bad rows and "
      "no duplicates, or the benchmark stops.%s"
      % (" --partitions %d" % meta["partitions"] if meta["partitions"]
         else "", " --build-threads %d" % meta["build_threads"]
         if meta["build_threads"] else "",
         " --read-threads %d" % meta["read_threads"]
         if meta.get("read_threads") else "", "{:,}".format(rows),
         " One reading thread for every format, so that the formats are "
         "compared by what it costs to decode them (a TSV or JSONL file is "
         "otherwise cut among several reading threads, the others are not: "
         "docs/loader.md)." if meta.get("read_threads") == 1 else ""))
    w("- %d rounds; every round loads every format once, in a rotated "
      "order (round 1: %s; round 2 starts with the second, ...); medians "
      "over rounds." % (meta["rounds"], ", ".join(meta["formats"])))
    w("")
    w("## Inputs")
    w("")
    w("| format | generated with | `--format` | bytes | bytes/row |")
    w("|---|---|---|---:|---:|")
    for fmt in meta["formats"]:
        b = meta["input_bytes"][fmt]
        w("| %s | `gen_sample.py --kv-rows N %s` | %s | %s | %.1f |"
          % (_label(fmt), " ".join(FORMATS[fmt][0]), FORMATS[fmt][1],
             "{:,}".format(b), b / rows))
    w("")
    w("## Medians per format")
    w("")
    w("Seconds and rows/s are medians over the rounds; \"÷ TSV\" divides a "
      "format's median rows/s by TSV's (above 1× is faster than TSV).")
    w("")
    w("| format | read | build | read+build | read rows/s | build rows/s | "
      "read+build rows/s | read+build ÷ TSV | build ÷ TSV | CPU | "
      "peak RSS |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for fmt in meta["formats"]:
        x = s.get(fmt)
        if not x:
            continue
        w("| %s | %s s | %s s | %s s | %s | %s | %s | %s | %s | %s s | %s |"
          % (_label(fmt), _f(x["read"]), _f(x["build"]),
             _f(x["read_build"]), _rate(x["read_rows_s"]),
             _rate(x["build_rows_s"]), _rate(x["read_build_rows_s"]),
             _x(x["read_build_vs_tsv"]), _x(x["build_vs_tsv"]),
             _f(x["cpu_s"]), _mib(x["maxrss_bytes"])))
    w("")
    w("## Targets")
    w("")
    w("From the issue: rows/s per format on the same rows, Avro and msgpack "
      "at least %d%% of TSV's. Compared phase: **read+build** (the loader's"
      " `seconds.read` + `seconds.build`; `publish` excluded), medians over"
      " the rounds; the per-round ratios pair each load with the same "
      "round's TSV load." % round(TARGET_RATIO * 100))
    w("")
    w("| target | measured (median ÷ TSV's median) | per round | build "
      "phase alone ÷ TSV | result |")
    w("|---|---:|---|---:|---|")
    for fmt in TARGET_FORMATS:
        x = s.get(fmt)
        if fmt not in meta["formats"] or not x:
            continue
        r = x["read_build_vs_tsv"]
        met = "n/a (no TSV loads)" if r is None else \
            "met" if r >= TARGET_RATIO else "**not met**"
        w("| %s read+build rows/s ≥ %d%% of TSV's | %s | %s | %s | %s |"
          % (_label(fmt), round(TARGET_RATIO * 100),
             "n/a" if r is None else "%.0f%% (%s)" % (
                 r * 100, _x(r)),
             ", ".join(_x(p) for p in x["read_build_vs_tsv_per_round"]),
             _x(x["build_vs_tsv"]), met))
    w("")
    w("## Every load")
    w("")
    w("`order`: the format's place in its round. `other`: cores' worth of "
      "CPU that programs other than larder-load used during the load (of "
      "%d). Peak RSS: the kernel's (rusage) and the loader's own figure "
      "from its summary." % m["nproc"])
    w("")
    w("| round | order | format | rows | bad rows | read | build | publish "
      "| total | read+build rows/s | CPU (user+sys) | peak RSS | loader's "
      "peak RSS | other |")
    w("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
      "---:|")
    for r in sorted(loads, key=lambda r: (r["round"], r["order"])):
        sm = r["summary"]
        ph = sm["seconds"]
        w("| %d | %d | %s | %s | %d | %s | %s | %s | %s | %s | %s (%s+%s) |"
          " %s | %s | %s |"
          % (r["round"], r["order"], r["format"], "{:,}".format(sm["rows"]),
             sm["bad_rows"], _f(ph["read"]), _f(ph["build"]),
             _f(ph["publish"]), _f(ph["total"]),
             _rate(_rates(r, rows)["read_build"]), _f(r["cpu_s"]),
             _f(r["user_s"]), _f(r["sys_s"]), _mib(r["maxrss_bytes"]),
             _mib(sm["peak_rss_bytes"]), _f(r["foreign_cores"])))
    w("")
    w("## Notes")
    w("")
    for note in notes(meta, loads, s):
        w("- " + note)
    w("")
    with open(mpath, "w") as f:
        f.write("\n".join(L))


def notes(meta, loads, s):
    out = []
    base = s.get(BASELINE)
    if base:
        for fmt in meta["formats"]:
            x = s.get(fmt)
            if fmt == BASELINE or not x:
                continue
            out.append("%s against TSV, medians: read %+.2f s, build %+.2f s"
                       ", CPU %+.2f s." % (_label(fmt),
                                           x["read"] - base["read"],
                                           x["build"] - base["build"],
                                           x["cpu_s"] - base["cpu_s"]))
    else:
        out.append("TSV was not among FORMATS: no ratios, no targets.")
    busiest = max(r["foreign_cores"] for r in loads)
    quiet = [r for r in loads if r["foreign_cores"] < FOREIGN_NOISY]
    out.append("Other programs used %.2f–%.2f cores (of %d) during the "
               "loads; %d of %d loads ran with less than %.2f. Seconds and "
               "rows/s are distorted wherever that share was high (the "
               "per-round ratios pair loads that ran close together); CPU "
               "seconds depend far less on it."
               % (min(r["foreign_cores"] for r in loads), busiest,
                  meta["machine"]["nproc"], len(quiet), len(loads),
                  FOREIGN_NOISY))
    return out


def main(argv):
    if len(argv) >= 2 and argv[1] == "run":
        run()
    elif len(argv) == 4 and argv[1] == "report":
        report(argv[2], argv[3])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
