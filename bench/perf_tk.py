#!/usr/bin/env python3
"""perf_tk.py: inclusive time of trades_kafka's functions in a worker profile.

Usage: perf script -i perf.data | perf_tk.py [TRADES_KAFKA_SO]

perf names the functions of trades_kafka.so itself, except when the library
was reinstalled after the server started: the worker then maps a deleted
file, and perf prints bare offsets.  Given a copy of the mapped library
(run.sh copies it from /proc/PID/map_files), those offsets are resolved with
addr2line.  Prints, for the samples of all the worker's threads:

  - the share of each thread group (the worker's own thread, librdkafka's
    rdk:* threads);
  - the inclusive share of trades_kafka's functions (inlined ones too) and
    of a few calls that tell where the time goes (SPI_execute_plan, trade_parse,
    rd_kafka_consumer_poll, CommitTransactionCommand).
"""
import collections
import re
import subprocess
import sys

WATCH = re.compile(r"^(tk_\w+|trade_parse|SPI_execute_plan|rd_kafka_consumer_poll"
                   r"|CommitTransactionCommand)")
FRAME = re.compile(r"^\s+([0-9a-f]+) (\S+) \((.*)\)$")


def resolve(so_path, offsets):
    """the function names at each offset of so_path, innermost first
    (inlined functions included), by addr2line"""
    if not so_path or not offsets:
        return {}
    out = subprocess.run(["addr2line", "-a", "-f", "-i", "-e", so_path]
                         + [hex(o) for o in sorted(offsets)],
                         capture_output=True, text=True, check=False).stdout.split("\n")
    names, current = {}, None
    for line in out:
        if line.startswith("0x"):
            current = int(line, 16)
            names[current] = []
        elif current is not None and not line.startswith(("/", "??:")) \
                and line and ":" not in line:
            names[current].append(line)
    return names


def main():
    so_path = sys.argv[1] if len(sys.argv) > 1 else None
    samples = []          # (thread, [(sym, dso, addr)])
    thread, frames = None, []
    for line in sys.stdin:
        if not line.strip():
            if thread is not None:
                samples.append((thread, frames))
            thread, frames = None, []
            continue
        m = FRAME.match(line)
        if m:
            # a caller's frame holds a return address: the call is the byte
            # before it (else an inlined function after the call is named)
            addr = int(m.group(1), 16) - (1 if frames else 0)
            frames.append((m.group(2), m.group(3), addr))
        elif not line.startswith((" ", "\t")):
            thread = line.split()[0]
    if thread is not None:
        samples.append((thread, frames))
    if not samples:
        sys.exit("perf_tk.py: no samples")

    unknown = {addr for _, fr in samples for sym, dso, addr in fr
               if "trades_kafka.so" in dso and sym.startswith("[unknown]")}
    names = resolve(so_path, unknown)

    threads = collections.Counter()
    inclusive = collections.Counter()
    for thread, fr in samples:
        threads["librdkafka threads (rdk:*)" if thread.startswith("rdk:")
                else "the worker's own thread"] += 1
        seen = set()
        for sym, dso, addr in fr:
            syms = [sym]
            if sym.startswith("[unknown]") and "trades_kafka.so" in dso:
                syms = names.get(addr) or [sym]
            for name in syms:
                name = name.split("+")[0].split(".")[0]
                if WATCH.match(name):
                    seen.add(name)
        for sym in seen:
            inclusive[sym] += 1
    total = len(samples)
    for name, n in threads.most_common():
        print(f"{100.0 * n / total:6.2f}%  {name}")
    print()
    for name, n in inclusive.most_common(20):
        print(f"{100.0 * n / total:6.2f}%  {name}")


if __name__ == "__main__":
    main()
