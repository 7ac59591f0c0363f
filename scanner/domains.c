/*
 * domains: the domain → MX → address graph, flattened into one target per
 * (IP, port), and the per-domain records written after the scan.
 *
 * A domain's verdict comes from the hosts it reaches: "all" when every
 * scanned MX address negotiated TLS, "some", "none", or "unknown" when no
 * address could be scanned (no MX, null MX, NXDOMAIN, only blocked
 * addresses). Grades: the best and the worst least-grade among its hosts.
 */
#include "mxscan/domains.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "mxscan/blocklist.h"
#include "mxscan/json.h"
#include "mxscan/record.h"
#include "mxscan/recw.h"
#include "mxscan/result.h"
#include "mxscan/target.h"

static int strlist_add(struct strlist *l, const char *s)
{
	for (unsigned i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return 0;
	l->total++;
	if (l->n >= DOM_LIST_KEEP)
		return 0;
	l->v[l->n] = strdup(s);
	if (!l->v[l->n])
		return -1;
	l->n++;
	return 0;
}

int domains_reserve(struct domain_map *m, size_t ntargets)
{
	if (ntargets <= m->ntargets)
		return 0;
	struct host_meta *meta = realloc(m->meta, ntargets * sizeof(*meta));
	if (!meta)
		return -1;
	m->meta = meta;
	struct host_summary *sum = realloc(m->sum, ntargets * sizeof(*sum));
	if (!sum)
		return -1;
	m->sum = sum;
	memset(m->meta + m->ntargets, 0, (ntargets - m->ntargets) * sizeof(*meta));
	memset(m->sum + m->ntargets, 0, (ntargets - m->ntargets) * sizeof(*sum));
	m->ntargets = ntargets;
	return 0;
}

static int hosts_push(struct domain_map *m, uint32_t idx)
{
	if (m->nhostrefs == m->caphostrefs) {
		size_t ncap = m->caphostrefs ? m->caphostrefs * 2 : 1024;
		uint32_t *nh = realloc(m->hosts, ncap * sizeof(*nh));
		if (!nh)
			return -1;
		m->hosts = nh;
		m->caphostrefs = ncap;
	}
	m->hosts[m->nhostrefs++] = idx;
	return 0;
}

int domains_build(struct domain_map *m, struct mx_domain *doms, const uint16_t *ports, size_t n,
		  struct target_set *targets, const struct blocklist *bl, unsigned long *blocked, FILE *errs)
{
	m->doms = doms;
	m->ndoms = n;
	m->hoff = calloc(n + 1, sizeof(*m->hoff));
	if (!m->hoff)
		return -1;
	for (size_t d = 0; d < n; d++) {
		struct mx_domain *dom = &doms[d];
		m->hoff[d] = m->nhostrefs;
		for (int h = 0; h < dom->nmx; h++) {
			const struct mx_host *mh = dom->mx[h].host;
			const char *mxname = mx_ref_name(&dom->mx[h]);
			for (uint32_t a = 0; mh && a < mh->naddr; a++) {
				const char *why;
				struct target t;
				memset(&t, 0, sizeof(t));
				t.addrlen = mx_addr_sockaddr(&mh->addr[a], &t.addr);
				if (!bl_check(bl, (const struct sockaddr *)&t.addr, &why)) {
					(*blocked)++;
					if (hosts_push(m, UINT32_MAX) < 0)
						return -1;
					if (errs)
						fprintf(errs, "mxscan: %s (MX of %s) not scanned: %s\n", mxname,
							dom->domain, why);
					continue;
				}
				t.has_addr = 1;
				t.port = ports ? ports[d] : 0;
				t.line = dom->line;
				inet_ntop(mh->addr[a].v6 ? AF_INET6 : AF_INET, mh->addr[a].a, t.host, sizeof(t.host));
				snprintf(t.sni, sizeof(t.sni), "%s", mxname);
				size_t idx;
				if (ts_add_idx(targets, &t, &idx) < 0 || domains_reserve(m, ts_count(targets)) < 0)
					return -1;
				if (strlist_add(&m->meta[idx].names, mxname) < 0 ||
				    strlist_add(&m->meta[idx].domains, dom->domain) < 0)
					return -1;
				if (hosts_push(m, (uint32_t)idx) < 0)
					return -1;
			}
		}
	}
	m->hoff[n] = m->nhostrefs;
	return 0;
}

void domains_free(struct domain_map *m)
{
	free(m->hosts);
	free(m->hoff);
	for (size_t i = 0; i < m->ntargets; i++) {
		for (unsigned k = 0; k < m->meta[i].names.n; k++)
			free(m->meta[i].names.v[k]);
		for (unsigned k = 0; k < m->meta[i].domains.n; k++)
			free(m->meta[i].domains.v[k]);
	}
	free(m->meta);
	free(m->sum);
	memset(m, 0, sizeof(*m));
}

static int grade_rank(char g)
{
	return g >= 'A' && g <= 'F' ? g - 'A' : g == '?' ? 6 : -1;
}

static void domain_record(struct jbuf *jb, const struct domain_map *m, size_t d, const struct target_set *targets,
			  const char *scan_id, uint16_t default_port)
{
	const struct mx_domain *dom = &m->doms[d];
	char buf[INET6_ADDRSTRLEN];
	jb_obj_open(jb, NULL);
	jb_str(jb, "type", "domain");
	jb_str(jb, "schema", RECORD_SCHEMA_VERSION);
	jb_str(jb, "scan_id", scan_id);
	jb_str(jb, "domain", dom->domain);
	if (dom->rank)
		jb_uint(jb, "rank", dom->rank);
	jb_str(jb, "mx_status", mx_status_name(dom->status));
	if (dom->implicit_mx)
		jb_bool(jb, "implicit_mx", 1);
	if (dom->ad)
		jb_bool(jb, "dnssec_ad", 1);
	if (dom->source != MX_SRC_DNS) {
		jb_obj_open(jb, "dns");
		jb_str(jb, "source", mx_source_name(dom->source));
		jb_obj_close(jb);
	}
	jb_arr_open(jb, "mx");
	size_t k = m->hoff[d], kend = m->hoff[d + 1];
	for (int h = 0; h < dom->nmx; h++) {
		const struct mx_host *mh = dom->mx[h].host;
		uint32_t naddr = mh ? mh->naddr : 0;
		jb_obj_open(jb, NULL);
		jb_str(jb, "name", mx_ref_name(&dom->mx[h]));
		jb_uint(jb, "preference", dom->mx[h].pref);
		if (mh && mh->cname_target)
			jb_str(jb, "cname", mh->cname_target);
		jb_str(jb, "address_status", mx_status_name(mh ? mh->addr_status : MXS_NODATA));
		jb_arr_open(jb, "addresses");
		for (uint32_t a = 0; a < naddr; a++) {
			inet_ntop(mh->addr[a].v6 ? AF_INET6 : AF_INET, mh->addr[a].a, buf, sizeof(buf));
			jb_str(jb, NULL, buf);
		}
		jb_arr_close(jb);
		jb_arr_open(jb, "hosts");
		for (uint32_t a = 0; a < naddr && k < kend; a++, k++) {
			uint32_t idx = m->hosts[k];
			if (idx == UINT32_MAX) {
				jb_null(jb, NULL);
				continue;
			}
			const struct target *t = ts_get(targets, idx);
			jb_printf_str(jb, NULL, "%s%s%s:%u", t->addr.ss_family == AF_INET6 ? "[" : "", t->host,
				      t->addr.ss_family == AF_INET6 ? "]" : "", t->port ? t->port : default_port);
		}
		jb_arr_close(jb);
		jb_obj_close(jb);
	}
	jb_arr_close(jb);
	if (dom->mx_total > dom->nmx)
		jb_uint(jb, "mx_total", (uint64_t)dom->mx_total);
	/* verdict from the hosts */
	unsigned scanned = 0, tls = 0, starttls = 0, certs = 0, trusted = 0, mx_match = 0, dom_match = 0;
	int best = -1, worst = -1;
	for (size_t i = m->hoff[d]; i < m->hoff[d + 1]; i++) {
		uint32_t idx = m->hosts[i];
		if (idx == UINT32_MAX || idx >= m->ntargets || !m->sum[idx].done)
			continue;
		const struct host_summary *s = &m->sum[idx];
		scanned++;
		if (s->cert) {
			certs++;
			trusted += s->cert_ok;
			mx_match += s->mx_match;
			const struct strlist *dl = &m->meta[idx].domains;
			for (unsigned k = 0; k < dl->n && k < 16; k++)
				if (!strcmp(dl->v[k], dom->domain) && (s->domain_match & (1u << k)))
					dom_match++;
		}
		tls += s->tls;
		starttls += s->starttls == STLS_OFFERED;
		int g = grade_rank(s->least_grade);
		if (g >= 0) {
			best = best < 0 || g < best ? g : best;
			worst = worst < 0 || g > worst ? g : worst;
		}
	}
	jb_obj_open(jb, "verdict");
	jb_uint(jb, "hosts_scanned", scanned);
	jb_str(jb, "tls", !scanned ? "unknown" : tls == scanned ? "all" : tls ? "some" : "none");
	jb_str(jb, "starttls_offered", !scanned ? "unknown" : starttls == scanned ? "all" : starttls ? "some" : "none");
	if (certs) {
		jb_uint(jb, "hosts_with_certificate", certs);
		jb_str(jb, "certificate_trusted", trusted == certs ? "all" : trusted ? "some" : "none");
		jb_str(jb, "name_match_mx", mx_match == certs ? "all" : mx_match ? "some" : "none");
		jb_str(jb, "name_match_domain", dom_match == certs ? "all" : dom_match ? "some" : "none");
	}
	if (best >= 0) {
		jb_printf_str(jb, "best_grade", "%c", best == 6 ? '?' : 'A' + best);
		jb_printf_str(jb, "worst_grade", "%c", worst == 6 ? '?' : 'A' + worst);
	}
	jb_obj_close(jb);
	jb_obj_close(jb);
}

int domains_write(const struct domain_map *m, const struct target_set *targets, struct recw *out, const char *scan_id,
		  uint16_t default_port)
{
	struct jbuf jb;
	int ret = 0;
	jb_init(&jb);
	for (size_t d = 0; d < m->ndoms; d++) {
		jb_reset(&jb);
		domain_record(&jb, m, d, targets, scan_id, default_port);
		if (!jb_ok(&jb) || recw_write(out, jb.buf, jb.len) < 0)
			ret = -1;
	}
	jb_free(&jb);
	return ret;
}
