/* Unit tests of grade: the letters and warnings must be nmap 7.93 ssl-enum-ciphers' own.
 *
 * The "observed" rows were read off nmap 7.93 runs (nmap -Pn -n --servicedb FILE --script
 * ssl-enum-ciphers 127.0.0.1, the services file naming the port "https") against local
 * servers, one per row of struct server below, each with a self-made certificate:
 *   openssl s_server (OpenSSL 3.0.19) -cipher 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' -www, with
 *     -dhparam from `openssl dhparam` and -groups as listed (nmap offers secp256r1 first);
 *   gnutls-serv 3.7.9 (in its own network namespace, as it cannot bind to loopback only) with
 *     --priority 'NORMAL:+ARCFOUR-128:+3DES-CBC:+MD5:+SHA1:+ANON-DH:+ANON-ECDH:+DHE-DSS:
 *     +VERS-TLS1.0:+VERS-TLS1.1:+CAMELLIA-128-CBC:+CAMELLIA-256-CBC:-VERS-TLS1.3:%COMPAT'
 *     for RC4, 3DES and HMAC-MD5, which Debian's OpenSSL 3 no longer has.
 * The full check covered all 854 suite lines and every warnings block of those runs; the rows
 * here are a sample spanning every letter, every key-exchange family and every version seen.
 *
 * The "derived" rows cannot be observed with the servers at hand (no SSLv3, export, DES, IDEA,
 * SEED, SRP without a client identity, DH groups under 1024 bits: OpenSSL 3 refuses them even
 * at security level 0): their grades are worked out by hand from ssl-enum-ciphers.nse
 * (score_cipher, letter_grade, find_ciphers_group) and tls.lua (cipher_info, KEX_ALGORITHMS,
 * rsa_equiv), with the working in the comment. */
#include "mxscan/grade.h"
#include "mxscan/suites.h"
#include "tap.h"

#include <stdint.h>
#include <string.h>

#define SSL3  0x0300
#define TLS10 0x0301
#define TLS11 0x0302
#define TLS12 0x0303
#define TLS13 0x0304

#define W(x)  (1u << (x))

static const struct suite_info *S(const char *name)
{
	const struct suite_info *s = suite_by_name(name);

	if (!s)
		diag("suite %s not in the table", name);
	return s;
}

/* ---- observed from nmap 7.93 ----------------------------------------------------------- */

enum server_id {
	S_RSA2048,   /* s_server, RSA-2048, dhparam 2048, TLS 1.0-1.2 */
	S_RSA1024,   /* s_server, RSA-1024, dhparam 1024, TLS 1.2 */
	S_RSA4096,   /* s_server, RSA-4096, dhparam 4096, -groups secp384r1, TLS 1.2 */
	S_EC256,     /* s_server, ECDSA P-256, TLS 1.2 */
	S_EC384,     /* s_server, ECDSA P-384, -groups secp521r1, TLS 1.2 */
	S_DH1024,    /* s_server, RSA-2048, dhparam 1024, TLS 1.2 */
	S_PSK,       /* s_server, RSA-2048, dhparam 2048, -psk, -cipher PSK, TLS 1.2 */
	S_SHA1,      /* s_server, RSA-2048 signed with sha1WithRSAEncryption, dhparam 2048, TLS 1.2 */
	S_T13X25519, /* s_server, RSA-2048, -groups x25519, TLS 1.3 (all five RFC 8446 suites) */
	S_T13P384,   /* s_server, RSA-1024, -groups secp384r1, TLS 1.3 */
	S_T13FFDHE,  /* s_server, RSA-2048, -groups ffdhe2048, TLS 1.3 */
	S_T13P521,   /* s_server, ECDSA P-256, -groups secp521r1, TLS 1.3 */
	S_T13SHA1,   /* s_server, RSA-2048 SHA-1-signed, -groups x25519, TLS 1.3 */
	S_GNU2048,   /* gnutls-serv, RSA-2048, dhparams 2048, TLS 1.0-1.2 */
	S_GNU1024,   /* gnutls-serv, RSA-1024 (it still used a 2048-bit DH group) */
	S_GNU512,    /* gnutls-serv, RSA-512 (DH 2048) */
	S_GNUEC,     /* gnutls-serv, ECDSA P-256 */
	S_GNU4096,   /* gnutls-serv, RSA-4096, dhparams 2048 */
	S__COUNT,
};

static const struct server {
	enum grade_key_type cert_type;
	unsigned cert_bits;
	const char *sig;
} servers[] = {
	[S_RSA2048] = { GRADE_KEY_RSA, 2048, "sha256WithRSAEncryption" },
	[S_RSA1024] = { GRADE_KEY_RSA, 1024, "sha256WithRSAEncryption" },
	[S_RSA4096] = { GRADE_KEY_RSA, 4096, "sha256WithRSAEncryption" },
	[S_EC256] = { GRADE_KEY_EC, 256, "ecdsa-with-SHA256" },
	[S_EC384] = { GRADE_KEY_EC, 384, "ecdsa-with-SHA384" },
	[S_DH1024] = { GRADE_KEY_RSA, 2048, "sha256WithRSAEncryption" },
	[S_PSK] = { GRADE_KEY_RSA, 2048, "sha256WithRSAEncryption" },
	[S_SHA1] = { GRADE_KEY_RSA, 2048, "sha1WithRSAEncryption" },
	[S_T13X25519] = { GRADE_KEY_RSA, 2048, "sha256WithRSAEncryption" },
	[S_T13P384] = { GRADE_KEY_RSA, 1024, "sha256WithRSAEncryption" },
	[S_T13FFDHE] = { GRADE_KEY_RSA, 2048, "sha256WithRSAEncryption" },
	[S_T13P521] = { GRADE_KEY_EC, 256, "ecdsa-with-SHA256" },
	[S_T13SHA1] = { GRADE_KEY_RSA, 2048, "sha1WithRSAEncryption" },
	[S_GNU2048] = { GRADE_KEY_RSA, 2048, "sha256WithRSAEncryption" },
	[S_GNU1024] = { GRADE_KEY_RSA, 1024, "sha256WithRSAEncryption" },
	[S_GNU512] = { GRADE_KEY_RSA, 512, "sha256WithRSAEncryption" },
	[S_GNUEC] = { GRADE_KEY_EC, 256, "ecdsa-with-SHA256" },
	[S_GNU4096] = { GRADE_KEY_RSA, 4096, "sha256WithRSAEncryption" },
};
_Static_assert(sizeof servers / sizeof servers[0] == S__COUNT, "servers must cover enum server_id");

/* kx_bits / group: what nmap printed in parentheses ("dh 2048", a curve name); 0 when it
 * printed the certificate ("rsa 2048") or nothing. */
static const struct observed {
	enum server_id srv;
	uint16_t version;
	const char *suite;
	unsigned kx_bits;
	const char *group;
	char grade;
} observed[] = {
	{ S_RSA2048, TLS10, "TLS_RSA_WITH_AES_128_CBC_SHA", 0, NULL, 'A' },
	{ S_RSA2048, TLS11, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", 0, NULL, 'A' },
	{ S_RSA2048, TLS12, "TLS_RSA_WITH_AES_256_GCM_SHA384", 0, NULL, 'A' },
	{ S_RSA2048, TLS12, "TLS_RSA_WITH_AES_128_CCM_8", 0, NULL, 'A' },
	{ S_RSA2048, TLS10, "TLS_RSA_WITH_NULL_MD5", 0, NULL, 'F' },
	{ S_RSA2048, TLS12, "TLS_RSA_WITH_NULL_SHA256", 0, NULL, 'F' },
	{ S_RSA2048, TLS12, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 2048, NULL, 'A' },
	{ S_RSA2048, TLS12, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 2048, NULL, 'A' },
	{ S_RSA2048, TLS12, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256", 2048, NULL, 'A' },
	{ S_RSA2048, TLS12, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 256, "secp256r1", 'A' },
	{ S_RSA2048, TLS12, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384", 256, "secp256r1", 'A' },
	{ S_RSA2048, TLS10, "TLS_ECDHE_RSA_WITH_NULL_SHA", 256, "secp256r1", 'F' },
	{ S_RSA2048, TLS12, "TLS_DH_anon_WITH_AES_256_GCM_SHA384", 2048, NULL, 'F' },
	{ S_RSA2048, TLS11, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", 256, "secp256r1", 'F' },
	{ S_RSA2048, TLS12, "TLS_ECDH_anon_WITH_NULL_SHA", 256, "secp256r1", 'F' },
	/* RSA-1024: 0.43 * 0.8 + 0.57 * 0.8 is exactly nmap's A threshold (0.80) */
	{ S_RSA1024, TLS12, "TLS_RSA_WITH_AES_128_GCM_SHA256", 0, NULL, 'A' },
	{ S_RSA1024, TLS12, "TLS_RSA_WITH_AES_256_CBC_SHA256", 0, NULL, 'A' },
	{ S_RSA1024, TLS12, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 1024, NULL, 'A' },
	{ S_RSA1024, TLS12, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 256, "secp256r1", 'A' },
	{ S_RSA4096, TLS12, "TLS_RSA_WITH_AES_128_CBC_SHA", 0, NULL, 'A' },
	{ S_RSA4096, TLS12, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 4096, NULL, 'A' },
	{ S_RSA4096, TLS12, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 384, "secp384r1", 'A' },
	{ S_EC256, TLS12, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 256, "secp256r1", 'A' },
	{ S_EC256, TLS12, "TLS_ECDHE_ECDSA_WITH_NULL_SHA", 256, "secp256r1", 'F' },
	{ S_EC384, TLS12, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 521, "secp521r1", 'A' },
	{ S_DH1024, TLS12, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", 1024, NULL, 'A' },
	{ S_DH1024, TLS12, "TLS_DHE_RSA_WITH_AES_128_CCM", 1024, NULL, 'A' },
	/* plain PSK: no key-exchange strength at all, nmap prints "unknown" */
	{ S_PSK, TLS12, "TLS_PSK_WITH_AES_128_GCM_SHA256", 0, NULL, GRADE_UNKNOWN },
	{ S_PSK, TLS12, "TLS_PSK_WITH_NULL_SHA", 0, NULL, GRADE_UNKNOWN },
	{ S_PSK, TLS12, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA", 0, NULL, 'A' },
	{ S_PSK, TLS12, "TLS_RSA_PSK_WITH_NULL_SHA384", 0, NULL, 'F' },
	{ S_PSK, TLS12, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", 2048, NULL, 'A' },
	{ S_PSK, TLS12, "TLS_DHE_PSK_WITH_NULL_SHA256", 2048, NULL, 'F' },
	{ S_PSK, TLS12, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", 256, "secp256r1", 'A' },
	{ S_PSK, TLS12, "TLS_ECDHE_PSK_WITH_NULL_SHA", 256, "secp256r1", 'F' },
	/* SHA-1-signed certificate: every suite that uses it is capped at F */
	{ S_SHA1, TLS12, "TLS_RSA_WITH_AES_256_GCM_SHA384", 0, NULL, 'F' },
	{ S_SHA1, TLS12, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 256, "secp256r1", 'F' },
	{ S_SHA1, TLS12, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 2048, NULL, 'F' },
	/* TLS 1.3: only the key_share group counts, never the certificate */
	{ S_T13X25519, TLS13, "TLS_AES_128_GCM_SHA256", 256, "ecdh_x25519", 'A' },
	{ S_T13X25519, TLS13, "TLS_CHACHA20_POLY1305_SHA256", 256, "ecdh_x25519", 'A' },
	{ S_T13X25519, TLS13, "TLS_AES_128_CCM_8_SHA256", 256, "ecdh_x25519", 'A' },
	{ S_T13P384, TLS13, "TLS_AES_256_GCM_SHA384", 384, "secp384r1", 'A' },
	{ S_T13FFDHE, TLS13, "TLS_AES_128_GCM_SHA256", 2048, "ffdhe2048", 'A' },
	{ S_T13P521, TLS13, "TLS_AES_128_GCM_SHA256", 521, "secp521r1", 'A' },
	{ S_T13SHA1, TLS13, "TLS_AES_256_GCM_SHA384", 256, "ecdh_x25519", 'A' },
	{ S_GNU2048, TLS10, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0, NULL, 'C' },
	{ S_GNU2048, TLS12, "TLS_RSA_WITH_RC4_128_MD5", 0, NULL, 'C' },
	{ S_GNU2048, TLS12, "TLS_RSA_WITH_RC4_128_SHA", 0, NULL, 'C' },
	{ S_GNU2048, TLS11, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", 256, "secp256r1", 'C' },
	{ S_GNU2048, TLS12, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", 2048, NULL, 'C' },
	{ S_GNU2048, TLS10, "TLS_DH_anon_WITH_RC4_128_MD5", 2048, NULL, 'F' },
	{ S_GNU2048, TLS12, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", 256, "secp256r1", 'F' },
	{ S_GNU1024, TLS12, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0, NULL, 'D' },
	{ S_GNU1024, TLS10, "TLS_RSA_WITH_RC4_128_SHA", 0, NULL, 'D' },
	{ S_GNU1024, TLS12, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", 256, "secp256r1", 'D' },
	{ S_GNU1024, TLS11, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", 2048, NULL, 'D' },
	{ S_GNU512, TLS12, "TLS_RSA_WITH_AES_256_GCM_SHA384", 0, NULL, 'B' },
	{ S_GNU512, TLS12, "TLS_RSA_WITH_AES_128_GCM_SHA256", 0, NULL, 'C' },
	{ S_GNU512, TLS10, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0, NULL, 'E' },
	{ S_GNU512, TLS12, "TLS_RSA_WITH_RC4_128_MD5", 0, NULL, 'E' },
	{ S_GNU512, TLS12, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 256, "secp256r1", 'B' },
	{ S_GNU512, TLS11, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 2048, NULL, 'C' },
	{ S_GNU512, TLS12, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", 2048, NULL, 'B' },
	{ S_GNUEC, TLS12, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", 256, "secp256r1", 'C' },
	{ S_GNUEC, TLS10, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", 256, "secp256r1", 'C' },
	{ S_GNU4096, TLS12, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0, NULL, 'C' },
	{ S_GNU4096, TLS12, "TLS_RSA_WITH_RC4_128_SHA", 0, NULL, 'C' },
	{ S_GNU4096, TLS12, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", 256, "secp256r1", 'C' },
	{ S_GNU4096, TLS12, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 256, "secp256r1", 'A' },
};

static struct grade_keys keys_for(enum server_id srv, unsigned kx_bits, const char *group)
{
	struct grade_keys k = { 0 };

	k.cert_type = servers[srv].cert_type;
	k.cert_bits = servers[srv].cert_bits;
	k.cert_sig_alg = servers[srv].sig;
	k.kx_bits = kx_bits;
	k.kx_group = group;
	if (group && strncmp(group, "ffdhe", 5) == 0)
		k.kx_type = GRADE_KEY_DH;
	else if (group)
		k.kx_type = GRADE_KEY_EC;
	return k;
}

static void test_observed(void)
{
	char seen[8] = { 0 };

	for (size_t i = 0; i < sizeof observed / sizeof observed[0]; i++) {
		const struct observed *o = &observed[i];
		const struct suite_info *s = S(o->suite);
		struct grade_keys k = keys_for(o->srv, o->kx_bits, o->group);
		char g = grade_suite_keys(s, o->version, &k);

		if (!ok(s && g == o->grade, "nmap: %s in %s on server %d grades %c", o->suite,
			tls_version_name(o->version), (int)o->srv, o->grade))
			diag("got %c", g);
		if (o->grade >= 'A' && o->grade <= 'F')
			seen[o->grade - 'A'] = 1;
	}
	ok(seen[0] && seen[1] && seen[2] && seen[3] && seen[4] && seen[5], "the observed rows span A to F");
}

/* One whole nmap block: gnutls-serv with RSA-1024, TLSv1.2. Letters, the least strength and
 * the warnings list are nmap's as printed. kx as nmap printed it: DHE "dh 2048", ECDHE and
 * ECDH_anon "secp256r1", DH_anon "dh 2048", RSA "rsa 1024". */
static const struct {
	const char *suite;
	char grade;
} gnu1024_tls12[] = {
	{ "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", 'D' },
	{ "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 'A' },
	{ "TLS_DHE_RSA_WITH_AES_128_CCM", 'A' },
	{ "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 'A' },
	{ "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 'A' },
	{ "TLS_DHE_RSA_WITH_AES_256_CCM", 'A' },
	{ "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", 'A' },
	{ "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", 'A' },
	{ "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", 'A' },
	{ "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 'A' },
	{ "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", 'F' },
	{ "TLS_DH_anon_WITH_AES_128_CBC_SHA", 'F' },
	{ "TLS_DH_anon_WITH_AES_128_GCM_SHA256", 'F' },
	{ "TLS_DH_anon_WITH_AES_256_CBC_SHA", 'F' },
	{ "TLS_DH_anon_WITH_AES_256_GCM_SHA384", 'F' },
	{ "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA", 'F' },
	{ "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA", 'F' },
	{ "TLS_DH_anon_WITH_RC4_128_MD5", 'F' },
	{ "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", 'D' },
	{ "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 'A' },
	{ "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 'A' },
	{ "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 'A' },
	{ "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 'A' },
	{ "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 'A' },
	{ "TLS_ECDHE_RSA_WITH_RC4_128_SHA", 'D' },
	{ "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", 'F' },
	{ "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", 'F' },
	{ "TLS_ECDH_anon_WITH_AES_256_CBC_SHA", 'F' },
	{ "TLS_ECDH_anon_WITH_RC4_128_SHA", 'F' },
	{ "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 'D' },
	{ "TLS_RSA_WITH_AES_128_CBC_SHA", 'A' },
	{ "TLS_RSA_WITH_AES_128_CCM", 'A' },
	{ "TLS_RSA_WITH_AES_128_GCM_SHA256", 'A' },
	{ "TLS_RSA_WITH_AES_256_CBC_SHA", 'A' },
	{ "TLS_RSA_WITH_AES_256_CCM", 'A' },
	{ "TLS_RSA_WITH_AES_256_GCM_SHA384", 'A' },
	{ "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", 'A' },
	{ "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", 'A' },
	{ "TLS_RSA_WITH_RC4_128_MD5", 'D' },
	{ "TLS_RSA_WITH_RC4_128_SHA", 'D' },
};

/* The nmap warnings of a set of accepted suites: union of the per-suite ones in nmap's
 * wording, plus "Forward Secrecy not supported by any cipher" when no suite is forward-secret.
 * Our own warnings (not printed by nmap) are left out. Returns the mask. */
static unsigned nmap_warnings(const struct suite_info *const *suites, const struct grade_keys *keys, size_t n,
			      uint16_t version)
{
	const unsigned ours = W(GW_NULL) | W(GW_DH_UNDER_2048) | W(GW_DH_UNDER_1024) | W(GW_RSA_UNDER_2048);
	unsigned w = 0;
	int pfs = 0;

	for (size_t i = 0; i < n; i++) {
		w |= grade_warnings_keys(suites[i], version, &keys[i]);
		pfs |= grade_suite_pfs(suites[i]);
	}
	if (!pfs)
		w |= W(GW_NO_PFS);
	return w & ~ours;
}

static void test_observed_block(void)
{
	enum { N = sizeof gnu1024_tls12 / sizeof gnu1024_tls12[0] };
	const struct suite_info *suites[N];
	struct grade_keys keys[N];
	char grades[N];
	int all = 1;
	unsigned w;
	char text[160];

	for (size_t i = 0; i < N; i++) {
		const char *n = gnu1024_tls12[i].suite;

		suites[i] = S(n);
		if (strncmp(n, "TLS_DHE_", 8) == 0 || strncmp(n, "TLS_DH_anon_", 12) == 0)
			keys[i] = keys_for(S_GNU1024, 2048, NULL);
		else if (strncmp(n, "TLS_ECDH", 8) == 0)
			keys[i] = keys_for(S_GNU1024, 256, "secp256r1");
		else
			keys[i] = keys_for(S_GNU1024, 0, NULL);
		grades[i] = suites[i] ? grade_suite_keys(suites[i], TLS12, &keys[i]) : 0;
		if (grades[i] != gnu1024_tls12[i].grade) {
			all = 0;
			diag("%s: got %c, nmap %c", n, grades[i], gnu1024_tls12[i].grade);
		}
	}
	ok(all, "nmap block (gnutls, RSA-1024, TLSv1.2): all %d letters agree", N);
	is_int(grade_least(grades, N), 'F', "nmap block: least strength F");
	w = nmap_warnings(suites, keys, N, TLS12);
	/* nmap printed exactly these four */
	is_int(w, W(GW_3DES_SWEET32) | W(GW_ANON) | W(GW_RC4) | W(GW_MD5),
	       "nmap block: the four warnings nmap printed");
	grade_warning_format(GW_3DES_SWEET32, S("TLS_RSA_WITH_3DES_EDE_CBC_SHA"), NULL, text, sizeof text);
	is_str(text, "64-bit block cipher 3DES vulnerable to SWEET32 attack", "nmap text: SWEET32 (3DES)");
	is_str(grade_warning_text(GW_ANON), "Anonymous key exchange, score capped at F", "nmap text: anonymous");
	is_str(grade_warning_text(GW_RC4), "Broken cipher RC4 is deprecated by RFC 7465", "nmap text: RC4");
	is_str(grade_warning_text(GW_MD5), "Ciphersuite uses MD5 for message integrity", "nmap text: MD5");
}

/* Warnings nmap printed that depend on the keys. */
static void test_observed_warnings(void)
{
	char text[160];
	struct grade_keys k;
	const struct suite_info *s;

	/* S_DH1024: "Key exchange (dh 1024) of lower strength than certificate key" */
	s = S("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384");
	k = keys_for(S_DH1024, 1024, NULL);
	ok(grade_warnings_keys(s, TLS12, &k) & W(GW_KX_WEAKER_THAN_CERT), "nmap: dh 1024 under RSA-2048 is weaker");
	grade_warning_format(GW_KX_WEAKER_THAN_CERT, s, &k, text, sizeof text);
	is_str(text, "Key exchange (dh 1024) of lower strength than certificate key", "nmap text: kx weaker (dh)");
	/* S_RSA1024 printed no such warning: dh 1024 equals the RSA-1024 certificate */
	k = keys_for(S_RSA1024, 1024, NULL);
	ok(!(grade_warnings_keys(s, TLS12, &k) & W(GW_KX_WEAKER_THAN_CERT)), "nmap: dh 1024 under RSA-1024 is not");
	/* S_GNU4096: secp256r1 (RSA-equivalent 3072) and dh 2048 under an RSA-4096 certificate */
	s = S("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	k = keys_for(S_GNU4096, 256, "secp256r1");
	grade_warning_format(GW_KX_WEAKER_THAN_CERT, s, &k, text, sizeof text);
	ok(grade_warnings_keys(s, TLS12, &k) & W(GW_KX_WEAKER_THAN_CERT), "nmap: secp256r1 under RSA-4096 is weaker");
	is_str(text, "Key exchange (secp256r1) of lower strength than certificate key", "nmap text: kx weaker (curve)");
	k = keys_for(S_GNU4096, 2048, NULL);
	grade_warning_format(GW_KX_WEAKER_THAN_CERT, S("TLS_DHE_RSA_WITH_AES_128_CBC_SHA"), &k, text, sizeof text);
	is_str(text, "Key exchange (dh 2048) of lower strength than certificate key", "nmap text: kx weaker (dh 2048)");
	/* S_SHA1: "Insecure certificate signature (SHA1), score capped at F" */
	s = S("TLS_RSA_WITH_AES_256_GCM_SHA384");
	k = keys_for(S_SHA1, 0, NULL);
	ok(grade_warnings_keys(s, TLS12, &k) & W(GW_WEAK_CERT_SIG), "nmap: SHA-1 certificate signature");
	grade_warning_format(GW_WEAK_CERT_SIG, s, &k, text, sizeof text);
	is_str(text, "Insecure certificate signature (SHA1), score capped at F", "nmap text: weak signature");
	/* S_T13SHA1: nmap printed no warning in TLS 1.3 (the certificate is not looked at) */
	k = keys_for(S_T13SHA1, 256, "ecdh_x25519");
	is_int(grade_warnings_keys(S("TLS_AES_256_GCM_SHA384"), TLS13, &k), 0, "nmap: TLS 1.3 ignores the SHA-1 cert");
	/* s_server -cipher 'SRP:AES128-SHA' (SRP refused without a client identity): nmap saw one
	 * suite, TLS_RSA_WITH_AES_128_CBC_SHA, and printed only the forward-secrecy warning. */
	{
		const struct suite_info *one[1] = { S("TLS_RSA_WITH_AES_128_CBC_SHA") };
		struct grade_keys kk[1] = { keys_for(S_RSA2048, 0, NULL) };

		is_int(nmap_warnings(one, kk, 1, TLS12), W(GW_NO_PFS), "nmap: no forward secrecy");
		is_str(grade_warning_text(GW_NO_PFS), "Forward Secrecy not supported by any cipher",
		       "nmap text: no PFS");
	}
	/* S_PSK's least strength was "unknown" (plain PSK suites), S_T13X25519's A */
	is_int(grade_least("AAF?A", 5), GRADE_UNKNOWN, "nmap: least strength unknown when one suite is");
	is_int(grade_least("AAA", 3), 'A', "nmap: least strength A");
}

/* ---- derived from the script --------------------------------------------------------- */

struct derived {
	const char *suite;
	uint16_t version;
	struct grade_keys k;
	char grade;
	int score;
	const char *why;
};

#define RSA(bits)     .cert_type = GRADE_KEY_RSA, .cert_bits = (bits), .cert_sig_alg = "sha256WithRSAEncryption"
#define CERT_EC(bits) .cert_type = GRADE_KEY_EC, .cert_bits = (bits), .cert_sig_alg = "ecdsa-with-SHA256"
#define CERT_DH(bits) .cert_type = GRADE_KEY_DH, .cert_bits = (bits), .cert_sig_alg = "sha256WithRSAEncryption"

static const struct derived derived[] = {
	{ "TLS_RSA_WITH_AES_128_CBC_SHA",
	  SSL3,
	  { RSA(2048) },
	  'A',
	  843,
	  "SSLv3 changes no grade (2048: 0.9, AES-128: 0.8)" },
	{ "TLS_RSA_WITH_RC4_128_SHA", SSL3, { RSA(2048) }, 'C', 501, "RC4 counts as 80 bits: 0.387 + 0.114" },
	{ "TLS_RSA_EXPORT_WITH_RC4_40_MD5", TLS10, { RSA(2048) }, 'E', 286, "export floor 512 (0.4), RC4-40 (0.2)" },
	{ "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
	  TLS10,
	  { .kx_bits = 512, RSA(2048) },
	  'E',
	  200,
	  "export ServerKeyExchange: nmap measures 64 (bytes) -> 0.2; 0.2 is exactly E" },
	{ "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA", TLS10, { RSA(1024) }, 'D', 458, "EXPORT1024 floor 1024 (0.8), RC4-56" },
	{ "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA",
	  TLS10,
	  { .kx_bits = 1024, RSA(1024) },
	  'E',
	  200,
	  "1024-bit export key measured as 128 (bytes)" },
	{ "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", SSL3, { RSA(2048) }, 'E', 286, "DES40 is 40 bits" },
	{ "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", SSL3, { RSA(2048) }, 'E', 286, "RC2_CBC_40: export size override 40" },
	{ "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
	  TLS10,
	  { .kx_bits = 512, RSA(2048) },
	  'E',
	  286,
	  "min(512, 2048, dh 512)" },
	{ "TLS_RSA_WITH_DES_CBC_SHA", TLS10, { RSA(2048) }, 'C', 501, "DES is 56 bits (0.2)" },
	{ "TLS_RSA_WITH_IDEA_CBC_SHA", TLS10, { RSA(2048) }, 'A', 843, "IDEA is 128 bits: only a SWEET32 warning" },
	{ "TLS_RSA_WITH_SEED_CBC_SHA", TLS10, { RSA(2048) }, 'A', 843, "SEED is 128 bits" },
	{ "TLS_NULL_WITH_NULL_NULL", TLS10, { RSA(2048) }, 'F', 0, "NULL key exchange is anonymous" },
	{ "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", TLS12, { .kx_bits = 512, RSA(2048) }, 'C', 628, "dh 512: 0.4" },
	{ "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", TLS12, { .kx_bits = 768, RSA(2048) }, 'B', 742, "dh 768: 0.4" },
	{ "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", TLS12, { .kx_bits = 256, RSA(2048) }, 'C', 542, "dh 256: 0.2" },
	{ "TLS_KRB5_EXPORT_WITH_RC4_40_SHA", TLS10, { 0 }, 'E', 286, "export floor needs no measurement" },
	{ "TLS_KRB5_WITH_3DES_EDE_CBC_SHA",
	  TLS10,
	  { RSA(2048) },
	  GRADE_UNKNOWN,
	  GRADE_SCORE_UNKNOWN,
	  "KRB5: no strength" },
	{ "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA",
	  TLS12,
	  { .kx_bits = 2048, RSA(2048) },
	  GRADE_UNKNOWN,
	  GRADE_SCORE_UNKNOWN,
	  "SRP: rsa_equiv(\"srp\") is nil, Lua error" },
	{ "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA",
	  TLS10,
	  { .kx_bits = 1024 },
	  GRADE_UNKNOWN,
	  GRADE_SCORE_UNKNOWN,
	  "KEX_ALGORITHMS.DHE_DSS_EXPORT1024 is nil, Lua error" },
	{ "TLS_ECCPWD_WITH_AES_128_GCM_SHA256",
	  TLS12,
	  { RSA(2048) },
	  GRADE_UNKNOWN,
	  GRADE_SCORE_UNKNOWN,
	  "ECCPWD: no strength" },
	{ "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC",
	  TLS12,
	  { RSA(2048) },
	  GRADE_UNKNOWN,
	  GRADE_SCORE_UNKNOWN,
	  "GOSTR341112_256 not in KEX_ALGORITHMS" },
	{ "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L",
	  TLS13,
	  { .kx_bits = 256 },
	  GRADE_UNKNOWN,
	  GRADE_SCORE_UNKNOWN,
	  "TLS 1.3 GOST: nmap still parses the name" },
	{ "TLS_SHA256_SHA256",
	  TLS13,
	  { .kx_bits = 256 },
	  'F',
	  0,
	  "TLS 1.3 integrity-only (nmap TLS_AKE_WITH_NULL_SHA256)" },
	{ "TLS_AES_128_GCM_SHA256", TLS13, { .kx_bits = 4096, .kx_type = GRADE_KEY_DH }, 'A', 886, "ffdhe4096: 1.0" },
	{ "TLS_AES_128_GCM_SHA256", TLS13, { .kx_bits = 448, .kx_type = GRADE_KEY_EC }, 'A', 886, "x448: 7680" },
	{ "TLS_RSA_WITH_AES_128_CBC_SHA", TLS12, { RSA(2048), .rsa_exponent_1 = true }, 'F', 0, "RSA exponent 1" },
	{ "TLS_RSA_WITH_AES_128_CBC_SHA",
	  TLS12,
	  { .cert_type = GRADE_KEY_RSA, .cert_bits = 2048, .cert_sig_alg = "md5WithRSAEncryption" },
	  'F',
	  0,
	  "MD5 signature" },
	{ "TLS_DH_RSA_WITH_AES_128_CBC_SHA",
	  TLS12,
	  { RSA(2048) },
	  GRADE_UNKNOWN,
	  GRADE_SCORE_UNKNOWN,
	  "static DH wants a DH certificate key" },
	{ "TLS_DH_RSA_WITH_AES_128_CBC_SHA", TLS12, { CERT_DH(2048) }, 'A', 843, "static DH, DH-2048 certificate" },
	{ "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", TLS12, { CERT_EC(256) }, 'A', 843, "static ECDH, P-256: 3072" },
	{ "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", TLS12, { .kx_bits = 160, CERT_EC(160) }, 'D', 458, "160-bit: 1024" },
	{ "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", TLS12, { .kx_bits = 112, CERT_EC(256) }, 'B', 742, "112: 512" },
	{ "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", TLS12, { 0 }, GRADE_UNKNOWN, GRADE_SCORE_UNKNOWN, "nothing measured" },
	{ "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", TLS12, { RSA(2048) }, 'A', 843, "certificate only (no SKE parsed)" },
	{ "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	  TLS12,
	  { .kx_bits = 256, .cert_type = GRADE_KEY_EC, .cert_bits = 256 },
	  'A',
	  843,
	  "certificate of the wrong type is not measured" },
};

static void test_derived(void)
{
	for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++) {
		const struct derived *d = &derived[i];
		const struct suite_info *s = S(d->suite);
		char g = grade_suite_keys(s, d->version, &d->k);
		int sc = grade_score_keys(s, d->version, &d->k);

		if (!ok(s && g == d->grade && sc == d->score, "derived: %s in %s: %c (%s)", d->suite,
			tls_version_name(d->version), d->grade, d->why))
			diag("got %c, score %d (want %d)", g, sc, d->score);
	}
}

static void test_derived_warnings(void)
{
	struct grade_keys k = { RSA(2048) };
	char text[160];
	unsigned w;

	w = grade_warnings_keys(S("TLS_RSA_WITH_AES_128_CBC_SHA"), SSL3, &k);
	is_int(w, W(GW_SSLV3_CBC_POODLE), "derived: CBC in SSLv3 is POODLE");
	is_str(grade_warning_text(GW_SSLV3_CBC_POODLE), "CBC-mode cipher in SSLv3 (CVE-2014-3566)", "POODLE text");
	is_int(grade_warnings_keys(S("TLS_RSA_WITH_AES_128_CBC_SHA"), TLS10, &k), 0, "derived: not in TLS 1.0");
	is_int(grade_warnings_keys(S("TLS_RSA_WITH_RC4_128_SHA"), SSL3, &k), W(GW_RC4),
	       "derived: RC4 in SSLv3, no POODLE");
	is_int(grade_warnings_keys(S("TLS_RSA_EXPORT_WITH_RC4_40_MD5"), SSL3, &k), W(GW_EXPORT) | W(GW_RC4) | W(GW_MD5),
	       "derived: export RC4-40 MD5");
	is_str(grade_warning_text(GW_EXPORT), "Export key exchange", "export text");
	w = grade_warnings_keys(S("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"), SSL3, &k);
	is_int(w, W(GW_EXPORT) | W(GW_3DES_SWEET32) | W(GW_SSLV3_CBC_POODLE), "derived: export DES40 in SSLv3");
	grade_warning_format(GW_3DES_SWEET32, S("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"), &k, text, sizeof text);
	is_str(text, "64-bit block cipher DES40 vulnerable to SWEET32 attack", "derived: SWEET32 names DES40");
	grade_warning_format(GW_3DES_SWEET32, S("TLS_RSA_WITH_IDEA_CBC_SHA"), &k, text, sizeof text);
	is_str(text, "64-bit block cipher IDEA vulnerable to SWEET32 attack", "derived: SWEET32 names IDEA");
	grade_warning_format(GW_3DES_SWEET32, S("TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"), &k, text, sizeof text);
	is_str(text, "64-bit block cipher RC2 vulnerable to SWEET32 attack", "derived: SWEET32 names RC2");
	is_int(grade_warnings_keys(S("TLS_RSA_WITH_SEED_CBC_SHA"), TLS10, &k), 0, "derived: SEED has 128-bit blocks");
	is_int(grade_warnings_keys(S("TLS_NULL_WITH_NULL_NULL"), TLS10, &k), W(GW_ANON) | W(GW_NULL),
	       "derived: NULL_WITH_NULL_NULL is anonymous and unencrypted");
	is_int(grade_warnings_keys(S("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), TLS13, &k), W(GW_TLS13_LEGACY_SUITE),
	       "derived: TLS 1.2 suite chosen in TLS 1.3");
	is_str(grade_warning_text(GW_TLS13_LEGACY_SUITE), "Non-TLSv1.3 ciphersuite chosen for TLSv1.3", "legacy text");
	k.rsa_exponent_1 = true;
	ok(grade_warnings_keys(S("TLS_RSA_WITH_AES_128_CBC_SHA"), TLS12, &k) & W(GW_RSA_EXPONENT_1), "derived: e = 1");
	is_str(grade_warning_text(GW_RSA_EXPONENT_1), "Certificate RSA exponent is 1, score capped at F", "e = 1 text");
	k.rsa_exponent_1 = false;
	k.cert_sig_alg = "md5WithRSAEncryption";
	grade_warning_format(GW_WEAK_CERT_SIG, S("TLS_RSA_WITH_AES_128_CBC_SHA"), &k, text, sizeof text);
	is_str(text, "Insecure certificate signature (MD5), score capped at F", "derived: MD5 signature text");
	ok(!(grade_warnings_keys(S("TLS_DH_anon_WITH_AES_128_CBC_SHA"), TLS12, &k) & W(GW_WEAK_CERT_SIG)),
	   "derived: anonymous suites do not look at the certificate");
	k.cert_sig_alg = "ecdsa-with-SHA1";
	k.cert_type = GRADE_KEY_EC;
	k.cert_bits = 256;
	is_int(grade_suite_keys(S("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), TLS12, &k), 'F',
	       "derived: ecdsa-with-SHA1");
	/* nmap's kx "extra" for an export RSA key is the byte count too */
	k = (struct grade_keys){ .kx_bits = 512, RSA(2048) };
	grade_warning_format(GW_KX_WEAKER_THAN_CERT, S("TLS_RSA_EXPORT_WITH_RC4_40_MD5"), &k, text, sizeof text);
	is_str(text, "Key exchange (rsa 64) of lower strength than certificate key", "derived: export kx text (bytes)");
}

/* ---- the one-number API, tiers, least, names ------------------------------------------ */

static void test_simple_api(void)
{
	is_int(grade_suite(S("TLS_RSA_WITH_AES_128_GCM_SHA256"), TLS12, 2048), 'A', "RSA 2048 AES-128: A");
	is_int(grade_suite(S("TLS_RSA_WITH_AES_128_GCM_SHA256"), TLS12, 1024), 'A', "RSA 1024 AES-128: A");
	is_int(grade_suite(S("TLS_RSA_WITH_AES_128_GCM_SHA256"), TLS12, 512), 'C', "RSA 512 AES-128: C");
	is_int(grade_suite(S("TLS_RSA_WITH_AES_128_GCM_SHA256"), TLS12, 0), GRADE_UNKNOWN, "RSA unmeasured: unknown");
	is_int(grade_suite(S("TLS_RSA_WITH_3DES_EDE_CBC_SHA"), TLS12, 1024), 'D', "RSA 1024 3DES: D");
	is_int(grade_suite(S("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"), TLS12, 512), 'B', "DHE 512 AES-256: B");
	is_int(grade_suite(S("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"), TLS12, 0), GRADE_UNKNOWN, "DHE unmeasured");
	is_int(grade_score(S("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), TLS12, 256), 843,
	       "ECDHE 256: 3072-equivalent");
	is_int(grade_score(S("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"), TLS12, 384), 1000, "ECDHE 384: 7680-equivalent");
	is_int(grade_suite(S("TLS_DH_anon_WITH_AES_128_CBC_SHA"), TLS12, 0), 'F', "anonymous: F without measuring");
	is_int(grade_suite(S("TLS_RSA_EXPORT_WITH_RC4_40_MD5"), TLS10, 0), 'E', "export: floor without measuring");
	is_int(grade_suite(S("TLS_RSA_EXPORT_WITH_RC4_40_MD5"), TLS10, 2048), 'E', "export: RSA-2048 certificate");
	is_int(grade_suite(S("TLS_PSK_WITH_AES_128_CBC_SHA"), TLS12, 2048), GRADE_UNKNOWN, "plain PSK: unknown");
	is_int(grade_suite(S("TLS_RSA_PSK_WITH_AES_128_CBC_SHA"), TLS12, 2048), 'A', "RSA_PSK: the RSA key");
	is_int(grade_score(S("TLS_AES_128_GCM_SHA256"), TLS13, 256), 843, "TLS 1.3 x25519");
	is_int(grade_score(S("TLS_AES_128_GCM_SHA256"), TLS13, 2048), 843, "TLS 1.3 ffdhe2048");
	is_int(grade_score(S("TLS_AES_128_GCM_SHA256"), TLS13, 4096), 886, "TLS 1.3 ffdhe4096");
	is_int(grade_score(S("TLS_AES_256_GCM_SHA384"), TLS13, 384), 1000, "TLS 1.3 secp384r1");
	is_int(grade_suite(S("TLS_AES_128_GCM_SHA256"), TLS13, 0), GRADE_UNKNOWN, "TLS 1.3 group unknown");
	is_int(grade_suite(NULL, TLS12, 2048), GRADE_UNKNOWN, "NULL suite: unknown");
	is_int(grade_suite(S("TLS_FALLBACK_SCSV"), TLS12, 2048), GRADE_UNKNOWN, "signaling value: unknown");

	is_int(grade_warnings_suite(S("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"), TLS12, 1024), W(GW_DH_UNDER_2048),
	       "DHE 1024: dh-under-2048");
	is_int(grade_warnings_suite(S("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"), TLS12, 768), W(GW_DH_UNDER_1024),
	       "DHE 768: dh-under-1024 only");
	is_int(grade_warnings_suite(S("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"), TLS12, 2048), 0, "DHE 2048: none");
	is_int(grade_warnings_suite(S("TLS_DH_anon_WITH_AES_128_CBC_SHA"), TLS12, 1024),
	       W(GW_ANON) | W(GW_DH_UNDER_2048), "DH_anon 1024");
	is_int(grade_warnings_suite(S("TLS_AES_128_GCM_SHA256"), TLS13, 2048), 0, "TLS 1.3 ffdhe2048: none");
	is_int(grade_warnings_suite(S("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), TLS12, 256), 0, "ECDHE 256: none");
	is_int(grade_warnings_suite(S("TLS_RSA_WITH_AES_128_GCM_SHA256"), TLS12, 1024), W(GW_RSA_UNDER_2048),
	       "RSA 1024: rsa-under-2048");
	is_int(grade_warnings_suite(S("TLS_RSA_WITH_AES_128_GCM_SHA256"), TLS12, 2048), 0, "RSA 2048: none");
	is_int(grade_warnings_suite(S("TLS_RSA_WITH_NULL_SHA"), TLS12, 2048), W(GW_NULL), "NULL cipher");
	is_int(grade_warnings_suite(NULL, TLS12, 2048), 0, "NULL suite: no warnings");

	ok(grade_suite_pfs(S("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256")), "pfs: DHE");
	ok(grade_suite_pfs(S("TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA")), "pfs: ECDHE_PSK");
	ok(grade_suite_pfs(S("TLS_AES_128_GCM_SHA256")), "pfs: TLS 1.3");
	ok(!grade_suite_pfs(S("TLS_DH_anon_WITH_AES_128_CBC_SHA")), "pfs: not DH_anon (nmap)");
	ok(!grade_suite_pfs(S("TLS_RSA_WITH_AES_128_CBC_SHA")), "pfs: not RSA");
}

/* nmap's score in doubles, as score_cipher + letter_grade compute it. */
static char nmap_letter(int kex, int size)
{
	volatile double ks, cs, score;

	if (kex <= 0 || size <= 0)
		score = 0;
	else {
		ks = kex < 512 ? 0.2 : kex < 1024 ? 0.4 : kex < 2048 ? 0.8 : kex < 4096 ? 0.9 : 1.0;
		cs = size < 128 ? 0.2 : size < 256 ? 0.8 : 1.0;
		score = 0.43 * ks + 0.57 * cs;
	}
	return score >= 0.80   ? 'A'
	       : score >= 0.65 ? 'B'
	       : score >= 0.50 ? 'C'
	       : score >= 0.35 ? 'D'
	       : score >= 0.20 ? 'E'
			       : 'F';
}

static void test_tiers_match_doubles(void)
{
	static const unsigned rsa_bits[] = { 256, 511, 512, 768, 1023, 1024, 2047, 2048, 3072, 4095, 4096, 8192 };
	static const struct {
		const char *suite;
		int size;
	} ciphers[] = {
		{ "TLS_RSA_WITH_NULL_SHA", 0 },           { "TLS_RSA_EXPORT_WITH_RC4_40_MD5", 40 },
		{ "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 112 }, { "TLS_RSA_WITH_AES_128_CBC_SHA", 128 },
		{ "TLS_RSA_WITH_AES_256_CBC_SHA", 256 },
	};
	int all = 1, n = 0;

	for (size_t c = 0; c < sizeof ciphers / sizeof ciphers[0]; c++) {
		for (size_t b = 0; b < sizeof rsa_bits / sizeof rsa_bits[0]; b++) {
			const struct suite_info *s = S(ciphers[c].suite);
			/* the export suite has a 512 floor: its kex is min(512, bits) */
			int kex = (s->flags & SF_EXPORT) && rsa_bits[b] > 512 ? 512 : (int)rsa_bits[b];
			char want = nmap_letter(kex, ciphers[c].size), got = grade_suite(s, TLS10, rsa_bits[b]);

			n++;
			if (got != want) {
				all = 0;
				diag("%s RSA-%u: got %c, nmap's doubles give %c", ciphers[c].suite, rsa_bits[b], got,
				     want);
			}
		}
	}
	ok(all, "integer scores give nmap's double-precision letters at every tier boundary (%d cases)", n);
}

static void test_least(void)
{
	is_int(grade_least("ABC", 3), 'C', "least of ABC");
	is_int(grade_least("AFB", 3), 'F', "least of AFB");
	is_int(grade_least("AB?", 3), GRADE_UNKNOWN, "unknown is worse than F (nmap string order)");
	is_int(grade_least("AxD", 3), 'D', "other bytes are ignored");
	is_int(grade_least("ABE", 2), 'B', "only n bytes are read");
	is_int(grade_least("", 0), 'A', "empty: A (nmap starts from A)");
	is_int(grade_least(NULL, 3), 'A', "NULL: A");
}

static void test_names(void)
{
	int unique = 1, filled = 1;
	char buf[16];
	int len;

	for (int i = 0; i < GW__COUNT; i++) {
		const char *n = grade_warning_name((enum grade_warning)i),
			   *t = grade_warning_text((enum grade_warning)i);

		if (!n || !*n || !strcmp(n, "?") || !t || !*t || !strcmp(t, "?"))
			filled = 0;
		for (int j = 0; j < i; j++)
			if (!strcmp(n, grade_warning_name((enum grade_warning)j)))
				unique = 0;
	}
	ok(filled, "every warning has a name and a text");
	ok(unique, "warning names are unique");
	is_str(grade_warning_name(GW_RC4), "rc4", "name rc4");
	is_str(grade_warning_name(GW_3DES_SWEET32), "sweet32", "name sweet32");
	is_str(grade_warning_name(GW_SSLV3_CBC_POODLE), "poodle", "name poodle");
	is_str(grade_warning_name(GW_DH_UNDER_2048), "dh-under-2048", "name dh-under-2048");
	is_str(grade_warning_name(GW__COUNT), "?", "name out of range");
	is_str(grade_warning_text((enum grade_warning) - 1), "?", "text out of range");
	is_str(grade_key_type_name(GRADE_KEY_EC), "ec", "key type ec");
	is_str(grade_key_type_name(GRADE_KEY__COUNT), "?", "key type out of range");
	len = grade_warning_format(GW_RC4, NULL, NULL, buf, sizeof buf);
	is_int(len, (long long)strlen(grade_warning_text(GW_RC4)), "format returns the full length");
	is_int(strlen(buf), sizeof buf - 1, "format truncates to the buffer");
	is_int(grade_warning_format(GW__COUNT, NULL, NULL, buf, sizeof buf), -1, "format out of range");
}

/* Every suite of the table, in every version, with assorted keys: a letter or unknown, known
 * warning bits only, never the set-level GW_NO_PFS. Run under ASan/UBSan by `make asan`. */
static void test_whole_table(void)
{
	static const uint16_t versions[] = { SSL3, TLS10, TLS11, TLS12, TLS13 };
	static const unsigned bits[] = { 0, 1, 160, 256, 521, 1024, 2048, 100000 };
	int good = 1;
	size_t n = 0;
	char text[160];

	for (size_t i = 0; i < suites_count(); i++) {
		const struct suite_info *s = suite_at(i);

		for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
			for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
				struct grade_keys k = { .kx_bits = bits[b], RSA(bits[b]), .kx_group = "x" };
				char g1 = grade_suite(s, versions[v], bits[b]),
				     g2 = grade_suite_keys(s, versions[v], &k);
				unsigned w = grade_warnings_suite(s, versions[v], bits[b]) |
					     grade_warnings_keys(s, versions[v], &k);

				n++;
				if (!((g1 >= 'A' && g1 <= 'F') || g1 == GRADE_UNKNOWN) ||
				    !((g2 >= 'A' && g2 <= 'F') || g2 == GRADE_UNKNOWN) || (w >> GW__COUNT) ||
				    (w & W(GW_NO_PFS))) {
					good = 0;
					diag("%s v%04x bits %u: %c %c %#x", s->name, versions[v], bits[b], g1, g2, w);
				}
				for (int j = 0; j < GW__COUNT; j++)
					if (grade_warning_format((enum grade_warning)j, s, &k, text, sizeof text) <= 0)
						good = 0;
			}
		}
	}
	ok(good, "whole table x versions x key sizes: valid letters and warning masks (%zu cases)", n);
}

int main(void)
{
	test_observed();
	test_observed_block();
	test_observed_warnings();
	test_derived();
	test_derived_warnings();
	test_simple_api();
	test_tiers_match_doubles();
	test_least();
	test_names();
	test_whole_table();
	return done_testing();
}
