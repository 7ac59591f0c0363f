/*
 * Stores for the mx tests: a fresh mx_store for each mx_resolve call, the
 * results of earlier calls readable until freestores() at the end.
 * Included by test_mx.c and test_mx_live.c (one translation unit each).
 */
#ifndef MXSCAN_TEST_MXSTORES_H
#define MXSCAN_TEST_MXSTORES_H

#include <stdlib.h>

#include "mxscan/mx.h"

static struct mx_store *store; /* names, MX lists and exchanges of the current test */
static struct mx_store *stores[64];
static int nstores;

static struct mx_store *newstore(void)
{
	store = mx_store_new();
	if (!store || nstores == 64)
		abort();
	stores[nstores++] = store;
	return store;
}

static void freestores(void)
{
	while (nstores > 0)
		mx_store_free(stores[--nstores]);
}

#endif
