/* src/raftd/api_parse.c — client API request parsing; see api_parse.h. */
#include "src/raftd/api_parse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *api_db_key(const char *path)
{
	const char *k = path + strlen("/db/");
	if (!*k || strchr(k, '/'))
		return NULL;
	return k;
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
