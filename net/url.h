/* net/url.h — the one parser of the addresses raftd and raftctl take, and the
 * percent-coding of path segments. Pure: no I/O, no allocation, no resolving.
 *
 * A member's connection string is committed to every node's log, and a
 * member nobody can connect to still counts in the quorum: what the daemon
 * accepts in a /join must be what the peer client connects to, and what
 * raftctl calls a URL must be the same thing. Three parsers once disagreed
 * on that (fuzz_client_api found one taking "http://h:\r\n2"); this is now
 * the only one.
 *
 * The form, for every caller: http://HOST:PORT where
 * - HOST is 1 to URL_HOST_MAX-1 bytes, none of them a blank, a control
 *   byte, DEL, '/', '@', '?' or '#', and no ':' unless it is written
 *   [V6] (the brackets are not part of host; their content may hold ':');
 * - PORT is 1 to 5 decimal digits (leading zeros allowed) of value 1..65535,
 *   and nothing follows it: no path, query, fragment or userinfo; https
 *   (unless URL_HTTPS) and other schemes are refused.
 * Flags widen that for one caller:
 * - URL_SLASH: one trailing '/' is accepted (peer_create, raftctl).
 * - URL_SHORT: raftctl's shorthand: the scheme may be left out (any other
 *   "://" is refused), HOST alone takes port URL_SHORT_PORT, and ":PORT" (an
 *   empty host) means 127.0.0.1.
 * - URL_HTTPS: https://HOST:PORT is accepted too (tls is set), for callers
 *   that speak TLS; URL_SHORT without a scheme still means http.
 */
#ifndef RAFTD_NET_URL_H
#define RAFTD_NET_URL_H

#include <stdbool.h>
#include <stddef.h>

#define URL_HOST_MAX 256
#define URL_PORT_MAX 6 /* "65535" */
#define URL_HOSTPORT_MAX (URL_HOST_MAX + URL_PORT_MAX + 3)
#define URL_BASE_MAX (URL_HOSTPORT_MAX + 8) /* "https://" */
#define URL_SHORT_PORT "4001" /* goraft raftd's default */

#define URL_SLASH 0x1u
#define URL_SHORT 0x2u
#define URL_HTTPS 0x4u

struct url {
	char host[URL_HOST_MAX];         /* for getaddrinfo(): a [V6] host without brackets */
	char port[URL_PORT_MAX];         /* as written (a default when URL_SHORT left it out) */
	bool v6;                         /* written in brackets */
	bool tls;                        /* https:// (only with URL_HTTPS) */
	char hostport[URL_HOSTPORT_MAX]; /* HOST:PORT or [V6]:PORT, for a Host header */
	char base[URL_BASE_MAX];         /* http://HOSTPORT or https://HOSTPORT, the normal form */
};

/* Parses s under flags into *ret. Returns 0, or -EINVAL (*ret untouched)
 * when s is not of the form above. */
int url_parse(const char *s, unsigned flags, struct url *ret);

/* One path segment, percent-encoded: letters, digits and -._~!$&'()*+,;=:@
 * stay, every other byte becomes %XX (upper case), '/' included, so the
 * segment stays one. Writes a NUL-terminated string to out and returns its
 * length, or -ENAMETOOLONG when it does not fit in cap. */
int url_escape_segment(const char *seg, char *out, size_t cap);
/* The same for len bytes of seg, which may hold NUL bytes. */
int url_escape_segment_n(const char *seg, size_t len, char *out, size_t cap);

/* Percent-decoding in place, as libmicrohttpd does to a request's path
 * before raftd sees it (MHD_http_unescape): %XX with two hex digits becomes
 * that byte, anything else stays as it is, '+' included. Returns the new
 * length (the result may hold NUL bytes). url_escape_segment() is its
 * inverse. */
size_t url_unescape(char *s);

#endif
