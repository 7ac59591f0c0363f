// fuzz-sources: scanner/certkey.c scanner/certstore.c scanner/handshake.c scanner/verify.c
/*
 * fuzz_cert: arbitrary DER where mxscan hands a server's certificate to wolfSSL.
 *
 * Byte 0 holds flags, the rest is one certificate as a server would send it:
 *  - certkey_parse (the leaf of a probe's Certificate message, for grading: wolfSSL_d2i_X509,
 *    the public key, RSA exponent) must return 0 or -1 with a known key type and a
 *    NUL-terminated signature algorithm, and give the same answer twice;
 *  - verify_cert_host (the name check on the leaf) returns -1, 0 or 1, the same twice;
 *  - certstore: the fingerprint is new once, then known; base64 has the promised length;
 *  - flag bit 0: the full-handshake path (handshake.c). A wolfSSL client session is started
 *    (its ClientHello discarded), then fed a TLS 1.2 ServerHello (ECDHE-RSA-AES128-GCM, which
 *    the client offers) and a Certificate message carrying the input, in one record or (bit 1)
 *    split into 5-byte records. wolfSSL parses the certificate (verification is off, as in the
 *    scan) and must answer HS_WANT or HS_FAIL, never crash; hs_get_info's chain, when any,
 *    must lie inside the session's buffer and be what was sent.
 *
 * Seeds (tests/fuzz/corpus/cert/) are the fleet's certificates from scripts/certs.sh (RSA-2048
 * and RSA-1024/SHA-1 leaves, ECDSA P-256, self-signed, expired, CA and intermediate), as DER.
 */
#include "mxscan/certkey.h"
#include "mxscan/certstore.h"
#include "mxscan/handshake.h"
#include "mxscan/verify.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static struct hs_ctx *ctx;
static struct certstore *store;
static uint8_t out[1 << 16], rec[1 << 18];

static size_t put_record(uint8_t *p, const uint8_t *body, size_t n)
{
	p[0] = 22; /* handshake */
	p[1] = 3;
	p[2] = 3;
	p[3] = (uint8_t)(n >> 8);
	p[4] = (uint8_t)n;
	memcpy(p + 5, body, n);
	return n + 5;
}

static void handshake(const uint8_t *der, size_t n, int split)
{
	static uint8_t msgs[80 + 65536];
	size_t m = 0, r = 0, outlen = 0, i;
	struct hs *h;
	struct hs_info info;

	if (!ctx || n > 65536 - 10)
		return;
	h = hs_new(ctx, "mx1.fuzz.test");
	if (!h)
		return;
	if (hs_step(h, NULL, 0, out, &outlen, sizeof out) != HS_WANT)
		goto out;
	/* ServerHello: TLS 1.2, fixed random, empty session id, 0xc02f, no compression,
	 * extensions: extended_master_secret. */
	static const uint8_t sh[] = { 2,    0,    0,    44,   3,    3,    0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
				      0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
				      0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
				      0x11, 0x11, 0,    0xc0, 0x2f, 0,    0,    4,    0,    0x17, 0,    0 };
	memcpy(msgs, sh, sizeof sh);
	m = sizeof sh;
	/* Certificate: type 11, length, certificate_list length, one certificate. */
	msgs[m++] = 11;
	msgs[m++] = (uint8_t)((n + 6) >> 16);
	msgs[m++] = (uint8_t)((n + 6) >> 8);
	msgs[m++] = (uint8_t)(n + 6);
	msgs[m++] = (uint8_t)((n + 3) >> 16);
	msgs[m++] = (uint8_t)((n + 3) >> 8);
	msgs[m++] = (uint8_t)(n + 3);
	msgs[m++] = (uint8_t)(n >> 16);
	msgs[m++] = (uint8_t)(n >> 8);
	msgs[m++] = (uint8_t)n;
	memcpy(msgs + m, der, n);
	m += n;
	for (i = 0; i < m;) {
		size_t chunk = split ? 5 : 16384;

		if (chunk > m - i)
			chunk = m - i;
		if (r + chunk + 5 > sizeof rec)
			break;
		r += put_record(rec + r, msgs + i, chunk);
		i += chunk;
	}
	outlen = 0;
	int st = hs_step(h, rec, r, out, &outlen, sizeof out);
	CHECK(st == HS_WANT || st == HS_FAIL);
	CHECK(outlen <= sizeof out);
	if (st == HS_FAIL)
		CHECK(hs_error(h) != NULL);
	hs_get_info(h, &info);
	CHECK(info.ncerts >= 0 && info.ncerts <= HS_MAX_CERTS);
	if (info.ncerts >= 1)
		CHECK(info.cert_len[0] == n && memcmp(info.cert[0], der, n) == 0);
out:
	hs_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cert_key k1, k2;
	uint8_t *der, md[32];
	size_t n;
	int r1, r2;

	if (size < 1 || size > 65536)
		return 0;
	if (!ctx) {
		char err[256];

		ctx = hs_ctx_new(err, sizeof err);
		store = certstore_new();
		CHECK(ctx && store);
	}
	n = size - 1;
	der = malloc(n ? n : 1); /* exact size: a read past the end is caught */
	CHECK(der);
	memcpy(der, data + 1, n);

	r1 = certkey_parse(der, n, &k1);
	r2 = certkey_parse(der, n, &k2);
	CHECK((r1 == 0 || r1 == -1) && r1 == r2);
	CHECK(k1.type >= CK_NONE && k1.type <= CK_OTHER && k1.type == k2.type && k1.bits == k2.bits);
	CHECK(memchr(k1.sig_alg, 0, sizeof k1.sig_alg) && strcmp(k1.sig_alg, k2.sig_alg) == 0);
	CHECK(k1.rsa_exponent_1 == 0 || k1.rsa_exponent_1 == 1);
	if (r1 < 0)
		CHECK(k1.type == CK_NONE);

	r1 = verify_cert_host(der, n, "mx1.fuzz.test");
	CHECK(r1 >= -1 && r1 <= 1 && r1 == verify_cert_host(der, n, "mx1.fuzz.test"));

	if (n && wc_Sha256Hash(der, (word32)n, md) == 0) {
		int a = certstore_add(store, md);

		CHECK(a == 1 || a == 0);
		CHECK(certstore_add(store, md) == 0);
		if (certstore_count(store) > 100000) { /* keep the fuzzer's memory flat */
			certstore_free(store);
			store = certstore_new();
			CHECK(store);
		}
	}
	if (n <= 4096) {
		char b64[4 * ((4096 + 2) / 3) + 2];

		memset(b64, 'x', sizeof b64);
		certstore_base64(der, n, b64);
		CHECK(strlen(b64) == 4 * ((n + 2) / 3));
	}
	if (data[0] & 1)
		handshake(der, n, (data[0] & 2) != 0);
	free(der);
	return 0;
}
