#!/usr/bin/env python3
"""Batch-table switches under concurrent readers (larderd --threads 4).

- Two tables activated together switch together: readers alternating
  between them, one request at a time, never read the new version of one
  and then the old version of either.
- Flips: the active map is rolled back and forth many times while
  readers hammer T.MGET, T.INFO and INFO batch on several connections,
  with --retain-hot 0 --retire-grace 0, so every flip unmaps the version
  it leaves (its segments are closed once no worker can use them) and
  re-populates the other from disk. Every T.MGET must read one version,
  and the node must stay up: a segment unmapped under a reader would
  crash it (or be reported by AddressSanitizer / ThreadSanitizer, which
  run this file through the "concurrency" label).

Values are each row's version tag (larder-load --value-field).
"""

import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402
import test_batch as tb  # noqa: E402


class Reader(threading.Thread):
    """Reads tables a and b alternately, one request at a time, and
    records the versions seen, in order."""

    def __init__(self, port, key):
        super().__init__(daemon=True)
        self.conn = h.Conn(port)
        self.key = key
        self.seen = []
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                for t in ("a", "b"):
                    v = self.conn.call("T.GET", t, self.key)
                    self.seen.append((t, v))
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.conn.close()


def stage_pair(cl, srv, tag, run_id):
    """Stages version `tag` of tables a and b (linked by run_id) and waits
    until the node has pulled both."""
    for t in ("a", "b"):
        cl.load(t, tag, "--stage-only", "yes", "--run-id", run_id)

    def pulled():
        return all(tag in tb.versions_of(srv, t) and
                   tb.versions_of(srv, t)[tag] != "cold" for t in ("a", "b"))
    h.wait_until(pulled, 20, what="version %s of a and b pulled" % tag)


def test_two_tables_switch_together(ctx):
    cl = tb.Cluster(ctx)
    srv = cl.node("--threads", "4")
    stage_pair(cl, srv, 1, "run1")
    cl.cli("activate", "a=1", "b=1")
    tb.wait_generation(srv, 1)
    stage_pair(cl, srv, 2, "run2")
    readers = [Reader(srv.port, "k%d" % i) for i in range(3)]
    for r in readers:
        r.start()
    time.sleep(0.2)
    cl.cli("activate", "a=2", "b=2")
    tb.wait_generation(srv, 2)
    time.sleep(0.2)
    for r in readers:
        r.stop.set()
    for r in readers:
        r.join(h.scaled(10))
        check(r.error is None, "reader failed: %r" % r.error)
        values = [v for _, v in r.seen]
        check(set(values) == {b"1", b"2"},
              "reader saw only %r (the switch happened outside its reads)"
              % set(values))
        first_new = values.index(b"2")
        mixed = [x for x in r.seen[first_new:] if x[1] == b"1"]
        check(not mixed, "after reading version 2 at request %d, a reader "
              "read version 1 again: %r (tables switched separately)"
              % (first_new, mixed[:3]))
    eq(srv.call("T.MGET", "a", "k1", "k2"), [b"2", b"2"], "T.MGET a")


class Hammer(threading.Thread):
    """Sends pipelines of long T.MGETs (2000 keys, most of them absent, so
    a worker spends a while inside the segments), checking each read one
    version, plus T.INFO and INFO batch, until stopped."""

    def __init__(self, port, table):
        super().__init__(daemon=True)
        self.conn = h.Conn(port)
        self.table = table
        self.mget = ["T.MGET", table] + ["k%d" % i for i in range(2000)]
        self.stop = threading.Event()
        self.error = None
        self.versions = set()
        self.requests = 0

    def run(self):
        try:
            while not self.stop.is_set():
                replies = self.conn.pipeline([self.mget] * 4 +
                                             [["T.INFO", self.table],
                                              ["INFO", "batch"]])
                for vals in replies[:4]:
                    found = set(v for v in vals if v is not None) \
                        if isinstance(vals, list) else None
                    if found is None or len(found) != 1:
                        raise AssertionError("T.MGET mixed or failed: %r"
                                             % (found or vals,))
                    self.versions |= found
                if isinstance(replies[4], h.RespError):
                    raise AssertionError("T.INFO: %r" % replies[4])
                info = h.parse_info(replies[5])
                if info.get("batch_state") != "ready":
                    raise AssertionError("INFO batch: %r" % info)
                self.requests += len(replies)
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.conn.close()


def start_benchmark(port):
    """redis-benchmark sending pipelined T.MGETs of 500 keys on 8
    connections until killed; None if it is not installed."""
    cmd = ["redis-benchmark", "-h", h.HOST, "-p", str(port), "-c", "8",
           "-P", "8", "-n", "100000000", "-q", "T.MGET", "a"] + \
        ["k%d" % i for i in range(500)]
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL,
                             preexec_fn=h._pdeathsig)
    except OSError:
        return None
    h._started.append(p)
    return p


def test_flips_unmap_under_readers(ctx):
    cl = tb.Cluster(ctx)
    srv = cl.node("--threads", "4", "--retain-hot", "0", "--retire-grace",
                  "0", "--watch-interval-ms", "10")
    stage_pair(cl, srv, 1, "run1")
    cl.cli("activate", "a=1", "b=1")
    tb.wait_generation(srv, 1)
    stage_pair(cl, srv, 2, "run2")
    cl.cli("activate", "a=2", "b=2")
    tb.wait_generation(srv, 2)
    hammers = [Hammer(srv.port, t) for t in ("a", "b", "a", "b")]
    for x in hammers:
        x.start()
    # redis-benchmark keeps every worker busy inside long T.MGETs, so a
    # segment closed too early would be hit, not just possibly hit.
    load = start_benchmark(srv.port)
    flips = 30
    for i in range(flips):
        cl.cli("rollback")
        tb.wait_generation(srv, 3 + i)
        # The version just left is unmapped (cold) at once.
        h.wait_until(lambda: "cold" in tb.versions_of(srv, "a").values(), 10,
                     what="the version left to be unmapped")
    if load is not None:
        check(load.poll() is None, "redis-benchmark stopped early (exit %s): "
              "the node closed its connections" % load.poll())
        load.kill()
        load.wait()
    for x in hammers:
        x.stop.set()
    for x in hammers:
        x.join(h.scaled(20))
        check(x.error is None, "reader failed: %r" % x.error)
        check(x.requests > 0, "reader made no requests")
    seen = set().union(*(x.versions for x in hammers))
    eq(seen, {b"1", b"2"}, "versions read across the flips")
    info = tb.binfo(srv)
    eq(h.info_int(info, "batch_pulls_total"), 4 * tb.PARTS,
       "pulls (flips re-populate from local disk)")
    check(h.info_int(info, "batch_reused_total") >= 2 * flips,
          "re-populated from local files")
    active_bytes = sum(int(info["table_" + t].split("bytes=")[1].split(",")[0])
                       for t in ("a", "b"))
    eq(h.info_int(info, "batch_used_bytes"), active_bytes,
       "only the active versions stay mapped")


def main():
    h.main([test_two_tables_switch_together, test_flips_unmap_under_readers],
           budget=200)


if __name__ == "__main__":
    main()
