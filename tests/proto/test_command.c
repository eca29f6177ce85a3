/* tests/proto/test_command.c — goraft's JSON commands: the captured entries
 * and /join body re-encode byte for byte; Go's escaping and decoding rules. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/command.h"
#include "proto/wire.h"
#include "src/capture.h"

static struct capture cap;

static void load(void)
{
	ck_assert_int_eq(capture_load(NULL, &cap), 0);
}

static void unload(void)
{
	capture_free(&cap);
}

/* Every entry goraft sent decodes, and encoding the decoded command at the
 * entry's index and term gives the very same LogEntry bytes. */
START_TEST(test_captured_entries_reencode)
{
	size_t entries = 0, by_type[4] = { 0 };
	for (size_t i = 0; i < cap.n; i++) {
		const struct capture_exchange *ex = &cap.ex[i];
		struct wire_ae_req req;
		if (strcmp(ex->path, "/raft/appendEntries") != 0 ||
		    wire_decode_ae_req(ex->req, ex->req_len, &req, NULL) < 0)
			continue;
		size_t cursor = 0;
		struct wire_bytes raw;
		while (wire_next_entry(&req, &cursor, &raw)) {
			struct wire_log_entry e;
			ck_assert_int_eq(wire_decode_log_entry(raw.ptr, raw.len, &e, NULL), 0);
			struct cmd cmd;
			char err[200];
			int rv = cmd_decode(e.command_name.ptr, e.command_name.len, e.has_command, e.command.ptr,
					    e.command.len, &cmd, err, sizeof(err));
			ck_assert_msg(rv == 0, "%s entry %llu: %s", ex->name, (unsigned long long)e.index, err);

			uint8_t out[512];
			ck_assert_uint_eq(cmd_entry_size(e.index, e.term, &cmd), raw.len);
			long n = cmd_entry_encode(e.index, e.term, &cmd, out, sizeof(out));
			ck_assert_int_eq(n, (long)raw.len);
			ck_assert_msg(memcmp(out, raw.ptr, raw.len) == 0, "%s entry %llu re-encodes differently",
				      ex->name, (unsigned long long)e.index);
			ck_assert_int_eq(cmd_entry_encode(e.index, e.term, &cmd, out, raw.len - 1), -ENOSPC);
			by_type[cmd.type]++;
			cmd_free(&cmd);
			entries++;
		}
	}
	ck_assert_uint_ge(entries, 10);
	ck_assert_uint_gt(by_type[CMD_NOP], 0);
	ck_assert_uint_gt(by_type[CMD_JOIN], 0);
	ck_assert_uint_gt(by_type[CMD_WRITE], 0);
}
END_TEST

START_TEST(test_join_body_is_go_json)
{
	const struct capture_exchange *ex = capture_find(&cap, "join-request");
	ck_assert_ptr_nonnull(ex);
	struct cmd cmd;
	char err[200];
	ck_assert_int_eq(cmd_decode((const uint8_t *)"raft:join", 9, true, ex->req, ex->req_len, &cmd, err,
				    sizeof(err)), 0);
	ck_assert_str_eq(cmd.name.ptr, "7c55909");
	ck_assert_str_eq(cmd.connection_string.ptr, "http://localhost:14002");
	ck_assert_uint_eq(cmd_json_size(&cmd), ex->req_len);
	uint8_t out[128];
	cmd_json_encode(&cmd, out);
	ck_assert(memcmp(out, ex->req, ex->req_len) == 0);
	cmd_free(&cmd);
}
END_TEST

static char *encode_write(const char *key, const void *value, size_t value_len)
{
	struct cmd cmd = { .type = CMD_WRITE, .key = cmd_str_ref(key, strlen(key)),
			   .value = cmd_str_ref(value, value_len) };
	size_t n = cmd_json_size(&cmd);
	char *out = malloc(n + 1);
	cmd_json_encode(&cmd, (uint8_t *)out);
	out[n] = '\0';
	return out;
}

static const struct {
	const char *value;
	size_t len;
	const char *json;
} escapes[] = {
	{ "plain", 5, "{\"key\":\"k\",\"value\":\"plain\"}\n" },
	{ "a\"b\\c", 5, "{\"key\":\"k\",\"value\":\"a\\\"b\\\\c\"}\n" },
	{ "\n\r\t", 3, "{\"key\":\"k\",\"value\":\"\\n\\r\\t\"}\n" },
	{ "\b\f\x01\x1f", 4, "{\"key\":\"k\",\"value\":\"\\u0008\\u000c\\u0001\\u001f\"}\n" },
	{ "\0", 1, "{\"key\":\"k\",\"value\":\"\\u0000\"}\n" },
	{ "<a>&", 4, "{\"key\":\"k\",\"value\":\"\\u003ca\\u003e\\u0026\"}\n" },
	{ "\x7f", 1, "{\"key\":\"k\",\"value\":\"\x7f\"}\n" },
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
	  "{\"key\":\"k\",\"value\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}\n" },
	{ "\xe2\x80\xa8\xe2\x80\xa9", 6, "{\"key\":\"k\",\"value\":\"\\u2028\\u2029\"}\n" },
	/* Not UTF-8: a lone continuation byte, a truncated sequence, an overlong
	 * '/', a surrogate: each bad byte becomes \ufffd, as in Go. */
	{ "\x80", 1, "{\"key\":\"k\",\"value\":\"\\ufffd\"}\n" },
	{ "\xe2\x82", 2, "{\"key\":\"k\",\"value\":\"\\ufffd\\ufffd\"}\n" },
	{ "\xc0\xaf", 2, "{\"key\":\"k\",\"value\":\"\\ufffd\\ufffd\"}\n" },
	{ "\xed\xa0\x80", 3, "{\"key\":\"k\",\"value\":\"\\ufffd\\ufffd\\ufffd\"}\n" },
};

START_TEST(test_escapes_like_go)
{
	char *json = encode_write("k", escapes[_i].value, escapes[_i].len);
	ck_assert_str_eq(json, escapes[_i].json);

	/* And what we write decodes back to the value (invalid UTF-8 aside). */
	struct cmd cmd;
	char err[200];
	ck_assert_int_eq(cmd_decode((const uint8_t *)"write", 5, true, (const uint8_t *)json, strlen(json),
				    &cmd, err, sizeof(err)), 0);
	if (_i < 9) {
		ck_assert_uint_eq(cmd.value.len, escapes[_i].len);
		ck_assert(memcmp(cmd.value.ptr, escapes[_i].value, escapes[_i].len) == 0);
	}
	cmd_free(&cmd);
	free(json);
}
END_TEST

static int decode_write(const char *json, struct cmd *cmd, char *err)
{
	return cmd_decode((const uint8_t *)"write", 5, true, (const uint8_t *)json, strlen(json), cmd, err, 200);
}

START_TEST(test_decode_like_go)
{
	struct cmd cmd;
	char err[200];

	/* Keys match case-insensitively, exact match first; unknown keys ignored. */
	ck_assert_int_eq(decode_write("{\"KEY\":\"a\",\"Value\":\"b\",\"other\":1}", &cmd, err), 0);
	ck_assert_str_eq(cmd.key.ptr, "a");
	ck_assert_str_eq(cmd.value.ptr, "b");
	cmd_free(&cmd);

	/* Missing keys read as empty strings; null leaves the field alone. */
	ck_assert_int_eq(decode_write("{\"value\":null}", &cmd, err), 0);
	ck_assert_ptr_nonnull(cmd.key.ptr);
	ck_assert_uint_eq(cmd.key.len, 0);
	ck_assert_uint_eq(cmd.value.len, 0);
	cmd_free(&cmd);

	/* json.Decoder stops after the first value. */
	ck_assert_int_eq(decode_write("{\"key\":\"a\",\"value\":\"b\"}\n  trailing", &cmd, err), 0);
	ck_assert_str_eq(cmd.value.ptr, "b");
	cmd_free(&cmd);

	/* Escaped NULs survive. */
	ck_assert_int_eq(decode_write("{\"key\":\"a\\u0000b\",\"value\":\"\"}", &cmd, err), 0);
	ck_assert_uint_eq(cmd.key.len, 3);
	ck_assert(memcmp(cmd.key.ptr, "a\0b", 3) == 0);
	cmd_free(&cmd);

	/* Errors goraft also fails on. */
	ck_assert_int_eq(decode_write("{\"key\":1}", &cmd, err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "\"key\" is not a string"));
	ck_assert_int_eq(decode_write("[1,2]", &cmd, err), -EBADMSG);
	ck_assert_int_eq(decode_write("{\"key\":", &cmd, err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "invalid JSON"));
	ck_assert_int_eq(cmd_decode((const uint8_t *)"write", 5, true, (const uint8_t *)"", 0, &cmd, err, 200),
			 -EBADMSG);
	ck_assert_str_eq(err, "write: EOF");
}
END_TEST

START_TEST(test_command_names)
{
	struct cmd cmd;
	char err[200];
	ck_assert_int_eq(cmd_decode((const uint8_t *)"raft:nop", 8, false, NULL, 0, &cmd, err, 200), 0);
	ck_assert_int_eq(cmd.type, CMD_NOP);
	/* A nop ignores any payload, even one that is not JSON. */
	ck_assert_int_eq(cmd_decode((const uint8_t *)"raft:nop", 8, true, (const uint8_t *)"x", 1, &cmd, err,
				    200), 0);
	/* A join with no payload keeps its zero value, as goraft's newCommand. */
	ck_assert_int_eq(cmd_decode((const uint8_t *)"raft:join", 9, false, NULL, 0, &cmd, err, 200), 0);
	ck_assert_int_eq(cmd.type, CMD_JOIN);
	cmd_free(&cmd);

	ck_assert_int_eq(cmd_decode((const uint8_t *)"delete", 6, true, (const uint8_t *)"{}", 2, &cmd, err,
				    200), -EBADMSG);
	ck_assert_str_eq(err, "raft.Command: Unregistered command type: delete");

	/* A leave encodes its one field; a nop entry has no Command field. */
	struct cmd leave = { .type = CMD_LEAVE, .name = cmd_str_ref("n2", 2) };
	uint8_t out[64];
	cmd_json_encode(&leave, out);
	ck_assert_uint_eq(cmd_json_size(&leave), 14);
	ck_assert(memcmp(out, "{\"name\":\"n2\"}\n", 14) == 0);
	struct cmd nop = { .type = CMD_NOP };
	long n = cmd_entry_encode(7, 1, &nop, out, sizeof(out));
	static const uint8_t expect[] = { 0x08, 7, 0x10, 1, 0x1a, 8, 'r', 'a', 'f', 't', ':', 'n', 'o', 'p' };
	ck_assert_int_eq(n, (long)sizeof(expect));
	ck_assert(memcmp(out, expect, sizeof(expect)) == 0);
}
END_TEST

/* raftd's own delete: {"key"} by Go's rules, under a name goraft lacks. */
START_TEST(test_delete_command)
{
	struct cmd del = { .type = CMD_DELETE, .key = cmd_str_ref("a<b", 3) };
	static const char json[] = "{\"key\":\"a\\u003cb\"}\n";
	uint8_t out[128];
	ck_assert_uint_eq(cmd_json_size(&del), sizeof(json) - 1);
	cmd_json_encode(&del, out);
	ck_assert(memcmp(out, json, sizeof(json) - 1) == 0);
	ck_assert_str_eq(cmd_type_name(CMD_DELETE), "raftd:delete");

	long n = cmd_entry_encode(9, 2, &del, out, sizeof(out));
	ck_assert_int_eq(n, (long)cmd_entry_size(9, 2, &del));
	struct wire_log_entry e;
	ck_assert_int_eq(wire_decode_log_entry(out, (size_t)n, &e, NULL), 0);
	ck_assert_uint_eq(e.index, 9);
	ck_assert_uint_eq(e.term, 2);
	ck_assert_uint_eq(e.command_name.len, 12);
	ck_assert(memcmp(e.command_name.ptr, "raftd:delete", 12) == 0);
	ck_assert(e.has_command);

	struct cmd back;
	char err[200];
	ck_assert_int_eq(cmd_decode(e.command_name.ptr, e.command_name.len, true, e.command.ptr, e.command.len,
				    &back, err, sizeof(err)), 0);
	ck_assert_int_eq(back.type, CMD_DELETE);
	ck_assert_uint_eq(back.key.len, 3);
	ck_assert_str_eq(back.key.ptr, "a<b");
	ck_assert_ptr_null(back.value.ptr);
	cmd_free(&back);

	/* goraft applies its own four commands only */
	ck_assert(!cmd_goraft_can_apply((const uint8_t *)"raftd:delete", 12));
	ck_assert(!cmd_goraft_can_apply((const uint8_t *)"delete", 6));
	ck_assert(cmd_goraft_can_apply((const uint8_t *)"write", 5));
	ck_assert(cmd_goraft_can_apply((const uint8_t *)"raft:nop", 8));
	ck_assert(cmd_goraft_can_apply((const uint8_t *)"raft:join", 9));
	ck_assert(cmd_goraft_can_apply((const uint8_t *)"raft:leave", 10));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("command");
	TCase *vec = tcase_create("goraft vectors");
	tcase_add_unchecked_fixture(vec, load, unload);
	tcase_add_test(vec, test_captured_entries_reencode);
	tcase_add_test(vec, test_join_body_is_go_json);
	suite_add_tcase(s, vec);
	TCase *rules = tcase_create("go json rules");
	tcase_add_loop_test(rules, test_escapes_like_go, 0, sizeof(escapes) / sizeof(escapes[0]));
	tcase_add_test(rules, test_decode_like_go);
	tcase_add_test(rules, test_command_names);
	tcase_add_test(rules, test_delete_command);
	suite_add_tcase(s, rules);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
