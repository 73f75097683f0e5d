#!/usr/bin/env python3
"""The driver of bench/s3_vs_local.sh: the same load of the same rows into a
larderd node from local files and from S3 (moto_server on 127.0.0.1).

  s3_vs_local.py run                 the whole benchmark (the shell wrapper
                                     sets the environment below)
  s3_vs_local.py report JSON MD      renders MD again from the records kept
                                     in JSON (docs/bench/s3.json)

Modes, each a fresh larderd (--threads 1, fresh --data-dir) and one
`larder-load --value-field value --json` of the table `bench`:

  local       (a) --input <local directory>        --store file://...
  s3-in       (b) --input s3://bucket/input/FMT/   --store file://...
  s3-in-out   (c) --input s3://bucket/input/FMT/   --store s3://bucket/store/...
                  (the loader uploads the segments to moto, the node pulls
                  them from moto)

The input is ROWS rows of 16-byte keys and 64-byte values (the rows of
bench/load_vs_redis.sh) in PARTS part files plus a _SUCCESS marker, once as
TSV (with a header) and once as gzip'd JSONL; the S3 inputs are the same
files uploaded to moto before the timed runs. Every round runs every format
and every mode, the modes in a rotated order (round 1: a b c, round 2:
b c a, ...). Per load: wall time from the loader's start to its exit
(activation), the loader's --json phases, the CPU seconds of larder-load
(its rusage, reaped with wait4), larderd and moto_server (utime+stime from
/proc/PID/stat before and after), and the CPU other programs used meanwhile.

Environment (the wrapper passes it on): ROWS, ROUNDS, PARTS, FORMATS,
LOAD_TIMEOUT, QUIET_WAIT, QUIET_MAX, LARDERD, LARDER_LOAD, OUT_DIR, TMPDIR,
S3_BENCH_COMMAND (the command line for the report), S3_BENCH_ROOT (the
repository), LARDER_SOURCE (the source tree the binaries were built from,
for the git revision in the report; default: the repository).

Only the standard library is required; boto3 is used to upload the inputs
and to empty the store prefix when it is importable, otherwise plain
(unsigned) HTTP requests, which moto accepts since it checks no signatures.
"""

import datetime
import gzip
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from load_vs_redis import (KEY_FORMAT, Resp, value_for,  # noqa: E402
                           machine_busy)

CLK_TCK = os.sysconf("SC_CLK_TCK")
BUCKET = "larder-bench"
TABLE = "bench"
MODES = ("local", "s3-in", "s3-in-out")
MODE_LABEL = {"local": "(a) local files → file:// store",
              "s3-in": "(b) S3 input → file:// store",
              "s3-in-out": "(c) S3 input → s3:// store"}
FORMATS = ("tsv", "jsonl.gz")
PHASES = ("read", "build", "publish", "wait", "activate", "total")
START_TIMEOUT = 60
STOP_TIMEOUT = 30
DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def say(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def die(msg):
    raise SystemExit("s3_vs_local: " + msg)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def gen(rows, parts, tsv_dir, jsonl_dir):
    """PARTS part files of contiguous rows in each directory, + _SUCCESS."""
    os.makedirs(tsv_dir)
    os.makedirs(jsonl_dir)
    bounds = [rows * i // parts for i in range(parts + 1)]
    step = 65536
    for p in range(parts):
        name = "part-%05d" % p
        with open(os.path.join(tsv_dir, name + ".tsv"), "wb") as tsv, \
                gzip.open(os.path.join(jsonl_dir, name + ".jsonl.gz"), "wb",
                          compresslevel=6) as jl:
            tsv.write(b"key\tvalue\n")
            for start in range(bounds[p], bounds[p + 1], step):
                idx = range(start, min(bounds[p + 1], start + step))
                pairs = [(KEY_FORMAT % i, value_for(i)) for i in idx]
                tsv.write(b"".join(k + b"\t" + v + b"\n" for k, v in pairs))
                jl.write(b"".join(b'{"key":"' + k + b'","value":"' + v +
                                  b'"}\n' for k, v in pairs))
    for d in (tsv_dir, jsonl_dir):
        open(os.path.join(d, "_SUCCESS"), "wb").close()


def dir_files(d):
    return sorted(os.listdir(d))


def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


# ---------------------------------------------------------------------------
# S3 (moto) setup: boto3 when importable, else unsigned HTTP
# ---------------------------------------------------------------------------

class S3:
    def __init__(self, port):
        self.port = port
        self.endpoint = "http://127.0.0.1:%d" % port
        try:
            import boto3
            from botocore.config import Config
            self.boto = boto3.client(
                "s3", endpoint_url=self.endpoint, region_name="us-east-1",
                aws_access_key_id="testing", aws_secret_access_key="testing",
                config=Config(s3={"addressing_style": "path"},
                              retries={"max_attempts": 5}))
            self.via = "boto3 " + boto3.__version__
        except ImportError:
            self.boto = None
            self.via = "unsigned HTTP (boto3 not importable)"

    def _http(self, method, path, body=None, query=""):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        url = urllib.parse.quote(path) + (("?" + query) if query else "")
        # moto checks no signature, but wants to see an access key.
        auth = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/"
                "aws4_request, SignedHeaders=host, Signature=" + "0" * 64)
        conn.request(method, url, body=body,
                     headers={"Content-Length": str(
                         0 if body is None else
                         os.fstat(body.fileno()).st_size
                         if hasattr(body, "fileno") else len(body)),
                         "Authorization": auth,
                         "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        r = conn.getresponse()
        data = r.read()
        conn.close()
        if r.status >= 300:
            die("moto: %s %s: HTTP %d %r" % (method, path, r.status,
                                              data[:300]))
        return data

    def create_bucket(self, bucket):
        if self.boto:
            self.boto.create_bucket(Bucket=bucket)
        else:
            self._http("PUT", "/" + bucket)

    def put_file(self, bucket, key, path):
        if self.boto:
            self.boto.upload_file(path, bucket, key)
        else:
            with open(path, "rb") as f:
                self._http("PUT", "/%s/%s" % (bucket, key), body=f)

    def list(self, bucket, prefix):
        """[(key, size)] under prefix."""
        out = []
        if self.boto:
            pages = self.boto.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix)
            for page in pages:
                out += [(o["Key"], o["Size"]) for o in page.get("Contents", [])]
            return out
        token = None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            root = ET.fromstring(self._http("GET", "/" + bucket,
                                            query=urllib.parse.urlencode(q)))
            ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
            for c in root.findall(ns + "Contents"):
                out.append((c.find(ns + "Key").text,
                            int(c.find(ns + "Size").text)))
            token_el = root.find(ns + "NextContinuationToken")
            if token_el is None or not token_el.text:
                return out
            token = token_el.text

    def delete_prefix(self, bucket, prefix):
        keys = [k for k, _ in self.list(bucket, prefix)]
        if self.boto:
            for i in range(0, len(keys), 1000):
                self.boto.delete_objects(Bucket=bucket, Delete={
                    "Objects": [{"Key": k} for k in keys[i:i + 1000]],
                    "Quiet": True})
        else:
            for k in keys:
                self._http("DELETE", "/%s/%s" % (bucket, k))
        return len(keys)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_totals():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)


class Proc:
    """A server we started: stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name, argv, log, env=None):
        self.name = name
        self.log_path = log
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid

    def check(self, during):
        if self.proc.poll() is not None:
            self.log.flush()
            with open(self.log_path, "rb") as f:
                tail = f.read()[-3000:].decode(errors="replace")
            die("%s (pid %d) exited with %d during %s; its log ends:\n%s"
                % (self.name, self.pid, self.proc.returncode, during, tail))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print("s3_vs_local: %s did not exit %ds after SIGTERM; "
                      "killing it" % (self.name, STOP_TIMEOUT),
                      file=sys.stderr)
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def wait_http(port, proc, what):
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        proc.check("startup")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            pass
        if time.monotonic() > deadline:
            die("%s did not answer on port %d within %ds"
                % (what, port, START_TIMEOUT))
        time.sleep(0.1)


def info_field(conn, field):
    info = conn.call("INFO")
    if isinstance(info, bytes):
        for line in info.decode().splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    return None


def wait_larderd(port, proc):
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        proc.check("startup")
        try:
            conn = Resp(port, timeout=2)
            if conn.call("PING") == b"PONG" and \
                    info_field(conn, "batch_state") == "ready":
                conn.sock.close()
                return
            conn.sock.close()
        except (OSError, SystemExit):
            pass
        if time.monotonic() > deadline:
            die("larderd did not become ready on port %d" % port)
        time.sleep(0.1)


def wait_visible(port, rows, timeout=60):
    """Polls T.GET of the last key every 5 ms until the node serves it
    (the node sees the activation on its next membership poll); returns
    the monotonic time of the first hit."""
    deadline = time.monotonic() + timeout
    conn = Resp(port)
    want = value_for(rows - 1)
    while True:
        got = conn.call("T.GET", TABLE, KEY_FORMAT % (rows - 1))
        if got == want:
            t = time.monotonic()
            conn.sock.close()
            return t
        if isinstance(got, bytes):
            die("T.GET %s key:%012d returned %r" % (TABLE, rows - 1, got))
        if time.monotonic() > deadline:
            die("the node did not serve the new version %ds after the "
                "loader's exit (last reply %r)" % (timeout, got))
        time.sleep(0.005)


def check_values(port, rows):
    conn = Resp(port)
    for i in sorted({0, 1, rows // 3, rows // 2, rows - 1}):
        got = conn.call("T.GET", TABLE, KEY_FORMAT % i)
        if got != value_for(i):
            die("T.GET %s key:%012d returned %r" % (TABLE, i, got))
    got = conn.call("T.GET", TABLE, KEY_FORMAT % rows)
    if got is not None:
        die("T.GET of an absent key returned %r" % (got,))
    conn.sock.close()


# ---------------------------------------------------------------------------
# One load
# ---------------------------------------------------------------------------

def scrub(obj, work):
    """Replaces the work directory in every string (no machine paths in
    the records)."""
    if isinstance(obj, str):
        return obj.replace(work, "$WORK")
    if isinstance(obj, list):
        return [scrub(x, work) for x in obj]
    if isinstance(obj, dict):
        return {k: scrub(v, work) for k, v in obj.items()}
    return obj


REQ_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" ([0-9]{3}) ')


def moto_requests(log_path, offset):
    """Counts the requests moto logged since offset, by method, kind
    (list: a bucket-level GET, object otherwise; multipart: uploads=/
    uploadId= in the query) and status: {"GET object 200": n, ...}."""
    counts = {}
    with open(log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    for m in REQ_LINE.finditer(text):
        method, target, status = m.groups()
        path, _, query = target.partition("?")
        kind = "object" if path.strip("/").count("/") >= 1 else "bucket"
        if "uploads" in query or "uploadId" in query:
            kind = "multipart"
        elif method == "GET" and kind == "bucket" and "list-type" in query:
            kind = "list"
        k = "%s %s %s" % (method, kind, status)
        counts[k] = counts.get(k, 0) + 1
    return dict(sorted(counts.items()))


def one_load(cfg, moto, s3, rnd, fmt, mode, order):
    work = cfg["work"]
    tag = "r%d.%s.%s" % (rnd, fmt, mode)
    data = os.path.join(work, tag + ".data")
    scratch = os.path.join(work, tag + ".scratch")
    os.makedirs(scratch)
    os.makedirs(data)
    env = dict(os.environ)
    env.update(DUMMY_ENV)
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = \
        os.path.join(work, "no-aws-config")
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
              "AWS_DEFAULT_REGION"):
        env.pop(k, None)
    fdir = "tsv" if fmt == "tsv" else "jsonl"
    if mode == "local":
        inp = os.path.join(work, "in", fdir)
    else:
        inp = "s3://%s/input/%s/" % (BUCKET, fdir)
    store_prefix = "store/%s/" % tag
    if mode == "s3-in-out":
        store = "s3://%s/%s" % (BUCKET, store_prefix.rstrip("/"))
    else:
        store = "file://" + os.path.join(data, "store")
    endpoint = ["--s3-endpoint", s3.endpoint]
    port = free_port()
    node = Proc("larderd", [
        cfg["larderd"], "--port", str(port), "--bind", "127.0.0.1",
        "--threads", "1", "--data-dir", os.path.join(data, "node"),
        "--membership", "local:" + os.path.join(data, "membership"),
        "--store", store, "--batch-memory", str(cfg["batch_memory"]),
        "--loglevel", "notice"] + endpoint,
        os.path.join(work, tag + ".larderd.log"), env=env)
    cfg["procs"].append(node)
    try:
        wait_larderd(port, node)
        argv = [cfg["larder_load"],
                "--membership", "local:" + os.path.join(data, "membership"),
                "--store", store, "--table", TABLE, "--input", inp,
                "--format", "tsv" if fmt == "tsv" else "jsonl",
                "--key", "key", "--value-field", "value",
                "--work-dir", scratch, "--json", "yes"] + endpoint
        out_path = os.path.join(work, tag + ".load.json")
        err_path = os.path.join(work, tag + ".load.err")
        moto.log.flush()
        log0 = os.path.getsize(moto.log_path)
        n0, m0 = ticks(node.pid), ticks(moto.pid)
        b0, tot0 = cpu_totals()
        t0 = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            loader = subprocess.Popen(argv, stdout=out, stderr=err, env=env,
                                      stdin=subprocess.DEVNULL)
            deadline = t0 + cfg["load_timeout"]
            while True:
                pid, status, ru = os.wait4(loader.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    loader.kill()
                    os.wait4(loader.pid, 0)
                    die("%s: larder-load still running after %ds"
                        % (tag, cfg["load_timeout"]))
                time.sleep(0.005)
            loader.returncode = os.waitstatus_to_exitcode(status)
        t1 = time.monotonic()
        n1, m1 = ticks(node.pid), ticks(moto.pid)
        b1, tot1 = cpu_totals()
        node.check("larder-load (%s)" % tag)
        moto.check("larder-load (%s)" % tag)
        with open(err_path, "rb") as f:
            err_text = f.read().decode(errors="replace")
        with open(out_path, "rb") as f:
            out_text = f.read().decode(errors="replace")
        if loader.returncode != 0:
            die("%s: larder-load exited %d:\n%s\n%s"
                % (tag, loader.returncode, err_text[-3000:], out_text[-2000:]))
        summary = json.loads(out_text)
        if summary.get("state") != "active":
            die("%s: not active: %s" % (tag, out_text))
        visible = wait_visible(port, cfg["rows"]) - t1
        check_values(port, cfg["rows"])
        loader_cpu = ru.ru_utime + ru.ru_stime
        node_cpu = (n1 - n0) / CLK_TCK
        moto_cpu = (m1 - m0) / CLK_TCK
        wall = t1 - t0
        ncpu = os.cpu_count()
        foreign = max(0.0, ((b1 - b0) / CLK_TCK - loader_cpu - node_cpu -
                            moto_cpu) / ((tot1 - tot0) / CLK_TCK / ncpu))
        requests = moto_requests(moto.log_path, log0)
        stored = None
        if mode == "s3-in-out":
            stored = sum(sz for _, sz in s3.list(BUCKET, store_prefix))
        rec = {"kind": "load", "round": rnd, "format": fmt, "mode": mode,
               "order": order, "wall_s": round(wall, 4),
               "rows_s": round(cfg["rows"] / wall, 1),
               "visible_after_s": round(visible, 4),
               "loader_cpu_s": round(loader_cpu, 3),
               "loader_maxrss_bytes": ru.ru_maxrss * 1024,
               "larderd_cpu_s": node_cpu, "moto_cpu_s": moto_cpu,
               "foreign_cores": round(foreign, 3),
               "store_bytes_in_s3": stored,
               "moto_requests": requests,
               "loader_stderr": [l for l in err_text.splitlines()
                                 if l.strip()][-20:],
               "summary": summary}
    finally:
        node.stop()
        cfg["procs"].remove(node)
    with open(node.log_path, "rb") as f:
        warnings = [l for l in f.read().decode(errors="replace").splitlines()
                    if re.match(r"^[0-9]+:[^ ]+ # ", l)]
    rec["larderd_warnings"] = [re.sub(r"^[0-9]+:[^ ]+ # ", "", l)
                               for l in warnings][-20:]
    if mode == "s3-in-out":
        rec["store_objects_deleted"] = s3.delete_prefix(BUCKET, store_prefix)
    shutil.rmtree(data)
    shutil.rmtree(scratch, ignore_errors=True)
    return scrub(rec, work)


# ---------------------------------------------------------------------------
# Machine, source
# ---------------------------------------------------------------------------

def _first_line(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def machine(moto_argv):
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
    try:
        import moto
        moto_v = moto.__version__
    except ImportError:
        moto_v = _first_line(moto_argv + ["--version"])
    try:
        import boto3
        boto_v = boto3.__version__
    except ImportError:
        boto_v = None
    curl = _first_line(["curl", "--version"])
    m = re.search(r"libcurl/(\S+)", curl)
    return {"nproc": os.cpu_count(), "cpu_model": cpu,
            "kernel": platform.release(), "debian_version": debian,
            "mem_total_bytes": mem, "python": platform.python_version(),
            "moto": moto_v, "boto3": boto_v,
            "libcurl": m.group(1) if m else "unknown"}


def source_desc(root, binary):
    try:
        rev = subprocess.run(["git", "-C", root, "rev-parse", "--short",
                              "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", "node",
             "loader", "common", "membership"],
            capture_output=True, text=True).stdout.rstrip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    built = datetime.datetime.fromtimestamp(
        os.path.getmtime(binary), datetime.timezone.utc)
    s = "git %s" % rev
    if dirty:
        s += (" with uncommitted changes in node/, loader/, common/ or "
              "membership/ (files: %s)" % ", ".join(
                  sorted({l[3:] for l in dirty.splitlines()})))
    return s + "; binaries built %s" % built.strftime("%Y-%m-%d %H:%M UTC")


def moto_command():
    try:
        import moto.server  # noqa: F401
        return [sys.executable, "-m", "moto.server"]
    except ImportError:
        path = shutil.which("moto_server")
        if not path:
            die("moto is not installed (pip install 'moto[server]')")
        return [path]


def wait_for_quiet(cfg):
    if cfg["quiet_wait"] <= 0:
        return
    deadline = time.monotonic() + cfg["quiet_wait"]
    while True:
        busy = machine_busy(2)
        if busy < cfg["quiet_max"]:
            return
        if time.monotonic() >= deadline:
            say("  other programs still keep %.0f%% of the cores busy after "
                "%ds; going on" % (busy * 100, cfg["quiet_wait"]))
            return
        time.sleep(3)


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

def run():
    e = os.environ
    rows = int(e.get("ROWS", "2000000"))
    rounds = int(e.get("ROUNDS", "3"))
    parts = int(e.get("PARTS", "4"))
    formats = [f for f in e.get("FORMATS", ",".join(FORMATS)).split(",") if f]
    for f in formats:
        if f not in FORMATS:
            die("FORMATS: unknown format %r (tsv, jsonl.gz)" % f)
    if not 10 <= rows < 10 ** 12:
        die("ROWS must be 10 .. 10^12-1")
    if not 1 <= parts <= rows:
        die("PARTS must be 1 .. ROWS")
    root = e.get("S3_BENCH_ROOT", os.path.dirname(HERE))
    # The tree the binaries were built from (a clean checkout, say), for
    # the revision in the report.
    src_tree = e.get("LARDER_SOURCE") or root
    cfg = {"rows": rows, "procs": [],
           "load_timeout": int(e.get("LOAD_TIMEOUT", "900")),
           "quiet_wait": int(e.get("QUIET_WAIT", "0")),
           "quiet_max": float(e.get("QUIET_MAX", "0.10")),
           "batch_memory": max(rows * 400, 1 << 30)}
    out_dir = e.get("OUT_DIR", os.path.join(root, "docs", "bench"))
    larderd = e.get("LARDERD", os.path.join(root, "build", "release", "node",
                                            "larderd"))
    larder_load = e.get("LARDER_LOAD", os.path.join(
        root, "build", "release", "loader", "larder-load"))
    for b in (larderd, larder_load):
        if not os.access(b, os.X_OK):
            die("not built: %s" % b)
    tmpbase = e.get("TMPDIR", "/tmp")
    # Inputs (~82 + ~35 bytes a row, twice: local and moto's spill files),
    # one load at a time (~92 bytes a row, 3 copies) + margin.
    need = rows * 600 + (1 << 30)
    st = os.statvfs(tmpbase)
    if st.f_bavail * st.f_frsize < need:
        die("%s has %d MiB free, needs about %d MiB for ROWS=%d"
            % (tmpbase, st.f_bavail * st.f_frsize >> 20, need >> 20, rows))
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="s3_vs_local.", dir=tmpbase)
    cfg["work"] = work
    records = []
    moto = None

    def on_signal(signum, _frame):
        raise SystemExit("s3_vs_local: stopped by signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        say("work directory %s" % work)
        # Private copies: a rebuild during the run cannot mix two builds.
        os.makedirs(os.path.join(work, "bin"))
        cfg["larderd"] = shutil.copy2(larderd, os.path.join(work, "bin"))
        cfg["larder_load"] = shutil.copy2(larder_load,
                                          os.path.join(work, "bin"))
        source = source_desc(src_tree, larder_load)
        busy_start = machine_busy(3)
        margv = moto_command()
        mach = machine(margv)

        say("generating %d rows in %d parts (TSV, gzip'd JSONL)"
            % (rows, parts))
        t0 = time.monotonic()
        tsv_dir = os.path.join(work, "in", "tsv")
        jsonl_dir = os.path.join(work, "in", "jsonl")
        gen(rows, parts, tsv_dir, jsonl_dir)
        sizes = {"tsv": dir_bytes(tsv_dir), "jsonl.gz": dir_bytes(jsonl_dir)}
        say("  generated in %.1fs: TSV %d bytes, JSONL.gz %d bytes"
            % (time.monotonic() - t0, sizes["tsv"], sizes["jsonl.gz"]))

        mport = free_port()
        menv = dict(os.environ)
        menv.update(DUMMY_ENV)
        os.makedirs(os.path.join(work, "moto-tmp"))
        menv["TMPDIR"] = os.path.join(work, "moto-tmp")
        moto = Proc("moto_server", margv + ["-H", "127.0.0.1", "-p",
                                            str(mport)],
                    os.path.join(work, "moto.log"), env=menv)
        cfg["procs"].append(moto)
        wait_http(mport, moto, "moto_server")
        s3 = S3(mport)
        say("moto_server (pid %d) on port %d; uploading the inputs via %s"
            % (moto.pid, mport, s3.via))
        s3.create_bucket(BUCKET)
        t0 = time.monotonic()
        for fmt, d, sub in (("tsv", tsv_dir, "tsv"),
                            ("jsonl.gz", jsonl_dir, "jsonl")):
            if fmt not in formats:
                continue
            names = [n for n in dir_files(d) if n != "_SUCCESS"] + \
                ["_SUCCESS"]   # the marker last, as Spark does
            for n in names:
                s3.put_file(BUCKET, "input/%s/%s" % (sub, n),
                            os.path.join(d, n))
            listed = dict(s3.list(BUCKET, "input/%s/" % sub))
            for n in names:
                if listed.get("input/%s/%s" % (sub, n)) != \
                        os.path.getsize(os.path.join(d, n)):
                    die("moto does not hold input/%s/%s as uploaded"
                        % (sub, n))
        upload_s = time.monotonic() - t0
        say("  uploaded in %.1fs" % upload_s)

        for rnd in range(1, rounds + 1):
            k = (rnd - 1) % len(MODES)
            order = MODES[k:] + MODES[:k]
            for fmt in formats:
                for i, mode in enumerate(order):
                    wait_for_quiet(cfg)
                    rec = one_load(cfg, moto, s3, rnd, fmt, mode, i + 1)
                    records.append(rec)
                    ph = rec["summary"]["seconds"]
                    say("  round %d %-8s %-9s %6.2fs %9.0f rows/s  read %.2f "
                        "build %.2f publish %.2f wait %.2f | CPU loader %.2f "
                        "larderd %.2f moto %.2f other %.2f cores"
                        % (rnd, fmt, mode, rec["wall_s"], rec["rows_s"],
                           ph["read"], ph["build"], ph["publish"], ph["wait"],
                           rec["loader_cpu_s"], rec["larderd_cpu_s"],
                           rec["moto_cpu_s"], rec["foreign_cores"]))
        busy_end = machine_busy(3)
        m0 = ticks(moto.pid)
        time.sleep(3)
        moto_idle = (ticks(moto.pid) - m0) / CLK_TCK / 3
        rc = moto.stop()
        cfg["procs"].remove(moto)
        if rc not in (0, -signal.SIGTERM):
            say("  moto_server exited with %s after SIGTERM" % rc)
        records.append(scrub({
            "kind": "meta", "command": e.get("S3_BENCH_COMMAND",
                                             "bench/s3_vs_local.sh"),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M UTC"),
            "source": source, "rows": rows, "rounds": rounds, "parts": parts,
            "formats": formats, "input_bytes": sizes,
            "upload_s": round(upload_s, 2), "upload_via": s3.via,
            "moto_command": "python -m moto.server" if "-m" in margv
            else "moto_server",
            "moto_idle_cores": round(moto_idle, 3),
            "batch_memory": cfg["batch_memory"],
            "busy_start": round(busy_start, 3), "busy_end": round(busy_end, 3),
            "tmp_fs": "%s" % _fs_desc(work), "machine": mach}, work))
        jpath = os.path.join(out_dir, "s3.json")
        mpath = os.path.join(out_dir, "s3.md")
        with open(jpath, "w") as f:
            json.dump({"records": records}, f, indent=1)
            f.write("\n")
        report(jpath, mpath)
        say("results: %s, %s" % (mpath, jpath))
    finally:
        for p in list(cfg["procs"]):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)


def _fs_desc(path):
    try:
        lines = subprocess.run(["df", "--output=source,fstype", path],
                               capture_output=True, text=True).stdout
        src, fstype = lines.strip().splitlines()[-1].split()
        return "%s, %s" % (src, fstype)
    except (OSError, ValueError, IndexError):
        return "unknown"


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def _med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _f(x, d=2):
    return "n/a" if x is None else "%.*f" % (d, x)


def _rate(x):
    return "n/a" if x is None else "{:,.0f}".format(x)


def _ratio(a, b):
    return None if a is None or not b else a / b


def _x(r, d=2):
    return "n/a" if r is None else "%.*f×" % (d, r)


def summarize(records):
    meta = next(r for r in records if r["kind"] == "meta")
    loads = [r for r in records if r["kind"] == "load"]
    rows = meta["rows"]
    out = {}
    for fmt in meta["formats"]:
        out[fmt] = {}
        for mode in MODES:
            rs = sorted([r for r in loads if r["format"] == fmt and
                         r["mode"] == mode], key=lambda r: r["round"])
            if not rs:
                continue
            s = {"n": len(rs), "rounds": rs,
                 "wall_s": _med([r["wall_s"] for r in rs]),
                 "rows_s": _med([rows / r["wall_s"] for r in rs]),
                 "loader_cpu_s": _med([r["loader_cpu_s"] for r in rs]),
                 "larderd_cpu_s": _med([r["larderd_cpu_s"] for r in rs]),
                 "moto_cpu_s": _med([r["moto_cpu_s"] for r in rs]),
                 "cpu_total_s": _med([r["loader_cpu_s"] + r["larderd_cpu_s"] +
                                      r["moto_cpu_s"] for r in rs]),
                 "larder_cpu_s": _med([r["loader_cpu_s"] + r["larderd_cpu_s"]
                                       for r in rs]),
                 "foreign_cores": _med([r["foreign_cores"] for r in rs])}
            for ph in PHASES:
                s[ph] = _med([r["summary"]["seconds"].get(ph) for r in rs])
            out[fmt][mode] = s
    return meta, loads, out


def report(jpath, mpath):
    with open(jpath) as f:
        records = json.load(f)["records"]
    meta, loads, s = summarize(records)
    m = meta["machine"]
    rows = meta["rows"]
    L = []
    w = L.append
    w("# S3 against local files: the same load through moto_server")
    w("")
    w("Produced by `bench/s3_vs_local.sh`; the raw records of every load are "
      "in [s3.json](s3.json). Do not edit by hand: rerun the script "
      "(`bench/s3_vs_local.py report docs/bench/s3.json docs/bench/s3.md` "
      "renders this page again from the JSON).")
    w("")
    w("**What these figures are.** moto on loopback is an S3 API written in "
      "Python, running on the same 2 cores as larder-load and larderd. The "
      "S3 figures therefore measure larder's S3 client overhead (HTTP, "
      "signing, listing, ranged reads, uploads) **plus moto's own CPU**, "
      "which competes with larder for the cores; they are not real S3 "
      "network throughput, latency or request limits, and say nothing about "
      "a node pulling over a real network.")
    w("")
    w("- Command: `%s`" % meta["command"])
    w("- Date: %s" % meta["date"])
    w("- larder source: %s" % meta["source"])
    w("- Machine: %d cores, %s, %.1f GiB RAM; kernel %s; Debian %s; "
      "Python %s, moto %s (`%s`, in-memory backend), %s; libcurl %s"
      % (m["nproc"], m["cpu_model"], m["mem_total_bytes"] / 2 ** 30,
         m["kernel"], m["debian_version"], m["python"], m["moto"],
         meta["moto_command"],
         "boto3 %s for the setup" % m["boto3"] if m["boto3"]
         else "no boto3 (setup by plain HTTP)", m["libcurl"]))
    w("- Load from other programs (busy share of all cores over 3 s, nothing "
      "of ours running): %.0f%% at the start, %.0f%% at the end; during each "
      "load see the per-round table (`other`, in cores of 2)"
      % (meta["busy_start"] * 100, meta["busy_end"] * 100))
    ib = meta["input_bytes"]
    w("- Data: %s rows, 16-byte keys `key:000000000000`.., 64-byte values "
      "(the rows of `bench/load_vs_redis.sh`), in %d part files + `_SUCCESS`"
      " per format: TSV with a header `key<TAB>value` in every part, "
      "%s bytes; JSONL `{\"key\":…,\"value\":…}` gzip'd (level 6), %s bytes "
      "(the values repeat a 13-byte pattern, so they compress far better "
      "than real data would). Generated before the timed runs on local disk"
      " (%s) and read from the page cache; uploaded once to moto (%s, "
      "%.1f s, not timed)."
      % ("{:,}".format(rows), meta["parts"],
         "{:,}".format(ib.get("tsv", 0)), "{:,}".format(ib.get("jsonl.gz", 0)),
         meta["tmp_fs"], meta["upload_via"], meta["upload_s"]))
    w("- Every load: a fresh `larderd --threads 1 --batch-memory %d` with a "
      "fresh `--data-dir` and `--membership local:…`, not pinned, then "
      "`larder-load --table bench --key key --value-field value --format "
      "tsv|jsonl --json yes --s3-endpoint http://127.0.0.1:PORT` (default "
      "options otherwise: 256 partitions, 4 build threads), dummy "
      "credentials in the environment (`AWS_ACCESS_KEY_ID=testing`...)."
      % meta["batch_memory"])
    w("  - (a) `--input <local dir>`, `--store file://<data-dir>/store`;")
    w("  - (b) `--input s3://larder-bench/input/FMT/`, the same file store;")
    w("  - (c) `--input s3://larder-bench/input/FMT/`, `--store "
      "s3://larder-bench/store/<round.format.mode>` on both larder-load "
      "and larderd: the loader uploads the segments and the manifest to "
      "moto, the node pulls them from moto (the store prefix is deleted "
      "after each load).")
    w("- %d rounds; in each round both formats, and for each format the "
      "three modes in a rotated order (round 1: a b c, round 2: b c a, round"
      " 3: c a b); medians over rounds. Time: from the loader's start to its"
      " exit (the version is active, the node holds it); the node's pull is"
      " the loader's `wait` phase. CPU: larder-load's rusage (wait4), "
      "larderd's and moto_server's utime+stime from /proc/PID/stat over the "
      "load. moto idles at %.3f cores between loads."
      % (meta["rounds"], meta["moto_idle_cores"]))
    w("")
    for fmt in meta["formats"]:
        t = s[fmt]
        a = t.get("local")
        w("## %s" % ("TSV" if fmt == "tsv" else "gzip'd JSONL"))
        w("")
        w("Medians over rounds. Phases from the loader's `--json` `seconds`."
          " CPU in seconds over the whole load.")
        w("")
        w("| mode | seconds | rows/s | per round (s) | read | build | "
          "publish | wait | CPU larder-load | CPU larderd | CPU moto | "
          "CPU total | other programs (cores, per round) |")
        w("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for mode in MODES:
            x = t.get(mode)
            if not x:
                continue
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
              " %s |"
              % (MODE_LABEL[mode], _f(x["wall_s"]), _rate(x["rows_s"]),
                 ", ".join(_f(r["wall_s"]) for r in x["rounds"]),
                 _f(x["read"]), _f(x["build"]), _f(x["publish"]),
                 _f(x["wait"]), _f(x["loader_cpu_s"]),
                 _f(x["larderd_cpu_s"]), _f(x["moto_cpu_s"]),
                 _f(x["cpu_total_s"]),
                 ", ".join(_f(r["foreign_cores"]) for r in x["rounds"])))
        w("")
        w("Ratios, S3 ÷ local (medians of (b) or (c) ÷ medians of (a); "
          "rows/s below 1× means slower):")
        w("")
        w("| | rows/s | rows/s, per round (same round's (a)) | seconds | "
          "read | build | publish | wait | CPU larder-load | CPU larderd | "
          "CPU larder (loader + node) | CPU total (with moto) |")
        w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for mode in ("s3-in", "s3-in-out"):
            x = t.get(mode)
            if not x or not a:
                continue
            paired = []
            for r in x["rounds"]:
                ra = next((q for q in a["rounds"]
                           if q["round"] == r["round"]), None)
                paired.append(_x(_ratio(ra["wall_s"], r["wall_s"]))
                              if ra else "n/a")
            w("| %s ÷ (a) | **%s** | %s | %s | %s | %s | %s | %s | %s | %s |"
              " %s | %s |"
              % (MODE_LABEL[mode].split(" ")[0],
                 _x(_ratio(x["rows_s"], a["rows_s"])), ", ".join(paired),
                 _x(_ratio(x["wall_s"], a["wall_s"])),
                 _x(_ratio(x["read"], a["read"])),
                 _x(_ratio(x["build"], a["build"])),
                 _x(_ratio(x["publish"], a["publish"])),
                 _x(_ratio(x["wait"], a["wait"])),
                 _x(_ratio(x["loader_cpu_s"], a["loader_cpu_s"])),
                 _x(_ratio(x["larderd_cpu_s"], a["larderd_cpu_s"])),
                 _x(_ratio(x["larder_cpu_s"], a["larder_cpu_s"])),
                 _x(_ratio(x["cpu_total_s"], a["cpu_total_s"]))))
        w("")
    w("## S3 requests per load")
    w("")
    w("Counted from moto's request log (method, what was asked for, HTTP "
      "status); `object` is a key, `list` a ListObjectsV2 of the prefix. "
      "Every round gave the same counts unless several are shown.")
    w("")
    w("| format | mode | requests |")
    w("|---|---|---|")
    for fmt in meta["formats"]:
        for mode in ("s3-in", "s3-in-out"):
            seen = []
            for r in loads:
                if r["format"] == fmt and r["mode"] == mode and \
                        "moto_requests" in r and r["moto_requests"] not in seen:
                    seen.append(r["moto_requests"])
            if seen:
                w("| %s | %s | %s |" % (
                    fmt, MODE_LABEL[mode].split(" ")[0], "; ".join(
                        ", ".join("%s ×%d" % kv for kv in c.items())
                        for c in seen)))
    w("")
    w("## Every load")
    w("")
    w("`order`: the mode's place in its round. `other`: cores' worth of CPU "
      "that programs other than ours used during the load (of 2).")
    w("")
    w("| round | format | mode | order | seconds | rows/s | read | build | "
      "publish | wait | activate | CPU larder-load | CPU larderd | CPU moto "
      "| other | loader peak RSS |")
    w("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
      "---:|---:|")
    for r in sorted(loads, key=lambda r: (r["round"], r["format"],
                                          r["order"])):
        ph = r["summary"]["seconds"]
        w("| %d | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
          " %s | %s | %d MB |"
          % (r["round"], r["format"], MODE_LABEL[r["mode"]].split(" ")[0],
             r["order"], _f(r["wall_s"]), _rate(rows / r["wall_s"]),
             _f(ph.get("read")), _f(ph.get("build")), _f(ph.get("publish")),
             _f(ph.get("wait")), _f(ph.get("activate"), 3),
             _f(r["loader_cpu_s"]), _f(r["larderd_cpu_s"]),
             _f(r["moto_cpu_s"]), _f(r["foreign_cores"]),
             r["loader_maxrss_bytes"] // 1000000))
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
    for fmt in meta["formats"]:
        t = s[fmt]
        a = t.get("local")
        for mode in ("s3-in", "s3-in-out"):
            x = t.get(mode)
            if not x or not a:
                continue
            extra = x["wall_s"] - a["wall_s"]
            deltas = sorted(((x[ph] - a[ph], ph) for ph in
                             ("read", "build", "publish", "wait")),
                            reverse=True)
            out.append(
                "%s, %s against (a), medians: end to end %+.2f s; by phase "
                "%s. CPU: moto %.2f s, larder-load %+.2f s, larderd %+.2f s."
                % ("TSV" if fmt == "tsv" else "gzip'd JSONL",
                   MODE_LABEL[mode].split(" ")[0], extra,
                   ", ".join("%s %+.2f s" % (ph, d) for d, ph in deltas),
                   x["moto_cpu_s"], x["loader_cpu_s"] - a["loader_cpu_s"],
                   x["larderd_cpu_s"] - a["larderd_cpu_s"]))
    per_req = []
    for r in loads:
        n = sum((r.get("moto_requests") or {}).values())
        if r["mode"] == "s3-in-out" and n:
            per_req.append(r["moto_cpu_s"] / n)
    if per_req:
        out.append("moto's CPU per request in (c) (its CPU seconds over the "
                   "load ÷ the requests it logged): %.1f ms median, %.1f–%.1f"
                   " ms over the loads; the bytes moved matter less than "
                   "the number of requests (in (b), %s requests moving the "
                   "whole input cost moto %s)."
                   % (_med(per_req) * 1000, min(per_req) * 1000,
                      max(per_req) * 1000,
                      _f(_med([sum((r.get("moto_requests") or {}).values())
                               for r in loads if r["mode"] == "s3-in"]), 0),
                      " and ".join(
                          "%s CPU seconds (%s)" % (_f(_med(
                              [r["moto_cpu_s"] for r in loads
                               if r["mode"] == "s3-in" and
                               r["format"] == fmt])),
                              "TSV" if fmt == "tsv" else "gzip'd JSONL")
                          for fmt in meta["formats"])))
    stored = [r["store_bytes_in_s3"] for r in loads
              if r.get("store_bytes_in_s3")]
    if stored:
        out.append("In (c) the loader put %s bytes into the s3:// store per "
                   "load (segments and manifest), and the node read them back"
                   " from moto." % "{:,}".format(int(_med(stored))))
    warn = {}
    for r in loads:
        for l in r.get("larderd_warnings", []):
            warn[l] = warn.get(l, 0) + 1
    for l, n in sorted(warn.items(), key=lambda kv: -kv[1])[:5]:
        out.append("larderd logged a warning: %s (×%d)" % (l, n))
    busiest = max(r["foreign_cores"] for r in loads)
    quiet = [r for r in loads if r["foreign_cores"] < 0.25]
    out.append("Other programs used %.2f–%.2f cores (of 2) during the loads;"
               " %d of %d loads ran with less than 0.25. Wall-clock times, "
               "rows/s and their ratios are distorted wherever that share was"
               " high (compare the per-round ratios, which pair each S3 load"
               " with the local load of the same round and format); CPU "
               "seconds depend far less on it and are the steadier "
               "comparison."
               % (min(r["foreign_cores"] for r in loads), busiest,
                  len(quiet), len(loads)))
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
