#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2015  # functions run through wait_until, check and trap
# test_chaos_kill.sh: kill -9 a worker ten times while a few hundred
# thousand messages flow (with overrides, stale versions and every reject
# kind).  PostgreSQL answers each kill with a crash restart of every
# backend; the job must come back by itself each time, and in the end every
# message is in exactly one place and the rules' outcomes equal the
# reference model's.  Workers run with synchronous_commit = off (the
# default), which is safe by design.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/e2e/lib.sh
source "$here/lib.sh"
# shellcheck source=test/e2e/accounting.sh
source "$here/accounting.sh"

count="${TK_CHAOS_COUNT:-200000}"
rate="${TK_CHAOS_RATE:-2000}"
kills="${TK_CHAOS_KILLS:-10}"
topic="$(unique_name chaoskill)"
group="$(unique_name g)"
work="$(mktemp -d)"
producer_pid=
cleanup() {
    [[ -n "$producer_pid" ]] && kill "$producer_pid" 2>/dev/null || true
    [[ -n "${sentinel:-}" ]] && kill "$sentinel" 2>/dev/null || true
    sql "SELECT trades_kafka.stop(topic => '$topic')" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

check_eq "synchronous_commit is off for workers" off "$(sql "SHOW trades_kafka.synchronous_commit")"
mix_stream "$topic" "$count" 7 4 "$rate" "$work"
# a short session timeout, so a killed member's partitions move quickly
sql "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic', group_id => '$group',
                               workers => 2, options => '{\"session.timeout.ms\": 6000}')" >/dev/null

# a session that lives as long as no backend crashes
psql -X -q -d "$PGDATABASE" -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
sentinel=$!
killed=0
mid_stream=0
for i in $(seq 1 "$kills"); do
    # wait until a worker is back and has stored a batch since it started
    storing() {
        local pid
        pid="$(sql "SELECT pid FROM trades_kafka.status() WHERE topic = '$topic' AND batches > 0 ORDER BY random() LIMIT 1" 2>/dev/null)" || return 1
        [[ -n "$pid" ]] && echo "$pid" > "$work/victim"
    }
    if ! wait_until 90 "a worker storing batches (round $i)" storing; then
        fail "the job came back after kill $((i - 1))" "$(sql "SELECT * FROM trades_kafka.status()" 2>&1)"
        break
    fi
    before="$(stored_count "$topic" "$group")"
    if kill -0 "$producer_pid" 2>/dev/null && (( before < count )); then
        mid_stream=$((mid_stream + 1))
    fi
    old_pids="$(sql "SELECT string_agg(pid::text, ' ') FROM trades_kafka.status() WHERE topic = '$topic'")"
    kill -9 "$(cat "$work/victim")"
    killed=$((killed + 1))
    echo "# kill $i: pid $(cat "$work/victim") with $before of $count stored"
    # back after the crash restart: workers again, none of the old ones (the
    # server may still answer for a moment before it notices the crash)
    renewed() {
        local pids p
        pids="$(sql "SELECT string_agg(pid::text, ' ') FROM trades_kafka.status() WHERE topic = '$topic'" 2>/dev/null)" || return 1
        [[ -n "$pids" ]] || return 1
        for p in $old_pids; do
            [[ " $pids " != *" $p "* ]] || return 1
        done
    }
    wait_until 90 "new workers after kill $i" renewed || true
done
check_eq "$kills workers killed with kill -9 mid-stream" "$kills" "$killed"
sentinel_gone() { ! kill -0 "$sentinel" 2>/dev/null; }
check "PostgreSQL crash-restarted every backend (kill -9 of a worker)" sentinel_gone

check_eq "every kill landed mid-stream (the producer still sending)" "$kills" "$mid_stream"
if wait "$producer_pid"; then ok "the producer delivered every message"; else fail "the producer delivered every message" "exit $?"; fi
producer_pid=

all_stored() { [[ "$(stored_count "$topic" "$group")" == "$count" ]]; }
wait_until 300 "every message stored" all_stored || true
check_accounting "$topic" "$group" "$count" "$work/expect"
finish
