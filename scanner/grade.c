/*
 * grade: nmap ssl-enum-ciphers' letter grades and warnings for accepted suites.
 *
 * Design. nmap does not grade from a suite table: tls.lua's cipher_info() splits the suite
 * name at "_WITH_", looks the key-exchange half up in KEX_ALGORITHMS (anon? export? which
 * certificate key type? which ServerKeyExchange?) and parses the cipher half into a "size"
 * and a mode; ssl-enum-ciphers.nse then takes the minimum key-exchange strength it measured
 * and scores it with the cipher size. We do the same in three small steps, each a pure
 * function over our generated suite table:
 *   kex_of()      the key-exchange facts, from the name's key-exchange half (nmap's names are
 *                 the IANA ones except for TLS 1.3, which nmap calls TLS_AKE_WITH_*);
 *   cipher_of()   the cipher facts, from suite_info.enc, parsed by nmap's rules;
 *   strength()    the RSA-equivalent key-exchange strength, in nmap's order of measurement.
 * The tables below are written from reading nmap 7.93's Lua (cited per table), not copied.
 * Where nmap has a bug that changes a grade, we reproduce it and say so: the goal is that a
 * report of ours agrees with nmap's on the same server.
 *
 * Scores are kept in integer thousandths (43 * kex tier + 57 * cipher tier, tiers in tenths):
 * exact, and on the same side of every letter threshold as nmap's double arithmetic (the
 * tests check all tier combinations against the doubles).
 */
#include "mxscan/grade.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- names --------------------------------------------------------------------------- */

static const char *const key_type_names[] = {
	[GRADE_KEY_NONE] = "none", [GRADE_KEY_RSA] = "rsa", [GRADE_KEY_DSA] = "dsa",
	[GRADE_KEY_DH] = "dh",     [GRADE_KEY_EC] = "ec",
};
_Static_assert(ARRAY_LEN(key_type_names) == GRADE_KEY__COUNT, "key_type_names must cover enum grade_key_type");

const char *grade_key_type_name(enum grade_key_type t)
{
	return (unsigned)t < GRADE_KEY__COUNT ? key_type_names[t] : "?";
}

static const char *const warning_names[] = {
	[GW_RC4] = "rc4",
	[GW_3DES_SWEET32] = "sweet32",
	[GW_EXPORT] = "export",
	[GW_ANON] = "anonymous",
	[GW_NULL] = "null",
	[GW_MD5] = "md5",
	[GW_SSLV3_CBC_POODLE] = "poodle",
	[GW_DH_UNDER_2048] = "dh-under-2048",
	[GW_DH_UNDER_1024] = "dh-under-1024",
	[GW_RSA_UNDER_2048] = "rsa-under-2048",
	[GW_WEAK_CERT_SIG] = "weak-cert-sig",
	[GW_KX_WEAKER_THAN_CERT] = "kx-weaker-than-cert",
	[GW_RSA_EXPONENT_1] = "rsa-exponent-1",
	[GW_TLS13_LEGACY_SUITE] = "tls13-legacy-suite",
	[GW_NO_PFS] = "no-pfs",
};
_Static_assert(ARRAY_LEN(warning_names) == GW__COUNT, "warning_names must cover enum grade_warning");

/* nmap's sentences are those of ssl-enum-ciphers.nse (find_ciphers_group and find_ciphers);
 * those marked "ours" have no nmap counterpart. */
static const char *const warning_texts[] = {
	[GW_RC4] = "Broken cipher RC4 is deprecated by RFC 7465",
	[GW_3DES_SWEET32] = "64-bit block cipher vulnerable to SWEET32 attack", /* nmap names the cipher */
	[GW_EXPORT] = "Export key exchange",
	[GW_ANON] = "Anonymous key exchange, score capped at F",
	[GW_NULL] = "NULL cipher: records are not encrypted", /* ours */
	[GW_MD5] = "Ciphersuite uses MD5 for message integrity",
	[GW_SSLV3_CBC_POODLE] = "CBC-mode cipher in SSLv3 (CVE-2014-3566)",
	[GW_DH_UNDER_2048] = "Diffie-Hellman group of fewer than 2048 bits",          /* ours */
	[GW_DH_UNDER_1024] = "Diffie-Hellman group of fewer than 1024 bits (Logjam)", /* ours */
	[GW_RSA_UNDER_2048] = "RSA key of fewer than 2048 bits",                      /* ours */
	[GW_WEAK_CERT_SIG] =
		"Insecure certificate signature (MD5 or SHA1), score capped at F",        /* nmap names the hash */
	[GW_KX_WEAKER_THAN_CERT] = "Key exchange of lower strength than certificate key", /* nmap names the group */
	[GW_RSA_EXPONENT_1] = "Certificate RSA exponent is 1, score capped at F",
	[GW_TLS13_LEGACY_SUITE] = "Non-TLSv1.3 ciphersuite chosen for TLSv1.3",
	[GW_NO_PFS] = "Forward Secrecy not supported by any cipher",
};
_Static_assert(ARRAY_LEN(warning_texts) == GW__COUNT, "warning_texts must cover enum grade_warning");

const char *grade_warning_name(enum grade_warning w)
{
	return (unsigned)w < GW__COUNT ? warning_names[w] : "?";
}

const char *grade_warning_text(enum grade_warning w)
{
	return (unsigned)w < GW__COUNT ? warning_texts[w] : "?";
}

/* ---- key exchange -------------------------------------------------------------------- */

enum kx_flag {
	KX_ANON = 1u << 0,
	KX_EXPORT = 1u << 1,
	KX_PFS = 1u << 2,
	KX_TLS13OK = 1u << 3,
};

/* What nmap reads from the ServerKeyExchange (or, in TLS 1.3, the key_share group). */
enum ske_kind {
	SKE_NONE,       /* none, or none that yields a strength (PSK hint, ECMQV) */
	SKE_DH,         /* DH prime: strength = prime bits, type dh */
	SKE_EC,         /* EC curve: strength = curve bits, type ec */
	SKE_RSA_EXPORT, /* export RSA key: nmap measures #modulus, i.e. BYTES (tls.lua bug) */
	SKE_SRP,        /* SRP: rsa_equiv("srp") is nil and the script raises a Lua error */
	SKE_AKE,        /* TLS 1.3 key_share: dh for ffdhe*, ec otherwise */
};

struct kex_facts {
	const char *name; /* key-exchange half of the suite name, as nmap splits it */
	uint8_t flags;    /* KX_* */
	uint8_t pubkey;   /* enum grade_key_type the certificate must have to be measured */
	uint8_t ske;      /* enum ske_kind */
};

/* nmap 7.93 nselib/tls.lua, KEX_ALGORITHMS: anon/export/pfs flags, "pubkey" (the certificate
 * key type that is measured, when it matches) and whether server_key_exchange() yields a
 * strength. A name missing here is missing there too: the script then indexes a nil table
 * (kex.pfs) and dies, e.g. for DHE_DSS_EXPORT1024 (aliased to itself, so nil) and
 * GOSTR341112_256. */
static const struct kex_facts kex_table[] = {
	{ "NULL", KX_ANON, GRADE_KEY_NONE, SKE_NONE },
	{ "DH_anon", KX_ANON, GRADE_KEY_NONE, SKE_DH },
	{ "DH_anon_EXPORT", KX_ANON | KX_EXPORT, GRADE_KEY_NONE, SKE_DH },
	{ "ECDH_anon", KX_ANON, GRADE_KEY_NONE, SKE_EC },
	{ "ECDH_anon_EXPORT", KX_ANON | KX_EXPORT, GRADE_KEY_NONE, SKE_EC },
	{ "RSA", 0, GRADE_KEY_RSA, SKE_NONE },
	{ "RSA_FIPS", 0, GRADE_KEY_RSA, SKE_NONE },
	{ "RSA_EXPORT", KX_EXPORT, GRADE_KEY_RSA, SKE_RSA_EXPORT },
	{ "RSA_EXPORT1024", KX_EXPORT, GRADE_KEY_RSA, SKE_RSA_EXPORT },
	{ "DHE_RSA", KX_PFS, GRADE_KEY_RSA, SKE_DH },
	{ "DHE_RSA_EXPORT", KX_EXPORT | KX_PFS, GRADE_KEY_RSA, SKE_DH },
	{ "DHE_DSS", KX_PFS, GRADE_KEY_DSA, SKE_DH },
	{ "DHE_DSS_EXPORT", KX_EXPORT | KX_PFS, GRADE_KEY_DSA, SKE_DH },
	{ "DH_DSS", 0, GRADE_KEY_DH, SKE_NONE },
	{ "DH_DSS_EXPORT", KX_EXPORT, GRADE_KEY_DH, SKE_NONE },
	{ "DH_RSA", 0, GRADE_KEY_DH, SKE_NONE },
	{ "DH_RSA_EXPORT", KX_EXPORT, GRADE_KEY_DH, SKE_NONE },
	{ "ECDHE_RSA", KX_PFS, GRADE_KEY_RSA, SKE_EC },
	{ "ECDHE_ECDSA", KX_PFS, GRADE_KEY_EC, SKE_EC },
	{ "ECDH_ECDSA", 0, GRADE_KEY_EC, SKE_NONE },
	{ "ECDH_RSA", 0, GRADE_KEY_EC, SKE_NONE },
	{ "ECDH_ECNRA", 0, GRADE_KEY_EC, SKE_NONE },
	{ "ECMQV_ECDSA", 0, GRADE_KEY_EC, SKE_NONE },
	{ "ECMQV_ECNRA", 0, GRADE_KEY_EC, SKE_NONE },
	{ "PSK", 0, GRADE_KEY_NONE, SKE_NONE },
	{ "RSA_PSK", 0, GRADE_KEY_RSA, SKE_NONE },
	{ "DHE_PSK", KX_PFS, GRADE_KEY_NONE, SKE_DH },
	{ "PSK_DHE", KX_PFS, GRADE_KEY_NONE, SKE_DH },
	{ "ECDHE_PSK", KX_PFS, GRADE_KEY_NONE, SKE_EC },
	{ "SRP_SHA", KX_PFS, GRADE_KEY_NONE, SKE_SRP },
	{ "SRP_SHA_DSS", KX_PFS, GRADE_KEY_DSA, SKE_SRP },
	{ "SRP_SHA_RSA", KX_PFS, GRADE_KEY_RSA, SKE_SRP },
	{ "FORTEZZA_KEA", 0, GRADE_KEY_NONE, SKE_NONE },
	{ "GOSTR341001", 0, GRADE_KEY_NONE, SKE_NONE },
	{ "GOSTR341094", 0, GRADE_KEY_NONE, SKE_NONE },
	{ "KRB5", 0, GRADE_KEY_NONE, SKE_NONE },
	{ "KRB5_EXPORT", KX_EXPORT, GRADE_KEY_NONE, SKE_NONE },
	{ "AKE", KX_PFS | KX_TLS13OK, GRADE_KEY_NONE, SKE_AKE }, /* nmap's name for TLS 1.3 */
	{ "ECCPWD", KX_TLS13OK, GRADE_KEY_NONE, SKE_NONE },
};

/* The key-exchange facts of s, or NULL where nmap has none (and fails). export1024 is set
 * when the key-exchange name ends in "1024" (nmap: info.kex:find("1024$")). */
static const struct kex_facts *kex_of(const struct suite_info *s, int *export1024)
{
	const char *name = s->name, *start, *with;
	size_t len;

	*export1024 = 0;
	if (!name)
		return NULL;
	start = strchr(name, '_'); /* past "TLS_" / "SSL_" */
	with = strstr(name, "_WITH_");
	if (!start || !with || with < start) {
		/* No "_WITH_": the RFC 8446 names (TLS_AES_128_GCM_SHA256...), nmap's TLS_AKE_WITH_*.
		 * A TLS 1.3 suite that does have "_WITH_" (the GOST ones) keeps nmap's parse. */
		if (!s->kx || strcmp(s->kx, "TLS13") != 0)
			return NULL;
		start = "_AKE";
		with = start + 4;
	}
	start++;
	len = (size_t)(with - start);
	for (size_t i = 0; i < ARRAY_LEN(kex_table); i++) {
		if (strlen(kex_table[i].name) == len && memcmp(kex_table[i].name, start, len) == 0) {
			*export1024 = len >= 4 && memcmp(start + len - 4, "1024", 4) == 0;
			return &kex_table[i];
		}
	}
	return NULL;
}

/* ---- cipher -------------------------------------------------------------------------- */

struct cipher_facts {
	int size;       /* nmap's "size" (effective bits for grading); -1 = nmap cannot tell */
	unsigned block; /* block size in bits from nmap's table; 0 when not in it (RC4, NULL...) */
	int cbc;        /* mode is CBC */
	int rc4;
	char name[16]; /* nmap's cipher token: "3DES", "IDEA", "AES"... */
};

/* nmap 7.93 nselib/tls.lua, the local `algorithms` table: key "s" and block "b" sizes for the
 * ciphers whose size is not in the name. 3DES counts as 112 bits (NIST SP 800-57). size -1:
 * taken from the next name token (AES_128, CAMELLIA_256, ARIA_128). */
static const struct {
	const char *name;
	int size;
	unsigned block;
} cipher_table[] = {
	{ "3DES", 112, 64 },    { "CHACHA20", 256, 128 }, { "IDEA", 128, 64 }, { "SEED", 128, 128 },
	{ "FORTEZZA", 80, 64 }, { "DES", 56, 64 },        { "RC2", 40, 64 },   { "DES40", 40, 64 },
	{ "NULL", 0, 0 },       { "CAMELLIA", -1, 128 },  { "ARIA", -1, 128 }, { "AES", -1, 128 },
	{ "SM4", 128, 128 },
};

#define MAX_TOKENS 8

/* Split enc at '_' into at most MAX_TOKENS pointers into buf (NUL-terminated in place). */
static size_t split_tokens(const char *enc, char *buf, size_t cap, const char *tok[MAX_TOKENS])
{
	size_t n = 0;

	snprintf(buf, cap, "%s", enc ? enc : "");
	for (char *p = buf; *p && n < MAX_TOKENS;) {
		tok[n++] = p;
		p = strchr(p, '_');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

static int numeric(const char *t, int *out)
{
	int v = 0;

	if (!t || !*t)
		return 0;
	for (; *t; t++) {
		if (!isdigit((unsigned char)*t) || v > 100000)
			return 0;
		v = v * 10 + (*t - '0');
	}
	*out = v;
	return 1;
}

/* nmap's cipher_info() on the cipher half of the name, which is our enc field ("AES_128_GCM",
 * "3DES_EDE_CBC", "RC4_128", "RC2_CBC_40"...): the first token names the cipher; its size comes
 * from the table above or else the next token; the mode is the token after that (RC4 and
 * ChaCha20 are stream ciphers, NULL has none); an export suite's trailing number overrides the
 * size (RC2_CBC_40, DES_CBC_40); RC4 is capped at 80 bits ("RFC 7465 prohibits RC4"). */
static void cipher_of(const struct suite_info *s, int export, struct cipher_facts *c)
{
	char buf[64];
	const char *tok[MAX_TOKENS] = { 0 };
	size_t n = split_tokens(s->enc, buf, sizeof buf, tok), i = 0;
	int v;

	memset(c, 0, sizeof *c);
	c->size = -1;
	if (n == 0)
		return;
	snprintf(c->name, sizeof c->name, "%s", tok[0]);
	for (size_t j = 0; j < ARRAY_LEN(cipher_table); j++) {
		if (strcmp(cipher_table[j].name, tok[0]) == 0) {
			c->size = cipher_table[j].size;
			c->block = cipher_table[j].block;
		}
	}
	if (strcmp(tok[0], "3DES") == 0)
		i++; /* 3DES_EDE: EDE is part of the name */
	if (c->size < 0) {
		i++;
		if (i < n && numeric(tok[i], &v))
			c->size = v;
	}
	c->rc4 = strcmp(tok[0], "RC4") == 0;
	if (!c->rc4 && strcmp(tok[0], "CHACHA20") != 0 && strcmp(tok[0], "NULL") != 0) {
		i++;
		c->cbc = i < n && strcmp(tok[i], "CBC") == 0;
	}
	if (export && i + 1 < n && numeric(tok[i + 1], &v))
		c->size = v;
	if (c->rc4)
		c->size = c->size < 0 || c->size > 80 ? 80 : c->size;
}

/* ---- strength and score -------------------------------------------------------------- */

/* nmap 7.93 nselib/tls.lua rsa_equiv(): RSA-equivalent bits (NIST SP 800-57 part 1 rev 3). */
static unsigned rsa_equiv(enum grade_key_type t, unsigned bits)
{
	if (t != GRADE_KEY_EC)
		return bits;
	if (bits < 160)
		return 512;
	if (bits < 224)
		return 1024;
	if (bits < 256)
		return 2048;
	if (bits < 384)
		return 3072;
	if (bits < 512)
		return 7680;
	return 15360;
}

/* nmap's pattern match on the certificate signature algorithm: "[mM][dD][245]" first, then
 * "[sS][hH][aA]1". Writes the match in capitals to out (may be NULL). */
static int weak_sig(const char *alg, char out[8])
{
	if (!alg)
		return 0;
	for (const char *p = alg; p[0] && p[1] && p[2]; p++) {
		if (tolower((unsigned char)p[0]) == 'm' && tolower((unsigned char)p[1]) == 'd' &&
		    (p[2] == '2' || p[2] == '4' || p[2] == '5')) {
			if (out)
				snprintf(out, 8, "MD%c", p[2]);
			return 1;
		}
	}
	for (const char *p = alg; p[0] && p[1] && p[2] && p[3]; p++) {
		if (tolower((unsigned char)p[0]) == 's' && tolower((unsigned char)p[1]) == 'h' &&
		    tolower((unsigned char)p[2]) == 'a' && p[3] == '1') {
			if (out)
				snprintf(out, 8, "SHA1");
			return 1;
		}
	}
	return 0;
}

/* Type and strength nmap reads from the ServerKeyExchange / key_share; 0 when none. */
static unsigned ske_strength(const struct kex_facts *kx, const struct grade_keys *k, enum grade_key_type *type)
{
	*type = GRADE_KEY_NONE;
	if (k->kx_bits == 0)
		return 0;
	switch ((enum ske_kind)kx->ske) {
	case SKE_DH: *type = GRADE_KEY_DH; return k->kx_bits;
	case SKE_EC: *type = GRADE_KEY_EC; return k->kx_bits;
	case SKE_RSA_EXPORT:
		/* tls.lua: ret.strength = #ret.rsa.modulus, the length of a byte string. */
		*type = GRADE_KEY_RSA;
		return (k->kx_bits + 7) / 8;
	case SKE_AKE:
		if (k->kx_type == GRADE_KEY_DH || k->kx_type == GRADE_KEY_EC)
			*type = k->kx_type;
		else
			*type = k->kx_bits >= 1024 ? GRADE_KEY_DH : GRADE_KEY_EC;
		return k->kx_bits;
	case SKE_NONE:
	case SKE_SRP: break;
	}
	return 0;
}

/* The key-exchange strength nmap computes (ssl-enum-ciphers.nse, find_ciphers_group), or -1
 * where it has none ("unknown") or fails. Order matters and is nmap's: export floor, then
 * anonymous (0) or else the certificate if its type is the suite's, then the
 * ServerKeyExchange; each step can only lower what an earlier one set. */
static long strength(const struct suite_info *s, const struct grade_keys *k, int *kx_weaker)
{
	int export1024;
	const struct kex_facts *kx = kex_of(s, &export1024);
	long st = -1;
	enum grade_key_type ske_type;
	unsigned ske;

	*kx_weaker = 0;
	if (!kx || kx->ske == SKE_SRP)
		return -1;
	if (kx->flags & KX_EXPORT)
		st = export1024 ? 1024 : 512;
	if (kx->flags & KX_ANON) {
		st = 0;
	} else if (kx->pubkey != GRADE_KEY_NONE && k->cert_type == (enum grade_key_type)kx->pubkey) {
		long eq = (long)rsa_equiv(k->cert_type, k->cert_bits);

		if (weak_sig(k->cert_sig_alg, NULL))
			st = 0;
		st = st < 0 || eq < st ? eq : st;
		if (k->cert_type == GRADE_KEY_RSA && k->rsa_exponent_1)
			st = 0;
	}
	/* nmap's check of an export key's exponent compares a byte string with the number 1 and
	 * so never fires: only the certificate's exponent counts (above). */
	ske = ske_strength(kx, k, &ske_type);
	if (ske_type != GRADE_KEY_NONE) {
		long eq = (long)rsa_equiv(ske_type, ske);

		if (st > eq)
			*kx_weaker = 1;
		st = st < 0 || eq < st ? eq : st;
	}
	return st;
}

/* ssl-enum-ciphers.nse score_cipher(), in thousandths. */
static int score_of(long kex, int size)
{
	int kt, ct;

	if (kex < 0 || size < 0)
		return GRADE_SCORE_UNKNOWN;
	if (kex == 0)
		return 0;
	kt = kex < 512 ? 2 : kex < 1024 ? 4 : kex < 2048 ? 8 : kex < 4096 ? 9 : 10;
	if (size == 0)
		return 0;
	ct = size < 128 ? 2 : size < 256 ? 8 : 10;
	/* "Based on SSL Labs' 30-30-40 rating without the first 30% (protocol support)" */
	return 43 * kt + 57 * ct;
}

/* ssl-enum-ciphers.nse letter_grade(). */
static char letter_of(int score)
{
	if (score < 0)
		return GRADE_UNKNOWN;
	return score >= 800   ? 'A'
	       : score >= 650 ? 'B'
	       : score >= 500 ? 'C'
	       : score >= 350 ? 'D'
	       : score >= 200 ? 'E'
			      : 'F';
}

static int suite_export(const struct suite_info *s, const struct kex_facts *kx)
{
	return (s->flags & SF_EXPORT) || (kx && (kx->flags & KX_EXPORT));
}

int grade_score_keys(const struct suite_info *s, uint16_t version, const struct grade_keys *k)
{
	static const struct grade_keys none;
	struct cipher_facts c;
	int export1024, weaker;
	const struct kex_facts *kx;

	(void)version; /* nmap's grade does not depend on the protocol version */
	if (!s)
		return GRADE_SCORE_UNKNOWN;
	if (!k)
		k = &none;
	kx = kex_of(s, &export1024);
	cipher_of(s, suite_export(s, kx), &c);
	return score_of(strength(s, k, &weaker), c.size);
}

char grade_suite_keys(const struct suite_info *s, uint16_t version, const struct grade_keys *k)
{
	return letter_of(grade_score_keys(s, version, k));
}

/* The one-number form: put kx_bits where nmap would have measured it for this suite. */
static void keys_from_bits(const struct suite_info *s, unsigned kx_bits, struct grade_keys *k)
{
	int export1024;
	const struct kex_facts *kx = kex_of(s, &export1024);

	memset(k, 0, sizeof *k);
	if (!kx || kx_bits == 0)
		return;
	if (kx->ske == SKE_DH || kx->ske == SKE_EC || kx->ske == SKE_AKE) {
		k->kx_bits = kx_bits;
	} else if (kx->pubkey != GRADE_KEY_NONE) {
		k->cert_type = (enum grade_key_type)kx->pubkey;
		k->cert_bits = kx_bits;
	}
}

int grade_score(const struct suite_info *s, uint16_t version, unsigned kx_bits)
{
	struct grade_keys k;

	if (!s)
		return GRADE_SCORE_UNKNOWN;
	keys_from_bits(s, kx_bits, &k);
	return grade_score_keys(s, version, &k);
}

char grade_suite(const struct suite_info *s, uint16_t version, unsigned kx_bits)
{
	return letter_of(grade_score(s, version, kx_bits));
}

static int grade_rank(char g)
{
	static const char order[] = { 'A', 'B', 'C', 'D', 'E', 'F', GRADE_UNKNOWN };

	for (size_t i = 0; i < sizeof order; i++)
		if (order[i] == g)
			return (int)i;
	return -1;
}

char grade_least(const char *grades, size_t n)
{
	char least = 'A'; /* ssl-enum-ciphers: local least = "A" */

	for (size_t i = 0; grades && i < n; i++)
		if (grade_rank(grades[i]) > grade_rank(least))
			least = grades[i];
	return least;
}

/* ---- warnings ------------------------------------------------------------------------ */

static int is_version(uint16_t version, uint8_t bit)
{
	return suite_version_bit(version) == bit;
}

unsigned grade_warnings_keys(const struct suite_info *s, uint16_t version, const struct grade_keys *k)
{
	static const struct grade_keys none;
	struct cipher_facts c;
	int export1024, weaker;
	const struct kex_facts *kx;
	unsigned w = 0;
	int cert_used;

	if (!s)
		return 0;
	if (!k)
		k = &none;
	kx = kex_of(s, &export1024);
	cipher_of(s, suite_export(s, kx), &c);

	/* ssl-enum-ciphers.nse, find_ciphers_group: per accepted suite. */
	if (s->mac && strcmp(s->mac, "MD5") == 0)
		w |= 1u << GW_MD5;
	if (c.cbc && c.block > 0 && c.block <= 64)
		w |= 1u << GW_3DES_SWEET32;
	if (is_version(version, SV_SSL3) && c.cbc)
		w |= 1u << GW_SSLV3_CBC_POODLE;
	if (c.rc4)
		w |= 1u << GW_RC4;
	/* nmap: protocol == "TLSv1.3" and not info.tls13ok */
	if (is_version(version, SV_TLS13) && !(kx && (kx->flags & KX_TLS13OK)) &&
	    !(s->kx && strcmp(s->kx, "TLS13") == 0))
		w |= 1u << GW_TLS13_LEGACY_SUITE;
	if (suite_export(s, kx))
		w |= 1u << GW_EXPORT;
	if ((s->flags & SF_ANON) || (kx && (kx->flags & KX_ANON)))
		w |= 1u << GW_ANON;
	if ((s->flags & SF_NULL_CIPHER) || c.size == 0)
		w |= 1u << GW_NULL;

	cert_used = kx && !(kx->flags & KX_ANON) && kx->pubkey != GRADE_KEY_NONE &&
		    k->cert_type == (enum grade_key_type)kx->pubkey;
	if (cert_used && weak_sig(k->cert_sig_alg, NULL))
		w |= 1u << GW_WEAK_CERT_SIG;
	if (cert_used && k->cert_type == GRADE_KEY_RSA && k->rsa_exponent_1)
		w |= 1u << GW_RSA_EXPONENT_1;
	(void)strength(s, k, &weaker);
	if (weaker)
		w |= 1u << GW_KX_WEAKER_THAN_CERT;

	/* Ours. DH: the ephemeral group (RFC 7919 section 1, Logjam: CVE-2015-4000). RSA: the
	 * key that authenticates the handshake (or carries the premaster secret). */
	if (kx && k->kx_bits > 0) {
		enum grade_key_type t;
		unsigned bits = ske_strength(kx, k, &t);

		if (t == GRADE_KEY_DH && bits < 1024)
			w |= 1u << GW_DH_UNDER_1024;
		else if (t == GRADE_KEY_DH && bits < 2048)
			w |= 1u << GW_DH_UNDER_2048;
	}
	if (kx && !(kx->flags & KX_ANON) && k->cert_type == GRADE_KEY_RSA && k->cert_bits > 0 && k->cert_bits < 2048 &&
	    (kx->pubkey == GRADE_KEY_RSA || kx->ske == SKE_AKE))
		w |= 1u << GW_RSA_UNDER_2048;
	return w;
}

unsigned grade_warnings_suite(const struct suite_info *s, uint16_t version, unsigned kx_bits)
{
	struct grade_keys k;

	if (!s)
		return 0;
	keys_from_bits(s, kx_bits, &k);
	return grade_warnings_keys(s, version, &k);
}

int grade_warning_format(enum grade_warning w, const struct suite_info *s, const struct grade_keys *k, char *buf,
			 size_t cap)
{
	static const struct grade_keys none;
	char alg[8];

	if ((unsigned)w >= GW__COUNT)
		return -1;
	if (!k)
		k = &none;
	if (w == GW_3DES_SWEET32 && s) {
		struct cipher_facts c;
		int export1024;

		cipher_of(s, suite_export(s, kex_of(s, &export1024)), &c);
		return snprintf(buf, cap, "64-bit block cipher %s vulnerable to SWEET32 attack", c.name);
	}
	if (w == GW_WEAK_CERT_SIG && weak_sig(k->cert_sig_alg, alg))
		return snprintf(buf, cap, "Insecure certificate signature (%s), score capped at F", alg);
	if (w == GW_KX_WEAKER_THAN_CERT && s) {
		int export1024;
		const struct kex_facts *kx = kex_of(s, &export1024);
		enum grade_key_type t;
		unsigned bits = kx ? ske_strength(kx, k, &t) : 0;

		/* nmap names named groups (ECDHE, TLS 1.3), and prints "dh N" for TLS 1.2 DHE */
		if (k->kx_group && *k->kx_group && kx && (t == GRADE_KEY_EC || kx->ske == SKE_AKE))
			return snprintf(buf, cap, "Key exchange (%s) of lower strength than certificate key",
					k->kx_group);
		if (kx && t != GRADE_KEY_NONE)
			return snprintf(buf, cap, "Key exchange (%s %u) of lower strength than certificate key",
					grade_key_type_name(t), bits);
	}
	return snprintf(buf, cap, "%s", warning_texts[w]);
}

bool grade_suite_pfs(const struct suite_info *s)
{
	int export1024;
	const struct kex_facts *kx = s ? kex_of(s, &export1024) : NULL;

	return kx && (kx->flags & KX_PFS);
}
