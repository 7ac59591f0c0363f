/*
 * resume: the keys of the records an interrupted scan already wrote (see resume.h).
 *
 * Records are read with recw_read and parsed with the bounded JSON reader (scanner/jsonr.c,
 * linked into mxscan for this), so mxscan reads its own output through the same published
 * schema the report does. Keys go into target sets (target.c), which already hash addresses
 * and names the way the scan deduplicates them; per host the summary for domain verdicts and
 * the leaf's DNS names (at most RS_MAX_SANS) are kept beside it.
 */
#include "mxscan/resume.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mxscan/jsonr.h"
#include "mxscan/recw.h"
#include "mxscan/target.h"
#include "mxscan/verify.h"

#define RS_MAX_SANS 32

struct rs_host {
	struct host_summary sum;
	unsigned nsans;
	char **sans; /* the leaf's DNS names as recorded, to match recipient domains again */
};

struct resume {
	struct target_set *hosts, *names, *domains;
	struct rs_host *hinfo; /* per index of hosts */
	size_t hcap;
	uint8_t (*certs)[32];
	size_t ncerts, ccap;
	char scan_id[128];
	uint64_t records;
	struct jr_doc doc;
	char *line;
	size_t linecap;
	char err[256];
	int failed;
};

static int rs_status(const char *s)
{
	for (int i = 0; i < ST__COUNT; i++)
		if (s && strcmp(s, scan_status_name((enum scan_status)i)) == 0)
			return i;
	return ST_UNKNOWN_ERROR;
}

static int rs_starttls(const char *s)
{
	for (int i = 0; i < STLS__COUNT; i++)
		if (s && strcmp(s, starttls_state_name((enum starttls_state)i)) == 0)
			return i;
	return STLS_UNKNOWN;
}

static int rs_hex(const char *s, uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (!s[2 * i] || !s[2 * i + 1] || sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return s[64] == '\0' ? 0 : -1;
}

/* A name key: the text as a host-name target with port. */
static int rs_name_key(struct target *t, const char *name, uint16_t port)
{
	memset(t, 0, sizeof(*t));
	if (!name || !*name || strlen(name) >= sizeof(t->host))
		return -1;
	snprintf(t->host, sizeof(t->host), "%s", name);
	size_t n = strlen(t->host);
	if (n > 1 && t->host[n - 1] == '.')
		t->host[n - 1] = '\0';
	t->port = port;
	return 0;
}

static int rs_addr_key(struct target *t, const struct sockaddr *sa, uint16_t port)
{
	memset(t, 0, sizeof(*t));
	if (sa->sa_family == AF_INET) {
		memcpy(&t->addr, sa, sizeof(struct sockaddr_in));
		((struct sockaddr_in *)&t->addr)->sin_port = 0;
		t->addrlen = sizeof(struct sockaddr_in);
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, t->host, sizeof(t->host));
	} else if (sa->sa_family == AF_INET6) {
		memcpy(&t->addr, sa, sizeof(struct sockaddr_in6));
		((struct sockaddr_in6 *)&t->addr)->sin6_port = 0;
		t->addrlen = sizeof(struct sockaddr_in6);
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, t->host, sizeof(t->host));
	} else {
		return -1;
	}
	t->has_addr = 1;
	t->port = port;
	return 0;
}

static int rs_host(struct resume *r, const struct jr_val *rec)
{
	const char *ip = jr_str(jr_get(rec, "ip"));
	int64_t port = jr_int(jr_get(rec, "port"), 0);
	struct target t;
	struct sockaddr_storage ss;

	if (port < 0 || port > 65535)
		return -1;
	if (!ip) {
		/* A name that gave no address: keyed by the input as given. */
		if (rs_name_key(&t, jr_str(jr_get(rec, "input")), (uint16_t)port) < 0)
			return -1;
		return ts_add(r->names, &t) < 0 ? -1 : 0;
	}
	if (addr_parse(ip, &ss) < 0)
		return -1;
	if (rs_addr_key(&t, (const struct sockaddr *)&ss, (uint16_t)port) < 0)
		return -1;
	size_t idx;
	int added = ts_add_idx(r->hosts, &t, &idx);
	if (added < 0)
		return -1;
	if (added == 0)
		return 0; /* a duplicate already: the first record is the one kept */
	if (idx >= r->hcap) {
		size_t ncap = r->hcap ? r->hcap * 2 : 1024;
		struct rs_host *nh = realloc(r->hinfo, ncap * sizeof(*nh));
		if (!nh)
			return -1;
		memset(nh + r->hcap, 0, (ncap - r->hcap) * sizeof(*nh));
		r->hinfo = nh;
		r->hcap = ncap;
	}
	struct rs_host *h = &r->hinfo[idx];
	const struct jr_val *tls = jr_get(rec, "tls"), *cert = jr_get(tls, "certificate");
	const char *grade = jr_str(jr_get(tls, "least_grade"));
	h->sum.done = 1;
	h->sum.status = (uint8_t)rs_status(jr_str(jr_get(rec, "status")));
	h->sum.starttls = (uint8_t)rs_starttls(jr_str(jr_path(rec, "smtp.starttls")));
	h->sum.tls = jr_str(jr_path(tls, "baseline.version")) != NULL;
	h->sum.least_grade = grade ? grade[0] : 0;
	if (jr_get(cert, "verify")) {
		int64_t code = jr_int(jr_path(cert, "verify.code"), -1);
		h->sum.cert = 1;
		h->sum.cert_ok = code == 0 || code == 62;
		h->sum.mx_match = jr_bool(jr_path(cert, "name_match.mx"), 0) == 1;
		const struct jr_val *chain = jr_get(cert, "chain");
		const struct jr_val *sans = chain && chain->type == JR_ARRAY ? jr_get(chain->child, "sans") : NULL;
		if (sans && sans->type == JR_ARRAY) {
			h->sans = calloc(RS_MAX_SANS, sizeof(char *));
			if (!h->sans)
				return -1;
			for (const struct jr_val *s = sans->child; s && h->nsans < RS_MAX_SANS; s = s->next) {
				const char *n = jr_str(s);
				if (!n || strncmp(n, "IP:", 3) == 0)
					continue;
				if (!(h->sans[h->nsans] = strdup(n)))
					return -1;
				h->nsans++;
			}
		}
	}
	return 0;
}

static int rs_line(void *arg, const char *line, size_t len)
{
	struct resume *r = arg;
	const struct jr_val *rec, *type, *id;

	r->records++;
	if (len + 1 > r->linecap) {
		size_t ncap = (len + 1) * 2;
		char *nl = realloc(r->line, ncap);
		if (!nl)
			return -1;
		r->line = nl;
		r->linecap = ncap;
	}
	memcpy(r->line, line, len);
	if (jr_parse(&r->doc, r->line, len) < 0 || r->doc.root->type != JR_OBJECT) {
		snprintf(r->err, sizeof(r->err), "record %llu is not a JSON object (%s)",
			 (unsigned long long)r->records, r->doc.err[0] ? r->doc.err : "not an object");
		r->failed = 1;
		return -2;
	}
	rec = r->doc.root;
	type = jr_get(rec, "type");
	id = jr_get(rec, "scan_id");
	if (!r->scan_id[0] && jr_str(id) && id->len < sizeof(r->scan_id))
		snprintf(r->scan_id, sizeof(r->scan_id), "%s", id->s);
	if (jr_streq(type, "host")) {
		if (rs_host(r, rec) < 0) {
			snprintf(r->err, sizeof(r->err), "host record %llu has no usable ip/port or input",
				 (unsigned long long)r->records);
			r->failed = 1;
			return -2;
		}
	} else if (jr_streq(type, "domain")) {
		struct target t;
		if (rs_name_key(&t, jr_str(jr_get(rec, "domain")), 0) < 0 || ts_add(r->domains, &t) < 0) {
			snprintf(r->err, sizeof(r->err), "domain record %llu has no usable domain",
				 (unsigned long long)r->records);
			r->failed = 1;
			return -2;
		}
	} else if (jr_streq(type, "certificate")) {
		const char *sha = jr_str(jr_get(rec, "sha256"));
		uint8_t md[32];
		if (sha && rs_hex(sha, md) == 0) {
			if (r->ncerts == r->ccap) {
				size_t ncap = r->ccap ? r->ccap * 2 : 256;
				uint8_t(*nc)[32] = realloc(r->certs, ncap * sizeof(*nc));
				if (!nc)
					return -1;
				r->certs = nc;
				r->ccap = ncap;
			}
			memcpy(r->certs[r->ncerts++], md, 32);
		}
	}
	return 0;
}

struct resume *resume_load(const char *path, char *err, size_t errlen)
{
	struct resume *r = calloc(1, sizeof(*r));
	char rerr[512];

	if (!r || !(r->hosts = ts_new()) || !(r->names = ts_new()) || !(r->domains = ts_new())) {
		snprintf(err, errlen, "%s: out of memory", path);
		resume_free(r);
		return NULL;
	}
	jr_init(&r->doc);
	long long n = recw_read(path, rs_line, r, rerr, sizeof(rerr));
	if (n < 0 || r->failed) {
		if (r->failed)
			snprintf(err, errlen, "%s: %s: not mxscan records, nothing appended", path, r->err);
		else if (n == -1 && strstr(rerr, "stopped"))
			snprintf(err, errlen, "%s: out of memory reading records", path);
		else
			snprintf(err, errlen, "%s", rerr);
		resume_free(r);
		return NULL;
	}
	free(r->line);
	r->line = NULL;
	jr_free(&r->doc);
	return r;
}

void resume_free(struct resume *r)
{
	if (!r)
		return;
	if (r->hinfo) {
		for (size_t i = 0; i < r->hcap; i++) {
			for (unsigned k = 0; k < r->hinfo[i].nsans; k++)
				free(r->hinfo[i].sans[k]);
			free(r->hinfo[i].sans);
		}
	}
	free(r->hinfo);
	free(r->certs);
	free(r->line);
	jr_free(&r->doc);
	ts_free(r->hosts);
	ts_free(r->names);
	ts_free(r->domains);
	free(r);
}

int resume_host_done(const struct resume *r, const struct sockaddr *addr, uint16_t port, struct host_summary *sum)
{
	struct target t;
	long i;

	if (!r || rs_addr_key(&t, addr, port) < 0 || (i = ts_find(r->hosts, &t)) < 0)
		return 0;
	if (sum)
		*sum = r->hinfo[i].sum;
	return 1;
}

int resume_host_domain_match(const struct resume *r, const struct sockaddr *addr, uint16_t port, const char *domain)
{
	struct target t;
	long i;

	if (!r || rs_addr_key(&t, addr, port) < 0 || (i = ts_find(r->hosts, &t)) < 0)
		return 0;
	for (unsigned k = 0; k < r->hinfo[i].nsans; k++)
		if (verify_name_match(r->hinfo[i].sans[k], strlen(r->hinfo[i].sans[k]), domain))
			return 1;
	return 0;
}

int resume_name_done(const struct resume *r, const char *name, uint16_t port)
{
	struct target t;

	return r && rs_name_key(&t, name, port) == 0 && ts_find(r->names, &t) >= 0;
}

int resume_domain_done(const struct resume *r, const char *domain)
{
	struct target t;

	return r && rs_name_key(&t, domain, 0) == 0 && ts_find(r->domains, &t) >= 0;
}

const uint8_t (*resume_certs(const struct resume *r, size_t *n))[32]
{
	*n = r ? r->ncerts : 0;
	return r ? (const uint8_t(*)[32])r->certs : NULL;
}

const char *resume_scan_id(const struct resume *r)
{
	return r ? r->scan_id : "";
}

void resume_counts(const struct resume *r, uint64_t *records, uint64_t *hosts, uint64_t *domains)
{
	*records = r ? r->records : 0;
	*hosts = r ? ts_count(r->hosts) + ts_count(r->names) : 0;
	*domains = r ? ts_count(r->domains) : 0;
}
