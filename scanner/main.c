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
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mxscan/blocklist.h"
#include "mxscan/diagnose.h"

#include "mxscan/capture.h"
#include "mxscan/cliopt.h"
#include "mxscan/domains.h"
#include "mxscan/engine.h"
#include "mxscan/geo.h"
#include "mxscan/plan.h"
#include "mxscan/json.h"
#include "mxscan/record.h"
#include "mxscan/recq.h"
#include "mxscan/recw.h"
#include "mxscan/resolve.h"
#include "mxscan/resume.h"
#include "mxscan/selftest.h"
#include "mxscan/shard.h"
#include "mxscan/suites.h"
#include "mxscan/target.h"
#include "mxscan/verify.h"
#include "mxscan/zdns.h"

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
	"       mxscan diagnose DOMAIN | HOST[:PORT] [OPTIONS]   (see mxscan diagnose --help)\n"
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
	"  {\"name\":\"example.net\",...}                a zdns mxlookup/MX JSON line (file or stdin): MX set\n"
	"                                            (mxlookup: and addresses) taken from it, not asked\n"
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
	"      --transcript        keep the SMTP dialogue in the record (smtp.transcript: S:/C: lines)\n"
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
	"      --resume            continue an interrupted scan into -o FILE: read the records already\n"
	"                          there, scan only the targets (and domains) without one, append the\n"
	"                          rest; the same scan_id is kept\n"
	"      --scan-id ID        identifier written in every record (default: random)\n"
	"      --geoip FILE        MaxMind DB (.mmdb: GeoLite2/DB-IP country or city, ip-location-db):\n"
	"                          adds geo.country (ISO code) to host records\n"
	"      --asn-db FILE       MaxMind DB with ASNs (GeoLite2-ASN, DB-IP ASN): adds geo.asn and\n"
	"                          geo.as_org. Either file may hold both; each is asked for every field\n"
	"\n"
	"Network and timing:\n"
	"  -t, --threads N         worker threads, one event loop each (default: one per core)\n"
	"  -c, --concurrency N     connections in flight, all threads together (default 200)\n"
	"      --ehlo NAME         name sent in EHLO/HELO (default: this machine's host name)\n"
	"      --connect-timeout S TCP connect deadline (default 10)\n"
	"      --banner-timeout S  deadline for the greeting; slow banners are legal (default 30)\n"
	"      --timeout S         deadline for each SMTP reply (default 30)\n"
	"      --tls-timeout S     deadline for the server's TLS answer (default 15)\n"
	"      --host-timeout S    start no new connection to a host after S seconds; its record keeps\n"
	"                          what was learnt, with probes.host_timeout (default: no limit)\n"
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
	"Middleboxes (packet capture, off by default; needs root or CAP_NET_RAW):\n"
	"      --capture IFACE     capture the scan's packets on IFACE (libpcap) and tell a reset injected\n"
	"                          on the path from one the server sent (record field capture.verdict)\n"
	"      --pcap-out FILE     write the packets of flagged flows (injected reset suspected, or\n"
	"                          tampering in the dialogue) to FILE, for Wireshark\n"
	"      --user NAME         drop root for NAME once the capture (and every file) is open\n"
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

enum skip { SKIP_NO, SKIP_SHARD, SKIP_DONE };

/* Whether a target is left out of this run: another shard's (by its key, never by input
 * order), or, for a mail domain, already recorded (--resume). The loop that counts the
 * mail domains and the loop that reads them must agree: both ask this. */
static enum skip skip_target(const struct target *t, int is_domain, unsigned long shards, unsigned long shard,
			     unsigned long long seed, const struct resume *rs)
{
	if (shards > 1 && shard_of(t, (unsigned)shards, seed) != shard)
		return SKIP_SHARD;
	if (is_domain && rs && resume_domain_done(rs, t->host))
		return SKIP_DONE;
	return SKIP_NO;
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

/*
 * Problems with -o found before any work and before the file is touched: --append/--resume
 * need a file; the input must not be the output; the file (or, when it does not exist yet,
 * its directory) must accept writing. An existing file is opened without O_TRUNC and closed,
 * a missing one created and removed again, so nothing is lost whatever fails later.
 */
static int check_output(const char *output, const char *input, int append, int resume)
{
	struct stat so, si;
	int fd;

	if (!strcmp(output, "-")) {
		if (append || resume) {
			fprintf(stderr, "mxscan: %s needs -o FILE (standard output cannot be %s)\n",
				resume ? "--resume" : "--append", resume ? "read back" : "appended to");
			return EXIT_USAGE;
		}
		return EXIT_OK;
	}
	if (!*output) {
		fprintf(stderr, "mxscan: -o needs a file name\n");
		return EXIT_USAGE;
	}
	if (stat(output, &so) == 0) {
		if (S_ISDIR(so.st_mode)) {
			fprintf(stderr, "mxscan: output %s is a directory; give a file name\n", output);
			return EXIT_USAGE;
		}
		if (input && strcmp(input, "-") && stat(input, &si) == 0 && si.st_dev == so.st_dev &&
		    si.st_ino == so.st_ino) {
			fprintf(stderr,
				"mxscan: input and output are the same file (%s); records would overwrite "
				"the targets\n",
				output);
			return EXIT_USAGE;
		}
		fd = open(output, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			fprintf(stderr, "mxscan: cannot write output %s: %s\n", output, strerror(errno));
			return EXIT_OUTPUT;
		}
		close(fd);
		return EXIT_OK;
	}
	if (errno != ENOENT) {
		fprintf(stderr, "mxscan: cannot write output %s: %s\n", output, strerror(errno));
		return EXIT_OUTPUT;
	}
	fd = open(output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "mxscan: cannot create output %s: %s\n", output, strerror(errno));
		return EXIT_OUTPUT;
	}
	close(fd);
	unlink(output);
	return EXIT_OK;
}

static size_t resume_skipped_targets(const uint8_t *skip, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; skip && i < n; i++)
		k += skip[i] != 0;
	return k;
}

/* A name that gave no address is a result too: it gets a host record. */
struct resolve_ctx {
	char *lines; /* records, one per line, written once the output is open */
	size_t len, cap;
	int oom;
	const char *scan_id;
	unsigned long failed;
};

/* zdns lines of the input: domains whose MX set comes from the line (zdns.h). */
struct zdns_in {
	struct mx_store *store;
	struct mx_domain *doms;
	size_t n, cap;
	struct jr_doc jd;
};

static int on_zdns_line(void *arg, char *line, size_t len, unsigned lineno, char *err, size_t errlen)
{
	struct zdns_in *z = arg;
	if (z->n == z->cap) {
		size_t ncap = z->cap ? z->cap * 2 : 256;
		struct mx_domain *nd = realloc(z->doms, ncap * sizeof(*nd));
		if (!nd) {
			snprintf(err, errlen, "out of memory");
			return -2;
		}
		z->doms = nd;
		z->cap = ncap;
	}
	if (zdns_parse_line(&z->jd, line, len, z->store, &z->doms[z->n], err, errlen) < 0)
		return strcmp(err, "out of memory") ? -1 : -2;
	z->doms[z->n].line = lineno;
	z->n++;
	return 0;
}

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
	if (jb_ok(&jb)) {
		if (rc->len + jb.len + 1 > rc->cap) {
			size_t ncap = (rc->len + jb.len + 1) * 2;
			char *nl = realloc(rc->lines, ncap);
			if (!nl) {
				rc->oom = 1;
				goto out;
			}
			rc->lines = nl;
			rc->cap = ncap;
		}
		memcpy(rc->lines + rc->len, jb.buf, jb.len);
		rc->len += jb.len;
		rc->lines[rc->len++] = '\n';
	}
out:
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
	OPT_GEOIP,
	OPT_ASN_DB,
	OPT_RESUME,
	OPT_SHARDS,
	OPT_SHARD,
	OPT_SEED,
	OPT_OPTOUT,
	OPT_PER_IP,
	OPT_PER_IP_RATE,
	OPT_RATE,
	OPT_RETRIES,
	OPT_BACKOFF,
	OPT_TRANSCRIPT,
	OPT_CAPTURE,
	OPT_PCAP_OUT,
	OPT_USER,
	OPT_HOST_TIMEOUT,
};

static const struct option long_opts[] = {
	{ "input", required_argument, 0, 'i' },
	{ "strict", no_argument, 0, OPT_STRICT },
	{ "port", required_argument, 0, 'p' },
	{ "mode", required_argument, 0, OPT_MODE },
	{ "enum", required_argument, 0, OPT_ENUM },
	{ "trace-probes", no_argument, 0, OPT_TRACE_PROBES },
	{ "transcript", no_argument, 0, OPT_TRANSCRIPT },
	{ "no-handshake", no_argument, 0, OPT_NO_HANDSHAKE },
	{ "ca-file", required_argument, 0, OPT_CA_FILE },
	{ "names", required_argument, 0, OPT_NAMES },
	{ "shards", required_argument, 0, OPT_SHARDS },
	{ "shard", required_argument, 0, OPT_SHARD },
	{ "seed", required_argument, 0, OPT_SEED },
	{ "capture", required_argument, 0, OPT_CAPTURE },
	{ "pcap-out", required_argument, 0, OPT_PCAP_OUT },
	{ "user", required_argument, 0, OPT_USER },
	{ "output", required_argument, 0, 'o' },
	{ "flush-records", required_argument, 0, OPT_FLUSH_RECORDS },
	{ "flush-secs", required_argument, 0, OPT_FLUSH_SECS },
	{ "append", no_argument, 0, OPT_APPEND },
	{ "resume", no_argument, 0, OPT_RESUME },
	{ "scan-id", required_argument, 0, OPT_SCAN_ID },
	{ "geoip", required_argument, 0, OPT_GEOIP },
	{ "asn-db", required_argument, 0, OPT_ASN_DB },
	{ "threads", required_argument, 0, 't' },
	{ "concurrency", required_argument, 0, 'c' },
	{ "ehlo", required_argument, 0, OPT_EHLO },
	{ "connect-timeout", required_argument, 0, OPT_CONNECT_TIMEOUT },
	{ "banner-timeout", required_argument, 0, OPT_BANNER_TIMEOUT },
	{ "timeout", required_argument, 0, OPT_TIMEOUT },
	{ "tls-timeout", required_argument, 0, OPT_TLS_TIMEOUT },
	{ "host-timeout", required_argument, 0, OPT_HOST_TIMEOUT },
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
	const char *cap_iface = NULL, *pcap_out = NULL, *run_user = NULL;
	struct capture *cap = NULL;
	struct verify_roots *roots = NULL;
	const char *geoip = NULL, *asn_db = NULL;
	struct geo *geo = NULL;
	const char *allow[MAX_LIST], *resolvers[MAX_LIST + 1], *optout[MAX_LIST];
	unsigned nallow = 0, nresolvers = 0, noptout = 0;
	int strict = 0, append = 0, resume = 0, quiet = 0, progress = -1, rc = EXIT_OK;
	unsigned long port = 25, threads = 0, concurrency = 200, flush_records = 1000;
	unsigned flush_ms = 5000;
	unsigned long shards = 1, shard = 0;
	unsigned long long seed = 0;
	int shard_given = 0;
	char ehlo[256], err[512], scan_id[64];
	struct engine_config ec;
	struct blocklist *bl = NULL;
	struct target_set *raw = NULL, *targets = NULL, *named = NULL, *resolved = NULL;
	struct recw *out = NULL;
	struct mx_domain *doms = NULL;
	struct mx_store *store = NULL;
	struct zdns_in zin;
	memset(&zin, 0, sizeof(zin));
	jr_init(&zin.jd);
	uint16_t *dports = NULL;
	struct domain_map dmap;
	int dmap_used = 0, names_are_domains = 1;
	memset(&dmap, 0, sizeof(dmap));
	if (argc > 1 && !strcmp(argv[1], "diagnose"))
		return diagnose_main(argc - 1, argv + 1);
	struct resume *rs = NULL;
	uint8_t *skip = NULL;
	uint64_t meta_resume_records = 0, resume_skipped = 0, resume_domains = 0;
	struct resolve_ctx rc_;
	memset(&rc_, 0, sizeof(rc_));
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
	cli_default_ehlo(ehlo, sizeof(ehlo));

	int opt;
	opterr = 0; /* one message of our own instead of getopt's two lines */
	while ((opt = getopt_long(argc, argv, ":i:p:o:t:c:qhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'i': input = optarg; break;
		case OPT_STRICT: strict = 1; break;
		case 'p':
			if (cli_uint("mxscan", optarg, 1, 65535, &port, "--port") < 0)
				return EXIT_USAGE;
			break;
		case OPT_MODE:
			if (cli_mode("mxscan", optarg, &ec.mode) < 0)
				return EXIT_USAGE;
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
		case OPT_TRANSCRIPT: ec.transcript = 1; break;
		case OPT_NO_HANDSHAKE: ec.handshake = 0; break;
		case OPT_CA_FILE: ca_file = optarg; break;
		case OPT_CAPTURE: cap_iface = optarg; break;
		case OPT_PCAP_OUT: pcap_out = optarg; break;
		case OPT_USER: run_user = optarg; break;
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
			if (cli_uint("mxscan", optarg, 1, 65536, &shards, "--shards") < 0)
				return EXIT_USAGE;
			break;
		case OPT_SHARD:
			if (cli_uint("mxscan", optarg, 0, 65535, &shard, "--shard") < 0)
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
			if (cli_uint("mxscan", optarg, 1, 10000000, &flush_records, "--flush-records") < 0)
				return EXIT_USAGE;
			break;
		case OPT_FLUSH_SECS:
			if (cli_secs("mxscan", optarg, &flush_ms, "--flush-secs") < 0)
				return EXIT_USAGE;
			break;
		case OPT_APPEND: append = 1; break;
		case OPT_RESUME: resume = 1; break;
		case OPT_SCAN_ID: scan_id_opt = optarg; break;
		case OPT_GEOIP: geoip = optarg; break;
		case OPT_ASN_DB: asn_db = optarg; break;
		case 't':
			if (cli_uint("mxscan", optarg, 1, 256, &threads, "--threads") < 0)
				return EXIT_USAGE;
			break;
		case 'c':
			if (cli_uint("mxscan", optarg, 1, 100000, &concurrency, "--concurrency") < 0)
				return EXIT_USAGE;
			break;
		case OPT_EHLO:
			if (cli_ehlo("mxscan", optarg, ehlo, sizeof(ehlo)) < 0)
				return EXIT_USAGE;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (cli_secs("mxscan", optarg, &ec.conn.connect_ms, "--connect-timeout") < 0)
				return EXIT_USAGE;
			break;
		case OPT_BANNER_TIMEOUT:
			if (cli_secs("mxscan", optarg, &ec.conn.banner_ms, "--banner-timeout") < 0)
				return EXIT_USAGE;
			break;
		case OPT_TIMEOUT:
			if (cli_secs("mxscan", optarg, &ec.conn.command_ms, "--timeout") < 0)
				return EXIT_USAGE;
			break;
		case OPT_TLS_TIMEOUT:
			if (cli_secs("mxscan", optarg, &ec.conn.tls_ms, "--tls-timeout") < 0)
				return EXIT_USAGE;
			break;
		case OPT_HOST_TIMEOUT:
			if (cli_secs("mxscan", optarg, &ec.host_ms, "--host-timeout") < 0)
				return EXIT_USAGE;
			break;
		case OPT_RESOLVER:
			/* checked now rather than after the input is read */
			if (cli_resolver("mxscan", optarg) < 0 ||
			    cli_list_add("mxscan", resolvers, &nresolvers, 16, optarg, "--resolver options") < 0)
				return EXIT_USAGE;
			break;
		case OPT_BLOCKLIST: blocklist = optarg; break;
		case OPT_ALLOWLIST:
			if (cli_list_add("mxscan", allow, &nallow, MAX_LIST, optarg,
					 "--allowlist options (use a file)") < 0)
				return EXIT_USAGE;
			break;
		case OPT_OPTOUT:
			if (cli_list_add("mxscan", optout, &noptout, MAX_LIST, optarg, "--optout files") < 0)
				return EXIT_USAGE;
			break;
		case OPT_PER_IP: {
			unsigned long v;
			if (cli_uint("mxscan", optarg, 0, 100000, &v, "--per-ip") < 0)
				return EXIT_USAGE;
			ec.per_ip = (unsigned)v;
			break;
		}
		case OPT_RETRIES: {
			unsigned long v;
			if (cli_uint("mxscan", optarg, 0, 20, &v, "--retries") < 0)
				return EXIT_USAGE;
			ec.retries = (unsigned)v;
			break;
		}
		case OPT_BACKOFF:
			if (cli_secs("mxscan", optarg, &ec.backoff_ms, "--backoff") < 0)
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
		case ':':
			fprintf(stderr, "mxscan: option '%s' needs a value ('mxscan --help' shows the options)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			if (strncmp(argv[optind - 1], "--", 2) == 0)
				fprintf(stderr,
					"mxscan: unknown option '%s', or one that takes no value ('mxscan --help' shows "
					"the options)\n",
					argv[optind - 1]);
			else
				fprintf(stderr, "mxscan: unknown option '-%c' ('mxscan --help' shows the options)\n",
					optopt);
			return EXIT_USAGE;
		}
	}
	if (pcap_out && !cap_iface) {
		fprintf(stderr, "mxscan: --pcap-out needs --capture IFACE\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (progress < 0)
		progress = !quiet && isatty(2);
	if (shard >= shards || (shards > 1 && !shard_given)) {
		fprintf(stderr,
			"mxscan: --shards %lu needs --shard between 0 and %lu (the same --seed on every shard)\n",
			shards, shards - 1);
		return EXIT_USAGE;
	}
	if ((rc = check_output(output, input, append, resume)) != EXIT_OK)
		return rc;
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

	/* Geo databases: opened (and checked to be MaxMind DBs) before any
	 * output is opened, so a wrong file never truncates a previous scan. */
	if (geoip || asn_db) {
		geo = geo_open(geoip, asn_db, err, sizeof(err));
		if (!geo) {
			fprintf(stderr, "mxscan: %s\n", err);
			rc = EXIT_USAGE;
			goto out;
		}
		ec.geo = geo;
	}

	/* Blocklist: the default, or the user's file instead; allow-list entries. */
	bl = bl_build(blocklist, allow, nallow, optout, noptout, err, sizeof(err));
	if (!bl) {
		fprintf(stderr, "mxscan: %s\n", err);
		rc = EXIT_USAGE;
		goto out;
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
			struct stat ist;
			if (stat(input, &ist) == 0 && S_ISDIR(ist.st_mode)) {
				fprintf(stderr, "mxscan: input %s is a directory; give a file of targets\n", input);
				rc = EXIT_USAGE;
				goto out;
			}
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
		zin.store = store = mx_store_new();
		if (!store) {
			fprintf(stderr, "mxscan: out of memory\n");
			rc = EXIT_USAGE;
			goto out;
		}
		int r = ts_read_file_json(raw, f, name, strict, &b, stderr, on_zdns_line, &zin);
		bad += b;
		int ferr = ferror(f);
		if (f != stdin)
			fclose(f);
		if (r < 0 && strict && !ferr) {
			rc = EXIT_STRICT;
			goto out;
		}
		if (r < 0) {
			/* A read error or memory (ts_read_file said which): a partial target
			 * list is not scanned. */
			rc = EXIT_USAGE;
			goto out;
		}
	}

	/* --resume: what the interrupted run already wrote. */
	if (resume) {
		rs = resume_load(output, err, sizeof(err));
		if (!rs) {
			fprintf(stderr, "mxscan: --resume: %s\n", err);
			rc = EXIT_USAGE;
			goto out;
		}
		uint64_t nrec, nhost, ndom;
		resume_counts(rs, &nrec, &nhost, &ndom);
		meta_resume_records = nrec;
		if (!quiet)
			fprintf(stderr, "mxscan: resuming %s: %llu records, %llu hosts and %llu domains already done\n",
				output, (unsigned long long)nrec, (unsigned long long)nhost, (unsigned long long)ndom);
	}
	if (scan_id_opt)
		snprintf(scan_id, sizeof(scan_id), "%s", scan_id_opt);
	else if (rs && resume_scan_id(rs)[0])
		snprintf(scan_id, sizeof(scan_id), "%s", resume_scan_id(rs));
	else
		make_scan_id(scan_id, sizeof(scan_id));

	/* First blocklist pass, before any DNS query; host names are checked
	 * once resolved, and every address again right before connect. */
	unsigned long blocked_early = 0, resolve_failed = 0, other_shards = 0;
	size_t raw_dups = ts_dups(raw), nn = 0;
	named = ts_new();
	for (size_t i = 0; i < ts_count(raw); i++) {
		const struct target *t = ts_get(raw, i);
		const char *why;
		enum skip skip = skip_target(t, !t->has_addr && names_are_domains, shards, shard, seed, rs);
		if (skip == SKIP_SHARD) {
			other_shards++;
		} else if (skip == SKIP_DONE) {
			resume_domains++;
		} else if (!t->has_addr && rs && !names_are_domains && resume_name_done(rs, t->host, t->port)) {
			resume_skipped++;
		} else if (!t->has_addr && names_are_domains) {
			nn++; /* mail domain: read from raw below, without a second copy */
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
	if ((rs || shards > 1) && zin.n > 0) {
		/* zdns lines: other shards' domains (keyed like a domain line) and domains already
		 * recorded are not scanned here either. */
		size_t w = 0;
		for (size_t i = 0; i < zin.n; i++) {
			struct target zt;
			memset(&zt, 0, sizeof(zt));
			snprintf(zt.host, sizeof(zt.host), "%s", zin.doms[i].domain);
			zt.port = (uint16_t)port;
			enum skip skip = skip_target(&zt, 1, shards, shard, seed, rs);
			if (skip == SKIP_SHARD)
				other_shards++;
			else if (skip == SKIP_DONE)
				resume_domains++;
			else
				zin.doms[w++] = zin.doms[i];
		}
		zin.n = w;
	}
	if (nn > 0 || zin.n > 0) {
		/* Mail domains: MX (sorted by preference) → A/AAAA, every answer kept as
		 * data; each (IP, port) scanned once however many domains share it.
		 * Domains from zdns lines come with their MX set (and, from mxlookup,
		 * their addresses) and are asked nothing that the line answers. */
		size_t nd = nn + zin.n, nask = nn, k = 0;
		doms = calloc(nd ? nd : 1, sizeof(*doms));
		dports = calloc(nd ? nd : 1, sizeof(*dports));
		if (!store)
			store = mx_store_new();
		if (!doms || !dports || !store) {
			fprintf(stderr, "mxscan: out of memory for %zu domains\n", nd);
			rc = EXIT_USAGE;
			goto out;
		}
		for (size_t i = 0; i < ts_count(raw) && k < nn; i++) {
			const struct target *t = ts_get(raw, i);
			if (t->has_addr || skip_target(t, 1, shards, shard, seed, rs) != SKIP_NO)
				continue;
			doms[k].domain = mx_store_str(store, t->host, strlen(t->host));
			if (!doms[k].domain) {
				fprintf(stderr, "mxscan: out of memory for %zu domains\n", nd);
				rc = EXIT_USAGE;
				goto out;
			}
			doms[k].rank = t->rank;
			doms[k].line = t->line;
			dports[k++] = t->port;
		}
		/* The input set (about 720 bytes a target) is not needed any more: the
		 * domains live in the store from here on. */
		ts_free(raw);
		raw = NULL;
		for (size_t i = 0; i < zin.n; i++) {
			doms[nn + i] = zin.doms[i];
			nask += zin.doms[i].source == MX_SRC_ZDNS_MX;
		}
		struct mx_stats mst;
		memset(&mst, 0, sizeof(mst));
		resolvers[nresolvers] = NULL;
		if (zin.n > 0 && !quiet)
			fprintf(stderr, "mxscan: %zu domains from zdns lines (%zu need address lookups)\n", zin.n,
				nask - nn);
		if (nask > 0) {
			if (!quiet)
				fprintf(stderr, "mxscan: resolving MX of %zu domains\n", nn);
			if (mx_resolve(store, doms, nd, nresolvers ? resolvers : NULL, 0, 0, 0, AF_UNSPEC, &mst,
				       stderr) < 0) {
				fprintf(stderr, "mxscan: MX resolution could not start (check --resolver)\n");
				rc = EXIT_USAGE;
				goto out;
			}
			if (!quiet)
				fprintf(stderr, "mxscan: %zu domains resolved in %.2f s (%zu queries, %zu lost)\n", nd,
					mst.seconds, mst.queries, mst.lost);
		}
		dmap_used = 1;
		if (domains_build(&dmap, doms, dports, nd, targets, bl, &blocked_early, quiet ? NULL : stderr) < 0) {
			fprintf(stderr, "mxscan: out of memory building the scan plan\n");
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (ts_count(named) > 0) {
		resolved = ts_new();
		struct resolve_stats rst;
		memset(&rst, 0, sizeof(rst));
		resolvers[nresolvers] = NULL;
		rc_.scan_id = scan_id;
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
		if (rc_.oom) {
			fprintf(stderr, "mxscan: out of memory keeping the records of unresolved names\n");
			rc = EXIT_USAGE;
			goto out;
		}
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
	if (rs) {
		/* Targets whose host record is there already: not scanned again; for domain
		 * verdicts their summary comes from that record. */
		skip = calloc(ts_count(targets) ? ts_count(targets) : 1, 1);
		if (!skip) {
			fprintf(stderr, "mxscan: out of memory\n");
			rc = EXIT_USAGE;
			goto out;
		}
		for (size_t i = 0; i < ts_count(targets); i++) {
			const struct target *t = ts_get(targets, i);
			const struct sockaddr *sa = (const struct sockaddr *)&t->addr;
			uint16_t p = t->port ? t->port : (uint16_t)port;
			struct host_summary hs;
			if (!t->has_addr || !resume_host_done(rs, sa, p, &hs))
				continue;
			skip[i] = 1;
			resume_skipped++;
			if (dmap_used) {
				const struct host_meta *m = &dmap.meta[i];
				for (unsigned k = 0; k < m->domains.n && k < 16; k++)
					if (resume_host_domain_match(rs, sa, p, m->domains.v[k]))
						hs.domain_match |= (uint16_t)(1u << k);
				dmap.sum[i] = hs;
			}
		}
		ec.skip = skip;
		ec.seen_certs = resume_certs(rs, &ec.nseen_certs);
	}

	/* Output: opened only now, once every check passed, so a bad invocation never
	 * truncates an existing file. */
	struct recw_opts ro;
	memset(&ro, 0, sizeof(ro));
	ro.flush_records = (unsigned)flush_records;
	ro.flush_ms = flush_ms;
	ro.append = append || resume;
	out = recw_open(output, &ro, err, sizeof(err));
	if (!out) {
		fprintf(stderr, "mxscan: %s\n", err);
		rc = EXIT_OUTPUT;
		goto out;
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

	/* Capture: opened once the ports are known (they make the BPF filter),
	 * before root is dropped; the thread starts right before the scan. */
	if (cap_iface) {
		uint16_t ports[64];
		size_t nports = 0;
		for (size_t i = 0; i < ts_count(targets); i++) {
			const struct target *t = ts_get(targets, i);
			uint16_t p = t->port ? t->port : (uint16_t)port;
			size_t k = 0;
			while (k < nports && ports[k] != p)
				k++;
			if (k == nports && nports < sizeof(ports) / sizeof(ports[0]))
				ports[nports++] = p;
			else if (k == nports) {
				fprintf(stderr,
					"mxscan: --capture: more than %zu distinct ports; split the input by port\n",
					sizeof(ports) / sizeof(ports[0]));
				rc = EXIT_USAGE;
				goto out;
			}
		}
		if (nports == 0)
			ports[nports++] = (uint16_t)port;
		struct capture_opts co = {
			.iface = cap_iface,
			.ports = ports,
			.nports = nports,
			.pcap_out = pcap_out,
			.max_flows = (unsigned)(concurrency + threads),
		};
		int perm = 0;
		cap = capture_open(&co, &perm, err, sizeof(err));
		if (!cap) {
			fprintf(stderr, "mxscan: %s\n", err);
			rc = EXIT_USAGE;
			goto out;
		}
		ec.cap = cap;
		ec.cap_grace_ms = CAPTURE_GRACE_MS;
	}
	if (run_user) {
		if (capture_drop_privileges(run_user, err, sizeof(err)) < 0) {
			fprintf(stderr, "mxscan: %s\n", err);
			rc = EXIT_USAGE;
			goto out;
		}
		if (!quiet)
			fprintf(stderr, "mxscan: running as %s (uid %u) from now on\n", run_user, (unsigned)getuid());
	}
	if (cap && capture_start(cap, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxscan: %s\n", err);
		rc = EXIT_USAGE;
		goto out;
	}

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
		.duplicates = raw_dups,
		.unresolved = resolve_failed,
		.threads = (unsigned)threads,
		.resumed = rs != NULL,
		.resume_records = meta_resume_records,
		.resume_skipped = resume_skipped,
		.resume_domains = resume_domains,
		.shards = (unsigned)shards,
		.shard = (unsigned)shard,
		.seed = seed,
		.other_shards = other_shards,
		.capture_iface = cap_iface,
	};
	if (record_scan(&jb, &meta) == 0)
		recw_write(out, jb.buf, jb.len);
	/* Host records of names that gave no address (found before the output was open). */
	for (size_t pos = 0; pos < rc_.len;) {
		char *nl = memchr(rc_.lines + pos, '\n', rc_.len - pos);
		recw_write(out, rc_.lines + pos, (size_t)(nl - (rc_.lines + pos)));
		pos = (size_t)(nl - rc_.lines) + 1;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ec.threads = (unsigned)threads;
	ec.concurrency = (unsigned)concurrency;
	ec.default_port = (uint16_t)port;
	ec.bl = bl;
	ec.scan_id = scan_id;
	/* Workers hand records to one writer thread (one queue each, no lock); the
	 * records above were written directly, before it starts, so the scan start
	 * record stays first. */
	struct recq *rq = recq_start(out, (unsigned)threads, NULL, err, sizeof(err));
	if (!rq) {
		fprintf(stderr, "mxscan: %s\n", err);
		rc = EXIT_OUTPUT;
		goto out;
	}
	ec.out = rq;
	static struct engine_stats st;
	uint64_t t0 = now_ms();
	struct engine *e = engine_start(&ec, targets, &st, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "mxscan: %s\n", err);
		recq_stop(rq, NULL);
		rc = EXIT_USAGE;
		goto out;
	}
	size_t total = ts_count(targets) - resume_skipped_targets(skip, ts_count(targets));
	unsigned long last_done = 0;
	double rate = 0, crate = 0;
	unsigned long last_started = 0;
	uint64_t last_t = t0;
	int drained = 0;
	while (engine_running(e)) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		uint64_t now = now_ms();
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
	/* Everything the workers handed over is written before what follows (domain
	 * records, the scan end record), which this thread writes directly. */
	struct recq_stats qst;
	int queue_failed = recq_stop(rq, &qst) < 0;
	struct capture_stats cst;
	if (cap) {
		capture_stop(cap);
		capture_get_stats(cap, &cst);
		meta.capture_iface = cap_iface;
		meta.capture = &cst;
		if (!quiet && cst.kernel_drops)
			fprintf(stderr, "mxscan: --capture: the kernel dropped %llu packets; verdicts may miss some\n",
				(unsigned long long)cst.kernel_drops);
	}
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
	if (recw_close(out) < 0 || queue_failed || atomic_load(&st.write_errors) > 0) {
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
	free(zin.doms);
	jr_free(&zin.jd);
	mx_store_free(store);
	free(dports);
	if (bl)
		bl_free(bl);
	verify_roots_free(roots);
	geo_free(geo);
	resume_free(rs);
	free(skip);
	free(rc_.lines);
	capture_free(cap);
	return rc;
}
