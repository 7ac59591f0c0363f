/*
 * test_handshake: handshake.c against an in-memory wolfSSL server (TLS 1.2 and
 * TLS 1.3) serving a chain of 7 certificates (several KiB, more than the
 * receive queue's first 4 KiB): the server's whole first flight is handed to
 * hs_step in one call (the queue must grow), the chain hs_get_info gives must
 * be the server's DER byte for byte and in order, the queue must be gone
 * between calls, and more than 40 KiB pending must fail with its own message.
 * Certificates: scripts/certs.sh in a temporary directory.
 */
#include "tap.h"
#include "runcmd.h"

#include "mxscan/handshake.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#define MAXC 10

static char dir[64];

/* The certificates of a PEM file as DER, in order. */
struct chain {
	int n;
	uint8_t *der[MAXC];
	size_t len[MAXC];
};

static int chain_load(const char *path, struct chain *c)
{
	static const char b[] = "-----BEGIN CERTIFICATE-----", e[] = "-----END CERTIFICATE-----";
	FILE *f = fopen(path, "rb");
	memset(c, 0, sizeof(*c));
	if (!f)
		return -1;
	char *text = calloc(1, 1 << 20);
	size_t tl = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (!text)
		return -1;
	text[tl] = 0;
	for (char *p = text; (p = strstr(p, b)) && c->n < MAXC;) {
		char *q = strstr(p, e);
		if (!q)
			break;
		size_t blen = (size_t)(q - p) + sizeof e - 1;
		c->der[c->n] = malloc(blen);
		int dlen = c->der[c->n] ? wc_CertPemToDer((const unsigned char *)p, (int)blen, c->der[c->n], (int)blen,
							  CERT_TYPE)
					: -1;
		c->len[c->n] = dlen > 0 ? (size_t)dlen : 0;
		c->n++;
		p = q + sizeof e - 1;
	}
	free(text);
	return c->n ? 0 : -1;
}

/* The server side: bytes from the client, bytes to the client. */
struct pipe {
	uint8_t in[65536];
	size_t ins, ine;
	uint8_t out[65536];
	size_t outlen;
};

static int srv_recv(WOLFSSL *ssl, char *buf, int sz, void *ud)
{
	(void)ssl;
	struct pipe *p = ud;
	size_t have = p->ine - p->ins;
	if (have == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t n = have < (size_t)sz ? have : (size_t)sz;
	memcpy(buf, p->in + p->ins, n);
	p->ins += n;
	return (int)n;
}

static int srv_send(WOLFSSL *ssl, char *buf, int sz, void *ud)
{
	(void)ssl;
	struct pipe *p = ud;
	if (p->outlen + (size_t)sz > sizeof(p->out))
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	memcpy(p->out + p->outlen, buf, (size_t)sz);
	p->outlen += (size_t)sz;
	return sz;
}

static void one_version(struct hs_ctx *x, const char *name, WOLFSSL_METHOD *m, const char *chainpem, const char *key,
			const struct chain *want, size_t want_bytes)
{
	WOLFSSL_CTX *sctx = wolfSSL_CTX_new(m);
	if (!ok(sctx && wolfSSL_CTX_use_certificate_chain_file(sctx, chainpem) == WOLFSSL_SUCCESS &&
			wolfSSL_CTX_use_PrivateKey_file(sctx, key, WOLFSSL_FILETYPE_PEM) == WOLFSSL_SUCCESS,
		"%s: server loads the %d-certificate chain", name, want->n)) {
		wolfSSL_CTX_free(sctx);
		return;
	}
	wolfSSL_CTX_SetIORecv(sctx, srv_recv);
	wolfSSL_CTX_SetIOSend(sctx, srv_send);
	struct pipe *p = calloc(1, sizeof(*p));
	WOLFSSL *srv = wolfSSL_new(sctx);
	struct hs *h = hs_new(x, "mx1.example.test");
	uint8_t *out = malloc(65536);
	if (!p || !srv || !h || !out) {
		ok(0, "%s: allocations", name);
		goto end;
	}
	wolfSSL_SetIOReadCtx(srv, p);
	wolfSSL_SetIOWriteCtx(srv, p);

	size_t outlen = 0;
	int st = hs_step(h, NULL, 0, out, &outlen, 65536);
	is_int(st, HS_WANT, "%s: ClientHello made", name);
	int sret = 0, first = 1, done = 0;
	for (int round = 0; round < 8 && !done; round++) {
		/* client bytes to the server */
		memcpy(p->in + p->ine, out, outlen);
		p->ine += outlen;
		outlen = 0;
		sret = wolfSSL_accept(srv);
		if (sret != WOLFSSL_SUCCESS) {
			int e = wolfSSL_get_error(srv, sret);
			if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE)
				break;
		}
		/* the server's bytes to the client, all in one call */
		size_t n = p->outlen;
		if (first) {
			first = 0;
			ok(n > 4096, "%s: the server's first flight (%zu bytes) is more than 4 KiB", name, n);
		}
		st = hs_step(h, p->out, n, out, &outlen, 65536);
		p->outlen = 0;
		if (st == HS_FAIL) {
			diag("%s: hs_step failed: %s", name, hs_error(h));
			break;
		}
		is_int(hs_rx_capacity(h), 0, "%s: round %d: no receive queue kept between calls", name, round);
		if (st == HS_DONE)
			done = 1;
	}
	if (!ok(done, "%s: the handshake completes with the whole flight handed over in one call", name))
		goto end;
	struct hs_info info;
	hs_get_info(h, &info);
	is_int(info.ncerts, want->n, "%s: %d certificates in the peer chain", name, want->n);
	int same = info.ncerts == want->n;
	size_t total = 0;
	for (int k = 0; same && k < want->n; k++) {
		same = info.cert_len[k] == want->len[k] && memcmp(info.cert[k], want->der[k], want->len[k]) == 0;
		total += info.cert_len[k];
	}
	ok(same, "%s: every certificate is the server's DER, in order (%zu bytes)", name, total);
	is_int(total, want_bytes, "%s: the whole chain is there", name);
end:
	free(out);
	hs_free(h);
	wolfSSL_free(srv);
	wolfSSL_CTX_free(sctx);
	free(p);
}

static void cap_test(struct hs_ctx *x)
{
	struct hs *h = hs_new(x, NULL);
	uint8_t *out = malloc(65536), *junk = calloc(1, 40961);
	size_t outlen = 0;
	if (!h || !out || !junk) {
		ok(0, "cap test: allocations");
		goto end;
	}
	is_int(hs_step(h, NULL, 0, out, &outlen, 65536), HS_WANT, "cap test: ClientHello made");
	is_int(hs_step(h, junk, 40961, out, &outlen, 65536), HS_FAIL, "cap test: 40,961 bytes at once fail");
	is_str(hs_error(h), "more than 40960 bytes pending", "cap test: the cap's own message");
end:
	hs_free(h);
	free(out);
	free(junk);
}

int main(void)
{
	char srcdir[4096], err[256], path[512], key[512];
	snprintf(srcdir, sizeof srcdir, "%s", MXSCAN_DATADIR); /* <repo>/datasets */
	char *slash = strrchr(srcdir, '/');
	if (slash)
		*slash = 0;
	snprintf(dir, sizeof dir, "/tmp/mxscan-hs-XXXXXX");
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	/* 7 certificates: the valid leaf, its intermediate, the root and four more */
	if (run("%s/scripts/certs.sh %s > /dev/null && cd %s && cat valid.crt intermediate.pem ca.pem "
		"untrusted-root.pem ecdsa-p256.crt wrong-name.crt expired.crt > long.chain.pem",
		srcdir, dir, dir) != 0) {
		printf("Bail out! scripts/certs.sh failed (is openssl installed?)\n");
		return 1;
	}
	snprintf(path, sizeof path, "%s/long.chain.pem", dir);
	snprintf(key, sizeof key, "%s/valid.key", dir);
	struct chain want;
	if (chain_load(path, &want) < 0) {
		printf("Bail out! cannot read %s\n", path);
		return 1;
	}
	size_t bytes = 0;
	for (int k = 0; k < want.n; k++)
		bytes += want.len[k];
	is_int(want.n, 7, "7 certificates in the served chain");
	ok(bytes > 4096, "the chain's DER (%zu bytes) is more than 4 KiB", bytes);
	struct hs_ctx *x = hs_ctx_new(err, sizeof err);
	if (!x) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	one_version(x, "TLS 1.2", wolfTLSv1_2_server_method(), path, key, &want, bytes);
	one_version(x, "TLS 1.3", wolfTLSv1_3_server_method(), path, key, &want, bytes);
	for (int k = 0; k < want.n; k++)
		free(want.der[k]);

	/* a leaf of more than 2,048 B (wolfSSL's MAX_X509_SIZE: its session chain
	 * drops it) with its intermediate: the leaf must still come first, whole */
	if (run("cd %s && sans=$(for i in $(seq 1 120); do printf 'DNS:host%%03d.mail.example.test,'; done) && "
		"openssl req -x509 -newkey rsa:2048 -nodes -keyout big.key -out big.crt -days 30 "
		"-subj /CN=mx1.example.test -addext \"subjectAltName=${sans%%,}\" 2>/dev/null && "
		"cat big.crt intermediate.pem > big.chain.pem",
		dir) != 0 ||
	    (snprintf(path, sizeof path, "%s/big.chain.pem", dir), chain_load(path, &want)) < 0) {
		printf("Bail out! cannot make the large leaf\n");
		return 1;
	}
	snprintf(key, sizeof key, "%s/big.key", dir);
	ok(want.n == 2 && want.len[0] > 2048, "a leaf of %zu bytes and its intermediate", want.len[0]);
	bytes = want.len[0] + want.len[1];
	one_version(x, "TLS 1.2 large leaf", wolfTLSv1_2_server_method(), path, key, &want, bytes);
	one_version(x, "TLS 1.3 large leaf", wolfTLSv1_3_server_method(), path, key, &want, bytes);
	cap_test(x);
	hs_ctx_free(x);
	hs_thread_cleanup();
	for (int k = 0; k < want.n; k++)
		free(want.der[k]);
	run("rm -rf %s", dir);
	return done_testing();
}
