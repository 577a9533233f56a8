#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2015  # functions run through wait_until, check and trap
# test_launcher.sh: the launcher that brings enabled jobs back at server
# start.  With trades_kafka.database naming a database that does not exist
# it says so in one LOG line with a hint, and nothing exits with FATAL; with
# the right database it reaches it and reports the jobs it restarted.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/e2e/lib.sh
source "$here/lib.sh"

log="$TK_STATE_DIR/pg/log/postgresql.log"
missing="$(unique_name tk_no_such_db)"
cleanup() {
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

sql "ALTER SYSTEM SET trades_kafka.database = '$missing'" >/dev/null
restart_server
check_launcher_line "a missing trades_kafka.database is one LOG line" \
    "trades_kafka launcher restarts no job: database \"$missing\" does not exist"
check_eq "the line comes with a hint" 1 \
    "$(since_restart | grep -c "HINT:  Set trades_kafka.database to the database where CREATE EXTENSION trades_kafka was run")"
check_eq "the server answers" 1 "$(sql "SELECT 1")"

sql "ALTER SYSTEM RESET trades_kafka.database" >/dev/null
restart_server
check_launcher_line "with the right database the launcher reaches it and restarts its enabled jobs" \
    "trades_kafka launcher started [0-9]* workers for [0-9]* enabled jobs in database \"$PGDATABASE\""
finish
