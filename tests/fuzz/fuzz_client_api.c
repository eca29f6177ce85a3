/* tests/fuzz/fuzz_client_api.c — libFuzzer target for what raftd parses in
 * client requests (libmicrohttpd splits the request line, headers and
 * query; api.c's handlers take it from there):
 *   byte 0 % 4 == 0  the path of /db/{key} as sent (api_db_key: decoded,
 *                    cleaned, the key checked; api_path_escape for a
 *                    Location);
 *                1  a /join body: cmd_decode() as raft:join, then the
 *                    connectionString check of on_join (api_url_check:
 *                    url_parse's verdict, what it accepts being fuzz_url's
 *                    to check, and a reason for each refusal);
 *                2  a /leave body: cmd_decode() as raft:leave;
 *                3  a POST /raftd/transfer body (api_transfer_to).
 * The rest of the input is the path or the body. (POST /raftd/snapshot and
 * GET /raftd/snapshot take no body; ?consistent=true and ?raftd=1 are
 * compared with strcmp.)
 *
 * Properties: no crash, leak or UB; refusals carry a reason; a key is
 * exactly what follows "/db/", holds no '/' and is UTF-8; a path encoded
 * again decodes to the same bytes; a clean path is clean; an accepted transfer
 * target fits RAFT_NAME_MAX. The first crash it found: the connection
 * string check of the day, api_valid_url(), took "http://h:\r\n2" (strtoul
 * skips blanks); that check is now net/url's (tests/fuzz/fuzz_url.c).
 *
 *   clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -I. tests/fuzz/fuzz_client_api.c \
 *     src/raftd/api_parse.c net/url.c proto/command.c proto/wire.c -ljansson -o fuzz_client_api
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/url.h"
#include "proto/command.h"
#include "src/raftd/api_parse.h"
#include "src/raft/raft.h"
#include "tests/fuzz/fuzz.h"


static void db_path(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 5), *buf = malloc(size + 5), *esc;
	size_t len = 0;
	CHECK(path && buf);
	memcpy(path, "/db/", 4);
	memcpy(path + 4, data, size);
	path[size + 4] = '\0';
	enum api_key v = api_db_key(path, size + 4, buf, &len);
	CHECK(len <= size + 4);
	if (v == API_KEY_OK) {
		/* one non-empty segment of UTF-8 after "/db/" */
		CHECK(len > 4 && !memcmp(buf, "/db/", 4) && !memchr(buf + 4, '/', len - 4));
		CHECK(cmd_utf8_valid(buf + 4, len - 4));
	}
	if (v == API_KEY_OK || v == API_KEY_UNCLEAN) {
		/* encoded again (a Location), it decodes to the same bytes */
		size_t cap = 3 * len + 1;
		esc = malloc(cap);
		CHECK(esc);
		int n = api_path_escape(buf, len, esc, cap);
		CHECK(n >= 0 && (size_t)n < cap && esc[n] == '\0');
		CHECK(url_unescape(esc) == len && !memcmp(esc, buf, len));
		free(esc);
	}
	if (v == API_KEY_UNCLEAN) {
		/* the clean path is clean: no redirect loop */
		char *again = malloc(len + 1);
		size_t al;
		esc = malloc(3 * len + 1);
		CHECK(again && esc);
		int n = api_path_escape(buf, len, esc, 3 * len + 1);
		CHECK(n >= 0);
		CHECK(api_db_key(esc, (size_t)n, again, &al) != API_KEY_UNCLEAN);
		free(again);
		free(esc);
	}
	free(buf);
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
	struct url u;
	if (type == CMD_JOIN && c.connection_string.ptr && c.connection_string.len < RAFT_URL_MAX) {
		/* on_join's check: net/url's verdict, and a reason for a refusal */
		char why[256] = "";
		bool ok = url_parse(c.connection_string.ptr, 0, &u) == 0;
		CHECK(api_url_check(c.connection_string.ptr, why, sizeof(why)) == ok);
		CHECK(ok || (why[0] && strlen(why) < sizeof(why)));
		if (ok)
			CHECK(!strcmp(u.base, c.connection_string.ptr));
	}
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
