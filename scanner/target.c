/*
 * target: parse target lines and keep a deduplicated set of them.
 *
 * The parser works on (pointer, length) and never reads past len, never assumes a NUL
 * terminator and never allocates, so it can be fed arbitrary bytes (tests/fuzz/fuzz_target.c
 * does). The form of a line is decided by its shape: a comma makes it CSV, a leading '['
 * a bracketed IPv6 literal, two or more colons a bare IPv6 literal, one colon host:port.
 * Anything made only of digits and dots must be a valid dotted quad, so "10.1" or
 * "999.0.0.1" is an error rather than a host name (RFC 3696 section 2: a top-level label is
 * never all-numeric).
 *
 * The set stores targets in fixed-size chunks (no realloc of the targets themselves, so a
 * set of millions never needs a second copy while growing) and dedupes through an
 * open-addressing table of (64-bit hash, index) pairs with linear probing, kept at most 3/4
 * full.
 */
#include "mxscan/target.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TS_CHUNK_SHIFT 12 /* 4096 targets per chunk */
#define TS_CHUNK       (1u << TS_CHUNK_SHIFT)

struct ts_slot {
	uint64_t hash;
	uint32_t idx1; /* target index + 1; 0 = empty slot */
};

struct target_set {
	struct target **chunks;
	size_t nchunks, cap_chunks;
	size_t count, dups;
	struct ts_slot *slots;
	size_t nslots; /* power of two */
};

static void tg_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void tg_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Quote at most 48 bytes of untrusted input for a message; non-printables become '?'. */
static const char *tg_show(const char *s, size_t n, char *buf, size_t buflen)
{
	size_t i, j = 0;

	for (i = 0; i < n && i < 48 && j + 5 < buflen; i++)
		buf[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < n && j + 4 <= buflen) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
	return buf;
}

static int tg_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void tg_trim(const char **s, size_t *n)
{
	while (*n > 0 && tg_blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && tg_blank((*s)[*n - 1]))
		(*n)--;
}

static int tg_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

static int tg_isalnum(char c)
{
	return tg_isdigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char tg_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Port: 1..5 decimal digits, value 1..65535. */
static int tg_parse_port(const char *s, size_t n, uint16_t *port, char *err, size_t errlen)
{
	char show[64];
	unsigned long v = 0;
	size_t i;

	if (n == 0) {
		tg_seterr(err, errlen, "empty port");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!tg_isdigit(s[i])) {
			tg_seterr(err, errlen, "invalid port '%s'", tg_show(s, n, show, sizeof show));
			return -1;
		}
		if (i < 6)
			v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (n > 5 || v < 1 || v > 65535) {
		tg_seterr(err, errlen, "port out of range (1..65535): '%s'", tg_show(s, n, show, sizeof show));
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

/*
 * Try s[0..n) as an IP literal of the given family (AF_INET or AF_INET6). On success fill
 * t->addr/addrlen/has_addr/host (IPv4-mapped IPv6 stored as IPv4). Returns 1 parsed, 0 not an
 * address of that family.
 */
static int tg_parse_ip(const char *s, size_t n, int family, struct target *t)
{
	char buf[INET6_ADDRSTRLEN];
	unsigned char a[16];

	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(family, buf, a) != 1)
		return 0;
	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)a)) {
		memmove(a, a + 12, 4);
		family = AF_INET;
	}
	t->addrlen = addr_to_sockaddr(family == AF_INET6, a, &t->addr);
	t->has_addr = 1;
	inet_ntop(family, a, t->host, sizeof t->host);
	return 1;
}

/* Either family; 1 parsed, 0 not an IP literal. */
static int tg_parse_any_ip(const char *s, size_t n, struct target *t)
{
	if (memchr(s, ':', n))
		return tg_parse_ip(s, n, AF_INET6, t);
	return tg_parse_ip(s, n, AF_INET, t);
}

/*
 * Validate a host name (RFC 1123 section 2.1 LDH labels) and copy it, without one trailing
 * dot, to out (TARGET_HOST_MAX bytes). 0 or -1 with err.
 */
static int tg_parse_name(const char *s, size_t n, char *out, char *err, size_t errlen)
{
	char show[64];
	size_t i, lab = 0, lab_start = 0;
	int all_digits = 1, numeric_shape = 1;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0) {
		tg_seterr(err, errlen, "empty host name");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (!tg_isdigit(s[i]) && s[i] != '.')
			numeric_shape = 0;
	if (numeric_shape) {
		tg_seterr(err, errlen, "invalid IPv4 address '%s'", tg_show(s, n, show, sizeof show));
		return -1;
	}
	if (n > 253) {
		tg_seterr(err, errlen, "host name longer than 253 bytes");
		return -1;
	}
	for (i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '.';

		if (c == '.') {
			if (lab == 0) {
				tg_seterr(err, errlen, "empty label in host name '%s'",
					  tg_show(s, n, show, sizeof show));
				return -1;
			}
			if (lab > 63) {
				tg_seterr(err, errlen, "label longer than 63 bytes in host name '%s'",
					  tg_show(s, n, show, sizeof show));
				return -1;
			}
			if (s[lab_start] == '-' || s[i - 1] == '-') {
				tg_seterr(err, errlen, "label starts or ends with '-' in host name '%s'",
					  tg_show(s, n, show, sizeof show));
				return -1;
			}
			if (i < n) {
				lab = 0;
				lab_start = i + 1;
				all_digits = 1;
			}
			continue;
		}
		if (!tg_isalnum(c) && c != '-') {
			if ((unsigned char)c >= 0x80)
				tg_seterr(err, errlen, "non-ASCII host name '%s' (give the A-label, xn--...)",
					  tg_show(s, n, show, sizeof show));
			else if (c == '_')
				tg_seterr(err, errlen, "underscore in host name '%s'",
					  tg_show(s, n, show, sizeof show));
			else
				tg_seterr(err, errlen, "invalid character in host name '%s'",
					  tg_show(s, n, show, sizeof show));
			return -1;
		}
		if (!tg_isdigit(c))
			all_digits = 0;
		lab++;
	}
	if (all_digits) {
		tg_seterr(err, errlen, "host name '%s' has an all-numeric last label",
			  tg_show(s, n, show, sizeof show));
		return -1;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* IPv4 literal or host name (no colon in s). */
static int tg_parse_host(const char *s, size_t n, struct target *t, char *err, size_t errlen)
{
	if (tg_parse_ip(s, n, AF_INET, t))
		return 0;
	return tg_parse_name(s, n, t->host, err, errlen);
}

/* Every form except CSV. */
static int tg_parse_hostport(const char *s, size_t n, struct target *t, char *err, size_t errlen)
{
	char show[64];
	const char *colon;
	size_t ncolons = 0, i;

	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);
		size_t inner;

		if (!close) {
			tg_seterr(err, errlen, "missing ']' in '%s'", tg_show(s, n, show, sizeof show));
			return -1;
		}
		inner = (size_t)(close - s) - 1;
		if (!tg_parse_any_ip(s + 1, inner, t)) {
			tg_seterr(err, errlen, "invalid IP address in brackets: '%s'",
				  tg_show(s, n, show, sizeof show));
			return -1;
		}
		i = (size_t)(close - s) + 1;
		if (i == n)
			return 0;
		if (s[i] != ':') {
			tg_seterr(err, errlen, "expected ':port' after ']' in '%s'", tg_show(s, n, show, sizeof show));
			return -1;
		}
		return tg_parse_port(s + i + 1, n - i - 1, &t->port, err, errlen);
	}
	for (i = 0; i < n; i++)
		if (s[i] == ':')
			ncolons++;
	if (ncolons >= 2) {
		if (tg_parse_ip(s, n, AF_INET6, t))
			return 0;
		tg_seterr(err, errlen, "invalid IPv6 address '%s' (write [addr]:port for a port)",
			  tg_show(s, n, show, sizeof show));
		return -1;
	}
	if (ncolons == 1) {
		colon = memchr(s, ':', n);
		if (colon == s) {
			tg_seterr(err, errlen, "missing host before ':' in '%s'", tg_show(s, n, show, sizeof show));
			return -1;
		}
		if (tg_parse_host(s, (size_t)(colon - s), t, err, errlen) < 0)
			return -1;
		return tg_parse_port(colon + 1, n - (size_t)(colon - s) - 1, &t->port, err, errlen);
	}
	return tg_parse_host(s, n, t, err, errlen);
}

/* zgrab2 CSV: ip,name[,tag[,port]]. */
static int tg_parse_csv(const char *s, size_t n, struct target *t, char *err, size_t errlen)
{
	const char *f[4];
	size_t fl[4], nf = 0, i, start = 0;
	char show[64];

	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == ',') {
			if (nf == 4) {
				tg_seterr(err, errlen, "too many CSV fields (expected ip,name[,tag[,port]])");
				return -1;
			}
			f[nf] = s + start;
			fl[nf] = i - start;
			tg_trim(&f[nf], &fl[nf]);
			nf++;
			start = i + 1;
		}
	}
	if (fl[0] == 0 && fl[1] == 0) {
		tg_seterr(err, errlen, "CSV line has neither ip nor name");
		return -1;
	}
	/* A ranked top list: "rank,domain" (Tranco, Alexa): the first field all digits. */
	if (nf == 2 && fl[0] > 0 && fl[0] <= 9 && strspn(f[0], "0123456789") >= fl[0]) {
		unsigned long rank = strtoul(f[0], NULL, 10);
		if (tg_parse_name(f[1], fl[1], t->host, err, errlen) < 0)
			return -1;
		t->rank = (unsigned)rank;
		return 0;
	}
	if (fl[1] > 0 && tg_parse_name(f[1], fl[1], t->sni, err, errlen) < 0)
		return -1;
	if (fl[0] > 0) {
		const char *ip = f[0];
		size_t il = fl[0];

		if (il >= 2 && ip[0] == '[' && ip[il - 1] == ']') {
			ip++;
			il -= 2;
		}
		if (!tg_parse_any_ip(ip, il, t)) {
			tg_seterr(err, errlen, "CSV first field is not an IP address: '%s'",
				  tg_show(f[0], fl[0], show, sizeof show));
			return -1;
		}
	} else {
		memcpy(t->host, t->sni, sizeof t->host);
	}
	if (nf >= 3) {
		if (fl[2] >= sizeof t->tag) {
			tg_seterr(err, errlen, "tag longer than %zu bytes", sizeof t->tag - 1);
			return -1;
		}
		for (i = 0; i < fl[2]; i++) {
			if (f[2][i] < 0x20 || f[2][i] >= 0x7f) {
				tg_seterr(err, errlen, "tag must be printable ASCII: '%s'",
					  tg_show(f[2], fl[2], show, sizeof show));
				return -1;
			}
		}
		memcpy(t->tag, f[2], fl[2]);
		t->tag[fl[2]] = '\0';
	}
	if (nf == 4 && fl[3] > 0)
		return tg_parse_port(f[3], fl[3], &t->port, err, errlen);
	return 0;
}

int target_parse_line(const char *line, size_t len, struct target *t, char *err, size_t errlen)
{
	const char *s = line, *hash;
	size_t n = len, i;

	if (err && errlen)
		err[0] = '\0';
	if (!t || (!line && len > 0)) {
		tg_seterr(err, errlen, "invalid argument");
		return -1;
	}
	if (n == 0)
		return 0;
	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > TARGET_MAX_LINE) {
		tg_seterr(err, errlen, "line longer than %d bytes", TARGET_MAX_LINE);
		return -1;
	}
	if (memchr(s, '\0', n)) {
		tg_seterr(err, errlen, "NUL byte in line");
		return -1;
	}
	tg_trim(&s, &n);
	if (n == 0 || s[0] == '#')
		return 0;
	/* A '#' after a blank starts a trailing comment. */
	for (hash = s + 1; (hash = memchr(hash, '#', n - (size_t)(hash - s))) != NULL; hash++) {
		if (tg_blank(hash[-1])) {
			n = (size_t)(hash - s);
			tg_trim(&s, &n);
			break;
		}
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t') {
			tg_seterr(err, errlen, "control character in line");
			return -1;
		}
	}
	memset(t, 0, sizeof *t);
	if (memchr(s, ',', n)) {
		if (tg_parse_csv(s, n, t, err, errlen) < 0)
			return -1;
	} else if (tg_parse_hostport(s, n, t, err, errlen) < 0) {
		return -1;
	}
	return 1;
}

/* ---------------------------------------------------------------- the set */

#define TS_FNV_OFFSET 0xcbf29ce484222325ull
#define TS_FNV_PRIME  0x100000001b3ull

static uint64_t ts_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= TS_FNV_PRIME;
	}
	return h;
}

/* Address bytes of an IP target (4 or 16) and their length. */
static size_t ts_addr_bytes(const struct target *t, const unsigned char **p)
{
	if (t->addr.ss_family == AF_INET) {
		*p = (const unsigned char *)&((const struct sockaddr_in *)(const void *)&t->addr)->sin_addr;
		return 4;
	}
	*p = ((const struct sockaddr_in6 *)(const void *)&t->addr)->sin6_addr.s6_addr;
	return 16;
}

static uint64_t ts_hash(const struct target *t)
{
	uint64_t h = TS_FNV_OFFSET;
	unsigned char tag;

	if (t->has_addr) {
		const unsigned char *a;
		size_t n = ts_addr_bytes(t, &a);

		tag = (unsigned char)n;
		h = ts_fnv(h, &tag, 1);
		h = ts_fnv(h, a, n);
	} else {
		const char *c;

		tag = 0;
		h = ts_fnv(h, &tag, 1);
		for (c = t->host; *c; c++) {
			char l = tg_lower(*c);
			h = ts_fnv(h, &l, 1);
		}
	}
	h = ts_fnv(h, &t->port, sizeof t->port);
	/* FNV's low bits mix poorly; fold the high half in (index uses low bits). */
	return h ^ (h >> 29) ^ (h >> 47);
}

static int ts_same(const struct target *a, const struct target *b)
{
	if (a->port != b->port || a->has_addr != b->has_addr)
		return 0;
	if (a->has_addr) {
		const unsigned char *pa, *pb;
		size_t na = ts_addr_bytes(a, &pa), nb = ts_addr_bytes(b, &pb);

		return na == nb && memcmp(pa, pb, na) == 0;
	}
	return strcasecmp(a->host, b->host) == 0;
}

static struct target *ts_at(const struct target_set *set, size_t i)
{
	return &set->chunks[i >> TS_CHUNK_SHIFT][i & (TS_CHUNK - 1)];
}

struct target_set *ts_new(void)
{
	struct target_set *set = calloc(1, sizeof *set);

	if (!set)
		return NULL;
	set->nslots = 1024;
	set->slots = calloc(set->nslots, sizeof *set->slots);
	if (!set->slots) {
		free(set);
		return NULL;
	}
	return set;
}

void ts_free(struct target_set *set)
{
	size_t i;

	if (!set)
		return;
	for (i = 0; i < set->nchunks; i++)
		free(set->chunks[i]);
	free(set->chunks);
	free(set->slots);
	free(set);
}

static int ts_grow_table(struct target_set *set)
{
	size_t nn = set->nslots * 2, i;
	struct ts_slot *ns = calloc(nn, sizeof *ns);

	if (!ns)
		return -1;
	for (i = 0; i < set->nslots; i++) {
		size_t j;

		if (!set->slots[i].idx1)
			continue;
		for (j = set->slots[i].hash & (nn - 1); ns[j].idx1; j = (j + 1) & (nn - 1))
			;
		ns[j] = set->slots[i];
	}
	free(set->slots);
	set->slots = ns;
	set->nslots = nn;
	return 0;
}

socklen_t addr_to_sockaddr(int v6, const uint8_t *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
		return sizeof *sin6;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		return sizeof *sin;
	}
}

int addr_parse(const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)ss)->sin_addr) == 1)
		ss->ss_family = AF_INET;
	else if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
		ss->ss_family = AF_INET6;
	else
		return -1;
	return 0;
}

int ts_add(struct target_set *set, const struct target *t)
{
	return ts_add_idx(set, t, NULL);
}

long ts_find(const struct target_set *set, const struct target *t)
{
	uint64_t h;
	size_t j;

	if (!set || !t || !set->nslots || t->host[0] == '\0' || memchr(t->host, '\0', sizeof t->host) == NULL)
		return -1;
	if (t->has_addr && t->addr.ss_family != AF_INET && t->addr.ss_family != AF_INET6)
		return -1;
	h = ts_hash(t);
	for (j = h & (set->nslots - 1); set->slots[j].idx1; j = (j + 1) & (set->nslots - 1))
		if (set->slots[j].hash == h && ts_same(ts_at((struct target_set *)set, set->slots[j].idx1 - 1), t))
			return (long)set->slots[j].idx1 - 1;
	return -1;
}

int ts_add_idx(struct target_set *set, const struct target *t, size_t *idx)
{
	uint64_t h;
	size_t j;

	if (!set || !t || t->host[0] == '\0' || memchr(t->host, '\0', sizeof t->host) == NULL)
		return -1;
	if (t->has_addr && t->addr.ss_family != AF_INET && t->addr.ss_family != AF_INET6)
		return -1;
	if (set->count >= UINT32_MAX - 1)
		return -1;
	if ((set->count + 1) * 4 > set->nslots * 3 && ts_grow_table(set) < 0)
		return -1;
	h = ts_hash(t);
	for (j = h & (set->nslots - 1); set->slots[j].idx1; j = (j + 1) & (set->nslots - 1)) {
		if (set->slots[j].hash == h && ts_same(ts_at(set, set->slots[j].idx1 - 1), t)) {
			set->dups++;
			if (idx)
				*idx = set->slots[j].idx1 - 1;
			return 0;
		}
	}
	if ((set->count >> TS_CHUNK_SHIFT) == set->nchunks) {
		struct target *chunk;

		if (set->nchunks == set->cap_chunks) {
			size_t nc = set->cap_chunks ? set->cap_chunks * 2 : 16;
			struct target **cs = realloc(set->chunks, nc * sizeof *cs);

			if (!cs)
				return -1;
			set->chunks = cs;
			set->cap_chunks = nc;
		}
		chunk = malloc(TS_CHUNK * sizeof *chunk);
		if (!chunk)
			return -1;
		set->chunks[set->nchunks++] = chunk;
	}
	*ts_at(set, set->count) = *t;
	set->slots[j].hash = h;
	set->slots[j].idx1 = (uint32_t)(set->count + 1);
	if (idx)
		*idx = set->count;
	set->count++;
	return 1;
}

size_t ts_count(const struct target_set *set)
{
	return set ? set->count : 0;
}

const struct target *ts_get(const struct target_set *set, size_t i)
{
	if (!set || i >= set->count)
		return NULL;
	return ts_at(set, i);
}

size_t ts_dups(const struct target_set *set)
{
	return set ? set->dups : 0;
}

/*
 * Read one line into buf (at most cap bytes kept, the newline included when it fits).
 * Returns the number of bytes kept, or -1 at end of input with nothing read. *toolong is set
 * when more than cap bytes were on the line (the rest is consumed and dropped).
 */
static long ts_getline(FILE *f, char *buf, size_t cap, int *toolong)
{
	size_t n = 0;
	int c, any = 0;

	*toolong = 0;
	while ((c = getc_unlocked(f)) != EOF) {
		any = 1;
		if (n < cap)
			buf[n++] = (char)c;
		else
			*toolong = 1;
		if (c == '\n')
			break;
	}
	if (!any)
		return -1;
	return (long)n;
}

int ts_read_file(struct target_set *set, FILE *f, const char *name, int strict, unsigned *bad_lines, FILE *errs)
{
	return ts_read_file_json(set, f, name, strict, bad_lines, errs, NULL, NULL);
}

int ts_read_file_json(struct target_set *set, FILE *f, const char *name, int strict, unsigned *bad_lines, FILE *errs,
		      ts_json_fn json, void *arg)
{
	/* Room for a maximal JSON line plus "\r\n" and the NUL the JSON reader writes; target
	 * lines over TARGET_MAX_LINE are refused by target_parse_line. */
	size_t cap = TS_JSON_MAX_LINE + 2;
	char *buf = NULL, err[256];
	struct target t;
	unsigned lineno = 0;
	long n;
	int toolong, r, rc = -1;

	if (!name)
		name = "(input)";
	if (!set || !f) {
		if (errs)
			fprintf(errs, "%s: invalid argument\n", name);
		return -1;
	}
	buf = malloc(cap + 1);
	if (!buf) {
		if (errs)
			fprintf(errs, "%s: out of memory\n", name);
		return -1;
	}
	flockfile(f);
	while ((n = ts_getline(f, buf, cap, &toolong)) >= 0) {
		char *s = buf;
		size_t len = (size_t)n, b = 0;

		lineno++;
		if (lineno == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			len -= 3;
		}
		while (b < len && tg_blank(s[b]))
			b++;
		if (toolong) {
			snprintf(err, sizeof err, "line longer than %u bytes",
				 b < len && s[b] == '{' ? TS_JSON_MAX_LINE : TARGET_MAX_LINE);
			r = -1;
		} else if (b < len && s[b] == '{') {
			if (len > 0 && s[len - 1] == '\n')
				len--;
			if (len > 0 && s[len - 1] == '\r')
				len--;
			if (!json) {
				snprintf(err, sizeof err, "JSON line (zdns input) not accepted here");
				r = -1;
			} else {
				err[0] = '\0';
				r = json(arg, s + b, len - b, lineno, err, sizeof err);
				if (r == -2) {
					if (errs)
						fprintf(errs, "%s:%u: %s\n", name, lineno, err);
					goto out;
				}
				if (r == 0)
					continue;
			}
		} else {
			r = target_parse_line(s, len, &t, err, sizeof err);
		}
		if (r < 0) {
			if (bad_lines)
				(*bad_lines)++;
			if (errs)
				fprintf(errs, "%s:%u: %s\n", name, lineno, err);
			if (strict)
				goto out;
			continue;
		}
		if (r == 0)
			continue;
		t.line = lineno;
		if (ts_add(set, &t) < 0) {
			if (errs)
				fprintf(errs, "%s:%u: out of memory\n", name, lineno);
			goto out;
		}
	}
	if (ferror(f)) {
		if (errs)
			fprintf(errs, "%s: read error: %s\n", name, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	funlockfile(f);
	free(buf);
	return rc;
}
