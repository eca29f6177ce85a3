/* tests/proto/test_command.c — goraft's JSON commands: the captured entries
 * and /join body re-encode byte for byte; Go's escaping and decoding rules. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/command.h"
#include "proto/wire.h"
#include "src/raftctl/capture.h"
#include "tests/lib/check_main.h"

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

/* raftd:v3 carries an etcd request's bytes, not JSON: they go into the
 * entry and come back out as they are (NULs, newlines, bytes that are not
 * UTF-8 included), borrowed or copied; goraft can neither apply nor get it. */
START_TEST(test_v3_command)
{
	static const uint8_t payload[] = { 'P', 0x0a, 0x01, 'k', 0x12, 0x04, 0x00, 0xff, '\n', '"' };
	struct cmd v3 = { .type = CMD_V3, .value = cmd_str_ref(payload, sizeof(payload)) };
	uint8_t out[128];
	ck_assert_str_eq(cmd_type_name(CMD_V3), "raftd:v3");
	ck_assert_uint_eq(cmd_json_size(&v3), sizeof(payload));
	cmd_json_encode(&v3, out);
	ck_assert(memcmp(out, payload, sizeof(payload)) == 0);

	long n = cmd_entry_encode(12, 3, &v3, out, sizeof(out));
	ck_assert_int_eq(n, (long)cmd_entry_size(12, 3, &v3));
	ck_assert_int_eq(cmd_entry_encode(12, 3, &v3, out, (size_t)n - 1), -ENOSPC);
	struct wire_log_entry e;
	ck_assert_int_eq(wire_decode_log_entry(out, (size_t)n, &e, NULL), 0);
	ck_assert_uint_eq(e.index, 12);
	ck_assert_uint_eq(e.term, 3);
	ck_assert_uint_eq(e.command_name.len, 8);
	ck_assert(memcmp(e.command_name.ptr, "raftd:v3", 8) == 0);
	ck_assert(e.has_command);
	ck_assert_uint_eq(e.command.len, sizeof(payload));
	ck_assert(memcmp(e.command.ptr, payload, sizeof(payload)) == 0);

	struct cmd back;
	char err[200];
	enum cmd_type t;
	ck_assert_int_eq(cmd_type_from_name(e.command_name.ptr, e.command_name.len, &t), 0);
	ck_assert_int_eq(t, CMD_V3);
	/* copied: NUL-terminated, owned */
	ck_assert_int_eq(cmd_decode(e.command_name.ptr, e.command_name.len, true, e.command.ptr, e.command.len,
				    &back, err, sizeof(err)), 0);
	ck_assert_int_eq(back.type, CMD_V3);
	ck_assert_uint_eq(back.borrowed, 0);
	ck_assert_uint_eq(back.value.len, sizeof(payload));
	ck_assert(memcmp(back.value.ptr, payload, sizeof(payload)) == 0);
	ck_assert_int_eq(back.value.ptr[back.value.len], '\0');
	ck_assert(back.value.ptr != (const char *)e.command.ptr);
	ck_assert_ptr_null(back.key.ptr);
	cmd_free(&back);
	/* borrowed: points into the entry */
	ck_assert_int_eq(cmd_decode_flags(e.command_name.ptr, e.command_name.len, true, e.command.ptr,
					  e.command.len, CMD_DECODE_BORROW, &back, err, sizeof(err)), 0);
	ck_assert_int_eq(back.type, CMD_V3);
	ck_assert_uint_eq(back.borrowed, 1u << 3);
	ck_assert(back.value.ptr == (const char *)e.command.ptr);
	ck_assert_uint_eq(back.value.len, sizeof(payload));
	cmd_free(&back);

	/* no payload at all, or an empty one: not even a kind byte */
	ck_assert_int_eq(cmd_decode((const uint8_t *)"raftd:v3", 8, false, NULL, 0, &back, err, sizeof(err)),
			 -EBADMSG);
	ck_assert_str_eq(err, "raftd:v3: no payload");
	ck_assert_int_eq(back.type, 0);
	ck_assert_ptr_null(back.value.ptr);
	ck_assert_int_eq(cmd_decode((const uint8_t *)"raftd:v3", 8, true, (const uint8_t *)"", 0, &back, err,
				    sizeof(err)), -EBADMSG);
	ck_assert_int_eq(cmd_decode_flags((const uint8_t *)"raftd:v3", 8, true, (const uint8_t *)"", 0,
					  CMD_DECODE_BORROW, &back, err, sizeof(err)), -EBADMSG);
	ck_assert_uint_eq(back.borrowed, 0);

	ck_assert(!cmd_goraft_can_apply((const uint8_t *)"raftd:v3", 8));
	ck_assert(!cmd_goraft_may_get((const uint8_t *)"raftd:v3", 8));
	ck_assert(cmd_goraft_may_get((const uint8_t *)"raftd:learner", 13));
}
END_TEST


/* ---- the fast path against jansson ----
 *
 * cmd_decode() scans the usual flat object itself and hands everything else
 * to jansson. Each input here is decoded four ways: jansson only, the fast
 * path only (copying and borrowing), and the default. Where the fast path
 * takes an input, its command must be jansson's, byte for byte; the default
 * must always be jansson's, error message included. */

static void same_str(const struct cmd_str *a, const struct cmd_str *b, const char *what, const char *in)
{
	ck_assert_msg((a->ptr == NULL) == (b->ptr == NULL), "%s: %s set on one side only", in, what);
	ck_assert_msg(a->len == b->len, "%s: %s is %zu bytes, against %zu", in, what, a->len, b->len);
	ck_assert_msg(a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0, "%s: %s differs", in, what);
}

static void same_cmd(const struct cmd *a, const struct cmd *b, const char *in)
{
	ck_assert_int_eq(a->type, b->type);
	same_str(&a->name, &b->name, "name", in);
	same_str(&a->connection_string, &b->connection_string, "connectionString", in);
	same_str(&a->key, &b->key, "key", in);
	same_str(&a->value, &b->value, "value", in);
}

/* The fast path's verdict on (name, in): 0 (taken) or CMD_DECODE_FALLBACK. */
static int versus_jansson(const char *name, const void *in, size_t len)
{
	const uint8_t *n = (const uint8_t *)name, *p = in;
	size_t nl = strlen(name);
	struct cmd ref, fast, view, dflt;
	char e_ref[300] = "", e_fast[300] = "", e_dflt[300] = "";
	char shown[80];
	snprintf(shown, sizeof(shown), "%s %.*s", name, (int)(len < 60 ? len : 60), (const char *)in);
	int r_ref = cmd_decode_flags(n, nl, true, p, len, CMD_DECODE_JANSSON, &ref, e_ref, sizeof(e_ref));
	int r_fast = cmd_decode_flags(n, nl, true, p, len, CMD_DECODE_FAST_ONLY, &fast, e_fast, sizeof(e_fast));
	int r_view = cmd_decode_flags(n, nl, true, p, len, CMD_DECODE_FAST_ONLY | CMD_DECODE_BORROW, &view, e_fast,
				      sizeof(e_fast));
	int r_dflt = cmd_decode(n, nl, true, p, len, &dflt, e_dflt, sizeof(e_dflt));
	ck_assert_msg(r_fast == 0 || r_fast == CMD_DECODE_FALLBACK || len == 0, "%s: fast path gave %d", shown,
		      r_fast);
	ck_assert_int_eq(r_fast, r_view);
	ck_assert_msg(r_dflt == r_ref, "%s: %d against jansson's %d", shown, r_dflt, r_ref);
	ck_assert_str_eq(e_dflt, e_ref);
	if (r_fast == 0) {
		ck_assert_msg(r_ref == 0, "%s: the fast path took what jansson refuses: %s", shown, e_ref);
		same_cmd(&ref, &fast, shown);
		same_cmd(&ref, &view, shown);
		ck_assert_uint_eq(fast.borrowed, 0);
	}
	if (r_ref == 0)
		same_cmd(&ref, &dflt, shown);
	cmd_free(&ref);
	cmd_free(&fast);
	cmd_free(&view);
	cmd_free(&dflt);
	return r_fast;
}

static const struct {
	const char *json;
	bool fast; /* the fast path takes it */
} fast_cases[] = {
	{ "{\"key\":\"k\",\"value\":\"v\"}\n", true },
	{ " \t\r\n{ \"key\" :\t\"k\" ,\n\"value\"\r: \"v\" } ", true },
	{ "{}", true },
	{ "{ }", true },
	{ "{\"other\":\"x\"}", true },
	{ "{\"key\":\"a\"}xyz", true },
	{ "{\"key\":\"a\"}\xff\xfe", true },
	{ "{\"key\":\"a\"}}", true },
	{ "{\"key\":\"\",\"value\":\"\"}", true },
	/* escapes, \u in both cases, surrogate pairs, escaped NUL */
	{ "{\"key\":\"a\\\"b\\\\c\\/d\",\"value\":\"\\b\\f\\n\\r\\t\"}", true },
	{ "{\"key\":\"\\u0041\\u00e9\\u20AC\\uFFFF\",\"value\":\"\\ud83d\\ude00\\uD83D\\uDE00\"}", true },
	{ "{\"key\":\"a\\u0000b\",\"value\":\"\\u0000\"}", true },
	{ "{\"key\":\"\\u003ca\\u003e\\u0026\",\"value\":\"\\u2028\\u2029\"}", true },
	{ "{\"key\":\"\\udbff\\udfff\"}", true },
	/* UTF-8 as it is, and DEL */
	{ "{\"key\":\"caf\xc3\xa9\",\"value\":\"\xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \x7f\"}", true },
	/* keys: case folding, unknown ones (string values), the exact match first */
	{ "{\"KEY\":\"a\",\"Value\":\"b\",\"other\":\"c\"}", true },
	{ "{\"kEy\":\"a\",\"keys\":\"b\",\"ke\":\"c\",\"\":\"d\"}", true },
	{ "{\"other\":\"1\",\"other\":\"2\",\"key\":\"a\"}", true },
	/* jansson decides: a field twice, in any case */
	{ "{\"key\":\"a\",\"key\":\"b\"}", false },
	{ "{\"key\":\"a\",\"KEY\":\"b\"}", false },
	{ "{\"KEY\":\"a\",\"key\":\"b\"}", false },
	{ "{\"KEY\":\"a\",\"key\":\"b\",\"KEY\":\"c\"}", false },
	/* values that are not strings */
	{ "{\"key\":1}", false },
	{ "{\"key\":null,\"value\":\"v\"}", false },
	{ "{\"value\":null}", false },
	{ "{\"key\":true}", false },
	{ "{\"key\":{\"a\":\"b\"}}", false },
	{ "{\"key\":[\"a\"]}", false },
	{ "{\"other\":1,\"key\":\"a\"}", false },
	{ "{\"other\":null}", false },
	{ "{\"key\":-0.5e3}", false },
	/* keys with escapes or beyond printable ASCII */
	{ "{\"k\\u0065y\":\"a\"}", false },
	{ "{\"k\\u0000\":\"a\"}", false },
	{ "{\"k\xc3\xa9y\":\"a\"}", false },
	{ "{\"k\x7f\":\"a\"}", false },
	/* bad escapes and surrogates */
	{ "{\"key\":\"\\ud800\"}", false },
	{ "{\"key\":\"\\ud800x\"}", false },
	{ "{\"key\":\"\\ud800\\u0041\"}", false },
	{ "{\"key\":\"\\ud800\\ud800\"}", false },
	{ "{\"key\":\"\\udc00\"}", false },
	{ "{\"key\":\"\\udc00\\ud800\"}", false },
	{ "{\"other\":\"\\ud800\",\"key\":\"a\"}", false },
	{ "{\"key\":\"\\x\"}", false },
	{ "{\"key\":\"\\U0041\"}", false },
	{ "{\"key\":\"\\u12\"}", false },
	{ "{\"key\":\"\\u12G4\"}", false },
	{ "{\"key\":\"\\", false },
	{ "{\"key\":\"\\u00", false },
	/* raw control characters, invalid UTF-8 */
	{ "{\"key\":\"a\nb\"}", false },
	{ "{\"key\":\"a\tb\"}", false },
	{ "{\"key\":\"\x01\"}", false },
	{ "{\"key\":\"\x80\"}", false },
	{ "{\"key\":\"\xc0\xaf\"}", false },
	{ "{\"key\":\"\xed\xa0\x80\"}", false },
	{ "{\"key\":\"\xf4\x90\x80\x80\"}", false },
	{ "{\"key\":\"\xf5\x80\x80\x80\"}", false },
	{ "{\"key\":\"\xe2\x82\"}", false },
	{ "{\"key\":\"\xe2\x82", false },
	/* syntax */
	{ "", false },
	{ " ", false },
	{ "{", false },
	{ "{\"key\"", false },
	{ "{\"key\":", false },
	{ "{\"key\":\"a", false },
	{ "{\"key\":\"a\"", false },
	{ "{\"key\":\"a\",", false },
	{ "{\"key\":\"a\",}", false },
	{ "{\"key\" \"a\"}", false },
	{ "{\"key\":\"a\" \"value\":\"b\"}", false },
	{ "{,}", false },
	{ "{key:\"a\"}", false },
	{ "{'key':'a'}", false },
	{ "[]", false },
	{ "[\"key\"]", false },
	{ "\"key\"", false },
	{ "\xef\xbb\xbf{\"key\":\"a\"}", false },
	{ "null", false },
};

START_TEST(test_fast_path_cases)
{
	static const char *const names[] = { "write", "raft:join", "raft:leave", "raftd:delete" };
	const char *json = fast_cases[_i].json;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		int r = versus_jansson(names[k], json, strlen(json));
		if (k == 0 && strlen(json))
			ck_assert_msg((r == 0) == fast_cases[_i].fast, "%s: fast path %s", json,
				      r == 0 ? "took it" : "did not take it");
	}
}
END_TEST

/* A 64 KiB value (the restart benchmark's) with escapes, multi-byte
 * characters and a control character at every offset of an 8-byte word:
 * the scanner's word-at-a-time loop must stop for each. */
START_TEST(test_fast_path_long_values)
{
	static const char *const inserts[] = { "\\\"", "\\\\", "\\u00e9", "\\ud83d\\ude00", "\xc3\xa9",
					       "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\x7f", "\x1f", "\x80", "\"" };
	size_t vlen = 65536;
	char *buf = malloc(vlen + 64);
	for (size_t ins = 0; ins < sizeof(inserts) / sizeof(inserts[0]); ins++) {
		for (size_t off = 0; off < 16; off++) {
			size_t n = (size_t)sprintf(buf, "{\"key\":\"g0000255\",\"value\":\"");
			for (size_t i = 0; i < vlen; i++)
				buf[n + i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(i * 7) % 36];
			size_t at = n + vlen - 64 + off, il = strlen(inserts[ins]);
			memcpy(buf + at, inserts[ins], il);
			memcpy(buf + n + vlen, "\"}\n", 3);
			int r = versus_jansson("write", buf, n + vlen + 3);
			bool fine = ins < 8;
			ck_assert_msg((r == 0) == fine, "insert %zu at %zu: %d", ins, off, r);
		}
	}
	free(buf);
}
END_TEST

/* Random commands built from pieces that stress the rules, and random byte
 * edits of valid ones: the fast path must never disagree with jansson. */
static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

START_TEST(test_fast_path_random)
{
	static const char *const keys[] = { "\"key\"", "\"value\"", "\"KEY\"", "\"Value\"", "\"name\"",
					    "\"connectionString\"", "\"CONNECTIONSTRING\"", "\"other\"", "\"\"",
					    "\"k\\u0065y\"", "\"ké\"" };
	static const char *const pieces[] = { "a",	   "xyz0123456789",	  "\\\"", "\\\\", "\\/", "\\n",
					      "\\u0041",   "\\u0000",		  "\\uD83D\\uDE00", "\\ud800",
					      "\\udc00",   "\\u12",		  "\\x",  "\xc3\xa9", "\xe2\x82\xac",
					      "\xf0\x9f\x98\x80", "\x80",	  "\xc0\xaf", "\xed\xa0\x80",
					      "\x7f",	   "\x01",		  "\n",	  " ",	  "\"", "{", "}" };
	static const char *const values[] = { "null", "1", "true", "{}", "[]", "\"\"" };
	char buf[512];
	size_t taken = 0, runs = 20000;
	for (size_t r = 0; r < runs; r++) {
		size_t n = 0;
		if (rnd(8))
			buf[n++] = '{';
		size_t members = rnd(4);
		for (size_t m = 0; m < members; m++) {
			if (m)
				n += (size_t)sprintf(buf + n, "%s,%s", rnd(4) ? "" : " ", rnd(4) ? "" : "\n");
			n += (size_t)sprintf(buf + n, "%s%s:", keys[rnd(sizeof(keys) / sizeof(keys[0]))],
					     rnd(5) ? "" : "\t");
			if (!rnd(10)) {
				n += (size_t)sprintf(buf + n, "%s", values[rnd(sizeof(values) / sizeof(values[0]))]);
				continue;
			}
			buf[n++] = '"';
			for (size_t k = rnd(6); k > 0; k--) {
				const char *pc = pieces[rnd(rnd(3) ? 8 : sizeof(pieces) / sizeof(pieces[0]))];
				n += (size_t)sprintf(buf + n, "%s", pc);
			}
			if (rnd(20))
				buf[n++] = '"';
		}
		if (rnd(10))
			buf[n++] = '}';
		if (!rnd(4))
			n += (size_t)sprintf(buf + n, "%s", rnd(2) ? "\n" : " trailing \xff");
		/* and now and then a random byte edit */
		if (!rnd(4) && n) {
			size_t at = rnd((uint32_t)n);
			switch (rnd(3)) {
			case 0: buf[at] = (char)rnd(256); break;
			case 1: memmove(buf + at, buf + at + 1, n - at - 1); n--; break;
			default: memmove(buf + at + 1, buf + at, n - at); buf[at] = (char)rnd(256); n++; break;
			}
		}
		const char *name = rnd(2) ? "write" : "raft:join";
		if (versus_jansson(name, buf, n) == 0)
			taken++;
	}
	/* the generator must reach both paths */
	ck_assert_uint_gt(taken, runs / 10);
	ck_assert_uint_lt(taken, runs * 9 / 10);
}
END_TEST

/* Borrowed strings point into the payload; cmd_free() leaves them. */
START_TEST(test_decode_borrow)
{
	static const char json[] = "{\"key\":\"k1\",\"value\":\"a\\nb\"}\n";
	struct cmd c;
	char err[200];
	ck_assert_int_eq(cmd_decode_flags((const uint8_t *)"write", 5, true, (const uint8_t *)json, sizeof(json) - 1,
					  CMD_DECODE_BORROW, &c, err, sizeof(err)), 0);
	ck_assert_ptr_eq(c.key.ptr, json + 8);
	ck_assert_uint_eq(c.key.len, 2);
	ck_assert_uint_eq(c.borrowed, 1u << 2); /* the value had an escape: a copy */
	ck_assert_uint_eq(c.value.len, 3);
	ck_assert(memcmp(c.value.ptr, "a\nb", 3) == 0);
	cmd_free(&c);
	/* missing: a static "" */
	ck_assert_int_eq(cmd_decode_flags((const uint8_t *)"write", 5, true, (const uint8_t *)"{}", 2,
					  CMD_DECODE_BORROW, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.borrowed, (1u << 2) | (1u << 3));
	ck_assert_uint_eq(c.key.len + c.value.len, 0);
	cmd_free(&c);
	/* what jansson decodes is always a copy */
	ck_assert_int_eq(cmd_decode_flags((const uint8_t *)"write", 5, true, (const uint8_t *)"{\"key\":\"a\",\"key\":\"b\"}",
					  21, CMD_DECODE_BORROW, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.borrowed, 0);
	ck_assert_str_eq(c.key.ptr, "b");
	cmd_free(&c);
}
END_TEST

Suite *test_suite(void)
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
	tcase_add_test(rules, test_v3_command);
	suite_add_tcase(s, rules);
	TCase *fast = tcase_create("fast path against jansson");
	tcase_add_loop_test(fast, test_fast_path_cases, 0, sizeof(fast_cases) / sizeof(fast_cases[0]));
	tcase_add_test(fast, test_fast_path_long_values);
	tcase_add_test(fast, test_fast_path_random);
	tcase_add_test(fast, test_decode_borrow);
	tcase_set_timeout(fast, 60);
	suite_add_tcase(s, fast);
	return s;
}
