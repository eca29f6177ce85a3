/* base/loop.h — the event loop: one thread, one io_uring.
 *
 * Everything that waits is a completion on the loop's ring: disk writes and
 * fdatasync (wal/), peer sockets (net/), the HTTP server's epoll fd, timers
 * and signals. Modules submit their own SQEs with user_data pointing at a
 * struct uring_op (base/uring_op.h); the loop dispatches every CQE to it.
 *
 * One pass of loop_run():
 *   1. submit what is queued and sleep until at least one completion;
 *   2. dispatch every completion that is ready;
 *   3. fire expired timers;
 *   4. run the idle hooks — where work gathered during the pass is flushed
 *      (a WAL batch, Raft actions, the HTTP server), so that many events
 *      become one write and one fdatasync.
 * Nothing spins: an idle node sleeps in io_uring_enter until its next timer.
 *
 * Timers are software timers kept in a binary heap; each pass waits with
 * a timeout that ends at the earliest of them (io_uring_enter's extended
 * argument), so timers cost no SQE and no syscall of their own.
 */
#ifndef RAFTD_BASE_LOOP_H
#define RAFTD_BASE_LOOP_H

#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/signalfd.h>
#include <stdint.h>

#include "base/uring_op.h"

struct loop;

struct loop_timer {
	void (*fire)(struct loop_timer *timer);
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	size_t heap_index;    /* position in the heap, or LOOP_TIMER_IDLE */
};
#define LOOP_TIMER_IDLE ((size_t)-1)

struct loop_hook {
	void (*run)(struct loop_hook *hook);
	struct loop_hook *next;
};

/* A signal delivered through signalfd. */
typedef void (*loop_signal_fn)(struct loop *loop, int signo, void *data);

/* A multishot poll on an fd; ready() runs each time the fd is ready, with
 * the poll result (a mask of POLL* bits, or a negative errno). After
 * loop_poll_cancel() the kernel still holds the poll (and the
 * cancellation) until their last completions: free it only once inflight
 * is 0 (loop_drain on &inflight). Zero it before its first start. */
struct loop_poll {
	struct uring_op op;
	struct uring_op cancel_op;
	struct loop *loop;
	int fd;
	unsigned events;
	bool wanted;       /* re-arm when the kernel ends the multishot */
	bool cancelling;   /* a cancellation is in flight */
	unsigned armed;    /* poll requests the kernel holds */
	unsigned inflight; /* SQEs on this poll the kernel holds: polls and cancellation */
	void (*ready)(struct loop_poll *poll, int res);
};

struct loop {
	struct io_uring ring;
	bool stop;
	uint64_t now_ns;   /* CLOCK_MONOTONIC, refreshed every pass */

	/* timers: a binary min-heap on deadline */
	struct loop_timer **heap;
	size_t heap_len, heap_cap;

	/* signals */
	int signal_fd;
	struct uring_op signal_op;
	struct signalfd_siginfo siginfo;
	bool signal_armed;
	loop_signal_fn on_signal;
	void *signal_data;

	struct loop_hook *hooks;

	uint64_t passes;       /* how many times loop_run() woke up */
	uint64_t completions;  /* CQEs dispatched */
};

/* Sets up a ring of `entries` SQEs. Returns 0 or -errno. */
int loop_init(struct loop *loop, unsigned entries);
/* Releases the ring and the signalfd. Everything submitted must have
 * completed (see loop_drain). */
void loop_fini(struct loop *loop);

/* A free SQE, submitting queued ones first when the ring is full. Never
 * NULL unless the kernel refuses to take SQEs (then the caller fails with
 * -EBUSY). */
struct io_uring_sqe *loop_sqe(struct loop *loop);

/* Runs until loop_stop(). Returns 0, or -errno when the ring fails. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

/* One pass, waiting at most timeout_ms (for tests and shutdown). Returns
 * the number of completions dispatched, or -errno. */
int loop_run_once(struct loop *loop, int timeout_ms);

/* Runs passes until *pending (a count the caller keeps of its operations
 * in flight) drops to zero, or timeout_ms passes: -ETIMEDOUT. */
int loop_drain(struct loop *loop, const unsigned *pending, int timeout_ms);

uint64_t loop_now_ns(const struct loop *loop);
static inline uint64_t loop_now_ms(const struct loop *loop)
{
	return loop_now_ns(loop) / 1000000;
}

/* Timers: arming an armed timer moves it. fire() runs from loop_run(). */
void loop_timer_init(struct loop_timer *timer, void (*fire)(struct loop_timer *));
void loop_timer_arm(struct loop *loop, struct loop_timer *timer, uint64_t delay_ms);
void loop_timer_arm_at(struct loop *loop, struct loop_timer *timer, uint64_t deadline_ns);
void loop_timer_cancel(struct loop *loop, struct loop_timer *timer);
static inline bool loop_timer_armed(const struct loop_timer *timer)
{
	return timer->heap_index != LOOP_TIMER_IDLE;
}

/* Idle hooks run in registration order at the end of every pass. */
void loop_add_hook(struct loop *loop, struct loop_hook *hook);

/* Blocks the given signals for the thread and delivers them through a
 * signalfd read on the ring. Call once. Returns 0 or -errno. */
int loop_watch_signals(struct loop *loop, const sigset_t *signals, loop_signal_fn fn, void *data);

/* Polls fd for `events` (POLLIN...) until loop_poll_cancel(). */
int loop_poll_start(struct loop *loop, struct loop_poll *poll, int fd, unsigned events,
		    void (*ready)(struct loop_poll *, int));
void loop_poll_cancel(struct loop *loop, struct loop_poll *poll);

#endif
