#!/usr/bin/env python3
"""inserts.py: the per-message client's SQL, one autocommit statement a row.

Reads rows in COPY text format on stdin (trade_id, version,
counter_party_id, book_id, maturity_date, created_date, expired,
kafka_topic, kafka_partition, kafka_offset) and writes, for each, the
INSERT ... ON CONFLICT DO UPDATE a client storing one message per
transaction would send: no version lookup, no offsets row, which makes it
cheaper than what the worker does per message.  Usage: inserts.py TABLE
"""
import sys


def literal(text):
    # COPY text escapes: our generated values hold none but the backslash
    text = text.replace("\\\\", "\\")
    return "'" + text.replace("'", "''") + "'"


def main():
    table = sys.argv[1]
    out = sys.stdout
    for line in sys.stdin:
        f = line.rstrip("\n").split("\t")
        out.write(
            f"INSERT INTO {table} (trade_id, version, counter_party_id, book_id,"
            " maturity_date, created_date, expired, kafka_topic, kafka_partition, kafka_offset)"
            f" VALUES ({literal(f[0])}, {int(f[1])}, {literal(f[2])}, {literal(f[3])},"
            f" {literal(f[4])}, {literal(f[5])}, false, {literal(f[7])}, {int(f[8])}, {int(f[9])})"
            " ON CONFLICT (trade_id, version) DO UPDATE SET"
            " counter_party_id = EXCLUDED.counter_party_id, book_id = EXCLUDED.book_id,"
            " maturity_date = EXCLUDED.maturity_date, created_date = EXCLUDED.created_date,"
            " expired = false, kafka_topic = EXCLUDED.kafka_topic,"
            " kafka_partition = EXCLUDED.kafka_partition, kafka_offset = EXCLUDED.kafka_offset,"
            " ingested_at = EXCLUDED.ingested_at;\n")


if __name__ == "__main__":
    main()
