/*
 * geo: address -> country and AS from MaxMind DB files (contract in
 * include/mxscan/geo.h).
 *
 * Design. Each database is opened with MMDB_MODE_MMAP; the MMDB_s is never
 * written after MMDB_open, so it is shared by every thread. A lookup parses
 * the scanner's sockaddr, or a numeric address string (addr_parse: no resolver is ever involved)
 * and asks each database, in the order added, for the fields still missing:
 * country.iso_code, else country_code (flat schemas), and
 * autonomous_system_number / autonomous_system_organization. Values are
 * copied bounded and checked for type; strings are cut at a UTF-8 character
 * boundary so records stay valid JSON text.
 */
#include "mxscan/geo.h"
#include "mxscan/target.h"

#include <maxminddb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct geo {
	unsigned n;
	MMDB_s db[GEO_MAX_DBS];
};

struct geo *geo_new(void)
{
	return calloc(1, sizeof(struct geo));
}

unsigned geo_count(const struct geo *g)
{
	return g ? g->n : 0;
}

int geo_add(struct geo *g, const char *path, char *err, size_t errlen)
{
	int st;

	if (g->n >= GEO_MAX_DBS) {
		snprintf(err, errlen, "at most %d databases", GEO_MAX_DBS);
		return -1;
	}
	st = MMDB_open(path, MMDB_MODE_MMAP, &g->db[g->n]);
	if (st == MMDB_FILE_OPEN_ERROR) {
		snprintf(err, errlen, "cannot open %s (%s)", path, MMDB_strerror(st));
		return -1;
	}
	if (st != MMDB_SUCCESS) {
		snprintf(err, errlen, "%s is not a MaxMind DB (.mmdb) file: %s", path, MMDB_strerror(st));
		return -1;
	}
	g->n++;
	return 0;
}

/* Copy a UTF-8 string of len bytes into out (cap bytes), cut at a character boundary. */
static void geo_copy(char *out, size_t cap, const char *s, size_t len)
{
	if (len >= cap) {
		len = cap - 1;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(out, s, len);
	out[len] = '\0';
}

static int geo_string(MMDB_entry_s *e, char *out, size_t cap, const char *const *path)
{
	MMDB_entry_data_s d;

	if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING ||
	    d.data_size == 0)
		return 0;
	geo_copy(out, cap, d.utf8_string, d.data_size);
	return 1;
}

static int geo_uint(MMDB_entry_s *e, uint32_t *out, const char *const *path)
{
	MMDB_entry_data_s d;

	if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data)
		return 0;
	switch (d.type) {
	case MMDB_DATA_TYPE_UINT16: *out = d.uint16; return *out != 0;
	case MMDB_DATA_TYPE_UINT32: *out = d.uint32; return *out != 0;
	case MMDB_DATA_TYPE_INT32: *out = d.int32 > 0 ? (uint32_t)d.int32 : 0; return *out != 0;
	case MMDB_DATA_TYPE_UINT64: *out = d.uint64 <= UINT32_MAX ? (uint32_t)d.uint64 : 0; return *out != 0;
	default: return 0;
	}
}

int geo_lookup(const struct geo *g, const char *ip, struct geo_info *out)
{
	struct sockaddr_storage ss;

	if (!ip || addr_parse(ip, &ss) < 0) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return geo_lookup_sa(g, (const struct sockaddr *)&ss, out);
}

int geo_lookup_sa(const struct geo *g, const struct sockaddr *sa, struct geo_info *out)
{
	static const char *const p_iso[] = { "country", "iso_code", NULL };
	static const char *const p_cc[] = { "country_code", NULL };
	static const char *const p_asn[] = { "autonomous_system_number", NULL };
	static const char *const p_org[] = { "autonomous_system_organization", NULL };
	memset(out, 0, sizeof(*out));
	if (!g || !g->n || !sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return 0;
	for (unsigned i = 0; i < g->n; i++) {
		int mmerr = MMDB_SUCCESS;
		MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&g->db[i], sa, &mmerr);

		if (mmerr != MMDB_SUCCESS || !r.found_entry)
			continue; /* includes an IPv6 address in an IPv4-only database */
		out->found = 1;
		if (!out->country[0] && !geo_string(&r.entry, out->country, sizeof(out->country), p_iso))
			geo_string(&r.entry, out->country, sizeof(out->country), p_cc);
		if (!out->asn && geo_uint(&r.entry, &out->asn, p_asn))
			geo_string(&r.entry, out->as_org, sizeof(out->as_org), p_org);
	}
	return out->found;
}

struct geo *geo_open(const char *geoip, const char *asn_db, char *err, size_t errlen)
{
	const char *files[2] = { geoip, asn_db }, *opts[2] = { "--geoip", "--asn-db" };
	struct geo *g = geo_new();
	char e[400];

	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (int i = 0; i < 2; i++) {
		if (files[i] && geo_add(g, files[i], e, sizeof(e)) < 0) {
			snprintf(err, errlen, "%s: %s", opts[i], e);
			geo_free(g);
			return NULL;
		}
	}
	return g;
}

void geo_free(struct geo *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n; i++)
		MMDB_close(&g->db[i]);
	free(g);
}
