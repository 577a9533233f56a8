/*-------------------------------------------------------------------------
 *
 * test_trade.c
 *	  cmocka unit tests of the trade parser and validator (src/trade.c):
 *	  every reject reason the parser decides, both sides of every field
 *	  boundary, the reject detail contract, the date functions over their
 *	  whole range and trade_format_json.
 *
 * Every message is copied into a heap block of exactly its length before
 * it is parsed, so that under AddressSanitizer or valgrind a read past the
 * end of a message fails the test.
 *
 *-------------------------------------------------------------------------
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "trade.h"

/* 2026-11-24, the "today" of every test unless it says otherwise */
#define TODAY		9824

/* Room for the messages built here, the longest about 1.2 kB */
#define MSG_SIZE	8192

static TradeParser *parser;

/* The fields of a valid message, in the order the parser checks them */
static const char *const field_names[] = {
	"trade_id", "version", "counter_party_id", "book_id",
	"maturity_date", "created_date"
};
static const char *const field_values[] = {
	"\"T47654\"", "73", "\"CP-1\"", "\"B1\"", "\"2027-05-20\"", "\"2026-11-24\""
};

#define NFIELDS 6

static const char valid_json[] =
"{\"trade_id\":\"T47654\",\"version\":73,\"counter_party_id\":\"CP-1\","
"\"book_id\":\"B1\",\"maturity_date\":\"2027-05-20\",\"created_date\":\"2026-11-24\"}";

/* add_field: append "name":value to the object being built in buf */
static size_t
add_field(char *buf, size_t size, size_t n, const char *name, const char *value)
{
	n += (size_t) snprintf(buf + n, size - n, "%s\"%s\":%s",
						   n > 1 ? "," : "", name, value);
	assert_true(n < size - 2);
	return n;
}

/*
 * msg2: the valid message with up to two fields replaced by raw JSON
 * values (NULL value: the field left out).  A field that is not one of
 * the six is added at the end.  Returns a static buffer.
 */
static const char *
msg2(const char *f1, const char *v1, const char *f2, const char *v2)
{
	static char buf[MSG_SIZE];
	size_t		n = 0;
	int			i;
	bool		found1 = false;
	bool		found2 = false;

	buf[n++] = '{';
	for (i = 0; i < NFIELDS; i++)
	{
		const char *v = field_values[i];

		if (f1 != NULL && strcmp(field_names[i], f1) == 0)
		{
			v = v1;
			found1 = true;
		}
		else if (f2 != NULL && strcmp(field_names[i], f2) == 0)
		{
			v = v2;
			found2 = true;
		}
		if (v != NULL)
			n = add_field(buf, sizeof(buf), n, field_names[i], v);
	}
	if (f1 != NULL && !found1 && v1 != NULL)
		n = add_field(buf, sizeof(buf), n, f1, v1);
	if (f2 != NULL && !found2 && v2 != NULL)
		n = add_field(buf, sizeof(buf), n, f2, v2);
	buf[n++] = '}';
	buf[n] = '\0';
	return buf;
}

/* msg: the valid message with one field replaced (or left out) */
static const char *
msg(const char *field, const char *value)
{
	return msg2(field, value, NULL, NULL);
}

/* repeat: s n times, in a static buffer */
static const char *
repeat(const char *s, int n)
{
	static char buf[MSG_SIZE];
	size_t		len = strlen(s);
	int			i;

	assert_true(len * (size_t) n + 3 <= sizeof(buf));
	buf[0] = '"';
	for (i = 0; i < n; i++)
		memcpy(buf + 1 + len * (size_t) i, s, len);
	buf[1 + len * (size_t) n] = '"';
	buf[2 + len * (size_t) n] = '\0';
	return buf;
}

static bool
printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
	{
		if (*s < 0x20 || *s > 0x7e)
			return false;
	}
	return true;
}

/*
 * parse_exact: trade_parse over a heap copy of exactly len bytes, with no
 * size limit and today = TODAY.
 */
static TradeReason
parse_exact(const char *buf, size_t len, size_t max_bytes, int32_t today,
			Trade *t, char *detail, size_t detail_size)
{
	char	   *copy = malloc(len > 0 ? len : 1);
	TradeReason r;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, buf, len);
	r = trade_parse(parser, copy, len, max_bytes, today, t, detail,
					detail_size);
	free(copy);
	return r;
}

/*
 * check_parse: parse and compare the reason and the start of the detail;
 * reports the caller's line.
 */
static void
check_parse(const char *buf, size_t len, TradeReason want,
			const char *prefix, Trade *t, const char *file, int line)
{
	Trade		local;
	char		detail[TRADE_DETAIL_SIZE];
	TradeReason r;

	memset(detail, 'Z', sizeof(detail));
	r = parse_exact(buf, len, 0, TODAY, t != NULL ? t : &local,
					detail, sizeof(detail));
	if (memchr(detail, '\0', sizeof(detail)) == NULL || !printable_ascii(detail))
	{
		print_error("detail not a printable NUL-terminated string\n");
		_fail(file, line);
	}
	if (r != want ||
		(prefix != NULL && strncmp(detail, prefix, strlen(prefix)) != 0) ||
		(want == TRADE_OK && detail[0] != '\0') ||
		(want != TRADE_OK && detail[0] == '\0'))
	{
		print_error("message %.*s\n  got %s \"%s\", want %s \"%s\"\n",
					(int) (len > 300 ? 300 : len), buf,
					trade_reason_name(r), detail, trade_reason_name(want),
					prefix != NULL ? prefix : "");
		_fail(file, line);
	}
}

#define EXPECT(json, reason, prefix) \
	check_parse((json), strlen(json), (reason), (prefix), NULL, __FILE__, __LINE__)
#define EXPECT_LEN(buf, len, reason, prefix) \
	check_parse((buf), (len), (reason), (prefix), NULL, __FILE__, __LINE__)
#define EXPECT_TRADE(json, t) \
	check_parse((json), strlen(json), TRADE_OK, NULL, (t), __FILE__, __LINE__)

static int
group_setup(void **state)
{
	(void) state;
	parser = trade_parser_new();
	return parser == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void) state;
	trade_parser_free(parser);
	parser = NULL;
	return 0;
}

/* ------------------------------------------------------------------------
 * Whole messages
 */

static void
test_valid_message(void **state)
{
	Trade		t;

	(void) state;
	EXPECT_TRADE(valid_json, &t);
	assert_string_equal(t.trade_id, "T47654");
	assert_int_equal(t.version, 73);
	assert_string_equal(t.counter_party_id, "CP-1");
	assert_string_equal(t.book_id, "B1");
	assert_int_equal(t.maturity_date, trade_date_from_ymd(2027, 5, 20));
	assert_true(t.has_created_date);
	assert_int_equal(t.created_date, TODAY);

	/* whitespace between tokens is JSON */
	EXPECT(" {\n\t\"trade_id\" : \"T1\" ,\r\n \"version\" : 1 , "
		   "\"counter_party_id\":\"C\",\"book_id\":\"B\","
		   "\"maturity_date\":\"2026-11-24\"}\n", TRADE_OK, NULL);
}

static void
test_reason_names(void **state)
{
	(void) state;
	assert_string_equal(trade_reason_name(TRADE_OK), "ok");
	assert_string_equal(trade_reason_name(TRADE_MALFORMED_JSON), "malformed_json");
	assert_string_equal(trade_reason_name(TRADE_NOT_AN_OBJECT), "not_an_object");
	assert_string_equal(trade_reason_name(TRADE_MISSING_FIELD), "missing_field");
	assert_string_equal(trade_reason_name(TRADE_INVALID_FIELD), "invalid_field");
	assert_string_equal(trade_reason_name(TRADE_MATURED), "matured");
	assert_string_equal(trade_reason_name(TRADE_STALE_VERSION), "stale_version");
	assert_string_equal(trade_reason_name(TRADE_TOO_LARGE), "too_large");
	assert_string_equal(trade_reason_name(TRADE_STORE_FAILED), "store_failed");
	assert_string_equal(trade_reason_name(TRADE_REASON_COUNT), "unknown");
	assert_string_equal(trade_reason_name((TradeReason) -1), "unknown");
	assert_string_equal(trade_reason_name((TradeReason) 1000), "unknown");
}

static void
test_too_large(void **state)
{
	size_t		len = strlen(valid_json);
	char		detail[TRADE_DETAIL_SIZE];
	Trade		t;

	(void) state;
	assert_int_equal(parse_exact(valid_json, len, len, TODAY, &t, detail,
								 sizeof(detail)), TRADE_OK);
	assert_int_equal(parse_exact(valid_json, len, len + 1, TODAY, &t, detail,
								 sizeof(detail)), TRADE_OK);
	assert_int_equal(parse_exact(valid_json, len, len - 1, TODAY, &t, detail,
								 sizeof(detail)), TRADE_TOO_LARGE);
	assert_true(strstr(detail, "exceeds the limit") != NULL);
	/* max_bytes 0: no limit */
	assert_int_equal(parse_exact(valid_json, len, 0, TODAY, &t, detail,
								 sizeof(detail)), TRADE_OK);

	/* too_large is decided without reading: NULL would crash otherwise */
	assert_int_equal(trade_parse(parser, NULL, 4097, 4096, TODAY, &t, detail,
								 sizeof(detail)), TRADE_TOO_LARGE);
	assert_string_equal(detail,
						"message of 4097 bytes exceeds the limit of 4096 bytes");
	assert_int_equal(trade_parse(parser, NULL, (size_t) INT_MAX + 1, 0, TODAY,
								 &t, detail, sizeof(detail)), TRADE_TOO_LARGE);
	assert_int_equal(trade_parse(parser, NULL, SIZE_MAX, 0, TODAY,
								 &t, detail, sizeof(detail)), TRADE_TOO_LARGE);

	/* a too_large message that is also malformed is too_large */
	assert_int_equal(parse_exact("{{{{{", 5, 4, TODAY, &t, detail,
								 sizeof(detail)), TRADE_TOO_LARGE);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"{", "}", "[", "{\"trade_id\":", "{\"trade_id\":\"T1\"",
		"{\"trade_id\":\"T1", "{\"a\":1,}", "[1,]", "{,}", "{\"a\" 1}",
		"{\"a\":1 \"b\":2}", "{'trade_id':'T1'}", "{trade_id:\"T1\"}",
		"/* c */{}", "{}// c", "{}{}", "{} x", "{}]", "\"abc", "tru", "nul",
		"True", "NULL", "x", "{\"a\":tRue}",
		/* what strict json-c lets through and json_text_check refuses */
		"NaN", "Infinity", "-Infinity", "[NaN]", "{\"a\":Infinity}",
		"{\"a\":-Infinity}", "{\"a\":1.}", "{\"a\":00}", "{\"a\":-01}",
		"{\"a\":01}", "{\"a\":1.e5}", "{\"a\":+1}", "{\"a\":.5}",
		"{\"a\":0x10}", "{\"a\":1e}", "{\"a\":-}", "{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
		"{\"a\":\"\\udbff\\udbff\"}", "{\"a\":\"\\ud800\\u0041\"}",
		"{\"a\":\"\\ud800x\"}", "{\"a\":\"x\\ud800\"}",
		"{\"a\":\"a\tb\"}", "{\"a\":\"a\nb\"}", "{\"a\":\"\x01\"}",
		"{\"a\\u0000\":1}", "{\"trade_id\\u0000x\":\"T1\"}",
		"{'a':1}", "{\"x\":1,'a\"b':2}", "{\"x\":{'y':2}}",
		/* whitespace other than RFC 8259's four */
		"\f{}", "{}\v", "{\f}",
	};
	size_t		i;
	size_t		len = strlen(valid_json);

	(void) state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT(bad[i], TRADE_MALFORMED_JSON, "invalid JSON");

	/* every proper prefix of a valid message */
	for (i = 1; i < len; i++)
		EXPECT_LEN(valid_json, i, TRADE_MALFORMED_JSON, "invalid JSON");

	EXPECT_LEN("", 0, TRADE_MALFORMED_JSON, "the message is empty");
	EXPECT(" ", TRADE_MALFORMED_JSON, "the message holds only whitespace");
	EXPECT(" \t\r\n ", TRADE_MALFORMED_JSON, "the message holds only whitespace");

	/* strict JSON that the checks above must not refuse */
	EXPECT(msg2("x", "[-0, 0, 1E+2, 0.5e-3, -1.25E-10, 1e999, true, false, null, {}, []]",
				"y", "\"\\ud83d\\ude00 \\uD83D\\uDE00 \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u0000\""),
		   TRADE_OK, NULL);
}

static void
test_trailing_data(void **state)
{
	char		buf[MSG_SIZE];

	(void) state;
	snprintf(buf, sizeof(buf), "%s \r\n\t ", valid_json);
	EXPECT(buf, TRADE_OK, NULL);
	snprintf(buf, sizeof(buf), "%s x", valid_json);
	EXPECT(buf, TRADE_MALFORMED_JSON, "invalid JSON");
	snprintf(buf, sizeof(buf), "%s}", valid_json);
	EXPECT(buf, TRADE_MALFORMED_JSON, "invalid JSON");
	snprintf(buf, sizeof(buf), "%s%s", valid_json, valid_json);
	EXPECT(buf, TRADE_MALFORMED_JSON, "invalid JSON");
	snprintf(buf, sizeof(buf), "%s\n%s", valid_json, valid_json);
	EXPECT(buf, TRADE_MALFORMED_JSON, "invalid JSON");
	EXPECT("5 5", TRADE_MALFORMED_JSON, "invalid JSON");
	EXPECT("5x", TRADE_MALFORMED_JSON, "invalid JSON");
}

/* A NUL byte is the end of the input to json-c; to us it is a bad byte */
static void
test_raw_nul_bytes(void **state)
{
	char		buf[MSG_SIZE];
	size_t		len = strlen(valid_json);
	char	   *p;

	(void) state;

	/* after the object, alone or before more data or whitespace */
	memcpy(buf, valid_json, len);
	buf[len] = '\0';
	EXPECT_LEN(buf, len + 1, TRADE_MALFORMED_JSON, "invalid JSON: NUL byte at offset");
	memcpy(buf + len + 1, "garbage", 7);
	EXPECT_LEN(buf, len + 8, TRADE_MALFORMED_JSON, "invalid JSON: NUL byte at offset");
	memcpy(buf + len, " \0 ", 3);
	EXPECT_LEN(buf, len + 3, TRADE_MALFORMED_JSON, "invalid JSON: NUL byte at offset");

	/* before the object */
	buf[0] = '\0';
	memcpy(buf + 1, valid_json, len);
	EXPECT_LEN(buf, len + 1, TRADE_MALFORMED_JSON, "invalid JSON: NUL byte at offset 0");

	/* between tokens, outside strings */
	strcpy(buf, valid_json);
	p = strchr(buf, ',');
	*p = '\0';
	EXPECT_LEN(buf, len, TRADE_MALFORMED_JSON, "invalid JSON: NUL byte at offset");

	/* inside a string, raw: a control character, never a NUL in trade_id */
	strcpy(buf, valid_json);
	p = strstr(buf, "T47654");
	p[2] = '\0';
	EXPECT_LEN(buf, len, TRADE_MALFORMED_JSON, "invalid JSON");

	/* only NUL bytes */
	memset(buf, 0, 16);
	EXPECT_LEN(buf, 16, TRADE_MALFORMED_JSON, "invalid JSON: NUL byte at offset 0");
	EXPECT_LEN(buf, 1, TRADE_MALFORMED_JSON, "invalid JSON: NUL byte at offset 0");
}

static void
test_bom(void **state)
{
	char		buf[MSG_SIZE];

	(void) state;
	snprintf(buf, sizeof(buf), "\xEF\xBB\xBF%s", valid_json);
	EXPECT(buf, TRADE_MALFORMED_JSON,
		   "the message starts with a UTF-8 byte order mark");
	EXPECT("\xEF\xBB\xBF", TRADE_MALFORMED_JSON, "the message starts with a UTF-8");
	/* U+FEFF inside a string is an ordinary character */
	EXPECT(msg("book_id", "\"\xEF\xBB\xBF" "B1\""), TRADE_OK, NULL);
	/* after the object it is trailing data */
	snprintf(buf, sizeof(buf), "%s\xEF\xBB\xBF", valid_json);
	EXPECT(buf, TRADE_MALFORMED_JSON, "invalid JSON");
}

static void
test_nesting(void **state)
{
	char		inner[128];
	char	   *deep;
	size_t		n = 100000;
	size_t		i;

	(void) state;

	/* 32 levels in all (the object and 31 arrays) are followed, 33 not */
	memset(inner, 0, sizeof(inner));
	memset(inner, '[', TRADE_MAX_DEPTH - 1);
	memset(inner + TRADE_MAX_DEPTH - 1, ']', TRADE_MAX_DEPTH - 1);
	EXPECT(msg("x", inner), TRADE_OK, NULL);
	memset(inner, 0, sizeof(inner));
	memset(inner, '[', TRADE_MAX_DEPTH);
	memset(inner + TRADE_MAX_DEPTH, ']', TRADE_MAX_DEPTH);
	EXPECT(msg("x", inner), TRADE_MALFORMED_JSON,
		   "invalid JSON: nesting deeper than 32 levels");

	/* 100000 levels, open only, then balanced, then of objects */
	deep = malloc(2 * n * 5 + 2);
	assert_non_null(deep);
	memset(deep, '[', n);
	EXPECT_LEN(deep, n, TRADE_MALFORMED_JSON, "invalid JSON: nesting deeper");
	memset(deep + n, ']', n);
	EXPECT_LEN(deep, 2 * n, TRADE_MALFORMED_JSON, "invalid JSON: nesting deeper");
	for (i = 0; i < n; i++)
		memcpy(deep + 5 * i, "{\"a\":", 5);
	EXPECT_LEN(deep, 5 * n, TRADE_MALFORMED_JSON, "invalid JSON: nesting deeper");
	free(deep);

	/* the parser is usable after a depth error */
	EXPECT(valid_json, TRADE_OK, NULL);
}

static void
test_not_an_object(void **state)
{
	(void) state;
	EXPECT("[]", TRADE_NOT_AN_OBJECT, "the message is an array, not an object");
	EXPECT("[{\"trade_id\":\"T1\"}]", TRADE_NOT_AN_OBJECT, "the message is an array");
	EXPECT("\"T1\"", TRADE_NOT_AN_OBJECT, "the message is a string");
	EXPECT("5", TRADE_NOT_AN_OBJECT, "the message is a number");
	EXPECT(" 73 ", TRADE_NOT_AN_OBJECT, "the message is a number");
	EXPECT("-1.5e3", TRADE_NOT_AN_OBJECT, "the message is a number");
	EXPECT("0", TRADE_NOT_AN_OBJECT, "the message is a number");
	EXPECT("true", TRADE_NOT_AN_OBJECT, "the message is a boolean");
	EXPECT("false", TRADE_NOT_AN_OBJECT, "the message is a boolean");
	EXPECT("null", TRADE_NOT_AN_OBJECT, "the message is null");
	EXPECT("\n null \n", TRADE_NOT_AN_OBJECT, "the message is null");
}

/* ------------------------------------------------------------------------
 * Fields
 */

static void
test_missing_fields(void **state)
{
	char		want[64];
	Trade		t;
	int			i;

	(void) state;
	for (i = 0; i < NFIELDS - 1; i++)
	{
		snprintf(want, sizeof(want), "%s: missing", field_names[i]);
		EXPECT(msg(field_names[i], NULL), TRADE_MISSING_FIELD, want);
		EXPECT(msg(field_names[i], "null"), TRADE_MISSING_FIELD, want);
		EXPECT(msg(field_names[i], " null "), TRADE_MISSING_FIELD, want);
	}
	EXPECT("{}", TRADE_MISSING_FIELD, "trade_id: missing");

	/* created_date is optional: absent or null, the store uses today */
	EXPECT_TRADE(msg("created_date", NULL), &t);
	assert_false(t.has_created_date);
	EXPECT_TRADE(msg("created_date", "null"), &t);
	assert_false(t.has_created_date);

	/* field names are case-sensitive */
	EXPECT("{\"Trade_id\":\"T1\"}", TRADE_MISSING_FIELD, "trade_id: missing");
}

/* The first failing field in the order of the design decides */
static void
test_field_order(void **state)
{
	int			i;
	int			j;
	char		want[64];

	(void) state;
	for (i = 0; i < NFIELDS; i++)
	{
		for (j = i + 1; j < NFIELDS; j++)
		{
			snprintf(want, sizeof(want), "%s: ", field_names[i]);
			EXPECT(msg2(field_names[i], "[]", field_names[j], "{}"),
				   TRADE_INVALID_FIELD, want);
			EXPECT(msg2(field_names[i], "{}", field_names[j], NULL),
				   TRADE_INVALID_FIELD, want);
			EXPECT(msg2(field_names[i], NULL, field_names[j], "[]"),
				   TRADE_MISSING_FIELD, want);
		}
	}

	/* matured comes after every field */
	EXPECT(msg2("maturity_date", "\"2020-01-01\"", "created_date", "5"),
		   TRADE_INVALID_FIELD, "created_date: ");
	EXPECT(msg2("maturity_date", "\"2020-01-01\"", "created_date", "null"),
		   TRADE_MATURED, "maturity_date 2020-01-01 is before today 2026-11-24");
}

/* The rules of trade_id, counter_party_id and book_id, for each of them */
static void
test_text_fields(void **state)
{
	static const char *const ok[] = {
		"\"A\"", "\" \"", "\"~\"", "\"T-1/2 \\\"x\\\" \\\\\"",
		"\"\\u00a0\"", "\"\xC2\xA0\"", "\"\\u0020\"",
		"\"\xE0\xA0\x80\"", "\"\xED\x9F\xBF\"", "\"\xEE\x80\x80\"",
		"\"\xEF\xBF\xBF\"", "\"\xF0\x90\x80\x80\"", "\"\xF4\x8F\xBF\xBF\"",
		"\"\\ud83d\\ude00\"", "\"\\u00e9t\\u00e9\"", "\"\xE2\x80\xAE\"",
	};
	static const struct
	{
		const char *value;
		const char *problem;
	}			bad[] = {
		{"\"\"", "empty"},
		{"1", "not a string but a number"},
		{"1.5", "not a string but a number"},
		{"true", "not a string but a boolean"},
		{"false", "not a string but a boolean"},
		{"{}", "not a string but an object"},
		{"[\"T1\"]", "not a string but an array"},
		{"\"\\u0000\"", "contains a NUL character"},
		{"\"a\\u0000b\"", "contains a NUL character"},
		{"\"ab\\u0000\"", "contains a NUL character"},
		{"\"\\u0001\"", "contains a control character"},
		{"\"a\\nb\"", "contains a control character"},
		{"\"\\t\"", "contains a control character"},
		{"\"\\u001f\"", "contains a control character"},
		{"\"\\u007f\"", "contains a control character"},
		{"\"\x7f\"", "contains a control character"},
		{"\"\\u0080\"", "contains a control character"},
		{"\"\xC2\x80\"", "contains a control character"},
		{"\"\\u009f\"", "contains a control character"},
		{"\"\xC2\x9F\"", "contains a control character"},
		{"\"\xFF\"", "not valid UTF-8"},
		{"\"\xFE\"", "not valid UTF-8"},
		{"\"\x80\"", "not valid UTF-8"},
		{"\"a\xBF\"", "not valid UTF-8"},
		{"\"\xC0\x80\"", "not valid UTF-8"},
		{"\"\xC1\xBF\"", "not valid UTF-8"},
		{"\"\xE0\x80\x80\"", "not valid UTF-8"},
		{"\"\xE0\x9F\xBF\"", "not valid UTF-8"},
		{"\"\xF0\x80\x80\x80\"", "not valid UTF-8"},
		{"\"\xF0\x8F\xBF\xBF\"", "not valid UTF-8"},
		{"\"\xED\xA0\x80\"", "not valid UTF-8"},
		{"\"\xED\xBF\xBF\"", "not valid UTF-8"},
		{"\"\xF4\x90\x80\x80\"", "not valid UTF-8"},
		{"\"\xF5\x80\x80\x80\"", "not valid UTF-8"},
		{"\"\xF8\x88\x80\x80\x80\"", "not valid UTF-8"},
		{"\"\xE2\x82\"", "not valid UTF-8"},
		{"\"a\xC3\"", "not valid UTF-8"},
		{"\"\xF0\x9F\x98\"", "not valid UTF-8"},
		{"\"\xE2\x28\xA1\"", "not valid UTF-8"},
	};
	static const char *const fields[] = {"trade_id", "counter_party_id", "book_id"};
	char		want[96];
	Trade		t;
	size_t		f;
	size_t		i;

	(void) state;
	for (f = 0; f < 3; f++)
	{
		for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			EXPECT(msg(fields[f], ok[i]), TRADE_OK, NULL);
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		{
			snprintf(want, sizeof(want), "%s: %s", fields[f], bad[i].problem);
			EXPECT(msg(fields[f], bad[i].value), TRADE_INVALID_FIELD, want);
		}

		/* 64 characters, counted in code points, whatever their width */
		snprintf(want, sizeof(want), "%s: longer than 64 characters", fields[f]);
		EXPECT(msg(fields[f], repeat("x", 64)), TRADE_OK, NULL);
		EXPECT(msg(fields[f], repeat("x", 65)), TRADE_INVALID_FIELD, want);
		EXPECT(msg(fields[f], repeat("\xC3\xA9", 64)), TRADE_OK, NULL);
		EXPECT(msg(fields[f], repeat("\xC3\xA9", 65)), TRADE_INVALID_FIELD, want);
		EXPECT(msg(fields[f], repeat("\xE2\x82\xAC", 64)), TRADE_OK, NULL);
		EXPECT(msg(fields[f], repeat("\xE2\x82\xAC", 65)), TRADE_INVALID_FIELD, want);
		EXPECT(msg(fields[f], repeat("\\u00e9", 64)), TRADE_OK, NULL);
		EXPECT(msg(fields[f], repeat("\\u00e9", 65)), TRADE_INVALID_FIELD, want);
		EXPECT(msg(fields[f], repeat("\\ud83d\\ude00", 64)), TRADE_OK, NULL);
		EXPECT(msg(fields[f], repeat("\\ud83d\\ude00", 65)), TRADE_INVALID_FIELD, want);
		EXPECT(msg(fields[f], repeat("\xF0\x9F\x98\x80", 65)), TRADE_INVALID_FIELD, want);
	}

	/* The longest value fills the field: 256 bytes and the NUL */
	EXPECT_TRADE(msg("book_id", repeat("\xF0\x9F\x98\x80", 64)), &t);
	assert_int_equal(strlen(t.book_id), TRADE_TEXT_MAX_BYTES);
	assert_memory_equal(t.book_id, repeat("\xF0\x9F\x98\x80", 64) + 1,
						TRADE_TEXT_MAX_BYTES);

	/* escapes are decoded */
	EXPECT_TRADE(msg("trade_id", "\"a\\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00\""), &t);
	assert_string_equal(t.trade_id, "a\"b\\c/d\xC3\xA9\xF0\x9F\x98\x80");
}

static void
test_version(void **state)
{
	static const struct
	{
		const char *value;
		int32_t		want;
	}			ok[] = {
		{"1", 1}, {"2", 2}, {"73", 73}, {"2147483646", 2147483646},
		{"2147483647", 2147483647}, {" 5 ", 5},
	};
	static const char *const out_of_range[] = {
		"0", "-0", "-1", "-2147483647", "-2147483648", "-2147483649",
		"2147483648", "4294967296", "4294967297",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808",
		"-9223372036854775809", "18446744073709551615", "18446744073709551616",
		"99999999999999999999", "-99999999999999999999",
		"123456789012345678901234567890",
	};
	static const char *const not_integer[] = {
		"1.0", "1.5", "1e2", "1E2", "1e0", "0.0", "-0.0", "2147483647.0",
		"1e999", "\"1\"", "\"73\"", "\"\"", "true", "false", "[1]", "{}",
		"{\"v\":1}",
	};
	Trade		t;
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
	{
		EXPECT_TRADE(msg("version", ok[i].value), &t);
		assert_int_equal(t.version, ok[i].want);
	}
	for (i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]); i++)
		EXPECT(msg("version", out_of_range[i]), TRADE_INVALID_FIELD,
			   "version: out of range 1..2147483647");
	for (i = 0; i < sizeof(not_integer) / sizeof(not_integer[0]); i++)
		EXPECT(msg("version", not_integer[i]), TRADE_INVALID_FIELD,
			   "version: not an integer");

	/* not JSON at all, whatever json-c thinks */
	EXPECT(msg("version", "01"), TRADE_MALFORMED_JSON, "invalid JSON");
	EXPECT(msg("version", "+1"), TRADE_MALFORMED_JSON, "invalid JSON");
	EXPECT(msg("version", "1."), TRADE_MALFORMED_JSON, "invalid JSON");
	EXPECT(msg("version", "NaN"), TRADE_MALFORMED_JSON, "invalid JSON");
	EXPECT(msg("version", "Infinity"), TRADE_MALFORMED_JSON, "invalid JSON");
	EXPECT(msg("version", "0x10"), TRADE_MALFORMED_JSON, "invalid JSON");
}

static void
test_dates(void **state)
{
	static const char *const fields[] = {"maturity_date", "created_date"};
	static const char *const ok[] = {
		"2028-02-29", "2032-02-29", "2400-02-29", "2027-12-31", "2027-01-31",
		"2027-04-30", "9999-12-31", "2026-11-24", "\"2\\u0030\\u00327-01-01\"",
	};
	static const char *const not_in_calendar[] = {
		"2027-02-29", "2100-02-29", "2027-02-30", "2027-04-31", "2027-06-31",
		"2027-13-01", "2027-00-10", "2027-01-00", "2027-01-32", "2027-99-99",
		"0000-01-01", "0000-12-31",
	};
	static const char *const bad_format[] = {
		"10000-01-01", "2027-1-01", "2027-01-1", "27-01-01", "2027/01/01",
		"2027.01.01", "20270101", " 2027-01-01", "2027-01-01 ", "+2027-01-01",
		"-2027-01-01", "2027-01-1a", "2027-0a-01", "2027--1-01", "2027-01-01T00:00:00",
		"2027-01-01Z", "", "x", "\\u0000027-01-01", "2027-01\\u00001",
		"\xEF\xBC\x92\xEF\xBC\x90\xEF\xBC\x92\xEF\xBC\x97-01-01", "2027_01_01",
		"2027-+1-01", "2027- 1-01", "\xFF\xFF\xFF\xFF-01-01",
	};
	char		value[64];
	char		want[96];
	Trade		t;
	size_t		f;
	size_t		i;

	(void) state;
	for (f = 0; f < 2; f++)
	{
		for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		{
			if (ok[i][0] == '"')
				snprintf(value, sizeof(value), "%s", ok[i]);
			else
				snprintf(value, sizeof(value), "\"%s\"", ok[i]);
			EXPECT(msg(fields[f], value), TRADE_OK, NULL);
		}
		snprintf(want, sizeof(want), "%s: not a calendar date", fields[f]);
		for (i = 0; i < sizeof(not_in_calendar) / sizeof(not_in_calendar[0]); i++)
		{
			snprintf(value, sizeof(value), "\"%s\"", not_in_calendar[i]);
			EXPECT(msg(fields[f], value), TRADE_INVALID_FIELD, want);
		}
		snprintf(want, sizeof(want), "%s: not a YYYY-MM-DD date", fields[f]);
		for (i = 0; i < sizeof(bad_format) / sizeof(bad_format[0]); i++)
		{
			snprintf(value, sizeof(value), "\"%s\"", bad_format[i]);
			EXPECT(msg(fields[f], value), TRADE_INVALID_FIELD, want);
		}
		snprintf(want, sizeof(want), "%s: not a string", fields[f]);
		EXPECT(msg(fields[f], "20270520"), TRADE_INVALID_FIELD, want);
		EXPECT(msg(fields[f], "true"), TRADE_INVALID_FIELD, want);
		EXPECT(msg(fields[f], "[\"2027-05-20\"]"), TRADE_INVALID_FIELD, want);
		EXPECT(msg(fields[f], "{\"d\":\"2027-05-20\"}"), TRADE_INVALID_FIELD, want);
	}

	/* created_date may be any real date, long before today */
	EXPECT_TRADE(msg("created_date", "\"0001-01-01\""), &t);
	assert_true(t.has_created_date);
	assert_int_equal(t.created_date, -730119);
	EXPECT_TRADE(msg("created_date", "\"2000-02-29\""), &t);
	assert_int_equal(t.created_date, 59);
	EXPECT_TRADE(msg("maturity_date", "\"2028-02-29\""), &t);
	assert_int_equal(t.maturity_date, trade_date_from_ymd(2028, 2, 29));
}

static void
test_matured(void **state)
{
	char		detail[TRADE_DETAIL_SIZE];
	Trade		t;
	size_t		len;
	const char *m;

	(void) state;
	EXPECT(msg("maturity_date", "\"2026-11-24\""), TRADE_OK, NULL);
	EXPECT(msg("maturity_date", "\"2026-11-25\""), TRADE_OK, NULL);
	EXPECT(msg("maturity_date", "\"2026-11-23\""), TRADE_MATURED,
		   "maturity_date 2026-11-23 is before today 2026-11-24");
	EXPECT(msg("maturity_date", "\"2020-01-01\""), TRADE_MATURED,
		   "maturity_date 2020-01-01 is before today 2026-11-24");
	EXPECT(msg("maturity_date", "\"0001-01-01\""), TRADE_MATURED,
		   "maturity_date 0001-01-01 is before today 2026-11-24");

	/* the exact detail, and another today */
	m = msg("maturity_date", "\"2000-01-01\"");
	len = strlen(m);
	assert_int_equal(parse_exact(m, len, 0, 0, &t, detail, sizeof(detail)),
					 TRADE_OK);
	assert_int_equal(parse_exact(m, len, 0, 1, &t, detail, sizeof(detail)),
					 TRADE_MATURED);
	assert_string_equal(detail, "maturity_date 2000-01-01 is before today 2000-01-02");
	assert_int_equal(parse_exact(m, len, 0, -1, &t, detail, sizeof(detail)),
					 TRADE_OK);
	assert_string_equal(detail, "");
}

static void
test_ignored_fields(void **state)
{
	char		buf[MSG_SIZE];
	Trade		t;

	(void) state;
	EXPECT(msg("expired", "true"), TRADE_OK, NULL);
	EXPECT(msg("expired", "\"yes\""), TRADE_OK, NULL);
	EXPECT(msg("expired", "{\"a\":[1,2,{\"b\":null}]}"), TRADE_OK, NULL);
	EXPECT(msg("expired", "null"), TRADE_OK, NULL);
	EXPECT(msg2("expired", "1", "unknown", "\"x\""), TRADE_OK, NULL);
	EXPECT(msg("TRADE_ID", "5"), TRADE_OK, NULL);
	EXPECT(msg("", "\"\""), TRADE_OK, NULL);
	/* an ignored string is not validated: it is never stored */
	EXPECT(msg("note", "\"\xFF\xC0\x80 \\u0000 \\u0001\""), TRADE_OK, NULL);

	/* unknown fields before the known ones */
	snprintf(buf, sizeof(buf), "{\"zzz\":[[]],\"expired\":false,%s", valid_json + 1);
	EXPECT_TRADE(buf, &t);
	assert_string_equal(t.trade_id, "T47654");
}

/* json-c keeps the last of duplicate keys, as PostgreSQL's jsonb does */
static void
test_duplicate_keys(void **state)
{
	char		buf[MSG_SIZE];
	Trade		t;

	(void) state;
	snprintf(buf, sizeof(buf), "{\"trade_id\":\"T1\",%s", valid_json + 1);
	EXPECT_TRADE(buf, &t);
	assert_string_equal(t.trade_id, "T47654");

	snprintf(buf, sizeof(buf), "%.*s,\"trade_id\":\"T2\"}",
			 (int) strlen(valid_json) - 1, valid_json);
	EXPECT_TRADE(buf, &t);
	assert_string_equal(t.trade_id, "T2");

	snprintf(buf, sizeof(buf), "{\"version\":\"bad\",%s", valid_json + 1);
	EXPECT_TRADE(buf, &t);
	assert_int_equal(t.version, 73);
	snprintf(buf, sizeof(buf), "%.*s,\"version\":\"bad\"}",
			 (int) strlen(valid_json) - 1, valid_json);
	EXPECT(buf, TRADE_INVALID_FIELD, "version: not an integer");
	snprintf(buf, sizeof(buf), "%.*s,\"version\":null}",
			 (int) strlen(valid_json) - 1, valid_json);
	EXPECT(buf, TRADE_MISSING_FIELD, "version: missing");

	/* strict json-c 0.16 takes a single-quoted key; we do not */
	snprintf(buf, sizeof(buf), "{'trade_id':\"T9\",%s", strstr(valid_json, "\"version"));
	EXPECT(buf, TRADE_MALFORMED_JSON, "invalid JSON at offset 1: single-quoted");

	/* a key json-c would cut at "\u0000" is not taken for trade_id */
	snprintf(buf, sizeof(buf), "{\"trade_id\\u0000\":\"T9\",%s", valid_json + 1);
	EXPECT(buf, TRADE_MALFORMED_JSON, "invalid JSON");
}

/*
 * json-c 0.16 decodes the escaped surrogate pairs of U+xD800..U+xDFFF in
 * the supplementary planes wrongly: refused, and the raw UTF-8 accepted.
 */
static void
test_json_c_bad_escapes(void **state)
{
	static const char *const refused[] = {
		"\"\\ud836\\udc00\"", "\"\\ud837\\udfff\"", "\"x\\ud837\\ude00y\"",
		"\"\\ud876\\udc00\"", "\"\\udbf6\\udc00\"",
	};
	static const struct
	{
		const char *value;
		const char *utf8;
	}			kept[] = {
		{"\"\\ud835\\udfff\"", "\xF0\x9D\x9F\xBF"},	/* U+1D7FF */
		{"\"\\ud838\\udc00\"", "\xF0\x9E\x80\x80"},	/* U+1E000 */
		{"\"\xF0\x9D\xA0\x80\"", "\xF0\x9D\xA0\x80"},	/* U+1D800 raw */
		{"\"\xF0\xAD\xA0\x80\"", "\xF0\xAD\xA0\x80"},	/* U+2D800 raw */
	};
	Trade		t;
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
	{
		EXPECT(msg("trade_id", refused[i]), TRADE_MALFORMED_JSON,
			   "unsupported JSON at offset 1");
		EXPECT(msg("note", refused[i]), TRADE_MALFORMED_JSON, "unsupported JSON");
	}
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
	{
		EXPECT_TRADE(msg("trade_id", kept[i].value), &t);
		assert_string_equal(t.trade_id, kept[i].utf8);
	}
}

/*
 * A message json-c refuses inside a surrogate pair must not change the
 * next one: json-c 0.16 keeps the pending high surrogate across
 * json_tokener_reset().
 */
static void
test_no_state_between_messages(void **state)
{
	static const char pair[] = "{\"a\":\"\\ud83d\\ude00\"}";
	static const char *const broken[] = {
		"{\"a\":\"\\ud83d\\u12x\"}", "{\"a\":\"\\ud83d\\u\"}",
		"{\"a\":\"\\ud83d\\ude0", "{\"a\":\"\\ud83d\\", "{\"a\":\"\\ud83d",
	};
	const char *good = msg("trade_id", "\"\\u00e9\"");
	char		keep[MSG_SIZE];
	Trade		t;
	size_t		i;

	(void) state;
	snprintf(keep, sizeof(keep), "%s", good);
	for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
	{
		EXPECT(broken[i], TRADE_MALFORMED_JSON, "invalid JSON");
		EXPECT_TRADE(keep, &t);
		assert_string_equal(t.trade_id, "\xC3\xA9");
	}
	/* every cut of a message inside a pair */
	for (i = 1; i < sizeof(pair) - 1; i++)
	{
		EXPECT_LEN(pair, i, TRADE_MALFORMED_JSON, "invalid JSON");
		EXPECT_TRADE(keep, &t);
		assert_string_equal(t.trade_id, "\xC3\xA9");
	}
}

/* ------------------------------------------------------------------------
 * The reject detail
 */

static void
test_detail_contract(void **state)
{
	static const char *const rejects[] = {
		"{", "[]", "{}", "{\"trade_id\":\"\xFF\"}", "{\"trade_id\":\"\\u0000\"}",
		"\xEF\xBB\xBF{}", "", "{\"a\":\"\\ud800\"}",
	};
	char	   *all[sizeof(rejects) / sizeof(rejects[0]) + 3];
	char		full[TRADE_DETAIL_SIZE];
	char		detail[TRADE_DETAIL_SIZE + 16];
	size_t		n = sizeof(rejects) / sizeof(rejects[0]);
	size_t		i;
	size_t		size;
	Trade		t;
	TradeReason want;

	(void) state;
	/* msg() reuses one buffer: keep copies */
	for (i = 0; i < n; i++)
		all[i] = strdup(rejects[i]);
	all[n++] = strdup(msg("version", "9999999999999999999999"));
	all[n++] = strdup(msg("maturity_date", "\"2001-01-01\""));
	all[n++] = strdup(msg("maturity_date", "\"2001-02-29\""));

	for (i = 0; i < n; i++)
	{
		char	   *m = all[i];
		size_t		len;

		assert_non_null(m);
		len = strlen(m);
		want = parse_exact(m, len, 0, TODAY, &t, full, sizeof(full));
		assert_int_not_equal(want, TRADE_OK);
		assert_true(full[0] != '\0');
		assert_true(printable_ascii(full));

		for (size = 0; size <= TRADE_DETAIL_SIZE; size++)
		{
			memset(detail, 'Z', sizeof(detail));
			assert_int_equal(parse_exact(m, len, 0, TODAY, &t, detail, size),
							 want);
			/* nothing past size is written */
			assert_true(detail[size] == 'Z');
			if (size == 0)
				continue;
			/* NUL-terminated within size, a prefix of the whole detail */
			assert_non_null(memchr(detail, '\0', size));
			assert_true(printable_ascii(detail));
			assert_int_equal(strncmp(detail, full, size - 1), 0);
			assert_int_equal(strlen(detail),
							 strlen(full) < size - 1 ? strlen(full) : size - 1);
		}
		assert_int_equal(trade_parse(parser, m, len, 0, TODAY, &t, NULL, 0), want);
		free(m);
	}

	/* on success the detail is empty */
	memset(detail, 'Z', sizeof(detail));
	assert_int_equal(parse_exact(valid_json, strlen(valid_json), 0, TODAY, &t,
								 detail, 1), TRADE_OK);
	assert_int_equal(detail[0], '\0');
	assert_int_equal(detail[1], 'Z');
}

/* One tokener serves every message: nothing of one may leak into the next */
static void
test_parser_reuse(void **state)
{
	static const char *const seq[] = {
		"{\"trade_id\":", "5", "{\"a\":[[[", "\"x\"", "[1,2", "tru", "{\"a\":1}x",
	};
	size_t		i;
	Trade		t;

	(void) state;
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
	{
		check_parse(seq[i], strlen(seq[i]),
					i == 1 || i == 3 ? TRADE_NOT_AN_OBJECT : TRADE_MALFORMED_JSON,
					NULL, NULL, __FILE__, __LINE__);
		EXPECT_TRADE(valid_json, &t);
		assert_string_equal(t.trade_id, "T47654");
	}

	/* a second parser works alongside */
	{
		TradeParser *other = trade_parser_new();
		char		detail[TRADE_DETAIL_SIZE];

		assert_non_null(other);
		assert_int_equal(trade_parse(other, "{", 1, 0, TODAY, &t, detail,
									 sizeof(detail)), TRADE_MALFORMED_JSON);
		EXPECT(valid_json, TRADE_OK, NULL);
		trade_parser_free(other);
	}
	trade_parser_free(NULL);
}

/* ------------------------------------------------------------------------
 * Dates
 */

static void
test_date_known_values(void **state)
{
	int			y;
	int			m;
	int			d;

	(void) state;
	assert_int_equal(trade_date_from_ymd(2000, 1, 1), 0);
	assert_int_equal(trade_date_from_ymd(1999, 12, 31), -1);
	assert_int_equal(trade_date_from_ymd(2000, 1, 2), 1);
	assert_int_equal(trade_date_from_ymd(2000, 3, 1), 60);
	assert_int_equal(trade_date_from_ymd(2026, 11, 24), TODAY);
	assert_int_equal(trade_date_from_ymd(1970, 1, 1), -10957);
	assert_int_equal(trade_date_from_ymd(1900, 1, 1), -36524);
	assert_int_equal(trade_date_from_ymd(1, 1, 1), -730119);
	assert_int_equal(trade_date_from_ymd(9999, 12, 31), 2921939);

	trade_date_to_ymd(TODAY, &y, &m, &d);
	assert_int_equal(y, 2026);
	assert_int_equal(m, 11);
	assert_int_equal(d, 24);
	trade_date_to_ymd(-1, &y, &m, &d);
	assert_int_equal(y, 1999);
	assert_int_equal(m, 12);
	assert_int_equal(d, 31);
}

static bool
is_leap(int y)
{
	return y % 400 == 0 || (y % 4 == 0 && y % 100 != 0);
}

/* Walk the calendar from 0001-01-01 to 9999-12-31, one day at a time */
static void
test_date_every_day(void **state)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int32_t		n = -730119;
	int			y;
	int			m;
	int			d;

	(void) state;
	for (y = 1; y <= 9999; y++)
	{
		for (m = 1; m <= 12; m++)
		{
			int			last = mdays[m - 1] + (m == 2 && is_leap(y) ? 1 : 0);

			for (d = 1; d <= last; d++, n++)
			{
				char		want[40];
				char		got[11];
				int			yy;
				int			mm;
				int			dd;
				int32_t		parsed = INT32_MIN;

				if (trade_date_from_ymd(y, m, d) != n)
					fail_msg("from_ymd(%d-%d-%d) = %d, want %d", y, m, d,
							 trade_date_from_ymd(y, m, d), n);
				trade_date_to_ymd(n, &yy, &mm, &dd);
				if (yy != y || mm != m || dd != d)
					fail_msg("to_ymd(%d) = %d-%d-%d, want %d-%d-%d",
							 n, yy, mm, dd, y, m, d);
				snprintf(want, sizeof(want), "%04d-%02d-%02d", y, m, d);
				trade_date_format(n, got);
				if (strcmp(got, want) != 0)
					fail_msg("format(%d) = %s, want %s", n, got, want);
				if (!trade_date_parse(want, 10, &parsed) || parsed != n)
					fail_msg("parse(%s) = %d, want %d", want, parsed, n);
			}
			/* the day after the last is no date */
			{
				char		after[40];
				int32_t		parsed;

				snprintf(after, sizeof(after), "%04d-%02d-%02d", y, m, last + 1);
				if (trade_date_parse(after, 10, &parsed))
					fail_msg("parse(%s) accepted", after);
			}
		}
	}
	assert_int_equal(n, 2921940);
}

static void
test_date_parse_api(void **state)
{
	char		out[11];
	int32_t		days = 12345;

	(void) state;
	assert_true(trade_date_parse("2026-11-24", 10, &days));
	assert_int_equal(days, TODAY);
	/* exactly len bytes: no more, no less, no NUL needed */
	assert_true(trade_date_parse("2026-11-24xyz", 10, &days));
	assert_false(trade_date_parse("2026-11-24", 9, &days));
	assert_false(trade_date_parse("2026-11-24", 11, &days));
	assert_false(trade_date_parse("2026-11-2\0", 10, &days));
	assert_false(trade_date_parse("", 0, &days));
	assert_false(trade_date_parse(NULL, 10, &days));
	assert_false(trade_date_parse("0000-01-01", 10, &days));
	assert_int_equal(days, TODAY);

	/* out of the supported range, the format clamps to it */
	trade_date_format(INT32_MIN, out);
	assert_string_equal(out, "0001-01-01");
	trade_date_format(-730120, out);
	assert_string_equal(out, "0001-01-01");
	trade_date_format(2921940, out);
	assert_string_equal(out, "9999-12-31");
	trade_date_format(INT32_MAX, out);
	assert_string_equal(out, "9999-12-31");
}

/* ------------------------------------------------------------------------
 * Writing a trade
 */

static Trade
make_trade(const char *id, int32_t version, const char *cp, const char *book,
		   int32_t maturity, bool has_created, int32_t created)
{
	Trade		t;

	memset(&t, 0, sizeof(t));
	snprintf(t.trade_id, sizeof(t.trade_id), "%s", id);
	t.version = version;
	snprintf(t.counter_party_id, sizeof(t.counter_party_id), "%s", cp);
	snprintf(t.book_id, sizeof(t.book_id), "%s", book);
	t.maturity_date = maturity;
	t.has_created_date = has_created;
	t.created_date = has_created ? created : 0;
	return t;
}

static void
test_format_exact(void **state)
{
	char		buf[1024];
	Trade		t;

	(void) state;
	t = make_trade("T1", 1, "CP-1", "B1", trade_date_from_ymd(2027, 5, 20),
				   true, TODAY);
	assert_int_equal(trade_format_json(&t, buf, sizeof(buf)), 127);
	assert_string_equal(buf,
						"{\"trade_id\":\"T1\",\"version\":1,\"counter_party_id\":\"CP-1\","
						"\"book_id\":\"B1\",\"maturity_date\":\"2027-05-20\","
						"\"created_date\":\"2026-11-24\"}");

	t.has_created_date = false;
	t.version = 2147483647;
	trade_format_json(&t, buf, sizeof(buf));
	assert_string_equal(buf,
						"{\"trade_id\":\"T1\",\"version\":2147483647,"
						"\"counter_party_id\":\"CP-1\",\"book_id\":\"B1\","
						"\"maturity_date\":\"2027-05-20\"}");

	/* escapes: quote, backslash, control characters; UTF-8 as it is */
	t = make_trade("a\"b\\c/d", 7, "\x01\x1f\n\t\x7f", "\xC3\xA9\xF0\x9F\x98\x80",
				   0, false, 0);
	trade_format_json(&t, buf, sizeof(buf));
	assert_string_equal(buf,
						"{\"trade_id\":\"a\\\"b\\\\c/d\",\"version\":7,"
						"\"counter_party_id\":\"\\u0001\\u001f\\u000a\\u0009\\u007f\","
						"\"book_id\":\"\xC3\xA9\xF0\x9F\x98\x80\","
						"\"maturity_date\":\"2000-01-01\"}");

	/* a text field without its NUL is not read past its end */
	memset(t.trade_id, 'x', sizeof(t.trade_id));
	assert_int_equal(trade_format_json(&t, NULL, 0),
					 strlen(buf) - strlen("a\\\"b\\\\c/d") + sizeof(t.trade_id));
}

static void
test_format_truncation(void **state)
{
	char		full[1024];
	char		buf[1024];
	size_t		need;
	size_t		size;
	Trade		t;

	(void) state;
	t = make_trade("T\"1\\", 42, "CP-\xC3\xA9", "B1", TODAY, true, 0);
	need = trade_format_json(&t, full, sizeof(full));
	assert_int_equal(need, strlen(full));
	assert_int_equal(trade_format_json(&t, NULL, 0), need);
	assert_int_equal(trade_format_json(&t, NULL, 100), need);

	for (size = 0; size <= need + 2; size++)
	{
		size_t		written = size == 0 ? 0 : (need < size ? need : size - 1);

		memset(buf, 'Z', sizeof(buf));
		assert_int_equal(trade_format_json(&t, buf, size), need);
		assert_memory_equal(buf, full, written);
		if (size > 0)
			assert_int_equal(buf[written], '\0');
		assert_int_equal(buf[size], 'Z');
	}
}

/* format, then parse: the same trade */
static void
test_format_round_trip(void **state)
{
	char		longest[TRADE_TEXT_MAX_BYTES + 1];
	char		buf[2048];
	Trade		cases[6];
	size_t		i;
	int			k;

	(void) state;
	for (k = 0; k < 64; k++)
		memcpy(longest + 4 * k, "\xF0\x9F\x98\x80", 4);
	longest[TRADE_TEXT_MAX_BYTES] = '\0';

	cases[0] = make_trade("T1", 1, "CP-1", "B1", TODAY, true, TODAY);
	cases[1] = make_trade(longest, 2147483647, longest, longest, 2921939,
						  true, -730119);
	cases[2] = make_trade("q\"uo\\te/", 5, "\xC3\xA9t\xC3\xA9", "\xE2\x80\xAE",
						  TODAY + 1, false, 0);
	cases[3] = make_trade("x", 1, "y", "z", 2921939, true, 2921939);
	cases[4] = make_trade(" ", 3, "~", "\xF4\x8F\xBF\xBF", TODAY + 400, true, 59);
	cases[5] = make_trade("\xEF\xBB\xBF", 9, "'", "{}", TODAY, false, 0);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		Trade		back;
		size_t		need = trade_format_json(&cases[i], buf, sizeof(buf));

		assert_true(need < sizeof(buf));
		EXPECT_TRADE(buf, &back);
		assert_string_equal(back.trade_id, cases[i].trade_id);
		assert_int_equal(back.version, cases[i].version);
		assert_string_equal(back.counter_party_id, cases[i].counter_party_id);
		assert_string_equal(back.book_id, cases[i].book_id);
		assert_int_equal(back.maturity_date, cases[i].maturity_date);
		assert_int_equal(back.has_created_date, cases[i].has_created_date);
		if (cases[i].has_created_date)
			assert_int_equal(back.created_date, cases[i].created_date);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_message),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_trailing_data),
		cmocka_unit_test(test_raw_nul_bytes),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_field_order),
		cmocka_unit_test(test_text_fields),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_matured),
		cmocka_unit_test(test_ignored_fields),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_json_c_bad_escapes),
		cmocka_unit_test(test_no_state_between_messages),
		cmocka_unit_test(test_detail_contract),
		cmocka_unit_test(test_parser_reuse),
		cmocka_unit_test(test_date_known_values),
		cmocka_unit_test(test_date_every_day),
		cmocka_unit_test(test_date_parse_api),
		cmocka_unit_test(test_format_exact),
		cmocka_unit_test(test_format_truncation),
		cmocka_unit_test(test_format_round_trip),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
