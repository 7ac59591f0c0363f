/*
 * test_recq: the record writer thread and its per-producer SPSC rings.
 * A tiny ring wraps around thousands of times (inline and heap entries
 * mixed) and every unit arrives once, in order; with the writer stuck in
 * write() on a pipe nobody reads, producers still never wait: the ring fills,
 * units go to the overflow list (backlog, congestion), and all of them arrive
 * once the pipe is read; several threads, each with its own ring, into one
 * gzip file: every record once, whole, per-thread order, the records of a
 * unit adjacent and in one member; time-based members while running; a
 * failing output (/dev/full) drops and reports instead of blocking;
 * recw_write_lines' checks.
 */
#include "mxscan/recq.h"
#include "mxscan/recw.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char dir[] = "/tmp/test_recq.XXXXXX";

static const char *tpath(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Record k of unit u of thread t: sizes vary from a few bytes to past a quarter ring. */
static size_t make_rec(char *buf, size_t cap, int t, int u, int k, int big)
{
	int pad = big ? (u * 37 + k * 11) % 1500 : (u * 7 + k) % 60;
	int n = snprintf(buf, cap, "{\"t\":%d,\"u\":%d,\"k\":%d,\"pad\":\"%0*d\"}", t, u, k, pad + 1, 0);

	return (size_t)n;
}

static char *slurp_fd(int fd, size_t *len)
{
	size_t cap = 1 << 16;
	char *b = malloc(cap);

	*len = 0;
	for (;;) {
		if (cap - *len < 4096) {
			cap *= 2;
			b = realloc(b, cap);
		}
		ssize_t n = read(fd, b + *len, cap - *len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	b[*len] = 0;
	return b;
}

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	char *b;

	if (fd < 0)
		return NULL;
	b = slurp_fd(fd, len);
	close(fd);
	return b;
}

/* Check text holds, for threads 0..nt-1, units 0..nu-1 of nrec(u) records each, in
 * per-thread order, each record whole and a unit's records adjacent. */
static int nrec_of(int u)
{
	return 1 + u % 3;
}

static int check_text(const char *text, int nt, int nu, int big, char *why, size_t whylen)
{
	int *next = calloc((size_t)nt, sizeof(int)), ok_ = 1, lines = 0;
	const char *p = text;
	char want[4096];

	snprintf(why, whylen, "ok");
	while (*p && ok_) {
		int t, u, k;

		if (sscanf(p, "{\"t\":%d,\"u\":%d,\"k\":%d", &t, &u, &k) != 3 || t < 0 || t >= nt) {
			snprintf(why, whylen, "unparsable line %d", lines);
			ok_ = 0;
			break;
		}
		if (u != next[t]) {
			snprintf(why, whylen, "thread %d: unit %d, want %d (line %d)", t, u, next[t], lines);
			ok_ = 0;
			break;
		}
		for (int kk = 0; kk < nrec_of(u); kk++) {
			size_t n = make_rec(want, sizeof(want), t, u, kk, big);

			if (strncmp(p, want, n) != 0 || p[n] != '\n') {
				snprintf(why, whylen, "thread %d unit %d record %d not whole/adjacent (line %d)", t, u,
					 kk, lines);
				ok_ = 0;
				break;
			}
			p += n + 1;
			lines++;
		}
		next[t]++;
	}
	for (int t = 0; ok_ && t < nt; t++)
		if (next[t] != nu) {
			snprintf(why, whylen, "thread %d: %d units, want %d", t, next[t], nu);
			ok_ = 0;
		}
	free(next);
	return ok_;
}

static int commit_unit(struct recq_prod *p, int t, int u, int big)
{
	char buf[4096];
	int rc = 0;

	for (int k = 0; k < nrec_of(u); k++) {
		size_t n = make_rec(buf, sizeof(buf), t, u, k, big);

		if (recq_add(p, buf, n) < 0)
			rc = -1;
	}
	if (recq_commit(p) < 0)
		rc = -1;
	return rc;
}

/* One producer, a 1 KiB ring: wraparound with inline and heap entries. */
static void test_wraparound(void)
{
	const char *path = tpath("wrap.ndjson");
	struct recw_opts o = { .format = RECW_PLAIN, .flush_records = 50 };
	struct recq_opts qo = { .ring_bytes = 1024 };
	struct recw *w = recw_open(path, &o, NULL, 0);
	struct recq_stats st;
	char err[256];
	struct recq *q = recq_start(w, 1, &qo, err, sizeof(err));
	int bad = 0, nu = 5000;
	size_t len;

	ok(q != NULL, "wrap: writer started");
	struct recq_prod *pr = recq_producer(q, 0);
	for (int u = 0; u < nu; u++) {
		/* back off as the engine does, so that the ring itself (not the
		 * overflow list) carries most units */
		while (recq_pump(pr) > 0) {
			struct timespec ts = { 0, 20 * 1000 };
			nanosleep(&ts, NULL);
		}
		bad |= commit_unit(pr, 0, u, u % 10 == 0);
	}
	ok(!bad, "wrap: every commit accepted");
	is_int(recq_stop(q, &st), 0, "wrap: stop");
	is_int(recw_close(w), 0, "wrap: close");
	char *text = slurp(path, &len);
	/* units with u % 10 == 0 are big (heap entries), the others inline */
	int good = 1, lines = 0;
	const char *p = text;
	char want[4096];
	for (int u = 0; u < nu && good; u++)
		for (int k = 0; k < nrec_of(u) && good; k++, lines++) {
			size_t n = make_rec(want, sizeof(want), 0, u, k, u % 10 == 0);
			if (strncmp(p, want, n) != 0 || p[n] != '\n')
				good = 0;
			else
				p += n + 1;
		}
	ok(good && *p == 0, "wrap: %d records, in order, whole (failed at line %d)", lines, good ? -1 : lines);
	is_int(st.written, lines, "wrap: written count");
	is_int(st.dropped, 0, "wrap: nothing dropped");
	ok(st.wraps > 100, "wrap: the ring wrapped around %llu times", (unsigned long long)st.wraps);
	ok(st.overflows < (uint64_t)nu / 2, "wrap: most units went through the ring (%llu overflowed)",
	   (unsigned long long)st.overflows);
	free(text);
}

struct reader {
	int fd;
	char *text;
	size_t len;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	r->text = slurp_fd(r->fd, &r->len);
	return NULL;
}

/* The writer is stuck in write() (pipe nobody reads): producers never wait. */
static void test_stuck_writer(void)
{
	int pfd[2];
	char path[64], err[256], why[256];
	struct recw_opts o = { .format = RECW_PLAIN, .flush_records = 1 };
	struct recq_opts qo = { .ring_bytes = 4096, .backlog_max = 8192 };
	struct recq_stats st;
	struct reader rd;
	pthread_t th;
	int bad = 0, nu = 3000;

	if (pipe(pfd) < 0) {
		ok(0, "pipe");
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd[1]);
	struct recw *w = recw_open(path, &o, err, sizeof(err));
	close(pfd[1]); /* the writer has its own descriptor */
	struct recq *q = recq_start(w, 1, &qo, err, sizeof(err));
	struct recq_prod *p = recq_producer(q, 0);
	uint64_t t0 = mono_ms(), worst = 0;
	for (int u = 0; u < nu; u++) {
		uint64_t a = mono_ms();
		bad |= commit_unit(p, 0, u, 0);
		if (mono_ms() - a > worst)
			worst = mono_ms() - a;
	}
	uint64_t took = mono_ms() - t0;
	ok(!bad, "stuck: every commit accepted");
	ok(took < 2000 && worst < 200, "stuck: commits never wait for the writer (%llu ms in all, worst %llu ms)",
	   (unsigned long long)took, (unsigned long long)worst);
	ok(recq_backlog(p) > 8192 && recq_congested(p),
	   "stuck: backlog kept in the overflow list (%zu bytes), congested", recq_backlog(p));
	rd.fd = pfd[0];
	pthread_create(&th, NULL, reader_main, &rd);
	/* room frees up as the pipe is read: pumping moves the overflow into the ring */
	uint64_t until = mono_ms() + 10000;
	while (recq_pump(p) > 0 && mono_ms() < until) {
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	is_int(recq_backlog(p), 0, "stuck: backlog drains once the output moves");
	ok(!recq_congested(p), "stuck: no longer congested");
	bad = commit_unit(p, 0, nu, 0);
	ok(!bad, "stuck: commit after the drain");
	is_int(recq_stop(q, &st), 0, "stuck: stop");
	is_int(recw_close(w), 0, "stuck: close (the reader sees EOF)");
	pthread_join(th, NULL);
	close(pfd[0]);
	ok(check_text(rd.text, 1, nu + 1, 0, why, sizeof(why)), "stuck: every unit once, in order, whole (%s)", why);
	ok(st.overflows > 0, "stuck: units went through the overflow list (%llu)", (unsigned long long)st.overflows);
	free(rd.text);
}

#define NT 6
#define NU 4000

static struct recq *mt_q;

static void *producer_main(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct recq_prod *p = recq_producer(mt_q, (unsigned)t);

	for (int u = 0; u < NU; u++) {
		commit_unit(p, t, u, 0);
		if (u % 500 == 0) {
			struct timespec ts = { 0, 1000 * 1000 };
			nanosleep(&ts, NULL); /* let the writer fall asleep now and then: wake-ups */
		}
	}
	recq_finish(p);
	return NULL;
}

/* Split a gzip file into members; each member's text NUL-terminated in out[]. */
static int gz_members(const char *path, char ***out)
{
	size_t inlen, cap = 0, len = 0;
	char *in = slurp(path, &inlen), *buf = NULL;
	int n = 0, ncap = 0;
	z_stream zs;

	*out = NULL;
	memset(&zs, 0, sizeof(zs));
	if (!in || inflateInit2(&zs, 15 + 16) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)inlen;
	while (zs.avail_in > 0) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			buf = realloc(buf, cap);
		}
		zs.next_out = (Bytef *)buf + len;
		zs.avail_out = (uInt)(cap - len - 1);
		int zrc = inflate(&zs, Z_NO_FLUSH);
		len = cap - 1 - zs.avail_out;
		if (zrc == Z_STREAM_END) {
			if (n == ncap) {
				ncap = ncap ? ncap * 2 : 64;
				*out = realloc(*out, (size_t)ncap * sizeof(char *));
			}
			buf[len] = 0;
			(*out)[n++] = strdup(buf);
			len = 0;
			inflateReset(&zs);
		} else if (zrc != Z_OK) {
			n = -1;
			break;
		}
	}
	inflateEnd(&zs);
	free(in);
	free(buf);
	return n;
}

static void test_threads(void)
{
	const char *path = tpath("threads.ndjson.gz");
	struct recw_opts o = { .flush_records = 7 };
	struct recq_opts qo = { .ring_bytes = 2048 };
	struct recw *w = recw_open(path, &o, NULL, 0);
	struct recq_stats st;
	pthread_t th[NT];
	char err[256], why[256];
	char **mem = NULL;

	mt_q = recq_start(w, NT, &qo, err, sizeof(err));
	ok(mt_q != NULL, "threads: writer started with %d rings", NT);
	for (int t = 0; t < NT; t++)
		pthread_create(&th[t], NULL, producer_main, (void *)(intptr_t)t);
	for (int t = 0; t < NT; t++)
		pthread_join(th[t], NULL);
	is_int(recq_stop(mt_q, &st), 0, "threads: stop");
	int nrec = 0;
	for (int u = 0; u < NU; u++)
		nrec += nrec_of(u);
	is_int(st.written, NT * nrec, "threads: written count");
	is_int(recw_records(w), NT * nrec, "threads: recw counted them all");
	is_int(recw_close(w), 0, "threads: close");
	int n = gz_members(path, &mem);
	ok(n > 0, "threads: %d complete gzip members", n);
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += strlen(mem[i]);
	char *all = malloc(total + 1), *q = all;
	int unit_split = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(mem[i]);
		memcpy(q, mem[i], l);
		q += l;
		/* a member starts with the first record of a unit */
		int t, u, k;
		if (sscanf(mem[i], "{\"t\":%d,\"u\":%d,\"k\":%d", &t, &u, &k) != 3 || k != 0)
			unit_split++;
		free(mem[i]);
	}
	*q = 0;
	free(mem);
	ok(check_text(all, NT, NU, 0, why, sizeof(why)), "threads: every record once, whole, in order (%s)", why);
	is_int(unit_split, 0, "threads: no unit split across members");
	free(all);
}

/* Members are finished by time while the scan runs (the writer ticks). */
static void test_time_flush(void)
{
	const char *path = tpath("time.ndjson.gz");
	struct recw_opts o = { .flush_records = 100000, .flush_ms = 50 };
	struct recq_opts qo = { .tick_ms = 20 };
	struct recw *w = recw_open(path, &o, NULL, 0);
	char err[256];
	struct recq *q = recq_start(w, 1, &qo, err, sizeof(err));
	struct stat sb;

	commit_unit(recq_producer(q, 0), 0, 0, 0);
	uint64_t until = mono_ms() + 3000;
	while ((stat(path, &sb) < 0 || sb.st_size == 0) && mono_ms() < until) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	ok(sb.st_size > 0, "time: a member reached the file while running (%lld bytes)", (long long)sb.st_size);
	is_int(recq_stop(q, NULL), 0, "time: stop");
	is_int(recw_close(w), 0, "time: close");
}

/* A failing output: producers are told, records counted as dropped, stop reports it. */
static void test_failure(void)
{
	struct recw_opts o = { .format = RECW_PLAIN, .flush_records = 1 };
	char err[256];
	struct recw *w = recw_open("/dev/full", &o, err, sizeof(err));
	struct recq_stats st;

	if (!w) {
		ok(1, "# SKIP /dev/full: %s", err);
		return;
	}
	struct recq *q = recq_start(w, 1, NULL, err, sizeof(err));
	struct recq_prod *p = recq_producer(q, 0);
	int refused = 0;
	uint64_t until = mono_ms() + 3000;
	for (int u = 0; mono_ms() < until && !refused; u++) {
		refused = commit_unit(p, 0, u, 0) < 0;
		if (!refused && u > 100) {
			struct timespec ts = { 0, 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	ok(refused, "fail: commits are refused once the writer failed");
	is_int(recq_stop(q, &st), RECW_EIO, "fail: stop reports the failure");
	ok(st.dropped > 0, "fail: dropped records counted (%llu)", (unsigned long long)st.dropped);
	ok(recw_error(w) && strstr(recw_error(w), "/dev/full"), "fail: recw_error names the output (%s)",
	   recw_error(w) ? recw_error(w) : "none");
	ok(recw_close(w) < 0, "fail: close reports it too");
}

static void test_lines_api(void)
{
	const char *path = tpath("lines.ndjson");
	struct recw_opts o = { .format = RECW_PLAIN };
	struct recw *w = recw_open(path, &o, NULL, 0);
	char err[256];
	size_t len;

	is_int(recw_write_lines(w, "a\nb\n", 4), 0, "lines: two records");
	is_int(recw_write_lines(w, "a\nb", 3), RECW_EINVAL, "lines: no final newline refused");
	is_int(recw_write_lines(w, "a\n\nb\n", 5), RECW_EINVAL, "lines: empty line refused");
	is_int(recw_write_lines(w, "\n", 1), RECW_EINVAL, "lines: lone newline refused");
	is_int(recw_write_lines(w, "", 0), RECW_EINVAL, "lines: empty refused");
	is_int(recw_records(w), 2, "lines: two records counted");
	struct recq *q = recq_start(w, 1, NULL, err, sizeof(err));
	struct recq_prod *p = recq_producer(q, 0);
	is_int(recq_add(p, "x\ny", 3), RECW_EINVAL, "add: newline refused");
	is_int(recq_add(p, "", 0), RECW_EINVAL, "add: empty refused");
	is_int(recq_add(p, "c", 1), 0, "add: one record");
	is_int(recq_commit(p), 0, "commit");
	is_int(recq_commit(p), 0, "empty commit: nothing");
	is_int(recq_stop(q, NULL), 0, "stop");
	is_int(recw_close(w), 0, "close");
	char *text = slurp(path, &len);
	is_str(text, "a\nb\nc\n", "lines: file content");
	free(text);
	ok(recq_start(NULL, 1, NULL, err, sizeof(err)) == NULL, "start without an output refused");
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_lines_api();
	test_wraparound();
	test_stuck_writer();
	test_threads();
	test_time_flush();
	test_failure();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
