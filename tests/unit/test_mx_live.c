/*
 * test_mx_live: mx_resolve against a real authoritative server (knot) on loopback.
 *
 * Runs only when MXSCAN_TEST_DNS=IP:port names a server serving the zone printed by
 * `test_mx_live --zone` (tests/integration/mx.t starts knot for it); otherwise it prints
 * "1..0 # SKIP". Checks real answers for every case: MX sorted by preference with A and AAAA,
 * an exchange that is a CNAME, null MX "0 .", no MX but an A (implicit MX), no MX and no A,
 * an exchange without address and one that does not exist, a domain that does not exist, a
 * domain that is an alias of one with MX, a name outside the served zone (REFUSED), AD clear
 * from an unsigned zone, and 2,000 domains on 20 exchanges (one lookup per exchange, none lost).
 */
#include "mxscan/mx.h"
#include "mxstores.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define N_SHARED 2000
#define N_POOL   20

static void print_zone(void)
{
	int i;

	printf("$ORIGIN mx.test.\n$TTL 300\n");
	printf("@ IN SOA ns1.mx.test. hostmaster.mx.test. 1 3600 600 86400 300\n");
	printf("@ IN NS ns1.mx.test.\nns1 IN A 127.0.0.53\n");
	printf("ok IN MX 20 mx2.mx.test.\nok IN MX 10 mx1.mx.test.\n");
	printf("mx1 IN A 127.0.1.1\nmx1 IN AAAA ::1\nmx2 IN A 127.0.1.2\n");
	printf("nullmx IN MX 0 .\n");
	printf("implicit IN A 127.0.0.9\nimplicit IN TXT \"no MX, an A\"\n");
	printf("nothing IN TXT \"no MX, no address\"\n");
	printf("cnamemx IN MX 10 alias.mx.test.\nalias IN CNAME mx1.mx.test.\n");
	printf("noaddr IN MX 10 bare.mx.test.\nnoaddr IN MX 20 gone.mx.test.\nbare IN TXT \"no address\"\n");
	printf("domalias IN CNAME ok.mx.test.\n");
	for (i = 0; i < N_POOL; i++)
		printf("pool%d IN A 127.0.2.%d\n", i, i + 1);
	for (i = 0; i < N_SHARED; i++)
		printf("d%d IN MX 10 pool%d.mx.test.\n", i, i % N_POOL);
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

static const char *const names[] = {
	"ok.mx.test",     "nullmx.mx.test", "implicit.mx.test", "nothing.mx.test", "cnamemx.mx.test",
	"noaddr.mx.test", "nope.mx.test",   "domalias.mx.test", "outside.example",
};
#define NNAMES (sizeof names / sizeof names[0])

static void test_cases(const char *const *servers)
{
	size_t n = NNAMES + N_SHARED, i, bad = 0;
	struct mx_domain *d = calloc(n, sizeof *d);
	struct mx_stats st;
	int r;

	newstore();
	for (i = 0; i < NNAMES; i++)
		d[i].domain = names[i];
	for (i = 0; i < N_SHARED; i++) {
		char nm[64];

		snprintf(nm, sizeof nm, "d%zu.mx.test", i);
		d[NNAMES + i].domain = mx_store_str(store, nm, strlen(nm));
	}
	r = mx_resolve(store, d, n, servers, 1000, 3, 100, AF_UNSPEC, &st, stdout);
	is_int(r, 0, "mx_resolve against %s", servers[0]);
	diag("%zu domains, %zu queries, %zu answers, %zu retries, %zu lost, %zu hosts in %.3f s", st.domains,
	     st.queries, st.answers, st.retries, st.lost, st.hosts, st.seconds);

	is_int(d[0].status, MXS_OK, "ok: status ok");
	is_str(mx_desc(&d[0]), "mx1.mx.test/10/ok/127.0.1.1,::1;mx2.mx.test/20/ok/127.0.1.2",
	       "ok: two MX sorted by preference, A and AAAA");
	ok(d[0].mx_total == 2 && !d[0].implicit_mx && !(d[0].mx[0].host->cname_target != NULL),
	   "ok: 2 records, not implicit, no CNAME");
	is_int(d[0].ad, 0, "ok: AD clear (knot, unsigned zone, no validation)");

	is_int(d[1].status, MXS_NULL_MX, "nullmx: \"0 .\" is a null MX (RFC 7505)");
	ok(d[1].nmx == 0 && d[1].mx_total == 0, "nullmx: no host");

	is_int(d[2].status, MXS_NODATA, "implicit: MX query NODATA");
	ok(d[2].implicit_mx == 1, "implicit: implicit MX (RFC 5321 5.1)");
	is_str(mx_desc(&d[2]), "implicit.mx.test/0/ok/127.0.0.9", "implicit: the domain's own A, pref 0");

	is_int(d[3].status, MXS_NODATA, "nothing: MX query NODATA");
	ok(d[3].implicit_mx == 0 && d[3].nmx == 0, "nothing: no MX, no A, no implicit MX");

	is_int(d[4].status, MXS_OK, "cnamemx: ok");
	is_str(mx_desc(&d[4]), "alias.mx.test/10/ok/127.0.1.1,::1", "cnamemx: exchange resolved through its CNAME");
	ok((d[4].mx[0].host->cname_target != NULL) == 1 && !strcmp(d[4].mx[0].host->cname_target, "mx1.mx.test"),
	   "cnamemx: exchange flagged as an alias of mx1.mx.test (%s)", d[4].mx[0].host->cname_target);

	is_int(d[5].status, MXS_OK, "noaddr: ok");
	is_str(mx_desc(&d[5]), "bare.mx.test/10/nodata/;gone.mx.test/20/nxdomain/",
	       "noaddr: exchange without address (nodata), absent exchange (nxdomain)");

	is_int(d[6].status, MXS_NXDOMAIN, "nope: absent name is NXDOMAIN");
	is_int(d[6].nmx, 0, "nope: no host");

	is_int(d[7].status, MXS_OK, "domalias: MX through the domain's CNAME");
	is_str(mx_desc(&d[7]), "mx1.mx.test/10/ok/127.0.1.1,::1;mx2.mx.test/20/ok/127.0.1.2",
	       "domalias: same MX as ok.mx.test");

	is_int(d[8].status, MXS_REFUSED, "outside.example: REFUSED by an authoritative server for mx.test only");

	for (i = 0; i < N_SHARED; i++) {
		char want[128];

		snprintf(want, sizeof want, "pool%zu.mx.test/10/ok/127.0.2.%zu", i % N_POOL, i % N_POOL + 1);
		if (d[NNAMES + i].status != MXS_OK || strcmp(mx_desc(&d[NNAMES + i]), want) != 0) {
			if (bad++ < 3)
				diag("%s: %s %s, want %s", d[NNAMES + i].domain, mx_status_name(d[NNAMES + i].status),
				     mx_desc(&d[NNAMES + i]), want);
		}
	}
	is_int(bad, 0, "%d domains on %d exchanges all resolved", N_SHARED, N_POOL);
	/* hosts: mx1 mx2 implicit nothing alias bare gone pool0..19 */
	is_int(st.hosts, 7 + N_POOL, "one address lookup per distinct name");
	is_int(st.queries, n + 2 * (7 + N_POOL), "queries: one MX per domain, A + AAAA per name");
	is_int(st.lost, 0, "nothing lost");
	is_int(st.retries, 0, "nothing retried");
	is_int(st.answers, st.queries, "every query answered");
	is_int(st.by_status[MXS_OK], 4 + N_SHARED, "by_status: ok");
	ok(st.peak_inflight <= 100, "in flight %zu <= 100", st.peak_inflight);
	free(d);
}

int main(int argc, char **argv)
{
	const char *dns = getenv("MXSCAN_TEST_DNS");
	const char *servers[2] = { dns, NULL };

	if (argc > 1 && !strcmp(argv[1], "--zone")) {
		print_zone();
		return 0;
	}
	if (!dns || !*dns) {
		printf("1..0 # SKIP MXSCAN_TEST_DNS unset (run tests/integration/mx.t)\n");
		return 0;
	}
	test_cases(servers);
	freestores();
	return done_testing();
}
