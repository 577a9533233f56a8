#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2015  # functions run through wait_until, check and trap
# test_chaos_broker.sh: the broker stopped mid-stream and started again;
# the broker down when start() is called.  The worker says so in status(),
# never crashes, and ingestion resumes when the broker is back, with every
# message in exactly one place.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/e2e/lib.sh
source "$here/lib.sh"
# shellcheck source=test/e2e/accounting.sh
source "$here/accounting.sh"

count=40000
topic="$(unique_name brokerdown)"
topic2="$(unique_name brokerlate)"
group="$(unique_name g)"
work="$(mktemp -d)"
cleanup() {
    broker_start >/dev/null 2>&1 || true
    sql "ALTER SYSTEM RESET trades_kafka.batch_size" >/dev/null 2>&1 || true
    sql "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
    sql "SELECT trades_kafka.stop(topic => '$topic')" >/dev/null 2>&1 || true
    sql "SELECT trades_kafka.stop(topic => '$topic2')" >/dev/null 2>&1 || true
    [[ -n "${sentinel:-}" ]] && kill "$sentinel" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
psql -X -q -d "$PGDATABASE" -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
sentinel=$!
alive() { kill -0 "$sentinel" 2>/dev/null; }

state_is() { [[ "$(sql "SELECT state FROM trades_kafka.status() WHERE topic = '$1' LIMIT 1")" == "$2" ]]; }

# --- the broker stops mid-stream
python3 "$here/model.py" unique --count "$count" --prefix "$topic-" --messages "$work/m1.tsv"
kafka_topic_create "$topic" 2
kcat -b "$TK_BROKERS" -P -t "$topic" -K $'\t' < "$work/m1.tsv"
sql "ALTER SYSTEM SET trades_kafka.batch_size = 50" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
# small fetches, so the worker does not hold the whole topic when the broker goes
sql "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic', group_id => '$group',
        options => '{\"fetch.message.max.bytes\": 8192, \"queued.max.messages.kbytes\": 64}')" >/dev/null
some() { (( $(stored_count "$topic" "$group") > 0 )); }
wait_until 60 "the first batches" some || true
broker_stop
if wait_until 60 "status: broker unreachable" state_is "$topic" "broker unreachable"; then
    ok "status() says the broker is unreachable"
else
    fail "status() says the broker is unreachable" "$(sql "SELECT state, last_error FROM trades_kafka.status()")"
fi
at_stop="$(stored_count "$topic" "$group")"
if (( at_stop < count )); then ok "the broker stopped mid-stream ($at_stop of $count stored)"; else
    fail "the broker stopped mid-stream" "all stored before the stop"; fi
check_eq "the worker reports the error" 1 \
    "$(sql "SELECT count(*) FROM trades_kafka.status() WHERE topic = '$topic' AND last_error IS NOT NULL")"
broker_start
all1() { [[ "$(stored_count "$topic" "$group")" == "$count" ]]; }
wait_until 180 "every message stored after the broker came back" all1 || true
check_accounting "$topic" "$group" "$count"
sql "ALTER SYSTEM RESET trades_kafka.batch_size" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null

# --- the broker is down when start() is called
kafka_topic_create "$topic2" 2
broker_stop
check_eq "start() succeeds while the broker is down" 1 \
    "$(sql "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic2', group_id => '$group')")"
if wait_until 60 "status: broker unreachable" state_is "$topic2" "broker unreachable"; then
    ok "status() says the broker is unreachable after start()"
else
    fail "status() says the broker is unreachable after start()" "$(sql "SELECT state, last_error FROM trades_kafka.status()")"
fi
broker_start
python3 "$here/model.py" unique --count 5000 --prefix "$topic2-" --messages "$work/m2.tsv"
kcat -b "$TK_BROKERS" -P -t "$topic2" -K $'\t' < "$work/m2.tsv"
all2() { [[ "$(stored_count "$topic2" "$group")" == 5000 ]]; }
check "ingestion begins when the broker appears" wait_until 120 "5000 messages stored" all2
check_accounting "$topic2" "$group" 5000

check "no backend crashed" alive
finish
