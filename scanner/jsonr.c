/*
 * jsonr: a bounded, strict, in-place JSON reader (see jsonr.h for the contract).
 *
 * Recursive descent over a buffer that ends with a NUL sentinel at buf[len]:
 * every byte test treats the sentinel as "not what we want", so the parser
 * can look at p[0], then p[1]... one byte at a time without a bounds check
 * per byte, and stops at the sentinel before it could read past it. Where the
 * sentinel could be mistaken for data (a NUL inside a string) the position is
 * compared with the end.
 *
 * Values live in blocks chained from the document and reused by the next
 * parse; recursion is bounded by JR_MAX_DEPTH, values by JR_MAX_VALUES, the
 * text by JR_MAX_LINE, and a number's text by JR_MAX_NUMBER (strtod on
 * megabytes of digits is slow, and no record field needs more).
 */
#include "mxscan/jsonr.h"
#include "mxscan/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JR_BLOCK_MIN  256
#define JR_BLOCK_MAX  65536
#define JR_MAX_NUMBER 1024 /* characters in one number */

static const char *const jr_type_names[] = {
	[JR_NULL] = "null",     [JR_FALSE] = "false", [JR_TRUE] = "true",     [JR_NUMBER] = "number",
	[JR_STRING] = "string", [JR_ARRAY] = "array", [JR_OBJECT] = "object",
};
_Static_assert(sizeof(jr_type_names) / sizeof(jr_type_names[0]) == JR_TYPE_MAX,
	       "jr_type_names must name every enum jr_type");

const char *jr_type_name(enum jr_type t)
{
	return (unsigned)t < JR_TYPE_MAX ? jr_type_names[t] : "?";
}

struct jr_block {
	struct jr_block *next;
	size_t used, cap;
	struct jr_val v[];
};

struct jr_parser {
	struct jr_doc *d;
	char *base, *p, *end;
};

void jr_init(struct jr_doc *d)
{
	memset(d, 0, sizeof(*d));
}

void jr_free(struct jr_doc *d)
{
	struct jr_block *b = d->blocks, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	jr_init(d);
}

static int jr_fail(struct jr_parser *ps, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int jr_fail(struct jr_parser *ps, const char *at, const char *fmt, ...)
{
	va_list ap;

	if (ps->d->err[0])
		return -1; /* keep the first (innermost) message */
	va_start(ap, fmt);
	vsnprintf(ps->d->err, sizeof(ps->d->err), fmt, ap);
	va_end(ap);
	ps->d->err_pos = (size_t)(at - ps->base);
	return -1;
}

/* A readable name for the byte at p, for messages. */
static const char *jr_what(const struct jr_parser *ps, const char *p, char *tmp, size_t n)
{
	unsigned char c = (unsigned char)*p;

	if (p >= ps->end)
		return "end of input";
	if (c > 0x20 && c < 0x7f)
		snprintf(tmp, n, "'%c'", c);
	else
		snprintf(tmp, n, "byte 0x%02x", c);
	return tmp;
}

static int jr_unexpected(struct jr_parser *ps, const char *p, const char *wanted)
{
	char tmp[16];

	if (p >= ps->end)
		return jr_fail(ps, p, "unexpected end of input, expected %s", wanted);
	return jr_fail(ps, p, "unexpected %s, expected %s", jr_what(ps, p, tmp, sizeof(tmp)), wanted);
}

static struct jr_val *jr_alloc(struct jr_parser *ps)
{
	struct jr_doc *d = ps->d;
	struct jr_block *b = d->cur;
	struct jr_val *v;

	if (d->values >= JR_MAX_VALUES) {
		jr_fail(ps, ps->p, "more than %u values in one record", JR_MAX_VALUES);
		return NULL;
	}
	while (b && b->used == b->cap) {
		b = b->next;
		if (b)
			b->used = 0;
	}
	if (!b) {
		size_t cap = d->cur ? d->cur->cap * 2 : JR_BLOCK_MIN;

		if (cap > JR_BLOCK_MAX)
			cap = JR_BLOCK_MAX;
		b = malloc(sizeof(*b) + cap * sizeof(b->v[0]));
		if (!b) {
			jr_fail(ps, ps->p, "out of memory");
			return NULL;
		}
		b->next = NULL;
		b->used = 0;
		b->cap = cap;
		if (d->cur)
			d->cur->next = b;
		else
			d->blocks = b;
	}
	d->cur = b;
	v = &b->v[b->used++];
	d->values++;
	memset(v, 0, sizeof(*v));
	return v;
}

static void jr_ws(struct jr_parser *ps)
{
	char *p = ps->p;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	ps->p = p;
}

static int jr_hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static char *jr_put_utf8(char *w, unsigned cp)
{
	if (cp < 0x80) {
		*w++ = (char)cp;
	} else if (cp < 0x800) {
		*w++ = (char)(0xc0 | (cp >> 6));
		*w++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*w++ = (char)(0xe0 | (cp >> 12));
		*w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*w++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*w++ = (char)(0xf0 | (cp >> 18));
		*w++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*w++ = (char)(0x80 | (cp & 0x3f));
	}
	return w;
}

/* ps->p is at the opening quote. Decodes in place; *out / *len get the text. */
static int jr_string(struct jr_parser *ps, const char **out, uint32_t *len)
{
	char *start = ps->p + 1, *r = start, *w;

	/* fast path: no escapes, ASCII, nothing to move */
	while ((unsigned char)*r >= 0x20 && *r != '"' && *r != '\\' && (unsigned char)*r < 0x80)
		r++;
	w = r;
	for (;;) {
		unsigned char c = (unsigned char)*r;

		if (c == '"')
			break;
		if (c < 0x20) {
			if (r >= ps->end)
				return jr_fail(ps, ps->p, "unterminated string");
			return jr_fail(ps, r, "control character 0x%02x in a string (must be escaped)", c);
		}
		if (c == '\\') {
			unsigned cp, lo;

			switch (r[1]) {
			case '"': *w++ = '"'; break;
			case '\\': *w++ = '\\'; break;
			case '/': *w++ = '/'; break;
			case 'b': *w++ = '\b'; break;
			case 'f': *w++ = '\f'; break;
			case 'n': *w++ = '\n'; break;
			case 'r': *w++ = '\r'; break;
			case 't': *w++ = '\t'; break;
			case 'u':
				if (jr_hex4(r + 2, &cp) < 0)
					return jr_fail(ps, r, "invalid \\u escape (four hex digits expected)");
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return jr_fail(ps, r, "lone low surrogate \\u%04x", cp);
				if (cp >= 0xd800 && cp <= 0xdbff) {
					/* RFC 8259 section 7: a pair of escapes for one code point above U+FFFF */
					if (r[6] != '\\' || r[7] != 'u' || jr_hex4(r + 8, &lo) < 0 || lo < 0xdc00 ||
					    lo > 0xdfff)
						return jr_fail(ps, r,
							       "high surrogate \\u%04x not followed by a low one", cp);
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					r += 6;
				}
				w = jr_put_utf8(w, cp);
				r += 6;
				continue;
			default:
				if (r + 1 >= ps->end)
					return jr_fail(ps, ps->p, "unterminated string");
				return jr_fail(ps, r, "invalid escape '\\%c'", r[1] > 0x20 && r[1] < 0x7f ? r[1] : '?');
			}
			r += 2;
			continue;
		}
		if (c >= 0x80) {
			size_t n = json_utf8_len((const unsigned char *)r, (size_t)(ps->end - r));

			if (!n)
				return jr_fail(ps, r, "invalid UTF-8 in a string");
			if (w != r)
				memmove(w, r, n);
			w += n;
			r += n;
			continue;
		}
		*w++ = (char)c;
		r++;
	}
	if ((size_t)(w - start) > UINT32_MAX)
		return jr_fail(ps, ps->p, "string too long");
	*w = '\0'; /* w <= r, and r is the closing quote: nothing unread is overwritten */
	*out = start;
	*len = (uint32_t)(w - start);
	ps->p = r + 1;
	return 0;
}

static int jr_number(struct jr_parser *ps, struct jr_val *v)
{
	char *start = ps->p, *p = start;
	uint64_t mag = 0;
	int neg = 0, ovf = 0, real = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (*p == '0') {
		p++;
		if (*p >= '0' && *p <= '9')
			return jr_fail(ps, p, "leading zero in a number");
	} else if (*p >= '1' && *p <= '9') {
		while (*p >= '0' && *p <= '9') {
			unsigned dig = (unsigned)(*p - '0');

			if (mag > (UINT64_MAX - dig) / 10)
				ovf = 1;
			else
				mag = mag * 10 + dig;
			p++;
		}
	} else {
		return jr_unexpected(ps, p, "a digit");
	}
	if (*p == '.') {
		real = 1;
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return jr_unexpected(ps, p, "a digit after '.'");
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		real = 1;
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return jr_unexpected(ps, p, "a digit in the exponent");
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (p - start > JR_MAX_NUMBER)
		return jr_fail(ps, start, "number longer than %d characters", JR_MAX_NUMBER);
	v->type = JR_NUMBER;
	v->s = start;
	v->len = (uint32_t)(p - start);
	if (!real && !ovf && (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX)) {
		v->is_int = 1;
		v->i = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
		v->d = (double)v->i;
	} else {
		/* the text was checked to be a JSON number and strtod's grammar is a superset:
		 * it stops where we did (the next byte is a delimiter or the sentinel) */
		v->d = strtod(start, NULL);
	}
	ps->p = p;
	return 0;
}

static int jr_value(struct jr_parser *ps, int depth, struct jr_val **out);

static int jr_container(struct jr_parser *ps, int depth, struct jr_val *v, int obj)
{
	struct jr_val **tail = &v->child, *child;
	char close = obj ? '}' : ']';

	if (depth >= JR_MAX_DEPTH)
		return jr_fail(ps, ps->p, "nesting deeper than %d", JR_MAX_DEPTH);
	v->type = obj ? JR_OBJECT : JR_ARRAY;
	ps->p++;
	jr_ws(ps);
	if (*ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		const char *key = NULL;
		uint32_t klen = 0;

		if (obj) {
			if (*ps->p != '"')
				return jr_unexpected(ps, ps->p, "a member name");
			if (jr_string(ps, &key, &klen) < 0)
				return -1;
			jr_ws(ps);
			if (*ps->p != ':')
				return jr_unexpected(ps, ps->p, "':'");
			ps->p++;
		}
		if (jr_value(ps, depth + 1, &child) < 0)
			return -1;
		child->key = key;
		child->klen = klen;
		*tail = child;
		tail = &child->next;
		v->len++;
		jr_ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			jr_ws(ps);
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			return 0;
		}
		return jr_unexpected(ps, ps->p, obj ? "',' or '}'" : "',' or ']'");
	}
}

static int jr_literal(struct jr_parser *ps, struct jr_val *v, const char *word, enum jr_type t)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return jr_unexpected(ps, ps->p, "a value");
	v->type = t;
	ps->p += n;
	return 0;
}

static int jr_value(struct jr_parser *ps, int depth, struct jr_val **out)
{
	struct jr_val *v;

	jr_ws(ps);
	v = jr_alloc(ps);
	if (!v)
		return -1;
	*out = v;
	switch (*ps->p) {
	case '{': return jr_container(ps, depth, v, 1);
	case '[': return jr_container(ps, depth, v, 0);
	case '"': v->type = JR_STRING; return jr_string(ps, &v->s, &v->len);
	case 't': return jr_literal(ps, v, "true", JR_TRUE);
	case 'f': return jr_literal(ps, v, "false", JR_FALSE);
	case 'n': return jr_literal(ps, v, "null", JR_NULL);
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return jr_number(ps, v);
		return jr_unexpected(ps, ps->p, "a value");
	}
}

int jr_parse(struct jr_doc *d, char *buf, size_t len)
{
	struct jr_parser ps = { .d = d, .base = buf, .p = buf, .end = buf + len };
	struct jr_val *root;

	d->root = NULL;
	d->values = 0;
	d->err[0] = '\0';
	d->err_pos = 0;
	d->cur = d->blocks;
	if (d->cur)
		d->cur->used = 0;
	if (len > JR_MAX_LINE) {
		snprintf(d->err, sizeof(d->err), "record longer than %u bytes", JR_MAX_LINE);
		return -1;
	}
	buf[len] = '\0';
	if (jr_value(&ps, 0, &root) < 0)
		return -1;
	jr_ws(&ps);
	if (ps.p != ps.end)
		return jr_unexpected(&ps, ps.p, "end of record after the value");
	d->root = root;
	return 0;
}

const struct jr_val *jr_getn(const struct jr_val *v, const char *key, size_t klen)
{
	if (!v || v->type != JR_OBJECT)
		return NULL;
	for (const struct jr_val *m = v->child; m; m = m->next)
		if (m->klen == klen && memcmp(m->key, key, klen) == 0)
			return m;
	return NULL;
}

const struct jr_val *jr_get(const struct jr_val *v, const char *key)
{
	return jr_getn(v, key, strlen(key));
}

const struct jr_val *jr_path(const struct jr_val *v, const char *path)
{
	const char *rest = path;
	size_t restlen = strlen(path);

	while (v) {
		const struct jr_val *best = NULL;

		if (v->type != JR_OBJECT)
			return NULL;
		for (const struct jr_val *m = v->child; m; m = m->next)
			if (m->klen <= restlen && memcmp(m->key, rest, m->klen) == 0 &&
			    (m->klen == restlen || rest[m->klen] == '.') && (!best || m->klen > best->klen))
				best = m;
		if (!best)
			return NULL;
		if (best->klen == restlen)
			return best;
		rest += best->klen + 1;
		restlen -= best->klen + 1;
		v = best;
	}
	return NULL;
}

const char *jr_str(const struct jr_val *v)
{
	return v && v->type == JR_STRING ? v->s : NULL;
}

int64_t jr_int(const struct jr_val *v, int64_t def)
{
	return v && v->type == JR_NUMBER && v->is_int ? v->i : def;
}

int jr_bool(const struct jr_val *v, int def)
{
	if (v && v->type == JR_TRUE)
		return 1;
	if (v && v->type == JR_FALSE)
		return 0;
	return def;
}

int jr_streq(const struct jr_val *v, const char *s)
{
	return v && v->type == JR_STRING && strlen(s) == v->len && memcmp(v->s, s, v->len) == 0;
}
