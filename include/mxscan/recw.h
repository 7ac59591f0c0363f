/*
 * recw: the record writer. One NDJSON record per line, gzip-compressed in
 * complete gzip members so that a scan killed at any moment (even SIGKILL)
 * leaves a file that zcat/gzip -t read without error up to the last finished
 * member: records of the unfinished member are lost, never half a record.
 *
 * Records are deflated into a member held in memory; the whole member (gzip
 * header, deflate stream, trailer) is written to the file with write() when it
 * is finished: every flush_records records, when recw_tick() sees flush_ms
 * elapsed since the member began, when the compressed member exceeds
 * RECW_MEMBER_MAX bytes, and at recw_close(). A file of several concatenated
 * members is one valid gzip file (RFC 1952 section 2.2), which is also what
 * makes resuming with append work. Plain (uncompressed) files are batched the
 * same way, as whole lines; plain standard output ("-") is written one whole
 * line per write(), i.e. line-buffered.
 *
 * Thread-safe: one mutex serialises all calls on a writer. The writer never
 * prints and never aborts: the first I/O error (ENOSPC, EPIPE...) is kept and
 * described
 * by recw_error(); it is returned as RECW_EIO by the call that hit it and as
 * RECW_EFAILED by every later call, so the caller logs it once. SIGPIPE is
 * suppressed around writes to pipes and sockets.
 */
#ifndef MXSCAN_RECW_H
#define MXSCAN_RECW_H

#include <stddef.h>
#include <stdint.h>

struct recw;

/* A finished member is written early once its compressed size exceeds this. */
#define RECW_MEMBER_MAX (8u << 20)

enum recw_format {
	RECW_AUTO = 0, /* gzip when the path ends in ".gz", plain otherwise ("-": plain) */
	RECW_GZIP,
	RECW_PLAIN,
	RECW_FORMAT_MAX, /* count, not a format */
};

/* "auto", "gzip", "plain". */
const char *recw_format_name(enum recw_format f);

/* Options; an all-zero struct (or NULL) means every default. */
struct recw_opts {
	enum recw_format format;
	unsigned flush_records; /* finish a member after this many records; 0: 1000 */
	unsigned flush_ms;      /* ... or this long after it began (recw_tick); 0: 5000 */
	int level;              /* zlib level 1..9; 0: 6 */
	/*
	 * Resume: open an existing file in append mode (created when missing)
	 * instead of truncating it. A gzip file is first checked member by member
	 * and cut after its last complete member; a plain file is cut after its last
	 * '\n'. recw_repaired() reports how many bytes were cut. A non-empty file
	 * of the other format (gzip magic or not) makes recw_open() fail.
	 */
	int append;
};

/* Return values of recw_write()/recw_tick()/recw_close(). */
#define RECW_EINVAL  (-1) /* the line was rejected (empty or contains '\n'); writer usable */
#define RECW_EIO     (-2) /* the writer failed in this call: log recw_error() once */
#define RECW_EFAILED (-3) /* the writer had already failed: the record was dropped */

/*
 * Open path for writing records ("-": standard output, which recw_close()
 * leaves open). A file is locked (flock, exclusive) for the writer's life
 * and truncated only once the lock is held: when another writer holds it,
 * recw_open fails and the file is left as it was. On failure returns NULL and writes a message naming the path
 * and the cause into err (errlen bytes, may be 0).
 */
struct recw *recw_open(const char *path, const struct recw_opts *o, char *err, size_t errlen);

/*
 * Append one record: len bytes of line (no NUL needed), without its newline,
 * which the writer adds. Returns 0; RECW_EINVAL when line is empty or contains
 * '\n' (the record is not written); RECW_EIO or RECW_EFAILED when the writer
 * has failed (the record is dropped). May write a finished member (see the
 * file comment).
 */
int recw_write(struct recw *w, const char *line, size_t len);

/*
 * Append several records as one unit: buf holds whole lines, each ending with
 * '\n' (len includes them). The unit lands in one member: a member is
 * finished only after it (the flush_records count may be exceeded by the
 * unit's size). Returns as recw_write(); RECW_EINVAL when buf is empty, does
 * not end with '\n' or holds an empty line (nothing written).
 */
int recw_write_lines(struct recw *w, const char *buf, size_t len);

/*
 * Time-based flush; call it about once a second (more often is fine) from any
 * thread. now_ms is any millisecond clock, the same one on every call
 * (loop_now_ms(), CLOCK_MONOTONIC preferred: a wall clock that jumps flushes
 * early or late). A member is dated by the first tick that sees it holding a
 * record and is finished and written by the first tick at least flush_ms
 * later: between flush_ms and flush_ms + one tick interval after its first
 * record. Returns 0, RECW_EIO or RECW_EFAILED.
 */
int recw_tick(struct recw *w, uint64_t now_ms);

/* Finish and write the current member now. Returns 0, RECW_EIO or RECW_EFAILED. */
int recw_flush(struct recw *w);

/*
 * Finish the last member, close the file and free w (NULL is a no-op).
 * Returns 0; RECW_EIO when finishing failed now; RECW_EFAILED when a write
 * had failed earlier (records were lost).
 */
int recw_close(struct recw *w);

/* Records accepted by recw_write() (including those still in memory). */
uint64_t recw_records(struct recw *w);
/* Bytes written to the file so far (compressed bytes for gzip). */
uint64_t recw_bytes(struct recw *w);
/* Bytes cut from the end of an appended file by recw_open() (see append). */
uint64_t recw_repaired(struct recw *w);
/*
 * Read back the records of path as recw_open(path, append) would keep them: the lines of every
 * complete gzip member (a torn or corrupt tail is skipped, not read), or of a plain file up to
 * its last '\n'. Each line (without its '\n') goes to cb; a non-zero return from cb stops the
 * reading and is returned when negative. A missing file has no records (returns 0). Returns
 * the number of lines read, or -1 with a message in err on an open/read error or out of
 * memory. Memory: one gzip member's uncompressed bytes at a time.
 */
long long recw_read(const char *path, int (*cb)(void *arg, const char *line, size_t len), void *arg, char *err,
		    size_t errlen);

/* Description of the first I/O error, or NULL when none occurred. The string
 * lives as long as w. */
const char *recw_error(struct recw *w);

#endif
