/* src/raftd/snapshots.c — snapshots: taken in a forked child for the core
 * or for POST /raftd/snapshot, kept open for followers, downloaded by GET
 * /raftd/snapshot; and the new log after a snapshot from the leader
 * (rebase_wal(), at start-up).
 */
#include "src/raftd/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/raftd/log.h"

#define SNAP_BACKOFF_MIN_MS 1000 /* first wait after a failed snapshot, doubling */
#define SNAP_BACKOFF_MAX_MS 60000

static void snap_fail_later(struct node *n);

/* ---- snapshots ------------------------------------------------------------------------------ */

/* Keeps the snapshot file open for SNAPREC (see snap_state_fd). An open fd
 * still reads the file after a newer snapshot's save deletes it. */
int load_snap_state(struct node *n, raft_index index, raft_term term)
{
	char path[4200];
	int rv = kv_snapdir_path(path, sizeof(path), n->dir_snap, term, index);
	if (rv < 0)
		return rv;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rv = -errno;
		close(fd);
		return rv;
	}
	if (n->snap_state_fd >= 0)
		close(n->snap_state_fd);
	n->snap_state_fd = fd;
	n->snap_state_len = (size_t)st.st_size;
	n->snap_state_index = index;
	return 0;
}

static void reply_snapshot(struct httpd_request *req, raft_index index, raft_term term)
{
	reply_json(req, json_pack("{s:I, s:I}", "index", (json_int_t)index, "term", (json_int_t)term),
		   JSON_COMPACT | JSON_PRESERVE_ORDER);
}

/* No room on the disk for a snapshot: the WAL's spare segments hold the
 * space of segments already compacted away; give it back so that the next
 * attempt (and the compaction after it) can go ahead. */
static void snap_no_space(struct node *n)
{
	int dropped = wal_drop_spares(n->wal);
	if (dropped > 0)
		log_warning("no space for a snapshot: removing %d spare WAL segment%s", dropped,
			    dropped == 1 ? "" : "s");
}

static void on_snap_done(struct loop_poll *poll, int res)
{
	struct node *n = (struct node *)((char *)poll - offsetof(struct node, snap_poll));
	int status = 0;
	(void)res;
	if (n->snap_pid <= 0)
		return;
	if (waitpid(n->snap_pid, &status, WNOHANG) == 0)
		return;
	loop_poll_cancel(&n->loop, &n->snap_poll);
	close(n->snap_pidfd);
	n->snap_pidfd = -1;
	n->snap_pid = 0;
	bool admin = n->snap_admin;
	n->snap_admin = false;
	raft_index idx = n->snap_taking_index;
	raft_term term = n->snap_taking_term;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	char why[128];
	snprintf(why, sizeof(why), "snapshot at index %" PRIu64 " failed: %s", idx,
		 WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "killed");
	if (ok) {
		char field[64];
		snprintf(field, sizeof(field), "RAFT_INDEX=%" PRIu64, idx);
		log_msg(LOG_INFO, LOG_ID_SNAPSHOT_TAKEN, field, "snapshot taken at index %" PRIu64 "%s", idx,
			admin ? " (on request)" : "");
		n->snap_backoff_ms = 0;
		if (idx > n->snap_disk_index) {
			n->snap_prev_index = n->snap_disk_index; /* now the fallback */
			n->snap_disk_index = idx;
			n->snap_disk_term = term;
		}
		/* only the core's own snapshots go to followers: it names them */
		if (!admin && load_snap_state(n, idx, term) < 0)
			log_warning("snapshot at %" PRIu64 ": cannot read it back for followers", idx);
	} else {
		log_error("%s", why);
		if (WIFEXITED(status) && WEXITSTATUS(status) == ENOSPC)
			snap_no_space(n);
	}
	while (n->snap_waits) {
		struct snap_wait *w = n->snap_waits;
		n->snap_waits = w->next;
		if (ok)
			reply_snapshot(w->req, idx, term);
		else
			httpd_reply_text(w->req, 500, why);
		free(w);
	}
	if (admin) {
		if (n->core_snap_blocked) {
			/* the core's request that came meanwhile: it asks again */
			n->core_snap_blocked = false;
			n->snap_failed = true;
		}
		return;
	}
	if (!ok) {
		snap_fail_later(n);
		return;
	}
	struct raft_event ev = { .type = RAFT_EV_SNAPSHOT_TAKEN, .snapshot_taken.index = idx };
	step(n, &ev, NULL);
}

/* Snapshots the map as it is now (its applied index is `index`) in a forked
 * child; on_snap_done() follows. */
static int snap_fork(struct node *n, raft_index index, raft_term term, struct kv_member *members, size_t n_members,
		     bool admin)
{
	struct kv_snapshot_meta meta = { .last_index = index, .last_term = term, .n_members = n_members,
					 .members = members };
	pid_t pid;
#ifdef RAFTD_TEST_HOOKS
	/* a snapshot that cannot start, as when fork or pidfd_open fails */
	if (getenv("RAFTD_TEST_SNAP_FAIL")) {
		int e = strcmp(getenv("RAFTD_TEST_SNAP_FAIL"), "ENOSPC") ? EIO : ENOSPC;
		log_error("snapshot at %" PRIu64 ": %s (RAFTD_TEST_SNAP_FAIL)", index, strerror(e));
		if (e == ENOSPC)
			snap_no_space(n);
		return -e;
	}
#endif
	int rv = kv_snapshot_fork(n->dir_snap, n->kv, &meta, &pid);
	int pidfd = rv == 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	if (rv == 0 && pidfd < 0) {
		rv = -errno;
		waitpid(pid, NULL, 0);
	}
	if (rv < 0) {
		log_error("snapshot at %" PRIu64 ": %s", index, strerror(-rv));
		if (rv == -ENOSPC)
			snap_no_space(n);
		return rv;
	}
	n->snap_pid = pid;
	n->snap_pidfd = pidfd;
	n->snap_admin = admin;
	n->snap_taking_index = index;
	n->snap_taking_term = term;
	loop_poll_start(&n->loop, &n->snap_poll, pidfd, POLLIN, on_snap_done);
	return 0;
}

void take_snapshot(struct node *n, const struct raft_action *a)
{
	struct kv_member members[RAFT_MAX_PEERS];
	size_t k = 0;
	for (size_t i = 0; i < a->take_snapshot.n_members && k < RAFT_MAX_PEERS; i++, k++) {
		members[k].name = cmd_str_ref(a->take_snapshot.members[i].name, strlen(a->take_snapshot.members[i].name));
		members[k].connection_string =
			cmd_str_ref(a->take_snapshot.members[i].url, strlen(a->take_snapshot.members[i].url));
		members[k].learner = a->take_snapshot.members[i].learner;
	}
	if (n->snap_pid > 0 && n->snap_admin) {
		n->core_snap_blocked = true; /* reported when that one is done */
		return;
	}
	if (!n->snap_pid && !n->snap_deferred && kv_applied_index(n->kv) < a->take_snapshot.index &&
	    a->take_snapshot.index <= n->apply_to) {
		/* the map gets there a slice at a time: take it then */
		n->snap_deferred = true;
		n->snap_deferred_index = a->take_snapshot.index;
		n->snap_deferred_term = a->take_snapshot.term;
		n->snap_deferred_n = k;
		for (size_t i = 0; i < k; i++) {
			char *str = n->snap_deferred_strs[i];
			const struct raft_member_info *m = &a->take_snapshot.members[i];
			snprintf(str, RAFT_NAME_MAX, "%s", m->name);
			snprintf(str + RAFT_NAME_MAX, RAFT_URL_MAX, "%s", m->url);
			n->snap_deferred_members[i] = (struct raft_member_info){ str, str + RAFT_NAME_MAX, m->learner };
		}
		return;
	}
	if (n->snap_pid > 0 || kv_applied_index(n->kv) != a->take_snapshot.index) {
		log_warning("snapshot at %" PRIu64 " not taken (applied %" PRIu64 ")", a->take_snapshot.index,
			    kv_applied_index(n->kv));
		n->snap_failed = true; /* reported from the next tick */
		return;
	}
	if (snap_fork(n, a->take_snapshot.index, a->take_snapshot.term, members, k, false) < 0)
		snap_fail_later(n);
}

/* The deferred TAKE_SNAPSHOT, now that the map is at its index. */
void take_deferred_snapshot(struct node *n)
{
	struct kv_member members[RAFT_MAX_PEERS];
	n->snap_deferred = false;
	for (size_t k = 0; k < n->snap_deferred_n; k++) {
		const struct raft_member_info *m = &n->snap_deferred_members[k];
		members[k].name = cmd_str_ref(m->name, strlen(m->name));
		members[k].connection_string = cmd_str_ref(m->url, strlen(m->url));
		members[k].learner = m->learner;
	}
	if (n->snap_pid > 0 || snap_fork(n, n->snap_deferred_index, n->snap_deferred_term, members,
					  n->snap_deferred_n, false) < 0)
		snap_fail_later(n);
}

/* A failed snapshot is reported to the core from a later tick: reported at
 * once, the core would ask again within the same update and recurse for as
 * long as the cause lasts (fork failing, say). Failures in a row wait longer
 * each time, from SNAP_BACKOFF_MIN_MS to SNAP_BACKOFF_MAX_MS: a cause that
 * lasts (a full disk) costs a fork of the whole map and a log line a minute,
 * not one per tick. */
static void snap_fail_later(struct node *n)
{
	unsigned b = n->snap_backoff_ms;
	b = b == 0 ? SNAP_BACKOFF_MIN_MS : b >= SNAP_BACKOFF_MAX_MS / 2 ? SNAP_BACKOFF_MAX_MS : 2 * b;
	n->snap_backoff_ms = b;
	n->snap_retry_ms = now_ms(n) + b;
	n->snap_failed = true;
}

void report_snap_failed(struct node *n)
{
	if (n->snap_failed && !n->stopping && now_ms(n) >= n->snap_retry_ms) {
		struct raft_event f = { .type = RAFT_EV_SNAPSHOT_TAKEN, .snapshot_taken.index = 0 };
		n->snap_failed = false;
		step(n, &f, NULL);
	}
}

/* ---- HTTP: POST and GET /raftd/snapshot -------------------------------------- */

/* POST /raftd/snapshot: a snapshot of the map as applied now, answered once
 * it is durable. The core does not know of it (it neither compacts the log
 * on it nor sends it to followers); start-up takes it like any other. */
void on_snapshot_post(struct httpd_request *req, void *data)
{
	struct node *n = data;
	if (refuse_stopping(n, req))
		return;
	char why[RAFT_NAME_MAX + 128];
	unsigned status = extensions_refused(n, "snapshot", why, sizeof(why));
	if (status) {
		httpd_reply_text(req, status, why);
		return;
	}
	struct snap_wait *w = calloc(1, sizeof(*w));
	if (!w) {
		httpd_reply_text(req, 503, "out of memory; retry");
		return;
	}
	w->req = req;
	if (n->snap_pid > 0) {
		/* one is being taken: it answers this request too */
		w->next = n->snap_waits;
		n->snap_waits = w;
		return;
	}
	raft_index applied = kv_applied_index(n->kv), last = raft_last_index(n->r);
	raft_term term;
	if (applied && applied == n->snap_disk_index) {
		reply_snapshot(req, n->snap_disk_index, n->snap_disk_term);
		free(w);
		return;
	}
	if (!applied || !raft_entry_term(n->r, applied, &term)) {
		httpd_reply_text(req, 409, "snapshot: no entry applied yet");
		free(w);
		return;
	}
	/* the snapshot records the membership at `applied`: the current one,
	 * unless a change after it is in the log */
	for (raft_index i = applied + 1; i <= last; i++) {
		struct raft_entry e;
		if (raft_get_entry(n->r, i, &e) && e.type != RAFT_ENTRY_NOP && e.type != RAFT_ENTRY_COMMAND) {
			httpd_reply_text(req, 503, "snapshot: a membership change is not applied yet; retry");
			free(w);
			return;
		}
	}
	struct kv_member members[RAFT_MAX_PEERS];
	size_t k = 0;
	for (size_t i = 0; i < raft_n_members(n->r) && k < RAFT_MAX_PEERS; i++, k++) {
		const char *name = raft_member_name(n->r, i), *url = raft_member_url(n->r, i);
		members[k].name = cmd_str_ref(name, strlen(name));
		members[k].connection_string = cmd_str_ref(url, strlen(url));
		members[k].learner = !raft_is_voter(n->r, name);
	}
	int rv = snap_fork(n, applied, term, members, k, true);
	if (rv < 0) {
		snprintf(why, sizeof(why), "snapshot: %s", strerror(-rv));
		httpd_reply_text(req, 500, why);
		free(w);
		return;
	}
	w->next = n->snap_waits;
	n->snap_waits = w;
}

/* GET /raftd/snapshot: the bytes of the newest snapshot file (format: top
 * of src/kv/kv_snapshot.c), for backups; `raftctl` can verify them. Streamed
 * from the file by the kernel as the client reads (the open fd still reads
 * it when a newer snapshot's save deletes it); at most
 * --max-snapshot-downloads at once (the route's max_active). */
void on_snapshot_get(struct httpd_request *req, void *data)
{
	struct node *n = data;
	char name[KV_SNAPDIR_NAME_MAX], path[4400], why[300];
	uint64_t index = 0, term = 0;
	if (!kv_snapdir_newest(n->dir_snap, &term, &index)) {
		httpd_reply_text(req, 404, "no snapshot yet (POST /raftd/snapshot takes one)");
		return;
	}
	(void)kv_snapdir_name(name, sizeof(name), term, index); /* fits: it was parsed */
	snprintf(path, sizeof(path), "%s/%s", n->dir_snap, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		/* replaced by a newer one meanwhile, most likely */
		snprintf(why, sizeof(why), "reading %s: %s; retry", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		httpd_reply_text(req, 503, why);
		return;
	}
	char idx[24], trm[24];
	snprintf(idx, sizeof(idx), "%" PRIu64, index);
	snprintf(trm, sizeof(trm), "%" PRIu64, term);
	const char *hdr[] = { "X-Raftd-Snapshot-Index", idx, "X-Raftd-Snapshot-Term", trm, NULL };
	httpd_reply_fd(req, 200, "application/octet-stream", fd, (uint64_t)st.st_size, hdr);
}

/* ---- rebase: a new log after a snapshot from the leader ---------------------- */

/* A log that ends before the snapshot (a snapshot received from the leader)
 * cannot continue after it: the WAL's indexes are consecutive. The node
 * decides to start a new, empty WAL after it (keeping the durable term and
 * vote); how the files are swapped, and repaired after a crash, is the WAL's
 * (wal_rebase(), wal_rebase_repair() at start-up). */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rv = fd < 0 || fsync(fd) < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	return rv;
}

/* An empty file at PATH in DIR, durable once this returns 0. */
int create_durable(const char *path, const char *dir)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	int rv = fd < 0 || fsync(fd) < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	if (rv == 0)
		rv = sync_dir(dir);
	return rv;
}

int rebase_wal(struct node *n, char *err, size_t err_len)
{
	int rv = wal_rebase(n->dir_wal);
	if (rv < 0) {
		snprintf(err, err_len, "%s: starting a new log after the snapshot: %s", n->dir_wal, strerror(-rv));
		return rv;
	}
	log_info("the log ended before the snapshot: started a new one after it");
	return 0;
}
