/*
 * certstore: an open-addressing set of SHA-256 fingerprints behind one mutex
 * (one insert per certificate per host, far off the hot path of probes),
 * doubling when half full.
 */
#include "mxscan/certstore.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct certstore {
	pthread_mutex_t mu;
	uint8_t (*slot)[32];
	uint8_t *used;
	size_t cap, n;
};

struct certstore *certstore_new(void)
{
	struct certstore *cs = calloc(1, sizeof(*cs));
	if (!cs)
		return NULL;
	pthread_mutex_init(&cs->mu, NULL);
	return cs;
}

void certstore_free(struct certstore *cs)
{
	if (!cs)
		return;
	pthread_mutex_destroy(&cs->mu);
	free(cs->slot);
	free(cs->used);
	free(cs);
}

static size_t home(const uint8_t h[32], size_t cap)
{
	uint64_t v;
	memcpy(&v, h, sizeof(v)); /* a SHA-256 is already uniformly spread */
	return (size_t)(v & (cap - 1));
}

static int grow(struct certstore *cs)
{
	size_t cap = cs->cap ? cs->cap * 2 : 1024;
	uint8_t(*slot)[32] = calloc(cap, 32);
	uint8_t *used = calloc(cap, 1);
	if (!slot || !used) {
		free(slot);
		free(used);
		return -1;
	}
	for (size_t i = 0; i < cs->cap; i++) {
		if (!cs->used[i])
			continue;
		size_t k = home(cs->slot[i], cap);
		while (used[k])
			k = (k + 1) & (cap - 1);
		memcpy(slot[k], cs->slot[i], 32);
		used[k] = 1;
	}
	free(cs->slot);
	free(cs->used);
	cs->slot = slot;
	cs->used = used;
	cs->cap = cap;
	return 0;
}

int certstore_add(struct certstore *cs, const uint8_t sha256[32])
{
	int ret = -1;
	pthread_mutex_lock(&cs->mu);
	if ((cs->n + 1) * 2 > cs->cap && grow(cs) < 0)
		goto out;
	size_t k = home(sha256, cs->cap);
	while (cs->used[k]) {
		if (!memcmp(cs->slot[k], sha256, 32)) {
			ret = 0;
			goto out;
		}
		k = (k + 1) & (cs->cap - 1);
	}
	memcpy(cs->slot[k], sha256, 32);
	cs->used[k] = 1;
	cs->n++;
	ret = 1;
out:
	pthread_mutex_unlock(&cs->mu);
	return ret;
}

size_t certstore_count(struct certstore *cs)
{
	pthread_mutex_lock(&cs->mu);
	size_t n = cs->n;
	pthread_mutex_unlock(&cs->mu);
	return n;
}

void certstore_base64(const uint8_t *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = t[v >> 18];
		out[o++] = t[(v >> 12) & 63];
		out[o++] = t[(v >> 6) & 63];
		out[o++] = t[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = t[v >> 18];
		out[o++] = t[(v >> 12) & 63];
		out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = 0;
}
