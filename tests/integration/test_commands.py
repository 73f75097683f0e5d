#!/usr/bin/env python3
"""Every Redis command larderd serves on its live table, checked reply by
reply (types included) against Redis semantics: PING, ECHO, GET, SET and its
options, MGET, MSET, DEL, EXISTS, EXPIRE, PEXPIRE, TTL, PTTL, DBSIZE,
FLUSHALL, FLUSHDB, INFO, SELECT, CLIENT, HELLO (RESP3), QUIT, COMMAND,
CONFIG GET, inline commands, and the errors for unknown commands, wrong
arity and bad arguments."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check, expect_error, RespError  # noqa: E402


def fresh(ctx):
    """A connection to the shared server, with an empty keyspace."""
    c = ctx.shared().conn()
    eq(c.call("FLUSHALL"), "OK", "FLUSHALL")
    return c


def arity_error(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def test_ping_echo(ctx):
    with fresh(ctx) as c:
        eq(c.call_raw("PING"), b"+PONG\r\n", "PING raw reply")
        eq(c.call_raw("PING", "hello"), b"$5\r\nhello\r\n", "PING hello")
        eq(c.call("ping"), "PONG", "lower-case ping")
        eq(c.call("PiNg"), "PONG", "mixed-case PiNg")
        eq(c.call("PING", "a", "b"), RespError(arity_error("ping")),
           "PING a b")
        eq(c.call_raw("ECHO", "x y\r\nz"), b"$6\r\nx y\r\nz\r\n", "ECHO")
        eq(c.call("ECHO", ""), b"", "ECHO empty")
        eq(c.call("ECHO"), RespError(arity_error("echo")), "ECHO no args")
        eq(c.call("ECHO", "a", "b"), RespError(arity_error("echo")),
           "ECHO two args")


def test_get_set_basic(ctx):
    with fresh(ctx) as c:
        eq(c.call_raw("GET", "nokey"), b"$-1\r\n", "GET missing key, raw")
        eq(c.call_raw("SET", "k", "v"), b"+OK\r\n", "SET k v, raw")
        eq(c.call_raw("GET", "k"), b"$1\r\nv\r\n", "GET k, raw")
        eq(c.call("SET", "k", "v2"), "OK", "SET overwrite")
        eq(c.call("GET", "k"), b"v2", "GET after overwrite")
        eq(c.call("SET", "empty", ""), "OK", "SET empty value")
        eq(c.call("GET", "empty"), b"", "GET empty value")
        eq(c.call("SET", "", "emptykey"), "OK", "SET empty key")
        eq(c.call("GET", ""), b"emptykey", "GET empty key")
        eq(c.call("GET"), RespError(arity_error("get")), "GET no args")
        eq(c.call("GET", "a", "b"), RespError(arity_error("get")),
           "GET two args")
        eq(c.call("SET", "k"), RespError(arity_error("set")), "SET one arg")
        eq(c.call("get", "k"), b"v2", "lower-case get")


def test_set_expiry_options(ctx):
    with fresh(ctx) as c:
        now = int(time.time())
        eq(c.call("SET", "ex", "1", "EX", "100"), "OK", "SET EX 100")
        ttl = c.call("TTL", "ex")
        check(isinstance(ttl, int) and 98 <= ttl <= 100,
              "TTL after SET EX 100: expected 98..100, got %r" % (ttl,))
        eq(c.call("SET", "px", "1", "PX", "100000"), "OK", "SET PX 100000")
        pttl = c.call("PTTL", "px")
        check(isinstance(pttl, int) and 98000 <= pttl <= 100000,
              "PTTL after SET PX 100000: expected 98000..100000, got %r"
              % (pttl,))
        eq(c.call("SET", "exat", "1", "EXAT", now + 200), "OK", "SET EXAT")
        ttl = c.call("TTL", "exat")
        check(isinstance(ttl, int) and 195 <= ttl <= 201,
              "TTL after SET EXAT now+200: expected ~200, got %r" % (ttl,))
        eq(c.call("SET", "pxat", "1", "PXAT", (now + 300) * 1000), "OK",
           "SET PXAT")
        ttl = c.call("TTL", "pxat")
        check(isinstance(ttl, int) and 295 <= ttl <= 301,
              "TTL after SET PXAT now+300s: expected ~300, got %r" % (ttl,))
        eq(c.call("SET", "lower", "1", "ex", "50"), "OK", "SET ex (lower)")
        ttl = c.call("TTL", "lower")
        check(isinstance(ttl, int) and 48 <= ttl <= 50,
              "TTL after SET ... ex 50: got %r" % (ttl,))
        # A plain SET clears the TTL.
        eq(c.call("SET", "ex", "2"), "OK", "SET without options")
        eq(c.call("TTL", "ex"), -1, "TTL after plain SET clears expiry")
        # Absolute time in the past: the key does not survive.
        eq(c.call("SET", "past", "1", "PXAT", "1000"), "OK",
           "SET PXAT in the past")
        eq(c.call("GET", "past"), None, "GET key set with PXAT in the past")


def test_set_nx_xx_get_keepttl(ctx):
    with fresh(ctx) as c:
        eq(c.call_raw("SET", "k", "a", "XX"), b"$-1\r\n",
           "SET XX on missing key (nil)")
        eq(c.call("GET", "k"), None, "GET after failed SET XX")
        eq(c.call("SET", "k", "a", "NX"), "OK", "SET NX on missing key")
        eq(c.call_raw("SET", "k", "b", "NX"), b"$-1\r\n",
           "SET NX on existing key (nil)")
        eq(c.call("GET", "k"), b"a", "GET after failed SET NX")
        eq(c.call("SET", "k", "c", "XX"), "OK", "SET XX on existing key")
        eq(c.call("GET", "k"), b"c", "GET after SET XX")
        eq(c.call("SET", "k", "d", "GET"), b"c", "SET ... GET returns old")
        eq(c.call("GET", "k"), b"d", "GET after SET GET")
        eq(c.call_raw("SET", "new", "x", "GET"), b"$-1\r\n",
           "SET ... GET on missing key (nil)")
        eq(c.call("GET", "new"), b"x", "SET GET still sets a missing key")
        eq(c.call("SET", "k", "e", "XX", "GET"), b"d", "SET XX GET")
        eq(c.call("SET", "t", "1", "EX", "100"), "OK", "SET EX 100")
        eq(c.call("SET", "t", "2", "KEEPTTL"), "OK", "SET KEEPTTL")
        ttl = c.call("TTL", "t")
        check(isinstance(ttl, int) and 98 <= ttl <= 100,
              "TTL after SET KEEPTTL: expected ~100, got %r" % (ttl,))
        eq(c.call("GET", "t"), b"2", "GET after SET KEEPTTL")
        eq(c.call("SET", "t", "3"), "OK", "SET without KEEPTTL")
        eq(c.call("TTL", "t"), -1, "TTL after SET without KEEPTTL")
        eq(c.call("SET", "nt", "1", "KEEPTTL"), "OK", "SET KEEPTTL on new key")
        eq(c.call("TTL", "nt"), -1, "TTL of new key set with KEEPTTL")


def test_set_errors(ctx):
    with fresh(ctx) as c:
        syntax = RespError("ERR syntax error")
        for args in (["EX"], ["PX"], ["EX", "10", "PX", "100"],
                     ["NX", "XX"], ["FOO"], ["EX", "10", "KEEPTTL"],
                     ["EXAT"], ["EX", "10", "EXAT", "99999999999"]):
            eq(c.call("SET", "k", "v", *args), syntax,
               "SET k v %s" % " ".join(args))
        eq(c.call("SET", "k", "v", "EX", "abc"),
           RespError("ERR value is not an integer or out of range"),
           "SET k v EX abc")
        eq(c.call("SET", "k", "v", "PX", "1.5"),
           RespError("ERR value is not an integer or out of range"),
           "SET k v PX 1.5")
        for args in (["EX", "0"], ["EX", "-1"], ["PX", "0"], ["PX", "-5"]):
            expect_error(c.call("SET", "k", "v", *args),
                         "ERR invalid expire time in 'set' command",
                         "SET k v %s" % " ".join(args))
        eq(c.call("EXISTS", "k"), 0, "no key stored by failed SETs")


def test_mget_mset(ctx):
    with fresh(ctx) as c:
        eq(c.call("MSET", "a", "1", "b", "2", "c", "3"), "OK", "MSET")
        eq(c.call_raw("MGET", "a", "missing", "c", "a"),
           b"*4\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n$1\r\n1\r\n",
           "MGET a missing c a, raw")
        eq(c.call("MGET", "x", "y"), [None, None], "MGET all missing")
        eq(c.call("MSET", "a", "10", "a", "11"), "OK", "MSET same key twice")
        eq(c.call("GET", "a"), b"11", "MSET: the last value wins")
        eq(c.call("MSET", "a"), RespError(arity_error("mset")), "MSET a")
        eq(c.call("MSET", "a", "1", "b"), RespError(arity_error("mset")),
           "MSET with odd argument count")
        eq(c.call("MGET"), RespError(arity_error("mget")), "MGET no args")
        eq(c.call("SET", "t", "1", "EX", "100"), "OK", "SET EX")
        eq(c.call("MSET", "t", "2"), "OK", "MSET over key with TTL")
        eq(c.call("TTL", "t"), -1, "MSET clears the TTL")
        keys = ["key:%d" % i for i in range(500)]
        args = []
        for k in keys:
            args += [k, "val:" + k]
        eq(c.call("MSET", *args), "OK", "MSET 500 pairs")
        got = c.call("MGET", *keys)
        eq(got, [("val:" + k).encode() for k in keys], "MGET 500 keys")


def test_del_exists(ctx):
    with fresh(ctx) as c:
        c.call("MSET", "a", "1", "b", "2")
        eq(c.call("EXISTS", "a"), 1, "EXISTS a")
        eq(c.call("EXISTS", "missing"), 0, "EXISTS missing")
        eq(c.call("EXISTS", "a", "a", "b", "missing"), 3,
           "EXISTS a a b missing (duplicates counted)")
        eq(c.call("DEL", "a", "missing"), 1, "DEL a missing")
        eq(c.call("DEL", "a"), 0, "DEL already deleted key")
        c.call("SET", "a", "1")
        eq(c.call("DEL", "a", "a", "b"), 2, "DEL a a b (duplicate counted "
           "once)")
        eq(c.call("EXISTS", "a", "b"), 0, "EXISTS after DEL")
        eq(c.call("DEL"), RespError(arity_error("del")), "DEL no args")
        eq(c.call("EXISTS"), RespError(arity_error("exists")),
           "EXISTS no args")


def test_expire_ttl(ctx):
    with fresh(ctx) as c:
        c.call("SET", "k", "v")
        eq(c.call("TTL", "k"), -1, "TTL of key without expiry")
        eq(c.call("PTTL", "k"), -1, "PTTL of key without expiry")
        eq(c.call("TTL", "missing"), -2, "TTL of missing key")
        eq(c.call("PTTL", "missing"), -2, "PTTL of missing key")
        eq(c.call("EXPIRE", "k", "100"), 1, "EXPIRE existing key")
        ttl = c.call("TTL", "k")
        check(isinstance(ttl, int) and 98 <= ttl <= 100,
              "TTL after EXPIRE 100: got %r" % (ttl,))
        eq(c.call("EXPIRE", "missing", "100"), 0, "EXPIRE missing key")
        eq(c.call("PEXPIRE", "k", "50000"), 1, "PEXPIRE existing key")
        pttl = c.call("PTTL", "k")
        check(isinstance(pttl, int) and 48000 <= pttl <= 50000,
              "PTTL after PEXPIRE 50000: got %r" % (pttl,))
        eq(c.call("PEXPIRE", "missing", "50000"), 0, "PEXPIRE missing key")
        eq(c.call("EXPIRE", "k", "abc"),
           RespError("ERR value is not an integer or out of range"),
           "EXPIRE k abc")
        eq(c.call("PEXPIRE", "k", "1x"),
           RespError("ERR value is not an integer or out of range"),
           "PEXPIRE k 1x")
        eq(c.call("EXPIRE", "k"), RespError(arity_error("expire")),
           "EXPIRE k")
        eq(c.call("TTL"), RespError(arity_error("ttl")), "TTL no args")
        eq(c.call("EXPIRE", "k", "0"), 1, "EXPIRE k 0")
        eq(c.call("GET", "k"), None, "GET after EXPIRE 0")
        eq(c.call("TTL", "k"), -2, "TTL after EXPIRE 0")
        c.call("SET", "k2", "v")
        eq(c.call("EXPIRE", "k2", "-10"), 1, "EXPIRE negative")
        eq(c.call("EXISTS", "k2"), 0, "EXISTS after EXPIRE negative")
        c.call("SET", "k3", "v")
        eq(c.call("PEXPIRE", "k3", "0"), 1, "PEXPIRE 0")
        eq(c.call("EXISTS", "k3"), 0, "EXISTS after PEXPIRE 0")


def test_dbsize_flush(ctx):
    with fresh(ctx) as c:
        eq(c.call("DBSIZE"), 0, "DBSIZE empty")
        c.pipeline([("SET", "k%d" % i, "v") for i in range(100)])
        eq(c.call("DBSIZE"), 100, "DBSIZE after 100 SETs")
        c.call("DEL", "k0", "k1")
        eq(c.call("DBSIZE"), 98, "DBSIZE after DEL of 2")
        eq(c.call_raw("FLUSHALL"), b"+OK\r\n", "FLUSHALL")
        eq(c.call("DBSIZE"), 0, "DBSIZE after FLUSHALL")
        eq(c.call("GET", "k5"), None, "GET after FLUSHALL")
        c.call("SET", "a", "1")
        eq(c.call("FLUSHALL", "SYNC"), "OK", "FLUSHALL SYNC")
        eq(c.call("DBSIZE"), 0, "DBSIZE after FLUSHALL SYNC")
        c.call("SET", "a", "1")
        eq(c.call("FLUSHALL", "ASYNC"), "OK", "FLUSHALL ASYNC")
        eq(c.call("EXISTS", "a"), 0, "EXISTS after FLUSHALL ASYNC")
        c.call("SET", "a", "1")
        eq(c.call("FLUSHDB"), "OK", "FLUSHDB")
        eq(c.call("DBSIZE"), 0, "DBSIZE after FLUSHDB")
        check(isinstance(c.call("FLUSHALL", "BOGUS"), RespError),
              "FLUSHALL BOGUS should be an error")
        eq(c.call("DBSIZE", "x"), RespError(arity_error("dbsize")),
           "DBSIZE x")
        eq(c.call("PING"), "PONG", "connection usable after FLUSH*")


def test_info(ctx):
    srv = ctx.shared()
    with fresh(ctx) as c:
        info = h.parse_info(c.call("INFO"))
        for sec in ("server", "clients", "memory", "stats", "keyspace"):
            check(sec in info["#sections"],
                  "INFO: section '# %s' missing (have %s)"
                  % (sec.capitalize(), info["#sections"]))
        check(info.get("redis_version", "") != "",
              "INFO: redis_version missing or empty")
        eq(h.info_int(info, "tcp_port"), srv.port, "INFO tcp_port")
        check(h.info_int(info, "connected_clients") >= 1,
              "INFO connected_clients should be >= 1")
        check(h.info_int(info, "used_memory") >= 0, "INFO used_memory")
        eq(h.info_int(info, "maxmemory"), 0, "INFO maxmemory (default)")
        eq(info.get("maxmemory_policy"), "noeviction",
           "INFO maxmemory_policy (default)")
        for f in ("total_commands_processed", "keyspace_hits",
                  "keyspace_misses", "expired_keys", "evicted_keys"):
            h.info_int(info, f)
        eq(h.info_int(info, "evicted_keys"), 0, "INFO evicted_keys, no limit")
        if "db0" in info:
            eq(info["db0"].get("keys"), "0", "INFO db0 keys when empty")

        # Counters move with the commands.
        with srv.conn() as c2:
            eq(c2.call("PING"), "PONG", "PING on a second connection")
            before = h.parse_info(c.call("INFO"))
            check(h.info_int(before, "connected_clients") >= 2,
                  "INFO connected_clients with two connections: %r"
                  % before.get("connected_clients"))
        c.call("SET", "a", "1")
        c.call("SET", "b", "2", "EX", "1000")
        c.call("GET", "a")
        c.call("GET", "a")
        c.call("GET", "nope")
        c.call("MGET", "a", "nope")
        after = h.parse_info(c.call("INFO"))
        eq(h.info_int(after, "keyspace_hits") -
           h.info_int(before, "keyspace_hits"), 3,
           "INFO keyspace_hits delta after 2 GET hits + 1 MGET hit")
        eq(h.info_int(after, "keyspace_misses") -
           h.info_int(before, "keyspace_misses"), 2,
           "INFO keyspace_misses delta after 1 GET miss + 1 MGET miss")
        check(h.info_int(after, "total_commands_processed") >=
              h.info_int(before, "total_commands_processed") + 6,
              "INFO total_commands_processed should grow by >= 6: %s -> %s"
              % (before.get("total_commands_processed"),
                 after.get("total_commands_processed")))
        check("db0" in after, "INFO: keyspace line db0 missing with 2 keys")
        eq(after["db0"].get("keys"), "2", "INFO db0 keys")
        eq(after["db0"].get("expires"), "1", "INFO db0 expires")
        check("avg_ttl" in after["db0"] and
              after["db0"]["avg_ttl"].isdigit(),
              "INFO db0 avg_ttl missing or not an integer: %r" % after["db0"])

        server = h.parse_info(c.call("INFO", "server"))
        check("redis_version" in server, "INFO server: redis_version missing")
        check("keyspace_hits" not in server and "db0" not in server,
              "INFO server should contain only the server section, got "
              "sections %s" % server["#sections"])
        ks = h.parse_info(c.call("INFO", "keyspace"))
        check("db0" in ks, "INFO keyspace: db0 missing")
        check("redis_version" not in ks, "INFO keyspace has other sections")
        mem = h.parse_info(c.call("INFO", "memory"))
        check("used_memory" in mem and "maxmemory" in mem and
              "maxmemory_policy" in mem,
              "INFO memory lacks used_memory/maxmemory/maxmemory_policy")
        st = h.parse_info(c.call("INFO", "STATS"))
        check("evicted_keys" in st and "expired_keys" in st,
              "INFO STATS (upper case) lacks evicted_keys/expired_keys")
        cl = h.parse_info(c.call("INFO", "clients"))
        check("connected_clients" in cl, "INFO clients: connected_clients")


def test_select(ctx):
    with fresh(ctx) as c:
        eq(c.call("SELECT", "0"), "OK", "SELECT 0")
        expect_error(c.call("SELECT", "100000"), "ERR", "SELECT 100000")
        expect_error(c.call("SELECT", "abc"), "ERR", "SELECT abc")
        eq(c.call("SELECT"), RespError(arity_error("select")), "SELECT")
        if not ctx.is_redis:
            expect_error(c.call("SELECT", "1"), "ERR", "SELECT 1 (larder has "
                         "only db 0)")
        eq(c.call("PING"), "PONG", "connection usable after SELECT errors")


def test_client(ctx):
    srv = ctx.shared()
    with fresh(ctx) as c, srv.conn() as c2:
        eq(c.call_raw("CLIENT", "GETNAME"), b"$-1\r\n",
           "CLIENT GETNAME before SETNAME")
        eq(c.call("CLIENT", "SETNAME", "worker-1"), "OK", "CLIENT SETNAME")
        eq(c.call("CLIENT", "GETNAME"), b"worker-1", "CLIENT GETNAME")
        eq(c2.call("CLIENT", "GETNAME"), None,
           "CLIENT GETNAME on another connection")
        expect_error(c.call("CLIENT", "SETNAME", "has space"), "ERR",
                     "CLIENT SETNAME with a space")
        eq(c.call("CLIENT", "GETNAME"), b"worker-1",
           "name unchanged after rejected SETNAME")
        eq(c.call("client", "setname", ""), "OK", "CLIENT SETNAME ''")
        eq(c.call("CLIENT", "GETNAME"), None, "GETNAME after clearing name")
        id1 = c.call("CLIENT", "ID")
        id2 = c2.call("CLIENT", "ID")
        check(isinstance(id1, int) and isinstance(id2, int) and id1 > 0
              and id2 > 0, "CLIENT ID should be positive integers: %r %r"
              % (id1, id2))
        check(id1 != id2, "CLIENT ID must differ between connections")
        eq(c.call("CLIENT", "ID"), id1, "CLIENT ID stable")
        more = [srv.conn() for _ in range(30)]  # spread over worker threads
        try:
            ids = [m.call("CLIENT", "ID") for m in more] + [id1, id2]
            eq(len(set(ids)), len(ids), "CLIENT ID distinct over 32 "
               "connections (ids %s)" % sorted(ids))
            n = h.info_int(h.parse_info(c.call("INFO", "clients")),
                           "connected_clients")
            check(n >= 32, "INFO connected_clients with 32 connections: %d"
                  % n)
        finally:
            for m in more:
                m.close()
        check(isinstance(c.call("CLIENT", "NOSUCHSUB"), RespError),
              "CLIENT NOSUCHSUB should be an error")
        eq(c.call("PING"), "PONG", "connection usable after CLIENT errors")


def test_hello_resp3(ctx):
    srv = ctx.shared()
    with fresh(ctx) as c:
        r = c.call("HELLO")
        check(isinstance(r, list) and len(r) % 2 == 0,
              "HELLO (RESP2) should be a flat array of pairs, got %r" % (r,))
        d = dict(zip(h.text(r[0::2]), r[1::2]))
        eq(d.get("proto"), 2, "HELLO proto field (RESP2)")
        check("server" in d and "version" in d,
              "HELLO should report server and version: %r" % (d,))
        c.send("HELLO", "3")
        r, raw = c.read_raw()
        check(raw.startswith(b"%"),
              "HELLO 3 reply should be a RESP3 map (%%), got %r" % raw[:40])
        d = h.text(r)
        eq(d.get("proto"), 3, "HELLO 3 proto field")
        c.call("SET", "k", "v")
        eq(c.call_raw("GET", "missing"), b"_\r\n", "RESP3 GET missing")
        eq(c.call_raw("GET", "k"), b"$1\r\nv\r\n", "RESP3 GET k")
        eq(c.call_raw("MGET", "k", "missing"), b"*2\r\n$1\r\nv\r\n_\r\n",
           "RESP3 MGET k missing")
        eq(c.call_raw("SET", "k", "x", "NX"), b"_\r\n", "RESP3 SET NX miss")
        eq(c.call_raw("PING"), b"+PONG\r\n", "RESP3 PING")
        eq(c.call_raw("DEL", "k"), b":1\r\n", "RESP3 DEL")
        eq(c.call_raw("CLIENT", "GETNAME"), b"_\r\n", "RESP3 GETNAME unset")
        raw = c.call_raw("CONFIG", "GET", "maxmemory")
        check(raw.startswith(b"%1\r\n"),
              "RESP3 CONFIG GET maxmemory should be a map of 1, got %r"
              % raw[:60])
        info = c.call("INFO")
        h.parse_info(info)  # bulk or verbatim, either parses
        if isinstance(info, h.Verbatim):
            eq(info.format, "txt", "RESP3 INFO verbatim format")
        expect_error(c.call("HELLO", "4"), "NOPROTO", "HELLO 4")
        eq(c.call_raw("GET", "missing"), b"_\r\n",
           "still RESP3 after a failed HELLO 4")
        c.send("HELLO", "2")
        r, raw = c.read_raw()
        check(raw.startswith(b"*"), "HELLO 2 reply should be an array (*), "
              "got %r" % raw[:40])
        eq(c.call_raw("GET", "missing"), b"$-1\r\n", "RESP2 again after "
           "HELLO 2")
        expect_error(c.call("HELLO", "abc"), "ERR", "HELLO abc")
    # Another connection is unaffected by this one's protocol.
    with srv.conn() as c2:
        eq(c2.call_raw("GET", "missing"), b"$-1\r\n",
           "new connection starts in RESP2")


def test_quit(ctx):
    srv = ctx.shared()
    with srv.conn() as c:
        eq(c.call_raw("QUIT"), b"+OK\r\n", "QUIT")
        check(c.wait_closed(5), "server should close the connection after "
              "QUIT")
        eq(c.pending(), b"", "nothing after +OK on QUIT")
    eq(srv.call("PING"), "PONG", "server still serves after QUIT")


def test_command(ctx):
    with fresh(ctx) as c:
        n = c.call("COMMAND", "COUNT")
        check(isinstance(n, int) and n > 0,
              "COMMAND COUNT should be a positive integer, got %r" % (n,))
        docs = c.call("COMMAND", "DOCS")
        check(isinstance(docs, (list, dict)),
              "COMMAND DOCS should be an array (or map), got %r"
              % (h._short(docs),))
        docs = c.call("COMMAND", "DOCS", "GET")
        check(isinstance(docs, (list, dict)),
              "COMMAND DOCS GET should be an array, got %r"
              % (h._short(docs),))
        eq(c.call("PING"), "PONG", "connection usable after COMMAND")


def test_config_get(ctx):
    srv = ctx.shared()
    with fresh(ctx) as c:
        eq(c.call("CONFIG", "GET", "maxmemory"), [b"maxmemory", b"0"],
           "CONFIG GET maxmemory")
        eq(c.call("CONFIG", "GET", "maxmemory-policy"),
           [b"maxmemory-policy", b"noeviction"],
           "CONFIG GET maxmemory-policy")
        eq(c.call("CONFIG", "GET", "port"), [b"port", str(srv.port).encode()],
           "CONFIG GET port")
        eq(c.call("CONFIG", "GET", "no-such-option-xyz"), [],
           "CONFIG GET no-such-option")
        r = c.call("CONFIG", "GET", "maxmemory*")
        check(isinstance(r, list) and len(r) % 2 == 0,
              "CONFIG GET maxmemory* should be a flat array of pairs: %r"
              % (r,))
        d = dict(zip(r[0::2], r[1::2]))
        check(b"maxmemory" in d and b"maxmemory-policy" in d,
              "CONFIG GET maxmemory* lacks maxmemory/maxmemory-policy: %r"
              % sorted(d))
        check(all(k.startswith(b"maxmemory") for k in d),
              "CONFIG GET maxmemory* returned a non-matching name: %r"
              % sorted(d))
        r = c.call("CONFIG", "GET", "*")
        check(isinstance(r, list) and len(r) % 2 == 0 and len(r) >= 10,
              "CONFIG GET * should list every option: %r" % h._short(r))
        d = dict(zip(r[0::2], r[1::2]))
        for name in (b"maxmemory", b"maxmemory-policy", b"port", b"bind",
                     b"hz", b"maxclients", b"proto-max-bulk-len",
                     b"client-query-buffer-limit"):
            check(name in d, "CONFIG GET * lacks %r" % name)
        eq(d.get(b"hz"), b"10", "CONFIG GET * hz default")
        eq(d.get(b"maxclients"), b"10000", "CONFIG GET * maxclients default")
        eq(d.get(b"proto-max-bulk-len"), b"536870912",
           "CONFIG GET * proto-max-bulk-len default (512mb)")
        r = c.call("CONFIG", "GET", "MAXMEMORY")
        eq([x.lower() for x in r] if isinstance(r, list) else r,
           [b"maxmemory", b"0"], "CONFIG GET MAXMEMORY (case-insensitive)")
        expect_error(c.call("CONFIG", "GET"),
                     "ERR wrong number of arguments for 'config",
                     "CONFIG GET without pattern")


def test_config_get_with_flags(ctx):
    srv = ctx.server(["--maxmemory", "10mb", "--maxmemory-policy",
                      "allkeys-lru", "--hz", "15", "--maxclients", "321"])
    with srv.conn() as c:
        eq(c.call("CONFIG", "GET", "maxmemory"), [b"maxmemory", b"10485760"],
           "CONFIG GET maxmemory after --maxmemory 10mb")
        eq(c.call("CONFIG", "GET", "maxmemory-policy"),
           [b"maxmemory-policy", b"allkeys-lru"], "CONFIG GET policy")
        eq(c.call("CONFIG", "GET", "hz"), [b"hz", b"15"], "CONFIG GET hz")
        eq(c.call("CONFIG", "GET", "maxclients"), [b"maxclients", b"321"],
           "CONFIG GET maxclients")
        info = h.parse_info(c.call("INFO", "memory"))
        eq(h.info_int(info, "maxmemory"), 10485760, "INFO maxmemory")
        eq(info.get("maxmemory_policy"), "allkeys-lru",
           "INFO maxmemory_policy")


def test_unknown_command(ctx):
    with fresh(ctx) as c:
        r = c.call("NOSUCHCMD", "a", "b")
        expect_error(r, "ERR unknown command", "NOSUCHCMD a b")
        check("nosuchcmd" in r.message.lower(),
              "unknown command error should name the command: %r"
              % r.message)
        eq(c.call("PING"), "PONG", "connection usable after unknown command")


def test_inline_commands(ctx):
    with fresh(ctx) as c:
        c.send_raw(b"PING\r\n")
        eq(c.read(), "PONG", "inline PING")
        c.send_raw(b"SET inl hello\r\n")
        eq(c.read(), "OK", "inline SET")
        c.send_raw(b"GET inl\n")
        eq(c.read(), b"hello", "inline GET terminated by LF only")
        c.send_raw(b'SET "a b" \'c d\'\r\n')
        eq(c.read(), "OK", "inline SET with quoted args")
        eq(c.call("GET", "a b"), b"c d", "quoted inline args")
        c.send_raw(b"  ECHO   spaced  \r\n")
        eq(c.read(), b"spaced", "inline with extra spaces")
        c.send_raw(b"\r\n\r\nPING\r\n")
        eq(c.read(), "PONG", "empty inline lines are skipped")
        c.send_raw(b"PING\r\n" + h.encode("ECHO", "x") + b"PING\r\n")
        eq([c.read(), c.read(), c.read()], ["PONG", b"x", "PONG"],
           "inline and multibulk mixed in one write")


def test_inline_escapes(ctx):
    """Redis unescapes \\r \\n \\t \\xHH \\" inside double quotes of inline
    commands (sdssplitargs)."""
    with fresh(ctx) as c:
        c.send_raw(b'SET "e\\x41" "c\\r\\nd\\t\\"q\\""\r\n')
        eq(c.read(), "OK", 'inline SET "e\\x41" "c\\r\\nd\\t\\"q\\""')
        eq(c.call("GET", "eA"), b'c\r\nd\t"q"', "unescaped inline value")


def test_wrong_type_arguments_keep_connection(ctx):
    with fresh(ctx) as c:
        for args in (("SET",), ("MGET",), ("EXPIRE", "a", "b", "c", "d"),
                     ("TTL", "a", "b"), ("CLIENT",), ("CONFIG",)):
            r = c.call(*args)
            check(isinstance(r, RespError), "%s should be an error, got %r"
                  % (" ".join(args), r))
        eq(c.call("PING"), "PONG", "connection usable after arity errors")


def test_integer_and_expire_time_parsing(ctx):
    """Integers are parsed strictly (no sign, spaces, exponents, hex or
    leading zeros) and expire times that overflow are refused. Every case
    runs; the failure lists all mismatches."""
    problems = []

    def expect(got, want, what):
        if isinstance(want, str):
            ok = isinstance(got, RespError) and got.message.startswith(want)
        else:
            ok = got == want
        if not ok:
            problems.append("%s: expected %r, got %r" % (what, want, got))

    with fresh(ctx) as c:
        not_int = RespError("ERR value is not an integer or out of range")
        for bad in ("+10", " 10", "10 ", "1e3", "0x10", "010", "", "1.0",
                    "9223372036854775808", "-9223372036854775809"):
            c.call("SET", "k", "v")
            expect(c.call("EXPIRE", "k", bad), not_int, "EXPIRE k %r" % bad)
            expect(c.call("SET", "k2", "v", "EX", bad), not_int,
                   "SET k2 v EX %r" % bad)
            c.call("DEL", "k2")
        for args in (("SET", "x", "v", "EX", "9223372036854775807"),
                     ("SET", "x", "v", "PX", "9223372036854775807"),
                     ("SET", "x", "v", "EXAT", "9223372036854775807"),
                     ("SET", "x", "v", "EXAT", "0"),
                     ("SET", "x", "v", "PXAT", "0"),
                     ("SET", "x", "v", "EX", "-9223372036854775808")):
            expect(c.call(*args), "ERR invalid expire time in 'set' command",
                   " ".join(args))
        expect(c.call("EXISTS", "x"), 0, "no key from overflowing SET")
        c.call("SET", "k", "v")
        for cmd, arg in (("EXPIRE", "9223372036854775807"),
                         ("EXPIRE", "-9223372036854775808"),
                         ("PEXPIRE", "9223372036854775807"),
                         ("EXPIRE", "9223372036854775")):
            expect(c.call(cmd, "k", arg),
                   "ERR invalid expire time in '%s' command" % cmd.lower(),
                   "%s k %s" % (cmd, arg))
        expect(c.call("GET", "k"), b"v", "key intact after refused EXPIREs")
        expect(c.call("TTL", "k"), -1, "TTL intact after refused EXPIREs")
    if problems:
        h.fail("%d mismatches:\n%s" % (len(problems), "\n".join(problems)))


def test_info_sections(ctx):
    with fresh(ctx) as c:
        eq(c.call("INFO", "nosuchsection"), b"",
           "INFO of an unknown section (empty bulk)")
        for sec in ("all", "everything", "default"):
            info = h.parse_info(c.call("INFO", sec))
            for want in ("server", "clients", "memory", "stats", "keyspace"):
                check(want in info["#sections"],
                      "INFO %s lacks section %s (got %s)"
                      % (sec, want, info["#sections"]))
        eq(c.call("PING"), "PONG", "connection usable after INFO variants")


def test_hello_fields_and_setname(ctx):
    with fresh(ctx) as c:
        cid = c.call("CLIENT", "ID")
        r = h.text(c.call("HELLO", "3", "SETNAME", "via-hello"))
        check(isinstance(r, dict), "HELLO 3 SETNAME: expected a map, got %r"
              % (r,))
        for field in ("server", "version", "proto", "id", "mode", "role",
                      "modules"):
            check(field in r, "HELLO 3 reply lacks %r: %r" % (field, r))
        eq(r["proto"], 3, "HELLO 3 proto")
        eq(r["id"], cid, "HELLO id equals CLIENT ID")
        eq(c.call("CLIENT", "GETNAME"), b"via-hello",
           "name set by HELLO 3 SETNAME")
        expect_error(c.call("CLIENT", "SETNAME", "a\nb"), "ERR",
                     "CLIENT SETNAME with a newline")


def test_quit_in_pipeline(ctx):
    """Requests before QUIT are answered; those after it never run."""
    srv = ctx.shared()
    with fresh(ctx) as c:
        c.send_raw(h.encode("SET", "before-quit", "1") + h.encode("QUIT") +
                   h.encode("SET", "after-quit", "1"))
        eq(c.read(), "OK", "SET before QUIT")
        eq(c.read(), "OK", "QUIT")
        check(c.wait_closed(5), "connection closed after QUIT")
        eq(c.pending(), b"", "no reply after QUIT's +OK")
    with srv.conn() as c:
        eq(c.call("EXISTS", "before-quit", "after-quit"), 1,
           "only the SET before QUIT ran")


def test_many_arguments(ctx):
    with fresh(ctx) as c:
        n = 100000
        args = []
        for i in range(n):
            args += ["m%d" % i, "%d" % i]
        eq(c.call("MSET", *args), "OK", "MSET with 100000 pairs")
        eq(c.call("DBSIZE"), n, "DBSIZE after big MSET")
        keys = ["m%d" % i for i in range(n)]
        got = c.call("MGET", *keys)
        check(isinstance(got, list) and len(got) == n,
              "MGET 100000 keys: got %s" % h._short(got))
        check(got == [b"%d" % i for i in range(n)], "MGET 100000 values")
        eq(c.call("EXISTS", *keys), n, "EXISTS 100000 keys")
        eq(c.call("DEL", *keys), n, "DEL 100000 keys")
        eq(c.call("DBSIZE"), 0, "DBSIZE after big DEL")


TESTS = [test_ping_echo, test_get_set_basic, test_set_expiry_options,
         test_set_nx_xx_get_keepttl, test_set_errors, test_mget_mset,
         test_del_exists, test_expire_ttl, test_dbsize_flush, test_info,
         test_select, test_client, test_hello_resp3, test_quit, test_command,
         test_config_get, test_config_get_with_flags, test_unknown_command,
         test_inline_commands, test_inline_escapes,
         test_wrong_type_arguments_keep_connection,
         test_integer_and_expire_time_parsing, test_info_sections,
         test_hello_fields_and_setname, test_quit_in_pipeline,
         test_many_arguments]

if __name__ == "__main__":
    h.main(TESTS, budget=90)
