#!/usr/bin/env bash
#
# demo.sh: the README's first command.  On a fresh Debian 12 as root: sets
# up the local stack (a real Kafka broker, PostgreSQL with trades_kafka
# preloaded), starts ingestion, feeds trades with trades-producer (a share
# of them deliberately invalid, of every kind), shows live progress from
# trades_kafka.status() and trades_kafka.lag(), and ends with a summary.
#
#   demo.sh
#
# Settings (environment): TK_DEMO_TOPIC (trades), TK_DEMO_COUNT (200000),
# TK_DEMO_RATE msgs/s (20000, 0 = as fast as possible), TK_DEMO_WORKERS (2),
# TK_DEMO_PARTITIONS (4), and those of scripts/lib.sh (ports, state dir).
# Running it again reuses the stack and the topic: ingestion resumes exactly
# where it stopped.
#
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

topic="${TK_DEMO_TOPIC:-trades}"
count="${TK_DEMO_COUNT:-200000}"
rate="${TK_DEMO_RATE:-20000}"
workers="${TK_DEMO_WORKERS:-2}"
partitions="${TK_DEMO_PARTITIONS:-4}"
group=trades_kafka

sql() {
    psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$TK_DB" -c "$1"
}

bash "$TK_SCRIPTS/stack.sh" up

if ! kcat -b "$TK_BROKERS" -L -t "$topic" 2>/dev/null | grep -q "topic \"$topic\" with [1-9]"; then
    bash "$TK_SCRIPTS/kafka.sh" create-topic "$topic" "$partitions"
fi

log "starting ingestion: $workers workers on topic $topic"
sql "SELECT trades_kafka.stop(topic => '$topic', group_id => '$group')" >/dev/null
since="$(sql "SELECT now()")"
sql "SELECT trades_kafka.start(brokers => '$TK_BROKERS', topic => '$topic',
                               group_id => '$group', workers => $workers)" >/dev/null

log "producing $count trades at ${rate} msgs/s (2% deliberately invalid)"
producer_log="$(mktemp)"
trap 'rm -f "$producer_log"; [[ -n "${producer_pid:-}" ]] && kill "$producer_pid" 2>/dev/null || true' EXIT
trades-producer --brokers "$TK_BROKERS" --topic "$topic" --count "$count" --rate "$rate" \
    --trades 20000 --invalid-ratio 0.02 >"$producer_log" 2>&1 </dev/null &
producer_pid=$!

# one progress line a second until the producer is done and the lag is zero
progress() {
    sql "SELECT coalesce(sum(s.consumed), 0) || ' ' || coalesce(sum(s.stored), 0) || ' ' ||
                coalesce(sum(s.rejected), 0) || ' ' || count(*)
           FROM trades_kafka.status() s WHERE s.topic = '$topic' AND s.group_id = '$group'"
}
lag_now() {
    sql "SELECT coalesce(sum(lag), 0) FROM trades_kafka.lag(topic => '$topic', group_id => '$group')"
}
t0=$SECONDS
last_consumed=0
producer_done=
deadline=$(( SECONDS + 900 ))
while true; do
    sleep 1
    read -r consumed stored rejected running <<<"$(progress)"
    lag="$(lag_now 2>/dev/null || echo '?')"
    if [[ -z "$producer_done" ]] && ! kill -0 "$producer_pid" 2>/dev/null; then
        producer_rc=0
        wait "$producer_pid" || producer_rc=$?
        producer_done=1
        producer_pid=
    fi
    printf '%4ds  workers %s  consumed %8d  stored %8d  rejected %6d  lag %8s  %6d msgs/s%s\n' \
        $(( SECONDS - t0 )) "$running" "$consumed" "$stored" "$rejected" "$lag" \
        $(( consumed - last_consumed )) "${producer_done:+  (producer done)}"
    last_consumed=$consumed
    if [[ -n "$producer_done" && "$lag" == 0 ]]; then
        break
    fi
    (( SECONDS < deadline )) || die "ingestion did not catch up within 900 s: see $TK_STATE_DIR/pg/log/postgresql.log"
done

echo
echo "== producer"
cat "$producer_log"
echo
echo "== this run: where every message ended"
psql -X -q -d "$TK_DB" -c "
    SELECT 'stored as a trade row' AS outcome, count(*) AS messages
      FROM trades_kafka.trades WHERE kafka_topic = '$topic' AND ingested_at >= '$since'
    UNION ALL
    SELECT 'rejected: ' || reason, count(*)
      FROM trades_kafka.rejects WHERE kafka_topic = '$topic' AND rejected_at >= '$since'
     GROUP BY reason
    ORDER BY 1"
echo "(a same-version override replaces a row: the trades count rows, status() counts messages)"
psql -X -q -d "$TK_DB" -c "SELECT pid, state, partitions, consumed, stored, rejected, batches FROM trades_kafka.status() WHERE topic = '$topic'"
psql -X -q -d "$TK_DB" -c "SELECT * FROM trades_kafka.lag(topic => '$topic')"
cat <<EOF
Ingestion keeps running.  Explore with:  psql -h 127.0.0.1 -p $TK_PG_PORT -U postgres $TK_DB
  SELECT * FROM trades_kafka.status();   SELECT trades_kafka.stop();
Stop everything with:  bash scripts/stack.sh down
EOF
exit "${producer_rc:-0}"
