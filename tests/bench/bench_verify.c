/*
 * bench_verify: how fast verify_chain is, and what it costs in memory. Built and run by
 * scripts/bench-verify.sh (not a test: it prints figures and asserts nothing but the verdicts
 * it measures).
 *
 *   bench_verify ROOTS.pem CHAIN.pem LEAF.pem [SECONDS]
 *
 * ROOTS is loaded once (the index). CHAIN (leaf + intermediate, issued under one of ROOTS) is
 * verified for SECONDS in one thread, then in two threads sharing the index; LEAF (the same
 * leaf without its intermediate: code 20, no signature work) likewise in one thread. For
 * comparison, the RECIPES §1.5 baseline: a fresh CertManager loading the whole bundle per
 * chain. Memory: growth of RSS and of the heap in use (mallinfo2) over each loop of thousands
 * of verifications, after a warm-up: what one verification leaves behind (it should be 0);
 * and wolfSSL's own heap (counted through wolfSSL_SetAllocators) at its peak during one.
 */
#include "mxscan/verify.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/memory.h>
#include <stdatomic.h>

/* wolfSSL's allocations, counted (a 16-byte header keeps each block's size). */
static atomic_llong wolf_now, wolf_peak;

static void wolf_count(long long delta)
{
	long long now = atomic_fetch_add(&wolf_now, delta) + delta, peak = atomic_load(&wolf_peak);
	while (now > peak && !atomic_compare_exchange_weak(&wolf_peak, &peak, now))
		;
}

static void *wolf_malloc(size_t size)
{
	size_t *p = malloc(size + 16);
	if (!p)
		return NULL;
	*p = size;
	wolf_count((long long)size);
	return (char *)p + 16;
}

static void wolf_free(void *ptr)
{
	if (!ptr)
		return;
	size_t *p = (size_t *)((char *)ptr - 16);
	wolf_count(-(long long)*p);
	free(p);
}

static void *wolf_realloc(void *ptr, size_t size)
{
	if (!ptr)
		return wolf_malloc(size);
	size_t *p = (size_t *)((char *)ptr - 16), old = *p;
	size_t *q = realloc(p, size + 16);
	if (!q)
		return NULL;
	*q = size;
	wolf_count((long long)size - (long long)old);
	return (char *)q + 16;
}

struct chain {
	size_t n;
	uint8_t *der[4];
	size_t len[4];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static int load_chain(const char *path, struct chain *c)
{
	static const char b[] = "-----BEGIN CERTIFICATE-----", e[] = "-----END CERTIFICATE-----";
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 1 << 20);
	memset(c, 0, sizeof(*c));
	if (!f || !text) {
		fprintf(stderr, "bench_verify: cannot read %s\n", path);
		exit(2);
	}
	size_t tl = fread(text, 1, (1 << 20) - 1, f);
	text[tl] = 0;
	fclose(f);
	for (char *p = text; (p = strstr(p, b)) && c->n < 4;) {
		char *q = strstr(p, e);
		if (!q)
			break;
		size_t blen = (size_t)(q - p) + sizeof e - 1;
		c->der[c->n] = malloc(blen);
		int dlen = wc_CertPemToDer((const unsigned char *)p, (int)blen, c->der[c->n], (int)blen, CERT_TYPE);
		c->len[c->n++] = dlen > 0 ? (size_t)dlen : 0;
		p = q + sizeof e - 1;
	}
	free(text);
	return c->n ? 0 : -1;
}

struct job {
	const struct verify_roots *roots;
	const struct chain *c;
	double secs;
	long count;
	int code;
};

static void *loop(void *arg)
{
	struct job *j = arg;
	struct verify_result *r = malloc(sizeof(*r));
	double t0 = now_s(), t;
	j->count = 0;
	do {
		for (int i = 0; i < 64; i++) {
			verify_chain(j->roots, (const uint8_t *const *)j->c->der, j->c->len, j->c->n,
				     "mx1.example.test", "example.test", 0, r);
			j->code = r->code;
		}
		j->count += 64;
		t = now_s() - t0;
	} while (t < j->secs);
	j->secs = t;
	free(r);
	return NULL;
}

static void measure(const char *label, const struct verify_roots *roots, const struct chain *c, double secs,
		    int threads)
{
	struct job jobs[8];
	pthread_t th[8];
	long rss0 = rss_kib();
	size_t heap0 = heap_in_use();
	long total = 0;
	double wall = 0;
	for (int i = 0; i < threads; i++)
		jobs[i] = (struct job){ .roots = roots, .c = c, .secs = secs };
	if (threads == 1) { /* in this thread: a new thread's stack would show up as RSS */
		loop(&jobs[0]);
	} else {
		for (int i = 0; i < threads; i++)
			pthread_create(&th[i], NULL, loop, &jobs[i]);
		for (int i = 0; i < threads; i++)
			pthread_join(th[i], NULL);
	}
	for (int i = 0; i < threads; i++) {
		total += jobs[i].count;
		if (jobs[i].secs > wall)
			wall = jobs[i].secs;
	}
	long rss1 = rss_kib();
	size_t heap1 = heap_in_use();
	printf("%-40s %d thread%s code %2d %8.0f/s %6.1f us each | RSS %+ld KiB, heap in use %+lld B after %ld\n",
	       label, threads, threads > 1 ? "s" : " ", jobs[0].code, (double)total / wall,
	       1e6 * wall * threads / (double)total, rss1 - rss0, (long long)heap1 - (long long)heap0, total);
}

/* RECIPES §1.5 baseline: the whole bundle into a fresh CertManager for every chain. */
static void baseline(const char *bundle, const struct chain *c, double secs)
{
	double t0 = now_s(), t;
	long count = 0;
	int r = 0;
	do {
		WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
		wolfSSL_CertManagerLoadCA(cm, bundle, NULL);
		for (size_t i = c->n; i-- > 0;) {
			r = wolfSSL_CertManagerVerifyBuffer(cm, c->der[i], (long)c->len[i], WOLFSSL_FILETYPE_ASN1);
			if (i > 0 && r == WOLFSSL_SUCCESS)
				wolfSSL_CertManagerLoadCABuffer(cm, c->der[i], (long)c->len[i], WOLFSSL_FILETYPE_ASN1);
		}
		wolfSSL_CertManagerFree(cm);
		count++;
		t = now_s() - t0;
	} while (t < secs);
	printf("%-40s 1 thread  wolf %2d %8.0f/s %6.1f us each\n", "baseline: whole bundle in a fresh CM", r,
	       (double)count / t, 1e6 * t / (double)count);
}

int main(int argc, char **argv)
{
	char err[256];
	struct chain full, leaf;
	if (argc < 4) {
		fprintf(stderr, "usage: bench_verify ROOTS.pem CHAIN.pem LEAF.pem [SECONDS]\n");
		return 2;
	}
	double secs = argc > 4 ? atof(argv[4]) : 2.0;
	if (load_chain(argv[2], &full) < 0 || load_chain(argv[3], &leaf) < 0) {
		fprintf(stderr, "bench_verify: no certificate in %s or %s\n", argv[2], argv[3]);
		return 2;
	}
	wolfSSL_SetAllocators(wolf_malloc, wolf_free, wolf_realloc);
	long rss0 = rss_kib();
	size_t heap0 = heap_in_use();
	double t0 = now_s();
	struct verify_roots *roots = verify_roots_load(argv[1], err, sizeof err);
	double tl = now_s() - t0;
	if (!roots) {
		fprintf(stderr, "bench_verify: %s\n", err);
		return 2;
	}
	printf("index: %zu roots from %s in %.1f ms, heap +%zu KiB, RSS %+ld KiB\n", verify_roots_count(roots), argv[1],
	       tl * 1e3, (heap_in_use() - heap0) / 1024, rss_kib() - rss0);

	/* Warm-up (first-use allocations inside wolfSSL and libc). */
	struct job warm = { .roots = roots, .c = &full, .secs = 0.2 };
	loop(&warm);
	{
		struct verify_result *r = malloc(sizeof(*r));
		long long base = atomic_load(&wolf_now);
		atomic_store(&wolf_peak, base);
		verify_chain(roots, (const uint8_t *const *)full.der, full.len, full.n, "mx1.example.test", NULL, 0, r);
		printf("one verification (code %d): wolfSSL heap peak %lld B, left allocated %lld B; result struct %zu B (caller's)\n",
		       r->code, atomic_load(&wolf_peak) - base, atomic_load(&wolf_now) - base, sizeof(*r));
		free(r);
	}
	measure("leaf + intermediate (ok, 2 signatures)", roots, &full, secs, 1);
	measure("leaf + intermediate (ok, 2 signatures)", roots, &full, secs, 2);
	measure("leaf alone (20, chain building only)", roots, &leaf, secs, 1);
	baseline(argv[1], &full, secs);

	for (size_t i = 0; i < full.n; i++)
		free(full.der[i]);
	for (size_t i = 0; i < leaf.n; i++)
		free(leaf.der[i]);
	verify_roots_free(roots);
	return 0;
}
