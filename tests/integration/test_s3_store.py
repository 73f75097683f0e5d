#!/usr/bin/env python3
"""Snapshot stores in S3, end to end, against moto_server: larder-load
publishes a version to --store s3://bucket/prefix and a larderd with the
same --store pulls it, verifies it and serves it; a fault-injecting proxy
(s3_fault_proxy.py) between both programs and moto checks the S3 client's
failure handling.

Covered: the published objects (segment files and manifest) are in the
bucket; T.GET serves the loaded values; 500s, 503 SlowDown and 429 are
retried and the load still succeeds; a connection reset in the middle of a
segment's body is resumed with a Range request; a 403 (wrong credentials)
on a PUT fails the load at once, naming the object, after exactly one
request; a 404 on a GET is not retried either (one request per pull
attempt) and the node names the object; a corrupted body fails the
checksum, so the version is refused and the previous one stays active;
larder-load reads its --input from an s3:// directory, through a 500 and a
reset mid-file (resumed with Range).

The test is skipped when moto_server is not installed. Credentials are the
dummy ones moto accepts; retry backoffs are shortened through
LARDER_HTTP_RETRY_*.
"""

import gzip
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402
from s3_fault_proxy import FaultProxy  # noqa: E402

BUCKET = "larder-it"
PARTS = 4
KEYS = 200
SEG_RE = r"/part-\d{5}\.seg$"


# ---------------------------------------------------------------------------
# moto and the proxy, shared by the tests of this file
# ---------------------------------------------------------------------------

class S3:
    """One moto_server and one FaultProxy in front of it."""

    instance = None

    def __init__(self):
        moto = shutil.which("moto_server")
        if moto is None:
            h.unavailable("moto_server is not installed (pip install "
                         "'moto[server]')")
        self.dir = h.tmpdir()
        self.port = h.free_port()
        self.log = open(os.path.join(self.dir, "moto.log"), "wb")
        self.proc = subprocess.Popen(
            [moto, "-H", h.HOST, "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, preexec_fn=h._pdeathsig)
        h._started.append(self.proc)
        h.wait_until(self._answers, 30, interval=0.1,
                     what="moto_server to answer on port %d" % self.port)
        status, _ = self.request("PUT", "/" + BUCKET)
        check(status == 200, "creating the bucket: HTTP %d" % status)
        self.proxy = FaultProxy(self.port)

    @classmethod
    def get(cls):
        if cls.instance is None:
            cls.instance = S3()
            os.environ.update(s3_env(cls.instance))
        return cls.instance

    def _answers(self):
        if self.proc.poll() is not None:
            h.fail("moto_server exited with code %d" % self.proc.returncode)
        try:
            self.request("GET", "/")
            return True
        except OSError:
            return False

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection(h.HOST, self.port, timeout=10)
        try:
            conn.request(method, path, body=body)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def keys(self, prefix):
        """Every key under prefix, straight from moto (not via larder)."""
        out, token = [], None
        ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
        while True:
            q = "list-type=2&prefix=%s" % prefix
            if token:
                q += "&continuation-token=%s" % token
            status, body = self.request("GET", "/%s?%s" % (BUCKET, q))
            check(status == 200, "ListObjectsV2 from moto: HTTP %d" % status)
            root = ET.fromstring(body)
            out += [c.find(ns + "Key").text
                    for c in root.findall(ns + "Contents")]
            token = root.findtext(ns + "NextContinuationToken")
            if root.findtext(ns + "IsTruncated") != "true":
                return out

    def stop(self):
        self.proxy.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


# The clients' stall timeout (LARDER_HTTP_STALL_MS) in these tests.
STALL_MS = int(1500 * h.TIME_SCALE)

def s3_env(s3):
    """The environment of larder's processes: dummy credentials, the proxy
    as the endpoint, short retries, nothing from the user's ~/.aws."""
    nowhere = os.path.join(s3.dir, "no-such-file")
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": "http://%s:%d" % (h.HOST, s3.proxy.port),
        "AWS_CONFIG_FILE": nowhere,
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "LARDER_HTTP_RETRY_ATTEMPTS": "5",
        "LARDER_HTTP_RETRY_BASE_MS": "20",
        "LARDER_HTTP_RETRY_MAX_MS": "100",
        # A hang mid-object fails after this long without a byte.
        "LARDER_HTTP_STALL_MS": str(STALL_MS),
    }


def stop_s3():
    if S3.instance is not None:
        S3.instance.stop()
        S3.instance = None


# ---------------------------------------------------------------------------
# A node and a loader on one S3 prefix
# ---------------------------------------------------------------------------

def tool(ctx, rel):
    build = os.path.dirname(os.path.dirname(ctx.opts.larderd))
    path = os.path.join(build, rel)
    if not os.access(path, os.X_OK):
        h.unavailable("%s is not built" % path)
    return path


class Cluster:
    """A node's data directory (local membership) with its snapshots in
    s3://BUCKET/<prefix>."""

    def __init__(self, ctx, prefix):
        ctx.larder_only("S3 snapshot stores")
        self.s3 = S3.get()
        self.s3.proxy.clear()
        self.s3.proxy.reset_records()
        self.ctx = ctx
        self.loader = tool(ctx, "loader/larder-load")
        self.prefix = prefix
        self.store = "s3://%s/%s" % (BUCKET, prefix)
        self.dir = h.tmpdir()
        self.data = os.path.join(self.dir, "data")
        self.membership = "local:" + os.path.join(self.data, "membership")

    def node(self, *extra):
        srv = self.ctx.server(["--data-dir", self.data, "--threads", "2",
                               "--watch-interval-ms", "50",
                               "--store", self.store] + list(extra))
        h.wait_until(lambda: srv.info("batch").get("batch_state") == "ready",
                     20, what="INFO batch_state:ready")
        return srv

    def load(self, table, tag, expect=0, path=None, parts=PARTS):
        """Runs larder-load; the input is path (a local file or an s3://
        URI), else a local file of KEYS rows whose value is tag."""
        if path is None:
            path = os.path.join(self.dir, "%s-%s.jsonl" % (table, tag))
            with open(path, "w") as f:
                f.write(rows(0, KEYS, tag))
        cmd = [self.loader, "--membership", self.membership,
               "--store", self.store, "--table", table, "--input", path,
               "--key", "id", "--value-field", "v",
               "--partitions", str(parts), "--ready-timeout", "20"]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=h.scaled(60), preexec_fn=h._pdeathsig)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        if expect is not None and p.returncode != expect:
            h.fail("larder-load %s %s exited %d (expected %d)\noutput: %s"
                   % (table, tag, p.returncode, expect, out))
        return p.returncode, out

    def version_keys(self, table, version):
        return self.s3.keys("%s/%s/v-%06d/" % (self.prefix, table, version))

    def seg_path(self, table, version, part):
        return "/%s/%s/%s/v-%06d/part-%05d.seg" % (BUCKET, self.prefix, table,
                                                   version, part)


def rows(first, end, tag):
    """JSON lines of keys k<first>..k<end-1> whose value is tag."""
    return "".join(json.dumps({"id": "k%d" % i, "v": str(tag)}) + "\n"
                   for i in range(first, end))


def generation(srv):
    return h.info_int(srv.info("batch"), "batch_generation")


def wait_generation(srv, gen, timeout=20):
    h.wait_until(lambda: generation(srv) >= gen, timeout,
                 what="the node to switch to generation %d" % gen)


def check_values(srv, table, tag):
    values = srv.call("T.MGET", table, *["k%d" % i for i in range(KEYS)])
    eq(values.count(str(tag).encode()), KEYS,
       "keys of %s reading version tag %s" % (table, tag))


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

def test_publish_and_serve(ctx):
    cl = Cluster(ctx, "publish")
    srv = cl.node()
    cl.load("users", 1)
    keys = cl.version_keys("users", 1)
    segs = sorted(k for k in keys if re.search(SEG_RE, "/" + k))
    eq(len(segs), PARTS, "segment files in the bucket (%r)" % keys)
    check(any(k.endswith("/manifest.json") for k in keys),
          "a manifest in the bucket: %r" % keys)
    wait_generation(srv, 1)
    eq(srv.call("T.GET", "users", "k7"), b"1", "T.GET after an S3 load")
    check_values(srv, "users", 1)
    gets = cl.s3.proxy.seen("GET", SEG_RE)
    check(len(gets) >= PARTS, "the node fetched the segments from S3: %r"
          % gets)
    eq(cl.s3.proxy.injected, 0, "faults injected")


def test_transient_errors_are_retried(ctx):
    cl = Cluster(ctx, "retry")
    srv = cl.node()
    proxy = cl.s3.proxy
    proxy.add("PUT", SEG_RE, ("status", 500, "InternalError"), times=2)
    proxy.add("PUT", r"manifest", ("status", 503, "SlowDown"), times=1)
    proxy.add("GET", r"part-00001\.seg$", ("status", 503, "SlowDown"),
              times=2)
    proxy.add("GET", r"part-00002\.seg$", ("status", 429, "SlowDown"),
              times=1)
    proxy.add("GET", r"part-00003\.seg$", ("status", 500, "InternalError"),
              times=1)
    cl.load("users", 1)
    wait_generation(srv, 1)
    check_values(srv, "users", 1)
    eq(proxy.injected, 7, "faults injected (every rule fired)")
    faulted = proxy.seen("GET", r"part-00001\.seg$")
    check(len(faulted) >= 3 and [r.fault for r in faulted[:3]] ==
          ["status", "status", None],
          "503 SlowDown twice, then served: %r" % faulted)


def test_reset_mid_object_is_resumed(ctx):
    cl = Cluster(ctx, "reset")
    srv = cl.node()
    proxy = cl.s3.proxy
    proxy.add("GET", r"part-00002\.seg$", ("reset",), times=1)
    cl.load("users", 1)
    wait_generation(srv, 1)
    check_values(srv, "users", 1)
    reqs = proxy.seen("GET", r"part-00002\.seg$")
    eq(reqs[0].fault, "reset", "the first GET was cut")
    resumed = [r for r in reqs[1:] if r.range]
    check(resumed, "a resumed GET with a Range header: %r" % reqs)
    check(re.match(r"bytes=[1-9]\d*-$", resumed[0].range),
          "the resume starts after the bytes received: %r" % resumed[0])


def test_stall_mid_object_times_out_and_resumes(ctx):
    cl = Cluster(ctx, "stall")
    srv = cl.node()
    proxy = cl.s3.proxy
    proxy.add("GET", r"part-00001\.seg$", ("stall", 3 * STALL_MS / 1000),
              times=1)
    cl.load("users", 1)
    wait_generation(srv, 1)
    check_values(srv, "users", 1)
    reqs = proxy.seen("GET", r"part-00001\.seg$")
    eq(reqs[0].fault, "stall", "the first GET hung")
    resumed = [r for r in reqs[1:] if r.range]
    check(resumed, "after the stall timeout, a resumed GET: %r" % reqs)
    check(re.match(r"bytes=[1-9]\d*-$", resumed[0].range),
          "the resume starts after the bytes received: %r" % resumed[0])


def test_wrong_credentials_not_retried(ctx):
    cl = Cluster(ctx, "denied")
    cl.node()
    proxy = cl.s3.proxy
    proxy.add("PUT", r"part-00001\.seg$", ("status", 403,
                                           "InvalidAccessKeyId"), times=None)
    code, out = cl.load("users", 1, expect=None)
    check(code != 0, "larder-load succeeded despite a 403")
    obj = "s3://%s/%s/users/v-000001/part-00001.seg" % (BUCKET, cl.prefix)
    check(obj in out, "the message names the object %s: %s" % (obj, out))
    check("wrong credentials" in out and "InvalidAccessKeyId" in out,
          "the message says the credentials are wrong: %s" % out)
    eq(len(proxy.seen("PUT", r"part-00001\.seg$")), 1,
       "PUT requests of the refused object (no retry of a 403)")


def test_missing_object_not_retried(ctx):
    cl = Cluster(ctx, "missing")
    srv = cl.node()
    cl.load("users", 1)
    wait_generation(srv, 1)
    proxy = cl.s3.proxy
    proxy.reset_records()
    proxy.add("GET", r"v-000002/part-00000\.seg$",
              ("status", 404, "NoSuchKey"), times=None)
    code, out = cl.load("users", 2, expect=None)
    check(code != 0, "larder-load succeeded although a segment is missing")
    srv.stop_and_check()
    obj = "s3://%s/%s/users/v-000002/part-00000.seg" % (BUCKET, cl.prefix)
    log = srv.log_text()
    attempts = log.count(obj)
    check(attempts >= 1 and "not found" in log,
          "the node log names the missing object %s:\n%s"
          % (obj, srv.log_tail()))
    gets = proxy.seen("GET", r"v-000002/part-00000\.seg$")
    eq(len(gets), attempts, "GETs of the missing object, one per pull "
       "attempt logged (no retry of a 404): %r" % gets)


def test_corrupt_object_refused(ctx):
    cl = Cluster(ctx, "corrupt")
    srv = cl.node()
    cl.load("users", 1)
    wait_generation(srv, 1)
    proxy = cl.s3.proxy
    proxy.add("GET", r"v-000002/part-00003\.seg$", ("corrupt",), times=None)
    code, out = cl.load("users", 2, expect=None)
    check(code != 0, "larder-load succeeded with a corrupted segment")
    check("checksum" in out, "the loader says why: %s" % out)
    eq(generation(srv), 1, "generation after the refused version")
    check_values(srv, "users", 1)
    check("checksum mismatch" in srv.log_text(),
          "the node log names the checksum mismatch:\n%s" % srv.log_tail())
    check(proxy.injected >= 1, "the corruption was injected")


def test_load_input_from_s3(ctx):
    cl = Cluster(ctx, "input")
    srv = cl.node()
    # The input is a directory of two files in S3, as a Spark job leaves
    # it: a _SUCCESS marker, and a "directory" marker object.
    base = "/%s/input/users" % BUCKET
    half = KEYS // 2
    for name, body in (("part-0.jsonl", rows(0, half, 5)),
                       ("part-1.jsonl", rows(half, KEYS, 5)),
                       ("_SUCCESS", "")):
        status, _ = cl.s3.request("PUT", "%s/%s" % (base, name),
                                  body.encode())
        eq(status, 200, "putting the input %s into moto" % name)
    status, _ = cl.s3.request("PUT", base + "/", b"")
    eq(status, 200, "putting the directory marker into moto")
    proxy = cl.s3.proxy
    proxy.add("GET", r"/input/users/part-1\.jsonl$", ("reset",), times=1)
    proxy.add("GET", r"/input/users/part-0\.jsonl$",
              ("status", 500, "InternalError"), times=1)
    cl.load("users", 5, path="s3://%s/input/users/" % BUCKET)
    wait_generation(srv, 1)
    check_values(srv, "users", 5)
    reqs = proxy.seen("GET", r"/input/users/part-1\.jsonl$")
    check(any(r.range for r in reqs[1:]),
          "the input read was resumed with a Range request: %r" % reqs)
    eq(len(proxy.seen("GET", r"/input/users/part-0\.jsonl$")), 2,
       "GETs of the input whose first attempt got a 500")


def test_pulls_are_concurrent_and_bounded(ctx):
    """--pull-threads 3: a version's segments are fetched three at a time,
    never more (every segment GET is held 0.3 s by the proxy)."""
    cl = Cluster(ctx, "threads")
    srv = cl.node("--pull-threads", "3")
    proxy = cl.s3.proxy
    proxy.add("GET", SEG_RE, ("delay", 0.3), times=None)
    cl.load("users", 1, parts=12)
    wait_generation(srv, 1)
    check_values(srv, "users", 1)
    eq(len(proxy.seen("GET", SEG_RE)), 12, "one GET per segment")
    eq(proxy.max_delayed, 3, "segment GETs in flight at once")


def format_bodies(tag):
    """The same KEYS rows (id, v) in every input format, gzip included:
    {file name: bytes}. Avro and msgpack come from the generator's own
    writers (scripts/sample_formats.py)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "..", "scripts"))
    import sample_formats
    recs = [{"id": "k%d" % i, "v": str(tag)} for i in range(KEYS)]
    out = {
        "part-0.tsv": "id\tv\n" + "".join("%s\t%s\n" % (r["id"], r["v"])
                                          for r in recs),
        "part-0.csv": "id,v\n" + "".join("%s,%s\n" % (r["id"], r["v"])
                                        for r in recs),
        "part-0.jsonl": rows(0, KEYS, tag),
    }
    out = {k: v.encode() for k, v in out.items()}
    for name in list(out):
        out[name + ".gz"] = gzip.compress(out[name])
    d = h.tmpdir()
    for name, write in (
            ("part-0.avro", lambda p: sample_formats.write_avro(p, recs)),
            ("part-0.null.avro",
             lambda p: sample_formats.write_avro(p, recs, codec="null")),
            ("part-0.msgpack",
             lambda p: sample_formats.write_msgpack(p, recs))):
        path = os.path.join(d, name)
        write(path)
        with open(path, "rb") as f:
            out[name] = f.read()
    out["part-0.msgpack.gz"] = gzip.compress(out["part-0.msgpack"])
    return out


def test_every_format_from_s3(ctx):
    """TSV, CSV and JSONL (each also gzip'd), Avro (deflate and null) and
    msgpack (also gzip'd) read from S3 into the same table, one load each;
    the format comes from the object's name."""
    cl = Cluster(ctx, "formats")
    srv = cl.node()
    bodies = format_bodies("t0")
    for gen, name in enumerate(sorted(bodies), 1):
        base = "/%s/formats-in/%d" % (BUCKET, gen)
        # A different value per load, so each check sees its own version;
        # not a number, so the text formats type it as the others do.
        tag = "t%d" % gen
        body = format_bodies(tag)[name]
        for obj, data in ((name, body), ("_SUCCESS", b"")):
            status, _ = cl.s3.request("PUT", "%s/%s" % (base, obj), data)
            eq(status, 200, "putting %s into moto" % obj)
        rc, out = cl.load("users", tag, expect=None,
                          path="s3://%s/formats-in/%d/" % (BUCKET, gen))
        if rc != 0:
            h.fail("loading %s from S3 exited %d: %s" % (name, rc, out))
        wait_generation(srv, gen)
        check_values(srv, "users", tag)


def main():
    try:
        h.main([test_publish_and_serve, test_transient_errors_are_retried,
                test_reset_mid_object_is_resumed,
                test_stall_mid_object_times_out_and_resumes,
                test_wrong_credentials_not_retried,
                test_missing_object_not_retried, test_corrupt_object_refused,
                test_load_input_from_s3, test_every_format_from_s3,
                test_pulls_are_concurrent_and_bounded],
               budget=150)
    finally:
        stop_s3()


if __name__ == "__main__":
    main()
