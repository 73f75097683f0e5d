#!/usr/bin/env python3
"""The schema-change gate, push-id retries, --progress and `larder diff`,
end to end: real loads with larder-load into a local: membership directory
and a file:// store (the cluster played by test_loader's fake node), and
the admin CLI comparing the versions they stage.

- A load whose fields or types differ from the active version's manifest
  fails with exit 75 naming what changed, publishes nothing and leaves the
  active version; --allow-schema-change lets it through; the manifest
  records each field's types ("int|nil").
- A push id whose load failed runs again; one that succeeded is a no-op,
  also once store retention has retired the version.
- --progress draws on a terminal and writes nothing to a pipe.
- `larder diff T V1 V2` counts added, removed, changed and unchanged keys
  between two staged versions (also with different partition counts) and
  shows a sample of changed values, in text and --json.
"""

import json
import os
import pty
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402
from test_loader import (Cluster, FakeNode, activate_first, big_tsv,  # noqa
                         kv_tsv, _write_json_atomic, EXIT_GATE, EXIT_IO,
                         EXIT_DATA)


def cli_path(ctx):
    build = os.path.dirname(os.path.dirname(ctx.opts.larderd))
    path = os.path.join(build, "cli", "larder")
    if not os.access(path, os.X_OK):
        h.fail("larder not found at %s" % path)
    return path


def larder(ctx, c, *args):
    cp = h._run_tool([cli_path(ctx), "--membership", "local:" + c.mdir] +
                     [str(a) for a in args], None, 60)
    out = cp.stdout.decode("utf-8", "replace")
    err = cp.stderr.decode("utf-8", "replace")
    for m in h.SANITIZER_MARKERS:
        check(m not in err, "larder sanitizer report:\n%s" % err)
    return cp.returncode, out, err


def write_rows(c, name, header, rows):
    lines = ["\t".join(header)] + ["\t".join(map(str, r)) for r in rows]
    return c.write(name, "\n".join(lines) + "\n")


# ---------------------------------------------------------------------------
# The schema gate
# ---------------------------------------------------------------------------

def test_schema_gate(ctx):
    c = Cluster(ctx)
    node = FakeNode(c)
    v1 = activate_first(c, node, "t", kv_tsv(c, "a.tsv", 200), "--key",
                        "user", "--partitions", "4")
    man, _ = c.read_version("t", v1)
    eq(man["schema"], {"key": "user", "value": "map", "fields": [
        {"name": "age", "type": "int"}, {"name": "country", "type": "str"},
        {"name": "score", "type": "float"}]}, "schema of v1")
    node.serve("t")
    # Same fields and types: the gate passes without any option.
    r = c.run("t", kv_tsv(c, "b.tsv", 210), "--key", "user", "--json")
    c.expect(r, 0, "same schema")
    v2 = r.json["version"]
    eq(c.active(), {"t": v2}, "active after a same-schema load")
    # A field added, one removed, one that now has empty values (nil).
    changed = write_rows(c, "c.tsv", ["user", "age", "country", "bonus"],
                         [("u%06d" % i, "" if i % 3 == 0 else i, "DE",
                           "%.1f" % (i / 2.0)) for i in range(200)])
    r = c.run("t", changed, "--key", "user", "--json")
    c.expect(r, EXIT_GATE, "schema change",
             "schema differs from active version %d's" % v2)
    for part in ("added fields: bonus (float)",
                 "removed fields: score (float)",
                 "type changes: age int -> int|nil",
                 "--allow-schema-change"):
        check(part in r.err, "gate message lacks %r: %r" % (part, r.err))
    eq(r.json["exit_code"], EXIT_GATE, "JSON exit code")
    eq(c.active(), {"t": v2}, "active after the schema gate")
    eq(c.version("t", r.json["version"])["state"], "failed",
       "gated version marked failed")
    eq(c.store_versions("t"), ["v-%06d" % v1, "v-%06d" % v2],
       "nothing published by a gated load")
    check(c.lock_free("t"), "lock free after the gate")
    # Staging is gated the same way (against the active version).
    r = c.run("t", changed, "--key", "user", "--stage-only")
    c.expect(r, EXIT_GATE, "schema change, stage-only")
    # --allow-schema-change lets it through; the manifest has the unions.
    r = c.run("t", changed, "--key", "user", "--json",
              "--allow-schema-change")
    c.expect(r, 0, "--allow-schema-change")
    v3 = r.json["version"]
    eq(c.active(), {"t": v3}, "active after an allowed schema change")
    man, _ = c.read_version("t", v3)
    eq(man["schema"]["fields"], [
        {"name": "age", "type": "int|nil"},
        {"name": "country", "type": "str"},
        {"name": "bonus", "type": "float"}], "schema of v3")
    # The same data again now matches the active schema.
    r = c.run("t", changed, "--key", "user")
    c.expect(r, 0, "same schema as the new active version")
    v4 = c.active()["t"]
    # The gate reads the active manifest: a damaged one fails the load
    # (I/O, 74) unless the comparison is skipped.
    mpath = os.path.join(c.sdir, "t", "v-%06d" % v4, "manifest.json")
    with open(mpath, "a") as f:
        f.write(" ")
    r = c.run("t", changed, "--key", "user")
    c.expect(r, EXIT_IO, "damaged active manifest",
             "cannot read the manifest of active version %d" % v4)
    eq(c.active(), {"t": v4}, "active after a damaged manifest")
    r = c.run("t", changed, "--key", "user", "--allow-schema-change")
    c.expect(r, 0, "damaged active manifest, comparison skipped")
    node.stop_serving()


def test_schema_gate_layout_and_empty(ctx):
    c = Cluster(ctx)
    node = FakeNode(c)
    p = write_rows(c, "a.tsv", ["id", "v"], [("k%d" % i, "x%d" % i)
                                             for i in range(50)])
    activate_first(c, node, "r", p, "--key", "id", "--value-field", "v",
                   "--partitions", "4")
    node.serve("r")
    # The same field stored as a map instead of raw bytes is a change.
    r = c.run("r", p, "--key", "id")
    c.expect(r, EXIT_GATE, "raw -> map", "value: raw field v -> map")
    # An empty version has no types to compare: only --allow-empty counts.
    empty = c.write("empty.tsv", "id\tv\n")
    r = c.run("r", empty, "--key", "id", "--value-field", "v",
              "--allow-empty", "--json")
    c.expect(r, 0, "empty load")
    eq(c.active(), {"r": r.json["version"]}, "empty version active")
    r = c.run("r", p, "--key", "id", "--json")
    c.expect(r, 0, "after an empty active version")
    node.stop_serving()


# ---------------------------------------------------------------------------
# Push ids
# ---------------------------------------------------------------------------

def test_push_id_retries(ctx):
    c = Cluster(ctx)
    node = FakeNode(c)
    v1 = activate_first(c, node, "p", kv_tsv(c, "a.tsv", 100), "--key",
                        "user", "--partitions", "4")
    node.serve("p")
    changed = write_rows(c, "b.tsv", ["user", "extra"],
                         [("u%06d" % i, i) for i in range(100)])
    # The first attempt fails a gate: recorded as failed, with its push id.
    r = c.run("p", changed, "--key", "user", "--push-id", "run-42", "--json")
    c.expect(r, EXIT_GATE, "push id, first attempt")
    failed = r.json["version"]
    rec = c.version("p", failed)
    eq((rec["state"], rec["push_id"]), ("failed", "run-42"),
       "failed attempt record")
    # A retry with the same push id runs again (never a silent success).
    r = c.run("p", changed, "--key", "user", "--push-id", "run-42",
              "--allow-schema-change", "--json")
    c.expect(r, 0, "push id retry after a failure")
    eq(r.json["state"], "active", "retry state")
    v3 = r.json["version"]
    check(v3 > failed, "the retry made a new version")
    eq(c.active(), {"p": v3}, "retry active")
    # Once it succeeded, the same push id is a no-op.
    r = c.run("p", changed, "--key", "user", "--push-id", "run-42",
              "--allow-schema-change", "--json")
    c.expect(r, 0, "push id after success")
    eq((r.json["state"], r.json["version"]), ("noop", v3), "no-op")
    eq(max(c.versions("p")), v3, "no version allocated by a no-op")
    # A staged push id is done for --stage-only retries.
    r = c.run("p", changed, "--key", "user", "--push-id", "stage-1",
              "--stage-only", "--json")
    c.expect(r, 0, "stage-only push id")
    vs = r.json["version"]
    r = c.run("p", changed, "--key", "user", "--push-id", "stage-1",
              "--stage-only", "--json")
    c.expect(r, 0, "stage-only push id again")
    eq((r.json["state"], r.json["version"]), ("noop", vs), "staged no-op")
    eq(c.active(), {"p": v3}, "active untouched by staging")
    check(v1 < v3, "versions increase")
    node.stop_serving()


def cli_versions(ctx, c, table):
    """{version: record} as `larder versions T --json` prints them."""
    rc, out, err = larder(ctx, c, "versions", table, "--json")
    eq(rc, 0, "larder versions %s: %s" % (table, err))
    return {int(v["version"]): v for v in json.loads(out)}


def test_push_id_after_retention(ctx):
    """Retention marks failed loads retired like old active versions: a
    push id whose load failed still runs again once its version is
    retired, and one that succeeded stays a no-op after retirement."""
    c = Cluster(ctx)
    node = FakeNode(c)
    v1 = activate_first(c, node, "q", kv_tsv(c, "a.tsv", 100), "--key",
                        "user", "--partitions", "4")
    node.serve("q")
    changed = write_rows(c, "b.tsv", ["user", "extra"],
                         [("u%06d" % i, i) for i in range(100)])
    r = c.run("q", changed, "--key", "user", "--push-id", "run-A", "--json")
    c.expect(r, EXIT_GATE, "push A, first attempt")
    va = r.json["version"]
    r = c.run("q", kv_tsv(c, "s.tsv", 100, salt="s"), "--key", "user",
              "--push-id", "run-S", "--json")
    c.expect(r, 0, "push S")
    vs = r.json["version"]
    # Push L succeeded under a loader that did not record activated_ms.
    r = c.run("q", kv_tsv(c, "l.tsv", 100, salt="l"), "--key", "user",
              "--push-id", "run-L", "--json")
    c.expect(r, 0, "push L")
    vl = r.json["version"]
    rec = c.version("q", vl)
    rec.pop("activated_ms", None)
    _write_json_atomic(os.path.join(c.mdir, "tables", "q", "versions",
                                    "v-%06d.json" % vl), rec)
    # A load keeping only the active version retires all before it: the
    # failed push A and the once-active pushes S and L alike.
    r = c.run("q", kv_tsv(c, "t.tsv", 100, salt="t"), "--key", "user",
              "--store-retain", "1", "--json")
    c.expect(r, 0, "load with --store-retain 1")
    vt = r.json["version"]
    recs = cli_versions(ctx, c, "q")
    eq([recs[v]["state"] for v in (v1, va, vs, vl, vt)],
       ["retired", "retired", "retired", "retired", "active"],
       "states after retention")
    # The retired successes stay done.
    for push, v in (("S", vs), ("L", vl)):
        r = c.run("q", kv_tsv(c, "x.tsv", 100, salt="x"), "--key", "user",
                  "--push-id", "run-" + push, "--json")
        c.expect(r, 0, "push %s retried after retirement" % push)
        eq((r.json["state"], r.json["version"]), ("noop", v),
           "retired success %s is a no-op" % push)
    eq(max(c.versions("q")), vt, "no version allocated by the no-op")
    # The retired failure runs again, now with good input, and activates.
    r = c.run("q", kv_tsv(c, "a2.tsv", 100, salt="a"), "--key", "user",
              "--push-id", "run-A", "--json")
    c.expect(r, 0, "push A retried after retirement")
    eq(r.json["state"], "active", "push A retry state")
    va2 = r.json["version"]
    check(va2 > vt, "push A's retry made a new version (%d)" % va2)
    eq(c.active(), {"q": va2}, "push A's retry active")
    eq(cli_versions(ctx, c, "q")[va2]["state"], "active", "retry record")
    r = c.run("q", kv_tsv(c, "a2.tsv", 100, salt="a"), "--key", "user",
              "--push-id", "run-A", "--json")
    c.expect(r, 0, "push A after its retry succeeded")
    eq((r.json["state"], r.json["version"]), ("noop", va2), "then a no-op")
    # What tells them apart: the record keeps when a version was activated.
    recs = cli_versions(ctx, c, "q")
    check(recs[vs]["activated_ms"] >= recs[vs]["created_ms"] > 0,
          "push S records when it was activated: %r" % recs[vs])
    check(recs[va2]["activated_ms"] >= recs[va2]["created_ms"] > 0,
          "push A's retry records when it was activated: %r" % recs[va2])
    eq(recs[vl]["activated_ms"], recs[vl]["created_ms"],
       "push L: retired without a recorded activation, stamped created_ms")
    eq(recs[va]["activated_ms"], 0, "push A's failed version: never active")
    node.stop_serving()


# ---------------------------------------------------------------------------
# --progress
# ---------------------------------------------------------------------------

def read_pty(master):
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:  # EIO once the child and its copies are gone
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def run_on_pty(c, *args):
    master, slave = pty.openpty()
    p = subprocess.Popen(c.args(*args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=slave,
                         preexec_fn=h._pdeathsig)
    h._started.append(p)
    os.close(slave)
    data = read_pty(master)
    os.close(master)
    p.stdout.read()
    p.wait(timeout=h.scaled(120))
    text = data.decode("utf-8", "replace")
    for m in h.SANITIZER_MARKERS:
        check(m not in text, "larder-load sanitizer report:\n%s" % text)
    return p.returncode, text


def test_progress(ctx):
    c = Cluster(ctx)
    path = big_tsv(c, "big.tsv", 30000)
    # Piped stderr: not a byte of the progress line.
    r = c.run("g", path, "--key", "key", "--stage-only", "--progress",
              "--partitions", "4")
    c.expect(r, 0, "--progress, piped")
    check("\r" not in r.err and "\x1b" not in r.err,
          "progress output on a pipe: %r" % r.err)
    check("read: 30000 rows" in r.err, "log lines still there: %r" % r.err)
    # On a terminal it is drawn (and erased) ...
    rc, text = run_on_pty(c, "g", path, "--key", "key", "--stage-only",
                          "--progress")
    eq(rc, 0, "--progress on a terminal")
    check("\rread " in text and " rows/s" in text and "ETA " in text and
          "\x1b[K" in text, "no progress line on a terminal: %r"
          % text[-2000:])
    # ... but only when asked for.
    rc, text = run_on_pty(c, "g", path, "--key", "key", "--stage-only")
    eq(rc, 0, "no --progress on a terminal")
    check("\rread " not in text and "\x1b[K" not in text,
          "progress line without --progress: %r" % text[-2000:])


# ---------------------------------------------------------------------------
# larder diff
# ---------------------------------------------------------------------------

def users(rng):
    return [("u%03d" % i, i + (1000 if 10 <= i < 20 else 0), "n%d" % i)
            for i in rng]


def stage(c, table, name, rows, *extra):
    p = write_rows(c, name, ["user", "age", "name"], rows)
    r = c.run(table, p, "--key", "user", "--stage-only", "--json", *extra)
    c.expect(r, 0, "stage %s" % name)
    return r.json["version"]


def diff_json(ctx, c, *args):
    rc, out, err = larder(ctx, c, "diff", *args, "--json")
    eq(rc, 0, "diff %s: %s" % (args, err))
    return json.loads(out)


def counts(j):
    return (j["added"], j["removed"], j["changed"], j["unchanged"])


def test_diff(ctx):
    c = Cluster(ctx)
    v1 = stage(c, "d", "v1.tsv",
               [("u%03d" % i, i, "n%d" % i) for i in range(100)],
               "--partitions", "4")
    # v2: u000-u009 removed, u010-u019 with another age, u100-u114 added.
    v2 = stage(c, "d", "v2.tsv", users(range(10, 115)))
    j = diff_json(ctx, c, "d", v1, v2)
    eq(j["table"], "d", "table")
    eq((j["from"]["version"], j["from"]["state"], j["from"]["rows"],
        j["from"]["partitions"]), (v1, "staged", 100, 4), "from")
    eq((j["to"]["version"], j["to"]["rows"]), (v2, 105), "to")
    eq(counts(j), (15, 10, 10, 80), "added, removed, changed, unchanged")
    eq(len(j["sample"]), 10, "default sample")
    for s in j["sample"]:
        i = int(s["key"][1:])
        check(10 <= i < 20, "sampled key %r did not change" % s["key"])
        eq(s["from"], {"age": i, "name": "n%d" % i}, "old value of %s"
           % s["key"])
        eq(s["to"], {"age": i + 1000, "name": "n%d" % i}, "new value of %s"
           % s["key"])
    eq(sorted(s["key"] for s in j["sample"]),
       ["u%03d" % i for i in range(10, 20)], "every change sampled")
    eq(len(diff_json(ctx, c, "d", v1, v2, "--sample", 3)["sample"]), 3,
       "--sample 3")
    eq(diff_json(ctx, c, "d", v1, v2, "--sample=0")["sample"], [],
       "--sample 0")
    eq(counts(diff_json(ctx, c, "d", v2, v1)), (10, 15, 10, 80), "reversed")
    eq(counts(diff_json(ctx, c, "d", v1, v1)), (0, 0, 0, 100), "itself")

    # Text output: the counts and each change, values as `get` shows them.
    rc, out, err = larder(ctx, c, "diff", "d", v1, v2)
    eq(rc, 0, "diff text: %s" % err)
    check(out.startswith("d: version %d (staged, 100 rows) -> version %d "
                         "(staged, 105 rows)\n" % (v1, v2)), out)
    for line in ("added      15\n", "removed    10\n", "changed    10\n",
                 "unchanged  80\n", "changed values (10 of 10):\n",
                 'u012\n  - {"age":12,"name":"n12"}\n'
                 '  + {"age":1012,"name":"n12"}\n'):
        check(line in out, "diff text lacks %r:\n%s" % (line, out))

    # A version with another partition count (an explicit repartition):
    # keys are looked up by hash in the other version's partitions.
    cfg = c.table_config("d")
    cfg["partitions"] = 7
    _write_json_atomic(os.path.join(c.mdir, "tables", "d", "config.json"),
                       cfg)
    v3 = stage(c, "d", "v3.tsv", users(range(10, 115)))
    j = diff_json(ctx, c, "d", v1, v3)
    eq(j["to"]["partitions"], 7, "v3 partitions")
    eq(counts(j), (15, 10, 10, 80), "v1 -> v3 across partition counts")
    eq(counts(diff_json(ctx, c, "d", v3, v2)), (0, 0, 0, 105), "v3 -> v2")

    # Keys and values that are not UTF-8 come as base64.
    raw1 = c.data + "/raw1.tsv"
    with open(raw1, "wb") as f:
        f.write(b"id\tv\nk\xe9\t\xff\x01\nplain\tsame\n")
    raw2 = c.data + "/raw2.tsv"
    with open(raw2, "wb") as f:
        f.write(b"id\tv\nk\xe9\t\xfe\x02\nplain\tsame\n")
    b1 = c.run("b", raw1, "--key", "id", "--value-field", "v",
               "--stage-only", "--partitions", "2", "--json").json["version"]
    b2 = c.run("b", raw2, "--key", "id", "--value-field", "v",
               "--stage-only", "--json").json["version"]
    j = diff_json(ctx, c, "b", b1, b2)
    eq(counts(j), (0, 0, 1, 1), "binary counts")
    eq(j["sample"], [{"key": "a+k=", "from": "/wE=", "to": "/gI=",
                      "key_encoding": "base64", "from_encoding": "base64",
                      "to_encoding": "base64"}], "binary sample")

    # Errors: usage (2), unknown or failed versions (1), damage (3).
    rc, out, err = larder(ctx, c, "diff", "d", "x", v2)
    eq(rc, 2, "non-numeric version")
    check("\"x\" is not a version number" in err, err)
    rc, out, err = larder(ctx, c, "diff", "d", v1)
    eq(rc, 2, "missing version argument")
    rc, out, err = larder(ctx, c, "diff", "d", v1, 999)
    eq(rc, 1, "unknown version")
    check("table d has no version 999" in err, err)
    dup = c.write("dup.tsv", "user\tage\tname\nu1\t1\ta\nu1\t2\tb\n")
    r = c.run("d", dup, "--key", "user", "--stage-only", "--json")
    c.expect(r, EXIT_DATA, "a failed load")
    rc, out, err = larder(ctx, c, "diff", "d", v1, r.json["version"])
    eq(rc, 1, "failed version")
    check("has no manifest (state failed)" in err, err)
    man, _ = c.read_version("d", v3)
    seg = os.path.join(c.sdir, man["files"][2]["key"])
    with open(seg, "r+b") as f:
        f.seek(os.path.getsize(seg) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xFF]))
    rc, out, err = larder(ctx, c, "diff", "d", v1, v3)
    eq(rc, 3, "damaged segment")
    check("partition 2" in err and out == "", "damage message: %r" % err)
    rc, out, err = larder(ctx, c, "diff", "--help")
    eq(rc, 0, "diff --help")
    check("usage: larder diff TABLE V1 V2 [--sample N]" in out, out)


if __name__ == "__main__":
    h.main([
        test_schema_gate,
        test_schema_gate_layout_and_empty,
        test_push_id_retries,
        test_push_id_after_retention,
        test_progress,
        test_diff,
    ], budget=280)
