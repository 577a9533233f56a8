#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2015  # functions run through wait_until, check and trap
# test_launcher.sh: the launcher that brings enabled jobs back at server
# start, in each database trades_kafka.database lists.  A database that does
# not exist is one LOG line with a hint, and nothing exits with FATAL; each
# one that exists is reached and its enabled jobs come back.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/e2e/lib.sh
source "$here/lib.sh"

log="$TK_STATE_DIR/pg/log/postgresql.log"
missing="$(unique_name tk_no_such_db)"
cleanup() {
    if [[ -n "${other:-}" ]]; then
        sql_db "$other" "SELECT trades_kafka.stop()" >/dev/null 2>&1 || true
        sql_db postgres "DROP DATABASE IF EXISTS \"$other\" WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    [[ -n "${topic:-}" ]] && kafka_topic_delete "$topic" >/dev/null 2>&1 || true
    if [[ "$(sql "SHOW trades_kafka.database" 2>/dev/null)" != "$PGDATABASE" ]]; then
        sql "ALTER SYSTEM RESET trades_kafka.database" >/dev/null 2>&1 || true
        bash "$TK_SCRIPTS/pg.sh" restart >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

check_eq "the stack's launcher database is the test database" "$PGDATABASE" "$(sql "SHOW trades_kafka.database")"

# since_restart: the log lines written since restart_server
since_restart() { tail -c "+$((mark + 1))" "$log"; }
logged() { since_restart | grep -q "$1"; }
restart_server() {
    mark="$(stat -c %s "$log")"
    bash "$TK_SCRIPTS/pg.sh" restart >/dev/null
}
# check_launcher_line NAME PATTERN: the launcher logs PATTERN after the
# restart (within 30 s), and no trades_kafka process exits with FATAL
check_launcher_line() {
    if wait_until 30 "the launcher's line: $2" logged "$2"; then
        ok "$1"
    else
        fail "$1" "$(since_restart | grep -i launcher | tail -n 5)"
    fi
    check_eq "$1: no trades_kafka process exits with FATAL" "" \
        "$(since_restart | grep "trades_kafka [a-z]* FATAL" || true)"
}

# a list: the test database, one that does not exist, and a second one
# (double-quoted in the list) with an enabled job, which comes back
other="$(unique_name tk_launcher_db)"
topic="$(unique_name launcher)"
kafka_topic_create "$topic" 1
sql_db postgres "CREATE DATABASE \"$other\"" >/dev/null
sql_db "$other" "CREATE EXTENSION trades_kafka" >/dev/null
sql_db "$other" "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic', group_id => '$topic')" >/dev/null
sql "ALTER SYSTEM SET trades_kafka.database = '$PGDATABASE, $missing, \"$other\"'" >/dev/null
restart_server
check_launcher_line "a missing database in trades_kafka.database is one LOG line" \
    "trades_kafka launcher restarts no job: database \"$missing\" does not exist"
check_eq "the line comes with a hint" 1 \
    "$(since_restart | grep -c "HINT:  Set trades_kafka.database to the databases where CREATE EXTENSION trades_kafka was run")"
check_launcher_line "the launcher reaches the first database of the list" \
    "trades_kafka launcher started [0-9]* workers for [0-9]* enabled jobs in database \"$PGDATABASE\""
check_launcher_line "the launcher reaches the last database of the list and restarts its job" \
    "trades_kafka launcher started 1 workers for 1 enabled jobs in database \"$other\""
job_back() { [[ "$(sql_db "$other" "SELECT count(*) FROM trades_kafka.status() WHERE topic = '$topic'")" == 1 ]]; }
if wait_until 30 "the job's worker in $other" job_back; then ok "the job of the second database runs again"; else
    fail "the job of the second database runs again" "$(sql_db "$other" "SELECT * FROM trades_kafka.status()")"; fi
sql_db "$other" "SELECT trades_kafka.stop()" >/dev/null
check_eq "the server answers" 1 "$(sql "SELECT 1")"

sql "ALTER SYSTEM RESET trades_kafka.database" >/dev/null
restart_server
check_launcher_line "with the right database the launcher reaches it and restarts its enabled jobs" \
    "trades_kafka launcher started [0-9]* workers for [0-9]* enabled jobs in database \"$PGDATABASE\""
finish
