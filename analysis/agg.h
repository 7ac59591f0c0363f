/*
 * agg: streaming aggregates of mxscan records, and the report built from them.
 *
 * agg_add() folds one record (host, domain, scan, certificate) into counters
 * and forgets it, so memory depends on the number of distinct labels (capped
 * per counter, see smap.h), never on the number of records. agg_report() then
 * turns the counters into a report: facts plus tables, each table a list of
 * labelled counts with the denominator they are shares of and what that
 * denominator counts ("of 42 STARTTLS-mode hosts that answered EHLO"). The
 * renderers (text, JSON, HTML) only format a report.
 *
 * Only fields of the published schema (datasets/schema/record.schema.json)
 * are read; missing fields leave a record out of the tables that need them,
 * which is why every table carries its own denominator.
 */
#ifndef MXREPORT_AGG_H
#define MXREPORT_AGG_H

#include "mxscan/jsonr.h"
#include "rin.h"
#include "smap.h"

#include <stdint.h>
#include <stdio.h>

enum agg_by {
	AGG_BY_NONE,
	AGG_BY_COUNTRY,
	AGG_BY_ASN,
	AGG_BY_PROVIDER,
	AGG_BY_MAX, /* count, not a grouping */
};

/* "none", "country", "asn", "provider". */
const char *agg_by_name(enum agg_by by);

#define AGG_NVERS      5     /* SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3 */
#define AGG_MAX_GROUPS 10000 /* distinct --by groups before "(other)" */

/* The protocol version names, oldest first. */
extern const char *const agg_versions[AGG_NVERS];

/* Per --by group: counts and the denominators of the grid's columns. */
struct agg_group {
	uint64_t hosts, success, ehlo, starttls_offered, tls, enumerated, tls13, legacy, graded, grade_a, certs,
		verify_ok, domains, domains_tls_all;
};

struct agg {
	enum agg_by by;
	uint64_t hosts, domains, certificates, scans, other_types, bad_schema;
	struct ctr scan_ids;
	struct ctr status;
	uint64_t ehlo;
	struct ctr starttls;
	uint64_t baseline;
	struct ctr base_version, base_cipher;
	uint64_t enumerated;
	uint64_t ver_supported[AGG_NVERS];
	struct ctr best_version, suites;
	uint64_t groups_hosts;
	struct ctr groups;
	uint64_t graded;
	struct ctr grades;
	uint64_t warn_hosts;
	struct ctr warnings;
	uint64_t handshakes;
	struct ctr handshake;
	uint64_t certs, verify_ok;
	struct ctr verify, name_match;
	struct ctr failures;
	uint64_t tampered;
	struct ctr tamper;
	uint64_t captured; /* hosts with a capture.verdict (--capture) */
	struct ctr capture;
	uint64_t conn_hosts, conn_total, conn_max;
	struct ctr mx_status, d_tls, d_starttls;
	uint64_t d_certs, d_graded;
	struct ctr d_trusted, d_nm_mx, d_nm_domain, d_worst;
	struct smap bygroups; /* group name -> struct agg_group */
	struct agg_group by_other;
	uint64_t geo_seen; /* host records carrying a geo object */
};

void agg_init(struct agg *a, enum agg_by by);
void agg_free(struct agg *a);
/* Fold one record (a JSON object) in. Unknown types are counted, not an error. */
void agg_add(struct agg *a, const struct jr_val *rec);

/* The --by key of a host record (provider: last two labels of the first MX name). */
void agg_host_group(enum agg_by by, const struct jr_val *rec, char *out, size_t n);

/* ---- the report ---- */

struct rrow {
	const char *label;
	uint64_t n;
};

struct rtab {
	const char *id;    /* stable key for JSON and anchors */
	const char *title; /* what is counted */
	const char *of;    /* what the denominator counts */
	const char *note;  /* a sentence under the table, or NULL */
	uint64_t denom;
	int multi; /* one record may count in several rows: shares do not add up to 100% */
	size_t nrows;
	struct rrow *rows; /* sorted: by count (then label), or in the table's natural order */
};

/* One column of the --by grid: n out of d of each group. */
struct rcol {
	const char *id, *title;
	size_t n_off, d_off; /* offsets in struct agg_group; d_off == n_off: a plain count */
};

struct rgroup {
	const char *label;
	const struct agg_group *g;
};

struct report {
	const char *const *files;
	int nfiles;
	struct rin_stats in;
	const struct agg *agg;
	size_t ntabs;
	struct rtab *tabs;
	/* --by */
	enum agg_by by;
	const char *by_note; /* e.g. "no geo data in records" */
	size_t ncols;
	const struct rcol *cols;
	size_t ngroups;
	struct rgroup *groups; /* sorted by hosts, then label */
};

/* Build a report over a (which must outlive it). Returns 0 or -1 (memory). */
int agg_report(const struct agg *a, const struct rin_stats *in, const char *const *files, int nfiles, struct report *r);
void report_free(struct report *r);
/* The table with this id, or NULL. */
const struct rtab *report_table(const struct report *r, const char *id);
/* The count of label in table id (0 when absent). */
uint64_t report_count(const struct report *r, const char *id, const char *label);

/* Renderers. top limits rows per table (0: all). Return 0 or -1 on a write error. */
int report_text(FILE *out, const struct report *r, size_t top);
int report_json(FILE *out, const struct report *r);
int report_html(FILE *out, const struct report *r, size_t top);

#endif
