/*
 * result: what one scanned host (IP, port) yields. Filled by the connection
 * state machine (conn.c) and turned into a JSON record by record.c. Fixed-size
 * fields: a hostile server can fill them, never grow them.
 */
#ifndef MXSCAN_RESULT_H
#define MXSCAN_RESULT_H

#include <stdint.h>

#include "mxscan/certkey.h"

struct geo_info;

/* zgrab2's status vocabulary (DESIGN.md). */
enum scan_status {
	ST_SUCCESS = 0,
	ST_CONNECTION_REFUSED,
	ST_CONNECTION_TIMEOUT,
	ST_CONNECTION_CLOSED,
	ST_IO_TIMEOUT,
	ST_PROTOCOL_ERROR,
	ST_APPLICATION_ERROR,
	ST_UNKNOWN_ERROR,
	ST__COUNT
};
const char *scan_status_name(enum scan_status s);

enum conn_mode { MODE_STARTTLS = 0, MODE_IMPLICIT, MODE__COUNT };
const char *conn_mode_name(enum conn_mode m);

enum starttls_state { STLS_UNKNOWN = 0, STLS_OFFERED, STLS_ABSENT, STLS_STRIPPED, STLS__COUNT };
const char *starttls_state_name(enum starttls_state s);

#define RES_TEXT         2048
#define RES_SHORT        256
#define RES_PLAIN_SAMPLE 96 /* plaintext kept where TLS was due, with the NUL */

struct tls_probe_result {
	int attempted;
	int got_server_hello;
	uint16_t version; /* negotiated wire version */
	uint16_t cipher;
	uint16_t group; /* TLS 1.3 key share / ECDHE SKE group, 0 if unknown */
	int hrr;
	int got_alert;
	uint8_t alert_desc;
	int ncerts; /* certificates seen in a TLS <= 1.2 Certificate message */
	uint16_t dh_bits;
	uint8_t compression;  /* compression method in the ServerHello */
	struct cert_key leaf; /* leaf certificate key, from a TLS <= 1.2 Certificate message */
	int reneg_info;       /* renegotiation_info in the ServerHello */
};

struct plan_summary;
struct verify_result;
struct capture_result;

#define DOM_LIST_KEEP 16 /* names/domains kept per host record (the total is counted) */

struct strlist {
	char *v[DOM_LIST_KEEP];
	unsigned n, total;
};

/* What leads to a host: the MX names and domains that resolve to it. */
struct host_meta {
	struct strlist names, domains;
};

/* What a domain's verdict needs from a host (filled when its record is written). */
struct host_summary {
	uint8_t done;
	uint8_t status;        /* enum scan_status */
	uint8_t starttls;      /* enum starttls_state */
	uint8_t tls;           /* a TLS answer was obtained (ServerHello) */
	char least_grade;      /* 'A'..'F', '?' or 0 when not graded */
	uint8_t cert;          /* a certificate chain was verified */
	uint8_t cert_ok;       /* ... with verify code 0 or 62 (trusted; 62 is only the MX name) */
	uint8_t mx_match;      /* the leaf matches the MX name */
	uint16_t domain_match; /* bit i: the leaf matches meta.domains.v[i] (RFC 6125) */
};

#define HS_RES_CERTS 10
#define HS_RES_CHAIN 65536

/* Certificates as a server sent them, leaf first (out of a probe's flight or
 * the full handshake), allocated by cert_chain_new to the size of buf[0..used). */
struct cert_chain {
	int n;
	uint32_t off[HS_RES_CERTS], len[HS_RES_CERTS];
	uint8_t buf[HS_RES_CHAIN];
};
/* A copy of the leading certificates that fit HS_RES_CERTS and HS_RES_CHAIN,
 * in an allocation of their size; free() it. NULL when none fit or out of memory. */
struct cert_chain *cert_chain_new(const uint8_t *const *der, const uint32_t *len, int n);

/* The full wolfSSL handshake of a host (allocated only when one is made). */
struct hs_result {
	int ok;
	uint16_t version, cipher;
	char group[32];
	int alert;      /* alert received, -1 none */
	char error[96]; /* why it failed */
	char stage[16]; /* where it failed: handshake, tls-banner, tls-ehlo */
	char *ehlo;     /* EHLO reply over TLS, lines joined by '\n' (at most RES_TEXT), allocated to size, or NULL */
	int ehlo_code;
	unsigned caps;            /* SMTP_CAP_* after TLS */
	struct cert_chain *chain; /* the peer's certificates (cert_chain_new), NULL when none */
};

/* Free a full handshake's result and its chain (NULL is fine). */
void hs_result_free(struct hs_result *h);

/* One probe connection as --trace-probes records it. */
struct probe_trace {
	uint8_t kind;     /* enum probe_kind */
	uint8_t ver;      /* enum plan_ver under test */
	uint16_t offered; /* suites offered */
	uint8_t outcome;  /* enum probe_outcome */
	uint8_t alert;
	uint16_t version; /* answered version */
	uint16_t cipher;
	uint16_t group;
	uint32_t ms; /* duration of the connection */
};

/* The SMTP dialogue of a host as swaks shows it ("S: " server lines, "C: "
 * client lines, "* " notes for connection and TLS events), kept when the
 * engine is asked to (engine_config.transcript): the first (baseline)
 * connection, then the full handshake's. Bounded: TRANSCRIPT_LINES lines of at
 * most TRANSCRIPT_LINE_MAX bytes each; longer lines are cut, later lines are
 * counted in dropped. */
#define TRANSCRIPT_LINES    40
#define TRANSCRIPT_LINE_MAX 200

struct transcript {
	unsigned n, dropped;
	int skip_plain; /* the handshake connection: 1xx-3xx replies and commands before TLS are not repeated */
	char line[TRANSCRIPT_LINES][TRANSCRIPT_LINE_MAX + 1];
};

struct host_result {
	char ip[48]; /* INET6_ADDRSTRLEN (46) with room to spare */
	uint16_t port;
	enum conn_mode mode;
	/* not copies: the target's strings (valid for the scan), NULL or "" if none */
	const char *sni;  /* MX name used for SNI */
	const char *name; /* name as given in the input */
	const char *tag;

	enum scan_status status;
	const char *fail_stage; /* a static string (conn_state_name): connect, banner, ehlo, helo, starttls,
				 * tls-hello; NULL: no failure */
	char fail_reason[32];   /* refused, timeout, closed, reset, smtp-421, starttls-not-offered, ... */
	char *fail_detail; /* reply text, alert name, errno text (< RES_SHORT bytes, allocated to size; NULL: none) */

	/* banner and EHLO (or HELO) reply lines joined by '\n', at most RES_TEXT bytes
	 * with the NUL, allocated to their size by conn.c; NULL when not received
	 * or not kept (no_text). host_result_free_text() releases them. */
	char *banner;
	int banner_code;
	char *ehlo;
	int ehlo_code;
	int helo_fallback; /* EHLO refused, HELO used */
	unsigned caps;     /* SMTP_CAP_* */
	enum starttls_state starttls;
	char *starttls_reply; /* first line of the reply to STARTTLS (< RES_SHORT bytes, allocated to size; NULL: none)
			       */
	int starttls_code;
	/* tampering evidence from the dialogue alone (the text allocated to size, NULL: none;
	 * host_result_free_text() releases it) */
	char *stripped_token; /* e.g. XXXXXXXA */
	int banner_masked;
	int plaintext_after_starttls; /* bytes after the 220 to STARTTLS before the TLS hello */
	char *plaintext_sample;       /* those bytes, non-printable ones as '.', < RES_PLAIN_SAMPLE bytes */
	char *echo_token;             /* the server echoed our STARTTLS back corrupted (e.g. XXXXXXXX) in a 5xx */

	struct tls_probe_result tls;

	int no_text;          /* a later probe connection: the dialogue text is not kept (the first one's is) */
	struct hs_result *hs; /* the full handshake, NULL when none was made */
	struct cert_chain *probe_chain;     /* first Certificate message a probe saw (TLS <= 1.2), or NULL */
	const struct verify_result *verify; /* verification of the chain (set when the record is written) */
	const char *chain_source;           /* "handshake" or "probe" */
	const struct host_meta *meta;       /* MX names and domains leading here, or NULL */
	const struct geo_info *geo;         /* --geoip/--asn-db lookup (set when the record is written), or NULL */
	char least_grade;                   /* set by record_host: the worst suite grade, 0 if none */
	const struct plan_summary *plan;    /* enumeration results (NULL in tests without a plan) */
	struct probe_trace *trace;          /* --trace-probes: one entry per connection, else NULL */
	struct transcript *transcript;      /* --transcript: the dialogue, else NULL */
	const struct capture_result *cap;   /* --capture: what the first connection's packets showed, or NULL */
	const char *cap_iface;              /* --capture interface (set when cap is) */
	unsigned ntrace;
	unsigned connections;
	unsigned retries;  /* connections that repeated one turned away before TLS (421, reset, close, timeout) */
	int host_timeout;  /* --host-timeout stopped the probes (what was learnt is kept) */
	uint64_t start_ms; /* wall clock, ms since epoch */
	uint64_t duration_ms;
};

/* Free the text allocated to size (banner, ehlo, fail_detail, starttls_reply, tampering evidence)
 * and set it to NULL (safe on a zeroed result). */
void host_result_free_text(struct host_result *r);

#endif
