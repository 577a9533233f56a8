#!/usr/bin/env bash
#
# test_producer.sh: trades-producer against the real broker ($TK_BROKERS).
#
# Exactly --count messages land on the topic; all versions of a trade land
# in one partition, in order; --from sends a file byte for byte; Ctrl-C
# flushes what is in flight; an unreachable broker ends within --timeout in
# one clear line, and so does a missing topic; a bad -X property is bad
# usage with librdkafka's reason.
#
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PRODUCER=${PRODUCER:-$ROOT/trades-producer}
TMP=$(mktemp -d)
TOPICS=()

# shellcheck disable=SC2317  # called by the trap
cleanup() {
    local t
    for t in "${TOPICS[@]}"; do
        kafka_topic_delete "$t" >/dev/null 2>&1 || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

# new_topic PREFIX PARTITIONS: create a fresh topic named in $t
new_topic() {
    t=$(unique_name "$1")
    kafka_topic_create "$t" "$2" >/dev/null
    TOPICS+=("$t")
}

# consume TOPIC FORMAT: the whole topic, one kcat format per message (a
# failure shows in the checks that follow, not as the end of the script)
consume() {
    kcat -C -b "$TK_BROKERS" -t "$1" -o beginning -e -q -f "$2" ||
        echo "# kcat could not consume $1" >&2
}

[ -x "$PRODUCER" ] || { fail "producer built" "$PRODUCER missing: run make trades-producer"; finish; }

# --count N: exactly N messages, and a summary that says so
new_topic producer_count 3
rc=0
"$PRODUCER" --brokers "$TK_BROKERS" --topic "$t" --count 100000 --seed 1 \
    2>"$TMP/count.err" || rc=$?
check_eq "count: exit status 0" 0 "$rc"
check_eq "count: 100000 messages on the topic" 100000 "$(kafka_end_offset_sum "$t")"
check "count: summary line" grep -q "sent 100000, delivered 100000, failed 0" "$TMP/count.err"

# Keys: every message keyed by its trade id, all versions of a trade in one
# partition and in order (invalid ones included: they carry a key too)
new_topic producer_keys 4
"$PRODUCER" --brokers "$TK_BROKERS" --topic "$t" --count 4000 --trades 40 \
    --seed 2 --invalid-ratio 0.2 --quiet
consume "$t" '%p %k\n' >"$TMP/keys"
check_eq "keys: 4000 messages consumed" 4000 "$(wc -l <"$TMP/keys")"
check_eq "keys: every message has a T<n> key" 0 "$(grep -cv ' T[0-9]*$' "$TMP/keys" || true)"
check_eq "keys: each trade id in exactly one partition" 0 \
    "$(sort -u "$TMP/keys" | awk '{ print $2 }' | sort | uniq -d | wc -l)"
check_eq "keys: the 40 trades spread over the 4 partitions" 4 \
    "$(awk '{ print $1 }' "$TMP/keys" | sort -u | wc -l)"

new_topic producer_order 4
"$PRODUCER" --brokers "$TK_BROKERS" --topic "$t" --count 3000 --trades 30 \
    --seed 3 --quiet
consume "$t" '%k %s\n' | sed -E 's/^(T[0-9]+) .*"version":([0-9]+).*/\1 \2/' >"$TMP/order"
check_eq "order: 3000 messages consumed" 3000 "$(grep -c '^T[0-9]* [0-9]*$' "$TMP/order")"
check_eq "order: versions of each trade never go down" 0 \
    "$(awk '{ if ($2 < last[$1]) bad++; last[$1] = $2 } END { print bad + 0 }' "$TMP/order")"

# --from FILE: each line is one message, sent byte for byte (binary garbage,
# NUL bytes and invalid UTF-8 included); keyed when the line is a trade
"$PRODUCER" --print --count 3000 --seed 4 --invalid-ratio 0.5 \
    --max-message-bytes 1024 >"$TMP/lines"
printf '%s\n' '{"trade_id":"Tü","version":1,"counter_party_id":"CP-1","book_id":"B1","maturity_date":"2999-01-01"}' \
    ' {"trade_id":"T-space","version":2,"counter_party_id":"CP-1","book_id":"B1","maturity_date":"2999-01-01"} ' \
    'not json at all' >>"$TMP/lines"
printf '%s' '{"last":"line without a newline"}' >>"$TMP/lines"
new_topic producer_from 1
rc=0
"$PRODUCER" --brokers "$TK_BROKERS" --topic "$t" --from "$TMP/lines" --quiet || rc=$?
check_eq "from: exit status 0" 0 "$rc"
check_eq "from: one message per line" 3004 "$(kafka_end_offset_sum "$t")"
consume "$t" '%s\n' | head -c -1 >"$TMP/back"
check "from: the topic holds the file byte for byte" cmp "$TMP/lines" "$TMP/back"
consume "$t" '%k\n' >"$TMP/from_keys"
check_eq "from: a trade line is keyed by its trade_id" "Tü" "$(sed -n 3001p "$TMP/from_keys")"
check_eq "from: a line that is no trade has no key" "" "$(sed -n 3003p "$TMP/from_keys")"

new_topic producer_stdin 1
head -n 500 "$TMP/lines" | "$PRODUCER" --brokers "$TK_BROKERS" --topic "$t" --from - --quiet
consume "$t" '%s\n' >"$TMP/back_stdin"
check "from -: stdin byte for byte" cmp <(head -n 500 "$TMP/lines") "$TMP/back_stdin"

# Ctrl-C: stop, flush what is in flight, exit 0, summary says interrupted
new_topic producer_sigint 2
"$PRODUCER" --brokers "$TK_BROKERS" --topic "$t" --count 0 --rate 5000 \
    2>"$TMP/int.err" &
pid=$!
sleep 2
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
check_eq "sigint: exit status 0" 0 "$rc"
sent=$(sed -nE 's/.*interrupted: sent ([0-9]+), delivered ([0-9]+), failed 0 .*/\1 \2/p' "$TMP/int.err")
check "sigint: summary says interrupted, all delivered" test -n "$sent"
check_eq "sigint: the topic holds what the summary counts" \
    "$(echo "$sent" | awk '{ print $2 }')" "$(kafka_end_offset_sum "$t")"

# An unreachable broker: non-zero, one clear line, within --timeout 5
start=$(date +%s%N)
rc=0
"$PRODUCER" --brokers 127.0.0.1:1 --topic nowhere --timeout 5 --count 10 \
    2>"$TMP/dead.err" || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
check "dead broker: non-zero exit" test "$rc" -ne 0
check_eq "dead broker: one line on stderr" 1 "$(wc -l <"$TMP/dead.err")"
check "dead broker: says it cannot reach 127.0.0.1:1" \
    grep -q "^trades-producer: cannot reach brokers 127.0.0.1:1 within 5 s: " "$TMP/dead.err"
check "dead broker: gave up within 5 s + 3 (took ${ms} ms)" test "$ms" -lt 8000

# A topic the broker does not have (and will not create): one line, exit 1
rc=0
"$PRODUCER" --brokers "$TK_BROKERS" --topic "$(unique_name producer_missing)" \
    --timeout 2 2>"$TMP/missing.err" || rc=$?
check_eq "missing topic: exit 1" 1 "$rc"
check "missing topic: says so in one line" \
    grep -qx 'trades-producer: topic "producer_missing_.*" does not exist on brokers .*' "$TMP/missing.err"

# Bad -X: exit 2 with librdkafka's own words
rc=0
"$PRODUCER" --brokers "$TK_BROKERS" --topic x -X no.such.property=1 2>"$TMP/x.err" || rc=$?
check_eq "bad -X property: exit 2" 2 "$rc"
check "bad -X property: librdkafka's message" \
    grep -qx 'trades-producer: No such configuration property: "no.such.property"' "$TMP/x.err"
rc=0
"$PRODUCER" --brokers "$TK_BROKERS" --topic x -X linger.ms=soon 2>"$TMP/x.err" || rc=$?
check_eq "bad -X value: exit 2" 2 "$rc"
check "bad -X value: librdkafka's message" grep -q "Invalid value" "$TMP/x.err"
rc=0
"$PRODUCER" --brokers "$TK_BROKERS" --topic x --count ten 2>/dev/null || rc=$?
check_eq "bad option value: exit 2" 2 "$rc"

finish
