#!/usr/bin/env python3
"""The membership backends against real processes: the local:DIR backend
and the zk:// backend against Debian's ZooKeeper, started standalone on a
free port (zk_harness.py), held to one contract.

The driver is BUILD/tests/zk/membership_probe (found next to larderd's build
directory, or given with --probe PATH). `membership_probe URI contract`
runs every membership.h function through several handles of one process;
`membership_probe URI serve` holds one handle in a process the test can
kill -9, SIGSTOP or cut off from ZooKeeper, and answers commands on stdin.

What is asserted, on both backends unless said:
- the whole contract (tables, version allocation and records, readiness,
  refusals, active-map CAS and history, locks, members, live records, drain
  marks, placement CAS, change notification);
- a node killed with SIGKILL stops counting as ready (local: at once; zk:
  once its session expires), and its load lock is released;
- zk: a process stopped (SIGSTOP) past its session timeout loses its live
  record and its lock; resumed, it makes a new session by itself, sets its
  live record again, and reports the lock as lost;
- zk: with the server stopped, an operation fails with "ZooKeeper
  unreachable" within its bounded wait instead of hanging; after the server
  restarts on the same port and data, the same handle works again; a node
  whose session expired while it was frozen and that resumes while the
  server is down re-registers once the server is back;
- zk: digest ACLs: with auth=user:password (or LARDER_ZK_AUTH) created
  znodes get world:read + the digest user:all, so a handle without the
  password reads but cannot write ("not authorised"), nor can one with a
  wrong password.

ZooKeeper's tickTime is 100 ms; sessions in these tests last 1 s, so each
expiry takes a second or two."""

import os
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
import zk_harness  # noqa: E402
from larder_harness import check, eq  # noqa: E402

os.environ.pop("LARDER_ZK_AUTH", None)

PROBE = [None]   # --probe PATH, taken off argv before the harness sees it
ZK = [None]      # the server shared by this file's tests
SESSION_MS = 1000


def probe_path(ctx):
    if PROBE[0] is not None:
        path = PROBE[0]
    else:
        build = os.path.dirname(os.path.dirname(ctx.opts.larderd))
        path = os.path.join(build, "tests", "zk", "membership_probe")
    if not os.access(path, os.X_OK):
        h.fail("%s is not built (tests/CMakeLists.txt needs "
               "add_subdirectory(zk)); pass --probe PATH" % path)
    return path


def zookeeper():
    """The file's ZooKeeper, started on first use (skips without one)."""
    ok, why = zk_harness.available()
    if not ok:
        h.unavailable(why)
    if ZK[0] is None:
        ZK[0] = zk_harness.ZooKeeper().start()
    elif not ZK[0].alive():
        ZK[0].start()
    return ZK[0]


def fresh_name(prefix):
    return "%s-%d-%d" % (prefix, os.getpid(), int(time.monotonic() * 1000))


def zk_uri(cluster, **options):
    opts = {"cluster": cluster, "session_ms": SESSION_MS}
    opts.update(options)
    return zookeeper().uri(chroot="/it", **opts)


def run_contract(ctx, uri):
    p = h._run_tool([probe_path(ctx), uri, "contract"], None, 120)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != 0 or "contract passed" not in out:
        h.fail("contract on %s failed (exit %d)\nstdout:\n%s\nstderr:\n%s"
               % (uri, p.returncode, out, err[-3000:]))
    for marker in h.SANITIZER_MARKERS:
        check(marker not in err, "sanitizer report:\n%s" % err[-3000:])
    return out


class Probe:
    """A `membership_probe URI serve` process: one handle, commands on
    stdin, one answer line each."""

    def __init__(self, ctx, uri, watch=False, env=None):
        cmd = [probe_path(ctx), uri, "serve"] + (["--watch"] if watch else [])
        self.uri = uri
        self.err_path = os.path.join(h.tmpdir(), "probe.err")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._err, preexec_fn=h._pdeathsig,
            env=dict(os.environ, **(env or {})))
        h._started.append(self.proc)
        self._buf = b""
        line = self.readline(30)
        if not line.startswith("serving "):
            h.fail("probe on %s did not start: %r\nstderr:\n%s"
                   % (uri, line, self.stderr()))
        self.pid = self.proc.pid

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-3000:]
        except OSError:
            return ""

    def readline(self, timeout):
        deadline = time.monotonic() + h.scaled(timeout)
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                h.fail("probe %d gave no answer within %.1f s (has %r)\n"
                       "stderr:\n%s" % (self.proc.pid, h.scaled(timeout),
                                        self._buf, self.stderr()))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    h.fail("probe %d exited (code %s); stderr:\n%s"
                           % (self.proc.pid, self.proc.poll(),
                              self.stderr()))
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def call(self, cmd, timeout=20):
        self.proc.stdin.write((cmd + "\n").encode())
        self.proc.stdin.flush()
        return self.readline(timeout)

    def ok(self, cmd, timeout=20):
        r = self.call(cmd, timeout)
        eq(r, "ok", "probe: %s" % cmd)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._err.close()

    def quit(self):
        if self.proc.poll() is None:
            try:
                eq(self.call("quit"), "bye", "quit")
            finally:
                self.proc.stdin.close()
                self.proc.wait(timeout=h.scaled(20))
        self._err.close()
        report = self.stderr()
        for marker in h.SANITIZER_MARKERS:
            check(marker not in report, "sanitizer report:\n%s" % report)


def local_uri():
    return "local:" + os.path.join(h.tmpdir(), "membership")


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

def test_contract_local(ctx):
    ctx.larder_only()
    run_contract(ctx, local_uri())


def test_contract_zk(ctx):
    ctx.larder_only()
    out = run_contract(ctx, zk_uri(fresh_name("contract")))
    for group in ("tables", "versions", "readiness", "refusals", "active",
                  "locks", "members", "placement", "wait_change"):
        check("ok %s" % group in out, "group %s missing:\n%s" % (group, out))


def check_killed_holder(ctx, uri, expiry):
    """A node and a loader in other processes, killed with SIGKILL: their
    readiness stops counting and the lock frees (after `expiry` seconds at
    most)."""
    a = Probe(ctx, uri)
    b = Probe(ctx, uri)
    watcher = Probe(ctx, uri)
    a.ok("live n1 ready")
    a.ok("ready t 5 n1 0,1")
    b.ok("live n2 ready")
    b.ok("ready t 5 n2 1")
    a.ok("lock t")
    eq(watcher.call("count t 5 2"), "counts 1 2", "both nodes ready")
    busy = watcher.call("lock t")
    check(busy.startswith("busy ") and "pid %d" % a.pid in busy,
          "second holder: %r" % busy)
    a.kill()
    t0 = time.monotonic()
    h.wait_until(lambda: watcher.call("count t 5 2") == "counts 0 1",
                 expiry, interval=0.1, what="n1's readiness to stop counting")
    h.wait_until(lambda: watcher.call("lock t") == "ok", expiry,
                 interval=0.1, what="the killed holder's lock to free")
    waited = time.monotonic() - t0
    watcher.ok("unlock t")
    b.quit()
    watcher.quit()
    return waited


def test_killed_holder_local(ctx):
    ctx.larder_only()
    check_killed_holder(ctx, local_uri(), 5)


def test_killed_holder_zk(ctx):
    ctx.larder_only()
    waited = check_killed_holder(ctx, zk_uri(fresh_name("kill")), 15)
    print("     session of the killed holder expired after %.2f s" % waited)


def test_session_expiry_zk(ctx):
    ctx.larder_only()
    uri = zk_uri(fresh_name("expiry"))
    node = Probe(ctx, uri, watch=True)
    obs = Probe(ctx, uri)
    node.ok("memberput n1")
    node.ok("live n1 ready")
    node.ok("lock t")
    eq(obs.call("member n1"), "member live=1 state=ready draining=0",
       "n1 live")
    node.signal(signal.SIGSTOP)
    try:
        h.wait_until(lambda: obs.call("member n1").startswith(
            "member live=0"), 15, interval=0.1,
            what="the stopped node's session to expire")
        eq(obs.call("lock t"), "ok", "the stopped loader's lock is free")
    finally:
        node.signal(signal.SIGCONT)
    # Resumed, its watch loop notices the expiry and makes a new session.
    h.wait_until(lambda: obs.call("member n1") ==
                 "member live=1 state=ready draining=0", 15, interval=0.1,
                 what="the resumed node to set its live record again")
    r = node.call("lockcheck t")
    check(r.startswith("error ") and "lost" in r,
          "the resumed loader's lock check: %r" % r)
    eq(obs.call("lockcheck t"), "ok", "the new holder's lock")
    node.ok("ping")
    obs.ok("unlock t")
    node.quit()
    obs.quit()


def test_zookeeper_restart(ctx):
    ctx.larder_only()
    zk = zookeeper()
    uri = zk_uri(fresh_name("restart"), session_ms=4000, wait_ms=1000)
    node = Probe(ctx, uri)
    node.ok("memberput n1")
    node.ok("live n1 ready")
    node.ok("ping")
    zk.stop()
    zk.wait_port_free()
    try:
        t0 = time.monotonic()
        r = node.call("ping", timeout=15)
        took = time.monotonic() - t0
        check(r.startswith("error ") and "ZooKeeper unreachable" in r,
              "ping with ZooKeeper down: %r" % r)
        check(took < h.scaled(8), "ping took %.1f s with wait_ms=1000" % took)
    finally:
        zk.start()
    h.wait_until(lambda: node.call("ping") == "ok", 20, interval=0.2,
                 what="the handle to work again after the restart")
    # Same session (restored by the server) or a new one: live again.
    h.wait_until(lambda: node.call("member n1") ==
                 "member live=1 state=ready draining=0", 20, interval=0.2,
                 what="n1's live record after the restart")
    node.ok("tableput after-restart")
    node.quit()


def test_expiry_across_restart(ctx):
    """A node frozen past its session timeout and resumed while ZooKeeper
    is down: its calls fail with "unreachable" (bounded), and once the
    server is back it learns the session expired, makes a new one and sets
    its live record again by itself."""
    ctx.larder_only()
    zk = zookeeper()
    uri = zk_uri(fresh_name("frozen"), wait_ms=500)
    node = Probe(ctx, uri, watch=True)
    obs = Probe(ctx, uri)
    node.ok("memberput n1")
    node.ok("live n1 ready")
    node.signal(signal.SIGSTOP)
    try:
        h.wait_until(lambda: obs.call("member n1").startswith(
            "member live=0"), 15, interval=0.1,
            what="the frozen node's session to expire")
        zk.stop()
        zk.wait_port_free()
    finally:
        node.signal(signal.SIGCONT)
    try:
        r = node.call("ping", timeout=15)
        check(r.startswith("error ") and "ZooKeeper unreachable" in r,
              "ping with ZooKeeper down: %r" % r)
    finally:
        zk.start()
    h.wait_until(lambda: obs.call("member n1") ==
                 "member live=1 state=ready draining=0", 20, interval=0.2,
                 what="the node to set its live record again")
    node.ok("ping")
    node.quit()
    obs.quit()


def test_digest_acl(ctx):
    ctx.larder_only()
    cluster = fresh_name("acl")
    writer = Probe(ctx, zk_uri(cluster, auth="larder:s3cret"))
    writer.ok("tableput t1")
    writer.ok("memberput n1")
    writer.ok("live n1 ready")
    writer.ok("lock t1")

    reader = Probe(ctx, zk_uri(cluster))
    reader.ok("ping")
    eq(reader.call("member n1"), "member live=1 state=ready draining=0",
       "reader sees members")
    eq(reader.call("count t1 1 1"), "counts 0", "reader counts readiness")
    for cmd in ("tableput t2", "live n2 ready", "memberput n2", "lock t9",
                "ready t1 1 n2 0"):
        r = reader.call(cmd)
        check(r.startswith("error ") and "not authorised" in r,
              "%s without the password: %r" % (cmd, r))
    wrong = Probe(ctx, zk_uri(cluster, auth="larder:wrong"))
    r = wrong.call("tableput t3")
    check(r.startswith("error ") and "not authorised" in r,
          "a wrong password: %r" % r)
    # LARDER_ZK_AUTH gives the password to a URI without one.
    env_writer = Probe(ctx, zk_uri(cluster),
                       env={"LARDER_ZK_AUTH": "larder:s3cret"})
    env_writer.ok("tableput t4")
    writer.ok("unlock t1")
    for p in (writer, reader, wrong, env_writer):
        p.quit()


def test_zk_auth_flags(ctx):
    """--zk-auth on larder, larder-load and larderd gives a zk:// membership
    the digest password (as LARDER_ZK_AUTH does)."""
    ctx.larder_only()
    build = os.path.dirname(os.path.dirname(ctx.opts.larderd))
    cli = os.path.join(build, "cli", "larder")
    if not os.access(cli, os.X_OK):
        h.unavailable("%s is not built" % cli)
    cluster = fresh_name("flags")
    owner = Probe(ctx, zk_uri(cluster, auth="larder:s3cret"))
    owner.ok("tableput t1")
    uri = zk_uri(cluster)

    def larder(*args):
        return subprocess.run([cli, "--membership", uri] + list(args),
                              capture_output=True, text=True,
                              timeout=h.scaled(30))

    p = larder("table", "create", "t2", "--replication", "1")
    check(p.returncode != 0 and "not authorised" in p.stderr,
          "without the password the CLI cannot write: %r" % (p,))
    p = larder("--zk-auth", "larder:s3cret", "table", "create", "t2",
               "--replication", "1")
    eq(p.returncode, 0, "with --zk-auth the CLI writes: %r" % (p,))
    p = larder("--zk-auth", "nocolon", "tables")
    eq(p.returncode, 2, "--zk-auth without a colon is a usage error")
    # table drop on ZooKeeper: the table goes, its name can be created
    # again, and version numbers go on from where they were.
    eq(owner.call("alloc t2"), "version 1", "a version of t2")
    p = larder("--zk-auth", "larder:s3cret", "table", "drop", "t2")
    eq(p.returncode, 0, "table drop on zk: %r" % (p,))
    p = larder("--json", "tables")
    check(p.returncode == 0 and '"t2"' not in p.stdout,
          "t2 is gone: %r" % (p,))
    eq(larder("--zk-auth", "larder:s3cret", "table", "drop", "t2")
       .returncode, 1, "dropping it again: no table")
    eq(larder("--zk-auth", "larder:s3cret", "table", "create", "t2",
              "--replication", "1").returncode, 0, "created again")
    r = owner.call("alloc t2")
    check(r.startswith("version ") and int(r.split()[1]) >= 2,
          "version numbers are not reused after a drop: %r" % r)
    srv = ctx.server(["--membership", uri, "--zk-auth", "larder:s3cret",
                      "--node-id", "flagnode", "--data-dir",
                      os.path.join(h.tmpdir(), "d")])
    h.wait_until(lambda: owner.call("member flagnode").startswith(
        "member live=1"), 20, what="the node registered with --zk-auth")
    srv.stop_and_check()
    owner.quit()


def _stop_zookeeper():
    if ZK[0] is not None:
        ZK[0].stop()


if __name__ == "__main__":
    if "--probe" in sys.argv:
        i = sys.argv.index("--probe")
        PROBE[0] = os.path.abspath(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    import atexit
    atexit.register(_stop_zookeeper)
    h.main([test_contract_local, test_contract_zk, test_killed_holder_local,
            test_killed_holder_zk, test_session_expiry_zk,
            test_zookeeper_restart, test_expiry_across_restart,
            test_digest_acl, test_zk_auth_flags], budget=240)
