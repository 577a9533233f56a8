/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  Launching trades_kafka workers.
 *
 * start() launches a job's workers as dynamic background workers.  Those
 * survive a worker's error exit and a crash restart of the server (the
 * postmaster restarts them after trades_kafka.restart_interval), but not a
 * server stop.  With shared_preload_libraries = 'trades_kafka' a static
 * launcher runs once at server start.  It first connects to no database and
 * looks up each database trades_kafka.database lists, so that a missing
 * database is one clear LOG line rather than a FATAL; then it launches a
 * dynamic launcher in each, which reads the enabled jobs, launches their
 * workers and exits.
 * Both are registered as never restarting: after a crash restart the
 * dynamic workers come back by themselves, and a second launcher would
 * double them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "commands/dbcommands.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "launcher.h"
#include "trades_kafka.h"

/*
 * tk_bgworker_fill: the settings every trades_kafka background worker shares
 */
static void
tk_bgworker_fill(BackgroundWorker *worker, const char *function, const char *type,
				 int restart_time)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = restart_time;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, TK_LIBRARY_NAME);
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_name, BGW_MAXLEN, "%s", type);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", type);
}

/*
 * tk_launcher_register: register the static launcher; called from _PG_init
 * while shared_preload_libraries is being processed.
 */
void
tk_launcher_register(void)
{
	BackgroundWorker worker;

	tk_bgworker_fill(&worker, "tk_launcher_main", "trades_kafka launcher",
					 BGW_NEVER_RESTART);
	RegisterBackgroundWorker(&worker);
}

/*
 * tk_launch_workers: register nworkers dynamic workers for a job.  When
 * wait is true the caller must be a regular backend: it waits until each
 * worker has started and counts those that did.
 */
int
tk_launch_workers(int job_id, int64 generation, Oid database, Oid role,
				  int nworkers, bool wait)
{
	int			started = 0;
	int			i;

	for (i = 0; i < nworkers; i++)
	{
		BackgroundWorker worker;
		BackgroundWorkerHandle *handle;
		TkWorkerArgs args;
		pid_t		pid;

		tk_bgworker_fill(&worker, "tk_worker_main", "trades_kafka worker",
						 tk_restart_interval_s);
		snprintf(worker.bgw_name, BGW_MAXLEN,
				 "trades_kafka worker %d/%d of job %d", i + 1, nworkers, job_id);
		worker.bgw_main_arg = Int32GetDatum(job_id);
		worker.bgw_notify_pid = wait ? MyProcPid : 0;

		args.database = database;
		args.role = role;
		args.generation = generation;
		args.worker_index = i;
		args.nworkers = nworkers;
		StaticAssertStmt(sizeof(args) <= BGW_EXTRALEN, "bgw_extra too small");
		memcpy(worker.bgw_extra, &args, sizeof(args));

		if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		{
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("could not register trades_kafka worker %d/%d of job %d",
							i + 1, nworkers, job_id),
					 errhint("Raise max_worker_processes (needs a server restart).")));
			break;
		}

		if (!wait)
		{
			started++;
			continue;
		}

		if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED)
			started++;
		else
			ereport(WARNING,
					(errmsg("trades_kafka worker %d/%d of job %d did not start",
							i + 1, nworkers, job_id),
					 errhint("Check the server log.")));
	}

	return started;
}

/*
 * tk_find_database: the OID of the database called name, or InvalidOid.  A
 * backend connected to no database can only scan pg_database's heap (its
 * indexes need pg_class), as the autovacuum launcher does.
 */
static Oid
tk_find_database(const char *name)
{
	Oid			database = InvalidOid;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0)
		{
			database = db->oid;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return database;
}

/*
 * tk_launcher_main: the static launcher.  Connected to no database, look
 * up each database of trades_kafka.database and launch tk_launcher_db_main
 * in those that exist, then exit.
 */
void
tk_launcher_main(Datum main_arg)
{
	char	   *names = pstrdup(tk_database);
	List	   *databases = NIL;
	ListCell   *lc;

	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	/* the setting's check hook has accepted the list */
	(void) SplitGUCList(names, ',', &databases);
	foreach(lc, databases)
	{
		const char *name = lfirst(lc);
		Oid			database = tk_find_database(name);
		BackgroundWorker worker;

		if (!OidIsValid(database))
		{
			ereport(LOG,
					(errmsg("trades_kafka launcher restarts no job: database \"%s\" does not exist",
							name),
					 errdetail("trades_kafka.database lists the databases whose enabled jobs come back when the server starts."),
					 errhint("Set trades_kafka.database to the databases where CREATE EXTENSION trades_kafka was run.")));
			continue;
		}

		tk_bgworker_fill(&worker, "tk_launcher_db_main", "trades_kafka launcher",
						 BGW_NEVER_RESTART);
		worker.bgw_main_arg = ObjectIdGetDatum(database);
		if (!RegisterDynamicBackgroundWorker(&worker, NULL))
			ereport(LOG,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("trades_kafka launcher restarts no job in database \"%s\": no background worker slot is free",
							name),
					 errhint("Raise max_worker_processes (needs a server restart).")));
	}
	proc_exit(0);
}

/*
 * tk_launcher_db_main: in one database of trades_kafka.database, launch the
 * workers of every enabled job, then exit.
 */
void
tk_launcher_db_main(Datum main_arg)
{
	int			ret;
	int			njobs = 0;
	int			nworkers = 0;
	uint64		i;
	char	   *dbname;

	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);

	StartTransactionCommand();
	dbname = get_database_name(MyDatabaseId);
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "starting enabled trades_kafka jobs");

	ret = SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'trades_kafka'",
					  true, 1);
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
	{
		ret = SPI_execute("SELECT j.id, j.workers, e.extowner, j.generation"
						  "  FROM trades_kafka.jobs j, pg_catalog.pg_extension e"
						  " WHERE j.enabled AND e.extname = 'trades_kafka'"
						  " ORDER BY j.id", true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read trades_kafka.jobs: %s",
				 SPI_result_code_string(ret));

		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			int			job_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
			int			workers = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
			Oid			owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
			int64		generation = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));

			nworkers += tk_launch_workers(job_id, generation, MyDatabaseId, owner,
										  workers, false);
			njobs++;
		}
		ereport(LOG,
				(errmsg("trades_kafka launcher started %d workers for %d enabled jobs in database \"%s\"",
						nworkers, njobs, dbname)));
	}
	else
		ereport(LOG,
				(errmsg("trades_kafka launcher found no trades_kafka extension in database \"%s\"",
						dbname),
				 errhint("Set trades_kafka.database to the databases where CREATE EXTENSION trades_kafka was run.")));

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
