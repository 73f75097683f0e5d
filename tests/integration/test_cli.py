#!/usr/bin/env python3
"""The admin CLI `larder` against a real larderd and a local membership:
tables, versions, active, activate, rollback, get and mget, in text and
--json, with the exit codes (0 ok, 1 not found or refused, 2 usage, 3
cannot reach the node or the membership). Data is loaded with larder-load
into a fresh data directory that a larderd started with --data-dir serves.

The binaries are found next to larderd: BUILD/cli/larder and
BUILD/loader/larder-load."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402

# The CLI's defaults must not leak in from the environment of the test run.
os.environ.pop("LARDER_MEMBERSHIP", None)

USERS_V1 = ("id\tname\tage\tscore\n"
            "1\tann\t31\t0.5\n"
            "2\tbob\t\t1.25\n"
            "3\tc\u00e9\t-4\tx\n")
USERS_V2 = ("id\tname\tage\tscore\n"
            "1\tann\t32\t0.75\n"
            "4\tdan\t40\t2\n")

ROW1_V1 = {"name": "ann", "age": 31, "score": 0.5}
ROW1_V2 = {"name": "ann", "age": 32, "score": 0.75}


def build_dir(ctx):
    return os.path.dirname(os.path.dirname(ctx.opts.larderd))


def binary(ctx, rel):
    path = os.path.join(build_dir(ctx), rel)
    if not os.access(path, os.X_OK):
        h.fail("%s not built (expected next to larderd)" % path)
    return path


class Result:
    def __init__(self, cp):
        self.rc = cp.returncode
        self.out = cp.stdout.decode("utf-8", "replace")
        self.err = cp.stderr.decode("utf-8", "replace")

    def __repr__(self):
        return "exit %d, stdout %r, stderr %r" % (self.rc, self.out[:400],
                                                  self.err[:400])


def no_sanitizer_report(what, r):
    for m in h.SANITIZER_MARKERS:
        if m in r.err:
            h.fail("%s: sanitizer report:\n%s" % (what, r.err[-4000:]))


def larder(ctx, *args, timeout=30.0):
    """Runs the CLI; returns a Result."""
    r = Result(h._run_tool([binary(ctx, "cli/larder")] +
                           [str(a) for a in args], None, timeout))
    no_sanitizer_report("larder " + " ".join(map(str, args)), r)
    return r


def expect(r, rc, what):
    if r.rc != rc:
        h.fail("%s: expected exit %d, got %r" % (what, rc, r))


class Cluster:
    """One larderd with --data-dir D; membership local:D/membership."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.dir = h.tmpdir()
        self.data = os.path.join(self.dir, "data")
        self.membership = "local:" + os.path.join(self.data, "membership")
        self.store = "file://" + os.path.join(self.data, "store")
        self.node = ctx.server(["--data-dir", self.data,
                                "--watch-interval-ms", "50"])
        self.addr = "%s:%d" % (h.HOST, self.node.port)

    def cli(self, *args, **kw):
        return larder(self.ctx, "--membership", self.membership, *args, **kw)

    def load(self, table, text, *extra, name="in.tsv", rc=0):
        path = os.path.join(self.dir, "%s-%s" % (table, name))
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        cmd = [binary(self.ctx, "loader/larder-load"),
               "--membership", self.membership, "--store", self.store,
               "--table", table, "--input", path, "--key", "id",
               "--partitions", "4", "--ready-timeout",
               str(int(h.scaled(30)))] + list(extra)
        r = Result(h._run_tool(cmd, None, h.scaled(60)))
        no_sanitizer_report("larder-load", r)
        if r.rc != rc:
            h.fail("larder-load %s exited %d, not %d: %r" % (table, r.rc, rc,
                                                             r))
        return r

    def wait_value(self, table, key, want, *extra):
        """Waits until `larder get --json` shows value `want` (the node
        switches versions a moment after the active map changes)."""
        last = [None]

        def ok():
            r = self.cli("get", table, key, "--json", *extra)
            last[0] = r
            if r.rc != 0:
                return False
            return json.loads(r.out)["value"] == want
        try:
            h.wait_until(ok, 15, interval=0.1,
                         what="get %s %s = %r" % (table, key, want))
        except h.TestFailure:
            h.fail("get %s %s never showed %r; last: %r"
                   % (table, key, want, last[0]))


def test_help_and_usage(ctx):
    ctx.larder_only("the larder CLI")
    r = larder(ctx, "--help")
    expect(r, 0, "larder --help")
    for cmd in ("tables", "versions", "active", "activate", "rollback",
                "get", "mget"):
        check(("  " + cmd + " ") in r.out, "--help lacks %s:\n%s"
              % (cmd, r.out))
    check("Exit codes" in r.out, "--help lacks the exit codes")
    r = larder(ctx, "activate", "--help")
    expect(r, 0, "larder activate --help")
    check(r.out.startswith("usage: larder activate T=V... [--force] "
                           "[--min-replicas N]"),
          "activate --help: %r" % r.out)
    r = larder(ctx, "help", "get")
    expect(r, 0, "larder help get")
    check("--version V" in r.out and "--node IP:PORT" in r.out,
          "help get: %r" % r.out)

    cases = [
        ((), "usage: larder"),
        (("frobnicate",), 'unknown command "frobnicate"'),
        (("--bogus", "tables"), "unknown option --bogus"),
        (("versions",), "versions takes TABLE"),
        (("versions", "a", "b"), "versions takes TABLE"),
        (("get", "t"), "get takes TABLE KEY"),
        (("get", "t", "k", "--force"), "--force does not apply to get"),
        (("activate", "users"), '"users" is not TABLE=VERSION'),
        (("activate", "users=0"), "is not a version number"),
        (("activate", "a=1", "a=2"), "table a given twice"),
        (("get", "t", "k", "--version", "x"), "is not a version number"),
        (("get", "bad/name", "k"), '"bad/name" is not a table name'),
        (("mget", "t", "a", "VERSION", "b"), "cannot be second to last"),
    ]
    for args, msg in cases:
        r = larder(ctx, *args)
        expect(r, 2, "larder %s" % " ".join(args))
        check(msg in r.err, "larder %s: stderr %r lacks %r"
              % (" ".join(args), r.err, msg))
        eq(r.out, "", "larder %s: stdout" % " ".join(args))


def test_membership_unreachable(ctx):
    ctx.larder_only("the larder CLI")
    missing = os.path.join(h.tmpdir(), "nope")
    for args in (("tables",), ("versions", "t"), ("active",), ("rollback",),
                 ("activate", "t=1"), ("get", "t", "k")):
        r = larder(ctx, "--membership", "local:" + missing, *args)
        expect(r, 3, "larder %s with a missing membership" % args[0])
        check("no such directory" in r.err, "stderr: %r" % r.err)
        check(not os.path.exists(missing),
              "the CLI created the missing membership directory")
    # The environment variable is the default.
    env_before = os.environ.get("LARDER_MEMBERSHIP")
    os.environ["LARDER_MEMBERSHIP"] = "local:" + missing
    try:
        r = larder(ctx, "tables")
    finally:
        if env_before is None:
            os.environ.pop("LARDER_MEMBERSHIP", None)
        else:
            os.environ["LARDER_MEMBERSHIP"] = env_before
    expect(r, 3, "larder tables with LARDER_MEMBERSHIP missing")
    check(missing in r.err, "stderr does not name the membership: %r" % r.err)


def test_tables_versions_get(ctx):
    ctx.larder_only("the larder CLI")
    c = Cluster(ctx)
    r = c.cli("tables")
    expect(r, 0, "tables before any load")
    check("no tables" in r.out, "tables: %r" % r.out)
    r = c.cli("active")
    expect(r, 0, "active before any load")
    check("generation 0" in r.out, "active: %r" % r.out)

    c.load("users", USERS_V1, "--run-id", "run-a")

    r = c.cli("tables")
    expect(r, 0, "tables")
    lines = r.out.splitlines()
    eq(lines[0].split(), ["TABLE", "KIND", "PARTITIONS", "REPLICATION",
                          "ACTIVE"], "tables header")
    eq(lines[1].split()[0:3], ["users", "batch", "4"], "tables row")
    eq(lines[1].split()[-1], "1", "tables: active version")
    r = c.cli("tables", "--json")
    expect(r, 0, "tables --json")
    t = json.loads(r.out)
    eq([x["table"] for x in t], ["users"], "tables --json names")
    eq(t[0]["active_version"], 1, "tables --json active_version")
    eq(t[0]["partitions"], 4, "tables --json partitions")

    r = c.cli("versions", "users")
    expect(r, 0, "versions users")
    lines = r.out.splitlines()
    eq(lines[0].split(), ["VERSION", "STATE", "ROWS", "BYTES", "RUN", "ID",
                          "CREATED", "ACTIVE"], "versions header")
    cells = lines[1].split()
    eq((cells[0], cells[1], cells[2], cells[4], cells[-1]),
       ("1", "active", "3", "run-a", "yes"), "versions row")
    r = c.cli("versions", "users", "--json")
    expect(r, 0, "versions --json")
    v = json.loads(r.out)
    eq(len(v), 1, "versions --json count")
    for k, want in (("version", 1), ("state", "active"), ("rows", 3),
                    ("run_id", "run-a"), ("active", True)):
        eq(v[0][k], want, "versions --json %s" % k)
    check(v[0]["bytes"] > 0 and v[0]["created"].endswith("Z"),
          "versions --json bytes/created: %r" % v[0])

    r = c.cli("versions", "nosuch")
    expect(r, 1, "versions of a missing table")
    check("no table nosuch" in r.err, "stderr: %r" % r.err)

    r = c.cli("active", "--json")
    expect(r, 0, "active --json")
    a = json.loads(r.out)
    eq(a["tables"], {"users": 1}, "active --json tables")
    check(a["generation"] >= 1, "active generation %r" % a)

    # get: the row is decoded from msgpack and shown as JSON.
    c.wait_value("users", "1", ROW1_V1)
    r = c.cli("get", "users", "1")
    expect(r, 0, "get users 1")
    eq(json.loads(r.out), ROW1_V1, "get users 1 (text)")
    r = c.cli("get", "users", "2", "--json")
    expect(r, 0, "get users 2 --json")
    eq(json.loads(r.out), {"key": "2", "found": True,
                           "value": {"name": "bob", "age": None,
                                     "score": 1.25}}, "get --json")
    r = c.cli("get", "users", "9")
    expect(r, 1, "get of an absent key")
    eq(r.out, "(nil)\n", "get of an absent key: stdout")
    r = c.cli("get", "users", "9", "--json")
    expect(r, 1, "get --json of an absent key")
    eq(json.loads(r.out), {"key": "9", "value": None, "found": False},
       "get --json of an absent key")

    r = c.cli("mget", "users", "1", "3", "9")
    expect(r, 1, "mget with an absent key")
    lines = r.out.splitlines()
    eq(len(lines), 3, "mget lines: %r" % r.out)
    eq(lines[0].split("\t")[0], "1", "mget line 1 key")
    eq(json.loads(lines[0].split("\t")[1]), ROW1_V1, "mget line 1 value")
    eq(json.loads(lines[1].split("\t")[1]),
       {"name": "c\u00e9", "age": -4, "score": "x"}, "mget line 2 value")
    eq(lines[2], "9\t(nil)", "mget line 3")
    r = c.cli("mget", "users", "1", "2", "--json")
    expect(r, 0, "mget --json with every key present")
    got = json.loads(r.out)
    eq([(x["key"], x["found"]) for x in got], [("1", True), ("2", True)],
       "mget --json keys")
    eq(got[0]["value"], ROW1_V1, "mget --json value")

    # Errors from the node are shown with their code word and exit 1.
    r = c.cli("get", "nosuch", "1")
    expect(r, 1, "get from a table without an active version")
    check("NOTABLE" in r.err, "stderr: %r" % r.err)
    r = c.cli("get", "users", "1", "--version", "77")
    expect(r, 1, "get of a version not held")
    check("NOVERSION" in r.err, "stderr: %r" % r.err)

    # --node overrides the member list; a dead address exits 3.
    r = larder(ctx, "--membership", "local:/nonexistent", "get", "users",
               "1", "--node", c.addr)
    expect(r, 0, "get --node (no membership needed)")
    port = h.free_port()
    r = c.cli("get", "users", "1", "--node", "%s:%d" % (h.HOST, port))
    expect(r, 3, "get --node to a closed port")
    eq(r.err.strip(), "larder: connection refused to %s:%d" % (h.HOST, port),
       "refused message")


def test_activate_rollback(ctx):
    ctx.larder_only("the larder CLI")
    c = Cluster(ctx)
    c.load("users", USERS_V1)
    c.load("users", USERS_V2, "--stage-only", "yes",
           "--max-row-change", "100", "--allow-schema-change")
    r = c.cli("versions", "users", "--json")
    expect(r, 0, "versions --json")
    eq([(x["version"], x["state"], x["active"]) for x in json.loads(r.out)],
       [(1, "active", True), (2, "staged", False)], "versions after stage")

    r = c.cli("activate", "users=99")
    expect(r, 1, "activate a missing version")
    check("activation refused" in r.err, "stderr: %r" % r.err)

    # The node pulls the staged version in the background: activation is
    # refused until it holds it.
    last = [None]

    def activated():
        last[0] = c.cli("activate", "users=2", "--json")
        return last[0].rc == 0
    try:
        h.wait_until(activated, 20, interval=0.2, what="activate users=2")
    except h.TestFailure:
        h.fail("activate users=2 never succeeded; last: %r" % (last[0],))
    out = json.loads(last[0].out)
    eq(out["changes"], [{"table": "users", "from": 1, "to": 2}],
       "activate --json changes")
    eq(out["tables"], {"users": 2}, "activate --json tables")
    gen = out["generation"]

    r = c.cli("active", "--json")
    eq(json.loads(r.out)["generation"], gen, "active generation")
    c.wait_value("users", "1", ROW1_V2)
    # The previous version stays readable when pinned.
    r = c.cli("mget", "users", "1", "4", "--version", "1", "--json")
    expect(r, 1, "mget --version 1 (key 4 absent there)")
    got = json.loads(r.out)
    eq(got[0]["value"], ROW1_V1, "mget --version 1: key 1")
    eq(got[1]["found"], False, "mget --version 1: key 4")
    r = c.cli("get", "users", "4")
    expect(r, 0, "get users 4 from version 2")

    r = c.cli("rollback")
    expect(r, 0, "rollback")
    eq(r.out, "generation %d\nusers: 2 -> 1\n" % (gen + 1), "rollback output")
    c.wait_value("users", "1", ROW1_V1)
    r = c.cli("versions", "users")
    rows = [ln.split() for ln in r.out.splitlines()[1:]]
    eq([(x[0], x[-1]) for x in rows], [("1", "yes"), ("2", "-")],
       "versions after rollback: active column")

    r = c.cli("activate", "users=2")
    expect(r, 0, "activate again")
    eq(r.out, "generation %d\nusers: 1 -> 2\n" % (gen + 2), "activate output")

    # With the node gone, reads cannot reach it (exit 3) while membership
    # commands still work.
    c.node.stop()
    r = c.cli("get", "users", "1", "--timeout", "500")
    expect(r, 3, "get with the node stopped")
    r = c.cli("active")
    expect(r, 0, "active with the node stopped")


def test_linked_run(ctx):
    """Versions loaded with one --run-id go together: activating one table
    alone is refused (CLI exit 1, loader exit 75) while another table holds
    a version of the run that would not be active, unless --force."""
    ctx.larder_only("the larder CLI")
    c = Cluster(ctx)
    c.load("users", USERS_V1, "--run-id", "r1")
    c.load("items", USERS_V1, "--run-id", "r1")
    for t in ("users", "items"):
        c.load(t, USERS_V2, "--run-id", "r2", "--stage-only", "yes",
               "--max-row-change", "100", "--allow-schema-change")
    last = [None]

    def refused_as_linked():
        r = last[0] = c.cli("activate", "users=2")
        if r.rc == 0:
            h.fail("activating users=2 alone was allowed although items=2 "
                   "is staged in the same run: %r" % (r,))
        return "items=2" in r.err
    try:
        h.wait_until(refused_as_linked, 20, interval=0.2,
                     what="activate users=2 refused for the linked run")
    except h.TestFailure:
        h.fail("never refused for the run link; last: %r" % (last[0],))
    expect(last[0], 1, "activate one table of a run")
    check("r2" in last[0].err, "the refusal names the run: %r"
          % last[0].err)
    r = c.cli("active", "--json")
    eq(json.loads(r.out)["tables"], {"users": 1, "items": 1},
       "nothing switched by the refusal")

    r = c.cli("activate", "users=2", "--force")
    expect(r, 0, "activate one table of a run with --force")
    r = c.cli("active", "--json")
    eq(json.loads(r.out)["tables"], {"users": 2, "items": 1},
       "users alone switched with --force")

    # The loader activates a version of a run while another table of that
    # run has a staged version: refused, exit 75, nothing switched.
    c.load("users", USERS_V1, "--run-id", "r3", "--stage-only", "yes",
           "--max-row-change", "100", "--allow-schema-change")
    r = c.load("items", USERS_V1, "--run-id", "r3", "--max-row-change",
               "100", "--allow-schema-change", rc=75)
    check("users=3" in r.err, "the loader names the linked version: %r"
          % r.err)
    r = c.cli("active", "--json")
    eq(json.loads(r.out)["tables"], {"users": 2, "items": 1},
       "the loader's refused activation switched nothing")
    # Staged together, the run activates together.
    c.load("items", USERS_V1, "--run-id", "r3", "--stage-only", "yes",
           "--max-row-change", "100", "--allow-schema-change")
    h.wait_until(lambda: c.cli("activate", "users=3", "items=4").rc == 0, 20,
                 interval=0.2, what="activate users=3 items=4 together")
    r = c.cli("active", "--json")
    eq(json.loads(r.out)["tables"], {"users": 3, "items": 4},
       "the whole run r3 active")


def test_raw_values(ctx):
    ctx.larder_only("the larder CLI")
    c = Cluster(ctx)
    c.load("raw", '{"id":"a","v":"hello"}\n{"id":"b","v":"\\u0001x"}\n'
                  '{"id":"c","v":{"k":[1,2.5]}}\n',
           "--value-field", "v", name="in.jsonl")
    c.wait_value("raw", "a", "hello")
    r = c.cli("mget", "raw", "a", "b", "c")
    expect(r, 0, "mget raw")
    eq(r.out, 'a\thello\nb\t"\\x01x"\nc\t{"k":[1,2.5]}\n', "mget raw text")
    r = c.cli("get", "raw", "b", "--json")
    eq(json.loads(r.out), {"key": "b", "value": "\u0001x", "found": True},
       "get --json of a text value with a control character")

    with open(os.path.join(c.dir, "bin.tsv"), "wb") as f:
        f.write(b"id\tv\nz\t\xff\xfeq\n")
    cmd = [binary(ctx, "loader/larder-load"), "--membership", c.membership,
           "--store", c.store, "--table", "bin", "--input",
           os.path.join(c.dir, "bin.tsv"), "--key", "id", "--value-field",
           "v", "--partitions", "4"]
    r = Result(h._run_tool(cmd, None, h.scaled(60)))
    if r.rc != 0:
        raise h.Skip("the loader refused bytes that are not UTF-8: %r" % r)
    c.wait_value("bin", "z", "//5x")
    r = c.cli("get", "bin", "z")
    eq(r.out, '"\\xff\\xfeq"\n', "get of binary bytes (text)")
    r = c.cli("get", "bin", "z", "--json")
    eq(json.loads(r.out), {"key": "z", "value": "//5x", "found": True,
                           "encoding": "base64"}, "get --json of binary")


if __name__ == "__main__":
    h.main([test_help_and_usage, test_membership_unreachable,
            test_tables_versions_get, test_activate_rollback,
            test_linked_run, test_raw_values], budget=240)
