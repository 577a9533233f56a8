# shellcheck shell=bash
# accounting.sh: the check every chaos scenario ends with, and the mixed
# stream most of them send.  Sourced after lib.sh.
#
# check_accounting TOPIC GROUP COUNT [EXPECT_DIR]
#   every message ended in exactly one place: trades + rejects account for
#   COUNT messages, no (partition, offset) is stored twice across both
#   tables, the offsets table equals the partitions' end offsets (lag() is
#   zero), and, with EXPECT_DIR from model.py, the rule outcomes equal the
#   reference model's (trades.tsv, rejects.tsv); without it, every message
#   is a distinct valid trade.

check_accounting() {
    local topic="$1" group="$2" count="$3" expect="${4:-}"
    local got dup

    got="$(sql "SELECT coalesce(sum(next_offset), 0) FROM trades_kafka.offsets WHERE topic = '$topic' AND group_id = '$group'")"
    check_eq "[$topic] offsets account for all $count messages" "$count" "$got"
    check_eq "[$topic] lag() is zero on every partition" 0 \
        "$(sql "SELECT coalesce(sum(lag), -1) FROM trades_kafka.lag(topic => '$topic', group_id => '$group')")"
    dup="$(sql "SELECT count(*) FROM (
              SELECT 1 FROM (SELECT kafka_partition, kafka_offset FROM trades_kafka.trades WHERE kafka_topic = '$topic'
                             UNION ALL
                             SELECT kafka_partition, kafka_offset FROM trades_kafka.rejects WHERE kafka_topic = '$topic') x
              GROUP BY kafka_partition, kafka_offset HAVING count(*) > 1) d")"
    check_eq "[$topic] no message stored twice" 0 "$dup"

    if [[ -z "$expect" ]]; then
        check_eq "[$topic] trade rows + reject rows = messages produced" "$count 0" \
            "$(sql "SELECT (SELECT count(*) FROM trades_kafka.trades WHERE kafka_topic = '$topic') || ' ' ||
                           (SELECT count(*) FROM trades_kafka.rejects WHERE kafka_topic = '$topic')")"
        return
    fi

    local tmp
    tmp="$(mktemp -d)"
    sql "COPY (SELECT trade_id, version, counter_party_id, book_id, maturity_date, created_date
                 FROM trades_kafka.trades WHERE kafka_topic = '$topic') TO STDOUT" |
        LC_ALL=C sort > "$tmp/trades"
    LC_ALL=C sort "$expect/trades.tsv" > "$tmp/expected"
    if cmp -s "$tmp/expected" "$tmp/trades"; then
        ok "[$topic] trades equal the reference model ($(wc -l < "$tmp/trades") rows)"
    else
        fail "[$topic] trades equal the reference model" "$(diff "$tmp/expected" "$tmp/trades" | head -5 | tr '\n' ' ')"
    fi
    check_eq "[$topic] rejects by reason equal the reference model" "$(cat "$expect/rejects.tsv")" \
        "$(sql "COPY (SELECT reason, count(*) FROM trades_kafka.rejects WHERE kafka_topic = '$topic'
                      GROUP BY reason ORDER BY reason) TO STDOUT")"
    rm -rf "$tmp"
}

# stored_count TOPIC GROUP: the sum of the group's next offsets on TOPIC
stored_count() {
    sql "SELECT coalesce(sum(next_offset), 0) FROM trades_kafka.offsets WHERE topic = '$1' AND group_id = '$2'"
}

# mix_stream TOPIC COUNT SEED PARTITIONS RATE WORK: the reference model's
# mix of COUNT messages (its expectations in WORK/expect, for
# check_accounting), a topic of PARTITIONS, and trades-producer sending the
# messages at RATE msgs/s in the background: its pid in $producer_pid (the
# caller's cleanup kills it, the caller waits for it)
mix_stream() {
    local topic="$1" count="$2" seed="$3" parts="$4" rate="$5" work="$6" today
    today="$(sql "SELECT current_date")"
    python3 "$_TK_ACCOUNTING_DIR/model.py" mix --today "$today" --count "$count" --seed "$seed" \
        --prefix "$topic-" --messages "$work/messages.tsv" --payloads "$work/payloads.jsonl" \
        --expect "$work/expect"
    kafka_topic_create "$topic" "$parts"
    trades-producer --brokers "$TK_BROKERS" --topic "$topic" --from "$work/payloads.jsonl" \
        --rate "$rate" --quiet &
    # shellcheck disable=SC2034  # the caller's variable
    producer_pid=$!
}
_TK_ACCOUNTING_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
