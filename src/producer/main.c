/*-------------------------------------------------------------------------
 *
 * main.c
 *	  trades-producer: feed a Kafka topic with JSON trades, generated
 *	  (valid ones and, on request, deliberately invalid ones of every reject
 *	  kind) or read line by line from a file.
 *
 * One struct conf holds the options and the librdkafka handles.  The
 * producer is idempotent with acks=all unless told otherwise, keys every
 * message by its trade_id so that the versions of a trade stay in order in
 * one partition, answers a full queue by serving delivery reports rather
 * than dropping, and counts every message into exactly one of delivered or
 * failed.  A signal only clears the run flag: the main loop then stops
 * producing, flushes within --timeout and prints the summary.
 *
 * Exit status: 0 when every message sent was delivered, 1 when one was not
 * (or the brokers could not be reached), 2 for bad usage or configuration.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "gen.h"
#include "trade.h"

#define PROGNAME				"trades-producer"

#define EXIT_NOT_DELIVERED		1
#define EXIT_USAGE				2

#define DEFAULT_COUNT			1000
#define DEFAULT_TRADES			100
#define DEFAULT_TIMEOUT			30
#define PROGRESS_INTERVAL		0.5	/* seconds between progress lines */
#define QUEUE_FULL_WAIT_MS		100
#define RATE_BURST				1.0 /* seconds of lag the rate may catch up */
#define POLL_EVERY				64	/* messages between two rd_kafka_poll() */
#define MAX_ERROR_KINDS			64

struct conf
{
	volatile sig_atomic_t run;	/* 1 produce, 0 stop and flush, -1 give up */
	int			verbosity;		/* 0 --quiet, 1 normal, 2 --verbose */
	bool		progress;		/* stderr is a terminal: a progress line */
	bool		progress_shown; /* the line is on screen: clear before text */

	const char *brokers;
	const char *topic;
	const char *from;			/* --from FILE or "-", else generate */
	int64_t		count;			/* 0: until interrupted (or end of input) */
	bool		count_given;
	double		rate;			/* msgs/s, 0: as fast as possible */
	int			timeout;		/* seconds: reach brokers, final flush */
	bool		print;			/* write the messages to stdout instead */

	GenOptions	gen;
	bool		seed_given;
	bool		gen_option_given;	/* one that --from cannot honour */

	rd_kafka_conf_t *rk_conf;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	bool		started;		/* past the start-up check of the brokers */
	bool		fatal;			/* librdkafka raised a fatal error */
	char		first_error[512];	/* first client error, for start-up */
};

static struct conf conf = {
	.run = 1,
	.verbosity = 1,
	.count = DEFAULT_COUNT,
	.timeout = DEFAULT_TIMEOUT,
	.gen = {
		.trades = DEFAULT_TRADES,
		.max_message_bytes = GEN_DEFAULT_MESSAGE_BYTES,
		.first_version = 1,
	},
};

static struct stats
{
	uint64_t	sent;			/* handed to librdkafka (or refused by it) */
	uint64_t	invalid;		/* of which deliberately invalid */
	uint64_t	delivered;
	uint64_t	failed;
	uint64_t	queue_full;		/* times the queue was full */
} stats;

/* Error codes already reported: each kind is reported once */
typedef struct ErrorSet
{
	int			codes[MAX_ERROR_KINDS];
	int			n;
} ErrorSet;

static ErrorSet delivery_errors;	/* delivery reports and produce() */
static ErrorSet client_errors;	/* error_cb */

/* Where the messages come from */
typedef struct Source
{
	Generator  *gen;
	FILE	   *fp;
	char	   *line;
	size_t		line_cap;
	TradeParser *parser;
	int32_t		no_matured;		/* a "today" before every date */
	char		key[TRADE_TEXT_MAX_BYTES + 1];	/* the line's trade_id */
} Source;

typedef struct Message
{
	const char *value;
	size_t		len;
	const char *key;			/* NULL: no key */
	size_t		key_len;
	bool		invalid;
} Message;

#define ATTR_PRINTF(f, a)	__attribute__((format(printf, f, a)))

static void fatal0(const char *func, int status, const char *fmt,...)
			__attribute__((noreturn)) ATTR_PRINTF(3, 4);
static void error0(const char *func, const char *fmt,...) ATTR_PRINTF(2, 3);
static void info0(const char *func, const char *fmt,...) ATTR_PRINTF(2, 3);
static void emit(const char *func, const char *fmt, va_list ap)
			ATTR_PRINTF(2, 0);
static void usage(FILE *fp);
static int64_t parse_int(const char *opt, const char *arg,
						 int64_t min, int64_t max);
static double parse_double(const char *opt, const char *arg,
						   double min, double max);
static void conf_set(const char *name, const char *value);
static void parse_args(int argc, char **argv);
static double now(void);
static void on_signal(int sig);
static bool report_once(ErrorSet *set, int code);
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg,
					  void *opaque);
static void error_cb(rd_kafka_t *rk, int err, const char *reason,
					 void *opaque);
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
				   const char *buf);
static void start_producer(void);
static bool next_message(Source *src, Message *m);
static bool produce(const Message *m);
static void progress(double t);
static void produce_all(Source *src);
static void drain(void);
static void print_messages(Source *src);

/* ------------------------------------------------------------------------
 * Messages to the user: "trades-producer: ..." on stderr, one line each;
 * with --verbose the function that speaks is named too.
 */

#define fatal(status, ...)	fatal0(__func__, status, __VA_ARGS__)
#define error(...)			error0(__func__, __VA_ARGS__)
#define info(...)			info0(__func__, __VA_ARGS__)

static void
emit(const char *func, const char *fmt, va_list ap)
{
	char		buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (conf.progress_shown)
	{
		/* Do not write over the progress line: clear it first */
		fputs("\r\033[K", stderr);
		conf.progress_shown = false;
	}
	if (conf.verbosity >= 2)
		fprintf(stderr, "%s: %s: %s\n", PROGNAME, func, buf);
	else
		fprintf(stderr, "%s: %s\n", PROGNAME, buf);
}

static void
fatal0(const char *func, int status, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	emit(func, fmt, ap);
	va_end(ap);
	exit(status);
}

static void
error0(const char *func, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	emit(func, fmt, ap);
	va_end(ap);
}

static void
info0(const char *func, const char *fmt,...)
{
	va_list		ap;

	if (conf.verbosity < 1)
		return;
	va_start(ap, fmt);
	emit(func, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------
 * Options
 */

static void
usage(FILE *fp)
{
	fprintf(fp,
			"Usage: " PROGNAME " --brokers HOST:PORT --topic TOPIC [OPTION]...\n"
			"Send JSON trades to a Kafka topic, keyed by trade_id: generated ones\n"
			"(reproducible from --seed) or the lines of a file.\n"
			"\n"
			"  -b, --brokers LIST        bootstrap brokers, host:port[,host:port...]\n"
			"  -t, --topic TOPIC         the topic to produce to\n"
			"  -c, --count N             messages to send, 0 = until interrupted\n"
			"                            (default %d; with --from, the whole input)\n"
			"  -r, --rate R              messages per second, 0 = as fast as possible\n"
			"                            (default 0)\n"
			"      --from FILE|-         send each line of FILE (- = stdin) as it is,\n"
			"                            instead of generating trades\n"
			"\n"
			"Generated trades:\n"
			"      --trades K            distinct trade ids T0..T<K-1> (default %d)\n"
			"      --seed S              seed of the generator: the same seed, options and\n"
			"                            --today give the same bytes (default: from the\n"
			"                            clock, shown in the summary)\n"
			"      --invalid-ratio F     share 0..1 of deliberately invalid messages,\n"
			"                            cycling through every reject reason (default 0)\n"
			"      --max-message-bytes N the consumer's trades_kafka.max_message_bytes:\n"
			"                            too_large messages are longer (default %d)\n"
			"      --today YYYY-MM-DD    the date trades are created on (default: the\n"
			"                            local date)\n"
			"      --first-version V     the version of each trade's first message\n"
			"                            (default 1)\n"
			"      --print               write the messages to stdout, one per line,\n"
			"                            instead of sending them\n"
			"\n"
			"Kafka client:\n"
			"      --acks all|1|0        acknowledgements (default all, idempotent;\n"
			"                            1 or 0 turn idempotence off)\n"
			"  -z, --compression CODEC   none, gzip, snappy, lz4 or zstd (default none)\n"
			"      --timeout SECONDS     bound on reaching the brokers at start, on each\n"
			"                            message's delivery and on the final flush\n"
			"                            (default %d)\n"
			"  -X PROP=VALUE             a librdkafka property; applied after the options\n"
			"                            above; -X list shows them all\n"
			"\n"
			"  -q, --quiet               no progress line, no summary, no warnings\n"
			"  -v, --verbose             name the function in messages, show librdkafka's\n"
			"                            log\n"
			"  -h, --help                show this help and exit\n"
			"\n"
			"A progress line is shown when stderr is a terminal, and a summary at the\n"
			"end.  Ctrl-C stops sending, waits up to --timeout for the messages in\n"
			"flight, and prints the summary; a second Ctrl-C gives up waiting.\n"
			"\n"
			"Exit status: 0 if every message sent was delivered, 1 if one was not or\n"
			"the brokers could not be reached, 2 for bad usage or configuration.\n",
			DEFAULT_COUNT, DEFAULT_TRADES, GEN_DEFAULT_MESSAGE_BYTES,
			DEFAULT_TIMEOUT);
}

/* parse_int: arg as a decimal integer in [min, max], else bad usage */
static int64_t
parse_int(const char *opt, const char *arg, int64_t min, int64_t max)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
		fatal(EXIT_USAGE, "%s: expected an integer from %" PRId64 " to %" PRId64
			  ", not \"%s\"", opt, min, max, arg);
	return v;
}

/* parse_double: arg as a finite number in [min, max], else bad usage */
static double
parse_double(const char *opt, const char *arg, double min, double max)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(v) ||
		v < min || v > max)
		fatal(EXIT_USAGE, "%s: expected a number from %g to %g, not \"%s\"",
			  opt, min, max, arg);
	return v;
}

/* conf_set: set a librdkafka property or exit with librdkafka's reason */
static void
conf_set(const char *name, const char *value)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf.rk_conf, name, value, errstr, sizeof(errstr)) !=
		RD_KAFKA_CONF_OK)
		fatal(EXIT_USAGE, "%s", errstr);
}

enum
{
	OPT_FROM = 256,
	OPT_TRADES,
	OPT_SEED,
	OPT_INVALID_RATIO,
	OPT_MAX_MESSAGE_BYTES,
	OPT_TODAY,
	OPT_FIRST_VERSION,
	OPT_PRINT,
	OPT_ACKS,
	OPT_TIMEOUT,
};

/*
 * parse_args: fill conf from the command line.  The librdkafka properties
 * the options imply are set first and the -X ones last, so that an explicit
 * -X wins.
 */
static void
parse_args(int argc, char **argv)
{
	static const struct option options[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"count", required_argument, NULL, 'c'},
		{"rate", required_argument, NULL, 'r'},
		{"from", required_argument, NULL, OPT_FROM},
		{"trades", required_argument, NULL, OPT_TRADES},
		{"seed", required_argument, NULL, OPT_SEED},
		{"invalid-ratio", required_argument, NULL, OPT_INVALID_RATIO},
		{"max-message-bytes", required_argument, NULL, OPT_MAX_MESSAGE_BYTES},
		{"today", required_argument, NULL, OPT_TODAY},
		{"first-version", required_argument, NULL, OPT_FIRST_VERSION},
		{"print", no_argument, NULL, OPT_PRINT},
		{"acks", required_argument, NULL, OPT_ACKS},
		{"compression", required_argument, NULL, 'z'},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
	const char *acks = "all";
	const char *compression = "none";
	char	  **props = calloc((size_t) argc, sizeof(char *));
	int			nprops = 0;
	bool		today_given = false;
	bool		known = false;
	char		buf[32];
	int			opt;

	if (props == NULL)
		fatal(EXIT_NOT_DELIVERED, "out of memory");

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":b:t:c:r:z:X:qvh", options, NULL)) != -1)
	{
		switch (opt)
		{
			case 'b':
				conf.brokers = optarg;
				break;
			case 't':
				conf.topic = optarg;
				break;
			case 'c':
				conf.count = parse_int("--count", optarg, 0, INT64_MAX);
				conf.count_given = true;
				break;
			case 'r':
				conf.rate = parse_double("--rate", optarg, 0, 1e9);
				break;
			case OPT_FROM:
				conf.from = optarg;
				break;
			case OPT_TRADES:
				conf.gen.trades = (int32_t) parse_int("--trades", optarg, 1,
													  GEN_MAX_TRADES);
				conf.gen_option_given = true;
				break;
			case OPT_SEED:
				conf.gen.seed = (uint64_t) parse_int("--seed", optarg, 0, INT64_MAX);
				conf.seed_given = true;
				conf.gen_option_given = true;
				break;
			case OPT_INVALID_RATIO:
				conf.gen.invalid_ratio = parse_double("--invalid-ratio", optarg, 0, 1);
				conf.gen_option_given = true;
				break;
			case OPT_MAX_MESSAGE_BYTES:
				conf.gen.max_message_bytes = (size_t)
					parse_int("--max-message-bytes", optarg,
							  GEN_MIN_MESSAGE_BYTES, GEN_MAX_MESSAGE_BYTES);
				conf.gen_option_given = true;
				break;
			case OPT_TODAY:
				if (!trade_date_parse(optarg, strlen(optarg), &conf.gen.today))
					fatal(EXIT_USAGE, "--today: expected a date YYYY-MM-DD, not \"%s\"",
						  optarg);
				today_given = true;
				conf.gen_option_given = true;
				break;
			case OPT_FIRST_VERSION:
				conf.gen.first_version = (int32_t)
					parse_int("--first-version", optarg, 1, INT32_MAX);
				conf.gen_option_given = true;
				break;
			case OPT_PRINT:
				conf.print = true;
				break;
			case OPT_ACKS:
				if (strcmp(optarg, "all") != 0 && strcmp(optarg, "-1") != 0 &&
					strcmp(optarg, "1") != 0 && strcmp(optarg, "0") != 0)
					fatal(EXIT_USAGE, "--acks: expected all, 1 or 0, not \"%s\"",
						  optarg);
				acks = optarg;
				break;
			case 'z':
				known = false;
				for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
					known |= strcmp(optarg, codecs[i]) == 0;
				if (!known)
					fatal(EXIT_USAGE, "--compression: expected none, gzip, snappy, "
						  "lz4 or zstd, not \"%s\"", optarg);
				compression = optarg;
				break;
			case OPT_TIMEOUT:
				conf.timeout = (int) parse_int("--timeout", optarg, 1, 86400);
				break;
			case 'X':
				if (strcmp(optarg, "list") == 0 || strcmp(optarg, "help") == 0)
				{
					rd_kafka_conf_properties_show(stdout);
					exit(0);
				}
				if (strchr(optarg, '=') == NULL || optarg[0] == '=')
					fatal(EXIT_USAGE, "-X: expected PROPERTY=VALUE, not \"%s\" "
						  "(-X list shows the properties)", optarg);
				props[nprops++] = optarg;
				break;
			case 'q':
				conf.verbosity = 0;
				break;
			case 'v':
				conf.verbosity = 2;
				break;
			case 'h':
				usage(stdout);
				exit(0);
			case ':':
				fatal(EXIT_USAGE, "option %s needs a value (see --help)",
					  argv[optind - 1]);
			default:
				fatal(EXIT_USAGE, "unknown option %s (see --help)",
					  argv[optind - 1]);
		}
	}
	if (optind < argc)
		fatal(EXIT_USAGE, "unexpected argument \"%s\" (see --help)", argv[optind]);

	/* What the generator needs, even when --print is all we do */
	if (!today_given)
	{
		time_t		t = time(NULL);
		struct tm	tm;

		localtime_r(&t, &tm);
		conf.gen.today = trade_date_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1,
											 tm.tm_mday);
	}
	if (!conf.seed_given)
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		conf.gen.seed = ((uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec) ^
			((uint64_t) getpid() << 32);
		conf.gen.seed &= INT64_MAX; /* so that --seed can repeat it */
	}
	if (conf.from != NULL)
	{
		if (conf.gen_option_given)
			fatal(EXIT_USAGE, "--from sends its input as it is: --trades, --seed, "
				  "--invalid-ratio, --max-message-bytes, --today and "
				  "--first-version do not apply");
		if (conf.print)
			fatal(EXIT_USAGE, "--print writes generated trades: not with --from");
		if (!conf.count_given)
			conf.count = 0;
	}
	if (conf.print)
	{
		free(props);
		return;
	}

	if (conf.topic == NULL || conf.topic[0] == '\0')
		fatal(EXIT_USAGE, "--topic is required (see --help)");
	for (int i = 0; i < nprops && conf.brokers == NULL; i++)
		if (strncmp(props[i], "bootstrap.servers=", 18) == 0)
			conf.brokers = props[i] + 18;
		else if (strncmp(props[i], "metadata.broker.list=", 21) == 0)
			conf.brokers = props[i] + 21;
	if (conf.brokers == NULL || conf.brokers[0] == '\0')
		fatal(EXIT_USAGE, "--brokers is required (see --help)");

	/* Defaults, then what the options imply, then -X */
	conf_set("client.id", PROGNAME);
	conf_set("enable.idempotence", strcmp(acks, "all") == 0 ||
			 strcmp(acks, "-1") == 0 ? "true" : "false");
	conf_set("acks", acks);
	/* Java's partitioner: the same key goes where a Java producer puts it */
	conf_set("partitioner", "murmur2_random");
	/* A little batching buys most of the throughput; 1M queued messages */
	conf_set("linger.ms", "10");
	conf_set("queue.buffering.max.messages", "1000000");
	conf_set("compression.codec", compression);
	conf_set("bootstrap.servers", conf.brokers);
	snprintf(buf, sizeof(buf), "%d", conf.timeout * 1000);
	conf_set("message.timeout.ms", buf);
	for (int i = 0; i < nprops; i++)
	{
		char	   *eq = strchr(props[i], '=');

		*eq = '\0';
		conf_set(props[i], eq + 1);
	}
	free(props);
}

/* ------------------------------------------------------------------------
 * librdkafka callbacks, served from rd_kafka_poll() in the main thread
 * (but log_cb, which librdkafka's own threads call)
 */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
on_signal(int sig)
{
	(void) sig;
	/* The first signal stops sending, the second stops waiting */
	conf.run = conf.run > 0 ? 0 : -1;
}

/* report_once: true the first time an error code is seen in the set */
static bool
report_once(ErrorSet *set, int code)
{
	for (int i = 0; i < set->n; i++)
		if (set->codes[i] == code)
			return false;
	if (set->n < MAX_ERROR_KINDS)
		set->codes[set->n++] = code;
	return true;
}

/*
 * dr_msg_cb: every message ends here once, delivered or failed.  Transient
 * errors never reach it: librdkafka retries them with backoff until
 * message.timeout.ms.  The first failure of each kind is reported.
 */
static void
dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	(void) rk;
	(void) opaque;

	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		stats.delivered++;
		return;
	}
	stats.failed++;
	if (report_once(&delivery_errors, msg->err))
		error("delivery failed: %s (partition %" PRId32 "; further failures "
			  "of this kind are counted, not shown)",
			  rd_kafka_err2str(msg->err), msg->partition);
}

/*
 * error_cb: client-level errors.  Most are transient (a broker went away)
 * and librdkafka recovers by itself; they are shown once per kind.  A fatal
 * error (the idempotent producer can no longer guarantee order) stops the
 * run.  Before the start-up check is over, only the first error is kept:
 * the check reports it in its own words.
 */
static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void) opaque;

	if (conf.first_error[0] == '\0')
		snprintf(conf.first_error, sizeof(conf.first_error), "%s", reason);

	if (err == RD_KAFKA_RESP_ERR__FATAL)
	{
		char		errstr[512];

		rd_kafka_fatal_error(rk, errstr, sizeof(errstr));
		error("fatal error, stopping: %s", errstr);
		conf.fatal = true;
		if (conf.run > 0)
			conf.run = 0;
		return;
	}
	if (conf.started && report_once(&client_errors, err))
		info("%s (librdkafka retries; further errors of this kind not shown)",
			 reason);
}

/*
 * log_cb: librdkafka's log, from its own threads.  Its errors also come
 * through error_cb, once each, so the log is shown only with --verbose,
 * but for warnings about the configuration.
 */
static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void) rk;

	if (conf.verbosity >= 2 ||
		(conf.verbosity >= 1 && level <= LOG_WARNING &&
		 strcmp(fac, "CONFWARN") == 0))
		fprintf(stderr, "%s: librdkafka %s: %s\n", PROGNAME, fac, buf);
}

/* ------------------------------------------------------------------------
 * Producing
 */

/*
 * start_producer: create the client, then ask the brokers for the topic's
 * metadata.  Not getting an answer within --timeout ends the program with
 * one line rather than a hang.
 */
static void
start_producer(void)
{
	char		errstr[512];
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
	double		deadline;

	rd_kafka_conf_set_dr_msg_cb(conf.rk_conf, dr_msg_cb);
	rd_kafka_conf_set_error_cb(conf.rk_conf, error_cb);
	rd_kafka_conf_set_log_cb(conf.rk_conf, log_cb);

	conf.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.rk_conf, errstr, sizeof(errstr));
	if (conf.rk == NULL)
		fatal(EXIT_USAGE, "%s", errstr);
	conf.rk_conf = NULL;		/* rd_kafka_new() owns it now */

	conf.rkt = rd_kafka_topic_new(conf.rk, conf.topic, NULL);
	if (conf.rkt == NULL)
		fatal(EXIT_USAGE, "topic \"%s\": %s", conf.topic,
			  rd_kafka_err2str(rd_kafka_last_error()));

	/*
	 * Ask in slices of a second, so that Ctrl-C is heard meanwhile, until
	 * the brokers answer and know the topic.  The producer's request asks
	 * the broker to create a missing topic, so a topic still unknown is one
	 * the broker will not create (or one just created elsewhere, whose
	 * metadata is on its way: hence the wait).
	 */
	deadline = now() + conf.timeout;
	for (;;)
	{
		double		left = deadline - now();

		err = rd_kafka_metadata(conf.rk, 0, conf.rkt, &md,
								left < 1 ? (int) (left * 1000) + 1 : 1000);
		rd_kafka_poll(conf.rk, 0);	/* collect the errors met meanwhile */
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			topic_err = md->topic_cnt == 1 ? md->topics[0].err :
				RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
			rd_kafka_metadata_destroy(md);
			if (topic_err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
				break;
			rd_kafka_poll(conf.rk, 200);
		}
		if (conf.run <= 0 || now() >= deadline)
			break;
	}

	if (conf.run <= 0)
		fatal(EXIT_NOT_DELIVERED, "interrupted while reaching brokers %s: "
			  "nothing sent", conf.brokers);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		fatal(EXIT_NOT_DELIVERED, "cannot reach brokers %s within %d s: %s",
			  conf.brokers, conf.timeout,
			  conf.first_error[0] ? conf.first_error : rd_kafka_err2str(err));
	if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
		fatal(EXIT_NOT_DELIVERED, "topic \"%s\" does not exist on brokers %s "
			  "(and they do not create topics on demand)", conf.topic, conf.brokers);
	if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR &&
		topic_err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
		info("topic \"%s\": %s (messages wait for it up to --timeout)",
			 conf.topic, rd_kafka_err2str(topic_err));
	conf.started = true;
}

/*
 * next_message: the next message of the source, false at its end.  A line
 * of --from is keyed by its trade_id when it parses as a trade (whatever
 * its dates), and not keyed otherwise.
 */
static bool
next_message(Source *src, Message *m)
{
	if (src->gen != NULL)
	{
		const GenMessage *g = gen_next(src->gen);

		m->value = g->value;
		m->len = g->value_len;
		m->key = g->key;
		m->key_len = g->key_len;
		m->invalid = g->expect != TRADE_OK;
		return true;
	}

	for (;;)
	{
		ssize_t		n;
		Trade		t;
		char		detail[TRADE_DETAIL_SIZE];

		errno = 0;
		n = getline(&src->line, &src->line_cap, src->fp);
		if (n < 0)
		{
			if (errno == EINTR || errno == 0)
				return false;	/* interrupted, or the end of the input */
			fatal(EXIT_NOT_DELIVERED, "cannot read %s: %s",
				  strcmp(conf.from, "-") == 0 ? "stdin" : conf.from,
				  strerror(errno));
		}
		if (n > 0 && src->line[n - 1] == '\n')
			n--;
		if (n == 0)
			continue;			/* an empty line is no message */

		m->value = src->line;
		m->len = (size_t) n;
		m->invalid = false;
		m->key = NULL;
		m->key_len = 0;
		if (trade_parse(src->parser, src->line, (size_t) n, 0, src->no_matured,
						&t, detail, sizeof(detail)) == TRADE_OK)
		{
			memcpy(src->key, t.trade_id, sizeof(src->key));
			m->key = src->key;
			m->key_len = strlen(src->key);
		}
		return true;
	}
}

/*
 * produce: hand one message to librdkafka (which copies it).  A full queue
 * is answered by serving delivery reports and trying again, never by
 * dropping; false when a signal stopped the wait.  Any other refusal counts
 * the message as failed.
 */
static bool
produce(const Message *m)
{
	for (;;)
	{
		rd_kafka_resp_err_t err;

		err = rd_kafka_producev(conf.rk,
								RD_KAFKA_V_RKT(conf.rkt),
								RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
								RD_KAFKA_V_VALUE((void *) m->value, m->len),
								RD_KAFKA_V_KEY(m->key, m->key_len),
								RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			stats.sent++;
			stats.invalid += m->invalid;
			return true;
		}
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		{
			stats.queue_full++;
			rd_kafka_poll(conf.rk, QUEUE_FULL_WAIT_MS);
			if (conf.run <= 0)
				return false;
			progress(now());
			continue;
		}

		stats.sent++;
		stats.invalid += m->invalid;
		stats.failed++;
		if (report_once(&delivery_errors, err))
			error("cannot send a message of %zu bytes: %s (further failures of "
				  "this kind are counted, not shown)", m->len, rd_kafka_err2str(err));
		if (err == RD_KAFKA_RESP_ERR__FATAL)
			conf.run = 0;
		return true;
	}
}

/* progress: the \r-updated line on a terminal, every PROGRESS_INTERVAL */
static void
progress(double t)
{
	static double last_t;
	static uint64_t last_sent;
	double		rate;

	if (!conf.progress)
		return;
	if (last_t == 0)
		last_t = t;
	if (t - last_t < PROGRESS_INTERVAL)
		return;
	rate = t > last_t ? (double) (stats.sent - last_sent) / (t - last_t) : 0;
	fprintf(stderr, "\r\033[Ksent %" PRIu64 "  delivered %" PRIu64
			"  failed %" PRIu64 "  in flight %" PRIu64 "  %.0f msgs/s",
			stats.sent, stats.delivered, stats.failed,
			stats.sent - stats.delivered - stats.failed, rate);
	fflush(stderr);
	conf.progress_shown = true;
	last_t = t;
	last_sent = stats.sent;
}

/*
 * produce_all: the main loop.  --rate is a token bucket over
 * CLOCK_MONOTONIC: message k since the bucket's start is due at
 * start + k / rate, all due messages go at once, and the loop sleeps (while
 * serving delivery reports) until the next one is due.  A lag of more than
 * RATE_BURST seconds (say, a long full queue) is forgiven rather than
 * caught up in one burst.
 */
static void
produce_all(Source *src)
{
	double		start = now();
	uint64_t	k = 0;
	Message		m;

	while (conf.run > 0 && (conf.count == 0 || stats.sent < (uint64_t) conf.count))
	{
		double		t = conf.rate > 0 || conf.progress ? now() : 0;

		if (conf.rate > 0)
		{
			double		due = start + (double) k / conf.rate;

			if (t < due)
			{
				double		wait = due - t;

				if (wait >= 0.001)
					rd_kafka_poll(conf.rk, (int) (wait * 1000));
				else
				{
					struct timespec ts = {0, (long) (wait * 1e9)};

					nanosleep(&ts, NULL);
				}
				progress(now());
				continue;
			}
			if (t - due > RATE_BURST)
			{
				start = t - RATE_BURST;
				k = 0;
			}
		}

		if (!next_message(src, &m))
			break;
		if (!produce(&m))
			break;
		k++;
		if (stats.sent % POLL_EVERY == 0)
			rd_kafka_poll(conf.rk, 0);
		progress(t);
	}
}

/*
 * drain: wait up to --timeout for the messages in flight, then give up on
 * those left (purged, so that they are reported as failed).  A second
 * signal gives up at once.
 */
static void
drain(void)
{
	double		deadline = now() + conf.timeout;

	while (stats.delivered + stats.failed < stats.sent && conf.run >= 0)
	{
		double		left = deadline - now();

		if (left <= 0)
			break;
		rd_kafka_flush(conf.rk, left < 0.1 ? (int) (left * 1000) + 1 : 100);
		progress(now());
	}

	if (stats.delivered + stats.failed < stats.sent)
	{
		uint64_t	left = stats.sent - stats.delivered - stats.failed;
		double		purge_deadline = now() + 5;

		error("%" PRIu64 " messages not delivered %s: giving up on them", left,
			  conf.run < 0 ? "when interrupted again" :
			  "within --timeout");
		rd_kafka_purge(conf.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		while (stats.delivered + stats.failed < stats.sent && now() < purge_deadline)
			rd_kafka_poll(conf.rk, 100);
	}
	if (conf.progress_shown)
	{
		/* The summary takes its place */
		fputs("\r\033[K", stderr);
		conf.progress_shown = false;
	}
}

/* print_messages: --print, the generated values one per line on stdout */
static void
print_messages(Source *src)
{
	Message		m;

	while (conf.run > 0 && (conf.count == 0 || stats.sent < (uint64_t) conf.count))
	{
		next_message(src, &m);
		if (fwrite(m.value, 1, m.len, stdout) != m.len || putchar('\n') == EOF)
			fatal(EXIT_NOT_DELIVERED, "cannot write to stdout: %s", strerror(errno));
		stats.sent++;
	}
	if (fflush(stdout) != 0)
		fatal(EXIT_NOT_DELIVERED, "cannot write to stdout: %s", strerror(errno));
}

int
main(int argc, char **argv)
{
	Source		src = {0};
	struct sigaction sa;
	char		errstr[256];
	double		started,
				elapsed;
	bool		interrupted;
	int			status;

	conf.rk_conf = rd_kafka_conf_new();
	parse_args(argc, argv);

	/* No SA_RESTART: a signal must also interrupt a read of stdin */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (conf.from == NULL)
	{
		src.gen = gen_new(&conf.gen, errstr, sizeof(errstr));
		if (src.gen == NULL)
			fatal(EXIT_USAGE, "%s", errstr);
	}
	else
	{
		src.fp = strcmp(conf.from, "-") == 0 ? stdin : fopen(conf.from, "r");
		if (src.fp == NULL)
			fatal(EXIT_USAGE, "cannot open %s: %s", conf.from, strerror(errno));
		src.parser = trade_parser_new();
		if (src.parser == NULL)
			fatal(EXIT_NOT_DELIVERED, "out of memory");
		src.no_matured = trade_date_from_ymd(1, 1, 1);
	}

	if (conf.print)
	{
		rd_kafka_conf_destroy(conf.rk_conf);
		print_messages(&src);
		gen_free(src.gen);
		return 0;
	}

	conf.progress = conf.verbosity >= 1 && isatty(STDERR_FILENO);
	start_producer();

	started = now();
	produce_all(&src);
	interrupted = conf.run <= 0 && !conf.fatal;
	drain();
	elapsed = now() - started;

	if (conf.verbosity >= 1)
	{
		char		invalid[64] = "";
		char		seed[64] = "";

		if (src.gen != NULL && conf.gen.invalid_ratio > 0)
			snprintf(invalid, sizeof(invalid), " (%" PRIu64 " invalid on purpose)",
					 stats.invalid);
		if (src.gen != NULL)
			snprintf(seed, sizeof(seed), ", seed %" PRIu64, conf.gen.seed);
		fprintf(stderr, "%s: %ssent %" PRIu64 "%s, delivered %" PRIu64
				", failed %" PRIu64 " in %.2f s (%.0f msgs/s)%s\n",
				PROGNAME, interrupted ? "interrupted: " : "",
				stats.sent, invalid, stats.delivered, stats.failed, elapsed,
				elapsed > 0 ? (double) stats.delivered / elapsed : 0.0, seed);
	}
	if (conf.verbosity >= 2 && stats.queue_full > 0)
		info("the queue was full %" PRIu64 " times: the broker set the pace",
			 stats.queue_full);
	status = stats.delivered == stats.sent && !conf.fatal ? 0 : EXIT_NOT_DELIVERED;

	rd_kafka_topic_destroy(conf.rkt);
	rd_kafka_destroy(conf.rk);
	gen_free(src.gen);
	if (src.parser != NULL)
		trade_parser_free(src.parser);
	if (src.fp != NULL && src.fp != stdin)
		fclose(src.fp);
	free(src.line);
	return status;
}
