#!/usr/bin/env python3
"""larder-load on CSV, gzip and Spark/Hadoop output directories, end to
end: files written by Python's own csv and gzip modules are staged into a
local: membership directory and a file:// store (no node needed; the
segments are read back and decoded with test_loader.py's helpers), and,
when larderd has batch tables, loaded into a real node and read with T.GET.

Covered: CSV quoting (embedded commas, doubled quotes, newlines, CRLF) and
typing; an unclosed quote at the end of a file is a bad row naming file
and line; gzip'd JSONL and CSV, concatenated gzip members, a truncated gzip
file (exit 65, file and offset named); a Spark-like output directory
(part files, _SUCCESS, .crc, _committed_*/_started_* skipped); a directory
without _SUCCESS refused (65) unless --allow-incomplete; glob inputs in
sorted order, and a glob that matches nothing (66).
"""

import csv
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402
import test_loader as tl  # noqa: E402

EXIT_DATA, EXIT_NOINPUT = tl.EXIT_DATA, tl.EXIT_NOINPUT

# Values that need CSV quoting, and the text they must load as.
TRICKY = [
    "plain",
    "with, comma",
    'say "hi"',
    "two\nlines",
    "crlf\r\ninside",
    '"quoted", and\nmore',
    "",
    "ünïcödé ✓",
    "  spaces  ",
]


def write_csv(path, header, rows, opener=open):
    """Writes rows with Python's csv module (excel dialect: CRLF line ends,
    quotes only where needed)."""
    with opener(path, "wt", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def user_rows(n):
    return [["u%05d" % i, str(i % 90), TRICKY[i % len(TRICKY)],
             "%.2f" % (i / 4.0)] for i in range(n)]


def typed_note(text):
    """What the loader stores for a TRICKY value (docs/loader.md: CSV
    fields are typed like TSV text; an empty one is nil)."""
    return None if text == "" else text


def stage(c, table, inputs, *extra, code=0, what="load", contains=None):
    r = c.run(table, inputs, "--stage-only", "--json", *extra)
    c.expect(r, code, what, contains)
    return r


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

def test_csv_written_by_python(ctx):
    c = tl.Cluster(ctx)
    rows = user_rows(500)
    p = write_csv(os.path.join(c.data, "users.csv"),
                  ["user", "age", "note", "score"], rows)
    with open(p, "rb") as f:
        raw = f.read()
    check(b'"with, comma"' in raw and b'"say ""hi"""' in raw and
          b'"two\nlines"' in raw and b"\r\n" in raw,
          "the csv module quoted the tricky values")
    r = stage(c, "users", p, "--key", "user", what="csv load")
    eq(r.json["rows"], 500, "rows")
    eq(r.json["rows_read"], 500, "rows read")
    eq(r.json["bad_rows"], 0, "bad rows")
    eq(r.json["files"], 1, "files")
    _, got = c.read_version("users", r.json["version"])
    eq(len(got), 500, "keys stored")
    for row in rows:
        v = tl.unpack_value(got[row[0].encode()])
        want = {"age": int(row[1]), "note": typed_note(row[2]),
                "score": float(row[3])}
        eq(v, want, "value of %s" % row[0])
    # --value-field keeps a field's bytes exactly: quotes undone, embedded
    # line ends (CRLF too) kept.
    r = stage(c, "notes", p, "--key", "user", "--value-field", "note",
              what="csv value-field load")
    _, got = c.read_version("notes", r.json["version"])
    for row in rows:
        eq(got[row[0].encode()], row[2].encode("utf-8"),
           "raw note of %s" % row[0])
    # --format csv for a file whose name says nothing.
    q = os.path.join(c.data, "users.export")
    with open(q, "wb") as f:
        f.write(raw)
    r = c.run("users2", q, "--key", "user", "--stage-only")
    c.expect(r, tl.EXIT_USAGE, "no format from the name", "--format")
    r = stage(c, "users2", q, "--key", "user", "--format", "csv")
    eq(r.json["rows"], 500, "rows with --format csv")


def test_csv_bad_rows(ctx):
    c = tl.Cluster(ctx)
    p = c.write("bad.csv", 'k,v\na,1\nb,"x"y\nc,3\nd,"never closed\ne,5\n')
    r = stage(c, "t", p, "--key", "k", code=EXIT_DATA, what="bad rows",
              contains="bad row: %s:3: field 2 (line 3): text after the "
                       "closing quote" % p)
    r = stage(c, "t", p, "--key", "k", "--max-bad-rows", "2",
              what="bad rows allowed")
    eq(r.json["rows"], 2, "good rows before the unclosed quote")
    eq(r.json["bad_rows"], 2, "bad rows")
    samples = r.json["bad_row_samples"]
    eq([s["line"] for s in samples], [3, 5], "bad row lines")
    eq(samples[1]["reason"], "field 2: the quote opened on line 5 is not "
       "closed at the end of the file", "unclosed quote reason")
    check(("bad row: %s:5: field 2: the quote opened on line 5" % p)
          in r.err, "unclosed quote on stderr: %r" % r.err)
    _, got = c.read_version("t", r.json["version"])
    eq(sorted(got), [b"a", b"c"], "keys")
    # A header that cannot be read is a bad file.
    p = c.write("badhdr.csv", 'k,"v\na,1\n')
    r = stage(c, "t", p, "--key", "k", code=EXIT_DATA, what="bad header",
              contains="header")


def test_gzip_inputs(ctx):
    c = tl.Cluster(ctx)
    # JSONL written by Python's gzip module.
    p = os.path.join(c.data, "recs.jsonl.gz")
    src = {}
    with gzip.open(p, "wt", encoding="utf-8") as f:
        for i in range(2000):
            row = {"user": "u%d" % i,
                   "recs": [{"item": "i%d" % (i * 7 % 100), "score": 0.5}],
                   "n": i}
            src[row["user"].encode()] = row
            f.write(json.dumps(row) + "\n")
    r = stage(c, "recs", p, "--key", "user", what="jsonl.gz load")
    eq(r.json["rows"], 2000, "rows from jsonl.gz")
    eq(r.json["input_bytes"], os.path.getsize(p), "input bytes: compressed")
    _, got = c.read_version("recs", r.json["version"])
    for k, row in src.items():
        eq(tl.unpack_value(got[k]), {"recs": row["recs"], "n": row["n"]},
           "value of %r" % k)
    # Appending with the gzip module adds a member: both are read.
    with gzip.open(p, "at", encoding="utf-8") as f:
        f.write(json.dumps({"user": "extra", "recs": [], "n": -1}) + "\n")
    with open(p, "rb") as f:
        check(f.read().count(b"\x1f\x8b\x08") >= 2, "two gzip members")
    r = stage(c, "recs", p, "--key", "user", what="two members")
    eq(r.json["rows"], 2001, "rows from two members")
    # CSV through gzip, with quoted newlines.
    q = write_csv(os.path.join(c.data, "users.csv.gz"),
                  ["user", "age", "note", "score"], user_rows(300),
                  opener=gzip.open)
    r = stage(c, "users", q, "--key", "user", what="csv.gz load")
    eq(r.json["rows"], 300, "rows from csv.gz")
    # Truncated: exit 65 naming the file and the offset; nothing staged.
    with open(p, "rb") as f:
        data = f.read()
    t = os.path.join(c.data, "cut.jsonl.gz")
    with open(t, "wb") as f:
        f.write(data[:len(data) // 2])
    r = stage(c, "cut", t, "--key", "user", code=EXIT_DATA,
              what="truncated gzip",
              contains="%s: truncated gzip data: the file ends at byte %d"
                       % (t, len(data) // 2))
    eq(c.store_versions("cut"), [], "nothing stored from a truncated file")
    # A .gz name on plain text.
    m = c.write("plain.tsv.gz", "k\tv\na\t1\n")
    stage(c, "cut", m, "--key", "k", code=EXIT_DATA, what="not gzip",
          contains="no gzip data")


def spark_dir(c, name, nparts, fmt="csv", success=True, rows_per=50):
    """A directory as Spark writes it: part files, their .crc checksums,
    the commit protocol's _started_/_committed_ markers and _SUCCESS."""
    d = os.path.join(c.data, name)
    os.makedirs(d)
    keys = []
    for i in range(nparts):
        base = "part-%05d-0d2c6a1e-c000" % i
        rows = [["k%d_%d" % (i, j), str(j)] for j in range(rows_per)]
        keys += [r[0] for r in rows]
        if fmt == "csv":
            write_csv(os.path.join(d, base + ".csv"), ["key", "val"], rows)
        else:
            with gzip.open(os.path.join(d, base + ".json.gz"), "wt") as f:
                for r in rows:
                    f.write(json.dumps({"key": r[0], "val": int(r[1])}) +
                            "\n")
        with open(os.path.join(d, "." + base + ".crc"), "wb") as f:
            f.write(b"crc garbage, not csv\x00\x01")
    for marker in ("_committed_123456", "_started_123456"):
        with open(os.path.join(d, marker), "w") as f:
            f.write('{"added":[],"removed":[]}\n')
    if success:
        open(os.path.join(d, "_SUCCESS"), "w").close()
    return d, keys


def test_spark_directory(ctx):
    c = tl.Cluster(ctx)
    d, keys = spark_dir(c, "out_csv", 4)
    r = stage(c, "sp", d, "--key", "key", what="spark csv dir")
    eq(r.json["files"], 4, "part files read (markers and .crc skipped)")
    eq(r.json["rows"], len(keys), "rows")
    _, got = c.read_version("sp", r.json["version"])
    eq(sorted(got), sorted(k.encode() for k in keys), "keys")
    eq(tl.unpack_value(got[b"k2_7"]), {"val": 7}, "a value")
    d, keys = spark_dir(c, "out_json", 3, fmt="json")
    r = stage(c, "spj", d, "--key", "key", what="spark json.gz dir")
    eq(r.json["files"], 3, "json.gz part files")
    eq(r.json["rows"], len(keys), "rows from json.gz parts")


def test_incomplete_directory(ctx):
    c = tl.Cluster(ctx)
    d, keys = spark_dir(c, "running", 2, success=False)
    r = stage(c, "inc", d, "--key", "key", code=EXIT_DATA,
              what="no _SUCCESS",
              contains="%s has no _SUCCESS marker: the job that writes it "
                       "may still be running; use --allow-incomplete to "
                       "load it anyway" % d)
    eq(r.json["state"], "failed", "state")
    eq(c.store_versions("inc"), [], "nothing stored")
    eq(c.versions("inc"), {}, "no version allocated")
    r = stage(c, "inc", d, "--key", "key", "--allow-incomplete",
              what="--allow-incomplete")
    eq(r.json["rows"], len(keys), "rows with --allow-incomplete")
    # Once the job finishes, it loads without the option.
    open(os.path.join(d, "_SUCCESS"), "w").close()
    r = stage(c, "inc", d, "--key", "key", what="after _SUCCESS")
    eq(r.json["rows"], len(keys), "rows after _SUCCESS")


def test_glob_inputs(ctx):
    c = tl.Cluster(ctx)
    d = os.path.join(c.data, "g")
    os.makedirs(d)
    # The same key in every part: with --on-duplicate last, the part read
    # last wins, which shows the order (sorted by name, not creation).
    for i in (3, 0, 2, 1):
        write_csv(os.path.join(d, "part-%05d.csv" % i), ["key", "val"],
                  [["same", "p%d" % i], ["k%d" % i, str(i)]])
    write_csv(os.path.join(d, "other-0.csv"), ["key", "val"],
              [["other", "x"]])
    open(os.path.join(d, "_SUCCESS"), "w").close()
    r = stage(c, "g", os.path.join(d, "part-*.csv"), "--key", "key",
              "--on-duplicate", "last", what="glob")
    eq(r.json["files"], 4, "files matched by part-*.csv")
    eq(r.json["rows"], 5, "rows")
    eq(r.json["duplicates"], 3, "duplicates dropped")
    _, got = c.read_version("g", r.json["version"])
    eq(tl.unpack_value(got[b"same"]), {"val": "p3"}, "the last part wins")
    check(b"other" not in got, "other-0.csv is not matched")
    # A glob over a whole directory skips _SUCCESS and hidden files.
    with open(os.path.join(d, ".part-00000.csv.crc"), "wb") as f:
        f.write(b"\x00\x01")
    r = stage(c, "g2", os.path.join(d, "*"), "--key", "key",
              "--on-duplicate", "last", what="glob *")
    eq(r.json["files"], 5, "files matched by *")
    # Nothing matched: the input is missing.
    r = stage(c, "g3", os.path.join(d, "part-*.tsv"), "--key", "key",
              code=EXIT_NOINPUT, what="glob without matches",
              contains="matches no input files")
    r = stage(c, "g3", os.path.join(c.data, "nodir", "*.csv"), "--key",
              "key", code=EXIT_NOINPUT, what="glob in a missing dir")


def test_real_node_reads_csv(ctx):
    c = tl.Cluster(ctx)
    srv = tl.start_node(ctx, c)
    rows = user_rows(200)
    d = os.path.join(c.data, "out")
    os.makedirs(d)
    write_csv(os.path.join(d, "part-00000.csv.gz"),
              ["user", "age", "note", "score"], rows[:100], opener=gzip.open)
    write_csv(os.path.join(d, "part-00001.csv"),
              ["user", "age", "note", "score"], rows[100:])
    open(os.path.join(d, "_SUCCESS"), "w").close()
    r = c.run("csvt", d, "--key", "user", "--value-field", "note", "--json",
              "--ready-timeout", "60")
    c.expect(r, 0, "load with a real node")
    eq(r.json["state"], "active", "state")
    h.wait_until(lambda: isinstance(srv.call("T.GET", "csvt", "u00001"),
                                    bytes), 10,
                 what="the node to serve the activated version")
    for row in (rows[3], rows[5], rows[151], rows[103]):
        eq(srv.call("T.GET", "csvt", row[0]), row[2].encode("utf-8"),
           "T.GET %s" % row[0])


if __name__ == "__main__":
    h.main([
        test_csv_written_by_python,
        test_csv_bad_rows,
        test_gzip_inputs,
        test_spark_directory,
        test_incomplete_directory,
        test_glob_inputs,
        test_real_node_reads_csv,
    ], budget=200)
