/* proto/command.h — the commands goraft carries in log entries.
 *
 * A LogEntry names its command (CommandName) and carries it as JSON
 * (Command): `write` {"key","value"}, `raft:join` {"name","connectionString"},
 * `raft:leave` {"name"}, and `raft:nop` with no payload at all. Every node
 * stores the leader's bytes, so what matters is that a Go node and a raftd
 * node read the same bytes the same way:
 *
 * - Encoding is Go's json.Encoder, byte for byte: compact, keys in struct
 *   order, a trailing newline, <>& escaped as \u003c \u003e \u0026, control
 *   characters as \n \r \t or \u00XX, U+2028/U+2029 escaped, and invalid UTF-8
 *   replaced by U+FFFD (so, as in goraft raftd, values are text, not binary).
 * - Decoding is Go's json.Decoder into the command struct: the first JSON
 *   value only, keys matched case-insensitively, unknown keys ignored, a
 *   missing key reads as "", a present but empty payload is an error, and a
 *   non-string value for a string field is an error.
 *
 * raftd adds commands of its own, `raftd:delete` {"key"} and `raftd:learner`
 * {"name","connectionString"} (a member that does not vote until a
 * raft:join of its name promotes it), encoded by the same rules. goraft has
 * not registered them: a goraft node would fail the entry (Success=false)
 * and never apply it, so they may only be in the log of a cluster with no
 * goraft member, ever (cmd_goraft_can_apply()).
 *
 * `raftd:v3` is raftd's too, and its Command is not JSON but the raw bytes
 * of an etcd v3 write: one kind byte, then the etcd request message as the
 * client sent it (src/etcd/etcd.h reads and writes them). cmd_decode() hands
 * the payload over as cmd.value without looking into it (borrowed with
 * CMD_DECODE_BORROW, copied otherwise); a missing or empty one is -EBADMSG.
 * cmd_json_size() and cmd_json_encode() give cmd.value as it is, so
 * cmd_entry_encode() writes a raftd:v3 entry like any other.
 *
 * Decoded strings are malloc'ed copies (the JSON escapes must be undone);
 * cmd_free() releases them. cmd_decode_flags(CMD_DECODE_BORROW) may instead
 * point them into the payload.
 *
 * Decoding has a fast path for the flat object of strings that goraft and
 * raftd write, and falls back to jansson for anything else; both give the
 * same result (proto/command.c).
 */
#ifndef RAFTD_PROTO_COMMAND_H
#define RAFTD_PROTO_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMD_NAME_NOP "raft:nop"
#define CMD_NAME_JOIN "raft:join"
#define CMD_NAME_LEAVE "raft:leave"
#define CMD_NAME_WRITE "write"
#define CMD_NAME_DELETE "raftd:delete"
#define CMD_NAME_LEARNER "raftd:learner"
#define CMD_NAME_V3 "raftd:v3"

enum cmd_type {
	CMD_NOP,
	CMD_JOIN,
	CMD_LEAVE,
	CMD_WRITE,
	CMD_DELETE, /* raftd-only */
	CMD_LEARNER, /* raftd-only: a non-voting member, promoted by a raft:join */
	CMD_V3, /* raftd-only: an etcd v3 write; its payload is not JSON (below) */
};

struct cmd_str {
	char *ptr; /* NUL-terminated for convenience; may also hold NULs */
	size_t len;
};

struct cmd {
	enum cmd_type type;
	/* join, learner: name, connection_string; leave: name; write: key,
	 * value; delete: key; v3: value (the raw payload) */
	struct cmd_str name;
	struct cmd_str connection_string;
	struct cmd_str key;
	struct cmd_str value;
	/* Strings that point into a decoded payload instead of being owned:
	 * bit 0 name, 1 connection_string, 2 key, 3 value. 0 when the strings
	 * are malloc'ed or when the caller built the command itself. */
	unsigned borrowed;
};

/* The command type for a CommandName; -ENOENT for a name neither goraft nor
 * raftd has registered ("raft.Command: Unregistered command type"). */
int cmd_type_from_name(const uint8_t *name, size_t len, enum cmd_type *ret);
const char *cmd_type_name(enum cmd_type type);
/* Whether a goraft raftd node can apply an entry with this CommandName:
 * false for raftd's own commands and for unregistered names. */
bool cmd_goraft_can_apply(const uint8_t *name, size_t len);
/* Whether an entry with this CommandName may be in the log a goraft node
 * gets: it can apply it, or failing it (docs/goraft-protocol.md §4.3)
 * changes nothing that node holds. raftd:learner is such an entry: to a
 * goraft node the learner is not a member until the raft:join that
 * promotes it, and a learner counts for nothing. */
bool cmd_goraft_may_get(const uint8_t *name, size_t len);

/* Decodes a LogEntry's command. has_payload is LogEntry.Command's presence.
 * Returns 0, or -EBADMSG with a one-line reason in err (goraft would fail
 * to apply the entry). *ret is zeroed first; release it with cmd_free(). */
int cmd_decode(const uint8_t *name, size_t name_len, bool has_payload, const uint8_t *payload,
	       size_t payload_len, struct cmd *ret, char *err, size_t err_len);
/* Frees the strings cmd owns (not the borrowed ones) and zeroes it. */
void cmd_free(struct cmd *cmd);

/* Whether s is valid UTF-8 (no overlong forms, surrogates or code points
 * past U+10FFFF): what Go's JSON encoder keeps as it is. It writes U+FFFD
 * for every other byte, so two such strings could become one. */
bool cmd_utf8_valid(const void *s, size_t len);

/* cmd_decode() with flags:
 * - CMD_DECODE_BORROW: a string without escapes (and a missing one, "") is
 *   not copied but points into payload (or a static ""), NOT NUL-terminated;
 *   cmd->borrowed says which. The command is then valid only while payload
 *   is. For applying the log, where a 64 KiB value is then copied once, into
 *   the map.
 * - CMD_DECODE_JANSSON: jansson only; CMD_DECODE_FAST_ONLY: the fast path
 *   only, returning CMD_DECODE_FALLBACK (1, *ret freed) where it would hand
 *   over to jansson. For the tests that hold the two against each other. */
#define CMD_DECODE_BORROW 0x1u
#define CMD_DECODE_JANSSON 0x2u
#define CMD_DECODE_FAST_ONLY 0x4u
#define CMD_DECODE_FALLBACK 1
int cmd_decode_flags(const uint8_t *name, size_t name_len, bool has_payload, const uint8_t *payload,
		     size_t payload_len, unsigned flags, struct cmd *ret, char *err, size_t err_len);

/* Exact size of the JSON payload (trailing newline included) for a command,
 * and the payload itself: writes exactly cmd_json_size() bytes to out. For
 * raftd:v3, cmd->value as it is. */
size_t cmd_json_size(const struct cmd *cmd);
void cmd_json_encode(const struct cmd *cmd, uint8_t *out);

/* A whole LogEntry for cmd at (index, term), encoded in one pass into out:
 * the JSON goes straight to its place in the entry, so the leader encodes an
 * entry once, e.g. right into a WAL batch buffer. Returns the size written,
 * or -ENOSPC when cap < cmd_entry_size(). A nop has no Command field. */
size_t cmd_entry_size(uint64_t index, uint64_t term, const struct cmd *cmd);
long cmd_entry_encode(uint64_t index, uint64_t term, const struct cmd *cmd, uint8_t *out, size_t cap);

/* Borrow strings without copying, for building commands to encode. */
static inline struct cmd_str cmd_str_ref(const void *ptr, size_t len)
{
	return (struct cmd_str){ (char *)ptr, len };
}

#endif
