#!/usr/bin/env python3
"""model.py: deterministic test messages and the reference model of the
trade-store rules, for the end-to-end tests.

  model.py mix  --today D --count N --seed S --messages F --expect DIR
               [--payloads F] [--prefix P]
      a known mix of every outcome (valid, same-version override, higher
      version, stale version, matured, maturity today, malformed, not an
      object, missing and invalid fields); DIR receives trades.tsv (the
      expected table, sorted) and rejects.tsv (reason<TAB>count, sorted)
  model.py unique --count N --messages F [--prefix P]
      N valid trades with distinct (trade_id, version): for exact counting

Messages are written one per line as key<TAB>payload, for kcat -K '\\t'.
The model applies the rules of DESIGN.md section 3 message by message in
file order, which is Kafka's order within a partition because the key is
the trade_id.  The trades table is shared by every topic, and the rules
compare versions per trade_id: each test gives its own --prefix.
"""
import argparse
import datetime
import json
import os
import random
import sys


def apply_rules(messages, today):
    """Return (trades dict keyed by (id, version), rejects by reason)."""
    trades = {}
    max_version = {}
    rejects = {}
    for _key, payload, intended in messages:
        outcome = intended
        if outcome == "ok":
            t = json.loads(payload)
            # the parser decides maturity before the store compares versions
            if t["maturity_date"] < today:
                outcome = "matured"
            elif t["version"] < max_version.get(t["trade_id"], 0):
                outcome = "stale_version"
        if outcome != "ok":
            rejects[outcome] = rejects.get(outcome, 0) + 1
            continue
        max_version[t["trade_id"]] = max(max_version.get(t["trade_id"], 0), t["version"])
        trades[(t["trade_id"], t["version"])] = (
            t["counter_party_id"], t["book_id"], t["maturity_date"],
            t.get("created_date", today))
    return trades, rejects


def trade(tid, version, maturity, created=None, cp="CP-1", book="B1"):
    t = {"trade_id": tid, "version": version, "counter_party_id": cp,
         "book_id": book, "maturity_date": maturity}
    if created is not None:
        t["created_date"] = created
    return json.dumps(t, separators=(",", ":"))


def mix(args):
    rng = random.Random(args.seed)
    today = datetime.date.fromisoformat(args.today)
    day = lambda n: (today + datetime.timedelta(days=n)).isoformat()
    messages = []
    version = {}
    ntrades = max(1, args.count // 6)
    kinds = ["next"] * 50 + ["same"] * 8 + ["stale"] * 6 + ["matured"] * 5 + \
        ["today"] * 4 + ["no_created"] * 4 + ["malformed"] * 4 + ["array"] * 3 + \
        ["missing"] * 4 + ["null"] * 2 + ["bad_version"] * 4 + ["bad_date"] * 3 + \
        ["long_id"] * 2 + ["empty_cp"] * 1
    while len(messages) < args.count:
        tid = "%s%d" % (args.prefix, rng.randrange(ntrades))
        kind = rng.choice(kinds)
        v = version.get(tid, 0)
        cp = "CP-%d" % rng.randrange(20)
        book = "B%d" % rng.randrange(5)
        mat = day(rng.randrange(1, 3650))
        if kind in ("next", "today", "no_created", "matured") or (kind in ("same", "stale") and v == 0):
            v += 1
            version[tid] = v
            created = None if kind == "no_created" else day(-rng.randrange(0, 30))
            maturity = day(0) if kind == "today" else day(-rng.randrange(1, 400)) if kind == "matured" else mat
            messages.append((tid, trade(tid, v, maturity, created, cp, book), "ok"))
        elif kind == "same":
            messages.append((tid, trade(tid, v, mat, day(-1), cp, book), "ok"))
        elif kind == "stale":
            if v < 2:
                v += 1
                version[tid] = v
                messages.append((tid, trade(tid, v, mat, day(-1), cp, book), "ok"))
            else:
                messages.append((tid, trade(tid, rng.randrange(1, v), mat, day(-1), cp, book), "ok"))
        elif kind == "malformed":
            messages.append((tid, trade(tid, 1, mat)[:-3], "malformed_json"))
        elif kind == "array":
            messages.append((tid, "[" + trade(tid, 1, mat) + "]", "not_an_object"))
        elif kind == "missing":
            t = json.loads(trade(tid, 1, mat))
            del t[rng.choice(["trade_id", "version", "counter_party_id", "book_id", "maturity_date"])]
            messages.append((tid, json.dumps(t), "missing_field"))
        elif kind == "null":
            messages.append((tid, trade(tid, 1, mat).replace('"book_id":"B1"', '"book_id":null'), "missing_field"))
        elif kind == "bad_version":
            bad = rng.choice(['"7"', "1.0", "0", "-3", "2147483648", "true"])
            messages.append((tid, trade(tid, 1, mat).replace('"version":1', '"version":' + bad), "invalid_field"))
        elif kind == "bad_date":
            bad = rng.choice(["2027-02-29", "2027-13-01", "27-01-01", "tomorrow"])
            messages.append((tid, trade(tid, 1, bad), "invalid_field"))
        elif kind == "long_id":
            messages.append((tid, trade("X" * 65, 1, mat), "invalid_field"))
        elif kind == "empty_cp":
            messages.append((tid, trade(tid, 1, mat, None, ""), "invalid_field"))

    write_messages(args.messages, messages)
    if args.payloads:
        with open(args.payloads, "w") as f:
            for _key, payload, _ in messages:
                f.write(payload + "\n")
    trades, rejects = apply_rules(messages, args.today)
    os.makedirs(args.expect, exist_ok=True)
    with open(os.path.join(args.expect, "trades.tsv"), "w") as f:
        for (tid, v), (cp, book, mat, created) in sorted(trades.items()):
            f.write("%s\t%d\t%s\t%s\t%s\t%s\n" % (tid, v, cp, book, mat, created))
    with open(os.path.join(args.expect, "rejects.tsv"), "w") as f:
        for reason in sorted(rejects):
            f.write("%s\t%d\n" % (reason, rejects[reason]))


def unique(args):
    messages = []
    for i in range(args.count):
        tid = "%s%d" % (args.prefix, i)
        messages.append((tid, trade(tid, 1, "2099-12-31", "2026-01-01"), "ok"))
    write_messages(args.messages, messages)


def write_messages(path, messages):
    with open(path, "w") as f:
        for key, payload, _ in messages:
            assert "\t" not in payload and "\n" not in payload
            f.write("%s\t%s\n" % (key, payload))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mix")
    m.add_argument("--today", required=True)
    m.add_argument("--count", type=int, required=True)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--messages", required=True)
    m.add_argument("--expect", required=True)
    m.add_argument("--payloads", help="also write the payloads alone, one per line")
    m.add_argument("--prefix", default="T", help="trade ids are PREFIX<n>")
    u = sub.add_parser("unique")
    u.add_argument("--count", type=int, required=True)
    u.add_argument("--messages", required=True)
    u.add_argument("--prefix", default="U", help="trade ids are PREFIX<n>")
    args = p.parse_args()
    {"mix": mix, "unique": unique}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
