/* tests/fuzz/fuzz_client_api.c — libFuzzer target for what raftd parses in
 * client requests (libmicrohttpd splits the request line, headers and
 * query; api.c's handlers take it from there):
 *   byte 0 % 4 == 0  the path of /db/{key} (api_db_key, then the key
 *                    checks of on_db_get / on_db_post / on_db_delete);
 *                1  a /join body: cmd_decode() as raft:join, then the name
 *                    connectionString check of on_join (api_valid_url);
 *                2  a /leave body: cmd_decode() as raft:leave;
 *                3  a POST /raftd/transfer body (api_transfer_to).
 * The rest of the input is the path or the body. (POST /raftd/snapshot and
 * GET /raftd/snapshot take no body; ?consistent=true and ?raftd=1 are
 * compared with strcmp.)
 *
 * Properties: no crash, leak or UB; refusals carry a reason; a key is
 * exactly what follows "/db/" and holds no '/'; an accepted connection
 * string is what api_parse.h promises (net/peer.c connects to it); an
 * accepted transfer target fits RAFT_NAME_MAX. The first crash it found:
 * api_valid_url() took "http://h:\r\n2" (strtoul skips blanks).
 *
 *   clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -I. tests/fuzz/fuzz_client_api.c \
 *     src/raftd/api_parse.c proto/command.c proto/wire.c -ljansson -o fuzz_client_api
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/command.h"
#include "src/raftd/api_parse.h"
#include "src/raft/raft.h"
#include "tests/fuzz/fuzz.h"


/* The promise of api_parse.h, checked by hand. */
static void check_url(const char *u)
{
	CHECK(!strncmp(u, "http://", 7));
	const char *h = u + 7, *colon = strrchr(h, ':');
	CHECK(colon && colon > h);
	bool v6 = *h == '[';
	if (v6)
		CHECK(colon - h >= 3 && colon[-1] == ']' && memchr(h, ']', (size_t)(colon - h)) == colon - 1);
	for (const char *c = h; c < colon; c++) {
		CHECK(*c != '/' && *c != '@' && *c != '?' && *c != '#');
		CHECK((unsigned char)*c > ' ' && *c != 0x7f);
		CHECK(*c != ':' || v6);
	}
	unsigned long port = 0;
	const char *d = colon + 1;
	CHECK(*d);
	for (; *d; d++) {
		CHECK(*d >= '0' && *d <= '9');
		CHECK(d - colon <= 5);
		port = port * 10 + (unsigned long)(*d - '0');
	}
	CHECK(port > 0 && port < 65536);
}

static void db_path(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 5);
	CHECK(path);
	memcpy(path, "/db/", 4);
	memcpy(path + 4, data, size);
	path[size + 4] = '\0'; /* libmicrohttpd hands a C string */
	const char *key = api_db_key(path);
	if (key) {
		CHECK(key == path + 4 && *key && !strchr(key, '/'));
	} else {
		CHECK(!path[4] || strchr(path + 4, '/'));
	}
	free(path);
}

static void member_body(enum cmd_type type, const uint8_t *data, size_t size)
{
	const char *name = type == CMD_JOIN ? CMD_NAME_JOIN : CMD_NAME_LEAVE;
	struct cmd c;
	char err[256] = "";
	int rv = cmd_decode((const uint8_t *)name, strlen(name), true, data, size, &c, err, sizeof(err));
	if (rv < 0) {
		CHECK(rv == -EBADMSG && err[0] && strlen(err) < sizeof(err));
		return;
	}
	CHECK(c.type == type);
	/* on_join / on_leave use them as C strings */
	CHECK(!c.name.ptr || c.name.ptr[c.name.len] == '\0');
	CHECK(!c.connection_string.ptr || c.connection_string.ptr[c.connection_string.len] == '\0');
	if (type == CMD_JOIN && c.connection_string.ptr && c.connection_string.len < RAFT_URL_MAX &&
	    api_valid_url(c.connection_string.ptr))
		check_url(c.connection_string.ptr);
	cmd_free(&c);
}

static void transfer_body(const uint8_t *data, size_t size)
{
	char to[RAFT_NAME_MAX], why[2 * RAFT_NAME_MAX + 128];
	memset(to, 'x', sizeof(to));
	why[0] = '\0';
	int rv = api_transfer_to(data, size, to, sizeof(to), why, sizeof(why));
	if (rv < 0) {
		CHECK(rv == -EINVAL && !strncmp(why, "transfer: ", 10));
		return;
	}
	CHECK(rv == 0 && memchr(to, '\0', sizeof(to)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned what = data[0] % 4;
	data++;
	size--;
	switch (what) {
	case 0:
		db_path(data, size);
		break;
	case 1:
		member_body(CMD_JOIN, data, size);
		/* the connection string as a plain string too */
		char *u = malloc(size + 1);
		CHECK(u);
		memcpy(u, data, size);
		u[size] = '\0';
		if (api_valid_url(u))
			check_url(u);
		free(u);
		break;
	case 2:
		member_body(CMD_LEAVE, data, size);
		break;
	case 3:
		transfer_body(data, size);
		break;
	}
	return 0;
}
