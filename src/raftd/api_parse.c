/* src/raftd/api_parse.c — client API request parsing; see api_parse.h. */
#include "src/raftd/api_parse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/url.h"
#include "proto/command.h"

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

/* Go's url.PathUnescape: every '%' must start an escape. */
static bool unescape_strict(const char *raw, size_t len, char *out, size_t *ret_len)
{
	size_t w = 0;
	for (size_t i = 0; i < len;) {
		if (raw[i] != '%') {
			out[w++] = raw[i++];
			continue;
		}
		int hi = i + 2 < len ? hexval(raw[i + 1]) : -1, lo = hi >= 0 ? hexval(raw[i + 2]) : -1;
		if (lo < 0)
			return false;
		out[w++] = (char)(hi << 4 | lo);
		i += 3;
	}
	*ret_len = w;
	return true;
}

/* gorilla/mux's cleanPath (path.Clean, with a trailing '/' kept) of a
 * rooted path, into out (room for len + 1 bytes). Returns its length. */
static size_t clean_path(const char *p, size_t len, char *out)
{
	size_t w = 1;
	out[0] = '/';
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && p[j] != '/')
			j++;
		size_t sl = j - i;
		if (sl == 0 || (sl == 1 && p[i] == '.')) {
			/* nothing */
		} else if (sl == 2 && p[i] == '.' && p[i + 1] == '.') {
			while (w > 1 && out[w - 1] != '/')
				w--;
			if (w > 1)
				w--; /* the '/' before the segment popped */
		} else {
			if (w > 1)
				out[w++] = '/';
			memcpy(out + w, p + i, sl);
			w += sl;
		}
		i = j + 1;
	}
	if (len && p[len - 1] == '/' && w > 1)
		out[w++] = '/';
	return w;
}

enum api_key api_db_key(const char *raw, size_t raw_len, char *buf, size_t *ret_len)
{
	size_t len;
	if (!unescape_strict(raw, raw_len, buf, &len))
		return API_KEY_BAD_ESCAPE;
	if (!len || buf[0] != '/')
		return API_KEY_NOT_FOUND;
	char *clean = malloc(len + 1);
	if (!clean)
		return API_KEY_NOT_FOUND; /* not reached for the paths MHD takes */
	size_t cl = clean_path(buf, len, clean);
	bool unclean = cl != len || memcmp(clean, buf, len) != 0;
	if (unclean)
		memcpy(buf, clean, cl);
	free(clean);
	if (unclean) {
		*ret_len = cl;
		return API_KEY_UNCLEAN;
	}
	*ret_len = len;
	if (len <= 4 || memcmp(buf, "/db/", 4) != 0 || memchr(buf + 4, '/', len - 4))
		return API_KEY_NOT_FOUND;
	if (!cmd_utf8_valid(buf + 4, len - 4))
		return API_KEY_NOT_UTF8;
	return API_KEY_OK;
}

int api_path_escape(const char *path, size_t len, char *out, size_t cap)
{
	size_t w = 0;
	for (size_t i = 0; i <= len;) {
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		int n = url_escape_segment_n(path + i, j - i, out + w, cap - w);
		if (n < 0)
			return n;
		w += (size_t)n;
		if (j == len)
			break;
		if (w + 1 >= cap)
			return -ENAMETOOLONG;
		out[w++] = '/';
		out[w] = '\0';
		i = j + 1;
	}
	return (int)w;
}

/* The reason goes to the operator who typed the URL, so it says which part
 * is wrong rather than repeating the expected form. */
static bool url_bad(char *why, size_t why_len, const char *reason)
{
	snprintf(why, why_len, "%s", reason);
	return false;
}

bool api_url_check(const char *u, char *why, size_t why_len)
{
	struct url parsed;
	if (url_parse(u, 0, &parsed) == 0)
		return true; /* net/url decides; what follows only explains */
	if (!strncmp(u, "https://", 8))
		return url_bad(why, why_len, "https is spoken between members only when they have certificates "
					     "(--peer-cert-file); this cluster's are plain: use http://HOST:PORT");
	if (strncmp(u, "http://", 7) != 0)
		return url_bad(why, why_len, strstr(u, "://") ? "the scheme must be http: use http://HOST:PORT"
							       : "no scheme: use http://HOST:PORT");
	const char *h = u + 7, *colon;
	if (strpbrk(h, "/@?#"))
		return url_bad(why, why_len, "nothing may follow the port, nor come before the host "
					     "(no path, user, query or fragment): use http://HOST:PORT");
	bool v6 = *h == '[';
	if (v6) {
		const char *close = strchr(h, ']');
		if (!close || close - h < 2 || (close[1] != ':' && close[1] != '\0'))
			return url_bad(why, why_len, "bad IPv6 host: use http://[ADDRESS]:PORT");
		colon = close[1] ? close + 1 : NULL;
	} else {
		colon = strrchr(h, ':');
	}
	if (!colon)
		return url_bad(why, why_len, "no port: use http://HOST:PORT (a member's URL names its port; "
					     "there is no default)");
	if (colon == h)
		return url_bad(why, why_len, "no host: use http://HOST:PORT");
	size_t digits = strspn(colon + 1, "0123456789");
	if (digits == 0 || colon[1 + digits] != '\0')
		return url_bad(why, why_len, "the port must be decimal digits: use http://HOST:PORT");
	if (digits > 5 || strtoul(colon + 1, NULL, 10) == 0 || strtoul(colon + 1, NULL, 10) > 65535)
		return url_bad(why, why_len, "the port must be 1 to 65535 (at most 5 digits)");
	return url_bad(why, why_len, "the host may not hold blanks, control bytes or ':' (an IPv6 address "
				     "goes inside []), nor be that long: use http://HOST:PORT");
}

int api_transfer_to(const uint8_t *body, size_t len, char *to, size_t to_len, char *why, size_t why_len)
{
	size_t sp = 0;
	to[0] = '\0';
	while (sp < len && (body[sp] == ' ' || body[sp] == '\t' || body[sp] == '\r' || body[sp] == '\n'))
		sp++;
	if (sp == len)
		return 0;
	json_error_t jerr;
	json_t *root = json_loadb((const char *)body, len, 0, &jerr);
	json_t *jto = root && json_is_object(root) ? json_object_get(root, "to") : NULL;
	int rv = -EINVAL;
	if (!root)
		snprintf(why, why_len, "transfer: invalid JSON at byte %d: %s", jerr.position, jerr.text);
	else if (!json_is_object(root))
		snprintf(why, why_len, "transfer: the body must be a JSON object, {\"to\":\"NAME\"}");
	else if (jto && !json_is_null(jto) && !json_is_string(jto))
		snprintf(why, why_len, "transfer: \"to\" must be a string");
	else if (jto && json_is_string(jto) && json_string_length(jto) >= to_len)
		snprintf(why, why_len, "transfer: \"to\" names no member");
	else
		rv = 0;
	if (rv == 0 && jto && json_is_string(jto))
		snprintf(to, to_len, "%s", json_string_value(jto));
	json_decref(root);
	return rv;
}
