#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2015  # functions run through wait_until, check and trap
# test_hostile.sh: hostile bytes become rejects with the right reason (or
# rows, where valid); the worker keeps running, the postmaster is never
# restarted, and the next valid message is stored.  Then a message that
# passes validation but that PostgreSQL refuses becomes a store_failed
# reject while the rest of its batch is stored.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/e2e/lib.sh
source "$here/lib.sh"

topic="$(unique_name hostile)"
topic2="$(unique_name refuse)"
group="$(unique_name g)"
work="$(mktemp -d)"
cleanup() {
    sql "SELECT trades_kafka.stop(topic => '$topic')" >/dev/null 2>&1 || true
    sql "SELECT trades_kafka.stop(topic => '$topic2')" >/dev/null 2>&1 || true
    sql "ALTER TABLE trades_kafka.trades DROP CONSTRAINT IF EXISTS e2e_refuse" >/dev/null 2>&1 || true
    sql "ALTER SYSTEM RESET trades_kafka.max_message_bytes" >/dev/null 2>&1 || true
    sql "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
    [[ -n "${sentinel:-}" ]] && kill "$sentinel" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# room for 100k levels of nesting below the limit
sql "ALTER SYSTEM SET trades_kafka.max_message_bytes = '512kB'" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
max_bytes=524288
today="$(sql "SELECT current_date")"
python3 "$here/hostile.py" "$work/corpus" "$today" "$max_bytes"
mapfile -t files < <(find "$work/corpus" -type f | sort)
n=$(( ${#files[@]} + 2 ))

kafka_topic_create "$topic" 1
# an empty message and a null one first (kcat skips empty files), then
# each file as one message, whatever bytes it holds
printf 'hostile:\n' | kcat -b "$TK_BROKERS" -P -t "$topic" -K:
printf 'hostile:\n' | kcat -b "$TK_BROKERS" -P -t "$topic" -K: -Z
kcat -b "$TK_BROKERS" -P -t "$topic" -k hostile "${files[@]}"
check_eq "the whole corpus is on the topic" "$n" "$(kafka_end_offset_sum "$topic")"

# a session that lives as long as no backend crashes: a crash restart of
# the server (which keeps pg_postmaster_start_time) would end it
psql -X -q -d "$PGDATABASE" -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
sentinel=$!
alive() { kill -0 "$sentinel" 2>/dev/null; }
sql "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic', group_id => '$group')" >/dev/null
done_all() {
    [[ "$(sql "SELECT coalesce(sum(next_offset), 0) FROM trades_kafka.offsets WHERE topic = '$topic' AND group_id = '$group'")" == "$n" ]]
}
if wait_until 60 "the corpus stored" done_all; then
    ok "all $n hostile messages handled"
else
    fail "all $n hostile messages handled" "$(sql "SELECT * FROM trades_kafka.status()")"
fi
pid_before="$(sql "SELECT pid FROM trades_kafka.status() WHERE topic = '$topic'")"

# outcome of each offset: a trade row, or the reject's reason
sql "COPY (SELECT o, coalesce((SELECT 'ok' FROM trades_kafka.trades t WHERE t.kafka_topic = '$topic' AND t.kafka_offset = o),
                               (SELECT string_agg(reason, '+') FROM trades_kafka.rejects r WHERE r.kafka_topic = '$topic' AND r.kafka_offset = o),
                               'nowhere')
             FROM generate_series(0, $n - 1) o ORDER BY o) TO STDOUT" > "$work/outcomes"
check_eq "hostile empty message -> malformed_json" malformed_json \
    "$(awk -F'\t' '$1 == 0 {print $2}' "$work/outcomes")"
check_eq "hostile null message -> malformed_json" malformed_json \
    "$(awk -F'\t' '$1 == 1 {print $2}' "$work/outcomes")"
i=2
for f in "${files[@]}"; do
    name="$(basename "$f")"
    expected="$(cut -d- -f2 <<<"$name")"
    kind="$(cut -d- -f3- <<<"$name")"
    actual="$(awk -F'\t' -v o="$i" '$1 == o {print $2}' "$work/outcomes")"
    check_eq "hostile $kind -> $expected" "$expected" "$actual"
    i=$((i + 1))
done

# rejects keep the raw bytes, exactly
sql "COPY (SELECT kafka_offset, md5(payload) FROM trades_kafka.rejects WHERE kafka_topic = '$topic' ORDER BY 1) TO STDOUT" > "$work/reject_md5"
mismatch=0
while IFS=$'\t' read -r off md5; do
    (( off > 1 )) || continue
    [[ "$(md5sum < "${files[$((off - 2))]}" | cut -d' ' -f1)" == "$md5" ]] || mismatch=$((mismatch + 1))
done < "$work/reject_md5"
check_eq "every reject holds the message's exact bytes" 0 "$mismatch"
check_eq "duplicate keys: the last one wins" "last" \
    "$(sql "SELECT book_id FROM trades_kafka.trades WHERE kafka_topic = '$topic' AND trade_id = 'HD'")"
check_eq "invalid_field names the field first" 0 \
    "$(sql "SELECT count(*) FROM trades_kafka.rejects WHERE kafka_topic = '$topic' AND reason IN ('invalid_field', 'missing_field')
            AND detail !~ '^(trade_id|version|counter_party_id|book_id|maturity_date|created_date)'")"
check "no backend crashed (the server never crash-restarted)" alive

# the worker is still the same process, and stores the next valid message
kcat -b "$TK_BROKERS" -P -t "$topic" -k HN <<<'{"trade_id":"HN","version":1,"counter_party_id":"CP","book_id":"B","maturity_date":"9999-01-01"}'
next_stored() { [[ "$(sql "SELECT count(*) FROM trades_kafka.trades WHERE kafka_topic = '$topic' AND trade_id = 'HN'")" == 1 ]]; }
check "the next valid message is stored" wait_until 30 "the next valid message" next_stored
check_eq "the same worker process is still running" "$pid_before" \
    "$(sql "SELECT pid FROM trades_kafka.status() WHERE topic = '$topic'")"

# --- a message PostgreSQL refuses although it passed validation
sql "ALTER TABLE trades_kafka.trades ADD CONSTRAINT e2e_refuse CHECK (book_id <> 'REFUSE')" >/dev/null
kafka_topic_create "$topic2" 1
for i in $(seq 1 300); do
    book=B; [[ $i == 150 || $i == 151 ]] && book=REFUSE
    printf 'R%d\t{"trade_id":"R%d","version":1,"counter_party_id":"CP","book_id":"%s","maturity_date":"9999-01-01"}\n' "$i" "$i" "$book"
done > "$work/refuse.tsv"
kcat -b "$TK_BROKERS" -P -t "$topic2" -K $'\t' < "$work/refuse.tsv"
check_eq "300 messages on the topic" 300 "$(kafka_end_offset_sum "$topic2")"
sql "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic2', group_id => '$group')" >/dev/null
refuse_done() {
    [[ "$(sql "SELECT coalesce(sum(next_offset), 0) FROM trades_kafka.offsets WHERE topic = '$topic2' AND group_id = '$group'")" == 300 ]]
}
check "the batch with refused rows is stored" wait_until 60 "300 messages stored" refuse_done
check_eq "the rest of the batch is stored" 298 \
    "$(sql "SELECT count(*) FROM trades_kafka.trades WHERE kafka_topic = '$topic2'")"
check_eq "the refused rows are store_failed rejects at their offsets" "149 store_failed,150 store_failed" \
    "$(sql "SELECT string_agg(kafka_offset || ' ' || reason, ',' ORDER BY kafka_offset) FROM trades_kafka.rejects WHERE kafka_topic = '$topic2'")"
check_eq "store_failed detail holds the server's message" 2 \
    "$(sql "SELECT count(*) FROM trades_kafka.rejects WHERE kafka_topic = '$topic2' AND detail LIKE '%e2e_refuse%'")"
check "still no backend crashed" alive

finish
