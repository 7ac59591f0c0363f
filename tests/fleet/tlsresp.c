/*
 * tlsresp: the fleet's sans-I/O TLS responder (contract in tlsresp.h).
 *
 * Three pure steps, no sockets: tlsresp_parse_ch() reassembles and parses a
 * ClientHello from the bytes received so far (it is re-run on the whole buffer
 * each time, so it keeps no state and gives the same answer however the bytes
 * were split); tlsresp_decide() chooses what a server with a given personality
 * would do (version, suite, group, HelloRetryRequest or rejection) the way
 * OpenSSL-like servers do; tlsresp_build() writes the answer byte by byte. The
 * answer is only as real as a scanner needs: key exchange values are valid
 * looking (curve generator points, DH Ys = 2) and signatures are zeros, since
 * no key is ever derived from them. Suites are classified by a range table of
 * the IANA registry kept here, so the fleet does not depend on the scanner's
 * suite table. tlsresp_wolfssl_capable() asks the installed wolfSSL which
 * suites it has compiled in, once.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "tlsresp.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define TLS_MAX_FRAG           16384 /* RFC 8446 §5.1: plaintext records carry at most 2^14 bytes */
#define REC_HDR                5
#define CT_CCS                 20
#define CT_ALERT               21
#define CT_HANDSHAKE           22
#define CT_APPDATA             23
#define HS_CLIENT_HELLO        1
#define HS_SERVER_HELLO        2
#define HS_CERTIFICATE         11
#define HS_SERVER_KEY_EXCHANGE 12
#define HS_SERVER_HELLO_DONE   14
#define EXT_SERVER_NAME        0x0000
#define EXT_SUPPORTED_GROUPS   0x000a
#define EXT_EC_POINT_FORMATS   0x000b
#define EXT_SUPPORTED_VERSIONS 0x002b
#define EXT_KEY_SHARE          0x0033
#define EXT_RENEGOTIATION_INFO 0xff01
#define SUITE_EMPTY_RENEG_SCSV 0x00ff
#define SUITE_FALLBACK_SCSV    0x5600

/* ---- names ------------------------------------------------------------ */

static const char *const kind_names[] = { "ACCEPT", "HRR", "REJECT" };
static const char *const reject_names[] = { "alert40", "alert70", "close", "reset", "silence" };
_Static_assert(sizeof kind_names / sizeof kind_names[0] == TR_REJECT + 1, "kind_names");
_Static_assert(sizeof reject_names / sizeof reject_names[0] == TR_REJ_SILENCE + 1, "reject_names");

const char *tlsresp_kind_name(enum tr_kind k)
{
	return (unsigned)k <= TR_REJECT ? kind_names[k] : "?";
}

const char *tlsresp_reject_name(enum tr_reject r)
{
	return (unsigned)r <= TR_REJ_SILENCE ? reject_names[r] : "?";
}

/* ---- suite classification (IANA TLS Cipher Suites registry) ----------- */

enum kx {
	KX_UNKNOWN = 0, /* not in the table: answered like static RSA */
	KX_NULL,        /* TLS_NULL_WITH_NULL_NULL */
	KX_RSA,
	KX_DH, /* static DH, DH certificate */
	KX_DHE,
	KX_DH_ANON,
	KX_ECDH, /* static ECDH, EC certificate */
	KX_ECDHE,
	KX_ECDH_ANON,
	KX_PSK,
	KX_DHE_PSK,
	KX_RSA_PSK,
	KX_ECDHE_PSK,
	KX_SRP,
	KX_SRP_CERT, /* SRP_SHA_RSA / SRP_SHA_DSS */
	KX_KRB5,
	KX_TLS13,
	KX_SCSV,
};
enum au { AU_NONE = 0, AU_RSA, AU_DSS, AU_ECDSA };

struct suite_range {
	uint16_t lo, hi;
	uint8_t kx, au;
};

#define R(lo, hi, kx, au)                \
	{                                \
		lo, hi, KX_##kx, AU_##au \
	}
static const struct suite_range suite_ranges[] = {
	R(0x0000, 0x0000, NULL, NONE),
	R(0x0001, 0x000A, RSA, RSA),
	R(0x000B, 0x000D, DH, DSS),
	R(0x000E, 0x0010, DH, RSA),
	R(0x0011, 0x0013, DHE, DSS),
	R(0x0014, 0x0016, DHE, RSA),
	R(0x0017, 0x001B, DH_ANON, NONE),
	R(0x001E, 0x002B, KRB5, NONE),
	R(0x002C, 0x002C, PSK, NONE),
	R(0x002D, 0x002D, DHE_PSK, NONE),
	R(0x002E, 0x002E, RSA_PSK, RSA),
	R(0x002F, 0x002F, RSA, RSA),
	R(0x0030, 0x0030, DH, DSS),
	R(0x0031, 0x0031, DH, RSA),
	R(0x0032, 0x0032, DHE, DSS),
	R(0x0033, 0x0033, DHE, RSA),
	R(0x0034, 0x0034, DH_ANON, NONE),
	R(0x0035, 0x0035, RSA, RSA),
	R(0x0036, 0x0036, DH, DSS),
	R(0x0037, 0x0037, DH, RSA),
	R(0x0038, 0x0038, DHE, DSS),
	R(0x0039, 0x0039, DHE, RSA),
	R(0x003A, 0x003A, DH_ANON, NONE),
	R(0x003B, 0x003D, RSA, RSA),
	R(0x003E, 0x003E, DH, DSS),
	R(0x003F, 0x003F, DH, RSA),
	R(0x0040, 0x0040, DHE, DSS),
	R(0x0041, 0x0041, RSA, RSA),
	R(0x0042, 0x0042, DH, DSS),
	R(0x0043, 0x0043, DH, RSA),
	R(0x0044, 0x0044, DHE, DSS),
	R(0x0045, 0x0045, DHE, RSA),
	R(0x0046, 0x0046, DH_ANON, NONE),
	/* unregistered EXPORT1024 suites of the late 1990s */
	R(0x0060, 0x0062, RSA, RSA),
	R(0x0063, 0x0063, DHE, DSS),
	R(0x0064, 0x0064, RSA, RSA),
	R(0x0065, 0x0066, DHE, DSS),
	R(0x0067, 0x0067, DHE, RSA),
	R(0x0068, 0x0068, DH, DSS),
	R(0x0069, 0x0069, DH, RSA),
	R(0x006A, 0x006A, DHE, DSS),
	R(0x006B, 0x006B, DHE, RSA),
	R(0x006C, 0x006D, DH_ANON, NONE),
	R(0x0084, 0x0084, RSA, RSA),
	R(0x0085, 0x0085, DH, DSS),
	R(0x0086, 0x0086, DH, RSA),
	R(0x0087, 0x0087, DHE, DSS),
	R(0x0088, 0x0088, DHE, RSA),
	R(0x0089, 0x0089, DH_ANON, NONE),
	R(0x008A, 0x008D, PSK, NONE),
	R(0x008E, 0x0091, DHE_PSK, NONE),
	R(0x0092, 0x0095, RSA_PSK, RSA),
	R(0x0096, 0x0096, RSA, RSA),
	R(0x0097, 0x0097, DH, DSS),
	R(0x0098, 0x0098, DH, RSA),
	R(0x0099, 0x0099, DHE, DSS),
	R(0x009A, 0x009A, DHE, RSA),
	R(0x009B, 0x009B, DH_ANON, NONE),
	R(0x009C, 0x009D, RSA, RSA),
	R(0x009E, 0x009F, DHE, RSA),
	R(0x00A0, 0x00A1, DH, RSA),
	R(0x00A2, 0x00A3, DHE, DSS),
	R(0x00A4, 0x00A5, DH, DSS),
	R(0x00A6, 0x00A7, DH_ANON, NONE),
	R(0x00A8, 0x00A9, PSK, NONE),
	R(0x00AA, 0x00AB, DHE_PSK, NONE),
	R(0x00AC, 0x00AD, RSA_PSK, RSA),
	R(0x00AE, 0x00B1, PSK, NONE),
	R(0x00B2, 0x00B5, DHE_PSK, NONE),
	R(0x00B6, 0x00B9, RSA_PSK, RSA),
	R(0x00BA, 0x00BA, RSA, RSA),
	R(0x00BB, 0x00BB, DH, DSS),
	R(0x00BC, 0x00BC, DH, RSA),
	R(0x00BD, 0x00BD, DHE, DSS),
	R(0x00BE, 0x00BE, DHE, RSA),
	R(0x00BF, 0x00BF, DH_ANON, NONE),
	R(0x00C0, 0x00C0, RSA, RSA),
	R(0x00C1, 0x00C1, DH, DSS),
	R(0x00C2, 0x00C2, DH, RSA),
	R(0x00C3, 0x00C3, DHE, DSS),
	R(0x00C4, 0x00C4, DHE, RSA),
	R(0x00C5, 0x00C5, DH_ANON, NONE),
	R(0x00C6, 0x00C7, TLS13, NONE),
	R(0x00FF, 0x00FF, SCSV, NONE),
	R(0x1301, 0x1305, TLS13, NONE),
	R(0x5600, 0x5600, SCSV, NONE),
	R(0xC001, 0xC005, ECDH, ECDSA),
	R(0xC006, 0xC00A, ECDHE, ECDSA),
	R(0xC00B, 0xC00F, ECDH, RSA),
	R(0xC010, 0xC014, ECDHE, RSA),
	R(0xC015, 0xC019, ECDH_ANON, NONE),
	R(0xC01A, 0xC01A, SRP, NONE),
	R(0xC01B, 0xC01B, SRP_CERT, RSA),
	R(0xC01C, 0xC01C, SRP_CERT, DSS),
	R(0xC01D, 0xC01D, SRP, NONE),
	R(0xC01E, 0xC01E, SRP_CERT, RSA),
	R(0xC01F, 0xC01F, SRP_CERT, DSS),
	R(0xC020, 0xC020, SRP, NONE),
	R(0xC021, 0xC021, SRP_CERT, RSA),
	R(0xC022, 0xC022, SRP_CERT, DSS),
	R(0xC023, 0xC024, ECDHE, ECDSA),
	R(0xC025, 0xC026, ECDH, ECDSA),
	R(0xC027, 0xC028, ECDHE, RSA),
	R(0xC029, 0xC02A, ECDH, RSA),
	R(0xC02B, 0xC02C, ECDHE, ECDSA),
	R(0xC02D, 0xC02E, ECDH, ECDSA),
	R(0xC02F, 0xC030, ECDHE, RSA),
	R(0xC031, 0xC032, ECDH, RSA),
	R(0xC033, 0xC03B, ECDHE_PSK, NONE),
	/* ARIA (RFC 6209) */
	R(0xC03C, 0xC03D, RSA, RSA),
	R(0xC03E, 0xC03F, DH, DSS),
	R(0xC040, 0xC041, DH, RSA),
	R(0xC042, 0xC043, DHE, DSS),
	R(0xC044, 0xC045, DHE, RSA),
	R(0xC046, 0xC047, DH_ANON, NONE),
	R(0xC048, 0xC049, ECDHE, ECDSA),
	R(0xC04A, 0xC04B, ECDH, ECDSA),
	R(0xC04C, 0xC04D, ECDHE, RSA),
	R(0xC04E, 0xC04F, ECDH, RSA),
	R(0xC050, 0xC051, RSA, RSA),
	R(0xC052, 0xC053, DHE, RSA),
	R(0xC054, 0xC055, DH, RSA),
	R(0xC056, 0xC057, DHE, DSS),
	R(0xC058, 0xC059, DH, DSS),
	R(0xC05A, 0xC05B, DH_ANON, NONE),
	R(0xC05C, 0xC05D, ECDHE, ECDSA),
	R(0xC05E, 0xC05F, ECDH, ECDSA),
	R(0xC060, 0xC061, ECDHE, RSA),
	R(0xC062, 0xC063, ECDH, RSA),
	R(0xC064, 0xC065, PSK, NONE),
	R(0xC066, 0xC067, DHE_PSK, NONE),
	R(0xC068, 0xC069, RSA_PSK, RSA),
	R(0xC06A, 0xC06B, PSK, NONE),
	R(0xC06C, 0xC06D, DHE_PSK, NONE),
	R(0xC06E, 0xC06F, RSA_PSK, RSA),
	R(0xC070, 0xC071, ECDHE_PSK, NONE),
	/* Camellia (RFC 6367) */
	R(0xC072, 0xC073, ECDHE, ECDSA),
	R(0xC074, 0xC075, ECDH, ECDSA),
	R(0xC076, 0xC077, ECDHE, RSA),
	R(0xC078, 0xC079, ECDH, RSA),
	R(0xC07A, 0xC07B, RSA, RSA),
	R(0xC07C, 0xC07D, DHE, RSA),
	R(0xC07E, 0xC07F, DH, RSA),
	R(0xC080, 0xC081, DHE, DSS),
	R(0xC082, 0xC083, DH, DSS),
	R(0xC084, 0xC085, DH_ANON, NONE),
	R(0xC086, 0xC087, ECDHE, ECDSA),
	R(0xC088, 0xC089, ECDH, ECDSA),
	R(0xC08A, 0xC08B, ECDHE, RSA),
	R(0xC08C, 0xC08D, ECDH, RSA),
	R(0xC08E, 0xC08F, PSK, NONE),
	R(0xC090, 0xC091, DHE_PSK, NONE),
	R(0xC092, 0xC093, RSA_PSK, RSA),
	R(0xC094, 0xC095, PSK, NONE),
	R(0xC096, 0xC097, DHE_PSK, NONE),
	R(0xC098, 0xC099, RSA_PSK, RSA),
	R(0xC09A, 0xC09B, ECDHE_PSK, NONE),
	/* AES-CCM (RFC 6655, RFC 7251) */
	R(0xC09C, 0xC09D, RSA, RSA),
	R(0xC09E, 0xC09F, DHE, RSA),
	R(0xC0A0, 0xC0A1, RSA, RSA),
	R(0xC0A2, 0xC0A3, DHE, RSA),
	R(0xC0A4, 0xC0A5, PSK, NONE),
	R(0xC0A6, 0xC0A7, DHE_PSK, NONE),
	R(0xC0A8, 0xC0A9, PSK, NONE),
	R(0xC0AA, 0xC0AB, DHE_PSK, NONE),
	R(0xC0AC, 0xC0AF, ECDHE, ECDSA),
	R(0xC0B4, 0xC0B5, TLS13, NONE),
	/* ChaCha20-Poly1305: pre-standard (unregistered) and RFC 7905 */
	R(0xCC13, 0xCC13, ECDHE, RSA),
	R(0xCC14, 0xCC14, ECDHE, ECDSA),
	R(0xCC15, 0xCC15, DHE, RSA),
	R(0xCCA8, 0xCCA8, ECDHE, RSA),
	R(0xCCA9, 0xCCA9, ECDHE, ECDSA),
	R(0xCCAA, 0xCCAA, DHE, RSA),
	R(0xCCAB, 0xCCAB, PSK, NONE),
	R(0xCCAC, 0xCCAC, ECDHE_PSK, NONE),
	R(0xCCAD, 0xCCAD, DHE_PSK, NONE),
	R(0xCCAE, 0xCCAE, RSA_PSK, RSA),
	R(0xD001, 0xD005, ECDHE_PSK, NONE),
	/* unregistered SSL_RSA_FIPS_* suites */
	R(0xFEFE, 0xFEFF, RSA, RSA),
	R(0xFFE0, 0xFFE1, RSA, RSA),
};
#undef R

static const struct suite_range *suite_class(uint16_t s)
{
	static const struct suite_range unknown = { 0, 0, KX_UNKNOWN, AU_RSA };
	size_t lo = 0, hi = sizeof suite_ranges / sizeof suite_ranges[0];

	while (lo < hi) { /* the table is sorted by lo */
		size_t mid = (lo + hi) / 2;
		if (s < suite_ranges[mid].lo)
			hi = mid;
		else if (s > suite_ranges[mid].hi)
			lo = mid + 1;
		else
			return &suite_ranges[mid];
	}
	return &unknown;
}

static int kx_is_ecdhe(int kx)
{
	return kx == KX_ECDHE || kx == KX_ECDH_ANON || kx == KX_ECDHE_PSK;
}

static int kx_is_dhe(int kx)
{
	return kx == KX_DHE || kx == KX_DH_ANON || kx == KX_DHE_PSK;
}

/* Server Certificate message: every kx with a certificate (RFC 5246 §7.4.2,
 * RFC 4279 §2 and §4, RFC 5054 §2.5). */
static int kx_sends_cert(int kx)
{
	switch (kx) {
	case KX_DH_ANON:
	case KX_ECDH_ANON:
	case KX_PSK:
	case KX_DHE_PSK:
	case KX_ECDHE_PSK:
	case KX_SRP:
	case KX_KRB5:
	case KX_NULL: return 0;
	default: return 1;
	}
}

/* ---- groups ----------------------------------------------------------- */

/* Uncompressed generator points (SEC 1 §2.3.3) of the curves with a known
 * generator; the server "public key" in the hand-built key exchange. */
static const uint8_t g_p256[] = { 0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5,
				  0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4,
				  0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a,
				  0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33,
				  0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5 };
static const uint8_t g_p384[] = { 0x04, 0xaa, 0x87, 0xca, 0x22, 0xbe, 0x8b, 0x05, 0x37, 0x8e, 0xb1, 0xc7, 0x1e, 0xf3,
				  0x20, 0xad, 0x74, 0x6e, 0x1d, 0x3b, 0x62, 0x8b, 0xa7, 0x9b, 0x98, 0x59, 0xf7, 0x41,
				  0xe0, 0x82, 0x54, 0x2a, 0x38, 0x55, 0x02, 0xf2, 0x5d, 0xbf, 0x55, 0x29, 0x6c, 0x3a,
				  0x54, 0x5e, 0x38, 0x72, 0x76, 0x0a, 0xb7, 0x36, 0x17, 0xde, 0x4a, 0x96, 0x26, 0x2c,
				  0x6f, 0x5d, 0x9e, 0x98, 0xbf, 0x92, 0x92, 0xdc, 0x29, 0xf8, 0xf4, 0x1d, 0xbd, 0x28,
				  0x9a, 0x14, 0x7c, 0xe9, 0xda, 0x31, 0x13, 0xb5, 0xf0, 0xb8, 0xc0, 0x0a, 0x60, 0xb1,
				  0xce, 0x1d, 0x7e, 0x81, 0x9d, 0x7a, 0x43, 0x1d, 0x7c, 0x90, 0xea, 0x0e, 0x5f };
static const uint8_t g_p521[] = { 0x04, 0x00, 0xc6, 0x85, 0x8e, 0x06, 0xb7, 0x04, 0x04, 0xe9, 0xcd, 0x9e, 0x3e, 0xcb,
				  0x66, 0x23, 0x95, 0xb4, 0x42, 0x9c, 0x64, 0x81, 0x39, 0x05, 0x3f, 0xb5, 0x21, 0xf8,
				  0x28, 0xaf, 0x60, 0x6b, 0x4d, 0x3d, 0xba, 0xa1, 0x4b, 0x5e, 0x77, 0xef, 0xe7, 0x59,
				  0x28, 0xfe, 0x1d, 0xc1, 0x27, 0xa2, 0xff, 0xa8, 0xde, 0x33, 0x48, 0xb3, 0xc1, 0x85,
				  0x6a, 0x42, 0x9b, 0xf9, 0x7e, 0x7e, 0x31, 0xc2, 0xe5, 0xbd, 0x66, 0x01, 0x18, 0x39,
				  0x29, 0x6a, 0x78, 0x9a, 0x3b, 0xc0, 0x04, 0x5c, 0x8a, 0x5f, 0xb4, 0x2c, 0x7d, 0x1b,
				  0xd9, 0x98, 0xf5, 0x44, 0x49, 0x57, 0x9b, 0x44, 0x68, 0x17, 0xaf, 0xbd, 0x17, 0x27,
				  0x3e, 0x66, 0x2c, 0x97, 0xee, 0x72, 0x99, 0x5e, 0xf4, 0x26, 0x40, 0xc5, 0x50, 0xb9,
				  0x01, 0x3f, 0xad, 0x07, 0x61, 0x35, 0x3c, 0x70, 0x86, 0xa2, 0x72, 0xc2, 0x40, 0x88,
				  0xbe, 0x94, 0x76, 0x9f, 0xd1, 0x66, 0x50 };
static const uint8_t g_bp256[] = { 0x04, 0x8b, 0xd2, 0xae, 0xb9, 0xcb, 0x7e, 0x57, 0xcb, 0x2c, 0x4b, 0x48, 0x2f,
				   0xfc, 0x81, 0xb7, 0xaf, 0xb9, 0xde, 0x27, 0xe1, 0xe3, 0xbd, 0x23, 0xc2, 0x3a,
				   0x44, 0x53, 0xbd, 0x9a, 0xce, 0x32, 0x62, 0x54, 0x7e, 0xf8, 0x35, 0xc3, 0xda,
				   0xc4, 0xfd, 0x97, 0xf8, 0x46, 0x1a, 0x14, 0x61, 0x1d, 0xc9, 0xc2, 0x77, 0x45,
				   0x13, 0x2d, 0xed, 0x8e, 0x54, 0x5c, 0x1d, 0x54, 0xc7, 0x2f, 0x04, 0x69, 0x97 };

struct group_info {
	uint16_t id;
	uint16_t len;         /* key share / ECPoint length in bytes */
	const uint8_t *point; /* known public value, or NULL: synthesized */
};

/* RFC 8422 §5.1.1, RFC 7027, RFC 8446 §4.2.7, RFC 8734, RFC 7919. */
static const struct group_info group_table[] = {
	{ 1, 43, NULL },     { 2, 43, NULL },    { 3, 43, NULL },     { 4, 51, NULL },    { 5, 51, NULL },
	{ 6, 61, NULL },     { 7, 61, NULL },    { 8, 61, NULL },     { 9, 73, NULL },    { 10, 73, NULL },
	{ 11, 105, NULL },   { 12, 105, NULL },  { 13, 145, NULL },   { 14, 145, NULL },  { 15, 41, NULL },
	{ 16, 41, NULL },    { 17, 41, NULL },   { 18, 49, NULL },    { 19, 49, NULL },   { 20, 57, NULL },
	{ 21, 57, NULL },    { 22, 65, NULL },   { 23, 65, g_p256 },  { 24, 97, g_p384 }, { 25, 133, g_p521 },
	{ 26, 65, g_bp256 }, { 27, 97, NULL },   { 28, 129, NULL },   { 29, 32, NULL },   { 30, 56, NULL },
	{ 31, 65, g_bp256 }, { 32, 97, NULL },   { 33, 129, NULL },   { 256, 256, NULL }, { 257, 384, NULL },
	{ 258, 512, NULL },  { 259, 768, NULL }, { 260, 1024, NULL },
};

static const struct group_info *group_lookup(uint16_t id)
{
	for (size_t i = 0; i < sizeof group_table / sizeof group_table[0]; i++)
		if (group_table[i].id == id)
			return &group_table[i];
	return NULL;
}

/* FFDHE groups (0x0100..0x01FF) exist only for TLS 1.3 key shares and DHE
 * (RFC 7919); an ECDHE suite needs an elliptic curve. */
static int group_is_ec(uint16_t g)
{
	return (g >> 8) != 0x01 && !((g & 0x0f0f) == 0x0a0a && (g >> 8) == (g & 0xff));
}

/* Server public value for group g into out (cap bytes); returns its length. */
static size_t group_public(uint16_t g, uint8_t *out, size_t cap)
{
	const struct group_info *gi = group_lookup(g);
	size_t n = gi ? gi->len : 32;

	if (n > cap)
		return 0;
	if (gi && gi->point) {
		memcpy(out, gi->point, n);
	} else if (g == 29) {
		memset(out, 0, n); /* X25519 base point u = 9 (RFC 7748 §4.1), little endian */
		out[0] = 9;
	} else if (g == 30) {
		memset(out, 0, n); /* X448 base point u = 5 (RFC 7748 §4.2) */
		out[0] = 5;
	} else if (g >= 0x0100 && g <= 0x01ff) {
		memset(out, 0, n); /* FFDHE: y = 2, left-padded to the prime length (RFC 8446 §4.2.8.1) */
		out[n - 1] = 2;
	} else {
		out[0] = 4; /* uncompressed point of the right length */
		for (size_t i = 1; i < n; i++)
			out[i] = (uint8_t)(0x11 * (i % 15 + 1));
	}
	return n;
}

/* RFC 7919 Appendix A.1 ffdhe2048 and RFC 2409 §6.2 Oakley group 2 primes. */
static const uint8_t ffdhe2048_p[256] = {
	0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xAD, 0xF8, 0x54, 0x58, 0xA2, 0xBB, 0x4A, 0x9A, 0xAF, 0xDC,
	0x56, 0x20, 0x27, 0x3D, 0x3C, 0xF1, 0xD8, 0xB9, 0xC5, 0x83, 0xCE, 0x2D, 0x36, 0x95, 0xA9, 0xE1, 0x36, 0x41,
	0x14, 0x64, 0x33, 0xFB, 0xCC, 0x93, 0x9D, 0xCE, 0x24, 0x9B, 0x3E, 0xF9, 0x7D, 0x2F, 0xE3, 0x63, 0x63, 0x0C,
	0x75, 0xD8, 0xF6, 0x81, 0xB2, 0x02, 0xAE, 0xC4, 0x61, 0x7A, 0xD3, 0xDF, 0x1E, 0xD5, 0xD5, 0xFD, 0x65, 0x61,
	0x24, 0x33, 0xF5, 0x1F, 0x5F, 0x06, 0x6E, 0xD0, 0x85, 0x63, 0x65, 0x55, 0x3D, 0xED, 0x1A, 0xF3, 0xB5, 0x57,
	0x13, 0x5E, 0x7F, 0x57, 0xC9, 0x35, 0x98, 0x4F, 0x0C, 0x70, 0xE0, 0xE6, 0x8B, 0x77, 0xE2, 0xA6, 0x89, 0xDA,
	0xF3, 0xEF, 0xE8, 0x72, 0x1D, 0xF1, 0x58, 0xA1, 0x36, 0xAD, 0xE7, 0x35, 0x30, 0xAC, 0xCA, 0x4F, 0x48, 0x3A,
	0x79, 0x7A, 0xBC, 0x0A, 0xB1, 0x82, 0xB3, 0x24, 0xFB, 0x61, 0xD1, 0x08, 0xA9, 0x4B, 0xB2, 0xC8, 0xE3, 0xFB,
	0xB9, 0x6A, 0xDA, 0xB7, 0x60, 0xD7, 0xF4, 0x68, 0x1D, 0x4F, 0x42, 0xA3, 0xDE, 0x39, 0x4D, 0xF4, 0xAE, 0x56,
	0xED, 0xE7, 0x63, 0x72, 0xBB, 0x19, 0x0B, 0x07, 0xA7, 0xC8, 0xEE, 0x0A, 0x6D, 0x70, 0x9E, 0x02, 0xFC, 0xE1,
	0xCD, 0xF7, 0xE2, 0xEC, 0xC0, 0x34, 0x04, 0xCD, 0x28, 0x34, 0x2F, 0x61, 0x91, 0x72, 0xFE, 0x9C, 0xE9, 0x85,
	0x83, 0xFF, 0x8E, 0x4F, 0x12, 0x32, 0xEE, 0xF2, 0x81, 0x83, 0xC3, 0xFE, 0x3B, 0x1B, 0x4C, 0x6F, 0xAD, 0x73,
	0x3B, 0xB5, 0xFC, 0xBC, 0x2E, 0xC2, 0x20, 0x05, 0xC5, 0x8E, 0xF1, 0x83, 0x7D, 0x16, 0x83, 0xB2, 0xC6, 0xF3,
	0x4A, 0x26, 0xC1, 0xB2, 0xEF, 0xFA, 0x88, 0x6B, 0x42, 0x38, 0x61, 0x28, 0x5C, 0x97, 0xFF, 0xFF, 0xFF, 0xFF,
	0xFF, 0xFF, 0xFF, 0xFF
};
static const uint8_t oakley2_p[128] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21,
					0x68, 0xC2, 0x34, 0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02,
					0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74, 0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B,
					0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD, 0xEF, 0x95, 0x19, 0xB3,
					0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37, 0x4F,
					0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E,
					0x7E, 0xC6, 0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x37, 0xED, 0x6B, 0x0B, 0xFF, 0x5C,
					0xB6, 0xF4, 0x06, 0xB7, 0xED, 0xEE, 0x38, 0x6B, 0xFB, 0x5A, 0x89, 0x9F, 0xA5,
					0xAE, 0x9F, 0x24, 0x11, 0x7C, 0x4B, 0x1F, 0xE6, 0x49, 0x28, 0x66, 0x51, 0xEC,
					0xE6, 0x53, 0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };

/* Used when a personality lists no groups: what a default OpenSSL 3 server accepts first. */
static const uint16_t default_groups[] = { 29, 23, 24 };

/* ---- ClientHello parser ----------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static void push16(uint16_t *arr, size_t *n, size_t cap, uint16_t v)
{
	if (*n < cap) /* extra entries are dropped: the arrays hold more than any real client sends */
		arr[(*n)++] = v;
}

static int parse_extension(uint16_t type, const uint8_t *e, size_t n, struct client_hello *ch)
{
	size_t i, l;

	switch (type) {
	case EXT_SERVER_NAME: /* RFC 6066 §3 */
		if (n < 2 || rd16(e) != n - 2 || n == 2)
			return -1;
		for (i = 2; i < n;) {
			if (n - i < 3)
				return -1;
			l = rd16(e + i + 1);
			if (l == 0 || n - i - 3 < l)
				return -1;
			if (e[i] == 0 && ch->sni[0] == '\0') {
				size_t c = l < sizeof ch->sni - 1 ? l : sizeof ch->sni - 1;
				memcpy(ch->sni, e + i + 3, c);
				ch->sni[c] = '\0';
			}
			i += 3 + l;
		}
		return 0;
	case EXT_SUPPORTED_GROUPS: /* RFC 8422 §5.1.1 */
		if (n < 2 || rd16(e) != n - 2 || (n & 1) || n == 2)
			return -1;
		for (i = 2; i < n; i += 2)
			push16(ch->groups, &ch->ngroups, sizeof ch->groups / sizeof ch->groups[0], rd16(e + i));
		return 0;
	case EXT_SUPPORTED_VERSIONS: /* RFC 8446 §4.2.1 */
		if (n < 1 || e[0] != n - 1 || (e[0] & 1) || e[0] == 0)
			return -1;
		for (i = 1; i < n; i += 2)
			push16(ch->versions, &ch->nversions, sizeof ch->versions / sizeof ch->versions[0], rd16(e + i));
		return 0;
	case EXT_KEY_SHARE: /* RFC 8446 §4.2.8: an empty client_shares list is legal */
		if (n < 2 || rd16(e) != n - 2)
			return -1;
		ch->has_key_share_ext = 1;
		for (i = 2; i < n;) {
			if (n - i < 4)
				return -1;
			l = rd16(e + i + 2);
			if (l == 0 || n - i - 4 < l)
				return -1;
			push16(ch->key_shares, &ch->nkey_shares, sizeof ch->key_shares / sizeof ch->key_shares[0],
			       rd16(e + i));
			i += 4 + l;
		}
		return 0;
	case EXT_EC_POINT_FORMATS:
		if (n < 2 || e[0] != n - 1)
			return -1;
		ch->has_ec_point_formats = 1;
		return 0;
	case EXT_RENEGOTIATION_INFO: /* RFC 5746 §3.2 */
		if (n < 1 || e[0] != n - 1)
			return -1;
		ch->has_reneg_info = 1;
		return 0;
	default: return 0;
	}
}

/* ClientHello body (RFC 5246 §7.4.1.2, RFC 8446 §4.1.2). */
static int parse_hello_body(const uint8_t *b, size_t n, struct client_hello *ch)
{
	size_t pos = 0, l;
	unsigned seen = 0;

	if (n < 2 + 32 + 1)
		return -1;
	ch->legacy_version = rd16(b);
	if (b[0] != 3)
		return -1;
	pos = 34;
	l = b[pos++];
	if (l > 32 || n - pos < l)
		return -1;
	memcpy(ch->session_id, b + pos, l);
	ch->session_id_len = (uint8_t)l;
	pos += l;

	if (n - pos < 2)
		return -1;
	l = rd16(b + pos);
	pos += 2;
	if (l < 2 || (l & 1) || n - pos < l)
		return -1;
	for (size_t i = 0; i < l; i += 2) {
		uint16_t s = rd16(b + pos + i);
		if (s == SUITE_FALLBACK_SCSV)
			ch->has_fallback_scsv = 1;
		if (s == SUITE_EMPTY_RENEG_SCSV)
			ch->has_reneg_info = 1;
		push16(ch->suites, &ch->nsuites, TR_CH_MAX_SUITES, s);
	}
	pos += l;

	if (n - pos < 1)
		return -1;
	l = b[pos++];
	if (l < 1 || n - pos < l)
		return -1;
	pos += l;

	if (pos == n) /* SSLv3 and early TLS clients may send no extensions at all */
		return 0;
	if (n - pos < 2 || rd16(b + pos) != n - pos - 2)
		return -1;
	pos += 2;
	while (pos < n) {
		uint16_t type;
		unsigned bit = 0;
		if (n - pos < 4)
			return -1;
		type = rd16(b + pos);
		l = rd16(b + pos + 2);
		pos += 4;
		if (n - pos < l)
			return -1;
		switch (type) { /* RFC 8446 §4.2: no extension type twice */
		case EXT_SERVER_NAME: bit = 1; break;
		case EXT_SUPPORTED_GROUPS: bit = 2; break;
		case EXT_SUPPORTED_VERSIONS: bit = 4; break;
		case EXT_KEY_SHARE: bit = 8; break;
		case EXT_EC_POINT_FORMATS: bit = 16; break;
		case EXT_RENEGOTIATION_INFO: bit = 32; break;
		}
		if (seen & bit)
			return -1;
		seen |= bit;
		if (parse_extension(type, b + pos, l, ch) < 0)
			return -1;
		pos += l;
	}
	return 0;
}

int tlsresp_parse_ch(const uint8_t *buf, size_t len, struct client_hello *ch, size_t *consumed)
{
	static _Thread_local uint8_t hs[4 + TR_CH_MAX]; /* reassembled handshake message */
	size_t pos = 0, hslen = 0;
	uint16_t first_ver = 0;

	memset(ch, 0, sizeof *ch);
	for (;;) {
		size_t rlen;
		if (len - pos < 1)
			return 0;
		/* An SSLv2-format hello starts with a length byte that has the top bit
		 * set (SSLv2 §"Record Header"); TLS content types are 20..23. */
		if (buf[pos] != CT_HANDSHAKE && !(buf[pos] == CT_CCS && hslen == 0))
			return -1;
		if (len - pos >= 2 && buf[pos + 1] != 3)
			return -1;
		if (len - pos < REC_HDR)
			return 0;
		rlen = rd16(buf + pos + 3);
		if (buf[pos] == CT_CCS) {
			/* A dummy ChangeCipherSpec may precede the second ClientHello after
			 * a HelloRetryRequest (RFC 8446 Appendix D.4): skip it. */
			if (rlen != 1)
				return -1;
			if (len - pos < REC_HDR + 1)
				return 0;
			if (buf[pos + REC_HDR] != 1)
				return -1;
			pos += REC_HDR + 1;
			continue;
		}
		if (rlen == 0) /* RFC 5246 §6.2.1: no empty handshake fragments */
			return -1;
		if (rlen > TR_CH_MAX)
			return -2;
		if (len - pos - REC_HDR < rlen)
			return 0;
		if (hslen == 0)
			first_ver = rd16(buf + pos + 1);
		if (hslen + rlen > sizeof hs)
			return -2;
		memcpy(hs + hslen, buf + pos + REC_HDR, rlen);
		hslen += rlen;
		pos += REC_HDR + rlen;
		if (hs[0] != HS_CLIENT_HELLO)
			return -1;
		if (hslen >= 4) {
			size_t body = rd24(hs + 1);
			if (body > TR_CH_MAX)
				return -2;
			if (hslen > 4 + body) /* something after the hello in its last record */
				return -1;
			if (hslen == 4 + body) {
				if (parse_hello_body(hs + 4, body, ch) < 0) {
					memset(ch, 0, sizeof *ch);
					return -1;
				}
				ch->record_version = first_ver;
				*consumed = pos;
				return 1;
			}
		}
	}
}

/* ---- decision --------------------------------------------------------- */

static int vidx(uint16_t v)
{
	return v >= 0x0300 && v <= 0x0304 ? v - 0x0300 : -1;
}

static int has16(const uint16_t *a, size_t n, uint16_t v)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] == v)
			return 1;
	return 0;
}

static void reject(struct tls_decision *d, enum tr_reject how, uint8_t alert)
{
	d->kind = TR_REJECT;
	d->reject = how;
	d->alert = how == TR_REJ_ALERT40 || how == TR_REJ_ALERT70 ? alert : 0;
}

/* Reject as configured for an unacceptable hello: the alert number follows
 * the configured alert kind. */
static void reject_configured(struct tls_decision *d, const struct tls_personality *p)
{
	reject(d, p->on_reject, p->on_reject == TR_REJ_ALERT70 ? 70 : 40);
}

/* First group in the preferred order (server's when server_pref) that both
 * sides accept; with ec_only, elliptic curves only; with need_share, only a
 * group the client sent a key share for. 0 when none. A client without
 * supported_groups accepts any curve for TLS <= 1.2 (RFC 8422 §4). */
static uint16_t pick_group(const struct tls_personality *p, const struct client_hello *ch, int ec_only, int need_share,
			   int absent_means_any)
{
	const uint16_t *ours = p->ngroups ? p->groups : default_groups;
	size_t nours = p->ngroups ? p->ngroups : sizeof default_groups / sizeof default_groups[0];
	const uint16_t *a = p->server_pref ? ours : ch->groups;
	size_t na = p->server_pref ? nours : ch->ngroups;
	const uint16_t *b = p->server_pref ? ch->groups : ours;
	size_t nb = p->server_pref ? ch->ngroups : nours;

	if (ch->ngroups == 0) {
		if (!absent_means_any)
			return 0;
		a = ours, na = nours, b = NULL, nb = 0;
	}
	for (size_t i = 0; i < na; i++) {
		uint16_t g = a[i];
		if (b && !has16(b, nb, g))
			continue;
		if (ec_only && !group_is_ec(g))
			continue;
		if (need_share && !has16(ch->key_shares, ch->nkey_shares, g))
			continue;
		return g;
	}
	return 0;
}

/* Is suite s negotiable in version index v? Sets *group for ECDHE suites. */
static int suite_usable(const struct tls_personality *p, const struct client_hello *ch, int v, uint16_t s,
			uint16_t *group)
{
	int kx = suite_class(s)->kx;

	*group = 0;
	if (kx == KX_SCSV)
		return 0;
	if ((v == 4) != (kx == KX_TLS13))
		return 0;
	if (v < 4 && kx_is_ecdhe(kx)) {
		/* No common curve: skip the suite, as OpenSSL does (RFC 8422 §5.1). */
		*group = pick_group(p, ch, 1, 0, 1);
		return *group != 0;
	}
	return 1;
}

void tlsresp_decide(const struct tls_personality *p, const struct client_hello *ch, struct tls_decision *d)
{
	int ourmax = -1, v = -1, clientmax = -1;
	uint16_t suite = 0, group = 0;
	int found = 0;

	memset(d, 0, sizeof *d);
	for (int i = TR_NVERS - 1; i >= 0; i--)
		if (p->nsuites[i] > 0) {
			ourmax = i;
			break;
		}

	if (ch->nversions > 0 && ourmax == 4) {
		/* RFC 8446 §4.2.1: supported_versions overrides legacy_version. */
		for (size_t i = 0; i < ch->nversions; i++) {
			int k = vidx(ch->versions[i]);
			if (k > clientmax)
				clientmax = k;
			if (k >= 0 && p->nsuites[k] > 0 && k > v)
				v = k;
		}
	} else {
		/* RFC 5246 Appendix E.1: the highest version we support that is not
		 * above the client's; TLS 1.3 needs supported_versions. */
		uint16_t lv = ch->legacy_version > 0x0303 ? 0x0303 : ch->legacy_version;
		clientmax = vidx(lv);
		if (ch->nversions > 0)
			for (size_t i = 0; i < ch->nversions; i++)
				if (vidx(ch->versions[i]) > clientmax)
					clientmax = vidx(ch->versions[i]);
		for (int k = vidx(lv) < ourmax ? vidx(lv) : ourmax; k >= 0; k--)
			if (p->nsuites[k] > 0) {
				v = k;
				break;
			}
	}
	if (v < 0) {
		enum tr_reject how = p->on_reject;
		if (how == TR_REJ_ALERT40)
			how = TR_REJ_ALERT70;
		reject(d, how, 70); /* protocol_version */
		return;
	}
	d->version = (uint16_t)(0x0300 + v);

	/* RFC 7507 §3: a fallback below our best version is refused. */
	if (p->honour_fallback_scsv && ch->has_fallback_scsv && clientmax < ourmax) {
		reject(d, TR_REJ_ALERT40, 86); /* inappropriate_fallback */
		return;
	}

	if (p->server_pref) {
		for (size_t i = 0; i < p->nsuites[v] && !found; i++)
			if (has16(ch->suites, ch->nsuites, p->suites[v][i]) &&
			    suite_usable(p, ch, v, p->suites[v][i], &group)) {
				suite = p->suites[v][i];
				found = 1;
			}
	} else {
		for (size_t i = 0; i < ch->nsuites && !found; i++)
			if (has16(p->suites[v], p->nsuites[v], ch->suites[i]) &&
			    suite_usable(p, ch, v, ch->suites[i], &group)) {
				suite = ch->suites[i];
				found = 1;
			}
	}
	if (!found) {
		reject_configured(d, p);
		return;
	}
	d->suite = suite;
	d->group = group;

	if (v == 4) {
		/* RFC 8446 §4.1.1: take a group the client already sent a share for;
		 * if it sent none acceptable, ask for one with HelloRetryRequest. */
		uint16_t with_share = pick_group(p, ch, 0, 1, 0);
		uint16_t any = pick_group(p, ch, 0, 0, 0);
		if (any == 0) {
			d->suite = 0;
			reject_configured(d, p);
			return;
		}
		d->group = with_share ? with_share : any;
		d->kind = with_share ? TR_ACCEPT : TR_HRR;
		return;
	}
	d->kind = TR_ACCEPT;
}

/* ---- answer builder --------------------------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t cap, len;
	int err;
};

static uint8_t *wspace(struct wbuf *w, size_t n)
{
	uint8_t *r;
	if (w->err || w->cap - w->len < n) {
		w->err = 1;
		return NULL;
	}
	r = w->p + w->len;
	w->len += n;
	return r;
}

static void put8(struct wbuf *w, size_t v)
{
	uint8_t *q = wspace(w, 1);
	if (q)
		q[0] = (uint8_t)v;
}

static void put16(struct wbuf *w, size_t v)
{
	uint8_t *q = wspace(w, 2);
	if (q)
		q[0] = (uint8_t)(v >> 8), q[1] = (uint8_t)v;
}

static void put24(struct wbuf *w, size_t v)
{
	uint8_t *q = wspace(w, 3);
	if (q)
		q[0] = (uint8_t)(v >> 16), q[1] = (uint8_t)(v >> 8), q[2] = (uint8_t)v;
}

static void putn(struct wbuf *w, const void *src, size_t n)
{
	uint8_t *q = wspace(w, n);
	if (q && n)
		memcpy(q, src, n);
}

static void putfill(struct wbuf *w, uint8_t byte, size_t n)
{
	uint8_t *q = wspace(w, n);
	if (q)
		memset(q, byte, n);
}

/* Open a length field of 'width' bytes; close_len() fills it in. */
static size_t open_len(struct wbuf *w, int width)
{
	size_t at = w->len;
	putfill(w, 0, (size_t)width);
	return at;
}

static void close_len(struct wbuf *w, size_t at, int width)
{
	size_t n;
	if (w->err)
		return;
	n = w->len - at - (size_t)width;
	for (int i = width - 1; i >= 0; i--, n >>= 8)
		w->p[at + (size_t)i] = (uint8_t)n;
}

static void fill_random(uint8_t *out, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(out + got, n - got, GRND_NONBLOCK);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < n) { /* no entropy yet: any bytes do, nothing secret depends on them */
		uint64_t x = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)out ^ 0x9e3779b97f4a7c15u;
		for (; got < n; got++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			out[got] = (uint8_t)x;
		}
	}
}

/* RFC 8446 §4.1.3 */
static const uint8_t hrr_random[32] = { 0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C,
					0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB,
					0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C };
static const uint8_t downgrade_sentinel[7] = { 0x44, 0x4F, 0x57, 0x4E, 0x47, 0x52, 0x44 };

static int personality_max(const struct tls_personality *p)
{
	for (int i = TR_NVERS - 1; i >= 0; i--)
		if (p->nsuites[i] > 0)
			return i;
	return -1;
}

/* ServerHello or HelloRetryRequest (RFC 5246 §7.4.1.3, RFC 8446 §4.1.3-4). */
static void put_server_hello(struct wbuf *w, const struct tls_personality *p, const struct client_hello *ch,
			     const struct tls_decision *d)
{
	uint8_t random[32], sid[32];
	int tls13 = d->version == 0x0304 || d->kind == TR_HRR;
	int ourmax = personality_max(p);
	size_t hl, el;

	put8(w, HS_SERVER_HELLO);
	hl = open_len(w, 3);
	put16(w, tls13 ? 0x0303 : d->version);
	if (d->kind == TR_HRR) {
		memcpy(random, hrr_random, sizeof random);
	} else {
		fill_random(random, sizeof random);
		/* RFC 8446 §4.1.3: downgrade protection sentinel in the last 8 bytes. */
		if (!tls13 && ourmax == 4 && d->version == 0x0303) {
			memcpy(random + 24, downgrade_sentinel, 7);
			random[31] = 1;
		} else if (!tls13 && ourmax >= 3 && d->version < 0x0303) {
			memcpy(random + 24, downgrade_sentinel, 7);
			random[31] = 0;
		}
	}
	putn(w, random, sizeof random);
	if (tls13) {
		/* RFC 8446 §4.1.3: legacy_session_id_echo */
		put8(w, ch->session_id_len);
		putn(w, ch->session_id, ch->session_id_len);
	} else {
		/* A new session: a fresh id (echoing the client's would announce resumption). */
		fill_random(sid, sizeof sid);
		put8(w, sizeof sid);
		putn(w, sid, sizeof sid);
	}
	put16(w, d->suite);
	put8(w, 0); /* compression: null */

	if (tls13) {
		el = open_len(w, 2);
		put16(w, EXT_SUPPORTED_VERSIONS);
		put16(w, 2);
		put16(w, 0x0304);
		put16(w, EXT_KEY_SHARE);
		if (d->kind == TR_HRR) {
			put16(w, 2);
			put16(w, d->group); /* selected_group */
		} else {
			uint8_t pub[1024];
			size_t n = group_public(d->group, pub, sizeof pub);
			put16(w, 4 + n);
			put16(w, d->group);
			put16(w, n);
			putn(w, pub, n);
		}
		close_len(w, el, 2);
	} else if (d->version >= 0x0301) {
		/* SSLv3 ServerHellos carry no extensions; later ones only those the client offered. */
		int ecc = kx_is_ecdhe(suite_class(d->suite)->kx) || suite_class(d->suite)->kx == KX_ECDH;
		if (ch->has_reneg_info || (ecc && ch->has_ec_point_formats)) {
			el = open_len(w, 2);
			if (ch->has_reneg_info) {
				put16(w, EXT_RENEGOTIATION_INFO);
				put16(w, 1);
				put8(w, 0); /* empty renegotiated_connection (RFC 5746 §3.6) */
			}
			if (ecc && ch->has_ec_point_formats) {
				put16(w, EXT_EC_POINT_FORMATS);
				put16(w, 2);
				put8(w, 1);
				put8(w, 0); /* uncompressed */
			}
			close_len(w, el, 2);
		}
	}
	close_len(w, hl, 3);
}

static void put_certificate(struct wbuf *w, const struct tls_personality *p)
{
	size_t hl, ll;
	int n = p->ncerts < 0 ? 0 : p->ncerts > TR_MAX_CERTS ? TR_MAX_CERTS : p->ncerts;

	put8(w, HS_CERTIFICATE);
	hl = open_len(w, 3);
	ll = open_len(w, 3);
	for (int i = 0; i < n; i++) {
		if (!p->cert_der[i])
			continue;
		put24(w, p->cert_len[i]);
		putn(w, p->cert_der[i], p->cert_len[i]);
	}
	close_len(w, ll, 3);
	close_len(w, hl, 3);
}

/* The signature closing a ServerKeyExchange: never verified by the scanner,
 * so zeros of the right shape (RFC 5246 §7.4.3, §4.7; RFC 8422 §5.4). */
static void put_signature(struct wbuf *w, uint16_t version, int au)
{
	static const uint8_t der_sig[] = { 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01 };

	if (version >= 0x0303) {
		put8(w, 4); /* SignatureAndHashAlgorithm: sha256 with rsa(1), dsa(2), ecdsa(3) */
		put8(w, au == AU_RSA ? 1 : au == AU_DSS ? 2 : 3);
	}
	if (au == AU_RSA) {
		put16(w, 256);
		putfill(w, 0, 256);
	} else {
		put16(w, sizeof der_sig);
		putn(w, der_sig, sizeof der_sig);
	}
}

static void put_server_key_exchange(struct wbuf *w, const struct tls_personality *p, const struct tls_decision *d,
				    int kx, int au)
{
	size_t hl;

	put8(w, HS_SERVER_KEY_EXCHANGE);
	hl = open_len(w, 3);
	if (kx == KX_DHE_PSK || kx == KX_ECDHE_PSK)
		put16(w, 0); /* empty psk_identity_hint (RFC 4279 §3, RFC 5489 §2) */
	if (kx_is_ecdhe(kx)) {
		uint8_t pub[256];
		size_t n = group_public(d->group, pub, sizeof pub);
		put8(w, 3); /* curve_type: named_curve */
		put16(w, d->group);
		put8(w, n);
		putn(w, pub, n);
	} else {
		const uint8_t *prime = p->dh_bits == 1024 ? oakley2_p : ffdhe2048_p;
		size_t plen = p->dh_bits == 1024 ? sizeof oakley2_p : sizeof ffdhe2048_p;
		put16(w, plen);
		putn(w, prime, plen);
		put16(w, 1);
		put8(w, 2); /* g */
		put16(w, plen);
		putfill(w, 0, plen - 1);
		put8(w, 2); /* Ys = 2, padded to the prime's length */
	}
	if (kx == KX_DHE || kx == KX_ECDHE)
		put_signature(w, d->version, au);
	close_len(w, hl, 3);
}

/* Wrap hslen bytes of handshake data that sit at out + REC_HDR into records
 * of at most 2^14 bytes, in place. Returns the total length or -1. */
static long wrap_records(uint8_t *out, size_t cap, size_t hslen, uint8_t type, uint16_t ver)
{
	size_t nrec = hslen ? (hslen + TLS_MAX_FRAG - 1) / TLS_MAX_FRAG : 1;
	size_t total = hslen + REC_HDR * nrec;

	if (total > cap)
		return -1;
	for (size_t k = nrec; k-- > 0;) { /* last first, so nothing is overwritten before it moves */
		size_t off = k * TLS_MAX_FRAG;
		size_t fl = hslen - off < TLS_MAX_FRAG ? hslen - off : TLS_MAX_FRAG;
		uint8_t *h = out + REC_HDR * k + off;
		memmove(h + REC_HDR, out + REC_HDR + off, fl);
		h[0] = type;
		h[1] = (uint8_t)(ver >> 8), h[2] = (uint8_t)ver;
		h[3] = (uint8_t)(fl >> 8), h[4] = (uint8_t)fl;
	}
	return (long)total;
}

static long put_record(uint8_t *out, size_t cap, uint8_t type, uint16_t ver, const uint8_t *body, size_t n)
{
	if (cap < REC_HDR + n)
		return -1;
	out[0] = type;
	out[1] = (uint8_t)(ver >> 8), out[2] = (uint8_t)ver;
	out[3] = (uint8_t)(n >> 8), out[4] = (uint8_t)n;
	memcpy(out + REC_HDR, body, n);
	return (long)(REC_HDR + n);
}

long tlsresp_build(const struct tls_personality *p, const struct client_hello *ch, const struct tls_decision *d,
		   uint8_t *out, size_t cap)
{
	struct wbuf w;
	uint16_t recver;
	size_t sh_len;
	long n, total;
	int tls13, kx, au;

	if (d->kind == TR_REJECT) {
		uint8_t alert[2] = { 2, d->alert }; /* fatal (RFC 5246 §7.2) */
		if (d->reject != TR_REJ_ALERT40 && d->reject != TR_REJ_ALERT70)
			return 0;
		recver = d->version ? d->version : ch->record_version;
		if (recver > 0x0303)
			recver = 0x0303;
		if (recver < 0x0300)
			recver = 0x0300;
		return put_record(out, cap, CT_ALERT, recver, alert, sizeof alert);
	}

	tls13 = d->version == 0x0304 || d->kind == TR_HRR;
	recver = tls13 ? 0x0303 : d->version; /* RFC 8446 §5.1: legacy_record_version */
	kx = suite_class(d->suite)->kx;
	au = suite_class(d->suite)->au;
	if (cap < REC_HDR)
		return -1;
	w = (struct wbuf){ out + REC_HDR, cap - REC_HDR, 0, 0 };

	put_server_hello(&w, p, ch, d);
	sh_len = w.len;
	if (!tls13) {
		if (kx_sends_cert(kx))
			put_certificate(&w, p);
		if (kx_is_ecdhe(kx) || kx_is_dhe(kx))
			put_server_key_exchange(&w, p, d, kx, au);
		put8(&w, HS_SERVER_HELLO_DONE);
		put24(&w, 0);
	}
	if (w.err)
		return -1;

	if (p->lying_lengths == 2) {
		/* session_id length says 200 inside a ServerHello whose record and
		 * handshake lengths are right */
		out[REC_HDR + 4 + 2 + 32] = 200;
	} else if (p->lying_lengths == 3) {
		/* the ServerHello's handshake length claims 1000 bytes more than its
		 * record holds, and nothing follows */
		size_t claimed = sh_len - 4 + 1000;
		out[REC_HDR + 1] = (uint8_t)(claimed >> 16);
		out[REC_HDR + 2] = (uint8_t)(claimed >> 8);
		out[REC_HDR + 3] = (uint8_t)claimed;
		return wrap_records(out, cap, sh_len, CT_HANDSHAKE, recver);
	} else if (p->lying_lengths) {
		/* a record header claiming 16000 bytes followed by only 20 */
		out[0] = CT_HANDSHAKE;
		out[1] = (uint8_t)(recver >> 8), out[2] = (uint8_t)recver;
		out[3] = 16000 >> 8, out[4] = 16000 & 0xff;
		return REC_HDR + 20;
	}

	total = wrap_records(out, cap, tls13 ? sh_len : w.len, CT_HANDSHAKE, recver);
	if (total < 0 || !tls13)
		return total;

	/* TLS 1.3: middlebox-compatibility ChangeCipherSpec when the client sent a
	 * session id (RFC 8446 Appendix D.4), then, after a real ServerHello, one
	 * opaque record standing for the encrypted rest of the flight. */
	if (ch->session_id_len > 0) {
		static const uint8_t ccs = 1;
		n = put_record(out + total, cap - (size_t)total, CT_CCS, 0x0303, &ccs, 1);
		if (n < 0)
			return -1;
		total += n;
	}
	if (d->kind == TR_ACCEPT) {
		uint8_t junk[64];
		fill_random(junk, sizeof junk);
		n = put_record(out + total, cap - (size_t)total, CT_APPDATA, 0x0303, junk, sizeof junk);
		if (n < 0)
			return -1;
		total += n;
	}
	return total;
}

/* ---- what the fleet's wolfSSL server can do --------------------------- */

#define WCAP_MAX 256
static struct {
	uint16_t code;
	uint8_t vmask; /* bit vidx */
} wcap[WCAP_MAX];
static size_t nwcap;
static pthread_once_t wcap_once = PTHREAD_ONCE_INIT;

static void wcap_init(void)
{
	/* Ask wolfSSL for the IANA name of every code: it names only the suites
	 * it was built with ("NONE" otherwise). Debian's 5.5.4 has no static-RSA
	 * suites (RECIPES §1.2). PSK, anon and static (EC)DH suites are left out:
	 * the fleet configures no PSK, does not enable anon, has no DH certs. */
	for (unsigned c = 0; c <= 0xffff && nwcap < WCAP_MAX; c++) {
		const char *name = wolfSSL_get_cipher_name_iana_from_suite((unsigned char)(c >> 8), (unsigned char)c);
		int kx = suite_class((uint16_t)c)->kx;
		uint8_t mask;
		if (!name || strncmp(name, "TLS_", 4) != 0)
			continue;
		switch (kx) {
		case KX_TLS13:
			if ((c >> 8) != 0x13) /* integrity-only / SM suites need extra config */
				continue;
			mask = 1u << 4;
			break;
		case KX_RSA:
		case KX_DHE:
		case KX_ECDHE:
			/* AEAD and SHA-2 suites are TLS 1.2 only (RFC 5246 §1.2) */
			mask = 1u << 3;
			if (!strstr(name, "GCM") && !strstr(name, "CCM") && !strstr(name, "CHACHA") &&
			    !strstr(name, "SHA256") && !strstr(name, "SHA384"))
				mask |= 1u << 2;
			break;
		default: continue;
		}
		wcap[nwcap].code = (uint16_t)c;
		wcap[nwcap].vmask = mask;
		nwcap++;
	}
}

int tlsresp_wolfssl_capable(uint16_t version, uint16_t suite)
{
	int v = vidx(version);

	if (v < 2) /* wolfSSL here has neither SSLv3 nor TLS 1.0 (RECIPES §1.1) */
		return 0;
	pthread_once(&wcap_once, wcap_init);
	for (size_t i = 0; i < nwcap; i++)
		if (wcap[i].code == suite)
			return (wcap[i].vmask >> v) & 1;
	return 0;
}
