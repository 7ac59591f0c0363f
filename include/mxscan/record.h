/*
 * record: turns results into the NDJSON records of the published schema
 * (datasets/schema/record.schema.json). One function per record type.
 */
#ifndef MXSCAN_RECORD_H
#define MXSCAN_RECORD_H

#include "mxscan/json.h"
#include "mxscan/result.h"

struct capture_stats;

#define RECORD_SCHEMA_VERSION "1"

/* Append a complete "host" record for r to jb (reset by the caller). */
/* Also sets r->least_grade (the worst suite grade), which domain verdicts use. */
int record_host(struct jbuf *jb, const char *scan_id, struct host_result *r);

/* Does the dialogue alone show tampering (the smtp.tampering object)? */
int record_tampered(const struct host_result *r);

/* A "scan" metadata record (first and last line of a scan): start/end, options. */
struct scan_meta {
	const char *scan_id;
	const char *event;   /* "start" or "end" */
	const char *version; /* mxscan version */
	const char *argv;    /* command line, space-joined */
	uint64_t time_ms;
	uint64_t targets, done, bad_lines, blocked, duplicates, unresolved;
	unsigned threads;
	int resumed;                                             /* --resume: the fields below are written */
	uint64_t resume_records, resume_skipped, resume_domains; /* records read back, targets and domains skipped */
	unsigned shards, shard;                                  /* --shards/--shard (shards 1: not sharded) */
	uint64_t seed, other_shards;                             /* --seed; input targets left to other shards */
	uint64_t connections, retries, peak_active;              /* end record: engine totals */
	const unsigned long *status_counts;                      /* ST__COUNT entries, or NULL */
	const char *capture_iface;                               /* --capture, or NULL */
	const struct capture_stats *capture;                     /* end record: capture counters, or NULL */
};
int record_scan(struct jbuf *jb, const struct scan_meta *m);

#endif
