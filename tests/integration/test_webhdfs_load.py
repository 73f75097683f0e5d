#!/usr/bin/env python3
"""larder-load with webhdfs:// and hdfs:// inputs, against the WebHDFS
protocol server of webhdfs_server.py (a NameNode port answering
GETFILESTATUS, LISTSTATUS and OPEN with a 307 to a DataNode port), since
Hadoop itself is not packaged for Debian.

Covered: a Spark-style output directory (part-00000.json.gz,
part-00001.json, _SUCCESS, .part-00000.crc, _committed_*) loaded into a
real larderd through webhdfs:// and through hdfs://, activated and read
back key by key with T.GET; a single TSV object; a directory without
_SUCCESS refused (65) and accepted with --allow-incomplete; a missing path
and a forbidden one (66, the URI and the Hadoop exception named); a
delegation token sent instead of user.name; a burst of 500s retried, and
one longer than the retries failing with the I/O code (74); connections
reset in the middle of a body resumed with OPEN offset=, gzip included.
"""

import functools
import gzip
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402
import test_loader as tl  # noqa: E402
from webhdfs_server import WebHdfsServer  # noqa: E402

EXIT_DATA, EXIT_NOINPUT, EXIT_IO = tl.EXIT_DATA, tl.EXIT_NOINPUT, tl.EXIT_IO

# Short backoffs (http_client.h), and a user for simple authentication.
ENV = {"LARDER_HTTP_RETRY_BASE_MS": "20", "LARDER_HTTP_RETRY_MAX_MS": "200",
       "LARDER_HTTP_RETRY_ATTEMPTS": "5", "HADOOP_USER_NAME": "alice"}


class Hdfs:
    """A cluster directory, an HDFS root inside it and the server."""

    def __init__(self, ctx, token=None):
        self.c = tl.Cluster(ctx)
        self.root = os.path.join(self.c.dir, "hdfs")
        os.makedirs(self.root)
        self.srv = WebHdfsServer(self.root, token=token).start()

    def uri(self, path, scheme="webhdfs"):
        return self.srv.uri(scheme, path)

    def run(self, table, path, *extra, code=0, what="load", contains=None,
            env=None, scheme="webhdfs"):
        e = dict(ENV)
        e.update(env or {})
        r = self.c.run(table, self.uri(path, scheme), "--json", *extra,
                       env=e)
        self.c.expect(r, code, what, contains)
        return r

    def opens(self, kind="namenode"):
        return [(p, q) for k, op, p, q in self.srv.requests
                if k == kind and op == "OPEN"]


def with_hdfs(token=None):
    """Runs the test as fn(ctx, hd) and stops hd's server after it."""
    def wrap(fn):
        @functools.wraps(fn)
        def test(ctx):
            hd = Hdfs(ctx, token=token)
            try:
                fn(ctx, hd)
            finally:
                hd.srv.stop()
        return test
    return wrap


def spark_dir(hd, path, success=True, rows=300):
    """A Spark-style output directory of JSON rows under the HDFS root:
    a gzip part, a plain part, a .crc and commit markers; returns
    {key: value}."""
    d = os.path.join(hd.root, path.lstrip("/"))
    os.makedirs(d)
    src = {}
    rng = random.Random(7)
    with gzip.open(os.path.join(d, "part-00000.json.gz"), "wt") as f:
        for i in range(rows):
            row = {"key": "g%05d" % i, "n": i,
                   "pad": "%016x" % rng.getrandbits(64)}
            src[row["key"]] = row
            f.write(json.dumps(row) + "\n")
    with open(os.path.join(d, "part-00001.json"), "w") as f:
        for i in range(rows):
            row = {"key": "p%05d" % i, "n": -i, "pad": "x" * (i % 40)}
            src[row["key"]] = row
            f.write(json.dumps(row) + "\n")
    with open(os.path.join(d, ".part-00000.crc"), "wb") as f:
        f.write(b"crc\x00\x01 not json")
    with open(os.path.join(d, "_committed_42"), "w") as f:
        f.write("{}\n")
    if success:
        open(os.path.join(d, "_SUCCESS"), "w").close()
    return src


def want_value(row):
    return {k: v for k, v in row.items() if k != "key"}


def check_version(hd, table, r, src):
    """Reads the staged or active version back from the store."""
    _, got = hd.c.read_version(table, r.json["version"])
    eq(len(got), len(src), "keys in %s" % table)
    for k, row in src.items():
        eq(tl.unpack_value(got[k.encode()]), want_value(row),
           "value of %s in %s" % (k, table))


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

@with_hdfs()
def test_spark_dir_into_node(ctx, hd):
    node = tl.start_node(ctx, hd.c)
    src = spark_dir(hd, "/data/out")
    parts = [os.path.join(hd.root, "data/out", n)
             for n in ("part-00000.json.gz", "part-00001.json")]
    for scheme, table in (("webhdfs", "wh"), ("hdfs", "hd")):
        hd.srv.clear()
        r = hd.run(table, "/data/out", "--key", "key", "--ready-timeout",
                   "60", scheme=scheme, what="%s:// load" % scheme)
        eq(r.json["state"], "active", "state after a %s:// load" % scheme)
        eq(r.json["files"], 2, "part files read (markers and .crc skipped)")
        eq(r.json["rows"], len(src), "rows")
        eq(r.json["input_bytes"], sum(os.path.getsize(p) for p in parts),
           "input bytes: the listed sizes")
        opened = sorted(p for p, _ in hd.opens())
        eq(opened, ["/data/out/part-00000.json.gz",
                    "/data/out/part-00001.json"],
           "only the part files are opened")
        eq(len(hd.opens("datanode")), 2, "bytes came from the datanode")
        users = {q.get("user.name") for _, _, _, q in hd.srv.requests}
        eq(users, {"alice"}, "user.name from HADOOP_USER_NAME")
        h.wait_until(lambda: isinstance(node.call("T.GET", table, "g00000"),
                                        bytes), 10,
                     what="the node to serve %s" % table)
        for k, row in src.items():
            eq(tl.unpack_value(node.call("T.GET", table, k)), want_value(row),
               "T.GET %s %s" % (table, k))
    # One more format: a single TSV object stands for itself (no _SUCCESS).
    lines = ["user\tage\tcity"] + ["u%d\t%d\tc%d" % (i, 20 + i % 50, i % 7)
                                   for i in range(500)]
    os.makedirs(os.path.join(hd.root, "tsv"))
    with open(os.path.join(hd.root, "tsv", "users.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    r = hd.run("users", "/tsv/users.tsv", "--key", "user",
               "--ready-timeout", "60", what="tsv over webhdfs")
    eq(r.json["state"], "active", "tsv state")
    eq(r.json["rows"], 500, "tsv rows")
    h.wait_until(lambda: isinstance(node.call("T.GET", "users", "u0"),
                                    bytes), 10, what="the node to serve users")
    for i in range(500):
        eq(tl.unpack_value(node.call("T.GET", "users", "u%d" % i)),
           {"age": 20 + i % 50, "city": "c%d" % (i % 7)}, "T.GET users u%d"
           % i)


@with_hdfs()
def test_incomplete_directory(ctx, hd):
    src = spark_dir(hd, "/running", success=False)
    uri = hd.uri("/running")
    r = hd.run("inc", "/running", "--key", "key", "--stage-only",
               code=EXIT_DATA, what="no _SUCCESS",
               contains="%s has no _SUCCESS marker: the job that writes it "
                        "may still be running; use --allow-incomplete to "
                        "load it anyway" % uri)
    eq(hd.opens(), [], "nothing opened before the directory is accepted")
    eq(hd.c.store_versions("inc"), [], "nothing stored")
    r = hd.run("inc", "/running", "--key", "key", "--stage-only",
               "--allow-incomplete", what="--allow-incomplete")
    eq(r.json["rows"], len(src), "rows with --allow-incomplete")
    check_version(hd, "inc", r, src)
    # A directory of markers only holds no input.
    os.makedirs(os.path.join(hd.root, "hollow"))
    open(os.path.join(hd.root, "hollow", "_SUCCESS"), "w").close()
    hd.run("hol", "/hollow", "--key", "key", "--stage-only",
           code=EXIT_NOINPUT, what="only markers",
           contains="directory %s holds no input files" % hd.uri("/hollow"))


@with_hdfs()
def test_missing_and_forbidden(ctx, hd):
    spark_dir(hd, "/data/out")
    uri = hd.uri("/data/nope")
    r = hd.run("m", "/data/nope", "--key", "key", "--stage-only",
               code=EXIT_NOINPUT, what="missing path",
               contains="%s: FileNotFoundException: File does not exist: "
                        "/data/nope" % uri)
    check(r.json["error"].startswith(uri + ": "),
          "the JSON error names the URI: %r" % r.json["error"])
    hd.srv.deny("/data/out")
    hd.run("m", "/data/out", "--key", "key", "--stage-only",
           code=EXIT_NOINPUT, what="forbidden path",
           contains="%s: AccessControlException: Permission denied: "
                    "user=alice" % hd.uri("/data/out"))
    # A missing file inside an existing directory, given as hdfs://.
    hd.srv.clear()
    hd.run("m", "/data/out/part-00009.json", "--key", "key", "--stage-only",
           code=EXIT_NOINPUT, what="missing file over hdfs://",
           scheme="hdfs",
           contains="%s: FileNotFoundException"
                    % hd.uri("/data/out/part-00009.json", "hdfs"))
    eq(hd.c.store_versions("m"), [], "nothing stored")


@with_hdfs(token="dGVzdC10b2tlbg-_")
def test_delegation_token(ctx, hd):
    src = spark_dir(hd, "/sec")
    hd.run("sec", "/sec", "--key", "key", "--stage-only", code=EXIT_NOINPUT,
           what="no token", contains="SecurityException")
    hd.srv.clear()
    r = hd.run("sec", "/sec", "--key", "key", "--stage-only",
               env={"LARDER_HDFS_DELEGATION_TOKEN": "dGVzdC10b2tlbg-_"},
               what="with the token")
    eq(r.json["rows"], len(src), "rows with the token")
    for kind, op, path, q in hd.srv.requests:
        eq(q.get("delegation"), "dGVzdC10b2tlbg-_",
           "token on %s %s %s" % (kind, op, path))
        check("user.name" not in q, "no user.name with a token")
    # A failure whose message quotes the URL does not show the token.
    down = "webhdfs://127.0.0.1:%d/sec" % h.free_port()
    r = hd.c.run("sec2", down, "--key", "key", "--stage-only",
                 env=dict(ENV, LARDER_HDFS_DELEGATION_TOKEN="s3cr3t-t0ken"))
    hd.c.expect(r, EXIT_IO, "nothing listening", down)
    check("s3cr3t-t0ken" not in r.err + r.out,
          "the token stays out of the messages: %r" % r)


@with_hdfs()
def test_500_burst_retried(ctx, hd):
    src = spark_dir(hd, "/data/out")
    # Three 500s on the first metadata calls, two on OPEN.
    hd.srv.fail_next(3)
    hd.srv.fail_next(2, op="OPEN")
    r = hd.run("b", "/data/out", "--key", "key", "--stage-only",
               what="a burst of 500s")
    check_version(hd, "b", r, src)
    eq(hd.srv.failures_done, 5, "every 500 was served")
    # More 500s in a row than attempts: the store kept failing, exit 74.
    hd.srv.clear()
    hd.srv.fail_next(50, op="GETFILESTATUS")
    hd.run("b2", "/data/out", "--key", "key", "--stage-only", code=EXIT_IO,
           what="500s past the retries",
           contains="%s: GETFILESTATUS failed 5 times, last: HTTP 500"
                    % hd.uri("/data/out"))
    eq(len(hd.srv.requests), 5, "exactly LARDER_HTTP_RETRY_ATTEMPTS calls")
    # A 4xx is not retried.
    hd.srv.clear()
    hd.run("b3", "/data/none", "--key", "key", "--stage-only",
           code=EXIT_NOINPUT, what="404 not retried")
    eq(len(hd.srv.requests), 1, "one call for a 404")


@with_hdfs()
def test_reset_mid_body_resumed(ctx, hd):
    src = spark_dir(hd, "/big", rows=20000)
    sizes = {n: os.path.getsize(os.path.join(hd.root, "big", n))
             for n in ("part-00000.json.gz", "part-00001.json")}
    check(sizes["part-00000.json.gz"] > 100000, "gzip part is big enough")
    # Both parts are cut twice: at 64 KiB into each transfer.
    for name in sizes:
        hd.srv.reset_next_open(2, 65536, path="/big/" + name)
    r = hd.run("rs", "/big", "--key", "key", "--stage-only",
               what="resets mid-body")
    eq(r.json["rows"], len(src), "rows after resuming")
    check_version(hd, "rs", r, src)
    eq(hd.srv.resets_done, 4, "connections reset")
    for name in sizes:
        offsets = [int(q.get("offset", 0)) for p, q in hd.opens()
                   if p == "/big/" + name]
        # The server cuts 64 KiB into each transfer; the reader resumes
        # from what it received (normally all of it).
        eq(len(offsets), 3, "OPENs of %s: %r" % (name, offsets))
        check(offsets[0] == 0 and 0 < offsets[1] <= 65536 and
              offsets[1] < offsets[2] <= offsets[1] + 65536,
              "OPEN offsets of %s resume the transfer: %r"
              % (name, offsets))
    # Reset on every transfer: no progress at all fails with exit 74.
    hd.srv.clear()
    hd.srv.reset_next_open(100, 0)
    hd.run("rs2", "/big", "--key", "key", "--stage-only", code=EXIT_IO,
           what="resets without progress",
           contains="%s: reading at byte 0 of %d failed 5 times"
                    % (hd.uri("/big/part-00000.json.gz"),
                       sizes["part-00000.json.gz"]))


if __name__ == "__main__":
    h.main([
        test_spark_dir_into_node,
        test_incomplete_directory,
        test_missing_and_forbidden,
        test_delegation_token,
        test_500_burst_retried,
        test_reset_mid_body_resumed,
    ], budget=240)
