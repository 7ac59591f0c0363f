/*
 * diff: per-host, per-domain and aggregate differences between two scans
 * (see diff.h).
 *
 * A key's summary packs every compared field into a few bytes: enumerated
 * strings become indexes into the schema's vocabularies (0 = field absent,
 * DIFF_OTHER = a value outside the vocabulary), the versions supported a
 * bit mask, the verify code an int. Two summaries are equal exactly when
 * nothing the report compares changed. Keys are listed in version order
 * (strverscmp), so 127.0.0.2 comes before 127.0.0.10.
 */
#include "diff.h"
#include "mxscan/json.h"
#include "rutil.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define DIFF_OTHER   255
#define DIFF_ENUM    0x80 /* versions: the record had a versions object */
#define DIFF_NO_CODE INT32_MIN

static const char *const diff_status_v[] = { "success",           "connection-refused", "connection-timeout",
					     "connection-closed", "io-timeout",         "protocol-error",
					     "application-error", "unknown-error" };
static const char *const diff_starttls_v[] = { "offered", "absent", "stripped", "unknown" };
static const char *const diff_mx_v[] = { "ok",       "nxdomain", "nodata",  "null-mx",
					 "servfail", "refused",  "timeout", "error" };
static const char *const diff_verdict_v[] = { "all", "some", "none", "unknown" };

struct dhost {
	uint8_t present, status, starttls, versions;
	char grade;
	int32_t verify;
};

struct ddom {
	uint8_t present, mx_status, tls, starttls, trusted, nm_domain;
	char worst;
};

struct dpair_host {
	struct dhost s[2];
};

struct dpair_dom {
	struct ddom s[2];
};

#define NV(arr) arr, sizeof(arr) / sizeof(arr[0])

static uint8_t diff_idx(const struct jr_val *v, const char *const *vocab, size_t n)
{
	if (!v)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (jr_streq(v, vocab[i]))
			return (uint8_t)(i + 1);
	return DIFF_OTHER;
}

static const char *diff_name(uint8_t i, const char *const *vocab, size_t n)
{
	if (i == 0)
		return NULL;
	if (i == DIFF_OTHER || i > n)
		return "(other)";
	return vocab[i - 1];
}

void diff_init(struct diff *d)
{
	memset(d, 0, sizeof(*d));
	smap_init(&d->hosts, sizeof(struct dpair_host), 0);
	smap_init(&d->domains, sizeof(struct dpair_dom), 0);
	agg_init(&d->side[0].agg, AGG_BY_NONE);
	agg_init(&d->side[1].agg, AGG_BY_NONE);
}

void diff_free(struct diff *d)
{
	smap_free(&d->hosts);
	smap_free(&d->domains);
	agg_free(&d->side[0].agg);
	agg_free(&d->side[1].agg);
}

static void diff_host(struct diff *d, const struct jr_val *r)
{
	const char *ip = jr_str(jr_get(r, "ip")), *input = jr_str(jr_get(r, "input"));
	const struct jr_val *tls = jr_get(r, "tls"), *v;
	struct dpair_host *p;
	struct dhost *h;
	char key[300];
	int created;

	if (ip)
		snprintf(key, sizeof(key), strchr(ip, ':') ? "[%s]:%lld" : "%s:%lld", ip,
			 (long long)jr_int(jr_get(r, "port"), 0));
	else
		snprintf(key, sizeof(key), "unresolved:%s", input ? input : "?");
	ru_utf8_fix(key);
	p = smap_put(&d->hosts, key, strlen(key), &created);
	if (!p) {
		d->oom = 1;
		return;
	}
	h = &p->s[d->cur];
	if (h->present)
		d->side[d->cur].dup_hosts++;
	memset(h, 0, sizeof(*h));
	h->present = 1;
	h->status = diff_idx(jr_get(r, "status"), NV(diff_status_v));
	h->starttls = diff_idx(jr_path(r, "smtp.starttls"), NV(diff_starttls_v));
	v = jr_get(tls, "versions");
	if (v && v->type == JR_OBJECT) {
		h->versions = DIFF_ENUM;
		for (int i = 0; i < AGG_NVERS; i++)
			if (jr_bool(jr_get(jr_get(v, agg_versions[i]), "supported"), 0))
				h->versions |= (uint8_t)(1u << i);
	}
	v = jr_get(tls, "least_grade");
	h->grade = jr_str(v) && v->len == 1 ? v->s[0] : jr_str(v) ? '*' : 0;
	v = jr_path(tls, "certificate.verify.code");
	h->verify = v && v->type == JR_NUMBER && v->is_int && v->i > INT32_MIN && v->i <= INT32_MAX ? (int32_t)v->i
												    : DIFF_NO_CODE;
}

static void diff_domain(struct diff *d, const struct jr_val *r)
{
	const struct jr_val *name = jr_get(r, "domain"), *verdict = jr_get(r, "verdict"), *v;
	struct dpair_dom *p;
	struct ddom *m;
	int created;

	if (!jr_str(name))
		return;
	p = smap_put(&d->domains, name->s, name->len, &created);
	if (!p) {
		d->oom = 1;
		return;
	}
	m = &p->s[d->cur];
	if (m->present)
		d->side[d->cur].dup_domains++;
	memset(m, 0, sizeof(*m));
	m->present = 1;
	m->mx_status = diff_idx(jr_get(r, "mx_status"), NV(diff_mx_v));
	m->tls = diff_idx(jr_get(verdict, "tls"), NV(diff_verdict_v));
	m->starttls = diff_idx(jr_get(verdict, "starttls_offered"), NV(diff_verdict_v));
	m->trusted = diff_idx(jr_get(verdict, "certificate_trusted"), NV(diff_verdict_v));
	m->nm_domain = diff_idx(jr_get(verdict, "name_match_domain"), NV(diff_verdict_v));
	v = jr_get(verdict, "worst_grade");
	m->worst = jr_str(v) && v->len == 1 ? v->s[0] : jr_str(v) ? '*' : 0;
}

static int diff_cb(void *ctx, const struct jr_val *rec, const char *file, uint64_t line)
{
	struct diff *d = ctx;
	const struct jr_val *type = jr_get(rec, "type");

	(void)file;
	(void)line;
	agg_add(&d->side[d->cur].agg, rec);
	if (jr_streq(type, "host"))
		diff_host(d, rec);
	else if (jr_streq(type, "domain"))
		diff_domain(d, rec);
	return d->oom ? -1 : 0;
}

int diff_read(struct diff *d, const char *old_file, const char *new_file)
{
	const char *files[2] = { old_file, new_file };

	for (int i = 0; i < 2; i++) {
		d->cur = i;
		d->side[i].file = files[i];
		if (rin_read(&files[i], 1, diff_cb, d, &d->side[i].in) != 0)
			return -1;
	}
	return 0;
}

/* ---- output ---- */

enum diff_field {
	DF_STATUS,
	DF_STARTTLS,
	DF_VERSIONS,
	DF_GRADE,
	DF_VERIFY,
	DF_MX,
	DF_TLS,
	DF_DSTARTTLS,
	DF_TRUSTED,
	DF_NMDOMAIN,
	DF_WORST,
	DF_MAX
};

static const char *const diff_field_names[] = {
	[DF_STATUS] = "status",
	[DF_STARTTLS] = "starttls",
	[DF_VERSIONS] = "versions",
	[DF_GRADE] = "least_grade",
	[DF_VERIFY] = "verify_code",
	[DF_MX] = "mx_status",
	[DF_TLS] = "tls",
	[DF_DSTARTTLS] = "starttls_offered",
	[DF_TRUSTED] = "certificate_trusted",
	[DF_NMDOMAIN] = "name_match_domain",
	[DF_WORST] = "worst_grade",
};
_Static_assert(sizeof(diff_field_names) / sizeof(diff_field_names[0]) == DF_MAX,
	       "diff_field_names must name every diff_field");

/* The field's value as text ("" when absent: printed as "-"). */
static void diff_fmt(enum diff_field f, const struct dhost *h, const struct ddom *m, char *out, size_t n)
{
	const char *s = NULL;

	out[0] = '\0';
	switch (f) {
	case DF_STATUS: s = diff_name(h->status, NV(diff_status_v)); break;
	case DF_STARTTLS: s = diff_name(h->starttls, NV(diff_starttls_v)); break;
	case DF_VERSIONS:
		if (!(h->versions & DIFF_ENUM))
			return;
		for (int i = AGG_NVERS - 1; i >= 0; i--)
			if (h->versions & (1u << i))
				snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? "," : "",
					 agg_versions[i]);
		if (!out[0])
			snprintf(out, n, "none");
		return;
	case DF_GRADE:
		if (h->grade)
			snprintf(out, n, "%c", h->grade);
		return;
	case DF_VERIFY:
		if (h->verify != DIFF_NO_CODE)
			snprintf(out, n, "%d", (int)h->verify);
		return;
	case DF_MX: s = diff_name(m->mx_status, NV(diff_mx_v)); break;
	case DF_TLS: s = diff_name(m->tls, NV(diff_verdict_v)); break;
	case DF_DSTARTTLS: s = diff_name(m->starttls, NV(diff_verdict_v)); break;
	case DF_TRUSTED: s = diff_name(m->trusted, NV(diff_verdict_v)); break;
	case DF_NMDOMAIN: s = diff_name(m->nm_domain, NV(diff_verdict_v)); break;
	case DF_WORST:
		if (m->worst)
			snprintf(out, n, "%c", m->worst);
		return;
	default: break;
	}
	if (s)
		snprintf(out, n, "%s", s);
}

struct diff_list {
	const struct smap *m;
	size_t *idx;
	size_t n;
};

static const struct smap *diff_sort_map;

static int diff_key_cmp(const void *x, const void *y)
{
	return strverscmp(smap_key(diff_sort_map, *(const size_t *)x), smap_key(diff_sort_map, *(const size_t *)y));
}

static int diff_sorted(const struct smap *m, size_t **out)
{
	size_t *idx = malloc((m->n ? m->n : 1) * sizeof(*idx));

	if (!idx)
		return -1;
	for (size_t i = 0; i < m->n; i++)
		idx[i] = i;
	diff_sort_map = m;
	qsort(idx, m->n, sizeof(*idx), diff_key_cmp);
	*out = idx;
	return 0;
}

struct diff_kind {
	const char *name; /* "hosts" or "domains" */
	const struct smap *m;
	int host;
	enum diff_field first, last;
};

static void diff_entry(const struct diff_kind *k, size_t i, const struct dhost **h, const struct ddom **m)
{
	if (k->host) {
		const struct dpair_host *p = smap_val(k->m, i);

		h[0] = &p->s[0];
		h[1] = &p->s[1];
		m[0] = m[1] = NULL;
	} else {
		const struct dpair_dom *p = smap_val(k->m, i);

		m[0] = &p->s[0];
		m[1] = &p->s[1];
		h[0] = h[1] = NULL;
	}
}

static int diff_present(const struct diff_kind *k, const struct dhost *const *h, const struct ddom *const *m, int s)
{
	return k->host ? h[s]->present : m[s]->present;
}

struct diff_counts {
	uint64_t n[2], appeared, disappeared, changed, unchanged;
};

static void diff_count(const struct diff_kind *k, const size_t *idx, struct diff_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t j = 0; j < k->m->n; j++) {
		const struct dhost *h[2];
		const struct ddom *m[2];
		int p0, p1;

		diff_entry(k, idx[j], h, m);
		p0 = diff_present(k, h, m, 0);
		p1 = diff_present(k, h, m, 1);
		c->n[0] += (uint64_t)p0;
		c->n[1] += (uint64_t)p1;
		if (p0 && !p1)
			c->disappeared++;
		else if (!p0 && p1)
			c->appeared++;
		else if (k->host ? memcmp(h[0], h[1], sizeof(*h[0])) != 0 : memcmp(m[0], m[1], sizeof(*m[0])) != 0)
			c->changed++;
		else
			c->unchanged++;
	}
}

/* ---- aggregate metrics: n of d on each side ---- */

struct diff_metric {
	const char *name, *of;
	uint64_t n[2], d[2];
	int count_only;
};

static size_t diff_metrics(const struct diff *d, struct diff_metric *out, size_t max)
{
	size_t k = 0;

#define METRIC(nm, ofs, nexpr, dexpr, co)                               \
	do {                                                            \
		if (k < max) {                                          \
			out[k].name = nm;                               \
			out[k].of = ofs;                                \
			out[k].count_only = co;                         \
			for (int s_ = 0; s_ < 2; s_++) {                \
				const struct agg *a = &d->side[s_].agg; \
				out[k].n[s_] = (nexpr);                 \
				out[k].d[s_] = (dexpr);                 \
			}                                               \
			k++;                                            \
		}                                                       \
	} while (0)
	METRIC("host records", "", a->hosts, 0, 1);
	METRIC("domain records", "", a->domains, 0, 1);
	METRIC("status success", "hosts", ctr_get(&a->status, "success"), a->hosts, 0);
	METRIC("STARTTLS offered", "STARTTLS-mode hosts that answered EHLO", ctr_get(&a->starttls, "offered"), a->ehlo,
	       0);
	METRIC("STARTTLS stripped", "STARTTLS-mode hosts that answered EHLO", ctr_get(&a->starttls, "stripped"),
	       a->ehlo, 0);
	METRIC("answered the baseline hello", "hosts", a->baseline, a->hosts, 0);
	METRIC("TLS 1.3 supported", "hosts enumerated", a->ver_supported[4], a->enumerated, 0);
	METRIC("TLS 1.2 supported", "hosts enumerated", a->ver_supported[3], a->enumerated, 0);
	METRIC("TLS 1.1 supported", "hosts enumerated", a->ver_supported[2], a->enumerated, 0);
	METRIC("TLS 1.0 supported", "hosts enumerated", a->ver_supported[1], a->enumerated, 0);
	METRIC("SSLv3 supported", "hosts enumerated", a->ver_supported[0], a->enumerated, 0);
	METRIC("least grade A", "graded hosts", ctr_get(&a->grades, "A"), a->graded, 0);
	METRIC("certificate chain verifies (code 0)", "hosts with a chain", a->verify_ok, a->certs, 0);
	METRIC("tampering evidence", "hosts", a->tampered, a->hosts, 0);
	METRIC("domains: all MX answer TLS", "domains", ctr_get(&a->d_tls, "all"), a->domains, 0);
	METRIC("domains: all MX offer STARTTLS", "domains", ctr_get(&a->d_starttls, "all"), a->domains, 0);
#undef METRIC
	return k;
}

#define DIFF_NMETRICS 24

/* ---- text ---- */

static void diff_text_key(FILE *out, const char *key)
{
	ru_text(out, key, strlen(key), 0);
}

static void diff_text_kind(FILE *out, const struct diff_kind *k, const size_t *idx)
{
	struct diff_counts c;

	diff_count(k, idx, &c);
	fprintf(out,
		"\n%s: %" PRIu64 " old, %" PRIu64 " new: %" PRIu64 " appeared, %" PRIu64 " disappeared, %" PRIu64
		" changed, %" PRIu64 " unchanged\n",
		k->name, c.n[0], c.n[1], c.appeared, c.disappeared, c.changed, c.unchanged);
	for (size_t j = 0; j < k->m->n; j++) {
		const struct dhost *h[2];
		const struct ddom *m[2];
		const char *key = smap_key(k->m, idx[j]);
		char a[64], b[64];
		int p0, p1, first = 1;

		diff_entry(k, idx[j], h, m);
		p0 = diff_present(k, h, m, 0);
		p1 = diff_present(k, h, m, 1);
		if (p0 != p1) {
			int s = p1;

			fputs(p1 ? "  + appeared    " : "  - disappeared ", out);
			diff_text_key(out, key);
			diff_fmt(k->host ? DF_STATUS : DF_MX, h[s], m[s], a, sizeof(a));
			fprintf(out, " (%s %s)\n", p1 ? "now" : "was", a[0] ? a : "-");
			continue;
		}
		for (enum diff_field f = k->first; f <= k->last; f++) {
			diff_fmt(f, h[0], m[0], a, sizeof(a));
			diff_fmt(f, h[1], m[1], b, sizeof(b));
			if (strcmp(a, b) == 0)
				continue;
			if (first) {
				fputs("  ~ changed     ", out);
				diff_text_key(out, key);
				fputs(":", out);
			}
			fprintf(out, "%s %s %s -> %s", first ? "" : ";", diff_field_names[f], a[0] ? a : "-",
				b[0] ? b : "-");
			first = 0;
		}
		if (!first)
			fputc('\n', out);
	}
}

static void diff_text_side(FILE *out, const char *name, const struct diff_side *s)
{
	fputs(name, out);
	ru_text(out, s->file, strlen(s->file), 0);
	fprintf(out,
		": %" PRIu64 " records (%" PRIu64 " host, %" PRIu64 " domain), %" PRIu64 " malformed lines skipped",
		s->in.records, s->agg.hosts, s->agg.domains, s->in.malformed);
	if (s->dup_hosts || s->dup_domains)
		fprintf(out, ", %" PRIu64 " repeated hosts and %" PRIu64 " repeated domains (last record kept)",
			s->dup_hosts, s->dup_domains);
	fputc('\n', out);
}

static int diff_text(FILE *out, const struct diff *d, const struct diff_kind *kinds, size_t *const *idx)
{
	struct diff_metric mt[DIFF_NMETRICS];
	size_t nm = diff_metrics(d, mt, DIFF_NMETRICS);

	fputs("mxreport diff ('-': the field is absent from the record)\n\n", out);
	diff_text_side(out, "old ", &d->side[0]);
	diff_text_side(out, "new ", &d->side[1]);
	for (int k = 0; k < 2; k++)
		diff_text_kind(out, &kinds[k], idx[k]);
	fputs("\naggregates, old -> new (each share with its denominator):\n", out);
	for (size_t i = 0; i < nm; i++) {
		const struct diff_metric *x = &mt[i];

		if (x->count_only) {
			fprintf(out, "  %-38s %" PRIu64 " -> %" PRIu64 "\n", x->name, x->n[0], x->n[1]);
			continue;
		}
		if (x->d[0] == 0 && x->d[1] == 0)
			continue;
		fprintf(out, "  %-38s ", x->name);
		for (int s = 0; s < 2; s++) {
			if (x->d[s])
				fprintf(out, "%5.1f%% (%" PRIu64 "/%" PRIu64 ")", ru_pct(x->n[s], x->d[s]), x->n[s],
					x->d[s]);
			else
				fputs("    n/a (0/0)", out);
			fputs(s ? "" : " -> ", out);
		}
		if (x->d[0] && x->d[1])
			fprintf(out, "  %+.1f pts", ru_pct(x->n[1], x->d[1]) - ru_pct(x->n[0], x->d[0]));
		fprintf(out, "  of %s\n", x->of);
	}
	return ferror(out) ? -1 : 0;
}

/* ---- JSON ---- */

static void diff_json_value(struct jbuf *jb, const char *key, enum diff_field f, const struct dhost *h,
			    const struct ddom *m)
{
	char v[64];

	diff_fmt(f, h, m, v, sizeof(v));
	if (!v[0]) {
		jb_null(jb, key);
	} else if (f == DF_VERIFY) {
		jb_int(jb, key, h->verify);
	} else if (f == DF_VERSIONS) {
		jb_arr_open(jb, key);
		for (int i = AGG_NVERS - 1; i >= 0; i--)
			if (h->versions & (1u << i))
				jb_str(jb, NULL, agg_versions[i]);
		jb_arr_close(jb);
	} else {
		jb_str(jb, key, v);
	}
}

static void diff_json_kind(struct jbuf *jb, const struct diff_kind *k, const size_t *idx)
{
	struct diff_counts c;
	static const char *const lists[] = { "appeared", "disappeared", "changed" };

	diff_count(k, idx, &c);
	jb_obj_open(jb, k->name);
	jb_uint(jb, "old", c.n[0]);
	jb_uint(jb, "new", c.n[1]);
	jb_uint(jb, "unchanged", c.unchanged);
	for (int l = 0; l < 3; l++) {
		jb_arr_open(jb, lists[l]);
		for (size_t j = 0; j < k->m->n; j++) {
			const struct dhost *h[2];
			const struct ddom *m[2];
			const char *key = smap_key(k->m, idx[j]);
			char a[64], b[64];
			int p0, p1, opened = 0;

			diff_entry(k, idx[j], h, m);
			p0 = diff_present(k, h, m, 0);
			p1 = diff_present(k, h, m, 1);
			if ((l == 0 && !(p1 && !p0)) || (l == 1 && !(p0 && !p1)) || (l == 2 && !(p0 && p1)))
				continue;
			if (l < 2) {
				int s = l == 0;

				jb_obj_open(jb, NULL);
				jb_str(jb, "key", key);
				for (enum diff_field f = k->first; f <= k->last; f++)
					diff_json_value(jb, diff_field_names[f], f, h[s], m[s]);
				jb_obj_close(jb);
				continue;
			}
			for (enum diff_field f = k->first; f <= k->last; f++) {
				diff_fmt(f, h[0], m[0], a, sizeof(a));
				diff_fmt(f, h[1], m[1], b, sizeof(b));
				if (strcmp(a, b) == 0)
					continue;
				if (!opened) {
					jb_obj_open(jb, NULL);
					jb_str(jb, "key", key);
					jb_obj_open(jb, "changes");
					opened = 1;
				}
				jb_obj_open(jb, diff_field_names[f]);
				diff_json_value(jb, "old", f, h[0], m[0]);
				diff_json_value(jb, "new", f, h[1], m[1]);
				jb_obj_close(jb);
			}
			if (opened) {
				jb_obj_close(jb);
				jb_obj_close(jb);
			}
		}
		jb_arr_close(jb);
	}
	jb_obj_close(jb);
}

static int diff_json(FILE *out, const struct diff *d, const struct diff_kind *kinds, size_t *const *idx)
{
	struct diff_metric mt[DIFF_NMETRICS];
	size_t nm = diff_metrics(d, mt, DIFF_NMETRICS);
	struct jbuf jb;
	int rc = 0;

	jb_init(&jb);
	jb_obj_open(&jb, NULL);
	jb_str(&jb, "report", "mxreport diff");
	for (int s = 0; s < 2; s++) {
		const struct diff_side *sd = &d->side[s];

		jb_obj_open(&jb, s ? "new" : "old");
		jb_str(&jb, "file", sd->file);
		jb_uint(&jb, "records", sd->in.records);
		jb_uint(&jb, "malformed_lines", sd->in.malformed);
		jb_uint(&jb, "repeated_hosts", sd->dup_hosts);
		jb_uint(&jb, "repeated_domains", sd->dup_domains);
		jb_obj_close(&jb);
	}
	for (int k = 0; k < 2; k++)
		diff_json_kind(&jb, &kinds[k], idx[k]);
	jb_arr_open(&jb, "aggregates");
	for (size_t i = 0; i < nm; i++) {
		jb_obj_open(&jb, NULL);
		jb_str(&jb, "metric", mt[i].name);
		if (!mt[i].count_only)
			jb_str(&jb, "of", mt[i].of);
		for (int s = 0; s < 2; s++) {
			jb_obj_open(&jb, s ? "new" : "old");
			jb_uint(&jb, "count", mt[i].n[s]);
			if (!mt[i].count_only)
				jb_uint(&jb, "of", mt[i].d[s]);
			jb_obj_close(&jb);
		}
		jb_obj_close(&jb);
	}
	jb_arr_close(&jb);
	jb_obj_close(&jb);
	if (!jb_done(&jb)) {
		fprintf(stderr, "mxreport: cannot build the JSON diff: %s\n", jb_err_name(jb_error(&jb)));
		rc = -1;
	} else if (fwrite(jb.buf, 1, jb.len, out) != jb.len || fputc('\n', out) == EOF) {
		rc = -1;
	}
	jb_free(&jb);
	return rc;
}

int diff_write(FILE *out, const struct diff *d, int json)
{
	const struct diff_kind kinds[2] = {
		{ "hosts", &d->hosts, 1, DF_STATUS, DF_VERIFY },
		{ "domains", &d->domains, 0, DF_MX, DF_WORST },
	};
	size_t *idx[2] = { NULL, NULL };
	int rc = -1;

	if (diff_sorted(&d->hosts, &idx[0]) < 0 || diff_sorted(&d->domains, &idx[1]) < 0) {
		fprintf(stderr, "mxreport: out of memory\n");
		goto out;
	}
	rc = json ? diff_json(out, d, kinds, idx) : diff_text(out, d, kinds, idx);
out:
	free(idx[0]);
	free(idx[1]);
	return rc;
}
