/* tests/fuzz/fuzz_raft_rpc.c — libFuzzer target for the /raft/... bodies as the
 * node handles them: rpc_decode_request() / rpc_decode_response() (the decoders
 * of src/raftd/rpc.c over proto/wire.c), then raft_step() on a real core.
 *
 * The harness plays the daemon (src/raftd/driver.c): it carries out the actions
 * the way execute() does (sends are encoded with rpc.c, log writes checked
 * against the core's log), and reports PERSISTED / DURABLE / APPLIED /
 * SNAPSHOT_TAKEN when the input says the I/O finished. Responses answer
 * requests the core really sent (req_id, peer and pre-vote flag kept as
 * out_done() keeps them).
 *
 * Input: byte 0 picks the node's start (follower, candidate, leader with
 * raftd or goraft peers; pre-vote, check-quorum, snapshots, a restored
 * snapshot), byte 1 the log's shape; then operations, each an op byte and
 * its operands:
 *   op % 8 in 0..2  a request body to /raft/... (path from op / 8): a 2-byte
 *                   little-endian length, then the body;
 *   3, 4            a response body (a byte picks one of the requests in
 *                   flight, then length and body);
 *   5               time passes (next byte * 4 ms);
 *   6               the disk catches up (PERSISTED, DURABLE, SNAPSHOT_TAKEN);
 *   7               a client: write, join, leave, consistent read, transfer.
 *
 * Properties, beyond no crash / leak / UB: term and commit index never
 * decrease; a truncation never cuts a committed entry; applies are
 * contiguous, committed and never past the log; a leader knows itself as
 * leader; nothing is sent while a PERSIST is outstanding; every appended
 * entry is in the core's log and, for a received AppendEntries, inside its
 * entries; an AppendEntries sent carries entries the log holds; every
 * message sent encodes; goraft peers get only goraft's messages.
 *
 *   clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -I. -Ibuild -Ibuild/proto \
 *     tests/fuzz/fuzz_raft_rpc.c src/raft/raft.c src/raftd/rpc.c proto/wire.c \
 *     proto/command.c -o fuzz_raft_rpc
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/raft/raft.h"
#include "src/raftd/rpc.h"
#include "tests/fuzz/fuzz.h"
#include "tests/lib/core_fixture.h"


/* Names from the goraft captures (../shared/goraft-wire), so that captured
 * bodies come from members. */
#define SELF "7c55909"
static const char *const members[] = { SELF, "6edf0e8", "6ab076d", "6b99058" };
static const char *const paths[] = { "/raft/appendEntries", "/raft/requestVote", "/raft/snapshot",
				     "/raft/snapshotRecovery", "/raftd/preVote", "/raftd/timeoutNow", "/raftd/transferVote",
				     "/raft/nope" };

#define MAX_OUT 32

struct out {
	uint64_t req_id;
	enum raft_msg_type type;
	bool pre_vote;
	char to[RAFT_NAME_MAX + 1];
};

struct h {
	struct raft *r;
	const uint8_t *p, *end;
	uint64_t now;
	bool goraft_peers;
	const char *goraft[8]; /* the names the core was told are goraft */
	size_t n_goraft;
	/* the disk */
	uint64_t persist_emitted, persist_done, log_emitted, log_done;
	raft_index snap_pending;
	/* applied: what APPLY handed out, reported back at once */
	raft_index applied;
	raft_term term;
	raft_index commit;
	struct out out[MAX_OUT];
	size_t n_out;
	struct rpc_decoder dec;
	uint64_t next_req_id;
};

static unsigned take(struct h *h)
{
	return h->p < h->end ? *h->p++ : 0;
}

static bool is_goraft_peer(const struct h *h, const char *name)
{
	for (size_t i = 0; i < h->n_goraft; i++)
		if (!strcmp(h->goraft[i], name))
			return true;
	return false;
}

static void step(struct h *h, struct raft_event *ev, const struct rpc_request *rr);

static void check_send(struct h *h, const struct raft_action *a)
{
	const struct raft_msg *m = &a->send.msg;
	uint8_t buf[4096];
	CHECK(h->persist_done >= h->persist_emitted); /* raft.h: held back until PERSISTED */
	CHECK(strcmp(a->send.to, SELF) != 0);
	/* Requests the core starts; a response just answers what came in on
	 * that path (a pre-vote can only have come from a raftd node). */
	if (rpc_path(m) && is_goraft_peer(h, a->send.to)) {
		CHECK(m->type == RAFT_MSG_AE_REQ || m->type == RAFT_MSG_RV_REQ);
		CHECK(m->type != RAFT_MSG_RV_REQ || !m->rv.pre_vote);
	}
	if (!rpc_path(m)) {
		CHECK(rpc_encode_response(m, buf, sizeof(buf)) > 0 || m->type == RAFT_MSG_SNAP_RESP);
		return;
	}
	if (m->type == RAFT_MSG_AE_REQ) {
		struct wire_ae_req hdr;
		rpc_ae_header(m, SELF, &hdr);
		CHECK(m->ae.prev_index + m->ae.n_entries <= raft_last_index(h->r));
		CHECK(m->ae.prev_index >= raft_log_start(h->r) || m->ae.n_entries == 0);
		for (raft_index i = m->ae.prev_index + 1; i <= m->ae.prev_index + m->ae.n_entries; i++) {
			raft_term t;
			CHECK(raft_entry_term(h->r, i, &t) && t <= m->term);
		}
	} else {
		CHECK(rpc_encode_request(m, SELF, (struct wire_bytes){ NULL, 0 }, buf, sizeof(buf)) > 0);
	}
	/* keep it for a response (out_done); the oldest is forgotten, as a
	 * request that times out */
	if (h->n_out == MAX_OUT) {
		memmove(h->out, h->out + 1, (MAX_OUT - 1) * sizeof(h->out[0]));
		h->n_out--;
	}
	struct out *o = &h->out[h->n_out++];
	o->req_id = m->req_id;
	o->type = m->type;
	o->pre_vote = m->type == RAFT_MSG_RV_REQ && m->rv.pre_vote;
	snprintf(o->to, sizeof(o->to), "%s", a->send.to);
}

static void execute(struct h *h, const struct raft_update *u, const struct raft_event *ev,
		    const struct rpc_request *rr, raft_index commit_before)
{
	raft_index apply_to = 0;
	for (size_t i = 0; i < u->n_actions; i++) {
		const struct raft_action *a = &u->actions[i];
		switch (a->type) {
		case RAFT_ACT_PERSIST:
			CHECK(a->persist.seq > h->persist_emitted);
			h->persist_emitted = a->persist.seq;
			CHECK(a->persist.vote != NULL);
			break;
		case RAFT_ACT_TRUNCATE:
			CHECK(a->truncate.from > commit_before); /* Raft §5.4: committed stays */
			CHECK(a->truncate.from > h->applied);
			CHECK(a->truncate.seq > h->log_emitted);
			h->log_emitted = a->truncate.seq;
			break;
		case RAFT_ACT_APPEND:
			CHECK(a->append.seq > h->log_emitted);
			h->log_emitted = a->append.seq;
			CHECK(a->append.first > commit_before || a->append.n == 0);
			for (size_t k = 0; k < a->append.n; k++) {
				struct raft_entry e;
				CHECK(raft_get_entry(h->r, a->append.first + k, &e));
			}
			if (a->append.src == RAFT_SRC_EVENT && ev->type == RAFT_EV_RECV) {
				/* driver.c reads rr->raw[event_offset + k] */
				CHECK(rr && ev->recv.msg.type == RAFT_MSG_AE_REQ);
				CHECK(a->append.event_offset + a->append.n <= ev->recv.msg.ae.n_entries);
				for (size_t k = 0; k < a->append.n; k++) {
					const struct raft_entry *e = &ev->recv.msg.ae.entries[a->append.event_offset + k];
					CHECK(e->index == a->append.first + k);
					CHECK(rr->raw[a->append.event_offset + k].len == e->size);
				}
			} else if (a->append.src == RAFT_SRC_EVENT) {
				CHECK(ev->type == RAFT_EV_PROPOSE);
				CHECK(a->append.event_offset + a->append.n <= ev->propose.n);
			}
			break;
		case RAFT_ACT_SEND:
			check_send(h, a);
			break;
		case RAFT_ACT_APPLY:
			CHECK(a->apply.first == h->applied + 1);
			CHECK(a->apply.last >= a->apply.first);
			CHECK(a->apply.last <= raft_commit_index(h->r));
			CHECK(a->apply.last <= raft_last_index(h->r));
			h->applied = a->apply.last;
			apply_to = a->apply.last;
			break;
		case RAFT_ACT_ROLE:
			CHECK(a->role.term >= h->term);
			if (a->role.role == RAFT_LEADER)
				CHECK(!strcmp(a->role.leader, SELF));
			break;
		case RAFT_ACT_REMOVED:
			break;
		case RAFT_ACT_TAKE_SNAPSHOT:
			/* at the index every APPLY of the update reaches */
			CHECK(a->take_snapshot.n_members <= RAFT_MAX_PEERS);
			h->snap_pending = a->take_snapshot.index;
			break;
		case RAFT_ACT_COMPACT:
			CHECK(a->compact.upto <= raft_snapshot_index(h->r));
			break;
		case RAFT_ACT_INSTALL:
			CHECK(rr && ev->recv.msg.type == RAFT_MSG_SNAPREC_REQ);
			CHECK(a->install.index >= commit_before);
			CHECK(a->install.seq > h->log_emitted);
			h->log_emitted = a->install.seq;
			h->applied = a->install.index; /* the state machine is the snapshot's */
			h->snap_pending = 0;
			break;
		case RAFT_ACT_READ:
			CHECK(a->read.index <= raft_last_index(h->r));
			break;
		case RAFT_ACT_REFUSED:
			CHECK(ev->type == RAFT_EV_RECV && a->refused.from && a->refused.from[0]);
			CHECK(a->refused.why >= RAFT_REFUSE_TERM_MAX && a->refused.why <= RAFT_REFUSE_RECOVERING);
			break;
		default:
			CHECK(!"unknown action");
		}
	}
	CHECK(h->snap_pending <= h->applied);
	/* driver.c's report_deferred(): applied once the update is carried out */
	if (apply_to) {
		struct raft_event e = { .type = RAFT_EV_APPLIED, .applied.index = apply_to };
		step(h, &e, NULL);
	}
}

static void invariants(struct h *h)
{
	raft_term t = raft_current_term(h->r);
	raft_index c = raft_commit_index(h->r);
	CHECK(t >= h->term);
	CHECK(c >= h->commit);
	CHECK(c <= raft_last_index(h->r));
	CHECK(raft_log_start(h->r) <= raft_last_index(h->r));
	CHECK(raft_snapshot_index(h->r) <= c);
	CHECK(raft_durable_index(h->r) <= raft_last_index(h->r));
	if (raft_role(h->r) == RAFT_LEADER)
		CHECK(!strcmp(raft_leader(h->r), SELF));
	h->term = t;
	h->commit = c;
}

static void step(struct h *h, struct raft_event *ev, const struct rpc_request *rr)
{
	struct raft_update u;
	raft_index commit_before = raft_commit_index(h->r);
	ev->now = h->now;
	int rv = raft_step(h->r, ev, &u);
	CHECK(rv <= 0);
	execute(h, &u, ev, rr, commit_before);
	invariants(h);
}

static size_t body(struct h *h, const uint8_t **ret)
{
	size_t len = take(h);
	len |= (size_t)take(h) << 8;
	if (len > (size_t)(h->end - h->p))
		len = (size_t)(h->end - h->p);
	*ret = h->p;
	h->p += len;
	return len;
}

/* on_raft(): decode, deny a vote to a non-member, else step. */
static void op_request(struct h *h, unsigned op)
{
	const uint8_t *b;
	size_t len = body(h, &b);
	struct rpc_request rr;
	char err[256];
	int rv = rpc_decode_request(&h->dec, paths[(op / 8) % 8], b, len, ++h->next_req_id, &rr, err, sizeof(err));
	if (rv < 0) {
		CHECK(rv == -ENOENT || rv == -EBADMSG);
		CHECK(rv == -ENOENT || err[0]);
		return;
	}
	CHECK(rr.from != NULL);
	if (rr.msg.type == RAFT_MSG_AE_REQ) {
		for (size_t i = 0; i < rr.msg.ae.n_entries; i++)
			CHECK(rr.raw[i].len == rr.msg.ae.entries[i].size);
	}
	if (rr.msg.type == RAFT_MSG_RV_REQ && raft_is_member(h->r, SELF) && !raft_is_member(h->r, rr.from))
		return;
	struct raft_event ev = { .type = RAFT_EV_RECV, .recv.from = rr.from, .recv.msg = rr.msg };
	step(h, &ev, &rr);
}

/* out_done(): the response to a request in flight. */
static void op_response(struct h *h)
{
	const uint8_t *b;
	unsigned pick = take(h);
	size_t len = body(h, &b);
	if (!h->n_out)
		return;
	struct out o = h->out[pick % h->n_out];
	memmove(&h->out[pick % h->n_out], &h->out[pick % h->n_out + 1],
		(h->n_out - pick % h->n_out - 1) * sizeof(h->out[0]));
	h->n_out--;
	struct raft_msg m;
	char err[160];
	if (rpc_decode_response(o.type, b, len, o.req_id, &m, err, sizeof(err)) < 0)
		return;
	if (m.type == RAFT_MSG_RV_RESP)
		m.rv_resp.pre_vote = o.pre_vote;
	struct raft_event ev = { .type = RAFT_EV_RECV, .recv.from = o.to, .recv.msg = m };
	step(h, &ev, NULL);
}

static void op_disk(struct h *h)
{
	unsigned what = take(h);
	if ((what & 1) && h->persist_done < h->persist_emitted) {
		h->persist_done = h->persist_emitted;
		struct raft_event ev = { .type = RAFT_EV_PERSISTED, .persisted.seq = h->persist_done };
		step(h, &ev, NULL);
	}
	if ((what & 2) && h->log_done < h->log_emitted) {
		h->log_done = h->log_emitted;
		struct raft_event ev = { .type = RAFT_EV_DURABLE, .durable.seq = h->log_done };
		step(h, &ev, NULL);
	}
	if ((what & 4) && h->snap_pending) {
		struct raft_event ev = { .type = RAFT_EV_SNAPSHOT_TAKEN,
					 .snapshot_taken.index = (what & 8) ? 0 : h->snap_pending };
		h->snap_pending = 0;
		step(h, &ev, NULL);
	}
}

static void op_client(struct h *h)
{
	unsigned what = take(h), arg = take(h);
	const char *name = members[arg % 4];
	struct raft_entry e = { .size = 40 + arg };
	struct raft_event ev = { .type = RAFT_EV_PROPOSE, .propose.n = 1, .propose.entries = &e };
	switch (what % 6) {
	case 0:
	case 1:
		e.type = RAFT_ENTRY_COMMAND;
		break;
	case 2:
		e.type = RAFT_ENTRY_JOIN;
		e.name = (arg & 4) ? "1234567" : name;
		e.url = "http://localhost:14009";
		if (h->goraft_peers && !raft_is_member(h->r, e.name) && !is_goraft_peer(h, e.name)) {
			/* on_join(): a goraft node cannot join a compacted
			 * log (409); else the core learns its kind first */
			if (raft_log_start(h->r) > 0)
				return;
			struct raft_event k = { .type = RAFT_EV_PEER_KIND, .peer_kind.name = e.name,
						.peer_kind.goraft = true };
			h->goraft[h->n_goraft++] = e.name;
			step(h, &k, NULL);
		}
		break;
	case 3:
		e.type = RAFT_ENTRY_LEAVE;
		e.name = name;
		break;
	case 4:
		ev = (struct raft_event){ .type = RAFT_EV_READ, .read.id = arg };
		break;
	case 5:
		ev = (struct raft_event){ .type = RAFT_EV_TRANSFER, .transfer.to = name };
		break;
	}
	step(h, &ev, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct h h;
	if (size < 2)
		return 0;
	memset(&h, 0, sizeof(h));
	h.p = data;
	h.end = data + size;
	unsigned setup = take(&h), shape = take(&h);

	/* the tests' defaults (tests/lib/core_fixture.h), then the input's */
	struct raft_config cfg = fx_config(SELF);
	cfg.seed = shape;
	cfg.pre_vote = setup & 4;
	cfg.check_quorum = setup & 8;
	if (setup & 16) {
		cfg.snapshot_threshold = 3;
		cfg.snapshot_trailing = 1;
	}
	cfg.max_entries = 1 + (shape >> 5);
	/* The log: joins of 3 (or 4) members, then nops; terms step up
	 * where shape's low bits say. A snapshot may cover the joins. */
	size_t n_members = (setup & 64) ? 4 : 3, n = n_members + (shape & 3) * 2;
	struct raft_entry e[16];
	struct raft_member_info snap_members[4];
	raft_term t = shape & 4 ? 1 : 0;
	for (size_t k = 0; k < n; k++) {
		if (k == n_members && (shape & 8))
			t++;
		e[k] = (struct raft_entry){ .index = k + 1, .term = t, .size = 50 };
		if (k < n_members) {
			e[k].type = RAFT_ENTRY_JOIN;
			e[k].name = members[k];
			e[k].url = "http://localhost:14001";
			snap_members[k] = (struct raft_member_info){ members[k], "http://localhost:14001", false };
		} else {
			e[k].type = RAFT_ENTRY_NOP;
		}
	}
	struct raft_restore rs = { .term = t + ((shape >> 4) & 1), .vote = "", .n_entries = n, .entries = e,
				   .commit = (shape & 16) ? n_members : 0 };
	if (setup & 128) {
		rs.snap_index = n_members;
		rs.snap_term = e[n_members - 1].term;
		rs.n_snap_members = n_members;
		rs.snap_members = snap_members;
		rs.entries = e + n_members;
		rs.n_entries = n - n_members;
		rs.commit = n_members;
	}
	CHECK(raft_new(&cfg, &rs, 0, &h.r) == 0);
	h.term = raft_current_term(h.r);
	h.commit = raft_commit_index(h.r);
	h.applied = rs.snap_index;

	unsigned role = setup & 3;
	if (role == 3) {
		h.goraft_peers = true;
		for (size_t k = 1; k < n_members; k++) {
			struct raft_event ev = { .type = RAFT_EV_PEER_KIND, .peer_kind.name = members[k],
						 .peer_kind.goraft = true };
			h.goraft[h.n_goraft++] = members[k];
			step(&h, &ev, NULL);
		}
	}
	if (role >= 1) {
		/* campaign: an election timeout, the vote on disk */
		h.now += 1000;
		struct raft_event tick = { .type = RAFT_EV_TICK };
		step(&h, &tick, NULL);
		struct raft_event p = { .type = RAFT_EV_PERSISTED, .persisted.seq = h.persist_emitted };
		h.persist_done = h.persist_emitted;
		step(&h, &p, NULL);
	}
	if (role >= 2) {
		/* the pre-vote round first, if any, then the votes */
		for (int round = 0; round < 2 && raft_role(h.r) != RAFT_LEADER; round++) {
			for (size_t k = 0; k < h.n_out; k++) {
				if (h.out[k].type != RAFT_MSG_RV_REQ)
					continue;
				struct raft_msg g = { .type = RAFT_MSG_RV_RESP, .req_id = h.out[k].req_id,
						      .term = raft_current_term(h.r) };
				g.rv_resp.granted = true;
				g.rv_resp.pre_vote = h.out[k].pre_vote;
				struct raft_event ev = { .type = RAFT_EV_RECV, .recv.from = h.out[k].to,
							 .recv.msg = g };
				h.n_out = 0;
				step(&h, &ev, NULL);
				break;
			}
			struct raft_event p = { .type = RAFT_EV_PERSISTED, .persisted.seq = h.persist_emitted };
			h.persist_done = h.persist_emitted;
			step(&h, &p, NULL);
		}
	}

	while (h.p < h.end) {
		unsigned op = take(&h);
		switch (op % 8) {
		case 0:
		case 1:
		case 2:
			op_request(&h, op);
			break;
		case 3:
		case 4:
			op_response(&h);
			break;
		case 5:
			h.now += take(&h) * 4u;
			struct raft_event tick = { .type = RAFT_EV_TICK };
			step(&h, &tick, NULL);
			break;
		case 6:
			op_disk(&h);
			break;
		case 7:
			op_client(&h);
			break;
		}
	}
#ifdef FUZZ_DEBUG
	fprintf(stderr, "%s term %llu commit %llu last %llu applied %llu in flight %zu\n",
		raft_role_name(raft_role(h.r)), (unsigned long long)raft_current_term(h.r),
		(unsigned long long)raft_commit_index(h.r), (unsigned long long)raft_last_index(h.r),
		(unsigned long long)h.applied, h.n_out);
#endif
	raft_free(h.r);
	rpc_decoder_free(&h.dec);
	return 0;
}
