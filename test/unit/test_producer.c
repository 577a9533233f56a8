/*-------------------------------------------------------------------------
 *
 * test_producer.c
 *	  Unit tests of the trades-producer generator (src/producer/gen.c)
 *	  against the shared trade model (src/trade.c): the stream is
 *	  reproducible, every valid message reads back as the trade generated,
 *	  and every deliberately invalid message is rejected for its intended
 *	  reason.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gen.h"
#include "trade.h"

#define MAX_TRADES 1000

/* The options of most tests: a fixed seed and a fixed today */
static GenOptions
base_options(void)
{
	GenOptions	o = {
		.seed = 42,
		.trades = 50,
		.invalid_ratio = 0,
		.today = trade_date_from_ymd(2026, 3, 15),
		.max_message_bytes = GEN_DEFAULT_MESSAGE_BYTES,
		.first_version = 1,
	};

	return o;
}

static Generator *
new_generator(const GenOptions *o)
{
	char		err[256];
	Generator  *g = gen_new(o, err, sizeof(err));

	if (g == NULL)
		fail_msg("gen_new: %s", err);
	return g;
}

/* The trade id T<n> of a message key, as n */
static int
key_id(const GenMessage *m)
{
	char		buf[32];

	assert_true(m->key_len > 1 && m->key_len < sizeof(buf));
	memcpy(buf, m->key, m->key_len);
	buf[m->key_len] = '\0';
	assert_true(buf[0] == 'T');
	return atoi(buf + 1);
}

/* parse: trade_parse() as the consumer would call it for this stream */
static TradeReason
parse(TradeParser *p, const GenOptions *o, const GenMessage *m, Trade *t,
	  char *detail)
{
	return trade_parse(p, m->value, m->value_len, o->max_message_bytes,
					   o->today, t, detail, TRADE_DETAIL_SIZE);
}

static void
fail_message(const GenMessage *m, TradeReason got, const char *detail)
{
	int			n = m->value_len < 300 ? (int) m->value_len : 300;

	fail_msg("%s: expected %s, got %s (%s) for: %.*s", gen_kind_name(m->kind),
			 trade_reason_name(m->expect), trade_reason_name(got), detail, n,
			 m->value);
}

static void
test_kind_names(void **state)
{
	(void) state;
	assert_true(gen_kind_count() > TRADE_REASON_COUNT);
	for (int i = 0; i < gen_kind_count(); i++)
	{
		const char *name = gen_kind_name(i);
		const char *reason = trade_reason_name(gen_kind_reason(i));

		/* "<reason>/<variant>", and no two alike */
		assert_int_equal(strncmp(name, reason, strlen(reason)), 0);
		assert_int_equal(name[strlen(reason)], '/');
		for (int j = 0; j < i; j++)
			assert_string_not_equal(name, gen_kind_name(j));
	}
}

static void
test_bad_options(void **state)
{
	GenOptions	o;
	char		err[256];

	(void) state;
	o = base_options();
	o.trades = 0;
	assert_null(gen_new(&o, err, sizeof(err)));
	assert_true(strlen(err) > 0);
	o = base_options();
	o.invalid_ratio = 1.5;
	assert_null(gen_new(&o, err, sizeof(err)));
	o = base_options();
	o.invalid_ratio = NAN;
	assert_null(gen_new(&o, err, sizeof(err)));
	o = base_options();
	o.max_message_bytes = 100;
	assert_null(gen_new(&o, err, sizeof(err)));
	o = base_options();
	o.first_version = 0;
	assert_null(gen_new(&o, err, sizeof(err)));
}

/* Same seed and today: the same bytes, keys and intended outcomes */
static void
test_same_seed_same_bytes(void **state)
{
	GenOptions	o = base_options();
	Generator  *a,
			   *b;

	(void) state;
	o.invalid_ratio = 0.3;
	a = new_generator(&o);
	b = new_generator(&o);
	for (int i = 0; i < 5000; i++)
	{
		const GenMessage *ma = gen_next(a);
		const GenMessage *mb = gen_next(b);

		assert_int_equal(ma->value_len, mb->value_len);
		assert_memory_equal(ma->value, mb->value, ma->value_len);
		assert_int_equal(ma->key_len, mb->key_len);
		assert_memory_equal(ma->key, mb->key, ma->key_len);
		assert_int_equal(ma->kind, mb->kind);
		assert_int_equal(ma->expect, mb->expect);
	}
	gen_free(a);
	gen_free(b);
}

/*
 * The stream of a given seed is pinned: the same bytes on every machine and
 * from one version of the generator to the next, so that a seed written in
 * a bug report or a test still means the same messages.  A deliberate change
 * of the stream (or of trade_format_json) updates this hash and says so.
 */
static void
test_stream_is_pinned(void **state)
{
	GenOptions	o = base_options();
	Generator  *g;
	uint64_t	h = UINT64_C(14695981039346656037);	/* FNV-1a */

	(void) state;
	o.invalid_ratio = 0.3;
	o.max_message_bytes = GEN_MIN_MESSAGE_BYTES;
	g = new_generator(&o);
	for (int i = 0; i < 1000; i++)
	{
		const GenMessage *m = gen_next(g);

		for (size_t j = 0; j < m->value_len; j++)
			h = (h ^ (unsigned char) m->value[j]) * UINT64_C(1099511628211);
		for (size_t j = 0; j < m->key_len; j++)
			h = (h ^ (unsigned char) m->key[j]) * UINT64_C(1099511628211);
	}
	assert_int_equal(h, UINT64_C(0x92ecce7910f66bc0));
	gen_free(g);
}

/* Another seed, or another today: other bytes */
static void
test_other_seed_other_bytes(void **state)
{
	GenOptions	o = base_options();
	Generator  *a,
			   *b,
			   *c;
	int			same_seed_diff = 0,
				same_today_diff = 0;

	(void) state;
	a = new_generator(&o);
	o.seed = 43;
	b = new_generator(&o);
	o.seed = 42;
	o.today++;
	c = new_generator(&o);
	for (int i = 0; i < 100; i++)
	{
		const GenMessage *ma = gen_next(a);
		const GenMessage *mb = gen_next(b);
		const GenMessage *mc;
		size_t		len = ma->value_len;
		char		copy[GEN_MIN_MESSAGE_BYTES];

		assert_true(len < sizeof(copy));
		memcpy(copy, ma->value, len);
		if (mb->value_len != len || memcmp(mb->value, copy, len) != 0)
			same_today_diff++;
		mc = gen_next(c);
		if (mc->value_len != len || memcmp(mc->value, copy, len) != 0)
			same_seed_diff++;
	}
	assert_true(same_today_diff > 90);
	assert_int_equal(same_seed_diff, 100);	/* created_date moved */
	gen_free(a);
	gen_free(b);
	gen_free(c);
}

/*
 * Every valid message passes the consumer's validator and reads back as
 * the trade generated, keyed by its trade_id, with dates in range.
 */
static void
test_valid_messages_round_trip(void **state)
{
	GenOptions	o = base_options();
	Generator  *g;
	TradeParser *p = trade_parser_new();
	int			no_created = 0;

	(void) state;
	assert_non_null(p);
	o.trades = 500;
	g = new_generator(&o);
	for (int i = 0; i < 20000; i++)
	{
		const GenMessage *m = gen_next(g);
		Trade		t;
		char		detail[TRADE_DETAIL_SIZE];
		TradeReason r;

		assert_int_equal(m->expect, TRADE_OK);
		r = parse(p, &o, m, &t, detail);
		if (r != TRADE_OK)
			fail_message(m, r, detail);
		assert_string_equal(t.trade_id, m->trade.trade_id);
		assert_int_equal(t.version, m->trade.version);
		assert_string_equal(t.counter_party_id, m->trade.counter_party_id);
		assert_string_equal(t.book_id, m->trade.book_id);
		assert_int_equal(t.maturity_date, m->trade.maturity_date);
		assert_int_equal(t.has_created_date, m->trade.has_created_date);
		if (t.has_created_date)
			assert_int_equal(t.created_date, o.today);
		else
			no_created++;
		assert_int_equal(m->key_len, strlen(t.trade_id));
		assert_memory_equal(m->key, t.trade_id, m->key_len);
		assert_in_range(t.maturity_date, o.today + 1, o.today + 3650);
		assert_in_range(key_id(m), 0, o.trades - 1);
		/* The bench's "150-byte messages" */
		assert_in_range(m->value_len, 90, 160);
	}
	/* One in twenty leaves created_date out */
	assert_in_range(no_created, 800, 1200);
	gen_free(g);
	trade_parser_free(p);
}

/*
 * At --invalid-ratio 1, every invalid kind shows up in a few hundred
 * messages and the validator rejects each for its intended reason (naming
 * the intended field).  stale_version, which only the store can see,
 * parses as valid and is lower than a version sent before under its key.
 */
static void
test_every_invalid_kind_rejected(void **state)
{
	GenOptions	o = base_options();
	Generator  *g;
	TradeParser *p = trade_parser_new();
	int			seen[64] = {0};
	int32_t		sent[MAX_TRADES] = {0};
	int			valid = 0;

	(void) state;
	assert_true(gen_kind_count() <= 64);
	o.invalid_ratio = 1;
	o.trades = 20;
	g = new_generator(&o);
	for (int i = 0; i < 700; i++)
	{
		const GenMessage *m = gen_next(g);
		Trade		t;
		char		detail[TRADE_DETAIL_SIZE] = "";
		TradeReason r = parse(p, &o, m, &t, detail);
		int			id = key_id(m);

		seen[m->kind]++;
		assert_int_equal(gen_kind_reason(m->kind), m->expect);
		if (m->expect == TRADE_OK || m->expect == TRADE_STALE_VERSION)
		{
			if (r != TRADE_OK)
				fail_message(m, r, detail);
			assert_memory_equal(m->key, t.trade_id, m->key_len);
			if (m->expect == TRADE_OK)
			{
				valid++;
				sent[id] = t.version;
			}
			else
			{
				assert_true(t.version < sent[id]);
				assert_int_equal(m->stored_version, sent[id]);
			}
			continue;
		}
		if (r != m->expect)
			fail_message(m, r, detail);
		if (m->field != NULL &&
			(strncmp(detail, m->field, strlen(m->field)) != 0 ||
			 detail[strlen(m->field)] != ':'))
			fail_msg("%s: detail \"%s\" does not start with \"%s:\"",
					 gen_kind_name(m->kind), detail, m->field);
	}
	for (int k = 0; k < gen_kind_count(); k++)
		if (gen_kind_reason(k) != TRADE_OK && seen[k] == 0)
			fail_msg("kind %s never generated", gen_kind_name(k));
	/* Only what the first stale_version needs to be stale against */
	assert_in_range(valid, 1, 2);
	gen_free(g);
	trade_parser_free(p);
}

/*
 * Per trade id, the versions of the valid messages never go down: each is
 * the next one or, now and then, the same one again; a stale_version is
 * below the highest sent.  Invalid messages leave the versions alone.
 */
static void
test_versions_in_order(void **state)
{
	GenOptions	o = base_options();
	Generator  *g;
	int32_t		sent[MAX_TRADES] = {0};
	int			same = 0,
				next = 0,
				stale = 0;

	(void) state;
	o.invalid_ratio = 0.2;
	o.trades = 30;
	o.first_version = 1000;
	g = new_generator(&o);
	for (int i = 0; i < 30000; i++)
	{
		const GenMessage *m = gen_next(g);
		int			id = key_id(m);

		if (m->expect == TRADE_OK)
		{
			if (sent[id] == 0)
				assert_int_equal(m->trade.version, o.first_version);
			else if (m->trade.version == sent[id])
			{
				assert_string_equal(gen_kind_name(m->kind), "ok/same_version");
				same++;
			}
			else
			{
				assert_int_equal(m->trade.version, sent[id] + 1);
				next++;
			}
			sent[id] = m->trade.version;
		}
		else if (m->expect == TRADE_STALE_VERSION)
		{
			assert_true(m->trade.version < sent[id]);
			assert_true(m->trade.version >= sent[id] - 5);
			stale++;
		}
	}
	/* One in twenty repeats the version */
	assert_in_range(same * 1000 / (same + next), 35, 65);
	assert_true(stale > 0);
	gen_free(g);
}

/* The invalid share follows the ratio, spread evenly over the reasons */
static void
test_invalid_share(void **state)
{
	GenOptions	o = base_options();
	Generator  *g;
	int			per_reason[TRADE_REASON_COUNT] = {0};
	int			invalid = 0;
	const int	n = 70000;

	(void) state;
	o.invalid_ratio = 0.25;
	g = new_generator(&o);
	for (int i = 0; i < n; i++)
	{
		const GenMessage *m = gen_next(g);

		if (m->expect != TRADE_OK)
		{
			invalid++;
			per_reason[m->expect]++;
		}
	}
	assert_in_range(invalid, n * 24 / 100, n * 26 / 100);
	for (int r = TRADE_MALFORMED_JSON; r <= TRADE_TOO_LARGE; r++)
		assert_in_range(per_reason[r], invalid / 7 - 1, invalid / 7 + 1);
	gen_free(g);

	o.invalid_ratio = 0;
	g = new_generator(&o);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(gen_next(g)->expect, TRADE_OK);
	gen_free(g);
}

/*
 * too_large messages are just over the consumer's limit and valid but for
 * their size, whatever the limit.
 */
static void
test_too_large(void **state)
{
	static const size_t limits[] = {GEN_MIN_MESSAGE_BYTES, GEN_DEFAULT_MESSAGE_BYTES,
	GEN_MAX_MESSAGE_BYTES};
	TradeParser *p = trade_parser_new();

	(void) state;
	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++)
	{
		GenOptions	o = base_options();
		Generator  *g;
		int			found = 0;

		o.invalid_ratio = 1;
		o.max_message_bytes = limits[l];
		g = new_generator(&o);
		for (int i = 0; i < 100; i++)
		{
			const GenMessage *m = gen_next(g);
			Trade		t;
			char		detail[TRADE_DETAIL_SIZE];

			if (m->expect != TRADE_TOO_LARGE)
			{
				assert_true(m->value_len < GEN_MIN_MESSAGE_BYTES);
				continue;
			}
			found++;
			assert_in_range(m->value_len, limits[l] + 1, limits[l] + 64);
			assert_int_equal(parse(p, &o, m, &t, detail), TRADE_TOO_LARGE);
			assert_int_equal(trade_parse(p, m->value, m->value_len, 0, o.today,
										 &t, detail, sizeof(detail)), TRADE_OK);
			assert_memory_equal(m->key, t.trade_id, m->key_len);
		}
		assert_true(found > 0);
		gen_free(g);
	}
	trade_parser_free(p);
}

/* No message of the stream is empty or has a newline: --print needs it */
static void
test_one_line_each(void **state)
{
	GenOptions	o = base_options();
	Generator  *g;

	(void) state;
	o.invalid_ratio = 0.5;
	g = new_generator(&o);
	for (int i = 0; i < 5000; i++)
	{
		const GenMessage *m = gen_next(g);

		assert_true(m->value_len > 0);
		assert_null(memchr(m->value, '\n', m->value_len));
	}
	gen_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_same_seed_same_bytes),
		cmocka_unit_test(test_stream_is_pinned),
		cmocka_unit_test(test_other_seed_other_bytes),
		cmocka_unit_test(test_valid_messages_round_trip),
		cmocka_unit_test(test_every_invalid_kind_rejected),
		cmocka_unit_test(test_versions_in_order),
		cmocka_unit_test(test_invalid_share),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_one_line_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
