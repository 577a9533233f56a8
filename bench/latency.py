#!/usr/bin/env python3
"""latency.py: produce -> visible latency of every message of a paced run.

Inputs (paths):
  created   "partition offset create_ms" per message: the Kafka CreateTime,
            which librdkafka stamps when the producer hands the message over
            (kcat -f '%p %o %T\\n')
  polls     poll.py's log: "epoch sum p:next,p:next,..." per change of the
            group's committed offsets
  ingested  "partition offset epoch" per stored row: ingested_at, the start
            of the transaction that stored it (now())

Prints "key value" lines, latencies in milliseconds:
  visible_*   first poll that saw the message's offset committed, minus its
              CreateTime: an upper bound by up to one poll interval
  txstart_*   ingested_at minus CreateTime: a lower bound (the transaction
              started then and committed later)
with p50, p90, p99, max and the number of messages matched.  Messages
created in the first --warmup seconds (1 by default) are left out of these:
a fresh producer and consumer take a few hundred milliseconds to settle
(connections, producer id, the first fetch).  visible_all_* keep them.
Usage: latency.py CREATED POLLS INGESTED [WARMUP_SECONDS]
"""
import bisect
import sys


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def summary(prefix, values):
    values.sort()
    print(f"{prefix}_n {len(values)}")
    for name, q in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0)):
        print(f"{prefix}_{name} {percentile(values, q):.1f}")


def main():
    created_path, polls_path, ingested_path = sys.argv[1:4]
    warmup = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    created = {}
    with open(created_path) as f:
        for line in f:
            p, o, ts = line.split()
            created[(int(p), int(o))] = int(ts) / 1000.0

    # per partition: times of the polls and the next offset they saw
    times, nexts = {}, {}
    with open(polls_path) as f:
        for line in f:
            epoch, _, parts = line.split()
            if parts == "-":
                continue
            for item in parts.split(","):
                p, n = item.split(":")
                p, n = int(p), int(n)
                if nexts.get(p) and nexts[p][-1] >= n:
                    continue
                times.setdefault(p, []).append(float(epoch))
                nexts.setdefault(p, []).append(n)

    settled = min(created.values(), default=0) + warmup
    visible, visible_all = [], []
    unseen = 0
    for (p, o), ts in created.items():
        k = bisect.bisect_right(nexts.get(p, []), o)
        if k == len(nexts.get(p, [])):
            unseen += 1
            continue
        ms = (times[p][k] - ts) * 1000.0
        visible_all.append(ms)
        if ts >= settled:
            visible.append(ms)
    summary("visible", visible)
    summary("visible_all", visible_all)
    print(f"visible_unseen {unseen}")

    txstart = []
    with open(ingested_path) as f:
        for line in f:
            p, o, epoch = line.split()
            ts = created.get((int(p), int(o)))
            if ts is not None and ts >= settled:
                txstart.append((float(epoch) - ts) * 1000.0)
    summary("txstart", txstart)


if __name__ == "__main__":
    main()
