#!/usr/bin/env bash
#
# run.sh: how fast trades_kafka lands a topic, side by side with COPY of the
# same rows, on the local stack (scripts/stack.sh).
#
#   run.sh [--smoke]
#
# Phases, in order (BENCH_PHASES picks some; "fill worker" at least):
#   fill      generate BENCH_N trades with trades-producer (a fresh trade id
#             prefix per run, so earlier runs' versions cannot make them
#             stale) and send them to a new BENCH_PARTITIONS-partition topic
#   worker    trades_kafka.start() with one worker; timed from start() to the
#             last offset committed (offsets and rows commit together), and
#             from the first commit to the last; checks every message became
#             exactly one row and nothing was rejected
#   copy      the rows the worker stored, COPY'd into an identical empty
#             table (LIKE trades_kafka.trades INCLUDING ALL): the reference
#   insert    one autocommit INSERT ... ON CONFLICT per message on a slice of
#             BENCH_SLICE rows (synchronous_commit on, then off), extrapolated
#   variants  the worker's SQL and cheaper variants replayed on the same
#             rows in 5,000-row transactions (bench/variants.sql), and COPY
#             in 5,000-row transactions: what a change of store.c would gain
#   sweep     trades_kafka.batch_size over BENCH_SWEEP, BENCH_SWEEP_N
#             messages each (ALTER SYSTEM, reset at the end), and one run
#             with larger fetch settings passed through start()'s options
#   latency   produce -> visible latency at each of BENCH_RATES msgs/s for
#             BENCH_LAT_SECONDS, from each message's Kafka CreateTime
#   rss       a worker's memory (/proc/PID/status) every second while it
#             stores BENCH_RSS_N messages
#   profile   perf samples one worker storing BENCH_PROFILE_N messages
#   scale     1, 2, 4 workers (BENCH_SCALE) on a 4-partition topic of
#             BENCH_SCALE_N messages, with the CPU share of each process group
#   report    bench/RESULTS.md and bench/plot.png (gnuplot)
#
# --smoke: small sizes, no timing claims, results in a scratch directory;
# prints "ok - ..." / "not ok - ..." for what it checked and exits 1 if any
# check failed.  BENCH_N=20000 bash bench/run.sh --smoke runs in well under a
# minute.
#
# Settings (environment):
#   BENCH_N (1000000)        messages of the main run
#   BENCH_TRADES (N/10)      distinct trade ids (about 10 versions each)
#   BENCH_PARTITIONS (4)     partitions of the main topic
#   BENCH_SLICE (20000)      messages of the per-message INSERT client
#   BENCH_SWEEP ("500 2000 5000 20000"), BENCH_SWEEP_N (200000)
#   BENCH_RATES ("1000 10000"), BENCH_LAT_SECONDS (10)
#   BENCH_RSS_N (10000000), BENCH_SCALE ("1 2 4"), BENCH_SCALE_N (1000000)
#   BENCH_PROFILE_N (300000) messages stored under perf
#   BENCH_SEED (1)           the producer's seed
#   BENCH_OPTIONS ({})       start()'s options (librdkafka properties, JSON)
#                            for the main run, to compare settings
#   BENCH_OUT                where RESULTS.md, plot.png and data go (bench/,
#                            or a scratch directory with --smoke)
#   BENCH_KEEP=1             keep the topics, rows and work files
#   BENCH_NOTE               a paragraph for the top of RESULTS.md (where the
#                            run was made and why, say)
#
# Everything it creates is named after the run (topics bench_<run>_*, trade
# ids <run>x-T*, groups, and a database tk_bench_<run> of its own with the
# extension, where the workers store and COPY loads: both start from empty
# tables, whatever the stack's database holds) and removed at the end; it
# never restarts a server and touches no row of another database.
#
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# the settings given, for the report's exact command (before lib.sh sets
# its defaults)
BENCH_GIVEN="$(env | grep -E '^(BENCH_[A-Z_]*|TK_PG_PORT)=' | grep -v '^BENCH_NOTE=' | sort |
    while IFS='=' read -r k v; do printf '%s=%q ' "$k" "$v"; done || true)"

# shellcheck disable=SC2034  # lib.sh names its log lines after it
TK_PROG=bench
# shellcheck source=scripts/lib.sh
source "$BENCH_DIR/../scripts/lib.sh"

SMOKE=
case "${1:-}" in
    --smoke) SMOKE=1 ;;
    "") ;;
    *) usage ;;
esac

if [[ -n "$SMOKE" ]]; then
    : "${BENCH_N:=20000}" "${BENCH_SLICE:=2000}" "${BENCH_SWEEP:=500 5000}"
    : "${BENCH_SWEEP_N:=10000}" "${BENCH_RATES:=1000}" "${BENCH_LAT_SECONDS:=2}"
    : "${BENCH_RSS_N:=20000}" "${BENCH_SCALE:=2}" "${BENCH_SCALE_N:=10000}"
    : "${BENCH_PHASES:=fill worker copy insert variants sweep latency rss scale report}"
fi
: "${BENCH_N:=1000000}"
: "${BENCH_TRADES:=$(( BENCH_N / 10 > 0 ? BENCH_N / 10 : 1 ))}"
: "${BENCH_PARTITIONS:=4}"
: "${BENCH_SLICE:=20000}"
: "${BENCH_SWEEP:=500 2000 5000 20000}"
: "${BENCH_SWEEP_N:=200000}"
: "${BENCH_RATES:=1000 10000}"
: "${BENCH_LAT_SECONDS:=10}"
: "${BENCH_RSS_N:=10000000}"
: "${BENCH_SCALE:=1 2 4}"
: "${BENCH_SCALE_N:=1000000}"
: "${BENCH_SEED:=1}"
: "${BENCH_PROFILE_N:=300000}"
: "${BENCH_KEEP:=}"
: "${BENCH_PHASES:=fill worker copy insert variants sweep latency rss profile scale report}"
(( BENCH_SLICE <= BENCH_N )) || BENCH_SLICE=$BENCH_N

RUN="b$(printf '%x' "$EPOCHSECONDS")$$"
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/tk_bench.XXXXXX")"
chmod 755 "$WORK"
if [[ -n "$SMOKE" ]]; then : "${BENCH_OUT:=$WORK/out}"; else : "${BENCH_OUT:=$BENCH_DIR}"; fi
DATA="$WORK/data"
mkdir -p "$BENCH_OUT" "$DATA"
RES="$WORK/results.tsv"
: > "$RES"
SCHEMA="tk_bench_$RUN"
BENCH_DB="tk_bench_$RUN"
DB_CREATED=
T_BEGIN=$EPOCHREALTIME
FAILED=0
TOPICS=()
DROPPING=()
GROUPS_STARTED=()
BATCH_SIZE_SOURCE=
BATCH_SIZE_BEFORE=

# ---------------------------------------------------------------- helpers

# q SQL...: run SQL, unaligned tuples only.  When the connection is lost
# (psql exits 2: a crash restart of the shared server by another suite's
# chaos test), wait for the server and try again, twice at most.  Not for
# SQL fed on stdin: that is qin.
q() {
    local attempt rc
    for attempt in 1 2 3; do
        rc=0
        psql -AtqX -v ON_ERROR_STOP=1 "$@" </dev/null || rc=$?
        if [[ "$rc" != 2 || "$attempt" == 3 ]]; then
            return "$rc"
        fi
        log "lost the server; waiting for it to accept connections again"
        sleep 2
        poll 120 psql -AtqX -c "SELECT 1" >/dev/null 2>&1 || true
    done
}

# qin [PSQL OPTION...]: run the SQL on stdin, once
qin() {
    psql -AtqX -v ON_ERROR_STOP=1 "$@"
}

# res KEY VALUE: one figure for the report
res() {
    printf '%s\t%s\n' "$1" "$2" >> "$RES"
}

# check OK_IF DESCRIPTION: a TAP-like line; OK_IF is a shell test's status
check() {
    if [[ "$1" == 0 ]]; then
        echo "ok - $2"
    else
        echo "not ok - $2"
        FAILED=$(( FAILED + 1 ))
    fi
}

# elapsed FROM TO: seconds between two EPOCHREALTIME values
elapsed() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}

# rate COUNT SECONDS: COUNT / SECONDS, rounded
rate() {
    awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'
}

have_phase() {
    [[ " $BENCH_PHASES " == *" $1 "* ]]
}

# gen COUNT PREFIX FILE: COUNT generated trades, ids prefixed with PREFIX
# (FILE - writes to stdout)
gen() {
    local count="$1" prefix="$2" file="$3" trades
    trades=$(( count / 10 > 0 ? count / 10 : 1 ))
    (( count == BENCH_N )) && trades=$BENCH_TRADES
    if [[ "$file" == - ]]; then
        trades-producer --print --count "$count" --trades "$trades" --seed "$BENCH_SEED" \
            --today "$TODAY" | sed "s/^{\"trade_id\":\"T/{\"trade_id\":\"${prefix}T/"
    else
        trades-producer --print --count "$count" --trades "$trades" --seed "$BENCH_SEED" \
            --today "$TODAY" | sed "s/^{\"trade_id\":\"T/{\"trade_id\":\"${prefix}T/" > "$file"
    fi
}

# distinct_keys FILE: how many distinct (trade_id, version) the file holds,
# that is how many rows storing it must leave
distinct_keys() {
    awk -F'"' '{ k[$4 "|" $7] = 1 } END { print length(k) }' "$1"
}

# create_topics NAME:PARTITIONS...: create the run's topics up front, a few
# at a time (each kafka.sh call starts a JVM: seconds of CPU, off the clock)
create_topics() {
    local spec pids=() pid
    for spec in "$@"; do
        bash "$TK_SCRIPTS/kafka.sh" create-topic "${spec%%:*}" "${spec##*:}" >/dev/null 2>&1 &
        pids+=($!)
        TOPICS+=("${spec%%:*}")
        if (( ${#pids[@]} >= 3 )); then
            wait "${pids[0]}" || die "could not create topic ${spec%%:*}"
            pids=("${pids[@]:1}")
        fi
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || die "could not create a topic"
    done
}

# new_topic NAME PARTITIONS: the topic, created up front or now
new_topic() {
    local t
    for t in "${TOPICS[@]}"; do
        [[ "$t" == "$1" ]] && return 0
    done
    create_topics "$1:$2"
}

# fill TOPIC FILE|- [PRODUCER OPTION...]: send the lines of FILE
fill() {
    local topic="$1" file="$2"
    shift 2
    trades-producer -b "$TK_BROKERS" -t "$topic" --from "$file" --quiet "$@" ||
        die "the producer could not fill $topic"
}

# start_job TOPIC GROUP WORKERS [OPTIONS_JSON]
start_job() {
    GROUPS_STARTED+=("$1|$2")
    q -c "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$1',
          group_id => '$2', workers => $3, options => '${4:-{\}}')" >/dev/null
}

stop_job() {
    q -c "SELECT trades_kafka.stop('$1', '$2')" >/dev/null || true
}

# worker_pids GROUP: the pids of the group's workers, comma separated
worker_pids() {
    q -c "SELECT string_agg(pid::text, ',' ORDER BY pid) FROM trades_kafka.status()
          WHERE group_id = '$1'"
}

# wait_workers GROUP N: until N workers of GROUP show in status()
wait_workers() {
    for _ in $(seq 300); do
        if [[ "$(q -c "SELECT count(*) FROM trades_kafka.status() WHERE group_id = '$1'")" -ge "$2" ]]; then
            return 0
        fi
        sleep 0.1
    done
    die "the workers of group $1 did not start"
}

# wait_consuming GROUP: until the group's workers hold every partition
wait_consuming() {
    for _ in $(seq 600); do
        if [[ "$(q -c "SELECT coalesce(sum(cardinality(partitions)), 0) FROM trades_kafka.status()
                      WHERE group_id = '$1' AND state = 'consuming'")" -ge "$2" ]]; then
            return 0
        fi
        sleep 0.1
    done
    die "the workers of group $1 were not assigned their partitions"
}

broker_pid() {
    cat "$TK_STATE_DIR/kafka/kafka.pid" 2>/dev/null || true
}

postgres_pids() {
    pgrep -u "$TK_PG_OS_USER" -d, postgres || true
}

# ingest TAG TOPIC GROUP WORKERS COUNT [OPTIONS_JSON]: start a job, wait
# until COUNT offsets are committed, record TAG_* figures, stop it.  Sets
# CONSUMED, STORED, REJECTED, BATCHES (from status()) and COMMITTED.  With
# RSS_OUT set, poll.py samples the first worker's memory into that file every
# second; with PERF_OUT set, perf samples the first worker until the last
# offset is committed.
ingest() {
    local tag="$1" topic="$2" group="$3" workers="$4" count="$5" options="${6:-}"
    local t0 t_first t_last status pids perf_pid='' extra=()
    [[ -n "$options" ]] || options='{}'
    q -c "CHECKPOINT"
    t0=$EPOCHREALTIME
    start_job "$topic" "$group" "$workers" "$options"
    wait_workers "$group" "$workers"
    pids="$(worker_pids "$group")"
    if [[ "$tag" == main ]]; then
        # which build ran: a library reinstalled since the server started
        # shows as deleted, and is not what the tree holds now
        res library "$(awk '/trades_kafka\.so/ { $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print; exit }' \
            "/proc/${pids%%,*}/maps" 2>/dev/null || echo unknown)"
        res library_sha "$(sha256sum "/proc/${pids%%,*}/map_files/$(awk '/trades_kafka\.so/ { print $1; exit }' \
            "/proc/${pids%%,*}/maps")" 2>/dev/null | cut -c1-12 || echo unknown)"
    fi
    extra=(--cpu-out "$WORK/$tag.cpu" --cpu-group "workers=$pids"
        --cpu-group "postgres=$(postgres_pids)" --cpu-group "broker=$(broker_pid)")
    if [[ -n "${RSS_OUT:-}" ]]; then
        extra+=(--rss-pid auto --rss-out "$RSS_OUT" --rss-interval 1)
    fi
    if [[ -n "${PERF_OUT:-}" ]]; then
        perf record -F 999 -e cpu-clock -g -p "${pids%%,*}" -o "$PERF_OUT" >/dev/null 2>&1 &
        perf_pid=$!
        # a library reinstalled since the server started shows as deleted:
        # give perf its bytes by build id so that symbols still resolve
        if cp "/proc/${pids%%,*}/map_files/$(awk '/trades_kafka\.so/ { print $1; exit }' \
            "/proc/${pids%%,*}/maps")" "$WORK/trades_kafka.so" 2>/dev/null; then
            perf buildid-cache -a "$WORK/trades_kafka.so" 2>/dev/null || true
        fi
    fi
    python3 "$BENCH_DIR/poll.py" --group "$group" --until "$count" --interval 0.05 \
        --timeout 3600 "${extra[@]}" > "$WORK/$tag.polls" ||
        die "$tag: the group did not commit $count offsets in time"
    if [[ -n "$perf_pid" ]]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    t_first="$(awk '$2 > 0 { print $1; exit }' "$WORK/$tag.polls")"
    t_last="$(tail -n 1 "$WORK/$tag.polls" | cut -d' ' -f1)"
    status="$(q -F ' ' -c "SELECT sum(consumed), sum(stored), sum(rejected), sum(batches)
                           FROM trades_kafka.status() WHERE group_id = '$group'")"
    stop_job "$topic" "$group"
    read -r CONSUMED STORED REJECTED BATCHES <<< "$status"
    # status() counts since each worker started; the offsets are the truth
    # even if a server restart under the run started the workers again
    COMMITTED="$(q -c "SELECT coalesce(sum(next_offset), 0) FROM trades_kafka.offsets
                       WHERE group_id = '$group'")"
    res "${tag}_count" "$count"
    res "${tag}_start_to_last_s" "$(elapsed "$t0" "$t_last")"
    res "${tag}_first_to_last_s" "$(elapsed "$t_first" "$t_last")"
    res "${tag}_batches" "$BATCHES"
    res "${tag}_consumed" "$CONSUMED"
    res "${tag}_stored" "$STORED"
    res "${tag}_rejected" "$REJECTED"
    res "${tag}_workers" "$workers"
    while read -r k v; do res "${tag}_cpu_$k" "$v"; done < "$WORK/$tag.cpu"
    log "$tag: $count messages in $(elapsed "$t0" "$t_last") s from start()," \
        "$(rate "$count" "$(elapsed "$t_first" "$t_last")") msgs/s first to last commit ($BATCHES batches)"
}

# forget TOPIC GROUP: what a phase left behind: rows, offsets, the job, the
# topic (not with BENCH_KEEP)
forget() {
    [[ -n "$BENCH_KEEP" ]] && return 0
    q -c "DELETE FROM trades_kafka.trades WHERE kafka_topic = '$1'" \
      -c "DELETE FROM trades_kafka.rejects WHERE kafka_topic = '$1'" \
      -c "DELETE FROM trades_kafka.offsets WHERE group_id = '$2'" \
      -c "DELETE FROM trades_kafka.jobs WHERE group_id = '$2' AND NOT enabled" >/dev/null
    # the next phase should not find this one's dead rows in its way
    [[ -n "$SMOKE" ]] || q -c "VACUUM trades_kafka.trades" >/dev/null 2>&1 || true
    drop_topic "$1"
}

# ingest_generated TAG COUNT ID_PREFIX PARTITIONS WORKERS [OPTIONS_JSON]:
# COUNT generated trades (ids prefixed with ID_PREFIX) on a new topic
# bench_<run>_TAG of PARTITIONS, stored by WORKERS workers (ingest, in a group
# named after the topic).  Sets TOPIC, ROWS (the trade rows stored) and WANT
# (the distinct (trade_id, version) sent, which is what ROWS must be)
ingest_generated() {
    local tag="$1" count="$2" prefix="$3" parts="$4" workers="$5" options="${6:-}"
    TOPIC="bench_${RUN}_$tag"
    gen "$count" "$prefix" "$WORK/$tag.jsonl"
    new_topic "$TOPIC" "$parts"
    fill "$TOPIC" "$WORK/$tag.jsonl"
    ingest "$tag" "$TOPIC" "$TOPIC" "$workers" "$count" "$options"
    ROWS="$(q -c "SELECT count(*) FROM trades_kafka.trades WHERE kafka_topic = '$TOPIC'")"
    WANT="$(distinct_keys "$WORK/$tag.jsonl")"
    rm -f "$WORK/$tag.jsonl"
}

# drop_topic TOPIC: delete a topic this run created, once, in the
# background (cleanup waits for it)
drop_topic() {
    local t kept=()
    for t in "${TOPICS[@]}"; do
        if [[ "$t" == "$1" ]]; then
            bash "$TK_SCRIPTS/kafka.sh" delete-topic "$1" >/dev/null 2>&1 &
            DROPPING+=($!)
        else
            kept+=("$t")
        fi
    done
    TOPICS=("${kept[@]}")
}

restore_batch_size() {
    [[ -z "$BATCH_SIZE_SOURCE" ]] && return 0
    if [[ "$BATCH_SIZE_SOURCE" == default ]]; then
        q -c "ALTER SYSTEM RESET trades_kafka.batch_size" >/dev/null
    else
        q -c "ALTER SYSTEM SET trades_kafka.batch_size = $BATCH_SIZE_BEFORE" >/dev/null
    fi
    q -c "SELECT pg_reload_conf()" >/dev/null
    BATCH_SIZE_SOURCE=
}

cleanup() {
    local status=$? g
    set +e
    # a crash restart of the shared server (another suite's chaos test)
    # may be under way: give it a minute to accept connections again
    poll 60 q -c "SELECT 1" >/dev/null 2>&1
    for g in "${GROUPS_STARTED[@]}"; do
        stop_job "${g%%|*}" "${g#*|}"
    done
    restore_batch_size
    if [[ -z "$BENCH_KEEP" ]]; then
        for g in "${GROUPS_STARTED[@]}"; do
            forget "${g%%|*}" "${g#*|}" 2>/dev/null
        done
        for g in "${TOPICS[@]}"; do
            drop_topic "$g"
        done
        for g in "${DROPPING[@]}"; do
            wait "$g"
        done
        [[ -n "$DB_CREATED" ]] &&
            q -d postgres -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1
        rm -rf "$WORK"
    else
        log "kept: topics ${TOPICS[*]}, database $BENCH_DB, files in $WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- set-up

# a broker and a server that answer are enough (TK_PG_PORT may name another
# server with trades_kafka, e.g. one built from a patch); else the stack
if ! { bash "$TK_SCRIPTS/kafka.sh" status && psql -AtqX -c "SELECT 1"; } >/dev/null 2>&1; then
    bash "$TK_SCRIPTS/stack.sh" up
fi
command -v trades-producer >/dev/null || die "trades-producer is not installed (make install-producer)"
# a database of the run's own: the worker's table starts as empty as COPY's
q -d postgres -c "CREATE DATABASE $BENCH_DB" >/dev/null
DB_CREATED=1
PGDATABASE="$BENCH_DB"
q -c "CREATE EXTENSION trades_kafka" -c "CREATE SCHEMA $SCHEMA" >/dev/null
TODAY="$(q -c "SELECT current_date")"
log "run $RUN: N=$BENCH_N, $BENCH_PARTITIONS partitions, phases: $BENCH_PHASES (work in $WORK)"

res run "$RUN"
res command "${BENCH_GIVEN}bash bench/run.sh${SMOKE:+ --smoke}"
res date "$(date -u '+%Y-%m-%d %H:%M UTC')"
res nproc "$(nproc)"
res cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
res memory_mb "$(awk '/^MemTotal/ { printf "%.0f", $2 / 1024 }' /proc/meminfo)"
res kernel "$(uname -r)"
res postgres "$(q -c "SHOW server_version")"
res server "port $PGPORT, data directory $(q -c "SHOW data_directory")"
res shared_buffers "$(q -c "SHOW shared_buffers")"
res fsync "$(q -c "SHOW fsync")"
kafka_jar="$(find "$TK_STATE_DIR/kafka/libs" -name 'kafka_2.13-*.jar' ! -name '*test*' ! -name '*sources*' 2>/dev/null | head -n 1)"
res kafka "$(basename "${kafka_jar:-unknown}" .jar)"
res librdkafka "$(pkg-config --modversion rdkafka 2>/dev/null || echo unknown)"
res jsonc "$(pkg-config --modversion json-c 2>/dev/null || echo unknown)"
res commit "$(git -C "$BENCH_DIR/.." rev-parse --short HEAD 2>/dev/null || echo unknown)"
res loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
PG_STARTED="$(q -c "SELECT pg_postmaster_start_time()")"
res table_rows_before "$(q -c "SELECT count(*) FROM trades_kafka.trades")"
res batch_size "$(q -c "SHOW trades_kafka.batch_size")"
res batch_timeout "$(q -c "SHOW trades_kafka.batch_timeout")"
res partitions "$BENCH_PARTITIONS"
res trades "$BENCH_TRADES"

planned=()
have_phase fill && planned+=("bench_${RUN}_main:$BENCH_PARTITIONS")
if have_phase sweep; then
    for bs in $BENCH_SWEEP; do planned+=("bench_${RUN}_sweep_$bs:$BENCH_PARTITIONS"); done
    planned+=("bench_${RUN}_sweep_fetch:$BENCH_PARTITIONS")
fi
if have_phase latency; then
    for r in $BENCH_RATES; do planned+=("bench_${RUN}_lat_$r:$BENCH_PARTITIONS"); done
fi
have_phase rss && planned+=("bench_${RUN}_rss:$BENCH_PARTITIONS")
have_phase profile && planned+=("bench_${RUN}_profile:$BENCH_PARTITIONS")
if have_phase scale; then
    for w in $BENCH_SCALE; do planned+=("bench_${RUN}_scale_$w:4"); done
fi
t0=$EPOCHREALTIME
create_topics "${planned[@]}"
log "created ${#planned[@]} topics in $(elapsed "$t0" "$EPOCHREALTIME") s"

# ---------------------------------------------------------------- fill

MAIN_TOPIC="bench_${RUN}_main"
MAIN_GROUP="bench_${RUN}_main"
if have_phase fill; then
    gen "$BENCH_N" "${RUN}x-" "$WORK/main.jsonl"
    EXPECTED_ROWS="$(distinct_keys "$WORK/main.jsonl")"
    res expected_rows "$EXPECTED_ROWS"
    res message_bytes "$(( $(stat -c %s "$WORK/main.jsonl") / BENCH_N - 1 ))"
    new_topic "$MAIN_TOPIC" "$BENCH_PARTITIONS"
    t0=$EPOCHREALTIME
    fill "$MAIN_TOPIC" "$WORK/main.jsonl"
    t1=$EPOCHREALTIME
    res fill_s "$(elapsed "$t0" "$t1")"
    log "fill: $BENCH_N messages ($EXPECTED_ROWS distinct trade versions) in $(elapsed "$t0" "$t1") s"
    end_sum="$(bash "$TK_SCRIPTS/kafka.sh" end-offsets "$MAIN_TOPIC" 2>/dev/null | awk '{ s += $2 } END { print s + 0 }')"
    s=0
    [[ "$end_sum" == "$BENCH_N" ]] || s=1
    check "$s" "fill: the topic holds $BENCH_N messages ($end_sum)"
fi

# ---------------------------------------------------------------- worker

if have_phase worker; then
    ingest main "$MAIN_TOPIC" "$MAIN_GROUP" 1 "$BENCH_N" "${BENCH_OPTIONS:-}"
    rows="$(q -c "SELECT count(*) FROM trades_kafka.trades WHERE kafka_topic = '$MAIN_TOPIC'")"
    rejects="$(q -c "SELECT count(*) FROM trades_kafka.rejects WHERE kafka_topic = '$MAIN_TOPIC'")"
    offsets="$(q -c "SELECT sum(next_offset) FROM trades_kafka.offsets WHERE group_id = '$MAIN_GROUP'")"
    s=0
    [[ "$offsets" == "$BENCH_N" ]] || s=1
    check "$s" "worker: committed offsets up to $offsets of $BENCH_N messages"
    s=0
    [[ "$rows" == "$EXPECTED_ROWS" ]] || s=1
    check "$s" "worker: $rows trade rows, one per distinct (trade_id, version) of the input ($EXPECTED_ROWS)"
    s=0
    [[ "$rejects" == 0 ]] || s=1
    check "$s" "worker: no message rejected ($rejects)"
    dup="$(q -c "SELECT count(*) FROM (SELECT kafka_partition, kafka_offset FROM trades_kafka.trades
                 WHERE kafka_topic = '$MAIN_TOPIC' GROUP BY 1, 2 HAVING count(*) > 1) d")"
    s=0
    [[ "$dup" == 0 ]] || s=1
    check "$s" "worker: no (partition, offset) stored twice"
    res main_rows "$rows"
    res main_txstart_span_s "$(q -c "SELECT extract(epoch FROM max(ingested_at) - min(ingested_at))::numeric(12,3)
                                     FROM trades_kafka.trades WHERE kafka_topic = '$MAIN_TOPIC'")"
fi

# ---------------------------------------------------------------- copy

COLS="trade_id, version, counter_party_id, book_id, maturity_date, created_date, expired, kafka_topic, kafka_partition, kafka_offset"
if have_phase copy || have_phase insert || have_phase variants; then
    q -c "COPY (SELECT $COLS FROM trades_kafka.trades WHERE kafka_topic = '$MAIN_TOPIC'
                ORDER BY kafka_partition, kafka_offset) TO STDOUT" > "$WORK/rows.tsv"
    q -c "CREATE TABLE $SCHEMA.copy (LIKE trades_kafka.trades INCLUDING ALL)"
fi
if have_phase copy; then
    nrows="$(wc -l < "$WORK/rows.tsv")"
    q -c "CHECKPOINT"
    t0=$EPOCHREALTIME
    qin -c "COPY $SCHEMA.copy ($COLS) FROM STDIN" < "$WORK/rows.tsv"
    t1=$EPOCHREALTIME
    copied="$(q -c "SELECT count(*) FROM $SCHEMA.copy")"
    s=0
    [[ "$copied" == "$nrows" && "$nrows" -gt 0 ]] || s=1
    check "$s" "copy: COPY loaded the $nrows rows the worker stored ($copied)"
    res copy_rows "$nrows"
    res copy_s "$(elapsed "$t0" "$t1")"
    log "copy: $nrows rows in $(elapsed "$t0" "$t1") s"
fi

# ---------------------------------------------------------------- insert

if have_phase insert; then
    head -n "$BENCH_SLICE" "$WORK/rows.tsv" | python3 "$BENCH_DIR/inserts.py" "$SCHEMA.copy" > "$WORK/slice.sql"
    for sc in on off; do
        q -c "TRUNCATE $SCHEMA.copy"
        q -c "CHECKPOINT"
        t0=$EPOCHREALTIME
        PGOPTIONS="-c synchronous_commit=$sc" psql -qX -v ON_ERROR_STOP=1 -f "$WORK/slice.sql" >/dev/null
        t1=$EPOCHREALTIME
        inserted="$(q -c "SELECT count(*) FROM $SCHEMA.copy")"
        s=0
        [[ "$inserted" == "$BENCH_SLICE" ]] || s=1
        check "$s" "insert: the per-message client (synchronous_commit=$sc) stored its $BENCH_SLICE rows ($inserted)"
        res "insert_${sc}_rows" "$BENCH_SLICE"
        res "insert_${sc}_s" "$(elapsed "$t0" "$t1")"
        log "insert: $BENCH_SLICE autocommit INSERTs (synchronous_commit=$sc) in $(elapsed "$t0" "$t1") s"
    done
fi

# ---------------------------------------------------------------- variants

if have_phase variants; then
    sed "s/tk_bench\./$SCHEMA./g" "$BENCH_DIR/variants.sql" | qin >/dev/null
    awk -F'\t' -v OFS='\t' '{ print $1, $2, $3, $4, $5, $6, $8, $9, $10, NR }' "$WORK/rows.tsv" |
        qin -c "COPY $SCHEMA.stage (trade_id, version, counter_party_id, book_id, maturity_date,
              created_date, kafka_topic, kafka_partition, kafka_offset, seq) FROM STDIN"
    q -c "VACUUM ANALYZE $SCHEMA.stage"
    nrows="$(wc -l < "$WORK/rows.tsv")"
    # COPY in 5,000-row transactions, as a COPY-based store path would run
    awk -v tbl="$SCHEMA.v_text" -v cols="$COLS" '
        (NR - 1) % 5000 == 0 { if (NR > 1) print "\\."; print "COPY " tbl " (" cols ") FROM STDIN;" }
        { print } END { if (NR > 0) print "\\." }' "$WORK/rows.tsv" > "$WORK/copy5000.sql"
    # two passes, the second in the reverse order, keeping the faster of
    # the two: the machine is shared, a slow moment should not decide
    order="copy copy5000 current lateral cached plain lateral_plain"
    passes=2
    [[ -n "$SMOKE" ]] && passes=1
    for pass in $(seq "$passes"); do
    for tbl in v_text v_c; do
        for variant in $order; do
            [[ "$tbl" == v_c && "$variant" != copy && "$variant" != current && "$variant" != plain ]] && continue
            q -c "TRUNCATE $SCHEMA.$tbl"
            q -c "CHECKPOINT"
            t0=$EPOCHREALTIME
            case "$variant" in
                copy) qin -c "COPY $SCHEMA.$tbl ($COLS) FROM STDIN" < "$WORK/rows.tsv" ;;
                copy5000) sed "s/$SCHEMA\.v_text/$SCHEMA.$tbl/" "$WORK/copy5000.sql" | qin ;;
                *) PGOPTIONS="-c synchronous_commit=off" q -c "CALL $SCHEMA.replay('$variant', '$SCHEMA.$tbl', 5000)" ;;
            esac
            t1=$EPOCHREALTIME
            got="$(q -c "SELECT count(*) FROM $SCHEMA.$tbl")"
            s=0
            [[ "$got" == "$nrows" ]] || s=1
            check "$s" "variants: $variant into $tbl stored $nrows rows ($got)"
            secs="$(elapsed "$t0" "$t1")"
            if [[ "$variant" != copy* ]]; then
                secs="$(q -c "SELECT seconds FROM $SCHEMA.timings WHERE variant = '$variant'
                              AND tbl = '$SCHEMA.$tbl' ORDER BY ctid DESC LIMIT 1")"
            fi
            echo "variant_${tbl}_${variant}_s $secs" >> "$WORK/variants.passes"
            log "variants: pass $pass, $variant into $tbl: $nrows rows in $secs s"
        done
    done
    order="$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')"
    done
    awk '!($1 in m) || $2 < m[$1] { m[$1] = $2 } END { for (k in m) print k, m[k] }' \
        "$WORK/variants.passes" | while read -r k v; do res "$k" "$v"; done
    res variant_passes "$passes"
    res variant_rows "$nrows"
fi

# ---------------------------------------------------------------- sweep

if have_phase sweep; then
    read -r BATCH_SIZE_BEFORE BATCH_SIZE_SOURCE <<< \
        "$(q -F ' ' -c "SELECT setting, source FROM pg_settings WHERE name = 'trades_kafka.batch_size'")"
    [[ "$BATCH_SIZE_SOURCE" == default ]] || BATCH_SIZE_SOURCE="set"
    sweep_points=()
    for bs in $BENCH_SWEEP; do sweep_points+=("$bs"); done
    sweep_points+=("5000+fetch")
    for point in "${sweep_points[@]}"; do
        bs="${point%%+*}"
        tag="sweep_${bs}"
        options='{}'
        if [[ "$point" == *+fetch ]]; then
            tag="sweep_fetch"
            options='{"queued.max.messages.kbytes": "65536", "fetch.max.bytes": "104857600", "max.partition.fetch.bytes": "8388608"}'
        fi
        q -c "ALTER SYSTEM SET trades_kafka.batch_size = $bs" -c "SELECT pg_reload_conf()" >/dev/null
        sleep 0.5
        ingest_generated "$tag" "$BENCH_SWEEP_N" "${RUN}${tag#sweep_}-" "$BENCH_PARTITIONS" 1 "$options"
        s=0
        [[ "$COMMITTED" == "$BENCH_SWEEP_N" && "$ROWS" == "$WANT" ]] || s=1
        check "$s" "sweep: batch_size $point stored all $BENCH_SWEEP_N messages ($ROWS rows of $WANT)"
        res "${tag}_batch_size" "$bs"
        forget "$TOPIC" "$TOPIC"
    done
    restore_batch_size
fi

# ---------------------------------------------------------------- latency

if have_phase latency; then
    for r in $BENCH_RATES; do
        tag="lat_$r"
        topic="bench_${RUN}_$tag"
        count=$(( r * BENCH_LAT_SECONDS ))
        gen "$count" "${RUN}l$r-" "$WORK/$tag.jsonl"
        new_topic "$topic" "$BENCH_PARTITIONS"
        start_job "$topic" "$topic" 1
        wait_consuming "$topic" "$BENCH_PARTITIONS"
        python3 "$BENCH_DIR/poll.py" --group "$topic" --until "$count" --interval 0.01 \
            --timeout $(( BENCH_LAT_SECONDS * 3 + 60 )) > "$WORK/$tag.polls" &
        poller=$!
        fill "$topic" "$WORK/$tag.jsonl" --rate "$r"
        wait "$poller" || die "$tag: not every message became visible"
        stop_job "$topic" "$topic"
        kcat -C -b "$TK_BROKERS" -t "$topic" -o beginning -e -q -f '%p %o %T\n' > "$WORK/$tag.created"
        q -F ' ' -c "SELECT kafka_partition, kafka_offset, extract(epoch FROM ingested_at)
                     FROM trades_kafka.trades WHERE kafka_topic = '$topic'" > "$WORK/$tag.ingested"
        python3 "$BENCH_DIR/latency.py" "$WORK/$tag.created" "$WORK/$tag.polls" "$WORK/$tag.ingested" \
            > "$WORK/$tag.lat"
        while read -r k v; do res "${tag}_$k" "$v"; done < "$WORK/$tag.lat"
        res "${tag}_count" "$count"
        seen="$(awk '$1 == "visible_all_n" { print $2 }' "$WORK/$tag.lat")"
        s=0
        [[ "$seen" == "$count" ]] || s=1
        check "$s" "latency: at $r msgs/s every message ($seen of $count) was seen committed"
        log "latency at $r msgs/s: p50 $(awk '$1 == "visible_p50" { print $2 }' "$WORK/$tag.lat") ms," \
            "p99 $(awk '$1 == "visible_p99" { print $2 }' "$WORK/$tag.lat") ms"
        forget "$topic" "$topic"
    done
fi

# ---------------------------------------------------------------- rss

if have_phase rss; then
    topic="bench_${RUN}_rss"
    new_topic "$topic" "$BENCH_PARTITIONS"
    t0=$EPOCHREALTIME
    gen "$BENCH_RSS_N" "${RUN}r-" - | fill "$topic" -
    log "rss: $BENCH_RSS_N messages sent in $(elapsed "$t0" "$EPOCHREALTIME") s"
    RSS_OUT="$WORK/rss.raw" ingest rss "$topic" "$topic" 1 "$BENCH_RSS_N"
    s=0
    [[ "$COMMITTED" == "$BENCH_RSS_N" ]] || s=1
    check "$s" "rss: one worker stored $BENCH_RSS_N messages ($COMMITTED) while its memory was sampled"
    awk -v n="$BENCH_RSS_N" '
        { m[NR] = $2; rss[NR] = $3; anon[NR] = $4; shm[NR] = $6 }
        END {
            # the first samples past 10% and 50% of the messages, and the last
            for (i = 1; i <= NR; i++) if (m[i] >= n / 10) { a = i; break }
            for (i = 1; i <= NR; i++) if (m[i] >= n / 2) { h = i; break }
            if (!a) a = 1
            if (!h) h = a
            printf "rss_anon_at_10pct_kb %d\nrss_anon_end_kb %d\n", anon[a], anon[NR]
            printf "rss_anon_at_50pct_kb %d\n", anon[h]
            printf "rss_vm_at_10pct_kb %d\nrss_vm_end_kb %d\n", rss[a], rss[NR]
            printf "rss_shmem_end_kb %d\nrss_samples %d\n", shm[NR], NR
            max = 0; for (i = a; i <= NR; i++) if (anon[i] > max) max = anon[i]
            printf "rss_anon_max_after_10pct_kb %d\n", max
        }' "$WORK/rss.raw" > "$WORK/rss.sum"
    while read -r k v; do res "$k" "$v"; done < "$WORK/rss.sum"
    # a worker that restarted (a server restart under the run) starts its
    # memory again: the report says so
    res rss_worker_pids "$(awk '$7 != 0 { print $7 }' "$WORK/rss.raw" | sort -u | wc -l)"
    awk '{ printf "%.4f %.1f %.1f %.1f\n", $2 / 1e6, $3 / 1024, $4 / 1024, $6 / 1024 }' "$WORK/rss.raw" \
        > "$DATA/rss.dat"
    anon_a="$(awk '$1 == "rss_anon_at_10pct_kb" { print $2 }' "$WORK/rss.sum")"
    anon_z="$(awk '$1 == "rss_anon_end_kb" { print $2 }' "$WORK/rss.sum")"
    log "rss: RssAnon $anon_a kB at 10% of the messages, $anon_z kB at the end"
    forget "$topic" "$topic"
fi

# ---------------------------------------------------------------- profile

if have_phase profile && ! perf stat -e cpu-clock true >/dev/null 2>&1; then
    log "profile: perf is missing or not allowed here (apt-get install linux-perf): skipped"
elif have_phase profile; then
    PERF_OUT="$WORK/perf.data" ingest_generated profile "$BENCH_PROFILE_N" "${RUN}p-" "$BENCH_PARTITIONS" 1
    # (the pipelines end early on purpose: their status is not a failure)
    perf report -i "$WORK/perf.data" --no-children --sort dso,sym -g none --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | head -n 25 > "$WORK/profile.self" || true
    perf script -i "$WORK/perf.data" 2>/dev/null |
        python3 "$BENCH_DIR/perf_tk.py" "$WORK/trades_kafka.so" > "$WORK/profile.children" || true
    s=0
    [[ -s "$WORK/profile.self" ]] || s=1
    check "$s" "profile: perf sampled the worker ($(wc -l < "$WORK/profile.self") symbols)"
    forget "$TOPIC" "$TOPIC"
fi

# ---------------------------------------------------------------- scale

if have_phase scale; then
    for w in $BENCH_SCALE; do
        ingest_generated "scale_$w" "$BENCH_SCALE_N" "${RUN}s$w-" 4 "$w"
        s=0
        [[ "$COMMITTED" == "$BENCH_SCALE_N" && "$ROWS" == "$WANT" ]] || s=1
        check "$s" "scale: $w workers on 4 partitions stored all $BENCH_SCALE_N messages ($ROWS rows of $WANT)"
        forget "$TOPIC" "$TOPIC"
    done
fi

# ---------------------------------------------------------------- report

res total_s "$(elapsed "$T_BEGIN" "$EPOCHREALTIME")"
res loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ "$(q -c "SELECT pg_postmaster_start_time()")" != "$PG_STARTED" ]]; then
    # the server crash-restarted under the run (another suite's chaos test):
    # the figures are disturbed, and the report says so
    res disturbed "the server restarted during the run"
    log "warning: the server restarted during the run: figures disturbed"
fi
if have_phase report; then
    python3 "$BENCH_DIR/report.py" "$RES" "$DATA" "$WORK" > "$BENCH_OUT/RESULTS.md"
    (cd "$DATA" && gnuplot "$BENCH_DIR/plot.gp") 2> "$WORK/gnuplot.log" ||
        { cat "$WORK/gnuplot.log" >&2; false; }
    cp "$DATA/plot.png" "$BENCH_OUT/plot.png"
    s=0
    [[ -s "$BENCH_OUT/RESULTS.md" && -s "$BENCH_OUT/plot.png" ]] || s=1
    check "$s" "report: $BENCH_OUT/RESULTS.md and plot.png written"
fi

log "done in $(elapsed "$T_BEGIN" "$EPOCHREALTIME") s"
if (( FAILED > 0 )); then
    log "$FAILED check(s) failed"
    exit 1
fi
