/*
 * smap: capped string-keyed hash map and label counters (see smap.h).
 *
 * The slot index is kept at most half full and doubled when it would pass
 * that, so probes stay short; entries and values grow by doubling too, and
 * since callers hold value pointers only until their next insertion, moving
 * them with realloc is safe.
 */
#include "smap.h"

#include <stdlib.h>
#include <string.h>

#define SMAP_MIN_SLOTS 16

static uint32_t smap_hash(const char *key, size_t klen)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < klen; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	return h;
}

void smap_init(struct smap *m, size_t vsize, size_t max)
{
	memset(m, 0, sizeof(*m));
	m->vsize = vsize;
	m->max = max;
}

void smap_free(struct smap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->ents[i].key);
	free(m->slots);
	free(m->ents);
	free(m->vals);
	smap_init(m, m->vsize, m->max);
}

static size_t smap_find(const struct smap *m, const char *key, size_t klen, uint32_t h, int *found)
{
	size_t mask = m->nslots - 1, i = h & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t s = m->slots[i];
		const struct smap_ent *e;

		if (!s) {
			*found = 0;
			return i;
		}
		e = &m->ents[s - 1];
		if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
			*found = 1;
			return i;
		}
	}
}

void *smap_get(const struct smap *m, const char *key, size_t klen)
{
	int found;
	size_t i;

	if (!m->nslots)
		return NULL;
	i = smap_find(m, key, klen, smap_hash(key, klen), &found);
	return found ? smap_val(m, m->slots[i] - 1) : NULL;
}

static int smap_grow_slots(struct smap *m)
{
	size_t n = m->nslots ? m->nslots * 2 : SMAP_MIN_SLOTS;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t e = 0; e < m->n; e++) {
		size_t i = m->ents[e].hash & (n - 1);

		while (slots[i])
			i = (i + 1) & (n - 1);
		slots[i] = (uint32_t)(e + 1);
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
	return 0;
}

void *smap_put(struct smap *m, const char *key, size_t klen, int *created)
{
	uint32_t h = smap_hash(key, klen);
	struct smap_ent *e;
	int found = 0;
	size_t i = 0;
	char *copy;

	*created = 0;
	if (m->nslots) {
		i = smap_find(m, key, klen, h, &found);
		if (found)
			return smap_val(m, m->slots[i] - 1);
	}
	if ((m->max && m->n >= m->max) || m->n >= UINT32_MAX - 1 || klen > UINT32_MAX)
		return NULL;
	if ((m->n + 1) * 2 > m->nslots) {
		if (smap_grow_slots(m) < 0)
			return NULL;
		i = smap_find(m, key, klen, h, &found);
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct smap_ent *ents = realloc(m->ents, cap * sizeof(*ents));
		unsigned char *vals;

		if (!ents)
			return NULL;
		m->ents = ents;
		vals = realloc(m->vals, cap * (m->vsize ? m->vsize : 1));
		if (!vals)
			return NULL;
		m->vals = vals;
		m->cap = cap;
	}
	copy = malloc(klen + 1);
	if (!copy)
		return NULL;
	memcpy(copy, key, klen);
	copy[klen] = '\0';
	e = &m->ents[m->n];
	e->key = copy;
	e->klen = (uint32_t)klen;
	e->hash = h;
	memset(smap_val(m, m->n), 0, m->vsize);
	m->slots[i] = (uint32_t)(m->n + 1);
	m->n++;
	*created = 1;
	return smap_val(m, m->n - 1);
}

void ctr_init(struct ctr *c)
{
	smap_init(&c->m, sizeof(uint64_t), CTR_MAX_LABELS);
	c->overflow = 0;
	c->total = 0;
}

void ctr_free(struct ctr *c)
{
	smap_free(&c->m);
	ctr_init(c);
}

void ctr_addn(struct ctr *c, const char *label, size_t klen, uint64_t n)
{
	int created;
	uint64_t *v = smap_put(&c->m, label, klen, &created);

	c->total += n;
	if (v)
		*v += n;
	else
		c->overflow += n;
}

void ctr_add(struct ctr *c, const char *label)
{
	ctr_addn(c, label, strlen(label), 1);
}

uint64_t ctr_get(const struct ctr *c, const char *label)
{
	const uint64_t *v = smap_get(&c->m, label, strlen(label));

	return v ? *v : 0;
}
