#!/usr/bin/env bash
#
# lib.sh: what every end-to-end test (test/e2e/test_*.sh) sources: SQL on
# the local server, TAP-like checks, waits with a deadline, and the broker
# and server of the local stack (scripts/stack.sh up starts both).
#
# Checks print "ok - NAME" or "not ok - NAME: DETAIL" (further lines of a
# detail follow as "#   ..."); scripts/test.sh counts those lines.  A
# script calls finish last, which exits 1 when any check failed.
#
#   sql "QUERY"                      run QUERY on $PGDATABASE, print the result
#                                    (unaligned, tuples only; dies on error)
#   sql_db DB "QUERY"                the same on database DB
#   ok NAME / fail NAME [DETAIL]     record a passing / failing check
#   check NAME CMD...                ok when CMD exits 0, else fail with its output
#   check_eq NAME EXPECTED ACTUAL    ok when both are equal, else fail showing both
#   finish                           exit 1 if any check failed, else 0
#   wait_until SECONDS WHAT CMD...   run CMD every 0.2 s until it succeeds (0);
#                                    after SECONDS say what was awaited, return 1
#   kafka_topic_create NAME [PARTS]  create a topic, wait until metadata shows it
#   kafka_topic_delete NAME          delete a topic, wait until it is gone
#   kafka_end_offset_sum TOPIC       the sum of the partitions' high watermarks
#   kafka_produce_lines TOPIC FILE [SEP]
#                                    one message per line of FILE (kcat -P).
#                                    With SEP, the text before the first SEP
#                                    is the key, the rest the value (kcat -K);
#                                    without, the key is the line's
#                                    "trade_id":"..." string when it has one
#                                    (as trades-producer keys), else empty
#   broker_stop / broker_start       stop / start the broker (scripts/kafka.sh)
#   pg_stop_immediate / pg_start     crash-stop / start PostgreSQL (scripts/pg.sh)
#   unique_name PREFIX               PREFIX_<ms since epoch>_<pid>: a topic or
#                                    group name no other run has used
#
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib.sh"

_TK_FAILED=0

sql() {
    psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$PGDATABASE" -c "$1"
}

sql_db() {
    psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

ok() {
    printf 'ok - %s\n' "$1"
}

# fail NAME [DETAIL]: the first line of DETAIL on the "not ok" line, the
# others below it as comments, so that no line of a detail reads as a check
fail() {
    local name="$1" detail="${2:-}" first rest
    _TK_FAILED=1
    if [[ -z "$detail" ]]; then
        printf 'not ok - %s\n' "$name"
        return 0
    fi
    first="${detail%%$'\n'*}"
    printf 'not ok - %s: %s\n' "$name" "$first"
    if [[ "$detail" == *$'\n'* ]]; then
        rest="${detail#*$'\n'}"
        printf '%s\n' "$rest" | sed 's/^/#   /'
    fi
}

check() {
    local name="$1" out rc=0
    shift
    out="$("$@" 2>&1)" || rc=$?
    if (( rc == 0 )); then
        ok "$name"
    else
        fail "$name" "exit status $rc from: $*${out:+$'\n'$(tail -n 10 <<<"$out")}"
    fi
}

check_eq() {
    local name="$1" expected="$2" actual="$3"
    if [[ "$expected" == "$actual" ]]; then
        ok "$name"
    elif [[ "$expected$actual" != *$'\n'* ]]; then
        fail "$name" "expected '$expected', got '$actual'"
    else
        fail "$name" "expected and actual differ"$'\n'"expected:"$'\n'"$expected"$'\n'"actual:"$'\n'"$actual"
    fi
}

finish() {
    exit "$_TK_FAILED"
}

wait_until() {
    local timeout="$1" what="$2" out
    shift 2
    out="$(mktemp)"
    if poll "$timeout" _wait_try "$out" "$@"; then
        rm -f "$out"
        return 0
    fi
    printf '# timed out after %s s waiting for %s\n' "$timeout" "$what"
    if [[ -s "$out" ]]; then
        tail -n 5 "$out" | sed 's/^/#   last output: /'
    fi
    rm -f "$out"
    return 1
}

# _wait_try FILE CMD...: one try of wait_until, CMD's output kept in FILE
_wait_try() {
    local out="$1"
    shift
    "$@" >"$out" 2>&1
}

kafka_topic_create() {
    bash "$TK_SCRIPTS/kafka.sh" create-topic "$@"
}

kafka_topic_delete() {
    bash "$TK_SCRIPTS/kafka.sh" delete-topic "$@"
}

kafka_end_offset_sum() {
    local offsets
    offsets="$(bash "$TK_SCRIPTS/kafka.sh" end-offsets "$1")" || return 1
    awk '{ s += $2 } END { print s + 0 }' <<<"$offsets"
}

kafka_produce_lines() {
    local topic="$1" file="$2"
    if (( $# >= 3 )); then
        kcat -b "$TK_BROKERS" -P -t "$topic" -K "$3" < "$file"
        return
    fi
    # key each line by its trade_id, joined to it by a unit separator
    # (0x1f), which a JSON line does not contain unescaped.  (kcat reads a
    # file named on its command line as one message: lines come on stdin.)
    local sep=$'\x1f'
    awk -v sep="$sep" '{
            key = ""
            if (match($0, /"trade_id"[ \t]*:[ \t]*"[^"\\]*"/)) {
                key = substr($0, RSTART, RLENGTH)
                sub(/^"trade_id"[ \t]*:[ \t]*"/, "", key)
                sub(/"$/, "", key)
            }
            print key sep $0
        }' "$file" | kcat -b "$TK_BROKERS" -P -t "$topic" -K "$sep"
}

broker_stop() {
    bash "$TK_SCRIPTS/kafka.sh" stop
}

broker_start() {
    bash "$TK_SCRIPTS/kafka.sh" start
}

pg_stop_immediate() {
    bash "$TK_SCRIPTS/pg.sh" stop-immediate
}

pg_start() {
    bash "$TK_SCRIPTS/pg.sh" start
}

# unique_name PREFIX: milliseconds since the epoch and the pid of the shell
# that asks ($BASHPID: the caller's $(...) subshell), so that two names taken
# in one millisecond still differ
unique_name() {
    printf '%s_%s_%s\n' "$1" "$(date +%s%3N)" "$BASHPID"
}
