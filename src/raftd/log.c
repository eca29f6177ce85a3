/* src/raftd/log.c — see log.h. */
#include "src/raftd/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

static struct {
	char node[64];
	int max_priority;
	bool journal;
	uint64_t term;
	char role[16];
	char leader[64];
} lg = { .node = "raftd", .max_priority = LOG_INFO };

/* systemd sets JOURNAL_STREAM=dev:ino of the stream it connected to our
 * stderr; only then is stderr the journal (a redirect would change it). */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *node, int max_priority)
{
	snprintf(lg.node, sizeof(lg.node), "%s", node ? node : "raftd");
	lg.max_priority = max_priority;
	lg.journal = stderr_is_journal();
}

void log_set_state(uint64_t term, const char *role, const char *leader)
{
	lg.term = term;
	snprintf(lg.role, sizeof(lg.role), "%s", role ? role : "");
	snprintf(lg.leader, sizeof(lg.leader), "%s", leader ? leader : "");
}

bool log_enabled(int priority)
{
	return priority <= lg.max_priority;
}

static const char *prio_name(int p)
{
	switch (p) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	default: return "debug";
	}
}

#define MAX_FIELDS 16

/* __FILE__ of a VPATH build starts with the way back to the sources. */
static const char *source_path(const char *file)
{
	while (!strncmp(file, "../", 3))
		file += 3;
	while (!strncmp(file, "./", 2))
		file += 2;
	return file;
}

void log_msg_at(const char *file, int line, const char *func, int priority, const char *id, const char *fields,
		const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!log_enabled(priority))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!lg.journal) {
		fprintf(stderr, "raftd[%s] %s: %s\n", lg.node, prio_name(priority), msg);
		return;
	}

	char buf[8][1100];
	struct iovec iov[MAX_FIELDS];
	int n = 0;
	snprintf(buf[0], sizeof(buf[0]), "MESSAGE=%s", msg);
	snprintf(buf[1], sizeof(buf[1]), "PRIORITY=%d", priority);
	snprintf(buf[2], sizeof(buf[2]), "RAFT_NODE=%s", lg.node);
	snprintf(buf[3], sizeof(buf[3]), "RAFT_TERM=%llu", (unsigned long long)lg.term);
	snprintf(buf[4], sizeof(buf[4]), "RAFT_ROLE=%s", lg.role);
	snprintf(buf[5], sizeof(buf[5]), "RAFT_LEADER=%s", lg.leader);
	snprintf(buf[6], sizeof(buf[6]), "SYSLOG_IDENTIFIER=raftd");
	for (int i = 0; i < 7; i++)
		iov[n++] = (struct iovec){ buf[i], strlen(buf[i]) };
	if (id) {
		snprintf(buf[7], sizeof(buf[7]), "MESSAGE_ID=%s", id);
		iov[n++] = (struct iovec){ buf[7], strlen(buf[7]) };
	}
	/* extra fields, '\n'-separated, each sent as its own item */
	char extra[1024];
	if (fields) {
		snprintf(extra, sizeof(extra), "%s", fields);
		for (char *s = extra, *nl; s && *s && n < MAX_FIELDS; s = nl) {
			nl = strchr(s, '\n');
			if (nl)
				*nl++ = '\0';
			iov[n++] = (struct iovec){ s, strlen(s) };
		}
	}
	/* the caller's location, not this file's (sd_journal_sendv() is a
	 * macro that would name the line below) */
	char code_file[512], code_line[32];
	snprintf(code_file, sizeof(code_file), "CODE_FILE=%s", source_path(file));
	snprintf(code_line, sizeof(code_line), "CODE_LINE=%d", line);
	if (sd_journal_sendv_with_location(code_file, code_line, func, iov, n) < 0)
		fprintf(stderr, "raftd[%s] %s: %s\n", lg.node, prio_name(priority), msg);
}
