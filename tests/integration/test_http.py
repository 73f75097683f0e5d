#!/usr/bin/env python3
"""The node's HTTP endpoint (--http-port): /metrics in the Prometheus text
format and /health, plus what mirrors them (INFO, `larder status`) and the
JSON log format.

Covered: every /metrics page parses with a strict exposition-format parser
written here (comments, HELP/TYPE before a family's samples and at most
once, valid names, label escapes, no duplicate series, families not
interleaved, histogram buckets cumulative and ending with +Inf equal to
_count, counters named *_total); per-command counters, errors and latency
histograms move with commands, and latency is sampled by default; hot keys
(GET, MGET, T.GET) with label values escaped; per-table figures after a
load; /health through join (503 while the active version cannot be pulled,
200 once it is), stale tables (--max-age, the table config's max_age_s,
CONFIG SET), membership unreachable, ?strict=1, stopping (503) while a
SIGTERM drains; draining (LARDER.DRAIN and the membership drain mark: 503
"draining" while the node keeps serving, then back); INFO health fields;
`larder status`; 404/405; --log-format json lines; a busy --http-port
stops the node from starting.
"""

import base64
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402

os.environ.pop("LARDER_MEMBERSHIP", None)

PARTS = 2
KEYS = 50


# ---------------------------------------------------------------------------
# A Prometheus text-format (0.0.4) parser, strict on purpose
# ---------------------------------------------------------------------------

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def _value(s, where):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    try:
        return float(s)
    except ValueError:
        h.fail("%s: bad sample value %r" % (where, s))


def _labels(s, pos, where):
    """Parses {a="x",b="y"} at s[pos] == '{'; returns (dict, end)."""
    labels = {}
    pos += 1
    while True:
        if s[pos:pos + 1] == "}":
            return labels, pos + 1
        m = LABEL_RE.match(s, pos)
        if not m:
            h.fail("%s: bad label name at %r" % (where, s[pos:pos + 20]))
        name = m.group(0)
        pos = m.end()
        if s[pos:pos + 2] != '="':
            h.fail("%s: expected =\" after label %s" % (where, name))
        pos += 2
        out = []
        while True:
            if pos >= len(s):
                h.fail("%s: unterminated label value" % where)
            c = s[pos]
            if c == '"':
                pos += 1
                break
            if c == "\\":
                e = s[pos + 1:pos + 2]
                if e not in ("\\", '"', "n"):
                    h.fail("%s: invalid escape \\%s in label %s"
                           % (where, e, name))
                out.append("\n" if e == "n" else e)
                pos += 2
                continue
            if c == "\n":
                h.fail("%s: raw newline in a label value" % where)
            out.append(c)
            pos += 1
        if name in labels:
            h.fail("%s: label %s twice" % (where, name))
        labels[name] = "".join(out)
        if s[pos:pos + 1] == ",":
            pos += 1
        elif s[pos:pos + 1] != "}":
            h.fail("%s: expected , or } after label %s" % (where, name))


def _family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) in (
                "histogram", "summary"):
            return name[:-len(suffix)]
    return name


def parse_exposition(text):
    """Returns {'types': {family: type}, 'help': {family: text},
    'samples': [(name, labels, value)]}; fails on anything invalid."""
    if not text.endswith("\n"):
        h.fail("exposition does not end with a newline")
    types, helps, samples, seen_series = {}, {}, [], set()
    done_families, current = set(), None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d %r" % (n, line[:120])
        if line == "":
            h.fail("%s: empty line" % where)
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                if not NAME_RE.fullmatch(fam):
                    h.fail("%s: bad metric name" % where)
                if fam in done_families or any(
                        _family_of(s[0], types) == fam for s in samples):
                    h.fail("%s: %s after the family's samples"
                           % (where, parts[1]))
                table = helps if parts[1] == "HELP" else types
                if fam in table:
                    h.fail("%s: second %s for %s" % (where, parts[1], fam))
                value = parts[3] if len(parts) > 3 else ""
                if parts[1] == "TYPE" and value not in TYPES:
                    h.fail("%s: unknown type %r" % (where, value))
                table[fam] = value
            continue
        m = NAME_RE.match(line)
        if not m:
            h.fail("%s: bad metric name" % where)
        name = m.group(0)
        pos = m.end()
        labels = {}
        if line[pos:pos + 1] == "{":
            labels, pos = _labels(line, pos, where)
        if line[pos:pos + 1] != " ":
            h.fail("%s: expected a space before the value" % where)
        rest = line[pos + 1:].split(" ")
        if len(rest) not in (1, 2):
            h.fail("%s: expected value [timestamp]" % where)
        value = _value(rest[0], where)
        fam = _family_of(name, types)
        if fam != current:
            if fam in done_families:
                h.fail("%s: family %s interleaved with another" % (where, fam))
            if current is not None:
                done_families.add(current)
            current = fam
        if fam not in types:
            h.fail("%s: sample before # TYPE of %s" % (where, fam))
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            h.fail("%s: duplicate series" % where)
        seen_series.add(key)
        samples.append((name, labels, value))
    for fam, t in types.items():
        if t == "counter" and not fam.endswith("_total"):
            h.fail("counter %s is not named *_total" % fam)
        if t == "histogram":
            check_histogram(fam, samples)
    return {"types": types, "help": helps, "samples": samples}


def check_histogram(fam, samples):
    groups = {}
    for name, labels, value in samples:
        if name not in (fam + "_bucket", fam + "_sum", fam + "_count"):
            continue
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None,
                                     "count": None})
        if name.endswith("_bucket"):
            if "le" not in labels:
                h.fail("%s bucket without le: %r" % (fam, labels))
            g["buckets"].append((_value(labels["le"], fam), value))
        elif name.endswith("_sum"):
            g["sum"] = value
        else:
            g["count"] = value
    for rest, g in groups.items():
        b = g["buckets"]
        what = "%s%r" % (fam, dict(rest))
        check(b and g["count"] is not None and g["sum"] is not None,
              "%s: buckets, _sum and _count all present" % what)
        les = [x[0] for x in b]
        check(les == sorted(les) and len(set(les)) == len(les),
              "%s: le ascending: %r" % (what, les))
        check(les[-1] == math.inf, "%s: last bucket is +Inf" % what)
        counts = [x[1] for x in b]
        check(all(a <= c for a, c in zip(counts, counts[1:])),
              "%s: buckets cumulative: %r" % (what, counts))
        eq(counts[-1], g["count"], "%s: +Inf bucket equals _count" % what)
        check(g["sum"] >= 0, "%s: _sum not negative" % what)


def sample(page, name, **labels):
    """The value of one series, or None."""
    for n, l, v in page["samples"]:
        if n == name and l == labels:
            return v
    return None


def samples_of(page, name):
    return [(l, v) for n, l, v in page["samples"] if n == name]


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

def http_get(port, path, method="GET", headers=None):
    """(status, headers dict, body str)."""
    c = http.client.HTTPConnection(h.HOST, port, timeout=h.scaled(10))
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read().decode("utf-8")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def metrics(port):
    status, hdr, body = http_get(port, "/metrics")
    eq(status, 200, "GET /metrics status")
    check(hdr.get("content-type", "").startswith("text/plain; version=0.0.4"),
          "content type: %r" % hdr.get("content-type"))
    return parse_exposition(body)


def health(port, query=""):
    status, hdr, body = http_get(port, "/health" + query)
    check(hdr.get("content-type") == "application/json",
          "health content type: %r" % hdr.get("content-type"))
    try:
        doc = json.loads(body)
    except ValueError:
        h.fail("/health body is not JSON: %r" % body)
    return status, doc


def wait_health(port, status, state, timeout=20, query=""):
    last = [None]

    def ok():
        try:
            got = health(port, query)
        except OSError as e:
            last[0] = repr(e)
            return False
        last[0] = got
        return got[0] == status and got[1].get("status") == state
    try:
        h.wait_until(ok, timeout, what="/health%s %d %s" % (query, status,
                                                            state))
    except h.TestFailure:
        h.fail("/health%s never became %d %s; last: %r"
               % (query, status, state, last[0]))
    return last[0][1]


# ---------------------------------------------------------------------------
# A node with batch tables
# ---------------------------------------------------------------------------

def tool(ctx, rel):
    build = os.path.dirname(os.path.dirname(ctx.opts.larderd))
    path = os.path.join(build, rel)
    if not os.access(path, os.X_OK):
        h.unavailable("%s is not built" % path)
    return path


class Node:
    """A data directory (default local membership and file store), the
    loader and CLI next to larderd, and a node with HTTP on."""

    def __init__(self, ctx):
        ctx.larder_only("HTTP endpoint")
        self.ctx = ctx
        self.loader = tool(ctx, "loader/larder-load")
        self.cli_path = tool(ctx, "cli/larder")
        self.dir = h.tmpdir()
        self.data = os.path.join(self.dir, "data")
        self.membership = "local:" + os.path.join(self.data, "membership")
        self.store = "file://" + os.path.join(self.data, "store")
        self.store_dir = os.path.join(self.data, "store")
        self.http_port = None
        self.srv = None

    def start(self, *extra, wait=True):
        self.http_port = h.free_port()
        self.srv = self.ctx.server(
            ["--data-dir", self.data, "--threads", "2",
             "--watch-interval-ms", "50", "--http-port", self.http_port,
             "--hotkey-sample", "1", "--latency-sample", "1"] +
            [str(a) for a in extra], wait=wait)
        return self.srv

    def load(self, table, tag):
        path = os.path.join(self.dir, "%s-%s.jsonl" % (table, tag))
        with open(path, "w") as f:
            for i in range(KEYS):
                f.write(json.dumps({"id": "k%d" % i, "v": str(tag)}) + "\n")
        p = subprocess.run(
            [self.loader, "--membership", self.membership, "--store",
             self.store, "--table", table, "--input", path, "--key", "id",
             "--value-field", "v", "--partitions", str(PARTS),
             "--ready-timeout", "30"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=h.scaled(60))
        if p.returncode != 0:
            h.fail("larder-load exited %d: %s %s" % (
                p.returncode, p.stdout.decode(), p.stderr.decode()))

    def cli(self, *args):
        p = subprocess.run([self.cli_path, "--membership", self.membership] +
                           [str(a) for a in args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=h.scaled(30))
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def wait_generation(self, gen):
        h.wait_until(lambda: h.info_int(self.srv.info("batch"),
                                        "batch_generation") >= gen, 20,
                     what="generation %d" % gen)

    def set_table_max_age(self, table, seconds):
        """Edits the table config in the local membership (atomically)."""
        path = os.path.join(self.data, "membership", "tables", table,
                            "config.json")
        with open(path) as f:
            doc = json.load(f)
        doc["max_age_s"] = seconds
        tmp = path + ".tmp-test"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, path)


def info_table(info, table):
    line = info.get("table_" + table)
    check(line is not None, "INFO batch has a line for %s" % table)
    return dict(part.split("=", 1) for part in line.split(","))


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

def test_metrics_page_and_counters(ctx):
    n = Node(ctx)
    srv = n.start()
    wait_health(n.http_port, 200, "ok")
    page = metrics(n.http_port)
    types = page["types"]
    for fam, t in (("larder_commands_total", "counter"),
                   ("larder_command_errors_total", "counter"),
                   ("larder_command_duration_seconds", "histogram"),
                   ("larder_connected_clients", "gauge"),
                   ("larder_memory_used_bytes", "gauge"),
                   ("larder_maxmemory_bytes", "gauge"),
                   ("larder_live_keys", "gauge"),
                   ("larder_expired_keys_total", "counter"),
                   ("larder_evicted_keys_total", "counter"),
                   ("larder_batch_mapped_bytes", "gauge"),
                   ("larder_batch_resident_bytes", "gauge"),
                   ("larder_batch_locked_bytes", "gauge"),
                   ("larder_batch_pull_failures_total", "counter"),
                   ("larder_batch_refusals_total", "counter"),
                   ("larder_version_age_seconds", "gauge"),
                   ("larder_hot_key_requests", "gauge"),
                   ("larder_health_status", "gauge")):
        eq(types.get(fam), t, "type of %s" % fam)
        check(page["help"].get(fam), "%s has help text" % fam)
    for name, _, _ in page["samples"]:
        check(name.startswith("larder_"), "prefix of %s" % name)
    before_get = sample(page, "larder_commands_total", command="get") or 0
    before_err = sample(page, "larder_command_errors_total",
                        command="get") or 0
    before_unknown = sample(page, "larder_commands_total",
                            command="unknown") or 0
    with srv.conn() as c:
        eq(c.call("SET", "k", "v"), "OK", "SET")
        for _ in range(5):
            eq(c.call("GET", "k"), b"v", "GET")
        eq(c.call("GET", "absent"), None, "GET absent")
        h.expect_error(c.call("GET"), "ERR wrong number", "GET arity")
        h.expect_error(c.call("NOSUCH"), "ERR unknown command", "unknown")
        conns = sample(metrics(n.http_port), "larder_connected_clients")
        check(conns >= 1, "connected clients while connected: %r" % conns)
    page = metrics(n.http_port)
    eq(sample(page, "larder_commands_total", command="get") - before_get, 7,
       "GET requests counted (5 hits, 1 miss, 1 arity error)")
    eq(sample(page, "larder_command_errors_total", command="get") -
       before_err, 1, "GET errors counted")
    eq(sample(page, "larder_commands_total", command="unknown") -
       before_unknown, 1, "unknown command counted")
    eq(sample(page, "larder_command_errors_total", command="unknown"),
       sample(page, "larder_commands_total", command="unknown"),
       "every unknown command is an error")
    count = sample(page, "larder_command_duration_seconds_count",
                   command="get")
    eq(count, sample(page, "larder_commands_total", command="get"),
       "GET latency observations = GET requests (--latency-sample 1)")
    check(sample(page, "larder_command_duration_seconds_sum",
                 command="get") > 0, "GET latency sum positive")
    check(sample(page, "larder_command_duration_seconds_bucket",
                 command="get", le="1") == count,
          "every GET took under a second")
    eq(sample(page, "larder_live_keys"), 1, "live keys")
    check(sample(page, "larder_keyspace_hits_total") >= 5, "hits")
    eq(sample(page, "larder_health_status", status="ok"), 1, "health ok")
    eq(sample(page, "larder_health_status", status="degraded"), 0,
       "not degraded")
    # INFO mirrors the health state.
    eq(srv.info("batch").get("health"), "ok", "INFO health")


def test_latency_sampling(ctx):
    """By default one request in 16 is timed: the histogram holds fewer
    observations than requests, but some, and every request is counted."""
    ctx.larder_only("HTTP endpoint")
    port = h.free_port()
    srv = ctx.server(["--http-port", port, "--threads", "1", "--data-dir",
                      os.path.join(h.tmpdir(), "d")])
    with srv.conn() as c:
        c.pipeline([("GET", "k")] * 2000)
    page = metrics(port)
    calls = sample(page, "larder_commands_total", command="get")
    timed = sample(page, "larder_command_duration_seconds_count",
                   command="get")
    eq(calls, 2000, "every GET counted")
    check(timed is not None and 20 <= timed <= 400,
          "about one GET in 16 timed: %r of %r" % (timed, calls))


def test_hot_keys(ctx):
    n = Node(ctx)
    srv = n.start()
    weird = b'we"ird\\key\n\x01\xff'
    with srv.conn() as c:
        c.call("SET", "hot", "1")
        c.call("SET", weird, "2")
        c.pipeline([("GET", "hot")] * 300)
        c.pipeline([("GET", weird)] * 40)
        c.pipeline([("GET", "cold%d" % i) for i in range(20)])
        c.pipeline([("T.GET", "default", "hot")] * 10)
        c.call("MGET", "hot", "cold1")
    page = metrics(n.http_port)
    hot = samples_of(page, "larder_hot_key_requests")
    check(len(hot) <= 32, "at most 32 hot keys exported (got %d)" % len(hot))
    check(hot, "hot keys exported")
    top_labels, top_value = max(hot, key=lambda x: x[1])
    eq(top_labels, {"table": "default", "key": "hot"}, "the hottest key")
    # 311 reads, sampled every time; a half-life may have passed once.
    check(155 <= top_value <= 311, "hot key estimate %r" % top_value)
    want = 'we"ird\\\\key\\x0a\\x01\\xff'  # printable, then unescaped
    found = [v for l, v in hot if l.get("key") == want]
    check(found and found[0] >= 20,
          "weird key exported as %r (keys: %r)"
          % (want, [l["key"] for l, _ in hot]))
    values = [v for _, v in hot]
    eq(values, sorted(values, reverse=True), "hot keys in descending order")


def test_health_join_load_and_stale(ctx):
    n = Node(ctx)
    srv = n.start()
    doc = wait_health(n.http_port, 200, "ok")
    eq(doc.get("reasons"), [], "no reasons when ok")
    n.load("recs", 1)
    n.wait_generation(1)
    status, doc = health(n.http_port)
    eq((status, doc["status"]), (200, "ok"), "healthy after a load")
    eq(doc["tables"]["recs"]["version"], 1, "/health table version")
    check(doc["generation"] >= 1, "/health generation")
    with srv.conn() as c:
        c.pipeline([("T.GET", "recs", "k7")] * 25)
    page = metrics(n.http_port)
    eq(sample(page, "larder_table_active_version", table="recs"), 1,
       "active version metric")
    eq(sample(page, "larder_table_rows", table="recs"), KEYS, "rows metric")
    check(sample(page, "larder_table_bytes", table="recs") > 0,
          "bytes metric")
    age = sample(page, "larder_version_age_seconds", table="recs")
    check(age is not None and 0 <= age < 60, "version age %r" % age)
    check(sample(page, "larder_table_pull_duration_seconds", table="recs")
          >= 0, "pull duration metric")
    load_s = sample(page, "larder_table_load_duration_seconds", table="recs")
    check(load_s is not None and 0 < load_s < 60,
          "load duration metric (from the manifest) %r" % load_s)
    check(sample(page, "larder_batch_mapped_bytes") > 0, "mapped bytes")
    eq(sample(page, "larder_batch_resident_bytes"),
       sample(page, "larder_batch_mapped_bytes"), "fully resident")
    check(sample(page, "larder_batch_pulls_total") >= PARTS, "pulls counted")
    check(sample(page, "larder_hot_key_requests", table="recs", key="k7")
          in (25, 12), "T.GET hot key of a batch table (25 reads, or 12 "
          "after a half-life passed)")

    # Stale: CONFIG SET max-age 1 (the node default), wait 2 s.
    eq(srv.call("CONFIG", "SET", "max-age", "1"), "OK", "CONFIG SET max-age")
    time.sleep(2.1)
    status, doc = health(n.http_port)
    eq((status, doc["status"]), (200, "degraded"), "stale table: degraded")
    check(any("recs" in r and "max age 1 s" in r for r in doc["reasons"]),
          "reason names the table: %r" % doc["reasons"])
    status, doc = health(n.http_port, "?strict=1")
    eq((status, doc["status"]), (503, "degraded"), "strict: 503 when stale")
    info = srv.info("batch")
    eq(info.get("health"), "degraded", "INFO health when stale")
    check("recs" in info.get("health_reasons", ""), "INFO health_reasons")
    t = info_table(info, "recs")
    check(int(t["version_age_seconds"]) >= 2, "INFO age %r" % t)
    eq(t["max_age_seconds"], "1", "INFO max age")
    eq(sample(metrics(n.http_port), "larder_health_status",
              status="degraded"), 1, "health metric degraded")

    # `larder status` asks the node and exits 1 while degraded.
    rc, out, err = n.cli("status", "--node", "%s:%d" % (h.HOST, srv.port))
    eq(rc, 1, "larder status exit code when degraded (%s %s)" % (out, err))
    check("degraded" in out and "recs" in out, "status text: %r" % out)
    rc, out, err = n.cli("--json", "status", "--node",
                         "%s:%d" % (h.HOST, srv.port))
    doc = json.loads(out)
    eq(doc["health"], "degraded", "status --json health")
    eq([(t["table"], t["version"], t["fresh"]) for t in doc["tables"]],
       [("recs", 1, False)], "status --json tables")

    # Back to no limit: ok again, and status exits 0.
    eq(srv.call("CONFIG", "SET", "max-age", "0"), "OK", "CONFIG SET max-age 0")
    wait_health(n.http_port, 200, "ok")
    rc, out, err = n.cli("status", "--node", "%s:%d" % (h.HOST, srv.port))
    eq(rc, 0, "larder status exit code when ok (%s %s)" % (out, err))

    # The table config's own max_age_s applies without --max-age.
    n.set_table_max_age("recs", 1)
    doc = wait_health(n.http_port, 200, "degraded")
    eq(doc["tables"]["recs"]["max_age_seconds"], 1, "table config max age")
    n.set_table_max_age("recs", 0)
    wait_health(n.http_port, 200, "ok")


def test_health_503_until_pulled(ctx):
    """A restarted node whose active version cannot be pulled stays
    'starting' (503) and becomes ok once the store has the file again."""
    n = Node(ctx)
    srv = n.start()
    n.load("recs", 1)
    n.wait_generation(1)
    srv.stop_and_check()
    shutil.rmtree(os.path.join(n.data, "segments", "recs"))
    part = os.path.join(n.store_dir, "recs", "v-000001", "part-00000.seg")
    hidden = part + ".hidden"
    os.rename(part, hidden)
    srv = n.start()
    doc = wait_health(n.http_port, 503, "starting")
    eq(doc.get("reasons"), [], "starting has no reasons")
    status, doc = health(n.http_port, "?strict=1")
    eq(status, 503, "strict while starting")
    eq(srv.info("batch").get("health"), "starting", "INFO health starting")
    eq(sample(metrics(n.http_port), "larder_batch_ready"), 0,
       "batch_ready metric while joining")
    time.sleep(0.5)
    eq(health(n.http_port)[0], 503, "still 503 while the pull fails")
    page = metrics(n.http_port)
    check(sample(page, "larder_batch_pull_failures_total") >= 1,
          "failed pulls counted")
    os.rename(hidden, part)
    wait_health(n.http_port, 200, "ok", timeout=40)
    eq(sample(metrics(n.http_port), "larder_batch_ready"), 1, "ready metric")


def test_health_membership_unreachable(ctx):
    n = Node(ctx)
    srv = n.start()
    n.load("recs", 1)
    n.wait_generation(1)
    srv.stop_and_check()
    blocker = os.path.join(n.dir, "not-a-dir")
    open(blocker, "w").close()
    n.start("--membership", "local:" + os.path.join(blocker, "m"))
    doc = wait_health(n.http_port, 200, "degraded")
    check(any("membership" in r for r in doc["reasons"]),
          "reason names membership: %r" % doc["reasons"])
    eq(health(n.http_port, "?strict=1")[0], 503, "strict when degraded")
    eq(sample(metrics(n.http_port), "larder_batch_degraded"), 1,
       "degraded metric")


def test_http_errors(ctx):
    n = Node(ctx)
    n.start()
    wait_health(n.http_port, 200, "ok")
    status, _, body = http_get(n.http_port, "/nope")
    eq(status, 404, "unknown path")
    status, _, _ = http_get(n.http_port, "/metrics", method="POST")
    eq(status, 405, "POST is not allowed")
    status, hdr, body = http_get(n.http_port, "/health", method="HEAD")
    eq((status, body), (200, ""), "HEAD /health")
    status, _, _ = http_get(n.http_port, "/health?strict=0")
    eq(status, 200, "strict=0 is not strict")


def basic(user, password):
    raw = ("%s:%s" % (user, password)).encode("utf-8")
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_metrics_auth(ctx):
    """With a password set, /metrics takes HTTP Basic credentials of a node
    user (any role); /health stays open for load balancers."""
    n = Node(ctx)
    n.start()
    wait_health(n.http_port, 200, "ok")
    eq(http_get(n.http_port, "/metrics")[0], 200, "open without a password")
    c = n.srv.conn()
    try:
        eq(c.call("CONFIG", "SET", "requirepass", "pw1"), "OK",
           "set a password")
    finally:
        c.close()
    status, hdr, _ = http_get(n.http_port, "/metrics")
    eq(status, 401, "/metrics without credentials")
    check(hdr.get("www-authenticate", "").startswith("Basic"),
          "401 names the Basic scheme: %r" % hdr)
    for user, pw, want in (("", "pw1", 200), ("default", "pw1", 200),
                           ("default", "nope", 401), ("bob", "pw1", 401),
                           ("default", "pw1", 200)):
        status, _, body = http_get(n.http_port, "/metrics",
                                   headers=basic(user, pw))
        eq(status, want, "/metrics as %r/%r" % (user, pw))
    parse_exposition(body)
    status, _, _ = http_get(n.http_port, "/metrics",
                            headers={"Authorization": "Bearer pw1"})
    eq(status, 401, "another scheme is refused")
    c = n.srv.conn()
    try:
        eq(c.call("AUTH", "pw1"), "OK", "AUTH")
        eq(c.call("CONFIG", "SET", "requirepass", "pw2"), "OK", "new password")
        status, _, _ = http_get(n.http_port, "/metrics",
                                headers=basic("", "pw1"))
        eq(status, 401, "the old password no longer opens /metrics")
        status, _, _ = http_get(n.http_port, "/metrics",
                                headers=basic("", "pw2"))
        eq(status, 200, "the new one does")
        # Let the runner's stop-and-check talk to the node again.
        eq(c.call("CONFIG", "SET", "requirepass", ""), "OK", "no password")
    finally:
        c.close()


def test_http_port_busy(ctx):
    ctx.larder_only("HTTP endpoint")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((h.HOST, 0))
        s.listen(1)
        port = s.getsockname()[1]
        srv = ctx.server(["--http-port", port, "--data-dir",
                          os.path.join(h.tmpdir(), "d")], wait=False)
        code = srv.wait(15)
        srv.expected_exit = True
        eq(code, 1, "exit code when --http-port is taken")
        check("cannot listen for HTTP" in srv.log_text(),
              "log explains: %s" % srv.log_tail())


def test_log_json(ctx):
    ctx.larder_only("log format")
    srv = ctx.server(["--log-format", "json", "--data-dir",
                      os.path.join(h.tmpdir(), "d")])
    srv.call("PING")
    srv.stop_and_check()
    lines = [l for l in srv.log_text().split("\n") if l]
    check(len(lines) >= 2, "some log lines: %r" % lines)
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            h.fail("log line is not JSON: %r" % line)
        eq(sorted(doc), ["level", "msg", "pid", "ts"], "log line keys")
        eq(doc["pid"], srv.pid, "pid")
        check(doc["level"] in ("debug", "verbose", "notice", "warning"),
              "level %r" % doc["level"])
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                           doc["ts"]), "timestamp %r" % doc["ts"])
    check(any("ready to accept" in json.loads(l)["msg"] for l in lines),
          "the ready line is there")


def test_health_stopping(ctx):
    """After SIGTERM, while a client that does not read keeps a worker
    draining, /health says stopping (503); the node then exits 0."""
    ctx.larder_only("HTTP endpoint")
    port = h.free_port()
    srv = ctx.server(["--http-port", port, "--threads", "1",
                      "--shutdown-timeout", "20", "--data-dir",
                      os.path.join(h.tmpdir(), "d")])
    wait_health(port, 200, "ok")
    srv.call("SET", "big", "x" * (1 << 20))
    c = srv.conn(rcvbuf=4096)
    try:
        c.send_raw(h.encode("GET", "big") * 64)  # 64 MiB it will not read
        time.sleep(0.3)
        srv.signal(signal.SIGTERM)
        wait_health(port, 503, "stopping", timeout=10)
        eq(sample(metrics(port), "larder_health_status", status="stopping"),
           1, "health metric stopping")
    finally:
        c.reset()
    # Wait for the exit instead of stop(): a second SIGTERM while the node
    # tears down meets the default action once libevent let go of it.
    eq(srv.wait(15), 0, "exit code after the drain")
    srv.stop()


def test_drain(ctx):
    """LARDER.DRAIN (admin) and the operator's drain mark in membership
    (local:'s drain/<id>.json, what `larder drain NODE` writes) make
    /health say draining (503) while the node keeps serving; LARDER.DRAIN
    OFF and clearing the mark make it ok again."""
    n = Node(ctx)
    srv = n.start()
    n.load("users", 1)
    h.wait_until(lambda: srv.call("T.GET", "users", "k1") == b"1", 20,
                 what="the node to serve the load")
    wait_health(n.http_port, 200, "ok")
    eq(srv.call("LARDER.DRAIN"), "OK", "LARDER.DRAIN")
    doc = wait_health(n.http_port, 503, "draining")
    eq(doc.get("reasons"), [], "draining has no reasons")
    eq(sample(metrics(n.http_port), "larder_health_status",
              status="draining"), 1, "health metric draining")
    info = srv.info("batch")
    eq((info.get("health"), info.get("draining")), ("draining", "1"),
       "INFO health and draining")
    eq(srv.call("T.GET", "users", "k1"), b"1", "a draining node serves")
    eq(srv.call("SET", "x", "1"), "OK", "and takes writes to live tables")
    eq(srv.call("LARDER.DRAIN", "OFF"), "OK", "LARDER.DRAIN OFF")
    wait_health(n.http_port, 200, "ok")
    eq(srv.info("batch").get("draining"), "0", "INFO draining after OFF")

    mark = os.path.join(n.data, "membership", "drain", "local.json")
    os.makedirs(os.path.dirname(mark), exist_ok=True)
    with open(mark + ".tmp", "w") as f:
        f.write('{"id": "local", "changed_ms": 1}')
    os.replace(mark + ".tmp", mark)
    wait_health(n.http_port, 503, "draining")
    # LARDER.DRAIN OFF does not lift the operator's mark.
    eq(srv.call("LARDER.DRAIN", "OFF"), "OK", "LARDER.DRAIN OFF under a mark")
    time.sleep(0.3)
    eq(health(n.http_port)[1].get("status"), "draining",
       "the mark still drains")
    eq(srv.call("T.GET", "users", "k2"), b"1", "serving under the mark")
    os.unlink(mark)
    wait_health(n.http_port, 200, "ok")


if __name__ == "__main__":
    h.main([test_metrics_page_and_counters, test_latency_sampling,
            test_hot_keys,
            test_health_join_load_and_stale, test_health_503_until_pulled,
            test_health_membership_unreachable, test_http_errors,
            test_metrics_auth, test_http_port_busy, test_log_json, test_health_stopping,
            test_drain], budget=240)
