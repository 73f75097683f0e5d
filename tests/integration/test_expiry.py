#!/usr/bin/env python3
"""Key expiry: lazy (a GET of an expired key misses), active (with --hz 10
expired keys disappear from DBSIZE and INFO without being touched, and
expired_keys counts them), EXPIRE/PEXPIRE with zero or negative times delete
at once, SET clears a TTL unless KEEPTTL, and PERSIST when implemented."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check, RespError  # noqa: E402


def fresh(ctx):
    c = ctx.shared(["--hz", "10"]).conn()
    eq(c.call("FLUSHALL"), "OK", "FLUSHALL")
    return c


def test_lazy_expiry(ctx):
    with fresh(ctx) as c:
        before = h.info_int(h.parse_info(c.call("INFO", "stats")),
                            "expired_keys")
        eq(c.call("SET", "short", "v", "PX", "100"), "OK", "SET PX 100")
        eq(c.call("SET", "long", "v", "PX", "60000"), "OK", "SET PX 60000")
        eq(c.call("GET", "short"), b"v", "GET right after SET PX 100")
        pttl = c.call("PTTL", "short")
        check(isinstance(pttl, int) and 0 < pttl <= 100,
              "PTTL right after SET PX 100: got %r" % (pttl,))
        time.sleep(0.3)
        eq(c.call("GET", "short"), None, "GET 300 ms after SET PX 100")
        eq(c.call("EXISTS", "short"), 0, "EXISTS after expiry")
        eq(c.call("TTL", "short"), -2, "TTL after expiry")
        eq(c.call("PTTL", "short"), -2, "PTTL after expiry")
        eq(c.call("GET", "long"), b"v", "GET of the key with a long TTL")
        eq(c.call("MGET", "short", "long"), [None, b"v"], "MGET after expiry")
        eq(c.call("SET", "short", "again", "NX"), "OK",
           "SET NX over an expired key")
        eq(c.call("TTL", "short"), -1, "new key has no TTL")
        after = h.info_int(h.parse_info(c.call("INFO", "stats")),
                           "expired_keys")
        check(after >= before + 1, "INFO expired_keys should count the lazily"
              " expired key: %d -> %d" % (before, after))


def test_active_expiry(ctx):
    srv = ctx.shared(["--hz", "10"])
    with fresh(ctx) as c:
        before = h.info_int(h.parse_info(c.call("INFO", "stats")),
                            "expired_keys")
        cmds = [("SET", "vol:%d" % i, "x" * 20, "PX", "100")
                for i in range(100)]
        cmds += [("SET", "keep:%d" % i, "y") for i in range(10)]
        for got in c.pipeline(cmds):
            eq(got, "OK", "SET in the pipeline")
        ks = h.parse_info(c.call("INFO", "keyspace"))
        check("db0" in ks, "INFO keyspace lacks db0 with 110 keys")
        eq(ks["db0"].get("expires"), "100", "INFO db0 expires right after "
           "the SETs")
    # Poll without touching the keys: only DBSIZE and INFO.
    samples = []
    with srv.conn() as c:
        deadline = time.monotonic() + h.scaled(5)
        while True:
            n = c.call("DBSIZE")
            samples.append(n)
            if n == 10 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        eq(n, 10, "DBSIZE 5 s after 100 keys with PX 100 expired, without "
           "access (active expiry); samples %s" % samples[:60])
        info = h.parse_info(c.call("INFO"))
        check(h.info_int(info, "expired_keys") >= before + 100,
              "INFO expired_keys should grow by >= 100: %d -> %d"
              % (before, h.info_int(info, "expired_keys")))
        check("db0" in info, "INFO keyspace lacks db0 with 10 keys")
        eq(info["db0"].get("keys"), "10", "INFO db0 keys after expiry")
        eq(info["db0"].get("expires"), "0", "INFO db0 expires after expiry")
        eq(c.call("EXISTS", *["keep:%d" % i for i in range(10)]), 10,
           "keys without TTL survive active expiry")


def test_active_expiry_many(ctx):
    srv = ctx.shared(["--hz", "10"])
    with fresh(ctx) as c:
        for start in range(0, 4000, 500):
            cmds = []
            for i in range(start, start + 500):
                if i % 2:
                    cmds.append(("SET", "m:%d" % i, "v", "PX", "200"))
                else:
                    cmds.append(("SET", "m:%d" % i, "v"))
            c.pipeline(cmds)
        eq(c.call("DBSIZE"), 4000, "DBSIZE right after 4000 SETs")
    with srv.conn() as c:
        h.wait_until(lambda: c.call("DBSIZE") == 2000, 8, 0.1,
                     "DBSIZE to reach 2000 after 2000 keys with PX 200 "
                     "expired (active expiry)")
        eq(c.call("EXISTS", "m:0", "m:2", "m:3998"), 3,
           "persistent keys survive")


def test_active_expiry_large(ctx):
    """20000 keys expiring at once are all reclaimed by active expiry (with
    the default --active-expire-effort) within a generous bound, and keys
    without TTL interleaved with them survive. The keys expire at one
    absolute time (PXAT) a few seconds ahead, so a slow, loaded machine
    cannot let some expire before the count is checked."""
    srv = ctx.shared(["--hz", "10"])
    at = str(int(time.time() * 1000) + 4000)
    with fresh(ctx) as c:
        for start in range(0, 20000, 1000):
            c.pipeline([("SET", "big:%d" % i, "v", "PXAT", at)
                        for i in range(start, start + 1000)])
        c.pipeline([("SET", "stay:%d" % i, "v") for i in range(100)])
        eq(c.call("DBSIZE"), 20100, "DBSIZE after 20100 SETs")
    with srv.conn() as c:
        h.wait_until(lambda: c.call("DBSIZE") == 100, 20, 0.1,
                     "DBSIZE to fall to 100 after 20000 keys with PXAT "
                     "expired, without access")
        eq(c.call("EXISTS", *["stay:%d" % i for i in range(100)]), 100,
           "keys without TTL survive")


def test_expire_zero_and_negative(ctx):
    with fresh(ctx) as c:
        c.call("MSET", "a", "1", "b", "2", "c", "3", "d", "4")
        before = c.call("DBSIZE")
        eq(c.call("EXPIRE", "a", "0"), 1, "EXPIRE a 0")
        eq(c.call("EXPIRE", "b", "-100"), 1, "EXPIRE b -100")
        eq(c.call("PEXPIRE", "c", "0"), 1, "PEXPIRE c 0")
        eq(c.call("PEXPIRE", "d", "-1"), 1, "PEXPIRE d -1")
        eq(c.call("DBSIZE"), before - 4, "DBSIZE after deleting expiries")
        eq(c.call("MGET", "a", "b", "c", "d"), [None] * 4,
           "keys gone after zero/negative EXPIRE")
        eq(c.call("EXPIRE", "a", "0"), 0, "EXPIRE 0 on a missing key")


def test_expire_then_overwrite(ctx):
    with fresh(ctx) as c:
        c.call("SET", "k", "v", "PX", "200")
        eq(c.call("SET", "k", "v2"), "OK", "overwrite before expiry")
        time.sleep(0.4)
        eq(c.call("GET", "k"), b"v2", "plain SET removed the TTL")
        c.call("SET", "k", "v", "EX", "100")
        eq(c.call("PEXPIRE", "k", "150"), 1, "PEXPIRE shortens the TTL")
        time.sleep(0.4)
        eq(c.call("GET", "k"), None, "key gone after the shortened TTL")
        c.call("SET", "k2", "v", "PX", "200")
        eq(c.call("SET", "k2", "v2", "KEEPTTL"), "OK", "SET KEEPTTL")
        time.sleep(0.4)
        eq(c.call("GET", "k2"), None, "KEEPTTL kept the 200 ms TTL")
        c.call("SET", "k3", "v", "PX", "200")
        eq(c.call("EXPIRE", "k3", "100"), 1, "EXPIRE lengthens the TTL")
        time.sleep(0.4)
        eq(c.call("GET", "k3"), b"v", "key alive after lengthened TTL")


def test_exat_pxat(ctx):
    with fresh(ctx) as c:
        now_ms = int(time.time() * 1000)
        eq(c.call("SET", "a", "v", "PXAT", now_ms + 300), "OK", "SET PXAT")
        eq(c.call("SET", "b", "v", "EXAT", int(time.time()) - 10), "OK",
           "SET EXAT in the past")
        eq(c.call("GET", "b"), None, "GET of key with EXAT in the past")
        eq(c.call("GET", "a"), b"v", "GET before PXAT")
        time.sleep(0.6)
        eq(c.call("GET", "a"), None, "GET after PXAT passed")


def test_persist(ctx):
    with fresh(ctx) as c:
        c.call("SET", "k", "v", "EX", "100")
        r = c.call("PERSIST", "k")
        if isinstance(r, RespError) and "unknown command" in r.message:
            h.fail("PERSIST is not implemented")
        eq(r, 1, "PERSIST on key with TTL")
        eq(c.call("TTL", "k"), -1, "TTL after PERSIST")
        eq(c.call("PERSIST", "k"), 0, "PERSIST on key without TTL")
        eq(c.call("PERSIST", "missing"), 0, "PERSIST on missing key")
        c.call("SET", "k2", "v", "PX", "100")
        eq(c.call("PERSIST", "k2"), 1, "PERSIST k2")
        time.sleep(0.3)
        eq(c.call("GET", "k2"), b"v", "persisted key survives its old TTL")


TESTS = [test_lazy_expiry, test_active_expiry, test_active_expiry_many,
         test_active_expiry_large,
         test_expire_zero_and_negative, test_expire_then_overwrite,
         test_exat_pxat, test_persist]

if __name__ == "__main__":
    h.main(TESTS, budget=90)
