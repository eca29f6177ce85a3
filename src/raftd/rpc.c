/* src/raftd/rpc.c — goraft wire <-> raft_msg; see rpc.h. */
#include "src/raftd/rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/command.h"

#define PATH_AE "/raft/appendEntries"
#define PATH_RV "/raft/requestVote"
#define PATH_SNAP "/raft/snapshot"
#define PATH_SNAPREC "/raft/snapshotRecovery"
#define PATH_PREVOTE "/raftd/preVote"
#define PATH_TIMEOUT_NOW "/raftd/timeoutNow"
#define PATH_TRANSFER_VOTE "/raftd/transferVote"
#define PATH_READ_INDEX "/raftd/readIndex"

void rpc_decoder_free(struct rpc_decoder *d)
{
	free(d->entries);
	free(d->raw);
	free(d->peers);
	free(d->strings);
	memset(d, 0, sizeof(*d));
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Strings come from the body (unescaped JSON is never longer than its
 * text), so reserving the body's size up front means the arena never moves
 * while pointers into it are being handed out. */
static int reserve_strings(struct rpc_decoder *d, size_t body_len, size_t n_strings)
{
	d->strings_len = 0;
	return grow((void **)&d->strings, &d->strings_cap, body_len + n_strings + 1, 1);
}

static const char *store(struct rpc_decoder *d, const void *s, size_t len)
{
	if (d->strings_len + len + 1 > d->strings_cap)
		return NULL; /* cannot happen after reserve_strings() */
	char *p = d->strings + d->strings_len;
	if (len) /* s may be NULL then: a join or leave without a payload */
		memcpy(p, s, len);
	p[len] = '\0';
	d->strings_len += len + 1;
	return p;
}

static int wire_fail(const struct wire_error *werr, char *err, size_t err_len)
{
	wire_error_format(werr, err, err_len);
	return -EBADMSG;
}

/* ---- LogEntry typing: the one place that knows what a CommandName means ---- */

/* The core needs a member's name and URL from raft:join / raft:leave (and
 * raftd:learner). An entry whose payload goraft could not decode is one
 * goraft would not apply either: it is typed as a plain command, which
 * changes no membership; so is one with an unregistered name. For a
 * membership change *member holds the decoded command (ret's name and url
 * point into it); otherwise it is zeroed. Either way cmd_free() it. */
static void classify(const struct wire_log_entry *e, uint32_t size, struct raft_entry *ret, struct cmd *member)
{
	*ret = (struct raft_entry){ .index = e->index, .term = e->term, .type = RAFT_ENTRY_COMMAND, .size = size };
	memset(member, 0, sizeof(*member));
	enum cmd_type type;
	if (cmd_type_from_name(e->command_name.ptr, e->command_name.len, &type) < 0)
		return;
	if (type == CMD_NOP) {
		ret->type = RAFT_ENTRY_NOP;
		return;
	}
	if (type != CMD_JOIN && type != CMD_LEAVE && type != CMD_LEARNER)
		return;
	char why[160];
	if (cmd_decode(e->command_name.ptr, e->command_name.len, e->has_command, e->command.ptr, e->command.len,
		       member, why, sizeof(why)) < 0)
		return;
	if (member->name.len > RAFT_NAME_MAX || member->connection_string.len > RAFT_URL_MAX) {
		cmd_free(member);
		return;
	}
	ret->type = type == CMD_JOIN ? RAFT_ENTRY_JOIN : type == CMD_LEAVE ? RAFT_ENTRY_LEAVE : RAFT_ENTRY_LEARNER;
	ret->name = member->name.ptr ? member->name.ptr : "";
	if (type != CMD_LEAVE)
		ret->url = member->connection_string.ptr ? member->connection_string.ptr : "";
}

int rpc_entry_type(const uint8_t *data, size_t len, struct raft_entry *ret, struct cmd *member, bool *ret_goraft,
		   char *err, size_t err_len)
{
	struct wire_log_entry e;
	struct wire_error werr;
	if (wire_decode_log_entry(data, len, &e, &werr) < 0) {
		memset(member, 0, sizeof(*member));
		return wire_fail(&werr, err, err_len);
	}
	classify(&e, (uint32_t)len, ret, member);
	if (ret_goraft)
		*ret_goraft = cmd_goraft_may_get(e.command_name.ptr, e.command_name.len);
	return 0;
}

int rpc_entry_command(const uint8_t *data, size_t len, struct cmd *cmd, char *err, size_t err_len)
{
	struct wire_log_entry e;
	struct wire_error werr;
	if (wire_decode_log_entry(data, len, &e, &werr) < 0)
		return wire_fail(&werr, err, err_len);
	enum cmd_type t;
	if (cmd_type_from_name(e.command_name.ptr, e.command_name.len, &t) < 0) {
		memset(cmd, 0, sizeof(*cmd));
		cmd->type = CMD_NOP;
		return 0;
	}
	unsigned flags = t == CMD_WRITE || t == CMD_DELETE ? CMD_DECODE_BORROW : 0;
	return cmd_decode_flags(e.command_name.ptr, e.command_name.len, e.has_command, e.command.ptr, e.command.len,
				flags, cmd, err, err_len);
}

bool rpc_entry_goraft_may_get(const uint8_t *data, size_t len)
{
	struct wire_log_entry e;
	if (wire_decode_log_entry(data, len, &e, NULL) < 0)
		return true; /* not a LogEntry: nothing a goraft node would apply */
	return cmd_goraft_may_get(e.command_name.ptr, e.command_name.len);
}

bool rpc_cmd_goraft_may_get(const struct cmd *c)
{
	const char *name = cmd_type_name(c->type);
	return cmd_goraft_may_get((const uint8_t *)name, strlen(name));
}

void rpc_cmd_entry(const struct cmd *c, raft_index index, raft_term term, struct raft_entry *ret)
{
	*ret = (struct raft_entry){ .index = index, .term = term, .type = RAFT_ENTRY_COMMAND,
				    .size = (uint32_t)cmd_entry_size(index, term, c) };
	switch (c->type) {
	case CMD_NOP:
		ret->type = RAFT_ENTRY_NOP;
		break;
	case CMD_JOIN:
	case CMD_LEARNER:
		ret->type = c->type == CMD_JOIN ? RAFT_ENTRY_JOIN : RAFT_ENTRY_LEARNER;
		ret->name = c->name.ptr;
		ret->url = c->connection_string.ptr;
		break;
	case CMD_LEAVE:
		ret->type = RAFT_ENTRY_LEAVE;
		ret->name = c->name.ptr;
		break;
	case CMD_WRITE:
	case CMD_DELETE:
	case CMD_V3:
		break;
	}
}

void rpc_core_entry_cmd(const struct raft_entry *e, struct cmd *c)
{
	memset(c, 0, sizeof(*c));
	switch (e->type) {
	case RAFT_ENTRY_JOIN:
		c->type = CMD_JOIN;
		c->name = cmd_str_ref(e->name, strlen(e->name));
		c->connection_string = cmd_str_ref(e->url, strlen(e->url));
		break;
	case RAFT_ENTRY_LEAVE:
		c->type = CMD_LEAVE;
		c->name = cmd_str_ref(e->name, strlen(e->name));
		break;
	default:
		c->type = CMD_NOP;
		break;
	}
}

/* A received entry, typed, its strings in the decoder's arena. */
static int type_entry(struct rpc_decoder *d, const struct wire_log_entry *e, uint32_t size,
		      struct raft_entry *ret)
{
	struct cmd member;
	classify(e, size, ret, &member);
	if (ret->name)
		ret->name = store(d, member.name.ptr, member.name.len);
	if (ret->url)
		ret->url = store(d, member.connection_string.ptr, member.connection_string.len);
	bool lost = (ret->type == RAFT_ENTRY_JOIN || ret->type == RAFT_ENTRY_LEAVE ||
		     ret->type == RAFT_ENTRY_LEARNER) && !ret->name;
	cmd_free(&member);
	return lost ? -ENOMEM : 0;
}

static int decode_ae(struct rpc_decoder *d, const uint8_t *body, size_t len, struct rpc_request *ret,
		     char *err, size_t err_len)
{
	struct wire_ae_req req;
	struct wire_error werr;
	if (wire_decode_ae_req(body, len, &req, &werr) < 0)
		return wire_fail(&werr, err, err_len);
	size_t n = req.entries.count;
	if (grow((void **)&d->entries, &d->entries_cap, n, sizeof(*d->entries)) < 0 ||
	    grow((void **)&d->raw, &d->raw_cap, n, sizeof(*d->raw)) < 0 ||
	    reserve_strings(d, len, 2 * n + 1) < 0)
		return -ENOMEM;
	ret->from = store(d, req.leader_name.ptr, req.leader_name.len);

	size_t cursor = 0, i = 0;
	struct wire_bytes raw;
	while (i < n && wire_next_entry(&req, &cursor, &raw)) {
		struct wire_log_entry e;
		if (wire_decode_log_entry(raw.ptr, raw.len, &e, &werr) < 0)
			return wire_fail(&werr, err, err_len); /* validated above: cannot happen */
		int rv = type_entry(d, &e, (uint32_t)raw.len, &d->entries[i]);
		if (rv < 0)
			return rv;
		d->raw[i++] = raw;
	}
	ret->msg.type = RAFT_MSG_AE_REQ;
	ret->msg.term = req.term;
	ret->msg.ae.prev_index = req.prev_log_index;
	ret->msg.ae.prev_term = req.prev_log_term;
	ret->msg.ae.commit = req.commit_index;
	ret->msg.ae.n_entries = n;
	ret->msg.ae.entries = n ? d->entries : NULL;
	ret->raw = n ? d->raw : NULL;
	return 0;
}

static int decode_rv(struct rpc_decoder *d, const uint8_t *body, size_t len, enum raft_msg_type type,
		     bool pre_vote, struct rpc_request *ret, char *err, size_t err_len)
{
	struct wire_rv_req req;
	struct wire_error werr;
	if (wire_decode(WIRE_RV_REQ, body, len, &req, &werr) < 0)
		return wire_fail(&werr, err, err_len);
	if (reserve_strings(d, len, 1) < 0)
		return -ENOMEM;
	ret->from = store(d, req.candidate_name.ptr, req.candidate_name.len);
	ret->msg.type = type;
	ret->msg.term = req.term;
	ret->msg.rv.last_index = req.last_log_index;
	ret->msg.rv.last_term = req.last_log_term;
	ret->msg.rv.pre_vote = pre_vote;
	return 0;
}

static int decode_snap(struct rpc_decoder *d, const uint8_t *body, size_t len, struct rpc_request *ret,
		       char *err, size_t err_len)
{
	struct wire_snap_req req;
	struct wire_error werr;
	if (wire_decode(WIRE_SNAP_REQ, body, len, &req, &werr) < 0)
		return wire_fail(&werr, err, err_len);
	if (reserve_strings(d, len, 1) < 0)
		return -ENOMEM;
	ret->from = store(d, req.leader_name.ptr, req.leader_name.len);
	ret->msg.type = RAFT_MSG_SNAP_REQ;
	ret->msg.snap.last_index = req.last_index;
	ret->msg.snap.last_term = req.last_term;
	return 0;
}

static int decode_snaprec(struct rpc_decoder *d, const uint8_t *body, size_t len, struct rpc_request *ret,
			  char *err, size_t err_len)
{
	struct wire_snaprec_req req;
	struct wire_error werr;
	if (wire_decode(WIRE_SNAPREC_REQ, body, len, &req, &werr) < 0)
		return wire_fail(&werr, err, err_len);
	size_t n = req.peers.count;
	if (grow((void **)&d->peers, &d->peers_cap, n, sizeof(*d->peers)) < 0 ||
	    reserve_strings(d, len, 2 * n + 1) < 0)
		return -ENOMEM;
	ret->from = store(d, req.leader_name.ptr, req.leader_name.len);
	size_t cursor = 0, i = 0;
	struct wire_peer peer;
	while (i < n && wire_next_peer(&req, &cursor, &peer)) {
		d->peers[i].name = store(d, peer.name.ptr, peer.name.len);
		d->peers[i].url = store(d, peer.connection_string.ptr, peer.connection_string.len);
		d->peers[i].learner = false; /* goraft's Peer has no such field */
		i++;
	}
	ret->msg.type = RAFT_MSG_SNAPREC_REQ;
	ret->msg.snaprec.last_index = req.last_index;
	ret->msg.snaprec.last_term = req.last_term;
	ret->msg.snaprec.n_peers = i;
	ret->msg.snaprec.peers = i ? d->peers : NULL;
	ret->state = req.state;
	return 0;
}

int rpc_decode_request(struct rpc_decoder *d, const char *path, const uint8_t *body, size_t len,
		       uint64_t req_id, struct rpc_request *ret, char *err, size_t err_len)
{
	int rv;
	memset(ret, 0, sizeof(*ret));
	if (!strcmp(path, PATH_AE))
		rv = decode_ae(d, body, len, ret, err, err_len);
	else if (!strcmp(path, PATH_RV))
		rv = decode_rv(d, body, len, RAFT_MSG_RV_REQ, false, ret, err, err_len);
	else if (!strcmp(path, PATH_PREVOTE))
		rv = decode_rv(d, body, len, RAFT_MSG_RV_REQ, true, ret, err, err_len);
	else if (!strcmp(path, PATH_TRANSFER_VOTE)) {
		rv = decode_rv(d, body, len, RAFT_MSG_RV_REQ, false, ret, err, err_len);
		ret->msg.rv.transfer = true;
	} else if (!strcmp(path, PATH_TIMEOUT_NOW))
		rv = decode_rv(d, body, len, RAFT_MSG_TIMEOUT_NOW, false, ret, err, err_len);
	else if (!strcmp(path, PATH_READ_INDEX))
		rv = decode_rv(d, body, len, RAFT_MSG_READ_INDEX, false, ret, err, err_len);
	else if (!strcmp(path, PATH_SNAP))
		rv = decode_snap(d, body, len, ret, err, err_len);
	else if (!strcmp(path, PATH_SNAPREC))
		rv = decode_snaprec(d, body, len, ret, err, err_len);
	else
		return -ENOENT;
	if (rv == 0 && !ret->from)
		rv = -ENOMEM;
	ret->msg.req_id = req_id;
	return rv;
}

int rpc_decode_response(enum raft_msg_type request_type, const uint8_t *body, size_t len, uint64_t req_id,
			struct raft_msg *ret, char *err, size_t err_len)
{
	struct wire_error werr;
	int rv = -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->req_id = req_id;
	switch (request_type) {
	case RAFT_MSG_AE_REQ: {
		struct wire_ae_resp m;
		if ((rv = wire_decode(WIRE_AE_RESP, body, len, &m, &werr)) == 0) {
			ret->type = RAFT_MSG_AE_RESP;
			ret->term = m.term;
			ret->ae_resp.index = m.index;
			ret->ae_resp.commit = m.commit_index;
			ret->ae_resp.success = m.success;
		}
		break;
	}
	case RAFT_MSG_RV_REQ: {
		struct wire_rv_resp m;
		if ((rv = wire_decode(WIRE_RV_RESP, body, len, &m, &werr)) == 0) {
			ret->type = RAFT_MSG_RV_RESP;
			ret->term = m.term;
			ret->rv_resp.granted = m.vote_granted;
		}
		break;
	}
	case RAFT_MSG_READ_INDEX: {
		/* an AppendEntriesResponse body: Index is the read index */
		struct wire_ae_resp m;
		if ((rv = wire_decode(WIRE_AE_RESP, body, len, &m, &werr)) == 0) {
			ret->type = RAFT_MSG_READ_INDEX_RESP;
			ret->term = m.term;
			ret->read_index_resp.index = m.index;
			ret->read_index_resp.success = m.success;
		}
		break;
	}
	case RAFT_MSG_SNAP_REQ: {
		struct wire_snap_resp m;
		if ((rv = wire_decode(WIRE_SNAP_RESP, body, len, &m, &werr)) == 0) {
			ret->type = RAFT_MSG_SNAP_RESP;
			ret->snap_resp.success = m.success;
		}
		break;
	}
	case RAFT_MSG_SNAPREC_REQ: {
		struct wire_snaprec_resp m;
		if ((rv = wire_decode(WIRE_SNAPREC_RESP, body, len, &m, &werr)) == 0) {
			ret->type = RAFT_MSG_SNAPREC_RESP;
			ret->term = m.term;
			ret->snaprec_resp.success = m.success;
			ret->snaprec_resp.commit = m.commit_index;
		}
		break;
	}
	default:
		snprintf(err, err_len, "no response is expected to message type %d", request_type);
		return -EINVAL;
	}
	if (rv < 0)
		return wire_fail(&werr, err, err_len);
	return 0;
}

const char *rpc_path(const struct raft_msg *msg)
{
	switch (msg->type) {
	case RAFT_MSG_AE_REQ: return PATH_AE;
	case RAFT_MSG_RV_REQ: return msg->rv.pre_vote ? PATH_PREVOTE : msg->rv.transfer ? PATH_TRANSFER_VOTE : PATH_RV;
	case RAFT_MSG_SNAP_REQ: return PATH_SNAP;
	case RAFT_MSG_SNAPREC_REQ: return PATH_SNAPREC;
	case RAFT_MSG_TIMEOUT_NOW: return PATH_TIMEOUT_NOW;
	case RAFT_MSG_READ_INDEX: return PATH_READ_INDEX;
	default: return NULL;
	}
}

long rpc_encode_response(const struct raft_msg *msg, uint8_t *buf, size_t cap)
{
	switch (msg->type) {
	case RAFT_MSG_AE_RESP: {
		struct wire_ae_resp m = { msg->term, msg->ae_resp.index, msg->ae_resp.commit, msg->ae_resp.success };
		return wire_encode(WIRE_AE_RESP, &m, buf, cap);
	}
	case RAFT_MSG_RV_RESP: {
		struct wire_rv_resp m = { msg->term, msg->rv_resp.granted };
		return wire_encode(WIRE_RV_RESP, &m, buf, cap);
	}
	case RAFT_MSG_READ_INDEX_RESP: {
		struct wire_ae_resp m = { msg->term, msg->read_index_resp.index, 0, msg->read_index_resp.success };
		return wire_encode(WIRE_AE_RESP, &m, buf, cap);
	}
	case RAFT_MSG_SNAP_RESP: {
		struct wire_snap_resp m = { msg->snap_resp.success };
		return wire_encode(WIRE_SNAP_RESP, &m, buf, cap);
	}
	case RAFT_MSG_SNAPREC_RESP: {
		struct wire_snaprec_resp m = { msg->term, msg->snaprec_resp.success, msg->snaprec_resp.commit };
		return wire_encode(WIRE_SNAPREC_RESP, &m, buf, cap);
	}
	default:
		return -EINVAL;
	}
}

static struct wire_bytes str_bytes(const char *s)
{
	return (struct wire_bytes){ (const uint8_t *)s, s ? strlen(s) : 0 };
}

void rpc_ae_header(const struct raft_msg *msg, const char *self, struct wire_ae_req *ret)
{
	*ret = (struct wire_ae_req){ .term = msg->term,
				     .prev_log_index = msg->ae.prev_index,
				     .prev_log_term = msg->ae.prev_term,
				     .commit_index = msg->ae.commit,
				     .leader_name = str_bytes(self) };
}

long rpc_encode_request(const struct raft_msg *msg, const char *self, struct wire_bytes state, uint8_t *buf,
			size_t cap)
{
	switch (msg->type) {
	case RAFT_MSG_RV_REQ:
	case RAFT_MSG_TIMEOUT_NOW:
	case RAFT_MSG_READ_INDEX: {
		struct wire_rv_req m = { msg->term, msg->rv.last_index, msg->rv.last_term, str_bytes(self) };
		return wire_encode(WIRE_RV_REQ, &m, buf, cap);
	}
	case RAFT_MSG_SNAP_REQ: {
		struct wire_snap_req m = { str_bytes(self), msg->snap.last_index, msg->snap.last_term };
		return wire_encode(WIRE_SNAP_REQ, &m, buf, cap);
	}
	case RAFT_MSG_SNAPREC_REQ: {
		/* Peers are encoded into the tail of buf first, then the
		 * message in front of them (both fit, or -ENOSPC). */
		size_t n = msg->snaprec.n_peers, used = 0;
		struct wire_bytes *items = calloc(n ? n : 1, sizeof(*items));
		if (!items)
			return -ENOMEM;
		long rv = 0;
		for (size_t i = 0; i < n && rv >= 0; i++) {
			struct wire_peer p = { str_bytes(msg->snaprec.peers[i].name),
					       str_bytes(msg->snaprec.peers[i].url) };
			size_t size = wire_encoded_size(WIRE_SNAPREC_PEER, &p);
			if (used + size > cap) {
				rv = -ENOSPC;
				break;
			}
			used += size;
			rv = wire_encode(WIRE_SNAPREC_PEER, &p, buf + cap - used, size);
			items[i] = (struct wire_bytes){ buf + cap - used, size };
		}
		if (rv >= 0) {
			struct wire_snaprec_req m = { str_bytes(self), msg->snaprec.last_index, msg->snaprec.last_term,
						      { n, items }, state, { 0 } };
			size_t size = wire_encoded_size(WIRE_SNAPREC_REQ, &m);
			rv = size + used > cap ? -ENOSPC : wire_encode(WIRE_SNAPREC_REQ, &m, buf, size);
		}
		free(items);
		return rv;
	}
	default:
		return -EINVAL;
	}
}
