/* tests/fuzz/fuzz_url.c — libFuzzer target for net/url.c, the one parser of
 * the URLs raftd and raftctl take, and the percent-coding of a path segment.
 *
 * Byte 0 chooses the flags (0, URL_SLASH, URL_SHORT, both); the rest,
 * up to its first NUL, is the text. Properties:
 * - a strict accept (flags 0: a /join connectionString, committed to every
 *   log) is what url.h promises, checked by a reference written by hand
 *   (as fuzz_client_api held api_valid_url() against it before), and its
 *   normal form is the text itself;
 * - differential between the readings: what is accepted strictly is
 *   accepted the same way with URL_SLASH (the peer client connects to
 *   every member a /join admits) and with URL_SHORT (raftctl reads the
 *   same address) — the disagreement of the three old parsers is what
 *   fuzz_client_api found;
 * - any accept's normal form (base) is accepted strictly as the same
 *   address, and with URL_SLASH the text without its '/' reads the same;
 * - url_escape_segment() gives one segment ('/', '?', '#', blanks escaped)
 *   that url_unescape() turns back into the text.
 *
 *   clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -I. tests/fuzz/fuzz_url.c net/url.c -o fuzz_url
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/url.h"
#include "tests/fuzz/fuzz.h"

/* The promise of url.h for flags 0, checked by hand. */
static void check_strict(const char *u)
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

static bool same(const struct url *a, const struct url *b)
{
	return !strcmp(a->host, b->host) && !strcmp(a->port, b->port) && a->v6 == b->v6 &&
	       !strcmp(a->hostport, b->hostport) && !strcmp(a->base, b->base);
}

static void check_accepted(const char *s, unsigned flags, const struct url *u)
{
	struct url n;
	CHECK(u->host[0] && strlen(u->host) < URL_HOST_MAX);
	CHECK(!strncmp(u->base, "http://", 7) && !strcmp(u->base + 7, u->hostport));
	CHECK(url_parse(u->base, 0, &n) == 0 && same(u, &n));
	check_strict(u->base);
	if (flags == 0) {
		check_strict(s);
		CHECK(!strcmp(u->base, s));
		CHECK(url_parse(s, URL_SLASH, &n) == 0 && same(u, &n));
		CHECK(url_parse(s, URL_SHORT, &n) == 0 && same(u, &n));
		CHECK(url_parse(s, URL_SHORT | URL_SLASH, &n) == 0 && same(u, &n));
	}
	size_t len = strlen(s);
	if ((flags & URL_SLASH) && len && s[len - 1] == '/') {
		char *t = strndup(s, len - 1);
		CHECK(t);
		CHECK(url_parse(t, flags & ~URL_SLASH, &n) == 0 && same(u, &n));
		free(t);
	}
}

static void check_escape(const char *s)
{
	size_t len = strlen(s), cap = 3 * len + 1;
	char *e = malloc(cap);
	CHECK(e);
	int n = url_escape_segment(s, e, cap);
	CHECK(n >= 0 && (size_t)n == strlen(e) && (size_t)n >= len);
	for (const char *c = e; *c; c++)
		CHECK(*c > ' ' && *c < 0x7f && *c != '/' && *c != '?' && *c != '#');
	CHECK(url_escape_segment(s, e, (size_t)n) == -ENAMETOOLONG);
	CHECK(url_unescape(e) == len && !memcmp(e, s, len));
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned flags = data[0] & 3;
	char *s = malloc(size);
	CHECK(s);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	struct url u;
	memset(&u, 0xa5, sizeof(u));
	int rv = url_parse(s, flags, &u);
	CHECK(rv == 0 || rv == -EINVAL);
	if (rv == 0)
		check_accepted(s, flags, &u);
	check_escape(s);
	free(s);
	return 0;
}
