/*
 * mx: bounded-concurrency MX -> A/AAAA resolution of mail domains with c-ares 1.18.
 *
 * One pass, one c-ares channel, one private epoll loop (ARES_OPT_SOCK_STATE_CB +
 * ares_process_fd, as in resolve.c). Work comes from two sources: a cursor over the domains
 * (one MX query each) and a FIFO of address queries (A and/or AAAA) that MX answers feed.
 * Every exchange name goes through a host table (open addressing, case-insensitive, trailing
 * dot ignored) the first time it is seen, and only then are its address queries queued, so a
 * name shared by a million domains is asked once. A domain whose MX query says NODATA puts
 * its own name into the same table (RFC 5321 section 5.1 implicit MX). The FIFO is served
 * before the cursor, which keeps the table's pending work short. At most `inflight` queries
 * are outstanding, each tied to a slot of a fixed pool that carries what the answer is for.
 *
 * Queries are built here (ares_create_query) and sent with ares_send rather than ares_query,
 * for two reasons: the AD bit can be set in the header (RFC 6840 section 5.7), and the RCODE
 * is read from the raw answer, so NXDOMAIN, SERVFAIL and REFUSED stay distinct (with
 * ARES_FLAG_NOCHECKRESP, c-ares hands such answers over instead of trying the next server).
 * c-ares 1.18's ares_send keeps the ID it is given (it does not pick one), so IDs are drawn at
 * random here and kept unique among outstanding queries with a 65536-bit map.
 *
 * Results are assembled after the loop: each host's addresses are sorted and de-duplicated
 * once, then copied into every domain that names the host. Doing it afterwards keeps the
 * output independent of the order in which answers arrive.
 */
#include "mxscan/mx.h"
#include "mxscan/resolve.h"
#include "mxscan/target.h"

#include <ares.h>
#include <ares_dns.h>
#include <arpa/nameser.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define MH_NONE      UINT32_MAX
#define MH_PENDING   (-1)
#define MH_NOT_ASKED (-2)
#define MX_C_IN      1
#define MX_T_A       1
#define MX_T_CNAME   5
#define MX_T_MX      15
#define MX_T_AAAA    28
#define MX_RCVBUF    (4 * 1024 * 1024)

static const char *const mx_status_names[] = {
	[MXS_OK] = "ok",           [MXS_NXDOMAIN] = "nxdomain", [MXS_NODATA] = "nodata",
	[MXS_NULL_MX] = "null-mx", [MXS_SERVFAIL] = "servfail", [MXS_REFUSED] = "refused",
	[MXS_TIMEOUT] = "timeout", [MXS_ERROR] = "error",
};
_Static_assert(sizeof mx_status_names / sizeof mx_status_names[0] == MXS__COUNT,
	       "mx_status_names out of step with enum mx_status");

const char *mx_status_name(enum mx_status s)
{
	if ((unsigned)s >= MXS__COUNT)
		return "?";
	return mx_status_names[s];
}

enum mq_kind { MQ_MX, MQ_A, MQ_AAAA };

struct mh_addr {
	uint8_t v6;
	uint8_t a[16];
};

/* A name looked up for addresses: an exchange, or a domain tried as its own implicit MX. */
struct mh_host {
	char *name;         /* as first seen, trailing dot stripped */
	char *cname_target; /* end of the CNAME chain of an answer, NULL when not an alias */
	struct mh_addr *addrs;
	uint32_t naddrs, cap;
	int8_t st[2]; /* per family (0 = A, 1 = AAAA): enum mx_status or MH_* */
	enum mx_status addr_status;
};

struct mx_ctx;

struct mx_slot {
	struct mx_ctx *ctx;
	uint32_t idx; /* domain index (MQ_MX) or host index */
	uint8_t kind; /* enum mq_kind */
	uint8_t edns; /* the query carried an OPT RR */
	uint16_t id;
	int next_free; /* free-list link, -1 = end */
};

struct mx_hq {
	uint32_t host;
	uint8_t v6;
};

struct mx_ctx {
	ares_channel ch;
	struct dns_poll poll; /* epoll set of c-ares sockets (resolve.h) */
	int oom;
	struct mx_domain *doms;
	size_t n;
	uint32_t *dom_h;  /* n * MX_MAX_HOSTS host indices of the kept exchanges (MH_NONE for ".") */
	uint8_t *dom_imp; /* implicit MX tried: dom_h[d * MX_MAX_HOSTS] is the domain's own name */
	struct mh_host *hosts;
	size_t nhosts, cap_hosts;
	uint32_t *table;  /* host indices, MH_NONE = empty */
	size_t tslots;    /* power of two */
	struct mx_hq *hq; /* address queries waiting for a slot: hq[hq_head..hq_len) */
	size_t hq_head, hq_len, hq_cap;
	int fams[2], nfams;
	struct mx_slot *slots;
	int free_head;
	size_t inflight;
	uint64_t rng;
	uint8_t ids[65536 / 8]; /* query IDs outstanding */
	struct mx_stats *st;
};

/* ---------------------------------------------------------------- names and hosts */

static uint64_t mx_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 0x100000001b3ull;
	}
	return h ^ (h >> 29) ^ (h >> 47);
}

/* Length of name without its trailing dot (an escaped "\." is part of the last label). */
static size_t mx_name_len(const char *name)
{
	size_t len = strlen(name), bs = 0;

	if (len == 0 || name[len - 1] != '.')
		return len;
	while (bs + 1 < len && name[len - 2 - bs] == '\\')
		bs++;
	return bs % 2 ? len : len - 1;
}

static int mx_table_grow(struct mx_ctx *c)
{
	size_t nslots = c->tslots ? c->tslots * 2 : 1024, i, j;
	uint32_t *t = malloc(nslots * sizeof *t);

	if (!t)
		return -1;
	memset(t, 0xff, nslots * sizeof *t);
	for (i = 0; i < c->nhosts; i++) {
		const char *nm = c->hosts[i].name;

		for (j = mx_hash(nm, strlen(nm)) & (nslots - 1); t[j] != MH_NONE; j = (j + 1) & (nslots - 1))
			;
		t[j] = (uint32_t)i;
	}
	free(c->table);
	c->table = t;
	c->tslots = nslots;
	return 0;
}

static int mx_hq_push(struct mx_ctx *c, uint32_t host, int v6)
{
	if (c->hq_len == c->hq_cap) {
		size_t ncap = c->hq_cap ? c->hq_cap * 2 : 256;
		struct mx_hq *nq = realloc(c->hq, ncap * sizeof *nq);

		if (!nq)
			return -1;
		c->hq = nq;
		c->hq_cap = ncap;
	}
	c->hq[c->hq_len].host = host;
	c->hq[c->hq_len].v6 = (uint8_t)v6;
	c->hq_len++;
	return 0;
}

/*
 * Index of the host named name (trailing dot ignored, case-insensitive), added and its
 * address queries queued when new. MH_NONE (and c->oom set) when out of memory.
 */
static uint32_t mx_host_get(struct mx_ctx *c, const char *name)
{
	size_t len = mx_name_len(name), j;
	struct mh_host *h;
	uint64_t hv = mx_hash(name, len);
	int f;

	if (c->tslots) {
		for (j = hv & (c->tslots - 1); c->table[j] != MH_NONE; j = (j + 1) & (c->tslots - 1)) {
			const char *o = c->hosts[c->table[j]].name;

			if (strlen(o) == len && strncasecmp(o, name, len) == 0)
				return c->table[j];
		}
	}
	if ((c->nhosts + 1) * 2 > c->tslots) {
		if (mx_table_grow(c) < 0)
			goto oom;
	}
	if (c->nhosts == c->cap_hosts) {
		size_t ncap = c->cap_hosts ? c->cap_hosts * 2 : 64;
		struct mh_host *nh = realloc(c->hosts, ncap * sizeof *nh);

		if (!nh)
			goto oom;
		c->hosts = nh;
		c->cap_hosts = ncap;
	}
	h = &c->hosts[c->nhosts];
	memset(h, 0, sizeof *h);
	h->name = strndup(name, len);
	if (!h->name)
		goto oom;
	h->st[0] = h->st[1] = MH_NOT_ASKED;
	for (f = 0; f < c->nfams; f++) {
		if (mx_hq_push(c, (uint32_t)c->nhosts, c->fams[f]) < 0) {
			free(h->name);
			goto oom;
		}
		h->st[c->fams[f]] = MH_PENDING;
	}
	for (j = hv & (c->tslots - 1); c->table[j] != MH_NONE; j = (j + 1) & (c->tslots - 1))
		;
	c->table[j] = (uint32_t)c->nhosts;
	return (uint32_t)c->nhosts++;
oom:
	c->oom = 1;
	return MH_NONE;
}

static void mx_push_addr(struct mx_ctx *c, struct mh_host *h, int v6, const void *a)
{
	struct mh_addr *ma;

	if (h->naddrs == h->cap) {
		uint32_t ncap = h->cap ? h->cap * 2 : 2;
		struct mh_addr *na = realloc(h->addrs, ncap * sizeof *na);

		if (!na) {
			c->oom = 1;
			return;
		}
		h->addrs = na;
		h->cap = ncap;
	}
	ma = &h->addrs[h->naddrs++];
	memset(ma, 0, sizeof *ma);
	ma->v6 = (uint8_t)v6;
	memcpy(ma->a, a, v6 ? 16 : 4);
}

/* ---------------------------------------------------------------- raw answers */

/*
 * End of the CNAME chain that starts at the question name of the answer abuf, written to out
 * (outlen bytes). Returns 1 when the question name is an alias, 0 when not, -1 when the answer
 * cannot be walked. c-ares's A/AAAA parsers follow the chain but say nothing when the alias
 * target has no address (NODATA), hence this walk of the answer section.
 */
static int mx_cname_end(const unsigned char *abuf, int alen, char *out, size_t outlen)
{
	enum { MAXC = 16 };
	char *owner[MAXC], *target[MAXC], *qname = NULL, *name;
	const unsigned char *p;
	unsigned qd, an, i, nc = 0, hops;
	long enc;
	int rc = -1;

	if (alen < HFIXEDSZ)
		return -1;
	qd = DNS_HEADER_QDCOUNT(abuf);
	an = DNS_HEADER_ANCOUNT(abuf);
	if (qd != 1)
		return -1;
	p = abuf + HFIXEDSZ;
	if (ares_expand_name(p, abuf, alen, &qname, &enc) != ARES_SUCCESS)
		return -1;
	p += enc + QFIXEDSZ;
	for (i = 0; i < an && p < abuf + alen; i++) {
		unsigned type, rdlen;

		if (ares_expand_name(p, abuf, alen, &name, &enc) != ARES_SUCCESS)
			goto out;
		p += enc;
		if (p + RRFIXEDSZ > abuf + alen) {
			ares_free_string(name);
			goto out;
		}
		type = DNS_RR_TYPE(p);
		rdlen = DNS_RR_LEN(p);
		p += RRFIXEDSZ;
		if (p + rdlen > abuf + alen) {
			ares_free_string(name);
			goto out;
		}
		if (type == MX_T_CNAME && nc < MAXC) {
			char *t;

			if (ares_expand_name(p, abuf, alen, &t, &enc) != ARES_SUCCESS) {
				ares_free_string(name);
				goto out;
			}
			owner[nc] = name;
			target[nc] = t;
			nc++;
		} else {
			ares_free_string(name);
		}
		p += rdlen;
	}
	/* Follow the chain from the question name, whatever order the records came in. */
	name = qname;
	for (hops = 0; hops < MAXC; hops++) {
		for (i = 0; i < nc; i++)
			if (strcasecmp(owner[i], name) == 0)
				break;
		if (i == nc)
			break;
		name = target[i];
	}
	rc = name != qname;
	if (rc)
		snprintf(out, outlen, "%s", name);
out:
	for (i = 0; i < nc; i++) {
		ares_free_string(owner[i]);
		ares_free_string(target[i]);
	}
	ares_free_string(qname);
	return rc;
}

/* ---------------------------------------------------------------- c-ares glue */

static uint16_t mx_new_id(struct mx_ctx *c)
{
	for (;;) {
		uint64_t x = c->rng;
		uint16_t id;

		/* xorshift64*: unpredictable enough for loopback and resolver use, cheap */
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		c->rng = x;
		id = (uint16_t)((x * 0x2545f4914f6cdd1dull) >> 48);
		if (!(c->ids[id >> 3] & (1u << (id & 7)))) {
			c->ids[id >> 3] |= (uint8_t)(1u << (id & 7));
			return id;
		}
	}
}

static void mx_free_id(struct mx_ctx *c, uint16_t id)
{
	c->ids[id >> 3] &= (uint8_t) ~(1u << (id & 7));
}

static void mx_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen);

/* Build and send the query of slot s (its kind, idx and edns set). May call mx_answer at once. */
static void mx_send(struct mx_ctx *c, struct mx_slot *s)
{
	unsigned char *q = NULL;
	const char *name;
	int ql = 0, r, type;

	if (s->kind == MQ_MX) {
		name = c->doms[s->idx].domain;
		type = MX_T_MX;
	} else {
		name = c->hosts[s->idx].name;
		type = s->kind == MQ_AAAA ? MX_T_AAAA : MX_T_A;
	}
	s->id = mx_new_id(c);
	r = ares_create_query(name, MX_C_IN, type, s->id, 1, &q, &ql, s->edns ? MX_EDNS_UDP_SIZE : 0);
	if (r != ARES_SUCCESS) {
		mx_answer(s, r, 0, NULL, 0);
		return;
	}
	q[3] |= 0x20; /* AD: RFC 6840 section 5.7 */
	ares_send(c->ch, q, ql, mx_answer, s);
	ares_free_string(q);
}

static enum mx_status mx_map_rcode(int rcode)
{
	switch (rcode) {
	case 0: return MXS_OK;
	case 2: return MXS_SERVFAIL;
	case 3: return MXS_NXDOMAIN;
	case 5: return MXS_REFUSED;
	default: return MXS_ERROR; /* FORMERR, NOTIMP, ... */
	}
}

static int mx_cmp_reply(const void *pa, const void *pb)
{
	const struct ares_mx_reply *a = *(const struct ares_mx_reply *const *)pa;
	const struct ares_mx_reply *b = *(const struct ares_mx_reply *const *)pb;
	int r;

	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	r = strcasecmp(a->host, b->host);
	return r ? r : strcmp(a->host, b->host);
}

enum mx_status mx_answer_mx(const unsigned char *abuf, int alen, struct mx_domain *dom)
{
	struct ares_mx_reply *head = NULL, *m, **v = NULL;
	size_t cnt = 0, i;
	int r;

	dom->nmx = dom->mx_total = 0;
	dom->ad = 0;
	if (!abuf || alen < HFIXEDSZ)
		return dom->status = MXS_ERROR;
	dom->ad = (abuf[3] & 0x20) != 0;
	dom->status = mx_map_rcode(DNS_HEADER_RCODE(abuf));
	if (dom->status != MXS_OK)
		return dom->status;
	r = ares_parse_mx_reply(abuf, alen, &head);
	if (r == ARES_SUCCESS && !head)
		r = ARES_ENODATA;
	if (r == ARES_ENODATA) {
		/* RFC 5321 section 5.1: no MX, the caller tries the domain itself as the implicit MX. */
		dom->status = MXS_NODATA;
		goto out;
	}
	if (r != ARES_SUCCESS) {
		dom->status = MXS_ERROR;
		goto out;
	}
	for (m = head; m; m = m->next)
		cnt++;
	v = malloc(cnt * sizeof *v);
	if (!v) {
		dom->status = MXS_ERROR;
		goto out;
	}
	for (i = 0, m = head; m; m = m->next)
		v[i++] = m;
	qsort(v, cnt, sizeof *v, mx_cmp_reply);
	if (cnt == 1 && v[0]->host[0] == '\0' && v[0]->priority == 0) {
		/* RFC 7505: "0 ." says the domain accepts no mail. c-ares gives the root as "". */
		dom->status = MXS_NULL_MX;
		goto out;
	}
	dom->mx_total = (int)(cnt > INT_MAX ? INT_MAX : cnt);
	for (i = 0; i < cnt && i < MX_MAX_HOSTS; i++) {
		struct mx_host *mh = &dom->mx[i];

		memset(mh, 0, sizeof *mh);
		snprintf(mh->name, sizeof mh->name, "%.*s", (int)mx_name_len(v[i]->host), v[i]->host);
		mh->pref = v[i]->priority;
		mh->addr_status = MXS_NODATA;
		dom->nmx++;
	}
out:
	free(v);
	if (head)
		ares_free_data(head);
	return dom->status;
}

enum mx_status mx_answer_addr(const unsigned char *abuf, int alen, int v6, char *cname, size_t cnamelen, int *is_alias,
			      void (*add)(void *arg, const void *addr), void *arg)
{
	struct hostent *he = NULL;
	enum mx_status res;
	int r;

	*is_alias = 0;
	if (!abuf || alen < HFIXEDSZ)
		return MXS_ERROR;
	res = mx_map_rcode(DNS_HEADER_RCODE(abuf));
	if (res != MXS_OK)
		return res;
	if (cname && cnamelen && mx_cname_end(abuf, alen, cname, cnamelen) == 1)
		*is_alias = 1;
	r = v6 ? ares_parse_aaaa_reply(abuf, alen, &he, NULL, NULL) : ares_parse_a_reply(abuf, alen, &he, NULL, NULL);
	if (r == ARES_SUCCESS && (!he || !he->h_addr_list || !he->h_addr_list[0]))
		r = ARES_ENODATA;
	if (r == ARES_SUCCESS) {
		char **p;

		for (p = he->h_addr_list; *p; p++)
			add(arg, *p);
		res = MXS_OK;
	} else {
		res = r == ARES_ENODATA ? MXS_NODATA : MXS_ERROR;
	}
	if (he)
		ares_free_hostent(he);
	return res;
}

/* Domain d's MX answer: interpret it, then queue the address lookups of its exchanges. */
static void mx_got_mx(struct mx_ctx *c, uint32_t d, const unsigned char *abuf, int alen)
{
	struct mx_domain *dom = &c->doms[d];
	uint32_t h;
	int i;

	switch (mx_answer_mx(abuf, alen, dom)) {
	case MXS_NODATA:
		h = mx_host_get(c, dom->domain);
		if (h == MH_NONE)
			return;
		c->dom_h[(size_t)d * MX_MAX_HOSTS] = h;
		c->dom_imp[d] = 1;
		return;
	case MXS_OK:
		for (i = 0; i < dom->nmx; i++) {
			h = MH_NONE;
			if (dom->mx[i].name[0]) {
				h = mx_host_get(c, dom->mx[i].name);
				if (h == MH_NONE)
					return;
			}
			c->dom_h[(size_t)d * MX_MAX_HOSTS + (size_t)i] = h;
		}
		return;
	default: return;
	}
}

struct mx_push_arg {
	struct mx_ctx *c;
	struct mh_host *h;
	int v6;
};

static void mx_push_cb(void *arg, const void *addr)
{
	struct mx_push_arg *a = arg;

	mx_push_addr(a->c, a->h, a->v6, addr);
}

/* Host hi's A or AAAA answer. */
static void mx_got_addr(struct mx_ctx *c, uint32_t hi, int v6, const unsigned char *abuf, int alen)
{
	struct mh_host *h = &c->hosts[hi];
	struct mx_push_arg pa = { c, h, v6 };
	char target[1024];
	int alias;

	h->st[v6] = (int8_t)mx_answer_addr(abuf, alen, v6, h->cname_target ? NULL : target, sizeof target, &alias,
					   mx_push_cb, &pa);
	if (alias) {
		h->cname_target = strdup(target);
		if (!h->cname_target)
			c->oom = 1;
	}
}

static void mx_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct mx_slot *s = arg;
	struct mx_ctx *c = s->ctx;
	enum mx_status res;

	if (status == ARES_EDESTRUCTION)
		return; /* channel torn down on an error path: nothing is read any more */
	/* timeouts counts every try that timed out; the last one of a lookup that ends in
	 * ARES_ETIMEOUT was not followed by a retransmission. */
	c->st->retries += (size_t)timeouts - (status == ARES_ETIMEOUT && timeouts > 0);
	mx_free_id(c, s->id);
	if (status == ARES_SUCCESS && alen >= HFIXEDSZ) {
		int rcode = DNS_HEADER_RCODE(abuf);

		if (rcode == 1 && s->edns) {
			/* FORMERR to a query with OPT: a server without EDNS (RFC 6891 section 7). */
			s->edns = 0;
			c->st->retries++;
			mx_send(c, s);
			return;
		}
		c->st->answers++;
		if (s->kind == MQ_MX)
			mx_got_mx(c, s->idx, abuf, alen);
		else
			mx_got_addr(c, s->idx, s->kind == MQ_AAAA, abuf, alen);
	} else {
		/* No usable response: timeout, unreachable server, bad name, ENOMEM... */
		if (status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED)
			c->st->lost++;
		res = status == ARES_ETIMEOUT ? MXS_TIMEOUT : MXS_ERROR;
		if (s->kind == MQ_MX)
			c->doms[s->idx].status = res;
		else
			c->hosts[s->idx].st[s->kind == MQ_AAAA] = (int8_t)res;
	}
	s->next_free = c->free_head;
	c->free_head = (int)(s - c->slots);
	c->inflight--;
}

/* ---------------------------------------------------------------- assembly */

static int mx_addr_cmp(const void *pa, const void *pb)
{
	const struct mh_addr *a = pa, *b = pb;

	if (a->v6 != b->v6)
		return a->v6 < b->v6 ? -1 : 1;
	return memcmp(a->a, b->a, 16);
}

/* Sort and de-duplicate h's addresses and settle its addr_status. */
static void mx_host_finish(struct mx_ctx *c, struct mh_host *h)
{
	/* Most telling first when no family gave an address (same order as resolve.c). */
	static const enum mx_status order[] = { MXS_NXDOMAIN, MXS_TIMEOUT, MXS_SERVFAIL,
						MXS_REFUSED,  MXS_ERROR,   MXS_NODATA };
	uint32_t i, w = 0;
	size_t k;
	int f;

	if (h->naddrs > 1)
		qsort(h->addrs, h->naddrs, sizeof *h->addrs, mx_addr_cmp);
	for (i = 0; i < h->naddrs; i++)
		if (w == 0 || mx_addr_cmp(&h->addrs[w - 1], &h->addrs[i]) != 0)
			h->addrs[w++] = h->addrs[i];
	h->naddrs = w;
	if (w > 0) {
		h->addr_status = MXS_OK;
		return;
	}
	h->addr_status = MXS_ERROR;
	for (k = 0; k < sizeof order / sizeof order[0]; k++)
		for (f = 0; f < c->nfams; f++)
			if (h->st[c->fams[f]] == (int8_t)order[k]) {
				h->addr_status = order[k];
				return;
			}
}

static void mx_fill_addr(struct mx_host *mh, const struct mh_addr *a)
{
	size_t k = (size_t)mh->naddr++;

	memset(&mh->addr[k], 0, sizeof mh->addr[k]);
	if (a->v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&mh->addr[k];

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a->a, 16);
		mh->addrlen[k] = sizeof *sin6;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&mh->addr[k];

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a->a, 4);
		mh->addrlen[k] = sizeof *sin;
	}
}

/* Copy host h's result into mh (name and pref already set). */
static void mx_fill_host(struct mx_host *mh, const struct mh_host *h)
{
	uint32_t n4 = 0, n6, k4, k6, i;

	mh->addr_status = h->addr_status;
	mh->cname = h->cname_target != NULL;
	if (h->cname_target)
		snprintf(mh->cname_target, sizeof mh->cname_target, "%.*s", (int)mx_name_len(h->cname_target),
			 h->cname_target);
	mh->naddr_total = (int)h->naddrs;
	mh->naddr = 0;
	while (n4 < h->naddrs && !h->addrs[n4].v6)
		n4++;
	n6 = h->naddrs - n4;
	/* Over the cap, each family keeps at least half the slots it can fill. */
	k4 = n4;
	k6 = n6;
	if (n4 + n6 > MX_MAX_ADDRS) {
		if (n4 <= MX_MAX_ADDRS / 2) {
			k6 = MX_MAX_ADDRS - n4;
		} else if (n6 <= MX_MAX_ADDRS / 2) {
			k4 = MX_MAX_ADDRS - n6;
		} else {
			k4 = MX_MAX_ADDRS / 2;
			k6 = MX_MAX_ADDRS - k4;
		}
	}
	for (i = 0; i < k4; i++)
		mx_fill_addr(mh, &h->addrs[i]);
	for (i = 0; i < k6; i++)
		mx_fill_addr(mh, &h->addrs[n4 + i]);
}

static void mx_assemble(struct mx_ctx *c)
{
	size_t d, i;

	for (i = 0; i < c->nhosts; i++)
		mx_host_finish(c, &c->hosts[i]);
	for (d = 0; d < c->n; d++) {
		struct mx_domain *dom = &c->doms[d];
		const uint32_t *dh = &c->dom_h[d * MX_MAX_HOSTS];

		if (c->dom_imp[d]) {
			const struct mh_host *h = &c->hosts[dh[0]];

			/* An address, or a failure that does not say there is none, makes the implicit
			 * MX worth recording; NODATA/NXDOMAIN mean the domain has no mail host. */
			if (h->addr_status != MXS_NODATA && h->addr_status != MXS_NXDOMAIN) {
				struct mx_host *mh = &dom->mx[0];

				memset(mh, 0, sizeof *mh);
				snprintf(mh->name, sizeof mh->name, "%.*s", (int)mx_name_len(dom->domain), dom->domain);
				mh->pref = 0;
				mx_fill_host(mh, h);
				dom->implicit_mx = 1;
				dom->nmx = dom->mx_total = 1;
			}
		} else {
			for (i = 0; i < (size_t)dom->nmx; i++)
				if (dh[i] != MH_NONE)
					mx_fill_host(&dom->mx[i], &c->hosts[dh[i]]);
		}
		c->st->by_status[dom->status]++;
	}
}

/* ---------------------------------------------------------------- driver */

static double mx_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int mx_resolve(struct mx_domain *doms, size_t n, const char *const *servers, int timeout_ms, int tries,
	       unsigned inflight, int families, struct mx_stats *st, FILE *errs)
{
	struct mx_stats local;
	struct mx_ctx *c = NULL;
	struct ares_options opts;
	size_t next_dom = 0, i;
	int lib = 0, nomem = 0, rc = -1, r;
	char lookups[] = "b";
	double t0 = mx_now();

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	if (!doms && n > 0) {
		if (errs)
			fprintf(errs, "mx: invalid arguments\n");
		goto out;
	}
	if (inflight == 0)
		inflight = MX_DEFAULT_INFLIGHT;
	if (inflight > MX_MAX_INFLIGHT)
		inflight = MX_MAX_INFLIGHT;
	st->inflight = inflight;
	st->domains = n;
	for (i = 0; i < n; i++) {
		doms[i].status = MXS_ERROR;
		doms[i].implicit_mx = doms[i].ad = 0;
		doms[i].nmx = doms[i].mx_total = 0;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		nomem = 1;
		goto out;
	}
	c->poll.ep = -1;
	c->st = st;
	c->doms = doms;
	c->n = n;
	if (families == AF_INET || families == AF_UNSPEC)
		c->fams[c->nfams++] = 0;
	if (families == AF_INET6 || families == AF_UNSPEC)
		c->fams[c->nfams++] = 1;
	if (c->nfams == 0) {
		if (errs)
			fprintf(errs, "mx: families must be AF_INET, AF_INET6 or AF_UNSPEC\n");
		goto out;
	}
	c->dom_h = malloc((n ? n : 1) * MX_MAX_HOSTS * sizeof *c->dom_h);
	c->dom_imp = calloc(n ? n : 1, 1);
	c->slots = calloc(inflight, sizeof *c->slots);
	if (!c->dom_h || !c->dom_imp || !c->slots || mx_table_grow(c) < 0) {
		nomem = 1;
		goto out;
	}
	for (i = 0; i < inflight; i++) {
		c->slots[i].ctx = c;
		c->slots[i].next_free = i + 1 < inflight ? (int)i + 1 : -1;
	}
	c->free_head = 0;
	if (getrandom(&c->rng, sizeof c->rng, GRND_NONBLOCK) != (ssize_t)sizeof c->rng)
		c->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	c->rng |= 1; /* xorshift state must not be 0 */

	c->poll.ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->poll.ep < 0) {
		if (errs)
			fprintf(errs, "mx: epoll_create1: %s\n", strerror(errno));
		goto out;
	}
	r = ares_library_init(ARES_LIB_INIT_ALL);
	if (r != ARES_SUCCESS) {
		if (errs)
			fprintf(errs, "mx: ares_library_init: %s\n", ares_strerror(r));
		goto out;
	}
	lib = 1;
	memset(&opts, 0, sizeof opts);
	/* NOCHECKRESP: hand SERVFAIL/REFUSED answers to us as such (see resolve.c). EDNS with
	 * ednspsz: c-ares then takes UDP answers up to that size instead of redoing them over TCP
	 * past 512 bytes; the OPT RR itself is in the queries built by mx_send. */
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_NOCHECKRESP | ARES_FLAG_EDNS;
	opts.ednspsz = MX_EDNS_UDP_SIZE;
	opts.timeout = timeout_ms > 0 ? timeout_ms : MX_DEFAULT_TIMEOUT_MS;
	opts.tries = tries > 0 ? tries : MX_DEFAULT_TRIES;
	opts.lookups = lookups;
	opts.sock_state_cb = resolve_sock_state;
	opts.sock_state_cb_data = &c->poll;
	/* Room for a full window of answers arriving at once (the kernel caps it at rmem_max). */
	opts.socket_receive_buffer_size = (int)(inflight * 2048u < 262144u ? 262144u : inflight * 2048u);
	if (opts.socket_receive_buffer_size > MX_RCVBUF)
		opts.socket_receive_buffer_size = MX_RCVBUF;
	r = ares_init_options(&c->ch, &opts,
			      ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
				      ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_SOCK_RCVBUF);
	if (r != ARES_SUCCESS) {
		c->ch = NULL;
		if (errs)
			fprintf(errs, "mx: ares_init_options: %s\n", ares_strerror(r));
		goto out;
	}
	if (servers && resolve_set_servers(c->ch, servers, errs, "mx") < 0)
		goto out;

	while (next_dom < n || c->hq_head < c->hq_len || c->inflight > 0) {
		/* Address queries first: they finish domains already started. */
		while (c->free_head >= 0 && (c->hq_head < c->hq_len || next_dom < n)) {
			struct mx_slot *s = &c->slots[c->free_head];

			if (c->hq_head < c->hq_len) {
				const struct mx_hq *q = &c->hq[c->hq_head++];

				s->kind = q->v6 ? MQ_AAAA : MQ_A;
				s->idx = q->host;
			} else {
				struct mx_domain *dom = &doms[next_dom];

				s->kind = MQ_MX;
				s->idx = (uint32_t)next_dom++;
				if (!memchr(dom->domain, '\0', sizeof dom->domain) || dom->domain[0] == '\0')
					continue; /* not a name: stays MXS_ERROR, nothing asked */
			}
			c->free_head = s->next_free;
			s->edns = 1;
			c->inflight++;
			st->queries++;
			if (c->inflight > st->peak_inflight)
				st->peak_inflight = c->inflight;
			mx_send(c, s); /* may call mx_answer at once */
		}
		if (c->oom) {
			nomem = 1;
			goto out;
		}
		if (c->inflight == 0)
			continue;
		if (resolve_poll_step(c->ch, &c->poll, errs, "mx") < 0)
			goto out;
	}
	if (c->oom) {
		nomem = 1;
		goto out;
	}
	st->hosts = c->nhosts;
	mx_assemble(c);
	rc = 0;
out:
	if (nomem && errs)
		fprintf(errs, "mx: out of memory\n");
	if (c) {
		if (c->ch)
			ares_destroy(c->ch); /* cancels what is still in flight (error paths) */
		if (c->poll.ep >= 0)
			close(c->poll.ep);
		for (i = 0; i < c->nhosts; i++) {
			free(c->hosts[i].name);
			free(c->hosts[i].cname_target);
			free(c->hosts[i].addrs);
		}
		free(c->hosts);
		free(c->table);
		free(c->hq);
		free(c->dom_h);
		free(c->dom_imp);
		free(c->slots);
		free(c);
	}
	if (lib)
		ares_library_cleanup();
	st->seconds = mx_now() - t0;
	return rc;
}
