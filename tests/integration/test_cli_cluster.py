#!/usr/bin/env python3
"""The admin CLI's cluster commands: node add/remove, nodes, ring, table
create/config, rebalance, drain/undrain and the cluster mode of status,
against a local: membership (no ZooKeeper), with the exit codes (0 ok, 1
refused or unhealthy, 2 usage, 3 unreachable) and --json that parses.

Member addresses need not be running for add/ring; one test starts a real
larderd on the same membership and sees it live, placed and readable
through routing; another sees a table grow stale past its max age and a
fresh load clear it. --seeds is tested against small fake nodes in this
process (a RESP server answering LARDER.VIEW, T.GET and T.MGET), so the
CLI's routing and -WRONGNODE following are checked whatever larderd
implements; a real node is asked too and the check skips if it does not
answer LARDER.VIEW yet. When ZooKeeper is installed, a few checks run
again on a zk:// membership.

The binaries are found next to larderd: BUILD/cli/larder and
BUILD/loader/larder-load."""

import json
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402
from test_cli import binary, expect, larder, Result, no_sanitizer_report  # noqa: E402,E501
import zk_harness  # noqa: E402


def membership_dir():
    d = os.path.join(h.tmpdir(), "membership")
    os.makedirs(d)
    return "local:" + d


def cli(ctx, membership, *args, **kw):
    return larder(ctx, "--membership", membership, *args, **kw)


def js(r, what):
    """The JSON of a --json run that must have succeeded."""
    try:
        return json.loads(r.out)
    except ValueError:
        h.fail("%s: stdout is not JSON: %r" % (what, r))


def ring(ctx, m, *extra):
    r = cli(ctx, m, "ring", "--json", *extra)
    expect(r, 0, "ring --json")
    return js(r, "ring --json")


def nodes(ctx, m, *extra):
    r = cli(ctx, m, "nodes", "--json", *extra)
    expect(r, 0, "nodes --json")
    return {n["id"]: n for n in js(r, "nodes --json")}


def check_replicas(doc, table, want, members, what):
    """Every partition of table has `want` distinct target nodes, all
    members."""
    t = [x for x in doc["tables"] if x["table"] == table]
    eq(len(t), 1, "%s: table %s in the ring" % (what, table))
    for p in t[0]["ring"]:
        tgt = p["target"]
        eq(len(set(tgt)), len(tgt), "%s: distinct nodes of partition %d"
           % (what, p["partition"]))
        eq(len(tgt), want, "%s: replicas of partition %d"
           % (what, p["partition"]))
        check(set(tgt) <= set(members), "%s: partition %d on %r, not all "
              "members of %r" % (what, p["partition"], tgt, members))
    return t[0]


def add_three(ctx, m):
    ports = [h.free_port() for _ in range(3)]
    gens = []
    for i, port in enumerate(ports):
        r = cli(ctx, m, "node", "add", "n%d" % (i + 1),
                "%s:%d" % (h.HOST, port), "--zone", "z%d" % (i + 1),
                "--json")
        expect(r, 0, "node add n%d" % (i + 1))
        out = js(r, "node add --json")
        eq(out["added"], True, "node add --json added")
        eq(out["member"]["capacity"], 100, "default capacity")
        gens.append(out["generation"])
    check(gens == sorted(gens) and gens[0] >= 1,
          "placement generations after node add: %r" % gens)
    return ports


def test_usage(ctx):
    ctx.larder_only("the larder CLI")
    m = membership_dir()
    r = larder(ctx, "--help")
    expect(r, 0, "larder --help")
    for cmd in ("nodes", "ring", "node add", "node remove", "rebalance",
                "table create", "table config", "drain", "undrain"):
        check(("  " + cmd + " ") in r.out, "--help lacks %s:\n%s"
              % (cmd, r.out))
    r = larder(ctx, "help", "node")
    expect(r, 0, "larder help node")
    check("usage: larder node add ID IP:PORT [--zone Z] [--capacity N]"
          in r.out and "usage: larder node remove ID" in r.out,
          "help node: %r" % r.out)
    cases = [
        (("node",), "node needs a command: add|remove"),
        (("node", "frob"), 'unknown command "node frob"'),
        (("table", "frob", "t"), 'unknown command "table frob"'),
        (("table", "drop"), "table drop takes TABLE"),
        (("node", "add", "n1"), "node add takes ID IP:PORT"),
        (("node", "add", "bad/id", "127.0.0.1:1"), '"bad/id" is not a node '
         "id"),
        (("node", "add", "n1", "localhost:7000"), '"localhost:7000" is not '
         "IP:PORT"),
        (("node", "add", "n1", "127.0.0.1:0"), "is not IP:PORT"),
        (("node", "add", "n1", "127.0.0.1"), "is not IP:PORT"),
        (("node", "add", "n1", "127.0.0.1:1", "--capacity", "0"),
         "--capacity: \"0\" is not a number"),
        (("node", "remove", "n1", "--zone", "a"),
         "--zone does not apply to node remove"),
        (("table", "create", "t", "--replication", "none"),
         "--replication: \"none\" is neither"),
        (("table", "create", "t", "--kind", "hot"), "--kind: \"hot\""),
        (("nodes", "--seeds", "a"), "not HOST:PORT"),
        (("get", "t", "k", "--node", "127.0.0.1:1", "--seeds",
          "127.0.0.1:2"), "--node and --seeds exclude each other"),
    ]
    for args, msg in cases:
        r = cli(ctx, m, *args)
        expect(r, 2, "larder %s" % " ".join(args))
        check(msg in r.err, "larder %s: stderr %r lacks %r"
              % (" ".join(args), r.err, msg))
        eq(r.out, "", "larder %s: stdout" % " ".join(args))


def test_placement_commands(ctx):
    ctx.larder_only("the larder CLI")
    m = membership_dir()
    r = cli(ctx, m, "nodes")
    expect(r, 0, "nodes of an empty cluster")
    check("no members" in r.out, "nodes: %r" % r.out)
    r = cli(ctx, m, "ring")
    expect(r, 0, "ring without a placement")
    check("no placement stored" in r.out, "ring: %r" % r.out)

    ports = add_three(ctx, m)
    r = cli(ctx, m, "node", "add", "n9", "%s:%d" % (h.HOST, ports[0]))
    expect(r, 1, "node add with another member's address")
    check("already the address of member n1" in r.err, "stderr %r" % r.err)

    r = cli(ctx, m, "table", "create", "users", "--partitions", "16",
            "--replication", "2", "--max-age", "3600", "--json")
    expect(r, 0, "table create users")
    out = js(r, "table create --json")
    eq((out["table"]["partitions"], out["table"]["replication"],
        out["table"]["max_age_s"], out["table"]["kind"]),
       (16, 2, 3600, "batch"), "table create --json config")
    gen_created = out["generation"]
    r = cli(ctx, m, "table", "create", "users")
    expect(r, 1, "table create of an existing table")
    check("table users exists" in r.err, "stderr %r" % r.err)
    r = cli(ctx, m, "table", "create", "sessions", "--kind", "live")
    expect(r, 0, "table create of a live table")
    check("a live table is not placed" in r.out, "stdout %r" % r.out)

    # Every partition on 2 distinct nodes, all three used.
    doc = ring(ctx, m)
    eq(doc["generation"], gen_created, "ring generation")
    t = check_replicas(doc, "users", 2, ["n1", "n2", "n3"], "ring")
    eq(len(t["ring"]), 16, "ring partitions")
    check(all(p["current"] == p["target"] and not p["moving"]
              for p in t["ring"]), "a new table is not in motion: %r" % t)
    used = {n for p in t["ring"] for n in p["target"]}
    eq(used, {"n1", "n2", "n3"}, "nodes used by users")
    r = cli(ctx, m, "ring", "users")
    expect(r, 0, "ring users (text)")
    lines = r.out.splitlines()
    eq(lines[0], "placement generation %d" % gen_created, "ring header")
    check("table users: 16 partitions, replication 2" in r.out,
          "ring text: %r" % r.out)
    eq(lines[3].split(), ["PARTITION", "NODES", "TARGET"], "ring columns")
    eq(len(lines), 4 + 16, "ring text lines")
    r = cli(ctx, m, "ring", "sessions")
    expect(r, 1, "ring of a table that is not placed")
    check("table sessions is not in the placement" in r.err,
          "stderr %r" % r.err)

    ns = nodes(ctx, m)
    eq(sorted(ns), ["n1", "n2", "n3"], "nodes")
    eq(sum(n["partitions"] for n in ns.values()), 32, "replicas held")
    for n in ns.values():
        eq((n["live"], n["draining"], n["member"], n["incoming"]),
           (False, False, True, 0), "node %s" % n["id"])
    eq(ns["n2"]["zone"], "z2", "zone of n2")
    r = cli(ctx, m, "nodes")
    expect(r, 0, "nodes (text)")
    eq(r.out.splitlines()[0].split(),
       ["ID", "ADDRESS", "ZONE", "CAPACITY", "LIVE", "STATE", "DRAINING",
        "MEMORY", "PARTITIONS"], "nodes header")

    # remove: the ring changes, the generation increases; n2 keeps what
    # it holds until the move finishes, and shows as removed.
    r = cli(ctx, m, "node", "remove", "n2", "--json")
    expect(r, 0, "node remove n2")
    out = js(r, "node remove --json")
    check(out["generation"] > gen_created and out["changed"],
          "node remove --json: %r" % out)
    held_by_n2 = ns["n2"]["partitions"]
    eq(len(out["moved"]), held_by_n2, "partitions moved off n2")
    check(all("n2" in x["from"] and "n2" not in x["to"]
              for x in out["moved"]), "moves: %r" % out["moved"])
    eq(out["in_motion"], held_by_n2, "in motion after node remove")
    doc = ring(ctx, m)
    eq(doc["generation"], out["generation"], "ring generation after remove")
    t = check_replicas(doc, "users", 2, ["n1", "n3"], "ring after remove")
    moving = [p for p in t["ring"] if p["moving"]]
    eq(len(moving), held_by_n2, "partitions moving")
    check(all("n2" in p["current"] for p in moving), "moving: %r" % moving)
    ns = nodes(ctx, m)
    eq((ns["n2"]["member"], ns["n2"]["partitions"]), (False, held_by_n2),
       "n2 after removal")
    check(ns["n1"]["incoming"] + ns["n3"]["incoming"] == held_by_n2,
          "incoming: %r" % ns)
    r = cli(ctx, m, "node", "remove", "n2")
    expect(r, 1, "node remove of a removed member")
    check("no member n2" in r.err, "stderr %r" % r.err)

    # rebalance with no live member is refused (nothing changes).
    r = cli(ctx, m, "rebalance")
    expect(r, 1, "rebalance with no live member")
    check("refused: no live member" in r.err, "stderr %r" % r.err)
    eq(ring(ctx, m)["generation"], out["generation"],
       "generation after a refused rebalance")

    # table config: replication changes re-place; partitions are refused.
    r = cli(ctx, m, "table", "config", "users", "--partitions", "32")
    expect(r, 1, "table config --partitions")
    check("repartition" in r.err and "out of scope" in r.err,
          "stderr %r" % r.err)
    r = cli(ctx, m, "table", "config", "users", "--replication", "1",
            "--fallback-key", "popular", "--json")
    expect(r, 0, "table config --replication 1")
    out = js(r, "table config --json")
    eq((out["changed"], out["table"]["replication"],
        out["table"]["fallback_key"]), (True, 1, "popular"),
       "table config --json")
    check_replicas(ring(ctx, m), "users", 1, ["n1", "n3"],
                   "ring after config")
    r = cli(ctx, m, "table", "config", "nosuch", "--max-age", "1")
    expect(r, 1, "table config of a missing table")
    r = cli(ctx, m, "tables", "--json")
    expect(r, 0, "tables --json")
    eq({t["table"]: (t["kind"], t["replication"]) for t in js(r, "tables")},
       {"users": ("batch", 1), "sessions": ("live", "all")}, "tables")

    # drain: visible in nodes, and its partitions leave the target.
    r = cli(ctx, m, "drain", "n1", "--json")
    expect(r, 0, "drain n1")
    eq(js(r, "drain --json")["draining"], True, "drain --json")
    eq(nodes(ctx, m)["n1"]["draining"], True, "n1 draining")
    t = check_replicas(ring(ctx, m), "users", 1, ["n3"], "ring after drain")
    r = cli(ctx, m, "drain", "n3")
    expect(r, 1, "drain of the last member not draining")
    check("last member not draining" in r.err, "stderr %r" % r.err)
    r = cli(ctx, m, "nodes")
    n1 = [ln for ln in r.out.splitlines() if ln.startswith("n1 ")][0]
    eq(n1.split()[6], "yes", "nodes text: DRAINING of n1")
    r = cli(ctx, m, "undrain", "n1")
    expect(r, 0, "undrain n1")
    eq(nodes(ctx, m)["n1"]["draining"], False, "n1 undrained")
    doc = ring(ctx, m)
    check_replicas(doc, "users", 1, ["n1", "n3"], "ring after undrain")
    check(any("n1" in p["target"] for p in doc["tables"][0]["ring"]),
          "n1 takes partitions again after undrain")
    r = cli(ctx, m, "drain", "nosuch")
    expect(r, 1, "drain of a missing member")

    # status: no member is live: degraded, exit 1.
    r = cli(ctx, m, "status")
    expect(r, 1, "status with no live node")
    check(r.out.startswith("cluster %s: degraded\n" % m), "status: %r"
          % r.out)
    check("  node n1 is not live\n" in r.out, "status: %r" % r.out)
    r = cli(ctx, m, "status", "--json")
    expect(r, 1, "status --json with no live node")
    st = js(r, "status --json")
    eq(st["verdict"], "degraded", "status verdict")
    check("node n3 is not live" in st["reasons"], "reasons %r" % st)
    eq(sorted(n["id"] for n in st["nodes"]), ["n1", "n2", "n3"],
       "status nodes")

    # Removing the last members leaves the placement as it is.
    expect(cli(ctx, m, "node", "remove", "n1"), 0, "node remove n1")
    r = cli(ctx, m, "node", "remove", "n3")
    expect(r, 0, "node remove of the last member")
    check("no member left" in r.out, "stdout %r" % r.out)


def test_live_node(ctx):
    """One larderd registers itself in the membership: live, placed by
    rebalance, read through routing, and not live once stopped."""
    ctx.larder_only("the larder CLI")
    d = h.tmpdir()
    data = os.path.join(d, "data")
    m = "local:" + os.path.join(data, "membership")
    node = ctx.server(["--data-dir", data, "--node-id", "n1",
                       "--watch-interval-ms", "50"])
    addr = "%s:%d" % (h.HOST, node.port)

    def live():
        r = cli(ctx, m, "nodes", "--json")
        if r.rc != 0:
            return False
        n = {x["id"]: x for x in json.loads(r.out)}.get("n1")
        return n is not None and n["live"] and n["state"] == "ready"
    h.wait_until(live, 20, interval=0.1, what="n1 live and ready in nodes")
    n1 = nodes(ctx, m)["n1"]
    eq(n1["addr"], addr, "n1's address")
    r = cli(ctx, m, "status")
    expect(r, 0, "status of a cluster of one live node")
    check(r.out.startswith("cluster %s: healthy\n" % m), "status %r" % r.out)

    store = "file://" + os.path.join(data, "store")
    path = os.path.join(d, "users.tsv")
    with open(path, "w") as f:
        f.write("id\tname\n" + "".join("%d\tu%d\n" % (i, i)
                                        for i in range(40)))
    cp = h._run_tool([binary(ctx, "loader/larder-load"), "--membership", m,
                      "--store", store, "--table", "users", "--input", path,
                      "--key", "id", "--partitions", "8", "--ready-timeout",
                      str(int(h.scaled(30)))], None, h.scaled(60))
    r = Result(cp)
    no_sanitizer_report("larder-load", r)
    if r.rc != 0:
        h.fail("larder-load failed: %r" % r)

    r = cli(ctx, m, "rebalance", "--json")
    expect(r, 0, "rebalance with one live node")
    out = js(r, "rebalance --json")
    check(out["generation"] >= 1, "rebalance --json: %r" % out)
    doc = ring(ctx, m)
    t = check_replicas(doc, "users", 1, ["n1"], "ring with one node")
    eq(len(t["ring"]), 8, "partitions of users")
    eq(nodes(ctx, m)["n1"]["partitions"], 8, "partitions held by n1")

    def healthy():
        r = cli(ctx, m, "status", "--json")
        return r.rc == 0 and json.loads(r.out)["verdict"] == "healthy"
    h.wait_until(healthy, 20, interval=0.1, what="status healthy after load")
    st = js(cli(ctx, m, "status", "--json"), "status --json")
    users = [x for x in st["tables"] if x["table"] == "users"][0]
    eq((users["active_version"], users["needed_replicas"],
        users["partitions_ready"]), (1, 1, 8), "status of users")

    # The same through the node's own LARDER.VIEW.
    check(view_supported(ctx, addr), "larderd answers LARDER.VIEW")

    def seeds_healthy():
        r = cli(ctx, m, "status", "--seeds", addr, "--json")
        if r.rc != 0:
            return False
        st = json.loads(r.out)
        u = [x for x in st["tables"] if x["table"] == "users"]
        return u and u[0]["partitions_ready"] == 8 and \
            st["placement_generation"] == doc["generation"]
    h.wait_until(seeds_healthy, 20, interval=0.1,
                 what="status --seeds healthy with users placed")
    doc2 = ring(ctx, m, "--seeds", addr)
    eq(doc2, doc, "ring --seeds equals ring from the membership")
    r = cli(ctx, "local:/nonexistent", "get", "users", "5", "--seeds", addr)
    expect(r, 0, "get --seeds through the node's view")
    eq(json.loads(r.out), {"name": "u5"}, "get --seeds value")

    # Routed reads: each key's partition is on n1.
    def readable():
        return cli(ctx, m, "get", "users", "7").rc == 0
    h.wait_until(readable, 15, interval=0.1, what="get users 7")
    r = cli(ctx, m, "mget", "users", "1", "2", "3", "99", "--json")
    expect(r, 1, "mget with an absent key")
    eq([(x["key"], x["found"]) for x in js(r, "mget")],
       [("1", True), ("2", True), ("3", True), ("99", False)], "mget found")
    eq(js(r, "mget")[0]["value"], {"name": "u1"}, "mget value")

    node.stop()
    r = cli(ctx, m, "status")
    expect(r, 1, "status with the node stopped")
    check("node n1 is not live" in r.out, "status %r" % r.out)
    r = cli(ctx, m, "rebalance")
    expect(r, 1, "rebalance with the only node stopped")
    r = cli(ctx, m, "get", "users", "1", "--timeout", "500")
    expect(r, 3, "get with the only node stopped")
    check("no live node" in r.err, "stderr %r" % r.err)


def load_table(ctx, m, store, table, path):
    """Loads path into table with larder-load (which activates it once
    ready)."""
    cp = h._run_tool([binary(ctx, "loader/larder-load"), "--membership", m,
                      "--store", store, "--table", table, "--input", path,
                      "--key", "id", "--ready-timeout",
                      str(int(h.scaled(30)))], None, h.scaled(60))
    r = Result(cp)
    no_sanitizer_report("larder-load", r)
    if r.rc != 0:
        h.fail("larder-load failed: %r" % r)


def status_table(st, table):
    t = [x for x in st["tables"] if x["table"] == table]
    eq(len(t), 1, "table %s in status --json" % table)
    return t[0]


def test_freshness(ctx):
    """A table whose active version is older than its max age makes the
    cluster's status degraded (exit 1, the table named as stale), through
    the membership and through a node's LARDER.VIEW; a fresh load makes it
    healthy again. A table without a max age is never stale."""
    ctx.larder_only("the larder CLI")
    d = h.tmpdir()
    data = os.path.join(d, "data")
    m = "local:" + os.path.join(data, "membership")
    node = ctx.server(["--data-dir", data, "--node-id", "n1",
                       "--watch-interval-ms", "50"])
    addr = "%s:%d" % (h.HOST, node.port)
    h.wait_until(lambda: nodes(ctx, m).get("n1", {}).get("live"), 20,
                 interval=0.1, what="n1 live")
    expect(cli(ctx, m, "table", "create", "daily", "--partitions", "4"), 0,
           "table create daily")
    store = "file://" + os.path.join(data, "store")
    path = os.path.join(d, "daily.tsv")
    with open(path, "w") as f:
        f.write("id\tname\n" + "".join("%d\tu%d\n" % (i, i)
                                        for i in range(20)))
    load_table(ctx, m, store, "daily", path)

    def status(*extra):
        r = cli(ctx, m, "status", *extra)
        st = json.loads(r.out) if "--json" in extra and r.out else None
        return r, st

    def verdict_is(want, *extra):
        r, st = status("--json", *extra)
        if st is None or r.rc != (0 if want == "healthy" else 1) or \
                st["verdict"] != want:
            return False
        return any(x["table"] == "daily" and x["active_version"]
                   for x in st["tables"])

    # No max age: healthy, with the age shown and never stale.
    h.wait_until(lambda: verdict_is("healthy"), 20, interval=0.1,
                 what="status healthy after the first load")
    r, st = status("--json")
    t = status_table(st, "daily")
    eq((t["active_version"], t["max_age_seconds"], t["stale"]), (1, 0, False),
       "daily with no max age")
    check(isinstance(t["age_seconds"], int) and t["age_seconds"] >= 0,
          "age_seconds: %r" % t)

    # A max age longer than a load takes: the version grows stale.
    max_age = int(h.scaled(5))
    expect(cli(ctx, m, "table", "config", "daily", "--max-age",
               str(max_age)), 0, "table config --max-age")
    h.wait_until(lambda: verdict_is("degraded"), max_age + h.scaled(10),
                 interval=0.2, what="status degraded once daily is stale")
    r, st = status()
    expect(r, 1, "status with daily stale")
    check("table daily version 1 is stale: " in r.out and
          "(max age %d s)" % max_age in r.out, "status: %r" % r.out)
    hdr = [x for x in r.out.splitlines() if x.startswith("TABLE")]
    check(hdr and hdr[0].split()[-4:] == ["AGE", "MAX", "AGE", "FRESH"],
          "status table header: %r" % r.out)
    row = [x for x in r.out.splitlines() if x.startswith("daily ")]
    check(row and row[0].split()[-1] == "no", "status row: %r" % r.out)
    r, st = status("--json")
    t = status_table(st, "daily")
    eq((t["max_age_seconds"], t["stale"]), (max_age, True), "daily stale")
    check(t["age_seconds"] >= max_age, "age_seconds: %r" % t)
    check(any("daily" in x and "stale" in x for x in st["reasons"]),
          "reasons: %r" % st["reasons"])

    # The same through the node's LARDER.VIEW, once the node has read the
    # new max age.
    if view_supported(ctx, addr):
        h.wait_until(lambda: verdict_is("degraded", "--seeds", addr), 20,
                     interval=0.1, what="status --seeds degraded")
        r, st = status("--json", "--seeds", addr)
        t = status_table(st, "daily")
        eq((t["max_age_seconds"], t["stale"]), (max_age, True),
           "daily stale by --seeds")

    # A fresh load: healthy again.
    load_table(ctx, m, store, "daily", path)
    h.wait_until(lambda: verdict_is("healthy"), 20, interval=0.1,
                 what="status healthy after a fresh load")
    r, st = status("--json")
    t = status_table(st, "daily")
    eq((t["active_version"], t["stale"]), (2, False), "daily after reload")
    check(t["age_seconds"] <= max_age, "age_seconds: %r" % t)
    if view_supported(ctx, addr):
        h.wait_until(lambda: verdict_is("healthy", "--seeds", addr), 20,
                     interval=0.1, what="status --seeds healthy again")


# ---------------------------------------------------------------------------
# --seeds against fake nodes
# ---------------------------------------------------------------------------

def _read_command(f):
    """One RESP array of bulk strings from a binary file; None at EOF."""
    line = f.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        raise ValueError("not a RESP array: %r" % line)
    args = []
    for _ in range(int(line[1:])):
        n = int(f.readline()[1:])
        args.append(f.read(n + 2)[:n].decode())
    return args


def _bulk(s):
    b = s.encode()
    return b"$%d\r\n%s\r\n" % (len(b), b)


class FakeNode:
    """A RESP server on 127.0.0.1 in a thread: LARDER.VIEW returns
    self.view (JSON), T.GET / T.MGET call self.read(args); every command
    is recorded in self.commands."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((h.HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.addr = "%s:%d" % (h.HOST, self.port)
        self.view = "{}"
        self.read = lambda args: b"-ERR no data\r\n"
        self.commands = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        with conn, conn.makefile("rb") as f:
            while True:
                try:
                    args = _read_command(f)
                except (ValueError, OSError):
                    return
                if args is None:
                    return
                self.commands.append(args)
                if args[0] == "LARDER.VIEW":
                    reply = _bulk(self.view)
                elif args[0] in ("T.GET", "T.MGET"):
                    reply = self.read(args)
                else:
                    reply = b"-ERR unknown command\r\n"
                try:
                    conn.sendall(reply)
                except OSError:
                    return

    def close(self):
        self.sock.close()


def fake_view(a, b, current):
    """A view of table items (len(current) partitions) on nodes a and b
    (fake nodes, or addresses); current lists node indexes (0: a, 1: b)
    per partition, or lists of them."""
    lists = [c if isinstance(c, list) else [c] for c in current]
    replicas = max(len(x) for x in lists)
    placement = {
        "format": 1, "generation": 3,
        "nodes": [{"id": "a", "zone": "", "capacity": 100, "member": True},
                  {"id": "b", "zone": "", "capacity": 100, "member": True}],
        "tables": [{"name": "items", "partitions": len(current),
                    "replication": replicas, "replicas": replicas,
                    "current": lists}]}
    return json.dumps({
        "generation": 12,
        "active": {"generation": 5, "tables": {"items": 7}},
        "placement": placement,
        "nodes": [{"id": n, "addr": getattr(x, "addr", x), "zone": "",
                   "capacity": 100, "live": True, "state": "ready",
                   "draining": False} for n, x in (("a", a), ("b", b))],
        "ready": {"items": {"7": [replicas] * len(current)}}})


def mget_reply(args):
    keys = args[2:]
    if len(keys) >= 2 and keys[-2] == "VERSION":
        keys = keys[:-2]
    return b"*%d\r\n" % len(keys) + b"".join(_bulk("v:" + k) for k in keys)


def test_seeds(ctx):
    ctx.larder_only("the larder CLI")
    a, b = FakeNode(), FakeNode()
    try:
        _seeds(ctx, a, b)
    finally:
        a.close()
        b.close()


def _seeds(ctx, a, b):
    # No membership at all: the view comes from the seeds.
    nomemb = "local:" + os.path.join(h.tmpdir(), "nope")
    dead = "%s:%d" % (h.HOST, h.free_port())
    seeds = "%s,%s" % (dead, a.addr)
    a.view = b.view = fake_view(a, b, [0, 1])

    ns = nodes(ctx, nomemb, "--seeds", seeds)
    eq(sorted(ns), ["a", "b"], "nodes --seeds")
    eq((ns["a"]["addr"], ns["a"]["live"], ns["a"]["partitions"]),
       (a.addr, True, 1), "node a from the view")
    doc = ring(ctx, nomemb, "--seeds", seeds)
    eq(doc["generation"], 3, "ring --seeds generation")
    eq([p["current"] for p in doc["tables"][0]["ring"]], [["a"], ["b"]],
       "ring --seeds")
    r = cli(ctx, nomemb, "tables", "--seeds", seeds, "--json")
    expect(r, 0, "tables --seeds")
    eq(js(r, "tables --seeds"),
       [{"table": "items", "kind": "batch", "partitions": 2,
         "replication": 1, "fallback_key": None, "max_age_s": None,
         "dims": None, "active_version": 7}], "tables --seeds")
    r = cli(ctx, nomemb, "status", "--seeds", seeds, "--json")
    expect(r, 0, "status --seeds of a healthy view")
    eq(js(r, "status --seeds")["verdict"], "healthy", "status --seeds")
    # Readiness below min(R, live): degraded.
    bad = json.loads(a.view)
    bad["ready"]["items"]["7"] = [1, 0]
    a.view = b.view = json.dumps(bad)
    r = cli(ctx, nomemb, "status", "--seeds", seeds)
    expect(r, 1, "status --seeds with a partition not ready")
    check("table items version 7: 1 of 2 partitions have fewer than 1 "
          "ready replica" in r.out, "status: %r" % r.out)

    # Keys spread over a and b: one T.MGET each, pinned to version 7.
    a.view = b.view = fake_view(a, b, [0, 1])
    a.read = b.read = mget_reply
    keys = ["key%d" % i for i in range(20)]
    r = cli(ctx, nomemb, "mget", "items", *keys, "--seeds", seeds, "--json")
    expect(r, 0, "mget --seeds over two nodes")
    eq([(x["key"], x["value"]) for x in js(r, "mget --seeds")],
       [(k, "v:" + k) for k in keys], "mget --seeds values in order")
    sent = {}
    for node in (a, b):
        mg = [c for c in node.commands if c[0] == "T.MGET"]
        eq(len(mg), 1, "T.MGET commands to %s" % node.addr)
        eq(mg[0][-2:], ["VERSION", "7"], "pinned version")
        sent[node.addr] = mg[0][2:-2]
    eq(sorted(sent[a.addr] + sent[b.addr]), sorted(keys),
       "each key sent once")

    # Every partition on a, which answers -WRONGNODE towards b.
    a.view = b.view = fake_view(a, b, [0, 0])
    a.read = lambda args: b"-WRONGNODE 1 " + b.addr.encode() + b"\r\n"
    b.read = lambda args: _bulk("from-b")
    r = cli(ctx, nomemb, "get", "items", "k", "--seeds", a.addr)
    expect(r, 0, "get --seeds following -WRONGNODE")
    eq(r.out, "from-b\n", "get --seeds value")
    # Two redirections in a row are not followed.
    b.read = lambda args: b"-WRONGNODE 1 " + a.addr.encode() + b"\r\n"
    r = cli(ctx, nomemb, "get", "items", "k", "--seeds", a.addr)
    expect(r, 1, "get --seeds redirected twice")
    check("try again" in r.err, "stderr %r" % r.err)

    # A replica that cannot be reached is skipped for the next one.
    a.view = b.view = fake_view(dead, b, [[0, 1], [0, 1]])
    b.read = lambda args: _bulk("from-b")
    r = cli(ctx, nomemb, "get", "items", "k", "--seeds", a.addr,
            "--timeout", "1000")
    expect(r, 0, "get --seeds with the first replica down")
    eq(r.out, "from-b\n", "get --seeds from the second replica")

    # A seed that is not a node, and no seed answering.
    a.view = "not json"
    r = cli(ctx, nomemb, "nodes", "--seeds", a.addr)
    expect(r, 1, "nodes --seeds with a bad view")
    check("LARDER.VIEW: not JSON" in r.err, "stderr %r" % r.err)
    r = cli(ctx, nomemb, "nodes", "--seeds", dead, "--timeout", "500")
    expect(r, 3, "nodes --seeds with no seed answering")
    check("no seed answered LARDER.VIEW" in r.err, "stderr %r" % r.err)


def view_supported(ctx, addr):
    """True if the larderd at addr answers LARDER.VIEW."""
    with h.Conn(int(addr.rsplit(":", 1)[1])) as c:
        r = c.call("LARDER.VIEW")
    return not (isinstance(r, h.RespError) and
                "unknown command" in r.message.lower())


def test_seeds_real_node(ctx):
    """A real larderd as the seed, once it answers LARDER.VIEW."""
    ctx.larder_only("the larder CLI")
    d = h.tmpdir()
    node = ctx.server(["--data-dir", os.path.join(d, "data"), "--node-id",
                       "n1", "--watch-interval-ms", "50"])
    addr = "%s:%d" % (h.HOST, node.port)
    if not view_supported(ctx, addr):
        h.fail("larderd does not answer LARDER.VIEW")

    def listed():
        r = larder(ctx, "--membership", "local:/nonexistent", "nodes",
                   "--json", "--seeds", addr)
        return r.rc == 0 and any(n["id"] == "n1" and n["addr"] == addr
                                 for n in json.loads(r.out))
    h.wait_until(listed, 20, interval=0.1, what="n1 in nodes --seeds")


def test_zookeeper(ctx):
    """A few of the checks on a zk:// membership."""
    ctx.larder_only("the larder CLI")
    ok, why = zk_harness.available()
    if not ok:
        h.unavailable(why)
    zk = zk_harness.ZooKeeper().start()
    try:
        m = zk.uri("/larder-cli")
        add_three(ctx, m)
        r = cli(ctx, m, "table", "create", "users", "--partitions", "8",
                "--replication", "2")
        expect(r, 0, "table create on zk")
        check_replicas(ring(ctx, m), "users", 2, ["n1", "n2", "n3"],
                       "ring on zk")
        expect(cli(ctx, m, "drain", "n2"), 0, "drain on zk")
        eq(nodes(ctx, m)["n2"]["draining"], True, "drain visible on zk")
        check_replicas(ring(ctx, m), "users", 2, ["n1", "n3"],
                       "ring after drain on zk")
        expect(cli(ctx, m, "undrain", "n2"), 0, "undrain on zk")
        eq(nodes(ctx, m)["n2"]["draining"], False, "undrain on zk")
        gen = ring(ctx, m)["generation"]
        expect(cli(ctx, m, "node", "remove", "n3"), 0, "node remove on zk")
        check(ring(ctx, m)["generation"] > gen, "generation after remove")
        r = cli(ctx, m, "status")
        expect(r, 1, "status on zk, nothing live")
    finally:
        zk.stop()


if __name__ == "__main__":
    h.main([test_usage, test_placement_commands, test_live_node,
            test_freshness, test_seeds, test_seeds_real_node,
            test_zookeeper], budget=240)
