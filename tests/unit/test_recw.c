/*
 * test_recw: the record writer leaves files that gzip tools read. Round trip
 * through zlib's gzgets over many members; a writer killed with SIGKILL
 * leaves exactly its finished members (no error, no half record); plain
 * files and line-buffered stdout; append makes a multi-member file and
 * repairs a torn end; '\n' in a record is rejected; time-based flush; the
 * 8 MiB member cap; ENOSPC and EPIPE become return values; concurrent writers
 * never interleave records.
 */
#include "mxscan/recw.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char dir[] = "/tmp/test_recw.XXXXXX";

static const char *tpath(const char *name)
{
	static char p[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void record(char *buf, size_t len, int i)
{
	snprintf(buf, len, "{\"type\":\"host\",\"i\":%d,\"pad\":\"%0*d\"}", i, 20 + i % 13, i);
}

static char *slurp(const char *path, size_t *len)
{
	struct stat st;
	char *b = NULL;
	int fd = open(path, O_RDONLY);

	*len = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && (b = malloc((size_t)st.st_size + 1)) != NULL) {
		*len = (size_t)read(fd, b, (size_t)st.st_size);
		b[*len] = '\0';
	}
	close(fd);
	return b;
}

/*
 * Inflate every member of a gzip file, as gzip -t does. Returns the
 * decompressed text (NUL-terminated) or NULL when any member is torn or
 * corrupt or anything follows the last member; *members counts them.
 */
static char *gunzip_strict(const char *path, int *members, size_t *outlen)
{
	size_t inlen, cap = 1 << 16, len = 0;
	char *in = slurp(path, &inlen), *out = malloc(cap);
	z_stream zs;
	int zrc, bad = 0, in_member = 0;

	*members = 0;
	memset(&zs, 0, sizeof(zs));
	if (!in || !out || inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(in);
		free(out);
		return NULL;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)inlen;
	for (;;) {
		if (cap - len < 4096) {
			cap *= 2;
			out = realloc(out, cap);
		}
		zs.next_out = (Bytef *)out + len;
		zs.avail_out = (uInt)(cap - len - 1);
		zrc = inflate(&zs, Z_NO_FLUSH);
		len = cap - 1 - zs.avail_out;
		if (zrc == Z_STREAM_END) {
			(*members)++;
			in_member = 0;
			inflateReset(&zs);
			if (zs.avail_in == 0)
				break;
			continue;
		}
		if (zrc == Z_BUF_ERROR && zs.avail_in == 0)
			break; /* input exhausted */
		if (zrc != Z_OK) {
			bad = 1; /* corrupt member or bytes after the last member */
			break;
		}
		in_member = 1;
		if (zs.avail_in == 0 && zs.avail_out != 0)
			break;
	}
	if (in_member)
		bad = 1; /* input ended inside a member: torn */
	inflateEnd(&zs);
	free(in);
	if (bad) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	*outlen = len;
	return out;
}

/* Check text is exactly records first..first+n-1, one per line. */
static int lines_are(const char *text, int first, int n)
{
	char want[256];
	const char *p = text;
	int i;

	for (i = first; i < first + n; i++) {
		size_t l;

		record(want, sizeof(want), i);
		l = strlen(want);
		if (strncmp(p, want, l) != 0 || p[l] != '\n')
			return 0;
		p += l + 1;
	}
	return *p == '\0';
}

static int write_records(struct recw *w, int first, int n)
{
	char buf[256];
	int i, rc;

	for (i = first; i < first + n; i++) {
		record(buf, sizeof(buf), i);
		rc = recw_write(w, buf, strlen(buf));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int)st.st_size : -1;
}

static void test_roundtrip(void)
{
	const char *path = tpath("round.ndjson.gz");
	struct recw_opts o = { .flush_records = 10 };
	char err[256], line[256], want[256];
	struct recw *w = recw_open(path, &o, err, sizeof(err));
	int n = 0, good = 1, members;
	size_t len;
	gzFile gz;
	char *text;
	uint64_t bytes;

	ok(w != NULL, "open %s", path);
	if (!w) {
		diag("%s", err);
		return;
	}
	is_int(write_records(w, 0, 95), 0, "95 records written");
	ok(file_size(path) > 0, "members already on disk before close (flush_records 10)");
	is_int(recw_records(w), 95, "recw_records counts accepted records");
	bytes = recw_bytes(w);
	is_int(recw_close(w), 0, "close");
	ok(bytes > 0 && bytes < (uint64_t)file_size(path), "recw_bytes grows with members");

	gz = gzopen(path, "rb");
	ok(gz != NULL, "gzopen");
	while (gz && gzgets(gz, line, sizeof(line))) {
		record(want, sizeof(want), n);
		strcat(want, "\n");
		if (strcmp(line, want) != 0) {
			good = 0;
			diag("line %d: %s", n, line);
		}
		n++;
	}
	if (gz)
		gzclose(gz);
	is_int(n, 95, "gzgets reads back every record across members");
	ok(good, "records read back in order, byte for byte");

	text = gunzip_strict(path, &members, &len);
	ok(text && lines_are(text, 0, 95), "strict multi-member inflate succeeds");
	is_int(members, 10, "one member per 10 records, the last one partial");
	free(text);
}

static void test_crash(void)
{
	const char *path = tpath("crash.ndjson.gz");
	int status, members = -1, gzip_rc;
	size_t len;
	char *text, cmd[400];
	pid_t pid = fork();

	if (pid == 0) {
		struct recw_opts o = { .flush_records = 10 };
		struct recw *w = recw_open(path, &o, NULL, 0);

		if (!w || write_records(w, 0, 25) < 0)
			_exit(1);
		raise(SIGKILL); /* die without recw_close */
		_exit(2);
	}
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "writer killed by SIGKILL");
	text = gunzip_strict(path, &members, &len);
	ok(text != NULL, "file of a killed scan decodes without error");
	is_int(members, 2, "two complete members");
	ok(text && lines_are(text, 0, 20), "exactly the first 20 records, complete lines");
	free(text);
	snprintf(cmd, sizeof(cmd), "gzip -t '%s' 2>/dev/null", path);
	gzip_rc = system(cmd);
	is_int(gzip_rc, 0, "gzip -t accepts the file");
}

static void test_plain(void)
{
	const char *path = tpath("plain.ndjson");
	struct recw *w = recw_open(path, NULL, NULL, 0);
	size_t len;
	char *text;

	ok(w != NULL, "open plain (auto: no .gz)");
	if (!w)
		return;
	write_records(w, 0, 3);
	is_int(file_size(path), 0, "plain records batched until flush");
	is_int(recw_flush(w), 0, "flush");
	is_int(recw_bytes(w), file_size(path), "bytes counted");
	write_records(w, 3, 2);
	is_int(recw_close(w), 0, "close");
	text = slurp(path, &len);
	ok(text && lines_are(text, 0, 5), "plain NDJSON exact");
	free(text);

	{
		struct recw_opts o = { .format = RECW_GZIP };
		size_t l;
		int m;

		path = tpath("forced-gzip.out");
		w = recw_open(path, &o, NULL, 0);
		write_records(w, 0, 4);
		recw_close(w);
		text = gunzip_strict(path, &m, &l);
		ok(text && lines_are(text, 0, 4) && m == 1, "RECW_GZIP forces gzip whatever the name");
		free(text);
	}
}

static void test_stdout(void)
{
	int data[2], go[2], status;
	char buf[512], want[256];
	ssize_t n;
	pid_t pid;

	if (pipe(data) < 0 || pipe(go) < 0) {
		ok(0, "pipes");
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct recw *w;
		char c;

		dup2(data[1], STDOUT_FILENO);
		close(data[0]);
		close(data[1]);
		close(go[1]);
		w = recw_open("-", NULL, NULL, 0);
		if (!w || write_records(w, 0, 1) < 0)
			_exit(1);
		if (read(go[0], &c, 1) != 1) /* wait until the parent has read line 1 */
			_exit(3);
		if (write_records(w, 1, 1) < 0 || recw_close(w) < 0)
			_exit(1);
		_exit(0);
	}
	close(data[1]);
	close(go[0]);
	record(want, sizeof(want), 0);
	strcat(want, "\n");
	n = read(data[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	is_str(buf, want, "stdout: first record readable before the writer closes");
	if (write(go[1], "g", 1) != 1)
		diag("cannot signal child");
	close(go[1]);
	n = read(data[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	record(want, sizeof(want), 1);
	strcat(want, "\n");
	is_str(buf, want, "stdout: second record, plain");
	close(data[0]);
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "stdout writer exits cleanly");
}

static void test_append(void)
{
	const char *path = tpath("resume.ndjson.gz");
	struct recw_opts o = { .flush_records = 100, .append = 1 };
	struct recw *w;
	char *text, err[256];
	int members, fd, before;
	size_t len;

	w = recw_open(path, &o, NULL, 0); /* append creates a missing file */
	ok(w != NULL, "append creates the file");
	write_records(w, 0, 5);
	recw_close(w);
	w = recw_open(path, &o, NULL, 0);
	is_int(recw_repaired(w), 0, "nothing to repair in a clean file");
	write_records(w, 5, 3);
	recw_close(w);
	text = gunzip_strict(path, &members, &len);
	ok(text && lines_are(text, 0, 8), "append: old then new records");
	is_int(members, 2, "append produces a two-member file");
	free(text);

	/* A torn member at the end (crash in the middle of a write) is cut. */
	before = file_size(path);
	fd = open(path, O_WRONLY | O_APPEND);
	if (write(fd, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\xae", 12) != 12)
		diag("cannot tear the file");
	close(fd);
	w = recw_open(path, &o, err, sizeof(err));
	ok(w != NULL, "append opens a torn file");
	is_int(w ? recw_repaired(w) : 0, 12, "torn tail cut");
	is_int(file_size(path), before, "file back to its last complete member");
	write_records(w, 8, 2);
	recw_close(w);
	text = gunzip_strict(path, &members, &len);
	ok(text && lines_are(text, 0, 10) && members == 3, "after repair the file decodes whole");
	free(text);

	/* Appending gzip to a plain file (or the reverse) is refused, not "repaired". */
	w = recw_open(tpath("plain.ndjson"), &(struct recw_opts){ .format = RECW_GZIP, .append = 1 }, err, sizeof(err));
	ok(w == NULL && strstr(err, "non-gzip"), "gzip append to a plain file refused: %s", err);
	recw_close(w);
	w = recw_open(path, &(struct recw_opts){ .format = RECW_PLAIN, .append = 1 }, err, sizeof(err));
	ok(w == NULL, "plain append to a gzip file refused: %s", err);
	recw_close(w);

	/* Plain append cuts a torn last line. */
	path = tpath("resume.ndjson");
	w = recw_open(path, NULL, NULL, 0);
	write_records(w, 0, 2);
	recw_close(w);
	fd = open(path, O_WRONLY | O_APPEND);
	if (write(fd, "{\"torn", 6) != 6)
		diag("cannot tear the file");
	close(fd);
	w = recw_open(path, &(struct recw_opts){ .append = 1 }, NULL, 0);
	is_int(w ? recw_repaired(w) : 0, 6, "plain: torn line cut");
	write_records(w, 2, 1);
	recw_close(w);
	text = slurp(path, &len);
	ok(text && lines_are(text, 0, 3), "plain append exact");
	free(text);
}

static void test_reject(void)
{
	const char *path = tpath("reject.ndjson.gz");
	struct recw *w = recw_open(path, NULL, NULL, 0);
	char *text;
	int members;
	size_t len;

	is_int(recw_write(w, "{\"a\":1}\n", 8), RECW_EINVAL, "line with trailing newline rejected");
	is_int(recw_write(w, "{\"a\":\n1}", 8), RECW_EINVAL, "line with inner newline rejected");
	is_int(recw_write(w, "", 0), RECW_EINVAL, "empty record rejected");
	is_int(recw_records(w), 0, "rejected lines are not counted");
	ok(recw_error(w) == NULL, "a rejected line is not a writer failure");
	is_int(recw_write(w, "{\"a\":1}\n", 7), 0, "only len bytes are looked at");
	recw_close(w);
	text = gunzip_strict(path, &members, &len);
	is_str(text, "{\"a\":1}\n", "only the valid record is in the file");
	free(text);
}

static void test_tick(void)
{
	const char *path = tpath("tick.ndjson.gz");
	struct recw_opts o = { .flush_ms = 200 };
	struct recw *w = recw_open(path, &o, NULL, 0);
	uint64_t wall = 1763725337000ull; /* a wall clock works too: same clock each call */
	char *text;
	int members;
	size_t len;

	is_int(recw_tick(w, 1000), 0, "tick with nothing buffered");
	is_int(file_size(path), 0, "nothing written for an empty member");
	write_records(w, 0, 3);
	recw_tick(w, 5000); /* dates the member */
	recw_tick(w, 5199);
	is_int(file_size(path), 0, "member younger than flush_ms stays in memory");
	recw_tick(w, 5200);
	ok(file_size(path) > 0, "member written once flush_ms elapsed");
	text = gunzip_strict(path, &members, &len);
	ok(text && lines_are(text, 0, 3) && members == 1, "readable while the writer is open");
	free(text);

	write_records(w, 3, 2);
	recw_tick(w, wall);
	recw_tick(w, wall + 199);
	recw_tick(w, wall - 100000); /* clock went back: re-dated, not flushed */
	recw_tick(w, wall - 100000 + 199);
	text = gunzip_strict(path, &members, &len);
	ok(text && members == 1, "no flush before flush_ms in the caller's clock");
	free(text);
	recw_tick(w, wall - 100000 + 200);
	text = gunzip_strict(path, &members, &len);
	ok(text && lines_are(text, 0, 5) && members == 2, "second member by time");
	free(text);
	recw_close(w);
	text = gunzip_strict(path, &members, &len);
	is_int(members, 2, "close adds no empty member");
	free(text);
}

/* Incompressible-ish records: 64 symbols from a PRNG, about 6 bits per byte. */
static void test_member_cap(void)
{
	const char *path = tpath("big.ndjson.gz");
	struct recw_opts o = { .flush_records = 1000000 };
	struct recw *w = recw_open(path, &o, NULL, 0);
	static const char sym[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t x = 88172645463325252ull;
	char line[1024];
	int i, j, first_write = -1, members;
	size_t len;
	char *text;

	for (i = 0; i < 16000 && w; i++) {
		for (j = 0; j < (int)sizeof(line); j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			line[j] = sym[x & 63];
		}
		recw_write(w, line, sizeof(line));
		if (first_write < 0 && recw_bytes(w) > 0)
			first_write = i;
	}
	ok(first_write > 0, "member finished early by size (after record %d)", first_write);
	ok(recw_bytes(w) >= RECW_MEMBER_MAX, "first member at least %u bytes", RECW_MEMBER_MAX);
	recw_close(w);
	text = gunzip_strict(path, &members, &len);
	ok(text && len == 16000u * 1025u && members == 2, "big file: %d members, all records", members);
	free(text);
}

static void test_errors(void)
{
	struct recw_opts o = { .format = RECW_PLAIN, .flush_records = 1 };
	char path[64], err[256];
	struct recw *w;
	int p[2];

	w = recw_open(tpath("no/such/dir.gz"), NULL, err, sizeof(err));
	ok(w == NULL && strstr(err, "no/such/dir.gz"), "open error names the path: %s", err);

	w = recw_open("/dev/full", &o, err, sizeof(err));
	ok(w != NULL, "open /dev/full");
	if (w) {
		is_int(write_records(w, 0, 1), RECW_EIO, "ENOSPC: first failing call returns RECW_EIO");
		is_int(write_records(w, 1, 1), RECW_EFAILED, "later calls return RECW_EFAILED");
		ok(recw_error(w) && strstr(recw_error(w), "No space"), "error text: %s",
		   recw_error(w) ? recw_error(w) : "(none)");
		ok(recw_close(w) < 0, "close reports the earlier failure");
	}

	if (pipe(p) < 0) {
		ok(0, "pipe");
		return;
	}
	snprintf(path, sizeof(path), "/dev/fd/%d", p[1]);
	w = recw_open(path, &o, err, sizeof(err));
	close(p[0]); /* the reader goes away */
	ok(w != NULL, "open a pipe");
	if (w) {
		is_int(write_records(w, 0, 1), RECW_EIO, "EPIPE is a return value, not SIGPIPE");
		ok(recw_error(w) && strstr(recw_error(w), "pipe"), "error text: %s",
		   recw_error(w) ? recw_error(w) : "(none)");
		ok(recw_close(w) < 0, "close reports the failure");
	}
	close(p[1]);
}

#define NTHREADS   4
#define PER_THREAD 2000

static struct recw *shared_w;

static void *writer_thread(void *arg)
{
	int t = (int)(intptr_t)arg, i;
	char buf[128];

	for (i = 0; i < PER_THREAD; i++) {
		snprintf(buf, sizeof(buf), "{\"t\":%d,\"i\":%d,\"pad\":\"%0*d\"}", t, i, 1 + i % 50, 0);
		recw_write(shared_w, buf, strlen(buf));
		if (i % 100 == 0)
			recw_tick(shared_w, mono_ms());
	}
	return NULL;
}

static void test_threads(void)
{
	const char *path = tpath("threads.ndjson.gz");
	struct recw_opts o = { .flush_records = 7, .flush_ms = 1 };
	pthread_t th[NTHREADS];
	int next[NTHREADS] = { 0 }, i, good = 1, lines = 0, members;
	char *text, *p;
	size_t len;

	shared_w = recw_open(path, &o, NULL, 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, writer_thread, (void *)(intptr_t)i);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	is_int(recw_records(shared_w), NTHREADS * PER_THREAD, "all records counted");
	is_int(recw_close(shared_w), 0, "close");
	text = gunzip_strict(path, &members, &len);
	ok(text != NULL, "concurrent file decodes");
	for (p = text; p && *p && good; lines++) {
		char want[128];
		int t, n, k;

		if (sscanf(p, "{\"t\":%d,\"i\":%d,%n", &t, &n, &k) != 2 || t < 0 || t >= NTHREADS || n != next[t]) {
			good = 0;
			break;
		}
		snprintf(want, sizeof(want), "{\"t\":%d,\"i\":%d,\"pad\":\"%0*d\"}\n", t, n, 1 + n % 50, 0);
		if (strncmp(p, want, strlen(want)) != 0)
			good = 0;
		p += strlen(want);
		next[t]++;
	}
	ok(good && lines == NTHREADS * PER_THREAD, "every line whole, per-thread order kept (%d)", lines);
	free(text);
}

struct readback {
	int n, first_bad;
	int next;
};

static int rb_cb(void *arg, const char *line, size_t len)
{
	struct readback *rb = arg;
	char want[256];

	record(want, sizeof(want), rb->next++);
	if (!rb->first_bad && (strlen(want) != len || memcmp(want, line, len) != 0))
		rb->first_bad = rb->n + 1;
	rb->n++;
	return 0;
}

static int rb_stop(void *arg, const char *line, size_t len)
{
	(void)line;
	(void)len;
	return ++*(int *)arg == 3 ? -7 : 0;
}

/* recw_read hands back exactly what recw_open(append) keeps: complete members, whole lines. */
static void test_read(void)
{
	struct recw_opts o = { .format = RECW_GZIP, .flush_records = 10 };
	struct readback rb = { 0 };
	char err[256];
	struct recw *w;
	int stops = 0;

	is_int(recw_read(tpath("missing.gz"), rb_cb, &rb, err, sizeof(err)), 0, "read: a missing file has no records");
	w = recw_open(tpath("rd.gz"), &o, err, sizeof(err));
	ok(w && write_records(w, 0, 35) == 0 && recw_close(w) == 0, "read: 35 records in 4 members written");
	is_int(recw_read(tpath("rd.gz"), rb_cb, &rb, err, sizeof(err)), 35, "read: 35 lines back");
	ok(rb.n == 35 && rb.first_bad == 0, "read: every line as written, in order (%d, bad %d)", rb.n, rb.first_bad);
	/* Tear the last member: its 5 records are not read; append then cuts the same bytes. */
	int sz = file_size(tpath("rd.gz"));
	ok(sz > 20 && truncate(tpath("rd.gz"), sz - 7) == 0, "read: last member torn");
	memset(&rb, 0, sizeof(rb));
	is_int(recw_read(tpath("rd.gz"), rb_cb, &rb, err, sizeof(err)), 30, "read: torn member skipped, 30 lines");
	o.append = 1;
	w = recw_open(tpath("rd.gz"), &o, err, sizeof(err));
	ok(w && recw_repaired(w) > 0 && write_records(w, 30, 5) == 0 && recw_close(w) == 0,
	   "read: append cuts the torn member and writes 30..34 again");
	memset(&rb, 0, sizeof(rb));
	is_int(recw_read(tpath("rd.gz"), rb_cb, &rb, err, sizeof(err)), 35, "read: after the append, 35 lines");
	ok(rb.first_bad == 0, "read: each record once, in order");
	/* Plain: a line without its newline is not handed over. */
	int fd = open(tpath("rd.ndjson"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char buf[256];
	record(buf, sizeof(buf), 0);
	ok(fd >= 0 && write(fd, buf, strlen(buf)) > 0 && write(fd, "\n{\"torn", 7) == 7 && close(fd) == 0,
	   "read: plain file with a torn last line");
	memset(&rb, 0, sizeof(rb));
	is_int(recw_read(tpath("rd.ndjson"), rb_cb, &rb, err, sizeof(err)), 1, "read: plain, the whole line only");
	is_int(recw_read(tpath("rd.gz"), rb_stop, &stops, err, sizeof(err)), -7,
	       "read: a negative callback value stops and is returned");
	is_int(recw_read(dir, rb_cb, &rb, err, sizeof(err)), -1, "read: a directory is an error");
	ok(strstr(err, dir) != NULL, "read: the message names the path (%s)", err);
}

int main(void)
{
	char cmd[300];

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	ok(strcmp(recw_format_name(RECW_GZIP), "gzip") == 0, "format names");
	test_roundtrip();
	test_crash();
	test_plain();
	test_stdout();
	test_append();
	test_reject();
	test_tick();
	test_member_cap();
	test_errors();
	test_threads();
	test_read();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
