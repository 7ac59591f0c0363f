/*
 * test_target: every accepted target form, every error, and the deduplicating set.
 */
#include "mxscan/target.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Printable form of a test line for TAP descriptions (which must stay on one line). */
static const char *esc(const char *s)
{
	static char buf[4][160];
	static int k;
	char *b = buf[k++ & 3];
	size_t j = 0;

	for (; *s && j + 5 < sizeof buf[0]; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '#')
			b[j++] = (char)c;
		else
			j += (size_t)snprintf(b + j, sizeof buf[0] - j, "\\x%02x", c);
	}
	b[j] = '\0';
	return b;
}

static void diag_lines(const char *text)
{
	const char *nl;

	while (text && *text) {
		nl = strchr(text, '\n');
		printf("# %.*s\n", nl ? (int)(nl - text) : (int)strlen(text), text);
		text = nl ? nl + 1 : NULL;
	}
}

static int parse(const char *line, struct target *t, char *err, size_t errlen)
{
	return target_parse_line(line, strlen(line), t, err, errlen);
}

static int family(const struct target *t)
{
	return t->has_addr ? t->addr.ss_family : 0;
}

static int port_of_addr(const struct target *t)
{
	if (t->addr.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&t->addr)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&t->addr)->sin6_port);
}

struct good {
	const char *line, *host, *sni, *tag;
	int port, fam;
};

static void test_accepted(void)
{
	static const struct good cases[] = {
		{ "192.0.2.7", "192.0.2.7", "", "", 0, AF_INET },
		{ "192.0.2.7:2525", "192.0.2.7", "", "", 2525, AF_INET },
		{ "2001:db8::1", "2001:db8::1", "", "", 0, AF_INET6 },
		{ "2001:DB8:0:0::1", "2001:db8::1", "", "", 0, AF_INET6 },
		{ "[2001:db8::1]:25", "2001:db8::1", "", "", 25, AF_INET6 },
		{ "[2001:db8::1]", "2001:db8::1", "", "", 0, AF_INET6 },
		{ "[::1]:65535", "::1", "", "", 65535, AF_INET6 },
		{ "[192.0.2.7]:25", "192.0.2.7", "", "", 25, AF_INET },
		{ "::ffff:192.0.2.9", "192.0.2.9", "", "", 0, AF_INET },
		{ "mx1.example.net", "mx1.example.net", "", "", 0, 0 },
		{ "MX1.Example.NET.", "MX1.Example.NET", "", "", 0, 0 },
		{ "mx1.example.net:587", "mx1.example.net", "", "", 587, 0 },
		{ "mx1.example.net.:1", "mx1.example.net", "", "", 1, 0 },
		{ "localhost", "localhost", "", "", 0, 0 },
		{ "xn--bcher-kva.example", "xn--bcher-kva.example", "", "", 0, 0 },
		{ "1a.2b-c.example", "1a.2b-c.example", "", "", 0, 0 },
		{ "a.b.123x", "a.b.123x", "", "", 0, 0 },
		{ "  \t mx1.example.net \t ", "mx1.example.net", "", "", 0, 0 },
		{ "mx1.example.net\r\n", "mx1.example.net", "", "", 0, 0 },
		{ "mx1.example.net\n", "mx1.example.net", "", "", 0, 0 },
		{ "mx1.example.net  # primary MX", "mx1.example.net", "", "", 0, 0 },
		{ "192.0.2.7,mx1.example.net", "192.0.2.7", "mx1.example.net", "", 0, AF_INET },
		{ "192.0.2.7, mx1.example.net. , tagA", "192.0.2.7", "mx1.example.net", "tagA", 0, AF_INET },
		{ "192.0.2.7,mx1.example.net,tag b,465", "192.0.2.7", "mx1.example.net", "tag b", 465, AF_INET },
		{ "2001:db8::25,mx.example.org,,2525", "2001:db8::25", "mx.example.org", "", 2525, AF_INET6 },
		{ "[2001:db8::25],mx.example.org", "2001:db8::25", "mx.example.org", "", 0, AF_INET6 },
		{ "192.0.2.7,,scan-1", "192.0.2.7", "", "scan-1", 0, AF_INET },
		{ "192.0.2.7,,,", "192.0.2.7", "", "", 0, AF_INET },
		{ ",mx2.example.net,t", "mx2.example.net", "mx2.example.net", "t", 0, 0 },
		{ "192.0.2.7,mx1.example.net,a#b", "192.0.2.7", "mx1.example.net", "a#b", 0, AF_INET },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct good *c = &cases[i];
		struct target t;
		char err[256] = "";
		int r = parse(c->line, &t, err, sizeof err);

		if (!ok(r == 1 && strcmp(t.host, c->host) == 0 && strcmp(t.sni, c->sni) == 0 &&
				strcmp(t.tag, c->tag) == 0 && t.port == c->port && family(&t) == c->fam &&
				t.has_addr == (c->fam != 0) && t.line == 0,
			"accepted: '%s'", esc(c->line))) {
			diag("r=%d err='%s' host='%s' sni='%s' tag='%s' port=%u fam=%d", r, err, r == 1 ? t.host : "",
			     r == 1 ? t.sni : "", r == 1 ? t.tag : "", r == 1 ? t.port : 0, r == 1 ? family(&t) : -1);
		}
		if (r == 1 && t.has_addr) {
			ok(t.addrlen == (c->fam == AF_INET ? sizeof(struct sockaddr_in)
							   : sizeof(struct sockaddr_in6)) &&
				   port_of_addr(&t) == 0,
			   "  addrlen matches family, sockaddr port 0");
		}
	}

	/* A maximal host name: 253 bytes, labels of 63. */
	{
		char name[300], line[320];
		struct target t;
		char err[256];

		snprintf(name, sizeof name, "%.63s.%.63s.%.63s.%.61s",
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
			 "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
			 "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
		is_int(strlen(name), 253, "test name is 253 bytes");
		snprintf(line, sizeof line, "%s.:25", name);
		ok(parse(line, &t, err, sizeof err) == 1 && strcmp(t.host, name) == 0 && t.port == 25,
		   "253-byte name with trailing dot and port accepted");
		snprintf(line, sizeof line, "e%s", name);
		ok(parse(line, &t, err, sizeof err) == -1 && strstr(err, "253"), "254-byte name rejected: %s", err);
	}
	/* Not NUL-terminated input: the parser must honour len. */
	{
		struct target t;
		char err[256];
		const char buf[] = "192.0.2.7:25XYZ";

		ok(target_parse_line(buf, 12, &t, err, sizeof err) == 1 && t.port == 25,
		   "len is honoured (no NUL needed)");
	}
	/* A line of exactly TARGET_MAX_LINE bytes plus CRLF is not "too long". */
	{
		char line[TARGET_MAX_LINE + 3];
		struct target t;
		char err[256];

		memset(line, ' ', TARGET_MAX_LINE);
		memcpy(line, "mx.example.net", 14);
		memcpy(line + TARGET_MAX_LINE, "\r\n", 3);
		ok(parse(line, &t, err, sizeof err) == 1, "line of %d bytes + CRLF accepted", TARGET_MAX_LINE);
		line[TARGET_MAX_LINE] = ' ';
		ok(parse(line, &t, err, sizeof err) == -1 && strstr(err, "longer than"),
		   "line of %d bytes rejected: %s", TARGET_MAX_LINE + 1, err);
	}
}

static void test_skipped(void)
{
	static const char *const lines[] = {
		"", "   ", "\t\r\n", "\n", "\r\n", "# comment", "   # indented comment", "#192.0.2.7"
	};
	size_t i;

	for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct target t;
		char err[64];

		is_int(parse(lines[i], &t, err, sizeof err), 0, "blank/comment line %zu skipped", i);
	}
}

struct bad {
	const char *line, *want;
};

static void test_errors(void)
{
	static const struct bad cases[] = {
		{ "192.0.2.7:0", "port out of range" },
		{ "192.0.2.7:65536", "port out of range" },
		{ "192.0.2.7:999999", "port out of range" },
		{ "192.0.2.7:", "empty port" },
		{ "192.0.2.7:2x", "invalid port" },
		{ "192.0.2.7:-1", "invalid port" },
		{ "192.0.2.7: 25", "invalid port" },
		{ "[2001:db8::1]:0", "port out of range" },
		{ "[2001:db8::1]:", "empty port" },
		{ "[2001:db8::1]25", "expected ':port'" },
		{ "[2001:db8::1", "missing ']'" },
		{ "[]:25", "invalid IP address in brackets" },
		{ "[mx1.example.net]:25", "invalid IP address in brackets" },
		{ "2001:db8::1:25:", "invalid IPv6 address" },
		{ "2001:db8:::1", "invalid IPv6 address" },
		{ "fe80::1%eth0", "invalid IPv6 address" },
		{ "999.0.0.1", "invalid IPv4 address" },
		{ "10.1", "invalid IPv4 address" },
		{ "010.0.0.1", "invalid IPv4 address" },
		{ "1.2.3.4.5", "invalid IPv4 address" },
		{ "1.2.3.4.", "invalid IPv4 address" },
		{ "mx_1.example.net", "underscore" },
		{ "-mx.example.net", "starts or ends with '-'" },
		{ "mx-.example.net", "starts or ends with '-'" },
		{ "mx..example.net", "empty label" },
		{ ".example.net", "empty label" },
		{ "mx.example.net..", "empty label" },
		{ ".", "empty host name" },
		{ "mx.example.123", "all-numeric last label" },
		{ "b\xc3\xbc"
		  "cher.example",
		  "non-ASCII" },
		{ "mx1 example.net", "invalid character" },
		{ "mx1.example.net/25", "invalid character" },
		{ "mx1.example.net#x", "invalid character" },
		{ ":25", "missing host" },
		{ "mx\x01.example.net", "control character" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", "label longer than 63" },
		{ "192.0.2.7,mx1.example.net,t,1,extra", "too many CSV fields" },
		{ ",", "neither ip nor name" },
		{ " , ,tag", "neither ip nor name" },
		{ "mx1.example.net,mx1.example.net", "not an IP address" },
		{ "192.0.2.7:25,mx1.example.net", "not an IP address" },
		{ "192.0.2.7,mx_1.example.net", "underscore" },
		{ "192.0.2.7,mx1.example.net,tag,0", "port out of range" },
		{ "192.0.2.7,mx1.example.net,tag,http", "invalid port" },
		{ "192.0.2.7,mx1.example.net,0123456789012345678901234567890123456789012345678901234567890123",
		  "tag longer than 63" },
		{ "192.0.2.7,mx1.example.net,t\xc3\xa9", "printable ASCII" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct target t;
		char err[256] = "";
		int r = parse(cases[i].line, &t, err, sizeof err);

		if (!ok(r == -1 && strstr(err, cases[i].want), "rejected: '%s' (%s)", esc(cases[i].line),
			cases[i].want))
			diag("r=%d err='%s'", r, esc(err));
	}
	{
		struct target t;
		char err[256];
		const char nul[] = "192.0.2.7\0:25";

		ok(target_parse_line(nul, sizeof nul - 1, &t, err, sizeof err) == -1 && strstr(err, "NUL"),
		   "NUL byte rejected: %s", err);
	}
	{
		char *line = malloc(5000);
		struct target t;
		char err[256];

		memset(line, 'a', 5000);
		ok(target_parse_line(line, 5000, &t, err, sizeof err) == -1 && strstr(err, "longer than 1024"),
		   "over-long line rejected: %s", err);
		free(line);
	}
	{
		struct target t;
		char tiny[8];

		ok(parse("192.0.2.7:0", &t, tiny, sizeof tiny) == -1 && strlen(tiny) == 7,
		   "message truncated to errlen");
		ok(parse("192.0.2.7:0", &t, NULL, 0) == -1, "NULL err buffer allowed");
	}
}

static struct target mk(const char *line)
{
	struct target t;
	char err[256];

	if (parse(line, &t, err, sizeof err) != 1) {
		diag("mk('%s') failed: %s", line, err);
		memset(&t, 0, sizeof t);
	}
	return t;
}

static void test_set(void)
{
	struct target_set *set = ts_new();
	struct target t;
	const struct target *first;

	ok(set != NULL, "ts_new");
	is_int(ts_count(set), 0, "empty set");
	ok(ts_get(set, 0) == NULL, "ts_get past end is NULL");
	t = mk("192.0.2.7,mx1.example.net,first");
	is_int(ts_add(set, &t), 1, "add 192.0.2.7 (sni mx1)");
	t = mk("192.0.2.7,mx2.example.net,second");
	is_int(ts_add(set, &t), 0, "same IP, default port, other sni: duplicate");
	first = ts_get(set, 0);
	is_str(first->sni, "mx1.example.net", "the first target's sni is kept");
	is_str(first->tag, "first", "the first target's tag is kept");
	t = mk("192.0.2.7:25");
	is_int(ts_add(set, &t), 1, "same IP with explicit port 25 is a different key");
	t = mk("[::ffff:192.0.2.7]:25");
	is_int(ts_add(set, &t), 0, "IPv4-mapped spelling of the same address: duplicate");
	t = mk("2001:db8::1");
	is_int(ts_add(set, &t), 1, "add 2001:db8::1");
	t = mk("[2001:DB8:0::1]");
	is_int(ts_add(set, &t), 0, "another spelling of 2001:db8::1: duplicate");
	t = mk("mx1.example.net:25");
	is_int(ts_add(set, &t), 1, "add mx1.example.net:25");
	t = mk("MX1.EXAMPLE.NET.:25");
	is_int(ts_add(set, &t), 0, "host names compare case-insensitively, trailing dot ignored");
	t = mk("mx1.example.net:465");
	is_int(ts_add(set, &t), 1, "other port: new target");
	t = mk(",mx1.example.net");
	is_int(ts_add(set, &t), 1, "CSV name-only target, default port: new key");
	is_int(ts_count(set), 6, "6 distinct targets");
	is_int(ts_dups(set), 4, "4 duplicates counted");
	memset(&t, 0, sizeof t);
	is_int(ts_add(set, &t), -1, "empty host rejected");
	ts_free(set);
	ts_free(NULL);

	/* Many targets: the hash table and chunks grow, pointers stay valid, counts exact. */
	set = ts_new();
	{
		enum { N = 200000 };
		size_t i, bad = 0;
		const struct target *p0 = NULL;

		for (i = 0; i < N; i++) {
			char line[64];

			if (i % 2)
				snprintf(line, sizeof line, "127.%zu.%zu.%zu:%zu", (i >> 16) & 255, (i >> 8) & 255,
					 i & 255, 25 + i % 3);
			else
				snprintf(line, sizeof line, "h%zu.example.net", i);
			t = mk(line);
			if (ts_add(set, &t) != 1)
				bad++;
			if (i == 0)
				p0 = ts_get(set, 0);
		}
		for (i = 0; i < N; i += 7) {
			char line[64];

			snprintf(line, sizeof line, "H%zu.Example.Net", i & ~(size_t)1);
			t = mk(line);
			if (ts_add(set, &t) != 0)
				bad++;
		}
		is_int(bad, 0, "200000 distinct targets added, every re-add seen as a duplicate");
		is_int(ts_count(set), N, "count is exact");
		ok(ts_get(set, 0) == p0, "pointer to the first target unchanged after growth");
		is_str(ts_get(set, N - 2)->host, "h199998.example.net", "insertion order kept");
	}
	ts_free(set);
}

static FILE *mem_in(const char *data, size_t len)
{
	return fmemopen((void *)data, len, "r");
}

static void test_read_file(void)
{
	static const char input[] = "\xef\xbb\xbf# targets for a test\r\n"
				    "192.0.2.7\r\n"
				    "mx1.example.net:587\n"
				    "bad_name.example.net\n"
				    "\n"
				    "192.0.2.7\n"
				    "192.0.2.8:99999\n"
				    "  # indented comment\n"
				    "198.51.100.9,mx9.example.org,t9,2525\n"
				    "[2001:db8::1\n"
				    "2001:db8::2";
	struct target_set *set = ts_new();
	char *errbuf = NULL;
	size_t errlen = 0;
	FILE *errs = open_memstream(&errbuf, &errlen);
	FILE *in = mem_in(input, sizeof input - 1);
	unsigned bad = 0;
	int r;

	r = ts_read_file(set, in, "t.txt", 0, &bad, errs);
	fclose(in);
	fflush(errs);
	is_int(r, 0, "non-strict read returns 0");
	is_int(bad, 3, "3 bad lines counted");
	is_int(ts_count(set), 4, "4 targets kept (one duplicate dropped)");
	is_int(ts_dups(set), 1, "1 duplicate");
	ok(errbuf && strstr(errbuf, "t.txt:4: underscore in host name") &&
		   strstr(errbuf, "t.txt:7: port out of range") && strstr(errbuf, "t.txt:10: missing ']'"),
	   "each bad line reported as name:LINE: message");
	diag_lines(errbuf);
	is_int(ts_get(set, 0)->line, 2, "line numbers recorded (BOM line is line 1)");
	is_str(ts_get(set, 0)->host, "192.0.2.7", "CRLF stripped");
	is_int(ts_get(set, 2)->line, 9, "CSV target on line 9");
	is_str(ts_get(set, 3)->host, "2001:db8::2", "last line without newline read");
	ts_free(set);
	fclose(errs);
	free(errbuf);

	/* Strict: stop at the first bad line. */
	set = ts_new();
	in = mem_in(input, sizeof input - 1);
	bad = 0;
	r = ts_read_file(set, in, "t.txt", 1, &bad, NULL);
	fclose(in);
	is_int(r, -1, "strict read fails");
	is_int(bad, 1, "strict: one bad line counted");
	is_int(ts_count(set), 2, "strict: targets before the bad line kept");
	ts_free(set);

	/* Over-long line and NUL byte in a file: reported, reading continues. */
	{
		size_t n = 6000 + 64, i;
		char *data = malloc(n);
		char *eb = NULL;
		size_t el = 0;
		FILE *e2 = open_memstream(&eb, &el);

		memset(data, 'x', 6000);
		i = 6000;
		memcpy(data + i, "\nmx.example.net\n1.2\0.3.4\n192.0.2.1", 34);
		i += 34;
		set = ts_new();
		in = mem_in(data, i);
		bad = 0;
		r = ts_read_file(set, in, "long", 0, &bad, e2);
		fclose(in);
		fflush(e2);
		is_int(r, 0, "read with an over-long line completes");
		is_int(bad, 2, "over-long line and NUL line counted");
		is_int(ts_count(set), 2, "the lines around them are read");
		ok(eb && strstr(eb, "long:1: line longer than 1024 bytes") && strstr(eb, "long:3: NUL byte in line"),
		   "over-long and NUL lines reported with name:LINE");
		diag_lines(eb);
		ts_free(set);
		fclose(e2);
		free(eb);
		free(data);
	}
	/* Empty input. */
	set = ts_new();
	in = mem_in("", 0);
	if (!in) /* glibc refuses size 0 for fmemopen in some versions */
		in = fopen("/dev/null", "r");
	bad = 0;
	is_int(ts_read_file(set, in, "empty", 1, &bad, NULL), 0, "empty input is fine");
	is_int(ts_count(set), 0, "no targets from empty input");
	fclose(in);
	ts_free(set);
}

int main(void)
{
	test_accepted();
	test_skipped();
	test_errors();
	test_set();
	test_read_file();
	return done_testing();
}
