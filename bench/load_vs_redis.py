#!/usr/bin/env python3
"""The generating, measuring and reporting half of bench/load_vs_redis.sh.

Subcommands (the shell script runs them; each is small and exits):

  free-ports K                 K distinct free TCP ports on 127.0.0.1
  gen ROWS TSV RESP            ROWS rows of 16-byte keys (key:%012d, the
                               names redis-benchmark's key:__rand_int__ -r
                               builds) and 64-byte values, as a TSV file
                               with a header (key<TAB>value) and as a RESP
                               stream of SETs for redis-cli --pipe
  wait-visible PORT TABLE INDEX MODE TIMEOUT
                               polls T.GET TABLE key:INDEX over one
                               connection until it returns the expected
                               value (MODE raw: the 64 bytes; msgpack: the
                               map {"value": str}) every 5 ms; prints the
                               time of the first hit (seconds since the
                               epoch) and its own CPU seconds; fails on a
                               wrong value or a timeout
  check-values PORT CMD ROWS MODE
                               reads a few keys (first, last, some between)
                               with CMD (t.get or get) and checks each value
  node-mem PID                 JSON: the process's Anonymous memory and
                               Rss, and the mappings of *.seg files (count,
                               page-rounded size, Rss, Locked) from smaps
  rss PID                      VmRSS of PID in bytes
  ticks PID                    utime+stime of PID in clock ticks
  sample PID PARENT            one CPU sample: utime+stime of PID, cutime+
                               cstime of PARENT (the script: every child it
                               reaped), busy and total ticks of all cores
  foreign BEFORE AFTER [OWN_S] cores' worth of CPU other programs used
                               between two samples (OWN_S: CPU seconds of
                               ours not yet reaped at AFTER)
  busy SECONDS                 busy share of all cores over SECONDS
  memcached-load PORT ROWS     SETs ROWS keys (noreply) over one connection,
                               then a no-op round trip; prints seconds
  memcached-stats PORT         JSON of the memcached 'stats' reply
  record FILE KIND k=v...      appends one JSON record to FILE (k@=PATH
                               embeds the JSON object in PATH)
  report RESULTS JSON MD       renders the results (JSON lines) into
                               docs/bench/load.json and load.md
  rerender JSON MD [NOTE...]   renders load.md again from the records kept in
                               load.json, adding NOTEs (what the machine was
                               doing, say) as notes of the run

Only the Python 3 standard library is used.
"""

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
PAGE = os.sysconf("SC_PAGE_SIZE")

KEY_FORMAT = b"key:%012d"
KEY_BYTES = 16
VALUE_BYTES = 64

# Targets from the issue (see docs/benchmarks.md).
TARGET_BUILD_ROWS_S = 2_000_000
TARGET_E2E_RATIO = 3.0
GOAL_E2E_RATIO = 5.0
TARGET_OVERHEAD = 16.0

# Busy share of the machine (servers idle) above which the report says
# other programs were running.
BACKGROUND_NOISY = 0.05


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def value_for(index):
    seed = b"v%011d." % index
    return (seed * (VALUE_BYTES // len(seed) + 1))[:VALUE_BYTES]


def msgpack_value(index):
    """What the loader stores for a TSV row without --value-field: the map
    {"value": <str>}; a 64-byte str is a str8."""
    return b"\x81\xa5value\xd9" + bytes([VALUE_BYTES]) + value_for(index)


def gen(rows, tsv_path, resp_path):
    step = 65536
    with open(tsv_path, "wb") as tsv, open(resp_path, "wb") as resp:
        tsv.write(b"key\tvalue\n")
        for start in range(0, rows, step):
            idx = range(start, min(rows, start + step))
            keys = [KEY_FORMAT % i for i in idx]
            vals = [value_for(i) for i in idx]
            tsv.write(b"".join(k + b"\t" + v + b"\n"
                               for k, v in zip(keys, vals)))
            resp.write(b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\n" + k +
                                b"\r\n$64\r\n" + v + b"\r\n"
                                for k, v in zip(keys, vals)))


# ---------------------------------------------------------------------------
# A minimal RESP client
# ---------------------------------------------------------------------------

class Resp:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("connection closed by the server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("connection closed by the server")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"_":
            return None
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            return ("error", rest.decode(errors="replace"))
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise SystemExit("unexpected reply %r" % line)


def expected(index, mode):
    return value_for(index) if mode == "raw" else msgpack_value(index)


def wait_visible(port, table, index, mode, timeout):
    t0 = time.monotonic()
    want = expected(index, mode)
    conn = None
    last = None
    while time.monotonic() - t0 < timeout:
        try:
            if conn is None:
                conn = Resp(port)
            got = conn.call("T.GET", table, KEY_FORMAT % index)
        except OSError as e:
            conn, got = None, ("error", str(e))
        if got == want:
            own = os.times()
            print("%.6f %.3f" % (time.time(), own.user + own.system))
            return
        if isinstance(got, bytes):
            raise SystemExit("T.GET %s key %d returned %r, expected %r"
                             % (table, index, got, want))
        last = got
        time.sleep(0.005)
    raise SystemExit("T.GET %s key %d not visible after %ss (last reply %r)"
                     % (table, index, timeout, last))


def check_values(port, cmd, rows, mode):
    conn = Resp(port)
    picks = sorted({0, 1, 42 % rows, rows // 3, rows // 2, rows - 1})
    for i in picks:
        args = ("T.GET", "bench") if cmd == "t.get" else ("GET",)
        got = conn.call(*args, KEY_FORMAT % i)
        if got != expected(i, mode):
            raise SystemExit("%s key:%012d returned %r, expected %r"
                             % (cmd.upper(), i, got, expected(i, mode)))
    got = conn.call(*(("T.GET", "bench") if cmd == "t.get" else ("GET",)),
                    KEY_FORMAT % rows)
    if got is not None:
        raise SystemExit("%s of absent key:%012d returned %r"
                         % (cmd.upper(), rows, got))
    print("ok %d keys" % (len(picks) + 1))


# ---------------------------------------------------------------------------
# Process measurements
# ---------------------------------------------------------------------------

def node_mem(pid):
    anon = rss = 0
    segs = {"count": 0, "mapped_bytes": 0, "rss_bytes": 0,
            "locked_bytes": 0, "pmd_bytes": 0, "file_bytes": 0}
    files = set()
    cur_seg = False
    header = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = header.match(line)
            if m:
                path = m.group(3)
                cur_seg = path.endswith(".seg")
                if cur_seg:
                    segs["count"] += 1
                    segs["mapped_bytes"] += (int(m.group(2), 16) -
                                             int(m.group(1), 16))
                    if path not in files:
                        files.add(path)
                        try:
                            segs["file_bytes"] += os.stat(path).st_size
                        except OSError:
                            pass
                continue
            if line.startswith("Anonymous:"):
                anon += int(line.split()[1]) * 1024
            elif line.startswith("Rss:"):
                kb = int(line.split()[1]) * 1024
                rss += kb
                if cur_seg:
                    segs["rss_bytes"] += kb
            elif line.startswith("Locked:") and cur_seg:
                segs["locked_bytes"] += int(line.split()[1]) * 1024
            elif line.startswith("FilePmdMapped:") and cur_seg:
                segs["pmd_bytes"] += int(line.split()[1]) * 1024
    print(json.dumps({"anon_bytes": anon, "rss_bytes": rss,
                      "segments": segs}))


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def sample(pid, parent):
    with open("/proc/%d/stat" % parent) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    child = int(fields[13]) + int(fields[14])
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    busy, total = sum(v) - v[3] - v[4], sum(v)
    return "%d %d %d %d %d" % (ticks(pid), child, busy, total,
                               os.cpu_count())


def foreign(before, after, own_s=0.0):
    b = [int(x) for x in before.split()]
    a = [int(x) for x in after.split()]
    ours = (a[0] - b[0]) + (a[1] - b[1]) + own_s * CLK_TCK
    busy, total, ncpu = a[2] - b[2], a[3] - b[3], a[4]
    if total <= 0:
        return 0.0
    return max(0.0, (busy - ours) / (total / ncpu))


def machine_busy(seconds):
    def totals():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v) - v[3] - v[4], sum(v)
    b0, t0 = totals()
    time.sleep(seconds)
    b1, t1 = totals()
    return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


# ---------------------------------------------------------------------------
# memcached
# ---------------------------------------------------------------------------

def memcached_load(port, rows):
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    t0 = time.monotonic()
    step = 16384
    for start in range(0, rows, step):
        sock.sendall(b"".join(
            b"set " + KEY_FORMAT % i + b" 0 0 64 noreply\r\n" +
            value_for(i) + b"\r\n"
            for i in range(start, min(rows, start + step))))
    sock.sendall(b"mn\r\n")
    buf = b""
    while b"MN\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise SystemExit("memcached closed the connection")
        buf += chunk
    if buf != b"MN\r\n":
        raise SystemExit("memcached replied %r to the sets" % buf[:200])
    # Spot-check a value.
    i = rows // 2
    sock.sendall(b"get " + KEY_FORMAT % i + b"\r\n")
    want = (b"VALUE " + KEY_FORMAT % i + b" 0 64\r\n" + value_for(i) +
            b"\r\nEND\r\n")
    buf = b""
    while not buf.endswith(b"END\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    if buf != want:
        raise SystemExit("memcached get key %d replied %r" % (i, buf[:200]))
    print("%.4f" % (time.monotonic() - t0))


def memcached_stats(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    out = {}
    for cmd in (b"stats\r\n", b"stats slabs\r\n"):
        sock.sendall(cmd)
        buf = b""
        while not buf.endswith(b"END\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        for line in buf.decode().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "STAT":
                key = parts[1] if cmd == b"stats\r\n" else "slabs." + parts[1]
                try:
                    out[key] = int(parts[2])
                except ValueError:
                    out[key] = parts[2]
    print(json.dumps(out))


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------

def _parse_value(v):
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def record(path, kind, pairs):
    rec = {"kind": kind}
    for p in pairs:
        if "@=" in p:
            k, v = p.split("@=", 1)
            with open(v) as f:
                text = f.read().strip()
            try:
                rec[k] = json.loads(text)
            except ValueError:
                raise SystemExit("record %s: %s is not JSON: %r"
                                 % (kind, v, text[:300]))
        else:
            k, v = p.split("=", 1)
            rec[k] = _parse_value(v)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def _run(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        debian = "unknown"
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    return {"nproc": os.cpu_count(), "cpu_model": cpu,
            "kernel": platform.release(), "debian_version": debian,
            "mem_total_bytes": mem,
            "redis_server": _run(["redis-server", "--version"]),
            "redis_benchmark": _run(["redis-benchmark", "--version"]),
            "memcached": _run(["memcached", "-V"])}


def _med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _rate(x):
    return "n/a" if x is None else "{:,.0f}".format(x)


def _f(x, d=2):
    return "n/a" if x is None else "%.*f" % (d, x)


def _int(x):
    return "n/a" if x is None else "{:,}".format(int(x))


def _range(xs, fmt):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/a"
    return "%s–%s" % (fmt(min(xs)), fmt(max(xs)))


PHASES = ("read", "build", "publish", "wait", "activate")


def _cpu(r, own_key=None):
    """Adds server/client CPU seconds, wall-clock core shares and the load
    of other programs to a record with sample_before/sample_after."""
    if "sample_before" not in r:
        return r
    b = [int(x) for x in str(r["sample_before"]).split()]
    a = [int(x) for x in str(r["sample_after"]).split()]
    own = r.get(own_key, 0.0) if own_key else 0.0
    r["server_cpu_s"] = (a[0] - b[0]) / CLK_TCK
    r["client_cpu_s"] = max(0.0, (a[1] - b[1]) / CLK_TCK - own)
    r["sampled_s"] = (a[3] - b[3]) / a[4] / CLK_TCK
    r["foreign_cores"] = foreign(r["sample_before"], r["sample_after"])
    return r


def summarize(recs):
    meta = {}
    for r in recs:
        if r["kind"] == "meta":
            meta.update({k: v for k, v in r.items() if k != "kind"})
    rows = meta["rows"]
    larder = [_cpu(r, "poller_cpu_s") for r in recs
              if r["kind"] == "load_larder"]
    redis = [_cpu(r) for r in recs if r["kind"] == "load_redis"]
    ref = [_cpu(r, "poller_cpu_s") for r in recs
           if r["kind"] == "load_larder_msgpack"]
    out = {"meta": meta, "rounds": [],
           "notes": [r["text"] for r in recs if r["kind"] == "note"]}

    def phase_table(rs):
        t = {}
        for ph in PHASES + ("total",):
            secs = [r["summary"]["seconds"][ph] for r in rs]
            t[ph] = {"seconds_median": _med(secs),
                     "seconds": secs,
                     "rows_s_median": _med([rows / s if s > 0 else None
                                            for s in secs])}
        t["peak_rss_bytes"] = _med([r["summary"]["peak_rss_bytes"]
                                    for r in rs])
        return t

    for r in larder:
        rr = next((x for x in redis if x["round"] == r["round"]), None)
        out["rounds"].append({
            "round": r["round"],
            "larder_node_cpu_s": r.get("server_cpu_s"),
            "larder_loader_cpu_s": r.get("client_cpu_s"),
            "larder_foreign_cores": r.get("foreign_cores"),
            "redis_server_cpu_s": rr.get("server_cpu_s") if rr else None,
            "redis_cli_cpu_s": rr.get("client_cpu_s") if rr else None,
            "redis_foreign_cores": rr.get("foreign_cores") if rr else None,
            "larder_e2e_s": r["wall_s"],
            "larder_visible_s": r["wall_s"] + r["visible_after_s"],
            "redis_s": rr["wall_s"] if rr else None,
            "ratio": (rr["wall_s"] / r["wall_s"]) if rr else None,
            "ratio_visible": (rr["wall_s"] / (r["wall_s"] +
                              r["visible_after_s"])) if rr else None,
        })
    e2e = _med([r["wall_s"] for r in larder])
    vis = _med([r["wall_s"] + r["visible_after_s"] for r in larder])
    red = _med([r["wall_s"] for r in redis])
    out["load"] = {
        "larder_e2e_s_median": e2e,
        "larder_e2e_rows_s_median": _med([rows / r["wall_s"]
                                          for r in larder]),
        "larder_visible_s_median": vis,
        "larder_visible_rows_s_median": _med(
            [rows / (r["wall_s"] + r["visible_after_s"]) for r in larder]),
        "switch_lag_s_median": _med([r["visible_after_s"] for r in larder]),
        "redis_s_median": red,
        "redis_rows_s_median": _med([rows / r["wall_s"] for r in redis]),
        "phases_raw": phase_table(larder) if larder else None,
        "phases_msgpack": phase_table(ref) if ref else None,
        "msgpack_e2e_s": ref[0]["wall_s"] if ref else None,
        "msgpack_visible_after_s": ref[0]["visible_after_s"] if ref else None,
    }
    if larder:
        meta["partitions"] = larder[0]["summary"]["partitions"]
    ld = out["load"]
    ld["ratio"] = (ld["larder_e2e_rows_s_median"] /
                   ld["redis_rows_s_median"]
                   if ld["redis_rows_s_median"] else None)
    ld["ratio_visible"] = (ld["larder_visible_rows_s_median"] /
                           ld["redis_rows_s_median"]
                           if ld["redis_rows_s_median"] else None)

    # Memory.
    mem = {}
    lm = []
    for r in larder:
        before, after, s = r["mem_before"], r["mem_after"], r["summary"]
        anon = after["anon_bytes"] - before["anon_bytes"]
        mapped = after["segments"]["mapped_bytes"]
        seg_rss = after["segments"]["rss_bytes"]
        payload = s["key_bytes"] + s["value_bytes"]
        lm.append({
            "round": r["round"], "keys": s["rows"], "anon_growth": anon,
            "seg_mapped_bytes": mapped, "seg_rss_bytes": seg_rss,
            "seg_file_bytes": after["segments"]["file_bytes"],
            "seg_locked_bytes": after["segments"]["locked_bytes"],
            "seg_pmd_bytes": after["segments"]["pmd_bytes"],
            "seg_count": after["segments"]["count"],
            "payload_bytes": payload,
            "overhead_per_key": (anon + mapped - payload) / s["rows"],
            "overhead_per_key_rss": (anon + seg_rss - payload) / s["rows"],
            "overhead_per_key_files": (s["bytes"] - payload) / s["rows"],
        })
    mem["larder"] = lm
    rm = []
    for r in redis:
        used = r.get("used_memory_settled", r["used_memory_after"]) \
            - r["used_memory_before"]
        right_after = r["used_memory_after"] - r["used_memory_before"]
        rm.append({"round": r["round"], "keys": rows, "used_growth": used,
                   "rss_growth": r["rss_after"] - r["rss_before"],
                   "overhead_per_key": used / rows - 80,
                   "overhead_per_key_right_after": right_after / rows - 80,
                   "rehash_wait_s": r.get("rehash_wait_s"),
                   "overhead_per_key_rss":
                       (r["rss_after"] - r["rss_before"]) / rows - 80})
    mem["redis"] = rm
    mc = [r for r in recs if r["kind"] == "memcached"]
    if mc:
        m = mc[0]
        n = m["keys"]
        b0, b1 = m["stats_before"], m["stats_after"]
        mem["memcached"] = {
            "keys": n, "load_s": m["wall_s"],
            "curr_items": b1.get("curr_items"),
            "evictions": b1.get("evictions"),
            "bytes_growth": b1["bytes"] - b0["bytes"],
            "malloced_growth": (b1.get("slabs.total_malloced", 0) -
                                b0.get("slabs.total_malloced", 0)),
            "rss_growth": m["rss_after"] - m["rss_before"],
            "overhead_per_key": (b1["bytes"] - b0["bytes"]) / n - 80,
            "overhead_per_key_malloced":
                (b1.get("slabs.total_malloced", 0) -
                 b0.get("slabs.total_malloced", 0)) / n - 80,
            "overhead_per_key_rss":
                (m["rss_after"] - m["rss_before"]) / n - 80,
        }
    out["memory"] = mem

    # T.GET vs GET.
    runs = [_cpu(r) for r in recs if r["kind"] == "get"]
    gets = {}
    for name in ("larder_tget", "larder_get", "redis_get"):
        sel = [r for r in runs if r["name"] == name]
        if not sel:
            continue
        for r in sel:
            r["cpu_us_per_op"] = r["server_cpu_s"] / r["requests"] * 1e6
            r["core_share"] = r["server_cpu_s"] / r["sampled_s"]
            r["client_core_share"] = r["client_cpu_s"] / r["sampled_s"]
        gets[name] = {
            "rounds": len(sel),
            "rps_median": _med([r["rps"] for r in sel]),
            "rps": [r["rps"] for r in sel],
            "cpu_us_per_op_median": _med([r["cpu_us_per_op"] for r in sel]),
            "cpu_us_per_op": [r["cpu_us_per_op"] for r in sel],
            "core_share_median": _med([r["core_share"] for r in sel]),
            "client_core_share_median": _med([r["client_core_share"]
                                              for r in sel]),
            "foreign_cores": [r["foreign_cores"] for r in sel],
            "hits": sum(r["hits"] for r in sel),
            "misses": sum(r["misses"] for r in sel),
            "requests": sum(r["requests"] for r in sel),
        }
    out["gets"] = gets
    extra = [r for r in recs if r["kind"] == "get_setup"]
    out["get_setup"] = extra[0] if extra else None

    targets = []
    if larder:
        b = ld["phases_raw"]["build"]["rows_s_median"]
        targets.append({"target": "build phase >= 2M rows/s (raw values)",
                        "measured": "%s rows/s" % _rate(b),
                        "met": b is not None and b >= TARGET_BUILD_ROWS_S})
    if ld["ratio"] is not None:
        targets.append({
            "target": "end to end (loader start to activation) >= 3x Redis "
                      "rows/s", "measured": "%.2f×" % ld["ratio"],
            "met": ld["ratio"] >= TARGET_E2E_RATIO})
        targets.append({
            "target": "goal: end to end >= 5x Redis rows/s",
            "measured": "%.2f×" % ld["ratio"],
            "met": ld["ratio"] >= GOAL_E2E_RATIO})
    if lm:
        o = _med([x["overhead_per_key"] for x in lm])
        targets.append({
            "target": "memory overhead per key on the node <= 16 bytes",
            "measured": "%.2f bytes" % o, "met": o <= TARGET_OVERHEAD})
    out["targets"] = targets
    return out


def render(s):
    meta = s["meta"]
    m = meta["machine"]
    rows = meta["rows"]
    L = []
    w = L.append
    w("# Bulk load: larder-load against redis-cli --pipe")
    w("")
    w("Produced by `bench/load_vs_redis.sh`; the raw records of every run "
      "are in [load.json](load.json). Do not edit by hand: rerun the script.")
    w("")
    w("The read and build rates of every input format (TSV, CSV, JSONL, "
      "msgpack, Avro) on the same rows are in "
      "[load-formats.md](load-formats.md) (`bench/load_formats.sh`).")
    w("")
    w("- Command: `%s`" % meta["command"])
    w("- Date: %s" % meta["date"])
    w("- larder source: %s" % meta["source"])
    w("- Machine: %d cores, %s, %.1f GiB RAM; kernel %s; Debian %s" %
      (m["nproc"], m["cpu_model"], m["mem_total_bytes"] / 2**30,
       m["kernel"], m["debian_version"]))
    w("- %s; %s; %s" % (m["redis_server"], m["redis_benchmark"],
                        m["memcached"]))
    bb, be = meta.get("busy_start"), meta.get("busy_end")
    if bb is not None and be is not None:
        noisy = max(bb, be) > BACKGROUND_NOISY
        w("- Load from other programs (busy share of all cores over 3 s, "
          "nothing of ours running): %.1f%% at the start, %.1f%% at the "
          "end%s" % (bb * 100, be * 100,
                     " — other programs were running, so the figures are "
                     "noisier than on an idle machine (alternating rounds "
                     "and medians are meant to absorb that)" if noisy
                     else ""))
    w("- Data: %s rows, 16-byte keys `key:000000000000`.. (the names "
      "redis-benchmark's `key:__rand_int__` draws), 64-byte values; TSV "
      "%s bytes with a header `key<TAB>value`, RESP (`SET key value`) "
      "%s bytes; both generated before the timed runs into %s (%s) and "
      "in the page cache when read" %
      (_int(rows), _int(meta["tsv_bytes"]), _int(meta["resp_bytes"]),
       meta["tmp_fs"], meta["tmp_dev"]))
    w("- larder: `larderd --threads 1 --batch-memory %s` with a fresh "
      "`--data-dir` per round, not pinned; `larder-load --membership "
      "local:<data-dir>/membership --store file://<data-dir>/store --table "
      "bench --format tsv --key key --value-field value --json` (default "
      "options otherwise: %s partitions, 4 build threads); the loader's "
      "scratch directory on the same file system" %
      (meta["batch_memory"], meta.get("partitions", 256)))
    w("- Redis: `redis-server --save '' --appendonly no` (and "
      "`--enable-debug-command local`, for `DEBUG HTSTATS`), not pinned, "
      "`FLUSHALL` before each round; timed: `redis-cli --pipe < file.resp` "
      "only")
    w("- %d rounds alternating larder, redis; medians over rounds" %
      meta["rounds"])
    w("")
    ld = s["load"]
    w("## End to end")
    w("")
    w("| | seconds (median) | rows/s (median) | per round |")
    w("|---|---:|---:|---|")
    rr = s["rounds"]
    w("| larder-load start → activation (loader exit) | %s | %s | %s s |" %
      (_f(ld["larder_e2e_s_median"]), _rate(ld["larder_e2e_rows_s_median"]),
       ", ".join(_f(r["larder_e2e_s"]) for r in rr)))
    w("| larder-load start → first T.GET hit on the node | %s | %s | %s s |"
      % (_f(ld["larder_visible_s_median"]),
         _rate(ld["larder_visible_rows_s_median"]),
         ", ".join(_f(r["larder_visible_s"]) for r in rr)))
    w("| redis-cli --pipe | %s | %s | %s s |" %
      (_f(ld["redis_s_median"]), _rate(ld["redis_rows_s_median"]),
       ", ".join(_f(r["redis_s"]) for r in rr)))
    lc = _med([r["larder_node_cpu_s"] + r["larder_loader_cpu_s"]
               for r in rr if r["larder_node_cpu_s"] is not None])
    rc = _med([r["redis_server_cpu_s"] + r["redis_cli_cpu_s"]
               for r in rr if r["redis_server_cpu_s"] is not None])
    ld["larder_cpu_s_median"], ld["redis_cpu_s_median"] = lc, rc
    w("| CPU seconds used (median; larder: node + loader, redis: server + "
      "redis-cli) | larder %s, redis %s | | redis ÷ larder: %s× |" %
      (_f(lc), _f(rc), _f(rc / lc if lc and rc else None)))
    w("| **ratio larder rows/s ÷ redis rows/s** | | **%s×** (to the first "
      "hit: %s×) | %s |" %
      (_f(ld["ratio"]), _f(ld["ratio_visible"]),
       ", ".join(_f(r["ratio"]) + "×" for r in rr)))
    w("")
    w("Per round: CPU seconds of our processes over the timed interval "
      "(utime+stime from /proc; larder: the node, and the loader with the "
      "script's short helpers; Redis: redis-server, and redis-cli), and the "
      "CPU other programs on the machine used meanwhile, in cores (busy "
      "ticks of all cores minus ours).")
    w("")
    w("| round | larder s | larderd CPU s | loader CPU s | other programs "
      "(cores) | redis s | redis-server CPU s (core use) | redis-cli CPU s | "
      "other programs (cores) | ratio |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rr:
        red_use = (r["redis_server_cpu_s"] / r["redis_s"]
                   if r["redis_server_cpu_s"] is not None and r["redis_s"]
                   else None)
        w("| %d | %s | %s | %s | %s | %s | %s (%s%%) | %s | %s | %s× |" %
          (r["round"], _f(r["larder_e2e_s"]), _f(r["larder_node_cpu_s"]),
           _f(r["larder_loader_cpu_s"]), _f(r["larder_foreign_cores"]),
           _f(r["redis_s"]), _f(r["redis_server_cpu_s"]),
           _f(red_use * 100 if red_use is not None else None, 0),
           _f(r["redis_cli_cpu_s"]), _f(r["redis_foreign_cores"]),
           _f(r["ratio"])))
    w("")
    w("## larder-load phases")
    w("")
    w("From the loader's `--json` summary (`seconds`), rows/s = %s rows ÷ "
      "phase seconds; medians over rounds for raw values, one run for the "
      "msgpack map (`{\"value\": str}`, 73 bytes, no `--value-field`)." %
      _int(rows))
    w("")
    w("| phase | raw: seconds | raw: rows/s | raw: per round (s) | "
      "msgpack: seconds | msgpack: rows/s |")
    w("|---|---:|---:|---|---:|---:|")
    pr, pm = ld["phases_raw"], ld["phases_msgpack"]
    for ph in PHASES + ("total",):
        a = pr[ph]
        b = pm[ph] if pm else {"seconds_median": None, "rows_s_median": None}
        w("| %s | %s | %s | %s | %s | %s |" %
          (ph, _f(a["seconds_median"], 3), _rate(a["rows_s_median"]),
           ", ".join(_f(x, 3) for x in a["seconds"]),
           _f(b["seconds_median"], 3), _rate(b["rows_s_median"])))
    w("| loader peak RSS | %s MB | | | %s MB | |" %
      (_f(pr["peak_rss_bytes"] / 1e6, 0),
       _f(pm["peak_rss_bytes"] / 1e6, 0) if pm else "n/a"))
    w("")
    w("`wait` is the node's pull: it copies every segment from the store "
      "into its data directory, verifies its checksum, maps, populates and "
      "`mlock`s it. `total` is the loader's own total, which is a little "
      "less than the end-to-end wall time above (process start, option "
      "parsing, scratch cleanup).")
    w("")
    w("## Memory per key")
    w("")
    w("Overhead = (memory growth − key bytes − value bytes) ÷ keys; the "
      "payload is 80 bytes a key (16 + 64).")
    w("")
    w("| server | keys | how measured | growth | overhead bytes/key | "
      "cross-checks (bytes/key) |")
    w("|---|---:|---|---:|---:|---|")
    lm = s["memory"]["larder"]
    if lm:
        x = lm[0]
        o = _med([y["overhead_per_key"] for y in lm])
        w("| larder (batch table) | %s | growth of the node's Anonymous "
          "memory (smaps) + page-rounded size of every `.seg` mapping "
          "(%d mappings) | %s + %s | **%s** (median of %d rounds: %s) | "
          "with the mappings' Rss instead of their size: %s; segment files "
          "alone: %s |" %
          (_int(x["keys"]), x["seg_count"], _int(x["anon_growth"]),
           _int(x["seg_mapped_bytes"]), _f(o), len(lm),
           ", ".join(_f(y["overhead_per_key"]) for y in lm),
           _f(_med([y["overhead_per_key_rss"] for y in lm])),
           _f(_med([y["overhead_per_key_files"] for y in lm]))))
    rm = s["memory"]["redis"]
    if rm:
        w("| redis | %s | INFO used_memory growth, once the main hash "
          "table's incremental rehash had finished (%s s after the load) | "
          "%s | **%s** "
          "(rounds: %s) | right after the load (old and new hash table "
          "both allocated while rehashing): %s; RSS growth, round 1 (fresh "
          "server): %s |" %
          (_int(rows), ", ".join(_int(y["rehash_wait_s"]) for y in rm),
           _int(_med([y["used_growth"] for y in rm])),
           _f(_med([y["overhead_per_key"] for y in rm])),
           ", ".join(_f(y["overhead_per_key"]) for y in rm),
           ", ".join(_f(y["overhead_per_key_right_after"]) for y in rm),
           _f(rm[0]["overhead_per_key_rss"])))
    mc = s["memory"].get("memcached")
    if mc:
        w("| memcached | %s | `stats` bytes growth | %s | **%s** | slab "
          "pages (total_malloced): %s; RSS growth: %s |" %
          (_int(mc["keys"]), _int(mc["bytes_growth"]),
           _f(mc["overhead_per_key"]), _f(mc["overhead_per_key_malloced"]),
           _f(mc["overhead_per_key_rss"])))
    w("")
    g = s["gets"]
    if g:
        gs = s["get_setup"] or {}
        w("## T.GET on the batch table against GET")
        w("")
        w("- Setup: a fresh `larderd --threads 1` pinned to core 0 "
          "(`taskset -c 0`) holding the batch table `bench` (%s rows, "
          "loaded with larder-load as above) and its live table `default` "
          "prefilled with the same %s keys and values through `redis-cli "
          "--pipe`; a redis-server pinned to core 0 holding the same keys; "
          "`redis-benchmark -h 127.0.0.1 -c 50 -P %s -n %s -r %s --csv` "
          "pinned to core 1 with the custom command `T.GET bench "
          "key:__rand_int__` or `GET key:__rand_int__`; %d rounds "
          "alternating larder T.GET, larder GET, redis GET, after one "
          "unrecorded warm-up each" %
          (_int(rows), _int(gs.get("live_keys")), gs.get("pipeline"),
           _int(gs.get("requests")), _int(gs.get("live_keys")),
           g["larder_tget"]["rounds"]))
        w("- Server CPU is utime+stime of the whole server process "
          "(/proc/PID/stat, %d Hz ticks) over each run ÷ requests." %
          CLK_TCK)
        w("")
        w("| command | server | ops/s (median) | per round | CPU µs/op "
          "(median) | per round | server core use | client core use | "
          "other programs (cores, per round) | hits / misses |")
        w("|---|---|---:|---|---:|---|---:|---:|---|---|")
        for name, cmd, srv in (("larder_tget", "T.GET bench (batch)",
                                "larder"),
                               ("larder_get", "GET (live `default`)",
                                "larder"),
                               ("redis_get", "GET", "redis")):
            if name not in g:
                continue
            x = g[name]
            w("| %s | %s | %s | %s | %s | %s | %d%% | %d%% | %s | %s / %s |" %
              (cmd, srv, _rate(x["rps_median"]),
               ", ".join(_rate(v) for v in x["rps"]),
               _f(x["cpu_us_per_op_median"], 3),
               ", ".join(_f(v, 3) for v in x["cpu_us_per_op"]),
               round(x["core_share_median"] * 100),
               round(x["client_core_share_median"] * 100),
               ", ".join(_f(v) for v in x["foreign_cores"]),
               _int(x["hits"]), _int(x["misses"])))
        if "larder_tget" in g and "larder_get" in g:
            a, b = g["larder_tget"], g["larder_get"]
            w("")
            w("Ratios (medians): T.GET ÷ larder GET: throughput %s×, CPU/op "
              "%s×" % (_f(a["rps_median"] / b["rps_median"]),
                       _f(a["cpu_us_per_op_median"] /
                          b["cpu_us_per_op_median"])), )
            if "redis_get" in g:
                c = g["redis_get"]
                L[-1] += ("; T.GET ÷ redis GET: throughput %s×, CPU/op %s×." %
                          (_f(a["rps_median"] / c["rps_median"]),
                           _f(a["cpu_us_per_op_median"] /
                              c["cpu_us_per_op_median"])))
        w("")
    w("## Targets")
    w("")
    w("| target | measured | result |")
    w("|---|---|---|")
    for t in s["targets"]:
        w("| %s | %s | **%s** |" % (t["target"], t["measured"],
                                    "met" if t["met"] else "not met"))
    w("")
    notes = s.get("notes", [])
    auto = []
    if ld["switch_lag_s_median"] is not None:
        lags = [r["larder_visible_s"] - r["larder_e2e_s"]
                for r in s["rounds"]]
        auto.append("The loader activates with a compare-and-set of the "
                    "active map and then cleans up (scratch directory, lock) "
                    "before it exits; the node notices the new map on its "
                    "next membership poll (`--watch-interval-ms`, 100 ms). "
                    "The first T.GET hit came %s ms after the loader's exit "
                    "(per round; negative: before the exit, while the loader "
                    "was still cleaning up). A reader that queries right "
                    "after `larder-load` returns can therefore still get "
                    "`-NOTABLE` (first load) or the previous version for up "
                    "to one poll interval." %
                    ", ".join("%.0f" % (x * 1000) for x in lags))
    pr = ld["phases_raw"]
    if pr:
        big = max(PHASES, key=lambda p: pr[p]["seconds_median"] or 0)
        auto.append("The largest phase was `%s` (%s s of %s s)." %
                    (big, _f(pr[big]["seconds_median"]),
                     _f(pr["total"]["seconds_median"])))
    auto.append("Disk and page cache: the TSV and RESP inputs were written "
                "just before the runs and read into the page cache again "
                "right before each timed run (%.0f GiB RAM; this machine's "
                "kernel pages out memory left untouched for a few seconds, "
                "DAMON's pageout scheme, so an input idle during the other "
                "side's round would otherwise be read from disk). larder "
                "writes the data three times on the way to the node — the "
                "loader's run files, the segments (which the `file://` "
                "store on the same file system takes by fsync and rename), "
                "the node's copy into its data directory — all on the same "
                "disk here; Redis writes nothing (`--save ''`, no AOF). A "
                "real deployment with an S3 store and a node on another "
                "machine moves the data over the network instead. Each of "
                "those writes takes new page-cache pages, and in this VM a "
                "page the kernel has not used for a while costs several "
                "times a recycled one (writing 1 GB to a new file took 1.15 "
                "s of system time, and 0.25 s right after 1 GB had been "
                "freed), the likely reason why rounds after a Redis round, "
                "which frees about 2 GB, "
                "spend more in build and wait than the first." %
                (m["mem_total_bytes"] / 2**30))
    auto.append("Memory, larder: a fresh node per round, measured after the "
                "first T.GET hit. The segments are file-backed `MAP_SHARED` "
                "mappings, populated and `mlock`ed (Locked: %s of %s bytes "
                "in round 1; %s bytes of them mapped with 2 MiB pages, "
                "FilePmdMapped), so they are counted by their mapped size, "
                "every page, not by an allocator's figure. The Anonymous "
                "growth is whatever the node allocated while pulling and "
                "switching (view, per-version tables, thread arenas)." %
                (_int(lm[0]["seg_locked_bytes"]) if lm else "n/a",
                 _int(lm[0]["seg_mapped_bytes"]) if lm else "n/a",
                 _int(lm[0].get("seg_pmd_bytes", 0)) if lm else "n/a"))
    auto.append("Memory, Redis: used_memory is jemalloc's allocated bytes "
                "(it leaves out fragmentation); RSS growth is only "
                "meaningful on the fresh server of round 1, since jemalloc "
                "keeps pages after FLUSHALL. memcached: `bytes` is the sum "
                "of item sizes (header, key, suffix, value, CRLF) and leaves "
                "out slab-class rounding and the hash table; total_malloced "
                "counts whole slab pages; RSS adds the hash table.")
    fl = [r["larder_foreign_cores"] for r in s["rounds"]
          if r["larder_foreign_cores"] is not None]
    fr = [r["redis_foreign_cores"] for r in s["rounds"]
          if r["redis_foreign_cores"] is not None]
    fg = [v for x in s["gets"].values() for v in x["foreign_cores"]]
    if fl or fr or fg:
        worst = max(fl + fr + fg)
        auto.append("Other programs on the machine used up to %.2f cores "
                    "during the timed larder loads, %.2f during the Redis "
                    "loads and %.2f during the GET runs (of %d cores)%s" %
                    (max(fl) if fl else 0, max(fr) if fr else 0,
                     max(fg) if fg else 0, m["nproc"],
                     ": the figures carry that noise; compare rounds with "
                     "little foreign load, and prefer CPU per operation "
                     "over throughput." if worst > 0.1 else "."))
    low = [(n, x) for n, x in s["gets"].items()
           if x["core_share_median"] < 0.9]
    if low:
        auto.append("In the GET runs the servers used %s of their core "
                    "(medians): they were not the bottleneck, the load "
                    "generator (one redis-benchmark process on one core, "
                    "%d connections) or other programs were, so throughput "
                    "there mostly measures the client; server CPU per "
                    "operation is the primary figure." %
                    (", ".join("%s %.0f%%" % (n, x["core_share_median"] * 100)
                               for n, x in low),
                     (s["get_setup"] or {}).get("clients", 50)))
    w("## Notes")
    w("")
    for n in auto + notes:
        w("- " + n)
    w("")
    return "\n".join(L)


def report(results, json_out, md_out, recs=None):
    if recs is None:
        recs = []
        with open(results) as f:
            for line in f:
                if line.strip():
                    recs.append(json.loads(line))
    s = summarize(recs)
    s["records"] = recs
    with open(json_out + ".tmp", "w") as f:
        json.dump(s, f, indent=1)
        f.write("\n")
    os.replace(json_out + ".tmp", json_out)
    md = render(s)
    with open(md_out + ".tmp", "w") as f:
        f.write(md)
    os.replace(md_out + ".tmp", md_out)
    # A short summary for the terminal.
    ld = s["load"]
    print("end to end: larder %s rows/s, redis %s rows/s, ratio %s×" %
          (_rate(ld["larder_e2e_rows_s_median"]),
           _rate(ld["redis_rows_s_median"]), _f(ld["ratio"])))
    for t in s["targets"]:
        print("  %-60s %-18s %s" % (t["target"], t["measured"],
                                    "met" if t["met"] else "NOT MET"))


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "free-ports":
        socks = []
        for _ in range(int(args[0])):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        print(" ".join(str(s.getsockname()[1]) for s in socks))
        for s in socks:
            s.close()
    elif cmd == "gen":
        gen(int(args[0]), args[1], args[2])
    elif cmd == "wait-visible":
        wait_visible(int(args[0]), args[1], int(args[2]), args[3],
                     float(args[4]))
    elif cmd == "check-values":
        check_values(int(args[0]), args[1], int(args[2]), args[3])
    elif cmd == "node-mem":
        node_mem(int(args[0]))
    elif cmd == "rss":
        print(rss_bytes(int(args[0])))
    elif cmd == "ticks":
        print(ticks(int(args[0])))
    elif cmd == "sample":
        print(sample(int(args[0]), int(args[1])))
    elif cmd == "foreign":
        print("%.4f" % foreign(args[0], args[1],
                               float(args[2]) if len(args) > 2 else 0.0))
    elif cmd == "busy":
        print("%.4f" % machine_busy(float(args[0])))
    elif cmd == "memcached-load":
        memcached_load(int(args[0]), int(args[1]))
    elif cmd == "memcached-stats":
        memcached_stats(int(args[0]))
    elif cmd == "machine":
        print(json.dumps(machine()))
    elif cmd == "record":
        record(args[0], args[1], args[2:])
    elif cmd == "report":
        report(args[0], args[1], args[2])
    elif cmd == "rerender":
        with open(args[0]) as f:
            recs = json.load(f)["records"]
        for r in recs:
            for k in list(r):
                if k not in ("kind", "round", "name", "text") and \
                        k in ("server_cpu_s", "client_cpu_s", "sampled_s",
                              "foreign_cores", "cpu_us_per_op", "core_share",
                              "client_core_share"):
                    del r[k]
        recs += [{"kind": "note", "text": t} for t in args[2:]]
        report(None, args[0], args[1], recs)
    else:
        raise SystemExit("unknown subcommand %s\n%s" % (cmd, __doc__))


if __name__ == "__main__":
    main(sys.argv)
