/* tests/daemon/test_loop.c — the event loop: timers, hooks, signals, polls,
 * and that an idle loop sleeps instead of spinning. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/loop.h"
#include "tests/lib/check_main.h"

static struct loop loop;

static void setup(void)
{
	ck_assert_int_eq(loop_init(&loop, 64), 0);
}

static void teardown(void)
{
	loop_fini(&loop);
}

struct probe {
	struct loop_timer timer;
	int fired;
	uint64_t fired_at;
	uint64_t order;
};
static uint64_t fire_sequence;

static void probe_fire(struct loop_timer *t)
{
	struct probe *p = (struct probe *)t;
	p->fired++;
	p->fired_at = loop_now_ns(&loop);
	p->order = fire_sequence++;
}

START_TEST(test_timers_fire_in_order_never_early)
{
	enum { N = 500 };
	static struct probe probes[N];
	srand(42);
	fire_sequence = 0;
	for (int i = 0; i < N; i++) {
		loop_timer_init(&probes[i].timer, probe_fire);
		probes[i].fired = 0;
		loop_timer_arm(&loop, &probes[i].timer, (uint64_t)(rand() % 40));
	}
	/* Cancel some, move some later. */
	for (int i = 0; i < N; i += 7)
		loop_timer_cancel(&loop, &probes[i].timer);
	for (int i = 3; i < N; i += 11)
		loop_timer_arm(&loop, &probes[i].timer, 45);

	for (int pass = 0; pass < 1000 && loop.heap_len; pass++)
		ck_assert_int_ge(loop_run_once(&loop, 100), 0);
	ck_assert_uint_eq(loop.heap_len, 0);

	uint64_t last = 0;
	for (uint64_t seq = 0; seq < fire_sequence; seq++) {
		for (int i = 0; i < N; i++) {
			if (probes[i].fired && probes[i].order == seq) {
				ck_assert_uint_ge(probes[i].timer.deadline_ns, last);
				last = probes[i].timer.deadline_ns;
			}
		}
	}
	for (int i = 0; i < N; i++) {
		/* Cancelled ones stay quiet unless re-armed afterwards. */
		bool cancelled = i % 7 == 0, rearmed = i % 11 == 3;
		ck_assert_int_eq(probes[i].fired, cancelled && !rearmed ? 0 : 1);
		if (probes[i].fired)
			ck_assert_uint_ge(probes[i].fired_at, probes[i].timer.deadline_ns);
	}
}
END_TEST

static void stop_fire(struct loop_timer *t)
{
	((struct probe *)t)->fired++;
	loop_stop(&loop);
}

/* node_open() can hit a fatal error (loop_stop()) before node_run() calls
 * loop_run(): that stop must not be forgotten. */
START_TEST(test_stop_before_run_is_kept)
{
	struct probe late = { 0 };

	loop_timer_init(&late.timer, stop_fire);
	loop_timer_arm(&loop, &late.timer, 300);
	loop_stop(&loop);
	ck_assert_int_eq(loop_run(&loop), 0);
	ck_assert_int_eq(late.fired, 0);
	loop_timer_cancel(&loop, &late.timer);
}
END_TEST

/* An idle loop sleeps until its timer: a handful of wake-ups, not thousands. */
START_TEST(test_idle_loop_does_not_spin)
{
	struct probe p = { 0 };
	loop_timer_init(&p.timer, probe_fire);
	loop_timer_arm(&loop, &p.timer, 150);
	uint64_t before = loop.passes;
	while (!p.fired)
		ck_assert_int_ge(loop_run_once(&loop, -1), 0);
	ck_assert_uint_le(loop.passes - before, 3);
}
END_TEST

struct counting_hook {
	struct loop_hook hook;
	int runs;
};

static void count_hook(struct loop_hook *h)
{
	((struct counting_hook *)h)->runs++;
}

START_TEST(test_hooks_run_every_pass)
{
	struct counting_hook a = { .hook.run = count_hook }, b = { .hook.run = count_hook };
	loop_add_hook(&loop, &a.hook);
	loop_add_hook(&loop, &b.hook);
	for (int i = 0; i < 5; i++)
		loop_run_once(&loop, 0);
	ck_assert_int_eq(a.runs, 5);
	ck_assert_int_eq(b.runs, 5);
}
END_TEST

static int last_signal;
static void on_signal(struct loop *l, int signo, void *data)
{
	(void)l;
	*(int *)data += 1;
	last_signal = signo;
}

START_TEST(test_signals_through_signalfd)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	int count = 0;
	ck_assert_int_eq(loop_watch_signals(&loop, &set, on_signal, &count), 0);
	kill(getpid(), SIGUSR1);
	for (int i = 0; i < 50 && count < 1; i++)
		loop_run_once(&loop, 100);
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(last_signal, SIGUSR1);
	kill(getpid(), SIGHUP);
	for (int i = 0; i < 50 && count < 2; i++)
		loop_run_once(&loop, 100);
	ck_assert_int_eq(count, 2);
	ck_assert_int_eq(last_signal, SIGHUP);
}
END_TEST

struct pipe_poll {
	struct loop_poll poll;
	int ready;
	int last_res;
};

static void pipe_ready(struct loop_poll *p, int res)
{
	struct pipe_poll *pp = (struct pipe_poll *)p;
	char buf[16];
	pp->ready++;
	pp->last_res = res;
	/* Drain so the next write is a new event. */
	while (read(p->fd, buf, sizeof(buf)) > 0)
		;
}

START_TEST(test_multishot_poll_and_cancel)
{
	int fds[2];
	ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	struct pipe_poll pp = { 0 };
	ck_assert_int_eq(loop_poll_start(&loop, &pp.poll, fds[0], POLLIN, pipe_ready), 0);
	loop_run_once(&loop, 0);
	ck_assert_int_eq(pp.ready, 0);

	for (int round = 1; round <= 3; round++) {
		ck_assert_int_eq(write(fds[1], "x", 1), 1);
		for (int i = 0; i < 50 && pp.ready < round; i++)
			loop_run_once(&loop, 100);
		ck_assert_int_eq(pp.ready, round);
		ck_assert(pp.last_res & POLLIN);
	}

	loop_poll_cancel(&loop, &pp.poll);
	ck_assert_int_eq(loop_drain(&loop, &pp.poll.inflight, 1000), 0);
	ck_assert_int_eq(write(fds[1], "x", 1), 1);
	for (int i = 0; i < 3; i++)
		loop_run_once(&loop, 20);
	ck_assert_int_eq(pp.ready, 3);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

struct busy_poll {
	struct loop_poll poll; /* first: the poll is the struct */
	int ready;
};

static void busy_ready(struct loop_poll *poll, int res)
{
	(void)res;
	((struct busy_poll *)poll)->ready++;
}

/* A poll whose fd woke it just before the cancellation is submitted: the
 * kernel owns the poll then (its completion is queued), and a plain
 * poll-remove fails without cancelling it. The cancellation must hold
 * anyway, and quickly: the owner frees the poll once the drain returns,
 * and a completion after that would land in freed memory (ASan). */
START_TEST(test_cancel_busy_multishot_poll)
{
	for (int round = 0; round < 20; round++) {
		int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
		ck_assert_int_ge(efd, 0);
		struct busy_poll *bp = calloc(1, sizeof(*bp));
		ck_assert_ptr_nonnull(bp);
		ck_assert_int_eq(loop_poll_start(&loop, &bp->poll, efd, POLLIN, busy_ready), 0);
		for (int i = 0; i < 50 && !bp->ready; i++)
			loop_run_once(&loop, 100);
		ck_assert_int_gt(bp->ready, 0);

		uint64_t one = 1;
		ck_assert_int_eq(write(efd, &one, sizeof(one)), (int)sizeof(one));
		loop_poll_cancel(&loop, &bp->poll);
		ck_assert_int_eq(write(efd, &one, sizeof(one)), (int)sizeof(one));
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int rv = loop_drain(&loop, &bp->poll.inflight, 2000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ck_assert_int_eq(rv, 0);
		int64_t ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		/* a functional bound, far above a working cancellation */
		ck_assert_int_lt(ms, 900);
		free(bp);

		/* Nothing may complete into the freed poll now. */
		for (int i = 0; i < 5; i++) {
			ck_assert_int_eq(write(efd, &one, sizeof(one)), (int)sizeof(one));
			loop_run_once(&loop, 5);
		}
		close(efd);
	}
}
END_TEST

/* Started again before its cancellation completed (as the snapshot child's
 * poll is): the cancellation ends only the old poll, or the new one is
 * armed again; either way the new one keeps reporting. */
START_TEST(test_poll_started_again_while_cancelling)
{
	int a[2], b[2];
	ck_assert_int_eq(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
	struct pipe_poll pp = { 0 };
	ck_assert_int_eq(loop_poll_start(&loop, &pp.poll, a[0], POLLIN, pipe_ready), 0);
	loop_run_once(&loop, 0);
	loop_poll_cancel(&loop, &pp.poll);
	ck_assert_int_eq(loop_poll_start(&loop, &pp.poll, b[0], POLLIN, pipe_ready), 0);
	for (int i = 0; i < 10; i++)
		loop_run_once(&loop, 5);
	for (int round = 1; round <= 3; round++) {
		ck_assert_int_eq(write(b[1], "x", 1), 1);
		for (int i = 0; i < 50 && pp.ready < round; i++)
			loop_run_once(&loop, 100);
		ck_assert_int_eq(pp.ready, round);
	}
	loop_poll_cancel(&loop, &pp.poll);
	ck_assert_int_eq(loop_drain(&loop, &pp.poll.inflight, 1000), 0);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_timers_fire_in_order_never_early);
	tcase_add_test(tc, test_idle_loop_does_not_spin);
	tcase_add_test(tc, test_stop_before_run_is_kept);
	tcase_add_test(tc, test_hooks_run_every_pass);
	tcase_add_test(tc, test_signals_through_signalfd);
	tcase_add_test(tc, test_multishot_poll_and_cancel);
	tcase_add_test(tc, test_cancel_busy_multishot_poll);
	tcase_add_test(tc, test_poll_started_again_while_cancelling);
	suite_add_tcase(s, tc);
	return s;
}
