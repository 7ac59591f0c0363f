/*
 * resolve: turn host-name targets into address targets (A/AAAA) before a scan, with c-ares.
 *
 * resolve_targets looks up every distinct host name of a target set once (names compare
 * case-insensitively; "mx1:25" and "mx1:465" share one lookup), A and/or AAAA as asked,
 * with at most RESOLVE_MAX_INFLIGHT queries outstanding (c-ares on one channel loses
 * answers to UDP receive-buffer overflow when thousands are in flight; RECIPES.md section 4).
 * It drives c-ares from its own epoll loop (ARES_OPT_SOCK_STATE_CB + ares_process_fd) and
 * returns when every lookup has ended. Queries go to the DNS only: no /etc/hosts, no search
 * list (names are taken as absolute).
 *
 * Output order is deterministic whatever order answers arrive in: targets come out in input
 * order; the addresses of one name are sorted, IPv4 before IPv6, then by address bytes.
 */
#ifndef MXSCAN_RESOLVE_H
#define MXSCAN_RESOLVE_H

#include <stddef.h>
#include <stdio.h>

#include "mxscan/target.h"

#define RESOLVE_MAX_INFLIGHT       100
#define RESOLVE_DEFAULT_TIMEOUT_MS 2000
#define RESOLVE_DEFAULT_TRIES      2

/* Outcome of a name's lookup. The numeric order is not a priority order. */
enum resolve_status {
	RESOLVE_OK = 0,   /* at least one address */
	RESOLVE_NXDOMAIN, /* the name does not exist (RCODE 3) */
	RESOLVE_NODATA,   /* the name exists but has no A/AAAA of the families asked */
	RESOLVE_SERVFAIL, /* RCODE 2 */
	RESOLVE_REFUSED,  /* RCODE 5 */
	RESOLVE_TIMEOUT,  /* no answer within timeout_ms x tries */
	RESOLVE_ERROR,    /* anything else: connection refused, malformed answer, FORMERR... */
};
#define RESOLVE_STATUS_COUNT 7

/* "ok", "nxdomain", "nodata", "servfail", "refused", "timeout", "error"; "?" otherwise. */
const char *resolve_status_name(enum resolve_status status);

struct resolve_stats {
	size_t names;                        /* distinct host names looked up */
	size_t resolved;                     /* names that gave at least one address */
	size_t addresses;                    /* address targets added to out from lookups (after dedupe) */
	size_t passthrough;                  /* IP-literal targets copied to out (after dedupe) */
	size_t partial;                      /* resolved names whose other family failed (not NODATA) */
	size_t queries;                      /* DNS queries issued (one per name and family) */
	size_t failed[RESOLVE_STATUS_COUNT]; /* names without any address, by status */
};

/*
 * Called once for every input target whose name gave no address (so twice for "mx1:25" and
 * "mx1:465" when mx1 is NXDOMAIN), in input order, after all lookups have ended. t points
 * into the input set; reason is a static string ("NXDOMAIN", "no A/AAAA record", ...).
 * When both families were asked and they failed differently, status is the most telling
 * one: NXDOMAIN, then TIMEOUT, SERVFAIL, REFUSED, ERROR, NODATA.
 */
typedef void (*resolve_fail_cb)(const struct target *t, enum resolve_status status, const char *reason, void *ud);

/*
 * Resolve the host-name targets of in (those without has_addr) and add to out, in input
 * order:
 *  - every IP-literal target of in, unchanged;
 *  - for each host-name target, one target per address found, with host = the address text,
 *    addr/addrlen/has_addr set, sni = the target's sni, or its host name when sni is empty,
 *    and tag, port and line copied.
 * out dedupes as ts_add does, so two names sharing an address on the same port yield one
 * target (the first name's). in and out must be different sets.
 *
 * servers: NULL-terminated list of at most 16 "IP", "IP:port", "[IPv6]:port" (port 53 by
 * default), tried in order on timeout; NULL = the system's /etc/resolv.conf. A SERVFAIL or
 * REFUSED answer is final for that query (not retried on the next server), so that it is
 * reported as such. timeout_ms and tries (<= 0: the defaults above) are per query, as c-ares
 * applies them (its timeout doubles on each round of retries).
 * families: AF_INET (A only), AF_INET6 (AAAA only) or AF_UNSPEC (both).
 * errs (may be NULL): one line per failed name, "resolve: NAME: REASON", and one per partial
 * result, "resolve: NAME: warning: AAAA REASON (A ok)". st (may be NULL) is zeroed, then
 * filled. on_fail (may be NULL) gets each failed target, with ud.
 * Failed lookups are results, not errors: returns 0 when every lookup has ended, -1 on a setup
 * error (invalid server string or families, c-ares initialisation) or ENOMEM, reported on errs.
 */
int resolve_targets(const struct target_set *in, const char *const *servers, int timeout_ms, int tries, int families,
		    struct target_set *out, FILE *errs, struct resolve_stats *st, resolve_fail_cb on_fail, void *ud);

/* Point a c-ares channel (ares_channel, passed as void * so this header needs
 * no ares.h) at servers ("IP", "IP:port", "[IPv6]:port"; port 53 by default).
 * Errors go to errs prefixed with who. 0, or -1. Shared by resolve.c and mx.c. */
/* c-ares driven from an epoll set, shared by resolve.c and mx.c: the socket
 * callback (pass a struct dns_poll as its data) and one wait-and-process step
 * bounded by c-ares' next timeout. The step returns 0, or -1 with a message. */
struct dns_poll {
	int ep;       /* epoll descriptor */
	int ep_error; /* errno of a failed epoll_ctl in the callback */
};
void resolve_sock_state(void *data, int fd, int readable, int writable);
int resolve_poll_step(void *channel, struct dns_poll *p, FILE *errs, const char *who);

int resolve_set_servers(void *channel, const char *const *servers, FILE *errs, const char *who);

#endif
