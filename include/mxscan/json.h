/*
 * json: a small streaming JSON builder, one record (one NDJSON line) at a time.
 *
 * Values are appended to a growable buffer as they are produced; commas,
 * quoting and escaping are handled here so that callers only name members.
 * The builder never produces invalid JSON: strings taken from the network go
 * through jb_strn(), which escapes control characters, keeps valid UTF-8 and
 * replaces every byte that is not part of a valid UTF-8 sequence with \ufffd.
 * Misuse (a key inside an array, a missing key inside an object, closing the
 * wrong container, nesting deeper than JB_MAX_DEPTH, a second root value) and
 * allocation failure set a sticky error instead of crashing; every later call
 * is then a no-op, and jb_ok() tells the caller to drop the record.
 *
 * Usage:
 *	struct jbuf jb;
 *	jb_init(&jb);
 *	jb_obj_open(&jb, NULL);
 *	jb_str(&jb, "type", "host");
 *	jb_int(&jb, "port", 25);
 *	jb_obj_close(&jb);
 *	if (jb_done(&jb))
 *		recw_write(w, jb.buf, jb.len);
 *	jb_reset(&jb);          (next record, buffer kept)
 *	...
 *	jb_free(&jb);
 */
#ifndef MXSCAN_JSON_H
#define MXSCAN_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JB_MAX_DEPTH 32

enum jb_err {
	JB_OK = 0,
	JB_ENOMEM,  /* an allocation failed */
	JB_EUSAGE,  /* key where none belongs or missing key, wrong close, second root value */
	JB_EDEPTH,  /* more than JB_MAX_DEPTH nested containers */
	JB_ERR_MAX, /* count, not an error */
};

/* "ok", "out of memory", "misuse", "too deep". */
const char *jb_err_name(enum jb_err e);

/*
 * The builder. buf/len are the output so far; while buf is non-NULL it is
 * NUL-terminated at buf[len] (so it can be printed or compared as a C string).
 * The nesting fields are internal state: read them through the functions below.
 */
struct jbuf {
	char *buf;
	size_t len, cap;
	int depth;                             /* open containers */
	unsigned char kind[JB_MAX_DEPTH + 1];  /* per level: 0 root, '{' or '[' */
	unsigned char empty[JB_MAX_DEPTH + 1]; /* per level: 1 until a value is written */
	enum jb_err err;                       /* first error, sticky until jb_reset() */
};

/* Initialise an empty builder. Allocates nothing. */
void jb_init(struct jbuf *jb);
/* Release the buffer; jb is then as after jb_init(). */
void jb_free(struct jbuf *jb);
/* Start a new document: clear the output, nesting and error, keep the capacity. */
void jb_reset(struct jbuf *jb);

/* 1 when no error has occurred since jb_init()/jb_reset(), else 0. */
int jb_ok(const struct jbuf *jb);
/* The first error (JB_OK when none). */
enum jb_err jb_error(const struct jbuf *jb);
/* 1 when the buffer holds exactly one complete root value and no error occurred:
 * the record can be written. */
int jb_done(const struct jbuf *jb);

/*
 * Every function below writes one value. key is the member name when the value
 * goes inside an object and must be NULL at the root or inside an array (any
 * other use sets JB_EUSAGE). Keys are escaped like jb_str() values.
 * Each returns 0, or -1 when the builder is (or just went) in error.
 */

/* Open an object / array; close the innermost one (must be of the same kind). */
int jb_obj_open(struct jbuf *jb, const char *key);
int jb_obj_close(struct jbuf *jb);
int jb_arr_open(struct jbuf *jb, const char *key);
int jb_arr_close(struct jbuf *jb);

/* A NUL-terminated string (escaped as jb_strn() does); NULL s writes null. */
int jb_str(struct jbuf *jb, const char *key, const char *s);
/*
 * n bytes from s, which need not be NUL-terminated and may contain anything:
 * '"' and '\\' are escaped, \b \f \n \r \t use their short escapes, other
 * control characters and DEL become \u00xx, valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF) is copied as is, and each byte
 * that does not belong to a valid sequence becomes \ufffd. NULL s writes null.
 */
int jb_strn(struct jbuf *jb, const char *key, const char *s, size_t n);
/* A string built by printf (the result is escaped as by jb_strn()). */
int jb_printf_str(struct jbuf *jb, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* n bytes as a lowercase hex string ("" when n is 0); NULL bytes writes null. */
int jb_hex(struct jbuf *jb, const char *key, const void *bytes, size_t n);

int jb_int(struct jbuf *jb, const char *key, int64_t v);
int jb_uint(struct jbuf *jb, const char *key, uint64_t v);
/* true when v is non-zero. */
int jb_bool(struct jbuf *jb, const char *key, int v);
int jb_null(struct jbuf *jb, const char *key);
/* A finite double printed with 6 significant digits ("%.6g", '.' as decimal
 * point whatever the locale); NaN and infinities write null. */
int jb_double(struct jbuf *jb, const char *key, double v);
/*
 * Pre-built JSON text, copied verbatim as one value (it is trusted: the caller
 * guarantees it is one valid JSON value). NULL or "" writes null.
 */
int jb_raw(struct jbuf *jb, const char *key, const char *json_text);

/* Length of the valid UTF-8 sequence at p, at most rem bytes available (RFC
 * 3629 section 4: no overlong forms, no surrogates, nothing above U+10FFFF),
 * or 0 when p[0] does not start one. Used by the writer and by jsonr. */
size_t json_utf8_len(const unsigned char *p, size_t rem);

#endif
