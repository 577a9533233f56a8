/*-------------------------------------------------------------------------
 *
 * trade.c
 *	  Parse and validate one Kafka message into a Trade, write a Trade back
 *	  as JSON, and convert calendar dates.
 *
 * trade_parse() runs inside a background worker on bytes anyone with
 * access to the topic wrote, so it must turn every input into a reject
 * rather than a crash, a read past the buffer or an unbounded loop: a
 * crashing worker restarts the whole postmaster.  The message is given by
 * pointer and length and is not NUL-terminated.
 *
 * Choices the design leaves open, kept here and in the README:
 *
 * - JSON is RFC 8259 JSON.  json-c runs in strict mode (no comments,
 *	 single-quoted values, trailing commas or trailing data), and
 *	 json_text_check() then rejects what strict json-c 0.16 still lets
 *	 through: single-quoted keys, NaN and Infinity, numbers like "1." or
 *	 "00", raw control characters inside strings, and unpaired UTF-16
 *	 surrogate escapes (which json-c would silently turn into U+FFFD, so
 *	 that "\ud800" and "\udc00" became the same trade_id).
 * - json-c 0.16 decodes an escaped surrogate pair wrongly when the code
 *	 point it spells lies in U+xD800..U+xDFFF of a supplementary plane
 *	 (U+1D800, U+2D800...): it stores U+FFFD and may merge the next escape.
 *	 Such a message is malformed_json with a detail saying to send the
 *	 character as UTF-8, which json-c passes through untouched.
 * - json-c keeps a pending high surrogate across json_tokener_reset(), so
 *	 a message that fails inside a surrogate pair would change the first
 *	 escape of the next one ("\u00e9" became U+FFFD U+00E9).  The parser
 *	 therefore gets a new tokener after every message json-c refuses.
 * - A UTF-8 byte order mark before the JSON is malformed_json: RFC 8259
 *	 forbids senders to add one, and a producer that does is misconfigured.
 * - A message with the same key twice keeps the last value, like json-c
 *	 and PostgreSQL's jsonb; a key that contains "\u0000" is malformed_json
 *	 because json-c would cut it at the NUL and could mistake it for one
 *	 of ours.
 * - Text lengths are counted in Unicode code points, as PostgreSQL's
 *	 char_length() does.  Invalid UTF-8 in one of the three text fields is
 *	 invalid_field (it would be refused by the server); in any other string
 *	 of the message it is ignored with that string, because nothing else of
 *	 an accepted message is stored.
 *
 * No PostgreSQL header here: the producer, the unit tests and the fuzz
 * target link this file alone.
 *
 *-------------------------------------------------------------------------
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json_object.h>
#include <json_tokener.h>

#include "trade.h"

/* Days from 0000-03-01 to 2000-01-01 in the proleptic Gregorian calendar */
#define DAYS_0000_03_01_TO_EPOCH	730425
/* Days in 400 Gregorian years */
#define DAYS_PER_400_YEARS			146097
/* The supported dates, in days since 2000-01-01 */
#define DAYS_MIN					(-730119)	/* 0001-01-01 */
#define DAYS_MAX					2921939 /* 9999-12-31 */

#if defined(__GNUC__) || defined(__clang__)
#define TRADE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TRADE_PRINTF(f, a)
#endif

/*
 * Strict, but without JSON_TOKENER_VALIDATE_UTF8: json-c 0.16's check lets
 * overlong forms, surrogates and code points past U+10FFFF through, and it
 * would make a bad byte in trade_id malformed_json where the design says
 * invalid_field.  check_text() validates the strings we keep, fully.
 */
static const int trade_json_flags = JSON_TOKENER_STRICT;

struct TradeParser
{
	struct json_tokener *tok;
};

/* Why trade_date_parse() refused a string, for the reject detail */
typedef enum DateError
{
	DATE_OK = 0,
	DATE_BAD_FORMAT,			/* not YYYY-MM-DD */
	DATE_NOT_IN_CALENDAR		/* e.g. 2027-02-29 or 2026-13-01 */
} DateError;

static void set_detail(char *detail, size_t detail_size, const char *fmt,...)
			TRADE_PRINTF(3, 4);
static TradeReason parse_json(TradeParser *parser, const char *buf,
							  size_t len, json_object **root,
							  char *detail, size_t detail_size);
static TradeReason json_failed(TradeParser *parser);
static bool is_json_ws(unsigned char c);
static const char *json_text_check(const unsigned char *s, size_t len,
								   size_t *where, bool *unsupported);
static size_t skip_string(const unsigned char *s, size_t len, size_t i,
						  const char **problem, size_t *where,
						  bool *unsupported);
static bool read_hex4(const unsigned char *s, size_t len, size_t i,
					  unsigned int *value);
static size_t skip_number(const unsigned char *s, size_t len, size_t i);
static size_t skip_digits(const unsigned char *s, size_t len, size_t i);
static const char *json_type_label(json_object *obj);
static TradeReason get_field(json_object *root, const char *name,
							 json_object **value,
							 char *detail, size_t detail_size);
static TradeReason get_string(json_object *root, const char *name,
							  const char **s, size_t *len,
							  char *detail, size_t detail_size);
static TradeReason check_text(json_object *root, const char *name, char *out,
							  char *detail, size_t detail_size);
static const char *text_problem(const unsigned char *s, size_t len);
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
static TradeReason check_version(json_object *root, int32_t *version,
								 char *detail, size_t detail_size);
static TradeReason check_date(json_object *root, const char *name,
							  bool optional, int32_t *days, bool *present,
							  char *detail, size_t detail_size);
static DateError date_parse(const char *s, size_t len, int32_t *days);
static int	days_in_month(int year, int month);
static int64_t floor_div(int64_t a, int64_t b);

/* One output buffer written like snprintf: counts all, stores what fits */
typedef struct OutBuf
{
	char	   *buf;
	size_t		size;
	size_t		len;			/* bytes wanted so far */
} OutBuf;

static void out_bytes(OutBuf *o, const char *s, size_t n);
static void out_str(OutBuf *o, const char *s);
static void out_json_string(OutBuf *o, const char *s, size_t max);

/* ------------------------------------------------------------------------
 * The parser
 */

TradeParser *
trade_parser_new(void)
{
	TradeParser *parser = malloc(sizeof(TradeParser));

	if (parser == NULL)
		return NULL;
	parser->tok = json_tokener_new_ex(TRADE_MAX_DEPTH);
	if (parser->tok == NULL)
	{
		free(parser);
		return NULL;
	}
	json_tokener_set_flags(parser->tok, trade_json_flags);
	return parser;
}

void
trade_parser_free(TradeParser *parser)
{
	if (parser == NULL)
		return;
	json_tokener_free(parser->tok);
	free(parser);
}

const char *
trade_reason_name(TradeReason reason)
{
	switch (reason)
	{
		case TRADE_OK:
			return "ok";
		case TRADE_MALFORMED_JSON:
			return "malformed_json";
		case TRADE_NOT_AN_OBJECT:
			return "not_an_object";
		case TRADE_MISSING_FIELD:
			return "missing_field";
		case TRADE_INVALID_FIELD:
			return "invalid_field";
		case TRADE_MATURED:
			return "matured";
		case TRADE_STALE_VERSION:
			return "stale_version";
		case TRADE_TOO_LARGE:
			return "too_large";
		case TRADE_STORE_FAILED:
			return "store_failed";
		case TRADE_REASON_COUNT:
			break;
	}
	return "unknown";
}

/*
 * set_detail: write the reject detail like snprintf, then replace anything
 * that is not printable ASCII.  Callers only pass ASCII, but the detail
 * lands in a text column and must never be the reason a reject fails.
 */
static void
set_detail(char *detail, size_t detail_size, const char *fmt,...)
{
	va_list		ap;
	size_t		i;

	if (detail == NULL || detail_size == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(detail, detail_size, fmt, ap) < 0)
		detail[0] = '\0';
	va_end(ap);
	detail[detail_size - 1] = '\0';
	for (i = 0; detail[i] != '\0'; i++)
	{
		if (detail[i] < 0x20 || detail[i] > 0x7e)
			detail[i] = '?';
	}
}

TradeReason
trade_parse(TradeParser *parser, const char *buf, size_t len,
			size_t max_bytes, int32_t today, Trade *out,
			char *detail, size_t detail_size)
{
	json_object *root = NULL;
	TradeReason reason;
	Trade		t;
	char		a[11];
	char		b[11];

	if (detail != NULL && detail_size > 0)
		detail[0] = '\0';

	/* Decided on the length alone: the bytes are not looked at */
	if (max_bytes > 0 && len > max_bytes)
	{
		set_detail(detail, detail_size,
				   "message of %zu bytes exceeds the limit of %zu bytes",
				   len, max_bytes);
		return TRADE_TOO_LARGE;
	}
	/* json-c takes an int length */
	if (len > (size_t) INT_MAX)
	{
		set_detail(detail, detail_size,
				   "message of %zu bytes exceeds the parser's limit of %d bytes",
				   len, INT_MAX);
		return TRADE_TOO_LARGE;
	}
	if (parser == NULL || (buf == NULL && len > 0))
	{
		set_detail(detail, detail_size, "no parser or no message buffer");
		return TRADE_MALFORMED_JSON;
	}

	reason = parse_json(parser, buf, len, &root, detail, detail_size);
	if (reason != TRADE_OK)
		return reason;

	if (!json_object_is_type(root, json_type_object))
	{
		set_detail(detail, detail_size, "the message is %s, not an object",
				   json_type_label(root));
		json_object_put(root);
		return TRADE_NOT_AN_OBJECT;
	}

	memset(&t, 0, sizeof(t));
	reason = check_text(root, "trade_id", t.trade_id, detail, detail_size);
	if (reason == TRADE_OK)
		reason = check_version(root, &t.version, detail, detail_size);
	if (reason == TRADE_OK)
		reason = check_text(root, "counter_party_id", t.counter_party_id,
							detail, detail_size);
	if (reason == TRADE_OK)
		reason = check_text(root, "book_id", t.book_id, detail, detail_size);
	if (reason == TRADE_OK)
		reason = check_date(root, "maturity_date", false, &t.maturity_date,
							NULL, detail, detail_size);
	if (reason == TRADE_OK)
		reason = check_date(root, "created_date", true, &t.created_date,
							&t.has_created_date, detail, detail_size);
	json_object_put(root);
	if (reason != TRADE_OK)
		return reason;

	if (t.maturity_date < today)
	{
		trade_date_format(t.maturity_date, a);
		trade_date_format(today, b);
		set_detail(detail, detail_size, "maturity_date %s is before today %s",
				   a, b);
		return TRADE_MATURED;
	}

	if (out != NULL)
		*out = t;
	return TRADE_OK;
}

/*
 * parse_json: run json-c over exactly len bytes and hand back the value,
 * or say why the bytes are not one JSON value.
 */
static TradeReason
parse_json(TradeParser *parser, const char *buf, size_t len,
		   json_object **root, char *detail, size_t detail_size)
{
	struct json_tokener *tok = parser->tok;
	const unsigned char *s = (const unsigned char *) buf;
	json_object *obj;
	enum json_tokener_error err;
	size_t		end;
	size_t		i;
	const char *problem;
	bool		unsupported = false;

	*root = NULL;
	for (i = 0; i < len && is_json_ws(s[i]); i++)
		;
	if (i == len)
	{
		set_detail(detail, detail_size, len == 0 ? "the message is empty" :
				   "the message holds only whitespace");
		return TRADE_MALFORMED_JSON;
	}
	if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
	{
		set_detail(detail, detail_size,
				   "the message starts with a UTF-8 byte order mark");
		return TRADE_MALFORMED_JSON;
	}

	json_tokener_reset(tok);
	obj = json_tokener_parse_ex(tok, buf, (int) len);
	err = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);

	/*
	 * A number or literal at the very end has nothing after it to end it,
	 * and json-c asks for more: one space says there is no more.  A
	 * truncated object stays unfinished after it.
	 */
	if (err == json_tokener_continue && end == len)
	{
		obj = json_tokener_parse_ex(tok, " ", 1);
		err = json_tokener_get_error(tok);
		if (err == json_tokener_continue)
		{
			set_detail(detail, detail_size,
					   "invalid JSON: the message ends inside a value");
			return json_failed(parser);
		}
	}

	if (err != json_tokener_success)
	{
		json_object_put(obj);
		if (err == json_tokener_error_depth)
			set_detail(detail, detail_size,
					   "invalid JSON: nesting deeper than %d levels",
					   TRADE_MAX_DEPTH);
		else if (end < len && s[end] == '\0')
			set_detail(detail, detail_size,
					   "invalid JSON: NUL byte at offset %zu", end);
		else
			set_detail(detail, detail_size, "invalid JSON at offset %zu: %s",
					   end, json_tokener_error_desc(err));
		return json_failed(parser);
	}
	json_tokener_reset(tok);

	/*
	 * json-c takes a NUL byte for the end of the input and reports success
	 * there, so anything but whitespace left over is an error of ours.
	 */
	for (i = end; i < len && is_json_ws(s[i]); i++)
		;
	if (i < len)
	{
		json_object_put(obj);
		if (s[i] == '\0')
			set_detail(detail, detail_size,
					   "invalid JSON: NUL byte at offset %zu", i);
		else
			set_detail(detail, detail_size,
					   "invalid JSON at offset %zu: data after the value", i);
		return TRADE_MALFORMED_JSON;
	}

	problem = json_text_check(s, len, &i, &unsupported);
	if (problem != NULL)
	{
		json_object_put(obj);
		set_detail(detail, detail_size, "%s JSON at offset %zu: %s",
				   unsupported ? "unsupported" : "invalid", i, problem);
		return TRADE_MALFORMED_JSON;
	}

	*root = obj;
	return TRADE_OK;
}

/*
 * json_failed: forget everything json-c kept of a message it refused.
 *
 * json_tokener_reset() leaves a pending high surrogate behind (json-c
 * 0.16), which the next message's first \u escape would pick up, so the
 * tokener is replaced.  Should that allocation fail, the old one is reset
 * and kept: a wrong character beats a dead worker.
 */
static TradeReason
json_failed(TradeParser *parser)
{
	struct json_tokener *fresh = json_tokener_new_ex(TRADE_MAX_DEPTH);

	if (fresh == NULL)
	{
		json_tokener_reset(parser->tok);
		return TRADE_MALFORMED_JSON;
	}
	json_tokener_set_flags(fresh, trade_json_flags);
	json_tokener_free(parser->tok);
	parser->tok = fresh;
	return TRADE_MALFORMED_JSON;
}

/* is_json_ws: the four whitespace bytes of RFC 8259 */
static bool
is_json_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * json_text_check: the RFC 8259 rules strict json-c does not enforce.
 *
 * Only called on text json-c accepted in strict mode, so the structure is
 * sound: outside strings there are only structural characters, whitespace,
 * literals and numbers, and every string is closed.  Each loop still
 * checks its bounds, because a wrong guess here must not read past len.
 * Returns NULL, or a static description and the offset in *where.
 */
static const char *
json_text_check(const unsigned char *s, size_t len, size_t *where,
				bool *unsupported)
{
	size_t		i = 0;
	const char *problem = NULL;

	while (i < len)
	{
		unsigned char c = s[i];

		if (c == '"')
		{
			i = skip_string(s, len, i, &problem, where, unsupported);
			if (problem != NULL)
				return problem;
		}
		else if (c == '-' || (c >= '0' && c <= '9'))
		{
			size_t		next = skip_number(s, len, i);

			if (next == i)
			{
				*where = i;
				return "not a JSON number";
			}
			i = next;
		}
		else if (c == 'N' || c == 'I')
		{
			*where = i;
			return "NaN and Infinity are not JSON";
		}
		else if (c == '\'')
		{
			/* strict json-c still takes 'key' */
			*where = i;
			return "single-quoted strings are not JSON";
		}
		else
			i++;
	}
	return NULL;
}

/*
 * skip_string: s[i] opens a string; return the offset after its closing
 * quote.  On a problem, set *problem and *where, and *unsupported if the
 * text is JSON that json-c cannot decode faithfully.
 */
static size_t
skip_string(const unsigned char *s, size_t len, size_t i,
			const char **problem, size_t *where, bool *unsupported)
{
	bool		has_nul = false;
	size_t		j;

	for (i++; i < len && s[i] != '"'; i++)
	{
		unsigned int hi;
		unsigned int lo;
		unsigned int cp;

		if (s[i] < 0x20)
		{
			*where = i;
			*problem = "control character inside a string";
			return len;
		}
		if (s[i] != '\\')
			continue;
		if (i + 1 < len && s[i + 1] != 'u')
		{
			i++;				/* the escaped character */
			continue;
		}
		if (!read_hex4(s, len, i + 2, &hi))
		{
			*where = i;
			*problem = "bad escape";
			return len;
		}
		if (hi == 0)
			has_nul = true;
		if (hi >= 0xDC00 && hi <= 0xDFFF)
		{
			*where = i;
			*problem = "unpaired UTF-16 surrogate escape";
			return len;
		}
		if (hi >= 0xD800 && hi <= 0xDBFF)
		{
			if (i + 7 >= len || s[i + 6] != '\\' || s[i + 7] != 'u' ||
				!read_hex4(s, len, i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
			{
				*where = i;
				*problem = "unpaired UTF-16 surrogate escape";
				return len;
			}
			/* json-c mistakes U+xD800..U+xDFFF for a surrogate once decoded */
			cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
			if ((cp & 0xF800) == 0xD800)
			{
				*where = i;
				*unsupported = true;
				*problem = "json-c cannot decode this escaped character; send it as UTF-8";
				return len;
			}
			i += 6;
		}
		i += 5;					/* the loop steps over the last digit */
	}
	if (i >= len)
	{
		*where = len;
		*problem = "unterminated string";
		return len;
	}

	/* A key is a string followed by a colon */
	for (j = i + 1; j < len && is_json_ws(s[j]); j++)
		;
	if (has_nul && j < len && s[j] == ':')
	{
		*where = i;
		*problem = "an object key contains \\u0000";
		return len;
	}
	return i + 1;
}

/* read_hex4: the four hex digits at s[i], if they are all there */
static bool
read_hex4(const unsigned char *s, size_t len, size_t i, unsigned int *value)
{
	size_t		k;

	*value = 0;
	if (i > len || len - i < 4)
		return false;
	for (k = i; k < i + 4; k++)
	{
		unsigned int d;

		if (s[k] >= '0' && s[k] <= '9')
			d = s[k] - '0';
		else if (s[k] >= 'a' && s[k] <= 'f')
			d = s[k] - 'a' + 10;
		else if (s[k] >= 'A' && s[k] <= 'F')
			d = s[k] - 'A' + 10;
		else
			return false;
		*value = *value * 16 + d;
	}
	return true;
}

/*
 * skip_number: the offset after the RFC 8259 number at s[i], or i if it
 * is not one.  A number must also end where json-c saw it end, so a digit
 * left over (as in "00") is refused too.
 */
static size_t
skip_number(const unsigned char *s, size_t len, size_t i)
{
	size_t		j = i;
	size_t		k;

	if (j < len && s[j] == '-')
		j++;
	if (j < len && s[j] == '0')
		j++;
	else
	{
		k = skip_digits(s, len, j);
		if (k == j)
			return i;
		j = k;
	}
	if (j < len && s[j] == '.')
	{
		k = skip_digits(s, len, j + 1);
		if (k == j + 1)
			return i;
		j = k;
	}
	if (j < len && (s[j] == 'e' || s[j] == 'E'))
	{
		j++;
		if (j < len && (s[j] == '+' || s[j] == '-'))
			j++;
		k = skip_digits(s, len, j);
		if (k == j)
			return i;
		j = k;
	}
	if (j < len && ((s[j] >= '0' && s[j] <= '9') || s[j] == '.'))
		return i;
	return j;
}

static size_t
skip_digits(const unsigned char *s, size_t len, size_t i)
{
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* json_type_label: "an array", "null"..., for the not_an_object detail */
static const char *
json_type_label(json_object *obj)
{
	switch (json_object_get_type(obj))
	{
		case json_type_null:
			return "null";
		case json_type_boolean:
			return "a boolean";
		case json_type_double:
		case json_type_int:
			return "a number";
		case json_type_object:
			return "an object";
		case json_type_array:
			return "an array";
		case json_type_string:
			return "a string";
	}
	return "not an object";
}

/*
 * get_field: the value of a required or optional field.  Absent and JSON
 * null are both missing_field; the caller decides whether that is an
 * error.  json-c keeps the last of duplicate keys.
 */
static TradeReason
get_field(json_object *root, const char *name, json_object **value,
		  char *detail, size_t detail_size)
{
	*value = NULL;
	if (!json_object_object_get_ex(root, name, value))
	{
		set_detail(detail, detail_size, "%s: missing", name);
		return TRADE_MISSING_FIELD;
	}
	if (*value == NULL)
	{
		set_detail(detail, detail_size, "%s: missing (null)", name);
		return TRADE_MISSING_FIELD;
	}
	return TRADE_OK;
}

/*
 * get_string: a field that must be a JSON string, with its length.  The
 * length, not strlen(), because "\u0000" decodes to a NUL inside.
 */
static TradeReason
get_string(json_object *root, const char *name, const char **s, size_t *len,
		   char *detail, size_t detail_size)
{
	json_object *value;
	TradeReason reason;
	int			n;

	*s = NULL;
	*len = 0;
	reason = get_field(root, name, &value, detail, detail_size);
	if (reason != TRADE_OK)
		return reason;
	if (!json_object_is_type(value, json_type_string))
	{
		set_detail(detail, detail_size, "%s: not a string but %s", name,
				   json_type_label(value));
		return TRADE_INVALID_FIELD;
	}
	n = json_object_get_string_len(value);
	*s = json_object_get_string(value);
	*len = (*s == NULL || n < 0) ? 0 : (size_t) n;
	return TRADE_OK;
}

/*
 * check_text: trade_id, counter_party_id and book_id.  out has room for
 * TRADE_TEXT_MAX_BYTES + 1 bytes, which any valid value fits.
 */
static TradeReason
check_text(json_object *root, const char *name, char *out,
		   char *detail, size_t detail_size)
{
	TradeReason reason;
	const char *s;
	size_t		len;
	const char *problem;

	reason = get_string(root, name, &s, &len, detail, detail_size);
	if (reason != TRADE_OK)
		return reason;
	if (len == 0)
	{
		set_detail(detail, detail_size, "%s: empty", name);
		return TRADE_INVALID_FIELD;
	}
	problem = text_problem((const unsigned char *) s, len);
	if (problem != NULL)
	{
		set_detail(detail, detail_size, "%s: %s", name, problem);
		return TRADE_INVALID_FIELD;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return TRADE_OK;
}

/*
 * text_problem: why s is not 1 to TRADE_TEXT_MAX_CHARS characters of valid
 * UTF-8 without control characters, or NULL.  The first bad character
 * decides; the length is judged once all are known good.
 */
static const char *
text_problem(const unsigned char *s, size_t len)
{
	size_t		i = 0;
	size_t		chars = 0;

	while (i < len)
	{
		uint32_t	cp;
		size_t		n = utf8_decode(s + i, len - i, &cp);

		if (n == 0)
			return "not valid UTF-8";
		if (cp == 0)
			return "contains a NUL character";
		if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
			return "contains a control character";
		i += n;
		chars++;
	}
	if (chars > TRADE_TEXT_MAX_CHARS)
		return "longer than 64 characters";
	return NULL;
}

/*
 * utf8_decode: the length of the well-formed UTF-8 sequence at s (1 to 4)
 * and its code point, or 0.  Refuses overlong forms, surrogates, code
 * points past U+10FFFF and truncated sequences.
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t		n;
	size_t		k;
	uint32_t	min;
	uint32_t	c;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	else if (c >= 0xC2 && c <= 0xDF)
	{
		n = 2;
		min = 0x80;
		c &= 0x1F;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		min = 0x800;
		c &= 0x0F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		min = 0x10000;
		c &= 0x07;
	}
	else
		return 0;				/* a continuation byte, C0, C1 or F5..FF */

	if (len < n)
		return 0;
	for (k = 1; k < n; k++)
	{
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[k] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

/*
 * check_version: a JSON integer 1 .. 2147483647.  json-c saturates
 * integers it cannot hold (and keeps those above INT64_MAX as uint64), so
 * a huge number reads as INT64_MAX or UINT64_MAX here: still out of range.
 */
static TradeReason
check_version(json_object *root, int32_t *version,
			  char *detail, size_t detail_size)
{
	json_object *value;
	TradeReason reason;
	int64_t		v;

	reason = get_field(root, "version", &value, detail, detail_size);
	if (reason != TRADE_OK)
		return reason;
	if (!json_object_is_type(value, json_type_int))
	{
		set_detail(detail, detail_size, "version: not an integer but %s",
				   json_type_label(value));
		return TRADE_INVALID_FIELD;
	}
	v = json_object_get_int64(value);
	if (v < 1 || v > INT32_MAX)
	{
		set_detail(detail, detail_size,
				   "version: out of range 1..2147483647");
		return TRADE_INVALID_FIELD;
	}
	*version = (int32_t) v;
	return TRADE_OK;
}

/*
 * check_date: maturity_date or created_date.  An optional date that is
 * absent or null sets *present to false and is not an error.
 */
static TradeReason
check_date(json_object *root, const char *name, bool optional,
		   int32_t *days, bool *present, char *detail, size_t detail_size)
{
	TradeReason reason;
	const char *s;
	size_t		len;

	if (present != NULL)
		*present = false;
	reason = get_string(root, name, &s, &len, detail, detail_size);
	if (optional && reason == TRADE_MISSING_FIELD)
	{
		if (detail != NULL && detail_size > 0)
			detail[0] = '\0';
		return TRADE_OK;
	}
	if (reason != TRADE_OK)
		return reason;
	switch (date_parse(s, len, days))
	{
		case DATE_OK:
			break;
		case DATE_BAD_FORMAT:
			set_detail(detail, detail_size, "%s: not a YYYY-MM-DD date", name);
			return TRADE_INVALID_FIELD;
		case DATE_NOT_IN_CALENDAR:
			set_detail(detail, detail_size, "%s: not a calendar date", name);
			return TRADE_INVALID_FIELD;
	}
	if (present != NULL)
		*present = true;
	return TRADE_OK;
}

/* ------------------------------------------------------------------------
 * Writing a trade
 */

static void
out_bytes(OutBuf *o, const char *s, size_t n)
{
	if (o->len < o->size)
	{
		size_t		room = o->size - o->len;

		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void
out_str(OutBuf *o, const char *s)
{
	out_bytes(o, s, strlen(s));
}

/*
 * out_json_string: s as a JSON string.  It stops at a NUL or after max
 * bytes, so a Trade whose text is not NUL-terminated is never overread.
 * Non-ASCII bytes pass through: a Trade holds UTF-8.
 */
static void
out_json_string(OutBuf *o, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t		i;

	out_bytes(o, "\"", 1);
	for (i = 0; i < max && s[i] != '\0'; i++)
	{
		unsigned char c = (unsigned char) s[i];
		char		esc[6];

		if (c == '"' || c == '\\')
		{
			esc[0] = '\\';
			esc[1] = (char) c;
			out_bytes(o, esc, 2);
		}
		else if (c < 0x20 || c == 0x7F)
		{
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0x0F];
			out_bytes(o, esc, 6);
		}
		else
			out_bytes(o, s + i, 1);
	}
	out_bytes(o, "\"", 1);
}

size_t
trade_format_json(const Trade *t, char *buf, size_t size)
{
	OutBuf		o;
	char		num[16];
	char		date[11];

	o.buf = buf;
	o.size = buf == NULL ? 0 : size;
	o.len = 0;

	out_str(&o, "{\"trade_id\":");
	out_json_string(&o, t->trade_id, sizeof(t->trade_id));
	snprintf(num, sizeof(num), "%ld", (long) t->version);
	out_str(&o, ",\"version\":");
	out_str(&o, num);
	out_str(&o, ",\"counter_party_id\":");
	out_json_string(&o, t->counter_party_id, sizeof(t->counter_party_id));
	out_str(&o, ",\"book_id\":");
	out_json_string(&o, t->book_id, sizeof(t->book_id));
	trade_date_format(t->maturity_date, date);
	out_str(&o, ",\"maturity_date\":\"");
	out_str(&o, date);
	if (t->has_created_date)
	{
		trade_date_format(t->created_date, date);
		out_str(&o, "\",\"created_date\":\"");
		out_str(&o, date);
	}
	out_str(&o, "\"}");

	if (o.size > 0)
		o.buf[o.len < o.size ? o.len : o.size - 1] = '\0';
	return o.len;
}

/* ------------------------------------------------------------------------
 * Dates
 *
 * Counted from 0000-03-01 internally, so that the leap day is the last day
 * of a counting year and a month's first day is a linear function of its
 * index (306 days in 10 months from March, 153 in every 5).
 */

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int32_t
trade_date_from_ymd(int year, int month, int day)
{
	int64_t		y = (int64_t) year - (month <= 2 ? 1 : 0);
	int64_t		era = floor_div(y, 400);
	int64_t		yoe = y - era * 400;	/* 0 .. 399 */
	int64_t		mp = month > 2 ? month - 3 : month + 9;	/* March is 0 */
	int64_t		doy = (153 * mp + 2) / 5 + day - 1;
	int64_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (int32_t) (era * DAYS_PER_400_YEARS + doe - DAYS_0000_03_01_TO_EPOCH);
}

void
trade_date_to_ymd(int32_t days, int *year, int *month, int *day)
{
	int64_t		z = (int64_t) days + DAYS_0000_03_01_TO_EPOCH;
	int64_t		era = floor_div(z, DAYS_PER_400_YEARS);
	int64_t		doe = z - era * DAYS_PER_400_YEARS;	/* 0 .. 146096 */
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		mp = (5 * doy + 2) / 153;
	int			m = (int) (mp < 10 ? mp + 3 : mp - 9);

	*day = (int) (doy - (153 * mp + 2) / 5 + 1);
	*month = m;
	*year = (int) (yoe + era * 400 + (m <= 2 ? 1 : 0));
}

static int
days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool		leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (month == 2 && leap)
		return 29;
	return days[month - 1];
}

/* date_parse: trade_date_parse() that says why it refused */
static DateError
date_parse(const char *s, size_t len, int32_t *days)
{
	static const char shape[] = "dddd-dd-dd";
	int			v[3] = {0, 0, 0};
	int			part = 0;
	size_t		i;

	if (s == NULL || len != 10)
		return DATE_BAD_FORMAT;
	for (i = 0; i < 10; i++)
	{
		if (shape[i] == '-')
		{
			if (s[i] != '-')
				return DATE_BAD_FORMAT;
			part++;
		}
		else if (s[i] >= '0' && s[i] <= '9')
			v[part] = v[part] * 10 + (s[i] - '0');
		else
			return DATE_BAD_FORMAT;
	}
	if (v[0] < 1 || v[1] < 1 || v[1] > 12 || v[2] < 1 ||
		v[2] > days_in_month(v[0], v[1]))
		return DATE_NOT_IN_CALENDAR;
	*days = trade_date_from_ymd(v[0], v[1], v[2]);
	return DATE_OK;
}

bool
trade_date_parse(const char *s, size_t len, int32_t *days)
{
	return date_parse(s, len, days) == DATE_OK;
}

/*
 * trade_date_format: days outside 0001-01-01 .. 9999-12-31 are clamped to
 * that range, so that the result always fits out and parses back.
 */
void
trade_date_format(int32_t days, char out[11])
{
	int			y;
	int			m;
	int			d;

	if (days < DAYS_MIN)
		days = DAYS_MIN;
	if (days > DAYS_MAX)
		days = DAYS_MAX;
	trade_date_to_ymd(days, &y, &m, &d);
	out[0] = (char) ('0' + y / 1000);
	out[1] = (char) ('0' + y / 100 % 10);
	out[2] = (char) ('0' + y / 10 % 10);
	out[3] = (char) ('0' + y % 10);
	out[4] = '-';
	out[5] = (char) ('0' + m / 10);
	out[6] = (char) ('0' + m % 10);
	out[7] = '-';
	out[8] = (char) ('0' + d / 10);
	out[9] = (char) ('0' + d % 10);
	out[10] = '\0';
}
