#!/usr/bin/env bash
#
# 10-trades-kafka.sh: run once by the postgres image's entrypoint, on the
# first start of an empty data directory, against its temporary server
# (which already preloads trades_kafka: the entrypoint passes it the
# container's command): create the extension in $POSTGRES_DB and start
# ingestion.
#
#   TRADES_KAFKA_BROKERS   bootstrap brokers, host:port[,...] (required)
#   TRADES_KAFKA_TOPIC     the topic (default trades)
#   TRADES_KAFKA_WORKERS   workers, one consumer group member each (default 1)
#
# The job is recorded in trades_kafka.jobs: when the temporary server stops
# its workers exit, and at every later start the launcher
# (trades_kafka.database must be $POSTGRES_DB) starts them again.
#
# The entrypoint runs an executable script and sources any other: from a
# checkout that lost the executable bit, run in a shell of its own, so that
# set -euo pipefail stays out of the entrypoint's shell.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    bash "${BASH_SOURCE[0]}"
    return
fi
set -euo pipefail

: "${TRADES_KAFKA_BROKERS:?set TRADES_KAFKA_BROKERS to the Kafka bootstrap brokers, e.g. kafka:9092}"

# as the entrypoint's own docker_process_sql: the temporary server's socket
PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    --set brokers="$TRADES_KAFKA_BROKERS" \
    --set topic="${TRADES_KAFKA_TOPIC:-trades}" \
    --set workers="${TRADES_KAFKA_WORKERS:-1}" <<'SQL'
CREATE EXTENSION IF NOT EXISTS trades_kafka;
SELECT trades_kafka.start(brokers => :'brokers', topic => :'topic',
                          workers => :'workers'::int) AS workers_started;
SQL
