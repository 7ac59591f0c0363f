/*
 * smtp: sans-I/O SMTP reply parser and capability parsing.
 *
 * The parser accumulates one line at a time into a bounded buffer; a complete
 * line is validated (three digits then ' ', '-' or end of line, RFC 5321
 * §4.2) and appended to the reply; a line with ' ' (or nothing) after the code
 * ends the reply. Bare LF is accepted as a line end because broken servers
 * send it. Every cap is checked before a byte is stored.
 */
#include "mxscan/smtp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void smtp_parser_init(struct smtp_parser *p)
{
	memset(p, 0, sizeof(*p));
}

void smtp_parser_release(struct smtp_parser *p)
{
	free(p->reply.text);
	free(p->reply.off); /* off and len share one allocation */
	free(p->line);
	smtp_parser_init(p);
}

struct smtp_parser *smtp_parser_new(void)
{
	struct smtp_parser *p = malloc(sizeof(*p));
	if (p)
		smtp_parser_init(p);
	return p;
}

void smtp_parser_free(struct smtp_parser *p)
{
	if (!p)
		return;
	smtp_parser_release(p);
	free(p);
}

size_t smtp_parser_heap(const struct smtp_parser *p)
{
	return p->reply.text_cap + (size_t)p->reply.lines_cap * 2 * sizeof(uint16_t) + p->line_cap;
}

void smtp_parser_next(struct smtp_parser *p)
{
	p->reply.code = 0;
	p->reply.nlines = 0;
	p->reply.used = 0;
}

/* The smallest doubling of cap (from init when 0) that reaches need, at most max. */
static size_t grown(size_t cap, size_t init, size_t need, size_t max)
{
	size_t n = cap ? cap : init;
	while (n < need)
		n *= 2;
	return n < max ? n : max;
}

/* Room for need bytes in *buf (capacity *cap, first size init, at most max);
 * 0, or -1 when out of memory. Callers check the cap first. */
static int buf_room(char **buf, size_t *cap, size_t init, size_t need, size_t max)
{
	if (need <= *cap)
		return 0;
	size_t n = grown(*cap, init, need, max);
	char *b = realloc(*buf, n);
	if (!b)
		return -1;
	*buf = b;
	*cap = n;
	return 0;
}

/* Room for need bytes of line; 0, or -1 when out of memory. Callers check the cap first. */
static int line_room(struct smtp_parser *p, size_t need)
{
	return buf_room(&p->line, &p->line_cap, SMTP_INIT_LINE, need, SMTP_MAX_LINE);
}

/* Room for one more line in the reply and need bytes of text; 0, or -1 when
 * out of memory. Callers check the caps first. */
static int reply_room(struct smtp_reply *r, size_t need)
{
	if (r->nlines >= r->lines_cap) {
		int n = (int)grown((size_t)r->lines_cap, SMTP_INIT_LINES, (size_t)r->nlines + 1, SMTP_MAX_LINES);
		uint16_t *a = malloc((size_t)n * 2 * sizeof(uint16_t));
		if (!a)
			return -1;
		if (r->nlines > 0) {
			memcpy(a, r->off, (size_t)r->nlines * sizeof(uint16_t));
			memcpy(a + n, r->len, (size_t)r->nlines * sizeof(uint16_t));
		}
		free(r->off);
		r->off = a;
		r->len = a + n;
		r->lines_cap = n;
	}
	return buf_room(&r->text, &r->text_cap, SMTP_INIT_REPLY, need, SMTP_MAX_REPLY);
}

static void copy_bad(struct smtp_parser *p, const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < sizeof(p->bad); i++)
		p->bad[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '.';
	p->bad[k] = 0;
}

static int fail(struct smtp_parser *p, int err)
{
	p->err = err;
	return err;
}

/* Validate the line in p->line and add it to the reply. Returns 1 when it
 * ends the reply, 0 when more lines follow, negative on error. */
static int finish_line(struct smtp_parser *p)
{
	size_t n = p->linelen;
	const char *s = p->line;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n < 3 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2]) ||
	    s[0] < '1' || s[0] > '5' || (n > 3 && s[3] != ' ' && s[3] != '-')) {
		copy_bad(p, s, n);
		return fail(p, SMTP_ERR_SYNTAX);
	}
	int code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	struct smtp_reply *r = &p->reply;
	if (r->nlines > 0 && code != r->code) {
		copy_bad(p, s, n);
		return fail(p, SMTP_ERR_CODE_MISMATCH);
	}
	if (r->nlines >= SMTP_MAX_LINES)
		return fail(p, SMTP_ERR_TOO_MANY_LINES);
	if (r->used + n + 1 > SMTP_MAX_REPLY)
		return fail(p, SMTP_ERR_TOO_BIG);
	if (reply_room(r, r->used + n + 1) < 0)
		return fail(p, SMTP_ERR_NOMEM);
	r->code = code;
	r->off[r->nlines] = (uint16_t)r->used;
	r->len[r->nlines] = (uint16_t)n;
	/* NUL bytes inside a line would truncate it as a C string: show them as '?' */
	for (size_t i = 0; i < n; i++)
		r->text[r->used + i] = s[i] ? s[i] : '?';
	r->text[r->used + n] = 0;
	r->used += n + 1;
	r->nlines++;
	p->linelen = 0;
	return (n == 3 || s[3] == ' ') ? 1 : 0;
}

static int prefix_ok(size_t pos, uint8_t c)
{
	switch (pos) {
	case 0: return c >= '1' && c <= '5';
	case 1:
	case 2: return c >= '0' && c <= '9';
	default: return c == ' ' || c == '-' || c == '\r';
	}
}

int smtp_parse(struct smtp_parser *p, const uint8_t *buf, size_t len, size_t *consumed)
{
	*consumed = 0;
	if (p->err)
		return p->err;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];
		if (c == '\n') {
			int r = finish_line(p);
			if (r < 0) {
				*consumed = i + 1;
				return r;
			}
			if (r == 1) {
				*consumed = i + 1;
				return SMTP_DONE;
			}
			continue;
		}
		/* Reject non-SMTP bytes as soon as the reply code cannot be one
		 * (RFC 5321 §4.2: three digits, then SP, '-' or the line end), instead
		 * of waiting for a line end that garbage may never contain. */
		if (p->linelen < 4 && !prefix_ok(p->linelen, c)) {
			char bad[4];
			memcpy(bad, p->line ? p->line : "", p->linelen);
			bad[p->linelen] = (char)c;
			copy_bad(p, bad, p->linelen + 1);
			*consumed = i + 1;
			return fail(p, SMTP_ERR_SYNTAX);
		}
		if (p->linelen + 1 >= SMTP_MAX_LINE) {
			copy_bad(p, p->line, p->linelen);
			*consumed = i;
			return fail(p, SMTP_ERR_LINE_TOO_LONG);
		}
		if (line_room(p, p->linelen + 1) < 0) {
			*consumed = i;
			return fail(p, SMTP_ERR_NOMEM);
		}
		p->line[p->linelen++] = (char)c;
	}
	*consumed = len;
	return SMTP_NEED_MORE;
}

const char *smtp_status_name(int status)
{
	switch (status) {
	case SMTP_NEED_MORE: return "need-more";
	case SMTP_DONE: return "done";
	case SMTP_ERR_SYNTAX: return "syntax";
	case SMTP_ERR_LINE_TOO_LONG: return "line-too-long";
	case SMTP_ERR_TOO_MANY_LINES: return "too-many-lines";
	case SMTP_ERR_TOO_BIG: return "reply-too-big";
	case SMTP_ERR_CODE_MISMATCH: return "code-mismatch";
	case SMTP_ERR_NOMEM: return "out-of-memory";
	}
	return "unknown";
}

int smtp_is_masked_starttls(const char *kw, size_t n)
{
	if (n != 8)
		return 0;
	for (size_t i = 0; i < 7; i++)
		if (kw[i] != 'X' && kw[i] != 'x')
			return 0;
	/* "STARTTLS" itself is not masked; anything else of X's is */
	return 1;
}

static const struct {
	const char *kw;
	unsigned flag;
} cap_names[] = {
	{ "STARTTLS", SMTP_CAP_STARTTLS }, { "PIPELINING", SMTP_CAP_PIPELINING },
	{ "SIZE", SMTP_CAP_SIZE },         { "8BITMIME", SMTP_CAP_8BITMIME },
	{ "SMTPUTF8", SMTP_CAP_SMTPUTF8 }, { "CHUNKING", SMTP_CAP_CHUNKING },
	{ "AUTH", SMTP_CAP_AUTH },         { "ENHANCEDSTATUSCODES", SMTP_CAP_ENHANCEDSTATUSCODES },
	{ "DSN", SMTP_CAP_DSN },           { "REQUIRETLS", SMTP_CAP_REQUIRETLS },
};

void smtp_parse_caps(const struct smtp_reply *r, struct smtp_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	if (r->code != 250)
		return;
	for (int i = 1; i < r->nlines; i++) {
		const char *s = smtp_line(r, i) + 4; /* after "250-" / "250 " */
		if (r->len[i] < 4)
			continue;
		size_t kl = 0;
		while (s[kl] && s[kl] != ' ' && s[kl] != '=')
			kl++;
		for (size_t k = 0; k < sizeof(cap_names) / sizeof(cap_names[0]); k++) {
			if (strlen(cap_names[k].kw) == kl && strncasecmp(s, cap_names[k].kw, kl) == 0) {
				caps->flags |= cap_names[k].flag;
				if (cap_names[k].flag == SMTP_CAP_SIZE && s[kl] == ' ')
					caps->size = strtoul(s + kl + 1, NULL, 10);
			}
		}
		if (smtp_is_masked_starttls(s, kl)) {
			caps->stripped = 1;
			snprintf(caps->stripped_token, sizeof(caps->stripped_token), "%.*s", (int)kl, s);
		}
	}
}

int smtp_banner_masked(const struct smtp_reply *r)
{
	for (int i = 0; i < r->nlines; i++) {
		const char *s = smtp_line(r, i);
		int run = 0;
		for (size_t k = 0; k < r->len[i]; k++) {
			if (s[k] == '*' || s[k] == 'X')
				run++;
			else
				run = 0;
			if (run >= 8)
				return 1;
		}
	}
	return 0;
}

int smtp_echo_corrupted(const struct smtp_reply *r, char *token, size_t cap)
{
	static const char want[] = "STARTTLS";
	for (int i = 0; i < r->nlines; i++) {
		const char *s = smtp_line(r, i);
		size_t n = r->len[i];
		/* words after the reply code: runs of letters and digits */
		for (size_t k = 4; k < n;) {
			if (!isalnum((unsigned char)s[k])) {
				k++;
				continue;
			}
			size_t b = k;
			while (k < n && isalnum((unsigned char)s[k]))
				k++;
			if (k - b != 8 || !strncasecmp(s + b, want, 8))
				continue;
			int diff = 0;
			for (size_t j = 0; j < 8; j++)
				diff += toupper((unsigned char)s[b + j]) != want[j];
			if (diff <= 2 || smtp_is_masked_starttls(s + b, 8)) {
				if (cap > 0)
					snprintf(token, cap, "%.8s", s + b);
				return 1;
			}
		}
	}
	return 0;
}
