// fuzz-sources: analysis/agg.c scanner/jsonr.c analysis/smap.c analysis/rutil.c analysis/csv.c
// fuzz-sources: analysis/report_text.c analysis/report_json.c analysis/report_html.c scanner/json.c
// fuzz-libs: -lz
/*
 * fuzz_agg: what mxreport does with a record once jsonr has parsed it. The input is NDJSON
 * (lines split at '\n'); byte 0 picks the --by grouping (bits 0-1) and the CSV record type
 * (bit 2: host or domain). Each line is parsed (jr_parse); every object is folded into the
 * aggregates (agg_add) and written as a CSV row with the default fields of that type
 * (csv_record). Then the report is built (agg_report) and rendered as text, JSON and HTML.
 * Checks, aborting on any violation (besides ASan/UBSan's): every object is counted under
 * exactly one type (hosts, domains, certificates, scans, other), those without schema "1" at
 * most once more, CSV rows and every renderer return 0.
 *
 * Seeds (tests/fuzz/corpus/agg/) are records of real scans: hostile.t's fleet (hostile and
 * healthy servers, --enum full with handshakes; one file per record type and status) and
 * resume.t's domain scan (domain records and their hosts).
 */
#include "../../analysis/agg.h"
#include "../../analysis/csv.h"
#include "mxscan/jsonr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static struct jr_doc doc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum agg_by bys[] = { AGG_BY_NONE, AGG_BY_PROVIDER, AGG_BY_COUNTRY, AGG_BY_ASN };
	struct agg a;
	struct report rep;
	struct rin_stats in;
	struct csv csv;
	const char *files[] = { "fuzz" };
	FILE *null;
	char *buf;
	size_t i = 1, objects = 0;
	uint64_t line = 0;

	if (size < 1 || size > (1u << 20))
		return 0;
	null = fopen("/dev/null", "w");
	CHECK(null);
	agg_init(&a, bys[data[0] & 3]);
	CHECK(csv_init(&csv, null, (data[0] & 4) ? "domain" : "host", NULL) == 0);
	memset(&in, 0, sizeof in);
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t len = nl ? (size_t)(nl - (data + i)) : size - i;

		line++;
		in.lines++;
		buf = malloc(len + 1); /* jr_parse writes buf[len] */
		CHECK(buf);
		memcpy(buf, data + i, len);
		if (jr_parse(&doc, buf, len) == 0 && doc.root && doc.root->type == JR_OBJECT) {
			in.records++;
			objects++;
			agg_add(&a, doc.root);
			CHECK(csv_record(&csv, doc.root, "fuzz", line) == 0);
		} else {
			in.malformed++;
		}
		free(buf);
		i += len + 1;
	}
	CHECK(a.hosts + a.domains + a.certificates + a.scans + a.other_types == objects);
	CHECK(a.bad_schema <= objects);
	CHECK(agg_report(&a, &in, files, 1, &rep) == 0);
	CHECK(report_text(null, &rep, data[0] & 8 ? 3 : 0) == 0);
	CHECK(report_json(null, &rep) == 0);
	CHECK(report_html(null, &rep, 0) == 0);
	report_free(&rep);
	csv_free(&csv);
	agg_free(&a);
	fclose(null);
	return 0;
}
