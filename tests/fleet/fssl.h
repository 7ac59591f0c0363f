/*
 * fssl: the fleet's real TLS server sessions (wolfSSL), for the handshakes
 * wolfSSL can do (TLS 1.1-1.3 with its compiled-in suites, see
 * tlsresp_wolfssl_capable()). Each session is pinned to exactly one version
 * and one suite, the ones tlsresp_decide() chose, so a real handshake agrees
 * with the fleet's hand-built answers and with the manifest.
 *
 * Non-blocking custom I/O (RECIPES.md §1.3): the receive callback first serves
 * the bytes the fleet already read while parsing the ClientHello, then reads
 * the socket. One WOLFSSL_CTX per (version, certificate variant) is cached;
 * the cipher list is set per session and its return value checked (wolfSSL
 * keeps its defaults on an unknown name).
 */
#ifndef MXFLEET_FSSL_H
#define MXFLEET_FSSL_H

#include <stddef.h>
#include <stdint.h>

struct fssl;      /* context cache */
struct fssl_sess; /* one server session on one socket */

enum fssl_status {
	FSSL_OK = 0,
	FSSL_WANT_READ,
	FSSL_WANT_WRITE,
	FSSL_CLOSED, /* peer closed (close_notify or FIN) */
	FSSL_ERROR,
	FSSL__COUNT
};
const char *fssl_status_name(enum fssl_status s);

/* certs_dir holds NAME.key and NAME.chain.pem (scripts/certs.sh). NULL on failure. */
struct fssl *fssl_new(const char *certs_dir);
void fssl_free(struct fssl *f);

/* Start a server session on fd for exactly (version, suite) with certificate
 * variant cert, accepting the given groups (may be empty). pre[0..pre_len) are
 * bytes already read from fd (copied). NULL when wolfSSL cannot be pinned to
 * that combination (the caller then answers by hand); a reason is printed once
 * per combination. */
struct fssl_sess *fssl_start(struct fssl *f, const char *cert, uint16_t version, uint16_t suite, const uint16_t *groups,
			     size_t ngroups, int fd, const uint8_t *pre, size_t pre_len);

/* Drive the handshake. FSSL_OK once complete. */
enum fssl_status fssl_handshake(struct fssl_sess *s);

/* wolfSSL's error code after a failed handshake (for logs). */
int fssl_error(const struct fssl_sess *s);

/* Application data. Return bytes (> 0) or -1 with *st set. */
long fssl_read(struct fssl_sess *s, void *buf, size_t cap, enum fssl_status *st);
long fssl_write(struct fssl_sess *s, const void *buf, size_t len, enum fssl_status *st);

/* Send close_notify (best effort, non-blocking). */
void fssl_shutdown(struct fssl_sess *s);

/* "TLSv1.3 TLS_AES_128_GCM_SHA256" (for -v logs). */
const char *fssl_describe(struct fssl_sess *s, char *buf, size_t cap);

/* Holding (handshake_stall_ms): while on, what wolfSSL sends is kept in the
 * session (up to 64 KiB; more is a send error) instead of going to the socket.
 * fssl_held() shows it, fssl_held_consume() drops the first n bytes (the
 * caller sends them itself), fssl_hold(s, 0) turns holding off. */
void fssl_hold(struct fssl_sess *s, int on);
int fssl_is_tls13(const struct fssl_sess *s);
const uint8_t *fssl_held(const struct fssl_sess *s, size_t *len);
void fssl_held_consume(struct fssl_sess *s, size_t n);
/* Where the last whole TLS record of p[0..len) starts (len when there is none). */
size_t fssl_last_record(const uint8_t *p, size_t len);

void fssl_end(struct fssl_sess *s);

#endif
