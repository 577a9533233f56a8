/*
 * trades_kafka--0.1.0.sql: the objects of version 0.1.0.  A later version is
 * not a second copy of this script: CREATE EXTENSION runs this one, then the
 * update scripts trades_kafka--0.1.0--0.2.0.sql and on, in turn.
 */

\echo Use "CREATE EXTENSION trades_kafka" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Tables

CREATE TABLE trades_kafka.trades (
	trade_id			text		NOT NULL,
	version				integer		NOT NULL,
	counter_party_id	text		NOT NULL,
	book_id				text		NOT NULL,
	maturity_date		date		NOT NULL,
	created_date		date		NOT NULL,
	expired				boolean		NOT NULL DEFAULT false,
	kafka_topic			text		NOT NULL,
	kafka_partition		integer		NOT NULL,
	kafka_offset		bigint		NOT NULL,
	ingested_at			timestamptz	NOT NULL DEFAULT now(),
	PRIMARY KEY (trade_id, version)
);
-- Expiry only looks at rows not yet expired
CREATE INDEX trades_unexpired_maturity_idx
	ON trades_kafka.trades (maturity_date) WHERE NOT expired;
COMMENT ON TABLE trades_kafka.trades IS
	'Valid trades landed from Kafka, one row per (trade_id, version), with the Kafka position of the message that wrote it';

CREATE TABLE trades_kafka.rejects (
	id					bigserial	PRIMARY KEY,
	kafka_topic			text		NOT NULL,
	kafka_partition		integer		NOT NULL,
	kafka_offset		bigint		NOT NULL,
	kafka_key			bytea,
	payload				bytea,
	reason				text		NOT NULL,
	detail				text,
	rejected_at			timestamptz	NOT NULL DEFAULT now()
);
CREATE INDEX rejects_reason_idx ON trades_kafka.rejects (reason);
COMMENT ON TABLE trades_kafka.rejects IS
	'Messages that did not become a trade: the raw bytes, a stable reason code and a detail';

CREATE TABLE trades_kafka.offsets (
	group_id			text		NOT NULL,
	topic				text		NOT NULL,
	partition			integer		NOT NULL,
	next_offset			bigint		NOT NULL,
	updated_at			timestamptz	NOT NULL DEFAULT now(),
	PRIMARY KEY (group_id, topic, partition)
);
COMMENT ON TABLE trades_kafka.offsets IS
	'The next Kafka offset to read per consumer group and partition, committed in the same transaction as the data';

CREATE TABLE trades_kafka.jobs (
	id					serial		UNIQUE,
	topic				text		NOT NULL,
	group_id			text		NOT NULL,
	brokers				text		NOT NULL,
	workers				integer		NOT NULL CHECK (workers BETWEEN 1 AND 64),
	options				jsonb		NOT NULL DEFAULT '{}',
	enabled				boolean		NOT NULL DEFAULT true,
	generation			bigint		NOT NULL DEFAULT 1,
	created_at			timestamptz	NOT NULL DEFAULT now(),
	updated_at			timestamptz	NOT NULL DEFAULT now(),
	PRIMARY KEY (topic, group_id)
);
COMMENT ON TABLE trades_kafka.jobs IS
	'Ingestion jobs started with trades_kafka.start(); enabled jobs come back after a server restart (holds broker credentials: not readable by PUBLIC)';

REVOKE ALL ON trades_kafka.trades, trades_kafka.rejects, trades_kafka.offsets,
	trades_kafka.jobs FROM PUBLIC;

-- Keep user data and offsets when the extension's tables are dumped
SELECT pg_catalog.pg_extension_config_dump('trades_kafka.trades', '');
SELECT pg_catalog.pg_extension_config_dump('trades_kafka.rejects', '');
SELECT pg_catalog.pg_extension_config_dump('trades_kafka.rejects_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('trades_kafka.offsets', '');
SELECT pg_catalog.pg_extension_config_dump('trades_kafka.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('trades_kafka.jobs_id_seq', '');

-- ---------------------------------------------------------------------------
-- Functions that change state: superusers and roles granted EXECUTE

CREATE FUNCTION trades_kafka.start(
	brokers text,
	topic text DEFAULT 'trades',
	group_id text DEFAULT 'trades_kafka',
	workers integer DEFAULT 1,
	options jsonb DEFAULT '{}')
RETURNS integer
AS 'MODULE_PATHNAME', 'trades_kafka_start'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION trades_kafka.start(text, text, text, integer, jsonb) IS
	'Record an ingestion job and launch its background workers; returns how many started';

CREATE FUNCTION trades_kafka.stop(
	topic text DEFAULT NULL,
	group_id text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'trades_kafka_stop'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION trades_kafka.stop(text, text) IS
	'Stop the matching workers (NULL matches all), wait for them to leave the group and disable their jobs; returns how many stopped';

CREATE FUNCTION trades_kafka.expire_trades()
RETURNS bigint
AS 'MODULE_PATHNAME', 'trades_kafka_expire_trades'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION trades_kafka.expire_trades() IS
	'Mark every trade whose maturity date has passed as expired; returns how many rows changed';

REVOKE ALL ON FUNCTION trades_kafka.start(text, text, text, integer, jsonb),
	trades_kafka.stop(text, text), trades_kafka.expire_trades() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Observability: readable by everyone, shows no broker address or credential

CREATE FUNCTION trades_kafka.status(
	OUT pid integer,
	OUT topic text,
	OUT group_id text,
	OUT state text,
	OUT partitions integer[],
	OUT consumed bigint,
	OUT stored bigint,
	OUT rejected bigint,
	OUT batches bigint,
	OUT last_batch_at timestamptz,
	OUT last_error text,
	OUT started_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'trades_kafka_status'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trades_kafka.status() IS
	'One row per running trades_kafka worker of this database: state, assigned partitions and counters';

CREATE TYPE trades_kafka.partition_lag AS (
	topic				text,
	group_id			text,
	partition			integer,
	next_offset			bigint,
	high_watermark		bigint,
	lag					bigint
);
COMMENT ON TYPE trades_kafka.partition_lag IS 'A row of trades_kafka.lag()';

CREATE FUNCTION trades_kafka.lag(
	topic text DEFAULT NULL,
	group_id text DEFAULT NULL)
RETURNS SETOF trades_kafka.partition_lag
AS 'MODULE_PATHNAME', 'trades_kafka_lag'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION trades_kafka.lag(text, text) IS
	'Per partition of each job: the broker''s high watermark minus the next offset committed in PostgreSQL';
