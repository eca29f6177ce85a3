/* src/raftctl/raftctl_session.h — what raftctl's long-running v3 commands
 * share (watch, lease keep-alive, lock, elect): signals that end a wait, a
 * session lease kept alive (etcd's clientv3/concurrency Session), watches,
 * and etcd's waitDeletes (the wait of the lock and election recipes).
 *
 * Everything runs on one thread and one gRPC connection: a wait on one
 * stream keeps what the other streams receive meanwhile, and every wait
 * ends at the session's next keep-alive, so the caller sends it
 * (rc_session_step) and waits again.
 */
#ifndef RAFTD_SRC_RAFTCTL_RAFTCTL_SESSION_H
#define RAFTD_SRC_RAFTCTL_RAFTCTL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/rpc.pb-c.h"
#include "src/raftctl/raftctl_v3.h"

/* SIGINT and SIGTERM (and SIGCHLD with chld) write to a self-pipe that
 * ends the connection's stream waits (-EINTR); 0 or -errno. */
int rc_signals_init(struct rc_v3 *v, bool chld);
/* Drains the pipe: the SIGINT or SIGTERM received so far (0: none). */
int rc_signals_take(void);

/* A lease granted for this process, kept alive (clientv3's cadence: a
 * keep-alive a third of the TTL after the last answer). */
struct rc_session {
	struct rc_v3 *v;
	int64_t id, ttl;
	struct grpcc_stream *ka;
	int64_t next_ms;     /* the next keep-alive is due (monotonic ms) */
	int64_t expires_ms;  /* without an answer until then, the lease is gone */
	bool lost;
};

/* Grants a lease of ttl seconds and opens its keep-alive stream. */
int rc_session_open(struct rc_v3 *v, int64_t ttl, struct rc_session *s, char *err, size_t err_len);
/* Reads the keep-alive answers (waiting at most timeout_ms for one), sends
 * the next when due. 0; -EINTR (a signal); -EAGAIN (the connection broke:
 * free the streams of s->v, then rc_session_reconnect); -ESTALE (the
 * lease is gone: expired, revoked, unreachable past its TTL) with err. */
int rc_session_step(struct rc_session *s, int timeout_ms, char *err, size_t err_len);
/* A new connection to any member (s->v replaced: the caller freed its
 * streams on the old one) and the keep-alives on it, tried until the
 * lease's TTL is out (-ESTALE) or SIGINT/SIGTERM (-EINTR), as clientv3
 * fails over. */
int rc_session_reconnect(struct rc_session *s, char *err, size_t err_len);
/* ms until the next keep-alive is due (0: now). */
int rc_session_due_ms(const struct rc_session *s);
/* Stops the keep-alives; revoke: revokes the lease (its keys go). */
void rc_session_close(struct rc_session *s, bool revoke);

/* Opens a watch (Watch.Watch, one create request) on [key, end) from
 * start_rev (0: now). 0, or -errno with err. */
int rc_watch_open(struct rc_v3 *v, ProtobufCBinaryData key, ProtobufCBinaryData end, int64_t start_rev,
		  bool prev_kv, struct grpcc_stream **ret, char *err, size_t err_len);
/* The next WatchResponse within timeout_ms: 0 with *ret (free it with
 * etcdserverpb__watch_response__free_unpacked), -ETIMEDOUT, -EINTR (a
 * signal), -EPIPE (the server ended the call; err says why), or another
 * -errno with err. */
int rc_watch_next(struct grpcc_stream *st, int timeout_ms, Etcdserverpb__WatchResponse **ret, char *err,
		  size_t err_len);

/* etcd's waitDeletes: until no key of prefix pfx has a create revision
 * at or below max_rev (waiting on the deletion of the newest of them,
 * again and again), keeping the session alive. 0 with *ret_rev the
 * revision at which none was left; -EINTR on SIGINT or SIGTERM (*sig);
 * -ESTALE (the session is lost) or another -errno with err. */
int rc_wait_deletes(struct rc_session *s, const char *pfx, int64_t max_rev, int64_t *ret_rev, int *sig, char *err,
		    size_t err_len);

/* Waits for a signal (SIGINT, SIGTERM, or SIGCHLD with rc_signals_init's
 * chld) while keeping the session alive (through another member if its
 * own goes): the signal, or -ESTALE with err. */
int rc_session_hold(struct rc_session *s, char *err, size_t err_len);

#endif
