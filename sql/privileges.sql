--
-- privileges: changing state needs a grant; nothing public shows credentials
--
CREATE ROLE regress_tk_plain;
CREATE ROLE regress_tk_operator;
GRANT USAGE ON SCHEMA trades_kafka TO regress_tk_plain, regress_tk_operator;
GRANT EXECUTE ON FUNCTION trades_kafka.start(text, text, text, integer, jsonb),
	trades_kafka.stop(text, text), trades_kafka.expire_trades() TO regress_tk_operator;

INSERT INTO trades_kafka.jobs (topic, group_id, brokers, workers, options, enabled)
VALUES ('regress_priv', 'regress', '127.0.0.1:1', 1,
	'{"sasl.username": "alice", "sasl.password": "s3cret"}', false);

SET ROLE regress_tk_plain;
SELECT trades_kafka.start(brokers => '127.0.0.1:1');
SELECT trades_kafka.stop();
SELECT trades_kafka.expire_trades();
SELECT * FROM trades_kafka.jobs;
SELECT * FROM trades_kafka.trades;
SELECT * FROM trades_kafka.rejects;
SELECT * FROM trades_kafka.offsets;
-- status() is for everyone and has no broker or credential column
SELECT count(*) FROM trades_kafka.status();
-- lag() too; it reads the job's brokers and options on the caller's behalf
SELECT count(*) FROM trades_kafka.lag(topic => 'no_such_topic');
RESET ROLE;

-- what PUBLIC may execute
SELECT p.proname, has_function_privilege('regress_tk_plain', p.oid, 'EXECUTE') AS plain_may_execute
  FROM pg_proc p WHERE p.pronamespace = 'trades_kafka'::regnamespace ORDER BY 1;

-- a role granted EXECUTE passes the privilege check (and fails on the options)
SET ROLE regress_tk_operator;
SELECT trades_kafka.start(brokers => '127.0.0.1:1', options => '{"no.such.property": "1"}');
SELECT trades_kafka.stop(topic => 'regress_priv');
SELECT trades_kafka.expire_trades();
RESET ROLE;

DELETE FROM trades_kafka.jobs;
REVOKE ALL ON SCHEMA trades_kafka FROM regress_tk_plain, regress_tk_operator;
REVOKE ALL ON FUNCTION trades_kafka.start(text, text, text, integer, jsonb),
	trades_kafka.stop(text, text), trades_kafka.expire_trades() FROM regress_tk_operator;
DROP ROLE regress_tk_plain;
DROP ROLE regress_tk_operator;
