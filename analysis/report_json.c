/*
 * report_json: the summary as one JSON object (mxreport json), built with
 * mxscan's JSON writer (include/mxscan/json.h), which escapes every string
 * and never emits invalid JSON. Each table keeps its denominator and what it
 * counts next to the counts, as in the text report:
 *
 *   {"tables":{"starttls":{"title":"STARTTLS in the EHLO reply",
 *     "of":"STARTTLS-mode hosts that answered EHLO","denominator":20,
 *     "multi":false,"counts":{"offered":14,"absent":4,"stripped":2}}, ...}}
 */
#include "agg.h"
#include "mxscan/json.h"

#include <string.h>

static void rj_group_cell(struct jbuf *jb, const struct rcol *col, const struct agg_group *g)
{
	uint64_t n = *(const uint64_t *)((const char *)g + col->n_off);
	uint64_t d = *(const uint64_t *)((const char *)g + col->d_off);

	if (col->n_off == col->d_off) {
		jb_uint(jb, col->id, n);
		return;
	}
	jb_obj_open(jb, col->id);
	jb_uint(jb, "count", n);
	jb_uint(jb, "of", d);
	jb_obj_close(jb);
}

int report_json(FILE *out, const struct report *r)
{
	const struct agg *a = r->agg;
	struct jbuf jb;
	int rc = 0;

	jb_init(&jb);
	jb_obj_open(&jb, NULL);
	jb_str(&jb, "report", "mxreport summary");
	jb_str(&jb, "version", "1");
	jb_obj_open(&jb, "inputs");
	jb_arr_open(&jb, "files");
	for (int i = 0; i < r->nfiles; i++)
		jb_str(&jb, NULL, r->files[i]);
	if (r->nfiles == 0)
		jb_str(&jb, NULL, "-");
	jb_arr_close(&jb);
	jb_uint(&jb, "files_read", r->in.files);
	jb_uint(&jb, "lines", r->in.lines);
	jb_uint(&jb, "records", r->in.records);
	jb_uint(&jb, "malformed_lines", r->in.malformed);
	jb_uint(&jb, "blank_lines", r->in.blank);
	jb_uint(&jb, "input_errors", r->in.io_errors);
	jb_uint(&jb, "bytes", r->in.bytes);
	jb_obj_close(&jb);

	jb_obj_open(&jb, "records");
	jb_uint(&jb, "host", a->hosts);
	jb_uint(&jb, "domain", a->domains);
	jb_uint(&jb, "certificate", a->certificates);
	jb_uint(&jb, "scan", a->scans);
	jb_uint(&jb, "other", a->other_types);
	jb_uint(&jb, "schema_not_1", a->bad_schema);
	jb_obj_close(&jb);
	jb_arr_open(&jb, "scan_ids");
	for (size_t i = 0; i < a->scan_ids.m.n; i++)
		jb_strn(&jb, NULL, smap_key(&a->scan_ids.m, i), a->scan_ids.m.ents[i].klen);
	jb_arr_close(&jb);
	jb_obj_open(&jb, "connections");
	jb_uint(&jb, "hosts", a->conn_hosts);
	jb_uint(&jb, "total", a->conn_total);
	jb_double(&jb, "mean", a->conn_hosts ? (double)a->conn_total / (double)a->conn_hosts : 0.0);
	jb_uint(&jb, "max", a->conn_max);
	jb_obj_close(&jb);
	jb_uint(&jb, "tampered_hosts", a->tampered);

	jb_obj_open(&jb, "tables");
	for (size_t i = 0; i < r->ntabs; i++) {
		const struct rtab *t = &r->tabs[i];

		jb_obj_open(&jb, t->id);
		jb_str(&jb, "title", t->title);
		jb_str(&jb, "of", t->of);
		jb_uint(&jb, "denominator", t->denom);
		jb_bool(&jb, "multi", t->multi);
		if (t->note)
			jb_str(&jb, "note", t->note);
		jb_obj_open(&jb, "counts");
		for (size_t k = 0; k < t->nrows; k++)
			jb_uint(&jb, t->rows[k].label, t->rows[k].n);
		jb_obj_close(&jb);
		jb_obj_close(&jb);
	}
	jb_obj_close(&jb);

	if (r->by != AGG_BY_NONE) {
		jb_obj_open(&jb, "by");
		jb_str(&jb, "key", agg_by_name(r->by));
		if (r->by_note)
			jb_str(&jb, "note", r->by_note);
		jb_arr_open(&jb, "columns");
		for (size_t c = 0; c < r->ncols; c++) {
			jb_obj_open(&jb, NULL);
			jb_str(&jb, "id", r->cols[c].id);
			jb_str(&jb, "title", r->cols[c].title);
			jb_obj_close(&jb);
		}
		jb_arr_close(&jb);
		jb_arr_open(&jb, "groups");
		for (size_t i = 0; i < r->ngroups; i++) {
			jb_obj_open(&jb, NULL);
			jb_str(&jb, "group", r->groups[i].label);
			for (size_t c = 0; c < r->ncols; c++)
				rj_group_cell(&jb, &r->cols[c], r->groups[i].g);
			jb_obj_close(&jb);
		}
		jb_arr_close(&jb);
		jb_obj_close(&jb);
	}
	jb_obj_close(&jb);
	if (!jb_done(&jb)) {
		fprintf(stderr, "mxreport: cannot build the JSON report: %s\n", jb_err_name(jb_error(&jb)));
		rc = -1;
	} else if (fwrite(jb.buf, 1, jb.len, out) != jb.len || fputc('\n', out) == EOF) {
		rc = -1;
	}
	jb_free(&jb);
	return rc;
}
