/*
 * target: what mxscan is asked to scan, parsed from input lines, and a deduplicating set.
 *
 * Accepted line forms (one target per line; blanks around the line and around CSV fields are
 * trimmed, a CRLF line end is accepted):
 *   192.0.2.7              IPv4 literal (strict dotted quad: no octal, hex or short forms)
 *   192.0.2.7:2525         IPv4 literal and port
 *   2001:db8::1            IPv6 literal (no port: every colon belongs to the address)
 *   [2001:db8::1]:25       IPv6 literal in brackets, with optional ":port"
 *   mx1.example.net        host name: LDH labels of 1..63 bytes, no leading or trailing
 *                          hyphen, total <= 253 bytes; one trailing dot is stripped;
 *                          no underscore; the last label may not be all digits
 *   mx1.example.net:587    host name and port
 *   ip,name[,tag[,port]]   zgrab2-style CSV: scan ip presenting name (sni = name). name may
 *                          be empty (no SNI); ip may be empty if name is not (then the name is
 *                          the host, resolved like a plain host name); tag <= 63 printable
 *                          bytes (no comma); port empty or 1..65535.
 * A port is 1..65535 in plain decimal. An IPv4-mapped IPv6 literal (::ffff:a.b.c.d) is stored
 * as the IPv4 address it maps to. Lines whose first non-blank byte is '#' are comments, and so
 * is the rest of a line from a '#' that follows a blank ("mx1.example.net  # primary").
 * A line longer than TARGET_MAX_LINE bytes, or containing a NUL byte, is an error.
 */
#ifndef MXSCAN_TARGET_H
#define MXSCAN_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define TARGET_MAX_LINE 1024
#define TARGET_HOST_MAX 256
#define TARGET_TAG_MAX  64

struct target {
	/* Host name as given (trailing dot stripped, case kept), or the canonical text of the IP
	 * address (inet_ntop form, IPv6 without brackets). Never empty for a parsed target. */
	char host[TARGET_HOST_MAX];
	/* MX name to present in SNI and to check the certificate against; "" if unknown. */
	char sni[TARGET_HOST_MAX];
	char tag[TARGET_TAG_MAX];     /* free-form tag from CSV input; "" if none */
	uint16_t port;                /* 0 = the scan mode's default port */
	struct sockaddr_storage addr; /* valid when has_addr; its port is always 0 */
	socklen_t addrlen;
	int has_addr;  /* host is an IP literal (or resolve_targets filled it) */
	unsigned line; /* 1-based input line number; 0 if not from a file */
	unsigned rank; /* from a ranked list ("rank,domain"), 0 if none */
};

/*
 * Parse one input line of len bytes (need not be NUL-terminated; a trailing "\n" or "\r\n" is
 * accepted). On 1, *t is completely (re)initialised with line = 0. On -1, err holds a message
 * without the file name or line number (always NUL-terminated when errlen > 0) and *t is
 * unspecified.
 * Returns 1 parsed, 0 blank or comment line, -1 invalid line.
 */
int target_parse_line(const char *line, size_t len, struct target *t, char *err, size_t errlen);

/*
 * A set of targets in insertion order, deduplicated by (address, port) for IP targets and by
 * (host name compared case-insensitively, port) for host-name targets. Port 0 ("default") and
 * an explicit port are different keys. A duplicate is counted and dropped: the first target
 * wins even when the duplicate carries a different sni or tag. Memory grows in fixed chunks,
 * so adding never moves stored targets and ts_get pointers stay valid until ts_free; dedupe is
 * an open-addressing hash table, O(1) per add.
 */
struct target_set;

/* An empty set. NULL on ENOMEM. */
struct target_set *ts_new(void);
/* Free the set and its targets. NULL is a no-op. */
void ts_free(struct target_set *set);
/*
 * Copy *t into the set unless a target with the same key is already there.
 * Returns 1 added, 0 duplicate (counted in ts_dups, not stored), -1 ENOMEM or invalid target
 * (empty host, or has_addr with a family other than AF_INET/AF_INET6).
 */
int ts_add(struct target_set *set, const struct target *t);

/* A numeric IPv4 or IPv6 address (no port, no brackets) into ss, port 0. 0, or -1 when s is
 * not one. */
int addr_parse(const char *s, struct sockaddr_storage *ss);
/* An address of 4 bytes (v6 = 0) or 16 bytes (v6 = 1) at a into ss (zeroed first, port 0);
 * returns the length of the sockaddr (sockaddr_in or sockaddr_in6). */
socklen_t addr_to_sockaddr(int v6, const uint8_t *a, struct sockaddr_storage *ss);
/* Number of stored (distinct) targets. */
/* ts_add that also gives the index of the target in the set (the existing
 * one for a duplicate). */
int ts_add_idx(struct target_set *set, const struct target *t, size_t *idx);
size_t ts_count(const struct target_set *set);
/* Index of the stored target with the same key as *t, or -1 when there is none. */
long ts_find(const struct target_set *set, const struct target *t);
/* The i-th stored target in insertion order, or NULL when i >= ts_count. */
const struct target *ts_get(const struct target_set *set, size_t i);
/* Number of duplicates dropped so far. */
size_t ts_dups(const struct target_set *set);

/*
 * Read targets from f, one per line, and ts_add each parsed one with line set to its line
 * number. name is used in messages only. Every invalid line is reported on errs (if non-NULL)
 * as "name:LINE: message" and counted in *bad_lines (if non-NULL; incremented, not reset).
 * Non-strict: bad lines are skipped and reading goes on. Strict: reading stops at the first
 * bad line. A UTF-8 byte order mark at the start of the file is skipped. Over-long lines are
 * consumed without being stored whole, so memory is bounded whatever the input.
 * Returns 0 at end of input, -1 on a bad line in strict mode, a read error or ENOMEM (the last
 * two also reported on errs).
 */
int ts_read_file(struct target_set *set, FILE *f, const char *name, int strict, unsigned *bad_lines, FILE *errs);

/*
 * ts_read_file that also accepts JSON lines: a line whose first non-blank byte is '{' (up to
 * TS_JSON_MAX_LINE bytes) is handed to json(arg, line, len, lineno, err, errlen) instead of
 * the target parser, from its '{' to its end (line end removed), line[len] writable. json returns 0 when
 * the line was taken, -1 with a message in err when it is invalid (reported and counted like
 * any bad line); -2 with a message stops reading (out of memory). With json NULL,
 * such lines are invalid.
 */
#define TS_JSON_MAX_LINE (256u * 1024u)
typedef int (*ts_json_fn)(void *arg, char *line, size_t len, unsigned lineno, char *err, size_t errlen);
int ts_read_file_json(struct target_set *set, FILE *f, const char *name, int strict, unsigned *bad_lines, FILE *errs,
		      ts_json_fn json, void *arg);

#endif
