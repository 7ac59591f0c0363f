/*
 * rutil: small output helpers shared by mxreport's renderers.
 *
 * Everything printed comes, in the end, from records, and records carry
 * what servers said: banners, reply lines, certificate names. Text for a
 * terminal therefore goes through ru_text() (control characters shown as
 * '.', so no escape sequence reaches the terminal) and text for HTML through
 * ru_html() (every markup character escaped). Labels are cut with
 * ru_utf8_cut() so a cut never splits a UTF-8 sequence.
 */
#ifndef MXREPORT_RUTIL_H
#define MXREPORT_RUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Bytes of s (len bytes, valid UTF-8) to keep so that at most max bytes are kept without splitting a sequence. */
size_t ru_utf8_cut(const char *s, size_t len, size_t max);
/* After snprintf() into buf[n]: drop a UTF-8 sequence the truncation may have cut in half. */
void ru_utf8_fix(char *buf);
/* Display width in columns (code points; good enough for labels). */
size_t ru_width(const char *s, size_t len);

/* len bytes of s for a terminal: controls and DEL as '.', at most max bytes (0: no limit). */
void ru_text(FILE *out, const char *s, size_t len, size_t max);
/* s escaped for HTML text and attribute values (& < > " '), at most max bytes (0: no limit, else "…" marks a cut). */
void ru_html(FILE *out, const char *s, size_t len, size_t max);

/* 100 * n / d, or 0 when d is 0. */
double ru_pct(uint64_t n, uint64_t d);

#endif
