#!/usr/bin/env python3
"""Atomicity of multi-key commands under concurrency (Redis semantics): an
MSET sets all of its keys at once, so a concurrent MGET of the same keys
never sees some keys from one MSET and the rest from another, even when the
keys live in different shards served by different worker threads."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import check  # noqa: E402


def test_mset_is_atomic(ctx):
    """MSET sets all its keys at once (Redis semantics): a concurrent MGET
    of the same keys never sees some keys from one MSET and others from
    another."""
    srv = ctx.server(["--threads", "4"])
    keys = [b"atom:%d" % i for i in range(128)]  # spread over shards
    stop = threading.Event()
    errors = []
    torn = []
    reads = [0]

    def writer(wid):
        try:
            with h.Conn(srv.port, timeout=20) as c:
                for seq in range(100000):
                    if stop.is_set():
                        return
                    v = b"%d:%d" % (wid, seq)
                    args = [x for k in keys for x in (k, v)]
                    if c.call("MSET", *args) != "OK":
                        errors.append("MSET failed")
                        return
        except Exception as e:
            errors.append("writer: %r" % (e,))

    def reader():
        try:
            with h.Conn(srv.port, timeout=20) as c:
                while not stop.is_set():
                    got = c.call("MGET", *keys)
                    reads[0] += 1
                    if len(set(got)) > 1:
                        torn.append(got)
                        if len(torn) > 5:
                            return
        except Exception as e:
            errors.append("reader: %r" % (e,))

    with srv.conn() as c:
        c.call("MSET", *[x for k in keys for x in (k, b"init")])
    threads = [threading.Thread(target=writer, args=(w,), daemon=True)
               for w in range(2)] + \
        [threading.Thread(target=reader, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    stop.wait(h.scaled(3))
    stop.set()
    for t in threads:
        t.join(h.scaled(20))
    check(not any(t.is_alive() for t in threads), "MSET/MGET threads stuck")
    check(not errors, "; ".join(errors[:5]))
    check(not torn, "%d of %d MGETs of 128 keys saw a mix of MSETs, e.g. "
          "values %r" % (len(torn), reads[0],
                         sorted(set(torn[0])) if torn else None))
    srv.stop_and_check(timeout=30)


TESTS = [test_mset_is_atomic]

if __name__ == "__main__":
    h.main(TESTS, budget=60)
