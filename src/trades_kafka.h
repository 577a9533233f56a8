/*-------------------------------------------------------------------------
 *
 * trades_kafka.h
 *	  Settings (GUCs) and names shared by every part of the extension.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRADES_KAFKA_H
#define TRADES_KAFKA_H

#define TK_LIBRARY_NAME		"trades_kafka"
#define TK_SCHEMA			"trades_kafka"

/* GUCs, defined in trades_kafka.c */
extern int	tk_batch_size;
extern int	tk_batch_timeout_ms;
extern int	tk_max_message_bytes;
extern int	tk_expire_interval_s;
extern int	tk_restart_interval_s;
extern int	tk_broker_timeout_ms;
extern int	tk_stop_timeout_ms;
extern int	tk_log_interval_s;
extern bool tk_synchronous_commit;
extern char *tk_database;
extern int	tk_max_workers;

/* true once _PG_init ran from shared_preload_libraries */
extern bool tk_preloaded;

#endif							/* TRADES_KAFKA_H */
