/* src/raftd/api_parse.h — the parts of the client API requests that raftd
 * parses itself (libmicrohttpd splits method, path, query and body), kept apart
 * from the HTTP handlers in api.c so that they can be fuzzed
 * (tests/fuzz/fuzz_client_api.c). Pure functions: no I/O, no globals.
 *
 * The /join and /leave bodies are goraft commands: cmd_decode() in
 * proto/command.h parses them; the connectionString of a /join is checked
 * by url_parse() (net/url.h), the parser the peer client connects with.
 */
#ifndef RAFTD_SRC_RAFTD_API_PARSE_H
#define RAFTD_SRC_RAFTD_API_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The key of a /db/{key} path: what follows "/db/", or NULL (the daemon
 * answers 404) when that is empty or holds another '/'. path must start
 * with "/db/" (the route); the key points into path. */
const char *api_db_key(const char *path);

/* A /join connectionString: true when net/url takes it (url_parse(), no
 * flags: http://HOST:PORT, what the peer client connects to); otherwise the
 * reason, a sentence that says what to write instead, in why (why_len >= 1),
 * for a 400. */
bool api_url_check(const char *url, char *why, size_t why_len);

/* The body of POST /raftd/transfer: empty (whitespace only), {} or
 * {"to":null} or {"to":""} mean any other voter (*to = ""); {"to":"NAME"}
 * names one. Returns 0 with the name in to (to_len >= 1; a name that does
 * not fit is refused, it names no member), or -EINVAL with the reason, for
 * a 400, in why. */
int api_transfer_to(const uint8_t *body, size_t len, char *to, size_t to_len, char *why, size_t why_len);

#endif
