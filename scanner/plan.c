/*
 * plan: which TLS probes to send to one host and what each answer proves.
 * Pure logic, no sockets: plan_next() hands out a ClientHello description,
 * plan_result() consumes what the server answered, until plan_next() says done.
 *
 * Order of work: the baseline hello (QUICK stops there); then each version
 * from TLS 1.3 down to SSLv3: a version test unless already settled, then
 * (FULL) the elimination, the order probe and, when needed, a merge of the
 * server's order; then (FULL) the TLS 1.2 curves, compression, fallback SCSV.
 * What saves connections:
 *  - Version inference. A server picks the highest version it supports up to
 *    the client's (RFC 5246 appendix E.1, RFC 8446 section 4.2.1): a hello
 *    offering up to v answered with version w proves w and refutes every
 *    version between w and v (the baseline answering TLS 1.2 settles TLS 1.3).
 *    protocol_version (alert 70) refutes v alone: servers with a version gap
 *    (GnuTLS with TLS 1.0 and 1.2) refuse 1.1 that way yet accept 1.0.
 *  - The version test of v is the first elimination probe of v, so its
 *    ServerHello is the first suite found; the baseline's suite is kept as
 *    well (suites[0], "seeded"). handshake_failure / insufficient_security
 *    (40, 71) mean the version passed and the suites did not, so every window
 *    is tried (a server may take only exotic suites); silence, FIN, RST or
 *    other alerts tell nothing, and two windows refused that way refute the
 *    version (such a server can hide a version that takes only exotic suites).
 *  - Candidates per version, built once: the baseline's suites valid in v, the
 *    common ones first (ECDHE/DHE/RSA, RSA/ECDSA keys, AES, ChaCha20, 3DES,
 *    RC4), then the rest of the IANA table by strength, then by code. The
 *    first window thus holds what real servers take. SSLv3 also gets the TLS
 *    1.0 suites without AEAD or SHA-2 MAC (OpenSSL and NSS negotiated AES
 *    there). TLS 1.2 has 324 candidates, TLS 1.0 137, SSLv3 139, TLS 1.1 112,
 *    TLS 1.3 15.
 *  - Elimination (FULL) offers a window: the first PLAN_CHUNK candidates
 *    neither found nor refused. A pick is recorded and leaves the window (the
 *    next candidate slides in); a refusal, or a pick we did not offer
 *    (counted in unoffered), refutes the whole window. Cost per version: one
 *    probe per suite plus ceil((candidates - suites) / PLAN_CHUNK) refusals:
 *    5 for TLS 1.2 once 4 suites are found.
 *  - Order. Discovery i continues the segment of discovery i-1 when i was in
 *    the offer that found i-1: a server preferring its own order ranked i-1
 *    above i, and by transitivity every earlier suite of the segment. One
 *    PK_ORDER probe offers the accepted suites reversed (at most a window: all
 *    segment heads and the last found first): the last found means client
 *    order (when it heads a segment of its own, a second probe with it moved
 *    last settles it); a segment head means server order and names the
 *    server's favourite. One segment: done, the discovery order is the
 *    server's. Several: merged with small probes (one suite of the current
 *    winner plus the other segments' heads): first "does all of the
 *    favourite's segment come first?", then one probe per suite, galloping
 *    (end check, exponential, binary search) after two wins in a row. A
 *    segment of weak suites found in a later window costs 1 probe; a random
 *    interleaving about one probe per suite, the most a pick can tell. (Offer
 *    everything, record, remove would cost one probe per suite every time.)
 *  - TLS 1.3 suites and groups are eliminated together: with an empty
 *    key_share and the remaining suites and groups, each HelloRetryRequest
 *    names a new suite and a new group. At the first refusal we do not know
 *    which list ran out: the remaining suites go once more with every group
 *    (refused: suites done; taken with a group already found: groups done),
 *    then whichever is left goes on alone.
 *  - TLS 1.2 curves: the first ECDHE ServerKeyExchange of the elimination
 *    (every curve offered) gives the favourite; PK_GROUPS12 then offers the
 *    accepted ECDHE suites with the remaining curves until refused. TLS <= 1.2
 *    hellos offer no FFDHE group, so DHE servers show their configured prime
 *    (dh_bits), not an RFC 7919 group.
 *
 * Connections per host (tests/unit/test_plan.c prints them): a modern server
 * (TLS 1.3 with 3 suites and 4 groups, TLS 1.2 with 17 suites and 3 curves,
 * server order) costs 38: baseline 1, TLS 1.3 suites and groups 7, TLS 1.2 17
 * picks + 5 refusals, TLS 1.1 1 (settles 1.0 and SSLv3), order 2, curves 3,
 * compression 1, fallback 1. A TLS 1.2-only server with 10 suites costs 20:
 * baseline (first suite, TLS 1.3 refuted), 9 picks + 5 refusals, TLS 1.1 1,
 * order 1, curves 2, compression 1. A TLS 1.3-only server 8, a TLS 1.0-only
 * static-RSA/RC4/3DES server 10, a TLS 1.0-1.2 client-order server 36, an
 * SSLv3+TLS 1.0 export server 29, 150 TLS 1.2 suites in random server order
 * 334 (163 of them ordering). ENUM_VERSIONS: 3 to 5, ENUM_QUICK: 1.
 *
 * Memory per host (issue 10): struct plan is 816 B; the probe's suites point
 * at a static list (the baseline's offer, a version's first candidates) or at
 * p->offer, grown to the largest offer (a window, 64 suites: 128 B); the
 * found/refused bit sets exist for the version under work only; the accepted
 * suites, their window ends and the order merge are allocated to size.
 */
#include "mxscan/plan.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mxscan/conn.h"
#include "mxscan/suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NOT_FOUND    ((size_t)-1)
#define BIT_WORDS    (PLAN_MAX_OFFER / 64)
#define MAX_SEG      64 /* segments merged; more (never seen) leaves the order incomplete */
#define MIN_GALLOP   2  /* wins in a row before a merge starts galloping */

/* ---- names ------------------------------------------------------------ */

static const char *const mode_names[] = { "quick", "versions", "full" };
_Static_assert(ARRAY_LEN(mode_names) == ENUM__COUNT, "one name per enum_mode");

static const char *const kind_names[] = { "baseline", "version",     "suites",   "order", "groups12",
					  "groups13", "compression", "fallback", "chain" };
_Static_assert(ARRAY_LEN(kind_names) == PK__COUNT, "one name per probe_kind");

static const char *const outcome_names[] = {
	"server-hello", "hello-retry-request", "alert", "closed", "reset", "timeout", "not-tls", "no-tls"
};
_Static_assert(ARRAY_LEN(outcome_names) == PO__COUNT, "one name per probe_outcome");

static const char *const order_names[] = { "unknown", "server", "client", "indeterminate" };
_Static_assert(ARRAY_LEN(order_names) == ORDER__COUNT, "one name per plan_order");

enum plan_phase {
	PH_BASELINE = 0,
	PH_ENUM,          /* version test + elimination of p->cur (TLS 1.3: suites and groups together) */
	PH_ENUM13_SUITES, /* TLS 1.3 suites alone, every group offered */
	PH_ENUM13_GROUPS, /* TLS 1.3 groups alone, the accepted suites offered */
	PH_ORDER,         /* server or client order of p->cur */
	PH_MERGE,         /* the server's order across segments */
	PH_GROUPS12,
	PH_COMPRESSION,
	PH_FALLBACK,
	PH_DONE,
	PH__COUNT
};
static const char *const phase_names[] = { "baseline", "enumerate", "enumerate-tls13-suites", "enumerate-tls13-groups",
					   "order",    "merge",     "groups-tls12",           "compression",
					   "fallback", "done" };
_Static_assert(ARRAY_LEN(phase_names) == PH__COUNT, "one name per plan_phase");

/* Which probe a merge makes next for the winning segment (see next_merge). */
enum merge_mode {
	MERGE_LINEAR = 0, /* test the winner's next suite */
	MERGE_END,        /* test its last suite: does all of it come first? */
	MERGE_EXP,        /* exponential steps */
	MERGE_BIN,        /* binary search between the last win and the first loss */
	MERGE__COUNT
};
static const char *const merge_names[] = { "merge-linear", "merge-end", "merge-exp", "merge-bin" };
_Static_assert(ARRAY_LEN(merge_names) == MERGE__COUNT, "one name per merge_mode");

const char *enum_mode_name(enum enum_mode m)
{
	return (unsigned)m < ENUM__COUNT ? mode_names[m] : "unknown";
}

int enum_mode_parse(const char *s)
{
	for (int i = 0; s && i < ENUM__COUNT; i++)
		if (!strcmp(s, mode_names[i]))
			return i;
	return -1;
}

const char *probe_kind_name(enum probe_kind k)
{
	return (unsigned)k < PK__COUNT ? kind_names[k] : "unknown";
}

const char *probe_outcome_name(enum probe_outcome o)
{
	return (unsigned)o < PO__COUNT ? outcome_names[o] : "unknown";
}

const char *plan_order_name(enum plan_order o)
{
	return (unsigned)o < ORDER__COUNT ? order_names[o] : "unknown";
}

uint16_t plan_ver_wire(enum plan_ver v)
{
	return (unsigned)v < PV__COUNT ? (uint16_t)(TLS_SSL3 + v) : 0;
}

/* ---- tables shared by every plan (built once) -------------------------- */

/* Curves offered in TLS <= 1.2 hellos (RFC 8422 section 5.1.1), most used
 * first: brainpool (RFC 7027) and secp256k1 still show up on mail servers. */
static const uint16_t curves12[] = { GROUP_X25519,
				     GROUP_SECP256R1,
				     GROUP_SECP384R1,
				     GROUP_SECP521R1,
				     GROUP_X448,
				     26 /* brainpoolP256r1 */,
				     27 /* brainpoolP384r1 */,
				     28 /* brainpoolP512r1 */,
				     22 /* secp256k1 */ };
_Static_assert(ARRAY_LEN(curves12) <= 32, "curve bits fit a uint32_t");
_Static_assert(ARRAY_LEN(curves12) <= PLAN_MAX_GROUPS12, "every curve fits plan_summary.groups12");
_Static_assert(PLAN_MAX_GROUPS13 <= 32, "TLS 1.3 group bits fit a uint32_t");

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static struct {
	uint16_t cand[PV__COUNT][PLAN_MAX_OFFER]; /* candidates per version, in offer order */
	size_t ncand[PV__COUNT];
	uint8_t in_base[PV__COUNT][PLAN_MAX_OFFER];  /* candidate is in the baseline offer */
	uint32_t by_code[PV__COUNT][PLAN_MAX_OFFER]; /* (code << 16 | index), sorted: cand_index() */
	uint16_t groups13[PLAN_MAX_GROUPS13];        /* groups offered in TLS 1.3 probes */
	size_t ngroups13;
} tab;
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static int has16(const uint16_t *a, size_t n, uint16_t x)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] == x)
			return 1;
	return 0;
}

static int sha2_mac(const struct suite_info *s)
{
	return !strcmp(s->mac, "SHA256") || !strcmp(s->mac, "SHA384");
}

static int cand_valid(const struct suite_info *s, enum plan_ver v)
{
	if (s->flags & SF_SIGNALING)
		return 0;
	if (s->versions & suite_version_bit(plan_ver_wire(v)))
		return 1;
	/* The table marks AES/Camellia CBC as TLS 1.0+, but OpenSSL and NSS
	 * negotiated them over SSLv3 (only AEAD and SHA-2 MACs need TLS 1.2). */
	return v == PV_SSL3 && (s->versions & SV_TLS10) && !(s->flags & SF_AEAD) && !sha2_mac(s);
}

/* What nearly every server that takes a suite at all takes: the first window. */
static int common_suite(const struct suite_info *s)
{
	static const char *const enc[] = { "AES_128_GCM", "AES_256_GCM", "CHACHA20_POLY1305",
					   "AES_128_CBC", "AES_256_CBC", "3DES_EDE_CBC",
					   "RC4_128" };
	if (!strcmp(s->kx, "TLS13"))
		return s->code >= 0x1301 && s->code <= 0x1303;
	if (s->flags & (SF_EXPORT | SF_ANON | SF_NULL_CIPHER | SF_PSK | SF_UNREGISTERED))
		return 0;
	if (strcmp(s->kx, "ECDHE") && strcmp(s->kx, "DHE") && strcmp(s->kx, "RSA"))
		return 0;
	if (strcmp(s->au, "RSA") && strcmp(s->au, "ECDSA"))
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(enc); i++)
		if (!strcmp(s->enc, enc[i]))
			return 1;
	return 0;
}

/* Strength rank of the suites beyond the baseline: lower is offered first. */
static int rest_rank(const struct suite_info *s)
{
	int r = 0;
	if (s->flags & SF_NULL_CIPHER)
		r += 64;
	if (s->flags & SF_EXPORT)
		r += 32;
	if (s->flags & SF_ANON)
		r += 16;
	if (s->flags & (SF_PSK | SF_UNREGISTERED))
		r += 8;
	if (!(s->flags & SF_PFS))
		r += 4;
	if (!(s->flags & SF_AEAD))
		r += 2;
	if (s->bits < 128)
		r += 1;
	return r;
}

static int rest_cmp(const void *a, const void *b)
{
	const struct suite_info *x = suite_by_code(*(const uint16_t *)a), *y = suite_by_code(*(const uint16_t *)b);
	int rx = rest_rank(x), ry = rest_rank(y);
	if (rx != ry)
		return rx < ry ? -1 : 1;
	return x->code < y->code ? -1 : x->code > y->code;
}

static void tab_init(void)
{
	static const uint16_t hybrids[] = { GROUP_SECP256R1MLKEM768, GROUP_SECP384R1MLKEM1024,
					    GROUP_X25519KYBER768DRAFT };
	const uint16_t *base;
	size_t nbase = conn_baseline_suites(&base);

	for (int v = 0; v < PV__COUNT; v++) {
		size_t n = 0, rest;
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < nbase && n < PLAN_MAX_OFFER; i++) {
				const struct suite_info *s = suite_by_code(base[i]);
				if (s && cand_valid(s, (enum plan_ver)v) && common_suite(s) == !pass) {
					tab.in_base[v][n] = 1;
					tab.cand[v][n++] = s->code;
				}
			}
		rest = n;
		for (size_t i = 0; i < suites_count() && n < PLAN_MAX_OFFER; i++) {
			const struct suite_info *s = suite_at(i);
			if (cand_valid(s, (enum plan_ver)v) && !has16(base, nbase, s->code))
				tab.cand[v][n++] = s->code;
		}
		qsort(tab.cand[v] + rest, n - rest, sizeof(uint16_t), rest_cmp);
		tab.ncand[v] = n;
		for (size_t i = 0; i < n; i++)
			tab.by_code[v][i] = (uint32_t)tab.cand[v][i] << 16 | (uint32_t)i;
		qsort(tab.by_code[v], n, sizeof(uint32_t), u32_cmp);
	}
	/* TLS 1.3 groups: what browsers send first, the defaults, the other hybrids. */
	tab.groups13[tab.ngroups13++] = GROUP_X25519MLKEM768;
	for (size_t i = 0; i < hello_default_ngroups && tab.ngroups13 < PLAN_MAX_GROUPS13; i++)
		if (!has16(tab.groups13, tab.ngroups13, hello_default_groups[i]))
			tab.groups13[tab.ngroups13++] = hello_default_groups[i];
	for (size_t i = 0; i < ARRAY_LEN(hybrids) && tab.ngroups13 < PLAN_MAX_GROUPS13; i++)
		if (!has16(tab.groups13, tab.ngroups13, hybrids[i]))
			tab.groups13[tab.ngroups13++] = hybrids[i];
}

/* ---- per-host state --------------------------------------------------- */

struct vstate {
	int8_t known;     /* -1 unknown, 0 refused, 1 accepted */
	uint8_t seeded;   /* suites[0] is the baseline's pick (its offer, not a window's) */
	uint8_t win;      /* window size; 0 = PLAN_CHUNK, halved when a big hello is dropped */
	uint16_t refused; /* windows refused while the version was unproven (at most one per candidate) */
	uint16_t group12; /* first ECDHE curve picked with every curve offered */
};
_Static_assert(PLAN_CHUNK / 2 <= UINT8_MAX, "a halved window fits vstate.win");
_Static_assert(PLAN_MAX_OFFER <= UINT16_MAX, "a refusal count fits vstate.refused");

struct merge {
	uint16_t beg[MAX_SEG], end[MAX_SEG], cur[MAX_SEG]; /* segments as ranges of the discovery order */
	size_t nseg;
	size_t nout;
	int win;      /* segment whose next suite is the server's next; -1 unknown */
	unsigned run; /* suites placed in a row from win */
	enum merge_mode mode;
	size_t t;       /* offset from win's cursor tested by the pending probe */
	size_t bad;     /* offset of win's first suite known to lose to another head */
	size_t step;    /* MERGE_EXP stride */
	uint16_t best;  /* best of the other heads (known once a probe on win lost) */
	uint16_t out[]; /* the server's order so far (room for the version's nsuites) */
};

struct plan {
	struct plan_summary sum;
	enum plan_phase phase;
	int cur; /* version index under work, counting down from PV_TLS13 */
	struct vstate vs[PV__COUNT];
	/* Candidates of p->cur (tab.cand[p->cur] indexes) found accepted and in a
	 * refused offer. Only the version under work needs them: taken is rebuilt
	 * from its suites when p->cur moves (enter_version), and a version's
	 * refusals are never looked at once its enumeration is over. */
	uint64_t taken[BIT_WORDS];
	uint64_t refuted[BIT_WORDS];
	uint32_t g13_taken, g12_taken; /* bit i: tab.groups13[i] / curves12[i] found */
	int s13_done, g13_done, x_pending;
	int g12_ver; /* version of the curve probes; -1 before chosen */
	int order_try;
	uint16_t order_first, order_second; /* first two suites of the first order probe */
	struct merge *m;                    /* allocated only while merging (PH_MERGE) */
	uint16_t *winhi; /* per discovery of p->cur: last candidate index of its offer (winhi_cap entries) */
	size_t winhi_cap;
	uint16_t last_hi; /* the same for the pending probe */
	int pending;      /* handed out, no result yet */
	struct plan_probe last;
	uint16_t *offer; /* the suites of probes that are not a static list (last.suites), grown to the
			    largest offer of this host (a window: PLAN_CHUNK), kept until plan_free */
	size_t offer_cap;
	int oom;         /* the offer could not grow: the plan stops */
	const char *sni; /* the caller's (valid for the plan's life), NULL: none */
};

static int bit(const uint64_t *b, size_t i)
{
	return (int)((b[i / 64] >> (i % 64)) & 1u);
}

static void set_bit(uint64_t *b, size_t i)
{
	b[i / 64] |= (uint64_t)1 << (i % 64);
}

/* Position of code among v's candidates: binary search of by_code (this is
 * on the hot path of every refused window). */
static size_t cand_index(enum plan_ver v, uint16_t code)
{
	size_t lo = 0, hi = tab.ncand[v];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint16_t c = (uint16_t)(tab.by_code[v][mid] >> 16);
		if (c == code)
			return tab.by_code[v][mid] & 0xffff;
		if (c < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NOT_FOUND;
}

static void refusal(struct plan *p, const struct probe_result *r)
{
	if ((unsigned)r->outcome < PO__COUNT)
		p->sum.refusals[r->outcome]++;
}

static void set_known(struct plan *p, int v, int yes)
{
	struct plan_version *pv = &p->sum.v[v];
	pv->tested = 1;
	if (p->vs[v].known != -1)
		return; /* first answer wins: a flaky server does not undo what was proven */
	p->vs[v].known = (int8_t)yes;
	pv->supported = (uint8_t)yes;
	if (!yes)
		pv->complete = 1;
}

/* A hello offering versions up to vmax was answered with a ServerHello of
 * version w: the server picks the highest version it supports up to the
 * client's (RFC 5246 appendix E.1, RFC 8446 section 4.2.1), so w is supported
 * and every version above w up to vmax is not. */
static void note_negotiated(struct plan *p, enum plan_ver vmax, uint16_t w)
{
	if (w < TLS_SSL3 || w > plan_ver_wire(vmax))
		return;
	set_known(p, w - TLS_SSL3, 1);
	for (int k = w - TLS_SSL3 + 1; k <= (int)vmax; k++)
		set_known(p, k, 0);
}

/* Facts any TLS <= 1.2 ServerHello carries, whatever the probe was for. */
static void note_server_hello(struct plan *p, const struct probe_result *r)
{
	if (r->outcome != PO_SERVER_HELLO || r->version < TLS_SSL3 || r->version > TLS_TLS12)
		return;
	struct plan_version *pv = &p->sum.v[r->version - TLS_SSL3];
	if (r->dh_bits && (!pv->dh_bits || r->dh_bits < pv->dh_bits))
		pv->dh_bits = r->dh_bits;
	if (r->reneg_info) /* RFC 5746 section 3.6 */
		p->sum.secure_reneg = 1;
	else if (p->sum.secure_reneg < 0)
		p->sum.secure_reneg = 0;
}

static int add_suite(struct plan *p, enum plan_ver v, uint16_t code)
{
	struct plan_version *pv = &p->sum.v[v];
	size_t i = cand_index(v, code);
	/* taken is p->cur's; a suite of another version (the baseline's) is checked in its list */
	if (i == NOT_FOUND || ((int)v == p->cur ? bit(p->taken, i) : has16(pv->suites, pv->nsuites, code)) ||
	    pv->nsuites >= PLAN_MAX_OFFER)
		return -1;
	if (pv->nsuites == pv->cap || pv->nsuites >= p->winhi_cap) {
		/* grown as suites are found: a plan costs what the server accepts, not PLAN_MAX_OFFER */
		size_t ncap = pv->cap ? pv->cap * 2 : 16;
		if (ncap > PLAN_MAX_OFFER)
			ncap = PLAN_MAX_OFFER;
		if (ncap < pv->nsuites + 1 || ncap < p->winhi_cap)
			ncap = pv->nsuites + 1 > p->winhi_cap ? pv->nsuites + 1 : p->winhi_cap;
		uint16_t *ns = realloc(pv->suites, ncap * sizeof(*ns));
		if (!ns)
			return -1;
		pv->suites = ns;
		pv->cap = (uint16_t)ncap; /* at most PLAN_MAX_OFFER */
		if (p->winhi_cap < ncap) {
			uint16_t *nw = realloc(p->winhi, ncap * sizeof(*nw));
			if (!nw)
				return -1;
			memset(nw + p->winhi_cap, 0, (ncap - p->winhi_cap) * sizeof(*nw)); /* as calloc'd before */
			p->winhi = nw;
			p->winhi_cap = ncap;
		}
	}
	if ((int)v == p->cur)
		set_bit(p->taken, i);
	pv->suites[pv->nsuites++] = code;
	return 0;
}

/* A suite picked from an elimination offer: remember where that offer ended. */
static int found_suite(struct plan *p, enum plan_ver v, uint16_t code)
{
	if (add_suite(p, v, code) < 0)
		return -1;
	p->winhi[p->sum.v[v].nsuites - 1] = p->last_hi;
	return 0;
}

static int group13_taken(const struct plan *p, uint16_t g)
{
	for (size_t i = 0; i < tab.ngroups13; i++)
		if (tab.groups13[i] == g)
			return (int)((p->g13_taken >> i) & 1u);
	return 0;
}

static void add_group13(struct plan *p, uint16_t g)
{
	for (size_t i = 0; i < tab.ngroups13; i++)
		if (tab.groups13[i] == g && !((p->g13_taken >> i) & 1u)) {
			p->g13_taken |= 1u << i;
			if (p->sum.ngroups13 < PLAN_MAX_GROUPS13)
				p->sum.groups13[p->sum.ngroups13++] = g;
		}
}

static void add_group12(struct plan *p, uint16_t g)
{
	for (size_t i = 0; i < ARRAY_LEN(curves12); i++)
		if (curves12[i] == g && !((p->g12_taken >> i) & 1u)) {
			p->g12_taken |= 1u << i;
			if (p->sum.ngroups12 < PLAN_MAX_GROUPS12)
				p->sum.groups12[p->sum.ngroups12++] = g;
		}
}

static int has_ecdhe(const struct plan_version *pv)
{
	for (size_t i = 0; i < pv->nsuites; i++) {
		const struct suite_info *s = suite_by_code(pv->suites[i]);
		if (s && !strcmp(s->kx, "ECDHE"))
			return 1;
	}
	return 0;
}

/* p->cur is a new version: its taken set from the suites it has (the
 * baseline's pick, if any), nothing refuted yet. */
static void enter_version(struct plan *p)
{
	const struct plan_version *pv = &p->sum.v[p->cur];
	memset(p->taken, 0, sizeof(p->taken));
	memset(p->refuted, 0, sizeof(p->refuted));
	for (size_t i = 0; i < pv->nsuites; i++) {
		size_t c = cand_index((enum plan_ver)p->cur, pv->suites[i]);
		if (c != NOT_FOUND)
			set_bit(p->taken, c);
	}
}

static void next_version(struct plan *p)
{
	p->order_try = 0;
	if (p->cur <= PV_SSL3) {
		p->phase = p->sum.mode == ENUM_FULL ? PH_GROUPS12 : PH_DONE;
		return;
	}
	p->cur--;
	enter_version(p);
	p->phase = PH_ENUM;
}

/* ---- probes ----------------------------------------------------------- */

/* Copy a probe and point dst's options at dst's own arrays. */
static void probe_copy(struct plan_probe *dst, const struct plan_probe *src)
{
	*dst = *src;
	dst->opts.suites = dst->suites;
	if (src->opts.groups)
		dst->opts.groups = dst->groups;
	if (src->opts.versions)
		dst->opts.versions = dst->versions;
	if (src->opts.key_share_groups)
		dst->opts.key_share_groups = dst->shares;
	if (src->opts.compression)
		dst->opts.compression = dst->compression;
}

/* The hello shape of each version; suites (and TLS 1.3 groups) added after. */
static void probe_init(const struct plan *p, struct plan_probe *o, enum probe_kind k, enum plan_ver v)
{
	struct hello_opts *h = &o->opts;
	memset(o, 0, sizeof(*o));
	o->kind = k;
	o->ver = v;
	o->suites = h->suites = p->offer;
	if (v == PV_SSL3) {
		/* SSLv3 servers choke on extensions; RFC 5746 section 3.3 SCSV instead */
		h->record_version = TLS_SSL3;
		h->hello_version = TLS_SSL3;
		h->empty_reneg_scsv = 1;
		return;
	}
	h->record_version = TLS_TLS10; /* min(v, TLS 1.0): RFC 8446 section 5.1 */
	h->hello_version = v == PV_TLS13 ? TLS_TLS12 : plan_ver_wire(v);
	h->sni = p->sni;
	h->groups = o->groups;
	h->sigalgs = hello_default_sigalgs;
	h->nsigalgs = hello_default_nsigalgs;
	h->pad_to = 512;
	if (v == PV_TLS13) {
		o->versions[0] = TLS_TLS13;
		h->versions = o->versions;
		h->nversions = 1;
		h->key_share = 1; /* empty: the server must name its group (RFC 8446 section 4.1.4) */
		h->key_share_groups = o->shares;
		h->nkey_share = 0;
		return;
	}
	memcpy(o->groups, curves12, sizeof(curves12));
	h->ngroups = ARRAY_LEN(curves12);
	h->ec_point_formats = 1;
	h->renegotiation_info = 1;
}

/* Append a suite to o (p->last), whose suites are p->offer (see probe_init). */
static void probe_suite(struct plan *p, struct plan_probe *o, uint16_t code)
{
	size_t n = o->opts.nsuites;
	if (n >= PLAN_MAX_OFFER)
		return;
	if (n == p->offer_cap) {
		size_t ncap = p->offer_cap ? p->offer_cap * 2 : PLAN_CHUNK;
		uint16_t *nb = realloc(p->offer, (ncap < PLAN_MAX_OFFER ? ncap : PLAN_MAX_OFFER) * sizeof(*nb));
		if (!nb) {
			p->oom = 1; /* plan_next_probe hands out nothing more */
			return;
		}
		p->offer = nb;
		p->offer_cap = ncap < PLAN_MAX_OFFER ? ncap : PLAN_MAX_OFFER;
	}
	p->offer[n] = code;
	o->suites = o->opts.suites = p->offer;
	o->opts.nsuites = n + 1;
}

static void probe_group(struct plan_probe *o, uint16_t g)
{
	if (o->opts.ngroups < PLAN_MAX_GROUPS)
		o->groups[o->opts.ngroups++] = g;
}

/* TLS 1.3 order and merge probes: the groups found (any will do), else all. */
static void probe_groups13(const struct plan *p, struct plan_probe *o)
{
	if (o->ver != PV_TLS13)
		return;
	for (size_t i = 0; i < p->sum.ngroups13; i++)
		probe_group(o, p->sum.groups13[i]);
	for (size_t i = 0; !o->opts.ngroups && i < tab.ngroups13; i++)
		probe_group(o, tab.groups13[i]);
}

static void probe_accepted(struct plan *p, struct plan_probe *o, const struct plan_version *pv)
{
	for (size_t i = 0; i < pv->nsuites && o->opts.nsuites < PLAN_CHUNK; i++)
		probe_suite(p, o, pv->suites[i]);
}

/* The answer picked one of the offered suites in the probe's version: *pick. */
static int offered_pick(struct plan *p, const struct probe_result *r, uint16_t *pick)
{
	const struct plan_probe *q = &p->last;
	int ok = q->ver == PV_TLS13 ? r->outcome == PO_HRR || (r->outcome == PO_SERVER_HELLO && r->version == TLS_TLS13)
				    : r->outcome == PO_SERVER_HELLO && r->version == plan_ver_wire(q->ver);
	if (!ok)
		return 0;
	if (!has16(q->suites, q->opts.nsuites, r->cipher)) {
		p->sum.unoffered++;
		return 0;
	}
	*pick = r->cipher;
	return 1;
}

/* ---- baseline --------------------------------------------------------- */

static int next_baseline(struct plan *p, struct plan_probe *o)
{
	static const uint16_t versions[] = { TLS_TLS13, TLS_TLS12, TLS_TLS11, TLS_TLS10 };
	struct hello_opts *h = &o->opts;
	const uint16_t *base;
	size_t nbase = conn_baseline_suites(&base);

	memset(o, 0, sizeof(*o));
	o->kind = PK_BASELINE;
	o->ver = PV_TLS13;
	o->need_flight = 1;
	o->suites = h->suites = base; /* the static list itself, no copy */
	h->nsuites = nbase < PLAN_MAX_OFFER ? nbase : PLAN_MAX_OFFER;
	for (size_t i = 0; i < hello_default_ngroups; i++)
		probe_group(o, hello_default_groups[i]);
	memcpy(o->versions, versions, sizeof(versions));
	o->shares[0] = GROUP_X25519;
	o->shares[1] = GROUP_SECP256R1;
	h->record_version = TLS_TLS10;
	h->hello_version = TLS_TLS12;
	h->sni = p->sni;
	h->groups = o->groups;
	h->ec_point_formats = 1;
	h->sigalgs = hello_default_sigalgs;
	h->nsigalgs = hello_default_nsigalgs;
	h->versions = o->versions;
	h->nversions = ARRAY_LEN(versions);
	h->key_share = 1;
	h->key_share_groups = o->shares;
	h->nkey_share = 2;
	h->renegotiation_info = 1;
	h->extended_master_secret = 1;
	h->pad_to = 512;
	return 1;
}

static void seed(struct plan *p, enum plan_ver v, uint16_t code)
{
	if (has16(p->last.suites, p->last.opts.nsuites, code) && add_suite(p, v, code) == 0)
		p->vs[v].seeded = 1;
	else
		p->sum.unoffered++;
}

static void result_baseline(struct plan *p, const struct probe_result *r)
{
	if (r->outcome == PO_HRR || (r->outcome == PO_SERVER_HELLO && r->version == TLS_TLS13)) {
		set_known(p, PV_TLS13, 1);
		seed(p, PV_TLS13, r->cipher);
	} else if (r->outcome == PO_SERVER_HELLO && r->version >= TLS_SSL3 && r->version <= TLS_TLS12) {
		note_negotiated(p, PV_TLS13, r->version);
		seed(p, (enum plan_ver)(r->version - TLS_SSL3), r->cipher);
	} else {
		refusal(p, r);
	}
	p->cur = PV_TLS13;
	enter_version(p);
	p->phase = p->sum.mode == ENUM_QUICK ? PH_DONE : PH_ENUM;
}

/* ---- elimination, TLS <= 1.2 ------------------------------------------ */

#define PLAN_MIN_WINDOW 16

/* The window: the first PLAN_CHUNK candidates neither found nor refused. */
static size_t window_fill(struct plan *p, enum plan_ver v, struct plan_probe *o)
{
	const struct vstate *vs = &p->vs[v];
	size_t limit = vs->win ? vs->win : PLAN_CHUNK;
	for (size_t i = 0; i < tab.ncand[v] && o->opts.nsuites < limit; i++)
		if (!bit(p->taken, i) && !bit(p->refuted, i)) {
			probe_suite(p, o, tab.cand[v][i]);
			p->last_hi = (uint16_t)i;
		}
	return o->opts.nsuites;
}

/* The pending probe's window was refused: none of its suites is accepted. */
static void refute_window(struct plan *p, enum plan_ver v)
{
	for (size_t i = 0; i < p->last.opts.nsuites; i++) {
		size_t c = cand_index(v, p->last.suites[i]);
		if (c != NOT_FOUND)
			set_bit(p->refuted, c);
	}
}

static int next_enum13(struct plan *p, struct plan_probe *o);

static int next_enum(struct plan *p, struct plan_probe *o)
{
	enum plan_ver v = (enum plan_ver)p->cur;
	struct vstate *vs = &p->vs[v];

	if (vs->known == 0 || (vs->known == 1 && p->sum.mode != ENUM_FULL)) {
		next_version(p);
		return 0;
	}
	if (v == PV_TLS13)
		return next_enum13(p, o);
	probe_init(p, o, vs->known == 1 ? PK_SUITES : PK_VERSION, v);
	o->need_flight = 1; /* ServerKeyExchange: DHE prime, ECDHE curve */
	if (window_fill(p, v, o)) {
		p->sum.v[v].tested = 1;
		return 1;
	}
	if (vs->known == -1) {
		set_known(p, v, 0); /* every window refused */
		next_version(p);
		return 0;
	}
	p->sum.v[v].complete = 1;
	p->phase = PH_ORDER;
	return 0;
}

static void result_enum12(struct plan *p, const struct probe_result *r)
{
	const struct plan_probe *q = &p->last;
	enum plan_ver v = q->ver;
	struct vstate *vs = &p->vs[v];
	uint16_t want = plan_ver_wire(v);

	if (r->outcome == PO_SERVER_HELLO && r->version == want) {
		set_known(p, v, 1);
		if (has16(q->suites, q->opts.nsuites, r->cipher) && found_suite(p, v, r->cipher) == 0) {
			if (!vs->group12 && r->group && has16(curves12, ARRAY_LEN(curves12), r->group))
				vs->group12 = r->group;
			return;
		}
		p->sum.unoffered++; /* a suite we did not offer: ignore it, the window is done */
		refute_window(p, v);
		return;
	}
	refusal(p, r);
	/* A server that drops a big hello without an alert (FIN, RST, silence,
	 * garbage) may be choking on its size (some stacks cap the suite list):
	 * re-offer half the window before believing the refusal, down to
	 * PLAN_MIN_WINDOW suites. An alert means the hello was parsed: no shrink. */
	if ((r->outcome == PO_CLOSED || r->outcome == PO_RESET || r->outcome == PO_TIMEOUT ||
	     r->outcome == PO_NOT_TLS) &&
	    vs->known != 0 && q->opts.nsuites > PLAN_MIN_WINDOW) {
		vs->win = (uint8_t)(q->opts.nsuites / 2); /* a window: at most PLAN_CHUNK / 2 */
		return;
	}
	if (vs->known == -1 && r->outcome == PO_SERVER_HELLO) {
		if (r->version < want)
			note_negotiated(p, v, r->version);
		set_known(p, v, 0); /* fell to another version, or answered a higher one */
	}
	if (vs->known == 1) {
		refute_window(p, v);
		return;
	}
	if (vs->known == 0)
		return;
	vs->refused++;
	if (r->outcome == PO_ALERT && r->alert == 70) {
		/* protocol_version (RFC 5246 section 7.2.2) refutes v only. RFC 5246
		 * appendix E.1 says a server picks the highest version it has below
		 * ours, which would refute every lower version too, but servers with a
		 * gap do not: exim/GnuTLS with TLS 1.0 and 1.2 answers a TLS 1.1 hello
		 * with alert 70 and still accepts TLS 1.0 (tests/integration/
		 * nmap_compare.t keeps that case). */
		set_known(p, v, 0);
	} else if (!(r->outcome == PO_ALERT && (r->alert == 40 || r->alert == 71)) && vs->refused >= 2)
		set_known(p, v, 0);
	else
		refute_window(p, v);
}

/* ---- elimination, TLS 1.3: suites and groups -------------------------- */

static void advance13(struct plan *p)
{
	if (p->vs[PV_TLS13].known == 0) {
		next_version(p);
		return;
	}
	if (p->s13_done && p->g13_done) {
		p->sum.v[PV_TLS13].complete = 1;
		p->phase = PH_ORDER;
	} else if (p->s13_done) {
		p->phase = PH_ENUM13_GROUPS;
	} else if (p->g13_done) {
		p->phase = PH_ENUM13_SUITES;
	}
}

static int next_enum13(struct plan *p, struct plan_probe *o)
{
	const struct vstate *vs = &p->vs[PV_TLS13];
	const struct plan_version *pv = &p->sum.v[PV_TLS13];
	enum probe_kind k = vs->known == 1 ? PK_SUITES : PK_VERSION;
	int remaining_suites = 1, remaining_groups = 1;

	if (p->phase == PH_ENUM13_SUITES) {
		k = PK_SUITES;
		remaining_groups = 0;
	} else if (p->phase == PH_ENUM13_GROUPS) {
		k = PK_GROUPS13;
		remaining_suites = 0;
	}
	probe_init(p, o, k, PV_TLS13);
	if (remaining_suites) {
		for (size_t i = 0; i < tab.ncand[PV_TLS13]; i++)
			if (!bit(p->taken, i)) {
				probe_suite(p, o, tab.cand[PV_TLS13][i]);
				p->last_hi = (uint16_t)i;
			}
	} else {
		for (size_t i = 0; i < pv->nsuites; i++)
			probe_suite(p, o, pv->suites[i]);
	}
	for (size_t i = 0; i < tab.ngroups13; i++)
		if (!remaining_groups || !((p->g13_taken >> i) & 1u))
			probe_group(o, tab.groups13[i]);
	if (o->opts.nsuites && o->opts.ngroups) {
		p->sum.v[PV_TLS13].tested = 1;
		return 1;
	}
	if (!o->opts.nsuites && remaining_suites)
		p->s13_done = 1;
	else
		p->g13_done = 1; /* no group left, or no suite to find groups with */
	advance13(p);
	return 0;
}

static void result_enum13(struct plan *p, const struct probe_result *r)
{
	const struct plan_probe *q = &p->last;
	int acc = r->outcome == PO_HRR || (r->outcome == PO_SERVER_HELLO && r->version == TLS_TLS13);
	int x = p->x_pending;

	p->x_pending = 0;
	if (r->outcome == PO_SERVER_HELLO && !acc && p->vs[PV_TLS13].known == -1) {
		/* no TLS 1.3: the server ignored supported_versions and used legacy_version */
		note_negotiated(p, PV_TLS13, r->version);
		set_known(p, PV_TLS13, 0);
	}
	if (acc) {
		set_known(p, PV_TLS13, 1);
		if (has16(q->suites, q->opts.nsuites, r->cipher) && has16(q->groups, q->opts.ngroups, r->group)) {
			if (p->phase != PH_ENUM13_GROUPS)
				found_suite(p, PV_TLS13, r->cipher);
			if (p->phase != PH_ENUM13_SUITES)
				add_group13(p, r->group);
			else if (x && group13_taken(p, r->group))
				p->g13_done = 1; /* refused with the remaining groups, taken with a known one */
			else if (x)
				add_group13(p, r->group);
			advance13(p);
			return;
		}
		p->sum.unoffered++;
	}
	refusal(p, r);
	if (p->vs[PV_TLS13].known != 1) {
		set_known(p, PV_TLS13, 0); /* every suite and group was offered */
		advance13(p);
		return;
	}
	if (p->phase == PH_ENUM && !p->g13_taken) {
		p->s13_done = 1; /* every group was offered: the suites ran out */
	} else if (p->phase == PH_ENUM) {
		/* suites or groups ran out: offer the remaining suites with every group once */
		p->x_pending = 1;
		p->phase = PH_ENUM13_SUITES;
	} else if (p->phase == PH_ENUM13_SUITES) {
		p->s13_done = 1;
	} else {
		p->g13_done = 1;
	}
	advance13(p);
}

/* ---- order ------------------------------------------------------------ */

/* Did the j-th discovery's offer hold candidate ci (found later, so alive
 * then)? An elimination offer held every live candidate up to its window's end. */
static int in_offer(const struct plan *p, enum plan_ver v, size_t j, size_t ci)
{
	if (j == 0 && p->vs[v].seeded)
		return tab.in_base[v][ci];
	return ci != NOT_FOUND && ci <= p->winhi[j];
}

/* Discovery i continues the segment of discovery i-1 when it was in the offer
 * that found i-1: a server preferring its own order ranked i-1 above it, and
 * so (by transitivity) every earlier suite of the segment. Marks segment heads
 * in head[] and returns their number. */
static size_t segments(const struct plan *p, enum plan_ver v, uint64_t *head)
{
	const struct plan_version *pv = &p->sum.v[v];
	size_t nseg = 0;

	memset(head, 0, BIT_WORDS * sizeof(uint64_t));
	for (size_t i = 0; i < pv->nsuites; i++)
		if (i == 0 || !in_offer(p, v, i - 1, cand_index(v, pv->suites[i]))) {
			set_bit(head, i);
			nseg++;
		}
	return nseg;
}

static void merge_start(struct plan *p, const uint64_t *head, size_t top);

static int next_order(struct plan *p, struct plan_probe *o)
{
	enum plan_ver v = (enum plan_ver)p->cur;
	struct plan_version *pv = &p->sum.v[v];
	uint64_t head[BIT_WORDS], sel[BIT_WORDS] = { 0 };
	uint16_t list[PLAN_MAX_OFFER];
	size_t n = pv->nsuites, k = 0, nl = 0;

	if (!pv->supported || n < 2) {
		if (pv->supported && n == 1)
			pv->order = ORDER_INDETERMINATE;
		next_version(p);
		return 0;
	}
	segments(p, v, head);
	/* Every segment head (the server's favourite is one) and the last found
	 * (a client-order server's pick), then the others, up to a chunk. */
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = n; i-- > 0 && k < PLAN_CHUNK;)
			if (!bit(sel, i) && (pass || i == n - 1 || bit(head, i))) {
				set_bit(sel, i);
				k++;
			}
	for (size_t i = n; i-- > 0;)
		if (bit(sel, i))
			list[nl++] = pv->suites[i];
	probe_init(p, o, PK_ORDER, v);
	probe_groups13(p, o);
	if (p->order_try == 0) {
		p->order_first = list[0];
		p->order_second = list[1];
		for (size_t i = 0; i < nl; i++)
			probe_suite(p, o, list[i]);
	} else {
		for (size_t i = 1; i < nl; i++)
			probe_suite(p, o, list[i]);
		probe_suite(p, o, list[0]);
	}
	return 1;
}

static void result_order(struct plan *p, const struct probe_result *r)
{
	enum plan_ver v = (enum plan_ver)p->cur;
	struct plan_version *pv = &p->sum.v[v];
	uint64_t head[BIT_WORDS];
	size_t nseg, ip = NOT_FOUND;
	uint16_t pick;
	int server = 0;

	if (!offered_pick(p, r, &pick)) {
		refusal(p, r); /* order stays unknown */
		next_version(p);
		return;
	}
	nseg = segments(p, v, head);
	for (size_t i = 0; i < pv->nsuites; i++)
		if (pv->suites[i] == pick)
			ip = i;
	if (ip == NOT_FOUND) {
		pv->order = ORDER_INDETERMINATE;
	} else if (p->order_try == 0 && pick == p->order_first) {
		if (bit(head, ip)) {
			p->order_try = 1; /* heads a segment of its own: ask again with it last */
			return;
		}
		pv->order = ORDER_CLIENT;
	} else if (p->order_try == 0) {
		server = bit(head, ip);
	} else {
		server = pick == p->order_first;
		if (!server && pick == p->order_second)
			pv->order = ORDER_CLIENT;
	}
	if (server) {
		pv->order = ORDER_SERVER;
		if (nseg > 1 && nseg <= MAX_SEG) {
			merge_start(p, head, ip);
			return;
		}
		if (nseg > MAX_SEG)
			pv->complete = 0;
	} else if (pv->order != ORDER_CLIENT) {
		pv->order = ORDER_INDETERMINATE;
	}
	next_version(p);
}

/* ---- merge: the server's order across segments ------------------------ */

static void merge_place(struct plan *p, size_t s, size_t k)
{
	struct merge *m = p->m;
	const uint16_t *d = p->sum.v[p->cur].suites;
	while (k-- > 0 && m->cur[s] < m->end[s])
		m->out[m->nout++] = d[m->cur[s]++];
}

static size_t seg_with_head(const struct plan *p, uint16_t code)
{
	const struct merge *m = p->m;
	const uint16_t *d = p->sum.v[p->cur].suites;
	for (size_t s = 0; s < m->nseg; s++)
		if (m->cur[s] < m->end[s] && d[m->cur[s]] == code)
			return s;
	return NOT_FOUND;
}

static void merge_win(struct plan *p, size_t s)
{
	merge_place(p, s, 1);
	p->m->win = (int)s;
	p->m->run = 1;
	p->m->mode = MERGE_LINEAR;
}

/* Append what is left, segment by segment; ok = 0 when the order was cut. */
static void merge_finish(struct plan *p, int ok)
{
	struct merge *m = p->m;
	struct plan_version *pv = &p->sum.v[p->cur];
	if (m) {
		for (size_t s = 0; s < m->nseg; s++)
			merge_place(p, s, PLAN_MAX_OFFER); /* at most nsuites in all */
		if (m->nout)
			memcpy(pv->suites, m->out, m->nout * sizeof(uint16_t));
		free(m);
		p->m = NULL;
	}
	if (!ok)
		pv->complete = 0;
	next_version(p);
}

static void merge_start(struct plan *p, const uint64_t *head, size_t top)
{
	size_t n = p->sum.v[p->cur].nsuites, s;
	struct merge *m = calloc(1, sizeof(*m) + n * sizeof(m->out[0]));

	free(p->m);
	p->m = m;
	if (!m) { /* out of memory: the order stays incomplete */
		merge_finish(p, 0);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (bit(head, i)) {
			if (m->nseg)
				m->end[m->nseg - 1] = (uint16_t)i;
			m->beg[m->nseg] = m->cur[m->nseg] = (uint16_t)i;
			m->nseg++;
		}
	m->end[m->nseg - 1] = (uint16_t)n;
	s = seg_with_head(p, p->sum.v[p->cur].suites[top]);
	if (s == NOT_FOUND) {
		merge_finish(p, 0);
		return;
	}
	merge_win(p, s);
	m->mode = MERGE_END; /* the favourite's segment (strong suites, usually) often precedes all */
	p->phase = PH_MERGE;
}

static int next_merge(struct plan *p, struct plan_probe *o)
{
	struct merge *m = p->m;
	const uint16_t *d = p->sum.v[p->cur].suites;

	for (;;) {
		size_t live = 0;
		for (size_t s = 0; s < m->nseg; s++)
			live += m->cur[s] < m->end[s];
		if (live <= 1) {
			merge_finish(p, 1);
			return 0;
		}
		if (m->win >= 0 && m->cur[m->win] == m->end[m->win])
			m->win = -1;
		if (m->win >= 0 && m->mode == MERGE_EXP && m->step - 1 >= m->bad)
			m->mode = MERGE_BIN;
		if (m->win >= 0 && m->mode == MERGE_BIN && m->bad == 0) {
			/* every suite of win ahead of the first loser is placed: the best other head is next */
			size_t s = seg_with_head(p, m->best);
			if (s == NOT_FOUND) {
				merge_finish(p, 0);
				return 0;
			}
			merge_win(p, s);
			continue;
		}
		break;
	}
	probe_init(p, o, PK_ORDER, (enum plan_ver)p->cur);
	probe_groups13(p, o);
	if (m->win >= 0) {
		size_t rem = m->end[m->win] - m->cur[m->win];
		switch (m->mode) {
		case MERGE_LINEAR: m->t = 0; break;
		case MERGE_END: m->t = rem - 1; break;
		case MERGE_EXP: m->t = m->step - 1; break;
		default: m->t = (m->bad - 1) / 2; break;
		}
		probe_suite(p, o, d[m->cur[m->win] + m->t]);
	}
	for (size_t s = 0; s < m->nseg; s++)
		if ((int)s != m->win && m->cur[s] < m->end[s])
			probe_suite(p, o, d[m->cur[s]]);
	return 1;
}

static void result_merge(struct plan *p, const struct probe_result *r)
{
	struct merge *m = p->m;
	const uint16_t *d = p->sum.v[p->cur].suites;
	uint16_t pick;
	size_t s;

	if (!offered_pick(p, r, &pick)) {
		refusal(p, r);
		merge_finish(p, 0);
		return;
	}
	if (m->win >= 0 && pick == d[m->cur[m->win] + m->t]) {
		/* it beats every other head, and so does every suite of win before it */
		merge_place(p, (size_t)m->win, m->t + 1);
		if (m->mode == MERGE_LINEAR && ++m->run >= MIN_GALLOP)
			m->mode = MERGE_END;
		else if (m->mode == MERGE_EXP || m->mode == MERGE_BIN)
			m->bad -= m->t + 1;
		if (m->mode == MERGE_EXP)
			m->step *= 2;
		return;
	}
	s = seg_with_head(p, pick);
	if (s == NOT_FOUND || (int)s == m->win) {
		merge_finish(p, 0); /* inconsistent answers: keep what is known */
		return;
	}
	m->best = pick;
	if (m->win < 0 || m->mode == MERGE_LINEAR) {
		merge_win(p, s);
	} else if (m->mode == MERGE_END) {
		m->bad = m->t;
		m->mode = MERGE_EXP;
		m->step = 1;
	} else {
		m->bad = m->t;
		m->mode = MERGE_BIN;
	}
}

/* ---- TLS 1.2 curves, compression, fallback ---------------------------- */

static int next_groups12(struct plan *p, struct plan_probe *o)
{
	const struct plan_version *pv;

	if (p->g12_ver < 0) {
		for (int v = PV_TLS12; v >= PV_TLS10 && p->g12_ver < 0; v--)
			if (p->vs[v].known == 1 && has_ecdhe(&p->sum.v[v]))
				p->g12_ver = v;
		if (p->g12_ver < 0) {
			p->phase = PH_COMPRESSION;
			return 0;
		}
		if (p->vs[p->g12_ver].group12)
			add_group12(p, p->vs[p->g12_ver].group12);
	}
	pv = &p->sum.v[p->g12_ver];
	probe_init(p, o, PK_GROUPS12, (enum plan_ver)p->g12_ver);
	o->need_flight = 1; /* the curve is in the ServerKeyExchange */
	o->opts.ngroups = 0;
	for (size_t i = 0; i < ARRAY_LEN(curves12); i++)
		if (!((p->g12_taken >> i) & 1u))
			probe_group(o, curves12[i]);
	for (size_t i = 0; i < pv->nsuites && o->opts.nsuites < PLAN_CHUNK; i++) {
		const struct suite_info *s = suite_by_code(pv->suites[i]);
		if (s && !strcmp(s->kx, "ECDHE"))
			probe_suite(p, o, pv->suites[i]);
	}
	if (!o->opts.ngroups) {
		p->phase = PH_COMPRESSION;
		return 0;
	}
	return 1;
}

static void result_groups12(struct plan *p, const struct probe_result *r)
{
	const struct plan_probe *q = &p->last;
	if (r->outcome == PO_SERVER_HELLO && r->version == plan_ver_wire(q->ver) && r->group) {
		if (has16(q->groups, q->opts.ngroups, r->group)) {
			add_group12(p, r->group);
			return;
		}
		p->sum.unoffered++;
	}
	refusal(p, r);
	p->phase = PH_COMPRESSION;
}

/* Highest supported version <= TLS 1.2 with accepted suites, or -1. */
static int best_old_version(const struct plan *p)
{
	for (int v = PV_TLS12; v >= PV_SSL3; v--)
		if (p->vs[v].known == 1 && p->sum.v[v].nsuites)
			return v;
	return -1;
}

static int next_compression(struct plan *p, struct plan_probe *o)
{
	static const uint8_t deflate_first[] = { 1, 0 }; /* RFC 3749 */
	int v = best_old_version(p);
	if (v < 0) {
		p->phase = PH_FALLBACK;
		return 0;
	}
	probe_init(p, o, PK_COMPRESSION, (enum plan_ver)v);
	probe_accepted(p, o, &p->sum.v[v]);
	memcpy(o->compression, deflate_first, sizeof(deflate_first));
	o->opts.compression = o->compression;
	o->opts.ncompression = sizeof(deflate_first);
	return 1;
}

static void result_compression(struct plan *p, const struct probe_result *r)
{
	if (r->outcome == PO_SERVER_HELLO && r->version == plan_ver_wire(p->last.ver))
		p->sum.compression = r->compression == 1;
	else
		refusal(p, r);
	p->phase = PH_FALLBACK;
}

static int next_fallback(struct plan *p, struct plan_probe *o)
{
	int top = -1, second = -1;
	for (int v = PV_TLS13; v >= PV_SSL3; v--)
		if (p->vs[v].known == 1) {
			if (top < 0)
				top = v;
			else if (second < 0)
				second = v;
		}
	if (second < 0) {
		p->phase = PH_DONE;
		return 0;
	}
	/* RFC 7507 section 3: a server supporting more than the client's best
	 * answers inappropriate_fallback (86) to the SCSV. */
	probe_init(p, o, PK_FALLBACK, (enum plan_ver)second);
	probe_accepted(p, o, &p->sum.v[second]);
	if (!p->sum.v[second].nsuites) { /* no suite known: the first window of candidates, as it is */
		o->suites = o->opts.suites = tab.cand[second];
		o->opts.nsuites = tab.ncand[second] < PLAN_CHUNK ? tab.ncand[second] : PLAN_CHUNK;
	}
	o->opts.fallback_scsv = 1;
	return 1;
}

static void result_fallback(struct plan *p, const struct probe_result *r)
{
	if (r->outcome == PO_ALERT && r->alert == 86) {
		p->sum.fallback_scsv = 1;
	} else if (r->outcome == PO_SERVER_HELLO) {
		p->sum.fallback_scsv = 0;
	}
	if (r->outcome != PO_SERVER_HELLO)
		refusal(p, r);
	p->phase = PH_DONE;
}

/* ---- public ----------------------------------------------------------- */

struct plan *plan_new(enum enum_mode mode, const char *sni)
{
	struct plan *p;

	if ((unsigned)mode >= ENUM__COUNT)
		return NULL;
	pthread_once(&tab_once, tab_init);
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->sum.mode = mode;
	p->sum.compression = -1;
	p->sum.fallback_scsv = -1;
	p->sum.secure_reneg = -1;
	for (int v = 0; v < PV__COUNT; v++)
		p->vs[v].known = -1;
	p->g12_ver = -1;
	p->phase = PH_BASELINE;
	p->cur = PV_TLS13;
	if (sni && sni[0] && strlen(sni) < 256) /* longer than any DNS name: send none */
		p->sni = sni;
	return p;
}

void plan_free(struct plan *p)
{
	if (!p)
		return;
	for (int v = 0; v < PV__COUNT; v++)
		free(p->sum.v[v].suites);
	free(p->winhi);
	free(p->m);
	free(p->offer);
	free(p);
}

/* Stop: a merge in progress keeps what it has; versions not finished stay incomplete. */
static void finish(struct plan *p)
{
	if (p->phase == PH_MERGE)
		merge_finish(p, 0);
	p->phase = PH_DONE;
}

const struct plan_probe *plan_next_probe(struct plan *p)
{
	if (!p)
		return NULL;
	if (p->pending)
		return &p->last; /* asked twice: the same probe */
	for (;;) {
		int made = 0;
		if (p->phase != PH_DONE && p->sum.probes >= PLAN_MAX_PROBES)
			finish(p);
		switch (p->phase) {
		case PH_BASELINE: made = next_baseline(p, &p->last); break;
		case PH_ENUM:
		case PH_ENUM13_SUITES:
		case PH_ENUM13_GROUPS: made = next_enum(p, &p->last); break;
		case PH_ORDER: made = next_order(p, &p->last); break;
		case PH_MERGE: made = next_merge(p, &p->last); break;
		case PH_GROUPS12: made = next_groups12(p, &p->last); break;
		case PH_COMPRESSION: made = next_compression(p, &p->last); break;
		case PH_FALLBACK: made = next_fallback(p, &p->last); break;
		default: return NULL;
		}
		if (made && p->oom) { /* the offer was cut short: send nothing wrong */
			finish(p);
			return NULL;
		}
		if (made)
			break;
	}
	p->pending = 1;
	p->sum.probes++;
	return &p->last;
}

const struct plan_probe *plan_chain_probe(struct plan *p, uint16_t version, uint16_t cipher)
{
	if (!p || p->phase != PH_DONE || version < TLS_SSL3 || version > TLS_TLS12)
		return NULL;
	probe_init(p, &p->last, PK_CHAIN, (enum plan_ver)(version - TLS_SSL3));
	p->last.need_flight = 1;
	probe_suite(p, &p->last, cipher);
	if (p->last.opts.nsuites != 1)
		return NULL; /* out of memory */
	return &p->last;
}

int plan_next(struct plan *p, struct plan_probe *out)
{
	const struct plan_probe *q = out ? plan_next_probe(p) : NULL;
	if (!q)
		return 0;
	probe_copy(out, q);
	return 1;
}

void plan_result(struct plan *p, const struct probe_result *r)
{
	if (!p || !r || !p->pending)
		return;
	p->pending = 0;
	note_server_hello(p, r);
	if (r->outcome == PO_NO_TLS) {
		/* SMTP failed or the port closed: no TLS to learn from this host now */
		refusal(p, r);
		if (p->last.kind != PK_BASELINE)
			p->sum.aborted = 1;
		finish(p);
		return;
	}
	switch (p->phase) {
	case PH_BASELINE: result_baseline(p, r); break;
	case PH_ENUM:
	case PH_ENUM13_SUITES:
	case PH_ENUM13_GROUPS:
		if (p->last.ver == PV_TLS13)
			result_enum13(p, r);
		else
			result_enum12(p, r);
		break;
	case PH_ORDER: result_order(p, r); break;
	case PH_MERGE: result_merge(p, r); break;
	case PH_GROUPS12: result_groups12(p, r); break;
	case PH_COMPRESSION: result_compression(p, r); break;
	case PH_FALLBACK: result_fallback(p, r); break;
	default: break;
	}
}

const struct plan_summary *plan_summary(const struct plan *p)
{
	return p ? &p->sum : NULL;
}

const char *plan_phase_name(const struct plan *p)
{
	if (!p)
		return "unknown";
	if (p->phase == PH_MERGE)
		return merge_names[p->m ? p->m->mode : MERGE_LINEAR];
	return phase_names[p->phase];
}
