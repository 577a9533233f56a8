--
-- objects: the tables, functions and settings users rely on
--
SELECT table_name, column_name, data_type, is_nullable
  FROM information_schema.columns
 WHERE table_schema = 'trades_kafka'
 ORDER BY table_name, ordinal_position;

SELECT conrelid::regclass AS "table", pg_get_constraintdef(oid) AS "constraint"
  FROM pg_constraint
 WHERE connamespace = 'trades_kafka'::regnamespace AND contype IN ('p', 'u')
 ORDER BY 1, 2;

SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result, p.prosecdef AS security_definer
  FROM pg_proc p
 WHERE p.pronamespace = 'trades_kafka'::regnamespace
 ORDER BY p.proname;

-- every function and table has a comment
SELECT p.proname AS missing_comment FROM pg_proc p
 WHERE p.pronamespace = 'trades_kafka'::regnamespace
   AND obj_description(p.oid, 'pg_proc') IS NULL
UNION ALL
SELECT c.relname FROM pg_class c
 WHERE c.relnamespace = 'trades_kafka'::regnamespace AND c.relkind = 'r'
   AND obj_description(c.oid, 'pg_class') IS NULL;

-- settings, with their defaults and contexts
SELECT name, boot_val, unit, context FROM pg_settings
 WHERE name LIKE 'trades_kafka.%' ORDER BY name;

-- the prefix is reserved: a typo is an error, not a silent new setting
SET trades_kafka.batch_sise = 10;

-- trades_kafka.database is a list of database names: a broken list is refused
ALTER SYSTEM SET trades_kafka.database = 'trades, "unterminated';

-- no worker runs yet
SELECT count(*) FROM trades_kafka.status();
SELECT count(*) FROM trades_kafka.lag();

-- expiry on demand: only rows whose maturity date has passed
INSERT INTO trades_kafka.trades (trade_id, version, counter_party_id, book_id,
	maturity_date, created_date, kafka_topic, kafka_partition, kafka_offset)
VALUES ('E1', 1, 'CP', 'B', current_date - 1, current_date - 10, 't', 0, 0),
       ('E2', 1, 'CP', 'B', current_date,     current_date - 10, 't', 0, 1),
       ('E3', 1, 'CP', 'B', current_date + 1, current_date - 10, 't', 0, 2);
SELECT trades_kafka.expire_trades();
SELECT trade_id, expired FROM trades_kafka.trades ORDER BY trade_id;
-- a second call finds nothing new
SELECT trades_kafka.expire_trades();
DELETE FROM trades_kafka.trades;
