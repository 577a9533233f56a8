#!/usr/bin/env python3
"""hostile.py: write a corpus of hostile messages, one file each, named
NNN-<expected outcome>-<kind>, for test_hostile.sh.  Every file is sent as
one Kafka message (kcat -P FILE), so any byte may appear in it.

  hostile.py DIR TODAY MAX_MESSAGE_BYTES
"""
import datetime
import os
import sys


def main():
    out, today, max_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    day = datetime.date.fromisoformat(today)
    later = (day + datetime.timedelta(days=30)).isoformat()
    past = (day - datetime.timedelta(days=1)).isoformat()

    def trade(tid="H1", version=1, cp='"CP"', book='"B"', mat=None, extra=""):
        return ('{"trade_id":%s,"version":%s,"counter_party_id":%s,"book_id":%s,'
                '"maturity_date":%s%s}' % (tid if tid.startswith(('"', '[', '{', 'n', 't', 'f')) or tid[:1].isdigit() else '"%s"' % tid,
                                            version, cp, book,
                                            '"%s"' % (mat or later), extra)).encode()

    cases = [
        ("malformed_json", "whitespace", b"   \n\t  "),
        ("malformed_json", "not_json", b"hello world"),
        ("malformed_json", "truncated", trade()[:-5]),
        ("malformed_json", "deep_nesting_100k", b"[" * 100000 + b"]" * 100000),
        ("malformed_json", "deep_objects", b'{"a":' * 50000 + b"1" + b"}" * 50000),
        ("malformed_json", "nul_outside_string", trade() + b"\x00"),
        ("malformed_json", "nul_in_middle", trade()[:10] + b"\x00" + trade()[10:]),
        ("malformed_json", "bom", b"\xef\xbb\xbf" + trade()),
        ("malformed_json", "trailing_garbage", trade() + b" x"),
        ("malformed_json", "two_objects", trade() + trade()),
        ("malformed_json", "invalid_utf8_outside", b"\xff" + trade()),
        ("malformed_json", "single_quotes", trade().replace(b'"', b"'")),
        ("malformed_json", "nan_version", trade(version="NaN")),
        ("not_an_object", "array", b"[" + trade() + b"]"),
        ("not_an_object", "string", b'"a string"'),
        ("not_an_object", "number", b"42"),
        ("not_an_object", "null", b"null"),
        ("missing_field", "empty_object", b"{}"),
        ("missing_field", "null_trade_id", trade(tid="null")),
        ("missing_field", "null_maturity", trade().replace(b'"maturity_date":"%s"' % later.encode(), b'"maturity_date":null')),
        ("invalid_field", "version_string", trade(version='"1"')),
        ("invalid_field", "version_float", trade(version="1.0")),
        ("invalid_field", "version_exp", trade(version="1e2")),
        ("invalid_field", "version_zero", trade(version="0")),
        ("invalid_field", "version_negative", trade(version="-5")),
        ("invalid_field", "version_huge", trade(version="99999999999999999999999")),
        ("invalid_field", "version_int32_plus_one", trade(version="2147483648")),
        ("invalid_field", "version_bool", trade(version="true")),
        ("invalid_field", "version_object", trade(version='{"v":1}')),
        ("invalid_field", "trade_id_number", trade(tid="12345")),
        ("invalid_field", "trade_id_empty", trade(tid='""')),
        ("invalid_field", "trade_id_65_chars", trade(tid="X" * 65)),
        ("invalid_field", "trade_id_control_char", trade(tid='"a\\u0001b"')),
        ("invalid_field", "trade_id_nul_escape", trade(tid='"a\\u0000b"')),
        ("malformed_json", "raw_newline_in_string", trade(tid='"a\nb"')),
        ("invalid_field", "trade_id_invalid_utf8", b'{"trade_id":"a\xc3\x28","version":1,"counter_party_id":"CP","book_id":"B","maturity_date":"%s"}' % later.encode()),
        ("invalid_field", "trade_id_overlong_utf8", b'{"trade_id":"\xc0\xaf","version":1,"counter_party_id":"CP","book_id":"B","maturity_date":"%s"}' % later.encode()),
        ("malformed_json", "lone_surrogate_escape", trade(tid='"\\ud800"')),
        ("invalid_field", "book_array", trade(book='["B"]')),
        ("invalid_field", "date_impossible", trade(mat="2027-02-30")),
        ("invalid_field", "date_month_13", trade(mat="2027-13-01")),
        ("invalid_field", "date_year_0", trade(mat="0000-01-01")),
        ("invalid_field", "date_with_time", trade(mat="2027-01-01T00:00:00")),
        ("invalid_field", "date_number", trade().replace(b'"maturity_date":"%s"' % later.encode(), b'"maturity_date":20270101')),
        ("invalid_field", "created_bad", trade(extra=',"created_date":"yesterday"')),
        ("matured", "maturity_yesterday", trade(tid="HM", mat=past)),
        ("too_large", "over_max_bytes", trade(extra=',"pad":"%s"' % ("x" * max_bytes))),
        ("ok", "sql_looking", trade(tid='"x\'); DROP TABLE trades_kafka.trades; --"')),
        ("ok", "unicode_64_chars", trade(tid='"%s"' % ("\u00e9" * 64))),
        ("ok", "emoji", trade(tid='"\U0001F600-T"', cp='"\\u00e9"')),
        ("ok", "far_future", trade(tid="HF", mat="9999-12-31")),
        ("ok", "maturity_today", trade(tid="HT", mat=today)),
        ("ok", "extra_fields_and_expired", trade(tid="HE", extra=',"expired":true,"x":[1,{"y":null}]')),
        ("ok", "duplicate_keys_last_wins", trade(tid="HD", book='"first","book_id":"last"')),
        ("ok", "whitespace_around", b"  \n" + trade(tid="HW") + b"\n  "),
        ("ok", "final_valid", trade(tid="HZ")),
    ]
    os.makedirs(out, exist_ok=True)
    for i, (outcome, kind, payload) in enumerate(cases):
        with open(os.path.join(out, "%03d-%s-%s" % (i, outcome, kind)), "wb") as f:
            f.write(payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
