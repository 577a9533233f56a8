# trades_kafka: PGXS build of the extension, plus the producer, the unit
# tests and the fuzz target as extra targets after the PGXS include.

EXTENSION = trades_kafka
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = trades_kafka
OBJS = \
	src/trades_kafka.o \
	src/launcher.o \
	src/worker.o \
	src/kafka.o \
	src/store.o \
	src/functions.o \
	src/status.o \
	src/trade.o

DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# pg_regress tests, run in this order against a running server
REGRESS = setup objects arguments privileges upgrade
REGRESS_OPTS = --load-extension=plpgsql

PG_CONFIG ?= pg_config
PKG_CONFIG ?= pkg-config

DEPS = rdkafka json-c
PG_CPPFLAGS = -I$(srcdir)/src $(shell $(PKG_CONFIG) --cflags $(DEPS))
SHLIB_LINK = $(shell $(PKG_CONFIG) --libs $(DEPS))
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
EXTRA_CLEAN = trades-producer trades-producer.asan test/unit/test_trade test/unit/test_producer \
	test/unit/*.asan test/fuzz/fuzz_trade

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# ---------------------------------------------------------------------------
# Everything below builds without PostgreSQL headers.

CC_PLAIN ?= cc
PLAIN_CFLAGS ?= -O2 -g -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Isrc -Isrc/producer
JSONC_CFLAGS = $(shell $(PKG_CONFIG) --cflags json-c)
JSONC_LIBS = $(shell $(PKG_CONFIG) --libs json-c)
RDKAFKA_LIBS = $(shell $(PKG_CONFIG) --libs rdkafka)
CMOCKA_LIBS = $(shell $(PKG_CONFIG) --libs cmocka)
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

PRODUCER_SRC = src/producer/main.c src/producer/gen.c src/trade.c
PRODUCER_HDR = src/producer/gen.h src/trade.h

all: trades-producer

trades-producer: $(PRODUCER_SRC) $(PRODUCER_HDR)
	$(CC_PLAIN) $(PLAIN_CFLAGS) $(JSONC_CFLAGS) -o $@ $(PRODUCER_SRC) $(RDKAFKA_LIBS) $(JSONC_LIBS) -lm

install-producer: trades-producer
	install -D -m 755 trades-producer $(DESTDIR)$(bindir)/trades-producer

UNIT_TRADE_SRC = test/unit/test_trade.c src/trade.c
UNIT_PRODUCER_SRC = test/unit/test_producer.c src/producer/gen.c src/trade.c

test/unit/test_trade: $(UNIT_TRADE_SRC) src/trade.h
	$(CC_PLAIN) $(PLAIN_CFLAGS) $(JSONC_CFLAGS) -o $@ $(UNIT_TRADE_SRC) $(JSONC_LIBS) $(CMOCKA_LIBS)

test/unit/test_producer: $(UNIT_PRODUCER_SRC) $(PRODUCER_HDR)
	$(CC_PLAIN) $(PLAIN_CFLAGS) $(JSONC_CFLAGS) -o $@ $(UNIT_PRODUCER_SRC) $(JSONC_LIBS) $(CMOCKA_LIBS) -lm

test/unit/test_trade.asan: $(UNIT_TRADE_SRC) src/trade.h
	$(CC_PLAIN) $(PLAIN_CFLAGS) $(SAN_FLAGS) $(JSONC_CFLAGS) -o $@ $(UNIT_TRADE_SRC) $(JSONC_LIBS) $(CMOCKA_LIBS)

test/unit/test_producer.asan: $(UNIT_PRODUCER_SRC) $(PRODUCER_HDR)
	$(CC_PLAIN) $(PLAIN_CFLAGS) $(SAN_FLAGS) $(JSONC_CFLAGS) -o $@ $(UNIT_PRODUCER_SRC) $(JSONC_LIBS) $(CMOCKA_LIBS) -lm

UNIT_TESTS = test/unit/test_trade test/unit/test_producer

# unit: the C unit tests, plain then under ASan+UBSan
unit: $(UNIT_TESTS) $(UNIT_TESTS:=.asan)
	@set -e; for t in $(UNIT_TESTS) $(UNIT_TESTS:=.asan); do echo "== $$t"; ./$$t; done

# fuzz: libFuzzer over the parser; FUZZ_SECONDS bounds the run
FUZZ_SECONDS ?= 30
test/fuzz/fuzz_trade: test/fuzz/fuzz_trade.c src/trade.c src/trade.h
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc $(JSONC_CFLAGS) -o $@ test/fuzz/fuzz_trade.c src/trade.c $(JSONC_LIBS)

fuzz: test/fuzz/fuzz_trade
	mkdir -p test/fuzz/work
	./test/fuzz/fuzz_trade -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=test/fuzz/ test/fuzz/work test/fuzz/corpus

.PHONY: unit fuzz install-producer

# the producer under ASan+UBSan, for the sanitize suite of scripts/test.sh
trades-producer.asan: $(PRODUCER_SRC) $(PRODUCER_HDR)
	$(CC_PLAIN) $(PLAIN_CFLAGS) $(SAN_FLAGS) $(JSONC_CFLAGS) -o $@ $(PRODUCER_SRC) $(RDKAFKA_LIBS) $(JSONC_LIBS) -lm
