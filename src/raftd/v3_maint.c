/* src/raftd/v3_maint.c — etcd's Maintenance service: Status, HashKV, Hash,
 * Alarm, Defragment, MoveLeader and Snapshot, on this node's own state.
 *
 * Every answer is this member's, as etcd's are (etcdctl asks each endpoint
 * in turn): nothing here goes through the log. What differs from etcd, and
 * why (docs/design.md, "etcd's v3 API"):
 * - Status.version is the etcd API raftd speaks with raftd's own version as
 *   semver build metadata ("3.4.0+raftd.0.1.0"): clients that compare
 *   versions see 3.4.0, people see raftd.
 * - Alarms are this member's only and are not kept in the log: NOSPACE is
 *   up exactly while the WAL holds a batch for ENOSPC (wal_nospace()).
 *   Disarming retries that batch at once (the node retries it every second
 *   anyway); a disk still full raises it again. Clients cannot raise one.
 * - Snapshot streams raftd's own snapshot format (src/kv/kv_snapshot.c) of
 *   the state applied when the call came, written by a forked child into a
 *   pipe, then etcd's integrity trailer: `raftctl snapshot restore` builds
 *   a new cluster from the file etcdctl saves. etcdctl 3.4's `snapshot
 *   save` refuses a stream whose size is not 32 more than a multiple of
 *   512 ("sha256 checksum not found"): etcd's bolt file is whole pages,
 *   and etcd appends the SHA-256 of it. raftd's file has any size, so the
 *   stream is (V3_SNAP_FORMAT below):
 *     the snapshot file | zero bytes | le64 its length | SHA-256 of all before
 *   with the zero bytes making all before the hash a multiple of 512.
 */
#include "src/raftd/v3.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd/rpc.pb-c.h"
#include "src/etcd/etcd.h"
#include "src/raftd/log.h"
#include "src/raftd/node_int.h"

#define V3_VERSION "3.4.0+raftd." PACKAGE_VERSION
#define SNAP_BLOB 65536           /* bytes of snapshot per message, as etcd's 32 KiB order */
#define SNAP_PIPE (1u << 20)      /* the pipe's buffer: a pass moves up to this much */
#define SNAP_POLL_MS 2            /* while the child has written nothing new */
#define SNAP_MAX_STREAMS 2        /* each is a fork of the whole store */
/* etcd's stream ends with the SHA-256 of what came before, which etcdctl
 * expects to be whole 512-byte sectors (its hasChecksum()) */
#define SNAP_SECTOR 512
#define SNAP_SHA 32

/* ---- shared by the handlers ------------------------------------------------------------- */

static void fill_header(struct node *n, Etcdserverpb__ResponseHeader *h)
{
	struct etcd_header eh;
	v3_header(n, &eh);
	h->cluster_id = eh.cluster_id;
	h->member_id = eh.member_id;
	h->revision = eh.revision;
	h->raft_term = eh.raft_term;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *ret_len)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf)
		protobuf_c_message_pack(m, buf);
	*ret_len = len;
	return buf;
}

static void reply_pb(struct grpc_call *c, const ProtobufCMessage *m)
{
	size_t len;
	uint8_t *buf = pack(m, &len);
	v3_reply(c, buf, len);
}

static uint64_t self_id(const struct node *n)
{
	return etcd_member_id(n->name, strlen(n->name));
}

static uint64_t name_id(const char *name)
{
	return name[0] ? etcd_member_id(name, strlen(name)) : 0;
}

/* ---- Status, Hash, HashKV, Defragment ---------------------------------------------------- */

static void on_status(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_READ))
		return;
	Etcdserverpb__StatusRequest *req = etcdserverpb__status_request__unpack(NULL, len, msg);
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	etcdserverpb__status_request__free_unpacked(req, NULL);
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Etcdserverpb__StatusResponse r = ETCDSERVERPB__STATUS_RESPONSE__INIT;
	const struct mvcc *s = kv_mvcc_const(n->kv);
	char alarm[96], *errors[2];
	fill_header(n, &h);
	r.header = &h;
	r.version = (char *)V3_VERSION;
	r.dbsize = (int64_t)mvcc_bytes(s);
	r.dbsizeinuse = (int64_t)kv_bytes(n->kv);
	r.leader = name_id(raft_leader(n->r));
	r.raftindex = raft_commit_index(n->r);
	r.raftterm = raft_current_term(n->r);
	r.raftappliedindex = kv_applied_index(n->kv);
	r.islearner = raft_is_member(n->r, n->name) && !raft_is_voter(n->r, n->name);
	r.errors = errors;
	/* etcd's words: ErrNoLeader, then each alarm as gogoproto prints it */
	if (!r.leader)
		errors[r.n_errors++] = (char *)"etcdserver: no leader";
	if (wal_nospace(n->wal)) {
		snprintf(alarm, sizeof(alarm), "memberID:%" PRIu64 " alarm:NOSPACE ", self_id(n));
		errors[r.n_errors++] = alarm;
	}
	reply_pb(c, &r.base);
}

static void on_hashkv(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_READ))
		return;
	Etcdserverpb__HashKVRequest *req = etcdserverpb__hash_kvrequest__unpack(NULL, len, msg);
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	int64_t rev = req->revision;
	etcdserverpb__hash_kvrequest__free_unpacked(req, NULL);
	const struct mvcc *s = kv_mvcc_const(n->kv);
	uint32_t hash;
	/* a negative revision is the current one, as etcd's HashByRev */
	int rv = mvcc_hash(s, rev < 0 ? 0 : rev, &hash);
	if (rv < 0) {
		v3_fail(c, rv);
		return;
	}
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Etcdserverpb__HashKVResponse r = ETCDSERVERPB__HASH_KVRESPONSE__INIT;
	fill_header(n, &h);
	r.header = &h;
	r.hash = hash;
	r.compact_revision = mvcc_compacted(s);
	reply_pb(c, &r.base);
}

/* etcd's Hash covers its whole database file, meta buckets included; raftd
 * has no such file, so it is the HashKV of the current revision: equal on
 * members with the same history, which is what it is used for. */
static void on_hash(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_READ))
		return;
	Etcdserverpb__HashRequest *req = etcdserverpb__hash_request__unpack(NULL, len, msg);
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	etcdserverpb__hash_request__free_unpacked(req, NULL);
	uint32_t hash;
	int rv = mvcc_hash(kv_mvcc_const(n->kv), 0, &hash);
	if (rv < 0) {
		v3_fail(c, rv);
		return;
	}
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Etcdserverpb__HashResponse r = ETCDSERVERPB__HASH_RESPONSE__INIT;
	fill_header(n, &h);
	r.header = &h;
	r.hash = hash;
	reply_pb(c, &r.base);
}

/* Nothing to give back: the store is in memory and the WAL's segments are
 * reused or removed as the log is compacted. */
static void on_defragment(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_ADMIN))
		return;
	Etcdserverpb__DefragmentRequest *req = etcdserverpb__defragment_request__unpack(NULL, len, msg);
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	etcdserverpb__defragment_request__free_unpacked(req, NULL);
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Etcdserverpb__DefragmentResponse r = ETCDSERVERPB__DEFRAGMENT_RESPONSE__INIT;
	fill_header(n, &h);
	r.header = &h;
	reply_pb(c, &r.base);
}

/* ---- Alarm ------------------------------------------------------------------------------- */

static void on_alarm(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	Etcdserverpb__AlarmRequest *req = etcdserverpb__alarm_request__unpack(NULL, len, msg);
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	Etcdserverpb__AlarmRequest__AlarmAction action = req->action;
	uint64_t member = req->memberid;
	Etcdserverpb__AlarmType type = req->alarm;
	etcdserverpb__alarm_request__free_unpacked(req, NULL);
	if (action == ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE) {
		grpc_finish(c, GRPC_FAILED_PRECONDITION,
			    "etcdserver: raftd raises NOSPACE itself when its disk is full; clients cannot raise alarms");
		return;
	}
	if (action != ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__GET &&
	    action != ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE) {
		v3_fail(c, -EBADMSG);
		return;
	}
	/* listing is /status's class; disarming retries the WAL: admin's */
	if (!v3_allowed(c, action == ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__GET ? AUTH_READ : AUTH_ADMIN))
		return;
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Etcdserverpb__AlarmResponse r = ETCDSERVERPB__ALARM_RESPONSE__INIT;
	Etcdserverpb__AlarmMember am = ETCDSERVERPB__ALARM_MEMBER__INIT, *list[1] = { &am };
	bool nospace = wal_nospace(n->wal);
	fill_header(n, &h);
	r.header = &h;
	r.alarms = list;
	am.memberid = self_id(n);
	am.alarm = ETCDSERVERPB__ALARM_TYPE__NOSPACE;
	if (action == ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__GET) {
		/* etcd's GET lists every alarm, whatever the request names */
		r.n_alarms = nospace;
	} else if (nospace && (!member || member == am.memberid) &&
		   (type == ETCDSERVERPB__ALARM_TYPE__NONE || type == ETCDSERVERPB__ALARM_TYPE__NOSPACE)) {
		/* the answer lists what was disarmed, as etcd's */
		r.n_alarms = 1;
		log_info("NOSPACE alarm disarmed by a client: retrying the held WAL writes now");
		int rv = wal_resume(n->wal);
		if (rv < 0)
			log_warning("NOSPACE disarm: the WAL is in a failed state: %s", strerror(-rv));
	}
	reply_pb(c, &r.base);
}

/* ---- MoveLeader -------------------------------------------------------------------------- */

/* A MoveLeader waiting for the handover: answered once this node knows the
 * target leads, as etcd's (its loop on s.Lead() == transferee). */
struct move_wait {
	struct node *n;
	struct grpc_call *call;
	char to[RAFT_NAME_MAX];
	uint64_t deadline_ms;
	struct loop_timer timer;
};

static void move_free(struct move_wait *m)
{
	loop_timer_cancel(&m->n->loop, &m->timer);
	free(m);
}

static void move_done(struct move_wait *m, enum grpc_status st, const char *why)
{
	if (st == GRPC_OK) {
		Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
		Etcdserverpb__MoveLeaderResponse r = ETCDSERVERPB__MOVE_LEADER_RESPONSE__INIT;
		fill_header(m->n, &h);
		r.header = &h;
		reply_pb(m->call, &r.base);
	} else {
		grpc_finish(m->call, st, why);
	}
	move_free(m);
}

static void move_check(struct loop_timer *t)
{
	struct move_wait *m = (struct move_wait *)((char *)t - offsetof(struct move_wait, timer));
	struct node *n = m->n;
	const char *leader = raft_leader(n->r);
	if (!strcmp(leader, m->to)) {
		log_info("leadership moved to %s (MoveLeader)", m->to);
		move_done(m, GRPC_OK, NULL);
	} else if (now_ms(n) >= m->deadline_ms || (leader[0] && raft_role(n->r) != RAFT_LEADER)) {
		/* etcd's ErrTimeoutLeaderTransfer, which it answers as
		 * codes.Unknown (not in its error map); also when another
		 * member took over, for which etcd waits out the deadline */
		move_done(m, GRPC_UNKNOWN, "etcdserver: leader transfer timeout");
	} else {
		loop_timer_arm(&n->loop, &m->timer, 10);
	}
}

static void move_cancel(struct grpc_call *c)
{
	struct move_wait *m = grpc_call_user(c);
	if (m)
		move_free(m);
}

/* The member whose etcd ID is id, or NULL. */
static const char *member_by_id(struct node *n, uint64_t id)
{
	for (size_t i = 0; i < raft_n_members(n->r); i++) {
		const char *name = raft_member_name(n->r, i);
		if (etcd_member_id(name, strlen(name)) == id)
			return name;
	}
	return NULL;
}

static void on_move_leader(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_ADMIN))
		return;
	Etcdserverpb__MoveLeaderRequest *req = etcdserverpb__move_leader_request__unpack(NULL, len, msg);
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	uint64_t target = req->targetid;
	etcdserverpb__move_leader_request__free_unpacked(req, NULL);
	if (n->stopping) {
		v3_fail(c, -V3_E_STOPPING);
		return;
	}
	if (raft_role(n->r) != RAFT_LEADER) {
		/* etcdctl sends it to the endpoint whose Status names itself
		 * leader: a follower refuses as etcd's (ErrGRPCNotLeader) */
		grpc_finish(c, GRPC_FAILED_PRECONDITION, "etcdserver: not leader");
		return;
	}
	const char *to = member_by_id(n, target);
	if (!to || !raft_is_voter(n->r, to)) {
		grpc_finish(c, GRPC_FAILED_PRECONDITION, "etcdserver: bad leader transferee");
		return;
	}
	struct move_wait *m = calloc(1, sizeof(*m));
	if (!m) {
		grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
		return;
	}
	m->n = n;
	m->call = c;
	snprintf(m->to, sizeof(m->to), "%s", to);
	loop_timer_init(&m->timer, move_check);
	if (!strcmp(to, n->name)) {
		move_done(m, GRPC_OK, NULL); /* etcd: the leader already, done */
		return;
	}
	struct raft_event ev = { .type = RAFT_EV_TRANSFER, .transfer.to = m->to };
	int rv = step_rv(n, &ev, NULL);
	if (rv == -EOPNOTSUPP) {
		free(m);
		v3_fail(c, -V3_E_GORAFT);
		return;
	}
	if (rv == -EPERM) {
		free(m);
		grpc_finish(c, GRPC_FAILED_PRECONDITION, "etcdserver: not leader");
		return;
	}
	if (rv < 0) {
		free(m);
		grpc_finish(c, GRPC_FAILED_PRECONDITION, "etcdserver: bad leader transferee");
		return;
	}
	/* as POST /raftd/transfer waits (transfer_check()): the core gives up
	 * after an election timeout, then the node leads on */
	uint64_t deadline = grpc_call_deadline_ns(c);
	m->deadline_ms = now_ms(n) + 2000 + 4 * (uint64_t)n->cfg.election_timeout_ms;
	if (deadline != UINT64_MAX && deadline / 1000000 < m->deadline_ms)
		m->deadline_ms = deadline / 1000000;
	grpc_call_set_user(c, m);
	log_info("leadership transfer to %s requested (MoveLeader)", to);
	loop_timer_arm(&n->loop, &m->timer, 10);
}

/* ---- Snapshot ---------------------------------------------------------------------------- */

/* A Snapshot call: a forked child writes the snapshot of the state applied
 * when the call came into a pipe (kv_snapshot_write(); the child's memory
 * is that state, copy-on-write), and the call streams what the pipe holds,
 * as fast as the client takes it: nothing is buffered beyond one message.
 * The pipe is read from a timer while the child is writing, not from a
 * poll: a poll's memory must outlive its cancellation, a timer's need not,
 * so a call that goes away frees everything at once. */
struct snap_stream {
	struct node *n;
	struct grpc_call *call;
	pid_t pid;
	int fd;             /* the pipe's read end, non-blocking */
	bool child_done;    /* reaped; child_ok then says how it went */
	bool child_ok;
	bool eof;           /* every write end is closed */
	int64_t revision;   /* the store's when the child was forked */
	struct loop_timer timer;
	uint8_t *out;       /* a message grpc_send() refused for now (-ENOBUFS) */
	size_t out_len;
	size_t held_len;    /* bytes in held: read, sent with the next read or last */
	uint64_t sent;
	gnutls_hash_hd_t sha; /* of every byte sent */
	bool trailer_sent;
	uint8_t held[SNAP_BLOB];
	uint8_t next[SNAP_BLOB];
};

static unsigned snap_streams;

static void snap_free(struct snap_stream *s)
{
	loop_timer_cancel(&s->n->loop, &s->timer);
	if (!s->child_done) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0); /* at once: it was killed */
	}
	close(s->fd);
	free(s->out);
	if (s->sha)
		gnutls_hash_deinit(s->sha, NULL);
	free(s);
	snap_streams--;
}

static void snap_cancel(struct grpc_call *c)
{
	struct snap_stream *s = grpc_call_user(c);
	if (s)
		snap_free(s);
}

static bool snap_reap(struct snap_stream *s)
{
	int status;
	if (!s->child_done && waitpid(s->pid, &status, WNOHANG) == s->pid) {
		s->child_done = true;
		s->child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (!s->child_ok)
			log_warning("v3 snapshot: the writer failed: %s",
				    WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "killed");
	}
	return s->child_done;
}

/* Packs held as the next message into s->out. remaining_bytes: the size
 * is not known ahead (the child writes as it goes), so until the end it
 * is a lower bound (what this node has read and not sent, and the
 * trailer's least), then exact, and 0 in the last message, as etcd's. */
static int snap_pack(struct snap_stream *s, uint64_t remaining)
{
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Etcdserverpb__SnapshotResponse r = ETCDSERVERPB__SNAPSHOT_RESPONSE__INIT;
	fill_header(s->n, &h);
	h.revision = s->revision;
	r.header = &h;
	r.remaining_bytes = remaining;
	r.blob.data = s->held;
	r.blob.len = s->held_len;
	s->out = pack(&r.base, &s->out_len);
	if (!s->out)
		return -ENOMEM;
	if (s->sha) /* NULL for the trailer, which holds the hash */
		gnutls_hash(s->sha, s->held, s->held_len);
	s->sent += s->held_len;
	s->held_len = 0;
	return 0;
}

/* The length of what follows the snapshot file: zeros up to a sector
 * boundary less 8, the file's length (le64), the SHA-256 of all before. */
static size_t snap_trailer_len(uint64_t file_len)
{
	size_t pad = (size_t)((SNAP_SECTOR - (file_len + 8) % SNAP_SECTOR) % SNAP_SECTOR);
	return pad + 8 + SNAP_SHA;
}

static int snap_pack_trailer(struct snap_stream *s)
{
	uint64_t file_len = s->sent;
	size_t len = snap_trailer_len(file_len), pad = len - 8 - SNAP_SHA;
	uint64_t le = htole64(file_len);
	memset(s->held, 0, pad);
	memcpy(s->held + pad, &le, 8);
	gnutls_hash(s->sha, s->held, pad + 8);
	gnutls_hash_deinit(s->sha, s->held + pad + 8);
	s->sha = NULL;
	s->held_len = len;
	int rv = snap_pack(s, 0);
	s->trailer_sent = true;
	return rv;
}

/* Moves what it can from the pipe to the call; ends the call when all is
 * sent. */
static void snap_pump(struct snap_stream *s)
{
	for (;;) {
		if (s->out) {
			int rv = grpc_send(s->call, s->out, s->out_len);
			if (rv == -ENOBUFS)
				return; /* on_writable calls again */
			free(s->out);
			s->out = NULL;
			if (rv < 0) {
				grpc_finish(s->call, GRPC_INTERNAL, "etcdserver: snapshot: cannot send");
				snap_free(s);
				return;
			}
		}
		if (s->eof) {
			if (!snap_reap(s)) {
				loop_timer_arm(&s->n->loop, &s->timer, SNAP_POLL_MS);
				return;
			}
			if (s->child_ok && !s->trailer_sent) {
				/* the file's last bytes, then the trailer */
				int rv = s->held_len ? snap_pack(s, snap_trailer_len(s->sent + s->held_len)) : 0;
				if (rv == 0 && s->out)
					continue;
				if (rv == 0 && snap_pack_trailer(s) == 0)
					continue;
				grpc_finish(s->call, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
			} else if (s->child_ok) {
				log_info("v3 snapshot at revision %" PRId64 " sent (%" PRIu64 " bytes)", s->revision,
					 s->sent);
				grpc_finish(s->call, GRPC_OK, NULL);
			} else {
				grpc_finish(s->call, GRPC_INTERNAL, "etcdserver: snapshot failed (see the node's log)");
			}
			snap_free(s);
			return;
		}
		ssize_t r = read(s->fd, s->next, sizeof(s->next));
		if (r > 0) {
			if (s->held_len && snap_pack(s, (uint64_t)r + 8 + SNAP_SHA) < 0) {
				grpc_finish(s->call, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
				snap_free(s);
				return;
			}
			memcpy(s->held, s->next, (size_t)r);
			s->held_len = (size_t)r;
		} else if (r == 0) {
			s->eof = true;
		} else if (errno == EAGAIN) {
			/* Once the child is gone and the pipe is empty, all is
			 * read: a later fork of the node (its own snapshot) may
			 * hold a write end, so EOF may come late. Read once more
			 * after reaping: it may have written before exiting. */
			if (s->child_done)
				s->eof = true;
			else if (!snap_reap(s)) {
				loop_timer_arm(&s->n->loop, &s->timer, SNAP_POLL_MS);
				return;
			}
		} else if (errno != EINTR) {
			grpc_finish(s->call, GRPC_INTERNAL, "etcdserver: snapshot: reading the writer's pipe failed");
			snap_free(s);
			return;
		}
	}
}

static void snap_timer(struct loop_timer *t)
{
	snap_pump((struct snap_stream *)((char *)t - offsetof(struct snap_stream, timer)));
}

static void snap_writable(struct grpc_call *c)
{
	struct snap_stream *s = grpc_call_user(c);
	if (s)
		snap_pump(s);
}

/* Forks the writer of the state as applied now. 0 or -errno. */
static int snap_start(struct snap_stream *s, char *why, size_t why_len)
{
	struct node *n = s->n;
	raft_index applied = kv_applied_index(n->kv), last = raft_last_index(n->r);
	raft_term term = 0;
	if (!applied) {
		snprintf(why, why_len, "etcdserver: no entry applied yet; retry");
		return -EAGAIN;
	}
	/* a lone first node leads at term 0 (goraft's): 0 is a term */
	bool have = raft_entry_term(n->r, applied, &term);
	if (!have && applied == n->snap_disk_index) {
		term = n->snap_disk_term;
		have = true;
	}
	if (!have) {
		snprintf(why, why_len, "etcdserver: the term of the applied entry is not known yet; retry");
		return -EAGAIN;
	}
	/* the file records the membership at `applied`: the current one
	 * unless a change after it is in the log (as POST /raftd/snapshot) */
	for (raft_index i = applied + 1; i <= last; i++) {
		struct raft_entry e;
		if (raft_get_entry(n->r, i, &e) && e.type != RAFT_ENTRY_NOP && e.type != RAFT_ENTRY_COMMAND) {
			snprintf(why, why_len, "etcdserver: a membership change is not applied yet; retry");
			return -EAGAIN;
		}
	}
	struct kv_member members[RAFT_MAX_PEERS];
	size_t k = 0;
	for (size_t i = 0; i < raft_n_members(n->r) && k < RAFT_MAX_PEERS; i++, k++) {
		const char *name = raft_member_name(n->r, i), *url = raft_member_url(n->r, i);
		members[k].name = cmd_str_ref(name, strlen(name));
		members[k].connection_string = cmd_str_ref(url, strlen(url));
		members[k].learner = !raft_is_voter(n->r, name);
	}
	struct kv_snapshot_meta meta = { .last_index = applied, .last_term = term, .n_members = k,
					 .members = members };
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, why_len, "etcdserver: snapshot: pipe: %s", strerror(errno));
		return -errno;
	}
	(void)fcntl(p[1], F_SETPIPE_SZ, SNAP_PIPE); /* fewer passes; the default works too */
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		snprintf(why, why_len, "etcdserver: snapshot: fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0) {
		/* The child: the store as it is now, copy-on-write. It dies
		 * with the node; _exit: no atexit handlers, no stdio of the
		 * parent's flushed twice. */
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int rv = kv_snapshot_write(n->kv, p[1], &meta);
		_exit(rv == 0 ? 0 : -rv <= 255 ? -rv : EIO);
	}
	close(p[1]);
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(p[0]);
		snprintf(why, why_len, "etcdserver: snapshot: %s", strerror(e));
		return -e;
	}
	s->pid = pid;
	s->fd = p[0];
	s->revision = mvcc_revision(kv_mvcc_const(n->kv));
	log_info("v3 snapshot at index %" PRIu64 " (revision %" PRId64 ") requested", applied, s->revision);
	return 0;
}

static void on_snapshot(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_ADMIN))
		return;
	char why[160];
	Etcdserverpb__SnapshotRequest *req = etcdserverpb__snapshot_request__unpack(NULL, len, msg);
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	etcdserverpb__snapshot_request__free_unpacked(req, NULL);
	if (n->stopping) {
		v3_fail(c, -V3_E_STOPPING);
		return;
	}
	if (snap_streams >= SNAP_MAX_STREAMS) {
		grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: too many requests");
		return;
	}
	struct snap_stream *s = calloc(1, sizeof(*s));
	if (!s) {
		grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
		return;
	}
	s->n = n;
	s->call = c;
	s->fd = -1;
	loop_timer_init(&s->timer, snap_timer);
	int rv = gnutls_hash_init(&s->sha, GNUTLS_DIG_SHA256) < 0 ? -ENOMEM : snap_start(s, why, sizeof(why));
	if (rv == -ENOMEM && !s->sha)
		snprintf(why, sizeof(why), "etcdserver: out of memory");
	if (rv < 0) {
		if (s->sha)
			gnutls_hash_deinit(s->sha, NULL);
		free(s);
		grpc_finish(c, rv == -EAGAIN ? GRPC_UNAVAILABLE : GRPC_INTERNAL, why);
		return;
	}
	snap_streams++;
	grpc_call_set_user(c, s);
	snap_pump(s);
}

const struct grpc_method v3_maint_methods[] = {
	{ .path = "/etcdserverpb.Maintenance/Alarm", .kind = GRPC_UNARY, .handle = on_alarm },
	{ .path = "/etcdserverpb.Maintenance/Status", .kind = GRPC_UNARY, .handle = on_status },
	{ .path = "/etcdserverpb.Maintenance/Defragment", .kind = GRPC_UNARY, .handle = on_defragment },
	{ .path = "/etcdserverpb.Maintenance/Hash", .kind = GRPC_UNARY, .handle = on_hash },
	{ .path = "/etcdserverpb.Maintenance/HashKV", .kind = GRPC_UNARY, .handle = on_hashkv },
	{ .path = "/etcdserverpb.Maintenance/Snapshot", .kind = GRPC_UNARY, .handle = on_snapshot,
	  .on_cancel = snap_cancel, .on_writable = snap_writable },
	{ .path = "/etcdserverpb.Maintenance/MoveLeader", .kind = GRPC_UNARY, .handle = on_move_leader,
	  .on_cancel = move_cancel },
};
const size_t v3_maint_n_methods = sizeof(v3_maint_methods) / sizeof(v3_maint_methods[0]);
