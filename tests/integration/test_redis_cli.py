#!/usr/bin/env python3
"""larderd driven by the stock Redis tools from Debian's redis-tools:
redis-cli one-shot commands, `redis-cli --pipe` mass insertion, INFO,
RESP3 mode (`redis-cli -3`), and short redis-benchmark runs (plain,
pipelined, and a custom MGET command)."""

import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402


def need(tool):
    if shutil.which(tool) is None:
        h.fail("%s is not installed (Debian package redis-tools)" % tool)


def cli(srv, *args, **kw):
    """redis-cli output (stdout, stripped of the final newline); fails on
    a non-zero exit status."""
    r = h.redis_cli(srv.port, *args, **kw)
    if r.returncode != 0:
        h.fail("redis-cli %s exited %d: stdout=%r stderr=%r"
               % (" ".join(map(str, args)), r.returncode, r.stdout[-300:],
                  r.stderr[-300:]))
    return r.stdout.decode("utf-8", "replace").rstrip("\n")


def test_cli_basic(ctx):
    need("redis-cli")
    srv = ctx.shared()
    cli(srv, "FLUSHALL")
    eq(cli(srv, "PING"), "PONG", "redis-cli PING")
    eq(cli(srv, "SET", "greeting", "hello world"), "OK", "redis-cli SET")
    eq(cli(srv, "GET", "greeting"), "hello world", "redis-cli GET")
    eq(cli(srv, "GET", "missing"), "", "redis-cli GET missing (no tty)")
    eq(cli(srv, "EXISTS", "greeting", "missing"), "1", "redis-cli EXISTS")
    eq(cli(srv, "MSET", "a", "1", "b", "2"), "OK", "redis-cli MSET")
    eq(cli(srv, "MGET", "a", "missing", "b"), "1\n\n2", "redis-cli MGET")
    eq(cli(srv, "EXPIRE", "a", "100"), "1", "redis-cli EXPIRE")
    ttl = cli(srv, "TTL", "a")
    check(ttl.isdigit() and 98 <= int(ttl) <= 100,
          "redis-cli TTL a: expected ~100, got %r" % ttl)
    eq(cli(srv, "DEL", "a", "b", "greeting"), "3", "redis-cli DEL")
    eq(cli(srv, "DBSIZE"), "0", "redis-cli DBSIZE")
    out = cli(srv, "NOSUCHCOMMAND")
    check("unknown command" in out.lower(),
          "redis-cli NOSUCHCOMMAND should print the error, got %r" % out)
    eq(cli(srv, "CONFIG", "GET", "maxmemory"), "maxmemory\n0",
       "redis-cli CONFIG GET maxmemory")
    # Arguments from stdin (-x) and binary-ish data with spaces.
    eq(cli(srv, "-x", "SET", "fromstdin", input=b"line1\nline2"), "OK",
       "redis-cli -x SET")
    eq(cli(srv, "GET", "fromstdin"), "line1\nline2", "GET of -x value")
    # Repeat (-r) and interval (-i) options issue the command repeatedly.
    eq(cli(srv, "-r", "3", "PING"), "PONG\nPONG\nPONG", "redis-cli -r 3 PING")


def test_cli_commands_from_stdin(ctx):
    """Without a command, redis-cli reads one command per stdin line."""
    need("redis-cli")
    srv = ctx.shared()
    cli(srv, "FLUSHALL")
    script = (b"SET s1 one\nSET s2 \"two words\"\nGET s1\nGET s2\n"
              b"MGET s1 nokey s2\nDBSIZE\n")
    out = cli(srv, input=script)
    eq(out.split("\n"), ["OK", "OK", "one", "two words", "one", "",
                          "two words", "2"],
       "redis-cli with commands on stdin")


def test_cli_info(ctx):
    need("redis-cli")
    srv = ctx.shared()
    out = cli(srv, "INFO")
    for needle in ("# Server", "redis_version:", "tcp_port:%d" % srv.port,
                   "# Clients", "connected_clients:", "# Memory",
                   "used_memory:", "# Stats", "keyspace_hits:",
                   "# Keyspace"):
        check(needle in out, "redis-cli INFO lacks %r:\n%s" % (needle, out))
    out = cli(srv, "INFO", "memory")
    check("used_memory:" in out and "redis_version" not in out,
          "redis-cli INFO memory should contain only the memory section:\n"
          + out)


def test_cli_pipe_mass_insert(ctx):
    need("redis-cli")
    srv = ctx.shared()
    cli(srv, "FLUSHALL")
    n = 10000
    data = b"".join(h.encode("SET", "mass:%05d" % i, "value-%d" % i)
                    for i in range(n))
    r = h.redis_cli(srv.port, "--pipe", input=data, timeout=60)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    eq(r.returncode, 0, "redis-cli --pipe exit status (output: %r)"
       % out[-500:])
    m = re.search(r"errors:\s*(\d+),\s*replies:\s*(\d+)", out)
    check(m, "redis-cli --pipe did not print its summary: %r" % out[-500:])
    eq((int(m.group(1)), int(m.group(2))), (0, n),
       "redis-cli --pipe (errors, replies)")
    eq(cli(srv, "DBSIZE"), str(n), "DBSIZE after --pipe of %d SETs" % n)
    eq(cli(srv, "GET", "mass:09999"), "value-9999", "GET a piped key")
    eq(cli(srv, "GET", "mass:00000"), "value-0", "GET the first piped key")
    # Mass insertion with EX, some errors mixed in, counted by redis-cli.
    data = b"".join(h.encode("SET", "ttl:%d" % i, "v", "EX", "1000")
                    for i in range(1000))
    data += h.encode("SET", "bad", "v", "EX", "notanumber")
    r = h.redis_cli(srv.port, "--pipe", input=data, timeout=60)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    m = re.search(r"errors:\s*(\d+),\s*replies:\s*(\d+)", out)
    check(m, "redis-cli --pipe did not print its summary: %r" % out[-500:])
    eq((int(m.group(1)), int(m.group(2))), (1, 1001),
       "redis-cli --pipe with one bad command (errors, replies)")
    info = h.parse_info(h.Conn(srv.port).call("INFO", "keyspace"))
    check("db0" in info, "INFO keyspace lacks db0 after mass insert")
    eq((info["db0"].get("keys"), info["db0"].get("expires")),
       (str(n + 1000), "1000"), "INFO db0 (keys, expires)")


def test_cli_resp3(ctx):
    need("redis-cli")
    srv = ctx.shared()
    cli(srv, "FLUSHALL")
    eq(cli(srv, "SET", "k", "v", flags=["-3"]), "OK", "redis-cli -3 SET")
    eq(cli(srv, "GET", "k", flags=["-3"]), "v", "redis-cli -3 GET")
    eq(cli(srv, "GET", "missing", flags=["-3"]), "",
       "redis-cli -3 GET missing")
    # redis-cli prints a RESP3 map as "key value" lines.
    eq(cli(srv, "CONFIG", "GET", "maxmemory", flags=["-3"]), "maxmemory 0",
       "redis-cli -3 CONFIG GET maxmemory (map)")
    eq(cli(srv, "CONFIG", "GET", "maxmemory", flags=["-3", "--no-raw"]),
       '1# "maxmemory" => "0"', "redis-cli -3 --no-raw CONFIG GET (map)")
    out = cli(srv, "HELLO", "3", flags=["-3"])
    check("proto 3" in out.split("\n"),
          "redis-cli -3 HELLO 3 should show 'proto 3':\n%s" % out)
    out = cli(srv, "INFO", "server", flags=["-3"])
    check("redis_version:" in out, "redis-cli -3 INFO server:\n%s" % out)
    # --no-raw shows the types redis-cli decoded.
    out = cli(srv, "GET", "missing", flags=["-3", "--no-raw"])
    eq(out, "(nil)", "redis-cli -3 --no-raw GET missing")
    out = cli(srv, "EXISTS", "k", flags=["-3", "--no-raw"])
    eq(out, "(integer) 1", "redis-cli -3 --no-raw EXISTS k")


def _rps_lines(out, names):
    found = {}
    for line in out.replace("\r", "\n").split("\n"):
        m = re.match(r"^\s*([A-Za-z_ ()0-9-]+?):\s*([\d.]+)\s+requests per "
                     r"second", line)
        if m:
            found[m.group(1).strip().upper()] = float(m.group(2))
    for n in names:
        check(n in found and found[n] > 0,
              "redis-benchmark output has no positive '%s: ... requests "
              "per second' line; parsed %r from:\n%s"
              % (n, found, out[-1500:]))
    return found


def test_benchmark(ctx):
    need("redis-benchmark")
    srv = ctx.shared()
    r = h.redis_benchmark(srv.port, "-n", "2000", "-c", "10", "-t",
                          "set,get,mset", "-q", timeout=90)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    eq(r.returncode, 0, "redis-benchmark -t set,get,mset exit status "
       "(output %r)" % out[-800:])
    _rps_lines(out, ["SET", "GET", "MSET (10 KEYS)"])
    r = h.redis_benchmark(srv.port, "-n", "5000", "-c", "4", "-P", "16",
                          "-r", "1000", "-d", "100", "-t", "set,get", "-q",
                          timeout=90)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    eq(r.returncode, 0, "redis-benchmark -P 16 exit status (output %r)"
       % out[-800:])
    _rps_lines(out, ["SET", "GET"])
    # A custom command: MGET over random keys.
    r = h.redis_benchmark(srv.port, "-n", "2000", "-c", "5", "-r", "1000",
                          "-q", "MGET", "key:__rand_int__",
                          "key:__rand_int__", "key:__rand_int__", timeout=90)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    eq(r.returncode, 0, "redis-benchmark MGET exit status (output %r)"
       % out[-800:])
    check("requests per second" in out,
          "redis-benchmark MGET printed no rate:\n%s" % out[-800:])
    with srv.conn() as c:
        eq(c.call("PING"), "PONG", "server alive after redis-benchmark")
        check(c.call("DBSIZE") > 0, "redis-benchmark SETs stored keys")


TESTS = [test_cli_basic, test_cli_commands_from_stdin, test_cli_info,
         test_cli_pipe_mass_insert, test_cli_resp3, test_benchmark]

if __name__ == "__main__":
    h.main(TESTS, budget=100)
