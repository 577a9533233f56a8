/*-------------------------------------------------------------------------
 *
 * launcher.h
 *	  Launching trades_kafka workers: from start(), and from the launcher
 *	  that brings enabled jobs back when the server starts.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRADES_KAFKA_LAUNCHER_H
#define TRADES_KAFKA_LAUNCHER_H

#include "postmaster/bgworker.h"

/* What a worker learns from bgw_extra (bgw_main_arg holds the job id) */
typedef struct TkWorkerArgs
{
	Oid			database;
	Oid			role;
	int64		generation;		/* jobs.generation this worker belongs to */
	int			worker_index;
	int			nworkers;
} TkWorkerArgs;

extern void tk_launcher_register(void);

/*
 * Launch nworkers workers of a job in a database as a role; with wait, wait
 * for each to start.  Returns how many were started (or registered).
 */
extern int	tk_launch_workers(int job_id, int64 generation, Oid database,
							  Oid role, int nworkers, bool wait);

extern PGDLLEXPORT void tk_launcher_main(Datum main_arg);
extern PGDLLEXPORT void tk_launcher_db_main(Datum main_arg);

#endif							/* TRADES_KAFKA_LAUNCHER_H */
