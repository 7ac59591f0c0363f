// fuzz-sources: scanner/json.c
/*
 * fuzz_json: arbitrary network bytes through jb_strn() must always give a
 * valid JSON string that decodes back to the input, with each byte outside a
 * valid UTF-8 sequence replaced by U+FFFD. The checker here is written
 * independently of json.c: it validates UTF-8 by decoding code points and
 * checking their ranges rather than by lead/second-byte tables. A second mode
 * drives the whole builder with a script of operations taken from the input
 * and checks every complete document with a small JSON validator.
 * Any violation calls abort().
 */
#include "mxscan/json.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FZ_REPL 0x100 /* decoded unit standing for an escaped U+FFFD */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Length of a valid UTF-8 sequence at p (decoding the code point), else 0. */
static size_t utf8_ok(const unsigned char *p, size_t rem)
{
	uint32_t cp, min;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (rem < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * Validate the JSON string at s[*i] (which must be '"') and advance *i past
 * it. When units is non-NULL, store the decoded units (bytes, FZ_REPL).
 * Returns the number of units, or -1 when the string is invalid.
 */
static long check_string(const unsigned char *s, size_t len, size_t *i, int *units)
{
	long nu = 0;
	size_t k = *i, n;

	if (k >= len || s[k] != '"')
		return -1;
	k++;
	while (k < len && s[k] != '"') {
		unsigned char c = s[k];

		if (c == '\\') {
			if (k + 1 >= len)
				return -1;
			c = s[k + 1];
			if (c == 'u') {
				int v = 0, j, h;

				if (k + 6 > len)
					return -1;
				for (j = 2; j < 6; j++) {
					if ((h = hexval(s[k + j])) < 0)
						return -1;
					v = v * 16 + h;
				}
				if (v == 0xfffd)
					v = FZ_REPL;
				else if (v >= 0x20 && v != 0x7f)
					return -1; /* json.c only escapes controls and DEL */
				if (units)
					units[nu] = v;
				nu++;
				k += 6;
				continue;
			}
			switch (c) {
			case '"':
			case '\\':
			case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			default: return -1;
			}
			if (units)
				units[nu] = c;
			nu++;
			k += 2;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			return -1; /* raw control character */
		n = utf8_ok(s + k, len - k);
		if (n == 0)
			return -1;
		for (; n > 0; n--, k++) {
			if (units)
				units[nu] = s[k];
			nu++;
		}
	}
	if (k >= len)
		return -1;
	*i = k + 1;
	return nu;
}

/* Mode 0: jb_strn() round trip. */
static void fuzz_string(const unsigned char *data, size_t size)
{
	struct jbuf jb;
	int *want, *got;
	size_t i = 0, n, k;
	long nw = 0, ng;

	jb_init(&jb);
	jb_strn(&jb, NULL, (const char *)data, size);
	if (!jb_done(&jb) || strlen(jb.buf) != jb.len)
		abort();
	want = malloc((size + 1) * sizeof(int));
	got = malloc((jb.len + 1) * sizeof(int));
	if (!want || !got)
		abort();
	while (i < size) {
		n = utf8_ok(data + i, size - i);
		if (n == 0) {
			want[nw++] = FZ_REPL;
			i++;
			continue;
		}
		for (; n > 0; n--)
			want[nw++] = data[i++];
	}
	k = 0;
	ng = check_string((const unsigned char *)jb.buf, jb.len, &k, got);
	if (ng < 0 || k != jb.len || ng != nw || memcmp(want, got, (size_t)nw * sizeof(int)) != 0)
		abort();
	free(want);
	free(got);
	jb_free(&jb);
}

/* A small recursive JSON validator for mode 1. */
static int check_value(const unsigned char *s, size_t len, size_t *i, int depth);

static int check_number(const unsigned char *s, size_t len, size_t *i)
{
	size_t k = *i, d;

	if (k < len && s[k] == '-')
		k++;
	if (k < len && s[k] == '0') {
		k++;
	} else {
		for (d = 0; k < len && s[k] >= '0' && s[k] <= '9'; k++, d++)
			;
		if (!d)
			return -1;
	}
	if (k < len && s[k] == '.') {
		for (k++, d = 0; k < len && s[k] >= '0' && s[k] <= '9'; k++, d++)
			;
		if (!d)
			return -1;
	}
	if (k < len && (s[k] == 'e' || s[k] == 'E')) {
		k++;
		if (k < len && (s[k] == '+' || s[k] == '-'))
			k++;
		for (d = 0; k < len && s[k] >= '0' && s[k] <= '9'; k++, d++)
			;
		if (!d)
			return -1;
	}
	*i = k;
	return 0;
}

static int check_value(const unsigned char *s, size_t len, size_t *i, int depth)
{
	static const char *const lits[] = { "null", "true", "false" };
	size_t k = *i, j;
	unsigned char close;

	if (k >= len || depth > JB_MAX_DEPTH)
		return -1;
	if (s[k] == '"')
		return check_string(s, len, i, NULL) < 0 ? -1 : 0;
	if (s[k] == '{' || s[k] == '[') {
		close = s[k] == '{' ? '}' : ']';
		k++;
		if (k < len && s[k] == close) {
			*i = k + 1;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				if (check_string(s, len, &k, NULL) < 0 || k >= len || s[k] != ':')
					return -1;
				k++;
			}
			if (check_value(s, len, &k, depth + 1) < 0 || k >= len)
				return -1;
			if (s[k] == close) {
				*i = k + 1;
				return 0;
			}
			if (s[k] != ',')
				return -1;
			k++;
		}
	}
	for (j = 0; j < 3; j++) {
		size_t l = strlen(lits[j]);

		if (len - k >= l && memcmp(s + k, lits[j], l) == 0) {
			*i = k + l;
			return 0;
		}
	}
	return check_number(s, len, i);
}

/* Mode 1: a script of builder operations; keys and strings come from the input. */
static void fuzz_builder(const unsigned char *data, size_t size)
{
	struct jbuf jb;
	size_t i = 0, k;

	jb_init(&jb);
	while (i < size) {
		unsigned char op = data[i++];
		size_t n = (size_t)(op >> 4);
		const char *key = NULL;
		char keybuf[16];

		if (n > size - i)
			n = size - i;
		if (op & 0x08) {
			memcpy(keybuf, data + i, n < 15 ? n : 15);
			keybuf[n < 15 ? n : 15] = '\0';
			key = keybuf;
		}
		switch (op & 0x07) {
		case 0: jb_obj_open(&jb, key); break;
		case 1: jb_arr_open(&jb, key); break;
		case 2:
			if (jb.depth > 0 && jb.kind[jb.depth] == '{')
				jb_obj_close(&jb);
			else
				jb_arr_close(&jb);
			break;
		case 3: jb_strn(&jb, key, (const char *)data + i, n); break;
		case 4: jb_int(&jb, key, (int64_t)op * -77777777777ll); break;
		case 5: jb_double(&jb, key, n ? (double)op / (double)n * 1e-3 : INFINITY); break;
		case 6: jb_hex(&jb, key, data + i, n); break;
		default: jb_bool(&jb, key, op & 0x10); break;
		}
		i += n;
		if (jb_ok(&jb) && jb.buf && strlen(jb.buf) != jb.len)
			abort();
		if (jb_done(&jb)) {
			k = 0;
			if (check_value((const unsigned char *)jb.buf, jb.len, &k, 0) < 0 || k != jb.len)
				abort();
			jb_reset(&jb);
		} else if (!jb_ok(&jb)) {
			jb_reset(&jb); /* misuse by the script: start another document */
		}
	}
	jb_free(&jb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_builder(data + 1, size - 1);
	else
		fuzz_string(data + 1, size - 1);
	return 0;
}
