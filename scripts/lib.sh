#!/usr/bin/env bash
#
# lib.sh: what every script of the local stack shares, sourced, never run.
#
# The settings below are defaults: set any of them in the environment to
# override it.
#
#   TK_STATE_DIR              everything the stack keeps: the Kafka jars, the
#                             broker's data, the PostgreSQL cluster, the logs
#                             (default /var/tmp/trades_kafka)
#   TK_KAFKA_PORT             the broker's listener on 127.0.0.1 (19092)
#   TK_KAFKA_CONTROLLER_PORT  the KRaft controller's listener (19093)
#   TK_PG_PORT                PostgreSQL's port on 127.0.0.1 (55432)
#   TK_PG_OS_USER             the OS user that runs PostgreSQL, created when
#                             missing (postgres): PostgreSQL refuses root
#   TK_DB                     the database the extension works in (trades)
#   TK_PG_BIN                 PostgreSQL 15's programs (/usr/lib/postgresql/15/bin)
#   TK_SKIP_EXT=1             neither build nor preload nor create the
#                             extension: a plain cluster, for working on the
#                             stack while the C code does not build
#
# It exports TK_BROKERS and the libpq variables (PGHOST, PGPORT, PGUSER,
# PGDATABASE), so that kcat -b "$TK_BROKERS", psql and make installcheck
# reach this stack, and puts TK_PG_BIN first on PATH, where
# `make install-producer` puts trades-producer.
#
set -euo pipefail

TK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TK_SCRIPTS="$TK_ROOT/scripts"

: "${TK_STATE_DIR:=/var/tmp/trades_kafka}"
: "${TK_KAFKA_PORT:=19092}"
: "${TK_KAFKA_CONTROLLER_PORT:=19093}"
: "${TK_PG_PORT:=55432}"
: "${TK_PG_OS_USER:=postgres}"
: "${TK_DB:=trades}"
: "${TK_PG_BIN:=/usr/lib/postgresql/15/bin}"
: "${TK_SKIP_EXT:=}"

TK_BROKERS="127.0.0.1:$TK_KAFKA_PORT"
PGHOST=127.0.0.1
PGPORT="$TK_PG_PORT"
PGUSER=postgres
PGDATABASE="$TK_DB"
PATH="$TK_PG_BIN:$PATH"
export TK_ROOT TK_SCRIPTS TK_STATE_DIR TK_KAFKA_PORT TK_KAFKA_CONTROLLER_PORT TK_PG_PORT \
    TK_PG_OS_USER TK_DB TK_PG_BIN TK_SKIP_EXT TK_BROKERS \
    PGHOST PGPORT PGUSER PGDATABASE PATH

# the name log lines start with: the script that was run
TK_PROG="${TK_PROG:-$(basename "$0" .sh)}"

# log MESSAGE...: one progress line on stderr
log() {
    printf '%s %s: %s\n' "$(date +%H:%M:%S)" "$TK_PROG" "$*" >&2
}

# die MESSAGE...: one clear line on stderr, then exit 1
die() {
    printf '%s %s: error: %s\n' "$(date +%H:%M:%S)" "$TK_PROG" "$*" >&2
    exit 1
}

# usage: the usage lines of the running script's banner (from "#   NAME.sh"
# to the next bare "#"), on stderr, then exit 2
usage() {
    sed -n "/^#   $(basename "$0") /,/^#\$/p" "$0" | sed 's/^# \{0,3\}//' >&2
    exit 2
}

# need_root WHAT: die unless this runs as root
need_root() {
    [[ "$(id -u)" == 0 ]] || die "$1 needs root (run it with sudo or as root)"
}

# poll TIMEOUT_SECONDS CMD...: run CMD every 0.2 s until it succeeds;
# return 1 when TIMEOUT_SECONDS pass first.  CMD's output is not touched.
poll() {
    local timeout="$1"
    shift
    local deadline now
    deadline=$(( ${EPOCHREALTIME//[!0-9]/} + timeout * 1000000 ))
    while true; do
        if "$@"; then
            return 0
        fi
        now=${EPOCHREALTIME//[!0-9]/}
        (( now < deadline )) || return 1
        sleep 0.2
    done
}

# port_open PORT: whether something accepts TCP connections on 127.0.0.1:PORT
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ensure_state_dir: create $TK_STATE_DIR, searchable by the PostgreSQL user
ensure_state_dir() {
    if [[ ! -d "$TK_STATE_DIR" ]]; then
        mkdir -p "$TK_STATE_DIR"
        chmod 755 "$TK_STATE_DIR"
    fi
}

# rotate_log FILE: past 64 MiB, FILE becomes FILE.1 (replacing an older
# one), so that logs appended at every start stay bounded
rotate_log() {
    if [[ -f "$1" ]] && (( $(stat -c %s "$1") > 64 * 1024 * 1024 )); then
        mv -f "$1" "$1.1"
    fi
}

# show_log_tail FILE [LINES]: the end of a log, on stderr, to explain a failure
show_log_tail() {
    local file="$1" lines="${2:-40}"
    if [[ -r "$file" ]]; then
        printf -- '--- last %s lines of %s\n' "$lines" "$file" >&2
        tail -n "$lines" "$file" >&2
        printf -- '---\n' >&2
    else
        printf -- '--- no log at %s\n' "$file" >&2
    fi
}

# stop_pid PIDFILE WHAT [SECONDS]: SIGTERM the process of PIDFILE, wait for
# it to end (60 s unless told), then SIGKILL; remove the pid file
stop_pid() {
    local pidfile="$1" what="$2" seconds="${3:-60}" pid
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$pidfile"
        return 0
    fi
    log "stopping $what (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! poll "$seconds" pid_gone "$pid"; then
        log "$what (pid $pid) still runs after ${seconds} s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        poll 10 pid_gone "$pid" || die "$what (pid $pid) survived SIGKILL"
    fi
    rm -f "$pidfile"
}

# pid_gone PID: whether PID no longer runs
pid_gone() {
    ! kill -0 "$1" 2>/dev/null
}
