/* base/loop.c — one thread, one io_uring; see loop.h. */
#include "base/loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int loop_init(struct loop *loop, unsigned entries)
{
	/* DEFER_TASKRUN (6.1) runs completion work only when we ask for
	 * events, which batches it; older kernels get the plain ring. */
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		0,
	};
	int rv = -EINVAL;
	memset(loop, 0, sizeof(*loop));
	loop->signal_fd = -1;
	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		rv = io_uring_queue_init(entries, &loop->ring, flag_sets[i]);
		if (rv != -EINVAL)
			break;
	}
	if (rv < 0)
		return rv;
	loop->now_ns = monotonic_ns();
	return 0;
}

void loop_fini(struct loop *loop)
{
	io_uring_queue_exit(&loop->ring);
	if (loop->signal_fd >= 0)
		close(loop->signal_fd);
	free(loop->heap);
	loop->heap = NULL;
	loop->signal_fd = -1;
}

struct io_uring_sqe *loop_sqe(struct loop *loop)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
	if (!sqe) {
		io_uring_submit(&loop->ring);
		sqe = io_uring_get_sqe(&loop->ring);
	}
	return sqe;
}

uint64_t loop_now_ns(const struct loop *loop)
{
	return loop->now_ns;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}

/* --- timers: binary min-heap --------------------------------------------- */

static void heap_place(struct loop *loop, size_t i, struct loop_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void heap_up(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (loop->heap[parent]->deadline_ns <= t->deadline_ns)
			break;
		heap_place(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_place(loop, i, t);
}

static void heap_down(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= loop->heap_len)
			break;
		if (child + 1 < loop->heap_len &&
		    loop->heap[child + 1]->deadline_ns < loop->heap[child]->deadline_ns)
			child++;
		if (loop->heap[child]->deadline_ns >= t->deadline_ns)
			break;
		heap_place(loop, i, loop->heap[child]);
		i = child;
	}
	heap_place(loop, i, t);
}

void loop_timer_init(struct loop_timer *timer, void (*fire)(struct loop_timer *))
{
	timer->fire = fire;
	timer->deadline_ns = 0;
	timer->heap_index = LOOP_TIMER_IDLE;
}

void loop_timer_cancel(struct loop *loop, struct loop_timer *timer)
{
	size_t i = timer->heap_index;
	if (i == LOOP_TIMER_IDLE)
		return;
	timer->heap_index = LOOP_TIMER_IDLE;
	struct loop_timer *last = loop->heap[--loop->heap_len];
	if (i == loop->heap_len)
		return;
	heap_place(loop, i, last);
	heap_down(loop, i);
	heap_up(loop, last->heap_index);
}

void loop_timer_arm_at(struct loop *loop, struct loop_timer *timer, uint64_t deadline_ns)
{
	loop_timer_cancel(loop, timer);
	if (loop->heap_len == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
		/* plain realloc(), outside the test seam (base/alloc.h): the
		 * abort is the policy, so failing it would only test abort() */
		struct loop_timer **heap = realloc(loop->heap, cap * sizeof(*heap));
		if (!heap)
			abort(); /* a few pointers; nothing sensible to do without them */
		loop->heap = heap;
		loop->heap_cap = cap;
	}
	timer->deadline_ns = deadline_ns;
	heap_place(loop, loop->heap_len++, timer);
	heap_up(loop, timer->heap_index);
}

void loop_timer_arm(struct loop *loop, struct loop_timer *timer, uint64_t delay_ms)
{
	loop_timer_arm_at(loop, timer, loop->now_ns + delay_ms * 1000000u);
}

static void fire_timers(struct loop *loop)
{
	while (loop->heap_len && loop->heap[0]->deadline_ns <= loop->now_ns) {
		struct loop_timer *t = loop->heap[0];
		loop_timer_cancel(loop, t);
		t->fire(t);
	}
}

/* --- hooks, signals, polls ----------------------------------------------- */

void loop_add_hook(struct loop *loop, struct loop_hook *hook)
{
	struct loop_hook **p = &loop->hooks;
	while (*p)
		p = &(*p)->next;
	hook->next = NULL;
	*p = hook;
}

static void arm_signal_read(struct loop *loop)
{
	struct io_uring_sqe *sqe = loop_sqe(loop);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, loop->signal_fd, &loop->siginfo, sizeof(loop->siginfo), 0);
	uring_op_set(sqe, &loop->signal_op);
	loop->signal_armed = true;
}

static void signal_complete(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct loop *loop = (struct loop *)((char *)op - offsetof(struct loop, signal_op));
	loop->signal_armed = false;
	if (cqe->res == (int)sizeof(loop->siginfo)) {
		uring_filled(&loop->siginfo, sizeof(loop->siginfo));
		loop->on_signal(loop, (int)loop->siginfo.ssi_signo, loop->signal_data);
	}
	/* -ECANCELED means the ring is going away; anything else, read again. */
	if (cqe->res != -ECANCELED)
		arm_signal_read(loop);
}

int loop_watch_signals(struct loop *loop, const sigset_t *signals, loop_signal_fn fn, void *data)
{
	if (sigprocmask(SIG_BLOCK, signals, NULL) < 0)
		return -errno;
	loop->signal_fd = signalfd(-1, signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (loop->signal_fd < 0)
		return -errno;
	loop->on_signal = fn;
	loop->signal_data = data;
	loop->signal_op.complete = signal_complete;
	arm_signal_read(loop);
	return 0;
}

static void poll_arm(struct loop_poll *poll)
{
	struct io_uring_sqe *sqe = loop_sqe(poll->loop);
	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, poll->fd, poll->events);
	uring_op_set(sqe, &poll->op);
	poll->armed++;
	poll->inflight++;
}

static void poll_complete(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct loop_poll *poll = (struct loop_poll *)((char *)op - offsetof(struct loop_poll, op));
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		poll->armed--;
		poll->inflight--;
	}
	if (cqe->res != -ECANCELED && poll->wanted)
		poll->ready(poll, cqe->res);
	/* The kernel ends a multishot poll now and then (e.g. on overflow);
	 * a cancellation meant for an earlier poll on this struct (cancelled,
	 * then started again) may end the new one too. */
	if (!poll->armed && poll->wanted)
		poll_arm(poll);
}

static void poll_cancel_submit(struct loop_poll *poll)
{
	struct io_uring_sqe *sqe = loop_sqe(poll->loop);
	if (!sqe)
		return;
	/* An async cancel, not a poll-remove: a poll-remove fails with
	 * -EALREADY, cancelling nothing, while the poll's wake-up is being
	 * handled, which on a busy fd is much of the time. An async cancel
	 * marks the poll cancelled whatever it is doing. ALL: every poll on
	 * this struct (one started again after a cancel shares user_data). */
	io_uring_prep_cancel64(sqe, (__u64)(uintptr_t)&poll->op, IORING_ASYNC_CANCEL_ALL);
	uring_op_set(sqe, &poll->cancel_op);
	poll->cancelling = true;
	poll->inflight++;
}

static void poll_cancel_complete(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct loop_poll *poll = (struct loop_poll *)((char *)op - offsetof(struct loop_poll, cancel_op));
	poll->cancelling = false;
	poll->inflight--;
	/* Found nothing to cancel while a poll is still held (its last
	 * completion is on its way, or the kernel was busy with it): ask
	 * again until the poll is gone. */
	if (cqe->res < 0 && poll->armed && !poll->wanted)
		poll_cancel_submit(poll);
}

int loop_poll_start(struct loop *loop, struct loop_poll *poll, int fd, unsigned events,
		    void (*ready)(struct loop_poll *, int))
{
	/* A struct being cancelled keeps its counts: they still describe
	 * what the kernel holds. */
	if (!poll->inflight) {
		poll->armed = 0;
		poll->cancelling = false;
	}
	poll->op.complete = poll_complete;
	poll->cancel_op.complete = poll_cancel_complete;
	poll->loop = loop;
	poll->fd = fd;
	poll->events = events;
	poll->ready = ready;
	poll->wanted = true;
	unsigned before = poll->armed;
	poll_arm(poll);
	return poll->armed > before ? 0 : -EBUSY;
}

void loop_poll_cancel(struct loop *loop, struct loop_poll *poll)
{
	(void)loop;
	poll->wanted = false;
	if (poll->armed && !poll->cancelling)
		poll_cancel_submit(poll);
}

/* --- running --------------------------------------------------------------- */

static int dispatch_ready(struct loop *loop)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&loop->ring, head, cqe) {
		uring_op_dispatch(cqe);
		seen++;
	}
	io_uring_cq_advance(&loop->ring, seen);
	loop->completions += seen;
	return (int)seen;
}

int loop_run_once(struct loop *loop, int timeout_ms)
{
	uint64_t wait_ns = timeout_ms < 0 ? UINT64_MAX : (uint64_t)timeout_ms * 1000000u;
	if (loop->heap_len) {
		uint64_t first = loop->heap[0]->deadline_ns;
		uint64_t until = first > loop->now_ns ? first - loop->now_ns : 0;
		if (until < wait_ns)
			wait_ns = until;
	}
	struct io_uring_cqe *cqe;
	int rv;
	if (wait_ns == UINT64_MAX) {
		rv = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, NULL, NULL);
	} else {
		struct __kernel_timespec ts = { .tv_sec = (long long)(wait_ns / 1000000000u),
						.tv_nsec = (long long)(wait_ns % 1000000000u) };
		rv = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &ts, NULL);
	}
	if (rv < 0 && rv != -ETIME && rv != -EINTR && rv != -EBUSY)
		return rv;
	loop->passes++;
	loop->now_ns = monotonic_ns();
	int n = dispatch_ready(loop);
	loop->now_ns = monotonic_ns();
	fire_timers(loop);
	for (struct loop_hook *h = loop->hooks; h; h = h->next)
		h->run(h);
	return n;
}

/* A stop asked for before the loop runs (a fatal error while the daemon was
 * starting) is kept: the loop returns at once. */
int loop_run(struct loop *loop)
{
	while (!loop->stop) {
		int rv = loop_run_once(loop, -1);
		if (rv < 0)
			return rv;
	}
	return 0;
}

int loop_drain(struct loop *loop, const unsigned *pending, int timeout_ms)
{
	uint64_t until = monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
	while (*pending) {
		uint64_t now = monotonic_ns();
		if (now >= until)
			return -ETIMEDOUT;
		int rv = loop_run_once(loop, (int)((until - now) / 1000000u) + 1);
		if (rv < 0)
			return rv;
	}
	return 0;
}
