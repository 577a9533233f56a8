/*-------------------------------------------------------------------------
 *
 * gen.h
 *	  The deterministic message generator of trades-producer: valid trades
 *	  and deliberately invalid messages of every reject kind, reproducible
 *	  from a seed.
 *
 * The generator knows nothing of Kafka, so that the unit test links it with
 * trade.c alone.  Each message carries the outcome it is meant to have at
 * the consumer (TRADE_OK or a reject reason), so that tests can check it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRADES_PRODUCER_GEN_H
#define TRADES_PRODUCER_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trade.h"

/* Bounds of the options, checked by gen_new() */
#define GEN_MAX_TRADES				10000000
#define GEN_MIN_MESSAGE_BYTES		1024
#define GEN_MAX_MESSAGE_BYTES		999000	/* stays below librdkafka's 1 MB */
#define GEN_DEFAULT_MESSAGE_BYTES	65536	/* trades_kafka.max_message_bytes */

typedef struct GenOptions
{
	uint64_t	seed;			/* same seed, same options: same bytes */
	int32_t		trades;			/* distinct trade ids T0 .. T<trades-1> */
	double		invalid_ratio;	/* share of deliberately invalid messages */
	int32_t		today;			/* days since 2000-01-01 */
	size_t		max_message_bytes;	/* the consumer's limit: too_large is above */
	int32_t		first_version;	/* the version of each trade's first message */
} GenOptions;

/*
 * One message of the stream.  value and key point into the generator and
 * stay valid until the next gen_next() or gen_free().
 */
typedef struct GenMessage
{
	const char *value;
	size_t		value_len;
	const char *key;			/* the trade id the message was made from */
	size_t		key_len;
	TradeReason expect;			/* TRADE_OK or the intended reject reason */
	int			kind;			/* index for gen_kind_name() */
	const char *field;			/* missing_field, invalid_field: the field */
	Trade		trade;			/* TRADE_OK, TRADE_STALE_VERSION: what was
								 * written; otherwise the trade the message
								 * was made from */
	int32_t		stored_version; /* TRADE_STALE_VERSION: a higher version sent
								 * earlier under the same key */
} GenMessage;

typedef struct Generator Generator;

/*
 * gen_new: a generator for opts, or NULL with a one-line reason in err
 * (bad option or out of memory).
 */
extern Generator *gen_new(const GenOptions *opts, char *err, size_t errsize);
extern void gen_free(Generator *gen);

/* gen_next: the next message of the stream (never NULL) */
extern const GenMessage *gen_next(Generator *gen);

/* The kinds of message, valid ones first, e.g. "invalid_field/version_string" */
extern int	gen_kind_count(void);
extern const char *gen_kind_name(int kind);
extern TradeReason gen_kind_reason(int kind);

#endif							/* TRADES_PRODUCER_GEN_H */
