#!/usr/bin/env python3
"""larder-load with its binary input formats, Avro and msgpack, end to end:
the same sample data (scripts/gen_sample.py, whose Avro and msgpack writers
live in scripts/sample_formats.py) loaded from JSONL, from Avro with the
null and deflate codecs and from msgpack must give the same versions —
same rows, same stored bytes for every key. The unit tests check the
readers against libavro's and msgpack-c's own writers; this checks the
whole path (format guessing, gzip, bad rows, damaged files and their exit
code and message) and the sample writers against the readers.

Loads are --stage-only into a local: membership directory and a file://
store, read back with test_loader.py's segment reader.
"""

import gzip
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402
from test_loader import (Cluster, unpack_value, GEN_SAMPLE,  # noqa: E402
                         EXIT_DATA)

sys.path.insert(0, os.path.dirname(GEN_SAMPLE))
import sample_formats  # noqa: E402

TABLES = [("recommendations", "user"), ("user_features", "user"),
          ("item_features", "item"), ("user_factors", "user")]


def gen(out, fmt, *extra):
    subprocess.run([sys.executable, GEN_SAMPLE, "--out", out, "--users",
                    "400", "--items", "60", "--dims", "8", "--top", "12",
                    "--format", fmt,
                    "--tables", ",".join(t for t, _ in TABLES)] +
                   list(extra), check=True, stdout=subprocess.DEVNULL)


def load(c, table, path, key, *extra):
    r = c.run(table, path, "--key", key, "--stage-only", "--json",
              "--partitions", "8", *extra)
    c.expect(r, 0, "load of %s" % path)
    return r, c.read_version(table, r.json["version"])[1]


def test_same_versions_as_jsonl(ctx):
    c = Cluster(ctx)
    dirs = {}
    for name, fmt, extra in (("jsonl", "jsonl", ()),
                             ("avro-deflate", "avro", ("--avro-codec",
                                                       "deflate")),
                             ("avro-null", "avro", ("--avro-codec", "null")),
                             ("msgpack", "msgpack", ())):
        dirs[name] = os.path.join(c.data, name)
        gen(dirs[name], fmt, *extra)
    for table, key in TABLES:
        ext = {"jsonl": "jsonl", "avro-deflate": "avro", "avro-null": "avro",
               "msgpack": "msgpack"}
        base_r, base = load(c, "%s_jsonl" % table,
                            os.path.join(dirs["jsonl"], table + ".jsonl"), key)
        eq(base_r.json["rows"], 60 if table.startswith("item") else 400,
           "%s rows" % table)
        for name in ("avro-deflate", "avro-null", "msgpack"):
            t = "%s_%s" % (table, name.replace("-", "_"))
            path = os.path.join(dirs[name], "%s.%s" % (table, ext[name]))
            r, rows = load(c, t, path, key)
            eq(r.json["rows"], base_r.json["rows"], "%s rows" % t)
            eq(r.json["bad_rows"], 0, "%s bad rows" % t)
            eq(set(rows), set(base), "%s keys" % t)
            for k, v in base.items():
                if rows[k] != v:
                    h.fail("%s: key %r: %r, from JSONL %r"
                           % (t, k, unpack_value(rows[k]), unpack_value(v)))
    # A few decoded values, to see what the equal bytes hold.
    _, rows = load(c, "recs_check",
                   os.path.join(dirs["avro-deflate"], "recommendations.avro"),
                   "user")
    recs = unpack_value(rows[b"u00000007"])["recs"]
    eq(len(recs), 12, "top-12 list")
    check(all(set(e) == {"item", "score"} and isinstance(e["score"], float)
              for e in recs), "rec shape: %r" % recs[:2])
    _, rows = load(c, "uf_check",
                   os.path.join(dirs["msgpack"], "user_features.msgpack"),
                   "user", "--fields", "is_premium,age_days,segments")
    v = unpack_value(rows[b"u00000003"])
    eq(list(v), ["is_premium", "age_days", "segments"], "field order")
    check(isinstance(v["is_premium"], bool) and
          isinstance(v["age_days"], int) and isinstance(v["segments"], list),
          "typed values: %r" % v)
    # --value-field: the factor vector as compact JSON text, as from JSONL.
    _, a = load(c, "fv_avro",
                os.path.join(dirs["avro-null"], "user_factors.avro"), "user",
                "--value-field", "factors")
    _, j = load(c, "fv_jsonl",
                os.path.join(dirs["jsonl"], "user_factors.jsonl"), "user",
                "--value-field", "factors")
    eq(a, j, "factor vectors stored from Avro and from JSONL")


def test_format_guess_and_gzip(ctx):
    c = Cluster(ctx)
    src = os.path.join(c.data, "src")
    gen(src, "avro")
    gen(src, "msgpack")
    d = os.path.join(c.data, "parts")
    os.makedirs(d)
    shutil.copy(os.path.join(src, "user_features.avro"),
                os.path.join(d, "part-00000.avro"))
    with open(os.path.join(src, "item_features.msgpack"), "rb") as f, \
            gzip.open(os.path.join(d, "part-00001.msgpack.gz"), "wb") as g:
        g.write(f.read())
    shutil.copy(os.path.join(src, "item_features.msgpack"),
                os.path.join(d, "part-00002.mpk"))
    # --format auto (the default) picks each file's reader by extension.
    r = c.run("guess", os.path.join(d, "part-00001.msgpack.gz"), "--key",
              "item", "--stage-only", "--json", "--partitions", "8")
    c.expect(r, 0, "gzip msgpack")
    eq(r.json["rows"], 60, "rows from .msgpack.gz")
    r = c.run("guess2", [os.path.join(d, "part-00000.avro")], "--key",
              "user", "--stage-only", "--json", "--partitions", "8")
    c.expect(r, 0, "avro by extension")
    eq(r.json["rows"], 400, "rows from .avro")
    # Two files of items, msgpack.gz and .mpk: duplicates across them.
    r = c.run("guess3", [os.path.join(d, "part-00001.msgpack.gz"),
                         os.path.join(d, "part-00002.mpk")],
              "--key", "item", "--stage-only", "--json", "--partitions", "8",
              "--on-duplicate", "last")
    c.expect(r, 0, "two msgpack files")
    eq(r.json["rows_read"], 120, "rows read from both")
    eq(r.json["duplicates"], 60, "duplicates across the files")
    # --format names the format of a file without a telling extension.
    noext = os.path.join(c.data, "noext")
    shutil.copy(os.path.join(src, "user_features.avro"), noext)
    r = c.run("noext", noext, "--key", "user", "--stage-only")
    c.expect(r, 64, "no extension", "--format")
    r = c.run("noext", noext, "--key", "user", "--stage-only", "--format",
              "avro", "--json")
    c.expect(r, 0, "--format avro")
    eq(r.json["rows"], 400, "rows with --format avro")


def test_damaged_files(ctx):
    c = Cluster(ctx)
    src = os.path.join(c.data, "src")
    gen(src, "avro", "--avro-codec", "null")
    gen(src, "msgpack")
    with open(os.path.join(src, "recommendations.avro"), "rb") as f:
        avro = f.read()
    sync = avro[-16:]
    first_end = avro.index(sync) + 16   # the header's marker
    second_end = avro.index(sync, first_end) + 16  # the first block's
    cut = os.path.join(c.data, "cut.avro")
    with open(cut, "wb") as f:
        f.write(avro[:(first_end + second_end) // 2])
    r = c.run("dmg", cut, "--key", "user", "--stage-only", "--json")
    c.expect(r, EXIT_DATA, "truncated avro",
             "%s: block 1 at byte %d: truncated" % (cut, first_end))
    eq(r.json["state"], "failed", "state")
    eq(c.store_versions("dmg"), [], "nothing published")

    bad_sync = bytearray(avro)
    bad_sync[second_end - 3] ^= 0xFF
    p = os.path.join(c.data, "sync.avro")
    with open(p, "wb") as f:
        f.write(bad_sync)
    r = c.run("dmg", p, "--key", "user", "--stage-only")
    c.expect(r, EXIT_DATA, "wrong sync marker", "wrong sync marker at byte "
             "%d" % (second_end - 16))

    p = os.path.join(c.data, "codec.avro")
    with open(p, "wb") as f:
        f.write(avro.replace(b"\x08null", b"\x08zstd", 1))
    r = c.run("dmg", p, "--key", "user", "--stage-only")
    c.expect(r, EXIT_DATA, "unknown codec", "unsupported codec 'zstd'")

    p = os.path.join(c.data, "junk.avro")
    with open(p, "wb") as f:
        f.write(b"PAR1" + os.urandom(100))
    r = c.run("dmg", p, "--key", "user", "--stage-only")
    c.expect(r, EXIT_DATA, "not avro", "not an Avro object container file")

    with open(os.path.join(src, "user_features.msgpack"), "rb") as f:
        mp = f.read()
    p = os.path.join(c.data, "cut.msgpack")
    with open(p, "wb") as f:
        f.write(mp[:-5])
    r = c.run("dmg", p, "--key", "user", "--stage-only")
    c.expect(r, EXIT_DATA, "truncated msgpack",
             "%s: truncated: the file ends inside the object at byte" % p)

    # A non-map object is a bad row, with its byte offset; the gate
    # decides.
    p = os.path.join(c.data, "extra.msgpack")
    with open(p, "wb") as f:
        f.write(sample_formats.msgpack_pack([1, 2]) + mp)
    r = c.run("badrow", p, "--key", "user", "--stage-only", "--json")
    c.expect(r, EXIT_DATA, "non-map row", "not a map but a msgpack array")
    check("stopped reading at %s at byte 0" % p in r.err,
          "stop position: %r" % r)
    sample = r.json["bad_row_samples"][0]
    eq((sample["line"], sample["offset"]), (0, 0), "bad row position")
    r = c.run("badrow", p, "--key", "user", "--stage-only", "--json",
              "--max-bad-rows", "1")
    c.expect(r, 0, "non-map row allowed")
    eq((r.json["rows"], r.json["bad_rows"]), (400, 1), "rows, bad rows")


if __name__ == "__main__":
    h.main([
        test_same_versions_as_jsonl,
        test_format_guess_and_gzip,
        test_damaged_files,
    ], budget=240)
