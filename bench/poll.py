#!/usr/bin/env python3
"""poll.py: watch a trades_kafka consumer group's committed offsets.

One psql session (a child process fed on stdin, so no driver is needed) asks
every --interval seconds for the sum of the group's next offsets in
trades_kafka.offsets, with the server's clock_timestamp().  Offsets commit in
the same transaction as the trades they cover, so the moment a sum is first
seen is the moment those rows are visible, late by at most one interval plus
one query.  Each autocommit query takes a fresh snapshot: nothing is held
open that would stop HOT pruning or vacuum under the worker.

Writes to stdout one line per change: "epoch sum p:next,p:next,...", and ends
when the sum reaches --until (exit 0) or --timeout passes (exit 1).

Optionally, every --rss-interval seconds, appends to --rss-out a line
"epoch sum VmRSS RssAnon RssFile RssShmem pid" (kB) from /proc/PID/status of
--rss-pid; and with --cpu-out, writes the CPU ticks of the whole machine and
of process groups (--cpu-group NAME=PID,PID...) at the first and the last
poll, for the caller to turn into shares of the cores.
"""
import argparse
import os
import subprocess
import sys
import time


def read_status(pid):
    """VmRSS, RssAnon, RssFile, RssShmem of pid in kB (0 when gone)."""
    want = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0, "RssShmem": 0}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in want:
                    want[key] = int(rest.split()[0])
    except OSError:
        pass
    return [want[k] for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem")]


def machine_ticks():
    """(busy, total) jiffies of all CPUs since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return total - idle, total


def pid_ticks(pids):
    """utime + stime of pids (those still running)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            ticks += int(rest[11]) + int(rest[12])
        except (OSError, IndexError):
            pass
    return ticks


def cpu_snapshot(groups):
    busy, total = machine_ticks()
    snap = {"machine_busy": busy, "machine_total": total}
    for name, pids in groups.items():
        snap[name] = pid_ticks(pids)
    return snap


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--group", required=True, help="consumer group id")
    ap.add_argument("--until", type=int, required=True, help="stop at this sum")
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--rss-pid", help="a pid, or 'auto': the group's first "
                    "worker in trades_kafka.status(), followed across restarts")
    ap.add_argument("--rss-interval", type=float, default=1.0)
    ap.add_argument("--rss-out")
    ap.add_argument("--cpu-out")
    ap.add_argument("--cpu-group", action="append", default=[],
                    help="NAME=PID,PID,... (repeatable)")
    args = ap.parse_args()

    groups = {}
    for g in args.cpu_group:
        name, _, pids = g.partition("=")
        groups[name] = [int(p) for p in pids.split(",") if p]

    group = args.group.replace("'", "''")
    query = (
        "SELECT extract(epoch FROM clock_timestamp())::numeric(20,6),"
        " coalesce(sum(next_offset), 0),"
        " coalesce(string_agg(partition || ':' || next_offset, ',' ORDER BY partition), ''),"
        " (SELECT coalesce(min(pid), 0) FROM trades_kafka.status()"
        f"  WHERE group_id = '{group}')"
        f" FROM trades_kafka.offsets WHERE group_id = '{group}';\n"
    )
    psql = None
    rss = open(args.rss_out, "a") if args.rss_out else None
    cpu_first = None
    deadline = time.monotonic() + args.timeout
    next_rss = 0.0
    last = None
    status = 1
    try:
        while time.monotonic() < deadline:
            line = ""
            try:
                if psql is None:
                    psql = subprocess.Popen(
                        ["psql", "-AtqX", "-F", " ", "-v", "ON_ERROR_STOP=1"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, text=True, bufsize=1)
                psql.stdin.write(query)
                psql.stdin.flush()
                line = psql.stdout.readline()
            except OSError:
                pass
            if not line:
                # the server went away (a crash restart of a shared server,
                # say): say so, and ask again with a new session
                print("poll.py: lost the server, retrying", file=sys.stderr, flush=True)
                psql.kill()
                psql.wait()
                psql = None
                time.sleep(1)
                continue
            epoch, total, parts, worker = (line.rstrip("\n").split(" ") + ["", ""])[:4]
            total = int(total)
            if groups and cpu_first is None:
                cpu_first = cpu_snapshot(groups)
            if parts != last:
                print(epoch, total, parts or "-", flush=True)
                last = parts
            if rss is not None and time.monotonic() >= next_rss:
                pid = worker if args.rss_pid == "auto" else args.rss_pid
                rss.write(" ".join([epoch, str(total)] +
                                   [str(x) for x in read_status(pid)] + [pid]) + "\n")
                rss.flush()
                next_rss = time.monotonic() + args.rss_interval
            if total >= args.until:
                status = 0
                break
            time.sleep(args.interval)
    finally:
        if groups and args.cpu_out and cpu_first is not None:
            cpu_last = cpu_snapshot(groups)
            with open(args.cpu_out, "w") as f:
                for key in cpu_first:
                    f.write(f"{key} {cpu_last[key] - cpu_first[key]}\n")
                f.write(f"hz {os.sysconf('SC_CLK_TCK')}\n")
        if psql is not None:
            psql.stdin.close()
            psql.wait()
        if rss is not None:
            rss.close()
    sys.exit(status)


if __name__ == "__main__":
    main()
