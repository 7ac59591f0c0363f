/*
 * hello: the hand-built half of mxscan's TLS probing. hello_build() writes one
 * TLS record holding a ClientHello exactly as the plan asks (any record and
 * hello version, any suite list including SCSVs, any compression methods, a
 * chosen set of extensions), because the enumeration must offer things no TLS
 * library will (SSLv3, export and NULL suites, an empty key_share).
 * hello_parse() reads the server's first flight without doing any I/O: bytes
 * in, a struct server_flight out.
 *
 * The parser is two nested byte-streaming state machines. The record layer
 * (EXPECT_RECORD_HEADER / EXPECT_RECORD_BODY) never buffers a record: handshake
 * bytes go straight into a reassembly buffer that holds at most one handshake
 * message (RFC 5246 section 6.2.1: messages may span records, and a record may
 * hold several), alert bytes are read in pairs, ChangeCipherSpec is skipped.
 * The handshake layer (EXPECT_SERVER_HELLO .. EXPECT_SERVER_HELLO_DONE) checks
 * the order of the TLS <= 1.2 flight (RFC 5246 section 7.3) and parses each
 * complete message with a bounds-checked reader. Every decision depends only on
 * the bytes seen so far, never on how they were split, so feeding a flight
 * whole, byte by byte or cut anywhere gives the same result. Memory is
 * proportional to what the server actually sent, not to what it claimed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <arpa/inet.h>

#include "mxscan/hello.h"

#define REC_HANDSHAKE              22
#define REC_ALERT                  21
#define REC_CCS                    20
#define REC_APPDATA                23

#define REC_MAX                    (16384 + 2048) /* RFC 5246 section 6.2.3: TLSCiphertext.length cap */
#define PLAIN_MAX                  16384          /* RFC 5246 section 6.2.1: TLSPlaintext.length cap */
#define HS_MAX                     (1u << 17)     /* largest handshake message body accepted */

#define HS_HELLO_REQUEST           0
#define HS_CLIENT_HELLO            1
#define HS_SERVER_HELLO            2
#define HS_CERTIFICATE             11
#define HS_SERVER_KEY_EXCHANGE     12
#define HS_CERTIFICATE_REQUEST     13
#define HS_SERVER_HELLO_DONE       14
#define HS_CERTIFICATE_STATUS      22

#define EXT_SERVER_NAME            0
#define EXT_SUPPORTED_GROUPS       10
#define EXT_EC_POINT_FORMATS       11
#define EXT_SIGNATURE_ALGORITHMS   13
#define EXT_PADDING                21
#define EXT_EXTENDED_MASTER_SECRET 23
#define EXT_SUPPORTED_VERSIONS     43
#define EXT_KEY_SHARE              51
#define EXT_RENEGOTIATION_INFO     0xff01

#define ALERT_WARNING              1
#define ALERT_UNRECOGNIZED_NAME    112

#define ARRAY_LEN(a)               (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* Defaults                                                                 */

const uint16_t hello_default_groups[] = {
	GROUP_X25519,    GROUP_SECP256R1, GROUP_X448,      GROUP_SECP521R1, GROUP_SECP384R1,
	GROUP_FFDHE2048, GROUP_FFDHE3072, GROUP_FFDHE4096, GROUP_FFDHE6144, GROUP_FFDHE8192,
};
const size_t hello_default_ngroups = ARRAY_LEN(hello_default_groups);

/* RFC 8446 section 4.2.3 code points plus the TLS 1.2 (hash, signature) pairs
 * of RFC 5246 section 7.4.1.4.1 that old servers still need: SHA-1, SHA-224
 * and DSA, so that a server whose only certificate is DSA or SHA-1-only can
 * still answer and be recorded. */
const uint16_t hello_default_sigalgs[] = {
	0x0403, /* ecdsa_secp256r1_sha256 */
	0x0503, /* ecdsa_secp384r1_sha384 */
	0x0603, /* ecdsa_secp521r1_sha512 */
	0x0807, /* ed25519 */
	0x0808, /* ed448 */
	0x0804, /* rsa_pss_rsae_sha256 */
	0x0805, /* rsa_pss_rsae_sha384 */
	0x0806, /* rsa_pss_rsae_sha512 */
	0x0809, /* rsa_pss_pss_sha256 */
	0x080a, /* rsa_pss_pss_sha384 */
	0x080b, /* rsa_pss_pss_sha512 */
	0x081a, /* ecdsa_brainpoolP256r1tls13_sha256 */
	0x081b, /* ecdsa_brainpoolP384r1tls13_sha384 */
	0x081c, /* ecdsa_brainpoolP512r1tls13_sha512 */
	0x0401, /* rsa_pkcs1_sha256 */
	0x0501, /* rsa_pkcs1_sha384 */
	0x0601, /* rsa_pkcs1_sha512 */
	0x0303, /* ecdsa_sha224 */
	0x0301, /* rsa_pkcs1_sha224 */
	0x0302, /* dsa_sha224 */
	0x0402, /* dsa_sha256 */
	0x0502, /* dsa_sha384 */
	0x0602, /* dsa_sha512 */
	0x0203, /* ecdsa_sha1 */
	0x0201, /* rsa_pkcs1_sha1 */
	0x0202, /* dsa_sha1 */
};
const size_t hello_default_nsigalgs = ARRAY_LEN(hello_default_sigalgs);

/* ------------------------------------------------------------------------ */
/* Key share public values                                                  */

/* Valid public keys without any private key behind them: the generator of
 * each curve, so a server that validates the point (SP 800-56A partial
 * validation, RFC 8446 section 4.2.8.2) accepts it. Uncompressed form
 * 0x04 || X || Y (SEC 1 section 2.3.3), constants from SEC 2 / FIPS 186-4. */
static const uint8_t p256_gen[65] = {
	0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
	0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f,
	0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce,
	0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
};
static const uint8_t p384_gen[97] = {
	0x04, 0xaa, 0x87, 0xca, 0x22, 0xbe, 0x8b, 0x05, 0x37, 0x8e, 0xb1, 0xc7, 0x1e, 0xf3, 0x20, 0xad, 0x74,
	0x6e, 0x1d, 0x3b, 0x62, 0x8b, 0xa7, 0x9b, 0x98, 0x59, 0xf7, 0x41, 0xe0, 0x82, 0x54, 0x2a, 0x38, 0x55,
	0x02, 0xf2, 0x5d, 0xbf, 0x55, 0x29, 0x6c, 0x3a, 0x54, 0x5e, 0x38, 0x72, 0x76, 0x0a, 0xb7, 0x36, 0x17,
	0xde, 0x4a, 0x96, 0x26, 0x2c, 0x6f, 0x5d, 0x9e, 0x98, 0xbf, 0x92, 0x92, 0xdc, 0x29, 0xf8, 0xf4, 0x1d,
	0xbd, 0x28, 0x9a, 0x14, 0x7c, 0xe9, 0xda, 0x31, 0x13, 0xb5, 0xf0, 0xb8, 0xc0, 0x0a, 0x60, 0xb1, 0xce,
	0x1d, 0x7e, 0x81, 0x9d, 0x7a, 0x43, 0x1d, 0x7c, 0x90, 0xea, 0x0e, 0x5f,
};
static const uint8_t p521_gen[133] = {
	0x04, 0x00, 0xc6, 0x85, 0x8e, 0x06, 0xb7, 0x04, 0x04, 0xe9, 0xcd, 0x9e, 0x3e, 0xcb, 0x66, 0x23, 0x95,
	0xb4, 0x42, 0x9c, 0x64, 0x81, 0x39, 0x05, 0x3f, 0xb5, 0x21, 0xf8, 0x28, 0xaf, 0x60, 0x6b, 0x4d, 0x3d,
	0xba, 0xa1, 0x4b, 0x5e, 0x77, 0xef, 0xe7, 0x59, 0x28, 0xfe, 0x1d, 0xc1, 0x27, 0xa2, 0xff, 0xa8, 0xde,
	0x33, 0x48, 0xb3, 0xc1, 0x85, 0x6a, 0x42, 0x9b, 0xf9, 0x7e, 0x7e, 0x31, 0xc2, 0xe5, 0xbd, 0x66, 0x01,
	0x18, 0x39, 0x29, 0x6a, 0x78, 0x9a, 0x3b, 0xc0, 0x04, 0x5c, 0x8a, 0x5f, 0xb4, 0x2c, 0x7d, 0x1b, 0xd9,
	0x98, 0xf5, 0x44, 0x49, 0x57, 0x9b, 0x44, 0x68, 0x17, 0xaf, 0xbd, 0x17, 0x27, 0x3e, 0x66, 0x2c, 0x97,
	0xee, 0x72, 0x99, 0x5e, 0xf4, 0x26, 0x40, 0xc5, 0x50, 0xb9, 0x01, 0x3f, 0xad, 0x07, 0x61, 0x35, 0x3c,
	0x70, 0x86, 0xa2, 0x72, 0xc2, 0x40, 0x88, 0xbe, 0x94, 0x76, 0x9f, 0xd1, 0x66, 0x50,
};

/* How a group's key_share value is made. RFC 7748 section 6: X25519 and X448
 * public keys are little-endian u-coordinates, the base points are u=9 and
 * u=5. RFC 7919 section 5.1 / RFC 8446 section 4.2.8.1: an FFDHE share is
 * left-padded to the size of the prime; g=2 passes the 1 < Y < p-1 check. */
struct share_kind {
	uint16_t group;
	uint16_t len;
	const uint8_t *fixed; /* full value; NULL = small integer `small` LE/BE-padded */
	uint8_t small;
	uint8_t little_endian;
};

static const struct share_kind share_kinds[] = {
	{ GROUP_X25519, 32, NULL, 9, 1 },
	{ GROUP_X448, 56, NULL, 5, 1 },
	{ GROUP_SECP256R1, sizeof p256_gen, p256_gen, 0, 0 },
	{ GROUP_SECP384R1, sizeof p384_gen, p384_gen, 0, 0 },
	{ GROUP_SECP521R1, sizeof p521_gen, p521_gen, 0, 0 },
	{ GROUP_FFDHE2048, 256, NULL, 2, 0 },
	{ GROUP_FFDHE3072, 384, NULL, 2, 0 },
	{ GROUP_FFDHE4096, 512, NULL, 2, 0 },
	{ GROUP_FFDHE6144, 768, NULL, 2, 0 },
	{ GROUP_FFDHE8192, 1024, NULL, 2, 0 },
};

static const struct share_kind *share_kind_of(uint16_t group)
{
	for (size_t i = 0; i < ARRAY_LEN(share_kinds); i++)
		if (share_kinds[i].group == group)
			return &share_kinds[i];
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* ClientHello builder                                                      */

/* A bounded writer: the first overflow sets err and every later write is a
 * no-op, so the builder checks once at the end. */
struct wbuf {
	uint8_t *p;
	size_t cap, len;
	int err;
};

static void w_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = 1;
		return;
	}
	if (n)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void w_zero(struct wbuf *w, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = 1;
		return;
	}
	memset(w->p + w->len, 0, n);
	w->len += n;
}

static void w_u8(struct wbuf *w, unsigned v)
{
	uint8_t b = (uint8_t)v;
	w_bytes(w, &b, 1);
}

static void w_u16(struct wbuf *w, unsigned v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	w_bytes(w, b, 2);
}

/* Reserve an n-byte length field; w_close() fills it once the body is written. */
static size_t w_open(struct wbuf *w, unsigned n)
{
	size_t pos = w->len;
	w_zero(w, n);
	return pos;
}

static void w_close(struct wbuf *w, size_t pos, unsigned n)
{
	size_t len;

	if (w->err)
		return;
	len = w->len - pos - n;
	if (len >> (8 * n)) {
		w->err = 1; /* body does not fit the vector's length field */
		return;
	}
	for (unsigned i = 0; i < n; i++)
		w->p[pos + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
}

static void w_u16_list(struct wbuf *w, const uint16_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w_u16(w, v[i]);
}

static int getrandom_all(uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* Hello randoms and session ids from a per-thread pool refilled 4 KiB at a
 * time: one getrandom per ~64 hellos instead of one or two per hello (a
 * probe's only syscall beyond connect, send, recv and close). Each byte is
 * handed out once. */
static int fill_random(uint8_t *buf, size_t n)
{
	static _Thread_local uint8_t pool[4096];
	static _Thread_local size_t left;

	if (n > sizeof pool)
		return getrandom_all(buf, n);
	if (left < n) {
		if (getrandom_all(pool, sizeof pool) < 0)
			return -1;
		left = sizeof pool;
	}
	memcpy(buf, pool + sizeof pool - left, n);
	left -= n;
	return 0;
}

/* RFC 6066 section 3: HostName without a trailing dot; IP literals are not
 * permitted. Returns the length to send, 0 to omit the extension. */
static size_t sni_length(const char *sni)
{
	size_t n;
	char tmp[64];
	uint8_t addr[16];

	if (!sni)
		return 0;
	n = strlen(sni);
	if (n && sni[n - 1] == '.')
		n--;
	if (n == 0)
		return 0;
	if (n < sizeof tmp) {
		memcpy(tmp, sni, n);
		tmp[n] = '\0';
		if (inet_pton(AF_INET, tmp, addr) == 1 || inet_pton(AF_INET6, tmp, addr) == 1)
			return 0;
	}
	return n;
}

static int offers_tls13(const struct hello_opts *o)
{
	for (size_t i = 0; o->versions && i < o->nversions; i++)
		if (o->versions[i] == TLS_TLS13)
			return 1;
	return 0;
}

/* Reject option sets that cannot be encoded as RFC 5246 / 8446 vectors. */
static int opts_valid(const struct hello_opts *o)
{
	size_t nscsv = (o->fallback_scsv ? 1u : 0u) + (o->empty_reneg_scsv ? 1u : 0u);
	size_t nsuites = o->suites ? o->nsuites : 0;

	if (o->nsuites && !o->suites)
		return 0;
	if (nsuites + nscsv == 0 || nsuites > 32767 || nsuites + nscsv > 32767)
		return 0; /* cipher_suites<2..2^16-2> */
	if (o->compression && (o->ncompression == 0 || o->ncompression > 255))
		return 0; /* compression_methods<1..2^8-1> */
	if (o->groups && (o->ngroups == 0 || o->ngroups > 32767))
		return 0; /* named_group_list<2..2^16-1> */
	if (o->sigalgs && (o->nsigalgs == 0 || o->nsigalgs > 32767))
		return 0; /* supported_signature_algorithms<2..2^16-2> */
	if (o->versions && (o->nversions == 0 || o->nversions > 127))
		return 0; /* versions<2..254> */
	if (o->key_share && o->nkey_share && !o->key_share_groups)
		return 0;
	if (o->session_id && o->session_id_len > 32)
		return 0;
	return 1;
}

static void w_key_share_entry(struct wbuf *w, const struct share_kind *k)
{
	size_t pos;

	w_u16(w, k->group);
	w_u16(w, k->len);
	if (k->fixed) {
		w_bytes(w, k->fixed, k->len);
		return;
	}
	pos = w->len;
	w_zero(w, k->len);
	if (!w->err)
		w->p[k->little_endian ? pos : pos + k->len - 1u] = k->small;
}

static void w_extensions(struct wbuf *w, const struct hello_opts *o, size_t sni_len)
{
	size_t ext, a, b;

	if (sni_len) { /* RFC 6066 section 3 */
		w_u16(w, EXT_SERVER_NAME);
		ext = w_open(w, 2);
		a = w_open(w, 2); /* ServerNameList */
		w_u8(w, 0);       /* host_name */
		b = w_open(w, 2);
		w_bytes(w, o->sni, sni_len);
		w_close(w, b, 2);
		w_close(w, a, 2);
		w_close(w, ext, 2);
	}
	if (o->ec_point_formats) { /* RFC 8422 section 5.1.2: uncompressed only */
		w_u16(w, EXT_EC_POINT_FORMATS);
		w_u16(w, 2);
		w_u8(w, 1);
		w_u8(w, 0);
	}
	if (o->groups) { /* RFC 8422 section 5.1.1, RFC 8446 section 4.2.7 */
		w_u16(w, EXT_SUPPORTED_GROUPS);
		ext = w_open(w, 2);
		a = w_open(w, 2);
		w_u16_list(w, o->groups, o->ngroups);
		w_close(w, a, 2);
		w_close(w, ext, 2);
	}
	if (o->sigalgs) { /* RFC 5246 section 7.4.1.4.1, RFC 8446 section 4.2.3 */
		w_u16(w, EXT_SIGNATURE_ALGORITHMS);
		ext = w_open(w, 2);
		a = w_open(w, 2);
		w_u16_list(w, o->sigalgs, o->nsigalgs);
		w_close(w, a, 2);
		w_close(w, ext, 2);
	}
	if (o->versions) { /* RFC 8446 section 4.2.1 */
		w_u16(w, EXT_SUPPORTED_VERSIONS);
		ext = w_open(w, 2);
		a = w_open(w, 1);
		w_u16_list(w, o->versions, o->nversions);
		w_close(w, a, 1);
		w_close(w, ext, 2);
	}
	if (o->key_share) { /* RFC 8446 section 4.2.8; empty client_shares asks for an HRR */
		w_u16(w, EXT_KEY_SHARE);
		ext = w_open(w, 2);
		a = w_open(w, 2);
		for (size_t i = 0; i < o->nkey_share; i++)
			w_key_share_entry(w, share_kind_of(o->key_share_groups[i]));
		w_close(w, a, 2);
		w_close(w, ext, 2);
	}
	if (o->renegotiation_info) { /* RFC 5746 section 3.4: empty renegotiated_connection */
		w_u16(w, EXT_RENEGOTIATION_INFO);
		w_u16(w, 1);
		w_u8(w, 0);
	}
	if (o->extended_master_secret) { /* RFC 7627 section 5.1 */
		w_u16(w, EXT_EXTENDED_MASTER_SECRET);
		w_u16(w, 0);
	}
}

long hello_build(const struct hello_opts *o, uint8_t *out, size_t cap)
{
	static const uint8_t null_compression[1] = { 0 };
	struct wbuf w = { out, out ? cap : 0, 0, 0 };
	uint8_t random[32], sid[32];
	size_t sid_len = 0, sni_len, rec, hs, suites, exts;
	long ret = -1;
	int any_ext;

	if (!o || !opts_valid(o))
		goto out;
	for (size_t i = 0; o->key_share && i < o->nkey_share; i++)
		if (!share_kind_of(o->key_share_groups[i]))
			goto out;
	if (o->random)
		memcpy(random, o->random, sizeof random);
	else if (fill_random(random, sizeof random) < 0)
		goto out;
	if (o->session_id) {
		sid_len = o->session_id_len;
		if (sid_len)
			memcpy(sid, o->session_id, sid_len);
	} else if (offers_tls13(o)) {
		/* RFC 8446 appendix D.4: middlebox compatibility mode */
		sid_len = sizeof sid;
		if (fill_random(sid, sid_len) < 0)
			goto out;
	}
	sni_len = sni_length(o->sni);
	any_ext = sni_len || o->ec_point_formats || o->groups || o->sigalgs || o->versions || o->key_share ||
		  o->renegotiation_info || o->extended_master_secret;

	w_u8(&w, REC_HANDSHAKE); /* RFC 5246 section 6.2.1 */
	w_u16(&w, o->record_version);
	rec = w_open(&w, 2);
	w_u8(&w, HS_CLIENT_HELLO); /* RFC 5246 section 7.4.1.2, RFC 8446 section 4.1.2 */
	hs = w_open(&w, 3);
	w_u16(&w, o->hello_version);
	w_bytes(&w, random, sizeof random);
	w_u8(&w, (unsigned)sid_len);
	w_bytes(&w, sid, sid_len);
	suites = w_open(&w, 2);
	w_u16_list(&w, o->suites, o->suites ? o->nsuites : 0);
	/* RFC 5746 section 3.3 and RFC 7507 section 4: signalling values go
	 * after every suite the client intends to negotiate. */
	if (o->empty_reneg_scsv)
		w_u16(&w, 0x00ff);
	if (o->fallback_scsv)
		w_u16(&w, 0x5600);
	w_close(&w, suites, 2);
	if (o->compression) {
		w_u8(&w, (unsigned)o->ncompression);
		w_bytes(&w, o->compression, o->ncompression);
	} else {
		w_u8(&w, 1);
		w_bytes(&w, null_compression, 1);
	}
	if (any_ext || o->pad_to) {
		exts = w_open(&w, 2);
		w_extensions(&w, o, sni_len);
		/* RFC 7685: some middleboxes (F5) hang on ClientHello messages of
		 * 256..511 bytes; pad such a hello to pad_to bytes, as OpenSSL does. */
		size_t msg = w.len - (hs - 1);
		if (o->pad_to && msg >= 256 && msg < o->pad_to) {
			static const uint8_t zeros[1024];
			size_t pad = msg + 4 <= o->pad_to ? o->pad_to - msg - 4 : 0;
			if (pad > sizeof zeros)
				pad = sizeof zeros;
			w_u16(&w, EXT_PADDING);
			w_u16(&w, (unsigned)pad);
			w_bytes(&w, zeros, pad);
		}
		w_close(&w, exts, 2);
	}
	w_close(&w, hs, 3);
	w_close(&w, rec, 2);
	if (w.err || w.len - 5 > PLAIN_MAX)
		goto out;
	ret = (long)w.len;
out:
	return ret;
}

/* ------------------------------------------------------------------------ */
/* Key exchange classification for ServerKeyExchange                        */

/* What a ServerKeyExchange of a TLS <= 1.2 suite starts with. ECDHE: an
 * ECParameters (RFC 8422 section 5.4); DHE: ServerDHParams (RFC 5246 section
 * 7.4.3); the *_PSK kinds are preceded by a psk_identity_hint (RFC 4279
 * section 3, RFC 5489 section 2). Anonymous DH/ECDH use the same structures. */
enum kx_kind { KX_UNKNOWN = 0, KX_ECDHE, KX_ECDHE_PSK, KX_DHE, KX_DHE_PSK };

struct kx_range {
	uint16_t lo, hi;
	uint8_t kind;
};

/* IANA TLS Cipher Suites registry, sorted, plus the unregistered pre-RFC 7905
 * ChaCha20 (0xCC13-0xCC15) and 1024-bit export DHE (0x0063, 0x0065, 0x0066). */
static const struct kx_range kx_ranges[] = {
	{ 0x0011, 0x001b, KX_DHE }, /* DHE_DSS/DHE_RSA (incl. export), DH_anon */
	{ 0x0032, 0x0034, KX_DHE },       { 0x0038, 0x003a, KX_DHE },
	{ 0x0040, 0x0040, KX_DHE },       { 0x0044, 0x0046, KX_DHE },
	{ 0x0063, 0x0063, KX_DHE },       { 0x0065, 0x0067, KX_DHE },
	{ 0x006a, 0x006d, KX_DHE },       { 0x0087, 0x0089, KX_DHE },
	{ 0x008e, 0x0091, KX_DHE_PSK },   { 0x0099, 0x009b, KX_DHE },
	{ 0x009e, 0x009f, KX_DHE },       { 0x00a2, 0x00a3, KX_DHE },
	{ 0x00a6, 0x00a7, KX_DHE },       { 0x00aa, 0x00ab, KX_DHE_PSK },
	{ 0x00b2, 0x00b5, KX_DHE_PSK },   { 0x00bd, 0x00bf, KX_DHE },
	{ 0x00c3, 0x00c5, KX_DHE },       { 0xc006, 0xc00a, KX_ECDHE }, /* ECDHE_ECDSA */
	{ 0xc010, 0xc019, KX_ECDHE },                                   /* ECDHE_RSA, ECDH_anon */
	{ 0xc023, 0xc024, KX_ECDHE },     { 0xc027, 0xc028, KX_ECDHE },
	{ 0xc02b, 0xc02c, KX_ECDHE },     { 0xc02f, 0xc030, KX_ECDHE },
	{ 0xc033, 0xc03b, KX_ECDHE_PSK }, { 0xc042, 0xc047, KX_DHE }, /* ARIA */
	{ 0xc048, 0xc049, KX_ECDHE },     { 0xc04c, 0xc04d, KX_ECDHE },
	{ 0xc052, 0xc053, KX_DHE },       { 0xc056, 0xc057, KX_DHE },
	{ 0xc05a, 0xc05b, KX_DHE },       { 0xc05c, 0xc05d, KX_ECDHE },
	{ 0xc060, 0xc061, KX_ECDHE },     { 0xc066, 0xc067, KX_DHE_PSK },
	{ 0xc06c, 0xc06d, KX_DHE_PSK },   { 0xc070, 0xc071, KX_ECDHE_PSK },
	{ 0xc072, 0xc073, KX_ECDHE }, /* Camellia */
	{ 0xc076, 0xc077, KX_ECDHE },     { 0xc07c, 0xc07d, KX_DHE },
	{ 0xc080, 0xc081, KX_DHE },       { 0xc084, 0xc085, KX_DHE },
	{ 0xc086, 0xc087, KX_ECDHE },     { 0xc08a, 0xc08b, KX_ECDHE },
	{ 0xc090, 0xc091, KX_DHE_PSK },   { 0xc096, 0xc097, KX_DHE_PSK },
	{ 0xc09a, 0xc09b, KX_ECDHE_PSK }, { 0xc09e, 0xc09f, KX_DHE }, /* CCM */
	{ 0xc0a2, 0xc0a3, KX_DHE },       { 0xc0a6, 0xc0a7, KX_DHE_PSK },
	{ 0xc0aa, 0xc0ab, KX_DHE_PSK },   { 0xc0ac, 0xc0af, KX_ECDHE },
	{ 0xcc13, 0xcc14, KX_ECDHE }, /* pre-standard ChaCha20 */
	{ 0xcc15, 0xcc15, KX_DHE },       { 0xcca8, 0xcca9, KX_ECDHE },
	{ 0xccaa, 0xccaa, KX_DHE },       { 0xccac, 0xccac, KX_ECDHE_PSK },
	{ 0xccad, 0xccad, KX_DHE_PSK },   { 0xd001, 0xd005, KX_ECDHE_PSK },
};

static enum kx_kind kx_of(uint16_t suite)
{
	for (size_t i = 0; i < ARRAY_LEN(kx_ranges); i++)
		if (suite >= kx_ranges[i].lo && suite <= kx_ranges[i].hi)
			return (enum kx_kind)kx_ranges[i].kind;
	return KX_UNKNOWN;
}

/* ------------------------------------------------------------------------ */
/* Bounds-checked reader for complete handshake messages                    */

struct rd {
	const uint8_t *p;
	size_t len, off;
	int err;
};

static size_t r_left(const struct rd *r)
{
	return r->len - r->off;
}

static const uint8_t *r_bytes(struct rd *r, size_t n)
{
	const uint8_t *s;

	if (r->err || n > r->len - r->off) {
		r->err = 1;
		return NULL;
	}
	s = r->p + r->off;
	r->off += n;
	return s;
}

static uint32_t r_uint(struct rd *r, unsigned n)
{
	const uint8_t *s = r_bytes(r, n);
	uint32_t v = 0;

	for (unsigned i = 0; s && i < n; i++)
		v = (v << 8) | s[i];
	return v;
}

/* Read a vector with an n-byte length; NULL (and r->err) when it lies. */
static const uint8_t *r_vec(struct rd *r, unsigned n, size_t *len)
{
	*len = r_uint(r, n);
	return r_bytes(r, *len);
}

/* ------------------------------------------------------------------------ */
/* Server flight parser                                                     */

enum rec_state { EXPECT_RECORD_HEADER, EXPECT_RECORD_BODY };

/* Each state means "the next handshake message may be this one or any later
 * one" (RFC 5246 section 7.3: Certificate, CertificateStatus, ServerKeyExchange
 * and CertificateRequest are each optional, in this order). */
enum hs_state {
	EXPECT_SERVER_HELLO,
	EXPECT_CERTIFICATE,
	EXPECT_CERTIFICATE_STATUS,
	EXPECT_SERVER_KEY_EXCHANGE,
	EXPECT_CERTIFICATE_REQUEST,
	EXPECT_SERVER_HELLO_DONE,
};

struct hello_parser {
	int stop_after_server_hello;
	int status; /* HELLO_NEED_MORE until the flight ends */
	enum rec_state rstate;
	enum hs_state hstate;
	size_t consumed;        /* flight bytes accepted, against HELLO_MAX_FLIGHT */
	unsigned long nrecords; /* record headers read */
	uint8_t hdr[5];
	size_t hdr_len;
	uint8_t ctype;
	size_t rec_left;
	uint8_t alert[2];
	size_t alert_len;
	uint8_t *hs; /* reassembly of the current handshake message, header included */
	size_t hs_len, hs_cap;
	uint8_t *certs; /* DER copies the flight's cert[] point into */
	size_t not_tls_len;
	int not_tls_grow; /* append later bytes to not_tls */
	struct server_flight f;
};

/* RFC 8446 section 4.1.3: SHA-256("HelloRetryRequest") */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

static void finish(struct hello_parser *p, enum hello_end e)
{
	p->f.end = e;
	p->status = HELLO_DONE;
}

static int fail(struct hello_parser *p, int status)
{
	p->status = status;
	return status;
}

static void not_tls_append(struct hello_parser *p, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n && p->not_tls_len < sizeof p->f.not_tls - 1; i++) {
		uint8_t c = b[i];
		p->f.not_tls[p->not_tls_len++] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
	}
	p->f.not_tls[p->not_tls_len] = '\0';
}

/* Decide from the first bytes whether the reply is a TLS record at all.
 * Returns 1 (status set) when it is not. SSLv2 (draft-hickman-netscape-ssl-00):
 * a two-byte header with the high bit set, then msg type 4 = SERVER-HELLO. */
static int sniff_not_tls(struct hello_parser *p)
{
	const uint8_t *h = p->hdr;
	int bad;

	if (h[0] & 0x80) {
		if (p->hdr_len < 3)
			return 0;
		if (h[2] == 4) {
			strcpy(p->f.not_tls, "SSLv2");
			p->not_tls_len = 5;
			p->status = HELLO_ERR_NOT_TLS;
			return 1;
		}
		bad = 1;
	} else {
		bad = h[0] < REC_CCS || h[0] > REC_APPDATA || (p->hdr_len >= 2 && h[1] != 3);
	}
	if (!bad)
		return 0;
	not_tls_append(p, h, p->hdr_len);
	p->not_tls_grow = 1;
	p->status = HELLO_ERR_NOT_TLS;
	return 1;
}

/* RFC 5246 section 6.2.1 record header checks. */
static void start_record(struct hello_parser *p)
{
	size_t len = ((size_t)p->hdr[3] << 8) | p->hdr[4];

	if (p->nrecords++ == 0)
		p->f.record_version = (uint16_t)(p->hdr[1] << 8 | p->hdr[2]);
	p->ctype = p->hdr[0];
	p->hdr_len = 0;
	if (p->ctype < REC_CCS || p->ctype > REC_APPDATA || p->hdr[1] != 3) {
		fail(p, HELLO_ERR_MALFORMED);
		return;
	}
	if (len > REC_MAX) {
		fail(p, HELLO_ERR_TOO_BIG);
		return;
	}
	/* Zero-length handshake, alert and CCS fragments are forbidden; alerts
	 * are never fragmented (RFC 8446 section 5.1), so they come in pairs. */
	if (len == 0 || (p->ctype == REC_ALERT && len % 2)) {
		fail(p, HELLO_ERR_MALFORMED);
		return;
	}
	/* The first flight has no application data (a TLS 1.3 ServerHello ends
	 * parsing before the encrypted part). */
	if (p->ctype == REC_APPDATA) {
		fail(p, HELLO_ERR_UNEXPECTED);
		return;
	}
	/* RFC 8446 section 5.1: no other record between the fragments of one
	 * handshake message. An alert still wins: it is what the server meant. */
	if (p->ctype == REC_CCS && p->hs_len) {
		fail(p, HELLO_ERR_MALFORMED);
		return;
	}
	p->rec_left = len;
	p->alert_len = 0;
	p->rstate = EXPECT_RECORD_BODY;
}

static int parse_server_hello(struct hello_parser *p, const uint8_t *m, size_t len)
{
	struct server_flight *f = &p->f;
	struct rd r = { m, len, 0, 0 };
	const uint8_t *random, *d;
	size_t sid_len, elen, dlen;
	unsigned seen = 0;

	/* RFC 5246 section 7.4.1.3, RFC 8446 section 4.1.3 */
	f->legacy_version = (uint16_t)r_uint(&r, 2);
	random = r_bytes(&r, 32);
	if (!r_vec(&r, 1, &sid_len) || sid_len > 32)
		return fail(p, HELLO_ERR_MALFORMED);
	f->cipher = (uint16_t)r_uint(&r, 2);
	f->compression = (uint8_t)r_uint(&r, 1);
	if (r.err)
		return fail(p, HELLO_ERR_MALFORMED);
	f->session_id_len = (uint8_t)sid_len;
	f->version = f->legacy_version;
	f->is_hrr = memcmp(random, hrr_random, sizeof hrr_random) == 0;
	f->got_server_hello = 1;
	if (r_left(&r)) { /* extensions are optional in TLS <= 1.2 */
		elen = r_uint(&r, 2);
		if (r.err || elen != r_left(&r))
			return fail(p, HELLO_ERR_MALFORMED);
	}
	while (r_left(&r)) {
		unsigned type = r_uint(&r, 2), bit;

		d = r_vec(&r, 2, &dlen);
		if (r.err)
			return fail(p, HELLO_ERR_MALFORMED);
		bit = type == EXT_SUPPORTED_VERSIONS       ? 1u
		      : type == EXT_KEY_SHARE              ? 2u
		      : type == EXT_RENEGOTIATION_INFO     ? 4u
		      : type == EXT_EXTENDED_MASTER_SECRET ? 8u
							   : 0u;
		/* RFC 5246 section 7.4.1.4: at most one extension of each type */
		if (seen & bit)
			return fail(p, HELLO_ERR_MALFORMED);
		seen |= bit;
		switch (type) {
		case EXT_SUPPORTED_VERSIONS: /* RFC 8446 section 4.2.1: selected_version */
			if (dlen != 2)
				return fail(p, HELLO_ERR_MALFORMED);
			f->version = (uint16_t)(d[0] << 8 | d[1]);
			break;
		case EXT_KEY_SHARE: /* RFC 8446 section 4.2.8 */
			if (f->is_hrr) {
				if (dlen != 2) /* selected_group */
					return fail(p, HELLO_ERR_MALFORMED);
			} else if (dlen < 5 || ((size_t)d[2] << 8 | d[3]) != dlen - 4) {
				return fail(p, HELLO_ERR_MALFORMED); /* KeyShareEntry */
			}
			f->key_share_group = (uint16_t)(d[0] << 8 | d[1]);
			break;
		case EXT_RENEGOTIATION_INFO: /* RFC 5746 section 3.2 */
			if (dlen < 1 || (size_t)d[0] + 1 != dlen)
				return fail(p, HELLO_ERR_MALFORMED);
			f->has_reneg_info = 1;
			break;
		case EXT_EXTENDED_MASTER_SECRET: /* RFC 7627 section 5.1 */ f->has_ems = 1; break;
		default: break;
		}
	}
	if (f->is_hrr)
		finish(p, HELLO_END_HRR);
	else if (f->version == TLS_TLS13)
		finish(p, HELLO_END_SERVER_HELLO_13); /* the rest is encrypted */
	else if (p->stop_after_server_hello)
		finish(p, HELLO_END_SERVER_HELLO);
	else
		p->hstate = EXPECT_CERTIFICATE;
	return 0;
}

/* TLS <= 1.2 Certificate (RFC 5246 section 7.4.2): certificate_list<0..2^24-1>
 * of ASN.1Cert<1..2^24-1>. The chain's first certificates are copied while they
 * fit HELLO_MAX_CERTS / HELLO_MAX_CERT_BYTES; all are counted. */
static int parse_certificate(struct hello_parser *p, const uint8_t *m, size_t len)
{
	struct server_flight *f = &p->f;
	struct rd r = { m, len, 0, 0 };
	size_t list, clen, keep_bytes = 0, off = 0;
	const uint8_t *c;
	int keeping = 1, n = 0, total = 0;
	size_t first_off = 0;

	list = r_uint(&r, 3);
	if (r.err || list != r_left(&r))
		return fail(p, HELLO_ERR_MALFORMED);
	first_off = r.off;
	while (r_left(&r)) {
		c = r_vec(&r, 3, &clen);
		if (!c || clen == 0)
			return fail(p, HELLO_ERR_MALFORMED);
		total++;
		if (keeping && n < HELLO_MAX_CERTS && keep_bytes + clen <= HELLO_MAX_CERT_BYTES) {
			keep_bytes += clen;
			n++;
		} else {
			keeping = 0; /* keep a prefix of the chain, in order */
		}
	}
	free(p->certs);
	p->certs = NULL;
	if (keep_bytes && !(p->certs = malloc(keep_bytes)))
		return fail(p, HELLO_ERR_TOO_BIG);
	r.off = first_off;
	for (int i = 0; i < n; i++) {
		c = r_vec(&r, 3, &clen);
		memcpy(p->certs + off, c, clen);
		f->cert[i] = p->certs + off;
		f->cert_len[i] = (uint32_t)clen;
		off += clen;
	}
	f->ncerts = n;
	f->certs_total = total;
	return 0;
}

static unsigned significant_bits(const uint8_t *v, size_t n)
{
	size_t i = 0;
	unsigned bits = 0;

	while (i < n && v[i] == 0)
		i++;
	if (i == n)
		return 0;
	for (uint8_t top = v[i]; top; top >>= 1)
		bits++;
	if (n - i - 1 > (65535u - bits) / 8)
		return 65535; /* saturate: dh_bits is 16 bits wide */
	return bits + 8u * (unsigned)(n - i - 1);
}

/* ServerKeyExchange. Returns 0 with got_ske set, or -1 when the parameters lie. */
static int read_ske(struct server_flight *f, enum kx_kind kx, const uint8_t *m, size_t len)
{
	struct rd r = { m, len, 0, 0 };
	size_t n, glen, ylen;
	const uint8_t *v;

	if (kx == KX_ECDHE_PSK || kx == KX_DHE_PSK)
		r_vec(&r, 2, &n); /* psk_identity_hint<0..2^16-1> */
	if (kx == KX_ECDHE || kx == KX_ECDHE_PSK) {
		/* RFC 8422 section 5.4: ECCurveType 3 = named_curve; 1 and 2
		 * (explicit curves) are recorded with the 0xFF01/0xFF02 code points
		 * RFC 8422 section 5.1.1 reserves for them. */
		unsigned type = r_uint(&r, 1);
		if (r.err)
			return -1;
		if (type == 1 || type == 2) {
			f->ske_group = (uint16_t)(0xff00 | type);
		} else if (type == 3) {
			f->ske_group = (uint16_t)r_uint(&r, 2);
			v = r_vec(&r, 1, &n); /* ECPoint public<1..2^8-1> */
			if (!v || n == 0)
				return -1;
		} else {
			return -1;
		}
	} else {
		/* RFC 5246 section 7.4.3: dh_p, dh_g, dh_Ys, each <1..2^16-1> */
		v = r_vec(&r, 2, &n);
		if (!r_vec(&r, 2, &glen) || !r_vec(&r, 2, &ylen) || !v || !n || !glen || !ylen)
			return -1;
		f->dh_bits = (uint16_t)significant_bits(v, n);
	}
	if (r.err)
		return -1;
	f->got_ske = 1;
	return 0;
}

static int parse_ske(struct hello_parser *p, const uint8_t *m, size_t len)
{
	enum kx_kind kx = kx_of(p->f.cipher);

	if (kx != KX_UNKNOWN)
		return read_ske(&p->f, kx, m, len) < 0 ? fail(p, HELLO_ERR_MALFORMED) : 0;
	/* Unknown suite: a named-curve ECParameters with a group < 256 starts
	 * 0x03 0x00; anything else (RSA export key, SRP, GOST...) is skipped. A
	 * guess that does not parse is skipped too, never an error. */
	p->f.got_ske = 1;
	if (len >= 3 && m[0] == 3 && m[1] == 0) {
		struct server_flight tmp = p->f;
		if (read_ske(&tmp, KX_ECDHE, m, len) == 0)
			p->f = tmp;
	}
	return 0;
}

/* A complete handshake message (type, body). */
static void handle_message(struct hello_parser *p, uint8_t type, const uint8_t *m, size_t len)
{
	enum hs_state rank;

	/* RFC 5246 section 7.4.1.1: a HelloRequest during a handshake is ignored */
	if (type == HS_HELLO_REQUEST) {
		if (len)
			fail(p, HELLO_ERR_MALFORMED);
		return;
	}
	if (p->hstate == EXPECT_SERVER_HELLO) {
		if (type != HS_SERVER_HELLO)
			fail(p, HELLO_ERR_UNEXPECTED);
		else
			parse_server_hello(p, m, len);
		return;
	}
	switch (type) {
	case HS_CERTIFICATE: rank = EXPECT_CERTIFICATE; break;
	case HS_CERTIFICATE_STATUS: rank = EXPECT_CERTIFICATE_STATUS; break;
	case HS_SERVER_KEY_EXCHANGE: rank = EXPECT_SERVER_KEY_EXCHANGE; break;
	case HS_CERTIFICATE_REQUEST: rank = EXPECT_CERTIFICATE_REQUEST; break;
	case HS_SERVER_HELLO_DONE: rank = EXPECT_SERVER_HELLO_DONE; break;
	default: fail(p, HELLO_ERR_UNEXPECTED); return;
	}
	if (rank < p->hstate) {
		fail(p, HELLO_ERR_UNEXPECTED); /* out of order or repeated */
		return;
	}
	p->hstate = rank == EXPECT_SERVER_HELLO_DONE ? rank : rank + 1;
	switch (type) {
	case HS_CERTIFICATE: parse_certificate(p, m, len); break;
	case HS_SERVER_KEY_EXCHANGE: parse_ske(p, m, len); break;
	case HS_SERVER_HELLO_DONE: /* RFC 5246 section 7.4.5: empty */
		if (len) {
			fail(p, HELLO_ERR_MALFORMED);
			break;
		}
		p->f.got_server_hello_done = 1;
		finish(p, HELLO_END_SERVER_HELLO_DONE);
		break;
	default: /* CertificateStatus, CertificateRequest: order checked only */ break;
	}
}

static int hs_reserve(struct hello_parser *p, size_t need)
{
	size_t cap = p->hs_cap ? p->hs_cap : 1024;
	uint8_t *n;

	if (need <= p->hs_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > HS_MAX + 4)
		cap = HS_MAX + 4;
	n = realloc(p->hs, cap);
	if (!n)
		return -1;
	p->hs = n;
	p->hs_cap = cap;
	return 0;
}

/* Handshake record bytes: complete one message at a time (at most HS_MAX + 4
 * bytes held), hand it over, go on. Returns the bytes used. */
static size_t hs_bytes(struct hello_parser *p, const uint8_t *b, size_t n)
{
	size_t i = 0, mlen = 0, want, take;

	while (i < n && p->status == HELLO_NEED_MORE) {
		if (p->hs_len >= 4)
			mlen = (size_t)p->hs[1] << 16 | (size_t)p->hs[2] << 8 | p->hs[3];
		want = p->hs_len < 4 ? 4 - p->hs_len : 4 + mlen - p->hs_len;
		take = want < n - i ? want : n - i;
		if (hs_reserve(p, p->hs_len + take) < 0) {
			fail(p, HELLO_ERR_TOO_BIG);
			break;
		}
		memcpy(p->hs + p->hs_len, b + i, take);
		p->hs_len += take;
		i += take;
		if (p->hs_len < 4)
			continue;
		mlen = (size_t)p->hs[1] << 16 | (size_t)p->hs[2] << 8 | p->hs[3];
		if (mlen > HS_MAX) {
			fail(p, HELLO_ERR_TOO_BIG);
			break;
		}
		if (p->hs_len == 4 + mlen) {
			p->hs_len = 0;
			handle_message(p, p->hs[0], p->hs + 4, mlen);
		}
	}
	return i;
}

/* Alert record bytes (RFC 5246 section 7.2), read as (level, description)
 * pairs. Returns the bytes used. */
static size_t alert_bytes(struct hello_parser *p, const uint8_t *b, size_t n)
{
	size_t i = 0;

	while (i < n && p->status == HELLO_NEED_MORE) {
		p->alert[p->alert_len++] = b[i++];
		if (p->alert_len < 2)
			continue;
		p->alert_len = 0;
		p->f.got_alert = 1;
		p->f.alert_level = p->alert[0];
		p->f.alert_desc = p->alert[1];
		/* RFC 6066 section 3: a warning unrecognized_name may precede a
		 * handshake that carries on; every other alert ends the flight. */
		if (p->alert[0] != ALERT_WARNING || p->alert[1] != ALERT_UNRECOGNIZED_NAME)
			finish(p, HELLO_END_ALERT);
	}
	return i;
}

/* Run the state machines over n bytes (already capped to HELLO_MAX_FLIGHT). */
static void feed(struct hello_parser *p, const uint8_t *b, size_t n)
{
	size_t i = 0, take, used;

	while (i < n && p->status == HELLO_NEED_MORE) {
		if (p->rstate == EXPECT_RECORD_HEADER) {
			p->hdr[p->hdr_len++] = b[i++];
			p->consumed++;
			if (p->nrecords == 0 && p->hdr_len <= 3 && sniff_not_tls(p)) {
				if (p->not_tls_grow)
					not_tls_append(p, b + i, n - i);
				break;
			}
			if (p->hdr_len == sizeof p->hdr)
				start_record(p);
			continue;
		}
		take = n - i < p->rec_left ? n - i : p->rec_left;
		if (p->ctype == REC_HANDSHAKE)
			used = hs_bytes(p, b + i, take);
		else if (p->ctype == REC_ALERT)
			used = alert_bytes(p, b + i, take);
		else
			used = take; /* ChangeCipherSpec: RFC 8446 section 5, middlebox compat */
		i += used;
		p->consumed += used;
		p->rec_left -= used;
		if (p->rec_left == 0)
			p->rstate = EXPECT_RECORD_HEADER;
	}
}

int hello_parse(struct hello_parser *p, const uint8_t *buf, size_t len, struct server_flight *out)
{
	size_t room, n;

	if (!p)
		return HELLO_ERR_MALFORMED;
	if (!buf)
		len = 0;
	if (p->status == HELLO_NEED_MORE) {
		room = HELLO_MAX_FLIGHT - p->consumed;
		n = len < room ? len : room;
		feed(p, buf, n);
		if (p->status == HELLO_NEED_MORE && len > room)
			fail(p, HELLO_ERR_TOO_BIG);
	} else if (p->status == HELLO_ERR_NOT_TLS && p->not_tls_grow) {
		not_tls_append(p, buf, len);
	}
	if (out)
		*out = p->f;
	return p->status;
}

void hello_parser_reset(struct hello_parser *p, int stop_after_server_hello)
{
	/* the reassembly buffer is allocated when a flight arrives and not kept
	 * across resets: a connection waiting for its answer holds none (memory
	 * per connection in flight) */
	free(p->certs);
	free(p->hs);
	memset(p, 0, sizeof *p);
	p->stop_after_server_hello = stop_after_server_hello;
	p->status = HELLO_NEED_MORE;
	p->rstate = EXPECT_RECORD_HEADER;
	p->hstate = EXPECT_SERVER_HELLO;
	p->f.end = HELLO_END_NONE;
}

struct hello_parser *hello_parser_new(int stop_after_server_hello)
{
	struct hello_parser *p = calloc(1, sizeof *p);

	if (p)
		hello_parser_reset(p, stop_after_server_hello);
	return p;
}

void hello_parser_free(struct hello_parser *p)
{
	if (!p)
		return;
	free(p->hs);
	free(p->certs);
	free(p);
}

/* ------------------------------------------------------------------------ */
/* Names                                                                    */

static const char *const status_names[] = {
	[HELLO_ERR_UNEXPECTED - HELLO_ERR_UNEXPECTED] = "unexpected",
	[HELLO_ERR_TOO_BIG - HELLO_ERR_UNEXPECTED] = "too_big",
	[HELLO_ERR_MALFORMED - HELLO_ERR_UNEXPECTED] = "malformed",
	[HELLO_ERR_NOT_TLS - HELLO_ERR_UNEXPECTED] = "not_tls",
	[HELLO_NEED_MORE - HELLO_ERR_UNEXPECTED] = "need_more",
	[HELLO_DONE - HELLO_ERR_UNEXPECTED] = "done",
};
_Static_assert(ARRAY_LEN(status_names) == HELLO_DONE - HELLO_ERR_UNEXPECTED + 1,
	       "status_names must cover enum hello_status");

const char *hello_status_name(int status)
{
	if (status < HELLO_ERR_UNEXPECTED || status > HELLO_DONE)
		return "unknown";
	return status_names[status - HELLO_ERR_UNEXPECTED];
}

static const char *const end_names[] = {
	[HELLO_END_NONE] = "none",
	[HELLO_END_ALERT] = "alert",
	[HELLO_END_HRR] = "hello_retry_request",
	[HELLO_END_SERVER_HELLO_13] = "server_hello_tls13",
	[HELLO_END_SERVER_HELLO_DONE] = "server_hello_done",
	[HELLO_END_SERVER_HELLO] = "server_hello",
};
_Static_assert(ARRAY_LEN(end_names) == HELLO_END_SERVER_HELLO + 1, "end_names must cover enum hello_end");

const char *hello_end_name(enum hello_end e)
{
	if ((unsigned)e >= ARRAY_LEN(end_names))
		return "unknown";
	return end_names[e];
}

/* IANA TLS Alerts registry (RFC 8446 section 6, RFC 5246 section 7.2 and the
 * SSLv3/TLS 1.0 values they retired, RFC 6066, RFC 7507, RFC 7301, RFC 9849). */
static const char *const alert_names[256] = {
	[0] = "close_notify",
	[10] = "unexpected_message",
	[20] = "bad_record_mac",
	[21] = "decryption_failed",
	[22] = "record_overflow",
	[30] = "decompression_failure",
	[40] = "handshake_failure",
	[41] = "no_certificate",
	[42] = "bad_certificate",
	[43] = "unsupported_certificate",
	[44] = "certificate_revoked",
	[45] = "certificate_expired",
	[46] = "certificate_unknown",
	[47] = "illegal_parameter",
	[48] = "unknown_ca",
	[49] = "access_denied",
	[50] = "decode_error",
	[51] = "decrypt_error",
	[60] = "export_restriction",
	[70] = "protocol_version",
	[71] = "insufficient_security",
	[80] = "internal_error",
	[86] = "inappropriate_fallback",
	[90] = "user_canceled",
	[100] = "no_renegotiation",
	[109] = "missing_extension",
	[110] = "unsupported_extension",
	[111] = "certificate_unobtainable",
	[112] = "unrecognized_name",
	[113] = "bad_certificate_status_response",
	[114] = "bad_certificate_hash_value",
	[115] = "unknown_psk_identity",
	[116] = "certificate_required",
	[117] = "general_error",
	[120] = "no_application_protocol",
	[121] = "ech_required",
};

const char *tls_alert_name(uint8_t desc)
{
	return alert_names[desc] ? alert_names[desc] : "unknown";
}

/* IANA TLS Supported Groups registry. */
const char *tls_group_name(uint16_t group)
{
	static const char *const low[] = {
		[1] = "sect163k1",
		[2] = "sect163r1",
		[3] = "sect163r2",
		[4] = "sect193r1",
		[5] = "sect193r2",
		[6] = "sect233k1",
		[7] = "sect233r1",
		[8] = "sect239k1",
		[9] = "sect283k1",
		[10] = "sect283r1",
		[11] = "sect409k1",
		[12] = "sect409r1",
		[13] = "sect571k1",
		[14] = "sect571r1",
		[15] = "secp160k1",
		[16] = "secp160r1",
		[17] = "secp160r2",
		[18] = "secp192k1",
		[19] = "secp192r1",
		[20] = "secp224k1",
		[21] = "secp224r1",
		[22] = "secp256k1",
		[23] = "secp256r1",
		[24] = "secp384r1",
		[25] = "secp521r1",
		[26] = "brainpoolP256r1",
		[27] = "brainpoolP384r1",
		[28] = "brainpoolP512r1",
		[29] = "x25519",
		[30] = "x448",
		[31] = "brainpoolP256r1tls13",
		[32] = "brainpoolP384r1tls13",
		[33] = "brainpoolP512r1tls13",
		[34] = "GC256A",
		[35] = "GC256B",
		[36] = "GC256C",
		[37] = "GC256D",
		[38] = "GC512A",
		[39] = "GC512B",
		[40] = "GC512C",
		[41] = "curveSM2",
	};

	if (group < ARRAY_LEN(low))
		return low[group];
	switch (group) {
	case 256: return "ffdhe2048";
	case 257: return "ffdhe3072";
	case 258: return "ffdhe4096";
	case 259: return "ffdhe6144";
	case 260: return "ffdhe8192";
	case 512: return "MLKEM512";
	case 513: return "MLKEM768";
	case 514: return "MLKEM1024";
	case 0x11eb: return "SecP256r1MLKEM768";
	case 0x11ec: return "X25519MLKEM768";
	case 0x11ed: return "SecP384r1MLKEM1024";
	case 0x6399: return "X25519Kyber768Draft00";
	case 0x639a: return "SecP256r1Kyber768Draft00";
	case 0xff01: return "arbitrary_explicit_prime_curves";
	case 0xff02: return "arbitrary_explicit_char2_curves";
	default: break;
	}
	/* RFC 8701: GREASE values 0x?A?A */
	if ((group & 0x0f0f) == 0x0a0a && (group >> 12) == ((group >> 4) & 0xf))
		return "GREASE";
	return NULL;
}
