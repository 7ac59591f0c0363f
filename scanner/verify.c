/*
 * verify: certificate chain analysis and verification, sans I/O (contract and rules in
 * include/mxscan/verify.h).
 *
 * Design. A small bounded DER walker (low tag numbers, definite lengths, every length checked
 * against what is left) reads everything this module reports or decides on: serial, issuer
 * and subject Names (one-line text in X509_NAME_oneline's format), validity, the public key
 * (type, size, curve), the signature algorithm, and the extensions SAN, AKID, SKID,
 * basicConstraints and keyUsage. wolfSSL is used for what must be trusted to a crypto
 * library: its CertManager parses each certificate of the path again and checks signatures.
 * (wolfSSL's X509 accessors are not used per chain: wolfSSL_X509_d2i seeds two DRBGs from
 * /dev/urandom per RSA certificate, which cost more than the verification itself.)
 *
 * Roots: the PEM bundle is decoded once into an array sorted by a 64-bit FNV-1a hash of each
 * root's DER subject Name; an issuer lookup is a binary search plus a byte comparison.
 *
 * Per chain: build the path like OpenSSL 3.0 (trusted first), apply OpenSSL's error order
 * (build 18/19/20, CA flag 79, host name 62, then per certificate from the top: signature 7,
 * not before 9, not after 10), and only when nothing earlier failed run the signature pass in
 * a fresh CertManager holding the candidate roots, adding each intermediate after it verifies.
 * wolfSSL's own date check is neutralised by a thread-local time inside the certificate's
 * validity (wc_SetTimeCb); dates are judged here against the caller's time.
 */
#include "mxscan/verify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/sha256.h>

#define VERIFY_MAX_DER     (1u << 20) /* a certificate larger than this is not parsed */
#define VERIFY_MAX_BUNDLE  (64u << 20)
#define VERIFY_MAX_ANCHORS 8 /* roots sharing one subject name loaded for a chain */
#define VERIFY_DAY         86400

static const char *const verify_key_type_names[] = { "none", "rsa", "ec", "ed25519", "ed448", "dsa", "other" };
_Static_assert(sizeof verify_key_type_names / sizeof verify_key_type_names[0] == VERIFY_KEY__COUNT,
	       "verify_key_type_names out of step with enum verify_key_type");

const char *verify_key_type_name(enum verify_key_type t)
{
	if ((unsigned)t >= VERIFY_KEY__COUNT)
		return "?";
	return verify_key_type_names[t];
}

/* OpenSSL 3.0's X509_verify_cert_error_string() texts, copied from `openssl` 3.0.19. */
static const struct {
	int code;
	const char *text;
} verify_texts[] = {
	{ VERIFY_OK, "ok" },
	{ VERIFY_ERR_UNSPECIFIED, "unspecified certificate verification error" },
	{ VERIFY_ERR_SIGNATURE, "certificate signature failure" },
	{ VERIFY_ERR_NOT_YET_VALID, "certificate is not yet valid" },
	{ VERIFY_ERR_EXPIRED, "certificate has expired" },
	{ VERIFY_ERR_SELF_SIGNED, "self-signed certificate" },
	{ VERIFY_ERR_SELF_SIGNED_IN, "self-signed certificate in certificate chain" },
	{ VERIFY_ERR_NO_ISSUER, "unable to get local issuer certificate" },
	{ VERIFY_ERR_PATH_LENGTH, "path length constraint exceeded" },
	{ VERIFY_ERR_NAME_CONSTRAINT, "permitted subtree violation" },
	{ VERIFY_ERR_HOSTNAME, "hostname mismatch" },
	{ VERIFY_ERR_INVALID_CA, "invalid CA certificate" },
};

const char *verify_code_text(int code)
{
	for (size_t i = 0; i < sizeof verify_texts / sizeof verify_texts[0]; i++)
		if (verify_texts[i].code == code)
			return verify_texts[i].text;
	return "unknown";
}

/* ---- DER walking ---------------------------------------------------------------------- */

struct span {
	const uint8_t *p;
	size_t n;
};

static bool span_eq(struct span a, struct span b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* One TLV off the front of *in: its tag, its value, and (if whole) the whole encoding. */
static int der_get(struct span *in, uint8_t *tag, struct span *val, struct span *whole)
{
	if (in->n < 2)
		return -1;
	const uint8_t *s = in->p;
	size_t i = 2, len = s[1];
	if ((s[0] & 0x1f) == 0x1f) /* high tag numbers do not occur in certificates */
		return -1;
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 4 || in->n - i < k) /* k == 0: indefinite length, not DER */
			return -1;
		len = 0;
		for (size_t j = 0; j < k; j++)
			len = len << 8 | s[i++];
	}
	if (len > in->n - i)
		return -1;
	*tag = s[0];
	if (val) {
		val->p = s + i;
		val->n = len;
	}
	if (whole) {
		whole->p = s;
		whole->n = i + len;
	}
	in->p += i + len;
	in->n -= i + len;
	return 0;
}

static int der_expect(struct span *in, uint8_t want, struct span *val, struct span *whole)
{
	uint8_t tag;
	if (der_get(in, &tag, val, whole) < 0 || tag != want)
		return -1;
	return 0;
}

static const uint8_t OID_SAN[] = { 0x55, 0x1d, 0x11 };
static const uint8_t OID_SKID[] = { 0x55, 0x1d, 0x0e };
static const uint8_t OID_AKID[] = { 0x55, 0x1d, 0x23 };
static const uint8_t OID_BC[] = { 0x55, 0x1d, 0x13 };
static const uint8_t OID_KU[] = { 0x55, 0x1d, 0x0f };
static const uint8_t OID_CN[] = { 0x55, 0x04, 0x03 };

/* Signature algorithms on MD2/MD4/MD5/SHA-1: PKCS#1 md2/md4/md5/sha1WithRSAEncryption,
 * ecdsa-with-SHA1, id-dsa-with-sha1, OIW sha1WithRSASignature. */
static const struct {
	uint8_t len;
	uint8_t oid[9];
} verify_weak_sigs[] = {
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x02 } },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x03 } },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04 } },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05 } },
	{ 7, { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01 } },
	{ 7, { 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03 } },
	{ 5, { 0x2b, 0x0e, 0x03, 0x02, 0x1d } },
};

static bool oid_is(struct span oid, const uint8_t *want, size_t n)
{
	return oid.n == n && memcmp(oid.p, want, n) == 0;
}

/* What chain building and name checks need from one certificate; spans point into der. */
struct vcert {
	bool ok; /* the walk succeeded */
	struct span der, serial, issuer, subject, spki, sig_oid, akid, skid, san;
	bool has_akid, has_skid, has_san;
	int version; /* 0 = v1 ... 2 = v3 */
	bool bc_present, bc_ca, ku_present, ku_certsign, self_signed;
	time_t nb, na;
	char nb_iso[21], na_iso[21];
};

static long long days_from_civil(int y, int m, int d)
{
	/* Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date. */
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	int yoe = (int)(y - era * 400);
	int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int two_digits(const uint8_t *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280 §4.1.2.5). */
static int der_time(struct span *in, time_t *t, char iso[21])
{
	uint8_t tag;
	struct span v;
	int y, k;
	if (der_get(in, &tag, &v, NULL) < 0)
		return -1;
	if (tag == 0x17 && v.n == 13) {
		if ((y = two_digits(v.p)) < 0)
			return -1;
		y += y < 50 ? 2000 : 1900; /* RFC 5280 §4.1.2.5.1 */
		k = 2;
	} else if (tag == 0x18 && v.n == 15) {
		int hi = two_digits(v.p), lo = two_digits(v.p + 2);
		if (hi < 0 || lo < 0)
			return -1;
		y = hi * 100 + lo;
		k = 4;
	} else {
		return -1;
	}
	if (v.p[v.n - 1] != 'Z')
		return -1;
	int mo = two_digits(v.p + k), d = two_digits(v.p + k + 2), h = two_digits(v.p + k + 4);
	int mi = two_digits(v.p + k + 6), s = two_digits(v.p + k + 8);
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59)
		return -1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	*t = (time_t)(days_from_civil(y, mo, d) * VERIFY_DAY + h * 3600 + mi * 60 + s);
	snprintf(iso, 21, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, s);
	return 0;
}

static int vc_extension(struct vcert *c, struct span oid, struct span val)
{
	struct span x, y;
	uint8_t tag;
	if (oid_is(oid, OID_SAN, sizeof OID_SAN)) {
		if (der_expect(&val, 0x30, &c->san, NULL) < 0)
			return -1;
		c->has_san = true;
	} else if (oid_is(oid, OID_SKID, sizeof OID_SKID)) {
		if (der_expect(&val, 0x04, &c->skid, NULL) < 0)
			return -1;
		c->has_skid = true;
	} else if (oid_is(oid, OID_AKID, sizeof OID_AKID)) {
		if (der_expect(&val, 0x30, &x, NULL) < 0)
			return -1;
		while (x.n) {
			if (der_get(&x, &tag, &y, NULL) < 0)
				return -1;
			if (tag == 0x80) { /* keyIdentifier [0] IMPLICIT OCTET STRING */
				c->akid = y;
				c->has_akid = true;
			}
		}
	} else if (oid_is(oid, OID_BC, sizeof OID_BC)) {
		if (der_expect(&val, 0x30, &x, NULL) < 0)
			return -1;
		c->bc_present = true;
		if (x.n && x.p[0] == 0x01) {
			if (der_expect(&x, 0x01, &y, NULL) < 0 || y.n != 1)
				return -1;
			c->bc_ca = y.p[0] != 0;
		}
	} else if (oid_is(oid, OID_KU, sizeof OID_KU)) {
		if (der_expect(&val, 0x03, &x, NULL) < 0 || x.n < 1)
			return -1;
		c->ku_present = true;
		c->ku_certsign = x.n >= 2 && (x.p[1] & 0x04); /* keyCertSign is bit 5 */
	}
	return 0;
}

/* Walk one DER certificate. 0, or -1 when it is not a certificate we can read. */
static int vc_parse(const uint8_t *der, size_t len, struct vcert *c)
{
	struct span in = { der, len }, cert, tbs, x, validity, exts, ext, oid, val;
	uint8_t tag;
	memset(c, 0, sizeof(*c));
	if (!der || len == 0 || len > VERIFY_MAX_DER)
		return -1;
	if (der_expect(&in, 0x30, &cert, &c->der) < 0 || in.n != 0)
		return -1;
	if (der_expect(&cert, 0x30, &tbs, NULL) < 0 || der_expect(&cert, 0x30, &x, NULL) < 0 ||
	    der_expect(&x, 0x06, &c->sig_oid, NULL) < 0)
		return -1;
	if (tbs.n && tbs.p[0] == 0xa0) { /* version [0] EXPLICIT INTEGER */
		struct span v;
		if (der_expect(&tbs, 0xa0, &x, NULL) < 0 || der_expect(&x, 0x02, &v, NULL) < 0 || v.n != 1 ||
		    v.p[0] > 2)
			return -1;
		c->version = v.p[0];
	}
	if (der_expect(&tbs, 0x02, &c->serial, NULL) < 0 || c->serial.n == 0 ||
	    der_expect(&tbs, 0x30, NULL, NULL) < 0 || der_expect(&tbs, 0x30, NULL, &c->issuer) < 0 ||
	    der_expect(&tbs, 0x30, &validity, NULL) < 0 || der_time(&validity, &c->nb, c->nb_iso) < 0 ||
	    der_time(&validity, &c->na, c->na_iso) < 0 || der_expect(&tbs, 0x30, NULL, &c->subject) < 0 ||
	    der_expect(&tbs, 0x30, NULL, &c->spki) < 0)
		return -1;
	while (tbs.n) {
		if (der_get(&tbs, &tag, &x, NULL) < 0)
			return -1;
		if (tag == 0x81 || tag == 0x82) /* issuer/subject unique IDs */
			continue;
		if (tag != 0xa3 || der_expect(&x, 0x30, &exts, NULL) < 0)
			return -1;
		while (exts.n) {
			if (der_expect(&exts, 0x30, &ext, NULL) < 0 || der_expect(&ext, 0x06, &oid, NULL) < 0)
				return -1;
			if (ext.n && ext.p[0] == 0x01 && der_expect(&ext, 0x01, NULL, NULL) < 0)
				return -1;
			if (der_expect(&ext, 0x04, &val, NULL) < 0 || vc_extension(c, oid, val) < 0)
				return -1;
		}
	}
	/* OpenSSL's "self-signed": names equal and the key identifiers do not contradict it. */
	c->self_signed = span_eq(c->issuer, c->subject) && (!c->has_akid || !c->has_skid || span_eq(c->akid, c->skid));
	c->ok = true;
	return 0;
}

/* What OpenSSL 3.0 builds chains with (ossl_x509_likely_issued): names and key ids. The
 * issuer's keyUsage and basicConstraints are judged later (check_extensions: code 79). */
static bool vc_issued_by(const struct vcert *child, const struct vcert *issuer)
{
	if (!span_eq(child->issuer, issuer->subject))
		return false;
	return !child->has_akid || !issuer->has_skid || span_eq(child->akid, issuer->skid);
}

/* X509_check_ca() as check_extensions() needs it: 1 for a proper CA, 2 for a CA by
 * other signs (v1 self-signed, keyCertSign without basicConstraints), 0 for none. */
static int vc_ca_level(const struct vcert *c)
{
	if (c->ku_present && !c->ku_certsign)
		return 0;
	if (c->bc_present)
		return c->bc_ca ? 1 : 0;
	if (c->version == 0 && c->self_signed)
		return 2;
	return c->ku_present ? 2 : 0;
}

static bool vc_weak_sig(const struct vcert *c)
{
	for (size_t i = 0; i < sizeof verify_weak_sigs / sizeof verify_weak_sigs[0]; i++)
		if (oid_is(c->sig_oid, verify_weak_sigs[i].oid, verify_weak_sigs[i].len))
			return true;
	return false;
}

/* ---- host names ----------------------------------------------------------------------- */

static int ascii_lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static bool ascii_caseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

/* Letters, digits, '-', '_' in non-empty dot-separated labels: an ASCII (A-label) name. */
static bool host_ok(const char *s, size_t n)
{
	size_t label = 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			   ch == '-' || ch == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

bool verify_name_match(const char *pattern, size_t plen, const char *name)
{
	if (!pattern || !name)
		return false;
	size_t nlen = strlen(name);
	if (nlen && name[nlen - 1] == '.') /* absolute form of the reference name */
		nlen--;
	if (!host_ok(name, nlen))
		return false;
	if (plen && pattern[plen - 1] == '.')
		plen--;
	if (plen == 0)
		return false;
	if (memchr(pattern, '*', plen)) {
		/* RFC 6125 §6.4.3 as OpenSSL applies it with NO_PARTIAL_WILDCARDS: "*" is the whole
		 * left-most label, covers exactly one label, and at least two labels follow. */
		const char *suf = pattern + 2;
		size_t slen = plen - 2;
		if (plen < 3 || pattern[0] != '*' || pattern[1] != '.' || !host_ok(suf, slen) ||
		    !memchr(suf, '.', slen))
			return false;
		const char *dot = memchr(name, '.', nlen);
		if (!dot || dot == name)
			return false;
		size_t rest = nlen - (size_t)(dot + 1 - name);
		return rest == slen && ascii_caseeq(dot + 1, suf, slen);
	}
	return host_ok(pattern, plen) && plen == nlen && ascii_caseeq(pattern, name, nlen);
}

/* The next CN value of a Name: rdns iterates over its RDNs, set over the current RDN. */
static bool name_next_cn(struct span *rdns, struct span *set, struct span *cn)
{
	struct span atv, oid;
	uint8_t tag;
	for (;;) {
		while (set->n == 0) {
			if (rdns->n == 0 || der_expect(rdns, 0x31, set, NULL) < 0)
				return false;
		}
		if (der_expect(set, 0x30, &atv, NULL) < 0 || der_expect(&atv, 0x06, &oid, NULL) < 0 ||
		    der_get(&atv, &tag, cn, NULL) < 0) {
			set->n = 0;
			rdns->n = 0;
			return false;
		}
		/* UTF8String, PrintableString, T61String, IA5String: an A-label fits any of them. */
		if (oid_is(oid, OID_CN, sizeof OID_CN) && (tag == 0x0c || tag == 0x13 || tag == 0x14 || tag == 0x16))
			return true;
	}
}

static bool vc_host_match(const struct vcert *c, const char *name)
{
	uint8_t ip[16];
	size_t iplen = 0;
	bool dns_seen = false;
	struct span gns = c->san, v, rdns, set = { NULL, 0 };
	uint8_t tag;
	if (!name || !*name)
		return false;
	if (inet_pton(AF_INET, name, ip) == 1)
		iplen = 4;
	else if (inet_pton(AF_INET6, name, ip) == 1)
		iplen = 16;
	while (c->has_san && gns.n && der_get(&gns, &tag, &v, NULL) == 0) {
		if (tag == 0x82) { /* dNSName */
			dns_seen = true;
			if (!iplen && verify_name_match((const char *)v.p, v.n, name))
				return true;
		} else if (tag == 0x87 && iplen && v.n == iplen && memcmp(v.p, ip, iplen) == 0) {
			return true;
		}
	}
	if (iplen || dns_seen) /* RFC 6125 §6.4.4: CN only without DNS SANs */
		return false;
	if (der_expect(&(struct span){ c->subject.p, c->subject.n }, 0x30, &rdns, NULL) < 0)
		return false;
	while (name_next_cn(&rdns, &set, &v))
		if (verify_name_match((const char *)v.p, v.n, name))
			return true;
	return false;
}

int verify_cert_host(const uint8_t *der, size_t len, const char *name)
{
	struct vcert c;
	if (vc_parse(der, len, &c) < 0)
		return -1;
	return vc_host_match(&c, name) ? 1 : 0;
}

/* ---- roots ---------------------------------------------------------------------------- */

struct vroot {
	uint64_t key; /* FNV-1a of the DER subject Name */
	uint8_t *der;
	struct vcert c;
	char subject[VERIFY_NAME_LEN];
};

struct verify_roots {
	struct vroot *r;
	size_t n;
};

static uint64_t fnv1a(struct span s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < s.n; i++)
		h = (h ^ s.p[i]) * 0x100000001b3ull;
	return h;
}

static int vroot_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct vroot *)a)->key, y = ((const struct vroot *)b)->key;
	return x < y ? -1 : x > y;
}

/* Roots whose subject is `name`, into out[0..max). Returns how many. */
static size_t roots_by_subject(const struct verify_roots *roots, struct span name, const struct vroot **out, size_t max)
{
	uint64_t key = fnv1a(name);
	size_t lo = 0, hi = roots->n, k = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (roots->r[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < roots->n && roots->r[lo].key == key && k < max; lo++)
		if (span_eq(roots->r[lo].c.subject, name))
			out[k++] = &roots->r[lo];
	return k;
}

/* Roots that may have issued c (name, key ids). */
static size_t roots_issuers(const struct verify_roots *roots, const struct vcert *c, const struct vroot **out,
			    size_t max)
{
	const struct vroot *cand[VERIFY_MAX_ANCHORS];
	size_t n = roots_by_subject(roots, c->issuer, cand, VERIFY_MAX_ANCHORS), k = 0;
	for (size_t i = 0; i < n && k < max; i++)
		if (vc_issued_by(c, &cand[i]->c))
			out[k++] = cand[i];
	return k;
}

static time_t verify_tl_time_cb(time_t *t);
static _Thread_local time_t verify_tl_time; /* 0: wolfSSL sees the real time */
static pthread_once_t verify_once = PTHREAD_ONCE_INIT;

static time_t verify_tl_time_cb(time_t *t)
{
	time_t now = verify_tl_time ? verify_tl_time : time(NULL);
	if (t)
		*t = now;
	return now;
}

static void verify_install_time_cb(void)
{
	wc_SetTimeCb(verify_tl_time_cb);
}

/* Dotted text of an OBJECT IDENTIFIER ("1.2.3"), "?" when malformed. */
static void oid_text(struct span oid, char *out, size_t size)
{
	size_t k = 0;
	uint64_t arc = 0;
	bool first = true;
	out[0] = 0;
	for (size_t i = 0; i < oid.n; i++) {
		if (arc > (UINT64_MAX >> 7))
			goto bad;
		arc = arc << 7 | (oid.p[i] & 0x7f);
		if (oid.p[i] & 0x80)
			continue;
		int w;
		if (first)
			w = snprintf(out + k, size - k, "%u.%llu", arc < 80 ? (unsigned)(arc / 40) : 2,
				     (unsigned long long)(arc < 80 ? arc % 40 : arc - 80));
		else
			w = snprintf(out + k, size - k, ".%llu", (unsigned long long)arc);
		if (w < 0 || (size_t)w >= size - k)
			goto bad;
		k += (size_t)w;
		first = false;
		arc = 0;
	}
	if (!first && !(oid.p[oid.n - 1] & 0x80))
		return;
bad:
	snprintf(out, size, "?");
}

/* Attribute short names as OpenSSL prints them; others as a dotted OID. */
static const struct {
	uint8_t len;
	uint8_t oid[11];
	const char *sn;
} verify_attrs[] = {
	{ 3, { 0x55, 0x04, 0x03 }, "CN" },
	{ 3, { 0x55, 0x04, 0x04 }, "SN" },
	{ 3, { 0x55, 0x04, 0x05 }, "serialNumber" },
	{ 3, { 0x55, 0x04, 0x06 }, "C" },
	{ 3, { 0x55, 0x04, 0x07 }, "L" },
	{ 3, { 0x55, 0x04, 0x08 }, "ST" },
	{ 3, { 0x55, 0x04, 0x09 }, "street" },
	{ 3, { 0x55, 0x04, 0x0a }, "O" },
	{ 3, { 0x55, 0x04, 0x0b }, "OU" },
	{ 3, { 0x55, 0x04, 0x0c }, "title" },
	{ 3, { 0x55, 0x04, 0x0d }, "description" },
	{ 3, { 0x55, 0x04, 0x0f }, "businessCategory" },
	{ 3, { 0x55, 0x04, 0x11 }, "postalCode" },
	{ 3, { 0x55, 0x04, 0x2a }, "GN" },
	{ 3, { 0x55, 0x04, 0x2b }, "initials" },
	{ 3, { 0x55, 0x04, 0x2c }, "generationQualifier" },
	{ 3, { 0x55, 0x04, 0x2e }, "dnQualifier" },
	{ 3, { 0x55, 0x04, 0x41 }, "pseudonym" },
	{ 3, { 0x55, 0x04, 0x61 }, "organizationIdentifier" },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01 }, "emailAddress" },
	{ 10, { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19 }, "DC" },
	{ 10, { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01 }, "UID" },
	{ 11, { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01, 0x01 }, "jurisdictionL" },
	{ 11, { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01, 0x02 }, "jurisdictionST" },
	{ 11, { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01, 0x03 }, "jurisdictionC" },
};

static void append(char *buf, size_t size, size_t *k, const char *s, size_t n)
{
	for (size_t i = 0; i < n && *k + 1 < size; i++)
		buf[(*k)++] = s[i];
	buf[*k] = 0;
}

/* X509_NAME_oneline's format (`openssl x509 -nameopt compat`) from a DER Name:
 * "/CN=mx1.example.test/O=mxscan test", members of a multi-valued RDN joined by "+",
 * bytes outside printable ASCII as \xHH, a BMPString of Latin-1 as its low bytes. */
static void name_oneline(struct span name, char *buf, size_t size)
{
	struct span rdns, set, atv, oid, val;
	uint8_t tag;
	size_t k = 0;
	buf[0] = 0;
	if (der_expect(&name, 0x30, &rdns, NULL) < 0)
		return;
	while (rdns.n && der_expect(&rdns, 0x31, &set, NULL) == 0) {
		for (bool first_ava = true; set.n; first_ava = false) {
			char sn[64];
			if (der_expect(&set, 0x30, &atv, NULL) < 0 || der_expect(&atv, 0x06, &oid, NULL) < 0 ||
			    der_get(&atv, &tag, &val, NULL) < 0)
				return;
			oid_text(oid, sn, sizeof sn);
			for (size_t i = 0; i < sizeof verify_attrs / sizeof verify_attrs[0]; i++)
				if (oid_is(oid, verify_attrs[i].oid, verify_attrs[i].len))
					snprintf(sn, sizeof sn, "%s", verify_attrs[i].sn);
			append(buf, size, &k, first_ava ? "/" : "+", 1); /* "+" joins a multi-valued RDN */
			append(buf, size, &k, sn, strlen(sn));
			append(buf, size, &k, "=", 1);
			size_t step = 1, first = 0;
			if (tag == 0x1e && val.n % 2 == 0) { /* BMPString: UCS-2 big-endian */
				bool latin1 = true;
				for (size_t i = 0; i < val.n; i += 2)
					latin1 &= val.p[i] == 0;
				if (latin1) {
					step = 2;
					first = 1;
				}
			}
			for (size_t i = first; i < val.n; i += step) {
				char esc[5];
				uint8_t ch = val.p[i];
				if (ch >= 0x20 && ch < 0x7f) {
					append(buf, size, &k, (const char *)&ch, 1);
				} else {
					snprintf(esc, sizeof esc, "\\x%02X", ch);
					append(buf, size, &k, esc, 4);
				}
			}
		}
	}
}

struct verify_roots *verify_roots_load(const char *path, char *err, size_t errlen)
{
	struct verify_roots *roots = NULL, *ret = NULL;
	uint8_t *pem = NULL, *der = NULL;
	FILE *f = NULL;
	size_t len = 0, cap = 0, skipped = 0;
	static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";

	if (!path)
		path = VERIFY_DEFAULT_ROOTS;
	if (err && errlen)
		err[0] = 0;
	if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "wolfSSL_Init failed");
		return NULL;
	}
	pthread_once(&verify_once, verify_install_time_cb);
	if (!(f = fopen(path, "rb"))) {
		snprintf(err, errlen, "cannot open root bundle %s: %s (install ca-certificates or give a PEM file)",
			 path, strerror(errno));
		goto out;
	}
	if (!(pem = malloc(VERIFY_MAX_BUNDLE + 1)) || !(roots = calloc(1, sizeof(*roots)))) {
		snprintf(err, errlen, "out of memory reading %s", path);
		goto out;
	}
	len = fread(pem, 1, VERIFY_MAX_BUNDLE + 1, f);
	if (ferror(f) || len > VERIFY_MAX_BUNDLE) {
		snprintf(err, errlen, "cannot read root bundle %s (unreadable or larger than %u MiB)", path,
			 VERIFY_MAX_BUNDLE >> 20);
		goto out;
	}
	pem[len] = 0;
	for (const char *p = (const char *)pem; (p = strstr(p, begin));) {
		const char *e = strstr(p, end);
		if (!e)
			break;
		size_t blen = (size_t)(e - p) + sizeof end - 1;
		int dlen;
		if (!(der = malloc(blen))) {
			snprintf(err, errlen, "out of memory reading %s", path);
			goto out;
		}
		dlen = wc_CertPemToDer((const unsigned char *)p, (int)blen, der, (int)blen, CERT_TYPE);
		p = e + sizeof end - 1;
		struct vcert c;
		if (dlen <= 0 || vc_parse(der, (size_t)dlen, &c) < 0) {
			skipped++;
			free(der);
			der = NULL;
			continue;
		}
		if (roots->n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct vroot *nr = realloc(roots->r, ncap * sizeof(*nr));
			if (!nr) {
				snprintf(err, errlen, "out of memory reading %s", path);
				goto out;
			}
			roots->r = nr;
			cap = ncap;
		}
		struct vroot *r = &roots->r[roots->n++];
		memset(r, 0, sizeof(*r));
		r->der = der;
		r->c = c;
		r->key = fnv1a(c.subject);
		name_oneline(c.subject, r->subject, sizeof r->subject);
		der = NULL;
	}
	if (roots->n == 0) {
		snprintf(err, errlen,
			 "no certificate in root bundle %s (%zu unreadable): expected PEM CERTIFICATE blocks", path,
			 skipped);
		goto out;
	}
	qsort(roots->r, roots->n, sizeof(roots->r[0]), vroot_cmp);
	ret = roots;
	roots = NULL;
out:
	if (f)
		fclose(f);
	free(pem);
	free(der);
	if (!ret) {
		if (roots)
			verify_roots_free(roots); /* also balances wolfSSL_Init */
		else
			wolfSSL_Cleanup();
	}
	return ret;
}

void verify_roots_free(struct verify_roots *roots)
{
	if (!roots)
		return;
	for (size_t i = 0; i < roots->n; i++)
		free(roots->r[i].der);
	free(roots->r);
	free(roots);
	wolfSSL_Cleanup();
}

size_t verify_roots_count(const struct verify_roots *roots)
{
	return roots ? roots->n : 0;
}

/* ---- one chain ------------------------------------------------------------------------ */

static void hex(const uint8_t *p, size_t n, char *out, size_t outlen, bool upper)
{
	static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
	const char *d = upper ? up : lo;
	size_t k = 0;
	for (size_t i = 0; i < n && k + 2 < outlen; i++) {
		out[k++] = d[p[i] >> 4];
		out[k++] = d[p[i] & 15];
	}
	out[k] = 0;
}

static void describe_sans(const struct vcert *c, struct verify_cert *vc)
{
	struct span gns = c->san, v;
	uint8_t tag;
	while (c->has_san && gns.n && der_get(&gns, &tag, &v, NULL) == 0) {
		if (tag != 0x82 && tag != 0x87)
			continue;
		vc->san_total++;
		if (vc->n_san >= VERIFY_MAX_SANS)
			continue;
		struct verify_san *s = &vc->san[vc->n_san++];
		s->ip = tag == 0x87;
		if (s->ip) {
			if (v.n == 4 || v.n == 16)
				inet_ntop(v.n == 4 ? AF_INET : AF_INET6, v.p, s->name, sizeof s->name);
			else
				snprintf(s->name, sizeof s->name, "?");
			continue;
		}
		size_t k = 0;
		for (; k < v.n && k + 1 < sizeof s->name; k++)
			s->name[k] = v.p[k] >= 0x20 && v.p[k] < 0x7f ? (char)v.p[k] : '?';
		s->name[k] = 0;
		if (k < v.n)
			vc->san_cut = true;
	}
}

/* Bits of a positive DER INTEGER's value. */
static unsigned int_bits(struct span v)
{
	while (v.n && v.p[0] == 0) {
		v.p++;
		v.n--;
	}
	if (v.n == 0 || v.n > 8192)
		return 0;
	unsigned bits = (unsigned)(v.n - 1) * 8;
	for (uint8_t b = v.p[0]; b; b >>= 1)
		bits++;
	return bits;
}

static const uint8_t OID_RSA[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const uint8_t OID_RSAPSS[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a };
static const uint8_t OID_EC[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const uint8_t OID_DSA[] = { 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01 };
static const uint8_t OID_ED25519[] = { 0x2b, 0x65, 0x70 };
static const uint8_t OID_ED448[] = { 0x2b, 0x65, 0x71 };

/* Named curves by OID, with OpenSSL's short names. */
static const struct {
	uint8_t len;
	uint8_t oid[9];
	unsigned bits;
	const char *name;
} verify_curves[] = {
	{ 8, { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 }, 256, "prime256v1" },
	{ 5, { 0x2b, 0x81, 0x04, 0x00, 0x22 }, 384, "secp384r1" },
	{ 5, { 0x2b, 0x81, 0x04, 0x00, 0x23 }, 521, "secp521r1" },
	{ 5, { 0x2b, 0x81, 0x04, 0x00, 0x21 }, 224, "secp224r1" },
	{ 5, { 0x2b, 0x81, 0x04, 0x00, 0x0a }, 256, "secp256k1" },
	{ 8, { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01 }, 192, "prime192v1" },
	{ 9, { 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07 }, 256, "brainpoolP256r1" },
	{ 9, { 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0b }, 384, "brainpoolP384r1" },
	{ 9, { 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0d }, 512, "brainpoolP512r1" },
};

/* Key type, size and curve from the SubjectPublicKeyInfo (RFC 5280 §4.1.2.7; RFC 3279,
 * 5480, 8410). Parsed here rather than through wolfSSL_X509_get_pubkey, which seeds a new
 * DRBG from /dev/urandom for every RSA key. */
static void describe_key(const struct vcert *c, struct verify_cert *vc)
{
	struct span spki = c->spki, body, alg, oid, key, x, n;
	uint8_t tag;
	vc->key_type = VERIFY_KEY_OTHER;
	if (der_expect(&spki, 0x30, &body, NULL) < 0 || der_expect(&body, 0x30, &alg, NULL) < 0 ||
	    der_expect(&alg, 0x06, &oid, NULL) < 0 || der_expect(&body, 0x03, &key, NULL) < 0 || key.n < 1)
		return;
	key.p++; /* unused-bits octet of the BIT STRING */
	key.n--;
	if (oid_is(oid, OID_RSA, sizeof OID_RSA) || oid_is(oid, OID_RSAPSS, sizeof OID_RSAPSS)) {
		vc->key_type = VERIFY_KEY_RSA;
		if (der_expect(&key, 0x30, &x, NULL) == 0 && der_expect(&x, 0x02, &n, NULL) == 0)
			vc->key_bits = int_bits(n);
	} else if (oid_is(oid, OID_EC, sizeof OID_EC)) {
		vc->key_type = VERIFY_KEY_EC;
		if (der_get(&alg, &tag, &x, NULL) == 0 && tag == 0x06) {
			for (size_t i = 0; i < sizeof verify_curves / sizeof verify_curves[0]; i++)
				if (oid_is(x, verify_curves[i].oid, verify_curves[i].len)) {
					vc->key_bits = verify_curves[i].bits;
					snprintf(vc->curve, sizeof vc->curve, "%s", verify_curves[i].name);
				}
		}
		if (!vc->key_bits && key.n > 1 && key.p[0] == 0x04) /* unnamed: uncompressed point size */
			vc->key_bits = (unsigned)((key.n - 1) / 2 * 8);
	} else if (oid_is(oid, OID_ED25519, sizeof OID_ED25519)) {
		vc->key_type = VERIFY_KEY_ED25519;
		vc->key_bits = 253; /* EVP_PKEY_get_bits() in OpenSSL */
	} else if (oid_is(oid, OID_ED448, sizeof OID_ED448)) {
		vc->key_type = VERIFY_KEY_ED448;
		vc->key_bits = 456;
	} else if (oid_is(oid, OID_DSA, sizeof OID_DSA)) {
		vc->key_type = VERIFY_KEY_DSA;
		if (der_expect(&alg, 0x30, &x, NULL) == 0 && der_expect(&x, 0x02, &n, NULL) == 0)
			vc->key_bits = int_bits(n); /* bits of p */
	}
}

/* Signature algorithms with OpenSSL's long names; others as a dotted OID. */
static const struct {
	uint8_t len;
	uint8_t oid[9];
	const char *ln;
} verify_sig_algs[] = {
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b }, "sha256WithRSAEncryption" },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c }, "sha384WithRSAEncryption" },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d }, "sha512WithRSAEncryption" },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0e }, "sha224WithRSAEncryption" },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a }, "rsassaPss" },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05 }, "sha1WithRSAEncryption" },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04 }, "md5WithRSAEncryption" },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x03 }, "md4WithRSAEncryption" },
	{ 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x02 }, "md2WithRSAEncryption" },
	{ 8, { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 }, "ecdsa-with-SHA256" },
	{ 8, { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 }, "ecdsa-with-SHA384" },
	{ 8, { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 }, "ecdsa-with-SHA512" },
	{ 8, { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x01 }, "ecdsa-with-SHA224" },
	{ 7, { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01 }, "ecdsa-with-SHA1" },
	{ 3, { 0x2b, 0x65, 0x70 }, "ED25519" },
	{ 3, { 0x2b, 0x65, 0x71 }, "ED448" },
	{ 7, { 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03 }, "dsaWithSHA1" },
	{ 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x02 }, "dsa_with_SHA256" },
	{ 5, { 0x2b, 0x0e, 0x03, 0x02, 0x1d }, "sha1WithRSA" },
};

/* Parse and describe one sent certificate. wolfSSL's X509 parser is not used here: it
 * seeds a DRBG from /dev/urandom for every RSA key it decodes (two per certificate), which
 * cost more than the whole verification; its certificate parser still judges every
 * certificate of the path in the signature pass. */
static void describe(const uint8_t *der, size_t len, struct vcert *c, struct verify_cert *vc)
{
	uint8_t md[WC_SHA256_DIGEST_SIZE];
	memset(vc, 0, sizeof(*vc));
	if (der && len && len <= UINT32_MAX && wc_Sha256Hash(der, (word32)len, md) == 0)
		hex(md, sizeof md, vc->sha256, sizeof vc->sha256, false);
	if (vc_parse(der, len, c) < 0)
		return;
	vc->parsed = true;
	name_oneline(c->subject, vc->subject, sizeof vc->subject);
	name_oneline(c->issuer, vc->issuer, sizeof vc->issuer);
	struct span serial = c->serial;
	if (serial.n > 1 && serial.p[0] == 0 && (serial.p[1] & 0x80)) {
		serial.p++;
		serial.n--;
	}
	hex(serial.p, serial.n, vc->serial, sizeof vc->serial, true);
	memcpy(vc->not_before, c->nb_iso, sizeof vc->not_before);
	memcpy(vc->not_after, c->na_iso, sizeof vc->not_after);
	vc->not_before_t = c->nb;
	vc->not_after_t = c->na;
	describe_key(c, vc);
	oid_text(c->sig_oid, vc->sig_alg, sizeof vc->sig_alg);
	for (size_t i = 0; i < sizeof verify_sig_algs / sizeof verify_sig_algs[0]; i++)
		if (oid_is(c->sig_oid, verify_sig_algs[i].oid, verify_sig_algs[i].len))
			snprintf(vc->sig_alg, sizeof vc->sig_alg, "%s", verify_sig_algs[i].ln);
	vc->is_ca = c->bc_present && c->bc_ca;
	vc->self_signed = c->self_signed;
	describe_sans(c, vc);
}

/* 9 or 10 when now is outside [nb, na] (both ends valid, as X509_cmp_time), else 0. */
static int time_code(const struct vcert *c, time_t now)
{
	if (now < c->nb)
		return VERIFY_ERR_NOT_YET_VALID;
	if (now > c->na)
		return VERIFY_ERR_EXPIRED;
	return VERIFY_OK;
}

/* A time inside c's validity, so that wolfSSL's own date check passes. */
static time_t inside(const struct vcert *c, time_t now)
{
	if (now >= c->nb && now <= c->na)
		return now;
	return c->nb + (c->na - c->nb) / 2;
}

static int map_wolf(int r, int depth, unsigned path_len)
{
	switch (r) {
	case ASN_SIG_CONFIRM_E: return VERIFY_ERR_SIGNATURE;
	case ASN_NO_SIGNER_E: return VERIFY_ERR_NO_ISSUER;
	case ASN_AFTER_DATE_E: return VERIFY_ERR_EXPIRED;
	case ASN_BEFORE_DATE_E: return VERIFY_ERR_NOT_YET_VALID;
	case ASN_SELF_SIGNED_E: return depth == 0 && path_len == 1 ? VERIFY_ERR_SELF_SIGNED : VERIFY_ERR_SELF_SIGNED_IN;
	case ASN_PATHLEN_INV_E:
	case ASN_PATHLEN_SIZE_E: return VERIFY_ERR_PATH_LENGTH;
	case ASN_NAME_INVALID_E: return VERIFY_ERR_NAME_CONSTRAINT;
	default: return VERIFY_ERR_UNSPECIFIED;
	}
}

static void set_code(struct verify_result *out, int code, int depth)
{
	if (out->code != VERIFY_OK)
		return; /* the first error stands */
	out->code = code;
	out->depth = depth;
}

int verify_chain(const struct verify_roots *roots, const uint8_t *const *der, const size_t *len, size_t n,
		 const char *mx_name, const char *domain, time_t now, struct verify_result *out)
{
	int ret = -1;
	struct vcert vc[VERIFY_MAX_CERTS];
	const struct vroot *anchors[VERIFY_MAX_ANCHORS];
	size_t nanch = 0;
	unsigned path[VERIFY_MAX_CERTS], plen = 1, m;
	bool used[VERIFY_MAX_CERTS] = { true }, top_is_root = false;
	int build = VERIFY_OK;
	WOLFSSL_CERT_MANAGER *cm = NULL;

	if (!out)
		return -1;
	memset(out, 0, sizeof(*out));
	out->depth = -1;
	if (!roots || !der || !len || n == 0)
		goto out;
	if (now == 0)
		now = time(NULL);
	out->checked_at = now;
	out->n_sent = n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
	m = n < VERIFY_MAX_CERTS ? (unsigned)n : VERIFY_MAX_CERTS;
	out->n_certs = m;
	for (unsigned i = 0; i < m; i++)
		describe(der[i], len[i], &vc[i], &out->cert[i]);
	ret = 0;
	if (!vc[0].ok) {
		set_code(out, VERIFY_ERR_UNSPECIFIED, 0);
		goto out;
	}

	const struct vcert *leaf = &vc[0];
	out->name_match_mx = vc_host_match(leaf, mx_name);
	out->name_match_domain = vc_host_match(leaf, domain);
	out->validity_days = (int)((leaf->na - leaf->nb) / VERIFY_DAY);
	out->long_validity = out->validity_days > 398;
	out->expires_within_30_days = now >= leaf->nb && now <= leaf->na && leaf->na - now < 30 * VERIFY_DAY;

	/* Build the path as OpenSSL 3.0 does (trusted first): at each step the issuer is looked
	 * for among the roots, then among the sent certificates in any order. */
	path[0] = 0;
	for (;;) {
		const struct vcert *cur = &vc[path[plen - 1]];
		nanch = roots_issuers(roots, cur, anchors, VERIFY_MAX_ANCHORS);
		if (cur->self_signed) {
			/* A self-signed certificate is trusted only if it is a root (same key). */
			for (size_t k = 0; k < nanch && !top_is_root; k++)
				if (span_eq(anchors[k]->c.spki, cur->spki)) {
					anchors[0] = anchors[k];
					top_is_root = true;
				}
			nanch = top_is_root ? 1 : 0;
			if (!top_is_root)
				build = plen == 1 ? VERIFY_ERR_SELF_SIGNED : VERIFY_ERR_SELF_SIGNED_IN;
			break;
		}
		if (nanch)
			break;
		unsigned j = 0;
		for (unsigned k = 1; k < m && !j; k++)
			if (!used[k] && vc[k].ok && vc_issued_by(cur, &vc[k]))
				j = k;
		if (!j) {
			build = VERIFY_ERR_NO_ISSUER;
			break;
		}
		used[j] = true;
		path[plen++] = j;
	}
	out->path_len = plen;
	const struct vcert *top = &vc[path[plen - 1]];
	{
		const struct vroot *any[1];
		out->issuer_known = top_is_root || roots_by_subject(roots, top->issuer, any, 1) > 0;
	}
	out->chain_complete = build == VERIFY_OK;
	out->missing_intermediate = build == VERIFY_ERR_NO_ISSUER && plen == 1 && !out->issuer_known;
	out->unknown_ca = (build == VERIFY_ERR_NO_ISSUER || build == VERIFY_ERR_SELF_SIGNED_IN) && plen > 1;
	if (nanch) {
		/* OpenSSL prefers an issuer valid at the time; so do we for the one we report. */
		for (size_t k = 0; k < nanch; k++)
			if (time_code(&anchors[k]->c, now) == VERIFY_OK) {
				const struct vroot *t = anchors[0];
				anchors[0] = anchors[k];
				anchors[k] = t;
				break;
			}
		snprintf(out->anchor, sizeof out->anchor, "%s", anchors[0]->subject);
	}
	for (unsigned d = 0; d < plen; d++) {
		const struct vcert *c = &vc[path[d]];
		const struct verify_cert *info = &out->cert[path[d]];
		if (info->key_type == VERIFY_KEY_RSA && info->key_bits < 2048)
			out->rsa_under_2048 = true;
		if (!c->self_signed && vc_weak_sig(c))
			out->sha1_signature = true;
	}

	/* OpenSSL's order: chain building, extensions (CA flags), host name, then signatures
	 * and validity from the top down. */
	if (build != VERIFY_OK) {
		set_code(out, build, build == VERIFY_ERR_SELF_SIGNED ? 0 : (int)plen - 1);
		goto out;
	}
	for (unsigned d = 1; d < plen; d++)
		if (vc_ca_level(&vc[path[d]]) != 1) /* intermediates need basicConstraints cA */
			set_code(out, VERIFY_ERR_INVALID_CA, (int)d);
	if (!top_is_root && vc_ca_level(&anchors[0]->c) == 0)
		set_code(out, VERIFY_ERR_INVALID_CA, (int)plen);
	if (mx_name && *mx_name && !out->name_match_mx)
		set_code(out, VERIFY_ERR_HOSTNAME, 0);
	if (out->code != VERIFY_OK)
		goto out;

	if (!(cm = wolfSSL_CertManagerNew())) {
		ret = -2;
		goto out;
	}
	if (!top_is_root) {
		for (size_t k = 0; k < nanch; k++) {
			verify_tl_time = inside(&anchors[k]->c, now);
			wolfSSL_CertManagerLoadCABuffer(cm, anchors[k]->der, (long)anchors[k]->c.der.n,
							WOLFSSL_FILETYPE_ASN1);
		}
		set_code(out, time_code(&anchors[0]->c, now), (int)plen);
	} else if (plen > 1) {
		/* The sent self-signed top carries a trusted root's key: it signs the next one
		 * down, so wolfSSL must know it (found by fuzz_verify: a sent root reached
		 * through the sent certificates was never loaded, and its child failed with
		 * "no signer" although the path was complete). */
		verify_tl_time = inside(top, now);
		wolfSSL_CertManagerLoadCABuffer(cm, top->der.p, (long)top->der.n, WOLFSSL_FILETYPE_ASN1);
	}
	for (int d = (int)plen - 1; d >= 0 && out->code == VERIFY_OK; d--) {
		const struct vcert *c = &vc[path[d]];
		if (!(top_is_root && d == (int)plen - 1)) {
			verify_tl_time = inside(c, now);
			int r = wolfSSL_CertManagerVerifyBuffer(cm, c->der.p, (long)c->der.n, WOLFSSL_FILETYPE_ASN1);
			if (r != WOLFSSL_SUCCESS) {
				out->wolf_err = r;
				set_code(out, map_wolf(r, d, plen), d);
				break;
			}
			if (d > 0) /* a failure here shows as ASN_NO_SIGNER_E one step down */
				wolfSSL_CertManagerLoadCABuffer(cm, c->der.p, (long)c->der.n, WOLFSSL_FILETYPE_ASN1);
		}
		set_code(out, time_code(c, now), d);
	}
out:
	verify_tl_time = 0;
	if (cm)
		wolfSSL_CertManagerFree(cm);
	/* A path built from names and key ids that wolfSSL then finds no signer for is not
	 * a complete chain (code 20 says so; the flag must agree). */
	if (out->code == VERIFY_ERR_NO_ISSUER)
		out->chain_complete = false;
	if (out->code == VERIFY_OK)
		out->depth = -1;
	out->text = verify_code_text(out->code);
	return ret;
}
