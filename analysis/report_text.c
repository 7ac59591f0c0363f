/*
 * report_text: the summary as plain-text tables (mxreport summary).
 *
 * Every table names what its denominator counts in its heading, and every
 * row gives count/denominator and the share, so no percentage can be read
 * without knowing what it is a share of. Labels come from records and are
 * printed through ru_text() (no control characters reach the terminal).
 */
#include "agg.h"
#include "rutil.h"

#include <inttypes.h>
#include <string.h>

#define TXT_LABEL_MIN 24
#define TXT_LABEL_MAX 60

static void txt_inputs(FILE *out, const struct report *r)
{
	const struct agg *a = r->agg;
	const struct rin_stats *in = &r->in;

	fprintf(out, "mxreport summary\n\n");
	fprintf(out, "inputs: %" PRIu64 " file%s read (", in->files, in->files == 1 ? "" : "s");
	if (r->nfiles == 0)
		fputs("standard input", out);
	for (int i = 0; i < r->nfiles; i++) {
		fputs(i ? ", " : "", out);
		ru_text(out, r->files[i], strlen(r->files[i]), 0);
	}
	fprintf(out, "), %" PRIu64 " lines, %" PRIu64 " records, %" PRIu64 " malformed lines skipped", in->lines,
		in->records, in->malformed);
	if (in->io_errors)
		fprintf(out, ", %" PRIu64 " input errors (see messages)", in->io_errors);
	fprintf(out, "\nrecords: %" PRIu64 " host, %" PRIu64 " domain, %" PRIu64 " certificate, %" PRIu64 " scan",
		a->hosts, a->domains, a->certificates, a->scans);
	if (a->other_types)
		fprintf(out, ", %" PRIu64 " of other types (ignored)", a->other_types);
	if (a->bad_schema)
		fprintf(out, "; %" PRIu64 " records not of schema \"1\" (read as far as they match)", a->bad_schema);
	fprintf(out, "\nscans: %zu scan id%s", a->scan_ids.m.n, a->scan_ids.m.n == 1 ? "" : "s");
	for (size_t i = 0; i < a->scan_ids.m.n && i < 8; i++) {
		fputs(i ? ", " : " (", out);
		ru_text(out, smap_key(&a->scan_ids.m, i), a->scan_ids.m.ents[i].klen, 64);
	}
	fprintf(out, "%s\n", a->scan_ids.m.n > 8 ? ", ...)" : a->scan_ids.m.n ? ")" : "");
	fprintf(out,
		"connections spent: %" PRIu64 " in total, %.2f per host (of %" PRIu64
		" hosts with probe counts), at most %" PRIu64 "\n",
		a->conn_total, a->conn_hosts ? (double)a->conn_total / (double)a->conn_hosts : 0.0, a->conn_hosts,
		a->conn_max);
	fprintf(out, "tampering evidence: %" PRIu64 " of %" PRIu64 " hosts (%.1f%%)\n", a->tampered, a->hosts,
		ru_pct(a->tampered, a->hosts));
}

static void txt_table(FILE *out, const struct rtab *t, size_t top)
{
	size_t shown = top && t->nrows > top ? top : t->nrows, lw = TXT_LABEL_MIN;
	int dw;
	char tmp[32];

	fprintf(out, "\n%s (of %" PRIu64 " %s)\n", t->title, t->denom, t->of);
	if (t->nrows == 0 || t->denom == 0) {
		fprintf(out, "  (none)\n");
		return;
	}
	for (size_t i = 0; i < shown; i++) {
		size_t w = ru_width(t->rows[i].label, strlen(t->rows[i].label));

		if (w > lw)
			lw = w > TXT_LABEL_MAX ? TXT_LABEL_MAX : w;
	}
	dw = snprintf(tmp, sizeof(tmp), "%" PRIu64, t->denom);
	for (size_t i = 0; i < shown; i++) {
		const struct rrow *row = &t->rows[i];
		size_t len = ru_utf8_cut(row->label, strlen(row->label), TXT_LABEL_MAX * 4);
		size_t w = ru_width(row->label, len);

		fputs("  ", out);
		ru_text(out, row->label, len, 0);
		for (; w < lw; w++)
			fputc(' ', out);
		fprintf(out, "  %*" PRIu64 "/%-*" PRIu64 " %5.1f%%\n", dw, row->n, dw, t->denom,
			ru_pct(row->n, t->denom));
	}
	if (shown < t->nrows) {
		uint64_t rest = 0;

		for (size_t i = shown; i < t->nrows; i++)
			rest += t->rows[i].n;
		fprintf(out, "  ... %zu more labels, %" PRIu64 " counts (--top 0 shows all)\n", t->nrows - shown, rest);
	}
	if (t->note)
		fprintf(out, "  (%s)\n", t->note);
}

static void txt_groups(FILE *out, const struct report *r, size_t top)
{
	size_t shown = top && r->ngroups > top ? top : r->ngroups;

	fprintf(out, "\nby %s: %zu group%s; each cell is count/denominator and share\n", agg_by_name(r->by), r->ngroups,
		r->ngroups == 1 ? "" : "s");
	if (r->by_note)
		fprintf(out, "  note: %s\n", r->by_note);
	fprintf(out, "  %-28s", "group");
	for (size_t c = 0; c < r->ncols; c++)
		fprintf(out, c + 1 < r->ncols ? " %-20s" : " %s", r->cols[c].title);
	fputc('\n', out);
	for (size_t i = 0; i < shown; i++) {
		const struct rgroup *g = &r->groups[i];
		size_t len = ru_utf8_cut(g->label, strlen(g->label), 28), w = ru_width(g->label, len);

		fputs("  ", out);
		ru_text(out, g->label, len, 0);
		for (; w < 28; w++)
			fputc(' ', out);
		for (size_t c = 0; c < r->ncols; c++) {
			const struct rcol *col = &r->cols[c];
			uint64_t n = *(const uint64_t *)((const char *)g->g + col->n_off);
			uint64_t d = *(const uint64_t *)((const char *)g->g + col->d_off);
			char cell[48];

			if (col->n_off == col->d_off)
				snprintf(cell, sizeof(cell), "%" PRIu64, n);
			else if (d == 0)
				snprintf(cell, sizeof(cell), "-");
			else
				snprintf(cell, sizeof(cell), "%" PRIu64 "/%" PRIu64 " %.0f%%", n, d, ru_pct(n, d));
			fprintf(out, c + 1 < r->ncols ? " %-20s" : " %s", cell);
		}
		fputc('\n', out);
	}
	if (shown < r->ngroups)
		fprintf(out, "  ... %zu more groups (--top 0 shows all)\n", r->ngroups - shown);
}

int report_text(FILE *out, const struct report *r, size_t top)
{
	txt_inputs(out, r);
	for (size_t i = 0; i < r->ntabs; i++) {
		const struct rtab *t = &r->tabs[i];

		/* domain tables only when there are domain records */
		if (strncmp(t->id, "domain_", 7) == 0 && r->agg->domains == 0)
			continue;
		txt_table(out, t, top);
	}
	if (r->agg->domains == 0)
		fprintf(out, "\ndomains: no domain records in the input (hosts were scanned by address or MX name)\n");
	if (r->by != AGG_BY_NONE)
		txt_groups(out, r, top);
	return ferror(out) ? -1 : 0;
}
