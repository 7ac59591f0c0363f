// fuzz-sources: scanner/jsonr.c
// fuzz-sources: scanner/json.c
/*
 * fuzz_jsonr: mxreport's JSON reader on arbitrary bytes.
 *
 * Mode 0 (first byte even): the rest is one line. jr_parse() must return 0
 * or -1 without any memory error; on -1 a message and an offset inside the
 * input; on 0 a consistent tree (child counts match, strings are valid UTF-8
 * apart from NULs that came from \u0000, checked here by decoding code points
 * independently of jsonr.c), and the tree written back with mxscan's JSON
 * writer must parse again into an equal tree (when it fits the writer's
 * depth and member names hold no NUL).
 * Mode 1 (first byte odd): the rest is a string from the network. What the
 * scanner's writer makes of it (jb_strn) must parse, and decode to the same
 * bytes when they were valid UTF-8 (NULs included, written as \u0000).
 * Any violation calls abort().
 */
#include "mxscan/jsonr.h"
#include "mxscan/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct jr_doc doc1, doc2;

/* Independent UTF-8 check: decode each code point and test its range. NUL allowed. */
static int valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], cp, need, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			cp = c & 0x1f;
			need = 1;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			cp = c & 0x0f;
			need = 2;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			cp = c & 0x07;
			need = 3;
			min = 0x10000;
		} else {
			return 0;
		}
		for (size_t k = 1; k <= need; k++) {
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static int depth_of(const struct jr_val *v)
{
	int d = 0;

	if (v->type != JR_ARRAY && v->type != JR_OBJECT)
		return 0;
	for (const struct jr_val *c = v->child; c; c = c->next) {
		int cd = depth_of(c);

		if (cd > d)
			d = cd;
	}
	return d + 1;
}

static int keys_have_nul(const struct jr_val *v)
{
	for (const struct jr_val *c = v->child; c; c = c->next) {
		if (c->key && memchr(c->key, '\0', c->klen))
			return 1;
		if (keys_have_nul(c))
			return 1;
	}
	return 0;
}

static void check_tree(const struct jr_val *v, int in_object)
{
	uint32_t n = 0;

	if ((unsigned)v->type >= JR_TYPE_MAX)
		abort();
	if (in_object && (!v->key || !valid_utf8((const unsigned char *)v->key, v->klen) || v->key[v->klen] != '\0'))
		abort();
	if (!in_object && v->key)
		abort();
	if (v->type == JR_STRING && (!valid_utf8((const unsigned char *)v->s, v->len) || v->s[v->len] != '\0'))
		abort();
	if (v->type == JR_NUMBER && (v->len == 0 || v->len > 1024))
		abort();
	if (v->type == JR_ARRAY || v->type == JR_OBJECT) {
		for (const struct jr_val *c = v->child; c; c = c->next) {
			check_tree(c, v->type == JR_OBJECT);
			n++;
		}
		if (n != v->len)
			abort();
	}
}

static void write_tree(struct jbuf *jb, const char *key, const struct jr_val *v)
{
	char num[1100], *k;

	switch (v->type) {
	case JR_NULL: jb_null(jb, key); break;
	case JR_FALSE: jb_bool(jb, key, 0); break;
	case JR_TRUE: jb_bool(jb, key, 1); break;
	case JR_STRING: jb_strn(jb, key, v->s, v->len); break;
	case JR_NUMBER:
		memcpy(num, v->s, v->len);
		num[v->len] = '\0';
		jb_raw(jb, key, num);
		break;
	case JR_ARRAY:
	case JR_OBJECT:
		if (v->type == JR_ARRAY)
			jb_arr_open(jb, key);
		else
			jb_obj_open(jb, key);
		for (const struct jr_val *c = v->child; c; c = c->next) {
			k = NULL;
			if (v->type == JR_OBJECT) {
				k = malloc(c->klen + 1);
				memcpy(k, c->key, c->klen + 1);
			}
			write_tree(jb, k, c);
			free(k);
		}
		if (v->type == JR_ARRAY)
			jb_arr_close(jb);
		else
			jb_obj_close(jb);
		break;
	default: abort();
	}
}

static void same_tree(const struct jr_val *a, const struct jr_val *b)
{
	if (a->type != b->type || a->len != b->len || a->klen != b->klen)
		abort();
	if (a->key && memcmp(a->key, b->key, a->klen) != 0)
		abort();
	if ((a->type == JR_STRING || a->type == JR_NUMBER) && memcmp(a->s, b->s, a->len) != 0)
		abort();
	if (a->type == JR_NUMBER && (a->is_int != b->is_int || (a->is_int && a->i != b->i)))
		abort();
	for (const struct jr_val *x = a->child, *y = b->child; x || y; x = x->next, y = y->next) {
		if (!x || !y)
			abort();
		same_tree(x, y);
	}
}

static void mode_parse(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *again;
	struct jbuf jb;

	memcpy(buf, data, size);
	if (jr_parse(&doc1, buf, size) < 0) {
		if (!doc1.err[0] || doc1.err_pos > size || doc1.root)
			abort();
		free(buf);
		return;
	}
	if (!doc1.root || doc1.err[0])
		abort();
	check_tree(doc1.root, 0);
	if (depth_of(doc1.root) <= JB_MAX_DEPTH && !keys_have_nul(doc1.root)) {
		jb_init(&jb);
		write_tree(&jb, NULL, doc1.root);
		if (!jb_done(&jb))
			abort();
		again = malloc(jb.len + 1);
		memcpy(again, jb.buf, jb.len);
		if (jr_parse(&doc2, again, jb.len) < 0)
			abort();
		same_tree(doc1.root, doc2.root);
		free(again);
		jb_free(&jb);
	}
	free(buf);
}

static void mode_string(const uint8_t *data, size_t size)
{
	struct jbuf jb;
	char *buf;

	jb_init(&jb);
	jb_strn(&jb, NULL, (const char *)data, size);
	if (!jb_done(&jb))
		abort();
	buf = malloc(jb.len + 1);
	memcpy(buf, jb.buf, jb.len);
	if (jr_parse(&doc1, buf, jb.len) < 0 || doc1.root->type != JR_STRING)
		abort();
	if (valid_utf8(data, size) && (doc1.root->len != size || memcmp(doc1.root->s, data, size) != 0))
		abort();
	free(buf);
	jb_free(&jb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		mode_string(data + 1, size - 1);
	else
		mode_parse(data + 1, size - 1);
	return 0;
}
