#!/usr/bin/env python3
"""The measuring and reporting half of bench/node_vs_redis.sh.

This file implements the small jobs the shell script cannot do well:

  free-ports K            K distinct free TCP ports on 127.0.0.1
  prefill COUNT SIZE      a RESP stream of COUNT SETs (for redis-cli --pipe)
                          filling key:000000000000.. with SIZE-byte values,
                          the key space redis-benchmark's -r COUNT draws from
  value INDEX SIZE        the value prefill stores under key INDEX
  sample PID PARENT       one CPU sample of server PID and of the load
                          generators PARENT (the script) has reaped, with
                          every core's busy/total ticks (see sample())
  foreign BEFORE AFTER    cores' worth of CPU other programs used between
                          two samples
  busy SECONDS            mean busy share of all cores over SECONDS (run
                          while the servers idle: load from other programs)
  cg-total FILE           total instructions (Ir) in a callgrind dump
  report MODE TSV META JSON MD
                          turns one mode's raw runs (TSV) and facts (META:
                          "dotted.key<TAB>value" lines) into a section of
                          the JSON results file and re-renders the Markdown
                          report from every section the JSON holds
  rerender JSON MD        derives every section's figures again from the
                          raw runs in JSON and rewrites JSON and MD

Only the Python 3 standard library is used. Nothing here starts or stops a
process other than the short-lived tools whose versions go in the report.
"""

import datetime
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")

# Key names redis-benchmark builds from "key:__rand_int__" with -r: "key:"
# followed by a 12-digit zero-padded number. The payload of one key/value
# pair (16-byte key, 64-byte value) is what the memory overhead is net of.
KEY_FORMAT = "key:%012d"

# Targets the project compares against (see docs/benchmarks.md).
TARGET_CPU_P16 = 0.6         # larder CPU/op <= 0.6x Redis at pipeline 16
TARGET_IR_P16 = 0.5          # callgrind Ir/request <= 0.5x at pipeline 16
TARGET_IR_P1 = 0.8           # ... and <= 0.8x at pipeline 1
TARGET_THROUGHPUT = 0.95     # throughput >= 0.95x Redis
TARGET_OVERHEAD_BYTES = 32   # memory overhead per key <= 32 bytes

# A server whose process used less than this share of one core during a run
# was not the bottleneck of that run.
SATURATED_SHARE = 0.90

# Busy share of the machine, servers idle, above which the report says that
# other programs were running.
BACKGROUND_NOISY = 0.05

# Version of the JSON section layout; sections of another version are
# dropped (and have to be measured again) rather than misread.
FORMAT = 2

SERVERS = ("larder", "redis")
TESTS = ("get", "set", "mget")


# ---------------------------------------------------------------------------
# Small jobs for the shell script
# ---------------------------------------------------------------------------

def free_ports(count):
    """Binds count sockets to port 0 at once so the ports are distinct."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def value_for(index, size):
    """The deterministic value prefill stores for key number index."""
    seed = b"v%011d." % index
    return (seed * (size // len(seed) + 1))[:size]


def write_prefill(count, size, out):
    """Writes count RESP SET commands to the binary stream out."""
    chunk = []
    for i in range(count):
        key = (KEY_FORMAT % i).encode()
        val = value_for(i, size)
        chunk.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                     % (len(key), key, len(val), val))
        if len(chunk) == 4096:
            out.write(b"".join(chunk))
            chunk = []
    out.write(b"".join(chunk))
    out.flush()


def sample(pid, parent):
    """One CPU sample as a line of space-separated fields:
    server ticks (utime+stime of pid), server run time in ns (summed over
    its threads, -1 when the kernel lacks /proc/PID/task/*/sched), client
    ticks (cutime+cstime of parent: the reaped children of the benchmark
    script, i.e. the load generator), this sampler's own ticks so far, then
    busy/total ticks per core from /proc/stat."""
    ticks = _stat_ticks(pid)[0]
    client = sum(_stat_ticks(parent)[1])
    sched_ns = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/sched" % (pid, tid)) as f:
                for line in f:
                    if line.startswith("se.sum_exec_runtime"):
                        sched_ns += int(float(line.split(":")[1]) * 1e6)
                        break
    except OSError:
        sched_ns = -1
    own = os.times()
    own_ticks = round((own.user + own.system) * CLK_TCK)
    cores = []
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+) (.*)", line)
            if not m:
                continue
            v = [int(x) for x in m.group(2).split()]
            # user nice system idle iowait irq softirq steal ...
            idle = v[3] + v[4]
            total = sum(v[:8])
            cores.append("%d/%d" % (total - idle, total))
    return "%d %d %d %d %s" % (ticks, sched_ns, client, own_ticks,
                               " ".join(cores))


def _stat_ticks(pid):
    """(utime + stime, (cutime, cstime)) of pid, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 of proc(5): utime..cstime are fields 14..17.
    return (int(fields[11]) + int(fields[12]),
            (int(fields[13]), int(fields[14])))


def machine_busy(seconds):
    """Mean busy share of all cores over the next seconds (0..1)."""
    def totals():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v) - v[3] - v[4], sum(v)
    b0, t0 = totals()
    time.sleep(seconds)
    b1, t1 = totals()
    return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


def callgrind_total(path):
    """The 'summary:' (else 'totals:') Ir figure of a callgrind out file."""
    summary = totals = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("summary:"):
                summary = int(line.split()[1])
            elif line.startswith("totals:"):
                totals = int(line.split()[1])
    total = summary if summary is not None else totals
    if total is None:
        raise SystemExit("no summary/totals line in %s" % path)
    return total


# ---------------------------------------------------------------------------
# Machine description
# ---------------------------------------------------------------------------

def _run(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def machine():
    cpu_model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    debian = "unknown"
    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        pass
    return {
        "nproc": int(_run(["nproc"]) or 0),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "debian_version": debian,
        "redis_server": _run(["redis-server", "--version"]),
        "redis_benchmark": _run(["redis-benchmark", "--version"]),
        "valgrind": _run(["valgrind", "--version"]),
    }


# ---------------------------------------------------------------------------
# Turning raw runs into figures
# ---------------------------------------------------------------------------

def _parse_sample(text):
    parts = text.split()
    cores = []
    for c in parts[4:]:
        busy, total = c.split("/")
        cores.append((int(busy), int(total)))
    return {"server": int(parts[0]), "sched_ns": int(parts[1]),
            "client": int(parts[2]), "sampler": int(parts[3]),
            "cores": cores}


def foreign_load(before, after):
    """Cores' worth of CPU used between two samples by programs other than
    the server and the load generator (the second sampler's own start-up
    excluded)."""
    b, a = _parse_sample(before), _parse_sample(after)
    n = min(len(b["cores"]), len(a["cores"]))
    if n == 0:
        return 0.0
    busy = sum(a["cores"][i][0] - b["cores"][i][0] for i in range(n))
    total = sum(a["cores"][i][1] - b["cores"][i][1] for i in range(n))
    ours = (a["server"] - b["server"]) + (a["client"] - b["client"]) \
        + a["sampler"]
    return (busy - ours) / (total / n) if total > 0 else 0.0


def _core_share(before, after, index):
    """Busy share of core index between two samples (None if absent)."""
    if index >= len(before) or index >= len(after):
        return None
    busy = after[index][0] - before[index][0]
    total = after[index][1] - before[index][1]
    return busy / total if total > 0 else None


def load_runs(tsv_path):
    """Rows written by the shell script's record_run, one per benchmark."""
    runs = []
    with open(tsv_path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            (rnd, server, test, pipeline, requests, keys_per_cmd, rps,
             wall, errors, kept, before, after) = line.split("\t")
            b, a = _parse_sample(before), _parse_sample(after)
            c0, c1 = b["cores"], a["cores"]
            requests = int(requests)
            wall = float(wall)
            cpu_s = (a["server"] - b["server"]) / CLK_TCK
            client_s = (a["client"] - b["client"]) / CLK_TCK
            run = {
                "round": int(rnd), "server": server, "test": test,
                "pipeline": int(pipeline), "requests": requests,
                "keys_per_command": int(keys_per_cmd),
                "rps": float(rps), "wall_s": round(wall, 4),
                "error_lines": int(errors), "kept": kept == "1",
                "server_cpu_s": round(cpu_s, 4),
                "client_cpu_s": round(client_s, 4),
                "cpu_us_per_op": cpu_s / requests * 1e6,
                "server_share_of_core": cpu_s / wall if wall > 0 else None,
                "client_share_of_core": client_s / wall if wall > 0 else None,
                "foreign_cores": round(foreign_load(before, after), 4),
                "core_busy": [_core_share(c0, c1, i)
                              for i in range(min(len(c0), len(c1)))],
            }
            s0, s1 = b["sched_ns"], a["sched_ns"]
            if s0 >= 0 and s1 >= 0 and s1 > s0:
                run["sched_us_per_op"] = (s1 - s0) / 1e3 / requests
            runs.append(run)
    return runs


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _ratio(a, b):
    return a / b if a is not None and b else None


def summarize_pairs(runs, servers, tests, pipelines):
    """Medians per (test, pipeline, server) and paired per-round ratios."""
    rows = []
    for test in tests:
        for p in pipelines:
            row = {"test": test, "pipeline": p}
            per_round = {}
            for server in servers:
                sel = [r for r in runs if r["server"] == server and
                       r["kept"] and r["test"] == test and
                       r["pipeline"] == p]
                if not sel:
                    continue
                kpc = sel[0]["keys_per_command"]
                cpu = _median([r["cpu_us_per_op"] for r in sel])
                row[server] = {
                    "rounds": len(sel),
                    "rps_median": _median([r["rps"] for r in sel]),
                    "rps_min": min(r["rps"] for r in sel),
                    "rps_max": max(r["rps"] for r in sel),
                    "cpu_us_per_op_median": cpu,
                    "cpu_us_per_key_median": cpu / kpc if cpu else None,
                    "sched_us_per_op_median": _median(
                        [r.get("sched_us_per_op") for r in sel]),
                    "server_share_of_core_median": _median(
                        [r["server_share_of_core"] for r in sel]),
                    "client_share_of_core_median": _median(
                        [r["client_share_of_core"] for r in sel]),
                    "foreign_cores_max": max(r["foreign_cores"]
                                             for r in sel),
                    "foreign_cores_median": _median(
                        [r["foreign_cores"] for r in sel]),
                    "core_busy_median": [
                        _median([r["core_busy"][i] for r in sel
                                 if i < len(r["core_busy"])])
                        for i in range(len(sel[0]["core_busy"]))],
                    "error_lines": sum(r["error_lines"] for r in sel),
                    "keys_per_command": kpc,
                }
                for r in sel:
                    per_round.setdefault(r["round"], {})[server] = r
            if len(servers) == 2 and all(s in row for s in servers):
                a, b = servers
                row["rps_ratio"] = _ratio(row[a]["rps_median"],
                                          row[b]["rps_median"])
                row["cpu_ratio"] = _ratio(row[a]["cpu_us_per_op_median"],
                                          row[b]["cpu_us_per_op_median"])
                paired = [_ratio(v[a]["cpu_us_per_op"], v[b]["cpu_us_per_op"])
                          for v in per_round.values() if a in v and b in v]
                paired = [x for x in paired if x is not None]
                row["cpu_ratio_per_round"] = paired
                paired = [_ratio(v[a]["rps"], v[b]["rps"])
                          for v in per_round.values() if a in v and b in v]
                row["rps_ratio_per_round"] = [x for x in paired
                                              if x is not None]
            rows.append(row)
    return rows


def _memory(meta):
    out = {}
    keys = meta["keys"]
    payload = meta["key_bytes"] + meta["value_bytes"]
    for server in SERVERS:
        m = meta.get("memory", {}).get(server)
        if not m:
            continue
        used = m["used_memory_after"] - m["used_memory_before"]
        rss = (m["rss_kb_after"] - m["rss_kb_before"]) * 1024
        out[server] = dict(m)
        out[server]["used_memory_delta"] = used
        out[server]["overhead_bytes_per_key"] = used / keys - payload
        out[server]["rss_overhead_bytes_per_key"] = rss / keys - payload
    return out


def _fmt(x, digits=2):
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return "%.*f" % (digits, x)
    return str(x)


def _fmt_rate(x):
    return "n/a" if x is None else "{:,.0f}".format(x)


def _foreign(row, servers):
    """Median cores other programs used in a row's kept runs (worst server)."""
    return max(row[s]["foreign_cores_median"] for s in servers if s in row)


def build_default(meta, runs):
    rows = summarize_pairs(runs, SERVERS, TESTS, (1, 16))
    memory = _memory(meta)
    limit = meta.get("foreign_max")
    targets = []

    def disturbed(row):
        return limit is not None and _foreign(row, SERVERS) > limit
    for row in rows:
        if row["pipeline"] == 16 and "cpu_ratio" in row:
            targets.append({
                "target": "server CPU/op, %s pipeline 16: larder <= %.1fx Redis"
                          % (row["test"].upper(), TARGET_CPU_P16),
                "measured": row["cpu_ratio"], "limit": TARGET_CPU_P16,
                "met": row["cpu_ratio"] <= TARGET_CPU_P16,
                "disturbed": disturbed(row)})
    for row in rows:
        if "rps_ratio" in row:
            targets.append({
                "target": "throughput, %s pipeline %d: larder >= %.2fx Redis"
                          % (row["test"].upper(), row["pipeline"],
                             TARGET_THROUGHPUT),
                "measured": row["rps_ratio"], "limit": TARGET_THROUGHPUT,
                "met": row["rps_ratio"] >= TARGET_THROUGHPUT,
                "disturbed": disturbed(row)})
    if "larder" in memory:
        v = memory["larder"]["overhead_bytes_per_key"]
        targets.append({
            "target": "memory overhead per key (INFO used_memory): "
                      "larder <= %d bytes" % TARGET_OVERHEAD_BYTES,
            "measured": v, "limit": TARGET_OVERHEAD_BYTES,
            "met": v <= TARGET_OVERHEAD_BYTES})
    return {"rows": rows, "memory": memory, "targets": targets}


def build_callgrind(meta):
    out = {"phases": []}
    for p in meta["pipelines"]:
        row = {"test": "get", "pipeline": p}
        for server in SERVERS:
            ph = meta.get("phases", {}).get(server, {}).get(str(p))
            if ph:
                row[server] = dict(ph)
                served = ph.get("hits", 0) + ph.get("misses", 0)
                row[server]["requests_served"] = served
                row[server]["ir_per_request"] = ph["ir"] / (served or
                                                            ph["requests"])
        if all(s in row for s in SERVERS):
            row["ir_ratio"] = (row["larder"]["ir_per_request"]
                               / row["redis"]["ir_per_request"])
        out["phases"].append(row)
    targets = []
    for row in out["phases"]:
        limit = {16: TARGET_IR_P16, 1: TARGET_IR_P1}.get(row["pipeline"])
        if limit is not None and "ir_ratio" in row:
            targets.append({
                "target": "callgrind Ir/request, GET pipeline %d: larder <= "
                          "%.1fx Redis" % (row["pipeline"], limit),
                "measured": row["ir_ratio"], "limit": limit,
                "met": row["ir_ratio"] <= limit})
    out["targets"] = targets
    return out


def build_scaling(meta, runs):
    servers = tuple(meta["servers"])
    rows = summarize_pairs(runs, servers, tuple(meta["tests"]), (1, 16))
    return {"rows": rows}


# ---------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------

def _machine_lines(sec):
    m = sec["machine"]
    return [
        "- Command: `%s`" % sec["command"],
        "- Date: %s" % sec["date"],
        "- larder source: %s" % sec.get("source", "unknown"),
        "- Machine: %d cores, %s; kernel %s; Debian %s"
        % (m["nproc"], m["cpu_model"], m["kernel"], m["debian_version"]),
        "- %s; %s; %s" % (m["redis_server"], m["redis_benchmark"],
                          m["valgrind"]),
    ] + _background_lines(sec)


def _background_lines(sec):
    bg = sec["meta"].get("background_busy", {})
    shares = {k: bg[k] for k in ("start", "end")
              if isinstance(bg.get(k), (int, float))}
    if not shares:
        return []
    line = ("- Load from other programs (busy share of all cores over %s s "
            "with the servers idle): %s"
            % (bg.get("seconds"), ", ".join("%.1f%% at the %s" % (100 * v, k)
                                            for k, v in shares.items())))
    if max(shares.values()) > BACKGROUND_NOISY:
        line += (" — other programs were running during this benchmark, so "
                 "its figures are noisier than on an idle machine (the "
                 "alternating rounds and medians are meant to absorb that)")
    return [line + "."]


def _targets_table(targets):
    lines = ["| target | measured | result |", "|---|---|---|"]
    for t in targets:
        unit = " bytes" if "bytes" in t["target"] else "×"
        lines.append("| %s | %s%s | %s%s |" % (
            t["target"], _fmt(t["measured"], 3 if unit == "×" else 1), unit,
            "**met**" if t["met"] else "**not met**",
            " (disturbed)" if t.get("disturbed") else ""))
    if any(t.get("disturbed") for t in targets):
        lines += ["", "\"Disturbed\": in the median kept run of that "
                  "configuration other programs used more CPU than the "
                  "limit (see Notes); the result needs a rerun on an idle "
                  "machine to count. CPU per operation suffers less from "
                  "this than throughput does."]
    return lines


def _disturbance_note(sec):
    """What other programs did to the timed runs, from each run's samples."""
    runs = sec["runs"]
    kept = [r for r in runs if r["kept"]]
    if not kept:
        return []
    limit = sec["params"].get("foreign_max")
    dropped = len(runs) - len(kept)
    foreign = sorted(r["foreign_cores"] for r in kept)
    text = ("CPU used by other programs is measured for every run: all "
            "cores' busy time minus the servers' and redis-benchmark's own. "
            "A set of runs (one configuration against each server) during "
            "which it exceeded %s of a core was discarded and repeated; "
            "%d runs were discarded. In the kept runs other programs used "
            "at most %.2f of a core (median %.2f)."
            % (limit, dropped, foreign[-1], statistics.median(foreign)))
    over = [r for r in kept if limit is not None and r["foreign_cores"] > limit]
    if over:
        text += (" %d kept runs are above the limit: the repeat budget ran "
                 "out, so treat the figures as noisier than the spread "
                 "suggests." % len(over))
    return [text]


def _default_notes(sec):
    notes = []
    p = sec["params"]
    res = sec["results"]
    unsaturated = []
    crowded = []
    limit = p.get("foreign_max")
    for row in res["rows"]:
        shares = [row[s]["server_share_of_core_median"] for s in SERVERS
                  if s in row]
        if shares and all(x is not None and x < SATURATED_SHARE
                          for x in shares):
            client = [row[s]["client_share_of_core_median"]
                      for s in SERVERS if s in row]
            if limit is not None and _foreign(row, SERVERS) > limit:
                crowded.append("%s pipeline %d (larder/redis used %s of a "
                               "core; other programs %.2f cores)" % (
                                   row["test"].upper(), row["pipeline"],
                                   "/".join("%.0f%%" % (100 * x)
                                            for x in shares),
                                   _foreign(row, SERVERS)))
                continue
            unsaturated.append(
                "%s pipeline %d (larder/redis used %s of a core, "
                "redis-benchmark %s)" % (
                    row["test"].upper(), row["pipeline"],
                    "/".join("%.0f%%" % (100 * x) for x in shares),
                    "/".join("%.0f%%" % (100 * x) for x in client)))
    if crowded:
        notes.append(
            "Neither server got %d%% of its core in: %s, because other "
            "programs were using the machine. There throughput measures "
            "the competition for CPU more than the servers; server CPU per "
            "operation is the primary figure, and even it is inflated for "
            "both servers by cache and scheduling interference."
            % (SATURATED_SHARE * 100, ", ".join(crowded)))
    if unsaturated:
        notes.append(
            "Neither server used %d%% of its core in: %s. There the load "
            "generator (one single-threaded redis-benchmark on its own core, "
            "%d connections) limits throughput, so the throughput ratio "
            "mostly measures the client; server CPU per operation is the "
            "primary figure."
            % (SATURATED_SHARE * 100, ", ".join(unsaturated), p["clients"]))
    elif not crowded:
        notes.append(
            "Both servers kept their core at least %d%% busy in every "
            "configuration, so throughput reflects the servers."
            % (SATURATED_SHARE * 100))
    notes += _disturbance_note(sec)
    notes.append(
        "Server CPU is utime+stime of the whole server process "
        "(/proc/PID/stat, %d Hz ticks) over each redis-benchmark run, divided "
        "by the requests of that run (for MGET: by commands, and by keys in "
        "the per-key row). It includes the kernel's share of socket I/O done "
        "in the server's system calls, and the connection setup of each run."
        % CLK_TCK)
    notes.append(
        "On 127.0.0.1 the kernel runs most of a packet's receive path in "
        "the sender's context, on the sender's core: part of each server's "
        "TCP receive work is charged to the client core and part of the "
        "client's to the server core. This applies to both servers alike, "
        "but it means the CPU figures are mostly user space plus send-side "
        "system-call work.")
    diffs = []
    for row in res["rows"]:
        for s in SERVERS:
            if s in row and row[s].get("sched_us_per_op_median"):
                a = row[s]["cpu_us_per_op_median"]
                b = row[s]["sched_us_per_op_median"]
                diffs.append(abs(a - b) / b)
    if diffs:
        notes.append(
            "Cross-check: the scheduler's per-thread run time "
            "(/proc/PID/task/*/sched) agrees with utime+stime within %.1f%% "
            "(largest difference over all medians)." % (max(diffs) * 100))
    errs = sum(row[s]["error_lines"] for row in res["rows"] for s in SERVERS
               if s in row)
    if errs:
        notes.append("redis-benchmark printed %d error lines (see JSON)."
                     % errs)
    ks = sec["meta"].get("keyspace", {})
    for s in SERVERS:
        k = ks.get(s)
        if k:
            notes.append(
                "%s keyspace after the runs: %s keys, keyspace_hits %s, "
                "keyspace_misses %s (GET and MGET keys requested, warm-up "
                "included: %s)." % (s, k.get("dbsize"), k.get("hits"),
                                    k.get("misses"), k.get("expected_hits")))
    mem = res["memory"]
    if mem:
        notes.append(
            "used_memory is what each server's allocator reports as in use: "
            "Redis asks jemalloc (allocated bytes), larderd asks glibc "
            "(mallinfo2 uordblks + hblkhd, chunk headers included). The RSS "
            "column is the growth of VmRSS over the same fill, as a "
            "cross-check that does not trust either server's accounting.")
    return notes


def render_default(sec):
    p = sec["params"]
    res = sec["results"]
    out = ["## Throughput and server CPU per operation", ""]
    out += _machine_lines(sec)
    out += [
        "- Setup: each server on core 0 (`taskset -c 0`), redis-benchmark on "
        "core 1; larderd `--threads 1`, redis-server `--save '' --appendonly "
        "no`; both on 127.0.0.1 and running side by side; %s keys "
        "(`key:000000000000`..) of %d-byte values prefilled through "
        "`redis-cli --pipe`; `redis-benchmark -c %d -r %d -d %d --csv`, GET "
        "and SET via `-t`, MGET as a custom command of %d `key:__rand_int__` "
        "keys; %d rounds alternating larder, redis per configuration; "
        "%s requests per run at pipeline 1 and %s at pipeline 16 (MGET: "
        "half); one unrecorded GET warm-up per server."
        % ("{:,}".format(p["keys"]), p["value_bytes"], p["clients"],
           p["keys"], p["value_bytes"], p["mget_keys"], p["rounds"],
           "{:,}".format(p["n"]), "{:,}".format(p["n16"])),
        "",
        "Medians over rounds. CPU is server CPU time per request in "
        "microseconds; ratios are larder/redis (CPU: lower is better; "
        "throughput: higher is better). \"Per round\" gives the range of "
        "the ratio within paired rounds.",
        "",
        "| command | pipeline | larder ops/s | redis ops/s | throughput "
        "ratio | larder CPU µs/op | redis CPU µs/op | CPU/op ratio | CPU/op "
        "ratio per round | server core use (larder/redis) | "
        "redis-benchmark core use (larder/redis) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in res["rows"]:
        if not all(s in row for s in SERVERS):
            continue
        L, R = row["larder"], row["redis"]
        pr = row["cpu_ratio_per_round"]
        out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                   % (row["test"].upper(), row["pipeline"],
                      _fmt_rate(L["rps_median"]), _fmt_rate(R["rps_median"]),
                      _fmt(row["rps_ratio"]),
                      _fmt(L["cpu_us_per_op_median"], 3),
                      _fmt(R["cpu_us_per_op_median"], 3),
                      _fmt(row["cpu_ratio"]),
                      "%.2f–%.2f" % (min(pr), max(pr)) if pr else "n/a",
                      "%.0f%%/%.0f%%" % (
                          100 * L["server_share_of_core_median"],
                          100 * R["server_share_of_core_median"]),
                      "%.0f%%/%.0f%%" % (
                          100 * L["client_share_of_core_median"],
                          100 * R["client_share_of_core_median"])))
        if row["test"] == "mget":
            out.append("| MGET per key | %d | %s | %s | | %s | %s | %s | | | |"
                       % (row["pipeline"],
                          _fmt_rate(L["rps_median"] * L["keys_per_command"]),
                          _fmt_rate(R["rps_median"] * R["keys_per_command"]),
                          _fmt(L["cpu_us_per_key_median"], 3),
                          _fmt(R["cpu_us_per_key_median"], 3),
                          _fmt(row["cpu_ratio"])))
    out.append("")
    mem = res["memory"]
    if mem:
        out += ["### Memory per key", "",
                "After %s SETs of %d-byte keys and %d-byte values into an "
                "empty server: overhead = (used_memory after − before) / keys "
                "− %d bytes of payload." % (
                    "{:,}".format(p["keys"]), p["key_bytes"],
                    p["value_bytes"], p["key_bytes"] + p["value_bytes"]), "",
                "| server | used_memory before | after | overhead bytes/key "
                "| RSS-based overhead bytes/key |", "|---|---|---|---|---|"]
        for s in SERVERS:
            if s in mem:
                m = mem[s]
                out.append("| %s | %s | %s | %.1f | %.1f |" % (
                    s, "{:,}".format(m["used_memory_before"]),
                    "{:,}".format(m["used_memory_after"]),
                    m["overhead_bytes_per_key"],
                    m["rss_overhead_bytes_per_key"]))
        out.append("")
    out += ["### Targets", ""] + _targets_table(res["targets"]) + [""]
    out += ["### Notes", ""] + ["- " + n for n in _default_notes(sec)]
    out += [""]
    return out


def render_callgrind(sec):
    p = sec["params"]
    res = sec["results"]
    out = ["## Callgrind cross-check: instructions per request", ""]
    out += _machine_lines(sec)
    out += [
        "- Setup: each server alone under `valgrind --tool=callgrind` "
        "(larderd `--threads 1`); %s keys of %d-byte values prefilled; "
        "counters zeroed with `callgrind_control -z` after startup and "
        "prefill, then `redis-benchmark -t get -c %d -r %d -n %s -P <p>` and "
        "`callgrind_control -d`; Ir is the dump's summary line (all "
        "threads, user space only), divided by the GETs the server counted "
        "(keyspace hits + misses over the phase)."
        % ("{:,}".format(p["keys"]), p["value_bytes"], p["clients"],
           p["keys"], p["requests"]),
        "",
        "| command | pipeline | larder Ir/request | redis Ir/request | ratio "
        "| larder hits/misses | redis hits/misses |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in res["phases"]:
        if not all(s in row for s in SERVERS):
            continue
        L, R = row["larder"], row["redis"]
        out.append("| GET | %d | %s | %s | %s | %s/%s | %s/%s |" % (
            row["pipeline"], _fmt_rate(L["ir_per_request"]),
            _fmt_rate(R["ir_per_request"]), _fmt(row["ir_ratio"]),
            L.get("hits"), L.get("misses"), R.get("hits"), R.get("misses")))
    out += ["", "### Targets", ""] + _targets_table(res["targets"]) + [""]
    setup = sec["meta"].get("setup", {})
    notes = [
        "Each measured phase includes redis-benchmark's %d connection "
        "setups and its CONFIG GET probes, the same work for both servers."
        % p["clients"]]
    for s in SERVERS:
        if s in setup:
            notes.append(
                "%s: a separate run of %d requests on %d fresh connections "
                "cost %s Ir, i.e. %.1f%% of the pipeline-1 phase."
                % (s, setup[s]["requests"], p["clients"],
                   "{:,}".format(setup[s]["ir"]),
                   100.0 * setup[s]["ir"] / setup[s]["phase_p1_ir"]
                   if setup[s].get("phase_p1_ir") else float("nan")))
    notes.append(
        "Instruction counts leave out the kernel (system calls, TCP), "
        "cache misses and branch behaviour; the CPU-per-op section measures "
        "those.")
    out += ["### Notes", ""] + ["- " + n for n in notes] + [""]
    return out


def render_scaling(sec):
    p = sec["params"]
    res = sec["results"]
    a, b = sec["meta"]["servers"]
    out = ["## Thread scaling: larderd --threads 1 vs --threads 2", ""]
    out += _machine_lines(sec)
    out += [
        "- Setup: no pinning (servers and load generator share both "
        "cores); %d concurrent `redis-benchmark -r %d -d %d` processes "
        "sharing %d connections and the requests equally, throughputs "
        "summed; %s keys prefilled; %d rounds alternating 1 and 2 threads; "
        "%s requests at pipeline 1, %s at pipeline 16 (MGET: half). "
        "Reported without a target."
        % (p["client_processes"], p["keys"], p["value_bytes"], p["clients"],
           "{:,}".format(p["keys"]), p["rounds"], "{:,}".format(p["n"]),
           "{:,}".format(p["n16"])),
        "",
        "| command | pipeline | 1 thread ops/s | 2 threads ops/s | scaling "
        "| 1 thread CPU µs/op | 2 threads CPU µs/op | machine busy (1t / 2t) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in res["rows"]:
        if not all(s in row for s in (a, b)):
            continue
        A, B = row[a], row[b]

        def busy(x):
            c = [v for v in x["core_busy_median"] if v is not None]
            return "%.0f%%" % (100 * sum(c) / len(c)) if c else "n/a"
        out.append("| %s | %d | %s | %s | %sx | %s | %s | %s / %s |" % (
            row["test"].upper(), row["pipeline"], _fmt_rate(A["rps_median"]),
            _fmt_rate(B["rps_median"]), _fmt(row["rps_ratio"] and
                                             1 / row["rps_ratio"]),
            _fmt(A["cpu_us_per_op_median"], 3),
            _fmt(B["cpu_us_per_op_median"], 3), busy(A), busy(B)))
    notes = [
        "With two cores shared by the server and the load generator, a "
        "second server thread can only use what the client leaves over; "
        "\"machine busy\" is the mean busy share of all cores during the "
        "runs. This shows whether the threads scale at all, not how far "
        "they would scale on a bigger machine."] + _disturbance_note(sec)
    out += ["", "### Notes", ""] + ["- " + n for n in notes] + [""]
    return out


def render_markdown(doc):
    out = [
        "# larderd compared with Redis on one node",
        "",
        "Produced by `bench/node_vs_redis.sh` (each section records the "
        "exact command); the raw numbers, every run included, are in "
        "[node.json](node.json). Do not edit by hand: rerun the script.",
        "",
    ]
    if "default" in doc:
        out += render_default(doc["default"])
    if "callgrind" in doc:
        out += render_callgrind(doc["callgrind"])
    if "threads_scaling" in doc:
        out += render_scaling(doc["threads_scaling"])
    return "\n".join(out).rstrip() + "\n"


def load_meta(path):
    """Reads 'dotted.key<TAB>value' lines into nested dicts; a value that
    parses as JSON (numbers, lists) is stored parsed, anything else as a
    string."""
    meta = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            key, value = line.split("\t", 1)
            try:
                value = json.loads(value)
            except ValueError:
                pass
            node = meta
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
    return meta


def build_results(mode, section):
    """The figures of one section, derived from its raw runs and facts."""
    meta, runs = section["meta"], section["runs"]
    if mode == "default":
        return build_default(section["params"] | meta, runs)
    if mode == "callgrind":
        return build_callgrind(section["params"] | meta)
    if mode == "threads_scaling":
        return build_scaling(meta, runs)
    raise SystemExit("unknown mode %s" % mode)


def rerender(json_path, md_path):
    """Derives every section's figures again from the raw runs the JSON
    holds and rewrites both files: for when this file's analysis or layout
    changes and the measurements need not be repeated."""
    with open(json_path) as f:
        doc = json.load(f)
    for mode, section in doc.items():
        section["results"] = build_results(mode, section)
        section["format"] = FORMAT
    _write(json_path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    _write(md_path, render_markdown(doc))


def _write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def report(mode, tsv_path, meta_path, json_path, md_path):
    meta = load_meta(meta_path)
    runs = load_runs(tsv_path) if tsv_path != "-" else []
    section = {
        "command": meta.pop("command"),
        "source": meta.pop("source", "unknown"),
        "date": datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "params": meta.pop("params"),
        "meta": meta,
        "runs": runs,
    }
    section["results"] = build_results(mode, section)
    doc = {}
    if os.path.exists(json_path):
        with open(json_path) as f:
            doc = json.load(f)
    for name in [k for k, v in doc.items() if v.get("format") != FORMAT]:
        print("dropping the %s section of %s: written by an older version "
              "of this script; run that mode again" % (name, json_path),
              file=sys.stderr)
        del doc[name]
    section["format"] = FORMAT
    doc[mode] = section
    _write(json_path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    _write(md_path, render_markdown(doc))
    print(render_markdown({mode: section}))


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "free-ports":
        print(" ".join(str(p) for p in free_ports(int(args[0]))))
    elif cmd == "prefill":
        write_prefill(int(args[0]), int(args[1]), sys.stdout.buffer)
    elif cmd == "value":
        sys.stdout.write(value_for(int(args[0]), int(args[1])).decode())
    elif cmd == "sample":
        print(sample(int(args[0]), int(args[1])))
    elif cmd == "foreign":
        print("%.4f" % foreign_load(args[0], args[1]))
    elif cmd == "busy":
        print("%.4f" % machine_busy(float(args[0])))
    elif cmd == "cg-total":
        print(callgrind_total(args[0]))
    elif cmd == "report":
        report(*args)
    elif cmd == "rerender":
        rerender(*args)
    else:
        raise SystemExit("unknown command %s\n%s" % (cmd, __doc__))


if __name__ == "__main__":
    main(sys.argv)
