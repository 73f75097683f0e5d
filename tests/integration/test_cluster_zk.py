#!/usr/bin/env python3
"""A ZooKeeper cluster with real processes: Debian's ZooKeeper standalone
(zk_harness.py, tickTime=100) and larderd nodes sharing one zk:
membership (session_ms=1000, so a dead or frozen node's session expires
in about a second) and one file:// store, driven by the admin CLI and
larder-load as an operator would.

Covered here (the default and sanitizer suites):
- test_lifecycle: `larder node add` x3, `larder table create users
  --replication 2`, a load with larder-load (which waits for its ready
  replicas and activates), every key read through the CLI (get, mget,
  routed by the placement) and on each of its owners directly, `larder
  status` healthy; kill -9 of the node holding the placement controller
  lock while a reader loops: every key stays readable from the other
  replica, never from another version, and the placement generation does
  not change before --rebalance-delay; after it the new controller
  re-places (the dead node leaves every target) and the moves complete; a
  second controller change does not put the dead node back; the node
  restarted catches up and reports ready, and (as when a fourth node is
  added, with a reader looping) a sampler checks that no partition ever
  has fewer than R holders (an old replica drops a partition only once
  the new ones serve it); two loaders racing on one table (exactly one
  wins, a reader sees no mixed mget across the switch) and racing `larder
  activate`s of two linked tables (a loser says "changed concurrently",
  the map is never mixed); a version too large for one node's
  --batch-memory fails the load with "cluster lacks memory" before
  publishing and every node keeps serving the previous version.
- test_self_registration: nodes that register themselves, the first
  placement from `larder rebalance`, a load with --min-replicas 2.

test_cluster_zk_slow.py covers ZooKeeper restarts, SIGSTOP past the
session timeout, a node restarted while ZooKeeper is down, a loader frozen
past its session, a version activated that a node has no room for, and a
dead node put back into the targets.

Skips when ZooKeeper (Debian's zookeeper package and java) is missing.
The binaries are found next to larderd: BUILD/cli/larder and
BUILD/loader/larder-load.
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402
import zk_harness  # noqa: E402

os.environ.pop("LARDER_MEMBERSHIP", None)

PARTS = 8
KEYS = 48
SESSION_MS = 1000
REBALANCE_DELAY = 5  # seconds; longer than a SIGSTOP in the slow test


def tool(ctx, rel):
    build = os.path.dirname(os.path.dirname(ctx.opts.larderd))
    path = os.path.join(build, rel)
    if not os.access(path, os.X_OK):
        h.unavailable("%s is not built" % path)
    return path


def need_zookeeper(ctx):
    ctx.larder_only("a larder cluster")
    ok, why = zk_harness.available()
    if not ok:
        h.unavailable("ZooKeeper is not installed: %s" % why)


def keys():
    return ["u%03d" % i for i in range(KEYS)]


def value(tag, key):
    return ("%s:%s" % (tag, key)).encode()


class Run:
    """A finished child process: rc, out, err (text)."""

    def __init__(self, cmd, rc, out, err):
        self.cmd, self.rc, self.out, self.err = cmd, rc, out, err

    def __repr__(self):
        return "%s: exit %d, stdout %r, stderr %r" % (
            " ".join(os.path.basename(c) if i == 0 else c
                     for i, c in enumerate(self.cmd[:10])),
            self.rc, self.out[-600:], self.err[-600:])


def run(cmd, timeout=60.0, thread_safe=False):
    """Runs cmd to completion. From a thread other than the main one use
    thread_safe=True (no preexec_fn: the child is bounded by its own
    timeout instead of dying with the test)."""
    cmd = [str(c) for c in cmd]
    if thread_safe:
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=h.scaled(timeout))
        except subprocess.TimeoutExpired as e:
            return Run(cmd, -1, "", "timed out after %.0f s: %r"
                       % (h.scaled(timeout), e.stderr))
        r = Run(cmd, p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))
    else:
        cp = h._run_tool(cmd, None, timeout)
        r = Run(cmd, cp.returncode, cp.stdout.decode("utf-8", "replace"),
                cp.stderr.decode("utf-8", "replace"))
    for m in h.SANITIZER_MARKERS:
        if m in r.err:
            h.fail("%s: sanitizer report:\n%s" % (cmd[0], r.err[-4000:]))
    return r


class Cluster:
    """A ZooKeeper, a store directory and larderd nodes n1, n2...; each
    node keeps its port, HTTP port and data directory across restarts."""

    def __init__(self, ctx, zk=None):
        need_zookeeper(ctx)
        self.ctx = ctx
        self.cli_path = tool(ctx, "cli/larder")
        self.loader = tool(ctx, "loader/larder-load")
        self.zk = zk or zk_harness.ZooKeeper().start()
        self.dir = h.tmpdir()
        # Nodes: a short session; waits for ZooKeeper a bit longer, so a
        # busy machine does not make them flap. The CLI and the loader get
        # the same session with a generous wait.
        self.node_membership = self.zk.uri(chroot="/it", cluster="zkc",
                                           session_ms=SESSION_MS,
                                           wait_ms=3000)
        self.membership = self.zk.uri(chroot="/it", cluster="zkc",
                                      session_ms=SESSION_MS, wait_ms=15000)
        self.store = "file://" + os.path.join(self.dir, "store")
        self.nodes = {}
        self.ports = {}
        self.http = {}
        self.extra = {}
        self.inputs = 0

    # ---- nodes -------------------------------------------------------------

    def addr(self, nid):
        return "%s:%d" % (h.HOST, self.ports[nid])

    def start(self, nid, extra=(), wait=True):
        """Starts (or restarts) node nid; extra flags are remembered."""
        self.ports.setdefault(nid, h.free_port())
        self.http.setdefault(nid, h.free_port())
        self.extra.setdefault(nid, list(extra))
        args = ["--data-dir", os.path.join(self.dir, "data-" + nid),
                "--node-id", nid, "--membership", self.node_membership,
                "--store", self.store, "--threads", "2",
                "--watch-interval-ms", "100",
                "--advertise", self.addr(nid), "--zone", "z" + nid[1:],
                "--http-port", self.http[nid],
                "--rebalance-delay", REBALANCE_DELAY,
                "--retire-grace", "1"] + self.extra[nid]
        srv = self.ctx.server(args, port=self.ports[nid], wait=wait)
        self.nodes[nid] = srv
        return srv

    def kill9(self, nid):
        srv = self.nodes[nid]
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(timeout=10)
        srv.expected_exit = True

    def info(self, nid):
        return self.nodes[nid].info("batch")

    def health(self, nid):
        c = http.client.HTTPConnection(h.HOST, self.http[nid],
                                       timeout=h.scaled(5))
        try:
            c.request("GET", "/health")
            resp = c.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            c.close()

    # ---- tools -------------------------------------------------------------

    def cli(self, *args, rc=0, thread_safe=False, timeout=30.0):
        r = run([self.cli_path, "--membership", self.membership] +
                list(args), timeout=timeout, thread_safe=thread_safe)
        if rc is not None and r.rc != rc:
            h.fail("expected exit %d from %r" % (rc, r))
        return r

    def cli_json(self, *args):
        r = self.cli(*(list(args) + ["--json"]))
        try:
            return json.loads(r.out)
        except ValueError:
            h.fail("not JSON: %r" % r)

    def input(self, tag, n=KEYS, pad=0):
        self.inputs += 1
        path = os.path.join(self.dir, "in-%d-%s.jsonl" % (self.inputs, tag))
        with open(path, "w") as f:
            for k in keys()[:n] if n <= KEYS else \
                    ["u%05d" % i for i in range(n)]:
                f.write(json.dumps({"id": k, "v": value(tag, k).decode() +
                                    "x" * pad}) + "\n")
        return path

    def load_cmd(self, tag, *extra, n=KEYS, pad=0):
        return [self.loader, "--membership", self.membership, "--store",
                self.store, "--table", "users", "--input",
                self.input(tag, n, pad), "--key", "id", "--value-field", "v",
                "--ready-timeout", int(h.scaled(60))] + list(extra)

    def load(self, tag, *extra, rc=0):
        r = run(self.load_cmd(tag, *extra), timeout=90)
        if rc is not None and r.rc != rc:
            h.fail("expected exit %d from %r" % (rc, r))
        return r

    # ---- cluster state -----------------------------------------------------

    def members(self):
        return {n["id"]: n for n in self.cli_json("nodes")}

    def ring(self):
        """(generation, {partition: (current, target)}) of users."""
        doc = self.cli_json("ring")
        t = [x for x in doc["tables"] if x["table"] == "users"]
        check(len(t) == 1, "users in ring: %r" % doc)
        return doc["generation"], {p["partition"]: (p["current"],
                                                    p["target"])
                                   for p in t[0]["ring"]}

    def active_version(self):
        doc = self.cli_json("active")
        return doc.get("tables", {}).get("users", 0)

    def wait_live(self, ids, state="ready", timeout=30):
        def ok():
            ms = self.members()
            return all(ms.get(i, {}).get("live") and
                       ms[i].get("state") == state for i in ids)
        h.wait_until(ok, timeout, interval=0.2,
                     what="%s live and %s" % (",".join(ids), state))

    def wait_settled(self, ids, timeout=40):
        """Waits until nothing moves, every partition is on R members of
        ids, and each of those nodes holds exactly its partitions of the
        active version (by T.INFO held_partitions)."""
        last = [None]

        def ok():
            gen, ring = self.ring()
            last[0] = ring
            if any(set(c) != set(t) or not set(c) <= set(ids) or len(c) != 2
                   for c, t in ring.values()):
                return False
            want = {i: sum(1 for c, _ in ring.values() if i in c)
                    for i in ids}
            for i in ids:
                ti = self.tinfo(i)
                if ti is None or ti.get(b"held_partitions") != want[i]:
                    return False
            return gen
        try:
            return h.wait_until(ok, timeout, interval=0.3,
                                what="placement settled on %s" % ids)
        except h.TestFailure:
            h.fail("placement did not settle on %s; ring %r" % (ids,
                                                                last[0]))

    def tinfo(self, nid):
        r = self.nodes[nid].call("T.INFO", "users")
        if not isinstance(r, list):
            return None
        return dict(zip(r[0::2], r[1::2]))

    def owners(self):
        """{partition: current nodes} of the stored placement."""
        return {p: c for p, (c, _) in self.ring()[1].items()}

    def partition_of(self, key):
        """The partition of key: the first -WRONGNODE a node answers."""
        for srv in self.nodes.values():
            if not srv.alive():
                continue
            r = srv.call("T.GET", "users", key)
            if isinstance(r, h.RespError) and \
                    r.message.startswith("WRONGNODE"):
                return int(r.message.split()[1])
        return None

    def stop_all(self):
        for srv in self.nodes.values():
            if srv.alive():
                srv.stop_and_check()


def key_partitions(cl):
    """{key: partition} for every key (each key is on 2 of >= 3 nodes, so
    some node answers -WRONGNODE naming its partition)."""
    out = {}
    for k in keys():
        p = cl.partition_of(k)
        check(p is not None, "no node named the partition of %s" % k)
        out[k] = p
    eq(sorted(set(out.values())), list(range(PARTS)),
       "the keys cover every partition")
    return out


def check_owners(cl, parts, tag, ids):
    """Every key on each of its current owners (directly), and -WRONGNODE
    naming an owner from the other nodes."""
    own = cl.owners()
    for k, p in parts.items():
        for nid in ids:
            r = cl.nodes[nid].call("T.GET", "users", k)
            if nid in own[p]:
                eq(r, value(tag, k), "T.GET %s on its owner %s" % (k, nid))
            else:
                check(isinstance(r, h.RespError) and
                      r.message.split()[0] == "WRONGNODE" and
                      int(r.message.split()[1]) == p and
                      r.message.split()[2] in [cl.addr(o) for o in own[p]],
                      "T.GET %s on %s (not an owner of %d, owners %r): %r"
                      % (k, nid, p, own[p], r))


def cli_read_all(cl, tag):
    """Every key through `larder mget` and a few through `larder get`."""
    r = cl.cli("mget", "users", *keys(), "--json")
    got = json.loads(r.out)
    eq([(x["key"], x["value"], x["found"]) for x in got],
       [(k, value(tag, k).decode(), True) for k in keys()], "larder mget")
    for k in keys()[:5]:
        r = cl.cli("get", "users", k)
        eq(r.out, value(tag, k).decode() + "\n", "larder get %s" % k)


class Reader:
    """A thread that reads every key with `larder mget` in a loop (at most
    max_reads times) until stopped; counts reads and keeps every failure
    and every value that is not of an allowed tag."""

    def __init__(self, cl, tags, max_reads=400):
        self.cl = cl
        self.tags = set(tags)
        self.max_reads = max_reads
        self.reads = 0
        self.failures = []
        self.wrong = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=h.scaled(60))

    def _loop(self):
        while not self.stop.is_set() and self.reads < self.max_reads:
            r = self.cl.cli("mget", "users", *keys(), "--json",
                            "--timeout", "1000", rc=None, thread_safe=True)
            self.reads += 1
            if r.rc != 0:
                self.failures.append(repr(r))
                continue
            try:
                got = json.loads(r.out)
            except ValueError:
                self.failures.append("not JSON: %r" % r)
                continue
            seen = set()
            for x in got:
                v = x["value"] or ""
                tag = v.split(":", 1)[0]
                seen.add(tag)
                if tag not in self.tags or v != "%s:%s" % (tag, x["key"]):
                    self.wrong.append((x["key"], v))
            if len(seen) > 1:
                self.wrong.append(("mixed versions in one mget", sorted(seen)))

    def check(self, what, min_reads=3):
        check(not self.thread.is_alive(), "%s: reader stopped" % what)
        check(not self.failures, "%s: %d of %d reads failed; first: %s"
              % (what, len(self.failures), self.reads,
                 self.failures[:1]))
        check(not self.wrong, "%s: values of another version: %r"
              % (what, self.wrong[:5]))
        check(self.reads >= min_reads, "%s: only %d reads" % (what,
                                                             self.reads))


class HolderSampler:
    """A thread that, for one probe key per partition, asks every node
    whether it holds the partition (a value rather than -WRONGNODE), the
    nodes giving it up first and those taking it last (so a sample can
    only overstate a gap, never invent one), and records the smallest
    number of holders each partition ever had."""

    def __init__(self, cl, probes, order):
        self.cl = cl
        self.probes = probes  # {partition: key}
        self.order = order    # {partition: [node ids, droppers first]}
        self.min_holders = {p: None for p in probes}
        self.samples = 0
        self.errors = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=h.scaled(30))

    def _loop(self):
        conns = {}
        try:
            deadline = time.monotonic() + h.scaled(120)
            while not self.stop.is_set() and time.monotonic() < deadline:
                for p, key in self.probes.items():
                    n = 0
                    for nid in self.order[p]:
                        if nid not in conns:
                            srv = self.cl.nodes.get(nid)
                            if srv is None or not srv.alive():
                                continue  # not started yet: holds nothing
                            try:
                                conns[nid] = srv.conn(timeout=5)
                            except OSError:
                                continue
                        r = conns[nid].call("T.GET", "users", key)
                        if isinstance(r, bytes):
                            n += 1
                        elif not (isinstance(r, h.RespError) and
                                  r.message.split()[0] in ("WRONGNODE",
                                                           "BUSY")):
                            self.errors.append((nid, key, r))
                    m = self.min_holders[p]
                    self.min_holders[p] = n if m is None else min(m, n)
                self.samples += 1
                time.sleep(0.02)
        except Exception as e:  # reported by check()
            self.errors.append(repr(e))
        finally:
            for c in conns.values():
                c.close()


def start_three(cl):
    for nid in ("n1", "n2", "n3"):
        r = cl.cli("node", "add", nid, "%s:%d" % (
            h.HOST, cl.ports.setdefault(nid, h.free_port())), "--zone",
            "z" + nid[1:])
        check("placement generation" in r.out, "node add: %r" % r)
    for nid in ("n1", "n2", "n3"):
        cl.start(nid)
    cl.wait_live(["n1", "n2", "n3"])
    r = cl.cli("table", "create", "users", "--partitions", PARTS,
               "--replication", "2")
    check("created table users" in r.out, "table create: %r" % r)


def test_lifecycle(ctx):
    need_zookeeper(ctx)
    cl = Cluster(ctx)
    try:
        _lifecycle(cl)
    finally:
        cl.zk.stop()


def _lifecycle(cl):
    # 1. Three members, a table, a load that activates by itself.
    start_three(cl)
    gen0, ring = cl.ring()
    for p, (cur, tgt) in ring.items():
        eq(len(set(cur)), 2, "replicas of partition %d" % p)
        eq(cur, tgt, "partition %d not in motion" % p)
    r = cl.load("a", "--json", "yes")
    res = json.loads(r.out)
    eq((res["state"], res["min_replicas"]), ("active", 1), "load result")
    v1 = res["version"]
    eq(cl.active_version(), v1, "active version after the load")
    ids3 = ["n1", "n2", "n3"]
    cl.wait_settled(ids3)
    cli_read_all(cl, "a")
    parts = key_partitions(cl)
    check_owners(cl, parts, "a", ids3)
    st = cl.cli_json("status")
    eq(st["verdict"], "healthy", "larder status: %r" % st)
    users = [t for t in st["tables"] if t["table"] == "users"][0]
    eq((users["active_version"], users["partitions_ready"]), (v1, PARTS),
       "larder status of users")
    for nid in ids3:
        eq(cl.tinfo(nid)[b"active_version"], v1, "%s T.INFO version" % nid)

    # 2. kill -9 the node holding the placement controller lock (another
    # node takes the role over and counts the delay afresh) while a
    # reader loops.
    holders = [nid for nid in ids3 if "holding the placement controller "
               "lock" in cl.nodes[nid].log_text()]
    eq(len(holders), 1, "one controller")
    victim = holders[0]
    survivors = [x for x in ids3 if x != victim]
    gen_before, _ = cl.ring()
    with Reader(cl, ["a"]) as rd:
        time.sleep(0.5)
        t_kill = time.monotonic()
        cl.kill9(victim)
        h.wait_until(lambda: not cl.members()[victim]["live"], 15,
                     interval=0.1, what="%s's session to expire" % victim)
        r = cl.cli("status", rc=1)
        check("node %s is not live" % victim in r.out, "status: %r" % r)
        # Every key from the surviving replica, directly.
        for k, p in parts.items():
            holders = [n for n in cl.owners()[p] if n != victim]
            check(holders, "partition %d has a surviving replica" % p)
            eq(cl.nodes[holders[0]].call("T.GET", "users", k),
               value("a", k), "T.GET %s on %s" % (k, holders[0]))
        # No move before the delay; then the controller re-places.
        gens = []
        while True:
            g, ring = cl.ring()
            gens.append((time.monotonic() - t_kill, g))
            if g != gen_before:
                break
            check(time.monotonic() - t_kill < h.scaled(REBALANCE_DELAY + 30),
                  "no re-placement %d s after the kill" % (REBALANCE_DELAY
                                                            + 30))
            time.sleep(0.2)
        moved_after = gens[-1][0]
        check(moved_after >= REBALANCE_DELAY,
              "placement changed %.1f s after the kill, before "
              "--rebalance-delay %d s: %r" % (moved_after, REBALANCE_DELAY,
                                               gens))
        check(all(victim not in t for _, t in ring.values()),
              "the dead node left every target: %r" % ring)
        gen_replaced = cl.wait_settled(survivors)
        check(gen_replaced >= g > gen_before, "generations: before %d, "
              "re-placed %d, settled %d" % (gen_before, g, gen_replaced))
        time.sleep(0.3)
    # A new controller does not put the dead node back: restart the
    # holder; whoever takes the role over keeps the placement.
    holder = [nid for nid in survivors if "holding the placement "
              "controller lock" in cl.nodes[nid].log_text()]
    eq(len(holder), 1, "one controller among the survivors")
    other = [nid for nid in survivors if nid != holder[0]][0]
    gen_settled, _ = cl.ring()
    cl.nodes[holder[0]].stop_and_check()
    h.wait_until(lambda: "holding the placement controller lock" in
                 cl.nodes[other].log_text(), 15, interval=0.1,
                 what="%s to take the controller role over" % other)
    cl.start(holder[0])
    cl.wait_live(survivors)
    time.sleep(1.5)
    g, ring = cl.ring()
    check(all(victim not in t for _, t in ring.values()),
          "a new controller put the dead %s back: %r" % (victim, ring))
    eq(g, gen_settled, "placement generation across a controller change")
    rd.check("reads across kill -9 and re-placement")
    print("kill -9 %s: re-placed %.1f s after the kill; %d reads"
          % (victim, moved_after, rd.reads))
    cli_read_all(cl, "a")

    # 3. Restart it: it catches up and reports ready; placement gives it
    # partitions again, which the survivors give up only once it holds
    # them (the sampler asks the survivors first, the restarted node last).
    probes = {}
    for k, p in sorted(parts.items()):
        probes.setdefault(p, k)
    with HolderSampler(cl, probes, {p: survivors + [victim]
                                    for p in probes}) as hs:
        cl.start(victim)
        cl.wait_live(ids3)
        cl.wait_settled(ids3)
    check(not hs.errors, "sampler errors: %r" % hs.errors[:3])
    eq(min(hs.min_holders.values()), 2,
       "fewest holders of any partition while %s rejoined (%r)"
       % (victim, hs.min_holders))
    info = cl.info(victim)
    eq((info.get("batch_state"), info.get("batch_degraded")), ("ready", "0"),
       "restarted node's state")
    check(h.info_int(info, "batch_generation") >= 1, "restarted generation")
    check_owners(cl, parts, "a", ids3)
    eq(cl.health(victim)[0], 200, "restarted node's /health")

    # 4. A fourth node (small --batch-memory, for the memory check below):
    # partitions move to it while a reader loops and a sampler checks that
    # no partition ever has fewer than 2 holders.
    cl.ports["n4"] = h.free_port()
    gen_b, before = cl.ring()
    r = cl.cli("node", "add", "n4", cl.addr("n4"), "--zone", "z4",
               "--json")
    out = json.loads(r.out)
    check(out["generation"] > gen_b and out["in_motion"] > 0,
          "node add n4 moves partitions: %r" % out)
    gen_m, moving = cl.ring()
    order = {}
    for p, (cur, tgt) in moving.items():
        droppers = [n for n in cur if n not in tgt]
        stayers = [n for n in cur if n in tgt]
        gainers = [n for n in tgt if n not in cur]
        order[p] = droppers + stayers + gainers
    with Reader(cl, ["a"]) as rd, HolderSampler(cl, probes, order) as hs:
        cl.start("n4", extra=["--batch-memory", "2mb"])
        cl.wait_live(ids3 + ["n4"])
        gen_after = cl.wait_settled(ids3 + ["n4"])
        time.sleep(0.5)
    rd.check("reads while adding a node")
    print("node add n4: %d reads, %d holder samples, fewest holders %r"
          % (rd.reads, hs.samples, hs.min_holders))
    check(not hs.errors, "sampler errors: %r" % hs.errors[:3])
    check(hs.samples >= 3, "only %d holder samples" % hs.samples)
    eq(min(v for v in hs.min_holders.values()), 2,
       "fewest holders of any partition during the move (%r)"
       % hs.min_holders)
    _, after = cl.ring()
    check(gen_after > gen_m and any("n4" in c for c, _ in after.values()),
          "n4 holds partitions: %r" % after)
    check_owners(cl, parts, "a", ids3 + ["n4"])

    # 7. Two loaders at once: one holds the load lock, the other fails.
    racing_loaders(cl)
    # 7. Racing activations never leave a mixed map.
    racing_activations(cl)
    # 8. A version too large for n4's --batch-memory.
    memory_refusal(cl, ids3 + ["n4"])
    cl.stop_all()


def racing_loaders(cl):
    """Two larder-load of users at once: one holds the table's load lock
    until it activated, the other fails at once saying why."""
    before = cl.active_version()
    tags = ("b", "c")
    procs = []
    # A reader across the switch: each mget is of one version (pinned).
    with Reader(cl, ["a", "b", "c"]) as rd:
        for t in tags:
            cmd = [str(c) for c in cl.load_cmd(t, "--json", "yes")]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL,
                                 preexec_fn=h._pdeathsig)
            h._started.append(p)
            procs.append(p)
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=h.scaled(90))
            outs.append(Run(p.args, p.returncode, out.decode(),
                            err.decode()))
        time.sleep(0.5)
    rd.check("reads across an activation", min_reads=1)
    eq(sorted(r.rc for r in outs), [0, 69],
       "exit codes of two racing loaders (%r)" % outs)
    win = [i for i, r in enumerate(outs) if r.rc == 0][0]
    loser = outs[1 - win]
    check("another load of users is running" in loser.err,
          "the loser says why: %r" % loser)
    version = json.loads(outs[win].out)["version"]
    check(version > before, "a new version won")
    eq(cl.active_version(), version, "the winner is active")
    cl.last_tag = tags[win]
    h.wait_until(lambda: all((cl.tinfo(n) or {}).get(b"active_version") ==
                             version for n in cl.nodes), 20,
                 what="every node on version %d" % version)
    cli_read_all(cl, cl.last_tag)


def ready_everywhere(cl, table, version):
    """True if, by a node's LARDER.VIEW, every partition of table=version
    is ready on some node."""
    for srv in cl.nodes.values():
        r = srv.call("LARDER.VIEW")
        if not isinstance(r, bytes):
            continue
        nodes = json.loads(r).get("ready", {}).get(table, {}).get(
            str(version))
        if nodes:
            got = set()
            for parts in nodes.values():
                got.update(parts)
            return got == set(range(PARTS))
    return False


def stage(cl, table, tag, run_id):
    r = run([cl.loader, "--membership", cl.membership, "--store", cl.store,
             "--table", table, "--input", cl.input(tag), "--key", "id",
             "--value-field", "v", "--partitions", PARTS, "--run-id",
             run_id, "--stage-only", "yes", "--json", "yes"], timeout=60)
    if r.rc != 0:
        h.fail("staging %s: %r" % (table, r))
    return json.loads(r.out)["version"]


def racing_activations(cl):
    """Rounds of two `larder activate users=U items=I` of two runs at
    once: never both refused, a refusal says the table changed
    concurrently, and the map always names one run's pair."""
    wins = losses = 0
    for rnd in range(4):
        pairs, tags = [], []
        for side in ("x", "y"):
            tags.append("%s%d" % (side, rnd))
            run_id = "r%d%s" % (rnd, side)
            u = stage(cl, "users", "%s%d" % (side, rnd), run_id)
            i = stage(cl, "items", "%s%d" % (side, rnd), run_id)
            pairs.append((u, i))
        for u, i in pairs:
            h.wait_until(lambda: ready_everywhere(cl, "users", u) and
                         ready_everywhere(cl, "items", i), 20, interval=0.1,
                         what="users=%d items=%d ready" % (u, i))
        gen_before = cl.cli_json("active")["generation"]
        cmds = [[cl.cli_path, "--membership", cl.membership, "activate",
                 "users=%d" % u, "items=%d" % i, "--min-replicas", "1",
                 "--wait", "30"] for u, i in pairs]
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL,
                                  preexec_fn=h._pdeathsig) for cmd in cmds]
        for p in procs:
            h._started.append(p)
        res = []
        for p in procs:
            out, err = p.communicate(timeout=h.scaled(60))
            res.append(Run(p.args, p.returncode, out.decode(),
                           err.decode()))
        ok = [r for r in res if r.rc == 0]
        check(ok, "round %d: both activations failed: %r" % (rnd, res))
        for r in res:
            if r.rc != 0:
                eq(r.rc, 1, "exit code of the losing activation (%r)" % r)
                # A loser that started after the winner's switch finds its
                # versions already old and discarded by the nodes: "not
                # ready" is then the reason it can see.
                check("changed concurrently" in r.err or
                      "is not ready" in r.err,
                      "the loser says why: %r" % r)
        act = cl.cli_json("active")
        eq(act["generation"], gen_before + len(ok),
           "round %d: one generation per winner" % rnd)
        now = (act["tables"].get("users"), act["tables"].get("items"))
        check(now in pairs, "round %d: the map names one run's pair, not "
              "a mix: %r of %r" % (rnd, now, pairs))
        cl.last_tag = tags[pairs.index(now)]
        wins += len(ok)
        losses += len(res) - len(ok)
    print("racing activations: %d won, %d lost to a concurrent change"
          % (wins, losses))
    return wins, losses


def memory_refusal(cl, ids):
    """A version whose share does not fit n4's 2 MB --batch-memory: the
    loader's memory check (every live node must fit its share) fails it
    before publishing, naming n4; nothing changes on any node."""
    before = cl.active_version()
    tag = getattr(cl, "last_tag", "a")
    r = run(cl.load_cmd("big", "--json", "yes", n=6000, pad=1000),
            timeout=120)
    eq(r.rc, 71, "exit code of a load that does not fit (%r)" % r)
    check("cluster lacks memory" in r.err and "n4 has" in r.err,
          "the reason names n4: %r" % r)
    eq(json.loads(r.out)["state"], "failed", "the load's state")
    eq(cl.active_version(), before, "the active version after the refusal")
    for nid in ids:
        eq(cl.tinfo(nid).get(b"active_version"), before,
           "%s serves the previous version" % nid)
        check(not os.path.exists(os.path.join(
            cl.dir, "store", "users", "v-%06d" % json.loads(r.out)[
                "version"], "manifest.json")), "nothing published")
    cli_read_all(cl, tag)


def test_self_registration(ctx):
    """Nodes that register themselves, then `larder rebalance` for the
    first placement; a load with --min-replicas 2 and reads."""
    need_zookeeper(ctx)
    cl = Cluster(ctx)
    try:
        ids = ["n1", "n2", "n3"]
        for nid in ids:
            cl.start(nid)
        cl.wait_live(ids)
        ms = cl.members()
        eq(sorted(ms), ids, "self-registered members")
        eq([(ms[i]["addr"], ms[i]["zone"]) for i in ids],
           [(cl.addr(i), "z" + i[1:]) for i in ids], "their records")
        eq(cl.cli_json("ring").get("generation", 0), 0, "no placement yet")
        r = cl.cli("table", "create", "users", "--partitions", PARTS,
                   "--replication", "2")
        out = cl.cli_json("rebalance")
        check(out["generation"] >= 1, "rebalance placed: %r" % out)
        gen, ring = cl.ring()
        check(all(len(set(c)) == 2 and set(c) <= set(ids)
                  for c, _ in ring.values()), "two replicas each: %r" % ring)
        r = cl.load("a", "--min-replicas", "2", "--json", "yes")
        eq(json.loads(r.out)["min_replicas"], 2, "min replicas asked")
        cl.wait_settled(ids)
        cli_read_all(cl, "a")
        check_owners(cl, key_partitions(cl), "a", ids)
        cl.stop_all()
    finally:
        cl.zk.stop()


if __name__ == "__main__":
    h.main([test_lifecycle, test_self_registration], budget=240)
