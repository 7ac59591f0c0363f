/*
 * domains: from resolved domains to the scan plan and back. Every (IP, port)
 * is scanned once however many MX names and domains point at it; each host
 * keeps the MX names and domains that lead to it (capped, with totals), each
 * domain keeps references to its hosts, and after the scan a "domain" record
 * per domain gives its MX set and a verdict computed from its hosts.
 */
#ifndef MXSCAN_DOMAINS_H
#define MXSCAN_DOMAINS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mxscan/mx.h"

#include "mxscan/result.h"

struct domain_map {
	struct mx_domain *doms;
	size_t ndoms;
	uint32_t *hosts; /* target indices of every MX address of every domain, domain after domain
			    (UINT32_MAX: address blocked) */
	size_t *hoff;    /* ndoms + 1 offsets: domain d's are hosts[hoff[d] .. hoff[d + 1]) */
	size_t nhostrefs, caphostrefs;
	struct host_meta *meta; /* per target index */
	struct host_summary *sum;
	size_t ntargets;
};

/* Add a target for every address of every MX of every domain (deduplicated by
 * IP:port in targets, which may already hold other targets), checking each
 * address against bl. ports[d]: the port given with domain d (0: the scan's
 * default port). Returns 0 or -1 (out of memory). Blocked addresses are
 * counted in *blocked and reported on errs (may be NULL). */
struct target_set;
struct blocklist;
int domains_build(struct domain_map *m, struct mx_domain *doms, const uint16_t *ports, size_t n,
		  struct target_set *targets, const struct blocklist *bl, unsigned long *blocked, FILE *errs);
/* Make room for per-target arrays after other targets were added (IPs). */
int domains_reserve(struct domain_map *m, size_t ntargets);
void domains_free(struct domain_map *m);

/* After the scan: one "domain" record per domain. */
struct recw;
int domains_write(const struct domain_map *m, const struct target_set *targets, struct recw *out, const char *scan_id,
		  uint16_t default_port);

#endif
