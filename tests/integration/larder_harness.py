"""Shared harness for larder's integration tests.

This file implements what every tests/integration/test_*.py needs to drive a
real larderd over TCP on 127.0.0.1:

- command-line parsing (--larderd PATH; --redis-server PATH runs the same
  test against a real redis-server instead, to check a test's Redis-semantics
  expectations, in which case larder-only checks are skipped);
- free-port picking and starting a server with extra flags, waiting (bounded)
  until it answers PING, and stopping it (SIGTERM, bounded wait, SIGKILL)
  with its exit code and log checked;
- a minimal RESP2/RESP3 client over a raw socket that can also return the
  raw bytes of each reply;
- helpers to run redis-cli and redis-benchmark;
- a small test runner with a global time budget that stops exactly the
  processes it started, also when a test fails or the budget runs out.

Every test file accepts --only SUBSTRING (run only matching tests) and
--seed N; LARDER_TEST_TIME_SCALE=N stretches every time bound (e.g. 3 for a
sanitizer build). Logs of servers in a failed run are kept and their
directory printed.

Only the Python 3 standard library is used. Servers must be started from the
main thread: each child gets PR_SET_PDEATHSIG, which fires when the thread
that forked it exits.
"""

import argparse
import atexit
import ctypes
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HOST = "127.0.0.1"

# Multiplier for every time bound, for slow builds (sanitizers): set
# LARDER_TEST_TIME_SCALE=3 for example.
TIME_SCALE = float(os.environ.get("LARDER_TEST_TIME_SCALE", "1") or "1")


def scaled(seconds):
    """A time bound stretched by LARDER_TEST_TIME_SCALE."""
    return seconds * TIME_SCALE


# ---------------------------------------------------------------------------
# Failures and skips
# ---------------------------------------------------------------------------

class TestFailure(Exception):
    """A check failed; the message says what was expected and what came."""


class Skip(Exception):
    """The test does not apply (e.g. larder-only check against redis)."""


def fail(msg):
    raise TestFailure(msg)


def unavailable(why):
    """For a program a test needs that is missing (ZooKeeper, moto_server,
    a tool of this build): skips the test, except under CI (CI set in the
    environment), where scripts/deps.sh has installed everything and the
    build made every tool, so that a missing one fails instead of turning
    a whole file into passing skips."""
    if os.environ.get("CI"):
        raise TestFailure("needed under CI: " + why)
    raise Skip(why)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def eq(got, expected, what):
    """Fails with 'what: expected X, got Y' unless got == expected."""
    if got != expected:
        raise TestFailure("%s: expected %s, got %s"
                          % (what, _short(expected), _short(got)))


def _short(v, limit=300):
    r = repr(v)
    if len(r) > limit:
        r = r[:limit] + "...(%d chars)" % len(r)
    return r


# ---------------------------------------------------------------------------
# RESP client
# ---------------------------------------------------------------------------

class RespError(Exception):
    """An error reply (-ERR ..., !blob error). Returned, not raised, by
    Conn.read()/call(), so a test can compare it like any value."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __eq__(self, other):
        return isinstance(other, RespError) and other.message == self.message

    def __hash__(self):
        return hash(self.message)

    def __repr__(self):
        return "RespError(%r)" % self.message


class Verbatim(bytes):
    """A RESP3 verbatim string (=); .format is e.g. 'txt'."""
    format = "txt"


class RespSet(list):
    """A RESP3 set (~), kept as a list (elements may be unhashable)."""


class RespPush(list):
    """A RESP3 push message (>)."""


class ServerProtocolViolation(Exception):
    """The server sent bytes that are not valid RESP."""


class ConnectionClosed(Exception):
    """The server closed the connection (EOF or reset)."""


class _Incomplete(Exception):
    pass


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple((k, _hashable(x)) for k, x in v.items())
    return v


def parse_reply(buf, pos=0):
    """Parses one RESP2/RESP3 reply from buf at pos.

    Returns (value, end). Raises _Incomplete when more bytes are needed and
    ServerProtocolViolation on malformed input. Types: +simple -> str,
    -error -> RespError, :int -> int, $bulk -> bytes, $-1/*-1/_ -> None,
    *array -> list, ,double -> float, #bool -> bool, %map -> dict,
    ~set -> RespSet, >push -> RespPush, =verbatim -> Verbatim, (bignum ->
    int, !blob error -> RespError; |attributes are skipped.
    """
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        if len(buf) - pos > 1 << 20:
            raise ServerProtocolViolation("header line longer than 1 MiB")
        raise _Incomplete()
    if nl == pos:
        raise ServerProtocolViolation("empty reply line at offset %d" % pos)
    t = buf[pos]
    line = bytes(buf[pos + 1:nl])
    nxt = nl + 2

    def as_int(what):
        try:
            return int(line)
        except ValueError:
            raise ServerProtocolViolation("bad %s %r" % (what, line))

    def blob(n):
        if len(buf) < nxt + n + 2:
            raise _Incomplete()
        if buf[nxt + n:nxt + n + 2] != b"\r\n":
            raise ServerProtocolViolation(
                "bulk of %d bytes not followed by CRLF" % n)
        return bytes(buf[nxt:nxt + n]), nxt + n + 2

    if t == 0x2B:  # +
        return line.decode("utf-8", "replace"), nxt
    if t == 0x2D:  # -
        return RespError(line.decode("utf-8", "replace")), nxt
    if t == 0x3A:  # :
        return as_int("integer"), nxt
    if t == 0x24:  # $
        n = as_int("bulk length")
        if n < 0:
            if n != -1:
                raise ServerProtocolViolation("bulk length %d" % n)
            return None, nxt
        return blob(n)
    if t in (0x2A, 0x7E, 0x3E):  # * ~ >
        n = as_int("array length")
        if n < 0:
            if n != -1 or t != 0x2A:
                raise ServerProtocolViolation("aggregate length %d" % n)
            return None, nxt
        items = []
        p = nxt
        for _ in range(n):
            v, p = parse_reply(buf, p)
            items.append(v)
        if t == 0x7E:
            return RespSet(items), p
        if t == 0x3E:
            return RespPush(items), p
        return items, p
    if t == 0x25:  # %
        n = as_int("map length")
        if n < 0:
            raise ServerProtocolViolation("map length %d" % n)
        d = {}
        p = nxt
        for _ in range(n):
            k, p = parse_reply(buf, p)
            v, p = parse_reply(buf, p)
            d[_hashable(k)] = v
        return d, p
    if t == 0x7C:  # | attributes: skip, return the reply that follows
        n = as_int("attribute length")
        p = nxt
        for _ in range(2 * n):
            _, p = parse_reply(buf, p)
        return parse_reply(buf, p)
    if t == 0x5F:  # _
        if line:
            raise ServerProtocolViolation("null with payload %r" % line)
        return None, nxt
    if t == 0x2C:  # ,
        s = line.decode("ascii", "replace").lower()
        try:
            return float({"inf": "inf", "-inf": "-inf"}.get(s, s)), nxt
        except ValueError:
            raise ServerProtocolViolation("bad double %r" % line)
    if t == 0x23:  # #
        if line == b"t":
            return True, nxt
        if line == b"f":
            return False, nxt
        raise ServerProtocolViolation("bad boolean %r" % line)
    if t == 0x28:  # (
        return as_int("big number"), nxt
    if t == 0x3D:  # =
        data, p = blob(as_int("verbatim length"))
        if len(data) < 4 or data[3:4] != b":":
            raise ServerProtocolViolation("verbatim without format: %r"
                                          % data[:10])
        v = Verbatim(data[4:])
        v.format = data[:3].decode("ascii", "replace")
        return v, p
    if t == 0x21:  # !
        data, p = blob(as_int("blob error length"))
        return RespError(data.decode("utf-8", "replace")), p
    raise ServerProtocolViolation("unknown reply type byte %r at offset %d: %r"
                                  % (chr(t), pos, bytes(buf[pos:pos + 40])))


def _arg_bytes(a):
    if isinstance(a, (bytes, bytearray, memoryview)):
        return bytes(a)
    if isinstance(a, str):
        return a.encode("utf-8")
    if isinstance(a, (int, float)):
        return str(a).encode("ascii")
    raise TypeError("cannot send %r" % (a,))


def encode(*args):
    """One command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = _arg_bytes(a)
        parts.append(b"$%d\r\n" % len(b))
        parts.append(b)
        parts.append(b"\r\n")
    return b"".join(parts)


class Conn:
    """A blocking RESP connection with a per-read timeout."""

    def __init__(self, port, host=HOST, timeout=10.0, rcvbuf=None,
                 connect_timeout=5.0):
        self.port = port
        self.timeout = scaled(timeout)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(scaled(connect_timeout))
        try:
            self.sock.connect((host, port))
        except BaseException:
            self.sock.close()
            raise
        self.sock.settimeout(self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._pos = 0
        self.closed_by_peer = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def reset(self):
        """Closes with an RST instead of a FIN (SO_LINGER 0)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, *args):
        self.sock.sendall(encode(*args))

    def _fill(self):
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError("no complete reply from 127.0.0.1:%d within "
                               "%.1f s (have %d unparsed bytes: %r)"
                               % (self.port, self.timeout,
                                  len(self._buf) - self._pos,
                                  bytes(self._buf[self._pos:self._pos + 80])))
        except (ConnectionResetError, BrokenPipeError) as e:
            self.closed_by_peer = True
            raise ConnectionClosed("connection reset by server: %s" % e)
        if not chunk:
            self.closed_by_peer = True
            raise ConnectionClosed(
                "server closed the connection (unparsed: %r)"
                % bytes(self._buf[self._pos:self._pos + 80]))
        if self._pos and self._pos == len(self._buf):
            self._buf = bytearray(chunk)
            self._pos = 0
        else:
            if self._pos > (1 << 20):
                del self._buf[:self._pos]
                self._pos = 0
            self._buf += chunk

    def read_raw(self):
        """Reads one reply; returns (value, raw bytes of the reply)."""
        while True:
            try:
                value, end = parse_reply(self._buf, self._pos)
            except _Incomplete:
                self._fill()
                continue
            raw = bytes(self._buf[self._pos:end])
            self._pos = end
            return value, raw

    def read(self):
        """Reads one reply (errors come back as RespError values)."""
        return self.read_raw()[0]

    def call(self, *args):
        self.send(*args)
        return self.read()

    def call_raw(self, *args):
        """Sends a command and returns the raw bytes of its reply."""
        self.send(*args)
        return self.read_raw()[1]

    def pipeline(self, commands):
        """Sends all commands in one write, reads one reply per command."""
        self.sock.sendall(b"".join(encode(*c) for c in commands))
        return [self.read() for _ in commands]

    def pending(self):
        """Bytes received but not yet parsed."""
        return bytes(self._buf[self._pos:])

    def wait_closed(self, timeout=5.0):
        """True if the server closes the connection within timeout (data
        received meanwhile is kept for read()); False otherwise."""
        deadline = time.monotonic() + scaled(timeout)
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    chunk = self.sock.recv(1 << 16)
                except socket.timeout:
                    return False
                except (ConnectionResetError, BrokenPipeError):
                    self.closed_by_peer = True
                    return True
                if not chunk:
                    self.closed_by_peer = True
                    return True
                self._buf += chunk
            return False
        finally:
            try:
                self.sock.settimeout(self.timeout)
            except OSError:
                pass


def expect_error(reply, prefix, what):
    """Checks that reply is an error whose message starts with prefix."""
    if not isinstance(reply, RespError):
        fail("%s: expected an error starting %r, got %s"
             % (what, prefix, _short(reply)))
    if not reply.message.startswith(prefix):
        fail("%s: expected an error starting %r, got error %r"
             % (what, prefix, reply.message))


def text(v):
    """bytes/str/Verbatim -> str, recursively through lists and dicts."""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, list):
        return [text(x) for x in v]
    if isinstance(v, tuple):
        return tuple(text(x) for x in v)
    if isinstance(v, dict):
        return {text(k): text(x) for k, x in v.items()}
    return v


def parse_info(reply):
    """Parses an INFO reply into {field: str}; keyspace lines such as
    db0:keys=1,expires=0,avg_ttl=0 become {'keys': '1', ...} dicts.
    Section headers are collected under the key '#sections'."""
    if isinstance(reply, RespError):
        fail("INFO returned an error: %s" % reply.message)
    if not isinstance(reply, (bytes, str)):
        fail("INFO: expected a bulk or verbatim string, got %s"
             % _short(reply))
    out = {"#sections": []}
    for line in text(reply).split("\r\n"):
        if not line:
            continue
        if line.startswith("#"):
            out["#sections"].append(line[1:].strip().lower())
            continue
        if ":" not in line:
            fail("INFO: line without ':': %r" % line)
        k, v = line.split(":", 1)
        if re.match(r"^db\d+$", k):
            sub = {}
            for part in v.split(","):
                if "=" not in part:
                    fail("INFO keyspace: bad entry %r in %r" % (part, line))
                a, b = part.split("=", 1)
                sub[a] = b
            out[k] = sub
        else:
            out[k] = v
    return out


def info_int(info, field):
    """An integer INFO field, failing clearly if missing or not integer."""
    if field not in info:
        fail("INFO: field %r missing" % field)
    try:
        return int(info[field])
    except ValueError:
        fail("INFO: field %r is not an integer: %r" % (field, info[field]))


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until true (returns its value) or fails after timeout."""
    deadline = time.monotonic() + scaled(timeout)
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            fail("timed out after %.1f s waiting for %s" % (scaled(timeout),
                                                            what))
        time.sleep(interval)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

_started = []          # every Popen this process started, for cleanup
_tmpdirs = []
_keep_tmp = [False]
_libc = None


def _pdeathsig():
    # Runs in the child between fork and exec: die with the parent.
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _load_libc():
    global _libc
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        _libc = None


def _cleanup():
    for p in _started:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
    if not _keep_tmp[0]:
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def tmpdir():
    d = tempfile.mkdtemp(prefix="larder-it-")
    _tmpdirs.append(d)
    return d


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_refuses(port, timeout=1.0):
    """True if connecting to the port is refused (nothing listens)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((HOST, port))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()
    return False


# Flags larder has and redis-server does not; dropped in --redis-server mode.
_REDIS_UNSUPPORTED = {"--threads", "--proto-max-multibulk-len",
                      "--proto-inline-max-size", "--config"}

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "WARNING: ThreadSanitizer", "runtime error:",
                     "ERROR: ThreadSanitizer", "UndefinedBehaviorSanitizer")


class Server:
    """One larderd (or redis-server) process on a free port.

    args are extra command-line arguments. With pass_port=False, neither
    --port nor --bind is added (the test supplies them, e.g. in --config).
    """

    def __init__(self, opts, args=(), port=None, pass_port=True,
                 name="larderd"):
        self.opts = opts
        self.args = [str(a) for a in args]
        self.port = port if port is not None else free_port()
        self.pass_port = pass_port
        self.name = name
        self.proc = None
        self.dir = tmpdir()
        self.log_path = os.path.join(self.dir, "%s-%d.log"
                                     % (name, self.port))
        self.exit_code = None
        self.expected_exit = False
        self.stopped = False  # stop() ran: the runner need not check it

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def command(self):
        if self.opts.redis_server:
            cmd = [self.opts.redis_server]
            if self.pass_port:
                cmd += ["--port", str(self.port), "--bind", HOST]
            cmd += ["--save", "", "--appendonly", "no"]
            i = 0
            while i < len(self.args):
                a = self.args[i]
                if a in _REDIS_UNSUPPORTED:
                    i += 2
                    continue
                cmd.append(a)
                i += 1
            return cmd
        cmd = [self.opts.larderd]
        if self.pass_port:
            cmd += ["--port", str(self.port), "--bind", HOST]
        return cmd + self.args

    def start(self, wait=True, timeout=15.0):
        """Starts the process and (with wait) waits until it answers PING."""
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, cwd=self.dir, preexec_fn=_pdeathsig)
        _started.append(self.proc)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + scaled(timeout)
        last_err = None
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self.exit_code = code
                fail("%s exited with code %d before answering PING; "
                     "command: %s\nlog:\n%s"
                     % (self.name, code, " ".join(self.command()),
                        self.log_tail()))
            try:
                with Conn(self.port, timeout=2.0, connect_timeout=1.0) as c:
                    r = c.call("PING")
                    if r == "PONG":
                        return
                    last_err = "PING replied %r" % (r,)
            except (OSError, ConnectionClosed, TimeoutError,
                    ServerProtocolViolation) as e:
                last_err = repr(e)
            time.sleep(0.05)
        fail("%s on port %d did not answer PING within %.1f s (last: %s)\n"
             "log:\n%s" % (self.name, self.port, scaled(timeout), last_err,
                           self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def conn(self, **kw):
        return Conn(self.port, **kw)

    def call(self, *args):
        """One command on a fresh connection."""
        with Conn(self.port) as c:
            return c.call(*args)

    def info(self, section=None):
        with Conn(self.port) as c:
            return parse_info(c.call("INFO", section) if section
                              else c.call("INFO"))

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout):
        """Waits for exit; returns the exit code or None on timeout."""
        try:
            self.exit_code = self.proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            return None
        return self.exit_code

    def stop(self, timeout=15.0):
        """SIGTERM, bounded wait, then SIGKILL. Returns the exit code
        (negative: killed by that signal; SIGKILL after the timeout)."""
        if self.proc is None:
            return None
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            code = self.wait(timeout)
            if code is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
                self.exit_code = -signal.SIGKILL
        self.exit_code = self.proc.returncode
        try:
            self.log.close()
        except (OSError, AttributeError):
            pass
        return self.exit_code

    def stop_and_check(self, timeout=15.0):
        """Stops and fails unless the exit code is 0 and the log has no
        sanitizer report."""
        was_alive = self.alive()
        code = self.stop(timeout)
        report = self.sanitizer_report()
        if report:
            fail("%s reported a sanitizer error:\n%s" % (self.name, report))
        if not was_alive:
            fail("%s had already exited (code %s) before SIGTERM\nlog:\n%s"
                 % (self.name, code, self.log_tail()))
        if code != 0:
            fail("%s exited with code %s after SIGTERM (expected 0)\nlog:\n%s"
                 % (self.name, code, self.log_tail()))

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def sanitizer_report(self):
        t = self.log_text()
        for m in SANITIZER_MARKERS:
            i = t.find(m)
            if i >= 0:
                return t[max(0, i - 200):i + 4000]
        return None


def run_binary(opts, args, timeout=10.0):
    """Runs larderd with args to completion (e.g. --help); returns
    CompletedProcess with stdout/stderr as str."""
    p = subprocess.Popen([opts.larderd] + [str(a) for a in args],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=_pdeathsig,
                         cwd=tmpdir())
    _started.append(p)
    try:
        out, err = p.communicate(timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        fail("larderd %s did not exit within %.1f s (stdout %r, stderr %r)"
             % (" ".join(map(str, args)), scaled(timeout), out[-500:],
                err[-500:]))
    return subprocess.CompletedProcess(
        p.args, p.returncode, out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"))


def redis_cli(port, *args, input=None, timeout=30.0, flags=()):
    """Runs redis-cli -h 127.0.0.1 -p PORT [flags] args...; returns a
    CompletedProcess (stdout and stderr as bytes)."""
    cmd = ["redis-cli", "-h", HOST, "-p", str(port)] + list(flags) + \
        [str(a) if not isinstance(a, bytes) else a for a in args]
    return _run_tool(cmd, input, timeout)


def redis_benchmark(port, *args, timeout=120.0):
    cmd = ["redis-benchmark", "-h", HOST, "-p", str(port)] + \
        [str(a) for a in args]
    return _run_tool(cmd, None, timeout)


def _run_tool(cmd, input, timeout):
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE if input is not None
                         else subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=_pdeathsig)
    _started.append(p)
    try:
        out, err = p.communicate(input=input, timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        fail("%s did not finish within %.1f s\nstdout tail: %r\nstderr "
             "tail: %r" % (" ".join(map(str, cmd[:8])), scaled(timeout),
                           out[-500:], err[-500:]))
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--larderd", help="path to the larderd binary")
    g.add_argument("--redis-server",
                   help="run against redis-server instead (to check the "
                        "Redis-semantics expectations); larder-only checks "
                        "are skipped")
    ap.add_argument("--only", action="append", default=[],
                    help="run only tests whose name contains this")
    ap.add_argument("--seed", type=int, default=None,
                    help="random seed (default: fixed per test file)")
    opts = ap.parse_args(argv)
    for attr in ("larderd", "redis_server"):
        path = getattr(opts, attr)
        if path:
            path = os.path.abspath(path)
            if not os.access(path, os.X_OK):
                ap.error("%s is not an executable file" % path)
            setattr(opts, attr, path)
    return opts


class Context:
    """What a test function receives: the options and a way to start
    servers that the runner stops (and checks) after the test."""

    def __init__(self, opts):
        self.opts = opts
        self.is_redis = bool(opts.redis_server)
        self._servers = []
        self._shared = None
        self._shared_args = None

    def larder_only(self, why="larder-specific behaviour"):
        if self.is_redis:
            raise Skip("against redis-server: " + why)

    def server(self, args=(), wait=True, **kw):
        """Starts a server for this test; stopped and checked after it.
        Retries on another port if the picked one was taken meanwhile."""
        for attempt in range(3):
            s = Server(self.opts, args, **kw)
            self._servers.append(s)
            try:
                return s.start(wait=wait)
            except TestFailure:
                log = s.log_text().lower()
                if attempt < 2 and kw.get("port") is None and (
                        "address already in use" in log or
                        "eaddrinuse" in log):
                    self._servers.remove(s)
                    s.stop()
                    continue
                raise
        raise AssertionError("unreachable")

    def shared(self, args=()):
        """A server shared by the tests of a file (started on first use,
        restarted if a previous test killed it)."""
        if self._shared is None or not self._shared.alive():
            for attempt in range(3):
                self._shared = Server(self.opts, args, name="larderd-shared")
                try:
                    self._shared.start()
                    break
                except TestFailure:
                    if attempt == 2 or "already in use" not in \
                            self._shared.log_text().lower():
                        raise
                    self._shared.stop()
        return self._shared

    def _stop_test_servers(self):
        problems = []
        for s in self._servers:
            if s.expected_exit or s.proc is None or s.stopped:
                s.stop()
                continue
            try:
                s.stop_and_check()
            except TestFailure as e:
                problems.append(str(e))
        self._servers = []
        return problems


def _where(e):
    """'Type: message' plus the test-file lines that led to e."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if os.path.basename(f.filename) != "larder_harness.py"]
    at = "".join("\n  at %s:%d: %s" % (os.path.basename(f.filename),
                                        f.lineno, f.line)
                 for f in frames[-3:])
    return "%s: %s%s" % (type(e).__name__, e, at)


class _Budget(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Budget()


def main(tests, budget=100.0):
    """Runs test functions (each takes a Context) in order and exits 0 if
    all passed or were skipped, 1 otherwise. budget bounds the whole file
    (scaled by LARDER_TEST_TIME_SCALE)."""
    opts = parse_args()
    _load_libc()
    ctx = Context(opts)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
    signal.alarm(max(1, int(scaled(budget))))
    results = []
    start_all = time.monotonic()
    selected = [t for t in tests
                if not opts.only or any(o in t.__name__ for o in opts.only)]
    try:
        for t in selected:
            name = t.__name__
            t0 = time.monotonic()
            status, detail = "PASS", ""
            try:
                t(ctx)
            except Skip as e:
                status, detail = "SKIP", str(e)
            except TestFailure as e:
                status, detail = "FAIL", str(e)
            except _Budget:
                status, detail = "FAIL", ("time budget of %.0f s for the "
                                          "whole file ran out"
                                          % scaled(budget))
            except (TimeoutError, ConnectionClosed,
                    ServerProtocolViolation, OSError) as e:
                status, detail = "FAIL", _where(e)
            except Exception:
                status, detail = "FAIL", traceback.format_exc()
            problems = ctx._stop_test_servers()
            if ctx._shared is not None and not ctx._shared.alive():
                code = ctx._shared.proc.poll()
                problems.append("shared server died (exit code %s) during "
                                "this test\nlog:\n%s"
                                % (code, ctx._shared.log_tail()))
                ctx._shared.stop()
                ctx._shared = None
            if problems and status != "FAIL":
                status = "FAIL"
            if problems:
                detail = (detail + "\n" if detail else "") + \
                    "\n".join(problems)
            dt = time.monotonic() - t0
            print("%-4s %s (%.2f s)%s" % (status, name, dt,
                                          ("\n     " + detail.replace(
                                              "\n", "\n     "))
                                          if detail else ""), flush=True)
            results.append((name, status, detail))
            if detail.startswith("time budget"):
                break
        if ctx._shared is not None:
            try:
                ctx._shared.stop_and_check()
            except TestFailure as e:
                print("FAIL shared server shutdown\n     %s"
                      % str(e).replace("\n", "\n     "), flush=True)
                results.append(("shared server shutdown", "FAIL", str(e)))
    except _Budget:
        results.append(("(budget)", "FAIL", "time budget ran out"))
        print("FAIL time budget of %.0f s ran out" % scaled(budget))
    finally:
        signal.alarm(0)
    failed = [r for r in results if r[1] == "FAIL"]
    passed = sum(1 for r in results if r[1] == "PASS")
    skipped = sum(1 for r in results if r[1] == "SKIP")
    print("%s: %d passed, %d failed, %d skipped in %.1f s"
          % (os.path.basename(sys.argv[0]), passed, len(failed), skipped,
             time.monotonic() - start_all), flush=True)
    if failed:
        _keep_tmp[0] = True
        print("failed: " + ", ".join(r[0] for r in failed))
        print("server logs kept under: " + ", ".join(_tmpdirs[:5]))
        sys.exit(1)
    sys.exit(0)


def rng(ctx, default_seed):
    """A random.Random seeded from --seed or the file's fixed seed."""
    return random.Random(ctx.opts.seed if ctx.opts.seed is not None
                         else default_seed)
