/*
 * smap: a hash map from byte-string keys to fixed-size values, with a cap.
 *
 * Open addressing (linear probing, FNV-1a) over an index of slots; entries
 * are kept densely in insertion order so they can be walked and sorted. Each
 * key is copied (NUL-terminated). A map refuses new keys past its cap, so a
 * stream of hostile records cannot grow it without bound: counters send the
 * excess to a single "(other)" bucket instead (struct ctr).
 */
#ifndef MXREPORT_SMAP_H
#define MXREPORT_SMAP_H

#include <stddef.h>
#include <stdint.h>

struct smap_ent {
	char *key;
	uint32_t klen;
	uint32_t hash;
};

struct smap {
	size_t vsize; /* bytes of one value */
	size_t max;   /* most keys accepted (0: no cap) */
	size_t n;     /* keys held */
	size_t cap;   /* entries allocated */
	size_t nslots;
	uint32_t *slots; /* entry index + 1, 0 = free */
	struct smap_ent *ents;
	unsigned char *vals;
};

/* Initialise an empty map of values of vsize bytes, holding at most max keys (0: no cap). */
void smap_init(struct smap *m, size_t vsize, size_t max);
void smap_free(struct smap *m);

/* The value of key, or NULL. */
void *smap_get(const struct smap *m, const char *key, size_t klen);
/*
 * The value of key, inserted zero-filled when absent (*created set to 1).
 * NULL when the map is full (cap reached) or memory ran out.
 */
void *smap_put(struct smap *m, const char *key, size_t klen, int *created);

/* Entry i (0 <= i < m->n), in insertion order. */
static inline const char *smap_key(const struct smap *m, size_t i)
{
	return m->ents[i].key;
}
static inline void *smap_val(const struct smap *m, size_t i)
{
	return m->vals + i * m->vsize;
}

/* A counter of labels: a capped smap of uint64_t plus the count of what did not fit. */
struct ctr {
	struct smap m;
	uint64_t overflow; /* counts of labels refused by the cap */
	uint64_t total;    /* sum of every count added */
};

#define CTR_MAX_LABELS 4096

void ctr_init(struct ctr *c);
void ctr_free(struct ctr *c);
/* Add n to label (klen bytes). */
void ctr_addn(struct ctr *c, const char *label, size_t klen, uint64_t n);
/* Add 1 to a NUL-terminated label. */
void ctr_add(struct ctr *c, const char *label);
/* The count of label (0 when never added). */
uint64_t ctr_get(const struct ctr *c, const char *label);

#endif
