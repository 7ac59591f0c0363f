/*
 * json: streaming JSON builder into a growable buffer.
 *
 * The nesting state is a small stack (kind and "still empty" per level) so
 * that each value knows whether it needs a comma and whether it needs a key.
 * Every value goes through jb_begin(), the one place that checks the key
 * against the container, writes the separator and the key. All appends go
 * through jb_put(), the one place that grows the buffer; a failed allocation
 * or a misuse records a sticky error and every later call does nothing, so a
 * broken record is dropped by the caller, never written half-formed.
 *
 * String escaping follows RFC 8259 section 7; UTF-8 validity follows RFC 3629
 * section 4 (Unicode table 3-7): overlong forms, surrogates and code points
 * above U+10FFFF are invalid, and each byte that does not start a valid
 * sequence is replaced by U+FFFD (written as the escape \ufffd), one per byte.
 */
#include "mxscan/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JB_MIN_CAP      256
#define JB_PRINTF_STACK 256

static const char *const jb_err_names[] = {
	[JB_OK] = "ok",
	[JB_ENOMEM] = "out of memory",
	[JB_EUSAGE] = "misuse",
	[JB_EDEPTH] = "too deep",
};
_Static_assert(sizeof(jb_err_names) / sizeof(jb_err_names[0]) == JB_ERR_MAX,
	       "jb_err_names must name every enum jb_err");

const char *jb_err_name(enum jb_err e)
{
	if ((unsigned)e >= JB_ERR_MAX)
		return "unknown";
	return jb_err_names[e];
}

static int jb_fail(struct jbuf *jb, enum jb_err e)
{
	if (jb->err == JB_OK)
		jb->err = e;
	return -1;
}

/* Make room for add more bytes plus the terminating NUL. */
static int jb_reserve(struct jbuf *jb, size_t add)
{
	size_t need, cap;
	char *nb;

	if (jb->err != JB_OK)
		return -1;
	if (add > SIZE_MAX - jb->len - 1)
		return jb_fail(jb, JB_ENOMEM);
	need = jb->len + add + 1;
	if (need <= jb->cap)
		return 0;
	cap = jb->cap ? jb->cap : JB_MIN_CAP;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	nb = realloc(jb->buf, cap);
	if (!nb)
		return jb_fail(jb, JB_ENOMEM);
	jb->buf = nb;
	jb->cap = cap;
	return 0;
}

static int jb_put(struct jbuf *jb, const void *p, size_t n)
{
	if (jb_reserve(jb, n) < 0)
		return -1;
	memcpy(jb->buf + jb->len, p, n);
	jb->len += n;
	jb->buf[jb->len] = '\0';
	return 0;
}

static int jb_putc(struct jbuf *jb, char c)
{
	return jb_put(jb, &c, 1);
}

size_t json_utf8_len(const unsigned char *p, size_t rem)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0; /* continuation byte, C0/C1 (overlong), F5..FF */
	if (rem < n)
		return 0;
	/* The second byte's range is narrowed for the edge lead bytes. */
	if (c == 0xe0)
		lo = 0xa0; /* overlong below U+0800 */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates U+D800..U+DFFF */
	else if (c == 0xf0)
		lo = 0x90; /* overlong below U+10000 */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Bytes that may appear unescaped in a JSON string and are not part of UTF-8. */
static int plain_ascii(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* Append s[0..n) as a quoted, escaped JSON string. */
static int jb_put_escaped(struct jbuf *jb, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run, seq;
	char esc[6];

	if (jb_putc(jb, '"') < 0)
		return -1;
	while (i < n) {
		unsigned char c = p[i];

		if (plain_ascii(c)) {
			for (run = 1; i + run < n && plain_ascii(p[i + run]); run++)
				;
			if (jb_put(jb, p + i, run) < 0)
				return -1;
			i += run;
			continue;
		}
		if (c >= 0x80) {
			seq = json_utf8_len(p + i, n - i);
			if (seq) {
				if (jb_put(jb, p + i, seq) < 0)
					return -1;
				i += seq;
			} else {
				if (jb_put(jb, "\\ufffd", 6) < 0)
					return -1;
				i++;
			}
			continue;
		}
		esc[0] = '\\';
		switch (c) {
		case '"':
		case '\\': esc[1] = (char)c; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default: /* other C0 controls and DEL */
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			if (jb_put(jb, esc, 6) < 0)
				return -1;
			i++;
			continue;
		}
		if (jb_put(jb, esc, 2) < 0)
			return -1;
		i++;
	}
	return jb_putc(jb, '"');
}

/*
 * Start a value: check the key against the enclosing container, write the
 * comma and the key. The one place that knows the nesting rules.
 */
static int jb_begin(struct jbuf *jb, const char *key)
{
	int d = jb->depth;

	if (jb->err != JB_OK)
		return -1;
	if (jb->kind[d] == '{') {
		if (!key)
			return jb_fail(jb, JB_EUSAGE);
	} else {
		if (key)
			return jb_fail(jb, JB_EUSAGE);
		if (d == 0 && !jb->empty[0])
			return jb_fail(jb, JB_EUSAGE); /* one root value per document */
	}
	if (!jb->empty[d] && jb_putc(jb, ',') < 0)
		return -1;
	jb->empty[d] = 0;
	if (key && (jb_put_escaped(jb, key, strlen(key)) < 0 || jb_putc(jb, ':') < 0))
		return -1;
	return 0;
}

static int jb_open(struct jbuf *jb, const char *key, char kind)
{
	if (jb->err == JB_OK && jb->depth >= JB_MAX_DEPTH)
		return jb_fail(jb, JB_EDEPTH);
	if (jb_begin(jb, key) < 0 || jb_putc(jb, kind) < 0)
		return -1;
	jb->depth++;
	jb->kind[jb->depth] = (unsigned char)kind;
	jb->empty[jb->depth] = 1;
	return 0;
}

static int jb_close(struct jbuf *jb, char kind)
{
	if (jb->err != JB_OK)
		return -1;
	if (jb->depth == 0 || jb->kind[jb->depth] != (unsigned char)kind)
		return jb_fail(jb, JB_EUSAGE);
	if (jb_putc(jb, kind == '{' ? '}' : ']') < 0)
		return -1;
	jb->depth--;
	return 0;
}

void jb_init(struct jbuf *jb)
{
	memset(jb, 0, sizeof(*jb));
	jb->empty[0] = 1;
}

void jb_free(struct jbuf *jb)
{
	free(jb->buf);
	jb_init(jb);
}

void jb_reset(struct jbuf *jb)
{
	jb->len = 0;
	if (jb->buf)
		jb->buf[0] = '\0';
	jb->depth = 0;
	jb->kind[0] = 0;
	jb->empty[0] = 1;
	jb->err = JB_OK;
}

int jb_ok(const struct jbuf *jb)
{
	return jb->err == JB_OK;
}

enum jb_err jb_error(const struct jbuf *jb)
{
	return jb->err;
}

int jb_done(const struct jbuf *jb)
{
	return jb->err == JB_OK && jb->depth == 0 && !jb->empty[0];
}

int jb_obj_open(struct jbuf *jb, const char *key)
{
	return jb_open(jb, key, '{');
}

int jb_obj_close(struct jbuf *jb)
{
	return jb_close(jb, '{');
}

int jb_arr_open(struct jbuf *jb, const char *key)
{
	return jb_open(jb, key, '[');
}

int jb_arr_close(struct jbuf *jb)
{
	return jb_close(jb, '[');
}

int jb_null(struct jbuf *jb, const char *key)
{
	if (jb_begin(jb, key) < 0)
		return -1;
	return jb_put(jb, "null", 4);
}

int jb_strn(struct jbuf *jb, const char *key, const char *s, size_t n)
{
	if (!s)
		return jb_null(jb, key);
	if (jb_begin(jb, key) < 0)
		return -1;
	return jb_put_escaped(jb, s, n);
}

int jb_str(struct jbuf *jb, const char *key, const char *s)
{
	return jb_strn(jb, key, s, s ? strlen(s) : 0);
}

int jb_printf_str(struct jbuf *jb, const char *key, const char *fmt, ...)
{
	char stack[JB_PRINTF_STACK], *heap = NULL;
	va_list ap;
	int n, rc = -1;

	if (jb->err != JB_OK)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(stack, sizeof(stack), fmt, ap);
	va_end(ap);
	if (n < 0) {
		jb_fail(jb, JB_EUSAGE);
		goto out;
	}
	if ((size_t)n < sizeof(stack)) {
		rc = jb_strn(jb, key, stack, (size_t)n);
		goto out;
	}
	heap = malloc((size_t)n + 1);
	if (!heap) {
		jb_fail(jb, JB_ENOMEM);
		goto out;
	}
	va_start(ap, fmt);
	n = vsnprintf(heap, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (n < 0) {
		jb_fail(jb, JB_EUSAGE);
		goto out;
	}
	rc = jb_strn(jb, key, heap, (size_t)n);
out:
	free(heap);
	return rc;
}

int jb_hex(struct jbuf *jb, const char *key, const void *bytes, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = bytes;
	char *o;
	size_t i;

	if (!bytes)
		return jb_null(jb, key);
	if (jb_begin(jb, key) < 0)
		return -1;
	if (n > (SIZE_MAX - 3) / 2)
		return jb_fail(jb, JB_ENOMEM);
	if (jb_reserve(jb, 2 * n + 2) < 0)
		return -1;
	o = jb->buf + jb->len;
	*o++ = '"';
	for (i = 0; i < n; i++) {
		*o++ = hex[p[i] >> 4];
		*o++ = hex[p[i] & 0xf];
	}
	*o++ = '"';
	jb->len += 2 * n + 2;
	jb->buf[jb->len] = '\0';
	return 0;
}

int jb_int(struct jbuf *jb, const char *key, int64_t v)
{
	char num[24];
	int n;

	if (jb_begin(jb, key) < 0)
		return -1;
	n = snprintf(num, sizeof(num), "%" PRId64, v);
	return jb_put(jb, num, (size_t)n);
}

int jb_uint(struct jbuf *jb, const char *key, uint64_t v)
{
	char num[24];
	int n;

	if (jb_begin(jb, key) < 0)
		return -1;
	n = snprintf(num, sizeof(num), "%" PRIu64, v);
	return jb_put(jb, num, (size_t)n);
}

int jb_bool(struct jbuf *jb, const char *key, int v)
{
	if (jb_begin(jb, key) < 0)
		return -1;
	return v ? jb_put(jb, "true", 4) : jb_put(jb, "false", 5);
}

int jb_double(struct jbuf *jb, const char *key, double v)
{
	char num[40];
	int n, i;

	if (!isfinite(v))
		return jb_null(jb, key);
	if (jb_begin(jb, key) < 0)
		return -1;
	n = snprintf(num, sizeof(num), "%.6g", v);
	if (n <= 0 || (size_t)n >= sizeof(num))
		return jb_fail(jb, JB_EUSAGE);
	/* A locale with a decimal comma must not leak into the record. */
	for (i = 0; i < n; i++)
		if (num[i] == ',')
			num[i] = '.';
	return jb_put(jb, num, (size_t)n);
}

int jb_raw(struct jbuf *jb, const char *key, const char *json_text)
{
	if (!json_text || !*json_text)
		return jb_null(jb, key);
	if (jb_begin(jb, key) < 0)
		return -1;
	return jb_put(jb, json_text, strlen(json_text));
}
