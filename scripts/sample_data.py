#!/usr/bin/env python3
"""Writes larder's sample data set: precomputed top-10 recommendations and a
few features for N users, deterministic for a given seed.

Output formats:
  resp   Redis protocol commands (SET key value), for `redis-cli --pipe`
  jsonl  one JSON object per user: {"user": ..., "recs": [...], ...}
"""
import argparse
import json
import random
import sys


def rows(n, seed):
    rng = random.Random(seed)
    for user in range(n):
        items = rng.sample(range(1, 100000), 10)
        scores = sorted((round(rng.random(), 4) for _ in items), reverse=True)
        yield {
            "user": "u%d" % user,
            "recs": [{"item": i, "score": s} for i, s in zip(items, scores)],
            "country": rng.choice(["DE", "FR", "GB", "NL", "US"]),
            "age_days": rng.randrange(1, 3000),
        }


def resp_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--format", choices=["resp", "jsonl"], default="resp")
    args = ap.parse_args()
    out = sys.stdout.buffer
    for row in rows(args.users, args.seed):
        if args.format == "jsonl":
            out.write(json.dumps(row, separators=(",", ":")).encode() + b"\n")
            continue
        user = row["user"]
        out.write(resp_command("SET", "recs:" + user,
                               json.dumps(row["recs"], separators=(",", ":"))))
        out.write(resp_command("SET", "feat:" + user,
                               json.dumps({"country": row["country"],
                                           "age_days": row["age_days"]},
                                          separators=(",", ":"))))


if __name__ == "__main__":
    main()
