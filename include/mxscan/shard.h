/*
 * shard: a deterministic partition of the targets for multi-machine scans
 * (--shards N --shard i --seed S), as zmap's sharding does.
 *
 * Each target's key (its address and port for IP targets, the lower-cased
 * name and port for names and mail domains) is hashed with the seed; the hash
 * picks the shard. The partition depends only on the key, N and S, never on
 * the order or the other lines of the input, so N processes given the same
 * input (or any mix of files holding the same targets) and the same seed scan
 * disjoint sets whose union is the whole input.
 */
#ifndef MXSCAN_SHARD_H
#define MXSCAN_SHARD_H

#include <stdint.h>

struct target;

/* 64-bit keyed hash of the target's key (see above). */
uint64_t shard_hash(const struct target *t, uint64_t seed);
/* The shard (0..shards-1) the target belongs to; 0 when shards <= 1. */
unsigned shard_of(const struct target *t, unsigned shards, uint64_t seed);

#endif
