/*
 * main: the mxscan command line. Parses options (getopt_long), reads and
 * checks targets (blocklist applied here and again before connect), resolves
 * host names, runs the engine and prints a progress line once a second.
 * Configuration errors exit here with a message naming the remedy; results of
 * hosts are never errors of the program.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mxscan/blocklist.h"
#include "mxscan/domains.h"
#include "mxscan/engine.h"
#include "mxscan/plan.h"
#include "mxscan/json.h"
#include "mxscan/record.h"
#include "mxscan/recw.h"
#include "mxscan/resolve.h"
#include "mxscan/selftest.h"
#include "mxscan/shard.h"
#include "mxscan/suites.h"
#include "mxscan/target.h"
#include "mxscan/verify.h"

#ifndef MXSCAN_VERSION
#define MXSCAN_VERSION "0.1.0"
#endif

/* Exit codes (documented in --help and README). */
enum {
	EXIT_OK = 0,          /* scan completed; every input line was valid */
	EXIT_USAGE = 1,       /* bad option or configuration */
	EXIT_BADLINES = 2,    /* scan completed; some input lines were invalid and skipped */
	EXIT_OUTPUT = 3,      /* records could not be written */
	EXIT_STRICT = 4,      /* --strict: stopped at the first invalid input line */
	EXIT_SELFTEST = 5,    /* --selftest failed */
	EXIT_INTERRUPTED = 6, /* SIGINT/SIGTERM: in-flight hosts finished, rest not scanned */
};

static const char usage_text[] =
	"Usage: mxscan [OPTIONS] [TARGET...]\n"
	"       mxscan --selftest | --help | --version\n"
	"\n"
	"Scan mail servers: SMTP banner, EHLO, STARTTLS (or implicit TLS on 465), and the\n"
	"TLS version and cipher suite the server picks. One NDJSON record per host.\n"
	"\n"
	"Targets (arguments, -i FILE, or standard input when neither is given):\n"
	"  192.0.2.7  192.0.2.7:2525  [2001:db8::25]:25\n"
	"  example.net  example.net:587   mail domains: MX -> A/AAAA (--names mx: names are MX hosts)\n"
	"  192.0.2.7,mx1.example.net[,tag[,port]]   zgrab2 CSV: scan this IP, present this MX name (SNI)\n"
	"  1234,example.net                          ranked top list (rank,domain)\n"
	"  Blank lines and lines starting with # are ignored; duplicates are scanned once.\n"
	"\n"
	"Input:\n"
	"  -i, --input FILE        read targets from FILE ('-' = stdin)\n"
	"      --strict            stop at the first invalid input line (default: report, count, go on)\n"
	"  -p, --port N            port for targets without one (default 25)\n"
	"      --mode MODE         auto (default: 465 implicit TLS, others STARTTLS), starttls, implicit\n"
	"      --shards N --shard I --seed S   scan only shard I (0..N-1) of the input: a hash of each\n"
	"                          target (address:port, or name) with S; same N and S on every shard\n"
	"\n"
	"TLS probing:\n"
	"      --enum LEVEL        quick: one broad ClientHello per host (like zgrab2);\n"
	"                          versions: + which of SSLv3..TLS 1.3 are accepted;\n"
	"                          full (default): every suite per version, the server's order, groups,\n"
	"                          compression, fallback SCSV, secure renegotiation (like nmap's\n"
	"                          ssl-enum-ciphers, with fewer connections)\n"
	"      --trace-probes      keep every probe in the record (kind, offer size, outcome, alert, pick)\n"
	"      --no-handshake      skip the full TLS handshake (certificate chain, EHLO after TLS) that\n"
	"                          follows the probes when the server speaks TLS 1.1 or newer\n"
	"      --ca-file FILE      trust anchors (PEM) for chain verification (default: the system\n"
	"                          bundle /etc/ssl/certs/ca-certificates.crt)\n"
	"\n"
	"Output:\n"
	"  -o, --output FILE       records to FILE; gzip when it ends in .gz; '-' = plain NDJSON on stdout\n"
	"                          (default '-')\n"
	"      --flush-records N   finish a gzip member every N records (default 1000)\n"
	"      --flush-secs S      ... or every S seconds (default 5): a killed scan keeps what was flushed\n"
	"      --append            append to an existing output file (a torn last member is cut first)\n"
	"      --scan-id ID        identifier written in every record (default: random)\n"
	"\n"
	"Network and timing:\n"
	"  -t, --threads N         worker threads, one event loop each (default: one per core)\n"
	"  -c, --concurrency N     connections in flight, all threads together (default 200)\n"
	"      --ehlo NAME         name sent in EHLO/HELO (default: this machine's host name)\n"
	"      --connect-timeout S TCP connect deadline (default 10)\n"
	"      --banner-timeout S  deadline for the greeting; slow banners are legal (default 30)\n"
	"      --timeout S         deadline for each SMTP reply (default 30)\n"
	"      --tls-timeout S     deadline for the server's TLS answer (default 15)\n"
	"      --resolver IP[:PORT] DNS server for names (repeatable; default resolv.conf)\n"
	"      --names domain|mx   names in the input are mail domains (default: MX lookup, RFC 5321\n"
	"                          implicit MX when none) or MX host names (A/AAAA lookup only)\n"
	"\n"
	"Politeness:\n"
	"      --per-ip N          hosts (ports, names) of one IP address in flight at once (default 2;\n"
	"                          0 = no limit); each host's probes run one at a time\n"
	"      --per-ip-rate R     at most R new connections per second to one IP address (default: no limit)\n"
	"      --rate N            at most N new connections per second in all (default: no limit)\n"
	"      --retries N         per host, connections turned away before TLS (421, reset, close,\n"
	"                          silence) tried again, at most N times (default 3)\n"
	"      --backoff S         wait before the first retry, doubled for each next one (default 0.5)\n"
	"\n"
	"Safety:\n"
	"      --blocklist FILE    ranges never scanned; replaces the default, which lists every IANA\n"
	"                          special-purpose range (loopback included): datasets/blocklist.conf\n"
	"      --allowlist CIDR|FILE  scan only these ranges (repeatable); an allow entry at least as\n"
	"                          specific as a block entry wins, e.g. --allowlist 127.0.0.0/8 for tests\n"
	"      --optout FILE       opt-out requests (CIDR per line, blocklist format; repeatable): never\n"
	"                          scanned, whatever the allow-list says\n"
	"\n"
	"Progress and misc:\n"
	"      --progress          print a progress line every second on stderr (default: when a tty)\n"
	"  -q, --quiet             no progress, no summary\n"
	"      --selftest          run the built-in self checks and exit\n"
	"      --list-baseline     print the suites of the baseline ClientHello, in offer order\n"
	"  -h, --help              this text\n"
	"  -V, --version           version\n"
	"\n"
	"Exit status: 0 done; 1 bad option or configuration; 2 done, but invalid input lines were\n"
	"skipped; 3 records could not be written; 4 --strict stopped at an invalid line; 5 selftest\n"
	"failed; 6 interrupted (hosts in flight finished and were written).\n"
	"\n"
	"Examples:\n"
	"  mxscan --allowlist 127.0.0.0/8 127.0.1.1            one host, record on stdout\n"
	"  mxscan -i mx.txt -o scan.ndjson.gz --progress        a list, gzip records, progress\n"
	"  echo 127.0.1.1,mx1.example.test | mxscan --allowlist 127.0.0.0/8 -p 2525\n";

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
	(void)sig;
	interrupted++;
}

static int parse_secs(const char *s, unsigned *ms_out, const char *opt)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || v <= 0 || v > 86400) {
		fprintf(stderr, "mxscan: %s expects seconds between 0 and 86400, got '%s'\n", opt, s);
		return -1;
	}
	*ms_out = (unsigned)(v * 1000.0);
	return 0;
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out, const char *opt)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v < lo || v > hi) {
		fprintf(stderr, "mxscan: %s expects a number from %lu to %lu, got '%s'\n", opt, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* datasets/blocklist.conf next to the binary (bin/../datasets) or at the
 * compiled-in source path. */
static int find_default_blocklist(char *out, size_t cap)
{
	char exe[PATH_MAX / 2];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(out, cap, "%s/../datasets/blocklist.conf", exe);
			if (access(out, R_OK) == 0)
				return 0;
			snprintf(out, cap, "%s/../share/mxscan/blocklist.conf", exe);
			if (access(out, R_OK) == 0)
				return 0;
		}
	}
#ifdef MXSCAN_DATADIR
	snprintf(out, cap, "%s/blocklist.conf", MXSCAN_DATADIR);
	if (access(out, R_OK) == 0)
		return 0;
#endif
	return -1;
}

static void default_ehlo(char *out, size_t cap)
{
	if (gethostname(out, cap) != 0 || !out[0])
		snprintf(out, cap, "localhost");
	out[cap - 1] = 0;
}

static void make_scan_id(char *out, size_t cap)
{
	unsigned char r[8];
	FILE *f = fopen("/dev/urandom", "rb");
	if (!f || fread(r, 1, sizeof(r), f) != sizeof(r)) {
		unsigned long t = (unsigned long)time(NULL) ^ (unsigned long)getpid();
		memcpy(r, &t, sizeof(r) < sizeof(t) ? sizeof(r) : sizeof(t));
	}
	if (f)
		fclose(f);
	snprintf(out, cap, "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

static uint64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void progress_line(const struct engine_stats *st, size_t total, uint64_t elapsed_ms, double rate, double crate,
			  int final)
{
	unsigned long done = atomic_load(&st->done) + atomic_load(&st->blocked);
	unsigned long ok = atomic_load(&st->status[ST_SUCCESS]);
	char eta[32] = "-";
	if (rate > 0 && done < total) {
		unsigned long s = (unsigned long)((double)(total - done) / rate);
		snprintf(eta, sizeof(eta), "%lu:%02lu:%02lu", s / 3600, (s / 60) % 60, s % 60);
	}
	fprintf(stderr,
		"%smxscan: %lu/%zu targets (%.0f%%) %.1f/s, %.1f conn/s, %lu active, %lu success, %lu failed "
		"[refused %lu, timeout %lu, closed %lu, smtp/tls %lu, protocol %lu], ETA %s, %.0fs%s",
		(final || !isatty(2)) ? "" : "\r", done, total, total ? 100.0 * (double)done / (double)total : 100.0,
		rate, crate, atomic_load(&st->active), ok, atomic_load(&st->done) - ok,
		atomic_load(&st->status[ST_CONNECTION_REFUSED]),
		atomic_load(&st->status[ST_CONNECTION_TIMEOUT]) + atomic_load(&st->status[ST_IO_TIMEOUT]),
		atomic_load(&st->status[ST_CONNECTION_CLOSED]), atomic_load(&st->status[ST_APPLICATION_ERROR]),
		atomic_load(&st->status[ST_PROTOCOL_ERROR]), eta, (double)elapsed_ms / 1000.0,
		(final || !isatty(2)) ? "\n" : "");
	fflush(stderr);
}

/* A name that gave no address is a result too: it gets a host record. */
struct resolve_ctx {
	struct recw *out;
	const char *scan_id;
	unsigned long failed;
};

static void on_resolve_fail(const struct target *t, enum resolve_status status, const char *reason, void *ud)
{
	struct resolve_ctx *rc = ud;
	struct jbuf jb;
	jb_init(&jb);
	jb_obj_open(&jb, NULL);
	jb_str(&jb, "type", "host");
	jb_str(&jb, "schema", RECORD_SCHEMA_VERSION);
	jb_str(&jb, "scan_id", rc->scan_id);
	jb_str(&jb, "input", t->host);
	if (t->port)
		jb_int(&jb, "port", t->port);
	jb_str(&jb, "status", "unknown-error");
	jb_obj_open(&jb, "failure");
	jb_str(&jb, "stage", "resolve");
	jb_str(&jb, "reason", resolve_status_name(status));
	jb_str(&jb, "detail", reason);
	jb_obj_close(&jb);
	jb_obj_close(&jb);
	if (jb_ok(&jb))
		recw_write(rc->out, jb.buf, jb.len);
	jb_free(&jb);
	rc->failed++;
}

enum {
	OPT_STRICT = 256,
	OPT_MODE,
	OPT_FLUSH_RECORDS,
	OPT_FLUSH_SECS,
	OPT_APPEND,
	OPT_SCAN_ID,
	OPT_EHLO,
	OPT_CONNECT_TIMEOUT,
	OPT_BANNER_TIMEOUT,
	OPT_TIMEOUT,
	OPT_TLS_TIMEOUT,
	OPT_RESOLVER,
	OPT_BLOCKLIST,
	OPT_ALLOWLIST,
	OPT_PROGRESS,
	OPT_SELFTEST,
	OPT_LIST_BASELINE,
	OPT_ENUM,
	OPT_TRACE_PROBES,
	OPT_NO_HANDSHAKE,
	OPT_CA_FILE,
	OPT_NAMES,
	OPT_SHARDS,
	OPT_SHARD,
	OPT_SEED,
	OPT_OPTOUT,
	OPT_PER_IP,
	OPT_PER_IP_RATE,
	OPT_RATE,
	OPT_RETRIES,
	OPT_BACKOFF,
};

static const struct option long_opts[] = {
	{ "input", required_argument, 0, 'i' },
	{ "strict", no_argument, 0, OPT_STRICT },
	{ "port", required_argument, 0, 'p' },
	{ "mode", required_argument, 0, OPT_MODE },
	{ "enum", required_argument, 0, OPT_ENUM },
	{ "trace-probes", no_argument, 0, OPT_TRACE_PROBES },
	{ "no-handshake", no_argument, 0, OPT_NO_HANDSHAKE },
	{ "ca-file", required_argument, 0, OPT_CA_FILE },
	{ "names", required_argument, 0, OPT_NAMES },
	{ "shards", required_argument, 0, OPT_SHARDS },
	{ "shard", required_argument, 0, OPT_SHARD },
	{ "seed", required_argument, 0, OPT_SEED },
	{ "output", required_argument, 0, 'o' },
	{ "flush-records", required_argument, 0, OPT_FLUSH_RECORDS },
	{ "flush-secs", required_argument, 0, OPT_FLUSH_SECS },
	{ "append", no_argument, 0, OPT_APPEND },
	{ "scan-id", required_argument, 0, OPT_SCAN_ID },
	{ "threads", required_argument, 0, 't' },
	{ "concurrency", required_argument, 0, 'c' },
	{ "ehlo", required_argument, 0, OPT_EHLO },
	{ "connect-timeout", required_argument, 0, OPT_CONNECT_TIMEOUT },
	{ "banner-timeout", required_argument, 0, OPT_BANNER_TIMEOUT },
	{ "timeout", required_argument, 0, OPT_TIMEOUT },
	{ "tls-timeout", required_argument, 0, OPT_TLS_TIMEOUT },
	{ "resolver", required_argument, 0, OPT_RESOLVER },
	{ "blocklist", required_argument, 0, OPT_BLOCKLIST },
	{ "allowlist", required_argument, 0, OPT_ALLOWLIST },
	{ "optout", required_argument, 0, OPT_OPTOUT },
	{ "per-ip", required_argument, 0, OPT_PER_IP },
	{ "per-ip-rate", required_argument, 0, OPT_PER_IP_RATE },
	{ "rate", required_argument, 0, OPT_RATE },
	{ "retries", required_argument, 0, OPT_RETRIES },
	{ "backoff", required_argument, 0, OPT_BACKOFF },
	{ "progress", no_argument, 0, OPT_PROGRESS },
	{ "quiet", no_argument, 0, 'q' },
	{ "selftest", no_argument, 0, OPT_SELFTEST },
	{ "list-baseline", no_argument, 0, OPT_LIST_BASELINE },
	{ "help", no_argument, 0, 'h' },
	{ "version", no_argument, 0, 'V' },
	{ 0, 0, 0, 0 },
};

#define MAX_LIST 64

int main(int argc, char **argv)
{
	const char *input = NULL, *output = "-", *blocklist = NULL, *scan_id_opt = NULL, *ca_file = NULL;
	struct verify_roots *roots = NULL;
	const char *allow[MAX_LIST], *resolvers[MAX_LIST + 1], *optout[MAX_LIST];
	unsigned nallow = 0, nresolvers = 0, noptout = 0;
	int strict = 0, append = 0, quiet = 0, progress = -1, rc = EXIT_OK;
	unsigned long port = 25, threads = 0, concurrency = 200, flush_records = 1000;
	unsigned flush_ms = 5000;
	unsigned long shards = 1, shard = 0;
	unsigned long long seed = 0;
	int shard_given = 0;
	char ehlo[256], err[512], scan_id[64], blpath[PATH_MAX];
	struct engine_config ec;
	struct blocklist *bl = NULL;
	struct target_set *raw = NULL, *targets = NULL, *named = NULL, *resolved = NULL;
	struct recw *out = NULL;
	struct mx_domain *doms = NULL;
	uint16_t *dports = NULL;
	struct domain_map dmap;
	int dmap_used = 0, names_are_domains = 1;
	memset(&dmap, 0, sizeof(dmap));
	struct jbuf jb;
	jb_init(&jb);
	memset(&ec, 0, sizeof(ec));
	conn_config_defaults(&ec.conn);
	ec.mode = MODE_AUTO;
	ec.enum_mode = ENUM_FULL;
	ec.handshake = 1;
	ec.per_ip = 2;
	ec.retries = 3;
	ec.backoff_ms = 500;
	default_ehlo(ehlo, sizeof(ehlo));

	int opt;
	while ((opt = getopt_long(argc, argv, "i:p:o:t:c:qhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'i': input = optarg; break;
		case OPT_STRICT: strict = 1; break;
		case 'p':
			if (parse_uint(optarg, 1, 65535, &port, "--port") < 0)
				return EXIT_USAGE;
			break;
		case OPT_MODE:
			if (!strcmp(optarg, "auto"))
				ec.mode = MODE_AUTO;
			else if (!strcmp(optarg, "starttls"))
				ec.mode = MODE_STARTTLS;
			else if (!strcmp(optarg, "implicit"))
				ec.mode = MODE_IMPLICIT;
			else {
				fprintf(stderr, "mxscan: --mode is auto, starttls or implicit, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_ENUM: {
			int m = enum_mode_parse(optarg);
			if (m < 0) {
				fprintf(stderr, "mxscan: --enum is quick, versions or full, not '%s'\n", optarg);
				{
					rc = EXIT_USAGE;
					goto out;
				}
			}
			ec.enum_mode = m;
			break;
		}
		case OPT_TRACE_PROBES: ec.trace_probes = 1; break;
		case OPT_NO_HANDSHAKE: ec.handshake = 0; break;
		case OPT_CA_FILE: ca_file = optarg; break;
		case OPT_NAMES:
			if (!strcmp(optarg, "domain") || !strcmp(optarg, "domains")) {
				names_are_domains = 1;
			} else if (!strcmp(optarg, "mx") || !strcmp(optarg, "host")) {
				names_are_domains = 0;
			} else {
				fprintf(stderr, "mxscan: --names is domain or mx, not '%s'\n", optarg);
				rc = EXIT_USAGE;
				goto out;
			}
			break;
		case OPT_SHARDS:
			if (parse_uint(optarg, 1, 65536, &shards, "--shards") < 0)
				return EXIT_USAGE;
			break;
		case OPT_SHARD:
			if (parse_uint(optarg, 0, 65535, &shard, "--shard") < 0)
				return EXIT_USAGE;
			shard_given = 1;
			break;
		case OPT_SEED: {
			char *end;
			errno = 0;
			seed = strtoull(optarg, &end, 0);
			if (errno || *end || !*optarg || *optarg == '-') {
				fprintf(stderr, "mxscan: --seed expects an unsigned 64-bit number, got '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'o': output = optarg; break;
		case OPT_FLUSH_RECORDS:
			if (parse_uint(optarg, 1, 10000000, &flush_records, "--flush-records") < 0)
				return EXIT_USAGE;
			break;
		case OPT_FLUSH_SECS:
			if (parse_secs(optarg, &flush_ms, "--flush-secs") < 0)
				return EXIT_USAGE;
			break;
		case OPT_APPEND: append = 1; break;
		case OPT_SCAN_ID: scan_id_opt = optarg; break;
		case 't':
			if (parse_uint(optarg, 1, 256, &threads, "--threads") < 0)
				return EXIT_USAGE;
			break;
		case 'c':
			if (parse_uint(optarg, 1, 100000, &concurrency, "--concurrency") < 0)
				return EXIT_USAGE;
			break;
		case OPT_EHLO:
			if (!*optarg || strlen(optarg) >= sizeof(ehlo) || strpbrk(optarg, " \r\n\t")) {
				fprintf(stderr,
					"mxscan: --ehlo needs a host name without spaces (at most 255 bytes)\n");
				return EXIT_USAGE;
			}
			snprintf(ehlo, sizeof(ehlo), "%s", optarg);
			break;
		case OPT_CONNECT_TIMEOUT:
			if (parse_secs(optarg, &ec.conn.connect_ms, "--connect-timeout") < 0)
				return EXIT_USAGE;
			break;
		case OPT_BANNER_TIMEOUT:
			if (parse_secs(optarg, &ec.conn.banner_ms, "--banner-timeout") < 0)
				return EXIT_USAGE;
			break;
		case OPT_TIMEOUT:
			if (parse_secs(optarg, &ec.conn.command_ms, "--timeout") < 0)
				return EXIT_USAGE;
			break;
		case OPT_TLS_TIMEOUT:
			if (parse_secs(optarg, &ec.conn.tls_ms, "--tls-timeout") < 0)
				return EXIT_USAGE;
			break;
		case OPT_RESOLVER:
			if (nresolvers >= MAX_LIST) {
				fprintf(stderr, "mxscan: at most %d --resolver options\n", MAX_LIST);
				return EXIT_USAGE;
			}
			resolvers[nresolvers++] = optarg;
			break;
		case OPT_BLOCKLIST: blocklist = optarg; break;
		case OPT_ALLOWLIST:
			if (nallow >= MAX_LIST) {
				fprintf(stderr, "mxscan: at most %d --allowlist options (use a file)\n", MAX_LIST);
				return EXIT_USAGE;
			}
			allow[nallow++] = optarg;
			break;
		case OPT_OPTOUT:
			if (noptout >= MAX_LIST) {
				fprintf(stderr, "mxscan: at most %d --optout files\n", MAX_LIST);
				return EXIT_USAGE;
			}
			optout[noptout++] = optarg;
			break;
		case OPT_PER_IP: {
			unsigned long v;
			if (parse_uint(optarg, 0, 100000, &v, "--per-ip") < 0)
				return EXIT_USAGE;
			ec.per_ip = (unsigned)v;
			break;
		}
		case OPT_RETRIES: {
			unsigned long v;
			if (parse_uint(optarg, 0, 20, &v, "--retries") < 0)
				return EXIT_USAGE;
			ec.retries = (unsigned)v;
			break;
		}
		case OPT_BACKOFF:
			if (parse_secs(optarg, &ec.backoff_ms, "--backoff") < 0)
				return EXIT_USAGE;
			break;
		case OPT_RATE:
		case OPT_PER_IP_RATE: {
			char *end;
			errno = 0;
			double v = strtod(optarg, &end);
			if (errno || *end || !*optarg || !(v >= 0 && v <= 10000000)) {
				fprintf(stderr, "mxscan: %s expects connections per second (0 = no limit), got '%s'\n",
					opt == OPT_RATE ? "--rate" : "--per-ip-rate", optarg);
				return EXIT_USAGE;
			}
			*(opt == OPT_RATE ? &ec.rate : &ec.per_ip_rate) = v;
			break;
		}
		case OPT_PROGRESS: progress = 1; break;
		case 'q': quiet = 1; break;
		case OPT_LIST_BASELINE: {
			const uint16_t *codes;
			size_t n = conn_baseline_suites(&codes);
			for (size_t i = 0; i < n; i++)
				printf("0x%04x %s\n", codes[i], suite_by_code(codes[i])->name);
			return EXIT_OK;
		}
		case OPT_SELFTEST: return selftest_run(stdout) == 0 ? EXIT_OK : EXIT_SELFTEST;
		case 'h': fputs(usage_text, stdout); return EXIT_OK;
		case 'V': printf("mxscan %s\n", MXSCAN_VERSION); return EXIT_OK;
		default: fprintf(stderr, "Try 'mxscan --help'.\n"); return EXIT_USAGE;
		}
	}
	if (progress < 0)
		progress = !quiet && isatty(2);
	if (shard >= shards || (shards > 1 && !shard_given)) {
		fprintf(stderr,
			"mxscan: --shards %lu needs --shard between 0 and %lu (the same --seed on every shard)\n",
			shards, shards - 1);
		return EXIT_USAGE;
	}
	ec.conn.ehlo_name = ehlo;

	/* Trust anchors, indexed once. An explicit --ca-file must load; without
	 * one, a missing system bundle only disables verification, loudly. */
	roots = verify_roots_load(ca_file, err, sizeof(err));
	if (!roots) {
		if (ca_file) {
			fprintf(stderr, "mxscan: --ca-file %s: %s\n", ca_file, err);
			rc = EXIT_USAGE;
			goto out;
		}
		fprintf(stderr,
			"mxscan: certificate verification disabled: %s (install ca-certificates or pass --ca-file)\n",
			err);
	}
	ec.roots = roots;

	/* Blocklist: the default, or the user's file instead; allow-list entries. */
	bl = bl_new();
	if (!bl) {
		fprintf(stderr, "mxscan: out of memory\n");
		{
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (!blocklist) {
		if (find_default_blocklist(blpath, sizeof(blpath)) < 0) {
			fprintf(stderr, "mxscan: cannot find the default blocklist (datasets/blocklist.conf next to "
					"the binary); pass --blocklist FILE\n");
			{
				rc = EXIT_USAGE;
				goto out;
			}
		}
		blocklist = blpath;
	}
	if (bl_load_file(bl, blocklist, BL_BLOCK, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxscan: blocklist: %s\n", err);
		{
			rc = EXIT_USAGE;
			goto out;
		}
	}
	/* Opt-out requests win over everything, the allow-list included. */
	for (unsigned i = 0; i < noptout; i++) {
		if (bl_load_file(bl, optout[i], BL_OPTOUT, err, sizeof(err)) < 0) {
			fprintf(stderr, "mxscan: --optout: %s\n", err);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	for (unsigned i = 0; i < nallow; i++) {
		if (strchr(allow[i], '/') && access(allow[i], R_OK) != 0) {
			if (bl_add_err(bl, allow[i], BL_ALLOW, "allow-list", err, sizeof(err)) < 0) {
				fprintf(stderr, "mxscan: --allowlist %s: %s\n", allow[i], err);
				{
					rc = EXIT_USAGE;
					goto out;
				}
			}
		} else if (bl_load_file(bl, allow[i], BL_ALLOW, err, sizeof(err)) < 0) {
			fprintf(stderr, "mxscan: --allowlist %s: %s\n", allow[i], err);
			{
				rc = EXIT_USAGE;
				goto out;
			}
		}
	}

	/* Targets: arguments, -i FILE, or stdin. */
	raw = ts_new();
	targets = ts_new();
	unsigned bad = 0;
	if (!raw || !targets) {
		fprintf(stderr, "mxscan: out of memory\n");
		{
			rc = EXIT_USAGE;
			goto out;
		}
	}
	for (int i = optind; i < argc; i++) {
		struct target t;
		int r = target_parse_line(argv[i], strlen(argv[i]), &t, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "mxscan: argument %d '%s': %s\n", i - optind + 1, argv[i], err);
			bad++;
			if (strict) {
				rc = EXIT_STRICT;
				goto out;
			}
		} else if (r > 0) {
			ts_add(raw, &t);
		}
	}
	if (input || optind == argc) {
		FILE *f = stdin;
		const char *name = "stdin";
		if (input && strcmp(input, "-") != 0) {
			f = fopen(input, "r");
			name = input;
			if (!f) {
				fprintf(stderr, "mxscan: cannot open input %s: %s\n", input, strerror(errno));
				{
					rc = EXIT_USAGE;
					goto out;
				}
			}
		} else if (isatty(0) && !input) {
			fprintf(stderr, "mxscan: no targets given; reading them from the terminal (end with Ctrl-D). "
					"'mxscan --help' shows the options.\n");
		}
		unsigned b = 0;
		int r = ts_read_file(raw, f, name, strict, &b, stderr);
		bad += b;
		if (f != stdin)
			fclose(f);
		if (r < 0 && strict) {
			rc = EXIT_STRICT;
			goto out;
		}
	}

	/* Output */
	struct recw_opts ro;
	memset(&ro, 0, sizeof(ro));
	ro.flush_records = (unsigned)flush_records;
	ro.flush_ms = flush_ms;
	ro.append = append;
	out = recw_open(output, &ro, err, sizeof(err));
	if (!out) {
		fprintf(stderr, "mxscan: %s\n", err);
		{
			rc = EXIT_OUTPUT;
			goto out;
		}
	}
	if (scan_id_opt)
		snprintf(scan_id, sizeof(scan_id), "%s", scan_id_opt);
	else
		make_scan_id(scan_id, sizeof(scan_id));

	/* First blocklist pass, before any DNS query; host names are checked
	 * once resolved, and every address again right before connect. */
	unsigned long blocked_early = 0, resolve_failed = 0, other_shards = 0;
	named = ts_new();
	for (size_t i = 0; i < ts_count(raw); i++) {
		const struct target *t = ts_get(raw, i);
		const char *why;
		if (shards > 1 && shard_of(t, (unsigned)shards, seed) != shard) {
			other_shards++; /* another shard's target: by its key, never by input order */
		} else if (!t->has_addr) {
			ts_add(named, t);
		} else if (bl_check(bl, (const struct sockaddr *)&t->addr, &why)) {
			ts_add(targets, t);
		} else {
			blocked_early++;
			if (!quiet)
				fprintf(stderr, "mxscan: %s not scanned: %s\n", t->host, why);
		}
	}
	if (ts_count(named) > 0 && names_are_domains) {
		/* Mail domains: MX (sorted by preference) → A/AAAA, every answer kept as
		 * data; each (IP, port) scanned once however many domains share it. */
		size_t nd = ts_count(named);
		doms = calloc(nd, sizeof(*doms));
		dports = calloc(nd, sizeof(*dports));
		if (!doms || !dports) {
			fprintf(stderr, "mxscan: out of memory for %zu domains\n", nd);
			rc = EXIT_USAGE;
			goto out;
		}
		for (size_t i = 0; i < nd; i++) {
			const struct target *t = ts_get(named, i);
			snprintf(doms[i].domain, sizeof(doms[i].domain), "%s", t->host);
			doms[i].rank = t->rank;
			doms[i].line = t->line;
			dports[i] = t->port;
		}
		struct mx_stats mst;
		memset(&mst, 0, sizeof(mst));
		resolvers[nresolvers] = NULL;
		if (!quiet)
			fprintf(stderr, "mxscan: resolving MX of %zu domains\n", nd);
		if (mx_resolve(doms, nd, nresolvers ? resolvers : NULL, 0, 0, 0, AF_UNSPEC, &mst, stderr) < 0) {
			fprintf(stderr, "mxscan: MX resolution could not start (check --resolver)\n");
			rc = EXIT_USAGE;
			goto out;
		}
		if (!quiet)
			fprintf(stderr, "mxscan: %zu domains resolved in %.2f s (%zu queries, %zu lost)\n", nd,
				mst.seconds, mst.queries, mst.lost);
		dmap_used = 1;
		if (domains_build(&dmap, doms, dports, nd, targets, bl, &blocked_early, quiet ? NULL : stderr) < 0) {
			fprintf(stderr, "mxscan: out of memory building the scan plan\n");
			rc = EXIT_USAGE;
			goto out;
		}
	} else if (ts_count(named) > 0) {
		resolved = ts_new();
		struct resolve_stats rst;
		memset(&rst, 0, sizeof(rst));
		resolvers[nresolvers] = NULL;
		struct resolve_ctx rc_ = { out, scan_id, 0 };
		if (resolve_targets(named, nresolvers ? resolvers : NULL, 5000, 2, AF_UNSPEC, resolved,
				    quiet ? NULL : stderr, &rst, on_resolve_fail, &rc_) < 0) {
			fprintf(stderr, "mxscan: name resolution could not start (check --resolver)\n");
			{
				rc = EXIT_USAGE;
				goto out;
			}
		}
		for (size_t i = 0; i < ts_count(resolved); i++) {
			const struct target *t = ts_get(resolved, i);
			const char *why;
			if (bl_check(bl, (const struct sockaddr *)&t->addr, &why)) {
				ts_add(targets, t);
			} else {
				blocked_early++;
				if (!quiet)
					fprintf(stderr, "mxscan: %s (%s) not scanned: %s\n", t->sni, t->host, why);
			}
		}
		ts_free(resolved);
		resolved = NULL;
		resolve_failed = rc_.failed;
	}
	ts_free(named);
	named = NULL;
	if (dmap_used && domains_reserve(&dmap, ts_count(targets)) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (dmap_used) {
		ec.meta = dmap.meta;
		ec.summaries = dmap.sum;
	}

	/* Descriptors: one per connection plus slack; raise the soft limit. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && concurrency + 64 > rl.rlim_cur) {
		fprintf(stderr,
			"mxscan: --concurrency %lu needs more file descriptors than the limit %lu allows; "
			"using %lu\n",
			concurrency, (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_cur - 64);
		concurrency = rl.rlim_cur - 64;
	}
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned long)n : 1;
	}
	if (threads > concurrency)
		threads = concurrency;

	char argv_text[1024];
	size_t an = 0;
	argv_text[0] = 0;
	for (int i = 0; i < argc && an + 1 < sizeof(argv_text); i++) {
		int w = snprintf(argv_text + an, sizeof(argv_text) - an, "%s%s", i ? " " : "", argv[i]);
		if (w < 0)
			break;
		an += (size_t)w;
	}
	struct scan_meta meta = {
		.scan_id = scan_id,
		.event = "start",
		.version = MXSCAN_VERSION,
		.argv = argv_text,
		.time_ms = now_ms(),
		.targets = ts_count(targets),
		.bad_lines = bad,
		.blocked = blocked_early,
		.duplicates = ts_dups(raw),
		.unresolved = resolve_failed,
		.threads = (unsigned)threads,
		.shards = (unsigned)shards,
		.shard = (unsigned)shard,
		.seed = seed,
		.other_shards = other_shards,
	};
	if (record_scan(&jb, &meta) == 0)
		recw_write(out, jb.buf, jb.len);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ec.threads = (unsigned)threads;
	ec.concurrency = (unsigned)concurrency;
	ec.default_port = (uint16_t)port;
	ec.bl = bl;
	ec.out = out;
	ec.scan_id = scan_id;
	static struct engine_stats st;
	uint64_t t0 = now_ms();
	struct engine *e = engine_start(&ec, targets, &st, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "mxscan: %s\n", err);
		{
			rc = EXIT_USAGE;
			goto out;
		}
	}
	size_t total = ts_count(targets);
	unsigned long last_done = 0;
	double rate = 0, crate = 0;
	unsigned long last_started = 0;
	uint64_t last_t = t0;
	int drained = 0;
	while (engine_running(e)) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		uint64_t now = now_ms();
		recw_tick(out, mono_ms());
		if (interrupted && !drained) {
			engine_drain(e);
			drained = 1;
			if (!quiet)
				fprintf(stderr, "\nmxscan: interrupted; finishing %lu connections in flight\n",
					atomic_load(&st.active));
		}
		if (now - last_t >= 1000) {
			unsigned long d = atomic_load(&st.done) + atomic_load(&st.blocked);
			double inst = (double)(d - last_done) * 1000.0 / (double)(now - last_t);
			rate = rate > 0 ? 0.7 * rate + 0.3 * inst : inst;
			unsigned long sd = atomic_load(&st.connections);
			double cinst = (double)(sd - last_started) * 1000.0 / (double)(now - last_t);
			crate = crate > 0 ? 0.7 * crate + 0.3 * cinst : cinst;
			last_started = sd;
			last_done = d;
			last_t = now;
			if (progress)
				progress_line(&st, total, now - t0, rate, crate, 0);
		}
	}
	engine_join(e);
	/* Domain records last: their verdicts need every host's result. */
	if (dmap_used && domains_write(&dmap, targets, out, scan_id, (uint16_t)port) < 0)
		fprintf(stderr, "mxscan: writing domain records failed\n");
	uint64_t t1 = now_ms();
	if (progress && isatty(2))
		fputc('\n', stderr);
	if (!quiet) {
		double secs = (double)(t1 - t0) / 1000.0;
		progress_line(&st, total, t1 - t0, secs > 0 ? (double)atomic_load(&st.done) / secs : 0,
			      secs > 0 ? (double)atomic_load(&st.connections) / secs : 0, 1);
	}
	unsigned long counts[ST__COUNT];
	for (int i = 0; i < ST__COUNT; i++)
		counts[i] = atomic_load(&st.status[i]);
	meta.event = "end";
	meta.time_ms = t1;
	meta.done = atomic_load(&st.done);
	meta.blocked = blocked_early + atomic_load(&st.blocked);
	meta.status_counts = counts;
	meta.connections = atomic_load(&st.connections);
	meta.retries = atomic_load(&st.retries);
	meta.peak_active = atomic_load(&st.peak_active);
	jb_reset(&jb);
	if (record_scan(&jb, &meta) == 0)
		recw_write(out, jb.buf, jb.len);
	if (recw_close(out) < 0 || atomic_load(&st.write_errors) > 0) {
		fprintf(stderr, "mxscan: writing records to %s failed\n", output);
		rc = EXIT_OUTPUT;
	} else if (interrupted) {
		rc = EXIT_INTERRUPTED;
	} else if (bad) {
		rc = EXIT_BADLINES;
		if (!quiet)
			fprintf(stderr, "mxscan: %u invalid input line(s) skipped (see messages above)\n", bad);
	}
	out = NULL;
out:
	if (out)
		recw_close(out);
	jb_free(&jb);
	ts_free(raw);
	ts_free(targets);
	ts_free(named);
	ts_free(resolved);
	if (dmap_used)
		domains_free(&dmap);
	free(doms);
	free(dports);
	if (bl)
		bl_free(bl);
	verify_roots_free(roots);
	return rc;
}
