/* net/url.c — see url.h. */
#include "net/url.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Bytes a host may not hold: getaddrinfo() would take some of them (a blank
 * ends a numeric address early), and the others would make the URL mean
 * something else to a goraft peer (userinfo, path, query, fragment). */
static bool host_byte_ok(unsigned char c, bool v6)
{
	return c > ' ' && c != 0x7f && c != '/' && c != '@' && c != '?' && c != '#' && (c != ':' || v6);
}

/* 1 to 5 decimal digits of value 1..65535, nothing else: strtoul() alone
 * would take blanks, a sign or "\r\n" before the digits. */
static bool port_ok(const char *p, size_t len)
{
	unsigned long v = 0;
	if (len == 0 || len >= URL_PORT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	return v > 0 && v <= 65535;
}

int url_parse(const char *s, unsigned flags, struct url *ret)
{
	struct url u = { .v6 = false, .tls = false };
	const char *h = s, *end, *host, *hend, *port = NULL;
	size_t hl, pl = 0;

	if (!strncmp(h, "http://", 7)) {
		h += 7;
	} else if ((flags & URL_HTTPS) && !strncmp(h, "https://", 8)) {
		h += 8;
		u.tls = true;
	} else if (!(flags & URL_SHORT) || strstr(h, "://"))
		return -EINVAL;
	end = h + strlen(h);
	if ((flags & URL_SLASH) && end > h && end[-1] == '/')
		end--;
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));
		if (!close)
			return -EINVAL;
		u.v6 = true;
		host = h + 1;
		hend = close;
		if (close + 1 < end && close[1] != ':')
			return -EINVAL;
		if (close + 1 < end)
			port = close + 2;
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));
		host = h;
		hend = colon ? colon : end;
		if (colon)
			port = colon + 1;
	}
	hl = (size_t)(hend - host);
	if (port)
		pl = (size_t)(end - port);
	else if (flags & URL_SHORT)
		port = URL_SHORT_PORT, pl = strlen(URL_SHORT_PORT);
	else
		return -EINVAL;
	if (hl == 0 && !u.v6 && (flags & URL_SHORT) && hend != end) { /* ":PORT": this machine */
		host = "127.0.0.1";
		hl = strlen(host);
	}
	if (hl == 0 || hl >= sizeof(u.host) || !port_ok(port, pl))
		return -EINVAL;
	for (size_t i = 0; i < hl; i++)
		if (!host_byte_ok((unsigned char)host[i], u.v6))
			return -EINVAL;
	memcpy(u.host, host, hl);
	memcpy(u.port, port, pl);
	snprintf(u.hostport, sizeof(u.hostport), u.v6 ? "[%s]:%s" : "%s:%s", u.host, u.port);
	snprintf(u.base, sizeof(u.base), "%s://%s", u.tls ? "https" : "http", u.hostport);
	*ret = u;
	return 0;
}

int url_escape_segment(const char *seg, char *out, size_t cap)
{
	return url_escape_segment_n(seg, strlen(seg), out, cap);
}

int url_escape_segment_n(const char *seg, size_t len, char *out, size_t cap)
{
	static const char keep[] = "-._~!$&'()*+,;=:@";
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)seg, *end = p + len; p < end; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			     (*p && strchr(keep, *p));
		if (n + (plain ? 1 : 3) >= cap)
			return -ENAMETOOLONG;
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	if (n >= cap)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return (int)n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t url_unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r;) {
		int hi = r[0] == '%' ? hexval(r[1]) : -1, lo = hi >= 0 ? hexval(r[2]) : -1;
		if (lo >= 0) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}
