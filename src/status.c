/*-------------------------------------------------------------------------
 *
 * status.c
 *	  Per-worker state in shared memory.
 *
 * Each worker owns one slot and is the only writer of it; readers
 * (status(), start(), stop()) copy slots under the same spinlock.  With
 * shared_preload_libraries the space is requested at server start; without
 * it the array is carved from the small reserve PostgreSQL keeps for late
 * allocations, which is why the slots are kept small.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "status.h"
#include "trades_kafka.h"

typedef struct TkShared
{
	slock_t		mutex;
	int			nslots;
	TkWorkerStatus slots[FLEXIBLE_ARRAY_MEMBER];
} TkShared;

static TkShared *tk_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;

static Size tk_status_shmem_size(void);
static void tk_status_shmem_request(void);
static TkShared *tk_status_attach(void);
static void tk_status_release_on_exit(int code, Datum arg);

static Size
tk_status_shmem_size(void)
{
	return add_size(offsetof(TkShared, slots),
					mul_size(tk_max_workers, sizeof(TkWorkerStatus)));
}

static void
tk_status_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(tk_status_shmem_size());
}

/* tk_status_request_shmem: called from _PG_init when preloaded */
void
tk_status_request_shmem(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = tk_status_shmem_request;
}

/*
 * tk_status_attach: find or create the slot array.  Attaching lazily works
 * both when preloaded and when loaded by a backend after start-up.
 */
static TkShared *
tk_status_attach(void)
{
	bool		found;
	TkShared   *shared;

	if (tk_shared)
		return tk_shared;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("trades_kafka status", tk_status_shmem_size(),
							 &found);
	if (!found)
	{
		memset(shared, 0, tk_status_shmem_size());
		SpinLockInit(&shared->mutex);
		shared->nslots = tk_max_workers;
	}
	LWLockRelease(AddinShmemInitLock);

	tk_shared = shared;
	return shared;
}

/*
 * tk_status_claim: take a free slot.  A worker releases its slot on every
 * exit path; one that dies without doing so makes the postmaster restart
 * every process and shared memory starts afresh.
 */
int
tk_status_claim(Oid database, int job_id, int worker_index, const char *topic,
				const char *group_id)
{
	TkShared   *shared = tk_status_attach();
	int			slot = -1;
	int			i;

	SpinLockAcquire(&shared->mutex);
	for (i = 0; i < shared->nslots; i++)
	{
		if (shared->slots[i].pid == 0)
		{
			slot = i;
			break;
		}
	}
	if (slot >= 0)
	{
		TkWorkerStatus *s = &shared->slots[slot];

		memset(s, 0, sizeof(*s));
		s->pid = MyProcPid;
		s->database = database;
		s->job_id = job_id;
		s->worker_index = worker_index;
		strlcpy(s->topic, topic, sizeof(s->topic));
		strlcpy(s->group_id, group_id, sizeof(s->group_id));
		strlcpy(s->state, "starting", sizeof(s->state));
		s->started_at = GetCurrentTimestamp();
	}
	SpinLockRelease(&shared->mutex);

	if (slot < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no free trades_kafka worker slot"),
				 errdetail("All %d slots are in use.", shared->nslots),
				 errhint("Raise trades_kafka.max_workers (needs a server restart) or stop a job.")));

	before_shmem_exit(tk_status_release_on_exit, Int32GetDatum(slot));
	return slot;
}

static void
tk_status_release_on_exit(int code, Datum arg)
{
	tk_status_release(DatumGetInt32(arg));
}

void
tk_status_release(int slot)
{
	TkShared   *shared = tk_status_attach();

	SpinLockAcquire(&shared->mutex);
	if (shared->slots[slot].pid == MyProcPid)
		shared->slots[slot].pid = 0;
	SpinLockRelease(&shared->mutex);
}

void
tk_status_set_state(int slot, const char *state)
{
	TkShared   *shared = tk_status_attach();

	SpinLockAcquire(&shared->mutex);
	strlcpy(shared->slots[slot].state, state, TK_STATE_SIZE);
	SpinLockRelease(&shared->mutex);
}

void
tk_status_set_error(int slot, const char *error)
{
	TkShared   *shared = tk_status_attach();

	SpinLockAcquire(&shared->mutex);
	strlcpy(shared->slots[slot].last_error, error ? error : "", TK_ERROR_SIZE);
	SpinLockRelease(&shared->mutex);
}

void
tk_status_set_partitions(int slot, const int32 *partitions, int n)
{
	TkShared   *shared = tk_status_attach();

	n = Min(n, TK_MAX_PARTITIONS);
	SpinLockAcquire(&shared->mutex);
	shared->slots[slot].npartitions = n;
	if (n > 0)
		memcpy(shared->slots[slot].partitions, partitions, n * sizeof(int32));
	SpinLockRelease(&shared->mutex);
}

void
tk_status_add_batch(int slot, int64 consumed, int64 stored,
					const int64 *rejected_by_reason)
{
	TkShared   *shared = tk_status_attach();
	TkWorkerStatus *s = &shared->slots[slot];
	TimestampTz now = GetCurrentTimestamp();
	int64		rejected = 0;
	int			r;

	for (r = 0; r < TRADE_REASON_COUNT; r++)
		rejected += rejected_by_reason[r];

	SpinLockAcquire(&shared->mutex);
	s->consumed += consumed;
	s->stored += stored;
	s->rejected += rejected;
	for (r = 0; r < TRADE_REASON_COUNT; r++)
		s->rejected_by_reason[r] += rejected_by_reason[r];
	s->batches++;
	s->last_batch_at = now;
	SpinLockRelease(&shared->mutex);
}

int
tk_status_snapshot(TkWorkerStatus **out)
{
	TkShared   *shared = tk_status_attach();
	TkWorkerStatus *copy;
	int			n = 0;
	int			i;

	copy = palloc(sizeof(TkWorkerStatus) * shared->nslots);
	SpinLockAcquire(&shared->mutex);
	for (i = 0; i < shared->nslots; i++)
		if (shared->slots[i].pid != 0)
			copy[n++] = shared->slots[i];
	SpinLockRelease(&shared->mutex);

	*out = copy;
	return n;
}

int
tk_status_job_pids(Oid database, int job_id, pid_t *pids, int max)
{
	TkShared   *shared = tk_status_attach();
	int			n = 0;
	int			i;

	SpinLockAcquire(&shared->mutex);
	for (i = 0; i < shared->nslots; i++)
	{
		if (shared->slots[i].pid != 0 && shared->slots[i].database == database &&
			shared->slots[i].job_id == job_id)
		{
			if (pids && n < max)
				pids[n] = shared->slots[i].pid;
			n++;
		}
	}
	SpinLockRelease(&shared->mutex);
	return n;
}
