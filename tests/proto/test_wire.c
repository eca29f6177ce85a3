/* tests/proto/test_wire.c — the goraft codec against real goraft traffic,
 * against protobuf-c (an independent implementation of the same schema),
 * and against malformed input. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"
#include "tests/proto/pbc_oracle.h"
#include "src/raftctl/capture.h"
#include "tests/lib/check_main.h"

static struct capture vs;

static void load_vectors(void)
{
	int rv = capture_load(NULL, &vs);
	ck_assert_msg(rv == 0, "cannot load goraft vectors (GORAFT_WIRE_DIR=%s): %s",
		      getenv("GORAFT_WIRE_DIR"), strerror(-rv));
}

static void free_vectors(void)
{
	capture_free(&vs);
}

/* Request and response kinds of a /raft route; false for other paths. */
static bool raft_route(const char *path, enum wire_kind *req, enum wire_kind *resp)
{
	static const struct {
		const char *path;
		enum wire_kind req, resp;
	} routes[] = {
		{ "/raft/appendEntries", WIRE_AE_REQ, WIRE_AE_RESP },
		{ "/raft/requestVote", WIRE_RV_REQ, WIRE_RV_RESP },
		{ "/raft/snapshot", WIRE_SNAP_REQ, WIRE_SNAP_RESP },
		{ "/raft/snapshotRecovery", WIRE_SNAPREC_REQ, WIRE_SNAPREC_RESP },
	};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(path, routes[i].path) == 0) {
			*req = routes[i].req;
			*resp = routes[i].resp;
			return true;
		}
	}
	return false;
}

union any_msg {
	struct wire_log_entry le;
	struct wire_ae_req ae_req;
	struct wire_ae_resp ae_resp;
	struct wire_rv_req rv_req;
	struct wire_rv_resp rv_resp;
	struct wire_snap_req snap_req;
	struct wire_snap_resp snap_resp;
	struct wire_snaprec_req snaprec_req;
	struct wire_snaprec_resp snaprec_resp;
};

static char *print_text(enum wire_kind kind, const void *msg)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	ck_assert_int_eq(wire_print(kind, msg, out), 0);
	fclose(out);
	return text;
}

/* Decode, compare with the captured text and with protobuf-c, re-encode
 * canonically and compare with the captured bytes. */
static void check_body(const char *name, enum wire_kind kind, const uint8_t *buf, size_t len,
		       const char *expect_text)
{
	union any_msg m;
	struct wire_error err;
	char why[256] = "";
	int rv = wire_decode(kind, buf, len, &m, &err);
	if (rv < 0)
		wire_error_format(&err, why, sizeof(why));
	ck_assert_msg(rv == 0, "%s: %s does not decode: %s", name, wire_kind_name(kind), why);

	char *text = print_text(kind, &m);
	ck_assert_msg(strcmp(text, expect_text) == 0, "%s: decoded\n%s\nexpected\n%s", name, text,
		      expect_text);
	char *oracle = pbc_decode_text(kind, buf, len, NULL);
	ck_assert_msg(oracle && strcmp(text, oracle) == 0, "%s: protobuf-c reads\n%s", name,
		      oracle ? oracle : "(rejected)");

	/* Re-encode; repeated entries are given as the ranges the decoder found. */
	struct wire_bytes items[64];
	if (kind == WIRE_AE_REQ) {
		size_t cursor = 0, n = 0;
		while (n < 64 && wire_next_entry(&m.ae_req, &cursor, &items[n]))
			n++;
		ck_assert_uint_eq(n, m.ae_req.entries.count);
		m.ae_req.entries.items = items;
	}
	ck_assert_uint_eq(wire_encoded_size(kind, &m), len);
	uint8_t out[4096];
	long n = wire_encode(kind, &m, out, sizeof(out));
	ck_assert_int_eq(n, (long)len);
	ck_assert_msg(memcmp(out, buf, len) == 0, "%s: re-encoding differs", name);
	ck_assert_int_eq(wire_encode(kind, &m, out, len - 1), -ENOSPC);

	uint8_t *packed = NULL;
	long plen = pbc_repack(kind, buf, len, &packed);
	ck_assert_msg(plen == (long)len && memcmp(packed, buf, len) == 0,
		      "%s: protobuf-c re-encodes differently", name);
	free(packed);
	free(oracle);
	free(text);
}

START_TEST(test_captured_raft_exchanges)
{
	size_t ok = 0, rejected = 0;
	for (size_t i = 0; i < vs.n; i++) {
		const struct capture_exchange *v = &vs.ex[i];
		enum wire_kind req, resp;
		if (!raft_route(v->path, &req, &resp))
			continue;
		if (v->status == 200) {
			check_body(v->name, req, v->req, v->req_len, v->request_text);
			check_body(v->name, resp, v->resp, v->resp_len, v->response_text);
			ok++;
		} else {
			/* goraft answered 400 "\n": the body must not decode. */
			union any_msg m;
			struct wire_error err;
			ck_assert_int_eq(v->status, 400);
			ck_assert_msg(wire_decode(req, v->req, v->req_len, &m, &err) == -EBADMSG,
				      "%s: malformed body accepted", v->name);
			ck_assert_ptr_null(pbc_decode_text(req, v->req, v->req_len, NULL));
			ck_assert_uint_eq(v->resp_len, 1);
			ck_assert_int_eq(v->resp[0], '\n');
			rejected++;
		}
	}
	/* The capture has 13 exchanges that goraft answered and 2 it refused. */
	ck_assert_uint_eq(ok, 13);
	ck_assert_uint_eq(rejected, 2);
}
END_TEST

START_TEST(test_entry_ranges_point_into_body)
{
	const struct capture_exchange *v = capture_find(&vs, "ae-catchup-after-restart");
	ck_assert_ptr_nonnull(v);
	struct wire_ae_req req;
	ck_assert_int_eq(wire_decode_ae_req(v->req, v->req_len, &req, NULL), 0);
	ck_assert_uint_eq(req.entries.count, 2);
	ck_assert_ptr_eq(req.body.ptr, v->req);

	static const struct {
		uint64_t index, term;
		const char *name;
		bool has_command;
	} expect[] = { { 7, 1, "raft:nop", false }, { 8, 1, "write", true } };
	size_t cursor = 0, n = 0;
	struct wire_bytes raw;
	while (wire_next_entry(&req, &cursor, &raw)) {
		ck_assert_uint_lt(n, 2);
		ck_assert(raw.ptr > v->req && raw.ptr + raw.len <= v->req + v->req_len);
		struct wire_log_entry e;
		ck_assert_int_eq(wire_decode_log_entry(raw.ptr, raw.len, &e, NULL), 0);
		ck_assert_uint_eq(e.index, expect[n].index);
		ck_assert_uint_eq(e.term, expect[n].term);
		ck_assert_uint_eq(e.command_name.len, strlen(expect[n].name));
		ck_assert(memcmp(e.command_name.ptr, expect[n].name, e.command_name.len) == 0);
		ck_assert_int_eq(e.has_command, expect[n].has_command);
		n++;
	}
	ck_assert_uint_eq(n, 2);
	ck_assert(!wire_next_entry(&req, &cursor, &raw));
}
END_TEST

/* The iovecs must point at the caller's entry buffers, and their
 * concatenation must be the very bytes goraft sent. */
START_TEST(test_zero_copy_iov_encoder)
{
	size_t checked = 0;
	for (size_t i = 0; i < vs.n; i++) {
		const struct capture_exchange *v = &vs.ex[i];
		if (strcmp(v->path, "/raft/appendEntries") != 0 || v->status != 200)
			continue;
		struct wire_ae_req req;
		ck_assert_int_eq(wire_decode_ae_req(v->req, v->req_len, &req, NULL), 0);

		/* Each entry in its own buffer, as if encoded into separate WAL batches. */
		struct wire_bytes entries[16];
		uint8_t *owned[16];
		size_t n = 0, cursor = 0;
		struct wire_bytes raw;
		while (wire_next_entry(&req, &cursor, &raw)) {
			owned[n] = malloc(raw.len);
			memcpy(owned[n], raw.ptr, raw.len);
			entries[n] = (struct wire_bytes){ owned[n], raw.len };
			n++;
		}

		uint8_t scratch[512];
		struct iovec iov[33];
		size_t iovcnt = 0, total = 0;
		ck_assert_uint_le(wire_ae_scratch_size(&req, n), sizeof(scratch));
		ck_assert_int_eq(wire_ae_encode_iov(&req, entries, n, scratch, sizeof(scratch), iov, 33,
						    &iovcnt, &total), 0);
		ck_assert_uint_eq(iovcnt, wire_ae_iov_count(n));
		ck_assert_uint_eq(total, v->req_len);

		uint8_t flat[4096];
		size_t off = 0;
		for (size_t k = 0; k < iovcnt; k++) {
			bool is_entry = k >= 2 && k % 2 == 0;
			if (is_entry) {
				ck_assert_ptr_eq(iov[k].iov_base, owned[k / 2 - 1]);
				ck_assert_uint_eq(iov[k].iov_len, entries[k / 2 - 1].len);
			} else {
				ck_assert((uint8_t *)iov[k].iov_base >= scratch &&
					  (uint8_t *)iov[k].iov_base + iov[k].iov_len <= scratch + sizeof(scratch));
			}
			memcpy(flat + off, iov[k].iov_base, iov[k].iov_len);
			off += iov[k].iov_len;
		}
		ck_assert_uint_eq(off, total);
		ck_assert_msg(memcmp(flat, v->req, total) == 0, "%s: iov bytes differ from capture",
			      v->name);

		/* Too little room is refused, not overrun. */
		ck_assert_int_eq(wire_ae_encode_iov(&req, entries, n, scratch,
						    wire_ae_scratch_size(&req, n) - 1, iov, 33, &iovcnt, &total),
				 -ENOSPC);
		ck_assert_int_eq(wire_ae_encode_iov(&req, entries, n, scratch, sizeof(scratch), iov,
						    wire_ae_iov_count(n) - 1, &iovcnt, &total),
				 -ENOSPC);
		for (size_t k = 0; k < n; k++)
			free(owned[k]);
		checked++;
	}
	ck_assert_uint_eq(checked, 10);
}
END_TEST

struct malformed {
	const char *what;
	enum wire_kind kind;
	const char *hex;
	enum wire_status status;
	const char *field;
	size_t offset;
};

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;
	for (const char *p = hex; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		unsigned byte;
		sscanf(p, "%2x", &byte);
		out[n++] = (uint8_t)byte;
		p += 2;
	}
	return n;
}

static const struct malformed malformed_cases[] = {
	{ "truncated varint (goraft's crafted-bad)", WIRE_AE_REQ, "08 ff", WIRE_E_TRUNCATED, "Term", 1 },
	{ "truncated key", WIRE_AE_RESP, "08 00 90", WIRE_E_TRUNCATED, NULL, 2 },
	{ "varint of 11 bytes", WIRE_AE_RESP, "08 ff ff ff ff ff ff ff ff ff ff 01", WIRE_E_VARINT_OVERFLOW,
	  "Term", 1 },
	{ "varint above 2^64", WIRE_AE_RESP, "08 ff ff ff ff ff ff ff ff ff 02", WIRE_E_VARINT_OVERFLOW,
	  "Term", 1 },
	{ "wrong wire type for Term", WIRE_AE_REQ, "0a 01 41", WIRE_E_FIELD_TYPE, "Term", 0 },
	{ "wrong wire type for LeaderName", WIRE_AE_REQ, "08 00 10 00 18 00 20 00 28 01",
	  WIRE_E_FIELD_TYPE, "LeaderName", 8 },
	{ "missing LeaderName", WIRE_AE_REQ, "08 00 10 03 18 00 20 03", WIRE_E_MISSING, "LeaderName", 8 },
	{ "missing Success", WIRE_AE_RESP, "08 00 10 03 18 03", WIRE_E_MISSING, "Success", 6 },
	{ "missing State", WIRE_SNAPREC_REQ, "0a 01 61 10 01 18 01", WIRE_E_MISSING, "State", 7 },
	{ "empty RequestVoteResponse", WIRE_RV_RESP, "", WIRE_E_MISSING, "Term", 0 },
	{ "length past the end", WIRE_AE_REQ, "08 00 10 00 18 00 20 00 2a 10 41", WIRE_E_LENGTH,
	  "LeaderName", 8 },
	{ "unknown field longer than message", WIRE_RV_RESP, "08 01 10 01 62 05 00", WIRE_E_LENGTH, NULL,
	  4 },
	{ "field number 0", WIRE_RV_RESP, "00 00", WIRE_E_FIELD_NUMBER, NULL, 0 },
	{ "field number 2^29 (found by fuzzing)", WIRE_RV_RESP, "08 01 10 01 80 80 80 80 10 00",
	  WIRE_E_FIELD_NUMBER, NULL, 4 },
	{ "length padded to 10 bytes (found by fuzzing)", WIRE_SNAP_RESP,
	  "08 00 3a 80 80 80 80 80 80 80 80 80 00", WIRE_E_TOO_LARGE, NULL, 2 },
	{ "length of 4 GiB", WIRE_RV_REQ, "22 80 80 80 80 10", WIRE_E_TOO_LARGE, "CandidateName", 0 },
	{ "key padded to 6 bytes (found by fuzzing)", WIRE_RV_RESP, "08 01 10 01 f1 8f 8f 8f 8f 00 00",
	  WIRE_E_FIELD_NUMBER, NULL, 4 },
	{ "group wire type (crafted-snap's text)", WIRE_SNAP_REQ, "54 65 72 6d 3a 20 31", WIRE_E_WIRE_TYPE,
	  NULL, 0 },
	{ "wire type 7", WIRE_RV_RESP, "08 01 10 01 4f", WIRE_E_WIRE_TYPE, NULL, 4 },
	{ "truncated fixed64", WIRE_RV_RESP, "08 01 10 01 49 00 00 00", WIRE_E_TRUNCATED, NULL, 4 },
	{ "entry without CommandName", WIRE_AE_REQ, "08 00 10 00 18 00 20 00 2a 01 61 32 04 08 01 10 00",
	  WIRE_E_MISSING, "CommandName", 17 },
	{ "entry with truncated Term", WIRE_AE_REQ, "08 00 10 00 18 00 20 00 2a 01 61 32 03 08 01 10",
	  WIRE_E_TRUNCATED, "Term", 16 },
	{ "peer without ConnectionString", WIRE_SNAPREC_REQ, "0a 01 61 10 01 18 01 22 03 0a 01 62 2a 00",
	  WIRE_E_MISSING, "ConnectionString", 12 },
};

START_TEST(test_malformed_rejected_with_reason)
{
	const struct malformed *c = &malformed_cases[_i];
	uint8_t buf[64];
	size_t len = unhex(c->hex, buf);
	union any_msg m;
	struct wire_error err;
	ck_assert_msg(wire_decode(c->kind, buf, len, &m, &err) == -EBADMSG, "%s: accepted", c->what);
	char why[256];
	wire_error_format(&err, why, sizeof(why));
	ck_assert_msg(err.status == c->status, "%s: got \"%s\"", c->what, why);
	ck_assert_msg(err.offset == c->offset, "%s: offset %zu, expected %zu", c->what, err.offset, c->offset);
	if (c->field)
		ck_assert_msg(err.field && strcmp(err.field, c->field) == 0, "%s: got \"%s\"", c->what, why);
	else
		ck_assert_ptr_null(err.field);
	ck_assert_ptr_nonnull(strstr(why, wire_status_str(c->status)));
	/* protobuf-c refuses these too, except where Go is stricter. */
	if (!wire_stricter_than_pbc(c->status))
		ck_assert_msg(!pbc_decode_text(c->kind, buf, len, NULL), "%s: protobuf-c accepts it", c->what);
}
END_TEST

START_TEST(test_string_length_limit)
{
	static uint8_t buf[WIRE_MAX_STRING + 32];
	size_t n = 0;
	buf[n++] = 0x08, buf[n++] = 0x01, buf[n++] = 0x10, buf[n++] = 0x00, buf[n++] = 0x18, buf[n++] = 0x00;
	buf[n++] = 0x22;
	n += wire_varint_put(buf + n, WIRE_MAX_STRING + 1);
	memset(buf + n, 'x', WIRE_MAX_STRING + 1);
	n += WIRE_MAX_STRING + 1;
	struct wire_rv_req req;
	struct wire_error err;
	ck_assert_int_eq(wire_decode(WIRE_RV_REQ, buf, n, &req, &err), -EBADMSG);
	ck_assert_int_eq(err.status, WIRE_E_TOO_LARGE);
	ck_assert_str_eq(err.field, "CandidateName");

	/* One byte shorter is fine. */
	n = 7;
	n += wire_varint_put(buf + n, WIRE_MAX_STRING);
	n += WIRE_MAX_STRING;
	ck_assert_int_eq(wire_decode(WIRE_RV_REQ, buf, n, &req, &err), 0);
	ck_assert_uint_eq(req.candidate_name.len, WIRE_MAX_STRING);
}
END_TEST

/* Removing any one top-level field from a captured message must be refused
 * exactly when the field is required, and protobuf-c must agree. */
START_TEST(test_each_field_removed)
{
	size_t removals = 0;
	for (size_t i = 0; i < vs.n; i++) {
		const struct capture_exchange *v = &vs.ex[i];
		enum wire_kind kinds[2];
		if (!raft_route(v->path, &kinds[0], &kinds[1]) || v->status != 200)
			continue;
		for (int side = 0; side < 2; side++) {
			const uint8_t *buf = side ? v->resp : v->req;
			size_t len = side ? v->resp_len : v->req_len;
			const uint8_t *p = buf, *end = buf + len;
			while (p < end) {
				uint64_t key, val;
				size_t n = wire_varint_get(p, end, &key);
				size_t vn = wire_varint_get(p + n, end, &val);
				size_t flen = n + vn + ((key & 7) == 2 ? val : 0);
				uint8_t cut[4096];
				memcpy(cut, buf, (size_t)(p - buf));
				memcpy(cut + (p - buf), p + flen, (size_t)(end - p) - flen);
				size_t cut_len = len - flen;

				union any_msg m;
				struct wire_error err;
				int ours = wire_decode(kinds[side], cut, cut_len, &m, &err);
				char *oracle = pbc_decode_text(kinds[side], cut, cut_len, NULL);
				bool repeated = (key >> 3) == 6 && kinds[side] == WIRE_AE_REQ;
				ck_assert_msg((ours == 0) == (oracle != NULL), "%s: verdicts differ", v->name);
				ck_assert_msg((ours == 0) == repeated, "%s: removing field %llu %s", v->name,
					      (unsigned long long)(key >> 3), ours ? "refused" : "accepted");
				if (ours)
					ck_assert_int_eq(err.status, WIRE_E_MISSING);
				free(oracle);
				removals++;
				p += flen;
			}
		}
	}
	ck_assert_uint_gt(removals, 100);
}
END_TEST

/* Every prefix and every single-bit flip of every captured body: our
 * verdict and the values read must match protobuf-c's. */
START_TEST(test_mutations_agree_with_protobuf_c)
{
	size_t mutations = 0, strict = 0;
	for (size_t i = 0; i < vs.n; i++) {
		const struct capture_exchange *v = &vs.ex[i];
		enum wire_kind kinds[2];
		if (!raft_route(v->path, &kinds[0], &kinds[1]))
			continue;
		for (int side = 0; side < 2; side++) {
			const uint8_t *orig = side ? v->resp : v->req;
			size_t len = side ? v->resp_len : v->req_len;
			uint8_t buf[4096];
			for (size_t m = 0; m < len * 9; m++) {
				size_t use = len;
				memcpy(buf, orig, len);
				if (m < len)
					use = m; /* prefix */
				else
					buf[(m - len) / 8] ^= (uint8_t)(1u << ((m - len) % 8));
				int has_nul = 0;
				struct wire_error err;
				char *ours = wire_decode_text(kinds[side], buf, use, &err);
				char *oracle = pbc_decode_text(kinds[side], buf, use, &has_nul);
				if (!ours && oracle && wire_stricter_than_pbc(err.status))
					strict++;
				else
					ck_assert_msg((ours != NULL) == (oracle != NULL),
					      "%s mutation %zu: wire %s, protobuf-c %s", v->name, m,
					      ours ? "accepts" : "refuses", oracle ? "accepts" : "refuses");
				if (ours && !has_nul)
					ck_assert_msg(strcmp(ours, oracle) == 0, "%s mutation %zu:\n%s\nvs\n%s",
						      v->name, m, ours, oracle);
				free(ours);
				free(oracle);
				mutations++;
			}
		}
	}
	ck_assert_uint_gt(mutations, 5000);
	/* The known, deliberate differences stay rare. */
	ck_assert_uint_lt(strict * 20, mutations);
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t rnd_u64(void)
{
	/* Mostly small values, sometimes every bit width up to 64. */
	uint64_t v = rnd();
	return v >> (rnd() % 64);
}

static struct wire_bytes rnd_bytes(uint8_t *pool, size_t max)
{
	size_t len = rnd() % (max + 1);
	for (size_t i = 0; i < len; i++)
		pool[i] = (uint8_t)rnd();
	return (struct wire_bytes){ pool, len };
}

/* Random messages round-trip through encode and decode, and protobuf-c
 * reads them the same way. */
START_TEST(test_random_round_trips)
{
	for (int iter = 0; iter < 2000; iter++) {
		uint8_t pool[8][40], entry_buf[4][64], out[1024];
		struct wire_bytes entries[4];
		size_t n_entries = rnd() % 5;
		for (size_t k = 0; k < n_entries; k++) {
			struct wire_log_entry e = { rnd_u64(), rnd_u64(), rnd_bytes(pool[k], 12),
						    rnd() % 2 == 0, rnd_bytes(pool[4 + k], 20) };
			long n = wire_encode(WIRE_LOG_ENTRY, &e, entry_buf[k], sizeof(entry_buf[k]));
			ck_assert_int_gt(n, 0);
			entries[k] = (struct wire_bytes){ entry_buf[k], (size_t)n };
		}
		uint8_t name[40];
		struct wire_ae_req req = { rnd_u64(), rnd_u64(), rnd_u64(), rnd_u64(), rnd_bytes(name, 30),
					   { n_entries, entries }, { 0 } };
		long n = wire_encode(WIRE_AE_REQ, &req, out, sizeof(out));
		ck_assert_int_eq(n, (long)wire_encoded_size(WIRE_AE_REQ, &req));

		struct wire_ae_req back;
		ck_assert_int_eq(wire_decode_ae_req(out, (size_t)n, &back, NULL), 0);
		ck_assert_uint_eq(back.term, req.term);
		ck_assert_uint_eq(back.prev_log_index, req.prev_log_index);
		ck_assert_uint_eq(back.prev_log_term, req.prev_log_term);
		ck_assert_uint_eq(back.commit_index, req.commit_index);
		ck_assert_uint_eq(back.leader_name.len, req.leader_name.len);
		ck_assert(!req.leader_name.len ||
			  memcmp(back.leader_name.ptr, req.leader_name.ptr, req.leader_name.len) == 0);
		ck_assert_uint_eq(back.entries.count, n_entries);
		size_t cursor = 0, k = 0;
		struct wire_bytes raw;
		while (wire_next_entry(&back, &cursor, &raw)) {
			ck_assert_uint_eq(raw.len, entries[k].len);
			ck_assert(memcmp(raw.ptr, entries[k].ptr, raw.len) == 0);
			k++;
		}
		ck_assert_uint_eq(k, n_entries);

		int has_nul = 0;
		char *ours = wire_decode_text(WIRE_AE_REQ, out, (size_t)n, NULL);
		char *oracle = pbc_decode_text(WIRE_AE_REQ, out, (size_t)n, &has_nul);
		ck_assert_ptr_nonnull(oracle);
		if (!has_nul)
			ck_assert_str_eq(ours, oracle);
		free(ours);
		free(oracle);
	}
}
END_TEST

START_TEST(test_varint_edges)
{
	static const uint64_t values[] = { 0, 1, 127, 128, 16383, 16384, UINT32_MAX, 1ull << 63,
					   UINT64_MAX };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		uint8_t buf[WIRE_VARINT_MAX];
		size_t n = wire_varint_put(buf, values[i]);
		ck_assert_uint_eq(n, wire_varint_len(values[i]));
		uint64_t back = 0;
		ck_assert_uint_eq(wire_varint_get(buf, buf + n, &back), n);
		ck_assert_uint_eq(back, values[i]);
		ck_assert_uint_eq(wire_varint_get(buf, buf + n - 1, &back), 0);
	}
	ck_assert_uint_eq(wire_varint_len(UINT64_MAX), WIRE_VARINT_MAX);
}
END_TEST

START_TEST(test_text_escapes_like_go)
{
	static const uint8_t cmd[] = { 'a', '"', '\\', '\n', '\t', '\r', 0, 0x7f, 0xff, '\'' };
	struct wire_log_entry e = { 3, 0, { (const uint8_t *)"write", 5 }, true, { cmd, sizeof(cmd) } };
	char *text = print_text(WIRE_LOG_ENTRY, &e);
	ck_assert_str_eq(text, "Index: 3\nTerm: 0\nCommandName: \"write\"\n"
			       "Command: \"a\\\"\\\\\\n\\t\\r\\000\\177\\377'\"\n");
	free(text);

	/* An optional field that is absent is not printed; an empty one is. */
	e.has_command = false;
	text = print_text(WIRE_LOG_ENTRY, &e);
	ck_assert_ptr_null(strstr(text, "Command:"));
	free(text);
	e.has_command = true;
	e.command.len = 0;
	text = print_text(WIRE_LOG_ENTRY, &e);
	ck_assert_ptr_nonnull(strstr(text, "Command: \"\"\n"));
	free(text);
}
END_TEST

/* goraft (docs/goraft-protocol.md §3.1): every required field is on the
 * wire, zero values included. */
START_TEST(test_zero_values_are_encoded)
{
	struct wire_ae_resp resp = { 0 };
	uint8_t buf[32];
	long n = wire_encode(WIRE_AE_RESP, &resp, buf, sizeof(buf));
	ck_assert_int_eq(n, 8);
	static const uint8_t expect[] = { 0x08, 0, 0x10, 0, 0x18, 0, 0x20, 0 };
	ck_assert(memcmp(buf, expect, 8) == 0);

	struct wire_snaprec_req sr = { 0 };
	n = wire_encode(WIRE_SNAPREC_REQ, &sr, buf, sizeof(buf));
	static const uint8_t expect_sr[] = { 0x0a, 0, 0x10, 0, 0x18, 0, 0x2a, 0 };
	ck_assert_int_eq(n, (long)sizeof(expect_sr));
	ck_assert(memcmp(buf, expect_sr, sizeof(expect_sr)) == 0);

	/* The nop entry has no Command field at all. */
	struct wire_log_entry nop = { 7, 1, { (const uint8_t *)"raft:nop", 8 }, false, { 0 } };
	n = wire_encode(WIRE_LOG_ENTRY, &nop, buf, sizeof(buf));
	static const uint8_t expect_nop[] = { 0x08, 7, 0x10, 1, 0x1a, 8, 'r', 'a', 'f', 't', ':', 'n', 'o', 'p' };
	ck_assert_int_eq(n, (long)sizeof(expect_nop));
	ck_assert(memcmp(buf, expect_nop, sizeof(expect_nop)) == 0);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *vec = tcase_create("goraft vectors");
	tcase_add_unchecked_fixture(vec, load_vectors, free_vectors);
	tcase_add_test(vec, test_captured_raft_exchanges);
	tcase_add_test(vec, test_entry_ranges_point_into_body);
	tcase_add_test(vec, test_zero_copy_iov_encoder);
	tcase_add_test(vec, test_each_field_removed);
	tcase_add_test(vec, test_mutations_agree_with_protobuf_c);
	suite_add_tcase(s, vec);

	TCase *codec = tcase_create("codec");
	tcase_add_loop_test(codec, test_malformed_rejected_with_reason, 0,
			    sizeof(malformed_cases) / sizeof(malformed_cases[0]));
	tcase_add_test(codec, test_string_length_limit);
	tcase_add_test(codec, test_random_round_trips);
	tcase_add_test(codec, test_varint_edges);
	tcase_add_test(codec, test_text_escapes_like_go);
	tcase_add_test(codec, test_zero_values_are_encoded);
	suite_add_tcase(s, codec);
	return s;
}
