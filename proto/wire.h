/* proto/wire.h — goraft's nine protobuf messages on the wire.
 *
 * Strict decoders that never read outside the buffer and say what is wrong,
 * canonical encoders that emit every required field (goraft's proto2 runtime
 * rejects a message with one missing, even when it is zero), and a zero-copy
 * AppendEntriesRequest encoder that points iovecs at already encoded LogEntry
 * bytes instead of copying them.
 *
 * Decoded messages are views: every wire_bytes points into the decoded
 * buffer, which must outlive the message. Nothing here allocates memory.
 *
 * The schema lives in the .proto files beside this header (compiled by protoc-c for the tests,
 * which use protobuf-c as an independent oracle for this codec).
 */
#ifndef RAFTD_PROTO_WIRE_H
#define RAFTD_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

/* A byte range owned by someone else. */
struct wire_bytes {
	const uint8_t *ptr;
	size_t len;
};

/* Names, command names and connection strings longer than this are refused:
 * goraft names are 7 characters, and nothing legitimate comes close. */
#define WIRE_MAX_STRING 4096

/* Largest encoding of a varint, and of a tag plus length prefix. */
#define WIRE_VARINT_MAX 10
#define WIRE_PREFIX_MAX (1 + WIRE_VARINT_MAX)

enum wire_status {
	WIRE_OK = 0,
	WIRE_E_TRUNCATED,       /* a varint or fixed field runs past the end */
	WIRE_E_VARINT_OVERFLOW, /* more than 64 bits of varint */
	WIRE_E_FIELD_NUMBER,    /* field number 0 or above 2^29-1 */
	WIRE_E_WIRE_TYPE,       /* a wire type protobuf does not define, or a group */
	WIRE_E_FIELD_TYPE,      /* a known field with the wrong wire type */
	WIRE_E_LENGTH,          /* a length-delimited field runs past the end */
	WIRE_E_TOO_LARGE,       /* a string past WIRE_MAX_STRING, a length of 4 GiB or more */
	WIRE_E_MISSING,         /* a required field is absent */
	WIRE_E_NOSPACE,         /* (encoding) the output buffer is too small */
};

/* Where and why decoding failed. `field` and `message` are static strings
 * (goraft's field and message names) or NULL when they do not apply. */
struct wire_error {
	enum wire_status status;
	size_t offset;        /* byte offset in the outermost buffer */
	const char *message;  /* e.g. "AppendEntriesRequest" or "LogEntry" */
	const char *field;    /* e.g. "LeaderName" */
};

const char *wire_status_str(enum wire_status status);
/* One line such as "AppendEntriesRequest: missing required field LeaderName
 * (5) at offset 9". Returns what snprintf returns. */
int wire_error_format(const struct wire_error *err, char *buf, size_t len);

/* --- messages (field names as in goraft's .proto files) ----------------- */

struct wire_log_entry {
	uint64_t index;
	uint64_t term;
	struct wire_bytes command_name;
	bool has_command;          /* absent for raft:nop; present may be empty */
	struct wire_bytes command;
};

/* On decode, `entries` counts field-6 occurrences and `body` is the whole
 * message so wire_next_entry() can walk them. On encode, `entries` items are
 * already encoded LogEntry messages. */
struct wire_repeated {
	size_t count;
	const struct wire_bytes *items; /* encode input only; NULL after decode */
};

struct wire_ae_req {
	uint64_t term;
	uint64_t prev_log_index;
	uint64_t prev_log_term;
	uint64_t commit_index;
	struct wire_bytes leader_name;
	struct wire_repeated entries;
	struct wire_bytes body; /* set by the decoder */
};

struct wire_ae_resp {
	uint64_t term;
	uint64_t index;
	uint64_t commit_index;
	bool success;
};

struct wire_rv_req {
	uint64_t term;
	uint64_t last_log_index;
	uint64_t last_log_term;
	struct wire_bytes candidate_name;
};

struct wire_rv_resp {
	uint64_t term;
	bool vote_granted;
};

struct wire_snap_req {
	struct wire_bytes leader_name;
	uint64_t last_index;
	uint64_t last_term;
};

struct wire_snap_resp {
	bool success;
};

/* SnapshotRecoveryRequest.Peer */
struct wire_peer {
	struct wire_bytes name;
	struct wire_bytes connection_string;
};

struct wire_snaprec_req {
	struct wire_bytes leader_name;
	uint64_t last_index;
	uint64_t last_term;
	struct wire_repeated peers; /* encoded Peer messages; see wire_next_peer */
	struct wire_bytes state;
	struct wire_bytes body;     /* set by the decoder */
};

struct wire_snaprec_resp {
	uint64_t term;
	bool success;
	uint64_t commit_index;
};

/* Every message kind, for table-driven callers (fuzzers, raftctl, tests). */
enum wire_kind {
	WIRE_LOG_ENTRY,
	WIRE_AE_REQ,
	WIRE_AE_RESP,
	WIRE_RV_REQ,
	WIRE_RV_RESP,
	WIRE_SNAP_REQ,
	WIRE_SNAP_RESP,
	WIRE_SNAPREC_REQ,
	WIRE_SNAPREC_PEER,
	WIRE_SNAPREC_RESP,
	WIRE_KIND_COUNT,
};

/* goraft's message name, e.g. "AppendEntriesRequest". */
const char *wire_kind_name(enum wire_kind kind);
/* sizeof the C struct that holds a message of this kind. */
size_t wire_kind_size(enum wire_kind kind);

/* Decode `len` bytes at `buf` into *msg (a struct of the kind's type).
 * Returns 0, or -EBADMSG with *err filled (err may be NULL). Nested
 * messages (entries, peers) are fully validated too. On failure *msg is
 * unspecified. Scalars that appear twice keep the last value, unknown fields
 * are skipped, as goraft's proto runtime does. */
int wire_decode(enum wire_kind kind, const uint8_t *buf, size_t len, void *msg,
		struct wire_error *err);

/* Encoded size of *msg in canonical form (fields in number order, every
 * required field present). */
size_t wire_encoded_size(enum wire_kind kind, const void *msg);

/* Encode *msg into buf. Returns the number of bytes written, or -ENOSPC
 * (nothing useful written) when cap is below wire_encoded_size(). */
long wire_encode(enum wire_kind kind, const void *msg, uint8_t *buf, size_t cap);

/* Print *msg in protobuf text format, exactly as goraft's Go runtime
 * (proto.MarshalTextString) does; used by tests against the captured
 * decoded text and by raftctl for humans. Returns 0 or -EIO. */
int wire_print(enum wire_kind kind, const void *msg, FILE *out);

/* Typed shorthands for the common cases. */
static inline int wire_decode_log_entry(const uint8_t *b, size_t n, struct wire_log_entry *m,
					struct wire_error *e)
{
	return wire_decode(WIRE_LOG_ENTRY, b, n, m, e);
}
static inline int wire_decode_ae_req(const uint8_t *b, size_t n, struct wire_ae_req *m,
				     struct wire_error *e)
{
	return wire_decode(WIRE_AE_REQ, b, n, m, e);
}

/* Walk the raw LogEntry bytes of a decoded AppendEntriesRequest in order.
 * Start with *cursor = 0. Returns true and sets *ret_entry to the entry's
 * bytes inside req->body (so a follower can store them without re-encoding),
 * or false at the end. */
bool wire_next_entry(const struct wire_ae_req *req, size_t *cursor, struct wire_bytes *ret_entry);
/* Likewise for SnapshotRecoveryRequest.Peers; decodes each peer too. */
bool wire_next_peer(const struct wire_snaprec_req *req, size_t *cursor, struct wire_peer *ret_peer);

/* --- zero-copy AppendEntriesRequest ------------------------------------- */

/* iovecs needed for n entries: the header, then a prefix and a body each. */
static inline size_t wire_ae_iov_count(size_t n_entries)
{
	return 1 + 2 * n_entries;
}

/* Scratch bytes needed to hold the encoded header fields and every entry's
 * field-6 tag and length prefix. */
size_t wire_ae_scratch_size(const struct wire_ae_req *hdr, size_t n_entries);

/* Fill iov[] with the AppendEntriesRequest whose header fields are *hdr and
 * whose entries are the n already encoded LogEntry byte ranges in entries[]
 * (hdr->entries is ignored). Header fields and prefixes are written to
 * scratch; entry bytes are never copied: iov[2 + 2i] points at entries[i].
 * Returns 0 and sets *ret_iovcnt and *ret_total (the Content-Length), or
 * -ENOSPC when scratch or iov is too small. */
int wire_ae_encode_iov(const struct wire_ae_req *hdr, const struct wire_bytes *entries, size_t n,
		       uint8_t *scratch, size_t scratch_cap, struct iovec *iov, size_t iov_cap,
		       size_t *ret_iovcnt, size_t *ret_total);

/* --- primitives, for modules that frame their own records -------------- */

size_t wire_varint_len(uint64_t v);
/* Writes v at p (WIRE_VARINT_MAX bytes must be available); returns bytes written. */
size_t wire_varint_put(uint8_t *p, uint64_t v);
/* Reads a varint from [p, end). Returns bytes consumed, or 0 when truncated
 * or longer than 64 bits. */
size_t wire_varint_get(const uint8_t *p, const uint8_t *end, uint64_t *ret);

#endif
