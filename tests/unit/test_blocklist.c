/*
 * test_blocklist: the default blocklist file and the allow/block decision rule.
 *
 * Run from the repository root (it loads datasets/blocklist.conf). Nothing here connects
 * anywhere: addresses are only checked.
 */
#include "mxscan/blocklist.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_FILE "datasets/blocklist.conf"

static struct sockaddr_storage sa_of(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof ss);
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1)
			printf("# bad test address %s\n", text);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, text, &s4->sin_addr) != 1)
			printf("# bad test address %s\n", text);
	}
	return ss;
}

static int check(const struct blocklist *bl, const char *text, const char **why)
{
	struct sockaddr_storage ss = sa_of(text);

	return bl_check(bl, (const struct sockaddr *)&ss, why);
}

/* First and last address of a CIDR, as text. */
static int range_ends(const char *cidr, char *lo, char *hi, size_t len)
{
	char buf[64];
	unsigned char a[16];
	char *slash;
	int fam, bits, p, i;

	snprintf(buf, sizeof buf, "%s", cidr);
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	p = atoi(slash + 1);
	fam = strchr(buf, ':') ? AF_INET6 : AF_INET;
	bits = fam == AF_INET ? 32 : 128;
	if (inet_pton(fam, buf, a) != 1)
		return -1;
	inet_ntop(fam, a, lo, (socklen_t)len);
	for (i = p; i < bits; i++)
		a[i / 8] |= (unsigned char)(0x80u >> (i % 8));
	inet_ntop(fam, a, hi, (socklen_t)len);
	return 0;
}

static void test_default_file(void)
{
	char err[512], lo[64], hi[64];
	struct blocklist *bl = bl_new();
	FILE *f;
	char line[512];
	int n, ranges = 0, bad = 0;
	const char *why;
	/* The ranges the project promises to block, whatever else the file holds. */
	static const char *const required[] = {
		"0.0.0.0/8",       "10.0.0.0/8",      "100.64.0.0/10",     "127.0.0.0/8",    "169.254.0.0/16",
		"172.16.0.0/12",   "192.0.0.0/24",    "192.0.2.0/24",      "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24",  "224.0.0.0/4",       "240.0.0.0/4",    "255.255.255.255/32",
		"::/128",          "::1/128",         "64:ff9b::/96",      "64:ff9b:1::/48", "100::/64",
		"2001::/23",       "2001:db8::/32",   "2002::/16",         "3fff::/20",      "5f00::/16",
		"fc00::/7",        "fe80::/10",       "ff00::/8",          "192.88.99.0/24", "192.31.196.0/24",
		"192.52.193.0/24", "192.175.48.0/24", "2620:4f:8000::/48", "2001:2::/48",    "2001:20::/28",
		"2001:30::/28",
	};
	/* Public addresses that must stay scannable by default (checked, never contacted). */
	static const char *const public_ok[] = {
		"8.8.8.8",        "1.1.1.1",         "2a00:1450::1",    "2001:4860:4860::8888",
		"9.255.255.255",  "11.0.0.0",        "100.63.255.255",  "100.128.0.0",
		"172.15.255.255", "172.32.0.0",      "192.167.255.255", "192.169.0.0",
		"198.17.255.255", "198.20.0.0",      "223.255.255.255", "126.255.255.255",
		"128.0.0.0",      "2001:200::1",     "2003::1",         "3fff:1000::1",
		"3ffe::1",        "2620:4f:8001::1", "::ffff:8.8.8.8",  "fbff:ffff::1",
	};
	size_t i;

	ok(bl != NULL, "bl_new");
	n = bl_load_file(bl, DEFAULT_FILE, BL_BLOCK, err, sizeof err);
	ok(n > 50, "default blocklist loads (%d entries)%s%s", n, n < 0 ? ": " : "", n < 0 ? err : "");
	is_int(bl_count(bl, BL_BLOCK), n, "every line is a distinct entry");
	is_int(bl_count(bl, BL_ALLOW), 0, "no allow entries");

	/* Every range in the file blocks its first and last address. */
	f = fopen(DEFAULT_FILE, "r");
	ok(f != NULL, "open %s", DEFAULT_FILE);
	while (f && fgets(line, sizeof line, f)) {
		char cidr[128];

		if (sscanf(line, " %127[^# \t\r\n]", cidr) != 1)
			continue;
		ranges++;
		if (!strchr(cidr, '/'))
			strcat(cidr, strchr(cidr, ':') ? "/128" : "/32");
		if (range_ends(cidr, lo, hi, sizeof lo) < 0 || check(bl, lo, &why) || check(bl, hi, &why) || !why ||
		    !*why) {
			diag("range %s not blocked at %s or %s", cidr, lo, hi);
			bad++;
		}
	}
	if (f)
		fclose(f);
	is_int(ranges, n, "file has %d ranges", ranges);
	is_int(bad, 0, "every listed range blocks its first and last address, with a reason");

	bad = 0;
	for (i = 0; i < sizeof required / sizeof required[0]; i++) {
		range_ends(required[i], lo, hi, sizeof lo);
		if (check(bl, lo, &why) || check(bl, hi, &why)) {
			diag("required range %s not blocked", required[i]);
			bad++;
		}
	}
	is_int(bad, 0, "all %zu required special-purpose ranges block", i);

	bad = 0;
	for (i = 0; i < sizeof public_ok / sizeof public_ok[0]; i++) {
		why = "unset";
		if (check(bl, public_ok[i], &why) != 1 || why != NULL) {
			diag("public address %s refused (%s)", public_ok[i], why ? why : "-");
			bad++;
		}
	}
	is_int(bad, 0, "%zu public addresses are allowed by default, why = NULL", i);

	ok(check(bl, "127.0.0.1", &why) == 0, "127.0.0.1 blocked by default");
	is_str(why, "Loopback (RFC 1122 section 3.2.1.3)", "reason is the file's comment");
	ok(check(bl, "::1", &why) == 0, "::1 blocked by default");
	is_str(why, "Loopback Address (RFC 4291)", "::1 reason");
	check(bl, "192.0.0.9", &why);
	is_str(why, "Port Control Protocol Anycast (RFC 7723)", "most specific label wins");
	check(bl, "192.0.0.100", &why);
	is_str(why, "IETF Protocol Assignments (RFC 6890 section 2.1)", "enclosing /24 label");
	check(bl, "2001:db8::25", &why);
	is_str(why, "Documentation (RFC 3849)", "2001:db8::/32 label");
	check(bl, "2002:a00:1::1", &why);
	is_str(why, "6to4 (RFC 3056)", "6to4 blocked wholesale");
	check(bl, "fec0::1", &why);
	is_str(why, "Site-Local Unicast, deprecated (RFC 3879)", "site-local blocked");

	/* IPv4-mapped IPv6: checked as IPv4, not blocked wholesale. */
	ok(check(bl, "::ffff:10.1.2.3", &why) == 0, "::ffff:10.1.2.3 refused");
	is_str(why, "Private-Use (RFC 1918)", "mapped address gets the IPv4 reason");
	ok(check(bl, "::ffff:127.0.0.1", &why) == 0, "::ffff:127.0.0.1 refused as loopback");
	ok(check(bl, "::ffff:8.8.4.4", &why) == 1, "::ffff:8.8.4.4 allowed like 8.8.4.4");
	ok(check(bl, "::8.8.4.4", &why) == 0, "IPv4-compatible ::8.8.4.4 refused");
	ok(check(bl, "64:ff9b::808:808", &why) == 0, "NAT64 well-known prefix refused");
	bl_free(bl);
}

static void test_allow_rules(void)
{
	char err[512];
	struct blocklist *bl = bl_new();
	const char *why;

	bl_load_file(bl, DEFAULT_FILE, BL_BLOCK, err, sizeof err);
	ok(bl_add(bl, "127.0.0.0/8", BL_ALLOW, "test loopback") == 0, "allow 127.0.0.0/8");
	ok(bl_add(bl, "::1/128", BL_ALLOW, NULL) == 0, "allow ::1/128");
	is_int(bl_count(bl, BL_ALLOW), 2, "two allow entries");
	ok(check(bl, "127.0.0.1", &why) == 1, "allow /8 overrides the equal-length loopback block");
	is_str(why, "test loopback", "why = the allow entry's label");
	ok(check(bl, "127.255.255.254", &why) == 1, "whole /8 allowed");
	ok(check(bl, "::1", &why) == 1, "::1 allowed");
	is_str(why, "::1/128", "label defaults to the CIDR text");
	ok(check(bl, "::ffff:127.3.4.5", &why) == 1, "mapped loopback follows the IPv4 allow");
	ok(check(bl, "8.8.8.8", &why) == 0, "with an allow-list, a public address is refused");
	is_str(why, BL_NOT_ALLOWED, "reason: not in allow-list");
	ok(check(bl, "2a00:1450::1", &why) == 0, "IPv6 outside the allow-list refused");
	is_str(why, BL_NOT_ALLOWED, "IPv6 reason: not in allow-list");
	ok(check(bl, "10.0.0.1", &why) == 0, "private address refused");
	is_str(why, "Private-Use (RFC 1918)", "a matching block entry names the reason");

	ok(bl_add(bl, "127.0.0.9/32", BL_BLOCK, "broken host") == 0, "block 127.0.0.9/32");
	ok(check(bl, "127.0.0.9", &why) == 0, "a /32 block inside an allowed /8 still blocks");
	is_str(why, "broken host", "its label is the reason");
	ok(check(bl, "127.0.0.8", &why) == 1, "the neighbour stays allowed");
	ok(check(bl, "::ffff:127.0.0.9", &why) == 0, "and its mapped form is blocked too");
	ok(bl_add(bl, "127.0.0.9/32", BL_ALLOW, "override") == 0, "allow the same /32");
	ok(check(bl, "127.0.0.9", &why) == 1, "equal prefix length: allow wins");
	is_str(why, "override", "allow label");
	bl_free(bl);

	/* Order of addition does not matter. */
	bl = bl_new();
	bl_add(bl, "127.0.0.0/8", BL_ALLOW, NULL);
	bl_load_file(bl, DEFAULT_FILE, BL_BLOCK, err, sizeof err);
	ok(check(bl, "127.0.0.1", &why) == 1, "allow added before the block file still wins");
	bl_free(bl);

	/* A /0 block and a longer allow. */
	bl = bl_new();
	bl_add(bl, "0.0.0.0/0", BL_BLOCK, "all v4");
	ok(check(bl, "1.2.3.4", &why) == 0, "0.0.0.0/0 blocks every IPv4 address");
	is_str(why, "all v4", "/0 label");
	ok(check(bl, "2a00::1", &why) == 1, "0.0.0.0/0 leaves IPv6 alone");
	bl_add(bl, "1.2.3.0/24", BL_ALLOW, "one net");
	ok(check(bl, "1.2.3.4", &why) == 1, "a longer allow beats a /0 block");
	ok(check(bl, "2a00::1", &why) == 0, "an allow-list refuses the other family too");
	bl_free(bl);

	/* Empty blocklist allows everything. */
	bl = bl_new();
	ok(check(bl, "10.0.0.1", &why) == 1 && why == NULL, "empty blocklist allows");
	{
		struct sockaddr_un un;

		memset(&un, 0, sizeof un);
		un.sun_family = AF_UNIX;
		ok(bl_check(bl, (struct sockaddr *)&un, &why) == 0, "AF_UNIX refused");
		is_str(why, "unsupported address family", "AF_UNIX reason");
		ok(bl_check(bl, NULL, &why) == 0, "NULL address refused");
	}
	bl_free(bl);
}

static void test_errors(void)
{
	struct blocklist *bl = bl_new();
	char path[] = "/tmp/mxscan-bl-XXXXXX", err[512];
	int fd, r;
	size_t i;
	static const struct {
		const char *content, *want;
	} cases[] = {
		{ "10.0.0.0/8\n10.0.0.1/8  # bad\n", ":2: host bits set in '10.0.0.1/8' (network is 10.0.0.0/8)" },
		{ "# c\n\n10.0.0.0/33\n", ":3: prefix length 33 out of range (0..32)" },
		{ "2001:db8::/129\n", ":1: prefix length 129 out of range (0..128)" },
		{ "fe80::1/10\n", ":1: host bits set in 'fe80::1/10' (network is fe80::/10)" },
		{ "mail.example.net\n", ":1: invalid IPv4 address" },
		{ "10.0.0.0 /8\n", ":1: invalid" },
		{ "10.0.0.0/\n", ":1: invalid prefix length" },
		{ "10.0.0.0/+8\n", ":1: invalid prefix length" },
		{ "010.0.0.0/8\n", ":1: invalid IPv4 address" },
		{ "1.2.3.4.5/32\n", ":1: invalid IPv4 address" },
		{ "::ffff:0:0/96 # mapped\n", ":1: '::ffff:0:0/96' is inside ::ffff:0:0/96" },
		{ "::ffff:10.0.0.0/104\n", ":1: '::ffff:10.0.0.0/104' is inside ::ffff:0:0/96" },
		{ "10.0.0.0/8\r\n11.0.0.0/8 x\r\n", ":2: invalid" },
	};

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		FILE *f;

		strcpy(path, "/tmp/mxscan-bl-XXXXXX");
		fd = mkstemp(path);
		f = fdopen(fd, "w");
		fputs(cases[i].content, f);
		fclose(f);
		r = bl_load_file(bl, path, BL_BLOCK, err, sizeof err);
		ok(r == -1 && strncmp(err, path, strlen(path)) == 0 && strstr(err, cases[i].want),
		   "bad line rejected with file:line: %s", cases[i].want);
		if (r != -1 || !strstr(err, cases[i].want))
			diag("got %d \"%s\"", r, err);
		unlink(path);
	}

	/* A NUL byte inside a line. */
	{
		FILE *f;

		strcpy(path, "/tmp/mxscan-bl-XXXXXX");
		fd = mkstemp(path);
		f = fdopen(fd, "w");
		fwrite("10.0.0.0/8\n11.0\0.0.0/8\n", 1, 24, f);
		fclose(f);
		r = bl_load_file(bl, path, BL_BLOCK, err, sizeof err);
		ok(r == -1 && strstr(err, ":2: NUL byte"), "NUL byte rejected (%s)", err);
		unlink(path);
	}
	/* CRLF and comment-only lines are fine; a comment-less line gets the CIDR as label. */
	{
		FILE *f;
		const char *why;
		struct blocklist *b2 = bl_new();

		strcpy(path, "/tmp/mxscan-bl-XXXXXX");
		fd = mkstemp(path);
		f = fdopen(fd, "w");
		fputs("\xef# header\r\n  \r\n\t10.0.0.0/8\t# ten  \r\n11.0.0.0/8\r\n12.0.0.1\n", f);
		fclose(f);
		r = bl_load_file(b2, path, BL_BLOCK, err, sizeof err);
		/* The first line starts with a stray byte, so it is an error. */
		ok(r == -1 && strstr(err, ":1: "), "garbage before '#' is an error (%s)", err);
		f = fopen(path, "w");
		fputs("# header\r\n  \r\n\t10.0.0.0/8\t# ten  \r\n11.0.0.0/8\r\n12.0.0.1\n", f);
		fclose(f);
		r = bl_load_file(b2, path, BL_BLOCK, err, sizeof err);
		is_int(r, 3, "CRLF file with blank and comment lines: 3 entries");
		check(b2, "10.9.9.9", &why);
		is_str(why, "ten", "comment trimmed into the label");
		check(b2, "11.9.9.9", &why);
		is_str(why, "11.0.0.0/8", "no comment: label is the CIDR");
		ok(check(b2, "12.0.0.1", &why) == 0 && check(b2, "12.0.0.2", &why) == 1, "a bare address is a /32");
		r = bl_load_file(b2, path, BL_BLOCK, err, sizeof err);
		is_int(bl_count(b2, BL_BLOCK), 3, "loading the same file twice adds no entries");
		bl_free(b2);
		unlink(path);
	}

	r = bl_load_file(bl, "/nonexistent/blocklist.conf", BL_BLOCK, err, sizeof err);
	ok(r == -1 && strstr(err, "/nonexistent/blocklist.conf: No such file"), "missing file: %s", err);
	errno = 0;
	ok(bl_add(bl, "10.0.0.1/8", BL_BLOCK, NULL) == -1 && errno == EINVAL, "bl_add: host bits -> EINVAL");
	ok(bl_add(bl, "", BL_BLOCK, NULL) == -1 && errno == EINVAL, "bl_add: empty -> EINVAL");
	ok(bl_add(bl, "1.2.3.4/8 ", BL_BLOCK, NULL) == -1, "bl_add: trailing blank rejected");
	ok(bl_add_err(bl, "192.168.1.1/16", BL_ALLOW, NULL, err, sizeof err) == -1 &&
		   strstr(err, "network is 192.168.0.0/16"),
	   "bl_add_err suggests the network: %s", err);
	is_str(bl_kind_name(BL_BLOCK), "block", "bl_kind_name(BL_BLOCK)");
	is_str(bl_kind_name(BL_ALLOW), "allow", "bl_kind_name(BL_ALLOW)");
	bl_free(bl);
}

/* ---- random differential test against a naive longest-prefix match ---- */

struct naive {
	int v6, kind;
	unsigned plen;
	unsigned char a[16];
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static int naive_match(const struct naive *e, const unsigned char *a)
{
	unsigned i;

	for (i = 0; i < e->plen; i++)
		if (((e->a[i / 8] ^ a[i / 8]) >> (7 - i % 8)) & 1)
			return 0;
	return 1;
}

static void test_differential(void)
{
	enum { NENT = 3000, NQ = 30000 };
	static struct naive ents[NENT];
	struct blocklist *bl = bl_new();
	int i, bad = 0, nallow = 0;

	for (i = 0; i < NENT; i++) {
		struct naive *e = &ents[i];
		char text[64], cidr[80];
		unsigned b, maxb;

		e->v6 = rnd() % 4 == 0;
		e->kind = rnd() % 3 == 0 ? BL_ALLOW : BL_BLOCK;
		maxb = e->v6 ? 128 : 32;
		/* Cluster addresses so that prefixes nest often: few distinct top bytes. */
		memset(e->a, 0, 16);
		e->a[0] = e->v6 ? 0x20 : (unsigned char)(rnd() % 4 + 1);
		for (b = 1; b < (e->v6 ? 16u : 4u); b++)
			e->a[b] = (unsigned char)(rnd() % 4);
		e->plen = rnd() % (maxb + 1);
		for (b = e->plen; b < maxb; b++)
			e->a[b / 8] &= (unsigned char)~(0x80u >> (b % 8));
		if (e->v6 && e->plen >= 96 && e->a[10] == 0xff && e->a[11] == 0xff)
			e->plen = 95; /* never happens with these bytes; keep the rule obvious */
		inet_ntop(e->v6 ? AF_INET6 : AF_INET, e->a, text, sizeof text);
		snprintf(cidr, sizeof cidr, "%s/%u", text, e->plen);
		if (bl_add(bl, cidr, (enum bl_kind)e->kind, cidr) < 0) {
			diag("bl_add(%s) failed", cidr);
			bad++;
		}
		nallow += e->kind == BL_ALLOW;
	}
	for (i = 0; i < NQ; i++) {
		unsigned char a[16];
		int v6 = rnd() % 4 == 0, j, best = -1, want, got;
		char text[64];
		const char *why;

		memset(a, 0, 16);
		a[0] = v6 ? 0x20 : (unsigned char)(rnd() % 4 + 1);
		for (j = 1; j < (v6 ? 16 : 4); j++)
			a[j] = (unsigned char)(rnd() % 4);
		for (j = 0; j < NENT; j++) {
			if (ents[j].v6 != v6 || !naive_match(&ents[j], a))
				continue;
			if (best < 0 || ents[j].plen > ents[best].plen ||
			    (ents[j].plen == ents[best].plen && ents[j].kind == BL_ALLOW))
				best = j;
		}
		want = best >= 0 ? ents[best].kind == BL_ALLOW : nallow == 0;
		inet_ntop(v6 ? AF_INET6 : AF_INET, a, text, sizeof text);
		got = check(bl, text, &why);
		if (got != want) {
			if (bad++ < 5)
				diag("%s: got %d want %d (why %s)", text, got, want, why ? why : "-");
		}
	}
	is_int(bad, 0, "%d random checks against %d random entries agree with a naive LPM", NQ, NENT);
	bl_free(bl);
}

/* Opt-out entries refuse whatever allow entry matches, even a more specific one. */
static void test_optout(void)
{
	struct blocklist *bl = bl_new();
	const char *why = NULL;
	bl_add(bl, "127.0.0.0/8", BL_ALLOW, "tests");
	ok(bl_add(bl, "127.30.5.0/24", BL_OPTOUT, "opt-out: example.org abuse desk") == 0, "add an opt-out /24");
	bl_add(bl, "127.30.5.7/32", BL_ALLOW, "a more specific allow");
	ok(check(bl, "127.30.5.9", &why) == 0 && why && strstr(why, "abuse desk"), "opted-out address refused: %s",
	   why ? why : "-");
	ok(check(bl, "127.30.5.7", &why) == 0, "a more specific allow does not override the opt-out");
	ok(check(bl, "127.30.6.1", &why) == 1, "outside the opt-out: the allow-list decides");
	bl_add(bl, "127.0.0.0/8", BL_OPTOUT, NULL);
	ok(check(bl, "127.1.1.1", &why) == 0, "an opt-out of the same prefix as an allow entry wins");
	is_int(bl_count(bl, BL_OPTOUT), 2, "two opt-out entries");
	is_str(bl_kind_name(BL_OPTOUT), "opt-out", "bl_kind_name(BL_OPTOUT)");
	bl_free(bl);
}

int main(void)
{
	test_default_file();
	test_optout();
	test_allow_rules();
	test_errors();
	test_differential();
	return done_testing();
}
