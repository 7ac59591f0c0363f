/*
 * handshake: one full TLS handshake with wolfSSL over memory buffers, so the
 * connection state machine stays sans I/O: received bytes go in, bytes to
 * send come out, and the epoll engine moves them. Used once per host to get
 * the negotiated parameters a real client gets, the certificate chain (TLS 1.3
 * included, where it is encrypted), and the EHLO reply after TLS.
 *
 * Verification is NOT done here (the in-handshake verdict of a shared CTX is
 * order-dependent, RECIPES.md §1.5): the chain is handed to verify.c offline.
 * wolfSSL 5.5.4 cannot speak SSLv3/TLS 1.0 or static RSA: servers limited to
 * those are handled from the Certificate message seen by the raw probes.
 */
#ifndef MXSCAN_HANDSHAKE_H
#define MXSCAN_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#define HS_MAX_CERTS       10
#define HS_MAX_CHAIN_BYTES 65536

struct hs_ctx;
struct hs;

/* One per scan, shared by all threads (wolfSSL CTXs are safe for creating
 * sessions concurrently once configured). NULL with a message on failure. */
struct hs_ctx *hs_ctx_new(char *err, size_t errlen);
void hs_ctx_free(struct hs_ctx *x);
/* Free per-thread wolfSSL state (the FP_ECC point cache); call when a thread that made handshakes ends. */
void hs_thread_cleanup(void);

struct hs *hs_new(struct hs_ctx *x, const char *sni);
void hs_free(struct hs *h);
/* Bytes allocated for received bytes wolfSSL has not taken yet (0 when none
 * are queued: the queue exists only while bytes wait, up to 40 KiB). */
size_t hs_rx_capacity(const struct hs *h);

enum hs_status { HS_WANT = 0, HS_DONE = 1, HS_FAIL = -1 };

/* Drive the handshake: in/inlen are newly received bytes (0 to start). Bytes
 * to send are appended to out (*outlen grows, never past cap). Returns
 * HS_WANT (feed more), HS_DONE or HS_FAIL (hs_error() says why). */
int hs_step(struct hs *h, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen, size_t cap);
/* After HS_DONE: encrypt len bytes of application data into out. 0 or -1. */
int hs_write(struct hs *h, const void *data, size_t len, uint8_t *out, size_t *outlen, size_t cap);
/* After HS_DONE: feed received bytes, get decrypted ones (up to cap) in plain.
 * Returns bytes of plaintext (0 = need more), or -1 on error/close. */
long hs_read(struct hs *h, const uint8_t *in, size_t inlen, uint8_t *plain, size_t cap);

struct hs_info {
	uint16_t version; /* wire version */
	uint16_t cipher;  /* IANA code */
	char group[32];   /* key exchange group name as wolfSSL reports it, "" if none */
	int ncerts;
	const uint8_t
		*cert[HS_MAX_CERTS]; /* peer chain DER as sent, leaf first: wolfSSL's own copy, valid until hs_free */
	uint32_t cert_len[HS_MAX_CERTS];
};
void hs_get_info(struct hs *h, struct hs_info *out);
/* Why it failed: alert received (desc, or -1) and wolfSSL's error text. */
int hs_alert(const struct hs *h);
const char *hs_error(const struct hs *h);

#endif
