/*-------------------------------------------------------------------------
 *
 * store.h
 *	  Storing a batch of Kafka messages through SPI: the trade-store rules,
 *	  trades, rejects and offsets in the caller's transaction.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRADES_KAFKA_STORE_H
#define TRADES_KAFKA_STORE_H

#include "trade.h"

/* One Kafka message of a batch; the bytes stay owned by librdkafka */
typedef struct TkMessage
{
	int32		partition;
	int64		offset;
	const char *key;			/* NULL when the message has no key */
	size_t		key_len;
	const char *payload;		/* NULL for an empty message */
	size_t		len;

	/* filled by tk_store_batch */
	TradeReason parse_reason;	/* what the parser said */
	TradeReason reason;			/* where the message ended */
	char	   *detail;
	Trade	   *trade;			/* when parse_reason is TRADE_OK */
} TkMessage;

/* Where the worker believes a partition's next offset stands */
typedef struct TkPartitionPos
{
	int32		partition;
	bool		known;			/* false: no row in offsets yet */
	int64		next_offset;
} TkPartitionPos;

typedef struct TkBatch
{
	const char *topic;
	const char *group_id;
	TkMessage  *messages;		/* in poll order */
	int			nmessages;

	/* results */
	int64		stored;
	int64		rejected_by_reason[TRADE_REASON_COUNT];
	/* per partition of the batch: the next offset after it */
	int			npartitions;
	int32	   *partitions;
	int64	   *next_offsets;
} TkBatch;

/*
 * Store a batch in the current transaction (SPI connected, snapshot set).
 * positions (npositions entries) fence the offsets: if PostgreSQL's offsets
 * differ from what this worker expects, another consumer wrote them and the
 * batch fails with an ERROR.  Per-message failures become rejects.
 */
extern void tk_store_batch(TkBatch *batch, TradeParser *parser,
						   const TkPartitionPos *positions, int npositions);

/*
 * Read offsets for partitions of (group_id, topic): next_offsets[i] is -1
 * where PostgreSQL has no row.
 */
extern void tk_store_read_offsets(const char *group_id, const char *topic,
								  const int32 *partitions, int n,
								  int64 *next_offsets);

/*
 * After the transaction of a stored batch committed: remember the highest
 * version of its trade_ids, so that later batches need not look them up.
 */
extern void tk_store_batch_committed(const TkBatch *batch);

/* Forget those versions: the worker's partitions changed */
extern void tk_store_forget_versions(void);

/* Rule 3: mark matured trades expired; returns rows changed */
extern int64 tk_store_expire(void);

#endif							/* TRADES_KAFKA_STORE_H */
