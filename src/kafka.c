/*-------------------------------------------------------------------------
 *
 * kafka.c
 *	  The librdkafka side of trades_kafka.
 *
 * librdkafka runs threads of its own, and PostgreSQL's API (ereport,
 * palloc, latches, SPI) may only be used from the process's main thread.
 * So every callback here only copies what it was told into a small queue
 * guarded by a mutex, using nothing but malloc-free memcpy and librdkafka's
 * own list copy, and returns.  The worker drains the queue on its own
 * thread after each poll (tk_kafka_next_event) and does the logging,
 * status updates and partition assignment there.
 *
 * With log.queue=true and the main queue forwarded to the consumer queue,
 * librdkafka serves log, error and rebalance callbacks from
 * rd_kafka_consumer_poll() on the worker's thread anyway; the queue keeps
 * them safe even if that ever changes, and keeps PostgreSQL errors from
 * unwinding through librdkafka's frames.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <pthread.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "kafka.h"

#define TK_EVENT_RING		256
#define TK_REBALANCE_RING	16

/* Properties the worker sets itself: exactly-once depends on them */
static const char *const tk_reserved_options[] = {
	"bootstrap.servers",
	"metadata.broker.list",
	"group.id",
	"enable.auto.commit",
	"auto.commit.enable",
	"enable.auto.offset.store",
	"enable.partition.eof",
	"log.queue",
	NULL
};

/* Defaults the worker sets, which options may override */
static const char *const tk_default_options[][2] = {
	{"auto.offset.reset", "earliest"},
	{"session.timeout.ms", "10000"},
	{"client.id", "trades_kafka"},
	{"queued.max.messages.kbytes", "16384"},
	{NULL, NULL}
};

/* The callback queue: written on any thread, read on the worker's */
static pthread_mutex_t tk_event_mutex = PTHREAD_MUTEX_INITIALIZER;
static TkKafkaEvent tk_events[TK_EVENT_RING];
static int	tk_event_head = 0;
static int	tk_event_count = 0;
static int	tk_events_dropped = 0;
static TkKafkaEvent tk_rebalances[TK_REBALANCE_RING];
static int	tk_rebalance_head = 0;
static int	tk_rebalance_count = 0;

/* Set while closing: the rebalance callback then revokes by itself */
static volatile bool tk_closing = false;

static void tk_push_event(const TkKafkaEvent *event);
static void tk_log_cb(const rd_kafka_t *rk, int level, const char *fac,
					  const char *buf);
static void tk_silent_log_cb(const rd_kafka_t *rk, int level, const char *fac,
							 const char *buf);
static void tk_error_cb(rd_kafka_t *rk, int err, const char *reason,
						void *opaque);
static void tk_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
							rd_kafka_topic_partition_list_t *partitions,
							void *opaque);
static void tk_conf_set(rd_kafka_conf_t *conf, const char *name,
						const char *value, bool from_user);
static rd_kafka_conf_t *tk_conf_build(const char *brokers, const char *group_id,
									  List *options);
static rd_kafka_t *tk_client_new(rd_kafka_conf_t *conf, const char *what);

/*
 * tk_push_event: append to the queue.  A full queue drops log lines (and
 * counts them) rather than block librdkafka.
 */
static void
tk_push_event(const TkKafkaEvent *event)
{
	pthread_mutex_lock(&tk_event_mutex);
	if (event->kind == TK_EVENT_REBALANCE)
	{
		/* never more than a couple are pending: the worker answers each */
		if (tk_rebalance_count < TK_REBALANCE_RING)
		{
			int			i = (tk_rebalance_head + tk_rebalance_count) % TK_REBALANCE_RING;

			tk_rebalances[i] = *event;
			tk_rebalance_count++;
		}
	}
	else if (tk_event_count < TK_EVENT_RING)
	{
		int			i = (tk_event_head + tk_event_count) % TK_EVENT_RING;

		tk_events[i] = *event;
		tk_event_count++;
	}
	else
		tk_events_dropped++;
	pthread_mutex_unlock(&tk_event_mutex);
}

/*
 * tk_kafka_next_event: logs and errors first, in order, then rebalances;
 * a note of dropped log lines when there were any.
 */
bool
tk_kafka_next_event(TkKafkaEvent *event)
{
	bool		found = false;

	pthread_mutex_lock(&tk_event_mutex);
	if (tk_event_count > 0)
	{
		*event = tk_events[tk_event_head];
		tk_event_head = (tk_event_head + 1) % TK_EVENT_RING;
		tk_event_count--;
		found = true;
	}
	else if (tk_events_dropped > 0)
	{
		memset(event, 0, sizeof(*event));
		event->kind = TK_EVENT_LOG;
		event->level = 4;
		snprintf(event->text, sizeof(event->text),
				 "%d librdkafka log lines were dropped: the worker did not poll fast enough",
				 tk_events_dropped);
		tk_events_dropped = 0;
		found = true;
	}
	else if (tk_rebalance_count > 0)
	{
		*event = tk_rebalances[tk_rebalance_head];
		tk_rebalance_head = (tk_rebalance_head + 1) % TK_REBALANCE_RING;
		tk_rebalance_count--;
		found = true;
	}
	pthread_mutex_unlock(&tk_event_mutex);
	return found;
}

static void
tk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	TkKafkaEvent event;

	memset(&event, 0, sizeof(event));
	event.kind = TK_EVENT_LOG;
	event.level = level;
	snprintf(event.text, sizeof(event.text), "%s: %s", fac, buf);
	tk_push_event(&event);
}

/* tk_silent_log_cb: for the short-lived handles of start() and lag() */
static void
tk_silent_log_cb(const rd_kafka_t *rk, int level, const char *fac,
				 const char *buf)
{
}

static void
tk_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	TkKafkaEvent event;

	memset(&event, 0, sizeof(event));
	event.kind = TK_EVENT_ERROR;
	event.err = (rd_kafka_resp_err_t) err;
	event.fatal = (err == RD_KAFKA_RESP_ERR__FATAL);
	if (event.fatal)
	{
		char		buf[256];

		event.err = rd_kafka_fatal_error(rk, buf, sizeof(buf));
		snprintf(event.text, sizeof(event.text), "%s", buf);
	}
	else
		snprintf(event.text, sizeof(event.text), "%s", reason);
	tk_push_event(&event);
}

/*
 * tk_rebalance_cb: hand the assignment to the worker, which reads its
 * offsets from PostgreSQL and assigns.  Assigning later, outside the
 * callback, is allowed: librdkafka waits for it.
 */
static void
tk_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
				rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
	TkKafkaEvent event;

	if (tk_closing)
	{
		/* the worker has stored its last batch: just let go */
		if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0)
		{
			rd_kafka_error_t *error = rd_kafka_incremental_unassign(rk, partitions);

			if (error)
				rd_kafka_error_destroy(error);
		}
		else
			rd_kafka_assign(rk, NULL);
		return;
	}

	memset(&event, 0, sizeof(event));
	event.kind = TK_EVENT_REBALANCE;
	event.err = err;
	event.partitions = rd_kafka_topic_partition_list_copy(partitions);
	tk_push_event(&event);
}

/*
 * tk_kafka_options_from_jsonb: start()'s options are a flat JSON object of
 * librdkafka properties; numbers and booleans are accepted for convenience.
 */
List *
tk_kafka_options_from_jsonb(Jsonb *options)
{
	List	   *result = NIL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;

	if (options == NULL)
		return NIL;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object of librdkafka properties"),
				 errhint("For example: '{\"security.protocol\": \"SASL_SSL\"}'.")));

	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			name = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
		{
			TkKafkaOption *opt = palloc(sizeof(TkKafkaOption));

			opt->name = name;
			switch (v.type)
			{
				case jbvString:
					opt->value = pnstrdup(v.val.string.val, v.val.string.len);
					break;
				case jbvNumeric:
					opt->value = DatumGetCString(DirectFunctionCall1(numeric_out,
																	 NumericGetDatum(v.val.numeric)));
					break;
				case jbvBool:
					opt->value = pstrdup(v.val.boolean ? "true" : "false");
					break;
				default:
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("option \"%s\" must be a string, a number or a boolean",
									name)));
			}
			result = lappend(result, opt);
		}
	}
	return result;
}

/*
 * tk_conf_set: set one property; a bad one from the user is an error with
 * librdkafka's message, a bad one of ours a bug.
 */
static void
tk_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
			bool from_user)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
		return;

	rd_kafka_conf_destroy(conf);
	if (from_user)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid librdkafka option \"%s\"", name),
				 errdetail("librdkafka: %s", errstr)));
	elog(ERROR, "could not set librdkafka property \"%s\": %s", name, errstr);
}

/*
 * tk_conf_build: defaults, then the user's options, then what exactly-once
 * depends on.  group_id NULL builds a handle that joins no group (lag()).
 */
static rd_kafka_conf_t *
tk_conf_build(const char *brokers, const char *group_id, List *options)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	ListCell   *lc;
	int			i;

	for (i = 0; tk_default_options[i][0] != NULL; i++)
		tk_conf_set(conf, tk_default_options[i][0], tk_default_options[i][1], false);

	foreach(lc, options)
	{
		TkKafkaOption *opt = lfirst(lc);
		int			r;

		for (r = 0; tk_reserved_options[r] != NULL; r++)
		{
			if (strcmp(opt->name, tk_reserved_options[r]) == 0)
			{
				rd_kafka_conf_destroy(conf);
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" cannot be set", opt->name),
						 errdetail("trades_kafka sets it itself: exactly-once delivery depends on it."),
						 errhint("Use the brokers and group_id arguments of trades_kafka.start().")));
			}
		}
		tk_conf_set(conf, opt->name, opt->value, true);
	}

	if (brokers == NULL || brokers[0] == '\0')
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("brokers must not be empty"),
				 errhint("Give a comma-separated list of host:port, e.g. '127.0.0.1:9092'.")));
	}
	tk_conf_set(conf, "bootstrap.servers", brokers, true);
	if (group_id != NULL)
		tk_conf_set(conf, "group.id", group_id, true);
	tk_conf_set(conf, "enable.auto.commit", "false", false);
	tk_conf_set(conf, "enable.auto.offset.store", "false", false);
	tk_conf_set(conf, "enable.partition.eof", "false", false);
	tk_conf_set(conf, "log.queue", "true", false);
	return conf;
}

/*
 * tk_client_new: a consumer handle from conf (which it takes over), or an
 * error naming what could not be created, in librdkafka's words.
 */
static rd_kafka_t *
tk_client_new(rd_kafka_conf_t *conf, const char *what)
{
	char		errstr[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));

	if (rk == NULL)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not create %s", what),
				 errdetail("librdkafka: %s", errstr)));
	}
	return rk;
}

/*
 * tk_kafka_check_config: build the worker's configuration and a client from
 * it, which is where librdkafka checks properties against each other.
 */
void
tk_kafka_check_config(const char *brokers, const char *group_id, List *options)
{
	rd_kafka_conf_t *conf = tk_conf_build(brokers, group_id, options);

	rd_kafka_conf_set_log_cb(conf, tk_silent_log_cb);
	rd_kafka_destroy(tk_client_new(conf, "a Kafka consumer from this configuration"));
}

/*
 * tk_kafka_consumer_new: the worker's consumer.  Every callback only queues;
 * the main queue (logs, errors) is forwarded to the consumer queue so one
 * rd_kafka_consumer_poll() serves everything on the worker's thread.
 */
rd_kafka_t *
tk_kafka_consumer_new(const char *brokers, const char *group_id,
					  const char *topic, List *options)
{
	rd_kafka_conf_t *conf = tk_conf_build(brokers, group_id, options);
	rd_kafka_topic_partition_list_t *subscription;
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk;

	tk_closing = false;
	rd_kafka_conf_set_log_cb(conf, tk_log_cb);
	rd_kafka_conf_set_error_cb(conf, tk_error_cb);
	rd_kafka_conf_set_rebalance_cb(conf, tk_rebalance_cb);

	rk = tk_client_new(conf, "the Kafka consumer");
	rd_kafka_set_log_queue(rk, NULL);
	rd_kafka_poll_set_consumer(rk);

	subscription = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(subscription, topic, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(rk, subscription);
	rd_kafka_topic_partition_list_destroy(subscription);
	if (err)
	{
		rd_kafka_destroy(rk);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not subscribe to topic \"%s\"", topic),
				 errdetail("librdkafka: %s", rd_kafka_err2str(err))));
	}
	return rk;
}

void
tk_kafka_consumer_close(rd_kafka_t *rk)
{
	TkKafkaEvent event;

	if (rk == NULL)
		return;
	tk_closing = true;
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);

	/* forget what the closing consumer queued */
	while (tk_kafka_next_event(&event))
		if (event.partitions)
			rd_kafka_topic_partition_list_destroy(event.partitions);
}

/*
 * tk_kafka_watermarks: a short-lived handle that joins no group asks for
 * the topic's partitions, then each partition's watermarks.
 */
int
tk_kafka_watermarks(const char *brokers, List *options, const char *topic,
					int timeout_ms, int32 **partitions, int64 **low, int64 **high)
{
	rd_kafka_conf_t *conf = tk_conf_build(brokers, NULL, options);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt;
	rd_kafka_resp_err_t err;
	char		errmsg_buf[512];
	rd_kafka_t *rk;
	int			n = 0;
	int			i;

	rd_kafka_conf_set_log_cb(conf, tk_silent_log_cb);
	rk = tk_client_new(conf, "a Kafka client");

	errmsg_buf[0] = '\0';
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
	if (err)
		snprintf(errmsg_buf, sizeof(errmsg_buf), "%s", rd_kafka_err2str(err));
	else if (md->topic_cnt != 1 || md->topics[0].err)
		snprintf(errmsg_buf, sizeof(errmsg_buf), "%s",
				 rd_kafka_err2str(md->topic_cnt == 1 ? md->topics[0].err
								  : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
	else
	{
		n = md->topics[0].partition_cnt;
		*partitions = palloc(sizeof(int32) * Max(n, 1));
		*low = palloc(sizeof(int64) * Max(n, 1));
		*high = palloc(sizeof(int64) * Max(n, 1));
		for (i = 0; i < n; i++)
			(*partitions)[i] = md->topics[0].partitions[i].id;
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);

	for (i = 0; i < n && errmsg_buf[0] == '\0'; i++)
	{
		int64_t		lo,
					hi;

		err = rd_kafka_query_watermark_offsets(rk, topic, (*partitions)[i],
											   &lo, &hi, timeout_ms);
		if (err)
			snprintf(errmsg_buf, sizeof(errmsg_buf), "partition %d: %s",
					 (*partitions)[i], rd_kafka_err2str(err));
		else
		{
			(*low)[i] = lo;
			(*high)[i] = hi;
		}
	}
	rd_kafka_destroy(rk);

	if (errmsg_buf[0] != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not read the high watermarks of topic \"%s\" from brokers \"%s\"",
						topic, brokers),
				 errdetail("librdkafka: %s", errmsg_buf),
				 errhint("Check that the brokers are reachable; trades_kafka.broker_timeout bounds the wait.")));
	return n;
}
