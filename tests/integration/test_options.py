#!/usr/bin/env python3
"""larderd's command line and config file: --help lists every option with
its default, unknown flags and bad values are refused, size suffixes
(kb/mb/gb) are understood, --config reads Redis-style lines and command-line
flags override it, and the protocol limits set by flags are enforced."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check, expect_error  # noqa: E402

OPTIONS = {
    # name: accepted spellings of its default in --help
    "port": ["7379"],
    "bind": ["127.0.0.1"],
    "threads": [],
    "maxmemory": ["0"],
    "maxmemory-policy": ["noeviction"],
    "config": [],
    "proto-max-bulk-len": ["512mb", "536870912"],
    "proto-max-multibulk-len": ["1048576"],
    "proto-inline-max-size": ["64kb", "65536"],
    "client-query-buffer-limit": ["1gb", "1073741824"],
    "maxclients": ["10000"],
    "hz": ["10"],
    "loglevel": ["notice"],
    "shutdown-timeout": [],
}


def test_help(ctx):
    ctx.larder_only("--help output")
    r = h.run_binary(ctx.opts, ["--help"])
    eq(r.returncode, 0, "larderd --help exit code")
    out = r.stdout
    check(out.strip(), "larderd --help printed nothing on stdout (stderr: "
          "%r)" % r.stderr[:300])
    lines = out.splitlines()
    for name, defaults in OPTIONS.items():
        flag = "--" + name
        mine = [ln for ln in lines if flag in ln.split() or
                any(tok.startswith(flag + "=") or tok == flag + ","
                    for tok in ln.split())]
        check(mine, "--help does not list %s:\n%s" % (flag, out))
        if defaults:
            # The default is shown within the option's entry.
            i = lines.index(mine[0])
            near = " ".join(lines[i:i + 3])
            check("default" in near.lower() and
                  any(re.search(r"(?<![\w.])%s(?![\w.])" % re.escape(d),
                                near.split("default", 1)[-1])
                      for d in defaults),
                  "--help: default of %s (one of %s) not shown near %r"
                  % (flag, defaults, near))


def test_unknown_flag(ctx):
    ctx.larder_only("larderd flag parsing")
    r = h.run_binary(ctx.opts, ["--no-such-flag", "1"])
    check(r.returncode != 0, "larderd --no-such-flag should exit non-zero, "
          "exited 0")
    check("no-such-flag" in r.stderr,
          "error for --no-such-flag should name it on stderr; stderr=%r "
          "stdout=%r" % (r.stderr[-300:], r.stdout[-300:]))


def test_bad_values(ctx):
    ctx.larder_only("larderd flag parsing")
    port = h.free_port()
    for args in (["--port", "abc"], ["--port", "70000"],
                 ["--maxmemory-policy", "bogus"], ["--maxmemory", "10xb"],
                 ["--maxmemory", "-5"], ["--loglevel", "loud"],
                 ["--hz", "x"], ["--maxclients", "many"],
                 ["--config", "/nonexistent/larder.conf"], ["--port"]):
        r = h.run_binary(ctx.opts, ["--bind", "127.0.0.1"] +
                         (["--port", str(port)] if args[0] != "--port"
                          else []) + args)
        check(r.returncode != 0, "larderd %s should exit non-zero, exited 0"
              % " ".join(args))
        check(r.stderr.strip(), "larderd %s exited %d without an error "
              "message on stderr" % (" ".join(args), r.returncode))


def test_size_suffixes(ctx):
    for spelled, expected in (("3mb", 3 * 1024 * 1024),
                              ("1gb", 1024 ** 3),
                              ("512kb", 512 * 1024),
                              ("2097152", 2097152)):
        srv = ctx.server(["--maxmemory", spelled])
        eq(srv.call("CONFIG", "GET", "maxmemory"),
           [b"maxmemory", str(expected).encode()],
           "CONFIG GET maxmemory after --maxmemory %s" % spelled)
        eq(h.info_int(srv.info("memory"), "maxmemory"), expected,
           "INFO maxmemory after --maxmemory %s" % spelled)
        srv.stop_and_check()


def test_all_flags_accepted(ctx):
    srv = ctx.server(["--threads", "2", "--maxmemory", "20mb",
                      "--maxmemory-policy", "volatile-ttl",
                      "--proto-max-bulk-len", "2mb",
                      "--proto-max-multibulk-len", "5000",
                      "--proto-inline-max-size", "8kb",
                      "--client-query-buffer-limit", "64mb",
                      "--maxclients", "77", "--hz", "20",
                      "--loglevel", "warning", "--shutdown-timeout", "5"])
    with srv.conn() as c:
        r = c.call("CONFIG", "GET", "*")
        check(isinstance(r, list), "CONFIG GET * should be an array: %r"
              % (r,))
        d = dict(zip(h.text(r[0::2]), h.text(r[1::2])))
        for name, val in (("maxmemory", "20971520"),
                          ("maxmemory-policy", "volatile-ttl"),
                          ("proto-max-bulk-len", "2097152"),
                          ("client-query-buffer-limit", "67108864"),
                          ("maxclients", "77"), ("hz", "20"),
                          ("port", str(srv.port)), ("bind", "127.0.0.1")):
            eq(d.get(name), val, "CONFIG GET * value of %s" % name)
        eq(c.call("SET", "a", "b"), "OK", "SET with all flags given")


def test_config_file(ctx):
    ctx.larder_only("--config file")
    port = h.free_port()
    d = h.tmpdir()
    path = os.path.join(d, "larder.conf")
    with open(path, "w") as f:
        f.write("# larder test config\n"
                "\n"
                "port %d\n"
                "bind 127.0.0.1\n"
                "   # indented comment\n"
                "maxmemory 5mb\n"
                "maxmemory-policy allkeys-random\n"
                "hz 12\n"
                "maxclients 99\n" % port)
    srv = ctx.server(["--config", path, "--maxmemory", "6mb"], port=port,
                     pass_port=False)
    with srv.conn() as c:
        eq(c.call("CONFIG", "GET", "maxmemory"), [b"maxmemory", b"6291456"],
           "command-line --maxmemory 6mb overrides the file's 5mb")
        eq(c.call("CONFIG", "GET", "maxmemory-policy"),
           [b"maxmemory-policy", b"allkeys-random"],
           "maxmemory-policy from the config file")
        eq(c.call("CONFIG", "GET", "hz"), [b"hz", b"12"], "hz from file")
        eq(c.call("CONFIG", "GET", "maxclients"), [b"maxclients", b"99"],
           "maxclients from file")
        eq(c.call("CONFIG", "GET", "port"), [b"port", str(port).encode()],
           "port from file")


def test_config_file_bad_directive(ctx):
    ctx.larder_only("--config file")
    d = h.tmpdir()
    path = os.path.join(d, "bad.conf")
    with open(path, "w") as f:
        f.write("port %d\nno-such-directive 1\n" % h.free_port())
    r = h.run_binary(ctx.opts, ["--config", path])
    check(r.returncode != 0, "a config file with an unknown directive "
          "should be refused (as Redis does), larderd exited 0")
    check("no-such-directive" in r.stderr, "error should name the bad "
          "directive; stderr=%r" % r.stderr[-300:])


def test_proto_max_bulk_len(ctx):
    srv = ctx.server(["--proto-max-bulk-len", "1mb"])
    with srv.conn() as c:
        eq(c.call("SET", "small", b"x" * (1024 * 1024 - 10)), "OK",
           "SET a value just under --proto-max-bulk-len 1mb")
        c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
        expect_error(c.read(), "ERR Protocol error",
                     "bulk of 2000000 bytes over --proto-max-bulk-len 1mb")
        check(c.wait_closed(5), "connection should be closed after the "
              "protocol error")
    eq(srv.call("PING"), "PONG", "server serves after protocol error")


def test_proto_max_multibulk_len(ctx):
    ctx.larder_only("--proto-max-multibulk-len is larder's")
    srv = ctx.server(["--proto-max-multibulk-len", "10"])
    with srv.conn() as c:
        eq(c.call("MGET", *["k%d" % i for i in range(9)]), [None] * 9,
           "MGET with 10 arguments (at the limit)")
        c.send(*(["MGET"] + ["k%d" % i for i in range(20)]))
        expect_error(c.read(), "ERR Protocol error",
                     "21 arguments over --proto-max-multibulk-len 10")
        check(c.wait_closed(5), "connection should be closed after the "
              "protocol error")
    eq(srv.call("PING"), "PONG", "server serves after protocol error")


def test_proto_inline_max_size(ctx):
    ctx.larder_only("--proto-inline-max-size is larder's")
    srv = ctx.server(["--proto-inline-max-size", "1kb"])
    with srv.conn() as c:
        c.send_raw(b"ECHO " + b"a" * 900 + b"\r\n")
        eq(c.read(), b"a" * 900, "inline ECHO of 905 bytes under 1kb")
        c.send_raw(b"ECHO " + b"a" * 3000)
        expect_error(c.read(), "ERR Protocol error",
                     "inline line of 3005 bytes over 1kb")
        check(c.wait_closed(5), "connection should be closed after the "
              "protocol error")
    eq(srv.call("PING"), "PONG", "server serves after protocol error")


def test_loglevels_and_threads(ctx):
    for args in (["--loglevel", "debug", "--threads", "1"],
                 ["--loglevel", "verbose", "--threads", "8"],
                 ["--loglevel", "notice"], ["--loglevel", "warning"]):
        srv = ctx.server(args)
        with srv.conn() as c:
            eq(c.call("SET", "a", "1"), "OK", "SET with %s" % " ".join(args))
            eq(c.call("GET", "a"), b"1", "GET with %s" % " ".join(args))
        srv.stop_and_check()


TESTS = [test_help, test_unknown_flag, test_bad_values, test_size_suffixes,
         test_all_flags_accepted, test_config_file,
         test_config_file_bad_directive, test_proto_max_bulk_len,
         test_proto_max_multibulk_len, test_proto_inline_max_size,
         test_loglevels_and_threads]

if __name__ == "__main__":
    h.main(TESTS, budget=90)
