/*
 * engine: worker threads, each one epoll loop with a fixed pool of slots.
 *
 * A slot is one connection: socket, conn state machine, deadline timer and
 * result. Workers take the next target from a shared atomic index, so the
 * threads balance themselves. After every event the slot is synchronised:
 * pending bytes are sent, the deadline is re-armed when the state changed,
 * epoll interest is re-derived from the state, and a finished connection is
 * closed and its record written. Refilling free slots happens in one loop at
 * the end of each callback, never recursively, so a run of targets that fail
 * at once cannot grow the stack.
 */
#include "mxscan/engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mxscan/blocklist.h"
#include "mxscan/capture.h"
#include "mxscan/certkey.h"
#include "mxscan/certstore.h"
#include "mxscan/geo.h"
#include "mxscan/handshake.h"
#include "mxscan/json.h"
#include "mxscan/loop.h"
#include "mxscan/plan.h"
#include "mxscan/record.h"
#include "mxscan/recq.h"
#include "mxscan/recw.h"
#include "mxscan/target.h"
#include "mxscan/verify.h"

#define ENGINE_MAX_BACKOFF_MS 3600000u

struct worker;

struct slot {
	int fd;
	int in_use;
	struct conn c;
	struct timer timer;
	struct host_result res;  /* the host record; its dialogue is the first (baseline) connection's */
	struct host_result pres; /* scratch result of the later probe connections */
	struct plan *plan;
	const struct plan_probe *probe; /* the plan's current probe (plan_next_probe), not a copy */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} sa; /* 28 bytes, not a 128-byte sockaddr_storage: memory per connection */
	socklen_t salen;
	unsigned nconn;
	uint64_t conn_t0;      /* loop ms when the current connection started */
	unsigned retries;      /* probe connections retried after the server turned us away */
	int handshaking;       /* the current connection is the full handshake */
	uint16_t cert_ver;     /* version and suite of the first answer that carried */
	uint16_t cert_cipher;  /* certificates (TLS <= 1.2), 0: none yet */
	size_t tidx;           /* index of the target in the set */
	int waiting;           /* the timer is a back-off or pacing wait, not a connection deadline */
	int first;             /* the baseline connection (the record's dialogue) has not finished yet */
	uint64_t t0;           /* loop ms at start */
	int cap_id;            /* --capture flow of the first connection, -1 none */
	int cap_tried;         /* the first connection was offered to the capture */
	int lingering;         /* the timer is the capture grace before the record */
	uint64_t first_end_ms; /* loop ms when the first connection ended, 0 while open */
	struct worker *w;
};

struct worker {
	struct engine *e;
	struct loop *l;
	struct slot *slots;
	unsigned nslots, active;
	int *free_stack;
	unsigned nfree;
	struct jbuf jb;
	struct recq_prod *rq;         /* this thread's queue to the record writer thread */
	struct verify_result vr;      /* one verification at a time per worker */
	struct geo_info geo;          /* the lookup of the record being written */
	struct capture_result capres; /* --capture: the verdict of the record being written */
	pthread_t th;
	size_t *defer; /* targets taken whose IP had per_ip targets in flight: started later */
	unsigned ndefer, defer_cap;
	int defer_check;       /* an IP share was freed (or time passed): look at defer again */
	uint64_t rate_next_us; /* --rate: this thread's next free connection time (GCRA) */
	uint64_t rate_gap_us;  /* --rate: threads / rate */
};

struct engine {
	struct engine_config cfg;
	struct hs_ctx *hs_ctx;   /* shared wolfSSL client context for full handshakes */
	struct certstore *certs; /* certificates already written in this scan */
	const struct target_set *targets;
	size_t ntargets;
	atomic_size_t next;
	atomic_int draining;
	atomic_int running;
	struct engine_stats *st;
	struct worker *workers;
	unsigned nworkers;
	/* per-IP politeness: targets map to a dense IP index, built once; then
	 * only atomics on the hot path (no locks) */
	uint32_t *ip_of;              /* per target: its IP's index */
	atomic_uint *ip_active;       /* per IP: targets in flight (per_ip) */
	_Atomic uint64_t *ip_next_us; /* per IP: next connection time (per_ip_rate) */
	uint64_t ip_gap_us;
};

enum conn_mode engine_mode_for_port(uint16_t port, int choice)
{
	if (choice != MODE_AUTO)
		return (enum conn_mode)choice;
	return port == 465 ? MODE_IMPLICIT : MODE_STARTTLS;
}

static uint64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static void on_fd(struct loop *l, int fd, uint32_t ev, void *ud);
static void on_timer(struct loop *l, struct timer *t, void *ud);

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Each certificate's DER once per scan: a "certificate" record the first time
 * any host shows it; host records refer to it by SHA-256. */
static void write_new_certs(struct slot *s, const uint8_t *const *der, const size_t *len, size_t n)
{
	struct worker *w = s->w;
	struct engine *e = w->e;
	const struct verify_result *v = s->res.verify;
	if (!v || !e->certs)
		return;
	for (size_t i = 0; i < n && i < v->n_certs && i < VERIFY_MAX_CERTS; i++) {
		const char *hex = v->cert[i].sha256;
		uint8_t h[32];
		int bad = strlen(hex) != 64;
		for (int k = 0; !bad && k < 32; k++) {
			int a = hexval(hex[2 * k]), b = hexval(hex[2 * k + 1]);
			bad = a < 0 || b < 0;
			h[k] = (uint8_t)(a << 4 | b);
		}
		if (bad || certstore_add(e->certs, h) == 0)
			continue;
		char *b64 = malloc(4 * ((len[i] + 2) / 3) + 1);
		if (!b64)
			continue;
		certstore_base64(der[i], len[i], b64);
		jb_reset(&w->jb);
		jb_obj_open(&w->jb, NULL);
		jb_str(&w->jb, "type", "certificate");
		jb_str(&w->jb, "schema", RECORD_SCHEMA_VERSION);
		jb_str(&w->jb, "scan_id", e->cfg.scan_id);
		jb_str(&w->jb, "sha256", hex);
		jb_str(&w->jb, "der", b64);
		jb_obj_close(&w->jb);
		/* one unit with the host record that follows (target_done) */
		if (!jb_ok(&w->jb) || recq_add(w->rq, w->jb.buf, w->jb.len) < 0)
			atomic_fetch_add(&e->st->write_errors, 1);
		free(b64);
	}
}

/* Verify the chain of the full handshake, or else the one a probe saw, as a
 * sending MTA would (offline, one fresh small CertManager per chain). */
static void verify_host(struct slot *s)
{
	struct worker *w = s->w;
	const struct verify_roots *roots = w->e->cfg.roots;
	const uint8_t *der[HS_RES_CERTS];
	size_t len[HS_RES_CERTS];
	size_t n = 0;
	const struct hs_result *h = s->res.hs;
	const struct cert_chain *ch = h && h->ok && h->chain ? h->chain : s->res.probe_chain;
	if (!roots || !ch)
		return;
	s->res.chain_source = ch == s->res.probe_chain ? "probe" : "handshake";
	for (int i = 0; i < ch->n; i++, n++) {
		der[n] = ch->buf + ch->off[i];
		len[n] = ch->len[i];
	}
	if (verify_chain(roots, der, len, n, s->res.sni && s->res.sni[0] ? s->res.sni : NULL, NULL, 0, &w->vr) == 0)
		s->res.verify = &w->vr;
	write_new_certs(s, der, len, n);
	/* The recipient domains this host serves: does the leaf match them too?
	 * (Measurement papers report MX-name and domain matches separately.) */
	struct host_summary *hsum = w->e->cfg.summaries ? &w->e->cfg.summaries[s->tidx] : NULL;
	if (hsum && w->e->cfg.meta && s->res.verify) {
		const struct host_meta *m = &w->e->cfg.meta[s->tidx];
		hsum->cert = 1;
		hsum->cert_ok = w->vr.code == 0 || w->vr.code == 62;
		hsum->mx_match = w->vr.name_match_mx;
		for (unsigned i = 0; i < m->domains.n && i < 16; i++)
			if (verify_cert_host(der[0], len[0], m->domains.v[i]) == 1)
				hsum->domain_match |= (uint16_t)(1u << i);
	}
}

/* Keep the Certificate message of the connection that just ended (TLS <=
 * 1.2): the chain of servers the full handshake cannot reach (TLS 1.0,
 * static RSA only). Called only when no further enumeration probe follows:
 * during the enumeration a host keeps which answer carried certificates
 * (note_cert_probe), not the chain, and fetches it again at the end when the
 * handshake gives none (start_chain_conn): memory per connection. */
static void keep_probe_chain(struct slot *s)
{
	const struct server_flight *f = s->c.flight;
	if (!s->res.probe_chain && f && f->ncerts > 0)
		s->res.probe_chain = cert_chain_new(f->cert, f->cert_len, f->ncerts);
}

static void note_cert_probe(struct slot *s)
{
	const struct server_flight *f = s->c.flight;
	if (!s->cert_ver && f && f->ncerts > 0 && f->version >= TLS_SSL3 && f->version <= TLS_TLS12) {
		s->cert_ver = f->version;
		s->cert_cipher = f->cipher;
	}
}

/* ---- politeness: per-IP share, per-IP and global pacing ----
 * A target takes one share of its IP address from its first connection to
 * its record (its probes run one at a time, so a share is a connection at
 * most); a worker that cannot get a share keeps the target in its defer list
 * and tries again when a share frees up. Connection times are reserved on
 * virtual clocks (GCRA): each new connection takes the later of now and the
 * clock's next free time and pushes it one gap on, so waiting slots wake in
 * order, one at a time, without a thundering herd. The global --rate clock is
 * per thread (rate / threads each: no sharing); the per-IP clocks are atomics.
 */
static int ip_acquire(struct engine *e, size_t tidx)
{
	if (!e->ip_active)
		return 1;
	atomic_uint *a = &e->ip_active[e->ip_of[tidx]];
	unsigned cur = atomic_load(a);
	while (cur < e->cfg.per_ip)
		if (atomic_compare_exchange_weak(a, &cur, cur + 1))
			return 1;
	return 0;
}

static void ip_release(struct worker *w, size_t tidx)
{
	if (!w->e->ip_active)
		return;
	atomic_fetch_sub(&w->e->ip_active[w->e->ip_of[tidx]], 1);
	w->defer_check = 1;
}

/* Reserve the time of the slot's next connection; ms to wait (0: now). */
static uint64_t pace(struct slot *s)
{
	struct worker *w = s->w;
	struct engine *e = w->e;
	uint64_t now = loop_now_ms(w->l) * 1000u, at = now;
	if (w->rate_gap_us) {
		at = w->rate_next_us > now ? w->rate_next_us : now;
		w->rate_next_us = at + w->rate_gap_us;
	}
	if (e->ip_next_us) {
		_Atomic uint64_t *next = &e->ip_next_us[e->ip_of[s->tidx]];
		uint64_t old = atomic_load(next), t;
		/* from the later of the IP's next free time and the global one: the
		 * connection starts at t, so the IP's next one is a gap after t */
		do
			t = old > at ? old : at;
		while (!atomic_compare_exchange_weak(next, &old, t + e->ip_gap_us));
		at = t;
	}
	return at > now ? (at - now + 999) / 1000 : 0;
}

/* Dense IP index of the targets, so per-IP state is two flat arrays. */
static int build_ip_index(struct engine *e)
{
	size_t n = e->ntargets, cap = 16;
	if (n >= UINT32_MAX / 2)
		return -1;
	while (cap < 2 * n)
		cap <<= 1;
	uint32_t *tab = calloc(cap, sizeof(*tab)); /* target index + 1; 0 = empty */
	e->ip_of = malloc((n ? n : 1) * sizeof(*e->ip_of));
	if (!tab || !e->ip_of) {
		free(tab);
		return -1;
	}
	uint32_t nips = 0;
	for (size_t i = 0; i < n; i++) {
		const struct target *t = ts_get(e->targets, i);
		const uint8_t *a = NULL;
		size_t alen = 0;
		if (t->has_addr && t->addr.ss_family == AF_INET) {
			a = (const uint8_t *)&((const struct sockaddr_in *)&t->addr)->sin_addr;
			alen = 4;
		} else if (t->has_addr && t->addr.ss_family == AF_INET6) {
			a = ((const struct sockaddr_in6 *)&t->addr)->sin6_addr.s6_addr;
			alen = 16;
		}
		if (!a) {
			e->ip_of[i] = nips++;
			continue;
		}
		uint64_t h = 1469598103934665603ull ^ alen;
		for (size_t k = 0; k < alen; k++)
			h = (h ^ a[k]) * 1099511628211ull;
		for (size_t pos = (size_t)(h ^ (h >> 29)) & (cap - 1);; pos = (pos + 1) & (cap - 1)) {
			if (!tab[pos]) {
				tab[pos] = (uint32_t)i + 1;
				e->ip_of[i] = nips++;
				break;
			}
			const struct target *o = ts_get(e->targets, tab[pos] - 1);
			const uint8_t *b = o->addr.ss_family == AF_INET
						   ? (const uint8_t *)&((const struct sockaddr_in *)&o->addr)->sin_addr
						   : ((const struct sockaddr_in6 *)&o->addr)->sin6_addr.s6_addr;
			if (o->addr.ss_family == t->addr.ss_family && !memcmp(a, b, alen)) {
				e->ip_of[i] = e->ip_of[tab[pos] - 1];
				break;
			}
		}
	}
	free(tab);
	if (e->cfg.per_ip && !(e->ip_active = calloc(nips ? nips : 1, sizeof(*e->ip_active))))
		return -1;
	if (e->cfg.per_ip_rate > 0) {
		e->ip_gap_us = (uint64_t)(1e6 / e->cfg.per_ip_rate);
		if (!(e->ip_next_us = calloc(nips ? nips : 1, sizeof(*e->ip_next_us))))
			return -1;
	}
	return 0;
}

/* Write the host record and return the slot to the pool. With --capture,
 * the record waits until cap_grace_ms after the first connection ended, so
 * that packets still on their way (a server's data after a forged RST, its
 * own late RST) are counted; the slot stays busy meanwhile. */
/* --trace-probes: room for every connection a host can take (the probes,
 * each retry, the full handshake and the chain fetch). */
static unsigned trace_cap(const struct engine *e)
{
	return PLAN_MAX_PROBES + e->cfg.retries + 2;
}

/* The target's memory freed, its IP share and its slot given back. */
static void slot_release(struct slot *s)
{
	struct worker *w = s->w;
	plan_free(s->plan);
	s->plan = NULL;
	s->res.plan = NULL;
	free(s->res.trace);
	s->res.trace = NULL;
	free(s->res.transcript);
	s->res.transcript = NULL;
	hs_result_free(s->res.hs);
	s->res.hs = NULL;
	free(s->res.probe_chain);
	s->res.probe_chain = NULL;
	host_result_free_text(&s->res);
	s->res.verify = NULL;
	s->res.geo = NULL;
	atomic_fetch_sub(&w->e->st->active, 1);
	ip_release(w, s->tidx);
	s->in_use = 0;
	w->active--;
	w->free_stack[w->nfree++] = (int)(s - w->slots);
}

static void target_done(struct slot *s)
{
	struct worker *w = s->w;
	struct engine *e = w->e;
	if (s->cap_id >= 0) {
		uint64_t now = loop_now_ms(w->l), end = s->first_end_ms ? s->first_end_ms : now;
		if (!s->lingering && now < end + e->cfg.cap_grace_ms) {
			s->lingering = 1;
			loop_timer_arm(w->l, &s->timer, end + e->cfg.cap_grace_ms - now);
			return;
		}
	}
	/* the record is written below, before this function returns: one per worker */
	memset(&w->capres, 0, sizeof(w->capres));
	if (s->cap_id >= 0) {
		capture_finish(e->cfg.cap, s->cap_id, record_tampered(&s->res), &w->capres);
		s->cap_id = -1;
	}
	s->lingering = 0;
	if (s->cap_tried) {
		s->res.cap = &w->capres;
		s->res.cap_iface = capture_iface(e->cfg.cap);
	}
	s->res.connections = s->nconn;
	s->res.retries = s->retries;
	s->res.plan = s->plan ? plan_summary(s->plan) : NULL;
	verify_host(s);
	if (e->cfg.meta)
		s->res.meta = &e->cfg.meta[s->tidx];
	s->res.geo = NULL;
	if (e->cfg.geo) {
		geo_lookup_sa(e->cfg.geo, &s->sa.sa, &w->geo);
		s->res.geo = &w->geo;
	}
	s->res.duration_ms = loop_now_ms(w->l) - s->t0;
	jb_reset(&w->jb);
	/* The host's new certificate records and its host record: one unit, handed
	 * to the writer thread without a lock or a wait (never disk I/O here). */
	if (record_host(&w->jb, e->cfg.scan_id, &s->res) < 0 || recq_add(w->rq, w->jb.buf, w->jb.len) < 0)
		atomic_fetch_add(&e->st->write_errors, 1);
	if (recq_commit(w->rq) < 0)
		atomic_fetch_add(&e->st->write_errors, 1);
	if (e->cfg.summaries) {
		struct host_summary *hsum = &e->cfg.summaries[s->tidx];
		hsum->status = (uint8_t)s->res.status;
		hsum->starttls = (uint8_t)s->res.starttls;
		hsum->tls = (uint8_t)(s->res.tls.got_server_hello != 0);
		hsum->least_grade = s->res.least_grade;
		hsum->done = 1;
	}
	atomic_fetch_add(&e->st->status[s->res.status], 1);
	atomic_fetch_add(&e->st->done, 1);
	slot_release(s);
}

/* What one probe connection's result means to the plan. */
static void probe_outcome(const struct host_result *r, struct probe_result *pr)
{
	const struct tls_probe_result *t = &r->tls;
	memset(pr, 0, sizeof(*pr));
	if (t->got_server_hello) {
		pr->outcome = t->hrr ? PO_HRR : PO_SERVER_HELLO;
		pr->version = t->version;
		pr->cipher = t->cipher;
		pr->group = t->group;
		pr->compression = t->compression;
		pr->reneg_info = t->reneg_info;
		pr->dh_bits = t->dh_bits;
	} else if (t->got_alert) {
		pr->outcome = PO_ALERT;
		pr->alert = t->alert_desc;
	} else if (!t->attempted || !r->fail_stage || strcmp(r->fail_stage, "tls-hello") != 0) {
		pr->outcome = PO_NO_TLS;
	} else if (!strcmp(r->fail_reason, "closed")) {
		pr->outcome = PO_CLOSED;
	} else if (!strcmp(r->fail_reason, "reset")) {
		pr->outcome = PO_RESET;
	} else if (!strcmp(r->fail_reason, "timeout")) {
		pr->outcome = PO_TIMEOUT;
	} else {
		pr->outcome = PO_NOT_TLS;
	}
}

static int start_conn(struct slot *s);
static int launch(struct slot *s);

/* The baseline connection was turned away before TLS: a 421 (RFC 5321
 * §4.2.3: service not available, try later), or a reset, close or silence
 * before the ClientHello. Connection and rate limits look like this, and a
 * retry after a back-off usually gets in. A refused or timed-out connect is
 * an answer (nothing listens there) and is not retried. */
static int turned_away(const struct host_result *r)
{
	if (r->tls.attempted || !r->fail_stage || !strcmp(r->fail_stage, "connect"))
		return 0;
	return !strcmp(r->fail_reason, "smtp-421") || !strcmp(r->fail_reason, "reset") ||
	       !strcmp(r->fail_reason, "closed") || !strcmp(r->fail_reason, "timeout");
}

/* Back-off before retry number s->retries + 1: --backoff doubled each time. */
static uint64_t backoff_ms(const struct slot *s)
{
	uint64_t b = s->w->e->cfg.backoff_ms;
	for (unsigned i = 0; i < s->retries && b < ENGINE_MAX_BACKOFF_MS; i++)
		b *= 2;
	return b < ENGINE_MAX_BACKOFF_MS ? b : ENGINE_MAX_BACKOFF_MS;
}

static void init_result(struct slot *s);

/* --host-timeout: the host's time is up; no further connection is started for it. */
static int over_budget(struct slot *s)
{
	unsigned ms = s->w->e->cfg.host_ms;
	if (ms && loop_now_ms(s->w->l) - s->t0 >= ms) {
		s->res.host_timeout = 1;
		return 1;
	}
	return 0;
}

/* After the probes: one full handshake, when the server speaks a version
 * wolfSSL can (TLS 1.1+: the baseline got the server's highest). */
static int want_handshake(struct slot *s)
{
	const struct tls_probe_result *t = &s->res.tls;
	return s->w->e->hs_ctx && !s->res.hs && t->got_server_hello && !t->hrr && t->version >= 0x0302 &&
	       !atomic_load(&s->w->e->draining) && !over_budget(s);
}

/* Start the handshake connection; 1 when in progress, 0 when it is not
 * possible or ended at once. */
static int start_handshake_conn(struct slot *s)
{
	s->res.hs = calloc(1, sizeof(*s->res.hs));
	if (!s->res.hs)
		return 0;
	s->handshaking = 1;
	return launch(s);
}

/* After the enumeration and the handshake: one more probe for the chain when
 * an answer carried certificates, none is kept, and the handshake gave none.
 * 1 in progress, 0 ended at once (conn_done's loop closes it), -1 not made. */
static int start_chain_conn(struct slot *s)
{
	const struct hs_result *h = s->res.hs;
	if (!s->w->e->cfg.roots || !s->cert_ver || s->res.probe_chain || (h && h->ok && h->chain) ||
	    atomic_load(&s->w->e->draining) || over_budget(s) ||
	    !(s->probe = plan_chain_probe(s->plan, s->cert_ver, s->cert_cipher)))
		return -1;
	return launch(s);
}

/* The host's last step: the chain fetch when one is wanted, else the record.
 * 0 when the fetch connection ended at once (conn_done's loop closes it), else 1. */
static int fetch_chain_or_finish(struct slot *s)
{
	int f = start_chain_conn(s);
	if (f < 0)
		target_done(s);
	return f != 0;
}

/* A connection reached CONN_DONE: close it, tell the plan, and either start
 * the next probe in the same slot or finish the target. Iterative: probes
 * that fail at once are fed back without recursion. */
static void conn_done(struct slot *s)
{
	struct worker *w = s->w;
	for (;;) {
		if (s->nconn == 1 && !s->first_end_ms)
			s->first_end_ms = loop_now_ms(w->l);
		loop_timer_cancel(w->l, &s->timer);
		if (s->fd >= 0) {
			loop_del_fd(w->l, s->fd);
			close(s->fd);
			s->fd = -1;
		}
		if (s->handshaking) {
			s->handshaking = 0;
			if (s->res.trace && s->res.ntrace < trace_cap(w->e)) {
				const struct hs_result *h = s->res.hs;
				s->res.trace[s->res.ntrace++] = (struct probe_trace){
					.kind = PK__COUNT, /* the full handshake */
					.outcome = (uint8_t)(h->ok ? PO_SERVER_HELLO : PO_CLOSED),
					.alert = (uint8_t)(h->alert > 0 ? h->alert : 0),
					.version = h->version,
					.cipher = h->cipher,
					.ms = (uint32_t)(loop_now_ms(w->l) - s->conn_t0),
				};
			}
			if (fetch_chain_or_finish(s))
				return;
			continue; /* the chain fetch failed at once: close it above */
		}
		struct probe_result pr;
		probe_outcome(s->first ? &s->res : &s->pres, &pr);
		if (s->res.trace && s->res.ntrace < trace_cap(w->e)) {
			struct probe_trace *tr = &s->res.trace[s->res.ntrace++];
			*tr = (struct probe_trace){
				.kind = (uint8_t)s->probe->kind,
				.ver = (uint8_t)s->probe->ver,
				.offered = (uint16_t)s->probe->opts.nsuites,
				.outcome = (uint8_t)pr.outcome,
				.alert = pr.alert,
				.version = pr.version,
				.cipher = pr.cipher,
				.group = pr.group,
				.ms = (uint32_t)(loop_now_ms(w->l) - s->conn_t0),
			};
		}
		/* A connection turned away before TLS (421, a reset or close at the
		 * banner: connection or rate limits) is repeated after a back-off
		 * instead of ending the host or its enumeration: --backoff (0.5 s),
		 * doubled each time, at most --retries (3) times per host. */
		if ((s->first ? turned_away(&s->res) : pr.outcome == PO_NO_TLS) && s->retries < w->e->cfg.retries &&
		    !atomic_load(&w->e->draining) && !over_budget(s)) {
			if (s->first)
				init_result(s); /* the record keeps the dialogue of the attempt that counts */
			s->waiting = 1;
			loop_timer_arm(w->l, &s->timer, backoff_ms(s));
			s->retries++;
			atomic_fetch_add(&w->e->st->retries, 1);
			return;
		}
		s->first = 0;
		/* the first leaf certificate any probe saw grades the suites; parsed once per host */
		if (s->res.tls.leaf.type == CK_NONE && s->c.leaf)
			certkey_parse(s->c.leaf, s->c.leaf_len, &s->res.tls.leaf);
		if (s->probe->kind == PK_CHAIN) { /* the chain fetch */
			keep_probe_chain(s);
			target_done(s);
			return;
		}
		note_cert_probe(s);
		plan_result(s->plan, &pr);
		if (atomic_load(&w->e->draining) || over_budget(s) || !(s->probe = plan_next_probe(s->plan))) {
			/* the enumeration is over: keeping the last answer's chain costs no
			 * connection's memory any more, and may spare the chain fetch */
			keep_probe_chain(s);
			if (want_handshake(s) && start_handshake_conn(s))
				return;
			if (s->handshaking)
				continue; /* the handshake connection failed at once: close it above */
			if (fetch_chain_or_finish(s))
				return;
			continue; /* the chain fetch failed at once: close it above */
		}
		if (launch(s))
			return;
	}
}

/* Push pending bytes, re-arm the deadline, re-derive interest, or finish. */
static void sync_slot(struct slot *s)
{
	struct worker *w = s->w;
	struct conn *c = &s->c;
	if (c->state != CONN_DONE && c->txlen > 0 && c->state != CONN_EXPECT_CONNECT) {
		ssize_t n = send(s->fd, c->tx, c->txlen, MSG_NOSIGNAL);
		if (n > 0) {
			conn_tx_consumed(c, (size_t)n);
		} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			conn_on_error(c, errno); /* enters DONE: closed below */
		}
	}
	if (c->rearm) {
		c->rearm = 0;
		if (c->state != CONN_DONE)
			loop_timer_arm(w->l, &s->timer, c->timeout_ms);
	}
	if (c->state == CONN_DONE) {
		conn_done(s);
		return;
	}
	uint32_t interest = c->state == CONN_EXPECT_CONNECT ? LOOP_WRITE : LOOP_READ;
	if (c->txlen > 0)
		interest |= LOOP_WRITE;
	loop_mod_fd(w->l, s->fd, interest);
}

/* Open connection number s->nconn + 1 of the target for s->probe. Returns 1
 * when it is in progress, 0 when it ended at once (its conn is DONE). */
static int start_conn(struct slot *s)
{
	int first = s->first;
	struct worker *w = s->w;
	struct engine *e = w->e;
	struct host_result *r = &s->res;
	if (!first) {
		r = &s->pres;
		host_result_free_text(r); /* the previous probe's */
		memset(r, 0, sizeof(*r));
		memcpy(r->ip, s->res.ip, sizeof(r->ip));
		r->port = s->res.port;
		r->mode = s->res.mode;
		r->sni = s->res.sni;
		r->no_text = 1;
		r->hs = s->handshaking ? s->res.hs : NULL;
		/* the transcript follows the baseline and then the full handshake */
		r->transcript = s->handshaking ? s->res.transcript : NULL;
		if (r->transcript)
			r->transcript->skip_plain = 1;
	}
	s->nconn++;
	s->conn_t0 = loop_now_ms(w->l);
	atomic_fetch_add(&e->st->connections, 1);
	s->fd = -1;
	if (conn_init(&s->c, &e->cfg.conn, r) < 0) {
		r->status = ST_UNKNOWN_ERROR;
		r->fail_stage = "connect";
		snprintf(r->fail_reason, sizeof(r->fail_reason), "out-of-memory");
		s->c.state = CONN_DONE;
		return 0;
	}
	if (s->handshaking)
		s->c.hs_ctx = e->hs_ctx;
	else
		s->c.hello_opts = &s->probe->opts; /* built by conn when TLS starts, not kept per slot */
	timer_init(&s->timer, on_timer, s);
	/* The capture follows the host's very first connection; retries of a turned-away
	 * baseline (a reset at STARTTLS, a 421) are not followed again. */
	int follow = first && e->cfg.cap && !s->cap_tried;
	if (follow)
		s->cap_tried = 1; /* the record says "not-tracked" if registration does not happen */
	s->fd = socket(s->sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		conn_on_error(&s->c, errno);
		return 0;
	}
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	uint64_t wall_us = follow ? wall_ms() * 1000u : 0; /* at connect(), for the capture's replay */
	if (loop_add_fd(w->l, s->fd, LOOP_WRITE, on_fd, s) < 0 ||
	    (connect(s->fd, &s->sa.sa, s->salen) < 0 && errno != EINPROGRESS)) {
		conn_on_error(&s->c, errno);
		return 0;
	}
	if (follow) {
		/* the local port exists once connect() has been called */
		struct sockaddr_storage local;
		socklen_t ll = sizeof(local);
		if (getsockname(s->fd, (struct sockaddr *)&local, &ll) == 0)
			s->cap_id = capture_register(e->cfg.cap, (struct sockaddr *)&local, &s->sa.sa, wall_us);
	}
	s->c.rearm = 1; /* arm the connect deadline */
	loop_timer_arm(w->l, &s->timer, s->c.timeout_ms);
	s->c.rearm = 0;
	return 1;
}

/* Start the slot's next connection now or, when --rate or --per-ip-rate
 * say so, after a wait. 1 in progress or waiting, 0 ended at once. */
static int launch(struct slot *s)
{
	uint64_t wait = pace(s);
	if (wait) {
		s->waiting = 2;
		timer_init(&s->timer, on_timer, s);
		loop_timer_arm(s->w->l, &s->timer, wait);
		return 1;
	}
	return start_conn(s);
}

/* The record of the slot's target as it starts (again, for a retried
 * baseline: the trace and transcript of earlier attempts and the start time
 * are kept). */
static void init_result(struct slot *s)
{
	struct engine *e = s->w->e;
	const struct target *t = ts_get(e->targets, s->tidx);
	uint16_t port = t->port ? t->port : e->cfg.default_port;
	struct host_result *r = &s->res;
	struct probe_trace *trace = r->trace;
	unsigned ntrace = r->ntrace;
	uint64_t start_ms = r->start_ms;
	struct transcript *transcript = r->transcript;
	host_result_free_text(r);
	memset(r, 0, sizeof(*r));
	r->trace = trace;
	r->ntrace = ntrace;
	r->start_ms = start_ms;
	r->transcript = transcript;
	r->port = port;
	r->mode = engine_mode_for_port(port, e->cfg.mode);
	r->sni = t->sni; /* the target set outlives the scan */
	r->name = t->host;
	r->tag = t->tag;
	memset(&s->sa, 0, sizeof(s->sa));
	if (t->addr.ss_family == AF_INET) {
		memcpy(&s->sa.in, &t->addr, sizeof(s->sa.in));
		s->salen = sizeof(s->sa.in);
		s->sa.in.sin_port = htons(port);
		inet_ntop(AF_INET, &s->sa.in.sin_addr, r->ip, sizeof(r->ip));
	} else {
		memcpy(&s->sa.in6, &t->addr, sizeof(s->sa.in6));
		s->salen = sizeof(s->sa.in6);
		s->sa.in6.sin6_port = htons(port);
		inet_ntop(AF_INET6, &s->sa.in6.sin6_addr, r->ip, sizeof(r->ip));
	}
}

static int start_target(struct worker *w, size_t idx);

/* Start the next target in a free slot (the caller checked there is one).
 * Returns 1 when a connection is in progress, 0 when the target was consumed
 * without one (blocked, or failed at once with its record written and its
 * slot returned), -1 when there are no targets left. */
static int start_one(struct worker *w)
{
	struct engine *e = w->e;
	if (atomic_load(&e->draining))
		return -1;
	size_t idx = atomic_fetch_add(&e->next, 1);
	if (idx >= e->ntargets)
		return -1;
	if (e->cfg.skip && e->cfg.skip[idx]) {
		/* --resume: its record is already in the output. */
		atomic_fetch_add(&e->st->skipped, 1);
		return 0;
	}
	const struct target *t = ts_get(e->targets, idx);
	const char *why = NULL;
	if (!t->has_addr || !bl_check(e->cfg.bl, (const struct sockaddr *)&t->addr, &why)) {
		/* Refused by the blocklist right before connect: counted, never contacted. */
		atomic_fetch_add(&e->st->blocked, 1);
		return 0;
	}
	if (!ip_acquire(e, idx)) {
		/* its IP has --per-ip targets in flight: later (refill keeps the
		 * defer list within defer_cap) */
		w->defer[w->ndefer++] = idx;
		atomic_fetch_add(&e->st->deferred, 1);
		return 0;
	}
	return start_target(w, idx);
}

/* Start target idx, whose IP share is held, in a free slot; as start_one. */
static int start_target(struct worker *w, size_t idx)
{
	struct engine *e = w->e;
	struct slot *s = &w->slots[w->free_stack[--w->nfree]];
	s->tidx = idx;
	struct host_result *r = &s->res;
	r->trace = NULL;
	r->ntrace = 0;
	r->start_ms = wall_ms();
	init_result(s);
	if (e->cfg.trace_probes)
		r->trace = calloc(trace_cap(e), sizeof(*r->trace));
	if (e->cfg.transcript)
		r->transcript = calloc(1, sizeof(*r->transcript));
	s->t0 = loop_now_ms(w->l);
	s->in_use = 1;
	s->nconn = 0;
	s->retries = 0;
	s->waiting = 0;
	s->handshaking = 0;
	s->cert_ver = 0;
	s->cert_cipher = 0;
	s->first = 1;
	s->cap_id = -1;
	s->cap_tried = 0;
	s->lingering = 0;
	s->first_end_ms = 0;
	w->active++;
	atomic_fetch_add(&e->st->started, 1);
	unsigned long act = atomic_fetch_add(&e->st->active, 1) + 1, peak = atomic_load(&e->st->peak_active);
	while (act > peak && !atomic_compare_exchange_weak(&e->st->peak_active, &peak, act))
		;
	s->plan = plan_new((enum enum_mode)e->cfg.enum_mode, r->sni[0] ? r->sni : NULL);
	if (!s->plan || !(s->probe = plan_next_probe(s->plan))) {
		r->status = ST_UNKNOWN_ERROR;
		r->fail_stage = "connect";
		snprintf(r->fail_reason, sizeof(r->fail_reason), "out-of-memory");
		target_done(s);
		return 0;
	}
	if (launch(s))
		return 1;
	conn_done(s);
	return 0;
}

/* Start deferred targets whose IP has a free share now, in order. */
static void run_deferred(struct worker *w)
{
	unsigned k = 0;
	w->defer_check = 0;
	for (unsigned i = 0; i < w->ndefer; i++) {
		size_t idx = w->defer[i];
		if (w->nfree > 0 && !atomic_load(&w->e->draining) && ip_acquire(w->e, idx))
			start_target(w, idx);
		else
			w->defer[k++] = idx;
	}
	w->ndefer = k;
}

static void refill(struct worker *w)
{
	/* Back-pressure: while the writer thread lags this far behind, records
	 * wait in this worker's overflow list and no new target starts. */
	if (recq_backlog(w->rq) > 0 && (recq_pump(w->rq), recq_congested(w->rq)))
		return;
	if (w->ndefer > 0 && w->defer_check)
		run_deferred(w);
	/* look past addresses at their limit (input sorted by address puts
	 * all ports of one address together), but boundedly: memory stays
	 * small when the input is one address with many ports */
	while (w->nfree > 0 && w->ndefer < w->defer_cap && start_one(w) >= 0)
		;
}

static void on_timer(struct loop *l, struct timer *t, void *ud)
{
	(void)l;
	(void)t;
	struct slot *s = ud;
	if (s->lingering) {
		target_done(s); /* the capture grace is over: verdict and record */
		refill(s->w);
		return;
	}
	if (s->waiting) {
		/* back-off over: the same probe again (paced); pacing wait over: connect */
		int paced = s->waiting == 2;
		s->waiting = 0;
		if (paced && s->nconn == 0 && atomic_load(&s->w->e->draining)) {
			/* interrupted before its first connection (waiting for --rate or
			 * --per-ip-rate): not scanned, no record, the slot back to the pool */
			slot_release(s);
			return;
		}
		if (!(paced ? start_conn(s) : launch(s)))
			conn_done(s);
		refill(s->w);
		return;
	}
	conn_on_timeout(&s->c);
	sync_slot(s);
	refill(s->w);
}

static void on_fd(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)l;
	struct slot *s = ud;
	struct conn *c = &s->c;
	if (!s->in_use || s->fd != fd)
		return;
	if (c->state == CONN_EXPECT_CONNECT) {
		if (ev & (LOOP_WRITE | LOOP_ERROR)) {
			int err = 0;
			socklen_t len = sizeof(err);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err)
				conn_on_error(c, err);
			else
				conn_on_connected(c);
		}
	} else if (ev & (LOOP_READ | LOOP_ERROR)) {
		uint8_t buf[16384];
		/* Bounded number of reads per event so one chatty peer cannot starve others. */
		for (int i = 0; i < 4 && c->state != CONN_DONE; i++) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n > 0) {
				conn_on_data(c, buf, (size_t)n);
				if ((size_t)n < sizeof(buf))
					break;
			} else if (n == 0) {
				conn_on_eof(c);
			} else {
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
					conn_on_error(c, errno);
				break;
			}
		}
	}
	sync_slot(s);
	refill(s->w);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct engine *e = w->e;
	loop_update_now(w->l); /* pacing reserves times from now, not from loop_new */
	refill(w);
	while (w->active > 0 ||
	       (!atomic_load(&e->draining) && (w->ndefer > 0 || atomic_load(&e->next) < e->ntargets))) {
		/* deferred targets wait for shares other threads free: look often */
		if (loop_run_once(w->l, w->ndefer || recq_backlog(w->rq) ? 5 : 250) < 0)
			break;
		w->defer_check = 1;
		refill(w);
	}
	recq_finish(w->rq); /* hands over what is left without waiting */
	/* wolfSSL's fixed-point ECC cache (FP_ECC) is per thread: free this one's. */
	hs_thread_cleanup();
	return NULL;
}

static void worker_free(struct worker *w)
{
	if (w->slots)
		for (unsigned i = 0; i < w->nslots; i++) {
			conn_release(&w->slots[i].c);
			host_result_free_text(&w->slots[i].res);
			host_result_free_text(&w->slots[i].pres);
		}
	free(w->slots);
	free(w->free_stack);
	free(w->defer);
	jb_free(&w->jb);
	loop_free(w->l);
}

struct engine *engine_start(const struct engine_config *cfg, const struct target_set *targets,
			    struct engine_stats *stats, char *err, size_t errlen)
{
	struct engine *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->cfg = *cfg;
	e->targets = targets;
	e->ntargets = ts_count(targets);
	e->st = stats;
	e->nworkers = cfg->threads ? cfg->threads : 1;
	if (cfg->handshake && !(e->hs_ctx = hs_ctx_new(err, errlen))) {
		free(e);
		return NULL;
	}
	e->certs = certstore_new();
	for (size_t i = 0; e->certs && i < cfg->nseen_certs; i++)
		certstore_add(e->certs, cfg->seen_certs[i]);
	if ((cfg->per_ip || cfg->per_ip_rate > 0) && build_ip_index(e) < 0)
		goto oom;
	unsigned per = (cfg->concurrency + e->nworkers - 1) / e->nworkers;
	if (per == 0)
		per = 1;
	e->workers = calloc(e->nworkers, sizeof(*e->workers));
	if (!e->workers)
		goto oom;
	for (unsigned i = 0; i < e->nworkers; i++) {
		struct worker *w = &e->workers[i];
		w->e = e;
		w->nslots = per;
		w->l = loop_new(65536);
		w->slots = calloc(per, sizeof(*w->slots));
		w->free_stack = calloc(per, sizeof(int));
		w->defer_cap = per < 256 ? 1024 : 4 * per;
		w->defer = calloc(w->defer_cap, sizeof(*w->defer));
		jb_init(&w->jb);
		w->rq = recq_producer(cfg->out, i);
		if (!w->rq) {
			snprintf(err, errlen, "record writer has fewer queues than threads");
			goto fail;
		}
		if (!w->l || !w->slots || !w->free_stack || !w->defer)
			goto oom;
		if (cfg->rate > 0)
			w->rate_gap_us = (uint64_t)(1e6 * e->nworkers / cfg->rate);
		for (unsigned k = 0; k < per; k++) {
			w->slots[k].fd = -1;
			w->slots[k].w = w;
			w->free_stack[w->nfree++] = (int)(per - 1 - k);
		}
	}
	atomic_store(&e->running, (int)e->nworkers);
	for (unsigned i = 0; i < e->nworkers; i++) {
		if (pthread_create(&e->workers[i].th, NULL, worker_main, &e->workers[i]) != 0) {
			snprintf(err, errlen, "cannot start worker thread %u", i);
			atomic_store(&e->draining, 1);
			for (unsigned k = 0; k < i; k++)
				pthread_join(e->workers[k].th, NULL);
			e->nworkers = i;
			goto fail;
		}
	}
	return e;
oom:
	snprintf(err, errlen, "out of memory allocating %u connection slots", cfg->concurrency);
fail:
	if (e->workers)
		for (unsigned i = 0; i < e->nworkers; i++)
			worker_free(&e->workers[i]);
	free(e->workers);
	hs_ctx_free(e->hs_ctx);
	certstore_free(e->certs);
	free(e->ip_of);
	free(e->ip_active);
	free(e->ip_next_us);
	free(e);
	return NULL;
}

int engine_running(struct engine *e)
{
	return atomic_load(&e->st->done) + atomic_load(&e->st->blocked) + atomic_load(&e->st->skipped) < e->ntargets &&
	       !(atomic_load(&e->draining) && atomic_load(&e->st->active) == 0);
}

void engine_drain(struct engine *e)
{
	atomic_store(&e->draining, 1);
}

void engine_join(struct engine *e)
{
	for (unsigned i = 0; i < e->nworkers; i++)
		pthread_join(e->workers[i].th, NULL);
	for (unsigned i = 0; i < e->nworkers; i++)
		worker_free(&e->workers[i]);
	free(e->workers);
	hs_ctx_free(e->hs_ctx);
	certstore_free(e->certs);
	free(e->ip_of);
	free(e->ip_active);
	free(e->ip_next_us);
	free(e);
}
