/*
 * agg: streaming aggregates of records and the report model (see agg.h).
 *
 * Each record is looked at once: agg_add() reads the few fields each table
 * needs and bumps counters. The denominators are counted alongside, from the
 * same presence tests, so a share can never be taken of the wrong population
 * (STARTTLS is a share of STARTTLS-mode hosts that answered EHLO, versions a
 * share of hosts whose versions were enumerated, and so on).
 */
#include "agg.h"
#include "rutil.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AGG_MAX_SUITES_PER_HOST 1024

const char *const agg_versions[AGG_NVERS] = { "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3" };

static const char *const agg_by_names[] = {
	[AGG_BY_NONE] = "none",
	[AGG_BY_COUNTRY] = "country",
	[AGG_BY_ASN] = "asn",
	[AGG_BY_PROVIDER] = "provider",
};
_Static_assert(sizeof(agg_by_names) / sizeof(agg_by_names[0]) == AGG_BY_MAX, "agg_by_names must name every agg_by");

const char *agg_by_name(enum agg_by by)
{
	return (unsigned)by < AGG_BY_MAX ? agg_by_names[by] : "?";
}

/* Every counter of struct agg, for init and free. */
#define AGG_CTRS(a)                                                                                              \
	&(a)->scan_ids, &(a)->status, &(a)->starttls, &(a)->base_version, &(a)->base_cipher, &(a)->best_version, \
		&(a)->suites, &(a)->groups, &(a)->grades, &(a)->warnings, &(a)->handshake, &(a)->verify,         \
		&(a)->name_match, &(a)->failures, &(a)->tamper, &(a)->capture, &(a)->mx_status, &(a)->d_tls,     \
		&(a)->d_starttls, &(a)->d_trusted, &(a)->d_nm_mx, &(a)->d_nm_domain, &(a)->d_worst

void agg_init(struct agg *a, enum agg_by by)
{
	struct ctr *all[] = { AGG_CTRS(a) };

	memset(a, 0, sizeof(*a));
	a->by = by;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		ctr_init(all[i]);
	smap_init(&a->bygroups, sizeof(struct agg_group), AGG_MAX_GROUPS);
}

void agg_free(struct agg *a)
{
	struct ctr *all[] = { AGG_CTRS(a) };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		ctr_free(all[i]);
	smap_free(&a->bygroups);
}

static void agg_lower_copy(char *out, size_t n, const char *s, size_t len)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < len && i + 1 < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
	ru_utf8_fix(out);
}

/*
 * Second-level suffixes under which registrations are third-level names
 * (a small built-in excerpt of the Public Suffix List's ICANN section, the
 * ones common in MX names), so mx.example.co.uk groups as example.co.uk,
 * not co.uk. Not the whole list: other multi-label suffixes group by their
 * last two labels.
 */
static const char *const agg_suffix2[] = {
	"ac.uk",  "co.uk",  "gov.uk", "ltd.uk", "me.uk",  "net.uk", "org.uk", "plc.uk", "ac.jp",  "co.jp",  "ne.jp",
	"or.jp",  "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz",  "net.nz", "org.nz", "com.br", "net.br",
	"org.br", "com.cn", "net.cn", "org.cn", "co.in",  "net.in", "org.in", "co.za",  "org.za", "com.mx", "com.ar",
	"com.tr", "co.kr",  "or.kr",  "com.tw", "com.sg", "com.hk", "co.il",  "org.il", "com.ua", "co.id",  "com.my",
};

static int agg_is_suffix2(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(agg_suffix2) / sizeof(agg_suffix2[0]); i++)
		if (strlen(agg_suffix2[i]) == len && strncasecmp(agg_suffix2[i], s, len) == 0)
			return 1;
	return 0;
}

/* "mx1.mail.example.net." -> "example.net", "mx.example.co.uk" -> "example.co.uk": the registered
 * domain, from the last two labels, or three under a suffix of agg_suffix2. */
static void agg_provider(const char *name, size_t len, char *out, size_t n)
{
	size_t end = len, dots = 0, start = 0, dot[3] = { 0, 0, 0 };

	while (end > 0 && name[end - 1] == '.')
		end--;
	for (size_t i = end; i > 0 && dots < 3; i--)
		if (name[i - 1] == '.')
			dot[dots++] = i;
	/* dot[k]: start of the last k+1 labels */
	if (dots >= 2 && agg_is_suffix2(name + dot[1], end - dot[1]))
		start = dots >= 3 ? dot[2] : 0;
	else if (dots >= 2)
		start = dot[1];
	if (end == 0)
		snprintf(out, n, "(no MX name)");
	else
		agg_lower_copy(out, n, name + start, end - start);
}

void agg_host_group(enum agg_by by, const struct jr_val *rec, char *out, size_t n)
{
	const struct jr_val *geo = jr_get(rec, "geo"), *v;

	switch (by) {
	case AGG_BY_PROVIDER:
		v = jr_get(rec, "names");
		v = v && v->type == JR_ARRAY ? v->child : NULL;
		if (v && v->type == JR_STRING)
			agg_provider(v->s, v->len, out, n);
		else
			snprintf(out, n, "(no MX name)");
		return;
	case AGG_BY_COUNTRY:
		v = jr_get(geo, "country");
		if (!jr_str(v))
			v = jr_get(geo, "country_code");
		snprintf(out, n, "%s", jr_str(v) ? jr_str(v) : geo ? "(not in database)" : "(no geo)");
		ru_utf8_fix(out);
		return;
	case AGG_BY_ASN:
		v = jr_get(geo, "asn");
		if (v && v->type == JR_NUMBER && v->is_int) {
			const char *org = jr_str(jr_get(geo, "as_org"));

			snprintf(out, n, "AS%lld%s%s", (long long)v->i, org ? " " : "", org ? org : "");
			ru_utf8_fix(out);
		} else {
			snprintf(out, n, "%s", jr_str(v) ? jr_str(v) : geo ? "(not in database)" : "(no geo)");
			ru_utf8_fix(out);
		}
		return;
	default: snprintf(out, n, "all"); return;
	}
}

static struct agg_group *agg_group(struct agg *a, const char *label)
{
	int created;
	struct agg_group *g = smap_put(&a->bygroups, label, strlen(label), &created);

	return g ? g : &a->by_other;
}

static void agg_host(struct agg *a, const struct jr_val *r)
{
	const struct jr_val *smtp = jr_get(r, "smtp"), *tls = jr_get(r, "tls"), *v, *e;
	const char *status = jr_str(jr_get(r, "status"));
	struct agg_group scratch, *g = &scratch;
	char label[320];

	a->hosts++;
	if (jr_get(r, "geo"))
		a->geo_seen++;
	if (a->by != AGG_BY_NONE) {
		agg_host_group(a->by, r, label, sizeof(label));
		g = agg_group(a, label);
	}
	g->hosts++;
	ctr_add(&a->status, status ? status : "(no status)");
	if (status && strcmp(status, "success") == 0)
		g->success++;

	/* STARTTLS: of STARTTLS-mode hosts whose EHLO (or HELO) reply was read */
	if (jr_streq(jr_get(r, "mode"), "starttls") && jr_get(smtp, "ehlo")) {
		const char *st = jr_str(jr_get(smtp, "starttls"));

		a->ehlo++;
		g->ehlo++;
		ctr_add(&a->starttls, st ? st : "unknown");
		if (st && strcmp(st, "offered") == 0)
			g->starttls_offered++;
	}

	/* the baseline hello */
	v = jr_path(tls, "baseline.version");
	if (jr_str(v)) {
		const char *c = jr_str(jr_path(tls, "baseline.cipher"));

		a->baseline++;
		g->tls++;
		ctr_add(&a->base_version, v->s);
		ctr_add(&a->base_cipher, c ? c : "(no cipher)");
	}

	/* enumerated versions and suites */
	v = jr_get(tls, "versions");
	if (v && v->type == JR_OBJECT) {
		const char *seen[AGG_MAX_SUITES_PER_HOST];
		size_t nseen = 0;
		int best = -1, legacy = 0;

		a->enumerated++;
		g->enumerated++;
		for (int i = 0; i < AGG_NVERS; i++) {
			const struct jr_val *ver = jr_get(v, agg_versions[i]), *ciphers;

			if (!jr_bool(jr_get(ver, "supported"), 0))
				continue;
			a->ver_supported[i]++;
			best = i;
			legacy |= i < 3; /* SSLv3, TLS 1.0, TLS 1.1 */
			ciphers = jr_get(ver, "ciphers");
			for (e = ciphers && ciphers->type == JR_ARRAY ? ciphers->child : NULL; e; e = e->next) {
				const char *name = jr_str(jr_get(e, "name"));
				size_t k;

				if (!name)
					continue;
				/* once per host even when accepted in several versions */
				for (k = 0; k < nseen && strcmp(seen[k], name) != 0; k++)
					;
				if (k < nseen || nseen == AGG_MAX_SUITES_PER_HOST)
					continue;
				seen[nseen++] = name;
				ctr_add(&a->suites, name);
			}
		}
		ctr_add(&a->best_version, best >= 0 ? agg_versions[best] : "none");
		g->tls13 += best == AGG_NVERS - 1;
		g->legacy += (uint64_t)legacy;
	}

	v = jr_get(tls, "groups");
	if (v && v->type == JR_ARRAY) {
		a->groups_hosts++;
		for (e = v->child; e; e = e->next)
			if (e->type == JR_STRING)
				ctr_addn(&a->groups, e->s, e->len, 1);
	}
	v = jr_get(tls, "least_grade");
	if (jr_str(v)) {
		a->graded++;
		g->graded++;
		ctr_add(&a->grades, v->s);
		if (strcmp(v->s, "A") == 0)
			g->grade_a++;
	}
	v = jr_get(tls, "warnings");
	if (v && v->type == JR_ARRAY) {
		a->warn_hosts++;
		if (!v->child)
			ctr_add(&a->warnings, "(no warning)");
		for (e = v->child; e; e = e->next)
			if (e->type == JR_STRING)
				ctr_addn(&a->warnings, e->s, e->len, 1);
	}
	v = jr_get(tls, "handshake");
	if (v && v->type == JR_OBJECT) {
		const char *ver = jr_str(jr_get(v, "version")), *at = jr_str(jr_get(v, "failed_at"));

		a->handshakes++;
		if (jr_bool(jr_get(v, "ok"), 0))
			snprintf(label, sizeof(label), "ok %s", ver ? ver : "");
		else
			snprintf(label, sizeof(label), "failed at %s", at ? at : "?");
		ru_utf8_fix(label);
		ctr_add(&a->handshake, label);
	}
	v = jr_path(tls, "certificate.verify");
	if (v && v->type == JR_OBJECT) {
		const struct jr_val *code = jr_get(v, "code");
		const char *text = jr_str(jr_get(v, "text"));
		int nm = jr_bool(jr_path(tls, "certificate.name_match.mx"), -1);

		a->certs++;
		g->certs++;
		if (code && code->type == JR_NUMBER && code->is_int)
			snprintf(label, sizeof(label), "%lld %s", (long long)code->i, text ? text : "");
		else
			snprintf(label, sizeof(label), "(no code)");
		ru_utf8_fix(label);
		ctr_add(&a->verify, label);
		if (jr_int(code, -1) == 0) {
			a->verify_ok++;
			g->verify_ok++;
		}
		ctr_add(&a->name_match, nm == 1 ? "yes" : nm == 0 ? "no" : "not checked (no MX name)");
	}

	v = jr_get(r, "failure");
	if (v && v->type == JR_OBJECT) {
		const char *stage = jr_str(jr_get(v, "stage")), *reason = jr_str(jr_get(v, "reason"));

		snprintf(label, sizeof(label), "%s: %s", stage ? stage : "?", reason ? reason : "?");
		ru_utf8_fix(label);
		ctr_add(&a->failures, label);
	}
	v = jr_get(smtp, "tampering");
	if (v && v->type == JR_OBJECT && v->child) {
		a->tampered++;
		/* one count per kind of sign (the flat keys); "evidence" repeats them as a list */
		for (e = v->child; e; e = e->next)
			if (!(e->klen == 8 && !memcmp(e->key, "evidence", 8)))
				ctr_addn(&a->tamper, e->key, e->klen, 1);
	}
	v = jr_path(r, "capture.verdict");
	if (v && v->type == JR_STRING) {
		a->captured++;
		ctr_add(&a->capture, jr_str(v));
	}
	v = jr_path(r, "probes.connections");
	if (v && v->type == JR_NUMBER && v->is_int && v->i >= 0) {
		a->conn_hosts++;
		a->conn_total += (uint64_t)v->i;
		if ((uint64_t)v->i > a->conn_max)
			a->conn_max = (uint64_t)v->i;
	}
}

static void agg_domain(struct agg *a, const struct jr_val *r)
{
	const struct jr_val *verdict = jr_get(r, "verdict"), *mx = jr_get(r, "mx");
	const char *st = jr_str(jr_get(r, "mx_status")), *s;
	char label[320];

	a->domains++;
	snprintf(label, sizeof(label), "%s%s", st ? st : "(no mx_status)",
		 jr_bool(jr_get(r, "implicit_mx"), 0) ? " (implicit MX)" : "");
	ru_utf8_fix(label);
	ctr_add(&a->mx_status, label);
	s = jr_str(jr_get(verdict, "tls"));
	ctr_add(&a->d_tls, s ? s : "(not given)");
	s = jr_str(jr_get(verdict, "starttls_offered"));
	ctr_add(&a->d_starttls, s ? s : "(not given)");
	if (jr_int(jr_get(verdict, "hosts_with_certificate"), 0) > 0 || jr_get(verdict, "certificate_trusted")) {
		a->d_certs++;
		s = jr_str(jr_get(verdict, "certificate_trusted"));
		ctr_add(&a->d_trusted, s ? s : "(not given)");
		s = jr_str(jr_get(verdict, "name_match_mx"));
		ctr_add(&a->d_nm_mx, s ? s : "(not given)");
		s = jr_str(jr_get(verdict, "name_match_domain"));
		ctr_add(&a->d_nm_domain, s ? s : "(not given)");
	}
	s = jr_str(jr_get(verdict, "worst_grade"));
	if (s) {
		a->d_graded++;
		ctr_add(&a->d_worst, s);
	}
	if (a->by == AGG_BY_PROVIDER) {
		const struct jr_val *first = mx && mx->type == JR_ARRAY ? mx->child : NULL;
		const char *name = jr_str(jr_get(first, "name"));
		struct agg_group *g;

		if (name)
			agg_provider(name, strlen(name), label, sizeof(label));
		else
			snprintf(label, sizeof(label), "(no MX name)");
		g = agg_group(a, label);
		g->domains++;
		if (jr_streq(jr_get(verdict, "tls"), "all"))
			g->domains_tls_all++;
	}
}

void agg_add(struct agg *a, const struct jr_val *rec)
{
	const struct jr_val *type = jr_get(rec, "type"), *id = jr_get(rec, "scan_id");

	if (!jr_streq(jr_get(rec, "schema"), "1"))
		a->bad_schema++;
	if (jr_str(id))
		ctr_addn(&a->scan_ids, id->s, id->len, 1);
	if (jr_streq(type, "host"))
		agg_host(a, rec);
	else if (jr_streq(type, "domain"))
		agg_domain(a, rec);
	else if (jr_streq(type, "certificate"))
		a->certificates++;
	else if (jr_streq(type, "scan"))
		a->scans++;
	else
		a->other_types++;
}

/* ---- report ---- */

static const char *const agg_grade_order[] = { "A", "B", "C", "D", "E", "F", "?" };
static const char *const agg_verdict_order[] = { "all", "some", "none", "unknown" };

static int rrow_cmp(const void *x, const void *y)
{
	const struct rrow *a = x, *b = y;

	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	return strcmp(a->label, b->label);
}

/* Rows of a counter: those named in order first (in that order, zeros kept), the rest by count. */
static int agg_rows(struct rtab *t, const struct ctr *c, const char *const *order, size_t norder)
{
	size_t n = 0, fixed = 0;

	t->rows = calloc(c->m.n + norder + 1, sizeof(*t->rows));
	if (!t->rows)
		return -1;
	for (size_t i = 0; i < norder; i++) {
		t->rows[n].label = order[i];
		t->rows[n++].n = ctr_get(c, order[i]);
	}
	fixed = n;
	for (size_t i = 0; i < c->m.n; i++) {
		size_t k;

		for (k = 0; k < norder && strcmp(order[k], smap_key(&c->m, i)) != 0; k++)
			;
		if (k < norder)
			continue;
		t->rows[n].label = smap_key(&c->m, i);
		t->rows[n++].n = *(uint64_t *)smap_val(&c->m, i);
	}
	qsort(t->rows + fixed, n - fixed, sizeof(*t->rows), rrow_cmp);
	if (c->overflow) {
		t->rows[n].label = "(other labels, past the cap)";
		t->rows[n++].n = c->overflow;
	}
	t->nrows = n;
	return 0;
}

struct agg_tabdef {
	const char *id, *title, *of;
	size_t denom_off; /* offset of the uint64_t denominator in struct agg */
	size_t ctr_off;   /* offset of the counter, or SIZE_MAX for the versions table */
	int multi;
	const char *const *order;
	size_t norder;
	const char *note;
};

#define A_OFF(f)     offsetof(struct agg, f)
#define ORDER(arr)   arr, sizeof(arr) / sizeof(arr[0])
#define NO_ORDER     NULL, 0
#define VERSIONS_TAB SIZE_MAX

static const char *const agg_starttls_order[] = { "offered", "absent", "stripped" };
static const char *const agg_capture_order[] = { "reset.injected_suspected", "reset.by_server", "no-reset",
						 "no-syn-ack-seen", "not-tracked" };

static const struct agg_tabdef agg_tabdefs[] = {
	{ "status", "hosts by status", "hosts", A_OFF(hosts), A_OFF(status), 0, NO_ORDER, NULL },
	{ "starttls", "STARTTLS in the EHLO reply", "STARTTLS-mode hosts that answered EHLO", A_OFF(ehlo),
	  A_OFF(starttls), 0, ORDER(agg_starttls_order),
	  "stripped: a STARTTLS-shaped token masked by a middlebox stood in its place" },
	{ "versions_supported", "TLS versions supported", "hosts whose versions were enumerated", A_OFF(enumerated),
	  VERSIONS_TAB, 1, NO_ORDER, "a host counts once per version it accepts" },
	{ "best_version", "best TLS version supported", "hosts whose versions were enumerated", A_OFF(enumerated),
	  A_OFF(best_version), 0, NO_ORDER, NULL },
	{ "baseline_version", "TLS version picked for the baseline hello", "hosts that answered it with a ServerHello",
	  A_OFF(baseline), A_OFF(base_version), 0, NO_ORDER, NULL },
	{ "baseline_cipher", "cipher suite picked for the baseline hello", "hosts that answered it with a ServerHello",
	  A_OFF(baseline), A_OFF(base_cipher), 0, NO_ORDER, NULL },
	{ "suites", "cipher suites accepted (any version)", "hosts whose versions were enumerated", A_OFF(enumerated),
	  A_OFF(suites), 1, NO_ORDER, "a host counts once per suite it accepts" },
	{ "groups", "key-exchange groups accepted", "hosts with groups enumerated", A_OFF(groups_hosts), A_OFF(groups),
	  1, NO_ORDER, NULL },
	{ "least_grade", "least grade (nmap's least strength)", "graded hosts", A_OFF(graded), A_OFF(grades), 0,
	  ORDER(agg_grade_order), NULL },
	{ "warnings", "warnings", "hosts with warnings computed", A_OFF(warn_hosts), A_OFF(warnings), 1, NO_ORDER,
	  "a host counts once per warning" },
	{ "handshake", "full handshake (wolfSSL, as a sending MTA)", "hosts where it was tried", A_OFF(handshakes),
	  A_OFF(handshake), 0, NO_ORDER, NULL },
	{ "verify", "certificate verification (OpenSSL verify code)", "hosts with a certificate chain", A_OFF(certs),
	  A_OFF(verify), 0, NO_ORDER, NULL },
	{ "name_match_mx", "leaf certificate matches the MX name", "hosts with a certificate chain", A_OFF(certs),
	  A_OFF(name_match), 0, NO_ORDER, NULL },
	{ "failures", "failures (stage: reason)", "hosts", A_OFF(hosts), A_OFF(failures), 0, NO_ORDER, NULL },
	{ "tampering", "tampering evidence in the SMTP dialogue", "hosts", A_OFF(hosts), A_OFF(tamper), 1, NO_ORDER,
	  "a host counts once per kind of evidence" },
	{ "capture", "reset verdict from the packets (--capture)", "hosts followed by the capture", A_OFF(captured),
	  A_OFF(capture), 0, ORDER(agg_capture_order),
	  "reset.injected_suspected: a RST that a device on the path likely forged (see the record's capture.reasons)" },
	{ "domain_mx_status", "domains: MX lookup", "domains", A_OFF(domains), A_OFF(mx_status), 0, NO_ORDER, NULL },
	{ "domain_tls", "domains: their MX hosts answer TLS", "domains", A_OFF(domains), A_OFF(d_tls), 0,
	  ORDER(agg_verdict_order), NULL },
	{ "domain_starttls", "domains: their MX hosts offer STARTTLS", "domains", A_OFF(domains), A_OFF(d_starttls), 0,
	  ORDER(agg_verdict_order), NULL },
	{ "domain_trusted", "domains: certificates trusted", "domains with certificates", A_OFF(d_certs),
	  A_OFF(d_trusted), 0, NO_ORDER, NULL },
	{ "domain_name_match_mx", "domains: leaf matches the MX name", "domains with certificates", A_OFF(d_certs),
	  A_OFF(d_nm_mx), 0, NO_ORDER, NULL },
	{ "domain_name_match_domain", "domains: leaf matches the recipient domain (RFC 6125)",
	  "domains with certificates", A_OFF(d_certs), A_OFF(d_nm_domain), 0, NO_ORDER, NULL },
	{ "domain_worst_grade", "domains: worst grade among their MX hosts", "graded domains", A_OFF(d_graded),
	  A_OFF(d_worst), 0, ORDER(agg_grade_order), NULL },
};

#define G_OFF(f) offsetof(struct agg_group, f)

static const struct rcol agg_cols[] = {
	{ "hosts", "hosts", G_OFF(hosts), G_OFF(hosts) },
	{ "success", "success", G_OFF(success), G_OFF(hosts) },
	{ "starttls_offered", "STARTTLS offered", G_OFF(starttls_offered), G_OFF(ehlo) },
	{ "tls", "answered TLS", G_OFF(tls), G_OFF(hosts) },
	{ "tls13", "TLS 1.3", G_OFF(tls13), G_OFF(enumerated) },
	{ "legacy", "TLS <= 1.1 accepted", G_OFF(legacy), G_OFF(enumerated) },
	{ "grade_a", "least grade A", G_OFF(grade_a), G_OFF(graded) },
	{ "verify_ok", "chain verifies", G_OFF(verify_ok), G_OFF(certs) },
	/* the last two columns must stay the domain ones (dropped for country and asn) */
	{ "domains", "domains", G_OFF(domains), G_OFF(domains) },
	{ "domains_tls_all", "domains all MX TLS", G_OFF(domains_tls_all), G_OFF(domains) },
};

static int rgroup_cmp(const void *x, const void *y)
{
	const struct rgroup *a = x, *b = y;
	uint64_t na = a->g->hosts + a->g->domains, nb = b->g->hosts + b->g->domains;

	if (na != nb)
		return na > nb ? -1 : 1;
	return strcmp(a->label, b->label);
}

int agg_report(const struct agg *a, const struct rin_stats *in, const char *const *files, int nfiles, struct report *r)
{
	size_t ndefs = sizeof(agg_tabdefs) / sizeof(agg_tabdefs[0]);

	memset(r, 0, sizeof(*r));
	r->files = files;
	r->nfiles = nfiles;
	r->in = *in;
	r->agg = a;
	r->by = a->by;
	r->tabs = calloc(ndefs, sizeof(*r->tabs));
	if (!r->tabs)
		return -1;
	for (size_t i = 0; i < ndefs; i++) {
		const struct agg_tabdef *d = &agg_tabdefs[i];
		struct rtab *t = &r->tabs[r->ntabs++];

		t->id = d->id;
		t->title = d->title;
		t->of = d->of;
		t->note = d->note;
		t->multi = d->multi;
		t->denom = *(const uint64_t *)((const char *)a + d->denom_off);
		if (d->ctr_off == VERSIONS_TAB) {
			t->rows = calloc(AGG_NVERS, sizeof(*t->rows));
			if (!t->rows)
				return -1;
			for (int v = AGG_NVERS - 1; v >= 0; v--) {
				t->rows[t->nrows].label = agg_versions[v];
				t->rows[t->nrows++].n = a->ver_supported[v];
			}
		} else if (agg_rows(t, (const struct ctr *)((const char *)a + d->ctr_off), d->order, d->norder) < 0) {
			return -1;
		}
	}
	if (a->by == AGG_BY_NONE)
		return 0;
	if ((a->by == AGG_BY_COUNTRY || a->by == AGG_BY_ASN) && !a->geo_seen)
		r->by_note = "no geo data in records (scan with mxscan --geoip/--asn-db, or give mxreport "
			     "--geoip/--asn-db), so every host is in one group";
	else if (a->by == AGG_BY_PROVIDER)
		r->by_note =
			"provider = the registered domain of the first MX name (last two labels; three under "
			"a built-in list of multi-label suffixes like co.uk, not the whole Public Suffix List); hosts "
			"scanned by IP have no MX name";
	r->cols = agg_cols;
	r->ncols = sizeof(agg_cols) / sizeof(agg_cols[0]);
	if (a->by != AGG_BY_PROVIDER)
		r->ncols -= 2; /* domains are grouped by their MX name only: no country or AS of their own */
	r->groups = calloc(a->bygroups.n + 1, sizeof(*r->groups));
	if (!r->groups)
		return -1;
	for (size_t i = 0; i < a->bygroups.n; i++) {
		r->groups[r->ngroups].label = smap_key(&a->bygroups, i);
		r->groups[r->ngroups++].g = smap_val(&a->bygroups, i);
	}
	qsort(r->groups, r->ngroups, sizeof(*r->groups), rgroup_cmp);
	if (a->by_other.hosts || a->by_other.domains) {
		r->groups[r->ngroups].label = "(other groups, past the cap)";
		r->groups[r->ngroups++].g = &a->by_other;
	}
	return 0;
}

void report_free(struct report *r)
{
	for (size_t i = 0; i < r->ntabs; i++)
		free(r->tabs[i].rows);
	free(r->tabs);
	free(r->groups);
	memset(r, 0, sizeof(*r));
}

const struct rtab *report_table(const struct report *r, const char *id)
{
	for (size_t i = 0; i < r->ntabs; i++)
		if (strcmp(r->tabs[i].id, id) == 0)
			return &r->tabs[i];
	return NULL;
}

uint64_t report_count(const struct report *r, const char *id, const char *label)
{
	const struct rtab *t = report_table(r, id);

	for (size_t i = 0; t && i < t->nrows; i++)
		if (strcmp(t->rows[i].label, label) == 0)
			return t->rows[i].n;
	return 0;
}
