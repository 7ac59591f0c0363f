/*
 * zdns: MX answers resolved elsewhere, as zdns (github.com/zmap/zdns) prints them, one JSON
 * object per line.
 *
 * Accepted shapes (the result may sit at the top level, zdns 1.x, or under results.MXLOOKUP or
 * results.MX, zdns 2.x):
 *   mxlookup  {"name":"example.com","status":"NOERROR","data":{"exchanges":[{"name":"mx1.example.com",
 *             "preference":10,"ipv4_addresses":["192.0.2.1"],"ipv6_addresses":["2001:db8::1"],...}]}}
 *             The MX set and every exchange's addresses come from the line: nothing is asked.
 *   MX        {"name":"example.com","status":"NOERROR","data":{"answers":[{"type":"MX","answer":
 *             "mx1.example.com.","preference":10,...}]}}
 *             The MX set comes from the line (answers of another type, e.g. a CNAME, are skipped);
 *             the exchanges' A/AAAA are looked up by mx_resolve.
 * status: NOERROR (MX records; none: nodata; the single record "0 .": null MX), NXDOMAIN,
 * SERVFAIL, REFUSED, TIMEOUT and ITERATIVE_TIMEOUT (timeout), NO_ANSWER and NO_RECORD (nodata);
 * any other status (ERROR, ILLEGAL_INPUT, ...) is an error. Unknown members are ignored.
 * Exchange names and the domain must be host names as target lines accept them; addresses
 * must be IPv4 / IPv6 literals of the right family; preferences 0..65535. Anything else makes
 * the line invalid, with a message.
 */
#ifndef MXSCAN_ZDNS_H
#define MXSCAN_ZDNS_H

#include <stddef.h>

#include "mxscan/jsonr.h"
#include "mxscan/mx.h"

#define ZDNS_MAX_LINE (256u * 1024u) /* bytes in one zdns line */

/*
 * Parse the zdns line buf[0..len) (buf[len] must be writable: the reader decodes in place) with
 * the reusable document jd. On success *dom is filled (domain, status, nmx, mx_total, mx and
 * source MX_SRC_ZDNS or MX_SRC_ZDNS_MX; rank and line are zeroed) with names, MX lists and
 * given exchanges in store, and 0 is returned. On -1, err holds a message (without the line
 * number) and *dom is unspecified; ENOMEM also returns -1 ("out of memory").
 */
int zdns_parse_line(struct jr_doc *jd, char *buf, size_t len, struct mx_store *store, struct mx_domain *dom, char *err,
		    size_t errlen);

#endif
