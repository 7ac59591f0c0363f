/*
 * fssl: wolfSSL server sessions pinned to one version and one suite.
 *
 * Context cache: one WOLFSSL_CTX per (version, certificate variant), built on
 * first use with the version-specific server method (wolfTLSv1_1/1_2/1_3),
 * the variant's chain (NAME.chain.pem, leaf first) and key. Per session the
 * cipher list is set to the one suite, by wolfSSL's own name for the code
 * (wolfSSL_get_cipher_name_from_suite), and the call's result is checked.
 * Combinations that fail are remembered so the message is printed once.
 */
#include "fleet/fssl.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/dh.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mxscan/hello.h"

#define FSSL_MAX_CTX  64
#define FSSL_MAX_BAD  64
#define TR_GROUPS_MAX 16

static const char *const status_names[] = { "ok", "want-read", "want-write", "closed", "error" };
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == FSSL__COUNT, "status_names");
const char *fssl_status_name(enum fssl_status s)
{
	return (unsigned)s < FSSL__COUNT ? status_names[s] : "unknown";
}

struct ctx_ent {
	uint16_t version;
	char cert[64];
	WOLFSSL_CTX *ctx; /* NULL: building it failed, don't retry */
};

struct fssl {
	char certs_dir[PATH_MAX];
	struct ctx_ent ctx[FSSL_MAX_CTX];
	size_t nctx;
	uint32_t bad[FSSL_MAX_BAD]; /* version << 16 | suite that wolfSSL refused */
	size_t nbad;
};

struct fssl_sess {
	WOLFSSL *ssl;
	int fd;
	uint8_t *pre;
	size_t pre_len, pre_off;
	int err;          /* wolfSSL error of a failed handshake */
	uint16_t version; /* the pinned one */
	int hold;         /* fssl_hold(): sends go to held[] */
	uint8_t *held;    /* FSSL_HOLD_CAP at most */
	size_t held_len, held_cap;
};

#define FSSL_HOLD_CAP 65536

static int cb_recv(WOLFSSL *ssl, char *buf, int sz, void *vctx)
{
	(void)ssl;
	struct fssl_sess *s = vctx;
	if (s->pre_off < s->pre_len) {
		size_t n = s->pre_len - s->pre_off;
		if (n > (size_t)sz)
			n = (size_t)sz;
		memcpy(buf, s->pre + s->pre_off, n);
		s->pre_off += n;
		if (s->pre_off == s->pre_len) {
			free(s->pre);
			s->pre = NULL;
			s->pre_len = s->pre_off = 0;
		}
		return (int)n;
	}
	ssize_t n = recv(s->fd, buf, (size_t)sz, 0);
	if (n > 0)
		return (int)n;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	if (errno == EINTR)
		return WOLFSSL_CBIO_ERR_ISR;
	if (errno == ECONNRESET)
		return WOLFSSL_CBIO_ERR_CONN_RST;
	return WOLFSSL_CBIO_ERR_GENERAL;
}

static int cb_send(WOLFSSL *ssl, char *buf, int sz, void *vctx)
{
	(void)ssl;
	struct fssl_sess *s = vctx;
	if (s->hold) {
		if (sz <= 0)
			return 0;
		if (s->held_len + (size_t)sz > FSSL_HOLD_CAP)
			return WOLFSSL_CBIO_ERR_GENERAL;
		if (s->held_len + (size_t)sz > s->held_cap) {
			size_t cap = s->held_cap ? s->held_cap : 4096;
			while (cap < s->held_len + (size_t)sz)
				cap *= 2;
			uint8_t *q = realloc(s->held, cap);
			if (!q)
				return WOLFSSL_CBIO_ERR_GENERAL;
			s->held = q;
			s->held_cap = cap;
		}
		memcpy(s->held + s->held_len, buf, (size_t)sz);
		s->held_len += (size_t)sz;
		return sz;
	}
	ssize_t n = send(s->fd, buf, (size_t)sz, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	if (errno == EINTR)
		return WOLFSSL_CBIO_ERR_ISR;
	if (errno == EPIPE)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	if (errno == ECONNRESET)
		return WOLFSSL_CBIO_ERR_CONN_RST;
	return WOLFSSL_CBIO_ERR_GENERAL;
}

struct fssl *fssl_new(const char *certs_dir)
{
	struct fssl *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
		free(f);
		return NULL;
	}
	snprintf(f->certs_dir, sizeof(f->certs_dir), "%s", certs_dir);
	return f;
}

void fssl_free(struct fssl *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nctx; i++)
		if (f->ctx[i].ctx)
			wolfSSL_CTX_free(f->ctx[i].ctx);
	free(f);
	wolfSSL_Cleanup();
}

static WOLFSSL_METHOD *server_method(uint16_t version)
{
	switch (version) {
	case TLS_TLS11: return wolfTLSv1_1_server_method();
	case TLS_TLS12: return wolfTLSv1_2_server_method();
	case TLS_TLS13: return wolfTLSv1_3_server_method();
	default: return NULL;
	}
}

static WOLFSSL_CTX *get_ctx(struct fssl *f, const char *cert, uint16_t version)
{
	for (size_t i = 0; i < f->nctx; i++)
		if (f->ctx[i].version == version && !strcmp(f->ctx[i].cert, cert))
			return f->ctx[i].ctx;
	if (f->nctx == FSSL_MAX_CTX)
		return NULL;
	struct ctx_ent *e = &f->ctx[f->nctx++];
	e->version = version;
	snprintf(e->cert, sizeof(e->cert), "%s", cert);
	e->ctx = NULL;
	char chain[PATH_MAX + 80], key[PATH_MAX + 80];
	WOLFSSL_METHOD *m = server_method(version);
	WOLFSSL_CTX *ctx = m ? wolfSSL_CTX_new(m) : NULL;
	if (!ctx) {
		fprintf(stderr, "mxfleet: wolfSSL has no server method for version 0x%04x\n", version);
		goto out;
	}
	snprintf(chain, sizeof(chain), "%s/%s.chain.pem", f->certs_dir, cert);
	snprintf(key, sizeof(key), "%s/%s.key", f->certs_dir, cert);
	if (wolfSSL_CTX_use_certificate_chain_file(ctx, chain) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "mxfleet: wolfSSL cannot load certificate chain %s\n", chain);
		goto out;
	}
	if (wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "mxfleet: wolfSSL cannot load key %s\n", key);
		goto out;
	}
	/* DHE suites: the RFC 7919 ffdhe2048 group, what the hand-built answers use by default */
	const DhParams *dh = wc_Dh_ffdhe2048_Get();
	if (dh && wolfSSL_CTX_SetTmpDH(ctx, dh->p, (int)dh->p_len, dh->g, (int)dh->g_len) != WOLFSSL_SUCCESS)
		fprintf(stderr, "mxfleet: wolfSSL_CTX_SetTmpDH failed: DHE suites will fail\n");
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(ctx, cb_recv);
	wolfSSL_CTX_SetIOSend(ctx, cb_send);
	e->ctx = ctx;
	ctx = NULL;
out:
	if (ctx)
		wolfSSL_CTX_free(ctx);
	return e->ctx;
}

static int is_bad(struct fssl *f, uint16_t version, uint16_t suite)
{
	uint32_t k = (uint32_t)version << 16 | suite;
	for (size_t i = 0; i < f->nbad; i++)
		if (f->bad[i] == k)
			return 1;
	return 0;
}

static void mark_bad(struct fssl *f, uint16_t version, uint16_t suite, const char *why)
{
	if (is_bad(f, version, suite))
		return;
	fprintf(stderr, "mxfleet: no real handshake for version 0x%04x suite 0x%04x (%s); answering by hand\n", version,
		suite, why);
	if (f->nbad < FSSL_MAX_BAD)
		f->bad[f->nbad++] = (uint32_t)version << 16 | suite;
}

struct fssl_sess *fssl_start(struct fssl *f, const char *cert, uint16_t version, uint16_t suite, const uint16_t *groups,
			     size_t ngroups, int fd, const uint8_t *pre, size_t pre_len)
{
	struct fssl_sess *s = NULL;
	if (is_bad(f, version, suite))
		return NULL;
	WOLFSSL_CTX *ctx = get_ctx(f, cert, version);
	if (!ctx)
		return NULL;
	const char *name = wolfSSL_get_cipher_name_from_suite((unsigned char)(suite >> 8), (unsigned char)suite);
	if (!name || !*name || !strcmp(name, "None")) {
		mark_bad(f, version, suite, "unknown to wolfSSL");
		return NULL;
	}
	int ok = 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fd = fd;
	s->version = version;
	if (pre_len) {
		s->pre = malloc(pre_len);
		if (!s->pre)
			goto out;
		memcpy(s->pre, pre, pre_len);
		s->pre_len = pre_len;
	}
	s->ssl = wolfSSL_new(ctx);
	if (!s->ssl)
		goto out;
	if (wolfSSL_set_cipher_list(s->ssl, name) != WOLFSSL_SUCCESS) {
		mark_bad(f, version, suite, "wolfSSL_set_cipher_list refused it");
		goto out;
	}
	if (ngroups) {
		/* TLS 1.3 key shares follow wolfSSL_set_groups; the TLS 1.2 ECDHE curve
		 * follows the server's supported_curves list (UseSupportedCurve). Groups
		 * wolfSSL lacks (x448, ffdhe) are left out rather than failing the list. */
		int g[TR_GROUPS_MAX];
		int n = 0;
		for (size_t i = 0; i < ngroups && n < TR_GROUPS_MAX; i++)
			if (groups[i] == GROUP_X25519 || groups[i] == GROUP_SECP256R1 || groups[i] == GROUP_SECP384R1 ||
			    groups[i] == GROUP_SECP521R1) {
				g[n++] = groups[i];
				if (version != TLS_TLS13)
					wolfSSL_UseSupportedCurve(s->ssl, groups[i]);
			}
		if (n && version == TLS_TLS13)
			wolfSSL_set_groups(s->ssl, g, n);
	}
	wolfSSL_SetIOReadCtx(s->ssl, s);
	wolfSSL_SetIOWriteCtx(s->ssl, s);
	ok = 1;
out:
	if (!ok) {
		fssl_end(s);
		s = NULL;
	}
	return s;
}

static enum fssl_status map_err(WOLFSSL *ssl, int r)
{
	int e = wolfSSL_get_error(ssl, r);
	switch (e) {
	case WOLFSSL_ERROR_WANT_READ: return FSSL_WANT_READ;
	case WOLFSSL_ERROR_WANT_WRITE: return FSSL_WANT_WRITE;
	case WOLFSSL_ERROR_ZERO_RETURN: return FSSL_CLOSED;
	default:
		if (e == SOCKET_PEER_CLOSED_E || e == SOCKET_ERROR_E)
			return FSSL_CLOSED;
		return FSSL_ERROR;
	}
}

enum fssl_status fssl_handshake(struct fssl_sess *s)
{
	int r = wolfSSL_accept(s->ssl);
	if (r == WOLFSSL_SUCCESS)
		return FSSL_OK;
	enum fssl_status st = map_err(s->ssl, r);
	if (st == FSSL_ERROR || st == FSSL_CLOSED)
		s->err = wolfSSL_get_error(s->ssl, r);
	return st;
}

int fssl_error(const struct fssl_sess *s)
{
	return s->err;
}

long fssl_read(struct fssl_sess *s, void *buf, size_t cap, enum fssl_status *st)
{
	int r = wolfSSL_read(s->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
	if (r > 0) {
		*st = FSSL_OK;
		return r;
	}
	*st = r == 0 ? FSSL_CLOSED : map_err(s->ssl, r);
	if (r == 0 && wolfSSL_get_error(s->ssl, r) == WOLFSSL_ERROR_WANT_READ)
		*st = FSSL_WANT_READ;
	return -1;
}

long fssl_write(struct fssl_sess *s, const void *buf, size_t len, enum fssl_status *st)
{
	int r = wolfSSL_write(s->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (r > 0) {
		*st = FSSL_OK;
		return r;
	}
	*st = map_err(s->ssl, r);
	return -1;
}

void fssl_shutdown(struct fssl_sess *s)
{
	if (s && s->ssl)
		wolfSSL_shutdown(s->ssl);
}

const char *fssl_describe(struct fssl_sess *s, char *buf, size_t cap)
{
	const char *v = wolfSSL_get_version(s->ssl), *c = wolfSSL_get_cipher_name(s->ssl);
	snprintf(buf, cap, "%s %s", v ? v : "?", c ? c : "?");
	return buf;
}

void fssl_hold(struct fssl_sess *s, int on)
{
	s->hold = on;
}

int fssl_is_tls13(const struct fssl_sess *s)
{
	return s->version == TLS_TLS13;
}

const uint8_t *fssl_held(const struct fssl_sess *s, size_t *len)
{
	*len = s->held_len;
	return s->held;
}

void fssl_held_consume(struct fssl_sess *s, size_t n)
{
	if (n > s->held_len)
		n = s->held_len;
	memmove(s->held, s->held + n, s->held_len - n);
	s->held_len -= n;
}

size_t fssl_last_record(const uint8_t *p, size_t len)
{
	size_t off = 0, last = len;
	while (len - off >= 5) {
		size_t rl = 5 + ((size_t)p[off + 3] << 8 | p[off + 4]);
		if (rl > len - off)
			break;
		last = off;
		off += rl;
	}
	return last;
}

void fssl_end(struct fssl_sess *s)
{
	if (!s)
		return;
	free(s->held);
	if (s->ssl)
		wolfSSL_free(s->ssl);
	free(s->pre);
	free(s);
}
