/*-------------------------------------------------------------------------
 *
 * trade.h
 *	  The trade model shared by the extension, the producer, the unit tests
 *	  and the fuzzer: parse and validate one Kafka message, write one trade
 *	  as JSON, and convert calendar dates.
 *
 * This header and trade.c include no PostgreSQL header on purpose, so that
 * the producer, the unit tests and the fuzz target link them alone.
 *
 * Dates are counted in days since 2000-01-01, which is PostgreSQL's DateADT
 * epoch: the extension passes them to the server without conversion.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRADES_KAFKA_TRADE_H
#define TRADES_KAFKA_TRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A text field holds 1 to 64 characters (Unicode code points) */
#define TRADE_TEXT_MAX_CHARS	64
/* ... which UTF-8 spells in at most four bytes each */
#define TRADE_TEXT_MAX_BYTES	(TRADE_TEXT_MAX_CHARS * 4)
/* Room for a short reject detail, e.g. "version: not an integer" */
#define TRADE_DETAIL_SIZE		256
/* Deepest JSON nesting the parser follows before calling it malformed */
#define TRADE_MAX_DEPTH			32

/*
 * TradeReason: where a message ends.  The names returned by
 * trade_reason_name() are the stable codes of the rejects.reason column.
 */
typedef enum TradeReason
{
	TRADE_OK = 0,
	TRADE_MALFORMED_JSON,
	TRADE_NOT_AN_OBJECT,
	TRADE_MISSING_FIELD,
	TRADE_INVALID_FIELD,
	TRADE_MATURED,
	TRADE_STALE_VERSION,		/* decided by the store, never by the parser */
	TRADE_TOO_LARGE,
	TRADE_STORE_FAILED,			/* decided by the store, never by the parser */
	TRADE_REASON_COUNT
} TradeReason;

/* One valid trade, strings NUL-terminated and valid UTF-8 */
typedef struct Trade
{
	char		trade_id[TRADE_TEXT_MAX_BYTES + 1];
	char		counter_party_id[TRADE_TEXT_MAX_BYTES + 1];
	char		book_id[TRADE_TEXT_MAX_BYTES + 1];
	int32_t		version;		/* 1 .. 2147483647 */
	int32_t		maturity_date;	/* days since 2000-01-01 */
	int32_t		created_date;	/* days since 2000-01-01, if has_created_date */
	bool		has_created_date;
} Trade;

typedef struct TradeParser TradeParser;

/* A reusable parser (it keeps one json-c tokener); NULL if out of memory */
extern TradeParser *trade_parser_new(void);
extern void trade_parser_free(TradeParser *parser);

/*
 * trade_parse: parse and validate one message of len bytes (not
 * NUL-terminated, may contain any byte).  today is the server's current date
 * in days since 2000-01-01 (rule 2, and the default created_date).  A
 * message longer than max_bytes is TRADE_TOO_LARGE without being read
 * (max_bytes 0 means no limit).
 *
 * Returns TRADE_OK and fills *out, or a reject reason and writes a short
 * printable ASCII explanation into detail (always NUL-terminated; for
 * missing_field and invalid_field it starts with the field name, e.g.
 * "version: not an integer").  Never reads past len, never crashes.
 */
extern TradeReason trade_parse(TradeParser *parser, const char *buf, size_t len,
							   size_t max_bytes, int32_t today, Trade *out,
							   char *detail, size_t detail_size);

/* trade_reason_name: the stable code, e.g. "missing_field" ("ok" for TRADE_OK) */
extern const char *trade_reason_name(TradeReason reason);

/*
 * trade_format_json: write t as one JSON object (all six fields, strings
 * escaped) into buf like snprintf: returns the length it needs, writes at
 * most size bytes including the terminating NUL.
 */
extern size_t trade_format_json(const Trade *t, char *buf, size_t size);

/* trade_date_from_ymd: days since 2000-01-01 of a proleptic Gregorian date */
extern int32_t trade_date_from_ymd(int year, int month, int day);

/* trade_date_to_ymd: the inverse */
extern void trade_date_to_ymd(int32_t days, int *year, int *month, int *day);

/*
 * trade_date_parse: parse exactly "YYYY-MM-DD" (len bytes, year 0001-9999)
 * as a real calendar date; returns true and sets *days, or false.
 */
extern bool trade_date_parse(const char *s, size_t len, int32_t *days);

/* trade_date_format: write "YYYY-MM-DD" and a NUL into out */
extern void trade_date_format(int32_t days, char out[11]);

#endif							/* TRADES_KAFKA_TRADE_H */
