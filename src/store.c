/*-------------------------------------------------------------------------
 *
 * store.c
 *	  Storing a batch of Kafka messages through SPI.
 *
 * A batch is stored in the caller's transaction with kept plans fed whole
 * arrays through unnest(): a plain INSERT for the trade rows that are new,
 * an INSERT ... ON CONFLICT for those that override a stored row, one INSERT
 * for the rejects and one upsert of the offsets.  The rules of the trade
 * store are applied in C, in poll order, against the highest versions
 * PostgreSQL already holds, so the batch gives exactly the result of storing
 * its messages one at a time.  Those versions come from a cache of what this
 * worker committed for its partitions (each trade_id lives in one partition,
 * each partition in one member of the group) and, for the trade_ids it has
 * not seen, from one LIMIT 1 index probe each.
 *
 * If PostgreSQL refuses the trades of a batch (a constraint or trigger a
 * user added, say), the row it refuses is found by bisecting prefixes in
 * subtransactions, rejected as store_failed with the server's message, and
 * the rules are applied again without it: a batch is never dropped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "store.h"
#include "trades_kafka.h"

/*
 * The version cache keeps trade_ids of up to this many bytes (longer ones
 * are always looked up) and at most TK_VERSION_CACHE_MAX of them: about
 * 100 bytes each, so 25 MB at the most; when full it starts again empty.
 */
#define TK_CACHED_ID_BYTES		64
#define TK_VERSION_CACHE_MAX	250000

/* The highest version seen for a trade_id while walking a batch */
typedef struct TkVersionEntry
{
	char		trade_id[TRADE_TEXT_MAX_BYTES + 1];	/* hash key */
	int32		max_version;
	int			row;			/* row of this batch holding max_version, or -1 */
} TkVersionEntry;

/* The highest version this worker committed for a trade_id */
typedef struct TkCachedVersion
{
	char		trade_id[TK_CACHED_ID_BYTES + 1];	/* hash key */
	int32		max_version;
} TkCachedVersion;

static SPIPlanPtr plan_max_versions = NULL;
static SPIPlanPtr plan_insert_new = NULL;
static SPIPlanPtr plan_insert_trades = NULL;
static SPIPlanPtr plan_insert_rejects = NULL;
static SPIPlanPtr plan_lock_offsets = NULL;
static SPIPlanPtr plan_upsert_offsets = NULL;
static SPIPlanPtr plan_read_offsets = NULL;

static SPIPlanPtr tk_prepare(SPIPlanPtr *plan, const char *sql, int nargs,
							 Oid *argtypes);
static HTAB *version_cache = NULL;
static MemoryContext version_cache_context = NULL;

static HTAB *tk_id_hash(const char *name, int nelem, Size entrysize);
static HTAB *tk_load_max_versions(TkBatch *batch);
static int	tk_cmp_strings(const void *a, const void *b);
static int	tk_apply_rules(TkBatch *batch, HTAB *stored, int *rows, bool *overrides);
static void tk_trade_values(TkBatch *batch, const int *rows, int nrows, Datum *values);
static bool tk_try_insert_trades(TkBatch *batch, const int *new_rows, int nnew,
								 const int *upsert_rows, int nupsert,
								 bool keep, char **error);
static void tk_insert_rejects(TkBatch *batch);
static void tk_store_offsets(TkBatch *batch, const TkPartitionPos *positions,
							 int npositions);
static Datum tk_text_array(char **values, int n);
static bool tk_error_is_per_row(int sqlerrcode);

/*
 * tk_prepare: prepare a statement once per process and keep it.
 */
static SPIPlanPtr
tk_prepare(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, argtypes);

		if (p == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/* tk_text_array: a text[] from n C strings */
static Datum
tk_text_array(char **values, int n)
{
	Datum	   *datums = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		datums[i] = CStringGetTextDatum(values[i]);
	return PointerGetDatum(construct_array(datums, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

/* tk_cmp_strings: qsort order of C strings, which is the index's for ASCII */
static int
tk_cmp_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * tk_id_hash: a batch-lived hash table keyed by trade_id, with room for
 * nelem entries of entrysize bytes
 */
static HTAB *
tk_id_hash(const char *name, int nelem, Size entrysize)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = TRADE_TEXT_MAX_BYTES + 1;
	ctl.entrysize = entrysize;
	ctl.hcxt = CurrentMemoryContext;
	return hash_create(name, Max(nelem, 16), &ctl,
					   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/*
 * tk_load_max_versions: the highest stored version of every trade_id of
 * the batch that parsed well, in a hash table that the rule walk extends.
 * The version cache answers for the trade_ids this worker committed since
 * its last rebalance; the others are read with one backward index probe
 * each, in index order.
 */
static HTAB *
tk_load_max_versions(TkBatch *batch)
{
	HTAB	   *stored;
	HTAB	   *asked;
	char	  **ids = palloc(sizeof(char *) * Max(batch->nmessages, 1));
	int			nids = 0;
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		values[1];
	int			ret;
	uint64		i;

	stored = tk_id_hash("trades_kafka batch versions", batch->nmessages,
						sizeof(TkVersionEntry));
	asked = tk_id_hash("trades_kafka batch ids", batch->nmessages,
					   TRADE_TEXT_MAX_BYTES + 1);

	for (i = 0; i < batch->nmessages; i++)
	{
		const char *id;
		TkCachedVersion *cached = NULL;
		bool		found;

		if (batch->messages[i].parse_reason != TRADE_OK)
			continue;
		id = batch->messages[i].trade->trade_id;
		(void) hash_search(asked, id, HASH_ENTER, &found);
		if (found)
			continue;
		if (version_cache != NULL && strlen(id) <= TK_CACHED_ID_BYTES)
			cached = hash_search(version_cache, id, HASH_FIND, NULL);
		if (cached != NULL)
		{
			TkVersionEntry *entry = hash_search(stored, id, HASH_ENTER, NULL);

			entry->max_version = cached->max_version;
			entry->row = -1;
		}
		else
			ids[nids++] = batch->messages[i].trade->trade_id;
	}
	hash_destroy(asked);
	if (nids == 0)
		return stored;

	/* in index order, so consecutive probes share pages */
	qsort(ids, nids, sizeof(char *), tk_cmp_strings);
	values[0] = tk_text_array(ids, nids);
	tk_prepare(&plan_max_versions,
			   "SELECT t.trade_id, t.version FROM unnest($1) AS u(id)"
			   " CROSS JOIN LATERAL (SELECT trade_id, version FROM trades_kafka.trades"
			   "  WHERE trade_id = u.id ORDER BY version DESC LIMIT 1) AS t",
			   1, argtypes);
	ret = SPI_execute_plan(plan_max_versions, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read stored versions: %s", SPI_result_code_string(ret));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *id = SPI_getvalue(tup, desc, 1);
		bool		isnull;
		int32		version = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		TkVersionEntry *entry;

		/* a trade_id longer than ours cannot be in the batch */
		if (strlen(id) > TRADE_TEXT_MAX_BYTES)
			continue;
		entry = hash_search(stored, id, HASH_ENTER, NULL);
		entry->max_version = version;
		entry->row = -1;
	}
	return stored;
}

/*
 * tk_store_batch_committed: after the batch's transaction committed,
 * remember the highest version of each of its trade_ids.
 */
void
tk_store_batch_committed(const TkBatch *batch)
{
	int			i;

	if (version_cache == NULL)
	{
		HASHCTL		ctl;

		if (version_cache_context == NULL)
			version_cache_context = AllocSetContextCreate(TopMemoryContext,
														  "trades_kafka version cache",
														  ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = TK_CACHED_ID_BYTES + 1;
		ctl.entrysize = sizeof(TkCachedVersion);
		ctl.hcxt = version_cache_context;
		version_cache = hash_create("trades_kafka version cache", 16384, &ctl,
									HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	for (i = 0; i < batch->nmessages; i++)
	{
		const TkMessage *m = &batch->messages[i];
		TkCachedVersion *cached;
		bool		found;

		if (m->reason != TRADE_OK || strlen(m->trade->trade_id) > TK_CACHED_ID_BYTES)
			continue;
		if (hash_get_num_entries(version_cache) >= TK_VERSION_CACHE_MAX)
		{
			tk_store_forget_versions();
			return;
		}
		cached = hash_search(version_cache, m->trade->trade_id, HASH_ENTER, &found);
		if (!found || cached->max_version < m->trade->version)
			cached->max_version = m->trade->version;
	}
}

/*
 * tk_store_forget_versions: empty the version cache, when partitions move
 * (another member may have stored their trade_ids since) or when it is full.
 */
void
tk_store_forget_versions(void)
{
	if (version_cache == NULL)
		return;
	hash_destroy(version_cache);
	version_cache = NULL;
	MemoryContextReset(version_cache_context);
}

/*
 * tk_apply_rules: walk the batch in poll order and decide each message that
 * parsed well: stale_version, or a trade row (new, or overriding the row of
 * the same key, in PostgreSQL or earlier in this batch).  Fills rows with
 * message indexes, one per distinct (trade_id, version), and returns their
 * count; overrides[r] tells whether row r replaces a row PostgreSQL holds
 * (else it is new).  stored is copied, so the walk can be repeated.
 */
static int
tk_apply_rules(TkBatch *batch, HTAB *stored, int *rows, bool *overrides)
{
	HTAB	   *seen;
	HASH_SEQ_STATUS scan;
	TkVersionEntry *src;
	int			nrows = 0;
	int			i;

	seen = tk_id_hash("trades_kafka batch walk", batch->nmessages,
					  sizeof(TkVersionEntry));
	hash_seq_init(&scan, stored);
	while ((src = hash_seq_search(&scan)) != NULL)
		*(TkVersionEntry *) hash_search(seen, src->trade_id, HASH_ENTER, NULL) = *src;

	for (i = 0; i < batch->nmessages; i++)
	{
		TkMessage  *m = &batch->messages[i];
		TkVersionEntry *entry;
		bool		found;

		if (m->parse_reason != TRADE_OK || m->reason == TRADE_STORE_FAILED)
			continue;

		entry = hash_search(seen, m->trade->trade_id, HASH_ENTER, &found);
		if (found && m->trade->version < entry->max_version)
		{
			m->reason = TRADE_STALE_VERSION;
			m->detail = psprintf("version %d is lower than version %d already stored",
								 m->trade->version, entry->max_version);
			continue;
		}

		m->reason = TRADE_OK;
		m->detail = NULL;
		if (found && m->trade->version == entry->max_version && entry->row >= 0)
		{
			/* same key earlier in this batch: this message overrides it */
			rows[entry->row] = i;
			continue;
		}
		/* the same version as PostgreSQL's highest: that row is overridden */
		overrides[nrows] = found && m->trade->version == entry->max_version;
		entry->max_version = m->trade->version;
		entry->row = nrows;
		rows[nrows++] = i;
	}
	hash_destroy(seen);
	return nrows;
}

/*
 * tk_error_is_per_row: whether an error storing trades can be blamed on a
 * row (data, constraint, trigger) rather than on the moment (deadlock,
 * cancel, out of resources), which would fail any row and must fail the
 * batch instead.
 */
static bool
tk_error_is_per_row(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_CONNECTION_EXCEPTION:
		case ERRCODE_TRANSACTION_ROLLBACK:
		case ERRCODE_INSUFFICIENT_RESOURCES:
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
		case ERRCODE_OPERATOR_INTERVENTION:
		case ERRCODE_SYSTEM_ERROR:
		case ERRCODE_INTERNAL_ERROR:
			return false;
		default:
			return true;
	}
}

/* tk_trade_values: the nine parameters of the trade inserts for rows */
static void
tk_trade_values(TkBatch *batch, const int *rows, int nrows, Datum *values)
{
	Datum	   *ids = palloc(sizeof(Datum) * Max(nrows, 1));
	Datum	   *versions = palloc(sizeof(Datum) * Max(nrows, 1));
	Datum	   *cps = palloc(sizeof(Datum) * Max(nrows, 1));
	Datum	   *books = palloc(sizeof(Datum) * Max(nrows, 1));
	Datum	   *maturities = palloc(sizeof(Datum) * Max(nrows, 1));
	Datum	   *createds = palloc(sizeof(Datum) * Max(nrows, 1));
	Datum	   *parts = palloc(sizeof(Datum) * Max(nrows, 1));
	Datum	   *offs = palloc(sizeof(Datum) * Max(nrows, 1));
	int			i;

	for (i = 0; i < nrows; i++)
	{
		TkMessage  *m = &batch->messages[rows[i]];

		ids[i] = CStringGetTextDatum(m->trade->trade_id);
		versions[i] = Int32GetDatum(m->trade->version);
		cps[i] = CStringGetTextDatum(m->trade->counter_party_id);
		books[i] = CStringGetTextDatum(m->trade->book_id);
		maturities[i] = DateADTGetDatum(m->trade->maturity_date);
		createds[i] = DateADTGetDatum(m->trade->created_date);
		parts[i] = Int32GetDatum(m->partition);
		offs[i] = Int64GetDatum(m->offset);
	}
	values[0] = CStringGetTextDatum(batch->topic);
	values[1] = PointerGetDatum(construct_array(ids, nrows, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(versions, nrows, INT4OID, 4, true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(cps, nrows, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(books, nrows, TEXTOID, -1, false, TYPALIGN_INT));
	values[5] = PointerGetDatum(construct_array(maturities, nrows, DATEOID, 4, true, TYPALIGN_INT));
	values[6] = PointerGetDatum(construct_array(createds, nrows, DATEOID, 4, true, TYPALIGN_INT));
	values[7] = PointerGetDatum(construct_array(parts, nrows, INT4OID, 4, true, TYPALIGN_INT));
	values[8] = PointerGetDatum(construct_array(offs, nrows, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * tk_try_insert_trades: in a subtransaction, insert the trades of
 * new_rows[0 .. nnew) with a plain INSERT and those of upsert_rows[0 ..
 * nupsert) with INSERT ... ON CONFLICT DO UPDATE.  keep = false rolls it
 * back even on success (a probe).  On a per-row error returns false with
 * the server's message; other errors are thrown again.  A plain INSERT
 * meeting a row that another writer stored is such an error: the caller
 * then stores the batch with the upsert alone.
 */
static bool
tk_try_insert_trades(TkBatch *batch, const int *new_rows, int nnew,
					 const int *upsert_rows, int nupsert, bool keep, char **error)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			argtypes[9] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, DATEARRAYOID, DATEARRAYOID, INT4ARRAYOID, INT8ARRAYOID};
	Datum		new_values[9];
	Datum		upsert_values[9];
	volatile bool ok = true;

	if (nnew > 0)
		tk_trade_values(batch, new_rows, nnew, new_values);
	if (nupsert > 0)
		tk_trade_values(batch, upsert_rows, nupsert, upsert_values);

#define TK_INSERT_TRADES \
	"INSERT INTO trades_kafka.trades AS t" \
	" (trade_id, version, counter_party_id, book_id, maturity_date," \
	"  created_date, expired, kafka_topic, kafka_partition, kafka_offset)" \
	" SELECT u.id, u.v, u.cp, u.b, u.m, u.c, false, $1, u.p, u.o" \
	" FROM unnest($2, $3, $4, $5, $6, $7, $8, $9) AS u(id, v, cp, b, m, c, p, o)"
	tk_prepare(&plan_insert_new, TK_INSERT_TRADES, 9, argtypes);
	tk_prepare(&plan_insert_trades,
			   TK_INSERT_TRADES
			   " ON CONFLICT (trade_id, version) DO UPDATE SET"
			   " counter_party_id = EXCLUDED.counter_party_id,"
			   " book_id = EXCLUDED.book_id,"
			   " maturity_date = EXCLUDED.maturity_date,"
			   " created_date = EXCLUDED.created_date,"
			   " expired = false,"
			   " kafka_topic = EXCLUDED.kafka_topic,"
			   " kafka_partition = EXCLUDED.kafka_partition,"
			   " kafka_offset = EXCLUDED.kafka_offset,"
			   " ingested_at = EXCLUDED.ingested_at",
			   9, argtypes);
#undef TK_INSERT_TRADES

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		int			ret;

		if (nnew > 0)
		{
			ret = SPI_execute_plan(plan_insert_new, new_values, NULL, false, 0);
			if (ret != SPI_OK_INSERT)
				elog(ERROR, "could not insert trades: %s", SPI_result_code_string(ret));
		}
		if (nupsert > 0)
		{
			ret = SPI_execute_plan(plan_insert_trades, upsert_values, NULL, false, 0);
			if (ret != SPI_OK_INSERT)
				elog(ERROR, "could not insert trades: %s", SPI_result_code_string(ret));
		}
		if (keep)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;

		if (!tk_error_is_per_row(edata->sqlerrcode))
			ReThrowError(edata);
		*error = pstrdup(edata->message);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* tk_insert_rejects: every message that did not become a trade row */
static void
tk_insert_rejects(TkBatch *batch)
{
	Oid			argtypes[7] = {TEXTOID, INT4ARRAYOID, INT8ARRAYOID, BYTEAARRAYOID,
	BYTEAARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[7];
	int			n = batch->nmessages;
	Datum	   *parts = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *offs = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *keys = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *key_nulls = palloc(sizeof(bool) * Max(n, 1));
	Datum	   *payloads = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *reasons = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *details = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *detail_nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1];
	int			lbs[1] = {1};
	int			nrejects = 0;
	int			i;
	int			ret;

	for (i = 0; i < n; i++)
	{
		TkMessage  *m = &batch->messages[i];
		bytea	   *payload;

		if (m->reason == TRADE_OK)
			continue;

		parts[nrejects] = Int32GetDatum(m->partition);
		offs[nrejects] = Int64GetDatum(m->offset);
		key_nulls[nrejects] = (m->key == NULL);
		if (m->key != NULL)
		{
			bytea	   *key = palloc(VARHDRSZ + m->key_len);

			SET_VARSIZE(key, VARHDRSZ + m->key_len);
			memcpy(VARDATA(key), m->key, m->key_len);
			keys[nrejects] = PointerGetDatum(key);
		}
		else
			keys[nrejects] = (Datum) 0;
		payload = palloc(VARHDRSZ + m->len);
		SET_VARSIZE(payload, VARHDRSZ + m->len);
		if (m->len > 0)
			memcpy(VARDATA(payload), m->payload, m->len);
		payloads[nrejects] = PointerGetDatum(payload);
		reasons[nrejects] = CStringGetTextDatum(trade_reason_name(m->reason));
		detail_nulls[nrejects] = (m->detail == NULL);
		details[nrejects] = m->detail ? CStringGetTextDatum(m->detail) : (Datum) 0;

		batch->rejected_by_reason[m->reason]++;
		nrejects++;
	}
	if (nrejects == 0)
		return;

	dims[0] = nrejects;
	values[0] = CStringGetTextDatum(batch->topic);
	values[1] = PointerGetDatum(construct_array(parts, nrejects, INT4OID, 4, true, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(offs, nrejects, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = PointerGetDatum(construct_md_array(keys, key_nulls, 1, dims, lbs, BYTEAOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(payloads, nrejects, BYTEAOID, -1, false, TYPALIGN_INT));
	values[5] = PointerGetDatum(construct_array(reasons, nrejects, TEXTOID, -1, false, TYPALIGN_INT));
	values[6] = PointerGetDatum(construct_md_array(details, detail_nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));

	tk_prepare(&plan_insert_rejects,
			   "INSERT INTO trades_kafka.rejects"
			   " (kafka_topic, kafka_partition, kafka_offset, kafka_key, payload, reason, detail)"
			   " SELECT $1, u.p, u.o, u.k, u.v, u.r, u.d"
			   " FROM unnest($2, $3, $4, $5, $6, $7) AS u(p, o, k, v, r, d)",
			   7, argtypes);
	ret = SPI_execute_plan(plan_insert_rejects, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not insert rejects: %s", SPI_result_code_string(ret));
}

/*
 * tk_store_offsets: lock this batch's offsets rows, check they are where
 * this worker left them (a consumer that lost its partitions in a rebalance
 * it has not noticed yet must not store them twice), and move them past
 * the batch.
 */
static void
tk_store_offsets(TkBatch *batch, const TkPartitionPos *positions, int npositions)
{
	Oid			lock_types[3] = {TEXTOID, TEXTOID, INT4ARRAYOID};
	Oid			upsert_types[4] = {TEXTOID, TEXTOID, INT4ARRAYOID, INT8ARRAYOID};
	Datum		values[4];
	Datum	   *parts = palloc(sizeof(Datum) * Max(batch->npartitions, 1));
	Datum	   *offs = palloc(sizeof(Datum) * Max(batch->npartitions, 1));
	int			ret;
	int			i;
	uint64		r;

	for (i = 0; i < batch->npartitions; i++)
	{
		parts[i] = Int32GetDatum(batch->partitions[i]);
		offs[i] = Int64GetDatum(batch->next_offsets[i]);
	}
	values[0] = CStringGetTextDatum(batch->group_id);
	values[1] = CStringGetTextDatum(batch->topic);
	values[2] = PointerGetDatum(construct_array(parts, batch->npartitions, INT4OID, 4, true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(offs, batch->npartitions, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));

	tk_prepare(&plan_lock_offsets,
			   "SELECT partition, next_offset FROM trades_kafka.offsets"
			   " WHERE group_id = $1 AND topic = $2 AND partition = ANY ($3)"
			   " FOR UPDATE",
			   3, lock_types);
	ret = SPI_execute_plan(plan_lock_offsets, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not lock offsets: %s", SPI_result_code_string(ret));

	for (i = 0; i < batch->npartitions; i++)
	{
		const TkPartitionPos *pos = NULL;
		bool		in_table = false;
		int64		in_table_offset = -1;
		int			p;

		for (p = 0; p < npositions; p++)
			if (positions[p].partition == batch->partitions[i])
				pos = &positions[p];
		for (r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			HeapTuple	tup = SPI_tuptable->vals[r];

			if (DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull)) == batch->partitions[i])
			{
				in_table = true;
				in_table_offset = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
			}
		}
		if (pos == NULL || pos->known != in_table ||
			(in_table && pos->next_offset != in_table_offset))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("offsets of topic \"%s\" partition %d for group \"%s\" moved under this worker",
							batch->topic, batch->partitions[i], batch->group_id),
					 errdetail("This worker expected next offset %lld, PostgreSQL has %lld.",
							   (long long) (pos && pos->known ? pos->next_offset : -1),
							   (long long) in_table_offset),
					 errhint("Another consumer of the group stored this partition; the worker restarts and reads its offsets again.")));
	}

	tk_prepare(&plan_upsert_offsets,
			   "INSERT INTO trades_kafka.offsets AS o (group_id, topic, partition, next_offset, updated_at)"
			   " SELECT $1, $2, u.p, u.o, now() FROM unnest($3, $4) AS u(p, o)"
			   " ON CONFLICT (group_id, topic, partition) DO UPDATE SET"
			   " next_offset = EXCLUDED.next_offset, updated_at = EXCLUDED.updated_at",
			   4, upsert_types);
	ret = SPI_execute_plan(plan_upsert_offsets, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not store offsets: %s", SPI_result_code_string(ret));
}

/*
 * tk_store_batch: parse, apply the rules, store trades, rejects and
 * offsets.  See the file header.
 */
void
tk_store_batch(TkBatch *batch, TradeParser *parser,
			   const TkPartitionPos *positions, int npositions)
{
	DateADT		today = GetSQLCurrentDate();
	int		   *rows = palloc(sizeof(int) * Max(batch->nmessages, 1));
	bool	   *overrides = palloc(sizeof(bool) * Max(batch->nmessages, 1));
	int		   *new_rows = palloc(sizeof(int) * Max(batch->nmessages, 1));
	int		   *upsert_rows = palloc(sizeof(int) * Max(batch->nmessages, 1));
	HTAB	   *stored;
	int			nrows;
	int			nnew = 0;
	int			nupsert = 0;
	bool		stored_fast;
	char	   *fast_error = NULL;
	int			i;

	batch->stored = 0;
	memset(batch->rejected_by_reason, 0, sizeof(batch->rejected_by_reason));

	/* parse and validate, and note where each partition ends */
	batch->partitions = palloc(sizeof(int32) * Max(batch->nmessages, 1));
	batch->next_offsets = palloc(sizeof(int64) * Max(batch->nmessages, 1));
	batch->npartitions = 0;
	for (i = 0; i < batch->nmessages; i++)
	{
		TkMessage  *m = &batch->messages[i];
		char		detail[TRADE_DETAIL_SIZE];
		int			p;

		m->trade = palloc(sizeof(Trade));
		m->parse_reason = trade_parse(parser, m->payload ? m->payload : "", m->len,
									  (size_t) tk_max_message_bytes, today,
									  m->trade, detail, sizeof(detail));
		m->reason = m->parse_reason;
		m->detail = (m->parse_reason == TRADE_OK) ? NULL : pstrdup(detail);
		if (m->parse_reason == TRADE_OK && !m->trade->has_created_date)
		{
			m->trade->created_date = today;
			m->trade->has_created_date = true;
		}

		for (p = 0; p < batch->npartitions; p++)
			if (batch->partitions[p] == m->partition)
				break;
		if (p == batch->npartitions)
			batch->partitions[batch->npartitions++] = m->partition;
		batch->next_offsets[p] = m->offset + 1;
	}

	/*
	 * Rules 1 and 2, and the trade rows: new rows with a plain INSERT, rows
	 * overriding a stored one with the upsert.  If that fails (a row
	 * PostgreSQL refuses, or one another writer stored meanwhile), store them
	 * all with the upsert, retried without the refused rows.
	 */
	stored = tk_load_max_versions(batch);
	nrows = tk_apply_rules(batch, stored, rows, overrides);
	for (i = 0; i < nrows; i++)
	{
		if (overrides[i])
			upsert_rows[nupsert++] = rows[i];
		else
			new_rows[nnew++] = rows[i];
	}
	stored_fast = nrows == 0 ||
		tk_try_insert_trades(batch, new_rows, nnew, upsert_rows, nupsert, true, &fast_error);
	if (!stored_fast)
	{
		/* the cache may be what was wrong: ask PostgreSQL again */
		tk_store_forget_versions();
		stored = tk_load_max_versions(batch);
	}
	while (!stored_fast)
	{
		char	   *error = NULL;
		int			lo,
					hi;
		char	   *hi_error;
		TkMessage  *culprit;

		nrows = tk_apply_rules(batch, stored, rows, overrides);
		if (nrows == 0 || tk_try_insert_trades(batch, NULL, 0, rows, nrows, true, &error))
			break;

		/* the shortest failing prefix ends with the refused row */
		lo = 1;
		hi = nrows;
		hi_error = error;
		while (lo < hi)
		{
			int			mid = lo + (hi - lo) / 2;
			char	   *probe_error = NULL;

			if (tk_try_insert_trades(batch, NULL, 0, rows, mid, false, &probe_error))
				lo = mid + 1;
			else
			{
				hi = mid;
				hi_error = probe_error;
			}
		}
		culprit = &batch->messages[rows[hi - 1]];
		culprit->reason = TRADE_STORE_FAILED;
		culprit->detail = hi_error;
		ereport(WARNING,
				(errmsg("PostgreSQL refused trade \"%s\" version %d from topic \"%s\" partition %d offset %lld",
						culprit->trade->trade_id, culprit->trade->version,
						batch->topic, culprit->partition, (long long) culprit->offset),
				 errdetail("%s", hi_error),
				 errhint("The message is stored in trades_kafka.rejects with reason store_failed.")));
	}
	for (i = 0; i < batch->nmessages; i++)
		if (batch->messages[i].reason == TRADE_OK)
			batch->stored++;

	/* one line per message, only when someone asked for DEBUG1 */
	if (message_level_is_interesting(DEBUG1))
	{
		for (i = 0; i < batch->nmessages; i++)
		{
			TkMessage  *m = &batch->messages[i];

			if (m->reason == TRADE_OK)
				ereport(DEBUG1,
						(errmsg_internal("stored trade \"%s\" version %d from topic \"%s\" partition %d offset %lld",
										 m->trade->trade_id, m->trade->version, batch->topic,
										 m->partition, (long long) m->offset)));
			else
				ereport(DEBUG1,
						(errmsg_internal("rejected the message at topic \"%s\" partition %d offset %lld: %s: %s",
										 batch->topic, m->partition, (long long) m->offset,
										 trade_reason_name(m->reason), m->detail ? m->detail : "")));
		}
	}

	tk_insert_rejects(batch);
	tk_store_offsets(batch, positions, npositions);
}

void
tk_store_read_offsets(const char *group_id, const char *topic,
					  const int32 *partitions, int n, int64 *next_offsets)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, INT4ARRAYOID};
	Datum		values[3];
	Datum	   *parts = palloc(sizeof(Datum) * Max(n, 1));
	int			ret;
	int			i;
	uint64		r;

	for (i = 0; i < n; i++)
	{
		parts[i] = Int32GetDatum(partitions[i]);
		next_offsets[i] = -1;
	}
	values[0] = CStringGetTextDatum(group_id);
	values[1] = CStringGetTextDatum(topic);
	values[2] = PointerGetDatum(construct_array(parts, n, INT4OID, 4, true, TYPALIGN_INT));

	tk_prepare(&plan_read_offsets,
			   "SELECT partition, next_offset FROM trades_kafka.offsets"
			   " WHERE group_id = $1 AND topic = $2 AND partition = ANY ($3)",
			   3, argtypes);
	ret = SPI_execute_plan(plan_read_offsets, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read offsets: %s", SPI_result_code_string(ret));
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[r];
		int32		partition = DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		int64		next = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));

		for (i = 0; i < n; i++)
			if (partitions[i] == partition)
				next_offsets[i] = next;
	}
}

int64
tk_store_expire(void)
{
	int			ret;

	ret = SPI_execute("UPDATE trades_kafka.trades SET expired = true"
					  " WHERE NOT expired AND maturity_date < current_date",
					  false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not expire trades: %s", SPI_result_code_string(ret));
	return (int64) SPI_processed;
}
