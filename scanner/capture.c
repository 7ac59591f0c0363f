/*
 * capture: the --capture thread, its flow table and --pcap-out (capture.h).
 *
 * Thread safety: one mutex guards the flow table, the pending ring and the
 * dumper. The capture thread takes it once per packet (after parsing, which
 * needs no lock); a worker takes it twice per registered connection
 * (capture_register right after connect, capture_finish when the record is
 * written). Workers never wait on it while handling socket events.
 *
 * The table is a fixed array of flows (max_flows, one per connection in
 * flight) with chained hash buckets over the 4-tuple and a free list, so a
 * lookup is O(1) and nothing is allocated per packet.
 */
#include "mxscan/capture.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mxscan/loop.h"

#define PENDING 256 /* packets kept for flows not registered yet */

struct kept {
	struct pcap_pkthdr h;
	uint8_t data[CAPTURE_SNAPLEN];
};

struct key {
	uint8_t family;
	uint8_t cli[16], srv[16];
	uint16_t cport, sport;
};

struct cflow {
	int used;
	int next; /* bucket chain, -1 ends */
	struct key k;
	struct pkt_flow f;
	unsigned nkept;
};

struct pending {
	struct key k; /* as the packet's source → destination */
	struct kept pk;
};

struct capture {
	pcap_t *pc;
	pcap_dumper_t *dumper;
	int dlt;
	char iface[64];
	pthread_mutex_t mu;
	struct cflow *flows;
	unsigned nflows;
	int *bucket;
	unsigned nbuckets; /* power of two */
	int *free_stack;
	unsigned nfree;
	struct kept *keep; /* nflows * CAPTURE_KEEP_PKTS when --pcap-out, else NULL */
	struct pending *ring;
	unsigned ring_head, ring_n;
	struct capture_stats st;
	atomic_int stop;
	int started;
	pthread_t th;
	struct loop *l;
};

static uint32_t key_hash(const struct key *k)
{
	/* FNV-1a over the tuple; the table is private, no adversary picks ports */
	uint32_t h = 2166136261u;
	const uint8_t *parts[2] = { k->cli, k->srv };
	for (int p = 0; p < 2; p++)
		for (int i = 0; i < 16; i++)
			h = (h ^ parts[p][i]) * 16777619u;
	h = (h ^ (k->cport & 0xff)) * 16777619u;
	h = (h ^ (k->cport >> 8)) * 16777619u;
	h = (h ^ (k->sport & 0xff)) * 16777619u;
	h = (h ^ (k->sport >> 8)) * 16777619u;
	return h ^ k->family;
}

static int key_eq(const struct key *a, const struct key *b)
{
	return a->family == b->family && a->cport == b->cport && a->sport == b->sport && !memcmp(a->cli, b->cli, 16) &&
	       !memcmp(a->srv, b->srv, 16);
}

static int lookup(struct capture *c, const struct key *k)
{
	for (int i = c->bucket[key_hash(k) & (c->nbuckets - 1)]; i >= 0; i = c->flows[i].next)
		if (key_eq(&c->flows[i].k, k))
			return i;
	return -1;
}

/* The flow key of p seen as client→server (from_server 0) or the reverse. */
static void pkt_key(const struct pkt *p, int from_server, struct key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = (uint8_t)p->family;
	memcpy(k->cli, from_server ? p->dst : p->src, 16);
	memcpy(k->srv, from_server ? p->src : p->dst, 16);
	k->cport = from_server ? p->dport : p->sport;
	k->sport = from_server ? p->sport : p->dport;
}

/* Copy a captured packet, its header's caplen clamped to CAPTURE_SNAPLEN. */
static void kept_copy(struct kept *k, const struct pcap_pkthdr *h, const uint8_t *data)
{
	k->h = *h;
	if (k->h.caplen > CAPTURE_SNAPLEN)
		k->h.caplen = CAPTURE_SNAPLEN;
	memcpy(k->data, data, k->h.caplen);
}

static void keep_packet(struct capture *c, int id, const struct pcap_pkthdr *h, const uint8_t *data)
{
	struct cflow *fl = &c->flows[id];
	if (!c->keep || fl->nkept >= CAPTURE_KEEP_PKTS)
		return;
	kept_copy(&c->keep[(size_t)id * CAPTURE_KEEP_PKTS + fl->nkept++], h, data);
}

static uint64_t ts_us(const struct pcap_pkthdr *h)
{
	return (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
}

/* Fold a parsed packet into its flow; 1 when it had one. Lock held. */
static int apply(struct capture *c, const struct pkt *p, const struct pcap_pkthdr *h, const uint8_t *data)
{
	struct key k;
	for (int from_server = 0; from_server < 2; from_server++) {
		pkt_key(p, from_server, &k);
		int id = lookup(c, &k);
		if (id >= 0) {
			pkt_flow_update(&c->flows[id].f, p, from_server);
			keep_packet(c, id, h, data);
			return 1;
		}
	}
	return 0;
}

static void on_packet(u_char *ud, const struct pcap_pkthdr *h, const u_char *data)
{
	struct capture *c = (struct capture *)ud;
	struct pkt p;
	if (pkt_parse(data, h->caplen, c->dlt, ts_us(h), &p) != PKT_OK)
		return;
	pthread_mutex_lock(&c->mu);
	c->st.packets++;
	if (apply(c, &p, h, data)) {
		c->st.matched++;
	} else {
		/* not registered (yet): keep it for a registration that may follow */
		struct pending *e = &c->ring[(c->ring_head + c->ring_n) % PENDING];
		if (c->ring_n == PENDING)
			c->ring_head = (c->ring_head + 1) % PENDING;
		else
			c->ring_n++;
		pkt_key(&p, 0, &e->k);
		kept_copy(&e->pk, h, data);
	}
	pthread_mutex_unlock(&c->mu);
}

static void on_readable(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)l;
	(void)fd;
	(void)ev;
	struct capture *c = ud;
	pcap_dispatch(c->pc, 512, on_packet, (u_char *)c);
}

static void *capture_main(void *arg)
{
	struct capture *c = arg;
	while (!atomic_load(&c->stop)) {
		loop_run_once(c->l, 50);
		/* TPACKET_V3 may hold a block back from poll(): ask directly too */
		pcap_dispatch(c->pc, 512, on_packet, (u_char *)c);
	}
	pcap_dispatch(c->pc, -1, on_packet, (u_char *)c);
	return NULL;
}

static int build_filter(const struct capture_opts *o, char *buf, size_t cap)
{
	size_t n = 0;
	int w = snprintf(buf, cap, "tcp and (");
	if (w < 0 || (size_t)w >= cap)
		return -1;
	n = (size_t)w;
	for (size_t i = 0; i < o->nports; i++) {
		w = snprintf(buf + n, cap - n, "%sport %u", i ? " or " : "", o->ports[i]);
		if (w < 0 || (size_t)w >= cap - n)
			return -1;
		n += (size_t)w;
	}
	w = snprintf(buf + n, cap - n, ")");
	return w < 0 || (size_t)w >= cap - n ? -1 : 0;
}

struct capture *capture_open(const struct capture_opts *o, int *perm, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	char filter[4096];
	struct bpf_program bp;
	*perm = 0;
	if (o->nports == 0 || build_filter(o, filter, sizeof(filter)) < 0) {
		snprintf(err, errlen, "--capture: too many distinct ports for one BPF filter");
		return NULL;
	}
	struct capture *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	snprintf(c->iface, sizeof(c->iface), "%s", o->iface);
	c->nflows = o->max_flows ? o->max_flows : 1;
	c->nbuckets = 1;
	while (c->nbuckets < 2 * c->nflows)
		c->nbuckets <<= 1;
	c->flows = calloc(c->nflows, sizeof(*c->flows));
	c->bucket = malloc(c->nbuckets * sizeof(int));
	c->free_stack = malloc(c->nflows * sizeof(int));
	c->ring = calloc(PENDING, sizeof(*c->ring));
	if (o->pcap_out)
		c->keep = calloc((size_t)c->nflows * CAPTURE_KEEP_PKTS, sizeof(*c->keep));
	if (!c->flows || !c->bucket || !c->free_stack || !c->ring || (o->pcap_out && !c->keep)) {
		snprintf(err, errlen, "out of memory for %u capture flows", c->nflows);
		goto fail;
	}
	for (unsigned i = 0; i < c->nbuckets; i++)
		c->bucket[i] = -1;
	for (unsigned i = 0; i < c->nflows; i++)
		c->free_stack[c->nfree++] = (int)(c->nflows - 1 - i);

	c->pc = pcap_create(o->iface, perr);
	if (!c->pc) {
		snprintf(err, errlen, "--capture %s: %s", o->iface, perr);
		goto fail;
	}
	pcap_set_snaplen(c->pc, CAPTURE_SNAPLEN);
	pcap_set_promisc(c->pc, 0);
	pcap_set_immediate_mode(c->pc, 1); /* no batching delay: verdicts wait only CAPTURE_GRACE_MS */
	pcap_set_timeout(c->pc, 50);
	pcap_set_buffer_size(c->pc, 8 << 20);
	int r = pcap_activate(c->pc);
	if (r < 0) {
		if (r == PCAP_ERROR_PERM_DENIED) {
			*perm = 1;
			snprintf(err, errlen,
				 "--capture %s: permission denied: capturing packets needs root or CAP_NET_RAW "
				 "(run as root with --user to drop privileges afterwards, or "
				 "'setcap cap_net_raw+ep mxscan')",
				 o->iface);
		} else if (r == PCAP_ERROR_NO_SUCH_DEVICE) {
			snprintf(err, errlen, "--capture %s: no such interface (see 'ip link')", o->iface);
		} else {
			snprintf(err, errlen, "--capture %s: %s", o->iface, pcap_geterr(c->pc));
		}
		goto fail;
	}
	c->dlt = pcap_datalink(c->pc);
	if (c->dlt != PKT_DLT_EN10MB && c->dlt != PKT_DLT_RAW && c->dlt != PKT_DLT_RAW_LINKTYPE &&
	    c->dlt != PKT_DLT_LINUX_SLL && c->dlt != PKT_DLT_LINUX_SLL2) {
		snprintf(err, errlen, "--capture %s: unsupported link type %s", o->iface,
			 pcap_datalink_val_to_name(c->dlt) ? pcap_datalink_val_to_name(c->dlt) : "?");
		goto fail;
	}
	if (pcap_compile(c->pc, &bp, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_setfilter(c->pc, &bp) < 0) {
		snprintf(err, errlen, "--capture %s: filter '%s': %s", o->iface, filter, pcap_geterr(c->pc));
		goto fail;
	}
	pcap_freecode(&bp);
	if (pcap_setnonblock(c->pc, 1, perr) < 0) {
		snprintf(err, errlen, "--capture %s: %s", o->iface, perr);
		goto fail;
	}
	if (o->pcap_out && !(c->dumper = pcap_dump_open(c->pc, o->pcap_out))) {
		snprintf(err, errlen, "--pcap-out %s: %s", o->pcap_out, pcap_geterr(c->pc));
		goto fail;
	}
	return c;
fail:
	capture_free(c);
	return NULL;
}

int capture_start(struct capture *c, char *err, size_t errlen)
{
	int fd = pcap_get_selectable_fd(c->pc);
	if (fd < 0) {
		snprintf(err, errlen, "--capture %s: no selectable descriptor", c->iface);
		return -1;
	}
	c->l = loop_new(fd + 1);
	if (!c->l || loop_add_fd(c->l, fd, LOOP_READ, on_readable, c) < 0) {
		snprintf(err, errlen, "--capture: cannot set up the capture loop");
		return -1;
	}
	if (pthread_create(&c->th, NULL, capture_main, c) != 0) {
		snprintf(err, errlen, "--capture: cannot start the capture thread");
		return -1;
	}
	c->started = 1;
	return 0;
}

void capture_stop(struct capture *c)
{
	if (!c || !c->started)
		return;
	atomic_store(&c->stop, 1);
	pthread_join(c->th, NULL);
	c->started = 0;
	struct pcap_stat ps;
	if (pcap_stats(c->pc, &ps) == 0)
		c->st.kernel_drops = ps.ps_drop;
	if (c->dumper)
		pcap_dump_flush(c->dumper);
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	capture_stop(c);
	if (c->dumper)
		pcap_dump_close(c->dumper);
	if (c->pc)
		pcap_close(c->pc);
	if (c->l)
		loop_free(c->l);
	free(c->flows);
	free(c->bucket);
	free(c->free_stack);
	free(c->ring);
	free(c->keep);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

const char *capture_iface(const struct capture *c)
{
	return c->iface;
}

static int sa_key_part(const struct sockaddr *sa, uint8_t *addr, uint16_t *port)
{
	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		memcpy(addr, &s->sin_addr, 4);
		*port = ntohs(s->sin_port);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		memcpy(addr, &s->sin6_addr, 16);
		*port = ntohs(s->sin6_port);
		return 6;
	}
	return -1;
}

int capture_register(struct capture *c, const struct sockaddr *local, const struct sockaddr *remote, uint64_t since_us)
{
	struct key k;
	memset(&k, 0, sizeof(k));
	int f1 = sa_key_part(local, k.cli, &k.cport), f2 = sa_key_part(remote, k.srv, &k.sport);
	if (f1 < 0 || f1 != f2)
		return -1;
	k.family = (uint8_t)f1;
	pthread_mutex_lock(&c->mu);
	int id = -1;
	if (c->nfree == 0) {
		c->st.full++;
		goto out;
	}
	if (lookup(c, &k) >= 0)
		goto out; /* the same 4-tuple twice at once cannot happen; refuse rather than mix */
	id = c->free_stack[--c->nfree];
	struct cflow *fl = &c->flows[id];
	memset(fl, 0, sizeof(*fl));
	fl->used = 1;
	fl->k = k;
	pkt_flow_init(&fl->f);
	uint32_t b = key_hash(&k) & (c->nbuckets - 1);
	fl->next = c->bucket[b];
	c->bucket[b] = id;
	c->st.flows++;
	/* replay what the capture saw of this connection before we got here; a
	 * pending key is the packet's source → destination, so a server packet's
	 * is the reversed key. Consumed entries (family 0) match neither. */
	struct key rk = k;
	memcpy(rk.cli, k.srv, 16);
	memcpy(rk.srv, k.cli, 16);
	rk.cport = k.sport;
	rk.sport = k.cport;
	for (unsigned i = 0; i < c->ring_n; i++) {
		struct pending *e = &c->ring[(c->ring_head + i) % PENDING];
		if (ts_us(&e->pk.h) + 1000 < since_us)
			continue;
		int from_server = key_eq(&e->k, &k) ? 0 : key_eq(&e->k, &rk) ? 1 : -1;
		if (from_server < 0)
			continue;
		struct pkt p;
		if (pkt_parse(e->pk.data, e->pk.h.caplen, c->dlt, ts_us(&e->pk.h), &p) != PKT_OK)
			continue;
		pkt_flow_update(&fl->f, &p, from_server);
		keep_packet(c, id, &e->pk.h, e->pk.data);
		c->st.matched++;
		e->k.family = 0; /* consumed */
	}
out:
	pthread_mutex_unlock(&c->mu);
	return id;
}

void capture_finish(struct capture *c, int id, int flag_extra, struct capture_result *out)
{
	memset(out, 0, sizeof(*out));
	if (id < 0 || (unsigned)id >= c->nflows)
		return;
	pthread_mutex_lock(&c->mu);
	struct cflow *fl = &c->flows[id];
	if (!fl->used)
		goto out;
	out->on = 1;
	out->local_port = fl->k.cport;
	out->flow = fl->f;
	pkt_verdict(&out->flow, &out->verdict);
	if (c->dumper && (out->verdict.kind == PKT_V_INJECTED || flag_extra)) {
		for (unsigned i = 0; i < fl->nkept; i++) {
			struct kept *k = &c->keep[(size_t)id * CAPTURE_KEEP_PKTS + i];
			pcap_dump((u_char *)c->dumper, &k->h, k->data);
		}
		pcap_dump_flush(c->dumper);
		out->dumped = 1;
		c->st.dumped++;
	}
	/* unlink from its bucket, back to the free list */
	int *pp = &c->bucket[key_hash(&fl->k) & (c->nbuckets - 1)];
	while (*pp >= 0 && *pp != id)
		pp = &c->flows[*pp].next;
	if (*pp == id)
		*pp = fl->next;
	fl->used = 0;
	c->free_stack[c->nfree++] = id;
out:
	pthread_mutex_unlock(&c->mu);
}

void capture_get_stats(struct capture *c, struct capture_stats *st)
{
	pthread_mutex_lock(&c->mu);
	*st = c->st;
	pthread_mutex_unlock(&c->mu);
}

int capture_drop_privileges(const char *user, char *err, size_t errlen)
{
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "--user %s: no such user", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "--user %s: cannot switch to uid %u: %s", user, (unsigned)pw->pw_uid,
			 strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
		snprintf(err, errlen, "--user %s: root could be regained; refusing to go on", user);
		return -1;
	}
	return 0;
}
