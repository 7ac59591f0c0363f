/*
 * recq: the record writer thread and the queues that feed it.
 *
 * Worker threads never write records themselves: each one is a producer with
 * its own bounded single-producer/single-consumer ring (lock-free: two atomic
 * positions, no mutex) and hands finished records to one writer thread, which
 * alone calls recw (compression, member boundaries, write()). A producer
 * gathers one unit (a host record and the certificate records it brought,
 * for instance) with recq_add() and hands it over whole with recq_commit():
 * the writer writes a unit's records contiguously and finishes a member only
 * between units, so a unit is never split across members.
 *
 * Never blocking: when the ring is full, recq_commit() keeps the unit in the
 * producer's own overflow list (memory, no lock) and moves it into the ring
 * at a later recq_commit()/recq_pump(); recq_backlog() tells the producer how
 * much it keeps, so it can stop taking new work (back-pressure). The writer is
 * woken through an eventfd only when it is asleep (one atomic load per unit
 * otherwise) and polls with a short timeout in any case, which is also when it
 * calls recw_tick() for the --flush-secs members.
 *
 * Lifecycle: recq_start() (producers fixed) ... producers commit ...
 * recq_finish(p) by each producer when it is done (hands over its overflow
 * list without waiting) ... recq_stop() once every producer thread has ended
 * (joined): writes everything handed over, stops the writer thread. The recw
 * stays open: the caller may write further records directly and closes it.
 */
#ifndef MXSCAN_RECQ_H
#define MXSCAN_RECQ_H

#include <stddef.h>
#include <stdint.h>

struct recw;
struct recq;
struct recq_prod;

struct recq_opts {
	size_t ring_bytes;  /* per producer; 0: 1 MiB. Rounded up to 16, at least 256. */
	unsigned tick_ms;   /* writer's poll timeout and recw_tick() interval; 0: 100 */
	size_t backlog_max; /* recq_backlog() above this: the producer should back off; 0: ring_bytes */
};

/* Start the writer thread on w with nprod producers. NULL with a message in err on failure. */
struct recq *recq_start(struct recw *w, unsigned nprod, const struct recq_opts *o, char *err, size_t errlen);

/* Producer i (0 <= i < nprod): one thread's handle, used by that thread only. */
struct recq_prod *recq_producer(struct recq *q, unsigned i);

/*
 * Add one record (len bytes, no newline) to the producer's unit in progress.
 * Returns 0, RECW_EINVAL (empty or contains '\n': not added), or RECW_EFAILED
 * (the writer has failed or out of memory: the unit is dropped).
 */
int recq_add(struct recq_prod *p, const char *line, size_t len);

/*
 * Hand the unit in progress to the writer (nothing when it is empty). Never
 * waits. Returns 0, or RECW_EFAILED when the writer has failed or memory ran
 * out (the unit's records are dropped and counted in recq_dropped()).
 */
int recq_commit(struct recq_prod *p);

/* Move overflowed units into the ring when room freed up; returns recq_backlog(). */
size_t recq_pump(struct recq_prod *p);

/* Bytes of units this producer keeps in its overflow list (not yet in its ring). */
size_t recq_backlog(const struct recq_prod *p);

/* 1 when recq_backlog() is above the options' backlog_max: take no new work. */
int recq_congested(const struct recq_prod *p);

/* The producer is done: commits its unit in progress and hands over its overflow list. */
void recq_finish(struct recq_prod *p);

/* Counts of one writer's life, records (not units) except overflows. */
struct recq_stats {
	uint64_t written;   /* records the writer thread handed to recw successfully */
	uint64_t dropped;   /* records lost: writer failed, out of memory */
	uint64_t overflows; /* times a producer's ring was full (the unit went to its overflow list) */
	uint64_t wraps;     /* times the writer followed a ring from its end back to its start */
};

/*
 * After every producer thread ended: write everything handed over, stop and
 * join the writer thread, free q (NULL: no-op). Fills st when not NULL.
 * Returns 0, or RECW_EIO when the writer failed (recw_error() of the recw
 * says why) or records were dropped.
 */
int recq_stop(struct recq *q, struct recq_stats *st);

#endif
