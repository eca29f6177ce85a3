/* src/raftd/node.c — one raftd node on one io_uring; see node.h.
 *
 * Start-up (the snapshot, the WAL and the core restored from them), the tick
 * and its sweeps, signals, sd_notify and the watchdog, and shutdown. The rest
 * of the node shares node_int.h: the core driver (driver.c), peers
 * (peers.c), snapshots (snapshots.c) and the HTTP API (api.c).
 */
#include "src/raftd/node_int.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "src/raftd/log.h"
#include "src/raftd/v3.h"

#define TICK_MS 10
#define RING_ENTRIES 1024
#define RPC_REPLY_DEADLINE_MS 5000 /* a core that never answers: 500 */

/* STATUS= for systemctl status: role, term, leader and commit index, and a
 * stalled disk while there is one. */
void notify_status(struct node *n)
{
	char stall[96] = "";
	n->status_commit = raft_commit_index(n->r);
	if (n->disk_stalled)
		snprintf(stall, sizeof(stall), "; WAL STALLED: no write completed for %" PRIu64 " ms",
			 now_ms(n) - n->stall_began_ms);
	sd_notifyf(0, "STATUS=%s, term %" PRIu64 ", leader %s, commit %" PRIu64 "%s", raft_role_name(raft_role(n->r)),
		   raft_current_term(n->r), raft_leader(n->r)[0] ? raft_leader(n->r) : "(none)", n->status_commit,
		   stall);
}

/* ---- timers and sweeps ---------------------------------------------------------------- */

static void sweep(struct node *n)
{
	uint64_t t = now_ms(n);
	for (struct rpc_wait **pp = &n->rpc_waits; *pp;) {
		struct rpc_wait *w = *pp;
		if (t - w->since_ms > RPC_REPLY_DEADLINE_MS) {
			httpd_reply_text(w->req, 500, "Failed creating response.");
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
	/* writes are in index order, not time order: look at all of them */
	for (struct write_wait **pp = &n->writes; *pp;) {
		struct write_wait *w = *pp;
		if (t - w->since_ms > WRITE_TIMEOUT_MS) {
			if (w->v3)
				v3_write_fail(n, w, -V3_E_TIMEOUT);
			else
				httpd_reply_text(w->req, 503,
						 "timed out waiting for the write to commit (it may still be applied)");
			n->writes_failed++;
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
	n->writes_tail = &n->writes;
	while (*n->writes_tail)
		n->writes_tail = &(*n->writes_tail)->next;
	for (struct read_wait **pp = &n->reads; *pp;) {
		struct read_wait *w = *pp;
		if (t - w->since_ms > WRITE_TIMEOUT_MS) {
			if (w->v3)
				v3_read_serve(n, w, -V3_E_TIMEOUT);
			else
				httpd_reply_text(w->req, 503, "timed out waiting for a consistent read");
			*pp = w->next;
			free(w->key);
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

/* The event loop is alive (this runs from it); the node is healthy if no
 * log write or term/vote write has been outstanding for longer than
 * wal_stall_ms. A frozen disk thus gets the node restarted by systemd
 * instead of leaving a leader that cannot commit. The stall is looked for
 * on every tick, not only when a ping is due, so that it is noticed within
 * a tick of wal_stall_ms whatever WatchdogSec= is; it is logged once when
 * it begins and once when it ends, not on every tick in between. */
static void watchdog(struct node *n)
{
	uint64_t t = now_ms(n);
	bool waiting = wal_durable_index(n->wal) < wal_last_index(n->wal) || n->metas_len;
	/* A full disk answers (ENOSPC): not a frozen one, no restart. */
	if (!waiting || wal_nospace(n->wal))
		n->disk_progress_ms = t;
	bool stalled = t - n->disk_progress_ms > n->cfg.wal_stall_ms;
	if (stalled && !n->disk_stalled) {
		n->disk_stalled = true;
		n->stall_began_ms = n->disk_progress_ms;
		log_msg(LOG_ERR, LOG_ID_WAL_STALLED, NULL,
			"the disk has not completed a write for %" PRIu64 " ms (wal-stall-ms %" PRIu32
			"): withholding the watchdog ping until it does",
			t - n->disk_progress_ms, n->cfg.wal_stall_ms);
		notify_status(n);
	} else if (!stalled && n->disk_stalled) {
		char field[48];
		uint64_t lasted = n->disk_progress_ms - n->stall_began_ms;
		n->disk_stalled = false;
		snprintf(field, sizeof(field), "RAFT_STALL_MS=%" PRIu64, lasted);
		log_msg(LOG_WARNING, LOG_ID_WAL_STALL_ENDED, field,
			"the disk completed a write again after a stall of %" PRIu64 " ms: pinging the watchdog again",
			lasted);
		notify_status(n);
	}
	if (stalled || !n->watchdog_usec || t - n->watchdog_sent_ms < n->watchdog_usec / 2000)
		return;
	sd_notify(0, "WATCHDOG=1");
	n->watchdog_sent_ms = t;
}

static void handover_check(struct node *n);

static void on_tick(struct loop_timer *t)
{
	struct node *n = (struct node *)((char *)t - offsetof(struct node, tick));
	struct raft_event ev = { .type = RAFT_EV_TICK };
	step(n, &ev, NULL);
	report_snap_failed(n);
	member_waits_run(n);
	if (n->joins_waiting && raft_role(n->r) == RAFT_LEADER)
		answer_held_joins(n);
	transfer_check(n);
	handover_check(n);
	watchdog(n);
	/* a v3 compaction frees its versions a little at a time (mvcc.h):
	 * the rest of them while no entry comes */
	if (!n->stopping)
		kv_compact_step(n->kv, 1024);
	if (n->v3_fwds && !n->stopping)
		v3_forward_drain(n);
	static unsigned ticks;
	if (++ticks % 10 == 0) {
		sweep(n);
		sync_peers(n); /* drops the clients of long-removed members */
		join_try(n);
	}
	if (ticks % 100 == 0 && wal_nospace(n->wal))
		wal_resume(n->wal); /* once a second: has the disk room again? */
	if (ticks % 100 == 0 && (raft_commit_index(n->r) != n->status_commit || n->disk_stalled)) {
		notify_status(n); /* at most once a second under load or stalled */
	}
	if (!n->stopping)
		loop_timer_arm(&n->loop, &n->tick, TICK_MS);
}

static void on_flush(struct loop_hook *h)
{
	struct node *n = (struct node *)((char *)h - offsetof(struct node, flush_hook));
	if (n->wal && !n->stopping) {
		int rv = wal_flush(n->wal);
		if (rv < 0)
			fatal_stop(n, "wal flush failed");
	}
}

/* ---- start-up ----------------------------------------------------------------------------------- */

/* raft_config.trace: the core's notable events at the debug level, where
 * the log adds the time */
static void core_trace(void *data, const char *line)
{
	(void)data;
	log_msg(LOG_DEBUG, NULL, NULL, "raft: %s", line);
}

/* A leader asked to stop hands leadership over first (thesis §3.10), so a
 * rolling restart costs no election timeout and fails no write: a transfer
 * to the most up-to-date voter, then the stop once another node leads and
 * the writes this one took are answered, or after a bounded wait. Not
 * while a goraft node is a member (no transfers then). A second signal
 * stops at once. */
static bool handover_start(struct node *n, int signo)
{
	char why[256];
	if (raft_role(n->r) != RAFT_LEADER || extensions_refused(n, "handover", why, sizeof(why)))
		return false;
	struct raft_event ev = { .type = RAFT_EV_TRANSFER, .transfer.to = NULL };
	int rv = step_rv(n, &ev, NULL);
	if (rv < 0) {
		log_info("%s: no member to hand leadership over to (%s)", strsignal(signo), strerror(-rv));
		return false;
	}
	log_msg(LOG_INFO, LOG_ID_STOPPING, NULL, "%s: stopping once leadership is handed over", strsignal(signo));
	sd_notify(0, "STOPPING=1");
	n->handover_since_ms = now_ms(n);
	return true;
}

static void handover_check(struct node *n)
{
	if (!n->handover_since_ms || n->stopping)
		return;
	const char *leader = raft_leader(n->r);
	bool done = raft_role(n->r) != RAFT_LEADER && leader[0] && strcmp(leader, n->name) != 0 && !n->writes;
	uint64_t waited = now_ms(n) - n->handover_since_ms;
	if (!done && waited < 2 * (uint64_t)n->cfg.election_timeout_ms + 1000)
		return;
	if (done)
		log_info("leadership handed over to %s after %" PRIu64 " ms: stopping", leader, waited);
	else
		log_warning("leadership not handed over after %" PRIu64 " ms: stopping anyway", waited);
	n->stopping = true;
	loop_stop(&n->loop);
}

static void on_signal(struct loop *loop, int signo, void *data)
{
	struct node *n = data;
	(void)loop;
	if (signo == SIGHUP) {
		struct config fresh;
		char err[512];
		sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, loop_now_ns(&n->loop) / 1000);
		if (config_reload(&n->cfg, &fresh, err, sizeof(err)) < 0) {
			log_error("reload: %s (settings unchanged)", err);
		} else {
			/* what applies without a restart: logging, client limits */
			static const int prio[] = { [LOG_LEVEL_ERROR] = LOG_ERR, [LOG_LEVEL_WARNING] = LOG_WARNING,
						    [LOG_LEVEL_INFO] = LOG_INFO, [LOG_LEVEL_DEBUG] = LOG_DEBUG,
						    [LOG_LEVEL_TRACE] = LOG_DEBUG };
			log_init(n->name, prio[fresh.log_level]);
			raft_set_trace(n->r, log_enabled(LOG_DEBUG) ? core_trace : NULL, NULL);
			n->cfg.max_key = fresh.max_key;
			n->cfg.max_value = fresh.max_value;
			n->cfg.forward_writes = fresh.forward_writes;
			n->cfg.wal_stall_ms = fresh.wal_stall_ms;
			bool certs = reload_tls(n, &fresh);
			if (certs)
				v3_reload_tls(n);
			if (n->cfg.client_cert_auth && fresh.client_cert_auth) {
				/* the roles are the node's from now on */
				for (size_t i = 0; i < n->n_roles; i++)
					free(n->roles[i].identity);
				free(n->roles);
				n->roles = fresh.roles;
				n->n_roles = fresh.n_roles;
				fresh.roles = NULL;
				fresh.n_roles = 0;
				n->auth.roles = n->roles;
				n->auth.n_roles = n->n_roles;
			}
			log_info("reloaded %s: log level, key/value limits, forward-writes, wal-stall-ms, %sroles "
				 "applied; other settings need a restart",
				 n->cfg.config_file ? n->cfg.config_file : "the command line",
				 certs ? "certificates and " : "");
			config_free(&fresh);
		}
		notify_status(n);
		sd_notify(0, "READY=1");
		return;
	}
	if (!n->handover_since_ms && handover_start(n, signo))
		return;
	log_msg(LOG_INFO, LOG_ID_STOPPING, NULL, "%s: stopping", strsignal(signo));
	sd_notify(0, "STOPPING=1");
	n->stopping = true;
	loop_stop(&n->loop);
}

static int restore(struct node *n, struct wal_recovery *rec, struct kv_snapshot_meta *snap, char *err,
		   size_t err_len)
{
	struct raft_config rc;
	raft_config_default(&rc);
	rc.name = n->name;
	uint64_t seed;
	if (getentropy(&seed, sizeof(seed)) < 0)
		seed = (uint64_t)getpid() ^ loop_now_ns(&n->loop);
	rc.seed = seed;
	/* set only when debug lines are kept: otherwise the core formats none */
	rc.trace = log_enabled(LOG_DEBUG) ? core_trace : NULL;
	rc.election_timeout_ms = n->cfg.election_timeout_ms;
	rc.heartbeat_ms = n->cfg.heartbeat_ms;
	rc.max_entries = n->cfg.max_append_entries;
	rc.max_bytes = n->cfg.max_append_bytes;
	rc.max_inflight = n->cfg.max_inflight_appends > RAFT_MAX_INFLIGHT ? RAFT_MAX_INFLIGHT
									 : n->cfg.max_inflight_appends;
	rc.snapshot_threshold = n->cfg.snapshot_threshold;
#ifdef RAFTD_TEST_HOOKS
	/* negative controls of the fault suite: a core with a protocol bug */
	const char *fault = getenv("RAFTD_TEST_RAFT_FAULT");
	if (fault)
		rc.fault = (enum raft_fault)atoi(fault);
#endif
	rc.snapshot_trailing = 200; /* goraft's */

	struct raft_restore rs = { .term = rec->term, .vote = rec->voted_for };
	struct raft_member_info mi[RAFT_MAX_PEERS];
	if (snap->last_index) {
		rs.snap_index = snap->last_index;
		rs.snap_term = snap->last_term;
		for (size_t i = 0; i < snap->n_members && i < RAFT_MAX_PEERS; i++)
			mi[i] = (struct raft_member_info){ snap->members[i].name.ptr,
							   snap->members[i].connection_string.ptr,
							   snap->members[i].learner };
		rs.n_snap_members = snap->n_members < RAFT_MAX_PEERS ? snap->n_members : RAFT_MAX_PEERS;
		rs.snap_members = mi;
		rs.commit = snap->last_index;
	}
	raft_index first = rec->first_index, last = rec->last_index;
	if (first <= snap->last_index)
		first = snap->last_index + 1;
	/* A segment fixes the log's next index even with no entries in it:
	 * anything after the snapshot's next index (or after 1 without a
	 * snapshot) means entries in between are lost, and appends would
	 * fail. */
	if (rec->segments && rec->first_index > snap->last_index + 1) {
		if (snap->last_index)
			snprintf(err, err_len, "%s: the log starts at %" PRIu64 " but the snapshot ends at %" PRIu64
				 ": entries %" PRIu64 "..%" PRIu64 " are missing", n->dir_wal, rec->first_index,
				 snap->last_index, snap->last_index + 1, rec->first_index - 1);
		else
			snprintf(err, err_len, "%s: the log starts at %" PRIu64 " and there is no snapshot: entries 1..%" PRIu64
				 " are missing", n->dir_wal, rec->first_index, rec->first_index - 1);
		return -EBADMSG;
	}
	size_t cnt = last >= first ? (size_t)(last - first + 1) : 0;
	struct raft_entry *ents = cnt ? calloc(cnt, sizeof(*ents)) : NULL;
	char **strs = cnt ? calloc(2 * cnt, sizeof(*strs)) : NULL;
	int rv = 0;
	if (cnt && (!ents || !strs)) {
		rv = -ENOMEM;
		snprintf(err, err_len, "out of memory restoring %zu entries", cnt);
		goto out;
	}
	for (size_t k = 0; k < cnt; k++) {
		struct wal_entry we;
		char why[256];
		bool goraft_ok;
		if (wal_entry_get(n->wal, first + k, &we) < 0 ||
		    entry_meta(&we, &ents[k], &strs[2 * k], &strs[2 * k + 1], &goraft_ok, why, sizeof(why)) < 0) {
			snprintf(err, err_len, "%s: entry %" PRIu64 " is not a goraft LogEntry", n->dir_wal, first + k);
			rv = -EBADMSG;
			goto out;
		}
		if (!goraft_ok)
			n->raftd_only_last = first + k;
	}
	rs.entries = ents;
	rs.n_entries = cnt;
	/* A data directory that has been a node (DATA_DIR/started, a term or
	 * vote on disk, or for one from before the marker the files only a
	 * started raftd writes) but holds no log and no snapshot lost its
	 * data: it may have acknowledged entries and voted, so it neither
	 * votes nor starts a cluster until it has caught up from a leader
	 * (Alagappan et al., FAST'18), unless told it may. A name file alone
	 * is no evidence: goraft operators write it before the first start. */
	/* The marker file keeps the state across restarts: a crash after the
	 * first entries arrived leaves a log that no longer looks lost. */
	snprintf(n->recovering_path, sizeof(n->recovering_path), "%s/recovering", n->cfg.data_dir);
	snprintf(n->started_path, sizeof(n->started_path), "%s/started", n->cfg.data_dir);
	bool marked = access(n->recovering_path, F_OK) == 0;
	bool has_started = access(n->started_path, F_OK) == 0;
	bool started = has_started || n->ran_before || rec->term > 0 || rec->voted_for[0];
	bool lost = cnt == 0 && !snap->last_index && started;
	if (n->cfg.force_new_cluster) {
		if (marked && unlink(n->recovering_path) < 0)
			log_warning("%s: %s", n->recovering_path, strerror(errno));
	} else if (lost || marked) {
		rs.recovering = true;
		n->recovering = true;
		if (!marked && (rv = create_durable(n->recovering_path, n->cfg.data_dir)) < 0) {
			snprintf(err, err_len, "cannot write %s: %s", n->recovering_path, strerror(-rv));
			goto out;
		}
	}
	/* Durable before the core can bootstrap, vote or take an entry, so
	 * that losing wal/ later is told from a first start. */
	if (!has_started && (rv = create_durable(n->started_path, n->cfg.data_dir)) < 0) {
		snprintf(err, err_len, "cannot write %s: %s", n->started_path, strerror(-rv));
		goto out;
	}
	rv = raft_new(&rc, &rs, now_ms(n), &n->r);
	if (rv < 0)
		snprintf(err, err_len, "cannot start the Raft core: %s", strerror(-rv));
#ifdef RAFTD_TEST_HOOKS
	/* RAFTD_TEST_RAFT_ALLOC_FAIL=N: the core's Nth allocation from now
	 * fails (its seam, raft.h) */
	const char *nth = getenv("RAFTD_TEST_RAFT_ALLOC_FAIL");
	if (rv == 0 && nth) {
		raft_fail_alloc_nth(strtoul(nth, NULL, 10));
		log_warning("test build: the Raft core's allocation #%s from now will fail", nth);
	}
#endif
out:
	for (size_t k = 0; strs && k < 2 * cnt; k++)
		free(strs[k]);
	free(strs);
	free(ents);
	return rv;
}

#ifdef RAFTD_TEST_HOOKS
/* Test builds (tests/cluster/raftd-test) fail the Nth WAL operation of a
 * kind as the kernel would: RAFTD_TEST_WAL_FAILPOINT="KIND:N:ERRNO" with
 * KIND write, fsync, fallocate, rename or unlink, e.g. "fsync:20:5" (EIO). */
static void arm_test_failpoints(void)
{
	static const char *const kinds[WAL_FP_COUNT] = {
		[WAL_FP_WRITE] = "write", [WAL_FP_FSYNC] = "fsync", [WAL_FP_FALLOCATE] = "fallocate",
		[WAL_FP_RENAME] = "rename", [WAL_FP_UNLINK] = "unlink",
	};
	const char *spec = getenv("RAFTD_TEST_WAL_FAILPOINT");
	char kind[16];
	unsigned nth;
	int err;
	if (!spec || sscanf(spec, "%15[a-z]:%u:%d", kind, &nth, &err) != 3)
		return;
	for (int k = 0; k < WAL_FP_COUNT; k++) {
		if (!strcmp(kinds[k], kind)) {
			wal_failpoint_arm((enum wal_fp)k, nth, -err);
			log_warning("test build: WAL %s #%u will fail with %s", kind, nth, strerror(err));
		}
	}
}
#endif

int node_open(const struct config *cfg, struct node **ret_node, char *err, size_t err_len)
{
	struct node *n = calloc(1, sizeof(*n));
	int rv;
	if (!n) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	n->cfg = *cfg;
	n->writes_tail = &n->writes;
	n->snap_pidfd = -1;
	n->snap_state_fd = -1;
	n->last_role = RAFT_FOLLOWER;
	n->leader_seen_term = UINT64_MAX;
	struct timespec start;
	clock_gettime(CLOCK_REALTIME, &start);
	n->start_time_ns = (uint64_t)start.tv_sec * 1000000000u + (uint64_t)start.tv_nsec;
	{
		/* only a raftd that started here creates these: evidence, for
		 * a directory from before DATA_DIR/started, that it held a log */
		char p[4200];
		snprintf(p, sizeof(p), "%s/snap", cfg->data_dir);
		n->ran_before = access(p, F_OK) == 0;
		snprintf(p, sizeof(p), "%s/peer-kinds", cfg->data_dir);
		n->ran_before = n->ran_before || access(p, F_OK) == 0;
	}
	n->name = config_node_name(cfg, err, err_len);
	if (!n->name) {
		free(n);
		return -EINVAL;
	}
	n->url = config_advertise_url(cfg);
	static const int prio[] = { [LOG_LEVEL_ERROR] = LOG_ERR, [LOG_LEVEL_WARNING] = LOG_WARNING,
				    [LOG_LEVEL_INFO] = LOG_INFO, [LOG_LEVEL_DEBUG] = LOG_DEBUG,
				    [LOG_LEVEL_TRACE] = LOG_DEBUG };
	log_init(n->name, prio[cfg->log_level]);
	auth_policy_init(&n->auth, &n->cfg);
	/* before anything else: a file that cannot be read is the operator's
	 * to fix, named, not a node that half starts */
	rv = node_tls_load(cfg, &n->tls, err, err_len);
	if (rv < 0)
		goto fail_early;
	snprintf(n->dir_wal, sizeof(n->dir_wal), "%s/wal", cfg->data_dir);
	snprintf(n->dir_snap, sizeof(n->dir_snap), "%s/snap", cfg->data_dir);
	snprintf(n->hints_path, sizeof(n->hints_path), "%s/peer-kinds", cfg->data_dir);
	hints_load(n);
	if (mkdir(n->dir_snap, 0700) < 0 && errno != EEXIST) {
		rv = -errno;
		snprintf(err, err_len, "%s: %s", n->dir_snap, strerror(errno));
		goto fail_early;
	}
	rv = loop_init(&n->loop, RING_ENTRIES);
	if (rv < 0) {
		snprintf(err, err_len, "io_uring: %s", strerror(-rv));
		goto fail_early;
	}

	/* the newest valid snapshot, then the WAL after it */
	struct kv_snapshot_meta snap = { 0 };
	char why[512] = "";
	rv = kv_snapshot_load_latest(n->dir_snap, &n->kv, &snap, NULL, why, sizeof(why));
	if (rv == -ENOENT) {
		n->kv = kv_new();
		rv = n->kv ? 0 : -ENOMEM;
	} else if (rv == 0 && why[0]) {
		log_warning("newest snapshot skipped: %s", why);
	}
	if (rv < 0) {
		snprintf(err, err_len, "snapshot: %s", why[0] ? why : strerror(-rv));
		goto fail_loop;
	}
	v3_store_init(n); /* before the WAL's entries are applied */
	n->snap_prev_index = kv_snapdir_older(n->dir_snap, snap.last_index);
	n->snap_disk_index = snap.last_index;
	n->snap_disk_term = snap.last_term;

	struct wal_config wc = {
		.dir = n->dir_wal, .ring = &n->loop.ring, .segment_size = cfg->segment_size, .ctx = n,
		.spare_segments = cfg->wal_spare_segments ? (int)cfg->wal_spare_segments : -1,
		.on_durable = on_wal_durable, .on_meta = on_wal_meta, .on_compacted = on_wal_compacted,
		.on_error = on_wal_error, .hold_on_nospace = true,
	};
	struct wal_recovery rec;
	struct wal_error werr;
	sd_notify(0, "STATUS=recovering the write-ahead log\nEXTEND_TIMEOUT_USEC=600000000");
	/* a crash between rebase_wal()'s two renames; a failure to repair
	 * shows as wal_open()'s error below */
	(void)wal_rebase_repair(n->dir_wal);
#ifdef RAFTD_TEST_HOOKS
	arm_test_failpoints();
	/* ENOSPC drops the batch and stops the node, as before it was held:
	 * tests/cluster/rebase-empty.sh makes the state it checks that way */
	if (getenv("RAFTD_TEST_NOSPACE_EXIT"))
		wc.hold_on_nospace = false;
#endif
	rv = wal_open(&wc, &n->wal, &rec, &werr);
	/* The log must go on at the snapshot's next index. One that ends
	 * before it holds nothing the snapshot lacks: start a new one after
	 * it. That includes a log with no entries but a segment, which still
	 * fixes the next index (a first segment after an earlier rebase whose
	 * preallocation failed): only a log without segments takes any. A log
	 * that starts after the snapshot's next index is a gap (restore()). */
	if (rv == 0 && rec.segments && rec.last_index < snap.last_index) {
		wal_close(n->wal);
		n->wal = NULL;
		rv = rebase_wal(n, err, err_len);
		if (rv < 0) {
			kv_snapshot_meta_free(&snap);
			goto fail_kv;
		}
		rv = wal_open(&wc, &n->wal, &rec, &werr);
	}
	if (rv < 0) {
		wal_error_format(&werr, why, sizeof(why));
		snprintf(err, err_len, "%s: %s", n->dir_wal, why);
		kv_snapshot_meta_free(&snap);
		goto fail_kv;
	}
	{
		char field[160];
		snprintf(field, sizeof(field), "RAFT_INDEX=%" PRIu64, rec.last_index);
		log_msg(LOG_INFO, LOG_ID_WAL_RECOVERED, field,
			"wal recovered: %u segments, entries %" PRIu64 "..%" PRIu64 ", %" PRIu64 " bytes, term %" PRIu64,
			rec.segments, rec.entries ? rec.first_index : 0, rec.entries ? rec.last_index : 0, rec.bytes,
			rec.term);
		if (rec.torn) {
			snprintf(field, sizeof(field), "RAFT_FILE=%s", rec.torn_file);
			log_msg(LOG_WARNING, LOG_ID_WAL_TRUNCATED, field,
				"wal: torn tail of %s cut at offset %" PRIu64 " (%" PRIu64 " bytes dropped)", rec.torn_file,
				rec.torn_offset, rec.torn_bytes);
		}
	}
	rv = restore(n, &rec, &snap, err, err_len);
	raft_index snap_index = snap.last_index, snap_term = snap.last_term;
	kv_snapshot_meta_free(&snap);
	if (rv < 0)
		goto fail_wal;
	log_set_state(raft_current_term(n->r), raft_role_name(raft_role(n->r)), raft_leader(n->r));
	n->last_term = raft_current_term(n->r);
	if (snap_index && load_snap_state(n, snap_index, snap_term) < 0)
		log_warning("snapshot %" PRIu64 ": cannot keep its file for followers", snap_index);
	/* recovery read every entry; those the snapshot holds are not applied */
	wal_release(n->wal, kv_applied_index(n->kv));

	size_t n_routes;
	const struct httpd_route *routes = routes_for(n, false, &n_routes);
	struct httpd_tls client_tls, peer_tls;
	struct httpd_config hc = {
		.listen_host = cfg->listen, .port = cfg->port, .listen_fd = -1, .max_connections = cfg->max_connections,
		.peer_connections = cfg->peer_connections, .max_per_address = cfg->max_connections_per_address,
		.connection_timeout_s = cfg->connection_timeout_s, .head_timeout_s = cfg->request_head_timeout_s,
		.body_timeout_s = cfg->request_body_timeout_s, .max_stranger_body = cfg->max_stranger_body,
		.max_body_memory = cfg->max_body_memory ? cfg->max_body_memory : cfg->max_raft_body + 256 * 1024 * 1024,
		/* room for a head as long as goraft takes whatever --max-key
		 * says (a node serves every key it holds; a reload may raise
		 * --max-key that far), and for the response's head */
		.max_head = (cfg->max_key > GO_MAX_HEAD ? cfg->max_key : GO_MAX_HEAD) + 32 * 1024,
		.routes = routes, .n_routes = n_routes,
		.tls = listener_tls(&n->tls, false, &client_tls),
	};
	/* socket activation: systemd passes the listening socket as fd 3,
	 * and the peer listener's as fd 4 with --peer-port */
	int n_fds = sd_listen_fds(0);
	if (n_fds >= 1)
		hc.listen_fd = SD_LISTEN_FDS_START;
	rv = httpd_start(&n->loop, &hc, &n->http, why, sizeof(why));
	if (rv < 0) {
		snprintf(err, err_len, "listen on port %u: %s", (unsigned)cfg->port, why);
		goto fail_raft;
	}
	if (cfg->peer_port) {
		/* the peers' own listener, with its own TLS policy and
		 * firewall rule (etcd's 2380) */
		struct httpd_config pc = hc;
		pc.listen_host = cfg->peer_listen;
		pc.port = cfg->peer_port;
		pc.listen_fd = n_fds >= 2 ? SD_LISTEN_FDS_START + 1 : -1;
		pc.routes = routes_for(n, true, &pc.n_routes);
		pc.tls = listener_tls(&n->tls, true, &peer_tls);
		rv = httpd_start(&n->loop, &pc, &n->peer_http, why, sizeof(why));
		if (rv < 0) {
			snprintf(err, err_len, "listen on peer port %u: %s", (unsigned)cfg->peer_port, why);
			goto fail_http;
		}
	}

	rv = v3_start(n, err, err_len);
	if (rv < 0)
		goto fail_http;

	loop_timer_init(&n->tick, on_tick);
	loop_timer_init(&n->apply_timer, on_apply_timer);
	n->flush_hook.run = on_flush;
	loop_add_hook(&n->loop, &n->flush_hook);
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	rv = loop_watch_signals(&n->loop, &sigs, on_signal, n);
	if (rv < 0) {
		snprintf(err, err_len, "signalfd: %s", strerror(-rv));
		goto fail_http;
	}
	signal(SIGPIPE, SIG_IGN);

	sync_peers(n);
	report_deferred(n); /* the kinds DATA_DIR/peer-kinds knows, before any message */
	if (raft_last_index(n->r) == 0 && !raft_snapshot_index(n->r)) {
		if (cfg->join) {
			/* -join names the leader's client port (goraft's -join) */
			snprintf(n->join_home, sizeof(n->join_home), "%s://%s", config_client_tls(cfg) ? "https" : "http",
				 cfg->join);
			rv = join_peer_create(n, n->join_home);
			if (rv < 0) {
				snprintf(err, err_len, "-join %s: %s", cfg->join, strerror(-rv));
				goto fail_http;
			}
			/* the command goraft's joiner sends, by the Go-exact
			 * encoder: a name may hold '"', '\\' or control bytes */
			struct cmd join = { .type = CMD_JOIN,
					    .name = cmd_str_ref(n->name, strlen(n->name)),
					    .connection_string = cmd_str_ref(n->url, strlen(n->url)) };
			size_t jl = cmd_json_size(&join);
			if (jl >= sizeof(n->join_body)) {
				rv = -ENAMETOOLONG;
				snprintf(err, err_len, "-join %s: name or URL too long", cfg->join);
				goto fail_http;
			}
			cmd_json_encode(&join, (uint8_t *)n->join_body);
			n->join_body[jl] = '\0';
			share_peer_addrs(n);
			log_info("joining the cluster through %s as %s (%s)", cfg->join, n->name, n->url);
			join_try(n);
		} else if (raft_recovering(n->r)) {
			log_warning("%s held a log but has none now: its data was lost. Not starting a new cluster; "
				    "waiting for the leader to send the log (start with --force-new-cluster to start "
				    "a new one-node cluster from nothing)", cfg->data_dir);
		} else {
			log_info("Initializing new cluster: %s at %s", n->name, n->url);
			struct raft_event ev = { .type = RAFT_EV_BOOTSTRAP, .bootstrap.url = n->url };
			step(n, &ev, NULL);
		}
	} else {
		if (cfg->join)
			log_info("Recovered from log (-join %s ignored: already a member)", cfg->join);
		else
			log_info("Recovered from log");
	}
	loop_timer_arm(&n->loop, &n->tick, TICK_MS);
	log_msg(LOG_INFO, LOG_ID_STARTED, NULL, "listening on port %u%s as %s (%s)", (unsigned)httpd_port(n->http),
		config_client_tls(cfg) ? " (TLS)" : "", n->name, n->url);
	warn_unprotected(n);
	*ret_node = n;
	return 0;

fail_http:
	v3_stop(n);
	if (n->peer_http)
		httpd_stop(n->peer_http);
	httpd_stop(n->http);
fail_raft:
	raft_free(n->r);
fail_wal:
	wal_close(n->wal);
fail_kv:
	kv_free(n->kv);
fail_loop:
	loop_fini(&n->loop);
fail_early:
	node_tls_free(&n->tls);
	free(n->hints);
	free(n->name);
	free(n->url);
	free(n);
	return rv;
}

int node_run(struct node *n)
{
	if (sd_watchdog_enabled(0, &n->watchdog_usec) <= 0)
		n->watchdog_usec = 0;
	n->disk_progress_ms = now_ms(n);
	if (n->stopping) /* a fatal error while opening: never ready */
		return n->exit_status;
	sd_notifyf(0, "READY=1\nSTATUS=%s, term %" PRIu64 ", leader %s, commit %" PRIu64,
		   raft_role_name(raft_role(n->r)), raft_current_term(n->r),
		   raft_leader(n->r)[0] ? raft_leader(n->r) : "(none)", raft_commit_index(n->r));
	int rv = loop_run(&n->loop);
	if (rv < 0) {
		log_error("event loop: %s", strerror(-rv));
		return 1;
	}
	return n->exit_status;
}

void node_close(struct node *n)
{
	n->stopping = true;
	loop_timer_cancel(&n->loop, &n->tick);
	loop_timer_cancel(&n->loop, &n->apply_timer);
	/* answer everyone still waiting; the gRPC calls first (cancelled:
	 * their waiters go) */
	v3_stop(n);
	fail_writes_from(n, 0, 500, "raft: Has been stopped");
	while (n->snap_waits) {
		struct snap_wait *w = n->snap_waits;
		n->snap_waits = w->next;
		httpd_reply_text(w->req, 503, "raft: Has been stopped");
		free(w);
	}
	if (n->transfer_req)
		httpd_reply_text(n->transfer_req, 503, "raft: Has been stopped");
	while (n->member_waits) {
		struct member_wait *w = n->member_waits;
		n->member_waits = w->next;
		httpd_reply_text(w->req, 503, "raft: Has been stopped");
		free(w);
	}
	while (n->reads) {
		struct read_wait *w = n->reads;
		n->reads = w->next;
		if (w->v3)
			v3_read_serve(n, w, -V3_E_STOPPING);
		else
			httpd_reply_text(w->req, 503, "raft: Has been stopped");
		free(w->key);
		free(w);
	}
	while (n->rpc_waits) {
		struct rpc_wait *w = n->rpc_waits;
		n->rpc_waits = w->next;
		httpd_reply_text(w->req, 500, "Failed creating response.");
		free(w);
	}
	if (httpd_stop(n->http) < 0)
		log_warning("the HTTP server's polls were not cancelled in time; its memory is left allocated");
	if (n->peer_http && httpd_stop(n->peer_http) < 0)
		log_warning("the peer listener's polls were not cancelled in time; its memory is left allocated");
	while (n->peers) {
		struct npeer *p = n->peers;
		n->peers = p->next;
		peer_destroy(p->p, npeer_gone, n);
		free(p);
	}
	if (n->join_peer) {
		n->peers_alive++;
		peer_destroy(n->join_peer, npeer_gone, n);
	}
	loop_drain(&n->loop, &n->peers_alive, 5000);
	/* the disk and the kernel must let go of every buffer first */
	for (int i = 0; i < 500 && wal_busy(n->wal); i++)
		loop_run_once(&n->loop, 10);
	if (n->snap_pid > 0) {
		loop_poll_cancel(&n->loop, &n->snap_poll);
		waitpid(n->snap_pid, NULL, 0);
		for (int i = 0; i < 100 && n->snap_poll.inflight; i++)
			loop_run_once(&n->loop, 10);
		close(n->snap_pidfd);
	}
	wal_close(n->wal);
	raft_free(n->r);
	kv_free(n->kv);
	rpc_decoder_free(&n->dec);
	loop_fini(&n->loop);
	free(n->needs);
	free(n->metas);
	if (n->snap_state_fd >= 0)
		close(n->snap_state_fd);
	free(n->hints);
	free(n->name);
	free(n->url);
	node_tls_free(&n->tls);
	for (size_t i = 0; i < n->n_roles; i++)
		free(n->roles[i].identity);
	free(n->roles);
	free(n);
}
