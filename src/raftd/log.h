/* src/raftd/log.h — the daemon's log: structured journald entries or stderr
 * lines.
 *
 * Under journald (JOURNAL_STREAM names our stderr, as systemd sets it for a
 * service) every message is one journal entry sent with sd_journal_send():
 * MESSAGE, PRIORITY, the node's RAFT_NODE, RAFT_TERM, RAFT_ROLE and
 * RAFT_LEADER as they are when the message is logged, a MESSAGE_ID for the
 * events of base/journal.h (described in units/raftd.catalog), and any extra
 * FIELD=value pairs the caller adds (RAFT_INDEX, RAFT_PEER...). Elsewhere a
 * readable line on stderr: "raftd[n1] info: became leader (term 3)".
 */
#ifndef RAFTD_SRC_RAFTD_LOG_H
#define RAFTD_SRC_RAFTD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "base/journal.h"

/* Messages above this syslog priority (LOG_DEBUG is the most) are dropped. */
void log_init(const char *node, int max_priority);
/* The Raft context stamped on every later message. */
void log_set_state(uint64_t term, const char *role, const char *leader);
bool log_enabled(int priority);

/* log_msg(LOG_INFO, LOG_ID_LEADER_ELECTED, "RAFT_INDEX=42", "became leader");
 * fields: NULL or one "FIELD=value" string (journal only; several fields
 * separated by '\n'). id: NULL or a MESSAGE_ID. A macro, so that the
 * entry's CODE_FILE, CODE_LINE and CODE_FUNC name the caller, not log.c. */
#define log_msg(priority, id, fields, ...) \
	log_msg_at(__FILE__, __LINE__, __func__, priority, id, fields, __VA_ARGS__)
void log_msg_at(const char *file, int line, const char *func, int priority, const char *id, const char *fields,
		const char *fmt, ...) __attribute__((format(printf, 7, 8)));

#define log_error(...) log_msg(LOG_ERR, NULL, NULL, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, NULL, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_debug(...) \
	do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, NULL, NULL, __VA_ARGS__); } while (0)

#endif
