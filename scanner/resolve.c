/*
 * resolve: bounded-concurrency A/AAAA resolution of host-name targets with c-ares 1.18.
 *
 * Three phases. (1) Collect: walk the input set, give every distinct host name (compared
 * case-insensitively, open-addressing table) an index, and remember each target's name index.
 * (2) Query: issue ares_query(A) and/or ares_query(AAAA) per name, keeping at most
 * RESOLVE_MAX_INFLIGHT outstanding, each tied to a slot of a fixed pool that carries the
 * name index and family into the c-ares callback. c-ares reports its sockets through
 * ARES_OPT_SOCK_STATE_CB into a private epoll set; the loop sleeps in epoll_wait for at most
 * ares_timeout() and feeds readiness to ares_process_fd, which also expires timed-out queries.
 * Answers are parsed with ares_parse_a_reply / ares_parse_aaaa_reply (both follow CNAME
 * chains in the answer section) and appended to one flat address vector. (3) Emit: a counting
 * sort groups the addresses by name, each group is sorted and de-duplicated, and the input is
 * walked once more in order to build the output set and report failures. Doing the output in
 * a separate pass keeps it independent of the order in which answers arrive.
 *
 * ares_query is used rather than ares_gethostbyname so that neither /etc/hosts nor the search
 * list is consulted and the RCODE of each family is known separately.
 */
#include "mxscan/resolve.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#define RS_NO_NAME   UINT32_MAX
#define RS_PENDING   (-1)
#define RS_NOT_ASKED (-2)
#define RS_T_A       1
#define RS_T_AAAA    28
#define RS_C_IN      1

static const char *const resolve_status_names[] = {
	[RESOLVE_OK] = "ok",           [RESOLVE_NXDOMAIN] = "nxdomain",
	[RESOLVE_NODATA] = "nodata",   [RESOLVE_SERVFAIL] = "servfail",
	[RESOLVE_REFUSED] = "refused", [RESOLVE_TIMEOUT] = "timeout",
	[RESOLVE_ERROR] = "error",
};
_Static_assert(sizeof resolve_status_names / sizeof resolve_status_names[0] == RESOLVE_STATUS_COUNT,
	       "resolve_status_names out of step with enum resolve_status");

const char *resolve_status_name(enum resolve_status status)
{
	if ((unsigned)status >= RESOLVE_STATUS_COUNT)
		return "?";
	return resolve_status_names[status];
}

struct rs_name {
	const char *host;    /* points into the input set (stable until ts_free) */
	int8_t st[2];        /* per family (0 = A, 1 = AAAA): enum resolve_status or RS_* */
	uint8_t ares_err[2]; /* c-ares status behind RESOLVE_ERROR, for the reason text */
};

struct rs_addr {
	uint32_t name;
	uint8_t v6;
	uint8_t a[16];
};

struct rs_ctx;

struct rs_slot {
	struct rs_ctx *ctx;
	uint32_t name;
	uint8_t v6;
	int next_free; /* free-list link, -1 = end */
};

struct rs_ctx {
	ares_channel ch;
	struct dns_poll poll; /* epoll set of c-ares sockets (resolve.h) */
	struct rs_name *names;
	size_t nnames;
	struct rs_addr *addrs;
	size_t naddrs, cap_addrs;
	int oom;
	struct rs_slot slots[RESOLVE_MAX_INFLIGHT];
	int free_head;
	size_t inflight;
};

/* ---------------------------------------------------------------- name table */

static uint64_t rs_hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 0x100000001b3ull;
	}
	return h ^ (h >> 29) ^ (h >> 47);
}

/*
 * Give every distinct host name of in an index (in order of first appearance) and fill
 * tmap[i] with the name index of target i (RS_NO_NAME for IP literals).
 */
static int rs_collect(struct rs_ctx *c, const struct target_set *in, uint32_t *tmap)
{
	size_t n = ts_count(in), nslots = 16, i;
	uint32_t *table = NULL;
	int rc = -1;

	while (nslots < n * 2)
		nslots *= 2;
	table = malloc(nslots * sizeof *table);
	c->names = malloc((n ? n : 1) * sizeof *c->names);
	if (!table || !c->names)
		goto out;
	memset(table, 0xff, nslots * sizeof *table);
	for (i = 0; i < n; i++) {
		const struct target *t = ts_get(in, i);
		size_t j;

		if (t->has_addr) {
			tmap[i] = RS_NO_NAME;
			continue;
		}
		for (j = rs_hash_name(t->host) & (nslots - 1); table[j] != RS_NO_NAME; j = (j + 1) & (nslots - 1))
			if (strcasecmp(c->names[table[j]].host, t->host) == 0)
				break;
		if (table[j] == RS_NO_NAME) {
			struct rs_name *nm = &c->names[c->nnames];

			nm->host = t->host;
			nm->st[0] = nm->st[1] = RS_NOT_ASKED;
			nm->ares_err[0] = nm->ares_err[1] = 0;
			table[j] = (uint32_t)c->nnames++;
		}
		tmap[i] = table[j];
	}
	rc = 0;
out:
	free(table);
	return rc;
}

/* ---------------------------------------------------------------- c-ares glue */

static enum resolve_status rs_map(int ares_status)
{
	switch (ares_status) {
	case ARES_SUCCESS: return RESOLVE_OK;
	case ARES_ENOTFOUND: return RESOLVE_NXDOMAIN;
	case ARES_ENODATA: return RESOLVE_NODATA;
	case ARES_ESERVFAIL: return RESOLVE_SERVFAIL;
	case ARES_EREFUSED: return RESOLVE_REFUSED;
	case ARES_ETIMEOUT: return RESOLVE_TIMEOUT;
	default: return RESOLVE_ERROR;
	}
}

static void rs_push_addr(struct rs_ctx *c, uint32_t name, int v6, const void *a)
{
	struct rs_addr *ra;

	if (c->naddrs == c->cap_addrs) {
		size_t ncap = c->cap_addrs ? c->cap_addrs * 2 : 256;
		struct rs_addr *na = realloc(c->addrs, ncap * sizeof *na);

		if (!na) {
			c->oom = 1;
			return;
		}
		c->addrs = na;
		c->cap_addrs = ncap;
	}
	ra = &c->addrs[c->naddrs++];
	memset(ra, 0, sizeof *ra);
	ra->name = name;
	ra->v6 = (uint8_t)v6;
	memcpy(ra->a, a, v6 ? 16 : 4);
}

static void rs_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct rs_slot *s = arg;
	struct rs_ctx *c = s->ctx;
	struct rs_name *nm = &c->names[s->name];
	struct hostent *he = NULL;
	int v6 = s->v6;

	(void)timeouts;
	if (status == ARES_SUCCESS) {
		status = v6 ? ares_parse_aaaa_reply(abuf, alen, &he, NULL, NULL)
			    : ares_parse_a_reply(abuf, alen, &he, NULL, NULL);
		if (status == ARES_SUCCESS && (!he || !he->h_addr_list || !he->h_addr_list[0]))
			status = ARES_ENODATA;
	}
	if (status == ARES_SUCCESS) {
		char **p;

		for (p = he->h_addr_list; *p; p++)
			rs_push_addr(c, s->name, v6, *p);
	}
	if (he)
		ares_free_hostent(he);
	nm->st[v6] = (int8_t)rs_map(status);
	nm->ares_err[v6] = (uint8_t)status;
	s->next_free = c->free_head;
	c->free_head = (int)(s - c->slots);
	c->inflight--;
}

void resolve_sock_state(void *data, int fd, int readable, int writable)
{
	struct dns_poll *p = data;
	struct epoll_event ev;

	if (!readable && !writable) {
		epoll_ctl(p->ep, EPOLL_CTL_DEL, fd, NULL);
		return;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
	ev.data.fd = fd;
	if (epoll_ctl(p->ep, EPOLL_CTL_MOD, fd, &ev) == 0)
		return;
	if (errno == ENOENT && epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) == 0)
		return;
	p->ep_error = errno;
}

int resolve_poll_step(void *channel, struct dns_poll *p, FILE *errs, const char *who)
{
	ares_channel ch = channel;
	struct epoll_event evs[64];
	struct timeval tv, *tvp;
	int n, ms;

	if (p->ep_error) {
		if (errs)
			fprintf(errs, "%s: epoll_ctl: %s\n", who, strerror(p->ep_error));
		return -1;
	}
	tvp = ares_timeout(ch, NULL, &tv);
	ms = tvp ? (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000) : 1000;
	n = epoll_wait(p->ep, evs, (int)(sizeof evs / sizeof evs[0]), ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		if (errs)
			fprintf(errs, "%s: epoll_wait: %s\n", who, strerror(errno));
		return -1;
	}
	if (n == 0)
		ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		uint32_t e = evs[i].events;

		ares_process_fd(ch, (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
				(e & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
	}
	return 0;
}

int resolve_set_servers(void *channel, const char *const *servers, FILE *errs, const char *who)
{
	ares_channel ch = channel;
	struct ares_addr_port_node nodes[16];
	size_t n = 0;
	int r, rc = -1;

	for (; servers[n]; n++) {
		const char *s = servers[n];
		struct target t;
		char err[256];

		if (n == sizeof nodes / sizeof nodes[0]) {
			if (errs)
				fprintf(errs, "%s: more than %zu DNS servers given\n", who, n);
			goto out;
		}
		r = target_parse_line(s, strlen(s), &t, err, sizeof err);
		if (r != 1 || !t.has_addr || t.sni[0] || t.tag[0] || strpbrk(s, ",#")) {
			if (errs)
				fprintf(errs,
					"%s: invalid DNS server '%s': expected IP, IP:port or "
					"[IPv6]:port%s%s\n",
					who, s, r < 0 ? ": " : "", r < 0 ? err : "");
			goto out;
		}
		memset(&nodes[n], 0, sizeof nodes[n]);
		nodes[n].family = t.addr.ss_family;
		if (t.addr.ss_family == AF_INET)
			memcpy(&nodes[n].addr.addr4, &((struct sockaddr_in *)(void *)&t.addr)->sin_addr, 4);
		else
			memcpy(&nodes[n].addr.addr6, &((struct sockaddr_in6 *)(void *)&t.addr)->sin6_addr, 16);
		nodes[n].udp_port = nodes[n].tcp_port = t.port ? t.port : 53;
		nodes[n].next = NULL;
		if (n > 0)
			nodes[n - 1].next = &nodes[n];
	}
	if (n == 0) {
		if (errs)
			fprintf(errs, "%s: empty DNS server list\n", who);
		goto out;
	}
	r = ares_set_servers_ports(ch, nodes);
	if (r != ARES_SUCCESS) {
		if (errs)
			fprintf(errs, "%s: setting DNS servers: %s\n", who, ares_strerror(r));
		goto out;
	}
	rc = 0;
out:
	return rc;
}

/* ---------------------------------------------------------------- emit */

static int rs_addr_cmp(const void *pa, const void *pb)
{
	const struct rs_addr *a = pa, *b = pb;

	if (a->v6 != b->v6)
		return a->v6 < b->v6 ? -1 : 1;
	return memcmp(a->a, b->a, 16);
}

/* Group c->addrs by name (counting sort), sort and dedupe each group. first[] has
 * nnames + 1 entries: the group of name k is [first[k], first[k + 1]). */
static int rs_group(struct rs_ctx *c, size_t **firstp)
{
	size_t *first = calloc(c->nnames + 1, sizeof *first), *pos = NULL, i, k;
	struct rs_addr *sorted = NULL;
	int rc = -1;

	if (!first)
		goto out;
	for (i = 0; i < c->naddrs; i++)
		first[c->addrs[i].name + 1]++;
	for (k = 0; k < c->nnames; k++)
		first[k + 1] += first[k];
	pos = malloc((c->nnames + 1) * sizeof *pos);
	sorted = malloc((c->naddrs ? c->naddrs : 1) * sizeof *sorted);
	if (!pos || !sorted)
		goto out;
	memcpy(pos, first, (c->nnames + 1) * sizeof *pos);
	for (i = 0; i < c->naddrs; i++)
		sorted[pos[c->addrs[i].name]++] = c->addrs[i];
	/* Sort each group, then squeeze out duplicates, rewriting first[] as we go. */
	{
		size_t w = 0, start = 0;

		for (k = 0; k < c->nnames; k++) {
			size_t end = first[k + 1], g0 = w;

			qsort(sorted + start, end - start, sizeof *sorted, rs_addr_cmp);
			for (i = start; i < end; i++)
				if (w == g0 || rs_addr_cmp(&sorted[w - 1], &sorted[i]) != 0)
					sorted[w++] = sorted[i];
			first[k] = g0;
			start = end;
		}
		first[c->nnames] = w;
	}
	free(c->addrs);
	c->addrs = sorted;
	sorted = NULL;
	*firstp = first;
	first = NULL;
	rc = 0;
out:
	free(first);
	free(pos);
	free(sorted);
	return rc;
}

/* Combined outcome of a name without addresses (see resolve_fail_cb). */
static enum resolve_status rs_verdict(const struct rs_name *nm, int *fam)
{
	static const enum resolve_status order[] = { RESOLVE_NXDOMAIN, RESOLVE_TIMEOUT, RESOLVE_SERVFAIL,
						     RESOLVE_REFUSED,  RESOLVE_ERROR,   RESOLVE_NODATA };
	size_t i;
	int f;

	for (i = 0; i < sizeof order / sizeof order[0]; i++)
		for (f = 0; f < 2; f++)
			if (nm->st[f] == (int8_t)order[i]) {
				*fam = f;
				return order[i];
			}
	*fam = 0;
	return RESOLVE_ERROR;
}

static const char *rs_reason(const struct rs_name *nm, enum resolve_status st, int fam)
{
	switch (st) {
	case RESOLVE_NXDOMAIN: return "NXDOMAIN";
	case RESOLVE_NODATA: return "no A/AAAA record";
	case RESOLVE_SERVFAIL: return "SERVFAIL";
	case RESOLVE_REFUSED: return "REFUSED";
	case RESOLVE_TIMEOUT: return "timeout";
	case RESOLVE_OK: return "ok";
	case RESOLVE_ERROR:
	default: return ares_strerror(nm->ares_err[fam]);
	}
}

static int rs_emit(struct rs_ctx *c, const struct target_set *in, const uint32_t *tmap, const size_t *first,
		   struct target_set *out, FILE *errs, struct resolve_stats *st, resolve_fail_cb on_fail, void *ud)
{
	size_t n = ts_count(in), i, k;

	/* Per-name report first, in order of first appearance. */
	for (k = 0; k < c->nnames; k++) {
		const struct rs_name *nm = &c->names[k];
		int fam;

		if (first[k + 1] > first[k]) {
			st->resolved++;
			for (fam = 0; fam < 2; fam++) {
				int8_t s = nm->st[fam];

				if (s == RESOLVE_OK || s == RESOLVE_NODATA || s == RS_NOT_ASKED)
					continue;
				st->partial++;
				if (errs)
					fprintf(errs, "resolve: %s: warning: %s %s (%s ok)\n", nm->host,
						fam ? "AAAA" : "A", rs_reason(nm, (enum resolve_status)s, fam),
						fam ? "A" : "AAAA");
				break;
			}
		} else {
			enum resolve_status v = rs_verdict(nm, &fam);

			st->failed[v]++;
			if (errs)
				fprintf(errs, "resolve: %s: %s\n", nm->host, rs_reason(nm, v, fam));
		}
	}
	for (i = 0; i < n; i++) {
		const struct target *t = ts_get(in, i);
		uint32_t k2 = tmap[i];
		size_t j;
		int r;

		if (k2 == RS_NO_NAME) {
			r = ts_add(out, t);
			if (r < 0)
				return -1;
			st->passthrough += (size_t)r;
			continue;
		}
		if (first[k2 + 1] == first[k2]) {
			if (on_fail) {
				int fam;
				enum resolve_status v = rs_verdict(&c->names[k2], &fam);

				on_fail(t, v, rs_reason(&c->names[k2], v, fam), ud);
			}
			continue;
		}
		for (j = first[k2]; j < first[k2 + 1]; j++) {
			const struct rs_addr *ra = &c->addrs[j];
			struct target o = *t;

			o.addrlen = addr_to_sockaddr(ra->v6, ra->a, &o.addr);
			o.has_addr = 1;
			if (!o.sni[0])
				memcpy(o.sni, t->host, sizeof o.sni);
			inet_ntop(ra->v6 ? AF_INET6 : AF_INET, ra->a, o.host, sizeof o.host);
			r = ts_add(out, &o);
			if (r < 0)
				return -1;
			st->addresses += (size_t)r;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- driver */

int resolve_targets(const struct target_set *in, const char *const *servers, int timeout_ms, int tries, int families,
		    struct target_set *out, FILE *errs, struct resolve_stats *st, resolve_fail_cb on_fail, void *ud)
{
	struct resolve_stats local;
	struct rs_ctx *c = NULL;
	struct ares_options opts;
	uint32_t *tmap = NULL;
	size_t *first = NULL, next_q = 0, total_q, i;
	int fams[2], nfams = 0, lib = 0, nomem = 0, rc = -1, r;
	char lookups[] = "b";

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	if (!in || !out || in == out) {
		if (errs)
			fprintf(errs, "resolve: invalid arguments\n");
		goto out;
	}
	if (families == AF_INET || families == AF_UNSPEC)
		fams[nfams++] = 0;
	if (families == AF_INET6 || families == AF_UNSPEC)
		fams[nfams++] = 1;
	if (nfams == 0) {
		if (errs)
			fprintf(errs, "resolve: families must be AF_INET, AF_INET6 or AF_UNSPEC\n");
		goto out;
	}
	c = calloc(1, sizeof *c);
	tmap = malloc((ts_count(in) ? ts_count(in) : 1) * sizeof *tmap);
	if (!c || !tmap) {
		nomem = 1;
		goto out;
	}
	c->poll.ep = -1;
	if (rs_collect(c, in, tmap) < 0) {
		nomem = 1;
		goto out;
	}
	st->names = c->nnames;
	for (i = 0; i < RESOLVE_MAX_INFLIGHT; i++) {
		c->slots[i].ctx = c;
		c->slots[i].next_free = i + 1 < RESOLVE_MAX_INFLIGHT ? (int)i + 1 : -1;
	}
	c->free_head = 0;

	if (c->nnames > 0) {
		c->poll.ep = epoll_create1(EPOLL_CLOEXEC);
		if (c->poll.ep < 0) {
			if (errs)
				fprintf(errs, "resolve: epoll_create1: %s\n", strerror(errno));
			goto out;
		}
		r = ares_library_init(ARES_LIB_INIT_ALL);
		if (r != ARES_SUCCESS) {
			if (errs)
				fprintf(errs, "resolve: ares_library_init: %s\n", ares_strerror(r));
			goto out;
		}
		lib = 1;
		memset(&opts, 0, sizeof opts);
		/* NOCHECKRESP: hand SERVFAIL/REFUSED answers to us as such. Without it c-ares
		 * 1.18 drops them, moves to the next server and, once all are used, reports
		 * ARES_ECONNREFUSED ("Could not contact DNS servers"), hiding the RCODE. */
		opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_NOCHECKRESP;
		opts.timeout = timeout_ms > 0 ? timeout_ms : RESOLVE_DEFAULT_TIMEOUT_MS;
		opts.tries = tries > 0 ? tries : RESOLVE_DEFAULT_TRIES;
		opts.lookups = lookups;
		opts.sock_state_cb = resolve_sock_state;
		opts.sock_state_cb_data = &c->poll;
		r = ares_init_options(&c->ch, &opts,
				      ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS |
					      ARES_OPT_SOCK_STATE_CB);
		if (r != ARES_SUCCESS) {
			c->ch = NULL;
			if (errs)
				fprintf(errs, "resolve: ares_init_options: %s\n", ares_strerror(r));
			goto out;
		}
		if (servers && resolve_set_servers(c->ch, servers, errs, "resolve") < 0)
			goto out;
	}

	total_q = c->nnames * (size_t)nfams;
	while (next_q < total_q || c->inflight > 0) {
		while (next_q < total_q && c->free_head >= 0) {
			struct rs_slot *s = &c->slots[c->free_head];
			struct rs_name *nm;

			c->free_head = s->next_free;
			s->name = (uint32_t)(next_q / (size_t)nfams);
			s->v6 = (uint8_t)fams[next_q % (size_t)nfams];
			nm = &c->names[s->name];
			nm->st[s->v6] = RS_PENDING;
			next_q++;
			c->inflight++;
			st->queries++;
			/* May call rs_answer at once (e.g. a name c-ares rejects). */
			ares_query(c->ch, nm->host, RS_C_IN, s->v6 ? RS_T_AAAA : RS_T_A, rs_answer, s);
		}
		if (c->oom) {
			nomem = 1;
			goto out;
		}
		if (c->inflight == 0)
			continue;
		if (resolve_poll_step(c->ch, &c->poll, errs, "resolve") < 0)
			goto out;
	}
	if (c->oom || rs_group(c, &first) < 0 || rs_emit(c, in, tmap, first, out, errs, st, on_fail, ud) < 0) {
		nomem = 1;
		goto out;
	}
	rc = 0;
out:
	if (nomem && errs)
		fprintf(errs, "resolve: out of memory\n");
	if (c) {
		if (c->ch)
			ares_destroy(c->ch); /* cancels what is still in flight (error paths) */
		if (c->poll.ep >= 0)
			close(c->poll.ep);
		free(c->names);
		free(c->addrs);
		free(c);
	}
	if (lib)
		ares_library_cleanup();
	free(tmap);
	free(first);
	return rc;
}
