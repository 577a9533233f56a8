/*-------------------------------------------------------------------------
 *
 * fuzz_trade.c
 *	  libFuzzer target for trade_parse(): any bytes must end in a reason,
 *	  never in a crash, an overread, a leak or a hang, and what the parser
 *	  accepts must be a trade the store can take and write back.
 *
 * Built by "make fuzz" with ASan and UBSan; a broken invariant calls
 * __builtin_trap() so libFuzzer saves the input.
 *
 * Two oracles are written here apart from trade.c, so that they do not
 * share its mistakes: a small recursive-descent RFC 8259 recogniser (the
 * parser must call malformed_json exactly what it refuses), and a UTF-8
 * check written from the Unicode table of well-formed byte sequences
 * rather than by decoding.
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trade.h"

/* 2026-11-24 */
#define FUZZ_TODAY		9824
#define FUZZ_MAX_BYTES	4096

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static TradeParser *parser;

/* What the recogniser makes of the input */
typedef enum JsonVerdict
{
	JV_VALID,
	JV_INVALID,
	JV_TOO_DEEP					/* valid so far, nested past TRADE_MAX_DEPTH */
} JsonVerdict;

typedef struct Lexer
{
	const unsigned char *s;
	size_t		len;
	size_t		i;
	JsonVerdict verdict;
} Lexer;

static bool lx_value(Lexer *lx, int depth);

static void
lx_ws(Lexer *lx)
{
	while (lx->i < lx->len && (lx->s[lx->i] == ' ' || lx->s[lx->i] == '\t' ||
							   lx->s[lx->i] == '\n' || lx->s[lx->i] == '\r'))
		lx->i++;
}

static bool
lx_eat(Lexer *lx, char c)
{
	if (lx->i < lx->len && lx->s[lx->i] == (unsigned char) c)
	{
		lx->i++;
		return true;
	}
	return false;
}

/* lx_fail: the text is not JSON (unless already found too deep) */
static bool
lx_fail(Lexer *lx)
{
	if (lx->verdict == JV_VALID)
		lx->verdict = JV_INVALID;
	return false;
}

static int
lx_hex4(Lexer *lx)
{
	int			v = 0;
	int			k;

	for (k = 0; k < 4; k++)
	{
		unsigned char c;

		if (lx->i >= lx->len)
			return -1;
		c = lx->s[lx->i++];
		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v = v * 16 + ((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	return v;
}

/*
 * lx_string: bytes >= 0x80 are taken as they are (the parser checks UTF-8
 * only in the fields it keeps).  The parser's own rules on top of RFC
 * 8259: surrogate escapes must pair, a pair must not spell a code point
 * json-c decodes wrongly, and a key must not hold \u0000.
 */
static bool
lx_string(Lexer *lx, bool key)
{
	if (!lx_eat(lx, '"'))
		return lx_fail(lx);
	while (lx->i < lx->len && lx->s[lx->i] != '"')
	{
		unsigned char c = lx->s[lx->i++];
		int			u;
		int			lo;

		if (c < 0x20)
			return lx_fail(lx);
		if (c != '\\')
			continue;
		if (lx->i >= lx->len)
			return lx_fail(lx);
		c = lx->s[lx->i++];
		if (c != 'u')
		{
			if (c == '\0' || strchr("\"\\/bfnrt", c) == NULL)
				return lx_fail(lx);
			continue;
		}
		u = lx_hex4(lx);
		if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF) || (key && u == 0))
			return lx_fail(lx);
		if (u >= 0xD800 && u <= 0xDBFF)
		{
			if (!lx_eat(lx, '\\') || !lx_eat(lx, 'u'))
				return lx_fail(lx);
			lo = lx_hex4(lx);
			if (lo < 0xDC00 || lo > 0xDFFF)
				return lx_fail(lx);
			/* U+xD800..U+xDFFF: json-c 0.16 cannot decode them escaped */
			if ((((u - 0xD800) * 0x400 + (lo - 0xDC00)) & 0xF800) == 0xD800)
				return lx_fail(lx);
		}
	}
	return lx_eat(lx, '"') || lx_fail(lx);
}

static bool
lx_digits(Lexer *lx)
{
	size_t		start = lx->i;

	while (lx->i < lx->len && lx->s[lx->i] >= '0' && lx->s[lx->i] <= '9')
		lx->i++;
	return lx->i > start;
}

static bool
lx_number(Lexer *lx)
{
	lx_eat(lx, '-');
	if (!lx_eat(lx, '0') && !lx_digits(lx))
		return lx_fail(lx);
	if (lx_eat(lx, '.') && !lx_digits(lx))
		return lx_fail(lx);
	if (lx_eat(lx, 'e') || lx_eat(lx, 'E'))
	{
		if (!lx_eat(lx, '+'))
			lx_eat(lx, '-');
		if (!lx_digits(lx))
			return lx_fail(lx);
	}
	return true;
}

static bool
lx_literal(Lexer *lx, const char *word)
{
	size_t		n = strlen(word);

	if (lx->len - lx->i < n || memcmp(lx->s + lx->i, word, n) != 0)
		return lx_fail(lx);
	lx->i += n;
	return true;
}

/*
 * lx_value: json-c refuses any value nested TRADE_MAX_DEPTH deep or more
 * (the top level being 0), even a scalar; an empty container there is
 * fine.  Either way the message is malformed_json.
 */
static bool
lx_value(Lexer *lx, int depth)
{
	unsigned char c;
	char		close;

	if (depth >= TRADE_MAX_DEPTH)
	{
		lx->verdict = JV_TOO_DEEP;
		return false;
	}
	lx_ws(lx);
	if (lx->i >= lx->len)
		return lx_fail(lx);
	c = lx->s[lx->i];
	if (c == '"')
		return lx_string(lx, false);
	if (c == '-' || (c >= '0' && c <= '9'))
		return lx_number(lx);
	if (c == 't')
		return lx_literal(lx, "true");
	if (c == 'f')
		return lx_literal(lx, "false");
	if (c == 'n')
		return lx_literal(lx, "null");
	if (c != '{' && c != '[')
		return lx_fail(lx);

	close = c == '{' ? '}' : ']';
	lx->i++;
	lx_ws(lx);
	if (lx_eat(lx, close))
		return true;
	do
	{
		if (c == '{')
		{
			lx_ws(lx);
			if (!lx_string(lx, true))
				return false;
			lx_ws(lx);
			if (!lx_eat(lx, ':'))
				return lx_fail(lx);
		}
		if (!lx_value(lx, depth + 1))
			return false;
		lx_ws(lx);
	} while (lx_eat(lx, ','));
	return lx_eat(lx, close) || lx_fail(lx);
}

static JsonVerdict
json_verdict(const unsigned char *s, size_t len)
{
	Lexer		lx = {s, len, 0, JV_VALID};

	if (!lx_value(&lx, 0))
		return lx.verdict;
	lx_ws(&lx);
	return lx.i == len ? JV_VALID : JV_INVALID;
}

/*
 * utf8_well_formed: Unicode 15 table 3-7, byte by byte.  The second byte's
 * range depends on the first; the others are always 80..BF.
 */
static bool
utf8_well_formed(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char b = s[i];
		unsigned char lo = 0x80;
		unsigned char hi = 0xBF;
		size_t		n;
		size_t		k;

		if (b <= 0x7F)
			n = 1;
		else if (b >= 0xC2 && b <= 0xDF)
			n = 2;
		else if (b >= 0xE0 && b <= 0xEF)
		{
			n = 3;
			if (b == 0xE0)
				lo = 0xA0;
			else if (b == 0xED)
				hi = 0x9F;
		}
		else if (b >= 0xF0 && b <= 0xF4)
		{
			n = 4;
			if (b == 0xF0)
				lo = 0x90;
			else if (b == 0xF4)
				hi = 0x8F;
		}
		else
			return false;
		if (len - i < n)
			return false;
		for (k = 1; k < n; k++)
		{
			if (s[i + k] < lo || s[i + k] > hi)
				return false;
			lo = 0x80;
			hi = 0xBF;
		}
		i += n;
	}
	return true;
}

/* check_text: a kept text field obeys the design's rules */
static void
check_text(const char *field, size_t size)
{
	const unsigned char *s = (const unsigned char *) field;
	const char *nul = memchr(field, '\0', size);
	size_t		len;
	size_t		chars = 0;
	size_t		i;

	CHECK(nul != NULL);
	len = (size_t) (nul - field);
	CHECK(len >= 1 && len <= TRADE_TEXT_MAX_BYTES);
	CHECK(utf8_well_formed(s, len));
	for (i = 0; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			chars++;
		CHECK(s[i] >= 0x20 && s[i] != 0x7F);
		/* U+0080..U+009F are C2 80..C2 9F */
		CHECK(!(s[i] == 0xC2 && i + 1 < len && s[i + 1] <= 0x9F));
	}
	CHECK(chars >= 1 && chars <= TRADE_TEXT_MAX_CHARS);
}

static void
check_detail(const char *detail, bool ok)
{
	const char *nul = memchr(detail, '\0', TRADE_DETAIL_SIZE);
	const char *p;

	CHECK(nul != NULL);
	for (p = detail; p < nul; p++)
		CHECK(*p >= 0x20 && *p <= 0x7E);
	CHECK(ok ? nul == detail : nul != detail);
}

static bool
same_trade(const Trade *a, const Trade *b)
{
	return strcmp(a->trade_id, b->trade_id) == 0 &&
		a->version == b->version &&
		strcmp(a->counter_party_id, b->counter_party_id) == 0 &&
		strcmp(a->book_id, b->book_id) == 0 &&
		a->maturity_date == b->maturity_date &&
		a->has_created_date == b->has_created_date &&
		(!a->has_created_date || a->created_date == b->created_date);
}

/* One parser for the whole run, as the worker keeps one */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	parser = trade_parser_new();
	CHECK(parser != NULL);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *) data;
	char		detail[TRADE_DETAIL_SIZE];
	char		again_detail[TRADE_DETAIL_SIZE];
	char		json[4096];
	Trade		t;
	Trade		again;
	TradeReason r;
	size_t		need;

	memset(detail, 'Z', sizeof(detail));
	r = trade_parse(parser, buf, size, FUZZ_MAX_BYTES, FUZZ_TODAY, &t,
					detail, sizeof(detail));
	CHECK((int) r >= 0 && r < TRADE_REASON_COUNT);
	/* those two belong to the store */
	CHECK(r != TRADE_STALE_VERSION && r != TRADE_STORE_FAILED);
	CHECK((r == TRADE_TOO_LARGE) == (size > FUZZ_MAX_BYTES));
	check_detail(detail, r == TRADE_OK);

	/* malformed_json is exactly what the recogniser refuses */
	if (size <= FUZZ_MAX_BYTES)
		CHECK((r == TRADE_MALFORMED_JSON) ==
			  (json_verdict(data, size) != JV_VALID));

	/* the reused tokener carries nothing from one message to the next */
	memset(again_detail, 'Y', sizeof(again_detail));
	CHECK(trade_parse(parser, buf, size, FUZZ_MAX_BYTES, FUZZ_TODAY, &again,
					  again_detail, sizeof(again_detail)) == r);
	CHECK(strcmp(detail, again_detail) == 0);

	/* one byte over the limit is too_large whatever the bytes (0: none) */
	if (size > 1)
		CHECK(trade_parse(parser, buf, size, size - 1, FUZZ_TODAY, &again,
						  NULL, 0) == TRADE_TOO_LARGE);

	if (r != TRADE_OK)
		return 0;

	check_text(t.trade_id, sizeof(t.trade_id));
	check_text(t.counter_party_id, sizeof(t.counter_party_id));
	check_text(t.book_id, sizeof(t.book_id));
	CHECK(t.version >= 1);
	CHECK(t.maturity_date >= FUZZ_TODAY);
	CHECK(t.maturity_date <= trade_date_from_ymd(9999, 12, 31));
	if (t.has_created_date)
		CHECK(t.created_date >= trade_date_from_ymd(1, 1, 1) &&
			  t.created_date <= trade_date_from_ymd(9999, 12, 31));

	/* what was accepted writes back as JSON that parses to the same trade */
	need = trade_format_json(&t, json, sizeof(json));
	CHECK(need < sizeof(json));
	CHECK(trade_parse(parser, json, need, 0, FUZZ_TODAY, &again,
					  detail, sizeof(detail)) == TRADE_OK);
	CHECK(same_trade(&t, &again));
	return 0;
}
