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

/* What a /db/{key} path is, read as goraft raftd reads it: Go's net/url
 * decodes the path (a '%' without two hex digits after it is a 400), then
 * gorilla/mux redirects (301) a path that is not clean (path.Clean: "//",
 * "." and ".." segments) to the clean one, then {key} is the one non-empty
 * segment after "/db/". The key is a byte string (it may hold NUL bytes);
 * raftd also refuses one that is not valid UTF-8, which Go's JSON encoder
 * in goraft's log would turn into U+FFFD, so that two keys became one. */
enum api_key {
	API_KEY_OK,         /* the key is buf[4 .. *ret_len) */
	API_KEY_NOT_FOUND,  /* 404: not "/db/" and one non-empty segment */
	API_KEY_BAD_ESCAPE, /* 400 */
	API_KEY_NOT_UTF8,   /* 400 */
	API_KEY_UNCLEAN,    /* 301: buf[0 .. *ret_len) is the clean path, decoded */
};

/* raw is the path of the request target as sent (escaped, no query), raw_len
 * bytes; buf has room for raw_len + 1 bytes, and gets the path decoded. */
enum api_key api_db_key(const char *raw, size_t raw_len, char *buf, size_t *ret_len);

/* A decoded path (len bytes, NUL bytes allowed) percent-encoded segment by
 * segment (url_escape_segment_n), so that it reads back as the same bytes:
 * for a Location header. Returns the length written to out (NUL-terminated),
 * or -ENAMETOOLONG. */
int api_path_escape(const char *path, size_t len, char *out, size_t cap);

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
