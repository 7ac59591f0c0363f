/* Unit tests of the SMTP reply parser and capability parsing. Every reply is
 * fed whole, one byte at a time, and split at every offset; all three must
 * give the same result. */
#include "mxscan/smtp.h"
#include "tap.h"

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
	smtp_parser_init(&p);
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
	/* one byte at a time */
	size_t *cuts = malloc((n + 1) * sizeof(*cuts));
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	feed(in, n, cuts, n ? n - 1 : 0, &o);
	ok(same(&whole, &o), "%s: byte by byte gives the same result", name);
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
	free(cuts);
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
		smtp_parser_init(&p);
		smtp_parse(&p, (const uint8_t *)s, strlen(s), &used);
		smtp_parse_caps(&p.reply, &caps);
		ok(!(caps.flags & SMTP_CAP_STARTTLS), "masked: no STARTTLS");
		ok(caps.stripped, "XXXXXXXA detected as a masked STARTTLS");
		is_str(caps.stripped_token, "XXXXXXXA", "masked token kept as evidence");
		ok(!smtp_is_masked_starttls("XXXXA", 5), "short X token is not STARTTLS-shaped");
		ok(!smtp_is_masked_starttls("STARTTLS", 8), "STARTTLS is not masked");

		const char *b = "220 ****************************************\r\n";
		smtp_parser_init(&p);
		smtp_parse(&p, (const uint8_t *)b, strlen(b), &used);
		ok(smtp_banner_masked(&p.reply), "masked banner detected");
		const char *g = "220 mx.example.test ESMTP Postfix\r\n";
		smtp_parser_init(&p);
		smtp_parse(&p, (const uint8_t *)g, strlen(g), &used);
		ok(!smtp_banner_masked(&p.reply), "normal banner not masked");
		smtp_parse_caps(&p.reply, &caps);
		is_int(caps.flags, 0, "non-250 reply has no capabilities");
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
		}
	}
	return done_testing();
}
