/*
 * resume: what an earlier, interrupted run of the same scan already wrote, so that
 * `mxscan --resume -o FILE` scans only the rest and every target ends up in FILE once.
 *
 * The output is read back with recw_read (exactly the complete gzip members, or the whole
 * lines of a plain file, that recw_open's append keeps), each line parsed with mxreport's JSON
 * reader, and the keys of the records collected:
 *  - host records with an address: (ip, port), so the engine skips that IP:port;
 *  - host records without an address (a name that did not resolve): (input, port);
 *  - domain records: the domain (a domain is done once its domain record is written; domain
 *    records come after all host records of a scan);
 *  - certificate records: their SHA-256, so a DER already in the file is not written again;
 *  - the scan_id of the first record, which the resumed run keeps.
 * For host records it also keeps the small summary that domain verdicts are computed from
 * (status, STARTTLS, TLS answer, least grade, certificate verdicts), so a domain whose hosts
 * were scanned before the interruption still gets a complete domain record.
 */
#ifndef MXSCAN_RESUME_H
#define MXSCAN_RESUME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mxscan/result.h"

struct resume;

/*
 * Read path (a missing file is an empty resume). NULL with a message in err when the file
 * cannot be read or holds a line that is not a JSON object (then it is not mxscan's output and
 * nothing is appended to it).
 */
struct resume *resume_load(const char *path, char *err, size_t errlen);
void resume_free(struct resume *r);

/* Host record of addr:port present; when sum is not NULL it receives its summary (done = 1,
 * domain_match bits recomputed from the names in the record, see resume.c). */
int resume_host_done(const struct resume *r, const struct sockaddr *addr, uint16_t port, struct host_summary *sum);
/* The leaf of the host record of addr:port (its DNS names as recorded) matches domain. */
int resume_host_domain_match(const struct resume *r, const struct sockaddr *addr, uint16_t port, const char *domain);
/* Host record without address for input name (port 0: the default port) present. */
int resume_name_done(const struct resume *r, const char *name, uint16_t port);
/* Domain record of domain present (case-insensitive, trailing dot ignored). */
int resume_domain_done(const struct resume *r, const char *domain);
/* The SHA-256 of every certificate record, n of them (32 bytes each). */
const uint8_t (*resume_certs(const struct resume *r, size_t *n))[32];
/* scan_id of the first record that has one, "" when none. */
const char *resume_scan_id(const struct resume *r);
/* Counts: records read, host records (with and without address), domain records. */
void resume_counts(const struct resume *r, uint64_t *records, uint64_t *hosts, uint64_t *domains);

#endif
