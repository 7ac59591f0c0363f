/*
 * verify: certificate chain analysis and verification as a sending MTA sees it, sans I/O.
 * Input: the DER certificates the server sent (leaf first), the MX host name, the recipient
 * domain and a time. Output: what each certificate says and the verdict `openssl verify
 * -CAfile ROOTS -untrusted <sent intermediates> -verify_hostname MX` would print first.
 *
 * How (RECIPES.md §1.5, with the pitfalls it lists avoided):
 *  - The root bundle is parsed once (verify_roots_load) and indexed by a hash of each root's
 *    DER subject name. Per chain only the candidate roots go into a fresh, small
 *    WOLFSSL_CERT_MANAGER (about 0.1 ms instead of 3 ms for the whole bundle), which is freed
 *    before returning: nothing learnt from one chain can leak into the next (a shared CTX does
 *    that), and the compat X509_verify_cert path (which trusts supplied intermediates) is
 *    never used.
 *  - The path is built as OpenSSL 3.0 builds it (trusted first): from the leaf, at each step
 *    the issuer is looked for among the roots (subject name equal, authority key id equal to
 *    the root's subject key id when both exist), then among the sent certificates, in any
 *    order. Signatures are then checked by wolfSSL top down, each verified intermediate added
 *    to the CertManager as a CA, the leaf last.
 *  - Validity dates are checked here against `now` (wolfSSL is given, through wc_SetTimeCb, a
 *    time inside each certificate's own validity so that its date check never decides), so an
 *    explicit time works and the error order can follow OpenSSL's.
 *
 * Error order, checked against `openssl verify` 3.0.19 (`-attime` for other times): first
 * chain building (18 self-signed leaf, 19 self-signed root not trusted, 20 issuer not found),
 * then the CA flag of the intermediates (79), then the host name (62), then from the top of
 * the chain down, per certificate: signature (7), not before (9), not after (10). So an
 * expired leaf with a wrong name gives 62, an untrusted one with a wrong name gives 20. `code`
 * is that first error; name_match_mx / name_match_domain are always computed. No security
 * level is applied (plain `openssl verify` accepts RSA-1024 and SHA-1): see the flags.
 *
 * Missing intermediate or unknown CA? Without fetching the AIA caIssuers URL (which we do
 * not do) nobody can know for sure. What we report:
 *   chain_complete:       the path reaches a root of the bundle (or the leaf is one).
 *   issuer_known:         the top of the path (the last sent certificate reached from the
 *                         leaf) is a root, or its issuer name is a root's subject.
 *   missing_intermediate: code 20 and the path stops at the leaf: no sent certificate issued
 *                         it and its issuer (normally an intermediate CA's name) is no root.
 *                         The server most likely forgot the intermediate. A leaf issued
 *                         directly by an unknown root, sent alone, also lands here.
 *   unknown_ca:           code 19 or 20 with the path going past the leaf: the server sent
 *                         CA certificates, and the top one is a self-signed root we do not
 *                         trust (19), or an intermediate whose issuer no root has (20). This
 *                         is what a private CA looks like; an intermediate issued by yet
 *                         another missing intermediate looks the same.
 *
 * Host names (RFC 6125 §6.4, OpenSSL's X509_check_host with NO_PARTIAL_WILDCARDS): DNS SANs
 * take precedence; the subject CNs are checked only when the certificate has no DNS SAN (an
 * IP SAN does not count). ASCII case-insensitive; one trailing dot of the reference name is
 * ignored; A-labels only (a name with non-ASCII bytes matches nothing). A wildcard is only
 * the whole left-most label ("*.example.com"), matches exactly one non-empty label, needs at
 * least two labels after it, and "f*.example.com" or "*.*.example.com" match nothing. A
 * reference name that is an IP literal is compared with the IP SANs only.
 *
 * Limits: at most VERIFY_MAX_CERTS certificates are considered (later ones are ignored; a
 * server sending more is misconfigured anyway); names are compared as DER bytes (OpenSSL
 * compares canonical forms: a PrintableString vs UTF8String re-encoding would not chain here);
 * no revocation, policy, name-constraint, key-usage or path-length checks of our own (wolfSSL
 * applies its own while checking signatures; such failures are code 1 with wolf_err set).
 *
 * Threads: a loaded struct verify_roots is read-only and may be shared; verify_chain is
 * reentrant. verify_roots_load installs a process-wide wolfSSL time callback (wc_SetTimeCb)
 * that returns time(NULL) unless the calling thread is inside verify_chain; nothing else in
 * mxscan may install another.
 */
#ifndef MXSCAN_VERIFY_H
#define MXSCAN_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define VERIFY_DEFAULT_ROOTS "/etc/ssl/certs/ca-certificates.crt"
#define VERIFY_MAX_CERTS     10  /* certificates considered and described per chain */
#define VERIFY_MAX_SANS      24  /* SANs kept per certificate (san_total counts them all) */
#define VERIFY_SAN_LEN       128 /* bytes kept per SAN, NUL included (longer: cut, san_cut set) */
#define VERIFY_NAME_LEN      256 /* one-line subject/issuer, NUL included */

/* OpenSSL X509_V_* codes this module reports (the numbers `openssl verify` prints). */
#define VERIFY_OK                  0
#define VERIFY_ERR_UNSPECIFIED     1  /* leaf does not parse; wolfSSL failure with no equivalent */
#define VERIFY_ERR_SIGNATURE       7  /* certificate signature failure */
#define VERIFY_ERR_NOT_YET_VALID   9  /* certificate is not yet valid */
#define VERIFY_ERR_EXPIRED         10 /* certificate has expired */
#define VERIFY_ERR_SELF_SIGNED     18 /* self-signed certificate (leaf alone, untrusted) */
#define VERIFY_ERR_SELF_SIGNED_IN  19 /* self-signed certificate in certificate chain */
#define VERIFY_ERR_NO_ISSUER       20 /* unable to get local issuer certificate */
#define VERIFY_ERR_PATH_LENGTH     25 /* path length constraint exceeded (wolfSSL's finding) */
#define VERIFY_ERR_NAME_CONSTRAINT 47 /* permitted subtree violation (wolfSSL's finding) */
#define VERIFY_ERR_INVALID_CA      79 /* invalid CA certificate (a sent intermediate is no CA) */
#define VERIFY_ERR_HOSTNAME        62 /* hostname mismatch */

/* OpenSSL's exact text for a code above ("certificate has expired"); "unknown" otherwise. */
const char *verify_code_text(int code);

enum verify_key_type {
	VERIFY_KEY_NONE, /* no key parsed */
	VERIFY_KEY_RSA,
	VERIFY_KEY_EC,
	VERIFY_KEY_ED25519,
	VERIFY_KEY_ED448,
	VERIFY_KEY_DSA,
	VERIFY_KEY_OTHER,
	VERIFY_KEY__COUNT,
};
/* "none", "rsa", "ec", "ed25519", "ed448", "dsa", "other" */
const char *verify_key_type_name(enum verify_key_type t);

struct verify_san {
	bool ip;                   /* iPAddress SAN (text form), else dNSName */
	char name[VERIFY_SAN_LEN]; /* bytes outside printable ASCII are shown as '?' */
};

struct verify_cert {
	/* Our DER walk accepts it; else only sha256 is set. (wolfSSL's parser judges the
	 * certificates of the path again when it checks their signatures.) */
	bool parsed;
	char sha256[65];               /* of the DER, lower-case hex */
	char subject[VERIFY_NAME_LEN]; /* one-line, "/CN=mx1.example.test/O=mxscan test" */
	char issuer[VERIFY_NAME_LEN];
	char serial[65];                    /* upper-case hex, leading 00 of a positive INTEGER dropped */
	char not_before[21], not_after[21]; /* ISO 8601 UTC, "2026-11-21T11:04:53Z" */
	time_t not_before_t, not_after_t;
	enum verify_key_type key_type;
	unsigned key_bits; /* RSA/DSA modulus, EC field size, 253 for Ed25519 (as OpenSSL) */
	char curve[32];    /* EC only: OpenSSL short name, "prime256v1" */
	char sig_alg[48];  /* OpenSSL long name, "sha256WithRSAEncryption" */
	bool is_ca;        /* basicConstraints cA */
	bool self_signed;  /* subject == issuer and key ids agree (OpenSSL's test, no signature check) */
	unsigned n_san;    /* kept in san[] */
	unsigned san_total;
	bool san_cut; /* some SAN was longer than VERIFY_SAN_LEN - 1 */
	struct verify_san san[VERIFY_MAX_SANS];
};

struct verify_result {
	unsigned n_sent;  /* certificates given */
	unsigned n_certs; /* described in cert[] (min(n_sent, VERIFY_MAX_CERTS)) */
	struct verify_cert cert[VERIFY_MAX_CERTS];

	int code;                     /* first error as `openssl verify` reports it, VERIFY_OK = 0 */
	const char *text;             /* verify_code_text(code) */
	int depth;                    /* chain depth of that error (0 = leaf), -1 when code is 0 */
	int wolf_err;                 /* wolfSSL's return code behind a signature-pass error, else 0 */
	unsigned path_len;            /* sent certificates on the built path, leaf included */
	char anchor[VERIFY_NAME_LEN]; /* subject of the root the path ends in, "" if none */

	bool name_match_mx;     /* mx_name matches the leaf (false if mx_name NULL/empty) */
	bool name_match_domain; /* same for the domain */

	bool chain_complete;       /* path reaches a root (see above) */
	bool issuer_known;         /* top of the path is a root or issued by one, by name */
	bool missing_intermediate; /* code 20 and the path stops at the leaf */
	bool unknown_ca;           /* code 19/20 and the path goes past the leaf */

	bool rsa_under_2048;         /* a sent certificate on the path has an RSA key < 2048 bits */
	bool sha1_signature;         /* ... is signed with SHA-1 or worse (MD5/MD4/MD2); self-signatures ignored */
	int validity_days;           /* leaf notAfter - notBefore, whole days */
	bool long_validity;          /* validity_days > 398 (CA/B Forum limit since 2020-09) */
	bool expires_within_30_days; /* leaf not expired at `now` but will be within 30 days */
	time_t checked_at;           /* the time used */
};

struct verify_roots;

/*
 * Parse a PEM bundle of trust anchors once (path NULL: VERIFY_DEFAULT_ROOTS) and index it.
 * Returns NULL with a message in err (naming the file and the remedy; err may be NULL only
 * with errlen 0) when the file cannot be read or holds no certificate that parses.
 * Calls wolfSSL_Init (balanced by verify_roots_free).
 */
struct verify_roots *verify_roots_load(const char *path, char *err, size_t errlen);
void verify_roots_free(struct verify_roots *roots);
size_t verify_roots_count(const struct verify_roots *roots);

/*
 * Verify the chain der[0..n-1] (len[i] bytes each, leaf first, as sent) against roots, for
 * mx_name and domain (either may be NULL), at time now (0 = time(NULL); an explicit time is
 * honoured, see above). Fills *out completely. Returns 0 (whatever the verdict), or -1 when
 * roots/der/len/out is NULL or n is 0, -2 when wolfSSL cannot allocate a CertManager.
 */
int verify_chain(const struct verify_roots *roots, const uint8_t *const *der, const size_t *len, size_t n,
		 const char *mx_name, const char *domain, time_t now, struct verify_result *out);

/*
 * Host name check of one DER certificate with the rules above: 1 match, 0 no match, -1 the
 * certificate does not parse.
 */
int verify_cert_host(const uint8_t *der, size_t len, const char *name);

/*
 * One presented identifier (a DNS SAN or CN value of plen bytes, not NUL-terminated) against
 * a reference host name (NUL-terminated). True on a match under the rules above.
 */
bool verify_name_match(const char *pattern, size_t plen, const char *name);

#endif
