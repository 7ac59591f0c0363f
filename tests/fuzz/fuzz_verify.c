// fuzz-sources: scanner/verify.c
/*
 * fuzz_verify: libFuzzer harness for scanner/verify.c.
 *
 * Input: byte 0 picks the number of certificates (bits 0-1: 1..3), the MX name (bits 2-4)
 * and the time (bits 5-7) from fixed tables; then every certificate but the last as a 2-byte
 * big-endian length and that many bytes (cut short at the end of the input), the last one
 * being the rest. The chain is verified twice against a one-root bundle written at start-up
 * from ROOT_PEM (public certificate only; its key was thrown away), and the two results must
 * agree (a verification must not depend on the one before). The result's invariants are
 * checked and every string is read so ASan sees an unterminated one. The leaf bytes are also
 * fed to verify_cert_host and, as a pattern, to verify_name_match.
 *
 * Seeds (tests/fuzz/corpus/verify/) are chains under ROOT_PEM made with openssl: a P-256 leaf
 * for mx1.fuzz.test, *.fuzz.test and IP 127.0.0.1, issued by an RSA-2048 intermediate (valid
 * 2026-11-21 for 10 and 20 years), the root itself, and a self-signed leaf, in the format above.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mxscan/verify.h"

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

/* mxscan Fuzz Root, RSA-2048, 2026-11-21 .. 2056-11-13. */
static const char ROOT_PEM[] = "-----BEGIN CERTIFICATE-----\n"
			       "MIIDVTCCAj2gAwIBAgIUQ5jqRt6TDGhKWQgMx8MT0A3Va2EwDQYJKoZIhvcNAQEL\n"
			       "BQAwMTEUMBIGA1UECgwLbXhzY2FuIGZ1enoxGTAXBgNVBAMMEG14c2NhbiBGdXp6\n"
			       "IFJvb3QwIBcNMjYxMTIxMTI1MzMyWhgPMjA1NjExMTMxMjUzMzJaMDExFDASBgNV\n"
			       "BAoMC214c2NhbiBmdXp6MRkwFwYDVQQDDBBteHNjYW4gRnV6eiBSb290MIIBIjAN\n"
			       "BgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuJTO4QLdjDNvVxdE1B4XEwgvm9OS\n"
			       "H3WSHtENQwtaApPcO/+1aEtArVBiHKdWn2aW1b7OrWqahQJ9N2oSkmajWh8+T5EZ\n"
			       "sX4qtg5KMPhrwCoYlFFTnQ5LvNxyuJDsayH+LYTnTdfEjL4gVnivpKZmGvX2r2ZZ\n"
			       "AfVaNJ0qKW4cK7mRfVgYnkNQHE8E0n5eWlNc+g1DNuYeEYQLyK1BKstxn506Esjh\n"
			       "bD4FYsNMVuav7gg+0QpBFRHhC4P1b3/lSmU/pxKJp9w0zpgmYpwi31s2nRbhXy/c\n"
			       "d6fUJIPeiZV3WY4oM/JF+GnlWGJ4NYsz6wrSOtmAlIQ4YtserF2mlo5tuwIDAQAB\n"
			       "o2MwYTAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQU\n"
			       "Sgc5yQXk7h0Wu4dcN0D9R/jr4YQwHwYDVR0jBBgwFoAUSgc5yQXk7h0Wu4dcN0D9\n"
			       "R/jr4YQwDQYJKoZIhvcNAQELBQADggEBAJGbiUfU4deoXNaJf/aOgimWqdpc9dJS\n"
			       "/7b39679CcuntHM5qcZ8hddY55eHN5XKMPSBKUWAWySIuLK8/XUnABSvgt+XOpjt\n"
			       "+SEQ0zmLjKCdBVgDwRUzYdKeIH4zLxFKlS0QfbmaRoKP6beWoBsKf2wgkWJDrL37\n"
			       "EFxspWHK3soSruM1gOWuQAfPFg8PXmFrU5TSzgP+ZsZ5AqHTZAEs0D6YMTdi0ul9\n"
			       "tPoPZYDJUUpIF7+ywPwAAVdGTSmrWQL36dAGFjhmltYzo1Cf/TtPul3oftN+gsOQ\n"
			       "fGAJ3H9ciHTh90VIvAEkevBQQe15p2Iny4hpVVpgjFpYW0IaXEmROTE=\n"
			       "-----END CERTIFICATE-----\n";

static const char *const names[8] = {
	"mx1.fuzz.test", "x.fuzz.test", "a.b.fuzz.test", "MX1.FUZZ.TEST.", "127.0.0.1", "::1", "", NULL
};
static const time_t times[8] = {
	1800000000, 2000000000, 1700000000, 2200000000, 2600000000, 3000000000, 1, 253402300799
};

static struct verify_roots *roots;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/fuzz_verify_root_XXXXXX", err[256];
	(void)argc;
	(void)argv;
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, ROOT_PEM, sizeof ROOT_PEM - 1) == (ssize_t)(sizeof ROOT_PEM - 1));
	close(fd);
	roots = verify_roots_load(path, err, sizeof err);
	unlink(path);
	if (!roots)
		fprintf(stderr, "fuzz_verify: %s\n", err);
	CHECK(roots && verify_roots_count(roots) == 1);
	return 0;
}

static size_t str_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	CHECK(n < cap);
	return n;
}

static void check_result(const struct verify_result *r, size_t n)
{
	static const int codes[] = { 0, 1, 7, 9, 10, 18, 19, 20, 25, 47, 62, 79 };
	bool known = false;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		known |= r->code == codes[i];
	CHECK(known);
	CHECK(r->text && strcmp(r->text, verify_code_text(r->code)) == 0);
	CHECK((r->code == 0) == (r->depth == -1));
	CHECK(r->n_sent == n && r->n_certs == (n < VERIFY_MAX_CERTS ? n : VERIFY_MAX_CERTS));
	CHECK(r->path_len <= r->n_certs);
	CHECK(!r->missing_intermediate || r->code == VERIFY_ERR_NO_ISSUER);
	CHECK(!r->unknown_ca || r->code == VERIFY_ERR_NO_ISSUER || r->code == VERIFY_ERR_SELF_SIGNED_IN);
	CHECK(!r->chain_complete || (r->code != 18 && r->code != 19 && r->code != 20));
	CHECK(r->code != 0 || r->chain_complete);
	str_ok(r->anchor, sizeof r->anchor);
	for (unsigned i = 0; i < r->n_certs; i++) {
		const struct verify_cert *c = &r->cert[i];
		str_ok(c->sha256, sizeof c->sha256);
		str_ok(c->subject, sizeof c->subject);
		str_ok(c->issuer, sizeof c->issuer);
		str_ok(c->serial, sizeof c->serial);
		str_ok(c->not_before, sizeof c->not_before);
		str_ok(c->not_after, sizeof c->not_after);
		str_ok(c->curve, sizeof c->curve);
		str_ok(c->sig_alg, sizeof c->sig_alg);
		CHECK(c->n_san <= VERIFY_MAX_SANS && c->n_san <= c->san_total);
		for (unsigned k = 0; k < c->n_san; k++)
			str_ok(c->san[k].name, sizeof c->san[k].name);
		CHECK(verify_key_type_name(c->key_type) != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *der[3];
	size_t len[3], n, off = 1;
	static struct verify_result r1, r2;
	if (size < 1)
		return 0;
	n = (data[0] & 3) == 0 ? 1 : (data[0] & 3) == 3 ? 3 : (size_t)(data[0] & 3);
	const char *name = names[(data[0] >> 2) & 7];
	time_t now = times[(data[0] >> 5) & 7];
	for (size_t i = 0; i < n; i++) {
		size_t l = size - off;
		if (i + 1 < n) {
			l = 0;
			if (size - off >= 2) {
				l = (size_t)data[off] << 8 | data[off + 1];
				off += 2;
			} else {
				off = size;
			}
			if (l > size - off)
				l = size - off;
		}
		der[i] = data + off;
		len[i] = l;
		off += l;
	}
	CHECK(verify_chain(roots, der, len, n, name, "fuzz.test", now, &r1) == 0);
	check_result(&r1, n);
	CHECK(verify_chain(roots, der, len, n, name, "fuzz.test", now, &r2) == 0);
	CHECK(r1.code == r2.code && r1.depth == r2.depth && r1.path_len == r2.path_len);
	CHECK(r1.name_match_mx == r2.name_match_mx && r1.missing_intermediate == r2.missing_intermediate);
	CHECK(memcmp(r1.cert, r2.cert, sizeof r1.cert) == 0);

	int h = verify_cert_host(der[0], len[0], name ? name : "mx1.fuzz.test");
	CHECK(h >= -1 && h <= 1);
	CHECK((h == -1) == !r1.cert[0].parsed);
	if (name)
		CHECK((h == 1) == r1.name_match_mx);
	(void)verify_name_match((const char *)data + 1, size - 1, "mx1.fuzz.test");
	(void)verify_name_match("*.fuzz.test", 11, name ? name : "");
	return 0;
}
