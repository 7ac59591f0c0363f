/*
 * test_resolve: resolve_targets against DNS servers on loopback.
 *
 * Part 1 always runs: a tiny fake DNS responder on 127.0.0.1 (a thread in this process)
 * answers by the first label of the query name (nx*, servfail*, refused*, drop*, ...), so
 * every failure kind, partial results, one-lookup-per-name and ordering are checked without
 * any DNS package.
 * Part 2 runs when MXSCAN_TEST_DNS=IP:port names a real authoritative server serving the zone
 * printed by `test_resolve --zone` (tests/integration/resolve.t starts knot for it): real
 * A/AAAA/CNAME answers, NXDOMAIN, NODATA and 500 names resolved with none lost.
 */
#include "mxscan/resolve.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define N_NAMES 500

/* ---------------------------------------------------------------- fake DNS responder */

struct fake {
	int fd;
	uint16_t port;
	atomic_int stop;
	atomic_int count_queries; /* queries for names starting with "count" */
	atomic_int total;
	pthread_t th;
};

static size_t put_rr(unsigned char *p, int type, const void *rdata, int rdlen)
{
	p[0] = 0xc0; /* pointer to the question name at offset 12 */
	p[1] = 12;
	p[2] = 0;
	p[3] = (unsigned char)type;
	p[4] = 0;
	p[5] = 1; /* IN */
	p[6] = p[7] = p[8] = 0;
	p[9] = 60; /* TTL */
	p[10] = 0;
	p[11] = (unsigned char)rdlen;
	memcpy(p + 12, rdata, (size_t)rdlen);
	return 12 + (size_t)rdlen;
}

static void fake_answer(struct fake *f, const unsigned char *q, size_t n, const struct sockaddr_in *from)
{
	unsigned char r[512], a4[4], a6[16];
	char name[256];
	size_t off = 12, nl = 0, qend, len;
	int qtype, rcode = 0, an = 0;

	if (n < 17)
		return;
	while (off < n && q[off] != 0) {
		size_t l = q[off];

		if (l > 63 || off + 1 + l >= n || nl + l + 2 > sizeof name)
			return;
		if (nl)
			name[nl++] = '.';
		memcpy(name + nl, q + off + 1, l);
		nl += l;
		off += 1 + l;
	}
	name[nl] = '\0';
	for (size_t i = 0; i < nl; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (char)(name[i] - 'A' + 'a');
	if (off + 5 > n)
		return;
	qtype = (q[off + 1] << 8) | q[off + 2];
	qend = off + 5;
	atomic_fetch_add(&f->total, 1);

	memcpy(r, q, qend);
	r[2] = (unsigned char)(0x80 | 0x04 | (q[2] & 0x79)); /* QR, AA, opcode+RD copied */
	len = qend;
	if (!strncmp(name, "drop", 4) || (!strncmp(name, "a6drop", 6) && qtype == 28))
		return;
	if (!strncmp(name, "nx", 2)) {
		rcode = 3;
	} else if (!strncmp(name, "servfail", 8)) {
		rcode = 2;
	} else if (!strncmp(name, "refused", 7)) {
		rcode = 5;
	} else if (!strncmp(name, "v4only", 6) || !strncmp(name, "a6drop", 6) || !strncmp(name, "count", 5)) {
		if (!strncmp(name, "count", 5))
			atomic_fetch_add(&f->count_queries, 1);
		if (qtype == 1) {
			inet_pton(AF_INET,
				  name[0] == 'v'   ? "127.0.0.77"
				  : name[0] == 'a' ? "127.0.0.80"
						   : "127.0.0.81",
				  a4);
			len += put_rr(r + len, 1, a4, 4);
			an = 1;
		}
	} else if (!strncmp(name, "both", 4)) {
		if (qtype == 1) {
			/* Deliberately out of order: the output must come sorted. */
			inet_pton(AF_INET, "127.0.0.79", a4);
			len += put_rr(r + len, 1, a4, 4);
			inet_pton(AF_INET, "127.0.0.78", a4);
			len += put_rr(r + len, 1, a4, 4);
			an = 2;
		} else if (qtype == 28) {
			inet_pton(AF_INET6, "::1", a6);
			len += put_rr(r + len, 28, a6, 16);
			an = 1;
		}
	} else {
		rcode = 3;
	}
	r[3] = (unsigned char)(0x80 | rcode); /* RA */
	r[4] = 0;
	r[5] = 1;
	r[6] = 0;
	r[7] = (unsigned char)an;
	memset(r + 8, 0, 4);
	sendto(f->fd, r, len, 0, (const struct sockaddr *)from, sizeof *from);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop)) {
		struct pollfd p = { .fd = f->fd, .events = POLLIN };
		unsigned char q[1500];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recvfrom(f->fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			fake_answer(f, q, (size_t)n, &from);
	}
	return NULL;
}

static int fake_start(struct fake *f)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;

	memset(f, 0, sizeof *f);
	f->fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    getsockname(f->fd, (struct sockaddr *)&sin, &sl) < 0)
		return -1;
	f->port = ntohs(sin.sin_port);
	return pthread_create(&f->th, NULL, fake_main, f) == 0 ? 0 : -1;
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	pthread_join(f->th, NULL);
	close(f->fd);
}

/* ---------------------------------------------------------------- helpers */

struct fails {
	int n;
	char host[16][256];
	enum resolve_status st[16];
	char reason[16][64];
};

static void on_fail(const struct target *t, enum resolve_status st, const char *reason, void *ud)
{
	struct fails *f = ud;

	if (f->n < 16) {
		snprintf(f->host[f->n], sizeof f->host[0], "%s", t->host);
		f->st[f->n] = st;
		snprintf(f->reason[f->n], sizeof f->reason[0], "%s", reason);
	}
	f->n++;
}

static struct target mk(const char *line)
{
	struct target t;
	char err[256];

	if (target_parse_line(line, strlen(line), &t, err, sizeof err) != 1) {
		diag("bad test target '%s': %s", line, err);
		memset(&t, 0, sizeof t);
	}
	return t;
}

static void add(struct target_set *s, const char *line)
{
	struct target t = mk(line);

	ts_add(s, &t);
}

/* "host port sni tag" of out[i], for compact comparisons. */
static const char *desc(const struct target *t)
{
	static char buf[600];

	snprintf(buf, sizeof buf, "%s %u %s %s%s", t->host, t->port, t->sni, t->tag, t->has_addr ? "" : " (no addr)");
	return buf;
}

static void diag_lines(const char *text)
{
	const char *nl;

	while (text && *text) {
		nl = strchr(text, '\n');
		printf("# %.*s\n", nl ? (int)(nl - text) : (int)strlen(text), text);
		text = nl ? nl + 1 : NULL;
	}
}

static double now_s(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* ---------------------------------------------------------------- part 1: fake server */

static void test_fake(void)
{
	struct fake f;
	struct target_set *in = ts_new(), *out = ts_new();
	struct resolve_stats st;
	struct fails fl;
	char server[64], *eb = NULL;
	size_t el = 0, i;
	const char *servers[2] = { server, NULL };
	FILE *errs = open_memstream(&eb, &el);
	struct target t;
	int r;
	double t0;
	static const char *const want[] = {
		"192.0.2.7 2525 mx.ip.test tagX",   "127.0.0.78 25 both1.fake.test ",
		"127.0.0.79 25 both1.fake.test ",   "::1 25 both1.fake.test ",
		"127.0.0.77 0 v4only.fake.test ",   "127.0.0.80 0 a6drop1.fake.test ",
		"127.0.0.81 25 count1.fake.test ",  "127.0.0.81 465 COUNT1.fake.test ",
		"127.0.0.78 0 other.sni.test kept", "127.0.0.79 0 other.sni.test kept",
		"::1 0 other.sni.test kept",
	};

	if (!ok(fake_start(&f) == 0, "fake DNS responder started"))
		return;
	snprintf(server, sizeof server, "127.0.0.1:%u", f.port);

	add(in, "192.0.2.7,mx.ip.test,tagX,2525");
	add(in, "both1.fake.test:25");
	add(in, "v4only.fake.test");
	add(in, "nx1.fake.test");
	add(in, "servfail1.fake.test");
	add(in, "refused1.fake.test");
	add(in, "drop1.fake.test");
	add(in, "a6drop1.fake.test");
	add(in, "count1.fake.test:25");
	add(in, "COUNT1.fake.test:465");
	t = mk("both3.fake.test");
	snprintf(t.sni, sizeof t.sni, "other.sni.test");
	snprintf(t.tag, sizeof t.tag, "kept");
	t.line = 42;
	ts_add(in, &t);

	memset(&fl, 0, sizeof fl);
	t0 = now_s();
	r = resolve_targets(in, servers, 300, 1, AF_UNSPEC, out, errs, &st, on_fail, &fl);
	fflush(errs);
	is_int(r, 0, "resolve_targets returns 0 (failures are results)");
	diag("fake run took %.2f s", now_s() - t0);
	is_int(ts_count(out), sizeof want / sizeof want[0], "output target count");
	for (i = 0; i < sizeof want / sizeof want[0] && i < ts_count(out); i++)
		is_str(desc(ts_get(out, i)), want[i], "out[%zu] in input order, sorted", i);
	ok(ts_get(out, 0)->has_addr && ts_get(out, 1)->has_addr, "outputs have addresses");
	is_int(ts_get(out, 10)->line, 42, "line number carried over");
	ok(ts_get(out, 3)->addr.ss_family == AF_INET6 && ts_get(out, 3)->addrlen == sizeof(struct sockaddr_in6),
	   "IPv6 result has an AF_INET6 sockaddr");
	is_int(st.names, 9, "9 distinct names (count1 and COUNT1 are one)");
	is_int(st.queries, 18, "18 queries: A and AAAA per name");
	is_int(atomic_load(&f.count_queries), 2, "one lookup per name: count1 asked twice (A, AAAA)");
	is_int(st.resolved, 5, "5 names resolved");
	is_int(st.partial, 1, "1 partial result (a6drop1)");
	is_int(st.addresses, 10, "10 address targets");
	is_int(st.passthrough, 1, "1 IP literal passed through");
	is_int(st.failed[RESOLVE_NXDOMAIN], 1, "1 NXDOMAIN");
	is_int(st.failed[RESOLVE_SERVFAIL], 1, "1 SERVFAIL");
	is_int(st.failed[RESOLVE_REFUSED], 1, "1 REFUSED");
	is_int(st.failed[RESOLVE_TIMEOUT], 1, "1 timeout");
	is_int(st.failed[RESOLVE_NODATA] + st.failed[RESOLVE_ERROR], 0, "no other failure");
	is_int(fl.n, 4, "on_fail called for the 4 failed targets");
	if (fl.n == 4) {
		ok(!strcmp(fl.host[0], "nx1.fake.test") && fl.st[0] == RESOLVE_NXDOMAIN &&
			   !strcmp(fl.reason[0], "NXDOMAIN"),
		   "NXDOMAIN reported as such");
		ok(!strcmp(fl.host[1], "servfail1.fake.test") && fl.st[1] == RESOLVE_SERVFAIL, "SERVFAIL reported");
		ok(!strcmp(fl.host[2], "refused1.fake.test") && fl.st[2] == RESOLVE_REFUSED, "REFUSED reported");
		ok(!strcmp(fl.host[3], "drop1.fake.test") && fl.st[3] == RESOLVE_TIMEOUT &&
			   !strcmp(fl.reason[3], "timeout"),
		   "timeout reported");
	}
	ok(eb && strstr(eb, "resolve: nx1.fake.test: NXDOMAIN\n") &&
		   strstr(eb, "resolve: servfail1.fake.test: SERVFAIL\n") &&
		   strstr(eb, "resolve: drop1.fake.test: timeout\n") &&
		   strstr(eb, "resolve: a6drop1.fake.test: warning: AAAA timeout (A ok)\n"),
	   "failures and partial results reported per name on errs");
	diag_lines(eb);
	ts_free(out);
	fclose(errs);
	free(eb);

	/* One family only. */
	out = ts_new();
	memset(&fl, 0, sizeof fl);
	r = resolve_targets(in, servers, 300, 1, AF_INET, out, NULL, &st, on_fail, &fl);
	is_int(r, 0, "AF_INET run");
	is_int(st.queries, 9, "AF_INET: one query per name");
	is_int(st.partial, 0, "AF_INET: a6drop1 is complete");
	is_int(st.addresses, 8, "AF_INET: 8 IPv4 targets");
	ts_free(out);
	out = ts_new();
	memset(&fl, 0, sizeof fl);
	r = resolve_targets(in, servers, 300, 1, AF_INET6, out, NULL, &st, on_fail, &fl);
	is_int(r, 0, "AF_INET6 run");
	is_int(st.failed[RESOLVE_NODATA], 2, "AF_INET6: v4only1 and count1 have no AAAA");
	ok(fl.n >= 1 && !strcmp(fl.host[0], "v4only.fake.test") && fl.st[0] == RESOLVE_NODATA &&
		   !strcmp(fl.reason[0], "no A/AAAA record"),
	   "NODATA reported as 'no A/AAAA record'");
	ts_free(out);

	fake_stop(&f);
	ts_free(in);
}

static void test_errors(void)
{
	struct target_set *in = ts_new(), *out = ts_new();
	struct resolve_stats st;
	char *eb = NULL;
	size_t el = 0;
	FILE *errs = open_memstream(&eb, &el);
	static const char *const bad1[] = { "ns.example.net", NULL };
	static const char *const bad2[] = { "127.0.0.1:0", NULL };
	static const char *const bad3[] = { "127.0.0.1,x", NULL };
	static const char *const none[] = { NULL };
	const char *dead[2];
	char deadbuf[64];
	struct fails fl;
	int s;
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;

	add(in, "mx.example.test");
	is_int(resolve_targets(in, bad1, 100, 1, AF_UNSPEC, out, errs, &st, NULL, NULL), -1,
	       "a host name as DNS server is rejected");
	is_int(resolve_targets(in, bad2, 100, 1, AF_UNSPEC, out, errs, &st, NULL, NULL), -1, "port 0 rejected");
	is_int(resolve_targets(in, bad3, 100, 1, AF_UNSPEC, out, errs, &st, NULL, NULL), -1,
	       "CSV-looking server rejected");
	is_int(resolve_targets(in, none, 100, 1, AF_UNSPEC, out, errs, &st, NULL, NULL), -1,
	       "empty server list rejected");
	is_int(resolve_targets(in, NULL, 100, 1, 12345, out, errs, &st, NULL, NULL), -1, "bad families rejected");
	is_int(resolve_targets(in, NULL, 100, 1, AF_UNSPEC, in, errs, &st, NULL, NULL), -1, "in == out rejected");
	fflush(errs);
	ok(eb && strstr(eb, "invalid DNS server 'ns.example.net'") && strstr(eb, "families must be"),
	   "setup errors explained on errs");
	is_int(ts_count(out), 0, "nothing added on setup errors");

	/* Only IP literals: no DNS at all, even with an unusable resolver configuration. */
	ts_free(in);
	in = ts_new();
	add(in, "127.0.0.1:25");
	add(in, "[::1]:25");
	is_int(resolve_targets(in, NULL, 100, 1, AF_UNSPEC, out, NULL, &st, NULL, NULL), 0,
	       "IP-only input needs no lookup");
	is_int(ts_count(out), 2, "both literals passed through");
	is_int(st.queries, 0, "no query sent");

	/* A server whose port is closed: the lookup ends at once as an error, not a hang. */
	s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *)&sin, sizeof sin);
	getsockname(s, (struct sockaddr *)&sin, &sl);
	close(s);
	snprintf(deadbuf, sizeof deadbuf, "127.0.0.1:%u", ntohs(sin.sin_port));
	dead[0] = deadbuf;
	dead[1] = NULL;
	ts_free(in);
	ts_free(out);
	in = ts_new();
	out = ts_new();
	add(in, "mx.example.test");
	memset(&fl, 0, sizeof fl);
	is_int(resolve_targets(in, dead, 2000, 1, AF_INET, out, NULL, &st, on_fail, &fl), 0,
	       "closed DNS port: completes");
	ok(fl.n == 1 && (fl.st[0] == RESOLVE_ERROR || fl.st[0] == RESOLVE_TIMEOUT),
	   "closed DNS port: reported as %s (%s)", fl.n ? resolve_status_name(fl.st[0]) : "-",
	   fl.n ? fl.reason[0] : "-");
	is_str(resolve_status_name(RESOLVE_NXDOMAIN), "nxdomain", "resolve_status_name");
	is_str(resolve_status_name((enum resolve_status)99), "?", "resolve_status_name out of range");
	ts_free(in);
	ts_free(out);
	fclose(errs);
	free(eb);
}

/* ---------------------------------------------------------------- part 2: real server */

static void n_addr(int i, char *buf, size_t len)
{
	snprintf(buf, len, "127.2.%d.%d", i / 200, i % 200 + 1);
}

static void print_zone(void)
{
	int i;
	char a[32];

	printf("$ORIGIN resolve.test.\n$TTL 300\n");
	printf("@ IN SOA ns1.resolve.test. hostmaster.resolve.test. 1 3600 600 86400 300\n");
	printf("@ IN NS ns1.resolve.test.\nns1 IN A 127.0.0.53\n");
	printf("mx1 IN A 127.0.1.1\nmx1 IN AAAA ::1\nmx2 IN A 127.0.1.2\n");
	printf("v6only IN AAAA ::1\nalias IN CNAME mx1.resolve.test.\n");
	printf("txtonly IN TXT \"no address here\"\n");
	printf("multi IN A 127.0.3.3\nmulti IN A 127.0.3.1\nmulti IN A 127.0.3.2\n");
	for (i = 0; i < N_NAMES; i++) {
		n_addr(i, a, sizeof a);
		printf("n%d IN A %s\n", i, a);
	}
}

static void test_real(const char *server)
{
	struct target_set *in = ts_new(), *out = ts_new();
	struct resolve_stats st;
	struct fails fl;
	const char *servers[2] = { server, NULL };
	char *eb = NULL, line[64], a[32];
	size_t el = 0, i, nmatch = 0, nbad = 0;
	FILE *errs = open_memstream(&eb, &el);
	double t0;
	int r;
	static const char *const want[] = {
		"127.0.1.1 25 mx1.resolve.test ",    "::1 25 mx1.resolve.test ",
		"127.0.1.2 25 mx2.resolve.test ",    "::1 2525 v6only.resolve.test ",
		"127.0.1.1 587 alias.resolve.test ", "::1 587 alias.resolve.test ",
		"127.0.3.1 0 multi.resolve.test ",   "127.0.3.2 0 multi.resolve.test ",
		"127.0.3.3 0 multi.resolve.test ",
	};

	add(in, "mx1.resolve.test:25");
	add(in, "mx2.resolve.test.:25");
	add(in, "v6only.resolve.test:2525");
	add(in, "alias.resolve.test:587");
	add(in, "nope.resolve.test");
	add(in, "txtonly.resolve.test");
	add(in, "multi.resolve.test");
	for (i = 0; i < N_NAMES; i++) {
		snprintf(line, sizeof line, "n%zu.resolve.test:25", i);
		add(in, line);
	}
	memset(&fl, 0, sizeof fl);
	t0 = now_s();
	r = resolve_targets(in, servers, 1000, 3, AF_UNSPEC, out, errs, &st, on_fail, &fl);
	fflush(errs);
	is_int(r, 0, "resolve against %s", server);
	diag("%zu names, %zu queries in %.3f s", st.names, st.queries, now_s() - t0);
	for (i = 0; i < sizeof want / sizeof want[0] && i < ts_count(out); i++)
		is_str(desc(ts_get(out, i)), want[i], "out[%zu]: A/AAAA/CNAME answer", i);
	is_int(fl.n, 2, "two failed names");
	ok(fl.n >= 1 && !strcmp(fl.host[0], "nope.resolve.test") && fl.st[0] == RESOLVE_NXDOMAIN,
	   "nope.resolve.test is NXDOMAIN");
	ok(fl.n >= 2 && !strcmp(fl.host[1], "txtonly.resolve.test") && fl.st[1] == RESOLVE_NODATA,
	   "txtonly.resolve.test has no address (NODATA)");
	ok(eb && strstr(eb, "resolve: nope.resolve.test: NXDOMAIN\n") &&
		   strstr(eb, "resolve: txtonly.resolve.test: no A/AAAA record\n"),
	   "failures on errs");
	diag_lines(eb);
	for (i = 0; i < ts_count(out); i++) {
		const struct target *t = ts_get(out, i);
		int k;

		if (sscanf(t->sni, "n%d.resolve.test", &k) != 1)
			continue;
		nmatch++;
		n_addr(k, a, sizeof a);
		if (strcmp(t->host, a) != 0 || t->port != 25 || !t->has_addr || t->addr.ss_family != AF_INET) {
			if (nbad++ < 5)
				diag("wrong: %s (want %s)", desc(t), a);
		}
	}
	is_int(nmatch, N_NAMES, "%d names resolved, none lost", N_NAMES);
	is_int(nbad, 0, "each to its own address");
	is_int(st.resolved, N_NAMES + 5, "stats: resolved");
	is_int(st.failed[RESOLVE_NXDOMAIN], 1, "stats: 1 NXDOMAIN");
	is_int(st.failed[RESOLVE_NODATA], 1, "stats: 1 NODATA");
	is_int(st.failed[RESOLVE_TIMEOUT], 0, "stats: no timeout");
	is_int(st.addresses, N_NAMES + 9, "stats: addresses");
	is_int(ts_count(out), N_NAMES + 9, "output count");
	ts_free(in);
	ts_free(out);
	fclose(errs);
	free(eb);
}

int main(int argc, char **argv)
{
	const char *dns = getenv("MXSCAN_TEST_DNS");

	if (argc > 1 && !strcmp(argv[1], "--zone")) {
		print_zone();
		return 0;
	}
	test_fake();
	test_errors();
	if (dns && *dns)
		test_real(dns);
	else
		printf("ok %d # SKIP real DNS tests: MXSCAN_TEST_DNS unset (see "
		       "tests/integration/resolve.t)\n",
		       ++tap_n);
	return done_testing();
}
