#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2015  # functions run through wait_until, check and trap
# test_ingest.sh: a few thousand messages with a known mix of every outcome,
# through a real broker into a real server; the stored rows, the rejects by
# reason, lag(), status() and the offsets must be exactly what the reference
# model (model.py) says.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/e2e/lib.sh
source "$here/lib.sh"

count=3000
topic="$(unique_name ingest)"
group="$(unique_name g)"
work="$(mktemp -d)"
trap 'sql "SELECT trades_kafka.stop(topic => '"'$topic'"')" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

today="$(sql "SELECT current_date")"
python3 "$here/model.py" mix --today "$today" --count "$count" --seed 42 --prefix "$topic-" \
    --messages "$work/messages.tsv" --expect "$work/expect"

kafka_topic_create "$topic" 3
kcat -b "$TK_BROKERS" -P -t "$topic" -K $'\t' < "$work/messages.tsv"
check_eq "all messages on the topic" "$count" "$(kafka_end_offset_sum "$topic")"

check_eq "start() starts two workers" 2 \
    "$(sql "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic', group_id => '$group', workers => 2)")"

stored_all() {
    [[ "$(sql "SELECT coalesce(sum(next_offset), 0) FROM trades_kafka.offsets WHERE topic = '$topic' AND group_id = '$group'")" == "$count" ]]
}
if wait_until 120 "every message stored" stored_all; then
    ok "every message stored within 120 s"
else
    fail "every message stored within 120 s" "offsets: $(sql "SELECT string_agg(partition || ':' || next_offset, ' ') FROM trades_kafka.offsets WHERE topic = '$topic'")"
fi

sql "COPY (SELECT trade_id, version, counter_party_id, book_id, maturity_date, created_date
             FROM trades_kafka.trades WHERE kafka_topic = '$topic' ORDER BY trade_id COLLATE \"C\", version)
     TO STDOUT" > "$work/trades.tsv"
LC_ALL=C sort -t $'\t' -k1,1 -k2,2n "$work/expect/trades.tsv" > "$work/expect/trades.sorted"
LC_ALL=C sort -t $'\t' -k1,1 -k2,2n "$work/trades.tsv" > "$work/trades.sorted"
if diff -q "$work/expect/trades.sorted" "$work/trades.sorted" >/dev/null; then
    ok "trades table equals the reference model ($(wc -l < "$work/trades.tsv") rows)"
else
    fail "trades table equals the reference model" "$(diff "$work/expect/trades.sorted" "$work/trades.sorted" | head -5)"
fi

sql "COPY (SELECT reason, count(*) FROM trades_kafka.rejects WHERE kafka_topic = '$topic'
             GROUP BY reason ORDER BY reason) TO STDOUT" > "$work/rejects.tsv"
check_eq "rejects by reason equal the reference model" \
    "$(cat "$work/expect/rejects.tsv")" "$(cat "$work/rejects.tsv")"

nrejects="$(awk -F'\t' '{s += $2} END {print s + 0}' "$work/expect/rejects.tsv")"
check_eq "every message in exactly one place (no offset twice)" 0 \
    "$(sql "SELECT count(*) FROM (
              SELECT 1 FROM (SELECT kafka_partition, kafka_offset FROM trades_kafka.trades WHERE kafka_topic = '$topic'
                             UNION ALL
                             SELECT kafka_partition, kafka_offset FROM trades_kafka.rejects WHERE kafka_topic = '$topic') x
              GROUP BY kafka_partition, kafka_offset HAVING count(*) > 1) dup")"
check_eq "rejects keep the raw payload" 0 \
    "$(sql "SELECT count(*) FROM trades_kafka.rejects WHERE kafka_topic = '$topic' AND (payload IS NULL OR length(payload) = 0 OR kafka_key IS NULL)")"
check_eq "invalid_field names the field" 0 \
    "$(sql "SELECT count(*) FROM trades_kafka.rejects WHERE kafka_topic = '$topic' AND reason = 'invalid_field'
            AND detail !~ '^(trade_id|version|counter_party_id|book_id|maturity_date|created_date)'")"

check_eq "lag() is zero on every partition" "3 0" \
    "$(sql "SELECT count(*) || ' ' || sum(lag) FROM trades_kafka.lag(topic => '$topic', group_id => '$group')")"
check_eq "status() counters equal what was sent" "$count $((count - nrejects)) $nrejects" \
    "$(sql "SELECT sum(consumed) || ' ' || sum(stored) || ' ' || sum(rejected) FROM trades_kafka.status() WHERE topic = '$topic'")"
check_eq "status() shows two workers sharing three partitions" "2 3" \
    "$(sql "SELECT count(*) || ' ' || sum(cardinality(partitions)) FROM trades_kafka.status() WHERE topic = '$topic'")"
check_eq "workers show in pg_stat_activity as trades_kafka worker" 2 \
    "$(sql "SELECT count(*) FROM pg_stat_activity a JOIN trades_kafka.status() s ON s.pid = a.pid
            WHERE s.topic = '$topic' AND a.backend_type = 'trades_kafka worker'")"

check_eq "stop() stops both workers" 2 "$(sql "SELECT trades_kafka.stop(topic => '$topic')")"
check_eq "no worker left after stop()" 0 \
    "$(sql "SELECT count(*) FROM trades_kafka.status() WHERE topic = '$topic'")"

finish
