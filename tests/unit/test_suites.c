/* Unit tests of the cipher suite table and its lookups: the generated table is
 * sorted and unique, known suites have the attributes the IANA registry and
 * their RFCs give them, table-wide version rules hold, and per-version lists
 * agree with the table. */
#include "mxscan/suites.h"
#include "tap.h"

#include <stdint.h>

#define ALL_VERSIONS   (SV_SSL3 | SV_TLS10 | SV_TLS11 | SV_TLS12 | SV_TLS13)
#define SSL3_TO_TLS12  (SV_SSL3 | SV_TLS10 | SV_TLS11 | SV_TLS12)
#define TLS10_TO_TLS12 (SV_TLS10 | SV_TLS11 | SV_TLS12)

struct known {
	uint16_t code;
	const char *name, *kx, *au, *enc;
	unsigned bits;
	const char *mac;
	uint8_t versions, flags;
};

static const struct known known[] = {
	{ 0x0000, "TLS_NULL_WITH_NULL_NULL", "NULL", "NULL", "NULL", 0, "NULL", SSL3_TO_TLS12, SF_NULL_CIPHER },
	{ 0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", "RSA", "RSA", "RC4_40", 40, "MD5", SV_SSL3 | SV_TLS10, SF_EXPORT },
	{ 0x0009, "TLS_RSA_WITH_DES_CBC_SHA", "RSA", "RSA", "DES_CBC", 56, "SHA", SSL3_TO_TLS12, 0 },
	{ 0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "RSA", "RSA", "3DES_EDE_CBC", 112, "SHA", SSL3_TO_TLS12, 0 },
	{ 0x0018, "TLS_DH_anon_WITH_RC4_128_MD5", "DH", "anon", "RC4_128", 128, "MD5", SSL3_TO_TLS12, SF_ANON },
	{ 0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "RSA", "AES_128_CBC", 128, "SHA", TLS10_TO_TLS12, 0 },
	{ 0x0060, "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5", "RSA", "RSA", "RC4_56", 56, "MD5", SV_SSL3 | SV_TLS10,
	  SF_EXPORT | SF_UNREGISTERED },
	{ 0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", "PSK", "PSK", "AES_128_CBC", 128, "SHA", TLS10_TO_TLS12, SF_PSK },
	{ 0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE", "RSA", "AES_128_GCM", 128, "AEAD", SV_TLS12,
	  SF_AEAD | SF_PFS },
	{ 0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "NULL", "NULL", "NULL", 0, "NULL", SSL3_TO_TLS12, SF_SIGNALING },
	{ 0x1301, "TLS_AES_128_GCM_SHA256", "TLS13", "TLS13", "AES_128_GCM", 128, "AEAD", SV_TLS13, SF_AEAD | SF_PFS },
	{ 0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS13", "TLS13", "CHACHA20_POLY1305", 256, "AEAD", SV_TLS13,
	  SF_AEAD | SF_PFS },
	{ 0x5600, "TLS_FALLBACK_SCSV", "NULL", "NULL", "NULL", 0, "NULL", SSL3_TO_TLS12, SF_SIGNALING },
	{ 0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE", "RSA", "AES_128_GCM", 128, "AEAD", SV_TLS12,
	  SF_AEAD | SF_PFS },
	{ 0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "ECDHE", "ECDSA", "AES_128_CCM", 128, "AEAD", SV_TLS12,
	  SF_AEAD | SF_PFS },
	{ 0xCC13, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD", "ECDHE", "RSA", "CHACHA20_POLY1305", 256, "AEAD",
	  SV_TLS12, SF_AEAD | SF_PFS | SF_UNREGISTERED },
	{ 0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE", "RSA", "CHACHA20_POLY1305", 256, "AEAD",
	  SV_TLS12, SF_AEAD | SF_PFS },
};

static void test_table_shape(void)
{
	size_t n = suites_count();
	int sorted = 1, unique_names = 1, complete = 1;

	/* The registry alone holds ~350 suites: a much shorter table means the
	 * CSV or the generator lost rows. */
	ok(n >= 340, "table has %zu entries (>= 340)", n);
	ok(suite_at(n) == NULL, "suite_at(count) is NULL");
	for (size_t i = 0; i < n; i++) {
		const struct suite_info *s = suite_at(i);

		if (i > 0 && suite_at(i - 1)->code >= s->code) {
			sorted = 0;
			diag("0x%04X not after 0x%04X", s->code, suite_at(i - 1)->code);
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(suite_at(j)->name, s->name) == 0) {
				unique_names = 0;
				diag("name %s twice", s->name);
			}
		if (!s->name || !s->kx || !s->au || !s->enc || !s->mac || !s->versions ||
		    (s->versions & ~ALL_VERSIONS)) {
			complete = 0;
			diag("0x%04X has a missing field or bad versions", s->code);
		}
	}
	ok(sorted, "codes strictly ascending (sorted, no duplicates)");
	ok(unique_names, "names unique");
	ok(complete, "every entry has all fields and valid version bits");
}

/* Rules the whole table must obey, from the RFCs. */
static void test_table_rules(void)
{
	int r13 = 1, rexp = 1, raead = 1, rnull = 1, rback = 1;

	for (size_t i = 0; i < suites_count(); i++) {
		const struct suite_info *s = suite_at(i);

		/* RFC 8446 section 4.1.2: TLS 1.3 suites only in TLS 1.3, and
		 * they can only be negotiated there. */
		if ((s->versions & SV_TLS13) && s->versions != SV_TLS13) {
			r13 = 0;
			diag("%s mixes TLS 1.3 with older versions", s->name);
		}
		/* RFC 4346 appendix A.5: no export suites in TLS 1.1 or later. */
		if ((s->flags & SF_EXPORT) && (s->versions & ~(SV_SSL3 | SV_TLS10))) {
			rexp = 0;
			diag("export suite %s allowed after TLS 1.0", s->name);
		}
		/* AEAD ciphers need the TLS 1.2 record format (RFC 5246 section
		 * 6.2.3.3), so AEAD suites other than TLS 1.3 ones are 1.2 only. */
		if ((s->flags & SF_AEAD) && s->versions != SV_TLS13 && s->versions != SV_TLS12) {
			raead = 0;
			diag("AEAD suite %s outside TLS 1.2", s->name);
		}
		if (!(s->flags & SF_SIGNALING) && !(s->flags & SF_NULL_CIPHER) != (s->bits != 0)) {
			rnull = 0;
			diag("%s: null flag and bits %u disagree", s->name, s->bits);
		}
		if (suite_by_code(s->code) != s || suite_by_name(s->name) != s) {
			rback = 0;
			diag("%s (0x%04X) does not look itself up", s->name, s->code);
		}
	}
	ok(r13, "TLS 1.3 suites are TLS 1.3 only");
	ok(rexp, "export suites only in SSLv3 and TLS 1.0");
	ok(raead, "pre-1.3 AEAD suites only in TLS 1.2");
	ok(rnull, "null flag set exactly when bits is 0");
	ok(rback, "every entry is found by its code and by its name");
}

static void test_known(void)
{
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		const struct known *k = &known[i];
		const struct suite_info *s = suite_by_code(k->code);

		if (!ok(s != NULL, "0x%04X found by code", k->code))
			continue;
		is_str(s->name, k->name, "0x%04X is %s", k->code, k->name);
		ok(suite_by_name(k->name) == s, "%s found by name", k->name);
		is_str(s->kx, k->kx, "%s kx", k->name);
		is_str(s->au, k->au, "%s au", k->name);
		is_str(s->enc, k->enc, "%s enc", k->name);
		is_int(s->bits, k->bits, "%s bits", k->name);
		is_str(s->mac, k->mac, "%s mac", k->name);
		is_int(s->versions, k->versions, "%s versions", k->name);
		is_int(s->flags, k->flags, "%s flags", k->name);
	}
}

static void test_unknown(void)
{
	/* 0x0A0A is a GREASE value (RFC 8701), 0x0047 and 0xFF00 are reserved
	 * or private-use: none is a suite. */
	ok(suite_by_code(0x0A0A) == NULL, "GREASE 0x0A0A unknown");
	ok(suite_by_code(0x0047) == NULL, "reserved 0x0047 unknown");
	ok(suite_by_code(0xFF00) == NULL, "private-use 0xFF00 unknown");
	ok(suite_by_code(0xFFFF) == NULL, "0xFFFF unknown");
	ok(suite_by_name("tls_rsa_with_aes_128_cbc_sha") == NULL, "names are case-sensitive");
	ok(suite_by_name("TLS_RSA_WITH_AES_128_CBC") == NULL, "prefix of a name is not a match");
	ok(suite_by_name("") == NULL, "empty name unknown");
	ok(suite_by_name(NULL) == NULL, "NULL name unknown");
}

static int in_list(const uint16_t *list, size_t n, uint16_t code)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == code)
			return 1;
	return 0;
}

static void test_for_version(void)
{
	static const uint16_t wires[] = { 0x0300, 0x0301, 0x0302, 0x0303, 0x0304 };
	static uint16_t buf[65536];

	for (size_t w = 0; w < sizeof wires / sizeof wires[0]; w++) {
		uint16_t v = wires[w];
		uint8_t bit = suite_version_bit(v);
		size_t want = 0, n, j = 0;
		int same = 1;

		for (size_t i = 0; i < suites_count(); i++) {
			const struct suite_info *s = suite_at(i);

			if ((s->versions & bit) && !(s->flags & SF_SIGNALING))
				want++;
		}
		n = suites_for_version(v, buf, sizeof buf / sizeof buf[0]);
		is_int(n, want, "%s: %zu suites, as counted in the table", tls_version_name(v), want);
		is_int(suites_for_version(v, NULL, 0), want, "%s: count with cap 0", tls_version_name(v));
		/* Same codes, in table order. */
		for (size_t i = 0; i < suites_count() && j <= n; i++) {
			const struct suite_info *s = suite_at(i);

			if ((s->versions & bit) && !(s->flags & SF_SIGNALING))
				if (j == n || buf[j++] != s->code)
					same = 0;
		}
		ok(same && j == n, "%s: list is the table's suites in table order", tls_version_name(v));
		ok(!in_list(buf, n, 0x00FF) && !in_list(buf, n, 0x5600), "%s: no SCSV in the list",
		   tls_version_name(v));
	}

	size_t n13 = suites_for_version(0x0304, buf, 65536);
	int all13 = 1;

	for (uint16_t c = 0x1301; c <= 0x1305; c++)
		ok(in_list(buf, n13, c), "TLSv1.3 list has 0x%04X", c);
	for (size_t i = 0; i < n13; i++)
		if (suite_by_code(buf[i])->versions != SV_TLS13)
			all13 = 0;
	ok(all13, "TLSv1.3 list has only TLS 1.3 suites");
	ok(!in_list(buf, n13, 0xC02F), "TLSv1.3 list lacks 0xC02F");

	size_t n12 = suites_for_version(0x0303, buf, 65536);
	ok(in_list(buf, n12, 0xC02F) && in_list(buf, n12, 0x002F), "TLSv1.2 list has 0xC02F, 0x002F");
	ok(!in_list(buf, n12, 0x0003) && !in_list(buf, n12, 0x1301),
	   "TLSv1.2 list lacks export 0x0003 and TLS 1.3 0x1301");

	size_t n3 = suites_for_version(0x0300, buf, 65536);
	ok(in_list(buf, n3, 0x0003) && in_list(buf, n3, 0x000A), "SSLv3 list has 0x0003, 0x000A");
	ok(!in_list(buf, n3, 0xC02F), "SSLv3 list lacks 0xC02F");

	/* A short buffer gets the first cap codes and the full count back. */
	uint16_t small[3] = { 0, 0, 0xBEEF };
	size_t full = suites_for_version(0x0301, buf, 65536);
	size_t got = suites_for_version(0x0301, small, 2);
	is_int(got, full, "cap 2: full count still returned");
	ok(small[0] == buf[0] && small[1] == buf[1], "cap 2: first two codes written");
	is_int(small[2], 0xBEEF, "cap 2: nothing written past cap");

	is_int(suites_for_version(0x0305, buf, 65536), 0, "unknown version 0x0305: no suites");
	is_int(suites_for_version(0xFEFD, buf, 65536), 0, "DTLS 1.2 0xFEFD: no suites");
}

static void test_versions(void)
{
	is_str(tls_version_name(0x0300), "SSLv3", "0x0300 name");
	is_str(tls_version_name(0x0301), "TLSv1.0", "0x0301 name");
	is_str(tls_version_name(0x0302), "TLSv1.1", "0x0302 name");
	is_str(tls_version_name(0x0303), "TLSv1.2", "0x0303 name");
	is_str(tls_version_name(0x0304), "TLSv1.3", "0x0304 name");
	is_str(tls_version_name(0x0200), "unknown", "0x0200 (SSLv2) name");
	is_str(tls_version_name(0x0305), "unknown", "0x0305 name");
	is_str(tls_version_name(0x7F1C), "unknown", "draft TLS 1.3 0x7F1C name");

	is_int(suite_version_bit(0x0300), SV_SSL3, "0x0300 bit");
	is_int(suite_version_bit(0x0301), SV_TLS10, "0x0301 bit");
	is_int(suite_version_bit(0x0302), SV_TLS11, "0x0302 bit");
	is_int(suite_version_bit(0x0303), SV_TLS12, "0x0303 bit");
	is_int(suite_version_bit(0x0304), SV_TLS13, "0x0304 bit");
	is_int(suite_version_bit(0x0002), 0, "SSLv2 0x0002 has no bit");
	is_int(suite_version_bit(0xFEFD), 0, "DTLS 0xFEFD has no bit");
}

int main(void)
{
	test_table_shape();
	test_table_rules();
	test_known();
	test_unknown();
	test_for_version();
	test_versions();
	return done_testing();
}
