/*
 * test_geo: address -> country / AS from MaxMind DBs (scanner/geo.c).
 *
 * Writes its databases with tests/integration/lib/mkmmdb.pl (Debian's
 * libmaxmind-db-writer-perl) into a temporary directory: the GeoLite2 country
 * and ASN layouts, a flat ip-location-db one (country_code), a combined one
 * with an over-long UTF-8 AS name and the largest 32-bit ASN; then checks
 * IPv4, IPv6 and v4-mapped lookups, misses, precedence between databases, a
 * non-MMDB file, and that four threads sharing one handle get the same
 * answers as one thread.
 */
#include "mxscan/geo.h"
#include "tap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MXSCAN_DATADIR
#define MXSCAN_DATADIR "datasets"
#endif
#define MKMMDB MXSCAN_DATADIR "/../tests/integration/lib/mkmmdb.pl"

static char dir[64];

static int mkdb(const char *name, const char *style, const char *nets)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "perl '%s' '%s/%s' %s %s", MKMMDB, dir, name, style, nets);
	return system(cmd);
}

static char *path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static const char *const addrs[] = { "127.28.1.9", "127.28.2.200", "127.28.3.1", "127.28.4.1", "::1", "10.0.0.1" };
#define NADDR (sizeof(addrs) / sizeof(addrs[0]))

struct th {
	const struct geo *g;
	struct geo_info want[NADDR];
	int mismatches;
};

static void *worker(void *arg)
{
	struct th *t = arg;

	for (int round = 0; round < 20000; round++) {
		struct geo_info gi;
		size_t k = (size_t)round % NADDR;

		geo_lookup(t->g, addrs[k], &gi);
		if (memcmp(&gi, &t->want[k], sizeof(gi)) != 0)
			t->mismatches++;
	}
	return NULL;
}

int main(void)
{
	struct geo *g;
	struct geo_info gi;
	char err[512], longorg[400];
	size_t n = 0;

	snprintf(dir, sizeof(dir), "/tmp/test_geo.XXXXXX");
	if (!mkdtemp(dir)) {
		ok(0, "temporary directory");
		return done_testing();
	}
	/* an AS name longer than geo_info.as_org, made of 2-byte characters ("é") */
	n += (size_t)snprintf(longorg, sizeof(longorg), "'127.28.2.0/24=FR,4294967295,");
	for (int i = 0; i < 150; i++)
		n += (size_t)snprintf(longorg + n, sizeof(longorg) - n, "\xc3\xa9");
	snprintf(longorg + n, sizeof(longorg) - n, "'");
	ok(mkdb("country.mmdb", "country", "127.28.1.0/24=DE 127.28.2.0/24=FR ::1/128=JP") == 0 &&
		   mkdb("asn.mmdb", "asn", "'127.28.1.0/24=,64500,Test AS DE' '127.28.3.0/24=,64502,'") == 0 &&
		   mkdb("flat.mmdb", "flat", "127.28.0.0/16=NL") == 0 &&
		   mkdb("combined.mmdb", "combined", longorg) == 0,
	   "test databases written with mkmmdb.pl");

	g = geo_new();
	ok(g && geo_add(g, path("country.mmdb"), err, sizeof(err)) == 0 &&
		   geo_add(g, path("asn.mmdb"), err, sizeof(err)) == 0 && geo_count(g) == 2,
	   "country and ASN databases open");
	ok(geo_lookup(g, "127.28.1.9", &gi) == 1, "127.28.1.9 found");
	is_str(gi.country, "DE", "country from country.iso_code");
	is_int(gi.asn, 64500, "asn from the second database");
	is_str(gi.as_org, "Test AS DE", "as_org");
	ok(geo_lookup(g, "::ffff:127.28.1.9", &gi) == 1 && strcmp(gi.country, "DE") == 0 && gi.asn == 64500,
	   "an IPv4-mapped IPv6 address finds the IPv4 entry");
	ok(geo_lookup(g, "::1", &gi) == 1 && strcmp(gi.country, "JP") == 0 && gi.asn == 0 && !gi.as_org[0],
	   "IPv6 ::1: country only");
	ok(geo_lookup(g, "127.28.3.7", &gi) == 1 && !gi.country[0] && gi.asn == 64502 && !gi.as_org[0],
	   "ASN without organisation: asn only");
	ok(geo_lookup(g, "127.28.4.1", &gi) == 0 && !gi.found && !gi.country[0] && !gi.asn,
	   "an address in no database: not found, everything empty");
	ok(geo_lookup(g, "mx1.example.net", &gi) == 0 && geo_lookup(g, "", &gi) == 0 && geo_lookup(g, NULL, &gi) == 0,
	   "names and empty strings are not looked up (no DNS)");

	/* four threads on the same handle see what one thread sees */
	{
		struct th t[4];
		pthread_t id[4];
		int bad = 0;

		memset(t, 0, sizeof(t));
		for (int i = 0; i < 4; i++) {
			t[i].g = g;
			for (size_t k = 0; k < NADDR; k++)
				geo_lookup(g, addrs[k], &t[i].want[k]);
		}
		for (int i = 0; i < 4; i++)
			pthread_create(&id[i], NULL, worker, &t[i]);
		for (int i = 0; i < 4; i++) {
			pthread_join(id[i], NULL);
			bad += t[i].mismatches;
		}
		is_int(bad, 0, "4 threads x 20000 lookups on one shared handle: every answer as single-threaded");
	}
	geo_free(g);

	/* order: the first database that has a field wins; flat country_code schema */
	g = geo_new();
	ok(geo_add(g, path("flat.mmdb"), err, sizeof(err)) == 0 &&
		   geo_add(g, path("country.mmdb"), err, sizeof(err)) == 0,
	   "flat and country databases open");
	ok(geo_lookup(g, "127.28.1.9", &gi) == 1 && strcmp(gi.country, "NL") == 0,
	   "flat country_code read; the first database given wins");
	geo_free(g);

	g = geo_new();
	ok(geo_add(g, path("combined.mmdb"), err, sizeof(err)) == 0, "combined database opens");
	ok(geo_lookup(g, "127.28.2.1", &gi) == 1 && strcmp(gi.country, "FR") == 0 && gi.asn == 4294967295u,
	   "combined: country and the largest 32-bit ASN from one file");
	n = strlen(gi.as_org);
	ok(n > 0 && n < sizeof(gi.as_org) && n % 2 == 0 && (unsigned char)gi.as_org[n - 2] == 0xc3 &&
		   (unsigned char)gi.as_org[n - 1] == 0xa9,
	   "an over-long AS name is cut at a UTF-8 character boundary (%zu bytes)", n);

	/* files that are not MaxMind DBs */
	{
		FILE *f = fopen(path("text.mmdb"), "w");

		if (f) {
			fputs("not a database\n", f);
			fclose(f);
		}
		ok(geo_add(g, path("text.mmdb"), err, sizeof(err)) < 0 && strstr(err, "is not a MaxMind DB") &&
			   geo_count(g) == 1,
		   "a text file is refused with a message (%s), nothing added", err);
		ok(geo_add(g, path("missing.mmdb"), err, sizeof(err)) < 0 && strstr(err, "cannot open"),
		   "a missing file is refused (%s)", err);
		ok(geo_add(g, "/dev/null", err, sizeof(err)) < 0, "an empty file is refused (%s)", err);
	}
	geo_free(g);
	ok(geo_lookup(NULL, "127.28.1.9", &gi) == 0, "no databases: nothing found");

	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			diag("could not remove %s", dir);
	}
	return done_testing();
}
