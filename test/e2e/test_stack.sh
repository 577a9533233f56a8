#!/usr/bin/env bash
#
# test_stack.sh: the local stack itself, before anything else leans on it:
# the broker answers metadata, creates a 4-partition topic, counts what kcat
# produced in its high watermarks; PostgreSQL answers and preloads
# trades_kafka.
#
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

topic="$(unique_name stack)"
work="$(mktemp -d)"
# shellcheck disable=SC2317  # run by the trap
cleanup() {
    kafka_topic_delete "$topic" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

metadata() { kcat -b "$TK_BROKERS" -L -m 5 2>&1; }
check "the broker answers metadata on $TK_BROKERS" grep -q '^ *1 brokers:' <(metadata)

check "a topic with 4 partitions is created" kafka_topic_create "$topic" 4
check_eq "metadata shows the topic with 4 partitions" 4 \
    "$(kcat -b "$TK_BROKERS" -L -t "$topic" -m 5 2>/dev/null | grep -c '^ *partition [0-9]*,')"

for i in $(seq 1 10); do
    printf 'T%d\t{"trade_id":"T%d","version":1}\n' "$i" "$i"
done > "$work/messages.tsv"
check "kcat produces 10 messages" kafka_produce_lines "$topic" "$work/messages.tsv" $'\t'
check_eq "the high watermarks add up to 10" 10 "$(kafka_end_offset_sum "$topic")"
check_eq "every message keyed by its trade id" "$(cut -f1 "$work/messages.tsv" | sort)" \
    "$(kcat -b "$TK_BROKERS" -C -t "$topic" -o beginning -e -q -f '%k\n' | sort)"

# keys derived from the JSON when no separator is given
cut -f2 "$work/messages.tsv" > "$work/messages.jsonl"
check "kcat produces 10 JSON lines keyed by trade_id" kafka_produce_lines "$topic" "$work/messages.jsonl"
check_eq "the high watermarks add up to 20" 20 "$(kafka_end_offset_sum "$topic")"
check_eq "each trade id is the key of both of its messages" 10 \
    "$(kcat -b "$TK_BROKERS" -C -t "$topic" -o beginning -e -q -f '%k %s\n' |
        awk '$2 ~ "\"trade_id\":\"" $1 "\"" { n[$1]++ } END { for (k in n) if (n[k] == 2) c++; print c + 0 }')"

check_eq "PostgreSQL answers select 1" 1 "$(sql "SELECT 1")"
if [[ -n "$TK_SKIP_EXT" ]]; then
    fail "trades_kafka in shared_preload_libraries" "TK_SKIP_EXT is set: the stack runs without the extension"
else
    check_eq "trades_kafka in shared_preload_libraries" 1 \
        "$(sql "SELECT count(*) FROM regexp_split_to_table(current_setting('shared_preload_libraries'), '\s*,\s*') l
                WHERE l = 'trades_kafka'")"
fi

finish
