/*
 * certstore: each certificate once per scan. Providers serve one chain on
 * thousands of IPs; host records carry the parsed fields and the SHA-256, and
 * the DER itself is written once, in a "certificate" record, the first time
 * any host shows it. A set of seen fingerprints shared by all worker threads.
 */
#ifndef MXSCAN_CERTSTORE_H
#define MXSCAN_CERTSTORE_H

#include <stddef.h>
#include <stdint.h>

struct certstore;

struct certstore *certstore_new(void);
void certstore_free(struct certstore *cs);
/* 1 when sha256 (32 bytes) was not seen before (and is now), 0 when it was,
 * -1 when out of memory (the caller then writes the DER again: never lost). */
int certstore_add(struct certstore *cs, const uint8_t sha256[32]);
size_t certstore_count(struct certstore *cs);

/* Standard base64 of n bytes into out (needs 4 * ((n + 2) / 3) + 1 bytes). */
void certstore_base64(const uint8_t *in, size_t n, char *out);

#endif
