/*
 * fconf: parser of the fleet's personality files (format: datasets/fleet/README.md).
 *
 * The parser is line-oriented and strict: an unknown key, a bad value, an
 * address outside 127.0.0.0/8 and ::1, or an unknown suite name is an error
 * naming the file and line, because a silently ignored knob would make the
 * fleet's ground truth (the manifest) lie. Suite lists may name presets
 * (modern, intermediate, legacy, export, weak, all-tls13); presets are
 * filtered to the suites valid in each version and matching the certificate's
 * key type, explicit IANA names are not filtered silently.
 */
#include "fleet/fconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mxscan/hello.h"
#include "mxscan/suites.h"

#define FC_MAX_LINE    4096
#define FC_MAX_INCLUDE 8
#define FC_RANGE_MAX   65536 /* addresses in one assign range */

static const char *const starttls_names[] = { "offered", "absent", "refuse454", "strip", "error500" };
_Static_assert(sizeof(starttls_names) / sizeof(starttls_names[0]) == FC_STARTTLS__COUNT, "starttls_names");
const char *fc_starttls_name(enum fc_starttls s)
{
	return (unsigned)s < FC_STARTTLS__COUNT ? starttls_names[s] : "unknown";
}

static const char *const banner_names[] = { "normal",  "trickle",    "endless",    "huge_line",
					    "garbage", "banner_421", "banner_554", "reset" };
_Static_assert(sizeof(banner_names) / sizeof(banner_names[0]) == FC_BANNER__COUNT, "banner_names");
const char *fc_banner_name(enum fc_banner b)
{
	return (unsigned)b < FC_BANNER__COUNT ? banner_names[b] : "unknown";
}

static const char *const reject_names[] = { "alert40", "alert70", "close", "reset", "silence" };
_Static_assert(sizeof(reject_names) / sizeof(reject_names[0]) == TR_REJ_SILENCE + 1, "reject_names");
const char *fconf_reject_name(enum tr_reject r)
{
	return (unsigned)r <= TR_REJ_SILENCE ? reject_names[r] : "unknown";
}

static const char *const version_names[TR_NVERS] = { "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3" };
const char *fconf_version_name(int vi)
{
	return vi >= 0 && vi < TR_NVERS ? version_names[vi] : "unknown";
}
uint16_t fconf_version_wire(int vi)
{
	return (uint16_t)(TLS_SSL3 + vi);
}

static const struct {
	const char *name;
	uint16_t code;
} group_table[] = {
	{ "x25519", GROUP_X25519 },       { "secp256r1", GROUP_SECP256R1 }, { "secp384r1", GROUP_SECP384R1 },
	{ "secp521r1", GROUP_SECP521R1 }, { "x448", GROUP_X448 },           { "ffdhe2048", GROUP_FFDHE2048 },
	{ "ffdhe3072", GROUP_FFDHE3072 }, { "ffdhe4096", GROUP_FFDHE4096 }, { "prime256v1", GROUP_SECP256R1 },
	{ "P-256", GROUP_SECP256R1 },     { "P-384", GROUP_SECP384R1 },     { "P-521", GROUP_SECP521R1 },
};
const char *fconf_group_name(uint16_t group)
{
	for (size_t i = 0; i < sizeof(group_table) / sizeof(group_table[0]); i++)
		if (group_table[i].code == group)
			return group_table[i].name;
	return "unknown";
}

/* Suite presets, in server preference order. "{au}" is replaced by the
 * certificate's key type (RSA or ECDSA). */
static const char *const preset_modern[] = { "TLS_AES_128_GCM_SHA256",
					     "TLS_AES_256_GCM_SHA384",
					     "TLS_CHACHA20_POLY1305_SHA256",
					     "TLS_ECDHE_{au}_WITH_AES_128_GCM_SHA256",
					     "TLS_ECDHE_{au}_WITH_AES_256_GCM_SHA384",
					     "TLS_ECDHE_{au}_WITH_CHACHA20_POLY1305_SHA256",
					     NULL };
static const char *const preset_intermediate[] = { "TLS_AES_128_GCM_SHA256",
						   "TLS_AES_256_GCM_SHA384",
						   "TLS_CHACHA20_POLY1305_SHA256",
						   "TLS_ECDHE_{au}_WITH_AES_128_GCM_SHA256",
						   "TLS_ECDHE_{au}_WITH_AES_256_GCM_SHA384",
						   "TLS_ECDHE_{au}_WITH_CHACHA20_POLY1305_SHA256",
						   "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
						   "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
						   "TLS_ECDHE_{au}_WITH_AES_128_CBC_SHA256",
						   "TLS_ECDHE_{au}_WITH_AES_128_CBC_SHA",
						   "TLS_ECDHE_{au}_WITH_AES_256_CBC_SHA",
						   "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
						   "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
						   "TLS_RSA_WITH_AES_128_GCM_SHA256",
						   "TLS_RSA_WITH_AES_256_GCM_SHA384",
						   "TLS_RSA_WITH_AES_128_CBC_SHA",
						   "TLS_RSA_WITH_AES_256_CBC_SHA",
						   "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
						   NULL };
static const char *const preset_legacy[] = { "TLS_RSA_WITH_AES_256_CBC_SHA",  "TLS_RSA_WITH_AES_128_CBC_SHA",
					     "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_RC4_128_SHA",
					     "TLS_RSA_WITH_RC4_128_MD5",      "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
					     "TLS_RSA_WITH_DES_CBC_SHA",      NULL };
static const char *const preset_export[] = { "TLS_RSA_EXPORT_WITH_RC4_40_MD5", "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
					     "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
					     "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", NULL };
static const char *const preset_weak[] = { "TLS_RSA_WITH_RC4_128_SHA",
					   "TLS_RSA_WITH_NULL_SHA",
					   "TLS_RSA_WITH_NULL_MD5",
					   "TLS_DH_anon_WITH_AES_128_CBC_SHA",
					   "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
					   "TLS_DH_anon_WITH_RC4_128_MD5",
					   NULL };
static const char *const preset_tls13[] = { "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
					    "TLS_AES_128_GCM_SHA256", NULL };

static const struct {
	const char *name;
	const char *const *list;
} presets[] = {
	{ "modern", preset_modern }, { "intermediate", preset_intermediate },
	{ "legacy", preset_legacy }, { "export", preset_export },
	{ "weak", preset_weak },     { "all-tls13", preset_tls13 },
};

static const char *cur_file;
static int cur_line;

static void perr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void perr(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "mxfleet: %s:%d: ", cur_file ? cur_file : "?", cur_line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *grow(void *p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return p;
	size_t nc = *cap ? *cap * 2 : 16;
	void *q = realloc(p, nc * elem);
	if (!q) {
		fprintf(stderr, "mxfleet: out of memory\n");
		exit(1);
	}
	memset((char *)q + *cap * elem, 0, (nc - *cap) * elem);
	*cap = nc;
	return q;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d) {
		fprintf(stderr, "mxfleet: out of memory\n");
		exit(1);
	}
	return d;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

static int parse_uint(const char *v, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (errno || end == v || *end || x > max || *v == '-') {
		perr("expected a number 0..%u, got \"%s\"", max, v);
		return -1;
	}
	*out = (unsigned)x;
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
		*out = 1;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off"))
		*out = 0;
	else {
		perr("expected yes or no, got \"%s\"", v);
		return -1;
	}
	return 0;
}

static int parse_ports(char *v, uint16_t *ports, size_t *n)
{
	*n = 0;
	for (char *save = NULL, *t = strtok_r(v, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
		unsigned p;
		if (parse_uint(t, 65535, &p) < 0 || p == 0) {
			if (p == 0)
				perr("port 0 is not a port");
			return -1;
		}
		if (*n == FC_MAX_PORTS) {
			perr("at most %d ports", FC_MAX_PORTS);
			return -1;
		}
		ports[(*n)++] = (uint16_t)p;
	}
	return 0;
}

static int version_index(const char *s)
{
	static const char *const alias[TR_NVERS][3] = { { "SSLv3", "SSL3", "SSLv3.0" },
							{ "TLSv1.0", "TLSv1", "TLS1.0" },
							{ "TLSv1.1", "TLS1.1", "TLSv1_1" },
							{ "TLSv1.2", "TLS1.2", "TLSv1_2" },
							{ "TLSv1.3", "TLS1.3", "TLSv1_3" } };
	for (int i = 0; i < TR_NVERS; i++)
		for (int j = 0; j < 3; j++)
			if (!strcasecmp(s, alias[i][j]))
				return i;
	return -1;
}

static void pers_defaults(struct fc_personality *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->banner, sizeof(p->banner), "{name} ESMTP mxfleet");
	p->banner_lines = 1;
	p->trickle_ms = 1000;
	static const char *const caps[] = { "PIPELINING", "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES",
					    "SMTPUTF8" };
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		snprintf(p->ehlo[p->nehlo++], FC_NAME_MAX, "%s", caps[i]);
	p->starttls = FC_STARTTLS_OFFERED;
	p->idle_ms = 60000;
	p->linger_ms = 30000;
	p->never_close_ms = 600000;
	p->max_errors = 5;
	p->ports[0] = 25, p->ports[1] = 465, p->ports[2] = 587, p->nports = 3;
	p->implicit_ports[0] = 465, p->nimplicit = 1;
	p->versions = 1u << 3 | 1u << 4;
	p->suite_spec[TR_NVERS] = xstrdup("modern");
	p->server_pref = 1;
	p->groups[0] = GROUP_X25519, p->groups[1] = GROUP_SECP256R1, p->groups[2] = GROUP_SECP384R1;
	p->ngroups = 3;
	p->on_reject = TR_REJ_ALERT40;
	snprintf(p->cert, sizeof(p->cert), "valid");
	p->cert_ecdsa = -1;
	p->real_handshake = 1;
	p->verify_code = -1;
}

/* Copy src's knobs into dst, keeping dst's name and origin. */
static void pers_copy(struct fc_personality *dst, const struct fc_personality *src)
{
	char name[FC_NAME_MAX];
	const char *file = dst->file;
	int line = dst->line;
	memcpy(name, dst->name, sizeof(name));
	for (int i = 0; i <= TR_NVERS; i++)
		free(dst->suite_spec[i]);
	*dst = *src;
	for (int i = 0; i <= TR_NVERS; i++)
		dst->suite_spec[i] = src->suite_spec[i] ? xstrdup(src->suite_spec[i]) : NULL;
	memcpy(dst->name, name, sizeof(name));
	dst->file = file;
	dst->line = line;
	dst->tls = NULL;
	dst->chain_der = NULL;
}

static long find_pers(const struct fconf *c, const char *name)
{
	for (size_t i = 0; i < c->npers; i++)
		if (!strcmp(c->pers[i].name, name))
			return (long)i;
	return -1;
}

static int enum_lookup(const char *v, const char *const *names, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (!strcasecmp(v, names[i]))
			return i;
	perr("unknown %s \"%s\"", what, v);
	return -1;
}

static int set_key(struct fconf *c, struct fc_personality *p, const char *key, char *v)
{
	int b, r;
	if (!strcmp(key, "like")) {
		long i = find_pers(c, v);
		if (i < 0 || &c->pers[i] == p) {
			perr("like: no earlier personality \"%s\"", v);
			return -1;
		}
		pers_copy(p, &c->pers[i]);
		return 0;
	}
	if (!strcmp(key, "banner")) {
		if (strlen(v) >= sizeof(p->banner) || strpbrk(v, "\r\n")) {
			perr("banner too long or contains CR/LF");
			return -1;
		}
		memcpy(p->banner, v, strlen(v) + 1);
		return 0;
	}
	if (!strcmp(key, "banner_delay_ms"))
		return parse_uint(v, 3600000, &p->banner_delay_ms);
	if (!strcmp(key, "banner_pause_ms"))
		return parse_uint(v, 3600000, &p->banner_pause_ms);
	if (!strcmp(key, "banner_lines")) {
		if (parse_uint(v, 1000, &p->banner_lines) < 0)
			return -1;
		if (!p->banner_lines)
			p->banner_lines = 1;
		return 0;
	}
	if (!strcmp(key, "trickle_ms"))
		return parse_uint(v, 60000, &p->trickle_ms);
	if (!strcmp(key, "banner_mode")) {
		if ((r = enum_lookup(v, banner_names, FC_BANNER__COUNT, "banner_mode")) < 0)
			return -1;
		p->banner_mode = (enum fc_banner)r;
		return 0;
	}
	for (int m = 1; m < FC_BANNER__COUNT; m++) /* trickle = yes, garbage = yes, ... */
		if (!strcmp(key, banner_names[m]) || (m == FC_BANNER_HUGE && !strcmp(key, "huge"))) {
			if (parse_bool(v, &b) < 0)
				return -1;
			if (b)
				p->banner_mode = (enum fc_banner)m;
			else if (p->banner_mode == (enum fc_banner)m)
				p->banner_mode = FC_BANNER_NORMAL;
			return 0;
		}
	if (!strcmp(key, "ehlo")) {
		p->nehlo = 0;
		for (char *save = NULL, *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			t = trim(t);
			if (!*t)
				continue;
			if (p->nehlo == FC_MAX_EHLO || strlen(t) >= FC_NAME_MAX) {
				perr("ehlo: at most %d capabilities of < %d chars", FC_MAX_EHLO, FC_NAME_MAX);
				return -1;
			}
			if (!strcasecmp(t, "STARTTLS")) {
				perr("ehlo: leave STARTTLS out, the starttls knob adds it");
				return -1;
			}
			snprintf(p->ehlo[p->nehlo++], FC_NAME_MAX, "%s", t);
		}
		return 0;
	}
	if (!strcmp(key, "starttls")) {
		if ((r = enum_lookup(v, starttls_names, FC_STARTTLS__COUNT, "starttls mode")) < 0)
			return -1;
		p->starttls = (enum fc_starttls)r;
		return 0;
	}
	if (!strcmp(key, "ehlo_refused"))
		return parse_bool(v, &p->ehlo_refused);
	if (!strcmp(key, "close_after_starttls"))
		return parse_bool(v, &p->close_after_starttls);
	if (!strcmp(key, "plaintext_after_220"))
		return parse_bool(v, &p->plaintext_after_220);
	if (!strcmp(key, "never_close"))
		return parse_bool(v, &p->never_close);
	if (!strcmp(key, "never_close_ms"))
		return parse_uint(v, 86400000, &p->never_close_ms);
	if (!strcmp(key, "max_concurrent"))
		return parse_uint(v, 100000, &p->max_concurrent);
	if (!strcmp(key, "refuse_first"))
		return parse_uint(v, 100000, &p->refuse_first);
	if (!strcmp(key, "rate")) {
		char *slash = strchr(v, '/');
		if (!slash) {
			perr("rate: expected N/SECONDS, e.g. 5/60");
			return -1;
		}
		*slash = 0;
		if (parse_uint(trim(v), 100000, &p->rate_n) < 0 ||
		    parse_uint(trim(slash + 1), 86400, &p->rate_window_s) < 0)
			return -1;
		if (p->rate_n && !p->rate_window_s) {
			perr("rate: window must be at least 1 second");
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "idle_ms"))
		return parse_uint(v, 86400000, &p->idle_ms);
	if (!strcmp(key, "linger_ms"))
		return parse_uint(v, 86400000, &p->linger_ms);
	if (!strcmp(key, "max_errors"))
		return parse_uint(v, 1000, &p->max_errors);
	if (!strcmp(key, "ports"))
		return parse_ports(v, p->ports, &p->nports);
	if (!strcmp(key, "implicit_ports"))
		return parse_ports(v, p->implicit_ports, &p->nimplicit);
	if (!strcmp(key, "versions")) {
		p->versions = 0;
		for (char *save = NULL, *t = strtok_r(v, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
			if (!strcasecmp(t, "none"))
				continue;
			int vi = version_index(t);
			if (vi < 0) {
				perr("unknown version \"%s\" (SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3)", t);
				return -1;
			}
			p->versions |= 1u << vi;
		}
		return 0;
	}
	if (!strcmp(key, "suites") || !strncmp(key, "suites.", 7)) {
		int vi = TR_NVERS;
		if (key[6] == '.' && (vi = version_index(key + 7)) < 0) {
			perr("unknown version in \"%s\"", key);
			return -1;
		}
		free(p->suite_spec[vi]);
		p->suite_spec[vi] = xstrdup(v);
		return 0;
	}
	if (!strcmp(key, "preference")) {
		if (!strcasecmp(v, "server"))
			p->server_pref = 1;
		else if (!strcasecmp(v, "client"))
			p->server_pref = 0;
		else {
			perr("preference: server or client");
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "groups")) {
		p->ngroups = 0;
		for (char *save = NULL, *t = strtok_r(v, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
			size_t i, n = sizeof(group_table) / sizeof(group_table[0]);
			for (i = 0; i < n && strcasecmp(t, group_table[i].name); i++)
				;
			if (i == n) {
				perr("unknown group \"%s\"", t);
				return -1;
			}
			if (p->ngroups == TR_MAX_GROUPS) {
				perr("at most %d groups", TR_MAX_GROUPS);
				return -1;
			}
			p->groups[p->ngroups++] = group_table[i].code;
		}
		return 0;
	}
	if (!strcmp(key, "on_reject")) {
		if ((r = enum_lookup(v, reject_names, TR_REJ_SILENCE + 1, "on_reject reaction")) < 0)
			return -1;
		p->on_reject = (enum tr_reject)r;
		return 0;
	}
	if (!strcmp(key, "fallback_scsv"))
		return parse_bool(v, &p->fallback_scsv);
	if (!strcmp(key, "lying_lengths"))
		return parse_bool(v, &p->lying_lengths);
	if (!strcmp(key, "dh_bits")) {
		if (parse_uint(v, 8192, &p->dh_bits) < 0)
			return -1;
		if (p->dh_bits && p->dh_bits != 1024 && p->dh_bits != 2048) {
			perr("dh_bits: 1024 or 2048");
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "real_handshake"))
		return parse_bool(v, &p->real_handshake);
	if (!strcmp(key, "handshake_stall_ms"))
		return parse_uint(v, 3600000, &p->handshake_stall_ms);
	if (!strcmp(key, "cert")) {
		if (!strcmp(v, "none"))
			v = "";
		if (strlen(v) >= sizeof(p->cert) || strpbrk(v, "/ ")) {
			perr("cert: a variant name from the certs directory");
			return -1;
		}
		memcpy(p->cert, v, strlen(v) + 1);
		return 0;
	}
	if (!strcmp(key, "cert_key")) {
		if (!strcasecmp(v, "rsa"))
			p->cert_ecdsa = 0;
		else if (!strcasecmp(v, "ecdsa"))
			p->cert_ecdsa = 1;
		else if (!strcasecmp(v, "auto"))
			p->cert_ecdsa = -1;
		else {
			perr("cert_key: rsa, ecdsa or auto");
			return -1;
		}
		return 0;
	}
	perr("unknown key \"%s\"", key);
	return -1;
}

static int parse_ip(const char *s, int *family, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (inet_pton(AF_INET, s, ip) == 1) {
		*family = AF_INET;
		if (ip[0] != 127) {
			perr("%s is not in 127.0.0.0/8: the fleet only binds loopback", s);
			return -1;
		}
		return 0;
	}
	if (inet_pton(AF_INET6, s, ip) == 1) {
		static const uint8_t lo6[16] = { [15] = 1 };
		*family = AF_INET6;
		if (memcmp(ip, lo6, 16)) {
			perr("%s is not ::1: the fleet only binds loopback", s);
			return -1;
		}
		return 0;
	}
	perr("bad address \"%s\"", s);
	return -1;
}

/* Expand "{n}" in pat with n and "{o}" with oct (the address's last octet). */
static int expand(const char *pat, unsigned n, unsigned oct, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *s = pat; *s && o < cap;) {
		if (!strncmp(s, "{n}", 3) || !strncmp(s, "{o}", 3)) {
			int w = snprintf(out + o, cap - o, "%u", s[1] == 'n' ? n : oct);
			o = w < 0 ? cap : o + (size_t)w;
			s += 3;
		} else
			out[o++] = *s++;
	}
	if (o >= cap) {
		perr("name too long: %s", pat);
		return -1;
	}
	out[o] = 0;
	return 0;
}

static int valid_dns_name(const char *s)
{
	if (!strcmp(s, "."))
		return 1;
	size_t n = strlen(s);
	if (!n || n > 253)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return 0;
	return 1;
}

/* assign ADDR[-ADDR] PERSONALITY [ports=..] [implicit=..] [name=N1,N2] */
static int parse_assign(struct fconf *c, char *rest)
{
	char *save = NULL;
	char *range = strtok_r(rest, " \t", &save), *pname = strtok_r(NULL, " \t", &save);
	if (!range || !pname) {
		perr("usage: assign ADDR[-ADDR] PERSONALITY [ports=P,..] [implicit=P,..] [name=N,..]");
		return -1;
	}
	long pi = find_pers(c, pname);
	if (pi < 0) {
		perr("no personality \"%s\" defined before this line", pname);
		return -1;
	}
	const struct fc_personality *p = &c->pers[pi];
	uint16_t ports[FC_MAX_PORTS], impl[FC_MAX_PORTS];
	size_t nports = p->nports, nimpl = p->nimplicit;
	memcpy(ports, p->ports, sizeof(ports));
	memcpy(impl, p->implicit_ports, sizeof(impl));
	char *names = NULL;
	for (char *t; (t = strtok_r(NULL, " \t", &save));) {
		if (!strncmp(t, "ports=", 6)) {
			if (parse_ports(t + 6, ports, &nports) < 0)
				return -1;
		} else if (!strncmp(t, "implicit=", 9)) {
			if (!strcmp(t + 9, "none"))
				nimpl = 0;
			else if (parse_ports(t + 9, impl, &nimpl) < 0)
				return -1;
		} else if (!strncmp(t, "name=", 5)) {
			names = t + 5;
		} else {
			perr("unknown assign option \"%s\"", t);
			return -1;
		}
	}
	int fam_a, fam_b;
	uint8_t a[16], b[16];
	char *dash = strchr(range, '-');
	if (dash)
		*dash = 0;
	if (parse_ip(range, &fam_a, a) < 0)
		return -1;
	memcpy(b, a, 16);
	fam_b = fam_a;
	if (dash && parse_ip(dash + 1, &fam_b, b) < 0)
		return -1;
	uint32_t lo = 0, hi = 0;
	if (fam_a == AF_INET) {
		if (fam_b != AF_INET) {
			perr("range mixes IPv4 and IPv6");
			return -1;
		}
		lo = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
		hi = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		if (hi < lo || hi - lo >= FC_RANGE_MAX) {
			perr("bad range (must ascend, at most %d addresses)", FC_RANGE_MAX);
			return -1;
		}
	}
	for (uint32_t ip = lo, idx = 1;; ip++, idx++) {
		c->addrs = grow(c->addrs, &c->caddrs, c->naddrs, sizeof(*c->addrs));
		struct fc_addr *ad = &c->addrs[c->naddrs];
		memset(ad, 0, sizeof(*ad));
		ad->family = fam_a;
		if (fam_a == AF_INET) {
			ad->ip[0] = (uint8_t)(ip >> 24), ad->ip[1] = (uint8_t)(ip >> 16);
			ad->ip[2] = (uint8_t)(ip >> 8), ad->ip[3] = (uint8_t)ip;
		} else
			memcpy(ad->ip, a, 16);
		inet_ntop(fam_a, ad->ip, ad->ip_str, sizeof(ad->ip_str));
		ad->pers = (size_t)pi;
		memcpy(ad->ports, ports, sizeof(ports));
		ad->nports = nports;
		memcpy(ad->implicit_ports, impl, sizeof(impl));
		ad->nimplicit = nimpl;
		if (names) {
			char tmp[FC_TEXT_MAX];
			snprintf(tmp, sizeof(tmp), "%s", names);
			for (char *s2 = NULL, *t = strtok_r(tmp, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
				char nm[FC_TEXT_MAX];
				if (expand(t, idx, ad->ip[fam_a == AF_INET ? 3 : 15], nm, sizeof(nm)) < 0)
					return -1;
				if (!valid_dns_name(nm)) {
					perr("bad host name \"%s\"", nm);
					return -1;
				}
				ad->names = realloc(ad->names, (ad->nnames + 1) * sizeof(char *));
				if (!ad->names) {
					perr("out of memory");
					return -1;
				}
				ad->names[ad->nnames++] = xstrdup(nm);
			}
		}
		c->naddrs++;
		if (fam_a != AF_INET || ip == hi)
			break;
	}
	return 0;
}

/* domain NAME PREF HOST [PREF HOST]...   and   domains PATTERN FROM-TO PREF HOST ... */
static int parse_domain(struct fconf *c, char *rest, int ranged)
{
	char *save = NULL;
	char *name = strtok_r(rest, " \t", &save);
	unsigned from = 0, to = 0;
	if (!name) {
		perr("usage: domain NAME PREF HOST [PREF HOST]...");
		return -1;
	}
	if (ranged) {
		char *r = strtok_r(NULL, " \t", &save), *dash = r ? strchr(r, '-') : NULL;
		if (!dash) {
			perr("usage: domains PATTERN FROM-TO PREF HOST [PREF HOST]...");
			return -1;
		}
		*dash = 0;
		if (parse_uint(r, 1000000, &from) < 0 || parse_uint(dash + 1, 1000000, &to) < 0)
			return -1;
		if (to < from || to - from > 100000) {
			perr("bad domain range");
			return -1;
		}
	}
	char *toks[2 * FC_MAX_MX];
	size_t nt = 0;
	for (char *t; (t = strtok_r(NULL, " \t", &save));) {
		if (nt == 2 * FC_MAX_MX) {
			perr("at most %d MX per domain", FC_MAX_MX);
			return -1;
		}
		toks[nt++] = t;
	}
	if (!nt || nt % 2) {
		perr("expected PREF HOST pairs after the domain name");
		return -1;
	}
	for (unsigned n = from; n <= to; n++) {
		char nm[FC_TEXT_MAX];
		if (expand(name, n, n, nm, sizeof(nm)) < 0)
			return -1;
		if (!valid_dns_name(nm) || !strcmp(nm, ".")) {
			perr("bad domain name \"%s\"", nm);
			return -1;
		}
		c->domains = grow(c->domains, &c->cdomains, c->ndomains, sizeof(*c->domains));
		struct fc_domain *d = &c->domains[c->ndomains++];
		memset(d, 0, sizeof(*d));
		d->name = xstrdup(nm);
		for (size_t i = 0; i < nt; i += 2) {
			unsigned pref;
			char host[FC_TEXT_MAX];
			if (parse_uint(toks[i], 65535, &pref) < 0 || expand(toks[i + 1], n, n, host, sizeof(host)) < 0)
				return -1;
			if (!valid_dns_name(host)) {
				perr("bad MX host \"%s\"", host);
				return -1;
			}
			d->mx[d->nmx].pref = (uint16_t)pref;
			d->mx[d->nmx++].host = xstrdup(host);
		}
	}
	return 0;
}

static int add_record(struct fconf *c, const char *name, const char *type, const char *data)
{
	if (!valid_dns_name(name) || !*type || !*data) {
		perr("bad record");
		return -1;
	}
	c->records = grow(c->records, &c->crecords, c->nrecords, sizeof(*c->records));
	struct fc_record *r = &c->records[c->nrecords++];
	r->name = xstrdup(name);
	r->type = xstrdup(type);
	r->data = xstrdup(data);
	return 0;
}

static int load_file(struct fconf *c, const char *path);

static int parse_line(struct fconf *c, char *s, long *cur, const char *path)
{
	if (*s == '[') {
		char *end = strchr(s, ']');
		char kind[32], name[FC_NAME_MAX + 1];
		if (!end || end[1] || sscanf(s, "[%31s %64[^] ]]", kind, name) != 2 || strcmp(kind, "personality")) {
			perr("expected [personality NAME]");
			return -1;
		}
		if (strlen(name) >= FC_NAME_MAX) {
			perr("personality name too long");
			return -1;
		}
		if (find_pers(c, name) >= 0) {
			perr("personality \"%s\" defined twice", name);
			return -1;
		}
		long def = find_pers(c, "default");
		c->pers = grow(c->pers, &c->cpers, c->npers, sizeof(*c->pers));
		struct fc_personality *p = &c->pers[c->npers];
		pers_defaults(p);
		p->file = path;
		p->line = cur_line;
		if (def >= 0)
			pers_copy(p, &c->pers[def]);
		memcpy(p->name, name, strlen(name) + 1); /* length checked above */
		*cur = (long)c->npers++;
		return 0;
	}
	char *eq = strchr(s, '=');
	char *sp = s + strcspn(s, " \t");
	if (eq) {
		/* "key = value": a single word before the '=' */
		size_t klen = strcspn(s, " \t=");
		if (s + klen + strspn(s + klen, " \t") == eq) {
			if (*cur < 0) {
				perr("\"%.*s = ...\" outside a [personality NAME] block", (int)klen, s);
				return -1;
			}
			s[klen] = 0;
			return set_key(c, &c->pers[*cur], s, trim(eq + 1));
		}
	}
	char *word = s, *rest = sp;
	if (*rest)
		*rest++ = 0;
	rest = trim(rest);
	if (!strcmp(word, "assign")) {
		*cur = -1;
		return parse_assign(c, rest);
	}
	if (!strcmp(word, "domain") || !strcmp(word, "domains")) {
		*cur = -1;
		return parse_domain(c, rest, word[6] == 's');
	}
	if (!strcmp(word, "cname")) {
		char a[FC_TEXT_MAX], b[FC_TEXT_MAX];
		*cur = -1;
		if (sscanf(rest, "%255s %255s", a, b) != 2 || !valid_dns_name(b)) {
			perr("usage: cname NAME TARGET");
			return -1;
		}
		return add_record(c, a, "CNAME", b);
	}
	if (!strcmp(word, "record")) {
		char a[FC_TEXT_MAX], t[16];
		int off = 0;
		*cur = -1;
		if (sscanf(rest, "%255s %15s %n", a, t, &off) != 2 || !rest[off]) {
			perr("usage: record NAME TYPE DATA");
			return -1;
		}
		return add_record(c, a, t, rest + off);
	}
	if (!strcmp(word, "include")) {
		char inc[PATH_MAX];
		const char *slash = strrchr(path, '/');
		if (rest[0] == '/' || !slash)
			snprintf(inc, sizeof(inc), "%s", rest);
		else
			snprintf(inc, sizeof(inc), "%.*s/%s", (int)(slash - path), path, rest);
		*cur = -1;
		const char *sf = cur_file;
		int sl = cur_line;
		int r = load_file(c, inc);
		cur_file = sf;
		cur_line = sl;
		return r;
	}
	perr("unknown directive \"%s\"", word);
	return -1;
}

static int load_file(struct fconf *c, const char *path)
{
	int rc = -1;
	char *buf = NULL;
	FILE *f = NULL;
	if (c->depth >= FC_MAX_INCLUDE) {
		perr("include nested too deeply");
		return -1;
	}
	/* Personalities point at their file's name for messages: keep one copy
	 * per file for the life of the configuration. */
	c->files = grow(c->files, &c->cfiles, c->nfiles, sizeof(*c->files));
	char *keep = c->files[c->nfiles++] = xstrdup(path);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "mxfleet: cannot open config %s: %s\n", path, strerror(errno));
		return -1;
	}
	c->depth++;
	buf = malloc(FC_MAX_LINE);
	if (!buf)
		goto out;
	cur_file = keep;
	cur_line = 0;
	long cur = -1;
	while (fgets(buf, FC_MAX_LINE, f)) {
		cur_line++;
		cur_file = keep;
		if (!strchr(buf, '\n') && !feof(f)) {
			perr("line longer than %d bytes", FC_MAX_LINE - 1);
			goto out;
		}
		char *s = trim(buf);
		if (!*s || *s == '#')
			continue;
		if (parse_line(c, s, &cur, keep) < 0)
			goto out;
	}
	rc = 0;
out:
	c->depth--;
	free(buf);
	fclose(f);
	return rc;
}

int fconf_load(struct fconf *c, const char *path)
{
	return load_file(c, path);
}

/* ---- finishing: suites, certificates, validation ---- */

static int add_suite(struct tls_personality *t, int vi, uint16_t code)
{
	for (size_t i = 0; i < t->nsuites[vi]; i++)
		if (t->suites[vi][i] == code)
			return 0;
	if (t->nsuites[vi] == TR_MAX_SUITES)
		return -1;
	t->suites[vi][t->nsuites[vi]++] = code;
	return 0;
}

static int au_matches(const struct suite_info *si, int ecdsa)
{
	if (!si->au)
		return 1;
	if (!strcmp(si->au, "RSA"))
		return !ecdsa;
	if (!strcmp(si->au, "ECDSA"))
		return ecdsa;
	if (!strcmp(si->au, "DSS"))
		return 0;
	return 1;
}

/* Resolve one suite spec for version vi. strict: explicit names must be valid in vi. */
static int resolve_spec(const struct fc_personality *p, struct tls_personality *t, int vi, const char *spec, int strict,
			int ecdsa)
{
	char *dup = xstrdup(spec);
	int rc = -1;
	uint8_t vbit = suite_version_bit(fconf_version_wire(vi));
	for (char *save = NULL, *tok = strtok_r(dup, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
		const char *name = tok[0] == '@' ? tok + 1 : tok;
		size_t np = sizeof(presets) / sizeof(presets[0]), i;
		for (i = 0; i < np && strcmp(name, presets[i].name); i++)
			;
		if (i < np) {
			for (const char *const *s = presets[i].list; *s; s++) {
				char full[96];
				const char *au = strstr(*s, "{au}");
				if (au)
					snprintf(full, sizeof(full), "%.*s%s%s", (int)(au - *s), *s,
						 ecdsa ? "ECDSA" : "RSA", au + 4);
				else
					snprintf(full, sizeof(full), "%s", *s);
				const struct suite_info *si = suite_by_name(full);
				if (!si) {
					fprintf(stderr,
						"mxfleet: %s:%d: preset %s: suite %s missing from the suite table\n",
						p->file, p->line, name, full);
					goto out;
				}
				if ((si->versions & vbit) && au_matches(si, ecdsa) && add_suite(t, vi, si->code) < 0)
					goto out;
			}
			continue;
		}
		const struct suite_info *si = suite_by_name(name);
		if (!si && !strncmp(name, "0x", 2)) {
			char *end;
			unsigned long code = strtoul(name + 2, &end, 16);
			if (!*end && code <= 0xffff)
				si = suite_by_code((uint16_t)code);
		}
		if (!si) {
			fprintf(stderr,
				"mxfleet: %s:%d: personality %s: unknown suite \"%s\" (IANA name, 0xNNNN or a preset: "
				"modern, intermediate, legacy, export, weak, all-tls13)\n",
				p->file, p->line, p->name, name);
			goto out;
		}
		if (!(si->versions & vbit)) {
			if (strict) {
				fprintf(stderr, "mxfleet: %s:%d: personality %s: %s cannot be negotiated in %s\n",
					p->file, p->line, p->name, name, fconf_version_name(vi));
				goto out;
			}
			continue;
		}
		if (add_suite(t, vi, si->code) < 0)
			goto out;
	}
	rc = 0;
out:
	free(dup);
	return rc;
}

static int b64val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Decode every CERTIFICATE block of a PEM file into one DER buffer. */
static int load_chain(struct fc_personality *p, const char *path)
{
	int rc = -1;
	FILE *f = fopen(path, "r");
	uint8_t *der = NULL;
	size_t cap = 0, len = 0;
	char line[256];
	int in = 0, ncert = 0;
	size_t start = 0;
	size_t starts[TR_MAX_CERTS], lens[TR_MAX_CERTS];
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "-----BEGIN CERTIFICATE-----", 27)) {
			in = 1;
			start = len;
			continue;
		}
		if (!strncmp(line, "-----END CERTIFICATE-----", 25)) {
			in = 0;
			if (ncert < TR_MAX_CERTS) {
				starts[ncert] = start;
				lens[ncert] = len - start;
				ncert++;
			}
			continue;
		}
		if (!in)
			continue;
		uint32_t acc = 0;
		int nb = 0;
		if (len + sizeof(line) > cap) { /* a line decodes to fewer bytes than it has */
			size_t nc = cap ? cap * 2 : 4096;
			uint8_t *n = realloc(der, nc);
			if (!n)
				goto out;
			der = n;
			cap = nc;
		}
		for (char *s = line; *s; s++) {
			int v = b64val((unsigned char)*s);
			if (v < 0)
				continue;
			acc = acc << 6 | (uint32_t)v;
			if (++nb == 4) {
				der[len++] = (uint8_t)(acc >> 16);
				der[len++] = (uint8_t)(acc >> 8);
				der[len++] = (uint8_t)acc;
				acc = 0;
				nb = 0;
			}
		}
		/* '=' padding: the final quantum */
		if (nb == 2) {
			der[len++] = (uint8_t)(acc >> 4);
		} else if (nb == 3) {
			der[len++] = (uint8_t)(acc >> 10);
			der[len++] = (uint8_t)(acc >> 2);
		}
	}
	if (!ncert)
		goto out;
	p->chain_der = der;
	der = NULL;
	for (int i = 0; i < ncert; i++) {
		p->tls->cert_der[i] = p->chain_der + starts[i];
		p->tls->cert_len[i] = lens[i];
	}
	p->tls->ncerts = ncert;
	rc = 0;
out:
	free(der);
	fclose(f);
	return rc;
}

/* variants.txt (scripts/certs.sh): "name verify_code description...", where
 * verify_code is what openssl verify returned on the generated files. */
static void load_verify(struct fconf *c, const char *certs_dir)
{
	char path[PATH_MAX], line[512];
	snprintf(path, sizeof(path), "%s/variants.txt", certs_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *name = strtok_r(line, " \t\r\n", &save);
		char *code = name ? strtok_r(NULL, " \t\r\n", &save) : NULL;
		char *desc = code ? strtok_r(NULL, "\r\n", &save) : NULL;
		if (!code || *name == '#' || !isdigit((unsigned char)*code))
			continue;
		for (size_t i = 0; i < c->npers; i++)
			if (!strcmp(c->pers[i].cert, name)) {
				c->pers[i].verify_code = atoi(code);
				snprintf(c->pers[i].cert_desc, sizeof(c->pers[i].cert_desc), "%s",
					 desc ? trim(desc) : "");
			}
	}
	fclose(f);
}

static int cmp_ap(const void *a, const void *b)
{
	return memcmp(a, b, 20);
}

int fconf_finish(struct fconf *c, const char *certs_dir)
{
	int warned = 0;
	for (size_t i = 0; i < c->npers; i++) {
		struct fc_personality *p = &c->pers[i];
		p->tls = calloc(1, sizeof(*p->tls));
		if (!p->tls)
			return -1;
		int ecdsa = p->cert_ecdsa >= 0 ? p->cert_ecdsa : strstr(p->cert, "ecdsa") != NULL;
		for (int vi = 0; vi < TR_NVERS; vi++) {
			if (!(p->versions & (1u << vi)))
				continue;
			const char *spec = p->suite_spec[vi] ? p->suite_spec[vi] : p->suite_spec[TR_NVERS];
			if (!spec || resolve_spec(p, p->tls, vi, spec, p->suite_spec[vi] != NULL, ecdsa) < 0) {
				if (!spec)
					fprintf(stderr, "mxfleet: %s:%d: personality %s: no suites\n", p->file, p->line,
						p->name);
				return -1;
			}
			if (!p->tls->nsuites[vi]) {
				fprintf(stderr,
					"mxfleet: %s:%d: personality %s: no suite of \"%s\" is valid in %s with a%s "
					"certificate; set suites.%s\n",
					p->file, p->line, p->name, spec, fconf_version_name(vi),
					ecdsa ? "n ECDSA" : " RSA", fconf_version_name(vi));
				return -1;
			}
		}
		p->tls->server_pref = p->server_pref;
		memcpy(p->tls->groups, p->groups, sizeof(p->groups));
		p->tls->ngroups = p->ngroups;
		p->tls->on_reject = p->on_reject;
		p->tls->honour_fallback_scsv = p->fallback_scsv;
		p->tls->lying_lengths = p->lying_lengths;
		p->tls->dh_bits = (uint16_t)p->dh_bits;
		if (p->cert[0] && certs_dir) {
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s.chain.pem", certs_dir, p->cert);
			if (load_chain(p, path) < 0) {
				snprintf(path, sizeof(path), "%s/%s.crt", certs_dir, p->cert);
				if (load_chain(p, path) < 0) {
					fprintf(stderr,
						"mxfleet: %s:%d: personality %s: no certificate variant \"%s\" in %s "
						"(generate them with scripts/certs.sh %s)\n",
						p->file, p->line, p->name, p->cert, certs_dir, certs_dir);
					return -1;
				}
			}
			snprintf(path, sizeof(path), "%s/%s.key", certs_dir, p->cert);
			p->chain_ok = access(path, R_OK) == 0;
		} else if (p->cert[0] && !warned) {
			fprintf(stderr, "mxfleet: warning: no --certs directory: hand-built Certificate messages are "
					"empty and no real handshake is done\n");
			warned = 1;
		}
	}
	if (certs_dir)
		load_verify(c, certs_dir);
	/* Each address:port once. */
	size_t n = 0;
	for (size_t i = 0; i < c->naddrs; i++)
		n += c->addrs[i].nports;
	uint8_t *keys = calloc(n ? n : 1, 20);
	if (!keys)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < c->naddrs; i++)
		for (size_t j = 0; j < c->addrs[i].nports; j++) {
			uint8_t *e = keys + 20 * k++;
			memcpy(e, c->addrs[i].ip, 16);
			e[16] = (uint8_t)c->addrs[i].family;
			e[17] = (uint8_t)(c->addrs[i].ports[j] >> 8);
			e[18] = (uint8_t)c->addrs[i].ports[j];
		}
	qsort(keys, n, 20, cmp_ap);
	for (size_t i = 1; i < n; i++)
		if (!memcmp(keys + 20 * (i - 1), keys + 20 * i, 20)) {
			char s[48];
			inet_ntop(keys[20 * i + 16], keys + 20 * i, s, sizeof(s));
			fprintf(stderr, "mxfleet: %s port %u is assigned twice\n", s,
				(unsigned)keys[20 * i + 17] << 8 | keys[20 * i + 18]);
			free(keys);
			return -1;
		}
	free(keys);
	return 0;
}

void fconf_free(struct fconf *c)
{
	for (size_t i = 0; i < c->npers; i++) {
		for (int v = 0; v <= TR_NVERS; v++)
			free(c->pers[i].suite_spec[v]);
		free(c->pers[i].tls);
		free(c->pers[i].chain_der);
	}
	for (size_t i = 0; i < c->naddrs; i++) {
		for (size_t j = 0; j < c->addrs[i].nnames; j++)
			free(c->addrs[i].names[j]);
		free(c->addrs[i].names);
	}
	for (size_t i = 0; i < c->ndomains; i++) {
		free(c->domains[i].name);
		for (size_t j = 0; j < c->domains[i].nmx; j++)
			free(c->domains[i].mx[j].host);
	}
	for (size_t i = 0; i < c->nrecords; i++) {
		free(c->records[i].name);
		free(c->records[i].type);
		free(c->records[i].data);
	}
	free(c->pers);
	free(c->addrs);
	free(c->domains);
	free(c->records);
	for (size_t i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	memset(c, 0, sizeof(*c));
}

int fconf_is_implicit(const struct fc_addr *a, uint16_t port)
{
	for (size_t i = 0; i < a->nimplicit; i++)
		if (a->implicit_ports[i] == port)
			return 1;
	return 0;
}

const char *fconf_host_name(const struct fc_addr *a)
{
	return a->nnames ? a->names[0] : a->ip_str;
}
