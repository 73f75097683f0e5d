#!/usr/bin/env python3
"""Cluster node lifecycle with several larderd processes sharing one local:
membership and one file store (each with its own --data-dir and
--node-id), the placement written by the test.

Covered: registration (--advertise, --zone, --capacity as LARDER.VIEW
lists them; live state ready); a load staged with larder-load and
activated with `larder activate`, each node pulling and recording ready
exactly the partitions the placement routes to it (current ∪ target), as
INFO batch, T.INFO and the readiness records show; T.GET of every key on
its owners, -WRONGNODE <partition> <ip:port> naming an owner (current
first) from the others, T.MGET answering -WRONGNODE for the first key not
held; LARDER.VIEW's JSON (view generation, active map, placement, nodes,
this node's readiness) and SINCE; a placement change (a partition moves:
the target pulls it at once, the old owner drops it only once the
placement no longer lists it); LARDER.DRAIN and the membership drain mark
flipping /health to 503 draining and back while the node keeps serving;
a node restarted while membership is unreachable serving exactly its last
partitions, degraded; a node that cannot switch to the cluster's newly
activated generation (the version is over its --batch-memory) answering
/health 503 "joining" with the reason while it serves the previous one,
then 200 once it serves the active generation again. With ZooKeeper installed (zk_harness.py), the same
registration and drain through a zk: membership, without a placement
(every node holds every partition).

The placement document follows membership/placement.h's JSON form and is
stored the way the local: backend keeps it (placement.json =
{cas_version, placement}); a drain mark is local:'s drain/<id>.json.
"""

import http.client
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check, expect_error  # noqa: E402

os.environ.pop("LARDER_MEMBERSHIP", None)

PARTS = 6
KEYS = 120
IDS = ["n1", "n2", "n3"]


def tool(ctx, rel):
    build = os.path.dirname(os.path.dirname(ctx.opts.larderd))
    path = os.path.join(build, rel)
    if not os.access(path, os.X_OK):
        h.unavailable("%s is not built" % path)
    return path


def write_atomic(path, text):
    tmp = path + ".tmp-test"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Cluster:
    """Three nodes over one membership directory and one store."""

    def __init__(self, ctx):
        ctx.larder_only("cluster nodes")
        self.ctx = ctx
        self.loader = tool(ctx, "loader/larder-load")
        self.cli_path = tool(ctx, "cli/larder")
        self.dir = h.tmpdir()
        self.mdir = os.path.join(self.dir, "membership")
        self.membership = "local:" + self.mdir
        self.store = "file://" + os.path.join(self.dir, "store")
        self.cas = 0
        self.nodes = {}
        self.http = {}
        self.zones = {"n1": "z1", "n2": "z2", "n3": "z1"}
        self.capacity = {"n1": 200, "n2": 100, "n3": 100}

    def args(self, nid, membership=None):
        return ["--data-dir", os.path.join(self.dir, "data-" + nid),
                "--node-id", nid, "--membership", membership or
                self.membership, "--store", self.store, "--threads", "2",
                "--watch-interval-ms", "50", "--zone", self.zones[nid],
                "--capacity", self.capacity[nid], "--http-port",
                self.http[nid],
                # The test writes the placement itself, moves included.
                "--placement-controller", "no"]

    def start(self, nid, membership=None, extra=()):
        port = h.free_port()
        self.http.setdefault(nid, h.free_port())
        args = self.args(nid, membership) + ["--advertise",
                                             "%s:%d" % (h.HOST, port)] + \
            list(extra)
        srv = self.ctx.server(args, port=port)
        self.nodes[nid] = srv
        return srv

    def addr(self, nid):
        return "%s:%d" % (h.HOST, self.nodes[nid].port)

    def put_placement(self, generation, current, target=None):
        """Stores a placement of table users: current[p] (and target[p])
        are lists of node ids."""
        idx = {nid: i for i, nid in enumerate(IDS)}
        table = {"name": "users", "partitions": PARTS, "replication": 1,
                 "replicas": 1,
                 "current": [[idx[n] for n in c] for c in current]}
        if target is not None:
            table["target"] = [[idx[n] for n in t] for t in target]
        doc = {"format": 1, "generation": generation,
               "nodes": [{"id": nid, "zone": self.zones[nid],
                          "capacity": self.capacity[nid], "member": True}
                         for nid in IDS],
               "tables": [table]}
        self.cas += 1
        write_atomic(os.path.join(self.mdir, "placement.json"),
                     json.dumps({"cas_version": self.cas, "placement": doc},
                                sort_keys=True))
        return doc

    def set_drain_mark(self, nid, on):
        path = os.path.join(self.mdir, "drain", nid + ".json")
        if on:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_atomic(path, json.dumps({"id": nid, "changed_ms": 1}))
        else:
            os.unlink(path)

    def input(self, tag, pad=0):
        path = os.path.join(self.dir, "users-%s.jsonl" % tag)
        with open(path, "w") as f:
            for i in range(KEYS):
                f.write(json.dumps({"id": "k%d" % i,
                                    "v": "%s" % tag + "." * pad}) + "\n")
        return path

    def run(self, cmd, what):
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=h.scaled(60))
        if p.returncode != 0:
            h.fail("%s exited %d\nstdout: %s\nstderr: %s"
                   % (what, p.returncode, p.stdout.decode(),
                      p.stderr.decode()))
        return p

    def stage(self, tag, pad=0):
        self.run([self.loader, "--membership", self.membership, "--store",
                  self.store, "--table", "users", "--input",
                  self.input(tag, pad),
                  "--key", "id", "--value-field", "v", "--partitions",
                  str(PARTS), "--stage-only", "yes"], "larder-load")

    def cli(self, *args):
        return self.run([self.cli_path, "--membership", self.membership] +
                        [str(a) for a in args], "larder " + " ".join(
                            map(str, args)))

    def ready_record(self, nid, version):
        path = os.path.join(self.mdir, "ready", "users", "v-%06d" % version,
                            nid + ".json")
        try:
            with open(path) as f:
                return json.load(f)["partitions"]
        except (OSError, ValueError):
            return None


def holders(assign):
    """{partition: [node ids]} -> {node id: sorted partitions}."""
    out = {nid: [] for nid in IDS}
    for p, ns in enumerate(assign):
        for n in ns:
            out[n].append(p)
    return out


def routing(current, target):
    return [list(dict.fromkeys(c + (target[p] if target else [])))
            for p, c in enumerate(current)]


def table_line(srv):
    info = srv.info("batch")
    line = info.get("table_users")
    check(line is not None, "INFO batch has no table_users line: %r" % info)
    return info, dict(f.split("=", 1) for f in line.split(","))


def view(srv, *args):
    r = srv.call("LARDER.VIEW", *args)
    if r is None:
        return None
    check(isinstance(r, bytes), "LARDER.VIEW: expected a bulk, got %r" % (r,))
    return json.loads(r)


def health(port):
    c = http.client.HTTPConnection(h.HOST, port, timeout=h.scaled(5))
    try:
        c.request("GET", "/health")
        resp = c.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        c.close()


def wait_health(port, status, state):
    last = [None]

    def ok():
        try:
            last[0] = health(port)
        except OSError as e:
            last[0] = repr(e)
            return False
        return last[0][0] == status and last[0][1].get("status") == state
    try:
        h.wait_until(ok, 15, what="/health %d %s" % (status, state))
    except h.TestFailure:
        h.fail("/health on %d never became %d %s; last %r"
               % (port, status, state, last[0]))


def check_keys(cl, hold, current, value, where):
    """Every key: a value from each node holding its partition, and from
    the others -WRONGNODE naming a node of current (the first live one).
    Returns {key: partition}."""
    parts = {}
    conns = {nid: cl.nodes[nid].conn() for nid in IDS}
    try:
        for i in range(KEYS):
            key = "k%d" % i
            replies = {nid: conns[nid].call("T.GET", "users", key)
                       for nid in IDS}
            seen = set()
            for nid, r in replies.items():
                if isinstance(r, h.RespError):
                    words = r.message.split(" ")
                    eq(words[0], "WRONGNODE", "%s: %s T.GET %s" % (where, nid,
                                                                 key))
                    eq(len(words), 3, "WRONGNODE form %r" % r.message)
                    seen.add(int(words[1]))
            eq(len(seen), 1, "%s: partition of %s named by non-owners (%r)"
               % (where, key, replies))
            p = seen.pop()
            parts[key] = p
            for nid, r in replies.items():
                if p in hold[nid]:
                    eq(r, value, "%s: T.GET %s on owner %s" % (where, key, nid))
                else:
                    eq(r.message, "WRONGNODE %d %s" % (p, cl.addr(current[p][0])),
                       "%s: T.GET %s on %s" % (where, key, nid))
    finally:
        for c in conns.values():
            c.close()
    eq(sorted(set(parts.values())), list(range(PARTS)),
       "%s: keys cover every partition" % where)
    return parts


def settled_keys(cl, hold, current, value, where, timeout=10):
    """check_keys() once the nodes' routes have settled: a node re-reads
    the others' readiness at most once a second, and prefers ready
    replicas, so right after a change its -WRONGNODE may name another
    holder for a moment."""
    deadline = time.monotonic() + h.scaled(timeout)
    while True:
        try:
            return check_keys(cl, hold, current, value, where)
        except h.TestFailure:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def test_cluster_lifecycle(ctx):
    cl = Cluster(ctx)
    for nid in IDS:
        cl.start(nid)
    for nid in IDS:
        h.wait_until(lambda: cl.nodes[nid].info("batch").get("batch_state")
                     == "ready", 20, what="%s ready" % nid)

    # Partition p on IDS[p % 3]; partition 5 moves from n3 to n1.
    current = [[IDS[p % 3]] for p in range(PARTS)]
    target = [list(c) for c in current]
    target[5] = ["n1"]
    placement = cl.put_placement(3, current, target)
    route = routing(current, target)
    hold = holders(route)
    eq(hold, {"n1": [0, 3, 5], "n2": [1, 4], "n3": [2, 5]}, "holdings")

    # Registration, before any load: every node lists every member.
    def all_ready():
        v = view(cl.nodes["n2"])
        return v if [(n["id"], n["state"]) for n in v["nodes"]] == \
            [(nid, "ready") for nid in IDS] and v["placement"] else None
    v0 = h.wait_until(all_ready, 20, what="all members ready in LARDER.VIEW")
    n1 = v0["nodes"][0]
    eq((n1["addr"], n1["zone"], n1["capacity"], n1["live"], n1["draining"]),
       (cl.addr("n1"), "z1", 200, True, False), "n1 as registered")
    eq(v0["placement"], placement, "LARDER.VIEW placement")

    cl.stage(1)
    for nid in IDS:
        h.wait_until(lambda: cl.ready_record(nid, 1) == hold[nid], 20,
                     what="%s ready for exactly %r (has %r)"
                     % (nid, hold[nid], cl.ready_record(nid, 1)))
    cl.cli("activate", "users=1")
    for nid in IDS:
        h.wait_until(lambda: h.info_int(cl.nodes[nid].info("batch"),
                                        "batch_generation") >= 1, 20,
                     what="%s on generation 1" % nid)

    # Each node holds only its partitions.
    for nid in IDS:
        info, line = table_line(cl.nodes[nid])
        eq(line["held_partitions"], str(len(hold[nid])),
           "%s INFO held_partitions" % nid)
        ti = cl.nodes[nid].call("T.INFO", "users")
        ti = dict(zip(ti[0::2], ti[1::2]))
        eq(ti[b"held_partitions"], len(hold[nid]), "%s T.INFO held" % nid)
        eq(ti[b"partitions"], PARTS, "%s T.INFO partitions" % nid)
        check(0 < ti[b"held_bytes"] < ti[b"bytes"],
              "%s holds part of the bytes: %r" % (nid, ti))
        eq(h.info_int(info, "batch_used_bytes"), ti[b"held_bytes"],
           "%s budget counts the held bytes" % nid)
        eq(ti[b"view_generation"], (1 << 32) + 3, "%s T.INFO view_gen" % nid)
        eq(h.info_int(info, "view_generation"), (1 << 32) + 3,
           "%s INFO view_generation" % nid)

    parts = settled_keys(cl, hold, current, b"1", "generation 1")

    # T.MGET is atomic: -WRONGNODE for the first key not held here.
    mine = [k for k, p in sorted(parts.items()) if p in hold["n2"]][:3]
    other = [k for k, p in sorted(parts.items()) if p not in hold["n2"]][0]
    eq(cl.nodes["n2"].call("T.MGET", "users", *mine), [b"1"] * 3,
       "T.MGET of held keys")
    eq(cl.nodes["n2"].call("T.MGET", "users", mine[0], other, mine[1]),
       h.RespError("WRONGNODE %d %s" % (parts[other],
                                        cl.addr(current[parts[other]][0]))),
       "T.MGET with a key held elsewhere")
    # Pinned reads follow the same rule.
    eq(cl.nodes["n2"].call("T.GET", "users", other, "VERSION", 1).message
       .split(" ")[0], "WRONGNODE", "pinned T.GET of a key held elsewhere")

    # LARDER.VIEW: generation, active map, placement, every node's
    # readiness (from membership).
    want_ready = {"users": {"1": {nid: hold[nid] for nid in IDS}}}
    h.wait_until(lambda: view(cl.nodes["n3"])["ready"] == want_ready, 5,
                 what="n3's view of every node's readiness")
    v = view(cl.nodes["n3"])
    gen = (1 << 32) + 3
    eq(v["generation"], gen, "LARDER.VIEW generation")
    eq(v["active"], {"generation": 1, "tables": {"users": 1}},
       "LARDER.VIEW active")
    eq(v["placement"], placement, "LARDER.VIEW placement")
    eq(v["ready"], want_ready, "LARDER.VIEW ready")
    eq(v["ready_source"], "membership", "LARDER.VIEW ready_source")
    eq([n["id"] for n in v["nodes"]], IDS, "LARDER.VIEW node ids")
    eq(view(cl.nodes["n3"], "SINCE", gen), None, "LARDER.VIEW SINCE current")
    eq(view(cl.nodes["n3"], "SINCE", gen - 1)["generation"], gen,
       "LARDER.VIEW SINCE older")
    expect_error(cl.nodes["n3"].call("LARDER.VIEW", "SINCE", "x"), "ERR",
                 "LARDER.VIEW SINCE x")

    # The move completes: n3 is no longer listed for partition 5 and drops
    # it; n2 gains partition 0 as a target and pulls it at once, while n1
    # keeps it (still current).
    current2 = [list(c) for c in current]
    current2[5] = ["n1"]
    target2 = [list(c) for c in current2]
    target2[0] = ["n2"]
    cl.put_placement(4, current2, target2)
    hold2 = holders(routing(current2, target2))
    eq(hold2, {"n1": [0, 3, 5], "n2": [0, 1, 4], "n3": [2]}, "new holdings")
    for nid in IDS:
        h.wait_until(lambda: cl.ready_record(nid, 1) == hold2[nid], 20,
                     what="%s ready for exactly %r (has %r)"
                     % (nid, hold2[nid], cl.ready_record(nid, 1)))
        h.wait_until(lambda: h.info_int(cl.nodes[nid].info("batch"),
                                        "view_generation") == (1 << 32) + 4,
                     20, what="%s on view generation 1:4" % nid)
    part5 = os.path.join(cl.dir, "data-n3", "segments", "users", "v-000001",
                         "part-00005.seg")
    check(not os.path.exists(part5), "n3 deleted its copy of partition 5")
    settled_keys(cl, hold2, current2, b"1", "after the move")

    # Drain by command: 503 draining, still serving, then back.
    n1s = cl.nodes["n1"]
    eq(n1s.call("LARDER.DRAIN"), "OK", "LARDER.DRAIN")
    wait_health(cl.http["n1"], 503, "draining")
    eq(h.info_int(n1s.info("batch"), "draining"), 1, "INFO draining")
    key0 = [k for k, p in parts.items() if p == 0][0]
    eq(n1s.call("T.GET", "users", key0), b"1", "a draining node serves")
    h.wait_until(lambda: view(cl.nodes["n2"])["nodes"][0]["state"] ==
                 "draining", 20, what="n1's live state draining")
    eq(n1s.call("LARDER.DRAIN", "OFF"), "OK", "LARDER.DRAIN OFF")
    wait_health(cl.http["n1"], 200, "ok")
    h.wait_until(lambda: view(cl.nodes["n2"])["nodes"][0]["state"] ==
                 "ready", 20, what="n1's live state ready again")
    expect_error(n1s.call("LARDER.DRAIN", "maybe"), "ERR", "LARDER.DRAIN bad")

    # Drain by the operator's mark in membership.
    cl.set_drain_mark("n2", True)
    wait_health(cl.http["n2"], 503, "draining")
    h.wait_until(lambda: view(cl.nodes["n3"])["nodes"][1]["draining"], 20,
                 what="n2's drain mark in LARDER.VIEW")
    cl.set_drain_mark("n2", False)
    wait_health(cl.http["n2"], 200, "ok")

    # Restarted while membership is unreachable: exactly the last
    # partitions, degraded.
    n3 = cl.nodes["n3"]
    n3.stop_and_check()
    blocker = os.path.join(cl.dir, "not-a-dir")
    open(blocker, "w").close()
    n3 = cl.start("n3", membership="local:" + os.path.join(blocker, "m"))
    h.wait_until(lambda: n3.info("batch").get("batch_state") == "ready", 20,
                 what="n3 serving its saved view")
    info, line = table_line(n3)
    eq(info.get("batch_degraded"), "1", "restarted n3 is degraded")
    eq(line["held_partitions"], str(len(hold2["n3"])),
       "restarted n3 holds its last partitions")
    v = view(n3)
    eq(v["generation"], (1 << 32) + 4, "restarted n3's view generation")
    for key, p in sorted(parts.items())[:30]:
        r = n3.call("T.GET", "users", key)
        if p in hold2["n3"]:
            eq(r, b"1", "degraded n3 T.GET %s" % key)
        else:
            eq(r, h.RespError("WRONGNODE %d %s"
                              % (p, cl.addr(current2[p][0]))),
               "degraded n3 T.GET %s (partition %d)" % (key, p))


def test_health_joining_while_behind(ctx):
    """Two nodes without a placement (each holds every partition). n2,
    restarted with a --batch-memory that holds version 1 but not version 2
    beside it, refuses version 2; once n1 makes it active, n2 keeps serving
    version 1 and /health says 503 "joining" with the reason (INFO too);
    after a rollback names version 1 again, n2 switches and says 200 ok."""
    cl = Cluster(ctx)
    ids = IDS[:2]
    for nid in ids:
        cl.start(nid)
    for nid in ids:
        wait_health(cl.http[nid], 200, "ok")

    def on_generation(nid, gen):
        h.wait_until(lambda: h.info_int(cl.nodes[nid].info("batch"),
                                        "batch_generation") == gen, 20,
                     what="%s on generation %d" % (nid, gen))

    cl.stage(1)
    for nid in ids:
        h.wait_until(lambda: cl.ready_record(nid, 1) == list(range(PARTS)),
                     20, what="%s ready for version 1" % nid)
    cl.cli("activate", "users=1")
    for nid in ids:
        on_generation(nid, 1)
    v1_bytes = h.info_int(cl.nodes["n2"].info("batch"), "batch_used_bytes")
    check(v1_bytes > 0, "n2 holds version 1")
    # Version 2 is far bigger; staged while both nodes have room.
    cl.stage(2, pad=4000)
    for nid in ids:
        h.wait_until(lambda: cl.ready_record(nid, 2) == list(range(PARTS)),
                     20, what="%s ready for version 2" % nid)

    n2 = cl.nodes["n2"]
    n2.stop_and_check()
    budget = v1_bytes + 64 * 1024
    n2 = cl.start("n2", extra=["--batch-memory", str(budget)])
    h.wait_until(lambda: h.info_int(n2.info("batch"),
                                    "batch_refusals_total") >= 1, 20,
                 what="n2 to refuse version 2")
    on_generation("n2", 1)
    wait_health(cl.http["n2"], 200, "ok")

    cl.cli("activate", "users=2")
    on_generation("n1", 2)
    wait_health(cl.http["n1"], 200, "ok")
    wait_health(cl.http["n2"], 503, "joining")

    def switch_failed():
        # "pulling generation 2 (serving 1)" until its first attempt fails.
        got = health(cl.http["n2"])
        return got if got[1]["reasons"][:1] != ["pulling generation 2 "
                                                "(serving 1)"] else None
    status, doc = h.wait_until(switch_failed, 20,
                               what="n2's reason to name the failed switch")
    eq((status, doc["status"], doc["generation"]), (503, "joining", 1),
       "n2 /health while behind")
    eq(len(doc["reasons"]), 1, "one reason: %r" % doc["reasons"])
    check(doc["reasons"][0].startswith("cannot switch to generation 2 "
                                       "(serving 1): users version 2 does "
                                       "not fit: ")
          and "--batch-memory" in doc["reasons"][0],
          "the reason names the generation and the refusal: %r"
          % doc["reasons"])
    eq(doc["tables"]["users"]["version"], 1, "n2 /health table version")
    info = n2.info("batch")
    eq((info.get("health"), info.get("batch_generation")), ("joining", "1"),
       "n2 INFO health while behind")
    eq(info.get("health_reasons"), doc["reasons"][0], "INFO health_reasons")
    eq(n2.call("T.GET", "users", "k7"), b"1", "n2 keeps serving version 1")
    h.wait_until(lambda: view(cl.nodes["n1"])["nodes"][1]["state"] ==
                 "joining", 20, what="n2's live state joining")

    # The active map names version 1 again (a new generation): n2
    # switches and is healthy.
    cl.cli("rollback")
    on_generation("n2", 3)
    wait_health(cl.http["n2"], 200, "ok")
    status, doc = health(cl.http["n2"])
    eq((status, doc["status"], doc["generation"], doc["reasons"]),
       (200, "ok", 3, []), "n2 /health after switching")
    eq(n2.info("batch").get("health"), "ok", "n2 INFO health after switching")


def test_zk_registration_and_drain(ctx):
    ctx.larder_only("cluster nodes")
    import zk_harness
    ok, why = zk_harness.available()
    if not ok:
        h.unavailable(why)
    cl = Cluster(ctx)
    zk = zk_harness.ZooKeeper().start()
    try:
        cl.membership = zk.uri(chroot="/it", cluster="node-cluster",
                               session_ms=4000)
        for nid in IDS[:2]:
            cl.start(nid)

        def both_ready():
            if cl.nodes["n2"].info("batch").get("batch_state") != "ready":
                return None
            v = view(cl.nodes["n2"])
            return v if [(n["id"], n["state"], n["addr"])
                         for n in v["nodes"]] == \
                [(nid, "ready", cl.addr(nid)) for nid in IDS[:2]] else None
        v = h.wait_until(both_ready, 30, what="both members ready via zk")
        eq(v["placement"], None, "no placement under zk")
        eq((v["nodes"][1]["zone"], v["nodes"][1]["capacity"]), ("z2", 100),
           "n2's zone and capacity")
        eq(cl.nodes["n1"].call("LARDER.DRAIN"), "OK", "LARDER.DRAIN via zk")
        wait_health(cl.http["n1"], 503, "draining")
        h.wait_until(lambda: view(cl.nodes["n2"])["nodes"][0]["state"] ==
                     "draining", 20, what="n2 sees n1 draining")
        eq(cl.nodes["n1"].call("LARDER.DRAIN", "OFF"), "OK", "DRAIN OFF")
        h.wait_until(lambda: view(cl.nodes["n2"])["nodes"][0]["state"] ==
                     "ready", 20, what="n2 sees n1 ready again")
        wait_health(cl.http["n1"], 200, "ok")
        for nid in IDS[:2]:
            cl.nodes[nid].stop_and_check()
    finally:
        zk.stop()


if __name__ == "__main__":
    h.main([test_cluster_lifecycle, test_health_joining_while_behind,
            test_zk_registration_and_drain], budget=210)
