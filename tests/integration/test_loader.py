#!/usr/bin/env python3
"""larder-load end to end: real loads into a local: membership directory and
a file:// store, with the segments read back and decoded (segment format,
msgpack) by this test.

The cluster side is played by a *fake node* unless a real larderd with batch
tables is available: the fake node writes the member, live, ready and
refusal records a node would write, in the local: layout that
docs/membership.md documents, with this test's own pid as the live process.
That covers waiting, activation, the memory check and refusals. Tests that
need a real node (pulling and verifying segments, T.GET) start larderd and
are skipped while it has no batch tables.

Failure semantics checked in every failing case: the loader exits with the
documented code and says why, the active version does not change, no
partial version is ever activated, the load lock is free afterwards and the
scratch directory does not outlive the next load.
"""

import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GEN_SAMPLE = os.path.join(HERE, "..", "..", "scripts", "gen_sample.py")

EXIT_USAGE, EXIT_DATA, EXIT_NOINPUT = 64, 65, 66
EXIT_UNAVAILABLE, EXIT_MEMORY, EXIT_IO, EXIT_GATE = 69, 71, 74, 75


def loader_path(ctx):
    build = os.path.dirname(os.path.dirname(ctx.opts.larderd))
    path = os.path.join(build, "loader", "larder-load")
    if not os.access(path, os.X_OK):
        h.fail("larder-load not found at %s" % path)
    return path


# ---------------------------------------------------------------------------
# Reading what the loader wrote: msgpack values, segment files
# ---------------------------------------------------------------------------

def msgpack_decode(b, pos=0):
    """Decodes one msgpack object at pos; returns (value, end). Covers the
    types the loader writes (nil, bool, ints, float64, str, array, map)."""
    t = b[pos]
    pos += 1
    if t <= 0x7F:
        return t, pos
    if t >= 0xE0:
        return t - 0x100, pos
    if 0xA0 <= t <= 0xBF:
        n = t & 0x1F
        return b[pos:pos + n].decode("utf-8"), pos + n
    if 0x90 <= t <= 0x9F:
        return _mp_array(b, pos, t & 0x0F)
    if 0x80 <= t <= 0x8F:
        return _mp_map(b, pos, t & 0x0F)
    simple = {0xC0: None, 0xC2: False, 0xC3: True}
    if t in simple:
        return simple[t], pos
    ints = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
            0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q",
            0xCB: ">d", 0xCA: ">f"}
    if t in ints:
        fmt = ints[t]
        n = struct.calcsize(fmt)
        return struct.unpack(fmt, b[pos:pos + n])[0], pos + n
    if t in (0xD9, 0xDA, 0xDB):
        fmt = {0xD9: ">B", 0xDA: ">H", 0xDB: ">I"}[t]
        ln = struct.calcsize(fmt)
        n = struct.unpack(fmt, b[pos:pos + ln])[0]
        pos += ln
        return b[pos:pos + n].decode("utf-8"), pos + n
    if t in (0xDC, 0xDD):
        fmt = ">H" if t == 0xDC else ">I"
        ln = struct.calcsize(fmt)
        return _mp_array(b, pos + ln, struct.unpack(fmt, b[pos:pos + ln])[0])
    if t in (0xDE, 0xDF):
        fmt = ">H" if t == 0xDE else ">I"
        ln = struct.calcsize(fmt)
        return _mp_map(b, pos + ln, struct.unpack(fmt, b[pos:pos + ln])[0])
    h.fail("msgpack type byte 0x%02x not expected from the loader" % t)


def _mp_array(b, pos, n):
    out = []
    for _ in range(n):
        v, pos = msgpack_decode(b, pos)
        out.append(v)
    return out, pos


def _mp_map(b, pos, n):
    out = {}
    for _ in range(n):
        k, pos = msgpack_decode(b, pos)
        v, pos = msgpack_decode(b, pos)
        out[k] = v
    return out, pos


def unpack_value(b):
    v, end = msgpack_decode(b)
    eq(end, len(b), "msgpack value length")
    return v


def _varint(b, pos):
    v = shift = 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, pos


def read_segment(path):
    """The records of a segment (docs/snapshot-format.md): header fields
    rows (offset 32), data_off (56), data_bytes (64); records are varint
    klen, varint vlen, key, value. Returns (header dict, {key: value})."""
    with open(path, "rb") as f:
        b = f.read()
    check(b[:8] == b"LARDSEG\0", "%s: bad magic %r" % (path, b[:8]))
    fmt, part, parts, dims = struct.unpack_from("<IIII", b, 8)
    ver, rows = struct.unpack_from("<QQ", b, 24)
    data_off, data_bytes = struct.unpack_from("<QQ", b, 56)
    out = {}
    pos, end = data_off, data_off + data_bytes
    while pos < end:
        kl, pos = _varint(b, pos)
        vl, pos = _varint(b, pos)
        k = b[pos:pos + kl]
        out[k] = b[pos + kl:pos + kl + vl]
        pos += kl + vl
    eq(len(out), rows, "%s: records vs header rows" % path)
    return {"format": fmt, "partition": part, "partitions": parts,
            "version": ver, "rows": rows}, out


# ---------------------------------------------------------------------------
# A test cluster: membership dir, store dir, scratch parent, fake node
# ---------------------------------------------------------------------------

class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err
        self.json = None
        if out.strip().startswith("{"):
            self.json = json.loads(out)

    def __repr__(self):
        return "exit %s\nstdout: %s\nstderr: %s" % (
            self.code, self.out[-1500:], self.err[-3000:])


def _write_json_atomic(path, doc):
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, ".tmp~fake.%d.%s" % (os.getpid(),
                                               os.path.basename(path)))
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.rename(tmp, path)


class Cluster:
    def __init__(self, ctx):
        self.ctx = ctx
        self.loader = loader_path(ctx)
        self.dir = h.tmpdir()
        self.mdir = os.path.join(self.dir, "membership")
        self.sdir = os.path.join(self.dir, "store")
        self.work = os.path.join(self.dir, "work")
        self.data = os.path.join(self.dir, "data")
        for d in (self.mdir, self.sdir, self.work, self.data):
            os.makedirs(d, exist_ok=True)

    def args(self, table, inputs, *extra):
        a = [self.loader, "--membership", "local:" + self.mdir,
             "--store", "file://" + self.sdir, "--table", table,
             "--work-dir", self.work, "--input"]
        a += inputs if isinstance(inputs, list) else [inputs]
        return a + [str(x) for x in extra]

    def start(self, table, inputs, *extra, env=None):
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.Popen(self.args(table, inputs, *extra),
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=e, preexec_fn=h._pdeathsig)
        h._started.append(p)
        return p

    def finish(self, p, timeout=120):
        try:
            out, err = p.communicate(timeout=h.scaled(timeout))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            h.fail("larder-load did not finish in %.0f s\nstderr: %s"
                   % (h.scaled(timeout), err.decode()[-2000:]))
        r = Result(p.returncode, out.decode("utf-8", "replace"),
                   err.decode("utf-8", "replace"))
        for m in h.SANITIZER_MARKERS:
            check(m not in r.err, "larder-load sanitizer report:\n%s" % r.err)
        return r

    def run(self, table, inputs, *extra, env=None, timeout=120):
        return self.finish(self.start(table, inputs, *extra, env=env),
                           timeout)

    def expect(self, r, code, what, contains=None):
        if r.code != code:
            h.fail("%s: expected exit %d, got %r" % (what, code, r))
        if contains is not None and contains not in r.err:
            h.fail("%s: stderr lacks %r: %r" % (what, contains, r))
        if code != 0:
            check("load failed (exit %d)" % code in r.err,
                  "%s: no failure line on stderr: %r" % (what, r))

    # -- state ------------------------------------------------------------

    def _json(self, *parts):
        try:
            with open(os.path.join(self.mdir, *parts)) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def active(self):
        doc = self._json("active.json")
        return {} if doc is None else {k: int(v) for k, v in
                                       doc["tables"].items()}

    def version(self, table, v):
        return self._json("tables", table, "versions", "v-%06d.json" % v)

    def versions(self, table):
        d = os.path.join(self.mdir, "tables", table, "versions")
        if not os.path.isdir(d):
            return {}
        out = {}
        for n in os.listdir(d):
            if n.startswith("v-") and n.endswith(".json"):
                doc = self._json("tables", table, "versions", n)
                out[int(doc["version"])] = doc
        return out

    def table_config(self, table):
        return self._json("tables", table, "config.json")

    def store_versions(self, table):
        d = os.path.join(self.sdir, table)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def read_version(self, table, v):
        """{key bytes: value bytes} over every segment of a version, after
        checking the manifest against the files."""
        vdir = os.path.join(self.sdir, table, "v-%06d" % v)
        with open(os.path.join(vdir, "manifest.json")) as f:
            man = json.load(f)
        rows = {}
        eq(len(man["files"]), man["partitions"], "manifest files")
        for fe in man["files"]:
            path = os.path.join(self.sdir, fe["key"])
            eq(os.path.getsize(path), fe["bytes"], "%s size" % fe["key"])
            hdr, recs = read_segment(path)
            eq(hdr["version"], v, "segment version")
            eq(hdr["partition"], fe["partition"], "segment partition")
            eq(hdr["rows"], fe["rows"], "segment rows vs manifest")
            rows.update(recs)
        eq(len(rows), man["rows"], "manifest rows")
        return man, rows

    def scratch_dirs(self):
        return [n for n in os.listdir(self.work)
                if n.startswith("larder-load.")]

    def lock_free(self, table):
        """A load of the (existing) table can take its lock: a load with a
        --partitions the table does not have fails with 64 after taking
        the lock, while a held lock gives 69."""
        cfg = self.table_config(table)
        check(cfg is not None, "lock_free: table %s has no config" % table)
        other = 7 if int(cfg["partitions"]) != 7 else 9
        r = self.run(table, self.write("lockprobe.tsv", "k\tv\na\t1\n"),
                     "--key", "k", "--stage-only", "--partitions", other)
        if r.code not in (EXIT_USAGE, EXIT_UNAVAILABLE):
            h.fail("lock probe: %r" % r)
        return r.code == EXIT_USAGE

    def write(self, name, text):
        path = os.path.join(self.data, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class FakeNode:
    """Plays a node in the local: membership directory: a member record
    with a --batch-memory budget, a live record naming this (living) test
    process, and, on request, readiness or refusals for versions."""

    def __init__(self, cluster, node_id="fake1", batch_memory=1 << 40,
                 batch_used=0):
        self.c = cluster
        self.id = node_id
        self.stop_event = threading.Event()
        self.thread = None
        _write_json_atomic(os.path.join(cluster.mdir, "members",
                                        node_id + ".json"),
                           {"id": node_id, "addr": "127.0.0.1:1",
                            "zone": "", "capacity": 100,
                            "batch_memory": batch_memory,
                            "batch_used": batch_used})
        _write_json_atomic(os.path.join(cluster.mdir, "live",
                                        node_id + ".json"),
                           {"id": node_id, "pid": os.getpid(),
                            "start_ticks": 0, "state": "ready",
                            "changed_ms": int(time.time() * 1000)})

    def ready(self, table, v, partitions):
        _write_json_atomic(
            os.path.join(self.c.mdir, "ready", table, "v-%06d" % v,
                         self.id + ".json"),
            {"node": self.id, "partitions": list(partitions),
             "changed_ms": int(time.time() * 1000)})

    def refuse(self, table, v, reason):
        _write_json_atomic(
            os.path.join(self.c.mdir, "refusals", table, "v-%06d" % v,
                         self.id + ".json"),
            {"node": self.id, "reason": reason,
             "created_ms": int(time.time() * 1000)})

    def serve(self, table, refuse=None, partitions=None):
        """From now on, answers every staged version of table: ready for
        all its partitions (or only those in `partitions`), or a refusal
        with the given reason."""
        self.stop_serving()
        self.stop_event.clear()
        done = set()

        def loop():
            while not self.stop_event.is_set():
                for v, rec in self.c.versions(table).items():
                    if v in done or rec["state"] != "staged":
                        continue
                    done.add(v)
                    if refuse is not None:
                        self.refuse(table, v, refuse)
                    else:
                        parts = partitions if partitions is not None else \
                            range(int(rec["partitions"]))
                        self.ready(table, v, parts)
                time.sleep(0.02)

        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()

    def stop_serving(self):
        if self.thread is not None:
            self.stop_event.set()
            self.thread.join()
            self.thread = None


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def kv_tsv(cluster, name, n, salt="", extra=""):
    lines = ["user\tage\tcountry\tscore"]
    for i in range(n):
        lines.append("u%06d\t%d\t%s\t%s" % (i, i % 90, "DE" if i % 2 else
                                           "FR%s" % salt, "%.3f" % (i / 7.0)))
    return cluster.write(name, "\n".join(lines) + "\n" + extra)


def big_tsv(cluster, name, n):
    path = os.path.join(cluster.data, name)
    with open(path, "w") as f:
        f.write("key\tvalue\n")
        chunk = []
        for i in range(n):
            chunk.append("k%015d\tv%063d\n" % (i, i))
            if len(chunk) == 10000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
    return path


def activate_first(c, node, table, path, *extra):
    """Loads and activates a first version through the fake node."""
    node.serve(table)
    r = c.run(table, path, "--json", *extra)
    node.stop_serving()
    c.expect(r, 0, "first load of %s" % table)
    eq(r.json["state"], "active", "first load state")
    eq(c.active().get(table), r.json["version"], "active after first load")
    return r.json["version"]


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

def test_stage_only_tsv(ctx):
    c = Cluster(ctx)
    path = kv_tsv(c, "users.tsv", 1000)
    r = c.run("users", path, "--key", "user", "--stage-only", "--json",
              "--partitions", "16", "--run-id", "run-1")
    c.expect(r, 0, "stage-only load")
    j = r.json
    for k, want in (("state", "staged"), ("rows", 1000), ("rows_read", 1000),
                    ("bad_rows", 0), ("partitions", 16), ("files", 1),
                    ("read_threads", 1),
                    ("run_id", "run-1"), ("exit_code", 0)):
        eq(j[k], want, "summary %s" % k)
    for phase in ("read", "build", "publish", "wait", "activate"):
        check(phase in j["seconds"], "seconds.%s missing" % phase)
    check(j["peak_rss_bytes"] > 0, "peak_rss_bytes")
    rec = c.version("users", j["version"])
    eq(rec["state"], "staged", "version record state")
    eq(int(rec["rows"]), 1000, "version record rows")
    eq(rec["run_id"], "run-1", "version record run id")
    eq(int(rec["partitions"]), 16, "version record partitions")
    check(rec["manifest_uri"].startswith("file://") and
          rec["manifest_uri"].endswith("users/v-%06d/manifest.json"
                                       % j["version"]),
          "manifest uri %r" % rec["manifest_uri"])
    cfg = c.table_config("users")
    eq(cfg["kind"], "batch", "table kind")
    eq(int(cfg["partitions"]), 16, "table partitions")
    eq(c.active(), {}, "active map after a stage-only load")
    man, rows = c.read_version("users", j["version"])
    eq(man["schema"]["key"], "user", "schema key")
    eq([f["name"] for f in man["schema"]["fields"]],
       ["age", "country", "score"], "schema fields")
    v = unpack_value(rows[b"u000007"])
    eq(v, {"age": 7, "country": "DE", "score": 1.0}, "value of u000007")
    v = unpack_value(rows[b"u000010"])
    eq(v, {"age": 10, "country": "FR", "score": float("1.429")},
       "value of u000010")
    for line in ("read:", "build:", "publish:"):
        check(line in r.err, "no %r progress line: %r" % (line, r.err))
    eq(c.scratch_dirs(), [], "scratch dirs after the load")
    # A second load with other partitions is refused (repartitioning is
    # explicit), with the table untouched.
    r = c.run("users", path, "--key", "user", "--stage-only",
              "--partitions", "8")
    c.expect(r, EXIT_USAGE, "--partitions mismatch", "differs from table")


def test_jsonl_recommendations_round_trip(ctx):
    c = Cluster(ctx)
    subprocess.run([sys.executable, GEN_SAMPLE, "--out", c.data, "--users",
                    "300", "--items", "50", "--format", "jsonl", "--tables",
                    "recommendations,user_features,user_factors"],
                   check=True, stdout=subprocess.DEVNULL)
    src = {}
    with open(os.path.join(c.data, "recommendations.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            src[row["user"].encode()] = row
    r = c.run("recs", os.path.join(c.data, "recommendations.jsonl"),
              "--key", "user", "--stage-only", "--json")
    c.expect(r, 0, "jsonl load")
    eq(r.json["rows"], 300, "rows")
    _, rows = c.read_version("recs", r.json["version"])
    eq(set(rows), set(src), "keys")
    for k, row in src.items():
        eq(unpack_value(rows[k]), {"recs": row["recs"]}, "value of %r" % k)
    # The first entry really is a list of {item, score} maps.
    first = unpack_value(rows[b"u00000000"])["recs"]
    eq(len(first), 30, "top-30 list")
    check(all(set(e) == {"item", "score"} for e in first), "rec shape")
    # --value-field stores one field's compact JSON text instead.
    r = c.run("factors", os.path.join(c.data, "user_factors.jsonl"),
              "--key", "user", "--value-field", "factors", "--stage-only",
              "--json")
    c.expect(r, 0, "value-field load")
    _, rows = c.read_version("factors", r.json["version"])
    vec = json.loads(rows[b"u00000005"])
    eq(len(vec), 64, "factor dims")
    check(all(isinstance(x, float) for x in vec), "factor floats")
    # --fields picks and orders the map.
    r = c.run("uf", os.path.join(c.data, "user_features.jsonl"),
              "--key", "user", "--fields", "is_premium,country",
              "--stage-only", "--json")
    c.expect(r, 0, "fields load")
    _, rows = c.read_version("uf", r.json["version"])
    v = unpack_value(rows[b"u00000001"])
    eq(list(v), ["is_premium", "country"], "field order")
    check(isinstance(v["is_premium"], bool), "bool stays bool")


def test_directory_input_and_format_guess(ctx):
    c = Cluster(ctx)
    d = os.path.join(c.data, "part-dir")
    os.makedirs(d)
    for i in range(3):
        with open(os.path.join(d, "part-%05d.tsv" % i), "w") as f:
            f.write("k\tv\n")
            for j in range(100):
                f.write("k%d_%d\t%d\n" % (i, j, j))
    for hidden in (".part-00000.tsv.crc", "_SUCCESS"):
        with open(os.path.join(d, hidden), "w") as f:
            f.write("garbage\n")
    r = c.run("dir", d, "--key", "k", "--stage-only", "--json")
    c.expect(r, 0, "directory load")
    eq(r.json["files"], 3, "files read")
    eq(r.json["rows"], 300, "rows")
    # No extension: the format must be given.
    p = c.write("noext", "k\tv\na\t1\n")
    r = c.run("noext", p, "--key", "k", "--stage-only")
    c.expect(r, EXIT_USAGE, "unknown format", "--format")
    r = c.run("noext", p, "--key", "k", "--stage-only", "--format", "tsv")
    c.expect(r, 0, "explicit format")
    # An empty directory is no input.
    os.makedirs(os.path.join(c.data, "empty"))
    r = c.run("noext", os.path.join(c.data, "empty"), "--key", "k",
              "--stage-only")
    c.expect(r, EXIT_NOINPUT, "empty directory", "no input files")


def test_usage_errors(ctx):
    c = Cluster(ctx)
    p = kv_tsv(c, "u.tsv", 10)
    base = ["--membership", "local:" + c.mdir, "--store",
            "file://" + c.sdir]
    cases = [
        (base + ["--table", "t", "--input", p], "--key is required"),
        (base + ["--table", "t", "--key", "user"], "--input is required"),
        (base + ["--table", "bad name", "--input", p, "--key", "user"],
         "invalid table name"),
        (base + ["--table", "t", "--input", p, "--key", "user", "--bogus",
                 "1"], "unknown option"),
        (base + ["--table", "t", "--input", p, "--key", "user",
                 "--max-bad-ratio", "2"], "max-bad-ratio"),
        (base + ["--table", "t", "--input", p, "--key", "user",
                 "--fields", "a", "--value-field", "b"], "exclude"),
        (base + ["--table", "t", "--input", p, "--key", "user",
                 "--format", "xml"], "format"),
    ]
    for args, msg in cases:
        p2 = subprocess.run([c.loader] + args, capture_output=True,
                            text=True, timeout=h.scaled(30))
        eq(p2.returncode, EXIT_USAGE, "exit of %s" % args[-4:])
        check(msg in p2.stderr, "%r not in %r" % (msg, p2.stderr))
    p2 = subprocess.run([c.loader, "--help"], capture_output=True,
                        text=True, timeout=h.scaled(30))
    eq(p2.returncode, 0, "--help exit")
    for code in ("64", "65", "66", "69", "70", "71", "74", "75"):
        check("\n  %s " % code in p2.stdout, "--help lists exit %s" % code)
    eq(c.store_versions("t"), [], "nothing stored by usage errors")


def test_missing_input(ctx):
    c = Cluster(ctx)
    node = FakeNode(c)
    v1 = activate_first(c, node, "t", kv_tsv(c, "a.tsv", 50), "--key",
                        "user")
    r = c.run("t", [kv_tsv(c, "b.tsv", 50), os.path.join(c.data, "nope")],
              "--key", "user")
    c.expect(r, EXIT_NOINPUT, "missing input", "nope")
    eq(c.active(), {"t": v1}, "active after a missing input")
    eq(c.store_versions("t"), ["v-%06d" % v1], "store after missing input")
    check(c.lock_free("t"), "lock free after a missing input")


def test_bad_rows_limits(ctx):
    c = Cluster(ctx)
    node = FakeNode(c)
    good = kv_tsv(c, "good.tsv", 200)
    v1 = activate_first(c, node, "t", good, "--key", "user")
    bad_lines = "".join("broken line %d\n" % i for i in range(12))
    bad = kv_tsv(c, "bad.tsv", 200, extra=bad_lines + "u999999\t1\tDE\t2.5\n")
    node.serve("t")
    # Default: no bad row allowed.
    r = c.run("t", bad, "--key", "user", "--json")
    c.expect(r, EXIT_DATA, "bad rows, default", "bad rows")
    check("bad.tsv:202: 1 fields, the header has 4" in r.err,
          "first bad row with file and line: %r" % r.err)
    eq(r.err.count("bad row:"), 1, "stops at the first bad row by default")
    eq(r.json["state"], "failed", "json state")
    check("error" in r.json, "json error")
    eq(c.active(), {"t": v1}, "active after bad rows")
    # A count limit: the first ten are reported, the load fails.
    r = c.run("t", bad, "--key", "user", "--max-bad-rows", "5", "--json")
    c.expect(r, EXIT_DATA, "bad rows over --max-bad-rows",
             "more than --max-bad-rows 5")
    eq(r.err.count("bad row:"), 6, "bad rows reported before stopping")
    # Within the limits the load succeeds and counts them.
    r = c.run("t", bad, "--key", "user", "--max-bad-rows", "12", "--json")
    c.expect(r, 0, "bad rows within the limit")
    eq(r.json["bad_rows"], 12, "bad rows counted")
    eq(len(r.json["bad_row_samples"]), 10, "first ten samples")
    eq(r.json["bad_row_samples"][0]["line"], 202, "sample line")
    eq(r.err.count("bad row:"), 10, "only ten reported")
    eq(r.json["rows"], 201, "rows")
    v2 = r.json["version"]
    r = c.run("t", bad, "--key", "user", "--max-bad-ratio", "0.01")
    c.expect(r, EXIT_DATA, "ratio over the limit", "--max-bad-ratio")
    r = c.run("t", bad, "--key", "user", "--max-bad-ratio", "0.1")
    c.expect(r, 0, "ratio within the limit")
    # A key field missing from the header makes every row bad.
    r = c.run("t", good, "--key", "nosuch")
    c.expect(r, EXIT_DATA, "missing key field", "no key field 'nosuch'")
    # No rows at all is refused unless asked for.
    empty = c.write("empty.tsv", "user\tage\n")
    r = c.run("t", empty, "--key", "user")
    c.expect(r, EXIT_DATA, "empty input", "no rows")
    node.stop_serving()
    check(c.active()["t"] > v2, "a later good load activated")
    for v, rec in c.versions("t").items():
        check(rec["state"] in ("active", "failed", "staged", "retired"),
              "state %r" % rec["state"])


def test_duplicates(ctx):
    c = Cluster(ctx)
    p = c.write("dup.jsonl", '{"k":"a","v":1}\n{"k":"b","v":2}\n'
                             '{"k":"a","v":3}\n')
    r = c.run("d", p, "--key", "k", "--stage-only", "--json")
    c.expect(r, EXIT_DATA, "duplicate key", "duplicate key 'a'")
    check("--on-duplicate last" in r.err, "hint: %r" % r.err)
    eq(c.versions("d")[r.json["version"]]["state"], "failed",
       "version marked failed")
    r = c.run("d", p, "--key", "k", "--stage-only", "--json",
              "--on-duplicate", "last")
    c.expect(r, 0, "--on-duplicate last")
    eq(r.json["rows"], 2, "rows")
    eq(r.json["duplicates"], 1, "duplicates")
    _, rows = c.read_version("d", r.json["version"])
    eq(unpack_value(rows[b"a"]), {"v": 3}, "the last row wins")


def test_read_threads_same_version(ctx):
    """Several reading threads, each a span of the input (files cut into
    byte ranges where the format allows), build the same version as one
    thread: same records and segment sizes, rows, duplicates (the last row
    of a key wins across spans), schema and bad rows with their file
    lines."""
    c = Cluster(ctx)
    lines = ["key\tn\tnote"]
    for i in range(3000):
        if i % 997 == 11:
            lines.append("broken %d" % i)
        lines.append("k%04d\t%d\t%s" % ((i * 7) % 2200, i, "x" * (i % 37)))
        if i % 500 == 3:
            lines.append("")
    tsv = c.write("spans.tsv", "\n".join(lines) + "\n")
    jl = []
    for i in range(3000):
        row = {"id": "k%04d" % ((i * 11) % 2500), "n": i}
        if i % 9 == 0:
            row["tags"] = ["t%d" % i, i]
        if i % 13 == 0:
            row["n"] = "s%d" % i
        jl.append(json.dumps(row))
        if i % 1001 == 7:
            jl.append("{not json")
    jsonl = c.write("spans.jsonl", "\n".join(jl) + "\n")
    # A directory mixing plain and gzip'd files (gzip is read whole).
    d = os.path.join(c.data, "spark")
    os.makedirs(d)
    half = len(lines) // 2
    with open(os.path.join(d, "part-0.tsv"), "w") as f:
        f.write("\n".join(lines[:half]) + "\n")
    with gzip.open(os.path.join(d, "part-1.tsv.gz"), "wt") as f:
        f.write("\n".join([lines[0]] + lines[half:]) + "\n")
    with open(os.path.join(d, "part-2.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    open(os.path.join(d, "_SUCCESS"), "w").close()
    cases = [("tsv", tsv, "key"), ("jsonl", jsonl, "id"), ("dir", d, "key")]
    for name, path, key in cases:
        got = []
        for threads, piece in (("1", "64mb"), ("2", "1kb"), ("5", "3kb"),
                               ("16", "1")):
            r = c.run(name, path, "--key", key, "--stage-only", "--json",
                      "--on-duplicate", "last", "--max-bad-rows", "100",
                      "--read-threads", threads, "--read-piece", piece)
            c.expect(r, 0, "%s with %s read threads" % (name, threads))
            eq(r.json["read_threads"], int(threads),
               "%s: threads that read the input" % name)
            man, rows = c.read_version(name, r.json["version"])
            # Checksums differ by the version number in each header;
            # every record, and each segment's size and rows, must not.
            got.append(({f["partition"]: (f["rows"], f["bytes"])
                         for f in man["files"]}, rows,
                        man["schema"], r.json["rows"], r.json["rows_read"],
                        r.json["duplicates"],
                        [(b["file"], b["line"], b["offset"])
                         for b in r.json["bad_row_samples"]]))
            bad = r.err.count("bad row:")
            eq(bad, len(r.json["bad_row_samples"]), "bad rows logged")
        for other in got[1:]:
            eq(other, got[0], "%s: the version read by several threads "
               "equals the one read by one" % name)
        check(got[0][5] > 0 and got[0][6], "%s: duplicates and bad rows "
              "were exercised: %r" % (name, got[0][5:]))
    # The lines of bad rows are the file's, in every span.
    eq(got[0][6][0][1], next(i + 1 for i, ln in enumerate(lines)
                             if ln.startswith("broken")),
       "first bad row's line")
    # A bad-row limit still stops a load read by several threads.
    r = c.run("tsv", tsv, "--key", "key", "--stage-only",
              "--read-threads", "4", "--read-piece", "1kb")
    c.expect(r, EXIT_DATA, "bad rows with several read threads", "bad rows")
    eq(c.scratch_dirs(), [], "scratch dirs after the loads")


def test_activation_and_row_change_gate(ctx):
    c = Cluster(ctx)
    node = FakeNode(c)
    v1 = activate_first(c, node, "t", kv_tsv(c, "a.tsv", 1000), "--key",
                        "user")
    eq(c.version("t", v1)["state"], "active", "v1 state")
    node.serve("t")
    r = c.run("t", kv_tsv(c, "b.tsv", 1200), "--key", "user",
              "--max-row-change", "10", "--json")
    c.expect(r, EXIT_GATE, "row change over the limit",
             "from 1000 to 1200")
    eq(c.active(), {"t": v1}, "active after the gate")
    eq(c.version("t", r.json["version"])["state"], "failed",
       "gated version marked failed")
    eq(c.store_versions("t"), ["v-%06d" % v1],
       "nothing published by a gated load")
    r = c.run("t", kv_tsv(c, "c.tsv", 1050), "--key", "user",
              "--max-row-change", "10", "--json")
    c.expect(r, 0, "row change within the limit")
    v3 = r.json["version"]
    eq(c.active(), {"t": v3}, "active after the second load")
    eq(r.json["previous_version"], v1, "previous version")
    for line in ("wait:", "activate:"):
        check(line in r.err, "no %r progress line" % line)
    # A push id that succeeded is a no-op; the active map does not move.
    r = c.run("t", kv_tsv(c, "d.tsv", 1000), "--key", "user",
              "--push-id", "push-7", "--json")
    c.expect(r, 0, "push id first run")
    v4 = r.json["version"]
    r = c.run("t", kv_tsv(c, "d.tsv", 1000), "--key", "user",
              "--push-id", "push-7", "--json")
    c.expect(r, 0, "push id again")
    eq(r.json["state"], "noop", "no-op state")
    eq(r.json["version"], v4, "no-op names the version")
    eq(max(c.versions("t")), v4, "no new version for a no-op")
    node.stop_serving()


def test_memory_check_and_refusals(ctx):
    c = Cluster(ctx)
    node = FakeNode(c)
    v1 = activate_first(c, node, "t", kv_tsv(c, "a.tsv", 300), "--key",
                        "user")
    # The member's budget is nearly used up: the loader refuses to publish.
    FakeNode(c, batch_memory=100000, batch_used=99000)
    r = c.run("t", kv_tsv(c, "b.tsv", 300), "--key", "user", "--json")
    c.expect(r, EXIT_MEMORY, "memory check", "cluster lacks memory")
    eq(c.active(), {"t": v1}, "active after the memory check")
    eq(c.store_versions("t"), ["v-%06d" % v1], "nothing published")
    # The node refuses the pull: memory → 71, anything else → 69, at once.
    node = FakeNode(c)
    node.serve("t", refuse="needs 5.0 GiB, --batch-memory leaves 1.0 GiB")
    t0 = time.monotonic()
    r = c.run("t", kv_tsv(c, "c.tsv", 300), "--key", "user",
              "--ready-timeout", "60")
    c.expect(r, EXIT_MEMORY, "memory refusal", "refused version")
    check(time.monotonic() - t0 < h.scaled(30), "refusal fails fast")
    node.serve("t", refuse="segment checksum mismatch")
    r = c.run("t", kv_tsv(c, "c.tsv", 300), "--key", "user", "--json")
    c.expect(r, EXIT_UNAVAILABLE, "other refusal", "checksum mismatch")
    eq(c.version("t", r.json["version"])["state"], "failed", "refused state")
    node.stop_serving()
    eq(c.active(), {"t": v1}, "active after refusals")


def test_readiness_timeout_and_min_replicas(ctx):
    c = Cluster(ctx)
    node = FakeNode(c)
    v1 = activate_first(c, node, "t", kv_tsv(c, "a.tsv", 100), "--key",
                        "user", "--partitions", "4")
    # Only some partitions become ready: the loader times out.
    node.serve("t", partitions=[0, 1])
    r = c.run("t", kv_tsv(c, "b.tsv", 100), "--key", "user",
              "--ready-timeout", "1", "--json")
    c.expect(r, EXIT_UNAVAILABLE, "readiness timeout", "not ready after")
    eq(c.version("t", r.json["version"])["state"], "failed",
       "timed-out version marked failed")
    eq(c.active(), {"t": v1}, "active after a timeout")
    # --min-replicas 2 with one node can never be met.
    node.serve("t")
    r = c.run("t", kv_tsv(c, "c.tsv", 100), "--key", "user",
              "--ready-timeout", "1", "--min-replicas", "2")
    c.expect(r, EXIT_UNAVAILABLE, "min replicas", "2 ready replicas")
    node.stop_serving()
    eq(c.active(), {"t": v1}, "active after min-replicas")


def test_lock_busy(ctx):
    c = Cluster(ctx)
    p = kv_tsv(c, "a.tsv", 100)
    first = c.start("t", p, "--key", "user", "--ready-timeout", "60")
    # The first load waits for readiness (no node), holding the lock.
    h.wait_until(lambda: any(r["state"] == "staged"
                             for r in c.versions("t").values()),
                 30, what="the first load to stage its version")
    r = c.run("t", p, "--key", "user", "--stage-only")
    c.expect(r, EXIT_UNAVAILABLE, "second load", "another load of t")
    # Another table is not blocked.
    r = c.run("other", p, "--key", "user", "--stage-only")
    c.expect(r, 0, "load of another table")
    first.send_signal(signal.SIGTERM)
    r = c.finish(first)
    c.expect(r, 128 + signal.SIGTERM, "SIGTERM while waiting", "signal")
    eq([rec["state"] for rec in c.versions("t").values()], ["failed"],
       "interrupted version marked failed")
    eq(c.scratch_dirs(), [], "scratch dir removed on SIGTERM")
    check(c.lock_free("t"), "lock free after SIGTERM")


def proc_state(pid):
    """The state letter of /proc/PID/stat ("T": stopped), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def test_kill_9_at_every_phase(ctx):
    c = Cluster(ctx)
    node = FakeNode(c)
    v1 = activate_first(c, node, "t", kv_tsv(c, "a.tsv", 100), "--key",
                        "user")
    big = big_tsv(c, "big.tsv", 300000)

    def scratch_has(name):
        def pred():
            for d in c.scratch_dirs():
                try:
                    if any(n.startswith(name)
                           for n in os.listdir(os.path.join(c.work, d))):
                        return True
                except FileNotFoundError:
                    pass
            return False
        return pred

    def newest_state(state):
        return lambda: any(v > v1 and r["state"] == state
                           for v, r in c.versions("t").items())

    phases = [
        ("read (run files being written)", scratch_has("run-")),
        ("build (segments being written)", scratch_has("part-")),
        ("publish (store being written)",
         lambda: len(c.store_versions("t")) > 1),
        ("wait (version staged)", newest_state("staged")),
    ]
    caught = []
    for what, pred in phases:
        p = c.start("t", big, "--key", "key", "--value-field", "value",
                    "--build-threads", "1", "--ready-timeout", "120",
                    "--allow-schema-change")
        deadline = time.monotonic() + h.scaled(60)
        while not pred():
            if p.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.002)
        if p.poll() is None:
            caught.append(what)
        p.kill()
        p.wait()
        eq(c.active(), {"t": v1}, "active after kill -9 in %s" % what)
        for v, rec in c.versions("t").items():
            check(v == v1 or rec["state"] in ("staged", "failed"),
                  "version %d is %s after kill in %s" % (v, rec["state"],
                                                        what))
    # Reading and waiting last long enough to be caught every time; the
    # build and publish of 300000 rows usually are too.
    check(phases[0][0] in caught and phases[3][0] in caught,
          "kill -9 phases caught: %s" % caught)
    print("     kill -9 caught the loader in: %s" % "; ".join(caught))
    # Every phase for certain: the loader stops itself as the phase begins
    # (LARDER_TEST_STOP_AT_PHASE), then is killed there. The fake node
    # makes every staged version ready, so the activate phase is reached.
    node.serve("t")
    for phase in ("read", "build", "publish", "wait", "activate"):
        p = c.start("t", kv_tsv(c, "b.tsv", 1000), "--key", "user",
                    "--ready-timeout", "120", "--allow-schema-change",
                    env={"LARDER_TEST_STOP_AT_PHASE": phase})
        h.wait_until(lambda: p.poll() is not None or
                     proc_state(p.pid) == "T", 30,
                     what="the loader to stop at %s" % phase)
        eq(p.poll(), None, "the loader is alive, stopped at %s" % phase)
        p.kill()
        p.wait()
        eq(c.active(), {"t": v1}, "active after kill -9 at %s" % phase)
        for v, rec in c.versions("t").items():
            check(v == v1 or rec["state"] in ("staged", "failed"),
                  "version %d is %s after kill at %s" % (v, rec["state"],
                                                        phase))
    node.stop_serving()
    for ms in (20, 150, 600):
        p = c.start("t", big, "--key", "key", "--value-field", "value",
                    "--ready-timeout", "120")
        time.sleep(ms / 1000.0)
        p.kill()
        p.wait()
        eq(c.active(), {"t": v1}, "active after kill -9 at %d ms" % ms)
    # A loader killed at a fixed time may not have made its scratch dir yet
    # on a loaded machine: kill one more once its run files exist.
    p = c.start("t", big, "--key", "key", "--value-field", "value",
                "--ready-timeout", "120")
    deadline = time.monotonic() + h.scaled(60)
    while not scratch_has("run-")() and p.poll() is None and \
            time.monotonic() < deadline:
        time.sleep(0.002)
    p.kill()
    p.wait()
    eq(c.active(), {"t": v1}, "active after kill -9 while reading")
    check(len(c.scratch_dirs()) > 0, "a killed loader leaves a scratch dir")
    # The lock died with the process: a new load succeeds, activates, and
    # removes the scratch directories the killed loaders left.
    node.serve("t")
    r = c.run("t", big, "--key", "key", "--value-field", "value", "--json",
              "--allow-schema-change")
    node.stop_serving()
    c.expect(r, 0, "load after the kills")
    eq(c.active(), {"t": r.json["version"]}, "active after recovery")
    eq(c.scratch_dirs(), [], "stale scratch dirs reclaimed")
    _, rows = c.read_version("t", r.json["version"])
    eq(len(rows), 300000, "rows after recovery")
    eq(rows[b"k000000000012345"], b"v%063d" % 12345, "a value")


def test_disk_full(ctx):
    c = Cluster(ctx)
    node = FakeNode(c)
    v1 = activate_first(c, node, "t", kv_tsv(c, "a.tsv", 100), "--key",
                        "user")
    node.serve("t")
    r = c.run("t", big_tsv(c, "big.tsv", 50000), "--key", "key",
              env={"LARDER_TEST_FAIL_WRITE_AFTER_BYTES": "200000"})
    node.stop_serving()
    c.expect(r, EXIT_IO, "write error", "No space left on device")
    eq(c.active(), {"t": v1}, "active after a write error")
    eq(c.store_versions("t"), ["v-%06d" % v1], "nothing published")
    eq(c.scratch_dirs(), [], "scratch dir removed after a write error")
    check(c.lock_free("t"), "lock free after a write error")


# ---- with a real node (skipped while larderd has no batch tables) ----------

def node_supports_batch(srv):
    """True if larderd has batch tables; waits while it is still joining
    (pulling the versions it must hold before it serves)."""
    def answer():
        r = srv.call("T.GET", "nosuchtable", "k")
        busy = isinstance(r, h.RespError) and r.message.startswith("BUSY")
        return None if busy else [r]
    reply = h.wait_until(answer, 30, what="the node to finish joining")[0]
    if isinstance(reply, h.RespError) and \
            reply.message.startswith("NOTABLE"):
        return True
    if isinstance(reply, h.RespError) and "unknown command" in reply.message:
        return False
    h.fail("T.GET of a table that does not exist: %r" % (reply,))


def start_node(ctx, c, *extra):
    ctx.larder_only("batch tables")
    data = os.path.join(c.dir, "node")
    srv = ctx.server(["--data-dir", data, "--membership", "local:" + c.mdir,
                      "--store", "file://" + c.sdir, "--node-id", "n1"] +
                     list(extra))
    if not node_supports_batch(srv):
        h.fail("larderd does not know T.GET")
    return srv


def test_real_node_end_to_end(ctx):
    c = Cluster(ctx)
    srv = start_node(ctx, c)
    p = c.write("u.jsonl", "".join(
        '{"user":"u%d","recs":[{"item":"i%d","score":0.5}]}\n' % (i, i)
        for i in range(1000)))
    r = c.run("recs", p, "--key", "user", "--json", "--ready-timeout", "60")
    c.expect(r, 0, "load with a real node")
    eq(r.json["state"], "active", "state")
    # The node switches at its next look at the active map.
    h.wait_until(lambda: isinstance(srv.call("T.GET", "recs", "u42"),
                                    bytes), 10,
                 what="the node to serve the activated version")
    v = unpack_value(srv.call("T.GET", "recs", "u42"))
    eq(v, {"recs": [{"item": "i42", "score": 0.5}]}, "T.GET after load")
    eq(srv.call("T.GET", "recs", "nope"), None, "absent key")
    v1 = r.json["version"]
    r = c.run("recs", p, "--key", "user", "--max-row-change", "0",
              "--json")
    c.expect(r, 0, "same rows again")
    r = c.run("recs", kv_tsv(c, "x.tsv", 10), "--key", "user",
              "--max-row-change", "5")
    c.expect(r, EXIT_GATE, "row change with a node")
    eq(c.active()["recs"], v1 + 1, "active after the gate")


def test_real_node_corrupt_segment(ctx):
    c = Cluster(ctx)
    srv = start_node(ctx, c)
    p = kv_tsv(c, "a.tsv", 500)
    r = c.run("t", p, "--key", "user", "--json", "--ready-timeout", "60")
    c.expect(r, 0, "first load")
    v1 = r.json["version"]
    # Stage v2 while the node is down, damage one of its segments, start
    # the node again: it must refuse the pull (checksum), never serve it.
    srv.stop()
    r = c.run("t", p, "--key", "user", "--stage-only", "--json")
    c.expect(r, 0, "staged load")
    v2 = r.json["version"]
    seg = os.path.join(c.sdir, "t", "v-%06d" % v2, "part-00003.seg")
    size = os.path.getsize(seg)
    with open(seg, "r+b") as f:
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0xFF]))
    srv = start_node(ctx, c)
    refusal = os.path.join(c.mdir, "refusals", "t", "v-%06d" % v2)
    h.wait_until(lambda: os.path.isdir(refusal) and os.listdir(refusal), 30,
                 what="the node to refuse the damaged version")
    with open(os.path.join(refusal, "n1.json")) as f:
        reason = json.load(f)["reason"]
    check("checksum" in reason, "refusal reason %r" % reason)
    cli = os.path.join(os.path.dirname(os.path.dirname(ctx.opts.larderd)),
                       "cli", "larder")
    out = subprocess.run([cli, "--membership", "local:" + c.mdir,
                          "activate", "t=%d" % v2], capture_output=True,
                         text=True, timeout=h.scaled(30))
    check(out.returncode != 0, "activating a damaged version: %r" % (out,))
    eq(c.active(), {"t": v1}, "active after a damaged segment")
    check(srv.call("T.GET", "t", "u000001") is not None, "still served")
    # The next load, with intact segments, is pulled and activated.
    r = c.run("t", p, "--key", "user", "--ready-timeout", "60")
    c.expect(r, 0, "a good load after the damaged one")


def test_real_node_memory(ctx):
    c = Cluster(ctx)
    start_node(ctx, c, "--batch-memory", "100kb")
    r = c.run("t", big_tsv(c, "b.tsv", 20000), "--key", "key", "--json")
    c.expect(r, EXIT_MEMORY, "real node lacks memory",
             "cluster lacks memory")
    eq(c.active(), {}, "nothing active")


if __name__ == "__main__":
    h.main([
        test_stage_only_tsv,
        test_jsonl_recommendations_round_trip,
        test_directory_input_and_format_guess,
        test_usage_errors,
        test_missing_input,
        test_bad_rows_limits,
        test_duplicates,
        test_read_threads_same_version,
        test_activation_and_row_change_gate,
        test_memory_check_and_refusals,
        test_readiness_timeout_and_min_replicas,
        test_lock_busy,
        test_kill_9_at_every_phase,
        test_disk_full,
        test_real_node_end_to_end,
        test_real_node_corrupt_segment,
        test_real_node_memory,
    ], budget=280)
