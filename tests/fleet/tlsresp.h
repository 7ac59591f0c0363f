/*
 * tlsresp: the fleet's sans-I/O TLS responder. Parses a ClientHello (server
 * side), decides what a server with a given TLS personality would answer, and
 * builds that answer by hand (ServerHello [+ Certificate + ServerKeyExchange +
 * ServerHelloDone] for TLS <= 1.2, ServerHello or HelloRetryRequest for 1.3,
 * or an Alert), so that any version (SSLv3..TLS 1.3) and any IANA suite
 * (export, NULL, anon, static RSA...) can be simulated. Where wolfSSL can do
 * the real handshake, the fleet core hands the connection to a wolfSSL server
 * session instead (see tlsresp_wolfssl_capable()).
 */
#ifndef MXFLEET_TLSRESP_H
#define MXFLEET_TLSRESP_H

#include <stddef.h>
#include <stdint.h>

#define TR_NVERS         5   /* index 0=SSLv3, 1=TLS1.0, 2=TLS1.1, 3=TLS1.2, 4=TLS1.3 */
#define TR_MAX_SUITES    512 /* per version */
#define TR_MAX_GROUPS    16
#define TR_MAX_CERTS     4
#define TR_CH_MAX_SUITES 1024
#define TR_CH_MAX        16384 /* largest ClientHello record payload accepted */

enum tr_reject {
	TR_REJ_ALERT40 = 0, /* handshake_failure alert (what most servers do) */
	TR_REJ_ALERT70,     /* protocol_version alert */
	TR_REJ_CLOSE,       /* close the connection (FIN) */
	TR_REJ_RESET,       /* RST (SO_LINGER 0 + close) */
	TR_REJ_SILENCE,     /* say nothing, keep the connection open */
};

struct tls_personality {
	/* suites accepted per version, in the server's preference order; a version
	 * with nsuites == 0 is not supported */
	uint16_t suites[TR_NVERS][TR_MAX_SUITES];
	size_t nsuites[TR_NVERS];
	int server_pref;                /* 1: server order wins; 0: client order wins */
	uint16_t groups[TR_MAX_GROUPS]; /* ECDHE/TLS 1.3 groups accepted, server order */
	size_t ngroups;
	enum tr_reject on_reject;              /* reaction to an unacceptable hello */
	int honour_fallback_scsv;              /* alert 86 when SCSV offered below our max */
	int lying_lengths;                     /* hostile: record/handshake lengths that lie */
	const uint8_t *cert_der[TR_MAX_CERTS]; /* chain sent in hand-built Certificate */
	size_t cert_len[TR_MAX_CERTS];
	int ncerts;
	/* Added by tlsresp: DHE/DH_anon prime size in ServerKeyExchange: 0 or 2048
	 * = RFC 7919 ffdhe2048, 1024 = RFC 2409 Oakley group 2 (weak-DH servers). */
	uint16_t dh_bits;
};

struct client_hello {
	uint16_t record_version;
	uint16_t legacy_version;
	uint16_t suites[TR_CH_MAX_SUITES];
	size_t nsuites;
	uint16_t versions[16]; /* supported_versions, 0 entries if extension absent */
	size_t nversions;
	uint16_t groups[64]; /* supported_groups */
	size_t ngroups;
	uint16_t key_shares[16]; /* groups of key_share entries */
	size_t nkey_shares;
	int has_key_share_ext;
	int has_fallback_scsv;
	uint8_t session_id[32];
	uint8_t session_id_len;
	char sni[256]; /* "" when absent */
	/* Added by tlsresp (RFC 5746, RFC 4492 §5.1.2): the client sent the
	 * renegotiation_info extension or the 0x00FF SCSV / ec_point_formats, so
	 * the ServerHello may carry the same extension. */
	int has_reneg_info;
	int has_ec_point_formats;
};

/* Parse one ClientHello record from buf. Returns 1 and sets *consumed when a
 * whole hello was parsed, 0 when more bytes are needed, -1 when malformed or
 * not TLS, -2 when larger than TR_CH_MAX. Handles a hello split over records. */
int tlsresp_parse_ch(const uint8_t *buf, size_t len, struct client_hello *ch, size_t *consumed);

enum tr_kind { TR_ACCEPT = 0, TR_HRR, TR_REJECT };

struct tls_decision {
	enum tr_kind kind;
	uint16_t version;      /* negotiated wire version (ACCEPT) */
	uint16_t suite;        /* chosen suite (ACCEPT, HRR) */
	uint16_t group;        /* chosen group (ECDHE suites, TLS 1.3, HRR) */
	enum tr_reject reject; /* how to reject (REJECT) */
	uint8_t alert;         /* alert to send when reject is an alert (40, 70, 86...) */
};

/* Decide like a real server: highest common version (supported_versions for
 * 1.3; else min(client legacy_version, our max) and the highest version we
 * support below it), suite by server or client preference, group likewise;
 * TLS 1.3 with no acceptable key share but an acceptable group gives HRR. */
void tlsresp_decide(const struct tls_personality *p, const struct client_hello *ch, struct tls_decision *d);

/* Notes added by tlsresp.c: a REJECT whose reject is TR_REJ_ALERT40 or
 * TR_REJ_ALERT70 sends the alert in d->alert (70 for no common version even
 * when on_reject is TR_REJ_ALERT40; 86 inappropriate_fallback comes with
 * TR_REJ_ALERT40). lying_lengths: 1 (and any value but 2 and 3) = a record
 * header claiming 16000 bytes followed by 20; 2 = the ServerHello's
 * session_id length byte says 200 while record and handshake lengths are
 * right; 3 = the ServerHello's handshake length claims 1000 bytes more than
 * its record holds and nothing else is sent. */

/* Build the bytes for decision d. Returns bytes written, 0 when the reaction
 * sends nothing (close/reset/silence), -1 when cap is too small. */
long tlsresp_build(const struct tls_personality *p, const struct client_hello *ch, const struct tls_decision *d,
		   uint8_t *out, size_t cap);

/* 1 when the fleet's wolfSSL server can complete a real handshake for this
 * version and suite (TLS 1.1..1.3 with a suite compiled into Debian's wolfSSL). */
int tlsresp_wolfssl_capable(uint16_t version, uint16_t suite);

/* Names for logs ("ACCEPT", "HRR", "REJECT"; "alert40", "alert70", "close",
 * "reset", "silence"); "?" when out of range. */
const char *tlsresp_kind_name(enum tr_kind k);
const char *tlsresp_reject_name(enum tr_reject r);

#endif
