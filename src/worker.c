/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The trades_kafka background worker.
 *
 * One worker is one member of a Kafka consumer group.  Its loop polls up to
 * trades_kafka.batch_size messages or for trades_kafka.batch_timeout, then
 * stores the batch in one transaction: trades, rejects and the offsets it
 * came from (store.c).  Because data and offsets commit together, a crash
 * at any point loses both and the messages are read again: exactly once.
 * Offsets are also committed to Kafka afterwards, only so that Kafka's own
 * tools show the group's lag.
 *
 * On assignment the worker reads each partition's next offset from
 * PostgreSQL and assigns at it.  Rebalances reach the worker as queued
 * events (kafka.c); a revocation is answered only after the batch in hand
 * is stored, so no other consumer reads those partitions before it commits.
 *
 * SIGTERM (trades_kafka.stop(), server shutdown) ends the loop within a
 * poll interval; the worker stores what it holds, leaves the group and
 * exits 0, which tells the postmaster not to restart it.  An ERROR exits 1
 * and the postmaster starts the worker again after
 * trades_kafka.restart_interval.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <librdkafka/rdkafka.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "kafka.h"
#include "launcher.h"
#include "status.h"
#include "store.h"
#include "trade.h"
#include "trades_kafka.h"
#include "worker.h"

/* How long a new worker waits for start()'s transaction to commit */
#define TK_JOB_WAIT_MS		30000
/* Longest single poll, so SIGTERM and events are seen promptly */
#define TK_POLL_MS			100

/* The job this worker serves, read from trades_kafka.jobs */
typedef struct TkJob
{
	int			id;
	char	   *topic;
	char	   *group_id;
	char	   *brokers;
	List	   *options;
	bool		reset_to_end;	/* auto.offset.reset is latest */
	int			worker_index;
	int			nworkers;
} TkJob;

static volatile sig_atomic_t got_sigterm = false;

static TkJob job;
static int	status_slot = -1;
static rd_kafka_t *consumer = NULL;
static MemoryContext worker_context = NULL;
static MemoryContext batch_context = NULL;
static TradeParser *parser = NULL;

/* messages held until their batch commits */
static rd_kafka_message_t **held = NULL;
static int	nheld = 0;
static int	held_size = 0;

/* where each assigned partition stands */
static TkPartitionPos *positions = NULL;
static int	npositions = 0;
static int	positions_size = 0;

/* the broker was last seen unreachable; checked again every second */
static bool broker_down = false;
static TimestampTz broker_checked_at = 0;

/* for the periodic summary */
static int64 summary_stored = 0;
static int64 summary_rejected[TRADE_REASON_COUNT];
static TimestampTz summary_since = 0;

static void tk_worker_sigterm(SIGNAL_ARGS);
static void tk_worker_shutdown(int code, Datum arg);
static bool tk_worker_load_job(int job_id, int64 generation);
static void tk_worker_drop_held(void);
static void tk_worker_serve_events(void);
static void tk_worker_rebalance(TkKafkaEvent *event);
static void tk_worker_store_held(void);
static void tk_worker_commit_to_kafka(const TkBatch *batch);
static void tk_worker_expire(void);
static void tk_worker_log_summary(void);
static void tk_worker_publish_partitions(void);
static TkPartitionPos *tk_worker_position(int32 partition, bool create);
static void tk_worker_check_broker(void);
static void tk_worker_broker_answers(void);

static void
tk_worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * tk_worker_shutdown: on every exit path, give back the messages and leave
 * the consumer group, so the partitions move to another member at once
 * instead of after the session timeout.
 */
static void
tk_worker_shutdown(int code, Datum arg)
{
	tk_worker_drop_held();
	if (consumer != NULL)
	{
		rd_kafka_t *rk = consumer;

		consumer = NULL;
		tk_kafka_consumer_close(rk);
	}
	if (parser != NULL)
	{
		trade_parser_free(parser);
		parser = NULL;
	}
}

static void
tk_worker_drop_held(void)
{
	int			i;

	for (i = 0; i < nheld; i++)
		rd_kafka_message_destroy(held[i]);
	nheld = 0;
}

/*
 * tk_worker_load_job: read the job.  start() launches workers before its
 * transaction commits, so wait (bounded) until the row of this worker's
 * generation is visible.  Returns false when the worker has nothing to do:
 * the job is gone, disabled, or started again since (a newer generation
 * has workers of its own).
 */
static bool
tk_worker_load_job(int job_id, int64 generation)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   TK_JOB_WAIT_MS);

	for (;;)
	{
		Oid			argtypes[1] = {INT4OID};
		Datum		values[1] = {Int32GetDatum(job_id)};
		bool		found = false;
		bool		enabled = false;
		int64		row_generation = 0;
		int			ret;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		/* after DROP EXTENSION a restarted worker has nothing to serve */
		ret = SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'trades_kafka'",
						  true, 1);
		if (ret != SPI_OK_SELECT || SPI_processed == 0)
		{
			SPI_finish();
			PopActiveSnapshot();
			CommitTransactionCommand();
			ereport(LOG,
					(errmsg("trades_kafka worker of job %d exits: the extension was dropped",
							job_id)));
			return false;
		}
		ret = SPI_execute_with_args("SELECT topic, group_id, brokers, options, enabled, generation"
									"  FROM trades_kafka.jobs WHERE id = $1",
									1, argtypes, values, NULL, true, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read trades_kafka.jobs: %s", SPI_result_code_string(ret));
		if (SPI_processed == 1)
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			MemoryContext old = MemoryContextSwitchTo(worker_context);

			found = true;
			job.topic = SPI_getvalue(tup, desc, 1);
			job.group_id = SPI_getvalue(tup, desc, 2);
			job.brokers = SPI_getvalue(tup, desc, 3);
			job.options = tk_kafka_options_from_jsonb(DatumGetJsonbP(SPI_getbinval(tup, desc, 4, &isnull)));
			enabled = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
			row_generation = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
			MemoryContextSwitchTo(old);
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(worker_context);

		if (found && row_generation > generation)
		{
			ereport(LOG,
					(errmsg("trades_kafka worker of job %d exits: the job was started again since",
							job_id)));
			return false;
		}
		if (found && row_generation == generation)
		{
			if (!enabled)
				ereport(LOG,
						(errmsg("trades_kafka worker of job %d exits: the job is stopped",
								job_id)));
			return enabled;
		}
		if (GetCurrentTimestamp() >= deadline)
		{
			ereport(LOG,
					(errmsg("trades_kafka worker of job %d exits: the job was not committed within %d ms",
							job_id, TK_JOB_WAIT_MS),
					 errdetail("The transaction that called trades_kafka.start() probably rolled back.")));
			return false;
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (got_sigterm)
			return false;
	}
}

static TkPartitionPos *
tk_worker_position(int32 partition, bool create)
{
	int			i;

	for (i = 0; i < npositions; i++)
		if (positions[i].partition == partition)
			return &positions[i];
	if (!create)
		return NULL;
	if (npositions == positions_size)
	{
		positions_size = Max(16, positions_size * 2);
		positions = positions == NULL
			? MemoryContextAlloc(worker_context, sizeof(TkPartitionPos) * positions_size)
			: repalloc(positions, sizeof(TkPartitionPos) * positions_size);
	}
	positions[npositions].partition = partition;
	positions[npositions].known = false;
	positions[npositions].next_offset = -1;
	return &positions[npositions++];
}

static void
tk_worker_publish_partitions(void)
{
	int32		parts[TK_MAX_PARTITIONS];
	int			n = Min(npositions, TK_MAX_PARTITIONS);
	int			i;

	for (i = 0; i < n; i++)
		parts[i] = positions[i].partition;
	tk_status_set_partitions(status_slot, parts, n);
}

/*
 * tk_worker_rebalance: answer an assignment with offsets read from
 * PostgreSQL, a revocation by letting go (the batch in hand is already
 * stored).
 */
static void
tk_worker_rebalance(TkKafkaEvent *event)
{
	rd_kafka_topic_partition_list_t *parts = event->partitions;
	bool		cooperative = strcmp(rd_kafka_rebalance_protocol(consumer), "COOPERATIVE") == 0;
	rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	int			i;

	/* another member may have stored these partitions' trades meanwhile */
	tk_store_forget_versions();

	if (event->err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
	{
		int32	   *ids = palloc(sizeof(int32) * Max(parts->cnt, 1));
		int64	   *next = palloc(sizeof(int64) * Max(parts->cnt, 1));
		StringInfoData list;

		for (i = 0; i < parts->cnt; i++)
			ids[i] = parts->elems[i].partition;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		tk_store_read_offsets(job.group_id, job.topic, ids, parts->cnt, next);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(batch_context);

		initStringInfo(&list);
		for (i = 0; i < parts->cnt; i++)
		{
			TkPartitionPos *pos = tk_worker_position(ids[i], true);

			pos->known = next[i] >= 0;
			pos->next_offset = next[i];
			parts->elems[i].offset = pos->known ? next[i]
				: job.reset_to_end ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
			if (pos->known)
				appendStringInfo(&list, "%s%d@%lld", i ? ", " : "", ids[i],
								 (long long) next[i]);
			else
				appendStringInfo(&list, "%s%d@%s", i ? ", " : "", ids[i],
								 job.reset_to_end ? "end" : "beginning");
		}
		if (cooperative)
			error = rd_kafka_incremental_assign(consumer, parts);
		else
			err = rd_kafka_assign(consumer, parts);
		ereport(LOG,
				(errmsg("trades_kafka worker %d/%d of job %d assigned partitions of topic \"%s\": %s",
						job.worker_index + 1, job.nworkers, job.id, job.topic,
						parts->cnt ? list.data : "none")));
	}
	else
	{
		for (i = 0; i < parts->cnt; i++)
		{
			TkPartitionPos *pos = tk_worker_position(parts->elems[i].partition, false);

			if (pos != NULL)
				*pos = positions[--npositions];
		}
		if (!cooperative)
			npositions = 0;
		if (cooperative)
			error = rd_kafka_incremental_unassign(consumer, parts);
		else
			err = rd_kafka_assign(consumer, NULL);
		ereport(LOG,
				(errmsg("trades_kafka worker %d/%d of job %d released %d partitions of topic \"%s\"",
						job.worker_index + 1, job.nworkers, job.id, parts->cnt,
						job.topic)));
	}
	rd_kafka_topic_partition_list_destroy(parts);
	event->partitions = NULL;

	if (error != NULL)
	{
		char	   *msg = pstrdup(rd_kafka_error_string(error));

		rd_kafka_error_destroy(error);
		ereport(ERROR,
				(errmsg("could not change the partition assignment of topic \"%s\"", job.topic),
				 errdetail("librdkafka: %s", msg)));
	}
	if (err)
		ereport(ERROR,
				(errmsg("could not change the partition assignment of topic \"%s\"", job.topic),
				 errdetail("librdkafka: %s", rd_kafka_err2str(err))));

	tk_worker_publish_partitions();
	tk_status_set_state(status_slot, npositions > 0 ? "consuming" : "waiting");
}

/*
 * tk_worker_serve_events: log what librdkafka said, note errors in the
 * status, and answer rebalances once the held batch is stored.
 */
static void
tk_worker_serve_events(void)
{
	TkKafkaEvent event;

	while (tk_kafka_next_event(&event))
	{
		if (event.kind == TK_EVENT_REBALANCE)
		{
			tk_worker_store_held();
			tk_worker_rebalance(&event);
			continue;
		}
		if (event.kind == TK_EVENT_LOG)
		{
			int			elevel = event.level <= 4 ? LOG : event.level <= 6 ? DEBUG1 : DEBUG2;

			/*
			 * Offsets committed to Kafka are only informative (PostgreSQL
			 * holds the truth), and they fail on every batch while the
			 * coordinator is away: not worth a line each at LOG.
			 */
			if (strncmp(event.text, "COMMITFAIL:", 11) == 0)
				elevel = DEBUG1;
			ereport(elevel,
					(errmsg("trades_kafka worker %d/%d of job %d: librdkafka: %s",
							job.worker_index + 1, job.nworkers, job.id, event.text)));
			continue;
		}

		/* TK_EVENT_ERROR */
		tk_status_set_error(status_slot, event.text);
		if (event.fatal)
			ereport(ERROR,
					(errmsg("the Kafka consumer of topic \"%s\" failed", job.topic),
					 errdetail("librdkafka: %s: %s", rd_kafka_err2name(event.err), event.text)));
		if (event.err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
			event.err == RD_KAFKA_RESP_ERR__TRANSPORT ||
			event.err == RD_KAFKA_RESP_ERR__RESOLVE)
		{
			broker_down = true;
			broker_checked_at = GetCurrentTimestamp();
			tk_status_set_state(status_slot, "broker unreachable");
		}
		ereport(LOG,
				(errmsg("trades_kafka worker %d/%d of job %d: Kafka error %s: %s",
						job.worker_index + 1, job.nworkers, job.id,
						rd_kafka_err2name(event.err), event.text)));
	}
}

/*
 * tk_worker_commit_to_kafka: tell Kafka where the group stands, for its
 * own lag tools.  PostgreSQL's offsets table is the truth; a failed commit
 * here costs nothing.
 */
static void
tk_worker_commit_to_kafka(const TkBatch *batch)
{
	rd_kafka_topic_partition_list_t *list;
	int			i;

	list = rd_kafka_topic_partition_list_new(batch->npartitions);
	for (i = 0; i < batch->npartitions; i++)
		rd_kafka_topic_partition_list_add(list, job.topic,
										  batch->partitions[i])->offset = batch->next_offsets[i];
	(void) rd_kafka_commit(consumer, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
}

/*
 * tk_worker_store_held: store the held messages as one batch in one
 * transaction, then move the positions, count, and give the messages back.
 */
static void
tk_worker_store_held(void)
{
	TkBatch		batch;
	MemoryContext old;
	int			i;
	int			r;
	int64		consumed = nheld;

	if (nheld == 0)
		return;

	old = MemoryContextSwitchTo(batch_context);
	memset(&batch, 0, sizeof(batch));
	batch.topic = job.topic;
	batch.group_id = job.group_id;
	batch.nmessages = nheld;
	batch.messages = palloc0(sizeof(TkMessage) * nheld);
	for (i = 0; i < nheld; i++)
	{
		TkMessage  *m = &batch.messages[i];

		m->partition = held[i]->partition;
		m->offset = held[i]->offset;
		m->key = held[i]->key;
		m->key_len = held[i]->key_len;
		m->payload = held[i]->payload;
		m->len = held[i]->payload ? held[i]->len : 0;
	}

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "storing a batch of trades");
	MemoryContextSwitchTo(batch_context);

	tk_store_batch(&batch, parser, positions, npositions);

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(batch_context);
	tk_store_batch_committed(&batch);

	for (i = 0; i < batch.npartitions; i++)
	{
		TkPartitionPos *pos = tk_worker_position(batch.partitions[i], true);

		pos->known = true;
		pos->next_offset = batch.next_offsets[i];
	}
	tk_worker_commit_to_kafka(&batch);
	tk_status_add_batch(status_slot, consumed, batch.stored, batch.rejected_by_reason);
	if (broker_down)
		tk_worker_broker_answers();
	summary_stored += batch.stored;
	for (r = 0; r < TRADE_REASON_COUNT; r++)
		summary_rejected[r] += batch.rejected_by_reason[r];

	tk_worker_drop_held();
	MemoryContextSwitchTo(old);
	MemoryContextReset(batch_context);
}

/* tk_worker_expire: rule 3 on a timer, in a transaction of its own */
static void
tk_worker_expire(void)
{
	int64		expired;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "expiring matured trades");
	expired = tk_store_expire();
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(batch_context);
	pgstat_report_activity(STATE_IDLE, NULL);

	ereport(expired > 0 ? LOG : DEBUG1,
			(errmsg("trades_kafka worker of job %d marked %lld matured trades as expired",
					job.id, (long long) expired)));
}

/*
 * tk_worker_log_summary: one line per trades_kafka.log_interval with what
 * was stored and rejected since the last one, and the lag librdkafka last
 * saw from its fetches (no broker round trip).
 */
static void
tk_worker_log_summary(void)
{
	TimestampTz now = GetCurrentTimestamp();
	long		secs;
	int			usecs;
	double		elapsed;
	int64		rejected = 0;
	int64		lag = 0;
	bool		lag_known = npositions > 0;
	StringInfoData reasons;
	int			r;
	int			i;

	TimestampDifference(summary_since, now, &secs, &usecs);
	elapsed = secs + usecs / 1000000.0;

	initStringInfo(&reasons);
	for (r = 0; r < TRADE_REASON_COUNT; r++)
	{
		if (summary_rejected[r] == 0)
			continue;
		appendStringInfo(&reasons, "%s%s %lld", reasons.len ? ", " : "",
						 trade_reason_name(r), (long long) summary_rejected[r]);
		rejected += summary_rejected[r];
	}
	for (i = 0; i < npositions; i++)
	{
		int64_t		lo,
					hi;

		if (rd_kafka_get_watermark_offsets(consumer, job.topic, positions[i].partition,
										   &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
			hi < 0 || !positions[i].known)
			lag_known = false;
		else
			lag += Max(0, hi - positions[i].next_offset);
	}

	ereport(LOG,
			(errmsg("trades_kafka worker %d/%d of job %d (topic \"%s\", group \"%s\"): stored %lld, rejected %lld%s%s%s, %.0f msgs/s over %.0f s, lag %s",
					job.worker_index + 1, job.nworkers, job.id, job.topic, job.group_id,
					(long long) summary_stored, (long long) rejected,
					reasons.len ? " (" : "", reasons.data, reasons.len ? ")" : "",
					elapsed > 0 ? (summary_stored + rejected) / elapsed : 0.0, elapsed,
					lag_known ? psprintf("%lld", (long long) lag) : "unknown")));

	summary_stored = 0;
	memset(summary_rejected, 0, sizeof(summary_rejected));
	summary_since = now;
}

/*
 * tk_worker_check_broker: librdkafka reports a broker going away but not
 * coming back, so while one is down, ask for metadata once a second; an
 * answer means the state in status() can say so again.
 */
static void
tk_worker_check_broker(void)
{
	const struct rd_kafka_metadata *md = NULL;
	TimestampTz now;

	if (!broker_down)
		return;
	now = GetCurrentTimestamp();
	if (!TimestampDifferenceExceeds(broker_checked_at, now, 1000))
		return;
	broker_checked_at = now;
	if (rd_kafka_metadata(consumer, 0, NULL, &md, 200) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	rd_kafka_metadata_destroy(md);
	tk_worker_broker_answers();
}

/*
 * tk_worker_broker_answers: the brokers were unreachable and answer again
 * (metadata came back, or a batch was fetched and stored): say so.
 */
static void
tk_worker_broker_answers(void)
{
	broker_down = false;
	tk_status_set_state(status_slot, npositions > 0 ? "consuming" : "waiting");
	ereport(LOG,
			(errmsg("trades_kafka worker %d/%d of job %d: the brokers answer again",
					job.worker_index + 1, job.nworkers, job.id)));
}

/*
 * tk_worker_main: entry point of a trades_kafka worker.
 */
void
tk_worker_main(Datum main_arg)
{
	TkWorkerArgs args;
	TimestampTz next_expire;
	TimestampTz next_summary;
	ListCell   *lc;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	job.id = DatumGetInt32(main_arg);
	job.worker_index = args.worker_index;
	job.nworkers = args.nworkers;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, tk_worker_sigterm);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.database, args.role, 0);
	pgstat_report_appname("trades_kafka worker");

	worker_context = AllocSetContextCreate(TopMemoryContext, "trades_kafka worker",
										   ALLOCSET_DEFAULT_SIZES);
	batch_context = AllocSetContextCreate(worker_context, "trades_kafka batch",
										  ALLOCSET_DEFAULT_SIZES);

	if (!tk_worker_load_job(job.id, args.generation))
		proc_exit(0);

	job.reset_to_end = false;
	foreach(lc, job.options)
	{
		TkKafkaOption *opt = lfirst(lc);

		if (strcmp(opt->name, "auto.offset.reset") == 0)
			job.reset_to_end = (strcmp(opt->value, "latest") == 0 ||
								strcmp(opt->value, "largest") == 0 ||
								strcmp(opt->value, "end") == 0);
	}

	status_slot = tk_status_claim(MyDatabaseId, job.id, job.worker_index,
								  job.topic, job.group_id);
	SetConfigOption("synchronous_commit", tk_synchronous_commit ? "on" : "off",
					PGC_SUSET, PGC_S_OVERRIDE);

	parser = trade_parser_new();
	if (parser == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory creating the trade parser")));
	before_shmem_exit(tk_worker_shutdown, (Datum) 0);
	consumer = tk_kafka_consumer_new(job.brokers, job.group_id, job.topic, job.options);
	tk_status_set_state(status_slot, "joining");
	ereport(LOG,
			(errmsg("trades_kafka worker %d/%d of job %d joining group \"%s\" on topic \"%s\"",
					job.worker_index + 1, job.nworkers, job.id, job.group_id, job.topic)));

	summary_since = GetCurrentTimestamp();
	next_summary = TimestampTzPlusMilliseconds(summary_since, tk_log_interval_s * 1000L);
	next_expire = summary_since;

	while (!got_sigterm)
	{
		TimestampTz deadline;
		TimestampTz now;

		/* everything the loop allocates lives until the next batch */
		MemoryContextSwitchTo(batch_context);
		MemoryContextReset(batch_context);

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			SetConfigOption("synchronous_commit", tk_synchronous_commit ? "on" : "off",
							PGC_SUSET, PGC_S_OVERRIDE);
		}
		if (!PostmasterIsAlive())
			proc_exit(1);

		if (held_size < tk_batch_size)
		{
			held = held == NULL
				? MemoryContextAlloc(worker_context, sizeof(*held) * tk_batch_size)
				: repalloc(held, sizeof(*held) * tk_batch_size);
			held_size = tk_batch_size;
		}

		/* collect a batch; rebalances are answered as they come */
		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), tk_batch_timeout_ms);
		while (nheld < tk_batch_size && !got_sigterm)
		{
			rd_kafka_message_t *msg;
			long		secs;
			int			usecs;
			int			timeout_ms;

			now = GetCurrentTimestamp();
			if (now >= deadline)
				break;
			TimestampDifference(now, deadline, &secs, &usecs);
			timeout_ms = Min(TK_POLL_MS, (int) (secs * 1000 + usecs / 1000 + 1));

			/*
			 * Hold the message before serving events: a revocation served
			 * by this same poll is answered after the held batch is stored.
			 *
			 * Once a message is held, do not wait for more: what librdkafka
			 * has fetched is in its queue already, so an empty queue means
			 * the batch is as full as it will get soon.  Storing it now
			 * instead of sitting out batch_timeout is most of the latency at
			 * low rates; under load the queue is never empty and batches
			 * still fill to batch_size.
			 */
			msg = rd_kafka_consumer_poll(consumer, nheld > 0 ? 0 : timeout_ms);
			if (msg != NULL && msg->err)
			{
				char	   *text = pstrdup(rd_kafka_message_errstr(msg));

				tk_status_set_error(status_slot, text);
				ereport(LOG,
						(errmsg("trades_kafka worker %d/%d of job %d: %s",
								job.worker_index + 1, job.nworkers, job.id, text)));
				if (msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
					msg->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
					tk_status_set_state(status_slot, "topic unavailable");
				pfree(text);
				rd_kafka_message_destroy(msg);
			}
			else if (msg != NULL)
				held[nheld++] = msg;
			tk_worker_serve_events();
			if (msg == NULL && nheld > 0)
				break;
		}

		tk_worker_store_held();
		tk_worker_check_broker();

		now = GetCurrentTimestamp();
		if (job.worker_index == 0 && tk_expire_interval_s > 0 && now >= next_expire)
		{
			tk_worker_expire();
			next_expire = TimestampTzPlusMilliseconds(now, tk_expire_interval_s * 1000L);
		}
		if (tk_log_interval_s > 0 && now >= next_summary)
		{
			tk_worker_log_summary();
			next_summary = TimestampTzPlusMilliseconds(now, tk_log_interval_s * 1000L);
		}
	}

	/* stopping: store what is held, then leave the group */
	tk_worker_store_held();
	tk_status_set_state(status_slot, "stopping");
	ereport(LOG,
			(errmsg("trades_kafka worker %d/%d of job %d leaving group \"%s\"",
					job.worker_index + 1, job.nworkers, job.id, job.group_id)));
	tk_worker_shutdown(0, (Datum) 0);
	proc_exit(0);
}
