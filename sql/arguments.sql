--
-- arguments: bad arguments and options fail in start(), clearly
--
SET trades_kafka.broker_timeout = 1000;

SELECT trades_kafka.start(brokers => NULL);
SELECT trades_kafka.start(brokers => '');
SELECT trades_kafka.start(brokers => '127.0.0.1:1', topic => '');
SELECT trades_kafka.start(brokers => '127.0.0.1:1', topic => NULL);
SELECT trades_kafka.start(brokers => '127.0.0.1:1', topic => 'no spaces');
SELECT trades_kafka.start(brokers => '127.0.0.1:1', topic => repeat('t', 250));
SELECT trades_kafka.start(brokers => '127.0.0.1:1', group_id => '');
SELECT trades_kafka.start(brokers => '127.0.0.1:1', workers => 0);
SELECT trades_kafka.start(brokers => '127.0.0.1:1', workers => 65);
SELECT trades_kafka.start(brokers => '127.0.0.1:1', workers => NULL);

-- options are librdkafka properties, checked by librdkafka itself
SELECT trades_kafka.start(brokers => '127.0.0.1:1', options => '[1, 2]');
SELECT trades_kafka.start(brokers => '127.0.0.1:1', options => '{"fetch.wait.max.ms": {"a": 1}}');
SELECT trades_kafka.start(brokers => '127.0.0.1:1', options => '{"no.such.property": "1"}');
SELECT trades_kafka.start(brokers => '127.0.0.1:1', options => '{"session.timeout.ms": "soon"}');
SELECT trades_kafka.start(brokers => '127.0.0.1:1', options => '{"security.protocol": "carrier_pigeon"}');
SELECT trades_kafka.start(brokers => '127.0.0.1:1', options => '{"enable.auto.commit": true}');
SELECT trades_kafka.start(brokers => '127.0.0.1:1', options => '{"group.id": "other"}');

-- nothing was recorded by the failed calls
SELECT count(*) FROM trades_kafka.jobs;

-- a job whose broker does not answer still starts; its worker reports it
SELECT trades_kafka.start(brokers => '127.0.0.1:1', topic => 'regress_args',
	group_id => 'regress', options => '{"fetch.wait.max.ms": 50}');
SELECT regress_wait_for($$(SELECT count(*) = 1 FROM trades_kafka.status() WHERE topic = 'regress_args')$$);
SELECT topic, group_id, partitions, consumed, stored, rejected
  FROM trades_kafka.status() WHERE topic = 'regress_args';
SELECT topic, group_id, workers, options, enabled FROM trades_kafka.jobs;
-- nothing listens there: the worker says so in status()
SELECT regress_wait_for($$(SELECT state = 'broker unreachable' AND last_error IS NOT NULL
	FROM trades_kafka.status() WHERE topic = 'regress_args')$$);

-- the same job cannot run twice
SELECT trades_kafka.start(brokers => '127.0.0.1:1', topic => 'regress_args', group_id => 'regress');

-- lag() asks the brokers, and says so when they do not answer
\set VERBOSITY terse
SELECT * FROM trades_kafka.lag(topic => 'regress_args');
\set VERBOSITY default
-- no job matches: no rows
SELECT * FROM trades_kafka.lag(topic => 'no_such_topic');

-- stop() waits for the worker and disables the job
SELECT trades_kafka.stop(topic => 'regress_args');
SELECT count(*) FROM trades_kafka.status() WHERE topic = 'regress_args';
SELECT topic, enabled FROM trades_kafka.jobs;
-- stopping again matches the job but no worker
SELECT trades_kafka.stop();
DELETE FROM trades_kafka.jobs;
