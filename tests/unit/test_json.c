/*
 * test_json: the JSON builder produces exactly the expected text: escaping of
 * network bytes (quotes, backslashes, controls, NUL, invalid and valid UTF-8),
 * commas and nesting, null for NULL, numbers, and sticky errors on misuse.
 */
#include "mxscan/json.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>

/* The string value jb_strn() writes for n bytes of s, as a whole document. */
static const char *esc(struct jbuf *jb, const char *s, size_t n)
{
	jb_reset(jb);
	jb_strn(jb, NULL, s, n);
	return jb_done(jb) ? jb->buf : "(error)";
}

static void test_escapes(void)
{
	struct jbuf jb;

	jb_init(&jb);
	is_str(esc(&jb, "plain", 5), "\"plain\"", "plain ASCII unchanged");
	is_str(esc(&jb, "", 0), "\"\"", "empty string");
	is_str(esc(&jb, "a\"b\\c", 5), "\"a\\\"b\\\\c\"", "quote and backslash escaped");
	is_str(esc(&jb, "/", 1), "\"/\"", "solidus not escaped");
	is_str(esc(&jb, "\b\f\n\r\t", 5), "\"\\b\\f\\n\\r\\t\"", "short escapes");
	is_str(esc(&jb, "\x01\x1b\x1f\x7f", 4), "\"\\u0001\\u001b\\u001f\\u007f\"",
	       "other controls and DEL as \\u00xx");
	is_str(esc(&jb, "a\0b", 3), "\"a\\u0000b\"", "NUL inside jb_strn escaped, not a terminator");
	is_str(esc(&jb, "250 ok\r\n", 6), "\"250 ok\"", "only n bytes are read");
	is_str(esc(&jb, "\xff", 1), "\"\\ufffd\"", "0xff replaced");
	is_str(esc(&jb, "\xc3", 1), "\"\\ufffd\"", "lone lead byte 0xc3 replaced");
	is_str(esc(&jb, "a\xc3", 2), "\"a\\ufffd\"", "lead byte truncated by the end of input");
	is_str(esc(&jb, "\xc3z", 2), "\"\\ufffdz\"", "lead byte followed by ASCII");
	is_str(esc(&jb, "\x80\xbf", 2), "\"\\ufffd\\ufffd\"", "stray continuation bytes, one each");
	is_str(esc(&jb, "\xc3\xa9t\xc3\xa9", 5), "\"\xc3\xa9t\xc3\xa9\"", "2-byte UTF-8 kept (été)");
	is_str(esc(&jb, "\xe2\x82\xac", 3), "\"\xe2\x82\xac\"", "3-byte UTF-8 kept (euro)");
	is_str(esc(&jb, "\xf0\x9f\x94\x92", 4), "\"\xf0\x9f\x94\x92\"", "4-byte UTF-8 kept (lock)");
	is_str(esc(&jb, "\xc0\xaf", 2), "\"\\ufffd\\ufffd\"", "overlong 2-byte rejected");
	is_str(esc(&jb, "\xe0\x80\xaf", 3), "\"\\ufffd\\ufffd\\ufffd\"", "overlong 3-byte rejected");
	is_str(esc(&jb, "\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\"", "surrogate rejected");
	is_str(esc(&jb, "\xf4\x90\x80\x80", 4), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "above U+10FFFF rejected");
	is_str(esc(&jb, "\xe2\x82", 2), "\"\\ufffd\\ufffd\"", "truncated 3-byte sequence");
	is_str(esc(&jb, "\xe2\x82\xe2\x82\xac", 5), "\"\\ufffd\\ufffd\xe2\x82\xac\"", "torn sequence then a valid one");
	is_str(esc(&jb, "\xef\xbf\xbd", 3), "\"\xef\xbf\xbd\"", "literal U+FFFD kept");
	jb_free(&jb);
}

static void test_nesting(void)
{
	struct jbuf jb;
	static const unsigned char sha[4] = { 0xde, 0xad, 0x00, 0x0f };

	jb_init(&jb);
	jb_obj_open(&jb, NULL);
	jb_str(&jb, "type", "host");
	jb_int(&jb, "port", 25);
	jb_arr_open(&jb, "names");
	jb_str(&jb, NULL, "mx1.example.net");
	jb_str(&jb, NULL, "mx2.example.net");
	jb_arr_close(&jb);
	jb_arr_open(&jb, "empty");
	jb_arr_close(&jb);
	jb_obj_open(&jb, "geo");
	jb_str(&jb, "country", NULL);
	jb_uint(&jb, "asn", 4200000000u);
	jb_obj_close(&jb);
	jb_obj_open(&jb, "none");
	jb_obj_close(&jb);
	jb_arr_open(&jb, "mixed");
	jb_obj_open(&jb, NULL);
	jb_bool(&jb, "a", 1);
	jb_obj_close(&jb);
	jb_arr_open(&jb, NULL);
	jb_null(&jb, NULL);
	jb_bool(&jb, NULL, 0);
	jb_arr_close(&jb);
	jb_int(&jb, NULL, INT64_MIN);
	jb_uint(&jb, NULL, UINT64_MAX);
	jb_arr_close(&jb);
	jb_hex(&jb, "sha256", sha, sizeof(sha));
	jb_hex(&jb, "nohash", NULL, 0);
	jb_raw(&jb, "verify", "{\"code\":0,\"text\":\"ok\"}");
	jb_printf_str(&jb, "code", "0x%04x", 0xc02f);
	jb_obj_close(&jb);
	ok(jb_done(&jb), "document complete");
	is_str(jb.buf,
	       "{\"type\":\"host\",\"port\":25,\"names\":[\"mx1.example.net\",\"mx2.example.net\"],"
	       "\"empty\":[],\"geo\":{\"country\":null,\"asn\":4200000000},\"none\":{},"
	       "\"mixed\":[{\"a\":true},[null,false],-9223372036854775808,18446744073709551615],"
	       "\"sha256\":\"dead000f\",\"nohash\":null,\"verify\":{\"code\":0,\"text\":\"ok\"},"
	       "\"code\":\"0xc02f\"}",
	       "nesting, commas, nulls, numbers, hex, raw, printf");
	is_int(jb.len, strlen(jb.buf), "len matches the text");

	/* jb_reset keeps capacity and starts a fresh document. */
	{
		size_t cap = jb.cap;

		jb_reset(&jb);
		ok(jb.len == 0 && jb.cap == cap && jb.buf[0] == '\0', "reset keeps capacity");
		ok(!jb_done(&jb), "empty document is not done");
		jb_arr_open(&jb, NULL);
		ok(!jb_done(&jb), "open array is not done");
		jb_arr_close(&jb);
		is_str(jb.buf, "[]", "root array");
		ok(jb_done(&jb), "root array done");
	}

	jb_reset(&jb);
	jb_obj_open(&jb, NULL);
	jb_str(&jb, "k\"\n", "v");
	jb_obj_close(&jb);
	is_str(jb.buf, "{\"k\\\"\\n\":\"v\"}", "keys are escaped");

	jb_reset(&jb);
	jb_str(&jb, NULL, NULL);
	is_str(jb.buf, "null", "NULL string at root is null");
	jb_reset(&jb);
	jb_raw(&jb, NULL, "");
	is_str(jb.buf, "null", "empty raw is null");
	jb_free(&jb);
}

static void test_numbers(void)
{
	struct jbuf jb;

	jb_init(&jb);
	jb_arr_open(&jb, NULL);
	jb_double(&jb, NULL, 0.5);
	jb_double(&jb, NULL, 412.25);
	jb_double(&jb, NULL, -3.0);
	jb_double(&jb, NULL, 1234567.0);
	jb_double(&jb, NULL, 1e-7);
	jb_double(&jb, NULL, NAN);
	jb_double(&jb, NULL, INFINITY);
	jb_double(&jb, NULL, -INFINITY);
	jb_int(&jb, NULL, 0);
	jb_int(&jb, NULL, -1);
	jb_arr_close(&jb);
	is_str(jb.buf, "[0.5,412.25,-3,1.23457e+06,1e-07,null,null,null,0,-1]",
	       "doubles with 6 significant digits, non-finite as null, ints");

	jb_reset(&jb);
	jb_printf_str(&jb, NULL, "%s|%c", "a\"b", 0x01);
	is_str(jb.buf, "\"a\\\"b|\\u0001\"", "printf result escaped");

	jb_reset(&jb);
	{
		char big[600];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		jb_printf_str(&jb, NULL, "<%s>", big);
		ok(jb_done(&jb) && jb.len == 599 + 4 && jb.buf[1] == '<' && jb.buf[601] == '>',
		   "printf longer than the stack buffer");
	}
	jb_free(&jb);
}

static void test_errors(void)
{
	struct jbuf jb;
	int i;

	jb_init(&jb);
	jb_obj_open(&jb, NULL);
	ok(jb_int(&jb, NULL, 1) < 0, "value without key inside object fails");
	ok(!jb_ok(&jb) && jb_error(&jb) == JB_EUSAGE, "error is sticky: %s", jb_err_name(jb_error(&jb)));
	ok(jb_str(&jb, "k", "v") < 0, "later calls are no-ops");
	is_str(jb.buf, "{", "nothing written after the error");

	jb_reset(&jb);
	ok(jb_ok(&jb), "reset clears the error");
	jb_arr_open(&jb, NULL);
	ok(jb_int(&jb, "k", 1) < 0 && jb_error(&jb) == JB_EUSAGE, "key inside array fails");

	jb_reset(&jb);
	ok(jb_int(&jb, "k", 1) < 0, "key at root fails");

	jb_reset(&jb);
	jb_obj_open(&jb, NULL);
	ok(jb_arr_close(&jb) < 0 && jb_error(&jb) == JB_EUSAGE, "closing the wrong kind fails");

	jb_reset(&jb);
	ok(jb_obj_close(&jb) < 0, "close at root fails");

	jb_reset(&jb);
	jb_int(&jb, NULL, 1);
	ok(jb_done(&jb), "scalar root is a document");
	ok(jb_int(&jb, NULL, 2) < 0 && !jb_done(&jb), "second root value fails");

	jb_reset(&jb);
	for (i = 0; i < JB_MAX_DEPTH; i++)
		jb_arr_open(&jb, NULL);
	ok(jb_ok(&jb), "%d nested arrays allowed", JB_MAX_DEPTH);
	ok(jb_arr_open(&jb, NULL) < 0 && jb_error(&jb) == JB_EDEPTH, "one more is too deep");

	jb_reset(&jb);
	for (i = 0; i < JB_MAX_DEPTH; i++)
		jb_arr_open(&jb, NULL);
	for (i = 0; i < JB_MAX_DEPTH; i++)
		jb_arr_close(&jb);
	ok(jb_done(&jb) && jb.len == 2 * JB_MAX_DEPTH, "max depth opens and closes");
	jb_free(&jb);

	jb_init(&jb);
	ok(jb.buf == NULL && jb_ok(&jb), "init allocates nothing");
	jb_free(&jb);
}

/* A long string crosses many growth steps and comes out exactly. */
static void test_growth(void)
{
	struct jbuf jb;
	size_t n = 100000, i, o = 0;
	char *in = malloc(n), *want = malloc(2 * n + 3);

	jb_init(&jb);
	want[o++] = '"';
	for (i = 0; i < n; i++) {
		in[i] = (i % 7 == 0) ? '\n' : 'a';
		if (in[i] == '\n') {
			want[o++] = '\\';
			want[o++] = 'n';
		} else {
			want[o++] = 'a';
		}
	}
	want[o++] = '"';
	want[o] = '\0';
	jb_strn(&jb, NULL, in, n);
	ok(jb_done(&jb), "long string written");
	ok(jb.len == o && memcmp(jb.buf, want, o + 1) == 0, "long string content exact (%zu bytes)", o);
	free(in);
	free(want);
	jb_free(&jb);
}

int main(void)
{
	test_escapes();
	test_nesting();
	test_numbers();
	test_errors();
	test_growth();
	return done_testing();
}
