/*
 * rin: NDJSON record input (see rin.h).
 *
 * zlib's gzread() reads gzip (every member of a multi-member file, as mxscan
 * writes them) and, transparently, plain files: the gzip magic decides. Lines
 * are split here with memchr() over a buffer rather than with gzgets(), which
 * returns a C string and so cannot tell a NUL byte inside a line from its end:
 * a stray NUL must make the line malformed, not silently shorten it. The buffer
 * grows to hold the longest line up to JR_MAX_LINE; a longer line is dropped
 * as it streams past, so memory stays bounded by that cap.
 */
#include "rin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define RIN_CHUNK   (256u << 10) /* bytes asked of gzread at a time */
#define RIN_INITIAL (1u << 20)

struct rin_file {
	const char *name;
	gzFile gz;
	char *buf;
	size_t cap, len;
	uint64_t lineno;
};

static void rin_msg(struct rin_stats *st, const char *file, uint64_t line, const char *fmt, const char *what,
		    size_t pos)
{
	if (st->quiet)
		return;
	if (st->messages < RIN_MAX_MESSAGES)
		fprintf(stderr, fmt, file, (unsigned long long)line, what, pos);
	else if (st->messages == RIN_MAX_MESSAGES)
		fprintf(stderr, "mxreport: more malformed lines: counted, not shown\n");
	st->messages++;
}

/* One line of len bytes at buf (buf[len] writable). Returns the callback's value. */
static int rin_line(struct rin_file *f, char *line, size_t len, struct jr_doc *doc, rin_cb cb, void *ctx,
		    struct rin_stats *st)
{
	size_t i = 0;

	st->lines++;
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == len) {
		st->blank++;
		return 0;
	}
	if (jr_parse(doc, line, len) < 0) {
		st->malformed++;
		rin_msg(st, f->name, f->lineno, "mxreport: %s:%llu: malformed record skipped: %s (byte %zu)\n",
			doc->err, doc->err_pos + 1);
		return 0;
	}
	if (doc->root->type != JR_OBJECT) {
		st->malformed++;
		rin_msg(st, f->name, f->lineno,
			"mxreport: %s:%llu: not a record (a JSON %s, not an object) (byte %zu)\n",
			jr_type_name(doc->root->type), 1);
		return 0;
	}
	st->records++;
	return cb(ctx, doc->root, f->name, f->lineno);
}

/* Room for at least RIN_CHUNK more bytes plus the sentinel, up to the cap. */
static int rin_room(struct rin_file *f)
{
	size_t want = f->len + RIN_CHUNK + 1, cap = f->cap;
	char *nb;

	if (cap >= want)
		return 0;
	while (cap < want)
		cap = cap ? cap * 2 : RIN_INITIAL;
	nb = realloc(f->buf, cap);
	if (!nb)
		return -1;
	f->buf = nb;
	f->cap = cap;
	return 0;
}

static int rin_file(struct rin_file *f, struct jr_doc *doc, rin_cb cb, void *ctx, struct rin_stats *st)
{
	size_t start = 0, scan = 0;
	int skipping = 0, eof = 0, rc = 0;

	f->len = 0;
	f->lineno = 0;
	for (;;) {
		char *nl = scan < f->len ? memchr(f->buf + scan, '\n', f->len - scan) : NULL;

		if (nl) {
			size_t end = (size_t)(nl - f->buf);

			f->lineno++;
			if (skipping) {
				skipping = 0;
				st->lines++;
			} else {
				rc = rin_line(f, f->buf + start, end - start, doc, cb, ctx, st);
				if (rc)
					break;
			}
			start = scan = end + 1;
			continue;
		}
		scan = f->len;
		if (eof) {
			if (start < f->len) {
				f->lineno++;
				if (skipping)
					st->lines++;
				else
					rc = rin_line(f, f->buf + start, f->len - start, doc, cb, ctx, st);
			}
			break;
		}
		if (start > 0) {
			memmove(f->buf, f->buf + start, f->len - start);
			f->len -= start;
			scan -= start;
			start = 0;
		}
		if (f->len > JR_MAX_LINE) {
			/* the line in the buffer is already over the cap: drop it as it streams past */
			if (!skipping) {
				skipping = 1;
				st->malformed++;
				rin_msg(st, f->name, f->lineno + 1,
					"mxreport: %s:%llu: malformed record skipped: %s (byte %zu)\n",
					"line longer than the 16 MiB cap", (size_t)JR_MAX_LINE + 1);
			}
			f->len = scan = 0;
		}
		if (rin_room(f) < 0) {
			rc = -1;
			break;
		}
		{
			size_t want = f->cap - 1 - f->len;
			int n = gzread(f->gz, f->buf + f->len, (unsigned)(want > INT_MAX ? INT_MAX : want));
			int zerr;
			const char *msg;

			if (n < 0) {
				msg = gzerror(f->gz, &zerr);
				fprintf(stderr, "mxreport: %s: read error after line %llu: %s\n", f->name,
					(unsigned long long)f->lineno, zerr == Z_ERRNO ? strerror(errno) : msg);
				st->io_errors++;
				eof = 1;
				continue;
			}
			if (n == 0) {
				eof = 1;
				msg = gzerror(f->gz, &zerr);
				if (zerr == Z_BUF_ERROR) {
					/* zlib's word for a gzip stream cut short (a killed writer, a partial copy) */
					fprintf(stderr,
						"mxreport: %s: truncated gzip input after line %llu (%s); "
						"records before it are kept\n",
						f->name, (unsigned long long)f->lineno, msg);
					st->io_errors++;
				}
				continue;
			}
			f->len += (size_t)n;
			st->bytes += (uint64_t)n;
		}
	}
	return rc;
}

int rin_read(const char *const *files, int nfiles, rin_cb cb, void *ctx, struct rin_stats *st)
{
	static const char *const stdin_only[] = { "-" };
	struct rin_file f = { 0 };
	struct jr_doc doc;
	int rc = 0;

	if (nfiles == 0) {
		files = stdin_only;
		nfiles = 1;
	}
	jr_init(&doc);
	for (int i = 0; i < nfiles && rc == 0; i++) {
		int fd;

		f.name = files[i];
		if (strcmp(files[i], "-") == 0) {
			fd = dup(STDIN_FILENO); /* gzclose() closes it; standard input stays open */
			f.name = "-";
		} else {
			fd = open(files[i], O_RDONLY | O_CLOEXEC);
		}
		if (fd < 0 || !(f.gz = gzdopen(fd, "rb"))) {
			fprintf(stderr, "mxreport: cannot read %s: %s\n", files[i],
				fd < 0 ? strerror(errno) : "gzdopen failed");
			if (fd >= 0)
				close(fd);
			st->io_errors++;
			continue;
		}
		gzbuffer(f.gz, RIN_CHUNK);
		st->files++;
		rc = rin_file(&f, &doc, cb, ctx, st);
		gzclose(f.gz);
	}
	free(f.buf);
	jr_free(&doc);
	return rc;
}
