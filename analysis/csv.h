/*
 * csv: records of one type as flat CSV rows (mxreport csv).
 *
 * One row per record of the chosen type, one column per field path. A path
 * names members with dots ("tls.certificate.verify.code"); member names that
 * contain dots themselves ("tls.versions.TLSv1.3.supported") are found by the
 * longest match, as in jr_path(). A path that crosses an array takes every
 * element ("mx.name" of a domain lists each MX name). Arrays of scalars are
 * joined with ';', objects are written as compact JSON, null and missing
 * fields as an empty cell, booleans as true/false, numbers as written.
 * Quoting follows RFC 4180: fields holding a comma, a quote, CR or LF are
 * quoted, quotes doubled; lines end with CRLF; a header line comes first.
 */
#ifndef MXREPORT_CSV_H
#define MXREPORT_CSV_H

#include "mxscan/jsonr.h"
#include "mxscan/json.h"

#include <stdint.h>
#include <stdio.h>

struct csv {
	FILE *out;
	char type[32];
	char **fields;
	size_t nfields;
	uint64_t rows;
	struct jbuf jb; /* for values written as JSON */
	char *cell;
	size_t len, cap;
	int oom;
};

/* The default field list for a record type, or NULL when there is none. */
const char *csv_default_fields(const char *type);

/*
 * Prepare for records of type (host, domain, certificate, scan...) with the
 * comma-separated field paths in fields (NULL: the type's default), and write
 * the header. Returns 0, or -1 with a message on stderr (no default fields for
 * the type, an empty path, memory).
 */
int csv_init(struct csv *c, FILE *out, const char *type, const char *fields);
void csv_free(struct csv *c);
/* rin callback: one row when rec is of the chosen type. Returns 0, or -1 when memory ran out. */
int csv_record(void *ctx, const struct jr_val *rec, const char *file, uint64_t line);

#endif
