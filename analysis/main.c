/*
 * mxreport: reports over mxscan records (issue 8).
 *
 * One program, five subcommands, all streaming over the same reader (rin.c):
 * summary / json / html fold every record into aggregates (agg.c) and render
 * them; csv writes one row per record; diff keeps a compact summary per host
 * and per domain of two scans (diff.c). Records are read only through the
 * published schema (datasets/schema/record.schema.json).
 *
 * Exit status: 0 done; 1 usage; 2 done, but the input had malformed lines or
 * could not all be read (each reported on stderr with its file and line); 3
 * the output could not be written.
 */
#include "agg.h"
#include "csv.h"
#include "diff.h"
#include "enrich.h"
#include "rin.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MXREPORT_VERSION "0.1.0"
#define EXIT_USAGE       1
#define EXIT_INPUT       2
#define EXIT_OUTPUT      3
#define DEFAULT_TOP      20

static const char usage_text[] =
	"usage: mxreport COMMAND [OPTIONS] FILE...\n"
	"       mxreport --help | --version\n"
	"\n"
	"Reports over mxscan records (NDJSON, gzip or plain; '-' or no FILE reads standard input).\n"
	"Several FILEs are read as one scan (shards). Reading is streaming: memory does not grow\n"
	"with the number of records (diff keeps one small entry per host and per domain).\n"
	"\n"
	"Commands:\n"
	"  summary FILE...   text tables: hosts by status; STARTTLS offered/absent/stripped; TLS versions\n"
	"                    supported and the baseline version; suites; groups; least grade; warnings;\n"
	"                    certificate verify codes and MX name match; failures (stage: reason);\n"
	"                    tampering; --capture reset verdicts; connections spent; domains (MX status,\n"
	"                    verdicts). Every share says what it is a share of.\n"
	"      mxreport summary scan.ndjson.gz\n"
	"      mxreport summary shard-*.ndjson.gz --by provider --top 10\n"
	"  json FILE...      the same aggregates as one JSON object (tables.ID.counts, .denominator, .of)\n"
	"      mxreport json scan.ndjson.gz | jq '.tables.starttls'\n"
	"  html FILE...      one self-contained HTML page (inline CSS and SVG charts, no script, nothing\n"
	"                    loaded from elsewhere)\n"
	"      mxreport html scan.ndjson.gz -o report.html\n"
	"  csv FILE...       one row per record of a type, RFC 4180 quoting, header first; paths with\n"
	"                    dots, arrays joined with ';', objects as JSON\n"
	"      mxreport csv scan.ndjson.gz > hosts.csv\n"
	"      mxreport csv --type domain scan.ndjson.gz\n"
	"      mxreport csv --fields ip,port,status,smtp.starttls,tls.versions.TLSv1.3.supported scan.ndjson.gz\n"
	"  diff OLD NEW      per host (ip:port) and per domain: appeared, disappeared, and changes of\n"
	"                    status, STARTTLS, versions supported, least grade, verify code (domains: MX\n"
	"                    status and verdicts); then aggregate shares old -> new\n"
	"      mxreport diff monday.ndjson.gz tuesday.ndjson.gz\n"
	"      mxreport diff --json monday.ndjson.gz tuesday.ndjson.gz > changes.json\n"
	"      (a scan in shards: gzip members concatenate, so  cat shard-*.gz > all.gz  first)\n"
	"\n"
	"Options:\n"
	"  -o, --output FILE      write here instead of standard output\n"
	"  --by country|asn|provider   summary/json/html: one more table, a row per group. provider =\n"
	"                         the registered domain of the first MX name (last two labels, three\n"
	"                         under a known multi-label suffix such as co.uk); country and asn\n"
	"                         come from a record's geo object (mxscan --geoip/--asn-db, or below)\n"
	"  --geoip FILE, --asn-db FILE   summary/json/html/csv: give host records that have no geo\n"
	"                         object one from these MaxMind DBs (country; ASN and organisation),\n"
	"                         as mxscan --geoip/--asn-db would have at scan time\n"
	"      mxreport summary --by country --geoip GeoLite2-Country.mmdb old-scan.ndjson.gz\n"
	"  --top N                rows per table in summary/html (default 20; 0 = all). json has all\n"
	"  --type TYPE            csv: record type, host (default), domain, certificate or scan\n"
	"  --fields A,B,C         csv: field paths (default per type; see mxreport csv --help)\n"
	"  --json                 diff: one JSON object instead of text\n"
	"  -q, --quiet            no message per malformed line (still counted; exit status 2)\n"
	"  -h, --help             this help;  --version  the version\n"
	"\n"
	"Malformed lines (not JSON, not an object, longer than 16 MiB, nested deeper than 64) are\n"
	"skipped and reported on stderr as FILE:LINE with the reason; the rest is processed.\n"
	"\n"
	"Exit status: 0 done; 1 usage error; 2 done, but input lines were malformed or an input could\n"
	"not be read to its end; 3 the output could not be written.\n";

enum cmd { CMD_SUMMARY, CMD_JSON, CMD_HTML, CMD_CSV, CMD_DIFF, CMD_MAX };

static const char *const cmd_names[] = {
	[CMD_SUMMARY] = "summary", [CMD_JSON] = "json", [CMD_HTML] = "html", [CMD_CSV] = "csv", [CMD_DIFF] = "diff",
};
_Static_assert(sizeof(cmd_names) / sizeof(cmd_names[0]) == CMD_MAX, "cmd_names must name every cmd");

struct opts {
	enum cmd cmd;
	const char *output;
	enum agg_by by;
	size_t top;
	const char *type, *fields;
	int json, quiet;
	const char *geoip, *asn_db;
	struct enrich *en; /* when --geoip/--asn-db were given */
};

static int usage_error(const char *fmt, const char *arg)
{
	fputs("mxreport: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'mxreport --help'.\n", stderr);
	return EXIT_USAGE;
}

static void csv_help(void)
{
	printf("mxreport csv [--type TYPE] [--fields A,B,C] FILE...\n\nDefault fields:\n");
	for (int i = 0; i < 4; i++) {
		static const char *const types[] = { "host", "domain", "certificate", "scan" };

		printf("  %-12s %s\n", types[i], csv_default_fields(types[i]));
	}
	printf("\nA path crossing an array takes every element (domain: mx.name lists each MX name).\n"
	       "Member names with dots are matched whole: tls.versions.TLSv1.3.supported.\n");
}

struct agg_ctx {
	struct agg *a;
};

/* --geoip/--asn-db: attach geo to the record, run the real callback, detach. */
struct enrich_ctx {
	struct enrich *en;
	rin_cb cb;
	void *ctx;
};

static int enrich_cb(void *ctx, const struct jr_val *rec, const char *file, uint64_t line)
{
	struct enrich_ctx *ec = ctx;
	int rc;

	/* the record is the reader's scratch tree, rebuilt for every line */
	enrich_attach(ec->en, (struct jr_val *)rec);
	rc = ec->cb(ec->ctx, rec, file, line);
	enrich_detach(ec->en);
	return rc;
}

static int read_records(const struct opts *o, const char *const *files, int nfiles, rin_cb cb, void *ctx,
			struct rin_stats *st)
{
	struct enrich_ctx ec = { o->en, cb, ctx };

	if (!o->en)
		return rin_read(files, nfiles, cb, ctx, st);
	return rin_read(files, nfiles, enrich_cb, &ec, st);
}

static int agg_cb(void *ctx, const struct jr_val *rec, const char *file, uint64_t line)
{
	(void)file;
	(void)line;
	agg_add(((struct agg_ctx *)ctx)->a, rec);
	return 0;
}

/* summary, json, html. Returns an exit status. */
static int run_report(const struct opts *o, FILE *out, const char *const *files, int nfiles, struct rin_stats *st)
{
	struct agg a;
	struct agg_ctx ctx = { &a };
	struct report r;
	int rc = 0, wr;

	agg_init(&a, o->by);
	if (read_records(o, files, nfiles, agg_cb, &ctx, st) < 0 || agg_report(&a, st, files, nfiles, &r) < 0) {
		fprintf(stderr, "mxreport: out of memory\n");
		agg_free(&a);
		return EXIT_INPUT;
	}
	if (o->cmd == CMD_SUMMARY)
		wr = report_text(out, &r, o->top);
	else if (o->cmd == CMD_JSON)
		wr = report_json(out, &r);
	else
		wr = report_html(out, &r, o->top);
	if (wr < 0)
		rc = EXIT_OUTPUT;
	report_free(&r);
	agg_free(&a);
	return rc;
}

static int run_csv(const struct opts *o, FILE *out, const char *const *files, int nfiles, struct rin_stats *st)
{
	struct csv c;
	int rc = 0;

	if (csv_init(&c, out, o->type ? o->type : "host", o->fields) < 0) {
		csv_free(&c);
		return EXIT_USAGE;
	}
	if (read_records(o, files, nfiles, csv_record, &c, st) != 0) {
		fprintf(stderr, "mxreport: out of memory\n");
		rc = EXIT_INPUT;
	}
	csv_free(&c);
	return rc;
}

static int run_diff(const struct opts *o, FILE *out, char *const *files, int nfiles, struct rin_stats *st)
{
	struct diff d;
	int rc = 0;

	if (nfiles != 2)
		return usage_error("diff needs exactly two inputs, OLD and NEW (%s)",
				   nfiles < 2 ? "too few" : "too many");
	if (strcmp(files[0], "-") == 0 && strcmp(files[1], "-") == 0)
		return usage_error("%s", "diff: OLD and NEW cannot both be standard input");
	diff_init(&d);
	if (diff_read(&d, files[0], files[1]) < 0) {
		fprintf(stderr, "mxreport: out of memory\n");
		rc = EXIT_INPUT;
	} else if (diff_write(out, &d, o->json) < 0) {
		rc = EXIT_OUTPUT;
	}
	for (int s = 0; s < 2; s++) {
		st->files += d.side[s].in.files;
		st->malformed += d.side[s].in.malformed;
		st->io_errors += d.side[s].in.io_errors;
	}
	diff_free(&d);
	return rc;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_BY = 256, OPT_TOP, OPT_TYPE, OPT_FIELDS, OPT_JSON, OPT_VERSION, OPT_GEOIP, OPT_ASN_DB };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "by", required_argument, NULL, OPT_BY },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "fields", required_argument, NULL, OPT_FIELDS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "geoip", required_argument, NULL, OPT_GEOIP },
		{ "asn-db", required_argument, NULL, OPT_ASN_DB },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		char *end;
		unsigned long long n;

		switch (c) {
		case 'o': o->output = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h':
			if (o->cmd == CMD_CSV)
				csv_help();
			else
				fputs(usage_text, stdout);
			return -1;
		case OPT_VERSION: printf("mxreport %s\n", MXREPORT_VERSION); return -1;
		case OPT_BY:
			if (strcmp(optarg, "country") == 0)
				o->by = AGG_BY_COUNTRY;
			else if (strcmp(optarg, "asn") == 0)
				o->by = AGG_BY_ASN;
			else if (strcmp(optarg, "provider") == 0)
				o->by = AGG_BY_PROVIDER;
			else
				return usage_error("--by takes country, asn or provider, not '%s'", optarg);
			break;
		case OPT_TOP:
			errno = 0;
			n = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' || n > 1000000)
				return usage_error("--top takes a number of rows from 0 (all) to 1000000, not '%s'",
						   optarg);
			o->top = (size_t)n;
			break;
		case OPT_TYPE: o->type = optarg; break;
		case OPT_FIELDS: o->fields = optarg; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_GEOIP: o->geoip = optarg; break;
		case OPT_ASN_DB: o->asn_db = optarg; break;
		default: return usage_error("%s", "bad option");
		}
	}
	if (o->by != AGG_BY_NONE && o->cmd != CMD_SUMMARY && o->cmd != CMD_JSON && o->cmd != CMD_HTML)
		return usage_error("--by applies to summary, json and html, not %s", cmd_names[o->cmd]);
	if ((o->type || o->fields) && o->cmd != CMD_CSV)
		return usage_error("--type and --fields apply to csv, not %s", cmd_names[o->cmd]);
	if ((o->geoip || o->asn_db) && o->cmd == CMD_DIFF)
		return usage_error("%s", "--geoip/--asn-db apply to summary, json, html and csv, not diff");
	if (o->json && o->cmd != CMD_DIFF)
		return usage_error("--json applies to diff (for the summary as JSON: mxreport json), not %s",
				   cmd_names[o->cmd]);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .top = DEFAULT_TOP };
	struct rin_stats st = { 0 };
	FILE *out = stdout;
	int rc, nfiles, i;
	char **files;

	if (argc < 2)
		return usage_error("%s", "a command is needed: summary, json, html, csv or diff");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("mxreport %s\n", MXREPORT_VERSION);
		return 0;
	}
	for (i = 0; i < CMD_MAX && strcmp(argv[1], cmd_names[i]) != 0; i++)
		;
	if (i == CMD_MAX)
		return usage_error("unknown command '%s' (summary, json, html, csv or diff)", argv[1]);
	o.cmd = (enum cmd)i;
	/* GNU getopt_long permutes: options may come before or after the files */
	optind = 1;
	rc = parse_args(argc - 1, argv + 1, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	files = argv + 1 + optind;
	nfiles = argc - 1 - optind;
	st.quiet = o.quiet;
	/* databases before the output: a wrong file must not truncate a previous report */
	if (o.geoip || o.asn_db) {
		static struct enrich en;
		char err[512];

		if (enrich_init(&en, o.geoip, o.asn_db, err, sizeof(err)) < 0) {
			fprintf(stderr, "mxreport: %s\n", err);
			enrich_free(&en);
			return EXIT_USAGE;
		}
		o.en = &en;
	}
	if (o.output && strcmp(o.output, "-") != 0) {
		out = fopen(o.output, "w");
		if (!out) {
			fprintf(stderr, "mxreport: cannot write %s: %s\n", o.output, strerror(errno));
			if (o.en)
				enrich_free(o.en);
			return EXIT_OUTPUT;
		}
	}
	setvbuf(out, NULL, _IOFBF, 1 << 16);
	switch (o.cmd) {
	case CMD_CSV: rc = run_csv(&o, out, (const char *const *)files, nfiles, &st); break;
	case CMD_DIFF: rc = run_diff(&o, out, files, nfiles, &st); break;
	default: rc = run_report(&o, out, (const char *const *)files, nfiles, &st); break;
	}
	if (o.en)
		enrich_free(o.en);
	if (fflush(out) != 0 || ferror(out) || (out != stdout && fclose(out) != 0)) {
		fprintf(stderr, "mxreport: cannot write %s: %s\n", o.output ? o.output : "standard output",
			strerror(errno));
		rc = EXIT_OUTPUT;
	}
	if (rc == 0 && (st.malformed || st.io_errors)) {
		fprintf(stderr,
			"mxreport: %" PRIu64 " malformed line%s skipped, %" PRIu64 " input error%s (exit status 2)\n",
			st.malformed, st.malformed == 1 ? "" : "s", st.io_errors, st.io_errors == 1 ? "" : "s");
		rc = EXIT_INPUT;
	}
	return rc;
}
