/*
 * test_zdns: the zdns line parser (scanner/zdns.c). The zdns 1.x mxlookup shape, the 2.x shape
 * (results.MXLOOKUP, results.MX), the raw MX module (answers, other record types skipped), every
 * status, null MX and a "." among other MX, sorting and the MX_MAX_HOSTS / MX_MAX_ADDRS caps,
 * IPv4-mapped addresses, exchanges shared between lines (first line wins, case kept per
 * domain), exchanges given by input kept apart from looked-up ones, and invalid lines refused
 * with a message.
 */
#include "mxscan/target.h"
#include "mxscan/zdns.h"
#include "tap.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct jr_doc jd;
static struct mx_store *store;
static char err[256];

static int parse(const char *line, struct mx_domain *d)
{
	size_t n = strlen(line);
	char *buf = malloc(n + 1);
	int r;

	memcpy(buf, line, n);
	r = zdns_parse_line(&jd, buf, n, store, d, err, sizeof err);
	free(buf); /* nothing of the line may be kept: names live in the store */
	return r;
}

/* "name/pref/status/a1,a2" per MX, ";"-separated. */
static const char *desc(const struct mx_domain *d)
{
	static char out[4096];
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < d->nmx; i++) {
		const struct mx_host *h = d->mx[i].host;

		o += (size_t)snprintf(out + o, sizeof out - o, "%s%s/%u/%s/", i ? ";" : "", mx_ref_name(&d->mx[i]),
				      d->mx[i].pref, h ? mx_status_name(h->addr_status) : "-");
		for (uint32_t k = 0; h && k < h->naddr && o < sizeof out; k++) {
			char a[INET6_ADDRSTRLEN];

			inet_ntop(h->addr[k].v6 ? AF_INET6 : AF_INET, h->addr[k].a, a, sizeof a);
			o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", k ? "," : "", a);
		}
	}
	return out;
}

static void test_shapes(void)
{
	struct mx_domain d, e;

	is_int(parse("{\"name\":\"example.com\",\"class\":\"IN\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":["
		     "{\"name\":\"mx2.example.com\",\"type\":\"MX\",\"class\":\"IN\",\"preference\":20,"
		     "\"ipv4_addresses\":[\"192.0.2.2\"],\"ttl\":300},"
		     "{\"name\":\"mx1.example.com.\",\"type\":\"MX\",\"class\":\"IN\",\"preference\":10,"
		     "\"ipv4_addresses\":[\"192.0.2.1\",\"192.0.2.1\"],\"ipv6_addresses\":[\"2001:db8::1\"],\"ttl\":300}]}}",
		     &d),
	       0, "1.x mxlookup line parsed");
	is_str(d.domain, "example.com", "domain");
	is_int(d.source, MX_SRC_ZDNS, "source zdns (addresses given)");
	is_int(d.status, MXS_OK, "status ok");
	ok(d.nmx == 2 && d.mx_total == 2 && !d.implicit_mx && !d.ad, "two MX, nothing else set");
	is_str(desc(&d), "mx1.example.com/10/ok/192.0.2.1,2001:db8::1;mx2.example.com/20/ok/192.0.2.2",
	       "sorted by preference, trailing dot stripped, duplicate address dropped, IPv4 first");
	ok(d.mx[0].host->given == 1 && d.mx[0].host->naddr_total == 2, "exchange given by input, 2 distinct addresses");

	is_int(parse("{\"name\":\"v2.example.\",\"results\":{\"MXLOOKUP\":{\"data\":{\"exchanges\":[{\"class\":\"IN\","
		     "\"ipv4_addresses\":[\"198.51.100.7\"],\"name\":\"MX1.Example.COM\",\"preference\":5,\"ttl\":300,"
		     "\"type\":\"MX\"}]},\"duration\":0.1,\"status\":\"NOERROR\",\"timestamp\":\"2024-08-23T13:10:11-04:00\"}}}",
		     &e),
	       0, "2.x line (results.MXLOOKUP) parsed");
	is_str(e.domain, "v2.example", "2.x: domain's trailing dot stripped");
	is_str(desc(&e), "MX1.Example.COM/5/ok/192.0.2.1,2001:db8::1",
	       "2.x: the exchange is shared with the first line (its addresses win), this line's spelling kept");
	ok(e.mx[0].host == d.mx[0].host, "2.x: one exchange in the store for both lines");

	is_int(parse("{\"name\":\"raw.example\",\"results\":{\"MX\":{\"data\":{\"answers\":["
		     "{\"answer\":\"alias.example.\",\"class\":\"IN\",\"name\":\"raw.example\",\"ttl\":1,\"type\":\"CNAME\"},"
		     "{\"answer\":\"mx1.example.com.\",\"class\":\"IN\",\"name\":\"raw.example\",\"preference\":7,"
		     "\"ttl\":300,\"type\":\"MX\"}]},\"status\":\"NOERROR\"}}}",
		     &e),
	       0, "MX module line parsed");
	is_int(e.source, MX_SRC_ZDNS_MX, "MX module: addresses to be looked up");
	ok(e.nmx == 1 && !strcmp(mx_ref_name(&e.mx[0]), "mx1.example.com") && e.mx[0].pref == 7,
	   "MX module: the CNAME skipped, the MX kept");
	ok(e.mx[0].host != d.mx[0].host && e.mx[0].host->given == 0 && e.mx[0].host->naddr == 0,
	   "MX module: its exchange is not the given one of the same name (looked up separately)");
	is_int(mx_store_hosts(store), 3, "store: mx1 given, mx2 given, mx1 to look up");
}

static void test_statuses(void)
{
	static const struct {
		const char *status;
		int want;
	} cases[] = {
		{ "NXDOMAIN", MXS_NXDOMAIN },         { "SERVFAIL", MXS_SERVFAIL },
		{ "REFUSED", MXS_REFUSED },           { "TIMEOUT", MXS_TIMEOUT },
		{ "ITERATIVE_TIMEOUT", MXS_TIMEOUT }, { "NO_ANSWER", MXS_NODATA },
		{ "NO_RECORD", MXS_NODATA },          { "ERROR", MXS_ERROR },
		{ "ILLEGAL_INPUT", MXS_ERROR },
	};
	struct mx_domain d;
	char line[256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(line, sizeof line, "{\"name\":\"s%zu.example\",\"status\":\"%s\",\"data\":{\"exchanges\":[]}}",
			 i, cases[i].status);
		ok(parse(line, &d) == 0 && d.status == cases[i].want && d.nmx == 0 && d.source == MX_SRC_ZDNS,
		   "status %s -> %s", cases[i].status, mx_status_name(cases[i].want));
	}
	ok(parse("{\"name\":\"e.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[]}}", &d) == 0 &&
		   d.status == MXS_NODATA && d.nmx == 0 && !d.implicit_mx,
	   "NOERROR without exchanges: nodata, no implicit MX (nothing is asked)");
	ok(parse("{\"name\":\"n.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":\".\",\"preference\":0}]}}",
		 &d) == 0 &&
		   d.status == MXS_NULL_MX && d.nmx == 0 && d.mx_total == 0,
	   "single \"0 .\": null MX (RFC 7505)");
	ok(parse("{\"name\":\"n2.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":\"\",\"preference\":0},"
		 "{\"name\":\"mx9.example\",\"preference\":10,\"ipv4_addresses\":[\"192.0.2.9\"]}]}}",
		 &d) == 0 &&
		   d.status == MXS_OK && !strcmp(desc(&d), "/0/-/;mx9.example/10/ok/192.0.2.9"),
	   "a root exchange among others: kept as data, no host (%s)", desc(&d));
	ok(parse("{\"name\":\"noaddr.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":\"bare.example\","
		 "\"preference\":10}]}}",
		 &d) == 0 &&
		   !strcmp(desc(&d), "bare.example/10/nodata/"),
	   "an exchange without address in the line: nodata");
}

static void test_caps(void)
{
	struct mx_domain d;
	char line[8192];
	size_t o;

	o = (size_t)snprintf(line, sizeof line,
			     "{\"name\":\"many.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[");
	for (int i = 0; i < 20; i++)
		o += (size_t)snprintf(line + o, sizeof line - o, "%s{\"name\":\"w%02d.example\",\"preference\":%d}",
				      i ? "," : "", i, 100 - i / 2);
	snprintf(line + o, sizeof line - o, "]}}");
	is_int(parse(line, &d), 0, "20 exchanges parsed");
	ok(d.nmx == MX_MAX_HOSTS && d.mx_total == 20, "many: %d of %d kept", d.nmx, d.mx_total);
	ok(!strcmp(mx_ref_name(&d.mx[0]), "w18.example") && d.mx[0].pref == 91 &&
		   !strcmp(mx_ref_name(&d.mx[15]), "w05.example") && d.mx[15].pref == 98,
	   "many: lowest preferences kept, ties by name");

	o = (size_t)snprintf(line, sizeof line,
			     "{\"name\":\"multi.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":"
			     "\"multi.example\",\"preference\":1,\"ipv4_addresses\":[");
	for (int i = 20; i >= 1; i--)
		o += (size_t)snprintf(line + o, sizeof line - o, "%s\"192.0.2.%d\"", i < 20 ? "," : "", i);
	snprintf(line + o, sizeof line - o,
		 "],\"ipv6_addresses\":[\"2001:db8::3\",\"2001:db8::1\",\"::ffff:192.0.2.1\","
		 "\"2001:db8::2\"]}]}}");
	is_int(parse(line, &d), 0, "20 IPv4 + 4 IPv6 parsed");
	ok(d.mx[0].host->naddr == MX_MAX_ADDRS && d.mx[0].host->naddr_total == 23,
	   "multi: %u of %u kept (the IPv4-mapped one is 192.0.2.1 again)", d.mx[0].host->naddr,
	   d.mx[0].host->naddr_total);
	is_str(desc(&d),
	       "multi.example/1/ok/192.0.2.1,192.0.2.2,192.0.2.3,192.0.2.4,192.0.2.5,192.0.2.6,192.0.2.7,192.0.2.8,"
	       "192.0.2.9,192.0.2.10,192.0.2.11,192.0.2.12,192.0.2.13,2001:db8::1,2001:db8::2,2001:db8::3",
	       "multi: sorted, IPv6 keeps its slots next to 13 IPv4");
}

static void test_invalid(void)
{
	static const struct {
		const char *line, *msg;
	} bad[] = {
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\"", "invalid JSON" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"status\":\"NOERROR\"}", "no \"name\"" },
		{ "{\"name\":\"not a name\",\"status\":\"NOERROR\"}", "not a domain name" },
		{ "{\"name\":\"192.0.2.1\",\"status\":\"NOERROR\"}", "not a domain name" },
		{ "{\"name\":\"x.example:25\",\"status\":\"NOERROR\"}", "not a domain name" },
		{ "{\"name\":\"x.example\"}", "no \"status\"" },
		{ "{\"name\":\"x.example\",\"results\":{\"A\":{\"status\":\"NOERROR\"}}}", "no MXLOOKUP or MX" },
		{ "{\"name\":\"x.example\",\"results\":[]}", "\"results\" is not an object" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":[]}", "\"data\" is not an object" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":{}}}", "is not an array" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[1]}}", "not an object" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":\"m.example\"}]}}",
		  "preference 0..65535" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":\"m.example\","
		  "\"preference\":65536}]}}",
		  "preference 0..65535" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":\"m.example\","
		  "\"preference\":1.5}]}}",
		  "preference 0..65535" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":\"bad name\","
		  "\"preference\":1}]}}",
		  "is not a host name" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":\"m.example\","
		  "\"preference\":1,\"ipv4_addresses\":[\"::1\"]}]}}",
		  "not an IPv4 address" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":\"m.example\","
		  "\"preference\":1,\"ipv6_addresses\":[\"192.0.2.1\"]}]}}",
		  "not an IPv6 address" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":\"m.example\","
		  "\"preference\":1,\"ipv4_addresses\":[\"192.0.2.1\\u0000x\"]}]}}",
		  "not an IPv4 address" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[{\"name\":\"m.example\","
		  "\"preference\":1,\"ipv4_addresses\":\"192.0.2.1\"}]}}",
		  "is not an array" },
		{ "{\"name\":\"x.example\",\"status\":\"NOERROR\",\"data\":{\"answers\":[{\"type\":\"MX\",\"preference\":1}]}}",
		  "without \"answer\"" },
	};
	struct mx_domain d;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = parse(bad[i].line, &d);

		ok(r == -1 && strstr(err, bad[i].msg), "refused: %s (%s)", bad[i].msg, err);
	}
	{
		/* over ZDNS_MAX_LINE: refused before parsing */
		size_t n = ZDNS_MAX_LINE + 10;
		char *big = malloc(n + 1);

		memset(big, ' ', n);
		big[0] = '{';
		big[n - 1] = '}';
		ok(zdns_parse_line(&jd, big, n, store, &d, err, sizeof err) == -1 && strstr(err, "longer than"),
		   "an over-long line is refused (%s)", err);
		free(big);
	}
	/* a valid line after invalid ones still parses with the same document */
	ok(parse("{\"name\":\"after.example\",\"status\":\"NXDOMAIN\"}", &d) == 0 && d.status == MXS_NXDOMAIN,
	   "the reader is reusable after errors");
}

struct seen {
	unsigned lines[8];
	size_t lens[8];
	int n;
};

static int on_json(void *arg, char *line, size_t len, unsigned lineno, char *e, size_t elen)
{
	struct seen *sn = arg;
	struct mx_domain d;

	if (sn->n < 8) {
		sn->lines[sn->n] = lineno;
		sn->lens[sn->n++] = len;
	}
	return zdns_parse_line(&jd, line, len, store, &d, e, elen) < 0 ? -1 : 0;
}

/* The input reader hands '{' lines (longer than target lines may be) to the callback. */
static void test_reader(void)
{
	struct target_set *set = ts_new();
	struct seen sn;
	char *in = NULL, *eb = NULL;
	size_t inl = 0, el = 0;
	FILE *f = open_memstream(&in, &inl), *errs = open_memstream(&eb, &el);
	unsigned bad = 0;
	size_t biglen;

	memset(&sn, 0, sizeof sn);
	fprintf(f, "mx1.example.net\n  {\"name\":\"a.example\",\"status\":\"NXDOMAIN\"}\r\n");
	fprintf(f, "{\"name\":\"b.example\",\"status\":\"NOERROR\",\"data\":{\"exchanges\":[");
	for (int i = 0; i < 40; i++)
		fprintf(f, "%s{\"name\":\"mx%d.b.example\",\"preference\":%d,\"ipv4_addresses\":[\"192.0.2.%d\"]}",
			i ? "," : "", i, i, i + 1);
	fprintf(f, "]}}\n{\"name\":\"c.example\"\n");
	for (int i = 0; i < 1100; i++)
		fputc('x', f);
	fprintf(f, ".example\n{\"name\":\"d.example\",\"status\":\"TIMEOUT\"}");
	fclose(f);
	f = fmemopen(in, inl, "r");
	is_int(ts_read_file_json(set, f, "in", 0, &bad, errs, on_json, &sn), 0, "reader: end of input");
	fclose(f);
	fflush(errs);
	biglen = sn.lens[1];
	ok(sn.n == 4 && sn.lines[0] == 2 && sn.lines[1] == 3 && sn.lines[2] == 4 && sn.lines[3] == 6,
	   "reader: JSON lines 2, 3, 4, 6 handed over (leading blanks and no final newline too)");
	ok(biglen > TARGET_MAX_LINE && sn.lens[0] == strlen("{\"name\":\"a.example\",\"status\":\"NXDOMAIN\"}"),
	   "reader: a %zu-byte JSON line passes, CRLF and blanks trimmed", biglen);
	is_int(ts_count(set), 1, "reader: the target line kept");
	is_int(bad, 2, "reader: the bad JSON line and the over-long target line counted");
	ok(eb && strstr(eb, "in:4: zdns line: invalid JSON") && strstr(eb, "in:5: line longer than 1024 bytes"),
	   "reader: both reported with their line numbers");
	f = fmemopen(in, inl, "r");
	bad = 0;
	ts_read_file(set, f, "in", 0, &bad, NULL);
	fclose(f);
	is_int(bad, 5, "reader without a JSON callback: every JSON line is a bad line");
	ts_free(set);
	fclose(errs);
	free(eb);
	free(in);
}

int main(void)
{
	jr_init(&jd);
	store = mx_store_new();
	if (!ok(store != NULL, "store"))
		return done_testing();
	test_shapes();
	test_statuses();
	test_caps();
	test_invalid();
	test_reader();
	ok(mx_store_bytes(store) > 0 && mx_store_bytes(store) < 1024 * 1024, "store holds %zu bytes",
	   mx_store_bytes(store));
	mx_store_free(store);
	jr_free(&jd);
	return done_testing();
}
