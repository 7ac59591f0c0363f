/*
 * smtp: sans-I/O SMTP reply parser and EHLO capability parsing (RFC 5321
 * §4.2, RFC 3207 for STARTTLS). Bytes in, replies out; never assumes that one
 * read is one reply or one line, never assumes NUL-terminated input, and caps
 * line length, line count and reply size so a hostile server cannot make it
 * buffer without bound. Its storage grows with what arrives, within the caps.
 */
#ifndef MXSCAN_SMTP_H
#define MXSCAN_SMTP_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_MAX_LINE  2048  /* bytes per reply line incl. CRLF (RFC 5321 §4.5.3.1.5 says 512) */
#define SMTP_MAX_LINES 128   /* lines per multi-line reply */
#define SMTP_MAX_REPLY 16384 /* bytes of text kept per reply */
/* The parser's storage grows with what arrives: each buffer is allocated at
 * its first use with these sizes and doubled as needed, up to the caps above
 * (a one-line banner holds about 400 bytes, a full-size reply about 19 KB). */
#define SMTP_INIT_LINE  128 /* line buffer */
#define SMTP_INIT_LINES 8   /* entries of the off/len arrays */
#define SMTP_INIT_REPLY 256 /* reply text */

enum smtp_status {
	SMTP_NEED_MORE = 0,
	SMTP_DONE = 1,
	SMTP_ERR_SYNTAX = -1,        /* a line that is not "ddd", "ddd text" or "ddd-text" */
	SMTP_ERR_LINE_TOO_LONG = -2, /* no line end within SMTP_MAX_LINE bytes */
	SMTP_ERR_TOO_MANY_LINES = -3,
	SMTP_ERR_TOO_BIG = -4,
	SMTP_ERR_CODE_MISMATCH = -5, /* continuation lines with different codes */
	SMTP_ERR_NOMEM = -6,         /* out of memory while growing the parser's storage */
};

struct smtp_reply {
	int code; /* 3-digit reply code */
	int nlines;
	uint16_t *off; /* line i = text[off[i]] .. +len[i], without CRLF (nlines entries) */
	uint16_t *len;
	char *text; /* lines stored whole ("250-PIPELINING"), NUL-separated */
	size_t used;
	size_t text_cap; /* bytes allocated at text, <= SMTP_MAX_REPLY */
	int lines_cap;   /* entries allocated at off and len, <= SMTP_MAX_LINES */
};

struct smtp_parser {
	struct smtp_reply reply;
	char *line;
	size_t linelen;
	size_t line_cap; /* bytes allocated at line, <= SMTP_MAX_LINE */
	int err;         /* sticky error */
	char bad[48];    /* printable copy of the first offending bytes */
};

/* Prepare *p; it owns no memory until bytes arrive. A parser that was used
 * must be given smtp_parser_release() before it is initialised again. */
void smtp_parser_init(struct smtp_parser *p);
/* Free the storage of *p and prepare it again (as smtp_parser_init). */
void smtp_parser_release(struct smtp_parser *p);
/* A parser on the heap (NULL: out of memory) and its release; free(NULL) alike. */
struct smtp_parser *smtp_parser_new(void);
void smtp_parser_free(struct smtp_parser *p);
/* Bytes of storage *p holds besides the struct itself. */
size_t smtp_parser_heap(const struct smtp_parser *p);
/* Feed len bytes. Returns SMTP_DONE when a whole reply is in p->reply, with
 * *consumed set to the bytes used (the rest belongs to what follows: feed it
 * again after handling the reply); SMTP_NEED_MORE when all bytes were consumed
 * without completing a reply; a negative smtp_status on error (sticky until
 * smtp_parser_release). Call smtp_parser_next() before parsing the next reply. */
int smtp_parse(struct smtp_parser *p, const uint8_t *buf, size_t len, size_t *consumed);
/* Forget the completed reply, keep no state (the storage stays): ready for the next reply. */
void smtp_parser_next(struct smtp_parser *p);
const char *smtp_status_name(int status);

/* Line i of reply r as a NUL-terminated string. */
static inline const char *smtp_line(const struct smtp_reply *r, int i)
{
	return r->text + r->off[i];
}

/* EHLO capabilities (RFC 5321 §4.1.1.1: the first line is the greeting,
 * each further line one keyword with optional parameters). */
enum smtp_cap {
	SMTP_CAP_STARTTLS = 1u << 0,
	SMTP_CAP_PIPELINING = 1u << 1,
	SMTP_CAP_SIZE = 1u << 2,
	SMTP_CAP_8BITMIME = 1u << 3,
	SMTP_CAP_SMTPUTF8 = 1u << 4,
	SMTP_CAP_CHUNKING = 1u << 5,
	SMTP_CAP_AUTH = 1u << 6,
	SMTP_CAP_ENHANCEDSTATUSCODES = 1u << 7,
	SMTP_CAP_DSN = 1u << 8,
	SMTP_CAP_REQUIRETLS = 1u << 9,
};

struct smtp_caps {
	unsigned flags;     /* SMTP_CAP_* */
	unsigned long size; /* SIZE parameter, 0 if absent */
	int stripped;       /* a STARTTLS-shaped token masked by a middlebox (e.g. XXXXXXXA) */
	char stripped_token[32];
};

/* Parse the capability lines of an EHLO reply (250 only; other codes give no caps). */
void smtp_parse_caps(const struct smtp_reply *r, struct smtp_caps *caps);
/* Is this keyword a STARTTLS masked by a middlebox? Cisco ASA/PIX "ESMTP
 * inspection" replaces every byte but the last with 'X' ("XXXXXXXA"); other
 * devices blank it to all X's or to spaces. Matches 8-byte tokens made of X's
 * with at most the last byte differing. */
int smtp_is_masked_starttls(const char *kw, size_t n);
/* Does the banner look masked (a run of >= 8 '*' or 'X' replacing the host
 * name, as some inspection devices do)? */
int smtp_banner_masked(const struct smtp_reply *r);
/* Does a reply to our STARTTLS echo the command back corrupted ("500 5.5.1
 * Command unrecognized: \"XXXXXXXX\""), i.e. it reached the server rewritten
 * by a device on the path? Looks for an 8-letter word that is not STARTTLS
 * but is masked (smtp_is_masked_starttls) or differs from it in at most two
 * letters. Copies the word to token (cap bytes) and returns 1, else 0. */
int smtp_echo_corrupted(const struct smtp_reply *r, char *token, size_t cap);

#endif
