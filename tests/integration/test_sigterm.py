#!/usr/bin/env python3
"""Graceful shutdown on SIGTERM: with many connected clients and pipelines
in flight, larderd stops accepting, answers every request it had read (a
pipeline already being answered is answered to the end; a big reply being
written is delivered whole), closes idle clients, and exits 0 within a
bound; a client that never reads does not hold it past
--shutdown-timeout. Replies never arrive truncated or out of order."""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402


def test_sigterm_idle(ctx):
    srv = ctx.server(["--threads", "2"])
    srv.expected_exit = True
    with srv.conn() as c:
        eq(c.call("SET", "a", "1"), "OK", "SET before SIGTERM")
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    code = srv.wait(10)
    check(code is not None, "larderd did not exit within 10 s of SIGTERM "
          "with no clients")
    eq(code, 0, "exit code after SIGTERM with no clients")
    check(time.monotonic() - t0 < h.scaled(5),
          "idle shutdown took %.1f s" % (time.monotonic() - t0))
    check(h.port_refuses(srv.port), "port still accepts after exit")
    report = srv.sanitizer_report()
    check(report is None, "sanitizer report:\n%s" % report)


def late_client(port):
    """What happens to a client connecting now: 'refused', 'closed' (the
    connection was accepted but dropped unserved) or 'served'."""
    try:
        with h.Conn(port, timeout=2, connect_timeout=2) as c:
            try:
                return "served" if c.call("PING") == "PONG" else "closed"
            except (h.ConnectionClosed, TimeoutError, OSError):
                return "closed"
    except OSError:
        return "refused"


class PipelineClient(threading.Thread):
    """Sends one pipeline of SETs in one write, then reads replies until
    all arrived or the server closed. Records what it got."""

    def __init__(self, port, cid, count):
        super().__init__(daemon=True)
        self.cid, self.count = cid, count
        self.conn = h.Conn(port, timeout=20)
        self.first_reply = threading.Event()
        self.replies = []
        self.error = None
        self.closed = False

    def run(self):
        try:
            self.conn.send_raw(b"".join(
                h.encode("SET", "sig:%d:%d" % (self.cid, i), "v%d" % i)
                for i in range(self.count)))
            while len(self.replies) < self.count:
                try:
                    r = self.conn.read()
                except h.ConnectionClosed:
                    self.closed = True
                    break
                self.replies.append(r)
                self.first_reply.set()
            if not self.closed:
                self.closed = self.conn.wait_closed(20)
        except Exception as e:
            self.error = repr(e)
        finally:
            self.first_reply.set()
            self.conn.close()


class BigReader(threading.Thread):
    """GETs a big value, reads the first bytes, pauses until told, then
    reads the rest: the reply is in flight when SIGTERM arrives."""

    def __init__(self, port, size):
        super().__init__(daemon=True)
        self.size = size
        self.conn = h.Conn(port, timeout=20, rcvbuf=64 * 1024)
        self.started = threading.Event()
        self.resume = threading.Event()
        self.value = None
        self.error = None

    def run(self):
        try:
            self.conn.send_raw(h.encode("GET", "bigkey"))
            first = self.conn.sock.recv(65536)
            if not first:
                raise h.ConnectionClosed("closed before any reply byte")
            self.conn._buf += first
            self.started.set()
            self.resume.wait(h.scaled(20))
            self.value = self.conn.read()
        except Exception as e:
            self.error = repr(e)
        finally:
            self.started.set()
            self.conn.close()


def test_sigterm_with_clients_in_flight(ctx):
    ctx.larder_only("redis-server does not drain clients on SIGTERM")
    srv = ctx.server(["--threads", "4", "--shutdown-timeout", "10"])
    srv.expected_exit = True
    big = bytes(range(256)) * (32 * 4096)  # 32 MB
    with srv.conn() as c:
        eq(c.call("SET", "bigkey", big), "OK", "SET 32 MB value")

    idle = [srv.conn() for _ in range(50)]
    for c in idle[::5]:
        eq(c.call("PING"), "PONG", "PING on an idle client")
    reader = BigReader(srv.port, len(big))
    reader.start()
    check(reader.started.wait(h.scaled(10)), "big reader got no data")
    check(reader.error is None, "big reader: %s" % reader.error)
    pipes = [PipelineClient(srv.port, i, 50) for i in range(8)]
    for p in pipes:
        p.start()
    for p in pipes:
        check(p.first_reply.wait(h.scaled(10)),
              "pipeline client %d got no first reply" % p.cid)

    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    time.sleep(0.3)
    # The big reply is still pending (the reader is paused): the server is
    # shutting down but must not take new clients.
    outcome = late_client(srv.port)
    check(outcome != "served", "a client connecting 0.3 s after SIGTERM was "
          "served (PING -> PONG) while the server was draining")
    reader.resume.set()

    code = srv.wait(20)
    elapsed = time.monotonic() - t0
    check(code is not None, "larderd did not exit within 20 s of SIGTERM "
          "(shutdown-timeout 10)\nlog:\n%s" % srv.log_tail())
    eq(code, 0, "exit code after SIGTERM with clients in flight")
    check(elapsed < h.scaled(15), "shutdown took %.1f s" % elapsed)

    reader.join(h.scaled(20))
    check(reader.error is None, "big reply in flight at SIGTERM: %s"
          % reader.error)
    check(reader.value == big, "big reply in flight at SIGTERM arrived "
          "incomplete or corrupt (%s bytes)"
          % (len(reader.value) if isinstance(reader.value, bytes)
             else reader.value))
    for p in pipes:
        p.join(h.scaled(20))
        check(not p.is_alive(), "pipeline client %d still reading" % p.cid)
        check(p.error is None, "pipeline client %d: %s" % (p.cid, p.error))
        bad = [r for r in p.replies if r != "OK"]
        check(not bad, "pipeline client %d got non-OK replies: %r"
              % (p.cid, bad[:3]))
        eq(len(p.replies), p.count, "replies to pipeline client %d (50 SETs "
           "in one write, being answered when SIGTERM came)" % p.cid)
    for i, c in enumerate(idle):
        check(c.wait_closed(2), "idle client %d not closed at shutdown" % i)
        eq(c.pending(), b"", "idle client %d received bytes" % i)
        c.close()
    check(h.port_refuses(srv.port), "port still accepts after exit")
    report = srv.sanitizer_report()
    check(report is None, "sanitizer report:\n%s" % report)


def test_sigterm_during_continuous_load(ctx):
    """Clients keep sending until the server goes away: every reply they
    got must be correct and in order (a prefix of what they sent)."""
    srv = ctx.server(["--threads", "4", "--shutdown-timeout", "5"])
    srv.expected_exit = True
    errors = []
    stop = threading.Event()
    counts = []

    def loader(cid):
        got = 0
        try:
            c = h.Conn(srv.port, timeout=10)
        except OSError as e:
            errors.append("client %d connect: %r" % (cid, e))
            return
        try:
            i = 0
            while not stop.is_set() and i < 200000:
                batch = [("SET", "l:%d:%d" % (cid, i + j), i + j)
                         for j in range(10)] + [("GET", "l:%d:%d" % (cid, i))]
                try:
                    c.send_raw(b"".join(h.encode(*x) for x in batch))
                except OSError:
                    break
                for j, cmd in enumerate(batch):
                    try:
                        r = c.read()
                    except (h.ConnectionClosed, OSError):
                        counts.append(got)
                        return
                    want = "OK" if cmd[0] == "SET" else b"%d" % i
                    if r != want:
                        errors.append("client %d: %s -> %r (want %r)"
                                      % (cid, " ".join(map(str, cmd)), r,
                                         want))
                        return
                    got += 1
                i += 10
            counts.append(got)
        except TimeoutError as e:
            errors.append("client %d: server stopped replying without "
                          "closing: %s" % (cid, e))
        finally:
            c.close()

    threads = [threading.Thread(target=loader, args=(i,), daemon=True)
               for i in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    code = srv.wait(15)
    stop.set()
    for t in threads:
        t.join(h.scaled(20))
    check(code is not None, "larderd did not exit within 15 s of SIGTERM "
          "under load (shutdown-timeout 5)")
    eq(code, 0, "exit code after SIGTERM under load")
    check(time.monotonic() - t0 < h.scaled(10),
          "shutdown under load took %.1f s" % (time.monotonic() - t0))
    check(not any(t.is_alive() for t in threads), "load threads stuck")
    if errors:
        h.fail("\n".join(errors[:10]))
    check(len(counts) == 8 and min(counts) > 0,
          "every client got replies before shutdown: %r" % counts)
    report = srv.sanitizer_report()
    check(report is None, "sanitizer report:\n%s" % report)


def test_shutdown_timeout_with_stuck_reader(ctx):
    ctx.larder_only("--shutdown-timeout semantics are larder's")
    srv = ctx.server(["--threads", "2", "--shutdown-timeout", "2"])
    srv.expected_exit = True
    big = b"s" * (16 * 1024 * 1024)
    with srv.conn() as c:
        eq(c.call("SET", "bigkey", big), "OK", "SET 16 MB value")
    stuck = h.Conn(srv.port, rcvbuf=32 * 1024)
    try:
        stuck.send_raw(h.encode("GET", "bigkey") * 4)  # 64 MB, never read
        time.sleep(0.5)
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        code = srv.wait(12)
        elapsed = time.monotonic() - t0
        check(code is not None, "larderd still running 12 s after SIGTERM "
              "with a client that never reads (--shutdown-timeout 2)")
        eq(code, 0, "exit code after the shutdown timeout")
        check(elapsed >= 1.0, "server exited after %.2f s without waiting "
              "for the stuck client's in-flight reply (shutdown-timeout 2)"
              % elapsed)
        check(elapsed < h.scaled(2 + 5), "exit took %.1f s, shutdown-timeout "
              "is 2 s" % elapsed)
    finally:
        stuck.close()
    report = srv.sanitizer_report()
    check(report is None, "sanitizer report:\n%s" % report)


def test_sigterm_then_restart_same_port(ctx):
    """After a clean exit the port can be bound again at once (no lingering
    listener; SO_REUSEADDR)."""
    srv = ctx.server(["--threads", "2"])
    srv.expected_exit = True
    with srv.conn() as c:
        for _ in range(20):
            c.call("SET", "x", "y")
    srv.signal(signal.SIGTERM)
    eq(srv.wait(10), 0, "exit code after SIGTERM")
    srv2 = ctx.server(["--threads", "2"], port=srv.port)
    eq(srv2.call("GET", "x"), None, "a restarted node starts empty")


def test_double_sigterm_and_sigint(ctx):
    """A second SIGTERM during the drain does not crash or change the exit
    code; SIGINT (Ctrl-C) shuts down cleanly as well."""
    ctx.larder_only("larder drains on SIGTERM")
    srv = ctx.server(["--threads", "2", "--shutdown-timeout", "3"])
    srv.expected_exit = True
    with srv.conn() as c:
        eq(c.call("SET", "bigkey", b"d" * (8 * 1024 * 1024)), "OK",
           "SET 8 MB")
    stuck = h.Conn(srv.port, rcvbuf=32 * 1024)
    try:
        stuck.send_raw(h.encode("GET", "bigkey") * 4)
        time.sleep(0.3)
        srv.signal(signal.SIGTERM)
        time.sleep(0.2)
        srv.signal(signal.SIGTERM)
        code = srv.wait(12)
        check(code is not None, "no exit within 12 s after two SIGTERMs")
        eq(code, 0, "exit code after two SIGTERMs")
    finally:
        stuck.close()
    report = srv.sanitizer_report()
    check(report is None, "sanitizer report:\n%s" % report)

    srv2 = ctx.server(["--threads", "2"])
    srv2.expected_exit = True
    with srv2.conn() as c:
        eq(c.call("PING"), "PONG", "PING")
    srv2.signal(signal.SIGINT)
    code = srv2.wait(10)
    check(code is not None, "no exit within 10 s after SIGINT")
    eq(code, 0, "exit code after SIGINT")


TESTS = [test_sigterm_idle, test_sigterm_with_clients_in_flight,
         test_sigterm_during_continuous_load,
         test_shutdown_timeout_with_stuck_reader,
         test_sigterm_then_restart_same_port, test_double_sigterm_and_sigint]

if __name__ == "__main__":
    h.main(TESTS, budget=110)
