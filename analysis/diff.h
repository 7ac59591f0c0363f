/*
 * diff: what changed between two scans (mxreport diff OLD NEW).
 *
 * Both scans are streamed once. Per host (key "ip:port", "[ipv6]:port", or
 * "unresolved:NAME" for an input name that gave no address) and per domain,
 * only a compact summary is kept in a hash map: status, STARTTLS, the set of
 * versions supported, least grade and certificate verify code for hosts;
 * MX status and verdicts for domains. Each side is also folded into a full
 * struct agg, so aggregate shares can be compared old -> new with their
 * denominators. Memory is one small entry per distinct key, not per record.
 */
#ifndef MXREPORT_DIFF_H
#define MXREPORT_DIFF_H

#include "agg.h"
#include "rin.h"
#include "smap.h"

#include <stdio.h>

struct diff_side {
	const char *file;
	struct rin_stats in;
	struct agg agg;
	uint64_t dup_hosts, dup_domains; /* keys seen twice in this scan (the last record wins) */
};

struct diff {
	struct smap hosts, domains; /* key -> struct dpair_host / struct dpair_dom (diff.c) */
	struct diff_side side[2];   /* 0 old, 1 new */
	int cur;
	int oom;
};

void diff_init(struct diff *d);
void diff_free(struct diff *d);
/* Read the old and the new scan. Returns 0, or -1 when memory ran out. */
int diff_read(struct diff *d, const char *old_file, const char *new_file);
/* Write the differences as text or (json != 0) as one JSON object. Returns 0 or -1 (write error). */
int diff_write(FILE *out, const struct diff *d, int json);

#endif
