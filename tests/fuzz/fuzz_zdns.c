// fuzz-sources: scanner/zdns.c scanner/jsonr.c scanner/json.c scanner/mx.c scanner/resolve.c scanner/target.c
// fuzz-libs: -lcares
/*
 * fuzz_zdns: the zdns input line parser on arbitrary bytes.
 *
 * zdns_parse_line() must return 0 or -1 without any memory error, with a message on -1. On 0
 * the domain must be consistent: a name of 1..253 bytes without NUL; source zdns or zdns-MX;
 * a known status; an MX list only for status ok, with nmx <= MX_MAX_HOSTS and nmx <= mx_total,
 * sorted by preference; every exchange name 1..253 bytes; a given exchange's addresses at most
 * MX_MAX_ADDRS, sorted (IPv4 first) without duplicates and naddr <= naddr_total; an exchange
 * to look up holds no address yet. The store is reused for a while, so exchanges shared
 * between inputs are exercised too. Any violation calls abort().
 */
#include "mxscan/zdns.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct jr_doc doc;
static struct mx_store *store;
static unsigned runs;

static void check_host(const struct mx_host *h)
{
	size_t len = strlen(h->name);

	if (len == 0 || len > 253)
		abort();
	if (!h->given) {
		if (h->naddr != 0)
			abort();
		return;
	}
	if (h->naddr > MX_MAX_ADDRS || h->naddr > h->naddr_total)
		abort();
	if ((h->naddr > 0) != (h->addr_status == MXS_OK))
		abort();
	for (uint32_t k = 1; k < h->naddr; k++) {
		const struct mx_addr *a = &h->addr[k - 1], *b = &h->addr[k];

		if (a->v6 > b->v6 || (a->v6 == b->v6 && memcmp(a->a, b->a, 16) >= 0))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_domain d;
	char err[256], *buf;
	int r;

	if (!store || ++runs % 256 == 0) {
		mx_store_free(store);
		store = mx_store_new();
		if (!store)
			abort();
	}
	buf = malloc(size + 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	r = zdns_parse_line(&doc, buf, size, store, &d, err, sizeof err);
	free(buf);
	if (r == -1) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (r != 0 || !d.domain)
		abort();
	if (strlen(d.domain) == 0 || strlen(d.domain) > 253)
		abort();
	if (d.source != MX_SRC_ZDNS && d.source != MX_SRC_ZDNS_MX)
		abort();
	if (d.status >= MXS__COUNT)
		abort();
	if (d.nmx > 0 && d.status != MXS_OK)
		abort();
	if (d.nmx > MX_MAX_HOSTS || d.nmx > d.mx_total || (d.nmx > 0 && !d.mx))
		abort();
	for (int i = 0; i < d.nmx; i++) {
		if (i > 0 && d.mx[i - 1].pref > d.mx[i].pref)
			abort();
		if (d.mx[i].host)
			check_host(d.mx[i].host);
		if (strlen(mx_ref_name(&d.mx[i])) > 253)
			abort();
	}
	return 0;
}
