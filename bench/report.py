#!/usr/bin/env python3
"""report.py: bench/RESULTS.md and the plot's data files from one run.

Usage: report.py RESULTS_TSV OUT_DIR WORK_DIR > RESULTS.md

RESULTS_TSV holds "key<TAB>value" lines written by run.sh; WORK_DIR may hold
profile.self and profile.children (perf's top lines).  BENCH_NOTE, if set, is
a paragraph put first (why the run was made where it was, say).  Writes
throughput.dat, variants.dat, sweep.dat, latency.dat and scale.dat into
OUT_DIR for plot.gp (rss.dat is written by run.sh).
"""
import os
import re
import sys


def load(path):
    r = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            r[k] = v
    return r


R = load(sys.argv[1])
OUT = sys.argv[2]
WORK = sys.argv[3]


def num(key, default=None):
    try:
        return float(R[key])
    except (KeyError, ValueError):
        return default


def key_numbers(pattern):
    """The numbers that fill pattern's (\\d+) in the figures' keys, sorted."""
    return sorted(int(m.group(1)) for m in (re.fullmatch(pattern, k) for k in R) if m)


def fmt_int(x):
    return "–" if x is None else f"{x:,.0f}"


def fmt_s(x):
    return "–" if x is None else f"{x:.2f}"


def fmt_ratio(x):
    return "–" if x is None else f"{x:.2f}×"


def div(a, b):
    return None if a is None or not b else a / b


lines = []


def p(text=""):
    lines.append(text)


def table(header, rows, numeric=True):
    p("| " + " | ".join(header) + " |")
    p("|" + "|".join("---:" if i and numeric else "---" for i in range(len(header))) + "|")
    for row in rows:
        p("| " + " | ".join(row) + " |")
    p()


def cpu_shares(tag):
    """shares of the machine's cores over a run: workers, the rest of
    PostgreSQL, the broker, everything else."""
    total = num(f"{tag}_cpu_machine_total")
    busy = num(f"{tag}_cpu_machine_busy")
    if not total:
        return None
    ncpu = num("nproc", 1)
    pct = lambda ticks: 100.0 * ncpu * ticks / total  # noqa: E731  (% of one core)
    workers = num(f"{tag}_cpu_workers", 0)
    postgres = num(f"{tag}_cpu_postgres", 0)
    broker = num(f"{tag}_cpu_broker", 0)
    return {
        "busy": 100.0 * busy / total,                # % of all cores
        "workers": pct(workers),
        "postgres_other": pct(max(0.0, postgres - workers)),
        "broker": pct(broker),
        "other": pct(max(0.0, busy - postgres - broker)),
    }


# ------------------------------------------------------------------ figures

n = num("main_count")
rows = num("main_rows") or num("copy_rows")
w_first = num("main_first_to_last_s")
w_start = num("main_start_to_last_s")
copy_s = num("copy_s")
copy_rows = num("copy_rows")
ins_on = div(num("insert_on_rows"), num("insert_on_s"))
ins_off = div(num("insert_off_rows"), num("insert_off_s"))
w_rate_first = div(rows, w_first)
w_rate_start = div(rows, w_start)
copy_rate = div(copy_rows, copy_s)

p("# trades_kafka benchmark results")
p()
p("Produced by one run of `" + R.get("command", "bash bench/run.sh") + "` on "
  + R.get("date", "?") + " (tree at commit " + R.get("commit", "?") + "), "
  + f"{fmt_s(num('total_s', 0) / 60)} minutes. Every ratio below compares figures "
  "taken in that same run, on the same machine, with whatever else was running "
  "on it then (load average " + R.get("loadavg", "?") + " at the start, "
  + R.get("loadavg_end", "?") + " at the end).")
p()
if os.environ.get("BENCH_NOTE"):
    p(os.environ["BENCH_NOTE"])
    p()
if R.get("disturbed"):
    p(f"**Warning: {R['disturbed']}** (another suite's crash test on the shared "
      "server): the figures below are disturbed; run it again.")
    p()
p("![throughput, store-path variants, batch size, latency, memory, scale](plot.png)")
p()
p("## Machine")
p()
table(["what", "value"], [
    ["CPUs", f"{R.get('nproc', '?')} × {R.get('cpu', '?')}"],
    ["memory", f"{fmt_int(num('memory_mb'))} MB"],
    ["kernel", R.get("kernel", "?")],
    ["PostgreSQL", f"{R.get('postgres', '?')}, shared_buffers {R.get('shared_buffers', '?')}, "
                   f"fsync {R.get('fsync', '?')}"],
    ["server", R.get("server", "?")],
    ["trades_kafka.so the worker ran", f"{R.get('library', '?')}, sha256 {R.get('library_sha', '?')}…"],
    ["Kafka", f"{R.get('kafka', '?')} (one KRaft node on the same machine)"],
    ["librdkafka / json-c", f"{R.get('librdkafka', '?')} / {R.get('jsonc', '?')}"],
    ["trades_kafka settings", f"batch_size {R.get('batch_size', '?')}, "
                              f"batch_timeout {R.get('batch_timeout', '?')}, "
                              "synchronous_commit off (the default)"],
    ["input", f"{fmt_int(n)} messages, {fmt_int(num('trades'))} distinct trade ids, "
              f"{fmt_int(num('expected_rows'))} distinct (trade_id, version), "
              f"~{R.get('message_bytes', '?')} bytes each, {R.get('partitions', '?')} partitions"],
    ["rows in trades_kafka.trades at the start", fmt_int(num("table_rows_before")) +
        " (the run's own database: the worker and COPY both start from empty tables)"],
], numeric=False)

p("## Landing a topic, side by side")
p()
p(f"The same {fmt_int(rows)} rows (every distinct trade version of the "
  f"{fmt_int(n)} messages; the rest are same-version overrides) landed four ways. "
  "The worker's time covers Kafka fetch, JSON parsing and validation, the three "
  "rules, the trades and the offsets in one transaction per batch; COPY's covers "
  "only loading finished rows into an identical empty table (`LIKE "
  "trades_kafka.trades INCLUDING ALL`: same columns, defaults, primary key and "
  "partial index).")
p()
main_rows = [
    ["COPY FROM STDIN of the rows (psql), the reference", fmt_int(copy_rows), fmt_s(copy_s),
     fmt_int(copy_rate), "1.00×", "–"],
    ["trades_kafka, 1 worker, first → last commit", fmt_int(rows), fmt_s(w_first),
     fmt_int(w_rate_first), fmt_ratio(div(w_rate_first, copy_rate)),
     fmt_ratio(div(w_rate_first, ins_on))],
    ["trades_kafka, 1 worker, start() → last commit", fmt_int(rows), fmt_s(w_start),
     fmt_int(w_rate_start), fmt_ratio(div(w_rate_start, copy_rate)),
     fmt_ratio(div(w_rate_start, ins_on))],
    [f"one autocommit INSERT per message, synchronous_commit on — "
     f"{fmt_int(num('insert_on_rows'))}-row slice, **extrapolated**",
     fmt_int(rows), fmt_s(div(rows, ins_on)), fmt_int(ins_on),
     fmt_ratio(div(ins_on, copy_rate)), "1.00×"],
    [f"one autocommit INSERT per message, synchronous_commit off — "
     f"{fmt_int(num('insert_off_rows'))}-row slice, **extrapolated**",
     fmt_int(rows), fmt_s(div(rows, ins_off)), fmt_int(ins_off),
     fmt_ratio(div(ins_off, copy_rate)), fmt_ratio(div(ins_off, ins_on))],
]
table(["path", "rows", "seconds", "rows/s", "vs COPY", "vs per-message INSERT"], main_rows)
ratio = div(w_rate_first, copy_rate)
ratio_msg = div(w_rate_first, ins_on)
p(f"**The worker reached {fmt_ratio(ratio)} of COPY** (goal ≥ 0.5×: "
  f"{'met' if ratio and ratio >= 0.5 else 'not met'}) and **{fmt_ratio(ratio_msg)} the "
  f"per-message design** (goal ≥ 30×: {'met' if ratio_msg and ratio_msg >= 30 else 'not met'}), "
  f"first to last commit; {fmt_int(div(n, w_first))} messages/s. From `start()` it "
  f"includes joining the group ({fmt_s((w_start or 0) - (w_first or 0))} s here). "
  f"{fmt_int(num('main_batches'))} batches.")
p()
if ins_on:
    p(f"The per-message client's rate is the disk's commit rate: "
      f"{1000.0 / ins_on:.2f} ms per autocommit INSERT here, an fsync each, which other "
      "work on a shared machine moves a lot (the same client ran at 817 rows/s in "
      "an earlier run on this machine); with `synchronous_commit = off` it is "
      f"{fmt_int(ins_off)} rows/s. The ratio to it is the least steady figure here.")
    p()

# ------------------------------------------------------------------ variants

variants = [
    ("copy", "COPY, one statement (reference)"),
    ("copy5000", "COPY in 5,000-row transactions"),
    ("current", "SELECT max(version) … = ANY … GROUP BY, then INSERT … ON CONFLICT (**store.c before 20a72cb**)"),
    ("lateral", "one LIMIT 1 max(version) probe per distinct id, then INSERT … ON CONFLICT"),
    ("cached", "no version lookup (cache hit), INSERT … ON CONFLICT"),
    ("lateral_plain", "probe per distinct id, then plain INSERT of new rows (**store.c now**, ids not in its cache)"),
    ("plain", "no lookup, plain INSERT (**store.c now**, ids in its cache)"),
]
vrows_n = num("variant_rows")
if vrows_n:
    p("## Where the worker's time goes: the store statements replayed")
    p()
    passes = ("the faster of two passes, the second in reverse order, "
              if R.get("variant_passes", "1") != "1" else "")
    p(f"The {fmt_int(vrows_n)} rows again, in 5,000-row transactions "
      f"({passes}`synchronous_commit = off`), through the statements store.c ran "
      "before 20a72cb, the ones it runs now, and others (`bench/variants.sql`): "
      "what a change of the store path gains, measured without reloading the "
      "library in the server. "
      "Only the statements and the COMMIT are timed (the worker builds the "
      "arrays in C). `C` is the same table with `trade_id COLLATE \"C\"`.")
    p()
    vrows = []
    base = num("variant_v_text_copy_s")
    cur = num("variant_v_text_current_s")
    with open(os.path.join(OUT, "variants.dat"), "w") as dat:
        for tbl, tname in (("v_text", "db collation"), ("v_c", "C")):
            for key, label in variants:
                s = num(f"variant_{tbl}_{key}_s")
                if not s:
                    continue
                vrows.append([label, tname, fmt_s(s), fmt_int(vrows_n / s),
                              fmt_ratio(div(base, s)), fmt_ratio(div(cur, s))])
                dat.write(f'"{key}{" (C)" if tbl == "v_c" else ""}" {vrows_n / s:.0f}\n')
    table(["statements", "collation", "seconds", "rows/s", "vs COPY", "vs before 20a72cb"], vrows)

# ------------------------------------------------------------------ sweep

sweep = []
for key in sorted(k for k in R if re.fullmatch(r"sweep_\w+_batch_size", k)):
    tag = key[: -len("_batch_size")]
    sweep.append((tag, int(R[key])))
if sweep:
    p("## Batch size")
    p()
    p(f"`trades_kafka.batch_size` (set with ALTER SYSTEM for the run, reset "
      f"after), {fmt_int(num(sweep[0][0] + '_count'))} messages each, one worker, "
      "4 partitions. The last row keeps 5,000 and passes larger fetch settings "
      "through `start()`'s options (`queued.max.messages.kbytes` 65536, "
      "`fetch.max.bytes` 100 MB, `max.partition.fetch.bytes` 8 MB).")
    p()
    srows = []
    base = div(num("sweep_5000_count"), num("sweep_5000_first_to_last_s"))
    with open(os.path.join(OUT, "sweep.dat"), "w") as dat:
        for tag, bs in sorted(sweep, key=lambda t: (t[0] == "sweep_fetch", t[1])):
            cnt = num(f"{tag}_count")
            first = num(f"{tag}_first_to_last_s")
            rate = div(cnt, first)
            srows.append([f"{bs:,}" + (" + fetch options" if tag == "sweep_fetch" else ""),
                          fmt_int(num(f"{tag}_batches")), fmt_s(first), fmt_int(rate),
                          fmt_ratio(div(rate, base))])
            if tag != "sweep_fetch" and rate:
                dat.write(f"{bs} {rate:.0f}\n")
    table(["batch_size", "batches", "first → last commit (s)", "msgs/s",
           "vs 5,000"], srows)
    p("These runs are five times smaller than the main one and faster per "
      "message than it, most likely because the main run's table and index "
      "outgrow shared_buffers (128 MB) and it spans several checkpoints (the "
      "server logs checkpoints about 25 s apart under this load). Compare the "
      "rows with each other, and the main run with its own COPY.")
    p()

# ------------------------------------------------------------------ latency

rates = key_numbers(r"lat_(\d+)_count")
if rates:
    p("## Produce → visible latency")
    p()
    p("A worker already consuming an empty topic; the producer sends at a "
      "fixed rate. For each message: its Kafka CreateTime (stamped by "
      "librdkafka when the producer hands it over, so the producer's "
      "`linger.ms=10` counts) against the first moment a poller (every 10 ms, "
      "one autocommit query) saw the group's committed offset pass it — trades "
      "and offsets commit together, so that is when the row became visible. "
      "That is an upper bound by up to 10 ms; `ingested_at` (the start of the "
      "storing transaction, `now()`) gives a lower bound. Messages created in "
      "the first second are left out of the main columns: a fresh producer and "
      "consumer take a few hundred milliseconds to settle (connections, the "
      "idempotent producer's id, the first fetch); the last two columns keep them.")
    p()
    lrows = []
    with open(os.path.join(OUT, "latency.dat"), "w") as dat:
        for r in rates:
            t = f"lat_{r}"
            lrows.append([f"{r:,}", fmt_int(num(f"{t}_visible_n")),
                          R.get(f"{t}_visible_p50", "–"), R.get(f"{t}_visible_p90", "–"),
                          R.get(f"{t}_visible_p99", "–"), R.get(f"{t}_visible_max", "–"),
                          R.get(f"{t}_txstart_p50", "–"), R.get(f"{t}_txstart_p99", "–"),
                          R.get(f"{t}_visible_all_p99", "–"), R.get(f"{t}_visible_all_max", "–")])
            dat.write(f'"{r}/s" {R.get(t + "_visible_p50", 0)} {R.get(t + "_visible_p99", 0)}\n')
    table(["msgs/s", "messages after the first second", "visible p50 (ms)", "p90", "p99", "max",
           "ingested_at p50 (ms)", "ingested_at p99", "all messages: p99", "max"], lrows)
    p50s = [num(f"lat_{r}_visible_p50") or 0 for r in rates]
    if max(p50s) < 40:
        p("The worker stores a batch as soon as librdkafka's queue is empty instead "
          f"of waiting out `batch_timeout` ({R.get('batch_timeout', '?')}), so what is left "
          "is the fetch, the producer's linger, the store and the commit. (Before "
          "f602890 every batch that did not fill waited for the timeout: p50 was "
          "66–70 ms at 1,000 msgs/s and 100–150 ms at 10,000; PROPOSALS.md 4.)")
    else:
        p(f"With `batch_timeout` {R.get('batch_timeout', '?')}, a batch that does not fill "
          "waits for the timeout: at these rates that wait, not the store, is most of "
          "the latency (PROPOSALS.md 4).")
    p()

# ------------------------------------------------------------------ rss

if num("rss_count"):
    p("## Memory of a worker")
    p()
    a, z = num("rss_anon_at_10pct_kb"), num("rss_anon_end_kb")
    p(f"One worker storing {fmt_int(num('rss_count'))} messages "
      f"({fmt_s(num('rss_first_to_last_s'))} s, {fmt_int(div(num('rss_count'), num('rss_first_to_last_s')))} msgs/s), "
      f"`/proc/PID/status` read every second ({fmt_int(num('rss_samples'))} samples). "
      "`RssAnon` is the worker's private memory (palloc, librdkafka's queues, "
      "json-c); `VmRSS` adds the shared buffers it has touched (`RssShmem`), "
      "which grows to shared_buffers and is not the worker's to leak.")
    p()
    table(["", "at 10% of the messages", "at the end", "max after 10%"], [
        ["RssAnon (MB)", fmt_s(div(a, 1024)), fmt_s(div(z, 1024)),
         fmt_s(div(num("rss_anon_max_after_10pct_kb"), 1024))],
        ["VmRSS (MB)", fmt_s(div(num("rss_vm_at_10pct_kb"), 1024)),
         fmt_s(div(num("rss_vm_end_kb"), 1024)), "–"],
    ])
    # the trend: the peaks of RssAnon between 10% and 55% of the messages
    # against those after 55% (rss.dat: millions, VmRSS, RssAnon, RssShmem);
    # peaks, not means, because the version cache makes it saw
    samples = []
    try:
        with open(os.path.join(OUT, "rss.dat")) as f:
            samples = [tuple(float(x) for x in line.split()[:3]) for line in f if line.strip()]
    except OSError:
        pass
    total_m = num("rss_count", 0) / 1e6
    first = [s[2] for s in samples if total_m / 10 <= s[0] < 0.55 * total_m]
    second = [s[2] for s in samples if s[0] >= 0.55 * total_m]
    if first and second:
        flat = max(second) - max(first) < max(2.0, 0.05 * max(first))
        p(f"After the first 10% of the messages, private memory stays between "
          f"{min(first + second):.1f} and {max(first + second):.1f} MB. It saws: the "
          "worker's version cache holds at most 250,000 trade ids (about 25 MB) and "
          "starts again empty when full (this run has "
          f"{fmt_int(num('rss_count', 0) / 10)} distinct ids). Its highest value is "
          f"{max(first):.1f} MB between 10% and 55% of the messages and "
          f"{max(second):.1f} MB after: "
          + ("**flat**, bounded, no growth with the messages stored." if flat
             else "**not flat**: look for a leak."))
        p()
    if (num("rss_worker_pids") or 1) > 1:
        p(f"**The worker restarted during this run** ({fmt_int(num('rss_worker_pids'))} "
          "processes one after the other: the server restarted under it), so "
          "its memory started again from zero; the figures cover all of them.")
        p()

# ------------------------------------------------------------------ scale

scale = key_numbers(r"scale_(\d+)_workers")
if scale:
    p("## Workers on a 4-partition topic")
    p()
    p(f"{fmt_int(num(f'scale_{scale[0]}_count'))} messages on 4 partitions, one job "
      "with 1, 2 and 4 workers (one consumer group). CPU is the share of one core "
      "used over first → last commit's window, from /proc (so 200% is both cores of "
      "a 2-CPU machine): the workers, the rest of PostgreSQL (WAL writer, "
      "checkpointer, …), the Kafka broker, and everything else on the machine.")
    p()
    crows = []
    base_rate = None
    with open(os.path.join(OUT, "scale.dat"), "w") as dat:
        for w in scale:
            t = f"scale_{w}"
            rate = div(num(f"{t}_count"), num(f"{t}_first_to_last_s"))
            base_rate = base_rate or rate
            c = cpu_shares(t) or {}
            crows.append([str(w), fmt_s(num(f"{t}_start_to_last_s")),
                          fmt_s(num(f"{t}_first_to_last_s")), fmt_int(rate),
                          fmt_ratio(div(rate, base_rate)),
                          f"{c.get('busy', 0):.0f}%", f"{c.get('workers', 0):.0f}%",
                          f"{c.get('postgres_other', 0):.0f}%", f"{c.get('broker', 0):.0f}%",
                          f"{c.get('other', 0):.0f}%"])
            dat.write(f"{w} {rate or 0:.0f} {c.get('busy', 0):.1f}\n")
    table(["workers", "start → last (s)", "first → last (s)", "msgs/s", "vs 1 worker",
           "machine busy", "workers CPU", "other PostgreSQL", "broker", "else"], crows)
    c1 = cpu_shares(f"scale_{scale[0]}") or {}
    cn = cpu_shares(f"scale_{scale[-1]}") or {}
    p(f"One worker used {c1.get('workers', 0):.0f}% of a core: it is mostly CPU-bound "
      "in its own backend (see the profile), so a second worker can only add what "
      "a second core gives. "
      + (f"With {scale[-1]} workers the machine was {cn.get('busy', 0):.0f}% busy: "
         "the two cores ran out." if cn.get("busy", 0) >= 90 else
         f"With {scale[-1]} workers the machine was only {cn.get('busy', 0):.0f}% busy, "
         "so in this run the cores did not run out; the other work on the machine "
         "(last column) came and went between these short runs, which moves "
         "single figures by tens of percent here.")
      + " Past as many workers as the machine has cores, more workers only share "
      "the same cores.")
    p()

# ------------------------------------------------------------------ profile

self_path = os.path.join(WORK, "profile.self")
if os.path.exists(self_path) and os.path.getsize(self_path):
    p("## Profile of the worker")
    p()
    p(f"`perf record -F 999 -e cpu-clock -g -p PID` on one worker storing "
      f"{fmt_int(num('profile_count'))} messages (the hardware counters are not "
      "available in this VM; PostgreSQL's binary is stripped, so its static "
      "functions show as addresses). Self time, top symbols:")
    p()
    p("```")
    with open(self_path) as f:
        p(f.read().rstrip())
    p("```")
    p()
    ch = os.path.join(WORK, "profile.children")
    if os.path.exists(ch) and os.path.getsize(ch):
        p("Where the worker's samples fall: its own thread against librdkafka's, and "
          "the inclusive time of trades_kafka's functions (inlined ones included) "
          "and of the calls that tell the story (`perf script` through "
          "`bench/perf_tk.py`, which resolves the library's addresses with addr2line "
          "when it was reinstalled under the running server):")
        p()
        p("```")
        with open(ch) as f:
            p(f.read().rstrip())
        p("```")
        p()

# ------------------------------------------------------------------ throughput.dat

with open(os.path.join(OUT, "throughput.dat"), "w") as dat:
    for label, value in (("COPY", copy_rate), ("worker", w_rate_first),
                         ("worker from start()", w_rate_start),
                         ("INSERT/msg, sync off", ins_off), ("INSERT/msg, sync on", ins_on)):
        if value:
            dat.write(f'"{label}" {value:.0f}\n')

p("## Running beyond one machine")
p()
p("""One worker is one member of a Kafka consumer group and stores through one
PostgreSQL backend, so throughput grows by adding partitions and members, up to
what the database's CPU and WAL can take:

- **More partitions, more workers.** A partition is read by one member of a
  group at a time, so a topic's partition count caps its workers. Give a topic
  more partitions than today's workers (e.g. 12 or 24) so that `workers` can
  grow without repartitioning: Kafka moves whole partitions between members,
  and trades_kafka hands the offsets over through PostgreSQL on every
  rebalance.
- **Workers in several servers, one group.** Workers of the same `group_id`
  may run in different PostgreSQL servers only if they store into the same
  database (the offsets live there): use several servers' workers for one group
  only with a shared primary behind them — in practice, scale a group inside one
  server.
- **Several databases or consumer groups.** Each database (or server) that
  wants the trades runs its own job with its own `group_id`: each group reads the
  whole topic independently and keeps its own offsets, so a reporting replica, a
  regional copy or a test database can each land the stream exactly once.
- **Split by key.** For more than one primary can absorb, shard trades by
  `trade_id` into several topics (or partition ranges) and land each in its own
  database; the rules only compare versions of one `trade_id`, which always sits
  in one partition, so shards never need each other.
- **Where the limit is.** On this 2-CPU machine the broker, PostgreSQL's WAL
  writer and the workers share two cores: the scale table above shows when the
  machine is saturated. On real hardware the broker runs elsewhere; each
  worker is one backend using up to one core (most of it executing the
  INSERT, see the profile) plus its share of the WAL's bandwidth, so a
  database server with N free cores takes about N workers.""")
p()

p("## What next")
p()
p("[PROPOSALS.md](PROPOSALS.md): changes to the store path measured against this "
  "worker on a private cluster (a version lookup per distinct id, a cache of the "
  "versions a worker committed, a plain INSERT for new rows, storing when the "
  "consumer queue is empty, trade_id in byte order), with patches.")
p()
p("## How to run it")
p()
p("```sh")
p("bash scripts/stack.sh up                    # the local broker and server, if not up")
p("bash bench/run.sh                           # this page and plot.png (about 15 minutes)")
p("BENCH_N=20000 bash bench/run.sh --smoke     # a check in under a minute, for CI")
p("```")
p()
p("See bench/README.md for the phases and settings.")

print("\n".join(lines))
