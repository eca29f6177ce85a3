/* proto/wire.c — goraft's protobuf messages, table driven.
 *
 * Each message is described once (number, wire type, label, goraft name,
 * where the value lives in the C struct) and the decoder, the encoder, the
 * size function and the text printer all walk the same table, so they cannot
 * drift apart. The messages are tiny and flat (one level of nesting), which
 * keeps a hand-written codec small; protobuf-c's generated code, built from
 * the same .proto files, is used by the tests as an independent oracle.
 *
 * Why not protobuf-c on the hot path: its unpacker allocates every message
 * and every repeated element, copies bytes fields, and reports failure as a
 * bare NULL, while a follower wants the entries' byte ranges inside the body
 * (to store them without re-encoding) and a 400 with a reason.
 */
#include "proto/wire.h"

#include <errno.h>
#include <string.h>

enum field_type {
	FT_U64,
	FT_BOOL,
	FT_STRING,
	FT_BYTES,
	FT_MESSAGE, /* always repeated here */
};

#define NO_OFFSET ((size_t)-1)

struct field {
	uint32_t number;
	enum field_type type;
	bool required;
	const char *name;
	size_t offset;         /* of the value in the C struct */
	size_t present_offset; /* of the bool that says an optional field was seen */
	enum wire_kind sub;    /* element kind of a repeated message */
};

struct message_desc {
	const char *name;
	size_t size;
	size_t body_offset; /* where the decoder records the whole message, or NO_OFFSET */
	const struct field *fields;
	size_t n_fields;
};

#define REQ(num, ty, st, member, nm) \
	{ num, ty, true, nm, offsetof(st, member), NO_OFFSET, WIRE_KIND_COUNT }
#define OPT(num, ty, st, member, has, nm) \
	{ num, ty, false, nm, offsetof(st, member), offsetof(st, has), WIRE_KIND_COUNT }
#define REP(num, st, member, kind, nm) \
	{ num, FT_MESSAGE, false, nm, offsetof(st, member), NO_OFFSET, kind }
#define DESC(nm, st, body, arr) \
	{ nm, sizeof(st), body, arr, sizeof(arr) / sizeof(arr[0]) }

static const struct field log_entry_fields[] = {
	REQ(1, FT_U64, struct wire_log_entry, index, "Index"),
	REQ(2, FT_U64, struct wire_log_entry, term, "Term"),
	REQ(3, FT_STRING, struct wire_log_entry, command_name, "CommandName"),
	OPT(4, FT_BYTES, struct wire_log_entry, command, has_command, "Command"),
};
static const struct field ae_req_fields[] = {
	REQ(1, FT_U64, struct wire_ae_req, term, "Term"),
	REQ(2, FT_U64, struct wire_ae_req, prev_log_index, "PrevLogIndex"),
	REQ(3, FT_U64, struct wire_ae_req, prev_log_term, "PrevLogTerm"),
	REQ(4, FT_U64, struct wire_ae_req, commit_index, "CommitIndex"),
	REQ(5, FT_STRING, struct wire_ae_req, leader_name, "LeaderName"),
	REP(6, struct wire_ae_req, entries, WIRE_LOG_ENTRY, "Entries"),
};
static const struct field ae_resp_fields[] = {
	REQ(1, FT_U64, struct wire_ae_resp, term, "Term"),
	REQ(2, FT_U64, struct wire_ae_resp, index, "Index"),
	REQ(3, FT_U64, struct wire_ae_resp, commit_index, "CommitIndex"),
	REQ(4, FT_BOOL, struct wire_ae_resp, success, "Success"),
};
static const struct field rv_req_fields[] = {
	REQ(1, FT_U64, struct wire_rv_req, term, "Term"),
	REQ(2, FT_U64, struct wire_rv_req, last_log_index, "LastLogIndex"),
	REQ(3, FT_U64, struct wire_rv_req, last_log_term, "LastLogTerm"),
	REQ(4, FT_STRING, struct wire_rv_req, candidate_name, "CandidateName"),
};
static const struct field rv_resp_fields[] = {
	REQ(1, FT_U64, struct wire_rv_resp, term, "Term"),
	REQ(2, FT_BOOL, struct wire_rv_resp, vote_granted, "VoteGranted"),
};
static const struct field snap_req_fields[] = {
	REQ(1, FT_STRING, struct wire_snap_req, leader_name, "LeaderName"),
	REQ(2, FT_U64, struct wire_snap_req, last_index, "LastIndex"),
	REQ(3, FT_U64, struct wire_snap_req, last_term, "LastTerm"),
};
static const struct field snap_resp_fields[] = {
	REQ(1, FT_BOOL, struct wire_snap_resp, success, "Success"),
};
static const struct field snaprec_req_fields[] = {
	REQ(1, FT_STRING, struct wire_snaprec_req, leader_name, "LeaderName"),
	REQ(2, FT_U64, struct wire_snaprec_req, last_index, "LastIndex"),
	REQ(3, FT_U64, struct wire_snaprec_req, last_term, "LastTerm"),
	REP(4, struct wire_snaprec_req, peers, WIRE_SNAPREC_PEER, "Peers"),
	REQ(5, FT_BYTES, struct wire_snaprec_req, state, "State"),
};
static const struct field snaprec_peer_fields[] = {
	REQ(1, FT_STRING, struct wire_peer, name, "Name"),
	REQ(2, FT_STRING, struct wire_peer, connection_string, "ConnectionString"),
};
static const struct field snaprec_resp_fields[] = {
	REQ(1, FT_U64, struct wire_snaprec_resp, term, "Term"),
	REQ(2, FT_BOOL, struct wire_snaprec_resp, success, "Success"),
	REQ(3, FT_U64, struct wire_snaprec_resp, commit_index, "CommitIndex"),
};

static const struct message_desc descs[WIRE_KIND_COUNT] = {
	[WIRE_LOG_ENTRY] = DESC("LogEntry", struct wire_log_entry, NO_OFFSET, log_entry_fields),
	[WIRE_AE_REQ] = DESC("AppendEntriesRequest", struct wire_ae_req,
			     offsetof(struct wire_ae_req, body), ae_req_fields),
	[WIRE_AE_RESP] = DESC("AppendEntriesResponse", struct wire_ae_resp, NO_OFFSET, ae_resp_fields),
	[WIRE_RV_REQ] = DESC("RequestVoteRequest", struct wire_rv_req, NO_OFFSET, rv_req_fields),
	[WIRE_RV_RESP] = DESC("RequestVoteResponse", struct wire_rv_resp, NO_OFFSET, rv_resp_fields),
	[WIRE_SNAP_REQ] = DESC("SnapshotRequest", struct wire_snap_req, NO_OFFSET, snap_req_fields),
	[WIRE_SNAP_RESP] = DESC("SnapshotResponse", struct wire_snap_resp, NO_OFFSET, snap_resp_fields),
	[WIRE_SNAPREC_REQ] = DESC("SnapshotRecoveryRequest", struct wire_snaprec_req,
				  offsetof(struct wire_snaprec_req, body), snaprec_req_fields),
	[WIRE_SNAPREC_PEER] = DESC("SnapshotRecoveryRequest.Peer", struct wire_peer, NO_OFFSET,
				   snaprec_peer_fields),
	[WIRE_SNAPREC_RESP] = DESC("SnapshotRecoveryResponse", struct wire_snaprec_resp, NO_OFFSET,
				   snaprec_resp_fields),
};

enum wire_type { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

static enum wire_type field_wire_type(enum field_type t)
{
	return t == FT_U64 || t == FT_BOOL ? WT_VARINT : WT_LEN;
}

#define MAX_FIELD_NUMBER ((1u << 29) - 1)
#define MAX_KEY_BYTES 5
#define MAX_LENGTH_BYTES 5

const char *wire_kind_name(enum wire_kind kind)
{
	return kind < WIRE_KIND_COUNT ? descs[kind].name : "?";
}

size_t wire_kind_size(enum wire_kind kind)
{
	return kind < WIRE_KIND_COUNT ? descs[kind].size : 0;
}

const char *wire_status_str(enum wire_status status)
{
	switch (status) {
	case WIRE_OK: return "ok";
	case WIRE_E_TRUNCATED: return "truncated field";
	case WIRE_E_VARINT_OVERFLOW: return "varint longer than 64 bits";
	case WIRE_E_FIELD_NUMBER: return "invalid field number";
	case WIRE_E_WIRE_TYPE: return "unsupported wire type";
	case WIRE_E_FIELD_TYPE: return "wrong wire type for field";
	case WIRE_E_LENGTH: return "length past the end of the message";
	case WIRE_E_TOO_LARGE: return "field too large";
	case WIRE_E_MISSING: return "missing required field";
	case WIRE_E_NOSPACE: return "output buffer too small";
	}
	return "unknown error";
}

int wire_error_format(const struct wire_error *err, char *buf, size_t len)
{
	return snprintf(buf, len, "%s: %s%s%s at offset %zu", err->message ? err->message : "message",
			wire_status_str(err->status), err->field ? " " : "", err->field ? err->field : "",
			err->offset);
}

/* --- varints ------------------------------------------------------------ */

size_t wire_varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

size_t wire_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* > 0: bytes consumed; 0: truncated; -1: more than 64 bits. */
static int varint_read(const uint8_t *p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;
	for (int i = 0; i < WIRE_VARINT_MAX; i++) {
		if (p + i >= end)
			return 0;
		uint8_t b = p[i];
		/* The tenth byte holds bit 63 only. */
		if (i == WIRE_VARINT_MAX - 1 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*ret = v;
			return i + 1;
		}
	}
	return -1;
}

size_t wire_varint_get(const uint8_t *p, const uint8_t *end, uint64_t *ret)
{
	int n = varint_read(p, end, ret);
	return n > 0 ? (size_t)n : 0;
}

/* --- decoding ----------------------------------------------------------- */

struct cursor {
	const uint8_t *base; /* start of the outermost buffer, for offsets */
	struct wire_error *err;
};

static int fail(const struct cursor *c, enum wire_status status, const uint8_t *at,
		const struct message_desc *d, const struct field *f)
{
	if (c->err) {
		c->err->status = status;
		c->err->offset = (size_t)(at - c->base);
		c->err->message = d->name;
		c->err->field = f ? f->name : NULL;
	}
	return -EBADMSG;
}

static const struct field *find_field(const struct message_desc *d, uint64_t number, size_t *ret_i)
{
	for (size_t i = 0; i < d->n_fields; i++) {
		if (d->fields[i].number == number) {
			*ret_i = i;
			return &d->fields[i];
		}
	}
	return NULL;
}

/* Largest struct a nested message decodes into, for validation scratch. */
union nested_scratch {
	struct wire_log_entry entry;
	struct wire_peer peer;
};

static int decode_message(const struct cursor *c, enum wire_kind kind, const uint8_t *p,
			  const uint8_t *end, void *msg)
{
	const struct message_desc *d = &descs[kind];
	uint32_t seen = 0;
	const uint8_t *start = p;

	memset(msg, 0, d->size);
	while (p < end) {
		const uint8_t *field_start = p;
		uint64_t key, value = 0;
		int n = varint_read(p, end, &key);
		if (n <= 0)
			return fail(c, n == 0 ? WIRE_E_TRUNCATED : WIRE_E_VARINT_OVERFLOW, p, d, NULL);
		p += n;
		uint64_t number = key >> 3;
		unsigned wt = key & 7;
		/* A key is a field number of at most 29 bits and a 3-bit wire
		 * type: 5 bytes at most, even when padded with 0x80 bytes. */
		if (n > MAX_KEY_BYTES || number == 0 || number > MAX_FIELD_NUMBER)
			return fail(c, WIRE_E_FIELD_NUMBER, field_start, d, NULL);
		size_t fi = 0;
		const struct field *f = find_field(d, number, &fi);
		if (f && wt != field_wire_type(f->type))
			return fail(c, WIRE_E_FIELD_TYPE, field_start, d, f);

		switch (wt) {
		case WT_VARINT:
			n = varint_read(p, end, &value);
			if (n <= 0)
				return fail(c, n == 0 ? WIRE_E_TRUNCATED : WIRE_E_VARINT_OVERFLOW, p, d, f);
			p += n;
			break;
		case WT_FIXED64:
		case WT_FIXED32: {
			size_t width = wt == WT_FIXED64 ? 8 : 4;
			if ((size_t)(end - p) < width)
				return fail(c, WIRE_E_TRUNCATED, field_start, d, f);
			p += width;
			break;
		}
		case WT_LEN:
			n = varint_read(p, end, &value);
			if (n <= 0)
				return fail(c, n == 0 ? WIRE_E_TRUNCATED : WIRE_E_VARINT_OVERFLOW, p, d, f);
			/* Lengths are 32-bit: nothing goraft sends comes near 4 GiB. */
			if (n > MAX_LENGTH_BYTES || value > UINT32_MAX)
				return fail(c, WIRE_E_TOO_LARGE, field_start, d, f);
			p += n;
			if (value > (uint64_t)(end - p))
				return fail(c, WIRE_E_LENGTH, field_start, d, f);
			break;
		default: /* groups (3, 4) are deprecated and goraft never sends them */
			return fail(c, WIRE_E_WIRE_TYPE, field_start, d, NULL);
		}
		if (!f) {
			if (wt == WT_LEN)
				p += value;
			continue;
		}

		char *slot = (char *)msg + f->offset;
		switch (f->type) {
		case FT_U64:
			memcpy(slot, &value, sizeof(value));
			break;
		case FT_BOOL: {
			bool b = value != 0; /* as Go and protobuf-c read a bool */
			memcpy(slot, &b, sizeof(b));
			break;
		}
		case FT_STRING:
			if (value > WIRE_MAX_STRING)
				return fail(c, WIRE_E_TOO_LARGE, field_start, d, f);
			/* fallthrough */
		case FT_BYTES: {
			struct wire_bytes bytes = { p, (size_t)value };
			memcpy(slot, &bytes, sizeof(bytes));
			if (f->present_offset != NO_OFFSET)
				*((bool *)((char *)msg + f->present_offset)) = true;
			break;
		}
		case FT_MESSAGE: {
			union nested_scratch scratch;
			int rv = decode_message(c, f->sub, p, p + value, &scratch);
			if (rv < 0)
				return rv;
			((struct wire_repeated *)slot)->count++;
			break;
		}
		}
		if (wt == WT_LEN)
			p += value;
		seen |= 1u << fi;
	}

	for (size_t i = 0; i < d->n_fields; i++)
		if (d->fields[i].required && !(seen & (1u << i)))
			return fail(c, WIRE_E_MISSING, end, d, &d->fields[i]);
	if (d->body_offset != NO_OFFSET) {
		struct wire_bytes body = { start, (size_t)(end - start) };
		memcpy((char *)msg + d->body_offset, &body, sizeof(body));
	}
	return 0;
}

int wire_decode(enum wire_kind kind, const uint8_t *buf, size_t len, void *msg,
		struct wire_error *err)
{
	if (kind >= WIRE_KIND_COUNT || (!buf && len))
		return -EINVAL;
	struct cursor c = { buf, err };
	static const uint8_t empty[1];
	if (!buf)
		buf = c.base = empty;
	int rv = decode_message(&c, kind, buf, buf + len, msg);
	if (rv == 0 && err)
		*err = (struct wire_error){ .status = WIRE_OK };
	return rv;
}

/* Finds the next occurrence of field `number` (length-delimited) in a
 * message the decoder has already validated. */
static bool next_len_field(struct wire_bytes body, uint32_t number, size_t *cursor,
			   struct wire_bytes *ret)
{
	const uint8_t *p = body.ptr + *cursor, *end = body.ptr + body.len;
	while (p < end) {
		uint64_t key, value = 0;
		int n = varint_read(p, end, &key);
		if (n <= 0)
			return false;
		p += n;
		switch (key & 7) {
		case WT_VARINT:
			n = varint_read(p, end, &value);
			if (n <= 0)
				return false;
			p += n;
			break;
		case WT_FIXED64:
			p += 8;
			break;
		case WT_FIXED32:
			p += 4;
			break;
		case WT_LEN:
			n = varint_read(p, end, &value);
			if (n <= 0 || value > (uint64_t)(end - p - n))
				return false;
			p += n;
			if ((key >> 3) == number) {
				*ret = (struct wire_bytes){ p, (size_t)value };
				*cursor = (size_t)(p + value - body.ptr);
				return true;
			}
			p += value;
			break;
		default:
			return false;
		}
	}
	*cursor = body.len;
	return false;
}

bool wire_next_entry(const struct wire_ae_req *req, size_t *cursor, struct wire_bytes *ret_entry)
{
	return next_len_field(req->body, 6, cursor, ret_entry);
}

bool wire_next_peer(const struct wire_snaprec_req *req, size_t *cursor, struct wire_peer *ret_peer)
{
	struct wire_bytes raw;
	if (!next_len_field(req->body, 4, cursor, &raw))
		return false;
	return wire_decode(WIRE_SNAPREC_PEER, raw.ptr, raw.len, ret_peer, NULL) == 0;
}

/* --- encoding ----------------------------------------------------------- */

static bool field_present(const struct field *f, const void *msg)
{
	return f->present_offset == NO_OFFSET || *(const bool *)((const char *)msg + f->present_offset);
}

static size_t len_field_size(uint32_t number, size_t len)
{
	return wire_varint_len((uint64_t)number << 3) + wire_varint_len(len) + len;
}

size_t wire_encoded_size(enum wire_kind kind, const void *msg)
{
	const struct message_desc *d = &descs[kind];
	size_t size = 0;
	for (size_t i = 0; i < d->n_fields; i++) {
		const struct field *f = &d->fields[i];
		const char *slot = (const char *)msg + f->offset;
		size_t tag = wire_varint_len((uint64_t)f->number << 3);
		switch (f->type) {
		case FT_U64:
			size += tag + wire_varint_len(*(const uint64_t *)slot);
			break;
		case FT_BOOL:
			size += tag + 1;
			break;
		case FT_STRING:
		case FT_BYTES:
			if (field_present(f, msg))
				size += len_field_size(f->number, ((const struct wire_bytes *)slot)->len);
			break;
		case FT_MESSAGE: {
			const struct wire_repeated *r = (const struct wire_repeated *)slot;
			for (size_t j = 0; r->items && j < r->count; j++)
				size += len_field_size(f->number, r->items[j].len);
			break;
		}
		}
	}
	return size;
}

static uint8_t *put_len_prefix(uint8_t *p, uint32_t number, size_t len)
{
	p += wire_varint_put(p, ((uint64_t)number << 3) | WT_LEN);
	return p + wire_varint_put(p, len);
}

static uint8_t *put_bytes(uint8_t *p, uint32_t number, struct wire_bytes b)
{
	p = put_len_prefix(p, number, b.len);
	if (b.len)
		memcpy(p, b.ptr, b.len);
	return p + b.len;
}

long wire_encode(enum wire_kind kind, const void *msg, uint8_t *buf, size_t cap)
{
	if (kind >= WIRE_KIND_COUNT)
		return -EINVAL;
	size_t size = wire_encoded_size(kind, msg);
	if (size > cap)
		return -ENOSPC;

	const struct message_desc *d = &descs[kind];
	uint8_t *p = buf;
	for (size_t i = 0; i < d->n_fields; i++) {
		const struct field *f = &d->fields[i];
		const char *slot = (const char *)msg + f->offset;
		switch (f->type) {
		case FT_U64:
			p += wire_varint_put(p, (uint64_t)f->number << 3);
			p += wire_varint_put(p, *(const uint64_t *)slot);
			break;
		case FT_BOOL:
			p += wire_varint_put(p, (uint64_t)f->number << 3);
			*p++ = *(const bool *)slot ? 1 : 0;
			break;
		case FT_STRING:
		case FT_BYTES:
			if (field_present(f, msg))
				p = put_bytes(p, f->number, *(const struct wire_bytes *)slot);
			break;
		case FT_MESSAGE: {
			const struct wire_repeated *r = (const struct wire_repeated *)slot;
			for (size_t j = 0; r->items && j < r->count; j++)
				p = put_bytes(p, f->number, r->items[j]);
			break;
		}
		}
	}
	return (long)(p - buf);
}

/* --- zero-copy AppendEntriesRequest ------------------------------------- */

/* Header fields 1..5 of AppendEntriesRequest, canonical form. */
static size_t ae_header_size(const struct wire_ae_req *hdr)
{
	struct wire_ae_req h = *hdr;
	h.entries = (struct wire_repeated){ 0, NULL };
	return wire_encoded_size(WIRE_AE_REQ, &h);
}

size_t wire_ae_scratch_size(const struct wire_ae_req *hdr, size_t n_entries)
{
	return ae_header_size(hdr) + n_entries * WIRE_PREFIX_MAX;
}

int wire_ae_encode_iov(const struct wire_ae_req *hdr, const struct wire_bytes *entries, size_t n,
		       uint8_t *scratch, size_t scratch_cap, struct iovec *iov, size_t iov_cap,
		       size_t *ret_iovcnt, size_t *ret_total)
{
	if (iov_cap < wire_ae_iov_count(n) || scratch_cap < wire_ae_scratch_size(hdr, n))
		return -ENOSPC;

	struct wire_ae_req h = *hdr;
	h.entries = (struct wire_repeated){ 0, NULL };
	long header_len = wire_encode(WIRE_AE_REQ, &h, scratch, scratch_cap);
	if (header_len < 0)
		return (int)header_len;

	size_t total = (size_t)header_len, cnt = 0;
	iov[cnt++] = (struct iovec){ scratch, (size_t)header_len };
	uint8_t *p = scratch + header_len;
	for (size_t i = 0; i < n; i++) {
		uint8_t *prefix = p;
		p = put_len_prefix(p, 6, entries[i].len);
		iov[cnt++] = (struct iovec){ prefix, (size_t)(p - prefix) };
		iov[cnt++] = (struct iovec){ (void *)entries[i].ptr, entries[i].len };
		total += (size_t)(p - prefix) + entries[i].len;
	}
	*ret_iovcnt = cnt;
	*ret_total = total;
	return 0;
}

/* --- text format ---------------------------------------------------------- */

/* Go's proto text marshaler (golang/protobuf text.go writeString): bytes, not
 * runes; \n \r \t \" \\ escaped; anything outside printable ASCII as \ooo. */
static void print_string(FILE *out, struct wire_bytes s)
{
	fputc('"', out);
	for (size_t i = 0; i < s.len; i++) {
		uint8_t ch = s.ptr[i];
		switch (ch) {
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		default:
			if (ch >= 0x20 && ch < 0x7f)
				fputc(ch, out);
			else
				fprintf(out, "\\%03o", ch);
		}
	}
	fputc('"', out);
}

/* Decoded messages keep their repeated elements in the body; messages built
 * for encoding list them in items. */
static bool next_item(const struct wire_repeated *r, struct wire_bytes body, uint32_t number,
		      size_t *cursor, struct wire_bytes *ret)
{
	if (!r->items)
		return next_len_field(body, number, cursor, ret);
	if (*cursor >= r->count)
		return false;
	*ret = r->items[(*cursor)++];
	return true;
}

static void print_message(enum wire_kind kind, const void *msg, struct wire_bytes body, int indent,
			  FILE *out)
{
	const struct message_desc *d = &descs[kind];
	for (size_t i = 0; i < d->n_fields; i++) {
		const struct field *f = &d->fields[i];
		const char *slot = (const char *)msg + f->offset;
		if (f->type == FT_MESSAGE) {
			const struct wire_repeated *r = (const struct wire_repeated *)slot;
			size_t cursor = 0;
			struct wire_bytes raw;
			while (next_item(r, body, f->number, &cursor, &raw)) {
				union nested_scratch sub;
				if (wire_decode(f->sub, raw.ptr, raw.len, &sub, NULL) < 0)
					continue;
				fprintf(out, "%*s%s {\n", indent, "", f->name);
				print_message(f->sub, &sub, (struct wire_bytes){ 0 }, indent + 2, out);
				fprintf(out, "%*s}\n", indent, "");
			}
			continue;
		}
		if (!field_present(f, msg))
			continue;
		fprintf(out, "%*s%s: ", indent, "", f->name);
		switch (f->type) {
		case FT_U64:
			fprintf(out, "%llu", (unsigned long long)*(const uint64_t *)slot);
			break;
		case FT_BOOL:
			fputs(*(const bool *)slot ? "true" : "false", out);
			break;
		default:
			print_string(out, *(const struct wire_bytes *)slot);
			break;
		}
		fputc('\n', out);
	}
}

int wire_print(enum wire_kind kind, const void *msg, FILE *out)
{
	if (kind >= WIRE_KIND_COUNT)
		return -EINVAL;
	const struct message_desc *d = &descs[kind];
	struct wire_bytes body = { 0 };
	if (d->body_offset != NO_OFFSET)
		memcpy(&body, (const char *)msg + d->body_offset, sizeof(body));
	print_message(kind, msg, body, 0, out);
	return ferror(out) ? -EIO : 0;
}
