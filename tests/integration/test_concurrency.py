#!/usr/bin/env python3
"""Many clients at once on a multi-threaded larderd (--threads 4) under
memory pressure (--maxmemory 4mb, allkeys-lru): 8 client threads run a
bounded random mix of SET/GET/MGET/DEL/EXPIRE/PEXPIRE/EXISTS/TTL/INFO, some
pipelined, while another thread churns connections. Every reply must have a
valid type and value: a GET returns nil or a value some client SET for that
very key (each value encodes its key and is self-checking). Then evictions
happened, used_memory stayed near maxmemory, the server is alive, and
SIGTERM exits 0. This is also the test the ThreadSanitizer build runs."""

import os
import random
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402

MAXMEMORY = 4 * 1024 * 1024
KEYS = 20000
THREADS = 8
OPS_PER_THREAD = 3000
SECONDS_PER_THREAD = 12.0


# used_memory_live is what larder's eviction keeps under maxmemory: only an
# EXPIRE that adds a TTL grows an entry (by 8 bytes) without evicting first.
LIVE_SLACK = 64 * 1024


# Connections open during the run: workers, churner, admin, monitor, main.
CONNECTIONS = THREADS + 4


def slack(maxmemory):
    """How far the whole-heap used_memory may exceed maxmemory: larder's
    eviction bounds the table (used_memory_live); used_memory also counts
    each connection's buffers (tens of KB each) and thread overhead."""
    return max(512 * 1024, maxmemory // 10) + 96 * 1024 * CONNECTIONS


def make_value(key, tid, seq, rnd, size=None):
    """key|tid|seq|len|crc|padding: verifiable without shared state."""
    n = size if size is not None else rnd.choice((8, 50, 200, 1000, 3000))
    pad = (b"%d:%d;" % (tid, seq) * (n // 4 + 1))[:n]
    head = b"%s|%d|%d|%d|" % (key, tid, seq, n)
    return head + b"%08x|" % (zlib.crc32(head + pad) & 0xffffffff) + pad


def value_ok(key, v):
    """A value for key as written by make_value(), intact."""
    if not isinstance(v, bytes):
        return False
    parts = v.split(b"|", 5)
    if len(parts) != 6 or parts[0] != key:
        return False
    try:
        n = int(parts[3])
        crc = int(parts[4], 16)
    except ValueError:
        return False
    pad = parts[5]
    head = b"|".join(parts[:4]) + b"|"
    return len(pad) == n and zlib.crc32(head + pad) & 0xffffffff == crc


class Worker(threading.Thread):
    def __init__(self, port, tid, seed, errors, stats):
        super().__init__(daemon=True)
        self.port, self.tid = port, tid
        self.rnd = random.Random(seed * 1000 + tid)
        self.errors, self.stats = errors, stats
        self.seq = 0

    def key(self):
        # Skewed: a hot tenth of the key space gets half the traffic.
        if self.rnd.random() < 0.5:
            return b"k:%d" % self.rnd.randrange(KEYS // 10)
        return b"k:%d" % self.rnd.randrange(KEYS)

    def bad(self, what, got):
        self.errors.append("thread %d: %s -> %s" % (self.tid, what,
                                                    h._short(got, 200)))

    def one(self, c):
        """Issues one random operation (or a pipelined batch) and checks
        the replies. Returns the number of commands issued."""
        r = self.rnd.random()
        k = self.key()
        self.seq += 1
        if r < 0.35:
            v = make_value(k, self.tid, self.seq, self.rnd)
            extra = []
            if self.rnd.random() < 0.1:
                extra = ["EX", self.rnd.randint(1, 100)]
            elif self.rnd.random() < 0.1:
                extra = ["PX", self.rnd.randint(50, 2000)]
            got = c.call("SET", k, v, *extra)
            if got != "OK":
                self.bad("SET %s %s" % (k, extra), got)
        elif r < 0.65:
            got = c.call("GET", k)
            if got is not None and not value_ok(k, got):
                self.bad("GET %s" % k, got)
            self.stats["gets"] += 1
            self.stats["hits"] += got is not None
        elif r < 0.72:
            ks = [self.key() for _ in range(self.rnd.randint(1, 20))]
            got = c.call("MGET", *ks)
            if not isinstance(got, list) or len(got) != len(ks):
                self.bad("MGET %d keys" % len(ks), got)
            else:
                for kk, vv in zip(ks, got):
                    if vv is not None and not value_ok(kk, vv):
                        self.bad("MGET element %s" % kk, vv)
        elif r < 0.78:
            got = c.call("DEL", k)
            if got not in (0, 1):
                self.bad("DEL %s" % k, got)
        elif r < 0.83:
            got = c.call("EXPIRE", k, self.rnd.randint(1, 60))
            if got not in (0, 1):
                self.bad("EXPIRE %s" % k, got)
        elif r < 0.88:
            got = c.call("PEXPIRE", k, self.rnd.randint(1, 3000))
            if got not in (0, 1):
                self.bad("PEXPIRE %s" % k, got)
        elif r < 0.91:
            got = c.call("TTL", k)
            if not isinstance(got, int) or got < -2 or got > 100:
                self.bad("TTL %s" % k, got)
        elif r < 0.94:
            got = c.call("EXISTS", k, k)
            if got not in (0, 2):
                self.bad("EXISTS %s %s" % (k, k), got)
        elif r < 0.945:
            v = make_value(k, self.tid, self.seq, self.rnd)
            got = c.call("SET", k, v, "GET")
            if got is not None and not value_ok(k, got):
                self.bad("SET %s ... GET" % k, got)
        elif r < 0.95:
            got = c.call("INFO")
            if not isinstance(got, bytes) or b"used_memory:" not in got:
                self.bad("INFO", got)
        elif r < 0.96:
            got = c.call("DBSIZE")
            if not isinstance(got, int) or got < 0 or got > KEYS:
                self.bad("DBSIZE", got)
        else:
            # A pipelined batch of SETs and GETs.
            cmds, keys = [], []
            for _ in range(20):
                kk = self.key()
                self.seq += 1
                if self.rnd.random() < 0.5:
                    cmds.append(("SET", kk,
                                 make_value(kk, self.tid, self.seq,
                                            self.rnd)))
                else:
                    cmds.append(("GET", kk))
                keys.append(kk)
            for cmd, kk, got in zip(cmds, keys, c.pipeline(cmds)):
                if cmd[0] == "SET" and got != "OK":
                    self.bad("pipelined SET %s" % kk, got)
                if cmd[0] == "GET" and got is not None and \
                        not value_ok(kk, got):
                    self.bad("pipelined GET %s" % kk, got)
            return 20
        return 1

    def run(self):
        deadline = time.monotonic() + h.scaled(SECONDS_PER_THREAD)
        try:
            with h.Conn(self.port, timeout=20) as c:
                done = 0
                while done < OPS_PER_THREAD and time.monotonic() < deadline:
                    done += self.one(c)
                    if len(self.errors) > 50:
                        return
                self.stats["ops"] += done
        except Exception as e:  # reported by the main thread
            self.errors.append("thread %d: %r" % (self.tid, e))


class Churner(threading.Thread):
    """Opens and closes connections, some mid-request, some with RST."""

    def __init__(self, port, seed, errors):
        super().__init__(daemon=True)
        self.port, self.errors = port, errors
        self.rnd = random.Random(seed)
        self.stop_flag = threading.Event()

    def run(self):
        try:
            for i in range(300):
                if self.stop_flag.is_set():
                    return
                c = h.Conn(self.port)
                kind = i % 3
                if kind == 0:
                    got = c.call("PING")
                    if got != "PONG":
                        self.errors.append("churn PING -> %r" % (got,))
                    c.close()
                elif kind == 1:
                    c.send_raw(h.encode("SET", "churn", "x" * 100)[:20])
                    c.reset()
                else:
                    c.send_raw(h.encode("GET", "k:1") * 10)
                    c.reset()
                time.sleep(0.005)
        except Exception as e:
            self.errors.append("churner: %r" % (e,))


class Admin(threading.Thread):
    """Runs server-wide commands while the workers write: FLUSHALL (a few
    times), DBSIZE, INFO, CONFIG GET, CLIENT SETNAME/GETNAME, HELLO 3/2."""

    def __init__(self, port, errors):
        super().__init__(daemon=True)
        self.port, self.errors = port, errors
        self.stop_flag = threading.Event()

    def run(self):
        try:
            with h.Conn(self.port, timeout=20) as c:
                for i in range(400):
                    if self.stop_flag.wait(0.01):
                        return
                    if i in (50, 150, 250):
                        got = c.call("FLUSHALL")
                        if got != "OK":
                            self.errors.append("FLUSHALL -> %r" % (got,))
                    got = c.call("CONFIG", "GET", "maxmemory*")
                    if not isinstance(got, list) or len(got) < 4:
                        self.errors.append("CONFIG GET -> %r" % (got,))
                    name = "admin-%d" % i
                    c.call("CLIENT", "SETNAME", name)
                    got = c.call("CLIENT", "GETNAME")
                    if got != name.encode():
                        self.errors.append("CLIENT GETNAME -> %r" % (got,))
                    if i % 10 == 0:
                        c.call("HELLO", "3")
                        got = c.call_raw("GET", "no-such-key")
                        c.call("HELLO", "2")
                        if got != b"_\r\n":
                            self.errors.append("RESP3 GET miss -> %r" % got)
        except Exception as e:
            self.errors.append("admin: %r" % (e,))


class MemoryMonitor(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.samples = []       # used_memory (whole heap, as Redis)
        self.live_samples = []  # used_memory_live (larder: the table)
        self.stop_flag = threading.Event()
        self.error = None

    def run(self):
        try:
            with h.Conn(self.port, timeout=20) as c:
                while not self.stop_flag.is_set():
                    info = h.parse_info(c.call("INFO", "memory"))
                    self.samples.append(h.info_int(info, "used_memory"))
                    if "used_memory_live" in info:
                        self.live_samples.append(
                            h.info_int(info, "used_memory_live"))
                    self.stop_flag.wait(0.1)
        except Exception as e:
            self.error = repr(e)


def test_concurrent_mix_under_eviction(ctx):
    srv = ctx.server(["--threads", "4", "--maxmemory", str(MAXMEMORY),
                      "--maxmemory-policy", "allkeys-lru"])
    seed = ctx.opts.seed if ctx.opts.seed is not None else 4242
    errors = []
    with srv.conn() as c:
        # Warm-up: write 2x maxmemory so that eviction certainly happens.
        rnd = random.Random(seed)
        for batch in range(40):
            cmds = []
            for j in range(50):
                k = b"k:%d" % ((batch * 50 + j) % KEYS)
                cmds.append(("SET", k, make_value(k, 99, batch * 50 + j,
                                                  rnd, size=6000)))
            for cmd, got in zip(cmds, c.pipeline(cmds)):
                if got != "OK":
                    h.fail("warm-up SET %s: %r" % (cmd[1], got))
        info = h.parse_info(c.call("INFO"))
        evicted_warm = h.info_int(info, "evicted_keys")
        check(evicted_warm > 0, "INFO evicted_keys after writing ~12 MB into "
              "--maxmemory 4mb with allkeys-lru: expected > 0, got %d"
              % evicted_warm)

    stats = {"ops": 0, "gets": 0, "hits": 0}
    monitor = MemoryMonitor(srv.port)
    churner = Churner(srv.port, seed, errors)
    admin = Admin(srv.port, errors)
    workers = [Worker(srv.port, t, seed, errors, stats)
               for t in range(THREADS)]
    monitor.start()
    churner.start()
    admin.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join(h.scaled(SECONDS_PER_THREAD) + h.scaled(30))
    churner.stop_flag.set()
    churner.join(h.scaled(20))
    admin.stop_flag.set()
    admin.join(h.scaled(20))
    monitor.stop_flag.set()
    monitor.join(h.scaled(20))
    stuck = [w.tid for w in workers if w.is_alive()]
    check(not stuck, "client threads %s still running after their bound "
          "(server stopped answering?)" % stuck)
    check(not churner.is_alive(), "connection churner still running")
    check(not admin.is_alive(), "admin thread still running")
    if errors:
        h.fail("%d bad replies/errors, first ones:\n%s"
               % (len(errors), "\n".join(errors[:15])))
    check(monitor.error is None, "memory monitor: %s" % monitor.error)
    check(stats["ops"] >= THREADS * 100,
          "only %d operations completed" % stats["ops"])
    check(srv.alive(), "larderd died during the concurrent run")

    with srv.conn() as c:
        eq(c.call("PING"), "PONG", "PING after the concurrent run")
        info = h.parse_info(c.call("INFO"))
        used = h.info_int(info, "used_memory")
        evicted = h.info_int(info, "evicted_keys")
        check(evicted >= evicted_warm, "evicted_keys went down: %d -> %d"
              % (evicted_warm, evicted))
        eq(h.info_int(info, "maxmemory"), MAXMEMORY, "INFO maxmemory")
        peak = max(monitor.samples + [used])
        live_peak = max(monitor.live_samples + [0])
        if "used_memory_live" in info:
            live_peak = max(live_peak, h.info_int(info, "used_memory_live"))
            check(live_peak <= MAXMEMORY + LIVE_SLACK,
                  "used_memory_live (the table's own charge) peaked at %d "
                  "bytes, over maxmemory %d + %d" % (live_peak, MAXMEMORY,
                                                     LIVE_SLACK))
        print("     used_memory peak %d (%+d vs maxmemory), "
              "used_memory_live peak %d, %d samples"
              % (peak, peak - MAXMEMORY, live_peak, len(monitor.samples)))
        if not ctx.is_redis:
            check(peak <= MAXMEMORY + slack(MAXMEMORY),
                  "used_memory peaked at %d bytes, over maxmemory %d + "
                  "slack %d (samples: %d; used_memory_live peak %d)"
                  % (peak, MAXMEMORY, slack(MAXMEMORY),
                     len(monitor.samples), live_peak))
        n = c.call("DBSIZE")
        check(isinstance(n, int) and 0 < n <= KEYS,
              "DBSIZE after the run: %r" % (n,))
        # Every surviving key still holds a valid value of its own.
        sample = [b"k:%d" % i for i in range(0, KEYS, 7)]
        for k, v in zip(sample, c.call("MGET", *sample)):
            if v is not None and not value_ok(k, v):
                h.fail("after the run, GET %s returned a foreign or "
                       "corrupt value: %s" % (k, h._short(v, 200)))
    print("     %d ops, %d GETs (%d hits), evicted_keys %d, peak "
          "used_memory %d, %d keys" % (stats["ops"], stats["gets"],
                                       stats["hits"], evicted, peak, n))
    srv.stop_and_check(timeout=30)


def test_parallel_writers_same_keys(ctx):
    """8 threads hammer the same 10 keys: the last writer wins and every
    GET is one complete value, never a mix of two."""
    srv = ctx.server(["--threads", "4"])
    errors = []
    hot = [b"hot:%d" % i for i in range(10)]

    def writer(tid):
        rnd = random.Random(tid)
        try:
            with h.Conn(srv.port, timeout=20) as c:
                deadline = time.monotonic() + h.scaled(5)
                for seq in range(1500):
                    if time.monotonic() > deadline:
                        break
                    k = rnd.choice(hot)
                    if rnd.random() < 0.5:
                        got = c.call("SET", k, make_value(k, tid, seq, rnd))
                        if got != "OK":
                            errors.append("SET %s -> %r" % (k, got))
                    else:
                        got = c.call("GET", k)
                        if got is not None and not value_ok(k, got):
                            errors.append("GET %s -> %s"
                                          % (k, h._short(got, 200)))
        except Exception as e:
            errors.append("thread %d: %r" % (tid, e))

    threads = [threading.Thread(target=writer, args=(t,), daemon=True)
               for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(h.scaled(40))
    check(not any(t.is_alive() for t in threads), "writer threads stuck")
    if errors:
        h.fail("%d bad replies, first: %s" % (len(errors),
                                               "\n".join(errors[:10])))
    with srv.conn() as c:
        eq(c.call("DBSIZE"), 10, "DBSIZE after same-key hammering")
    srv.stop_and_check(timeout=30)


TESTS = [test_concurrent_mix_under_eviction, test_parallel_writers_same_keys]

if __name__ == "__main__":
    h.main(TESTS, budget=110)
