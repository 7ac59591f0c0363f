/*
 * plan: which TLS probes to send to one host and what they prove, sans I/O.
 *
 * The engine asks plan_next() for the next probe (a ClientHello to send on a
 * fresh connection, after the SMTP/STARTTLS dialogue), makes the connection,
 * and reports what the server answered with plan_result(). Probes are
 * sequential per host. The enumeration algorithm lives here and is tested
 * with a scripted fake server in memory (tests/unit/test_plan.c).
 *
 * Modes: ENUM_QUICK: the baseline hello only (one connection, like zgrab2).
 * ENUM_VERSIONS: the baseline, then one probe per version SSLv3..TLS 1.3 to
 * learn which versions are accepted. ENUM_FULL: every suite per version
 * (elimination: offer the remaining candidates in chunks, record the pick,
 * remove it, repeat until refused), the server's order, key-exchange groups
 * for TLS 1.2 (ECDHE) and 1.3 (HelloRetryRequest with an empty key share),
 * compression, the fallback SCSV and secure renegotiation.
 */
#ifndef MXSCAN_PLAN_H
#define MXSCAN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "mxscan/hello.h"

enum enum_mode { ENUM_QUICK = 0, ENUM_VERSIONS, ENUM_FULL, ENUM__COUNT };
const char *enum_mode_name(enum enum_mode m);
/* Parse "quick", "versions", "full"; -1 when unknown. */
int enum_mode_parse(const char *s);

#define PLAN_MAX_OFFER    512 /* suites in one probe (a chunk is much smaller) */
#define PLAN_CHUNK        64  /* suites per hello when enumerating (nmap uses 64 too) */
#define PLAN_MAX_GROUPS   32
#define PLAN_MAX_GROUPS12 16  /* TLS <= 1.2 curves the plan offers and plan_summary keeps (9 today) */
#define PLAN_MAX_GROUPS13 16  /* TLS 1.3 groups the plan offers and plan_summary keeps (14 today) */
#define PLAN_MAX_PROBES   400 /* hard cap on connections per host */

/* Hybrid post-quantum groups offered in TLS 1.3 probes besides
 * GROUP_X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem, draft-tls-westerbaan-xyber768d00). */
#ifndef GROUP_SECP256R1MLKEM768
#define GROUP_SECP256R1MLKEM768 0x11EB
#endif
#ifndef GROUP_SECP384R1MLKEM1024
#define GROUP_SECP384R1MLKEM1024 0x11ED
#endif
#ifndef GROUP_X25519KYBER768DRAFT
#define GROUP_X25519KYBER768DRAFT 0x6399
#endif

/* Index of a version in per-version arrays. */
enum plan_ver { PV_SSL3 = 0, PV_TLS10, PV_TLS11, PV_TLS12, PV_TLS13, PV__COUNT };
uint16_t plan_ver_wire(enum plan_ver v); /* 0x0300..0x0304 */

enum probe_kind {
	PK_BASELINE = 0, /* the broad hello of conn_build_baseline_hello's offer */
	PK_VERSION,      /* does the server accept version v at all? */
	PK_SUITES,       /* elimination: which suite does it pick from these? */
	PK_ORDER,        /* the accepted suites reversed: server or client preference? */
	PK_GROUPS12,     /* TLS 1.2 ECDHE with these groups: which curve in the ServerKeyExchange? */
	PK_GROUPS13,     /* TLS 1.3 empty key share with these groups: which group in the HRR? */
	PK_COMPRESSION,  /* deflate offered first */
	PK_FALLBACK,     /* second-best version with TLS_FALLBACK_SCSV (RFC 7507) */
	PK_CHAIN,        /* after the enumeration: fetch the certificate chain again (plan_chain_probe) */
	PK__COUNT
};
const char *probe_kind_name(enum probe_kind k);

/* One probe: the hello to send. opts points into the arrays of this struct,
 * so copy the whole struct, never opts alone. The suites are not in it:
 * suites (= opts.suites, opts.nsuites of them) points at a static list (the
 * baseline's offer, a version's first candidates) or at a buffer of the plan
 * sized to the largest offer the host needed; a copy is valid until the next
 * plan_next/plan_next_probe/plan_result/plan_free on its plan. */
struct plan_probe {
	enum probe_kind kind;
	enum plan_ver ver; /* the version under test */
	struct hello_opts opts;
	const uint16_t *suites; /* opts.suites (at most PLAN_MAX_OFFER; a window at most PLAN_CHUNK) */
	uint16_t groups[PLAN_MAX_GROUPS];
	uint16_t versions[4];
	uint16_t shares[4];
	uint8_t compression[2];
	int need_flight; /* parse up to ServerHelloDone (needed for ServerKeyExchange, certificates) */
};

enum probe_outcome {
	PO_SERVER_HELLO = 0, /* a ServerHello (version, cipher, ... valid) */
	PO_HRR,              /* HelloRetryRequest (cipher, group valid) */
	PO_ALERT,            /* an alert before any ServerHello (alert valid) */
	PO_CLOSED,           /* FIN instead of an answer */
	PO_RESET,            /* RST */
	PO_TIMEOUT,          /* no answer before the TLS deadline */
	PO_NOT_TLS,          /* bytes that are not TLS, or malformed TLS */
	PO_NO_TLS,           /* the connection never got to send the hello (SMTP failure, refused, 421...) */
	PO__COUNT
};
const char *probe_outcome_name(enum probe_outcome o);

struct probe_result {
	enum probe_outcome outcome;
	uint16_t version; /* negotiated (supported_versions if present) */
	uint16_t cipher;
	uint16_t group; /* TLS 1.3 key share / HRR group, or TLS <= 1.2 ServerKeyExchange curve */
	uint8_t compression;
	uint8_t alert;
	int reneg_info;   /* renegotiation_info in the ServerHello (RFC 5746) */
	uint16_t dh_bits; /* DHE prime size from the ServerKeyExchange */
};

enum plan_order { ORDER_UNKNOWN = 0, ORDER_SERVER, ORDER_CLIENT, ORDER_INDETERMINATE, ORDER__COUNT };
const char *plan_order_name(enum plan_order o); /* "unknown","server","client","indeterminate" */

struct plan_version {
	uint16_t *suites; /* accepted suites; in the server's order when order == ORDER_SERVER,
			     else in the order they were found (at most PLAN_MAX_OFFER; allocated
			     as they are found, owned by the plan) */
	size_t nsuites;
	uint16_t cap;      /* suites allocated */
	uint16_t dh_bits;  /* smallest DHE prime seen for this version, 0 if none */
	uint8_t tested;    /* a probe for this version was made */
	uint8_t supported; /* 0 or 1 */
	uint8_t complete;  /* enumeration ran to a refusal (not cut by the probe cap or errors) */
	uint8_t order;     /* enum plan_order */
};

struct plan_summary {
	enum enum_mode mode;
	struct plan_version v[PV__COUNT];
	uint16_t groups12[PLAN_MAX_GROUPS12]; /* ECDHE curves accepted in TLS <= 1.2, server order if found so */
	size_t ngroups12;
	uint16_t groups13[PLAN_MAX_GROUPS13]; /* TLS 1.3 groups accepted (from HRR / ServerHello) */
	size_t ngroups13;
	int compression;              /* -1 untested, 0 null only, 1 deflate accepted */
	int fallback_scsv;            /* -1 untested, 0 ignored (downgrade accepted), 1 honoured (alert 86) */
	int secure_reneg;             /* -1 unknown, 0 no renegotiation_info, 1 present */
	unsigned probes;              /* probes made (= TLS connections) */
	unsigned refusals[PO__COUNT]; /* outcomes that ended an elimination round, by kind */
	int aborted;                  /* stopped early: a probe could not reach TLS (PO_NO_TLS) after the baseline */
	unsigned unoffered;           /* answers naming a suite or group we did not offer (server bug; ignored) */
};

struct plan;

/* sni (NULL: none) is not copied: it must stay valid until plan_free. */
struct plan *plan_new(enum enum_mode mode, const char *sni);
void plan_free(struct plan *p);
/* Fill *out with the next probe. Returns 1 when there is one, 0 when the
 * plan is finished (or out of memory). The first probe is always PK_BASELINE.
 * out->suites belongs to the plan: valid until the next plan_next/
 * plan_next_probe/plan_result/plan_free on p. */
int plan_next(struct plan *p, struct plan_probe *out);
/* The same without the copy: the plan's own probe, valid until the next
 * plan_next/plan_next_probe/plan_result/plan_free on p; NULL when done. */
const struct plan_probe *plan_next_probe(struct plan *p);
/* A PK_CHAIN probe: the TLS <= 1.2 hello (version, one suite: what the
 * server picked when a probe's answer carried certificates) that makes the
 * server send its Certificate message again. The engine keeps only those
 * four bytes during the enumeration and fetches the chain after it, when the
 * full handshake gave none. Not a step of the enumeration: not counted in
 * probes, its answer is not reported with plan_result. Only once the plan
 * is done (plan_next_probe returned NULL): it reuses the plan's offer buffer.
 * NULL before that, when version is not SSLv3..TLS 1.2, or out of memory.
 * Valid until plan_free. */
const struct plan_probe *plan_chain_probe(struct plan *p, uint16_t version, uint16_t cipher);
/* Report the answer to the probe last returned by plan_next(). */
void plan_result(struct plan *p, const struct probe_result *r);
/* What has been learnt so far (valid until plan_free). */
const struct plan_summary *plan_summary(const struct plan *p);
/* What the plan is doing now ("baseline", "enumerate", "order", ..., "done"),
 * for diagnostics and tests. */
const char *plan_phase_name(const struct plan *p);

#endif
