/*
 * geo: country and autonomous system of an address, from MaxMind DB files
 * (libmaxminddb). Any GeoLite2- or DB-IP-style database works: country
 * databases (GeoLite2-Country, DB-IP country lite: country.iso_code), city
 * databases (the same key; only the country is taken), ASN databases
 * (GeoLite2-ASN, DB-IP ASN lite: autonomous_system_number and
 * autonomous_system_organization) and flat ones (ip-location-db:
 * country_code). The databases are asked in the order they were opened, each
 * only for the fields still missing, so the first one that has a field wins;
 * the AS organization comes from the database that gave the AS number.
 *
 * Thread safety: the databases are opened read-only (memory-mapped) once and
 * shared; libmaxminddb lookups only read the MMDB_s and the mapping
 * (libmaxminddb(3), THREAD SAFETY), so worker threads call geo_lookup() on the
 * same handle without locks.
 */
#ifndef MXSCAN_GEO_H
#define MXSCAN_GEO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GEO_MAX_DBS 4

struct geo_info {
	int found;       /* some database had an entry for the address */
	char country[8]; /* ISO 3166-1 alpha-2, "" when unknown */
	uint32_t asn;    /* 0 when unknown */
	char as_org[128];
};

struct geo;

/* An empty set of databases (geo_lookup finds nothing until one is added). NULL: out of memory. */
struct geo *geo_new(void);
/* Open path and add it. A file that is missing or is not a MaxMind DB gives -1
 * and a message in err naming the problem; nothing is added then. */
int geo_add(struct geo *g, const char *path, char *err, size_t errlen);
/* Number of databases added. */
unsigned geo_count(const struct geo *g);
/* Look up a numeric IPv4 or IPv6 address. Fills out (zeroed first) and returns
 * 1 when some database knows the address, 0 when none does or ip is not an
 * address. Safe to call from several threads at once. */
int geo_lookup(const struct geo *g, const char *ip, struct geo_info *out);
/* The same for an address the caller already holds (AF_INET or AF_INET6; the port is ignored). */
int geo_lookup_sa(const struct geo *g, const struct sockaddr *sa, struct geo_info *out);
/* geo_new plus geo_add of each file given (either may be NULL): the databases of --geoip and
 * --asn-db. NULL with a message naming the option in err when a file is missing or is not a
 * MaxMind DB, or on ENOMEM. */
struct geo *geo_open(const char *geoip, const char *asn_db, char *err, size_t errlen);
void geo_free(struct geo *g);

#endif
