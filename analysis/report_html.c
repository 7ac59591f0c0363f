/*
 * report_html: the summary as one self-contained HTML file (mxreport html).
 *
 * One file, nothing fetched: the CSS is inline, the charts are inline SVG
 * (horizontal bars, each bar the share of the table's denominator), no
 * script, no font, no image, no link outside the page (the SVG elements need
 * no xmlns inside HTML). Every string that comes from records goes through
 * ru_html(), in text and in attributes alike.
 */
#include "agg.h"
#include "rutil.h"

#include <inttypes.h>
#include <string.h>

#define HTML_ROW_H   20
#define HTML_LABEL_W 310
#define HTML_BAR_W   330
#define HTML_LABEL_B 46 /* bytes of a label drawn in a chart (the table has it whole) */

static const char html_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title>mxscan report</title>\n<style>\n"
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d232b;max-width:1020px;"
	"margin:2em auto;padding:0 1em}\n"
	"h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.12em;margin:2.2em 0 .3em;border-bottom:1px solid #d8dee6}\n"
	"dl{display:grid;grid-template-columns:max-content auto;gap:.15em 1em}dt{color:#5b6570}dd{margin:0}\n"
	"nav{margin:1em 0;line-height:1.9}nav a{margin-right:.9em;white-space:nowrap}\n"
	"table{border-collapse:collapse;margin:.4em 0}th,td{padding:2px 10px;border-bottom:1px solid #eceff3;"
	"text-align:left;vertical-align:top}\n"
	"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
	"p.of{color:#5b6570;margin:.1em 0 .5em}p.note{color:#5b6570;font-size:.92em}\n"
	"svg{display:block;margin:.3em 0}svg text{font:12px system-ui,sans-serif;fill:#1d232b}\n"
	"rect.track{fill:#eef2f7}rect.bar{fill:#3f7bc4}\n"
	".muted{color:#8a939c}\n"
	"</style>\n</head>\n<body>\n";

static void html_str(FILE *out, const char *s)
{
	ru_html(out, s, strlen(s), 0);
}

static void html_facts(FILE *out, const struct report *r)
{
	const struct agg *a = r->agg;

	fputs("<h1>mxscan report</h1>\n<dl>\n<dt>inputs</dt><dd>", out);
	if (r->nfiles == 0)
		fputs("standard input", out);
	for (int i = 0; i < r->nfiles; i++) {
		fputs(i ? ", " : "", out);
		html_str(out, r->files[i]);
	}
	fprintf(out,
		"</dd>\n<dt>lines</dt><dd>%" PRIu64 " lines, %" PRIu64 " records, %" PRIu64
		" malformed lines skipped%s</dd>\n",
		r->in.lines, r->in.records, r->in.malformed,
		r->in.io_errors ? ", input errors (see mxreport's messages)" : "");
	fprintf(out,
		"<dt>records</dt><dd>%" PRIu64 " host, %" PRIu64 " domain, %" PRIu64 " certificate, %" PRIu64
		" scan</dd>\n",
		a->hosts, a->domains, a->certificates, a->scans);
	fputs("<dt>scan ids</dt><dd>", out);
	for (size_t i = 0; i < a->scan_ids.m.n && i < 8; i++) {
		fputs(i ? ", " : "", out);
		ru_html(out, smap_key(&a->scan_ids.m, i), a->scan_ids.m.ents[i].klen, 64);
	}
	fprintf(out, "%s</dd>\n", a->scan_ids.m.n > 8 ? ", &hellip;" : a->scan_ids.m.n ? "" : "none");
	fprintf(out,
		"<dt>connections</dt><dd>%" PRIu64 " in total, %.2f per host (of %" PRIu64
		" hosts with probe counts), at most %" PRIu64 "</dd>\n",
		a->conn_total, a->conn_hosts ? (double)a->conn_total / (double)a->conn_hosts : 0.0, a->conn_hosts,
		a->conn_max);
	fprintf(out, "<dt>tampering</dt><dd>%" PRIu64 " of %" PRIu64 " hosts (%.1f%%) show evidence</dd>\n</dl>\n",
		a->tampered, a->hosts, ru_pct(a->tampered, a->hosts));
}

static int html_shown(const struct report *r, const struct rtab *t)
{
	return !(strncmp(t->id, "domain_", 7) == 0 && r->agg->domains == 0);
}

static void html_chart(FILE *out, const struct rtab *t, size_t shown)
{
	int h = (int)shown * HTML_ROW_H + 4;

	fprintf(out, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
		HTML_LABEL_W + HTML_BAR_W + 70, h, HTML_LABEL_W + HTML_BAR_W + 70, h);
	html_str(out, t->title);
	fputs("\">\n", out);
	for (size_t i = 0; i < shown; i++) {
		const struct rrow *row = &t->rows[i];
		int y = (int)i * HTML_ROW_H;
		double pct = ru_pct(row->n, t->denom);
		double w = pct > 100.0 ? HTML_BAR_W : pct * HTML_BAR_W / 100.0;

		fprintf(out, "<text x=\"0\" y=\"%d\">", y + 15);
		ru_html(out, row->label, strlen(row->label), HTML_LABEL_B);
		fprintf(out, "</text><rect class=\"track\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"14\"/>",
			HTML_LABEL_W, y + 4, HTML_BAR_W);
		fprintf(out, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"14\"/>", HTML_LABEL_W,
			y + 4, w);
		fprintf(out, "<text x=\"%d\" y=\"%d\">%.1f%%</text>\n", HTML_LABEL_W + HTML_BAR_W + 6, y + 15, pct);
	}
	fputs("</svg>\n", out);
}

static void html_table(FILE *out, const struct rtab *t, size_t top)
{
	size_t shown = top && t->nrows > top ? top : t->nrows;

	fprintf(out, "<section id=\"t-%s\">\n<h2>", t->id);
	html_str(out, t->title);
	fprintf(out, "</h2>\n<p class=\"of\">Shares of %" PRIu64 " ", t->denom);
	html_str(out, t->of);
	fputs(".</p>\n", out);
	if (t->nrows == 0 || t->denom == 0) {
		fputs("<p class=\"muted\">none</p>\n</section>\n", out);
		return;
	}
	html_chart(out, t, shown);
	fputs("<table>\n<tr><th>label</th><th class=\"n\">count</th><th class=\"n\">of</th><th class=\"n\">share</th></tr>\n",
	      out);
	for (size_t i = 0; i < shown; i++) {
		fputs("<tr><td>", out);
		html_str(out, t->rows[i].label);
		fprintf(out,
			"</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
			"</td><td class=\"n\">%.1f%%</td></tr>\n",
			t->rows[i].n, t->denom, ru_pct(t->rows[i].n, t->denom));
	}
	fputs("</table>\n", out);
	if (shown < t->nrows) {
		uint64_t rest = 0;

		for (size_t i = shown; i < t->nrows; i++)
			rest += t->rows[i].n;
		fprintf(out,
			"<p class=\"note\">%zu more labels, %" PRIu64
			" counts, not shown (mxreport html --top 0 shows all).</p>\n",
			t->nrows - shown, rest);
	}
	if (t->note) {
		fputs("<p class=\"note\">", out);
		html_str(out, t->note);
		fputs(".</p>\n", out);
	}
	fputs("</section>\n", out);
}

static void html_groups(FILE *out, const struct report *r, size_t top)
{
	size_t shown = top && r->ngroups > top ? top : r->ngroups;

	fprintf(out,
		"<section id=\"t-by\">\n<h2>by %s</h2>\n<p class=\"of\">%zu groups; each cell is count of denominator "
		"(share).</p>\n",
		agg_by_name(r->by), r->ngroups);
	if (r->by_note) {
		fputs("<p class=\"note\">Note: ", out);
		html_str(out, r->by_note);
		fputs(".</p>\n", out);
	}
	fputs("<table>\n<tr><th>group</th>", out);
	for (size_t c = 0; c < r->ncols; c++) {
		fputs("<th class=\"n\">", out);
		html_str(out, r->cols[c].title);
		fputs("</th>", out);
	}
	fputs("</tr>\n", out);
	for (size_t i = 0; i < shown; i++) {
		fputs("<tr><td>", out);
		html_str(out, r->groups[i].label);
		fputs("</td>", out);
		for (size_t c = 0; c < r->ncols; c++) {
			const struct rcol *col = &r->cols[c];
			uint64_t n = *(const uint64_t *)((const char *)r->groups[i].g + col->n_off);
			uint64_t d = *(const uint64_t *)((const char *)r->groups[i].g + col->d_off);

			if (col->n_off == col->d_off)
				fprintf(out, "<td class=\"n\">%" PRIu64 "</td>", n);
			else if (d == 0)
				fputs("<td class=\"n muted\">-</td>", out);
			else
				fprintf(out, "<td class=\"n\">%" PRIu64 "/%" PRIu64 " (%.0f%%)</td>", n, d,
					ru_pct(n, d));
		}
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
	if (shown < r->ngroups)
		fprintf(out, "<p class=\"note\">%zu more groups not shown (--top 0 shows all).</p>\n",
			r->ngroups - shown);
	fputs("</section>\n", out);
}

int report_html(FILE *out, const struct report *r, size_t top)
{
	fputs(html_head, out);
	html_facts(out, r);
	fputs("<nav>", out);
	for (size_t i = 0; i < r->ntabs; i++) {
		if (!html_shown(r, &r->tabs[i]))
			continue;
		fprintf(out, "<a href=\"#t-%s\">", r->tabs[i].id);
		html_str(out, r->tabs[i].title);
		fputs("</a> ", out);
	}
	if (r->by != AGG_BY_NONE)
		fprintf(out, "<a href=\"#t-by\">by %s</a>", agg_by_name(r->by));
	fputs("</nav>\n", out);
	for (size_t i = 0; i < r->ntabs; i++)
		if (html_shown(r, &r->tabs[i]))
			html_table(out, &r->tabs[i], top);
	if (r->agg->domains == 0)
		fputs("<p class=\"note\">No domain records in the input: the hosts were scanned by address or MX name.</p>\n",
		      out);
	if (r->by != AGG_BY_NONE)
		html_groups(out, r, top);
	fputs("<footer><p class=\"note\">Written by mxreport from mxscan records; this page loads nothing from "
	      "elsewhere.</p></footer>\n</body>\n</html>\n",
	      out);
	return ferror(out) ? -1 : 0;
}
