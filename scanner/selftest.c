/*
 * selftest: canned inputs through every parser and table, each fed whole and
 * one byte at a time, plus the blocklist policy and the JSON escaper. Prints
 * one line per check and a closing "N passed, N failed" line.
 */
#include "mxscan/selftest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "mxscan/blocklist.h"
#include "mxscan/conn.h"
#include "mxscan/hello.h"
#include "mxscan/json.h"
#include "mxscan/smtp.h"
#include "mxscan/suites.h"

static int npass, nfail;

static void check(FILE *out, int cond, const char *what)
{
	if (cond)
		npass++;
	else
		nfail++;
	fprintf(out, "%s %s\n", cond ? "ok  " : "FAIL", what);
}

static int smtp_bytewise(const char *text, int want_code, int want_lines)
{
	struct smtp_parser p;
	smtp_parser_init(&p);
	size_t n = strlen(text), used;
	for (size_t i = 0; i < n; i++) {
		int st = smtp_parse(&p, (const uint8_t *)text + i, 1, &used);
		if (st == SMTP_DONE) {
			int ok = i == n - 1 && p.reply.code == want_code && p.reply.nlines == want_lines;
			smtp_parser_release(&p);
			return ok;
		}
		if (st < 0)
			break;
	}
	smtp_parser_release(&p);
	return 0;
}

static int blocks(struct blocklist *bl, const char *ip)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin.sin_addr);
	const char *why;
	return !bl_check(bl, (struct sockaddr *)&sin, &why);
}

int selftest_run(FILE *out)
{
	npass = nfail = 0;
	check(out, smtp_bytewise("220-a\r\n220 b\r\n", 220, 2), "SMTP multi-line banner, one byte at a time");
	check(out, smtp_bytewise("250-x\r\n250-STARTTLS\r\n250 SIZE 1\r\n", 250, 3), "SMTP EHLO reply");
	{
		struct smtp_parser p;
		struct smtp_caps caps;
		size_t used;
		const char *e = "250-x\r\n250-XXXXXXXA\r\n250 8BITMIME\r\n";
		smtp_parser_init(&p);
		smtp_parse(&p, (const uint8_t *)e, strlen(e), &used);
		smtp_parse_caps(&p.reply, &caps);
		check(out, caps.stripped && !(caps.flags & SMTP_CAP_STARTTLS), "masked STARTTLS (XXXXXXXA) detected");
		smtp_parser_release(&p);
		check(out, smtp_parse(&p, (const uint8_t *)"\x16\x03\x01\r\n", 5, &used) == SMTP_ERR_SYNTAX,
		      "non-SMTP bytes rejected");
		smtp_parser_release(&p);
	}
	{
		const struct suite_info *s = suite_by_code(0xc02f);
		check(out, s && !strcmp(s->name, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
		      "suite table lookup by code");
		check(out,
		      suite_by_name("TLS_AES_128_GCM_SHA256") &&
			      suite_by_name("TLS_AES_128_GCM_SHA256")->code == 0x1301,
		      "suite table lookup by name");
		int sorted = 1;
		for (size_t i = 1; i < suites_count(); i++)
			if (suite_at(i - 1)->code >= suite_at(i)->code)
				sorted = 0;
		check(out, sorted && suites_count() > 300, "suite table sorted and complete");
	}
	{
		uint8_t buf[4096];
		long n = conn_build_baseline_hello("mx.example.test", buf, sizeof(buf));
		check(out,
		      n > 100 && buf[0] == 0x16 && buf[5] == 0x01 && (size_t)((buf[3] << 8) | buf[4]) + 5 == (size_t)n,
		      "baseline ClientHello is one well-formed record");
		static const uint8_t sh[] = { 0x16, 0x03, 0x03, 0x00, 0x2e, 0x02, 0x00, 0x00, 0x26, 0x03, 0x03, 1,   2,
					      3,    4,    5,    6,    7,    8,    9,    10,   11,   12,   13,   14,  15,
					      16,   17,   18,   19,   20,   21,   22,   23,   24,   25,   26,   27,  28,
					      29,   30,   31,   32,   0x00, 0xc0, 0x2f, 0x00, 0x0e, 0x00, 0x00, 0x00 };
		struct hello_parser *hp = hello_parser_new(0);
		struct server_flight f;
		int st = HELLO_NEED_MORE;
		for (size_t i = 0; i < sizeof(sh) && st == HELLO_NEED_MORE; i++)
			st = hello_parse(hp, sh + i, 1, &f);
		check(out, st == HELLO_DONE && f.version == 0x0303 && f.cipher == 0xc02f,
		      "TLS 1.2 ServerHello parsed one byte at a time");
		hello_parser_reset(hp, 0);
		st = hello_parse(hp, (const uint8_t *)"454 4.7.0 TLS not available\r\n", 30, &f);
		check(out, st == HELLO_ERR_NOT_TLS, "SMTP text instead of TLS recognised");
		hello_parser_free(hp);
	}
	{
		struct blocklist *bl = bl_new();
		bl_add(bl, "127.0.0.0/8", BL_BLOCK, "loopback");
		bl_add(bl, "10.0.0.0/8", BL_BLOCK, "private");
		check(out, blocks(bl, "127.0.0.1") && blocks(bl, "10.1.2.3"), "blocklist refuses listed ranges");
		bl_add(bl, "127.0.0.0/8", BL_ALLOW, "test");
		check(out, !blocks(bl, "127.0.0.1") && blocks(bl, "10.1.2.3"),
		      "explicit allow-list overrides the loopback block only");
		bl_free(bl);
	}
	{
		struct jbuf jb;
		jb_init(&jb);
		jb_obj_open(&jb, NULL);
		jb_strn(&jb, "k", "a\"\n\xff", 4);
		jb_obj_close(&jb);
		check(out, jb_ok(&jb) && !strcmp(jb.buf, "{\"k\":\"a\\\"\\n\\ufffd\"}"),
		      "JSON escaping of hostile bytes");
		jb_free(&jb);
	}
	fprintf(out, "%d passed, %d failed\n", npass, nfail);
	return nfail ? -1 : 0;
}
