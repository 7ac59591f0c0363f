// fuzz-sources: scanner/mx.c scanner/resolve.c scanner/target.c
// fuzz-libs: -lcares
/*
 * fuzz_dns: raw DNS responses through the code that interprets them for mx_resolve
 * (mx_answer_mx, mx_answer_addr: c-ares's parsers plus our RCODE mapping, MX sorting, null MX
 * detection, name trimming and the CNAME-chain walk of the answer section).
 *
 * Input: byte 0 picks the query the response answers (0: MX, 1: A, 2: AAAA, by value mod 3);
 * the rest is the response as it came off the wire. Checks, aborting on any violation: the
 * status is a known one; an MX result keeps at most MX_MAX_HOSTS exchanges, no more than
 * mx_total, sorted by preference, with NUL-terminated names that fit and no trailing dot
 * left (unless escaped); a null MX or a failure keeps none; an address result is OK exactly
 * when addresses were handed over; a CNAME target is a NUL-terminated string. The same
 * response interpreted twice gives the same result (no hidden state).
 *
 * Seeds (tests/fuzz/corpus/dns/) are answers of knot 3.2 to the queries mx.c sends (RD, AD,
 * EDNS0 1232), recorded from a zone with several MX, a null MX, an MX that is a CNAME, an
 * exchange without address, NXDOMAIN and many A/AAAA records.
 */
#include "mxscan/mx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

struct sink {
	size_t n;
	unsigned sum;
	int v6;
};

static void add(void *arg, const void *addr)
{
	struct sink *s = arg;
	const unsigned char *a = addr;
	size_t i;

	s->n++;
	for (i = 0; i < (s->v6 ? 16u : 4u); i++) /* every byte read: ASan sees a short buffer */
		s->sum = s->sum * 31 + a[i];
}

static void check_mx(const unsigned char *b, int n)
{
	static struct mx_domain d1, d2;
	enum mx_status st;
	int i;

	memset(&d1, 0xa5, sizeof d1);
	strcpy(d1.domain, "fuzz.test");
	st = mx_answer_mx(b, n, &d1);
	CHECK(st == d1.status && st >= MXS_OK && st < MXS__COUNT);
	CHECK(d1.ad == 0 || d1.ad == 1);
	CHECK(d1.nmx >= 0 && d1.nmx <= MX_MAX_HOSTS && d1.nmx <= d1.mx_total);
	if (st != MXS_OK)
		CHECK(d1.nmx == 0);
	else
		CHECK(d1.nmx >= 1);
	for (i = 0; i < d1.nmx; i++) {
		const struct mx_host *h = &d1.mx[i];
		size_t len = strnlen(h->name, sizeof h->name);

		CHECK(len < sizeof h->name);
		CHECK(h->addr_status == MXS_NODATA && h->naddr == 0 && !h->cname);
		if (i > 0)
			CHECK(d1.mx[i - 1].pref <= h->pref);
	}
	memset(&d2, 0, sizeof d2);
	strcpy(d2.domain, "fuzz.test");
	CHECK(mx_answer_mx(b, n, &d2) == st && d2.nmx == d1.nmx && d2.mx_total == d1.mx_total && d2.ad == d1.ad);
	for (i = 0; i < d1.nmx; i++)
		CHECK(strcmp(d1.mx[i].name, d2.mx[i].name) == 0 && d1.mx[i].pref == d2.mx[i].pref);
}

static void check_addr(const unsigned char *b, int n, int v6)
{
	struct sink s1 = { 0, 0, v6 }, s2 = { 0, 0, v6 };
	char cname[300], cname2[300];
	int alias = -1, alias2 = -1;
	enum mx_status st, st2;

	memset(cname, 0x5a, sizeof cname);
	st = mx_answer_addr(b, n, v6, cname, sizeof cname, &alias, add, &s1);
	CHECK(st >= MXS_OK && st < MXS__COUNT);
	CHECK(alias == 0 || alias == 1);
	CHECK((st == MXS_OK) == (s1.n > 0));
	if (alias)
		CHECK(memchr(cname, 0, sizeof cname) != NULL);
	st2 = mx_answer_addr(b, n, v6, cname2, sizeof cname2, &alias2, add, &s2);
	CHECK(st2 == st && alias2 == alias && s2.n == s1.n && s2.sum == s1.sum);
	if (alias)
		CHECK(strcmp(cname, cname2) == 0);
	/* No CNAME buffer: the same status and addresses, no alias reported. */
	s2.n = s2.sum = 0;
	CHECK(mx_answer_addr(b, n, v6, NULL, 0, &alias2, add, &s2) == st && alias2 == 0 && s2.n == s1.n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf;
	int n;

	if (size < 1 || size > 65536)
		return 0;
	n = (int)(size - 1);
	/* An exact-size heap copy so that any read past the response is caught. */
	buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	switch (data[0] % 3) {
	case 0: check_mx(buf, n); break;
	case 1: check_addr(buf, n, 0); break;
	default: check_addr(buf, n, 1); break;
	}
	free(buf);
	return 0;
}
