/* tests/daemon/test_rpc.c — goraft bodies to raft_msg and back, byte for
 * byte, on the captured traffic; typed entries; the raftd-only paths. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/command.h"
#include "src/raftctl/capture.h"
#include "src/raftd/rpc.h"
#include "tests/lib/check_main.h"

static struct capture cap;
static struct rpc_decoder dec;

static void load(void)
{
	ck_assert_int_eq(capture_load(NULL, &cap), 0);
}

static void unload(void)
{
	capture_free(&cap);
	rpc_decoder_free(&dec);
}

static enum raft_msg_type request_type(const char *path)
{
	if (!strcmp(path, "/raft/appendEntries"))
		return RAFT_MSG_AE_REQ;
	if (!strcmp(path, "/raft/requestVote"))
		return RAFT_MSG_RV_REQ;
	if (!strcmp(path, "/raft/snapshot"))
		return RAFT_MSG_SNAP_REQ;
	return 0;
}

/* Every captured request and response goes through raft_msg and comes out
 * as the very bytes goraft sent. */
START_TEST(test_captured_round_trip)
{
	size_t requests = 0;
	for (size_t i = 0; i < cap.n; i++) {
		const struct capture_exchange *ex = &cap.ex[i];
		enum raft_msg_type type = request_type(ex->path);
		if (!type || ex->status != 200)
			continue;
		struct rpc_request req;
		char err[256];
		int rv = rpc_decode_request(&dec, ex->path, ex->req, ex->req_len, 1000 + i, &req, err, sizeof(err));
		ck_assert_msg(rv == 0, "%s: %s", ex->name, err);
		ck_assert_int_eq(req.msg.type, type);
		ck_assert_uint_eq(req.msg.req_id, 1000 + i);
		ck_assert_str_eq(rpc_path(&req.msg), ex->path);

		uint8_t out[4096];
		size_t out_len = 0;
		if (type == RAFT_MSG_AE_REQ) {
			struct wire_ae_req hdr;
			struct iovec iov[64];
			uint8_t scratch[1024];
			size_t iovcnt, total;
			rpc_ae_header(&req.msg, req.from, &hdr);
			ck_assert_int_eq(wire_ae_encode_iov(&hdr, req.raw, req.msg.ae.n_entries, scratch,
							    sizeof(scratch), iov, 64, &iovcnt, &total), 0);
			for (size_t k = 0; k < iovcnt; k++) {
				memcpy(out + out_len, iov[k].iov_base, iov[k].iov_len);
				out_len += iov[k].iov_len;
			}
		} else {
			long n = rpc_encode_request(&req.msg, req.from, (struct wire_bytes){ 0 }, out, sizeof(out));
			ck_assert_int_gt(n, 0);
			out_len = (size_t)n;
		}
		ck_assert_uint_eq(out_len, ex->req_len);
		ck_assert_msg(memcmp(out, ex->req, out_len) == 0, "%s: request re-encodes differently", ex->name);

		struct raft_msg resp;
		ck_assert_int_eq(rpc_decode_response(type, ex->resp, ex->resp_len, 77, &resp, err, sizeof(err)), 0);
		ck_assert_uint_eq(resp.req_id, 77);
		ck_assert_ptr_null(rpc_path(&resp));
		long n = rpc_encode_response(&resp, out, sizeof(out));
		ck_assert_int_eq(n, (long)ex->resp_len);
		ck_assert_msg(memcmp(out, ex->resp, ex->resp_len) == 0, "%s: response re-encodes differently",
			      ex->name);
		requests++;
	}
	ck_assert_uint_eq(requests, 13);
}
END_TEST

/* The bootstrap exchange: join(self), nop, join(second node), typed. */
START_TEST(test_entries_are_typed)
{
	const struct capture_exchange *ex = capture_find(&cap, "ae-bootstrap-entries");
	struct rpc_request req;
	char err[256];
	ck_assert_int_eq(rpc_decode_request(&dec, ex->path, ex->req, ex->req_len, 1, &req, err, sizeof(err)), 0);
	ck_assert_str_eq(req.from, "6edf0e8");
	ck_assert_uint_eq(req.msg.term, 0);
	ck_assert_uint_eq(req.msg.ae.commit, 3);
	ck_assert_uint_eq(req.msg.ae.n_entries, 3);
	const struct raft_entry *e = req.msg.ae.entries;
	ck_assert_int_eq(e[0].type, RAFT_ENTRY_JOIN);
	ck_assert_str_eq(e[0].name, "6edf0e8");
	ck_assert_str_eq(e[0].url, "http://localhost:14001");
	ck_assert_int_eq(e[1].type, RAFT_ENTRY_NOP);
	ck_assert_ptr_null(e[1].name);
	ck_assert_int_eq(e[2].type, RAFT_ENTRY_JOIN);
	ck_assert_str_eq(e[2].name, "7c55909");
	for (int k = 0; k < 3; k++) {
		ck_assert_uint_eq(e[k].index, (uint64_t)k + 1);
		ck_assert_uint_eq(e[k].size, req.raw[k].len);
		/* The bytes stay where they were received. */
		ck_assert(req.raw[k].ptr > ex->req && req.raw[k].ptr < ex->req + ex->req_len);
	}

	/* A write is a plain command. */
	ex = capture_find(&cap, "ae-write-entry");
	ck_assert_int_eq(rpc_decode_request(&dec, ex->path, ex->req, ex->req_len, 2, &req, err, sizeof(err)), 0);
	ck_assert_uint_eq(req.msg.ae.n_entries, 1);
	ck_assert_int_eq(req.msg.ae.entries[0].type, RAFT_ENTRY_COMMAND);
	ck_assert_uint_eq(req.msg.ae.entries[0].index, 5);

	/* A heartbeat has no entries. */
	ex = capture_find(&cap, "ae-heartbeat");
	ck_assert_int_eq(rpc_decode_request(&dec, ex->path, ex->req, ex->req_len, 3, &req, err, sizeof(err)), 0);
	ck_assert_uint_eq(req.msg.ae.n_entries, 0);
	ck_assert_ptr_null(req.msg.ae.entries);
}
END_TEST

START_TEST(test_malformed_bodies)
{
	struct rpc_request req;
	char err[256] = "";
	const struct capture_exchange *ex = capture_find(&cap, "crafted-bad");
	ck_assert_int_eq(rpc_decode_request(&dec, ex->path, ex->req, ex->req_len, 1, &req, err, sizeof(err)),
			 -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "AppendEntriesRequest: truncated"));
	ex = capture_find(&cap, "crafted-snap");
	ck_assert_int_eq(rpc_decode_request(&dec, ex->path, ex->req, ex->req_len, 1, &req, err, sizeof(err)),
			 -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "SnapshotRequest"));
	ck_assert_int_eq(rpc_decode_request(&dec, "/raft/nothing", ex->req, ex->req_len, 1, &req, err,
					    sizeof(err)), -ENOENT);

	struct raft_msg resp;
	ck_assert_int_eq(rpc_decode_response(RAFT_MSG_AE_REQ, (const uint8_t *)"\n", 1, 1, &resp, err,
					     sizeof(err)), -EBADMSG);
	ck_assert_int_eq(rpc_decode_response(RAFT_MSG_AE_REQ, NULL, 0, 1, &resp, err, sizeof(err)), -EBADMSG);
}
END_TEST

/* A raft:join whose payload goraft could not apply changes no membership. */
START_TEST(test_undecodable_join_is_a_plain_command)
{
	uint8_t entry[128], body[256];
	struct wire_log_entry e = { 4, 1, { (const uint8_t *)"raft:join", 9 }, true,
				    { (const uint8_t *)"{\"name\":", 8 } };
	long n = wire_encode(WIRE_LOG_ENTRY, &e, entry, sizeof(entry));
	struct wire_bytes items[] = { { entry, (size_t)n } };
	struct wire_ae_req req = { 1, 3, 1, 3, { (const uint8_t *)"ldr", 3 }, { 1, items }, { 0 } };
	long len = wire_encode(WIRE_AE_REQ, &req, body, sizeof(body));
	struct rpc_request out;
	char err[256];
	ck_assert_int_eq(rpc_decode_request(&dec, "/raft/appendEntries", body, (size_t)len, 9, &out, err,
					    sizeof(err)), 0);
	ck_assert_int_eq(out.msg.ae.entries[0].type, RAFT_ENTRY_COMMAND);
}
END_TEST

/* A join or leave without a Command field keeps goraft's zero values: name
 * and URL "". cmd_decode() leaves them NULL with length 0, which store()
 * once passed to memcpy (UB, found by fuzz_raft_rpc; this test fails under
 * clang's -fsanitize=undefined before the fix). A missing key reads as "". */
START_TEST(test_member_entries_with_missing_keys)
{
	uint8_t entry[2][128], body[512];
	struct wire_log_entry e = { 4, 1, { (const uint8_t *)"raft:join", 9 }, true,
				    { (const uint8_t *)"{\"name\":\"n2\"}\n", 14 } };
	long n0 = wire_encode(WIRE_LOG_ENTRY, &e, entry[0], sizeof(entry[0]));
	struct wire_log_entry l = { 5, 1, { (const uint8_t *)"raft:leave", 10 }, false, { NULL, 0 } };
	long n1 = wire_encode(WIRE_LOG_ENTRY, &l, entry[1], sizeof(entry[1]));
	struct wire_bytes items[] = { { entry[0], (size_t)n0 }, { entry[1], (size_t)n1 } };
	struct wire_ae_req req = { 1, 3, 1, 3, { (const uint8_t *)"ldr", 3 }, { 2, items }, { 0 } };
	long len = wire_encode(WIRE_AE_REQ, &req, body, sizeof(body));
	struct rpc_request out;
	char err[256];
	ck_assert_int_eq(rpc_decode_request(&dec, "/raft/appendEntries", body, (size_t)len, 9, &out, err,
					    sizeof(err)), 0);
	ck_assert_int_eq(out.msg.ae.entries[0].type, RAFT_ENTRY_JOIN);
	ck_assert_str_eq(out.msg.ae.entries[0].name, "n2");
	ck_assert_str_eq(out.msg.ae.entries[0].url, "");
	ck_assert_int_eq(out.msg.ae.entries[1].type, RAFT_ENTRY_LEAVE);
	ck_assert_str_eq(out.msg.ae.entries[1].name, "");
}
END_TEST

/* One owner of LogEntry typing: for every command, the entry proposed
 * (rpc_cmd_entry), the same entry's bytes typed for the core
 * (rpc_entry_type) and for applying (rpc_entry_command) agree, and only
 * raftd:delete is kept from goraft nodes. */
START_TEST(test_entry_typing_agrees)
{
	static const struct {
		enum cmd_type cmd;
		enum raft_entry_type entry;
		bool goraft;
	} want[] = {
		{ CMD_NOP, RAFT_ENTRY_NOP, true },         { CMD_JOIN, RAFT_ENTRY_JOIN, true },
		{ CMD_LEAVE, RAFT_ENTRY_LEAVE, true },     { CMD_WRITE, RAFT_ENTRY_COMMAND, true },
		{ CMD_DELETE, RAFT_ENTRY_COMMAND, false }, { CMD_LEARNER, RAFT_ENTRY_LEARNER, true },
		{ CMD_V3, RAFT_ENTRY_COMMAND, false },
	};
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		struct cmd c = { .type = want[k].cmd };
		if (c.type == CMD_JOIN || c.type == CMD_LEARNER || c.type == CMD_LEAVE)
			c.name = cmd_str_ref("n2", 2);
		if (c.type == CMD_JOIN || c.type == CMD_LEARNER)
			c.connection_string = cmd_str_ref("http://h:1", 10);
		if (c.type == CMD_WRITE || c.type == CMD_DELETE)
			c.key = cmd_str_ref("k", 1);
		if (c.type == CMD_WRITE)
			c.value = cmd_str_ref("v", 1);
		if (c.type == CMD_V3)
			c.value = cmd_str_ref("P\x0a\x01k", 4);
		struct raft_entry proposed, typed;
		rpc_cmd_entry(&c, 7, 3, &proposed);
		ck_assert_int_eq(proposed.type, want[k].entry);
		ck_assert_uint_eq(rpc_cmd_goraft_may_get(&c), want[k].goraft);

		uint8_t buf[256];
		long len = cmd_entry_encode(7, 3, &c, buf, sizeof(buf));
		ck_assert_int_gt(len, 0);
		ck_assert_uint_eq(proposed.size, (uint32_t)len);
		struct cmd member;
		bool goraft;
		char err[160];
		ck_assert_int_eq(rpc_entry_type(buf, (size_t)len, &typed, &member, &goraft, err, sizeof(err)), 0);
		ck_assert_int_eq(typed.type, proposed.type);
		ck_assert_uint_eq(typed.index, 7);
		ck_assert_uint_eq(typed.term, 3);
		ck_assert_uint_eq(typed.size, proposed.size);
		ck_assert_uint_eq(goraft, want[k].goraft);
		ck_assert_uint_eq(rpc_entry_goraft_may_get(buf, (size_t)len), want[k].goraft);
		ck_assert_uint_eq(!typed.name, !proposed.name);
		ck_assert_uint_eq(!typed.url, !proposed.url);
		if (typed.name)
			ck_assert_str_eq(typed.name, proposed.name);
		if (typed.url)
			ck_assert_str_eq(typed.url, proposed.url);
		cmd_free(&member);

		struct cmd applied;
		ck_assert_int_eq(rpc_entry_command(buf, (size_t)len, &applied, err, sizeof(err)), 0);
		ck_assert_int_eq(applied.type, c.type);
		cmd_free(&applied);
	}
	/* an unregistered name: a plain command to the core, a nop to apply,
	 * and nothing a goraft node may get */
	uint8_t buf[128];
	struct wire_log_entry e = { 9, 2, { (const uint8_t *)"x:unknown", 9 }, true, { (const uint8_t *)"{}", 2 } };
	long len = wire_encode(WIRE_LOG_ENTRY, &e, buf, sizeof(buf));
	struct raft_entry typed;
	struct cmd member, applied;
	bool goraft = true;
	char err[160];
	ck_assert_int_eq(rpc_entry_type(buf, (size_t)len, &typed, &member, &goraft, err, sizeof(err)), 0);
	ck_assert_int_eq(typed.type, RAFT_ENTRY_COMMAND);
	ck_assert(!goraft);
	ck_assert_int_eq(rpc_entry_command(buf, (size_t)len, &applied, err, sizeof(err)), 0);
	ck_assert_int_eq(applied.type, CMD_NOP);
	/* bytes that are not a LogEntry */
	ck_assert_int_eq(rpc_entry_type((const uint8_t *)"\xff", 1, &typed, &member, NULL, err, sizeof(err)), -EBADMSG);
	ck_assert_int_eq(rpc_entry_command((const uint8_t *)"\xff", 1, &applied, err, sizeof(err)), -EBADMSG);
	ck_assert(rpc_entry_goraft_may_get((const uint8_t *)"\xff", 1));
	/* the core's own entries */
	struct raft_entry core = { .type = RAFT_ENTRY_JOIN, .name = "n1", .url = "http://h:2" };
	struct cmd c;
	rpc_core_entry_cmd(&core, &c);
	ck_assert_int_eq(c.type, CMD_JOIN);
	ck_assert_str_eq(c.name.ptr, "n1");
	core = (struct raft_entry){ .type = RAFT_ENTRY_NOP };
	rpc_core_entry_cmd(&core, &c);
	ck_assert_int_eq(c.type, CMD_NOP);
}
END_TEST

START_TEST(test_snapshot_recovery_round_trip)
{
	struct raft_member_info members[] = { { .name = "n1", .url = "http://127.0.0.1:4001" },
					      { .name = "n2", .url = "http://127.0.0.1:4002" } };
	struct raft_msg msg = { .type = RAFT_MSG_SNAPREC_REQ };
	msg.snaprec.last_index = 900;
	msg.snaprec.last_term = 7;
	msg.snaprec.n_peers = 2;
	msg.snaprec.peers = members;
	struct wire_bytes state = { (const uint8_t *)"STATE\0BYTES", 11 };
	uint8_t buf[256];
	long n = rpc_encode_request(&msg, "n1", state, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	uint8_t small[256];
	ck_assert_int_eq(rpc_encode_request(&msg, "n1", state, small, (size_t)n - 1), -ENOSPC);

	struct rpc_request req;
	char err[256];
	ck_assert_int_eq(rpc_decode_request(&dec, "/raft/snapshotRecovery", buf, (size_t)n, 5, &req, err,
					    sizeof(err)), 0);
	ck_assert_str_eq(req.from, "n1");
	ck_assert_uint_eq(req.msg.snaprec.last_index, 900);
	ck_assert_uint_eq(req.msg.snaprec.last_term, 7);
	ck_assert_uint_eq(req.msg.snaprec.n_peers, 2);
	ck_assert_str_eq(req.msg.snaprec.peers[1].name, "n2");
	ck_assert_str_eq(req.msg.snaprec.peers[1].url, "http://127.0.0.1:4002");
	ck_assert_uint_eq(req.state.len, 11);
	ck_assert(memcmp(req.state.ptr, "STATE\0BYTES", 11) == 0);
}
END_TEST

START_TEST(test_raftd_only_paths)
{
	struct raft_msg pre = { .type = RAFT_MSG_RV_REQ, .term = 9 };
	pre.rv.last_index = 20;
	pre.rv.last_term = 8;
	pre.rv.pre_vote = true;
	ck_assert_str_eq(rpc_path(&pre), "/raftd/preVote");
	uint8_t buf[64];
	long n = rpc_encode_request(&pre, "cand", (struct wire_bytes){ 0 }, buf, sizeof(buf));
	struct rpc_request req;
	char err[256];
	ck_assert_int_eq(rpc_decode_request(&dec, "/raftd/preVote", buf, (size_t)n, 1, &req, err, sizeof(err)), 0);
	ck_assert(req.msg.rv.pre_vote);
	ck_assert_uint_eq(req.msg.term, 9);
	ck_assert_str_eq(req.from, "cand");
	ck_assert_int_eq(rpc_decode_request(&dec, "/raft/requestVote", buf, (size_t)n, 1, &req, err, sizeof(err)),
			 0);
	ck_assert(!req.msg.rv.pre_vote);

	struct raft_msg tn = { .type = RAFT_MSG_TIMEOUT_NOW, .term = 4 };
	ck_assert_str_eq(rpc_path(&tn), "/raftd/timeoutNow");
	n = rpc_encode_request(&tn, "ldr", (struct wire_bytes){ 0 }, buf, sizeof(buf));
	ck_assert_int_eq(rpc_decode_request(&dec, "/raftd/timeoutNow", buf, (size_t)n, 1, &req, err, sizeof(err)),
			 0);
	ck_assert_int_eq(req.msg.type, RAFT_MSG_TIMEOUT_NOW);
	ck_assert_uint_eq(req.msg.term, 4);

	/* the vote request of a transfer target: a goraft body, its own path */
	struct raft_msg tv = { .type = RAFT_MSG_RV_REQ, .term = 5 };
	tv.rv.transfer = true;
	ck_assert_str_eq(rpc_path(&tv), "/raftd/transferVote");
	n = rpc_encode_request(&tv, "cand", (struct wire_bytes){ 0 }, buf, sizeof(buf));
	ck_assert_int_eq(rpc_decode_request(&dec, "/raftd/transferVote", buf, (size_t)n, 1, &req, err, sizeof(err)),
			 0);
	ck_assert_int_eq(req.msg.type, RAFT_MSG_RV_REQ);
	ck_assert(req.msg.rv.transfer && !req.msg.rv.pre_vote);
	ck_assert_uint_eq(req.msg.term, 5);

	/* a follower's read index request, and the leader's answer in an
	 * AppendEntriesResponse body */
	struct raft_msg ri = { .type = RAFT_MSG_READ_INDEX, .term = 6 };
	ck_assert_str_eq(rpc_path(&ri), "/raftd/readIndex");
	n = rpc_encode_request(&ri, "fol", (struct wire_bytes){ 0 }, buf, sizeof(buf));
	ck_assert_int_eq(rpc_decode_request(&dec, "/raftd/readIndex", buf, (size_t)n, 3, &req, err, sizeof(err)),
			 0);
	ck_assert_int_eq(req.msg.type, RAFT_MSG_READ_INDEX);
	ck_assert_uint_eq(req.msg.term, 6);
	ck_assert_uint_eq(req.msg.req_id, 3);
	ck_assert_str_eq(req.from, "fol");
	struct raft_msg ra = { .type = RAFT_MSG_READ_INDEX_RESP, .req_id = 3, .term = 6 };
	ra.read_index_resp.success = true;
	ra.read_index_resp.index = 77;
	ck_assert_ptr_null(rpc_path(&ra));
	n = rpc_encode_response(&ra, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	struct raft_msg back;
	ck_assert_int_eq(rpc_decode_response(RAFT_MSG_READ_INDEX, buf, (size_t)n, 3, &back, err, sizeof(err)), 0);
	ck_assert_int_eq(back.type, RAFT_MSG_READ_INDEX_RESP);
	ck_assert(back.read_index_resp.success);
	ck_assert_uint_eq(back.read_index_resp.index, 77);
	ck_assert_uint_eq(back.term, 6);
}
END_TEST

/* The decoder's arena is reused: a small message after a large one, then a
 * large one again, each with valid pointers (ASan would see otherwise). */
START_TEST(test_decoder_reuse)
{
	const char *names[] = { "ae-bootstrap-entries", "ae-heartbeat", "ae-catchup-four-entries", "rv-granted",
				"ae-catchup-after-restart" };
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			const struct capture_exchange *ex = capture_find(&cap, names[i]);
			struct rpc_request req;
			char err[256];
			ck_assert_int_eq(rpc_decode_request(&dec, ex->path, ex->req, ex->req_len, 1, &req, err,
							    sizeof(err)), 0);
			ck_assert_uint_gt(strlen(req.from), 0);
			for (size_t k = 0; req.msg.type == RAFT_MSG_AE_REQ && k < req.msg.ae.n_entries; k++)
				if (req.msg.ae.entries[k].name)
					ck_assert_uint_gt(strlen(req.msg.ae.entries[k].name), 0);
		}
	}
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("rpc");
	TCase *tc = tcase_create("rpc");
	tcase_add_unchecked_fixture(tc, load, unload);
	tcase_add_test(tc, test_captured_round_trip);
	tcase_add_test(tc, test_entries_are_typed);
	tcase_add_test(tc, test_malformed_bodies);
	tcase_add_test(tc, test_member_entries_with_missing_keys);
	tcase_add_test(tc, test_undecodable_join_is_a_plain_command);
	tcase_add_test(tc, test_entry_typing_agrees);
	tcase_add_test(tc, test_snapshot_recovery_round_trip);
	tcase_add_test(tc, test_raftd_only_paths);
	tcase_add_test(tc, test_decoder_reuse);
	suite_add_tcase(s, tc);
	return s;
}
