#!/usr/bin/env python3
"""Malformed and hostile input: each protocol error (bad multibulk or bulk
lengths, $2147483648, a non-$ argument, unbalanced quotes, over-long inline
lines and headers) gets `-ERR Protocol error...` and the connection is
closed, while the server keeps serving a long-lived connection; a bounded
fuzz loop of random and mutated requests (fixed seed) never kills the
server; --maxclients refuses the extra client with an error;
--client-query-buffer-limit closes a client with too much unparsed data;
half-sent requests, resets and clients that never read are harmless."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check, RespError  # noqa: E402

PROTOCOL_ERRORS = [
    ("invalid multibulk length", b"*abc\r\n"),
    ("negative bulk length", b"*1\r\n$-5\r\n"),
    ("bulk length 2^31 (over proto-max-bulk-len)",
     b"*1\r\n$2147483648\r\n"),
    ("bulk length 2^63", b"*2\r\n$3\r\nGET\r\n$9223372036854775808\r\n"),
    ("non-numeric bulk length", b"*1\r\n$abc\r\n"),
    ("argument not starting with $", b"*1\r\nfoo\r\n"),
    ("nested array as argument", b"*1\r\n*1\r\n$4\r\nPING\r\n"),
    ("unbalanced quotes inline", b'SET "abc def\r\n'),
    ("unbalanced single quote inline", b"GET 'abc\r\n"),
    ("closing quote not followed by space", b'GET "a"b\r\n'),
]


# Larder's limit (Redis 7.0 accepts any count up to INT_MAX).
LARDER_ONLY_PROTOCOL_ERRORS = [
    ("multibulk count over proto-max-multibulk-len (1048576)",
     b"*1048577\r\n"),
]


def protocol_error_case(srv, keeper, name, data, closes=True):
    with srv.conn() as c:
        c.send_raw(data)
        try:
            r = c.read()
        except h.ConnectionClosed as e:
            h.fail("%s (%r): connection closed without an error reply (%s)"
                   % (name, data[:60], e))
        except TimeoutError as e:
            h.fail("%s (%r): no reply: %s" % (name, data[:60], e))
        h.expect_error(r, "ERR Protocol error", "%s (%r)" % (name, data[:60]))
        if closes:
            check(c.wait_closed(5), "%s (%r): connection not closed after "
                  "the protocol error" % (name, data[:60]))
    eq(keeper.call("PING"), "PONG", "long-lived connection after %s" % name)


def test_protocol_errors(ctx):
    srv = ctx.shared()
    with srv.conn() as keeper:
        eq(keeper.call("SET", "canary", "alive"), "OK", "SET canary")
        cases = PROTOCOL_ERRORS
        if not ctx.is_redis:
            cases = cases + LARDER_ONLY_PROTOCOL_ERRORS
        for name, data in cases:
            protocol_error_case(srv, keeper, name, data)
        eq(keeper.call("GET", "canary"), b"alive", "canary after all errors")
        with srv.conn() as fresh:
            eq(fresh.call("PING"), "PONG", "new connection after all errors")


def test_protocol_error_after_valid_requests(ctx):
    """Requests before the bad one are answered, in order, then the
    error, then the close."""
    srv = ctx.shared()
    with srv.conn() as c:
        c.send_raw(h.encode("SET", "before", "1") + h.encode("GET", "before")
                   + b"*1\r\n$-5\r\n" + h.encode("SET", "after", "1"))
        eq(c.read(), "OK", "SET before the bad request")
        eq(c.read(), b"1", "GET before the bad request")
        h.expect_error(c.read(), "ERR Protocol error", "bad request")
        check(c.wait_closed(5), "connection not closed after protocol error")
    eq(srv.call("EXISTS", "after"), 0,
       "a request after the protocol error must not be executed")


def test_too_long_inline_and_header(ctx):
    srv = ctx.shared()
    with srv.conn() as keeper:
        # No newline at all: the server must not buffer forever.
        protocol_error_case(srv, keeper, "inline line of 100 KB without "
                            "newline", b"GET " + b"a" * 100000)
        protocol_error_case(srv, keeper, "multibulk header of 100 KB "
                            "without newline", b"*" + b"1" * 100000)
        protocol_error_case(srv, keeper, "bulk header of 100 KB without "
                            "newline", b"*1\r\n$" + b"1" * 100000)


def test_2147483648_bulk(ctx):
    srv = ctx.shared()
    with srv.conn() as keeper:
        for data in (b"*1\r\n$2147483648\r\n",
                     b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2147483648\r\n",
                     b"*2147483648\r\n"):
            protocol_error_case(srv, keeper, "huge length %r" % data[-14:],
                                data)
        eq(keeper.call("EXISTS", "k"), 0, "nothing stored")


def test_empty_and_odd_but_valid(ctx):
    srv = ctx.shared()
    with srv.conn() as c:
        c.send_raw(b"*0\r\n" + h.encode("PING"))
        eq(c.read(), "PONG", "*0 is ignored, the next request answered")
        c.send_raw(b"\r\n\n\r\n" + h.encode("ECHO", "x"))
        eq(c.read(), b"x", "empty inline lines ignored")
        c.send_raw(b"\x01\x02garbage\xff\r\n")
        r = c.read()
        h.expect_error(r, "ERR unknown command", "binary inline garbage")
        eq(c.call("PING"), "PONG", "connection usable after unknown command")
        c.send_raw(b"$5\r\n")
        h.expect_error(c.read(), "ERR unknown command",
                       "top-level bulk header read as an inline command")
        eq(c.call("PING"), "PONG", "still usable")


def fuzz_inputs(rnd, n):
    valid = [h.encode("SET", "fz", "value"), h.encode("GET", "fz"),
             h.encode("MGET", "a", "b", "c"), h.encode("PING"),
             h.encode("ECHO", "hello"), b"PING\r\n", b"SET a b\r\n",
             h.encode("EXPIRE", "fz", "100"), h.encode("DEL", "x", "y"),
             h.encode("SET", "k", "v", "EX", "10", "NX")]
    tokens = [b"*", b"$", b"\r\n", b"\n", b"-1", b"0", b"1", b"2",
              b"999999999", b"2147483648", b"-", b"+", b":", b"\"", b"'",
              b" ", b"\\x", b"\x00", b"GET", b"SET", b"PING", b"%", b"~",
              b"_", b"#"]
    for i in range(n):
        kind = i % 4
        if kind == 0:
            yield bytes(rnd.randrange(256)
                        for _ in range(rnd.randint(1, 200)))
        elif kind == 1:
            data = bytearray(rnd.choice(valid) + rnd.choice(valid))
            for _ in range(rnd.randint(1, 4)):
                op = rnd.randrange(3)
                p = rnd.randrange(len(data))
                if op == 0:
                    data[p] = rnd.randrange(256)
                elif op == 1:
                    del data[p]
                else:
                    data.insert(p, rnd.choice(b"*$\r\n-0123456789"))
            yield bytes(data)
        elif kind == 2:
            yield b"".join(rnd.choice(tokens)
                           for _ in range(rnd.randint(1, 40)))
        else:
            v = rnd.choice(valid)
            yield v[:rnd.randint(1, len(v))]  # truncated request


def test_fuzz(ctx):
    srv = ctx.shared()
    rnd = h.rng(ctx, 20240601)
    deadline = time.monotonic() + h.scaled(40)
    with srv.conn() as keeper:
        for i, data in enumerate(fuzz_inputs(rnd, 200)):
            check(time.monotonic() < deadline, "fuzz loop exceeded its time "
                  "bound at iteration %d" % i)
            try:
                c = h.Conn(srv.port, timeout=2)
            except OSError as e:
                h.fail("fuzz %d: cannot connect (%s); server alive: %s"
                       % (i, e, srv.alive()))
            try:
                try:
                    c.send_raw(data)
                except OSError:
                    pass
                # Read whatever comes (replies must be valid RESP) until
                # the server closes or goes quiet.
                c.sock.settimeout(0.05)
                c.timeout = 0.05
                for _ in range(20):
                    try:
                        r = c.read()
                    except (TimeoutError, h.ConnectionClosed, OSError):
                        break
                    except h.ServerProtocolViolation as e:
                        h.fail("fuzz %d: server sent invalid RESP after %r: "
                               "%s" % (i, data, e))
                    if isinstance(r, RespError) and "Protocol" in r.message:
                        break
            finally:
                if i % 2:
                    c.reset()
                else:
                    c.close()
            if i % 20 == 19:
                check(srv.alive(), "server died at fuzz input %d: %r"
                      % (i, data))
                eq(keeper.call("PING"), "PONG", "PING after fuzz input %d"
                   % i)
        eq(keeper.call("PING"), "PONG", "PING after the fuzz loop")


def test_maxclients(ctx):
    srv = ctx.server(["--maxclients", "5"])
    conns = []
    try:
        for i in range(5):
            c = srv.conn()
            conns.append(c)
            eq(c.call("PING"), "PONG", "client %d of maxclients 5" % (i + 1))
        extra = srv.conn()
        try:
            r = extra.read()
        except h.ConnectionClosed:
            h.fail("6th client over --maxclients 5: closed without the "
                   "error reply")
        eq(r, RespError("ERR max number of clients reached"),
           "6th client over --maxclients 5")
        check(extra.wait_closed(5), "6th client not closed after the error")
        extra.close()
        for i, c in enumerate(conns):
            eq(c.call("PING"), "PONG", "existing client %d still served" % i)
        conns.pop().close()

        def accepted():
            try:
                with srv.conn() as c:
                    return c.call("PING") == "PONG"
            except (h.ConnectionClosed, OSError, TimeoutError):
                return False
        h.wait_until(accepted, 5, 0.1, "a new client to be accepted after "
                     "one of 5 disconnected")
        # Rejections must not leak client slots: 4 clients stay, a 5th
        # comes and goes, a 6th is refused each time.
        def admit():
            deadline = time.monotonic() + h.scaled(5)
            while True:
                c = srv.conn()
                try:
                    if c.call("PING") == "PONG":
                        return c
                except (h.ConnectionClosed, OSError, TimeoutError):
                    pass
                c.close()
                if time.monotonic() > deadline:
                    h.fail("a 5th client was not admitted within 5 s (with "
                           "4 connected and --maxclients 5)")
                time.sleep(0.05)

        for i in range(20):
            fifth = admit()
            sixth = srv.conn()
            try:
                got = sixth.read()
            except h.ConnectionClosed:
                got = None
            sixth.close()
            fifth.close()
            eq(got, RespError("ERR max number of clients reached"),
               "rejection %d of a 6th client" % i)
        for c in conns:
            c.close()
        conns = []

        def all_five():
            cs = []
            try:
                for _ in range(5):
                    cs.append(srv.conn())
                return all(c.call("PING") == "PONG" for c in cs)
            except (h.ConnectionClosed, OSError, TimeoutError):
                return False
            finally:
                for c in cs:
                    c.close()
        h.wait_until(all_five, 5, 0.1, "5 clients admitted again after "
                     "everyone disconnected (no leaked slots)")
    finally:
        for c in conns:
            c.close()


def test_query_buffer_limit(ctx):
    srv = ctx.server(["--client-query-buffer-limit", "1mb"])
    with srv.conn() as keeper:
        # Under the limit: a 512 KB value is fine.
        eq(keeper.call("SET", "ok", b"x" * (512 * 1024)), "OK",
           "SET 512 KB with --client-query-buffer-limit 1mb")
        c = srv.conn()
        closed = False
        try:
            c.send_raw(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$5000000\r\n")
            chunk = b"y" * 65536
            for _ in range(64):  # up to 4 MB of a 5 MB bulk
                try:
                    c.send_raw(chunk)
                except OSError:
                    closed = True
                    break
            if not closed:
                closed = c.wait_closed(5)
            check(closed, "client with 4 MB of an unfinished request was not "
                  "closed with --client-query-buffer-limit 1mb")
        finally:
            c.close()
        eq(keeper.call("PING"), "PONG", "other client served after the close")
        eq(keeper.call("EXISTS", "big"), 0, "the oversized SET did not run")
        # Many small pipelined requests are parsed as they come: no limit
        # applies to them.
        with srv.conn() as p:
            n = 30000
            p.send_raw(h.encode("SET", "s", "v" * 60) * n)
            for i in range(n):
                got = p.read()
                if got != "OK":
                    h.fail("pipelined SET %d of %d: %r" % (i, n, got))


def test_half_requests_and_resets(ctx):
    srv = ctx.shared()
    partials = [b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc",
                b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$100000000\r\nabc",
                b"*2\r\n$3\r\nGET",
                b"*",
                b"SET half",
                b"*2\r\n$3\r\nSET\r\n$4\r\n"]
    for i in range(60):
        c = h.Conn(srv.port)
        c.send_raw(partials[i % len(partials)])
        if i % 3 == 0:
            c.reset()
        elif i % 3 == 1:
            c.close()
        else:
            c.sock.shutdown(socket.SHUT_WR)
            c.wait_closed(1)
            c.close()
    with srv.conn() as c:
        eq(c.call("PING"), "PONG", "PING after 60 half-sent requests")
        eq(c.call("EXISTS", "half"), 0, "no half-sent SET was executed")
    # A client that pipelines requests for big replies and resets.
    with srv.conn() as c:
        eq(c.call("SET", "bigval", b"z" * (1024 * 1024)), "OK", "SET 1 MB")
    for _ in range(5):
        c = h.Conn(srv.port)
        c.send_raw(h.encode("GET", "bigval") * 50)
        time.sleep(0.05)
        c.reset()
    with srv.conn() as c:
        eq(c.call("PING"), "PONG", "PING after clients reset mid-reply")
        eq(len(c.call("GET", "bigval")), 1024 * 1024, "GET 1 MB after resets")


def test_connection_flood(ctx):
    srv = ctx.shared()
    conns = []
    try:
        for i in range(200):
            conns.append(h.Conn(srv.port))
        for c in conns[::10]:
            eq(c.call("PING"), "PONG", "PING on one of 200 connections")
    finally:
        for c in conns:
            c.close()
    eq(srv.call("PING"), "PONG", "PING after closing 200 connections")
    info = srv.info("clients")
    h.wait_until(lambda: h.info_int(srv.info("clients"),
                                    "connected_clients") <= 3, 5, 0.1,
                 "connected_clients to drop after closing 200 connections "
                 "(was %s)" % info.get("connected_clients"))


TESTS = [test_protocol_errors, test_protocol_error_after_valid_requests,
         test_too_long_inline_and_header, test_2147483648_bulk,
         test_empty_and_odd_but_valid, test_fuzz, test_maxclients,
         test_query_buffer_limit, test_half_requests_and_resets,
         test_connection_flood]

if __name__ == "__main__":
    h.main(TESTS, budget=100)
