#!/usr/bin/env bash
#
# kafka.sh: a real Apache Kafka 4.1.1 broker for development and tests: one
# node that is both broker and KRaft controller, on the loopback only, run
# from Maven Central's jars with the JDK (no Docker).
#
#   kafka.sh fetch                        fetch the jars once (scripts/kafka-pom.xml)
#   kafka.sh start                        format the storage once, start, wait
#                                         until the broker answers metadata
#   kafka.sh stop                         SIGTERM, wait, SIGKILL past a deadline
#   kafka.sh status                       exit 0 when it runs and answers
#   kafka.sh create-topic NAME [PARTS]    create NAME (1 partition unless told),
#                                         wait until metadata shows it
#   kafka.sh delete-topic NAME            delete NAME, wait until it is gone
#   kafka.sh end-offsets TOPIC            one "partition high_watermark" line
#                                         per partition
#
# Everything lives in $TK_STATE_DIR/kafka: libs/ (the jars), config/, data/,
# kafka.pid and log/kafka.log.  The broker listens on $TK_BROKERS, the
# controller on 127.0.0.1:$TK_KAFKA_CONTROLLER_PORT.
#
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KDIR="$TK_STATE_DIR/kafka"
LIBS="$KDIR/libs"
CONF="$KDIR/config"
DATA="$KDIR/data"
LOGDIR="$KDIR/log"
LOGFILE="$LOGDIR/kafka.log"
PIDFILE="$KDIR/kafka.pid"
POM="$TK_SCRIPTS/kafka-pom.xml"
START_SECONDS="${TK_KAFKA_START_SECONDS:-90}"

# java options of the short-lived admin tools: start fast, stay small
TOOL_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
    "-Dlog4j2.configurationFile=$CONF/tools-log4j2.properties")

# fetch: copy the jars of kafka-pom.xml into libs/, once per version of the
# pom (libs/.pom.sha256 says which pom they came from)
fetch() {
    local want
    want="$(sha256sum < "$POM" | cut -d' ' -f1)"
    if [[ "$(cat "$LIBS/.pom.sha256" 2>/dev/null)" == "$want" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn is missing: run scripts/install-deps.sh"
    log "fetching Apache Kafka's jars from Maven Central into $LIBS"
    ensure_state_dir
    mkdir -p "$KDIR" "$LOGDIR"
    rm -rf "$LIBS.tmp"
    # its own local repository, so that the state dir holds the whole cache
    if ! mvn -B -ntp -Dstyle.color=never -f "$POM" \
            "-Dmaven.repo.local=$KDIR/m2" \
            dependency:copy-dependencies "-DoutputDirectory=$LIBS.tmp" \
            > "$LOGDIR/mvn.log" 2>&1 </dev/null; then
        rm -rf "$LIBS.tmp"
        show_log_tail "$LOGDIR/mvn.log" 30
        die "could not fetch the Kafka jars with Maven"
    fi
    compgen -G "$LIBS.tmp/kafka_2.13-*.jar" >/dev/null ||
        die "Maven fetched no kafka_2.13 jar into $LIBS.tmp"
    echo "$want" > "$LIBS.tmp/.pom.sha256"
    rm -rf "$LIBS"
    mv "$LIBS.tmp" "$LIBS"
    log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

# need_libs: die unless fetch has run
need_libs() {
    [[ -f "$LIBS/.pom.sha256" ]] || die "no Kafka jars in $LIBS: run scripts/kafka.sh fetch"
    command -v java >/dev/null || die "java is missing: run scripts/install-deps.sh"
}

# write_config: server.properties and the log4j2 files, rewritten at every
# start so that the ports follow the environment
write_config() {
    ensure_state_dir
    mkdir -p "$CONF" "$DATA" "$LOGDIR"
    cat > "$CONF/server.properties" <<EOF
# written by scripts/kafka.sh at every start: edit that script, not this file
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$TK_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$TK_KAFKA_PORT,CONTROLLER://127.0.0.1:$TK_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$TK_KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
num.partitions=1
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# two cores shared with PostgreSQL and the tests
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
    # the broker logs to stdout, which start sends to log/kafka.log; the
    # admin tools say only what went wrong, on stderr
    log4j2_conf SYSTEM_OUT INFO > "$CONF/log4j2.properties"
    log4j2_conf SYSTEM_ERR WARN > "$CONF/tools-log4j2.properties"
}

# log4j2_conf TARGET LEVEL: a log4j2 configuration that writes LEVEL and
# above to the console stream TARGET (SYSTEM_OUT or SYSTEM_ERR)
log4j2_conf() {
    cat <<EOF
status = warn
appender.console.type = Console
appender.console.name = CONSOLE
appender.console.target = $1
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = $2
rootLogger.appenderRef.console.ref = CONSOLE
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

# broker_pid: the pid of our broker, if it runs (a pid file alone is not
# enough: the pid may have been reused)
broker_pid() {
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "kafka.Kafka $CONF/server.properties" || return 1
    echo "$pid"
}

# answers: whether the broker answers a metadata request
answers() {
    kcat -b "$TK_BROKERS" -L -m 3 2>/dev/null | grep -q '^ *1 brokers:'
}

# format_storage: format data/ once, with a cluster id kept in cluster.id
format_storage() {
    [[ -f "$DATA/meta.properties" ]] && return 0
    local id
    if [[ ! -s "$KDIR/cluster.id" ]]; then
        # a Kafka Uuid: 16 random bytes, base64url without padding
        head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > "$KDIR/cluster.id"
    fi
    id="$(cat "$KDIR/cluster.id")"
    log "formatting the broker's storage in $DATA (cluster $id)"
    java "${TOOL_OPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format \
        -t "$id" -c "$CONF/server.properties" >> "$LOGFILE" 2>&1 </dev/null || {
        show_log_tail "$LOGFILE" 20
        die "could not format the broker's storage in $DATA"
    }
}

start() {
    need_libs
    if broker_pid >/dev/null; then
        if poll "$START_SECONDS" answers; then
            log "the broker already runs on $TK_BROKERS (pid $(broker_pid))"
            return 0
        fi
        show_log_tail "$LOGFILE"
        die "the broker runs (pid $(broker_pid)) but does not answer on $TK_BROKERS"
    fi
    local port
    for port in "$TK_KAFKA_PORT" "$TK_KAFKA_CONTROLLER_PORT"; do
        port_open "$port" && die "port $port on 127.0.0.1 is taken by another process: stop it or set TK_KAFKA_PORT/TK_KAFKA_CONTROLLER_PORT"
    done
    write_config
    format_storage

    log "starting the broker on $TK_BROKERS (log: $LOGFILE)"
    rotate_log "$LOGFILE"
    printf '\n===== %s start\n' "$(date '+%F %T')" >> "$LOGFILE"
    rm -f "$PIDFILE"
    # its own session, so that the broker outlives the shell that started it;
    # the inner shell writes its pid and becomes the JVM
    (
        cd "$KDIR"
        # shellcheck disable=SC2016  # expanded by the inner shell
        exec setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' tk-kafka "$PIDFILE" \
            java -Xmx512m -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
            -Djava.awt.headless=true \
            "-Dlog4j2.configurationFile=$CONF/log4j2.properties" \
            -cp "$LIBS/*" kafka.Kafka "$CONF/server.properties" \
            >> "$LOGFILE" 2>&1 </dev/null
    ) &

    if ! poll "$START_SECONDS" started_or_died; then
        show_log_tail "$LOGFILE"
        die "the broker did not answer metadata on $TK_BROKERS within $START_SECONDS s"
    fi
    if ! answers; then
        show_log_tail "$LOGFILE"
        die "the broker exited while starting"
    fi
    log "the broker answers on $TK_BROKERS (pid $(broker_pid))"
}

# started_or_died: true once the broker answers, or once it has died
# (start tells the two apart)
started_or_died() {
    answers && return 0
    [[ -s "$PIDFILE" ]] || return 1
    broker_pid >/dev/null || return 0
    return 1
}

stop() {
    if ! broker_pid >/dev/null; then
        rm -f "$PIDFILE"
        log "the broker is not running"
        return 0
    fi
    stop_pid "$PIDFILE" "the broker" 60
    log "the broker stopped"
}

status() {
    local pid
    if pid="$(broker_pid)"; then
        if answers; then
            echo "kafka: running on $TK_BROKERS (pid $pid, log $LOGFILE)"
            return 0
        fi
        echo "kafka: pid $pid runs but does not answer on $TK_BROKERS (log $LOGFILE)"
        return 1
    fi
    echo "kafka: not running (log $LOGFILE)"
    return 3
}

# tool CLASS ARGS...: run one of Kafka's admin tools
tool() {
    need_libs
    [[ -f "$CONF/tools-log4j2.properties" ]] || write_config
    java "${TOOL_OPTS[@]}" -cp "$LIBS/*" "$@" </dev/null
}

# partitions TOPIC: how many partitions metadata shows for TOPIC (0 if none)
partitions() {
    local n
    n="$(kcat -b "$TK_BROKERS" -L -t "$1" -m 5 2>/dev/null |
        sed -n 's/^ *topic "\(.*\)" with \([0-9]*\) partitions:$/\1 \2/p' |
        awk -v t="$1" '$1 == t { print $2 }')"
    echo "${n:-0}"
}

# has_partitions TOPIC N: whether metadata shows TOPIC with N partitions
has_partitions() {
    [[ "$(partitions "$1")" == "$2" ]]
}

create_topic() {
    local topic="${1:-}" parts="${2:-1}"
    [[ -n "$topic" ]] || usage
    [[ "$parts" =~ ^[1-9][0-9]*$ ]] || die "partitions must be a positive number, not '$parts'"
    tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$TK_BROKERS" \
        --create --topic "$topic" --partitions "$parts" --replication-factor 1 >/dev/null ||
        die "could not create topic $topic"
    poll 30 has_partitions "$topic" "$parts" ||
        die "topic $topic does not show $parts partitions in metadata after 30 s"
    log "created topic $topic with $parts partition(s)"
}

delete_topic() {
    local topic="${1:-}"
    [[ -n "$topic" ]] || usage
    tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$TK_BROKERS" \
        --delete --topic "$topic" >/dev/null ||
        die "could not delete topic $topic"
    poll 30 has_partitions "$topic" 0 ||
        die "topic $topic still shows in metadata 30 s after its deletion"
    log "deleted topic $topic"
}

# end_offsets TOPIC: "partition high_watermark" per partition, sorted by
# partition.  kcat's offsets-for-times query with the timestamp LATEST (-1)
# is the broker's ListOffsets answer for the end of each partition, in a few
# milliseconds where a JVM tool takes two seconds.  kcat asks as a producer,
# so read_committed: with a transaction open on the topic it would give the
# last stable offset instead, and nothing here writes transactions.
end_offsets() {
    local topic="${1:-}" n p out lines args=()
    [[ -n "$topic" ]] || usage
    n="$(partitions "$topic")"
    (( n > 0 )) || die "no topic $topic in metadata"
    for (( p = 0; p < n; p++ )); do
        args+=(-t "$topic:$p:-1")
    done
    out="$(kcat -b "$TK_BROKERS" -Q "${args[@]}" 2>&1)" ||
        die "could not query the end offsets of $topic: $out"
    # kcat's lines: ` TOPIC [P] offset N`
    lines="$(awk -v t="$topic" '$1 == t && $3 == "offset" && $4 ~ /^[0-9]+$/ {
                 gsub(/[][]/, "", $2); print $2, $4 }' <<<"$out" | sort -n)"
    [[ "$(grep -c . <<<"$lines")" == "$n" ]] ||
        die "kcat gave no end offset for every partition of $topic: $out"
    echo "$lines"
}

cmd="${1:-}"
shift || true
case "$cmd" in
    fetch) fetch ;;
    start) fetch; start ;;
    stop) stop ;;
    status) status ;;
    create-topic) create_topic "$@" ;;
    delete-topic) delete_topic "$@" ;;
    end-offsets) end_offsets "$@" ;;
    *) usage ;;
esac
