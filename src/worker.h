/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The trades_kafka background worker: consume, store, repeat.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRADES_KAFKA_WORKER_H
#define TRADES_KAFKA_WORKER_H

#include "postgres.h"

extern PGDLLEXPORT void tk_worker_main(Datum main_arg);

#endif							/* TRADES_KAFKA_WORKER_H */
