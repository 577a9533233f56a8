#!/usr/bin/env bash
#
# stack.sh: the whole local stack in one command, on a fresh Debian 12 as
# root: the packages, a real Kafka broker, this checkout's extension and
# trades-producer installed, a PostgreSQL 15 cluster that preloads it.
#
#   stack.sh up       install what is missing, start what is stopped
#                     (idempotent: a second run reuses everything)
#   stack.sh down     stop the broker and PostgreSQL
#   stack.sh status   say what runs and where the logs are
#
# TK_SKIP_EXT=1 skips building and preloading the extension: a broker and a
# plain cluster, for when the C code does not build.  See scripts/lib.sh for
# the other settings (state directory, ports, database).
#
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

up() {
    local t0=$SECONDS
    bash "$TK_SCRIPTS/install-deps.sh"
    bash "$TK_SCRIPTS/kafka.sh" fetch
    bash "$TK_SCRIPTS/kafka.sh" start
    if [[ -z "$TK_SKIP_EXT" ]]; then
        bash "$TK_SCRIPTS/pg.sh" install-ext
    else
        log "TK_SKIP_EXT is set: the extension is neither built nor preloaded"
    fi
    bash "$TK_SCRIPTS/pg.sh" init
    log "the stack is up in $(( SECONDS - t0 )) s"
    status
}

down() {
    local rc=0
    bash "$TK_SCRIPTS/pg.sh" stop || rc=1
    bash "$TK_SCRIPTS/kafka.sh" stop || rc=1
    return "$rc"
}

status() {
    local rc=0
    bash "$TK_SCRIPTS/kafka.sh" status || rc=1
    bash "$TK_SCRIPTS/pg.sh" status || rc=1
    cat <<EOF
brokers:  $TK_BROKERS
psql:     psql -h 127.0.0.1 -p $TK_PG_PORT -U postgres $TK_DB
logs:     $TK_STATE_DIR/kafka/log/kafka.log
          $TK_STATE_DIR/pg/log/postgresql.log
EOF
    return "$rc"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) usage ;;
esac
