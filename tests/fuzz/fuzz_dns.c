// fuzz-sources: scanner/mx.c scanner/resolve.c scanner/target.c
// fuzz-libs: -lcares
/*
 * fuzz_dns: raw DNS responses through the code that interprets them for mx_resolve
 * (mx_answer_mx, mx_answer_addr: c-ares's parsers plus our RCODE mapping, MX sorting, null MX
 * detection, name trimming and the CNAME-chain walk of the answer section).
 *
 * Input: byte 0 picks the query the response answers (0: MX, 1: A, 2: AAAA, by value mod 3);
 * the rest is the response as it came off the wire. Checks, aborting on any violation: the
 * status is a known one; an MX result hands over at most MX_MAX_HOSTS exchanges, no more than
 * the answer's total, sorted by preference, with names that fit; a null MX or a failure hands
 * over none; a failing callback turns OK into ERROR; an address result is OK exactly
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

struct exch {
	size_t n;
	char name[MX_MAX_HOSTS][1100]; /* escaped by c-ares: up to 4 bytes per octet */
	unsigned pref[MX_MAX_HOSTS];
};

static int on_exch(void *arg, const char *name, unsigned pref)
{
	struct exch *e = arg;
	size_t len = strlen(name);

	CHECK(e->n < MX_MAX_HOSTS && pref <= 65535);
	CHECK(len < sizeof e->name[0]);
	memcpy(e->name[e->n], name, len + 1);
	e->pref[e->n++] = pref;
	return 0;
}

static int on_exch_fail(void *arg, const char *name, unsigned pref)
{
	(void)arg;
	(void)name;
	(void)pref;
	return -1;
}

static void check_mx(const unsigned char *b, int n)
{
	static struct exch e1, e2;
	size_t t1 = 99, t2 = 99;
	int ad1 = -1, ad2 = -1;
	enum mx_status st;
	size_t i;

	e1.n = e2.n = 0;
	st = mx_answer_mx(b, n, &ad1, &t1, on_exch, &e1);
	CHECK(st >= MXS_OK && st < MXS__COUNT);
	CHECK(ad1 == 0 || ad1 == 1);
	CHECK(e1.n <= MX_MAX_HOSTS && e1.n <= t1);
	if (st != MXS_OK)
		CHECK(e1.n == 0);
	else
		CHECK(e1.n >= 1 && e1.n == (t1 < MX_MAX_HOSTS ? t1 : MX_MAX_HOSTS));
	for (i = 1; i < e1.n; i++)
		CHECK(e1.pref[i - 1] <= e1.pref[i]);
	/* the same response twice: the same result (no hidden state) */
	CHECK(mx_answer_mx(b, n, &ad2, &t2, on_exch, &e2) == st && e2.n == e1.n && t2 == t1 && ad2 == ad1);
	for (i = 0; i < e1.n; i++)
		CHECK(strcmp(e1.name[i], e2.name[i]) == 0 && e1.pref[i] == e2.pref[i]);
	/* a callback that fails (out of memory) turns OK into ERROR and nothing else */
	CHECK(mx_answer_mx(b, n, &ad2, &t2, on_exch_fail, NULL) == (st == MXS_OK ? MXS_ERROR : st));
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
