/* proto/command.c — goraft's JSON commands; see command.h for the rules. */
#include "proto/command.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "proto/wire.h"

static const char *const type_names[] = {
	[CMD_NOP] = CMD_NAME_NOP,
	[CMD_JOIN] = CMD_NAME_JOIN,
	[CMD_LEAVE] = CMD_NAME_LEAVE,
	[CMD_WRITE] = CMD_NAME_WRITE,
	[CMD_DELETE] = CMD_NAME_DELETE,
	[CMD_LEARNER] = CMD_NAME_LEARNER,
	[CMD_V3] = CMD_NAME_V3,
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
	case CMD_JOIN:
	case CMD_LEARNER: *ret_n = 2; return join_fields;
	case CMD_LEAVE: *ret_n = 1; return leave_fields;
	case CMD_WRITE: *ret_n = 2; return write_fields;
	case CMD_DELETE: *ret_n = 1; return delete_fields;
	case CMD_NOP:
	case CMD_V3: break;
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
	return type <= CMD_V3 ? type_names[type] : "?";
}

bool cmd_goraft_can_apply(const uint8_t *name, size_t len)
{
	enum cmd_type t;
	return cmd_type_from_name(name, len, &t) == 0 && t != CMD_DELETE && t != CMD_LEARNER && t != CMD_V3;
}

bool cmd_goraft_may_get(const uint8_t *name, size_t len)
{
	enum cmd_type t;
	return cmd_goraft_can_apply(name, len) || (cmd_type_from_name(name, len, &t) == 0 && t == CMD_LEARNER);
}

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

bool cmd_utf8_valid(const void *s, size_t len)
{
	const uint8_t *p = s;
	uint32_t cp;
	for (size_t i = 0, n; i < len; i += n)
		if ((n = utf8_seq(p + i, len - i, &cp)) == 0)
			return false;
	return true;
}

/* --- decoding ------------------------------------------------------------- */

void cmd_free(struct cmd *cmd)
{
	struct cmd_str *strs[] = { &cmd->name, &cmd->connection_string, &cmd->key, &cmd->value };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (!(cmd->borrowed & (1u << i)))
			free(strs[i]->ptr);
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

/* jansson, the reference decoder: every input the fast path below does not
 * take, and every error message. */
static int decode_jansson(struct cmd *ret, const struct json_field *fields, size_t n_fields, const uint8_t *payload,
			  size_t payload_len, char *err, size_t err_len)
{
	int rv = 0;
	json_error_t jerr;
	/* json.Decoder reads the first value and ignores what follows. */
	json_t *root = json_loadb((const char *)payload, payload_len, JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		snprintf(err, err_len, "%s: invalid JSON at byte %d: %s", cmd_type_name(ret->type), jerr.position,
			 jerr.text);
		return -EBADMSG;
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
out:
	json_decref(root);
	return rv;
}

/* --- decoding: the fast path ---------------------------------------------
 *
 * Applying the log decodes every write, and jansson lexes a string byte by
 * byte through a buffer, then copies it twice more (its value, our copy): a
 * restart with a 1 GiB log of 64 KiB values spent 83% of its time in
 * libjansson. The commands goraft and raftd write are one flat object of
 * strings, so this scanner takes that shape and nothing else: '{', members
 * whose keys are plain printable ASCII and whose values are strings, '}',
 * with JSON whitespace between tokens and anything after the '}' ignored (as
 * JSON_DISABLE_EOF_CHECK). Everything else returns FAST_FALLBACK, and jansson
 * decides, errors and all: a value that is not a string (null, numbers,
 * nesting), a key with an escape or a byte outside 0x20..0x7e, a command
 * field given twice (jansson keeps the last value in the first one's place,
 * which with case-folded keys is not simply "last wins"), invalid UTF-8, a
 * control character, an unknown escape, a lone surrogate, the payload ending
 * early. So what it returns is jansson's result, byte for byte;
 * tests/proto/test_command.c checks that differentially. */

enum { FAST_FALLBACK = CMD_DECODE_FALLBACK };

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Whether some byte of w is < 0x20, '"', '\\' or >= 0x80, the bytes a string
 * cannot take as they are. Exact: the zero-byte tests never miss one. */
static inline bool word_special(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
	return (((w - ONES * 0x20) | (q - ONES) | (b - ONES)) & ~w & HIGHS) | (w & HIGHS);
}

static const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* The 4 hex digits at p, or -1. */
static int32_t hex4(const uint8_t *p)
{
	int32_t v = 0;
	for (int i = 0; i < 4; i++) {
		uint8_t c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v += c - '0';
		else if (c >= 'a' && c <= 'f')
			v += c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v += c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* A JSON string as it lies in the payload, between its quotes. */
struct raw_str {
	const uint8_t *p;
	size_t len;
	bool escaped;   /* holds a backslash: must be unescaped */
	bool printable; /* only bytes 0x20..0x7e */
};

/* Scans the string whose opening quote is at p[-1]: the position after its
 * closing quote, or NULL for anything jansson should judge. Escapes are
 * checked completely here (surrogates paired), so unescape() cannot fail. */
static const uint8_t *scan_string(const uint8_t *p, const uint8_t *end, struct raw_str *ret)
{
	const uint8_t *start = p;
	bool escaped = false, printable = true;
	for (;;) {
		/* Through the plain runs 16 or 8 bytes at a time: values are
		 * long (64 KiB in the restart benchmark). */
#ifdef __SSE2__
		/* signed bytes: < 0x20 is also true of 0x80..0xff */
		const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
		while (end - p >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
			__m128i sp = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
						  _mm_cmplt_epi8(v, space));
			int mask = _mm_movemask_epi8(sp);
			if (mask) {
				p += __builtin_ctz((unsigned)mask);
				break;
			}
			p += 16;
		}
#endif
		while (end - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if (word_special(w))
				break;
			p += 8;
		}
		if (p == end)
			return NULL;
		uint8_t c = *p;
		if (c == '"')
			break;
		if (c < 0x20)
			return NULL;
		if (c == 0x7f) {
			printable = false;
			p++;
		} else if (c == '\\') {
			if (end - p < 2)
				return NULL;
			escaped = true;
			uint8_t e = p[1];
			if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
				p += 2;
				continue;
			}
			int32_t cp;
			if (e != 'u' || end - p < 6 || (cp = hex4(p + 2)) < 0)
				return NULL;
			p += 6;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return NULL; /* a low surrogate first */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				int32_t lo;
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || (lo = hex4(p + 2)) < 0xdc00 ||
				    lo > 0xdfff)
					return NULL;
				p += 6;
			}
		} else if (c >= 0x80) {
			uint32_t cp;
			size_t n = utf8_seq(p, (size_t)(end - p), &cp);
			if (!n)
				return NULL;
			printable = false;
			p += n;
		} else {
			p++;
		}
	}
	*ret = (struct raw_str){ start, (size_t)(p - start), escaped, printable };
	return p + 1;
}

static size_t utf8_put(uint8_t *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* The value of a string scan_string() accepted, into *dst (malloc'ed, NUL
 * appended). An unescaped value is never longer than its source. */
static int unescape(const struct raw_str *s, struct cmd_str *dst)
{
	uint8_t *out = malloc(s->len + 1), *t = out;
	if (!out)
		return -ENOMEM;
	const uint8_t *p = s->p, *end = s->p + s->len;
	while (p < end) {
		const uint8_t *bs = memchr(p, '\\', (size_t)(end - p));
		size_t run = bs ? (size_t)(bs - p) : (size_t)(end - p);
		memcpy(t, p, run);
		t += run;
		p += run;
		if (!bs)
			break;
		uint8_t e = p[1];
		static const uint8_t short_unescapes[128] = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
							      ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t' };
		if (e != 'u') {
			*t++ = short_unescapes[e];
			p += 2;
			continue;
		}
		uint32_t cp = (uint32_t)hex4(p + 2);
		p += 6;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)hex4(p + 2) - 0xdc00);
			p += 6;
		}
		t += utf8_put(t, cp);
	}
	*t = '\0';
	*dst = (struct cmd_str){ (char *)out, (size_t)(t - out) };
	return 0;
}

/* match_field() for a key that is not NUL-terminated (printable ASCII, so
 * strcasecmp's folding is ASCII's). */
static int match_key(const struct json_field *fields, size_t n, const struct raw_str *k)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(fields[i].key) == k->len && memcmp(fields[i].key, k->p, k->len) == 0)
			return (int)i;
	for (size_t i = 0; i < n; i++)
		if (strlen(fields[i].key) == k->len && strncasecmp(fields[i].key, (const char *)k->p, k->len) == 0)
			return (int)i;
	return -1;
}

static unsigned borrowed_bit(const struct json_field *f)
{
	return 1u << ((f->offset - offsetof(struct cmd, name)) / sizeof(struct cmd_str));
}

/* 0 with every field of ret set, FAST_FALLBACK (ret untouched but for
 * strings to free), or -ENOMEM. */
static int decode_fast(struct cmd *ret, const struct json_field *fields, size_t n_fields, const uint8_t *payload,
		       size_t payload_len, bool borrow)
{
	const uint8_t *p = payload, *end = payload + payload_len;
	struct raw_str vals[2];
	bool seen[2] = { false, false };
	if (n_fields > 2)
		return FAST_FALLBACK;
	p = skip_ws(p, end);
	if (p == end || *p != '{')
		return FAST_FALLBACK;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		goto members_done;
	for (;;) {
		struct raw_str k, v;
		if (p == end || *p != '"' || !(p = scan_string(p + 1, end, &k)) || k.escaped || !k.printable)
			return FAST_FALLBACK;
		p = skip_ws(p, end);
		if (p == end || *p != ':')
			return FAST_FALLBACK;
		p = skip_ws(p + 1, end);
		if (p == end || *p != '"' || !(p = scan_string(p + 1, end, &v)))
			return FAST_FALLBACK;
		int f = match_key(fields, n_fields, &k);
		if (f >= 0) {
			if (seen[f])
				return FAST_FALLBACK;
			seen[f] = true;
			vals[f] = v;
		}
		p = skip_ws(p, end);
		if (p == end)
			return FAST_FALLBACK;
		if (*p == '}')
			break;
		if (*p != ',')
			return FAST_FALLBACK;
		p = skip_ws(p + 1, end);
	}
members_done:
	for (size_t i = 0; i < n_fields; i++) {
		struct cmd_str *dst = slot(ret, &fields[i]);
		int rv = 0;
		if (!seen[i] && borrow) {
			*dst = cmd_str_ref("", 0); /* missing keys read as "" */
			ret->borrowed |= borrowed_bit(&fields[i]);
		} else if (!seen[i]) {
			rv = set_copy(dst, "", 0);
		} else if (vals[i].escaped) {
			rv = unescape(&vals[i], dst);
		} else if (borrow) {
			*dst = cmd_str_ref(vals[i].p, vals[i].len);
			ret->borrowed |= borrowed_bit(&fields[i]);
		} else {
			rv = set_copy(dst, (const char *)vals[i].p, vals[i].len);
		}
		if (rv < 0)
			return rv;
	}
	return 0;
}

static int decode_json(enum cmd_type type, const uint8_t *payload, size_t payload_len, unsigned flags,
		    struct cmd *ret, char *err, size_t err_len)
{
	int rv = 0;
	*ret = (struct cmd){ .type = type };
	size_t n_fields;
	const struct json_field *fields = fields_of(type, &n_fields);
	if (!fields)
		return 0;
	if (payload_len == 0) {
		snprintf(err, err_len, "%s: EOF", cmd_type_name(type));
		rv = -EBADMSG;
		goto out;
	}
	rv = flags & CMD_DECODE_JANSSON ? FAST_FALLBACK
					: decode_fast(ret, fields, n_fields, payload, payload_len, flags & CMD_DECODE_BORROW);
	if (rv == FAST_FALLBACK && (flags & CMD_DECODE_FAST_ONLY))
		goto out;
	if (rv == FAST_FALLBACK) {
		cmd_free(ret);
		ret->type = type;
		rv = decode_jansson(ret, fields, n_fields, payload, payload_len, err, err_len);
		if (rv < 0)
			goto out;
		/* Missing keys read as "", never as NULL. */
		for (size_t i = 0; i < n_fields; i++)
			if (!slot(ret, &fields[i])->ptr && (rv = set_copy(slot(ret, &fields[i]), "", 0)) < 0)
				goto out;
	}
out:
	if (rv != 0)
		cmd_free(ret);
	return rv;
}

/* Not JSON: the payload is the command, and the etcd codec (src/etcd) reads
 * it when the entry is applied. Only its absence is an error here: the
 * kind byte at least must be there. */
static int decode_v3(bool has_payload, const uint8_t *payload, size_t payload_len, unsigned flags,
		     struct cmd *ret, char *err, size_t err_len)
{
	if (!has_payload || payload_len == 0) {
		snprintf(err, err_len, "%s: no payload", CMD_NAME_V3);
		return -EBADMSG;
	}
	ret->type = CMD_V3;
	if (flags & CMD_DECODE_BORROW) {
		ret->value = cmd_str_ref(payload, payload_len);
		ret->borrowed = 1u << 3;
		return 0;
	}
	int rv = set_copy(&ret->value, (const char *)payload, payload_len);
	if (rv < 0)
		cmd_free(ret);
	return rv;
}

int cmd_decode_flags(const uint8_t *name, size_t name_len, bool has_payload, const uint8_t *payload,
		     size_t payload_len, unsigned flags, struct cmd *ret, char *err, size_t err_len)
{
	enum cmd_type type;
	*ret = (struct cmd){ 0 };
	if (cmd_type_from_name(name, name_len, &type) < 0) {
		snprintf(err, err_len, "raft.Command: Unregistered command type: %.*s", (int)name_len,
			 (const char *)name);
		return -EBADMSG;
	}
	/* A nop never decodes its payload; other commands with no payload keep
	 * their zero values, as goraft's newCommand does. */
	if (type == CMD_V3)
		return decode_v3(has_payload, payload, payload_len, flags, ret, err, err_len);
	if (!has_payload) {
		ret->type = type;
		return 0;
	}
	return decode_json(type, payload, payload_len, flags, ret, err, err_len);
}

int cmd_decode(const uint8_t *name, size_t name_len, bool has_payload, const uint8_t *payload,
	       size_t payload_len, struct cmd *ret, char *err, size_t err_len)
{
	return cmd_decode_flags(name, name_len, has_payload, payload, payload_len, 0, ret, err, err_len);
}

/* --- encoding: Go's json.Encoder ---------------------------------------- */

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
	if (cmd->type == CMD_V3)
		return cmd->value.len;
	return cmd->type == CMD_NOP ? 0 : json_command(cmd, NULL);
}

void cmd_json_encode(const struct cmd *cmd, uint8_t *out)
{
	if (cmd->type == CMD_V3) {
		if (cmd->value.len)
			memcpy(out, cmd->value.ptr, cmd->value.len);
	} else if (cmd->type != CMD_NOP) {
		json_command(cmd, out);
	}
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
		cmd_json_encode(cmd, p);
		p += json_len;
	}
	return (long)(p - out);
}
