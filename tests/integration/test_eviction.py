#!/usr/bin/env python3
"""Eviction under --maxmemory 2mb, one server per policy: noeviction
refuses writes with -OOM once full while reads and DEL keep working;
allkeys-lru keeps recently read keys far more often than cold ones;
allkeys-random evicts without refusing; volatile-lru and volatile-ttl never
evict keys without a TTL (and volatile-ttl prefers the shortest TTL);
used_memory stays near maxmemory throughout."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check, RespError  # noqa: E402

MAXMEMORY = 2 * 1024 * 1024
VALUE = b"v" * 1000
SLACK = 512 * 1024       # whole heap (used_memory), one client
LIVE_SLACK = 64 * 1024   # the table alone (larder's used_memory_live)


def start(ctx, policy):
    return ctx.server(["--maxmemory", "2mb", "--maxmemory-policy", policy,
                       "--threads", "2"])


def check_bounded(ctx, c, what):
    info = h.parse_info(c.call("INFO", "memory"))
    used = h.info_int(info, "used_memory")
    if not ctx.is_redis:
        check("used_memory_live" in info, "INFO memory has used_memory_live")
    if "used_memory_live" in info:
        live = h.info_int(info, "used_memory_live")
        check(live <= MAXMEMORY + LIVE_SLACK,
              "%s: used_memory_live %d exceeds maxmemory %d + %d"
              % (what, live, MAXMEMORY, LIVE_SLACK))
    if not ctx.is_redis:
        check(used <= MAXMEMORY + SLACK,
              "%s: used_memory %d exceeds maxmemory %d + %d"
              % (what, used, MAXMEMORY, SLACK))
    return used


def evicted(c):
    return h.info_int(h.parse_info(c.call("INFO", "stats")), "evicted_keys")


def fill(c, prefix, count, extra=(), batch=100):
    """SETs prefix:0..count-1 in pipelined batches; returns the replies."""
    out = []
    for start_i in range(0, count, batch):
        cmds = [("SET", "%s:%d" % (prefix, i), VALUE) + tuple(extra)
                for i in range(start_i, min(count, start_i + batch))]
        out += c.pipeline(cmds)
    return out


def test_noeviction(ctx):
    srv = start(ctx, "noeviction")
    with srv.conn() as c:
        oom = None
        stored = 0
        for i in range(10000):  # at most ~10 MB
            r = c.call("SET", "k:%d" % i, VALUE)
            if isinstance(r, RespError):
                oom = r
                break
            eq(r, "OK", "SET k:%d before the limit" % i)
            stored += 1
        check(oom is not None, "noeviction: 10000 SETs of 1 KB into 2mb "
              "never failed")
        h.expect_error(oom, "OOM", "SET over maxmemory with noeviction")
        check(stored >= 500, "noeviction: only %d 1 KB keys fit in 2mb"
              % stored)
        check_bounded(ctx, c, "noeviction when full")
        eq(evicted(c), 0, "noeviction: INFO evicted_keys")
        eq(c.call("DBSIZE"), stored, "noeviction: nothing was evicted")
        h.expect_error(c.call("SET", "another", VALUE), "OOM",
                       "second SET when full")
        h.expect_error(c.call("MSET", "m1", VALUE, "m2", VALUE), "OOM",
                       "MSET when full")
        eq(c.call("GET", "k:0"), VALUE, "GET still works when full")
        eq(c.call("EXISTS", "k:1"), 1, "EXISTS still works when full")
        eq(c.call("PING"), "PONG", "PING when full")
        eq(c.call("DEL", *["k:%d" % i for i in range(stored // 2)]),
           stored // 2, "DEL half of the keys when full")
        eq(c.call("SET", "after", VALUE), "OK", "SET after DEL freed memory")
        eq(c.call("GET", "after"), VALUE, "GET the new key")
        eq(c.call("FLUSHALL"), "OK", "FLUSHALL when full")
        eq(c.call("SET", "fresh", VALUE), "OK", "SET after FLUSHALL")


def test_allkeys_lru(ctx):
    """A cache-aside workload: 50 hot keys are read after every batch of
    cold writes (and SET again when missing); the hot keys must almost
    always hit while most cold keys get evicted. The run spans several
    seconds so that an LRU clock with coarse resolution (Redis: 1 s) can
    tell hot from cold too."""
    srv = start(ctx, "allkeys-lru")
    with srv.conn() as c:
        hot = ["hot:%d" % i for i in range(50)]
        for r in c.pipeline([("SET", k, VALUE) for k in hot]):
            eq(r, "OK", "SET hot key")
        cold_written = 0
        hot_reads = hot_hits = 0
        rounds = 50  # 50 x 120 x 1 KB = ~6 MB of cold data into 2mb
        for round_i in range(rounds):
            for r in fill(c, "cold%d" % round_i, 120):
                eq(r, "OK", "allkeys-lru never refuses a SET")
            cold_written += 120
            got = c.pipeline([("GET", k) for k in hot])
            missing = [k for k, v in zip(hot, got) if v is None]
            if round_i >= 10:  # memory is full by now
                hot_reads += len(hot)
                hot_hits += len(hot) - len(missing)
            for r in c.pipeline([("SET", k, VALUE) for k in missing]):
                eq(r, "OK", "SET of a missing hot key")
            if round_i % 10 == 0:
                check_bounded(ctx, c, "allkeys-lru round %d" % round_i)
            time.sleep(0.1)
        cold_keys = ["cold%d:%d" % (r, i) for r in range(rounds)
                     for i in range(120)]
        cold_alive = sum(c.call("EXISTS", *cold_keys[j:j + 500])
                         for j in range(0, len(cold_keys), 500))
        ev = evicted(c)
        check(ev > 0, "allkeys-lru: INFO evicted_keys is 0 after 6 MB into "
              "2mb")
        hit_rate = hot_hits / hot_reads
        cold_rate = cold_alive / cold_written
        print("     hot hit rate %d/%d, cold survived %d/%d, evicted %d"
              % (hot_hits, hot_reads, cold_alive, cold_written, ev))
        check(hit_rate >= 0.8, "allkeys-lru: hot keys read after every "
              "batch hit only %d of %d times (cold keys surviving: %d of %d)"
              % (hot_hits, hot_reads, cold_alive, cold_written))
        check(hit_rate > cold_rate + 0.3,
              "allkeys-lru: hot hit rate %.2f not clearly above cold "
              "survival %.2f" % (hit_rate, cold_rate))
        check(c.call("DBSIZE") < len(hot) + cold_written,
              "allkeys-lru: DBSIZE shows nothing was evicted")
        check_bounded(ctx, c, "allkeys-lru at the end")


def test_allkeys_random(ctx):
    srv = start(ctx, "allkeys-random")
    with srv.conn() as c:
        for r in fill(c, "r", 6000):
            eq(r, "OK", "allkeys-random never refuses a SET")
        n = c.call("DBSIZE")
        check(0 < n < 6000, "allkeys-random: DBSIZE %r after 6000 1 KB keys"
              % (n,))
        check(evicted(c) >= 6000 - n - 10,
              "allkeys-random: evicted_keys %d too low for DBSIZE %d"
              % (evicted(c), n))
        alive = sum(c.call("EXISTS", *["r:%d" % i
                                       for i in range(j, j + 500)])
                    for j in range(0, 3000, 500))
        check(alive > 0, "allkeys-random: none of the first 3000 keys "
              "survived (looks like LRU/FIFO, not random)")
        check_bounded(ctx, c, "allkeys-random")


def test_volatile_lru(ctx):
    srv = start(ctx, "volatile-lru")
    with srv.conn() as c:
        for r in fill(c, "persist", 300):
            eq(r, "OK", "SET key without TTL")
        for r in fill(c, "vol", 6000, extra=("EX", "3600")):
            eq(r, "OK", "volatile-lru: SET with TTL while volatile keys can "
               "be evicted")
        eq(c.call("EXISTS", *["persist:%d" % i for i in range(300)]), 300,
           "volatile-lru: keys without TTL are never evicted")
        check(evicted(c) > 0, "volatile-lru: evicted_keys is 0")
        check_bounded(ctx, c, "volatile-lru")
        # With no volatile key left to evict, writes are refused.
        oom = None
        for i in range(6000):
            r = c.call("SET", "p2:%d" % i, VALUE)
            if isinstance(r, RespError):
                oom = r
                break
        check(oom is not None, "volatile-lru: SETs without TTL never failed "
              "once only persistent keys could fill memory")
        h.expect_error(oom, "OOM", "volatile-lru when nothing is evictable")
        eq(c.call("EXISTS", *["persist:%d" % i for i in range(300)]), 300,
           "volatile-lru: still no persistent key evicted")
        check_bounded(ctx, c, "volatile-lru when full")


def test_volatile_ttl(ctx):
    srv = start(ctx, "volatile-ttl")
    with srv.conn() as c:
        for r in fill(c, "persist", 200):
            eq(r, "OK", "SET key without TTL")
        for r in fill(c, "long", 200, extra=("EX", "100000")):
            eq(r, "OK", "SET key with long TTL")
        for r in fill(c, "short", 5000, extra=("EX", "1000")):
            eq(r, "OK", "volatile-ttl: SET with short TTL")
        eq(c.call("EXISTS", *["persist:%d" % i for i in range(200)]), 200,
           "volatile-ttl: keys without TTL are never evicted")
        long_alive = c.call("EXISTS", *["long:%d" % i for i in range(200)])
        short_alive = sum(c.call("EXISTS", *["short:%d" % i
                                             for i in range(j, j + 500)])
                          for j in range(0, 5000, 500))
        print("     long-TTL survived %d/200, short-TTL %d/5000"
              % (long_alive, short_alive))
        check(long_alive >= 160, "volatile-ttl: only %d of 200 long-TTL keys"
              " survived (short-TTL: %d of 5000)" % (long_alive,
                                                     short_alive))
        check(long_alive / 200 > short_alive / 5000 + 0.3,
              "volatile-ttl: long-TTL survival not clearly above short")
        check(evicted(c) > 0, "volatile-ttl: evicted_keys is 0")
        check_bounded(ctx, c, "volatile-ttl")


TESTS = [test_noeviction, test_allkeys_lru, test_allkeys_random,
         test_volatile_lru, test_volatile_ttl]

if __name__ == "__main__":
    h.main(TESTS, budget=100)
