/*
 * test_plan: the enumeration plan against scripted fake servers in memory.
 *
 * A fake server is a small struct (versions and suites in its order, server or
 * client preference, curves, TLS 1.3 groups, compression, fallback SCSV, how it
 * refuses) that answers every plan_probe the way a real server would: TLS 1.3
 * when supported_versions offers it, otherwise the highest version it has up
 * to legacy_version (RFC 5246 appendix E.1; none: protocol_version), the suite
 * by its own or the client's order (ECDHE only with a common curve), a
 * HelloRetryRequest for an empty key_share, inappropriate_fallback (86) to
 * the SCSV below its best version. Each test drives plan_new/plan_next/
 * plan_result to the end and compares the summary with the fake's truth, and
 * checks every probe: baseline first, 1..PLAN_MAX_OFFER suites, options
 * pointing into the probe, hello_build() accepting it. The probe counts are
 * printed with diag() so they can be quoted. test_trace pins a checksum of
 * every probe and summary (scripted and seeded random servers, every mode).
 */
#include <stdint.h>
#include <string.h>

#include "mxscan/conn.h"
#include "mxscan/hello.h"
#include "mxscan/plan.h"
#include "mxscan/suites.h"
#include "tap.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum fake_reject { REJ_ALERT = 0, REJ_CLOSE, REJ_RESET, REJ_TIMEOUT };

struct fake {
	uint16_t suites[PV__COUNT][PLAN_MAX_OFFER]; /* accepted, in the server's order */
	size_t nsuites[PV__COUNT];
	int server_pref;
	uint16_t curves[16]; /* ECDHE curves in TLS <= 1.2, server order */
	size_t ncurves;
	uint16_t groups[16]; /* TLS 1.3 groups, server order */
	size_t ngroups;
	int deflate;
	int honour_scsv;
	enum fake_reject on_reject;
	int reneg_info;
	uint16_t dh_bits;
	int liar;             /* instead of refusing a TLS <= 1.2 hello, picks its favourite anyway */
	int no_tls;           /* every connection fails before TLS */
	unsigned no_tls_from; /* connections from this one on fail before TLS (0: never) */
	size_t max_suites;    /* closes the connection on a hello with more suites (0: no cap) */
	unsigned conns;
};

struct run {
	unsigned probes;
	unsigned bad;      /* probes breaking a rule (see check_probe) */
	unsigned baseline; /* probes of kind PK_BASELINE */
	unsigned kinds[PK__COUNT];
};

static const uint16_t curves12_all[] = {
	GROUP_X25519, GROUP_SECP256R1, GROUP_SECP384R1, GROUP_SECP521R1, GROUP_X448, 26, 27, 28, 22
};

static int has(const uint16_t *a, size_t n, uint16_t x)
{
	for (size_t i = 0; a && i < n; i++)
		if (a[i] == x)
			return 1;
	return 0;
}

static int has8(const uint8_t *a, size_t n, uint8_t x)
{
	for (size_t i = 0; a && i < n; i++)
		if (a[i] == x)
			return 1;
	return 0;
}

static void set_suites(struct fake *f, enum plan_ver v, const uint16_t *s, size_t n)
{
	memcpy(f->suites[v], s, n * sizeof(*s));
	f->nsuites[v] = n;
}

static void set_curves(struct fake *f, const uint16_t *g, size_t n)
{
	memcpy(f->curves, g, n * sizeof(*g));
	f->ncurves = n;
}

static void set_groups(struct fake *f, const uint16_t *g, size_t n)
{
	memcpy(f->groups, g, n * sizeof(*g));
	f->ngroups = n;
}

static void refuse(const struct fake *f, uint8_t alert, struct probe_result *r)
{
	switch (f->on_reject) {
	case REJ_ALERT:
		r->outcome = PO_ALERT;
		r->alert = alert;
		break;
	case REJ_CLOSE: r->outcome = PO_CLOSED; break;
	case REJ_RESET: r->outcome = PO_RESET; break;
	default: r->outcome = PO_TIMEOUT; break;
	}
}

static int kx_is(uint16_t code, const char *kx)
{
	const struct suite_info *s = suite_by_code(code);
	return s && !strcmp(s->kx, kx);
}

/* The ECDHE curve for a TLS <= 1.2 hello: by the server's or the client's
 * order; without supported_groups (SSLv3) the server's first. 0: none. */
static uint16_t pick_curve(const struct fake *f, const struct hello_opts *o)
{
	if (!o->groups)
		return f->ncurves ? f->curves[0] : 0;
	if (f->server_pref) {
		for (size_t i = 0; i < f->ncurves; i++)
			if (has(o->groups, o->ngroups, f->curves[i]))
				return f->curves[i];
	} else {
		for (size_t i = 0; i < o->ngroups; i++)
			if (has(f->curves, f->ncurves, o->groups[i]))
				return o->groups[i];
	}
	return 0;
}

static int usable(const struct fake *f, const struct hello_opts *o, int v, uint16_t s)
{
	if ((v == PV_TLS13) != kx_is(s, "TLS13"))
		return 0;
	if (v < PV_TLS13 && kx_is(s, "ECDHE"))
		return pick_curve(f, o) != 0;
	return 1;
}

static void answer(struct fake *f, const struct plan_probe *pr, struct probe_result *r)
{
	const struct hello_opts *o = &pr->opts;
	int ourmax = -1, v = -1, clientmax = -1, found = 0;
	uint16_t suite = 0;

	memset(r, 0, sizeof(*r));
	f->conns++;
	if (f->no_tls || (f->no_tls_from && f->conns >= f->no_tls_from)) {
		r->outcome = PO_NO_TLS;
		return;
	}
	if (f->max_suites && o->nsuites > f->max_suites) {
		r->outcome = PO_CLOSED; /* chokes on a big hello without a word */
		return;
	}
	for (int k = 0; k < PV__COUNT; k++)
		if (f->nsuites[k])
			ourmax = k;
	if (o->versions && ourmax == PV_TLS13) {
		for (size_t i = 0; i < o->nversions; i++) {
			int k = o->versions[i] - TLS_SSL3;
			if (k >= 0 && k < PV__COUNT && k > clientmax)
				clientmax = k;
			if (k >= 0 && k < PV__COUNT && f->nsuites[k] && k > v)
				v = k;
		}
	} else {
		clientmax = (o->hello_version > TLS_TLS12 ? TLS_TLS12 : o->hello_version) - TLS_SSL3;
		for (int k = clientmax < ourmax ? clientmax : ourmax; k >= 0 && v < 0; k--)
			if (f->nsuites[k])
				v = k;
	}
	if (v < 0) {
		refuse(f, 70, r);
		return;
	}
	if (f->honour_scsv && o->fallback_scsv && clientmax < ourmax) {
		r->outcome = PO_ALERT;
		r->alert = 86;
		return;
	}
	if (f->server_pref) {
		for (size_t i = 0; i < f->nsuites[v] && !found; i++)
			if (has(o->suites, o->nsuites, f->suites[v][i]) && usable(f, o, v, f->suites[v][i])) {
				suite = f->suites[v][i];
				found = 1;
			}
	} else {
		for (size_t i = 0; i < o->nsuites && !found; i++)
			if (has(f->suites[v], f->nsuites[v], o->suites[i]) && usable(f, o, v, o->suites[i])) {
				suite = o->suites[i];
				found = 1;
			}
	}
	if (!found && f->liar && v < PV_TLS13) {
		suite = f->suites[v][0]; /* not offered: a server bug the plan must survive */
		found = 1;
	}
	if (!found) { /* 0x0000 is a suite too */
		refuse(f, 40, r);
		return;
	}
	r->cipher = suite;
	if (v == PV_TLS13) {
		/* RFC 8446 section 4.1.1: a group the client sent a share for, else HRR */
		const uint16_t *cl = o->key_share ? o->key_share_groups : NULL;
		size_t ncl = o->key_share ? o->nkey_share : 0;
		for (size_t i = 0; i < f->ngroups && !r->group; i++)
			if (has(cl, ncl, f->groups[i]))
				r->group = f->groups[i];
		if (r->group) {
			r->outcome = PO_SERVER_HELLO;
			r->version = TLS_TLS13;
			return;
		}
		if (f->server_pref) {
			for (size_t i = 0; i < f->ngroups && !r->group; i++)
				if (has(o->groups, o->ngroups, f->groups[i]))
					r->group = f->groups[i];
		} else {
			for (size_t i = 0; i < o->ngroups && !r->group; i++)
				if (has(f->groups, f->ngroups, o->groups[i]))
					r->group = o->groups[i];
		}
		if (!r->group) {
			r->cipher = 0;
			refuse(f, 40, r);
			return;
		}
		r->outcome = PO_HRR;
		r->version = TLS_TLS13;
		return;
	}
	r->outcome = PO_SERVER_HELLO;
	r->version = (uint16_t)(TLS_SSL3 + v);
	r->compression = f->deflate && o->compression && has8(o->compression, o->ncompression, 1) ? 1 : 0;
	r->reneg_info = f->reneg_info;
	if (pr->need_flight && kx_is(suite, "ECDHE"))
		r->group = pick_curve(f, o);
	if (pr->need_flight && kx_is(suite, "DHE"))
		r->dh_bits = f->dh_bits;
}

/* ---- driving a plan ---------------------------------------------------- */

/* The baseline probe must be conn's baseline hello byte for byte, except the
 * random and the session id (record 5 + handshake 4 + version 2 = offset 11). */
static int same_as_baseline(const struct plan_probe *pr, const char *sni)
{
	uint8_t a[4096], b[4096];
	long na = hello_build(&pr->opts, a, sizeof(a));
	long nb = conn_build_baseline_hello(sni, b, sizeof(b));
	if (na <= 0 || na != nb)
		return 0;
	memset(a + 11, 0, 32 + 1 + 32);
	memset(b + 11, 0, 32 + 1 + 32);
	return memcmp(a, b, (size_t)na) == 0;
}

static void check_probe(struct run *run, const struct plan_probe *pr, const char *sni)
{
	static uint8_t buf[32768];
	size_t n = pr->opts.nsuites;
	int bad = 0;

	if (run->probes == 1 && (pr->kind != PK_BASELINE || !same_as_baseline(pr, sni)))
		bad = 1;
	if (n == 0 || n > PLAN_MAX_OFFER || pr->opts.suites != pr->suites)
		bad = 1;
	if ((pr->kind == PK_SUITES || pr->kind == PK_VERSION) && n > PLAN_CHUNK)
		bad = 1;
	if (pr->opts.groups && pr->opts.groups != pr->groups)
		bad = 1;
	if (hello_build(&pr->opts, buf, sizeof(buf)) <= 0)
		bad = 1;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (pr->suites[i] == pr->suites[j])
				bad = 1; /* a suite offered twice */
	if (bad && run->bad < 3)
		diag("bad probe %u: kind %s, %zu suites", run->probes, probe_kind_name(pr->kind), n);
	run->bad += (unsigned)bad;
	if ((unsigned)pr->kind < PK__COUNT)
		run->kinds[pr->kind]++;
}

static const char *vname(int v);
static uint64_t *trace_h; /* test_trace: hash every probe and answer into it */
static void fnv_probe(uint64_t *h, const struct plan_probe *pr);
static void fnv_u32(uint64_t *h, uint32_t x);

static struct plan *drive(enum enum_mode mode, struct fake *f, struct run *run)
{
	const char *sni = "mx.example.net";
	struct plan *p = plan_new(mode, sni);
	struct plan_probe pr;
	struct probe_result r;

	memset(run, 0, sizeof(*run));
	if (!p)
		return NULL;
	while (plan_next(p, &pr)) {
		run->probes++;
		check_probe(run, &pr, sni);
		if (run->probes > PLAN_MAX_PROBES + 5)
			break;
		answer(f, &pr, &r);
		if (trace_h) {
			fnv_probe(trace_h, &pr);
			fnv_u32(trace_h, (uint32_t)r.outcome << 16 | r.alert);
			fnv_u32(trace_h, (uint32_t)r.version << 16 | r.cipher);
		}
		if (getenv("PLAN_TRACE"))
			diag("%3u %-11s %-7s %3zu suites [%04x..] %2zu groups -> %s v%04x c%04x g%u a%u", run->probes,
			     probe_kind_name(pr.kind), vname(pr.ver), pr.opts.nsuites, pr.suites[0], pr.opts.ngroups,
			     probe_outcome_name(r.outcome), r.version, r.cipher, r.group, r.alert);
		plan_result(p, &r);
	}
	return p;
}

static const char *vname(int v)
{
	return tls_version_name(plan_ver_wire((enum plan_ver)v));
}

static void diag_summary(const char *name, const struct plan_summary *s, const struct run *run)
{
	char line[512];
	size_t n = 0;
	n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: %u probes (", name, s->probes);
	for (int k = 0; k < PK__COUNT; k++)
		if (run->kinds[k])
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s %u", probe_kind_name((enum probe_kind)k),
					      run->kinds[k]);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " ); refusals:");
	for (int o = 0; o < PO__COUNT; o++)
		if (s->refusals[o])
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s %u",
					      probe_outcome_name((enum probe_outcome)o), s->refusals[o]);
	diag("%s", line);
}

static int same_list(const uint16_t *a, size_t na, const uint16_t *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

static int same_set(const uint16_t *a, size_t na, const uint16_t *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (!has(b, nb, a[i]))
			return 0;
	return 1;
}

/* The summary of a finished ENUM_FULL plan against the fake's truth. */
static void check_full(const char *name, const struct plan_summary *s, const struct fake *f)
{
	int nsup = 0, old = 0, dhe;
	uint16_t want12[16];
	size_t nwant12 = 0;
	int ecdhe_old = 0;

	is_int(s->mode, ENUM_FULL, "%s: mode full", name);
	is_int(s->aborted, 0, "%s: not aborted", name);
	for (int v = 0; v < PV__COUNT; v++) {
		const struct plan_version *pv = &s->v[v];
		int sup = f->nsuites[v] > 0;
		nsup += sup;
		old += sup && v < PV_TLS13;
		ok(pv->tested, "%s: %s tested", name, vname(v));
		is_int(pv->supported, sup, "%s: %s supported", name, vname(v));
		is_int(pv->complete, 1, "%s: %s complete", name, vname(v));
		if (!sup) {
			is_int(pv->nsuites, 0, "%s: %s no suites", name, vname(v));
			continue;
		}
		if (f->server_pref) {
			ok(same_list(pv->suites, pv->nsuites, f->suites[v], f->nsuites[v]),
			   "%s: %s suites in the server's order (%zu)", name, vname(v), pv->nsuites);
		} else {
			ok(same_set(pv->suites, pv->nsuites, f->suites[v], f->nsuites[v]), "%s: %s suites (%zu)", name,
			   vname(v), pv->nsuites);
		}
		if (f->nsuites[v] == 1)
			is_str(plan_order_name(pv->order), "indeterminate", "%s: %s order", name, vname(v));
		else
			is_str(plan_order_name(pv->order), f->server_pref ? "server" : "client", "%s: %s order", name,
			       vname(v));
		dhe = 0;
		for (size_t i = 0; i < f->nsuites[v]; i++) {
			dhe |= kx_is(f->suites[v][i], "DHE");
			if (v >= PV_TLS10 && v < PV_TLS13 && kx_is(f->suites[v][i], "ECDHE"))
				ecdhe_old = 1;
		}
		if (v < PV_TLS13)
			is_int(pv->dh_bits, dhe ? f->dh_bits : 0, "%s: %s dh_bits", name, vname(v));
	}
	/* TLS 1.3 groups: every one, in the server's order when it prefers its own */
	if (f->nsuites[PV_TLS13]) {
		if (f->server_pref)
			ok(same_list(s->groups13, s->ngroups13, f->groups, f->ngroups),
			   "%s: TLS 1.3 groups in order (%zu)", name, s->ngroups13);
		else
			ok(same_set(s->groups13, s->ngroups13, f->groups, f->ngroups), "%s: TLS 1.3 groups (%zu)", name,
			   s->ngroups13);
	} else {
		is_int(s->ngroups13, 0, "%s: no TLS 1.3 groups", name);
	}
	for (size_t i = 0; ecdhe_old && i < f->ncurves; i++)
		if (has(curves12_all, ARRAY_LEN(curves12_all), f->curves[i]))
			want12[nwant12++] = f->curves[i];
	if (f->server_pref)
		ok(same_list(s->groups12, s->ngroups12, want12, nwant12), "%s: TLS 1.2 curves in order (%zu)", name,
		   s->ngroups12);
	else
		ok(same_set(s->groups12, s->ngroups12, want12, nwant12), "%s: TLS 1.2 curves (%zu)", name,
		   s->ngroups12);
	is_int(s->compression, old ? f->deflate : -1, "%s: compression", name);
	is_int(s->fallback_scsv, nsup >= 2 ? f->honour_scsv : -1, "%s: fallback SCSV", name);
	is_int(s->secure_reneg, old ? f->reneg_info : -1, "%s: secure renegotiation", name);
	if (f->liar)
		ok(s->unoffered > 0, "%s: unoffered picks counted (%u)", name, s->unoffered);
	else
		is_int(s->unoffered, 0, "%s: no unoffered picks", name);
}

/* Run a FULL plan against f and check everything; returns the probe count. */
static unsigned full(const char *name, struct fake *f)
{
	struct run run;
	struct plan *p = drive(ENUM_FULL, f, &run);
	unsigned n;

	if (!ok(p != NULL, "%s: plan_new", name))
		return 0;
	is_int(run.bad, 0, "%s: every probe well-formed, baseline first", name);
	is_str(plan_phase_name(p), "done", "%s: plan finished", name);
	ok(run.probes <= PLAN_MAX_PROBES, "%s: within the probe cap", name);
	is_int(plan_summary(p)->probes, run.probes, "%s: probes counted", name);
	check_full(name, plan_summary(p), f);
	diag_summary(name, plan_summary(p), &run);
	n = run.probes;
	plan_free(p);
	return n;
}

/* ---- fake servers ------------------------------------------------------- */

static const uint16_t modern12[] = { 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc02b, 0xc02f, 0xc024, 0xc028, 0xc023,
				     0xc027, 0xc00a, 0xc014, 0xc009, 0xc013, 0x009f, 0x009e, 0x009c };
static const uint16_t modern13[] = { 0x1302, 0x1303, 0x1301 };

static void modern(struct fake *f)
{
	static const uint16_t curves[] = { GROUP_X25519, GROUP_SECP256R1, GROUP_SECP384R1 };
	static const uint16_t groups[] = { GROUP_X25519, GROUP_X25519MLKEM768, GROUP_SECP256R1, GROUP_SECP384R1 };
	memset(f, 0, sizeof(*f));
	set_suites(f, PV_TLS13, modern13, ARRAY_LEN(modern13));
	set_suites(f, PV_TLS12, modern12, ARRAY_LEN(modern12));
	set_curves(f, curves, ARRAY_LEN(curves));
	set_groups(f, groups, ARRAY_LEN(groups));
	f->server_pref = 1;
	f->honour_scsv = 1;
	f->reneg_info = 1;
	f->dh_bits = 2048;
}

/* TLS 1.2 only, 10 common suites, server order: the header's typical case. */
static void tls12_ten(struct fake *f)
{
	static const uint16_t s12[] = {
		0xc030, 0xc02f, 0xc028, 0xc027, 0xc014, 0xc013, 0x009d, 0x009c, 0x0035, 0x002f
	};
	static const uint16_t curves[] = { GROUP_SECP256R1, GROUP_SECP384R1 };
	memset(f, 0, sizeof(*f));
	set_suites(f, PV_TLS12, s12, ARRAY_LEN(s12));
	set_curves(f, curves, ARRAY_LEN(curves));
	f->server_pref = 1;
	f->reneg_info = 1;
}

static void client_pref(struct fake *f)
{
	static const uint16_t s12[] = { 0x002f, 0xc02f, 0x000a, 0xc030, 0xc013, 0x0035, 0xc014, 0x009c };
	static const uint16_t s10[] = { 0x000a, 0xc013, 0x002f, 0xc014, 0x0035 };
	static const uint16_t curves[] = { GROUP_SECP384R1, GROUP_SECP256R1 };
	memset(f, 0, sizeof(*f));
	set_suites(f, PV_TLS12, s12, ARRAY_LEN(s12));
	set_suites(f, PV_TLS11, s10, ARRAY_LEN(s10));
	set_suites(f, PV_TLS10, s10, ARRAY_LEN(s10));
	set_curves(f, curves, ARRAY_LEN(curves));
	f->reneg_info = 1;
}

static void tls10_legacy(struct fake *f)
{
	static const uint16_t s10[] = { 0x0005, 0x0004, 0x000a, 0x0009 }; /* RC4, 3DES, DES: static RSA */
	memset(f, 0, sizeof(*f));
	set_suites(f, PV_TLS10, s10, ARRAY_LEN(s10));
	f->server_pref = 1;
	f->deflate = 1;
}

static void ssl3_export(struct fake *f)
{
	/* AES over SSLv3 (0x002f) as OpenSSL did, export RC4/RC2/DES40, EDH */
	static const uint16_t s3[] = { 0x0016, 0x000a, 0x002f, 0x0005, 0x0004, 0x0014, 0x0008, 0x0006, 0x0003 };
	memset(f, 0, sizeof(*f));
	set_suites(f, PV_SSL3, s3, ARRAY_LEN(s3));
	set_suites(f, PV_TLS10, s3, ARRAY_LEN(s3));
	f->server_pref = 1;
	f->dh_bits = 512;
}

/* Deterministic pseudo-random numbers (LCG), for the 150-suite server. */
static uint32_t lcg(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

static void many(struct fake *f, size_t n, uint32_t seed)
{
	static const uint16_t groups[] = { GROUP_SECP384R1, GROUP_X25519, GROUP_SECP256R1 };
	uint16_t all[PLAN_MAX_OFFER];
	size_t nall = suites_for_version(TLS_TLS12, all, ARRAY_LEN(all));
	memset(f, 0, sizeof(*f));
	for (size_t i = nall; i > 1; i--) { /* Fisher-Yates */
		size_t j = lcg(&seed) % i;
		uint16_t t = all[i - 1];
		all[i - 1] = all[j];
		all[j] = t;
	}
	set_suites(f, PV_TLS12, all, n < nall ? n : nall);
	set_suites(f, PV_TLS13, modern13, ARRAY_LEN(modern13));
	set_curves(f, curves12_all, ARRAY_LEN(curves12_all));
	set_groups(f, groups, ARRAY_LEN(groups));
	f->server_pref = 1;
	f->honour_scsv = 1;
	f->reneg_info = 1;
	f->dh_bits = 1024;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_names(void)
{
	is_str(enum_mode_name(ENUM_QUICK), "quick", "enum_mode_name quick");
	is_str(enum_mode_name(ENUM_FULL), "full", "enum_mode_name full");
	is_int(enum_mode_parse("versions"), ENUM_VERSIONS, "enum_mode_parse versions");
	is_int(enum_mode_parse("fast"), -1, "enum_mode_parse rejects unknown");
	is_int(enum_mode_parse(NULL), -1, "enum_mode_parse NULL");
	is_str(probe_kind_name(PK_GROUPS13), "groups13", "probe_kind_name");
	is_str(probe_outcome_name(PO_HRR), "hello-retry-request", "probe_outcome_name");
	is_str(plan_order_name(ORDER_INDETERMINATE), "indeterminate", "plan_order_name");
	is_int(plan_ver_wire(PV_SSL3), 0x0300, "plan_ver_wire SSLv3");
	is_int(plan_ver_wire(PV_TLS13), 0x0304, "plan_ver_wire TLS 1.3");
	ok(plan_new((enum enum_mode)7, NULL) == NULL, "plan_new rejects an unknown mode");
}

static void test_modern(void)
{
	struct fake f;
	modern(&f);
	unsigned n = full("modern", &f);
	/* 1 baseline (TLS 1.3, 0x1302) + TLS 1.3: 2 HRR (suite + group), 1 refusal, 1 with every
	 * group (refused: suites done), 2 groups alone + 1 refusal = 7; TLS 1.2: 17 picks + 5
	 * window refusals = 22; TLS 1.1, 1.0 and SSLv3: one protocol_version each (alert 70
	 * refutes only its own version: servers with a version gap exist) = 3;
	 * order: 1 + 1; curves: 2 (x25519 came with the elimination) + 1 refusal = 3;
	 * compression 1; fallback 1. */
	is_int(n, 1 + 7 + 22 + 3 + 2 + 3 + 1 + 1, "modern: probe count");
	diag("typical modern server (TLS 1.3 + TLS 1.2, 20 suites): %u connections", n);
}

static void test_tls12_ten(void)
{
	struct fake f;
	tls12_ten(&f);
	unsigned n = full("TLS 1.2 only, 10 suites", &f);
	/* baseline (TLS 1.2: first suite, TLS 1.3 refuted) + 9 picks + 5 window refusals
	 * + TLS 1.1, 1.0, SSLv3 protocol_version each + 1 order + curves: 1 + 1
	 * refusal + compression. Fallback: one version only. */
	is_int(n, 1 + 9 + 5 + 3 + 1 + 2 + 1, "TLS 1.2 only, 10 suites: probe count");
	diag("TLS 1.2-only server, 10 suites: %u connections", n);
}

static void test_client_pref(void)
{
	struct fake f;
	client_pref(&f);
	full("client preference", &f);
}

static void test_tls10_legacy(void)
{
	struct fake f;
	tls10_legacy(&f);
	full("TLS 1.0 static RSA/3DES/RC4", &f);
}

static void test_ssl3_export(void)
{
	struct fake f;
	ssl3_export(&f);
	full("SSLv3 + export", &f);
}

static void test_many(void)
{
	struct fake f;
	many(&f, 150, 12345);
	unsigned n = full("150 suites", &f);
	diag("150 TLS 1.2 suites in random server order + TLS 1.3: %u connections", n);
	many(&f, 150, 777);
	f.server_pref = 0;
	full("150 suites, client order", &f);
}

static void test_one_suite(void)
{
	static const uint16_t one_common[] = { 0x002f };
	static const uint16_t one_exotic[] = { 0x0096 }; /* TLS_RSA_WITH_SEED_CBC_SHA: not in chunk 0 */
	struct fake f;
	memset(&f, 0, sizeof(f));
	set_suites(&f, PV_TLS12, one_common, 1);
	f.server_pref = 1;
	full("one suite (common)", &f);
	/* the baseline is refused (40), the version tests go on through every chunk */
	memset(&f, 0, sizeof(f));
	set_suites(&f, PV_TLS12, one_exotic, 1);
	f.server_pref = 1;
	full("one suite (exotic, handshake_failure)", &f);
}

static void test_exotic_favourite(void)
{
	/* The favourite is found in a late chunk: it heads a segment of one, so the
	 * order probe's pick is ambiguous and a second order probe settles it. */
	static const uint16_t s12[] = { 0x0096, 0xc02f, 0x002f };
	struct fake f;
	memset(&f, 0, sizeof(f));
	set_suites(&f, PV_TLS12, s12, ARRAY_LEN(s12));
	set_curves(&f, curves12_all, 2);
	f.server_pref = 1;
	full("exotic favourite, server order", &f);
	f.server_pref = 0;
	full("exotic favourite, client order", &f);
}

static void test_resets(void)
{
	static const uint16_t s13[] = { 0x1301, 0x1302 };
	static const uint16_t s12[] = { 0xc02f, 0xc030, 0xc013, 0x009c, 0x002f, 0x000a };
	static const uint16_t s10[] = { 0xc013, 0x002f, 0x000a };
	static const uint16_t groups[] = { GROUP_X25519, GROUP_SECP256R1 };
	struct fake f;
	memset(&f, 0, sizeof(f));
	set_suites(&f, PV_TLS13, s13, ARRAY_LEN(s13));
	set_suites(&f, PV_TLS12, s12, ARRAY_LEN(s12));
	set_suites(&f, PV_TLS10, s10, ARRAY_LEN(s10));
	set_curves(&f, curves12_all + 1, 1);
	set_groups(&f, groups, ARRAY_LEN(groups));
	f.server_pref = 1;
	f.honour_scsv = 1;
	f.reneg_info = 1;
	f.on_reject = REJ_RESET;
	full("resets on refusal", &f);
	f.on_reject = REJ_TIMEOUT;
	full("silent on refusal", &f);
}

/* A server that drops hellos with more than 40 suites (a suite-list cap, like
 * wolfSSL's 150): the window shrinks and every suite is still found. */
static void test_choker(void)
{
	struct fake f;
	tls12_ten(&f);
	f.max_suites = 40;
	full("chokes on hellos with more than 40 suites", &f);
}

static void test_liar(void)
{
	struct fake f;
	tls12_ten(&f);
	f.liar = 1;
	full("picks suites it was not offered", &f);
}

static void test_tls13_only(void)
{
	static const uint16_t groups[] = { GROUP_SECP256R1, GROUP_X25519 };
	struct fake f;
	memset(&f, 0, sizeof(f));
	set_suites(&f, PV_TLS13, modern13, ARRAY_LEN(modern13));
	set_groups(&f, groups, ARRAY_LEN(groups));
	f.server_pref = 1;
	full("TLS 1.3 only", &f);
}

static void test_no_tls(void)
{
	struct fake f;
	struct run run;
	struct plan *p;
	const struct plan_summary *s;

	modern(&f);
	f.no_tls = 1;
	p = drive(ENUM_FULL, &f, &run);
	s = plan_summary(p);
	is_int(run.probes, 1, "no TLS: the plan ends after the baseline");
	is_int(run.bad, 0, "no TLS: the probe was the baseline");
	for (int v = 0; v < PV__COUNT; v++)
		ok(!s->v[v].tested && !s->v[v].supported, "no TLS: %s untested", vname(v));
	is_int(s->aborted, 0, "no TLS: nothing stopped early");
	is_int(s->refusals[PO_NO_TLS], 1, "no TLS: counted");
	is_int(s->compression, -1, "no TLS: compression untested");
	plan_free(p);

	/* SMTP starts failing mid-plan (e.g. 421 rate limiting): stop, say so */
	modern(&f);
	f.no_tls_from = 4;
	p = drive(ENUM_FULL, &f, &run);
	s = plan_summary(p);
	is_int(run.probes, 4, "no TLS mid-plan: stops at the failing probe");
	is_int(s->aborted, 1, "no TLS mid-plan: aborted");
	ok(s->v[PV_TLS13].supported && !s->v[PV_TLS13].complete, "no TLS mid-plan: TLS 1.3 incomplete");
	plan_free(p);
}

static void test_quick(void)
{
	struct fake f;
	struct run run;
	struct plan *p;
	const struct plan_summary *s;

	modern(&f);
	p = drive(ENUM_QUICK, &f, &run);
	s = plan_summary(p);
	is_int(run.probes, 1, "quick: one probe");
	is_int(run.bad, 0, "quick: the baseline");
	ok(s->v[PV_TLS13].tested && s->v[PV_TLS13].supported, "quick: TLS 1.3 supported");
	ok(s->v[PV_TLS13].nsuites == 1 && s->v[PV_TLS13].suites[0] == 0x1302, "quick: the suite picked");
	ok(!s->v[PV_TLS12].tested, "quick: nothing said about TLS 1.2");
	plan_free(p);

	tls10_legacy(&f);
	p = drive(ENUM_QUICK, &f, &run);
	s = plan_summary(p);
	is_int(run.probes, 1, "quick, TLS 1.0 server: one probe");
	ok(s->v[PV_TLS10].supported && s->v[PV_TLS10].nsuites == 1, "quick, TLS 1.0 server: TLS 1.0 and its suite");
	ok(s->v[PV_TLS11].tested && !s->v[PV_TLS11].supported && s->v[PV_TLS13].tested && !s->v[PV_TLS13].supported,
	   "quick, TLS 1.0 server: higher versions refuted by the answer");
	ok(!s->v[PV_SSL3].tested, "quick, TLS 1.0 server: SSLv3 untested");
	is_int(s->secure_reneg, 0, "quick, TLS 1.0 server: no renegotiation_info");
	plan_free(p);
}

static void test_versions(void)
{
	struct fake f;
	struct run run;
	struct plan *p;
	const struct plan_summary *s;

	modern(&f);
	p = drive(ENUM_VERSIONS, &f, &run);
	s = plan_summary(p);
	/* baseline proves TLS 1.3; TLS 1.2 test; TLS 1.1, 1.0 and SSLv3 each refused with protocol_version */
	is_int(run.probes, 5, "versions: baseline + 4 version tests");
	is_int(run.bad, 0, "versions: probes well-formed");
	for (int v = 0; v < PV__COUNT; v++) {
		ok(s->v[v].tested, "versions: %s tested", vname(v));
		is_int(s->v[v].supported, f.nsuites[v] > 0, "versions: %s supported", vname(v));
		is_int(s->v[v].order, ORDER_UNKNOWN, "versions: %s order not measured", vname(v));
	}
	is_int(s->v[PV_TLS12].nsuites, 1, "versions: the TLS 1.2 test's suite kept");
	is_int(s->compression, -1, "versions: compression untested");
	is_int(s->fallback_scsv, -1, "versions: fallback untested");
	is_int(s->secure_reneg, 1, "versions: renegotiation_info seen");
	plan_free(p);

	/* a server without TLS 1.3: the TLS 1.3 question is settled by the baseline */
	client_pref(&f);
	p = drive(ENUM_VERSIONS, &f, &run);
	s = plan_summary(p);
	is_int(run.probes, 4, "versions, TLS 1.0-1.2 server: baseline + TLS 1.1, 1.0, SSLv3 tests");
	for (int v = 0; v < PV__COUNT; v++)
		is_int(s->v[v].supported, f.nsuites[v] > 0, "versions, TLS 1.0-1.2 server: %s", vname(v));
	plan_free(p);
}

static void test_cap(void)
{
	/* everything in every version: more than PLAN_MAX_PROBES connections' worth */
	struct fake f;
	struct run run;
	struct plan *p;
	const struct plan_summary *s;
	int incomplete = 0;

	memset(&f, 0, sizeof(f));
	for (int v = 0; v < PV__COUNT; v++) {
		uint16_t all[PLAN_MAX_OFFER];
		size_t n = suites_for_version(plan_ver_wire((enum plan_ver)v), all, ARRAY_LEN(all));
		set_suites(&f, (enum plan_ver)v, all, n);
	}
	set_curves(&f, curves12_all, ARRAY_LEN(curves12_all));
	set_groups(&f, curves12_all, 2);
	f.server_pref = 1;
	p = drive(ENUM_FULL, &f, &run);
	s = plan_summary(p);
	is_int(run.probes, PLAN_MAX_PROBES, "cap: stops at PLAN_MAX_PROBES");
	is_int(run.bad, 0, "cap: probes well-formed");
	for (int v = 0; v < PV__COUNT; v++)
		incomplete |= s->v[v].supported && !s->v[v].complete;
	ok(incomplete, "cap: unfinished versions marked incomplete");
	ok(s->v[PV_TLS13].complete && s->v[PV_TLS13].nsuites == f.nsuites[PV_TLS13], "cap: TLS 1.3 finished first");
	plan_free(p);
}

static void test_protocol(void)
{
	/* plan_result without a pending probe is ignored; plan_next twice hands out the same probe */
	struct plan *p = plan_new(ENUM_FULL, NULL);
	struct plan_probe a, b;
	struct probe_result r = { .outcome = PO_ALERT, .alert = 40 };
	plan_result(p, &r);
	ok(plan_next(p, &a) && plan_next(p, &b), "plan_next twice");
	ok(a.kind == PK_BASELINE && b.kind == PK_BASELINE && a.opts.nsuites == b.opts.nsuites &&
		   b.opts.suites == b.suites && !memcmp(a.suites, b.suites, a.opts.nsuites * 2),
	   "the pending probe is handed out again");
	is_int(plan_summary(p)->probes, 1, "and counted once");
	{
		const uint16_t *base;
		size_t nbase = conn_baseline_suites(&base);
		ok(a.suites == base && a.opts.nsuites == nbase,
		   "the baseline offers the static list itself, not a copy");
	}
	ok(a.opts.sni == NULL, "no SNI when none given");
	plan_free(p);
	plan_free(NULL);
	ok(plan_summary(NULL) == NULL, "plan_summary(NULL)");
}

/* ---- probe sequences pinned: the exact probes and summaries -------------- */

/* FNV-1a 64 over little-endian values: the same on every host. */
static void fnv_u32(uint64_t *h, uint32_t x)
{
	for (int i = 0; i < 4; i++) {
		*h ^= (x >> (8 * i)) & 0xff;
		*h *= 0x100000001b3ull;
	}
}

static void fnv_list(uint64_t *h, const uint16_t *a, size_t n)
{
	fnv_u32(h, a ? (uint32_t)n : 0xffffffffu); /* NULL (extension left out) differs from empty */
	for (size_t i = 0; a && i < n; i++)
		fnv_u32(h, a[i]);
}

static void fnv_probe(uint64_t *h, const struct plan_probe *pr)
{
	const struct hello_opts *o = &pr->opts;
	fnv_u32(h, (uint32_t)pr->kind);
	fnv_u32(h, (uint32_t)pr->ver);
	fnv_u32(h, (uint32_t)pr->need_flight);
	fnv_u32(h, o->record_version);
	fnv_u32(h, o->hello_version);
	fnv_list(h, o->suites, o->nsuites);
	fnv_u32(h, o->compression ? (uint32_t)o->ncompression : 0xffffffffu);
	for (size_t i = 0; o->compression && i < o->ncompression; i++)
		fnv_u32(h, o->compression[i]);
	fnv_u32(h, o->sni ? (uint32_t)strlen(o->sni) : 0xffffffffu);
	fnv_list(h, o->groups, o->ngroups);
	fnv_u32(h, (uint32_t)o->ec_point_formats);
	fnv_list(h, o->sigalgs, o->nsigalgs);
	fnv_list(h, o->versions, o->nversions);
	fnv_u32(h, (uint32_t)o->key_share);
	fnv_list(h, o->key_share ? o->key_share_groups : NULL, o->nkey_share);
	fnv_u32(h, (uint32_t)o->renegotiation_info);
	fnv_u32(h, (uint32_t)o->fallback_scsv);
	fnv_u32(h, (uint32_t)o->empty_reneg_scsv);
	fnv_u32(h, (uint32_t)o->extended_master_secret);
	fnv_u32(h, (uint32_t)o->pad_to);
}

static void fnv_summary(uint64_t *h, const struct plan *p)
{
	const struct plan_summary *s = plan_summary(p);
	const char *ph = plan_phase_name(p);
	fnv_u32(h, (uint32_t)s->mode);
	for (int v = 0; v < PV__COUNT; v++) {
		const struct plan_version *pv = &s->v[v];
		fnv_u32(h, (uint32_t)pv->tested);
		fnv_u32(h, (uint32_t)pv->supported);
		fnv_u32(h, (uint32_t)pv->order);
		fnv_list(h, pv->nsuites ? pv->suites : NULL, pv->nsuites);
		fnv_u32(h, (uint32_t)pv->complete);
		fnv_u32(h, pv->dh_bits);
	}
	fnv_list(h, s->groups12, s->ngroups12);
	fnv_list(h, s->groups13, s->ngroups13);
	fnv_u32(h, (uint32_t)s->compression);
	fnv_u32(h, (uint32_t)s->fallback_scsv);
	fnv_u32(h, (uint32_t)s->secure_reneg);
	fnv_u32(h, s->probes);
	for (int o = 0; o < PO__COUNT; o++)
		fnv_u32(h, s->refusals[o]);
	fnv_u32(h, (uint32_t)s->aborted);
	fnv_u32(h, s->unoffered);
	for (size_t i = 0; ph[i]; i++)
		fnv_u32(h, (uint8_t)ph[i]);
}

/* A pseudo-random server: versions, suites (any, in any order), curves,
 * groups, preference, refusal style, and now and then a suite-list cap, a
 * liar or SMTP failing mid-plan. */
static void random_fake(struct fake *f, uint32_t *st)
{
	static const uint16_t groups13[] = { GROUP_X25519,    GROUP_X25519MLKEM768, GROUP_SECP256R1, GROUP_SECP384R1,
					     GROUP_SECP521R1, GROUP_X448,           0x0100 /* ffdhe2048 */ };
	static const size_t sizes[] = { 1, 3, 12, 40, 90, PLAN_MAX_OFFER };
	static const uint16_t dh[] = { 0, 512, 1024, 2048 };
	uint16_t g[ARRAY_LEN(groups13)], c[ARRAY_LEN(curves12_all)];
	memset(f, 0, sizeof(*f));
	for (int v = 0; v < PV__COUNT; v++) {
		uint16_t all[PLAN_MAX_OFFER];
		size_t n = suites_for_version(plan_ver_wire((enum plan_ver)v), all, ARRAY_LEN(all)), k;
		if (lcg(st) % 2)
			continue;
		for (size_t i = n; i > 1; i--) {
			size_t j = lcg(st) % i;
			uint16_t t = all[i - 1];
			all[i - 1] = all[j];
			all[j] = t;
		}
		/* two draws in their own statements: in one expression their order is
		 * unspecified, and UBSan's instrumentation once swapped it */
		size_t draw = lcg(st);
		k = 1 + draw % sizes[lcg(st) % ARRAY_LEN(sizes)];
		set_suites(f, (enum plan_ver)v, all, k < n ? k : n);
	}
	memcpy(g, groups13, sizeof(g));
	memcpy(c, curves12_all, sizeof(c));
	for (size_t i = ARRAY_LEN(g); i > 1; i--) {
		size_t j = lcg(st) % i;
		uint16_t t = g[i - 1];
		g[i - 1] = g[j];
		g[j] = t;
	}
	for (size_t i = ARRAY_LEN(c); i > 1; i--) {
		size_t j = lcg(st) % i;
		uint16_t t = c[i - 1];
		c[i - 1] = c[j];
		c[j] = t;
	}
	set_groups(f, g, lcg(st) % (ARRAY_LEN(g) + 1));
	set_curves(f, c, lcg(st) % (ARRAY_LEN(c) + 1));
	f->server_pref = lcg(st) % 4 != 0;
	f->deflate = lcg(st) % 4 == 0;
	f->honour_scsv = lcg(st) % 2;
	f->on_reject = (enum fake_reject)(lcg(st) % 4);
	f->reneg_info = lcg(st) % 2;
	f->dh_bits = dh[lcg(st) % ARRAY_LEN(dh)];
	f->liar = lcg(st) % 8 == 0;
	f->max_suites = lcg(st) % 8 == 0 ? 17 + lcg(st) % 50 : 0;
	f->no_tls_from = lcg(st) % 10 == 0 ? 2 + lcg(st) % 60 : 0;
}

/* Hash every probe (and the fake's answer) and every final summary of the
 * scripted servers above and of 300 pseudo-random ones, in all three modes.
 * PLAN_TRACE_PIN was printed by this test run against plan.c before the
 * memory shrink (commit f8e070b, inline 512-suite probes and 512-bit sets per
 * version): any change to a probe, its order or a summary changes it. When
 * the algorithm changes on purpose, rerun, check the probe counts printed by
 * the other tests, and pin the new value. */
#define PLAN_TRACE_PIN 0x068b3f15c93deae7ull

static unsigned trace_probes; /* probes made by test_trace */

static uint64_t trace_run(enum enum_mode mode, struct fake *f, uint64_t h)
{
	struct run run;
	struct plan *p = drive(mode, f, &run);
	trace_probes += run.probes;
	if (!p)
		return h ^ 1;
	fnv_summary(&h, p);
	plan_free(p);
	return h;
}

static void test_trace(void)
{
	void (*const scripted[])(struct fake *) = { modern, tls12_ten, client_pref, tls10_legacy, ssl3_export };
	uint64_t h = 0xcbf29ce484222325ull;
	uint32_t st = 20261121;
	struct fake f;

	trace_h = &h;
	for (size_t i = 0; i < ARRAY_LEN(scripted); i++)
		for (int m = 0; m < ENUM__COUNT; m++) {
			scripted[i](&f);
			h = trace_run((enum enum_mode)m, &f, h);
			scripted[i](&f);
			f.server_pref = !f.server_pref;
			f.on_reject = REJ_CLOSE;
			h = trace_run((enum enum_mode)m, &f, h);
		}
	many(&f, 150, 12345);
	h = trace_run(ENUM_FULL, &f, h);
	many(&f, 150, 777);
	f.server_pref = 0;
	h = trace_run(ENUM_FULL, &f, h);
	for (int i = 0; i < 300; i++) {
		random_fake(&f, &st);
		h = trace_run(i % 10 == 0 ? ENUM_VERSIONS : i % 10 == 1 ? ENUM_QUICK : ENUM_FULL, &f, h);
	}
	trace_h = NULL;
	diag("probe sequence checksum: 0x%016llx (%u probes)", (unsigned long long)h, trace_probes);
	ok(h == PLAN_TRACE_PIN, "every probe and summary as pinned (PLAN_TRACE_PIN)");
}

/* plan_chain_probe: the hello that makes a server send its chain again */
static void test_chain_probe(void)
{
	struct plan *p = plan_new(ENUM_QUICK, "mx.example.test");
	const struct plan_probe *b = plan_next_probe(p);
	ok(b && b->kind == PK_BASELINE, "chain probe: baseline first");
	ok(plan_chain_probe(p, 0x0303, 0xC02F) == NULL, "chain probe: none while a probe is pending");
	struct probe_result r = { .outcome = PO_SERVER_HELLO, .version = 0x0303, .cipher = 0xC02F };
	plan_result(p, &r);
	unsigned probes = plan_summary(p)->probes;
	ok(plan_next_probe(p) == NULL, "chain probe: --enum quick is done after the baseline");
	const struct plan_probe *c = plan_chain_probe(p, 0x0303, 0xC02F);
	ok(c && c->kind == PK_CHAIN && c->ver == PV_TLS12 && c->need_flight, "chain probe: TLS 1.2, flight parsed");
	ok(c && c->opts.nsuites == 1 && c->suites[0] == 0xC02F && c->opts.suites == c->suites,
	   "chain probe: the one suite the server picked");
	ok(c && c->opts.hello_version == 0x0303 && c->opts.nversions == 0 && c->opts.ngroups > 0 && c->opts.sni &&
		   !strcmp(c->opts.sni, "mx.example.test"),
	   "chain probe: a TLS 1.2 hello with curves and SNI");
	is_str(probe_kind_name(PK_CHAIN), "chain", "probe_kind_name chain");
	c = plan_chain_probe(p, 0x0300, 0x000A);
	ok(c && c->ver == PV_SSL3 && c->opts.record_version == 0x0300 && c->suites[0] == 0x000A,
	   "chain probe: an SSLv3 hello for an SSLv3 answer");
	ok(plan_chain_probe(p, 0x0304, 0x1301) == NULL, "chain probe: none for TLS 1.3 (certificates encrypted)");
	ok(plan_chain_probe(p, 0x0200, 0x0001) == NULL, "chain probe: none for SSLv2");
	is_int(plan_summary(p)->probes, probes, "chain probe: not counted as an enumeration probe");
	plan_free(p);
	/* a plan still enumerating: none (its offer buffer is in use) */
	p = plan_new(ENUM_FULL, NULL);
	plan_next_probe(p);
	plan_result(p, &r);
	ok(plan_chain_probe(p, 0x0303, 0xC02F) == NULL, "chain probe: none while the enumeration goes on");
	plan_free(p);
	ok(plan_chain_probe(NULL, 0x0303, 0xC02F) == NULL, "chain probe: NULL plan");
}

int main(void)
{
	test_names();
	test_protocol();
	test_modern();
	test_tls12_ten();
	test_client_pref();
	test_tls10_legacy();
	test_ssl3_export();
	test_many();
	test_one_suite();
	test_exotic_favourite();
	test_resets();
	test_tls13_only();
	test_liar();
	test_choker();
	test_no_tls();
	test_quick();
	test_versions();
	test_cap();
	test_trace();
	test_chain_probe();
	return done_testing();
}
