#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2015  # functions run through wait_until, check and trap
# test_chaos_rebalance.sh: rebalances mid-stream on a 4-partition topic:
# one worker, then two (which join one after the other, so the first hands
# partitions over while it consumes), then one again, while the producer
# sends at a fixed rate; every message ends in exactly one place and the
# rule outcomes equal the reference model's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/e2e/lib.sh
source "$here/lib.sh"
# shellcheck source=test/e2e/accounting.sh
source "$here/accounting.sh"

count=60000
rate=2000
topic="$(unique_name rebalance)"
group="$(unique_name g)"
work="$(mktemp -d)"
producer_pid=
cleanup() {
    [[ -n "$producer_pid" ]] && kill "$producer_pid" 2>/dev/null || true
    sql "SELECT trades_kafka.stop(topic => '$topic')" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# the stream lasts count / rate seconds, so the rebalances land mid-stream
mix_stream "$topic" "$count" 11 4 "$rate" "$work"

start_workers() {
    sql "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic', group_id => '$group', workers => $1)" >/dev/null
}
more_than() { (( $(stored_count "$topic" "$group") > $1 )); }
workers_own() {
    [[ "$(sql "SELECT count(*) || ' ' || sum(cardinality(partitions)) || ' ' || count(*) FILTER (WHERE cardinality(partitions) > 0)
               FROM trades_kafka.status() WHERE topic = '$topic'")" == "$1" ]]
}

start_workers 1
wait_until 60 "a first share stored" more_than $((count / 10)) || true
check_eq "one worker stops" 1 "$(sql "SELECT trades_kafka.stop(topic => '$topic')")"
at1="$(stored_count "$topic" "$group")"

start_workers 2
if wait_until 60 "two workers sharing 4 partitions" workers_own "2 4 2"; then
    ok "two workers share the 4 partitions"
else
    fail "two workers share the 4 partitions" "$(sql "SELECT pid, partitions, batches FROM trades_kafka.status()")"
fi
wait_until 60 "more stored" more_than $((at1 + count / 10)) || true
check_eq "two workers stop" 2 "$(sql "SELECT trades_kafka.stop(topic => '$topic')")"
at2="$(stored_count "$topic" "$group")"
if (( at1 < at2 && at2 < count )); then ok "the rebalances happened mid-stream ($at1, $at2 of $count)"; else
    fail "the rebalances happened mid-stream" "$at1, $at2 of $count"; fi

start_workers 1
if wait "$producer_pid"; then ok "the producer delivered every message"; else fail "the producer delivered every message"; fi
producer_pid=
all() { [[ "$(stored_count "$topic" "$group")" == "$count" ]]; }
wait_until 180 "every message stored" all || true
check_accounting "$topic" "$group" "$count" "$work/expect"
finish
