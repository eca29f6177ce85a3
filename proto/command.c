/* proto/command.c — goraft's JSON commands; see command.h for the rules. */
#include "proto/command.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/wire.h"

static const char *const type_names[] = {
	[CMD_NOP] = CMD_NAME_NOP,
	[CMD_JOIN] = CMD_NAME_JOIN,
	[CMD_LEAVE] = CMD_NAME_LEAVE,
	[CMD_WRITE] = CMD_NAME_WRITE,
	[CMD_DELETE] = CMD_NAME_DELETE,
};

/* The JSON keys of each command, in Go struct order, and where they go. */
struct json_field {
	const char *key;
	size_t offset;
};

#define FIELD(k, member) { k, offsetof(struct cmd, member) }
static const struct json_field join_fields[] = { FIELD("name", name),
						 FIELD("connectionString", connection_string) };
static const struct json_field leave_fields[] = { FIELD("name", name) };
static const struct json_field write_fields[] = { FIELD("key", key), FIELD("value", value) };
static const struct json_field delete_fields[] = { FIELD("key", key) };

static const struct json_field *fields_of(enum cmd_type type, size_t *ret_n)
{
	switch (type) {
	case CMD_JOIN: *ret_n = 2; return join_fields;
	case CMD_LEAVE: *ret_n = 1; return leave_fields;
	case CMD_WRITE: *ret_n = 2; return write_fields;
	case CMD_DELETE: *ret_n = 1; return delete_fields;
	case CMD_NOP: break;
	}
	*ret_n = 0;
	return NULL;
}

static struct cmd_str *slot(struct cmd *cmd, const struct json_field *f)
{
	return (struct cmd_str *)((char *)cmd + f->offset);
}

int cmd_type_from_name(const uint8_t *name, size_t len, enum cmd_type *ret)
{
	for (size_t t = 0; t < sizeof(type_names) / sizeof(type_names[0]); t++) {
		if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0) {
			*ret = (enum cmd_type)t;
			return 0;
		}
	}
	return -ENOENT;
}

const char *cmd_type_name(enum cmd_type type)
{
	return type <= CMD_DELETE ? type_names[type] : "?";
}

bool cmd_goraft_can_apply(const uint8_t *name, size_t len)
{
	enum cmd_type t;
	return cmd_type_from_name(name, len, &t) == 0 && t != CMD_DELETE;
}

/* --- decoding ------------------------------------------------------------- */

void cmd_free(struct cmd *cmd)
{
	free(cmd->name.ptr);
	free(cmd->connection_string.ptr);
	free(cmd->key.ptr);
	free(cmd->value.ptr);
	*cmd = (struct cmd){ 0 };
}

static int set_copy(struct cmd_str *dst, const char *src, size_t len)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, src, len);
	copy[len] = '\0';
	free(dst->ptr);
	*dst = (struct cmd_str){ copy, len };
	return 0;
}

/* Go's encoding/json picks the field whose tag matches the key exactly, or
 * failing that case-insensitively (EqualFold; ASCII keys here). */
static const struct json_field *match_field(const struct json_field *fields, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(fields[i].key, key) == 0)
			return &fields[i];
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(fields[i].key, key) == 0)
			return &fields[i];
	return NULL;
}

int cmd_decode(const uint8_t *name, size_t name_len, bool has_payload, const uint8_t *payload,
	       size_t payload_len, struct cmd *ret, char *err, size_t err_len)
{
	int rv = 0;
	json_t *root = NULL;
	*ret = (struct cmd){ 0 };

	if (cmd_type_from_name(name, name_len, &ret->type) < 0) {
		snprintf(err, err_len, "raft.Command: Unregistered command type: %.*s", (int)name_len,
			 (const char *)name);
		return -EBADMSG;
	}
	size_t n_fields;
	const struct json_field *fields = fields_of(ret->type, &n_fields);
	/* A nop never decodes its payload; other commands with no payload keep
	 * their zero values, as goraft's newCommand does. */
	if (!fields || !has_payload)
		goto out;
	if (payload_len == 0) {
		snprintf(err, err_len, "%s: EOF", cmd_type_name(ret->type));
		rv = -EBADMSG;
		goto out;
	}

	json_error_t jerr;
	/* json.Decoder reads the first value and ignores what follows. */
	root = json_loadb((const char *)payload, payload_len, JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		snprintf(err, err_len, "%s: invalid JSON at byte %d: %s", cmd_type_name(ret->type),
			 jerr.position, jerr.text);
		rv = -EBADMSG;
		goto out;
	}
	if (!json_is_object(root)) {
		snprintf(err, err_len, "%s: payload is not a JSON object", cmd_type_name(ret->type));
		rv = -EBADMSG;
		goto out;
	}
	const char *key;
	json_t *value;
	json_object_foreach(root, key, value) {
		const struct json_field *f = match_field(fields, n_fields, key);
		if (!f || json_is_null(value))
			continue;
		if (!json_is_string(value)) {
			snprintf(err, err_len, "%s: field \"%s\" is not a string", cmd_type_name(ret->type), key);
			rv = -EBADMSG;
			goto out;
		}
		if ((rv = set_copy(slot(ret, f), json_string_value(value), json_string_length(value))) < 0)
			goto out;
	}
	/* Missing keys read as "", never as NULL. */
	for (size_t i = 0; i < n_fields; i++)
		if (!slot(ret, &fields[i])->ptr && (rv = set_copy(slot(ret, &fields[i]), "", 0)) < 0)
			goto out;
out:
	json_decref(root);
	if (rv < 0)
		cmd_free(ret);
	return rv;
}

/* --- encoding: Go's json.Encoder ---------------------------------------- */

/* Length of the UTF-8 sequence at s[0..len), or 0 if it is not valid UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_seq(const uint8_t *s, size_t len, uint32_t *ret_cp)
{
	uint8_t c = s[0];
	size_t n;
	uint32_t cp, min;
	if (c < 0x80) {
		*ret_cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return n;
}

/* Writes to out when out is not NULL, and counts either way, so one routine
 * gives both the exact size and the bytes. */
struct emitter {
	uint8_t *out;
	size_t n;
};

static void emit(struct emitter *e, const void *bytes, size_t len)
{
	if (e->out)
		memcpy(e->out + e->n, bytes, len);
	e->n += len;
}

static void emit_u_escape(struct emitter *e, uint32_t cp)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6] = { '\\', 'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15],
			hex[cp & 15] };
	emit(e, esc, sizeof(esc));
}

static void emit_json_string(struct emitter *e, const struct cmd_str *s)
{
	const uint8_t *p = (const uint8_t *)s->ptr;
	emit(e, "\"", 1);
	for (size_t i = 0; i < s->len;) {
		uint8_t c = p[i];
		uint32_t cp;
		size_t len;
		if (c < 0x80) {
			static const char *const short_escapes[128] = {
				['"'] = "\\\"", ['\\'] = "\\\\", ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t",
			};
			if (short_escapes[c])
				emit(e, short_escapes[c], 2);
			else if (c < 0x20 || c == '<' || c == '>' || c == '&')
				emit_u_escape(e, c);
			else
				emit(e, &c, 1);
			i++;
		} else if ((len = utf8_seq(p + i, s->len - i, &cp)) == 0) {
			emit_u_escape(e, 0xfffd); /* Go's escape for a byte that is not UTF-8 */
			i++;
		} else {
			if (cp == 0x2028 || cp == 0x2029)
				emit_u_escape(e, cp);
			else
				emit(e, p + i, len);
			i += len;
		}
	}
	emit(e, "\"", 1);
}

/* {"k1":"v1","k2":"v2"} and a newline, keys in struct order. */
static size_t json_command(const struct cmd *cmd, uint8_t *out)
{
	struct emitter e = { out, 0 };
	size_t n_fields;
	const struct json_field *fields = fields_of(cmd->type, &n_fields);
	emit(&e, "{", 1);
	for (size_t i = 0; i < n_fields; i++) {
		if (i)
			emit(&e, ",", 1);
		emit(&e, "\"", 1);
		emit(&e, fields[i].key, strlen(fields[i].key));
		emit(&e, "\":", 2);
		emit_json_string(&e, (const struct cmd_str *)((const char *)cmd + fields[i].offset));
	}
	emit(&e, "}\n", 2);
	return e.n;
}

size_t cmd_json_size(const struct cmd *cmd)
{
	return cmd->type == CMD_NOP ? 0 : json_command(cmd, NULL);
}

void cmd_json_encode(const struct cmd *cmd, uint8_t *out)
{
	if (cmd->type != CMD_NOP)
		json_command(cmd, out);
}

/* Fields 1-3 of LogEntry, then field 4's tag and length when there is one. */
static size_t entry_head_size(uint64_t index, uint64_t term, const struct cmd *cmd, size_t json_len)
{
	size_t name_len = strlen(cmd_type_name(cmd->type));
	size_t n = 1 + wire_varint_len(index) + 1 + wire_varint_len(term) + 1 + wire_varint_len(name_len) +
		   name_len;
	if (cmd->type != CMD_NOP)
		n += 1 + wire_varint_len(json_len);
	return n;
}

size_t cmd_entry_size(uint64_t index, uint64_t term, const struct cmd *cmd)
{
	size_t json_len = cmd_json_size(cmd);
	return entry_head_size(index, term, cmd, json_len) + json_len;
}

long cmd_entry_encode(uint64_t index, uint64_t term, const struct cmd *cmd, uint8_t *out, size_t cap)
{
	size_t json_len = cmd_json_size(cmd);
	size_t total = entry_head_size(index, term, cmd, json_len) + json_len;
	if (total > cap)
		return -ENOSPC;
	const char *name = cmd_type_name(cmd->type);
	size_t name_len = strlen(name);
	uint8_t *p = out;
	*p++ = 0x08;
	p += wire_varint_put(p, index);
	*p++ = 0x10;
	p += wire_varint_put(p, term);
	*p++ = 0x1a;
	p += wire_varint_put(p, name_len);
	memcpy(p, name, name_len);
	p += name_len;
	if (cmd->type != CMD_NOP) {
		*p++ = 0x22;
		p += wire_varint_put(p, json_len);
		json_command(cmd, p);
		p += json_len;
	}
	return (long)(p - out);
}
