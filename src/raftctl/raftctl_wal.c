/* src/raftctl/raftctl_wal.c — `raftctl wal`: a node's write-ahead log, offline.
 *
 *   raftctl wal dump [--json] [--from N] [--to N] DIR
 *       one line per entry: index, term, command name, size of the stored
 *       LogEntry, and the command body made printable; --json (or -o json)
 *       gives one JSON object per line instead.
 *   raftctl wal verify DIR
 *       checks every record (CRC, index sequence, segment headers, and that
 *       each entry is a well-formed goraft LogEntry matching its record) and
 *       prints a summary (-o json: one object). Exit 1 on corruption, naming
 *       file and offset.
 *
 * DIR is the WAL directory or a node's data directory (whose wal/ is used);
 * a directory that is neither is refused rather than read as an empty log.
 *
 * Both open the WAL read-only: nothing is written, truncated or deleted,
 * even when the last segment has a torn tail (it is only reported), so they
 * are safe on the directory of a running or crashed node.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/wire.h"
#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_wal.h"
#include "wal/wal.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: raftctl wal dump [--json] [--from N] [--to N] DIR\n"
		     "       raftctl wal verify DIR\n"
		     "DIR: a WAL directory, or a node's data directory (its wal/ is read).\n"
		     "-o json (or dump --json): dump one object per entry a line, verify one object.\n");
}

static bool has_wal_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		found = !strcmp(de->d_name, "meta") || (l > 4 && !strcmp(de->d_name + l - 4, ".seg"));
	}
	closedir(d);
	return found;
}

/* Finds the log in dir itself or in a data directory's wal/. Without this an
 * empty directory opens as an empty log, and verify of a data directory
 * passed where the wal/ below it was meant reported success. */
static int find_wal_dir(const char *dir, char *buf, size_t len, const char *cmd)
{
	struct stat st;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		int e = errno;
		fprintf(stderr, "raftctl wal %s: %s: %s\n", cmd, dir,
			stat(dir, &st) < 0 ? strerror(e) : "not a directory");
		return -ENOENT;
	}
	if (has_wal_files(dir)) {
		raftctl_setf(buf, len, "%s", dir);
		return 0;
	}
	raftctl_setf(buf, len, "%s/wal", dir);
	if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	fprintf(stderr,
		"raftctl wal %s: %s holds no write-ahead log (no segments, no meta, no wal/ "
		"directory): give a node's data directory or its wal/\n",
		cmd, dir);
	return -ENOENT;
}

static int open_ro(const char *dir, struct wal **ret, struct wal_recovery *rec, const char *cmd)
{
	struct wal_config cfg = { .dir = dir, .readonly = true };
	struct wal_error err;
	char msg[512];
	int rv = wal_open(&cfg, ret, rec, &err);

	if (rv < 0) {
		wal_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "raftctl wal %s: %s: %s\n", cmd, dir, msg);
	}
	return rv;
}

/* Command bodies are JSON text in goraft, but the log may hold anything:
 * escape what a terminal would not show as is. */
static void print_printable(FILE *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\')
			fputs("\\\\", out);
		else if (p[i] == '\n')
			fputs("\\n", out);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], out);
		else
			fprintf(out, "\\x%02x", p[i]);
	}
}

static int dump_entry(const struct wal_entry *e, bool json)
{
	struct wire_log_entry le;
	struct wire_error werr;
	char msg[256];

	if (wire_decode_log_entry(e->data, e->len, &le, &werr) < 0) {
		wire_error_format(&werr, msg, sizeof(msg));
		fprintf(stderr, "raftctl wal dump: entry %" PRIu64 ": %s\n", e->index, msg);
		return -EBADMSG;
	}
	if (json) {
		json_t *o = json_pack("{s:I, s:I, s:s%, s:I}", "index", (json_int_t)e->index, "term",
				      (json_int_t)e->term, "command", (const char *)le.command_name.ptr,
				      le.command_name.len, "size", (json_int_t)e->len);
		json_t *body = json_null();
		char *line;
		if (le.has_command) {
			/* Valid UTF-8 (goraft's JSON commands) as a string; anything
			 * else hex-escaped so the line stays valid JSON. */
			body = json_stringn((const char *)le.command.ptr, le.command.len);
			if (!body) {
				char *esc;
				size_t len;
				FILE *m = open_memstream(&esc, &len);
				if (m) {
					print_printable(m, le.command.ptr, le.command.len);
					fclose(m);
					body = json_stringn(esc, len);
					free(esc);
				}
			}
		}
		if (!o || !body || json_object_set_new(o, "body", body) < 0) {
			json_decref(o);
			return -ENOMEM;
		}
		line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (!line)
			return -ENOMEM;
		puts(line);
		free(line);
	} else {
		printf("%" PRIu64 " %" PRIu64 " %.*s %zu ", e->index, e->term,
		       (int)le.command_name.len, (const char *)le.command_name.ptr, e->len);
		if (le.has_command)
			print_printable(stdout, le.command.ptr, le.command.len);
		else
			fputs("-", stdout);
		putchar('\n');
	}
	return 0;
}

static int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long from = 0, to = UINT64_MAX;
	struct wal_recovery rec;
	struct wal *w;
	bool json = raftctl_g.json;
	char dir[4096];
	int c, bad = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'f':
		case 't':
			if (raftctl_parse_u64(optarg, c == 'f' ? &from : &to) < 0) {
				fprintf(stderr, "raftctl wal dump: bad index '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return raftctl_usage_error("wal", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if (find_wal_dir(argv[optind], dir, sizeof(dir), "dump") < 0 || open_ro(dir, &w, &rec, "dump") < 0)
		return 1;
	if (from < wal_first_index(w))
		from = wal_first_index(w);
	if (to > wal_last_index(w))
		to = wal_last_index(w);
	for (uint64_t i = from; i <= to && i >= from; i++) {
		struct wal_entry e;
		if (wal_entry_get(w, i, &e) < 0 || dump_entry(&e, json) < 0)
			bad++;
	}
	wal_close(w);
	if (fflush(stdout) != 0)
		return 1;
	return bad ? 1 : 0;
}

static int print_verify_json(const char *dir, const struct wal_recovery *rec, uint64_t bad)
{
	json_t *torn = rec->torn ? json_pack("{s:s, s:I, s:I}", "file", rec->torn_file, "offset",
					     (json_int_t)rec->torn_offset, "bytes", (json_int_t)rec->torn_bytes)
				 : json_null();
	json_t *o = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:s?, s:o, s:i, s:I, s:b}", "dir", dir,
			      "segments", (int)rec->segments, "first_index",
			      (json_int_t)(rec->entries ? rec->first_index : 0), "last_index",
			      (json_int_t)(rec->entries ? rec->last_index : 0), "entries", (json_int_t)rec->entries,
			      "record_bytes", (json_int_t)rec->bytes, "term", (json_int_t)rec->term, "voted_for",
			      rec->voted_for[0] ? rec->voted_for : NULL, "torn_tail", torn, "stale_files",
			      (int)rec->stale_files, "bad_entries", (json_int_t)bad, "ok", !bad);
	char *line = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!line)
		return raftctl_fail("wal", "out of memory");
	puts(line);
	free(line);
	if (fflush(stdout) != 0)
		return 1;
	return bad ? 1 : 0;
}

static int cmd_verify(int argc, char **argv)
{
	struct wal_recovery rec;
	struct wal *w;
	uint64_t bad = 0;
	char dir[4096];

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	/* Opening checks every record's CRC, the index sequence and the
	 * segment headers; it fails naming file and offset. */
	if (find_wal_dir(argv[1], dir, sizeof(dir), "verify") < 0 || open_ro(dir, &w, &rec, "verify") < 0)
		return 1;
	for (uint64_t i = rec.first_index; i <= rec.last_index; i++) {
		struct wal_entry e;
		struct wire_log_entry le;
		struct wire_error werr;
		char msg[256];
		if (wal_entry_get(w, i, &e) < 0) {
			fprintf(stderr, "raftctl wal verify: entry %" PRIu64 " unreadable\n", i);
			bad++;
		} else if (wire_decode_log_entry(e.data, e.len, &le, &werr) < 0) {
			wire_error_format(&werr, msg, sizeof(msg));
			fprintf(stderr, "raftctl wal verify: entry %" PRIu64 ": %s\n", i, msg);
			bad++;
		} else if (le.index != i || le.term != e.term) {
			fprintf(stderr,
				"raftctl wal verify: entry %" PRIu64 " (term %" PRIu64
				") holds a LogEntry with index %" PRIu64 " term %" PRIu64 "\n",
				i, e.term, le.index, le.term);
			bad++;
		}
	}
	wal_close(w);
	if (raftctl_g.json)
		return print_verify_json(dir, &rec, bad);
	printf("%s: %u segment%s, ", dir, rec.segments, rec.segments == 1 ? "" : "s");
	if (rec.entries)
		printf("entries %" PRIu64 "..%" PRIu64 " (%" PRIu64 "), ", rec.first_index,
		       rec.last_index, rec.entries);
	else
		printf("no entries, ");
	printf("%" PRIu64 " record bytes checked\n", rec.bytes);
	printf("term %" PRIu64 ", voted for %s%s%s\n", rec.term, rec.voted_for[0] ? "\"" : "",
	       rec.voted_for[0] ? rec.voted_for : "nobody", rec.voted_for[0] ? "\"" : "");
	if (rec.torn)
		printf("torn tail: %s offset %" PRIu64 ", %" PRIu64
		       " bytes after the last whole record (an interrupted write; the next "
		       "read-write open cuts it off)\n",
		       rec.torn_file, rec.torn_offset, rec.torn_bytes);
	if (rec.stale_files)
		printf("%u stale file%s (superseded segments or an unfinished segment; removed at "
		       "the next read-write open)\n",
		       rec.stale_files, rec.stale_files == 1 ? "" : "s");
	if (bad) {
		printf("%" PRIu64 " bad entr%s\n", bad, bad == 1 ? "y" : "ies");
		return 1;
	}
	printf("ok\n");
	return 0;
}

int raftctl_wal(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return cmd_verify(argc - 1, argv + 1);
	fprintf(stderr, "raftctl wal: unknown command '%s' (see raftctl wal --help)\n", argv[1]);
	return 2;
}
