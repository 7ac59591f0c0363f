/*
 * mx: domain -> MX (sorted by preference) -> A and AAAA of each exchange, with c-ares.
 *
 * mx_resolve takes a list of mail domains and fills, for each, the outcome of its MX query and
 * the addresses of every exchange kept. Every answer is data: NXDOMAIN, SERVFAIL, a null MX,
 * an exchange that is an alias or has no address are recorded, never reported as errors.
 *
 * Results live in a store (struct mx_store): each exchange once, with its addresses; a domain
 * holds its name and a short array of (exchange, preference), so memory follows what was
 * answered, not the caps. Domains whose MX set came from input (zdns.h) share the store.
 *
 * Lookups are shared: the A/AAAA of an exchange name (compared case-insensitively, trailing
 * dot ignored) is asked once per store whatever the number of domains pointing at it, since
 * large providers serve millions of domains from a few hosts. At most `inflight` queries are
 * outstanding on the one c-ares channel (beyond a few hundred, answers are lost to UDP
 * receive-buffer overflow: RECIPES.md section 4); c-ares is driven from a private epoll loop.
 * Queries go to the DNS only (no /etc/hosts, no search list), with RD and AD set and an EDNS0
 * OPT of 1232 bytes (see mx_resolve).
 *
 * Output is deterministic whatever order answers arrive in: exchanges are sorted by
 * preference, then name; the addresses of a host are sorted, IPv4 before IPv6, then by bytes.
 */
#ifndef MXSCAN_MX_H
#define MXSCAN_MX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define MX_MAX_HOSTS          16 /* MX records kept per domain (mx_total counts all) */
#define MX_MAX_ADDRS          16 /* addresses kept per MX host (naddr_total counts all) */

#define MX_DEFAULT_INFLIGHT   100
#define MX_MAX_INFLIGHT       8192 /* larger requests are clamped (16-bit query IDs must stay unique) */
#define MX_DEFAULT_TIMEOUT_MS 2000
#define MX_DEFAULT_TRIES      2
#define MX_EDNS_UDP_SIZE      1232 /* DNS flag day 2020 */

/* Outcome of a lookup. The numeric order is not a priority order. */
enum mx_status {
	MXS_OK = 0,   /* MX records / at least one address */
	MXS_NXDOMAIN, /* the name does not exist (RCODE 3) */
	MXS_NODATA,   /* the name exists without records of the type asked */
	MXS_NULL_MX,  /* RFC 7505 null MX: the single record "0 ." (the domain accepts no mail) */
	MXS_SERVFAIL, /* RCODE 2 */
	MXS_REFUSED,  /* RCODE 5 */
	MXS_TIMEOUT,  /* no answer within timeout_ms over all tries */
	MXS_ERROR,    /* anything else: FORMERR, NOTIMP, malformed answer, bad name, unreachable server */
	MXS__COUNT
};

/* "ok", "nxdomain", "nodata", "null-mx", "servfail", "refused", "timeout", "error"; "?" otherwise. */
const char *mx_status_name(enum mx_status s);

/* An address as DNS gives it: 4 (IPv4) or 16 (IPv6) bytes, no port, no sockaddr. */
struct mx_addr {
	uint8_t v6; /* 0: IPv4 in a[0..4), 1: IPv6 in a[0..16) */
	uint8_t a[16];
};

/*
 * An exchange: one per distinct name (compared case-insensitively, trailing dot ignored) and
 * origin in a store, however many domains name it. Its addresses are kept once here; domains
 * refer to it. Pointers into the store stay valid until mx_store_free.
 */
struct mx_host {
	const char *name;            /* as first seen, trailing dot stripped; the domain itself for an
					implicit MX */
	const char *cname_target;    /* end of the CNAME chain of its A/AAAA answer (trailing dot stripped);
					NULL when the name is not an alias (RFC 2181 section 10.3 forbids it
					for an exchange) */
	const struct mx_addr *addr;  /* naddr kept: sorted, IPv4 first, no duplicates */
	uint32_t naddr, naddr_total; /* kept (at most MX_MAX_ADDRS) / distinct addresses found */
	enum mx_status addr_status;  /* OK: at least one address; else the most telling failure of the
					families asked: NXDOMAIN, TIMEOUT, SERVFAIL, REFUSED, ERROR, NODATA */
	uint8_t given;               /* from input (zdns mxlookup): addresses not looked up */
	int8_t st[2];                /* internal: per family lookup state */
};

/* One MX of a domain. */
struct mx_ref {
	const struct mx_host *host; /* NULL for a "." exchange listed among other MX (RFC 7505
				       section 3 forbids it; kept as data: name "", not looked up) */
	const char *name;           /* the exchange as this domain's answer spells it (trailing dot
				       stripped) when it differs from host->name in case; else NULL */
	uint16_t pref;              /* MX preference; 0 for an implicit MX */
};

/* Name of an MX as the domain's answer gives it ("" for a "." exchange). */
static inline const char *mx_ref_name(const struct mx_ref *r)
{
	return r->name ? r->name : r->host ? r->host->name : "";
}

/* Where a domain's MX set came from. */
enum mx_source {
	MX_SRC_DNS = 0, /* mx_resolve asked for it */
	MX_SRC_ZDNS,    /* a zdns mxlookup line: MX and addresses from input, nothing asked */
	MX_SRC_ZDNS_MX, /* a zdns MX line: MX from input, addresses asked by mx_resolve */
};

/* "dns", "zdns", "zdns". */
const char *mx_source_name(enum mx_source s);

/*
 * A mail domain: 32 bytes plus its MX list (24 bytes per MX); names and addresses live in
 * the store, exchanges once per store.
 */
struct mx_domain {
	/* input, set by the caller */
	const char *domain; /* mail domain, a trailing dot allowed (mx_store_str copies one in) */
	unsigned rank;      /* from ranked input, 0 if none (not used by mx_resolve) */
	unsigned line;      /* input line (not used by mx_resolve) */
	uint8_t source;     /* enum mx_source; mx_resolve leaves MX_SRC_ZDNS domains as they are and
			       only looks up the addresses of MX_SRC_ZDNS_MX ones */
	/* output, every field below is set by mx_resolve (or by mx_zdns_parse) */
	uint8_t status;      /* enum mx_status of the MX query: OK (MX records), NODATA (no MX: implicit MX
				per RFC 5321 section 5.1 tried), NULL_MX, NXDOMAIN, SERVFAIL, REFUSED,
				TIMEOUT, ERROR */
	uint8_t implicit_mx; /* no MX records: the domain's own A/AAAA used as the MX (RFC 5321 section 5.1) */
	uint8_t ad;          /* AD bit of the MX answer (only meaningful from a validating resolver) */
	uint16_t nmx;        /* entries in mx[] (at most MX_MAX_HOSTS) */
	uint16_t mx_total;   /* entries there would be without MX_MAX_HOSTS */
	struct mx_ref *mx;   /* nmx entries, in the store; sorted by preference, then name */
};

/*
 * The store behind a set of domains: an arena for names, MX lists and addresses, and the
 * table of exchanges (one per distinct name and origin). One store may serve several
 * mx_resolve calls and zdns lines; everything it holds is freed at once.
 */
struct mx_store;

struct mx_store *mx_store_new(void);
void mx_store_free(struct mx_store *s);
/* A NUL-terminated copy of s[0..len) in the store, NULL on ENOMEM. */
const char *mx_store_str(struct mx_store *s, const char *str, size_t len);
/* Bytes the store holds (arena blocks and tables), for statistics. */
size_t mx_store_bytes(const struct mx_store *s);
/* Distinct exchanges in the store. */
size_t mx_store_hosts(const struct mx_store *s);

/*
 * The exchange named name (trailing dot ignored, case-insensitive) of the given origin
 * (given = 1: from input with its addresses; 0: looked up by mx_resolve), added when new
 * (given: with no address, addr_status NODATA; looked up: not asked yet). NULL on ENOMEM.
 */
struct mx_host *mx_store_host(struct mx_store *s, const char *name, int given);
/*
 * Set the addresses of a given host from input: sorted, de-duplicated, capped at MX_MAX_ADDRS
 * as mx_resolve caps them (each family keeps at least half the slots it can fill);
 * addr_status OK when any, else NODATA. Only the first call for a host counts (the first input
 * line naming an exchange gives its addresses). Returns 0 or -1 (ENOMEM).
 */
int mx_store_set_addrs(struct mx_store *s, struct mx_host *h, struct mx_addr *a, size_t n);
/* An array of n MX entries in the store (zeroed), NULL on ENOMEM. */
struct mx_ref *mx_store_refs(struct mx_store *s, size_t n);
/* Point r at the exchange name (given: from input), keeping the spelling when it differs;
 * returns the host, NULL on ENOMEM. */
struct mx_host *mx_store_ref(struct mx_store *s, struct mx_ref *r, const char *name, int given);

struct mx_stats {
	size_t domains;
	size_t queries;               /* DNS lookups issued (MX, A, AAAA), retransmissions not counted */
	size_t answers;               /* lookups that got a DNS response, whatever its RCODE */
	size_t retries;               /* retransmissions: c-ares timeouts that were retried, EDNS fallbacks */
	size_t lost;                  /* lookups that never got a response (timeout or unreachable after all tries) */
	size_t hosts;                 /* distinct names looked up for addresses (exchanges and implicit-MX domains) */
	size_t by_status[MXS__COUNT]; /* domains by status of their MX query */
	unsigned inflight;            /* the in-flight limit used */
	size_t peak_inflight;         /* most lookups outstanding at once */
	double seconds;               /* wall time of the call */
};

/*
 * Resolve every domain in doms[0..n): MX, then A and/or AAAA of each distinct exchange, and
 * fill the output fields of each domain (the input fields are not changed). Names, MX lists
 * and exchanges go into store, which must outlive the domains' use. Domains whose source is
 * not MX_SRC_DNS are left as they are (no MX query); exchanges of the store that were never
 * asked (those of zdns MX lines) are looked up too. An exchange looked up by an earlier call
 * on the same store is not asked again.
 *
 * MX answer:
 *  - MX records: status OK, sorted by preference then name (case-insensitive), the first
 *    MX_MAX_HOSTS kept and looked up, mx_total = number of records.
 *  - the single record "0 .": status NULL_MX, nmx = mx_total = 0, nothing looked up.
 *  - NOERROR without MX (NODATA): the domain's own A/AAAA are looked up (RFC 5321 section 5.1).
 *    When they exist, or the lookup failed in a way that does not say they are absent (timeout,
 *    SERVFAIL, REFUSED, error), mx[0] is the domain itself with pref 0, implicit_mx = 1,
 *    nmx = mx_total = 1, and addr_status tells which; when the name has no address (NODATA,
 *    NXDOMAIN) nmx = 0. status stays NODATA in both cases, so the record can say so.
 *  - any other outcome: that status, nmx = mx_total = 0.
 *  ad is the AD bit of the MX response, whatever its RCODE (authenticated denial included).
 * Addresses: per host, A and AAAA as `families` asks; addresses are sorted and de-duplicated.
 * When more than MX_MAX_ADDRS exist, each family keeps at least half of the slots it can fill.
 *
 * DNS: servers is a NULL-terminated list of at most 16 "IP", "IP:port", "[IPv6]:port" (port 53
 * by default), tried in order on timeout, or NULL for /etc/resolv.conf. SERVFAIL and REFUSED
 * are final answers (not retried on the next server) so they are reported as such. timeout_ms
 * and tries (<= 0: the defaults above) apply per query as c-ares applies them (the timeout
 * doubles on each round). inflight: most queries outstanding (0: MX_DEFAULT_INFLIGHT; clamped
 * to MX_MAX_INFLIGHT). families: AF_INET, AF_INET6 or AF_UNSPEC.
 * Every query has RD and AD set (RFC 6840 section 5.7: a validating resolver then reports AD
 * without the RRSIGs that DO would pull in) and an EDNS0 OPT (UDP size MX_EDNS_UDP_SIZE, DO
 * clear). A FORMERR answer to a query with EDNS is retried without it (RFC 6891 section 7): the
 * first by c-ares 1.18 itself, which then turns EDNS off for the whole channel (UDP answers over
 * 512 bytes are then asked again over TCP), later ones here (counted in retries).
 *
 * st (may be NULL) is zeroed, then filled. Returns 0 when every lookup has ended (failures are
 * data), -1 on a setup error (invalid arguments, server string or families, c-ares or epoll
 * initialisation) or out of memory, with one message on errs (may be NULL).
 */
int mx_resolve(struct mx_store *store, struct mx_domain *doms, size_t n, const char *const *servers, int timeout_ms,
	       int tries, unsigned inflight, int families, struct mx_stats *st, FILE *errs);

/* Fill a sockaddr (port 0) from a; returns its length. */
socklen_t mx_addr_sockaddr(const struct mx_addr *a, struct sockaddr_storage *ss);

/*
 * The interpretation of raw DNS responses, as c-ares hands them to mx_resolve (which uses
 * exactly these); public so that tests and the fuzz harness (tests/fuzz/fuzz_dns.c) can feed
 * bytes directly. Both read only abuf[0..alen) and accept any bytes.
 *
 * mx_answer_mx: the response to an MX query. Sets *ad (the AD bit) and *total (MX records in
 * the answer; set before the first call of exch, which may size its list by it), and hands
 * the first MX_MAX_HOSTS exchanges, sorted by preference then name, to exch(arg, name, pref)
 * (name as c-ares gives it, "" for the root); exch returns < 0 to stop (out of memory), which
 * makes the result MXS_ERROR. Returns the status: from the RCODE, then OK (exchanges handed
 * over), NODATA (no MX record: the caller tries the domain itself, RFC 5321 section 5.1),
 * NULL_MX (RFC 7505, nothing handed over), ERROR (does not parse).
 *
 * mx_answer_addr: the response to an A (v6 = 0) or AAAA (v6 = 1) query. Every address in the
 * answer (4 or 16 bytes) goes to add(arg, addr). When cname is not NULL and the question name
 * is an alias, the end of its CNAME chain is written there (cnamelen bytes) and *is_alias set
 * to 1 (else 0). Returns OK (at least one address), NODATA, the RCODE's status, or ERROR for
 * a response that does not parse.
 */
enum mx_status mx_answer_mx(const unsigned char *abuf, int alen, int *ad, size_t *total,
			    int (*exch)(void *arg, const char *name, unsigned pref), void *arg);
enum mx_status mx_answer_addr(const unsigned char *abuf, int alen, int v6, char *cname, size_t cnamelen, int *is_alias,
			      void (*add)(void *arg, const void *addr), void *arg);

#endif
