--
-- upgrade: ALTER EXTENSION trades_kafka UPDATE from 0.1.0 keeps every row
-- and offset and ends with the same objects as CREATE EXTENSION of the
-- current version (runs last: it drops and recreates the extension)
--

-- the objects of an installation, one line each: columns with their
-- collation, constraints, indexes, functions, privileges, comments, members
CREATE FUNCTION regress_shape() RETURNS SETOF text LANGUAGE sql AS $$
	SELECT format('column %s.%s %s collate %s not null %s default %s',
			c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
			coalesce(co.collname, '-'), a.attnotnull,
			coalesce(pg_get_expr(d.adbin, d.adrelid), '-'))
	  FROM pg_class c
	  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_collation co ON co.oid = a.attcollation
	  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
	 WHERE c.relnamespace = 'trades_kafka'::regnamespace AND c.relkind IN ('r', 'c')
	UNION ALL
	SELECT format('constraint %s %s', conrelid::regclass, pg_get_constraintdef(oid))
	  FROM pg_constraint WHERE connamespace = 'trades_kafka'::regnamespace
	UNION ALL
	SELECT format('index %s', pg_get_indexdef(i.indexrelid))
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
	 WHERE c.relnamespace = 'trades_kafka'::regnamespace
	UNION ALL
	SELECT format('relation %s kind %s acl %s comment %s', c.relname, c.relkind,
			c.relacl, obj_description(c.oid, 'pg_class'))
	  FROM pg_class c WHERE c.relnamespace = 'trades_kafka'::regnamespace
	UNION ALL
	SELECT format('function %s acl %s comment %s', pg_get_functiondef(p.oid),
			p.proacl, obj_description(p.oid, 'pg_proc'))
	  FROM pg_proc p WHERE p.pronamespace = 'trades_kafka'::regnamespace
	UNION ALL
	SELECT format('member %s', pg_describe_object(classid, objid, 0))
	  FROM pg_depend
	 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'trades_kafka')
	UNION ALL
	SELECT format('config dump %s', unnest(extconfig)::regclass)
	  FROM pg_extension WHERE extname = 'trades_kafka'
$$;

SELECT extversion FROM pg_extension WHERE extname = 'trades_kafka';
CREATE TEMP TABLE current_shape AS SELECT regress_shape() AS line;
SELECT source, target, path FROM pg_extension_update_paths('trades_kafka')
 WHERE path IS NOT NULL ORDER BY source, target;

-- 0.1.0, with data in every table
DROP EXTENSION trades_kafka;
CREATE EXTENSION trades_kafka VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'trades_kafka';
SELECT collation_name FROM information_schema.columns
 WHERE table_schema = 'trades_kafka' AND table_name = 'trades' AND column_name = 'trade_id';
INSERT INTO trades_kafka.trades (trade_id, version, counter_party_id, book_id,
	maturity_date, created_date, kafka_topic, kafka_partition, kafka_offset)
SELECT id, v, 'CP-1', 'B1', date '2030-01-01', date '2026-01-01', 'up', 0, n
  FROM unnest(ARRAY['b7', 'B7', 'a7', 'T-10', 'T-9']) WITH ORDINALITY AS u(id, n)
 CROSS JOIN generate_series(1, 3) AS v;
INSERT INTO trades_kafka.rejects (kafka_topic, kafka_partition, kafka_offset, payload, reason)
VALUES ('up', 0, 100, 'nope', 'invalid_json');
INSERT INTO trades_kafka.offsets (group_id, topic, partition, next_offset)
VALUES ('g_up', 'up', 0, 101), ('g_up', 'up', 1, 7);
INSERT INTO trades_kafka.jobs (topic, group_id, brokers, workers, enabled)
VALUES ('up', 'g_up', '127.0.0.1:1', 2, false);
CREATE TEMP TABLE before AS
SELECT (SELECT string_agg(format('%s/%s@%s', trade_id, version, kafka_offset), ' '
			ORDER BY kafka_offset, version) FROM trades_kafka.trades) AS trades,
	   (SELECT string_agg(format('%s:%s', partition, next_offset), ' ' ORDER BY partition)
		  FROM trades_kafka.offsets) AS offsets,
	   (SELECT count(*) FROM trades_kafka.rejects) AS rejects,
	   (SELECT count(*) FROM trades_kafka.jobs) AS jobs;

ALTER EXTENSION trades_kafka UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'trades_kafka';
SELECT collation_name FROM information_schema.columns
 WHERE table_schema = 'trades_kafka' AND table_name = 'trades' AND column_name = 'trade_id';

-- every row and offset kept
SELECT (SELECT string_agg(format('%s/%s@%s', trade_id, version, kafka_offset), ' '
			ORDER BY kafka_offset, version) FROM trades_kafka.trades) = trades AS trades_kept,
	   (SELECT string_agg(format('%s:%s', partition, next_offset), ' ' ORDER BY partition)
		  FROM trades_kafka.offsets) = offsets AS offsets_kept,
	   (SELECT count(*) FROM trades_kafka.rejects) = rejects AS rejects_kept,
	   (SELECT count(*) FROM trades_kafka.jobs) = jobs AS jobs_kept
  FROM before;
-- ids now sort by bytes: upper case before lower case
SELECT DISTINCT trade_id FROM trades_kafka.trades ORDER BY trade_id;
-- the rebuilt primary key still refuses a second (trade_id, version)
INSERT INTO trades_kafka.trades (trade_id, version, counter_party_id, book_id,
	maturity_date, created_date, kafka_topic, kafka_partition, kafka_offset)
VALUES ('B7', 2, 'CP-1', 'B1', date '2030-01-01', date '2026-01-01', 'up', 0, 200);

-- the same objects as a fresh installation of this version
SELECT 'only after update: ' || line FROM (SELECT regress_shape() EXCEPT SELECT line FROM current_shape) d(line)
UNION ALL
SELECT 'only when installed: ' || line FROM (SELECT line FROM current_shape EXCEPT SELECT regress_shape()) d(line);

DELETE FROM trades_kafka.trades;
DELETE FROM trades_kafka.rejects;
DELETE FROM trades_kafka.offsets;
DELETE FROM trades_kafka.jobs;
DROP FUNCTION regress_shape();
