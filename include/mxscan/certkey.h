/*
 * certkey: the facts about a leaf certificate that grading needs (public key
 * type and size, signature algorithm), parsed from DER with wolfSSL. The full
 * chain analysis and verification belong to the certificate module (issue 5).
 */
#ifndef MXSCAN_CERTKEY_H
#define MXSCAN_CERTKEY_H

#include <stddef.h>
#include <stdint.h>

enum certkey_type { CK_NONE = 0, CK_RSA, CK_DSA, CK_EC, CK_ED25519, CK_OTHER };

struct cert_key {
	enum certkey_type type;
	unsigned bits; /* RSA/DSA modulus bits, EC curve bits */
	int rsa_exponent_1;
	char sig_alg[48]; /* e.g. "sha256WithRSAEncryption"; "" if unknown */
};

/* Parse one DER certificate. Returns 0, or -1 when it does not parse. */
int certkey_parse(const uint8_t *der, size_t len, struct cert_key *out);

#endif
