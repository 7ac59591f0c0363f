/* Unit tests of the per-scan certificate set and its base64 encoder. */
#include "mxscan/certstore.h"
#include "tap.h"

int main(void)
{
	struct certstore *cs = certstore_new();
	uint8_t h[32];
	memset(h, 0xab, sizeof h);
	is_int(certstore_add(cs, h), 1, "first sight is new");
	is_int(certstore_add(cs, h), 0, "second sight is known");
	int all_new = 1, all_known = 1;
	for (unsigned i = 0; i < 5000; i++) {
		memset(h, 0, sizeof h);
		memcpy(h, &i, sizeof i);
		h[31] = 7;
		all_new &= certstore_add(cs, h) == 1;
	}
	for (unsigned i = 0; i < 5000; i++) {
		memset(h, 0, sizeof h);
		memcpy(h, &i, sizeof i);
		h[31] = 7;
		all_known &= certstore_add(cs, h) == 0;
	}
	ok(all_new, "5000 distinct fingerprints added (the set grows)");
	ok(all_known, "all 5000 known afterwards");
	is_int(certstore_count(cs), 5001, "count");
	certstore_free(cs);

	/* RFC 4648 section 10 test vectors */
	static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (size_t i = 0; i < 7; i++) {
		char b[16];
		certstore_base64((const uint8_t *)in[i], strlen(in[i]), b);
		is_str(b, out[i], "base64(\"%s\")", in[i]);
	}
	uint8_t bin[3] = { 0xff, 0xfe, 0x00 };
	char b[8];
	certstore_base64(bin, 3, b);
	is_str(b, "//4A", "base64 of binary bytes");
	return done_testing();
}
