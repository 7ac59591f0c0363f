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
 * Results live in a store (struct mx_store): an arena for names, MX lists and addresses, and
 * the host table, whose entries are pointer-stable (chunks of MX_HCHUNK). A domain holds its
 * name and an array of (host, preference) in the arena, so it costs 32 bytes plus its name and
 * 24 per MX; a host's addresses (17 bytes each) are kept once however many domains name it.
 * While the loop runs, answers accumulate in per-host work vectors; afterwards each host's
 * addresses are sorted, de-duplicated and capped once and copied into the arena, which keeps
 * the output independent of the order in which answers arrive.
 */
#include "mxscan/mx.h"
#include "mxscan/resolve.h"
#include "mxscan/target.h"

#include <ares.h>
#include <ares_dns.h>
#include <arpa/nameser.h>
#include <arpa/inet.h>
#include <errno.h>
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
#define MX_HCHUNK    1024u /* hosts per chunk of the store's host table */
#define MX_BLOCK     (64u * 1024u)

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

const char *mx_source_name(enum mx_source s)
{
	return s == MX_SRC_DNS ? "dns" : "zdns";
}

enum mq_kind { MQ_MX, MQ_A, MQ_AAAA };

/* Addresses of a host gathered while the loop runs. */
struct mh_work {
	struct mx_addr *addrs;
	uint32_t naddrs, cap;
	uint8_t used; /* queried in this call: finished after the loop */
};

struct mx_blk {
	struct mx_blk *next;
	size_t used, cap;
	max_align_t data[];
};

struct mx_store {
	struct mx_blk *blk; /* current block first */
	size_t bytes;
	struct mx_host **chunks; /* MX_HCHUNK hosts each */
	size_t nchunks, nhosts;
	uint32_t *table; /* host ids, MH_NONE = empty */
	size_t tslots;   /* power of two */
};

/* Internal per-host id: the index in the store. */
static uint32_t *mx_host_id(struct mx_host *h);

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
	struct mx_store *store;
	struct mx_domain *doms;
	size_t n;
	uint8_t *dom_imp;  /* implicit MX tried: doms[d].mx[0] is the domain's own name */
	struct mh_work *w; /* per host id */
	size_t nw;
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

/* ---------------------------------------------------------------- the store */

/* The extra fields of a host, behind the public part. */
struct mx_host_x {
	struct mx_host h;
	uint32_t id;
};

static uint32_t *mx_host_id(struct mx_host *h)
{
	return &((struct mx_host_x *)(void *)h)->id;
}

static struct mx_host *mx_host_at(const struct mx_store *s, size_t id)
{
	return &((struct mx_host_x *)(void *)s->chunks[id / MX_HCHUNK])[id % MX_HCHUNK].h;
}

static void *mx_alloc(struct mx_store *s, size_t size)
{
	struct mx_blk *b = s->blk;
	void *p;

	size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!b || b->cap - b->used < size) {
		size_t cap = size > MX_BLOCK - sizeof *b ? size : MX_BLOCK - sizeof *b;

		b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->next = s->blk;
		b->used = 0;
		b->cap = cap;
		s->blk = b;
		s->bytes += sizeof *b + cap;
	}
	p = (char *)b->data + b->used;
	b->used += size;
	return p;
}

struct mx_store *mx_store_new(void)
{
	return calloc(1, sizeof(struct mx_store));
}

void mx_store_free(struct mx_store *s)
{
	size_t i;

	if (!s)
		return;
	while (s->blk) {
		struct mx_blk *n = s->blk->next;

		free(s->blk);
		s->blk = n;
	}
	for (i = 0; i < s->nchunks; i++)
		free(s->chunks[i]);
	free(s->chunks);
	free(s->table);
	free(s);
}

const char *mx_store_str(struct mx_store *s, const char *str, size_t len)
{
	char *p = mx_alloc(s, len + 1);

	if (!p)
		return NULL;
	memcpy(p, str, len);
	p[len] = '\0';
	return p;
}

size_t mx_store_bytes(const struct mx_store *s)
{
	return s->bytes + s->nchunks * MX_HCHUNK * sizeof(struct mx_host_x) + s->tslots * sizeof *s->table;
}

size_t mx_store_hosts(const struct mx_store *s)
{
	return s->nhosts;
}

struct mx_ref *mx_store_refs(struct mx_store *s, size_t n)
{
	struct mx_ref *r = mx_alloc(s, (n ? n : 1) * sizeof *r);

	if (r)
		memset(r, 0, (n ? n : 1) * sizeof *r);
	return r;
}

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

static uint64_t mx_host_hash(const char *name, size_t len, int given)
{
	return mx_hash(name, len) ^ (given ? 0x9e3779b97f4a7c15ull : 0);
}

static int mx_table_grow(struct mx_store *s)
{
	size_t nslots = s->tslots ? s->tslots * 2 : 1024, i, j;
	uint32_t *t = malloc(nslots * sizeof *t);

	if (!t)
		return -1;
	memset(t, 0xff, nslots * sizeof *t);
	for (i = 0; i < s->nhosts; i++) {
		const struct mx_host *h = mx_host_at(s, i);

		for (j = mx_host_hash(h->name, strlen(h->name), h->given) & (nslots - 1); t[j] != MH_NONE;
		     j = (j + 1) & (nslots - 1))
			;
		t[j] = (uint32_t)i;
	}
	free(s->table);
	s->table = t;
	s->tslots = nslots;
	return 0;
}

struct mx_host *mx_store_host(struct mx_store *s, const char *name, int given)
{
	size_t len = mx_name_len(name), j;
	uint64_t hv;
	struct mx_host_x *x;
	struct mx_host *h;

	given = !!given;
	hv = mx_host_hash(name, len, given);
	if (s->tslots) {
		for (j = hv & (s->tslots - 1); s->table[j] != MH_NONE; j = (j + 1) & (s->tslots - 1)) {
			h = mx_host_at(s, s->table[j]);
			if (h->given == given && strlen(h->name) == len && strncasecmp(h->name, name, len) == 0)
				return h;
		}
	}
	if (s->nhosts >= UINT32_MAX - 1)
		return NULL;
	if ((s->nhosts + 1) * 2 > s->tslots && mx_table_grow(s) < 0)
		return NULL;
	if (s->nhosts == s->nchunks * MX_HCHUNK) {
		struct mx_host **nc = realloc(s->chunks, (s->nchunks + 1) * sizeof *nc);

		if (!nc)
			return NULL;
		s->chunks = nc;
		nc[s->nchunks] = malloc(MX_HCHUNK * sizeof(struct mx_host_x));
		if (!nc[s->nchunks])
			return NULL;
		s->nchunks++;
	}
	x = &((struct mx_host_x *)(void *)s->chunks[s->nhosts / MX_HCHUNK])[s->nhosts % MX_HCHUNK];
	memset(x, 0, sizeof *x);
	h = &x->h;
	h->name = mx_store_str(s, name, len);
	if (!h->name)
		return NULL;
	h->given = (uint8_t)given;
	h->addr_status = given ? MXS_NODATA : MXS_ERROR;
	h->st[0] = h->st[1] = MH_NOT_ASKED;
	x->id = (uint32_t)s->nhosts;
	for (j = hv & (s->tslots - 1); s->table[j] != MH_NONE; j = (j + 1) & (s->tslots - 1))
		;
	s->table[j] = (uint32_t)s->nhosts++;
	return h;
}

struct mx_host *mx_store_ref(struct mx_store *s, struct mx_ref *r, const char *name, int given)
{
	size_t len = mx_name_len(name);
	struct mx_host *h = mx_store_host(s, name, given);

	r->host = h;
	r->name = NULL;
	if (!h)
		return NULL;
	if (strncmp(h->name, name, len) != 0) {
		r->name = mx_store_str(s, name, len);
		if (!r->name)
			return NULL;
	}
	return h;
}

static int mx_addr_cmp(const void *pa, const void *pb)
{
	const struct mx_addr *a = pa, *b = pb;

	if (a->v6 != b->v6)
		return a->v6 < b->v6 ? -1 : 1;
	return memcmp(a->a, b->a, 16);
}

/*
 * Sort and de-duplicate a[0..n) (IPv4 bytes past the 4th must be zero), then keep at most
 * MX_MAX_ADDRS in the store for h: over the cap, each family keeps at least half the slots it
 * can fill. Returns 0 or -1 (ENOMEM).
 */
static int mx_keep_addrs(struct mx_store *s, struct mx_host *h, struct mx_addr *a, size_t n)
{
	size_t i, w = 0, n4 = 0, n6, k4, k6;
	struct mx_addr *out;

	if (n > 1)
		qsort(a, n, sizeof *a, mx_addr_cmp);
	for (i = 0; i < n; i++)
		if (w == 0 || mx_addr_cmp(&a[w - 1], &a[i]) != 0)
			a[w++] = a[i];
	n = w;
	while (n4 < n && !a[n4].v6)
		n4++;
	n6 = n - n4;
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
	h->naddr_total = (uint32_t)n;
	h->naddr = (uint32_t)(k4 + k6);
	h->addr = NULL;
	if (k4 + k6 == 0)
		return 0;
	out = mx_alloc(s, (k4 + k6) * sizeof *out);
	if (!out)
		return -1;
	memcpy(out, a, k4 * sizeof *out);
	memcpy(out + k4, a + n4, k6 * sizeof *out);
	h->addr = out;
	return 0;
}

int mx_store_set_addrs(struct mx_store *s, struct mx_host *h, struct mx_addr *a, size_t n)
{
	if (h->st[0] != MH_NOT_ASKED)
		return 0; /* set before: the first line naming the host wins */
	if (mx_keep_addrs(s, h, a, n) < 0)
		return -1;
	h->addr_status = h->naddr ? MXS_OK : MXS_NODATA;
	h->st[0] = h->st[1] = (int8_t)h->addr_status;
	return 0;
}

socklen_t mx_addr_sockaddr(const struct mx_addr *a, struct sockaddr_storage *ss)
{
	return addr_to_sockaddr(a->v6, a->a, ss);
}

/* ---------------------------------------------------------------- hosts being looked up */

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

/* Queue the lookups host h still needs (none if asked before or given). -1 on ENOMEM. */
static int mx_host_queue(struct mx_ctx *c, struct mx_host *h)
{
	uint32_t id = *mx_host_id(h);
	int f;

	if (h->given)
		return 0;
	if (id >= c->nw) {
		size_t nn = c->nw ? c->nw : 256;
		struct mh_work *nw;

		while (nn <= id)
			nn *= 2;
		nw = realloc(c->w, nn * sizeof *nw);
		if (!nw)
			return -1;
		memset(nw + c->nw, 0, (nn - c->nw) * sizeof *nw);
		c->w = nw;
		c->nw = nn;
	}
	for (f = 0; f < c->nfams; f++) {
		int fam = c->fams[f];

		if (h->st[fam] != MH_NOT_ASKED)
			continue;
		if (mx_hq_push(c, id, fam) < 0)
			return -1;
		h->st[fam] = MH_PENDING;
		c->w[id].used = 1;
	}
	return 0;
}

/* The looked-up host named name, its queries queued when new. NULL (and c->oom set) on ENOMEM. */
static struct mx_host *mx_host_get(struct mx_ctx *c, const char *name)
{
	struct mx_host *h = mx_store_host(c->store, name, 0);

	if (!h || mx_host_queue(c, h) < 0) {
		c->oom = 1;
		return NULL;
	}
	return h;
}

static void mx_push_addr(struct mx_ctx *c, uint32_t id, int v6, const void *a)
{
	struct mh_work *w = &c->w[id];
	struct mx_addr *ma;

	if (w->naddrs == w->cap) {
		uint32_t ncap = w->cap ? w->cap * 2 : 2;
		struct mx_addr *na = realloc(w->addrs, ncap * sizeof *na);

		if (!na) {
			c->oom = 1;
			return;
		}
		w->addrs = na;
		w->cap = ncap;
	}
	ma = &w->addrs[w->naddrs++];
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
		name = mx_host_at(c->store, s->idx)->name;
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

enum mx_status mx_answer_mx(const unsigned char *abuf, int alen, int *ad, size_t *total,
			    int (*exch)(void *arg, const char *name, unsigned pref), void *arg)
{
	struct ares_mx_reply *head = NULL, *m, **v = NULL;
	enum mx_status st;
	size_t cnt = 0, i;
	int r;

	*ad = 0;
	*total = 0;
	if (!abuf || alen < HFIXEDSZ)
		return MXS_ERROR;
	*ad = (abuf[3] & 0x20) != 0;
	st = mx_map_rcode(DNS_HEADER_RCODE(abuf));
	if (st != MXS_OK)
		return st;
	r = ares_parse_mx_reply(abuf, alen, &head);
	if (r == ARES_SUCCESS && !head)
		r = ARES_ENODATA;
	if (r == ARES_ENODATA)
		return MXS_NODATA;
	if (r != ARES_SUCCESS) {
		st = MXS_ERROR;
		goto out;
	}
	for (m = head; m; m = m->next)
		cnt++;
	v = malloc(cnt * sizeof *v);
	if (!v) {
		st = MXS_ERROR;
		goto out;
	}
	for (i = 0, m = head; m; m = m->next)
		v[i++] = m;
	qsort(v, cnt, sizeof *v, mx_cmp_reply);
	if (cnt == 1 && v[0]->host[0] == '\0' && v[0]->priority == 0) {
		/* RFC 7505: "0 ." says the domain accepts no mail. c-ares gives the root as "". */
		st = MXS_NULL_MX;
		goto out;
	}
	*total = cnt;
	for (i = 0; i < cnt && i < MX_MAX_HOSTS; i++) {
		if (exch(arg, v[i]->host, v[i]->priority) < 0) {
			st = MXS_ERROR;
			goto out;
		}
	}
out:
	free(v);
	if (head)
		ares_free_data(head);
	return st;
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

/* Collects the exchanges of one MX answer into the domain's MX list in the store. mx_answer_mx
 * sets *total before its first callback and calls back at most MX_MAX_HOSTS times, so the
 * list is sized on the first call. oom says a callback failed (memory, not the answer). */
struct mx_exch_arg {
	struct mx_ctx *c;
	struct mx_domain *dom;
	const size_t *total;
	int oom;
};

static int mx_exch_cb(void *arg, const char *name, unsigned pref)
{
	struct mx_exch_arg *a = arg;
	struct mx_domain *dom = a->dom;
	struct mx_ref *mr;

	if (!dom->mx) {
		dom->mx = mx_store_refs(a->c->store, *a->total < MX_MAX_HOSTS ? *a->total : MX_MAX_HOSTS);
		if (!dom->mx) {
			a->oom = 1;
			return -1;
		}
	}
	mr = &dom->mx[dom->nmx];
	mr->pref = (uint16_t)pref;
	if (name[0]) {
		struct mx_host *h = mx_store_ref(a->c->store, mr, name, 0);

		if (!h || mx_host_queue(a->c, h) < 0) {
			a->oom = 1;
			return -1;
		}
	}
	dom->nmx++;
	return 0;
}

/* Domain d's MX answer: interpret it, then queue the address lookups of its exchanges. */
static void mx_got_mx(struct mx_ctx *c, uint32_t d, const unsigned char *abuf, int alen)
{
	struct mx_domain *dom = &c->doms[d];
	size_t total = 0;
	struct mx_exch_arg ea = { c, dom, &total, 0 };
	int ad = 0;
	enum mx_status st;

	dom->nmx = 0;
	dom->mx = NULL;
	st = mx_answer_mx(abuf, alen, &ad, &total, mx_exch_cb, &ea);
	dom->ad = (uint8_t)ad;
	if (ea.oom)
		c->oom = 1;
	dom->status = (uint8_t)st;
	dom->mx_total = total > UINT16_MAX ? UINT16_MAX : (uint16_t)total;
	if (st == MXS_NODATA) {
		struct mx_host *h;

		/* RFC 5321 section 5.1: no MX, the domain itself is the implicit MX. */
		h = mx_host_get(c, dom->domain);
		dom->mx = mx_store_refs(c->store, 1);
		if (!h || !dom->mx) {
			c->oom = 1;
			return;
		}
		dom->mx[0].host = h;
		c->dom_imp[d] = 1;
	}
}

struct mx_push_arg {
	struct mx_ctx *c;
	uint32_t id;
	int v6;
};

static void mx_push_cb(void *arg, const void *addr)
{
	struct mx_push_arg *a = arg;

	mx_push_addr(a->c, a->id, a->v6, addr);
}

/* Host hi's A or AAAA answer. */
static void mx_got_addr(struct mx_ctx *c, uint32_t hi, int v6, const unsigned char *abuf, int alen)
{
	struct mx_host *h = mx_host_at(c->store, hi);
	struct mx_push_arg pa = { c, hi, v6 };
	char target[1024];
	int alias;

	h->st[v6] = (int8_t)mx_answer_addr(abuf, alen, v6, h->cname_target ? NULL : target, sizeof target, &alias,
					   mx_push_cb, &pa);
	if (alias) {
		h->cname_target = mx_store_str(c->store, target, mx_name_len(target));
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
			mx_host_at(c->store, s->idx)->st[s->kind == MQ_AAAA] = (int8_t)res;
	}
	s->next_free = c->free_head;
	c->free_head = (int)(s - c->slots);
	c->inflight--;
}

/* ---------------------------------------------------------------- assembly */

/* Keep h's addresses in the store and settle its addr_status. */
static void mx_host_finish(struct mx_ctx *c, struct mx_host *h)
{
	/* Most telling first when no family gave an address (same order as resolve.c). */
	static const enum mx_status order[] = { MXS_NXDOMAIN, MXS_TIMEOUT, MXS_SERVFAIL,
						MXS_REFUSED,  MXS_ERROR,   MXS_NODATA };
	struct mh_work *w = &c->w[*mx_host_id(h)];
	size_t k;
	int f;

	if (mx_keep_addrs(c->store, h, w->addrs, w->naddrs) < 0) {
		c->oom = 1;
		return;
	}
	if (h->naddr > 0) {
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

static void mx_assemble(struct mx_ctx *c)
{
	size_t d, i;

	for (i = 0; i < c->nw && i < c->store->nhosts; i++)
		if (c->w[i].used)
			mx_host_finish(c, mx_host_at(c->store, i));
	for (d = 0; d < c->n; d++) {
		struct mx_domain *dom = &c->doms[d];

		if (c->dom_imp[d]) {
			const struct mx_host *h = dom->mx[0].host;

			/* An address, or a failure that does not say there is none, makes the implicit
			 * MX worth recording; NODATA/NXDOMAIN mean the domain has no mail host. */
			if (h->addr_status != MXS_NODATA && h->addr_status != MXS_NXDOMAIN) {
				dom->mx[0].pref = 0;
				dom->implicit_mx = 1;
				dom->nmx = dom->mx_total = 1;
			} else {
				dom->mx = NULL;
			}
		}
		if (dom->status < MXS__COUNT)
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

int mx_resolve(struct mx_store *store, struct mx_domain *doms, size_t n, const char *const *servers, int timeout_ms,
	       int tries, unsigned inflight, int families, struct mx_stats *st, FILE *errs)
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
	if ((!doms && n > 0) || !store) {
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
		if (doms[i].source != MX_SRC_DNS)
			continue; /* MX set from input */
		doms[i].status = MXS_ERROR;
		doms[i].implicit_mx = doms[i].ad = 0;
		doms[i].nmx = doms[i].mx_total = 0;
		doms[i].mx = NULL;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		nomem = 1;
		goto out;
	}
	c->poll.ep = -1;
	c->st = st;
	c->store = store;
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
	c->dom_imp = calloc(n ? n : 1, 1);
	c->slots = calloc(inflight, sizeof *c->slots);
	if (!c->dom_imp || !c->slots) {
		nomem = 1;
		goto out;
	}
	/* Exchanges named by input (zdns MX lines) that still need their addresses. */
	for (i = 0; i < store->nhosts; i++) {
		if (mx_host_queue(c, mx_host_at(store, i)) < 0) {
			nomem = 1;
			goto out;
		}
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
				if (dom->source != MX_SRC_DNS)
					continue; /* MX set from input */
				if (!dom->domain || dom->domain[0] == '\0' || strlen(dom->domain) > 254)
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
	for (i = 0; i < c->nw; i++)
		st->hosts += c->w[i].used;
	mx_assemble(c);
	if (c->oom) {
		nomem = 1;
		goto out;
	}
	rc = 0;
out:
	if (nomem && errs)
		fprintf(errs, "mx: out of memory\n");
	if (c) {
		if (c->ch)
			ares_destroy(c->ch); /* cancels what is still in flight (error paths) */
		if (c->poll.ep >= 0)
			close(c->poll.ep);
		for (i = 0; i < c->nw; i++)
			free(c->w[i].addrs);
		free(c->w);
		free(c->hq);
		free(c->dom_imp);
		free(c->slots);
		free(c);
	}
	if (lib)
		ares_library_cleanup();
	st->seconds = mx_now() - t0;
	return rc;
}
