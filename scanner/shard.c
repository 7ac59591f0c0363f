/*
 * shard: which of N shards a target belongs to. The key is built from what
 * identifies the target (the same key the target set deduplicates on), then
 * hashed with the seed: FNV-1a over the seeded key, finished with the
 * splitmix64 mixer so that every output bit depends on every input bit. The
 * shard is the high part of hash * N (Lemire's multiply-shift), which is
 * unbiased enough for any N and costs no division.
 */
#include "mxscan/shard.h"

#include <ctype.h>
#include <netinet/in.h>
#include <string.h>

#include "mxscan/target.h"

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t shard_hash(const struct target *t, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ull ^ mix64(seed + 0x9e3779b97f4a7c15ull);
	unsigned char tag;
	if (t->has_addr && t->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&t->addr;
		tag = 4;
		h = fnv(h, &tag, 1);
		h = fnv(h, &sin->sin_addr, 4);
	} else if (t->has_addr && t->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&t->addr;
		tag = 6;
		h = fnv(h, &tag, 1);
		h = fnv(h, &sin6->sin6_addr, 16);
	} else {
		/* names compare case-insensitively (DNS, RFC 4343) */
		tag = 'n';
		h = fnv(h, &tag, 1);
		for (size_t i = 0; i < sizeof(t->host) && t->host[i]; i++) {
			unsigned char c = (unsigned char)tolower((unsigned char)t->host[i]);
			h = fnv(h, &c, 1);
		}
	}
	unsigned char port[2] = { (unsigned char)(t->port >> 8), (unsigned char)t->port };
	h = fnv(h, port, 2);
	return mix64(h);
}

unsigned shard_of(const struct target *t, unsigned shards, uint64_t seed)
{
	if (shards <= 1)
		return 0;
	return (unsigned)(((unsigned __int128)shard_hash(t, seed) * shards) >> 64);
}
