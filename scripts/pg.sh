#!/usr/bin/env bash
#
# pg.sh: a local PostgreSQL 15 cluster for development and tests, from
# Debian's binaries, run as the non-root OS user $TK_PG_OS_USER (PostgreSQL
# refuses root), listening on 127.0.0.1:$TK_PG_PORT only, with the extension
# preloaded.
#
#   pg.sh init            create the cluster once, start it, create the
#                         database $TK_DB and the extension in it
#   pg.sh start           start it (a no-op when it runs), wait until ready
#   pg.sh stop            fast shutdown
#   pg.sh restart         stop, then start
#   pg.sh stop-immediate  pg_ctl stop -m immediate: a crash, for tests
#   pg.sh status          exit 0 when it runs
#   pg.sh install-ext     build and install the extension and trades-producer
#                         from this checkout (as root)
#   pg.sh psql [ARGS]     psql on $TK_DB as postgres
#
# The cluster is $TK_STATE_DIR/pg/data, owned by $TK_PG_OS_USER; its log is
# $TK_STATE_DIR/pg/log/postgresql.log.  The settings this stack needs live in
# data/trades_kafka_stack.conf, rewritten at every start (postgresql.conf
# includes it), so ALTER SYSTEM keeps working.  With TK_SKIP_EXT=1 the
# library is not preloaded and the extension not created.  The server never
# reads a file of the checkout: `make install` copies what it needs.
#
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGDIR="$TK_STATE_DIR/pg"
DATA="$PGDIR/data"
SOCKDIR="$PGDIR/run"
LOGFILE="$PGDIR/log/postgresql.log"
STACK_CONF="trades_kafka_stack.conf"
# the library the running postmaster preloaded, as its sha256 (or
# not-preloaded)
LOADED_LIB="$PGDIR/loaded-library.sha256"
# the extension's SQL script that $TK_DB was created with, as its sha256
CREATED_EXT="$PGDIR/created-extension.sha256"
START_SECONDS="${TK_PG_START_SECONDS:-120}"

# as_pg CMD...: run CMD as $TK_PG_OS_USER, from a directory it can read
# (PostgreSQL's programs fail where they cannot resolve the current one)
as_pg() {
    if [[ "$(id -un)" == "$TK_PG_OS_USER" ]]; then
        (cd / && "$@")
    else
        need_root "running PostgreSQL as $TK_PG_OS_USER"
        (cd / && runuser -u "$TK_PG_OS_USER" -- "$@")
    fi
}

pg_ctl_() {
    as_pg "$TK_PG_BIN/pg_ctl" -D "$DATA" "$@"
}

# ensure_user: the OS user that runs the server, and the directories it owns
ensure_user() {
    [[ -x "$TK_PG_BIN/postgres" ]] || die "no PostgreSQL 15 in $TK_PG_BIN: run scripts/install-deps.sh"
    if ! id -u "$TK_PG_OS_USER" >/dev/null 2>&1; then
        need_root "creating the OS user $TK_PG_OS_USER"
        log "creating the OS user $TK_PG_OS_USER"
        useradd --system --user-group --no-create-home --home-dir "$PGDIR" \
            --shell /bin/bash "$TK_PG_OS_USER"
    fi
    [[ "$(id -u "$TK_PG_OS_USER")" != 0 ]] || die "TK_PG_OS_USER must not be root"
    if [[ ! -d "$PGDIR" || "$(stat -c %U "$PGDIR")" != "$TK_PG_OS_USER" ]]; then
        need_root "preparing $PGDIR"
        ensure_state_dir
        mkdir -p "$PGDIR"
        chown "$TK_PG_OS_USER:" "$PGDIR"
    fi
    as_pg mkdir -p "$PGDIR/log" "$SOCKDIR"
    as_pg test -w "$PGDIR" ||
        die "$TK_PG_OS_USER cannot write $PGDIR: every directory above it must be searchable by that user"
}

running() {
    [[ -f "$DATA/PG_VERSION" ]] && pg_ctl_ status >/dev/null 2>&1
}

# library_sha: the sha256 of the installed trades_kafka.so ("none" without)
library_sha() {
    local lib
    lib="$(pg_config --pkglibdir)/trades_kafka.so"
    if [[ -f "$lib" ]]; then sha256sum < "$lib" | cut -d' ' -f1; else echo none; fi
}

# write_stack_conf: the settings of this stack, included by postgresql.conf
write_stack_conf() {
    local preload="shared_preload_libraries = 'trades_kafka'"
    if [[ -n "$TK_SKIP_EXT" ]]; then
        preload="# TK_SKIP_EXT is set: trades_kafka is not preloaded"
    fi
    as_pg tee "$DATA/$STACK_CONF" >/dev/null <<EOF
# written by scripts/pg.sh at every start: edit that script, not this file
listen_addresses = '127.0.0.1'
port = $TK_PG_PORT
unix_socket_directories = '$SOCKDIR'
$preload
trades_kafka.database = '$TK_DB'
max_worker_processes = 24
log_min_messages = info
log_line_prefix = '%m [%p] %b '
fsync = on
logging_collector = off
EOF
    if ! grep -q "^include_if_exists = '$STACK_CONF'" "$DATA/postgresql.conf"; then
        printf "\n# the local stack's settings (scripts/pg.sh)\ninclude_if_exists = '%s'\n" \
            "$STACK_CONF" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
    fi
}

init() {
    ensure_user
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        log "creating the cluster in $DATA"
        as_pg "$TK_PG_BIN/initdb" -D "$DATA" --auth=trust --username=postgres \
            --encoding=UTF8 --locale=C.UTF-8 >"$PGDIR/log/initdb.log" 2>&1 || {
            show_log_tail "$PGDIR/log/initdb.log"
            die "initdb failed"
        }
    fi
    # a server still running an older build of the library: restart it, so
    # that the postmaster preloads what was just installed
    if running && [[ -z "$TK_SKIP_EXT" ]] &&
        [[ "$(cat "$LOADED_LIB" 2>/dev/null)" != "$(library_sha)" ]]; then
        log "trades_kafka.so changed since the server started: restarting it"
        stop
    fi
    start
    if [[ "$(psql -X -A -t -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$TK_DB'")" == 0 ]]; then
        log "creating the database $TK_DB"
        psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \"$TK_DB\"" ||
            die "could not create the database $TK_DB"
    fi
    [[ -n "$TK_SKIP_EXT" ]] || ensure_extension
}

# ensure_extension: the extension in $TK_DB at the installed default
# version.  An older version is updated in place (ALTER EXTENSION ... UPDATE
# keeps the rows and offsets); the same version whose SQL scripts changed
# since it was created (a development build) is created anew
ensure_extension() {
    local want have default
    want="$(cat "$(pg_config --sharedir)"/extension/trades_kafka.control \
        "$(pg_config --sharedir)"/extension/trades_kafka--*.sql 2>/dev/null | sha256sum | cut -d' ' -f1)"
    have="$(psql -X -A -t -d "$TK_DB" -c "SELECT coalesce(max(extversion), 'none') FROM pg_extension WHERE extname = 'trades_kafka'")"
    default="$(psql -X -A -t -d "$TK_DB" -c "SELECT default_version FROM pg_available_extensions WHERE name = 'trades_kafka'")"
    if [[ "$have" != none && "$have" != "$default" ]]; then
        log "updating the extension trades_kafka in $TK_DB from $have to $default"
        psql -X -q -v ON_ERROR_STOP=1 -d "$TK_DB" -c "ALTER EXTENSION trades_kafka UPDATE" ||
            die "could not update the extension in $TK_DB from $have to $default"
        echo "$want" > "$CREATED_EXT"
        return 0
    fi
    if [[ "$have" != none && "$(cat "$CREATED_EXT" 2>/dev/null)" == "$want" ]]; then
        return 0
    fi
    if [[ "$have" != none ]]; then
        log "the extension's SQL script changed: dropping and creating trades_kafka in $TK_DB anew"
        psql -X -q -v ON_ERROR_STOP=1 -d "$TK_DB" -c "DROP EXTENSION trades_kafka CASCADE" ||
            die "could not drop the extension in $TK_DB"
    else
        log "creating the extension trades_kafka in $TK_DB"
    fi
    psql -X -q -v ON_ERROR_STOP=1 -d "$TK_DB" -c "CREATE EXTENSION trades_kafka" ||
        die "could not create the extension in $TK_DB"
    echo "$want" > "$CREATED_EXT"
}

start() {
    ensure_user
    [[ -f "$DATA/PG_VERSION" ]] || die "no cluster in $DATA: run scripts/pg.sh init"
    if running; then
        return 0
    fi
    port_open "$TK_PG_PORT" &&
        die "port $TK_PG_PORT on 127.0.0.1 is taken by another process: stop it or set TK_PG_PORT"
    write_stack_conf
    if [[ -z "$TK_SKIP_EXT" && "$(library_sha)" == none ]]; then
        die "trades_kafka.so is not installed: run scripts/pg.sh install-ext (or set TK_SKIP_EXT=1)"
    fi
    log "starting PostgreSQL on 127.0.0.1:$TK_PG_PORT (log: $LOGFILE)"
    rotate_log "$LOGFILE"
    if [[ -n "$TK_SKIP_EXT" ]]; then echo not-preloaded; else library_sha; fi > "$LOADED_LIB"
    if ! pg_ctl_ -l "$LOGFILE" -w -t "$START_SECONDS" start >/dev/null; then
        show_log_tail "$LOGFILE"
        die "PostgreSQL did not start"
    fi
    log "PostgreSQL answers on 127.0.0.1:$TK_PG_PORT"
}

stop() {
    if ! running; then
        log "PostgreSQL is not running"
        return 0
    fi
    log "stopping PostgreSQL"
    pg_ctl_ -m fast -w -t 60 stop >/dev/null || {
        show_log_tail "$LOGFILE"
        die "PostgreSQL did not stop within 60 s"
    }
}

stop_immediate() {
    if ! running; then
        log "PostgreSQL is not running"
        return 0
    fi
    log "stopping PostgreSQL immediately (no shutdown checkpoint)"
    pg_ctl_ -m immediate -w -t 60 stop >/dev/null || die "PostgreSQL did not stop"
}

status() {
    if running; then
        echo "postgresql: running on 127.0.0.1:$TK_PG_PORT (data $DATA, log $LOGFILE)"
        return 0
    fi
    echo "postgresql: not running (data $DATA, log $LOGFILE)"
    return 3
}

install_ext() {
    need_root "installing the extension"
    log "building and installing the extension and trades-producer from $TK_ROOT"
    if ! bash "$TK_SCRIPTS/build.sh" install; then
        die "could not build and install the extension from $TK_ROOT"
    fi
}

cmd="${1:-}"
shift || true
case "$cmd" in
    init) init ;;
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    stop-immediate) stop_immediate ;;
    status) status ;;
    install-ext) install_ext ;;
    psql) exec psql "$@" ;;
    *) usage ;;
esac
