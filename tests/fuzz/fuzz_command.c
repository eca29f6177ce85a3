/* tests/fuzz/fuzz_command.c — libFuzzer target for the commands in log
 * entries (proto/command.c) and their apply to the KV (src/kv/kv.c).
 *
 * The input is a sequence of entries applied in order to one KV, as the
 * daemon's apply_range() does: decode the LogEntry (proto/wire.c), type it
 * by CommandName (an unregistered name applies as a no-op), cmd_decode()
 * the JSON (a refused payload applies as a no-op too: goraft fails the entry
 * and moves on), kv_apply(). Each entry is a length byte then either a whole
 * LogEntry (byte 0 bit 0 set) or a CommandName picked by a byte followed by
 * the JSON payload (the fuzzer then need not build protobuf framing).
 *
 * Properties: no crash, leak or UB; a refusal is -EBADMSG with a reason; a
 * decoded command re-encodes (cmd_json_encode, cmd_entry_encode) to bytes
 * that decode to the same command, and encoding is stable (encode, decode,
 * encode gives the same bytes: Go's json.Encoder output is canonical);
 * after a write the key reads back the value, after a delete it is gone,
 * and the applied index follows the entries.
 *
 *   clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -I. tests/fuzz/fuzz_command.c \
 *     proto/command.c proto/wire.c src/kv/kv.c -ljansson -o fuzz_command
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/command.h"
#include "proto/wire.h"
#include "src/kv/kv.h"
#include "tests/fuzz/fuzz.h"


static const char *const names[] = { CMD_NAME_WRITE, CMD_NAME_JOIN, CMD_NAME_LEAVE, CMD_NAME_DELETE,
				     CMD_NAME_NOP, "Write", "raft:other", CMD_NAME_V3 };

static bool same_str(const struct cmd_str *a, const struct cmd_str *b)
{
	if (a->len != b->len)
		return false;
	return a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0;
}

static bool same_cmd(const struct cmd *a, const struct cmd *b)
{
	return a->type == b->type && same_str(&a->name, &b->name) &&
	       same_str(&a->connection_string, &b->connection_string) && same_str(&a->key, &b->key) &&
	       same_str(&a->value, &b->value);
}

/* Encoding what we decoded must give a command that decodes the same and
 * encodes to the same bytes (a fixed point). Strings that were not valid
 * UTF-8 come back with U+FFFD, so the first decode is compared only from
 * the second round on. */
static void round_trip(const struct cmd *c, uint64_t index, uint64_t term)
{
	const char *name = cmd_type_name(c->type);
	size_t n = cmd_json_size(c);
	uint8_t *json = malloc(n + 1);
	CHECK(json);
	cmd_json_encode(c, json);
	/* raftd:v3's payload is not JSON: it comes back as it is */
	CHECK(n >= 1 && (c->type == CMD_V3 || json[n - 1] == '\n'));
	struct cmd d, e;
	char err[256];
	CHECK(cmd_decode((const uint8_t *)name, strlen(name), true, json, n, &d, err, sizeof(err)) == 0);
	CHECK(d.type == c->type);
	size_t n2 = cmd_json_size(&d);
	uint8_t *json2 = malloc(n2 + 1);
	CHECK(json2);
	cmd_json_encode(&d, json2);
	CHECK(cmd_decode((const uint8_t *)name, strlen(name), true, json2, n2, &e, err, sizeof(err)) == 0);
	CHECK(same_cmd(&d, &e));
	size_t n3 = cmd_json_size(&e);
	CHECK(n3 == n2);

	/* the whole LogEntry, as the leader writes it to the WAL */
	size_t es = cmd_entry_size(index, term, &d);
	uint8_t *entry = malloc(es + 1);
	CHECK(entry);
	CHECK(cmd_entry_encode(index, term, &d, entry, es) == (long)es);
	CHECK(cmd_entry_encode(index, term, &d, entry, es - 1) == -ENOSPC);
	struct wire_log_entry we;
	CHECK(wire_decode_log_entry(entry, es, &we, NULL) == 0);
	CHECK(we.index == index && we.term == term);
	CHECK(we.command_name.len == strlen(name) && !memcmp(we.command_name.ptr, name, strlen(name)));
	CHECK(we.has_command && we.command.len == n2 && !memcmp(we.command.ptr, json2, n2));
	free(entry);
	free(json);
	free(json2);
	cmd_free(&d);
	cmd_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kv *kv = kv_new();
	const uint8_t *p = data, *end = data + size;
	uint64_t index = 0;
	CHECK(kv);
	while (p < end) {
		unsigned how = *p++;
		size_t len = p < end ? *p++ : 0;
		if (len > (size_t)(end - p))
			len = (size_t)(end - p);
		const uint8_t *b = p;
		p += len;

		const uint8_t *name, *payload;
		size_t name_len, payload_len;
		bool has_payload;
		uint64_t term = how >> 4;
		struct wire_log_entry we;
		if (how & 1) {
			/* rpc.c rpc_entry_command(): decode, type, cmd_decode */
			if (wire_decode_log_entry(b, len, &we, NULL) < 0)
				continue; /* the WAL and rpc.c refuse it before */
			name = we.command_name.ptr;
			name_len = we.command_name.len;
			has_payload = we.has_command;
			payload = we.command.ptr;
			payload_len = we.command.len;
			term = we.term;
		} else {
			const char *nm = names[(how >> 1) % 8];
			name = (const uint8_t *)nm;
			name_len = strlen(nm);
			has_payload = !(how & 0x80);
			payload = b;
			payload_len = len;
		}
		struct cmd c;
		char err[256] = "";
		enum cmd_type t;
		int rv;
		if (cmd_type_from_name(name, name_len, &t) < 0) {
			CHECK(!cmd_goraft_can_apply(name, name_len));
			memset(&c, 0, sizeof(c));
			c.type = CMD_NOP;
		} else if ((rv = cmd_decode(name, name_len, has_payload, payload, payload_len, &c, err,
					    sizeof(err))) < 0) {
			CHECK(rv == -EBADMSG && err[0]);
			CHECK(strlen(err) < sizeof(err));
			memset(&c, 0, sizeof(c));
			c.type = CMD_NOP;
		} else {
			CHECK(c.type == t);
			CHECK(cmd_goraft_can_apply(name, name_len) ==
			      (t != CMD_DELETE && t != CMD_LEARNER && t != CMD_V3));
			/* NUL-terminated, as api.c's joins and driver.c's logs use them */
			CHECK(!c.name.ptr || c.name.ptr[c.name.len] == '\0');
			CHECK(!c.key.ptr || c.key.ptr[c.key.len] == '\0');
			if (t != CMD_NOP)
				round_trip(&c, index + 1, term);
			if (t == CMD_V3) {
				/* kv_apply_op()'s, through src/etcd (fuzz_etcd_entry) */
				CHECK(c.value.len == payload_len && !memcmp(c.value.ptr, payload, payload_len));
				cmd_free(&c);
				continue;
			}
		}
		uint64_t count = kv_count(kv);
		struct kv_view v;
		bool had = c.type == CMD_DELETE && kv_get(kv, c.key.ptr, c.key.len, &v);
		rv = kv_apply(kv, ++index, &c);
		CHECK(rv == 0 || rv == -E2BIG || rv == -ENOMEM);
		if (rv == 0) {
			CHECK(kv_applied_index(kv) == index);
			if (c.type == CMD_WRITE) {
				CHECK(kv_get(kv, c.key.ptr, c.key.len, &v));
				CHECK(v.value_len == c.value.len);
				CHECK(!c.value.len || !memcmp(v.value, c.value.ptr, c.value.len));
			} else if (c.type == CMD_DELETE) {
				CHECK(!kv_get(kv, c.key.ptr, c.key.len, &v));
				CHECK(kv_count(kv) == count - had);
			} else {
				CHECK(kv_count(kv) == count);
			}
			CHECK(kv_apply(kv, index, &c) == KV_APPLY_STALE);
		} else {
			CHECK(kv_applied_index(kv) == index - 1);
			index--;
		}
		cmd_free(&c);
	}
	kv_free(kv);
	return 0;
}
