/*-------------------------------------------------------------------------
 *
 * gen.c
 *	  The deterministic message generator of trades-producer.
 *
 * A stream is a pure function of GenOptions: the PRNG (xoshiro256**,
 * seeded through splitmix64) is the only source of randomness, and "today"
 * is an option, so the same seed and the same today give the same bytes on
 * every machine.
 *
 * Valid messages.  Each picks a trade id T<n> uniformly among the
 * opts->trades ids.  Usually it is the next version of that trade (its
 * first message has opts->first_version); one in twenty repeats the
 * current version with new fields (the store's same-version override).
 * counter_party_id and book_id come from small pools, maturity_date is
 * today + 1 .. today + 3650 and created_date is today, but for one in
 * twenty which leaves it out (the consumer then uses its own date).  The JSON is written
 * by trade_format_json(), the same code the model owns.
 *
 * Invalid messages.  A share opts->invalid_ratio of the messages is bad on
 * purpose.  They cycle through the reject reasons a single message can
 * earn, in a fixed order, and each reason cycles through its variants, so
 * every variant shows up in a short run.  Apart from those that are not
 * JSON at all, an invalid message is the valid JSON of a trade with one
 * thing changed, so it is rejected for that thing only.  A stale_version
 * message is a valid trade whose version is lower than one already sent
 * under the same key (hence the same partition, earlier): it needs a trade
 * with two versions sent, and until there is one (in practice for the
 * first turn or two), its turn produces a valid message that makes one.  The invalid messages do not change what
 * the generator believes is stored.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

/* Pools of the valid fields */
#define GEN_COUNTER_PARTIES		100
#define GEN_BOOKS				20
#define GEN_MATURITY_DAYS		3650
/* One valid message in this many repeats the current version */
#define GEN_SAME_VERSION_EVERY	20
/* One valid message in this many leaves created_date to the consumer */
#define GEN_NO_CREATED_EVERY	20
/* Room for every message but too_large ones */
#define GEN_SMALL_BYTES			1024

typedef enum GenKindId
{
	K_OK_NEXT_VERSION,
	K_OK_SAME_VERSION,
	K_OK_NO_CREATED_DATE,
	K_MALFORMED_TRUNCATED,
	K_MALFORMED_BAD_TOKEN,
	K_MALFORMED_BINARY,
	K_MALFORMED_TRAILING_DATA,
	K_NOT_OBJECT_ARRAY,
	K_NOT_OBJECT_STRING,
	K_NOT_OBJECT_NUMBER,
	K_NOT_OBJECT_NULL,
	K_MISSING_TRADE_ID,
	K_MISSING_VERSION,
	K_MISSING_COUNTER_PARTY_ID,
	K_MISSING_BOOK_ID,
	K_MISSING_MATURITY_DATE,
	K_MISSING_NULL_VERSION,
	K_MISSING_NULL_BOOK_ID,
	K_INVALID_VERSION_STRING,
	K_INVALID_VERSION_FRACTION,
	K_INVALID_VERSION_ZERO,
	K_INVALID_VERSION_NEGATIVE,
	K_INVALID_VERSION_TOO_BIG,
	K_INVALID_TRADE_ID_EMPTY,
	K_INVALID_TRADE_ID_TOO_LONG,
	K_INVALID_TRADE_ID_NUMBER,
	K_INVALID_COUNTER_PARTY_CONTROL,
	K_INVALID_COUNTER_PARTY_TOO_LONG,
	K_INVALID_BOOK_ID_NUL,
	K_INVALID_BOOK_ID_BAD_UTF8,
	K_INVALID_MATURITY_NOT_A_DATE,
	K_INVALID_MATURITY_FORMAT,
	K_INVALID_MATURITY_NUMBER,
	K_INVALID_CREATED_NOT_A_DATE,
	K_MATURED_YESTERDAY,
	K_MATURED_PAST,
	K_STALE_VERSION,
	K_TOO_LARGE,
	K_COUNT
} GenKindId;

typedef struct GenKind
{
	const char *name;
	TradeReason reason;
	const char *field;			/* missing_field, invalid_field */
} GenKind;

static const GenKind kinds[K_COUNT] = {
	[K_OK_NEXT_VERSION] = {"ok/next_version", TRADE_OK, NULL},
	[K_OK_SAME_VERSION] = {"ok/same_version", TRADE_OK, NULL},
	[K_OK_NO_CREATED_DATE] = {"ok/no_created_date", TRADE_OK, NULL},
	[K_MALFORMED_TRUNCATED] = {"malformed_json/truncated", TRADE_MALFORMED_JSON, NULL},
	[K_MALFORMED_BAD_TOKEN] = {"malformed_json/bad_token", TRADE_MALFORMED_JSON, NULL},
	[K_MALFORMED_BINARY] = {"malformed_json/binary", TRADE_MALFORMED_JSON, NULL},
	[K_MALFORMED_TRAILING_DATA] = {"malformed_json/trailing_data", TRADE_MALFORMED_JSON, NULL},
	[K_NOT_OBJECT_ARRAY] = {"not_an_object/array", TRADE_NOT_AN_OBJECT, NULL},
	[K_NOT_OBJECT_STRING] = {"not_an_object/string", TRADE_NOT_AN_OBJECT, NULL},
	[K_NOT_OBJECT_NUMBER] = {"not_an_object/number", TRADE_NOT_AN_OBJECT, NULL},
	[K_NOT_OBJECT_NULL] = {"not_an_object/null", TRADE_NOT_AN_OBJECT, NULL},
	[K_MISSING_TRADE_ID] = {"missing_field/trade_id", TRADE_MISSING_FIELD, "trade_id"},
	[K_MISSING_VERSION] = {"missing_field/version", TRADE_MISSING_FIELD, "version"},
	[K_MISSING_COUNTER_PARTY_ID] = {"missing_field/counter_party_id", TRADE_MISSING_FIELD, "counter_party_id"},
	[K_MISSING_BOOK_ID] = {"missing_field/book_id", TRADE_MISSING_FIELD, "book_id"},
	[K_MISSING_MATURITY_DATE] = {"missing_field/maturity_date", TRADE_MISSING_FIELD, "maturity_date"},
	[K_MISSING_NULL_VERSION] = {"missing_field/version_null", TRADE_MISSING_FIELD, "version"},
	[K_MISSING_NULL_BOOK_ID] = {"missing_field/book_id_null", TRADE_MISSING_FIELD, "book_id"},
	[K_INVALID_VERSION_STRING] = {"invalid_field/version_string", TRADE_INVALID_FIELD, "version"},
	[K_INVALID_VERSION_FRACTION] = {"invalid_field/version_fraction", TRADE_INVALID_FIELD, "version"},
	[K_INVALID_VERSION_ZERO] = {"invalid_field/version_zero", TRADE_INVALID_FIELD, "version"},
	[K_INVALID_VERSION_NEGATIVE] = {"invalid_field/version_negative", TRADE_INVALID_FIELD, "version"},
	[K_INVALID_VERSION_TOO_BIG] = {"invalid_field/version_too_big", TRADE_INVALID_FIELD, "version"},
	[K_INVALID_TRADE_ID_EMPTY] = {"invalid_field/trade_id_empty", TRADE_INVALID_FIELD, "trade_id"},
	[K_INVALID_TRADE_ID_TOO_LONG] = {"invalid_field/trade_id_too_long", TRADE_INVALID_FIELD, "trade_id"},
	[K_INVALID_TRADE_ID_NUMBER] = {"invalid_field/trade_id_number", TRADE_INVALID_FIELD, "trade_id"},
	[K_INVALID_COUNTER_PARTY_CONTROL] = {"invalid_field/counter_party_id_control", TRADE_INVALID_FIELD, "counter_party_id"},
	[K_INVALID_COUNTER_PARTY_TOO_LONG] = {"invalid_field/counter_party_id_too_long", TRADE_INVALID_FIELD, "counter_party_id"},
	[K_INVALID_BOOK_ID_NUL] = {"invalid_field/book_id_nul", TRADE_INVALID_FIELD, "book_id"},
	[K_INVALID_BOOK_ID_BAD_UTF8] = {"invalid_field/book_id_bad_utf8", TRADE_INVALID_FIELD, "book_id"},
	[K_INVALID_MATURITY_NOT_A_DATE] = {"invalid_field/maturity_date_not_a_date", TRADE_INVALID_FIELD, "maturity_date"},
	[K_INVALID_MATURITY_FORMAT] = {"invalid_field/maturity_date_format", TRADE_INVALID_FIELD, "maturity_date"},
	[K_INVALID_MATURITY_NUMBER] = {"invalid_field/maturity_date_number", TRADE_INVALID_FIELD, "maturity_date"},
	[K_INVALID_CREATED_NOT_A_DATE] = {"invalid_field/created_date_not_a_date", TRADE_INVALID_FIELD, "created_date"},
	[K_MATURED_YESTERDAY] = {"matured/yesterday", TRADE_MATURED, NULL},
	[K_MATURED_PAST] = {"matured/past", TRADE_MATURED, NULL},
	[K_STALE_VERSION] = {"stale_version/lower", TRADE_STALE_VERSION, NULL},
	[K_TOO_LARGE] = {"too_large/padded", TRADE_TOO_LARGE, NULL},
};

/*
 * The reasons an invalid message cycles through, in this order, each with
 * the range [first, last] of its kinds.
 */
typedef struct GenReasonCycle
{
	TradeReason reason;
	GenKindId	first;
	GenKindId	last;
} GenReasonCycle;

static const GenReasonCycle reason_cycle[] = {
	{TRADE_MALFORMED_JSON, K_MALFORMED_TRUNCATED, K_MALFORMED_TRAILING_DATA},
	{TRADE_NOT_AN_OBJECT, K_NOT_OBJECT_ARRAY, K_NOT_OBJECT_NULL},
	{TRADE_MISSING_FIELD, K_MISSING_TRADE_ID, K_MISSING_NULL_BOOK_ID},
	{TRADE_INVALID_FIELD, K_INVALID_VERSION_STRING, K_INVALID_CREATED_NOT_A_DATE},
	{TRADE_MATURED, K_MATURED_YESTERDAY, K_MATURED_PAST},
	{TRADE_STALE_VERSION, K_STALE_VERSION, K_STALE_VERSION},
	{TRADE_TOO_LARGE, K_TOO_LARGE, K_TOO_LARGE},
};

#define GEN_REASONS ((int) (sizeof(reason_cycle) / sizeof(reason_cycle[0])))

struct Generator
{
	GenOptions	opts;
	uint64_t	rng[4];			/* xoshiro256** state */
	int32_t    *versions;		/* highest valid version sent per id, 0 none */
	int32_t		multi_id;		/* an id with a version >= 2 sent, or -1 */
	int32_t		last_id;		/* the id of the last valid message, or -1 */
	uint64_t	invalid_seq;	/* invalid messages so far: the reason cycle */
	uint64_t	variant_seq[GEN_REASONS];	/* per reason: its variant cycle */
	char	   *buf;			/* the value, room for a too_large one */
	size_t		cap;
	size_t		len;
	char		key[32];
	GenMessage	msg;
};

static uint64_t splitmix64(uint64_t *x);
static uint64_t rng_next(Generator *g);
static uint32_t rng_below(Generator *g, uint32_t n);
static double rng_unit(Generator *g);
static void put_id(char *dst, const char *prefix, uint32_t n);
static void make_trade(Generator *g, int32_t id, int32_t version, Trade *t);
static void format_trade(Generator *g, const Trade *t);
static bool find_value(const Generator *g, const char *field,
					   size_t *start, size_t *end);
static void splice(Generator *g, size_t start, size_t end,
				   const char *s, size_t len);
static void replace_value(Generator *g, const char *field, const char *value);
static void remove_field(Generator *g, const char *field);
static void make_valid(Generator *g, int32_t id);
static void make_invalid(Generator *g, GenKindId kind, int32_t id);
static void make_stale(Generator *g, int32_t id);

/* ------------------------------------------------------------------------
 * The PRNG: splitmix64 to seed xoshiro256** (both public domain, by
 * Sebastiano Vigna), and unbiased bounded draws by rejection.
 */

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(Generator *g)
{
	uint64_t   *s = g->rng;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* rng_below: uniform in 0 .. n-1 (n >= 1) */
static uint32_t
rng_below(Generator *g, uint32_t n)
{
	uint64_t	limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t	x;

	do
		x = rng_next(g);
	while (x >= limit);
	return (uint32_t) (x % n);
}

/* rng_unit: uniform in [0, 1) with 53 random bits */
static double
rng_unit(Generator *g)
{
	return (double) (rng_next(g) >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------------
 * Public interface
 */

Generator *
gen_new(const GenOptions *opts, char *err, size_t errsize)
{
	Generator  *g;
	uint64_t	x = opts->seed;

	if (opts->trades < 1 || opts->trades > GEN_MAX_TRADES)
	{
		snprintf(err, errsize, "the number of trades must be 1 .. %d",
				 GEN_MAX_TRADES);
		return NULL;
	}
	if (!(opts->invalid_ratio >= 0.0 && opts->invalid_ratio <= 1.0))
	{
		snprintf(err, errsize, "the invalid ratio must be 0 .. 1");
		return NULL;
	}
	if (opts->max_message_bytes < GEN_MIN_MESSAGE_BYTES ||
		opts->max_message_bytes > GEN_MAX_MESSAGE_BYTES)
	{
		snprintf(err, errsize, "the maximum message size must be %d .. %d bytes",
				 GEN_MIN_MESSAGE_BYTES, GEN_MAX_MESSAGE_BYTES);
		return NULL;
	}
	if (opts->first_version < 1)
	{
		snprintf(err, errsize, "the first version must be 1 .. %" PRId32,
				 INT32_MAX);
		return NULL;
	}
	/* Keep every date of the stream inside the years 0001 .. 9999 */
	if (opts->today < trade_date_from_ymd(1, 1, 1) + GEN_MATURITY_DAYS + 1 ||
		opts->today > trade_date_from_ymd(9999, 12, 31) - GEN_MATURITY_DAYS)
	{
		snprintf(err, errsize, "today is out of the generator's range of dates");
		return NULL;
	}

	g = calloc(1, sizeof(Generator));
	if (g == NULL)
		goto oom;
	g->opts = *opts;
	for (int i = 0; i < 4; i++)
		g->rng[i] = splitmix64(&x);
	g->multi_id = -1;
	g->last_id = -1;
	g->versions = calloc((size_t) opts->trades, sizeof(int32_t));
	/* too_large is at most 64 bytes over the limit, plus the padding's name */
	g->cap = opts->max_message_bytes + GEN_SMALL_BYTES;
	g->buf = malloc(g->cap);
	if (g->versions == NULL || g->buf == NULL)
		goto oom;
	return g;

oom:
	gen_free(g);
	snprintf(err, errsize, "out of memory");
	return NULL;
}

void
gen_free(Generator *gen)
{
	if (gen == NULL)
		return;
	free(gen->versions);
	free(gen->buf);
	free(gen);
}

int
gen_kind_count(void)
{
	return K_COUNT;
}

const char *
gen_kind_name(int kind)
{
	return kind >= 0 && kind < K_COUNT ? kinds[kind].name : "unknown";
}

TradeReason
gen_kind_reason(int kind)
{
	return kind >= 0 && kind < K_COUNT ? kinds[kind].reason : TRADE_OK;
}

/*
 * gen_next: draw whether the message is invalid, which trade it is about,
 * and build it.  Every draw happens in the same order for the same state,
 * which is what makes the stream reproducible.
 */
const GenMessage *
gen_next(Generator *g)
{
	bool		invalid = rng_unit(g) < g->opts.invalid_ratio;
	int32_t		id = (int32_t) rng_below(g, (uint32_t) g->opts.trades);

	g->msg.field = NULL;
	g->msg.stored_version = 0;
	put_id(g->key, "T", (uint32_t) id);

	if (!invalid)
		make_valid(g, id);
	else
	{
		const GenReasonCycle *rc = &reason_cycle[g->invalid_seq % GEN_REASONS];
		uint64_t   *vseq = &g->variant_seq[g->invalid_seq % GEN_REASONS];

		if (rc->reason != TRADE_STALE_VERSION)
		{
			make_invalid(g, rc->first + (int) (*vseq % (rc->last - rc->first + 1)),
						 id);
			(*vseq)++;
			g->invalid_seq++;
		}
		else if (g->versions[id] >= 2 || g->multi_id >= 0)
		{
			make_stale(g, g->versions[id] >= 2 ? id : g->multi_id);
			(*vseq)++;
			g->invalid_seq++;
		}
		else
		{
			/*
			 * No version to be stale against yet: make one, on the trade
			 * already started if any, and keep the turn.
			 */
			make_valid(g, g->last_id >= 0 ? g->last_id : id);
			put_id(g->key, "T", (uint32_t) g->last_id);
		}
	}

	g->msg.value = g->buf;
	g->msg.value_len = g->len;
	g->msg.key = g->key;
	g->msg.key_len = strlen(g->key);
	return &g->msg;
}

/* ------------------------------------------------------------------------
 * Building messages
 */

/*
 * put_id: prefix then n in decimal, NUL-terminated (at most 11 bytes more
 * than the prefix).  snprintf() was half of the generator's time.
 */
static void
put_id(char *dst, const char *prefix, uint32_t n)
{
	char		digits[10];
	int			i = 0;

	while (*prefix != '\0')
		*dst++ = *prefix++;
	do
		digits[i++] = (char) ('0' + n % 10);
	while ((n /= 10) != 0);
	while (i > 0)
		*dst++ = digits[--i];
	*dst = '\0';
}

/*
 * make_trade: a valid trade; its fields are drawn, id and version given.
 * Strings are set up to their NUL only: that is all anyone reads.
 */
static void
make_trade(Generator *g, int32_t id, int32_t version, Trade *t)
{
	put_id(t->trade_id, "T", (uint32_t) id);
	t->version = version;
	put_id(t->counter_party_id, "CP-", rng_below(g, GEN_COUNTER_PARTIES) + 1);
	put_id(t->book_id, "B", rng_below(g, GEN_BOOKS) + 1);
	t->maturity_date = g->opts.today + 1 +
		(int32_t) rng_below(g, GEN_MATURITY_DAYS);
	t->created_date = g->opts.today;
	t->has_created_date = true;
}

static void
format_trade(Generator *g, const Trade *t)
{
	size_t		need = trade_format_json(t, g->buf, g->cap);

	/* A trade of short fields always fits GEN_SMALL_BYTES */
	if (need >= g->cap)
		abort();
	g->len = need;
}

/*
 * find_value: the byte range [*start, *end) of the value of "field" in the
 * buffer, which holds JSON written by trade_format_json (so the field's
 * name appears once, as a key).
 */
static bool
find_value(const Generator *g, const char *field, size_t *start, size_t *end)
{
	char		pattern[64];
	size_t		plen = (size_t) snprintf(pattern, sizeof(pattern), "\"%s\":", field);
	size_t		i;

	for (i = 0; i + plen <= g->len; i++)
		if (memcmp(g->buf + i, pattern, plen) == 0)
			break;
	if (i + plen > g->len)
		return false;

	*start = i + plen;
	i = *start;
	if (i < g->len && g->buf[i] == '"')
	{
		for (i++; i < g->len && g->buf[i] != '"'; i++)
			if (g->buf[i] == '\\')
				i++;
		i++;
	}
	else
		while (i < g->len && g->buf[i] != ',' && g->buf[i] != '}')
			i++;
	*end = i;
	return true;
}

/* splice: replace the bytes [start, end) of the buffer by s */
static void
splice(Generator *g, size_t start, size_t end, const char *s, size_t len)
{
	if (g->len - (end - start) + len > g->cap)
		abort();
	memmove(g->buf + start + len, g->buf + end, g->len - end);
	memcpy(g->buf + start, s, len);
	g->len = g->len - (end - start) + len;
}

static void
replace_value(Generator *g, const char *field, const char *value)
{
	size_t		start,
				end;

	if (!find_value(g, field, &start, &end))
		abort();
	splice(g, start, end, value, strlen(value));
}

/* remove_field: drop "field":value and one comma next to it */
static void
remove_field(Generator *g, const char *field)
{
	size_t		start,
				end;

	if (!find_value(g, field, &start, &end))
		abort();
	start -= strlen(field) + 3;
	if (end < g->len && g->buf[end] == ',')
		end++;
	else if (start > 0 && g->buf[start - 1] == ',')
		start--;
	splice(g, start, end, "", 0);
}

/*
 * make_valid: the next version of trade id, or now and then the current
 * version again with new fields.  Records what the store now holds.
 */
static void
make_valid(Generator *g, int32_t id)
{
	int32_t		current = g->versions[id];
	bool		same = current > 0 &&
		(current == INT32_MAX || rng_below(g, GEN_SAME_VERSION_EVERY) == 0);
	int32_t		version = same ? current :
		current > 0 ? current + 1 : g->opts.first_version;

	make_trade(g, id, version, &g->msg.trade);
	g->msg.kind = same ? K_OK_SAME_VERSION : K_OK_NEXT_VERSION;
	if (rng_below(g, GEN_NO_CREATED_EVERY) == 0)
	{
		/* Optional: the consumer takes its own current date */
		g->msg.trade.has_created_date = false;
		if (!same)
			g->msg.kind = K_OK_NO_CREATED_DATE;
	}
	format_trade(g, &g->msg.trade);
	g->msg.expect = TRADE_OK;

	g->versions[id] = version;
	g->last_id = id;
	if (version >= 2)
		g->multi_id = id;
}

/*
 * make_stale: a valid trade for id (which has a version >= 2 sent) whose
 * version is one to five below the highest sent.  Its key is the trade's.
 */
static void
make_stale(Generator *g, int32_t id)
{
	int32_t		current = g->versions[id];
	int32_t		below = current - 1 < 5 ? current - 1 : 5;
	int32_t		version = current - 1 - (int32_t) rng_below(g, (uint32_t) below);

	put_id(g->key, "T", (uint32_t) id);
	make_trade(g, id, version, &g->msg.trade);
	format_trade(g, &g->msg.trade);
	g->msg.kind = K_STALE_VERSION;
	g->msg.expect = TRADE_STALE_VERSION;
	g->msg.stored_version = current;
}

/*
 * make_invalid: a message of the given kind about trade id.  Those that are
 * still JSON objects start from the valid JSON of the version that would be
 * accepted next, so the one thing changed is the one thing wrong.
 */
static void
make_invalid(Generator *g, GenKindId kind, int32_t id)
{
	int32_t		current = g->versions[id];
	int32_t		version = current == INT32_MAX ? current :
		current > 0 ? current + 1 : g->opts.first_version;
	Trade		t;
	char		text[GEN_SMALL_BYTES] = "";
	int			y,
				m,
				d;

	make_trade(g, id, version, &t);
	if (kind == K_MATURED_YESTERDAY)
		t.maturity_date = g->opts.today - 1;
	else if (kind == K_MATURED_PAST)
		t.maturity_date = g->opts.today - 2 -
			(int32_t) rng_below(g, GEN_MATURITY_DAYS);
	format_trade(g, &t);
	g->msg.trade = t;
	g->msg.kind = kind;
	g->msg.expect = kinds[kind].reason;
	g->msg.field = kinds[kind].field;

	switch (kind)
	{
		case K_MALFORMED_TRUNCATED:
			g->len = 1 + rng_below(g, (uint32_t) g->len - 1);
			break;
		case K_MALFORMED_BAD_TOKEN:
			replace_value(g, "version", "@");
			break;
		case K_MALFORMED_BINARY:
			{
				/* Not UTF-8, never a newline: --print keeps one per line */
				size_t		n = 8 + rng_below(g, 33);

				g->buf[0] = (char) 0xff;
				for (size_t i = 1; i < n; i++)
					g->buf[i] = (char) (0x80 + rng_below(g, 128));
				g->buf[n / 2] = '\0';
				g->len = n;
			}
			break;
		case K_MALFORMED_TRAILING_DATA:
			splice(g, g->len, g->len, g->buf, g->len);
			break;
		case K_NOT_OBJECT_ARRAY:
			splice(g, 0, 0, "[", 1);
			splice(g, g->len, g->len, "]", 1);
			break;
		case K_NOT_OBJECT_STRING:
			g->len = (size_t) snprintf(g->buf, g->cap, "\"%s\"", t.trade_id);
			break;
		case K_NOT_OBJECT_NUMBER:
			g->len = (size_t) snprintf(g->buf, g->cap, "%" PRId32, id);
			break;
		case K_NOT_OBJECT_NULL:
			g->len = (size_t) snprintf(g->buf, g->cap, "null");
			break;
		case K_MISSING_TRADE_ID:
		case K_MISSING_VERSION:
		case K_MISSING_COUNTER_PARTY_ID:
		case K_MISSING_BOOK_ID:
		case K_MISSING_MATURITY_DATE:
			remove_field(g, kinds[kind].field);
			break;
		case K_MISSING_NULL_VERSION:
		case K_MISSING_NULL_BOOK_ID:
			strcpy(text, "null");
			break;
		case K_INVALID_VERSION_STRING:
			snprintf(text, sizeof(text), "\"%" PRId32 "\"", version);
			break;
		case K_INVALID_VERSION_FRACTION:
			snprintf(text, sizeof(text), "%" PRId32 ".0", version);
			break;
		case K_INVALID_VERSION_ZERO:
			strcpy(text, "0");
			break;
		case K_INVALID_VERSION_NEGATIVE:
			snprintf(text, sizeof(text), "-%" PRId32, version);
			break;
		case K_INVALID_VERSION_TOO_BIG:
			strcpy(text, "2147483648");
			break;
		case K_INVALID_TRADE_ID_EMPTY:
			strcpy(text, "\"\"");
			break;
		case K_INVALID_TRADE_ID_TOO_LONG:
			/* 65 characters */
			snprintf(text, sizeof(text), "\"T%064" PRId32 "\"", id);
			break;
		case K_INVALID_TRADE_ID_NUMBER:
			snprintf(text, sizeof(text), "%" PRId32, id);
			break;
		case K_INVALID_COUNTER_PARTY_CONTROL:
			snprintf(text, sizeof(text), "\"%s\\u0007\"", t.counter_party_id);
			break;
		case K_INVALID_COUNTER_PARTY_TOO_LONG:
			{
				/* 65 characters of two bytes each: counts characters */
				size_t		n = 0;

				text[n++] = '"';
				for (int i = 0; i < TRADE_TEXT_MAX_CHARS + 1; i++)
				{
					text[n++] = (char) 0xc3;
					text[n++] = (char) 0xa9;	/* e acute */
				}
				text[n++] = '"';
				text[n] = '\0';
			}
			break;
		case K_INVALID_BOOK_ID_NUL:
			snprintf(text, sizeof(text), "\"%s\\u0000\"", t.book_id);
			break;
		case K_INVALID_BOOK_ID_BAD_UTF8:
			/* a lead byte followed by no continuation byte */
			snprintf(text, sizeof(text), "\"%s\xc3(\"", t.book_id);
			break;
		case K_INVALID_MATURITY_NOT_A_DATE:
			trade_date_to_ymd(t.maturity_date, &y, &m, &d);
			snprintf(text, sizeof(text), "\"%04d-02-30\"", y);
			break;
		case K_INVALID_MATURITY_FORMAT:
			trade_date_to_ymd(t.maturity_date, &y, &m, &d);
			snprintf(text, sizeof(text), "\"%04d/%02d/%02d\"", y, m, d);
			break;
		case K_INVALID_MATURITY_NUMBER:
			trade_date_to_ymd(t.maturity_date, &y, &m, &d);
			snprintf(text, sizeof(text), "%04d%02d%02d", y, m, d);
			break;
		case K_INVALID_CREATED_NOT_A_DATE:
			trade_date_to_ymd(t.created_date, &y, &m, &d);
			snprintf(text, sizeof(text), "\"%04d-13-%02d\"", y, d);
			break;
		case K_MATURED_YESTERDAY:
		case K_MATURED_PAST:
			break;
		case K_TOO_LARGE:
			{
				/* A valid trade but for its size: an ignored field pads it */
				static const char name[] = ",\"padding\":\"";
				size_t		target = g->opts.max_message_bytes + 1 +
					rng_below(g, 64);
				size_t		pad = target - g->len - (sizeof(name) - 1) - 1;
				size_t		at = g->len - 1;	/* the closing brace */

				splice(g, at, at, name, sizeof(name) - 1);
				at += sizeof(name) - 1;
				splice(g, at, at, "\"", 1);
				if (g->len + pad > g->cap)
					abort();
				memmove(g->buf + at + pad, g->buf + at, g->len - at);
				memset(g->buf + at, 'x', pad);
				g->len += pad;
			}
			break;
		case K_OK_NEXT_VERSION:
		case K_OK_SAME_VERSION:
		case K_OK_NO_CREATED_DATE:
		case K_STALE_VERSION:
		case K_COUNT:
			abort();
	}

	/* The field's new value, for the kinds that change one */
	if (text[0] != '\0')
		replace_value(g, kinds[kind].field, text);
}
