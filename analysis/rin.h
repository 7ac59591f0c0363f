/*
 * rin: record input. Reads NDJSON records from files (gzip or plain, told
 * apart by zlib from the gzip magic; multi-member gzip as mxscan writes it)
 * or standard input, one line at a time with bounded memory, parses each line
 * with jsonr and hands every record (a JSON object) to a callback.
 *
 * A line that is not a JSON object is skipped and counted, with a message on
 * stderr naming the file, the line number, the byte offset and the problem
 * (the first RIN_MAX_MESSAGES per run; then only counts). Blank lines are
 * skipped silently. A line longer than JR_MAX_LINE is skipped without being
 * held in memory. A truncated gzip stream or a read error is reported and
 * counted as an input error; what was read before it is kept.
 */
#ifndef MXREPORT_RIN_H
#define MXREPORT_RIN_H

#include "mxscan/jsonr.h"

#include <stdint.h>

#define RIN_MAX_MESSAGES 20

struct rin_stats {
	uint64_t files;     /* inputs opened */
	uint64_t lines;     /* lines read, blank and malformed included */
	uint64_t records;   /* JSON objects handed to the callback */
	uint64_t malformed; /* lines skipped: not JSON, not an object, too long */
	uint64_t blank;     /* empty or white-space-only lines */
	uint64_t bytes;     /* uncompressed bytes */
	uint64_t io_errors; /* inputs that could not be opened or read to their end */
	unsigned messages;  /* messages printed so far */
	int quiet;          /* print no per-line messages (counts only) */
};

/*
 * Called for each record; rec is a JSON object valid until the callback
 * returns. file is the name as given ("-" for standard input), line counts
 * from 1. A non-zero return stops the reading and is returned by rin_read().
 */
typedef int (*rin_cb)(void *ctx, const struct jr_val *rec, const char *file, uint64_t line);

/*
 * Read every record of the nfiles inputs in order ("-" or no input at all
 * means standard input) into cb. Statistics add up in st (zero it first).
 * Returns 0, the callback's non-zero value, or -1 when memory ran out.
 * Unreadable inputs are not fatal: they are counted in st->io_errors.
 */
int rin_read(const char *const *files, int nfiles, rin_cb cb, void *ctx, struct rin_stats *st);

#endif
