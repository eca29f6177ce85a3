/* src/raftd/rpc.h — goraft's RPC bodies to and from the Raft core's messages.
 *
 * The core speaks struct raft_msg (src/raft/raft.h); peers speak goraft's
 * protobuf (proto/wire.h). This module translates one field at a time, and
 * types every entry for the core, received or stored (the one place that
 * knows what a CommandName means): raft:nop, raft:join and
 * raft:leave (payload decoded, so the core sees member names and URLs),
 * anything else a command. The entries' bytes are not copied: each decoded
 * entry keeps its byte range inside the request body, which the daemon hands
 * to the WAL as is.
 *
 * A struct rpc_decoder owns the storage a decoded message points into
 * (entry array, names, URLs). It is reused from request to request, so a
 * busy follower does not allocate per message once the arena has grown.
 * Everything a decode returns stays valid until the next decode with the
 * same decoder, or rpc_decoder_free().
 */
#ifndef RAFTD_SRC_RAFTD_RPC_H
#define RAFTD_SRC_RAFTD_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/command.h"
#include "proto/wire.h"
#include "src/raft/raft.h"

struct rpc_decoder {
	struct raft_entry *entries;
	size_t entries_cap;
	struct wire_bytes *raw;      /* raw[i]: the LogEntry bytes of entries[i] */
	size_t raw_cap;
	struct raft_member_info *peers;
	size_t peers_cap;
	char *strings;               /* names and URLs, NUL-terminated */
	size_t strings_len, strings_cap;
};

/* What a received request carries besides the message. */
struct rpc_request {
	struct raft_msg msg;
	const char *from;                /* LeaderName / CandidateName */
	const struct wire_bytes *raw;    /* AppendEntries: msg.ae.n_entries ranges */
	struct wire_bytes state;         /* SnapshotRecovery: the State bytes */
};

void rpc_decoder_free(struct rpc_decoder *d);

/* Decodes the body of a request to `path`: goraft's /raft/appendEntries,
 * /raft/requestVote, /raft/snapshot, /raft/snapshotRecovery, or a raftd-only
 * path (/raftd/preVote, /raftd/timeoutNow, /raftd/transferVote,
 * /raftd/readIndex; RequestVoteRequest bodies, a read index answered with an
 * AppendEntriesResponse body).
 * Returns 0, -ENOENT for an unknown path, or -EBADMSG with the reason in err
 * (the daemon answers 400, as goraft does). req_id is the daemon's number
 * for the HTTP exchange; the core echoes it in the response. */
int rpc_decode_request(struct rpc_decoder *d, const char *path, const uint8_t *body, size_t len,
		       uint64_t req_id, struct rpc_request *ret, char *err, size_t err_len);

/* Decodes a peer's response to a request of type `request_type`. Returns 0
 * or -EBADMSG (treat as no response, as goraft does). */
int rpc_decode_response(enum raft_msg_type request_type, const uint8_t *body, size_t len,
			uint64_t req_id, struct raft_msg *ret, char *err, size_t err_len);

/* ---- LogEntry typing ----------------------------------------------------
 * What a goraft LogEntry's CommandName means to raftd is known here only
 * (the names themselves are proto/command.h's): the driver, start-up and
 * the received AppendEntries all type entries through these. */

/* Types an entry's bytes for the core, as a received AppendEntries' entries
 * are typed: raft:nop a NOP, raft:join / raft:leave / raftd:learner with a
 * decodable payload a membership change, anything else (raftd:delete,
 * unregistered names, undecodable payloads) a plain command. ret gets
 * index, term, type and size (= len); for a membership change *member holds
 * the decoded command and ret->name / ret->url point into it (else *member
 * is zeroed): cmd_free(member) in both cases. *ret_goraft (may be NULL):
 * whether the entry may be in a goraft node's log (cmd_goraft_may_get).
 * Returns 0, or -EBADMSG for bytes that are not a LogEntry. */
int rpc_entry_type(const uint8_t *data, size_t len, struct raft_entry *ret, struct cmd *member, bool *ret_goraft,
		   char *err, size_t err_len);

/* The command to apply for an entry's bytes; cmd must be cmd_free()d. An
 * unregistered name applies as a nop (goraft fails such an entry and moves
 * on). A write's or delete's strings point into data (not NUL-terminated):
 * kv_apply() copies them, so a value is copied once, from the WAL into the
 * map. 0, or -EBADMSG (not a LogEntry, or a payload goraft would fail). */
int rpc_entry_command(const uint8_t *data, size_t len, struct cmd *cmd, char *err, size_t err_len);

/* Whether an entry may be in a goraft node's log (bytes that are not a
 * LogEntry: true, nothing a goraft node would apply); the same for a
 * command about to be proposed. */
bool rpc_entry_goraft_may_get(const uint8_t *data, size_t len);
bool rpc_cmd_goraft_may_get(const struct cmd *c);

/* The entry the core is given for a command the daemon proposes at
 * (index, term): type, size, and for a membership change name and url
 * (pointing into c). */
void rpc_cmd_entry(const struct cmd *c, raft_index index, raft_term term, struct raft_entry *ret);

/* The command for an entry the core made (a nop, or a raft:join /
 * raft:leave it proposes itself); its strings point into e. */
void rpc_core_entry_cmd(const struct raft_entry *e, struct cmd *c);

/* The path a request message is sent to ("/raft/appendEntries", or
 * "/raftd/preVote" for a pre-vote...), or NULL for a response. */
const char *rpc_path(const struct raft_msg *msg);

/* Encodes a response message into buf (goraft's bytes: every field, zero
 * values included). Returns the size, -ENOSPC, or -EINVAL for a message that
 * is not a response. */
long rpc_encode_response(const struct raft_msg *msg, uint8_t *buf, size_t cap);

/* Encodes a request other than AppendEntries (whose body is built as an
 * iovec by rpc_ae_header() + wire_ae_encode_iov()). self is this node's
 * name (CandidateName, LeaderName). SnapshotRecovery's State is `state`.
 * Returns the size, or -ENOSPC (buf then holds garbage) / -EINVAL. */
long rpc_encode_request(const struct raft_msg *msg, const char *self, struct wire_bytes state, uint8_t *buf,
			size_t cap);

/* The header fields of an AppendEntries request, for wire_ae_encode_iov(). */
void rpc_ae_header(const struct raft_msg *msg, const char *self, struct wire_ae_req *ret);

#endif
