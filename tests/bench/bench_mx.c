/*
 * bench_mx: how fast mx_resolve turns domains into MX hosts and addresses, and whether any
 * lookup is lost, against the DNS server given (scripts/bench-mx.sh starts knot for it).
 *
 *   bench_mx IP:port COUNT SUFFIX INFLIGHT...
 *
 * Resolves d0.SUFFIX .. d<COUNT-1>.SUFFIX once as a warm-up, then once per INFLIGHT value (A and AAAA, timeout 2 s,
 * 2 tries) and prints one line per run. Checks that every domain got status ok, one MX and
 * an address; exits 1 when a lookup was lost or a domain came back wrong.
 */
#include "mxscan/mx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	const char *servers[2];
	size_t n, i, bad;
	struct mx_domain *d;
	int a, rc = 0;

	if (argc < 5) {
		fprintf(stderr, "usage: bench_mx IP:port COUNT SUFFIX INFLIGHT...\n");
		return 2;
	}
	servers[0] = argv[1];
	servers[1] = NULL;
	n = strtoul(argv[2], NULL, 10);
	d = calloc(n, sizeof *d);
	if (!d) {
		fprintf(stderr, "bench_mx: cannot allocate %zu domains (%zu bytes each)\n", n, sizeof *d);
		return 2;
	}
	printf("bench-mx: %zu domains, struct mx_domain is %zu bytes (%.1f MB), an MX entry %zu bytes\n", n, sizeof *d,
	       (double)n * (double)sizeof *d / 1e6, sizeof(struct mx_ref));
	/* Argument 3 is a warm-up: the first run also pays for the first touch of the output pages. */
	for (a = 3; a < argc; a++) {
		unsigned inflight = (unsigned)strtoul(argv[a == 3 ? 4 : a], NULL, 10);
		struct mx_stats st;
		struct rusage ru;
		struct mx_store *store = mx_store_new();
		size_t bytes;
		int r;

		if (!store)
			return 2;
		memset(d, 0, n * sizeof *d);
		for (i = 0; i < n; i++) {
			char name[300];
			int len = snprintf(name, sizeof name, "d%zu.%s", i, argv[3]);

			d[i].domain = mx_store_str(store, name, (size_t)len);
			if (!d[i].domain)
				return 2;
		}
		r = mx_resolve(store, d, n, servers, 2000, 2, inflight, AF_UNSPEC, &st, stderr);
		if (r != 0)
			return 2;
		for (i = 0, bad = 0; i < n; i++)
			if (d[i].status != MXS_OK || d[i].nmx != 1 || !d[i].mx[0].host || d[i].mx[0].host->naddr < 1)
				bad++;
		bytes = mx_store_bytes(store);
		mx_store_free(store);
		getrusage(RUSAGE_SELF, &ru);
		printf("%sinflight %4u (peak %4zu): %7zu domains in %6.3f s = %8.0f domains/s, %7zu queries "
		       "(%8.0f q/s), %zu answers, %zu retries, lost %zu, %zu distinct hosts, %zu wrong, store %.1f MB, "
		       "max RSS %ld MB\n",
		       a == 3 ? "(warm-up) " : "", st.inflight, st.peak_inflight, st.domains, st.seconds,
		       (double)st.domains / st.seconds, st.queries, (double)st.queries / st.seconds, st.answers,
		       st.retries, st.lost, st.hosts, bad, (double)bytes / 1e6, ru.ru_maxrss / 1024);
		fflush(stdout);
		if (st.lost || bad)
			rc = 1;
	}
	free(d);
	return rc;
}
