/*
 * loop: the event loop every mxscan program runs on (scanner, fleet server).
 *
 * One loop per thread. File descriptors are registered with a callback and an
 * interest set; timers are intrusive nodes kept in a hashed timing wheel, so
 * arming, re-arming and cancelling are O(1) however many connections are open.
 * The loop API is deliberately as small as redis' ae.h.
 */
#ifndef MXSCAN_LOOP_H
#define MXSCAN_LOOP_H

#include <stdint.h>

struct loop;

enum loop_events {
	LOOP_READ = 1u,
	LOOP_WRITE = 2u,
	LOOP_ERROR = 4u, /* EPOLLERR/EPOLLHUP; always reported, never requested */
};

typedef void (*loop_fd_cb)(struct loop *l, int fd, uint32_t events, void *ud);

struct timer;
typedef void (*timer_cb)(struct loop *l, struct timer *t, void *ud);

/* An intrusive timer. Embed it in your object; never copy an armed timer. */
struct timer {
	struct timer *next, *prev; /* wheel slot list; NULL when not armed */
	uint64_t expire_ms;        /* absolute, in loop_now_ms() terms */
	timer_cb cb;
	void *ud;
};

/* Create a loop able to watch file descriptors 0..max_fd-1. NULL on failure. */
struct loop *loop_new(int max_fd);
void loop_free(struct loop *l);

/* Register fd with an interest set (LOOP_READ|LOOP_WRITE) and a callback.
 * Returns 0, or -1 with errno (EINVAL when fd >= max_fd). */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *ud);
/* Change the interest set of a registered fd (no syscall when unchanged). */
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
/* Unregister fd (call before close). Safe on an fd that is not registered. */
void loop_del_fd(struct loop *l, int fd);

/* Monotonic milliseconds, cached once per loop iteration. */
uint64_t loop_now_ms(struct loop *l);
/* Refresh the cached clock and return it. */
uint64_t loop_update_now(struct loop *l);

void timer_init(struct timer *t, timer_cb cb, void *ud);
/* Arm (or re-arm) t to fire delay_ms from now. O(1). */
void loop_timer_arm(struct loop *l, struct timer *t, uint64_t delay_ms);
/* Cancel t; a no-op when it is not armed. O(1). */
void loop_timer_cancel(struct loop *l, struct timer *t);
static inline int timer_armed(const struct timer *t)
{
	return t->prev != 0;
}
/* Number of armed timers. */
uint64_t loop_timers_armed(const struct loop *l);

/* Wait at most max_wait_ms (-1: until something happens) for events, then
 * dispatch fd callbacks and expired timers. Returns the number of callbacks run,
 * or -1 on a fatal epoll error. */
int loop_run_once(struct loop *l, int max_wait_ms);
/* Run until loop_stop() is called. */
void loop_run(struct loop *l);
void loop_stop(struct loop *l);
int loop_stopped(const struct loop *l);

#endif
