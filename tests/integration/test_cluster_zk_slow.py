#!/usr/bin/env python3
"""ZooKeeper outages and frozen nodes under a three-node larder cluster
(the setup of test_cluster_zk.py: Debian's ZooKeeper standalone with
tickTime=100, nodes on a zk: membership with session_ms=1000, one file://
store):

- test_zookeeper_restart: ZooKeeper stopped and started again on the same
  port and data directory; the nodes keep serving every key while it is
  down (and say they are degraded), then are live and ready again and no
  longer degraded;
- test_sigstop_past_session: a node frozen (SIGSTOP) longer than its
  session is seen dead, and after SIGCONT registers again (live, ready);
  nothing was re-placed (the freeze was shorter than --rebalance-delay);
- test_restart_while_zookeeper_down: a node restarted while ZooKeeper is
  down serves its last view (its old version, degraded in INFO and
  /health) and catches up with the version activated while it was away
  once ZooKeeper returns;
- test_loader_paused_past_session: a loader frozen past its session loses
  the load lock to a second loader and fails once it runs again;
- test_activated_version_too_large_for_a_node: a node refuses, rather
  than maps, an activated version over its --batch-memory, keeps serving
  the previous one and says "joining";
- test_no_promotion_to_a_dead_node: a dead node put back into the targets
  is not promoted on the strength of its old readiness records.

Skips when ZooKeeper is not installed.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402
import test_cluster_zk as z  # noqa: E402

IDS = ["n1", "n2", "n3"]


def loaded_cluster(ctx):
    """Three nodes, table users (R=2), version tag "a" active."""
    cl = z.Cluster(ctx)
    z.start_three(cl)
    cl.load("a")
    cl.wait_settled(IDS)
    return cl


def direct_read_all(cl, tag, ids=IDS):
    """Every key by T.GET on some node of ids, following one -WRONGNODE
    (no membership needed); returns the number of redirections."""
    by_addr = {cl.addr(n): n for n in ids}
    redirects = 0
    for i, k in enumerate(z.keys()):
        nid = ids[i % len(ids)]
        r = cl.nodes[nid].call("T.GET", "users", k)
        if isinstance(r, h.RespError) and r.message.startswith("WRONGNODE"):
            to = r.message.split()[2]
            check(to in by_addr, "WRONGNODE names a node: %r" % r)
            redirects += 1
            r = cl.nodes[by_addr[to]].call("T.GET", "users", k)
        eq(r, z.value(tag, k), "T.GET %s via %s" % (k, nid))
    return redirects


def test_zookeeper_restart(ctx):
    z.need_zookeeper(ctx)
    cl = loaded_cluster(ctx)
    try:
        gen, _ = cl.ring()
        cl.zk.stop()
        cl.zk.wait_port_free()
        t0 = time.monotonic()
        # Serving throughout the outage, and saying so.
        h.wait_until(lambda: all(cl.info(n).get("batch_degraded") == "1"
                                 for n in IDS), 20, interval=0.2,
                     what="every node degraded while ZooKeeper is down")
        rounds = 0
        while time.monotonic() - t0 < h.scaled(3) or rounds < 2:
            check(direct_read_all(cl, "a") > 0, "some reads redirected")
            rounds += 1
        for n in IDS:
            st, body = cl.health(n)
            eq((st, body["status"]), (200, "degraded"),
               "%s /health while ZooKeeper is down" % n)
            view = z.json.loads(cl.nodes[n].call("LARDER.VIEW"))
            eq(view["ready_source"], "self", "%s view's readiness" % n)
        # The CLI needs ZooKeeper for --membership: it says so.
        short = cl.zk.uri(chroot="/it", cluster="zkc", session_ms=1000,
                          wait_ms=500)
        r = z.run([cl.cli_path, "--membership", short, "get", "users",
                   "u000"])
        check(r.rc == 3 and "ZooKeeper unreachable" in r.err,
              "larder get while ZooKeeper is down: %r" % r)
        cl.zk.start()
        cl.wait_live(IDS)
        h.wait_until(lambda: all(cl.info(n).get("batch_degraded") == "0"
                                 for n in IDS), 20, interval=0.2,
                     what="no node degraded once ZooKeeper is back")
        for n in IDS:
            eq(cl.health(n)[0], 200, "%s /health after the restart" % n)
        eq(cl.ring()[0], gen, "placement generation after the outage")
        z.cli_read_all(cl, "a")
        cl.stop_all()
    finally:
        cl.zk.stop()


def test_sigstop_past_session(ctx):
    z.need_zookeeper(ctx)
    cl = loaded_cluster(ctx)
    try:
        gen, _ = cl.ring()
        frozen = cl.nodes["n2"]
        frozen.signal(signal.SIGSTOP)
        try:
            # Still live in the view: reads time out on it and go on.
            r = cl.cli("mget", "users", *z.keys(), "--timeout", "500",
                       "--json")
            eq([x["value"] for x in z.json.loads(r.out)],
               [z.value("a", k).decode() for k in z.keys()],
               "mget with a frozen replica")
            h.wait_until(lambda: not cl.members()["n2"]["live"], 10,
                         interval=0.1, what="n2's session to expire")
            # Reads go to the other replicas meanwhile.
            z.cli_read_all(cl, "a")
        finally:
            frozen.signal(signal.SIGCONT)
        cl.wait_live(IDS)
        check("expired; starting a new one" in frozen.log_text(),
              "n2 noticed its session expired:\n%s" % frozen.log_tail())
        eq(cl.ring()[0], gen, "no re-placement for a short freeze")
        eq(cl.info("n2").get("batch_degraded"), "0", "n2 not degraded")
        direct_read_all(cl, "a")
        z.cli_read_all(cl, "a")
        cl.stop_all()
    finally:
        cl.zk.stop()


def test_restart_while_zookeeper_down(ctx):
    z.need_zookeeper(ctx)
    cl = loaded_cluster(ctx)
    try:
        old = cl.active_version()
        held = cl.tinfo("n3")[b"held_partitions"]
        cl.nodes["n3"].stop_and_check()
        # A new version while n3 is away (one ready replica suffices).
        cl.load("b")
        new = cl.active_version()
        check(new > old, "a new version is active")
        cl.zk.stop()
        cl.zk.wait_port_free()
        n3 = cl.start("n3")
        h.wait_until(lambda: cl.info("n3").get("batch_state") == "ready",
                     20, interval=0.2, what="n3 serving its saved view")
        info = cl.info("n3")
        eq(info.get("batch_degraded"), "1", "n3 degraded")
        ti = cl.tinfo("n3")
        eq((ti[b"active_version"], ti[b"held_partitions"]), (old, held),
           "n3 serves its last view")
        st, body = cl.health("n3")
        eq((st, body["status"]), (200, "degraded"), "n3 /health")
        check(any("membership" in r for r in body.get("reasons", [])),
              "the reason names membership: %r" % body)
        parts = {}
        for k in z.keys():
            r = n3.call("T.GET", "users", k)
            if isinstance(r, bytes):
                eq(r, z.value("a", k), "n3 T.GET %s from its last view" % k)
                parts[k] = True
        check(parts, "n3 answers for its partitions")
        cl.zk.start()
        h.wait_until(lambda: (cl.tinfo("n3") or {}).get(b"active_version")
                     == new and cl.info("n3").get("batch_degraded") == "0",
                     30, interval=0.2, what="n3 to catch up")
        cl.wait_live(IDS)
        st, body = cl.health("n3")
        eq((st, body["status"]), (200, "ok"), "n3 /health after catching up")
        cl.wait_settled(IDS)
        z.check_owners(cl, z.key_partitions(cl), "b", IDS)
        z.cli_read_all(cl, "b")
        cl.stop_all()
    finally:
        cl.zk.stop()


def spawn(cmd, log):
    f = open(log, "wb")
    p = z.subprocess.Popen([str(c) for c in cmd], stdout=f,
                           stderr=z.subprocess.STDOUT,
                           stdin=z.subprocess.DEVNULL,
                           preexec_fn=h._pdeathsig)
    h._started.append(p)
    p.log_path = log
    return p


def log_of(p):
    with open(p.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def test_loader_paused_past_session(ctx):
    """A loader frozen past its session loses the table's load lock; a
    second loader takes it, and of the two exactly the second activates:
    the first fails as soon as it runs again (while it waits for
    readiness, or at activation), saying its lock was lost."""
    z.need_zookeeper(ctx)
    cl = loaded_cluster(ctx)
    try:
        old = cl.active_version()
        for n in IDS:  # no pulls: both loaders wait for readiness
            cl.nodes[n].signal(signal.SIGSTOP)
        try:
            first = spawn(cl.load_cmd("p", "--json", "yes"),
                          os.path.join(cl.dir, "first.log"))
            h.wait_until(lambda: "publish:" in log_of(first), 30,
                         interval=0.05, what="the first loader to publish")
            first.send_signal(signal.SIGSTOP)
            # Its session expires: the lock goes with it.
            second = None
            deadline = time.monotonic() + h.scaled(20)
            while second is None:
                r = z.run(cl.load_cmd("q", "--stage-only", "yes"))
                if r.rc == 0:
                    break
                check("another load of users is running" in r.err,
                      "a busy lock is why: %r" % r)
                check(time.monotonic() < deadline, "the lock never freed")
                time.sleep(0.3)
            staged = z.json.loads(z.run(
                [cl.cli_path, "--membership", cl.membership, "versions",
                 "users", "--json"]).out)
            second = spawn(cl.load_cmd("r", "--json", "yes"),
                           os.path.join(cl.dir, "second.log"))
            h.wait_until(lambda: "publish:" in log_of(second), 30,
                         interval=0.05, what="the second loader to publish")
        finally:
            for n in IDS:
                cl.nodes[n].signal(signal.SIGCONT)
        first.send_signal(signal.SIGCONT)
        rc1 = first.wait(timeout=h.scaled(60))
        rc2 = second.wait(timeout=h.scaled(60))
        eq((rc1, rc2), (69, 0), "exit codes (first, second): %s / %s"
           % (log_of(first)[-800:], log_of(second)[-800:]))
        check("load lock of users was lost" in log_of(first),
              "the first says why: %s" % log_of(first)[-800:])
        won = z.json.loads(log_of(second).splitlines()[-1])["version"]
        eq(cl.active_version(), won, "the second loader's version is active")
        check(won > old and len(staged) >= 2, "versions: %r" % staged)
        h.wait_until(lambda: all((cl.tinfo(n) or {}).get(b"active_version")
                                 == won for n in IDS), 30, interval=0.2,
                     what="every node on version %d" % won)
        z.cli_read_all(cl, "r")
        cl.stop_all()
    finally:
        cl.zk.stop()


def test_activated_version_too_large_for_a_node(ctx):
    """A version staged while n3 had room, then n3 restarted with a
    smaller --batch-memory and the version activated anyway (`larder
    activate`, the other replicas being ready): n3 refuses it as it would
    a pull (a refusal recorded and counted, nothing mapped beyond its
    budget), keeps serving the previous version, and says "joining" so
    that reads go to the replicas that switched."""
    z.need_zookeeper(ctx)
    cl = loaded_cluster(ctx)
    try:
        old = cl.active_version()
        r = z.run(cl.load_cmd("big", "--stage-only", "yes", "--json", "yes",
                              n=2000, pad=200))
        eq(r.rc, 0, "staging: %r" % r)
        big = z.json.loads(r.out)["version"]
        h.wait_until(lambda: z.ready_everywhere(cl, "users", big), 20,
                     interval=0.1, what="version %d pulled" % big)
        cl.nodes["n3"].stop_and_check()
        cl.extra["n3"] = ["--batch-memory", "64kb"]
        cl.start("n3")
        h.wait_until(lambda: int(cl.nodes["n3"].info().get(
            "batch_refusals_total", "0")) >= 1, 20, interval=0.2,
            what="n3 to refuse the staged version")
        cl.cli("activate", "users=%d" % big)
        eq(cl.active_version(), big, "the version is active")
        h.wait_until(lambda: all((cl.tinfo(n) or {}).get(b"active_version")
                                 == big for n in ("n1", "n2")), 20,
                     interval=0.2, what="n1 and n2 on version %d" % big)
        cl.wait_live(["n3"], state="joining")
        time.sleep(1.0)
        ti = cl.tinfo("n3")
        eq(ti[b"active_version"], old, "n3 serves the previous version")
        info = cl.nodes["n3"].info()
        check(h.info_int(info, "batch_used_bytes") <= 64 * 1024,
              "n3 within its budget: %r" % info.get("batch_used_bytes"))
        check("does not fit" in cl.nodes["n3"].log_text(),
              "n3 says why it does not switch")
        # Reads route to the replicas that switched.
        r = cl.cli("mget", "users", *["u%05d" % i for i in range(20)],
                   "--json")
        got = z.json.loads(r.out)
        check(all(x["found"] and x["value"].startswith("big:")
                  for x in got), "mget of the new version: %r" % got[:3])
        cl.stop_all()
    finally:
        cl.zk.stop()


def test_no_promotion_to_a_dead_node(ctx):
    """A dead node put back into the targets (`larder rebalance` moved its
    partitions away, then `larder node add` recomputed the placement with
    every member) still has its old readiness records: the controller
    must not promote to it, or the live replicas would drop partitions
    it cannot serve. Once it restarts and pulls, the moves finish."""
    z.need_zookeeper(ctx)
    cl = loaded_cluster(ctx)
    try:
        cl.kill9("n3")
        h.wait_until(lambda: not cl.members()["n3"]["live"], 15,
                     interval=0.1, what="n3's session to expire")
        out = cl.cli_json("rebalance")
        check(out["changed"], "rebalance moved n3's partitions: %r" % out)
        cl.wait_settled(["n1", "n2"])
        cl.cli("node", "add", "n1", cl.addr("n1"), "--zone", "z1")
        gen, ring = cl.ring()
        back = [p for p, (c, t) in ring.items() if "n3" in t]
        check(back, "node add put n3 back into some targets: %r" % ring)
        time.sleep(2.5)  # a few controller turns
        gen2, ring = cl.ring()
        check(all("n3" not in c for c, _ in ring.values()),
              "promoted to the dead n3: %r" % ring)
        for n in ("n1", "n2"):
            eq(cl.tinfo(n)[b"held_partitions"], z.PARTS,
               "%s still holds every partition" % n)
        z.cli_read_all(cl, "a")
        cl.start("n3")
        cl.wait_live(IDS)
        cl.wait_settled(IDS)
        z.check_owners(cl, z.key_partitions(cl), "a", IDS)
        cl.stop_all()
    finally:
        cl.zk.stop()


if __name__ == "__main__":
    h.main([test_zookeeper_restart, test_sigstop_past_session,
            test_restart_while_zookeeper_down,
            test_loader_paused_past_session,
            test_activated_version_too_large_for_a_node,
            test_no_promotion_to_a_dead_node], budget=290)
