/* src/raftctl/raftctl_session.c — see raftctl_session.h. */
#include "src/raftctl/raftctl_session.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/grpc_client.h"
#include "src/raftctl/raftctl.h"

static int wake[2] = { -1, -1 };
static volatile sig_atomic_t got_stop, got_chld;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
	int e = errno;
	if (sig == SIGCHLD)
		got_chld = 1;
	else
		got_stop = sig;
	if (write(wake[1], "", 1) < 0) {
		/* full: a wake-up is pending anyway */
	}
	errno = e;
}

int rc_signals_init(struct rc_v3 *v, bool chld)
{
	if (wake[0] < 0 && pipe2(wake, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
	    (chld && sigaction(SIGCHLD, &sa, NULL) < 0))
		return -errno;
	grpcc_set_wake_fd(v->c, wake[0]);
	return 0;
}

int rc_signals_take(void)
{
	char buf[64];
	while (wake[0] >= 0 && read(wake[0], buf, sizeof(buf)) > 0)
		;
	int sig = got_stop;
	got_stop = 0;
	if (!sig && got_chld)
		sig = SIGCHLD;
	got_chld = 0;
	return sig;
}

/* --- the session lease ---------------------------------------------------- */

static int send_keepalive(struct rc_session *s)
{
	Etcdserverpb__LeaseKeepAliveRequest req = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
	uint8_t buf[32];
	req.id = s->id;
	size_t len = etcdserverpb__lease_keep_alive_request__pack(&req, buf);
	int rv = grpcc_stream_send(s->ka, buf, len, raftctl_g.timeout_ms);
	/* until an answer comes: again in a second (clientv3 checks every 500 ms) */
	s->next_ms = now_ms() + 1000;
	return rv;
}

int rc_session_open(struct rc_v3 *v, int64_t ttl, struct rc_session *s, char *err, size_t err_len)
{
	Etcdserverpb__LeaseGrantRequest req = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	Etcdserverpb__LeaseGrantResponse *gr = NULL;
	uint8_t *resp = NULL;
	size_t len = 0;
	int status, rv;

	memset(s, 0, sizeof(*s));
	s->v = v;
	req.ttl = ttl;
	rv = rc_v3_call(v, "/etcdserverpb.Lease/LeaseGrant", &req.base, false, &resp, &len, &status, err, err_len);
	if (rv == 0 && !(gr = etcdserverpb__lease_grant_response__unpack(NULL, len, resp))) {
		snprintf(err, err_len, "%s: a LeaseGrantResponse that does not parse", v->url.base);
		rv = -EBADMSG;
	}
	if (rv < 0)
		goto out;
	s->id = gr->id;
	s->ttl = gr->ttl > 0 ? gr->ttl : ttl;
	s->expires_ms = now_ms() + s->ttl * 1000;
	rv = grpcc_stream_open(v->c, "/etcdserverpb.Lease/LeaseKeepAlive", &s->ka);
	if (rv == 0)
		rv = send_keepalive(s);
	if (rv < 0)
		snprintf(err, err_len, "%s: lease keep-alive: %s", v->url.base, strerror(-rv));
out:
	etcdserverpb__lease_grant_response__free_unpacked(gr, NULL);
	free(resp);
	return rv;
}

int rc_session_due_ms(const struct rc_session *s)
{
	int64_t left = s->next_ms - now_ms();
	return left < 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

int rc_session_step(struct rc_session *s, int timeout_ms, char *err, size_t err_len)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		uint8_t *msg = NULL;
		size_t len = 0;
		int rv;
		if (s->lost)
			return -ESTALE;
		if (now_ms() >= s->expires_ms) {
			snprintf(err, err_len, "lease %016" PRIx64 ": no keep-alive answer within its TTL", (uint64_t)s->id);
			s->lost = true;
			return -ESTALE;
		}
		if (rc_session_due_ms(s) == 0 && (rv = send_keepalive(s)) < 0 && rv != -ETIMEDOUT) {
			snprintf(err, err_len, "%s: lease %016" PRIx64 ": keep-alive: %s", s->v->url.base, (uint64_t)s->id,
				 strerror(-rv));
			return -EAGAIN;
		}
		int64_t wait = deadline - now_ms();
		if (wait > rc_session_due_ms(s))
			wait = rc_session_due_ms(s);
		rv = grpcc_stream_recv(s->ka, &msg, &len, wait > 0 ? (int)wait : 0);
		if (rv == 0) {
			Etcdserverpb__LeaseKeepAliveResponse *r = etcdserverpb__lease_keep_alive_response__unpack(NULL, len, msg);
			free(msg);
			if (!r || r->ttl <= 0) {
				snprintf(err, err_len, "lease %016" PRIx64 " expired or revoked", (uint64_t)s->id);
				etcdserverpb__lease_keep_alive_response__free_unpacked(r, NULL);
				s->lost = true;
				return -ESTALE;
			}
			s->next_ms = now_ms() + r->ttl * 1000 / 3;
			s->expires_ms = now_ms() + r->ttl * 1000;
			etcdserverpb__lease_keep_alive_response__free_unpacked(r, NULL);
			continue;
		}
		if (rv == -ETIMEDOUT) {
			if (now_ms() >= deadline)
				return 0;
			continue;
		}
		if (rv == -EINTR)
			return rv;
		if (rv == 1) {
			char m[256];
			int st = grpcc_stream_status(s->ka, m, sizeof(m));
			snprintf(err, err_len, "%s: lease %016" PRIx64 ": the server ended the keep-alives: %s: %s", s->v->url.base,
				 (uint64_t)s->id, st >= 0 && st <= 16 ? rc_v3_status_names[st] : "status", m);
			/* a member going away says UNAVAILABLE: another may do */
			if (st != 14)
				s->lost = true;
			return s->lost ? -ESTALE : -EAGAIN;
		}
		snprintf(err, err_len, "%s: lease %016" PRIx64 ": keep-alive: %s", s->v->url.base, (uint64_t)s->id,
			 strerror(-rv));
		return -EAGAIN;
	}
}

int rc_session_reconnect(struct rc_session *s, char *err, size_t err_len)
{
	char why[1024];
	grpcc_stream_free(s->ka);
	s->ka = NULL;
	rc_v3_close(s->v);
	for (;;) {
		if (now_ms() >= s->expires_ms) {
			snprintf(err, err_len, "lease %016" PRIx64 ": no member reachable within its TTL (%s)", (uint64_t)s->id,
				 why);
			s->lost = true;
			return -ESTALE;
		}
		int rv = rc_v3_open(NULL, s->v, why, sizeof(why));
		if (rv == 0) {
			grpcc_set_wake_fd(s->v->c, wake[0]);
			rv = grpcc_stream_open(s->v->c, "/etcdserverpb.Lease/LeaseKeepAlive", &s->ka);
			if (rv == 0) {
				s->next_ms = 0; /* a keep-alive at once */
				return 0;
			}
			snprintf(why, sizeof(why), "%s: lease keep-alive: %s", s->v->url.base, strerror(-rv));
			rc_v3_close(s->v);
		}
		if (got_stop)
			return -EINTR;
		usleep(200 * 1000);
	}
}

void rc_session_close(struct rc_session *s, bool revoke)
{
	grpcc_stream_free(s->ka);
	s->ka = NULL;
	if (revoke && s->id && s->v->c && grpcc_usable(s->v->c)) {
		Etcdserverpb__LeaseRevokeRequest req = ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
		uint8_t *resp = NULL;
		size_t len;
		int status;
		char err[256];
		req.id = s->id;
		/* best effort: a lease not revoked expires by its TTL */
		rc_v3_call(s->v, "/etcdserverpb.Lease/LeaseRevoke", &req.base, false, &resp, &len, &status, err, sizeof(err));
		free(resp);
	}
	s->id = 0;
}

int rc_session_hold(struct rc_session *s, char *err, size_t err_len)
{
	for (;;) {
		int rv = rc_session_step(s, 1000000, err, err_len);
		if (rv == -EAGAIN)
			rv = rc_session_reconnect(s, err, err_len);
		if (rv == -EINTR) {
			int sig = rc_signals_take();
			if (sig)
				return sig;
		} else if (rv == -ESTALE) {
			return rv;
		}
	}
}

/* --- watches -------------------------------------------------------------- */

int rc_watch_open(struct rc_v3 *v, ProtobufCBinaryData key, ProtobufCBinaryData end, int64_t start_rev,
		  bool prev_kv, struct grpcc_stream **ret, char *err, size_t err_len)
{
	Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
	Etcdserverpb__WatchCreateRequest cr = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
	uint8_t *buf = NULL;
	int rv;

	cr.key = key;
	cr.range_end = end;
	cr.start_revision = start_rev;
	cr.prev_kv = prev_kv;
	req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
	req.create_request = &cr;
	size_t len = etcdserverpb__watch_request__get_packed_size(&req);
	if (!(buf = malloc(len + 1))) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	etcdserverpb__watch_request__pack(&req, buf);
	rv = grpcc_stream_open(v->c, "/etcdserverpb.Watch/Watch", ret);
	if (rv == 0 && (rv = grpcc_stream_send(*ret, buf, len, raftctl_g.timeout_ms)) < 0) {
		grpcc_stream_free(*ret);
		*ret = NULL;
	}
	if (rv < 0)
		snprintf(err, err_len, "%s: watch: %s", v->url.base, strerror(-rv));
	free(buf);
	return rv;
}

int rc_watch_next(struct grpcc_stream *st, int timeout_ms, Etcdserverpb__WatchResponse **ret, char *err,
		  size_t err_len)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	*ret = NULL;
	int rv = grpcc_stream_recv(st, &msg, &len, timeout_ms);
	if (rv == 0) {
		*ret = etcdserverpb__watch_response__unpack(NULL, len, msg);
		free(msg);
		if (!*ret) {
			snprintf(err, err_len, "a WatchResponse that does not parse");
			return -EBADMSG;
		}
		return 0;
	}
	if (rv == 1) {
		char m[256];
		int s = grpcc_stream_status(st, m, sizeof(m));
		snprintf(err, err_len, "the server ended the watch: %s%s%s", s >= 0 && s <= 16 ? rc_v3_status_names[s] : "status",
			 *m ? ": " : "", m);
		return -EPIPE;
	}
	if (rv != -ETIMEDOUT && rv != -EINTR)
		snprintf(err, err_len, "watch: %s", strerror(-rv));
	return rv;
}

/* the key to wait on: the newest (by create revision) of pfx at or below
 * max_rev, into *key (NULL: none), and the revision of the read */
static int last_create(struct rc_v3 *v, const char *pfx, int64_t max_rev, char **key, int64_t *rev, char *err,
		       size_t err_len)
{
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RangeResponse *rr = NULL;
	uint8_t *resp = NULL, *end = malloc(strlen(pfx) + 1);
	size_t len = 0;
	int status, rv = -ENOMEM;

	*key = NULL;
	if (!end)
		goto out;
	/* clientv3's WithLastCreate() and WithMaxCreateRev() */
	req.key = (ProtobufCBinaryData){ strlen(pfx), (uint8_t *)pfx };
	req.range_end = rc_v3_prefix_end(pfx, end);
	req.sort_target = ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__CREATE;
	req.sort_order = ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__DESCEND;
	req.limit = 1;
	req.max_create_revision = max_rev;
	rv = rc_v3_call(v, "/etcdserverpb.KV/Range", &req.base, true, &resp, &len, &status, err, err_len);
	if (rv == 0 && !(rr = etcdserverpb__range_response__unpack(NULL, len, resp))) {
		snprintf(err, err_len, "%s: a RangeResponse that does not parse", v->url.base);
		rv = -EBADMSG;
	}
	if (rv < 0)
		goto out;
	*rev = rr->header ? rr->header->revision : 0;
	if (rr->n_kvs && !(*key = strndup((const char *)rr->kvs[0]->key.data, rr->kvs[0]->key.len)))
		rv = -ENOMEM;
out:
	if (rv == -ENOMEM)
		snprintf(err, err_len, "out of memory");
	etcdserverpb__range_response__free_unpacked(rr, NULL);
	free(resp);
	free(end);
	return rv;
}

/* after a broken connection: another (any member), the keep-alives
 * again; -EINTR (*sig) or -ESTALE (the lease's time ran out) */
static int recover(struct rc_session *s, int *sig, char *err, size_t err_len)
{
	int rv = rc_session_reconnect(s, err, err_len);
	if (rv == -EINTR)
		*sig = rc_signals_take();
	return rv;
}

/* etcd's waitDelete: until key is deleted at or after rev. A watch that
 * breaks (its member went away) returns 0 once connected again: the
 * caller reads again, as clientv3 re-watches. */
static int wait_delete(struct rc_session *s, const char *key, int64_t rev, int *sig, char *err, size_t err_len)
{
	struct grpcc_stream *st = NULL;
	bool broken = false;
	int rv = rc_watch_open(s->v, (ProtobufCBinaryData){ strlen(key), (uint8_t *)key }, (ProtobufCBinaryData){ 0, NULL },
			       rev, false, &st, err, err_len);
	if (rv < 0)
		broken = true;
	while (rv == 0) {
		Etcdserverpb__WatchResponse *wr = NULL;
		rv = rc_watch_next(st, rc_session_due_ms(s), &wr, err, err_len);
		if (rv == 0) {
			bool deleted = false;
			for (size_t i = 0; i < wr->n_events; i++)
				deleted |= wr->events[i]->type == MVCCPB__EVENT__EVENT_TYPE__DELETE;
			/* cancelled (compacted past rev): the caller reads again */
			bool over = deleted || wr->canceled;
			etcdserverpb__watch_response__free_unpacked(wr, NULL);
			if (over)
				break;
			continue;
		}
		if (rv == -ETIMEDOUT)
			rv = rc_session_step(s, 0, err, err_len);
		if (rv == -EINTR) {
			*sig = rc_signals_take();
			if (*sig == SIGINT || *sig == SIGTERM)
				break;
			rv = 0;
		}
		if (rv < 0 && rv != -ESTALE && rv != -EBADMSG)
			broken = true;
	}
	grpcc_stream_free(st);
	if (broken) {
		rv = recover(s, sig, err, err_len);
		return rv;
	}
	return rv < 0 ? rv : *sig == SIGINT || *sig == SIGTERM ? -EINTR : 0;
}

int rc_wait_deletes(struct rc_session *s, const char *pfx, int64_t max_rev, int64_t *ret_rev, int *sig, char *err,
		    size_t err_len)
{
	*sig = 0;
	for (;;) {
		char *key = NULL;
		int64_t rev = 0;
		int rv = last_create(s->v, pfx, max_rev, &key, &rev, err, err_len);
		if (rv < 0 && rv != -EPROTO && rv != -EBADMSG && rv != -ENOMEM) {
			/* no answer: another member */
			if ((rv = recover(s, sig, err, err_len)) < 0)
				return rv;
			continue;
		}
		if (rv == 0 && !key) {
			*ret_rev = rev;
			return 0;
		}
		if (rv == 0)
			rv = wait_delete(s, key, rev, sig, err, err_len);
		free(key);
		if (rv < 0)
			return rv;
		if (s->lost)
			return -ESTALE;
	}
}
