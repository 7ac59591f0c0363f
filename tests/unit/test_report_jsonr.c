/*
 * test_report_jsonr: mxreport's JSON reader (scanner/jsonr.c). Valid
 * documents give the expected tree (types, numbers exactly, strings decoded:
 * short escapes, \u escapes, surrogate pairs, raw UTF-8, \u0000 inside a
 * string); malformed, truncated, invalid-UTF-8 and too-deep input is refused
 * with a message and the offset where it stopped; every prefix of a real
 * record is refused; the caps (depth 64, values, length) hold; paths with
 * dotted member names resolve; one document object is reused across records.
 *
 * The Makefile links unit tests with build/libmxscan.a only, and the reader
 * belongs to mxreport, so its source is compiled into this test directly.
 */
#include "../../scanner/jsonr.c"
#include "tap.h"

#include <stdint.h>

static struct jr_doc doc;
static char *buf;

/* Parse a NUL-terminated text (copied: the reader decodes in place). */
static int parse_n(const char *s, size_t n)
{
	free(buf);
	buf = malloc(n + 1);
	memcpy(buf, s, n);
	return jr_parse(&doc, buf, n);
}

static int parse(const char *s)
{
	return parse_n(s, strlen(s));
}

/* The decoded string at a path of a successful parse, or "(none)". */
static const char *str_at(const char *path)
{
	const char *s = jr_str(jr_path(doc.root, path));

	return s ? s : "(none)";
}

static void test_valid(void)
{
	const struct jr_val *v;

	ok(parse("{\"type\":\"host\",\"port\":25,\"ok\":true,\"no\":false,\"x\":null,\"a\":[1,2,3],\"o\":{}}") == 0,
	   "record-like object parses");
	is_int(doc.root->type, JR_OBJECT, "root is an object");
	is_int(doc.root->len, 7, "seven members");
	is_str(str_at("type"), "host", "string member");
	is_int(jr_int(jr_get(doc.root, "port"), -1), 25, "integer member");
	is_int(jr_bool(jr_get(doc.root, "ok"), -1), 1, "true");
	is_int(jr_bool(jr_get(doc.root, "no"), -1), 0, "false");
	is_int(jr_get(doc.root, "x")->type, JR_NULL, "null");
	v = jr_get(doc.root, "a");
	is_int(v->type, JR_ARRAY, "array member");
	is_int(v->len, 3, "array of three");
	is_int(v->child->next->next->i, 3, "third element");
	ok(v->child->next->next->next == NULL, "array ends");
	is_int(jr_get(doc.root, "o")->len, 0, "empty object");
	ok(jr_get(doc.root, "missing") == NULL, "missing member gives NULL");

	ok(parse(" \t\r\n[ ] \r\n") == 0, "white space around and inside an empty array");
	is_int(doc.root->type, JR_ARRAY, "empty array");
	ok(parse("\"just a string\"") == 0, "a scalar root parses (the record layer wants objects)");
	ok(parse("{\"k\":1,\"k\":2}") == 0, "repeated member names are accepted");
	is_int(jr_int(jr_get(doc.root, "k"), 0), 1, "the first of repeated members is found");
	ok(parse("{\"a\" : { \"b\" : [ { \"c\" : \"deep\" } ] } }") == 0, "spaces around colons and commas");
}

static void test_numbers(void)
{
	static const struct {
		const char *text;
		int is_int;
		int64_t i;
		double d;
	} cases[] = {
		{ "0", 1, 0, 0 },
		{ "-0", 1, 0, 0 },
		{ "42", 1, 42, 42 },
		{ "-17", 1, -17, -17 },
		{ "9223372036854775807", 1, INT64_MAX, 9223372036854775807.0 },
		{ "-9223372036854775808", 1, INT64_MIN, -9223372036854775808.0 },
		{ "9223372036854775808", 0, 0, 9223372036854775808.0 },
		{ "123456789012345678901234567890", 0, 0, 1.2345678901234568e29 },
		{ "1.5", 0, 0, 1.5 },
		{ "-0.25", 0, 0, -0.25 },
		{ "1e3", 0, 0, 1000 },
		{ "2E-2", 0, 0, 0.02 },
		{ "6.02e+23", 0, 0, 6.02e23 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[64];

		snprintf(text, sizeof(text), "[%s]", cases[i].text);
		if (!ok(parse(text) == 0, "number %s parses", cases[i].text)) {
			diag("error: %s", doc.err);
			continue;
		}
		is_int(doc.root->child->is_int, cases[i].is_int, "%s: integral flag", cases[i].text);
		if (cases[i].is_int)
			is_int(doc.root->child->i, cases[i].i, "%s: exact integer", cases[i].text);
		ok(doc.root->child->d == cases[i].d, "%s: double value", cases[i].text);
		is_int(doc.root->child->len, strlen(cases[i].text), "%s: text length kept", cases[i].text);
		ok(memcmp(doc.root->child->s, cases[i].text, strlen(cases[i].text)) == 0, "%s: text kept as written",
		   cases[i].text);
	}
	ok(jr_int(jr_path(doc.root, "x"), 7) == 7, "jr_int default for a non-object path");
	parse("{\"f\":1.5}");
	is_int(jr_int(jr_get(doc.root, "f"), -1), -1, "jr_int refuses a fraction");
}

static void test_strings(void)
{
	const struct jr_val *v;

	ok(parse("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]") == 0, "short escapes");
	is_str(doc.root->child->s, "a\"b\\c/d\b\f\n\r\t", "short escapes decoded");
	ok(parse("[\"\\u0041\\u00e9\\u20AC\"]") == 0, "\\u escapes, both hex cases");
	is_str(doc.root->child->s, "A\xc3\xa9\xe2\x82\xac", "\\u escapes decoded to UTF-8 (A, e acute, euro)");
	ok(parse("[\"\\ud83d\\ude00!\"]") == 0, "surrogate pair");
	is_str(doc.root->child->s, "\xf0\x9f\x98\x80!", "surrogate pair decoded to one 4-byte sequence");
	ok(parse("[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]") == 0, "raw UTF-8 accepted");
	is_str(doc.root->child->s, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "raw UTF-8 kept");
	ok(parse("[\"a\\u0000b\"]") == 0, "\\u0000 inside a string");
	v = doc.root->child;
	is_int(v->len, 3, "NUL counted in the length");
	ok(v->s[0] == 'a' && v->s[1] == '\0' && v->s[2] == 'b' && v->s[3] == '\0', "NUL kept, string terminated");
	ok(parse("{\"k\\u0065y\":\"v\"}") == 0, "escaped member name");
	is_str(str_at("key"), "v", "member name decoded before lookup");
	ok(parse("[\"\",\"x\"]") == 0, "empty string");
	is_int(doc.root->child->len, 0, "empty string has length 0");
	is_str(doc.root->child->next->s, "x", "string after an empty one");
}

struct bad {
	const char *text;
	const char *why;
};

static void test_malformed(void)
{
	static const struct bad cases[] = {
		{ "", "empty input" },
		{ "   ", "white space only" },
		{ "{", "unclosed object" },
		{ "[1,2", "unclosed array" },
		{ "{\"a\":}", "member without a value" },
		{ "{\"a\" 1}", "missing colon" },
		{ "{a:1}", "unquoted member name" },
		{ "{'a':1}", "single quotes" },
		{ "[1,]", "trailing comma in an array" },
		{ "{\"a\":1,}", "trailing comma in an object" },
		{ "[,1]", "leading comma" },
		{ "[1 2]", "missing comma" },
		{ "[01]", "leading zero" },
		{ "[-]", "minus alone" },
		{ "[1.]", "fraction without digits" },
		{ "[.5]", "no integer part" },
		{ "[1e]", "exponent without digits" },
		{ "[+1]", "plus sign" },
		{ "[NaN]", "NaN" },
		{ "[Infinity]", "Infinity" },
		{ "[tru]", "truncated literal" },
		{ "[nul]", "truncated null" },
		{ "[True]", "capitalised literal" },
		{ "1 2", "two values" },
		{ "{} x", "garbage after the value" },
		{ "{}/* c */", "comment" },
		{ "[\"abc]", "unterminated string" },
		{ "[\"a\tb\"]", "raw tab in a string" },
		{ "[\"a\nb\"]", "raw newline in a string" },
		{ "[\"\\x41\"]", "invalid escape" },
		{ "[\"\\u12\"]", "short \\u escape" },
		{ "[\"\\u12G4\"]", "non-hex \\u escape" },
		{ "[\"\\ud800\"]", "lone high surrogate" },
		{ "[\"\\udc00\"]", "lone low surrogate" },
		{ "[\"\\ud800\\u0041\"]", "high surrogate followed by a non-surrogate" },
		{ "[\"\\ud800\\ud800\"]", "two high surrogates" },
		{ "[\"\xff\"]", "byte 0xff" },
		{ "[\"\xc0\x80\"]", "overlong NUL" },
		{ "[\"\xe0\x80\xaf\"]", "overlong 3-byte form" },
		{ "[\"\xed\xa0\x80\"]", "UTF-8 encoded surrogate" },
		{ "[\"\xf4\x90\x80\x80\"]", "above U+10FFFF" },
		{ "[\"\xf5\x80\x80\x80\"]", "lead byte 0xf5" },
		{ "[\"\xc3\"]", "truncated 2-byte sequence" },
		{ "[\"\xe2\x82\"]", "truncated 3-byte sequence" },
		{ "[\"\x80\"]", "stray continuation byte" },
		{ "\xef\xbb\xbf{}", "byte order mark" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].text);

		ok(rc == -1 && doc.err[0] && doc.root == NULL, "refused: %s (%s)", cases[i].why,
		   doc.err[0] ? doc.err : "no message");
	}
	ok(parse_n("[\"a\0b\"]", 7) == -1, "raw NUL byte inside a string refused");
	ok(parse_n("{}\0", 3) == -1, "NUL byte after the value refused");
	ok(parse_n("[1]", 2) == -1, "only len bytes are read: \"[1\" is truncated");

	parse("{\"a\":[1,2,}");
	is_int(doc.err_pos, 10, "error offset points at the offending byte");
	ok(strstr(doc.err, "'}'") != NULL, "message names the byte: %s", doc.err);
	parse("{\"a\":\"x\\qy\"}");
	is_int(doc.err_pos, 7, "offset of an invalid escape");
	parse("[1,");
	ok(strstr(doc.err, "end of input") != NULL, "truncation says end of input: %s", doc.err);
}

static void test_prefixes(void)
{
	static const char rec[] =
		"{\"type\":\"host\",\"schema\":\"1\",\"ip\":\"127.3.0.1\",\"port\":2525,\"names\":[\"mx1.example.test\"],"
		"\"smtp\":{\"banner\":\"220 caf\xc3\xa9 \\u2603 \\\"q\\\"\",\"ehlo\":[\"250-a\",\"250 STARTTLS\"]},"
		"\"tls\":{\"versions\":{\"TLSv1.3\":{\"supported\":true,\"ciphers\":[{\"name\":\"TLS_AES_128_GCM_SHA256\","
		"\"code\":\"0x1301\",\"grade\":\"A\"}]}},\"least_grade\":\"A\",\"certificate\":{\"verify\":{\"code\":0,"
		"\"text\":\"ok\"}}},\"probes\":{\"connections\":23,\"duration_ms\":-1.5e2,\"aborted\":false,\"x\":null}}";
	size_t n = strlen(rec), refused = 0;

	ok(parse(rec) == 0, "a whole host record parses");
	is_str(str_at("tls.versions.TLSv1.3.ciphers"), "(none)", "a path ending at an array is not a string");
	ok(jr_bool(jr_path(doc.root, "tls.versions.TLSv1.3.supported"), 0) == 1, "member name with a dot in a path");
	is_int(jr_int(jr_path(doc.root, "tls.certificate.verify.code"), -1), 0, "four-step path");
	is_str(str_at("smtp.banner"), "220 caf\xc3\xa9 \xe2\x98\x83 \"q\"", "escapes and UTF-8 in a banner");
	ok(jr_path(doc.root, "port.x") == NULL, "path through a number gives NULL");
	ok(jr_path(doc.root, "tls.versions.TLSv1") == NULL, "a partial member name does not match");
	ok(jr_path(doc.root, "") == NULL, "empty path gives NULL");
	for (size_t k = 0; k < n; k++)
		refused += parse_n(rec, k) == -1;
	is_int(refused, n, "every one of the %zu proper prefixes is refused", n);
}

static void test_depth(void)
{
	char deep[2 * JR_MAX_DEPTH + 8];
	size_t n = 0;

	for (int i = 0; i < JR_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i < JR_MAX_DEPTH; i++)
		deep[n++] = ']';
	ok(parse_n(deep, n) == 0, "%d nested arrays accepted", JR_MAX_DEPTH);
	n = 0;
	for (int i = 0; i < JR_MAX_DEPTH + 1; i++)
		deep[n++] = '[';
	for (int i = 0; i < JR_MAX_DEPTH + 1; i++)
		deep[n++] = ']';
	ok(parse_n(deep, n) == -1 && strstr(doc.err, "deeper"), "%d nested arrays refused: %s", JR_MAX_DEPTH + 1,
	   doc.err);
	{
		/* a very deep document must be refused without deep recursion */
		size_t big = 1000000;
		char *s = malloc(big);

		memset(s, '[', big);
		ok(parse_n(s, big) == -1 && strstr(doc.err, "deeper"), "a million '[' refused at the depth cap");
		memset(s, '{', big);
		ok(parse_n(s, big) == -1, "a million '{' refused");
		free(s);
	}
}

static void test_caps_and_reuse(void)
{
	size_t n = JR_MAX_VALUES + 1, len = 2 * n + 1, k = 0;
	char *s = malloc(len + 1);

	/* [0,0,...,0] with one value more than the cap: the array itself is one value */
	s[k++] = '[';
	for (size_t i = 0; i < n - 1; i++) {
		s[k++] = '0';
		s[k++] = i + 2 < n ? ',' : ']';
	}
	ok(parse_n(s, k) == -1 && strstr(doc.err, "values"), "more than %u values refused: %s", JR_MAX_VALUES, doc.err);
	k -= 2; /* drop the last "0]" and close at the comma before: one element fewer */
	s[k - 1] = ']';
	ok(parse_n(s, k) == 0, "exactly %u values accepted", JR_MAX_VALUES);
	is_int(doc.values, JR_MAX_VALUES, "value count reported");
	free(s);

	s = malloc((size_t)JR_MAX_LINE + 2);
	memset(s, ' ', (size_t)JR_MAX_LINE + 1);
	s[0] = '0';
	ok(parse_n(s, (size_t)JR_MAX_LINE + 1) == -1 && strstr(doc.err, "longer"), "a record over 16 MiB refused: %s",
	   doc.err);
	ok(parse_n(s, JR_MAX_LINE) == 0, "a record of exactly 16 MiB accepted");
	free(s);

	/* the same document object across records of different sizes */
	for (int round = 0; round < 3; round++) {
		char big[64 * 1024];
		size_t m = 0;

		m += (size_t)snprintf(big + m, sizeof(big) - m, "{\"a\":[");
		for (int i = 0; i < 5000; i++)
			m += (size_t)snprintf(big + m, sizeof(big) - m, "%s%d", i ? "," : "", i);
		m += (size_t)snprintf(big + m, sizeof(big) - m, "],\"b\":\"end\"}");
		ok(parse_n(big, m) == 0, "round %d: 5,000-element record", round);
		is_str(str_at("b"), "end", "round %d: member after the big array", round);
		ok(parse("{\"small\":true}") == 0 && jr_bool(jr_get(doc.root, "small"), 0) == 1,
		   "round %d: small record after it reuses the blocks", round);
		ok(parse("{\"broken\":") == -1 && doc.root == NULL, "round %d: failure leaves no root", round);
	}
}

int main(void)
{
	jr_init(&doc);
	test_valid();
	test_numbers();
	test_strings();
	test_malformed();
	test_prefixes();
	test_depth();
	test_caps_and_reuse();
	jr_free(&doc);
	free(buf);
	return done_testing();
}
