/*-------------------------------------------------------------------------
 *
 * kafka.h
 *	  The librdkafka side of trades_kafka: configuration from start()'s
 *	  arguments, the worker's consumer and its callback queue, and the
 *	  short-lived handle lag() uses to ask for high watermarks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRADES_KAFKA_KAFKA_H
#define TRADES_KAFKA_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

/* One librdkafka property from start()'s options */
typedef struct TkKafkaOption
{
	char	   *name;
	char	   *value;
} TkKafkaOption;

/* What a librdkafka callback left for the worker's own thread */
typedef enum TkKafkaEventKind
{
	TK_EVENT_LOG,
	TK_EVENT_ERROR,
	TK_EVENT_REBALANCE
} TkKafkaEventKind;

typedef struct TkKafkaEvent
{
	TkKafkaEventKind kind;
	int			level;			/* syslog level, for TK_EVENT_LOG */
	rd_kafka_resp_err_t err;	/* for TK_EVENT_ERROR and TK_EVENT_REBALANCE */
	bool		fatal;			/* for TK_EVENT_ERROR */
	rd_kafka_topic_partition_list_t *partitions;	/* TK_EVENT_REBALANCE;
													 * the caller destroys it */
	char		text[512];
} TkKafkaEvent;

/* Parse start()'s options (a jsonb object of scalars); ereports if bad */
extern List *tk_kafka_options_from_jsonb(Jsonb *options);

/*
 * Check brokers, group and options the way a worker will use them, so a bad
 * property fails in start() with librdkafka's own message.
 */
extern void tk_kafka_check_config(const char *brokers, const char *group_id,
								  List *options);

/* The worker's consumer, subscribed to topic; ereports on failure */
extern rd_kafka_t *tk_kafka_consumer_new(const char *brokers,
										 const char *group_id,
										 const char *topic, List *options);

/*
 * Close the consumer (leaving the group) and destroy it.  Safe to call on
 * any exit path, also with NULL.
 */
extern void tk_kafka_consumer_close(rd_kafka_t *rk);

/* Take the next event queued by a callback; false when none is left */
extern bool tk_kafka_next_event(TkKafkaEvent *event);

/*
 * Ask the brokers for the partitions of topic and their low and high
 * watermarks.  Returns the number of partitions and palloc'd arrays;
 * ereports if the brokers do not answer within timeout_ms.
 */
extern int	tk_kafka_watermarks(const char *brokers, List *options,
								const char *topic, int timeout_ms,
								int32 **partitions, int64 **low, int64 **high);

#endif							/* TRADES_KAFKA_KAFKA_H */
