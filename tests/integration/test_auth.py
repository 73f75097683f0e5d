#!/usr/bin/env python3
"""Authentication on a node: protected mode refuses a public bind without a
password; -NOAUTH before AUTH; AUTH password, AUTH user password and HELLO 3
AUTH; -WRONGPASS and the auth_failures counter; reader and admin users from
an ACL file (-NOPERM for a reader's writes and admin commands); SIGHUP
reloading the ACL file and the config file; CONFIG SET requirepass;
redis-cli -a and --user/--pass; larderd --hash-password; and, without any
password, the node answers everyone as before.

Servers bind 127.0.0.1, or 0.0.0.0 to check protected mode; every
connection goes to 127.0.0.1."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check, expect_error  # noqa: E402

NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
ITER = 1000  # the cheapest count a hash may name: keeps AUTH fast here


def noperm(user, cmd):
    return "NOPERM User %s has no permissions to run the '%s' command" % (
        user, cmd)


def pbkdf2_line(user, role, password, salt=None):
    """An ACL file line with a hash computed here, independently of
    larderd."""
    salt = salt if salt is not None else os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITER, 32)
    return "user %s %s pbkdf2-sha256$%d$%s$%s\n" % (user, role, ITER,
                                                    salt.hex(), dk.hex())


def write_acl(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("# larder users\n" + "".join(lines))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class AuthServer(h.Server):
    """A server that may require AUTH: -NOAUTH to PING means it is up."""

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + h.scaled(timeout)
        last = None
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self.exit_code = code
                h.fail("%s exited with code %d before answering; log:\n%s"
                       % (self.name, code, self.log_tail()))
            try:
                with h.Conn(self.port, timeout=2.0, connect_timeout=1.0) as c:
                    r = c.call("PING")
                    if r == "PONG" or r == h.RespError(NOAUTH):
                        return
                    last = r
            except (OSError, h.ConnectionClosed, TimeoutError) as e:
                last = e
            time.sleep(0.05)
        h.fail("%s did not answer within %.1f s (last: %r); log:\n%s"
               % (self.name, h.scaled(timeout), last, self.log_tail()))


def start(ctx, args, bind=None):
    """Starts larderd with args (on 127.0.0.1 unless bind is given); the
    runner stops and checks it after the test."""
    port = h.free_port()
    s = AuthServer(ctx.opts, ["--port", port, "--bind", bind or h.HOST,
                              "--threads", "2", "--hash-iterations", ITER]
                   + list(args), port=port, pass_port=False)
    ctx._servers.append(s)
    return s.start()


def authed(srv, *cred):
    """A connection that has sent AUTH cred... successfully."""
    c = srv.conn()
    eq(c.call("AUTH", *cred), "OK", "AUTH %s" % cred[0])
    return c


def test_protected_mode(ctx):
    ctx.larder_only("protected mode")
    port = h.free_port()
    r = h.run_binary(ctx.opts, ["--bind", "0.0.0.0", "--port", port,
                                "--threads", "1"])
    check(r.returncode != 0, "a node bound to 0.0.0.0 without a password "
          "must refuse to start; exit code %d" % r.returncode)
    out = r.stdout + r.stderr
    for words in ("protected mode", "0.0.0.0", "--requirepass",
                  "--acl-file", "--protected-mode no"):
        check(words in out, "the refusal should mention %r: %r"
              % (words, out[-600:]))
    check(h.port_refuses(port), "nothing may listen after the refusal")

    # With a password, or protected mode off, it starts.
    srv = start(ctx, ["--requirepass", "pw"], bind="0.0.0.0")
    with srv.conn() as c:
        eq(c.call("PING"), h.RespError(NOAUTH), "PING before AUTH")
        eq(c.call("AUTH", "pw"), "OK", "AUTH on 0.0.0.0")
        eq(c.call("PING"), "PONG", "PING after AUTH")
        # Removing the only password would leave it open: refused.
        expect_error(c.call("CONFIG", "SET", "requirepass", ""),
                     "ERR CONFIG SET failed: protected mode",
                     "CONFIG SET requirepass '' on 0.0.0.0")
    eq(srv.call("PING"), h.RespError(NOAUTH), "still protected")
    srv.stop_and_check()
    srv = start(ctx, ["--protected-mode", "no"], bind="0.0.0.0")
    eq(srv.call("PING"), "PONG", "protected-mode no lets clients in")
    srv.stop_and_check()
    d = h.tmpdir()
    acl = os.path.join(d, "users.acl")
    write_acl(acl, [pbkdf2_line("ops", "admin", "opspw")])
    srv = start(ctx, ["--acl-file", acl], bind="0.0.0.0")
    with authed(srv, "ops", "opspw") as c:
        eq(c.call("SET", "k", "v"), "OK", "SET by an admin on 0.0.0.0")


def test_noauth_and_auth(ctx):
    ctx.larder_only("larder's auth options")
    srv = start(ctx, ["--requirepass", "s3cret"])
    with srv.conn() as c:
        for cmd in (["PING"], ["GET", "k"], ["SET", "k", "v"], ["INFO"],
                    ["CONFIG", "GET", "maxmemory"], ["CLIENT", "ID"]):
            eq(c.call(*cmd), h.RespError(NOAUTH), "%s before AUTH" % cmd[0])
        expect_error(c.call("HELLO", "3"), "NOAUTH HELLO must be called",
                     "HELLO without AUTH")
        eq(c.call("AUTH", "wrong"), h.RespError(WRONGPASS), "wrong password")
        eq(c.call("AUTH", "default", "wrong"), h.RespError(WRONGPASS),
           "wrong password for default")
        eq(c.call("AUTH", "nobody", "s3cret"), h.RespError(WRONGPASS),
           "unknown user")
        eq(c.call("GET", "k"), h.RespError(NOAUTH), "still unauthenticated")
        expect_error(c.call("AUTH", "a", "b", "c"), "ERR syntax error",
                     "AUTH with 3 arguments")
        eq(c.call("AUTH", "s3cret"), "OK", "AUTH password")
        eq(c.call("SET", "k", "v"), "OK", "SET after AUTH")
        eq(c.call("GET", "k"), b"v", "GET after AUTH")
        # A wrong AUTH later leaves the client logged in.
        eq(c.call("AUTH", "nope"), h.RespError(WRONGPASS), "wrong AUTH")
        eq(c.call("GET", "k"), b"v", "still logged in after a wrong AUTH")
        info = h.parse_info(c.call("INFO", "stats"))
        eq(h.info_int(info, "auth_failures"), 4, "INFO auth_failures")
    with authed(srv, "default", "s3cret") as c:
        eq(c.call("GET", "k"), b"v", "AUTH default password")
        r = c.call("CONFIG", "GET", "requirepass")
        check(isinstance(r, list) and len(r) == 2 and
              r[1].startswith(b"pbkdf2-sha256$") and b"s3cret" not in r[1],
              "CONFIG GET requirepass should show a hash, not the password: "
              "%r" % (r,))
    with srv.conn() as c:
        eq(c.call("HELLO", "3", "AUTH", "default", "bad"),
           h.RespError(WRONGPASS), "HELLO 3 AUTH with a wrong password")
        eq(c.call("GET", "k"), h.RespError(NOAUTH), "HELLO failed: no auth")
        r = c.call("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME",
                   "me")
        check(isinstance(r, dict) and r.get(b"proto") == 3,
              "HELLO 3 AUTH: expected a RESP3 map with proto 3, got %r"
              % (r,))
        eq(c.call("CLIENT", "GETNAME"), b"me", "HELLO's SETNAME")
        eq(c.call("GET", "k"), b"v", "GET after HELLO AUTH")
    # QUIT is allowed before AUTH.
    with srv.conn() as c:
        eq(c.call("QUIT"), "OK", "QUIT before AUTH")
        check(c.wait_closed(5), "QUIT closes the connection")
    # An anonymous client cannot send large requests.
    with srv.conn() as c:
        c.send("AUTH", "x" * 20000)
        expect_error(c.read(), "ERR Protocol error",
                     "20 kB argument before AUTH")
        check(c.wait_closed(5), "closed after the oversized request")
    with authed(srv, "s3cret") as c:
        eq(c.call("SET", "big", "x" * 20000), "OK", "20 kB value after AUTH")


def test_acl_roles(ctx):
    ctx.larder_only("larder's ACL file")
    d = h.tmpdir()
    acl = os.path.join(d, "users.acl")
    write_acl(acl, [pbkdf2_line("rita", "reader", "ritapw"),
                    pbkdf2_line("adam", "admin", "adampw")])
    srv = start(ctx, ["--acl-file", acl])
    with srv.conn() as c:
        eq(c.call("AUTH", "ritapw"), h.RespError(WRONGPASS),
           "AUTH password: no default user in an ACL file")
        eq(c.call("AUTH", "rita", "adampw"), h.RespError(WRONGPASS),
           "another user's password")
    with authed(srv, "adam", "adampw") as a:
        eq(a.call("SET", "k", "v"), "OK", "admin SET")
        eq(a.call("MSET", "x", "1", "y", "2"), "OK", "admin MSET")
        eq(a.call("CONFIG", "SET", "maxmemory", "0"), "OK",
           "admin CONFIG SET")
        eq(a.call("CONFIG", "GET", "maxmemory"), [b"maxmemory", b"0"],
           "admin CONFIG GET")
    with authed(srv, "rita", "ritapw") as r:
        for cmd, want in ((["GET", "k"], b"v"), (["MGET", "k", "x"],
                                                  [b"v", b"1"]),
                          (["EXISTS", "k"], 1), (["TTL", "k"], -1),
                          (["PTTL", "k"], -1), (["DBSIZE"], 3),
                          (["PING"], "PONG"), (["ECHO", "e"], b"e"),
                          (["SELECT", "0"], "OK")):
            eq(r.call(*cmd), want, "reader %s" % cmd[0])
        for cmd in (["INFO", "stats"], ["COMMAND", "COUNT"], ["CLIENT", "ID"],
                    ["LARDER.ACTIVE"], ["LARDER.VERSIONS", "t"],
                    ["T.INFO", "t"], ["T.GET", "t", "k"]):
            got = r.call(*cmd)
            check(not (isinstance(got, h.RespError) and
                       got.message.startswith("NOPERM")),
                  "a reader may run %s, got %r" % (cmd[0], got))
        for cmd, name in ((["SET", "k", "w"], "set"),
                          (["DEL", "k"], "del"),
                          (["MSET", "a", "1"], "mset"),
                          (["EXPIRE", "k", "10"], "expire"),
                          (["FLUSHALL"], "flushall"),
                          (["FLUSHDB"], "flushdb"),
                          (["CONFIG", "SET", "maxmemory", "1mb"], "config"),
                          (["CONFIG", "GET", "requirepass"], "config")):
            eq(r.call(*cmd), h.RespError(noperm("rita", name)),
               "reader %s" % " ".join(cmd))
        eq(r.call("GET", "k"), b"v", "the reader's writes changed nothing")
        # A reader may log in as an admin on the same connection.
        eq(r.call("AUTH", "adam", "adampw"), "OK", "re-AUTH as admin")
        eq(r.call("FLUSHALL"), "OK", "FLUSHALL after re-AUTH as admin")
    eq(srv.call("PING"), h.RespError(NOAUTH), "new connections must AUTH")


def test_sighup_reloads_acl_file(ctx):
    ctx.larder_only("SIGHUP reload")
    d = h.tmpdir()
    acl = os.path.join(d, "users.acl")
    write_acl(acl, [pbkdf2_line("rita", "reader", "ritapw"),
                    pbkdf2_line("adam", "admin", "old"),
                    pbkdf2_line("remy", "reader", "remypw")])
    srv = start(ctx, ["--acl-file", acl])
    rita = authed(srv, "rita", "ritapw")
    adam = authed(srv, "adam", "old")
    remy = authed(srv, "remy", "remypw")
    eq(remy.call("SET", "k", "v"), h.RespError(noperm("remy", "set")),
       "remy is a reader")
    # Remove rita, change adam's password, make remy an admin, add nina.
    write_acl(acl, [pbkdf2_line("adam", "admin", "new"),
                    pbkdf2_line("remy", "admin", "remypw"),
                    pbkdf2_line("nina", "reader", "ninapw")])
    srv.signal(signal.SIGHUP)

    def nina_in():
        with srv.conn() as c:
            return c.call("AUTH", "nina", "ninapw") == "OK"
    h.wait_until(nina_in, 10, what="the added user nina to be accepted")
    eq(rita.call("GET", "k"), h.RespError(NOAUTH),
       "a removed user's connection loses access on its next command")
    eq(rita.call("AUTH", "rita", "ritapw"), h.RespError(WRONGPASS),
       "a removed user cannot log in")
    eq(adam.call("SET", "k", "v"), "OK",
       "a user whose password changed stays logged in")
    eq(remy.call("SET", "k2", "v"), "OK", "remy's new role applies")
    with srv.conn() as c:
        eq(c.call("AUTH", "adam", "old"), h.RespError(WRONGPASS),
           "the old password")
        eq(c.call("AUTH", "adam", "new"), "OK", "the new password")
    # A broken file is refused and the users stay as they were.
    with open(acl, "a") as f:
        f.write("user eve superuser pbkdf2-sha256$1000$00$00\n")
    srv.signal(signal.SIGHUP)
    h.wait_until(lambda: "users not reloaded" in srv.log_text(), 10,
                 what="the log to report the refused ACL file")
    log = srv.log_text()
    check(":5: unknown role 'superuser'" in log,
          "the log should name the bad line: %s" % srv.log_tail(5))
    with srv.conn() as c:
        eq(c.call("AUTH", "nina", "ninapw"), "OK", "users kept after a "
           "refused reload")
    for c in (rita, adam, remy):
        c.close()


def test_sighup_reloads_config_file(ctx):
    ctx.larder_only("SIGHUP reload")
    d = h.tmpdir()
    conf = os.path.join(d, "larder.conf")
    with open(conf, "w") as f:
        f.write("requirepass first\nmaxmemory 0\nmaxclients 100\n")
    srv = start(ctx, ["--config", conf])
    with open(conf, "w") as f:
        f.write("requirepass second\nmaxmemory 1000000\nmaxclients 50\n"
                "loglevel verbose\n")
    with authed(srv, "first") as c:
        srv.signal(signal.SIGHUP)

        def reloaded():
            r = c.call("CONFIG", "GET", "maxmemory")
            return r == [b"maxmemory", b"1000000"]
        h.wait_until(reloaded, 10, what="maxmemory to be reloaded")
        eq(c.call("CONFIG", "GET", "maxclients"), [b"maxclients", b"50"],
           "maxclients reloaded")
        eq(c.call("CONFIG", "GET", "loglevel"), [b"loglevel", b"verbose"],
           "loglevel reloaded")
        eq(c.call("GET", "k"), None, "the connection keeps its user")
    with srv.conn() as c:
        eq(c.call("AUTH", "first"), h.RespError(WRONGPASS), "old requirepass")
        eq(c.call("AUTH", "second"), "OK", "requirepass from the reload")


def test_reload_under_load(ctx):
    """Readers keep being served, and keep their user, while the table is
    replaced again and again (run it under ASan or TSan to check the
    reclamation of old tables)."""
    ctx.larder_only("SIGHUP reload")
    d = h.tmpdir()
    acl = os.path.join(d, "users.acl")
    write_acl(acl, [pbkdf2_line("adam", "admin", "adampw"),
                    pbkdf2_line("rita", "reader", "ritapw")])
    srv = start(ctx, ["--acl-file", acl, "--threads", "4"])
    stop = threading.Event()
    problems = []
    served = [0] * 4

    def reader(i):
        try:
            with srv.conn() as c:
                if c.call("AUTH", "rita", "ritapw") != "OK":
                    problems.append("AUTH rita failed")
                    return
                while not stop.is_set():
                    r = c.call("MGET", "k", "k")
                    if r != [b"v", b"v"]:
                        problems.append("MGET during reloads: %r" % (r,))
                        return
                    served[i] += 1
        except Exception as e:  # reported by the main thread
            problems.append(repr(e))

    with authed(srv, "adam", "adampw") as a:
        eq(a.call("SET", "k", "v"), "OK", "SET k")
        threads = [threading.Thread(target=reader, args=(i,))
                   for i in range(4)]
        for t in threads:
            t.start()
        try:
            for i in range(40):
                if i % 2:
                    srv.signal(signal.SIGHUP)
                else:
                    eq(a.call("CONFIG", "SET", "requirepass", "p%d" % i),
                       "OK", "CONFIG SET requirepass under load")
                time.sleep(0.01)
        finally:
            stop.set()
            for t in threads:
                t.join(h.scaled(10))
    check(not problems, "readers during reloads: %s" % problems[:3])
    check(all(n > 0 for n in served), "every reader was served: %s" % served)


def test_config_set_requirepass(ctx):
    ctx.larder_only("larder's requirepass handling")
    srv = start(ctx, [])
    old = srv.conn()
    eq(old.call("PING"), "PONG", "no password: no AUTH needed")
    eq(old.call("CONFIG", "SET", "requirepass", "pw1"), "OK",
       "CONFIG SET requirepass")
    eq(old.call("GET", "k"), None,
       "a connection from before the password keeps access (as in Redis)")
    eq(srv.call("GET", "k"), h.RespError(NOAUTH), "new connections must AUTH")
    r = old.call("CONFIG", "GET", "requirepass")
    check(isinstance(r, list) and len(r) == 2 and
          r[1].startswith(b"pbkdf2-sha256$") and b"pw1" not in r[1],
          "CONFIG GET requirepass should show a hash, not the password: %r"
          % (r,))
    with authed(srv, "pw1") as c:
        eq(c.call("CONFIG", "SET", "requirepass", "pw2"), "OK",
           "change requirepass")
        eq(c.call("SET", "k", "v"), "OK", "still logged in")
    with srv.conn() as c:
        eq(c.call("AUTH", "pw1"), h.RespError(WRONGPASS), "old requirepass")
        eq(c.call("AUTH", "pw2"), "OK", "new requirepass")
        expect_error(c.call("CONFIG", "SET", "acl-file", "/nonexistent/acl"),
                     "ERR CONFIG SET failed: cannot open ACL file",
                     "CONFIG SET acl-file to a missing file")
        eq(c.call("CONFIG", "GET", "acl-file"), [b"acl-file", b""],
           "acl-file unchanged after the refusal")
        eq(c.call("CONFIG", "SET", "requirepass", ""), "OK",
           "remove the password (loopback)")
    eq(srv.call("PING"), "PONG", "no password again: no AUTH needed")
    old.close()


def test_redis_cli_auth(ctx):
    ctx.larder_only("larder's ACL file")
    if shutil.which("redis-cli") is None:
        h.fail("redis-cli is not installed (Debian package redis-tools)")
    d = h.tmpdir()
    acl = os.path.join(d, "users.acl")
    write_acl(acl, [pbkdf2_line("adam", "admin", "adampw"),
                    pbkdf2_line("rita", "reader", "ritapw")])
    srv = start(ctx, ["--acl-file", acl, "--requirepass", "rootpw"])
    quiet = ["--no-auth-warning"]

    def cli(flags, *args):
        r = h.redis_cli(srv.port, *args, flags=quiet + flags)
        return r.stdout.decode("utf-8", "replace").strip()
    eq(cli(["-a", "rootpw"], "SET", "k", "v"), "OK", "redis-cli -a")
    eq(cli(["--user", "adam", "--pass", "adampw"], "SET", "k", "w"), "OK",
       "redis-cli --user --pass (admin)")
    eq(cli(["--user", "rita", "--pass", "ritapw"], "GET", "k"), "w",
       "redis-cli --user --pass (reader)")
    out = cli(["--user", "rita", "--pass", "ritapw"], "SET", "k", "x")
    check("NOPERM" in out, "redis-cli reader SET should print NOPERM: %r"
          % out)
    r = h.redis_cli(srv.port, "GET", "k", flags=quiet + ["-a", "bad"])
    both = (r.stdout + r.stderr).decode("utf-8", "replace")
    check("WRONGPASS" in both, "redis-cli -a with a wrong password should "
          "report WRONGPASS: %r" % both)
    eq(cli(["-3", "--user", "adam", "--pass", "adampw"], "GET", "k"), "w",
       "redis-cli -3 with --user --pass")


def test_hash_password_helper(ctx):
    ctx.larder_only("larderd --hash-password")
    r = h._run_tool([ctx.opts.larderd, "--hash-password",
                     "--hash-iterations", "2000"], b"correct horse\n", 30)
    eq(r.returncode, 0, "larderd --hash-password exit code (stderr %r)"
       % r.stderr)
    line = r.stdout.decode().strip()
    parts = line.split("$")
    eq(len(parts), 4, "hash fields in %r" % line)
    eq(parts[0:2], ["pbkdf2-sha256", "2000"], "scheme and iterations")
    check(b"correct horse" not in r.stdout + r.stderr,
          "the password must not be echoed")
    dk = hashlib.pbkdf2_hmac("sha256", b"correct horse",
                             bytes.fromhex(parts[2]), 2000, 32)
    eq(parts[3], dk.hex(), "the hash is PBKDF2-HMAC-SHA256 of the password")
    r2 = h._run_tool([ctx.opts.larderd, "--hash-password"], b"correct horse",
                     30)
    line2 = r2.stdout.decode().strip()
    check(line2.startswith("pbkdf2-sha256$10000$") and line2 != line,
          "default iterations and a fresh salt: %r" % line2)
    r3 = h._run_tool([ctx.opts.larderd, "--hash-password"], b"", 30)
    check(r3.returncode != 0 and b"no password" in r3.stderr,
          "an empty input is refused: %r" % (r3,))
    # The printed line works in an ACL file.
    d = h.tmpdir()
    acl = os.path.join(d, "users.acl")
    write_acl(acl, ["user olga admin %s\n" % line])
    srv = start(ctx, ["--acl-file", acl])
    with authed(srv, "olga", "correct horse") as c:
        eq(c.call("SET", "k", "v"), "OK", "SET as olga")


def test_startup_errors(ctx):
    ctx.larder_only("larder's ACL file")
    d = h.tmpdir()
    acl = os.path.join(d, "users.acl")
    write_acl(acl, [pbkdf2_line("a", "reader", "x"),
                    "user b admin plaintextpassword\n"])
    r = h.run_binary(ctx.opts, ["--bind", h.HOST, "--port", h.free_port(),
                                "--acl-file", acl])
    check(r.returncode != 0, "a bad ACL file must stop the start")
    out = r.stdout + r.stderr
    check("users.acl:3:" in out and "not plain text" in out,
          "the error should name the line and say why: %r" % out[-400:])
    r = h.run_binary(ctx.opts, ["--bind", h.HOST, "--port", h.free_port(),
                                "--acl-file", os.path.join(d, "missing")])
    check(r.returncode != 0 and "cannot open ACL file" in r.stdout + r.stderr,
          "a missing ACL file must stop the start: %r" % (r,))


def test_no_password_unchanged(ctx):
    srv = ctx.server([])
    with srv.conn() as c:
        eq(c.call("PING"), "PONG", "PING without a password")
        eq(c.call("SET", "k", "v"), "OK", "SET without a password")
        expect_error(c.call("AUTH", "x"), "ERR AUTH <password> called without"
                     " any password configured", "AUTH without a password")
        eq(c.call("AUTH", "default", "anything"), "OK",
           "AUTH default with no password configured")
        r = c.call("HELLO", "3")
        check(isinstance(r, dict), "HELLO 3 without AUTH: %r" % (r,))
        eq(c.call("FLUSHALL"), "OK", "FLUSHALL without a password")


def test_cli_auth(ctx):
    """The admin CLI authenticates with --password-file or $LARDER_PASSWORD
    (never a password on its command line), as a user with --user."""
    ctx.larder_only("the larder CLI")
    cli = os.path.join(os.path.dirname(os.path.dirname(ctx.opts.larderd)),
                       "cli", "larder")
    if not os.access(cli, os.X_OK):
        h.unavailable("%s is not built" % cli)
    d = h.tmpdir()
    acl = os.path.join(d, "users.acl")
    write_acl(acl, [pbkdf2_line("rita", "reader", "ritapw")])
    srv = start(ctx, ["--acl-file", acl, "--data-dir",
                      os.path.join(d, "data")])
    node = "%s:%d" % (h.HOST, srv.port)
    pwfile = os.path.join(d, "pw")

    def run(*args, password=None, pw_in_file=None):
        env = dict(os.environ)
        env.pop("LARDER_PASSWORD", None)
        if password is not None:
            env["LARDER_PASSWORD"] = password
        extra = []
        if pw_in_file is not None:
            with open(pwfile, "w") as f:
                f.write(pw_in_file + "\n")
            extra = ["--password-file", pwfile]
        p = subprocess.run([cli, "status", "--node", node] + list(args) +
                           extra, env=env, capture_output=True, text=True,
                           timeout=h.scaled(30))
        return p.returncode, p.stdout + p.stderr

    code, out = run()
    check(code != 0 and "NOAUTH" in out,
          "without a password the node's NOAUTH shows: %d %r" % (code, out))
    code, out = run("--user", "rita", password="ritapw")
    eq(code, 0, "status as rita with $LARDER_PASSWORD: %r" % out)
    code, out = run("--user", "rita", pw_in_file="ritapw")
    eq(code, 0, "status as rita with --password-file: %r" % out)
    code, out = run("--user", "rita", pw_in_file="wrong")
    check(code == 1 and "refused AUTH as rita" in out and "wrong" not in out,
          "a wrong password is refused, and not echoed: %d %r" % (code, out))
    code, out = run("--user", "rita")
    check(code == 2 and "needs a password" in out,
          "--user without a password is a usage error: %d %r" % (code, out))
    code, out = run("--password-file", os.path.join(d, "missing"))
    check(code == 2 and "missing" in out,
          "a missing password file is named: %d %r" % (code, out))


TESTS = [test_protected_mode, test_noauth_and_auth, test_acl_roles,
         test_sighup_reloads_acl_file, test_sighup_reloads_config_file,
         test_reload_under_load, test_config_set_requirepass,
         test_redis_cli_auth, test_hash_password_helper, test_startup_errors,
         test_no_password_unchanged, test_cli_auth]

if __name__ == "__main__":
    h.main(TESTS, budget=120)
