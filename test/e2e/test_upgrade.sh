#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2015  # functions run through wait_until, check and trap
# test_upgrade.sh: the upgrade of README "Upgrades" while a producer sends:
# a job runs on version 0.1.0 of the extension (in a database of its own),
# stop(), ALTER EXTENSION trades_kafka UPDATE, start() again with the same
# topic and group: it resumes at the stored offsets, every message ends in
# exactly one place and the rule outcomes equal the reference model's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/e2e/lib.sh
source "$here/lib.sh"
# shellcheck source=test/e2e/accounting.sh
source "$here/accounting.sh"

count=30000
rate=1500
topic="$(unique_name upgrade)"
group="$(unique_name g)"
db="$topic"
work="$(mktemp -d)"
producer_pid=
cleanup() {
    [[ -n "$producer_pid" ]] && kill "$producer_pid" 2>/dev/null || true
    sql "SELECT trades_kafka.stop(topic => '$topic')" >/dev/null 2>&1 || true
    sql_db postgres "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

sql_db postgres "CREATE DATABASE \"$db\"" >/dev/null
export PGDATABASE="$db"
sql "CREATE EXTENSION trades_kafka VERSION '0.1.0'" >/dev/null
check_eq "the job starts on version 0.1.0" 0.1.0 \
    "$(sql "SELECT extversion FROM pg_extension WHERE extname = 'trades_kafka'")"

# the stream lasts count / rate seconds: the upgrade lands mid-stream
mix_stream "$topic" "$count" 23 2 "$rate" "$work"

start_job() {
    sql "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic', group_id => '$group')" >/dev/null
}
more_than() { (( $(stored_count "$topic" "$group") > $1 )); }

start_job
wait_until 60 "a first share stored" more_than $((count / 5)) || true
check_eq "stop() before the upgrade stops the worker" 1 "$(sql "SELECT trades_kafka.stop(topic => '$topic')")"
before="$(stored_count "$topic" "$group")"
# every message ends as a row (an override moves its row's offset to itself),
# so each partition's last stored message sits just below its next offset
check_eq "rows and offsets agree before the upgrade" "" \
    "$(sql "SELECT o.partition FROM trades_kafka.offsets o
              LEFT JOIN (SELECT kafka_partition, max(kafka_offset) AS last FROM (
                           SELECT kafka_partition, kafka_offset FROM trades_kafka.trades WHERE kafka_topic = '$topic'
                           UNION ALL
                           SELECT kafka_partition, kafka_offset FROM trades_kafka.rejects WHERE kafka_topic = '$topic') r
                         GROUP BY 1) m ON m.kafka_partition = o.partition
             WHERE o.topic = '$topic' AND o.group_id = '$group' AND o.next_offset <> coalesce(m.last + 1, 0)")"

sql "ALTER EXTENSION trades_kafka UPDATE" >/dev/null
check_eq "ALTER EXTENSION trades_kafka UPDATE reaches the default version" \
    "$(sql "SELECT default_version FROM pg_available_extensions WHERE name = 'trades_kafka'")" \
    "$(sql "SELECT extversion FROM pg_extension WHERE extname = 'trades_kafka'")"
check_eq "the offsets survive the upgrade" "$before" "$(stored_count "$topic" "$group")"

start_job
if wait "$producer_pid"; then ok "the producer delivered every message"; else fail "the producer delivered every message"; fi
producer_pid=
all() { [[ "$(stored_count "$topic" "$group")" == "$count" ]]; }
wait_until 180 "every message stored" all || true
if (( before > 0 && before < count )); then ok "the upgrade happened mid-stream ($before of $count stored)"; else
    fail "the upgrade happened mid-stream" "$before of $count stored at the stop"; fi
check_accounting "$topic" "$group" "$count" "$work/expect"
finish
