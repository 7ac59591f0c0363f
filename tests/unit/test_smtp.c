/* Unit tests of the SMTP reply parser and capability parsing. Every reply is
 * fed whole, one byte at a time, and split at every offset; all three must
 * give the same result. The parser's storage grows with what arrives: replies
 * at each cap and one byte over, the storage held, and out of memory at every
 * allocation (malloc, calloc and realloc are interposed here, except under ASan). */
#include "mxscan/smtp.h"
#include "tap.h"

#if defined(__SANITIZE_ADDRESS__)
#define OOM_TESTS 0
#else
#define OOM_TESTS 1
/* Allocations that succeed before the next one fails; -1: none fails. */
static volatile long oom_after = -1;
extern void *__libc_malloc(size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_calloc(size_t m, size_t n);
static int oom_now(void)
{
	if (oom_after == 0)
		return 1;
	if (oom_after > 0)
		oom_after--;
	return 0;
}
void *malloc(size_t n)
{
	return oom_now() ? NULL : __libc_malloc(n);
}
void *realloc(void *p, size_t n)
{
	return oom_now() ? NULL : __libc_realloc(p, n);
}
void *calloc(size_t m, size_t n) /* the compiler may turn malloc + memset into calloc */
{
	return oom_now() ? NULL : __libc_calloc(m, n);
}
#endif

struct outcome {
	int status, code, nlines;
	size_t consumed_total;
	char first[128], last[128];
};

/* Feed the chunks described by cuts (sorted offsets) and report the first
 * completed reply or error. */
static void feed(const char *in, size_t n, const size_t *cuts, size_t ncuts, struct outcome *o)
{
	static struct smtp_parser p;
	smtp_parser_release(&p); /* the previous feed's storage */
	memset(o, 0, sizeof(*o));
	size_t pos = 0;
	for (size_t c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : n;
		while (pos < end) {
			size_t used = 0;
			int st = smtp_parse(&p, (const uint8_t *)in + pos, end - pos, &used);
			pos += used;
			if (st != SMTP_NEED_MORE) {
				o->status = st;
				o->consumed_total = pos;
				if (st == SMTP_DONE) {
					o->code = p.reply.code;
					o->nlines = p.reply.nlines;
					snprintf(o->first, sizeof o->first, "%s", smtp_line(&p.reply, 0));
					snprintf(o->last, sizeof o->last, "%s",
						 smtp_line(&p.reply, p.reply.nlines - 1));
				}
				return;
			}
		}
	}
	o->status = SMTP_NEED_MORE;
	o->consumed_total = pos;
}

static int same(const struct outcome *a, const struct outcome *b)
{
	return a->status == b->status && a->code == b->code && a->nlines == b->nlines &&
	       a->consumed_total == b->consumed_total && !strcmp(a->first, b->first) && !strcmp(a->last, b->last);
}

/* Feed in one byte at a time: the same result as fed whole? */
static int byte_by_byte_same(const char *in, size_t n, const struct outcome *whole)
{
	struct outcome o;
	size_t *cuts = malloc((n + 1) * sizeof(*cuts));
	if (!cuts)
		return 0;
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	feed(in, n, cuts, n ? n - 1 : 0, &o);
	free(cuts);
	return same(whole, &o);
}

static void check(const char *name, const char *in, size_t n, int want_status, int want_code, int want_lines,
		  const char *want_last)
{
	struct outcome whole, o;
	feed(in, n, NULL, 0, &whole);
	is_int(whole.status, want_status, "%s: status %s", name, smtp_status_name(want_status));
	if (want_status == SMTP_DONE) {
		is_int(whole.code, want_code, "%s: code", name);
		is_int(whole.nlines, want_lines, "%s: lines", name);
		if (want_last)
			is_str(whole.last, want_last, "%s: last line", name);
	}
	ok(byte_by_byte_same(in, n, &whole), "%s: byte by byte gives the same result", name);
	/* split at every offset */
	int all = 1;
	for (size_t k = 0; k <= n; k++) {
		size_t cut = k;
		feed(in, n, &cut, 1, &o);
		if (!same(&whole, &o)) {
			all = 0;
			diag("split at %zu differs", k);
			break;
		}
	}
	ok(all, "%s: split at every offset gives the same result", name);
}

/* A line of exactly n bytes with its CRLF: "CODE" sep, then 'a'.. up to the CRLF. */
static size_t put_line(char *dst, const char *code_sep, size_t n)
{
	memcpy(dst, code_sep, 4);
	for (size_t i = 4; i + 2 < n; i++)
		dst[i] = (char)('a' + i % 26);
	memcpy(dst + n - 2, "\r\n", 2);
	return n;
}

/* The result fed whole, one byte at a time, and split at a few offsets;
 * for inputs too long for check()'s split at every offset. */
static void check_long(const char *name, const char *in, size_t n, int want_status, int want_lines)
{
	struct outcome whole, o;
	feed(in, n, NULL, 0, &whole);
	is_int(whole.status, want_status, "%s: status %s", name, smtp_status_name(want_status));
	if (want_status == SMTP_DONE)
		is_int(whole.nlines, want_lines, "%s: lines", name);
	ok(byte_by_byte_same(in, n, &whole), "%s: byte by byte gives the same result", name);
	int all = 1;
	for (size_t k = 0; k <= n; k += n / 97 + 1) {
		size_t cut = k;
		feed(in, n, &cut, 1, &o);
		all &= same(&whole, &o);
	}
	ok(all, "%s: split at 98 offsets gives the same result", name);
}

static void growth_tests(void)
{
	char *buf = malloc(SMTP_MAX_REPLY * 2);
	size_t n;

	/* line cap: SMTP_MAX_LINE - 1 bytes before the LF still parse, one more does not */
	n = put_line(buf, "220 ", SMTP_MAX_LINE);
	check("line at the cap", buf, n, SMTP_DONE, 220, 1, NULL);
	n = put_line(buf, "220 ", SMTP_MAX_LINE + 1);
	check("line one byte over the cap", buf, n, SMTP_ERR_LINE_TOO_LONG, 0, 0, NULL);
	{
		struct outcome o;
		feed(buf, n, NULL, 0, &o);
		is_int(o.consumed_total, SMTP_MAX_LINE - 1, "line over the cap: consumed up to the cap");
	}

	/* line count cap */
	n = 0;
	for (int i = 0; i < SMTP_MAX_LINES; i++)
		n += put_line(buf + n, i == SMTP_MAX_LINES - 1 ? "250 " : "250-", 8);
	check_long("lines at the cap", buf, n, SMTP_DONE, SMTP_MAX_LINES);
	n = 0;
	for (int i = 0; i <= SMTP_MAX_LINES; i++)
		n += put_line(buf + n, i == SMTP_MAX_LINES ? "250 " : "250-", 8);
	check_long("lines one over the cap", buf, n, SMTP_ERR_TOO_MANY_LINES, 0);

	/* reply text cap: each line keeps its bytes without CRLF plus a NUL;
	 * 8 lines of SMTP_MAX_LINE - 2 + 1 bytes, then one to fill it exactly */
	size_t full = 8 * (SMTP_MAX_LINE - 2 + 1);
	size_t last = SMTP_MAX_REPLY - full - 1; /* text of the last line */
	n = 0;
	for (int i = 0; i < 8; i++)
		n += put_line(buf + n, "250-", SMTP_MAX_LINE);
	size_t body = n;
	n += put_line(buf + n, "250 ", last + 2);
	check_long("reply at the size cap", buf, n, SMTP_DONE, 9);
	n = body + put_line(buf + body, "250 ", last + 3);
	check_long("reply one byte over the size cap", buf, n, SMTP_ERR_TOO_BIG, 0);

	/* storage held: grows with what arrives */
	{
		struct smtp_parser *p = smtp_parser_new();
		size_t used;
		ok(p && smtp_parser_heap(p) == 0, "a new parser holds no storage");
		is_int(smtp_parse(p, (const uint8_t *)"220-", 4, &used), SMTP_NEED_MORE, "\"220-\" needs more");
		ok(smtp_parser_heap(p) <= SMTP_INIT_LINE, "after \"220-\": %zu bytes held (line buffer only)",
		   smtp_parser_heap(p));
		ok(sizeof(*p) + smtp_parser_heap(p) <= 512, "after \"220-\": %zu bytes in all",
		   sizeof(*p) + smtp_parser_heap(p));
		const char *rest = "mx.example.test ESMTP\r\n220 ready\r\n";
		is_int(smtp_parse(p, (const uint8_t *)rest, strlen(rest), &used), SMTP_DONE, "banner done");
		is_int(smtp_parser_heap(p), SMTP_INIT_LINE + SMTP_INIT_REPLY + SMTP_INIT_LINES * 4,
		       "a short banner holds the initial sizes");
		is_str(smtp_line(&p->reply, 0), "220-mx.example.test ESMTP", "line 0 after growth");
		is_str(smtp_line(&p->reply, 1), "220 ready", "line 1 after growth");
		smtp_parser_free(p);
		smtp_parser_free(NULL);

		/* a reply at every cap at once holds at most the caps */
		p = smtp_parser_new();
		n = 0;
		for (int i = 0; i < 8; i++)
			n += put_line(buf + n, "250-", SMTP_MAX_LINE);
		n += put_line(buf + n, "250 ", last + 2);
		is_int(smtp_parse(p, (const uint8_t *)buf, n, &used), SMTP_DONE, "full-size reply");
		is_int(p->reply.text_cap, SMTP_MAX_REPLY, "text grown to the cap");
		is_int(p->line_cap, SMTP_MAX_LINE, "line grown to the cap");
		ok(smtp_parser_heap(p) <= SMTP_MAX_REPLY + SMTP_MAX_LINE + SMTP_MAX_LINES * 4, "%zu bytes held",
		   smtp_parser_heap(p));
		int good = 1;
		for (int i = 0; i < p->reply.nlines; i++)
			good &= strlen(smtp_line(&p->reply, i)) == p->reply.len[i] &&
				!memcmp(smtp_line(&p->reply, i), i < 8 ? "250-" : "250 ", 4);
		ok(good, "every line intact after growth");
		/* the next reply on the same parser reuses the storage */
		smtp_parser_next(p);
		is_int(smtp_parse(p, (const uint8_t *)"221 bye\r\n", 9, &used), SMTP_DONE, "next reply");
		is_str(smtp_line(&p->reply, 0), "221 bye", "next reply's line");
		smtp_parser_free(p);
	}

#if OOM_TESTS
	/* out of memory at each allocation: SMTP_ERR_NOMEM, sticky, never a crash */
	{
		n = 0;
		for (int i = 0; i < 40; i++)
			n += put_line(buf + n, i == 39 ? "250 " : "250-", 100);
		int nomem = 0, done = 0, other = 0;
		long k;
		for (k = 0; k < 40; k++) {
			struct smtp_parser p;
			size_t used, pos = 0;
			int st = SMTP_NEED_MORE;
			smtp_parser_init(&p);
			oom_after = k;
			while (pos < n && st == SMTP_NEED_MORE) {
				size_t chunk = n - pos < 37 ? n - pos : 37;
				st = smtp_parse(&p, (const uint8_t *)buf + pos, chunk, &used);
				pos += used;
			}
			oom_after = -1;
			if (st == SMTP_ERR_NOMEM) {
				nomem++;
				other += smtp_parse(&p, (const uint8_t *)"250 x\r\n", 7, &used) != SMTP_ERR_NOMEM;
			} else if (st == SMTP_DONE && p.reply.nlines == 40) {
				done++;
			} else {
				other++;
			}
			smtp_parser_release(&p);
			if (st == SMTP_DONE)
				break;
		}
		ok(nomem > 0 && done == 1 && other == 0,
		   "out of memory at allocation 0..%ld: %d out-of-memory, %d done", k, nomem, done);
		is_str(smtp_status_name(SMTP_ERR_NOMEM), "out-of-memory", "status name");
		oom_after = 0;
		struct smtp_parser *p = smtp_parser_new();
		oom_after = -1;
		ok(p == NULL, "smtp_parser_new out of memory: NULL");
	}
#endif
	free(buf);
}

#define CHECK(name, lit, st, code, lines, last) check(name, lit, sizeof(lit) - 1, st, code, lines, last)

int main(void)
{
	CHECK("single-line banner", "220 mx.example.test ESMTP\r\n", SMTP_DONE, 220, 1, "220 mx.example.test ESMTP");
	CHECK("multi-line banner", "220-mx.example.test ESMTP\r\n220-second\r\n220 third\r\n", SMTP_DONE, 220, 3,
	      "220 third");
	CHECK("bare code", "250\r\n", SMTP_DONE, 250, 1, "250");
	CHECK("bare LF", "220 hi\n", SMTP_DONE, 220, 1, "220 hi");
	CHECK("ehlo", "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
	      SMTP_DONE, 250, 5, "250 8BITMIME");
	CHECK("incomplete", "220-mx\r\n220 more", SMTP_NEED_MORE, 0, 0, NULL);
	CHECK("garbage", "\x16\x03\x01\x02\x00garbage\r\n", SMTP_ERR_SYNTAX, 0, 0, NULL);
	CHECK("http", "HTTP/1.1 400 Bad Request\r\n", SMTP_ERR_SYNTAX, 0, 0, NULL);
	CHECK("garbage without a line end is rejected at once", "\x8f\x01\x02\x03", SMTP_ERR_SYNTAX, 0, 0, NULL);
	CHECK("bad separator after the code", "220:hello", SMTP_ERR_SYNTAX, 0, 0, NULL);
	CHECK("code 6xx", "650 no\r\n", SMTP_ERR_SYNTAX, 0, 0, NULL);
	CHECK("code mismatch", "250-a\r\n220 b\r\n", SMTP_ERR_CODE_MISMATCH, 0, 0, NULL);
	CHECK("421", "421 4.3.2 Service shutting down\r\n", SMTP_DONE, 421, 1, NULL);
	CHECK("NUL in line", "220 a\0b\r\n", SMTP_DONE, 220, 1, "220 a?b");

	/* caps: line too long, too many lines */
	{
		size_t n = SMTP_MAX_LINE + 100;
		char *big = malloc(n);
		memset(big, 'A', n);
		memcpy(big, "220 ", 4);
		check("line too long", big, n, SMTP_ERR_LINE_TOO_LONG, 0, 0, NULL);
		free(big);
	}
	{
		char *many = malloc((SMTP_MAX_LINES + 5) * 8 + 1);
		size_t n = 0;
		for (int i = 0; i < SMTP_MAX_LINES + 5; i++)
			n += (size_t)sprintf(many + n, "220-xx\r\n");
		check("endless continuation", many, n, SMTP_ERR_TOO_MANY_LINES, 0, 0, NULL);
		free(many);
	}

	/* two replies in one buffer: consumed stops after the first */
	{
		struct smtp_parser p;
		smtp_parser_init(&p);
		const char *two = "220 ready\r\n250 injected\r\n";
		size_t used;
		is_int(smtp_parse(&p, (const uint8_t *)two, strlen(two), &used), SMTP_DONE, "first of two replies");
		is_int(used, 11, "consumed only the first reply");
		smtp_parser_next(&p);
		size_t used2;
		is_int(smtp_parse(&p, (const uint8_t *)two + used, strlen(two) - used, &used2), SMTP_DONE,
		       "second reply");
		is_int(p.reply.code, 250, "second reply code");
		smtp_parser_release(&p);
	}

	/* capabilities */
	{
		struct smtp_parser p;
		struct smtp_caps caps;
		size_t used;
		const char *e =
			"250-mx\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-starttls\r\n250-AUTH PLAIN\r\n250 "
			"SMTPUTF8\r\n";
		smtp_parser_init(&p);
		smtp_parse(&p, (const uint8_t *)e, strlen(e), &used);
		smtp_parse_caps(&p.reply, &caps);
		ok(caps.flags & SMTP_CAP_STARTTLS, "STARTTLS (case-insensitive)");
		ok(caps.flags & SMTP_CAP_PIPELINING, "PIPELINING");
		ok(caps.flags & SMTP_CAP_AUTH, "AUTH");
		ok(caps.flags & SMTP_CAP_SMTPUTF8, "SMTPUTF8");
		is_int(caps.size, 10240000, "SIZE parameter");
		ok(!caps.stripped, "not stripped");

		const char *s = "250-mx\r\n250-PIPELINING\r\n250-XXXXXXXA\r\n250 8BITMIME\r\n";
		smtp_parser_release(&p);
		smtp_parse(&p, (const uint8_t *)s, strlen(s), &used);
		smtp_parse_caps(&p.reply, &caps);
		ok(!(caps.flags & SMTP_CAP_STARTTLS), "masked: no STARTTLS");
		ok(caps.stripped, "XXXXXXXA detected as a masked STARTTLS");
		is_str(caps.stripped_token, "XXXXXXXA", "masked token kept as evidence");
		ok(!smtp_is_masked_starttls("XXXXA", 5), "short X token is not STARTTLS-shaped");
		ok(!smtp_is_masked_starttls("STARTTLS", 8), "STARTTLS is not masked");

		const char *b = "220 ****************************************\r\n";
		smtp_parser_release(&p);
		smtp_parse(&p, (const uint8_t *)b, strlen(b), &used);
		ok(smtp_banner_masked(&p.reply), "masked banner detected");
		const char *g = "220 mx.example.test ESMTP Postfix\r\n";
		smtp_parser_release(&p);
		smtp_parse(&p, (const uint8_t *)g, strlen(g), &used);
		ok(!smtp_banner_masked(&p.reply), "normal banner not masked");
		smtp_parse_caps(&p.reply, &caps);
		is_int(caps.flags, 0, "non-250 reply has no capabilities");
		smtp_parser_release(&p);
	}
	{
		/* STARTTLS echoed back by a server after a device rewrote it on the way */
		static const struct {
			const char *reply, *token;
		} echo[] = {
			{ "500 5.5.1 Command unrecognized: \"XXXXXXXX\"\r\n", "XXXXXXXX" },
			{ "500 5.5.1 Command unrecognized: \"XXXXXXXA\"\r\n", "XXXXXXXA" },
			{ "502 unknown command STARTTLX\r\n", "STARTTLX" },
			{ "500-first line\r\n500 what is 'sTaRtTxX'?\r\n", "sTaRtTxX" },
			{ "502 5.5.2 Error: command not recognized\r\n", NULL },
			{ "500 5.5.1 STARTTLS not understood\r\n", NULL },
			{ "500 5.5.1 STANDARD reply\r\n", NULL },
			{ "500 XXXXXXXXX (nine)\r\n", NULL },
		};
		for (size_t i = 0; i < sizeof(echo) / sizeof(echo[0]); i++) {
			struct smtp_parser p;
			size_t used;
			char tok[32] = "";
			smtp_parser_init(&p);
			smtp_parse(&p, (const uint8_t *)echo[i].reply, strlen(echo[i].reply), &used);
			int r = smtp_echo_corrupted(&p.reply, tok, sizeof(tok));
			if (echo[i].token) {
				ok(r == 1, "corrupted echo found in %zu", i);
				is_str(tok, echo[i].token, "echoed token %zu", i);
			} else {
				ok(r == 0, "no corrupted echo in %zu", i);
			}
			smtp_parser_release(&p);
		}
	}
	growth_tests();
	return done_testing();
}
