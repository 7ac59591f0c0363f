// fuzz-sources: scanner/hello.c
/*
 * fuzz_hello: libFuzzer harness for scanner/hello.c.
 *
 * Parser: the first input byte picks the chunking (bit 7: stop_after_server_hello,
 * bit 6: tiny chunks of 1..8 bytes, else chunks of 1..4096) and seeds a
 * xorshift that draws the chunk sizes; the rest is the server's bytes. The
 * input is parsed whole by one parser and in chunks by another; any difference
 * in status or flight is a bug (split-dependence) and traps. The flight's
 * invariants (caps, NUL-terminated not_tls) are checked and every kept
 * certificate byte is read so ASan sees any dangling pointer.
 *
 * Builder: the same bytes drive a struct hello_opts (versions, suite counts up
 * to past the one-record limit, compression, SNI, groups, key shares including
 * groups with no built-in value, SCSVs, session id) and the output is checked
 * structurally: one handshake record whose lengths agree with what was written.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mxscan/hello.h"

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_flight(const struct server_flight *a, const struct server_flight *b)
{
	size_t kept = 0;
	volatile uint8_t sink = 0;

	CHECK(a->end == b->end && a->got_server_hello == b->got_server_hello && a->is_hrr == b->is_hrr);
	CHECK(a->record_version == b->record_version && a->legacy_version == b->legacy_version);
	CHECK(a->version == b->version && a->cipher == b->cipher && a->compression == b->compression);
	CHECK(a->key_share_group == b->key_share_group && a->has_reneg_info == b->has_reneg_info);
	CHECK(a->has_ems == b->has_ems && a->session_id_len == b->session_id_len);
	CHECK(a->got_alert == b->got_alert && a->alert_level == b->alert_level && a->alert_desc == b->alert_desc);
	CHECK(a->ncerts == b->ncerts && a->certs_total == b->certs_total);
	CHECK(a->got_ske == b->got_ske && a->ske_group == b->ske_group && a->dh_bits == b->dh_bits);
	CHECK(a->got_server_hello_done == b->got_server_hello_done);
	CHECK(memchr(a->not_tls, 0, sizeof a->not_tls) && strcmp(a->not_tls, b->not_tls) == 0);
	CHECK(a->ncerts >= 0 && a->ncerts <= HELLO_MAX_CERTS && a->ncerts <= a->certs_total);
	CHECK(a->session_id_len <= 32);
	for (int i = 0; i < a->ncerts; i++) {
		CHECK(a->cert_len[i] == b->cert_len[i] && a->cert_len[i] > 0);
		CHECK(memcmp(a->cert[i], b->cert[i], a->cert_len[i]) == 0);
		for (uint32_t j = 0; j < a->cert_len[i]; j++)
			sink ^= a->cert[i][j];
		kept += a->cert_len[i];
	}
	CHECK(kept <= HELLO_MAX_CERT_BYTES);
	(void)sink;
}

static void fuzz_parse(const uint8_t *d, size_t n, uint8_t mode)
{
	int stop = mode >> 7;
	struct hello_parser *a = hello_parser_new(stop), *b = hello_parser_new(stop);
	struct server_flight fa, fb;
	uint32_t x = (uint32_t)mode * 2654435761u | 1u;
	size_t off = 0, k;
	int sa, sb;

	if (!a || !b)
		goto out;
	sa = hello_parse(a, d, n, &fa);
	sb = hello_parse(b, NULL, 0, &fb);
	while (off < n) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		k = (mode & 0x40) ? 1 + x % 8 : 1 + x % 4096;
		if (k > n - off)
			k = n - off;
		sb = hello_parse(b, d + off, k, &fb);
		off += k;
	}
	CHECK(sa == sb);
	CHECK(sa >= HELLO_ERR_UNEXPECTED && sa <= HELLO_DONE);
	CHECK((sa == HELLO_DONE) == (fa.end != HELLO_END_NONE));
	check_flight(&fa, &fb);
	/* a reset parser gives the same answer again */
	hello_parser_reset(b, stop);
	sb = hello_parse(b, d, n, &fb);
	CHECK(sa == sb);
	check_flight(&fa, &fb);
	CHECK(hello_status_name(sa) != NULL && hello_end_name(fa.end) != NULL);
	CHECK(tls_alert_name(fa.alert_desc) != NULL);
	(void)tls_group_name(fa.key_share_group);
out:
	hello_parser_free(a);
	hello_parser_free(b);
}

/* Byte source for the builder options; runs out into zeros. */
struct src {
	const uint8_t *p;
	size_t n, off;
};

static unsigned take8(struct src *s)
{
	return s->off < s->n ? s->p[s->off++] : 0;
}

static unsigned take16(struct src *s)
{
	unsigned hi = take8(s);
	return hi << 8 | take8(s);
}

static void fuzz_build(const uint8_t *d, size_t n)
{
	static const uint16_t pool[] = { 29, 23, 30, 25, 24, 256, 257, 258, 259, 260, 0x11ec, 26, 0 };
	static uint16_t suites[9000], groups[40], shares[40], sigalgs[40], versions[130];
	static uint8_t comp[256], out[20000], parsed[20000];
	static char sni[300];
	uint8_t random[32], sid[40];
	struct src s = { d, n, 0 };
	struct hello_opts o;
	unsigned flags, cnt;
	uint32_t x;
	size_t cap;
	long r;

	memset(&o, 0, sizeof o);
	flags = take16(&s);
	o.record_version = (uint16_t)(flags & 1 ? take16(&s) : 0x0300 + take8(&s) % 5);
	o.hello_version = (uint16_t)(flags & 2 ? take16(&s) : 0x0300 + take8(&s) % 5);
	cnt = take16(&s) % 9000;
	x = cnt * 2654435761u | 1u;
	for (unsigned i = 0; i < cnt; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		suites[i] = (uint16_t)x;
	}
	o.suites = (flags & 4) ? NULL : suites;
	o.nsuites = cnt;
	if (flags & 8) {
		o.ncompression = take8(&s);
		for (size_t i = 0; i < o.ncompression; i++)
			comp[i] = (uint8_t)take8(&s);
		o.compression = comp;
	}
	if (flags & 16) {
		size_t len = take8(&s) + (flags & 0x8000 ? 255 : 0);
		size_t i;
		for (i = 0; i < len && i < sizeof sni - 1; i++)
			sni[i] = (char)take8(&s);
		sni[i] = '\0';
		o.sni = sni;
	}
	if (flags & 32) {
		o.ngroups = take8(&s) % 40;
		for (size_t i = 0; i < o.ngroups; i++)
			groups[i] = pool[take8(&s) % (sizeof pool / sizeof pool[0])];
		o.groups = groups;
	}
	o.ec_point_formats = !!(flags & 64);
	if (flags & 128) {
		o.nsigalgs = take8(&s) % 40;
		for (size_t i = 0; i < o.nsigalgs; i++)
			sigalgs[i] = (uint16_t)take16(&s);
		o.sigalgs = sigalgs;
	}
	if (flags & 256) {
		o.nversions = take8(&s) % 130;
		for (size_t i = 0; i < o.nversions; i++)
			versions[i] = (uint16_t)(0x0300 + take8(&s) % 6);
		o.versions = versions;
	}
	if (flags & 512) {
		o.key_share = 1;
		o.nkey_share = take8(&s) % 40;
		for (size_t i = 0; i < o.nkey_share; i++)
			shares[i] = pool[take8(&s) % (sizeof pool / sizeof pool[0] - 3)];
		o.key_share_groups = shares;
	}
	o.renegotiation_info = !!(flags & 1024);
	o.fallback_scsv = !!(flags & 2048);
	o.empty_reneg_scsv = !!(flags & 4096);
	o.extended_master_secret = !!(flags & 8192);
	if (flags & 16384) {
		for (int i = 0; i < 32; i++)
			random[i] = (uint8_t)take8(&s);
		o.random = random;
		o.session_id_len = take8(&s) % 40;
		for (size_t i = 0; i < o.session_id_len; i++)
			sid[i] = (uint8_t)take8(&s);
		o.session_id = sid;
	}
	cap = take8(&s) & 1 ? take16(&s) % sizeof out : sizeof out;

	r = hello_build(&o, out, cap);
	CHECK(r == -1 || (r > 9 && (size_t)r <= cap));
	if (r < 0)
		return;
	CHECK(out[0] == 22 && out[5] == 1);
	CHECK(((size_t)out[3] << 8 | out[4]) == (size_t)r - 5 && (size_t)r - 5 <= 16384);
	CHECK(((size_t)out[6] << 16 | (size_t)out[7] << 8 | out[8]) == (size_t)r - 9);
	CHECK(hello_build(&o, parsed, (size_t)r - 1) == -1);
	CHECK(hello_build(&o, parsed, sizeof parsed) == r);
	/* a ClientHello is not a server flight */
	{
		struct hello_parser *p = hello_parser_new(0);
		struct server_flight f;
		int st;
		if (p) {
			st = hello_parse(p, out, (size_t)r, &f);
			CHECK(st != HELLO_DONE || f.end == HELLO_END_ALERT);
			hello_parser_free(p);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fuzz_parse(data + 1, size - 1, data[0]);
	fuzz_build(data, size);
	return 0;
}
