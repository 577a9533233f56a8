/*-------------------------------------------------------------------------
 *
 * functions.c
 *	  The SQL-callable functions: start(), stop(), status(), lag() and
 *	  expire_trades().
 *
 * start, stop, expire_trades and lag are SECURITY DEFINER: who may call
 * them is decided by EXECUTE privileges alone (revoked from PUBLIC for the
 * first three), and the jobs table, which holds broker credentials, stays
 * unreadable to everyone else.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "kafka.h"
#include "launcher.h"
#include "status.h"
#include "store.h"
#include "trades_kafka.h"

#define TK_MAX_JOB_WORKERS	64

PG_FUNCTION_INFO_V1(trades_kafka_start);
PG_FUNCTION_INFO_V1(trades_kafka_stop);
PG_FUNCTION_INFO_V1(trades_kafka_status);
PG_FUNCTION_INFO_V1(trades_kafka_lag);
PG_FUNCTION_INFO_V1(trades_kafka_expire_trades);

static char *tk_text_arg(FunctionCallInfo fcinfo, int argno, const char *name);
static void tk_job_filter_args(FunctionCallInfo fcinfo, Datum *values, char *nulls);
static void tk_check_topic_name(const char *topic);

/* tk_text_arg: a text argument that must be given and not empty */
static char *
tk_text_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	char	   *value;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	value = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", name)));
	return value;
}

/*
 * tk_job_filter_args: stop() and lag() take (topic, group_id), each NULL
 * for "any", as the two parameters of their query on the jobs table.
 */
static void
tk_job_filter_args(FunctionCallInfo fcinfo, Datum *values, char *nulls)
{
	int			i;

	for (i = 0; i < 2; i++)
	{
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
}

/*
 * tk_check_topic_name: Kafka's own rule (1 to 249 of [a-zA-Z0-9._-]), so a
 * typo fails here rather than as a worker that waits forever.
 */
static void
tk_check_topic_name(const char *topic)
{
	const char *p;

	if (strlen(topic) > 249)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic name is too long"),
				 errdetail("Kafka topic names have at most 249 characters.")));
	for (p = topic; *p; p++)
	{
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid topic name \"%s\"", topic),
					 errdetail("Kafka topic names use only ASCII letters, digits, '.', '_' and '-'.")));
	}
	if (strcmp(topic, ".") == 0 || strcmp(topic, "..") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid topic name \"%s\"", topic)));
}

/*
 * trades_kafka_start: check everything that can be checked now, record the
 * job, launch its workers and return how many started.
 */
Datum
trades_kafka_start(PG_FUNCTION_ARGS)
{
	char	   *brokers = tk_text_arg(fcinfo, 0, "brokers");
	char	   *topic = tk_text_arg(fcinfo, 1, "topic");
	char	   *group_id = tk_text_arg(fcinfo, 2, "group_id");
	int			workers;
	Jsonb	   *options;
	List	   *option_list;
	Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, INT4OID, JSONBOID};
	Datum		values[5];
	int			job_id;
	int64		generation;
	Oid			owner;
	bool		isnull;
	int			ret;
	int			started;

	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workers must not be null")));
	workers = PG_GETARG_INT32(3);
	if (workers < 1 || workers > TK_MAX_JOB_WORKERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("workers must be between 1 and %d, not %d",
						TK_MAX_JOB_WORKERS, workers),
				 errhint("More workers than the topic has partitions stay idle.")));
	options = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	tk_check_topic_name(topic);

	if (GetDatabaseEncoding() != PG_UTF8 && GetDatabaseEncoding() != PG_SQL_ASCII)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("trades_kafka needs a database with UTF8 encoding"),
				 errdetail("This database uses %s; trades are UTF-8 text.",
						   GetDatabaseEncodingName()),
				 errhint("Create the extension in a database created with ENCODING 'UTF8'.")));

	/* a bad librdkafka property fails here, with librdkafka's message */
	option_list = tk_kafka_options_from_jsonb(options);
	tk_kafka_check_config(brokers, group_id, option_list);

	SPI_connect();
	values[0] = CStringGetTextDatum(topic);
	values[1] = CStringGetTextDatum(group_id);
	ret = SPI_execute_with_args("SELECT id FROM trades_kafka.jobs WHERE topic = $1 AND group_id = $2",
								2, argtypes, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read trades_kafka.jobs: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		int			existing = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 1, &isnull));
		int			running = tk_status_job_pids(MyDatabaseId, existing, NULL, 0);

		if (running > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("a job for topic \"%s\" and group \"%s\" is already running",
							topic, group_id),
					 errdetail("%d workers of job %d are running.", running, existing),
					 errhint("Call trades_kafka.stop(topic => '%s', group_id => '%s') first.",
							 topic, group_id)));
	}

	values[2] = CStringGetTextDatum(brokers);
	values[3] = Int32GetDatum(workers);
	values[4] = options ? JsonbPGetDatum(options)
		: DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	ret = SPI_execute_with_args("INSERT INTO trades_kafka.jobs AS j"
								" (topic, group_id, brokers, workers, options)"
								" VALUES ($1, $2, $3, $4, $5)"
								" ON CONFLICT (topic, group_id) DO UPDATE SET"
								" brokers = EXCLUDED.brokers, workers = EXCLUDED.workers,"
								" options = EXCLUDED.options, enabled = true,"
								" generation = j.generation + 1, updated_at = now()"
								" RETURNING id, generation,"
								" (SELECT extowner FROM pg_catalog.pg_extension"
								"   WHERE extname = 'trades_kafka')",
								5, argtypes, values, NULL, false, 1);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not record the job: %s", SPI_result_code_string(ret));
	job_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	generation = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	SPI_finish();

	started = tk_launch_workers(job_id, generation, MyDatabaseId, owner, workers, true);
	if (started < workers)
		ereport(WARNING,
				(errmsg("only %d of %d trades_kafka workers started", started, workers),
				 errhint("Check max_worker_processes and trades_kafka.max_workers.")));
	PG_RETURN_INT32(started);
}

/*
 * trades_kafka_stop: disable the matching jobs, ask their workers to stop
 * and wait (up to trades_kafka.stop_timeout) until they have left their
 * consumer group.
 */
Datum
trades_kafka_stop(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char		nulls[2];
	pid_t	   *pids = NULL;
	int			npids = 0;
	int			ret;
	uint64		i;
	TimestampTz deadline;

	tk_job_filter_args(fcinfo, values, nulls);

	SPI_connect();
	ret = SPI_execute_with_args("UPDATE trades_kafka.jobs SET enabled = false, updated_at = now()"
								" WHERE ($1::text IS NULL OR topic = $1)"
								"   AND ($2::text IS NULL OR group_id = $2)"
								" RETURNING id",
								2, argtypes, values, nulls, false, 0);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not disable jobs: %s", SPI_result_code_string(ret));

	pids = palloc(sizeof(pid_t) * tk_max_workers);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int			job_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1, &isnull));

		npids += Min(tk_status_job_pids(MyDatabaseId, job_id, pids + npids,
										tk_max_workers - npids),
					 tk_max_workers - npids);
	}
	SPI_finish();

	for (i = 0; i < npids; i++)
		(void) kill(pids[i], SIGTERM);

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), tk_stop_timeout_ms);
	for (;;)
	{
		int			alive = 0;

		for (i = 0; i < npids; i++)
			if (kill(pids[i], 0) == 0)
				alive++;
		if (alive == 0)
			break;
		if (GetCurrentTimestamp() >= deadline)
		{
			ereport(WARNING,
					(errmsg("%d trades_kafka workers did not stop within %d ms",
							alive, tk_stop_timeout_ms),
					 errhint("They stop after storing their batch; see trades_kafka.status().")));
			break;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 50, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_INT32(npids);
}

/*
 * trades_kafka_status: one row per running worker of this database.
 */
Datum
trades_kafka_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TkWorkerStatus *slots;
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	n = tk_status_snapshot(&slots);
	for (i = 0; i < n; i++)
	{
		TkWorkerStatus *s = &slots[i];
		Datum		values[12];
		bool		nulls[12];
		Datum	   *parts;
		int			p;

		/* jobs belong to a database: show this database's workers */
		if (s->database != MyDatabaseId)
			continue;
		parts = palloc(sizeof(Datum) * Max(s->npartitions, 1));
		memset(nulls, 0, sizeof(nulls));
		for (p = 0; p < s->npartitions; p++)
			parts[p] = Int32GetDatum(s->partitions[p]);
		values[0] = Int32GetDatum(s->pid);
		values[1] = CStringGetTextDatum(s->topic);
		values[2] = CStringGetTextDatum(s->group_id);
		values[3] = CStringGetTextDatum(s->state);
		values[4] = PointerGetDatum(construct_array(parts, s->npartitions, INT4OID,
													4, true, TYPALIGN_INT));
		values[5] = Int64GetDatum(s->consumed);
		values[6] = Int64GetDatum(s->stored);
		values[7] = Int64GetDatum(s->rejected);
		values[8] = Int64GetDatum(s->batches);
		values[9] = TimestampTzGetDatum(s->last_batch_at);
		nulls[9] = (s->last_batch_at == 0);
		values[10] = CStringGetTextDatum(s->last_error);
		nulls[10] = (s->last_error[0] == '\0');
		values[11] = TimestampTzGetDatum(s->started_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * trades_kafka_lag: for each matching job, each partition of its topic on
 * the brokers: the high watermark, the next offset PostgreSQL holds, and
 * the difference.  A partition never stored from counts from its low
 * watermark.
 */
Datum
trades_kafka_lag(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	char		nulls[2];
	int			ret;
	uint64		j;
	SPITupleTable *jobs;
	uint64		njobs;

	InitMaterializedSRF(fcinfo, 0);
	tk_job_filter_args(fcinfo, args, nulls);

	SPI_connect();
	ret = SPI_execute_with_args("SELECT topic, group_id, brokers, options FROM trades_kafka.jobs"
								" WHERE ($1::text IS NULL OR topic = $1)"
								"   AND ($2::text IS NULL OR group_id = $2)"
								" ORDER BY topic, group_id",
								2, argtypes, args, nulls, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read trades_kafka.jobs: %s", SPI_result_code_string(ret));
	jobs = SPI_tuptable;
	njobs = SPI_processed;

	for (j = 0; j < njobs; j++)
	{
		HeapTuple	tup = jobs->vals[j];
		bool		isnull;
		char	   *topic = SPI_getvalue(tup, jobs->tupdesc, 1);
		char	   *group_id = SPI_getvalue(tup, jobs->tupdesc, 2);
		char	   *brokers = SPI_getvalue(tup, jobs->tupdesc, 3);
		List	   *options = tk_kafka_options_from_jsonb(DatumGetJsonbP(SPI_getbinval(tup, jobs->tupdesc, 4, &isnull)));
		int32	   *partitions;
		int64	   *low;
		int64	   *high;
		int64	   *next;
		int			n;
		int			p;

		n = tk_kafka_watermarks(brokers, options, topic, tk_broker_timeout_ms,
								&partitions, &low, &high);
		next = palloc(sizeof(int64) * Max(n, 1));
		tk_store_read_offsets(group_id, topic, partitions, n, next);

		for (p = 0; p < n; p++)
		{
			Datum		values[6];
			bool		rnulls[6] = {false, false, false, false, false, false};

			values[0] = CStringGetTextDatum(topic);
			values[1] = CStringGetTextDatum(group_id);
			values[2] = Int32GetDatum(partitions[p]);
			values[3] = Int64GetDatum(next[p]);
			rnulls[3] = next[p] < 0;
			values[4] = Int64GetDatum(high[p]);
			values[5] = Int64GetDatum(Max(0, high[p] - (next[p] >= 0 ? next[p] : low[p])));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, rnulls);
		}
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * trades_kafka_expire_trades: rule 3 on demand.
 */
Datum
trades_kafka_expire_trades(PG_FUNCTION_ARGS)
{
	int64		expired;

	SPI_connect();
	expired = tk_store_expire();
	SPI_finish();
	PG_RETURN_INT64(expired);
}
