/*
 * fout: the fleet's ground truth for scanners and tests. The manifest is one
 * JSON line per address:port saying what a correct scan must find there; the
 * zone file serves the demo domains' MX records (and the DNS oddities the
 * config asks for) from a local authoritative server (scripts/dns.sh).
 * Schema: datasets/fleet/README.md.
 */
#ifndef MXFLEET_FOUT_H
#define MXFLEET_FOUT_H

#include "fleet/fconf.h"

/* Write the manifest to path ("-" = stdout). 0 or -1 (message printed). */
int fout_manifest(const struct fconf *c, const char *path);

/* Write an RFC 1035 zone for origin (e.g. "fleet.test"). Names outside the
 * origin are skipped with a warning. 0 or -1 (message printed). */
int fout_zone(const struct fconf *c, const char *path, const char *origin);

#endif
