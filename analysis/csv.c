/*
 * csv: flat CSV rows from records (see csv.h).
 *
 * A cell is built in a growable buffer (values of all the elements a path
 * reaches, joined with ';') and then written with RFC 4180 quoting. Values
 * that are objects or nested arrays are re-serialised with the JSON writer,
 * which escapes them as the scanner does; NUL bytes a record may hold in a
 * string (\u0000) become U+FFFD, since CSV readers stop at NUL.
 */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *type, *fields;
} csv_defaults[] = {
	{ "host", "ip,port,mode,names,status,failure.stage,failure.reason,smtp.starttls,tls.baseline.version,"
		  "tls.baseline.cipher,tls.least_grade,tls.warnings,tls.certificate.verify.code,"
		  "tls.certificate.name_match.mx,probes.connections,geo.country,geo.asn" },
	{ "domain", "domain,rank,mx_status,implicit_mx,mx.name,mx.hosts,verdict.hosts_scanned,verdict.tls,"
		    "verdict.starttls_offered,verdict.worst_grade,verdict.certificate_trusted,"
		    "verdict.name_match_domain" },
	{ "certificate", "sha256,scan_id" },
	{ "scan", "scan_id,event,time,targets,done,bad_lines,blocked" },
};

const char *csv_default_fields(const char *type)
{
	for (size_t i = 0; i < sizeof(csv_defaults) / sizeof(csv_defaults[0]); i++)
		if (strcmp(csv_defaults[i].type, type) == 0)
			return csv_defaults[i].fields;
	return NULL;
}

static void csv_put(struct csv *c, const char *s, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 256;
		char *nb;

		while (c->len + n + 1 > cap)
			cap *= 2;
		nb = realloc(c->cell, cap);
		if (!nb) {
			c->oom = 1;
			return;
		}
		c->cell = nb;
		c->cap = cap;
	}
	memcpy(c->cell + c->len, s, n);
	c->len += n;
}

static void csv_json(struct jbuf *jb, const char *key, const struct jr_val *v)
{
	char num[1100];

	switch (v->type) {
	case JR_NULL: jb_null(jb, key); break;
	case JR_FALSE: jb_bool(jb, key, 0); break;
	case JR_TRUE: jb_bool(jb, key, 1); break;
	case JR_STRING: jb_strn(jb, key, v->s, v->len); break;
	case JR_NUMBER:
		if (v->len < sizeof(num)) {
			memcpy(num, v->s, v->len);
			num[v->len] = '\0';
			jb_raw(jb, key, num);
		} else {
			jb_null(jb, key);
		}
		break;
	case JR_ARRAY:
		jb_arr_open(jb, key);
		for (const struct jr_val *e = v->child; e; e = e->next)
			csv_json(jb, NULL, e);
		jb_arr_close(jb);
		break;
	case JR_OBJECT:
		jb_obj_open(jb, key);
		for (const struct jr_val *e = v->child; e; e = e->next) {
			char *k = strndup(e->key, e->klen);

			if (!k)
				break; /* out of memory: the rest of the object is left out */
			csv_json(jb, k, e);
			free(k);
		}
		jb_obj_close(jb);
		break;
	default: break;
	}
}

/* One scalar (or a JSON rendering of a container) appended to the cell, ';' between items. */
static void csv_item(struct csv *c, const struct jr_val *v, int *items)
{
	if (v->type == JR_NULL)
		return;
	if ((*items)++)
		csv_put(c, ";", 1);
	switch (v->type) {
	case JR_FALSE: csv_put(c, "false", 5); break;
	case JR_TRUE: csv_put(c, "true", 4); break;
	case JR_NUMBER: csv_put(c, v->s, v->len); break;
	case JR_STRING:
		for (size_t i = 0, run = 0; i <= v->len; i++) {
			if (i == v->len || v->s[i] == '\0') {
				csv_put(c, v->s + run, i - run);
				if (i < v->len)
					csv_put(c, "\xef\xbf\xbd", 3);
				run = i + 1;
			}
		}
		break;
	default:
		jb_reset(&c->jb);
		csv_json(&c->jb, NULL, v);
		if (jb_done(&c->jb))
			csv_put(c, c->jb.buf, c->jb.len);
		else
			csv_put(c, "(too deep)", 10);
		break;
	}
}

static void csv_collect(struct csv *c, const struct jr_val *v, const char *path, size_t plen, int *items)
{
	const struct jr_val *best = NULL;

	if (!v)
		return;
	if (v->type == JR_ARRAY) {
		/* a path through an array takes every element; at its end the array's elements are the items */
		for (const struct jr_val *e = v->child; e; e = e->next) {
			if (plen)
				csv_collect(c, e, path, plen, items);
			else
				csv_item(c, e, items);
		}
		return;
	}
	if (plen == 0) {
		csv_item(c, v, items);
		return;
	}
	if (v->type != JR_OBJECT)
		return;
	for (const struct jr_val *m = v->child; m; m = m->next)
		if (m->klen <= plen && memcmp(m->key, path, m->klen) == 0 &&
		    (m->klen == plen || path[m->klen] == '.') && (!best || m->klen > best->klen))
			best = m;
	if (!best)
		return;
	if (best->klen == plen)
		csv_collect(c, best, path + plen, 0, items);
	else
		csv_collect(c, best, path + best->klen + 1, plen - best->klen - 1, items);
}

/* A plain JSON-style number ("-1", "+2.5e3"): left alone by the formula guard. */
static int csv_is_number(const char *s, size_t n)
{
	size_t i = 0, digits = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (digits && i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp = 0;

		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			exp++;
		if (!exp)
			return 0;
	}
	return digits && i == n;
}

/*
 * RFC 4180 quoting, and a guard against spreadsheet formula injection
 * (OWASP "CSV injection"): a cell starting with = + - @ (or TAB, CR) that is
 * not a plain number gets a leading single quote, so a banner such as
 * "=HYPERLINK(...)" is shown as text by Excel/LibreOffice instead of run.
 */
static void csv_write_cell(FILE *out, const char *s, size_t n)
{
	if (n == 0)
		return; /* an empty cell (s may be NULL) writes nothing */
	int guard = s[0] != '\0' && strchr("=+-@\t\r", s[0]) && !csv_is_number(s, n);
	int quote = memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\r', n) || memchr(s, '\n', n);

	if (!quote) {
		if (guard)
			fputc('\'', out);
		fwrite(s, 1, n, out);
		return;
	}
	fputc('"', out);
	if (guard)
		fputc('\'', out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', out);
		fputc(s[i], out);
	}
	fputc('"', out);
}

int csv_init(struct csv *c, FILE *out, const char *type, const char *fields)
{
	char *list, *save = NULL;

	memset(c, 0, sizeof(*c));
	c->out = out;
	jb_init(&c->jb);
	snprintf(c->type, sizeof(c->type), "%s", type);
	if (!fields)
		fields = csv_default_fields(type);
	if (!fields) {
		fprintf(stderr, "mxreport: csv: no default fields for records of type '%s'; name them with --fields\n",
			type);
		return -1;
	}
	list = strdup(fields);
	if (!list)
		return -1;
	for (char *f = strtok_r(list, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		char **nf = realloc(c->fields, (c->nfields + 1) * sizeof(*nf));

		if (!nf || !(nf[c->nfields] = strdup(f))) {
			if (nf)
				c->fields = nf;
			free(list);
			return -1;
		}
		c->fields = nf;
		c->nfields++;
	}
	free(list);
	if (c->nfields == 0 || strstr(fields, ",,") || fields[0] == ',' || fields[strlen(fields) - 1] == ',') {
		fprintf(stderr, "mxreport: csv: --fields '%s' has an empty field name\n", fields);
		return -1;
	}
	for (size_t i = 0; i < c->nfields; i++) {
		if (i)
			fputc(',', out);
		csv_write_cell(out, c->fields[i], strlen(c->fields[i]));
	}
	fputs("\r\n", out);
	return 0;
}

void csv_free(struct csv *c)
{
	for (size_t i = 0; i < c->nfields; i++)
		free(c->fields[i]);
	free(c->fields);
	free(c->cell);
	jb_free(&c->jb);
	memset(c, 0, sizeof(*c));
}

int csv_record(void *ctx, const struct jr_val *rec, const char *file, uint64_t line)
{
	struct csv *c = ctx;

	(void)file;
	(void)line;
	if (!jr_streq(jr_get(rec, "type"), c->type))
		return 0;
	for (size_t i = 0; i < c->nfields; i++) {
		int items = 0;

		c->len = 0;
		csv_collect(c, rec, c->fields[i], strlen(c->fields[i]), &items);
		if (c->oom)
			return -1;
		if (i)
			fputc(',', c->out);
		csv_write_cell(c->out, c->cell, c->len);
	}
	fputs("\r\n", c->out);
	c->rows++;
	return 0;
}
