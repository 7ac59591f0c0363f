/* Unit tests of the event loop: timers fire in order, cancel and re-arm are
 * honoured, a callback may arm timers, and fd readiness is dispatched. */
#include "mxscan/loop.h"
#include "tap.h"

#include <unistd.h>

static int fired[8], order[8], norder;

static void cb(struct loop *l, struct timer *t, void *ud)
{
	(void)l;
	(void)t;
	int i = (int)(long)ud;
	fired[i]++;
	order[norder++] = i;
}

static struct timer rearm_me;
static void cb_rearm(struct loop *l, struct timer *t, void *ud)
{
	(void)t;
	(void)ud;
	fired[7]++;
	if (fired[7] < 3)
		loop_timer_arm(l, &rearm_me, 5);
}

static int rd_calls;
static void on_fd(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)ud;
	char b[16];
	if (ev & LOOP_READ) {
		rd_calls++;
		(void)!read(fd, b, sizeof b);
		loop_stop(l);
	}
}

int main(void)
{
	struct loop *l = loop_new(1024);
	ok(l != NULL, "loop_new");
	struct timer t[4];
	for (int i = 0; i < 4; i++)
		timer_init(&t[i], cb, (void *)(long)i);
	loop_timer_arm(l, &t[0], 30);
	loop_timer_arm(l, &t[1], 10);
	loop_timer_arm(l, &t[2], 20);
	loop_timer_arm(l, &t[3], 15);
	loop_timer_cancel(l, &t[3]);
	ok(!timer_armed(&t[3]), "cancelled timer is not armed");
	is_int(loop_timers_armed(l), 3, "three timers armed");
	uint64_t start = loop_now_ms(l);
	while (loop_timers_armed(l) && loop_now_ms(l) - start < 2000)
		loop_run_once(l, 100);
	is_int(norder, 3, "three timers fired");
	ok(order[0] == 1 && order[1] == 2 && order[2] == 0, "fired in deadline order (%d %d %d)", order[0], order[1],
	   order[2]);
	is_int(fired[3], 0, "cancelled timer never fires");
	ok(loop_now_ms(l) - start >= 30, "no timer fires early");

	/* re-arm of an armed timer moves it */
	norder = 0;
	loop_timer_arm(l, &t[0], 50);
	loop_timer_arm(l, &t[0], 5);
	is_int(loop_timers_armed(l), 1, "re-arm keeps one node");
	start = loop_now_ms(l);
	while (loop_timers_armed(l))
		loop_run_once(l, 100);
	ok(loop_now_ms(l) - start < 45, "re-armed timer fires at its new deadline");

	/* a callback re-arming itself */
	timer_init(&rearm_me, cb_rearm, NULL);
	loop_timer_arm(l, &rearm_me, 5);
	while (loop_timers_armed(l))
		loop_run_once(l, 100);
	is_int(fired[7], 3, "self re-arming callback ran three times");

	/* a timer beyond one wheel revolution keeps its absolute expiry */
	struct timer far;
	timer_init(&far, cb, (void *)(long)5);
	loop_timer_arm(l, &far, 40000);
	for (int i = 0; i < 5; i++)
		loop_run_once(l, 10);
	is_int(fired[5], 0, "far timer does not fire early");
	loop_timer_cancel(l, &far);

	/* fd readiness */
	int p[2];
	ok(pipe(p) == 0, "pipe");
	ok(loop_add_fd(l, p[0], LOOP_READ, on_fd, NULL) == 0, "add fd");
	ok(loop_add_fd(l, 5000, LOOP_READ, on_fd, NULL) < 0, "fd beyond max_fd refused");
	(void)!write(p[1], "x", 1);
	loop_run(l);
	is_int(rd_calls, 1, "read callback dispatched once");
	loop_del_fd(l, p[0]);
	close(p[0]);
	close(p[1]);
	loop_free(l);
	return done_testing();
}
