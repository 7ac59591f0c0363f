/*
 * blocklist: which addresses mxscan may connect to.
 *
 * A blocklist holds two kinds of CIDR entries, for IPv4 and IPv6: BL_BLOCK entries (by
 * default datasets/blocklist.conf, the IANA special-purpose registries plus multicast) and
 * BL_ALLOW entries (an optional allow-list). Like zmap, mxscan applies it twice per target:
 * when the target is read and again right before connect().
 *
 * Decision rule for an address A (bl_check):
 *   1. Among ALL entries (allow and block) that contain A, the most specific one, i.e. the
 *      longest prefix, decides: allow entry -> allowed, block entry -> refused.
 *   2. On an equal prefix length, ALLOW wins. So an explicit allow of 127.0.0.0/8 overrides
 *      the default 127.0.0.0/8 loopback block, while a block of 127.0.0.9/32 (or any longer
 *      prefix) inside that allowed /8 still refuses 127.0.0.9.
 *   3. If no entry contains A: when the blocklist holds at least one allow entry (of either
 *      family) A is refused ("not in allow-list"), otherwise A is allowed.
 *   0. Before all of this: an address inside any BL_OPTOUT entry (an opt-out request, --optout)
 *      is refused, whatever allow entry also contains it.
 * Consequence of 1-3: the allow-list widens nothing beyond itself; an address outside every
 * allow entry is refused, and one inside is still refused by a more specific block.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, RFC 4291 section 2.5.5.2) are IPv4 addresses:
 * bl_check maps them to a.b.c.d and checks the IPv4 entries only. For that reason an IPv6
 * entry lying inside ::ffff:0:0/96 (prefix length >= 96) is rejected when added; write the
 * IPv4 CIDR instead. Other embeddings (NAT64 64:ff9b::/96, 6to4 2002::/16, IPv4-compatible
 * ::/96) are ordinary IPv6 ranges, blocked wholesale by the default file.
 *
 * Lookup is a binary trie per family (one node per prefix bit, nodes in one array), so a
 * check costs at most 32 (IPv4) or 128 (IPv6) node visits whatever the number of entries,
 * and adding an entry costs at most as many node creations. A blocklist is not thread-safe
 * for writing; concurrent bl_check calls on a blocklist nobody modifies are safe.
 */
#ifndef MXSCAN_BLOCKLIST_H
#define MXSCAN_BLOCKLIST_H

#include <stddef.h>
#include <sys/socket.h>

struct blocklist;

enum bl_kind {
	BL_BLOCK = 0,
	BL_ALLOW = 1,
	BL_OPTOUT = 2, /* an opt-out request: refuses its range whatever allow entry matches */
};
#define BL_KIND_COUNT 3

/* "block" / "allow"; "?" for a value outside the enum. */
const char *bl_kind_name(enum bl_kind kind);

/* Reason given by bl_check when an allow-list exists and no entry matched. */
#define BL_NOT_ALLOWED "not in allow-list"

/* An empty blocklist (allows everything until entries are added). NULL on ENOMEM. */
struct blocklist *bl_new(void);

/* Free bl and every label it holds. NULL is a no-op. */
void bl_free(struct blocklist *bl);

/*
 * Add every entry of the file at path as kind. Line format: "CIDR [# comment]"; leading and
 * trailing blanks are ignored, blank lines and lines starting with '#' are skipped, a CRLF
 * line end is accepted. CIDR is "a.b.c.d/n" (n 0..32), "ipv6/n" (n 0..128) or a bare address
 * (a /32 or /128). The comment, trimmed, becomes the entry's label (what bl_check reports);
 * without one the label is the CIDR text.
 * Errors (the whole call fails, entries of earlier lines stay added): the file cannot be read
 * ("PATH: strerror"), or a line is invalid: not a CIDR, prefix out of range, host bits set
 * ("PATH:LINE: host bits set in '10.0.0.1/8' (network is 10.0.0.0/8)"), an entry inside
 * ::ffff:0:0/96, a NUL byte, a line longer than 4096 bytes. The message, naming PATH:LINE, is
 * written to err (always NUL-terminated when errlen > 0).
 * Returns the number of entry lines read (>= 0), or -1 on error.
 */
int bl_load_file(struct blocklist *bl, const char *path, enum bl_kind kind, char *err, size_t errlen);

/*
 * Add one entry. cidr is exactly a CIDR as accepted by bl_load_file (no blanks, no comment).
 * label (copied; NULL = the CIDR text) is what bl_check reports for this entry. Adding a CIDR
 * that is already present with the same kind keeps the first label and succeeds.
 * Returns 0, or -1 with errno EINVAL (invalid CIDR, host bits set, inside ::ffff:0:0/96) or
 * ENOMEM. bl_add_err is the same with a message in err (NUL-terminated when errlen > 0).
 */
int bl_add(struct blocklist *bl, const char *cidr, enum bl_kind kind, const char *label);
int bl_add_err(struct blocklist *bl, const char *cidr, enum bl_kind kind, const char *label, char *err, size_t errlen);

/*
 * Decide whether mxscan may connect to sa (AF_INET or AF_INET6; the port is ignored), using
 * the rule at the top of this file. Returns 1 when allowed: *why (when why is non-NULL) is
 * then the label of the allow entry that decided, or NULL if no entry matched. Returns 0 when
 * refused: *why is the deciding block entry's label, BL_NOT_ALLOWED, or "unsupported address
 * family" (sa NULL or neither AF_INET nor AF_INET6). The label stays valid until bl_free.
 */
int bl_check(const struct blocklist *bl, const struct sockaddr *sa, const char **why);

/*
 * What the command lines build: the default list (datasets/blocklist.conf next
 * to the binary, bin/../datasets, else the compiled-in data directory) or
 * block_file instead, plus opt-out files (noptout of them: BL_OPTOUT entries, which win
 * over allow entries) and allow entries, each a CIDR or a file of them (nallow of them).
 * NULL with a message naming the option and the remedy in err.
 */
struct blocklist *bl_build(const char *block_file, const char *const *allow, unsigned nallow, const char *const *optout,
			   unsigned noptout, char *err, size_t errlen);

/* Number of entries of kind (both families) in bl. */
size_t bl_count(const struct blocklist *bl, enum bl_kind kind);

#endif
