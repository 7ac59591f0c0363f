/*
 * test_mx: mx_resolve against a fake DNS server on loopback (a thread in this process).
 *
 * The fake server answers by the first label of the query name (ok, nullmx, nx*, servfail*,
 * implicit, alias, drop*, slow*, shared<i>, pool<k>, burst<i>, bmx<k>, ...; see fake_answer),
 * counts the A/AAAA queries it gets for the shared pool hosts and checks the AD bit and the
 * EDNS OPT of every query. It can hold answers back (slow*) or never answer (drop*).
 * Covered: MX sorted by preference, null MX, NXDOMAIN, SERVFAIL, REFUSED, NODATA with and
 * without an implicit MX, an exchange that is a CNAME (with and without address), an exchange
 * without address or NXDOMAIN, timeouts (dropped and late answers, a silent server), AD,
 * EDNS fallback on FORMERR, the MX_MAX_HOSTS / MX_MAX_ADDRS caps, one lookup per exchange over
 * 1,000 domains, 5,000 domains at 100 in flight with nothing lost, order independence.
 * Real-server checks are in test_mx_live.c (tests/integration/mx.t).
 */
#include "mxscan/mx.h"
#include "mxstores.h"
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
#include <time.h>
#include <unistd.h>

#define SLOW_MS  300
#define MAX_HELD 64

/* ---------------------------------------------------------------- fake DNS server */

struct held {
	double due;
	struct sockaddr_in to;
	size_t len;
	unsigned char buf[1024];
};

struct fake {
	int fd;
	uint16_t port;
	atomic_int stop;
	atomic_int total;     /* queries received */
	atomic_int no_ad;     /* queries without the AD bit */
	atomic_int no_opt;    /* queries without an OPT RR (the FORMERR fallback sends one) */
	atomic_int pool_a;    /* A queries for pool<k> */
	atomic_int pool_aaaa; /* AAAA queries for pool<k> */
	atomic_int formerr;   /* FORMERR answers given */
	pthread_t th;
	struct held held[MAX_HELD];
	int nheld;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write name ("" = the root) in wire form at p; returns its length. */
static size_t put_name(unsigned char *p, const char *name)
{
	size_t n = 0;

	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		p[n++] = (unsigned char)l;
		memcpy(p + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
	}
	p[n++] = 0;
	return n;
}

/* One RR at p: owner NULL = pointer to the question name. */
static size_t put_rr(unsigned char *p, const char *owner, int type, const void *rdata, size_t rdlen)
{
	size_t n;

	if (owner) {
		n = put_name(p, owner);
	} else {
		p[0] = 0xc0;
		p[1] = 12;
		n = 2;
	}
	p[n++] = 0;
	p[n++] = (unsigned char)type;
	p[n++] = 0;
	p[n++] = 1; /* IN */
	p[n++] = 0;
	p[n++] = 0;
	p[n++] = 0;
	p[n++] = 60; /* TTL */
	p[n++] = (unsigned char)(rdlen >> 8);
	p[n++] = (unsigned char)rdlen;
	memcpy(p + n, rdata, rdlen);
	return n + rdlen;
}

static size_t put_mx(unsigned char *p, int pref, const char *exchange)
{
	unsigned char rd[300];
	size_t l;

	rd[0] = (unsigned char)(pref >> 8);
	rd[1] = (unsigned char)pref;
	l = put_name(rd + 2, exchange);
	return put_rr(p, NULL, 15, rd, 2 + l);
}

static size_t put_a(unsigned char *p, const char *owner, const char *ip)
{
	unsigned char a[16];

	if (strchr(ip, ':')) {
		inet_pton(AF_INET6, ip, a);
		return put_rr(p, owner, 28, a, 16);
	}
	inet_pton(AF_INET, ip, a);
	return put_rr(p, owner, 1, a, 4);
}

static size_t put_cname(unsigned char *p, const char *target)
{
	unsigned char rd[300];

	return put_rr(p, NULL, 5, rd, put_name(rd, target));
}

static int num(const char *label, const char *prefix)
{
	return atoi(label + strlen(prefix));
}

static void fake_answer(struct fake *f, const unsigned char *q, size_t n, const struct sockaddr_in *from)
{
	unsigned char r[1024];
	char name[256], label[64], ip[64];
	size_t off = 12, nl = 0, qend, len;
	int qtype, rcode = 0, an = 0, ad = 0, has_opt, i, k;
	double delay = 0;

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
	for (size_t j = 0; j < nl; j++)
		if (name[j] >= 'A' && name[j] <= 'Z')
			name[j] = (char)(name[j] - 'A' + 'a');
	snprintf(label, sizeof label, "%.*s", (int)strcspn(name, "."), name);
	if (off + 5 > n)
		return;
	qtype = (q[off + 1] << 8) | q[off + 2];
	qend = off + 5;
	/* An OPT RR (type 41, root owner) in the additional section, as the only RR after the question. */
	has_opt = q[11] == 1 && n >= qend + 11 && q[qend] == 0 && q[qend + 1] == 0 && q[qend + 2] == 41;
	atomic_fetch_add(&f->total, 1);
	if (!(q[3] & 0x20))
		atomic_fetch_add(&f->no_ad, 1);
	if (!has_opt)
		atomic_fetch_add(&f->no_opt, 1);

	memcpy(r, q, qend);
	len = qend;
	if (!strncmp(label, "drop", 4))
		return;
	if (!strcmp(label, "ok") && qtype == 15) {
		len += put_mx(r + len, 20, "mx2.f.test"); /* out of order on purpose */
		len += put_mx(r + len, 10, "mx1.f.test");
		an = 2;
	} else if (!strcmp(label, "mx1") || !strcmp(label, "mx2")) {
		if (qtype == 1) {
			len += put_a(r + len, NULL, label[2] == '1' ? "127.0.1.1" : "127.0.1.2");
			an = 1;
		} else if (qtype == 28 && label[2] == '1') {
			len += put_a(r + len, NULL, "::1");
			an = 1;
		}
	} else if (!strcmp(label, "nullmx") && qtype == 15) {
		len += put_mx(r + len, 0, "");
		an = 1;
	} else if (!strcmp(label, "mixed") && qtype == 15) {
		len += put_mx(r + len, 10, "mx1.f.test");
		len += put_mx(r + len, 0, "");
		an = 2;
	} else if (!strncmp(label, "nx", 2)) {
		rcode = 3;
	} else if (!strncmp(label, "servfail", 8)) {
		rcode = 2;
	} else if (!strncmp(label, "refused", 7)) {
		rcode = 5;
	} else if (!strcmp(label, "implicit")) {
		if (qtype == 1) {
			len += put_a(r + len, NULL, "127.0.0.9");
			an = 1;
		}
	} else if (!strcmp(label, "nothing")) {
		/* NOERROR, no records of any type */
	} else if (!strcmp(label, "cnamemx") && qtype == 15) {
		len += put_mx(r + len, 10, "alias.f.test");
		an = 1;
	} else if (!strcmp(label, "alias") && (qtype == 1 || qtype == 28)) {
		len += put_cname(r + len, "mx1.f.test");
		len += put_a(r + len, "mx1.f.test", qtype == 1 ? "127.0.1.1" : "::1");
		an = 2;
	} else if (!strcmp(label, "cnamenoaddr") && qtype == 15) {
		len += put_mx(r + len, 10, "alias2.f.test");
		an = 1;
	} else if (!strcmp(label, "alias2") && (qtype == 1 || qtype == 28)) {
		len += put_cname(r + len, "txtonly.f.test");
		an = 1;
	} else if (!strcmp(label, "noaddr") && qtype == 15) {
		len += put_mx(r + len, 20, "nxhost.f.test");
		len += put_mx(r + len, 10, "bare.f.test");
		an = 2;
	} else if (!strncmp(label, "slow", 4) && qtype == 15) {
		len += put_mx(r + len, 10, "mx1.f.test");
		an = 1;
		delay = SLOW_MS / 1000.0;
	} else if (!strcmp(label, "ad") && qtype == 15) {
		len += put_mx(r + len, 10, "mx1.f.test");
		an = 1;
		ad = 1;
	} else if (!strncmp(label, "formerr", 7) && qtype == 15) {
		if (has_opt) {
			rcode = 1;
			atomic_fetch_add(&f->formerr, 1);
		} else {
			len += put_mx(r + len, 10, "mx1.f.test");
			an = 1;
		}
	} else if (!strcmp(label, "upper") && qtype == 15) {
		len += put_mx(r + len, 10, "MX1.F.Test");
		an = 1;
	} else if (!strcmp(label, "many") && qtype == 15) {
		for (i = 0; i < 20; i++) {
			char ex[64];

			snprintf(ex, sizeof ex, "wide%02d.f.test", i);
			len += put_mx(r + len, 100 - i / 2, ex);
		}
		an = 20;
	} else if (!strncmp(label, "wide", 4) && qtype == 1) {
		snprintf(ip, sizeof ip, "127.0.4.%d", num(label, "wide") + 1);
		len += put_a(r + len, NULL, ip);
		an = 1;
	} else if (!strcmp(label, "multiaddr") && qtype == 15) {
		len += put_mx(r + len, 10, "multi.f.test");
		an = 1;
	} else if (!strcmp(label, "multi") && qtype == 1) {
		for (i = 20; i >= 1; i--) {
			snprintf(ip, sizeof ip, "127.0.5.%d", i);
			len += put_a(r + len, NULL, ip);
		}
		len += put_a(r + len, NULL, "127.0.5.3"); /* duplicate: counted once */
		an = 21;
	} else if (!strcmp(label, "multi") && qtype == 28) {
		for (i = 3; i >= 1; i--) {
			snprintf(ip, sizeof ip, "fd00::5:%d", i);
			len += put_a(r + len, NULL, ip);
		}
		an = 3;
	} else if (!strncmp(label, "shared", 6) && qtype == 15) {
		char ex[64];

		snprintf(ex, sizeof ex, "pool%d.f.test", num(label, "shared") % 5);
		len += put_mx(r + len, 10, ex);
		an = 1;
	} else if (!strncmp(label, "pool", 4)) {
		k = num(label, "pool");
		atomic_fetch_add(qtype == 1 ? &f->pool_a : &f->pool_aaaa, 1);
		snprintf(ip, sizeof ip, qtype == 1 ? "127.0.2.%d" : "fd00::2:%d", k + 1);
		len += put_a(r + len, NULL, ip);
		an = 1;
	} else if (!strncmp(label, "burst", 5) && qtype == 15) {
		char ex[64];

		snprintf(ex, sizeof ex, "bmx%d.f.test", num(label, "burst") % 50);
		len += put_mx(r + len, 10, ex);
		an = 1;
	} else if (!strncmp(label, "bmx", 3) && qtype == 1) {
		snprintf(ip, sizeof ip, "127.0.3.%d", num(label, "bmx") + 1);
		len += put_a(r + len, NULL, ip);
		an = 1;
	} else if (!strcmp(label, "bare") || !strcmp(label, "txtonly") || !strcmp(label, "wide") ||
		   !strncmp(label, "wide", 4) || !strncmp(label, "bmx", 3) || !strcmp(label, "mixed") ||
		   !strcmp(label, "ok") || !strcmp(label, "nullmx") || !strcmp(label, "cnamemx") ||
		   !strcmp(label, "noaddr") || !strcmp(label, "ad") || !strcmp(label, "upper") ||
		   !strcmp(label, "many") || !strcmp(label, "multiaddr") || !strcmp(label, "cnamenoaddr") ||
		   !strncmp(label, "shared", 6) || !strncmp(label, "burst", 5) || !strncmp(label, "formerr", 7) ||
		   !strncmp(label, "slow", 4)) {
		/* existing names, no record of the type asked: NODATA */
	} else {
		rcode = 3;
	}
	r[2] = (unsigned char)(0x80 | 0x04 | (q[2] & 0x79)); /* QR, AA, opcode and RD copied */
	r[3] = (unsigned char)(0x80 | (ad ? 0x20 : 0) | rcode);
	r[4] = 0;
	r[5] = 1;
	r[6] = 0;
	r[7] = (unsigned char)an;
	memset(r + 8, 0, 4);
	if (delay > 0 && f->nheld < MAX_HELD) {
		struct held *h = &f->held[f->nheld++];

		h->due = now_s() + delay;
		h->to = *from;
		h->len = len;
		memcpy(h->buf, r, len);
		return;
	}
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
		double t = now_s();
		int i, wait = 20;
		ssize_t n;

		for (i = 0; i < f->nheld;) {
			if (f->held[i].due <= t) {
				sendto(f->fd, f->held[i].buf, f->held[i].len, 0,
				       (const struct sockaddr *)&f->held[i].to, sizeof f->held[i].to);
				f->held[i] = f->held[--f->nheld];
			} else {
				i++;
			}
		}
		if (f->nheld)
			wait = 5;
		if (poll(&p, 1, wait) <= 0)
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
	int rcv = 1 << 20;

	memset(f, 0, sizeof *f);
	f->fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    getsockname(f->fd, (struct sockaddr *)&sin, &sl) < 0)
		return -1;
	setsockopt(f->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
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

static struct mx_domain *mkdoms(const char *const *names, size_t n)
{
	struct mx_domain *d = calloc(n ? n : 1, sizeof *d);
	size_t i;

	for (i = 0; d && i < n; i++) {
		d[i].domain = names[i];
		d[i].line = (unsigned)i + 1;
	}
	return d;
}

static const char *addr_str(const struct mx_host *h, int k)
{
	static char buf[4][INET6_ADDRSTRLEN];
	static int b;
	const struct mx_addr *a = &h->addr[k];
	char *o = buf[b++ % 4];

	inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->a, o, INET6_ADDRSTRLEN);
	return o;
}

/* "name/pref/addr_status/a1,a2" of each kept MX, ";"-separated. */
static const char *mx_desc(const struct mx_domain *d)
{
	static char buf[4096];
	size_t o = 0;
	int i;
	uint32_t k;

	buf[0] = '\0';
	for (i = 0; i < d->nmx; i++) {
		const struct mx_host *h = d->mx[i].host;

		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s/%u/%s/", i ? ";" : "", mx_ref_name(&d->mx[i]),
				      d->mx[i].pref, mx_status_name(h ? h->addr_status : MXS_NODATA));
		for (k = 0; h && k < h->naddr && o < sizeof buf; k++)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", k ? "," : "", addr_str(h, (int)k));
	}
	return buf;
}

static struct mx_domain *find(struct mx_domain *d, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(d[i].domain, name))
			return &d[i];
	return NULL;
}

/* ---------------------------------------------------------------- tests */

static const char *const case_names[] = {
	"ok.f.test",       "nullmx.f.test",    "nx1.f.test",     "servfail1.f.test",   "refused1.f.test",
	"implicit.f.test", "nothing.f.test",   "cnamemx.f.test", "cnamenoaddr.f.test", "noaddr.f.test",
	"drop1.f.test",    "slow1.f.test",     "ad.f.test",      "mixed.f.test",       "upper.f.test.",
	"many.f.test",     "multiaddr.f.test",
};
#define NCASES (sizeof case_names / sizeof case_names[0])

static void test_cases(struct fake *f, const char *const *servers)
{
	struct mx_domain *d = mkdoms(case_names, NCASES), *d1 = mkdoms(case_names, NCASES), *x;
	struct mx_stats st, st1;
	char *eb = NULL;
	size_t el = 0;
	FILE *errs = open_memstream(&eb, &el);
	int r, i, total0 = atomic_load(&f->total), ok_ad = 1;
	double t0 = now_s();

	/* timeout 200 ms x 2 tries: the slow server's answer (300 ms) comes during the second try */
	r = mx_resolve(newstore(), d, NCASES, servers, 200, 2, 100, AF_UNSPEC, &st, errs);
	fflush(errs);
	is_int(r, 0, "mx_resolve returns 0 (failures are data)");
	is_int(el, 0, "nothing on errs");
	diag("cases: %zu queries, %zu answers, %zu retries, %zu lost in %.2f s", st.queries, st.answers, st.retries,
	     st.lost, now_s() - t0);

	x = find(d, NCASES, "ok.f.test");
	is_int(x->status, MXS_OK, "ok: status ok");
	is_int(x->nmx, 2, "ok: two MX");
	is_int(x->mx_total, 2, "ok: mx_total 2");
	is_str(mx_desc(x), "mx1.f.test/10/ok/127.0.1.1,::1;mx2.f.test/20/ok/127.0.1.2",
	       "ok: sorted by preference, A before AAAA");
	ok(!x->implicit_mx && !x->ad && !(x->mx[0].host->cname_target != NULL), "ok: not implicit, no AD, no CNAME");
	{
		struct sockaddr_storage ss4, ss6;
		socklen_t l4 = mx_addr_sockaddr(&x->mx[0].host->addr[0], &ss4);
		socklen_t l6 = mx_addr_sockaddr(&x->mx[0].host->addr[1], &ss6);

		ok(l4 == sizeof(struct sockaddr_in) && ss4.ss_family == AF_INET && l6 == sizeof(struct sockaddr_in6) &&
			   ss6.ss_family == AF_INET6,
		   "ok: sockaddr families and lengths");
	}
	is_int((int)x->mx[0].host->naddr_total, 2, "ok: naddr_total");

	x = find(d, NCASES, "nullmx.f.test");
	is_int(x->status, MXS_NULL_MX, "nullmx: status null-mx");
	ok(x->nmx == 0 && x->mx_total == 0 && !x->implicit_mx, "nullmx: no host, no implicit MX");

	x = find(d, NCASES, "nx1.f.test");
	ok(x->status == MXS_NXDOMAIN && x->nmx == 0, "nx1: nxdomain, no host (got %s)", mx_status_name(x->status));
	x = find(d, NCASES, "servfail1.f.test");
	ok(x->status == MXS_SERVFAIL && x->nmx == 0, "servfail1: servfail (got %s)", mx_status_name(x->status));
	x = find(d, NCASES, "refused1.f.test");
	ok(x->status == MXS_REFUSED && x->nmx == 0, "refused1: refused (got %s)", mx_status_name(x->status));

	x = find(d, NCASES, "implicit.f.test");
	is_int(x->status, MXS_NODATA, "implicit: MX status stays nodata");
	ok(x->implicit_mx == 1 && x->nmx == 1 && x->mx_total == 1, "implicit: implicit MX recorded");
	is_str(mx_desc(x), "implicit.f.test/0/ok/127.0.0.9", "implicit: the domain itself, pref 0, its A");

	x = find(d, NCASES, "nothing.f.test");
	is_int(x->status, MXS_NODATA, "nothing: nodata");
	ok(x->implicit_mx == 0 && x->nmx == 0 && x->mx_total == 0, "nothing: no MX, no address, no implicit MX");

	x = find(d, NCASES, "cnamemx.f.test");
	is_int(x->status, MXS_OK, "cnamemx: ok");
	is_str(mx_desc(x), "alias.f.test/10/ok/127.0.1.1,::1", "cnamemx: alias resolved through the CNAME");
	ok((x->mx[0].host->cname_target != NULL) == 1, "cnamemx: exchange flagged as CNAME (RFC 2181 10.3)");
	is_str(x->mx[0].host->cname_target, "mx1.f.test", "cnamemx: cname_target");

	x = find(d, NCASES, "cnamenoaddr.f.test");
	is_str(mx_desc(x), "alias2.f.test/10/nodata/", "cnamenoaddr: alias to a name without address");
	ok((x->mx[0].host->cname_target != NULL) == 1 && !strcmp(x->mx[0].host->cname_target, "txtonly.f.test"),
	   "cnamenoaddr: CNAME seen in a NODATA answer");

	x = find(d, NCASES, "noaddr.f.test");
	is_str(mx_desc(x), "bare.f.test/10/nodata/;nxhost.f.test/20/nxdomain/",
	       "noaddr: host without A/AAAA is nodata, missing host nxdomain");
	ok((int)x->mx[0].host->naddr == 0 && (int)x->mx[0].host->naddr_total == 0 &&
		   !(x->mx[0].host->cname_target != NULL),
	   "noaddr: no address");

	x = find(d, NCASES, "drop1.f.test");
	ok(x->status == MXS_TIMEOUT && x->nmx == 0, "drop1: timeout (got %s)", mx_status_name(x->status));
	x = find(d, NCASES, "slow1.f.test");
	ok(x->status == MXS_OK && !strcmp(mx_desc(x), "mx1.f.test/10/ok/127.0.1.1,::1"),
	   "slow1: late answer taken during the retry (%s %s)", mx_status_name(x->status), mx_desc(x));

	x = find(d, NCASES, "ad.f.test");
	ok(x->status == MXS_OK && x->ad == 1, "ad: AD bit of the answer recorded");

	x = find(d, NCASES, "mixed.f.test");
	is_int(x->status, MXS_OK, "mixed: '0 .' among other MX is not a null MX");
	is_str(mx_desc(x), "/0/nodata/;mx1.f.test/10/ok/127.0.1.1,::1", "mixed: the '.' entry kept, not looked up");

	x = find(d, NCASES, "upper.f.test.");
	is_str(mx_desc(x), "MX1.F.Test/10/ok/127.0.1.1,::1", "upper: exchange case kept, shares mx1's lookup");

	x = find(d, NCASES, "many.f.test");
	ok(x->nmx == MX_MAX_HOSTS && x->mx_total == 20, "many: %d of %d MX kept", x->nmx, x->mx_total);
	ok(!strcmp(mx_ref_name(&x->mx[0]), "wide18.f.test") && x->mx[0].pref == 91 &&
		   !strcmp(mx_ref_name(&x->mx[1]), "wide19.f.test") &&
		   !strcmp(mx_ref_name(&x->mx[14]), "wide04.f.test") &&
		   !strcmp(mx_ref_name(&x->mx[15]), "wide05.f.test") && x->mx[15].pref == 98,
	   "many: lowest preferences kept, ties by name");
	is_str(addr_str(x->mx[15].host, 0), "127.0.4.6", "many: last kept host resolved");

	x = find(d, NCASES, "multiaddr.f.test");
	ok((int)x->mx[0].host->naddr == MX_MAX_ADDRS && (int)x->mx[0].host->naddr_total == 23,
	   "multiaddr: %d of %d addresses kept", (int)x->mx[0].host->naddr, (int)x->mx[0].host->naddr_total);
	ok(!strcmp(addr_str(x->mx[0].host, 0), "127.0.5.1") && !strcmp(addr_str(x->mx[0].host, 12), "127.0.5.13") &&
		   !strcmp(addr_str(x->mx[0].host, 13), "fd00::5:1") &&
		   !strcmp(addr_str(x->mx[0].host, 15), "fd00::5:3"),
	   "multiaddr: sorted, de-duplicated, IPv6 kept alongside 13 IPv4");

	/* counters */
	is_int(st.domains, NCASES, "stats: domains");
	is_int(st.lost, 1, "stats: 1 lookup lost (drop1's MX)");
	is_int(st.retries, 2, "stats: 2 retries (drop1, slow1)");
	is_int(st.answers + st.lost, st.queries, "stats: every lookup answered or lost");
	/* hosts: mx1 mx2 implicit nothing alias alias2 nxhost bare wide00..15 multi */
	is_int(st.hosts, 25, "stats: 25 distinct hosts (MX1.F.Test and mx1.f.test are one)");
	is_int(st.queries, NCASES + 2 * 25, "stats: one MX query per domain, A+AAAA per host");
	is_int(st.by_status[MXS_OK], 10, "stats: 10 domains ok");
	is_int(st.by_status[MXS_NODATA], 2, "stats: 2 nodata");
	is_int(st.by_status[MXS_NULL_MX] + st.by_status[MXS_NXDOMAIN] + st.by_status[MXS_SERVFAIL] +
		       st.by_status[MXS_REFUSED] + st.by_status[MXS_TIMEOUT],
	       5, "stats: 5 others");
	ok(st.peak_inflight <= 100 && st.inflight == 100, "stats: in flight %zu <= %u", st.peak_inflight, st.inflight);
	is_int(atomic_load(&f->no_ad), 0, "every query had the AD bit");
	is_int(atomic_load(&f->no_opt), 0, "every query had an EDNS OPT");
	diag("fake server saw %d queries", atomic_load(&f->total) - total0);

	/* Order independence: one query at a time gives the same bytes. */
	r = mx_resolve(newstore(), d1, NCASES, servers, 200, 2, 1, AF_UNSPEC, &st1, NULL);
	is_int(r, 0, "inflight 1: returns 0");
	is_int(st1.peak_inflight, 1, "inflight 1: one query at a time");
	for (i = 0; i < (int)NCASES; i++) {
		char *a = strdup(mx_desc(&d[i]));

		if (d[i].status != d1[i].status || d[i].implicit_mx != d1[i].implicit_mx || d[i].ad != d1[i].ad ||
		    d[i].nmx != d1[i].nmx || d[i].mx_total != d1[i].mx_total || strcmp(a, mx_desc(&d1[i])) != 0) {
			ok_ad = 0;
			diag("differs: %s: %s vs %s", d[i].domain, a, mx_desc(&d1[i]));
		}
		free(a);
	}
	ok(ok_ad, "inflight 1 and 100 give identical results");

	/* IPv4 only */
	memset(d1, 0, NCASES * sizeof *d1);
	for (i = 0; i < (int)NCASES; i++)
		d1[i].domain = case_names[i];
	r = mx_resolve(newstore(), d1, NCASES, servers, 200, 1, 0, AF_INET, &st1, NULL);
	is_int(r, 0, "AF_INET: returns 0");
	is_int(st1.inflight, MX_DEFAULT_INFLIGHT, "inflight 0 means the default");
	is_str(mx_desc(find(d1, NCASES, "ok.f.test")), "mx1.f.test/10/ok/127.0.1.1;mx2.f.test/20/ok/127.0.1.2",
	       "AF_INET: no AAAA asked");
	is_int(st1.queries, NCASES + 25, "AF_INET: one address query per host");
	x = find(d1, NCASES, "multiaddr.f.test");
	ok((int)x->mx[0].host->naddr == 16 && (int)x->mx[0].host->naddr_total == 20, "AF_INET: 16 of 20 IPv4 kept");

	free(d);
	free(d1);
	fclose(errs);
	free(eb);
}

/*
 * A server without EDNS answers FORMERR (RFC 6891 section 7). With ARES_FLAG_EDNS set, c-ares 1.18
 * itself retries the first such query without OPT and turns EDNS off for the channel; a later
 * FORMERR then reaches mx_answer, which retries without OPT too. Both must end in an answer.
 * Run on their own: after c-ares's fallback, UDP answers over 512 bytes are asked again over
 * TCP, which the fake server does not serve.
 */
static void test_formerr(struct fake *f, const char *const *servers)
{
	static const char *const names[] = { "formerr1.f.test", "formerr2.f.test" };
	struct mx_domain *d = mkdoms(names, 2);
	struct mx_stats st;
	int r, no_opt0 = atomic_load(&f->no_opt);

	atomic_store(&f->formerr, 0);
	r = mx_resolve(newstore(), d, 2, servers, 1000, 2, 1, AF_UNSPEC, &st, NULL);
	is_int(r, 0, "formerr: returns 0");
	ok(d[0].status == MXS_OK && d[0].nmx == 1 && !strcmp(mx_ref_name(&d[0].mx[0]), "mx1.f.test"),
	   "formerr1: answered after c-ares's EDNS fallback (%s)", mx_status_name(d[0].status));
	ok(d[1].status == MXS_OK && d[1].nmx == 1 && !strcmp(mx_ref_name(&d[1].mx[0]), "mx1.f.test"),
	   "formerr2: answered after mx.c's EDNS fallback (%s)", mx_status_name(d[1].status));
	is_int(atomic_load(&f->formerr), 2, "formerr: two FORMERR answers given");
	is_int(atomic_load(&f->no_opt) - no_opt0, 2, "formerr: each asked again without OPT");
	is_int(st.retries, 1, "formerr: mx.c's own fallback counted as a retry");
	is_int(st.lost, 0, "formerr: nothing lost");
	free(d);
}

static void test_shared(struct fake *f, const char *const *servers)
{
	enum { N = 1000 };
	struct mx_domain *d = calloc(N, sizeof *d);
	struct mx_stats st;
	size_t i, bad = 0;
	int r;

	for (i = 0; i < N; i++) {
		char nm[64];

		snprintf(nm, sizeof nm, "shared%zu.f.test", i);
		d[i].domain = mx_store_str(store, nm, strlen(nm));
	}
	atomic_store(&f->pool_a, 0);
	atomic_store(&f->pool_aaaa, 0);
	r = mx_resolve(newstore(), d, N, servers, 2000, 2, 100, AF_UNSPEC, &st, NULL);
	is_int(r, 0, "shared: returns 0");
	is_int(atomic_load(&f->pool_a), 5, "shared: 1,000 domains on 5 exchanges, exactly 5 A lookups");
	is_int(atomic_load(&f->pool_aaaa), 5, "shared: and exactly 5 AAAA lookups");
	is_int(st.hosts, 5, "shared: 5 distinct hosts");
	is_int(st.queries, N + 10, "shared: 1,010 queries");
	for (i = 0; i < N; i++) {
		char want[128];

		snprintf(want, sizeof want, "pool%zu.f.test/10/ok/127.0.2.%zu,fd00::2:%zu", i % 5, i % 5 + 1,
			 i % 5 + 1);
		if (d[i].status != MXS_OK || strcmp(mx_desc(&d[i]), want) != 0) {
			if (bad++ < 3)
				diag("%s: %s, want %s", d[i].domain, mx_desc(&d[i]), want);
		}
	}
	is_int(bad, 0, "shared: every domain got its exchange's addresses");
	free(d);
}

static void test_burst(const char *const *servers)
{
	enum { N = 5000 };
	struct mx_domain *d = calloc(N, sizeof *d);
	struct mx_stats st;
	size_t i, bad = 0;
	int r;

	for (i = 0; i < N; i++) {
		char nm[64];

		snprintf(nm, sizeof nm, "burst%zu.f.test", i);
		d[i].domain = mx_store_str(store, nm, strlen(nm));
	}
	r = mx_resolve(newstore(), d, N, servers, 2000, 2, 100, AF_INET, &st, NULL);
	is_int(r, 0, "burst: returns 0");
	diag("burst: %zu domains, %zu queries in %.3f s (%.0f domains/s), peak in flight %zu", st.domains, st.queries,
	     st.seconds, st.domains / (st.seconds > 0 ? st.seconds : 1e-9), st.peak_inflight);
	is_int(st.lost, 0, "burst: 5,000 domains at 100 in flight, nothing lost");
	is_int(st.retries, 0, "burst: nothing retried");
	is_int(st.answers, st.queries, "burst: every query answered");
	is_int(st.queries, N + 50, "burst: 5,000 MX + 50 A");
	is_int(st.by_status[MXS_OK], N, "burst: every domain ok");
	is_int(st.peak_inflight, 100, "burst: in flight capped at 100 (and reached)");
	for (i = 0; i < N; i++) {
		char want[128];

		snprintf(want, sizeof want, "bmx%zu.f.test/10/ok/127.0.3.%zu", i % 50, i % 50 + 1);
		if (strcmp(mx_desc(&d[i]), want) != 0 && bad++ < 3)
			diag("%s: %s, want %s", d[i].domain, mx_desc(&d[i]), want);
	}
	is_int(bad, 0, "burst: every domain has its own exchange and address");
	free(d);
}

/* A server that never answers: every lookup times out and is counted lost. */
static void test_silent(void)
{
	static const char *const names[] = { "a.example", "b.example", "c.example" };
	struct mx_domain *d = mkdoms(names, 3);
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	char buf[64];
	const char *servers[2] = { buf, NULL };
	struct mx_stats st;
	int s = socket(AF_INET, SOCK_DGRAM, 0), r;
	double t0 = now_s(), dt;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *)&sin, sizeof sin);
	getsockname(s, (struct sockaddr *)&sin, &sl);
	snprintf(buf, sizeof buf, "127.0.0.1:%u", ntohs(sin.sin_port));
	r = mx_resolve(newstore(), d, 3, servers, 100, 2, 0, AF_UNSPEC, &st, NULL);
	dt = now_s() - t0;
	is_int(r, 0, "silent server: returns 0");
	ok(d[0].status == MXS_TIMEOUT && d[1].status == MXS_TIMEOUT && d[2].status == MXS_TIMEOUT,
	   "silent server: every domain times out");
	is_int(st.lost, 3, "silent server: 3 lookups lost");
	is_int(st.retries, 3, "silent server: each retried once (tries 2)");
	is_int(st.answers, 0, "silent server: no answer");
	is_int(st.by_status[MXS_TIMEOUT], 3, "silent server: by_status");
	ok(dt < 2.0, "silent server: bounded by timeout x tries (%.2f s)", dt);
	close(s);
	free(d);
}

static void test_errors(const char *const *servers)
{
	static const char *const names[] = { "ok.f.test", "", "nx2.f.test" };
	static const char *const bad1[] = { "ns.example.net", NULL };
	static const char *const bad2[] = { "127.0.0.1,x", NULL };
	static const char *const none[] = { NULL };
	struct mx_domain *d = mkdoms(names, 3);
	struct mx_stats st;
	char *eb = NULL;
	size_t el = 0;
	FILE *errs = open_memstream(&eb, &el);

	is_int(mx_resolve(newstore(), d, 3, bad1, 100, 1, 0, AF_UNSPEC, &st, errs), -1,
	       "host name as DNS server rejected");
	is_int(mx_resolve(newstore(), d, 3, bad2, 100, 1, 0, AF_UNSPEC, &st, errs), -1, "CSV-looking server rejected");
	is_int(mx_resolve(newstore(), d, 3, none, 100, 1, 0, AF_UNSPEC, &st, errs), -1, "empty server list rejected");
	is_int(mx_resolve(newstore(), d, 3, servers, 100, 1, 0, 12345, &st, errs), -1, "bad families rejected");
	is_int(mx_resolve(newstore(), NULL, 3, servers, 100, 1, 0, AF_UNSPEC, &st, errs), -1, "NULL domains rejected");
	fflush(errs);
	ok(eb && strstr(eb, "mx: invalid DNS server 'ns.example.net'") && strstr(eb, "families must be"),
	   "setup errors explained on errs");
	is_int(mx_resolve(newstore(), d, 0, servers, 100, 1, 0, AF_UNSPEC, &st, NULL), 0, "no domain: returns 0");
	is_int(st.queries, 0, "no domain: no query");
	is_int(mx_resolve(newstore(), d, 3, servers, 1000, 1, 0, AF_UNSPEC, &st, NULL), 0,
	       "empty domain name: returns 0");
	ok(d[1].status == MXS_ERROR && d[1].nmx == 0, "empty domain name: error, not asked");
	ok(d[0].status == MXS_OK && d[2].status == MXS_NXDOMAIN, "the others resolved");
	is_int(st.queries, 2 + 4, "2 MX + A/AAAA of mx1, mx2");
	is_str(mx_status_name(MXS_NULL_MX), "null-mx", "mx_status_name(NULL_MX)");
	is_str(mx_status_name(MXS_ERROR), "error", "mx_status_name(ERROR)");
	is_str(mx_status_name(MXS__COUNT), "?", "mx_status_name out of range");
	fclose(errs);
	free(eb);
	free(d);
}

int main(void)
{
	struct fake *f = calloc(1, sizeof *f);
	char server[64];
	const char *servers[2] = { server, NULL };

	if (!ok(f && fake_start(f) == 0, "fake DNS server started"))
		return done_testing();
	newstore();
	snprintf(server, sizeof server, "127.0.0.1:%u", f->port);
	test_cases(f, servers);
	test_formerr(f, servers);
	test_shared(f, servers);
	test_burst(servers);
	test_silent();
	test_errors(servers);
	fake_stop(f);
	free(f);
	freestores();
	return done_testing();
}
