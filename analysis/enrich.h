/*
 * enrich: mxreport's --geoip/--asn-db. Host records without a geo object get
 * one from the MaxMind databases (scanner/geo.c, the same lookup mxscan makes
 * at scan time), attached to the parsed record before the report sees it, so
 * every command that reads records (summary, json, html, csv) treats it as if
 * the scanner had written it. Records that already carry geo are left alone.
 */
#ifndef MXREPORT_ENRICH_H
#define MXREPORT_ENRICH_H

#include "mxscan/jsonr.h"
#include "mxscan/geo.h"

#include <stdint.h>

struct enrich {
	struct geo *geo;
	struct jr_val obj;  /* the geo member attached to the current record */
	struct jr_val m[3]; /* country, asn, as_org */
	struct geo_info gi;
	char asn_text[16];
	struct jr_val *attached_after; /* the record's last member, whose next is obj; NULL when none attached */
	struct jr_val *rec;
};

/* Open the databases (either may be NULL). -1 with a message in err when one is not a MaxMind DB. */
int enrich_init(struct enrich *en, const char *geoip, const char *asn_db, char *err, size_t errlen);
/* Attach a geo object to rec when it is a host record with an ip and no geo. */
void enrich_attach(struct enrich *en, struct jr_val *rec);
/* Undo enrich_attach (before the parser reuses the record's nodes). */
void enrich_detach(struct enrich *en);
void enrich_free(struct enrich *en);

#endif
