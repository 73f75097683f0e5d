#!/usr/bin/env python3
"""Writes deterministic synthetic recommendation data for larder-load.

One file per table into --out DIR, as TSV (a header row, tab-separated;
arrays and maps as compact JSON text) and/or JSONL (one object per line),
or as CSV (as TSV, comma-separated with RFC 4180 quoting), Avro (an object
container file, codec --avro-codec) or msgpack (one map per row; both
written by sample_formats.py, no module needed):

  user_features     user, country, age_days, is_premium, avg_session_s,
                    segments (array of strings)
  item_features     item, category, price, popularity, tags
  user_factors      user, factors (--dims floats)
  item_factors      item, factors (--dims floats)
  recommendations   user, recs (--top maps {"item": ITEM_ID, "score": F},
                    best first)

Keys: users "u%08d", items "i%07d"; a recommendation's item is an item key.
The same --seed gives the same bytes.

--kv-rows N instead writes kv.tsv only: N rows of a 16-byte key and a
64-byte value (columns key, value), the loader's benchmark input; with
--format jsonl, csv, avro or msgpack, kv.jsonl, kv.csv, kv.avro or
kv.msgpack instead (csv: a header, comma-separated, "\n" line ends; keys
and values need no quoting).

Examples:
  scripts/gen_sample.py --out /tmp/sample                  # both formats
  scripts/gen_sample.py --out /tmp/s --users 1000 --items 100 --format jsonl
  scripts/gen_sample.py --out /tmp/s --format avro --avro-codec deflate
  scripts/gen_sample.py --out /tmp/bench --kv-rows 10000000
  larder-load --membership local:/tmp/m --store file:///tmp/st \\
      --table recommendations --input /tmp/sample/recommendations.jsonl \\
      --key user
"""
import argparse
import csv
import json
import os
import random
import sys

import sample_formats

COUNTRIES = ["DE", "FR", "GB", "NL", "US", "BR", "JP", "IN", "ES", "IT"]
CATEGORIES = ["books", "music", "film", "games", "toys", "garden", "food",
              "sport"]
SEGMENTS = ["new", "casual", "heavy", "churn_risk", "deal_seeker",
            "night_owl", "weekend"]
TAGS = ["sale", "new", "eco", "premium", "bundle", "local", "gift"]


def user_key(u):
    return "u%08d" % u


def item_key(i):
    return "i%07d" % i


def vector(rng, dims):
    return [float("%.6g" % rng.gauss(0.0, 0.3)) for _ in range(dims)]


def user_features(rng, a):
    for u in range(a.users):
        yield {
            "user": user_key(u),
            "country": rng.choice(COUNTRIES),
            "age_days": rng.randrange(1, 4000),
            "is_premium": rng.random() < 0.1,
            "avg_session_s": round(rng.uniform(5, 1800), 2),
            "segments": sorted(rng.sample(SEGMENTS, rng.randrange(0, 4))),
        }


def item_features(rng, a):
    for i in range(a.items):
        yield {
            "item": item_key(i),
            "category": rng.choice(CATEGORIES),
            "price": round(rng.uniform(0.5, 500), 2),
            "popularity": int(rng.paretovariate(1.2) * 10),
            "tags": sorted(rng.sample(TAGS, rng.randrange(0, 3))),
        }


def user_factors(rng, a):
    for u in range(a.users):
        yield {"user": user_key(u), "factors": vector(rng, a.dims)}


def item_factors(rng, a):
    for i in range(a.items):
        yield {"item": item_key(i), "factors": vector(rng, a.dims)}


def recommendations(rng, a):
    top = min(a.top, a.items)
    for u in range(a.users):
        items = rng.sample(range(a.items), top)
        scores = sorted((round(rng.random(), 4) for _ in items),
                        reverse=True)
        yield {"user": user_key(u),
               "recs": [{"item": item_key(i), "score": s}
                        for i, s in zip(items, scores)]}


BINARY_FORMATS = {
    "avro": lambda path, rows, a: sample_formats.write_avro(
        path, rows, codec=a.avro_codec, seed=a.seed),
    "msgpack": lambda path, rows, a: sample_formats.write_msgpack(path, rows),
}

TABLES = {
    "user_features": user_features,
    "item_features": item_features,
    "user_factors": user_factors,
    "item_factors": item_factors,
    "recommendations": recommendations,
}


def tsv_cell(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def write_table(name, gen, a, fmt, out):
    # Each table gets its own generator seeded from (seed, table), so a
    # table's content does not depend on which other tables are written.
    rng = random.Random("%d/%s" % (a.seed, name))
    path = os.path.join(out, "%s.%s" % (name, fmt))
    if fmt in BINARY_FORMATS:
        BINARY_FORMATS[fmt](path, gen(rng, a), a)
        return path
    with open(path, "w", encoding="utf-8", newline="") as f:
        header = None
        # CSV: RFC 4180 quoting (the JSON text of a list has commas and
        # quotes), "\n" line ends.
        out_csv = None
        if fmt == "csv":
            out_csv = csv.writer(f, lineterminator="\n")
        for row in gen(rng, a):
            if fmt == "jsonl":
                f.write(json.dumps(row, separators=(",", ":")))
                f.write("\n")
                continue
            if header is None:
                header = list(row)
                if out_csv:
                    out_csv.writerow(header)
                else:
                    f.write("\t".join(header) + "\n")
            cells = [tsv_cell(row[k]) for k in header]
            if out_csv:
                out_csv.writerow(cells)
            else:
                f.write("\t".join(cells) + "\n")
    return path


def kv_rows(n, pad):
    for i in range(n):
        off = (i * 7919) % (len(pad) - 56)
        yield {"key": "k%015d" % i,
               "value": "%08x%s" % (i & 0xFFFFFFFF, pad[off:off + 56])}


def write_kv(a, out):
    """N rows of a 16-byte key and a 64-byte value, fast."""
    rng = random.Random(a.seed)
    fmt = a.format if a.format in ("jsonl", "csv", "avro", "msgpack") \
        else "tsv"
    path = os.path.join(out, "kv." + fmt)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    pad = "".join(rng.choice(alphabet) for _ in range(4096))
    if fmt not in ("tsv", "csv"):
        write_table("kv", lambda _rng, _a: kv_rows(a.kv_rows, pad), a, fmt,
                    out)
        return path
    sep = "," if fmt == "csv" else "\t"
    row = "k%015d" + sep + "%08x%s\n"
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("key" + sep + "value\n")
        chunk = []
        for n in range(a.kv_rows):
            off = (n * 7919) % (len(pad) - 56)
            chunk.append(row % (n, n & 0xFFFFFFFF, pad[off:off + 56]))
            if len(chunk) == 65536:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
    return path


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--users", type=int, default=100000)
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--dims", type=int, default=64)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--format",
                    choices=["tsv", "jsonl", "both", "avro", "msgpack", "csv"],
                    default="both")
    ap.add_argument("--avro-codec", choices=["null", "deflate"],
                    default="deflate")
    ap.add_argument("--tables", default=",".join(TABLES),
                    help="comma-separated subset of: " + ", ".join(TABLES))
    ap.add_argument("--kv-rows", type=int, default=0,
                    help="write only kv.tsv (kv.FORMAT) with this many rows")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.kv_rows > 0:
        print(write_kv(a, a.out))
        return 0
    fmts = ["tsv", "jsonl"] if a.format == "both" else [a.format]
    for name in a.tables.split(","):
        if name not in TABLES:
            ap.error("unknown table %r" % name)
        for fmt in fmts:
            print(write_table(name, TABLES[name], a, fmt, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
