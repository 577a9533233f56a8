#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2015  # functions run through wait_until, check and trap
# test_upgrade.sh: ALTER EXTENSION trades_kafka UPDATE from 0.1.0 while a
# producer sends, each time in a database of its own, twice:
#   stopped  the procedure of README "Upgrades": stop(), update, start()
#            again with the same topic and group, which resumes at the
#            stored offsets;
#   running  the update run while the job stores (a user who skipped stop()):
#            the worker waits for the update's lock and goes on, same pid.
# Each ends with every message in exactly one place and the rule outcomes
# equal to the reference model's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/e2e/lib.sh
source "$here/lib.sh"
# shellcheck source=test/e2e/accounting.sh
source "$here/accounting.sh"

count=30000
rate=1500
dbs=()
topics=()
work="$(mktemp -d)"
producer_pid=
cleanup() {
    local t d
    [[ -n "$producer_pid" ]] && kill "$producer_pid" 2>/dev/null || true
    for t in "${topics[@]}"; do
        sql "SELECT trades_kafka.stop(topic => '$t')" >/dev/null 2>&1 || true
    done
    for d in "${dbs[@]}"; do
        sql_db postgres "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# scenario MODE SEED
scenario() {
    local mode="$1" seed="$2" topic group before pid
    topic="$(unique_name "upgrade_$mode")"
    group="$(unique_name g)"
    topics+=("$topic")
    dbs+=("$topic")
    sql_db postgres "CREATE DATABASE \"$topic\"" >/dev/null
    export PGDATABASE="$topic"
    sql "CREATE EXTENSION trades_kafka VERSION '0.1.0'" >/dev/null
    check_eq "[$mode] the job starts on version 0.1.0" 0.1.0 \
        "$(sql "SELECT extversion FROM pg_extension WHERE extname = 'trades_kafka'")"

    # the stream lasts count / rate seconds: the update lands mid-stream
    mkdir -p "$work/$mode"
    mix_stream "$topic" "$count" "$seed" 2 "$rate" "$work/$mode"
    start_job() {
        sql "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic', group_id => '$group')" >/dev/null
    }
    more_than() { (( $(stored_count "$topic" "$group") > $1 )); }
    start_job
    wait_until 60 "a first share stored" more_than $((count / 5)) || true

    if [[ "$mode" == stopped ]]; then
        check_eq "[$mode] stop() before the update stops the worker" 1 \
            "$(sql "SELECT trades_kafka.stop(topic => '$topic')")"
        before="$(stored_count "$topic" "$group")"
        # every message ends as a row (an override moves its row's offset to
        # itself), so each partition's last stored message sits just below
        # its next offset
        check_eq "[$mode] rows and offsets agree before the update" "" \
            "$(sql "SELECT o.partition FROM trades_kafka.offsets o
                      LEFT JOIN (SELECT kafka_partition, max(kafka_offset) AS last FROM (
                                   SELECT kafka_partition, kafka_offset FROM trades_kafka.trades WHERE kafka_topic = '$topic'
                                   UNION ALL
                                   SELECT kafka_partition, kafka_offset FROM trades_kafka.rejects WHERE kafka_topic = '$topic') r
                                 GROUP BY 1) m ON m.kafka_partition = o.partition
                     WHERE o.topic = '$topic' AND o.group_id = '$group' AND o.next_offset <> coalesce(m.last + 1, 0)")"
    else
        pid="$(sql "SELECT pid FROM trades_kafka.status() WHERE topic = '$topic'")"
        before="$(stored_count "$topic" "$group")"
    fi

    sql "ALTER EXTENSION trades_kafka UPDATE" >/dev/null
    check_eq "[$mode] ALTER EXTENSION trades_kafka UPDATE reaches the default version" \
        "$(sql "SELECT default_version FROM pg_available_extensions WHERE name = 'trades_kafka'")" \
        "$(sql "SELECT extversion FROM pg_extension WHERE extname = 'trades_kafka'")"

    if [[ "$mode" == stopped ]]; then
        check_eq "[$mode] the offsets survive the update" "$before" "$(stored_count "$topic" "$group")"
        start_job
    fi
    if wait "$producer_pid"; then ok "[$mode] the producer delivered every message"; else
        fail "[$mode] the producer delivered every message"; fi
    producer_pid=
    all() { [[ "$(stored_count "$topic" "$group")" == "$count" ]]; }
    wait_until 180 "every message stored" all || true
    if (( before > 0 && before < count )); then ok "[$mode] the update happened mid-stream ($before of $count stored)"; else
        fail "[$mode] the update happened mid-stream" "$before of $count stored at the update"; fi
    if [[ "$mode" == running ]]; then
        check_eq "[$mode] the same worker stored on through the update" "$pid" \
            "$(sql "SELECT pid FROM trades_kafka.status() WHERE topic = '$topic'")"
    fi
    check_accounting "$topic" "$group" "$count" "$work/$mode/expect"
    sql "SELECT trades_kafka.stop(topic => '$topic')" >/dev/null
}

scenario stopped 23
scenario running 29
finish
