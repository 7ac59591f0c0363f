// fuzz-sources: scanner/target.c
/*
 * fuzz_target: arbitrary bytes through target_parse_line().
 *
 * Checks, aborting on any violation: the result is -1, 0 or 1; on -1 the message is a
 * NUL-terminated string that fits the buffer; on 1 every field is NUL-terminated and within
 * its documented limits, an IP target's sockaddr agrees with its host text, and the target
 * printed back in a canonical form parses to the same target (round trip). The parsed target
 * is also added twice to a fresh set: the second add must be a duplicate.
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_target.c
 * scanner/target.c
 */
#include "mxscan/target.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                    \
	do {                                                                                        \
		if (!(c)) {                                                                         \
			fprintf(stderr, "fuzz_target: check failed: %s (line %d)\n", #c, __LINE__); \
			abort();                                                                    \
		}                                                                                   \
	} while (0)

static size_t bounded_len(const char *s, size_t cap)
{
	const char *z = memchr(s, '\0', cap);

	CHECK(z != NULL);
	return (size_t)(z - s);
}

static void check_fields(const struct target *t)
{
	size_t hl = bounded_len(t->host, sizeof t->host);
	size_t sl = bounded_len(t->sni, sizeof t->sni);
	size_t tl = bounded_len(t->tag, sizeof t->tag), i;

	CHECK(hl > 0 && hl <= 253);
	CHECK(sl <= 253);
	CHECK(tl <= 63);
	for (i = 0; i < tl; i++)
		CHECK(t->tag[i] >= 0x20 && t->tag[i] < 0x7f && t->tag[i] != ',');
	if (t->has_addr) {
		char text[INET6_ADDRSTRLEN];
		const void *a;

		if (t->addr.ss_family == AF_INET) {
			CHECK(t->addrlen == sizeof(struct sockaddr_in));
			a = &((const struct sockaddr_in *)(const void *)&t->addr)->sin_addr;
			CHECK(((const struct sockaddr_in *)(const void *)&t->addr)->sin_port == 0);
		} else {
			CHECK(t->addr.ss_family == AF_INET6);
			CHECK(t->addrlen == sizeof(struct sockaddr_in6));
			a = &((const struct sockaddr_in6 *)(const void *)&t->addr)->sin6_addr;
			CHECK(!IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a));
		}
		CHECK(inet_ntop(t->addr.ss_family, a, text, sizeof text) != NULL);
		CHECK(strcmp(text, t->host) == 0);
	} else {
		/* A host name: LDH only, no trailing dot. */
		for (i = 0; i < hl; i++) {
			char c = t->host[i];

			CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '.');
		}
		CHECK(t->host[hl - 1] != '.');
	}
}

/* Print t in a canonical form that must parse back to the same target. */
static int canonical(const struct target *t, char *buf, size_t len)
{
	const char *h = t->host;
	int v6 = t->has_addr && t->addr.ss_family == AF_INET6;

	if (t->sni[0] || t->tag[0]) {
		if (t->port == 0)
			return snprintf(buf, len, "%s,%s,%s", t->has_addr ? h : "", t->sni, t->tag);
		return snprintf(buf, len, "%s,%s,%s,%u", t->has_addr ? h : "", t->sni, t->tag, t->port);
	}
	if (t->port == 0)
		return snprintf(buf, len, "%s", h);
	return snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", h, t->port);
}

static int same(const struct target *a, const struct target *b)
{
	return strcmp(a->host, b->host) == 0 && strcmp(a->sni, b->sni) == 0 && strcmp(a->tag, b->tag) == 0 &&
	       a->port == b->port && a->has_addr == b->has_addr && a->addrlen == b->addrlen &&
	       (!a->has_addr || memcmp(&a->addr, &b->addr, a->addrlen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct target t, u;
	char err[128], line[1200];
	int r, n;

	memset(err, 'Z', sizeof err);
	r = target_parse_line((const char *)data, size, &t, err, sizeof err);
	CHECK(r == -1 || r == 0 || r == 1);
	if (r == -1) {
		CHECK(bounded_len(err, sizeof err) > 0);
		return 0;
	}
	if (r == 0)
		return 0;
	check_fields(&t);
	CHECK(t.line == 0);

	n = canonical(&t, line, sizeof line);
	CHECK(n > 0 && (size_t)n < sizeof line);
	r = target_parse_line(line, (size_t)n, &u, err, sizeof err);
	if (r != 1 || !same(&t, &u)) {
		fprintf(stderr, "fuzz_target: round trip failed for '%s' (r=%d, err=%s)\n", line, r, r < 0 ? err : "-");
		abort();
	}

	{
		struct target_set *set = ts_new();

		CHECK(set != NULL);
		CHECK(ts_add(set, &t) == 1);
		CHECK(ts_add(set, &u) == 0);
		CHECK(ts_count(set) == 1 && ts_dups(set) == 1);
		CHECK(same(ts_get(set, 0), &t));
		ts_free(set);
	}
	return 0;
}
