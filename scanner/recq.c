/*
 * recq: one writer thread fed by per-producer SPSC rings (see recq.h).
 *
 * A ring is a byte buffer of cap bytes (a multiple of 16) with two positions
 * that only grow: head (written by the producer alone, release) and tail
 * (written by the writer alone, release); head - tail bytes are in use. An
 * entry starts at a 16-byte boundary with a 16-byte header:
 *   INLINE: len bytes of the unit follow (padded to 16);
 *   HEAP:   a pointer to a malloc'd unit follows (units larger than a quarter
 *           of the ring, and overflowed units once they get in: no copy);
 *   WRAP:   the rest of the buffer is unused, the next entry is at offset 0.
 * Entries are contiguous, so the writer hands recw one pointer per unit.
 *
 * Wake-up without a lock: the writer announces sleeping = 1, then (seq_cst
 * fence) looks at every ring once more before poll(); a producer publishes
 * head, then (seq_cst fence) reads sleeping and writes the eventfd only when
 * it is set. One of the two always sees the other (Dekker), and the poll has
 * a timeout anyway.
 */
#include "mxscan/recq.h"

#include "mxscan/recw.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define RECQ_DEF_RING (1u << 20)
#define RECQ_MIN_RING 256u
#define RECQ_DEF_TICK 100u
#define RECQ_BATCH    64 /* units taken from one ring before looking at the next */

enum { E_INLINE = 1, E_HEAP = 2, E_WRAP = 3 };

struct recq_hdr {
	uint32_t kind;
	uint32_t pad;
	uint64_t len; /* unit bytes (INLINE, HEAP) */
};
_Static_assert(sizeof(struct recq_hdr) == 16, "ring header is 16 bytes");

/* A unit outside the ring: overflow list item and HEAP entries. */
struct recq_unit {
	struct recq_unit *next;
	size_t len;
	char data[];
};

struct recq_prod {
	/* producer's cache line */
	_Alignas(64) _Atomic uint64_t head;
	uint64_t tail_cache; /* last tail seen by the producer */
	char *unit;          /* unit in progress: lines with '\n' */
	size_t ulen, ucap;
	struct recq_unit *ov_head, *ov_tail; /* overflow list, producer-only */
	size_t ov_bytes;
	int failed_unit; /* recq_add failed: the unit in progress is dropped at commit */
	struct recq *q;
	/* writer's cache line */
	_Alignas(64) _Atomic uint64_t tail;
	_Atomic(struct recq_unit *) leftover; /* overflow handed over by recq_finish */
	atomic_int finished;
	char *buf;
	size_t cap;
};

struct recq {
	struct recw *w;
	struct recq_prod *prods;
	unsigned nprod;
	size_t backlog_max;
	unsigned tick_ms;
	int efd;
	pthread_t th;
	atomic_int sleeping, stop, failed;
	_Atomic uint64_t written, dropped, overflows;
	uint64_t wraps; /* writer thread only */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t pad16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

static void wake(struct recq *q)
{
	uint64_t one = 1;

	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&q->sleeping, memory_order_relaxed) &&
	    atomic_exchange_explicit(&q->sleeping, 0, memory_order_relaxed)) {
		ssize_t r = write(q->efd, &one, sizeof(one)); /* non-blocking eventfd: a syscall, no disk */
		(void)r;
	}
}

/*
 * Put one entry in p's ring: inline copy of data (heap == NULL) or the pointer
 * heap. Returns 0, or -1 when there is no room now (nothing changed).
 */
static int ring_put(struct recq_prod *p, const char *data, size_t len, struct recq_unit *heap)
{
	uint64_t head = atomic_load_explicit(&p->head, memory_order_relaxed);
	size_t off = (size_t)(head % p->cap), need = sizeof(struct recq_hdr) + (heap ? 16 : pad16(len));
	size_t skip = off + need > p->cap ? p->cap - off : 0;
	struct recq_hdr h = { .kind = heap ? E_HEAP : E_INLINE, .len = heap ? heap->len : len };

	if (need + skip > p->cap)
		return -1;
	if (head + need + skip - p->tail_cache > p->cap) {
		p->tail_cache = atomic_load_explicit(&p->tail, memory_order_acquire);
		if (head + need + skip - p->tail_cache > p->cap)
			return -1;
	}
	if (skip) {
		struct recq_hdr wr = { .kind = E_WRAP };

		memcpy(p->buf + off, &wr, sizeof(wr));
		off = 0;
	}
	memcpy(p->buf + off, &h, sizeof(h));
	if (heap)
		memcpy(p->buf + off + sizeof(h), &heap, sizeof(heap));
	else
		memcpy(p->buf + off + sizeof(h), data, len);
	atomic_store_explicit(&p->head, head + skip + need, memory_order_release);
	return 0;
}

/* Overflowed units into the ring (as HEAP entries: no copy), in order. */
size_t recq_pump(struct recq_prod *p)
{
	int moved = 0;

	while (p->ov_head) {
		struct recq_unit *u = p->ov_head, *next = u->next;
		size_t len = u->len;

		/* once in the ring u belongs to the writer, which may free it at once */
		if (ring_put(p, NULL, 0, u) < 0)
			break;
		p->ov_head = next;
		p->ov_bytes -= len;
		moved = 1;
	}
	if (!p->ov_head)
		p->ov_tail = NULL;
	if (moved)
		wake(p->q);
	return p->ov_bytes;
}

size_t recq_backlog(const struct recq_prod *p)
{
	return p->ov_bytes;
}

int recq_congested(const struct recq_prod *p)
{
	return p->ov_bytes > p->q->backlog_max;
}

static struct recq_unit *unit_copy(const char *data, size_t len)
{
	struct recq_unit *u = malloc(sizeof(*u) + len);

	if (u) {
		u->next = NULL;
		u->len = len;
		memcpy(u->data, data, len);
	}
	return u;
}

int recq_add(struct recq_prod *p, const char *line, size_t len)
{
	if (!line || len == 0 || memchr(line, '\n', len))
		return RECW_EINVAL;
	if (atomic_load_explicit(&p->q->failed, memory_order_relaxed) || p->failed_unit) {
		p->failed_unit = 1;
		return RECW_EFAILED;
	}
	if (len + 1 > p->ucap - p->ulen) {
		size_t cap = p->ucap ? p->ucap : 4096;
		char *nb;

		while (cap - p->ulen < len + 1 && cap < SIZE_MAX / 2)
			cap *= 2;
		if (cap - p->ulen < len + 1 || !(nb = realloc(p->unit, cap))) {
			p->failed_unit = 1;
			return RECW_EFAILED;
		}
		p->unit = nb;
		p->ucap = cap;
	}
	memcpy(p->unit + p->ulen, line, len);
	p->unit[p->ulen + len] = '\n';
	p->ulen += len + 1;
	return 0;
}

static unsigned count_lines(const char *s, size_t len)
{
	unsigned n = 0;

	for (const char *e = s + len; (s = memchr(s, '\n', (size_t)(e - s))) != NULL; s++)
		n++;
	return n;
}

int recq_commit(struct recq_prod *p)
{
	struct recq *q = p->q;
	struct recq_unit *u = NULL;
	int rc = 0;

	if (p->ulen == 0 && !p->failed_unit)
		return 0;
	if (p->failed_unit || atomic_load_explicit(&q->failed, memory_order_relaxed)) {
		atomic_fetch_add(&q->dropped, p->failed_unit ? 1 : count_lines(p->unit, p->ulen));
		rc = RECW_EFAILED;
		goto out;
	}
	if (p->ov_head)
		recq_pump(p);
	if (!p->ov_head) {
		if (p->ulen <= p->cap / 4) {
			if (ring_put(p, p->unit, p->ulen, NULL) == 0)
				goto handed;
		} else if ((u = unit_copy(p->unit, p->ulen)) != NULL && ring_put(p, NULL, 0, u) == 0) {
			goto handed;
		}
	}
	/* Ring full (or others wait before this unit): keep it, never wait. */
	if (!u)
		u = unit_copy(p->unit, p->ulen);
	if (!u) {
		atomic_fetch_add(&q->dropped, count_lines(p->unit, p->ulen));
		rc = RECW_EFAILED;
		goto out;
	}
	if (p->ov_tail)
		p->ov_tail->next = u;
	else
		p->ov_head = u;
	p->ov_tail = u;
	p->ov_bytes += u->len;
	atomic_fetch_add_explicit(&q->overflows, 1, memory_order_relaxed);
	goto out;
handed:
	wake(q);
out:
	p->ulen = 0;
	p->failed_unit = 0;
	return rc;
}

void recq_finish(struct recq_prod *p)
{
	recq_commit(p);
	recq_pump(p);
	atomic_store_explicit(&p->leftover, p->ov_head, memory_order_relaxed);
	p->ov_head = p->ov_tail = NULL;
	p->ov_bytes = 0;
	atomic_store_explicit(&p->finished, 1, memory_order_release);
	wake(p->q);
}

/* Writer: hand one unit to recw. */
static void write_unit(struct recq *q, const char *data, size_t len)
{
	if (atomic_load_explicit(&q->failed, memory_order_relaxed)) {
		atomic_fetch_add(&q->dropped, count_lines(data, len));
		return;
	}
	if (recw_write_lines(q->w, data, len) < 0) {
		atomic_store(&q->failed, 1);
		atomic_fetch_add(&q->dropped, count_lines(data, len));
		return;
	}
	atomic_fetch_add_explicit(&q->written, count_lines(data, len), memory_order_relaxed);
}

/* Writer: take up to max units from p's ring (max 0: all). Returns units taken. */
static unsigned drain_ring(struct recq *q, struct recq_prod *p, unsigned max)
{
	uint64_t tail = atomic_load_explicit(&p->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&p->head, memory_order_acquire);
	unsigned n = 0;

	while (tail != head && (max == 0 || n < max)) {
		size_t off = (size_t)(tail % p->cap);
		struct recq_hdr h;

		memcpy(&h, p->buf + off, sizeof(h));
		if (h.kind == E_WRAP) {
			q->wraps++;
			tail += p->cap - off;
			continue;
		}
		if (h.kind == E_HEAP) {
			struct recq_unit *u;

			memcpy(&u, p->buf + off + sizeof(h), sizeof(u));
			write_unit(q, u->data, u->len);
			free(u);
			tail += sizeof(h) + 16;
		} else {
			write_unit(q, p->buf + off + sizeof(h), (size_t)h.len);
			tail += sizeof(h) + pad16((size_t)h.len);
		}
		n++;
		/* Give the room back at once: the producer may be waiting for it. */
		atomic_store_explicit(&p->tail, tail, memory_order_release);
		if (tail == head)
			head = atomic_load_explicit(&p->head, memory_order_acquire);
	}
	return n;
}

/* Writer: everything a finished producer left (ring first, then its overflow). */
static unsigned drain_finished(struct recq *q, struct recq_prod *p)
{
	unsigned n = drain_ring(q, p, 0);
	struct recq_unit *u = atomic_exchange_explicit(&p->leftover, NULL, memory_order_relaxed);

	while (u) {
		struct recq_unit *next = u->next;

		write_unit(q, u->data, u->len);
		free(u);
		u = next;
		n++;
	}
	return n;
}

static int rings_empty(struct recq *q)
{
	for (unsigned i = 0; i < q->nprod; i++) {
		struct recq_prod *p = &q->prods[i];

		if (atomic_load_explicit(&p->head, memory_order_relaxed) !=
		    atomic_load_explicit(&p->tail, memory_order_relaxed))
			return 0;
		if (atomic_load_explicit(&p->finished, memory_order_relaxed) &&
		    atomic_load_explicit(&p->leftover, memory_order_relaxed))
			return 0;
	}
	return 1;
}

static void *writer_main(void *arg)
{
	struct recq *q = arg;
	uint64_t last_tick = mono_ms();

	for (;;) {
		unsigned n = 0;
		int stopping = atomic_load_explicit(&q->stop, memory_order_acquire);

		for (unsigned i = 0; i < q->nprod; i++) {
			struct recq_prod *p = &q->prods[i];

			if (stopping || atomic_load_explicit(&p->finished, memory_order_acquire))
				n += drain_finished(q, p);
			else
				n += drain_ring(q, p, RECQ_BATCH);
		}
		uint64_t now = mono_ms();
		if (now - last_tick >= q->tick_ms) {
			last_tick = now;
			if (recw_tick(q->w, now) < 0)
				atomic_store(&q->failed, 1);
		}
		if (stopping)
			break; /* every producer ended before stop: all of it was just written */
		if (n > 0)
			continue;
		atomic_store_explicit(&q->sleeping, 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if (!rings_empty(q) || atomic_load(&q->stop)) {
			atomic_store(&q->sleeping, 0);
			continue;
		}
		struct pollfd pfd = { .fd = q->efd, .events = POLLIN };
		if (poll(&pfd, 1, (int)q->tick_ms) > 0) {
			uint64_t v;
			ssize_t r = read(q->efd, &v, sizeof(v));
			(void)r;
		}
		atomic_store(&q->sleeping, 0);
	}
	return NULL;
}

struct recq *recq_start(struct recw *w, unsigned nprod, const struct recq_opts *o, char *err, size_t errlen)
{
	struct recq_opts def = { 0 };
	struct recq *q;
	size_t cap;

	if (!o)
		o = &def;
	if (!w || nprod == 0) {
		snprintf(err, errlen, "records: writer needs an output and a producer");
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		goto oom;
	q->efd = -1;
	q->w = w;
	q->nprod = nprod;
	q->tick_ms = o->tick_ms ? o->tick_ms : RECQ_DEF_TICK;
	cap = o->ring_bytes ? pad16(o->ring_bytes) : RECQ_DEF_RING;
	if (cap < RECQ_MIN_RING)
		cap = RECQ_MIN_RING;
	q->backlog_max = o->backlog_max ? o->backlog_max : cap;
	q->prods = aligned_alloc(_Alignof(struct recq_prod), sizeof(*q->prods) * nprod);
	if (!q->prods)
		goto oom;
	memset(q->prods, 0, sizeof(*q->prods) * nprod);
	for (unsigned i = 0; i < nprod; i++) {
		q->prods[i].q = q;
		q->prods[i].cap = cap;
		if (!(q->prods[i].buf = malloc(cap)))
			goto oom;
	}
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		snprintf(err, errlen, "records: eventfd: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&q->th, NULL, writer_main, q) != 0) {
		snprintf(err, errlen, "records: cannot start the writer thread");
		goto fail;
	}
	return q;
oom:
	snprintf(err, errlen, "records: out of memory for the writer queues");
fail:
	if (q) {
		if (q->prods)
			for (unsigned i = 0; i < nprod; i++)
				free(q->prods[i].buf);
		free(q->prods);
		if (q->efd >= 0)
			close(q->efd);
		free(q);
	}
	return NULL;
}

struct recq_prod *recq_producer(struct recq *q, unsigned i)
{
	return i < q->nprod ? &q->prods[i] : NULL;
}

int recq_stop(struct recq *q, struct recq_stats *st)
{
	uint64_t one = 1;
	ssize_t r;
	int rc;

	if (!q)
		return 0;
	/* Producers that never called recq_finish: same thing now, from this
	 * thread, which joined them. */
	for (unsigned i = 0; i < q->nprod; i++)
		if (!atomic_load(&q->prods[i].finished))
			recq_finish(&q->prods[i]);
	atomic_store_explicit(&q->stop, 1, memory_order_release);
	r = write(q->efd, &one, sizeof(one));
	(void)r;
	pthread_join(q->th, NULL);
	rc = atomic_load(&q->failed) || atomic_load(&q->dropped) ? RECW_EIO : 0;
	if (st) {
		st->written = atomic_load(&q->written);
		st->dropped = atomic_load(&q->dropped);
		st->overflows = atomic_load(&q->overflows);
		st->wraps = q->wraps;
	}
	for (unsigned i = 0; i < q->nprod; i++) {
		free(q->prods[i].buf);
		free(q->prods[i].unit);
	}
	free(q->prods);
	close(q->efd);
	free(q);
	return rc;
}
