#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2015  # functions run through wait_until, check and trap
# test_restart.sh: stop the server with `pg_ctl stop -m immediate` while a
# job ingests, start it again: the launcher brings the job back and it
# resumes with no duplicate and no gap.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/e2e/lib.sh
source "$here/lib.sh"

count=60000
topic="$(unique_name restart)"
group="$(unique_name g)"
work="$(mktemp -d)"
cleanup() {
    sql "ALTER SYSTEM RESET trades_kafka.batch_size" >/dev/null 2>&1 || true
    sql "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
    sql "SELECT trades_kafka.stop(topic => '$topic')" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

python3 "$here/model.py" unique --count "$count" --prefix "$topic-" --messages "$work/messages.tsv"
kafka_topic_create "$topic" 2
kcat -b "$TK_BROKERS" -P -t "$topic" -K $'\t' < "$work/messages.tsv"
check_eq "all messages on the topic" "$count" "$(kafka_end_offset_sum "$topic")"

# small batches, so that the stop lands mid-stream
sql "ALTER SYSTEM SET trades_kafka.batch_size = 100" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
sql "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic', group_id => '$group')" >/dev/null

stored() { sql "SELECT count(*) FROM trades_kafka.trades WHERE kafka_topic = '$topic'"; }
some_stored() { (( $(stored) > 0 )); }
wait_until 60 "the first batches" some_stored || true
pg_stop_immediate
pg_start
after_restart="$(stored)"
if (( after_restart > 0 && after_restart < count )); then
    ok "the server stopped mid-stream ($after_restart of $count stored)"
else
    fail "the server stopped mid-stream" "$after_restart of $count stored at the stop"
fi

back() { (( $(sql "SELECT count(*) FROM trades_kafka.status() WHERE topic = '$topic'") == 1 )); }
if wait_until 60 "the job's worker back after the restart" back; then
    ok "the launcher brought the job back"
else
    fail "the launcher brought the job back" "status: $(sql "SELECT * FROM trades_kafka.status()")"
fi

all_stored() {
    [[ "$(sql "SELECT coalesce(sum(next_offset), 0) FROM trades_kafka.offsets WHERE topic = '$topic' AND group_id = '$group'")" == "$count" ]]
}
wait_until 180 "every message stored" all_stored || true
check_eq "every message stored once" "$count $count" \
    "$(sql "SELECT count(*) || ' ' || count(DISTINCT (kafka_partition, kafka_offset)) FROM trades_kafka.trades WHERE kafka_topic = '$topic'")"
check_eq "no gap: offsets 0..n-1 on each partition" "" \
    "$(sql "SELECT kafka_partition FROM trades_kafka.trades WHERE kafka_topic = '$topic'
            GROUP BY kafka_partition HAVING min(kafka_offset) <> 0 OR max(kafka_offset) <> count(*) - 1")"
check_eq "no rejects" 0 "$(sql "SELECT count(*) FROM trades_kafka.rejects WHERE kafka_topic = '$topic'")"
check_eq "offsets match the stored rows" "$count" \
    "$(sql "SELECT sum(next_offset) FROM trades_kafka.offsets WHERE topic = '$topic' AND group_id = '$group'")"

finish
