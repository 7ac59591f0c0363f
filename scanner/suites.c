/*
 * suites: lookups over the cipher suite table.
 *
 * The table itself (suite_table[], sorted by code, codes unique) is generated
 * into suites_table.c by scripts/gen_suites.sh from datasets/suites.csv, which
 * validates the CSV and sorts it. This file only reads it: lookup by code is a
 * binary search (about nine comparisons for ~370 entries), lookup by name a
 * linear scan (names are looked up when parsing options and reports, never per
 * packet). Nothing is built at run time, so every function is thread-safe
 * without locks.
 */
#include "mxscan/suites.h"

#include <string.h>

/* Defined in the generated suites_table.c; deliberately not in the public
 * header, so that callers go through the functions below. */
extern const struct suite_info suite_table[];
extern const size_t suite_table_len;

size_t suites_count(void)
{
	return suite_table_len;
}

const struct suite_info *suite_at(size_t i)
{
	return i < suite_table_len ? &suite_table[i] : NULL;
}

const struct suite_info *suite_by_code(uint16_t code)
{
	size_t lo = 0, hi = suite_table_len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint16_t c = suite_table[mid].code;

		if (c == code)
			return &suite_table[mid];
		if (c < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct suite_info *suite_by_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < suite_table_len; i++)
		if (strcmp(suite_table[i].name, name) == 0)
			return &suite_table[i];
	return NULL;
}

/* Wire versions: SSL 3.0 is {3,0} (RFC 6101 section 5.6.1); TLS 1.0..1.2 are
 * {3,1}..{3,3} (RFC 2246, 4346, 5246 section 6.2.1); TLS 1.3 is 0x0304, sent
 * in supported_versions (RFC 8446 section 4.2.1). */
uint8_t suite_version_bit(uint16_t wire_version)
{
	switch (wire_version) {
	case 0x0300: return SV_SSL3;
	case 0x0301: return SV_TLS10;
	case 0x0302: return SV_TLS11;
	case 0x0303: return SV_TLS12;
	case 0x0304: return SV_TLS13;
	default: return 0;
	}
}

size_t suites_for_version(uint16_t wire_version, uint16_t *out, size_t cap)
{
	uint8_t bit = suite_version_bit(wire_version);
	size_t n = 0;

	if (!bit)
		return 0;
	for (size_t i = 0; i < suite_table_len; i++) {
		const struct suite_info *s = &suite_table[i];

		/* SCSVs (RFC 5746 section 3.3, RFC 7507) are signals a client
		 * adds on purpose, not suites a server can select. */
		if (!(s->versions & bit) || (s->flags & SF_SIGNALING))
			continue;
		if (n < cap)
			out[n] = s->code;
		n++;
	}
	return n;
}

const char *tls_version_name(uint16_t wire_version)
{
	switch (wire_version) {
	case 0x0300: return "SSLv3";
	case 0x0301: return "TLSv1.0";
	case 0x0302: return "TLSv1.1";
	case 0x0303: return "TLSv1.2";
	case 0x0304: return "TLSv1.3";
	default: return "unknown";
	}
}
