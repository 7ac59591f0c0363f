/*
 * jsonr: a small bounded JSON reader for one NDJSON line at a time.
 *
 * jr_parse() turns one line into a tree (a DOM) of struct jr_val. It parses
 * in place: strings are decoded inside the caller's buffer (an unescaped
 * string is never longer than its escaped form, so the decoded bytes and a
 * terminating NUL fit where the raw text was), and the values come from
 * blocks that one struct jr_doc keeps and reuses from line to line, so a
 * stream of records costs no allocation once the blocks have grown to the
 * largest record. The tree is valid until the next jr_parse() on the same
 * document or until the buffer changes.
 *
 * It is strict RFC 8259: no trailing commas, comments, single quotes, leading
 * zeros, NaN or lone surrogates; strings must be valid UTF-8 (RFC 3629) and
 * may not hold raw control characters. It is bounded: nesting deeper than
 * JR_MAX_DEPTH, input longer than JR_MAX_LINE and more than JR_MAX_VALUES
 * values are refused. On any error it returns -1 and leaves a message and the
 * byte offset where it stopped in the document; it never aborts or reads past
 * len + 1.
 */
#ifndef MXREPORT_JSONR_H
#define MXREPORT_JSONR_H

#include <stddef.h>
#include <stdint.h>

#define JR_MAX_DEPTH  64
#define JR_MAX_LINE   (16u << 20) /* bytes in one document */
#define JR_MAX_VALUES (1u << 20)  /* values in one document */

enum jr_type {
	JR_NULL,
	JR_FALSE,
	JR_TRUE,
	JR_NUMBER,
	JR_STRING,
	JR_ARRAY,
	JR_OBJECT,
	JR_TYPE_MAX, /* count, not a type */
};

/* "null", "false", "true", "number", "string", "array", "object". */
const char *jr_type_name(enum jr_type t);

struct jr_val {
	enum jr_type type;
	uint32_t len;         /* string: decoded bytes; number: text bytes; array/object: children */
	uint32_t klen;        /* member name bytes (in an object) */
	int is_int;           /* number without fraction or exponent that fits int64_t */
	const char *key;      /* member name, decoded and NUL-terminated; NULL outside objects */
	const char *s;        /* string: decoded, NUL-terminated (may hold NULs from \u0000);
			       * number: its text as written (not terminated) */
	int64_t i;            /* number: value when is_int */
	double d;             /* number: value (nearest double) */
	struct jr_val *child; /* array/object: first element or member */
	struct jr_val *next;  /* next element or member of the parent */
};

struct jr_block;

struct jr_doc {
	struct jr_val *root; /* after a successful jr_parse() */
	size_t values;       /* values in the last document */
	size_t err_pos;      /* byte offset of the error */
	char err[96];        /* message of the last error, "" after success */
	struct jr_block *blocks, *cur;
};

/* Initialise an empty document. Allocates nothing. */
void jr_init(struct jr_doc *d);
/* Release the value blocks. */
void jr_free(struct jr_doc *d);

/*
 * Parse len bytes of buf as exactly one JSON value with optional white space
 * around it. buf must hold len + 1 bytes: buf[len] is overwritten with a NUL,
 * and the string contents are decoded in place. Returns 0 and sets d->root,
 * or -1 with d->err and d->err_pos set (also -1 when memory runs out).
 */
int jr_parse(struct jr_doc *d, char *buf, size_t len);

/* The member named key (first one if repeated) of an object; NULL if v is not
 * an object or has no such member. */
const struct jr_val *jr_get(const struct jr_val *v, const char *key);
const struct jr_val *jr_getn(const struct jr_val *v, const char *key, size_t klen);

/*
 * Follow a dotted path of member names from v: "tls.certificate.verify.code".
 * Member names may themselves hold dots ("tls.versions.TLSv1.3.supported"):
 * at each object the longest member name that matches the rest of the path up
 * to a '.' or its end wins. NULL when some step is missing or not an object.
 */
const struct jr_val *jr_path(const struct jr_val *v, const char *path);

/* The string, or NULL if v is NULL or not a string. */
const char *jr_str(const struct jr_val *v);
/* The integer value, or def if v is NULL or not an integral number. */
int64_t jr_int(const struct jr_val *v, int64_t def);
/* 1 for true, 0 for false, def otherwise. */
int jr_bool(const struct jr_val *v, int def);
/* 1 when v is a string equal to s. */
int jr_streq(const struct jr_val *v, const char *s);

#endif
