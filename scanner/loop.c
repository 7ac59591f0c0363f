/*
 * loop: epoll event loop with a hashed timing wheel.
 *
 * File descriptors live in an array indexed by fd (like redis' ae.c), so a
 * lookup is one load. Timers are intrusive nodes in a wheel of LOOP_SLOTS
 * slots of LOOP_TICK_MS each: arming and cancelling are O(1) list operations;
 * a timer whose deadline is more than one revolution away simply stays in its
 * slot until the wheel comes round to its expiry (each node keeps its absolute
 * expiry). The epoll wait is bounded by the next non-empty slot found within a
 * short look-ahead, so an idle loop with far timers does not spin.
 */
#include "mxscan/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_TICK_MS    4
#define LOOP_SLOTS      8192 /* 8192 * 4 ms = 32.8 s per revolution */
#define LOOP_LOOKAHEAD  256
#define LOOP_MAX_EVENTS 256

struct fd_entry {
	loop_fd_cb cb;
	void *ud;
	uint32_t events; /* LOOP_READ|LOOP_WRITE as registered */
	int active;
};

struct loop {
	int epfd;
	int max_fd;
	struct fd_entry *fds;
	struct timer slots[LOOP_SLOTS]; /* list heads (sentinels) */
	uint64_t now_ms;
	uint64_t wheel_ms; /* time up to which slots have been processed */
	uint64_t armed;
	int stop;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t to_epoll(uint32_t ev)
{
	uint32_t e = 0;
	if (ev & LOOP_READ)
		e |= EPOLLIN | EPOLLRDHUP;
	if (ev & LOOP_WRITE)
		e |= EPOLLOUT;
	return e;
}

struct loop *loop_new(int max_fd)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->fds = calloc((size_t)max_fd, sizeof(*l->fds));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!l->fds || l->epfd < 0) {
		free(l->fds);
		if (l->epfd >= 0)
			close(l->epfd);
		free(l);
		return NULL;
	}
	l->max_fd = max_fd;
	for (int i = 0; i < LOOP_SLOTS; i++)
		l->slots[i].next = l->slots[i].prev = &l->slots[i];
	l->now_ms = l->wheel_ms = mono_ms();
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l->fds);
	free(l);
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *ud)
{
	if (fd < 0 || fd >= l->max_fd) {
		errno = EINVAL;
		return -1;
	}
	struct epoll_event ev = { .events = to_epoll(events), .data.fd = fd };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	l->fds[fd] = (struct fd_entry){ .cb = cb, .ud = ud, .events = events, .active = 1 };
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	if (fd < 0 || fd >= l->max_fd || !l->fds[fd].active) {
		errno = EINVAL;
		return -1;
	}
	if (l->fds[fd].events == events)
		return 0;
	struct epoll_event ev = { .events = to_epoll(events), .data.fd = fd };
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -1;
	l->fds[fd].events = events;
	return 0;
}

void loop_del_fd(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->max_fd || !l->fds[fd].active)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd].active = 0;
	l->fds[fd].cb = NULL;
}

uint64_t loop_now_ms(struct loop *l)
{
	return l->now_ms;
}

uint64_t loop_update_now(struct loop *l)
{
	l->now_ms = mono_ms();
	return l->now_ms;
}

void timer_init(struct timer *t, timer_cb cb, void *ud)
{
	t->next = t->prev = NULL;
	t->expire_ms = 0;
	t->cb = cb;
	t->ud = ud;
}

static void unlink_timer(struct timer *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

void loop_timer_cancel(struct loop *l, struct timer *t)
{
	if (!timer_armed(t))
		return;
	unlink_timer(t);
	l->armed--;
}

void loop_timer_arm(struct loop *l, struct timer *t, uint64_t delay_ms)
{
	loop_timer_cancel(l, t);
	t->expire_ms = l->now_ms + delay_ms;
	/* Never place a timer in a slot the wheel has already passed. */
	uint64_t at = t->expire_ms < l->wheel_ms ? l->wheel_ms : t->expire_ms;
	struct timer *head = &l->slots[(at / LOOP_TICK_MS) % LOOP_SLOTS];
	t->prev = head->prev;
	t->next = head;
	head->prev->next = t;
	head->prev = t;
	l->armed++;
}

uint64_t loop_timers_armed(const struct loop *l)
{
	return l->armed;
}

/* Fire every timer whose expiry is <= now, walking the slots the clock has
 * passed since the last call. A callback may arm or cancel any timer. */
static int run_timers(struct loop *l)
{
	int ran = 0;
	uint64_t now = l->now_ms;
	if (now < l->wheel_ms)
		return 0;
	uint64_t first = l->wheel_ms / LOOP_TICK_MS, last = now / LOOP_TICK_MS;
	if (last - first >= LOOP_SLOTS)
		first = last - LOOP_SLOTS + 1; /* every slot is visited once */
	for (uint64_t tick = first; tick <= last; tick++) {
		struct timer *head = &l->slots[tick % LOOP_SLOTS];
		/* Detach expired timers one by one; callbacks may re-arm into this slot,
		 * so collect into a local list first. */
		struct timer due = { .next = &due, .prev = &due };
		struct timer *t = head->next;
		while (t != head) {
			struct timer *nx = t->next;
			if (t->expire_ms <= now) {
				unlink_timer(t);
				t->prev = due.prev;
				t->next = &due;
				due.prev->next = t;
				due.prev = t;
			}
			t = nx;
		}
		while (due.next != &due) {
			t = due.next;
			unlink_timer(t);
			l->armed--;
			t->cb(l, t, t->ud);
			ran++;
		}
	}
	l->wheel_ms = now + 1;
	return ran;
}

/* Milliseconds until the next timer could be due, bounded by the look-ahead. */
static int next_timeout(struct loop *l, int max_wait_ms)
{
	if (l->armed == 0)
		return max_wait_ms;
	uint64_t tick = l->wheel_ms / LOOP_TICK_MS;
	for (int i = 0; i < LOOP_LOOKAHEAD; i++) {
		struct timer *head = &l->slots[(tick + (uint64_t)i) % LOOP_SLOTS];
		if (head->next != head) {
			uint64_t soonest = UINT64_MAX;
			for (struct timer *t = head->next; t != head; t = t->next)
				if (t->expire_ms < soonest)
					soonest = t->expire_ms;
			int64_t d = (int64_t)soonest - (int64_t)l->now_ms;
			if (d < 0)
				d = 0;
			/* a far timer sharing this slot: wait until the slot's end */
			int64_t slot_end = (int64_t)((tick + (uint64_t)i + 1) * LOOP_TICK_MS) - (int64_t)l->now_ms;
			if (d > slot_end)
				d = slot_end > 0 ? slot_end : 0;
			if (max_wait_ms >= 0 && d > max_wait_ms)
				d = max_wait_ms;
			return (int)d;
		}
	}
	int d = LOOP_LOOKAHEAD * LOOP_TICK_MS;
	return (max_wait_ms >= 0 && max_wait_ms < d) ? max_wait_ms : d;
}

int loop_run_once(struct loop *l, int max_wait_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	loop_update_now(l);
	int ran = run_timers(l);
	int timeout = ran ? 0 : next_timeout(l, max_wait_ms);
	int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout);
	if (n < 0) {
		if (errno == EINTR)
			n = 0;
		else
			return -1;
	}
	loop_update_now(l);
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		struct fd_entry *e = &l->fds[fd];
		if (!e->active || !e->cb)
			continue; /* closed by an earlier callback in this batch */
		uint32_t ev = 0;
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
			ev |= LOOP_READ;
		if (evs[i].events & EPOLLOUT)
			ev |= LOOP_WRITE;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			ev |= LOOP_ERROR;
		e->cb(l, fd, ev, e->ud);
		ran++;
	}
	ran += run_timers(l);
	return ran;
}

void loop_run(struct loop *l)
{
	l->stop = 0;
	while (!l->stop)
		if (loop_run_once(l, 1000) < 0)
			break;
}

void loop_stop(struct loop *l)
{
	l->stop = 1;
}
int loop_stopped(const struct loop *l)
{
	return l->stop;
}
