#!/usr/bin/env python3
"""Pipelining and framing: many commands in one write are answered in
order; requests split at every byte position (and sent a byte at a time)
are parsed correctly; large values (8 MB) and binary values (every byte
value, CR/LF, NUL) round-trip unchanged; replies to clients that pipeline
heavily while reading slowly are complete and ordered."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402


def fresh(ctx):
    c = ctx.shared(["--threads", "2"]).conn()
    eq(c.call("FLUSHALL"), "OK", "FLUSHALL")
    return c


def test_pipeline_1000_in_order(ctx):
    with fresh(ctx) as c:
        cmds, expected = [], []
        for i in range(1000):
            k = "p:%d" % (i // 4)
            kind = i % 4
            if kind == 0:
                cmds.append(("SET", k, "v%d" % i))
                expected.append("OK")
            elif kind == 1:
                cmds.append(("GET", k))
                expected.append(("v%d" % (i - 1)).encode())
            elif kind == 2:
                cmds.append(("ECHO", "e%d" % i))
                expected.append(("e%d" % i).encode())
            else:
                cmds.append(("EXISTS", k, "nokey"))
                expected.append(1)
        got = c.pipeline(cmds)
        for i, (g, e) in enumerate(zip(got, expected)):
            eq(g, e, "reply %d of 1000 pipelined (%s)"
               % (i, " ".join(cmds[i])))
        eq(c.call("DBSIZE"), 250, "DBSIZE after the pipeline")


def test_pipeline_large_with_sender_thread(ctx):
    """20000 commands written by one thread while another reads: the
    server must not stall when the client reads and writes concurrently."""
    with fresh(ctx) as c:
        n = 20000
        payload = b"".join(h.encode("SET", "big:%d" % i, "x" * (i % 50))
                           + h.encode("GET", "big:%d" % i)
                           for i in range(n // 2))
        err = []

        def sender():
            try:
                c.send_raw(payload)
            except OSError as e:
                err.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        for i in range(n // 2):
            eq(c.read(), "OK", "SET reply %d" % i)
            eq(c.read(), b"x" * (i % 50), "GET reply %d" % i)
        t.join(h.scaled(10))
        check(not t.is_alive() and not err, "sender thread: %r" % err)


def test_inline_pipeline(ctx):
    with fresh(ctx) as c:
        c.send_raw(b"".join(b"SET il%d %d\r\n" % (i, i) for i in range(200))
                   + b"".join(b"GET il%d\r\n" % i for i in range(200)))
        for i in range(200):
            eq(c.read(), "OK", "inline pipelined SET %d" % i)
        for i in range(200):
            eq(c.read(), b"%d" % i, "inline pipelined GET %d" % i)


REQUESTS = [
    (h.encode("SET", "split", "hello\r\nworld"), "OK"),
    (h.encode("GET", "split"), b"hello\r\nworld"),
    (h.encode("MGET", "split", "nokey", "split"),
     [b"hello\r\nworld", None, b"hello\r\nworld"]),
    (b"ECHO inline\r\n", b"inline"),
    (h.encode("PING"), "PONG"),
]


def test_split_at_every_byte(ctx):
    with fresh(ctx) as c:
        sent = 0
        for req, expected in REQUESTS:
            for cut in range(1, len(req)):
                c.send_raw(req[:cut])
                time.sleep(0.002)
                c.send_raw(req[cut:])
                eq(c.read(), expected, "%r split after byte %d"
                   % (req, cut))
                eq(c.pending(), b"", "no extra bytes after the reply to %r"
                   % req)
                sent += 1
        check(sent > 100, "split cases run: %d" % sent)


def test_byte_by_byte(ctx):
    with fresh(ctx) as c:
        deadline = time.monotonic() + h.scaled(20)
        for req, expected in REQUESTS:
            for b in range(len(req)):
                c.send_raw(req[b:b + 1])
                time.sleep(0.001)
                check(time.monotonic() < deadline, "byte-by-byte send took "
                      "too long")
            eq(c.read(), expected, "%r sent one byte at a time" % req)
        # Two requests interleaved byte by byte in one stream.
        both = h.encode("SET", "bb", "1") + h.encode("GET", "bb")
        for b in range(len(both)):
            c.send_raw(both[b:b + 1])
            time.sleep(0.001)
        eq([c.read(), c.read()], ["OK", b"1"], "SET+GET one byte at a time")


def test_large_value_8mb(ctx):
    with fresh(ctx) as c:
        big = os.urandom(8 * 1024 * 1024)
        eq(c.call("SET", "big", big), "OK", "SET 8 MB value")
        got = c.call("GET", "big")
        check(isinstance(got, bytes), "GET big: expected bytes, got %r"
              % type(got))
        eq(len(got), len(big), "GET 8 MB value length")
        check(got == big, "GET 8 MB value: content differs")
        # Small commands pipelined around a big one keep their order.
        c.send_raw(h.encode("PING") + h.encode("SET", "big2", big) +
                   h.encode("GET", "big2") + h.encode("ECHO", "after"))
        eq(c.read(), "PONG", "PING before big SET")
        eq(c.read(), "OK", "pipelined big SET")
        check(c.read() == big, "pipelined GET big2 content differs")
        eq(c.read(), b"after", "ECHO after big GET")
        r = c.call("MGET", "big", "nokey", "big2")
        check(isinstance(r, list) and len(r) == 3 and r[0] == big and
              r[1] is None and r[2] == big, "MGET of two 8 MB values")
        eq(c.call("DEL", "big", "big2"), 2, "DEL big values")


def test_request_after_big_replies(ctx):
    """Requests pipelined behind replies of several MB are answered without
    the client sending anything more. (A server that stops running a batch
    once a few MB of replies are queued must resume it after the flush,
    also when the flush completes at once.)"""
    srv = ctx.shared(["--threads", "2"])
    with fresh(ctx) as c:
        eq(c.call("SET", "b8", b"8" * (8 * 1024 * 1024)), "OK", "SET 8 MB")
        eq(c.call("SET", "b1", b"1" * (1024 * 1024)), "OK", "SET 1 MB")
    for trial in range(12):
        # A fast reader with a large receive buffer, so that the server's
        # writes tend to complete without EAGAIN.
        with h.Conn(srv.port, timeout=5, rcvbuf=16 * 1024 * 1024) as c:
            if trial % 2 == 0:
                c.send_raw(h.encode("GET", "b8") + h.encode("ECHO", "after"))
                n_big = 1
            else:
                c.send_raw(h.encode("GET", "b1") * 10 +
                           h.encode("ECHO", "after"))
                n_big = 10
            what = "GET of 8 MB" if n_big == 1 else "10 GETs of 1 MB"
            replies = []
            try:
                for i in range(n_big + 1):
                    replies.append(c.read())
            except TimeoutError:
                c.send_raw(h.encode("PING"))
                try:
                    late = c.read()
                except (TimeoutError, h.ConnectionClosed):
                    late = None
                h.fail("trial %d (%s + ECHO in one write): only %d of %d "
                       "replies within 5 s; after sending a PING the next "
                       "reply was %s" % (trial, what, len(replies),
                                         n_big + 1, h._short(late, 60)))
            for i, got in enumerate(replies[:-1]):
                check(isinstance(got, bytes) and len(got) in
                      (1024 * 1024, 8 * 1024 * 1024),
                      "trial %d: big reply %d: %s" % (trial, i,
                                                      h._short(got)))
            last = replies[-1]
            eq(last, b"after", "trial %d: ECHO after big replies" % trial)


def test_binary_safe(ctx):
    with fresh(ctx) as c:
        allbytes = bytes(range(256))
        values = [allbytes, allbytes * 40, b"\r\n", b"\x00", b"$5\r\n",
                  b"*1\r\n$4\r\nPING\r\n", b"\r\n\r\n\x00\xff", b"-ERR x",
                  b"+OK"]
        for i, v in enumerate(values):
            k = b"bin\x00key\r\n" + bytes([i]) + allbytes[::7]
            eq(c.call("SET", k, v), "OK", "SET binary value %d" % i)
            eq(c.call("GET", k), v, "GET binary value %d" % i)
            eq(c.call("EXISTS", k), 1, "EXISTS binary key %d" % i)
        keys = [b"\xff\xfe%d" % i for i in range(50)]
        c.call("MSET", *[x for k in keys for x in (k, k[::-1] + b"\x00")])
        eq(c.call("MGET", *keys), [k[::-1] + b"\x00" for k in keys],
           "MGET binary keys")
        eq(c.call("DEL", *keys), 50, "DEL binary keys")


def test_slow_reader_gets_everything(ctx):
    """A client that pipelines many big replies and reads them slowly
    gets every byte, in order."""
    srv = ctx.shared(["--threads", "2"])
    with fresh(ctx) as c:
        val = bytes(range(256)) * 1024  # 256 KB
        eq(c.call("SET", "v", val), "OK", "SET 256 KB value")
    with h.Conn(srv.port, rcvbuf=32 * 1024) as slow:
        n = 64  # 16 MB of replies
        slow.send_raw(b"".join(h.encode("GET", "v") for _ in range(n)))
        time.sleep(0.3)
        for i in range(n):
            got = slow.read()
            check(got == val, "slow reader: GET %d content differs" % i)
            if i % 8 == 0:
                time.sleep(0.02)
        eq(slow.call("PING"), "PONG", "slow reader: PING after replies")
    eq(srv.call("PING"), "PONG", "server alive")


def test_many_connections_pipelining(ctx):
    srv = ctx.shared(["--threads", "2"])
    conns = [srv.conn() for _ in range(20)]
    try:
        for j, c in enumerate(conns):
            c.send_raw(b"".join(h.encode("SET", "mc:%d:%d" % (j, i), i)
                                for i in range(100)))
        for j, c in enumerate(conns):
            for i in range(100):
                eq(c.read(), "OK", "conn %d SET %d" % (j, i))
        for j, c in enumerate(conns):
            c.send_raw(h.encode("MGET", *["mc:%d:%d" % (j, i)
                                          for i in range(100)]))
        for j, c in enumerate(conns):
            eq(c.read(), [b"%d" % i for i in range(100)],
               "conn %d MGET" % j)
    finally:
        for c in conns:
            c.close()


def test_half_close_after_pipeline(ctx):
    """A client that sends requests and shuts its write side still gets
    every reply before the server closes."""
    srv = ctx.shared(["--threads", "2"])
    with srv.conn() as c:
        c.send_raw(b"".join(h.encode("ECHO", "m%d" % i) for i in range(100)))
        c.sock.shutdown(socket.SHUT_WR)
        for i in range(100):
            eq(c.read(), b"m%d" % i, "reply %d after half-close" % i)
        check(c.wait_closed(5), "server should close after the client's "
              "FIN once replies are sent")


TESTS = [test_pipeline_1000_in_order, test_pipeline_large_with_sender_thread,
         test_inline_pipeline, test_split_at_every_byte, test_byte_by_byte,
         test_large_value_8mb, test_request_after_big_replies,
         test_binary_safe,
         test_slow_reader_gets_everything, test_many_connections_pipelining,
         test_half_close_after_pipeline]

if __name__ == "__main__":
    h.main(TESTS, budget=100)
