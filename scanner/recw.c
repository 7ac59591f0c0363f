/*
 * recw: record writer, NDJSON in complete gzip members.
 *
 * Crash safety comes from one rule: nothing reaches the file but whole
 * members (gzip) or whole batches of lines (plain). A member is deflated into
 * a memory buffer (zlib with the gzip wrapper, deflateReset() between members
 * so each member carries its own header and CRC-32/ISIZE trailer, RFC 1952
 * section 2.2) and written with one write_all() when finished. A scan killed
 * by SIGKILL therefore loses the records of its unfinished member and nothing
 * else. If a write fails part-way on a regular file (ENOSPC), the file is cut
 * back to its size before the member, so the file stays readable.
 *
 * Resuming (opts.append) first repairs the file: it inflates the existing
 * members one by one and cuts the file after the last one that ends with a
 * good trailer (or, for plain files, after the last '\n'), so that the members
 * appended afterwards are not hidden behind a torn one.
 *
 * One mutex per writer; compression happens under it. During a scan only the
 * record writer thread (scanner/recq.c) calls in while workers run, so the
 * mutex is uncontended there and workers never wait on it or on the disk. The writer never prints: the first error is
 * kept in errmsg, returned once as RECW_EIO and then as RECW_EFAILED.
 */
#include "mxscan/recw.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define RECW_DEF_RECORDS 1000
#define RECW_DEF_MS      5000
#define RECW_DEF_LEVEL   6
#define RECW_MIN_BUF     (64u << 10)
#define RECW_OUT_SLACK   4096 /* room deflate gets per call, at least */
#define RECW_IO_CHUNK    (64u << 10)

static const char *const recw_format_names[] = {
	[RECW_AUTO] = "auto",
	[RECW_GZIP] = "gzip",
	[RECW_PLAIN] = "plain",
};
_Static_assert(sizeof(recw_format_names) / sizeof(recw_format_names[0]) == RECW_FORMAT_MAX,
	       "recw_format_names must name every enum recw_format");

struct recw {
	pthread_mutex_t mu;
	int fd;
	int own_fd;  /* 0 for standard output: left open */
	int regular; /* a regular file: no SIGPIPE, can be cut back on error */
	int gzip;
	unsigned flush_records, flush_ms;
	z_stream zs;
	int zs_ready;
	unsigned char *mbuf; /* the member (gzip) or batch of lines (plain) in progress */
	size_t mlen, mcap;
	unsigned member_records;
	int member_dated;         /* member_start_ms is set (by recw_tick) */
	uint64_t member_start_ms; /* in the caller's clock, see recw_tick() */
	off_t off;                /* size of a regular file after the last complete write */
	uint64_t records, bytes, repaired;
	int failed;
	char errmsg[512];
	char path[256];
};

const char *recw_format_name(enum recw_format f)
{
	if ((unsigned)f >= RECW_FORMAT_MAX)
		return "unknown";
	return recw_format_names[f];
}

/* Record the first error; returns RECW_EIO the first time, RECW_EFAILED after. */
static int recw_fail(struct recw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int recw_fail(struct recw *w, const char *fmt, ...)
{
	va_list ap;

	if (w->failed)
		return RECW_EFAILED;
	w->failed = 1;
	va_start(ap, fmt);
	vsnprintf(w->errmsg, sizeof(w->errmsg), fmt, ap);
	va_end(ap);
	return RECW_EIO;
}

static int recw_grow(struct recw *w, size_t add)
{
	size_t need = w->mlen + add, cap;
	unsigned char *nb;

	if (need < w->mlen)
		return -1;
	if (need <= w->mcap)
		return 0;
	cap = w->mcap ? w->mcap : RECW_MIN_BUF;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	nb = realloc(w->mbuf, cap);
	if (!nb)
		return -1;
	w->mbuf = nb;
	w->mcap = cap;
	return 0;
}

/*
 * write() all of buf, retrying on EINTR, waiting on EAGAIN (a non-blocking
 * stdout), with SIGPIPE blocked for pipes and sockets so that a closed reader
 * is an EPIPE return, not the death of the scan. Returns 0 or -errno.
 */
static int recw_write_all(struct recw *w, const unsigned char *buf, size_t len)
{
	sigset_t pipe_set, old, pending;
	int was_pending = 0, rc = 0;

	if (!w->regular) {
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		sigpending(&pending);
		was_pending = sigismember(&pending, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	}
	while (len > 0) {
		ssize_t n = write(w->fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = { .fd = w->fd, .events = POLLOUT };

				poll(&pfd, 1, 1000);
				continue;
			}
			rc = -errno;
			goto out;
		}
		if (n == 0) {
			rc = -EIO;
			goto out;
		}
		buf += n;
		len -= (size_t)n;
		w->bytes += (uint64_t)n;
	}
out:
	if (!w->regular) {
		if (rc == -EPIPE && !was_pending) {
			/* Consume the SIGPIPE this thread just raised while blocked. */
			struct timespec zero = { 0, 0 };

			sigtimedwait(&pipe_set, NULL, &zero);
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	return rc;
}

/* Deflate len bytes into the member buffer (flush: Z_NO_FLUSH or Z_FINISH). */
static int recw_deflate(struct recw *w, const void *data, size_t len, int flush)
{
	int zrc;

	w->zs.next_in = (Bytef *)(uintptr_t)data;
	w->zs.avail_in = (uInt)len;
	for (;;) {
		size_t room;

		if (w->mcap - w->mlen < RECW_OUT_SLACK && recw_grow(w, RECW_OUT_SLACK) < 0)
			return recw_fail(w, "%s: out of memory compressing records", w->path);
		room = w->mcap - w->mlen;
		if (room > UINT32_MAX)
			room = UINT32_MAX;
		w->zs.next_out = w->mbuf + w->mlen;
		w->zs.avail_out = (uInt)room;
		zrc = deflate(&w->zs, flush);
		w->mlen += room - w->zs.avail_out;
		if (zrc == Z_STREAM_ERROR)
			return recw_fail(w, "%s: zlib deflate failed", w->path);
		if (flush == Z_FINISH) {
			if (zrc == Z_STREAM_END)
				return 0;
		} else if (w->zs.avail_in == 0 && w->zs.avail_out != 0) {
			return 0;
		}
	}
}

/*
 * Finish the member (or batch) in progress and write it whole. A member that
 * holds no record writes nothing. On a failed write to a regular file, cut the
 * file back so that no torn member is left behind.
 */
static int recw_finish(struct recw *w)
{
	uint64_t bytes_before = w->bytes;
	int rc = 0, e;

	if (w->failed)
		return RECW_EFAILED;
	if (w->member_records == 0)
		return 0;
	if (w->gzip) {
		rc = recw_deflate(w, NULL, 0, Z_FINISH);
		if (rc < 0)
			goto out;
	}
	e = recw_write_all(w, w->mbuf, w->mlen);
	if (e < 0) {
		if (w->regular && ftruncate(w->fd, w->off) == 0)
			w->bytes = bytes_before;
		rc = recw_fail(w, "%s: write: %s", w->path, strerror(-e));
		goto out;
	}
	w->off += (off_t)w->mlen;
out:
	w->mlen = 0;
	w->member_records = 0;
	w->member_dated = 0;
	if (w->gzip)
		deflateReset(&w->zs);
	return rc;
}

/*
 * Where a gzip file should be cut: the end of its last complete member.
 * Returns that offset, or -1 with errno on a read error.
 */
static off_t recw_gzip_good_end(int fd)
{
	unsigned char *in = NULL, *out = NULL;
	z_stream zs;
	off_t pos = 0, good = 0, ret = -1;
	int zrc;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK) {
		errno = ENOMEM;
		return -1;
	}
	in = malloc(RECW_IO_CHUNK);
	out = malloc(RECW_IO_CHUNK);
	if (!in || !out) {
		errno = ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = pread(fd, in, RECW_IO_CHUNK, pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break; /* EOF: whatever started after good is torn */
		zs.next_in = in;
		zs.avail_in = (uInt)n;
		while (zs.avail_in > 0) {
			zs.next_out = out;
			zs.avail_out = RECW_IO_CHUNK;
			zrc = inflate(&zs, Z_NO_FLUSH);
			if (zrc == Z_STREAM_END) {
				good = pos + (off_t)((size_t)n - zs.avail_in);
				inflateReset(&zs);
			} else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
				ret = good; /* corrupt from here on */
				goto out;
			}
		}
		pos += n;
	}
	ret = good;
out:
	inflateEnd(&zs);
	free(in);
	free(out);
	return ret;
}

static void recw_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int recw_looks_gzip(int fd);

/* Hand each complete line of buf[0..n) to cb; the bytes after the last '\n' are left. */
static int recw_lines(const char *buf, size_t n, size_t *used, int (*cb)(void *, const char *, size_t), void *arg,
		      uint64_t *count)
{
	size_t pos = 0;

	for (;;) {
		const char *nl = memchr(buf + pos, '\n', n - pos);
		int r;

		if (!nl)
			break;
		r = cb(arg, buf + pos, (size_t)(nl - (buf + pos)));
		if (r)
			return r;
		(*count)++;
		pos = (size_t)(nl - buf) + 1;
	}
	*used = pos;
	return 0;
}

long long recw_read(const char *path, int (*cb)(void *arg, const char *line, size_t len), void *arg, char *err,
		    size_t errlen)
{
	unsigned char *in = NULL;
	char *mem = NULL;
	size_t memlen = 0, memcap = 0, used;
	uint64_t count = 0;
	z_stream zs;
	int fd, gz, zready = 0, rc;
	long long ret = -1;
	off_t pos = 0;

	recw_set_err(err, errlen, "ok");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		recw_set_err(err, errlen, "%s: cannot open for reading: %s", path, strerror(errno));
		return -1;
	}
	gz = recw_looks_gzip(fd);
	memset(&zs, 0, sizeof(zs));
	if (gz) {
		if (inflateInit2(&zs, 15 + 16) != Z_OK) {
			recw_set_err(err, errlen, "%s: zlib initialisation failed", path);
			goto out;
		}
		zready = 1;
	}
	in = malloc(RECW_IO_CHUNK);
	if (!in)
		goto oom;
	for (;;) {
		ssize_t n = pread(fd, in, RECW_IO_CHUNK, pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			recw_set_err(err, errlen, "%s: read error: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break; /* a torn member's or line's bytes are not handed over */
		pos += n;
		if (!gz) {
			if (memlen + (size_t)n > memcap) {
				size_t ncap = (memlen + (size_t)n) * 2;
				char *nm = realloc(mem, ncap);

				if (!nm)
					goto oom;
				mem = nm;
				memcap = ncap;
			}
			memcpy(mem + memlen, in, (size_t)n);
			memlen += (size_t)n;
			if ((rc = recw_lines(mem, memlen, &used, cb, arg, &count)) != 0)
				goto stopped;
			memmove(mem, mem + used, memlen - used);
			memlen -= used;
			continue;
		}
		zs.next_in = in;
		zs.avail_in = (uInt)n;
		while (zs.avail_in > 0) {
			int zrc;

			/* A member's lines are handed over only once its trailer checked out,
			 * so exactly what recw_open's repair keeps is read. */
			if (memcap - memlen < RECW_IO_CHUNK) {
				size_t ncap = memcap ? memcap * 2 : 4 * RECW_IO_CHUNK;
				char *nm = realloc(mem, ncap);

				if (!nm)
					goto oom;
				mem = nm;
				memcap = ncap;
			}
			zs.next_out = (unsigned char *)mem + memlen;
			zs.avail_out = (uInt)(memcap - memlen);
			zrc = inflate(&zs, Z_NO_FLUSH);
			memlen = memcap - zs.avail_out;
			if (zrc == Z_STREAM_END) {
				if ((rc = recw_lines(mem, memlen, &used, cb, arg, &count)) != 0)
					goto stopped;
				memlen = 0; /* members hold whole lines */
				inflateReset(&zs);
			} else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
				goto done; /* corrupt from here on: recw_open cuts it */
			}
		}
	}
done:
	ret = (long long)count;
	goto out;
stopped:
	ret = rc < 0 ? rc : (long long)count;
	recw_set_err(err, errlen, "%s: reading stopped by the caller", path);
	goto out;
oom:
	recw_set_err(err, errlen, "%s: out of memory reading records", path);
out:
	if (zready)
		inflateEnd(&zs);
	free(in);
	free(mem);
	close(fd);
	return ret;
}

/* Size of a plain file up to and including its last '\n'; -1 on error. */
static off_t recw_plain_good_end(int fd, off_t size)
{
	unsigned char buf[4096];
	off_t end = size;

	while (end > 0) {
		size_t chunk = end > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)end;
		ssize_t n = pread(fd, buf, chunk, end - (off_t)chunk);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((size_t)n != chunk) {
			errno = EIO;
			return -1;
		}
		for (size_t i = chunk; i > 0; i--)
			if (buf[i - 1] == '\n')
				return end - (off_t)chunk + (off_t)i;
		end -= (off_t)chunk;
	}
	return 0;
}

/* 1 when the file starts with the gzip magic bytes (RFC 1952 section 2.3.1). */
static int recw_looks_gzip(int fd)
{
	unsigned char m[2];

	return pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

static void recw_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void recw_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

struct recw *recw_open(const char *path, const struct recw_opts *o, char *err, size_t errlen)
{
	struct recw_opts def = { 0 };
	struct recw *w = NULL;
	struct stat st;
	int to_stdout, flags, level;

	if (!o)
		o = &def;
	recw_set_err(err, errlen, "ok");
	if (!path || !*path) {
		recw_set_err(err, errlen, "records: empty output path");
		return NULL;
	}
	if ((unsigned)o->format >= RECW_FORMAT_MAX || o->level < 0 || o->level > 9) {
		recw_set_err(err, errlen, "%s: invalid record writer options", path);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		recw_set_err(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	w->fd = -1;
	snprintf(w->path, sizeof(w->path), "%s", path);
	to_stdout = strcmp(path, "-") == 0;
	if (o->format == RECW_AUTO)
		w->gzip = !to_stdout && ends_with(path, ".gz");
	else
		w->gzip = o->format == RECW_GZIP;
	w->flush_records = o->flush_records ? o->flush_records : RECW_DEF_RECORDS;
	w->flush_ms = o->flush_ms ? o->flush_ms : RECW_DEF_MS;
	if (to_stdout && !w->gzip)
		w->flush_records = 1; /* plain stdout: line-buffered */
	level = o->level ? o->level : RECW_DEF_LEVEL;

	if (to_stdout) {
		w->fd = STDOUT_FILENO;
	} else {
		/* Not O_TRUNC: the file is locked first, so a second scan started on the same
		 * output is refused before it destroys or interleaves with the first one's. */
		flags = O_CLOEXEC | O_CREAT | (o->append ? O_RDWR | O_APPEND : O_WRONLY);
		w->fd = open(path, flags, 0644);
		if (w->fd < 0) {
			recw_set_err(err, errlen, "%s: cannot open for writing: %s", path, strerror(errno));
			goto fail;
		}
		w->own_fd = 1;
		if (flock(w->fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
			recw_set_err(err, errlen, "%s: another process is writing this file (locked); not touched",
				     path);
			goto fail;
		}
		if (!o->append && fstat(w->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
		    ftruncate(w->fd, 0) < 0) {
			recw_set_err(err, errlen, "%s: cannot truncate: %s", path, strerror(errno));
			goto fail;
		}
	}
	if (fstat(w->fd, &st) < 0) {
		recw_set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	w->regular = S_ISREG(st.st_mode);
	if (w->regular)
		w->off = st.st_size;
	if (o->append && w->regular && !to_stdout && st.st_size > 0) {
		off_t good;

		/* Never "repair" a file of the other format away. */
		if (recw_looks_gzip(w->fd) != w->gzip) {
			recw_set_err(err, errlen, "%s: cannot append %s records to a %s file", path,
				     w->gzip ? "gzip" : "plain", w->gzip ? "non-gzip" : "gzip");
			goto fail;
		}
		good = w->gzip ? recw_gzip_good_end(w->fd) : recw_plain_good_end(w->fd, st.st_size);
		if (good < 0) {
			recw_set_err(err, errlen, "%s: cannot check existing records: %s", path, strerror(errno));
			goto fail;
		}
		if (good < st.st_size) {
			if (ftruncate(w->fd, good) < 0) {
				recw_set_err(err, errlen, "%s: cannot cut torn end: %s", path, strerror(errno));
				goto fail;
			}
			w->repaired = (uint64_t)(st.st_size - good);
		}
		w->off = good;
	}
	if (w->gzip) {
		if (deflateInit2(&w->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			recw_set_err(err, errlen, "%s: zlib initialisation failed", path);
			goto fail;
		}
		w->zs_ready = 1;
	}
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		recw_set_err(err, errlen, "%s: cannot create mutex", path);
		goto fail;
	}
	return w;
fail:
	if (w->zs_ready)
		deflateEnd(&w->zs);
	if (w->own_fd && w->fd >= 0)
		close(w->fd);
	free(w);
	return NULL;
}

/* Append buf (whole '\n'-terminated lines, nrec of them) to the member in progress; under mu. */
static int recw_append(struct recw *w, const char *buf, size_t len, unsigned nrec)
{
	int rc = 0;

	if (w->failed)
		return RECW_EFAILED;
	if (w->gzip)
		rc = recw_deflate(w, buf, len, Z_NO_FLUSH);
	else if (recw_grow(w, len) < 0)
		rc = recw_fail(w, "%s: out of memory buffering records", w->path);
	else {
		memcpy(w->mbuf + w->mlen, buf, len);
		w->mlen += len;
	}
	if (rc < 0)
		return rc;
	w->member_records += nrec;
	w->records += nrec;
	if (w->member_records >= w->flush_records || w->mlen >= RECW_MEMBER_MAX)
		rc = recw_finish(w);
	return rc;
}

int recw_write(struct recw *w, const char *line, size_t len)
{
	int rc = 0;

	if (!line || len == 0 || memchr(line, '\n', len))
		return RECW_EINVAL; /* a record is one non-empty line */
	pthread_mutex_lock(&w->mu);
	if (w->failed) {
		rc = RECW_EFAILED;
	} else if (w->gzip) {
		rc = recw_deflate(w, line, len, Z_NO_FLUSH);
		if (rc == 0)
			rc = recw_append(w, "\n", 1, 1);
	} else if (len == SIZE_MAX || recw_grow(w, len + 1) < 0) {
		rc = recw_fail(w, "%s: out of memory buffering records", w->path);
	} else {
		memcpy(w->mbuf + w->mlen, line, len);
		w->mlen += len;
		rc = recw_append(w, "\n", 1, 1);
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int recw_write_lines(struct recw *w, const char *buf, size_t len)
{
	unsigned nrec = 0;
	size_t pos = 0;
	int rc;

	if (!buf || len == 0 || buf[len - 1] != '\n')
		return RECW_EINVAL;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);

		if (nl == buf + pos || nrec == UINT32_MAX)
			return RECW_EINVAL; /* an empty line */
		nrec++;
		pos = (size_t)(nl - buf) + 1;
	}
	pthread_mutex_lock(&w->mu);
	rc = recw_append(w, buf, len, nrec);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int recw_tick(struct recw *w, uint64_t now_ms)
{
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	if (w->failed) {
		rc = RECW_EFAILED;
	} else if (w->member_records > 0) {
		/*
		 * The member is dated by the first tick that sees it, in the
		 * caller's own clock, so any millisecond clock works; one that went
		 * backwards re-dates the member instead of stalling it.
		 */
		if (!w->member_dated || now_ms < w->member_start_ms) {
			w->member_start_ms = now_ms;
			w->member_dated = 1;
		}
		if (now_ms - w->member_start_ms >= w->flush_ms)
			rc = recw_finish(w);
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int recw_flush(struct recw *w)
{
	int rc;

	pthread_mutex_lock(&w->mu);
	rc = recw_finish(w);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int recw_close(struct recw *w)
{
	int rc;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	rc = recw_finish(w);
	if (w->own_fd && close(w->fd) < 0 && rc == 0)
		rc = recw_fail(w, "%s: close: %s", w->path, strerror(errno));
	if (rc == 0 && w->failed)
		rc = RECW_EFAILED;
	pthread_mutex_unlock(&w->mu);
	if (w->zs_ready)
		deflateEnd(&w->zs);
	pthread_mutex_destroy(&w->mu);
	free(w->mbuf);
	free(w);
	return rc;
}

uint64_t recw_records(struct recw *w)
{
	uint64_t v;

	pthread_mutex_lock(&w->mu);
	v = w->records;
	pthread_mutex_unlock(&w->mu);
	return v;
}

uint64_t recw_bytes(struct recw *w)
{
	uint64_t v;

	pthread_mutex_lock(&w->mu);
	v = w->bytes;
	pthread_mutex_unlock(&w->mu);
	return v;
}

uint64_t recw_repaired(struct recw *w)
{
	uint64_t v;

	pthread_mutex_lock(&w->mu);
	v = w->repaired;
	pthread_mutex_unlock(&w->mu);
	return v;
}

const char *recw_error(struct recw *w)
{
	const char *e;

	pthread_mutex_lock(&w->mu);
	e = w->failed ? w->errmsg : NULL;
	pthread_mutex_unlock(&w->mu);
	return e;
}
