/* src/raftctl/raftctl_logs.c — `raftctl logs [NODE]`: raftd's events from the
 * journal, as one timeline.
 *
 * raftd sends each event as a journal entry with a MESSAGE_ID (src/raftd/log.h,
 * units/raftd.catalog) and the fields RAFT_NODE, RAFT_TERM, RAFT_ROLE,
 * RAFT_LEADER, and RAFT_INDEX/RAFT_PEER where they apply. This reads them
 * through sd-journal with matches on MESSAGE_ID (and RAFT_NODE), so the
 * journal does the filtering. Journals copied from several machines can be
 * read together (--file, repeated, or --directory): sd-journal interleaves
 * them by time, which gives the cluster's timeline in one listing.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "base/journal.h"
#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"

static const struct event {
	const char *name;
	const char *id;
	const char *group;
} events[] = {
	{ "started", LOG_ID_STARTED, "lifecycle" },
	{ "stopping", LOG_ID_STOPPING, "lifecycle" },
	{ "leader-elected", LOG_ID_LEADER_ELECTED, "election" },
	{ "term-changed", LOG_ID_TERM_CHANGED, "election" },
	{ "member-joined", LOG_ID_MEMBER_JOINED, "membership" },
	{ "member-left", LOG_ID_MEMBER_LEFT, "membership" },
	{ "removed", LOG_ID_REMOVED, "membership" },
	{ "snapshot-taken", LOG_ID_SNAPSHOT_TAKEN, "snapshot" },
	{ "snapshot-installed", LOG_ID_SNAPSHOT_INSTALLED, "snapshot" },
	{ "wal-recovered", LOG_ID_WAL_RECOVERED, "wal" },
	{ "wal-truncated", LOG_ID_WAL_TRUNCATED, "wal" },
	{ "wal-failed", LOG_ID_WAL_FAILED, "wal" },
	{ "wal-stalled", LOG_ID_WAL_STALLED, "wal" },
	{ "wal-stall-ended", LOG_ID_WAL_STALL_ENDED, "wal" },
	{ "peer-unreachable", LOG_ID_PEER_UNREACHABLE, "peer" },
	{ "peer-back", LOG_ID_PEER_BACK, "peer" },
	{ "no-tls", LOG_ID_NO_TLS, "security" },
	{ "peer-refused", LOG_ID_PEER_REFUSED, "security" },
};
#define N_EVENTS (sizeof(events) / sizeof(events[0]))

static void usage(FILE *out)
{
	fputs("usage: raftctl logs [NODE] [--since TIME] [--until TIME] [--follow] [-n N]\n"
	      "                    [--event TYPE[,TYPE...]] [--all] [--file FILE]... [--directory DIR]\n"
	      "\n"
	      "raftd's events from the journal, oldest first: time, node, event, term,\n"
	      "message. NODE limits them to one node (its name, RAFT_NODE).\n"
	      "  --since, --until TIME  YYYY-MM-DD[ HH:MM[:SS]], @UNIX_SECONDS, today,\n"
	      "                        yesterday, or a duration ago: -10m, 2h (s, m, h, d)\n"
	      "  -f, --follow          keep printing new events\n"
	      "  -n, --lines N         only the last N events (with --follow default 10)\n"
	      "  --event TYPE          these events only; TYPE is an event or a group:\n"
	      "                        election (leader-elected, term-changed), membership\n"
	      "                        (member-joined, member-left, removed), snapshot\n"
	      "                        (snapshot-taken, snapshot-installed), wal (wal-recovered,\n"
	      "                        wal-truncated, wal-failed, wal-stalled,\n"
	      "                        wal-stall-ended), peer (peer-unreachable,\n"
	      "                        peer-back), security (no-tls, peer-refused),\n"
	      "                        lifecycle (started, stopping)\n"
	      "  --all                 every raftd message, events or not\n"
	      "  --file FILE, --directory DIR  read these journal files (e.g. copied from\n"
	      "                        each node) instead of this machine's journal\n"
	      "-o json prints one JSON object per line. Exit 1 when there is no journal, or it\n"
	      "holds no entry of raftd at all (filters that match nothing are no error).\n",
	      out);
}

/* The value of FIELD in the current entry, copied into buf ("" if none). */
static const char *field(sd_journal *j, const char *name, char *buf, size_t cap)
{
	const void *d;
	size_t l, nl = strlen(name);
	buf[0] = '\0';
	if (sd_journal_get_data(j, name, &d, &l) < 0 || l <= nl)
		return buf;
	l -= nl + 1;
	if (l >= cap)
		l = cap - 1;
	memcpy(buf, (const char *)d + nl + 1, l);
	buf[l] = '\0';
	return buf;
}

static const char *event_name(const char *id)
{
	for (size_t i = 0; i < N_EVENTS; i++)
		if (!strcmp(events[i].id, id))
			return events[i].name;
	return "message";
}

static int print_entry(sd_journal *j)
{
	char node[128], term[32], role[32], leader[128], id[64], msg[2048], idx[32], peer[128], prio[8];
	uint64_t usec;
	if (sd_journal_get_realtime_usec(j, &usec) < 0)
		return 0;
	field(j, "RAFT_NODE", node, sizeof(node));
	field(j, "RAFT_TERM", term, sizeof(term));
	field(j, "RAFT_ROLE", role, sizeof(role));
	field(j, "RAFT_LEADER", leader, sizeof(leader));
	field(j, "MESSAGE_ID", id, sizeof(id));
	field(j, "MESSAGE", msg, sizeof(msg));
	field(j, "RAFT_INDEX", idx, sizeof(idx));
	field(j, "RAFT_PEER", peer, sizeof(peer));
	field(j, "PRIORITY", prio, sizeof(prio));
	const char *ev = event_name(id);
	time_t secs = (time_t)(usec / 1000000);
	struct tm tm;
	char when[64], zone[8];
	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	char stamp[96];
	snprintf(stamp, sizeof(stamp), "%s.%03u%s", when, (unsigned)(usec / 1000 % 1000), zone);
	if (raftctl_g.json) {
		json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s}", "time", stamp, "realtime_usec", (json_int_t)usec,
				      "node", node, "event", ev, "message", msg);
		if (!o)
			return 1;
		if (term[0])
			json_object_set_new(o, "term", json_integer((json_int_t)strtoull(term, NULL, 10)));
		if (role[0])
			json_object_set_new(o, "role", json_string(role));
		if (leader[0])
			json_object_set_new(o, "leader", json_string(leader));
		if (idx[0])
			json_object_set_new(o, "index", json_integer(strtoll(idx, NULL, 10)));
		if (peer[0])
			json_object_set_new(o, "peer", json_string(peer));
		if (prio[0])
			json_object_set_new(o, "priority", json_integer(atoi(prio)));
		char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (!s)
			return 1;
		puts(s);
		free(s);
	} else {
		printf("%s  %-8s  %-18s  term %-4s  %s\n", stamp, node[0] ? node : "-", ev, term[0] ? term : "-", msg);
	}
	return 0;
}

/* TIME → microseconds since the epoch (see usage). */
static int parse_time(const char *s, uint64_t *ret)
{
	time_t now = time(NULL);
	struct tm tm;
	long long ms;
	char buf[64];

	if (!strcmp(s, "now")) {
		*ret = (uint64_t)now * 1000000;
		return 0;
	}
	if (!strcmp(s, "today") || !strcmp(s, "yesterday")) {
		localtime_r(&now, &tm);
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		if (s[0] == 'y')
			tm.tm_mday--;
		*ret = (uint64_t)mktime(&tm) * 1000000;
		return 0;
	}
	if (s[0] == '@') {
		unsigned long long v;
		if (raftctl_parse_u64(s + 1, &v) < 0)
			return -EINVAL;
		*ret = v * 1000000;
		return 0;
	}
	/* "-10m" or "10m ago" */
	snprintf(buf, sizeof(buf), "%s", s[0] == '-' ? s + 1 : s);
	char *ago = strstr(buf, " ago");
	if (ago && !ago[4])
		*ago = '\0';
	if (s[0] == '-' || ago) {
		size_t l = strlen(buf);
		long long mult = 1;
		if (l && buf[l - 1] == 'd') {
			buf[l - 1] = 'h';
			mult = 24;
		}
		if (raftctl_parse_duration_ms(buf, &ms) < 0)
			return -EINVAL;
		ms *= mult;
		*ret = (uint64_t)now * 1000000 - (uint64_t)ms * 1000;
		return 0;
	}
	static const char *const fmts[] = { "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
					    "%Y-%m-%dT%H:%M", "%Y-%m-%d" };
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		const char *end = strptime(s, fmts[i], &tm);
		if (end && !*end) {
			tm.tm_isdst = -1;
			time_t t = mktime(&tm);
			if (t == (time_t)-1)
				return -EINVAL;
			*ret = (uint64_t)t * 1000000;
			return 0;
		}
	}
	return -EINVAL;
}

/* Adds TYPE (an event, a group, or a comma list) to sel; -EINVAL if unknown. */
static int select_events(const char *list, bool *sel)
{
	char copy[512], *save = NULL;
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		bool found = false;
		for (size_t i = 0; i < N_EVENTS; i++) {
			/* the last word also names an event: "elected", "joined" */
			size_t nl = strlen(events[i].name), tl = strlen(t);
			if (!strcmp(t, events[i].name) || !strcmp(t, events[i].group) ||
			    (tl >= 4 && tl < nl && events[i].name[nl - tl - 1] == '-' &&
			     !strcmp(events[i].name + nl - tl, t))) {
				sel[i] = true;
				found = true;
			}
		}
		if (!found)
			return -EINVAL;
	}
	return 0;
}

/* Whether any entry is raftd's at all: nothing selected may mean that the
 * filters matched nothing (fine) or that raftd never logged here (an error). */
static bool has_raftd_entries(sd_journal *j)
{
	sd_journal_flush_matches(j);
	if (sd_journal_add_match(j, "SYSLOG_IDENTIFIER=raftd", 0) < 0)
		return true; /* cannot tell: do not claim there is none */
	sd_journal_seek_head(j);
	return sd_journal_next(j) != 0;
}

int raftctl_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' }, { "until", required_argument, NULL, 'U' },
		{ "follow", no_argument, NULL, 'f' },      { "lines", required_argument, NULL, 'n' },
		{ "event", required_argument, NULL, 'e' }, { "all", no_argument, NULL, 'a' },
		{ "file", required_argument, NULL, 'F' },  { "directory", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
	};
	bool sel[N_EVENTS] = { false }, any_sel = false, follow = false, all = false;
	uint64_t since = 0, until = UINT64_MAX;
	long long lines = -1;
	const char **files = calloc((size_t)argc + 1, sizeof(char *));
	const char *dir = NULL;
	size_t n_files = 0;
	int c, rv;

	if (!files)
		return raftctl_fail("logs", "out of memory");
	optind = 1;
	while ((c = getopt_long(argc, argv, "fn:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'U':
			if (parse_time(optarg, c == 's' ? &since : &until) < 0) {
				free(files);
				return raftctl_usage_error("logs", "bad time '%s'", optarg);
			}
			break;
		case 'f': follow = true; break;
		case 'n': {
			unsigned long long v;
			if (raftctl_parse_u64(optarg, &v) < 0) {
				free(files);
				return raftctl_usage_error("logs", "bad --lines '%s'", optarg);
			}
			lines = (long long)v;
			break;
		}
		case 'e':
			if (select_events(optarg, sel) < 0) {
				free(files);
				return raftctl_usage_error("logs", "unknown event type '%s'", optarg);
			}
			any_sel = true;
			break;
		case 'a': all = true; break;
		case 'F': files[n_files++] = optarg; break;
		case 'D': dir = optarg; break;
		case 'h': usage(stdout); free(files); return 0;
		default: free(files); return raftctl_usage_error("logs", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1 || (dir && n_files)) {
		free(files);
		return raftctl_usage_error("logs", argc - optind > 1 ? "at most one NODE" : "--file or --directory, not both");
	}
	if (all && any_sel) {
		free(files);
		return raftctl_usage_error("logs", "--all or --event, not both");
	}
	const char *node = argc - optind == 1 ? argv[optind] : NULL;
	if (follow && lines < 0 && !since)
		lines = 10;

	sd_journal *j = NULL;
	if (n_files)
		rv = sd_journal_open_files(&j, files, 0);
	else if (dir)
		rv = sd_journal_open_directory(&j, dir, 0);
	else
		rv = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
	free(files);
	if (rv < 0)
		return raftctl_fail("logs", "cannot open the journal%s%s: %s", dir ? " in " : "", dir ? dir : "",
				    strerror(-rv));
	/* Without journald (a container, raftd under another supervisor) the
	 * journal opens fine but empty: say so instead of an empty timeline
	 * that reads as "nothing happened". */
	uint64_t usage = 0;
	if (sd_journal_get_usage(j, &usage) >= 0 && usage == 0) {
		sd_journal_close(j);
		if (dir)
			return raftctl_fail("logs", "no journal files in %s", dir);
		return raftctl_fail("logs", "no journal on this machine (journald is not running or keeps "
					    "nothing in /var/log/journal or /run/log/journal); raftd then logs to "
					    "stderr: read that, or give copied journals with --file/--directory");
	}
	/* same field: OR; another field: AND */
	if (all) {
		rv = sd_journal_add_match(j, "SYSLOG_IDENTIFIER=raftd", 0);
	} else {
		rv = 0;
		for (size_t i = 0; i < N_EVENTS && rv >= 0; i++) {
			if (any_sel && !sel[i])
				continue;
			char m[64];
			snprintf(m, sizeof(m), "MESSAGE_ID=%s", events[i].id);
			rv = sd_journal_add_match(j, m, 0);
		}
	}
	if (rv >= 0 && node) {
		char m[256];
		snprintf(m, sizeof(m), "RAFT_NODE=%s", node);
		rv = sd_journal_add_match(j, m, 0);
	}
	if (rv < 0) {
		sd_journal_close(j);
		return raftctl_fail("logs", "journal match: %s", strerror(-rv));
	}

	/* where to start: the last N entries, or the first since TIME */
	bool have_current = false;
	if (lines >= 0) {
		long long back = 0;
		sd_journal_seek_tail(j);
		while (back < lines && sd_journal_previous(j) > 0)
			back++;
		have_current = back > 0; /* on the oldest of them */
	} else if (since) {
		sd_journal_seek_realtime_usec(j, since);
	} else {
		sd_journal_seek_head(j);
	}

	unsigned long long printed = 0;
	for (;;) {
		rv = have_current ? 1 : sd_journal_next(j);
		have_current = false;
		if (rv < 0) {
			sd_journal_close(j);
			return raftctl_fail("logs", "reading the journal: %s", strerror(-rv));
		}
		if (rv == 0) {
			if (fflush(stdout)) {
				sd_journal_close(j);
				return 1;
			}
			if (!follow)
				break;
			rv = sd_journal_wait(j, (uint64_t)-1);
			if (rv < 0) {
				sd_journal_close(j);
				return raftctl_fail("logs", "waiting for the journal: %s", strerror(-rv));
			}
			continue;
		}
		uint64_t u;
		if (sd_journal_get_realtime_usec(j, &u) < 0 || u < since)
			continue;
		if (u > until) {
			if (follow)
				continue;
			break;
		}
		if (print_entry(j))
			break;
		printed++;
	}
	if (!printed && !follow && !has_raftd_entries(j)) {
		sd_journal_close(j);
		return raftctl_fail("logs", "the journal%s holds no entries of raftd (SYSLOG_IDENTIFIER=raftd): "
					    "raftd has not run under journald here",
				    n_files || dir ? " read" : " of this machine");
	}
	sd_journal_close(j);
	return fflush(stdout) ? 1 : 0;
}
