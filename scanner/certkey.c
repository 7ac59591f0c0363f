/*
 * certkey: leaf key type/size and signature algorithm from DER, through
 * wolfSSL's OpenSSL-compatible X509 API (RECIPES.md §1.4). Bounded by
 * wolfSSL's own DER parser; a certificate that does not parse is reported,
 * never trusted.
 */
#include "mxscan/certkey.h"

#include <stdio.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/evp.h>
#include <wolfssl/openssl/objects.h>
#include <wolfssl/openssl/rsa.h>
#include <wolfssl/openssl/bn.h>

int certkey_parse(const uint8_t *der, size_t len, struct cert_key *out)
{
	int ret = -1;
	WOLFSSL_X509 *x = NULL;
	WOLFSSL_EVP_PKEY *pk = NULL;
	memset(out, 0, sizeof(*out));
	if (!der || len == 0 || len > 65536)
		goto out;
	const unsigned char *p = der;
	x = wolfSSL_d2i_X509(NULL, &p, (int)len);
	if (!x)
		goto out;
	int nid = wolfSSL_X509_get_signature_nid(x);
	const char *ln = nid > 0 ? wolfSSL_OBJ_nid2ln(nid) : NULL;
	if (ln)
		snprintf(out->sig_alg, sizeof(out->sig_alg), "%s", ln);
	pk = wolfSSL_X509_get_pubkey(x);
	if (!pk) {
		out->type = CK_OTHER;
		ret = 0;
		goto out;
	}
	switch (wolfSSL_EVP_PKEY_base_id(pk)) {
	case EVP_PKEY_RSA: {
		out->type = CK_RSA;
		WOLFSSL_RSA *rsa = wolfSSL_EVP_PKEY_get1_RSA(pk);
		if (rsa) {
			const WOLFSSL_BIGNUM *e = NULL;
			wolfSSL_RSA_get0_key(rsa, NULL, &e, NULL);
			out->rsa_exponent_1 = e && wolfSSL_BN_is_one(e);
			wolfSSL_RSA_free(rsa);
		}
		break;
	}
	case EVP_PKEY_DSA: out->type = CK_DSA; break;
	case EVP_PKEY_EC: out->type = CK_EC; break;
	default: out->type = CK_OTHER; break;
	}
	out->bits = (unsigned)wolfSSL_EVP_PKEY_bits(pk);
	ret = 0;
out:
	if (pk)
		wolfSSL_EVP_PKEY_free(pk);
	if (x)
		wolfSSL_X509_free(x);
	return ret;
}
