/* src/raftd/api_parse.c — client API request parsing; see api_parse.h. */
#include "src/raftd/api_parse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/url.h"

const char *api_db_key(const char *path)
{
	const char *k = path + strlen("/db/");
	if (!*k || strchr(k, '/'))
		return NULL;
	return k;
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
		return url_bad(why, why_len, "https is not spoken between members (raftd's peer client, like goraft's "
					     "connectionString, is plain http): use http://HOST:PORT");
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
