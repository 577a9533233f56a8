/*-------------------------------------------------------------------------
 *
 * status.h
 *	  Per-worker state in shared memory, read by trades_kafka.status().
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRADES_KAFKA_STATUS_H
#define TRADES_KAFKA_STATUS_H

#include "datatype/timestamp.h"

#include "trade.h"

#define TK_NAME_SIZE		256
#define TK_STATE_SIZE		32
#define TK_ERROR_SIZE		256
#define TK_MAX_PARTITIONS	128

/* What one worker publishes; copied whole under the spinlock */
typedef struct TkWorkerStatus
{
	pid_t		pid;			/* 0 = free slot */
	Oid			database;
	int			job_id;
	int			worker_index;
	char		topic[TK_NAME_SIZE];
	char		group_id[TK_NAME_SIZE];
	char		state[TK_STATE_SIZE];
	int			npartitions;
	int32		partitions[TK_MAX_PARTITIONS];
	int64		consumed;
	int64		stored;
	int64		rejected;
	int64		batches;
	int64		rejected_by_reason[TRADE_REASON_COUNT];
	TimestampTz last_batch_at;
	TimestampTz started_at;
	char		last_error[TK_ERROR_SIZE];
} TkWorkerStatus;

extern void tk_status_request_shmem(void);

/* Claim a slot for this process; ereports if none is free */
extern int	tk_status_claim(Oid database, int job_id, int worker_index, const char *topic,
							const char *group_id);
extern void tk_status_release(int slot);

/* Update the calling worker's slot (short critical sections) */
extern void tk_status_set_state(int slot, const char *state);
extern void tk_status_set_error(int slot, const char *error);
extern void tk_status_set_partitions(int slot, const int32 *partitions, int n);
extern void tk_status_add_batch(int slot, int64 consumed, int64 stored,
								const int64 *rejected_by_reason);

/* Copy every slot in use into a palloc'd array; returns how many */
extern int	tk_status_snapshot(TkWorkerStatus **out);

/* Count (and optionally list the pids of) live workers of a job */
extern int	tk_status_job_pids(Oid database, int job_id, pid_t *pids,
							   int max);

#endif							/* TRADES_KAFKA_STATUS_H */
