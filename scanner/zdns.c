/*
 * zdns: one zdns mxlookup / MX JSON line -> a domain with its MX set (see zdns.h).
 *
 * The line is parsed by the bounded reader (jsonr.c) into a tree; every member used is checked
 * for type and range before use, and names go through target_parse_line, so nothing of the
 * line reaches the scan unchecked. The MX entries are sorted as mx_resolve sorts them
 * (preference, then name) and capped at MX_MAX_HOSTS; an exchange's addresses are sorted,
 * de-duplicated and capped by the store as if they had been looked up.
 */
#include "mxscan/zdns.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mxscan/target.h"

static int zd_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int zd_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* 1 when s (NUL-terminated, len bytes) is a host name target lines accept, without port. */
static int zd_hostname(const char *s, size_t len)
{
	struct target t;
	char e[8];

	if (len == 0 || len > 254 || strlen(s) != len || strpbrk(s, ",:#[] \t"))
		return 0;
	return target_parse_line(s, len, &t, e, sizeof e) == 1 && !t.has_addr && t.port == 0;
}

static const struct {
	const char *name;
	enum mx_status st;
} zd_status[] = {
	{ "NOERROR", MXS_OK },       { "NXDOMAIN", MXS_NXDOMAIN }, { "SERVFAIL", MXS_SERVFAIL },
	{ "REFUSED", MXS_REFUSED },  { "TIMEOUT", MXS_TIMEOUT },   { "ITERATIVE_TIMEOUT", MXS_TIMEOUT },
	{ "NO_ANSWER", MXS_NODATA }, { "NO_RECORD", MXS_NODATA },
};

struct zd_mx {
	const char *name; /* "" for the root */
	size_t len;
	uint16_t pref;
	const struct jr_val *v; /* the exchange / answer object */
};

static int zd_cmp(const void *pa, const void *pb)
{
	const struct zd_mx *a = pa, *b = pb;
	int r;

	if (a->pref != b->pref)
		return a->pref < b->pref ? -1 : 1;
	r = strcasecmp(a->name, b->name);
	return r ? r : strcmp(a->name, b->name);
}

/* Append the addresses of array arr (family v6) to a[*n..cap). */
static int zd_addrs(const struct jr_val *arr, int v6, struct mx_addr *a, size_t *n, const char *mx, char *err,
		    size_t errlen)
{
	const struct jr_val *e;
	const char *key = v6 ? "ipv6_addresses" : "ipv4_addresses";

	if (!arr || arr->type == JR_NULL)
		return 0;
	if (arr->type != JR_ARRAY)
		return zd_err(err, errlen, "zdns line: exchange %s: %s is not an array", mx, key);
	for (e = arr->child; e; e = e->next) {
		const char *s = jr_str(e);

		memset(&a[*n], 0, sizeof a[*n]);
		if (!s || strlen(s) != e->len || inet_pton(v6 ? AF_INET6 : AF_INET, s, a[*n].a) != 1)
			return zd_err(err, errlen,
				      "zdns line: exchange %s: %s holds something that is not an %s address", mx, key,
				      v6 ? "IPv6" : "IPv4");
		a[*n].v6 = (uint8_t)v6;
		if (v6 && memcmp(a[*n].a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
			/* stored as the IPv4 address it maps to, as target lines do */
			memmove(a[*n].a, a[*n].a + 12, 4);
			memset(a[*n].a + 4, 0, 12);
			a[*n].v6 = 0;
		}
		(*n)++;
	}
	return 0;
}

static size_t zd_count(const struct jr_val *arr)
{
	return arr && arr->type == JR_ARRAY ? arr->len : 0;
}

int zdns_parse_line(struct jr_doc *jd, char *buf, size_t len, struct mx_store *store, struct mx_domain *dom, char *err,
		    size_t errlen)
{
	const struct jr_val *root, *res, *data, *list, *e, *results;
	const char *name, *status;
	struct zd_mx *mx = NULL;
	struct mx_addr *addrs = NULL;
	size_t nmx = 0, i, k, nlen;
	int given, rc = -1;
	enum mx_status st = MXS_ERROR;

	if (err && errlen)
		err[0] = '\0';
	memset(dom, 0, sizeof *dom);
	if (len > ZDNS_MAX_LINE)
		return zd_err(err, errlen, "zdns line longer than %u bytes", ZDNS_MAX_LINE);
	if (jr_parse(jd, buf, len) < 0)
		return zd_err(err, errlen, "zdns line: invalid JSON at byte %zu: %s", jd->err_pos, jd->err);
	root = jd->root;
	if (root->type != JR_OBJECT)
		return zd_err(err, errlen, "zdns line: not a JSON object");
	name = jr_str(jr_get(root, "name"));
	if (!name)
		return zd_err(err, errlen, "zdns line: no \"name\" string");
	nlen = strlen(name);
	if (nlen > 1 && name[nlen - 1] == '.')
		nlen--;
	{
		char tmp[256];

		if (nlen >= sizeof tmp)
			return zd_err(err, errlen, "zdns line: name longer than 253 bytes");
		memcpy(tmp, name, nlen);
		tmp[nlen] = '\0';
		if (!zd_hostname(tmp, nlen))
			return zd_err(err, errlen, "zdns line: name '%.64s' is not a domain name", tmp);
	}
	res = root;
	results = jr_get(root, "results");
	if (results) {
		if (results->type != JR_OBJECT)
			return zd_err(err, errlen, "zdns line: \"results\" is not an object");
		res = jr_get(results, "MXLOOKUP");
		if (!res)
			res = jr_get(results, "MX");
		if (!res || res->type != JR_OBJECT)
			return zd_err(err, errlen, "zdns line: no MXLOOKUP or MX result");
	}
	status = jr_str(jr_get(res, "status"));
	if (!status)
		return zd_err(err, errlen, "zdns line: no \"status\" string");
	for (i = 0; i < sizeof zd_status / sizeof zd_status[0]; i++)
		if (!strcmp(status, zd_status[i].name))
			st = zd_status[i].st;
	data = jr_get(res, "data");
	if (data && data->type != JR_OBJECT && data->type != JR_NULL)
		return zd_err(err, errlen, "zdns line: \"data\" is not an object");
	list = jr_get(data, "exchanges");
	given = list != NULL;
	if (!list)
		list = jr_get(data, "answers");
	if (list && list->type != JR_ARRAY && list->type != JR_NULL)
		return zd_err(err, errlen, "zdns line: \"%s\" is not an array", given ? "exchanges" : "answers");

	dom->domain = mx_store_str(store, name, nlen);
	if (!dom->domain)
		return zd_err(err, errlen, "out of memory");
	dom->source = given || !list ? MX_SRC_ZDNS : MX_SRC_ZDNS_MX;
	dom->status = (uint8_t)st;
	if (st != MXS_OK)
		return 0; /* no MX set: NXDOMAIN, SERVFAIL, timeout, ... as data */

	mx = calloc(zd_count(list) ? zd_count(list) : 1, sizeof *mx);
	if (!mx)
		return zd_err(err, errlen, "out of memory");
	for (e = list ? list->child : NULL; e; e = e->next) {
		const char *n = jr_str(jr_get(e, given ? "name" : "answer"));
		const char *type = jr_str(jr_get(e, "type"));
		const struct jr_val *pv = jr_get(e, "preference");
		int64_t pref = jr_int(pv, -1);

		if (e->type != JR_OBJECT) {
			zd_err(err, errlen, "zdns line: an MX entry is not an object");
			goto out;
		}
		if (!given && (!type || strcmp(type, "MX") != 0))
			continue; /* CNAME and other records of an MX answer */
		if (!n || pref < 0 || pref > 65535) {
			zd_err(err, errlen, "zdns line: MX entry without %s or a preference 0..65535",
			       given ? "\"name\"" : "\"answer\"");
			goto out;
		}
		mx[nmx].name = n;
		mx[nmx].len = strlen(n);
		if (mx[nmx].len > 0 && n[mx[nmx].len - 1] == '.')
			mx[nmx].len--;
		if (mx[nmx].len > 0) {
			char tmp[256];

			if (mx[nmx].len >= sizeof tmp) {
				zd_err(err, errlen, "zdns line: exchange name longer than 253 bytes");
				goto out;
			}
			memcpy(tmp, n, mx[nmx].len);
			tmp[mx[nmx].len] = '\0';
			if (!zd_hostname(tmp, mx[nmx].len)) {
				zd_err(err, errlen, "zdns line: exchange '%.64s' is not a host name", tmp);
				goto out;
			}
		}
		mx[nmx].pref = (uint16_t)pref;
		mx[nmx].v = e;
		nmx++;
	}
	if (nmx == 0) {
		dom->status = MXS_NODATA; /* NOERROR without MX: zdns tries no implicit MX, neither do we */
		rc = 0;
		goto out;
	}
	qsort(mx, nmx, sizeof *mx, zd_cmp);
	if (nmx == 1 && mx[0].len == 0 && mx[0].pref == 0) {
		dom->status = MXS_NULL_MX; /* RFC 7505 */
		rc = 0;
		goto out;
	}
	dom->mx_total = nmx > UINT16_MAX ? UINT16_MAX : (uint16_t)nmx;
	dom->mx = mx_store_refs(store, nmx < MX_MAX_HOSTS ? nmx : MX_MAX_HOSTS);
	if (!dom->mx) {
		zd_err(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < nmx && i < MX_MAX_HOSTS; i++) {
		struct mx_ref *r = &dom->mx[i];
		char tmp[256];
		struct mx_host *h;

		r->pref = mx[i].pref;
		dom->nmx++;
		if (mx[i].len == 0)
			continue; /* "." among other MX: kept as data, no host */
		memcpy(tmp, mx[i].name, mx[i].len);
		tmp[mx[i].len] = '\0';
		h = mx_store_ref(store, r, tmp, given);
		if (!h) {
			zd_err(err, errlen, "out of memory");
			goto out;
		}
		if (given) {
			const struct jr_val *v4 = jr_get(mx[i].v, "ipv4_addresses");
			const struct jr_val *v6 = jr_get(mx[i].v, "ipv6_addresses");
			size_t cap = zd_count(v4) + zd_count(v6);

			k = 0;
			free(addrs);
			addrs = calloc(cap ? cap : 1, sizeof *addrs);
			if (!addrs) {
				zd_err(err, errlen, "out of memory");
				goto out;
			}
			if (zd_addrs(v4, 0, addrs, &k, tmp, err, errlen) < 0 ||
			    zd_addrs(v6, 1, addrs, &k, tmp, err, errlen) < 0)
				goto out;
			if (mx_store_set_addrs(store, h, addrs, k) < 0) {
				zd_err(err, errlen, "out of memory");
				goto out;
			}
		}
	}
	rc = 0;
out:
	free(mx);
	free(addrs);
	return rc;
}
