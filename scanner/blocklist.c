/*
 * blocklist: allow/block CIDR entries with longest-prefix-match lookup.
 *
 * Each family has a binary trie stored in one growable array of nodes (index 0 is the root,
 * so a child index of 0 means "no child"). A node at depth d stands for one /d prefix and
 * carries up to two entries, one allow and one block, as indexes into the label table. A
 * lookup walks the address bits from the root and remembers the deepest node that carries an
 * entry; at that node allow beats block. An opt-out entry on the path ends the walk: refused. That is exactly the rule
 * documented in blocklist.h, with no sorting step, so bl_add can be called at any time and bl_check stays const.
 * IPv4-mapped IPv6 addresses are rewritten to IPv4 before the walk (RFC 4291 section 2.5.5.2).
 */
#include "mxscan/blocklist.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>

#define BL_MAX_LINE 4096

struct bl_node {
	uint32_t child[2];
	int32_t entry[BL_KIND_COUNT]; /* label index, -1 = none */
};

struct bl_trie {
	struct bl_node *nodes;
	size_t n, cap;
};

struct blocklist {
	struct bl_trie v4, v6;
	char **labels;
	size_t nlabels, cap_labels;
	size_t count[BL_KIND_COUNT];
};

static const char *const bl_kind_names[] = {
	[BL_BLOCK] = "block",
	[BL_ALLOW] = "allow",
	[BL_OPTOUT] = "opt-out",
};
_Static_assert(sizeof bl_kind_names / sizeof bl_kind_names[0] == BL_KIND_COUNT,
	       "bl_kind_names out of step with enum bl_kind");

const char *bl_kind_name(enum bl_kind kind)
{
	if ((unsigned)kind >= BL_KIND_COUNT)
		return "?";
	return bl_kind_names[kind];
}

static void bl_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bl_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Copy at most 64 bytes of untrusted text into out, replacing non-printables by '?'. */
static void bl_sanitize(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, j = 0;

	for (i = 0; i < len && j + 4 < outlen && i < 64; i++)
		out[j++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (i < len && j + 4 <= outlen) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = '\0';
}

static int bl_trie_init(struct bl_trie *t)
{
	t->cap = 64;
	t->nodes = malloc(t->cap * sizeof *t->nodes);
	if (!t->nodes)
		return -1;
	t->n = 1;
	t->nodes[0] = (struct bl_node){ { 0, 0 }, { -1, -1, -1 } };
	return 0;
}

struct blocklist *bl_new(void)
{
	struct blocklist *bl = calloc(1, sizeof *bl);

	if (!bl)
		return NULL;
	if (bl_trie_init(&bl->v4) < 0 || bl_trie_init(&bl->v6) < 0) {
		bl_free(bl);
		return NULL;
	}
	return bl;
}

void bl_free(struct blocklist *bl)
{
	size_t i;

	if (!bl)
		return;
	for (i = 0; i < bl->nlabels; i++)
		free(bl->labels[i]);
	free(bl->labels);
	free(bl->v4.nodes);
	free(bl->v6.nodes);
	free(bl);
}

size_t bl_count(const struct blocklist *bl, enum bl_kind kind)
{
	if (!bl || (unsigned)kind >= BL_KIND_COUNT)
		return 0;
	return bl->count[kind];
}

static inline unsigned bl_bit(const uint8_t *addr, unsigned i)
{
	return (addr[i >> 3] >> (7 - (i & 7))) & 1u;
}

/* The node for addr/plen, created with its path when missing. Index, or 0 on ENOMEM. */
static uint32_t bl_trie_node(struct bl_trie *t, const uint8_t *addr, unsigned plen)
{
	uint32_t cur = 0;
	unsigned d;

	for (d = 0; d < plen; d++) {
		unsigned b = bl_bit(addr, d);
		uint32_t next = t->nodes[cur].child[b];

		if (!next) {
			if (t->n == t->cap) {
				size_t ncap = t->cap * 2;
				struct bl_node *nn;

				if (ncap > UINT32_MAX)
					return 0;
				nn = realloc(t->nodes, ncap * sizeof *nn);
				if (!nn)
					return 0;
				t->nodes = nn;
				t->cap = ncap;
			}
			next = (uint32_t)t->n++;
			t->nodes[next] = (struct bl_node){ { 0, 0 }, { -1, -1, -1 } };
			t->nodes[cur].child[b] = next;
		}
		cur = next;
	}
	return cur;
}

static int bl_store_label(struct blocklist *bl, const char *label, int32_t *idx)
{
	char *copy;

	if (bl->nlabels == bl->cap_labels) {
		size_t ncap = bl->cap_labels ? bl->cap_labels * 2 : 64;
		char **nl;

		if (ncap > INT32_MAX)
			return -1;
		nl = realloc(bl->labels, ncap * sizeof *nl);
		if (!nl)
			return -1;
		bl->labels = nl;
		bl->cap_labels = ncap;
	}
	copy = strdup(label);
	if (!copy)
		return -1;
	bl->labels[bl->nlabels] = copy;
	*idx = (int32_t)bl->nlabels++;
	return 0;
}

static int bl_is_v4mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, prefix, sizeof prefix) == 0;
}

/*
 * Parse "addr[/plen]" (exactly, no blanks) into family, 16 address bytes (IPv4 in the first
 * 4) and prefix length. Host bits, range and the IPv4-mapped rule are checked here.
 */
static int bl_parse_cidr(const char *cidr, int *family, uint8_t addr[16], unsigned *plen, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8], shown[80];
	const char *slash;
	size_t alen, len = strlen(cidr);
	unsigned maxlen, p, i;
	int rc = -1;

	bl_sanitize(cidr, len, shown, sizeof shown);
	slash = strchr(cidr, '/');
	alen = slash ? (size_t)(slash - cidr) : len;
	if (alen == 0 || alen >= INET6_ADDRSTRLEN) {
		bl_seterr(err, errlen, "invalid CIDR '%s'", shown);
		goto out;
	}
	memcpy(buf, cidr, alen);
	buf[alen] = '\0';
	memset(addr, 0, 16);
	if (memchr(buf, ':', alen)) {
		*family = AF_INET6;
		maxlen = 128;
	} else {
		*family = AF_INET;
		maxlen = 32;
	}
	if (inet_pton(*family, buf, addr) != 1) {
		bl_seterr(err, errlen, "invalid %s address in '%s'", *family == AF_INET ? "IPv4" : "IPv6", shown);
		goto out;
	}
	p = maxlen;
	if (slash) {
		const char *d = slash + 1;
		size_t nd = strlen(d);

		if (nd == 0 || nd > 3 || strspn(d, "0123456789") != nd) {
			bl_seterr(err, errlen, "invalid prefix length in '%s'", shown);
			goto out;
		}
		p = (unsigned)atoi(d);
		if (p > maxlen) {
			bl_seterr(err, errlen, "prefix length %u out of range (0..%u) in '%s'", p, maxlen, shown);
			goto out;
		}
	}
	for (i = p; i < maxlen; i++) {
		if (bl_bit(addr, i)) {
			uint8_t net[16];
			char ntext[INET6_ADDRSTRLEN];
			unsigned j;

			memcpy(net, addr, 16);
			for (j = p; j < maxlen; j++)
				net[j >> 3] &= (uint8_t) ~(0x80u >> (j & 7));
			inet_ntop(*family, net, ntext, sizeof ntext);
			bl_seterr(err, errlen, "host bits set in '%s' (network is %s/%u)", shown, ntext, p);
			goto out;
		}
	}
	if (*family == AF_INET6 && p >= 96 && bl_is_v4mapped(addr)) {
		bl_seterr(err, errlen,
			  "'%s' is inside ::ffff:0:0/96 (IPv4-mapped); IPv4-mapped addresses are "
			  "checked against the IPv4 entries, write the IPv4 CIDR instead",
			  shown);
		goto out;
	}
	*plen = p;
	rc = 0;
out:
	return rc;
}

int bl_add_err(struct blocklist *bl, const char *cidr, enum bl_kind kind, const char *label, char *err, size_t errlen)
{
	struct bl_trie *t;
	uint8_t addr[16];
	unsigned plen;
	uint32_t node;
	int family, rc = -1;

	if (!bl || !cidr || (unsigned)kind >= BL_KIND_COUNT) {
		bl_seterr(err, errlen, "invalid argument");
		errno = EINVAL;
		goto out;
	}
	if (bl_parse_cidr(cidr, &family, addr, &plen, err, errlen) < 0) {
		errno = EINVAL;
		goto out;
	}
	t = family == AF_INET ? &bl->v4 : &bl->v6;
	node = bl_trie_node(t, addr, plen);
	if (plen > 0 && node == 0) {
		bl_seterr(err, errlen, "out of memory");
		errno = ENOMEM;
		goto out;
	}
	if (t->nodes[node].entry[kind] < 0) {
		int32_t idx;

		if (bl_store_label(bl, label ? label : cidr, &idx) < 0) {
			bl_seterr(err, errlen, "out of memory");
			errno = ENOMEM;
			goto out;
		}
		t->nodes[node].entry[kind] = idx;
		bl->count[kind]++;
	}
	rc = 0;
out:
	return rc;
}

int bl_add(struct blocklist *bl, const char *cidr, enum bl_kind kind, const char *label)
{
	return bl_add_err(bl, cidr, kind, label, NULL, 0);
}

static int bl_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int bl_load_file(struct blocklist *bl, const char *path, enum bl_kind kind, char *err, size_t errlen)
{
	FILE *f = NULL;
	char *line = NULL, msg[512];
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int entries = 0, rc = -1;

	if (!bl || !path) {
		bl_seterr(err, errlen, "invalid argument");
		goto out;
	}
	f = fopen(path, "r");
	if (!f) {
		bl_seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *s = line, *e, *hash, *label = NULL;

		lineno++;
		if ((size_t)n > BL_MAX_LINE) {
			bl_seterr(err, errlen, "%s:%u: line longer than %d bytes", path, lineno, BL_MAX_LINE);
			goto out;
		}
		if (memchr(line, '\0', (size_t)n)) {
			bl_seterr(err, errlen, "%s:%u: NUL byte in line", path, lineno);
			goto out;
		}
		e = line + n;
		while (s < e && bl_blank((unsigned char)*s))
			s++;
		hash = memchr(s, '#', (size_t)(e - s));
		if (hash) {
			label = hash + 1;
			e = hash;
		}
		while (e > s && bl_blank((unsigned char)e[-1]))
			e--;
		if (e == s)
			continue; /* blank or comment-only line */
		*e = '\0';
		if (label) {
			char *le = label + strlen(label);

			while (*label && bl_blank((unsigned char)*label))
				label++;
			while (le > label && bl_blank((unsigned char)le[-1]))
				le--;
			*le = '\0';
			if (!*label)
				label = NULL;
		}
		if (bl_add_err(bl, s, kind, label, msg, sizeof msg) < 0) {
			bl_seterr(err, errlen, "%s:%u: %s", path, lineno, msg);
			goto out;
		}
		entries++;
	}
	if (ferror(f)) {
		bl_seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	rc = entries;
out:
	free(line);
	if (f)
		fclose(f);
	return rc;
}

int bl_check(const struct blocklist *bl, const struct sockaddr *sa, const char **why)
{
	const struct bl_trie *t;
	const uint8_t *addr;
	uint8_t mapped[4];
	unsigned maxlen, d;
	uint32_t cur = 0;
	int32_t label = -1;
	int allowed = 0;
	const char *reason;

	if (!bl || !sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
		reason = "unsupported address family";
		goto out;
	}
	if (sa->sa_family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		t = &bl->v4;
		maxlen = 32;
	} else {
		addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		t = &bl->v6;
		maxlen = 128;
		if (bl_is_v4mapped(addr)) {
			memcpy(mapped, addr + 12, 4);
			addr = mapped;
			t = &bl->v4;
			maxlen = 32;
		}
	}
	for (d = 0;; d++) {
		const struct bl_node *nd = &t->nodes[cur];

		/* An opt-out refuses whatever else matches, at any depth. */
		if (nd->entry[BL_OPTOUT] >= 0) {
			label = nd->entry[BL_OPTOUT];
			allowed = 0;
			break;
		}
		/* Deeper = more specific; at one node allow beats block. */
		if (nd->entry[BL_ALLOW] >= 0) {
			label = nd->entry[BL_ALLOW];
			allowed = 1;
		} else if (nd->entry[BL_BLOCK] >= 0) {
			label = nd->entry[BL_BLOCK];
			allowed = 0;
		}
		if (d == maxlen)
			break;
		cur = nd->child[bl_bit(addr, d)];
		if (!cur)
			break;
	}
	if (label >= 0) {
		reason = bl->labels[label];
	} else if (bl->count[BL_ALLOW] > 0) {
		reason = BL_NOT_ALLOWED;
	} else {
		reason = NULL;
		allowed = 1;
	}
out:
	if (why)
		*why = reason;
	return allowed;
}

/* datasets/blocklist.conf next to the binary (bin/../datasets) or at the
 * compiled-in source path. */
static int find_default_blocklist(char *out, size_t cap)
{
	char exe[PATH_MAX / 2];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(out, cap, "%s/../datasets/blocklist.conf", exe);
			if (access(out, R_OK) == 0)
				return 0;
			snprintf(out, cap, "%s/../share/mxscan/blocklist.conf", exe);
			if (access(out, R_OK) == 0)
				return 0;
		}
	}
#ifdef MXSCAN_DATADIR
	snprintf(out, cap, "%s/blocklist.conf", MXSCAN_DATADIR);
	if (access(out, R_OK) == 0)
		return 0;
#endif
	return -1;
}

struct blocklist *bl_build(const char *block_file, const char *const *allow, unsigned nallow, const char *const *optout,
			   unsigned noptout, char *err, size_t errlen)
{
	char path[PATH_MAX], e[400];
	struct blocklist *bl = bl_new();
	if (!bl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!block_file) {
		if (find_default_blocklist(path, sizeof(path)) < 0) {
			snprintf(err, errlen,
				 "cannot find the default blocklist (datasets/blocklist.conf next to the binary); "
				 "pass --blocklist FILE");
			goto fail;
		}
		block_file = path;
	}
	if (bl_load_file(bl, block_file, BL_BLOCK, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "blocklist: %s", e);
		goto fail;
	}
	/* Opt-out requests win over everything, the allow-list included. */
	for (unsigned i = 0; i < noptout; i++) {
		if (bl_load_file(bl, optout[i], BL_OPTOUT, e, sizeof(e)) < 0) {
			snprintf(err, errlen, "--optout: %s", e);
			goto fail;
		}
	}
	for (unsigned i = 0; i < nallow; i++) {
		/* a CIDR has a '/' and is no readable file; anything else must be a file */
		int cidr = strchr(allow[i], '/') && access(allow[i], R_OK) != 0;
		int r;

		if (!cidr && access(allow[i], F_OK) != 0) {
			snprintf(err, errlen, "--allowlist %s: neither a CIDR (such as 127.0.0.0/8) nor a file",
				 allow[i]);
			goto fail;
		}
		r = cidr ? bl_add_err(bl, allow[i], BL_ALLOW, "allow-list", e, sizeof(e))
			 : bl_load_file(bl, allow[i], BL_ALLOW, e, sizeof(e));
		if (r < 0) {
			snprintf(err, errlen, "--allowlist %s: %s", allow[i], e);
			goto fail;
		}
	}
	return bl;
fail:
	bl_free(bl);
	return NULL;
}
