/*
 * grade: the letter grade (A..F) and the warnings nmap's ssl-enum-ciphers gives an accepted
 * cipher suite, so that mxscan's reports read like nmap's and can be checked against it.
 *
 * The scheme is nmap 7.93's (scripts/ssl-enum-ciphers.nse, score_cipher and letter_grade;
 * nselib/tls.lua, cipher_info, KEX_ALGORITHMS and rsa_equiv), itself a cut-down SSL Labs
 * rating: score = 0.43 * key-exchange score + 0.57 * cipher score, where
 *   key exchange (RSA-equivalent bits): 0 -> whole score 0; <512 0.2; <1024 0.4; <2048 0.8;
 *                                       <4096 0.9; else 1.0
 *   cipher (nmap's "size"):             0 -> whole score 0; <128 0.2; <256 0.8; else 1.0
 *   letter: >=0.80 A, >=0.65 B, >=0.50 C, >=0.35 D, >=0.20 E, else F.
 * The key-exchange strength is the minimum of what nmap could measure: the export floor
 * (512, or 1024 for *_EXPORT1024), the certificate key (only when its type is the one the
 * suite authenticates with), the ServerKeyExchange / TLS 1.3 key_share group; EC sizes are
 * turned into RSA-equivalents (NIST SP 800-57: <160 512, <224 1024, <256 2048, <384 3072,
 * <512 7680, else 15360). Anonymous suites, and certificates signed with MD2/MD4/MD5/SHA-1 or
 * with RSA exponent 1, make it 0 (F). RC4 counts as at most 80 bits, 3DES as 112, so both
 * grade C at best. The protocol version changes no grade, only warnings (SSLv3 CBC, a
 * non-TLS 1.3 suite in TLS 1.3). Each grade in tests/unit/test_grade.c was observed from
 * nmap 7.93 or is marked as derived from the script.
 *
 * Where nmap cannot grade (no key-exchange strength measured, as for plain PSK or Kerberos
 * suites, or a cipher whose size it cannot parse), it prints "unknown": we return
 * GRADE_UNKNOWN ('?'). nmap 7.93 also fails outright (a Lua error that loses the whole
 * protocol's results) on SRP, *_DHE_DSS_EXPORT1024_* and GOST R 34.12 suites; those are
 * GRADE_UNKNOWN here too.
 */
#ifndef MXSCAN_GRADE_H
#define MXSCAN_GRADE_H

#include "mxscan/suites.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRADE_UNKNOWN       '?' /* nmap prints "unknown" */
#define GRADE_SCORE_UNKNOWN (-1)

/* Public-key types, named as nmap names them ("rsa", "dsa", "dh", "ec"). */
enum grade_key_type {
	GRADE_KEY_NONE, /* not seen / not measured */
	GRADE_KEY_RSA,
	GRADE_KEY_DSA,
	GRADE_KEY_DH,
	GRADE_KEY_EC,
	GRADE_KEY__COUNT,
};
const char *grade_key_type_name(enum grade_key_type t);

/* What the scan measured about one handshake, for the full-fidelity functions (*_keys).
 * Zero-initialised means nothing measured. */
struct grade_keys {
	/* Server key exchange: DH prime bits (DHE, DH_anon, DHE_PSK, TLS 1.3 ffdhe*), EC curve
	 * bits (ECDHE, ECDH_anon, ECDHE_PSK, TLS 1.3 EC groups: 256 for x25519 and secp256r1, 384,
	 * 448 for x448, 521), or the modulus bits of an RSA_EXPORT ServerKeyExchange. 0 = none. */
	unsigned kx_bits;
	/* Only read for TLS 1.3 suites, where the group may be finite-field or elliptic:
	 * GRADE_KEY_DH or GRADE_KEY_EC. GRADE_KEY_NONE: kx_bits >= 1024 means ffdhe, else EC. */
	enum grade_key_type kx_type;
	/* Group name as nmap prints it ("secp256r1", "ecdh_x25519", "ffdhe2048"), used only in
	 * the text of GW_KX_WEAKER_THAN_CERT for EC and TLS 1.3 groups (nmap prints "dh N" for
	 * TLS 1.2 DHE); NULL prints "ec N" / "dh N". */
	const char *kx_group;
	/* Leaf certificate public key; GRADE_KEY_NONE = no certificate parsed. */
	enum grade_key_type cert_type;
	unsigned cert_bits; /* RSA/DSA/DH modulus bits, EC curve bits */
	/* Leaf signature algorithm as X.509 names it ("sha256WithRSAEncryption",
	 * "ecdsa-with-SHA1"...); NULL = unknown. nmap caps at F when it names MD2/4/5 or SHA1. */
	const char *cert_sig_alg;
	bool rsa_exponent_1; /* certificate RSA exponent is 1 (nmap's check of an export
				ServerKeyExchange exponent never fires, so there is no field) */
};

/* The score nmap computes, in thousandths (0..1000; 843 is nmap's 0.843), or
 * GRADE_SCORE_UNKNOWN. Exact: nmap's sums of doubles never fall on the other side of a letter
 * threshold than these integers (checked for every tier combination in the tests). */
int grade_score_keys(const struct suite_info *s, uint16_t version, const struct grade_keys *k);
/* 'A'..'F' or GRADE_UNKNOWN, as ssl-enum-ciphers prints it for suite s accepted in wire
 * version (0x0300..0x0304) on a server whose keys are *k. */
char grade_suite_keys(const struct suite_info *s, uint16_t version, const struct grade_keys *k);

/* The same when only one key size is known. kx_bits is the key-exchange strength in the
 * suite's own unit: the RSA modulus for RSA key transport (and RSA_PSK, RSA_EXPORT: there it
 * is the certificate's), the EC key bits for static ECDH, the DH prime for DHE, DH_anon and
 * DHE_PSK, the curve bits for ECDHE, ECDH_anon and ECDHE_PSK (256 for x25519), and for TLS 1.3
 * the group (>= 1024: ffdhe, else EC bits). No certificate is assumed, so ECDHE_RSA with
 * secp256r1 grades as 3072-bit even if nmap would also have seen, say, a weaker RSA-1024
 * certificate: use grade_suite_keys when the certificate is known.
 * kx_bits 0 = not measured: as in nmap, the grade is then GRADE_UNKNOWN unless the suite
 * gives a strength without measuring (anonymous: F; export: the 512/1024 floor). */
int grade_score(const struct suite_info *s, uint16_t version, unsigned kx_bits);
char grade_suite(const struct suite_info *s, uint16_t version, unsigned kx_bits);

/* The worst of n grades, nmap's "least strength": order A < B < ... < F < GRADE_UNKNOWN
 * (nmap compares strings, and "unknown" sorts after "F"). Other bytes are ignored. For n == 0
 * (or no valid byte) it is 'A', as in nmap, which starts from "A". */
char grade_least(const char *grades, size_t n);

/* Warnings, as bit (1u << w) in the masks below. Those marked nmap are the ones
 * ssl-enum-ciphers prints (text verbatim, see grade_warning_text / grade_warning_format);
 * the others are mxscan's own, for facts nmap shows only through the grade. */
enum grade_warning {
	GW_RC4,                 /* nmap: RC4 suite (RFC 7465) */
	GW_3DES_SWEET32,        /* nmap: CBC with a 64-bit block: 3DES, IDEA, DES, DES40, RC2, FORTEZZA */
	GW_EXPORT,              /* nmap: export key exchange */
	GW_ANON,                /* nmap: anonymous key exchange (incl. TLS_NULL_WITH_NULL_NULL) */
	GW_NULL,                /* ours: NULL cipher, no encryption (nmap: grade F only) */
	GW_MD5,                 /* nmap: HMAC-MD5 record MAC */
	GW_SSLV3_CBC_POODLE,    /* nmap: CBC suite in SSLv3, POODLE (CVE-2014-3566) */
	GW_DH_UNDER_2048,       /* ours: ephemeral DH group of 1024..2047 bits */
	GW_DH_UNDER_1024,       /* ours: ephemeral DH group under 1024 bits (Logjam); not also UNDER_2048 */
	GW_RSA_UNDER_2048,      /* ours: RSA certificate / key transport modulus under 2048 bits */
	GW_WEAK_CERT_SIG,       /* nmap: certificate signed with MD2/MD4/MD5/SHA1, capped at F */
	GW_KX_WEAKER_THAN_CERT, /* nmap: key exchange of lower strength than the certificate key */
	GW_RSA_EXPONENT_1,      /* nmap: RSA exponent 1, capped at F */
	GW_TLS13_LEGACY_SUITE,  /* nmap: a pre-TLS 1.3 suite chosen in TLS 1.3 */
	GW_NO_PFS,              /* nmap: no suite of the version has forward secrecy (set-level: the
				   caller sets it, see grade_suite_pfs) */
	GW__COUNT,
};

/* Short stable id ("rc4", "sweet32", ...) for records; "?" when w is out of range. */
const char *grade_warning_name(enum grade_warning w);
/* The sentence for reports: nmap's exact text where nmap's does not depend on the suite or
 * the certificate; otherwise a generic form of it (e.g. "64-bit block cipher vulnerable to
 * SWEET32 attack", where nmap names the cipher). "?" when w is out of range. */
const char *grade_warning_text(enum grade_warning w);
/* nmap's exact text for w as raised by suite s with keys k (k may be NULL): names the
 * 64-bit cipher ("...block cipher IDEA..."), the signature hash ("(SHA1)"), the key exchange
 * ("(dh 1024)", or k->kx_group). Writes at most cap bytes incl. the NUL; returns the length
 * the full text has (snprintf-style), or -1 if w is out of range. */
int grade_warning_format(enum grade_warning w, const struct suite_info *s, const struct grade_keys *k, char *buf,
			 size_t cap);

/* Warnings (mask of 1u << GW_*) raised by suite s accepted in version, when only one key
 * size is known (kx_bits as for grade_suite: GW_DH_* from it for DH key exchanges,
 * GW_RSA_UNDER_2048 for RSA key transport). */
unsigned grade_warnings_suite(const struct suite_info *s, uint16_t version, unsigned kx_bits);
/* The same with everything measured: adds the certificate warnings (only when the
 * certificate type is the one the suite uses, as nmap does) and GW_KX_WEAKER_THAN_CERT. */
unsigned grade_warnings_keys(const struct suite_info *s, uint16_t version, const struct grade_keys *k);

/* Whether nmap counts suite s as forward-secret (DHE, ECDHE, DHE/ECDHE_PSK, SRP, TLS 1.3;
 * not anonymous DH): a version whose accepted suites have none gets GW_NO_PFS. */
bool grade_suite_pfs(const struct suite_info *s);

#endif
