#!/usr/bin/env python3
"""Versioned batch tables on one node, end to end: larder-load builds and
publishes versions, larderd pulls, verifies, populates and switches them,
and the admin CLI activates and rolls back.

Covered: a load becomes readable with T.GET/T.MGET once the node switches;
a second load switches and the first stays readable with VERSION while
retained; rollback is instant (no pull); retention
(hot, grace, cold, deleted) and re-populating a cold version on rollback;
a corrupt segment in the store is refused while the previous version is
still served; a pull that does not fit --batch-memory is refused and the
loader fails saying so; a restart reuses local segment files and re-pulls
only a damaged one; a node whose membership is unreachable serves its saved
view, degraded; --require-mlock is fatal when mlock fails; error replies.
Switches under concurrent readers are in test_batch_concurrency.py.

Values are loaded with --value-field, so each value is the raw text of
its row's "v" field: the tests put the version's tag there.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check, expect_error  # noqa: E402

PARTS = 4
KEYS = 200


# ---------------------------------------------------------------------------
# Tools around the node: loader, CLI, a data directory
# ---------------------------------------------------------------------------

def tool(ctx, rel):
    build = os.path.dirname(os.path.dirname(ctx.opts.larderd))
    path = os.path.join(build, rel)
    if not os.access(path, os.X_OK):
        h.unavailable("%s is not built" % path)
    return path


class Cluster:
    """One node's data directory with its default local membership and
    file store, plus helpers to run larder-load and larder against it."""

    def __init__(self, ctx):
        ctx.larder_only("batch tables")
        self.ctx = ctx
        self.loader = tool(ctx, "loader/larder-load")
        self.cli_path = tool(ctx, "cli/larder")
        self.dir = h.tmpdir()
        self.data = os.path.join(self.dir, "data")
        self.membership = "local:" + os.path.join(self.data, "membership")
        self.store = "file://" + os.path.join(self.data, "store")
        self.store_dir = os.path.join(self.data, "store")

    def node(self, *extra, wait=True):
        srv = self.ctx.server(["--data-dir", self.data, "--threads", "2",
                               "--watch-interval-ms", "50"] + list(extra))
        if wait:
            wait_ready(srv)
        return srv

    def input(self, table, tag, keys=KEYS):
        path = os.path.join(self.dir, "%s-%s.jsonl" % (table, tag))
        with open(path, "w") as f:
            for i in range(keys):
                f.write(json.dumps({"id": "k%d" % i, "v": str(tag)}) + "\n")
        return path

    def load_cmd(self, table, tag, *extra, keys=KEYS):
        return [self.loader, "--membership", self.membership,
                "--store", self.store, "--table", table,
                "--input", self.input(table, tag, keys), "--key", "id",
                "--value-field", "v", "--partitions", str(PARTS),
                "--ready-timeout", "30"] + [str(a) for a in extra]

    def load(self, table, tag, *extra, expect=0, keys=KEYS):
        p = subprocess.run(self.load_cmd(table, tag, *extra, keys=keys),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=h.scaled(60))
        if expect is not None and p.returncode != expect:
            h.fail("larder-load %s %s exited %d (expected %d)\nstdout: %s\n"
                   "stderr: %s" % (table, tag, p.returncode, expect,
                                   p.stdout.decode(), p.stderr.decode()))
        return p

    def cli(self, *args, expect=0):
        p = subprocess.run([self.cli_path, "--membership", self.membership] +
                           [str(a) for a in args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=h.scaled(30))
        if expect is not None and p.returncode != expect:
            h.fail("larder %s exited %d (expected %d)\nstdout: %s\nstderr: %s"
                   % (" ".join(map(str, args)), p.returncode, expect,
                      p.stdout.decode(), p.stderr.decode()))
        return p

    def version_dir(self, table, version):
        return os.path.join(self.data, "segments", table, "v-%06d" % version)

    def staged_versions(self, table):
        p = self.cli("--json", "versions", table, expect=None)
        if p.returncode != 0:
            return []
        return [v["version"] for v in json.loads(p.stdout)]


def binfo(srv):
    return srv.info("batch")


def wait_ready(srv, timeout=20):
    h.wait_until(lambda: binfo(srv).get("batch_state") == "ready", timeout,
                 what="INFO batch_state:ready")


def wait_generation(srv, gen, timeout=20):
    h.wait_until(lambda: h.info_int(binfo(srv), "batch_generation") >= gen,
                 timeout, what="the node to switch to generation %d" % gen)


def versions_of(srv, table):
    """LARDER.VERSIONS as {version: state}."""
    out = {}
    for entry in srv.call("LARDER.VERSIONS", table):
        d = dict(zip(entry[0::2], entry[1::2]))
        out[d[b"version"]] = h.text(d[b"state"])
    return out


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def part_path(root, table, version, p):
    return os.path.join(root, table, "v-%06d" % version, "part-%05d.seg" % p)


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

def test_load_switch_pin_rollback(ctx):
    cl = Cluster(ctx)
    srv = cl.node()
    eq(srv.call("T.GET", "users", "k1"),
       h.RespError("NOTABLE no active version of table 'users'"),
       "T.GET before any load")

    cl.load("users", 1)
    wait_generation(srv, 1)
    with srv.conn() as c:
        eq(c.call("T.GET", "users", "k1"), b"1", "T.GET after load 1")
        eq(c.call("T.GET", "users", "absent"), None, "T.GET of an absent key")
        eq(c.call("T.MGET", "users", "k1", "absent", "k2"), [b"1", None, b"1"],
           "T.MGET after load 1")
    info = binfo(srv)
    eq(h.info_int(info, "batch_pulls_total"), PARTS, "segment files pulled")
    line = dict(f.split("=", 1) for f in info["table_users"].split(","))
    eq((line["active_version"], line["rows"], line["versions"]),
       ("1", str(KEYS), "1"), "INFO table line %r" % info["table_users"])
    check(int(line["bytes"]) > 0 and "version_age_seconds" in line,
          "INFO table line bytes and age %r" % info["table_users"])
    check(h.info_int(info, "batch_mapped_bytes") > 0, "mapped bytes")
    eq(h.info_int(info, "batch_mapped_bytes"),
       h.info_int(info, "batch_used_bytes"), "mapped bytes = version bytes")
    mapped = h.info_int(info, "batch_mapped_bytes")
    resident = h.info_int(info, "batch_resident_bytes")
    locked = h.info_int(info, "batch_locked_bytes")
    check(0 < resident <= mapped, "resident bytes %d of %d mapped (segments "
          "are populated when mapped)" % (resident, mapped))
    check(0 <= locked <= mapped, "locked bytes %d of %d mapped"
          % (locked, mapped))

    cl.load("users", 2)
    wait_generation(srv, 2)
    with srv.conn() as c:
        eq(c.call("T.GET", "users", "k5"), b"2", "T.GET after load 2")
        eq(c.call("T.GET", "users", "k5", "VERSION", 1), b"1",
           "T.GET VERSION 1 while retained")
        eq(c.call("T.MGET", "users", "k5", "k6", "VERSION", "1"), [b"1", b"1"],
           "T.MGET VERSION 1")
        eq(c.call("T.GET", "users", "k5", "VERSION", 7),
           h.RespError("NOVERSION version 7 of 'users' is not held"),
           "T.GET of a version never loaded")
        act = c.call("LARDER.ACTIVE")
        eq(act[0::2], [b"generation", b"changed_ms", b"degraded", b"tables"],
           "LARDER.ACTIVE fields")
        eq((act[1], act[5], act[7]), (2, 0, [b"users", 2]), "LARDER.ACTIVE")
        check(act[3] > 1600000000000, "changed_ms is a Unix time in ms")
        raw2 = c.call_raw("T.GET", "users", "k9")
        check(not raw2.startswith(b"|"), "no attribute in RESP2: %r" % raw2)
        c.call("HELLO", "3")
        # Under RESP3 a batch read names the view generation it was read
        # from in an attribute ahead of the reply (generation 2 x 2^32: no
        # placement here).
        gen = b"%d" % (2 << 32)
        eq(c.call_raw("T.GET", "users", "k9"),
           b"|1\r\n$15\r\nview-generation\r\n:" + gen + b"\r\n$1\r\n2\r\n",
           "T.GET (RESP3) with its view-generation attribute")
        check(c.call_raw("T.MGET", "users", "k1", "k2").startswith(
            b"|1\r\n$15\r\nview-generation\r\n:" + gen + b"\r\n*2\r\n"),
              "T.MGET (RESP3) with the attribute")
        eq(c.call("T.GET", "users", "k9"), b"2", "clients skip the attribute")
        act = c.call("LARDER.ACTIVE")
        eq(act[b"tables"], {b"users": 2}, "LARDER.ACTIVE (RESP3) tables")
        ti = c.call("T.INFO", "users")
        eq((ti[b"kind"], ti[b"active_version"], ti[b"rows"],
            ti[b"partitions"], len(ti[b"versions"])),
           (b"batch", 2, KEYS, PARTS, 2), "T.INFO users")
    eq(versions_of(srv, "users"), {1: "hot", 2: "active"}, "versions held")

    pulls = h.info_int(binfo(srv), "batch_pulls_total")
    cl.cli("rollback")
    wait_generation(srv, 3)
    eq(srv.call("T.GET", "users", "k5"), b"1", "T.GET after rollback")
    eq(h.info_int(binfo(srv), "batch_pulls_total"), pulls,
       "files pulled by the rollback (instant: none)")
    eq(versions_of(srv, "users"), {1: "active", 2: "hot"},
       "versions after rollback")
    info = srv.info("stats")
    check(h.info_int(info, "keyspace_hits") >= 8, "keyspace hits counted")
    check(h.info_int(info, "keyspace_misses") >= 1, "keyspace misses counted")

    # The CLI reads through the node too.
    p = cl.cli("get", "users", "k3")
    check(b"1" in p.stdout, "larder get: %r" % p.stdout)


def test_retention_grace_and_cold_rollback(ctx):
    cl = Cluster(ctx)
    srv = cl.node("--retain-hot", "0", "--retain", "1", "--retire-grace", "2")
    for tag in (1, 2, 3):
        cl.load("users", tag)
    wait_generation(srv, 3)
    # Versions 1 and 2 were active less than --retire-grace ago.
    eq(srv.call("T.GET", "users", "k1", "VERSION", 2), b"2",
       "pinned read within grace")
    # After the grace period: 2 is kept cold on disk, 1 is deleted.
    h.wait_until(lambda: versions_of(srv, "users") == {2: "cold", 3: "active"},
                 20, what="v2 cold and v1 deleted (got %r)"
                 % versions_of(srv, "users"))
    eq(srv.call("T.GET", "users", "k1", "VERSION", 2),
       h.RespError("NOVERSION version 2 of 'users' is not held"),
       "pinned read of a cold version")
    check(not os.path.exists(cl.version_dir("users", 1)),
          "version 1's files deleted")
    check(os.path.exists(cl.version_dir("users", 2)), "version 2 kept on disk")
    info = binfo(srv)
    eq(h.info_int(info, "batch_dropped_total"), 1, "versions deleted")
    pulls = h.info_int(info, "batch_pulls_total")
    reused = h.info_int(info, "batch_reused_total")
    # Rollback to the cold version: re-populated from local files.
    cl.cli("rollback")
    wait_generation(srv, 4)
    eq(srv.call("T.GET", "users", "k1"), b"2", "T.GET after cold rollback")
    info = binfo(srv)
    eq(h.info_int(info, "batch_pulls_total"), pulls, "pulls for the rollback")
    eq(h.info_int(info, "batch_reused_total"), reused + PARTS,
       "local files re-populated")


def start_loader(cl, table, tag, *extra):
    log = open(os.path.join(cl.dir, "load-%s-%s.log" % (table, tag)), "wb")
    p = subprocess.Popen(cl.load_cmd(table, tag, *extra), stdout=log,
                         stderr=subprocess.STDOUT, preexec_fn=h._pdeathsig)
    h._started.append(p)
    return p, log.name


def wait_published(cl, table, newer_than):
    """Waits until a loader has published a version of table newer than
    newer_than (its manifest is in the store, so the loader's own memory
    check is behind it) and registered it; returns that version."""
    def published():
        for v in cl.staged_versions(table):
            if v > newer_than and os.path.exists(os.path.join(
                    cl.store_dir, table, "v-%06d" % v, "manifest.json")):
                return v
        return None
    return h.wait_until(published, 30, what="a new version of %s to be "
                        "published" % table)


def finish_loader(p, logname, timeout=30):
    try:
        code = p.wait(timeout=h.scaled(timeout))
    except subprocess.TimeoutExpired:
        p.kill()
        h.fail("larder-load did not finish within %d s" % timeout)
    with open(logname, "rb") as f:
        return code, f.read().decode("utf-8", "replace")


def test_corrupt_segment_refused(ctx):
    cl = Cluster(ctx)
    srv = cl.node()
    cl.load("users", 1)
    wait_generation(srv, 1)
    srv.stop_and_check()
    # While no node runs, a load publishes version 2 and waits for it.
    p, logname = start_loader(cl, "users", 2)
    eq(wait_published(cl, "users", 1), 2, "version published")
    flip_byte(part_path(cl.store_dir, "users", 2, 1), 300)
    srv = cl.node()
    code, out = finish_loader(p, logname)
    eq(code, 69, "larder-load exit code when the node refuses the pull "
       "(output: %s)" % out)
    check("checksum" in out and "refused" in out,
          "loader output names the refusal: %s" % out)
    eq(srv.call("T.GET", "users", "k1"), b"1", "previous version still served")
    info = binfo(srv)
    check(h.info_int(info, "batch_pull_failures_total") >= 1,
          "pull failure counted")
    eq(h.info_int(info, "batch_generation"), 1, "generation unchanged")
    check(2 not in versions_of(srv, "users"), "no trace of version 2")
    check(not os.path.exists(cl.version_dir("users", 2)),
          "the bad pull left no local files")
    check("does not match" in srv.log_text() or "checksum" in srv.log_text(),
          "node log explains the failed pull")


def test_memory_budget_refusal(ctx):
    cl = Cluster(ctx)
    srv = cl.node("--batch-memory", "1000")
    eq(h.info_int(binfo(srv), "batch_memory"), 1000, "INFO batch_memory")
    # The loader itself checks the members' budgets before publishing.
    res = cl.load("users", 1, expect=71)
    check(b"memory" in res.stderr + res.stdout,
          "loader names memory: %r" % (res.stderr + res.stdout))
    srv.stop_and_check()
    # With no node live, the loader cannot ask first: the node refuses.
    p, logname = start_loader(cl, "users", 1)
    version = wait_published(cl, "users", 0)
    srv = cl.node("--batch-memory", "1000")
    code, out = finish_loader(p, logname)
    eq(code, 71, "larder-load exit code on a memory refusal (output: %s)"
       % out)
    check("--batch-memory leaves" in out, "loader prints the node's reason: "
          "%s" % out)
    info = binfo(srv)
    eq(h.info_int(info, "batch_refusals_total"), 1, "refusals counted")
    eq(h.info_int(info, "batch_pulls_total"), 0, "nothing pulled")
    eq(h.info_int(info, "batch_used_bytes"), 0, "no memory used")
    check("refusing to pull users version %d" % version in srv.log_text(),
          "node logs the refusal")


def wait_files_opened(srv, n, timeout=20):
    """Waits until the node serves generation 2 and has opened n segment
    files (reused or pulled), and returns its INFO. The active version is
    published before the retention pass maps the hot one, so the generation
    alone does not mean every file has been opened."""
    wait_generation(srv, 2, timeout)
    h.wait_until(lambda: h.info_int(binfo(srv), "batch_reused_total") +
                 h.info_int(binfo(srv), "batch_pulls_total") >= n, timeout,
                 what="the node to open %d segment files" % n)
    return binfo(srv)


def test_restart_reuses_local_files(ctx):
    cl = Cluster(ctx)
    srv = cl.node()
    cl.load("users", 1)
    cl.load("users", 2)
    wait_generation(srv, 2)
    srv.stop_and_check()
    srv = cl.node()
    info = wait_files_opened(srv, 2 * PARTS)
    eq(h.info_int(info, "batch_pulls_total"), 0, "files pulled after restart")
    eq(h.info_int(info, "batch_reused_total"), 2 * PARTS,
       "files reused after restart (active and hot)")
    eq(srv.call("T.GET", "users", "k9"), b"2", "T.GET after restart")
    eq(versions_of(srv, "users"), {1: "hot", 2: "active"},
       "the previous version is hot again after restart")
    srv.stop_and_check()
    flip_byte(part_path(os.path.join(cl.data, "segments"), "users", 2, 0),
              200)
    srv = cl.node()
    info = wait_files_opened(srv, 2 * PARTS)
    eq(h.info_int(info, "batch_pulls_total"), 1, "only the damaged file "
       "is pulled again")
    eq(h.info_int(info, "batch_reused_total"), 2 * PARTS - 1, "others reused")
    values = srv.call("T.MGET", "users", *["k%d" % i for i in range(KEYS)])
    eq(values.count(b"2"), KEYS, "every key readable after the re-pull")


def test_degraded_from_saved_view(ctx):
    cl = Cluster(ctx)
    srv = cl.node()
    cl.load("users", 1)
    cl.load("users", 2)
    wait_generation(srv, 2)
    srv.stop_and_check()
    blocker = os.path.join(cl.dir, "not-a-dir")
    open(blocker, "w").close()
    srv = cl.node("--membership", "local:" + os.path.join(blocker, "m"))
    info = binfo(srv)
    eq(info.get("batch_degraded"), "1", "INFO batch_degraded")
    eq(h.info_int(info, "batch_generation"), 2, "saved generation served")
    eq(srv.call("T.GET", "users", "k4"), b"2", "T.GET while degraded")
    eq(srv.call("LARDER.ACTIVE")[5], 1, "LARDER.ACTIVE degraded flag")
    check("unreachable" in srv.log_text(), "log says membership is "
          "unreachable")


class LimitedServer(h.Server):
    """larderd without CAP_IPC_LOCK and with a memlock limit of 0, so
    mlock fails even for root."""

    def command(self):
        return ["setpriv", "--bounding-set=-ipc_lock", "prlimit",
                "--memlock=0:0"] + super().command()


def test_mlock_failure(ctx):
    cl = Cluster(ctx)
    for t in ("setpriv", "prlimit"):
        if subprocess.run(["which", t], stdout=subprocess.DEVNULL).returncode:
            raise h.Skip("%s is not installed" % t)
    srv = cl.node()
    cl.load("users", 1)
    wait_generation(srv, 1)
    srv.stop_and_check()
    args = ["--data-dir", cl.data, "--threads", "2"]

    # Without --require-mlock: served unlocked, with one clear warning.
    s = LimitedServer(ctx.opts, args)
    ctx._servers.append(s)
    s.start()
    wait_generation(s, 1)
    info = binfo(s)
    if h.info_int(info, "batch_locked_bytes") > 0:
        raise h.Skip("mlock succeeds without CAP_IPC_LOCK and memlock limit "
                     "(sanitizer runtimes make mlock a no-op)")
    check(h.info_int(info, "batch_mapped_bytes") > 0, "mapped")
    eq(s.call("T.GET", "users", "k1"), b"1", "served unlocked")
    eq(s.log_text().count("cannot lock batch segments"), 1,
       "one mlock warning")
    s.stop_and_check()

    # With it: the node exits non-zero, saying why.
    s = LimitedServer(ctx.opts, args + ["--require-mlock", "yes"])
    s.expected_exit = True
    ctx._servers.append(s)
    s.start(wait=False)
    code = s.wait(20)
    check(code is not None, "larderd kept running after mlock failed under "
          "--require-mlock")
    eq(code, 1, "exit code under --require-mlock\nlog:\n%s" % s.log_tail())
    check("--require-mlock" in s.log_text(), "log names --require-mlock")
    report = s.sanitizer_report()
    check(report is None, "sanitizer report:\n%s" % report)


def test_errors_and_live_table(ctx):
    cl = Cluster(ctx)
    srv = cl.node()
    with srv.conn() as c:
        expect_error(c.call("T.GET", "users"), "ERR wrong number",
                     "T.GET without a key")
        expect_error(c.call("T.GET", "users", "k", "VERSION"), "ERR",
                     "T.GET with a dangling VERSION")
        expect_error(c.call("T.GET", "users", "k", "VERSION", "x"),
                     "ERR VERSION must be a positive integer",
                     "T.GET VERSION x")
        expect_error(c.call("T.GET", "users", "k", "FOO", "1"),
                     "ERR syntax error", "T.GET with an unknown option")
        expect_error(c.call("T.GET", "bad name\r\n", "k"),
                     "ERR invalid table name", "T.GET of a bad table name")
        expect_error(c.call("T.MGET", "users", "k", "VERSION", "0"),
                     "ERR VERSION must be a positive integer",
                     "T.MGET VERSION 0")
        expect_error(c.call("T.INFO", "users"), "NOTABLE", "T.INFO unknown")
        eq(c.call("LARDER.VERSIONS", "users"), [], "LARDER.VERSIONS unknown")
        # The live table answers T.GET and T.MGET too.
        eq(c.call("SET", "lk", "lv"), "OK", "SET")
        eq(c.call("T.GET", "default", "lk"), b"lv", "T.GET default")
        eq(c.call("T.MGET", "default", "lk", "nope"), [b"lv", None],
           "T.MGET default")
        expect_error(c.call("T.GET", "default", "lk", "VERSION", "1"),
                     "ERR VERSION applies to batch tables only",
                     "VERSION on the live table")
        eq(c.call("PING"), "PONG", "connection still usable")


def test_store_retention(ctx):
    """After each activation, versions past --store-retain leave the store
    and are marked retired; rollback then cannot reach them, while the
    kept ones stay whole."""
    cl = Cluster(ctx)
    srv = cl.node()
    for tag in range(1, 5):
        cl.load("users", tag, "--store-retain", 2)
        wait_generation(srv, tag)
    states = {v["version"]: v["state"] for v in
              json.loads(cl.cli("--json", "versions", "users").stdout)}
    eq(states, {1: "retired", 2: "retired", 3: "active", 4: "active"},
       "version states after four loads keeping 2")
    for v in (1, 2):
        check(not os.path.exists(os.path.join(cl.store_dir, "users",
                                              "v-%06d" % v)),
              "version %d's objects left the store" % v)
    for v in (3, 4):
        names = sorted(os.listdir(os.path.join(cl.store_dir, "users",
                                               "v-%06d" % v)))
        eq(len(names), PARTS + 1, "version %d: segments and manifest" % v)
    eq(srv.call("T.GET", "users", "k3"), b"4", "the active version serves")
    cl.cli("rollback")
    wait_generation(srv, 5)
    eq(srv.call("T.GET", "users", "k3"), b"3", "rollback to the kept one")


def test_table_drop(ctx):
    """larder table drop: refused while active without --force; with it the
    table leaves the active map, its files the store and its records
    membership; a new load of the name starts after the old numbers."""
    cl = Cluster(ctx)
    srv = cl.node()
    cl.load("users", 1)
    cl.load("users", 2)
    wait_generation(srv, 2)
    p = cl.cli("table", "drop", "users", expect=1)
    check(b"--force" in p.stderr, "the refusal says how: %r" % p.stderr)
    eq(srv.call("T.GET", "users", "k1"), b"2", "still served after a refusal")
    p = cl.cli("--json", "table", "drop", "users", "--force")
    doc = json.loads(p.stdout)
    eq((doc["dropped"], doc["versions"]), ("users", 2), "drop summary")
    eq(doc["objects_deleted"], 2 * (PARTS + 1), "segments and manifests")
    check(not os.path.exists(os.path.join(cl.store_dir, "users")),
          "the table's files left the store")
    tables = json.loads(cl.cli("--json", "tables").stdout)
    check("users" not in json.dumps(tables), "no table users: %r" % tables)
    wait_generation(srv, 3)
    r = srv.call("T.GET", "users", "k1")
    check(isinstance(r, h.RespError), "dropped table not served: %r" % (r,))
    cl.cli("table", "drop", "users", expect=1)  # gone already
    cl.load("users", 3)
    wait_generation(srv, 4)
    eq(srv.call("T.GET", "users", "k1"), b"3", "loaded again")
    eq(sorted(cl.staged_versions("users")), [3],
       "the new version's number follows the old ones")


def main():
    h.main([test_load_switch_pin_rollback, test_store_retention,
            test_table_drop,
            test_retention_grace_and_cold_rollback,
            test_corrupt_segment_refused, test_memory_budget_refusal,
            test_restart_reuses_local_files, test_degraded_from_saved_view,
            test_mlock_failure, test_errors_and_live_table], budget=280)


if __name__ == "__main__":
    main()
