/*-------------------------------------------------------------------------
 *
 * trades_kafka.c
 *	  Module entry point: the trades_kafka.* settings, shared memory
 *	  requests and, when preloaded, the launcher that brings enabled jobs
 *	  back after a server start.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "launcher.h"
#include "status.h"
#include "trades_kafka.h"

PG_MODULE_MAGIC;

int			tk_batch_size = 5000;
int			tk_batch_timeout_ms = 100;
int			tk_max_message_bytes = 65536;
int			tk_expire_interval_s = 60;
int			tk_restart_interval_s = 5;
int			tk_broker_timeout_ms = 10000;
int			tk_stop_timeout_ms = 30000;
int			tk_log_interval_s = 60;
bool		tk_synchronous_commit = false;
char	   *tk_database = NULL;
int			tk_max_workers = 16;
bool		tk_preloaded = false;

void		_PG_init(void);

/*
 * tk_check_database: trades_kafka.database must be a list of names, so that
 * a typo stops the server at start with a message rather than the launcher
 * later
 */
static bool
tk_check_database(char **newval, void **extra, GucSource source)
{
	char	   *names = pstrdup(*newval);
	List	   *databases = NIL;
	bool		ok = SplitGUCList(names, ',', &databases);

	if (!ok)
		GUC_check_errdetail("Separate database names with commas; double-quote a name that holds a comma or a double quote.");
	list_free(databases);
	pfree(names);
	return ok;
}

/*
 * _PG_init: define the settings, reserve the prefix, and when loaded from
 * shared_preload_libraries ask for shared memory and register the launcher.
 */
void
_PG_init(void)
{
	DefineCustomIntVariable("trades_kafka.batch_size",
							"Largest number of Kafka messages a worker stores in one transaction.",
							"A batch ends when it holds this many messages or when trades_kafka.batch_timeout has passed since its first poll.",
							&tk_batch_size,
							5000, 1, 1000000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("trades_kafka.batch_timeout",
							"Longest time a worker waits to fill a batch before storing what it has.",
							NULL,
							&tk_batch_timeout_ms,
							100, 1, 60000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("trades_kafka.max_message_bytes",
							"Largest Kafka message a worker parses; a larger one is rejected as too_large.",
							NULL,
							&tk_max_message_bytes,
							65536, 64, 64 * 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("trades_kafka.expire_interval",
							"How often the first worker of each job marks matured trades as expired; 0 turns it off.",
							NULL,
							&tk_expire_interval_s,
							60, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("trades_kafka.restart_interval",
							"How long the server waits before restarting a worker that exited with an error.",
							"Applies to workers launched after the change.",
							&tk_restart_interval_s,
							5, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("trades_kafka.broker_timeout",
							"How long trades_kafka.lag() and trades_kafka.start() wait for a Kafka broker to answer.",
							NULL,
							&tk_broker_timeout_ms,
							10000, 100, 600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("trades_kafka.stop_timeout",
							"How long trades_kafka.stop() waits for workers to leave their consumer group.",
							NULL,
							&tk_stop_timeout_ms,
							30000, 0, 600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("trades_kafka.log_interval",
							"How often each worker logs a summary line (stored, rejected by reason, messages per second); 0 turns it off.",
							NULL,
							&tk_log_interval_s,
							60, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("trades_kafka.synchronous_commit",
							 "Whether workers wait for their batch's WAL to reach disk before the next batch.",
							 "Off is safe: trades and offsets are lost together on a crash and read again from Kafka.",
							 &tk_synchronous_commit,
							 false,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("trades_kafka.database",
							   "Databases in which the launcher restarts enabled jobs when the server starts.",
							   "A comma-separated list (double-quote a name that holds a comma); only used with shared_preload_libraries = 'trades_kafka'.",
							   &tk_database,
							   "postgres",
							   PGC_POSTMASTER, GUC_LIST_INPUT,
							   tk_check_database, NULL, NULL);

	DefineCustomIntVariable("trades_kafka.max_workers",
							"Largest number of trades_kafka workers running at once in the server.",
							"Each also needs a slot of max_worker_processes.",
							&tk_max_workers,
							16, 1, 256,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("trades_kafka");

	if (!process_shared_preload_libraries_in_progress)
		return;

	tk_preloaded = true;
	tk_status_request_shmem();
	tk_launcher_register();
}
