-- variants.sql: the worker's store statements, and cheaper ones, replayed in
-- SQL on the same rows, one transaction per batch, to measure what a change
-- of store.c would gain without reloading the library in a shared server.
--
-- Objects live in schema tk_bench (run.sh creates and drops it):
--   stage        the rows the worker stored, in Kafka order (seq)
--   v_text       like trades_kafka.trades, the database's collation
--   v_c          the same with trade_id COLLATE "C"
--   timings      one row per replay
--   replay(variant, tbl, batch)   a procedure: COMMIT after every batch
--
-- Variants (what is timed: the statements and the COMMIT of each batch; the
-- arrays are built from stage outside the clock, as the worker builds them
-- in C):
--   current      SELECT max(version) ... WHERE trade_id = ANY ($1) GROUP BY,
--                then INSERT ... FROM unnest(...) ON CONFLICT DO UPDATE:
--                what store.c ran before 20a72cb
--   lateral      one max(version) subquery per distinct id (a backward
--                index probe, LIMIT 1), then the same upsert
--   cached       no version lookup (a per-partition cache of the highest
--                stored version answered it), the same upsert
--   plain        no lookup, and a plain INSERT: store.c since 20a72cb when
--                the batch's ids are in its cache
--   lateral_plain  the lookup per id, then a plain INSERT for new rows:
--                store.c since 20a72cb for ids not in its cache
\set ON_ERROR_STOP 1

CREATE TABLE IF NOT EXISTS tk_bench.stage (
	seq					bigint PRIMARY KEY,
	LIKE trades_kafka.trades INCLUDING DEFAULTS
);
CREATE TABLE IF NOT EXISTS tk_bench.v_text (LIKE trades_kafka.trades INCLUDING ALL);
CREATE TABLE IF NOT EXISTS tk_bench.v_c (LIKE trades_kafka.trades INCLUDING ALL);
ALTER TABLE tk_bench.v_c ALTER COLUMN trade_id TYPE text COLLATE "C";
CREATE TABLE IF NOT EXISTS tk_bench.timings (
	variant				text,
	tbl					text,
	batch				int,
	nrows				bigint,
	seconds				float8
);

CREATE OR REPLACE PROCEDURE tk_bench.replay(variant text, tbl text, batch int)
LANGUAGE plpgsql AS $$
DECLARE
	lookup_any text := format(
		'SELECT count(*) FROM (SELECT trade_id, max(version) FROM %s'
		' WHERE trade_id = ANY ($1) GROUP BY trade_id) s', tbl);
	lookup_each text := format(
		'SELECT count(m) FROM (SELECT (SELECT max(version) FROM %s t'
		' WHERE t.trade_id = u.id) AS m FROM unnest($1) AS u(id)) s', tbl);
	insert_head text := format(
		'INSERT INTO %s AS t (trade_id, version, counter_party_id, book_id,'
		' maturity_date, created_date, expired, kafka_topic, kafka_partition, kafka_offset)'
		' SELECT u.id, u.v, u.cp, u.b, u.m, u.c, false, $1, u.p, u.o'
		' FROM unnest($2, $3, $4, $5, $6, $7, $8, $9) AS u(id, v, cp, b, m, c, p, o)', tbl);
	upsert_tail text :=
		' ON CONFLICT (trade_id, version) DO UPDATE SET'
		' counter_party_id = EXCLUDED.counter_party_id, book_id = EXCLUDED.book_id,'
		' maturity_date = EXCLUDED.maturity_date, created_date = EXCLUDED.created_date,'
		' expired = false, kafka_topic = EXCLUDED.kafka_topic,'
		' kafka_partition = EXCLUDED.kafka_partition, kafka_offset = EXCLUDED.kafka_offset,'
		' ingested_at = EXCLUDED.ingested_at';
	lo bigint;
	hi bigint;
	topic text;
	ids text[];
	vs int[];
	cps text[];
	bs text[];
	ms date[];
	cs date[];
	ps int[];
	os bigint[];
	distinct_ids text[];
	n bigint := 0;
	t0 timestamptz;
	spent interval := '0';
BEGIN
	IF variant NOT IN ('current', 'lateral', 'cached', 'plain', 'lateral_plain') THEN
		RAISE EXCEPTION 'unknown variant %', variant;
	END IF;
	SELECT min(seq), max(seq), min(kafka_topic) INTO lo, hi, topic FROM tk_bench.stage;
	WHILE lo <= hi LOOP
		SELECT array_agg(trade_id ORDER BY seq), array_agg(version ORDER BY seq),
			   array_agg(counter_party_id ORDER BY seq), array_agg(book_id ORDER BY seq),
			   array_agg(maturity_date ORDER BY seq), array_agg(created_date ORDER BY seq),
			   array_agg(kafka_partition ORDER BY seq), array_agg(kafka_offset ORDER BY seq),
			   array_agg(DISTINCT trade_id)
		  INTO ids, vs, cps, bs, ms, cs, ps, os, distinct_ids
		  FROM tk_bench.stage WHERE seq >= lo AND seq < lo + batch;
		t0 := clock_timestamp();
		IF variant = 'current' THEN
			EXECUTE lookup_any USING ids;
		ELSIF variant IN ('lateral', 'lateral_plain') THEN
			EXECUTE lookup_each USING distinct_ids;
		END IF;
		IF variant IN ('plain', 'lateral_plain') THEN
			EXECUTE insert_head USING topic, ids, vs, cps, bs, ms, cs, ps, os;
		ELSE
			EXECUTE insert_head || upsert_tail USING topic, ids, vs, cps, bs, ms, cs, ps, os;
		END IF;
		n := n + coalesce(array_length(ids, 1), 0);
		COMMIT;
		spent := spent + (clock_timestamp() - t0);
		lo := lo + batch;
	END LOOP;
	INSERT INTO tk_bench.timings VALUES (variant, tbl, batch, n, extract(epoch FROM spent));
	COMMIT;
END
$$;
