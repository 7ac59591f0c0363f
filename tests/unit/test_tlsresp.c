/*
 * test_tlsresp: the fleet's TLS responder (tests/fleet/tlsresp.c), in memory.
 * ClientHellos are built by hand here (not with the scanner's hello.c), parsed
 * whole, byte by byte and split at every offset; decisions are checked against
 * what real servers do; built answers are parsed back record by record and
 * message by message, so every length field is checked.
 * Links tests/fleet/tlsresp.o and -lwolfssl.
 */
#include "fleet/tlsresp.h"
#include "tap.h"

#include <stdint.h>
#include <string.h>

/* ---- ClientHello builder ---------------------------------------------- */

struct chspec {
	uint16_t rec_ver, legacy;
	const uint16_t *suites;
	size_t nsuites;
	const uint16_t *versions; /* supported_versions (omitted when NULL) */
	size_t nversions;
	const uint16_t *groups; /* supported_groups (omitted when NULL) */
	size_t ngroups;
	const uint16_t *shares; /* key_share groups */
	size_t nshares;
	int key_share_ext; /* send key_share even when nshares == 0 */
	const char *sni;
	int sid_len;
	int reneg_ext;
	int no_ext;  /* SSLv3 style: no extensions block at all */
	size_t pad;  /* extra padding extension bytes (to make big hellos) */
	size_t frag; /* max record payload (0: 16384) */
};

static size_t w16(uint8_t *p, size_t at, unsigned v)
{
	p[at] = (uint8_t)(v >> 8);
	p[at + 1] = (uint8_t)v;
	return at + 2;
}

static size_t key_len(uint16_t g)
{
	return g == 29 ? 32 : g == 23 ? 65 : g == 24 ? 97 : 32;
}

/* Returns the hello's length on the wire (records included). */
static size_t mk_ch(const struct chspec *s, uint8_t *out, size_t cap)
{
	static uint8_t hs[70000];
	size_t n = 4, el, x, frag = s->frag ? s->frag : 16384, pos = 0;

	n = w16(hs, n, s->legacy);
	for (int i = 0; i < 32; i++)
		hs[n++] = (uint8_t)(0xA0 + i);
	hs[n++] = (uint8_t)s->sid_len;
	for (int i = 0; i < s->sid_len; i++)
		hs[n++] = (uint8_t)(0x50 + i);
	n = w16(hs, n, (unsigned)(2 * s->nsuites));
	for (size_t i = 0; i < s->nsuites; i++)
		n = w16(hs, n, s->suites[i]);
	hs[n++] = 1;
	hs[n++] = 0;
	if (!s->no_ext) {
		el = n;
		n += 2;
		if (s->sni) {
			size_t l = strlen(s->sni);
			n = w16(hs, n, 0);
			n = w16(hs, n, (unsigned)(l + 5));
			n = w16(hs, n, (unsigned)(l + 3));
			hs[n++] = 0;
			n = w16(hs, n, (unsigned)l);
			memcpy(hs + n, s->sni, l);
			n += l;
		}
		if (s->groups) {
			n = w16(hs, n, 0x000a);
			n = w16(hs, n, (unsigned)(2 + 2 * s->ngroups));
			n = w16(hs, n, (unsigned)(2 * s->ngroups));
			for (size_t i = 0; i < s->ngroups; i++)
				n = w16(hs, n, s->groups[i]);
			n = w16(hs, n, 0x000b); /* ec_point_formats: uncompressed */
			n = w16(hs, n, 2);
			hs[n++] = 1;
			hs[n++] = 0;
		}
		if (s->versions) {
			n = w16(hs, n, 0x002b);
			n = w16(hs, n, (unsigned)(1 + 2 * s->nversions));
			hs[n++] = (uint8_t)(2 * s->nversions);
			for (size_t i = 0; i < s->nversions; i++)
				n = w16(hs, n, s->versions[i]);
		}
		if (s->nshares || s->key_share_ext) {
			size_t tot = 0;
			for (size_t i = 0; i < s->nshares; i++)
				tot += 4 + key_len(s->shares[i]);
			n = w16(hs, n, 0x0033);
			n = w16(hs, n, (unsigned)(2 + tot));
			n = w16(hs, n, (unsigned)tot);
			for (size_t i = 0; i < s->nshares; i++) {
				n = w16(hs, n, s->shares[i]);
				n = w16(hs, n, (unsigned)key_len(s->shares[i]));
				memset(hs + n, 0x42, key_len(s->shares[i]));
				n += key_len(s->shares[i]);
			}
		}
		if (s->reneg_ext) {
			n = w16(hs, n, 0xff01);
			n = w16(hs, n, 1);
			hs[n++] = 0;
		}
		if (s->pad) {
			n = w16(hs, n, 0x0015);
			n = w16(hs, n, (unsigned)s->pad);
			memset(hs + n, 0, s->pad);
			n += s->pad;
		}
		w16(hs, el, (unsigned)(n - el - 2));
	}
	hs[0] = 1;
	hs[1] = (uint8_t)((n - 4) >> 16);
	hs[2] = (uint8_t)((n - 4) >> 8);
	hs[3] = (uint8_t)(n - 4);
	for (x = 0; x < n; x += frag) {
		size_t fl = n - x < frag ? n - x : frag;
		if (pos + 5 + fl > cap)
			return 0;
		out[pos] = 22;
		w16(out, pos + 1, s->rec_ver);
		w16(out, pos + 3, (unsigned)fl);
		memcpy(out + pos + 5, hs + x, fl);
		pos += 5 + fl;
	}
	return pos;
}

/* ---- answer parser (records, then handshake messages) ----------------- */

struct msg {
	uint8_t type;
	size_t len;
	const uint8_t *body;
};

struct answer {
	int ok; /* every length consistent */
	int nrec;
	uint8_t rtype[8]; /* content types of the first records */
	uint16_t rver[8];
	size_t rlen[8];
	uint8_t hs[70000]; /* handshake bytes of all handshake records, concatenated */
	size_t hslen;
	struct msg m[8];
	int nmsg;
	const uint8_t *rec_body[8];
};

static void parse_answer(const uint8_t *b, size_t n, struct answer *a)
{
	size_t pos = 0, h = 0;

	memset(a, 0, sizeof *a);
	a->ok = 1;
	while (pos < n) {
		size_t l;
		if (n - pos < 5) {
			a->ok = 0;
			return;
		}
		l = (size_t)b[pos + 3] << 8 | b[pos + 4];
		if (l > 16384 || n - pos - 5 < l) {
			a->ok = 0;
			return;
		}
		if (a->nrec < 8) {
			a->rtype[a->nrec] = b[pos];
			a->rver[a->nrec] = (uint16_t)(b[pos + 1] << 8 | b[pos + 2]);
			a->rlen[a->nrec] = l;
			a->rec_body[a->nrec] = b + pos + 5;
		}
		a->nrec++;
		if (b[pos] == 22) {
			memcpy(a->hs + a->hslen, b + pos + 5, l);
			a->hslen += l;
		}
		pos += 5 + l;
	}
	while (h < a->hslen) {
		size_t l;
		if (a->hslen - h < 4) {
			a->ok = 0;
			return;
		}
		l = (size_t)a->hs[h + 1] << 16 | (size_t)a->hs[h + 2] << 8 | a->hs[h + 3];
		if (a->hslen - h - 4 < l) {
			a->ok = 0;
			return;
		}
		if (a->nmsg < 8) {
			a->m[a->nmsg].type = a->hs[h];
			a->m[a->nmsg].len = l;
			a->m[a->nmsg].body = a->hs + h + 4;
		}
		a->nmsg++;
		h += 4 + l;
	}
}

static unsigned g16(const uint8_t *p)
{
	return (unsigned)(p[0] << 8 | p[1]);
}

struct sh {
	int ok;
	unsigned version, suite, comp;
	const uint8_t *random;
	size_t sid_len;
	const uint8_t *sid;
	int has_ext;
	unsigned sv;       /* supported_versions value, 0 if absent */
	unsigned ks_group; /* key_share group, 0 if absent */
	size_t ks_len;     /* key_share ext_data length */
	size_t ks_key_len;
	const uint8_t *ks_key;
	int reneg;
	int nexts;
};

static void parse_sh(const struct msg *m, struct sh *s)
{
	const uint8_t *b = m->body;
	size_t n = m->len, pos;

	memset(s, 0, sizeof *s);
	if (m->type != 2 || n < 38)
		return;
	s->version = g16(b);
	s->random = b + 2;
	s->sid_len = b[34];
	s->sid = b + 35;
	pos = 35 + s->sid_len;
	if (n < pos + 3)
		return;
	s->suite = g16(b + pos);
	s->comp = b[pos + 2];
	pos += 3;
	if (pos == n) {
		s->ok = 1;
		return;
	}
	s->has_ext = 1;
	if (n - pos < 2 || g16(b + pos) != n - pos - 2)
		return;
	pos += 2;
	while (pos < n) {
		unsigned t, l;
		if (n - pos < 4)
			return;
		t = g16(b + pos);
		l = g16(b + pos + 2);
		pos += 4;
		if (n - pos < l)
			return;
		s->nexts++;
		if (t == 0x002b && l == 2)
			s->sv = g16(b + pos);
		if (t == 0x0033) {
			s->ks_len = l;
			if (l >= 2)
				s->ks_group = g16(b + pos);
			if (l >= 4) {
				s->ks_key_len = g16(b + pos + 2);
				s->ks_key = b + pos + 4;
			}
		}
		if (t == 0xff01)
			s->reneg = 1;
		pos += l;
	}
	s->ok = 1;
}

/* ---- fixtures --------------------------------------------------------- */

static const uint16_t S_ECDHE_RSA_AES128_GCM = 0xC02F, S_ECDHE_RSA_AES256_GCM = 0xC030, S_DHE_RSA_AES128_SHA = 0x0033,
		      S_RSA_AES128_SHA = 0x002F, S_ADH_AES128_SHA = 0x0034, S_RSA_RC4_MD5 = 0x0004,
		      S_TLS13_AES128 = 0x1301, S_TLS13_AES256 = 0x1302, S_TLS13_CHACHA = 0x1303;

static uint8_t cert_a[1200], cert_b[900];

static void set_version(struct tls_personality *p, int v, const uint16_t *s, size_t n)
{
	memcpy(p->suites[v], s, n * sizeof *s);
	p->nsuites[v] = n;
}

static void base_personality(struct tls_personality *p)
{
	static const uint16_t groups[] = { 29, 23, 24 };
	memset(p, 0, sizeof *p);
	p->server_pref = 1;
	memcpy(p->groups, groups, sizeof groups);
	p->ngroups = 3;
	p->on_reject = TR_REJ_ALERT40;
	p->cert_der[0] = cert_a;
	p->cert_len[0] = sizeof cert_a;
	p->cert_der[1] = cert_b;
	p->cert_len[1] = sizeof cert_b;
	p->ncerts = 2;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint8_t wire[70000], ans[70000];
static struct answer A;

static int parse_whole(const struct chspec *s, struct client_hello *ch)
{
	size_t n = mk_ch(s, wire, sizeof wire), used = 0;
	return n && tlsresp_parse_ch(wire, n, ch, &used) == 1 && used == n;
}

/* ---- tests ------------------------------------------------------------ */

static void test_parse(void)
{
	static const uint16_t suites[] = { 0x1301, 0xC02F, 0x0033, 0x5600, 0x00FF };
	static const uint16_t versions[] = { 0x0a0a, 0x0304, 0x0303 };
	static const uint16_t groups[] = { 0x1a1a, 29, 23 };
	static const uint16_t shares[] = { 29 };
	struct chspec s = { .rec_ver = 0x0301,
			    .legacy = 0x0303,
			    .suites = suites,
			    .nsuites = N(suites),
			    .versions = versions,
			    .nversions = N(versions),
			    .groups = groups,
			    .ngroups = N(groups),
			    .shares = shares,
			    .nshares = N(shares),
			    .sni = "mx1.example.test",
			    .sid_len = 32 };
	struct client_hello ch, ch2;
	size_t n = mk_ch(&s, wire, sizeof wire), used = 0;
	int r, bad;

	r = tlsresp_parse_ch(wire, n, &ch, &used);
	is_int(r, 1, "parse: a TLS 1.3 hello parses");
	is_int(used, n, "parse: consumed is the whole hello");
	is_int(ch.record_version, 0x0301, "parse: record version");
	is_int(ch.legacy_version, 0x0303, "parse: legacy_version");
	is_int(ch.nsuites, 5, "parse: 5 suites");
	is_int(ch.suites[1], 0xC02F, "parse: suite order kept");
	ok(ch.has_fallback_scsv, "parse: TLS_FALLBACK_SCSV seen");
	ok(ch.has_reneg_info, "parse: 0x00FF counts as renegotiation_info");
	is_int(ch.nversions, 3, "parse: supported_versions count (GREASE kept)");
	is_int(ch.versions[1], 0x0304, "parse: supported_versions value");
	is_int(ch.ngroups, 3, "parse: supported_groups count");
	is_int(ch.groups[2], 23, "parse: supported_groups value");
	is_int(ch.nkey_shares, 1, "parse: one key share");
	is_int(ch.key_shares[0], 29, "parse: key share group");
	ok(ch.has_key_share_ext, "parse: key_share extension seen");
	is_str(ch.sni, "mx1.example.test", "parse: SNI");
	is_int(ch.session_id_len, 32, "parse: session id length");
	is_int(ch.session_id[31], 0x50 + 31, "parse: session id bytes");

	/* fed byte by byte: need-more until the last byte, then the same result */
	bad = 0;
	for (size_t k = 0; k < n; k++)
		if (tlsresp_parse_ch(wire, k, &ch2, &used) != 0)
			bad++;
	is_int(bad, 0, "parse: every proper prefix says need more");

	/* split at every offset: first part, then whole (re-parse of the buffer) */
	bad = 0;
	for (size_t k = 1; k < n; k++) {
		uint8_t tmp[4096];
		memcpy(tmp, wire, k);
		if (tlsresp_parse_ch(tmp, k, &ch2, &used) != 0)
			bad++;
		memcpy(tmp + k, wire + k, n - k);
		if (tlsresp_parse_ch(tmp, n, &ch2, &used) != 1 || used != n || memcmp(&ch, &ch2, sizeof ch) != 0)
			bad++;
	}
	is_int(bad, 0, "parse: split at every offset gives the same hello");

	/* trailing bytes (the client's next data) are not consumed */
	memcpy(wire + n, "\x17\x03\x03\x00\x01\x00", 6);
	r = tlsresp_parse_ch(wire, n + 6, &ch2, &used);
	ok(r == 1 && used == n && memcmp(&ch, &ch2, sizeof ch) == 0, "parse: bytes after the hello are left alone");

	/* the same hello fragmented over many records */
	for (size_t frag = 1; frag <= 97; frag += 12) {
		struct chspec f = s;
		f.frag = frag;
		n = mk_ch(&f, wire, sizeof wire);
		r = tlsresp_parse_ch(wire, n, &ch2, &used);
		bad = 0;
		for (size_t k = 0; k < n; k++)
			if (tlsresp_parse_ch(wire, k, &ch2, &used) != 0)
				bad++;
		r = tlsresp_parse_ch(wire, n, &ch2, &used);
		ok(r == 1 && used == n && memcmp(&ch, &ch2, sizeof ch) == 0 && bad == 0,
		   "parse: hello in %zu-byte fragments, every prefix need-more, same result", frag);
	}

	/* a dummy ChangeCipherSpec before a second ClientHello (RFC 8446 D.4) */
	n = mk_ch(&s, wire + 6, sizeof wire - 6);
	memcpy(wire, "\x14\x03\x03\x00\x01\x01", 6);
	r = tlsresp_parse_ch(wire, n + 6, &ch2, &used);
	ok(r == 1 && used == n + 6 && memcmp(&ch, &ch2, sizeof ch) == 0, "parse: leading ChangeCipherSpec skipped");

	/* SSLv3 hello without extensions */
	{
		static const uint16_t v3s[] = { 0x0004, 0x000A };
		struct chspec v3 = { .rec_ver = 0x0300, .legacy = 0x0300, .suites = v3s, .nsuites = 2, .no_ext = 1 };
		ok(parse_whole(&v3, &ch2) && ch2.legacy_version == 0x0300 && ch2.record_version == 0x0300 &&
			   ch2.nsuites == 2 && ch2.sni[0] == 0,
		   "parse: SSLv3 hello without extensions");
	}
	/* empty key share list is legal */
	{
		struct chspec e = s;
		e.shares = NULL, e.nshares = 0, e.key_share_ext = 1;
		ok(parse_whole(&e, &ch2) && ch2.has_key_share_ext && ch2.nkey_shares == 0,
		   "parse: empty key_share list");
	}
	/* the largest hello accepted: a body of exactly TR_CH_MAX, over two records */
	{
		struct chspec b = s;
		size_t body0 = mk_ch(&b, wire, sizeof wire) - 9;
		b.pad = TR_CH_MAX - body0 - 4;
		n = mk_ch(&b, wire, sizeof wire);
		r = tlsresp_parse_ch(wire, n, &ch2, &used);
		ok(r == 1 && used == n && n == 2 * 5 + 4 + TR_CH_MAX && g16(wire + 3) == 16384,
		   "parse: a hello of exactly TR_CH_MAX bytes spanning two records");
		b.pad++;
		n = mk_ch(&b, wire, sizeof wire);
		r = tlsresp_parse_ch(wire, n, &ch2, &used);
		is_int(r, -2, "parse: one byte more is -2");
	}
	/* malformed inputs */
	{
		static const uint8_t v2[] = { 0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10 };
		static const uint8_t notls[] = "EHLO x\r\n";
		static const uint8_t alert[] = { 0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28 };
		static const uint8_t sh[] = { 0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00 };
		static const uint8_t empty[] = { 0x16, 0x03, 0x01, 0x00, 0x00 };
		static const uint8_t big[] = { 0x16, 0x03, 0x01, 0x48, 0x01 };
		is_int(tlsresp_parse_ch(v2, sizeof v2, &ch2, &used), -1, "parse: SSLv2 hello is -1");
		is_int(tlsresp_parse_ch(v2, 1, &ch2, &used), -1, "parse: SSLv2 seen on the first byte");
		is_int(tlsresp_parse_ch(notls, 8, &ch2, &used), -1, "parse: plaintext is -1");
		is_int(tlsresp_parse_ch(alert, sizeof alert, &ch2, &used), -1, "parse: alert is -1");
		is_int(tlsresp_parse_ch(sh, sizeof sh, &ch2, &used), -1, "parse: not a ClientHello");
		is_int(tlsresp_parse_ch(empty, sizeof empty, &ch2, &used), -1, "parse: empty record");
		is_int(tlsresp_parse_ch(big, sizeof big, &ch2, &used), -2, "parse: record > 2^14");
	}
	{
		n = mk_ch(&s, wire, sizeof wire);
		/* extensions length one too large */
		size_t ext_at = 5 + 4 + 2 + 32 + 1 + 32 + 2 + 2 * N(suites) + 2;
		wire[ext_at + 1]++;
		is_int(tlsresp_parse_ch(wire, n, &ch2, &used), -1, "parse: bad extensions length");
		wire[ext_at + 1]--;
		/* session id length 33 */
		wire[5 + 4 + 34] = 33;
		is_int(tlsresp_parse_ch(wire, n, &ch2, &used), -1, "parse: session id > 32");
		wire[5 + 4 + 34] = 32;
		/* odd cipher_suites length */
		wire[5 + 4 + 35 + 32 + 1]++;
		is_int(tlsresp_parse_ch(wire, n, &ch2, &used), -1, "parse: odd suites length");
		wire[5 + 4 + 35 + 32 + 1]--;
		/* handshake shorter than its record */
		wire[5 + 3]--;
		is_int(tlsresp_parse_ch(wire, n, &ch2, &used), -1, "parse: junk after hello in record");
		wire[5 + 3]++;
		/* every truncation of the body, with consistent outer lengths, is -1 */
		bad = 0;
		for (size_t cut = 1; cut < n - 9; cut++) {
			uint8_t t[4096];
			size_t bl = n - 9 - cut;
			memcpy(t, wire, n - cut);
			w16(t, 3, (unsigned)(bl + 4));
			t[6] = (uint8_t)(bl >> 16), t[7] = (uint8_t)(bl >> 8), t[8] = (uint8_t)bl;
			r = tlsresp_parse_ch(t, n - cut, &ch2, &used);
			/* cutting exactly the whole extensions block leaves a valid hello */
			if (r != -1 && !(r == 1 && cut == n - (5 + 4 + 35 + 32 + 2 + 2 * N(suites) + 2)))
				bad++;
		}
		is_int(bad, 0, "parse: every truncated body is rejected");
	}
}

static void test_versions(void)
{
	static const uint16_t s10[] = { 0xC013, 0x002F };
	static const uint16_t s12[] = { 0xC02F, 0xC013, 0x002F };
	static const uint16_t csuites[] = { 0xC02F, 0xC013, 0x002F, 0x1301 };
	static const uint16_t groups[] = { 29, 23 };
	struct tls_personality p;
	struct client_hello ch;
	struct tls_decision d;
	struct chspec s = { .rec_ver = 0x0301,
			    .legacy = 0x0303,
			    .suites = csuites,
			    .nsuites = N(csuites),
			    .groups = groups,
			    .ngroups = N(groups) };

	/* TLS 1.0-only server, TLS 1.2 client */
	base_personality(&p);
	set_version(&p, 1, s10, N(s10));
	parse_whole(&s, &ch);
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_ACCEPT && d.version == 0x0301 && d.suite == 0xC013 && d.group == 29,
	   "decide: 1.0-only server answers a 1.2 hello with TLS 1.0 (ECDHE, x25519)");
	{
		long n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
		struct sh sh;
		parse_answer(ans, (size_t)n, &A);
		parse_sh(&A.m[0], &sh);
		ok(A.ok && A.rver[0] == 0x0301 && sh.ok && sh.version == 0x0301 && sh.suite == 0xC013,
		   "build: TLS 1.0 ServerHello in a TLS 1.0 record");
		ok(memcmp(sh.random + 24, "DOWNGRD", 7) != 0,
		   "build: no downgrade sentinel from a server whose best is 1.0");
	}

	/* TLS 1.2-only server, client max 1.0 */
	base_personality(&p);
	set_version(&p, 3, s12, N(s12));
	s.legacy = 0x0301;
	parse_whole(&s, &ch);
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_REJECT && d.alert == 70 && d.reject == TR_REJ_ALERT70,
	   "decide: 1.2-only server rejects a 1.0 hello with alert 70");
	{
		long n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
		static const uint8_t want[] = { 0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 70 };
		ok(n == 7 && memcmp(ans, want, 7) == 0, "build: fatal protocol_version alert record");
	}
	p.on_reject = TR_REJ_RESET;
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_REJECT && d.reject == TR_REJ_RESET, "decide: version reject uses a reset");
	is_int(tlsresp_build(&p, &ch, &d, ans, sizeof ans), 0, "build: a reset sends nothing");

	/* TLS 1.3 server: supported_versions wins over legacy_version */
	{
		static const uint16_t s13[] = { S_TLS13_AES256, S_TLS13_AES128 };
		static const uint16_t v13[] = { 0x0304, 0x0303 };
		static const uint16_t v12[] = { 0x0303 };
		static const uint16_t shares[] = { 29 };
		base_personality(&p);
		set_version(&p, 3, s12, N(s12));
		set_version(&p, 4, s13, N(s13));
		s.legacy = 0x0303, s.versions = v13, s.nversions = 2, s.shares = shares, s.nshares = 1;
		parse_whole(&s, &ch);
		tlsresp_decide(&p, &ch, &d);
		ok(d.kind == TR_ACCEPT && d.version == 0x0304 && d.suite == S_TLS13_AES128 && d.group == 29,
		   "decide: 1.2+1.3 server picks TLS 1.3 from supported_versions");
		s.versions = v12, s.nversions = 1;
		parse_whole(&s, &ch);
		tlsresp_decide(&p, &ch, &d);
		ok(d.kind == TR_ACCEPT && d.version == 0x0303 && d.suite == 0xC02F,
		   "decide: supported_versions {1.2} gives TLS 1.2");
		{
			long n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
			struct sh sh;
			parse_answer(ans, (size_t)n, &A);
			parse_sh(&A.m[0], &sh);
			ok(sh.ok && memcmp(sh.random + 24, "DOWNGRD\x01", 8) == 0,
			   "build: 1.3-capable server marks a 1.2 ServerHello with DOWNGRD\\x01");
		}
		s.versions = NULL, s.nversions = 0, s.legacy = 0x0304;
		parse_whole(&s, &ch);
		tlsresp_decide(&p, &ch, &d);
		ok(d.kind == TR_ACCEPT && d.version == 0x0303,
		   "decide: legacy_version 0x0304 without supported_versions gives TLS 1.2");
		/* 1.2-only server ignores supported_versions */
		p.nsuites[4] = 0;
		s.versions = v13, s.nversions = 2, s.legacy = 0x0303;
		parse_whole(&s, &ch);
		tlsresp_decide(&p, &ch, &d);
		ok(d.kind == TR_ACCEPT && d.version == 0x0303, "decide: 1.2-only server ignores supported_versions");
		/* 1.3-only server, hello without supported_versions */
		p.nsuites[3] = 0;
		set_version(&p, 4, s13, N(s13));
		s.versions = NULL, s.nversions = 0;
		parse_whole(&s, &ch);
		tlsresp_decide(&p, &ch, &d);
		ok(d.kind == TR_REJECT && d.alert == 70, "decide: 1.3-only server, 1.2 hello: alert 70");
	}
}

static void test_preference(void)
{
	static const uint16_t ours[] = { S_ECDHE_RSA_AES256_GCM, S_ECDHE_RSA_AES128_GCM, S_DHE_RSA_AES128_SHA };
	static const uint16_t theirs[] = { S_DHE_RSA_AES128_SHA, S_ECDHE_RSA_AES128_GCM, S_ECDHE_RSA_AES256_GCM };
	static const uint16_t cgroups[] = { 24, 23 };
	struct tls_personality p;
	struct client_hello ch;
	struct tls_decision d;
	struct chspec s = { .rec_ver = 0x0301,
			    .legacy = 0x0303,
			    .suites = theirs,
			    .nsuites = N(theirs),
			    .groups = cgroups,
			    .ngroups = N(cgroups) };

	base_personality(&p);
	set_version(&p, 3, ours, N(ours));
	parse_whole(&s, &ch);
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_ACCEPT && d.suite == S_ECDHE_RSA_AES256_GCM && d.group == 23,
	   "decide: server preference: our first suite, our first common group");
	p.server_pref = 0;
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_ACCEPT && d.suite == S_DHE_RSA_AES128_SHA && d.group == 0,
	   "decide: client preference: the client's first suite");
	{
		static const uint16_t ecfirst[] = { S_ECDHE_RSA_AES128_GCM, S_DHE_RSA_AES128_SHA };
		s.suites = ecfirst, s.nsuites = 2;
		parse_whole(&s, &ch);
		tlsresp_decide(&p, &ch, &d);
		ok(d.suite == S_ECDHE_RSA_AES128_GCM && d.group == 24,
		   "decide: client preference: the client's first common group");
	}
	/* no common curve: the ECDHE suites are skipped */
	{
		static const uint16_t only448[] = { 30 };
		p.server_pref = 1;
		s.suites = theirs, s.nsuites = N(theirs), s.groups = only448, s.ngroups = 1;
		parse_whole(&s, &ch);
		tlsresp_decide(&p, &ch, &d);
		ok(d.kind == TR_ACCEPT && d.suite == S_DHE_RSA_AES128_SHA,
		   "decide: ECDHE suites skipped without a common curve");
		/* no supported_groups at all: any curve (RFC 8422 §4) */
		s.groups = NULL, s.ngroups = 0;
		parse_whole(&s, &ch);
		tlsresp_decide(&p, &ch, &d);
		ok(d.kind == TR_ACCEPT && d.suite == S_ECDHE_RSA_AES256_GCM && d.group == 29,
		   "decide: no supported_groups: our first curve");
	}
	/* no common suite */
	{
		static const uint16_t rc4[] = { S_RSA_RC4_MD5 };
		s.suites = rc4, s.nsuites = 1;
		parse_whole(&s, &ch);
		tlsresp_decide(&p, &ch, &d);
		ok(d.kind == TR_REJECT && d.reject == TR_REJ_ALERT40 && d.alert == 40,
		   "decide: no common suite: alert 40");
		p.on_reject = TR_REJ_ALERT70;
		tlsresp_decide(&p, &ch, &d);
		ok(d.kind == TR_REJECT && d.alert == 70, "decide: no common suite, ALERT70 kind: 70");
		p.on_reject = TR_REJ_SILENCE;
		tlsresp_decide(&p, &ch, &d);
		ok(d.kind == TR_REJECT && d.reject == TR_REJ_SILENCE &&
			   tlsresp_build(&p, &ch, &d, ans, sizeof ans) == 0,
		   "decide: no common suite, silence: nothing sent");
		p.on_reject = TR_REJ_CLOSE;
		tlsresp_decide(&p, &ch, &d);
		ok(d.reject == TR_REJ_CLOSE, "decide: no common suite, close");
	}
}

static void test_tls13(void)
{
	static const uint16_t s13[] = { S_TLS13_AES256, S_TLS13_CHACHA, S_TLS13_AES128 };
	static const uint16_t csuites[] = { S_TLS13_AES128, S_TLS13_CHACHA, 0xC02F };
	static const uint16_t v13[] = { 0x0304 };
	static const uint16_t cgroups[] = { 23, 29 };
	static const uint16_t share23[] = { 23 };
	struct tls_personality p;
	struct client_hello ch;
	struct tls_decision d;
	struct sh sh;
	long n;
	struct chspec s = { .rec_ver = 0x0301,
			    .legacy = 0x0303,
			    .suites = csuites,
			    .nsuites = N(csuites),
			    .versions = v13,
			    .nversions = 1,
			    .groups = cgroups,
			    .ngroups = N(cgroups),
			    .key_share_ext = 1,
			    .sid_len = 32 };

	base_personality(&p);
	set_version(&p, 4, s13, N(s13));
	parse_whole(&s, &ch);
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_HRR && d.suite == S_TLS13_CHACHA && d.group == 29,
	   "decide: empty key share: HRR for our first common group (x25519), our first common suite");
	n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
	parse_answer(ans, (size_t)n, &A);
	parse_sh(&A.m[0], &sh);
	ok(A.ok && A.nrec == 2 && A.rtype[0] == 22 && A.rver[0] == 0x0303 && A.rtype[1] == 20 && A.nmsg == 1,
	   "build: HRR record + compatibility CCS");
	ok(sh.ok && sh.version == 0x0303 && sh.suite == S_TLS13_CHACHA && sh.sv == 0x0304 && sh.ks_len == 2 &&
		   sh.ks_group == 29,
	   "build: HRR has supported_versions 0x0304 and key_share with only the group");
	ok(sh.ok && sh.random[0] == 0xCF && sh.random[31] == 0x9C && sh.sid_len == 32 && sh.sid[0] == 0x50,
	   "build: HRR special random, session id echoed");

	/* a share for a group we like less is used rather than a round trip */
	s.shares = share23, s.nshares = 1;
	parse_whole(&s, &ch);
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_ACCEPT && d.version == 0x0304 && d.group == 23,
	   "decide: key share for secp256r1 accepted without HRR");
	n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
	parse_answer(ans, (size_t)n, &A);
	parse_sh(&A.m[0], &sh);
	ok(A.ok && A.nrec == 3 && A.rtype[1] == 20 && A.rlen[1] == 1 && A.rtype[2] == 23 && A.rlen[2] == 64 &&
		   A.nmsg == 1,
	   "build: TLS 1.3 ServerHello, CCS, one 64-byte application_data record");
	ok(sh.ok && sh.version == 0x0303 && sh.sv == 0x0304 && sh.ks_group == 23 && sh.ks_key_len == 65 &&
		   sh.ks_key[0] == 0x04 && sh.ks_len == 69,
	   "build: key_share with a 65-byte uncompressed P-256 point");

	/* client preference picks the client's suite */
	p.server_pref = 0;
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_ACCEPT && d.suite == S_TLS13_AES128, "decide: TLS 1.3 client preference");

	/* no session id: no CCS */
	s.sid_len = 0;
	parse_whole(&s, &ch);
	tlsresp_decide(&p, &ch, &d);
	n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
	parse_answer(ans, (size_t)n, &A);
	ok(A.ok && A.nrec == 2 && A.rtype[1] == 23, "build: no CCS when the session id is empty");

	/* no common group */
	{
		static const uint16_t g448[] = { 30 };
		s.groups = g448, s.ngroups = 1, s.shares = g448, s.nshares = 1;
		parse_whole(&s, &ch);
		tlsresp_decide(&p, &ch, &d);
		ok(d.kind == TR_REJECT && d.alert == 40, "decide: TLS 1.3 without a common group: 40");
	}
}

static void test_scsv(void)
{
	static const uint16_t s[] = { 0xC02F, 0xC013 };
	static const uint16_t cs[] = { 0xC013, 0x5600 };
	static const uint16_t g[] = { 23 };
	struct tls_personality p;
	struct client_hello ch;
	struct tls_decision d;
	struct chspec c = {
		.rec_ver = 0x0301, .legacy = 0x0301, .suites = cs, .nsuites = 2, .groups = g, .ngroups = 1
	};

	base_personality(&p);
	set_version(&p, 1, s + 1, 1);
	set_version(&p, 2, s + 1, 1);
	set_version(&p, 3, s, 2);
	p.honour_fallback_scsv = 1;
	parse_whole(&c, &ch);
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_REJECT && d.alert == 86, "decide: SCSV in a 1.0 hello to a 1.2 server: 86");
	{
		long n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
		ok(n == 7 && ans[0] == 21 && ans[1] == 3 && ans[2] == 1 && ans[5] == 2 && ans[6] == 86,
		   "build: inappropriate_fallback alert in a TLS 1.0 record");
	}
	p.honour_fallback_scsv = 0;
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_ACCEPT && d.version == 0x0301, "decide: SCSV ignored when not honoured");
	p.honour_fallback_scsv = 1;
	c.legacy = 0x0303;
	parse_whole(&c, &ch);
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_ACCEPT && d.version == 0x0303, "decide: SCSV at our best version is fine");
}

static void test_build12(void)
{
	static const uint16_t ours[] = { S_ECDHE_RSA_AES128_GCM, S_DHE_RSA_AES128_SHA, S_ADH_AES128_SHA,
					 S_RSA_AES128_SHA };
	static const uint16_t g[] = { 23 };
	struct tls_personality p;
	struct client_hello ch;
	struct tls_decision d;
	struct sh sh;
	long n;
	const struct msg *m;
	struct chspec c = { .rec_ver = 0x0301,
			    .legacy = 0x0303,
			    .suites = ours,
			    .nsuites = 1,
			    .groups = g,
			    .ngroups = 1,
			    .reneg_ext = 1,
			    .sid_len = 16 };

	for (size_t i = 0; i < sizeof cert_a; i++)
		cert_a[i] = (uint8_t)i;
	memset(cert_b, 0xBB, sizeof cert_b);
	base_personality(&p);
	set_version(&p, 3, ours, N(ours));

	/* ECDHE_RSA */
	parse_whole(&c, &ch);
	tlsresp_decide(&p, &ch, &d);
	n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
	parse_answer(ans, (size_t)n, &A);
	ok(n > 0 && A.ok && A.nrec == 1 && A.rtype[0] == 22 && A.rver[0] == 0x0303,
	   "build 1.2 ECDHE: one handshake record, lengths consistent");
	ok(A.nmsg == 4 && A.m[0].type == 2 && A.m[1].type == 11 && A.m[2].type == 12 && A.m[3].type == 14 &&
		   A.m[3].len == 0,
	   "build 1.2 ECDHE: ServerHello, Certificate, ServerKeyExchange, ServerHelloDone");
	parse_sh(&A.m[0], &sh);
	ok(sh.ok && sh.version == 0x0303 && sh.suite == 0xC02F && sh.comp == 0 && sh.reneg && sh.nexts == 2 &&
		   sh.sid_len == 32 && sh.sv == 0,
	   "build 1.2 ECDHE: ServerHello fields, renegotiation_info + ec_point_formats, fresh session id");
	m = &A.m[1];
	ok(m->len == 3 + 3 + sizeof cert_a + 3 + sizeof cert_b &&
		   (size_t)(m->body[0] << 16 | m->body[1] << 8 | m->body[2]) == m->len - 3 &&
		   (size_t)(m->body[4] << 8 | m->body[5]) == sizeof cert_a &&
		   memcmp(m->body + 6, cert_a, sizeof cert_a) == 0 &&
		   m->body[6 + sizeof cert_a + 2] == (sizeof cert_b & 0xff),
	   "build 1.2 ECDHE: Certificate carries both DER certs with 3-byte lengths");
	m = &A.m[2];
	ok(m->body[0] == 3 && g16(m->body + 1) == 23 && m->body[3] == 65 && m->body[4] == 0x04 && m->body[5] == 0x6b &&
		   g16(m->body + 69) == 0x0401 && g16(m->body + 71) == 256 && m->len == 73 + 256,
	   "build 1.2 ECDHE: SKE named_curve P-256 generator, rsa_pkcs1_sha256, 256-byte sig");

	/* DHE_RSA with the 1024-bit group */
	{
		static const uint16_t dhe[] = { S_DHE_RSA_AES128_SHA };
		c.suites = dhe;
		p.dh_bits = 1024;
		parse_whole(&c, &ch);
		tlsresp_decide(&p, &ch, &d);
		n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
		parse_answer(ans, (size_t)n, &A);
		m = &A.m[2];
		ok(A.ok && A.nmsg == 4 && m->type == 12 && g16(m->body) == 128 && m->body[2] == 0xFF &&
			   g16(m->body + 130) == 1 && m->body[132] == 2 && g16(m->body + 133) == 128 &&
			   m->body[135 + 127] == 2 && g16(m->body + 263) == 0x0401 && m->len == 263 + 4 + 256,
		   "build 1.2 DHE: dh_p 1024-bit, g 2, Ys 2 padded, signature");
		p.dh_bits = 0;
		n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
		parse_answer(ans, (size_t)n, &A);
		ok(A.ok && g16(A.m[2].body) == 256, "build 1.2 DHE: default ffdhe2048");
	}
	/* anon: no Certificate */
	{
		static const uint16_t adh[] = { S_ADH_AES128_SHA };
		c.suites = adh;
		parse_whole(&c, &ch);
		tlsresp_decide(&p, &ch, &d);
		n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
		parse_answer(ans, (size_t)n, &A);
		ok(d.suite == S_ADH_AES128_SHA && A.ok && A.nmsg == 3 && A.m[0].type == 2 && A.m[1].type == 12 &&
			   A.m[2].type == 14 && A.m[1].len == 2 + 256 + 2 + 1 + 2 + 256,
		   "build anon DH: ServerHello, unsigned SKE, ServerHelloDone, no Certificate");
	}
	/* static RSA: Certificate, no SKE */
	{
		static const uint16_t rsa[] = { S_RSA_AES128_SHA };
		c.suites = rsa;
		c.reneg_ext = 0;
		parse_whole(&c, &ch);
		tlsresp_decide(&p, &ch, &d);
		n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
		parse_answer(ans, (size_t)n, &A);
		parse_sh(&A.m[0], &sh);
		ok(A.ok && A.nmsg == 3 && A.m[1].type == 11 && A.m[2].type == 14 && sh.ok && !sh.has_ext,
		   "build static RSA: Certificate, no SKE; no extensions the client did not offer");
	}
	/* a chain bigger than one record */
	{
		static uint8_t bigcert[15000];
		static const uint16_t rsa[] = { S_RSA_AES128_SHA };
		struct tls_personality q = p;
		memset(bigcert, 0x30, sizeof bigcert);
		q.cert_der[0] = bigcert, q.cert_len[0] = sizeof bigcert;
		q.cert_der[1] = bigcert, q.cert_len[1] = sizeof bigcert;
		c.suites = rsa;
		parse_whole(&c, &ch);
		tlsresp_decide(&q, &ch, &d);
		n = tlsresp_build(&q, &ch, &d, ans, sizeof ans);
		parse_answer(ans, (size_t)n, &A);
		ok(A.ok && A.nrec == 2 && A.rlen[0] == 16384 && A.nmsg == 3 &&
			   A.m[1].len == 3 + 2 * (3 + sizeof bigcert),
		   "build: 30 KB chain split over two 16 KB records, messages intact");
		is_int(tlsresp_build(&q, &ch, &d, ans, 20000), -1, "build: cap too small is -1");
		is_int(tlsresp_build(&q, &ch, &d, ans, 3), -1, "build: cap below a header is -1");
	}
}

static void test_sslv3(void)
{
	static const uint16_t ours[] = { S_RSA_RC4_MD5, 0x000A };
	static const uint16_t cs[] = { 0x000A, S_RSA_RC4_MD5 };
	struct tls_personality p;
	struct client_hello ch;
	struct tls_decision d;
	struct sh sh;
	long n;
	struct chspec c = { .rec_ver = 0x0300, .legacy = 0x0300, .suites = cs, .nsuites = 2, .no_ext = 1 };

	base_personality(&p);
	set_version(&p, 0, ours, N(ours));
	set_version(&p, 1, ours, N(ours));
	parse_whole(&c, &ch);
	tlsresp_decide(&p, &ch, &d);
	ok(d.kind == TR_ACCEPT && d.version == 0x0300 && d.suite == S_RSA_RC4_MD5,
	   "decide: SSLv3 hello to an SSLv3/TLS1.0 server: SSLv3, RC4-MD5");
	n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
	parse_answer(ans, (size_t)n, &A);
	parse_sh(&A.m[0], &sh);
	ok(A.ok && A.rver[0] == 0x0300 && A.nmsg == 3 && sh.ok && sh.version == 0x0300 && !sh.has_ext &&
		   A.m[0].len == 2 + 32 + 1 + 32 + 2 + 1,
	   "build: SSLv3 ServerHello without extensions, Certificate, ServerHelloDone");
	ok(memcmp(sh.random + 24, "DOWNGRD", 7) != 0, "build: no sentinel below TLS 1.2 servers");

	/* SSLv3 with DHE: signature without SignatureAndHashAlgorithm */
	{
		static const uint16_t dhe[] = { 0x0016 };
		struct tls_personality q;
		base_personality(&q);
		set_version(&q, 0, dhe, 1);
		c.suites = dhe, c.nsuites = 1;
		parse_whole(&c, &ch);
		tlsresp_decide(&q, &ch, &d);
		n = tlsresp_build(&q, &ch, &d, ans, sizeof ans);
		parse_answer(ans, (size_t)n, &A);
		ok(A.ok && A.nmsg == 4 && A.m[2].type == 12 && g16(A.m[2].body + 2 + 256 + 3 + 2 + 256) == 256 &&
			   A.m[2].len == 2 + 256 + 3 + 2 + 256 + 2 + 256,
		   "build: SSLv3 DHE SKE signature has no algorithm field");
	}
}

static void test_lies(void)
{
	static const uint16_t ours[] = { S_ECDHE_RSA_AES128_GCM };
	static const uint16_t g[] = { 23 };
	struct tls_personality p;
	struct client_hello ch;
	struct tls_decision d;
	long n;
	struct chspec c = {
		.rec_ver = 0x0301, .legacy = 0x0303, .suites = ours, .nsuites = 1, .groups = g, .ngroups = 1
	};

	base_personality(&p);
	set_version(&p, 3, ours, 1);
	parse_whole(&c, &ch);
	tlsresp_decide(&p, &ch, &d);
	p.lying_lengths = 1;
	n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
	ok(n == 25 && ans[0] == 22 && g16(ans + 3) == 16000 && ans[5] == 2,
	   "lies 1: record header claims 16000, 20 bytes follow");
	p.lying_lengths = 2;
	n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
	parse_answer(ans, (size_t)n, &A);
	ok(A.ok && A.nmsg == 4 && A.m[0].body[34] == 200, "lies 2: lengths consistent, session_id length says 200");
	p.lying_lengths = 3;
	n = tlsresp_build(&p, &ch, &d, ans, sizeof ans);
	ok(n > 5 && (size_t)g16(ans + 3) == (size_t)n - 5 &&
		   (size_t)(ans[6] << 16 | ans[7] << 8 | ans[8]) == (size_t)n - 9 + 1000,
	   "lies 3: handshake length 1000 bytes beyond its only record");
}

static void test_wolfssl(void)
{
	ok(tlsresp_wolfssl_capable(0x0303, 0xC02F), "wolfssl: 1.2 ECDHE-RSA-AES128-GCM");
	ok(tlsresp_wolfssl_capable(0x0302, 0xC013), "wolfssl: 1.1 ECDHE-RSA-AES128-SHA");
	ok(tlsresp_wolfssl_capable(0x0303, 0x009E), "wolfssl: 1.2 DHE-RSA-AES128-GCM");
	ok(tlsresp_wolfssl_capable(0x0304, 0x1301), "wolfssl: 1.3 TLS_AES_128_GCM_SHA256");
	ok(!tlsresp_wolfssl_capable(0x0302, 0xC02F), "wolfssl: no GCM on TLS 1.1");
	ok(!tlsresp_wolfssl_capable(0x0303, 0x002F), "wolfssl: no static RSA");
	ok(!tlsresp_wolfssl_capable(0x0301, 0xC013), "wolfssl: no TLS 1.0");
	ok(!tlsresp_wolfssl_capable(0x0300, 0xC013), "wolfssl: no SSLv3");
	ok(!tlsresp_wolfssl_capable(0x0303, 0x0034), "wolfssl: anon left out");
	ok(!tlsresp_wolfssl_capable(0x0303, 0x00AA), "wolfssl: PSK left out");
	ok(!tlsresp_wolfssl_capable(0x0303, 0x1301), "wolfssl: TLS 1.3 suite not in 1.2");
	ok(!tlsresp_wolfssl_capable(0x0304, 0xC02F), "wolfssl: 1.2 suite not in 1.3");
}

int main(void)
{
	is_str(tlsresp_kind_name(TR_HRR), "HRR", "names: kind");
	is_str(tlsresp_reject_name(TR_REJ_SILENCE), "silence", "names: reject");
	test_parse();
	test_versions();
	test_preference();
	test_tls13();
	test_scsv();
	test_build12();
	test_sslv3();
	test_lies();
	test_wolfssl();
	return done_testing();
}
