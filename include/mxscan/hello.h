/*
 * hello: sans-I/O TLS ClientHello builder and incremental parser of the
 * server's first flight (ServerHello, HelloRetryRequest, Alert, Certificate,
 * ServerKeyExchange, ServerHelloDone). No sockets: bytes in, result out.
 *
 * The parser never trusts a length: every record, handshake message and
 * extension length is checked against what is present and against the caps
 * below; a violation ends parsing with an error, never with a read out of bounds.
 */
#ifndef MXSCAN_HELLO_H
#define MXSCAN_HELLO_H

#include <stddef.h>
#include <stdint.h>

#define TLS_SSL3  0x0300
#define TLS_TLS10 0x0301
#define TLS_TLS11 0x0302
#define TLS_TLS12 0x0303
#define TLS_TLS13 0x0304

/* Named groups (IANA TLS Supported Groups registry). */
#define GROUP_SECP256R1      23
#define GROUP_SECP384R1      24
#define GROUP_SECP521R1      25
#define GROUP_X25519         29
#define GROUP_X448           30
#define GROUP_FFDHE2048      256
#define GROUP_FFDHE3072      257
#define GROUP_FFDHE4096      258
#define GROUP_FFDHE6144      259 /* added by hello.c: the rest of RFC 7919's groups */
#define GROUP_FFDHE8192      260
#define GROUP_X25519MLKEM768 0x11EC

#define HELLO_MAX_CERTS      16           /* certificates kept from a Certificate message */
#define HELLO_MAX_CERT_BYTES 65536        /* total DER bytes kept */
#define HELLO_MAX_FLIGHT     (128 * 1024) /* bytes of server flight accepted before giving up */

struct hello_opts {
	uint16_t record_version; /* record layer version, e.g. 0x0301 */
	uint16_t hello_version;  /* ClientHello.legacy_version, e.g. 0x0303 */
	const uint16_t *suites;  /* cipher suites in preference order */
	size_t nsuites;
	const uint8_t *compression; /* NULL: just null compression {0} */
	size_t ncompression;
	const char *sni;        /* server_name host name; NULL or "" = omit */
	const uint16_t *groups; /* supported_groups; NULL = omit extension */
	size_t ngroups;
	int ec_point_formats;    /* include ec_point_formats (uncompressed) */
	const uint16_t *sigalgs; /* signature_algorithms; NULL = omit */
	size_t nsigalgs;
	const uint16_t *versions; /* supported_versions; NULL = omit */
	size_t nversions;
	int key_share;                    /* 0 omit; 1 include key_share with the groups below */
	const uint16_t *key_share_groups; /* may be empty (nkey_share == 0): empty key_share elicits HRR */
	size_t nkey_share;
	int renegotiation_info;     /* empty renegotiation_info extension */
	int fallback_scsv;          /* append TLS_FALLBACK_SCSV (0x5600) to the suites */
	int empty_reneg_scsv;       /* append TLS_EMPTY_RENEGOTIATION_INFO_SCSV (0x00ff) */
	int extended_master_secret; /* empty extended_master_secret extension */
	size_t pad_to;              /* RFC 7685: pad a ClientHello of 256..pad_to-1 bytes to pad_to (512
				     * avoids the F5 hang); 0 = never pad */
	const uint8_t *random;      /* 32 bytes; NULL = random from /dev/urandom-like source */
	const uint8_t *session_id;  /* NULL = empty session id (32 random bytes if TLS 1.3 offered) */
	size_t session_id_len;
};

/* Build a complete TLS record holding a ClientHello into out (capacity cap).
 * Key shares carry valid public values (curve generator points, x25519 base
 * point, g=2 for FFDHE) so servers do not reject them as malformed.
 * Returns the number of bytes written, or -1 when cap is too small or the
 * options are invalid (e.g. more than 32767 suites). */
long hello_build(const struct hello_opts *o, uint8_t *out, size_t cap);
/* Also -1 when the record payload would exceed 2^14 bytes (one record only),
 * when a key_share group has no built-in public value, or when getrandom()
 * fails. The SNI is sent without a trailing dot and omitted for IP literals
 * (RFC 6066 section 3). With no extension requested the extensions block is
 * left out entirely (what SSLv3 servers expect). */

/* Defaults: sensible broad lists callers may use. */
extern const uint16_t hello_default_groups[];
extern const size_t hello_default_ngroups;
extern const uint16_t hello_default_sigalgs[];
extern const size_t hello_default_nsigalgs;

enum hello_status {
	HELLO_NEED_MORE = 0,       /* feed more bytes */
	HELLO_DONE = 1,            /* the flight is complete enough: see server_flight.end */
	HELLO_ERR_NOT_TLS = -1,    /* first bytes are not a TLS record (e.g. an SMTP reply) */
	HELLO_ERR_MALFORMED = -2,  /* a length or field is inconsistent */
	HELLO_ERR_TOO_BIG = -3,    /* flight exceeds HELLO_MAX_FLIGHT or a cap */
	HELLO_ERR_UNEXPECTED = -4, /* a message out of order (e.g. Certificate before ServerHello) */
};

/* Why the parser stopped with HELLO_DONE. */
enum hello_end {
	HELLO_END_NONE = 0,
	HELLO_END_ALERT,             /* an Alert record arrived */
	HELLO_END_HRR,               /* HelloRetryRequest */
	HELLO_END_SERVER_HELLO_13,   /* ServerHello selecting TLS 1.3 (the rest is encrypted) */
	HELLO_END_SERVER_HELLO_DONE, /* TLS <= 1.2 flight complete */
	HELLO_END_SERVER_HELLO,      /* stop_after_server_hello was set and a ServerHello arrived */
};

struct server_flight {
	enum hello_end end;
	/* ServerHello / HRR */
	int got_server_hello;
	int is_hrr;
	uint16_t record_version; /* version in the first record header */
	uint16_t legacy_version; /* ServerHello.legacy_version */
	uint16_t version;        /* negotiated: supported_versions if present, else legacy_version */
	uint16_t cipher;
	uint8_t compression;
	uint16_t key_share_group; /* TLS 1.3 ServerHello key_share or HRR selected_group; 0 if none */
	int has_reneg_info;       /* renegotiation_info present in ServerHello */
	int has_ems;              /* extended_master_secret present */
	uint8_t session_id_len;
	/* Alert */
	int got_alert;
	uint8_t alert_level, alert_desc;
	/* Certificate (TLS <= 1.2), DER copies */
	int ncerts;                           /* certificates kept (<= HELLO_MAX_CERTS) */
	int certs_total;                      /* certificates present in the message */
	const uint8_t *cert[HELLO_MAX_CERTS]; /* point into the parser's storage */
	uint32_t cert_len[HELLO_MAX_CERTS];
	/* ServerKeyExchange */
	int got_ske;
	uint16_t ske_group; /* ECDHE named curve */
	uint16_t dh_bits;   /* DHE prime size in bits */
	int got_server_hello_done;
	/* First bytes when the reply was not TLS (for the record), NUL-terminated */
	char not_tls[64];
};

struct hello_parser;

/* Allocate a parser. stop_after_server_hello: finish as soon as the
 * ServerHello (or HRR/alert) is parsed instead of waiting for ServerHelloDone. */
struct hello_parser *hello_parser_new(int stop_after_server_hello);
void hello_parser_free(struct hello_parser *p);
void hello_parser_reset(struct hello_parser *p, int stop_after_server_hello);
/* Feed bytes (any split). Returns an enum hello_status. On HELLO_DONE the
 * flight is in *out (valid until the next reset/free); bytes after the end are
 * ignored. After an error further calls return the same error. */
int hello_parse(struct hello_parser *p, const uint8_t *buf, size_t len, struct server_flight *out);
/* Also: *out is refreshed on every call (a caller that sees EOF while
 * NEED_MORE can still record what arrived). A fatal alert, or any alert that is
 * not a warning-level unrecognized_name (RFC 6066 section 3 lets a server send
 * that one and carry on), ends the flight with HELLO_END_ALERT; the warning is
 * recorded in got_alert/alert_* and parsing continues. After
 * HELLO_ERR_NOT_TLS, later calls append what they are given to not_tls (up to
 * 63 characters), so feeding everything that arrives records the whole reply
 * line however it was split. Allocation failure reports HELLO_ERR_TOO_BIG. */
const char *hello_status_name(int status);
const char *hello_end_name(enum hello_end e);
/* TLS alert description name ("handshake_failure" for 40, ...) or "unknown". */
const char *tls_alert_name(uint8_t desc);
/* Group name ("x25519","secp256r1","ffdhe2048",...) or NULL when unknown. */
const char *tls_group_name(uint16_t group);

#endif
