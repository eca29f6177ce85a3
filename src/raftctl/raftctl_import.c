/* src/raftctl/raftctl_import.c — `raftctl import-goraft GORAFT_DIR DATA_DIR`.
 *
 * Turns a goraft raftd data directory (docs/goraft-protocol.md §9: `name`,
 * `conf`, `log`, `snapshot/`) into a raftd one, so that a goraft node can be
 * replaced in place: stop the goraft node, import, start raftd on the same
 * host and port with DATA_DIR. DATA_DIR may be GORAFT_DIR itself (the two
 * layouts share only `name`, whose bytes are kept).
 *
 * What is carried over, and why it is enough (§9.6, §9.7):
 * - name: byte for byte (the node keeps its identity in the cluster).
 * - log: every whole record, its LogEntry bytes unchanged, written with the
 *   WAL library into DATA_DIR/wal at the same indexes and terms. Membership
 *   needs nothing more: raftd rebuilds it from the raft:join/raft:leave
 *   entries, as goraft does. A torn last record is left out, as goraft's own
 *   reader cuts it off.
 * - term: goraft stores none; like goraft after a restart, the node starts
 *   at the term of its last entry, having voted for nobody.
 * - commit index: goraft's `conf` holds a lower bound only; raftd learns the
 *   commit index from the leader (or, alone, commits its log itself), so it
 *   is reported, not stored.
 * - snapshots: goraft raftd never takes any (§8.1). A log that starts
 *   after index 1 was compacted by some other goraft application and cannot
 *   be imported without its state machine: refused.
 *
 * The WAL is written to DATA_DIR/wal.import, read back (every record's CRC
 * checked), fsynced and only then renamed to DATA_DIR/wal: an interrupted
 * import leaves no half log that raftd would start from.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/command.h"
#include "proto/wire.h"
#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_cmds.h"
#include "src/raftctl/raftctl_client.h"
#include "base/uring_op.h"
#include "wal/wal.h"

#define CMD "import-goraft"
#define MAX_MEMBERS 256

static void usage(FILE *out)
{
	fputs("usage: raftctl import-goraft [--segment-size BYTES] GORAFT_DIR DATA_DIR\n"
	      "\n"
	      "Turn a goraft raftd data directory (its name, conf and log files) into a\n"
	      "raftd data directory: DATA_DIR/name (the same name) and DATA_DIR/wal (the\n"
	      "same log entries, indexes and terms). DATA_DIR may be GORAFT_DIR itself.\n"
	      "Stop the goraft node first; then start raftd with the same host and port\n"
	      "(printed at the end) and DATA_DIR, and it rejoins the cluster in place.\n"
	      "Refuses a DATA_DIR that already has a raftd log, a name file with another\n"
	      "name, or a compacted goraft log (one that needs a snapshot).\n",
	      out);
}

struct member {
	char *name, *url;
};

struct import {
	const char *src, *dst;
	char *name;
	size_t name_len;
	uint8_t *log;
	size_t log_len;
	long long conf_commit; /* -1: no conf */
	uint64_t first, last, entries, last_term, torn_bytes;
	uint64_t writes, joins, leaves, nops;
	struct member members[MAX_MEMBERS];
	size_t n_members;
	char self_url[RC_URL_MAX];
};

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	size_t len = (size_t)st.st_size;
	uint8_t *p = malloc(len + 1);
	size_t got = 0;
	while (p && got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!p)
		return -ENOMEM;
	p[got] = '\0';
	*ret = p;
	*ret_len = got;
	return 0;
}

static void member_set(struct import *im, const char *name, const char *url, bool leave)
{
	for (size_t i = 0; i < im->n_members; i++) {
		if (strcmp(im->members[i].name, name) != 0)
			continue;
		if (leave) {
			free(im->members[i].name);
			free(im->members[i].url);
			im->members[i] = im->members[--im->n_members];
		}
		return; /* goraft: a repeated join changes nothing */
	}
	if (!leave && im->n_members < MAX_MEMBERS) {
		im->members[im->n_members].name = strdup(name);
		im->members[im->n_members].url = strdup(url ? url : "");
		im->n_members++;
	}
}

/* "%8x\n": the payload length in hex, space- (or zero-) padded to 8. */
static int record_len(const uint8_t *h, size_t *ret)
{
	size_t v = 0;
	bool digits = false;
	if (h[8] != '\n')
		return -EBADMSG;
	for (int i = 0; i < 8; i++) {
		int c = h[i], d;
		if (c == ' ' && !digits)
			continue;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -EBADMSG;
		digits = true;
		v = v * 16 + (size_t)d;
	}
	if (!digits)
		return -EBADMSG;
	*ret = v;
	return 0;
}

/* Walks the log: checks every record, counts, replays membership. Calls fn
 * (when set) for each entry. */
static int walk_log(struct import *im, int (*fn)(void *arg, const struct wire_log_entry *le, const uint8_t *p,
						   size_t n),
		    void *arg)
{
	size_t off = 0;
	uint64_t prev = 0;

	im->entries = im->writes = im->joins = im->leaves = im->nops = 0;
	for (size_t i = 0; i < im->n_members; i++) {
		free(im->members[i].name);
		free(im->members[i].url);
	}
	im->n_members = 0;
	while (off < im->log_len) {
		size_t len;
		struct wire_log_entry le;
		struct wire_error werr;
		if (im->log_len - off < 9 || record_len(im->log + off, &len) < 0 || im->log_len - off - 9 < len ||
		    wire_decode_log_entry(im->log + off + 9, len, &le, &werr) < 0)
			break; /* goraft's reader stops here too (and cuts the file) */
		if (prev && le.index != prev + 1)
			return raftctl_fail(CMD, "%s/log offset %zu: entry %" PRIu64 " follows %" PRIu64
					    " (goraft logs have no gaps)", im->src, off, le.index, prev);
		if (!prev && le.index != 1)
			return raftctl_fail(CMD, "%s/log starts at index %" PRIu64
					    ": compacted by a snapshot, which goraft raftd never takes; not importable",
					    im->src, le.index);
		prev = le.index;
		enum cmd_type t;
		if (cmd_type_from_name(le.command_name.ptr, le.command_name.len, &t) < 0)
			return raftctl_fail(CMD, "%s/log entry %" PRIu64 ": unknown command '%.*s'", im->src,
					    le.index, (int)le.command_name.len, (const char *)le.command_name.ptr);
		if (t == CMD_JOIN || t == CMD_LEAVE) {
			struct cmd c;
			char why[256];
			if (cmd_decode(le.command_name.ptr, le.command_name.len, le.has_command, le.command.ptr,
				       le.command.len, &c, why, sizeof(why)) < 0)
				return raftctl_fail(CMD, "%s/log entry %" PRIu64 ": %s", im->src, le.index, why);
			member_set(im, c.name.ptr, c.connection_string.ptr, t == CMD_LEAVE);
			if (t == CMD_JOIN && c.name.len == im->name_len && !memcmp(c.name.ptr, im->name, im->name_len))
				snprintf(im->self_url, sizeof(im->self_url), "%s", c.connection_string.ptr);
			cmd_free(&c);
			t == CMD_JOIN ? im->joins++ : im->leaves++;
		} else {
			t == CMD_NOP ? im->nops++ : im->writes++;
		}
		if (fn) {
			int rv = fn(arg, &le, im->log + off + 9, len);
			if (rv)
				return rv;
		}
		if (!im->entries)
			im->first = le.index;
		im->last = le.index;
		im->last_term = le.term;
		im->entries++;
		off += 9 + len;
	}
	im->torn_bytes = im->log_len - off;
	return 0;
}

/* --- writing the WAL ---------------------------------------------------------- */

struct writer {
	struct io_uring ring;
	struct wal *w;
	int failed;
	char why[512];
	uint64_t since_flush;
};

static void on_error(void *ctx, const struct wal_error *e)
{
	struct writer *wr = ctx;
	wal_error_format(e, wr->why, sizeof(wr->why));
	wr->failed = e->err ? e->err : -EIO;
}

static int drain(struct writer *wr)
{
	while (wal_busy(wr->w)) {
		struct io_uring_cqe *cqe;
		int rv = io_uring_submit_and_wait(&wr->ring, 1);
		if (rv == -EINTR)
			continue;
		if (rv < 0)
			return rv;
		while (io_uring_peek_cqe(&wr->ring, &cqe) == 0) {
			struct io_uring_cqe c = *cqe;
			io_uring_cqe_seen(&wr->ring, cqe);
			uring_op_dispatch(&c);
		}
	}
	return wr->failed;
}

static int append_one(void *arg, const struct wire_log_entry *le, const uint8_t *p, size_t n)
{
	struct writer *wr = arg;
	int rv = wal_append(wr->w, le->index, le->term, p, n);
	if (rv < 0) {
		snprintf(wr->why, sizeof(wr->why), "append of entry %" PRIu64 ": %s", le->index, strerror(-rv));
		return raftctl_fail(CMD, "%s", wr->why);
	}
	wr->since_flush += n;
	if (wr->since_flush >= (4u << 20)) { /* bound what is gathered in memory */
		wr->since_flush = 0;
		if ((rv = wal_flush(wr->w)) < 0 || (rv = drain(wr)) < 0)
			return raftctl_fail(CMD, "WAL write: %s", wr->why[0] ? wr->why : strerror(-rv));
	}
	return 0;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rv = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rv;
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[4200];
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int write_wal(struct import *im, const char *tmp, uint64_t segment_size)
{
	struct writer wr = { 0 };
	struct wal_error werr;
	struct wal_config cfg = { .dir = tmp, .ring = &wr.ring, .segment_size = segment_size, .ctx = &wr,
				  .on_error = on_error };
	char msg[512];
	int rv = io_uring_queue_init(64, &wr.ring, 0);

	if (rv < 0)
		return raftctl_fail(CMD, "io_uring: %s", strerror(-rv));
	rv = wal_open(&cfg, &wr.w, NULL, &werr);
	if (rv < 0) {
		wal_error_format(&werr, msg, sizeof(msg));
		io_uring_queue_exit(&wr.ring);
		return raftctl_fail(CMD, "%s: %s", tmp, msg);
	}
	rv = walk_log(im, append_one, &wr);
	if (rv == 0 && ((rv = wal_flush(wr.w)) < 0 || (rv = drain(&wr)) < 0))
		rv = raftctl_fail(CMD, "WAL write: %s", wr.why[0] ? wr.why : strerror(-rv));
	/* goraft keeps no term: like goraft, start at the last entry's */
	if (rv == 0 && im->last_term > 0 &&
	    ((rv = wal_meta_set(wr.w, im->last_term, "")) < 0 || (rv = drain(&wr)) < 0))
		rv = raftctl_fail(CMD, "WAL meta: %s", wr.why[0] ? wr.why : strerror(-rv));
	if (rv == 0 && wal_durable_index(wr.w) != im->last)
		rv = raftctl_fail(CMD, "WAL: durable up to %" PRIu64 ", expected %" PRIu64, wal_durable_index(wr.w),
				  im->last);
	if (!wal_busy(wr.w))
		wal_close(wr.w);
	io_uring_queue_exit(&wr.ring);
	if (rv)
		return rv;

	/* read it back: every record's CRC, the index range, the term */
	struct wal_config ro = { .dir = tmp, .readonly = true };
	struct wal_recovery rec;
	struct wal *w;
	if (wal_open(&ro, &w, &rec, &werr) < 0) {
		wal_error_format(&werr, msg, sizeof(msg));
		return raftctl_fail(CMD, "reading back %s: %s", tmp, msg);
	}
	bool ok = rec.entries == im->entries && (!im->entries || (rec.first_index == im->first &&
								   rec.last_index == im->last)) &&
		  rec.term == im->last_term;
	wal_close(w);
	if (!ok)
		return raftctl_fail(CMD, "reading back %s: %" PRIu64 " entries, expected %" PRIu64, tmp, rec.entries,
				    im->entries);
	return 0;
}

static int write_name(const char *dst, const char *name, size_t len)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/name", dst);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rv = write(fd, name, len) == (ssize_t)len && fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rv;
}

static int check_dst(struct import *im, const char *wal_dir)
{
	char p[4200];
	uint8_t *old;
	size_t old_len;
	struct stat st;

	if (mkdir(im->dst, 0700) < 0 && errno != EEXIST)
		return raftctl_fail(CMD, "%s: %s", im->dst, strerror(errno));
	if (stat(wal_dir, &st) == 0)
		return raftctl_fail(CMD, "%s exists: %s already holds a raftd log", wal_dir, im->dst);
	snprintf(p, sizeof(p), "%s/name", im->dst);
	int rv = read_file(p, &old, &old_len);
	if (rv == 0) {
		bool same = old_len == im->name_len && !memcmp(old, im->name, old_len);
		free(old);
		if (!same)
			return raftctl_fail(CMD, "%s holds another node's name", p);
	} else if (rv != -ENOENT) {
		return raftctl_fail(CMD, "%s: %s", p, strerror(-rv));
	}
	return 0;
}

static int print_summary(struct import *im)
{
	struct url u;
	char hint[1024] = "";
	if (im->self_url[0] && url_parse(im->self_url, RC_URL_FORMS, &u) == 0)
		snprintf(hint, sizeof(hint), "raftd -h %s -p %s %s", u.host, u.port, im->dst);
	if (raftctl_g.json) {
		json_t *mem = json_array();
		for (size_t i = 0; i < im->n_members; i++)
			json_array_append_new(mem, json_pack("{s:s, s:s}", "name", im->members[i].name, "url",
							     im->members[i].url));
		json_t *o = json_pack("{s:s, s:s, s:s%, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s}", "from",
				      im->src, "to", im->dst, "name", im->name, im->name_len, "entries",
				      (json_int_t)im->entries, "first_index", (json_int_t)im->first, "last_index",
				      (json_int_t)im->last, "term", (json_int_t)im->last_term, "writes",
				      (json_int_t)im->writes, "joins", (json_int_t)im->joins, "leaves",
				      (json_int_t)im->leaves, "torn_bytes", (json_int_t)im->torn_bytes, "members", mem,
				      "start", hint);
		if (o)
			json_object_set_new(o, "conf_commit_index",
					    im->conf_commit >= 0 ? json_integer(im->conf_commit) : json_null());
		return rc_emit(o);
	}
	printf("imported %s into %s: node %.*s\n", im->src, im->dst, (int)im->name_len, im->name);
	if (im->entries)
		printf("log: entries %" PRIu64 "..%" PRIu64 " (%" PRIu64 " writes, %" PRIu64 " joins, %" PRIu64
		       " leaves, %" PRIu64 " nops), term %" PRIu64 "\n",
		       im->first, im->last, im->writes, im->joins, im->leaves, im->nops, im->last_term);
	else
		printf("log: empty (the node has not joined a cluster)\n");
	if (im->torn_bytes)
		printf("torn tail: %" PRIu64 " bytes after the last whole record left out (goraft drops them too)\n",
		       im->torn_bytes);
	if (im->conf_commit >= 0)
		printf("conf: commit index at least %lld (raftd learns the rest from the leader)\n", im->conf_commit);
	printf("members:");
	for (size_t i = 0; i < im->n_members; i++)
		printf(" %s (%s)", im->members[i].name, im->members[i].url);
	printf("%s\n", im->n_members ? "" : " none");
	if (hint[0])
		printf("start it with: %s\n", hint);
	return fflush(stdout) ? 1 : 0;
}

int raftctl_import_goraft(int argc, char **argv)
{
	static const struct option opts[] = { { "segment-size", required_argument, NULL, 's' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	unsigned long long segment_size = 0;
	struct import im = { .conf_commit = -1 };
	char path[4200], wal_dir[4200], tmp[4200];
	uint8_t *buf;
	size_t len;
	int c, rv;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (raftctl_parse_u64(optarg, &segment_size) < 0 || segment_size % WAL_BLOCK_SIZE ||
			    segment_size < WAL_MIN_SEGMENT_SIZE || segment_size > WAL_MAX_SEGMENT_SIZE)
				return raftctl_usage_error(CMD, "bad --segment-size '%s' (a multiple of 4096, 64K to 1G)",
							   optarg);
			break;
		case 'h': usage(stdout); return 0;
		default: return raftctl_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return raftctl_usage_error(CMD, "needs GORAFT_DIR and DATA_DIR");
	im.src = argv[optind];
	im.dst = argv[optind + 1];

	snprintf(path, sizeof(path), "%s/name", im.src);
	if ((rv = read_file(path, &buf, &len)) < 0)
		return raftctl_fail(CMD, "%s: %s (not a goraft raftd data directory?)", path, strerror(-rv));
	if (!len || len >= 64 || memchr(buf, '\0', len)) {
		free(buf);
		return raftctl_fail(CMD, "%s: not a node name (1 to 63 bytes)", path);
	}
	im.name = (char *)buf;
	im.name_len = len;

	snprintf(path, sizeof(path), "%s/conf", im.src);
	if ((rv = read_file(path, &buf, &len)) == 0) {
		json_error_t je;
		json_t *j = json_loadb((const char *)buf, len, 0, &je);
		free(buf);
		if (!json_is_object(j) || !json_is_integer(json_object_get(j, "commitIndex"))) {
			json_decref(j);
			return raftctl_fail(CMD, "%s: not goraft's {\"commitIndex\":N,\"peers\":[...]}", path);
		}
		im.conf_commit = json_integer_value(json_object_get(j, "commitIndex"));
		json_decref(j);
	} else if (rv != -ENOENT) {
		return raftctl_fail(CMD, "%s: %s", path, strerror(-rv));
	}

	snprintf(path, sizeof(path), "%s/log", im.src);
	if ((rv = read_file(path, &im.log, &im.log_len)) < 0 && rv != -ENOENT)
		return raftctl_fail(CMD, "%s: %s", path, strerror(-rv));
	if (rv == -ENOENT)
		im.log_len = 0;
	/* check it all before touching DATA_DIR */
	if ((rv = walk_log(&im, NULL, NULL)) != 0)
		return rv;
	if (im.conf_commit > 0 && (uint64_t)im.conf_commit > im.last)
		return raftctl_fail(CMD, "%s/conf: commit index %lld beyond the log's last entry %" PRIu64
				    " (the log lost committed entries)", im.src, im.conf_commit, im.last);

	snprintf(wal_dir, sizeof(wal_dir), "%s/wal", im.dst);
	snprintf(tmp, sizeof(tmp), "%s/wal.import", im.dst);
	if ((rv = check_dst(&im, wal_dir)) != 0)
		return rv;
	remove_tree(tmp); /* a previous import that was interrupted */
	if ((rv = write_wal(&im, tmp, segment_size)) != 0) {
		remove_tree(tmp);
		return rv;
	}
	rv = write_name(im.dst, im.name, im.name_len);
	if (rv < 0 && rv != -EEXIST) {
		remove_tree(tmp);
		return raftctl_fail(CMD, "%s/name: %s", im.dst, strerror(-rv));
	}
	if (rename(tmp, wal_dir) < 0) {
		rv = raftctl_fail(CMD, "rename %s to %s: %s", tmp, wal_dir, strerror(errno));
		remove_tree(tmp);
		return rv;
	}
	if ((rv = fsync_path(im.dst)) < 0)
		return raftctl_fail(CMD, "%s: fsync: %s", im.dst, strerror(-rv));
	rv = print_summary(&im);
	for (size_t i = 0; i < im.n_members; i++) {
		free(im.members[i].name);
		free(im.members[i].url);
	}
	free(im.name);
	free(im.log);
	return rv;
}
