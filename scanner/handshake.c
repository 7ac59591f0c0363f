/*
 * handshake: wolfSSL client over memory buffers (RECIPES.md §1.3 with the
 * socket replaced by two buffers). The recv callback serves bytes handed to
 * hs_step/hs_read from h->in; the send callback appends to the caller's out
 * buffer; WANT_READ/WANT_WRITE come back as HS_WANT. Peer verification is off
 * in the handshake (verify.c decides offline, per chain).
 */
#include "mxscan/handshake.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

struct hs_ctx {
	WOLFSSL_CTX *ctx;
};

#define HS_RX      40960 /* the most received bytes queued for wolfSSL */
#define HS_RX_INIT 4096  /* the queue's first allocation; it doubles as needed, up to HS_RX */

struct hs {
	WOLFSSL *ssl;
	/* received bytes not yet taken by wolfSSL: rx[rxs..rxe) of rxcap; allocated
	 * only while bytes are queued (NULL between calls when wolfSSL took all) */
	uint8_t *rx;
	size_t rxs, rxe, rxcap;
	uint8_t *out; /* where sends go during a call */
	size_t *outlen, outcap;
	int alert;
	char err[96];
	WOLFSSL_X509 *peer; /* the leaf as wolfSSL decoded it (its DER whole), from hs_get_info to hs_free */
	struct hs_info info;
};

static int cb_recv(WOLFSSL *ssl, char *buf, int sz, void *ud)
{
	(void)ssl;
	struct hs *h = ud;
	size_t have = h->rxe - h->rxs;
	if (have == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t n = have < (size_t)sz ? have : (size_t)sz;
	memcpy(buf, h->rx + h->rxs, n);
	h->rxs += n;
	return (int)n;
}

static int cb_send(WOLFSSL *ssl, char *buf, int sz, void *ud)
{
	(void)ssl;
	struct hs *h = ud;
	if (!h->out || *h->outlen + (size_t)sz > h->outcap)
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	memcpy(h->out + *h->outlen, buf, (size_t)sz);
	*h->outlen += (size_t)sz;
	return sz;
}

struct hs_ctx *hs_ctx_new(char *err, size_t errlen)
{
	struct hs_ctx *x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	wolfSSL_Init();
	x->ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (!x->ctx) {
		snprintf(err, errlen, "wolfSSL_CTX_new failed");
		free(x);
		return NULL;
	}
	/* TLS 1.1 is the lowest this wolfSSL build speaks (RECIPES.md §1.1). */
	wolfSSL_CTX_SetMinVersion(x->ctx, WOLFSSL_TLSV1_1);
	wolfSSL_CTX_set_verify(x->ctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(x->ctx, cb_recv);
	wolfSSL_CTX_SetIOSend(x->ctx, cb_send);
	return x;
}

void hs_ctx_free(struct hs_ctx *x)
{
	if (!x)
		return;
	wolfSSL_CTX_free(x->ctx);
	free(x);
}

struct hs *hs_new(struct hs_ctx *x, const char *sni)
{
	struct hs *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->ssl = wolfSSL_new(x->ctx);
	if (!h->ssl) {
		free(h);
		return NULL;
	}
	h->alert = -1;
	wolfSSL_SetIOReadCtx(h->ssl, h);
	wolfSSL_SetIOWriteCtx(h->ssl, h);
	if (sni && *sni)
		wolfSSL_UseSNI(h->ssl, WOLFSSL_SNI_HOST_NAME, sni, (unsigned short)strlen(sni));
	return h;
}

void hs_free(struct hs *h)
{
	if (!h)
		return;
	wolfSSL_X509_free(h->peer);
	wolfSSL_free(h->ssl);
	free(h->rx);
	free(h);
}

size_t hs_rx_capacity(const struct hs *h)
{
	return h->rxcap;
}

/* After a call: drop the receive queue when wolfSSL took every byte (a held
 * handshake then keeps none). */
static void rx_release(struct hs *h)
{
	h->out = NULL;
	h->outlen = NULL;
	h->outcap = 0;
	if (h->rxs < h->rxe)
		return;
	free(h->rx);
	h->rx = NULL;
	h->rxs = h->rxe = h->rxcap = 0;
}

static void note_error(struct hs *h, int ret)
{
	int e = wolfSSL_get_error(h->ssl, ret);
	WOLFSSL_ALERT_HISTORY ah;
	char buf[80];
	if (wolfSSL_get_alert_history(h->ssl, &ah) == WOLFSSL_SUCCESS && ah.last_rx.code > 0)
		h->alert = ah.last_rx.code;
	wolfSSL_ERR_error_string_n((unsigned long)e, buf, sizeof(buf));
	snprintf(h->err, sizeof(h->err), "%d %s", e, buf);
}

/* Queue received bytes for wolfSSL (bytes it does not take now stay queued
 * for the next call) and point sends at out. -1 when the queue is full. */
static int bind_io(struct hs *h, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen, size_t cap)
{
	if (h->rxs > 0) {
		memmove(h->rx, h->rx + h->rxs, h->rxe - h->rxs);
		h->rxe -= h->rxs;
		h->rxs = 0;
	}
	if (inlen > HS_RX - h->rxe) {
		snprintf(h->err, sizeof(h->err), "more than %d bytes pending", HS_RX);
		return -1;
	}
	if (h->rxe + inlen > h->rxcap) {
		size_t cap = h->rxcap ? h->rxcap : HS_RX_INIT;
		while (cap < h->rxe + inlen)
			cap *= 2;
		if (cap > HS_RX)
			cap = HS_RX;
		uint8_t *nb = realloc(h->rx, cap);
		if (!nb) {
			snprintf(h->err, sizeof(h->err), "out of memory (%zu bytes pending)", h->rxe + inlen);
			return -1;
		}
		h->rx = nb;
		h->rxcap = cap;
	}
	if (inlen)
		memcpy(h->rx + h->rxe, in, inlen);
	h->rxe += inlen;
	h->out = out;
	h->outlen = outlen;
	h->outcap = cap;
	return 0;
}

int hs_step(struct hs *h, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen, size_t cap)
{
	if (bind_io(h, in, inlen, out, outlen, cap) < 0) {
		rx_release(h);
		return HS_FAIL;
	}
	int ret = wolfSSL_connect(h->ssl);
	int st = HS_FAIL;
	if (ret == WOLFSSL_SUCCESS) {
		st = HS_DONE;
	} else {
		int e = wolfSSL_get_error(h->ssl, ret);
		if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
			st = HS_WANT;
		else
			note_error(h, ret);
	}
	rx_release(h);
	return st; /* bytes wolfSSL did not take (after DONE: application data) stay queued */
}

int hs_write(struct hs *h, const void *data, size_t len, uint8_t *out, size_t *outlen, size_t cap)
{
	int rc = -1;
	if (bind_io(h, NULL, 0, out, outlen, cap) == 0) {
		int ret = wolfSSL_write(h->ssl, data, (int)len);
		if (ret == (int)len)
			rc = 0;
		else
			note_error(h, ret);
	}
	rx_release(h);
	return rc;
}

long hs_read(struct hs *h, const uint8_t *in, size_t inlen, uint8_t *plain, size_t cap)
{
	uint8_t dummy[64];
	size_t dlen = 0;
	if (bind_io(h, in, inlen, dummy, &dlen, sizeof(dummy)) < 0) {
		rx_release(h);
		return -1;
	}
	long total = 0;
	while ((size_t)total < cap) {
		int ret = wolfSSL_read(h->ssl, plain + total, (int)(cap - (size_t)total));
		if (ret > 0) {
			total += ret;
			continue;
		}
		int e = wolfSSL_get_error(h->ssl, ret);
		if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
			break;
		note_error(h, ret);
		rx_release(h);
		return total ? total : -1;
	}
	rx_release(h);
	return total;
}

void hs_get_info(struct hs *h, struct hs_info *out)
{
	struct hs_info *i = &h->info;
	memset(i, 0, sizeof(*i));
	const char *v = wolfSSL_get_version(h->ssl);
	if (v && !strcmp(v, "TLSv1.3"))
		i->version = 0x0304;
	else if (v && !strcmp(v, "TLSv1.2"))
		i->version = 0x0303;
	else if (v && !strcmp(v, "TLSv1.1"))
		i->version = 0x0302;
	else if (v && !strcmp(v, "TLSv1"))
		i->version = 0x0301;
	WOLFSSL_CIPHER *c = wolfSSL_get_current_cipher(h->ssl);
	(void)c;
	i->cipher = (uint16_t)wolfSSL_get_current_cipher_suite(h->ssl);
	const char *g = wolfSSL_get_curve_name(h->ssl);
	if (g) {
		/* wolfSSL says "SECP256R1", "X25519": records use the IANA spelling */
		size_t k = 0;
		for (; g[k] && k + 1 < sizeof(i->group); k++)
			i->group[k] = (char)tolower((unsigned char)g[k]);
		i->group[k] = 0;
	}
	/* wolfSSL's own copies, pointed at, not copied; HS_MAX_CHAIN_BYTES bounds
	 * the sum. The session's peer chain drops a certificate of more than
	 * MAX_X509_SIZE (2,048 B in this build: a leaf with many names), so the
	 * leaf comes from the peer certificate (kept whole) when the chain does
	 * not start with it. An intermediate that large is still missing. */
	wolfSSL_X509_free(h->peer);
	/* only once the handshake is complete: asked earlier (a flight cut
	 * short), wolfSSL 5.5.4 decodes it from the session chain and leaks */
	h->peer = wolfSSL_is_init_finished(h->ssl) ? wolfSSL_get_peer_certificate(h->ssl) : NULL;
	int plen = 0;
	const unsigned char *pder = h->peer ? wolfSSL_X509_get_der(h->peer, &plen) : NULL;
	WOLFSSL_X509_CHAIN *ch = wolfSSL_get_peer_chain(h->ssl);
	size_t used = 0;
	int n = ch ? wolfSSL_get_chain_count(ch) : 0;
	if (pder && plen > 0 && (size_t)plen <= HS_MAX_CHAIN_BYTES) {
		const unsigned char *d0 = n > 0 ? wolfSSL_get_chain_cert(ch, 0) : NULL;
		if (!d0 || wolfSSL_get_chain_length(ch, 0) != plen || memcmp(d0, pder, (size_t)plen) != 0) {
			i->cert[0] = pder;
			i->cert_len[0] = (uint32_t)plen;
			i->ncerts = 1;
			used = (size_t)plen;
		}
	}
	for (int k = 0; k < n && i->ncerts < HS_MAX_CERTS; k++) {
		int len = wolfSSL_get_chain_length(ch, k);
		const unsigned char *der = wolfSSL_get_chain_cert(ch, k);
		if (!der || len <= 0 || used + (size_t)len > HS_MAX_CHAIN_BYTES)
			break;
		i->cert[i->ncerts] = der;
		i->cert_len[i->ncerts] = (uint32_t)len;
		i->ncerts++;
		used += (size_t)len;
	}
	*out = *i;
}

int hs_alert(const struct hs *h)
{
	return h->alert;
}
const char *hs_error(const struct hs *h)
{
	return h->err;
}

void hs_thread_cleanup(void)
{
#ifdef FP_ECC
	wc_ecc_fp_free();
#endif
}
