/*
 * test_hello: the ClientHello builder checked structurally (a small
 * ClientHello walker parses every built hello back: lengths, extensions, key
 * shares, SCSV placement), and the server-flight parser fed hand-built flights
 * (TLS 1.2 full flight in one record and in many, TLS 1.3 ServerHello, HRR,
 * alerts, DHE, an SMTP reply, SSLv2, lying lengths). Every flight is parsed
 * whole, one byte at a time and split at every offset; the three must agree.
 *
 * With MXSCAN_WRITE_CORPUS=DIR set, the valid flights are also written there
 * as seeds for tests/fuzz/fuzz_hello.c (one leading split-seed byte, then the
 * flight; flights over 8 KiB are left out).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxscan/hello.h"
#include "tap.h"

/* ------------------------------------------------------------------------ */
/* ClientHello walker                                                       */

struct ch_ext {
	uint16_t type;
	const uint8_t *d;
	size_t len;
};

struct ch {
	uint16_t rec_version, hello_version;
	const uint8_t *random;
	size_t sid_len;
	const uint8_t *sid;
	size_t nsuites;
	const uint8_t *suites;
	size_t ncomp;
	const uint8_t *comp;
	int has_ext_block;
	size_t next;
	struct ch_ext ext[32];
};

static unsigned u16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static size_t u24(const uint8_t *p)
{
	return (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
}

/* Parse a built ClientHello record; returns 0, or the (negative) number of the
 * check that failed. */
static int walk_ch(const uint8_t *b, size_t n, struct ch *c)
{
	size_t off, end, elen;

	memset(c, 0, sizeof *c);
	if (n < 9 || b[0] != 22)
		return -1;
	c->rec_version = (uint16_t)u16(b + 1);
	if (u16(b + 3) != n - 5)
		return -2;
	if (b[5] != 1 || u24(b + 6) != n - 9)
		return -3;
	off = 9;
	end = n;
	if (end - off < 35)
		return -4;
	c->hello_version = (uint16_t)u16(b + off);
	c->random = b + off + 2;
	off += 34;
	c->sid_len = b[off++];
	if (c->sid_len > 32 || end - off < c->sid_len + 2)
		return -5;
	c->sid = b + off;
	off += c->sid_len;
	c->nsuites = u16(b + off);
	off += 2;
	if (c->nsuites % 2 || c->nsuites == 0 || end - off < c->nsuites + 1)
		return -6;
	c->suites = b + off;
	off += c->nsuites;
	c->nsuites /= 2;
	c->ncomp = b[off++];
	if (c->ncomp == 0 || end - off < c->ncomp)
		return -7;
	c->comp = b + off;
	off += c->ncomp;
	if (off == end)
		return 0;
	c->has_ext_block = 1;
	if (end - off < 2)
		return -8;
	elen = u16(b + off);
	off += 2;
	if (elen != end - off)
		return -9;
	while (off < end) {
		if (end - off < 4 || c->next == 32)
			return -10;
		struct ch_ext *e = &c->ext[c->next];
		e->type = (uint16_t)u16(b + off);
		e->len = u16(b + off + 2);
		off += 4;
		if (end - off < e->len)
			return -11;
		e->d = b + off;
		off += e->len;
		for (size_t i = 0; i < c->next; i++)
			if (c->ext[i].type == e->type)
				return -12;
		c->next++;
	}
	return 0;
}

static const struct ch_ext *ch_ext(const struct ch *c, uint16_t type)
{
	for (size_t i = 0; i < c->next; i++)
		if (c->ext[i].type == type)
			return &c->ext[i];
	return NULL;
}

static unsigned ch_suite(const struct ch *c, size_t i)
{
	return u16(c->suites + 2 * i);
}

/* A u16 list inside an extension with a `lenbytes` length prefix matches v[]. */
static int ext_list_is(const struct ch_ext *e, int lenbytes, const uint16_t *v, size_t n)
{
	size_t l;

	if (!e || e->len < (size_t)lenbytes)
		return 0;
	l = lenbytes == 1 ? e->d[0] : u16(e->d);
	if (l != e->len - (size_t)lenbytes || l != 2 * n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (u16(e->d + lenbytes + 2 * i) != v[i])
			return 0;
	return 1;
}

/* Key shares of a key_share extension: fills groups/values; -1 when lengths lie. */
static int walk_key_share(const struct ch_ext *e, uint16_t *groups, const uint8_t **vals, size_t *lens, size_t cap)
{
	size_t off = 2, n = 0;

	if (!e || e->len < 2 || u16(e->d) != e->len - 2)
		return -1;
	while (off < e->len) {
		if (e->len - off < 4 || n == cap)
			return -1;
		groups[n] = (uint16_t)u16(e->d + off);
		lens[n] = u16(e->d + off + 2);
		off += 4;
		if (e->len - off < lens[n])
			return -1;
		vals[n] = e->d + off;
		off += lens[n];
		n++;
	}
	return (int)n;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static uint8_t chbuf[20000];

static void test_build_tls12(void)
{
	static const uint16_t suites[] = { 0xc02f, 0xc030, 0x009e, 0x002f };
	uint8_t random[32];
	struct ch c;
	const struct ch_ext *e;
	long n;
	struct hello_opts o = {
		.record_version = TLS_TLS10,
		.hello_version = TLS_TLS12,
		.suites = suites,
		.nsuites = 4,
		.sni = "mx1.example.net.",
		.groups = hello_default_groups,
		.ngroups = hello_default_ngroups,
		.ec_point_formats = 1,
		.sigalgs = hello_default_sigalgs,
		.nsigalgs = hello_default_nsigalgs,
		.renegotiation_info = 1,
		.extended_master_secret = 1,
		.empty_reneg_scsv = 1,
		.random = random,
	};

	for (int i = 0; i < 32; i++)
		random[i] = (uint8_t)(0xa0 + i);
	n = hello_build(&o, chbuf, sizeof chbuf);
	ok(n > 0, "build TLS 1.2 hello: %ld bytes", n);
	is_int(walk_ch(chbuf, (size_t)n, &c), 0, "TLS 1.2 hello: record, handshake and extension lengths consistent");
	is_int(c.rec_version, TLS_TLS10, "record version 0x0301");
	is_int(c.hello_version, TLS_TLS12, "client_version 0x0303");
	ok(memcmp(c.random, random, 32) == 0, "given random used");
	is_int(c.sid_len, 0, "no TLS 1.3 offered: empty session id");
	is_int(c.nsuites, 5, "4 suites + 1 SCSV");
	ok(ch_suite(&c, 0) == 0xc02f && ch_suite(&c, 3) == 0x002f, "suites in the given order");
	is_int(ch_suite(&c, 4), 0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV last");
	ok(c.ncomp == 1 && c.comp[0] == 0, "default compression: null only");
	e = ch_ext(&c, 0);
	ok(e && e->len == 2 + 3 + 15 && u16(e->d) == 18 && e->d[2] == 0 && u16(e->d + 3) == 15 &&
		   memcmp(e->d + 5, "mx1.example.net", 15) == 0,
	   "server_name: host_name without the trailing dot");
	ok(ext_list_is(ch_ext(&c, 10), 2, hello_default_groups, hello_default_ngroups), "supported_groups = defaults");
	e = ch_ext(&c, 11);
	ok(e && e->len == 2 && e->d[0] == 1 && e->d[1] == 0, "ec_point_formats: uncompressed");
	ok(ext_list_is(ch_ext(&c, 13), 2, hello_default_sigalgs, hello_default_nsigalgs),
	   "signature_algorithms = defaults");
	e = ch_ext(&c, 0xff01);
	ok(e && e->len == 1 && e->d[0] == 0, "renegotiation_info: empty renegotiated_connection");
	e = ch_ext(&c, 23);
	ok(e && e->len == 0, "extended_master_secret: empty");
	ok(!ch_ext(&c, 43) && !ch_ext(&c, 51), "no supported_versions, no key_share");
	is_int(c.next, 6, "exactly the six requested extensions");
}

static void test_build_tls13(void)
{
	static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303, 0xc02f };
	static const uint16_t versions[] = { TLS_TLS13, TLS_TLS12 };
	static const uint8_t p256_prefix[] = { 0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47 };
	static const uint8_t p256_y_tail[] = { 0x68, 0x37, 0xbf, 0x51, 0xf5 };
	static const uint8_t p384_prefix[] = { 0x04, 0xaa, 0x87, 0xca, 0x22, 0xbe, 0x8b };
	static const uint8_t p384_tail[] = { 0x90, 0xea, 0x0e, 0x5f };
	static const uint8_t p521_prefix[] = { 0x04, 0x00, 0xc6, 0x85, 0x8e, 0x06, 0xb7 };
	static const uint8_t p521_tail[] = { 0x9f, 0xd1, 0x66, 0x50 };
	uint16_t groups[16];
	const uint8_t *vals[16];
	size_t lens[16];
	struct ch c;
	const struct ch_ext *e;
	struct hello_opts o = {
		.record_version = TLS_TLS10,
		.hello_version = TLS_TLS12,
		.suites = suites,
		.nsuites = 4,
		.sni = "mx.example.org",
		.groups = hello_default_groups,
		.ngroups = hello_default_ngroups,
		.sigalgs = hello_default_sigalgs,
		.nsigalgs = hello_default_nsigalgs,
		.versions = versions,
		.nversions = 2,
		.key_share = 1,
		.key_share_groups = hello_default_groups,
		.nkey_share = hello_default_ngroups,
	};
	long n = hello_build(&o, chbuf, sizeof chbuf);
	int k;

	ok(n > 0, "build TLS 1.3 hello with a share for all ten default groups: %ld bytes", n);
	is_int(walk_ch(chbuf, (size_t)n, &c), 0, "TLS 1.3 hello: lengths consistent");
	is_int(c.sid_len, 32, "TLS 1.3 offered: 32-byte session id (middlebox compatibility)");
	ok(!all_zero(c.sid, 32), "session id is random, not zeros");
	e = ch_ext(&c, 43);
	ok(ext_list_is(e, 1, versions, 2), "supported_versions = {0x0304, 0x0303}");
	k = walk_key_share(ch_ext(&c, 51), groups, vals, lens, 16);
	is_int(k, 10, "key_share: ten well-formed entries");
	if (k != 10)
		return;
	ok(groups[0] == 29 && lens[0] == 32 && vals[0][0] == 9 && all_zero(vals[0] + 1, 31),
	   "x25519 share = base point u=9, 32 bytes little-endian");
	ok(groups[1] == 23 && lens[1] == 65 && memcmp(vals[1], p256_prefix, sizeof p256_prefix) == 0 &&
		   memcmp(vals[1] + 60, p256_y_tail, 5) == 0,
	   "secp256r1 share = uncompressed generator (04 6b17d1f2...37bf51f5)");
	ok(groups[2] == 30 && lens[2] == 56 && vals[2][0] == 5 && all_zero(vals[2] + 1, 55),
	   "x448 share = base point u=5, 56 bytes");
	ok(groups[3] == 25 && lens[3] == 133 && memcmp(vals[3], p521_prefix, sizeof p521_prefix) == 0 &&
		   memcmp(vals[3] + 129, p521_tail, 4) == 0,
	   "secp521r1 share = uncompressed generator, 133 bytes");
	ok(groups[4] == 24 && lens[4] == 97 && memcmp(vals[4], p384_prefix, sizeof p384_prefix) == 0 &&
		   memcmp(vals[4] + 93, p384_tail, 4) == 0,
	   "secp384r1 share = uncompressed generator, 97 bytes");
	{
		static const size_t ff[] = { 256, 384, 512, 768, 1024 };
		int good = 1;
		for (int i = 0; i < 5; i++)
			good &= groups[5 + i] == 256 + i && lens[5 + i] == ff[i] && all_zero(vals[5 + i], ff[i] - 1) &&
				vals[5 + i][ff[i] - 1] == 2;
		ok(good, "ffdhe2048..8192 shares = g=2 left-padded to 256/384/512/768/1024 bytes");
	}
}

static void test_build_key_share_edge(void)
{
	static const uint16_t suites[] = { 0x1301 };
	static const uint16_t versions[] = { TLS_TLS13 };
	static const uint16_t bad_group[] = { GROUP_X25519MLKEM768 };
	static const uint8_t given_sid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	struct ch c;
	const struct ch_ext *e;
	struct hello_opts o = {
		.record_version = TLS_TLS12,
		.hello_version = TLS_TLS12,
		.suites = suites,
		.nsuites = 1,
		.versions = versions,
		.nversions = 1,
		.key_share = 1,
	};
	long n = hello_build(&o, chbuf, sizeof chbuf);

	is_int(walk_ch(chbuf, n > 0 ? (size_t)n : 0, &c), 0, "empty key_share hello builds and walks");
	e = ch_ext(&c, 51);
	ok(e && e->len == 2 && u16(e->d) == 0, "key_share present with an EMPTY client_shares list");
	is_int(c.sid_len, 32, "empty key_share hello still has a 32-byte session id");

	o.session_id = given_sid;
	o.session_id_len = sizeof given_sid;
	n = hello_build(&o, chbuf, sizeof chbuf);
	ok(n > 0 && walk_ch(chbuf, (size_t)n, &c) == 0 && c.sid_len == 16 && memcmp(c.sid, given_sid, 16) == 0,
	   "a given session id is used as is");
	o.session_id_len = 0;
	n = hello_build(&o, chbuf, sizeof chbuf);
	ok(n > 0 && walk_ch(chbuf, (size_t)n, &c) == 0 && c.sid_len == 0,
	   "a given empty session id stays empty even with TLS 1.3");
	o.session_id = NULL;

	o.key_share_groups = bad_group;
	o.nkey_share = 1;
	is_int(hello_build(&o, chbuf, sizeof chbuf), -1, "key share for a group without a built-in value -> -1");
}

static void test_build_scsv_and_legacy(void)
{
	static const uint16_t suites[] = { 0xc02f, 0x000a };
	static const uint16_t ssl3_suites[] = { 0x000a, 0x0005, 0x0004 };
	static const uint8_t comp[] = { 1, 0 };
	struct ch c;
	long n;
	struct hello_opts o = {
		.record_version = TLS_TLS10,
		.hello_version = TLS_TLS11,
		.suites = suites,
		.nsuites = 2,
		.fallback_scsv = 1,
		.empty_reneg_scsv = 1,
		.renegotiation_info = 1,
	};

	n = hello_build(&o, chbuf, sizeof chbuf);
	ok(n > 0 && walk_ch(chbuf, (size_t)n, &c) == 0, "SCSV hello builds and walks");
	ok(c.nsuites == 4 && ch_suite(&c, 0) == 0xc02f && ch_suite(&c, 1) == 0x000a && ch_suite(&c, 2) == 0x00ff &&
		   ch_suite(&c, 3) == 0x5600,
	   "SCSVs after every real suite: 00ff then 5600 (RFC 5746 3.3, RFC 7507 4)");
	o.empty_reneg_scsv = 0;
	n = hello_build(&o, chbuf, sizeof chbuf);
	ok(n > 0 && walk_ch(chbuf, (size_t)n, &c) == 0 && c.nsuites == 3 && ch_suite(&c, 2) == 0x5600,
	   "TLS_FALLBACK_SCSV alone is the last suite");
	o.suites = NULL;
	o.nsuites = 0;
	n = hello_build(&o, chbuf, sizeof chbuf);
	ok(n > 0 && walk_ch(chbuf, (size_t)n, &c) == 0 && c.nsuites == 1 && ch_suite(&c, 0) == 0x5600,
	   "no suites but an SCSV: a one-entry list");
	o.fallback_scsv = 0;
	is_int(hello_build(&o, chbuf, sizeof chbuf), -1, "no suites at all -> -1");

	struct hello_opts s3 = {
		.record_version = TLS_SSL3,
		.hello_version = TLS_SSL3,
		.suites = ssl3_suites,
		.nsuites = 3,
		.compression = comp,
		.ncompression = 2,
	};
	n = hello_build(&s3, chbuf, sizeof chbuf);
	ok(n > 0 && walk_ch(chbuf, (size_t)n, &c) == 0, "SSLv3 hello builds and walks");
	ok(c.rec_version == TLS_SSL3 && c.hello_version == TLS_SSL3, "SSLv3 record and client versions");
	ok(!c.has_ext_block, "no extension requested: no extensions block at all");
	ok(c.ncomp == 2 && c.comp[0] == 1 && c.comp[1] == 0, "compression methods {DEFLATE, null} as given");
	s3.compression = comp;
	s3.ncompression = 0;
	is_int(hello_build(&s3, chbuf, sizeof chbuf), -1, "empty compression list -> -1");
}

static void test_build_limits(void)
{
	static uint16_t many[40000];
	static uint8_t big[200000];
	struct ch c;
	long n, n2;
	uint8_t r1[32], r2[32];
	struct hello_opts o = {
		.record_version = TLS_TLS10,
		.hello_version = TLS_TLS12,
		.suites = many,
		.nsuites = 8000,
	};

	for (size_t i = 0; i < 40000; i++)
		many[i] = (uint16_t)(i + 1);
	n = hello_build(&o, big, sizeof big);
	ok(n > 0 && walk_ch(big, (size_t)n, &c) == 0 && c.nsuites == 8000, "8000 suites fit one record (%ld bytes)", n);
	is_int(hello_build(&o, big, (size_t)n), n, "exact capacity is enough");
	is_int(hello_build(&o, big, (size_t)n - 1), -1, "one byte short of capacity -> -1");
	is_int(hello_build(&o, NULL, 0), -1, "no output buffer -> -1");
	o.nsuites = 8180;
	is_int(hello_build(&o, big, sizeof big), -1, "8180 suites exceed 16384 bytes of record payload -> -1");
	o.nsuites = 40000;
	is_int(hello_build(&o, big, sizeof big), -1, "more than 32767 suites -> -1");
	o.nsuites = 4;
	o.sni = "192.0.2.7";
	n = hello_build(&o, big, sizeof big);
	ok(n > 0 && walk_ch(big, (size_t)n, &c) == 0 && !ch_ext(&c, 0) && !c.has_ext_block,
	   "IPv4 literal as SNI: server_name omitted (RFC 6066 3)");
	o.sni = "2001:db8::25";
	n = hello_build(&o, big, sizeof big);
	ok(n > 0 && walk_ch(big, (size_t)n, &c) == 0 && !ch_ext(&c, 0), "IPv6 literal as SNI: omitted");
	o.sni = "";
	n = hello_build(&o, big, sizeof big);
	ok(n > 0 && walk_ch(big, (size_t)n, &c) == 0 && !ch_ext(&c, 0), "empty SNI: omitted");
	o.sni = NULL;

	n = hello_build(&o, big, sizeof big);
	n2 = hello_build(&o, big + 1000, sizeof big - 1000);
	ok(n > 0 && n == n2, "two builds, same length");
	memcpy(r1, big + 11, 32);
	memcpy(r2, big + 1000 + 11, 32);
	ok(memcmp(r1, r2, 32) != 0, "no random given: each hello gets a fresh random");
}

/* ------------------------------------------------------------------------ */
/* Server flights, built by hand                                            */

struct bb {
	uint8_t b[160000];
	size_t n;
};

static void b_u8(struct bb *b, unsigned v)
{
	b->b[b->n++] = (uint8_t)v;
}

static void b_u16(struct bb *b, unsigned v)
{
	b_u8(b, v >> 8);
	b_u8(b, v);
}

static void b_u24(struct bb *b, size_t v)
{
	b_u8(b, (unsigned)(v >> 16));
	b_u8(b, (unsigned)(v >> 8));
	b_u8(b, (unsigned)v);
}

static void b_fill(struct bb *b, size_t n, uint8_t v)
{
	memset(b->b + b->n, v, n);
	b->n += n;
}

static void b_bytes(struct bb *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static size_t hs_begin(struct bb *b, unsigned type)
{
	b_u8(b, type);
	b_u24(b, 0);
	return b->n;
}

static void hs_end(struct bb *b, size_t body)
{
	size_t len = b->n - body;
	b->b[body - 3] = (uint8_t)(len >> 16);
	b->b[body - 2] = (uint8_t)(len >> 8);
	b->b[body - 1] = (uint8_t)len;
}

/* Wrap data into records of content type `ct` holding at most `maxrec` bytes. */
static void wrap(struct bb *out, unsigned ct, unsigned ver, const uint8_t *d, size_t n, size_t maxrec)
{
	while (n) {
		size_t k = n < maxrec ? n : maxrec;
		b_u8(out, ct);
		b_u16(out, ver);
		b_u16(out, (unsigned)k);
		b_bytes(out, d, k);
		d += k;
		n -= k;
	}
}

static const uint8_t hrr_magic[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* TLS 1.2 ServerHello: random 0x11.., session id 32 x 0x22, null compression,
 * renegotiation_info + extended_master_secret + ec_point_formats. */
static void m_server_hello12(struct bb *b, unsigned version, unsigned cipher)
{
	size_t body = hs_begin(b, 2), ext;

	b_u16(b, version);
	b_fill(b, 32, 0x11);
	b_u8(b, 32);
	b_fill(b, 32, 0x22);
	b_u16(b, cipher);
	b_u8(b, 0);
	b_u16(b, 0);
	ext = b->n;
	b_u16(b, 0xff01), b_u16(b, 1), b_u8(b, 0);
	b_u16(b, 23), b_u16(b, 0);
	b_u16(b, 11), b_u16(b, 2), b_u8(b, 1), b_u8(b, 0);
	b->b[ext - 2] = (uint8_t)((b->n - ext) >> 8);
	b->b[ext - 1] = (uint8_t)(b->n - ext);
	hs_end(b, body);
}

/* Certificate with n fake DER certificates of the given sizes, certificate i
 * filled with byte 0x40 + i after a 30 82 xx xx SEQUENCE header. */
static void m_certificate(struct bb *b, int n, const size_t *sizes)
{
	size_t body = hs_begin(b, 11), list = 0;

	for (int i = 0; i < n; i++)
		list += 3 + sizes[i];
	b_u24(b, list);
	for (int i = 0; i < n; i++) {
		b_u24(b, sizes[i]);
		b_u8(b, 0x30), b_u8(b, 0x82), b_u16(b, (unsigned)(sizes[i] - 4));
		b_fill(b, sizes[i] - 4, (uint8_t)(0x40 + i));
	}
	hs_end(b, body);
}

static void m_ske_ecdhe(struct bb *b, unsigned group)
{
	size_t body = hs_begin(b, 12);

	b_u8(b, 3);
	b_u16(b, group);
	b_u8(b, 65);
	b_u8(b, 4);
	b_fill(b, 64, 0x33);
	b_u16(b, 0x0401); /* rsa_pkcs1_sha256 */
	b_u16(b, 256);
	b_fill(b, 256, 0x44);
	hs_end(b, body);
}

/* DHE ServerKeyExchange with a p of pbytes bytes whose first byte is `top`,
 * preceded by `zeros` leading zero bytes. */
static void m_ske_dhe(struct bb *b, size_t pbytes, uint8_t top, size_t zeros)
{
	size_t body = hs_begin(b, 12);

	b_u16(b, (unsigned)(zeros + pbytes));
	b_fill(b, zeros, 0);
	b_u8(b, top);
	b_fill(b, pbytes - 1, 0xff);
	b_u16(b, 1), b_u8(b, 2);
	b_u16(b, (unsigned)pbytes);
	b_fill(b, pbytes, 0x55);
	b_u16(b, 0x0401);
	b_u16(b, 256);
	b_fill(b, 256, 0x44);
	hs_end(b, body);
}

static void m_done(struct bb *b)
{
	hs_end(b, hs_begin(b, 14));
}

static void m_server_hello13(struct bb *b)
{
	size_t body = hs_begin(b, 2);

	b_u16(b, 0x0303);
	b_fill(b, 32, 0x77);
	b_u8(b, 32);
	b_fill(b, 32, 0x22);
	b_u16(b, 0x1301);
	b_u8(b, 0);
	b_u16(b, 6 + 40);
	b_u16(b, 43), b_u16(b, 2), b_u16(b, 0x0304);
	b_u16(b, 51), b_u16(b, 36), b_u16(b, 29), b_u16(b, 32);
	b_fill(b, 32, 0x99);
	hs_end(b, body);
}

static void m_hrr(struct bb *b)
{
	size_t body = hs_begin(b, 2);

	b_u16(b, 0x0303);
	b_bytes(b, hrr_magic, 32);
	b_u8(b, 32);
	b_fill(b, 32, 0x22);
	b_u16(b, 0x1302);
	b_u8(b, 0);
	b_u16(b, 6 + 6);
	b_u16(b, 43), b_u16(b, 2), b_u16(b, 0x0304);
	b_u16(b, 51), b_u16(b, 2), b_u16(b, 23);
	hs_end(b, body);
}

/* ------------------------------------------------------------------------ */
/* Feeding: whole, byte at a time, split at every offset                    */

static const char *flight_diff(const struct server_flight *a, const struct server_flight *b)
{
#define SAME(f)                    \
	do {                       \
		if (a->f != b->f)  \
			return #f; \
	} while (0)
	SAME(end);
	SAME(got_server_hello);
	SAME(is_hrr);
	SAME(record_version);
	SAME(legacy_version);
	SAME(version);
	SAME(cipher);
	SAME(compression);
	SAME(key_share_group);
	SAME(has_reneg_info);
	SAME(has_ems);
	SAME(session_id_len);
	SAME(got_alert);
	SAME(alert_level);
	SAME(alert_desc);
	SAME(ncerts);
	SAME(certs_total);
	SAME(got_ske);
	SAME(ske_group);
	SAME(dh_bits);
	SAME(got_server_hello_done);
#undef SAME
	for (int i = 0; i < a->ncerts && i < HELLO_MAX_CERTS; i++)
		if (a->cert_len[i] != b->cert_len[i] || memcmp(a->cert[i], b->cert[i], a->cert_len[i]))
			return "cert";
	if (strcmp(a->not_tls, b->not_tls))
		return "not_tls";
	return NULL;
}

static const char *corpus_dir;
static int corpus_n;

static void write_seed(const char *name, const uint8_t *b, size_t n, int stop)
{
	char path[512], base[128];
	FILE *fp;
	uint8_t seed = stop ? 0x80 : 0x00;
	size_t i;

	if (!corpus_dir || n > 8192) /* big seeds slow every fuzz iteration down */
		return;
	for (i = 0; name[i] && i < sizeof base - 1; i++)
		base[i] = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
					  (name[i] >= '0' && name[i] <= '9')
				  ? name[i]
				  : '-';
	base[i] = '\0';
	snprintf(path, sizeof path, "%s/%02d-%s.bin", corpus_dir, corpus_n++, base);
	fp = fopen(path, "wb");
	if (!fp)
		return;
	fwrite(&seed, 1, 1, fp);
	fwrite(b, 1, n, fp);
	fclose(fp);
}

/* Parse b whole with a new parser (returned, so the caller can inspect *f
 * whose certificates point into it), then byte at a time and split at every
 * offset (every `stride`-th for the very large error cases), asserting all
 * results identical. */
static struct hello_parser *check(const char *name, const uint8_t *b, size_t n, int stop, int want, size_t stride,
				  struct server_flight *f)
{
	struct hello_parser *p = hello_parser_new(stop), *q = hello_parser_new(stop);
	struct server_flight g;
	const char *d = NULL;
	size_t bad_cut = 0;
	int st, st2;

	st = hello_parse(p, b, n, f);
	is_int(st, want, "%s: whole -> %s (got %s)", name, hello_status_name(want), hello_status_name(st));
	st2 = hello_parse(q, NULL, 0, &g);
	for (size_t i = 0; i < n; i++)
		st2 = hello_parse(q, b + i, 1, &g);
	d = st2 != st ? "status" : flight_diff(f, &g);
	ok(!d, "%s: one byte at a time gives the same result%s%s", name, d ? ": differs in " : "", d ? d : "");
	d = NULL;
	for (size_t cut = 0; cut <= n && !d; cut += stride) {
		hello_parser_reset(q, stop);
		hello_parse(q, b, cut, &g);
		st2 = hello_parse(q, b + cut, n - cut, &g);
		d = st2 != st ? "status" : flight_diff(f, &g);
		bad_cut = cut;
	}
	ok(!d, "%s: split in two at every %soffset gives the same result%s%s (cut %zu)", name,
	   stride > 1 ? "stride " : "", d ? ": differs in " : "", d ? d : "", d ? bad_cut : n);
	hello_parser_free(q);
	if (want == HELLO_DONE)
		write_seed(name, b, n, stop);
	return p;
}

static struct bb fl, msgs;

static const size_t two_certs[] = { 1200, 900 };

static void build_tls12_messages(unsigned cipher)
{
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, cipher);
	m_certificate(&msgs, 2, two_certs);
	m_ske_ecdhe(&msgs, 23);
	m_done(&msgs);
}

static void expect_tls12(const struct server_flight *f, const char *name)
{
	is_int(f->end, HELLO_END_SERVER_HELLO_DONE, "%s: ends with ServerHelloDone", name);
	ok(f->got_server_hello && !f->is_hrr && f->version == 0x0303 && f->legacy_version == 0x0303 &&
		   f->record_version == 0x0303,
	   "%s: TLS 1.2 ServerHello", name);
	ok(f->cipher == 0xc02f && f->compression == 0 && f->session_id_len == 32, "%s: cipher c02f, null compression",
	   name);
	ok(f->has_reneg_info && f->has_ems, "%s: renegotiation_info and extended_master_secret seen", name);
	ok(f->ncerts == 2 && f->certs_total == 2 && f->cert_len[0] == 1200 && f->cert_len[1] == 900 &&
		   f->cert[0][0] == 0x30 && f->cert[0][4] == 0x40 && f->cert[1][899] == 0x41,
	   "%s: two DER certificates copied intact", name);
	ok(f->got_ske && f->ske_group == 23 && f->dh_bits == 0, "%s: ECDHE SKE on secp256r1", name);
	ok(f->got_server_hello_done && !f->got_alert, "%s: ServerHelloDone, no alert", name);
}

static void test_tls12_flights(void)
{
	struct server_flight f;
	struct hello_parser *p;

	build_tls12_messages(0xc02f);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("tls12 one record", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	expect_tls12(&f, "tls12 one record");
	hello_parser_free(p);

	/* one record per message */
	fl.n = 0;
	{
		struct bb *one = malloc(sizeof *one);
		one->n = 0;
		m_server_hello12(one, 0x0303, 0xc02f);
		wrap(&fl, 22, 0x0303, one->b, one->n, 16384);
		one->n = 0;
		m_certificate(one, 2, two_certs);
		wrap(&fl, 22, 0x0303, one->b, one->n, 16384);
		one->n = 0;
		m_ske_ecdhe(one, 23);
		wrap(&fl, 22, 0x0303, one->b, one->n, 16384);
		one->n = 0;
		m_done(one);
		wrap(&fl, 22, 0x0303, one->b, one->n, 16384);
		free(one);
	}
	p = check("tls12 record per message", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	expect_tls12(&f, "tls12 record per message");
	hello_parser_free(p);

	/* messages cut across records of 100 bytes, trailing garbage after DONE */
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 100);
	b_bytes(&fl, "garbage after the flight", 24);
	p = check("tls12 100-byte records + trailing bytes", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	expect_tls12(&f, "tls12 100-byte records");
	hello_parser_free(p);

	/* stop_after_server_hello */
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("tls12 stop after ServerHello", fl.b, fl.n, 1, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_SERVER_HELLO && f.cipher == 0xc02f && f.ncerts == 0 && !f.got_ske,
	   "stop_after_server_hello: ends at the ServerHello");
	hello_parser_free(p);

	/* RFC 6066 3: warning unrecognized_name, then the flight */
	fl.n = 0;
	b_bytes(&fl, "\x15\x03\x03\x00\x02\x01\x70", 7);
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("warning unrecognized_name then flight", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_SERVER_HELLO_DONE && f.got_alert && f.alert_level == 1 && f.alert_desc == 112 &&
		   f.ncerts == 2,
	   "warning unrecognized_name recorded, the flight parsed past it");
	hello_parser_free(p);

	/* SSLv3 ServerHello without extensions, static RSA: no SKE */
	msgs.n = 0;
	{
		size_t body = hs_begin(&msgs, 2);
		b_u16(&msgs, 0x0300);
		b_fill(&msgs, 32, 0x11);
		b_u8(&msgs, 0);
		b_u16(&msgs, 0x000a);
		b_u8(&msgs, 0);
		hs_end(&msgs, body);
	}
	m_certificate(&msgs, 1, two_certs);
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0300, msgs.b, msgs.n, 16384);
	p = check("sslv3 no extensions", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_SERVER_HELLO_DONE && f.version == 0x0300 && f.record_version == 0x0300 &&
		   f.cipher == 0x000a && f.session_id_len == 0 && !f.has_reneg_info && !f.got_ske && f.ncerts == 1,
	   "SSLv3 flight: no extensions, no SKE, one certificate");
	hello_parser_free(p);
}

static void test_tls13_flights(void)
{
	struct server_flight f;
	struct hello_parser *p;

	msgs.n = 0;
	m_server_hello13(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	b_bytes(&fl, "\x14\x03\x03\x00\x01\x01", 6);                  /* middlebox-compat CCS */
	b_bytes(&fl, "\x17\x03\x03\x00\x05\x01\x02\x03\x04\x05", 10); /* encrypted, ignored */
	p = check("tls13 server hello", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_SERVER_HELLO_13 && f.version == 0x0304 && f.legacy_version == 0x0303 &&
		   f.cipher == 0x1301 && f.key_share_group == 29 && !f.is_hrr,
	   "TLS 1.3 ServerHello: version from supported_versions, x25519 key share");
	hello_parser_free(p);

	msgs.n = 0;
	m_hrr(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	b_bytes(&fl, "\x14\x03\x03\x00\x01\x01", 6);
	p = check("hello retry request", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_HRR && f.is_hrr && f.version == 0x0304 && f.cipher == 0x1302 && f.key_share_group == 23,
	   "HRR detected by its random; selected_group secp256r1");
	hello_parser_free(p);

	/* a CCS before the ServerHello is ignored too */
	fl.n = 0;
	b_bytes(&fl, "\x14\x03\x03\x00\x01\x01", 6);
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 7);
	p = check("ccs then hrr in 7-byte records", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_HRR && f.key_share_group == 23, "CCS skipped, HRR reassembled from 7-byte records");
	hello_parser_free(p);
}

static void test_alerts(void)
{
	static const uint8_t a40[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
	static const uint8_t a70[] = { 0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46 };
	struct server_flight f;
	struct hello_parser *p;

	p = check("fatal alert 40", a40, sizeof a40, 0, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_ALERT && f.got_alert && f.alert_level == 2 && f.alert_desc == 40 && !f.got_server_hello &&
		   f.record_version == 0x0303,
	   "alert before any ServerHello: fatal handshake_failure");
	is_str(tls_alert_name(f.alert_desc), "handshake_failure", "alert 40 name");
	hello_parser_free(p);

	p = check("fatal alert 70", a70, sizeof a70, 0, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_ALERT && f.alert_level == 2 && f.alert_desc == 70 && f.record_version == 0x0301,
	   "fatal protocol_version in a TLS 1.0 record");
	is_str(tls_alert_name(f.alert_desc), "protocol_version", "alert 70 name");
	hello_parser_free(p);

	/* ServerHello, then an alert in the middle of the flight */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc02f);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	b_bytes(&fl, "\x15\x03\x03\x00\x02\x02\x50", 7);
	p = check("server hello then alert 80", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_ALERT && f.got_server_hello && f.cipher == 0xc02f && f.alert_desc == 80,
	   "alert after the ServerHello keeps the ServerHello fields");
	hello_parser_free(p);
}

static void test_kx_flights(void)
{
	struct server_flight f;
	struct hello_parser *p;
	static const size_t one_cert[] = { 700 };

	/* DHE_RSA_WITH_AES_128_GCM_SHA256 with a 1024-bit prime */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0x009e);
	m_certificate(&msgs, 1, one_cert);
	m_ske_dhe(&msgs, 128, 0xff, 0);
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("dhe 1024-bit prime", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_SERVER_HELLO_DONE && f.got_ske && f.dh_bits == 1024 && f.ske_group == 0,
	   "DHE SKE: dh_bits 1024");
	hello_parser_free(p);

	/* DHE_RSA_WITH_3DES (TLS 1.0) with a 0-padded 1023-bit prime: bits are counted */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0301, 0x0016);
	m_ske_dhe(&msgs, 128, 0x7f, 1);
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0301, msgs.b, msgs.n, 16384);
	p = check("dhe padded 1023-bit prime", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.got_ske && f.dh_bits == 1023 && f.version == 0x0301, "leading zero byte skipped, top bit counted: 1023");
	hello_parser_free(p);

	/* ECDHE_PSK_WITH_CHACHA20_POLY1305: psk_identity_hint before the curve */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xccac);
	{
		size_t body = hs_begin(&msgs, 12);
		b_u16(&msgs, 4);
		b_bytes(&msgs, "hint", 4);
		b_u8(&msgs, 3);
		b_u16(&msgs, 29);
		b_u8(&msgs, 32);
		b_fill(&msgs, 32, 0x66);
		hs_end(&msgs, body);
	}
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("ecdhe_psk ske", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.got_ske && f.ske_group == 29, "ECDHE_PSK SKE: hint skipped, x25519");
	hello_parser_free(p);

	/* unknown suite: the 03 00 xx heuristic names the curve */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xfefe);
	m_ske_ecdhe(&msgs, 24);
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("unknown suite ecdhe-looking ske", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.got_ske && f.ske_group == 24, "unknown suite, SKE starting 03 00 18: secp384r1 by heuristic");
	hello_parser_free(p);

	/* unknown suite, SKE that is not ECDHE-shaped: skipped, not an error */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0x0062); /* RSA_EXPORT1024: temporary RSA key */
	{
		size_t body = hs_begin(&msgs, 12);
		b_u16(&msgs, 64);
		b_fill(&msgs, 64, 0xc1);
		b_u16(&msgs, 3);
		b_bytes(&msgs, "\x01\x00\x01", 3);
		hs_end(&msgs, body);
	}
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("unclassified ske", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_SERVER_HELLO_DONE && f.got_ske && f.ske_group == 0 && f.dh_bits == 0,
	   "unclassifiable SKE skipped");
	hello_parser_free(p);

	/* ECDH_anon: no Certificate, SKE with a named curve */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc018);
	m_ske_ecdhe(&msgs, 25);
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("ecdh_anon ske", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.ncerts == 0 && f.got_ske && f.ske_group == 25, "ECDH_anon: no certificate, secp521r1");
	hello_parser_free(p);
}

/* What MTAs really send: OCSP staple and a CertificateRequest (client
 * certificates are often requested on port 25), a HelloRequest to ignore. */
static void test_full_flight_variants(void)
{
	struct server_flight f;
	struct hello_parser *p;
	size_t body;

	msgs.n = 0;
	hs_end(&msgs, hs_begin(&msgs, 0)); /* HelloRequest: ignored (RFC 5246 7.4.1.1) */
	m_server_hello12(&msgs, 0x0303, 0xc030);
	m_certificate(&msgs, 2, two_certs);
	body = hs_begin(&msgs, 22); /* CertificateStatus, ocsp */
	b_u8(&msgs, 1);
	b_u24(&msgs, 5);
	b_fill(&msgs, 5, 0x30);
	hs_end(&msgs, body);
	m_ske_ecdhe(&msgs, 29);
	body = hs_begin(&msgs, 13); /* CertificateRequest */
	b_u8(&msgs, 1), b_u8(&msgs, 1);
	b_u16(&msgs, 2), b_u16(&msgs, 0x0401);
	b_u16(&msgs, 0);
	hs_end(&msgs, body);
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("flight with status and certificate request", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.end == HELLO_END_SERVER_HELLO_DONE && f.cipher == 0xc030 && f.ncerts == 2 && f.ske_group == 29,
	   "CertificateStatus and CertificateRequest accepted in order");
	hello_parser_free(p);

	/* explicit prime curve in the SKE: recorded as arbitrary_explicit_prime_curves */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc013);
	body = hs_begin(&msgs, 12);
	b_u8(&msgs, 1);
	b_fill(&msgs, 40, 0x5a);
	hs_end(&msgs, body);
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("explicit curve ske", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.got_ske && f.ske_group == 0xff01, "explicit prime curve -> 0xff01");
	is_str(tls_group_name(f.ske_group), "arbitrary_explicit_prime_curves", "its name");
	hello_parser_free(p);

	/* a 9000-byte DH prime (72000 bits) saturates dh_bits */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0x0039);
	m_ske_dhe(&msgs, 9000, 0x80, 0);
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("dhe 72000-bit prime", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	is_int(f.dh_bits, 65535, "dh_bits saturates at 65535");
	hello_parser_free(p);

	/* NewSessionTicket in the first flight */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc02f);
	body = hs_begin(&msgs, 4);
	b_fill(&msgs, 10, 0);
	hs_end(&msgs, body);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("session ticket in first flight", fl.b, fl.n, 0, HELLO_ERR_UNEXPECTED, 1, &f));

	/* HelloRequest with a body */
	fl.n = 0;
	b_bytes(&fl, "\x16\x03\x03\x00\x05\x00\x00\x00\x01\x00", 10);
	hello_parser_free(check("hello request with a body", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* duplicate supported_versions in a ServerHello */
	msgs.n = 0;
	body = hs_begin(&msgs, 2);
	b_u16(&msgs, 0x0303);
	b_fill(&msgs, 32, 0x77);
	b_u8(&msgs, 0);
	b_u16(&msgs, 0x1301);
	b_u8(&msgs, 0);
	b_u16(&msgs, 12);
	b_u16(&msgs, 43), b_u16(&msgs, 2), b_u16(&msgs, 0x0304);
	b_u16(&msgs, 43), b_u16(&msgs, 2), b_u16(&msgs, 0x0304);
	hs_end(&msgs, body);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("duplicate extension", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* HRR whose selected_group is 3 bytes */
	msgs.n = 0;
	m_hrr(&msgs);
	msgs.b[msgs.n - 3] = 3; /* key_share extension length 2 -> 3 */
	b_u8(&msgs, 0);
	msgs.b[3]++;                           /* handshake length */
	msgs.b[4 + 2 + 32 + 1 + 32 + 3 + 1]++; /* extensions length */
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("hrr selected_group length 3", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* renegotiation_info whose inner length lies */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc02f);
	msgs.b[4 + 2 + 32 + 1 + 32 + 3 + 2 + 4] = 5; /* renegotiated_connection length */
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("renegotiation_info length lies", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));
}

static void test_cert_caps(void)
{
	static size_t sizes[20];
	struct server_flight f;
	struct hello_parser *p;
	size_t big[4] = { 17000, 17000, 17000, 17000 };

	for (int i = 0; i < 20; i++)
		sizes[i] = 100 + (size_t)i;
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0x002f);
	m_certificate(&msgs, 20, sizes);
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("20 certificates", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.ncerts == HELLO_MAX_CERTS && f.certs_total == 20 && f.cert_len[15] == 115 && f.cert[15][4] == 0x40 + 15,
	   "20 certificates: first 16 kept, 20 counted");
	hello_parser_free(p);

	/* 4 x 17000 bytes > HELLO_MAX_CERT_BYTES: keeps 3; the chain spans 5 records */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0x002f);
	m_certificate(&msgs, 4, big);
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	p = check("certificates over the byte cap", fl.b, fl.n, 0, HELLO_DONE, 1, &f);
	ok(f.ncerts == 3 && f.certs_total == 4 && f.cert_len[2] == 17000 && f.cert[2][16999] == 0x42,
	   "68000 bytes of certificates: 3 kept (<= 65536 bytes), 4 counted");
	hello_parser_free(p);
}

static void test_not_tls(void)
{
	static const char smtp[] = "454 4.7.0 TLS not available due to local problem\r\n";
	static const uint8_t sslv2[] = { 0x80, 0x2e, 0x04, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00 };
	static const uint8_t highbit[] = { 0x85, 0x00, 0x09, 'x' };
	struct server_flight f;
	struct hello_parser *p;

	p = check("smtp 454", (const uint8_t *)smtp, sizeof smtp - 1, 0, HELLO_ERR_NOT_TLS, 1, &f);
	is_str(f.not_tls, "454 4.7.0 TLS not available due to local problem..", "SMTP reply kept, CRLF as dots");
	hello_parser_free(p);

	p = check("sslv2 server hello", sslv2, sizeof sslv2, 0, HELLO_ERR_NOT_TLS, 1, &f);
	is_str(f.not_tls, "SSLv2", "SSLv2 ServerHello recognised");
	hello_parser_free(p);

	p = check("high bit, not sslv2", highbit, sizeof highbit, 0, HELLO_ERR_NOT_TLS, 1, &f);
	is_str(f.not_tls, "...x", "binary bytes shown as dots");
	hello_parser_free(p);

	p = check("record with major version 2", (const uint8_t *)"\x16\x02\x00\x00\x05", 5, 0, HELLO_ERR_NOT_TLS, 1,
		  &f);
	is_str(f.not_tls, ".....", "content type ok but major version 2: not TLS");
	hello_parser_free(p);

	/* a long reply is cut at 63 characters */
	memset(fl.b, 'A', 200);
	p = check("long garbage", fl.b, 200, 0, HELLO_ERR_NOT_TLS, 1, &f);
	is_int(strlen(f.not_tls), 63, "not_tls capped at 63 characters");
	hello_parser_free(p);
}

static void test_errors(void)
{
	struct server_flight f;
	struct hello_parser *p;
	int st;

	/* record claims 16384 bytes, 100 arrive: wait */
	fl.n = 0;
	b_bytes(&fl, "\x16\x03\x03\x40\x00\x02\x00\x3f\xfc", 9);
	b_fill(&fl, 96, 0x02);
	hello_parser_free(check("record longer than data", fl.b, fl.n, 0, HELLO_NEED_MORE, 1, &f));

	fl.n = 0;
	b_bytes(&fl, "\x16\x03\x03\x48\x01", 5);
	hello_parser_free(check("record length 18433", fl.b, fl.n, 0, HELLO_ERR_TOO_BIG, 1, &f));

	fl.n = 0;
	b_bytes(&fl, "\x16\x03\x03\x00\x00", 5);
	hello_parser_free(check("zero-length handshake record", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	fl.n = 0;
	b_bytes(&fl, "\x17\x03\x03\x00\x02\x00\x00", 7);
	hello_parser_free(check("application data first", fl.b, fl.n, 0, HELLO_ERR_UNEXPECTED, 1, &f));

	fl.n = 0;
	b_bytes(&fl, "\x15\x03\x03\x00\x03\x02\x28\x00", 8);
	hello_parser_free(check("alert record of odd length", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* handshake message claims 1000 bytes, its record has 50, then a CCS */
	fl.n = 0;
	b_bytes(&fl, "\x16\x03\x03\x00\x32\x02\x00\x03\xe8", 9);
	b_fill(&fl, 46, 0x03);
	b_bytes(&fl, "\x14\x03\x03\x00\x01\x01", 6);
	hello_parser_free(
		check("handshake longer than its records, then ccs", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* same, but the stream just stops: wait */
	fl.n -= 6;
	hello_parser_free(check("handshake longer than its records", fl.b, fl.n, 0, HELLO_NEED_MORE, 1, &f));

	/* handshake message length over 2^17 */
	fl.n = 0;
	b_bytes(&fl, "\x16\x03\x03\x00\x04\x0b\x02\x00\x01", 9);
	hello_parser_free(check("handshake length 2^17+1", fl.b, fl.n, 0, HELLO_ERR_TOO_BIG, 1, &f));

	/* a 2^17-byte Certificate streamed in full records: the flight cap trips */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0x002f);
	b_u8(&msgs, 11);
	b_u24(&msgs, 1u << 17);
	b_fill(&msgs, 1u << 17, 0);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("flight over HELLO_MAX_FLIGHT", fl.b, fl.n, 0, HELLO_ERR_TOO_BIG, 4099, &f));

	/* ServerHello with a 33-byte session id */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc02f);
	msgs.b[4 + 2 + 32] = 33;
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("session id length 33", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* ServerHello extensions length one too long */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc02f);
	msgs.b[4 + 2 + 32 + 1 + 32 + 3 + 1]++;
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("extensions length lies", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* TLS 1.3 key_share whose key_exchange length lies */
	msgs.n = 0;
	m_server_hello13(&msgs);
	msgs.b[msgs.n - 33]++;
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("key_share length lies", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* truncated certificate list: list length says 2 certs, message holds 1.5 */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc02f);
	{
		size_t body = hs_begin(&msgs, 11);
		b_u24(&msgs, 3 + 500 + 3 + 500);
		b_u24(&msgs, 500);
		b_fill(&msgs, 500, 0x30);
		b_u24(&msgs, 500);
		b_fill(&msgs, 250, 0x30);
		hs_end(&msgs, body);
	}
	m_done(&msgs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("truncated certificate list", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* certificate length running past a consistent list length */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc02f);
	{
		size_t body = hs_begin(&msgs, 11);
		b_u24(&msgs, 3 + 200);
		b_u24(&msgs, 400);
		b_fill(&msgs, 200, 0x30);
		hs_end(&msgs, body);
	}
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("certificate longer than its list", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* DHE SKE whose dh_g length runs off the message */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0x0033);
	{
		size_t body = hs_begin(&msgs, 12);
		b_u16(&msgs, 64);
		b_fill(&msgs, 64, 0xff);
		b_u16(&msgs, 900);
		b_u8(&msgs, 2);
		hs_end(&msgs, body);
	}
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("dhe ske length lies", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* Certificate before ServerHello */
	msgs.n = 0;
	m_certificate(&msgs, 2, two_certs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("certificate before server hello", fl.b, fl.n, 0, HELLO_ERR_UNEXPECTED, 1, &f));

	/* SKE before Certificate */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc02f);
	m_ske_ecdhe(&msgs, 23);
	m_certificate(&msgs, 2, two_certs);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("ske before certificate", fl.b, fl.n, 0, HELLO_ERR_UNEXPECTED, 1, &f));

	/* ServerHelloDone with a body */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc02f);
	b_bytes(&msgs, "\x0e\x00\x00\x01\x00", 5);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	hello_parser_free(check("server hello done with a body", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* a second record with an invalid content type */
	msgs.n = 0;
	m_server_hello12(&msgs, 0x0303, 0xc02f);
	fl.n = 0;
	wrap(&fl, 22, 0x0303, msgs.b, msgs.n, 16384);
	b_bytes(&fl, "\x63\x03\x03\x00\x01\x00", 6);
	hello_parser_free(check("bad content type in second record", fl.b, fl.n, 0, HELLO_ERR_MALFORMED, 1, &f));

	/* errors are sticky */
	p = hello_parser_new(0);
	st = hello_parse(p, (const uint8_t *)"\x16\x03\x03\x00\x00", 5, &f);
	st = hello_parse(p, (const uint8_t *)"\x15\x03\x03\x00\x02\x02\x28", 7, &f);
	ok(st == HELLO_ERR_MALFORMED && !f.got_alert, "after an error, later bytes change nothing");
	hello_parser_reset(p, 0);
	st = hello_parse(p, (const uint8_t *)"\x15\x03\x03\x00\x02\x02\x28", 7, &f);
	ok(st == HELLO_DONE && f.alert_desc == 40, "reset parser parses a new flight");
	hello_parser_free(p);
}

static void test_names(void)
{
	is_str(hello_status_name(HELLO_NEED_MORE), "need_more", "status name need_more");
	is_str(hello_status_name(HELLO_ERR_NOT_TLS), "not_tls", "status name not_tls");
	is_str(hello_status_name(HELLO_ERR_UNEXPECTED), "unexpected", "status name unexpected");
	is_str(hello_status_name(42), "unknown", "status name out of range");
	is_str(hello_end_name(HELLO_END_HRR), "hello_retry_request", "end name hrr");
	is_str(hello_end_name(HELLO_END_SERVER_HELLO_DONE), "server_hello_done", "end name done");
	is_str(tls_alert_name(112), "unrecognized_name", "alert 112");
	is_str(tls_alert_name(86), "inappropriate_fallback", "alert 86");
	is_str(tls_alert_name(0), "close_notify", "alert 0");
	is_str(tls_alert_name(255), "unknown", "alert 255 unknown");
	is_str(tls_group_name(29), "x25519", "group 29");
	is_str(tls_group_name(23), "secp256r1", "group 23");
	is_str(tls_group_name(26), "brainpoolP256r1", "group 26");
	is_str(tls_group_name(259), "ffdhe6144", "group 259");
	is_str(tls_group_name(0x11ec), "X25519MLKEM768", "group 0x11ec");
	is_str(tls_group_name(0x1a1a), "GREASE", "GREASE group");
	ok(tls_group_name(999) == NULL && tls_group_name(0) == NULL, "unknown groups -> NULL");
	{
		static const uint16_t want[] = { 29, 23, 30, 25, 24, 256, 257, 258, 259, 260 };
		ok(hello_default_ngroups == 10 && memcmp(hello_default_groups, want, sizeof want) == 0,
		   "default groups in the documented order");
	}
	{
		int sha1 = 0, ecsha1 = 0, ed = 0, dsa = 0;
		for (size_t i = 0; i < hello_default_nsigalgs; i++) {
			sha1 |= hello_default_sigalgs[i] == 0x0201;
			ecsha1 |= hello_default_sigalgs[i] == 0x0203;
			ed |= hello_default_sigalgs[i] == 0x0807 || hello_default_sigalgs[i] == 0x0808;
			dsa |= hello_default_sigalgs[i] == 0x0202;
		}
		ok(sha1 && ecsha1 && ed && dsa && hello_default_sigalgs[0] == 0x0403,
		   "default sigalgs: broad (sha1, ecdsa_sha1, eddsa, dsa), ecdsa_secp256r1_sha256 first");
	}
}

int main(void)
{
	corpus_dir = getenv("MXSCAN_WRITE_CORPUS");
	test_build_tls12();
	test_build_tls13();
	test_build_key_share_edge();
	test_build_scsv_and_legacy();
	test_build_limits();
	test_tls12_flights();
	test_tls13_flights();
	test_alerts();
	test_kx_flights();
	test_full_flight_variants();
	test_cert_caps();
	test_not_tls();
	test_errors();
	test_names();
	{
		/* RFC 7685 padding: a 256..511-byte ClientHello becomes exactly 512, a short one is left alone */
		uint16_t many[120];
		uint8_t pb[4096];
		for (int k = 0; k < 120; k++)
			many[k] = (uint16_t)(0xc000 + k);
		struct hello_opts po = {
			.record_version = 0x0301, .hello_version = 0x0303, .suites = many, .nsuites = 120, .pad_to = 512
		};
		long pn = hello_build(&po, pb, sizeof pb);
		is_int(pn, 5 + 512, "hello of 256..511 bytes padded to 512");
		po.nsuites = 10;
		pn = hello_build(&po, pb, sizeof pb);
		ok(pn > 0 && pn - 5 < 256, "short hello not padded (%ld bytes)", pn);
		po.nsuites = 120;
		po.pad_to = 0;
		pn = hello_build(&po, pb, sizeof pb);
		ok(pn > 0 && pn - 5 < 512, "pad_to 0 never pads (%ld bytes)", pn);
	}
	return done_testing();
}
